/* tour.c — a first look at msgport.
 *
 *   1. builds one value graph holding every kind of value msgport knows,
 *   2. prints it the way Node's util.inspect would,
 *   3. compares two graphs structurally (mp_graph_equal),
 *   4. shares a SharedArrayBuffer with a second thread, which counts with
 *      Atomics and wakes the main thread with Atomics.notify.
 *
 * It checks what it sees and exits non-zero if anything is off.
 * Only the public header is used: copy freely. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime, nanosleep */

#include <msgport.h>

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Every fallible msgport call returns an mp_status (MP_OK is 0). A real
 * program would recover; the tour just stops with a message. */
#define CHECK(call)                                                                                                    \
    do {                                                                                                               \
        mp_status st_ = (call);                                                                                        \
        if (st_ != MP_OK) {                                                                                            \
            fprintf(stderr, "%s:%d: %s failed: %s\n", __FILE__, __LINE__, #call, mp_strerror(st_));                    \
            exit(1);                                                                                                   \
        }                                                                                                              \
    } while (0)

static int failures;

/* Records a result the tour expects; a wrong one makes the exit status 1. */
static void
expect(bool ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "UNEXPECTED: %s\n", what);
        failures++;
    }
}

static void
heading(const char *title)
{
    printf("\n== %s ==\n", title);
}

/* A string value from UTF-8 text. */
static mp_value
str(mp_realm *r, const char *utf8)
{
    mp_value v;
    CHECK(mp_string_from_utf8(r, utf8, strlen(utf8), &v));
    return v;
}

/* ---- 1. a graph with every kind ------------------------------------------- */

