/* Transfer, sharing and host objects: every DataCloneError case with its
 * text; a failed clone detaches nothing; a transferred buffer's data
 * pointer reaches the receiver unchanged, views included; a
 * SharedArrayBuffer written after the clone is seen by both sides; unread
 * messages release what they own; host-object hooks. Each case runs
 * through bytes and through mp_clone. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec_internal.h"
#include "testutil.h"

#define OK(call) CU_ASSERT_EQUAL_FATAL((call), MP_OK)

static mp_realm *RA, *RB;

static void
setup(void)
{
    if (RA) mp_realm_free(RA);
    if (RB) mp_realm_free(RB);
    OK(mp_realm_new(NULL, &RA));
    OK(mp_realm_new(NULL, &RB));
}

static mp_value
obj(mp_realm *r)
{
    mp_value v;
    OK(mp_object_new(r, &v));
    return v;
}

static mp_value
arr(mp_realm *r)
{
    mp_value v;
    OK(mp_array_new(r, 0, &v));
    return v;
}

static mp_value
filled_ab(mp_realm *r, size_t n, uint8_t seed)
{
    mp_value ab;
    OK(mp_arraybuffer_new(r, n, &ab));
    uint8_t *d;
    OK(mp_arraybuffer_data(ab, (void **)&d, NULL));
    for (size_t i = 0; i < n; i++)
        d[i] = (uint8_t)(seed + i);
    return ab;
}

/* Serialize (then deserialize) or clone, by `direct`. */
static mp_status
send(bool direct, mp_value v, const mp_value *t, size_t n, mp_value *out, mp_error_info *err)
{
    if (direct) return mp_clone(v, RB, t, n, out, err);
    mp_message *m = NULL;
    mp_status st = mp_serialize(v, t, n, &m, err);
    if (st != MP_OK) return st;
    return mp_deserialize(m, RB, NULL, out, err);
}

#define EXPECT_CLONE_ERROR(direct, v, list, n, want_code, want_path, want_detail)                                      \
    do {                                                                                                               \
        mp_error_info e_;                                                                                              \
        memset(&e_, 0, sizeof e_);                                                                                     \
        mp_value o_ = mp_null();                                                                                       \
        mp_realm_stats b_ = mp_realm_get_stats(RB);                                                                    \
        mp_status s_ = send((direct), (v), (list), (n), &o_, &e_);                                                     \
        /* the target realm holds what it held before */                                                              \
        CU_ASSERT_EQUAL(mp_realm_get_stats(RB).values, b_.values);                                                     \
        CU_ASSERT_EQUAL(mp_realm_get_stats(RB).bytes, b_.bytes);                                                       \
        CU_ASSERT_EQUAL(s_, (want_code));                                                                              \
        CU_ASSERT_EQUAL(e_.code, (want_code));                                                                         \
        if (strcmp(e_.path, (want_path)) || strcmp(e_.detail, (want_detail)))                                          \
            fprintf(stderr, "\n  line %d: got path '%s' detail '%s'\n", __LINE__, e_.path, e_.detail);                 \
        CU_ASSERT_STRING_EQUAL(e_.path, (want_path));                                                                  \
        CU_ASSERT_STRING_EQUAL(e_.detail, (want_detail));                                                              \
        CU_ASSERT_EQUAL(mp_kind_of(o_), MP_NULL);                                                                      \
    } while (0)

/* ---- transfer-list validation ------------------------------------------------------------- */

