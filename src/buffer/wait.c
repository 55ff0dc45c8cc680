/* Atomics.wait / Atomics.notify.
 *
 * Each shared store has its own waiter table under its wait_lock: hash
 * buckets of per-address queues, each a FIFO of waiters. A waiter lives on
 * the waiting thread's stack with its own condition variable on the
 * monotonic clock. The notifier dequeues the waiter and sets `notified`
 * under the lock, so a wake-up without it is spurious and goes back to
 * sleep. The mutex is also what orders the notifier's earlier writes before
 * the waiter's later reads. */
#include <errno.h>
#include <time.h>

#include "buffer_internal.h"

typedef struct mpi_waiter {
    pthread_cond_t cond;
    struct mpi_waiter *prev;
    struct mpi_waiter *next;
    bool notified;
} mpi_waiter;

typedef struct mpi_wait_queue {
    struct mpi_wait_queue *chain; /* next queue in the bucket, or in the spare list */
    const void *addr;
    mpi_waiter *head; /* oldest */
    mpi_waiter *tail;
} mpi_wait_queue;

struct mpi_waiter_table {
    mpi_wait_queue **buckets;
    size_t nbuckets;       /* power of two */
    size_t nqueues;        /* queues in the buckets */
    mpi_wait_queue *spare; /* emptied queues kept for reuse */
};

#define MPI_WAIT_BUCKETS_MIN 16

static size_t
addr_hash(const void *addr, size_t nbuckets)
{
    uint64_t x = (uint64_t)(uintptr_t)addr;
    x ^= x >> 29;
    x *= UINT64_C(0x9e3779b97f4a7c15);
    x ^= x >> 32;
    return (size_t)x & (nbuckets - 1);
}

void
mpi_waiters_free(mpi_store *s)
{
    mpi_waiter_table *t = s->waiters;
    if (!t) return;
    for (size_t i = 0; i < t->nbuckets; i++) {
        mpi_wait_queue *q = t->buckets[i];
        while (q) {
            mpi_wait_queue *next = q->chain;
            mpi_free(&s->alc, q);
            q = next;
        }
    }
    while (t->spare) {
        mpi_wait_queue *next = t->spare->chain;
        mpi_free(&s->alc, t->spare);
        t->spare = next;
    }
    mpi_free(&s->alc, t->buckets);
    mpi_free(&s->alc, t);
    s->waiters = NULL;
}

/* Under wait_lock. */
static mp_status
table_get(mpi_store *s, mpi_waiter_table **out)
{
    if (!s->waiters) {
        mpi_waiter_table *t = mpi_malloc(&s->alc, sizeof *t);
        if (!t) return MP_ENOMEM;
        t->buckets = mpi_malloc(&s->alc, MPI_WAIT_BUCKETS_MIN * sizeof *t->buckets);
        if (!t->buckets) {
            mpi_free(&s->alc, t);
            return MP_ENOMEM;
        }
        memset(t->buckets, 0, MPI_WAIT_BUCKETS_MIN * sizeof *t->buckets);
        t->nbuckets = MPI_WAIT_BUCKETS_MIN;
        t->nqueues = 0;
        t->spare = NULL;
        s->waiters = t;
    }
    *out = s->waiters;
    return MP_OK;
}

/* Keeps chains short when many addresses have waiters; a failed
 * allocation only leaves the chains longer. */
static void
table_maybe_grow(mpi_store *s, mpi_waiter_table *t)
{
    if (t->nqueues <= 2 * t->nbuckets || t->nbuckets > SIZE_MAX / 2 / sizeof *t->buckets) return;
    size_t n = t->nbuckets * 2;
    mpi_wait_queue **b = mpi_malloc(&s->alc, n * sizeof *b);
    if (!b) return;
    memset(b, 0, n * sizeof *b);
    for (size_t i = 0; i < t->nbuckets; i++) {
        mpi_wait_queue *q = t->buckets[i];
        while (q) {
            mpi_wait_queue *next = q->chain;
            size_t h = addr_hash(q->addr, n);
            q->chain = b[h];
            b[h] = q;
            q = next;
        }
    }
    mpi_free(&s->alc, t->buckets);
    t->buckets = b;
    t->nbuckets = n;
}

