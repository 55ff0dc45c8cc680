/* MessageChannel ports: ping-pong between threads; two producers into one
 * port with nothing lost and each producer's order kept; close from either
 * side while the other posts; the eventfd driven by poll(); callback mode
 * with bounded batches; messageerror; try_receive and timeouts; a failed
 * post detaches nothing; unread messages are released on close.
 *
 * CUnit is not thread-safe: helper threads record what they saw and the
 * main thread asserts. */
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif

#include "testutil.h"

#define OK(call) CU_ASSERT_EQUAL_FATAL((call), MP_OK)

#if defined(__SANITIZE_THREAD__)
#define MPT_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define MPT_TSAN 1
#endif
#endif
#ifndef MPT_TSAN
#define MPT_TSAN 0
#endif

/* The issue asks for 1,000,000 per producer; TSan and valgrind run the
 * same code on fewer messages to stay within their time budgets. */
static size_t
producer_count(void)
{
    if (RUNNING_ON_VALGRIND) return 20000;
    return MPT_TSAN ? 100000 : 1000000;
}

static double
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static pthread_t
spawn(void *(*fn)(void *), void *arg)
{
    pthread_t t;
    CU_ASSERT_FATAL(pthread_create(&t, NULL, fn, arg) == 0);
    return t;
}

/* ---- ping-pong -------------------------------------------------------------------- */

typedef struct pingpong {
    mp_value port;
    int rounds;
    int errors;
} pingpong;

static void *
pong_thread(void *p)
{
    pingpong *pp = p;
    for (;;) {
        mp_value v;
        mp_status st = mp_port_receive(pp->port, NULL, MP_PORT_FOREVER, &v, NULL);
        if (st == MP_ECLOSED) break;
        if (st != MP_OK || mp_kind_of(v) != MP_NUMBER) {
            pp->errors++;
            break;
        }
        if (mp_port_post(pp->port, mp_number(mp_number_value(v) + 1), NULL, 0, NULL) != MP_OK) pp->errors++;
        pp->rounds++;
    }
    return NULL;
}

static void
test_pingpong(void)
{
    mp_realm *ra, *rb;
    OK(mp_realm_new(NULL, &ra));
    OK(mp_realm_new(NULL, &rb));
    mp_value a, b;
    OK(mp_channel_new(ra, rb, &a, &b));
    CU_ASSERT_EQUAL(mp_kind_of(a), MP_PORT);
    OK(mp_port_set_spin(a, 1000));
    pingpong pp = {b, 0, 0};
    pthread_t t = spawn(pong_thread, &pp);
    const int rounds = RUNNING_ON_VALGRIND ? 500 : 20000;
    double x = 0;
    for (int i = 0; i < rounds; i++) {
        OK(mp_port_post(a, mp_number(x), NULL, 0, NULL));
        mp_value v;
        OK(mp_port_receive(a, NULL, MP_PORT_FOREVER, &v, NULL));
        CU_ASSERT_EQUAL_FATAL(mp_number_value(v), x + 1);
        x += 2;
    }
    OK(mp_port_close(a));
    pthread_join(t, NULL);
    CU_ASSERT_EQUAL(pp.errors, 0);
    CU_ASSERT_EQUAL(pp.rounds, rounds);
    mp_realm_free(ra);
    mp_realm_free(rb);
}

/* ---- two producers into one port ---------------------------------------------- */

typedef struct producer {
    mp_value port; /* shared by both producers: post is thread-safe */
    int id;
    size_t count;
    size_t failures;
} producer;

static void *
producer_thread(void *p)
{
    producer *pr = p;
    for (size_t i = 0; i < pr->count; i++) {
        /* [producer, seq] packed into one exact double: no realm needed. */
        double v = (double)pr->id * 1e9 + (double)i;
        if (mp_port_post(pr->port, mp_number(v), NULL, 0, NULL) != MP_OK) pr->failures++;
    }
    return NULL;
}

