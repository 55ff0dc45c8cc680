/* Arrays: dense (one slot per index, holes tagged MPI_TAG_HOLE) while most
 * indices are present, else sparse (sorted index/value pairs), so memory
 * follows the elements present, not the length. A sparse array turns dense
 * once a dense vector would cost no more than its pairs; a dense one turns
 * sparse when a write or a new length would leave it mostly holes. */
#include "value_internal.h"

#define DENSE_MIN 64u /* below this length density does not matter */

static inline bool
is_sparse(const mpi_array *a)
{
    return (a->h.flags & MPI_ARRAY_SPARSE) != 0;
}

/* Dense storage for `length` slots would be mostly holes. */
static inline bool
too_sparse(uint64_t length, uint64_t count)
{
    return length > DENSE_MIN && length / 4 > count;
}

/* A dense vector (16 bytes a slot) costs no more than the pairs (24 bytes). */
static inline bool
dense_enough(uint64_t length, uint64_t count)
{
    return 2 * length <= 3 * count;
}

mp_status
mp_array_new(mp_realm *realm, uint64_t length, mp_value *out)
{
    if (!realm || !out) return MP_EINVAL;
    if (length > MP_ARRAY_MAX_LENGTH) return MP_ERANGE;
    mpi_array *a = (mpi_array *)mpi_cell_new(realm, MP_ARRAY, sizeof(mpi_array));
    if (!a) return MP_ENOMEM;
    a->length = (uint32_t)length;
    /* All holes: no pairs yet, so no memory for the length. */
    if (length) a->h.flags |= MPI_ARRAY_SPARSE;
    *out = mpi_value_cell(MP_ARRAY, a);
    return MP_OK;
}

/* Position of index in the pairs, or where it would go. */
static uint32_t
sparse_find(const mpi_array *a, uint32_t index, bool *found)
{
    uint32_t lo = 0, hi = a->count;
    if (hi && a->sparse[hi - 1].index < index) {
        *found = false;
        return hi;
    }
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (a->sparse[mid].index < index)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = lo < a->count && a->sparse[lo].index == index;
    return lo;
}

static mp_status
dense_reserve(mpi_array *a, uint64_t need)
{
    if (need <= a->cap) return MP_OK;
    uint64_t cap = (uint64_t)a->cap + a->cap / 2;
    if (cap < need) cap = need;
    if (cap < 8) cap = 8;
    if (cap > UINT32_MAX) cap = UINT32_MAX;
    mp_value *e =
        mpi_realm_realloc(a->h.realm, a->elems, (size_t)a->cap * sizeof(mp_value), (size_t)cap * sizeof(mp_value));
    if (!e) return MP_ENOMEM;
    a->elems = e;
    a->cap = (uint32_t)cap;
    return MP_OK;
}

static mp_status
sparse_reserve(mpi_array *a, uint64_t need)
{
    if (need <= a->cap) return MP_OK;
    uint64_t cap = (uint64_t)a->cap * 2;
    if (cap < need) cap = need;
    if (cap < 4) cap = 4;
    if (cap > UINT32_MAX) cap = UINT32_MAX;
    mpi_sparse_elem *s = mpi_realm_realloc(a->h.realm, a->sparse, (size_t)a->cap * sizeof(mpi_sparse_elem),
                                           (size_t)cap * sizeof(mpi_sparse_elem));
    if (!s) return MP_ENOMEM;
    a->sparse = s;
    a->cap = (uint32_t)cap;
    return MP_OK;
}

/* Dense -> sparse with room for `extra` more pairs. */
static mp_status
to_sparse(mpi_array *a, uint32_t extra)
{
    mp_realm *r = a->h.realm;
    uint64_t cap = (uint64_t)a->count + extra;
    if (cap < 4) cap = 4;
    mpi_sparse_elem *s = mpi_realm_alloc(r, (size_t)cap * sizeof(mpi_sparse_elem));
    if (!s) return MP_ENOMEM;
    uint32_t n = 0;
    for (uint32_t i = 0; i < a->length; i++)
        if (!mpi_is_hole(a->elems[i])) {
            s[n].index = i;
            s[n].value = a->elems[i];
            n++;
        }
    mpi_realm_dealloc(r, a->elems, (size_t)a->cap * sizeof(mp_value));
    a->elems = NULL;
    a->sparse = s;
    a->cap = (uint32_t)cap;
    a->count = n;
    a->h.flags |= MPI_ARRAY_SPARSE;
    return MP_OK;
}

