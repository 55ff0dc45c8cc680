/* The serializer: value graph -> msgpack bytes + side tables.
 *
 * One growing output buffer, msgpack-c's inline pack functions writing
 * into it through a callback, an explicit work stack (no recursion), and
 * one identity table (cell -> id) as the only per-object bookkeeping. */
#include <math.h>
#include <msgpack.h>
#include <stdarg.h>
#include <stdio.h>

#include "codec_internal.h"

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
    mp_message *msg;
    msgpack_packer pk;
    bool oom;
    mp_status fail; /* first failure (MP_OK while fine) */
    mp_realm *realm;
    mpi_idtab ids;
    uint32_t next_id;
    mpi_stk stack;
    mpi_xfer xfer;
    mp_error_info *err;
    eframe stack_inline[32]; /* last: not cleared at start */
} enc;

/* ---- output ---------------------------------------------------------------------- */

static bool
out_grow(enc *e, size_t need)
{
    if (e->oom) return false;
    if (!mpi_message_grow(e->msg, need)) e->oom = true;
    return !e->oom;
}

/* Room for n more bytes at msg->bytes + msg->len, or NULL (oom recorded). */
static inline uint8_t *
out_reserve(enc *e, size_t n)
{
    mp_message *m = e->msg;
    if (MPI_UNLIKELY(m->cap - m->len < n) && !out_grow(e, n)) return NULL;
    return m->bytes + m->len;
}

static inline int
out_append(enc *e, const void *buf, size_t len)
{
    uint8_t *p = out_reserve(e, len);
    if (!p) return -1;
    memcpy(p, buf, len);
    e->msg->len += len;
    return 0;
}

/* The packer callback (msgpack_packer needs one; the mpi_pack_* functions
 * below append without going through it). */
static int
out_write(void *data, const char *buf, size_t len)
{
    return out_append(data, buf, len);
}

/* msgpack-c's own inline pack functions, instantiated from its template
 * (pack_template.h is made for this) with the append inlined into our
 * buffer instead of an indirect call per token: mpi_pack_map,
 * mpi_pack_str, mpi_pack_int64, ... behave exactly as msgpack_pack_*. */
#define msgpack_pack_inline_func(name) static inline int mpi_pack##name
#define msgpack_pack_inline_func_cint(name) static inline int mpi_pack##name
#define msgpack_pack_inline_func_fixint(name) static inline int mpi_pack_fix##name
#define msgpack_pack_user msgpack_packer *
#define msgpack_pack_append_buffer(user, buf, len) return out_append((enc *)(user)->data, (buf), (len))
#include <msgpack/pack_template.h>

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
    (void)mpi_pack_ext(&e->pk, n, type);
    if (n) (void)mpi_pack_ext_body(&e->pk, payload, n);
}

