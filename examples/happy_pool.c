/* happy_pool.c — a pool of workers with a bounded task queue, over ports.
 *
 * The workers search random 64-bit numbers for happy numbers (repeatedly
 * summing the squares of the decimal digits reaches 1) that are multiples
 * of 10,000. The main thread submits tasks { id, seed, count } to the
 * workers' ports and counts the hits they post back.
 *
 * - Tasks: each worker's own channel (mp_worker_port in the parent,
 *   ctx->port in the worker), like postMessage to a Worker.
 * - Results: one extra channel that every worker posts to. Posting is
 *   thread-safe from any thread, so the workers share its sending end,
 *   and the main thread waits on a single port for all of them.
 * - Bounded queue: at most MAX_QUEUED tasks are submitted and not yet
 *   finished. When the queue is full the submitter waits for results until
 *   a task finishes, which keeps memory flat however many tasks there are.
 *   A worker says a task finished with { done, worker, hits } after the
 *   task's hits; one thread's posts arrive in order, so when the main
 *   thread reads `done` it has read every hit of that task. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */

#include "examples.h"

#include <string.h>

enum { POOL_WORKERS = 4, MAX_QUEUED = 8, TASKS = 64, NUMBERS_PER_TASK = 100000 };
static const uint64_t MULTIPLE_OF = 10000;

/* What every worker gets besides its workerData: where to post results. */
typedef struct pool_shared {
    mp_value results_out; /* a port of the main realm; only posted to by the workers */
} pool_shared;

/* Every unhappy number ends in the cycle 4 -> 16 -> 37 -> 58 -> 89 -> 145
 * -> 42 -> 20 -> 4, so the loop stops at 1 (happy) or 4 (not). */
static bool
is_happy(uint64_t n)
{
    while (n != 1 && n != 4) {
        uint64_t next = 0;
        for (; n > 0; n /= 10)
            next += (n % 10) * (n % 10);
        n = next;
    }
    return n == 1;
}

/* splitmix64: a tiny seeded generator, so a run is reproducible. */
static uint64_t
next_random(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15u);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

static mp_status
get_property(mp_value obj, const char *key, mp_kind kind, mp_value *out)
{
    mp_status st = mp_object_get_utf8(obj, key, out);
    if (st == MP_OK && mp_kind_of(*out) != kind) st = MP_ETYPE;
    return st;
}

/* Runs one task; posts each hit (a BigInt), then { done, worker, hits }. */
static mp_status
run_task(mp_worker_ctx *ctx, const pool_shared *pool, mp_value task)
{
    mp_value id, seed, count, hit, report;
    uint64_t state;
    mp_status st = get_property(task, "id", MP_NUMBER, &id);
    if (st == MP_OK) st = get_property(task, "seed", MP_BIGINT, &seed);
    if (st == MP_OK) st = get_property(task, "count", MP_NUMBER, &count);
    if (st == MP_OK) st = mp_bigint_to_uint64(seed, &state);
    double hits = 0;
    for (double i = 0; st == MP_OK && i < mp_number_value(count); i++) {
        uint64_t n = next_random(&state);
        if (n % MULTIPLE_OF != 0 || !is_happy(n)) continue;
        st = mp_bigint_from_uint64(ctx->realm, n, &hit);
        if (st == MP_OK) st = mp_port_post(pool->results_out, hit, NULL, 0, NULL);
        hits++;
    }
    if (st == MP_OK) st = mp_object_new(ctx->realm, &report);
    if (st == MP_OK) st = mp_object_set_utf8(report, "done", id);
    if (st == MP_OK) st = mp_object_set_utf8(report, "worker", ctx->worker_data);
    if (st == MP_OK) st = mp_object_set_utf8(report, "hits", mp_number(hits));
    if (st == MP_OK) st = mp_port_post(pool->results_out, report, NULL, 0, NULL);
    return st;
}

/* A worker takes tasks from its port until the pool closes it. */
static int
happy_worker(mp_worker_ctx *ctx)
{
    const pool_shared *pool = ctx->arg;
    for (;;) {
        mp_value task;
        mp_error_info err;
        mp_status st = mp_port_receive(ctx->port, NULL, MP_PORT_FOREVER, &task, &err);
        if (st == MP_ECLOSED) return 0; /* every task was received: done */
        if (st == MP_OK) st = run_task(ctx, pool, task);
        if (st != MP_OK) {
            fprintf(stderr, "happy_pool: worker %.0f: %s\n", mp_number_value(ctx->worker_data), mp_strerror(st));
            return 1;
        }
        /* A long-lived worker frees each task's values once done with it. */
        mp_realm_collect(ctx->realm, &ctx->port, 1);
    }
}

/* What the main thread tallies from the results port. */
typedef struct pool_tally {
    int queued;                   /* submitted and not finished */
    int per_worker[POOL_WORKERS]; /* same, per worker */
    int finished;
    double hits_received, hits_reported;
    int hits_per_worker[POOL_WORKERS];
    bool hits_valid;
    mp_value first_hits; /* an Array of the first few hits, for the output */
} pool_tally;

