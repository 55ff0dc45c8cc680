/* Message bytes <-> listing text (tools/README.md describes the text).
 *
 * Both directions walk the same shape: a stack of open containers, each
 * with the number of children it still expects, fed one token at a time,
 * so the dumper indents exactly where the packer expects the indentation,
 * and neither recurses on the data's depth. Bytes are read with the
 * decoder's own token reader (codec/token.h); bytes are written with
 * msgpack-c's packer, which writes the shortest headers as msgport's
 * encoder does (FORMAT.md §6): that is why dump -> pack is byte-exact for
 * every message msgport writes. */
#include "dump.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <msgpack.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codec_internal.h"
#include "token.h"

static const char *const view_names[] = {"Int8Array",    "Uint8Array",    "Uint8ClampedArray", "Int16Array",
                                         "Uint16Array",  "Int32Array",    "Uint32Array",       "Float32Array",
                                         "Float64Array", "BigInt64Array", "BigUint64Array",    "DataView"};
#define VIEW_TYPES (sizeof view_names / sizeof view_names[0])

static const char *const error_names[] = {"Error",       "EvalError", "RangeError", "ReferenceError",
                                          "SyntaxError", "TypeError", "URIError"};
#define ERROR_TYPES (sizeof error_names / sizeof error_names[0])

static const char *const error_fields[] = {"message", "stack", "cause"};

static const char regexp_flag_letters[] = "dgimsuyv";

/* ---- the shape shared by both directions ------------------------------------------ */

/* Deeper tokens are indented as this level (with their depth in a
 * comment), so a hostile nesting cannot make the listing quadratic. */
#define MAX_INDENT 40

typedef struct frame {
    uint64_t left;    /* children still expected */
    size_t where;     /* byte offset (dump) or line (pack) of the container */
    const char *what; /* "map", "ARRAY", ... */
} frame;

typedef struct shape {
    frame *v;
    size_t len, cap;
    uint64_t top;         /* top-level objects placed: the version, the root, then trailing ones */
    bool view_may_follow; /* the last token was a buffer: a VIEW next wraps it */
    size_t view_depth;
} shape;

/* Places the next token: returns its depth. A VIEW right after a buffer
 * joins that buffer's value (same depth, no slot of its own). */
static size_t
shape_place(shape *s, bool is_view, bool *joins_buffer)
{
    *joins_buffer = false;
    if (is_view && s->view_may_follow) {
        s->view_may_follow = false;
        *joins_buffer = true;
        return s->view_depth;
    }
    s->view_may_follow = false;
    while (s->len && s->v[s->len - 1].left == 0)
        s->len--;
    if (s->len)
        s->v[s->len - 1].left--;
    else
        s->top++;
    return s->len;
}

static void
shape_buffer_placed(shape *s, size_t depth)
{
    s->view_may_follow = true;
    s->view_depth = depth;
}

/* The token just placed expects `children` more. False if out of memory. */
static bool
shape_open(shape *s, uint64_t children, size_t where, const char *what)
{
    if (children == 0) return true;
    if (s->len == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        frame *v = realloc(s->v, cap * sizeof *v);
        if (!v) return false;
        s->v = v;
        s->cap = cap;
    }
    s->v[s->len++] = (frame){children, where, what};
    return true;
}

/* The innermost container still expecting children, or NULL. */
static const frame *
shape_unfinished(const shape *s)
{
    for (size_t i = s->len; i-- > 0;)
        if (s->v[i].left) return &s->v[i];
    return NULL;
}

/* ---- small helpers ---------------------------------------------------------------- */

/* Length of the well-formed UTF-8 sequence at p (no surrogates, no
 * overlongs), or 0. */
static size_t
utf8_seq(const uint8_t *p, size_t left, uint32_t *cp)
{
    uint8_t c = p[0];
    size_t n;
    uint32_t min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
        *cp = c & 0x1f;
        min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        *cp = c & 0x0f;
        min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        *cp = c & 0x07;
        min = 0x10000;
    } else {
        return 0;
    }
    if (left < n) return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80) return 0;
        *cp = (*cp << 6) | (p[i] & 0x3f);
    }
    if (*cp < min || *cp > 0x10ffff || (*cp >= 0xd800 && *cp <= 0xdfff)) return 0;
    return n;
}

/* Shortest text that reads back as the same double; always with a '.', an
 * exponent or a name when `mark_float`, so it never reads as an integer. */
static void
format_double(char *buf, size_t cap, double d, bool mark_float)
{
    if (isnan(d)) {
        uint64_t bits;
        memcpy(&bits, &d, 8);
        if (bits == UINT64_C(0x7ff8000000000000))
            snprintf(buf, cap, "NaN");
        else
            snprintf(buf, cap, "NaN(0x%016" PRIx64 ")", bits);
        return;
    }
    if (isinf(d)) {
        snprintf(buf, cap, d < 0 ? "-Infinity" : "Infinity");
        return;
    }
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, cap, "%.*g", prec, d);
        if (strtod(buf, NULL) == d) break;
    }
    if (mark_float && !strpbrk(buf, ".e")) strncat(buf, ".0", cap - strlen(buf) - 1);
}

static void
format_float32(char *buf, size_t cap, float f)
{
    if (isnan(f)) {
        uint32_t bits;
        memcpy(&bits, &f, 4);
        if (bits == UINT32_C(0x7fc00000))
            snprintf(buf, cap, "NaN");
        else
            snprintf(buf, cap, "NaN(0x%08" PRIx32 ")", bits);
        return;
    }
    if (isinf(f)) {
        snprintf(buf, cap, f < 0 ? "-Infinity" : "Infinity");
        return;
    }
    for (int prec = 6; prec <= 9; prec++) {
        snprintf(buf, cap, "%.*g", prec, (double)f);
        if ((float)strtod(buf, NULL) == f) break;
    }
    if (!strpbrk(buf, ".e")) strncat(buf, ".0", cap - strlen(buf) - 1);
}

/* ---- bytes -> listing --------------------------------------------------------------- */

typedef struct idinfo {
    size_t at;
    const char *what;
    bool buffer;
} idinfo;

typedef struct dumper {
    const uint8_t *base, *end;
    FILE *out, *diag;
    mpd_dump_result *res;
    shape sh;
    idinfo *ids;
    size_t n_ids, cap_ids;
    char note[640]; /* the comment of the line being written */
    size_t note_len;
    bool oom;
    bool trailing_reported;
    bool view_base_is_buffer; /* the value a following VIEW would wrap */
} dumper;

