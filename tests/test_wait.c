/* Atomics.wait / Atomics.notify between threads: wake-ups, timeouts on the
 * monotonic clock, not-equal, FIFO order, counts, refused buffers. */
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "buffer/buffer_internal.h"
#include "internal.h"
#include "testutil.h"

static mp_realm *
new_realm(void)
{
    mp_realm *r = NULL;
    CU_ASSERT_EQUAL_FATAL(mp_realm_new(NULL, &r), MP_OK);
    return r;
}

static double
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void
sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static mpi_store *
store_of(mp_value sab)
{
    return ((mpi_sab *)sab.u_.cell_)->store;
}

/* Address of element i of an Int32/BigInt64 view. */
static void *
elem_addr(mp_value view, size_t i)
{
    uint8_t *d = NULL;
    size_t len;
    CU_ASSERT_EQUAL_FATAL(mp_view_data(view, (void **)&d, &len), MP_OK);
    return d + i * mp_view_type_size(mp_view_type_of(view));
}

/* Polls until n threads wait on addr (or gives up after 10 s). */
static bool
await_waiters(mpi_store *s, const void *addr, size_t n)
{
    double end = now_ms() + 10000;
    while (mpi_wait_queue_length(s, addr) != n) {
        if (now_ms() > end) return false;
        sleep_ms(1);
    }
    return true;
}

typedef struct waiter {
    mp_realm *realm;
    mp_value sab; /* this thread's own handle */
    mp_view_type type;
    size_t index;
    int64_t expected;
    double timeout_ms;
    mp_status status;
    mp_wait_result result;
    int32_t seen; /* the payload, read after waking */
    double elapsed_ms;
} waiter;

static void *
waiter_thread(void *p)
{
    waiter *w = p;
    mp_value view, expected;
    w->status = mp_typedarray_new(w->type, w->sab, 0, MP_LENGTH_AUTO, &view);
    if (w->status != MP_OK) return NULL;
    if (w->type == MP_BIGINT64)
        w->status = mp_bigint_from_int64(w->realm, w->expected, &expected);
    else
        expected = mp_number((double)w->expected);
    if (w->status != MP_OK) return NULL;
    double t0 = now_ms();
    w->status = mp_atomics_wait(view, w->index, expected, w->timeout_ms, &w->result);
    w->elapsed_ms = now_ms() - t0;
    /* A plain read: the happens-before edge is the store's wait lock. */
    int32_t *d;
    size_t len;
    if (mp_sab_data(w->sab, (void **)&d, &len) == MP_OK && len >= 16) w->seen = d[3];
    return NULL;
}

static void
waiter_init(waiter *w, mp_value sab, mp_view_type type, size_t index, int64_t expected, double timeout_ms)
{
    memset(w, 0, sizeof *w);
    w->realm = new_realm();
    CU_ASSERT_EQUAL_FATAL(mp_sab_share(sab, w->realm, &w->sab), MP_OK);
    w->type = type;
    w->index = index;
    w->expected = expected;
    w->timeout_ms = timeout_ms;
    w->status = MP_EINVAL;
    w->result = (mp_wait_result)-1;
    w->seen = -1;
}

static void
test_wait_notify_two_threads(void)
{
    mp_realm *r = new_realm();
    mp_value sab, view;
    CU_ASSERT_EQUAL_FATAL(mp_sab_new(r, 16, &sab), MP_OK);
    CU_ASSERT_EQUAL_FATAL(mp_typedarray_new(MP_INT32, sab, 0, MP_LENGTH_AUTO, &view), MP_OK);
    waiter w;
    waiter_init(&w, sab, MP_INT32, 1, 0, INFINITY);
    pthread_t t;
    CU_ASSERT_EQUAL_FATAL(pthread_create(&t, NULL, waiter_thread, &w), 0);
    CU_ASSERT_TRUE_FATAL(await_waiters(store_of(sab), elem_addr(view, 1), 1));
    /* A plain write before notify must be visible to the woken thread. */
    int32_t *d;
    CU_ASSERT_EQUAL(mp_sab_data(sab, (void **)&d, NULL), MP_OK);
    d[3] = 1234;
    /* Notify on another element wakes no one. */
    uint32_t woken = 99;
    CU_ASSERT_EQUAL(mp_atomics_notify(view, 0, UINT32_MAX, &woken), MP_OK);
    CU_ASSERT_EQUAL(woken, 0);
    CU_ASSERT_EQUAL(mpi_wait_queue_length(store_of(sab), elem_addr(view, 1)), 1);
    CU_ASSERT_EQUAL(mp_atomics_notify(view, 1, 1, &woken), MP_OK);
    CU_ASSERT_EQUAL(woken, 1);
    pthread_join(t, NULL);
    CU_ASSERT_EQUAL(w.status, MP_OK);
    CU_ASSERT_EQUAL(w.result, MP_WAIT_OK);
    CU_ASSERT_EQUAL(w.seen, 1234);
    CU_ASSERT_EQUAL(mpi_wait_queue_length(store_of(sab), elem_addr(view, 1)), 0);
    mp_realm_free(w.realm);
    mp_realm_free(r);
}