static void
test_transfer_list_errors(void)
{
    for (int direct = 0; direct < 2; direct++) {
        setup();
        mp_value ok = filled_ab(RA, 16, 1);
        mp_value v = obj(RA);
        OK(mp_object_set_utf8(v, "buf", ok));

        mp_value list[2] = {ok, mp_number(1)};
        EXPECT_CLONE_ERROR(direct, v, list, 2, MP_EDATACLONE, "transfer[1]", "Found invalid value in transferList.");
        list[1] = obj(RA);
        EXPECT_CLONE_ERROR(direct, v, list, 2, MP_EDATACLONE, "transfer[1]", "Found invalid value in transferList.");
        list[1] = mpt_str(RA, "str");
        EXPECT_CLONE_ERROR(direct, v, list, 2, MP_EDATACLONE, "transfer[1]", "Found invalid value in transferList.");

        mp_value sab;
        OK(mp_sab_new(RA, 8, &sab));
        list[1] = sab;
        EXPECT_CLONE_ERROR(direct, v, list, 2, MP_EDATACLONE, "transfer[1]",
                           "A SharedArrayBuffer could not be cloned. SharedArrayBuffer must not be transferred.");
        /* One pass in list order, as Node: the duplicate at [1] is found
         * before the bad entry after it. */
        mp_value in_order[3] = {ok, ok, sab};
        EXPECT_CLONE_ERROR(direct, v, in_order, 3, MP_EDATACLONE, "transfer[1]",
                           "Transfer list contains duplicate ArrayBuffer");
        in_order[2] = mp_number(1);
        EXPECT_CLONE_ERROR(direct, v, in_order, 3, MP_EDATACLONE, "transfer[1]",
                           "Transfer list contains duplicate ArrayBuffer");

        list[1] = ok;
        EXPECT_CLONE_ERROR(direct, v, list, 2, MP_EDATACLONE, "transfer[1]",
                           "Transfer list contains duplicate ArrayBuffer");

        mp_value det = filled_ab(RA, 4, 0);
        OK(mp_arraybuffer_detach(det));
        list[1] = det;
        EXPECT_CLONE_ERROR(direct, v, list, 2, MP_EDATACLONE, "transfer[1]",
                           "An ArrayBuffer is detached and could not be cloned.");

        mp_value pinned = filled_ab(RA, 4, 0);
        OK(mp_arraybuffer_set_detachable(pinned, false));
        list[1] = pinned;
        EXPECT_CLONE_ERROR(direct, v, list, 2, MP_EDATACLONE, "transfer[1]",
                           "ArrayBuffer is not detachable and could not be cloned.");
        /* ... but it can be copied */
        mp_value out;
        OK(send(direct, pinned, NULL, 0, &out, NULL));
        CU_ASSERT_EQUAL(mp_arraybuffer_byte_length(out), 4);

        /* a closed port, and a port listed twice */
        mp_value port, port2;
        OK(mp_channel_new(RA, RA, &port, &port2));
        OK(mp_port_close(port));
        list[1] = port;
        EXPECT_CLONE_ERROR(direct, v, list, 2, MP_EDATACLONE, "transfer[1]",
                           "MessagePort in transfer list is already detached");
        mp_value twice[3] = {ok, port2, port2};
        EXPECT_CLONE_ERROR(direct, v, twice, 3, MP_EDATACLONE, "transfer[2]",
                           "Transfer list contains duplicate MessagePort");
        CU_ASSERT_FALSE(mp_port_is_closed(port2));

        /* a buffer of another realm */
        list[1] = filled_ab(RB, 4, 0);
        EXPECT_CLONE_ERROR(direct, v, list, 2, MP_EREALM, "transfer[1]",
                           "transfer list entry belongs to another realm");

        /* After every failure the listed buffer is attached and intact. */
        CU_ASSERT_FALSE(mp_arraybuffer_is_detached(ok));
        CU_ASSERT_EQUAL(mp_arraybuffer_byte_length(ok), 16);
        uint8_t *d;
        OK(mp_arraybuffer_data(ok, (void **)&d, NULL));
        CU_ASSERT_EQUAL(d[15], 16);
    }
}

/* ---- DataCloneErrors while walking the graph ---------------------------------------------- */

