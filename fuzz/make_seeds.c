/* Writes the seed corpora: valid messages of every kind and edge case,
 * made with mp_serialize, each prefixed with the mode byte of
 * fuzz_support.h.
 *
 *   make_seeds fuzz/corpus/decode fuzz/corpus/roundtrip
 *
 * Every seed goes into each directory named, as seed-<name>. Seeds that
 * mention SharedArrayBuffers, transferred ArrayBuffers, host objects or
 * ports are made from mpf_make_attachments and carry MPF_MODE_TABLES, so
 * their indices land on the harness's synthetic side tables. Every seed is
 * checked to decode as the harness would decode it (a mismatch is reported
 * and makes the exit status 3: a codec bug, or a wrong seed), and kept
 * under 4 KiB.
 * Rerunning overwrites the seeds with identical bytes (the encoding is
 * deterministic). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_support.h"

#define MAX_SEED 4096

static const char *const *g_dirs;
static int g_ndirs;
static mp_realm *R; /* every seed graph is made here */
static int g_count;
static int g_mismatches;

static void
die(const char *what, int line, mp_status st)
{
    fprintf(stderr, "make_seeds:%d: %s: %s\n", line, what, mp_strerror(st));
    exit(1);
}
#define CHECK(call)                                                                                                    \
    do {                                                                                                               \
        mp_status st_ = (call);                                                                                        \
        if (st_ != MP_OK) die(#call, __LINE__, st_);                                                                   \
    } while (0)

/* Serializes v (transferring xfer[0..nx)), checks the harness decodes it
 * with `mode`, and writes mode byte + bytes to every directory. */
static void
seed(const char *name, unsigned mode, mp_value v, const mp_value *xfer, size_t nx)
{
    mp_message *m = NULL;
    mp_error_info err;
    mp_status st = mp_serialize(v, xfer, nx, &m, &err);
    if (st != MP_OK) {
        mpf_report(name, st, &err);
        exit(1);
    }
    const void *b;
    size_t len;
    mp_message_bytes(m, &b, &len);
    if (len + 1 > MAX_SEED) {
        fprintf(stderr, "make_seeds: %s is %zu bytes, over %d\n", name, len + 1, MAX_SEED);
        exit(1);
    }
    uint8_t buf[MAX_SEED];
    buf[0] = (uint8_t)mode;
    memcpy(buf + 1, b, len);
    mp_message_free(m);

    /* The harness must accept it (a seed that fails to decode is wasted). */
    mp_realm *r;
    CHECK(mpf_decode_realm(mode, &r));
    mp_message *hm = mpf_message(mode, buf + 1, len, true);
    if (!hm) die("mpf_message", __LINE__, MP_ENOMEM);
    mp_decode_limits lim = mpf_limits(mode);
    mp_value out;
    if (mode & MPF_MODE_FAIL_ALLOC) mpf_failing_arm(mpf_fail_at(mode));
    st = mp_deserialize(hm, r, &lim, &out, &err);
    mpf_failing_arm(0);
    bool expect_ok = strstr(name, "fails-") == NULL;
    if ((st == MP_OK) != expect_ok) {
        /* A codec bug (or a seed that is wrong): say so, still write the
         * seed (it is valid input either way) and exit non-zero at the end. */
        fprintf(stderr, "make_seeds: MISMATCH %s: decode %s\n", name,
                expect_ok ? "failed" : "succeeded unexpectedly");
        if (st != MP_OK) mpf_report(name, st, &err);
        g_mismatches++;
    }
    mp_realm_free(r);

    for (int i = 0; i < g_ndirs; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/seed-%s", g_dirs[i], name);
        FILE *f = fopen(path, "wb");
        if (!f || fwrite(buf, 1, len + 1, f) != len + 1 || fclose(f) != 0) {
            fprintf(stderr, "make_seeds: %s: %s\n", path, strerror(errno));
            exit(1);
        }
    }
    g_count++;
}

/* ---- value helpers ---------------------------------------------------------------- */

static mp_value
S(const char *s)
{
    mp_value v;
    CHECK(mp_string_from_utf8(R, s, strlen(s), &v));
    return v;
}

static mp_value
S16(const uint16_t *u, size_t n)
{
    mp_value v;
    CHECK(mp_string_from_utf16(R, u, n, &v));
    return v;
}

static mp_value
O(void)
{
    mp_value v;
    CHECK(mp_object_new(R, &v));
    return v;
}

static mp_value
A(uint64_t n)
{
    mp_value v;
    CHECK(mp_array_new(R, n, &v));
    return v;
}

static void
set(mp_value o, const char *k, mp_value v)
{
    CHECK(mp_object_set_utf8(o, k, v));
}

static void
push(mp_value a, mp_value v)
{
    CHECK(mp_array_push(a, v));
}

static mp_value
N(double d)
{
    return mp_number(d);
}

static mp_value
BI_str(const char *s)
{
    mp_value v;
    CHECK(mp_bigint_from_string(R, s, strlen(s), &v));
    return v;
}

static mp_value
BI(int64_t i)
{
    mp_value v;
    CHECK(mp_bigint_from_int64(R, i, &v));
    return v;
}

static mp_value
AB(size_t n, uint8_t seed0)
{
    mp_value v;
    void *d;
    size_t len;
    CHECK(mp_arraybuffer_new(R, n, &v));
    CHECK(mp_arraybuffer_data(v, &d, &len));
    for (size_t i = 0; i < len; i++) ((uint8_t *)d)[i] = (uint8_t)(seed0 + i * 31u);
    return v;
}

/* ---- the seeds --------------------------------------------------------------------- */

static void
primitives(void)
{
    seed("undefined", 0, mp_undefined(), NULL, 0);
    seed("null", 0, mp_null(), NULL, 0);
    seed("true", 0, mp_boolean(true), NULL, 0);
    seed("number-pi", 0, N(3.141592653589793), NULL, 0);
    static const double nums[] = {0.0,  -0.0, 1.0,   -1.0, 127,      128,       255,
                                  256,  -32,  -33,   -129, 65536,    -32769,    4294967296.0,
                                  1e300, 5e-324, 0.1, 9007199254740993.0, -9223372036854775808.0, 18446744073709551616.0};
    mp_value a = A(0);
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) push(a, N(nums[i]));
    push(a, N(NAN));
    push(a, N(INFINITY));
    push(a, N(-INFINITY));
    push(a, mp_boolean(false));
    push(a, mp_null());
    push(a, mp_undefined());
    seed("numbers", 0, a, NULL, 0);
}

