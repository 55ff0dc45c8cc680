/* Backing stores: the bytes behind ArrayBuffers and SharedArrayBuffers.
 *
 * A store lives outside every realm and may be dropped on any thread, so it
 * copies the allocator it was made with and counts references atomically. */
#include <sys/mman.h>

#include "buffer_internal.h"

static mpi_store *
store_alloc(const mp_allocator *alc)
{
    mpi_store *s = mpi_malloc(alc, sizeof *s);
    if (!s) return NULL;
    memset(s, 0, sizeof *s);
    atomic_init(&s->refs, 1);
    atomic_init(&s->byte_length, 0);
    s->alc = *alc;
    return s;
}

/* Shared stores get the lock Atomics.wait queues under. */
static mp_status
store_init_shared(mpi_store *s)
{
    if (!(s->flags & MPI_STORE_SHARED)) return MP_OK;
    if (pthread_mutex_init(&s->wait_lock, NULL) != 0) return MP_ETHREAD;
    s->waiters = NULL;
    return MP_OK;
}

/* Reserves cap bytes; 2 MiB and more are aligned to 2 MiB inside an
 * over-allocation so the kernel can back them with huge pages. */
static mp_status
store_reserve(mpi_store *s, size_t cap)
{
    if (cap == 0) return MP_OK;
    if (cap < MPI_HUGE_THRESHOLD) {
        s->alloc_base = mpi_malloc(&s->alc, cap);
        if (!s->alloc_base) return MP_ENOMEM;
        s->data = s->alloc_base;
        return MP_OK;
    }
    if (cap > SIZE_MAX - MPI_HUGE_THRESHOLD) return MP_ENOMEM;
    s->alloc_base = mpi_malloc(&s->alc, cap + MPI_HUGE_THRESHOLD);
    if (!s->alloc_base) return MP_ENOMEM;
    uintptr_t p = (uintptr_t)s->alloc_base;
    p = (p + MPI_HUGE_THRESHOLD - 1) & ~(uintptr_t)(MPI_HUGE_THRESHOLD - 1);
    s->data = (uint8_t *)p;
    s->flags |= MPI_STORE_HUGE;
    mpi_advise_huge(s->data, cap);
    return MP_OK;
}

void
mpi_advise_huge(void *p, size_t n)
{
#ifdef MADV_HUGEPAGE
    uintptr_t lo = ((uintptr_t)p + MPI_HUGE_THRESHOLD - 1) & ~(uintptr_t)(MPI_HUGE_THRESHOLD - 1);
    uintptr_t hi = ((uintptr_t)p + n) & ~(uintptr_t)(MPI_HUGE_THRESHOLD - 1);
    if (hi > lo) (void)madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
#else
    (void)p;
    (void)n;
#endif
}

mp_status
mpi_store_new(const mp_allocator *alc, size_t byte_length, size_t max_byte_length, uint32_t flags, bool zero,
              mpi_store **out)
{
    if (!out) return MP_EINVAL;
    flags &= MPI_STORE_SHARED | MPI_STORE_GROWABLE;
    size_t cap = byte_length;
    if (flags & MPI_STORE_GROWABLE) {
        if (byte_length > max_byte_length) return MP_ERANGE;
        cap = max_byte_length;
    }
    alc = mpi_allocator_or_default(alc);
    mpi_store *s = store_alloc(alc);
    if (!s) return MP_ENOMEM;
    s->flags = flags;
    s->max_byte_length = cap;
    atomic_store_explicit(&s->byte_length, byte_length, memory_order_relaxed);
    mp_status st = store_reserve(s, cap);
    if (st == MP_OK) st = store_init_shared(s);
    if (st != MP_OK) {
        mpi_free(&s->alc, s->alloc_base);
        mpi_free(&s->alc, s);
        return st;
    }
    if (zero) {
        if (cap) memset(s->data, 0, cap);
    } else if ((flags & MPI_STORE_GROWABLE) && cap > byte_length) {
        /* Growth must reveal zeros, and a growable SAB never zero-fills on
         * grow (other threads may read concurrently), so zero the reserve. */
        memset(s->data + byte_length, 0, cap - byte_length);
    }
    *out = s;
    return MP_OK;
}

mp_status
mpi_store_new_external(const mp_allocator *alc, void *data, size_t byte_length, mp_deleter deleter, void *ctx,
                       mpi_store **out)
{
    if (!out || (!data && byte_length)) return MP_EINVAL;
    alc = mpi_allocator_or_default(alc);
    mpi_store *s = store_alloc(alc);
    if (!s) return MP_ENOMEM;
    s->flags = MPI_STORE_EXTERNAL;
    s->data = data;
    s->max_byte_length = byte_length;
    atomic_store_explicit(&s->byte_length, byte_length, memory_order_relaxed);
    s->deleter = deleter;
    s->deleter_ctx = ctx;
    *out = s;
    return MP_OK;
}

void
mpi_store_ref(mpi_store *s)
{
    /* The caller already holds a reference, so no ordering is needed. */
    if (s) atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
}

static void
store_free(mpi_store *s)
{
    if (s->flags & MPI_STORE_SHARED) {
        mpi_waiters_free(s);
        pthread_mutex_destroy(&s->wait_lock);
    }
    if (s->flags & MPI_STORE_EXTERNAL) {
        if (s->deleter)
            s->deleter(s->data, atomic_load_explicit(&s->byte_length, memory_order_relaxed), s->deleter_ctx);
    } else {
        mpi_free(&s->alc, s->alloc_base);
    }
    mp_allocator alc = s->alc;
    mpi_free(&alc, s);
}

void
mpi_store_unref(mpi_store *s)
{
    if (!s) return;
    /* acq_rel: every thread's writes to the bytes happen before the free. */
    if (atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) == 1) store_free(s);
}
