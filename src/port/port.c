/* Ports: the core (queue, lock, wake-up) and the per-realm handle; post,
 * receive, close, eventfd and callback dispatch. */
#include <errno.h>
#include <stdio.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "port_internal.h"
#include "../value/value_internal.h"
#include "codec_internal.h" /* the ports a raw message carries */

#if defined(__x86_64__) || defined(__i386__)
#define MPI_CPU_RELAX() __builtin_ia32_pause()
#elif defined(__aarch64__)
#define MPI_CPU_RELAX() __asm__ __volatile__("yield")
#else
#define MPI_CPU_RELAX() ((void)0)
#endif

/* Destinations handled without allocating the node array. */
#define MPI_POST_INLINE 8

/* ---- the core ------------------------------------------------------------------ */

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
    atomic_init(&c->pending, 0);
    if (pthread_mutex_init(&c->lock, NULL) != 0) {
        mpi_free(alc, c);
        return MP_ETHREAD;
    }
    pthread_condattr_t ca;
    bool cond_ok = pthread_condattr_init(&ca) == 0;
    if (cond_ok) {
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        cond_ok = pthread_cond_init(&c->cond, &ca) == 0;
        pthread_condattr_destroy(&ca);
    }
    if (!cond_ok) {
        pthread_mutex_destroy(&c->lock);
        mpi_free(alc, c);
        return MP_ETHREAD;
    }
    mp_status st = mpi_group_join(g, c);
    if (st != MP_OK) {
        pthread_cond_destroy(&c->cond);
        pthread_mutex_destroy(&c->lock);
        mpi_free(alc, c);
        return st;
    }
    *out = c;
    return MP_OK;
}

/* Frees a chain of nodes and the messages they hold (not the close node). */
static void
free_chain(mpi_port_core *c, mpi_port_node *n)
{
    while (n) {
        mpi_port_node *next = n->next;
        if (n != &c->close_node) {
            mp_message_free(n->msg);
            mpi_free(&c->alc, n);
        }
        n = next;
    }
}

void
mpi_core_unref(mpi_port_core *c)
{
    if (!c || atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) != 1) return;
    free_chain(c, c->head);
    mpi_port_node *f = c->free_nodes;
    while (f) {
        mpi_port_node *next = f->next;
        mpi_free(&c->alc, f);
        f = next;
    }
    if (c->efd >= 0) close(c->efd);
    pthread_cond_destroy(&c->cond);
    pthread_mutex_destroy(&c->lock);
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

/* Appends under c->lock. Wakes the owner only on empty -> non-empty and
 * only if it sleeps or polls an fd: a busy receiver costs nothing. */
static void
push_locked(mpi_port_core *c, mpi_port_node *n)
{
    n->next = NULL;
    bool was_empty = c->head == NULL;
    if (c->tail)
        c->tail->next = n;
    else
        c->head = n;
    c->tail = n;
    atomic_store_explicit(&c->pending, atomic_load_explicit(&c->pending, memory_order_relaxed) + 1,
                          memory_order_release);
    if (was_empty) {
        if (c->sleepers) pthread_cond_signal(&c->cond);
        efd_raise_locked(c);
    }
}

void
mpi_core_push_close(mpi_port_core *c)
{
    pthread_mutex_lock(&c->lock);
    if (!c->closed) {
        c->close_node.msg = NULL;
        push_locked(c, &c->close_node);
    }
    pthread_mutex_unlock(&c->lock);
}

static mpi_port_node *
pop_locked(mpi_port_core *c)
{
    mpi_port_node *n = c->head;
    if (!n) return NULL;
    c->head = n->next;
    if (!c->head) {
        c->tail = NULL;
        efd_drain_locked(c);
    }
    atomic_store_explicit(&c->pending, atomic_load_explicit(&c->pending, memory_order_relaxed) - 1,
                          memory_order_release);
    return n;
}

static void
recycle_locked(mpi_port_core *c, mpi_port_node *n)
{
    if (c->n_free < MPI_PORT_FREE_MAX) {
        n->next = c->free_nodes;
        c->free_nodes = n;
        c->n_free++;
    } else {
        mpi_free(&c->alc, n);
    }
}