static void
strings(void)
{
    seed("string-empty", 0, S(""), NULL, 0);
    seed("string-ascii", 0, S("hello, msgport"), NULL, 0);
    mp_value a = A(0);
    push(a, S("caf\xc3\xa9 \xc3\xbf"));             /* Latin-1 */
    push(a, S("\xe2\x82\xac uro"));                  /* BMP */
    push(a, S("astral \xf0\x9f\x98\x80 pair"));      /* surrogate pair */
    static const uint16_t lone_hi[] = {'a', 0xD800, 'b'};
    static const uint16_t lone_lo[] = {0xDC00};
    static const uint16_t swapped[] = {0xDC00, 0xD800};
    push(a, S16(lone_hi, 3));
    push(a, S16(lone_lo, 1));
    push(a, S16(swapped, 2));
    seed("strings-unicode", 0, a, NULL, 0);
    /* str8 and str16 headers. */
    char buf[300];
    for (size_t i = 0; i < sizeof buf - 1; i++) buf[i] = (char)('a' + i % 26);
    buf[40] = '\0';
    seed("string-str8", 0, S(buf), NULL, 0);
    buf[40] = 'o';
    buf[299] = '\0';
    seed("string-str16", 0, S(buf), NULL, 0);
}

static void
bigints(void)
{
    mp_value a = A(0);
    push(a, BI(0));
    push(a, BI(-1));
    push(a, BI(255));
    push(a, BI(INT64_MIN));
    push(a, BI_str("18446744073709551616"));
    push(a, BI_str("-123456789012345678901234567890123456789012345678901234567890"));
    seed("bigints", 0, a, NULL, 0);
}

