/* The deserializer: msgpack bytes + side tables -> a value graph.
 *
 * msgport's own pull reader of msgpack tokens, total on any input: every
 * declared length or count is checked against the bytes left before
 * anything is allocated for it, nesting lives on an explicit stack bounded
 * by limits.max_depth, and every failure carries the byte offset. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>

#include "codec_internal.h"
#include "token.h"

/* ---- decoder state ---------------------------------------------------------------- */

enum { DF_ARRAY, DF_ARRAY_DENSE, DF_ARRAY_SPARSE, DF_OBJECT, DF_MAP, DF_SET, DF_ERROR };

typedef struct dframe {
    mpi_cell *cell;
    mp_value pending; /* maps: the key read */
    uint32_t i;       /* children read */
    uint32_t n;       /* elements / entries / pairs */
    uint32_t np;      /* arrays: named properties after the elements */
    uint32_t last;    /* sparse arrays: next index must be >= this */
    uint8_t kind;
    uint8_t phase;      /* arrays: 0 elements, 1 props; maps: 0 key, 1 value;
                         * objects: 1 once keys came out of order (read_object_prop) */
    uint8_t shape;      /* objects: 1 + the shape its keys have matched so far, or 0 */
    uint32_t shape_gen; /* that shape's generation when the object began */
} dframe;

/* Shapes: the key lists of objects decoded into the realm, by key count.
 * Objects of one kind repeat their keys in one order, message after
 * message, so an object's next key is first compared with the same
 * position of the last recorded object of its size: on a match the
 * shape's key is reused without a lookup, and without the duplicate-key
 * scan (the shape's keys are distinct and not array indices, and the keys
 * before it matched the shape's one for one). Any difference sends the
 * rest of that object through the general path, and so does a new shape
 * recorded for its size meanwhile (by a nested object: the generation
 * changes), since the keys already read came from the old one. Shapes are
 * kept in the realm (mpi_codec_realm) across decodes; their keys are the
 * realm's atoms, which live as long as the realm. */
#define SHAPES 16
#define SHAPE_MAX_KEYS 16
typedef struct dshape_key {
    mpi_string *key; /* an atom: narrow ASCII, at most MPI_ATOM_MAX_LEN bytes */
    uint64_t a, b;   /* mpi_short_words of its bytes (exact at that length) */
    /* Keys of up to 7 bytes: the fixstr (header and bytes) as the first
     * bytes of a word, and the mask of those bytes, so that one load of
     * the next 8 input bytes matches it. */
    uint64_t word, mask;
    uint32_t len;
} dshape_key;
struct mpi_dshapes {
    uint8_t n[SHAPES];    /* keys in shape i: 0 (none) or a count with i = count % SHAPES */
    uint32_t gen[SHAPES]; /* bumped whenever shape i is rewritten */
    uint32_t seen;        /* bit i: an object of a size i was completed (shapes are
                           * recorded from the second on: a lone object costs nothing) */
    dshape_key keys[SHAPES][SHAPE_MAX_KEYS]; /* valid up to n[i] keys */
};
_Static_assert(MPI_ATOM_MAX_LEN <= MPI_SHORT_EXACT, "an atom's short words are its bytes");
/* What a realm's decoder reads until it records its first shape. */
static const struct mpi_dshapes no_shapes;

void
mpi_dshapes_free(mp_realm *r, struct mpi_dshapes *shapes)
{
    if (!shapes) return;
    mpi_free(&r->alc, shapes);
    r->reserved -= sizeof *shapes;
}

typedef struct dec {
    const uint8_t *start, *p, *end;
    mp_realm *realm;
    mp_message *msg;
    mp_decode_limits lim;
    mp_error_info *err;
    mp_status fail;
    mpi_stk ids;                /* mp_value per object id */
    mpi_stk stack;              /* dframe */
    mpi_vec units;              /* uint16_t work space (UTF-16 strings) */
    mpi_vec words;              /* uint64_t work space (BigInts) */
    uint8_t *used;              /* per moved store / host payload: already referenced */
    size_t reserved;            /* bytes resizable ArrayBuffers reserved beyond what they carry */
    const struct mpi_dshapes *shapes; /* the realm's, or no_shapes */
    mp_value ids_inline[32];
    dframe stack_inline[16];
} dec;

static mp_status dfail(dec *d, mp_status code, size_t at, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
static mp_status
dfail(dec *d, mp_status code, size_t at, const char *fmt, ...)
{
    if (d->fail != MP_OK) return d->fail;
    d->fail = code;
    if (d->err) {
        char detail[sizeof d->err->detail];
        detail[0] = '\0';
        if (fmt) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(detail, sizeof detail, fmt, ap);
            va_end(ap);
        }
        mpi_fail(d->err, code, at, NULL, "%s", detail);
    }
    return code;
}

#define OFF(d, ptr) ((size_t)((ptr) - (d)->start))
#define NOMEM(d, at) dfail((d), MP_ENOMEM, (at), "out of memory")

/* Reads the next token, recording an error with its offset on failure. */
static inline bool
next_tok(dec *d, mpi_tok *t)
{
    t->at = OFF(d, d->p);
    mpi_tok_error e = mpi_tok_next(&d->p, d->end, t);
    if (MPI_LIKELY(e == MPI_TOKE_OK)) return true;
    char why[96];
    mpi_tok_explain(e, d->p, d->end, why, sizeof why);
    dfail(d, MP_EDECODE, t->at, "%s", why);
    return false;
}

/* ---- building values ------------------------------------------------------------- */

static bool
add_id(dec *d, mp_value v, size_t at)
{
    if (d->ids.len >= d->lim.max_objects) {
        dfail(d, MP_ELIMIT, at, "max_objects (%zu) exceeded", d->lim.max_objects);
        return false;
    }
    mp_value *slot = mpi_stk_push(&d->ids);
    if (!slot) {
        NOMEM(d, at);
        return false;
    }
    *slot = v;
    return true;
}

static bool
push_frame(dec *d, mpi_cell *c, uint8_t kind, uint32_t n, uint32_t np, size_t at)
{
    if (d->stack.len >= d->lim.max_depth) {
        dfail(d, MP_ELIMIT, at, "max_depth (%zu) exceeded", d->lim.max_depth);
        return false;
    }
    dframe *f = mpi_stk_push(&d->stack);
    if (!f) {
        NOMEM(d, at);
        return false;
    }
    memset(f, 0, sizeof *f);
    f->cell = c;
    f->kind = kind;
    f->n = n;
    f->np = np;
    return true;
}

static bool
str_limit(dec *d, const mpi_tok *t)
{
    if (t->n > d->lim.max_string_length) {
        dfail(d, MP_ELIMIT, t->at, "max_string_length (%zu) exceeded by a string of %u bytes", d->lim.max_string_length,
              (unsigned)t->n);
        return false;
    }
    return true;
}