/* A node for a message to c: from its free list, else the allocator. */
static mpi_port_node *
node_get(mpi_port_core *c)
{
    pthread_mutex_lock(&c->lock);
    mpi_port_node *n = c->free_nodes;
    if (n) {
        c->free_nodes = n->next;
        c->n_free--;
    }
    pthread_mutex_unlock(&c->lock);
    if (!n) n = mpi_malloc(&c->alc, sizeof *n);
    return n;
}

static void
node_put(mpi_port_core *c, mpi_port_node *n)
{
    pthread_mutex_lock(&c->lock);
    recycle_locked(c, n);
    pthread_mutex_unlock(&c->lock);
}

/* Closes c from its own side: leaves the group (the peer of a channel gets
 * its close event), then releases everything still queued. */
static void
core_close(mpi_port_core *c)
{
    mpi_group_leave(c);
    pthread_mutex_lock(&c->lock);
    c->closed = true;
    mpi_port_node *chain = c->head;
    c->head = c->tail = NULL;
    atomic_store_explicit(&c->pending, 0, memory_order_release);
    /* Readable so a loop polling the fd notices the close. */
    efd_raise_locked(c);
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->lock);
    free_chain(c, chain); /* outside the lock: freeing may close carried ports */
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
 * Everything runs under the group's read lock, so no member can leave
 * between the checks and the enqueue, and every fallible step (nodes,
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
        if (q == src)
            return mpi_fail(err, MP_EDATACLONE, MP_NO_OFFSET, NULL, "Transfer list contains source port");
        if (q && q->group == g)
            return mpi_fail(err, MP_EDATACLONE, MP_NO_OFFSET, NULL, "Transfer list contains the target port");
    }
    if (g->name) {
        if (n > 0 || (pre && (pre->n_moved > 0 || pre->n_ports > 0)))
            return mpi_fail(err, MP_EDATACLONE, MP_NO_OFFSET, NULL,
                            "Transferables cannot be used with multiple destinations.");
    }
    pthread_rwlock_rdlock(&g->lock);
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
    mpi_port_node *inline_nodes[MPI_POST_INLINE];
    mpi_port_node **nodes = inline_nodes;
    mpi_port_core **dests = g->members; /* stable under the read lock */
    if (ndest > MPI_POST_INLINE) {
        nodes = mpi_malloc(&src->alc, ndest * sizeof *nodes);
        if (!nodes) {
            st = mpi_fail(err, MP_ENOMEM, MP_NO_OFFSET, NULL, NULL);
            goto out_unlock;
        }
    }
    size_t got = 0;
    for (size_t i = 0; i < g->n; i++) {
        if (dests[i] == src) continue;
        mpi_port_node *nd = node_get(dests[i]);
        if (!nd) {
            st = mpi_fail(err, MP_ENOMEM, MP_NO_OFFSET, NULL, NULL);
            goto out_nodes;
        }
        nd->msg = NULL;
        nodes[got++] = nd;
    }
    mp_message *msg = pre;
    if (!msg) {
        st = mp_serialize(value, transfer, n, &msg, err);
        if (st != MP_OK) goto out_nodes;
    }
    nodes[0]->msg = msg;
    for (size_t i = 1; i < ndest; i++) {
        st = mpi_message_dup(msg, &nodes[i]->msg);
        if (st != MP_OK) {
            mpi_fail(err, st, MP_NO_OFFSET, NULL,
                     st == MP_EDATACLONE ? "a message with transferred stores or host objects cannot go to several "
                                           "destinations"
                                         : NULL);
            for (size_t k = 1; k < i; k++) mp_message_free(nodes[k]->msg);
            if (!pre) mp_message_free(msg); /* nothing transferred: a broadcast has no transfer list */
            goto out_nodes;
        }
    }
    /* Commit: nothing below can fail. */
    size_t k = 0;
    for (size_t i = 0; i < g->n; i++) {
        mpi_port_core *d = dests[i];
        if (d == src) continue;
        pthread_mutex_lock(&d->lock);
        push_locked(d, nodes[k++]);
        pthread_mutex_unlock(&d->lock);
    }
    if (nodes != inline_nodes) mpi_free(&src->alc, nodes);
    pthread_rwlock_unlock(&g->lock);
    return MP_OK;