static void
test_bigint64_wait(void)
{
    mp_realm *r = new_realm();
    mp_value sab, view, v;
    CU_ASSERT_EQUAL_FATAL(mp_sab_new(r, 16, &sab), MP_OK);
    CU_ASSERT_EQUAL_FATAL(mp_typedarray_new(MP_BIGINT64, sab, 0, MP_LENGTH_AUTO, &view), MP_OK);
    CU_ASSERT_EQUAL_FATAL(mp_bigint_from_int64(r, -7, &v), MP_OK);
    CU_ASSERT_EQUAL(mp_atomics_store(view, 0, v, NULL), MP_OK);
    waiter w;
    waiter_init(&w, sab, MP_BIGINT64, 0, -7, NAN); /* NaN: forever */
    pthread_t t;
    CU_ASSERT_EQUAL_FATAL(pthread_create(&t, NULL, waiter_thread, &w), 0);
    CU_ASSERT_TRUE_FATAL(await_waiters(store_of(sab), elem_addr(view, 0), 1));
    uint32_t woken = 0;
    CU_ASSERT_EQUAL(mp_atomics_notify(view, 0, UINT32_MAX, &woken), MP_OK);
    CU_ASSERT_EQUAL(woken, 1);
    pthread_join(t, NULL);
    CU_ASSERT_EQUAL(w.status, MP_OK);
    CU_ASSERT_EQUAL(w.result, MP_WAIT_OK);

    mp_wait_result res = (mp_wait_result)-1;
    CU_ASSERT_EQUAL(mp_atomics_wait(view, 0, v, 0, &res), MP_OK);
    CU_ASSERT_EQUAL(res, MP_WAIT_TIMED_OUT);
    CU_ASSERT_EQUAL(mp_atomics_wait(view, 1, v, INFINITY, &res), MP_OK);
    CU_ASSERT_EQUAL(res, MP_WAIT_NOT_EQUAL);
    CU_ASSERT_EQUAL(mp_atomics_wait(view, 0, mp_number(-7), 0, &res), MP_ETYPE);
    mp_realm_free(w.realm);
    mp_realm_free(r);
}

static void
test_timeouts(void)
{
    mp_realm *r = new_realm();
    mp_value sab, view;
    CU_ASSERT_EQUAL_FATAL(mp_sab_new(r, 8, &sab), MP_OK);
    CU_ASSERT_EQUAL_FATAL(mp_typedarray_new(MP_INT32, sab, 0, MP_LENGTH_AUTO, &view), MP_OK);
    const double timeouts[] = {50, 20.5, 1};
    for (size_t i = 0; i < sizeof timeouts / sizeof timeouts[0]; i++) {
        mp_wait_result res = (mp_wait_result)-1;
        double t0 = now_ms();
        CU_ASSERT_EQUAL(mp_atomics_wait(view, 0, mp_number(0), timeouts[i], &res), MP_OK);
        double elapsed = now_ms() - t0;
        CU_ASSERT_EQUAL(res, MP_WAIT_TIMED_OUT);
        CU_ASSERT(elapsed >= timeouts[i]);
        CU_ASSERT(elapsed < timeouts[i] + 5000);
    }
    /* Zero and negative timeouts return at once. */
    const double now[] = {0, -0.0, -5, -INFINITY};
    for (size_t i = 0; i < sizeof now / sizeof now[0]; i++) {
        mp_wait_result res = (mp_wait_result)-1;
        double t0 = now_ms();
        CU_ASSERT_EQUAL(mp_atomics_wait(view, 1, mp_number(0), now[i], &res), MP_OK);
        CU_ASSERT_EQUAL(res, MP_WAIT_TIMED_OUT);
        CU_ASSERT(now_ms() - t0 < 1000);
    }
    /* A timed-out waiter leaves the queue. */
    CU_ASSERT_EQUAL(mpi_wait_queue_length(store_of(sab), elem_addr(view, 0)), 0);
    uint32_t woken = 99;
    CU_ASSERT_EQUAL(mp_atomics_notify(view, 0, UINT32_MAX, &woken), MP_OK);
    CU_ASSERT_EQUAL(woken, 0);
    mp_realm_free(r);
}

