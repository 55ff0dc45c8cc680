/* Message blocks of the default allocator are recycled (codec/message.c):
 * a thread reuses the blocks it freed, blocks freed on a receiving thread
 * come back to the sending one through the shared return list, a steady
 * stream through a channel allocates no block per message, and threads
 * that exit with blocks cached leak nothing (ASan and valgrind check that
 * at exit). The messages made from recycled blocks are whole. */
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "codec_internal.h" /* mpi_message_blocks_recycled */
#include "testutil.h"

enum { BATCH = 96 }; /* more than a thread keeps for itself (64) */

static mp_realm *R;

/* A W1-like value; its message fits in the block. No CUnit assertions
 * here and below: they run on other threads too (CUnit is not
 * thread-safe); the callers check the results. */
static bool
small_value(mp_realm *r, int i, mp_value *out)
{
    mp_value o, s;
    return mp_object_new(r, &o) == MP_OK && mp_object_set_utf8(o, "id", mp_number(i)) == MP_OK &&
           mp_string_from_utf8(r, "short string", 12, &s) == MP_OK && mp_object_set_utf8(o, "name", s) == MP_OK &&
           (*out = o, true);
}

static mp_message *
serialize(mp_value v)
{
    mp_message *m = NULL;
    return mp_serialize(v, NULL, 0, &m, NULL) == MP_OK ? m : NULL;
}

/* Decodes m into a realm of its own and compares with v. */
static bool
decodes_to(mp_message *m, mp_value v)
{
    mp_realm *r;
    if (mp_realm_new(NULL, &r) != MP_OK) return false;
    mp_value out;
    bool ok = mp_deserialize(m, r, NULL, &out, NULL) == MP_OK && mp_graph_equal(v, out, NULL);
    mp_realm_free(r);
    return ok;
}

/* A freed block is the thread's next one. */
static void
test_same_thread_reuse(void)
{
    CU_ASSERT_EQUAL_FATAL(mp_realm_new(NULL, &R), MP_OK);
    mp_value v;
    CU_ASSERT_FATAL(small_value(R, 1, &v));
    mp_message *m = serialize(v);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    uintptr_t first = (uintptr_t)m;
    mp_message_free(m);
    size_t recycled = mpi_message_blocks_recycled();
    m = serialize(v);
    CU_ASSERT_EQUAL(mpi_message_blocks_recycled(), recycled + 1);
    CU_ASSERT_EQUAL((uintptr_t)m, first);
    CU_ASSERT_TRUE(decodes_to(m, v));
    mp_realm_free(R);
}

typedef struct handoff {
    mp_message *msgs[BATCH];
    uintptr_t freed[BATCH];
    mp_value v;
} handoff;

static void *
free_all(void *arg)
{
    handoff *h = arg;
    for (int i = 0; i < BATCH; i++) {
        h->freed[i] = (uintptr_t)h->msgs[i];
        mp_message_free(h->msgs[i]);
    }
    return NULL; /* exits with 64 blocks cached: released at its exit */
}

/* The sender of the messages: makes BATCH of them, has another thread
 * free them, then makes one more, which comes from the blocks the other
 * thread gave back. */
static void *
sender(void *arg)
{
    handoff *h = arg;
    for (int i = 0; i < BATCH; i++)
        if (!(h->msgs[i] = serialize(h->v))) return (void *)1;
    pthread_t t;
    if (pthread_create(&t, NULL, free_all, h) != 0) return (void *)1;
    pthread_join(t, NULL);
    size_t recycled = mpi_message_blocks_recycled();
    mp_message *m = serialize(h->v);
    if (!m) return (void *)1;
    if (mpi_message_blocks_recycled() != recycled + 1) return (void *)3;
    bool reused = false;
    for (int i = 0; i < BATCH; i++)
        reused = reused || (uintptr_t)m == h->freed[i];
    bool whole = decodes_to(m, h->v);
    return (void *)(uintptr_t)(reused && whole ? 0 : 2);
}

static void
test_blocks_come_back(void)
{
    CU_ASSERT_EQUAL_FATAL(mp_realm_new(NULL, &R), MP_OK);
    handoff h;
    memset(&h, 0, sizeof h);
    CU_ASSERT_FATAL(small_value(R, 2, &h.v));
    pthread_t t;
    CU_ASSERT_EQUAL_FATAL(pthread_create(&t, NULL, sender, &h), 0);
    void *rc = NULL;
    pthread_join(t, &rc);
    CU_ASSERT_PTR_NULL(rc);
    mp_realm_free(R);
}