static void
test_two_producers(void)
{
    mp_realm *rs, *rr;
    OK(mp_realm_new(NULL, &rs));
    OK(mp_realm_new(NULL, &rr));
    mp_value tx, rx;
    OK(mp_channel_new(rs, rr, &tx, &rx));
    size_t n = producer_count();
    producer p1 = {tx, 1, n, 0}, p2 = {tx, 2, n, 0};
    double t0 = now_ms();
    pthread_t t1 = spawn(producer_thread, &p1);
    pthread_t t2 = spawn(producer_thread, &p2);
    size_t next[3] = {0, 0, 0};
    size_t got = 0, disorder = 0, bad = 0;
    while (got < 2 * n) {
        mp_value v;
        mp_status st = mp_port_receive(rx, NULL, 10000, &v, NULL);
        if (st != MP_OK) {
            bad++;
            break;
        }
        double d = mp_number_value(v);
        int id = (int)(d / 1e9);
        size_t seq = (size_t)(d - (double)id * 1e9);
        if (id < 1 || id > 2) {
            bad++;
            break;
        }
        if (seq != next[id]) disorder++;
        next[id] = seq + 1;
        got++;
    }
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    double t1ms = now_ms() - t0;
    printf("\n    two producers: %zu messages in %.0f ms (%.2f M msg/s)\n", 2 * n, t1ms, (double)(2 * n) / t1ms / 1e3);
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT_EQUAL(disorder, 0);
    CU_ASSERT_EQUAL(got, 2 * n);
    CU_ASSERT_EQUAL(next[1], n);
    CU_ASSERT_EQUAL(next[2], n);
    CU_ASSERT_EQUAL(p1.failures + p2.failures, 0);
    mp_value v;
    CU_ASSERT_EQUAL(mp_port_try_receive(rx, NULL, &v, NULL), MP_EAGAIN);
    mp_realm_free(rs);
    mp_realm_free(rr);
}

/* ---- close from either side while the other posts -------------------------------- */

typedef struct poster {
    mp_value port;
    atomic_size_t posted;
    mp_status last;
    size_t after_fail_ok; /* posts that succeeded after a failure: must stay 0 */
    atomic_bool stop;
} poster;

static void *
poster_thread(void *p)
{
    poster *ps = p;
    bool failed = false;
    while (!atomic_load(&ps->stop)) {
        mp_status st = mp_port_post(ps->port, mp_number((double)atomic_load(&ps->posted)), NULL, 0, NULL);
        if (st == MP_OK) {
            atomic_fetch_add(&ps->posted, 1);
        } else {
            ps->last = st;
            if (!failed && atomic_load(&ps->posted) > 0) {
                /* Once refused, a channel never accepts again. */
                failed = true;
                for (int i = 0; i < 100; i++)
                    if (mp_port_post(ps->port, mp_number(0), NULL, 0, NULL) == MP_OK) ps->after_fail_ok++;
                break;
            }
        }
    }
    return NULL;
}

/* The receiver closes its end while the sender posts: the sender's posts
 * turn into MP_ENOPEER and never succeed again. */
static void
test_close_receiver_side(void)
{
    mp_realm *ra, *rb;
    OK(mp_realm_new(NULL, &ra));
    OK(mp_realm_new(NULL, &rb));
    mp_value a, b;
    OK(mp_channel_new(ra, rb, &a, &b));
    poster ps;
    memset(&ps, 0, sizeof ps);
    ps.port = a;
    ps.last = MP_OK;
    pthread_t t = spawn(poster_thread, &ps);
    size_t got = 0;
    while (got < 1000) {
        mp_value v;
        OK(mp_port_receive(b, NULL, 10000, &v, NULL));
        CU_ASSERT_EQUAL(mp_number_value(v), (double)got);
        got++;
    }
    OK(mp_port_close(b));
    OK(mp_port_close(b)); /* idempotent */
    pthread_join(t, NULL);
    CU_ASSERT_EQUAL(ps.last, MP_ENOPEER);
    CU_ASSERT_EQUAL(ps.after_fail_ok, 0);
    mp_value v;
    CU_ASSERT_EQUAL(mp_port_receive(b, NULL, 0, &v, NULL), MP_ECLOSED);
    CU_ASSERT_EQUAL(mp_port_post(a, mp_number(1), NULL, 0, NULL), MP_ENOPEER);
    /* The sender's own side learns of the close through its queue. */
    CU_ASSERT_EQUAL(mp_port_receive(a, NULL, 1000, &v, NULL), MP_ECLOSED);
    CU_ASSERT(mp_port_is_closed(a));
    mp_realm_free(ra);
    mp_realm_free(rb);
}

typedef struct closer {
    mp_value port;
    size_t count;
} closer;