static void
test_graph_errors(void)
{
    for (int direct = 0; direct < 2; direct++) {
        setup();
        /* root.items[3].handle: a host object with no codec */
        mp_value root = obj(RA), items = arr(RA), h;
        for (int i = 0; i < 3; i++)
            OK(mp_array_push(items, mp_number(i)));
        mp_value item = obj(RA);
        static int dummy;
        OK(mp_host_new(RA, 77, &dummy, &h));
        OK(mp_object_set_utf8(item, "name", mpt_str(RA, "x")));
        OK(mp_object_set_utf8(item, "handle", h));
        OK(mp_array_push(items, item));
        OK(mp_object_set_utf8(root, "items", items));
        mp_value ab = filled_ab(RA, 32, 9);
        OK(mp_object_set_utf8(root, "buf", ab));
        void *before;
        OK(mp_arraybuffer_data(ab, &before, NULL));
        EXPECT_CLONE_ERROR(direct, root, &ab, 1, MP_EDATACLONE, "root.items[3].handle",
                           "host object of type 77 could not be cloned: no codec registered");
        /* A Map's or Set's entry is named by its position among the
         * entries that exist: deleted ones are not counted. */
        mp_value dm, ds;
        OK(mp_map_new(RA, &dm));
        OK(mp_set_new(RA, &ds));
        for (int i = 0; i < 5; i++) {
            OK(mp_map_set(dm, mp_number(i), mp_null()));
            OK(mp_set_add(ds, mp_number(i)));
        }
        for (int i = 0; i < 4; i++) {
            OK(mp_map_delete(dm, mp_number(i)));
            OK(mp_set_delete(ds, mp_number(i)));
        }
        OK(mp_map_set(dm, mpt_str(RA, "bad"), h));
        OK(mp_set_add(ds, h));
        EXPECT_CLONE_ERROR(direct, dm, NULL, 0, MP_EDATACLONE, "root[[entries]][1].value",
                           "host object of type 77 could not be cloned: no codec registered");
        EXPECT_CLONE_ERROR(direct, ds, NULL, 0, MP_EDATACLONE, "root[[entries]][1]",
                           "host object of type 77 could not be cloned: no codec registered");
        /* nothing was detached */
        void *after;
        size_t len;
        OK(mp_arraybuffer_data(ab, &after, &len));
        CU_ASSERT_PTR_EQUAL(before, after);
        CU_ASSERT_EQUAL(len, 32);
        CU_ASSERT_FALSE(mp_arraybuffer_is_detached(ab));

        /* a detached buffer that is not in the transfer list */
        mp_value o = obj(RA), det = filled_ab(RA, 4, 0), m;
        OK(mp_arraybuffer_detach(det));
        OK(mp_map_new(RA, &m));
        OK(mp_map_set(m, mpt_str(RA, "k"), det));
        OK(mp_object_set_utf8(o, "weird key!", m));
        EXPECT_CLONE_ERROR(direct, o, NULL, 0, MP_EDATACLONE, "root[\"weird key!\"][[entries]][0].value",
                           "An ArrayBuffer is detached and could not be cloned.");
        /* a view over a detached buffer */
        mp_value ab2 = filled_ab(RA, 8, 0), view;
        OK(mp_typedarray_new(MP_UINT8, ab2, 0, 8, &view));
        OK(mp_arraybuffer_detach(ab2));
        mp_value e;
        OK(mp_error_new(RA, MP_ERR_ERROR, mp_undefined(), &e));
        OK(mp_error_set_cause(e, view));
        EXPECT_CLONE_ERROR(direct, e, NULL, 0, MP_EDATACLONE, "root.cause",
                           "An ArrayBuffer is detached and could not be cloned.");
        /* an out-of-bounds view after a shrink */
        mp_value rz, v2;
        OK(mp_arraybuffer_new_resizable(RA, 16, 32, &rz));
        OK(mp_typedarray_new(MP_UINT32, rz, 8, 2, &v2));
        OK(mp_arraybuffer_resize(rz, 4));
        mp_value s;
        OK(mp_set_new(RA, &s));
        OK(mp_set_add(s, v2));
        EXPECT_CLONE_ERROR(direct, s, NULL, 0, MP_EDATACLONE, "root[[entries]][0]",
                           "Uint32Array is out of bounds of its buffer and could not be cloned.");
        /* a port inside the value */
        mp_value port, port2;
        OK(mp_channel_new(RA, RA, &port, &port2));
        mp_value pa = arr(RA);
        OK(mp_array_push(pa, mp_null()));
        OK(mp_array_push(pa, port));
        EXPECT_CLONE_ERROR(direct, pa, NULL, 0, MP_EDATACLONE, "root[1]",
                           "Object that needs transfer was found in message but not listed in transferList");
        CU_ASSERT_FALSE(mp_port_is_closed(port));
    }
}

/* ---- transfer: zero copy ------------------------------------------------------------------- */