/* Sparse -> dense; on allocation failure the array simply stays sparse. */
static void
to_dense(mpi_array *a)
{
    mp_realm *r = a->h.realm;
    size_t cap = a->length < 8 ? 8 : a->length;
    mp_value *e = mpi_realm_alloc(r, cap * sizeof(mp_value));
    if (!e) return;
    for (uint32_t i = 0; i < a->length; i++)
        e[i] = mpi_hole();
    for (uint32_t i = 0; i < a->count; i++)
        e[a->sparse[i].index] = a->sparse[i].value;
    mpi_realm_dealloc(r, a->sparse, (size_t)a->cap * sizeof(mpi_sparse_elem));
    a->sparse = NULL;
    a->elems = e;
    a->cap = (uint32_t)cap;
    a->h.flags &= (uint16_t)~MPI_ARRAY_SPARSE;
}

mp_status
mpi_array_set(mpi_array *a, uint32_t index, mp_value value)
{
    if (index == UINT32_MAX) return MP_ERANGE;
    if (!is_sparse(a)) {
        if (index < a->length) {
            if (mpi_is_hole(a->elems[index])) a->count++;
            a->elems[index] = value;
            return MP_OK;
        }
        uint64_t len = (uint64_t)index + 1;
        if (too_sparse(len, (uint64_t)a->count + 1)) {
            mp_status st = to_sparse(a, 1);
            if (st != MP_OK) return st;
            /* fall through to the sparse path */
        } else {
            mp_status st = dense_reserve(a, len);
            if (st != MP_OK) return st;
            for (uint32_t i = a->length; i < index; i++)
                a->elems[i] = mpi_hole();
            a->elems[index] = value;
            a->length = (uint32_t)len;
            a->count++;
            return MP_OK;
        }
    }
    bool found;
    uint32_t pos = sparse_find(a, index, &found);
    if (found) {
        a->sparse[pos].value = value;
        return MP_OK;
    }
    mp_status st = sparse_reserve(a, (uint64_t)a->count + 1);
    if (st != MP_OK) return st;
    if (pos < a->count)
        memmove(&a->sparse[pos + 1], &a->sparse[pos], (size_t)(a->count - pos) * sizeof(mpi_sparse_elem));
    a->sparse[pos].index = index;
    a->sparse[pos].value = value;
    a->count++;
    if (index >= a->length) a->length = index + 1;
    if (dense_enough(a->length, a->count)) to_dense(a);
    return MP_OK;
}

mp_status
mpi_array_get(mpi_array *a, uint32_t index, mp_value *out)
{
    if (!is_sparse(a)) {
        if (index < a->length && !mpi_is_hole(a->elems[index])) {
            if (out) *out = a->elems[index];
            return MP_OK;
        }
    } else {
        bool found;
        uint32_t pos = sparse_find(a, index, &found);
        if (found) {
            if (out) *out = a->sparse[pos].value;
            return MP_OK;
        }
    }
    if (out) *out = mp_undefined();
    return MP_ENOTFOUND;
}

bool
mpi_array_has(const mpi_array *a, uint32_t index)
{
    if (!is_sparse(a)) return index < a->length && !mpi_is_hole(a->elems[index]);
    bool found;
    (void)sparse_find(a, index, &found);
    return found;
}

void
mpi_array_delete(mpi_array *a, uint32_t index)
{
    if (!is_sparse(a)) {
        if (index < a->length && !mpi_is_hole(a->elems[index])) {
            a->elems[index] = mpi_hole();
            a->count--;
        }
        return;
    }
    bool found;
    uint32_t pos = sparse_find(a, index, &found);
    if (!found) return;
    memmove(&a->sparse[pos], &a->sparse[pos + 1], (size_t)(a->count - pos - 1) * sizeof(mpi_sparse_elem));
    a->count--;
}

