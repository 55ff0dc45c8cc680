/* Workers: workerData with a transferred 64 MiB ArrayBuffer (same data
 * pointer in the worker, the parent's buffer detached) and a
 * SharedArrayBuffer both threads update with Atomics and coordinate on
 * with wait/notify; the exit code through join; every message the worker
 * posted arrives before the close event; messages to the worker; a failed
 * start detaches nothing.
 *
 * CUnit is not thread-safe: worker entries record what they saw in their
 * arg and the main thread asserts. */
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "testutil.h"

#define OK(call) CU_ASSERT_EQUAL_FATAL((call), MP_OK)

#define BIG ((size_t)64 << 20)
#define ADDS 10000

typedef struct big_seen {
    void *expect_data;  /* the parent's data pointer before the transfer */
    int same_pointer;
    int length_ok;
    int contents_ok;
    int atomics_ok;
} big_seen;

static int
big_entry(mp_worker_ctx *ctx)
{
    big_seen *s = ctx->arg;
    mp_value buf, sab;
    if (mp_object_get_utf8(ctx->worker_data, "buf", &buf) != MP_OK) return 10;
    if (mp_object_get_utf8(ctx->worker_data, "sab", &sab) != MP_OK) return 11;
    void *data = NULL;
    size_t len = 0;
    if (mp_arraybuffer_data(buf, &data, &len) != MP_OK) return 12;
    s->same_pointer = data == s->expect_data;
    s->length_ok = len == BIG;
    const uint8_t *b = data;
    s->contents_ok = b[0] == 0xA5 && b[BIG / 2] == 0x5A && b[BIG - 1] == 0x7E;

    mp_value view;
    if (mp_typedarray_new(MP_INT32, sab, 0, MP_LENGTH_AUTO, &view) != MP_OK) return 13;
    /* [0]: a counter both threads add to; [1]: "worker done" flag;
     * [2]: "parent may finish" flag. */
    mp_value old;
    for (int i = 0; i < ADDS; i++)
        if (mp_atomics_rmw(view, 0, MP_ATOMIC_ADD, mp_number(1), &old) != MP_OK) return 14;
    mp_atomics_store(view, 1, mp_number(1), &old);
    uint32_t woken;
    mp_atomics_notify(view, 1, UINT32_MAX, &woken);
    /* Wait for the parent's go-ahead on [2]. */
    for (;;) {
        mp_wait_result r;
        if (mp_atomics_wait(view, 2, mp_number(0), 10000, &r) != MP_OK) return 15;
        if (r != MP_WAIT_TIMED_OUT) break;
    }
    mp_value total;
    mp_atomics_load(view, 0, &total);
    s->atomics_ok = mp_number_value(total) == 2 * ADDS;
    /* Report back over the parent port too. */
    mp_port_post(ctx->port, mp_number(mp_number_value(total)), NULL, 0, NULL);
    return 7;
}