static mp_value
build_tour_graph(mp_realm *r, mp_value *out_sab)
{
    mp_value root, v;
    CHECK(mp_object_new(r, &root));

    /* Primitives live in the mp_value itself: no realm, cannot fail. */
    CHECK(mp_object_set_utf8(root, "undef", mp_undefined()));
    CHECK(mp_object_set_utf8(root, "nothing", mp_null()));
    CHECK(mp_object_set_utf8(root, "yes", mp_boolean(true)));
    CHECK(mp_object_set_utf8(root, "no", mp_boolean(false)));
    CHECK(mp_object_set_utf8(root, "pi", mp_number(3.14159)));
    CHECK(mp_object_set_utf8(root, "negZero", mp_number(-0.0))); /* -0 is kept */
    CHECK(mp_object_set_utf8(root, "notANumber", mp_number(NAN)));
    CHECK(mp_object_set_utf8(root, "inf", mp_number(INFINITY)));

    /* A BigInt beyond 64 bits, from decimal text. */
    const char *big = "-123456789012345678901234567890";
    CHECK(mp_bigint_from_string(r, big, strlen(big), &v));
    CHECK(mp_object_set_utf8(root, "big", v));

    /* Strings are UTF-16 as in JavaScript: non-ASCII text from UTF-8, and a
     * lone surrogate (not valid UTF-8) from code units. */
    CHECK(mp_object_set_utf8(root, "text", str(r, "h\xc3\xa9llo, \xe4\xb8\x96\xe7\x95\x8c \xf0\x9f\x91\x8b")));
    static const uint16_t lone[] = {'a', 0xD800, 'b'};
    CHECK(mp_string_from_utf16(r, lone, 3, &v));
    CHECK(mp_object_set_utf8(root, "loneSurrogate", v));

    /* An Array with holes and an extra named property: [1, <2 holes>, 4]. */
    mp_value arr;
    CHECK(mp_array_new(r, 0, &arr));
    CHECK(mp_array_push(arr, mp_number(1)));
    CHECK(mp_array_set(arr, 3, mp_number(4)));
    CHECK(mp_object_set_utf8(arr, "label", str(r, "named")));
    CHECK(mp_object_set_utf8(root, "holes", arr));

    /* The longest possible array costs memory only for what it holds. */
    mp_value sparse;
    CHECK(mp_array_new(r, MP_ARRAY_MAX_LENGTH, &sparse));
    CHECK(mp_array_set(sparse, 1000000, str(r, "a million")));
    CHECK(mp_object_set_utf8(root, "sparse", sparse));

    CHECK(mp_date_new(r, 1717243200000.0, &v)); /* ms since the epoch */
    CHECK(mp_object_set_utf8(root, "when", v));
    CHECK(mp_regexp_new(r, str(r, "^ms(g|p)+$"), "gi", &v));
    CHECK(mp_object_set_utf8(root, "pattern", v));

    /* One object reachable twice: a shared reference, kept as such. */
    mp_value shared;
    CHECK(mp_object_new(r, &shared));
    CHECK(mp_object_set_utf8(shared, "id", mp_number(42)));

    mp_value map, set;
    CHECK(mp_map_new(r, &map));
    CHECK(mp_map_set(map, str(r, "answer"), shared));
    CHECK(mp_map_set(map, mp_number(1), str(r, "one")));
    CHECK(mp_object_set_utf8(root, "map", map));
    CHECK(mp_set_new(r, &set));
    CHECK(mp_set_add(set, mp_number(1)));
    CHECK(mp_set_add(set, str(r, "two")));
    CHECK(mp_object_set_utf8(root, "set", set));

    /* An Error whose cause is itself. */
    mp_value err;
    CHECK(mp_error_new(r, MP_ERR_RANGE, str(r, "out of range"), &err));
    CHECK(mp_error_set_cause(err, err));
    CHECK(mp_object_set_utf8(root, "error", err));

    /* Boxed primitives: new Number(3), new String('x'), ... */
    CHECK(mp_boxed_new(r, mp_number(3), &v));
    CHECK(mp_object_set_utf8(root, "boxedNumber", v));
    CHECK(mp_boxed_new(r, str(r, "x"), &v));
    CHECK(mp_object_set_utf8(root, "boxedString", v));
    CHECK(mp_boxed_new(r, mp_boolean(true), &v));
    CHECK(mp_object_set_utf8(root, "boxedBoolean", v));

    /* An ArrayBuffer, a typed array over part of it and a DataView. */
    mp_value ab, u16, dv;
    CHECK(mp_arraybuffer_new(r, 8, &ab));
    CHECK(mp_typedarray_new(MP_UINT16, ab, 0, 2, &u16));
    CHECK(mp_view_set(u16, 0, mp_number(0x0201)));
    CHECK(mp_view_set(u16, 1, mp_number(65535)));
    CHECK(mp_dataview_new(ab, 4, 4, &dv));
    CHECK(mp_dataview_set(dv, MP_INT32, 0, mp_number(-2), false)); /* big-endian */
    CHECK(mp_object_set_utf8(root, "buffer", ab));
    CHECK(mp_object_set_utf8(root, "u16", u16));
    CHECK(mp_object_set_utf8(root, "view", dv));

    /* A detached ArrayBuffer (as after a transfer) and a view over it. */
    mp_value gone, gone_view;
    CHECK(mp_arraybuffer_new(r, 16, &gone));
    CHECK(mp_typedarray_new(MP_FLOAT64, gone, 0, 2, &gone_view));
    CHECK(mp_arraybuffer_detach(gone));
    expect(mp_view_length(gone_view) == 0, "a view over a detached buffer has length 0");
    CHECK(mp_object_set_utf8(root, "detached", gone));
    CHECK(mp_object_set_utf8(root, "detachedView", gone_view));

    /* Shared memory: 4 Int32 counters, used by the thread section below. */
    mp_value sab;
    CHECK(mp_sab_new(r, 16, &sab));
    CHECK(mp_object_set_utf8(root, "shared", sab));
    *out_sab = sab;

    /* A host object: an embedder pointer with a type tag, never touched. */
    static int embedder_thing;
    CHECK(mp_host_new(r, 7, &embedder_thing, &v));
    CHECK(mp_object_set_utf8(root, "host", v));

    /* The second reference to `shared`, and a cycle back to the root. */
    CHECK(mp_object_set_utf8(root, "sameAgain", shared));
    CHECK(mp_object_set_utf8(root, "self", root));
    return root;
}