static bool make_utf8_string_slow(dec *d, const uint8_t *s, uint32_t n, size_t at, mpi_string **out);

/* A string from the UTF-8 payload of a str token at offset `at` (through
 * make_short_string: atoms are looked up there). */
static bool make_utf8_string(dec *d, const uint8_t *s, uint32_t n, size_t at, mpi_string **out)
    MPI_NOINLINE;

/* make_utf8_string, with the case of most keys and words inline: a short
 * ASCII string that is already one of the realm's atoms. The words that
 * cover the bytes give both the ASCII test and the lookup. */
static inline MPI_ALWAYS_INLINE bool
make_short_string(dec *d, const uint8_t *s, uint32_t n, size_t at, mpi_string **out)
{
    if (n <= MPI_ATOM_MAX_LEN && n <= d->lim.max_string_length) {
        uint64_t a, b;
        mpi_short_words(s, n, &a, &b);
        if (!((a | b) & 0x8080808080808080ull)) {
            mpi_string *atom = mpi_string_atom_words(d->realm, s, n, a, b);
            if (MPI_LIKELY(atom != NULL)) {
                *out = atom;
                return true;
            }
        }
    }
    return make_utf8_string(d, s, n, at, out);
}

static bool
make_utf8_string(dec *d, const uint8_t *s, uint32_t n, size_t at, mpi_string **out)
{
    if (MPI_UNLIKELY(n > d->lim.max_string_length)) {
        dfail(d, MP_ELIMIT, at, "max_string_length (%zu) exceeded by a string of %u bytes", d->lim.max_string_length,
              (unsigned)n);
        return false;
    }
    /* ASCII test, eight bytes at a time; the tail is a last load that
     * overlaps the one before (short strings: loads that cover them). */
    uint64_t acc = 0;
    if (n >= 8) {
        uint64_t w;
        for (uint32_t i = 0; i + 8 <= n; i += 8) {
            memcpy(&w, s + i, 8);
            acc |= w;
        }
        memcpy(&w, s + n - 8, 8);
        acc |= w;
    } else if (n >= 4) {
        uint32_t x, y;
        memcpy(&x, s, 4);
        memcpy(&y, s + n - 4, 4);
        acc = x | y;
    } else if (n > 0) {
        acc = s[0] | s[n / 2] | s[n - 1];
    }
    if (MPI_LIKELY(!(acc & 0x8080808080808080ull))) {
        /* ASCII and not an atom (longer, or the realm's table is full):
         * the bytes are the units, made in one copy without a second scan.
         * (A cache of such strings per decode cost more than it saved:
         * repeated keys come through shapes, short words are atoms.) */
        mpi_string *str = mpi_string_new_ascii(d->realm, s, n);
        if (!str) {
            NOMEM(d, at);
            return false;
        }
        *out = str;
        return true;
    }
    return make_utf8_string_slow(d, s, n, at, out);
}

/* The non-ASCII case, out of line so that the common path above stays
 * small (fewer registers to save per string). */
static MPI_NOINLINE bool
make_utf8_string_slow(dec *d, const uint8_t *s, uint32_t n, size_t at, mpi_string **out)
{
    mp_value v;
    mp_status st = mp_string_from_utf8(d->realm, (const char *)s, n, &v);
    if (st == MP_EINVAL) {
        dfail(d, MP_EDECODE, at, "str is not valid UTF-8 (lone surrogates travel as ext %d)", MPI_EXT_STRING16);
        return false;
    }
    if (st != MP_OK) {
        dfail(d, st == MP_ENOMEM ? MP_ENOMEM : MP_EDECODE, at, "string could not be made (%s)", mp_strerror(st));
        return false;
    }
    *out = v.u_.cell_;
    return true;
}

/* A string from a str token (UTF-8) or a STRING16 ext token. */
static bool
make_string(dec *d, const mpi_tok *t, mpi_string **out)
{
    if (t->t == MPI_TOK_STR) return make_short_string(d, t->data, t->n, t->at, out);
    if (!str_limit(d, t)) return false;
    mp_value v;
    mp_status st;
    if (t->n & 1) {
        dfail(d, MP_EDECODE, t->at, "UTF-16 string payload has an odd length (%u)", (unsigned)t->n);
        return false;
    }
    size_t units = t->n / 2;
    d->units.len = 0;
    for (size_t i = 0; i < units; i++) {
        uint16_t *u = mpi_vec_push(&d->units);
        if (!u) {
            NOMEM(d, t->at);
            return false;
        }
        *u = (uint16_t)(t->data[2 * i] | (t->data[2 * i + 1] << 8));
    }
    st = mp_string_from_utf16(d->realm, units ? (const uint16_t *)d->units.data : NULL, units, &v);
    if (st != MP_OK) {
        dfail(d, st == MP_ENOMEM ? MP_ENOMEM : MP_EDECODE, t->at, "string could not be made (%s)", mp_strerror(st));
        return false;
    }
    *out = v.u_.cell_;
    return true;
}

static inline bool
is_string_tok(const mpi_tok *t)
{
    return t->t == MPI_TOK_STR || (t->t == MPI_TOK_EXT && t->ext == MPI_EXT_STRING16);
}

/* Reads a token that must be a string (inline: every property key). */
static inline MPI_ALWAYS_INLINE bool
read_string(dec *d, mpi_string **out, const char *what)
{
    /* Fast path: a fixstr (every key up to 31 bytes) whose bytes are all
     * there; anything else goes through next_tok and its checks. */
    const uint8_t *p = d->p;
    if (MPI_LIKELY(p < d->end && (*p & 0xe0) == 0xa0)) {
        uint32_t n = *p & 0x1f;
        if (MPI_LIKELY(n < (size_t)(d->end - p))) {
            d->p = p + 1 + n;
            return make_short_string(d, p + 1, n, OFF(d, p), out);
        }
    }
    mpi_tok t;
    if (!next_tok(d, &t)) return false;
    if (!is_string_tok(&t)) {
        dfail(d, MP_EDECODE, t.at, "%s must be a string", what);
        return false;
    }
    return make_string(d, &t, out);
}

static bool
make_bigint(dec *d, const mpi_tok *t, mp_value *out)
{
    if (t->n < 1) {
        dfail(d, MP_EDECODE, t->at, "BigInt payload is empty");
        return false;
    }
    uint8_t sign = t->data[0];
    if (sign > 1) {
        dfail(d, MP_EDECODE, t->at, "BigInt sign byte must be 0 or 1");
        return false;
    }
    size_t nbytes = t->n - 1u;
    size_t words = (nbytes + 7) / 8;
    d->words.len = 0;
    for (size_t w = 0; w < words; w++) {
        uint64_t *slot = mpi_vec_push(&d->words);
        if (!slot) {
            NOMEM(d, t->at);
            return false;
        }
        uint64_t x = 0;
        for (size_t k = 0; k < 8 && w * 8 + k < nbytes; k++)
            x |= (uint64_t)t->data[1 + w * 8 + k] << (8 * k);
        *slot = x;
    }
    mp_status st =
        mp_bigint_from_words(d->realm, sign == 1, words ? (const uint64_t *)d->words.data : NULL, words, out);
    if (st != MP_OK) {
        dfail(d, st == MP_ENOMEM ? MP_ENOMEM : MP_EDECODE, t->at, "BigInt could not be made (%s)", mp_strerror(st));
        return false;
    }
    return true;
}

