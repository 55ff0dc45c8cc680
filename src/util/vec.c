/* A growable array of fixed-size elements: the explicit work stacks. */
#include "../internal.h"

void
mpi_vec_init(mpi_vec *v, const mp_allocator *alc, size_t elem_size)
{
    v->alc = mpi_allocator_or_default(alc);
    v->data = NULL;
    v->len = v->cap = 0;
    v->elem = elem_size;
}

void
mpi_vec_destroy(mpi_vec *v)
{
    mpi_free(v->alc, v->data);
    v->data = NULL;
    v->len = v->cap = 0;
}

void *
mpi_vec_push(mpi_vec *v)
{
    if (v->len == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 64;
        if (cap > SIZE_MAX / v->elem) return NULL;
        uint8_t *d = mpi_realloc(v->alc, v->data, v->cap * v->elem, cap * v->elem);
        if (!d) return NULL;
        v->data = d;
        v->cap = cap;
    }
    return v->data + v->len++ * v->elem;
}
