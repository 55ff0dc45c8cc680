/* Pointer-keyed open-addressing hash map for identity tables. */
#include "../internal.h"

static size_t
ptr_hash(const void *p)
{
    uint64_t x = (uint64_t)(uintptr_t)p;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return (size_t)x;
}

void
mpi_ptrmap_init(mpi_ptrmap *m, const mp_allocator *alc)
{
    m->alc = mpi_allocator_or_default(alc);
    m->keys = NULL;
    m->vals = NULL;
    m->cap = 0;
    m->count = 0;
}

void
mpi_ptrmap_destroy(mpi_ptrmap *m)
{
    mpi_free(m->alc, (void *)m->keys);
    mpi_free(m->alc, m->vals);
    m->keys = NULL;
    m->vals = NULL;
    m->cap = m->count = 0;
}

uintptr_t *
mpi_ptrmap_get(const mpi_ptrmap *m, const void *key)
{
    if (!m->cap) return NULL;
    size_t mask = m->cap - 1;
    for (size_t i = ptr_hash(key) & mask;; i = (i + 1) & mask) {
        if (m->keys[i] == key) return &m->vals[i];
        if (!m->keys[i]) return NULL;
    }
}

static void
insert_unchecked(const void **keys, uintptr_t *vals, size_t cap, const void *key, uintptr_t val)
{
    size_t mask = cap - 1;
    size_t i = ptr_hash(key) & mask;
    while (keys[i]) i = (i + 1) & mask;
    keys[i] = key;
    vals[i] = val;
}

mp_status
mpi_ptrmap_reserve(mpi_ptrmap *m, size_t n)
{
    /* load factor at most 1/2 */
    if (n <= m->cap / 2) return MP_OK;
    size_t cap = m->cap ? m->cap : 16;
    while (cap / 2 < n) {
        if (cap > SIZE_MAX / 4 / sizeof(void *)) return MP_ENOMEM;
        cap *= 2;
    }
    const void **keys = mpi_malloc(m->alc, cap * sizeof *keys);
    uintptr_t *vals = mpi_malloc(m->alc, cap * sizeof *vals);
    if (!keys || !vals) {
        mpi_free(m->alc, (void *)keys);
        mpi_free(m->alc, vals);
        return MP_ENOMEM;
    }
    memset((void *)keys, 0, cap * sizeof *keys);
    for (size_t i = 0; i < m->cap; i++)
        if (m->keys[i]) insert_unchecked(keys, vals, cap, m->keys[i], m->vals[i]);
    mpi_free(m->alc, (void *)m->keys);
    mpi_free(m->alc, m->vals);
    m->keys = keys;
    m->vals = vals;
    m->cap = cap;
    return MP_OK;
}

mp_status
mpi_ptrmap_put(mpi_ptrmap *m, const void *key, uintptr_t val)
{
    mp_status st = mpi_ptrmap_reserve(m, m->count + 1);
    if (st != MP_OK) return st;
    insert_unchecked(m->keys, m->vals, m->cap, key, val);
    m->count++;
    return MP_OK;
}