static double
tok_number(const mpi_tok *t)
{
    if (t->t == MPI_TOK_UINT) return (double)t->u;
    if (t->t == MPI_TOK_INT) return (double)t->i;
    return t->d;
}

/* The primitives a token can be that a boxed object may also wrap:
 * booleans, numbers, strings and BigInts (no ids). 1: *out made; 0: the
 * token is something else; -1: failed (error recorded). */
static inline int
read_primitive(dec *d, const mpi_tok *t, mp_value *out)
{
    mpi_string *s;
    switch (t->t) {
    case MPI_TOK_BOOL:
        *out = mpi_value_simple(MP_BOOLEAN, t->b);
        return 1;
    case MPI_TOK_UINT:
    case MPI_TOK_INT:
    case MPI_TOK_FLOAT:
        *out = mpi_value_number(tok_number(t));
        return 1;
    case MPI_TOK_STR:
        if (!make_string(d, t, &s)) return -1;
        *out = mpi_value_cell(MP_STRING, s);
        return 1;
    case MPI_TOK_EXT:
        if (t->ext == MPI_EXT_STRING16) {
            if (!make_string(d, t, &s)) return -1;
            *out = mpi_value_cell(MP_STRING, s);
            return 1;
        }
        if (t->ext == MPI_EXT_BIGINT) return make_bigint(d, t, out) ? 1 : -1;
        return 0;
    default:
        return 0;
    }
}

/* A primitive that a boxed object wraps: one token, no ids. */
static bool
read_boxed_primitive(dec *d, mp_value *out)
{
    mpi_tok t;
    if (!next_tok(d, &t)) return false;
    int made = read_primitive(d, &t, out);
    if (made) return made > 0;
    dfail(d, MP_EDECODE, t.at, "a boxed primitive must wrap a boolean, number, string or BigInt");
    return false;
}

/* Is the next token a VIEW ext? (Does not consume it.) */
static bool
peek_view(const dec *d)
{
    const uint8_t *p = d->p;
    size_t left = (size_t)(d->end - p);
    if (left < 2) return false;
    switch (p[0]) {
    case 0xd4:
    case 0xd5:
    case 0xd6:
    case 0xd7:
    case 0xd8:
        return (int8_t)p[1] == MPI_EXT_VIEW;
    case 0xc7:
        return left >= 3 && (int8_t)p[2] == MPI_EXT_VIEW;
    case 0xc8:
        return left >= 4 && (int8_t)p[3] == MPI_EXT_VIEW;
    case 0xc9:
        return left >= 6 && (int8_t)p[5] == MPI_EXT_VIEW;
    default:
        return false;
    }
}

/* A buffer value was just produced: if a VIEW follows, it wraps it. */
static bool
maybe_view(dec *d, mp_value *v)
{
    if (!peek_view(d)) return true;
    mpi_tok t;
    if (!next_tok(d, &t)) return false;
    if (t.n != 18) {
        dfail(d, MP_EDECODE, t.at, "view payload must be 18 bytes, not %u", (unsigned)t.n);
        return false;
    }
    uint8_t type = t.data[0], flags = t.data[1];
    uint64_t off = mpi_le64(t.data + 2), len = mpi_le64(t.data + 10);
    if (type > MPI_VIEW_DATAVIEW || (flags & ~MPI_VIEWF_TRACKING)) {
        dfail(d, MP_EDECODE, t.at, "bad view type %u or flags 0x%x", (unsigned)type, (unsigned)flags);
        return false;
    }
    bool tracking = (flags & MPI_VIEWF_TRACKING) != 0;
    mpi_cell *b = v->u_.cell_;
    bool elastic = b->kind == MP_ARRAYBUFFER ? (b->flags & MPI_AB_RESIZABLE) != 0
                                             : (((mpi_sab *)b)->store->flags & MPI_STORE_GROWABLE) != 0;
    if (tracking && (len != 0 || !elastic)) {
        dfail(d, MP_EDECODE, t.at, "length-tracking view needs a resizable buffer and length 0");
        return false;
    }
    /* MP_LENGTH_AUTO is SIZE_MAX: a fixed length must stay below it. */
    if (off > SIZE_MAX || len >= (uint64_t)MP_LENGTH_AUTO) {
        dfail(d, MP_EDECODE, t.at, "view offset or length out of range");
        return false;
    }
    mp_value out;
    mp_status st;
    size_t length = tracking ? MP_LENGTH_AUTO : (size_t)len;
    if (type == MPI_VIEW_DATAVIEW)
        st = mp_dataview_new(*v, (size_t)off, length, &out);
    else
        st = mp_typedarray_new((mp_view_type)type, *v, (size_t)off, length, &out);
    if (st != MP_OK) {
        if (st == MP_ENOMEM) return NOMEM(d, t.at), false;
        dfail(d, MP_EDECODE, t.at, "view (type %u, offset %llu, length %llu) does not fit its buffer (%s)",
              (unsigned)type, (unsigned long long)off, (unsigned long long)len, mp_strerror(st));
        return false;
    }
    if (!add_id(d, out, t.at)) return false;
    *v = out;
    return true;
}

static bool
ext_uint(dec *d, const mpi_tok *t, uint32_t *out)
{
    switch (t->n) {
    case 1:
        *out = t->data[0];
        return true;
    case 2:
        *out = (uint32_t)(t->data[0] | (t->data[1] << 8));
        return true;
    case 4:
        *out = mpi_le32(t->data);
        return true;
    default:
        dfail(d, MP_EDECODE, t->at, "ext %d payload must be 1, 2 or 4 bytes", t->ext);
        return false;
    }
}