static void
test_transfer_moves_the_store(void)
{
    for (int direct = 0; direct < 2; direct++) {
        setup();
        mp_value ab = filled_ab(RA, 4096, 3);
        void *p;
        OK(mp_arraybuffer_data(ab, &p, NULL));
        mp_value root = obj(RA), v8, v32, dv;
        OK(mp_typedarray_new(MP_UINT8, ab, 10, 100, &v8));
        OK(mp_typedarray_new(MP_INT32, ab, 64, MP_LENGTH_AUTO, &v32));
        OK(mp_dataview_new(ab, 1, 7, &dv));
        OK(mp_object_set_utf8(root, "v8", v8));
        OK(mp_object_set_utf8(root, "buf", ab));
        OK(mp_object_set_utf8(root, "v32", v32));
        OK(mp_object_set_utf8(root, "dv", dv));
        mp_value out;
        if (!direct) {
            mp_message *m;
            OK(mp_serialize(root, &ab, 1, &m, NULL));
            mp_message_info info = mp_message_get_info(m);
            CU_ASSERT_EQUAL(info.moved_stores, 1);
            /* the bytes carry an index, not the data */
            size_t len;
            mp_message_bytes(m, NULL, &len);
            CU_ASSERT(len < 200);
            CU_ASSERT_TRUE(mp_arraybuffer_is_detached(ab));
            OK(mp_deserialize(m, RB, NULL, &out, NULL));
        } else {
            OK(mp_clone(root, RB, &ab, 1, &out, NULL));
        }
        /* sender side: detached, views see nothing */
        CU_ASSERT_TRUE(mp_arraybuffer_is_detached(ab));
        CU_ASSERT_EQUAL(mp_arraybuffer_byte_length(ab), 0);
        CU_ASSERT_EQUAL(mp_view_length(v8), 0);
        CU_ASSERT_EQUAL(mp_view_byte_length(v32), 0);
        /* receiver side: the same memory */
        mp_value rbuf, r8, r32, rdv;
        OK(mp_object_get_utf8(out, "buf", &rbuf));
        OK(mp_object_get_utf8(out, "v8", &r8));
        OK(mp_object_get_utf8(out, "v32", &r32));
        OK(mp_object_get_utf8(out, "dv", &rdv));
        void *q;
        size_t qlen;
        OK(mp_arraybuffer_data(rbuf, &q, &qlen));
        CU_ASSERT_PTR_EQUAL(q, p);
        CU_ASSERT_EQUAL(qlen, 4096);
        CU_ASSERT_EQUAL(((uint8_t *)q)[4095], (uint8_t)(3 + 4095));
        CU_ASSERT_TRUE(mp_same_value(mp_view_buffer(r8), rbuf));
        CU_ASSERT_TRUE(mp_same_value(mp_view_buffer(r32), rbuf));
        CU_ASSERT_TRUE(mp_same_value(mp_view_buffer(rdv), rbuf));
        void *vd;
        size_t vlen;
        OK(mp_view_data(r8, &vd, &vlen));
        CU_ASSERT_PTR_EQUAL(vd, (uint8_t *)p + 10);
        CU_ASSERT_EQUAL(vlen, 100);
        CU_ASSERT_EQUAL(mp_view_length(r32), (4096 - 64) / 4);
        CU_ASSERT_EQUAL(mp_view_byte_offset(rdv), 1);
        CU_ASSERT_EQUAL(mp_view_byte_length(rdv), 7);
    }
}

static void
test_transfer_resizable_and_unreferenced(void)
{
    for (int direct = 0; direct < 2; direct++) {
        setup();
        mp_value rz;
        OK(mp_arraybuffer_new_resizable(RA, 10, 1000, &rz));
        void *p;
        OK(mp_arraybuffer_data(rz, &p, NULL));
        mp_value loose = filled_ab(RA, 8, 0); /* listed, never referenced */
        mp_value list[2] = {loose, rz};
        mp_value out;
        OK(send(direct, rz, list, 2, &out, NULL));
        CU_ASSERT_TRUE(mp_arraybuffer_is_detached(rz));
        CU_ASSERT_TRUE(mp_arraybuffer_is_detached(loose));
        CU_ASSERT_TRUE(mp_arraybuffer_is_resizable(out));
        CU_ASSERT_EQUAL(mp_arraybuffer_max_byte_length(out), 1000);
        CU_ASSERT_EQUAL(mp_arraybuffer_byte_length(out), 10);
        void *q;
        OK(mp_arraybuffer_data(out, &q, NULL));
        CU_ASSERT_PTR_EQUAL(p, q);
        OK(mp_arraybuffer_resize(out, 1000));
    }
}