static void
test_timed_waiter_woken_early(void)
{
    mp_realm *r = new_realm();
    mp_value sab, view;
    CU_ASSERT_EQUAL_FATAL(mp_sab_new(r, 16, &sab), MP_OK);
    CU_ASSERT_EQUAL_FATAL(mp_typedarray_new(MP_INT32, sab, 0, MP_LENGTH_AUTO, &view), MP_OK);
    waiter w;
    waiter_init(&w, sab, MP_INT32, 2, 0, 60000);
    pthread_t t;
    CU_ASSERT_EQUAL_FATAL(pthread_create(&t, NULL, waiter_thread, &w), 0);
    CU_ASSERT_TRUE_FATAL(await_waiters(store_of(sab), elem_addr(view, 2), 1));
    uint32_t woken = 0;
    CU_ASSERT_EQUAL(mp_atomics_notify(view, 2, 5, &woken), MP_OK);
    CU_ASSERT_EQUAL(woken, 1);
    pthread_join(t, NULL);
    CU_ASSERT_EQUAL(w.result, MP_WAIT_OK);
    CU_ASSERT(w.elapsed_ms < 60000);
    mp_realm_free(w.realm);
    mp_realm_free(r);
}

static void
test_not_equal(void)
{
    mp_realm *r = new_realm();
    mp_value sab, view;
    CU_ASSERT_EQUAL_FATAL(mp_sab_new(r, 8, &sab), MP_OK);
    CU_ASSERT_EQUAL_FATAL(mp_typedarray_new(MP_INT32, sab, 0, MP_LENGTH_AUTO, &view), MP_OK);
    CU_ASSERT_EQUAL(mp_atomics_store(view, 0, mp_number(5), NULL), MP_OK);
    mp_wait_result res = (mp_wait_result)-1;
    CU_ASSERT_EQUAL(mp_atomics_wait(view, 0, mp_number(4), INFINITY, &res), MP_OK);
    CU_ASSERT_EQUAL(res, MP_WAIT_NOT_EQUAL);
    /* expected goes through ToInt32: 2^32 + 5 equals 5, so this times out. */
    CU_ASSERT_EQUAL(mp_atomics_wait(view, 0, mp_number(4294967296.0 + 5), 1, &res), MP_OK);
    CU_ASSERT_EQUAL(res, MP_WAIT_TIMED_OUT);
    CU_ASSERT_EQUAL(mp_atomics_store(view, 1, mp_number(-1), NULL), MP_OK);
    CU_ASSERT_EQUAL(mp_atomics_wait(view, 1, mp_number(4294967295.0), 0, &res), MP_OK);
    CU_ASSERT_EQUAL(res, MP_WAIT_TIMED_OUT);
    CU_ASSERT_EQUAL(mp_atomics_wait(view, 1, mp_number(1), 0, &res), MP_OK);
    CU_ASSERT_EQUAL(res, MP_WAIT_NOT_EQUAL);
    mp_realm_free(r);
}

