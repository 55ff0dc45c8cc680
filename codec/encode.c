/* The serializer: value graph -> msgpack bytes + side tables.
 *
 * One growing output buffer written at a cursor by msgpack-c's inline pack
 * functions, an explicit work stack (no recursion) whose object, array,
 * Map and Set frames one loop runs (keys, short leaves, back-references
 * and new objects' headers written in place, one room check per child),
 * and one identity table (cell -> id) as the only per-object bookkeeping. */
#include <math.h>
#include <msgpack.h>
#include <stdarg.h>
#include <stdio.h>

#include "codec_internal.h"

/* The per-child writers are forced inline into the loops that run a
 * container's children, and those loops kept out of mp_serialize, so each
 * loop keeps its cursor and bounds in registers. */
#define ENC_INLINE inline MPI_ALWAYS_INLINE

/* One open container on the work stack. */
enum { EF_OBJECT, EF_ARRAY, EF_ARRAY_HOLEY, EF_ARRAY_SPARSE, EF_MAP, EF_SET, EF_ERROR };

typedef struct eframe {
    mpi_cell *cell;
    uint32_t pos;  /* next slot / element / entry */
    uint8_t kind;  /* EF_* */
    uint8_t phase; /* arrays: 0 elements, 1 named props; maps: 0 key, 1 value */
    uint32_t last; /* the child being written, for paths */
    uint8_t last_phase;
} eframe;

typedef struct enc {
    uint8_t *cur; /* next output byte; msg->len is set from it at the end */
    uint8_t *end; /* msg->bytes + msg->cap */
    mp_message *msg;
    mp_status fail; /* first failure (MP_OK while fine): every loop stops on it */
    uint32_t next_id;
    mp_realm *realm;
    mpi_idtab ids;
    mpi_stk stack;
    mpi_xfer xfer;
    mp_error_info *err;
    eframe stack_inline[32];
} enc;