static bool
copy_arraybuffer(dec *d, const mpi_tok *t, const uint8_t *data, size_t len, bool resizable, uint64_t max, mp_value *out)
{
    if (len > d->lim.max_buffer_length || (resizable && max > d->lim.max_buffer_length)) {
        dfail(d, MP_ELIMIT, t->at, "max_buffer_length (%zu) exceeded", d->lim.max_buffer_length);
        return false;
    }
    if (resizable && (max < len || max > SIZE_MAX)) {
        dfail(d, MP_EDECODE, t->at, "resizable ArrayBuffer max length below its length");
        return false;
    }
    /* max_reserve is one budget for the whole message: the only memory
     * the input does not pay for. */
    if (resizable && max - len > d->lim.max_reserve - d->reserved) {
        dfail(d, MP_ELIMIT, t->at,
              "max_reserve (%zu) exceeded by a resizable ArrayBuffer reserving %llu bytes (%zu reserved before it)",
              d->lim.max_reserve, (unsigned long long)(max - len), d->reserved);
        return false;
    }
    mpi_store *s;
    mp_status st = mpi_store_new(&d->realm->alc, len, resizable ? (size_t)max : len, resizable ? MPI_STORE_GROWABLE : 0,
                                 false, &s);
    if (st != MP_OK) return NOMEM(d, t->at), false;
    if (len) memcpy(s->data, data, len);
    if (resizable) d->reserved += (size_t)(max - len);
    mpi_arraybuffer *ab = mpi_ab_adopt(d->realm, s, len, (size_t)max, resizable);
    if (!ab) {
        mpi_store_unref(s);
        return NOMEM(d, t->at), false;
    }
    *out = mpi_value_cell(MP_ARRAYBUFFER, ab);
    return add_id(d, *out, t->at) && maybe_view(d, out);
}

static bool is_index_key(const mpi_string *s);

/* A new array of n elements (n checked against the bytes left by the
 * caller: O(input)) at offset `at`, its id and its frame. */
static MPI_NOINLINE bool
open_array(dec *d, uint32_t n, size_t at, mp_value *out)
{
    mp_realm *r = d->realm;
    mpi_array *a = (mpi_array *)mpi_cell_new(r, MP_ARRAY, sizeof(mpi_array));
    if (!a) return NOMEM(d, at), false;
    if (n) {
        a->elems = mpi_realm_alloc(r, (size_t)n * sizeof(mp_value));
        if (!a->elems) return NOMEM(d, at), false;
        a->cap = n;
    }
    mp_value v = mpi_value_cell(MP_ARRAY, a);
    *out = v;
    if (!add_id(d, v, at)) return false;
    return n == 0 || push_frame(d, &a->h, DF_ARRAY, n, 0, at);
}

/* The same for an object of n properties, its frame starting on the shape
 * recorded for n keys, if any. */
static MPI_NOINLINE bool
open_object(dec *d, uint32_t n, size_t at, mp_value *out)
{
    mp_realm *r = d->realm;
    /* Room for every key up front (inline when few); props.c adds the
     * hash index on first use. */
    mpi_object *o = mpi_object_new_cell(r, n <= MPI_OBJECT_INLINE_MAX ? n : 0);
    if (!o) return NOMEM(d, at), false;
    if (n > MPI_OBJECT_INLINE_MAX) {
        o->props.slots = mpi_realm_alloc(r, (size_t)n * sizeof(mpi_prop));
        if (!o->props.slots) return NOMEM(d, at), false;
        o->props.cap = n;
    }
    mp_value v = mpi_value_cell(MP_OBJECT, o);
    *out = v;
    if (!add_id(d, v, at)) return false;
    if (n == 0) return true;
    if (!push_frame(d, &o->h, DF_OBJECT, n, 0, at)) return false;
    if (d->shapes->n[n % SHAPES] == n) {
        dframe *f = mpi_stk_at(&d->stack, d->stack.len - 1);
        f->shape = (uint8_t)(n % SHAPES + 1);
        f->shape_gen = d->shapes->gen[n % SHAPES];
    }
    return true;
}

/* Decodes the value starting at the next token. Containers are created,
 * given their id, and pushed as frames; their children come later. The
 * common leaves are read_value's, inline; this is the rest. */
