/* Direct structured clone: graph -> graph, no bytes.
 *
 * The same semantics as mp_serialize + mp_deserialize (validation first,
 * identity kept through a memo of source cell -> target cell, an explicit
 * work stack, commit last), but each target container is made at its final
 * size and property tables are copied slot for slot (string hashes depend
 * only on content, so the hash index is copied as is). */
#include <stdarg.h>
#include <stdio.h>

#include "codec_internal.h"

enum { CF_OBJECT, CF_ARRAY_DENSE, CF_ARRAY_SPARSE, CF_MAP, CF_SET, CF_ERROR };

typedef struct cframe {
    mpi_cell *src;
    mpi_cell *dst;
    mp_value pending; /* maps: the cloned key */
    uint32_t pos;
    uint32_t last;
    uint8_t kind;
    uint8_t phase; /* arrays: 0 elements, 1 props; maps: 0 key, 1 value */
    uint8_t last_phase;
} cframe;

typedef struct hostxfer {
    const mpi_host_type *ht;
    void *host_ptr;
    void *payload;
} hostxfer;

/* mp_clone sets each field (no memset): a new field needs its line there. */
typedef struct cl {
    mp_realm *src, *dst;
    mpi_idtab memo;
    mpi_stk stack;
    mpi_xfer xfer;
    mpi_arraybuffer **adopt; /* per transfer entry: the target buffer, once met */
    mpi_vec hosts;           /* hostxfer: payloads to release (and transfer) */
    mp_error_info *err;
    mp_status fail;
    cframe stack_inline[32];
} cl;

/* ---- failure and paths ------------------------------------------------------------ */

static void
render_path(cl *c, char *buf, size_t cap)
{
    mpi_pathbuf p = {buf, cap, 0};
    buf[0] = '\0';
    mpi_path_append(&p, "root");
    for (size_t i = 0; i < c->stack.len; i++) {
        cframe *f = mpi_stk_at(&c->stack, i);
        mpi_path_step(&p, f->src, f->last, f->last_phase);
    }
}