/* External stores show exactly when a store is released. */
static atomic_int g_deleted;
static void
count_delete(void *data, size_t len, void *ctx)
{
    (void)len;
    (void)ctx;
    free(data);
    atomic_fetch_add(&g_deleted, 1);
}

static void
test_unread_message_releases(void)
{
    setup();
    atomic_store(&g_deleted, 0);
    void *mem = malloc(64);
    mp_value ab, sab, o = obj(RA);
    OK(mp_arraybuffer_new_external(RA, mem, 64, count_delete, NULL, &ab));
    OK(mp_sab_new(RA, 32, &sab));
    OK(mp_object_set_utf8(o, "ab", ab));
    OK(mp_object_set_utf8(o, "sab", sab));
    mp_message *m;
    OK(mp_serialize(o, &ab, 1, &m, NULL));
    CU_ASSERT_TRUE(mp_arraybuffer_is_detached(ab));
    CU_ASSERT_EQUAL(atomic_load(&g_deleted), 0);
    mp_message_free(m); /* never decoded */
    CU_ASSERT_EQUAL(atomic_load(&g_deleted), 1);

    /* decoded: the store lives in the receiver until its realm goes */
    mem = malloc(64);
    OK(mp_arraybuffer_new_external(RA, mem, 64, count_delete, NULL, &ab));
    mp_value loose;
    void *mem2 = malloc(8);
    OK(mp_arraybuffer_new_external(RA, mem2, 8, count_delete, NULL, &loose));
    mp_value list[2] = {ab, loose};
    OK(mp_serialize(ab, list, 2, &m, NULL));
    mp_value out;
    OK(mp_deserialize(m, RB, NULL, &out, NULL));
    CU_ASSERT_EQUAL(atomic_load(&g_deleted), 2); /* the unreferenced one */
    void *q;
    OK(mp_arraybuffer_data(out, &q, NULL));
    CU_ASSERT_PTR_EQUAL(q, mem);
    mp_realm_free(RB);
    RB = NULL;
    CU_ASSERT_EQUAL(atomic_load(&g_deleted), 3);

    /* the whole picture with a counting allocator: nothing leaks */
    mpt_alloc a;
    mpt_alloc_init(&a);
    mp_realm *ra, *rb;
    OK(mp_realm_new(&a.alc, &ra));
    OK(mp_realm_new(&a.alc, &rb));
    mp_value x = obj(ra), b2, s2;
    OK(mp_arraybuffer_new(ra, 1 << 16, &b2));
    OK(mp_sab_new(ra, 1 << 12, &s2));
    OK(mp_object_set_utf8(x, "b", b2));
    OK(mp_object_set_utf8(x, "s", s2));
    OK(mp_serialize(x, &b2, 1, &m, NULL));
    mp_realm_free(ra); /* the SAB store lives on in the message */
    mp_message_free(m);
    OK(mp_realm_new(&a.alc, &ra));
    x = obj(ra);
    OK(mp_arraybuffer_new(ra, 100, &b2));
    OK(mp_object_set_utf8(x, "b", b2));
    OK(mp_serialize(x, &b2, 1, &m, NULL));
    OK(mp_deserialize(m, rb, NULL, &out, NULL));
    mp_realm_free(ra);
    mp_realm_free(rb);
    CU_ASSERT_EQUAL(atomic_load(&a.live_bytes), 0);
}

/* ---- SharedArrayBuffer --------------------------------------------------------------------- */