static void
test_big_transfer_and_sab(void)
{
    mp_realm *r;
    OK(mp_realm_new(NULL, &r));
    mp_value buf, sab, data;
    OK(mp_arraybuffer_new(r, BIG, &buf));
    uint8_t *bytes;
    OK(mp_arraybuffer_data(buf, (void **)&bytes, NULL));
    bytes[0] = 0xA5;
    bytes[BIG / 2] = 0x5A;
    bytes[BIG - 1] = 0x7E;
    OK(mp_sab_new(r, 64, &sab));
    OK(mp_object_new(r, &data));
    OK(mp_object_set_utf8(data, "buf", buf));
    OK(mp_object_set_utf8(data, "sab", sab));
    big_seen seen;
    memset(&seen, 0, sizeof seen);
    seen.expect_data = bytes;
    mp_worker *w = NULL;
    mp_error_info err;
    OK(mp_worker_start(r, NULL, big_entry, &seen, data, &buf, 1, &w, &err));
    /* Detached before start returned. */
    CU_ASSERT(mp_arraybuffer_is_detached(buf));
    CU_ASSERT_EQUAL(mp_arraybuffer_byte_length(buf), 0);

    mp_value view, old;
    OK(mp_typedarray_new(MP_INT32, sab, 0, MP_LENGTH_AUTO, &view));
    for (int i = 0; i < ADDS; i++) OK(mp_atomics_rmw(view, 0, MP_ATOMIC_ADD, mp_number(1), &old));
    for (;;) {
        mp_wait_result res;
        OK(mp_atomics_wait(view, 1, mp_number(0), 10000, &res));
        if (res != MP_WAIT_TIMED_OUT) break;
    }
    mp_value flag;
    OK(mp_atomics_load(view, 1, &flag));
    CU_ASSERT_EQUAL(mp_number_value(flag), 1);
    OK(mp_atomics_store(view, 2, mp_number(1), &old));
    uint32_t woken;
    OK(mp_atomics_notify(view, 2, UINT32_MAX, &woken));

    mp_value port = mp_worker_port(w);
    mp_value v;
    OK(mp_port_receive(port, NULL, 10000, &v, NULL));
    CU_ASSERT_EQUAL(mp_number_value(v), 2 * ADDS);
    int code = -1;
    OK(mp_worker_join(w, &code));
    CU_ASSERT_EQUAL(code, 7);
    CU_ASSERT(seen.same_pointer);
    CU_ASSERT(seen.length_ok);
    CU_ASSERT(seen.contents_ok);
    CU_ASSERT(seen.atomics_ok);
    mp_value total;
    OK(mp_atomics_load(view, 0, &total));
    CU_ASSERT_EQUAL(mp_number_value(total), 2 * ADDS);
    CU_ASSERT_EQUAL(mp_port_receive(port, NULL, 1000, &v, NULL), MP_ECLOSED);
    mp_realm_free(r);
}

/* ---- exit after every message ------------------------------------------------------ */

#define BURST 5000

static int
burst_entry(mp_worker_ctx *ctx)
{
    for (int i = 0; i < BURST; i++)
        if (mp_port_post(ctx->port, mp_number(i), NULL, 0, NULL) != MP_OK) return 1;
    return 42;
}

static void
test_messages_before_exit(void)
{
    mp_realm *r;
    OK(mp_realm_new(NULL, &r));
    mp_worker *w = NULL;
    OK(mp_worker_start(r, NULL, burst_entry, NULL, mp_undefined(), NULL, 0, &w, NULL));
    mp_value port = mp_worker_port(w);
    int code = 0;
    /* Join first: the messages and then the close event are queued already. */
    OK(mp_worker_join(w, &code));
    CU_ASSERT_EQUAL(code, 42);
    CU_ASSERT_EQUAL(mp_port_pending(port), BURST + 1);
    int got = 0, disorder = 0;
    mp_value v;
    mp_status st;
    while ((st = mp_port_try_receive(port, NULL, &v, NULL)) == MP_OK) {
        if (mp_number_value(v) != got) disorder++;
        got++;
    }
    CU_ASSERT_EQUAL(st, MP_ECLOSED);
    CU_ASSERT_EQUAL(got, BURST);
    CU_ASSERT_EQUAL(disorder, 0);
    CU_ASSERT_EQUAL(mp_port_post(port, mp_number(1), NULL, 0, NULL), MP_ENOPEER);
    mp_realm_free(r);
}

/* ---- talking to the worker --------------------------------------------------------------- */

static int
echo_entry(mp_worker_ctx *ctx)
{
    mp_value prefix;
    if (mp_object_get_utf8(ctx->worker_data, "prefix", &prefix) != MP_OK) return 2;
    int n = 0;
    for (;;) {
        mp_value v;
        mp_status st = mp_port_receive(ctx->port, NULL, MP_PORT_FOREVER, &v, NULL);
        if (st == MP_ECLOSED) break;
        if (st != MP_OK) return 3;
        mp_value pair;
        if (mp_array_new(ctx->realm, 0, &pair) != MP_OK) return 4;
        mp_array_push(pair, prefix);
        mp_array_push(pair, v);
        if (mp_port_post(ctx->port, pair, NULL, 0, NULL) != MP_OK) return 5;
        n++;
    }
    return n;
}

