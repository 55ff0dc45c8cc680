/* Transferring ports: a port in a message's transfer list moves with the
 * message, messages posted to it while in flight are kept and arrive at
 * the new owner in posting order, also when it is transferred twice and
 * while another thread keeps posting; the DataCloneErrors (source port,
 * detached, shipped or closed-by-its-peer port, a broadcast channel,
 * duplicates, a port not listed) detach nothing; a message carrying a port
 * that is never read closes that port, also down a chain of 200,000.
 *
 * CUnit is not thread-safe: helper threads record, the main thread asserts. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "testutil.h"

#define OK(call) CU_ASSERT_EQUAL_FATAL((call), MP_OK)

static mp_value
wrap(mp_realm *r, const char *key, mp_value v)
{
    mp_value o;
    OK(mp_object_new(r, &o));
    OK(mp_object_set_utf8(o, key, v));
    return o;
}

static mp_value
unwrap(mp_value o, const char *key)
{
    mp_value v = mp_undefined();
    CU_ASSERT_EQUAL(mp_object_get_utf8(o, key, &v), MP_OK);
    return v;
}

/* C travels A -> B while D keeps posting to it; then again B -> A. */
static void
test_transfer_with_messages_in_flight(void)
{
    mp_realm *ra, *rb;
    OK(mp_realm_new(NULL, &ra));
    OK(mp_realm_new(NULL, &rb));
    mp_value a, b, c, d;
    OK(mp_channel_new(ra, rb, &a, &b));
    OK(mp_channel_new(ra, ra, &c, &d));
    for (int i = 0; i < 10; i++)
        OK(mp_port_post(d, mp_number(i), NULL, 0, NULL)); /* queued before */
    OK(mp_port_post(a, wrap(ra, "port", c), &c, 1, NULL));
    /* The sender's handle is detached. */
    CU_ASSERT(mp_port_is_closed(c));
    CU_ASSERT_EQUAL(mp_port_post(c, mp_number(0), NULL, 0, NULL), MP_ECLOSED);
    mp_value v;
    CU_ASSERT_EQUAL(mp_port_try_receive(c, NULL, &v, NULL), MP_ECLOSED);
    for (int i = 10; i < 20; i++)
        OK(mp_port_post(d, mp_number(i), NULL, 0, NULL)); /* in flight */

    mp_value got;
    OK(mp_port_receive(b, NULL, 100, &got, NULL));
    mp_value c1 = unwrap(got, "port");
    CU_ASSERT_EQUAL_FATAL(mp_kind_of(c1), MP_PORT);
    CU_ASSERT(mp_value_realm(c1) == rb);
    CU_ASSERT(!mp_port_is_closed(c1));
    for (int i = 0; i < 5; i++) {
        OK(mp_port_receive(c1, NULL, 100, &v, NULL));
        CU_ASSERT_EQUAL(mp_number_value(v), i);
    }
    /* Transferred twice, with 15 messages still queued in it. */
    for (int i = 20; i < 30; i++)
        OK(mp_port_post(d, mp_number(i), NULL, 0, NULL));
    OK(mp_port_post(b, wrap(rb, "again", c1), &c1, 1, NULL));
    for (int i = 30; i < 40; i++)
        OK(mp_port_post(d, mp_number(i), NULL, 0, NULL));
    OK(mp_port_receive(a, NULL, 100, &got, NULL));
    mp_value c2 = unwrap(got, "again");
    CU_ASSERT_EQUAL_FATAL(mp_kind_of(c2), MP_PORT);
    for (int i = 5; i < 40; i++) {
        OK(mp_port_receive(c2, NULL, 100, &v, NULL));
        CU_ASSERT_EQUAL(mp_number_value(v), i);
    }
    CU_ASSERT_EQUAL(mp_port_try_receive(c2, NULL, &v, NULL), MP_EAGAIN);
    /* The moved port still talks to its peer both ways. */
    OK(mp_port_post(c2, mpt_str(ra, "back"), NULL, 0, NULL));
    OK(mp_port_receive(d, NULL, 100, &v, NULL));
    CU_ASSERT(mp_string_equals_utf8(v, "back", 4));
    /* And close still propagates. */
    OK(mp_port_close(d));
    CU_ASSERT_EQUAL(mp_port_receive(c2, NULL, 100, &v, NULL), MP_ECLOSED);
    mp_realm_free(ra);
    mp_realm_free(rb);
}

/* ---- in-flight ordering under a concurrent poster ---------------------------------------- */

typedef struct feeder {
    mp_value port;
    size_t count;
    size_t failures;
} feeder;