static mpi_array *
array_of(mp_value v)
{
    return mpi_cell_if(v, MP_ARRAY);
}

uint32_t
mp_array_length(mp_value arr)
{
    mpi_array *a = array_of(arr);
    return a ? a->length : 0;
}

mp_status
mp_array_set_length(mp_value arr, uint64_t length)
{
    mpi_array *a = array_of(arr);
    if (!a) return MP_ETYPE;
    if (length > MP_ARRAY_MAX_LENGTH) return MP_ERANGE;
    uint32_t n = (uint32_t)length;
    if (n == a->length) return MP_OK;
    if (n < a->length) {
        if (!is_sparse(a)) {
            for (uint32_t i = n; i < a->length; i++)
                if (!mpi_is_hole(a->elems[i])) a->count--;
            a->length = n;
            /* Give back most of a vector that shrank a lot (best effort). */
            if (a->cap > 64 && a->cap / 4 > n) {
                uint32_t cap = n < 8 ? 8 : n;
                mp_value *e = mpi_realm_realloc(a->h.realm, a->elems, (size_t)a->cap * sizeof(mp_value),
                                                (size_t)cap * sizeof(mp_value));
                if (e) {
                    a->elems = e;
                    a->cap = cap;
                }
            }
        } else {
            bool found;
            a->count = sparse_find(a, n, &found);
            a->length = n;
        }
        return MP_OK;
    }
    if (!is_sparse(a)) {
        if (too_sparse(n, a->count)) {
            mp_status st = to_sparse(a, 0);
            if (st != MP_OK) return st;
        } else {
            mp_status st = dense_reserve(a, n);
            if (st != MP_OK) return st;
            for (uint32_t i = a->length; i < n; i++)
                a->elems[i] = mpi_hole();
        }
    }
    a->length = n;
    return MP_OK;
}

mp_status
mp_array_get(mp_value arr, uint32_t index, mp_value *out)
{
    mpi_array *a = array_of(arr);
    if (!a) return MP_ETYPE;
    return mpi_array_get(a, index, out);
}

mp_status
mp_array_set(mp_value arr, uint32_t index, mp_value value)
{
    mpi_array *a = array_of(arr);
    if (!a) return MP_ETYPE;
    if (mpi_check_realm(a->h.realm, value)) return MP_EREALM;
    return mpi_array_set(a, index, value);
}

mp_status
mp_array_push(mp_value arr, mp_value value)
{
    mpi_array *a = array_of(arr);
    if (!a) return MP_ETYPE;
    if (mpi_check_realm(a->h.realm, value)) return MP_EREALM;
    if (a->length == UINT32_MAX) return MP_ERANGE;
    return mpi_array_set(a, a->length, value);
}

mp_status
mp_array_delete(mp_value arr, uint32_t index)
{
    mpi_array *a = array_of(arr);
    if (!a) return MP_ETYPE;
    mpi_array_delete(a, index);
    return MP_OK;
}

bool
mpi_array_next(const mpi_array *a, uint32_t *pos, uint32_t *index, mp_value *value)
{
    if (a->h.flags & MPI_ARRAY_SPARSE) {
        if (*pos >= a->count) return false;
        const mpi_sparse_elem *e = &a->sparse[(*pos)++];
        *index = e->index;
        *value = e->value;
        return true;
    }
    while (*pos < a->length) {
        uint32_t i = (*pos)++;
        if (mpi_is_hole(a->elems[i])) continue;
        *index = i;
        *value = a->elems[i];
        return true;
    }
    return false;
}

bool
mp_array_next(mp_value arr, size_t *cursor, uint32_t *index, mp_value *value)
{
    mpi_array *a = array_of(arr);
    if (!a || !cursor || *cursor > UINT32_MAX) return false;
    uint32_t pos = (uint32_t)*cursor, i;
    mp_value v;
    bool found = mpi_array_next(a, &pos, &i, &v);
    *cursor = pos;
    if (found) {
        if (index) *index = i;
        if (value) *value = v;
    }
    return found;
}

size_t
mp_array_element_count(mp_value arr)
{
    mpi_array *a = array_of(arr);
    return a ? a->count : 0;
}