out_nodes: {
    size_t k2 = 0;
    for (size_t i = 0; i < g->n && k2 < got; i++) {
        if (dests[i] == src) continue;
        node_put(dests[i], nodes[k2++]);
    }
    if (nodes != inline_nodes) mpi_free(&src->alc, nodes);
}
out_unlock:
    pthread_rwlock_unlock(&g->lock);
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
static mp_status
take(mpi_port *p, int64_t timeout_ms, mp_message **out)
{
    if (atomic_load_explicit(&p->state, memory_order_acquire) != MPI_PORT_LIVE) return MP_ECLOSED;
    mpi_port_core *c = p->core;
    if (timeout_ms != 0) {
        /* Optional bounded spin: a sender that posts within it saves the
         * receiver a sleep and the sender a wake-up. */
        unsigned spin = atomic_load_explicit(&c->spin, memory_order_relaxed);
        for (unsigned i = 0; i < spin; i++) {
            if (atomic_load_explicit(&c->pending, memory_order_acquire) != 0) break;
            MPI_CPU_RELAX();
        }
    }
    struct timespec deadline;
    bool have_deadline = false;
    mp_status st;
    pthread_mutex_lock(&c->lock);
    for (;;) {
        if (atomic_load_explicit(&p->state, memory_order_acquire) != MPI_PORT_LIVE || c->eof || c->closed) {
            st = MP_ECLOSED;
            break;
        }
        mpi_port_node *n = pop_locked(c);
        if (n == &c->close_node) {
            c->eof = true;
            /* Stay readable: a loop polling the fd sees the end. */
            efd_raise_locked(c);
            st = MP_ECLOSED;
            break;
        }
        if (n) {
            *out = n->msg;
            recycle_locked(c, n);
            st = MP_OK;
            break;
        }
        if (timeout_ms == 0) {
            st = MP_EAGAIN;
            break;
        }
        c->sleepers++;
        int rc;
        if (timeout_ms < 0) {
            rc = pthread_cond_wait(&c->cond, &c->lock);
        } else {
            if (!have_deadline) {
                deadline_after(&deadline, timeout_ms);
                have_deadline = true;
            }
            rc = pthread_cond_timedwait(&c->cond, &c->lock, &deadline);
        }
        c->sleepers--;
        if (rc == ETIMEDOUT && !c->head) {
            st = (atomic_load_explicit(&p->state, memory_order_acquire) != MPI_PORT_LIVE || c->closed)
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
    if (!p) return 0;
    return atomic_load_explicit(&p->core->pending, memory_order_acquire);
}

/* ---- event loops -------------------------------------------------------------------- */

mp_status
mp_port_fd(mp_value port, int *fd)
{
    mpi_port *p = port_of(port);
    if (!p) return MP_ETYPE;
    if (!fd) return MP_EINVAL;
    if (atomic_load_explicit(&p->state, memory_order_acquire) != MPI_PORT_LIVE) return MP_ECLOSED;
    mpi_port_core *c = p->core;
    mp_status st = MP_OK;
    pthread_mutex_lock(&c->lock);
    if (c->efd < 0) {
        c->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (c->efd < 0) {
            st = MP_ETHREAD;
        } else if (c->head || c->eof) {
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
    if (atomic_load_explicit(&p->state, memory_order_acquire) != MPI_PORT_LIVE || c->eof || c->closed) {
        *st = MP_ECLOSED;
    } else {
        while (k < max) {
            mpi_port_node *n = pop_locked(c);
            if (!n) break;
            if (n == &c->close_node) {
                c->eof = true;
                *close_event = true;
                efd_raise_locked(c);
                break;
            }
            msgs[k++] = n->msg;
            recycle_locked(c, n);
        }
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
    const mpi_port *p = (const mpi_port *)c;
    return p->core && atomic_load_explicit(&((mpi_port *)p)->state, memory_order_acquire) == MPI_PORT_LIVE;
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
    if (c->efd >= 0) close(c->efd);
    c->efd = -1;
    c->efd_set = false;
    c->cb = NULL;
    c->cb_ctx = NULL;
    pthread_cond_broadcast(&c->cond); /* a blocked receiver returns MP_ECLOSED */
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

void
mpi_port_release(mpi_port_core *core)
{
    if (!core) return;
    core_close(core);
    mpi_core_unref(core);
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
    if (!p) return false;
    if (atomic_load_explicit(&p->state, memory_order_acquire) != MPI_PORT_LIVE) return true;
    pthread_mutex_lock(&p->core->lock);
    bool eof = p->core->eof;
    pthread_mutex_unlock(&p->core->lock);
    return eof;
}
