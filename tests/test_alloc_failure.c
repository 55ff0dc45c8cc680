/* Allocation failure: for every N, the Nth allocation of a clone, a
 * serialize, a decode, a post, a receive and a worker start fails. The call
 * must return a clean error, leak nothing and leave the caller's values as
 * they were (no buffer detached, no port moved, no message half-queued);
 * the loop runs N = 1, 2, ... until the call succeeds, and the success is
 * checked against a pristine copy too.
 *
 * Every realm of a test (source, target, pristine copy, worker) uses one
 * counting allocator, so stores, messages and port cores are counted. Each
 * iteration builds its fixture with fail_at disarmed, arms it right before
 * the call, disarms it right after, and frees everything at the end of the
 * iteration: live bytes must be back where they started.
 *
 * Receive is the exception the header defines (port.h, mp_port_receive):
 * a message that cannot be decoded is consumed and reported as
 * MP_EMESSAGE (the standard's messageerror), with err->detail starting
 * with the decoder's status text, and the port stays usable. An ENOMEM
 * while decoding is such a failure; the test asserts that contract (and
 * that the receiving realm holds what it held before, and that a port the
 * lost message carried is closed, as port.h says for an unread message).
 *
 * CUnit is not thread-safe: the worker records, the main thread asserts. */
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "testutil.h"

#define OK(call) CU_ASSERT_EQUAL_FATAL((call), MP_OK)

#define N_CAP 100000
#define AB_LEN 48
#define SAB_LEN 16

/* The operation and N being tested, for the messages of CHECK. */
static const char *g_op = "";
static long long g_n = 0;
static int g_reports = 0;

