/* Realms: the allocator every value goes through, with exact accounting. */
#include "value_internal.h"

mp_status
mp_realm_new(const mp_allocator *alc, mp_realm **out)
{
    if (!out) return MP_EINVAL;
    const mp_allocator *a = mpi_allocator_or_default(alc);
    /* The realm struct itself is not counted in bytes: an empty realm
     * reports 0, so tests can compare against a clean baseline. */
    mp_realm *r = mpi_malloc(a, sizeof *r);
    if (!r) return MP_ENOMEM;
    r->alc = *a;
    r->cells = NULL;
    r->cell_count = 0;
    r->bytes = 0;
    r->codec_state = NULL;
    r->codec_free = NULL;
    *out = r;
    return MP_OK;
}

void
mp_realm_free(mp_realm *realm)
{
    if (!realm) return;
    if (realm->codec_free) realm->codec_free(realm);
    mpi_cell *c = realm->cells;
    while (c) {
        mpi_cell *next = c->next;
        mpi_cell_destroy(realm, c);
        c = next;
    }
    mp_allocator a = realm->alc;
    mpi_free(&a, realm);
}

mp_realm_stats
mp_realm_get_stats(const mp_realm *realm)
{
    mp_realm_stats s = {0, 0};
    if (realm) {
        s.values = realm->cell_count;
        s.bytes = realm->bytes;
    }
    return s;
}

void *
mpi_realm_alloc(mp_realm *r, size_t n)
{
    void *p = mpi_malloc(&r->alc, n);
    if (MPI_LIKELY(p != NULL)) r->bytes += n;
    return p;
}

void *
mpi_realm_realloc(mp_realm *r, void *p, size_t old_n, size_t n)
{
    if (!p) return mpi_realm_alloc(r, n);
    void *q = mpi_realloc(&r->alc, p, old_n, n);
    if (MPI_LIKELY(q != NULL)) r->bytes = r->bytes - old_n + n;
    return q;
}

void
mpi_realm_dealloc(mp_realm *r, void *p, size_t n)
{
    if (!p) return;
    r->bytes -= n;
    r->alc.free(r->alc.ctx, p);
}

mpi_cell *
mpi_cell_new_partial(mp_realm *r, mp_kind kind, size_t size, size_t zeroed)
{
    mpi_cell *c = mpi_realm_alloc(r, size);
    if (MPI_UNLIKELY(!c)) return NULL;
    memset(c, 0, zeroed);
    c->realm = r;
    c->kind = (uint8_t)kind;
    c->next = r->cells;
    r->cells = c;
    r->cell_count++;
    return c;
}

mpi_cell *
mpi_cell_new(mp_realm *r, mp_kind kind, size_t size)
{
    return mpi_cell_new_partial(r, kind, size, size);
}

mp_realm *
mp_value_realm(mp_value v)
{
    return mpi_realm_of(v);
}