static void *
feeder_thread(void *p)
{
    feeder *f = p;
    for (size_t i = 0; i < f->count; i++)
        if (mp_port_post(f->port, mp_number((double)i), NULL, 0, NULL) != MP_OK) f->failures++;
    mp_port_close(f->port);
    return NULL;
}

typedef struct hop {
    mp_value in;  /* receives the carried port */
    mp_value out; /* forwards it */
    size_t read;  /* messages read from the carried port before forwarding */
    size_t next;  /* expected next number */
    size_t disorder;
    int errors;
} hop;

/* Receives a port, reads a few of its messages, forwards it. */
static void *
hop_thread(void *p)
{
    hop *h = p;
    mp_realm *r = mp_value_realm(h->in);
    mp_value got, port, v;
    if (mp_port_receive(h->in, NULL, 10000, &got, NULL) != MP_OK) {
        h->errors++;
        return NULL;
    }
    if (mp_object_get_utf8(got, "p", &port) != MP_OK) {
        h->errors++;
        return NULL;
    }
    if (mp_port_receive(h->in, NULL, 10000, &v, NULL) != MP_OK) { /* where to start */
        h->errors++;
        return NULL;
    }
    h->next = (size_t)mp_number_value(v);
    for (size_t i = 0; i < h->read; i++) {
        if (mp_port_receive(port, NULL, 10000, &v, NULL) != MP_OK) {
            h->errors++;
            return NULL;
        }
        if ((size_t)mp_number_value(v) != h->next) h->disorder++;
        h->next++;
    }
    mp_value o;
    if (mp_object_new(r, &o) != MP_OK || mp_object_set_utf8(o, "p", port) != MP_OK) {
        h->errors++;
        return NULL;
    }
    if (mp_port_post(h->out, o, &port, 1, NULL) != MP_OK) h->errors++;
    if (mp_port_post(h->out, mp_number((double)h->next), NULL, 0, NULL) != MP_OK) h->errors++;
    return NULL;
}

static void
test_transferred_twice_while_posting(void)
{
    /* main --(x)--> hop1 --(y)--> hop2 --(z)--> main, carrying C while a
     * feeder thread posts 0..N-1 into it from D and then closes D. */
    mp_realm *rm, *r1, *r2, *rf;
    OK(mp_realm_new(NULL, &rm));
    OK(mp_realm_new(NULL, &r1));
    OK(mp_realm_new(NULL, &r2));
    OK(mp_realm_new(NULL, &rf));
    mp_value x0, x1, y1, y2, z2, z0, c, d;
    OK(mp_channel_new(rm, r1, &x0, &x1));
    OK(mp_channel_new(r1, r2, &y1, &y2));
    OK(mp_channel_new(r2, rm, &z2, &z0));
    OK(mp_channel_new(rm, rf, &c, &d));
    const size_t n = 20000;
    feeder f = {d, n, 0};
    hop h1 = {x1, y1, 300, 0, 0, 0}, h2 = {y2, z2, 300, 0, 0, 0};
    pthread_t tf, t1, t2;
    CU_ASSERT_FATAL(pthread_create(&t1, NULL, hop_thread, &h1) == 0);
    CU_ASSERT_FATAL(pthread_create(&t2, NULL, hop_thread, &h2) == 0);
    CU_ASSERT_FATAL(pthread_create(&tf, NULL, feeder_thread, &f) == 0);
    mp_value v;
    size_t next = 0, disorder = 0;
    for (size_t i = 0; i < 100; i++) {
        OK(mp_port_receive(c, NULL, 10000, &v, NULL));
        if ((size_t)mp_number_value(v) != next) disorder++;
        next++;
    }
    OK(mp_port_post(x0, wrap(rm, "p", c), &c, 1, NULL));
    OK(mp_port_post(x0, mp_number((double)next), NULL, 0, NULL));
    mp_value got;
    OK(mp_port_receive(z0, NULL, 10000, &got, NULL));
    mp_value back = unwrap(got, "p");
    OK(mp_port_receive(z0, NULL, 10000, &v, NULL));
    next = (size_t)mp_number_value(v);
    mp_status st;
    while ((st = mp_port_receive(back, NULL, 10000, &v, NULL)) == MP_OK) {
        if ((size_t)mp_number_value(v) != next) disorder++;
        next++;
    }
    pthread_join(tf, NULL);
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    CU_ASSERT_EQUAL(st, MP_ECLOSED);
    CU_ASSERT_EQUAL(next, n);
    CU_ASSERT_EQUAL(disorder + h1.disorder + h2.disorder, 0);
    CU_ASSERT_EQUAL(h1.errors + h2.errors, 0);
    CU_ASSERT_EQUAL(f.failures, 0);
    mp_realm_free(rm);
    mp_realm_free(r1);
    mp_realm_free(r2);
    mp_realm_free(rf);
}