static void *
post_then_close_thread(void *p)
{
    closer *c = p;
    for (size_t i = 0; i < c->count; i++) mp_port_post(c->port, mp_number((double)i), NULL, 0, NULL);
    mp_port_close(c->port);
    return NULL;
}

/* The sender closes right after posting: the receiver gets every message
 * posted before the close, in order, then MP_ECLOSED, and MP_ECLOSED
 * again; meanwhile its own posts fail cleanly once the peer is gone. */
static void
test_close_sender_side(void)
{
    mp_realm *ra, *rb;
    OK(mp_realm_new(NULL, &ra));
    OK(mp_realm_new(NULL, &rb));
    mp_value a, b;
    OK(mp_channel_new(ra, rb, &a, &b));
    closer c = {a, 50000};
    pthread_t t = spawn(post_then_close_thread, &c);
    size_t got = 0, disorder = 0, posted_back = 0, refused = 0;
    mp_status st;
    for (;;) {
        mp_value v;
        st = mp_port_receive(b, NULL, 10000, &v, NULL);
        if (st != MP_OK) break;
        if (mp_number_value(v) != (double)got) disorder++;
        got++;
        /* Post back while the other side closes: OK or MP_ENOPEER only. */
        mp_status pst = mp_port_post(b, mp_number(1), NULL, 0, NULL);
        if (pst == MP_OK)
            posted_back++;
        else if (pst == MP_ENOPEER)
            refused++;
    }
    pthread_join(t, NULL);
    CU_ASSERT_EQUAL(st, MP_ECLOSED);
    CU_ASSERT_EQUAL(got, c.count);
    CU_ASSERT_EQUAL(disorder, 0);
    CU_ASSERT_EQUAL(posted_back + refused, got);
    mp_value v;
    CU_ASSERT_EQUAL(mp_port_receive(b, NULL, 0, &v, NULL), MP_ECLOSED);
    CU_ASSERT_EQUAL(mp_port_try_receive(b, NULL, &v, NULL), MP_ECLOSED);
    CU_ASSERT_EQUAL(mp_port_post(b, mp_number(1), NULL, 0, NULL), MP_ENOPEER);
    CU_ASSERT_EQUAL(mp_port_post(a, mp_number(1), NULL, 0, NULL), MP_ECLOSED);
    mp_realm_free(ra);
    mp_realm_free(rb);
}

typedef struct blocked {
    mp_value port;
    mp_status st;
} blocked;

static void *
blocked_receiver(void *p)
{
    blocked *b = p;
    mp_value v;
    b->st = mp_port_receive(b->port, NULL, MP_PORT_FOREVER, &v, NULL);
    return NULL;
}

/* A receiver blocked forever wakes up when the peer closes. */
static void
test_close_wakes_receiver(void)
{
    mp_realm *ra, *rb;
    OK(mp_realm_new(NULL, &ra));
    OK(mp_realm_new(NULL, &rb));
    mp_value a, b;
    OK(mp_channel_new(ra, rb, &a, &b));
    blocked bl = {b, MP_OK};
    pthread_t t = spawn(blocked_receiver, &bl);
    struct timespec ts = {0, 20 * 1000 * 1000};
    nanosleep(&ts, NULL);
    OK(mp_port_close(a));
    pthread_join(t, NULL);
    CU_ASSERT_EQUAL(bl.st, MP_ECLOSED);
    mp_realm_free(ra);
    mp_realm_free(rb);
}

/* ---- eventfd and poll() ------------------------------------------------------------ */

typedef struct slow_poster {
    mp_value port;
    int count;
} slow_poster;

static void *
slow_poster_thread(void *p)
{
    slow_poster *s = p;
    for (int i = 0; i < s->count; i++) {
        mp_port_post(s->port, mp_number(i), NULL, 0, NULL);
        if (i % 7 == 0) {
            struct timespec ts = {0, 200 * 1000};
            nanosleep(&ts, NULL);
        }
    }
    mp_port_close(s->port);
    return NULL;
}

