/* Ports: the core (queue, lock, wake-up) and the per-realm handle; post,
 * receive, close, eventfd and callback dispatch. */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdio.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "../value/value_internal.h"
#include "codec_internal.h" /* the ports a raw message carries */
#include "port_internal.h"

#if defined(__x86_64__) || defined(__i386__)
#define MPI_CPU_RELAX() __builtin_ia32_pause()
#elif defined(__aarch64__)
#define MPI_CPU_RELAX() __asm__ __volatile__("yield")
#else
#define MPI_CPU_RELAX() ((void)0)
#endif

/* Destinations handled without allocating the message array. */
#define MPI_POST_INLINE 8

/* ---- the core ------------------------------------------------------------------ */

/* A cleared segment: the drained one the receiver handed back, else a new one. */
static mpi_seg *
seg_new(mpi_port_core *c)
{
    mpi_seg *s = atomic_exchange_explicit(&c->spare, NULL, memory_order_acquire);
    if (!s) s = mpi_malloc(&c->alc, sizeof *s);
    if (!s) return NULL;
    atomic_init(&s->next, NULL);
    for (size_t i = 0; i < MPI_SEG_SLOTS; i++)
        atomic_init(&s->slot[i], NULL);
    return s;
}

mp_status
mpi_core_new(const mp_allocator *alc, mpi_group *g, mpi_port_core **out)
{
    alc = mpi_allocator_or_default(alc);
    mpi_port_core *c = mpi_malloc(alc, sizeof *c);
    if (!c) return MP_ENOMEM;
    memset(c, 0, sizeof *c);
    c->alc = *alc;
    c->group = g;
    c->efd = -1;
    atomic_init(&c->refs, 1);
    atomic_init(&c->pushed, 0);
    atomic_init(&c->popped, 0);
    atomic_init(&c->notify, 0);
    atomic_init(&c->wake_seq, 0);
    atomic_init(&c->sleepers, 0);
    atomic_init(&c->close_queued, false);
    atomic_init(&c->closed, false);
    atomic_init(&c->eof, false);
    atomic_init(&c->spare, NULL);
    mpi_seg *first = seg_new(c);
    if (!first) {
        mpi_free(alc, c);
        return MP_ENOMEM;
    }
    c->ptail = c->plast = c->chead = first;
    atomic_init(&c->credits, MPI_SEG_SLOTS);
    /* Writer preference: a close must not starve behind a stream of
     * posts (each holds the read lock; posts never nest). */
    pthread_rwlockattr_t attr;
    if (pthread_rwlockattr_init(&attr) != 0) goto fail_seg;
#if defined(__GLIBC__)
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
#endif
    int rc = pthread_rwlock_init(&c->post_lock, &attr);
    pthread_rwlockattr_destroy(&attr);
    if (rc != 0) goto fail_seg;
    if (pthread_mutex_init(&c->plock, NULL) != 0) goto fail_post_lock;
    if (pthread_mutex_init(&c->lock, NULL) != 0) goto fail_plock;
    mp_status st = mpi_group_join(g, c);
    if (st != MP_OK) {
        pthread_mutex_destroy(&c->lock);
        pthread_mutex_destroy(&c->plock);
        pthread_rwlock_destroy(&c->post_lock);
        mpi_free(alc, first);
        mpi_free(alc, c);
        return st;
    }
    *out = c;
    return MP_OK;

fail_plock:
    pthread_mutex_destroy(&c->plock);
fail_post_lock:
    pthread_rwlock_destroy(&c->post_lock);
fail_seg:
    mpi_free(alc, first);
    mpi_free(alc, c);
    return MP_ETHREAD;
}

/* Frees the messages still queued from slot i of segment s on, and the
 * segments. Only once no sender can reach the chain (closed, or the last
 * reference gone): freeing may close the ports a message carries. */
static void
release_chain(mpi_port_core *c, mpi_seg *s, size_t i)
{
    while (s) {
        for (; i < MPI_SEG_SLOTS; i++)
            mp_message_free(atomic_load_explicit(&s->slot[i], memory_order_acquire));
        mpi_seg *next = atomic_load_explicit(&s->next, memory_order_acquire);
        mpi_free(&c->alc, s);
        s = next;
        i = 0;
    }
}

void
mpi_core_unref(mpi_port_core *c)
{
    if (!c || atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) != 1) return;
    release_chain(c, c->chead, c->cidx);
    mpi_free(&c->alc, atomic_load_explicit(&c->spare, memory_order_acquire));
    if (c->efd >= 0) close(c->efd);
    pthread_mutex_destroy(&c->lock);
    pthread_mutex_destroy(&c->plock);
    pthread_rwlock_destroy(&c->post_lock);
    mpi_group *g = c->group;
    mp_allocator alc = c->alc;
    mpi_free(&alc, c);
    mpi_group_unref(g);
}

