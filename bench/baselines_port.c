/* The C baselines (suite "c") of bench_port, built from the same W1 as the
 * lib benches (wl_generate + msgpack-c): what a C program would do without
 * msgport.
 *
 *   tput_condvar_w1   producer thread packs W1 (msgpack-c, reused sbuffer),
 *                     copies it into a malloc'd node, pushes it on a
 *                     mutex+condvar queue (signal per push); the main thread
 *                     pops one at a time, msgpack_unpack_next, free. n as
 *                     lib_port_tput W1 (200k); no flow control.
 *   tput_spsc_w1      the same over a lock-free single-producer ring of 1024
 *                     slots (sched_yield when full / empty)
 *   zmq_tput_w1       ZeroMQ inproc PAIR: zmq_send of the packed bytes,
 *                     zmq_msg_recv + msgpack_unpack_next (ZeroMQ's own
 *                     high-water mark, 1000, is the flow control)
 *   pingpong_condvar_w1  two one-slot mailboxes (mutex+condvar each): main
 *                     packs W1 and posts, the echo thread unpacks, repacks
 *                     the unpacked object (msgpack_pack_object) and posts
 *                     back, main unpacks. rtt_ns.
 *   pingpong_futex    (W1) the same with a futex word per mailbox
 *   pingpong_spin     (int) an atomic counter each way, both sides spinning:
 *                     the cache-line round trip
 *   zmq_pingpong_w1   the W1 round trip over an inproc PAIR socket
 *   memcpy_fresh      (W6_4K ... W6_64M) mmap of fresh pages + memcpy + munmap;
 *   memcpy_fresh_thp  the same after madvise(MADV_HUGEPAGE)
 *   thread_create_join  pthread_create of an empty function + pthread_join */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include "bench_port.h"

#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifdef MSGPORT_BENCH_HAVE_ZMQ
#include <zmq.h>
#endif

static int
sb_write(void *data, const char *buf, size_t len)
{
    return msgpack_sbuffer_write(data, buf, len);
}

/* ---- shared state: W1 and a packer per thread ---------------------------------- */

typedef struct packer {
    msgpack_sbuffer sb;
    msgpack_packer pk;
    wl_data *d;
} packer;

static void
packer_init(packer *p)
{
    msgpack_sbuffer_init(&p->sb);
    msgpack_packer_init(&p->pk, &p->sb, sb_write);
    p->d = wl_generate(WL_W1);
    if (!p->d) abort();
}

static void
packer_done(packer *p)
{
    msgpack_sbuffer_destroy(&p->sb);
    wl_data_free(p->d);
}

static void
pack_w1(packer *p)
{
    msgpack_sbuffer_clear(&p->sb);
    if (wl_pack(p->d, &p->pk) != 0) abort();
}

static bool
unpack(msgpack_unpacked *up, const char *data, size_t len)
{
    size_t off = 0;
    bool ok = msgpack_unpack_next(up, data, len, &off) == MSGPACK_UNPACK_SUCCESS;
    if (ok) bp_sink += up->data.via.map.size;
    return ok;
}

/* ---- throughput: mutex + condvar queue ------------------------------------------- */

typedef struct qnode {
    struct qnode *next;
    size_t len;
    char data[];
} qnode;

/* Packs W1 and copies the bytes into a new node, as a hand-rolled queue
 * would: the baselines' per-message cost beside msgport's. */
static qnode *
packed_w1_node(packer *p)
{
    pack_w1(p);
    qnode *nd = malloc(sizeof *nd + p->sb.size);
    if (!nd) abort();
    nd->next = NULL;
    nd->len = p->sb.size;
    memcpy(nd->data, p->sb.data, p->sb.size);
    return nd;
}

typedef struct cv_queue {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    qnode *head, *tail;
    size_t n;
} cv_queue;

static void *
cv_producer(void *arg)
{
    bp_pin_other();
    cv_queue *q = arg;
    packer p;
    packer_init(&p);
    for (size_t i = 0; i < q->n; i++) {
        qnode *nd = packed_w1_node(&p);
        pthread_mutex_lock(&q->mu);
        if (q->tail)
            q->tail->next = nd;
        else
            q->head = nd;
        q->tail = nd;
        pthread_cond_signal(&q->cv);
        pthread_mutex_unlock(&q->mu);
    }
    packer_done(&p);
    return NULL;
}