/* ---- 3. a small graph for the equality section ---------------------------- */

static mp_value
build_order(mp_realm *r, const char *customer)
{
    mp_value order, items, item;
    CHECK(mp_object_new(r, &order));
    CHECK(mp_object_set_utf8(order, "customer", str(r, customer)));
    CHECK(mp_array_new(r, 0, &items));
    for (int i = 0; i < 3; i++) {
        CHECK(mp_object_new(r, &item));
        CHECK(mp_object_set_utf8(item, "sku", mp_number(100 + i)));
        CHECK(mp_array_push(items, item));
    }
    CHECK(mp_object_set_utf8(order, "items", items));
    return order;
}

/* ---- 4. a second thread on shared memory ---------------------------------- */

enum { COUNTER = 0, SIGNAL = 1, BY_TWO = 2, IDLE = 3, ROUNDS = 1000 };

typedef struct worker_args {
    mp_realm *realm; /* the worker's own realm, handed over at pthread_create */
    mp_value sab;    /* its handle on the shared store, made in that realm */
    uint32_t woken;  /* filled by the worker */
    int tries;
    mp_status status;
} worker_args;

static void *
worker_main(void *arg)
{
    worker_args *w = arg;
    mp_value counters, old;
    /* Each thread makes its own view, in its own realm, over the store. */
    w->status = mp_typedarray_new(MP_INT32, w->sab, 0, 4, &counters);
    for (int i = 0; i < ROUNDS && w->status == MP_OK; i++) {
        w->status = mp_atomics_rmw(counters, COUNTER, MP_ATOMIC_ADD, mp_number(1), &old);
        if (w->status == MP_OK) w->status = mp_atomics_rmw(counters, BY_TWO, MP_ATOMIC_ADD, mp_number(2), &old);
    }
    /* Wake the main thread. It may not be asleep yet, so notify until one
     * waiter is woken (bounded, in case something went wrong). */
    struct timespec pause = {0, 100000}; /* 0.1 ms */
    w->woken = 0;
    for (w->tries = 1; w->status == MP_OK && w->tries <= 20000; w->tries++) {
        w->status = mp_atomics_notify(counters, SIGNAL, 1, &w->woken);
        if (w->woken) break;
        nanosleep(&pause, NULL);
    }
    return NULL;
}

static const char *
wait_result_name(mp_wait_result r)
{
    switch (r) {
    case MP_WAIT_OK:
        return "ok";
    case MP_WAIT_NOT_EQUAL:
        return "not-equal";
    case MP_WAIT_TIMED_OUT:
        return "timed-out";
    }
    return "?";
}

static double
load_number(mp_value view, size_t index)
{
    mp_value v;
    CHECK(mp_atomics_load(view, index, &v));
    return mp_number_value(v);
}