static void
objects(void)
{
    seed("object-empty", 0, O(), NULL, 0);
    mp_value o = O();
    set(o, "id", N(12345));
    set(o, "name", S("short string"));
    set(o, "ok", mp_boolean(true));
    set(o, "10", N(10)); /* index keys come first */
    set(o, "2", N(2));
    set(o, "01", N(1)); /* not an index */
    set(o, "caf\xc3\xa9", N(3));
    mp_value inner = O();
    set(inner, "x", N(1.5));
    set(inner, "y", A(0));
    set(o, "inner", inner);
    seed("object-keys", 0, o, NULL, 0);
}

static void
arrays(void)
{
    seed("array-empty", 0, A(0), NULL, 0);
    mp_value a = A(0);
    for (int i = 0; i < 20; i++) push(a, N(i));
    seed("array-dense", 0, a, NULL, 0);
    a = A(0);
    for (int i = 0; i < 6; i++) push(a, N(i));
    CHECK(mp_array_delete(a, 1));
    CHECK(mp_array_delete(a, 4));
    seed("array-holey", 0, a, NULL, 0);
    a = A(1000000);
    CHECK(mp_array_set(a, 7, S("seven")));
    CHECK(mp_array_set(a, 99999, N(1)));
    seed("array-sparse", 0, a, NULL, 0);
    a = A(4294967295u);
    CHECK(mp_array_set(a, 4294967294u, N(1)));
    seed("array-sparse-max", 0, a, NULL, 0);
    a = A(0);
    push(a, N(1));
    push(a, N(2));
    set(a, "named", S("prop"));
    set(a, "more", mp_null());
    seed("array-props", 0, a, NULL, 0);
    a = A(5000);
    set(a, "only", N(1));
    seed("array-sparse-props", 0, a, NULL, 0);
}

static void
dates_regexps_boxed(void)
{
    mp_value a = A(0), v;
    CHECK(mp_date_new(R, 1700000000000.0, &v));
    push(a, v);
    CHECK(mp_date_new(R, NAN, &v));
    push(a, v);
    CHECK(mp_date_new(R, -8.64e15, &v));
    push(a, v);
    CHECK(mp_regexp_new(R, S("^a+(b|c)*$"), "dgimsuy", &v));
    push(a, v);
    CHECK(mp_regexp_new(R, S("[\\p{L}--[a-z]]"), "v", &v));
    push(a, v);
    CHECK(mp_regexp_new(R, S(""), "", &v));
    push(a, v);
    CHECK(mp_boxed_new(R, mp_boolean(true), &v));
    push(a, v);
    CHECK(mp_boxed_new(R, N(-0.0), &v));
    push(a, v);
    CHECK(mp_boxed_new(R, S("boxed"), &v));
    push(a, v);
    CHECK(mp_boxed_new(R, BI(-42), &v));
    push(a, v);
    seed("date-regexp-boxed", 0, a, NULL, 0);
}

static void
maps_sets(void)
{
    mp_value m, s, key = O();
    CHECK(mp_map_new(R, &m));
    CHECK(mp_map_set(m, S("k"), N(1)));
    CHECK(mp_map_set(m, N(NAN), S("nan")));
    CHECK(mp_map_set(m, N(-0.0), S("zero")));
    CHECK(mp_map_set(m, key, key));
    CHECK(mp_map_set(m, BI(7), mp_null()));
    CHECK(mp_map_set(m, m, mp_undefined())); /* itself as a key */
    seed("map", 0, m, NULL, 0);
    CHECK(mp_set_new(R, &s));
    CHECK(mp_set_add(s, N(1)));
    CHECK(mp_set_add(s, S("1")));
    CHECK(mp_set_add(s, s));
    CHECK(mp_set_add(s, mp_undefined()));
    seed("set", 0, s, NULL, 0);
    CHECK(mp_map_new(R, &m));
    seed("map-empty", 0, m, NULL, 0);
}

static void
errors(void)
{
    mp_value a = A(0), e, e2;
    for (int t = 0; t < MP_ERR_TYPE_COUNT_; t++) {
        CHECK(mp_error_new(R, (mp_error_type)t, t % 2 ? S("went wrong") : mp_undefined(), &e));
        push(a, e);
    }
    CHECK(mp_error_new(R, MP_ERR_TYPE, S("with stack"), &e));
    CHECK(mp_error_set_stack(e, S("TypeError: with stack\n    at f (x.js:1:2)")));
    CHECK(mp_error_new(R, MP_ERR_RANGE, S("cause"), &e2));
    CHECK(mp_error_set_cause(e, e2));
    push(a, e);
    CHECK(mp_error_new(R, MP_ERR_ERROR, S("self"), &e));
    CHECK(mp_error_set_cause(e, e)); /* cause cycle */
    push(a, e);
    CHECK(mp_error_new(R, MP_ERR_ERROR, S("undefined cause"), &e));
    CHECK(mp_error_set_cause(e, mp_undefined()));
    push(a, e);
    seed("errors", 0, a, NULL, 0);
}