static double
tput_condvar_rep(size_t n)
{
    cv_queue q = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER, .n = n};
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    pthread_t t;
    uint64_t t0 = bp_now_ns();
    if (pthread_create(&t, NULL, cv_producer, &q) != 0) abort();
    for (size_t i = 0; i < n; i++) {
        pthread_mutex_lock(&q.mu);
        while (!q.head)
            pthread_cond_wait(&q.cv, &q.mu);
        qnode *nd = q.head;
        q.head = nd->next;
        if (!q.head) q.tail = NULL;
        pthread_mutex_unlock(&q.mu);
        if (!unpack(&up, nd->data, nd->len)) abort();
        free(nd);
    }
    uint64_t t1 = bp_now_ns();
    pthread_join(t, NULL);
    msgpack_unpacked_destroy(&up);
    return (double)(t1 - t0) / (double)n;
}

/* ---- throughput: lock-free SPSC ring --------------------------------------------------- */

#define RING 1024
typedef struct spsc {
    _Alignas(64) _Atomic size_t head; /* consumer */
    _Alignas(64) _Atomic size_t tail; /* producer */
    _Alignas(64) qnode *slot[RING];
    size_t n;
} spsc;

static void *
spsc_producer(void *arg)
{
    bp_pin_other();
    spsc *q = arg;
    packer p;
    packer_init(&p);
    for (size_t i = 0; i < q->n; i++) {
        qnode *nd = packed_w1_node(&p);
        size_t t = atomic_load_explicit(&q->tail, memory_order_relaxed);
        while (t - atomic_load_explicit(&q->head, memory_order_acquire) >= RING)
            sched_yield();
        q->slot[t % RING] = nd;
        atomic_store_explicit(&q->tail, t + 1, memory_order_release);
    }
    packer_done(&p);
    return NULL;
}

static double
tput_spsc_rep(size_t n)
{
    spsc *q = aligned_alloc(64, sizeof(spsc));
    if (!q) abort();
    memset(q, 0, sizeof *q);
    q->n = n;
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    pthread_t t;
    uint64_t t0 = bp_now_ns();
    if (pthread_create(&t, NULL, spsc_producer, q) != 0) abort();
    for (size_t i = 0; i < n; i++) {
        size_t h = atomic_load_explicit(&q->head, memory_order_relaxed);
        while (atomic_load_explicit(&q->tail, memory_order_acquire) == h)
            sched_yield();
        qnode *nd = q->slot[h % RING];
        atomic_store_explicit(&q->head, h + 1, memory_order_release);
        if (!unpack(&up, nd->data, nd->len)) abort();
        free(nd);
    }
    uint64_t t1 = bp_now_ns();
    pthread_join(t, NULL);
    msgpack_unpacked_destroy(&up);
    free(q);
    return (double)(t1 - t0) / (double)n;
}

/* ---- ping-pong: mailboxes ---------------------------------------------------------------- */

typedef struct mailbox {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    _Atomic uint32_t seq; /* futex word: bumped per message */
    bool full;
    bool stop;
    size_t len;
    char buf[256];
} mailbox;

typedef struct pingpong {
    mailbox a, b; /* a: main -> echo, b: echo -> main */
    bool futex;
} pingpong;