int
main(void)
{
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);

    /* A realm is one thread's heap of values; freeing it frees them all. */
    mp_realm *realm;
    CHECK(mp_realm_new(NULL, &realm)); /* NULL: the libc allocator */

    heading("1. a graph with every kind of value");
    mp_value sab;
    mp_value root = build_tour_graph(realm, &sab);
    mp_realm_stats stats = mp_realm_get_stats(realm);
    printf("built %zu values in %zu bytes\n", stats.values, stats.bytes);

    heading("2. mp_print (MP_PRINT_PRETTY)");
    /* Objects met twice get a label: <ref *N> where first printed, then
     * [Circular *N] inside themselves or [Ref *N] elsewhere. */
    CHECK(mp_print(stdout, root, MP_PRINT_PRETTY));
    printf("\n");
    printf("one line: ");
    CHECK(mp_print(stdout, mp_number(-0.0), 0));
    printf(", ");
    mp_value small;
    CHECK(mp_array_new(realm, 3, &small));
    CHECK(mp_array_set(small, 1, str(realm, "it's")));
    CHECK(mp_print(stdout, small, 0));
    printf("\n");

    heading("3. mp_graph_equal");
    /* The same shape built in two realms is equal: equality is structural,
     * and the sharing and cycles must sit in the same places. */
    mp_realm *other;
    CHECK(mp_realm_new(NULL, &other));
    mp_value a = build_order(realm, "Ada"), b = build_order(other, "Ada"), c = build_order(other, "Bob");
    mp_error_info why;
    bool same = mp_graph_equal(a, b, &why);
    printf("order built twice, two realms: %s\n", same ? "equal" : "different");
    expect(same, "equal graphs compare equal");
    same = mp_graph_equal(a, c, &why);
    printf("different customer: %s at %s (%s)\n", same ? "equal" : "different", why.path, why.detail);
    expect(!same && strcmp(why.path, "root.customer") == 0, "the difference is found at root.customer");

    heading("4. SharedArrayBuffer, Atomics and a second thread");
    /* Make the worker's realm and its handle on the same shared store
     * before starting it; from then on only the worker uses that realm. */
    worker_args w = {NULL, {0}, 0, 0, MP_OK};
    CHECK(mp_realm_new(NULL, &w.realm));
    CHECK(mp_sab_share(sab, w.realm, &w.sab));
    printf("same store in both realms: %s\n", mp_sab_same_store(sab, w.sab) ? "yes" : "no");
    expect(mp_sab_same_store(sab, w.sab), "the shared handle uses the same store");

    mp_value counters;
    CHECK(mp_typedarray_new(MP_INT32, sab, 0, 4, &counters));

    /* Wait results without the worker: the value differs, or nobody wakes us. */
    mp_wait_result res;
    CHECK(mp_atomics_wait(counters, SIGNAL, mp_number(99), 1000, &res));
    printf("wait(expect 99, element is 0)  -> %s\n", wait_result_name(res));
    expect(res == MP_WAIT_NOT_EQUAL, "a wait on a different value returns not-equal");
    CHECK(mp_atomics_wait(counters, IDLE, mp_number(0), 5, &res));
    printf("wait(nobody notifies, 5 ms)    -> %s\n", wait_result_name(res));
    expect(res == MP_WAIT_TIMED_OUT, "an unanswered wait times out");

    fflush(stdout);
    pthread_t thread;
    if (pthread_create(&thread, NULL, worker_main, &w) != 0) {
        fprintf(stderr, "pthread_create failed\n");
        return 1;
    }
    /* Sleep until the worker's notify (at most 5 s). */
    CHECK(mp_atomics_wait(counters, SIGNAL, mp_number(0), 5000, &res));
    printf("wait(woken by the worker)      -> %s\n", wait_result_name(res));
    expect(res == MP_WAIT_OK, "the worker's notify wakes the main thread");
    /* The worker's adds happened before its notify: the counts are final. */
    double counted = load_number(counters, COUNTER), doubled = load_number(counters, BY_TWO);
    printf("counters after the wake-up: [%d] = %.0f, [%d] = %.0f\n", COUNTER, counted, BY_TWO, doubled);
    expect(counted == ROUNDS && doubled == 2 * ROUNDS, "the worker's atomic adds are all visible");

    pthread_join(thread, NULL);
    CHECK(w.status);
    printf("worker: notify woke %u waiter%s\n", w.woken, w.woken == 1 ? "" : "s");
    expect(w.woken == 1, "notify reports one woken waiter");

    /* Read-modify-write returns the old value, as Atomics.add does. */
    mp_value old;
    CHECK(mp_atomics_rmw(counters, COUNTER, MP_ATOMIC_ADD, mp_number(1), &old));
    printf("Atomics.add(counters, 0, 1) returned %.0f, now %.0f\n", mp_number_value(old),
           load_number(counters, COUNTER));
    expect(mp_number_value(old) == ROUNDS, "rmw returns the previous value");
    printf("the shared buffer now: ");
    CHECK(mp_print(stdout, sab, 0));
    printf("\n");

    /* The worker is done: its realm can go. The shared store lives on while
     * any handle to it does. */
    mp_realm_free(w.realm);
    mp_realm_free(other);
    mp_realm_free(realm);

    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    heading(failures ? "result: FAILED" : "result: all checks passed");
    printf("(%.1f ms)\n", ms);
    return failures ? 1 : 0;
}
