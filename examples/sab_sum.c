/* sab_sum.c — four workers sum 0..N into one SharedArrayBuffer.
 *
 * In JavaScript:
 *
 *   const sab = new SharedArrayBuffer(4 * 8 + 4);
 *   const slots = new BigUint64Array(sab, 0, 4), done = new Int32Array(sab, 32, 1);
 *   for (let i = 0; i < 4; i++)
 *     new Worker(file, { workerData: { sab, slot: i, from, to } });
 *   // each worker: Atomics.store(slots, slot, sum); Atomics.add(done, 0, 1); Atomics.notify(done, 0);
 *   while ((n = Atomics.load(done, 0)) < 4) Atomics.wait(done, 0, n);
 *
 * The SharedArrayBuffer travels in workerData: each worker gets its own
 * handle, in its own realm, on the same memory. Results come back through
 * that memory, not through messages, and the main thread sleeps in
 * Atomics.wait until the last worker is done: no locks, no polling. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */

#include "examples.h"

#include <string.h>

enum { SUM_WORKERS = 4 };
static const uint64_t SUM_N = 20000000; /* the sum covers 0..N, both ends included */

/* The shared memory: one BigUint64 slot per worker, then an Int32 counter
 * of finished workers (Atomics.wait needs an Int32 or BigInt64 element). */
static const size_t COUNTER_OFFSET = SUM_WORKERS * sizeof(uint64_t);
static const size_t SHARED_BYTES = SUM_WORKERS * sizeof(uint64_t) + sizeof(int32_t);

/* A number property of workerData. */
static mp_status
get_number(mp_value obj, const char *key, uint64_t *out)
{
    mp_value v;
    mp_status st = mp_object_get_utf8(obj, key, &v);
    if (st == MP_OK && mp_kind_of(v) != MP_NUMBER) st = MP_ETYPE;
    if (st == MP_OK) *out = (uint64_t)mp_number_value(v);
    return st;
}

/* The worker: workerData is { sab, slot, from, to }. Everything it makes
 * lives in its own realm, freed by the library when this returns. */
static int
sum_worker(mp_worker_ctx *ctx)
{
    mp_value sab, slots, counter, sum_value, ignored;
    uint64_t slot, from, to;
    EX_TRY(mp_object_get_utf8(ctx->worker_data, "sab", &sab));
    EX_TRY(get_number(ctx->worker_data, "slot", &slot));
    EX_TRY(get_number(ctx->worker_data, "from", &from));
    EX_TRY(get_number(ctx->worker_data, "to", &to));
    EX_TRY(mp_typedarray_new(MP_BIGUINT64, sab, 0, SUM_WORKERS, &slots));
    EX_TRY(mp_typedarray_new(MP_INT32, sab, COUNTER_OFFSET, 1, &counter));

    /* The work itself is plain C on plain integers. */
    uint64_t sum = 0;
    for (uint64_t i = from; i < to; i++)
        sum += i;

    /* Publish: store the result, then count this worker done and wake the
     * main thread. Atomics are sequentially consistent, so whoever sees the
     * new count also sees the slot. */
    EX_TRY(mp_bigint_from_uint64(ctx->realm, sum, &sum_value));
    EX_TRY(mp_atomics_store(slots, slot, sum_value, &ignored));
    EX_TRY(mp_atomics_rmw(counter, 0, MP_ATOMIC_ADD, mp_number(1), &ignored));
    uint32_t woken;
    EX_TRY(mp_atomics_notify(counter, 0, UINT32_MAX, &woken));
    return 0;
done:
    return 1;
}

/* workerData for one worker: { sab, slot, from, to }. */
static mp_status
make_worker_data(mp_realm *realm, mp_value sab, int slot, uint64_t from, uint64_t to, mp_value *out)
{
    mp_value data;
    mp_status st = mp_object_new(realm, &data);
    if (st == MP_OK) st = mp_object_set_utf8(data, "sab", sab);
    if (st == MP_OK) st = mp_object_set_utf8(data, "slot", mp_number(slot));
    if (st == MP_OK) st = mp_object_set_utf8(data, "from", mp_number((double)from));
    if (st == MP_OK) st = mp_object_set_utf8(data, "to", mp_number((double)to));
    if (st == MP_OK) *out = data;
    return st;
}