static void
futex_wait(_Atomic uint32_t *w, uint32_t val)
{
    syscall(SYS_futex, (uint32_t *)w, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

static void
futex_wake(_Atomic uint32_t *w)
{
    syscall(SYS_futex, (uint32_t *)w, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

/* The caller owns the mailbox's contents between mb_take and its next use. */
static void
mb_put(mailbox *m, bool fx, const char *data, size_t len, bool stop)
{
    if (fx) {
        memcpy(m->buf, data, len);
        m->len = len;
        m->stop = stop;
        atomic_fetch_add_explicit(&m->seq, 1, memory_order_release);
        futex_wake(&m->seq);
        return;
    }
    pthread_mutex_lock(&m->mu);
    memcpy(m->buf, data, len);
    m->len = len;
    m->stop = stop;
    m->full = true;
    pthread_cond_signal(&m->cv);
    pthread_mutex_unlock(&m->mu);
}

static void
mb_take(mailbox *m, bool fx, uint32_t *last)
{
    if (fx) {
        uint32_t s;
        while ((s = atomic_load_explicit(&m->seq, memory_order_acquire)) == *last)
            futex_wait(&m->seq, s);
        *last = s;
        return;
    }
    pthread_mutex_lock(&m->mu);
    while (!m->full)
        pthread_cond_wait(&m->cv, &m->mu);
    m->full = false;
    pthread_mutex_unlock(&m->mu);
}

static void *
mb_echo(void *arg)
{
    bp_pin_other();
    pingpong *pp = arg;
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, sb_write);
    uint32_t last = 0;
    for (;;) {
        mb_take(&pp->a, pp->futex, &last);
        if (pp->a.stop) break;
        if (!unpack(&up, pp->a.buf, pp->a.len)) abort();
        msgpack_sbuffer_clear(&sb);
        msgpack_pack_object(&pk, up.data);
        mb_put(&pp->b, pp->futex, sb.data, sb.size, false);
    }
    msgpack_sbuffer_destroy(&sb);
    msgpack_unpacked_destroy(&up);
    return NULL;
}

static void
pingpong_mailbox(const char *bench, bool fx)
{
    if (!bp_wanted(bench)) return;
    pingpong *pp = calloc(1, sizeof *pp);
    if (!pp) abort();
    pthread_mutex_init(&pp->a.mu, NULL);
    pthread_mutex_init(&pp->b.mu, NULL);
    pthread_cond_init(&pp->a.cv, NULL);
    pthread_cond_init(&pp->b.cv, NULL);
    pp->futex = fx;
    packer p;
    packer_init(&p);
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    pthread_t t;
    if (pthread_create(&t, NULL, mb_echo, pp) != 0) abort();
    size_t k = bp_pingpong_k(false);
    double *rtts = malloc(k * sizeof *rtts);
    bp_rtt R;
    bp_rtt_init(&R, bp_opt.reps);
    uint32_t last = 0;
    size_t bytes = 0;
    for (int r = -1; r < bp_opt.reps; r++) {
        size_t kk = r < 0 ? k / 5 + 1 : k;
        for (size_t i = 0; i < kk; i++) {
            uint64_t t0 = bp_now_ns();
            pack_w1(&p);
            mb_put(&pp->a, fx, p.sb.data, p.sb.size, false);
            mb_take(&pp->b, fx, &last);
            if (!unpack(&up, pp->b.buf, pp->b.len)) abort();
            rtts[i] = (double)(bp_now_ns() - t0);
        }
        bytes = p.sb.size;
        if (r >= 0) bp_rtt_add_rep(&R, rtts, k);
    }
    mb_put(&pp->a, fx, "", 0, true);
    pthread_join(t, NULL);
    bp_rtt_emit(&R, "c", bench, "W1", bytes, k);
    bp_rtt_free(&R);
    free(rtts);
    msgpack_unpacked_destroy(&up);
    packer_done(&p);
    free(pp);
}

/* ---- ping-pong: spinning on atomics ------------------------------------------------------- */

typedef struct spin_pp {
    _Alignas(64) _Atomic uint64_t ping;
    _Alignas(64) _Atomic uint64_t pong;
} spin_pp;

static void *
spin_echo(void *arg)
{
    bp_pin_other();
    spin_pp *s = arg;
    uint64_t seen = 0;
    for (;;) {
        uint64_t v;
        while ((v = atomic_load_explicit(&s->ping, memory_order_acquire)) == seen)
            ;
        if (v == UINT64_MAX) break;
        seen = v;
        atomic_store_explicit(&s->pong, v, memory_order_release);
    }
    return NULL;
}

static void
pingpong_spin(void)
{
    const char *bench = "pingpong_spin";
    if (!bp_wanted(bench)) return;
    spin_pp *s = aligned_alloc(64, sizeof(spin_pp));
    if (!s) abort();
    memset(s, 0, sizeof *s);
    pthread_t t;
    if (pthread_create(&t, NULL, spin_echo, s) != 0) abort();
    size_t k = bp_pingpong_k(true);
    double *rtts = malloc(k * sizeof *rtts);
    bp_rtt R;
    bp_rtt_init(&R, bp_opt.reps);
    uint64_t seq = 0;
    for (int r = -1; r < bp_opt.reps; r++) {
        size_t kk = r < 0 ? k / 5 + 1 : k;
        for (size_t i = 0; i < kk; i++) {
            uint64_t t0 = bp_now_ns();
            atomic_store_explicit(&s->ping, ++seq, memory_order_release);
            while (atomic_load_explicit(&s->pong, memory_order_acquire) != seq)
                ;
            rtts[i] = (double)(bp_now_ns() - t0);
        }
        if (r >= 0) bp_rtt_add_rep(&R, rtts, k);
    }
    atomic_store(&s->ping, UINT64_MAX);
    pthread_join(t, NULL);
    bp_rtt_emit(&R, "c", bench, "int", 8, k);
    bp_rtt_free(&R);
    free(rtts);
    free(s);
}

/* ---- ZeroMQ ------------------------------------------------------------------------------- */

#ifdef MSGPORT_BENCH_HAVE_ZMQ
typedef struct zq {
    void *ctx;
    void *tx; /* the thread's socket */
    size_t n; /* tput: messages; pingpong: 0 = echo until an empty frame */
} zq;

static void *
zmq_producer(void *arg)
{
    bp_pin_other();
    zq *z = arg;
    packer p;
    packer_init(&p);
    for (size_t i = 0; i < z->n; i++) {
        pack_w1(&p);
        if (zmq_send(z->tx, p.sb.data, p.sb.size, 0) < 0) abort();
    }
    packer_done(&p);
    return NULL;
}

static void *
zmq_echo(void *arg)
{
    bp_pin_other();
    zq *z = arg;
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, sb_write);
    zmq_msg_t m;
    zmq_msg_init(&m);
    for (;;) {
        if (zmq_msg_recv(&m, z->tx, 0) < 0) abort();
        if (zmq_msg_size(&m) == 0) break;
        if (!unpack(&up, zmq_msg_data(&m), zmq_msg_size(&m))) abort();
        msgpack_sbuffer_clear(&sb);
        msgpack_pack_object(&pk, up.data);
        if (zmq_send(z->tx, sb.data, sb.size, 0) < 0) abort();
    }
    zmq_msg_close(&m);
    msgpack_sbuffer_destroy(&sb);
    msgpack_unpacked_destroy(&up);
    return NULL;
}

static void
zmq_pair(zq *z, void **rx, const char *ep)
{
    z->ctx = zmq_ctx_new();
    *rx = zmq_socket(z->ctx, ZMQ_PAIR);
    z->tx = zmq_socket(z->ctx, ZMQ_PAIR);
    if (!z->ctx || !*rx || !z->tx || zmq_bind(*rx, ep) != 0 || zmq_connect(z->tx, ep) != 0) abort();
}

static void
zmq_unpair(zq *z, void *rx)
{
    int zero = 0;
    zmq_setsockopt(rx, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(z->tx, ZMQ_LINGER, &zero, sizeof zero);
    zmq_close(rx);
    zmq_close(z->tx);
    zmq_ctx_term(z->ctx);
}

static double
zmq_tput_rep(size_t n)
{
    zq z = {.n = n};
    void *rx;
    zmq_pair(&z, &rx, "inproc://bench_tput");
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    zmq_msg_t m;
    zmq_msg_init(&m);
    pthread_t t;
    uint64_t t0 = bp_now_ns();
    if (pthread_create(&t, NULL, zmq_producer, &z) != 0) abort();
    for (size_t i = 0; i < n; i++) {
        if (zmq_msg_recv(&m, rx, 0) < 0) abort();
        if (!unpack(&up, zmq_msg_data(&m), zmq_msg_size(&m))) abort();
    }
    uint64_t t1 = bp_now_ns();
    pthread_join(t, NULL);
    zmq_msg_close(&m);
    msgpack_unpacked_destroy(&up);
    zmq_unpair(&z, rx);
    return (double)(t1 - t0) / (double)n;
}

static void
zmq_pingpong(void)
{
    const char *bench = "zmq_pingpong_w1";
    if (!bp_wanted(bench)) return;
    zq z = {.n = 0};
    void *rx;
    zmq_pair(&z, &rx, "inproc://bench_pp");
    pthread_t t;
    if (pthread_create(&t, NULL, zmq_echo, &z) != 0) abort();
    packer p;
    packer_init(&p);
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    zmq_msg_t m;
    zmq_msg_init(&m);
    size_t k = bp_pingpong_k(false);
    double *rtts = malloc(k * sizeof *rtts);
    bp_rtt R;
    bp_rtt_init(&R, bp_opt.reps);
    for (int r = -1; r < bp_opt.reps; r++) {
        size_t kk = r < 0 ? k / 5 + 1 : k;
        for (size_t i = 0; i < kk; i++) {
            uint64_t t0 = bp_now_ns();
            pack_w1(&p);
            if (zmq_send(rx, p.sb.data, p.sb.size, 0) < 0) abort();
            if (zmq_msg_recv(&m, rx, 0) < 0) abort();
            if (!unpack(&up, zmq_msg_data(&m), zmq_msg_size(&m))) abort();
            rtts[i] = (double)(bp_now_ns() - t0);
        }
        if (r >= 0) bp_rtt_add_rep(&R, rtts, k);
    }
    zmq_send(rx, "", 0, 0);
    pthread_join(t, NULL);
    bp_rtt_emit(&R, "c", bench, "W1", p.sb.size, k);
    bp_rtt_free(&R);
    free(rtts);
    zmq_msg_close(&m);
    msgpack_unpacked_destroy(&up);
    packer_done(&p);
    zmq_unpair(&z, rx);
}
#endif

/* ---- throughput driver ------------------------------------------------------------------------ */

static void
tput(const char *bench, double (*rep)(size_t))
{
    if (!bp_wanted(bench)) return;
    size_t n = bp_tput_n(WL_W1);
    int reps = bp_opt.reps;
    double *s = malloc((size_t)reps * sizeof *s);
    if (!s) abort();
    rep(n / 10); /* warm-up */
    for (int r = 0; r < reps; r++)
        s[r] = rep(n);
    packer p;
    packer_init(&p);
    pack_w1(&p);
    bp_emit_ns("c", bench, "W1", p.sb.size, s, reps, n);
    packer_done(&p);
    free(s);
}

/* ---- memcpy into fresh pages ---------------------------------------------------------------- */

typedef struct fresh {
    const char *src;
    size_t len;
    bool thp;
} fresh;

static uint64_t
rep_memcpy_fresh(void *p, size_t ops)
{
    fresh *f = p;
    uint64_t t0 = bp_now_ns();
    for (size_t i = 0; i < ops; i++) {
        char *d = mmap(NULL, f->len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (d == MAP_FAILED) abort();
        if (f->thp) madvise(d, f->len, MADV_HUGEPAGE);
        memcpy(d, f->src, f->len);
        bp_sink += (unsigned char)d[f->len - 1];
        munmap(d, f->len);
    }
    return bp_now_ns() - t0;
}

static void
memcpy_fresh(const bp_buf *buf)
{
    if (!bp_wanted("memcpy_fresh") && !bp_wanted("memcpy_fresh_thp")) return;
    char *src = bp_w6_fill(buf->bytes);
    if (!src) abort();
    fresh f = {src, buf->bytes, false};
    bp_measure("c", "memcpy_fresh", buf->name, buf->bytes, rep_memcpy_fresh, &f);
    f.thp = true;
    bp_measure("c", "memcpy_fresh_thp", buf->name, buf->bytes, rep_memcpy_fresh, &f);
    free(src);
}

/* ---- thread create + join ----------------------------------------------------------------- */

static void *
nothing(void *arg)
{
    return arg;
}

static uint64_t
rep_thread_create_join(void *p, size_t ops)
{
    (void)p;
    uint64_t t0 = bp_now_ns();
    for (size_t i = 0; i < ops; i++) {
        pthread_t t;
        if (pthread_create(&t, NULL, nothing, NULL) != 0) abort();
        pthread_join(t, NULL);
    }
    return bp_now_ns() - t0;
}

void
bp_run_baselines(void)
{
    tput("tput_condvar_w1", tput_condvar_rep);
    tput("tput_spsc_w1", tput_spsc_rep);
#ifdef MSGPORT_BENCH_HAVE_ZMQ
    tput("zmq_tput_w1", zmq_tput_rep);
#else
    if (bp_wanted("zmq_tput_w1")) bp_emit_error("c", "zmq_tput_w1", "W1", "built without libzmq");
#endif
    pingpong_mailbox("pingpong_condvar_w1", false);
    pingpong_mailbox("pingpong_futex", true);
    pingpong_spin();
#ifdef MSGPORT_BENCH_HAVE_ZMQ
    zmq_pingpong();
#else
    if (bp_wanted("zmq_pingpong_w1")) bp_emit_error("c", "zmq_pingpong_w1", "W1", "built without libzmq");
#endif
    for (int i = 0; i < BP_NBUF; i++)
        if (!bp_opt.quick || !bp_bufs[i].full_only) memcpy_fresh(&bp_bufs[i]);
    bp_measure("c", "thread_create_join", "-", 0, rep_thread_create_join, NULL);
}
