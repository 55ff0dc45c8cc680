/* Helpers private to the values layer (src/value/). */
#ifndef MSGPORT_VALUE_INTERNAL_H
#define MSGPORT_VALUE_INTERNAL_H

#include "../internal.h"

/* The realm of a value's cell, or NULL for primitives. */
static inline mp_realm *
mpi_realm_of(mp_value v)
{
    mpi_cell *c = mpi_cell_of(v);
    return c ? c->realm : NULL;
}

/* MP_EREALM if v has a cell from another realm than r. */
static inline mp_status
mpi_check_realm(mp_realm *r, mp_value v)
{
    mpi_cell *c = mpi_cell_of(v);
    return (c && c->realm != r) ? MP_EREALM : MP_OK;
}

/* The cell of v if v is of `kind`, else NULL. */
static inline void *
mpi_cell_if(mp_value v, mp_kind kind)
{
    return (v.kind_ == (uint32_t)kind) ? v.u_.cell_ : NULL;
}

static inline size_t
mpi_string_size(size_t len, bool wide)
{
    return offsetof(mpi_string, u) + (wide ? 2 * len : len + 1);
}

static inline mp_value
mpi_string_value(mpi_string *s)
{
    return mpi_value_cell(MP_STRING, s);
}

/* mpi_cell_new_partial (src/internal.h) zeroes only the first `zeroed`
 * bytes (>= the header): for payloads the caller overwrites at once (string
 * units, BigInt words). */

/* Bytes a cell occupies (the size given to mpi_cell_new). */
size_t mpi_cell_size(const mpi_cell *c);
/* Frees a cell and everything it owns, without unlinking it. */
void mpi_cell_destroy(mp_realm *r, mpi_cell *c);

/* After every cell of r was dropped (freed by cell_free in gc.c with
 * `all`, which frees only large blocks, or not visited at all): gives back
 * every chunk but the current one, which is emptied, and sets the byte
 * count to 0. */
void mpi_realm_reset_arena(mp_realm *r);
/* Frees every large block of r, whatever cell it belongs to: for a
 * collection that drops every cell without visiting them. */
void mpi_realm_free_large(mp_realm *r);
/* Frees the realm's atom table and atoms (mp_realm_free). */
void mpi_atoms_free(mp_realm *r);

/* Undoes the mpi_cell_new that made c, which must still be the newest
 * cell of r (a failed call frees what it allocated). */
static inline void
mpi_cell_discard_newest(mp_realm *r, mpi_cell *c)
{
    r->cells = c->next;
    mpi_cell_destroy(r, c);
}

/* A new string cell from UTF-16 units with the narrow/ASCII choice made. */
mp_status mpi_string_new_units(mp_realm *r, const uint16_t *units, size_t len, mpi_string **out);

/* A string cell with the same contents as s (which may be temporary). */
mp_status mpi_string_clone(mp_realm *r, const mpi_string *s, mpi_string **out);

/* A string laid out in caller storage for lookups that must not allocate
 * (e.g. a property key given as UTF-8). `buf` of `cap` bytes is used when
 * large enough, else memory from the realm's allocator (*heap set; free
 * with mpi_tmp_string_free). MP_EINVAL for bad UTF-8. */
mp_status mpi_tmp_string_from_utf8(mp_realm *r, const char *utf8, size_t len, void *buf, size_t cap, mpi_string **out,
                                   bool *heap);
void mpi_tmp_string_free(mp_realm *r, mpi_string *s, bool heap);

/* Array index key: canonical "0".."4294967294". */
bool mpi_string_array_index(const mpi_string *s, uint32_t *index);

/* Props */
mp_status mpi_props_delete(mp_realm *r, mpi_props *p, const mpi_string *key);
bool mpi_props_next(const mpi_props *p, size_t *cursor, mp_value *key, mp_value *value);

/* Array internals used by the object calls. */
mp_status mpi_array_get(mpi_array *a, uint32_t index, mp_value *out);
mp_status mpi_array_set(mpi_array *a, uint32_t index, mp_value value);
void mpi_array_delete(mpi_array *a, uint32_t index);
bool mpi_array_has(const mpi_array *a, uint32_t index);
/* Next present element in index order: *pos is the dense index or the
 * sparse pair position, starting at 0. False at the end. */
bool mpi_array_next(const mpi_array *a, uint32_t *pos, uint32_t *index, mp_value *value);

#endif