int
example_sab_sum(void)
{
    int failed = 1;
    mp_realm *realm = NULL;
    mp_worker *workers[SUM_WORKERS] = {NULL};
    int started = 0;
    mp_error_info err;
    memset(&err, 0, sizeof err);

    printf("\n== SharedArrayBuffer + Atomics: %d workers sum 0..%llu ==\n", SUM_WORKERS, (unsigned long long)SUM_N);
    EX_TRY(mp_realm_new(NULL, &realm));
    mp_value sab, slots, counter;
    EX_TRY(mp_sab_new(realm, SHARED_BYTES, &sab));
    EX_TRY(mp_typedarray_new(MP_BIGUINT64, sab, 0, SUM_WORKERS, &slots));
    EX_TRY(mp_typedarray_new(MP_INT32, sab, COUNTER_OFFSET, 1, &counter));

    /* Worker i sums the half-open range [i*(N+1)/4, (i+1)*(N+1)/4). */
    for (; started < SUM_WORKERS; started++) {
        uint64_t from = (SUM_N + 1) * (uint64_t)started / SUM_WORKERS;
        uint64_t to = (SUM_N + 1) * (uint64_t)(started + 1) / SUM_WORKERS;
        mp_value data;
        EX_TRY(make_worker_data(realm, sab, started, from, to, &data));
        EX_TRY_INFO(mp_worker_start(realm, NULL, sum_worker, NULL, data, NULL, 0, &workers[started], &err), err);
    }

    /* Sleep until the counter reads SUM_WORKERS. Waiting on the value last
     * seen closes the race with a worker finishing in between: the wait
     * then returns "not-equal" at once instead of sleeping. */
    int sleeps = 0;
    for (;;) {
        mp_value seen;
        EX_TRY(mp_atomics_load(counter, 0, &seen));
        if (mp_number_value(seen) >= SUM_WORKERS) break;
        mp_wait_result res;
        EX_TRY(mp_atomics_wait(counter, 0, seen, 30000, &res));
        if (res == MP_WAIT_TIMED_OUT) {
            fprintf(stderr, "sab_sum: the workers did not finish within 30 s\n");
            goto done;
        }
        if (res == MP_WAIT_OK) sleeps++;
    }

    uint64_t total = 0;
    for (int i = 0; i < SUM_WORKERS; i++) {
        mp_value v;
        uint64_t part;
        EX_TRY(mp_atomics_load(slots, (size_t)i, &v));
        EX_TRY(mp_bigint_to_uint64(v, &part));
        printf("  slot %d: %llu\n", i, (unsigned long long)part);
        total += part;
    }
    printf("  the main thread was woken by Atomics.notify %d time%s before the counter reached %d\n", sleeps,
           sleeps == 1 ? "" : "s", SUM_WORKERS);
    uint64_t expected = SUM_N * (SUM_N + 1) / 2;
    printf("  total %llu, closed form N(N+1)/2 = %llu\n", (unsigned long long)total, (unsigned long long)expected);
    failed = !ex_check(total == expected, "the total matches the closed form");

done:
    /* Joining also covers the failure paths: every started worker ends on
     * its own, as its work never waits for the main thread. */
    for (int i = 0; i < started; i++) {
        int code = 1;
        if (mp_worker_join(workers[i], &code) != MP_OK || code != 0) {
            fprintf(stderr, "sab_sum: worker %d failed\n", i);
            failed = 1;
        }
    }
    mp_realm_free(realm);
    return failed;
}

#ifndef MSGPORT_DEMO
int
main(void)
{
    return example_sab_sum() == 0 ? 0 : 1;
}
#endif