/* An id or index in the shortest of 1, 2 or 4 little-endian bytes. */
static void
pack_ext_uint(enc *e, int8_t type, uint32_t v)
{
    /* fixext 1, 2 or 4: the bytes mpi_pack_ext + mpi_pack_ext_body write,
     * in one reservation (back-references are a large part of graphs). */
    uint8_t *p = out_reserve(e, 6);
    if (!p) return;
    size_t n = v <= 0xFF ? 1 : v <= 0xFFFF ? 2 : 4;
    p[0] = n == 1 ? 0xd4 : n == 2 ? 0xd5 : 0xd6;
    p[1] = (uint8_t)type;
    put_u32le(p + 2, v); /* bytes past 2 + n are scratch beyond len */
    e->msg->len += 2 + n;
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

/* Records the first failure (with the current path) and returns it. */
static mp_status enc_fail(enc *e, mp_status code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
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

static void
write_string(enc *e, const mpi_string *s)
{
    uint32_t n = s->length;
    uint16_t f = s->h.flags;
    if (MPI_LIKELY(f & MPI_STR_ASCII)) {
        if (n < 32) {
            /* fixstr, as mpi_pack_str writes it, header and bytes at once. */
            uint8_t *p = out_reserve(e, 1 + (size_t)n);
            if (!p) return;
            p[0] = (uint8_t)(0xa0 | n);
            mpi_copy_short(p + 1, s->u.narrow, n);
            e->msg->len += 1 + (size_t)n;
            return;
        }
        (void)mpi_pack_str(&e->pk, n);
        uint8_t *p = out_reserve(e, n);
        if (!p) return;
        memcpy(p, s->u.narrow, n);
        e->msg->len += n;
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
        (void)mpi_pack_str(&e->pk, len);
        uint8_t *p = out_reserve(e, len);
        if (!p) return;
        for (uint32_t i = 0; i < n; i++) {
            uint8_t c = s->u.narrow[i];
            if (c < 0x80) {
                *p++ = c;
            } else {
                *p++ = (uint8_t)(0xC0 | (c >> 6));
                *p++ = (uint8_t)(0x80 | (c & 0x3F));
            }
        }
        e->msg->len += len;
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
        (void)mpi_pack_ext(&e->pk, bytes, MPI_EXT_STRING16);
        uint8_t *p = out_reserve(e, bytes);
        if (!p) return;
        for (uint32_t i = 0; i < n; i++) {
            p[2 * i] = (uint8_t)w[i];
            p[2 * i + 1] = (uint8_t)(w[i] >> 8);
        }
        e->msg->len += bytes;
        return;
    }
    if (len > UINT32_MAX) {
        enc_fail(e, MP_EDATACLONE, "string of %zu UTF-8 bytes is too long for the format (4 GiB - 1)", len);
        return;
    }
    (void)mpi_pack_str(&e->pk, len);
    uint8_t *p = out_reserve(e, len);
    if (!p) return;
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
    e->msg->len += len;
}

/* ---- leaves ------------------------------------------------------------------------ */

static inline void
write_number(enc *e, double d)
{
    /* Integral doubles in int64 range (not -0) go as msgpack ints: that is
     * what other msgpack producers write for such numbers. */
    if (d >= -9223372036854775808.0 && d < 9223372036854775808.0) {
        int64_t i = (int64_t)d;
        if ((double)i == d && (i != 0 || !signbit(d))) {
            (void)mpi_pack_int64(&e->pk, i);
            return;
        }
    }
    (void)mpi_pack_double(&e->pk, d);
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
    (void)mpi_pack_ext(&e->pk, nbytes + 1, MPI_EXT_BIGINT);
    uint8_t *p = out_reserve(e, nbytes + 1);
    if (!p) return;
    p[0] = (uint8_t)(b->h.flags & 1);
    for (size_t i = 0; i < nbytes; i++)
        p[1 + i] = (uint8_t)(b->words[i / 8] >> (8 * (i % 8)));
    e->msg->len += nbytes + 1;
}

/* Writes a primitive (no identity). */
static void
write_primitive(enc *e, mp_value v)
{
    switch (v.kind_) {
    case MP_UNDEFINED:
        pack_ext(e, MPI_EXT_UNDEFINED, NULL, 0);
        break;
    case MP_NULL:
        (void)mpi_pack_nil(&e->pk);
        break;
    case MP_BOOLEAN:
        if (v.bits_)
            (void)mpi_pack_true(&e->pk);
        else
            (void)mpi_pack_false(&e->pk);
        break;
    case MP_NUMBER:
        write_number(e, v.u_.number_);
        break;
    case MP_STRING:
        write_string(e, v.u_.cell_);
        break;
    case MP_BIGINT:
        write_bigint(e, v.u_.cell_);
        break;
    default:
        enc_fail(e, MP_EDATACLONE, "internal: not a primitive");
        break;
    }
}

/* ---- objects ---------------------------------------------------------------------- */

static bool
push_frame(enc *e, mpi_cell *c, uint8_t kind)
{
    eframe *f = mpi_stk_push(&e->stack);
    if (!f) {
        e->oom = true;
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

static bool
new_id(enc *e, mpi_cell *c)
{
    if (e->next_id == UINT32_MAX) {
        enc_fail(e, MP_EDATACLONE, "too many objects for one message (4294967295)");
        return false;
    }
    if (mpi_idtab_put(&e->ids, c, (uintptr_t)e->next_id << 1) != MP_OK) {
        e->oom = true;
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
    (void)mpi_pack_ext(&e->pk, head + len, MPI_EXT_ARRAYBUFFER);
    uint8_t *p = out_reserve(e, head + len);
    if (!p) return;
    p[0] = resizable ? MPI_ABF_RESIZABLE : 0;
    if (resizable) put_u64le(p + 1, ab->max_byte_length);
    if (len) memcpy(p + head, ab->store->data, len);
    e->msg->len += head + len;
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
        e->oom = true;
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
            e->oom = true;
            return;
        }
        pack_ext_uint(e, MPI_EXT_SAB, index);
    }
}

static void write_object(enc *e, mp_value v);

static void
write_view(enc *e, mpi_view *vw)
{
    /* The buffer first (it takes the id before the view's). */
    mpi_cell *b = vw->buffer;
    write_object(e, mpi_value_cell((mp_kind)b->kind, b));
    if (e->fail != MP_OK || e->oom) return;
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

/* Writes an object: a back-reference if seen, else its header (children
 * come from the work stack). */
static void
write_object(enc *e, mp_value v)
{
    mpi_cell *c = v.u_.cell_;
    uintptr_t seen;
    mpi_xfer_entry *xe = NULL;
    if (mpi_idtab_get(&e->ids, c, &seen)) {
        if (!MPI_IS_XFER(seen)) {
            pack_ext_uint(e, MPI_EXT_BACKREF, (uint32_t)(seen >> 1));
            return;
        }
        xe = &e->xfer.entries[MPI_XFER_SLOT(seen)];
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
        return;
    }
    if (c->kind == MP_TYPEDARRAY || c->kind == MP_DATAVIEW) {
        write_view(e, (mpi_view *)c);
        return;
    }
    if (!new_id(e, c)) return;
    switch ((mp_kind)c->kind) {
    case MP_OBJECT: {
        mpi_object *o = (mpi_object *)c;
        if (o->props.slots) MPI_PREFETCH(o->props.slots);
        (void)mpi_pack_map(&e->pk, o->props.live);
        if (o->props.live) push_frame(e, c, EF_OBJECT);
        break;
    }
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
        } else if (a->count == a->length && a->props.live == 0) {
            (void)mpi_pack_array(&e->pk, a->length);
            if (a->length) push_frame(e, c, EF_ARRAY);
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

static inline void
write_value(enc *e, mp_value v)
{
    if (v.kind_ >= MP_OBJECT && v.kind_ < MP_KIND_COUNT_)
        write_object(e, v);
    else if (v.kind_ < MP_OBJECT)
        write_primitive(e, v);
    else if (mpi_is_hole(v))
        pack_ext(e, MPI_EXT_HOLE, NULL, 0);
    else
        enc_fail(e, MP_EDATACLONE, "value with internal tag %u could not be cloned.", (unsigned)v.kind_);
}

/* The next child of the top frame, or false when the frame is done. Keys
 * of named array properties are written here directly. Object frames are
 * run by mp_serialize's loop itself. */
static bool
next_child(enc *e, eframe *f, mp_value *out)
{
    switch (f->kind) {
    case EF_ARRAY:
    case EF_ARRAY_HOLEY:
    case EF_ARRAY_SPARSE: {
        mpi_array *a = (mpi_array *)f->cell;
        if (f->phase == 0) {
            if (f->kind == EF_ARRAY_SPARSE) {
                if (f->pos < a->count) {
                    f->last = f->pos;
                    f->last_phase = 0;
                    (void)mpi_pack_uint32(&e->pk, a->sparse[f->pos].index);
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
    case EF_MAP:
    case EF_SET: {
        mpi_map *m = (mpi_map *)f->cell;
        if (f->phase == 0) {
            while (f->pos < m->used && m->entries[f->pos].key.kind_ == MPI_TAG_EMPTY)
                f->pos++;
            if (f->pos >= m->used) return false;
            f->last = f->pos;
            f->last_phase = 0;
            *out = m->entries[f->pos].key;
            if (f->kind == EF_MAP)
                f->phase = 1;
            else
                f->pos++;
            return true;
        }
        f->last_phase = 1;
        f->phase = 0;
        *out = m->entries[f->pos++].value;
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

/* ---- the entry point ----------------------------------------------------------------- */

static void
enc_destroy(enc *e)
{
    mpi_idtab_destroy(&e->ids);
    mpi_stk_destroy(&e->stack);
    mpi_xfer_destroy(&e->xfer);
}

mp_status
mp_serialize(mp_value v, const mp_value *transfer, size_t n_transfer, mp_message **out, mp_error_info *err)
{
    if (!out) return mpi_fail(err, MP_EINVAL, MP_NO_OFFSET, NULL, "out is NULL");
    enc e;
    memset(&e, 0, offsetof(enc, stack_inline));
    e.err = err;
    mpi_cell *root = mpi_cell_of(v);
    e.realm = root ? root->realm : NULL;
    const mp_allocator *alc = e.realm ? &e.realm->alc : &mpi_libc_allocator;
    mpi_idtab_init(&e.ids, alc);
    mpi_stk_init(&e.stack, alc, sizeof(eframe), e.stack_inline, sizeof e.stack_inline / sizeof e.stack_inline[0]);
    mp_status st = mpi_xfer_prepare(&e.xfer, &e.realm, transfer, n_transfer, &e.ids, alc, err);
    if (st != MP_OK) {
        enc_destroy(&e);
        return st;
    }
    mpi_idtab_use_headers(&e.ids, e.realm);
    e.msg = mpi_message_new(alc);
    if (!e.msg) {
        enc_destroy(&e);
        return mpi_fail(err, MP_ENOMEM, MP_NO_OFFSET, NULL, NULL);
    }
    if (e.xfer.n_ab) {
        e.msg->moved = mpi_malloc(&e.msg->alc, e.xfer.n_ab * sizeof(mpi_moved));
        if (!e.msg->moved) e.oom = true;
    }
    if (e.xfer.n_ports) {
        e.msg->ports = mpi_malloc(&e.msg->alc, e.xfer.n_ports * sizeof *e.msg->ports);
        if (!e.msg->ports) e.oom = true;
    }
    msgpack_packer_init(&e.pk, &e, out_write);
    (void)mpi_pack_uint32(&e.pk, MP_FORMAT_VERSION);
    if (!e.oom) write_value(&e, v);
    while (e.stack.len && e.fail == MP_OK && !e.oom) {
        eframe *f = mpi_stk_at(&e.stack, e.stack.len - 1);
        mp_value child;
        if (f->kind == EF_OBJECT) {
            /* Keys and primitive values in one run; an object value ends
             * it (it may push a frame), as does the end of the table. */
            mpi_props *p = &((mpi_object *)f->cell)->props;
            bool object_next = false;
            while (f->pos < p->used) {
                const mpi_prop *slot = &p->slots[f->pos];
                if (!slot->key) {
                    f->pos++;
                    continue;
                }
                if (f->pos + 1 < p->used) MPI_PREFETCH(p->slots[f->pos + 1].key);
                f->last = f->pos++;
                write_string(&e, slot->key);
                if (slot->value.kind_ >= MP_OBJECT) {
                    child = slot->value;
                    object_next = true;
                    break;
                }
                write_primitive(&e, slot->value);
                if (e.fail != MP_OK || e.oom) break;
            }
            if (object_next) {
                if (e.fail == MP_OK && !e.oom) write_value(&e, child);
            } else if (f->pos >= p->used) {
                e.stack.len--;
            }
            continue;
        }
        if (f->kind == EF_ARRAY) {
            /* The same for a plain array's elements (no holes, no named
             * properties: see write_object). */
            mpi_array *a = (mpi_array *)f->cell;
            bool object_next = false;
            while (f->pos < a->length) {
                mp_value elem = a->elems[f->pos];
                f->last = f->pos++;
                if (elem.kind_ >= MP_OBJECT) {
                    child = elem;
                    object_next = true;
                    break;
                }
                write_primitive(&e, elem);
                if (e.fail != MP_OK || e.oom) break;
            }
            if (object_next) {
                if (e.fail == MP_OK && !e.oom) write_value(&e, child);
            } else if (f->pos >= a->length) {
                e.stack.len--;
            }
            continue;
        }
        if (!next_child(&e, f, &child)) {
            e.stack.len--;
            continue;
        }
        write_value(&e, child);
    }
    /* Listed host objects the value never mentions still move. */
    for (size_t i = 0; i < e.xfer.n && e.fail == MP_OK && !e.oom; i++) {
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
            e.oom = true;
            break;
        }
        xe->payload = payload;
        xe->met = true;
    }
    if (e.oom && e.fail == MP_OK) enc_fail(&e, MP_ENOMEM, "Data cannot be cloned, out of memory.");
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
    e.msg->n_moved = e.xfer.n_ab;
    e.msg->n_ports = e.xfer.n_ports;
    *out = e.msg;
    enc_destroy(&e);
    return MP_OK;
}