static void
test_fifo_and_counts(void)
{
    mp_realm *r = new_realm();
    mp_value sab, view;
    CU_ASSERT_EQUAL_FATAL(mp_sab_new(r, 16, &sab), MP_OK);
    CU_ASSERT_EQUAL_FATAL(mp_typedarray_new(MP_INT32, sab, 0, MP_LENGTH_AUTO, &view), MP_OK);
    mpi_store *s = store_of(sab);
    void *addr = elem_addr(view, 0);
    waiter w[3];
    pthread_t t[3];
    /* Queue them one at a time so the order is known: 0, 1, 2. */
    for (int i = 0; i < 3; i++) {
        waiter_init(&w[i], sab, MP_INT32, 0, 0, INFINITY);
        CU_ASSERT_EQUAL_FATAL(pthread_create(&t[i], NULL, waiter_thread, &w[i]), 0);
        CU_ASSERT_TRUE_FATAL(await_waiters(s, addr, (size_t)i + 1));
    }
    uint32_t woken = 99;
    CU_ASSERT_EQUAL(mp_atomics_notify(view, 0, 0, &woken), MP_OK);
    CU_ASSERT_EQUAL(woken, 0);
    CU_ASSERT_EQUAL(mpi_wait_queue_length(s, addr), 3);

    /* Oldest first: each notify(1) must release exactly the next in line
     * while the younger ones stay queued. */
    for (int i = 0; i < 2; i++) {
        CU_ASSERT_EQUAL(mp_atomics_notify(view, 0, 1, &woken), MP_OK);
        CU_ASSERT_EQUAL(woken, 1);
        pthread_join(t[i], NULL);
        CU_ASSERT_EQUAL(w[i].status, MP_OK);
        CU_ASSERT_EQUAL(w[i].result, MP_WAIT_OK);
        CU_ASSERT_EQUAL(mpi_wait_queue_length(s, addr), (size_t)(2 - i));
        for (int j = i + 1; j < 3; j++)
            CU_ASSERT_EQUAL(w[j].result, (mp_wait_result)-1);
    }
    CU_ASSERT_EQUAL(mp_atomics_notify(view, 0, UINT32_MAX, &woken), MP_OK);
    CU_ASSERT_EQUAL(woken, 1);
    pthread_join(t[2], NULL);
    CU_ASSERT_EQUAL(w[2].result, MP_WAIT_OK);
    for (int i = 0; i < 3; i++)
        mp_realm_free(w[i].realm);

    /* A count below the number waiting: exactly that many. */
    for (int i = 0; i < 3; i++) {
        waiter_init(&w[i], sab, MP_INT32, 0, 0, INFINITY);
        CU_ASSERT_EQUAL_FATAL(pthread_create(&t[i], NULL, waiter_thread, &w[i]), 0);
    }
    CU_ASSERT_TRUE_FATAL(await_waiters(s, addr, 3));
    CU_ASSERT_EQUAL(mp_atomics_notify(view, 0, 2, &woken), MP_OK);
    CU_ASSERT_EQUAL(woken, 2);
    CU_ASSERT_EQUAL(mpi_wait_queue_length(s, addr), 1);
    CU_ASSERT_EQUAL(mp_atomics_notify(view, 0, 2, &woken), MP_OK);
    CU_ASSERT_EQUAL(woken, 1);
    for (int i = 0; i < 3; i++) {
        pthread_join(t[i], NULL);
        CU_ASSERT_EQUAL(w[i].result, MP_WAIT_OK);
        mp_realm_free(w[i].realm);
    }
    mp_realm_free(r);
}

/* Ping-pong: each side waits for its turn on one counter and wakes the
 * other. A lost wake-up shows as a timeout. */
enum { ROUNDS = 2000 };

typedef struct player {
    mp_realm *realm;
    mp_value sab;
    int parity; /* moves when the counter has this parity */
    int timeouts;
    int errors;
} player;

static void *
player_thread(void *p)
{
    player *pl = p;
    mp_value view, out;
    if (mp_typedarray_new(MP_INT32, pl->sab, 0, 1, &view) != MP_OK) {
        pl->errors++;
        return NULL;
    }
    for (int i = 0; i < ROUNDS; i++) {
        double mine = 2.0 * i + pl->parity;
        for (;;) {
            if (mp_atomics_load(view, 0, &out) != MP_OK) {
                pl->errors++;
                return NULL;
            }
            if (mp_number_value(out) == mine) break;
            mp_wait_result res = MP_WAIT_OK;
            if (mp_atomics_wait(view, 0, out, 10000, &res) != MP_OK) pl->errors++;
            if (res == MP_WAIT_TIMED_OUT) {
                pl->timeouts++;
                return NULL;
            }
        }
        uint32_t woken;
        if (mp_atomics_store(view, 0, mp_number(mine + 1), NULL) != MP_OK) pl->errors++;
        if (mp_atomics_notify(view, 0, 1, &woken) != MP_OK) pl->errors++;
    }
    return NULL;
}

static void
test_ping_pong(void)
{
    mp_realm *r = new_realm();
    mp_value sab;
    CU_ASSERT_EQUAL_FATAL(mp_sab_new(r, 4, &sab), MP_OK);
    player a = {new_realm(), mp_undefined(), 0, 0, 0}, b = {new_realm(), mp_undefined(), 1, 0, 0};
    CU_ASSERT_EQUAL_FATAL(mp_sab_share(sab, a.realm, &a.sab), MP_OK);
    CU_ASSERT_EQUAL_FATAL(mp_sab_share(sab, b.realm, &b.sab), MP_OK);
    pthread_t ta, tb;
    CU_ASSERT_EQUAL_FATAL(pthread_create(&ta, NULL, player_thread, &a), 0);
    CU_ASSERT_EQUAL_FATAL(pthread_create(&tb, NULL, player_thread, &b), 0);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    CU_ASSERT_EQUAL(a.timeouts + b.timeouts, 0);
    CU_ASSERT_EQUAL(a.errors + b.errors, 0);
    int32_t *d;
    CU_ASSERT_EQUAL(mp_sab_data(sab, (void **)&d, NULL), MP_OK);
    CU_ASSERT_EQUAL(d[0], 2 * ROUNDS);
    mp_realm_free(a.realm);
    mp_realm_free(b.realm);
    mp_realm_free(r);
}