static MPI_NOINLINE bool
read_value_slow(dec *d, mp_value *out, bool allow_hole)
{
    mpi_tok t;
    if (!next_tok(d, &t)) return false;
    mp_realm *r = d->realm;
    int made = read_primitive(d, &t, out);
    if (made) return made > 0;
    switch (t.t) {
    case MPI_TOK_NIL:
        *out = mpi_value_simple(MP_NULL, 0);
        return true;
    case MPI_TOK_BIN:
        return copy_arraybuffer(d, &t, t.data, t.n, false, t.n, out);
    case MPI_TOK_ARRAY:
        return open_array(d, t.n, t.at, out);
    case MPI_TOK_MAP:
        return open_object(d, t.n, t.at, out);
    case MPI_TOK_EXT:
        break;
    default:
        return dfail(d, MP_EDECODE, t.at, "unexpected token"), false;
    }
    size_t left = (size_t)(d->end - d->p);
    switch (t.ext) {
    case MPI_EXT_UNDEFINED:
        if (t.n != 0) break;
        *out = mpi_value_simple(MP_UNDEFINED, 0);
        return true;
    case MPI_EXT_HOLE:
        if (t.n != 0) break;
        if (!allow_hole) return dfail(d, MP_EDECODE, t.at, "hole outside a dense array ext"), false;
        *out = mpi_hole();
        return true;
    case MPI_EXT_DATE: {
        if (t.n != 8) break;
        uint64_t bits = mpi_le64(t.data);
        double time;
        memcpy(&time, &bits, 8);
        if (mp_date_new(r, time, out) != MP_OK) return NOMEM(d, t.at), false;
        return add_id(d, *out, t.at);
    }
    case MPI_EXT_REGEXP: {
        if (t.n != 1) break;
        uint8_t flags = t.data[0];
        if ((flags & (1u << 5)) && (flags & (1u << 7)))
            return dfail(d, MP_EDECODE, t.at, "RegExp flags u and v together"), false;
        mpi_string *src;
        if (!read_string(d, &src, "RegExp source")) return false;
        mpi_regexp *re = (mpi_regexp *)mpi_cell_new(r, MP_REGEXP, sizeof(mpi_regexp));
        if (!re) return NOMEM(d, t.at), false;
        re->h.aux = flags;
        re->source = src;
        *out = mpi_value_cell(MP_REGEXP, re);
        return add_id(d, *out, t.at);
    }
    case MPI_EXT_ARRAY: {
        if (t.n < 1) break;
        uint8_t form = t.data[0];
        if (form == MPI_ARRAY_FORM_DENSE && t.n == 9) {
            uint32_t len = mpi_le32(t.data + 1), np = mpi_le32(t.data + 5);
            if ((uint64_t)len + 2ull * np > left)
                return dfail(d, MP_EDECODE, t.at, "array declares more children than bytes left"), false;
            mpi_array *a = (mpi_array *)mpi_cell_new(r, MP_ARRAY, sizeof(mpi_array));
            if (!a) return NOMEM(d, t.at), false;
            if (len) {
                a->elems = mpi_realm_alloc(r, (size_t)len * sizeof(mp_value));
                if (!a->elems) return NOMEM(d, t.at), false;
                a->cap = len;
            }
            *out = mpi_value_cell(MP_ARRAY, a);
            if (!add_id(d, *out, t.at)) return false;
            if (len == 0 && np == 0) return true;
            if (!push_frame(d, &a->h, DF_ARRAY_DENSE, len, np, t.at)) return false;
            if (len == 0) ((dframe *)mpi_stk_at(&d->stack, d->stack.len - 1))->phase = 1;
            return true;
        }
        if (form == MPI_ARRAY_FORM_SPARSE && t.n == 13) {
            uint32_t len = mpi_le32(t.data + 1), n = mpi_le32(t.data + 5), np = mpi_le32(t.data + 9);
            if (2ull * n + 2ull * np > left)
                return dfail(d, MP_EDECODE, t.at, "array declares more children than bytes left"), false;
            if (n > len) return dfail(d, MP_EDECODE, t.at, "sparse array with more elements than its length"), false;
            if (mp_array_new(r, len, out) != MP_OK) return NOMEM(d, t.at), false;
            if (!add_id(d, *out, t.at)) return false;
            if (n == 0 && np == 0) return true;
            if (!push_frame(d, out->u_.cell_, DF_ARRAY_SPARSE, n, np, t.at)) return false;
            if (n == 0) ((dframe *)mpi_stk_at(&d->stack, d->stack.len - 1))->phase = 1;
            return true;
        }
        return dfail(d, MP_EDECODE, t.at, "bad array ext form %u / length %u", (unsigned)form, (unsigned)t.n), false;
    }
    case MPI_EXT_MAP:
    case MPI_EXT_SET: {
        if (t.n != 4) break;
        uint32_t n = mpi_le32(t.data);
        bool is_map = t.ext == MPI_EXT_MAP;
        if ((uint64_t)n * (is_map ? 2 : 1) > left)
            return dfail(d, MP_EDECODE, t.at, "%s declares more entries than bytes left", is_map ? "Map" : "Set"),
                   false;
        /* The table's capacity and its index (twice the capacity) are uint32. */
        if (n > MPI_MAP_MAX_ENTRIES)
            return dfail(d, MP_ELIMIT, t.at, "%s of %u entries: at most %u are supported", is_map ? "Map" : "Set",
                         (unsigned)n, (unsigned)MPI_MAP_MAX_ENTRIES),
                   false;
        if ((is_map ? mp_map_new(r, out) : mp_set_new(r, out)) != MP_OK) return NOMEM(d, t.at), false;
        if (n) {
            /* Pre-size: n <= bytes left, so this is O(input). */
            mpi_map *m = out->u_.cell_;
            uint32_t cap = 4;
            while (cap < n)
                cap *= 2;
            m->entries = mpi_realm_alloc(r, (size_t)cap * sizeof(mpi_map_entry));
            m->index = mpi_realm_alloc(r, (size_t)cap * 2 * sizeof(uint32_t));
            if (!m->entries || !m->index) {
                mpi_realm_dealloc(r, m->entries, (size_t)cap * sizeof(mpi_map_entry));
                mpi_realm_dealloc(r, m->index, (size_t)cap * 2 * sizeof(uint32_t));
                m->entries = NULL;
                m->index = NULL;
                return NOMEM(d, t.at), false;
            }
            memset(m->index, 0, (size_t)cap * 2 * sizeof(uint32_t));
            m->cap = cap;
            m->index_cap = cap * 2;
        }
        if (!add_id(d, *out, t.at)) return false;
        return n == 0 || push_frame(d, out->u_.cell_, is_map ? DF_MAP : DF_SET, n, 0, t.at);
    }
    case MPI_EXT_ERROR: {
        if (t.n != 2) break;
        uint8_t type = t.data[0], fl = t.data[1];
        if (type >= MP_ERR_TYPE_COUNT_ || (fl & ~(MPI_ERRF_MESSAGE | MPI_ERRF_STACK | MPI_ERRF_CAUSE)))
            return dfail(d, MP_EDECODE, t.at, "bad Error type %u or fields 0x%x", (unsigned)type, (unsigned)fl), false;
        mpi_string *msg = NULL, *stack = NULL;
        if ((fl & MPI_ERRF_MESSAGE) && !read_string(d, &msg, "Error message")) return false;
        if ((fl & MPI_ERRF_STACK) && !read_string(d, &stack, "Error stack")) return false;
        mpi_error *e = (mpi_error *)mpi_cell_new(r, MP_ERROR, sizeof(mpi_error));
        if (!e) return NOMEM(d, t.at), false;
        e->h.aux = type;
        e->message = msg;
        e->stack = stack;
        e->cause = mpi_value_simple(MP_UNDEFINED, 0);
        *out = mpi_value_cell(MP_ERROR, e);
        /* Registered before its cause is read, so the cause may be itself. */
        if (!add_id(d, *out, t.at)) return false;
        return !(fl & MPI_ERRF_CAUSE) || push_frame(d, &e->h, DF_ERROR, 1, 0, t.at);
    }
    case MPI_EXT_BOXED: {
        if (t.n != 0) break;
        mp_value prim;
        if (!read_boxed_primitive(d, &prim)) return false;
        if (mp_boxed_new(r, prim, out) != MP_OK) return NOMEM(d, t.at), false;
        return add_id(d, *out, t.at);
    }
    case MPI_EXT_ARRAYBUFFER: {
        if (t.n < 1) break;
        uint8_t fl = t.data[0];
        if (fl & ~MPI_ABF_RESIZABLE) return dfail(d, MP_EDECODE, t.at, "bad ArrayBuffer flags 0x%x", fl), false;
        bool resizable = fl & MPI_ABF_RESIZABLE;
        size_t head = resizable ? 9 : 1;
        if (t.n < head) break;
        uint64_t max = resizable ? mpi_le64(t.data + 1) : t.n - head;
        return copy_arraybuffer(d, &t, t.data + head, t.n - head, resizable, max, out);
    }
    case MPI_EXT_MOVED: {
        uint32_t i;
        if (!ext_uint(d, &t, &i)) return false;
        mp_message *m = d->msg;
        if (i >= m->n_moved || !m->moved[i].store)
            return dfail(d, MP_EDECODE, t.at, "moved-store index %u out of range or already used", (unsigned)i), false;
        mpi_moved *mv = &m->moved[i];
        mpi_arraybuffer *ab = mpi_ab_adopt(r, mv->store, mv->byte_length, mv->max_byte_length, mv->resizable);
        if (!ab) return NOMEM(d, t.at), false;
        mv->store = NULL; /* adopted: the buffer owns the reference now */
        *out = mpi_value_cell(MP_ARRAYBUFFER, ab);
        return add_id(d, *out, t.at) && maybe_view(d, out);
    }
    case MPI_EXT_PORT: {
        uint32_t i;
        if (!ext_uint(d, &t, &i)) return false;
        mp_message *m = d->msg;
        if (i >= m->n_ports || !m->ports[i])
            return dfail(d, MP_EDECODE, t.at, "port index %u out of range or already used", (unsigned)i), false;
        if (mpi_port_adopt(r, m->ports[i], out) != MP_OK) return NOMEM(d, t.at), false;
        m->ports[i] = NULL; /* adopted: the handle owns the reference now */
        return add_id(d, *out, t.at);
    }
    case MPI_EXT_SAB: {
        uint32_t i;
        if (!ext_uint(d, &t, &i)) return false;
        if (i >= d->msg->n_shared)
            return dfail(d, MP_EDECODE, t.at, "SharedArrayBuffer index %u out of range", (unsigned)i), false;
        mpi_sab *s = (mpi_sab *)mpi_cell_new(r, MP_SHAREDARRAYBUFFER, sizeof(mpi_sab));
        if (!s) return NOMEM(d, t.at), false;
        mpi_store_ref(d->msg->shared[i]);
        s->store = d->msg->shared[i];
        *out = mpi_value_cell(MP_SHAREDARRAYBUFFER, s);
        return add_id(d, *out, t.at) && maybe_view(d, out);
    }
    case MPI_EXT_HOST: {
        if (t.n != 8) break;
        uint32_t tag = mpi_le32(t.data), i = mpi_le32(t.data + 4);
        mp_message *m = d->msg;
        if (i >= m->n_hosts || m->hosts[i].tag != tag || d->used[i])
            return dfail(d, MP_EDECODE, t.at, "host payload index %u out of range, reused or of another type",
                         (unsigned)i),
                   false;
        const mpi_host_type *ht = mpi_host_type_find(r, tag);
        if (!ht)
            return dfail(d, MP_EDATACLONE, t.at, "host type %u has no codec registered in the target realm",
                         (unsigned)tag),
                   false;
        d->used[i] = 1;
        void *ptr = NULL;
        mp_status st = ht->hooks.read(ht->ctx, r, m->hosts[i].payload, &ptr);
        if (st != MP_OK)
            return dfail(d, st, t.at, "host type %u: its read hook failed (%s)", (unsigned)tag, mp_strerror(st)), false;
        if (mp_host_new(r, tag, ptr, out) != MP_OK) return NOMEM(d, t.at), false;
        return add_id(d, *out, t.at);
    }
    case MPI_EXT_BACKREF: {
        uint32_t id;
        if (!ext_uint(d, &t, &id)) return false;
        if (id >= d->ids.len)
            return dfail(d, MP_EDECODE, t.at, "back-reference to id %u, only %zu assigned", (unsigned)id, d->ids.len),
                   false;
        *out = *(mp_value *)mpi_stk_at(&d->ids, id);
        if (out->kind_ == MP_ARRAYBUFFER || out->kind_ == MP_SHAREDARRAYBUFFER) return maybe_view(d, out);
        return true;
    }
    case MPI_EXT_VIEW:
        return dfail(d, MP_EDECODE, t.at, "view ext not preceded by its buffer"), false;
    default:
        return dfail(d, MP_EDECODE, t.at, "unknown ext type %d", t.ext), false;
    }
    return dfail(d, MP_EDECODE, t.at, "ext %d has a malformed payload (%u bytes)", t.ext, (unsigned)t.n), false;
}