static void
buffers(void)
{
    seed("arraybuffer-empty", 0, AB(0, 0), NULL, 0);
    mp_value ab = AB(64, 5), a = A(0), v;
    push(a, ab);
    for (int t = 0; t < MP_VIEW_TYPE_COUNT_; t++) {
        size_t es = mp_view_type_size((mp_view_type)t);
        CHECK(mp_typedarray_new((mp_view_type)t, ab, es * 1, 3, &v));
        push(a, v);
    }
    CHECK(mp_dataview_new(ab, 3, 10, &v));
    push(a, v);
    seed("views-all-types", 0, a, NULL, 0);
    /* A view whose buffer is met first through the view. */
    CHECK(mp_typedarray_new(MP_FLOAT64, AB(32, 9), 8, MP_LENGTH_AUTO, &v));
    seed("view-root", 0, v, NULL, 0);
    mp_value rab;
    CHECK(mp_arraybuffer_new_resizable(R, 12, 48, &rab));
    a = A(0);
    CHECK(mp_typedarray_new(MP_UINT16, rab, 2, MP_LENGTH_AUTO, &v)); /* length-tracking */
    push(a, v);
    CHECK(mp_dataview_new(rab, 0, 4, &v));
    push(a, v);
    push(a, rab);
    seed("resizable-views", 0, a, NULL, 0);
    seed("binary-bin8", 0, AB(200, 1), NULL, 0);
    seed("binary-bin16", 0, AB(300, 2), NULL, 0);
}

static void
identity(void)
{
    mp_value o = O();
    set(o, "self", o);
    seed("cycle-object", 0, o, NULL, 0);
    mp_value a = A(0);
    push(a, a);
    push(a, a);
    seed("cycle-array", 0, a, NULL, 0);
    mp_value shared = O(), d = A(0);
    set(shared, "v", N(1));
    push(d, shared);
    push(d, shared);
    mp_value o2 = O();
    set(o2, "again", shared);
    push(d, o2);
    seed("diamond", 0, d, NULL, 0);
    /* Depth: fine with roomy limits, over the tight max_depth. */
    mp_value root = A(0), cur = root;
    for (int i = 0; i < 100; i++) {
        mp_value next = A(0);
        push(cur, next);
        cur = next;
    }
    seed("deep-100", 0, root, NULL, 0);
    seed("fails-deep-100-tight", MPF_MODE_TIGHT, root, NULL, 0);
}