/* A steady stream: main posts W1-like values through a channel to a
 * thread that decodes them (freeing each message there) and acknowledges
 * every ACK_EVERY; main keeps at most 2 * ACK_EVERY in flight. Past the
 * first blocks, every message main makes is a block the receiver gave
 * back: no allocation per message. */
enum { STREAM = 20000, ACK_EVERY = 16 };

typedef struct stream {
    mp_realm *realm;
    mp_value port;
    int received;
} stream;

static void *
stream_receiver(void *arg)
{
    stream *s = arg;
    for (int i = 0; i < STREAM; i++) {
        mp_value v;
        if (mp_port_receive(s->port, s->realm, MP_PORT_FOREVER, &v, NULL) != MP_OK) break;
        s->received++;
        if (s->received % ACK_EVERY == 0 && mp_port_post(s->port, mp_number(s->received), NULL, 0, NULL) != MP_OK)
            break;
        if (s->received % 1024 == 0) mp_realm_collect(s->realm, &s->port, 1);
    }
    return NULL;
}

static void
test_steady_stream(void)
{
    mp_realm *rb;
    CU_ASSERT_EQUAL_FATAL(mp_realm_new(NULL, &R), MP_OK);
    CU_ASSERT_EQUAL_FATAL(mp_realm_new(NULL, &rb), MP_OK);
    mp_value pa;
    stream s = {rb, mp_undefined(), 0};
    CU_ASSERT_EQUAL_FATAL(mp_channel_new(R, rb, &pa, &s.port), MP_OK);
    mp_value v;
    CU_ASSERT_FATAL(small_value(R, 4, &v));
    pthread_t t;
    CU_ASSERT_EQUAL_FATAL(pthread_create(&t, NULL, stream_receiver, &s), 0);
    size_t recycled = mpi_message_blocks_recycled();
    int acked = 0;
    for (int i = 0; i < STREAM; i++) {
        CU_ASSERT_EQUAL_FATAL(mp_port_post(pa, v, NULL, 0, NULL), MP_OK);
        while (i + 1 - acked >= 2 * ACK_EVERY) {
            mp_value ack;
            CU_ASSERT_EQUAL_FATAL(mp_port_receive(pa, R, MP_PORT_FOREVER, &ack, NULL), MP_OK);
            acked = (int)mp_number_value(ack);
        }
    }
    pthread_join(t, NULL);
    CU_ASSERT_EQUAL(s.received, STREAM);
    size_t reused = mpi_message_blocks_recycled() - recycled;
    /* main also frees the acks it receives, and those blocks count too */
    CU_ASSERT(reused >= STREAM - 256);
    mp_port_close(pa);
    mp_realm_free(rb);
    mp_realm_free(R);
}

/* Threads that make and free many messages (each from a realm of its
 * own), then exit with full caches: every message decodes whole; leaks
 * would show at exit. */
static void *
churn_thread(void *arg)
{
    int *ok = arg;
    mp_realm *r;
    if (mp_realm_new(NULL, &r) != MP_OK) return NULL;
    mp_value v;
    mp_message *held[3 * BATCH];
    bool whole = small_value(r, 3, &v);
    for (int round = 0; round < 4; round++) {
        for (int i = 0; i < 3 * BATCH && whole; i++)
            whole = (held[i] = serialize(v)) != NULL;
        if (!whole) break; /* (a failed serialize is reported, not cleaned up) */
        for (int i = 0; i < 3 * BATCH; i += 2)
            mp_message_free(held[i]);
        for (int i = 1; i < 3 * BATCH; i += 2)
            whole = decodes_to(held[i], v) && whole; /* decodes_to frees it */
    }
    mp_realm_free(r);
    *ok = whole;
    return NULL;
}

static void
test_threads_exit_with_caches(void)
{
    enum { THREADS = 4 };
    int ok[THREADS] = {0};
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        CU_ASSERT_EQUAL_FATAL(pthread_create(&t[i], NULL, churn_thread, &ok[i]), 0);
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        CU_ASSERT_EQUAL(ok[i], 1);
    }
}

int
main(void)
{
    static const mpt_test tests[] = {
        {"a freed block is the thread's next", test_same_thread_reuse},
        {"blocks freed on another thread come back", test_blocks_come_back},
        {"a steady stream allocates no block per message", test_steady_stream},
        {"threads exit with blocks cached", test_threads_exit_with_caches},
        {NULL, NULL},
    };
    return mpt_run("message blocks", tests);
}