/* read_value for the tokens that make up most messages, inline in the
 * decoder's loops: one-byte ones (positive fixint, nil, booleans), fixstr,
 * float 64, uint 16/32 and back-references; the same values the general
 * path makes, without filling a tok. Everything else: read_value_slow. */
static inline MPI_ALWAYS_INLINE bool
read_value(dec *d, mp_value *out, bool allow_hole)
{
    const uint8_t *p = d->p;
    if (MPI_LIKELY(p < d->end)) {
        uint8_t b = *p;
        if (b <= 0x7f) {
            d->p = p + 1;
            *out = mpi_value_number((double)b);
            return true;
        }
        if ((b & 0xe0) == 0xa0) {
            uint32_t n = b & 0x1f;
            if (MPI_LIKELY(n < (size_t)(d->end - p))) {
                d->p = p + 1 + n;
                mpi_string *s;
                if (!make_short_string(d, p + 1, n, OFF(d, p), &s)) return false;
                *out = mpi_value_cell(MP_STRING, s);
                return true;
            }
        }
        size_t left = (size_t)(d->end - p);
        /* fixmap and fixarray whose count fits in the bytes left (two per
         * pair, one per element): the container without a token. */
        if ((b & 0xe0) == 0x80 && (uint32_t)(b & 0x0f) * (b < 0x90 ? 2u : 1u) < left) {
            d->p = p + 1;
            return b < 0x90 ? open_object(d, b & 0x0f, OFF(d, p), out) : open_array(d, b & 0x0f, OFF(d, p), out);
        }
        /* The rest by a switch (one indirect jump, where a chain of tests
         * cost a back-reference eight compares). */
        switch (b) {
        case 0xc0:
            d->p = p + 1;
            *out = mpi_value_simple(MP_NULL, 0);
            return true;
        case 0xc2:
        case 0xc3:
            d->p = p + 1;
            *out = mpi_value_simple(MP_BOOLEAN, b == 0xc3);
            return true;
        /* float 64 and uint 16/32 whose bytes are all there: the numbers
         * of most messages after the fixints. */
        case 0xcb:
            if (left >= 9) {
                uint64_t bits = mpi_be64(p + 1);
                double x;
                memcpy(&x, &bits, 8);
                d->p = p + 9;
                *out = mpi_value_number(x);
                return true;
            }
            break;
        case 0xcd:
            if (left >= 3) {
                d->p = p + 3;
                *out = mpi_value_number((double)mpi_be16(p + 1));
                return true;
            }
            break;
        case 0xce:
            if (left >= 5) {
                d->p = p + 5;
                *out = mpi_value_number((double)mpi_be32(p + 1));
                return true;
            }
            break;
        /* A back-reference in a fixext 1, 2 or 4 (what the encoder writes)
         * to an object that is not a buffer (those may carry a view). */
        case 0xd4:
        case 0xd5:
        case 0xd6:
            if (left >= 3 && (int8_t)p[1] == MPI_EXT_BACKREF) {
                size_t len = (size_t)1 << (b - 0xd4);
                if (left >= 2 + len) {
                    uint32_t id = len == 1 ? p[2] : len == 2 ? (uint32_t)(p[2] | (p[3] << 8)) : mpi_le32(p + 2);
                    if (id < d->ids.len) {
                        mp_value v = *(mp_value *)mpi_stk_at(&d->ids, id);
                        if (v.kind_ != MP_ARRAYBUFFER && v.kind_ != MP_SHAREDARRAYBUFFER) {
                            d->p = p + 2 + len;
                            *out = v;
                            return true;
                        }
                    }
                }
            }
            break;
        default:
            break;
        }
    }
    return read_value_slow(d, out, allow_hole);
}