static void
test_sab_shared_after_clone(void)
{
    for (int direct = 0; direct < 2; direct++) {
        setup();
        mp_value sab, view, o = obj(RA);
        OK(mp_sab_new(RA, 64, &sab));
        OK(mp_typedarray_new(MP_INT32, sab, 0, 16, &view));
        OK(mp_object_set_utf8(o, "sab", sab));
        OK(mp_object_set_utf8(o, "again", sab));
        OK(mp_object_set_utf8(o, "view", view));
        mp_value out;
        if (!direct) {
            mp_message *m;
            OK(mp_serialize(o, NULL, 0, &m, NULL));
            CU_ASSERT_EQUAL(mp_message_get_info(m).shared_stores, 1);
            OK(mp_deserialize(m, RB, NULL, &out, NULL));
        } else {
            OK(mp_clone(o, RB, NULL, 0, &out, NULL));
        }
        mp_value rs, ra2, rv;
        OK(mp_object_get_utf8(out, "sab", &rs));
        OK(mp_object_get_utf8(out, "again", &ra2));
        OK(mp_object_get_utf8(out, "view", &rv));
        CU_ASSERT_TRUE(mp_same_value(rs, ra2));
        CU_ASSERT_TRUE(mp_sab_same_store(rs, sab));
        CU_ASSERT_TRUE(mp_same_value(mp_view_buffer(rv), rs));
        /* written after the clone, on either side, seen by both */
        OK(mp_view_set(view, 3, mp_number(12345)));
        mp_value got;
        OK(mp_view_get(rv, 3, &got));
        CU_ASSERT_EQUAL(mp_number_value(got), 12345);
        OK(mp_view_set(rv, 5, mp_number(-7)));
        OK(mp_view_get(view, 5, &got));
        CU_ASSERT_EQUAL(mp_number_value(got), -7);
        /* the source realm can go; the store lives on */
        mp_realm_free(RA);
        RA = NULL;
        OK(mp_view_get(rv, 3, &got));
        CU_ASSERT_EQUAL(mp_number_value(got), 12345);
    }
}

/* ---- host objects ---------------------------------------------------------------------------- */

typedef struct point {
    int x, y;
    bool moved;
} point;

typedef struct host_stats {
    int writes, reads, frees, transfers;
    bool fail_write;
} host_stats;

static mp_status
pt_write(void *ctx, void *host, bool transferring, void **payload)
{
    host_stats *s = ctx;
    if (s->fail_write) return MP_EDATACLONE;
    s->writes++;
    point *p = malloc(sizeof *p);
    *p = *(point *)host;
    p->moved = transferring;
    *payload = p;
    return MP_OK;
}

static mp_status
pt_read(void *ctx, mp_realm *realm, void *payload, void **host)
{
    (void)realm;
    host_stats *s = ctx;
    s->reads++;
    /* The embedder owns what read makes (msgport never frees host
     * pointers); a static pool keeps this test leak-free even when a
     * failed clone drops an object already read. */
    static point pool[64];
    static int used;
    point *p = &pool[used++ % 64];
    *p = *(point *)payload;
    *host = p;
    return MP_OK;
}

static void
pt_free(void *ctx, void *payload)
{
    ((host_stats *)ctx)->frees++;
    free(payload);
}

static void
pt_transfer(void *ctx, void *host, void *payload)
{
    (void)payload;
    ((host_stats *)ctx)->transfers++;
    ((point *)host)->x = -1; /* the sender's object gives up its state */
}

