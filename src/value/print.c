/* mp_print: renders a value graph as JavaScript-literal text in the style
 * of Node's util.inspect.
 *
 * Two passes, both on explicit stacks so that depth costs heap, not C
 * stack: a pre-pass finds the objects met more than once (they get a
 * `<ref *N>` label where first printed), then the printer walks the graph
 * again as a stack of container frames, each producing its items one at a
 * time. An object met again prints `[Circular *N]` while its first
 * occurrence is still open on the stack (an ancestor), else `[Ref *N]`.
 *
 * The printer reads the cells directly (src/internal.h) and never
 * allocates in the realm it prints. */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "print.h"

/* ---- output ---------------------------------------------------------------- */

/* Either a stream behind a staging buffer, or a bounded text buffer that
 * keeps what fits and remembers that it was cut. */
typedef struct pr_out {
    FILE *f;
    char *buf;
    size_t cap;
    size_t len;
    bool cut; /* bounded buffer ran out of room */
    bool err; /* a stream write failed */
} pr_out;

static void
out_flush(pr_out *o)
{
    if (o->f && o->len) {
        if (fwrite(o->buf, 1, o->len, o->f) != o->len) o->err = true;
        o->len = 0;
    }
}

static void
out_write(pr_out *o, const char *s, size_t n)
{
    if (o->f) {
        if (o->err) return;
        if (n > o->cap - o->len) {
            out_flush(o);
            if (n > o->cap) {
                if (fwrite(s, 1, n, o->f) != n) o->err = true;
                return;
            }
        }
        memcpy(o->buf + o->len, s, n);
        o->len += n;
        return;
    }
    size_t room = o->cap - 1 - o->len;
    if (n > room) {
        n = room;
        o->cut = true;
    }
    memcpy(o->buf + o->len, s, n);
    o->len += n;
    o->buf[o->len] = '\0';
}

static void
out_str(pr_out *o, const char *s)
{
    out_write(o, s, strlen(s));
}

static void
out_char(pr_out *o, char c)
{
    out_write(o, &c, 1);
}

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void
out_fmt(pr_out *o, const char *fmt, ...)
{
    char tmp[96];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0) out_write(o, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* True once more output would be wasted (a cut buffer or a failed stream):
 * long loops check it so that a brief rendering of a huge string is cheap. */
static bool
out_done(const pr_out *o)
{
    return o->cut || o->err;
}

static void
out_bounded_init(pr_out *o, char *buf, size_t cap)
{
    o->f = NULL;
    o->buf = buf;
    o->cap = cap;
    o->len = 0;
    o->cut = false;
    o->err = false;
    buf[0] = '\0';
}

/* Ends a bounded rendering: if it was cut, the tail becomes "..." (on a
 * UTF-8 character boundary). */
static void
out_bounded_finish(pr_out *o)
{
    if (!o->cut || o->cap < 4) return;
    size_t end = o->len;
    if (end > o->cap - 4) end = o->cap - 4;
    while (end > 0 && ((unsigned char)o->buf[end] & 0xC0) == 0x80)
        end--;
    memcpy(o->buf + end, "...", 4);
    o->len = end + 3;
}

/* ---- numbers ---------------------------------------------------------------- */

/* Turns tmp, "D.DDDe±X" from printf's %e, into the decimal with as many
 * digits next to it above (up) or below (down), in the same form and with
 * the same decimal point (strtod reads it back in the same locale); false
 * if there is none. */
static bool
other_neighbour(char *tmp, bool up)
{
    char *e = strchr(tmp, 'e');
    if (!e) return false;
    int exp = atoi(e + 1);
    char digits[24], point[8] = "";
    int k = 0;
    for (const char *s = tmp; s < e; s++) {
        if (*s >= '0' && *s <= '9') {
            if (k < 20) digits[k++] = *s;
        } else if (k == 1) {
            size_t n = strlen(point);
            if (n + 1 < sizeof point) {
                point[n] = *s;
                point[n + 1] = '\0';
            }
        }
    }
    int i = k - 1;
    if (up) {
        while (i >= 0 && digits[i] == '9')
            digits[i--] = '0';
        if (i < 0) { /* 9.99 -> 10.0: one more digit in front, one fewer behind */
            memmove(digits + 1, digits, (size_t)k - 1);
            digits[0] = '1';
            exp++;
        } else {
            digits[i]++;
        }
    } else {
        while (i >= 0 && digits[i] == '0')
            digits[i--] = '9';
        if (i < 0) return false;
        digits[i]--;
        if (digits[0] == '0') { /* 1.00 -> 0.999: shift the nines up */
            if (k == 1) return false;
            memmove(digits, digits + 1, (size_t)k - 1);
            digits[k - 1] = '9';
            exp--;
        }
    }
    char *p = tmp;
    *p++ = digits[0];
    if (k > 1) {
        memcpy(p, point, strlen(point));
        p += strlen(point);
        memcpy(p, digits + 1, (size_t)k - 1);
        p += k - 1;
    }
    snprintf(p, 8, "e%d", exp);
    return true;
}

size_t
mpi_format_number(double d, char *buf)
{
    if (isnan(d)) return (size_t)snprintf(buf, MPI_NUMBER_BUF, "NaN");
    if (isinf(d)) return (size_t)snprintf(buf, MPI_NUMBER_BUF, d > 0 ? "Infinity" : "-Infinity");
    if (d == 0) return (size_t)snprintf(buf, MPI_NUMBER_BUF, signbit(d) ? "-0" : "0");
    /* Integers below 2^53 print exactly; that is also their shortest form. */
    if (fabs(d) < 9007199254740992.0 && d == trunc(d)) return (size_t)snprintf(buf, MPI_NUMBER_BUF, "%.0f", d);

    char *p = buf;
    if (d < 0) {
        *p++ = '-';
        d = -d;
    }
    /* The fewest significant digits that read back as d, and among those
     * the closest to d, as ECMAScript asks. At each length the candidates
     * are the two decimals around d: printf's correctly rounded one (the
     * closer), then the other, which alone may read back when d is a power
     * of two (the doubles below it are closer together than above). */
    char tmp[48];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*e", prec - 1, d);
        double back = strtod(tmp, NULL);
        if (back == d || (prec < 17 && other_neighbour(tmp, back < d) && strtod(tmp, NULL) == d)) break;
    }
    /* Digits and decimal exponent, whatever the locale's decimal point. */
    char digits[24];
    int k = 0;
    const char *s = tmp;
    for (; *s && *s != 'e' && *s != 'E'; s++)
        if (*s >= '0' && *s <= '9' && k < 20) digits[k++] = *s;
    int e10 = *s ? atoi(s + 1) : 0;
    while (k > 1 && digits[k - 1] == '0')
        k--;
    int n = e10 + 1; /* d = 0.digits x 10^n */

    if (k <= n && n <= 21) {
        memcpy(p, digits, (size_t)k);
        p += k;
        for (int i = k; i < n; i++)
            *p++ = '0';
    } else if (0 < n && n <= 21) {
        memcpy(p, digits, (size_t)n);
        p += n;
        *p++ = '.';
        memcpy(p, digits + n, (size_t)(k - n));
        p += k - n;
    } else if (-6 < n && n <= 0) {
        *p++ = '0';
        *p++ = '.';
        for (int i = 0; i < -n; i++)
            *p++ = '0';
        memcpy(p, digits, (size_t)k);
        p += k;
    } else {
        *p++ = digits[0];
        if (k > 1) {
            *p++ = '.';
            memcpy(p, digits + 1, (size_t)(k - 1));
            p += k - 1;
        }
        p += snprintf(p, 8, "e%c%d", n - 1 < 0 ? '-' : '+', abs(n - 1));
    }
    *p = '\0';
    return (size_t)(p - buf);
}