/* Canonical array index "0".."4294967294". */
static bool
is_index_key(const mpi_string *s)
{
    uint32_t n = s->length;
    if (n == 0 || n > 10) return false;
    uint64_t v = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint16_t c = mpi_string_unit(s, i);
        if (c < '0' || c > '9' || (i == 0 && c == '0' && n > 1)) return false;
        v = v * 10 + (c - '0');
    }
    return v <= 4294967294u;
}

/* Reads a key and a value into an array's named properties; rejects
 * duplicates and array-index keys (those are elements). */
static bool
read_array_prop(dec *d, mpi_props *props)
{
    size_t at = OFF(d, d->p);
    mpi_string *key;
    if (!read_string(d, &key, "a property key")) return false;
    if (is_index_key(key))
        return dfail(d, MP_EDECODE, at, "array-index key among an array's named properties"), false;
    mp_value v;
    if (!read_value(d, &v, false)) return false;
    bool dup;
    if (mpi_props_add(d->realm, props, key, v, &dup) != MP_OK) return NOMEM(d, at), false;
    if (dup) return dfail(d, MP_EDECODE, at, "duplicate property key"), false;
    return true;
}

/* Reads a key and a value into the object of frame fi; rejects duplicates.
 * Keys may come in any order: index keys out of order are appended and
 * the table put in order once, after its last key (`last`). */
static bool
read_object_prop(dec *d, mpi_object *o, size_t fi, bool last)
{
    size_t at = OFF(d, d->p);
    mpi_string *key;
    if (!read_string(d, &key, "a property key")) return false;
    mp_value v;
    if (!read_value(d, &v, false)) return false;
    dframe *f = mpi_stk_at(&d->stack, fi); /* read_value may have moved the stack */
    bool unordered = f->phase != 0, dup;
    if (mpi_props_add_any_order(d->realm, &o->props, key, v, &dup, &unordered) != MP_OK) return NOMEM(d, at), false;
    if (dup) return dfail(d, MP_EDECODE, at, "duplicate property key"), false;
    f->phase = unordered;
    if (last && unordered && mpi_props_order_keys(d->realm, &o->props) != MP_OK) return NOMEM(d, at), false;
    return true;
}

/* Makes an object's keys, just completed through the general path, the
 * shape for its key count, if they can be one (see mpi_dshapes): distinct
 * named keys that are all atoms of the realm. Shapes only save time, so
 * running out of memory here just records nothing. */
static void
record_shape(dec *d, const mpi_props *p, uint32_t n)
{
    if (n > SHAPE_MAX_KEYS || p->used != n || p->live != n || p->index_keys != 0) return;
    for (uint32_t i = 0; i < n; i++) {
        const mpi_string *k = p->slots[i].key;
        if (k->h.marked != MPI_MARK_ATOM || k->h.realm != d->realm) return;
    }
    struct mpi_dshapes *sh = (struct mpi_dshapes *)d->shapes;
    if (sh == &no_shapes) {
        mpi_codec_realm *cr = mpi_codec_realm_get(d->realm);
        if (!cr || !(sh = mpi_malloc(&d->realm->alc, sizeof *sh))) return;
        memset(sh, 0, sizeof *sh);
        d->realm->reserved += sizeof *sh;
        cr->shapes = sh;
        d->shapes = sh;
    }
    uint32_t i = n % SHAPES;
    if (!(sh->seen & (1u << i))) {
        sh->seen |= 1u << i;
        return;
    }
    sh->gen[i]++;
    for (uint32_t j = 0; j < n; j++) {
        mpi_string *k = p->slots[j].key;
        dshape_key *sk = &sh->keys[i][j];
        sk->key = k;
        sk->len = k->length;
        mpi_short_words(k->u.narrow, k->length, &sk->a, &sk->b);
        if (k->length < 8) {
            uint8_t w[8] = {0}, m[8] = {0};
            w[0] = (uint8_t)(0xa0 | k->length);
            memcpy(w + 1, k->u.narrow, k->length);
            memset(m, 0xff, 1 + (size_t)k->length);
            memcpy(&sk->word, w, 8);
            memcpy(&sk->mask, m, 8);
        }
    }
    sh->n[i] = (uint8_t)n;
}