/* ---- DataCloneErrors ------------------------------------------------------------------------ */

static void
test_errors_detach_nothing(void)
{
    mp_realm *r;
    OK(mp_realm_new(NULL, &r));
    mp_value a, b, c, d;
    OK(mp_channel_new(r, NULL, &a, &b));
    OK(mp_channel_new(r, NULL, &c, &d));
    mp_value ab;
    OK(mp_arraybuffer_new(r, 64, &ab));
    mp_error_info err;

    mp_value l1[2] = {ab, a};
    CU_ASSERT_EQUAL(mp_port_post(a, ab, l1, 2, &err), MP_EDATACLONE);
    CU_ASSERT_STRING_EQUAL(err.detail, "Transfer list contains source port");
    CU_ASSERT(!mp_arraybuffer_is_detached(ab));

    mp_value l2[2] = {ab, b};
    CU_ASSERT_EQUAL(mp_port_post(a, ab, l2, 2, &err), MP_EDATACLONE);
    CU_ASSERT_STRING_EQUAL(err.detail, "Transfer list contains the target port");
    CU_ASSERT(!mp_arraybuffer_is_detached(ab));

    mp_value l3[3] = {ab, c, c};
    CU_ASSERT_EQUAL(mp_port_post(a, ab, l3, 3, &err), MP_EDATACLONE);
    CU_ASSERT_STRING_EQUAL(err.detail, "Transfer list contains duplicate MessagePort");
    CU_ASSERT(!mp_arraybuffer_is_detached(ab));
    CU_ASSERT(!mp_port_is_closed(c));

    /* In the graph, not in the list. */
    CU_ASSERT_EQUAL(mp_port_post(a, wrap(r, "p", c), &ab, 1, &err), MP_EDATACLONE);
    CU_ASSERT_STRING_EQUAL(err.detail,
                           "Object that needs transfer was found in message but not listed in transferList");
    CU_ASSERT(!mp_arraybuffer_is_detached(ab));
    CU_ASSERT(!mp_port_is_closed(c));
    mp_value cl;
    CU_ASSERT_EQUAL(mp_clone(wrap(r, "p", c), r, NULL, 0, &cl, &err), MP_EDATACLONE);

    /* Closed, and already shipped. */
    mp_value e, f;
    OK(mp_channel_new(r, NULL, &e, &f));
    OK(mp_port_close(e));
    mp_value l4[2] = {ab, e};
    CU_ASSERT_EQUAL(mp_port_post(a, ab, l4, 2, &err), MP_EDATACLONE);
    CU_ASSERT_STRING_EQUAL(err.detail, "MessagePort in transfer list is already detached");
    CU_ASSERT(!mp_arraybuffer_is_detached(ab));
    OK(mp_port_post(a, c, &c, 1, &err)); /* ships c */
    mp_value l5[2] = {ab, c};
    CU_ASSERT_EQUAL(mp_port_post(a, ab, l5, 2, &err), MP_EDATACLONE);
    CU_ASSERT_STRING_EQUAL(err.detail, "MessagePort in transfer list is already detached");
    CU_ASSERT(!mp_arraybuffer_is_detached(ab));
    /* A port whose close event it has received is closed too. */
    /* e was closed above: f has its close event */
    mp_value v;
    CU_ASSERT_EQUAL(mp_port_try_receive(f, NULL, &v, NULL), MP_ECLOSED);
    CU_ASSERT(mp_port_is_closed(f));
    mp_value l6[2] = {ab, f};
    CU_ASSERT_EQUAL(mp_port_post(a, ab, l6, 2, &err), MP_EDATACLONE);
    CU_ASSERT_STRING_EQUAL(err.path, "transfer[1]");
    CU_ASSERT_STRING_EQUAL(err.detail, "MessagePort in transfer list is already detached");
    CU_ASSERT(!mp_arraybuffer_is_detached(ab));
    /* A broadcast channel is not transferable. */
    mp_value bc;
    OK(mp_broadcast_open(r, "test_port_transfer", &bc));
    mp_value l7[2] = {ab, bc};
    CU_ASSERT_EQUAL(mp_port_post(a, ab, l7, 2, &err), MP_EDATACLONE);
    CU_ASSERT_STRING_EQUAL(err.path, "transfer[1]");
    CU_ASSERT_STRING_EQUAL(err.detail,
                           "Found invalid value in transferList. (a broadcast channel cannot be transferred)");
    CU_ASSERT(!mp_arraybuffer_is_detached(ab));
    CU_ASSERT(!mp_port_is_closed(bc));
    OK(mp_port_close(bc));

    /* The same port twice in the graph is one port on arrival. */
    mp_value g, h, arr;
    OK(mp_channel_new(r, NULL, &g, &h));
    OK(mp_array_new(r, 0, &arr));
    OK(mp_array_push(arr, g));
    OK(mp_array_push(arr, g));
    OK(mp_port_post(a, arr, &g, 1, &err));
    mp_value got, first, second;
    OK(mp_port_receive(b, NULL, 100, &got, NULL)); /* c, posted above */
    CU_ASSERT_EQUAL(mp_kind_of(got), MP_PORT);
    OK(mp_port_receive(b, NULL, 100, &got, NULL));
    OK(mp_array_get(got, 0, &first));
    OK(mp_array_get(got, 1, &second));
    CU_ASSERT(mp_same_value(first, second));
    CU_ASSERT_EQUAL(mp_kind_of(first), MP_PORT);
    mp_realm_free(r);
}