static void
test_notify_without_waiters(void)
{
    mp_realm *r = new_realm();
    mp_value sab, view;
    CU_ASSERT_EQUAL_FATAL(mp_sab_new(r, 8, &sab), MP_OK);
    CU_ASSERT_EQUAL_FATAL(mp_typedarray_new(MP_INT32, sab, 0, MP_LENGTH_AUTO, &view), MP_OK);
    uint32_t woken = 99;
    CU_ASSERT_EQUAL(mp_atomics_notify(view, 1, UINT32_MAX, &woken), MP_OK);
    CU_ASSERT_EQUAL(woken, 0);
    CU_ASSERT_EQUAL(mp_atomics_notify(view, 2, 1, &woken), MP_ERANGE);
    mp_realm_free(r);
}

static void
test_refused(void)
{
    mp_realm *r = new_realm();
    mp_value ab, sab, i32ab, u32sab, f64sab, i32sab, dv;
    CU_ASSERT_EQUAL_FATAL(mp_arraybuffer_new(r, 16, &ab), MP_OK);
    CU_ASSERT_EQUAL_FATAL(mp_sab_new(r, 16, &sab), MP_OK);
    CU_ASSERT_EQUAL_FATAL(mp_typedarray_new(MP_INT32, ab, 0, MP_LENGTH_AUTO, &i32ab), MP_OK);
    CU_ASSERT_EQUAL_FATAL(mp_typedarray_new(MP_UINT32, sab, 0, MP_LENGTH_AUTO, &u32sab), MP_OK);
    CU_ASSERT_EQUAL_FATAL(mp_typedarray_new(MP_FLOAT64, sab, 0, MP_LENGTH_AUTO, &f64sab), MP_OK);
    CU_ASSERT_EQUAL_FATAL(mp_typedarray_new(MP_INT32, sab, 0, MP_LENGTH_AUTO, &i32sab), MP_OK);
    CU_ASSERT_EQUAL_FATAL(mp_dataview_new(sab, 0, MP_LENGTH_AUTO, &dv), MP_OK);
    mp_wait_result res = (mp_wait_result)-1;
    CU_ASSERT_EQUAL(mp_atomics_wait(i32ab, 0, mp_number(0), 0, &res), MP_ETYPE);
    CU_ASSERT_EQUAL(mp_atomics_wait(u32sab, 0, mp_number(0), 0, &res), MP_ETYPE);
    CU_ASSERT_EQUAL(mp_atomics_wait(f64sab, 0, mp_number(0), 0, &res), MP_ETYPE);
    CU_ASSERT_EQUAL(mp_atomics_wait(dv, 0, mp_number(0), 0, &res), MP_ETYPE);
    CU_ASSERT_EQUAL(mp_atomics_wait(sab, 0, mp_number(0), 0, &res), MP_ETYPE);
    CU_ASSERT_EQUAL(mp_atomics_wait(i32sab, 0, mp_undefined(), 0, &res), MP_ETYPE);
    CU_ASSERT_EQUAL(mp_atomics_wait(i32sab, 4, mp_number(0), 0, &res), MP_ERANGE);
    CU_ASSERT_EQUAL(res, (mp_wait_result)-1);
    /* notify over an unshared buffer: nobody can wait there, so 0. */
    uint32_t woken = 99;
    CU_ASSERT_EQUAL(mp_atomics_notify(i32ab, 0, UINT32_MAX, &woken), MP_OK);
    CU_ASSERT_EQUAL(woken, 0);
    CU_ASSERT_EQUAL(mp_atomics_notify(u32sab, 0, 1, &woken), MP_ETYPE);
    mp_realm_free(r);
}

int
main(void)
{
    static const mpt_test tests[] = {
        {"wait and notify between two threads", test_wait_notify_two_threads},
        {"BigInt64 wait", test_bigint64_wait},
        {"timeouts on the monotonic clock", test_timeouts},
        {"timed waiter woken early", test_timed_waiter_woken_early},
        {"not-equal", test_not_equal},
        {"FIFO order and counts with 3 waiters", test_fifo_and_counts},
        {"ping-pong without lost wake-ups", test_ping_pong},
        {"notify without waiters", test_notify_without_waiters},
        {"refused buffers and types", test_refused},
        {NULL, NULL},
    };
    return mpt_run("wait", tests);
}