static void dnote(dumper *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void
dnote(dumper *d, const char *fmt, ...)
{
    size_t cap = sizeof d->note;
    if (d->note_len + 3 >= cap) return;
    if (d->note_len) {
        memcpy(d->note + d->note_len, "; ", 2);
        d->note_len += 2;
    }
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(d->note + d->note_len, cap - d->note_len, fmt, ap);
    va_end(ap);
    if (n > 0) d->note_len += (size_t)n < cap - d->note_len ? (size_t)n : cap - d->note_len - 1;
}

enum { DIAG_MAX = 20 };

static void problem(dumper *d, size_t at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void
problem(dumper *d, size_t at, const char *fmt, ...)
{
    char why[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    dnote(d, "invalid: %s", why);
    mpd_dump_result *r = d->res;
    if (r->problems == 0) {
        r->first_offset = at;
        snprintf(r->first, sizeof r->first, "offset %zu: %s", at, why);
    }
    r->problems++;
    if (d->diag && r->problems <= DIAG_MAX) fprintf(d->diag, "offset %zu: %s\n", at, why);
    if (d->diag && r->problems == DIAG_MAX + 1) fprintf(d->diag, "(further problems are marked in the listing only)\n");
}

/* Assigns the next implicit id (FORMAT.md §2) and notes it. */
static void
new_id(dumper *d, size_t at, const char *what, bool buffer)
{
    if (d->n_ids == d->cap_ids) {
        size_t cap = d->cap_ids ? d->cap_ids * 2 : 64;
        idinfo *v = realloc(d->ids, cap * sizeof *v);
        if (!v) {
            d->oom = true;
            return;
        }
        d->ids = v;
        d->cap_ids = cap;
    }
    d->ids[d->n_ids] = (idinfo){at, what, buffer};
    dnote(d, "id %zu", d->n_ids);
    d->n_ids++;
}

static void
put_hex(FILE *f, const uint8_t *p, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        putc(digits[p[i] >> 4], f);
        putc(digits[p[i] & 15], f);
    }
}

static void
put_escaped_ascii(FILE *f, uint8_t c)
{
    switch (c) {
    case '"':
        fputs("\\\"", f);
        break;
    case '\\':
        fputs("\\\\", f);
        break;
    case '\n':
        fputs("\\n", f);
        break;
    case '\t':
        fputs("\\t", f);
        break;
    case '\r':
        fputs("\\r", f);
        break;
    default:
        if (c < 0x20 || c == 0x7f)
            fprintf(f, "\\x%02x", c);
        else
            putc(c, f);
        break;
    }
}

/* A str payload as a quoted literal; false if it is not valid UTF-8 (the
 * offending bytes are written as \xNN, which pack turns back into them). */
static bool
put_str(FILE *f, const uint8_t *p, size_t n)
{
    bool valid = true;
    putc('"', f);
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t k = utf8_seq(p + i, n - i, &cp);
        if (k == 0) {
            valid = false;
            fprintf(f, "\\x%02x", p[i]);
            i++;
        } else if (k == 1) {
            put_escaped_ascii(f, p[i]);
            i++;
        } else {
            /* C1 controls would be obeyed by some terminals. */
            if (cp < 0xa0)
                fprintf(f, "\\u%04" PRIx32, cp);
            else
                fwrite(p + i, 1, k, f);
            i += k;
        }
    }
    putc('"', f);
    return valid;
}

static void
put_utf8(FILE *f, uint32_t cp)
{
    if (cp < 0x800) {
        putc(0xc0 | (cp >> 6), f);
    } else if (cp < 0x10000) {
        putc(0xe0 | (cp >> 12), f);
        putc(0x80 | ((cp >> 6) & 0x3f), f);
    } else {
        putc(0xf0 | (cp >> 18), f);
        putc(0x80 | ((cp >> 12) & 0x3f), f);
        putc(0x80 | ((cp >> 6) & 0x3f), f);
    }
    putc(0x80 | (cp & 0x3f), f);
}

/* A STRING16 payload (even length) as a quoted literal: characters as
 * UTF-8, lone surrogates and controls as \uXXXX code units. */
static void
put_str16(FILE *f, const uint8_t *p, size_t n)
{
    putc('"', f);
    for (size_t i = 0; i + 1 < n; i += 2) {
        uint32_t u = (uint32_t)p[i] | ((uint32_t)p[i + 1] << 8);
        if (u < 0x80) {
            if (u < 0x20 || u == 0x7f)
                fprintf(f, "\\u%04" PRIx32, u);
            else
                put_escaped_ascii(f, (uint8_t)u);
        } else if (u < 0xa0) {
            fprintf(f, "\\u%04" PRIx32, u);
        } else if (u >= 0xd800 && u <= 0xdbff && i + 3 < n) {
            uint32_t lo = (uint32_t)p[i + 2] | ((uint32_t)p[i + 3] << 8);
            if (lo >= 0xdc00 && lo <= 0xdfff) {
                put_utf8(f, 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00));
                i += 2;
            } else {
                fprintf(f, "\\u%04" PRIx32, u);
            }
        } else if (u >= 0xd800 && u <= 0xdfff) {
            fprintf(f, "\\u%04" PRIx32, u);
        } else {
            put_utf8(f, u);
        }
    }
    putc('"', f);
}

/* The canonical msgpack header (or whole scalar) for a token, as
 * msgpack-c's packer writes it, to compare with the input's. */
typedef struct scratch {
    uint8_t b[16];
    size_t len;
} scratch;

static int
scratch_write(void *data, const char *buf, size_t len)
{
    scratch *s = data;
    if (len > sizeof s->b - s->len) return -1;
    memcpy(s->b + s->len, buf, len);
    s->len += len;
    return 0;
}

/* True if the token's header bytes are the ones pack would write. */
static bool
shortest_header(const mpi_tok *t, const uint8_t *at, size_t header_len)
{
    scratch s = {{0}, 0};
    msgpack_packer pk;
    msgpack_packer_init(&pk, &s, scratch_write);
    switch (t->t) {
    case MPI_TOK_UINT:
        msgpack_pack_uint64(&pk, t->u);
        break;
    case MPI_TOK_INT:
        msgpack_pack_int64(&pk, t->i);
        break;
    case MPI_TOK_STR:
        msgpack_pack_str(&pk, t->n);
        break;
    case MPI_TOK_BIN:
        msgpack_pack_bin(&pk, t->n);
        break;
    case MPI_TOK_ARRAY:
        msgpack_pack_array(&pk, t->n);
        break;
    case MPI_TOK_MAP:
        msgpack_pack_map(&pk, t->n);
        break;
    case MPI_TOK_EXT:
        msgpack_pack_ext(&pk, t->n, t->ext);
        break;
    default:
        return true; /* nil, bool and floats have one form each */
    }
    return s.len == header_len && memcmp(s.b, at, header_len) == 0;
}

/* Index/id payloads of 1, 2 or 4 bytes: the value, and whether the width
 * is the shortest (else the listing names it). */
static bool
ext_index(const mpi_tok *t, uint32_t *v)
{
    if (t->n == 1)
        *v = t->data[0];
    else if (t->n == 2)
        *v = (uint32_t)t->data[0] | ((uint32_t)t->data[1] << 8);
    else if (t->n == 4)
        *v = mpi_le32(t->data);
    else
        return false;
    return true;
}

static void
put_width(dumper *d, const mpi_tok *t, uint32_t v)
{
    uint32_t shortest = v <= 0xff ? 1 : v <= 0xffff ? 2 : 4;
    if (t->n != shortest) fprintf(d->out, " width=%u", (unsigned)t->n);
}

static void
note_date(dumper *d, double ms)
{
    if (!isfinite(ms) || fabs(ms) > 8.64e15) {
        dnote(d, "invalid date");
        return;
    }
    double secs = floor(ms / 1000.0);
    time_t tt = (time_t)secs;
    struct tm tm;
    if (!gmtime_r(&tt, &tm)) return;
    int millis = (int)(ms - secs * 1000.0);
    dnote(d, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
          tm.tm_sec, millis);
}

/* An ext whose payload does not fit its type (or of no known type): the raw
 * form, which pack writes back as it is. */
static void
put_raw_ext(dumper *d, const mpi_tok *t)
{
    fprintf(d->out, "EXT type=%d data=", t->ext);
    put_hex(d->out, t->data, t->n);
}