static void
test_eventfd_poll(void)
{
    mp_realm *ra, *rb;
    OK(mp_realm_new(NULL, &ra));
    OK(mp_realm_new(NULL, &rb));
    mp_value a, b;
    OK(mp_channel_new(ra, rb, &a, &b));
    int fd = -1;
    OK(mp_port_fd(b, &fd));
    CU_ASSERT(fd >= 0);
    int fd2 = -2;
    OK(mp_port_fd(b, &fd2));
    CU_ASSERT_EQUAL(fd, fd2);
    struct pollfd pfd = {fd, POLLIN, 0};
    CU_ASSERT_EQUAL(poll(&pfd, 1, 0), 0); /* empty: not readable */

    OK(mp_port_post(a, mp_number(-1), NULL, 0, NULL));
    CU_ASSERT_EQUAL(poll(&pfd, 1, 0), 1);
    mp_value v;
    OK(mp_port_try_receive(b, NULL, &v, NULL));
    CU_ASSERT_EQUAL(poll(&pfd, 1, 0), 0); /* drained with the queue */

    slow_poster sp = {a, 3000};
    pthread_t t = spawn(slow_poster_thread, &sp);
    int got = 0, wakeups = 0, disorder = 0;
    bool closed = false;
    while (!closed) {
        pfd.revents = 0;
        int k = poll(&pfd, 1, 10000);
        CU_ASSERT_EQUAL_FATAL(k, 1);
        wakeups++;
        for (;;) {
            mp_status st = mp_port_try_receive(b, NULL, &v, NULL);
            if (st == MP_EAGAIN) break;
            if (st == MP_ECLOSED) {
                closed = true;
                break;
            }
            CU_ASSERT_EQUAL_FATAL(st, MP_OK);
            if (mp_number_value(v) != got) disorder++;
            got++;
        }
    }
    pthread_join(t, NULL);
    printf("\n    eventfd: %d messages in %d wake-ups\n", got, wakeups);
    CU_ASSERT_EQUAL(got, 3000);
    CU_ASSERT_EQUAL(disorder, 0);
    CU_ASSERT(wakeups <= got + 1);
    mp_realm_free(ra);
    mp_realm_free(rb);
}

/* ---- callback mode ------------------------------------------------------------------- */

typedef struct cb_state {
    int messages;
    int closes;
    int errors;
    double last;
} cb_state;

static void
on_message(void *ctx, mp_value port, mp_status status, mp_value value, const mp_error_info *err)
{
    (void)port;
    cb_state *s = ctx;
    if (status == MP_OK) {
        if (mp_number_value(value) != s->last + 1) s->errors++;
        s->last = mp_number_value(value);
        s->messages++;
    } else if (status == MP_ECLOSED) {
        s->closes++;
    } else {
        s->errors++;
        (void)err;
    }
}

static void
test_callback_mode(void)
{
    mp_realm *ra, *rb;
    OK(mp_realm_new(NULL, &ra));
    OK(mp_realm_new(NULL, &rb));
    mp_value a, b;
    OK(mp_channel_new(ra, rb, &a, &b));
    size_t ran = 99;
    CU_ASSERT_EQUAL(mp_port_dispatch(b, 10, &ran), MP_EINVAL); /* no callback yet */
    cb_state s = {0, 0, 0, -1};
    OK(mp_port_set_callback(b, on_message, &s));
    int fd;
    OK(mp_port_fd(b, &fd));
    for (int i = 0; i < 2500; i++) OK(mp_port_post(a, mp_number(i), NULL, 0, NULL));
    struct pollfd pfd = {fd, POLLIN, 0};
    size_t batches[4];
    for (int i = 0; i < 3; i++) {
        CU_ASSERT_EQUAL(poll(&pfd, 1, 0), 1);
        OK(mp_port_dispatch(b, 1000, &batches[i]));
    }
    CU_ASSERT_EQUAL(batches[0], 1000);
    CU_ASSERT_EQUAL(batches[1], 1000);
    CU_ASSERT_EQUAL(batches[2], 500);
    CU_ASSERT_EQUAL(poll(&pfd, 1, 0), 0);
    OK(mp_port_dispatch(b, 1000, &batches[3]));
    CU_ASSERT_EQUAL(batches[3], 0);
    CU_ASSERT_EQUAL(s.messages, 2500);
    CU_ASSERT_EQUAL(s.errors, 0);

    OK(mp_port_post(a, mp_number(2500), NULL, 0, NULL));
    OK(mp_port_close(a));
    CU_ASSERT_EQUAL(poll(&pfd, 1, 0), 1);
    OK(mp_port_dispatch(b, 0, &ran));
    CU_ASSERT_EQUAL(ran, 2); /* the message, then the close event */
    CU_ASSERT_EQUAL(s.messages, 2501);
    CU_ASSERT_EQUAL(s.closes, 1);
    CU_ASSERT_EQUAL(mp_port_dispatch(b, 0, &ran), MP_ECLOSED);
    CU_ASSERT_EQUAL(ran, 0);
    CU_ASSERT_EQUAL(s.closes, 1);
    mp_realm_free(ra);
    mp_realm_free(rb);
}