/* ---- unread carried ports close ----------------------------------------------------------------- */

static void
test_unread_carried_port_closes(void)
{
    mp_realm *r;
    OK(mp_realm_new(NULL, &r));
    mp_value a, b, c, d;
    OK(mp_channel_new(r, NULL, &a, &b));
    OK(mp_channel_new(r, NULL, &c, &d));
    OK(mp_port_post(d, mp_number(1), NULL, 0, NULL)); /* queued in c, dropped with it */
    OK(mp_port_post(a, c, &c, 1, NULL));
    OK(mp_port_close(b)); /* the message carrying c is never read */
    mp_value v;
    CU_ASSERT_EQUAL(mp_port_receive(d, NULL, 100, &v, NULL), MP_ECLOSED);

    /* Same for a raw message freed by its owner. */
    mp_value e, f;
    OK(mp_channel_new(r, NULL, &e, &f));
    mp_message *m = NULL;
    OK(mp_serialize(e, &e, 1, &m, NULL));
    CU_ASSERT_EQUAL(mp_message_get_info(m).ports, 1);
    CU_ASSERT_EQUAL(mp_message_get_info(m).moved_stores, 0);
    CU_ASSERT(mp_port_is_closed(e));
    CU_ASSERT_EQUAL(mp_port_try_receive(f, NULL, &v, NULL), MP_EAGAIN);
    mp_message_free(m);
    CU_ASSERT_EQUAL(mp_port_try_receive(f, NULL, &v, NULL), MP_ECLOSED);

    /* A listed port the value never mentions is released at decode. */
    mp_value g, h;
    OK(mp_channel_new(r, NULL, &g, &h));
    OK(mp_channel_new(r, NULL, &a, &b));
    OK(mp_port_post(a, mp_number(5), &g, 1, NULL));
    OK(mp_port_receive(b, NULL, 100, &v, NULL));
    CU_ASSERT_EQUAL(mp_number_value(v), 5);
    CU_ASSERT_EQUAL(mp_port_try_receive(h, NULL, &v, NULL), MP_ECLOSED);
    mp_realm_free(r);
}

/* A chain of ports each carried in the queue of the one before: closing
 * the first closes them all, in a loop (it recursed once per port and
 * overflowed the stack past about 40,000), and the far end sees close. */
static void
test_long_chain_of_carried_ports(void)
{
    for (int how = 0; how < 2; how++) {
        mp_realm *r;
        OK(mp_realm_new(NULL, &r));
        mp_value head, end;
        OK(mp_channel_new(r, NULL, &head, &end));
        mp_status st = MP_OK;
        for (int i = 0; i < 200000 && st == MP_OK; i++) {
            mp_value c, d;
            st = mp_channel_new(r, NULL, &c, &d);
            if (st == MP_OK) st = mp_port_post(end, c, &c, 1, NULL); /* c waits in the queue of end's peer */
            end = d;
        }
        CU_ASSERT_EQUAL_FATAL(st, MP_OK);
        mp_value v;
        CU_ASSERT_EQUAL(mp_port_try_receive(end, NULL, &v, NULL), MP_EAGAIN);
        if (how == 0) {
            OK(mp_port_close(head));
            CU_ASSERT_EQUAL(mp_port_try_receive(end, NULL, &v, NULL), MP_ECLOSED);
        }
        mp_realm_free(r); /* how 1: the realm's end closes the chain */
    }
}

/* ---- a port in workerData ---------------------------------------------------------------------- */