static void
efd_raise_locked(mpi_port_core *c)
{
    if (c->efd >= 0 && !c->efd_set) {
        uint64_t one = 1;
        ssize_t k = write(c->efd, &one, sizeof one);
        (void)k; /* cannot overflow: the counter is 0 or 1 */
        c->efd_set = true;
    }
}

static void
efd_drain_locked(mpi_port_core *c)
{
    if (c->efd >= 0 && c->efd_set) {
        uint64_t v;
        ssize_t k = read(c->efd, &v, sizeof v);
        (void)k;
        c->efd_set = false;
    }
}

/* A full memory fence. gcc refuses atomic_thread_fence under
 * -fsanitize=thread (-Wtsan); there a seq_cst read-modify-write of a word
 * of its own, a full barrier on x86 and ARMv8 alike, stands in. */
#if defined(__SANITIZE_THREAD__)
static _Atomic unsigned tsan_fence_word;
static inline void
full_fence(void)
{
    atomic_fetch_add_explicit(&tsan_fence_word, 0, memory_order_seq_cst);
}
#else
static inline void
full_fence(void)
{
    atomic_thread_fence(memory_order_seq_cst);
}
#endif

/* Sleeps until wake_seq moves from `seen` or the absolute CLOCK_MONOTONIC
 * deadline (NULL: none) passes; false on timeout. A futex rather than a
 * condition variable: the waker needs no lock and the woken receiver
 * does not then block on one, two system calls per wake-up instead of
 * four. Spurious returns are the caller's to loop on. */
static bool
wake_wait(mpi_port_core *c, uint32_t seen, const struct timespec *deadline)
{
    atomic_fetch_add_explicit(&c->sleepers, 1, memory_order_seq_cst);
    full_fence(); /* before the kernel reads wake_seq */
    long rc = syscall(SYS_futex, &c->wake_seq, FUTEX_WAIT_BITSET_PRIVATE, seen, deadline, NULL, FUTEX_BITSET_MATCH_ANY);
    atomic_fetch_sub_explicit(&c->sleepers, 1, memory_order_relaxed);
    return !(rc == -1 && errno == ETIMEDOUT);
}

/* Wakes every receiver blocked on c (there is one, or none, by the
 * threading rules; a close from another thread must reach it). The system
 * call only when one is registered: a receiver that registers later finds
 * wake_seq moved, and the futex returns at once (the two seq_cst steps
 * order the registration against the bump). */