static mpi_wait_queue *
queue_find(mpi_waiter_table *t, const void *addr, mpi_wait_queue ***link)
{
    mpi_wait_queue **l = &t->buckets[addr_hash(addr, t->nbuckets)];
    while (*l && (*l)->addr != addr)
        l = &(*l)->chain;
    if (link) *link = l;
    return *l;
}

/* Under wait_lock: the queue for addr, made if absent. */
static mp_status
queue_get(mpi_store *s, mpi_waiter_table *t, const void *addr, mpi_wait_queue **out)
{
    mpi_wait_queue **link;
    mpi_wait_queue *q = queue_find(t, addr, &link);
    if (!q) {
        if (t->spare) {
            q = t->spare;
            t->spare = q->chain;
        } else {
            q = mpi_malloc(&s->alc, sizeof *q);
            if (!q) return MP_ENOMEM;
        }
        q->addr = addr;
        q->head = q->tail = NULL;
        q->chain = NULL;
        *link = q;
        t->nqueues++;
        table_maybe_grow(s, t);
    }
    *out = q;
    return MP_OK;
}

/* Under wait_lock: unlinks w; an emptied queue goes to the spare list. */
static void
queue_remove(mpi_waiter_table *t, const void *addr, mpi_waiter *w)
{
    mpi_wait_queue **link;
    mpi_wait_queue *q = queue_find(t, addr, &link);
    if (!q) return;
    if (w->prev)
        w->prev->next = w->next;
    else
        q->head = w->next;
    if (w->next)
        w->next->prev = w->prev;
    else
        q->tail = w->prev;
    w->prev = w->next = NULL;
    if (!q->head) {
        *link = q->chain;
        q->chain = t->spare;
        t->spare = q;
        t->nqueues--;
    }
}

static mp_status
cond_init_monotonic(pthread_cond_t *c)
{
    pthread_condattr_t attr;
    if (pthread_condattr_init(&attr) != 0) return MP_ETHREAD;
    int rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    if (rc == 0) rc = pthread_cond_init(c, &attr);
    pthread_condattr_destroy(&attr);
    return rc == 0 ? MP_OK : MP_ETHREAD;
}

/* Beyond this many ms (about 31 000 years) a deadline is "forever"; it
 * also keeps the timespec arithmetic far from overflow. */
#define MPI_WAIT_FOREVER_MS 1e15

static struct timespec
deadline_after(double ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    /* Round up to whole nanoseconds: never wake before the timeout. */
    double ns_total = ms * 1e6;
    int64_t sec = (int64_t)(ns_total / 1e9);
    double rem = ns_total - (double)sec * 1e9;
    int64_t ns = (int64_t)rem;
    if ((double)ns < rem) ns++;
    ts.tv_sec += (time_t)sec;
    ts.tv_nsec += (long)ns;
    while (ts.tv_nsec >= 1000000000L) {
        ts.tv_nsec -= 1000000000L;
        ts.tv_sec++;
    }
    return ts;
}

/* The element's address inside a shared store, for Int32Array and
 * BigInt64Array only. shared is false for an ArrayBuffer (notify gives 0,
 * wait refuses). */
static mp_status
wait_target(mp_value view, size_t index, mpi_view **vout, uint8_t **p, bool *shared)
{
    if (view.kind_ != MP_TYPEDARRAY) return MP_ETYPE;
    mpi_view *v = view.u_.cell_;
    mp_view_type type = (mp_view_type)v->h.aux;
    if (type != MP_INT32 && type != MP_BIGINT64) return MP_ETYPE;
    uint8_t *base;
    size_t len;
    mp_status st = mpi_view_resolve(v, &base, &len);
    if (st != MP_OK) return st;
    size_t es = mpi_view_type_sizes[type];
    if (index >= len / es) return MP_ERANGE;
    *vout = v;
    *p = base + index * es;
    *shared = mpi_buffer_is_shared(v->buffer);
    return MP_OK;
}

