/* ArrayBuffer: a realm's handle on a backing store, fixed or resizable,
 * detachable unless marked otherwise. */
#include "buffer_internal.h"

static mpi_arraybuffer *
ab_of(mp_value v)
{
    return v.kind_ == MP_ARRAYBUFFER ? (mpi_arraybuffer *)v.u_.cell_ : NULL;
}

/* Wraps store s (reference taken over on success) in a new cell. */
static mp_status
ab_wrap(mp_realm *realm, mpi_store *s, size_t byte_length, size_t max_byte_length, bool resizable, mp_value *out)
{
    mpi_arraybuffer *ab = (mpi_arraybuffer *)mpi_cell_new(realm, MP_ARRAYBUFFER, sizeof *ab);
    if (!ab) return MP_ENOMEM;
    ab->store = s;
    ab->byte_length = byte_length;
    ab->max_byte_length = max_byte_length;
    if (resizable) ab->h.flags |= MPI_AB_RESIZABLE;
    *out = mpi_value_cell(MP_ARRAYBUFFER, ab);
    return MP_OK;
}

static mp_status
ab_new(mp_realm *realm, size_t byte_length, size_t max_byte_length, bool resizable, mp_value *out)
{
    if (!realm || !out) return MP_EINVAL;
    if (byte_length > max_byte_length) return MP_ERANGE;
    mpi_store *s;
    mp_status st =
        mpi_store_new(&realm->alc, byte_length, max_byte_length, resizable ? MPI_STORE_GROWABLE : 0, true, &s);
    if (st != MP_OK) return st;
    st = ab_wrap(realm, s, byte_length, max_byte_length, resizable, out);
    if (st != MP_OK) mpi_store_unref(s);
    return st;
}

mp_status
mp_arraybuffer_new(mp_realm *realm, size_t byte_length, mp_value *out)
{
    return ab_new(realm, byte_length, byte_length, false, out);
}

mp_status
mp_arraybuffer_new_resizable(mp_realm *realm, size_t byte_length, size_t max_byte_length, mp_value *out)
{
    return ab_new(realm, byte_length, max_byte_length, true, out);
}

mp_status
mp_arraybuffer_new_external(mp_realm *realm, void *data, size_t byte_length, mp_deleter deleter, void *deleter_ctx,
                            mp_value *out)
{
    if (!realm || !out) return MP_EINVAL;
    mpi_store *s;
    mp_status st = mpi_store_new_external(&realm->alc, data, byte_length, deleter, deleter_ctx, &s);
    if (st != MP_OK) return st;
    st = ab_wrap(realm, s, byte_length, byte_length, false, out);
    if (st != MP_OK) {
        /* The caller still owns the memory: drop the store without it. */
        s->deleter = NULL;
        mpi_store_unref(s);
    }
    return st;
}

mp_status
mp_arraybuffer_data(mp_value v, void **data, size_t *byte_length)
{
    mpi_arraybuffer *ab = ab_of(v);
    if (!ab) return MP_ETYPE;
    /* Detached: NULL and 0, as the length JavaScript reports. */
    if (data) *data = ab->store ? ab->store->data : NULL;
    if (byte_length) *byte_length = ab->store ? ab->byte_length : 0;
    return MP_OK;
}

size_t
mp_arraybuffer_byte_length(mp_value v)
{
    mpi_arraybuffer *ab = ab_of(v);
    return ab ? ab->byte_length : 0;
}

size_t
mp_arraybuffer_max_byte_length(mp_value v)
{
    mpi_arraybuffer *ab = ab_of(v);
    if (!ab) return 0;
    return (ab->h.flags & MPI_AB_RESIZABLE) ? ab->max_byte_length : ab->byte_length;
}

bool
mp_arraybuffer_is_resizable(mp_value v)
{
    mpi_arraybuffer *ab = ab_of(v);
    return ab && (ab->h.flags & MPI_AB_RESIZABLE);
}

bool
mp_arraybuffer_is_detached(mp_value v)
{
    mpi_arraybuffer *ab = ab_of(v);
    return ab && (ab->h.flags & MPI_AB_DETACHED);
}

mp_status
mp_arraybuffer_resize(mp_value v, size_t new_byte_length)
{
    mpi_arraybuffer *ab = ab_of(v);
    if (!ab || !(ab->h.flags & MPI_AB_RESIZABLE)) return MP_ETYPE;
    if (!ab->store) return MP_EDETACHED;
    if (new_byte_length > ab->max_byte_length) return MP_ERANGE;
    size_t old = ab->byte_length;
    /* Bytes past a shrink may hold old data: growing must show zeros. */
    if (new_byte_length > old) memset(ab->store->data + old, 0, new_byte_length - old);
    ab->byte_length = new_byte_length;
    atomic_store_explicit(&ab->store->byte_length, new_byte_length, memory_order_relaxed);
    return MP_OK;
}

mp_status
mp_arraybuffer_detach(mp_value v)
{
    mpi_arraybuffer *ab = ab_of(v);
    if (!ab) return MP_ETYPE;
    if (ab->h.flags & MPI_AB_NOT_DETACHABLE) return MP_ENOTDETACHABLE;
    if (ab->h.flags & MPI_AB_DETACHED) return MP_OK;
    mpi_store *s = ab->store;
    ab->store = NULL;
    ab->byte_length = 0;
    ab->max_byte_length = 0;
    ab->h.flags |= MPI_AB_DETACHED;
    mpi_store_unref(s);
    return MP_OK;
}

mp_status
mp_arraybuffer_set_detachable(mp_value v, bool detachable)
{
    mpi_arraybuffer *ab = ab_of(v);
    if (!ab) return MP_ETYPE;
    if (detachable)
        ab->h.flags &= (uint16_t)~MPI_AB_NOT_DETACHABLE;
    else
        ab->h.flags |= MPI_AB_NOT_DETACHABLE;
    return MP_OK;
}

bool
mp_arraybuffer_is_detachable(mp_value v)
{
    mpi_arraybuffer *ab = ab_of(v);
    return ab && !(ab->h.flags & MPI_AB_NOT_DETACHABLE);
}

/* ---- helpers for views and other layers ----------------------------------- */

uint8_t *
mpi_buffer_bytes(const mpi_cell *buffer, size_t *byte_length)
{
    size_t len = 0;
    uint8_t *data = NULL;
    if (buffer && buffer->kind == MP_ARRAYBUFFER) {
        const mpi_arraybuffer *ab = (const mpi_arraybuffer *)buffer;
        if (ab->store) {
            data = ab->store->data;
            len = ab->byte_length;
        }
    } else if (buffer && buffer->kind == MP_SHAREDARRAYBUFFER) {
        const mpi_sab *sab = (const mpi_sab *)buffer;
        data = sab->store->data;
        /* acquire: pairs with the CAS in mp_sab_grow. */
        len = atomic_load_explicit(&sab->store->byte_length, memory_order_acquire);
    }
    if (byte_length) *byte_length = len;
    return data;
}

bool
mpi_buffer_is_elastic(const mpi_cell *buffer)
{
    if (buffer->kind == MP_ARRAYBUFFER) return (buffer->flags & MPI_AB_RESIZABLE) != 0;
    if (buffer->kind == MP_SHAREDARRAYBUFFER)
        return (((const mpi_sab *)buffer)->store->flags & MPI_STORE_GROWABLE) != 0;
    return false;
}