static int
port_worker(mp_worker_ctx *ctx)
{
    mp_value p;
    if (mp_object_get_utf8(ctx->worker_data, "reply", &p) != MP_OK) return 1;
    if (mp_kind_of(p) != MP_PORT) return 2;
    for (int i = 0; i < 100; i++)
        if (mp_port_post(p, mp_number(i), NULL, 0, NULL) != MP_OK) return 3;
    return 0;
}

static void
test_port_in_worker_data(void)
{
    mp_realm *r;
    OK(mp_realm_new(NULL, &r));
    mp_value c, d;
    OK(mp_channel_new(r, NULL, &c, &d));
    mp_worker *w = NULL;
    OK(mp_worker_start(r, NULL, port_worker, NULL, wrap(r, "reply", c), &c, 1, &w, NULL));
    CU_ASSERT(mp_port_is_closed(c));
    int code = -1;
    OK(mp_worker_join(w, &code));
    CU_ASSERT_EQUAL(code, 0);
    mp_value v;
    for (int i = 0; i < 100; i++) {
        OK(mp_port_receive(d, NULL, 1000, &v, NULL));
        CU_ASSERT_EQUAL(mp_number_value(v), i);
    }
    /* The worker's realm is gone, so the port it held closed. */
    CU_ASSERT_EQUAL(mp_port_receive(d, NULL, 1000, &v, NULL), MP_ECLOSED);
    mp_realm_free(r);
}

/* ---- the sender's old handle ---------------------------------------------------------------- */

static void
count_message(void *ctx, mp_value port, mp_status status, mp_value value, const mp_error_info *err)
{
    (void)port;
    (void)value;
    (void)err;
    if (status == MP_OK) ++*(int *)ctx;
}

/* Once shipped, the old handle controls nothing of the port's new life:
 * not its callback, spin, queue count, fd or dispatch. */
static void
test_old_handle_controls_nothing(void)
{
    mp_realm *ra, *rb;
    OK(mp_realm_new(NULL, &ra));
    OK(mp_realm_new(NULL, &rb));
    mp_value a, b, c, d, got, v;
    OK(mp_channel_new(ra, rb, &a, &b));
    OK(mp_channel_new(ra, ra, &c, &d));
    for (int i = 0; i < 3; i++)
        OK(mp_port_post(d, mp_number(i), NULL, 0, NULL));
    OK(mp_port_post(a, wrap(ra, "port", c), &c, 1, NULL));
    OK(mp_port_receive(b, NULL, 100, &got, NULL));
    mp_value c1 = unwrap(got, "port");
    CU_ASSERT_EQUAL_FATAL(mp_kind_of(c1), MP_PORT);

    int old_calls = 0, new_calls = 0;
    int fd;
    size_t ran = 99;
    CU_ASSERT_EQUAL(mp_port_set_callback(c, count_message, &old_calls), MP_ECLOSED);
    CU_ASSERT_EQUAL(mp_port_set_spin(c, 1000), MP_ECLOSED);
    CU_ASSERT_EQUAL(mp_port_pending(c), 0);
    CU_ASSERT_EQUAL(mp_port_fd(c, &fd), MP_ECLOSED);
    CU_ASSERT_EQUAL(mp_port_dispatch(c, 0, &ran), MP_ECLOSED);
    CU_ASSERT_EQUAL(ran, 0);

    CU_ASSERT_EQUAL(mp_port_pending(c1), 3);
    OK(mp_port_set_callback(c1, count_message, &new_calls));
    OK(mp_port_dispatch(c1, 0, &ran));
    CU_ASSERT_EQUAL(ran, 3);
    CU_ASSERT_EQUAL(new_calls, 3);
    CU_ASSERT_EQUAL(old_calls, 0);
    CU_ASSERT_EQUAL(mp_port_try_receive(c1, NULL, &v, NULL), MP_EAGAIN);
    mp_realm_free(ra);
    mp_realm_free(rb);
}

int
main(void)
{
    static const mpt_test tests[] = {
        {"transfer with messages in flight, transferred twice", test_transfer_with_messages_in_flight},
        {"two hops on two threads while a third posts", test_transferred_twice_while_posting},
        {"DataCloneErrors detach nothing", test_errors_detach_nothing},
        {"an unread carried port closes", test_unread_carried_port_closes},
        {"a long chain of carried ports closes without recursion", test_long_chain_of_carried_ports},
        {"a port in workerData", test_port_in_worker_data},
        {"the old handle controls nothing", test_old_handle_controls_nothing},
        {NULL, NULL},
    };
    return mpt_run("port_transfer", tests);
}