static void
out_number(pr_out *o, double d)
{
    char b[MPI_NUMBER_BUF];
    out_write(o, b, mpi_format_number(d, b));
}

static void
out_bigint(pr_out *o, mp_value v)
{
    const mpi_bigint *b = v.u_.cell_;
    if (b->count <= 1) {
        uint64_t m = b->count ? b->words[0] : 0;
        out_fmt(o, "%s%" PRIu64 "n", (b->h.flags & 1u) && m ? "-" : "", m);
        return;
    }
    /* Repeated division by 10^9 over 32-bit limbs of a copy of the
     * magnitude; a small copy lives on the stack, a large one comes from
     * the realm's allocator. */
    const mp_allocator *alc = &b->h.realm->alc;
    uint32_t small[32];
    size_t n = (size_t)b->count * 2;
    uint32_t *w = n <= 32 ? small : mpi_malloc(alc, n * sizeof *w);
    size_t ndig = n * 10 + 1;
    char *dig = w ? mpi_malloc(alc, ndig) : NULL;
    if (!w || !dig) {
        /* No memory for the decimal form: still say something true. */
        out_fmt(o, "%s0x", (b->h.flags & 1u) ? "-" : "");
        for (size_t i = b->count; i-- > 0;)
            out_fmt(o, i + 1 == b->count ? "%" PRIx64 : "%016" PRIx64, b->words[i]);
        out_char(o, 'n');
        if (w != small) mpi_free(alc, w);
        return;
    }
    for (size_t i = 0; i < b->count; i++) {
        w[2 * i] = (uint32_t)b->words[i];
        w[2 * i + 1] = (uint32_t)(b->words[i] >> 32);
    }
    while (n && !w[n - 1])
        n--;
    size_t pos = ndig;
    while (n) {
        uint64_t rem = 0;
        for (size_t i = n; i-- > 0;) {
            uint64_t cur = (rem << 32) | w[i];
            w[i] = (uint32_t)(cur / 1000000000u);
            rem = cur % 1000000000u;
        }
        while (n && !w[n - 1])
            n--;
        for (int i = 0; i < 9; i++) {
            dig[--pos] = (char)('0' + rem % 10);
            rem /= 10;
            if (!n && !rem) break;
        }
    }
    if (b->h.flags & 1u) out_char(o, '-');
    out_write(o, dig + pos, ndig - pos);
    out_char(o, 'n');
    mpi_free(alc, dig);
    if (w != small) mpi_free(alc, w);
}