/* Writes one ext token; returns the children it expects. */
static uint64_t
dump_ext(dumper *d, const mpi_tok *t, size_t depth, bool joins_buffer, size_t left)
{
    FILE *f = d->out;
    const uint8_t *p = t->data;
    uint32_t n = t->n;
    uint32_t idx;
    switch (t->ext) {
    case MPI_EXT_UNDEFINED:
    case MPI_EXT_HOLE:
    case MPI_EXT_BOXED:
        if (n != 0) break;
        fputs(t->ext == MPI_EXT_UNDEFINED ? "UNDEFINED" : t->ext == MPI_EXT_HOLE ? "HOLE" : "BOXED", f);
        if (t->ext != MPI_EXT_BOXED) return 0;
        new_id(d, t->at, "boxed primitive", false);
        return 1;
    case MPI_EXT_STRING16:
        if (n % 2) break;
        fputs("STRING16 ", f);
        put_str16(f, p, n);
        return 0;
    case MPI_EXT_BIGINT: {
        if (n < 1 || p[0] > 1) break;
        size_t k = n - 1u; /* magnitude bytes, little-endian */
        fputs(p[0] ? "BIGINT -0x" : "BIGINT 0x", f);
        if (k == 0) {
            fputc('0', f);
        } else if (p[k] != 0) {
            /* Shortest: the top byte without its leading zero digit. */
            fprintf(f, "%x", p[k]);
            for (size_t i = k - 1; i >= 1; i--)
                fprintf(f, "%02x", p[i]);
            if (k <= 8) {
                uint64_t m = 0;
                for (size_t i = k; i >= 1; i--)
                    m = (m << 8) | p[i];
                if (p[0])
                    dnote(d, "= -%" PRIu64, m);
                else
                    dnote(d, "= %" PRIu64, m);
            }
        } else {
            /* High zero bytes (not msgport's form): every byte, so pack
             * writes as many. */
            for (size_t i = k; i >= 1; i--)
                fprintf(f, "%02x", p[i]);
            dnote(d, "magnitude has high zero bytes");
        }
        return 0;
    }
    case MPI_EXT_DATE: {
        if (n != 8) break;
        uint64_t bits = mpi_le64(p);
        double ms;
        memcpy(&ms, &bits, 8);
        char num[48];
        format_double(num, sizeof num, ms, false);
        fprintf(f, "DATE %s", num);
        new_id(d, t->at, "Date", false);
        note_date(d, ms);
        return 0;
    }
    case MPI_EXT_REGEXP:
        if (n != 1) break;
        fputs("REGEXP flags=", f);
        for (int i = 0; i < 8; i++)
            if (p[0] & (1u << i)) putc(regexp_flag_letters[i], f);
        new_id(d, t->at, "RegExp", false);
        if ((p[0] & 0x20) && (p[0] & 0x80)) problem(d, t->at, "RegExp flags u and v together");
        return 1;
    case MPI_EXT_ARRAY:
        if (n == 9 && p[0] == MPI_ARRAY_FORM_DENSE) {
            uint32_t length = mpi_le32(p + 1), named = mpi_le32(p + 5);
            fprintf(f, "ARRAY form=0 length=%" PRIu32 " named=%" PRIu32, length, named);
            new_id(d, t->at, "Array", false);
            uint64_t children = (uint64_t)length + 2ull * named;
            if (children > left) problem(d, t->at, "array declares more children than bytes left");
            return children;
        }
        if (n == 13 && p[0] == MPI_ARRAY_FORM_SPARSE) {
            uint32_t length = mpi_le32(p + 1), elements = mpi_le32(p + 5), named = mpi_le32(p + 9);
            fprintf(f, "ARRAY form=1 length=%" PRIu32 " elements=%" PRIu32 " named=%" PRIu32, length, elements, named);
            new_id(d, t->at, "Array", false);
            uint64_t children = 2ull * elements + 2ull * named;
            if (elements > length) problem(d, t->at, "sparse array with more elements than its length");
            if (children > left) problem(d, t->at, "array declares more children than bytes left");
            return children;
        }
        break;
    case MPI_EXT_MAP:
    case MPI_EXT_SET: {
        if (n != 4) break;
        bool is_map = t->ext == MPI_EXT_MAP;
        uint32_t count = mpi_le32(p);
        fprintf(f, "%s count=%" PRIu32, is_map ? "MAP" : "SET", count);
        new_id(d, t->at, is_map ? "Map" : "Set", false);
        uint64_t children = is_map ? 2ull * count : count;
        if (children > left) problem(d, t->at, "%s declares more entries than bytes left", is_map ? "Map" : "Set");
        return children;
    }
    case MPI_EXT_ERROR: {
        if (n != 2 || p[0] >= ERROR_TYPES || (p[1] & ~7u)) break;
        fprintf(f, "ERROR %s", error_names[p[0]]);
        uint64_t children = 0;
        for (int i = 0; i < 3; i++) {
            if (p[1] & (1u << i)) {
                fprintf(f, " %s", error_fields[i]);
                children++;
            }
        }
        new_id(d, t->at, error_names[p[0]], false);
        return children;
    }
    case MPI_EXT_ARRAYBUFFER: {
        if (n < 1 || (p[0] & ~1u) || ((p[0] & 1) && n < 9)) break;
        bool resizable = p[0] & 1;
        size_t head = resizable ? 9 : 1;
        fputs("ARRAYBUFFER", f);
        if (resizable) fprintf(f, " resizable max=%" PRIu64, mpi_le64(p + 1));
        fputs(" bytes=", f);
        put_hex(f, p + head, n - head);
        new_id(d, t->at, "ArrayBuffer", true);
        d->view_base_is_buffer = true;
        if (n - head) dnote(d, "%zu bytes", n - head);
        if (resizable && mpi_le64(p + 1) < n - head) problem(d, t->at, "max byte length below the byte length");
        shape_buffer_placed(&d->sh, depth);
        return 0;
    }
    case MPI_EXT_VIEW: {
        if (n != 18 || p[0] >= VIEW_TYPES || (p[1] & ~1u)) break;
        bool tracking = p[1] & 1;
        fprintf(f, "VIEW %s%s offset=%" PRIu64 " length=%" PRIu64, view_names[p[0]], tracking ? " tracking" : "",
                mpi_le64(p + 2), mpi_le64(p + 10));
        if (!joins_buffer)
            problem(d, t->at, "view ext not preceded by its buffer");
        else if (!d->view_base_is_buffer)
            problem(d, t->at, "view ext after a back-reference to something else than a buffer");
        else
            new_id(d, t->at, view_names[p[0]], false);
        if (tracking && mpi_le64(p + 10) != 0) problem(d, t->at, "a length-tracking view has length 0");
        return 0;
    }
    case MPI_EXT_MOVED:
    case MPI_EXT_SAB:
        if (!ext_index(t, &idx)) break;
        fprintf(f, "%s store #%" PRIu32, t->ext == MPI_EXT_MOVED ? "MOVED" : "SAB", idx);
        put_width(d, t, idx);
        new_id(d, t->at, t->ext == MPI_EXT_MOVED ? "ArrayBuffer" : "SharedArrayBuffer", true);
        d->view_base_is_buffer = true;
        shape_buffer_placed(&d->sh, depth);
        return 0;
    case MPI_EXT_PORT:
        if (!ext_index(t, &idx)) break;
        fprintf(f, "PORT #%" PRIu32, idx);
        put_width(d, t, idx);
        new_id(d, t->at, "MessagePort", false);
        return 0;
    case MPI_EXT_HOST:
        if (n != 8) break;
        fprintf(f, "HOST tag=%" PRIu32 " payload #%" PRIu32, mpi_le32(p), mpi_le32(p + 4));
        new_id(d, t->at, "host object", false);
        return 0;
    case MPI_EXT_BACKREF:
        if (!ext_index(t, &idx)) break;
        fprintf(f, "BACKREF id=%" PRIu32, idx);
        put_width(d, t, idx);
        if (idx < d->n_ids) {
            const idinfo *target = &d->ids[idx];
            dnote(d, "-> %s at offset %zu", target->what, target->at);
        } else {
            problem(d, t->at, "back-reference to id %" PRIu32 ", only %zu assigned", idx, d->n_ids);
        }
        /* A VIEW after any back-reference joins it in the listing (as pack
         * counts it, knowing no ids); the decoder wants a buffer there. */
        d->view_base_is_buffer = idx < d->n_ids && d->ids[idx].buffer;
        shape_buffer_placed(&d->sh, depth);
        return 0;
    default:
        put_raw_ext(d, t);
        problem(d, t->at, "unknown ext type %d", t->ext);
        return 0;
    }
    put_raw_ext(d, t);
    problem(d, t->at, "ext %d has a malformed payload (%u bytes)", t->ext, (unsigned)n);
    return 0;
}

static void
end_line(dumper *d)
{
    if (d->note_len) fprintf(d->out, "  # %.*s", (int)d->note_len, d->note);
    putc('\n', d->out);
    d->note_len = 0;
}

