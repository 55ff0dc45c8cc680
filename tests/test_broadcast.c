/* Named broadcast channels: four members on four threads, each post
 * reaches the three others and never the sender, per-sender order kept;
 * transfer lists refused with nothing detached; close not propagated;
 * SharedArrayBuffers shared with every member; names isolate groups.
 *
 * CUnit is not thread-safe: member threads record, the main thread asserts. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "testutil.h"

#define OK(call) CU_ASSERT_EQUAL_FATAL((call), MP_OK)

#define MEMBERS 4
#define PER_MEMBER 2000

typedef struct member {
    int id;
    mp_realm *realm;
    mp_value port;
    pthread_barrier_t *opened;
    size_t received;
    size_t from_self;
    size_t disorder;
    size_t post_failures;
    size_t receive_failures;
} member;

static void *
member_thread(void *p)
{
    member *m = p;
    /* Every member is open before anyone posts, so nothing is missed. */
    pthread_barrier_wait(m->opened);
    size_t next[MEMBERS] = {0};
    for (size_t i = 0; i < PER_MEMBER; i++) {
        double v = (double)m->id * 1e6 + (double)i;
        if (mp_port_post(m->port, mp_number(v), NULL, 0, NULL) != MP_OK) m->post_failures++;
        /* Interleave receiving so queues stay short. */
        mp_value got;
        while (mp_port_try_receive(m->port, NULL, &got, NULL) == MP_OK) {
            int from = (int)(mp_number_value(got) / 1e6);
            size_t seq = (size_t)(mp_number_value(got) - (double)from * 1e6);
            if (from == m->id) m->from_self++;
            if (from >= 0 && from < MEMBERS) {
                if (seq != next[from]) m->disorder++;
                next[from] = seq + 1;
            }
            m->received++;
        }
    }
    while (m->received < (MEMBERS - 1) * PER_MEMBER) {
        mp_value got;
        if (mp_port_receive(m->port, NULL, 10000, &got, NULL) != MP_OK) {
            m->receive_failures++;
            break;
        }
        int from = (int)(mp_number_value(got) / 1e6);
        size_t seq = (size_t)(mp_number_value(got) - (double)from * 1e6);
        if (from == m->id) m->from_self++;
        if (from >= 0 && from < MEMBERS) {
            if (seq != next[from]) m->disorder++;
            next[from] = seq + 1;
        }
        m->received++;
    }
    /* Everyone has everything before anyone closes. */
    pthread_barrier_wait(m->opened);
    return NULL;
}

static void
test_four_members(void)
{
    pthread_barrier_t opened;
    CU_ASSERT_FATAL(pthread_barrier_init(&opened, NULL, MEMBERS) == 0);
    member ms[MEMBERS];
    pthread_t th[MEMBERS];
    memset(ms, 0, sizeof ms);
    for (int i = 0; i < MEMBERS; i++) {
        ms[i].id = i;
        ms[i].opened = &opened;
        OK(mp_realm_new(NULL, &ms[i].realm));
        OK(mp_broadcast_open(ms[i].realm, "bc.four", &ms[i].port));
    }
    for (int i = 0; i < MEMBERS; i++) CU_ASSERT_FATAL(pthread_create(&th[i], NULL, member_thread, &ms[i]) == 0);
    for (int i = 0; i < MEMBERS; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < MEMBERS; i++) {
        CU_ASSERT_EQUAL(ms[i].received, (MEMBERS - 1) * PER_MEMBER);
        CU_ASSERT_EQUAL(ms[i].from_self, 0);
        CU_ASSERT_EQUAL(ms[i].disorder, 0);
        CU_ASSERT_EQUAL(ms[i].post_failures, 0);
        CU_ASSERT_EQUAL(ms[i].receive_failures, 0);
        mp_value v;
        CU_ASSERT_EQUAL(mp_port_try_receive(ms[i].port, NULL, &v, NULL), MP_EAGAIN);
    }
    for (int i = 0; i < MEMBERS; i++) mp_realm_free(ms[i].realm);
    pthread_barrier_destroy(&opened);
}

static void
test_sender_excluded_and_shared(void)
{
    mp_realm *r[MEMBERS];
    mp_value p[MEMBERS];
    for (int i = 0; i < MEMBERS; i++) {
        OK(mp_realm_new(NULL, &r[i]));
        OK(mp_broadcast_open(r[i], "bc.shared", &p[i]));
    }
    mp_value sab, view;
    OK(mp_sab_new(r[0], 64, &sab));
    OK(mp_typedarray_new(MP_INT32, sab, 0, MP_LENGTH_AUTO, &view));
    mp_value obj;
    OK(mp_object_new(r[0], &obj));
    OK(mp_object_set_utf8(obj, "sab", sab));
    OK(mp_object_set_utf8(obj, "text", mpt_str(r[0], "hello")));
    OK(mp_port_post(p[0], obj, NULL, 0, NULL));
    mp_value v;
    CU_ASSERT_EQUAL(mp_port_try_receive(p[0], NULL, &v, NULL), MP_EAGAIN);
    mp_value views[MEMBERS];
    for (int i = 1; i < MEMBERS; i++) {
        OK(mp_port_receive(p[i], NULL, 1000, &v, NULL));
        CU_ASSERT(mp_graph_equal(obj, v, NULL));
        mp_value s;
        OK(mp_object_get_utf8(v, "sab", &s));
        CU_ASSERT(mp_sab_same_store(s, sab));
        OK(mp_typedarray_new(MP_INT32, s, 0, MP_LENGTH_AUTO, &views[i]));
        mp_value old;
        OK(mp_atomics_rmw(views[i], 0, MP_ATOMIC_ADD, mp_number(1), &old));
    }
    mp_value total;
    OK(mp_atomics_load(view, 0, &total));
    CU_ASSERT_EQUAL(mp_number_value(total), MEMBERS - 1);
    for (int i = 0; i < MEMBERS; i++) mp_realm_free(r[i]);
}