/* Receives one result: a hit or a finished task. */
static mp_status
take_result(mp_value results_in, pool_tally *tally)
{
    mp_value msg, worker, hits;
    mp_error_info err;
    memset(&err, 0, sizeof err);
    mp_status st = mp_port_receive(results_in, NULL, 30000, &msg, &err);
    if (st != MP_OK) {
        fprintf(stderr, "happy_pool: receiving a result: %s %s\n", mp_strerror(st), err.detail);
        return st;
    }
    if (mp_kind_of(msg) == MP_BIGINT) {
        uint64_t n;
        st = mp_bigint_to_uint64(msg, &n);
        if (st == MP_OK) tally->hits_valid &= n % MULTIPLE_OF == 0 && is_happy(n);
        if (st == MP_OK && tally->hits_received < 3) st = mp_array_push(tally->first_hits, msg);
        tally->hits_received++;
        return st;
    }
    st = get_property(msg, "worker", MP_NUMBER, &worker);
    if (st == MP_OK) st = get_property(msg, "hits", MP_NUMBER, &hits);
    if (st != MP_OK) return st;
    int w = (int)mp_number_value(worker);
    if (w < 0 || w >= POOL_WORKERS) return MP_ERANGE;
    tally->queued--;
    tally->per_worker[w]--;
    tally->finished++;
    tally->hits_reported += mp_number_value(hits);
    tally->hits_per_worker[w] += (int)mp_number_value(hits);
    return MP_OK;
}

/* A task: { id, seed, count }; the seed is a BigInt, as 64-bit integers
 * are not all exact as numbers. */
static mp_status
make_task(mp_realm *realm, int id, mp_value *out)
{
    uint64_t seed_state = (uint64_t)id;
    mp_value task, seed;
    mp_status st = mp_object_new(realm, &task);
    if (st == MP_OK) st = mp_bigint_from_uint64(realm, next_random(&seed_state), &seed);
    if (st == MP_OK) st = mp_object_set_utf8(task, "id", mp_number(id));
    if (st == MP_OK) st = mp_object_set_utf8(task, "seed", seed);
    if (st == MP_OK) st = mp_object_set_utf8(task, "count", mp_number(NUMBERS_PER_TASK));
    if (st == MP_OK) *out = task;
    return st;
}

int
example_happy_pool(void)
{
    int failed = 1;
    mp_realm *realm = NULL;
    mp_worker *workers[POOL_WORKERS] = {NULL};
    int started = 0;
    pool_shared pool;
    pool_tally tally;
    memset(&tally, 0, sizeof tally);
    tally.hits_valid = true;
    mp_error_info err;
    memset(&err, 0, sizeof err);

    printf("\n== a pool of %d workers looks for happy multiples of 10,000 among random 64-bit numbers ==\n",
           POOL_WORKERS);
    EX_TRY(mp_realm_new(NULL, &realm));
    mp_value results_in;
    EX_TRY(mp_channel_new(realm, NULL, &results_in, &pool.results_out));
    EX_TRY(mp_array_new(realm, 0, &tally.first_hits));
    for (; started < POOL_WORKERS; started++)
        EX_TRY_INFO(
            mp_worker_start(realm, NULL, happy_worker, &pool, mp_number(started), NULL, 0, &workers[started], &err),
            err);

    /* The tasks and results made here stay in the realm until it is freed:
     * they are few. A pool that runs for long would call mp_realm_collect
     * now and then, with the ports and what it keeps among the roots (a
     * port that is collected is closed). */
    int submitter_waits = 0, most_queued = 0;
    double waited_ms = 0;
    for (int id = 0; id < TASKS; id++) {
        if (tally.queued == MAX_QUEUED) {
            submitter_waits++;
            double t0 = ex_now_ms();
            while (tally.queued == MAX_QUEUED)
                EX_TRY(take_result(results_in, &tally));
            waited_ms += ex_now_ms() - t0;
        }
        int w = 0; /* the least busy worker */
        for (int i = 1; i < POOL_WORKERS; i++)
            if (tally.per_worker[i] < tally.per_worker[w]) w = i;
        mp_value task;
        EX_TRY(make_task(realm, id, &task));
        if (id == 0) {
            printf("  %d tasks of %d numbers, at most %d queued; the first: ", TASKS, NUMBERS_PER_TASK, MAX_QUEUED);
            EX_TRY(mp_print(stdout, task, 0));
            printf("\n");
        }
        EX_TRY_INFO(mp_port_post(mp_worker_port(workers[w]), task, NULL, 0, &err), err);
        tally.queued++;
        tally.per_worker[w]++;
        if (tally.queued > most_queued) most_queued = tally.queued;
    }
    while (tally.queued > 0)
        EX_TRY(take_result(results_in, &tally));

    printf("  %.0f hits among %d numbers; the first: ", tally.hits_received, TASKS * NUMBERS_PER_TASK);
    EX_TRY(mp_print(stdout, tally.first_hits, 0));
    printf("\n  hits per worker:");
    for (int i = 0; i < POOL_WORKERS; i++)
        printf(" %d", tally.hits_per_worker[i]);
    printf("\n  the queue was full %d times: the submitter waited %.1f ms in all for it to drain\n", submitter_waits,
           waited_ms);
    failed = 0;
    failed |= !ex_check(tally.hits_received > 0 && tally.hits_valid, "every hit is happy and a multiple of 10,000");
    failed |= !ex_check(tally.hits_received == tally.hits_reported, "every hit the workers found was received");
    failed |= !ex_check(tally.finished == TASKS && most_queued <= MAX_QUEUED && submitter_waits > 0,
                        "every task finished, and the bounded queue made the submitter wait");

done:
    /* Closing a worker's task port ends it once it has read every task
     * already queued (it receives MP_ECLOSED after them). */
    for (int i = 0; i < started; i++) {
        int code = 1;
        mp_port_close(mp_worker_port(workers[i]));
        if (mp_worker_join(workers[i], &code) != MP_OK || code != 0) {
            fprintf(stderr, "happy_pool: worker %d failed\n", i);
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
    return example_happy_pool() == 0 ? 0 : 1;
}
#endif