int
mpd_dump(const uint8_t *msg, size_t len, FILE *out, FILE *diag, mpd_dump_result *res)
{
    memset(res, 0, sizeof *res);
    res->first_offset = MPD_NO_OFFSET;
    res->exact = true;
    dumper d = {.base = msg, .end = msg + len, .out = out, .diag = diag, .res = res};
    fprintf(out, "# msgport message, %zu byte%s (codec/FORMAT.md v1); left column: byte offset\n", len,
            len == 1 ? "" : "s");
    fprintf(out, "# a message file has no side tables: the store, payload and port indices of\n"
                 "# MOVED, SAB, HOST and PORT name entries only a live mp_message carries\n");
    const uint8_t *p = msg;
    bool stopped = false;
    while (p < d.end && !d.oom) {
        size_t at = (size_t)(p - msg);
        mpi_tok t;
        memset(&t, 0, sizeof t);
        const uint8_t *before = p;
        mpi_tok_error e = mpi_tok_next(&p, d.end, &t);
        if (e != MPI_TOKE_OK) {
            char why[160];
            mpi_tok_explain(e, before, d.end, why, sizeof why);
            /* A comment, so the listing still packs (short of these bytes). */
            size_t shown = (size_t)(d.end - before) < 16 ? (size_t)(d.end - before) : 16;
            fprintf(out, "%8zu | # invalid: %s; the listing stops at these bytes: ", at, why);
            put_hex(out, before, shown);
            fputs(shown < (size_t)(d.end - before) ? "...\n" : "\n", out);
            problem(&d, at, "%s", why);
            d.note_len = 0;
            stopped = true;
            break;
        }
        t.at = at;
        size_t payload = (t.t == MPI_TOK_STR || t.t == MPI_TOK_BIN || t.t == MPI_TOK_EXT) ? t.n : 0;
        size_t header_len = (size_t)(p - before) - payload;
        bool is_view = t.t == MPI_TOK_EXT && t.ext == MPI_EXT_VIEW;
        bool joins_buffer;
        size_t depth = shape_place(&d.sh, is_view, &joins_buffer);
        size_t left = (size_t)(d.end - p);
        fprintf(out, "%8zu | %*s", at, (int)((depth < MAX_INDENT ? depth : MAX_INDENT) * 2), "");
        if (depth > MAX_INDENT) dnote(&d, "depth %zu", depth);
        if (!shortest_header(&t, before, header_len)) {
            res->exact = false;
            dnote(&d, "longer header than needed (0x%02x): pack writes the shortest", before[0]);
        }
        uint64_t children = 0;
        const char *what = NULL;
        bool is_version = depth == 0 && d.sh.top == 1;
        if (is_version) {
            if (t.t == MPI_TOK_UINT) {
                fprintf(out, "version %" PRIu64, t.u);
                if (t.u != MP_FORMAT_VERSION)
                    problem(&d, at, "format version %" PRIu64 " (this is version %u)", t.u, MP_FORMAT_VERSION);
                end_line(&d);
                continue;
            }
            problem(&d, at, "the message must start with its format version, a positive integer");
        } else if (depth == 0 && d.sh.top > 2 && !d.trailing_reported) {
            problem(&d, at, "bytes after the root value");
            d.trailing_reported = true;
        }
        switch (t.t) {
        case MPI_TOK_NIL:
            fputs("nil", out);
            break;
        case MPI_TOK_BOOL:
            fputs(t.b ? "true" : "false", out);
            break;
        case MPI_TOK_UINT:
            fprintf(out, "%" PRIu64, t.u);
            break;
        case MPI_TOK_INT:
            fprintf(out, "%" PRId64, t.i);
            break;
        case MPI_TOK_FLOAT: {
            char num[48];
            if (before[0] == 0xca) {
                format_float32(num, sizeof num, (float)t.d);
                fprintf(out, "float32 %s", num);
            } else {
                format_double(num, sizeof num, t.d, true);
                fputs(num, out);
            }
            break;
        }
        case MPI_TOK_STR:
            if (!put_str(out, t.data, t.n)) problem(&d, at, "invalid UTF-8 in a str");
            break;
        case MPI_TOK_BIN:
            fputs("bin", out);
            if (t.n) {
                putc(' ', out);
                put_hex(out, t.data, t.n);
            }
            new_id(&d, at, "ArrayBuffer", true);
            d.view_base_is_buffer = true;
            shape_buffer_placed(&d.sh, depth);
            break;
        case MPI_TOK_ARRAY:
            fprintf(out, "array %" PRIu32, t.n);
            new_id(&d, at, "Array", false);
            children = t.n;
            what = "array";
            break;
        case MPI_TOK_MAP:
            fprintf(out, "map %" PRIu32, t.n);
            new_id(&d, at, "Object", false);
            children = 2ull * t.n;
            what = "map";
            break;
        case MPI_TOK_EXT:
            children = dump_ext(&d, &t, depth, joins_buffer, left);
            what = t.ext == MPI_EXT_ARRAY    ? "ARRAY"
                   : t.ext == MPI_EXT_MAP    ? "MAP"
                   : t.ext == MPI_EXT_SET    ? "SET"
                   : t.ext == MPI_EXT_ERROR  ? "ERROR"
                   : t.ext == MPI_EXT_REGEXP ? "REGEXP"
                                             : "BOXED";
            break;
        default:
            break;
        }
        end_line(&d);
        if (!shape_open(&d.sh, children, at, what)) d.oom = true;
    }
    if (!stopped && !d.oom) {
        const frame *open = shape_unfinished(&d.sh);
        if (open)
            problem(&d, len, "the message ends inside the %s at offset %zu (%" PRIu64 " more value%s expected)",
                    open->what, open->where, open->left, open->left == 1 ? "" : "s");
        else if (d.sh.top < 2)
            problem(&d, len, len ? "the message ends before its root value" : "empty message: no format version");
        if (d.note_len) {
            fprintf(out, "%8zu |", len);
            end_line(&d);
        }
    }
    res->complete = !stopped;
    if (!res->complete) res->exact = false;
    free(d.sh.v);
    free(d.ids);
    if (d.oom) {
        snprintf(res->first, sizeof res->first, "out of memory");
        return -1;
    }
    if (fflush(out) != 0 || ferror(out)) {
        snprintf(res->first, sizeof res->first, "could not write the listing: %s", strerror(errno));
        return -1;
    }
    return res->problems ? 1 : 0;
}

/* ---- listing -> bytes ---------------------------------------------------------------- */

enum { MAX_WORDS = 12 };

typedef struct word {
    char *s;    /* NUL-terminated, in the line copy */
    size_t col; /* 1-based column in the original line */
    bool used;
} word;

typedef struct packer {
    msgpack_sbuffer sb;
    msgpack_packer pk;
    mpd_pack_result *res;
    size_t line;
    shape sh;
    bool failed;
    uint8_t *scratch; /* payload being built */
    size_t scratch_len, scratch_cap;
} packer;