/* One step of the top frame: reads its next child, or pops it. */
static bool
step(dec *d)
{
    size_t fi = d->stack.len - 1;
    dframe *f = mpi_stk_at(&d->stack, fi);
    size_t at = OFF(d, d->p);
    switch (f->kind) {
    case DF_ARRAY: {
        /* Elements are read in one step until one pushes a frame (then f
         * may have moved: the step ends). */
        mpi_array *a = (mpi_array *)f->cell;
        while (f->i < f->n) {
            f->i++;
            /* Read straight into the slot: a value built in a local is
             * stored in two halves and copied back in one 16-byte load,
             * which cannot be forwarded from those stores (a stall per
             * element). */
            if (!read_value(d, &a->elems[a->length], false)) return false;
            a->length++;
            a->count++;
            if (d->stack.len != fi + 1) return true;
        }
        break;
    }
    case DF_ARRAY_DENSE:
    case DF_ARRAY_SPARSE: {
        mpi_array *a = (mpi_array *)f->cell;
        if (f->phase == 0) {
            f->i++;
            if (f->i == f->n) f->phase = 1, f->i = 0;
            if (f->kind == DF_ARRAY_DENSE) {
                if (!read_value(d, &a->elems[a->length], true)) return false;
                if (!mpi_is_hole(a->elems[a->length++])) a->count++;
                return true;
            }
            mpi_tok t;
            if (!next_tok(d, &t)) return false;
            if (t.t != MPI_TOK_UINT || t.u >= a->length || t.u < f->last)
                return dfail(d, MP_EDECODE, t.at, "sparse array index missing, out of order or past the length"), false;
            f->last = (uint32_t)t.u + 1;
            mp_value v;
            if (!read_value(d, &v, false)) return false;
            if (mp_array_set(mpi_value_cell(MP_ARRAY, a), (uint32_t)t.u, v) != MP_OK) return NOMEM(d, at), false;
            return true;
        }
        if (f->i == f->np) break;
        f->i++;
        return read_array_prop(d, &a->props);
    }
    case DF_OBJECT: {
        /* Properties are read in one step until a value pushes a frame.
         * The shape cannot change during a step (only a completed object
         * records one, and a nested object ends the step), so it is
         * checked once per step. */
        mpi_object *o = (mpi_object *)f->cell;
        uint32_t n = f->n;
        const dshape_key *keys = NULL;
        if (f->shape && f->shape_gen == d->shapes->gen[f->shape - 1]) keys = d->shapes->keys[f->shape - 1];
        for (uint32_t i = f->i; i < n; i++) {
            f->i = i + 1;
            if (keys) {
                const dshape_key *k = &keys[i];
                const uint8_t *p = d->p;
                uint32_t len = k->len;
                bool matched = false;
                if (len < 8 && d->end - p >= 8) {
                    uint64_t w;
                    memcpy(&w, p, 8);
                    matched = (w & k->mask) == k->word;
                } else if ((size_t)(d->end - p) > len && p[0] == (0xa0 | len)) {
                    uint64_t a, b;
                    mpi_short_words(p + 1, len, &a, &b);
                    matched = a == k->a && b == k->b;
                }
                /* The limit applies to keys as to any string: a longer
                 * key takes the general path, which refuses it. */
                if (MPI_LIKELY(matched && len <= d->lim.max_string_length)) {
                    d->p = p + 1 + len;
                    /* Keys 0..i-1 came from the shape too: slot i is next
                     * (read into it directly, as for array elements). */
                    mpi_prop *slot = &o->props.slots[i];
                    slot->key = k->key;
                    if (!read_value(d, &slot->value, false)) return false;
                    o->props.used = o->props.live = i + 1;
                    if (d->stack.len != fi + 1) return true;
                    continue;
                }
                keys = NULL;
                f->shape = 0;
            }
            if (!read_object_prop(d, o, fi, i + 1 == n)) return false;
            if (i + 1 == n) record_shape(d, &o->props, n);
            if (d->stack.len != fi + 1) return true;
        }
        break;
    }
    case DF_MAP:
    case DF_SET: {
        /* Entries are read in one step until a key or value pushes a frame
         * (a key's frame must finish before its value is read). */
        mpi_cell *c = f->cell;
        bool is_map = c->kind == MP_MAP;
        while (f->i < f->n) {
            mp_value v;
            if (is_map && f->phase == 0) {
                f->phase = 1;
                if (!read_value(d, &v, false)) return false;
                if (d->stack.len != fi + 1) {
                    ((dframe *)mpi_stk_at(&d->stack, fi))->pending = v;
                    return true;
                }
                f->pending = v;
                at = OFF(d, d->p);
            }
            f->i++;
            f->phase = 0;
            mp_value key = f->pending;
            if (!read_value(d, &v, false)) return false;
            /* The table was made with room for its n entries (read_value). */
            if (!mpi_map_add_new((mpi_map *)c, is_map ? key : v, is_map ? v : mpi_value_simple(MP_UNDEFINED, 0)))
                return dfail(d, MP_EDECODE, at, "duplicate Map or Set key"), false;
            if (d->stack.len != fi + 1) return true;
            at = OFF(d, d->p);
        }
        break;
    }
    case DF_ERROR: {
        if (f->i == 1) break;
        f->i = 1;
        mpi_error *e = (mpi_error *)f->cell;
        mp_value v;
        if (!read_value(d, &v, false)) return false;
        e->cause = v;
        e->h.flags |= MPI_ERROR_HAS_CAUSE;
        return true;
    }
    default:
        break;
    }
    d->stack.len--;
    return true;
}

/* ---- the entry point ------------------------------------------------------------------ */

mp_status
mp_deserialize(mp_message *msg, mp_realm *realm, const mp_decode_limits *limits, mp_value *out, mp_error_info *err)
{
    if (!msg) return mpi_fail(err, MP_EINVAL, MP_NO_OFFSET, NULL, "message is NULL");
    if (!realm || !out) {
        mp_message_free(msg);
        return mpi_fail(err, MP_EINVAL, MP_NO_OFFSET, NULL, "realm or out is NULL");
    }
    dec d;
    /* Field by field: one memset of the header compiled to `rep stos`,
     * whose start-up cost was a tenth of a small message's decode. */
    d.fail = MP_OK;
    d.used = NULL;
    d.reserved = 0;
    {
        const mpi_codec_realm *cr = realm->codec_state;
        d.shapes = cr && cr->shapes ? cr->shapes : &no_shapes;
    }
    d.start = d.p = msg->bytes;
    d.end = msg->len ? msg->bytes + msg->len : msg->bytes; /* no arithmetic on NULL */
    d.realm = realm;
    mpi_cell *mark = realm->cells;
    d.msg = msg;
    d.lim = limits ? *limits : mp_decode_limits_default();
    d.err = err;
    const mp_allocator *alc = &msg->alc;
    mpi_stk_init(&d.ids, alc, sizeof(mp_value), d.ids_inline, sizeof d.ids_inline / sizeof d.ids_inline[0]);
    mpi_stk_init(&d.stack, alc, sizeof(dframe), d.stack_inline, sizeof d.stack_inline / sizeof d.stack_inline[0]);
    /* msg->alc is complete, so mpi_vec_init's defaulting is not needed
     * (two calls per message). */
    d.units = (mpi_vec){alc, NULL, 0, 0, sizeof(uint16_t)};
    d.words = (mpi_vec){alc, NULL, 0, 0, sizeof(uint64_t)};
    mp_value root = mpi_value_simple(MP_UNDEFINED, 0);
    if (msg->len > d.lim.max_bytes) {
        dfail(&d, MP_ELIMIT, 0, "max_bytes (%zu) exceeded by a %zu-byte message", d.lim.max_bytes, msg->len);
        goto done;
    }
    if (msg->n_hosts) {
        d.used = mpi_malloc(alc, msg->n_hosts);
        if (!d.used) {
            NOMEM(&d, 0);
            goto done;
        }
        memset(d.used, 0, msg->n_hosts);
    }
    mpi_tok t;
    if (msg->len == 0) {
        dfail(&d, MP_EDECODE, 0, "empty message: no version header");
        goto done;
    }
    if (*d.p == MP_FORMAT_VERSION) { /* a positive fixint: what encoders write */
        d.p++;
    } else if (!next_tok(&d, &t)) {
        goto done;
    } else if (t.t != MPI_TOK_UINT) {
        dfail(&d, MP_EDECODE, 0, "message does not start with a format version");
        goto done;
    } else if (t.u != MP_FORMAT_VERSION) {
        dfail(&d, MP_EVERSION, 0, "format version %llu is not supported (this build reads %u)", (unsigned long long)t.u,
              MP_FORMAT_VERSION);
        goto done;
    }
    if (!read_value(&d, &root, false)) goto done;
    while (d.stack.len)
        if (!step(&d)) goto done;
    if (d.p != d.end) dfail(&d, MP_EDECODE, OFF(&d, d.p), "%zu trailing bytes after the value", (size_t)(d.end - d.p));
done:
    mpi_stk_destroy(&d.ids);
    mpi_stk_destroy(&d.stack);
    if (d.units.data) mpi_vec_destroy(&d.units);
    if (d.words.data) mpi_vec_destroy(&d.words);
    mpi_free(alc, d.used);
    mp_status st = d.fail;
    /* Unreferenced moved stores, shared references and host payloads go
     * with the message. */
    mp_message_free(msg);
    if (st == MP_OK)
        *out = root;
    else
        mpi_realm_rollback(realm, mark); /* nothing outside references them */
    return st;
}
