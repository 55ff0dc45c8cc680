/* SharedArrayBuffer: one handle per realm on a shared store; the store's
 * atomic length is what every handle sees, so growth is visible everywhere. */
#include "buffer_internal.h"

static mpi_sab *
sab_of(mp_value v)
{
    return v.kind_ == MP_SHAREDARRAYBUFFER ? (mpi_sab *)v.u_.cell_ : NULL;
}

/* Wraps store s (one reference taken over on success). */
static mp_status
sab_wrap(mp_realm *realm, mpi_store *s, mp_value *out)
{
    mpi_sab *sab = (mpi_sab *)mpi_cell_new(realm, MP_SHAREDARRAYBUFFER, sizeof *sab);
    if (!sab) return MP_ENOMEM;
    sab->store = s;
    *out = mpi_value_cell(MP_SHAREDARRAYBUFFER, sab);
    return MP_OK;
}

static mp_status
sab_new(mp_realm *realm, size_t byte_length, size_t max_byte_length, uint32_t flags, mp_value *out)
{
    if (!realm || !out) return MP_EINVAL;
    if (byte_length > max_byte_length) return MP_ERANGE;
    mpi_store *s;
    mp_status st = mpi_store_new(&realm->alc, byte_length, max_byte_length, MPI_STORE_SHARED | flags, true, &s);
    if (st != MP_OK) return st;
    st = sab_wrap(realm, s, out);
    if (st != MP_OK) mpi_store_unref(s);
    return st;
}

mp_status
mp_sab_new(mp_realm *realm, size_t byte_length, mp_value *out)
{
    return sab_new(realm, byte_length, byte_length, 0, out);
}

mp_status
mp_sab_new_growable(mp_realm *realm, size_t byte_length, size_t max_byte_length, mp_value *out)
{
    return sab_new(realm, byte_length, max_byte_length, MPI_STORE_GROWABLE, out);
}

mp_status
mp_sab_share(mp_value v, mp_realm *realm, mp_value *out)
{
    mpi_sab *sab = sab_of(v);
    if (!sab) return MP_ETYPE;
    if (!realm || !out) return MP_EINVAL;
    mpi_store_ref(sab->store);
    mp_status st = sab_wrap(realm, sab->store, out);
    if (st != MP_OK) mpi_store_unref(sab->store);
    return st;
}

mp_status
mp_sab_data(mp_value v, void **data, size_t *byte_length)
{
    mpi_sab *sab = sab_of(v);
    if (!sab) return MP_ETYPE;
    size_t len;
    uint8_t *p = mpi_buffer_bytes(&sab->h, &len);
    if (data) *data = p;
    if (byte_length) *byte_length = len;
    return MP_OK;
}

size_t
mp_sab_byte_length(mp_value v)
{
    mpi_sab *sab = sab_of(v);
    if (!sab) return 0;
    return atomic_load_explicit(&sab->store->byte_length, memory_order_acquire);
}

size_t
mp_sab_max_byte_length(mp_value v)
{
    mpi_sab *sab = sab_of(v);
    if (!sab) return 0;
    if (sab->store->flags & MPI_STORE_GROWABLE) return sab->store->max_byte_length;
    return atomic_load_explicit(&sab->store->byte_length, memory_order_acquire);
}

bool
mp_sab_is_growable(mp_value v)
{
    mpi_sab *sab = sab_of(v);
    return sab && (sab->store->flags & MPI_STORE_GROWABLE);
}

mp_status
mp_sab_grow(mp_value v, size_t new_byte_length)
{
    mpi_sab *sab = sab_of(v);
    if (!sab || !(sab->store->flags & MPI_STORE_GROWABLE)) return MP_ETYPE;
    mpi_store *s = sab->store;
    if (new_byte_length > s->max_byte_length) return MP_ERANGE;
    /* The reserve was zeroed at creation, so growing is only the length;
     * the CAS loop makes concurrent grows never shrink it. */
    size_t cur = atomic_load_explicit(&s->byte_length, memory_order_acquire);
    for (;;) {
        if (new_byte_length < cur) return MP_ERANGE;
        if (new_byte_length == cur) return MP_OK;
        if (atomic_compare_exchange_weak_explicit(&s->byte_length, &cur, new_byte_length, memory_order_acq_rel,
                                                  memory_order_acquire))
            return MP_OK;
    }
}

bool
mp_sab_same_store(mp_value a, mp_value b)
{
    mpi_sab *x = sab_of(a);
    mpi_sab *y = sab_of(b);
    return x && y && x->store == y->store;
}