static void
test_transfer_refused(void)
{
    mp_realm *r1, *r2;
    OK(mp_realm_new(NULL, &r1));
    OK(mp_realm_new(NULL, &r2));
    mp_value a, b;
    OK(mp_broadcast_open(r1, "bc.transfer", &a));
    OK(mp_broadcast_open(r2, "bc.transfer", &b));
    mp_value ab;
    OK(mp_arraybuffer_new(r1, 128, &ab));
    mp_error_info err;
    CU_ASSERT_EQUAL(mp_port_post(a, ab, &ab, 1, &err), MP_EDATACLONE);
    CU_ASSERT_STRING_EQUAL(err.detail, "Transferables cannot be used with multiple destinations.");
    CU_ASSERT(!mp_arraybuffer_is_detached(ab));
    CU_ASSERT_EQUAL(mp_port_pending(b), 0);
    /* A raw message carrying a moved store is refused and stays ours. */
    mp_message *m = NULL;
    OK(mp_serialize(ab, &ab, 1, &m, NULL));
    CU_ASSERT_EQUAL(mp_port_post_message(a, m), MP_EDATACLONE);
    mp_message_free(m);
    /* Without a transfer list, the buffer is copied. */
    mp_value c;
    OK(mp_arraybuffer_new(r1, 8, &c));
    OK(mp_port_post(a, c, NULL, 0, NULL));
    mp_value got;
    OK(mp_port_receive(b, NULL, 100, &got, NULL));
    CU_ASSERT_EQUAL(mp_arraybuffer_byte_length(got), 8);
    CU_ASSERT(!mp_arraybuffer_is_detached(c));
    mp_realm_free(r1);
    mp_realm_free(r2);
}

static void
test_close_not_propagated(void)
{
    mp_realm *r;
    OK(mp_realm_new(NULL, &r));
    mp_value p[3];
    for (int i = 0; i < 3; i++) OK(mp_broadcast_open(r, "bc.close", &p[i]));
    OK(mp_port_post(p[0], mp_number(1), NULL, 0, NULL));
    OK(mp_port_close(p[0]));
    mp_value v;
    /* Messages posted before the close still arrive; no close event. */
    for (int i = 1; i < 3; i++) {
        OK(mp_port_receive(p[i], NULL, 100, &v, NULL));
        CU_ASSERT_EQUAL(mp_port_try_receive(p[i], NULL, &v, NULL), MP_EAGAIN);
        CU_ASSERT(!mp_port_is_closed(p[i]));
    }
    CU_ASSERT_EQUAL(mp_port_post(p[0], mp_number(1), NULL, 0, NULL), MP_ECLOSED);
    OK(mp_port_post(p[1], mp_number(2), NULL, 0, NULL));
    OK(mp_port_receive(p[2], NULL, 100, &v, NULL));
    CU_ASSERT_EQUAL(mp_number_value(v), 2);
    OK(mp_port_close(p[2]));
    /* Alone: nobody to deliver to, still not closed. */
    CU_ASSERT_EQUAL(mp_port_post(p[1], mp_number(3), NULL, 0, NULL), MP_ENOPEER);
    CU_ASSERT_EQUAL(mp_port_try_receive(p[1], NULL, &v, NULL), MP_EAGAIN);
    /* A new member joins the same name. */
    mp_value late;
    OK(mp_broadcast_open(r, "bc.close", &late));
    OK(mp_port_post(p[1], mp_number(4), NULL, 0, NULL));
    OK(mp_port_receive(late, NULL, 100, &v, NULL));
    CU_ASSERT_EQUAL(mp_number_value(v), 4);
    mp_realm_free(r);
}

static void
test_names_isolate(void)
{
    mp_realm *r;
    OK(mp_realm_new(NULL, &r));
    mp_value a1, a2, b1;
    OK(mp_broadcast_open(r, "bc.a", &a1));
    OK(mp_broadcast_open(r, "bc.a", &a2));
    OK(mp_broadcast_open(r, "bc.b", &b1));
    OK(mp_port_post(a1, mp_number(1), NULL, 0, NULL));
    CU_ASSERT_EQUAL(mp_port_post(b1, mp_number(1), NULL, 0, NULL), MP_ENOPEER);
    mp_value v;
    CU_ASSERT_EQUAL(mp_port_try_receive(b1, NULL, &v, NULL), MP_EAGAIN);
    OK(mp_port_try_receive(a2, NULL, &v, NULL));
    CU_ASSERT_EQUAL(mp_broadcast_open(r, NULL, &v), MP_EINVAL);
    mp_realm_free(r);
}

int
main(void)
{
    static const mpt_test tests[] = {
        {"four members on four threads", test_four_members},
        {"sender excluded, SharedArrayBuffer shared", test_sender_excluded_and_shared},
        {"transfer list refused, nothing detached", test_transfer_refused},
        {"close is not propagated", test_close_not_propagated},
        {"names isolate groups", test_names_isolate},
        {NULL, NULL},
    };
    return mpt_run("broadcast", tests);
}