static void
wake_all(mpi_port_core *c)
{
    atomic_fetch_add_explicit(&c->wake_seq, 1, memory_order_seq_cst);
    if (atomic_load_explicit(&c->sleepers, memory_order_seq_cst) != 0)
        syscall(SYS_futex, &c->wake_seq, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

/* Called by a sender after it queued: does what the receiver asked for
 * when it went idle (wake it from its sleep, raise its eventfd), once, by
 * whichever sender comes first. A busy receiver asked for nothing, so this
 * is one load of a line the receiver rarely writes: no system call, no
 * lock. The fence pairs with the receiver's in want_locked: either it sees
 * what was queued, or this sees its request. */
static void
notify_receiver(mpi_port_core *c)
{
    full_fence();
    if (atomic_load_explicit(&c->notify, memory_order_relaxed) == 0) return;
    unsigned want = atomic_exchange_explicit(&c->notify, 0, memory_order_acq_rel);
    if (want & MPI_WANT_WAKE) wake_all(c);
    if (want & MPI_WANT_FD) {
        /* Under the lock: the fd may be closed meanwhile (transfer). */
        pthread_mutex_lock(&c->lock);
        efd_raise_locked(c);
        pthread_mutex_unlock(&c->lock);
    }
}

void
mpi_core_push_close(mpi_port_core *c)
{
    /* mpi_group_leave holds every member's post lock: every post to c
     * has committed, none can follow, so the event is behind the last
     * slot filled. */
    atomic_store_explicit(&c->close_queued, true, memory_order_release);
    notify_receiver(c);
}

/* Takes one credit if any is left. */
static inline bool
credit_take(mpi_port_core *c)
{
    size_t k = atomic_load_explicit(&c->credits, memory_order_relaxed);
    while (k > 0)
        if (atomic_compare_exchange_weak_explicit(&c->credits, &k, k - 1, memory_order_relaxed, memory_order_relaxed))
            return true;
    return false;
}

/* Promises the caller one slot of c, adding a segment when every free slot
 * is promised already, so that slot_commit cannot fail. Without the lock
 * while credits last: a post then takes plock once, to commit. A credit
 * seen here was added under plock, before which the segment was linked,
 * so the commit (under plock) finds its slot. MP_ENOMEM leaves c as it
 * was. */
static mp_status
slot_reserve(mpi_port_core *c)
{
    if (MPI_LIKELY(credit_take(c))) return MP_OK;
    mp_status st = MP_OK;
    pthread_mutex_lock(&c->plock);
    if (!credit_take(c)) {
        mpi_seg *s = seg_new(c);
        if (!s) {
            st = MP_ENOMEM;
        } else {
            atomic_store_explicit(&c->plast->next, s, memory_order_release);
            c->plast = s;
            /* Never keep pointing at a full segment that has a successor:
             * the receiver may recycle it as soon as it moves past. */
            if (c->pidx == MPI_SEG_SLOTS) {
                c->ptail = s;
                c->pidx = 0;
            }
            atomic_fetch_add_explicit(&c->credits, MPI_SEG_SLOTS - 1, memory_order_relaxed); /* one is ours */
        }
    }
    pthread_mutex_unlock(&c->plock);
    return st;
}

static void
slot_unreserve(mpi_port_core *c)
{
    atomic_fetch_add_explicit(&c->credits, 1, memory_order_relaxed);
}

/* Queues m in the slot reserved for it, then wakes the receiver if it
 * asked. Cannot fail. */
static void
slot_commit(mpi_port_core *c, mp_message *m)
{
    pthread_mutex_lock(&c->plock);
    mpi_seg *t = c->ptail;
    /* For the last slot, read before it is published: once the receiver
     * has it, t may be recycled. Not otherwise: the line is the one the
     * receiver reads slots from. */
    mpi_seg *next = c->pidx == MPI_SEG_SLOTS - 1 ? atomic_load_explicit(&t->next, memory_order_relaxed) : NULL;
    atomic_store_explicit(&c->pushed, atomic_load_explicit(&c->pushed, memory_order_relaxed) + 1, memory_order_relaxed);
    atomic_store_explicit(&t->slot[c->pidx++], m, memory_order_release);
    if (c->pidx == MPI_SEG_SLOTS && next) {
        c->ptail = next;
        c->pidx = 0;
    }
    pthread_mutex_unlock(&c->plock);
    notify_receiver(c);
}

/* The next queued message without taking it, or NULL. At a segment's end
 * steps into the next one and hands the drained one back for reuse.
 * Under c->lock, as everything on the receiving side. */
static mp_message *
queue_peek_locked(mpi_port_core *c)
{
    if (!c->chead) return NULL;
    if (c->cidx == MPI_SEG_SLOTS) {
        mpi_seg *next = atomic_load_explicit(&c->chead->next, memory_order_acquire);
        if (!next) return NULL;
        mpi_seg *old = atomic_exchange_explicit(&c->spare, c->chead, memory_order_acq_rel);
        mpi_free(&c->alc, old);
        c->chead = next;
        c->cidx = 0;
    }
    return atomic_load_explicit(&c->chead->slot[c->cidx], memory_order_acquire);
}

static mp_message *
queue_pop_locked(mpi_port_core *c)
{
    mp_message *m = queue_peek_locked(c);
    if (m) {
        mpi_message_prefetch(m);
        c->cidx++;
        atomic_store_explicit(&c->popped, atomic_load_explicit(&c->popped, memory_order_relaxed) + 1,
                              memory_order_release);
    }
    return m;
}

/* A message or the close event waits. */
static bool
queue_ready_locked(mpi_port_core *c)
{
    return queue_peek_locked(c) || atomic_load_explicit(&c->close_queued, memory_order_acquire);
}

/* Asks the next sender for `what` (MPI_WANT_*), then looks at the queue
 * again: true if something arrived in between and no sender took the
 * request, so the caller must act on it itself. */
static bool
want_locked(mpi_port_core *c, unsigned what)
{
    atomic_fetch_or_explicit(&c->notify, what, memory_order_seq_cst);
    full_fence();
    if (!queue_ready_locked(c)) return false;
    return (atomic_fetch_and_explicit(&c->notify, ~what, memory_order_acq_rel) & what) != 0;
}

/* After a take: the eventfd reads readable while anything waits, so it is
 * drained once the queue is empty, and the next sender raises it again. */
static void
fd_settle_locked(mpi_port_core *c)
{
    if (c->efd < 0 || !c->efd_set || queue_ready_locked(c)) return;
    efd_drain_locked(c);
    if (want_locked(c, MPI_WANT_FD)) efd_raise_locked(c);
}

/* Closes c from its own side: leaves the group (the peer of a channel gets
 * its close event; no post to c is in flight once that returns), then
 * releases everything still queued. */
static void
core_close(mpi_port_core *c)
{
    mpi_group_leave(c);
    pthread_mutex_lock(&c->lock);
    atomic_store_explicit(&c->closed, true, memory_order_release);
    mpi_seg *chain = c->chead;
    size_t from = c->cidx;
    c->chead = NULL;
    c->cidx = 0;
    /* Readable so a loop polling the fd notices the close. */
    efd_raise_locked(c);
    wake_all(c);
    pthread_mutex_unlock(&c->lock);
    pthread_mutex_lock(&c->plock);
    c->ptail = c->plast = NULL;
    atomic_store_explicit(&c->credits, 0, memory_order_relaxed);
    pthread_mutex_unlock(&c->plock);
    release_chain(c, chain, from); /* outside the locks: freeing may close carried ports */
}

/* ---- handles -------------------------------------------------------------------- */

mp_status
mpi_port_handle_new(mp_realm *r, mpi_port_core *c, mp_value *out)
{
    mpi_port *p = (mpi_port *)mpi_cell_new(r, MP_PORT, sizeof *p);
    if (!p) return MP_ENOMEM;
    p->core = c;
    atomic_init(&p->state, MPI_PORT_LIVE);
    *out = mpi_value_cell(MP_PORT, p);
    return MP_OK;
}

void
mpi_port_handle_destroy(mpi_port *p)
{
    if (!p->core) return; /* a clone placeholder never filled */
    int live = MPI_PORT_LIVE;
    if (atomic_compare_exchange_strong(&p->state, &live, MPI_PORT_CLOSED)) core_close(p->core);
    mpi_core_unref(p->core);
    p->core = NULL;
}

static mpi_port *
port_of(mp_value v)
{
    return mpi_cell_if(v, MP_PORT);
}

/* Closed as mp_port_is_closed reports it: by its owner, by transfer, or
 * by its peer once the close event was received. */
static bool
handle_closed(mpi_port *p)
{
    return atomic_load_explicit(&p->state, memory_order_acquire) != MPI_PORT_LIVE ||
           atomic_load_explicit(&p->core->eof, memory_order_acquire);
}

/* A handle that was closed or shipped in a transfer controls nothing: the
 * core may have a new owner by now. */
static inline bool
port_live(const mpi_port *p)
{
    return atomic_load_explicit(&p->state, memory_order_acquire) == MPI_PORT_LIVE;
}

mp_status
mp_channel_new(mp_realm *realm1, mp_realm *realm2, mp_value *port1, mp_value *port2)
{
    if (!realm1 || !port1 || !port2) return MP_EINVAL;
    if (!realm2) realm2 = realm1;
    mpi_group *g = NULL;
    mp_status st = mpi_group_new(&realm1->alc, &g);
    if (st != MP_OK) return st;
    atomic_store_explicit(&g->refs, 2, memory_order_relaxed); /* one per core */
    mpi_port_core *c1 = NULL, *c2 = NULL;
    st = mpi_core_new(&realm1->alc, g, &c1);
    if (st != MP_OK) {
        mpi_group_unref(g);
        mpi_group_unref(g);
        return st;
    }
    st = mpi_core_new(&realm2->alc, g, &c2);
    if (st != MP_OK) {
        mpi_group_unref(g);
        mpi_group_leave(c1);
        mpi_core_unref(c1);
        return st;
    }
    mp_value v1, v2;
    st = mpi_port_handle_new(realm1, c1, &v1);
    if (st != MP_OK) {
        mpi_group_leave(c1);
        mpi_core_unref(c1);
        mpi_group_leave(c2);
        mpi_core_unref(c2);
        return st;
    }
    st = mpi_port_handle_new(realm2, c2, &v2);
    if (st != MP_OK) {
        /* Undo handle 1 (still realm1's newest cell): closes and unrefs c1. */
        mpi_cell_discard_newest(realm1, v1.u_.cell_);
        mpi_group_leave(c2);
        mpi_core_unref(c2);
        return st;
    }
    *port1 = v1;
    *port2 = v2;
    return MP_OK;
}

/* ---- posting -------------------------------------------------------------------- */

/* Post with either a value to serialize (pre == NULL) or a ready message.
 * Everything runs under the source's post_lock (read), which a change of
 * the group's members must take for writing, so no member can leave
 * between the checks and the enqueue, and every fallible step (slots,
 * serialize, copies) comes before the first enqueue: a failed post has
 * queued and detached nothing. */
static mp_status
post(mpi_port *p, mp_value value, const mp_value *transfer, size_t n, mp_message *pre, mp_error_info *err)
{
    if (atomic_load_explicit(&p->state, memory_order_acquire) != MPI_PORT_LIVE)
        return mpi_fail(err, MP_ECLOSED, MP_NO_OFFSET, NULL, "the port is closed");
    mpi_port_core *src = p->core;
    mpi_group *g = src->group;
    for (size_t i = 0; i < n && transfer; i++) {
        const mpi_port *q = mpi_cell_if(transfer[i], MP_PORT);
        if (!q || !q->core) continue;
        if (q->core == src)
            return mpi_fail(err, MP_EDATACLONE, MP_NO_OFFSET, NULL, "Transfer list contains source port");
        /* A port into its own queue would own itself: refused, where Node
         * warns and loses the channel. */
        if (q->core->group == g)
            return mpi_fail(err, MP_EDATACLONE, MP_NO_OFFSET, NULL, "Transfer list contains the target port");
    }
    for (size_t i = 0; pre && i < pre->n_ports; i++) {
        mpi_port_core *q = pre->ports[i];
        if (q == src) return mpi_fail(err, MP_EDATACLONE, MP_NO_OFFSET, NULL, "Transfer list contains source port");
        if (q && q->group == g)
            return mpi_fail(err, MP_EDATACLONE, MP_NO_OFFSET, NULL, "Transfer list contains the target port");
    }
    if (g->name) {
        if (n > 0 || (pre && (pre->n_moved > 0 || pre->n_ports > 0)))
            return mpi_fail(err, MP_EDATACLONE, MP_NO_OFFSET, NULL,
                            "Transferables cannot be used with multiple destinations.");
    }
    pthread_rwlock_rdlock(&src->post_lock);
    mp_status st = MP_OK;
    if (!src->member) {
        st = mpi_fail(err, MP_ECLOSED, MP_NO_OFFSET, NULL, "the port is closed");
        goto out_unlock;
    }
    size_t ndest = g->n - 1;
    if (ndest == 0) {
        st = mpi_fail(err, MP_ENOPEER, MP_NO_OFFSET, NULL, "the port has no sibling to deliver to");
        goto out_unlock;
    }
    mp_message *inline_msgs[MPI_POST_INLINE];
    mp_message **msgs = inline_msgs;
    mpi_port_core **dests = g->members; /* stable while post_lock is held */
    if (ndest > MPI_POST_INLINE) {
        msgs = mpi_malloc(&src->alc, ndest * sizeof *msgs);
        if (!msgs) {
            st = mpi_fail(err, MP_ENOMEM, MP_NO_OFFSET, NULL, NULL);
            goto out_unlock;
        }
    }
    size_t got = 0;
    for (size_t i = 0; i < g->n; i++) {
        if (dests[i] == src) continue;
        if (slot_reserve(dests[i]) != MP_OK) {
            st = mpi_fail(err, MP_ENOMEM, MP_NO_OFFSET, NULL, NULL);
            goto out_reserved;
        }
        got++;
    }
    mp_message *msg = pre;
    if (!msg) {
        st = mp_serialize(value, transfer, n, &msg, err);
        if (st != MP_OK) goto out_reserved;
    }
    msgs[0] = msg;
    for (size_t i = 1; i < ndest; i++) {
        st = mpi_message_dup(msg, &msgs[i]);
        if (st != MP_OK) {
            mpi_fail(err, st, MP_NO_OFFSET, NULL,
                     st == MP_EDATACLONE ? "a message with transferred stores or host objects cannot go to several "
                                           "destinations"
                                         : NULL);
            for (size_t k = 1; k < i; k++)
                mp_message_free(msgs[k]);
            if (!pre) mp_message_free(msg); /* nothing transferred: a broadcast has no transfer list */
            goto out_reserved;
        }
    }
    /* Commit: nothing below can fail. */
    size_t k = 0;
    for (size_t i = 0; i < g->n; i++) {
        if (dests[i] == src) continue;
        slot_commit(dests[i], msgs[k++]);
    }
    if (msgs != inline_msgs) mpi_free(&src->alc, msgs);
    pthread_rwlock_unlock(&src->post_lock);
    return MP_OK;

out_reserved : {
    size_t k2 = 0;
    for (size_t i = 0; i < g->n && k2 < got; i++) {
        if (dests[i] == src) continue;
        slot_unreserve(dests[i]);
        k2++;
    }
    if (msgs != inline_msgs) mpi_free(&src->alc, msgs);
}
out_unlock:
    pthread_rwlock_unlock(&src->post_lock);
    return st;
}

mp_status
mp_port_post(mp_value port, mp_value value, const mp_value *transfer, size_t n, mp_error_info *err)
{
    mpi_port *p = port_of(port);
    if (!p) return mpi_fail(err, MP_ETYPE, MP_NO_OFFSET, NULL, "not a MessagePort");
    return post(p, value, transfer, n, NULL, err);
}

mp_status
mp_port_post_message(mp_value port, mp_message *msg)
{
    mpi_port *p = port_of(port);
    if (!p) return MP_ETYPE;
    if (!msg) return MP_EINVAL;
    return post(p, mp_undefined(), NULL, 0, msg, NULL);
}

/* ---- receiving -------------------------------------------------------------------- */

static void
deadline_after(struct timespec *ts, int64_t ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += (time_t)(ms / 1000);
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

/* Takes the next message: MP_OK with *out; MP_ECLOSED (the close event
 * consumed now or earlier, or the port closed); MP_EAGAIN; MP_ETIMEDOUT. */
/* The handle is closed or transferred, or its queue ended: nothing more
 * to take. */
static inline bool
ended_locked(const mpi_port *p, mpi_port_core *c)
{
    return atomic_load_explicit(&p->state, memory_order_acquire) != MPI_PORT_LIVE ||
           atomic_load_explicit(&c->eof, memory_order_relaxed) ||
           atomic_load_explicit(&c->closed, memory_order_relaxed);
}

/* The next message, or NULL. The close event follows every message posted
 * before it: seen after the last one, the queue is looked at once more (they
 * are all visible now); if it is empty the queue has ended (*ended; eof set,
 * and the fd stays readable so a loop polling it sees the end). */
static mp_message *
pop_locked(mpi_port_core *c, bool *ended)
{
    *ended = false;
    mp_message *m = queue_pop_locked(c);
    if (!m && atomic_load_explicit(&c->close_queued, memory_order_acquire)) {
        m = queue_pop_locked(c);
        if (!m) {
            atomic_store_explicit(&c->eof, true, memory_order_relaxed);
            efd_raise_locked(c);
            *ended = true;
        }
    }
    return m;
}

static mp_status
take(mpi_port *p, int64_t timeout_ms, mp_message **out)
{
    if (atomic_load_explicit(&p->state, memory_order_acquire) != MPI_PORT_LIVE) return MP_ECLOSED;
    mpi_port_core *c = p->core;
    struct timespec deadline;
    bool have_deadline = false;
    mp_status st;
    pthread_mutex_lock(&c->lock);
    if (timeout_ms != 0) {
        /* Optional bounded spin: a sender that posts within it saves the
         * receiver a sleep and the sender a wake-up. It polls the very
         * slot the next message lands in, so the message's arrival costs
         * one cache-line transfer. Under the lock, which only a close
         * from another thread also wants: that close flips the handle's
         * state first, which ends the spin. */
        unsigned spin = atomic_load_explicit(&c->spin, memory_order_relaxed);
        for (unsigned i = 0; i < spin; i++) {
            if (queue_ready_locked(c) || atomic_load_explicit(&p->state, memory_order_relaxed) != MPI_PORT_LIVE ||
                atomic_load_explicit(&c->closed, memory_order_relaxed))
                break;
            MPI_CPU_RELAX();
        }
    }
    for (;;) {
        bool ended = ended_locked(p, c);
        mp_message *m = ended ? NULL : pop_locked(c, &ended);
        if (ended) {
            st = MP_ECLOSED;
            break;
        }
        if (m) {
            *out = m;
            fd_settle_locked(c);
            st = MP_OK;
            break;
        }
        if (timeout_ms == 0) {
            /* A sender that raised the fd for a message taken meanwhile
             * left it readable on an empty queue: a poll loop would spin. */
            fd_settle_locked(c);
            st = MP_EAGAIN;
            break;
        }
        /* Ask the next sender to wake us; if something came meanwhile,
         * take it instead of sleeping. wake_seq is read first, so a wake
         * after the request cannot be missed. */
        uint32_t seen = atomic_load_explicit(&c->wake_seq, memory_order_acquire);
        if (want_locked(c, MPI_WANT_WAKE) || queue_ready_locked(c)) continue;
        if (timeout_ms > 0 && !have_deadline) {
            deadline_after(&deadline, timeout_ms);
            have_deadline = true;
        }
        pthread_mutex_unlock(&c->lock);
        bool woken = wake_wait(c, seen, have_deadline ? &deadline : NULL);
        pthread_mutex_lock(&c->lock);
        /* Withdraw the request if no sender took it (timeout, close). */
        atomic_fetch_and_explicit(&c->notify, ~(unsigned)MPI_WANT_WAKE, memory_order_relaxed);
        if (!woken && !queue_ready_locked(c)) {
            st = (atomic_load_explicit(&p->state, memory_order_acquire) != MPI_PORT_LIVE ||
                  atomic_load_explicit(&c->closed, memory_order_relaxed))
                     ? MP_ECLOSED
                     : MP_ETIMEDOUT;
            break;
        }
    }
    pthread_mutex_unlock(&c->lock);
    return st;
}

/* Decodes msg (always consumed) into realm; a failure is the receiver's
 * messageerror. */
static mp_status
decode(mp_message *msg, mp_realm *realm, mp_value *out, mp_error_info *err)
{
    mp_error_info local;
    mp_error_info *e = err ? err : &local;
    mp_value v;
    mp_status st = mp_deserialize(msg, realm, NULL, &v, e);
    if (st == MP_OK) {
        *out = v;
        return MP_OK;
    }
    if (err) {
        char detail[sizeof err->detail];
        /* A long decoder detail is cut: its start says what went wrong. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-truncation"
#endif
        snprintf(detail, sizeof detail, "%s%s%s", mp_strerror(st), err->detail[0] ? ": " : "", err->detail);
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
        memcpy(err->detail, detail, sizeof detail);
        err->code = MP_EMESSAGE;
    }
    return MP_EMESSAGE;
}

mp_status
mp_port_receive(mp_value port, mp_realm *realm, int64_t timeout_ms, mp_value *out, mp_error_info *err)
{
    mpi_port *p = port_of(port);
    if (!p) return mpi_fail(err, MP_ETYPE, MP_NO_OFFSET, NULL, "not a MessagePort");
    if (!out) return mpi_fail(err, MP_EINVAL, MP_NO_OFFSET, NULL, "out is NULL");
    mp_message *msg = NULL;
    mp_status st = take(p, timeout_ms, &msg);
    if (st != MP_OK) return mpi_fail(err, st, MP_NO_OFFSET, NULL, NULL);
    return decode(msg, realm ? realm : p->h.realm, out, err);
}

mp_status
mp_port_try_receive(mp_value port, mp_realm *realm, mp_value *out, mp_error_info *err)
{
    return mp_port_receive(port, realm, 0, out, err);
}

mp_status
mp_port_receive_message(mp_value port, int64_t timeout_ms, mp_message **out)
{
    mpi_port *p = port_of(port);
    if (!p) return MP_ETYPE;
    if (!out) return MP_EINVAL;
    return take(p, timeout_ms, out);
}

size_t
mp_port_pending(mp_value port)
{
    mpi_port *p = port_of(port);
    if (!p || !port_live(p)) return 0;
    mpi_port_core *c = p->core;
    if (atomic_load_explicit(&c->closed, memory_order_acquire)) return 0;
    /* popped first: every message it counts is counted in pushed too. */
    size_t popped = atomic_load_explicit(&c->popped, memory_order_acquire);
    size_t n = atomic_load_explicit(&c->pushed, memory_order_acquire) - popped;
    if (atomic_load_explicit(&c->close_queued, memory_order_acquire) &&
        !atomic_load_explicit(&c->eof, memory_order_relaxed))
        n++;
    return n;
}

/* ---- event loops -------------------------------------------------------------------- */

mp_status
mp_port_fd(mp_value port, int *fd)
{
    mpi_port *p = port_of(port);
    if (!p) return MP_ETYPE;
    if (!fd) return MP_EINVAL;
    if (!port_live(p)) return MP_ECLOSED;
    mpi_port_core *c = p->core;
    mp_status st = MP_OK;
    pthread_mutex_lock(&c->lock);
    if (c->efd < 0) {
        c->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (c->efd < 0) {
            st = MP_ETHREAD;
        } else if (atomic_load_explicit(&c->eof, memory_order_relaxed) || queue_ready_locked(c) ||
                   want_locked(c, MPI_WANT_FD)) {
            efd_raise_locked(c);
        }
    }
    if (st == MP_OK) *fd = c->efd;
    pthread_mutex_unlock(&c->lock);
    return st;
}

mp_status
mp_port_set_callback(mp_value port, mp_port_callback fn, void *ctx)
{
    mpi_port *p = port_of(port);
    if (!p) return MP_ETYPE;
    if (!port_live(p)) return MP_ECLOSED;
    pthread_mutex_lock(&p->core->lock);
    p->core->cb = fn;
    p->core->cb_ctx = fn ? ctx : NULL;
    pthread_mutex_unlock(&p->core->lock);
    return MP_OK;
}

mp_status
mp_port_set_spin(mp_value port, unsigned iterations)
{
    mpi_port *p = port_of(port);
    if (!p) return MP_ETYPE;
    if (!port_live(p)) return MP_ECLOSED;
    atomic_store_explicit(&p->core->spin, iterations, memory_order_relaxed);
    return MP_OK;
}

/* Messages taken per lock hold by mp_port_dispatch. */
#define MPI_DISPATCH_CHUNK 64

/* Takes up to max messages under one lock hold (stopping at the close
 * event, which sets *close_event). Returns how many went into msgs;
 * MP_ECLOSED in *st if the port is closed or at its end with nothing
 * taken. */
static size_t
take_chunk(mpi_port *p, mp_message **msgs, size_t max, bool *close_event, mp_status *st)
{
    mpi_port_core *c = p->core;
    size_t k = 0;
    *close_event = false;
    *st = MP_OK;
    pthread_mutex_lock(&c->lock);
    if (ended_locked(p, c)) {
        *st = MP_ECLOSED;
    } else {
        while (k < max) {
            mp_message *m = pop_locked(c, close_event);
            if (!m) break;
            msgs[k++] = m;
        }
        if (!*close_event) fd_settle_locked(c);
    }
    pthread_mutex_unlock(&c->lock);
    return k;
}

mp_status
mp_port_dispatch(mp_value port, size_t max_batch, size_t *dispatched)
{
    mpi_port *p = port_of(port);
    if (dispatched) *dispatched = 0;
    if (!p) return MP_ETYPE;
    if (!port_live(p)) return MP_ECLOSED;
    mpi_port_core *c = p->core;
    pthread_mutex_lock(&c->lock);
    mp_port_callback fn = c->cb;
    void *ctx = c->cb_ctx;
    pthread_mutex_unlock(&c->lock);
    if (!fn) return MP_EINVAL;
    if (max_batch == 0) max_batch = 1000;
    size_t ran = 0;
    mp_status st = MP_OK;
    mp_message *msgs[MPI_DISPATCH_CHUNK];
    bool done = false;
    while (ran < max_batch && !done) {
        size_t want = max_batch - ran < MPI_DISPATCH_CHUNK ? max_batch - ran : MPI_DISPATCH_CHUNK;
        bool close_event;
        mp_status t;
        size_t k = take_chunk(p, msgs, want, &close_event, &t);
        if (t == MP_ECLOSED) {
            if (ran == 0) st = MP_ECLOSED;
            break;
        }
        if (k < want) done = true; /* the queue ran dry or the end came */
        for (size_t i = 0; i < k; i++) {
            /* The callback may close the port: drop the rest, as unread. */
            if (atomic_load_explicit(&p->state, memory_order_acquire) != MPI_PORT_LIVE) {
                mp_message_free(msgs[i]);
                continue;
            }
            mp_error_info e;
            mp_value v = mp_undefined();
            mp_status d = decode(msgs[i], p->h.realm, &v, &e);
            fn(ctx, port, d, v, d == MP_OK ? NULL : &e);
            ran++;
        }
        if (close_event && atomic_load_explicit(&p->state, memory_order_acquire) == MPI_PORT_LIVE) {
            fn(ctx, port, MP_ECLOSED, mp_undefined(), NULL);
            ran++;
            done = true;
        }
    }
    if (dispatched) *dispatched = ran;
    return st;
}

/* ---- transfer (called by the codec) ---------------------------------------------------- */

bool
mpi_port_transferable(const mpi_cell *c)
{
    mpi_port *p = (mpi_port *)(uintptr_t)c;
    return p->core && !handle_closed(p);
}

bool
mpi_port_is_broadcast(const mpi_cell *c)
{
    const mpi_port *p = (const mpi_port *)c;
    return p->core && p->core->group->name != NULL;
}

mpi_port_core *
mpi_port_ship(mpi_cell *cell)
{
    mpi_port *p = (mpi_port *)cell;
    mpi_port_core *c = p->core;
    atomic_store_explicit(&p->state, MPI_PORT_SHIPPED, memory_order_release);
    atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
    pthread_mutex_lock(&c->lock);
    /* In flight nobody owns it: no fd, no callback, no wake-ups. The old
     * owner must have taken the fd out of its poller (see mp_port_fd). */
    atomic_fetch_and_explicit(&c->notify, ~(unsigned)MPI_WANT_FD, memory_order_relaxed);
    if (c->efd >= 0) close(c->efd);
    c->efd = -1;
    c->efd_set = false;
    c->cb = NULL;
    c->cb_ctx = NULL;
    wake_all(c); /* a blocked receiver returns MP_ECLOSED */
    pthread_mutex_unlock(&c->lock);
    atomic_store_explicit(&c->spin, 0, memory_order_relaxed);
    return c;
}

mp_status
mpi_port_adopt(mp_realm *r, mpi_port_core *core, mp_value *out)
{
    return mpi_port_handle_new(r, core, out);
}

void
mpi_port_fill(mpi_cell *handle, mpi_port_core *core)
{
    ((mpi_port *)handle)->core = core;
}

/* Closing a port frees the messages queued for it, which close the ports
 * they carry, whose queues may carry more: a chain of any length. A
 * release started while another runs on this thread is queued here and
 * done by the outer one's loop, so the stack stays flat. */
static _Thread_local mpi_port_core *release_queue;
static _Thread_local bool releasing;

void
mpi_port_release(mpi_port_core *core)
{
    if (!core) return;
    if (releasing) {
        core->release_next = release_queue;
        release_queue = core;
        return;
    }
    releasing = true;
    while (core) {
        core_close(core);
        mpi_core_unref(core);
        core = release_queue;
        if (core) release_queue = core->release_next;
    }
    releasing = false;
}

/* ---- lifetime ------------------------------------------------------------------------- */

mp_status
mp_port_close(mp_value port)
{
    mpi_port *p = port_of(port);
    if (!p) return MP_ETYPE;
    int live = MPI_PORT_LIVE;
    if (atomic_compare_exchange_strong(&p->state, &live, MPI_PORT_CLOSED)) core_close(p->core);
    return MP_OK;
}

bool
mp_port_is_closed(mp_value port)
{
    mpi_port *p = port_of(port);
    return p && handle_closed(p);
}