/* ---- messageerror, try_receive, timeouts ------------------------------------------------- */

static void
test_messageerror(void)
{
    mp_realm *ra, *rb;
    OK(mp_realm_new(NULL, &ra));
    OK(mp_realm_new(NULL, &rb));
    mp_value a, b;
    OK(mp_channel_new(ra, rb, &a, &b));
    static const uint8_t garbage[] = {0xc1, 0xff, 0x00, 0x13, 0x37};
    mp_message *m = NULL;
    OK(mp_message_from_bytes(garbage, sizeof garbage, NULL, &m));
    OK(mp_port_post_message(a, m)); /* the port owns m now */
    OK(mp_port_post(a, mpt_str(ra, "after"), NULL, 0, NULL));
    mp_value v = mp_number(7);
    mp_error_info err;
    CU_ASSERT_EQUAL(mp_port_receive(b, NULL, 1000, &v, &err), MP_EMESSAGE);
    CU_ASSERT_EQUAL(err.code, MP_EMESSAGE);
    CU_ASSERT(err.detail[0] != '\0');
    CU_ASSERT_EQUAL(mp_number_value(v), 7); /* untouched */
    OK(mp_port_receive(b, NULL, 1000, &v, &err));
    CU_ASSERT(mp_string_equals_utf8(v, "after", 5));
    CU_ASSERT(mp_value_realm(v) == rb);
    mp_realm_free(ra);
    mp_realm_free(rb);
}

static void
test_try_receive_and_timeouts(void)
{
    mp_realm *ra, *rb;
    OK(mp_realm_new(NULL, &ra));
    OK(mp_realm_new(NULL, &rb));
    mp_value a, b;
    OK(mp_channel_new(ra, rb, &a, &b));
    mp_value v;
    CU_ASSERT_EQUAL(mp_port_try_receive(b, NULL, &v, NULL), MP_EAGAIN);
    CU_ASSERT_EQUAL(mp_port_receive(b, NULL, 0, &v, NULL), MP_EAGAIN);
    mp_message *raw = NULL;
    CU_ASSERT_EQUAL(mp_port_receive_message(b, 0, &raw), MP_EAGAIN);
    double t0 = now_ms();
    CU_ASSERT_EQUAL(mp_port_receive(b, NULL, 50, &v, NULL), MP_ETIMEDOUT);
    double dt = now_ms() - t0;
    CU_ASSERT(dt >= 49.0);
    CU_ASSERT(dt < 5000.0);
    OK(mp_port_set_spin(b, 100000));
    CU_ASSERT_EQUAL(mp_port_receive_message(b, 20, &raw), MP_ETIMEDOUT);
    OK(mp_port_post(a, mp_number(3), NULL, 0, NULL));
    CU_ASSERT_EQUAL(mp_port_pending(b), 1);
    /* Raw receive and forward without decoding: a router. */
    OK(mp_port_receive_message(b, 100, &raw));
    CU_ASSERT_PTR_NOT_NULL_FATAL(raw);
    OK(mp_port_post_message(b, raw));
    OK(mp_port_receive(a, NULL, 100, &v, NULL));
    CU_ASSERT_EQUAL(mp_number_value(v), 3);
    CU_ASSERT_EQUAL(mp_port_receive(mp_number(1), NULL, 0, &v, NULL), MP_ETYPE);
    CU_ASSERT_EQUAL(mp_port_post(mp_null(), mp_number(1), NULL, 0, NULL), MP_ETYPE);
    mp_realm_free(ra);
    mp_realm_free(rb);
}

/* ---- failed posts detach nothing ---------------------------------------------------------- */