#define CHECK(cond)                                                                                                   \
    do {                                                                                                              \
        bool ok_ = (cond);                                                                                            \
        CU_assertImplementation(ok_ ? CU_TRUE : CU_FALSE, __LINE__, #cond, __FILE__, "", CU_FALSE);                 \
        if (!ok_ && g_reports++ < 40)                                                                                 \
            fprintf(stderr, "\n  [%s, N=%lld] line %d: check failed: %s", g_op, g_n, __LINE__, #cond);               \
    } while (0)

static void
arm(mpt_alloc *a, long long n)
{
    atomic_store(&a->fail_at, atomic_load(&a->allocations) + n);
}

static void
disarm(mpt_alloc *a)
{
    atomic_store(&a->fail_at, 0);
}

static bool
same_value_bits(mp_value x, mp_value y)
{
    return memcmp(&x, &y, sizeof x) == 0;
}

static bool
same_stats(mp_realm_stats x, mp_realm_stats y)
{
    return x.values == y.values && x.bytes == y.bytes;
}

static mp_value
get(mp_value o, const char *key)
{
    mp_value v = mp_undefined();
    CU_ASSERT_EQUAL(mp_object_get_utf8(o, key, &v), MP_OK);
    return v;
}

/* ---- the fixture ------------------------------------------------------------ */

typedef struct fx {
    mpt_alloc *a;
    long long live_before;
    mp_realm *src;      /* the graph */
    mp_realm *dst;      /* the target of clones and decodes; holds one value */
    mp_realm *pri;      /* the pristine copy */
    mp_value g;         /* the graph */
    mp_value pristine;  /* its clone in pri, made before arming */
    mp_value ab;        /* the ArrayBuffer in the graph and in the transfer list */
    void *ab_data;
    unsigned char ab_bytes[AB_LEN];
    mp_value sab;
} fx;

static mp_value
arr(mp_realm *r)
{
    mp_value v;
    OK(mp_array_new(r, 0, &v));
    return v;
}

static mp_value
obj(mp_realm *r)
{
    mp_value v;
    OK(mp_object_new(r, &v));
    return v;
}

/* { ascii, text (non-ASCII), nested: { list: [1, "two", [3, { deep: true }],
 *   null], empty: {} }, again: <nested>, map: Map { "k" => [1, 2],
 *   42 => { x: "y" } }, big: -BigInt, buf: ArrayBuffer, sab:
 *   SharedArrayBuffer } */
static void
fx_setup(fx *f, mpt_alloc *a)
{
    memset(f, 0, sizeof *f);
    f->a = a;
    f->live_before = atomic_load(&a->live_bytes);
    OK(mp_realm_new(&a->alc, &f->src));
    OK(mp_realm_new(&a->alc, &f->dst));
    OK(mp_realm_new(&a->alc, &f->pri));
    mp_realm *r = f->src;

    mp_value root = obj(r);
    OK(mp_object_set_utf8(root, "ascii", mpt_str(r, "hello, world")));
    OK(mp_object_set_utf8(root, "text", mpt_str(r, "h\xc3\xa9llo w\xc3\xb6rld \xe2\x9c\x93 \xf0\x9f\x98\x80")));

    mp_value nested = obj(r);
    mp_value list = arr(r);
    OK(mp_array_push(list, mp_number(1)));
    OK(mp_array_push(list, mpt_str(r, "two")));
    mp_value inner = arr(r);
    OK(mp_array_push(inner, mp_number(3)));
    mp_value deep = obj(r);
    OK(mp_object_set_utf8(deep, "deep", mp_boolean(true)));
    OK(mp_array_push(inner, deep));
    OK(mp_array_push(list, inner));
    OK(mp_array_push(list, mp_null()));
    OK(mp_object_set_utf8(nested, "list", list));
    OK(mp_object_set_utf8(nested, "empty", obj(r)));
    OK(mp_object_set_utf8(root, "nested", nested));
    OK(mp_object_set_utf8(root, "again", nested));

    mp_value map;
    OK(mp_map_new(r, &map));
    mp_value pair = arr(r);
    OK(mp_array_push(pair, mp_number(1)));
    OK(mp_array_push(pair, mp_number(2)));
    OK(mp_map_set(map, mpt_str(r, "k"), pair));
    mp_value xy = obj(r);
    OK(mp_object_set_utf8(xy, "x", mpt_str(r, "y")));
    OK(mp_map_set(map, mp_number(42), xy));
    OK(mp_object_set_utf8(root, "map", map));

    static const uint64_t words[] = {0x0123456789abcdefULL, 0xfedcba9876543210ULL, 0x1ULL};
    mp_value big;
    OK(mp_bigint_from_words(r, true, words, 3, &big));
    OK(mp_object_set_utf8(root, "big", big));

    OK(mp_arraybuffer_new(r, AB_LEN, &f->ab));
    size_t len = 0;
    OK(mp_arraybuffer_data(f->ab, &f->ab_data, &len));
    CU_ASSERT_EQUAL_FATAL(len, AB_LEN);
    for (size_t i = 0; i < AB_LEN; i++) f->ab_bytes[i] = (unsigned char)(i * 7 + 1);
    memcpy(f->ab_data, f->ab_bytes, AB_LEN);
    OK(mp_object_set_utf8(root, "buf", f->ab));

    OK(mp_sab_new(r, SAB_LEN, &f->sab));
    void *sd = NULL;
    OK(mp_sab_data(f->sab, &sd, &len));
    memset(sd, 0x5a, SAB_LEN);
    OK(mp_object_set_utf8(root, "sab", f->sab));

    f->g = root;
    OK(mp_clone(f->g, f->pri, NULL, 0, &f->pristine, NULL));

    /* The target realm is not empty: a failure must leave it as it was. */
    (void)mpt_str(f->dst, "already here");
}

/* The source graph is intact: equal to the pristine copy, the buffer
 * attached with its data pointer and bytes. */
static void
fx_check_source_intact(fx *f)
{
    mp_error_info why;
    memset(&why, 0, sizeof why);
    bool eq = mp_graph_equal(f->g, f->pristine, &why);
    CHECK(eq);
    if (!eq) fprintf(stderr, " (at %s: %s)", why.path, why.detail);
    CHECK(!mp_arraybuffer_is_detached(f->ab));
    void *d = NULL;
    size_t len = 0;
    CHECK(mp_arraybuffer_data(f->ab, &d, &len) == MP_OK);
    CHECK(d == f->ab_data);
    CHECK(len == AB_LEN);
    CHECK(d && len == AB_LEN && memcmp(d, f->ab_bytes, AB_LEN) == 0);
}

/* A received/cloned graph equals the pristine one, and its buffer carries
 * the very store of the sender's (the sender's now detached). */
static void
fx_check_moved(fx *f, mp_value got)
{
    mp_error_info why;
    memset(&why, 0, sizeof why);
    bool eq = mp_graph_equal(got, f->pristine, &why);
    CHECK(eq);
    if (!eq) fprintf(stderr, " (at %s: %s)", why.path, why.detail);
    mp_value b = get(got, "buf");
    void *d = NULL;
    size_t len = 0;
    CHECK(mp_arraybuffer_data(b, &d, &len) == MP_OK);
    CHECK(d == f->ab_data);
    CHECK(len == AB_LEN);
    CHECK(mp_arraybuffer_is_detached(f->ab));
    CHECK(mp_sab_same_store(get(got, "sab"), f->sab));
}

static void
fx_teardown(fx *f)
{
    mp_realm_free(f->src);
    mp_realm_free(f->dst);
    mp_realm_free(f->pri);
    long long live = atomic_load(&f->a->live_bytes);
    CHECK(live == f->live_before);
    if (live != f->live_before) fprintf(stderr, " (%lld bytes leaked)", live - f->live_before);
}

static void
begin(const char *op, mpt_alloc *a)
{
    g_op = op;
    g_n = 0;
    g_reports = 0;
    mpt_alloc_init(a);
}

static void
finish(mpt_alloc *a, long long n, bool succeeded)
{
    CU_ASSERT(succeeded);
    CU_ASSERT_EQUAL(atomic_load(&a->live_bytes), 0);
    printf("\n    %s: %lld allocation failure points, then success%s ", g_op, n - 1, succeeded ? "" : " NOT reached");
    fflush(stdout);
}

/* ---- clone ------------------------------------------------------------------- */

static void
test_clone(void)
{
    mpt_alloc a;
    begin("clone", &a);
    long long n;
    bool done = false;
    for (n = 1; n <= N_CAP && !done; n++) {
        g_n = n;
        fx f;
        fx_setup(&f, &a);
        mp_realm_stats src0 = mp_realm_get_stats(f.src), dst0 = mp_realm_get_stats(f.dst);
        const mp_value sentinel = mp_number(12345.0);
        mp_value out = sentinel;
        mp_error_info err;
        memset(&err, 0, sizeof err);

        arm(&a, n);
        mp_status st = mp_clone(f.g, f.dst, &f.ab, 1, &out, &err);
        disarm(&a);

        if (st == MP_OK) {
            done = true;
            CHECK(mp_value_realm(out) == f.dst);
            fx_check_moved(&f, out);
        } else {
            CHECK(st == MP_ENOMEM);
            CHECK(err.code == st);
            CHECK(same_value_bits(out, sentinel));
            mp_realm_stats dst1 = mp_realm_get_stats(f.dst);
            CHECK(dst1.values == dst0.values);
            CHECK(dst1.bytes == dst0.bytes);
            if (!same_stats(dst1, dst0))
                fprintf(stderr, " (target realm: values %zu -> %zu, bytes %zu -> %zu)", dst0.values, dst1.values,
                        dst0.bytes, dst1.bytes);
            CHECK(same_stats(mp_realm_get_stats(f.src), src0));
            fx_check_source_intact(&f);
        }
        fx_teardown(&f);
    }
    finish(&a, n - 1, done);
}

/* ---- serialize ---------------------------------------------------------------- */

static void
test_serialize(void)
{
    mpt_alloc a;
    begin("serialize", &a);
    long long n;
    bool done = false;
    static int sentinel_obj;
    mp_message *const sentinel = (mp_message *)(void *)&sentinel_obj;
    for (n = 1; n <= N_CAP && !done; n++) {
        g_n = n;
        fx f;
        fx_setup(&f, &a);
        mp_realm_stats src0 = mp_realm_get_stats(f.src);
        mp_message *msg = sentinel;
        mp_error_info err;
        memset(&err, 0, sizeof err);

        arm(&a, n);
        mp_status st = mp_serialize(f.g, &f.ab, 1, &msg, &err);
        disarm(&a);

        if (st == MP_OK) {
            done = true;
            CHECK(msg != sentinel && msg != NULL);
            mp_message_info info = mp_message_get_info(msg);
            CHECK(info.moved_stores == 1);
            CHECK(info.shared_stores == 1);
            CHECK(info.host_payloads == 0);
            mp_value out = mp_undefined();
            CHECK(mp_deserialize(msg, f.dst, NULL, &out, NULL) == MP_OK);
            fx_check_moved(&f, out);
        } else {
            CHECK(st == MP_ENOMEM);
            CHECK(err.code == st);
            CHECK(msg == sentinel);
            CHECK(same_stats(mp_realm_get_stats(f.src), src0));
            fx_check_source_intact(&f);
        }
        fx_teardown(&f);
    }
    finish(&a, n - 1, done);
}

/* ---- deserialize ----------------------------------------------------------------- */

static void
test_deserialize(void)
{
    mpt_alloc a;
    begin("deserialize", &a);
    long long n;
    bool done = false;
    for (n = 1; n <= N_CAP && !done; n++) {
        g_n = n;
        fx f;
        fx_setup(&f, &a);
        mp_message *msg = NULL;
        OK(mp_serialize(f.g, &f.ab, 1, &msg, NULL));
        CU_ASSERT_FATAL(mp_arraybuffer_is_detached(f.ab));
        mp_realm_stats dst0 = mp_realm_get_stats(f.dst);
        const mp_value sentinel = mp_number(12345.0);
        mp_value out = sentinel;
        mp_error_info err;
        memset(&err, 0, sizeof err);

        arm(&a, n);
        mp_status st = mp_deserialize(msg, f.dst, NULL, &out, &err); /* always consumes msg */
        disarm(&a);

        if (st == MP_OK) {
            done = true;
            CHECK(mp_value_realm(out) == f.dst);
            fx_check_moved(&f, out);
        } else {
            CHECK(st == MP_ENOMEM);
            CHECK(err.code == st);
            CHECK(same_value_bits(out, sentinel));
            mp_realm_stats dst1 = mp_realm_get_stats(f.dst);
            CHECK(dst1.values == dst0.values);
            CHECK(dst1.bytes == dst0.bytes);
        }
        fx_teardown(&f); /* also proves the consumed message and its store were freed */
    }
    finish(&a, n - 1, done);
}

/* ---- post ---------------------------------------------------------------------- */

/* p and q are the two ends of one channel: each can post to the other. */
static void
check_ports_talk(mp_value p, mp_value q)
{
    mp_value v = mp_undefined();
    CHECK(!mp_port_is_closed(p));
    CHECK(!mp_port_is_closed(q));
    CHECK(mp_port_post(p, mp_number(11), NULL, 0, NULL) == MP_OK);
    CHECK(mp_port_try_receive(q, NULL, &v, NULL) == MP_OK);
    CHECK(mp_kind_of(v) == MP_NUMBER && mp_number_value(v) == 11);
    CHECK(mp_port_post(q, mp_number(22), NULL, 0, NULL) == MP_OK);
    v = mp_undefined();
    CHECK(mp_port_try_receive(p, NULL, &v, NULL) == MP_OK);
    CHECK(mp_kind_of(v) == MP_NUMBER && mp_number_value(v) == 22);
}

/* The post fixture: channel p1 (src) - p2 (dst), channel p3 - p4 (src),
 * and the message { data: g, port: p3 } with transfer list [ab, p3]. */
typedef struct pfx {
    fx f;
    mp_value p1, p2, p3, p4, wrapper;
    mp_value transfer[2];
} pfx;

static void
pfx_setup(pfx *p, mpt_alloc *a)
{
    fx_setup(&p->f, a);
    OK(mp_channel_new(p->f.src, p->f.dst, &p->p1, &p->p2));
    OK(mp_channel_new(p->f.src, NULL, &p->p3, &p->p4));
    p->wrapper = obj(p->f.src);
    OK(mp_object_set_utf8(p->wrapper, "data", p->f.g));
    OK(mp_object_set_utf8(p->wrapper, "port", p->p3));
    p->transfer[0] = p->f.ab;
    p->transfer[1] = p->p3;
}

/* A received wrapper: the graph moved, and the port arrived alive and
 * entangled with p4. */
static void
pfx_check_received(pfx *p, mp_value got)
{
    CHECK(mp_kind_of(got) == MP_OBJECT);
    if (mp_kind_of(got) != MP_OBJECT) return;
    fx_check_moved(&p->f, get(got, "data"));
    mp_value port = get(got, "port");
    CHECK(mp_kind_of(port) == MP_PORT);
    CHECK(mp_value_realm(port) == p->f.dst);
    CHECK(mp_port_is_closed(p->p3));
    if (mp_kind_of(port) == MP_PORT) check_ports_talk(port, p->p4);
}

static void
test_post(void)
{
    mpt_alloc a;
    begin("post", &a);
    long long n;
    bool done = false;
    for (n = 1; n <= N_CAP && !done; n++) {
        g_n = n;
        pfx p;
        pfx_setup(&p, &a);
        mp_realm_stats src0 = mp_realm_get_stats(p.f.src), dst0 = mp_realm_get_stats(p.f.dst);
        mp_error_info err;
        memset(&err, 0, sizeof err);

        arm(&a, n);
        mp_status st = mp_port_post(p.p1, p.wrapper, p.transfer, 2, &err);
        disarm(&a);

        if (st == MP_OK) {
            done = true;
            CHECK(mp_port_pending(p.p2) == 1);
            mp_value got = mp_undefined();
            CHECK(mp_port_try_receive(p.p2, NULL, &got, NULL) == MP_OK);
            pfx_check_received(&p, got);
        } else {
            CHECK(st == MP_ENOMEM);
            CHECK(err.code == st);
            CHECK(same_stats(mp_realm_get_stats(p.f.src), src0));
            CHECK(same_stats(mp_realm_get_stats(p.f.dst), dst0));
            /* Nothing queued. */
            CHECK(mp_port_pending(p.p2) == 0);
            mp_value got = mp_undefined();
            CHECK(mp_port_try_receive(p.p2, NULL, &got, NULL) == MP_EAGAIN);
            /* Nothing detached, the port not moved. */
            fx_check_source_intact(&p.f);
            mp_value still = get(p.wrapper, "port");
            CHECK(same_value_bits(still, p.p3));
            CHECK(mp_port_pending(p.p4) == 0);
            check_ports_talk(p.p3, p.p4);
            /* And the channel still works. */
            CHECK(mp_port_post(p.p1, mp_number(5), NULL, 0, NULL) == MP_OK);
            CHECK(mp_port_try_receive(p.p2, NULL, &got, NULL) == MP_OK);
        }
        fx_teardown(&p.f);
    }
    finish(&a, n - 1, done);
}

/* ---- receive -------------------------------------------------------------------- */

static void
test_receive(void)
{
    mpt_alloc a;
    begin("receive", &a);
    long long n;
    bool done = false;
    char enomem_text[64];
    snprintf(enomem_text, sizeof enomem_text, "%s", mp_strerror(MP_ENOMEM));
    for (n = 1; n <= N_CAP && !done; n++) {
        g_n = n;
        pfx p;
        pfx_setup(&p, &a);
        OK(mp_port_post(p.p1, p.wrapper, p.transfer, 2, NULL));
        CU_ASSERT_FATAL(mp_port_pending(p.p2) == 1);
        mp_realm_stats dst0 = mp_realm_get_stats(p.f.dst);
        const mp_value sentinel = mp_number(12345.0);
        mp_value out = sentinel;
        mp_error_info err;
        memset(&err, 0, sizeof err);

        arm(&a, n);
        mp_status st = mp_port_try_receive(p.p2, NULL, &out, &err);
        disarm(&a);

        if (st == MP_OK) {
            done = true;
            CHECK(mp_port_pending(p.p2) == 0);
            pfx_check_received(&p, out);
        } else {
            /* port.h: a message that could not be decoded is MP_EMESSAGE,
             * consumed and freed; err->detail starts with the decoder's
             * status text; the port stays usable; *out untouched. */
            CHECK(st == MP_EMESSAGE);
            CHECK(err.code == MP_EMESSAGE);
            CHECK(strncmp(err.detail, enomem_text, strlen(enomem_text)) == 0);
            CHECK(same_value_bits(out, sentinel));
            mp_realm_stats dst1 = mp_realm_get_stats(p.f.dst);
            CHECK(dst1.values == dst0.values);
            CHECK(dst1.bytes == dst0.bytes);
            CHECK(mp_port_pending(p.p2) == 0);
            CHECK(!mp_port_is_closed(p.p2));
            mp_value got = mp_undefined();
            CHECK(mp_port_try_receive(p.p2, NULL, &got, NULL) == MP_EAGAIN);
            CHECK(mp_port_post(p.p1, mp_number(5), NULL, 0, NULL) == MP_OK);
            CHECK(mp_port_try_receive(p.p2, NULL, &got, NULL) == MP_OK);
            CHECK(mp_kind_of(got) == MP_NUMBER && mp_number_value(got) == 5);
            /* port.h: a message that carries a port and is never read
             * closes that port; its peer sees close. */
            CHECK(mp_port_try_receive(p.p4, NULL, &got, NULL) == MP_ECLOSED);
        }
        fx_teardown(&p.f);
    }
    finish(&a, n - 1, done);
}

/* ---- worker start ---------------------------------------------------------------- */

typedef struct wctx {
    _Atomic int go;         /* set by the parent once fail_at is disarmed */
    mp_value pristine;      /* read only while the parent waits in join */
    bool equal;
    void *data;
    size_t len;
    bool sab_shared;
    mp_value sab;
} wctx;

static int
worker_entry(mp_worker_ctx *ctx)
{
    wctx *w = ctx->arg;
    while (!atomic_load(&w->go)) sched_yield();
    w->equal = mp_graph_equal(ctx->worker_data, w->pristine, NULL);
    mp_value b = mp_undefined();
    if (mp_object_get_utf8(ctx->worker_data, "buf", &b) == MP_OK) mp_arraybuffer_data(b, &w->data, &w->len);
    mp_value s = mp_undefined();
    if (mp_object_get_utf8(ctx->worker_data, "sab", &s) == MP_OK) w->sab_shared = mp_sab_same_store(s, w->sab);
    return 7;
}

static void
test_worker_start(void)
{
    mpt_alloc a;
    begin("worker start", &a);
    long long n;
    bool done = false;
    static int sentinel_obj;
    mp_worker *const sentinel = (mp_worker *)(void *)&sentinel_obj;
    for (n = 1; n <= N_CAP && !done; n++) {
        g_n = n;
        fx f;
        fx_setup(&f, &a);
        mp_realm_stats src0 = mp_realm_get_stats(f.src);
        wctx w;
        memset(&w, 0, sizeof w);
        atomic_init(&w.go, 0);
        w.pristine = f.pristine;
        w.sab = f.sab;
        mp_worker_options opt = {0, &a.alc};
        mp_worker *wk = sentinel;
        mp_error_info err;
        memset(&err, 0, sizeof err);

        arm(&a, n);
        mp_status st = mp_worker_start(f.src, &opt, worker_entry, &w, f.g, &f.ab, 1, &wk, &err);
        disarm(&a);

        if (st == MP_OK) {
            done = true;
            CHECK(wk != sentinel && wk != NULL);
            CHECK(mp_arraybuffer_is_detached(f.ab));
            atomic_store(&w.go, 1);
            int code = -1;
            CHECK(mp_worker_join(wk, &code) == MP_OK);
            CHECK(code == 7);
            CHECK(w.equal);
            CHECK(w.data == f.ab_data);
            CHECK(w.len == AB_LEN);
            CHECK(w.sab_shared);
        } else {
            CHECK(st == MP_ENOMEM || st == MP_ETHREAD);
            CHECK(err.code == st);
            CHECK(wk == sentinel);
            CHECK(same_stats(mp_realm_get_stats(f.src), src0));
            fx_check_source_intact(&f);
        }
        fx_teardown(&f); /* the worker's realm and channel counted too */
    }
    finish(&a, n - 1, done);
}

int
main(void)
{
    static const mpt_test tests[] = {
        {"clone: every allocation failure", test_clone},
        {"serialize: every allocation failure", test_serialize},
        {"deserialize: every allocation failure", test_deserialize},
        {"post: every allocation failure", test_post},
        {"receive: every allocation failure", test_receive},
        {"worker start: every allocation failure", test_worker_start},
        {NULL, NULL},
    };
    return mpt_run("alloc_failure", tests);
}