/* Records the first failure (with the current path) and returns it. */
static mp_status enc_fail(enc *e, mp_status code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static void
enc_oom(enc *e)
{
    enc_fail(e, MP_ENOMEM, "Data cannot be cloned, out of memory.");
}

/* ---- output ---------------------------------------------------------------------- */

static bool
out_grow(enc *e, size_t need)
{
    if (e->fail != MP_OK) return false;
    mp_message *m = e->msg;
    m->len = (size_t)(e->cur - m->bytes);
    if (!mpi_message_grow(m, need)) {
        enc_oom(e);
        return false;
    }
    e->cur = m->bytes + m->len;
    e->end = m->bytes + m->cap;
    return true;
}

/* Room for n more bytes at e->cur; false when memory ran out (recorded). */
static inline bool
out_room(enc *e, size_t n)
{
    if (MPI_LIKELY((size_t)(e->end - e->cur) >= n)) return true;
    return out_grow(e, n);
}

/* msgpack-c's own inline pack functions, instantiated from its template
 * (pack_template.h is made for this) to write at a cursor into the
 * message's bytes instead of through a callback per token: mpi_pack_map,
 * mpi_pack_str, mpi_pack_int64, ... write exactly what msgpack_pack_*
 * writes. The caller makes room first (out_room), once for a run of
 * tokens, so each token is a few stores. */
#define msgpack_pack_inline_func(name) static inline int mpi_pack##name
#define msgpack_pack_inline_func_cint(name) static inline int mpi_pack##name
#define msgpack_pack_inline_func_fixint(name) static inline int mpi_pack_fix##name
#define msgpack_pack_user uint8_t **
#define msgpack_pack_append_buffer(user, buf, len) return (memcpy(*(user), (buf), (len)), *(user) += (len), 0)
#include <msgpack/pack_template.h>

/* Header room: the longest msgpack header (ext 32: 6 bytes) and a little. */
#define ENC_HEAD 8

static inline void
put_u32le(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static inline void
put_u64le(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* An ext with a small payload built by the caller. */
static void
pack_ext(enc *e, int8_t type, const uint8_t *payload, size_t n)
{
    if (!out_room(e, ENC_HEAD + n)) return;
    (void)mpi_pack_ext(&e->cur, n, type);
    if (n) (void)mpi_pack_ext_body(&e->cur, payload, n);
}

/* An id or index as a fixext 1, 2 or 4 (little-endian): 6 bytes of room
 * at p. Returns the cursor after it. */
static ENC_INLINE uint8_t *
put_ext_uint(uint8_t *p, int8_t type, uint32_t v)
{
    if (v <= 0xFF) {
        (void)mpi_pack_ext(&p, 1, type);
        *p = (uint8_t)v;
        return p + 1;
    }
    (void)mpi_pack_ext(&p, v <= 0xFFFF ? 2 : 4, type);
    put_u32le(p, v); /* bytes past the payload are scratch beyond the cursor */
    return p + (v <= 0xFFFF ? 2 : 4);
}

static void
pack_ext_uint(enc *e, int8_t type, uint32_t v)
{
    if (out_room(e, 6)) e->cur = put_ext_uint(e->cur, type, v);
}

/* ---- failure and paths ---------------------------------------------------------- */

static void
render_path(enc *e, char *buf, size_t cap)
{
    mpi_pathbuf p = {buf, cap, 0};
    buf[0] = '\0';
    mpi_path_append(&p, "root");
    for (size_t i = 0; i < e->stack.len; i++) {
        eframe *f = mpi_stk_at(&e->stack, i);
        mpi_path_step(&p, f->cell, f->last, f->last_phase);
    }
}

static mp_status
enc_fail(enc *e, mp_status code, const char *fmt, ...)
{
    if (e->fail != MP_OK) return e->fail;
    e->fail = code;
    if (e->err) {
        char path[sizeof e->err->path];
        render_path(e, path, sizeof path);
        va_list ap;
        va_start(ap, fmt);
        mpi_vfail(e->err, code, MP_NO_OFFSET, path, fmt, ap);
        va_end(ap);
    }
    return code;
}

/* ---- strings ---------------------------------------------------------------------- */

/* Room for a short leaf at the cursor: a fixstr of up to 31 ASCII bytes
 * (32), a number (9), a back-reference (6), undefined (3). */
#define ENC_LEAF 32

/* True for the strings put_short_string writes: ASCII, fixstr length. */
static ENC_INLINE bool
is_short_ascii(const mpi_string *s)
{
    return (s->h.flags & MPI_STR_ASCII) && s->length < 32;
}

/* Up to 8 bytes are read as the one word that ends where the string ends:
 * it starts inside the string's own cell (its header is in front of u),
 * so a key of 1 to 8 bytes is one load, one shift and one store. */
_Static_assert(offsetof(mpi_string, u) >= 8, "a narrow string has 8 bytes of its cell in front of it");

/* A short ASCII string (is_short_ascii) at p, with ENC_LEAF bytes of room
 * (bytes past the string are scratch beyond the cursor). */
static ENC_INLINE uint8_t *
put_short_string(uint8_t *p, const mpi_string *s)
{
    uint32_t n = s->length;
    const uint8_t *src = s->u.narrow;
    (void)mpi_pack_str(&p, n);
    if (n <= 8) {
        if (n) {
            /* counted from the cell, which the word stays inside */
            const uint8_t *word = (const uint8_t *)s + offsetof(mpi_string, u) + n - 8;
            uint64_t w;
            memcpy(&w, word, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
            w <<= 8 * (8 - n);
#else
            w >>= 8 * (8 - n);
#endif
            memcpy(p, &w, 8);
        }
    } else if (n <= 16) {
        uint64_t a, b;
        memcpy(&a, src, 8);
        memcpy(&b, src + n - 8, 8);
        memcpy(p, &a, 8);
        memcpy(p + n - 8, &b, 8);
    } else {
        uint8_t a[16], b[16];
        memcpy(a, src, 16);
        memcpy(b, src + n - 16, 16);
        memcpy(p, a, 16);
        memcpy(p + n - 16, b, 16);
    }
    return p + n;
}

/* Strings met again. Once a message has more than ENC_STASH_AFTER objects,
 * a short atom (the realm's shared keys and words) keeps its whole encoding
 * (header and bytes, up to a word) as its identity-table value, that is in
 * its own header, for the rest of the walk: from then on it is one load
 * and one store. A smaller message meets its keys about once, where the
 * stash would cost more than it saves; and the count only grows, so below
 * it no string has a stash to look for. (Strings have no identity: their
 * table values are never read as ids.) */
#define ENC_STASH_AFTER 8

static MPI_NOINLINE void
stash_string(enc *e, mpi_string *s, const uint8_t *written)
{
    uintptr_t word = 0;
    memcpy(&word, written, 1 + (size_t)s->length);
    /* Out of memory for the mark: no stash, and nothing else changes. */
    (void)mpi_idtab_put(&e->ids, &s->h, word);
}

/* A short ASCII string at p (ENC_LEAF bytes of room), from its stash if
 * it has one (stash: the message is past ENC_STASH_AFTER objects; a
 * constant of the loop, see run_frames): the cursor after it, or NULL if
 * it is not short ASCII. */
static ENC_INLINE uint8_t *
put_string(enc *e, uint8_t *p, mpi_string *s, bool stash)
{
    if (!stash) return is_short_ascii(s) ? put_short_string(p, s) : NULL;
    uintptr_t word;
    if (mpi_idtab_get_header(&e->ids, &s->h, &word)) {
        memcpy(p, &word, sizeof word);
        return p + 1 + s->length;
    }
    if (!is_short_ascii(s)) return NULL;
    uint8_t *q = put_short_string(p, s);
    if (s->h.marked == MPI_MARK_ATOM && s->length < sizeof word && mpi_idtab_owns_header(&e->ids, &s->h))
        stash_string(e, s, p);
    return q;
}

/* Any string: UTF-8 as a msgpack str, or a string with lone surrogates as
 * STRING16 (codec/FORMAT.md). */
static void
write_string(enc *e, const mpi_string *s)
{
    uint32_t n = s->length;
    uint16_t f = s->h.flags;
    if (MPI_LIKELY(f & MPI_STR_ASCII)) {
        if (!out_room(e, ENC_HEAD + (size_t)n)) return;
        (void)mpi_pack_str(&e->cur, n);
        (void)mpi_pack_str_body(&e->cur, s->u.narrow, n);
        return;
    }
    if (!(f & MPI_STR_WIDE)) {
        /* Latin-1: code units >= 0x80 take two UTF-8 bytes. */
        size_t len = n;
        for (uint32_t i = 0; i < n; i++)
            len += s->u.narrow[i] >> 7;
        if (len > UINT32_MAX) {
            enc_fail(e, MP_EDATACLONE, "string of %zu UTF-8 bytes is too long for the format (4 GiB - 1)", len);
            return;
        }
        if (!out_room(e, ENC_HEAD + len)) return;
        uint8_t *p = e->cur;
        (void)mpi_pack_str(&p, len);
        for (uint32_t i = 0; i < n; i++) {
            uint8_t c = s->u.narrow[i];
            if (c < 0x80) {
                *p++ = c;
            } else {
                *p++ = (uint8_t)(0xC0 | (c >> 6));
                *p++ = (uint8_t)(0x80 | (c & 0x3F));
            }
        }
        e->cur = p;
        return;
    }
    /* UTF-16: measure, and find lone surrogates. */
    const uint16_t *w = s->u.wide;
    size_t len = 0;
    bool lone = false;
    for (uint32_t i = 0; i < n; i++) {
        uint16_t c = w[i];
        if (c < 0x80) {
            len += 1;
        } else if (c < 0x800) {
            len += 2;
        } else if (c >= 0xD800 && c <= 0xDBFF && i + 1 < n && w[i + 1] >= 0xDC00 && w[i + 1] <= 0xDFFF) {
            len += 4;
            i++;
        } else if (c >= 0xD800 && c <= 0xDFFF) {
            lone = true;
            break;
        } else {
            len += 3;
        }
    }
    if (lone) {
        size_t bytes = (size_t)n * 2;
        if (bytes > UINT32_MAX) {
            enc_fail(e, MP_EDATACLONE, "string of %u code units is too long for the format", (unsigned)n);
            return;
        }
        if (!out_room(e, ENC_HEAD + bytes)) return;
        uint8_t *p = e->cur;
        (void)mpi_pack_ext(&p, bytes, MPI_EXT_STRING16);
        for (uint32_t i = 0; i < n; i++) {
            p[2 * i] = (uint8_t)w[i];
            p[2 * i + 1] = (uint8_t)(w[i] >> 8);
        }
        e->cur = p + bytes;
        return;
    }
    if (len > UINT32_MAX) {
        enc_fail(e, MP_EDATACLONE, "string of %zu UTF-8 bytes is too long for the format (4 GiB - 1)", len);
        return;
    }
    if (!out_room(e, ENC_HEAD + len)) return;
    uint8_t *p = e->cur;
    (void)mpi_pack_str(&p, len);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t c = w[i];
        if (c < 0x80) {
            *p++ = (uint8_t)c;
        } else if (c < 0x800) {
            *p++ = (uint8_t)(0xC0 | (c >> 6));
            *p++ = (uint8_t)(0x80 | (c & 0x3F));
        } else if (c >= 0xD800 && c <= 0xDBFF) {
            c = 0x10000 + ((c - 0xD800) << 10) + (w[++i] - 0xDC00u);
            *p++ = (uint8_t)(0xF0 | (c >> 18));
            *p++ = (uint8_t)(0x80 | ((c >> 12) & 0x3F));
            *p++ = (uint8_t)(0x80 | ((c >> 6) & 0x3F));
            *p++ = (uint8_t)(0x80 | (c & 0x3F));
        } else {
            *p++ = (uint8_t)(0xE0 | (c >> 12));
            *p++ = (uint8_t)(0x80 | ((c >> 6) & 0x3F));
            *p++ = (uint8_t)(0x80 | (c & 0x3F));
        }
    }
    e->cur = p;
}

/* ---- leaves ------------------------------------------------------------------------ */

/* A number at p (9 bytes of room). Integral doubles in int64 range (not
 * -0) go as msgpack ints: that is what other msgpack producers write for
 * such numbers. */
static ENC_INLINE uint8_t *
put_number(uint8_t *p, double d)
{
    if (d >= -9223372036854775808.0 && d < 9223372036854775808.0) {
        int64_t i = (int64_t)d;
        if ((double)i == d && (i != 0 || !signbit(d))) {
            (void)mpi_pack_int64(&p, i);
            return p;
        }
    }
    (void)mpi_pack_double(&p, d);
    return p;
}

/* The leaves with a short form, at p with ENC_LEAF bytes of room (strings
 * as put_string): the cursor after it, or NULL (nothing written) for any
 * other value. */
static ENC_INLINE uint8_t *
put_leaf(enc *e, uint8_t *p, mp_value v, bool stash)
{
    switch (v.kind_) {
    case MP_UNDEFINED:
        (void)mpi_pack_ext(&p, 0, MPI_EXT_UNDEFINED);
        return p;
    case MP_NULL:
        (void)mpi_pack_nil(&p);
        return p;
    case MP_BOOLEAN:
        if (v.bits_)
            (void)mpi_pack_true(&p);
        else
            (void)mpi_pack_false(&p);
        return p;
    case MP_NUMBER:
        return put_number(p, v.u_.number_);
    case MP_STRING:
        return put_string(e, p, v.u_.cell_, stash);
    default:
        return NULL;
    }
}

static void
write_bigint(enc *e, const mpi_bigint *b)
{
    /* sign byte + magnitude bytes, little-endian, no high zero bytes */
    size_t nbytes = (size_t)b->count * 8;
    while (nbytes && ((b->words[(nbytes - 1) / 8] >> (8 * ((nbytes - 1) % 8))) & 0xFF) == 0)
        nbytes--;
    if (nbytes + 1 > UINT32_MAX) {
        enc_fail(e, MP_EDATACLONE, "BigInt is too large for the format");
        return;
    }
    if (!out_room(e, ENC_HEAD + nbytes + 1)) return;
    uint8_t *p = e->cur;
    (void)mpi_pack_ext(&p, nbytes + 1, MPI_EXT_BIGINT);
    p[0] = (uint8_t)(b->h.flags & 1);
    for (size_t i = 0; i < nbytes; i++)
        p[1 + i] = (uint8_t)(b->words[i / 8] >> (8 * (i % 8)));
    e->cur = p + nbytes + 1;
}

/* Writes a primitive (no identity). */
static void
write_primitive(enc *e, mp_value v)
{
    if (v.kind_ == MP_STRING) {
        write_string(e, v.u_.cell_);
        return;
    }
    if (v.kind_ == MP_BIGINT) {
        write_bigint(e, v.u_.cell_);
        return;
    }
    if (!out_room(e, ENC_LEAF)) return;
    uint8_t *p = put_leaf(e, e->cur, v, false);
    if (p)
        e->cur = p;
    else
        enc_fail(e, MP_EDATACLONE, "internal: not a primitive");
}

/* ---- objects ---------------------------------------------------------------------- */

/* The open container on top of the work stack. */
static ENC_INLINE eframe *
top_frame(enc *e)
{
    return (eframe *)(void *)e->stack.data + (e->stack.len - 1);
}

static ENC_INLINE bool
push_frame(enc *e, mpi_cell *c, uint8_t kind)
{
    eframe *f;
    if (MPI_LIKELY(e->stack.len < e->stack.cap))
        f = (eframe *)(void *)e->stack.data + e->stack.len++;
    else if (!(f = mpi_stk_grow(&e->stack))) {
        enc_oom(e);
        return false;
    }
    f->cell = c;
    f->pos = 0;
    f->kind = kind;
    f->phase = 0;
    f->last = 0;
    f->last_phase = 0;
    return true;
}

static ENC_INLINE bool
new_id(enc *e, mpi_cell *c)
{
    if (MPI_UNLIKELY(e->next_id == UINT32_MAX)) {
        enc_fail(e, MP_EDATACLONE, "too many objects for one message (4294967295)");
        return false;
    }
    if (MPI_UNLIKELY(mpi_idtab_put(&e->ids, c, (uintptr_t)e->next_id << 1) != MP_OK)) {
        enc_oom(e);
        return false;
    }
    e->next_id++;
    return true;
}

static void
write_arraybuffer(enc *e, mpi_arraybuffer *ab)
{
    if (ab->h.flags & MPI_AB_DETACHED) {
        enc_fail(e, MP_EDATACLONE, "An ArrayBuffer is detached and could not be cloned.");
        return;
    }
    bool resizable = (ab->h.flags & MPI_AB_RESIZABLE) != 0;
    size_t len = ab->byte_length;
    size_t head = resizable ? 9 : 1;
    if (len > UINT32_MAX - head) {
        enc_fail(e, MP_EDATACLONE, "ArrayBuffer of %zu bytes is too large to copy into a message", len);
        return;
    }
    if (!out_room(e, ENC_HEAD + head + len)) return;
    uint8_t *p = e->cur;
    (void)mpi_pack_ext(&p, head + len, MPI_EXT_ARRAYBUFFER);
    p[0] = resizable ? MPI_ABF_RESIZABLE : 0;
    if (resizable) put_u64le(p + 1, ab->max_byte_length);
    if (len) memcpy(p + head, ab->store->data, len);
    e->cur = p + head + len;
}

static void
write_host(enc *e, mpi_host *h, mpi_xfer_entry *xe)
{
    const mpi_host_type *ht = mpi_host_type_find(h->h.realm, h->h.aux);
    if (!ht) {
        enc_fail(e, MP_EDATACLONE, "host object of type %u could not be cloned: no codec registered",
                 (unsigned)h->h.aux);
        return;
    }
    void *payload = NULL;
    mp_status st = ht->hooks.write(ht->ctx, h->ptr, xe != NULL, &payload);
    if (st != MP_OK) {
        enc_fail(e, st, "host object of type %u: its write hook failed (%s)", (unsigned)h->h.aux, mp_strerror(st));
        return;
    }
    mpi_host_payload hp = {h->h.aux, payload, ht->hooks.free_payload, ht->ctx};
    uint32_t index;
    if (mpi_message_add_host(e->msg, &hp, &index) != MP_OK) {
        if (hp.free_payload) hp.free_payload(hp.ctx, payload);
        enc_oom(e);
        return;
    }
    if (xe) {
        xe->payload = payload;
        xe->met = true;
    }
    uint8_t b[8];
    put_u32le(b, h->h.aux);
    put_u32le(b + 4, index);
    pack_ext(e, MPI_EXT_HOST, b, 8);
}

/* A buffer met for the first time (its id already assigned), or again. */
static void
write_buffer_cell(enc *e, mpi_cell *c)
{
    if (c->kind == MP_ARRAYBUFFER) {
        write_arraybuffer(e, (mpi_arraybuffer *)c);
    } else {
        uint32_t index;
        if (mpi_message_add_shared(e->msg, ((mpi_sab *)c)->store, &index) != MP_OK) {
            enc_oom(e);
            return;
        }
        pack_ext_uint(e, MPI_EXT_SAB, index);
    }
}

static void write_object(enc *e, mpi_cell *c);

static void
write_view(enc *e, mpi_view *vw)
{
    /* The buffer first (it takes the id before the view's). */
    mpi_cell *b = vw->buffer;
    write_object(e, b);
    if (e->fail != MP_OK) return;
    size_t esize = vw->h.kind == MP_DATAVIEW ? 1 : mpi_codec_view_esize(vw->h.aux);
    size_t blen;
    (void)mpi_buffer_bytes(b, &blen);
    bool tracking = (vw->h.flags & MPI_VIEW_LENGTH_TRACKING) != 0;
    /* A transferred buffer is still attached here (detached at commit). */
    bool oob = vw->byte_offset > blen || (!tracking && vw->length > (blen - vw->byte_offset) / esize);
    if (oob) {
        enc_fail(e, MP_EDATACLONE, "%s is out of bounds of its buffer and could not be cloned.",
                 vw->h.kind == MP_DATAVIEW ? "DataView" : mp_view_type_name((mp_view_type)vw->h.aux));
        return;
    }
    if (!new_id(e, &vw->h)) return;
    uint8_t p[18];
    p[0] = (uint8_t)(vw->h.kind == MP_DATAVIEW ? MPI_VIEW_DATAVIEW : vw->h.aux);
    p[1] = tracking ? MPI_VIEWF_TRACKING : 0;
    put_u64le(p + 2, vw->byte_offset);
    put_u64le(p + 10, tracking ? 0 : vw->length);
    pack_ext(e, MPI_EXT_VIEW, p, sizeof p);
}

/* An object met before (seen: its identity-table value): a back-reference,
 * or the first meeting with a transfer-list entry. */
static void
write_seen(enc *e, mpi_cell *c, uintptr_t seen)
{
    if (!MPI_IS_XFER(seen)) {
        pack_ext_uint(e, MPI_EXT_BACKREF, (uint32_t)(seen >> 1));
        return;
    }
    mpi_xfer_entry *xe = &e->xfer.entries[MPI_XFER_SLOT(seen)];
    if (e->next_id == UINT32_MAX) {
        enc_fail(e, MP_EDATACLONE, "too many objects for one message (4294967295)");
        return;
    }
    mpi_idtab_replace(&e->ids, c, (uintptr_t)e->next_id++ << 1);
    if (c->kind == MP_ARRAYBUFFER) {
        pack_ext_uint(e, MPI_EXT_MOVED, (uint32_t)xe->ab_index);
        return;
    }
    if (c->kind == MP_PORT) {
        pack_ext_uint(e, MPI_EXT_PORT, (uint32_t)xe->port_index);
        return;
    }
    write_host(e, (mpi_host *)c, xe);
}

/* An array msgpack's own array holds: no holes, no named properties (the
 * rest is an ext with the elements and properties, FORMAT.md). */
static ENC_INLINE bool
is_plain_array(const mpi_array *a)
{
    return !(a->h.flags & MPI_ARRAY_SPARSE) && a->count == a->length && a->props.live == 0;
}

/* A plain array (is_plain_array) met for the first time, its id given:
 * its array header, and its frame if it has elements. */
static void
open_plain_array(enc *e, mpi_array *a)
{
    if (!out_room(e, ENC_HEAD)) return;
    (void)mpi_pack_array(&e->cur, a->length);
    if (a->length) push_frame(e, &a->h, EF_ARRAY);
}

/* A plain object met for the first time: its id, and its map header at p
 * (ENC_HEAD bytes of room). The cursor after it, or NULL if it could not
 * have an id (the failure recorded). Its properties are read next. */
static ENC_INLINE uint8_t *
put_object_open(enc *e, uint8_t *p, mpi_object *o)
{
    if (o->props.slots) MPI_PREFETCH(o->props.slots);
    if (!new_id(e, &o->h)) return NULL;
    (void)mpi_pack_map(&p, o->props.live);
    return p;
}

/* An object met for the first time: its header (its children come from
 * the work stack). */
static void
write_unseen(enc *e, mpi_cell *c)
{
    if (MPI_LIKELY(c->kind == MP_OBJECT)) {
        mpi_object *o = (mpi_object *)c;
        uint8_t *p;
        if (!out_room(e, ENC_HEAD) || !(p = put_object_open(e, e->cur, o))) return;
        e->cur = p;
        if (o->props.live) push_frame(e, c, EF_OBJECT);
        return;
    }
    if (c->kind == MP_TYPEDARRAY || c->kind == MP_DATAVIEW) {
        write_view(e, (mpi_view *)c);
        return;
    }
    if (!new_id(e, c)) return;
    switch ((mp_kind)c->kind) {
    case MP_ARRAY: {
        mpi_array *a = (mpi_array *)c;
        if (a->h.flags & MPI_ARRAY_SPARSE) {
            uint8_t p[13];
            p[0] = MPI_ARRAY_FORM_SPARSE;
            put_u32le(p + 1, a->length);
            put_u32le(p + 5, a->count);
            put_u32le(p + 9, a->props.live);
            pack_ext(e, MPI_EXT_ARRAY, p, 13);
            if (a->count || a->props.live) push_frame(e, c, EF_ARRAY_SPARSE);
        } else if (is_plain_array(a)) {
            open_plain_array(e, a);
        } else {
            uint8_t p[9];
            p[0] = MPI_ARRAY_FORM_DENSE;
            put_u32le(p + 1, a->length);
            put_u32le(p + 5, a->props.live);
            pack_ext(e, MPI_EXT_ARRAY, p, 9);
            if (a->length || a->props.live) push_frame(e, c, EF_ARRAY_HOLEY);
        }
        break;
    }
    case MP_DATE: {
        uint8_t p[8];
        uint64_t bits;
        memcpy(&bits, &((mpi_date *)c)->time, 8);
        put_u64le(p, bits);
        pack_ext(e, MPI_EXT_DATE, p, 8);
        break;
    }
    case MP_REGEXP: {
        mpi_regexp *re = (mpi_regexp *)c;
        uint8_t flags = (uint8_t)re->h.aux;
        pack_ext(e, MPI_EXT_REGEXP, &flags, 1);
        write_string(e, re->source);
        break;
    }
    case MP_MAP:
    case MP_SET: {
        mpi_map *m = (mpi_map *)c;
        uint8_t p[4];
        put_u32le(p, m->live);
        pack_ext(e, c->kind == MP_MAP ? MPI_EXT_MAP : MPI_EXT_SET, p, 4);
        if (m->live) push_frame(e, c, c->kind == MP_MAP ? EF_MAP : EF_SET);
        break;
    }
    case MP_ERROR: {
        mpi_error *er = (mpi_error *)c;
        bool has_cause = (er->h.flags & MPI_ERROR_HAS_CAUSE) != 0;
        uint8_t p[2];
        p[0] = (uint8_t)er->h.aux;
        p[1] = (uint8_t)((er->message ? MPI_ERRF_MESSAGE : 0) | (er->stack ? MPI_ERRF_STACK : 0) |
                         (has_cause ? MPI_ERRF_CAUSE : 0));
        pack_ext(e, MPI_EXT_ERROR, p, 2);
        if (er->message) write_string(e, er->message);
        if (er->stack) write_string(e, er->stack);
        if (has_cause) push_frame(e, c, EF_ERROR);
        break;
    }
    case MP_BOOLEAN_OBJECT:
    case MP_NUMBER_OBJECT:
    case MP_STRING_OBJECT:
    case MP_BIGINT_OBJECT:
        pack_ext(e, MPI_EXT_BOXED, NULL, 0);
        write_primitive(e, ((mpi_boxed *)c)->value);
        break;
    case MP_ARRAYBUFFER:
    case MP_SHAREDARRAYBUFFER:
        write_buffer_cell(e, c);
        break;
    case MP_HOST:
        write_host(e, (mpi_host *)c, NULL);
        break;
    case MP_PORT:
        enc_fail(e, MP_EDATACLONE, "Object that needs transfer was found in message but not listed in transferList");
        break;
    default:
        enc_fail(e, MP_EDATACLONE, "value of kind %u could not be cloned.", (unsigned)c->kind);
        break;
    }
}

/* Writes an object: a back-reference if seen, else its header. */
static void
write_object(enc *e, mpi_cell *c)
{
    uintptr_t seen;
    if (mpi_idtab_get(&e->ids, c, &seen))
        write_seen(e, c, seen);
    else
        write_unseen(e, c);
}

/* Any value; nothing once the encoding has failed. */
static inline void
write_value(enc *e, mp_value v)
{
    if (e->fail != MP_OK) return;
    if (v.kind_ >= MP_OBJECT && v.kind_ < MP_KIND_COUNT_)
        write_object(e, v.u_.cell_);
    else if (v.kind_ < MP_OBJECT)
        write_primitive(e, v);
    else if (mpi_is_hole(v))
        pack_ext(e, MPI_EXT_HOLE, NULL, 0);
    else
        enc_fail(e, MP_EDATACLONE, "value with internal tag %u could not be cloned.", (unsigned)v.kind_);
}

/* The next child of a holey or sparse array's frame or an Error's, or
 * false when the frame is done. Keys of named array properties are written
 * here directly. The other frames are run by run_frames. */
static bool
next_child(enc *e, eframe *f, mp_value *out)
{
    switch (f->kind) {
    case EF_ARRAY_HOLEY:
    case EF_ARRAY_SPARSE: {
        mpi_array *a = (mpi_array *)f->cell;
        if (f->phase == 0) {
            if (f->kind == EF_ARRAY_SPARSE) {
                if (f->pos < a->count) {
                    f->last = f->pos;
                    f->last_phase = 0;
                    if (!out_room(e, ENC_HEAD)) return false;
                    (void)mpi_pack_uint32(&e->cur, a->sparse[f->pos].index);
                    *out = a->sparse[f->pos++].value;
                    return true;
                }
            } else if (f->pos < a->length) {
                f->last = f->pos;
                f->last_phase = 0;
                *out = a->elems[f->pos++];
                return true;
            }
            f->phase = 1;
            f->pos = 0;
        }
        mpi_props *p = &a->props;
        while (f->pos < p->used && !p->slots[f->pos].key)
            f->pos++;
        if (f->pos >= p->used) return false;
        f->last = f->pos;
        f->last_phase = 1;
        write_string(e, p->slots[f->pos].key);
        *out = p->slots[f->pos++].value;
        return true;
    }
    case EF_ERROR:
        if (f->pos) return false;
        f->pos = 1;
        *out = ((mpi_error *)f->cell)->cause;
        return true;
    default:
        return false;
    }
}

/* ---- runs of children ------------------------------------------------------------------ */

/* Room for a short key and a short leaf: one check per property. */
#define ENC_PAIR (2 * ENC_LEAF)

/* v at p (ENC_LEAF bytes of room) if it is a short leaf, a repeated
 * object (a back-reference) or a plain object met for the first time (its
 * map header; *open is set to it if it has properties, and the caller
 * pushes its frame once its own frame is saved): the cursor after it.
 * NULL for anything else, which write_child writes (or when a new object
 * could not have an id: then write_child finds the failure). */
static ENC_INLINE uint8_t *
put_child(enc *e, uint8_t *p, mp_value v, bool stash, mpi_cell **open)
{
    uint8_t *q = put_leaf(e, p, v, stash);
    if (q) return q;
    if (v.kind_ >= MP_OBJECT && v.kind_ < MP_KIND_COUNT_) {
        mpi_cell *c = v.u_.cell_;
        uintptr_t seen;
        /* An object's first properties are inline, on the lines after its
         * header: the lines of the first three are fetched now, with the
         * header the identity test loads, rather than after it (a walk over
         * a graph larger than the cache waits on both). A back-reference
         * wastes this fetch. */
        if (v.kind_ == MP_OBJECT) {
            MPI_PREFETCH((const uint8_t *)c + sizeof(mpi_object));
            MPI_PREFETCH((const uint8_t *)c + mpi_object_size(3) - 1);
        }
        if (mpi_idtab_get(&e->ids, c, &seen)) {
            if (!MPI_IS_XFER(seen)) return put_ext_uint(p, MPI_EXT_BACKREF, (uint32_t)(seen >> 1));
        } else if (c->kind == MP_OBJECT) {
            mpi_object *o = (mpi_object *)c;
            if ((q = put_object_open(e, p, o)) && o->props.live) *open = c;
            return q;
        }
    }
    return NULL;
}

/* A child put_child leaves to the general path. A plain array met for the
 * first time is opened here, without write_value's generality (arrays of
 * arrays, and arrays in objects, are common). */
static MPI_NOINLINE void
write_child(enc *e, mp_value v)
{
    if (v.kind_ == MP_ARRAY) {
        mpi_array *a = v.u_.cell_;
        uintptr_t seen;
        if (is_plain_array(a) && !mpi_idtab_get(&e->ids, &a->h, &seen)) {
            if (new_id(e, &a->h)) open_plain_array(e, a);
            return;
        }
    }
    write_value(e, v);
}

/* The slow half of the room check of the loops below: room for ENC_PAIR
 * bytes at p (which becomes e->cur), or NULL when memory ran out. */
static uint8_t *
pair_grow(enc *e, uint8_t *p)
{
    e->cur = p;
    return out_grow(e, ENC_PAIR) ? e->cur : NULL;
}

/* After put_child wrote a run's child at p (q: the cursor after it, NULL
 * if it left the child to write_child; open: a frame it opened): true to
 * go on at q. Else the run stops here: its frame resumes at next_pos (set
 * first: pushing a frame may move the stack), and the child is written in
 * the general way or its frame pushed. */
static ENC_INLINE bool
child_written(enc *e, eframe *f, uint32_t next_pos, uint8_t *p, uint8_t *q, mpi_cell *open, mp_value child)
{
    if (MPI_LIKELY(q && !open)) return true;
    f->pos = next_pos;
    if (q) {
        e->cur = q;
        push_frame(e, open, EF_OBJECT);
    } else {
        e->cur = p;
        write_child(e, child);
    }
    return false;
}

/* One run of an object frame: keys, short leaves, back-references and new
 * objects' headers straight into the output, until a value that opens a
 * frame or needs write_child (written here; it may push a frame), or the
 * end of the properties (the frame is popped). */
static ENC_INLINE void
object_run(enc *e, eframe *f, bool stash)
{
    const mpi_props *props = &((const mpi_object *)f->cell)->props;
    const mpi_prop *slots = props->slots;
    uint32_t used = props->used;
    uint32_t pos = f->pos;
    uint8_t *p = e->cur;
    while (pos < used) {
        const mpi_prop *slot = &slots[pos];
        if (!slot->key) {
            pos++;
            continue;
        }
        f->last = pos++;
        if (MPI_UNLIKELY(e->end - p < ENC_PAIR) && !(p = pair_grow(e, p))) return;
        uint8_t *q = put_string(e, p, slot->key, stash);
        if (MPI_LIKELY(q != NULL)) {
            p = q;
        } else {
            e->cur = p;
            write_string(e, slot->key);
            if (e->fail != MP_OK || !out_room(e, ENC_LEAF)) return;
            p = e->cur;
        }
        mpi_cell *open = NULL;
        q = put_child(e, p, slot->value, stash, &open);
        if (!child_written(e, f, pos, p, q, open, slot->value)) return;
        p = q;
    }
    e->cur = p;
    e->stack.len--;
}

/* The same for a plain array frame (no holes, no named properties: see
 * write_unseen). */
static ENC_INLINE void
array_run(enc *e, eframe *f, bool stash)
{
    const mpi_array *a = (const mpi_array *)f->cell;
    const mp_value *elems = a->elems;
    uint32_t n = a->length;
    uint32_t pos = f->pos;
    uint8_t *p = e->cur;
    while (pos < n) {
        mp_value v = elems[pos];
        f->last = pos++;
        if (MPI_UNLIKELY(e->end - p < ENC_PAIR) && !(p = pair_grow(e, p))) return;
        mpi_cell *open = NULL;
        uint8_t *q = put_child(e, p, v, stash, &open);
        if (!child_written(e, f, pos, p, q, open, v)) return;
        p = q;
    }
    e->cur = p;
    e->stack.len--;
}

/* The same for a Map or Set frame, part by part (key, then value); the
 * frame is left at the part after the one that opened a frame or went to
 * write_child. */
static ENC_INLINE void
mapset_run(enc *e, eframe *f, bool stash)
{
    const mpi_map *m = (const mpi_map *)f->cell;
    const mpi_map_entry *entries = m->entries;
    uint32_t used = m->used;
    uint32_t pos = f->pos;
    bool is_map = f->kind == EF_MAP;
    bool at_value = f->phase != 0; /* the key of entry pos is written */
    uint8_t *p = e->cur;
    while (pos < used) {
        const mpi_map_entry *en = &entries[pos];
        if (MPI_UNLIKELY(e->end - p < ENC_PAIR) && !(p = pair_grow(e, p))) return;
        mpi_cell *open = NULL;
        if (!at_value) {
            if (en->key.kind_ == MPI_TAG_EMPTY) {
                pos++;
                continue;
            }
            f->last = pos;
            f->last_phase = 0;
            uint8_t *q = put_child(e, p, en->key, stash, &open);
            f->phase = is_map; /* where the frame resumes if the run stops here */
            if (!child_written(e, f, is_map ? pos : pos + 1, p, q, open, en->key)) return;
            p = q;
            if (!is_map) {
                pos++;
                continue;
            }
        }
        at_value = false;
        f->last_phase = 1;
        uint8_t *q = put_child(e, p, en->value, stash, &open);
        pos++;
        f->phase = 0;
        if (!child_written(e, f, pos, p, q, open, en->value)) return;
        p = q;
    }
    e->cur = p;
    e->stack.len--;
}

/* Runs object, plain array, Map and Set frames, the new ones their
 * children push included, until the top frame is of another kind, the
 * stack is empty or the encoding failed; without stashes (see
 * ENC_STASH_AFTER) only while the message is below the stashing count.
 * One loop, so going down into a child and back up costs no call. */
static ENC_INLINE void
run_frames(enc *e, bool stash)
{
    while (e->stack.len && e->fail == MP_OK && (stash || e->next_id <= ENC_STASH_AFTER)) {
        eframe *f = top_frame(e);
        if (f->kind == EF_OBJECT)
            object_run(e, f, stash);
        else if (f->kind == EF_ARRAY)
            array_run(e, f, stash);
        else if (f->kind == EF_MAP || f->kind == EF_SET)
            mapset_run(e, f, stash);
        else
            return;
    }
}

/* Two copies of the loop: a small message runs one with no stash code. */
static MPI_NOINLINE void
run_frames_small(enc *e)
{
    run_frames(e, false);
}

static MPI_NOINLINE void
run_frames_stashing(enc *e)
{
    run_frames(e, true);
}

/* ---- the entry point ----------------------------------------------------------------- */

static void
enc_destroy(enc *e)
{
    mpi_idtab_destroy(&e->ids);
    mpi_stk_destroy(&e->stack);
    if (e->xfer.entries) mpi_xfer_destroy(&e->xfer);
}

mp_status
mp_serialize(mp_value v, const mp_value *transfer, size_t n_transfer, mp_message **out, mp_error_info *err)
{
    if (!out) return mpi_fail(err, MP_EINVAL, MP_NO_OFFSET, NULL, "out is NULL");
    enc e;
    e.cur = e.end = NULL;
    e.msg = NULL;
    e.fail = MP_OK;
    e.next_id = 0;
    e.err = err;
    mpi_cell *root = mpi_cell_of(v);
    e.realm = root ? root->realm : NULL;
    const mp_allocator *alc = e.realm ? &e.realm->alc : &mpi_libc_allocator;
    mpi_idtab_init(&e.ids, alc);
    mpi_stk_init(&e.stack, alc, sizeof(eframe), e.stack_inline, sizeof e.stack_inline / sizeof e.stack_inline[0]);
    mp_status st = MP_OK;
    if (n_transfer) {
        st = mpi_xfer_prepare(&e.xfer, &e.realm, transfer, n_transfer, &e.ids, alc, err);
        if (st != MP_OK) {
            enc_destroy(&e);
            return st;
        }
    } else {
        /* Nothing to validate: the empty list mpi_xfer_prepare would make. */
        e.xfer.alc = alc;
        e.xfer.entries = NULL;
        e.xfer.n = e.xfer.n_ab = e.xfer.n_ports = 0;
    }
    mpi_idtab_use_headers(&e.ids, e.realm);
    e.msg = mpi_message_new(alc);
    if (!e.msg) {
        enc_destroy(&e);
        return mpi_fail(err, MP_ENOMEM, MP_NO_OFFSET, NULL, NULL);
    }
    if (e.xfer.n_ab) {
        e.msg->moved = mpi_malloc(&e.msg->alc, e.xfer.n_ab * sizeof(mpi_moved));
        if (!e.msg->moved) enc_oom(&e);
    }
    if (e.xfer.n_ports) {
        e.msg->ports = mpi_malloc(&e.msg->alc, e.xfer.n_ports * sizeof *e.msg->ports);
        if (!e.msg->ports) enc_oom(&e);
    }
    e.cur = e.msg->bytes + e.msg->len;
    e.end = e.msg->bytes + e.msg->cap;
    if (out_room(&e, ENC_HEAD)) (void)mpi_pack_uint32(&e.cur, MP_FORMAT_VERSION);
    write_value(&e, v);
    while (e.stack.len && e.fail == MP_OK) {
        eframe *f = top_frame(&e);
        if (f->kind == EF_OBJECT || f->kind == EF_ARRAY || f->kind == EF_MAP || f->kind == EF_SET) {
            if (e.next_id > ENC_STASH_AFTER)
                run_frames_stashing(&e);
            else
                run_frames_small(&e);
            continue;
        }
        mp_value child;
        if (!next_child(&e, f, &child)) {
            e.stack.len--;
            continue;
        }
        write_value(&e, child);
    }
    /* Listed host objects the value never mentions still move. */
    for (size_t i = 0; i < e.xfer.n && e.fail == MP_OK; i++) {
        mpi_xfer_entry *xe = &e.xfer.entries[i];
        if (xe->cell->kind != MP_HOST || xe->met) continue;
        mpi_host *h = (mpi_host *)xe->cell;
        void *payload = NULL;
        st = xe->ht->hooks.write(xe->ht->ctx, h->ptr, true, &payload);
        if (st != MP_OK) {
            enc_fail(&e, st, "transferred host object of type %u: its write hook failed", (unsigned)h->h.aux);
            break;
        }
        mpi_host_payload hp = {h->h.aux, payload, xe->ht->hooks.free_payload, xe->ht->ctx};
        uint32_t index;
        if (mpi_message_add_host(e.msg, &hp, &index) != MP_OK) {
            if (hp.free_payload) hp.free_payload(hp.ctx, payload);
            enc_oom(&e);
            break;
        }
        xe->payload = payload;
        xe->met = true;
    }
    if (e.fail != MP_OK) {
        st = e.fail;
        e.msg->n_moved = 0; /* nothing was moved */
        mp_message_free(e.msg);
        enc_destroy(&e);
        return st;
    }
    /* Commit: cannot fail. Detach each listed buffer, moving its store. */
    for (size_t i = 0; i < e.xfer.n; i++) {
        mpi_xfer_entry *xe = &e.xfer.entries[i];
        if (xe->cell->kind == MP_ARRAYBUFFER) {
            mpi_arraybuffer *ab = (mpi_arraybuffer *)xe->cell;
            mpi_moved *mv = &e.msg->moved[xe->ab_index];
            mv->resizable = (ab->h.flags & MPI_AB_RESIZABLE) != 0;
            mv->byte_length = ab->byte_length;
            mv->max_byte_length = ab->max_byte_length;
            mv->store = mpi_ab_take_store(ab);
        } else if (xe->cell->kind == MP_PORT) {
            e.msg->ports[xe->port_index] = mpi_port_ship(xe->cell);
        } else {
            mpi_host *h = (mpi_host *)xe->cell;
            xe->ht->hooks.transfer(xe->ht->ctx, h->ptr, xe->payload);
        }
    }
    e.msg->len = (size_t)(e.cur - e.msg->bytes);
    mpi_message_fit(e.msg);
    e.msg->n_moved = e.xfer.n_ab;
    e.msg->n_ports = e.xfer.n_ports;
    *out = e.msg;
    enc_destroy(&e);
    return MP_OK;
}
