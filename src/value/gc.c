/* Per-kind cell sizes, destruction, child enumeration, and mark-sweep
 * collection with an intrusive gray stack (no allocation, no recursion). */
#include "../port/port_internal.h"
#include "value_internal.h"

size_t
mpi_cell_size(const mpi_cell *c)
{
    switch ((mp_kind)c->kind) {
    case MP_STRING: {
        const mpi_string *s = (const mpi_string *)c;
        return mpi_string_size(s->length, (c->flags & MPI_STR_WIDE) != 0);
    }
    case MP_BIGINT:
        return sizeof(mpi_bigint) + ((const mpi_bigint *)c)->count * sizeof(uint64_t);
    case MP_OBJECT:
        return mpi_object_size(((const mpi_object *)c)->props.inline_cap);
    case MP_ARRAY:
        return sizeof(mpi_array);
    case MP_DATE:
        return sizeof(mpi_date);
    case MP_REGEXP:
        return sizeof(mpi_regexp);
    case MP_MAP:
    case MP_SET:
        return sizeof(mpi_map);
    case MP_ERROR:
        return sizeof(mpi_error);
    case MP_BOOLEAN_OBJECT:
    case MP_NUMBER_OBJECT:
    case MP_STRING_OBJECT:
    case MP_BIGINT_OBJECT:
        return sizeof(mpi_boxed);
    case MP_ARRAYBUFFER:
        return sizeof(mpi_arraybuffer);
    case MP_SHAREDARRAYBUFFER:
        return sizeof(mpi_sab);
    case MP_TYPEDARRAY:
    case MP_DATAVIEW:
        return sizeof(mpi_view);
    case MP_HOST:
        return sizeof(mpi_host);
    case MP_PORT:
        return sizeof(mpi_port); /* layout: src/port/port_internal.h */
    default:
        return sizeof(mpi_cell);
    }
}

/* Frees a block of a cell being destroyed; when the whole realm is being
 * emptied (all), only large blocks are freed one by one: the chunks go
 * afterwards, at once (mpi_realm_reset_arena). */
static inline void
drop_block(mp_realm *r, void *p, size_t n, bool all)
{
    if (!all)
        mpi_realm_dealloc(r, p, n);
    else if (p && mpi_block_is_large(p))
        mpi_realm_dealloc_slow(r, p, n);
}

/* A property table's vectors, freed with the cell that holds it (inline
 * slots go with the object's block). */
static inline void
props_free(mp_realm *r, mpi_props *p, bool all)
{
    if (!mpi_props_slots_inline(p)) drop_block(r, p->slots, (size_t)p->cap * sizeof(mpi_prop), all);
    drop_block(r, p->hash, (size_t)p->hash_cap * sizeof(uint32_t), all);
}

static inline void
cell_free(mp_realm *r, mpi_cell *c, bool all)
{
    /* The size is worked out in the same switch (a second one through
     * mpi_cell_size cost as much as the rest, per cell, when a collection
     * frees a whole decoded message). */
    size_t size;
    switch ((mp_kind)c->kind) {
    case MP_STRING:
        size = mpi_string_size(((mpi_string *)c)->length, (c->flags & MPI_STR_WIDE) != 0);
        break;
    case MP_OBJECT:
        props_free(r, &((mpi_object *)c)->props, all);
        size = mpi_object_size(((mpi_object *)c)->props.inline_cap);
        break;
    case MP_ARRAY: {
        mpi_array *a = (mpi_array *)c;
        if (c->flags & MPI_ARRAY_SPARSE)
            drop_block(r, a->sparse, (size_t)a->cap * sizeof(mpi_sparse_elem), all);
        else
            drop_block(r, a->elems, (size_t)a->cap * sizeof(mp_value), all);
        props_free(r, &a->props, all);
        size = sizeof(mpi_array);
        break;
    }
    case MP_MAP:
    case MP_SET: {
        mpi_map *m = (mpi_map *)c;
        drop_block(r, m->entries, (size_t)m->cap * sizeof(mpi_map_entry), all);
        drop_block(r, m->index, (size_t)m->index_cap * sizeof(uint32_t), all);
        size = sizeof(mpi_map);
        break;
    }
    case MP_ARRAYBUFFER:
        mpi_store_unref(((mpi_arraybuffer *)c)->store);
        size = sizeof(mpi_arraybuffer);
        break;
    case MP_SHAREDARRAYBUFFER:
        mpi_store_unref(((mpi_sab *)c)->store);
        size = sizeof(mpi_sab);
        break;
    case MP_PORT:
        /* A freed, still entangled port closes, as Node's GC of a port. */
        mpi_port_handle_destroy((mpi_port *)c);
        size = sizeof(mpi_port);
        break;
    default:
        /* views, hosts and leaves own nothing beyond the cell */
        size = mpi_cell_size(c);
        break;
    }
    r->cell_count--;
    if (mpi_kind_owns_outside((mp_kind)c->kind)) r->outside_owners--;
    drop_block(r, c, size, all);
}