static void
test_host_objects(void)
{
    for (int direct = 0; direct < 2; direct++) {
        setup();
        host_stats sa = {0}, sb = {0};
        mp_host_type_hooks hooks = {pt_write, pt_read, pt_free, NULL};
        OK(mp_realm_register_host_type(RA, 5, &hooks, &sa));
        OK(mp_realm_register_host_type(RB, 5, &hooks, &sb));
        CU_ASSERT_EQUAL(mp_realm_register_host_type(RA, 6, NULL, NULL), MP_EINVAL);
        point p = {3, 4, false};
        mp_value h, o = obj(RA);
        OK(mp_host_new(RA, 5, &p, &h));
        OK(mp_object_set_utf8(o, "p", h));
        OK(mp_object_set_utf8(o, "q", h));
        mp_value out, rp, rq;
        OK(send(direct, o, NULL, 0, &out, NULL));
        OK(mp_object_get_utf8(out, "p", &rp));
        OK(mp_object_get_utf8(out, "q", &rq));
        CU_ASSERT_TRUE(mp_same_value(rp, rq));
        CU_ASSERT_EQUAL(mp_host_type(rp), 5);
        point *got = mp_host_ptr(rp);
        CU_ASSERT_PTR_NOT_EQUAL(got, &p);
        CU_ASSERT_EQUAL(got->x, 3);
        CU_ASSERT_EQUAL(got->y, 4);
        CU_ASSERT_EQUAL(sa.writes, 1);
        CU_ASSERT_EQUAL(sb.reads, 1);
        CU_ASSERT_EQUAL(sa.frees, 1);

        /* not registered in the target realm */
        mp_realm *rc;
        OK(mp_realm_new(NULL, &rc));
        mp_error_info err;
        mp_status st;
        if (direct) {
            st = mp_clone(o, rc, NULL, 0, &out, &err);
        } else {
            mp_message *m;
            OK(mp_serialize(o, NULL, 0, &m, NULL));
            st = mp_deserialize(m, rc, NULL, &out, &err);
        }
        CU_ASSERT_EQUAL(st, MP_EDATACLONE);
        CU_ASSERT_STRING_EQUAL(err.detail, "host type 5 has no codec registered in the target realm");
        mp_realm_free(rc);
        CU_ASSERT_EQUAL(sa.frees, sa.writes);

        /* a failing write hook fails the clone with the path */
        sa.fail_write = true;
        EXPECT_CLONE_ERROR(direct, o, NULL, 0, MP_EDATACLONE, "root.p",
                           "host object of type 5: its write hook failed (value could not be cloned (DataCloneError))");
        sa.fail_write = false;

        /* not transferable without a transfer hook */
        EXPECT_CLONE_ERROR(direct, o, &h, 1, MP_EDATACLONE, "transfer[0]",
                           "Found invalid value in transferList. (host type 5 is not transferable)");

        /* transferable: the hook runs at the commit only */
        hooks.transfer = pt_transfer;
        OK(mp_realm_register_host_type(RA, 5, &hooks, &sa));
        mp_value bad = obj(RA), nocodec;
        OK(mp_host_new(RA, 99, &p, &nocodec));
        OK(mp_object_set_utf8(bad, "p", h));
        OK(mp_object_set_utf8(bad, "z", nocodec));
        EXPECT_CLONE_ERROR(direct, bad, &h, 1, MP_EDATACLONE, "root.z",
                           "host object of type 99 could not be cloned: no codec registered");
        CU_ASSERT_EQUAL(sa.transfers, 0);
        CU_ASSERT_EQUAL(p.x, 3);
        OK(send(direct, o, &h, 1, &out, NULL));
        CU_ASSERT_EQUAL(sa.transfers, 1);
        CU_ASSERT_EQUAL(p.x, -1);
        OK(mp_object_get_utf8(out, "p", &rp));
        got = mp_host_ptr(rp);
        CU_ASSERT_EQUAL(got->y, 4);
        CU_ASSERT_TRUE(got->moved);
        CU_ASSERT_EQUAL(sa.frees, sa.writes);

        /* A listed host object the value never mentions is written and
         * transferred, and its payload freed unread: no object is made
         * for it in the target, directly as through bytes. */
        point p3 = {5, 6, false}, p4 = {7, 8, false};
        mp_value h3, h4, o2 = obj(RA);
        OK(mp_host_new(RA, 5, &p3, &h3));
        OK(mp_host_new(RA, 5, &p4, &h4));
        OK(mp_object_set_utf8(o2, "p", h3));
        mp_value listed[2] = {h3, h4};
        int writes = sa.writes, reads = sb.reads, transfers = sa.transfers;
        mp_realm_stats before = mp_realm_get_stats(RB);
        OK(send(direct, o2, listed, 2, &out, NULL));
        CU_ASSERT_EQUAL(sa.writes - writes, 2);
        CU_ASSERT_EQUAL(sb.reads - reads, 1);
        CU_ASSERT_EQUAL(sa.transfers - transfers, 2);
        CU_ASSERT_EQUAL(p3.x, -1);
        CU_ASSERT_EQUAL(p4.x, -1);
        CU_ASSERT_EQUAL(sa.frees, sa.writes);
        /* the clone, its one property and the one host object */
        CU_ASSERT_EQUAL(mp_realm_get_stats(RB).values - before.values, 2);
    }
}

/* ---- across threads ------------------------------------------------------------------------ */