mp_status
mp_atomics_wait(mp_value view, size_t index, mp_value expected, double timeout_ms, mp_wait_result *result)
{
    mpi_view *v;
    uint8_t *p;
    bool shared;
    mp_status st = wait_target(view, index, &v, &p, &shared);
    if (st != MP_OK) return st;
    if (!shared) return MP_ETYPE;
    if (!result) return MP_EINVAL;
    mp_view_type type = (mp_view_type)v->h.aux;
    uint64_t want;
    st = mpi_element_encode(type, expected, &want);
    if (st != MP_OK) return st;
    bool forever = timeout_ms != timeout_ms || timeout_ms >= MPI_WAIT_FOREVER_MS;
    if (!(timeout_ms > 0)) timeout_ms = 0; /* negative and -0 (NaN is forever) */

    mpi_store *s = ((mpi_sab *)v->buffer)->store;
    mpi_waiter w;
    w.prev = w.next = NULL;
    w.notified = false;
    /* Made before taking the lock to keep the critical section short. */
    st = cond_init_monotonic(&w.cond);
    if (st != MP_OK) return st;
    struct timespec deadline = {0, 0};
    if (!forever && timeout_ms > 0) deadline = deadline_after(timeout_ms);

    pthread_mutex_lock(&s->wait_lock);
    /* Compared under the lock: a notifier stores, then takes the lock, so it
     * either sees us queued or we see its store. */
    uint64_t cur =
        type == MP_INT32 ? atomic_load((_Atomic uint32_t *)(void *)p) : atomic_load((_Atomic uint64_t *)(void *)p);
    mp_wait_result res;
    if (cur != want) {
        res = MP_WAIT_NOT_EQUAL;
    } else if (!forever && timeout_ms == 0) {
        res = MP_WAIT_TIMED_OUT;
    } else {
        mpi_waiter_table *t;
        mpi_wait_queue *q;
        st = table_get(s, &t);
        if (st == MP_OK) st = queue_get(s, t, p, &q);
        if (st != MP_OK) {
            pthread_mutex_unlock(&s->wait_lock);
            pthread_cond_destroy(&w.cond);
            return st;
        }
        w.prev = q->tail;
        if (q->tail)
            q->tail->next = &w;
        else
            q->head = &w;
        q->tail = &w;
        res = MP_WAIT_OK;
        while (!w.notified) {
            int rc = forever ? pthread_cond_wait(&w.cond, &s->wait_lock)
                             : pthread_cond_timedwait(&w.cond, &s->wait_lock, &deadline);
            if (rc == ETIMEDOUT && !w.notified) {
                queue_remove(t, p, &w);
                res = MP_WAIT_TIMED_OUT;
                break;
            }
        }
    }
    pthread_mutex_unlock(&s->wait_lock);
    pthread_cond_destroy(&w.cond);
    *result = res;
    return MP_OK;
}

mp_status
mp_atomics_notify(mp_value view, size_t index, uint32_t count, uint32_t *woken)
{
    mpi_view *v;
    uint8_t *p;
    bool shared;
    mp_status st = wait_target(view, index, &v, &p, &shared);
    if (st != MP_OK) return st;
    uint32_t n = 0;
    if (shared && count > 0) {
        mpi_store *s = ((mpi_sab *)v->buffer)->store;
        pthread_mutex_lock(&s->wait_lock);
        mpi_wait_queue *q = s->waiters ? queue_find(s->waiters, p, NULL) : NULL;
        while (q && n < count) {
            mpi_waiter *w = q->head;
            bool last = w->next == NULL;
            queue_remove(s->waiters, p, w); /* recycles q when emptied */
            w->notified = true;
            /* Signalled under the lock: once we unlock, w may be gone. */
            pthread_cond_signal(&w->cond);
            n++;
            if (last) q = NULL;
        }
        pthread_mutex_unlock(&s->wait_lock);
    }
    if (woken) *woken = n;
    return MP_OK;
}

size_t
mpi_wait_queue_length(mpi_store *s, const void *addr)
{
    if (!(s->flags & MPI_STORE_SHARED)) return 0;
    size_t n = 0;
    pthread_mutex_lock(&s->wait_lock);
    mpi_wait_queue *q = s->waiters ? queue_find(s->waiters, addr, NULL) : NULL;
    for (mpi_waiter *w = q ? q->head : NULL; w; w = w->next)
        n++;
    pthread_mutex_unlock(&s->wait_lock);
    return n;
}