void
mpi_cell_destroy(mp_realm *r, mpi_cell *c)
{
    cell_free(r, c, false);
}

static void
props_children(const mpi_props *p, mpi_child_fn fn, void *ctx)
{
    for (uint32_t i = 0; i < p->used; i++) {
        const mpi_prop *s = &p->slots[i];
        if (!s->key) continue;
        fn(ctx, mpi_string_value(s->key));
        fn(ctx, s->value);
    }
}

void
mpi_cell_children(mpi_cell *c, mpi_child_fn fn, void *ctx)
{
    switch ((mp_kind)c->kind) {
    case MP_OBJECT:
        props_children(&((mpi_object *)c)->props, fn, ctx);
        break;
    case MP_ARRAY: {
        mpi_array *a = (mpi_array *)c;
        if (c->flags & MPI_ARRAY_SPARSE) {
            for (uint32_t i = 0; i < a->count; i++)
                fn(ctx, a->sparse[i].value);
        } else {
            for (uint32_t i = 0; i < a->length; i++)
                if (!mpi_is_hole(a->elems[i])) fn(ctx, a->elems[i]);
        }
        props_children(&a->props, fn, ctx);
        break;
    }
    case MP_REGEXP: {
        mpi_regexp *re = (mpi_regexp *)c;
        if (re->source) fn(ctx, mpi_string_value(re->source));
        break;
    }
    case MP_MAP:
    case MP_SET: {
        mpi_map *m = (mpi_map *)c;
        bool is_map = c->kind == MP_MAP;
        for (uint32_t i = 0; i < m->used; i++) {
            const mpi_map_entry *e = &m->entries[i];
            if (e->key.kind_ == MPI_TAG_EMPTY) continue;
            fn(ctx, e->key);
            if (is_map) fn(ctx, e->value);
        }
        break;
    }
    case MP_ERROR: {
        mpi_error *e = (mpi_error *)c;
        if (e->message) fn(ctx, mpi_string_value(e->message));
        if (e->stack) fn(ctx, mpi_string_value(e->stack));
        if (c->flags & MPI_ERROR_HAS_CAUSE) fn(ctx, e->cause);
        break;
    }
    case MP_BOOLEAN_OBJECT:
    case MP_NUMBER_OBJECT:
    case MP_STRING_OBJECT:
    case MP_BIGINT_OBJECT:
        fn(ctx, ((mpi_boxed *)c)->value);
        break;
    case MP_TYPEDARRAY:
    case MP_DATAVIEW: {
        mpi_view *v = (mpi_view *)c;
        if (v->buffer) fn(ctx, mpi_value_cell((mp_kind)v->buffer->kind, v->buffer));
        break;
    }
    default:
        break; /* strings, BigInts, dates, buffers, hosts: leaves */
    }
}

/* ---- collection ---------------------------------------------------------- */

typedef struct mark_ctx {
    mp_realm *realm;
    mpi_cell *stack; /* top of the gray stack, linked through cell->gray */
    size_t marked;
} mark_ctx;

static inline void
gray(mark_ctx *m, mpi_cell *c)
{
    /* Cells of other realms are never ours to mark (they cannot be
     * referenced anyway, but roots may name them). */
    if (!c || c->marked || c->realm != m->realm) return;
    c->marked = 1;
    m->marked++;
    c->gray = m->stack;
    m->stack = c;
}

static void
gray_child(void *ctx, mp_value v)
{
    gray(ctx, mpi_cell_of(v));
}

void
mp_realm_collect(mp_realm *realm, const mp_value *roots, size_t n)
{
    /* Called from a host hook while the codec walks this realm: the walk
     * holds its marks in the cells' gray fields and references values the
     * roots may not reach. Nothing is freed until it is over. */
    if (!realm || realm->walking) return;
    mark_ctx m = {realm, NULL, 0};
    for (size_t i = 0; i < n; i++)
        gray(&m, mpi_cell_of(roots[i]));
    while (m.stack) {
        mpi_cell *c = m.stack;
        m.stack = c->gray;
        c->gray = NULL;
        mpi_cell_children(c, gray_child, &m);
    }
    if (m.marked == 0) {
        /* Nothing survives (a realm emptied between messages): the chunks
         * and large blocks go at once. Cells are visited only if one owns
         * something outside the realm: otherwise dropping a decoded
         * message does not read every cell of it again. */
        if (realm->outside_owners == 0) {
            realm->cell_count = 0;
            mpi_realm_free_large(realm);
        } else {
            mpi_cell *c = realm->cells;
            while (c) {
                mpi_cell *next = c->next;
                cell_free(realm, c, true);
                c = next;
            }
        }
        realm->cells = NULL;
        mpi_realm_reset_arena(realm);
        return;
    }
    mpi_cell **link = &realm->cells;
    while (*link) {
        mpi_cell *c = *link;
        if (c->marked) {
            c->marked = 0;
            link = &c->next;
        } else {
            *link = c->next;
            mpi_cell_destroy(realm, c);
        }
    }
}