/* ---- strings --------------------------------------------------------------- */

static void
out_utf8(pr_out *o, uint32_t cp)
{
    char b[4];
    size_t n;
    if (cp < 0x80) {
        b[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        b[0] = (char)(0xC0 | (cp >> 6));
        b[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        b[0] = (char)(0xE0 | (cp >> 12));
        b[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        b[0] = (char)(0xF0 | (cp >> 18));
        b[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        b[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    out_write(o, b, n);
}

/* Writes the code units of s. quote: the quote character to escape (and
 * with it backslashes and control characters, as util.inspect does), or 0
 * for raw text where only line breaks, other controls and lone surrogates
 * are escaped (RegExp sources, Error messages). */
static void
out_units(pr_out *o, const mpi_string *s, char quote)
{
    uint32_t len = s->length;
    if (!(s->h.flags & MPI_STR_WIDE)) {
        /* One byte per unit: copy runs that need no escape in one write. */
        const uint8_t *u = s->u.narrow;
        uint32_t run = 0;
        for (uint32_t i = 0; i < len && !out_done(o); i++) {
            uint8_t c = u[i];
            bool plain = c >= 0x20 && c < 0x7F && c != (uint8_t)quote && !(quote && c == '\\');
            if (plain) continue;
            out_write(o, (const char *)u + run, i - run);
            run = i + 1;
            if (c >= 0xA0) {
                out_utf8(o, c);
                continue;
            }
            switch (c) {
            case '\b':
                out_str(o, "\\b");
                break;
            case '\t':
                out_str(o, "\\t");
                break;
            case '\n':
                out_str(o, "\\n");
                break;
            case '\f':
                out_str(o, "\\f");
                break;
            case '\r':
                out_str(o, "\\r");
                break;
            default:
                if (quote && (c == (uint8_t)quote || c == '\\')) {
                    out_char(o, '\\');
                    out_char(o, (char)c);
                } else {
                    out_fmt(o, "\\x%02X", c);
                }
            }
        }
        if (!out_done(o)) out_write(o, (const char *)u + run, len - run);
        return;
    }
    const uint16_t *u = s->u.wide;
    for (uint32_t i = 0; i < len && !out_done(o); i++) {
        uint32_t c = u[i];
        if (c >= 0xD800 && c <= 0xDFFF) {
            if (c <= 0xDBFF && i + 1 < len && u[i + 1] >= 0xDC00 && u[i + 1] <= 0xDFFF) {
                out_utf8(o, 0x10000 + ((c - 0xD800) << 10) + (u[i + 1] - 0xDC00));
                i++;
            } else {
                out_fmt(o, "\\u%04" PRIX32, c);
            }
            continue;
        }
        if (c >= 0xA0 || (c >= 0x20 && c < 0x7F && c != (uint32_t)(unsigned char)quote && !(quote && c == '\\'))) {
            out_utf8(o, c);
            continue;
        }
        switch (c) {
        case '\b':
            out_str(o, "\\b");
            break;
        case '\t':
            out_str(o, "\\t");
            break;
        case '\n':
            out_str(o, "\\n");
            break;
        case '\f':
            out_str(o, "\\f");
            break;
        case '\r':
            out_str(o, "\\r");
            break;
        default:
            if (quote && (c == (uint32_t)(unsigned char)quote || c == '\\')) {
                out_char(o, '\\');
                out_char(o, (char)c);
            } else {
                out_fmt(o, "\\x%02" PRIX32, c);
            }
        }
    }
}

/* util.inspect's choice: single quotes unless the text holds one, then
 * double quotes, then backticks, else single quotes with escapes. */
static char
pick_quote(const mpi_string *s)
{
    bool sq = false, dq = false, bq = false;
    for (uint32_t i = 0; i < s->length; i++) {
        uint16_t c = mpi_string_unit(s, i);
        if (c == '\'')
            sq = true;
        else if (c == '"')
            dq = true;
        else if (c == '`')
            bq = true;
    }
    if (!sq) return '\'';
    if (!dq) return '"';
    if (!bq) return '`';
    return '\'';
}

static void
out_quoted(pr_out *o, const mpi_string *s)
{
    char q = pick_quote(s);
    out_char(o, q);
    out_units(o, s, q);
    out_char(o, q);
}

/* Node prints keys matching /^[a-zA-Z_][a-zA-Z_0-9]*$/ bare. */
static bool
is_identifier(const mpi_string *s)
{
    if (!s->length) return false;
    for (uint32_t i = 0; i < s->length; i++) {
        uint16_t c = mpi_string_unit(s, i);
        bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
        if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return false;
    }
    return true;
}

static void
out_key(pr_out *o, const mpi_string *key)
{
    if (is_identifier(key))
        out_units(o, key, '\'');
    else
        out_quoted(o, key);
}

/* ---- dates ------------------------------------------------------------------ */

/* ISO 8601 as Date.prototype.toISOString writes it (extended years with a
 * sign and six digits outside 0000..9999). */
static void
out_iso_date(pr_out *o, double t)
{
    int64_t ms = (int64_t)t;
    int64_t days = ms / 86400000;
    int64_t rem = ms % 86400000;
    if (rem < 0) {
        rem += 86400000;
        days--;
    }
    /* Howard Hinnant's civil_from_days. */
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1;
    int64_t m = mp < 10 ? mp + 3 : mp - 9;
    if (m <= 2) y++;
    if (y >= 0 && y <= 9999)
        out_fmt(o, "%04" PRId64, y);
    else
        out_fmt(o, "%c%06" PRId64, y < 0 ? '-' : '+', y < 0 ? -y : y);
    out_fmt(o, "-%02" PRId64 "-%02" PRId64 "T%02" PRId64 ":%02" PRId64 ":%02" PRId64 ".%03" PRId64 "Z", m, d,
            rem / 3600000, rem / 60000 % 60, rem / 1000 % 60, rem % 1000);
}

/* ---- leaves ------------------------------------------------------------------- */

static void
out_primitive(pr_out *o, mp_value v)
{
    switch (v.kind_) {
    case MP_UNDEFINED:
        out_str(o, "undefined");
        break;
    case MP_NULL:
        out_str(o, "null");
        break;
    case MP_BOOLEAN:
        out_str(o, mp_boolean_value(v) ? "true" : "false");
        break;
    case MP_NUMBER:
        out_number(o, mp_number_value(v));
        break;
    case MP_BIGINT:
        out_bigint(o, v);
        break;
    case MP_STRING:
        out_quoted(o, v.u_.cell_);
        break;
    default:
        out_fmt(o, "<kind %" PRIu32 ">", v.kind_);
        break;
    }
}

static void
out_regexp(pr_out *o, const mpi_regexp *re)
{
    out_char(o, '/');
    if (re->source && re->source->length)
        out_units(o, re->source, 0);
    else
        out_str(o, "(?:)"); /* what RegExp.prototype.source gives for "" */
    out_char(o, '/');
    static const char flag_chars[] = "dgimsuyv";
    for (unsigned i = 0; i < 8; i++)
        if (re->h.aux & (1u << i)) out_char(o, flag_chars[i]);
}

static void
out_boxed(pr_out *o, const mpi_boxed *b)
{
    static const char *const names[] = {
        [MP_BOOLEAN_OBJECT] = "Boolean",
        [MP_NUMBER_OBJECT] = "Number",
        [MP_STRING_OBJECT] = "String",
        [MP_BIGINT_OBJECT] = "BigInt",
    };
    out_fmt(o, "[%s: ", names[b->h.kind]);
    out_primitive(o, b->value);
    out_char(o, ']');
}

static const char *
error_name(const mpi_cell *c)
{
    return c->aux < MP_ERR_TYPE_COUNT_ ? mp_error_type_name((mp_error_type)c->aux) : "Error";
}

/* ---- public helpers for equal.c -------------------------------------------------- */

void
mpi_format_brief(mp_value v, char *buf, size_t cap)
{
    pr_out o;
    out_bounded_init(&o, buf, cap);
    if (v.kind_ < MP_OBJECT)
        out_primitive(&o, v);
    else if (v.kind_ == MP_TYPEDARRAY)
        out_str(&o, mp_view_type_name((mp_view_type)((mpi_cell *)v.u_.cell_)->aux));
    else if (v.kind_ < MP_KIND_COUNT_)
        out_str(&o, mp_kind_name((mp_kind)v.kind_));
    else if (mpi_is_hole(v))
        out_str(&o, "hole");
    else
        out_fmt(&o, "<tag %" PRIu32 ">", v.kind_);
    out_bounded_finish(&o);
}

void
mpi_format_key_step(const mpi_string *key, char *buf, size_t cap)
{
    pr_out o;
    out_bounded_init(&o, buf, cap);
    if (is_identifier(key)) {
        out_char(&o, '.');
        out_units(&o, key, '\'');
    } else {
        out_char(&o, '[');
        out_quoted(&o, key);
        out_char(&o, ']');
    }
    out_bounded_finish(&o);
}

/* ---- the printer ------------------------------------------------------------------ */

/* Per-object state in the identity table. */
enum {
    ST_MULTI = 1u,   /* met more than once: labelled where first printed */
    ST_PRINTED = 2u, /* first occurrence already written */
    ST_OPEN = 4u,    /* its frame is on the stack: an ancestor of what prints now */
    ST_LABEL_SHIFT = 3
};

/* A container being printed. */
typedef struct pr_frame {
    mpi_cell *cell;
    uint32_t items; /* items written so far */
    uint32_t pos;   /* next element index / slot / entry */
    uint32_t pos2;  /* sparse position / property slot */
    uint8_t phase;
    uint8_t pending; /* Map: key written, " => value" to come */
} pr_frame;

typedef struct printer {
    pr_out out;
    bool pretty;
    mpi_ptrmap seen;
    mpi_vec stack;
    uint32_t next_label;
    mp_status st;
} printer;

/* Typed arrays show at most this many elements, ArrayBuffers this many bytes. */
#define PR_MAX_ELEMENTS 100u
#define PR_MAX_BYTES 32u

static bool
is_container(mp_kind k)
{
    switch (k) {
    case MP_OBJECT:
    case MP_ARRAY:
    case MP_MAP:
    case MP_SET:
    case MP_ERROR:
    case MP_ARRAYBUFFER:
    case MP_SHAREDARRAYBUFFER:
    case MP_TYPEDARRAY:
    case MP_DATAVIEW:
        return true;
    default:
        return false;
    }
}

/* Next live property slot at or after *pos, or NULL. */
static const mpi_prop *
props_next(const mpi_props *p, uint32_t *pos)
{
    while (*pos < p->used) {
        const mpi_prop *s = &p->slots[(*pos)++];
        if (s->key) return s;
    }
    return NULL;
}

static bool
is_objv(mp_value v)
{
    return v.kind_ >= MP_OBJECT && v.kind_ < MP_KIND_COUNT_;
}

/* ---- pass 1: who is met more than once ---- */

static void
scan_meet(printer *p, mpi_cell *c)
{
    if (p->st) return;
    uintptr_t *s = mpi_ptrmap_get(&p->seen, c);
    if (s) {
        *s |= ST_MULTI;
        return;
    }
    mpi_cell **slot = mpi_vec_push(&p->stack);
    if (!slot || mpi_ptrmap_put(&p->seen, c, 0) != MP_OK) {
        if (slot) p->stack.len--;
        p->st = MP_ENOMEM;
        return;
    }
    *slot = c;
}

static void
scan_value(printer *p, mp_value v)
{
    if (is_objv(v)) scan_meet(p, v.u_.cell_);
}

static void
scan_props(printer *p, const mpi_props *props)
{
    for (uint32_t i = 0; i < props->used && !p->st; i++)
        if (props->slots[i].key) scan_value(p, props->slots[i].value);
}

/* The edges here must be exactly the ones the printer follows. */
static void
scan_children(printer *p, mpi_cell *c)
{
    switch (c->kind) {
    case MP_OBJECT:
        scan_props(p, &((mpi_object *)c)->props);
        break;
    case MP_ARRAY: {
        const mpi_array *a = (const mpi_array *)c;
        uint32_t pos = 0, idx;
        mp_value v;
        while (!p->st && mpi_array_next(a, &pos, &idx, &v))
            scan_value(p, v);
        scan_props(p, &a->props);
        break;
    }
    case MP_MAP:
    case MP_SET: {
        const mpi_map *m = (const mpi_map *)c;
        for (uint32_t i = 0; i < m->used && !p->st; i++) {
            if (m->entries[i].key.kind_ == MPI_TAG_EMPTY) continue;
            scan_value(p, m->entries[i].key);
            if (c->kind == MP_MAP) scan_value(p, m->entries[i].value);
        }
        break;
    }
    case MP_ERROR: {
        const mpi_error *e = (const mpi_error *)c;
        if (e->h.flags & MPI_ERROR_HAS_CAUSE) scan_value(p, e->cause);
        break;
    }
    case MP_TYPEDARRAY:
    case MP_DATAVIEW: {
        const mpi_view *v = (const mpi_view *)c;
        if (v->buffer) scan_meet(p, v->buffer);
        break;
    }
    default:
        break;
    }
}

static void
scan_graph(printer *p, mp_value root)
{
    scan_value(p, root);
    while (p->stack.len && !p->st) {
        mpi_cell *c = *(mpi_cell **)mpi_vec_top(&p->stack);
        p->stack.len--;
        scan_children(p, c);
    }
    p->stack.len = 0;
}

/* ---- pass 2: writing ---- */

static void
out_indent(printer *p, size_t depth)
{
    static const char spaces[] = "                                                                ";
    size_t n = depth * 2;
    while (n && !p->out.err) {
        size_t k = n < sizeof spaces - 1 ? n : sizeof spaces - 1;
        out_write(&p->out, spaces, k);
        n -= k;
    }
}

static const char *
opener(const mpi_cell *c)
{
    switch (c->kind) {
    case MP_ARRAY:
    case MP_TYPEDARRAY:
        return "[";
    case MP_ERROR:
        return " {";
    default:
        return "{";
    }
}

/* Starts the next item of the top frame: the opener or a comma, then a
 * space or a new indented line. */
static void
item_begin(printer *p, pr_frame *f)
{
    out_str(&p->out, f->items ? "," : opener(f->cell));
    if (p->pretty) {
        out_char(&p->out, '\n');
        out_indent(p, p->stack.len);
    } else {
        out_char(&p->out, ' ');
    }
    f->items++;
}

/* Closes the top frame and pops it. */
static void
frame_end(printer *p)
{
    pr_frame *f = mpi_vec_top(&p->stack);
    const mpi_cell *c = f->cell;
    bool square = c->kind == MP_ARRAY || c->kind == MP_TYPEDARRAY;
    if (!f->items) {
        if (c->kind != MP_ERROR) out_str(&p->out, square ? "[]" : "{}");
    } else if (p->pretty) {
        out_char(&p->out, '\n');
        out_indent(p, p->stack.len - 1);
        out_char(&p->out, square ? ']' : '}');
    } else {
        out_str(&p->out, square ? " ]" : " }");
    }
    uintptr_t *s = mpi_ptrmap_get(&p->seen, c);
    if (s) *s &= ~(uintptr_t)ST_OPEN;
    p->stack.len--;
}

static void
out_header(printer *p, mpi_cell *c)
{
    pr_out *o = &p->out;
    switch (c->kind) {
    case MP_MAP:
        out_fmt(o, "Map(%" PRIu32 ") ", ((mpi_map *)c)->live);
        break;
    case MP_SET:
        out_fmt(o, "Set(%" PRIu32 ") ", ((mpi_map *)c)->live);
        break;
    case MP_ERROR: {
        const mpi_error *e = (const mpi_error *)c;
        out_fmt(o, "[%s", error_name(c));
        if (e->message && e->message->length) {
            out_str(o, ": ");
            out_units(o, e->message, 0);
        }
        out_char(o, ']');
        break;
    }
    case MP_ARRAYBUFFER:
        out_str(o, "ArrayBuffer ");
        break;
    case MP_SHAREDARRAYBUFFER:
        out_str(o, "SharedArrayBuffer ");
        break;
    case MP_TYPEDARRAY: {
        const mpi_view *v = (const mpi_view *)c;
        size_t bl = 0;
        (void)mpi_view_bytes(v, &bl);
        out_fmt(o, "%s(%zu) ", mp_view_type_name((mp_view_type)c->aux), bl / mp_view_type_size((mp_view_type)c->aux));
        break;
    }
    case MP_DATAVIEW:
        out_str(o, "DataView ");
        break;
    default:
        break;
    }
}

/* Writes v where a value belongs: a primitive, a leaf object, a reference
 * to an object already written, or the head of a container whose frame it
 * pushes. Must be the last thing a step does: pushing may move the stack,
 * so frame pointers taken before are stale after it. */
static void
print_value(printer *p, mp_value v)
{
    pr_out *o = &p->out;
    if (!is_objv(v)) {
        out_primitive(o, v);
        return;
    }
    mpi_cell *c = v.u_.cell_;
    uintptr_t *s = mpi_ptrmap_get(&p->seen, c);
    if (!s) {
        /* Every object was met in pass 1; this cannot happen. */
        out_str(o, "[?]");
        return;
    }
    if (*s & ST_PRINTED) {
        out_fmt(o, "[%s *%" PRIuPTR "]", (*s & ST_OPEN) ? "Circular" : "Ref", *s >> ST_LABEL_SHIFT);
        return;
    }
    *s |= ST_PRINTED;
    if (*s & ST_MULTI) {
        uint32_t label = ++p->next_label;
        *s |= (uintptr_t)label << ST_LABEL_SHIFT;
        out_fmt(o, "<ref *%" PRIu32 "> ", label);
    }
    switch (c->kind) {
    case MP_DATE: {
        double t = ((mpi_date *)c)->time;
        if (isnan(t)) {
            out_str(o, "Invalid Date");
        } else {
            out_str(o, "[Date: ");
            out_iso_date(o, t);
            out_char(o, ']');
        }
        return;
    }
    case MP_REGEXP:
        out_regexp(o, (mpi_regexp *)c);
        return;
    case MP_BOOLEAN_OBJECT:
    case MP_NUMBER_OBJECT:
    case MP_STRING_OBJECT:
    case MP_BIGINT_OBJECT:
        out_boxed(o, (mpi_boxed *)c);
        return;
    case MP_HOST:
        out_fmt(o, "[Host tag=%" PRIu32 " 0x%" PRIxPTR "]", c->aux, (uintptr_t)((mpi_host *)c)->ptr);
        return;
    case MP_PORT:
        out_str(o, "MessagePort {}");
        return;
    default:
        break;
    }
    if (!is_container((mp_kind)c->kind)) {
        out_fmt(o, "[%s]", mp_kind_name((mp_kind)c->kind));
        return;
    }
    out_header(p, c);
    pr_frame *f = mpi_vec_push(&p->stack);
    if (!f) {
        p->st = MP_ENOMEM;
        return;
    }
    memset(f, 0, sizeof *f);
    f->cell = c;
    *s |= ST_OPEN;
}

/* A property item "key: value"; false at the end of the table. */
static bool
step_props(printer *p, pr_frame *f, const mpi_props *props)
{
    const mpi_prop *prop = props_next(props, &f->pos2);
    if (!prop) return false;
    item_begin(p, f);
    out_key(&p->out, prop->key);
    out_str(&p->out, ": ");
    print_value(p, prop->value);
    return true;
}

static void
step_array(printer *p, pr_frame *f)
{
    const mpi_array *a = (const mpi_array *)f->cell;
    if (f->phase == 0) {
        if (f->pos < a->length) {
            /* Peek at the next present element without consuming it. */
            uint32_t look = a->h.flags & MPI_ARRAY_SPARSE ? f->pos2 : f->pos;
            uint32_t idx = 0;
            mp_value v;
            bool any = mpi_array_next(a, &look, &idx, &v);
            uint32_t next = any ? idx : a->length;
            if (next > f->pos) {
                uint32_t n = next - f->pos;
                item_begin(p, f);
                out_fmt(&p->out, "<%" PRIu32 " empty item%s>", n, n == 1 ? "" : "s");
                f->pos = next;
                return;
            }
            item_begin(p, f);
            f->pos = idx + 1;
            if (a->h.flags & MPI_ARRAY_SPARSE) f->pos2 = look;
            print_value(p, v);
            return;
        }
        f->phase = 1;
        f->pos2 = 0;
    }
    if (!step_props(p, f, &a->props)) frame_end(p);
}

static void
step_map(printer *p, pr_frame *f)
{
    const mpi_map *m = (const mpi_map *)f->cell;
    if (f->pending) {
        mp_value v = m->entries[f->pos].value;
        f->pending = 0;
        f->pos++;
        out_str(&p->out, " => ");
        print_value(p, v);
        return;
    }
    while (f->pos < m->used && m->entries[f->pos].key.kind_ == MPI_TAG_EMPTY)
        f->pos++;
    if (f->pos >= m->used) {
        frame_end(p);
        return;
    }
    mp_value k = m->entries[f->pos].key;
    item_begin(p, f);
    if (f->cell->kind == MP_MAP)
        f->pending = 1;
    else
        f->pos++;
    print_value(p, k);
}

static void
step_error(printer *p, pr_frame *f)
{
    const mpi_error *e = (const mpi_error *)f->cell;
    if (f->phase == 0) {
        f->phase = 1;
        if (e->stack) {
            item_begin(p, f);
            out_str(&p->out, "[stack]: ");
            out_quoted(&p->out, e->stack);
            return;
        }
    }
    if (f->phase == 1) {
        f->phase = 2;
        if (e->h.flags & MPI_ERROR_HAS_CAUSE) {
            item_begin(p, f);
            out_str(&p->out, "[cause]: ");
            print_value(p, e->cause);
            return;
        }
    }
    frame_end(p);
}

static void
out_contents(printer *p, const uint8_t *data, size_t len)
{
    out_str(&p->out, "[Uint8Contents]: <");
    size_t shown = len < PR_MAX_BYTES ? len : PR_MAX_BYTES;
    for (size_t i = 0; i < shown; i++)
        out_fmt(&p->out, i ? " %02x" : "%02x", data[i]);
    if (len > shown) out_fmt(&p->out, " ... %zu more byte%s", len - shown, len - shown == 1 ? "" : "s");
    out_char(&p->out, '>');
}

static void
step_buffer(printer *p, pr_frame *f)
{
    const mpi_cell *c = f->cell;
    bool shared = c->kind == MP_SHAREDARRAYBUFFER;
    const mpi_arraybuffer *ab = (const mpi_arraybuffer *)c;
    const mpi_sab *sab = (const mpi_sab *)c;
    bool detached = !shared && (c->flags & MPI_AB_DETACHED);
    size_t len = shared ? (sab->store ? atomic_load(&sab->store->byte_length) : 0) : (detached ? 0 : ab->byte_length);
    switch (f->phase++) {
    case 0:
        item_begin(p, f);
        if (detached) {
            out_str(&p->out, "(detached)");
        } else {
            const mpi_store *st = shared ? sab->store : ab->store;
            out_contents(p, st && st->data ? st->data : (const uint8_t *)"", st && st->data ? len : 0);
        }
        return;
    case 1:
        item_begin(p, f);
        out_fmt(&p->out, "byteLength: %zu", len);
        return;
    case 2: {
        bool growable =
            shared ? (sab->store && (sab->store->flags & MPI_STORE_GROWABLE)) : (c->flags & MPI_AB_RESIZABLE);
        if (growable) {
            item_begin(p, f);
            out_fmt(&p->out, "maxByteLength: %zu", shared ? sab->store->max_byte_length : ab->max_byte_length);
            return;
        }
        frame_end(p);
        return;
    }
    default:
        frame_end(p);
        return;
    }
}

static void
out_element(pr_out *o, mp_view_type t, const uint8_t *b)
{
    union {
        int8_t i8;
        uint8_t u8;
        int16_t i16;
        uint16_t u16;
        int32_t i32;
        uint32_t u32;
        float f32;
        double f64;
        int64_t i64;
        uint64_t u64;
    } x;
    memcpy(&x, b, mp_view_type_size(t));
    switch (t) {
    case MP_INT8:
        out_fmt(o, "%d", x.i8);
        break;
    case MP_UINT8:
    case MP_UINT8_CLAMPED:
        out_fmt(o, "%u", x.u8);
        break;
    case MP_INT16:
        out_fmt(o, "%d", x.i16);
        break;
    case MP_UINT16:
        out_fmt(o, "%u", x.u16);
        break;
    case MP_INT32:
        out_fmt(o, "%" PRId32, x.i32);
        break;
    case MP_UINT32:
        out_fmt(o, "%" PRIu32, x.u32);
        break;
    case MP_FLOAT32:
        out_number(o, (double)x.f32);
        break;
    case MP_FLOAT64:
        out_number(o, x.f64);
        break;
    case MP_BIGINT64:
        out_fmt(o, "%" PRId64 "n", x.i64);
        break;
    case MP_BIGUINT64:
        out_fmt(o, "%" PRIu64 "n", x.u64);
        break;
    default:
        out_str(o, "?");
        break;
    }
}

static void
step_typedarray(printer *p, pr_frame *f)
{
    const mpi_view *v = (const mpi_view *)f->cell;
    mp_view_type t = (mp_view_type)v->h.aux;
    size_t bl = 0;
    const uint8_t *data = mpi_view_bytes(v, &bl);
    size_t size = mp_view_type_size(t);
    size_t len = data && size ? bl / size : 0;
    if (f->phase == 0) {
        if (f->pos < len && f->pos < PR_MAX_ELEMENTS) {
            item_begin(p, f);
            out_element(&p->out, t, data + (size_t)f->pos * size);
            f->pos++;
            return;
        }
        f->phase = 1;
        if (len > f->pos) {
            item_begin(p, f);
            out_fmt(&p->out, "... %zu more item%s", len - f->pos, len - f->pos == 1 ? "" : "s");
            return;
        }
    }
    if (f->phase == 1) {
        f->phase = 2;
        /* The buffer shows only when something else reaches it too, so
         * plain typed arrays look as in Node while sharing stays visible. */
        uintptr_t *s = v->buffer ? mpi_ptrmap_get(&p->seen, v->buffer) : NULL;
        if (s && (*s & ST_MULTI)) {
            item_begin(p, f);
            out_str(&p->out, "[buffer]: ");
            print_value(p, mpi_value_cell((mp_kind)v->buffer->kind, v->buffer));
            return;
        }
    }
    frame_end(p);
}

static void
step_dataview(printer *p, pr_frame *f)
{
    const mpi_view *v = (const mpi_view *)f->cell;
    mp_value self = mpi_value_cell(MP_DATAVIEW, f->cell);
    switch (f->phase++) {
    case 0:
        item_begin(p, f);
        out_fmt(&p->out, "byteLength: %zu", mp_view_byte_length(self));
        return;
    case 1:
        item_begin(p, f);
        out_fmt(&p->out, "byteOffset: %zu", mp_view_byte_offset(self));
        return;
    case 2:
        if (v->buffer) {
            item_begin(p, f);
            out_str(&p->out, "buffer: ");
            print_value(p, mpi_value_cell((mp_kind)v->buffer->kind, v->buffer));
            return;
        }
        frame_end(p);
        return;
    default:
        frame_end(p);
        return;
    }
}

static void
step(printer *p)
{
    pr_frame *f = mpi_vec_top(&p->stack);
    switch (f->cell->kind) {
    case MP_OBJECT:
        if (!step_props(p, f, &((mpi_object *)f->cell)->props)) frame_end(p);
        break;
    case MP_ARRAY:
        step_array(p, f);
        break;
    case MP_MAP:
    case MP_SET:
        step_map(p, f);
        break;
    case MP_ERROR:
        step_error(p, f);
        break;
    case MP_ARRAYBUFFER:
    case MP_SHAREDARRAYBUFFER:
        step_buffer(p, f);
        break;
    case MP_TYPEDARRAY:
        step_typedarray(p, f);
        break;
    case MP_DATAVIEW:
        step_dataview(p, f);
        break;
    default:
        frame_end(p);
        break;
    }
}

mp_status
mp_print(FILE *stream, mp_value v, unsigned flags)
{
    if (!stream || (flags & ~MP_PRINT_PRETTY)) return MP_EINVAL;
    char stage[4096];
    printer p;
    p.out.f = stream;
    p.out.buf = stage;
    p.out.cap = sizeof stage;
    p.out.len = 0;
    p.out.cut = false;
    p.out.err = false;
    p.pretty = (flags & MP_PRINT_PRETTY) != 0;
    p.next_label = 0;
    p.st = MP_OK;

    /* The walk's memory comes from the printed value's realm allocator. */
    mpi_cell *root = mpi_cell_of(v);
    const mp_allocator *alc = mpi_allocator_or_default(root ? &root->realm->alc : NULL);
    mpi_ptrmap_init(&p.seen, alc);
    mpi_vec_init(&p.stack, alc, sizeof(mpi_cell *) > sizeof(pr_frame) ? sizeof(mpi_cell *) : sizeof(pr_frame));

    if (is_objv(v)) scan_graph(&p, v);
    if (!p.st) {
        print_value(&p, v);
        while (p.stack.len && !p.st && !p.out.err)
            step(&p);
    }
    out_flush(&p.out);
    mpi_vec_destroy(&p.stack);
    mpi_ptrmap_destroy(&p.seen);
    if (p.st) return p.st;
    return p.out.err ? MP_EINVAL : MP_OK;
}