static void
test_post_on_closed_detaches_nothing(void)
{
    mp_realm *ra, *rb;
    OK(mp_realm_new(NULL, &ra));
    OK(mp_realm_new(NULL, &rb));
    mp_value a, b;
    OK(mp_channel_new(ra, rb, &a, &b));
    mp_value ab;
    OK(mp_arraybuffer_new(ra, 4096, &ab));
    mp_error_info err;

    /* Peer gone: MP_ENOPEER, buffer still attached. */
    OK(mp_port_close(b));
    CU_ASSERT_EQUAL(mp_port_post(a, ab, &ab, 1, &err), MP_ENOPEER);
    CU_ASSERT_EQUAL(err.code, MP_ENOPEER);
    CU_ASSERT(!mp_arraybuffer_is_detached(ab));
    CU_ASSERT_EQUAL(mp_arraybuffer_byte_length(ab), 4096);

    /* Own side closed: MP_ECLOSED, buffer still attached. */
    OK(mp_port_close(a));
    CU_ASSERT_EQUAL(mp_port_post(a, ab, &ab, 1, &err), MP_ECLOSED);
    CU_ASSERT(!mp_arraybuffer_is_detached(ab));

    /* A raw message refused stays the caller's. */
    mp_message *m = NULL;
    OK(mp_serialize(mp_number(1), NULL, 0, &m, NULL));
    CU_ASSERT_EQUAL(mp_port_post_message(a, m), MP_ECLOSED);
    mp_message_free(m);

    /* A serialization error on a live channel detaches nothing either. */
    mp_value c, d;
    OK(mp_channel_new(ra, rb, &c, &d));
    mp_value sab;
    OK(mp_sab_new(ra, 16, &sab));
    mp_value list[2] = {ab, sab};
    CU_ASSERT_EQUAL(mp_port_post(c, ab, list, 2, &err), MP_EDATACLONE);
    CU_ASSERT(!mp_arraybuffer_is_detached(ab));
    CU_ASSERT_EQUAL(mp_port_pending(d), 0);

    /* And a good transfer moves the store: same data pointer. */
    void *before;
    OK(mp_arraybuffer_data(ab, &before, NULL));
    OK(mp_port_post(c, ab, &ab, 1, &err));
    CU_ASSERT(mp_arraybuffer_is_detached(ab));
    mp_value got;
    OK(mp_port_receive(d, NULL, 100, &got, NULL));
    void *after;
    size_t len;
    OK(mp_arraybuffer_data(got, &after, &len));
    CU_ASSERT_PTR_EQUAL(before, after);
    CU_ASSERT_EQUAL(len, 4096);
    mp_realm_free(ra);
    mp_realm_free(rb);
}

/* ---- unread messages are released ------------------------------------------------------------ */

static atomic_int deleted;

static void
count_delete(void *data, size_t len, void *ctx)
{
    (void)len;
    (void)ctx;
    free(data);
    atomic_fetch_add(&deleted, 1);
}

static void
test_unread_released_on_close(void)
{
    mp_realm *ra, *rb;
    OK(mp_realm_new(NULL, &ra));
    OK(mp_realm_new(NULL, &rb));
    mp_value a, b;
    OK(mp_channel_new(ra, rb, &a, &b));
    atomic_store(&deleted, 0);
    for (int i = 0; i < 3; i++) {
        mp_value ab;
        void *mem = malloc(64);
        CU_ASSERT_PTR_NOT_NULL_FATAL(mem);
        OK(mp_arraybuffer_new_external(ra, mem, 64, count_delete, NULL, &ab));
        OK(mp_port_post(a, ab, &ab, 1, NULL));
    }
    mp_value sab, sab_view;
    OK(mp_sab_new(ra, 64, &sab));
    OK(mp_typedarray_new(MP_INT32, sab, 0, MP_LENGTH_AUTO, &sab_view));
    OK(mp_port_post(a, sab, NULL, 0, NULL));
    CU_ASSERT_EQUAL(mp_port_pending(b), 4);
    CU_ASSERT_EQUAL(atomic_load(&deleted), 0);
    OK(mp_port_close(b)); /* unread: transferred stores freed, SAB ref dropped */
    CU_ASSERT_EQUAL(atomic_load(&deleted), 3);
    CU_ASSERT_EQUAL(mp_port_pending(b), 0);
    mp_realm_free(ra);
    mp_realm_free(rb);
}