static mp_status cfail(cl *c, mp_status code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static mp_status
cfail(cl *c, mp_status code, const char *fmt, ...)
{
    if (c->fail != MP_OK) return c->fail;
    c->fail = code;
    if (c->err) {
        char path[sizeof c->err->path];
        render_path(c, path, sizeof path);
        va_list ap;
        va_start(ap, fmt);
        mpi_vfail(c->err, code, MP_NO_OFFSET, path, fmt, ap);
        va_end(ap);
    }
    return code;
}

#define CNOMEM(c) cfail((c), MP_ENOMEM, "Data cannot be cloned, out of memory.")

/* ---- leaves --------------------------------------------------------------------------- */

static mpi_string *clone_string_slow(cl *c, const mpi_string *s)
    MPI_NOINLINE;

/* Inline: an atom of the source (a key shared by many objects) keeps its
 * copy as its value in the walk's identity table, in its own header as
 * objects keep theirs (cleared with them on every exit), so it is copied
 * once, then found there. */
static inline mpi_string *
clone_string(cl *c, const mpi_string *s)
{
    uintptr_t copy;
    if (mpi_idtab_get_header(&c->memo, &s->h, &copy)) return (mpi_string *)copy;
    return clone_string_slow(c, s);
}

static mpi_string *
clone_string_slow(cl *c, const mpi_string *s)
{
    /* Strings are immutable and have no identity: within one realm the
     * clone can share them. */
    if (s->h.realm == c->dst) return (mpi_string *)s;
    uint32_t n = s->length;
    bool wide = (s->h.flags & MPI_STR_WIDE) != 0;
    if ((s->h.flags & MPI_STR_ASCII) && n <= MPI_ATOM_MAX_LEN) {
        mpi_string *a = mpi_string_atom(c->dst, s->u.narrow, n);
        if (MPI_LIKELY(a != NULL)) {
            /* Out of memory for the mark: no copy kept, nothing else changes. */
            if (s->h.marked == MPI_MARK_ATOM && mpi_idtab_owns_header(&c->memo, &s->h))
                (void)mpi_idtab_put(&c->memo, (mpi_cell *)&s->h, (uintptr_t)a);
            return a;
        }
    }
    size_t size = offsetof(mpi_string, u) + (wide ? 2 * (size_t)n : (size_t)n + 1);
    mpi_string *d = (mpi_string *)mpi_cell_new(c->dst, MP_STRING, size);
    if (!d) {
        CNOMEM(c);
        return NULL;
    }
    d->h.flags = s->h.flags & (MPI_STR_WIDE | MPI_STR_ASCII | MPI_STR_HASHED);
    d->h.aux = s->h.aux;
    d->length = n;
    if (wide)
        memcpy(d->u.wide, s->u.wide, 2 * (size_t)n);
    else
        mpi_copy_short(d->u.narrow, s->u.narrow, (size_t)n + 1); /* with its NUL */
    return d;
}

static bool
clone_primitive(cl *c, mp_value v, mp_value *out)
{
    switch (v.kind_) {
    case MP_STRING: {
        mpi_string *s = clone_string(c, v.u_.cell_);
        if (!s) return false;
        *out = mpi_value_cell(MP_STRING, s);
        return true;
    }
    case MP_BIGINT: {
        const mpi_bigint *b = v.u_.cell_;
        if (b->h.realm == c->dst) {
            *out = v; /* immutable, no identity: shared within a realm */
            return true;
        }
        size_t size = sizeof(mpi_bigint) + (size_t)b->count * sizeof(uint64_t);
        mpi_bigint *d = (mpi_bigint *)mpi_cell_new(c->dst, MP_BIGINT, size);
        if (!d) return CNOMEM(c), false;
        d->h.flags = b->h.flags & 1;
        d->count = b->count;
        if (b->count) memcpy(d->words, b->words, (size_t)b->count * sizeof(uint64_t));
        *out = mpi_value_cell(MP_BIGINT, d);
        return true;
    }
    default:
        *out = v;
        return true; /* undefined, null, booleans, numbers, holes */
    }
}

/* ---- objects --------------------------------------------------------------------------- */

static bool
push_frame(cl *c, mpi_cell *src, mpi_cell *dst, uint8_t kind)
{
    cframe *f = mpi_stk_push(&c->stack);
    if (!f) return CNOMEM(c), false;
    memset(f, 0, sizeof *f);
    f->src = src;
    f->dst = dst;
    f->kind = kind;
    return true;
}

static bool
memo(cl *c, mpi_cell *src, mpi_cell *dst)
{
    if (mpi_idtab_put(&c->memo, src, (uintptr_t)dst) != MP_OK) return CNOMEM(c), false;
    return true;
}

/* A props table with the same layout (in d's inline slots if they have
 * room); keys cloned now, values later. */
static bool
copy_props(cl *c, mpi_props *d, const mpi_props *s)
{
    if (s->live == 0) return true;
    if (d->cap < s->used) {
        d->slots = mpi_realm_alloc(c->dst, (size_t)s->used * sizeof(mpi_prop));
        if (!d->slots) return CNOMEM(c), false;
        d->cap = s->used; /* now, so a rollback frees the slots with their size */
    }
    if (s->hash) {
        d->hash = mpi_realm_alloc(c->dst, (size_t)s->hash_cap * sizeof(uint32_t));
        if (!d->hash) return CNOMEM(c), false;
        memcpy(d->hash, s->hash, (size_t)s->hash_cap * sizeof(uint32_t));
        d->hash_cap = s->hash_cap;
    }
    for (uint32_t i = 0; i < s->used; i++) {
        d->slots[i].value = mpi_value_simple(MP_UNDEFINED, 0);
        if (!s->slots[i].key) {
            d->slots[i].key = NULL;
            continue;
        }
        d->slots[i].key = clone_string(c, s->slots[i].key);
        if (!d->slots[i].key) return false;
    }
    d->used = s->used;
    d->live = s->live;
    d->index_keys = s->index_keys;
    /* A hash index must cover twice the capacity (see props.c); the
     * source's does, and our capacity is no larger. */
    return true;
}

static bool clone_object(cl *c, mp_value v, mp_value *out);

/* An object already met in this walk (its header holds its copy) is
 * resolved inline: W4-like graphs meet most objects again. */
static inline bool
clone_ref(cl *c, mp_value v, mp_value *out)
{
    uintptr_t seen;
    if (mpi_idtab_get_header(&c->memo, v.u_.cell_, &seen) && !MPI_IS_XFER(seen)) {
        *out = mpi_value_cell((mp_kind)v.kind_, (mpi_cell *)seen);
        return true;
    }
    return clone_object(c, v, out);
}

static bool
copy_arraybuffer(cl *c, mpi_arraybuffer *ab, mpi_cell **out)
{
    if (ab->h.flags & MPI_AB_DETACHED) {
        cfail(c, MP_EDATACLONE, "An ArrayBuffer is detached and could not be cloned.");
        return false;
    }
    bool resizable = (ab->h.flags & MPI_AB_RESIZABLE) != 0;
    size_t len = ab->byte_length;
    mpi_store *s;
    mp_status st = mpi_store_new(&c->dst->alc, len, resizable ? ab->max_byte_length : len,
                                 resizable ? MPI_STORE_GROWABLE : 0, false, &s);
    if (st != MP_OK) return CNOMEM(c), false;
    if (len) memcpy(s->data, ab->store->data, len);
    mpi_arraybuffer *d = mpi_ab_adopt(c->dst, s, len, ab->max_byte_length, resizable);
    if (!d) {
        mpi_store_unref(s);
        return CNOMEM(c), false;
    }
    if (ab->h.flags & MPI_AB_NOT_DETACHABLE) {
        /* Like the wire, which carries no such flag: the copy is an
         * ordinary buffer. */
    }
    *out = &d->h;
    return true;
}

/* Runs h's write hook; the payload is kept (and freed with the clone's
 * state), and a transferred one's transfer hook runs at the commit. */
static hostxfer *
write_host(cl *c, mpi_host *h, const mpi_host_type *ht, bool transferring)
{
    hostxfer *hx = mpi_vec_push(&c->hosts);
    if (!hx) return CNOMEM(c), NULL;
    void *payload = NULL;
    mp_status st = ht->hooks.write(ht->ctx, h->ptr, transferring, &payload);
    if (st != MP_OK) {
        c->hosts.len--;
        cfail(c, st, "host object of type %u: its write hook failed (%s)", (unsigned)h->h.aux, mp_strerror(st));
        return NULL;
    }
    hx->ht = ht;
    hx->host_ptr = transferring ? h->ptr : NULL;
    hx->payload = payload;
    return hx;
}

static bool
clone_host(cl *c, mpi_host *h, bool transferring, mpi_cell **out)
{
    const mpi_host_type *ht = mpi_host_type_find(h->h.realm, h->h.aux);
    if (!ht) {
        cfail(c, MP_EDATACLONE, "host object of type %u could not be cloned: no codec registered", (unsigned)h->h.aux);
        return false;
    }
    const mpi_host_type *rt = mpi_host_type_find(c->dst, h->h.aux);
    if (!rt) {
        cfail(c, MP_EDATACLONE, "host type %u has no codec registered in the target realm", (unsigned)h->h.aux);
        return false;
    }
    hostxfer *hx = write_host(c, h, ht, transferring);
    if (!hx) return false;
    void *ptr = NULL;
    mp_status st = rt->hooks.read(rt->ctx, c->dst, hx->payload, &ptr);
    if (st != MP_OK) {
        cfail(c, st, "host type %u: its read hook failed (%s)", (unsigned)h->h.aux, mp_strerror(st));
        return false;
    }
    mpi_host *d = (mpi_host *)mpi_cell_new(c->dst, MP_HOST, sizeof(mpi_host));
    if (!d) return CNOMEM(c), false;
    d->h.aux = h->h.aux;
    d->ptr = ptr;
    *out = &d->h;
    return true;
}

/* Clones a buffer cell (memoised), for a view or on its own. */
static bool
clone_view(cl *c, mpi_view *vw, mpi_cell **out)
{
    mpi_cell *b = vw->buffer;
    mp_value bv;
    if (!clone_object(c, mpi_value_cell((mp_kind)b->kind, b), &bv)) return false;
    size_t esize = vw->h.kind == MP_DATAVIEW ? 1 : mpi_codec_view_esize(vw->h.aux);
    size_t blen;
    (void)mpi_buffer_bytes(b, &blen);
    bool tracking = (vw->h.flags & MPI_VIEW_LENGTH_TRACKING) != 0;
    if (vw->byte_offset > blen || (!tracking && vw->length > (blen - vw->byte_offset) / esize)) {
        cfail(c, MP_EDATACLONE, "%s is out of bounds of its buffer and could not be cloned.",
              vw->h.kind == MP_DATAVIEW ? "DataView" : mp_view_type_name((mp_view_type)vw->h.aux));
        return false;
    }
    mpi_view *d = (mpi_view *)mpi_cell_new(c->dst, (mp_kind)vw->h.kind, sizeof(mpi_view));
    if (!d) return CNOMEM(c), false;
    d->h.aux = vw->h.aux;
    d->h.flags = vw->h.flags & MPI_VIEW_LENGTH_TRACKING;
    d->buffer = bv.u_.cell_;
    d->byte_offset = vw->byte_offset;
    d->length = tracking ? 0 : vw->length;
    *out = &d->h;
    return true;
}

/* Clones an object: the memoised target, or a new one (pushed as a frame
 * when it has children to fill). */
static bool
clone_object(cl *c, mp_value v, mp_value *out)
{
    mpi_cell *s = v.u_.cell_;
    uintptr_t seen;
    mpi_cell *d = NULL;
    if (mpi_idtab_get(&c->memo, s, &seen)) {
        if (!MPI_IS_XFER(seen)) {
            *out = mpi_value_cell((mp_kind)v.kind_, (mpi_cell *)seen);
            return true;
        }
        size_t slot = MPI_XFER_SLOT(seen);
        if (s->kind == MP_ARRAYBUFFER) {
            /* Filled in at the commit; until then it holds no store. */
            mpi_arraybuffer *ab = (mpi_arraybuffer *)mpi_cell_new(c->dst, MP_ARRAYBUFFER, sizeof(mpi_arraybuffer));
            if (!ab) return CNOMEM(c), false;
            c->adopt[slot] = ab;
            d = &ab->h;
        } else if (s->kind == MP_PORT) {
            /* A handle without a core until the commit ships one. */
            mp_value pv;
            if (mpi_port_adopt(c->dst, NULL, &pv) != MP_OK) return CNOMEM(c), false;
            d = pv.u_.cell_;
            c->xfer.entries[slot].payload = d;
        } else {
            if (!clone_host(c, (mpi_host *)s, true, &d)) return false;
            c->xfer.entries[slot].met = true;
        }
        mpi_idtab_replace(&c->memo, s, (uintptr_t)d);
        *out = mpi_value_cell((mp_kind)s->kind, d);
        return true;
    }
    mp_realm *r = c->dst;
    uint8_t push = 0xFF;
    switch ((mp_kind)s->kind) {
    case MP_OBJECT: {
        mpi_object *so = (mpi_object *)s;
        uint32_t n = so->props.live ? so->props.used : 0;
        mpi_object *o = mpi_object_new_cell(r, n <= MPI_OBJECT_INLINE_MAX ? n : 0);
        if (!o) return CNOMEM(c), false;
        d = &o->h;
        if (!memo(c, s, d) || !copy_props(c, &o->props, &so->props)) return false;
        if (so->props.live) push = CF_OBJECT;
        break;
    }
    case MP_ARRAY: {
        mpi_array *sa = (mpi_array *)s;
        mpi_array *a = (mpi_array *)mpi_cell_new(r, MP_ARRAY, sizeof(mpi_array));
        if (!a) return CNOMEM(c), false;
        d = &a->h;
        if (!memo(c, s, d)) return false;
        a->length = sa->length;
        a->count = sa->count;
        if (sa->h.flags & MPI_ARRAY_SPARSE) {
            a->h.flags |= MPI_ARRAY_SPARSE;
            if (sa->count) {
                a->sparse = mpi_realm_alloc(r, (size_t)sa->count * sizeof(mpi_sparse_elem));
                if (!a->sparse) return CNOMEM(c), false;
                for (uint32_t i = 0; i < sa->count; i++) {
                    a->sparse[i].index = sa->sparse[i].index;
                    a->sparse[i].value = mpi_value_simple(MP_UNDEFINED, 0);
                }
                a->cap = sa->count;
            }
        } else if (sa->length) {
            a->elems = mpi_realm_alloc(r, (size_t)sa->length * sizeof(mp_value));
            if (!a->elems) return CNOMEM(c), false;
            a->cap = sa->length;
            a->length = 0; /* grows as elements are filled in: never garbage */
        }
        if (!copy_props(c, &a->props, &sa->props)) return false;
        if (sa->h.flags & MPI_ARRAY_SPARSE) {
            if (sa->count || sa->props.live) push = CF_ARRAY_SPARSE;
        } else if (sa->length || sa->props.live) {
            push = CF_ARRAY_DENSE;
        }
        break;
    }
    case MP_DATE: {
        mpi_date *x = (mpi_date *)mpi_cell_new(r, MP_DATE, sizeof(mpi_date));
        if (!x) return CNOMEM(c), false;
        x->time = ((mpi_date *)s)->time;
        d = &x->h;
        if (!memo(c, s, d)) return false;
        break;
    }
    case MP_REGEXP: {
        mpi_string *src = clone_string(c, ((mpi_regexp *)s)->source);
        if (!src) return false;
        mpi_regexp *x = (mpi_regexp *)mpi_cell_new(r, MP_REGEXP, sizeof(mpi_regexp));
        if (!x) return CNOMEM(c), false;
        x->h.aux = s->aux;
        x->source = src;
        d = &x->h;
        if (!memo(c, s, d)) return false;
        break;
    }
    case MP_MAP:
    case MP_SET: {
        mpi_map *sm = (mpi_map *)s;
        mpi_map *m = (mpi_map *)mpi_cell_new(r, (mp_kind)s->kind, sizeof(mpi_map));
        if (!m) return CNOMEM(c), false;
        d = &m->h;
        if (!memo(c, s, d)) return false;
        if (sm->live) {
            uint32_t cap = 4;
            while (cap < sm->live)
                cap *= 2;
            m->entries = mpi_realm_alloc(r, (size_t)cap * sizeof(mpi_map_entry));
            m->index = mpi_realm_alloc(r, (size_t)cap * 2 * sizeof(uint32_t));
            if (!m->entries || !m->index) {
                mpi_realm_dealloc(r, m->entries, (size_t)cap * sizeof(mpi_map_entry));
                mpi_realm_dealloc(r, m->index, (size_t)cap * 2 * sizeof(uint32_t));
                m->entries = NULL;
                m->index = NULL;
                return CNOMEM(c), false;
            }
            memset(m->index, 0, (size_t)cap * 2 * sizeof(uint32_t));
            m->cap = cap;
            m->index_cap = cap * 2;
            push = s->kind == MP_MAP ? CF_MAP : CF_SET;
        }
        break;
    }
    case MP_ERROR: {
        mpi_error *se = (mpi_error *)s;
        mpi_string *msg = NULL, *stack = NULL;
        if (se->message && !(msg = clone_string(c, se->message))) return false;
        if (se->stack && !(stack = clone_string(c, se->stack))) return false;
        mpi_error *e = (mpi_error *)mpi_cell_new(r, MP_ERROR, sizeof(mpi_error));
        if (!e) return CNOMEM(c), false;
        e->h.aux = s->aux;
        e->message = msg;
        e->stack = stack;
        e->cause = mpi_value_simple(MP_UNDEFINED, 0);
        d = &e->h;
        if (!memo(c, s, d)) return false;
        if (s->flags & MPI_ERROR_HAS_CAUSE) push = CF_ERROR;
        break;
    }
    case MP_BOOLEAN_OBJECT:
    case MP_NUMBER_OBJECT:
    case MP_STRING_OBJECT:
    case MP_BIGINT_OBJECT: {
        mp_value prim;
        if (!clone_primitive(c, ((mpi_boxed *)s)->value, &prim)) return false;
        mpi_boxed *b = (mpi_boxed *)mpi_cell_new(r, (mp_kind)s->kind, sizeof(mpi_boxed));
        if (!b) return CNOMEM(c), false;
        b->value = prim;
        d = &b->h;
        if (!memo(c, s, d)) return false;
        break;
    }
    case MP_ARRAYBUFFER:
        if (!copy_arraybuffer(c, (mpi_arraybuffer *)s, &d) || !memo(c, s, d)) return false;
        break;
    case MP_SHAREDARRAYBUFFER: {
        mpi_sab *x = (mpi_sab *)mpi_cell_new(r, MP_SHAREDARRAYBUFFER, sizeof(mpi_sab));
        if (!x) return CNOMEM(c), false;
        mpi_store_ref(((mpi_sab *)s)->store);
        x->store = ((mpi_sab *)s)->store;
        d = &x->h;
        if (!memo(c, s, d)) return false;
        break;
    }
    case MP_TYPEDARRAY:
    case MP_DATAVIEW:
        if (!clone_view(c, (mpi_view *)s, &d) || !memo(c, s, d)) return false;
        break;
    case MP_HOST:
        if (!clone_host(c, (mpi_host *)s, false, &d) || !memo(c, s, d)) return false;
        break;
    case MP_PORT:
        return cfail(c, MP_EDATACLONE,
                     "Object that needs transfer was found in message but not listed in transferList"),
               false;
    default:
        return cfail(c, MP_EDATACLONE, "value of kind %u could not be cloned.", (unsigned)s->kind), false;
    }
    *out = mpi_value_cell((mp_kind)s->kind, d);
    if (push != 0xFF && !push_frame(c, s, d, push)) return false;
    return true;
}

static inline bool
clone_value(cl *c, mp_value v, mp_value *out)
{
    if (v.kind_ >= MP_OBJECT && v.kind_ < MP_KIND_COUNT_) return clone_ref(c, v, out);
    return clone_primitive(c, v, out);
}

/* Appends an entry to a Map or Set presized for all of them. The source
 * had no two SameValueZero-equal keys, so neither has the clone: no search.
 */
static void
table_append(mpi_map *m, mp_value key, mp_value value)
{
    uint32_t e = m->used++;
    m->entries[e].key = key;
    m->entries[e].value = value;
    m->live++;
    mpi_map_index_insert(m, e, mpi_hash_same_value_zero(key));
}

/* Big Maps and Sets: each insert into a table of many entries waits on a
 * bucket line that misses the cache. The bucket of the source entry
 * TABLE_AHEAD after pos is fetched now when its key is a string whose hash
 * the source cached (a table hashes every string key put in it); the
 * target's hash of a string is the same. Small tables stay in the cache.
 * Always inlined: GCC counts a void function whose only effect is a
 * prefetch as pure and drops its calls. */
#define TABLE_AHEAD 8u
#define TABLE_AHEAD_MIN_BUCKETS 4096u
static inline MPI_ALWAYS_INLINE void
prefetch_bucket_ahead(const mpi_map *dst, const mpi_map *src, uint32_t pos)
{
    if (dst->index_cap < TABLE_AHEAD_MIN_BUCKETS || src->used - pos <= TABLE_AHEAD) return;
    mp_value key = src->entries[pos + TABLE_AHEAD].key;
    if (key.kind_ != MP_STRING) return;
    const mpi_string *s = key.u_.cell_;
    if (s->h.flags & MPI_STR_HASHED) MPI_PREFETCH(&dst->index[s->h.aux & (dst->index_cap - 1)]);
}

/* One step of the top frame. */
static bool
step(cl *c)
{
    size_t fi = c->stack.len - 1;
    cframe *f = mpi_stk_at(&c->stack, fi);
    mp_value v;
    switch (f->kind) {
    case CF_OBJECT: {
        /* Primitive values are copied in this one step; the first object
         * value (which may push a frame) ends it. Values are cloned
         * straight into their slots: one built in a local is stored in two
         * halves and read back in one 16-byte load, which the CPU cannot
         * forward from those stores (a stall per value). */
        mpi_props *sp = &((mpi_object *)f->src)->props;
        mpi_props *dp = &((mpi_object *)f->dst)->props;
        while (f->pos < sp->used) {
            uint32_t i = f->pos++;
            if (!sp->slots[i].key) continue;
            f->last = i;
            mp_value sv = sp->slots[i].value;
            if (sv.kind_ >= MP_OBJECT && sv.kind_ < MP_KIND_COUNT_) {
                return clone_ref(c, sv, &dp->slots[i].value);
            }
            if (!clone_primitive(c, sv, &dp->slots[i].value)) return false;
        }
        break;
    }
    case CF_ARRAY_DENSE:
    case CF_ARRAY_SPARSE: {
        mpi_array *sa = (mpi_array *)f->src, *da = (mpi_array *)f->dst;
        if (f->phase == 0) {
            uint32_t n = f->kind == CF_ARRAY_SPARSE ? sa->count : sa->length;
            if (f->pos < n) {
                uint32_t i = f->last = f->pos++;
                f->last_phase = 0;
                if (f->kind == CF_ARRAY_SPARSE) {
                    if (!clone_value(c, sa->sparse[i].value, &da->sparse[i].value)) return false;
                } else {
                    if (!clone_value(c, sa->elems[i], &da->elems[i])) return false;
                    da->length = i + 1;
                }
                return true;
            }
            f->phase = 1;
            f->pos = 0;
        }
        mpi_props *sp = &sa->props;
        while (f->pos < sp->used && !sp->slots[f->pos].key)
            f->pos++;
        if (f->pos >= sp->used) break;
        uint32_t i = f->last = f->pos++;
        f->last_phase = 1;
        if (!clone_value(c, sp->slots[i].value, &da->props.slots[i].value)) return false;
        return true;
    }
    case CF_MAP:
    case CF_SET: {
        mpi_map *sm = (mpi_map *)f->src;
        if (f->phase == 0) {
            while (f->pos < sm->used && sm->entries[f->pos].key.kind_ == MPI_TAG_EMPTY)
                f->pos++;
            if (f->pos >= sm->used) break;
            f->last = f->pos;
            f->last_phase = 0;
            prefetch_bucket_ahead((const mpi_map *)f->dst, sm, f->pos);
            if (f->kind == CF_MAP) {
                f->phase = 1;
                if (!clone_value(c, sm->entries[f->pos].key, &v)) return false;
                ((cframe *)mpi_stk_at(&c->stack, fi))->pending = v;
                return true;
            }
            f->pos++;
            mpi_cell *dst = f->dst;
            if (!clone_value(c, sm->entries[f->last].key, &v)) return false;
            table_append((mpi_map *)dst, v, mpi_value_simple(MP_UNDEFINED, 0));
            return true;
        }
        f->phase = 0;
        f->last_phase = 1;
        uint32_t i = f->pos++;
        mp_value key = f->pending;
        mpi_cell *dst = f->dst;
        if (!clone_value(c, sm->entries[i].value, &v)) return false;
        table_append((mpi_map *)dst, key, v);
        return true;
    }
    case CF_ERROR: {
        if (f->pos) break;
        f->pos = 1;
        mpi_error *de = (mpi_error *)f->dst;
        if (!clone_value(c, ((mpi_error *)f->src)->cause, &v)) return false;
        de->cause = v;
        de->h.flags |= MPI_ERROR_HAS_CAUSE;
        return true;
    }
    default:
        break;
    }
    c->stack.len--;
    return true;
}

static void
release_hosts(cl *c)
{
    for (size_t i = 0; i < c->hosts.len; i++) {
        hostxfer *hx = mpi_vec_at(&c->hosts, i);
        if (hx->ht->hooks.free_payload) hx->ht->hooks.free_payload(hx->ht->ctx, hx->payload);
    }
    c->hosts.len = 0;
}

static void
cl_destroy(cl *c, const mp_allocator *alc)
{
    release_hosts(c);
    mpi_idtab_destroy(&c->memo);
    mpi_stk_destroy(&c->stack);
    mpi_vec_destroy(&c->hosts);
    mpi_xfer_destroy(&c->xfer);
    mpi_free(alc, c->adopt);
}

mp_status
mp_clone(mp_value v, mp_realm *target, const mp_value *transfer, size_t n_transfer, mp_value *out, mp_error_info *err)
{
    if (!target || !out) return mpi_fail(err, MP_EINVAL, MP_NO_OFFSET, NULL, "target or out is NULL");
    cl cs;
    cl *c = &cs;
    /* Field by field, not a memset of the header (a `rep stos` that the
     * walk's first loads wait for). */
    const mp_allocator *alc = &target->alc;
    c->dst = target;
    c->adopt = NULL;
    c->fail = MP_OK;
    mpi_cell *mark = target->cells;
    c->err = err;
    mpi_cell *root = mpi_cell_of(v);
    c->src = root ? root->realm : NULL;
    mpi_idtab_init(&c->memo, alc);
    mpi_stk_init(&c->stack, alc, sizeof(cframe), c->stack_inline, sizeof c->stack_inline / sizeof c->stack_inline[0]);
    mpi_vec_init(&c->hosts, alc, sizeof(hostxfer));
    mp_status st = mpi_xfer_prepare(&c->xfer, &c->src, transfer, n_transfer, &c->memo, alc, err);
    if (st != MP_OK) {
        cl_destroy(c, alc);
        return st;
    }
    mpi_idtab_use_headers(&c->memo, c->src);
    if (c->xfer.n) {
        c->adopt = mpi_malloc(alc, c->xfer.n * sizeof *c->adopt);
        if (!c->adopt) {
            cl_destroy(c, alc);
            return mpi_fail(err, MP_ENOMEM, MP_NO_OFFSET, NULL, NULL);
        }
        memset(c->adopt, 0, c->xfer.n * sizeof *c->adopt);
    }
    mp_value result = mpi_value_simple(MP_UNDEFINED, 0);
    if (clone_value(c, v, &result)) {
        while (c->stack.len)
            if (!step(c)) break;
    }
    /* Listed host objects the value never mentions still move: written
     * and transferred, their payloads freed unread, as through bytes
     * (where the decoder never reads a payload nothing references). */
    for (size_t i = 0; i < c->xfer.n && c->fail == MP_OK; i++) {
        mpi_xfer_entry *xe = &c->xfer.entries[i];
        if (xe->cell->kind != MP_HOST || xe->met) continue;
        if (write_host(c, (mpi_host *)xe->cell, xe->ht, true)) xe->met = true;
    }
    if (c->fail != MP_OK) {
        st = c->fail;
        cl_destroy(c, alc);
        mpi_realm_rollback(target, mark); /* nothing outside references them */
        return st;
    }
    /* Commit: cannot fail. */
    for (size_t i = 0; i < c->xfer.n; i++) {
        mpi_xfer_entry *xe = &c->xfer.entries[i];
        if (xe->cell->kind == MP_PORT) {
            mpi_port_core *core = mpi_port_ship(xe->cell);
            if (xe->payload)
                mpi_port_fill(xe->payload, core);
            else
                mpi_port_release(core); /* listed but never referenced: closed */
            continue;
        }
        if (xe->cell->kind != MP_ARRAYBUFFER) continue;
        mpi_arraybuffer *ab = (mpi_arraybuffer *)xe->cell;
        mpi_arraybuffer *d = c->adopt[i];
        bool resizable = (ab->h.flags & MPI_AB_RESIZABLE) != 0;
        size_t len = ab->byte_length, max = ab->max_byte_length;
        mpi_store *s = mpi_ab_take_store(ab);
        if (d) {
            d->store = s;
            d->byte_length = len;
            d->max_byte_length = resizable ? max : len;
            if (resizable) d->h.flags |= MPI_AB_RESIZABLE;
        } else {
            mpi_store_unref(s); /* listed but never referenced: released */
        }
    }
    for (size_t i = 0; i < c->hosts.len; i++) {
        hostxfer *hx = mpi_vec_at(&c->hosts, i);
        if (hx->host_ptr && hx->ht->hooks.transfer) hx->ht->hooks.transfer(hx->ht->ctx, hx->host_ptr, hx->payload);
    }
    cl_destroy(c, alc);
    *out = result;
    return MP_OK;
}