/* Seeds that index the harness's synthetic side tables. */
static void
attachments(void)
{
    mpf_attachments at;
    mp_value v, a = A(0);
    CHECK(mpf_register_hosts(R, true));

    CHECK(mpf_make_attachments(R, &at));
    mp_value x[2] = {at.ab0, at.ab1};
    push(a, at.sab0);
    push(a, at.sab1);
    push(a, at.ab0);
    push(a, at.ab1);
    push(a, at.host_known);
    seed("tables-all", MPF_MODE_TABLES, a, x, 2);

    CHECK(mpf_make_attachments(R, &at));
    x[0] = at.ab0;
    x[1] = at.ab1;
    a = A(0);
    CHECK(mp_typedarray_new(MP_INT32, at.sab0, 4, 2, &v));
    push(a, v);
    CHECK(mp_typedarray_new(MP_UINT8, at.sab1, 0, MP_LENGTH_AUTO, &v)); /* tracks the growable SAB */
    push(a, v);
    push(a, at.sab0); /* back-reference to a SAB */
    CHECK(mp_dataview_new(at.ab0, 8, 16, &v));
    push(a, v);
    CHECK(mp_typedarray_new(MP_UINT16, at.ab1, 0, MP_LENGTH_AUTO, &v)); /* tracks the resizable moved store */
    push(a, v);
    push(a, at.ab0); /* back-reference to a moved buffer */
    seed("tables-views", MPF_MODE_TABLES, a, x, 2);

    CHECK(mpf_make_attachments(R, &at));
    x[0] = at.ab0;
    x[1] = at.ab1;
    mp_value o = O();
    set(o, "h", at.host_known);
    set(o, "again", at.host_known);
    set(o, "buf", at.ab1);
    seed("tables-host", MPF_MODE_TABLES, o, x, 2);

    CHECK(mpf_make_attachments(R, &at));
    x[0] = at.ab0;
    x[1] = at.ab1;
    a = A(0);
    push(a, at.host_known);
    push(a, at.host_other); /* no codec for it in the decoding realm */
    seed("fails-tables-host-other", MPF_MODE_TABLES, a, x, 2);

    CHECK(mpf_make_attachments(R, &at));
    x[0] = at.ab0;
    x[1] = at.ab1;
    a = A(0);
    push(a, at.host_known);
    seed("fails-tables-host-read-hook", MPF_MODE_TABLES | MPF_MODE_HOST_FAILS, a, x, 2);

    /* Transferred ports: indices into the ports table, then a back-reference. */
    CHECK(mpf_make_attachments(R, &at));
    mp_value x4[4] = {at.ab0, at.ab1, at.port0, at.port1};
    a = A(0);
    push(a, at.port1);
    push(a, at.port0);
    push(a, at.port1);
    push(a, at.ab1);
    seed("tables-ports", MPF_MODE_TABLES, a, x4, 4);

    /* Tight limits with side tables. */
    CHECK(mpf_make_attachments(R, &at));
    x[0] = at.ab0;
    x[1] = at.ab1;
    a = A(0);
    push(a, at.sab1);
    push(a, at.ab1);
    seed("tables-tight", MPF_MODE_TABLES | MPF_MODE_TIGHT, a, x, 2);
}

static void
kitchen_sink(void)
{
    mp_value o = O(), a = A(0), m, s, v;
    set(o, "name", S("sink"));
    set(o, "n", N(-12.25));
    set(o, "big", BI_str("-98765432109876543210"));
    CHECK(mp_date_new(R, 0, &v));
    set(o, "when", v);
    CHECK(mp_map_new(R, &m));
    CHECK(mp_map_set(m, S("list"), a));
    set(o, "map", m);
    CHECK(mp_set_new(R, &s));
    CHECK(mp_set_add(s, o));
    set(o, "set", s);
    push(a, o);
    push(a, mp_undefined());
    CHECK(mp_array_set(a, 5, N(5)));
    CHECK(mp_typedarray_new(MP_INT8, AB(8, 3), 0, MP_LENGTH_AUTO, &v));
    push(a, v);
    push(a, mp_view_buffer(v));
    seed("kitchen-sink", 0, o, NULL, 0);
    seed("kitchen-sink-tight", MPF_MODE_TIGHT, o, NULL, 0);
    seed("kitchen-sink-same-realm", MPF_MODE_SAME_REALM, o, NULL, 0);
    /* Allocation failures at each point of the decode (fuzz_decode): it
     * allocates three times: an arena chunk, then an ArrayBuffer store and
     * its bytes. */
    seed("fails-kitchen-sink-oom-1", MPF_MODE_FAIL_ALLOC | 0x00, o, NULL, 0);
    seed("fails-kitchen-sink-oom-2", MPF_MODE_FAIL_ALLOC | 0x10, o, NULL, 0);
    seed("fails-kitchen-sink-oom-3", MPF_MODE_FAIL_ALLOC | 0x20, o, NULL, 0);
}

int
main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s <corpus dir>...\n", argv[0]);
        return 2;
    }
    g_dirs = (const char *const *)(argv + 1);
    g_ndirs = argc - 1;
    CHECK(mp_realm_new(NULL, &R));
    primitives();
    strings();
    bigints();
    objects();
    arrays();
    dates_regexps_boxed();
    maps_sets();
    errors();
    buffers();
    identity();
    attachments();
    kitchen_sink();
    mp_realm_free(R);
    printf("make_seeds: %d seeds into %d directories, %d decode mismatches\n", g_count, g_ndirs, g_mismatches);
    return g_mismatches ? 3 : 0;
}