/* Freeing the realm that holds a port closes it: the peer sees close. */
static void
test_realm_free_closes(void)
{
    mp_realm *ra, *rb;
    OK(mp_realm_new(NULL, &ra));
    OK(mp_realm_new(NULL, &rb));
    mp_value a, b;
    OK(mp_channel_new(ra, rb, &a, &b));
    OK(mp_port_post(a, mp_number(1), NULL, 0, NULL));
    mp_realm_free(ra);
    mp_value v;
    OK(mp_port_receive(b, NULL, 100, &v, NULL));
    CU_ASSERT_EQUAL(mp_port_receive(b, NULL, 100, &v, NULL), MP_ECLOSED);

    /* Collecting an unreachable port closes it too. */
    mp_value c, d;
    OK(mp_channel_new(rb, NULL, &c, &d));
    mp_realm_collect(rb, &d, 1);
    CU_ASSERT_EQUAL(mp_port_receive(d, NULL, 100, &v, NULL), MP_ECLOSED);
    mp_realm_free(rb);
}

/* Every allocation of mp_channel_new failing in turn: MP_ENOMEM with
 * nothing leaked, or a working channel. */
static void
test_channel_oom(void)
{
    int failures_seen = 0;
    for (long long k = 1; k < 16; k++) {
        mpt_alloc al;
        mpt_alloc_init(&al);
        mp_realm *r;
        OK(mp_realm_new(&al.alc, &r));
        atomic_store(&al.fail_at, atomic_load(&al.allocations) + k);
        mp_value a, b;
        mp_status st = mp_channel_new(r, NULL, &a, &b);
        atomic_store(&al.fail_at, 0);
        CU_ASSERT(st == MP_OK || st == MP_ENOMEM);
        if (st == MP_OK) {
            mp_value v;
            OK(mp_port_post(a, mp_number(1), NULL, 0, NULL));
            OK(mp_port_receive(b, NULL, 100, &v, NULL));
        } else {
            failures_seen++;
            CU_ASSERT_EQUAL(mp_realm_get_stats(r).values, 0);
        }
        mp_realm_free(r);
        CU_ASSERT_EQUAL(atomic_load(&al.live_bytes), 0);
    }
    CU_ASSERT(failures_seen > 0);
}

/* Queue nodes are recycled: after a warm-up, posting and receiving costs
 * the ports' allocator nothing (the message itself is the codec's). */
static void
test_steady_state_no_allocation(void)
{
    mpt_alloc al;
    mpt_alloc_init(&al);
    mp_realm *r;
    OK(mp_realm_new(&al.alc, &r));
    mp_value a, b, v;
    OK(mp_channel_new(r, NULL, &a, &b));
    for (int i = 0; i < 100; i++) OK(mp_port_post(a, mp_number(i), NULL, 0, NULL));
    for (int i = 0; i < 100; i++) OK(mp_port_receive(b, NULL, 0, &v, NULL));
    long long before = atomic_load(&al.allocations);
    for (int round = 0; round < 100; round++) {
        for (int i = 0; i < 50; i++) OK(mp_port_post(a, mp_number(i), NULL, 0, NULL));
        for (int i = 0; i < 50; i++) OK(mp_port_receive(b, NULL, 0, &v, NULL));
    }
    CU_ASSERT_EQUAL(atomic_load(&al.allocations), before);
    mp_realm_free(r);
    CU_ASSERT_EQUAL(atomic_load(&al.live_bytes), 0);
}

int
main(void)
{
    static const mpt_test tests[] = {
        {"pingpong", test_pingpong},
        {"two producers x 1,000,000 into one port", test_two_producers},
        {"receiver closes while the sender posts", test_close_receiver_side},
        {"sender closes while the receiver posts back", test_close_sender_side},
        {"close wakes a blocked receiver", test_close_wakes_receiver},
        {"eventfd driven by poll()", test_eventfd_poll},
        {"callback mode, bounded batches", test_callback_mode},
        {"messageerror then the next message", test_messageerror},
        {"try_receive, timeouts, raw forward", test_try_receive_and_timeouts},
        {"failed post detaches nothing", test_post_on_closed_detaches_nothing},
        {"unread messages released on close", test_unread_released_on_close},
        {"freeing a port closes it", test_realm_free_closes},
        {"allocation failures in mp_channel_new", test_channel_oom},
        {"steady state allocates no queue nodes", test_steady_state_no_allocation},
        {NULL, NULL},
    };
    return mpt_run("port", tests);
}