typedef struct thread_job {
    mp_message *msg;
    mp_realm *realm;
    mp_value out;
    mp_status st;
} thread_job;

static void *
decode_thread(void *arg)
{
    thread_job *j = arg;
    OK(mp_realm_new(NULL, &j->realm));
    j->st = mp_deserialize(j->msg, j->realm, NULL, &j->out, NULL);
    return NULL;
}

static void
test_decode_on_another_thread(void)
{
    setup();
    mp_value o = obj(RA), ab = filled_ab(RA, 1 << 20, 5), sab;
    OK(mp_sab_new(RA, 16, &sab));
    OK(mp_object_set_utf8(o, "ab", ab));
    OK(mp_object_set_utf8(o, "sab", sab));
    void *p;
    OK(mp_arraybuffer_data(ab, &p, NULL));
    thread_job j = {NULL, NULL, mp_undefined(), MP_EINVAL};
    OK(mp_serialize(o, &ab, 1, &j.msg, NULL));
    pthread_t t;
    CU_ASSERT_EQUAL_FATAL(pthread_create(&t, NULL, decode_thread, &j), 0);
    pthread_join(t, NULL);
    CU_ASSERT_EQUAL_FATAL(j.st, MP_OK);
    mp_value rab, rsab;
    OK(mp_object_get_utf8(j.out, "ab", &rab));
    OK(mp_object_get_utf8(j.out, "sab", &rsab));
    void *q;
    OK(mp_arraybuffer_data(rab, &q, NULL));
    CU_ASSERT_PTR_EQUAL(p, q);
    CU_ASSERT_TRUE(mp_sab_same_store(sab, rsab));
    mp_realm_free(RA); /* sender gone first */
    RA = NULL;
    mp_realm_free(j.realm);
}

/* mpi_message_dup (broadcast): bytes copied, shared stores referenced again,
 * moved stores and host payloads refused. */
static void
test_message_dup(void)
{
    setup();
    mp_value o = obj(RA), sab;
    OK(mp_sab_new(RA, 16, &sab));
    OK(mp_object_set_utf8(o, "sab", sab));
    mp_message *m, *d;
    OK(mp_serialize(o, NULL, 0, &m, NULL));
    OK(mpi_message_dup(m, &d));
    const void *b1, *b2;
    size_t l1, l2;
    mp_message_bytes(m, &b1, &l1);
    mp_message_bytes(d, &b2, &l2);
    CU_ASSERT_EQUAL(l1, l2);
    CU_ASSERT(b1 != b2 && memcmp(b1, b2, l1) == 0);
    CU_ASSERT_EQUAL(mp_message_get_info(d).shared_stores, 1);
    mp_value x, y;
    OK(mp_deserialize(m, RB, NULL, &x, NULL));
    mp_message_free(d);
    OK(mp_object_get_utf8(x, "sab", &y));
    CU_ASSERT_TRUE(mp_sab_same_store(y, sab));
    mp_value ab = filled_ab(RA, 4, 0);
    OK(mp_serialize(ab, &ab, 1, &m, NULL));
    d = NULL;
    CU_ASSERT_EQUAL(mpi_message_dup(m, &d), MP_EDATACLONE);
    CU_ASSERT_PTR_NULL(d);
    mp_message_free(m);
}

int
main(void)
{
    static const mpt_test tests[] = {
        {"transfer-list DataCloneErrors, list left attached", test_transfer_list_errors},
        {"graph DataCloneErrors with paths, nothing detached", test_graph_errors},
        {"transfer moves the store: same data pointer, views follow", test_transfer_moves_the_store},
        {"transfer of resizable and unreferenced buffers", test_transfer_resizable_and_unreferenced},
        {"unread messages release what they own", test_unread_message_releases},
        {"SharedArrayBuffer written after the clone is seen by both", test_sab_shared_after_clone},
        {"host objects: hooks, registry per realm, transfer", test_host_objects},
        {"decoded on another thread, sender realm freed first", test_decode_on_another_thread},
        {"message copy for broadcast (mpi_message_dup)", test_message_dup},
        {NULL, NULL},
    };
    int rc = mpt_run("codec_transfer", tests);
    mp_realm_free(RA);
    mp_realm_free(RB);
    return rc;
}