static void
test_echo(void)
{
    mp_realm *r;
    OK(mp_realm_new(NULL, &r));
    mp_value data;
    OK(mp_object_new(r, &data));
    OK(mp_object_set_utf8(data, "prefix", mpt_str(r, "echo")));
    mp_worker *w = NULL;
    mp_worker_options opt = {256 * 1024, NULL};
    OK(mp_worker_start(r, &opt, echo_entry, NULL, data, NULL, 0, &w, NULL));
    mp_value port = mp_worker_port(w);
    for (int i = 0; i < 100; i++) {
        OK(mp_port_post(port, mp_number(i), NULL, 0, NULL));
        mp_value v, x;
        OK(mp_port_receive(port, NULL, 10000, &v, NULL));
        OK(mp_array_get(v, 0, &x));
        CU_ASSERT(mp_string_equals_utf8(x, "echo", 4));
        OK(mp_array_get(v, 1, &x));
        CU_ASSERT_EQUAL(mp_number_value(x), i);
    }
    OK(mp_port_close(port)); /* the worker sees close and returns */
    int code = 0;
    OK(mp_worker_join(w, &code));
    CU_ASSERT_EQUAL(code, 100);
    mp_realm_free(r);
}

/* ---- failed starts -------------------------------------------------------------------------- */

static atomic_int ran;

static int
never_entry(mp_worker_ctx *ctx)
{
    (void)ctx;
    atomic_fetch_add(&ran, 1);
    return 0;
}

static void
test_failed_start(void)
{
    mp_realm *r;
    OK(mp_realm_new(NULL, &r));
    mp_value ab, sab;
    OK(mp_arraybuffer_new(r, 1024, &ab));
    OK(mp_sab_new(r, 16, &sab));
    mp_realm_stats before = mp_realm_get_stats(r);
    atomic_store(&ran, 0);
    mp_worker *w = NULL;
    mp_error_info err;

    /* DataCloneError in the transfer list: no thread runs, nothing detached. */
    mp_value list[2] = {ab, sab};
    CU_ASSERT_EQUAL(mp_worker_start(r, NULL, never_entry, NULL, ab, list, 2, &w, &err), MP_EDATACLONE);
    CU_ASSERT(!mp_arraybuffer_is_detached(ab));
    CU_ASSERT_PTR_NULL(w);

    /* A thread that cannot be created: MP_ETHREAD, nothing detached. */
    mp_worker_options huge = {(size_t)1 << 60, NULL};
    CU_ASSERT_EQUAL(mp_worker_start(r, &huge, never_entry, NULL, ab, &ab, 1, &w, &err), MP_ETHREAD);
    CU_ASSERT_EQUAL(err.code, MP_ETHREAD);
    CU_ASSERT(!mp_arraybuffer_is_detached(ab));
    CU_ASSERT_PTR_NULL(w);

    /* Bad arguments. */
    CU_ASSERT_EQUAL(mp_worker_start(NULL, NULL, never_entry, NULL, ab, NULL, 0, &w, NULL), MP_EINVAL);
    CU_ASSERT_EQUAL(mp_worker_start(r, NULL, NULL, NULL, ab, NULL, 0, &w, NULL), MP_EINVAL);

    /* Nothing was left behind in the parent's realm. */
    mp_realm_stats after = mp_realm_get_stats(r);
    CU_ASSERT_EQUAL(after.values, before.values);
    CU_ASSERT_EQUAL(after.bytes, before.bytes);
    CU_ASSERT_EQUAL(atomic_load(&ran), 0);
    mp_realm_free(r);
}

int
main(void)
{
    static const mpt_test tests[] = {
        {"workerData: transferred 64 MiB buffer + SharedArrayBuffer", test_big_transfer_and_sab},
        {"every message before the exit", test_messages_before_exit},
        {"echo worker, exit code via join", test_echo},
        {"failed start detaches and leaks nothing", test_failed_start},
        {NULL, NULL},
    };
    return mpt_run("worker", tests);
}