static bool perr(packer *k, size_t col, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static bool
perr(packer *k, size_t col, const char *fmt, ...)
{
    if (k->failed) return false;
    k->failed = true;
    char why[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    k->res->line = k->line;
    k->res->column = col;
    snprintf(k->res->error, sizeof k->res->error, "line %zu, column %zu: %s", k->line, col, why);
    return false;
}

static bool
oom(packer *k)
{
    if (!k->failed) {
        k->failed = true;
        snprintf(k->res->error, sizeof k->res->error, "out of memory");
    }
    return false;
}

static bool
scratch_put(packer *k, const void *p, size_t n)
{
    if (k->scratch_cap - k->scratch_len < n) {
        size_t cap = k->scratch_cap ? k->scratch_cap : 64;
        while (cap - k->scratch_len < n) {
            if (cap > SIZE_MAX / 2) return oom(k);
            cap *= 2;
        }
        uint8_t *s = realloc(k->scratch, cap);
        if (!s) return oom(k);
        k->scratch = s;
        k->scratch_cap = cap;
    }
    if (n) memcpy(k->scratch + k->scratch_len, p, n);
    k->scratch_len += n;
    return true;
}

static bool
scratch_u8(packer *k, uint8_t v)
{
    return scratch_put(k, &v, 1);
}

static bool
scratch_le(packer *k, uint64_t v, int bytes)
{
    uint8_t b[8];
    for (int i = 0; i < bytes; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    return scratch_put(k, b, (size_t)bytes);
}

static int
hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Hex digit pairs into the scratch buffer. */
static bool
parse_hex(packer *k, const char *s, size_t col)
{
    size_t n = strlen(s);
    if (n % 2) return perr(k, col, "odd number of hex digits (%zu): bytes are two digits each", n);
    for (size_t i = 0; i < n; i += 2) {
        int hi = hexval(s[i]), lo = hexval(s[i + 1]);
        if (hi < 0 || lo < 0) return perr(k, col + i, "'%c%c' is not a hex byte", s[i], s[i + 1]);
        if (!scratch_u8(k, (uint8_t)(hi << 4 | lo))) return false;
    }
    return true;
}

/* A decimal (or 0x hexadecimal) unsigned integer, the whole word. */
static bool
parse_u64(const char *s, uint64_t *out)
{
    if (!*s || *s == '-' || *s == '+' || *s == ' ') return false;
    errno = 0;
    char *endp;
    unsigned long long v = strtoull(s, &endp, 0);
    if (errno || *endp || (s[0] == '0' && s[1] && s[1] != 'x' && s[1] != 'X')) return false;
    *out = v;
    return true;
}

static word *
find_kv(word *w, size_t n, const char *key, const char **value)
{
    size_t kl = strlen(key);
    for (size_t i = 0; i < n; i++) {
        if (!w[i].used && strncmp(w[i].s, key, kl) == 0 && w[i].s[kl] == '=') {
            w[i].used = true;
            *value = w[i].s + kl + 1;
            return &w[i];
        }
    }
    return NULL;
}

static bool
find_flag(word *w, size_t n, const char *flag)
{
    for (size_t i = 0; i < n; i++) {
        if (!w[i].used && strcmp(w[i].s, flag) == 0) {
            w[i].used = true;
            return true;
        }
    }
    return false;
}

/* A required key=N field with N <= max. */
static bool
need_u64(packer *k, word *w, size_t n, size_t col, const char *key, uint64_t max, uint64_t *out)
{
    const char *v;
    word *at = find_kv(w, n, key, &v);
    if (!at) return perr(k, col, "%s= is missing", key);
    if (!parse_u64(v, out)) return perr(k, at->col, "%s= needs an unsigned integer, not '%s'", key, v);
    if (*out > max) return perr(k, at->col, "%s=%s is above %" PRIu64, key, v, max);
    return true;
}

/* "#N" for a side-table index (a word of its own). */
static bool
need_index(packer *k, word *w, size_t n, size_t col, uint64_t *out)
{
    for (size_t i = 0; i < n; i++) {
        if (!w[i].used && w[i].s[0] == '#') {
            w[i].used = true;
            if (!parse_u64(w[i].s + 1, out) || *out > UINT32_MAX)
                return perr(k, w[i].col, "'%s' is not an index (#0 .. #4294967295)", w[i].s);
            return true;
        }
    }
    return perr(k, col, "the index (#N) is missing");
}

/* Appends the shortest (or width=) 1/2/4-byte little-endian form of v. */
static bool
put_index(packer *k, word *w, size_t n, uint64_t v)
{
    const char *ws;
    word *at = find_kv(w, n, "width", &ws);
    int width = v <= 0xff ? 1 : v <= 0xffff ? 2 : 4;
    if (at) {
        uint64_t wv;
        if (!parse_u64(ws, &wv) || (wv != 1 && wv != 2 && wv != 4))
            return perr(k, at->col, "width= is 1, 2 or 4 bytes");
        if (wv < (uint64_t)width) return perr(k, at->col, "%" PRIu64 " does not fit in %s bytes", v, ws);
        width = (int)wv;
    }
    return scratch_le(k, v, width);
}

static void
put_utf8_bytes(uint8_t *b, size_t *n, uint32_t cp)
{
    if (cp < 0x80) {
        b[(*n)++] = (uint8_t)cp;
    } else if (cp < 0x800) {
        b[(*n)++] = (uint8_t)(0xc0 | (cp >> 6));
        b[(*n)++] = (uint8_t)(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
        b[(*n)++] = (uint8_t)(0xe0 | (cp >> 12));
        b[(*n)++] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
        b[(*n)++] = (uint8_t)(0x80 | (cp & 0x3f));
    } else {
        b[(*n)++] = (uint8_t)(0xf0 | (cp >> 18));
        b[(*n)++] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
        b[(*n)++] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
        b[(*n)++] = (uint8_t)(0x80 | (cp & 0x3f));
    }
}

static int
parse_hex4(const char *s)
{
    int v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval(s[i]);
        if (h < 0) return -1;
        v = v << 4 | h;
    }
    return v;
}

/* A quoted literal (the word, quotes included) into the scratch buffer:
 * UTF-8 bytes for a str, UTF-16LE code units for a STRING16. */
static bool
parse_string(packer *k, const word *w, bool utf16)
{
    const char *s = w->s + 1;
    size_t len = strlen(s) - 1; /* the closing quote */
    for (size_t i = 0; i < len;) {
        size_t col = w->col + 1 + i;
        uint8_t b[4];
        size_t nb = 0;
        uint32_t unit = 0; /* STRING16: a code unit from \u */
        bool raw_unit = false;
        if (s[i] == '\\') {
            char c = s[i + 1];
            switch (c) {
            case '"':
            case '\\':
                b[nb++] = (uint8_t)c;
                i += 2;
                break;
            case 'n':
                b[nb++] = '\n';
                i += 2;
                break;
            case 't':
                b[nb++] = '\t';
                i += 2;
                break;
            case 'r':
                b[nb++] = '\r';
                i += 2;
                break;
            case 'x': {
                if (utf16) return perr(k, col, "\\x is a byte of a str; a STRING16 takes \\uXXXX code units");
                int hi = i + 4 <= len ? hexval(s[i + 2]) : -1;
                int lo = hi >= 0 ? hexval(s[i + 3]) : -1;
                if (lo < 0) return perr(k, col, "\\x needs two hex digits");
                b[nb++] = (uint8_t)(hi << 4 | lo);
                i += 4;
                break;
            }
            case 'u': {
                int u = i + 6 <= len ? parse_hex4(s + i + 2) : -1;
                if (u < 0) return perr(k, col, "\\u needs four hex digits");
                i += 6;
                if (utf16) {
                    unit = (uint32_t)u;
                    raw_unit = true;
                    break;
                }
                uint32_t cp = (uint32_t)u;
                if (cp >= 0xd800 && cp <= 0xdbff && i + 6 <= len && s[i] == '\\' && s[i + 1] == 'u') {
                    int lo = parse_hex4(s + i + 2);
                    if (lo >= 0xdc00 && lo <= 0xdfff) {
                        cp = 0x10000 + ((cp - 0xd800) << 10) + ((uint32_t)lo - 0xdc00);
                        i += 6;
                    }
                }
                if (cp >= 0xd800 && cp <= 0xdfff)
                    return perr(k, col, "lone surrogate \\u%04x in a str: only a STRING16 can hold one", (int)cp);
                put_utf8_bytes(b, &nb, cp);
                break;
            }
            default:
                return perr(k, col, "unknown escape \\%c (known: \\\" \\\\ \\n \\t \\r \\xNN \\uXXXX)", c ? c : ' ');
            }
        } else if (!utf16) {
            b[nb++] = (uint8_t)s[i++];
        } else {
            uint32_t cp;
            size_t n = utf8_seq((const uint8_t *)s + i, len - i, &cp);
            if (n == 0) return perr(k, col, "invalid UTF-8 in the text");
            i += n;
            if (cp >= 0x10000) {
                cp -= 0x10000;
                if (!scratch_le(k, 0xd800 + (cp >> 10), 2)) return false;
                unit = 0xdc00 + (cp & 0x3ff);
            } else {
                unit = cp;
            }
            raw_unit = true;
        }
        if (utf16 && !raw_unit) unit = b[0]; /* simple escapes are ASCII */
        if (utf16) {
            if (!scratch_le(k, unit, 2)) return false;
        } else if (!scratch_put(k, b, nb)) {
            return false;
        }
    }
    return true;
}

static bool
pack_ok(packer *k, int rc)
{
    return rc == 0 || oom(k);
}

static bool
pack_ext_scratch(packer *k, int8_t type)
{
    if (k->scratch_len > UINT32_MAX) return perr(k, 1, "ext payload above 4 GiB - 1 bytes");
    if (!pack_ok(k, msgpack_pack_ext(&k->pk, k->scratch_len, type))) return false;
    return k->scratch_len == 0 || pack_ok(k, msgpack_pack_ext_body(&k->pk, k->scratch, k->scratch_len));
}

/* A number word: integer (int64/uint64) or double (with '.', an exponent,
 * NaN, Infinity). Packs it; false on a syntax error. */
static bool
pack_number(packer *k, const word *w, bool f32)
{
    const char *s = w->s;
    bool neg = s[0] == '-';
    const char *m = neg ? s + 1 : s;
    double d;
    if (strncmp(m, "NaN(0x", 6) == 0) {
        char *endp;
        errno = 0;
        unsigned long long bits = strtoull(m + 4, &endp, 16);
        if (errno || strcmp(endp, ")") != 0 || neg) return perr(k, w->col, "NaN(0x...) takes the bits in hex");
        if (f32) {
            uint32_t b32 = (uint32_t)bits;
            float f;
            memcpy(&f, &b32, 4);
            if (bits > UINT32_MAX || !isnan(f)) return perr(k, w->col, "NaN(0x%llx) is not a float32 NaN", bits);
            return pack_ok(k, msgpack_pack_float(&k->pk, f));
        }
        uint64_t b64 = bits;
        memcpy(&d, &b64, 8);
        if (!isnan(d)) return perr(k, w->col, "NaN(0x%llx) is not a NaN", bits);
        return pack_ok(k, msgpack_pack_double(&k->pk, d));
    }
    if (strcmp(m, "NaN") == 0 || strcmp(m, "Infinity") == 0 || strpbrk(m, ".eE") || f32) {
        if (strcmp(m, "NaN") == 0) {
            if (neg) return perr(k, w->col, "-NaN: write NaN(0x...) with the bits");
            d = NAN;
        } else if (strcmp(m, "Infinity") == 0) {
            d = neg ? -INFINITY : INFINITY;
        } else {
            char *endp;
            d = strtod(s, &endp);
            if (*endp || endp == s || !(m[0] >= '0' && m[0] <= '9')) return perr(k, w->col, "'%s' is not a number", s);
        }
        return pack_ok(k, f32 ? msgpack_pack_float(&k->pk, (float)d) : msgpack_pack_double(&k->pk, d));
    }
    errno = 0;
    char *endp;
    if (!(m[0] >= '0' && m[0] <= '9')) return perr(k, w->col, "unknown token '%s'", s);
    if (neg) {
        long long v = strtoll(s, &endp, 10);
        if (*endp) return perr(k, w->col, "'%s' is not a number", s);
        if (errno) return perr(k, w->col, "%s is below the smallest msgpack int (-2^63)", s);
        return pack_ok(k, msgpack_pack_int64(&k->pk, v));
    }
    unsigned long long v = strtoull(s, &endp, 10);
    if (*endp) return perr(k, w->col, "'%s' is not a number", s);
    if (errno) return perr(k, w->col, "%s is above the largest msgpack int (2^64 - 1)", s);
    return pack_ok(k, msgpack_pack_uint64(&k->pk, v));
}

/* BIGINT [-]0xHEX (as many magnitude bytes as digit pairs, 0x0 = none)
 * or [-]decimal up to 2^64 - 1 (shortest). */
static bool
pack_bigint(packer *k, const word *w)
{
    const char *s = w->s;
    bool neg = s[0] == '-';
    if (neg) s++;
    if (!scratch_u8(k, neg)) return false;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        const char *hex = s + 2;
        size_t nd = strlen(hex);
        if (nd == 0) return perr(k, w->col, "0x needs hex digits");
        for (size_t i = 0; i < nd; i++)
            if (hexval(hex[i]) < 0)
                return perr(k, w->col + (size_t)(hex - w->s) + i, "'%c' is not a hex digit", hex[i]);
        if (strcmp(hex, "0") == 0) return true;
        /* Little-endian bytes from the last digit pair back. */
        for (size_t end = nd; end > 0; end = end >= 2 ? end - 2 : 0) {
            int lo = hexval(hex[end - 1]);
            int hi = end >= 2 ? hexval(hex[end - 2]) : 0;
            if (!scratch_u8(k, (uint8_t)(hi << 4 | lo))) return false;
            if (end < 2) break;
        }
        return true;
    }
    uint64_t v;
    if (!parse_u64(s, &v))
        return perr(k, w->col, "BIGINT takes [-]0xHEX or a decimal up to 18446744073709551615, not '%s'", w->s);
    for (; v; v >>= 8)
        if (!scratch_u8(k, (uint8_t)v)) return false;
    return true;
}

/* Packs an ext line; *children is what it expects, counted as the dumper counts. */
static bool
pack_ext_line(packer *k, word *w, size_t n, size_t depth, uint64_t *children, const char **what)
{
    const char *name = w[0].s;
    size_t col = w[0].col;
    w[0].used = true;
    k->scratch_len = 0;
    int8_t type = -1;
    uint64_t v, v2, v3;
    const char *sv;
    *children = 0;
    *what = "ext";
    if (strcmp(name, "UNDEFINED") == 0) {
        type = MPI_EXT_UNDEFINED;
    } else if (strcmp(name, "HOLE") == 0) {
        type = MPI_EXT_HOLE;
    } else if (strcmp(name, "BOXED") == 0) {
        type = MPI_EXT_BOXED;
        *children = 1;
        *what = "BOXED";
    } else if (strcmp(name, "STRING16") == 0) {
        type = MPI_EXT_STRING16;
        if (n < 2 || w[1].s[0] != '"') return perr(k, col, "STRING16 needs a quoted string");
        w[1].used = true;
        if (!parse_string(k, &w[1], true)) return false;
    } else if (strcmp(name, "BIGINT") == 0) {
        type = MPI_EXT_BIGINT;
        if (n < 2) return perr(k, col, "BIGINT needs a value: [-]0xHEX or a decimal");
        w[1].used = true;
        if (!pack_bigint(k, &w[1])) return false;
    } else if (strcmp(name, "DATE") == 0) {
        type = MPI_EXT_DATE;
        if (n < 2) return perr(k, col, "DATE needs a time value in ms (a number, NaN for an invalid date)");
        w[1].used = true;
        /* A double as floats are written (NaN, NaN(0xBITS), Infinity, digits). */
        const char *s = w[1].s;
        double d;
        if (strcmp(s, "NaN") == 0) {
            d = NAN;
        } else if (strncmp(s, "NaN(0x", 6) == 0) {
            char *endp;
            uint64_t bits = strtoull(s + 4, &endp, 16);
            memcpy(&d, &bits, 8);
            if (strcmp(endp, ")") != 0 || !isnan(d)) return perr(k, w[1].col, "NaN(0x...) takes a NaN's bits in hex");
        } else if (strcmp(s, "Infinity") == 0 || strcmp(s, "-Infinity") == 0) {
            d = s[0] == '-' ? -INFINITY : INFINITY;
        } else {
            char *endp;
            d = strtod(s, &endp);
            if (*endp || endp == s || !((s[0] >= '0' && s[0] <= '9') || s[0] == '-'))
                return perr(k, w[1].col, "'%s' is not a time value", s);
        }
        uint64_t bits;
        memcpy(&bits, &d, 8);
        if (!scratch_le(k, bits, 8)) return false;
    } else if (strcmp(name, "REGEXP") == 0) {
        type = MPI_EXT_REGEXP;
        *children = 1;
        *what = "REGEXP";
        word *at = find_kv(w, n, "flags", &sv);
        if (!at) return perr(k, col, "REGEXP needs flags= (letters of \"dgimsuyv\", may be empty)");
        uint8_t fl = 0;
        for (const char *c = sv; *c; c++) {
            const char *pos = strchr(regexp_flag_letters, *c);
            if (!pos) return perr(k, at->col + 6 + (size_t)(c - sv), "'%c' is not a RegExp flag (dgimsuyv)", *c);
            fl |= (uint8_t)(1u << (pos - regexp_flag_letters));
        }
        if (!scratch_u8(k, fl)) return false;
    } else if (strcmp(name, "ARRAY") == 0) {
        type = MPI_EXT_ARRAY;
        *what = "ARRAY";
        uint64_t form;
        if (!need_u64(k, w, n, col, "form", 1, &form) || !need_u64(k, w, n, col, "length", UINT32_MAX, &v))
            return false;
        if (form == 0) {
            if (!need_u64(k, w, n, col, "named", UINT32_MAX, &v3)) return false;
            if (!scratch_u8(k, 0) || !scratch_le(k, v, 4) || !scratch_le(k, v3, 4)) return false;
            *children = v + 2 * v3;
        } else {
            if (!need_u64(k, w, n, col, "elements", UINT32_MAX, &v2) ||
                !need_u64(k, w, n, col, "named", UINT32_MAX, &v3))
                return false;
            if (!scratch_u8(k, 1) || !scratch_le(k, v, 4) || !scratch_le(k, v2, 4) || !scratch_le(k, v3, 4))
                return false;
            *children = 2 * v2 + 2 * v3;
        }
    } else if (strcmp(name, "MAP") == 0 || strcmp(name, "SET") == 0) {
        bool is_map = name[0] == 'M';
        type = is_map ? MPI_EXT_MAP : MPI_EXT_SET;
        *what = is_map ? "MAP" : "SET";
        if (!need_u64(k, w, n, col, "count", UINT32_MAX, &v) || !scratch_le(k, v, 4)) return false;
        *children = is_map ? 2 * v : v;
    } else if (strcmp(name, "ERROR") == 0) {
        type = MPI_EXT_ERROR;
        *what = "ERROR";
        if (n < 2) return perr(k, col, "ERROR needs its type: Error, EvalError, RangeError, ... URIError");
        size_t et = 0;
        while (et < ERROR_TYPES && strcmp(w[1].s, error_names[et]) != 0)
            et++;
        if (et == ERROR_TYPES) return perr(k, w[1].col, "'%s' is not an error type (Error ... URIError)", w[1].s);
        w[1].used = true;
        uint8_t fl = 0;
        for (int i = 0; i < 3; i++) {
            if (find_flag(w, n, error_fields[i])) {
                fl |= (uint8_t)(1u << i);
                (*children)++;
            }
        }
        if (!scratch_u8(k, (uint8_t)et) || !scratch_u8(k, fl)) return false;
    } else if (strcmp(name, "ARRAYBUFFER") == 0) {
        type = MPI_EXT_ARRAYBUFFER;
        bool resizable = find_flag(w, n, "resizable");
        if (!scratch_u8(k, resizable)) return false;
        if (resizable) {
            if (!need_u64(k, w, n, col, "max", UINT64_MAX, &v) || !scratch_le(k, v, 8)) return false;
        }
        word *at = find_kv(w, n, "bytes", &sv);
        if (!at) return perr(k, col, "ARRAYBUFFER needs bytes= (hex, may be empty)");
        if (!parse_hex(k, sv, at->col + 6)) return false;
        shape_buffer_placed(&k->sh, depth);
    } else if (strcmp(name, "VIEW") == 0) {
        type = MPI_EXT_VIEW;
        if (n < 2) return perr(k, col, "VIEW needs its type: Int8Array ... BigUint64Array or DataView");
        size_t vt = 0;
        while (vt < VIEW_TYPES && strcmp(w[1].s, view_names[vt]) != 0)
            vt++;
        if (vt == VIEW_TYPES) return perr(k, w[1].col, "'%s' is not a view type (Int8Array ... DataView)", w[1].s);
        w[1].used = true;
        bool tracking = find_flag(w, n, "tracking");
        if (!need_u64(k, w, n, col, "offset", UINT64_MAX, &v) || !need_u64(k, w, n, col, "length", UINT64_MAX, &v2))
            return false;
        if (!scratch_u8(k, (uint8_t)vt) || !scratch_u8(k, tracking) || !scratch_le(k, v, 8) || !scratch_le(k, v2, 8))
            return false;
    } else if (strcmp(name, "MOVED") == 0 || strcmp(name, "SAB") == 0) {
        type = name[0] == 'M' ? MPI_EXT_MOVED : MPI_EXT_SAB;
        if (!find_flag(w, n, "store")) return perr(k, col, "write %s store #N", name);
        if (!need_index(k, w, n, col, &v) || !put_index(k, w, n, v)) return false;
        shape_buffer_placed(&k->sh, depth);
    } else if (strcmp(name, "PORT") == 0) {
        type = MPI_EXT_PORT;
        if (!need_index(k, w, n, col, &v) || !put_index(k, w, n, v)) return false;
    } else if (strcmp(name, "HOST") == 0) {
        type = MPI_EXT_HOST;
        if (!need_u64(k, w, n, col, "tag", UINT32_MAX, &v)) return false;
        if (!find_flag(w, n, "payload")) return perr(k, col, "write HOST tag=N payload #N");
        if (!need_index(k, w, n, col, &v2)) return false;
        if (!scratch_le(k, v, 4) || !scratch_le(k, v2, 4)) return false;
    } else if (strcmp(name, "BACKREF") == 0) {
        type = MPI_EXT_BACKREF;
        if (!need_u64(k, w, n, col, "id", UINT32_MAX, &v) || !put_index(k, w, n, v)) return false;
        shape_buffer_placed(&k->sh, depth);
    } else if (strcmp(name, "EXT") == 0) {
        const char *ts;
        word *at = find_kv(w, n, "type", &ts);
        char *endp;
        long t = at ? strtol(ts, &endp, 10) : 0;
        if (!at || !*ts || *endp || t < -128 || t > 127) return perr(k, col, "EXT needs type= (-128 .. 127)");
        type = (int8_t)t;
        at = find_kv(w, n, "data", &sv);
        if (!at) return perr(k, col, "EXT needs data= (hex, may be empty)");
        if (!parse_hex(k, sv, at->col + 5)) return false;
    } else {
        return perr(k, col, "unknown token '%s'", name);
    }
    for (size_t i = 1; i < n; i++)
        if (!w[i].used) return perr(k, w[i].col, "unexpected '%s' after %s", w[i].s, name);
    return pack_ext_scratch(k, type);
}

/* Splits the token part of a line into words; a quoted string is one word. */
static bool
split_words(packer *k, char *s, size_t col0, word *w, size_t *n)
{
    *n = 0;
    size_t i = 0;
    while (s[i]) {
        if (s[i] == ' ' || s[i] == '\t') {
            i++;
            continue;
        }
        if (*n == MAX_WORDS) return perr(k, col0 + i, "too many words on one line (one token per line)");
        w[*n] = (word){s + i, col0 + i, false};
        if (s[i] == '"') {
            size_t j = i + 1;
            while (s[j] && s[j] != '"')
                j += s[j] == '\\' && s[j + 1] ? 2 : 1;
            if (!s[j]) return perr(k, col0 + i, "unterminated string");
            i = j + 1;
            if (s[i] && s[i] != ' ' && s[i] != '\t')
                return perr(k, col0 + i, "a space or the end of the line must follow a string");
        } else {
            while (s[i] && s[i] != ' ' && s[i] != '\t')
                i++;
        }
        (*n)++;
        if (s[i]) s[i++] = '\0';
    }
    return true;
}

/* Packs one line (a mutable copy, without its newline). */
static bool
pack_line(packer *k, char *s, size_t len)
{
    if (len && s[len - 1] == '\r') s[--len] = '\0';
    size_t col0 = 1; /* column of s[0] */
    /* The offset column "   17 | " (or "     | " on an added line): ignored. */
    size_t i = 0;
    while (s[i] == ' ')
        i++;
    while (s[i] >= '0' && s[i] <= '9')
        i++;
    while (s[i] == ' ')
        i++;
    if (s[i] == '|') {
        i++;
        if (s[i] == ' ') i++;
        s += i;
        col0 += i;
        len -= i;
    }
    /* A comment starts at a '#' outside a string, after a space or at the
     * start, unless a digit follows (#0 is a side-table index). */
    bool in_str = false;
    for (i = 0; i < len; i++) {
        if (in_str) {
            if (s[i] == '\\' && i + 1 < len)
                i++;
            else if (s[i] == '"')
                in_str = false;
        } else if (s[i] == '"') {
            in_str = true;
        } else if (s[i] == '#' && (i == 0 || s[i - 1] == ' ' || s[i - 1] == '\t') &&
                   !(s[i + 1] >= '0' && s[i + 1] <= '9')) {
            s[i] = '\0';
            len = i;
            break;
        }
    }
    size_t indent = 0;
    while (s[indent] == ' ')
        indent++;
    size_t rest = indent;
    while (s[rest] == ' ' || s[rest] == '\t')
        rest++;
    if (!s[rest]) return true; /* blank or comment only */
    if (rest != indent) return perr(k, col0 + indent, "indent with spaces (two per level), not tabs");
    if (indent % 2) return perr(k, col0 + indent, "indentation of %zu spaces: two per level", indent);

    word w[MAX_WORDS];
    size_t n;
    if (!split_words(k, s + rest, col0 + rest, w, &n)) return false;
    const char *name = w[0].s;
    bool is_view = strcmp(name, "VIEW") == 0;
    bool joins_buffer;
    size_t depth = shape_place(&k->sh, is_view, &joins_buffer);
    if (indent / 2 != (depth < MAX_INDENT ? depth : MAX_INDENT)) {
        const frame *open = k->sh.len ? &k->sh.v[k->sh.len - 1] : NULL;
        if (depth && open)
            return perr(k, col0 + indent,
                        "indented to level %zu, but the counts above put this token at level %zu, inside the %s of "
                        "line %zu",
                        indent / 2, depth, open->what, open->where);
        return perr(k, col0 + indent,
                    "indented to level %zu, but the counts above put this token at the top level (level 0)",
                    indent / 2);
    }
    uint64_t children = 0;
    const char *what = "token";
    bool ok = true;
    if (strcmp(name, "nil") == 0 || strcmp(name, "true") == 0 || strcmp(name, "false") == 0) {
        ok = pack_ok(k, name[0] == 'n'   ? msgpack_pack_nil(&k->pk)
                        : name[0] == 't' ? msgpack_pack_true(&k->pk)
                                         : msgpack_pack_false(&k->pk));
        w[0].used = true;
    } else if (strcmp(name, "version") == 0) {
        uint64_t version;
        if (n < 2 || !parse_u64(w[1].s, &version))
            return perr(k, w[0].col, "version needs an unsigned integer (this format is version 1)");
        ok = pack_ok(k, msgpack_pack_uint64(&k->pk, version));
        w[0].used = w[1].used = true;
    } else if (strcmp(name, "float32") == 0) {
        if (n < 2) return perr(k, w[0].col, "float32 needs a number");
        ok = pack_number(k, &w[1], true);
        w[0].used = w[1].used = true;
    } else if (name[0] == '"') {
        k->scratch_len = 0;
        ok = parse_string(k, &w[0], false);
        if (ok && k->scratch_len > UINT32_MAX) ok = perr(k, w[0].col, "string above 4 GiB - 1 bytes");
        ok = ok && pack_ok(k, msgpack_pack_str(&k->pk, k->scratch_len)) &&
             pack_ok(k, msgpack_pack_str_body(&k->pk, k->scratch, k->scratch_len));
        w[0].used = true;
    } else if (strcmp(name, "bin") == 0) {
        k->scratch_len = 0;
        w[0].used = true;
        if (n >= 2) {
            w[1].used = true;
            ok = parse_hex(k, w[1].s, w[1].col);
        }
        ok = ok && pack_ok(k, msgpack_pack_bin(&k->pk, k->scratch_len)) &&
             pack_ok(k, msgpack_pack_bin_body(&k->pk, k->scratch, k->scratch_len));
        shape_buffer_placed(&k->sh, depth);
    } else if (strcmp(name, "array") == 0 || strcmp(name, "map") == 0) {
        bool is_map = name[0] == 'm';
        uint64_t count;
        if (n < 2 || !parse_u64(w[1].s, &count) || count > UINT32_MAX)
            return perr(k, w[0].col, "%s needs its count (0 .. 4294967295)", name);
        ok = pack_ok(k, is_map ? msgpack_pack_map(&k->pk, (size_t)count) : msgpack_pack_array(&k->pk, (size_t)count));
        children = is_map ? 2 * count : count;
        what = is_map ? "map" : "array";
        w[0].used = w[1].used = true;
    } else if ((name[0] >= '0' && name[0] <= '9') || name[0] == '-' || strncmp(name, "NaN", 3) == 0 ||
               strcmp(name, "Infinity") == 0) {
        ok = pack_number(k, &w[0], false);
        w[0].used = true;
    } else if (name[0] >= 'A' && name[0] <= 'Z') {
        ok = pack_ext_line(k, w, n, depth, &children, &what);
    } else {
        return perr(k, w[0].col, "unknown token '%s'", name);
    }
    if (!ok) return false;
    for (size_t j = 0; j < n; j++)
        if (!w[j].used) return perr(k, w[j].col, "unexpected '%s' (one token per line)", w[j].s);
    if (!shape_open(&k->sh, children, k->line, what)) return oom(k);
    return true;
}

int
mpd_pack(const char *text, size_t len, uint8_t **out, size_t *out_len, mpd_pack_result *res)
{
    memset(res, 0, sizeof *res);
    packer k;
    memset(&k, 0, sizeof k);
    k.res = res;
    msgpack_sbuffer_init(&k.sb);
    msgpack_packer_init(&k.pk, &k.sb, msgpack_sbuffer_write);
    char *line = NULL;
    size_t line_cap = 0;
    for (size_t pos = 0; pos < len && !k.failed;) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;
        k.line++;
        if (memchr(text + pos, '\0', n)) {
            perr(&k, 1, "NUL byte in the text");
            break;
        }
        if (n + 1 > line_cap) {
            char *l = realloc(line, n + 1);
            if (!l) {
                oom(&k);
                break;
            }
            line = l;
            line_cap = n + 1;
        }
        memcpy(line, text + pos, n);
        line[n] = '\0';
        pack_line(&k, line, n);
        pos += n + 1;
    }
    free(line);
    free(k.scratch);
    if (!k.failed) {
        const frame *open = shape_unfinished(&k.sh);
        if (open) {
            res->warnings++;
            snprintf(res->warning, sizeof res->warning,
                     "the text ends inside the %s of line %zu: %" PRIu64 " more value%s expected (written as is)",
                     open->what, open->where, open->left, open->left == 1 ? "" : "s");
        } else if (k.sh.top < 2) {
            res->warnings++;
            snprintf(res->warning, sizeof res->warning, "the text holds %s: a message is a version and a root value",
                     k.sh.top ? "only one top-level token" : "no tokens");
        }
    }
    free(k.sh.v);
    if (k.failed) {
        msgpack_sbuffer_destroy(&k.sb);
        return -1;
    }
    *out = (uint8_t *)k.sb.data;
    *out_len = k.sb.size;
    return 0;
}

uint8_t *
mpd_read_all(FILE *f, size_t *len)
{
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = malloc(cap);
    if (!buf) return NULL;
    for (;;) {
        if (n == cap) {
            uint8_t *b = cap <= SIZE_MAX / 2 ? realloc(buf, cap * 2) : NULL;
            if (!b) {
                free(buf);
                errno = ENOMEM;
                return NULL;
            }
            buf = b;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) break;
    }
    if (ferror(f)) {
        int e = errno;
        free(buf);
        errno = e ? e : EIO;
        return NULL;
    }
    *len = n;
    return buf;
}
