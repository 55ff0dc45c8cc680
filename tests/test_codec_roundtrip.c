/* Codec round trips: every kind and edge value through bytes (serialize +
 * deserialize) and directly (mp_clone), checked with mp_graph_equal; the
 * identity topology; stable re-encoding; plain data read back by msgpack-c's
 * own msgpack_unpack_next; a 1,000,000-deep chain. */
#include <math.h>
#include <msgpack.h>
#include <pthread.h>
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

static void
check_equal(mp_value a, mp_value b, const char *how, int line)
{
    mp_error_info why;
    why.path[0] = why.detail[0] = '\0';
    bool eq = mp_graph_equal(a, b, &why);
    if (!eq) fprintf(stderr, "\n  line %d (%s): graphs differ at %s: %s\n", line, how, why.path, why.detail);
    CU_ASSERT_TRUE(eq);
}

/* Round trip through bytes and directly; the decoded value re-encodes to
 * the same bytes. */
static void
roundtrip_at(mp_value v, int line)
{
    mp_message *m = NULL;
    mp_error_info err;
    mp_status st = mp_serialize(v, NULL, 0, &m, &err);
    if (st != MP_OK) fprintf(stderr, "\n  line %d: serialize: %s %s %s\n", line, mp_strerror(st), err.path, err.detail);
    CU_ASSERT_EQUAL_FATAL(st, MP_OK);
    const void *bytes;
    size_t len;
    mp_message_bytes(m, &bytes, &len);
    void *copy = malloc(len ? len : 1);
    memcpy(copy, bytes, len);
    mp_value out = mp_undefined();
    st = mp_deserialize(m, RB, NULL, &out, &err);
    if (st != MP_OK)
        fprintf(stderr, "\n  line %d: deserialize: %s at %zu: %s\n", line, mp_strerror(st), err.offset, err.detail);
    CU_ASSERT_EQUAL_FATAL(st, MP_OK);
    check_equal(v, out, "bytes", line);

    mp_message *m2 = NULL;
    OK(mp_serialize(out, NULL, 0, &m2, NULL));
    const void *b2;
    size_t l2;
    mp_message_bytes(m2, &b2, &l2);
    CU_ASSERT_EQUAL(l2, len);
    if (l2 == len) CU_ASSERT(memcmp(b2, copy, len) == 0);
    mp_message_free(m2);
    free(copy);

    mp_value c = mp_undefined();
    st = mp_clone(v, RB, NULL, 0, &c, &err);
    if (st != MP_OK) fprintf(stderr, "\n  line %d: clone: %s %s\n", line, mp_strerror(st), err.detail);
    CU_ASSERT_EQUAL_FATAL(st, MP_OK);
    check_equal(v, c, "clone", line);
}
#define ROUNDTRIP(v) roundtrip_at((v), __LINE__)

static mp_value
str(mp_realm *r, const char *s)
{
    return mpt_str(r, s);
}

static mp_value
str16(mp_realm *r, const uint16_t *u, size_t n)
{
    mp_value v;
    OK(mp_string_from_utf16(r, u, n, &v));
    return v;
}

static mp_value
obj(mp_realm *r)
{
    mp_value v;
    OK(mp_object_new(r, &v));
    return v;
}

static mp_value
arr(mp_realm *r, uint64_t n)
{
    mp_value v;
    OK(mp_array_new(r, n, &v));
    return v;
}

/* ---- primitives ------------------------------------------------------------------ */

static void
test_primitives(void)
{
    setup();
    ROUNDTRIP(mp_undefined());
    ROUNDTRIP(mp_null());
    ROUNDTRIP(mp_boolean(true));
    ROUNDTRIP(mp_boolean(false));
    static const double nums[] = {0.0,
                                  -0.0,
                                  1.0,
                                  -1.0,
                                  1.5,
                                  3.5,
                                  127,
                                  128,
                                  255,
                                  256,
                                  65535,
                                  65536,
                                  -32,
                                  -33,
                                  -129,
                                  4294967295.0,
                                  4294967296.0,
                                  9007199254740992.0,
                                  -9007199254740993.0,
                                  9223372036854775807.0,
                                  -9223372036854775808.0,
                                  18446744073709551616.0,
                                  1e300,
                                  -1e-300,
                                  5e-324,
                                  0.1};
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++)
        ROUNDTRIP(mp_number(nums[i]));
    ROUNDTRIP(mp_number(NAN));
    ROUNDTRIP(mp_number(INFINITY));
    ROUNDTRIP(mp_number(-INFINITY));
}

static void
test_strings(void)
{
    setup();
    ROUNDTRIP(str(RA, ""));
    ROUNDTRIP(str(RA, "short string"));
    ROUNDTRIP(str(RA, "caf\xc3\xa9 \xc3\xbf"));         /* Latin-1, narrow */
    ROUNDTRIP(str(RA, "\xe2\x82\xac uro"));             /* BMP, wide */
    ROUNDTRIP(str(RA, "astral \xf0\x9f\x98\x80 pair")); /* surrogate pair */
    static const uint16_t lone_hi[] = {'a', 0xD800, 'b'};
    static const uint16_t lone_lo[] = {0xDC00};
    static const uint16_t tail_hi[] = {'x', 0xDBFF};
    static const uint16_t swapped[] = {0xDC00, 0xD800};
    ROUNDTRIP(str16(RA, lone_hi, 3));
    ROUNDTRIP(str16(RA, lone_lo, 1));
    ROUNDTRIP(str16(RA, tail_hi, 2));
    ROUNDTRIP(str16(RA, swapped, 2));
    /* Long strings cross msgpack's str8/str16/str32 boundaries. */
    static const size_t lens[] = {31, 32, 33, 255, 256, 65535, 65536, 100000};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        char *s = malloc(lens[i] + 1);
        for (size_t k = 0; k < lens[i]; k++)
            s[k] = (char)('a' + k % 26);
        s[lens[i]] = '\0';
        ROUNDTRIP(str(RA, s));
        free(s);
    }
    /* Strings that are not valid UTF-8 go as an ext with UTF-16LE. */
    mp_message *m;
    OK(mp_serialize(str16(RA, lone_lo, 1), NULL, 0, &m, NULL));
    const uint8_t *b;
    size_t len;
    mp_message_bytes(m, (const void **)&b, &len);
    CU_ASSERT_EQUAL(len, 5);
    if (len == 5) {
        CU_ASSERT_EQUAL(b[0], 1);    /* version */
        CU_ASSERT_EQUAL(b[1], 0xd5); /* fixext2 */
        CU_ASSERT_EQUAL(b[2], MPI_EXT_STRING16);
        CU_ASSERT_EQUAL(b[3], 0x00);
        CU_ASSERT_EQUAL(b[4], 0xDC);
    }
    mp_message_free(m);
}

static void
test_bigints(void)
{
    setup();
    mp_value v;
    static const int64_t ints[] = {0, 1, -1, 255, 256, -256, INT64_MAX, INT64_MIN};
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        OK(mp_bigint_from_int64(RA, ints[i], &v));
        ROUNDTRIP(v);
    }
    OK(mp_bigint_from_uint64(RA, UINT64_MAX, &v));
    ROUNDTRIP(v);
    static const char *big = "-123456789012345678901234567890123456789012345678901234567890";
    OK(mp_bigint_from_string(RA, big, strlen(big), &v));
    ROUNDTRIP(v);
}

/* ---- containers ------------------------------------------------------------------ */

static void
test_objects(void)
{
    setup();
    ROUNDTRIP(obj(RA));
    mp_value o = obj(RA);
    OK(mp_object_set_utf8(o, "id", mp_number(12345)));
    OK(mp_object_set_utf8(o, "name", str(RA, "short string")));
    OK(mp_object_set_utf8(o, "ok", mp_boolean(true)));
    OK(mp_object_set_utf8(o, "score", mp_number(3.5)));
    OK(mp_object_set_utf8(o, "10", mp_number(10))); /* index keys come first */
    OK(mp_object_set_utf8(o, "2", mp_number(2)));
    OK(mp_object_set_utf8(o, "", mp_null()));
    OK(mp_object_set_utf8(o, "caf\xc3\xa9", mp_undefined()));
    static const uint16_t lone[] = {'k', 0xD801};
    OK(mp_object_set(o, str16(RA, lone, 2), mp_number(-0.0)));
    mp_value inner = obj(RA);
    OK(mp_object_set_utf8(inner, "deep", str(RA, "x")));
    OK(mp_object_set_utf8(o, "inner", inner));
    ROUNDTRIP(o);
    /* A deleted key leaves a tombstone: not on the wire. */
    OK(mp_object_delete(o, str(RA, "ok")));
    ROUNDTRIP(o);
    /* Many keys: past the small-table size, with a hash index. */
    mp_value big = obj(RA);
    for (int i = 0; i < 100; i++) {
        char k[16];
        snprintf(k, sizeof k, "key%d", i);
        OK(mp_object_set_utf8(big, k, mp_number(i)));
    }
    OK(mp_object_delete(big, str(RA, "key7")));
    ROUNDTRIP(big);
    /* The clone's hash index works: lookups after a direct clone. */
    mp_value c;
    OK(mp_clone(big, RB, NULL, 0, &c, NULL));
    mp_value got;
    OK(mp_object_get_utf8(c, "key99", &got));
    CU_ASSERT_EQUAL(mp_number_value(got), 99);
    CU_ASSERT_EQUAL(mp_object_get_utf8(c, "key7", &got), MP_ENOTFOUND);
    OK(mp_object_set_utf8(c, "new", mp_null()));
    CU_ASSERT_EQUAL(mp_object_count(c), 100);
}

/* Decoded and cloned objects of up to 16 properties hold them in their own
 * block: objects on either side of that size come out equal, and keep
 * working when they grow past it, shrink and grow again; freeing them
 * gives back every byte. */
static void
test_objects_grow_after_decode(void)
{
    setup();
    /* a survivor, so that the collection frees the others one by one */
    mp_value keep = obj(RB);
    size_t kept_bytes = mp_realm_get_stats(RB).bytes;
    for (int n = 15; n <= 17; n++) {
        mp_value o = obj(RA);
        for (int i = 0; i < n; i++) {
            char k[16];
            snprintf(k, sizeof k, "k%d", i);
            OK(mp_object_set_utf8(o, k, mp_number(i)));
        }
        ROUNDTRIP(o);
        mp_message *m;
        mp_value copies[2];
        OK(mp_serialize(o, NULL, 0, &m, NULL));
        OK(mp_deserialize(m, RB, NULL, &copies[0], NULL));
        OK(mp_clone(o, RB, NULL, 0, &copies[1], NULL));
        for (int c = 0; c < 2; c++) {
            mp_value x = copies[c];
            OK(mp_object_delete(x, str(RB, "k3")));
            for (int i = n; i < n + 40; i++) {
                char k[16];
                snprintf(k, sizeof k, "k%d", i);
                OK(mp_object_set_utf8(x, k, mp_number(i)));
            }
            OK(mp_object_set_utf8(x, "k3", mp_number(-3))); /* now last */
            CU_ASSERT_EQUAL(mp_object_count(x), (size_t)n + 40);
            size_t cursor = 0, seen = 0;
            mp_value k, v;
            bool in_order = true;
            while (mp_object_next(x, &cursor, &k, &v)) {
                int want = seen < 3 ? (int)seen : seen + 1 < (size_t)n + 40 ? (int)seen + 1 : -3;
                char name[16];
                snprintf(name, sizeof name, "k%d", want < 0 ? 3 : want);
                if (!mp_string_equals_utf8(k, name, strlen(name)) || mp_number_value(v) != want) in_order = false;
                seen++;
            }
            CU_ASSERT(in_order);
            CU_ASSERT_EQUAL(seen, (size_t)n + 40);
        }
    }
    mp_realm_collect(RB, &keep, 1);
    CU_ASSERT_EQUAL(mp_realm_get_stats(RB).values, 1);
    CU_ASSERT_EQUAL(mp_realm_get_stats(RB).bytes, kept_bytes);
}

static void
test_arrays(void)
{
    setup();
    ROUNDTRIP(arr(RA, 0));
    mp_value a = arr(RA, 0);
    for (int i = 0; i < 20; i++)
        OK(mp_array_push(a, mp_number(i)));
    ROUNDTRIP(a);
    /* holes, and undefined distinct from a hole */
    mp_value h = arr(RA, 0);
    OK(mp_array_push(h, mp_number(1)));
    OK(mp_array_push(h, mp_undefined()));
    OK(mp_array_set(h, 4, mp_number(5)));
    ROUNDTRIP(h);
    /* sparse with a huge length */
    mp_value s = arr(RA, 4000000000u);
    OK(mp_array_set(s, 7, str(RA, "seven")));
    OK(mp_array_set(s, 3999999999u, mp_boolean(true)));
    ROUNDTRIP(s);
    ROUNDTRIP(arr(RA, 100)); /* all holes */
    /* named properties on dense and sparse arrays */
    OK(mp_object_set_utf8(a, "foo", str(RA, "bar")));
    ROUNDTRIP(a);
    OK(mp_object_set_utf8(s, "named", mp_null()));
    ROUNDTRIP(s);
    /* nested arrays */
    mp_value n = arr(RA, 0);
    mp_value n2 = arr(RA, 0);
    OK(mp_array_push(n2, str(RA, "a")));
    OK(mp_array_push(n, n2));
    OK(mp_array_push(n, arr(RA, 0)));
    ROUNDTRIP(n);
}

static void
test_dates_regexps_boxed(void)
{
    setup();
    mp_value v;
    OK(mp_date_new(RA, 1700000000123.0, &v));
    ROUNDTRIP(v);
    OK(mp_date_new(RA, NAN, &v));
    ROUNDTRIP(v);
    OK(mp_date_new(RA, -8.64e15, &v));
    ROUNDTRIP(v);
    OK(mp_regexp_new(RA, str(RA, "a+b*(c|d)"), "gimsuy", &v));
    ROUNDTRIP(v);
    OK(mp_regexp_new(RA, str(RA, ""), "dv", &v));
    ROUNDTRIP(v);
    OK(mp_regexp_new(RA, str(RA, "x"), "", &v));
    ROUNDTRIP(v);
    OK(mp_boxed_new(RA, mp_boolean(true), &v));
    ROUNDTRIP(v);
    OK(mp_boxed_new(RA, mp_boolean(false), &v));
    ROUNDTRIP(v);
    OK(mp_boxed_new(RA, mp_number(-0.0), &v));
    ROUNDTRIP(v);
    OK(mp_boxed_new(RA, mp_number(NAN), &v));
    ROUNDTRIP(v);
    OK(mp_boxed_new(RA, str(RA, "boxed"), &v));
    ROUNDTRIP(v);
    static const uint16_t lone[] = {0xD800};
    OK(mp_boxed_new(RA, str16(RA, lone, 1), &v));
    ROUNDTRIP(v);
    mp_value b;
    OK(mp_bigint_from_int64(RA, -42, &b));
    OK(mp_boxed_new(RA, b, &v));
    ROUNDTRIP(v);
}

static void
test_maps_sets(void)
{
    setup();
    mp_value m, s;
    OK(mp_map_new(RA, &m));
    ROUNDTRIP(m);
    OK(mp_map_set(m, str(RA, "k"), mp_number(1)));
    OK(mp_map_set(m, mp_number(NAN), str(RA, "nan")));
    OK(mp_map_set(m, mp_number(-0.0), str(RA, "zero")));
    OK(mp_map_set(m, mp_undefined(), mp_null()));
    OK(mp_map_set(m, mp_boolean(true), mp_boolean(false)));
    mp_value key = obj(RA);
    OK(mp_map_set(m, key, key)); /* an object key, shared with its value */
    mp_value bk;
    OK(mp_bigint_from_int64(RA, 7, &bk));
    OK(mp_map_set(m, bk, mp_number(7)));
    OK(mp_map_set(m, m, arr(RA, 0))); /* the map as its own key */
    OK(mp_map_delete(m, str(RA, "k")));
    ROUNDTRIP(m);
    OK(mp_set_new(RA, &s));
    ROUNDTRIP(s);
    for (int i = 0; i < 50; i++)
        OK(mp_set_add(s, mp_number(i * 1.5)));
    OK(mp_set_add(s, str(RA, "x")));
    OK(mp_set_add(s, s));
    OK(mp_set_add(s, m));
    ROUNDTRIP(s);
    /* The clones' hash indexes work: lookups, by content and by identity. */
    for (int direct = 0; direct < 2; direct++) {
        mp_value cm, cs, got;
        if (direct) {
            OK(mp_clone(m, RB, NULL, 0, &cm, NULL));
            OK(mp_clone(s, RB, NULL, 0, &cs, NULL));
        } else {
            mp_message *msg;
            OK(mp_serialize(m, NULL, 0, &msg, NULL));
            OK(mp_deserialize(msg, RB, NULL, &cm, NULL));
            OK(mp_serialize(s, NULL, 0, &msg, NULL));
            OK(mp_deserialize(msg, RB, NULL, &cs, NULL));
        }
        OK(mp_map_get(cm, mp_number(NAN), &got));
        CU_ASSERT_TRUE(mp_string_equals_utf8(got, "nan", 3));
        OK(mp_map_get(cm, mp_number(0), &got));
        CU_ASSERT_TRUE(mp_string_equals_utf8(got, "zero", 4));
        CU_ASSERT_TRUE(mp_map_has(cm, mp_undefined()));
        CU_ASSERT_TRUE(mp_map_has(cm, cm));
        mp_value b7;
        OK(mp_bigint_from_int64(RB, 7, &b7));
        CU_ASSERT_TRUE(mp_map_has(cm, b7));
        CU_ASSERT_FALSE(mp_map_has(cm, mpt_str(RB, "k")));
        CU_ASSERT_TRUE(mp_set_has(cs, mp_number(73.5)));
        CU_ASSERT_TRUE(mp_set_has(cs, mpt_str(RB, "x")));
        CU_ASSERT_TRUE(mp_set_has(cs, cs));
        CU_ASSERT_FALSE(mp_set_has(cs, mp_number(1)));
        OK(mp_map_set(cm, mpt_str(RB, "new"), mp_null()));
        CU_ASSERT_EQUAL(mp_map_size(cm), mp_map_size(m) + 1);
    }
}

static void
test_errors(void)
{
    setup();
    for (int t = 0; t < MP_ERR_TYPE_COUNT_; t++) {
        mp_value e;
        OK(mp_error_new(RA, (mp_error_type)t, str(RA, "boom"), &e));
        ROUNDTRIP(e);
        OK(mp_error_set_stack(e, str(RA, "at f (x.js:1:1)")));
        ROUNDTRIP(e);
    }
    mp_value e;
    OK(mp_error_new(RA, MP_ERR_ERROR, mp_undefined(), &e));
    ROUNDTRIP(e);
    OK(mp_error_set_cause(e, mp_undefined())); /* a cause that is undefined is still a cause */
    ROUNDTRIP(e);
    OK(mp_error_set_cause(e, e)); /* cause is itself */
    ROUNDTRIP(e);
    mp_value e2, o = obj(RA);
    OK(mp_error_new(RA, MP_ERR_TYPE, str(RA, "outer"), &e2));
    OK(mp_object_set_utf8(o, "err", e2));
    OK(mp_error_set_cause(e2, o));
    ROUNDTRIP(o);
}

static void
test_buffers_and_views(void)
{
    setup();
    mp_value ab, v;
    OK(mp_arraybuffer_new(RA, 0, &ab));
    ROUNDTRIP(ab);
    OK(mp_arraybuffer_new(RA, 1000, &ab));
    void *data;
    size_t len;
    OK(mp_arraybuffer_data(ab, &data, &len));
    for (size_t i = 0; i < len; i++)
        ((uint8_t *)data)[i] = (uint8_t)(i * 7);
    ROUNDTRIP(ab);
    mp_value rz;
    OK(mp_arraybuffer_new_resizable(RA, 16, 64, &rz));
    ROUNDTRIP(rz);
    /* every view type, with an offset, over one buffer: one buffer on the
     * other side */
    mp_value list = arr(RA, 0);
    for (int t = 0; t < MP_VIEW_TYPE_COUNT_; t++) {
        OK(mp_typedarray_new((mp_view_type)t, ab, 8, 4, &v));
        OK(mp_array_push(list, v));
    }
    OK(mp_dataview_new(ab, 3, 10, &v));
    OK(mp_array_push(list, v));
    OK(mp_typedarray_new(MP_UINT8, ab, 0, MP_LENGTH_AUTO, &v));
    OK(mp_array_push(list, v));
    OK(mp_array_push(list, ab));
    OK(mp_typedarray_new(MP_FLOAT64, rz, 8, MP_LENGTH_AUTO, &v)); /* length-tracking */
    OK(mp_array_push(list, v));
    OK(mp_dataview_new(rz, 0, 4, &v));
    OK(mp_array_push(list, v));
    ROUNDTRIP(list);
    /* A view alone: the buffer comes with it. */
    OK(mp_typedarray_new(MP_INT16, ab, 2, 3, &v));
    ROUNDTRIP(v);
    mp_value out;
    mp_message *m;
    OK(mp_serialize(v, NULL, 0, &m, NULL));
    OK(mp_deserialize(m, RB, NULL, &out, NULL));
    CU_ASSERT_EQUAL(mp_kind_of(out), MP_TYPEDARRAY);
    CU_ASSERT_EQUAL(mp_view_length(out), 3);
    CU_ASSERT_EQUAL(mp_arraybuffer_byte_length(mp_view_buffer(out)), 1000);
    /* SharedArrayBuffer, plain and growable, with views */
    mp_value sab, gsab;
    OK(mp_sab_new(RA, 64, &sab));
    OK(mp_sab_new_growable(RA, 8, 128, &gsab));
    mp_value l2 = arr(RA, 0);
    OK(mp_array_push(l2, sab));
    OK(mp_array_push(l2, gsab));
    OK(mp_typedarray_new(MP_INT32, sab, 4, 2, &v));
    OK(mp_array_push(l2, v));
    OK(mp_typedarray_new(MP_UINT8, gsab, 0, MP_LENGTH_AUTO, &v));
    OK(mp_array_push(l2, v));
    OK(mp_array_push(l2, sab));
    ROUNDTRIP(l2);
}

static void
test_identity(void)
{
    setup();
    /* shared references and cycles */
    mp_value root = obj(RA), shared = obj(RA), list = arr(RA, 0);
    OK(mp_object_set_utf8(shared, "v", mp_number(1)));
    OK(mp_object_set_utf8(root, "a", shared));
    OK(mp_object_set_utf8(root, "b", shared));
    OK(mp_object_set_utf8(root, "self", root));
    OK(mp_array_push(list, root));
    OK(mp_array_push(list, list));
    OK(mp_array_push(list, shared));
    OK(mp_object_set_utf8(root, "list", list));
    ROUNDTRIP(root);
    /* strings are values: repeated, they are not back-references */
    mp_value s = str(RA, "same"), a = arr(RA, 0);
    OK(mp_array_push(a, s));
    OK(mp_array_push(a, s));
    ROUNDTRIP(a);
    /* Back-references really are shared on the other side. */
    mp_message *m;
    mp_value out, x, y;
    OK(mp_serialize(root, NULL, 0, &m, NULL));
    OK(mp_deserialize(m, RB, NULL, &out, NULL));
    OK(mp_object_get_utf8(out, "a", &x));
    OK(mp_object_get_utf8(out, "b", &y));
    CU_ASSERT_TRUE(mp_same_value(x, y));
    OK(mp_object_get_utf8(out, "self", &x));
    CU_ASSERT_TRUE(mp_same_value(x, out));
    /* W4-like: 10,000 nodes with random cross references */
    enum { N = 10000 };
    mp_value nodes = arr(RA, 0);
    mp_value *ns = malloc(N * sizeof *ns);
    for (int i = 0; i < N; i++) {
        ns[i] = obj(RA);
        OK(mp_object_set_utf8(ns[i], "id", mp_number(i)));
        OK(mp_array_push(nodes, ns[i]));
    }
    uint32_t seed = 4;
    for (int i = 0; i < N; i++) {
        seed = seed * 1103515245u + 12345u;
        OK(mp_object_set_utf8(ns[i], "a", ns[(seed >> 8) % N]));
        seed = seed * 1103515245u + 12345u;
        OK(mp_object_set_utf8(ns[i], "b", ns[(seed >> 8) % N]));
    }
    free(ns);
    ROUNDTRIP(nodes);
}

/* Every kind in one graph, in both directions. */
static void
test_everything_together(void)
{
    setup();
    mp_value root = obj(RA), v;
    OK(mp_object_set_utf8(root, "u", mp_undefined()));
    OK(mp_bigint_from_int64(RA, 1, &v));
    OK(mp_object_set_utf8(root, "big", v));
    OK(mp_date_new(RA, 0, &v));
    OK(mp_object_set_utf8(root, "date", v));
    OK(mp_regexp_new(RA, str(RA, "^x$"), "g", &v));
    OK(mp_object_set_utf8(root, "re", v));
    OK(mp_map_new(RA, &v));
    OK(mp_map_set(v, root, root));
    OK(mp_object_set_utf8(root, "map", v));
    OK(mp_set_new(RA, &v));
    OK(mp_set_add(v, root));
    OK(mp_object_set_utf8(root, "set", v));
    OK(mp_error_new(RA, MP_ERR_RANGE, str(RA, "r"), &v));
    OK(mp_error_set_cause(v, root));
    OK(mp_object_set_utf8(root, "err", v));
    OK(mp_boxed_new(RA, str(RA, "b"), &v));
    OK(mp_object_set_utf8(root, "boxed", v));
    mp_value ab;
    OK(mp_arraybuffer_new(RA, 8, &ab));
    OK(mp_typedarray_new(MP_UINT32, ab, 0, 2, &v));
    OK(mp_object_set_utf8(root, "view", v));
    OK(mp_object_set_utf8(root, "ab", ab));
    OK(mp_sab_new(RA, 8, &v));
    OK(mp_object_set_utf8(root, "sab", v));
    ROUNDTRIP(root);
    /* into the same realm: a distinct graph, equal, sharing only strings */
    mp_value same;
    OK(mp_clone(root, RA, NULL, 0, &same, NULL));
    check_equal(root, same, "same realm", __LINE__);
    CU_ASSERT_FALSE(mp_same_value(root, same));
    mp_value a1, a2;
    OK(mp_object_get_utf8(root, "ab", &a1));
    OK(mp_object_get_utf8(same, "ab", &a2));
    CU_ASSERT_FALSE(mp_same_value(a1, a2));
    /* and with a transfer inside one realm */
    mp_value moved;
    OK(mp_clone(root, RA, &ab, 1, &moved, NULL));
    CU_ASSERT_TRUE(mp_arraybuffer_is_detached(ab));
    OK(mp_object_get_utf8(moved, "ab", &a2));
    CU_ASSERT_EQUAL(mp_arraybuffer_byte_length(a2), 8);
    mp_realm_collect(RA, &moved, 1);
    CU_ASSERT_EQUAL(mp_arraybuffer_byte_length(a2), 8);
}

/* ---- plain data is plain msgpack ------------------------------------------------------------- */

static void
test_plain_msgpack_oracle(void)
{
    setup();
    /* W1 plus a little more */
    mp_value o = obj(RA), tags = arr(RA, 0), nested = obj(RA);
    OK(mp_object_set_utf8(o, "id", mp_number(12345)));
    OK(mp_object_set_utf8(o, "name", str(RA, "short string")));
    OK(mp_object_set_utf8(o, "ok", mp_boolean(true)));
    OK(mp_object_set_utf8(o, "score", mp_number(3.5)));
    OK(mp_array_push(tags, str(RA, "a")));
    OK(mp_array_push(tags, str(RA, "b")));
    OK(mp_array_push(tags, str(RA, "c")));
    OK(mp_object_set_utf8(o, "tags", tags));
    OK(mp_object_set_utf8(nested, "caf\xc3\xa9", mp_null()));
    OK(mp_object_set_utf8(nested, "neg", mp_number(-70000)));
    OK(mp_object_set_utf8(nested, "f", mp_number(-0.0)));
    OK(mp_object_set_utf8(nested, "no", mp_boolean(false)));
    OK(mp_object_set_utf8(o, "nested", nested));
    mp_message *m;
    OK(mp_serialize(o, NULL, 0, &m, NULL));
    const void *bytes;
    size_t len;
    mp_message_bytes(m, &bytes, &len);

    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    CU_ASSERT_EQUAL_FATAL(msgpack_unpack_next(&u, bytes, len, &off), MSGPACK_UNPACK_SUCCESS);
    CU_ASSERT_EQUAL(u.data.type, MSGPACK_OBJECT_POSITIVE_INTEGER);
    CU_ASSERT_EQUAL(u.data.via.u64, MP_FORMAT_VERSION);
    CU_ASSERT_EQUAL_FATAL(msgpack_unpack_next(&u, bytes, len, &off), MSGPACK_UNPACK_SUCCESS);
    CU_ASSERT_EQUAL(off, len);
    msgpack_object r = u.data;
    CU_ASSERT_EQUAL_FATAL(r.type, MSGPACK_OBJECT_MAP);
    CU_ASSERT_EQUAL_FATAL(r.via.map.size, 6);
    msgpack_object_kv *kv = r.via.map.ptr;
#define KEY(i, s)                                                                                                      \
    CU_ASSERT(kv[i].key.type == MSGPACK_OBJECT_STR && kv[i].key.via.str.size == strlen(s) &&                           \
              memcmp(kv[i].key.via.str.ptr, s, strlen(s)) == 0)
    KEY(0, "id");
    CU_ASSERT(kv[0].val.type == MSGPACK_OBJECT_POSITIVE_INTEGER && kv[0].val.via.u64 == 12345);
    KEY(1, "name");
    CU_ASSERT(kv[1].val.type == MSGPACK_OBJECT_STR && kv[1].val.via.str.size == 12 &&
              memcmp(kv[1].val.via.str.ptr, "short string", 12) == 0);
    KEY(2, "ok");
    CU_ASSERT(kv[2].val.type == MSGPACK_OBJECT_BOOLEAN && kv[2].val.via.boolean);
    KEY(3, "score");
    CU_ASSERT(kv[3].val.type == MSGPACK_OBJECT_FLOAT64 && kv[3].val.via.f64 == 3.5);
    KEY(4, "tags");
    CU_ASSERT_FATAL(kv[4].val.type == MSGPACK_OBJECT_ARRAY && kv[4].val.via.array.size == 3);
    for (int i = 0; i < 3; i++) {
        msgpack_object t = kv[4].val.via.array.ptr[i];
        CU_ASSERT(t.type == MSGPACK_OBJECT_STR && t.via.str.size == 1 && t.via.str.ptr[0] == "abc"[i]);
    }
    KEY(5, "nested");
    msgpack_object n = kv[5].val;
    CU_ASSERT_FATAL(n.type == MSGPACK_OBJECT_MAP && n.via.map.size == 4);
    kv = n.via.map.ptr;
    KEY(0, "caf\xc3\xa9");
    CU_ASSERT(kv[0].val.type == MSGPACK_OBJECT_NIL);
    KEY(1, "neg");
    CU_ASSERT(kv[1].val.type == MSGPACK_OBJECT_NEGATIVE_INTEGER && kv[1].val.via.i64 == -70000);
    KEY(2, "f");
    CU_ASSERT(kv[2].val.type == MSGPACK_OBJECT_FLOAT64 && kv[2].val.via.f64 == 0 && signbit(kv[2].val.via.f64));
    KEY(3, "no");
    CU_ASSERT(kv[3].val.type == MSGPACK_OBJECT_BOOLEAN && !kv[3].val.via.boolean);
#undef KEY
    msgpack_unpacked_destroy(&u);
    mp_message_free(m);

    /* And the other way: what msgpack-c packs, msgport reads. */
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_uint8(&pk, 1);
    msgpack_pack_map(&pk, 3);
    msgpack_pack_str_with_body(&pk, "a", 1);
    msgpack_pack_float(&pk, 0.5f);
    msgpack_pack_str_with_body(&pk, "b", 1);
    msgpack_pack_array(&pk, 2);
    msgpack_pack_uint64(&pk, 18446744073709551615ull);
    msgpack_pack_int64(&pk, INT64_MIN);
    msgpack_pack_str_with_body(&pk, "c", 1);
    msgpack_pack_bin_with_body(&pk, "xyz", 3);
    OK(mp_message_from_bytes(sb.data, sb.size, NULL, &m));
    msgpack_sbuffer_destroy(&sb);
    mp_value out, x;
    OK(mp_deserialize(m, RB, NULL, &out, NULL));
    OK(mp_object_get_utf8(out, "a", &x));
    CU_ASSERT_EQUAL(mp_number_value(x), 0.5);
    OK(mp_object_get_utf8(out, "b", &x));
    CU_ASSERT_EQUAL(mp_array_length(x), 2);
    mp_value e0;
    OK(mp_array_get(x, 0, &e0));
    CU_ASSERT_EQUAL(mp_number_value(e0), 18446744073709551615.0);
    OK(mp_object_get_utf8(out, "c", &x));
    CU_ASSERT_EQUAL(mp_kind_of(x), MP_ARRAYBUFFER);
    CU_ASSERT_EQUAL(mp_arraybuffer_byte_length(x), 3);
}

/* The example in codec/FORMAT.md, byte for byte: pins the format. */
static void
test_format_example(void)
{
    setup();
    mp_value o = obj(RA), tags = arr(RA, 0), big;
    OK(mp_object_set_utf8(o, "id", mp_number(12345)));
    OK(mp_array_push(tags, str(RA, "a")));
    OK(mp_object_set_utf8(o, "tags", tags));
    OK(mp_bigint_from_int64(RA, 1, &big));
    OK(mp_object_set_utf8(o, "big", big));
    OK(mp_object_set_utf8(o, "self", o));
    static const uint8_t want[] = {0x01, 0x84, 0xa2, 0x69, 0x64, 0xcd, 0x30, 0x39, 0xa4, 0x74, 0x61,
                                   0x67, 0x73, 0x91, 0xa1, 0x61, 0xa3, 0x62, 0x69, 0x67, 0xd5, 0x03,
                                   0x00, 0x01, 0xa4, 0x73, 0x65, 0x6c, 0x66, 0xd4, 0x10, 0x00};
    mp_message *m;
    OK(mp_serialize(o, NULL, 0, &m, NULL));
    const void *b;
    size_t len;
    mp_message_bytes(m, &b, &len);
    CU_ASSERT_EQUAL(len, sizeof want);
    if (len == sizeof want) CU_ASSERT(memcmp(b, want, len) == 0);
    mp_message_free(m);
    ROUNDTRIP(o);
}

/* ---- deep graphs, no recursion --------------------------------------------------------------- */

typedef struct chain_job {
    mp_value root;
    mp_status enc, dec, clone;
    bool eq_bytes, eq_clone;
} chain_job;

/* Runs on a thread with a small stack: nothing recurses on data depth. */
static void *
chain_thread(void *arg)
{
    chain_job *j = arg;
    mp_message *m = NULL;
    mp_value out = mp_undefined(), c = mp_undefined();
    j->enc = mp_serialize(j->root, NULL, 0, &m, NULL);
    if (j->enc == MP_OK) j->dec = mp_deserialize(m, RB, NULL, &out, NULL);
    j->clone = mp_clone(j->root, RB, NULL, 0, &c, NULL);
    j->eq_bytes = mp_graph_equal(j->root, out, NULL);
    j->eq_clone = mp_graph_equal(j->root, c, NULL);
    return NULL;
}

static void
test_million_deep_chain(void)
{
    setup();
    enum { DEPTH = 1000000 };
    mp_value root = obj(RA), cur = root;
    for (int i = 0; i < DEPTH; i++) {
        mp_value next = (i % 2) ? obj(RA) : arr(RA, 0);
        if (mp_kind_of(cur) == MP_OBJECT) {
            OK(mp_object_set_utf8(cur, "next", next));
        } else {
            OK(mp_array_push(cur, next));
        }
        cur = next;
    }
    /* A 256 KiB thread stack, far below the default 8 MiB. */
    chain_job j = {root, MP_EINVAL, MP_EINVAL, MP_EINVAL, false, false};
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    pthread_t t;
    CU_ASSERT_EQUAL_FATAL(pthread_create(&t, &attr, chain_thread, &j), 0);
    pthread_join(t, NULL);
    pthread_attr_destroy(&attr);
    CU_ASSERT_EQUAL(j.enc, MP_OK);
    CU_ASSERT_EQUAL(j.dec, MP_OK);
    CU_ASSERT_EQUAL(j.clone, MP_OK);
    CU_ASSERT_TRUE(j.eq_bytes);
    CU_ASSERT_TRUE(j.eq_clone);
}

/* ---- messages ---------------------------------------------------------------------------------- */

static void
test_message_from_bytes(void)
{
    setup();
    mp_value o = obj(RA);
    OK(mp_object_set_utf8(o, "k", str(RA, "v")));
    mp_message *m, *m2;
    OK(mp_serialize(o, NULL, 0, &m, NULL));
    const void *b;
    size_t len;
    mp_message_bytes(m, &b, &len);
    OK(mp_message_from_bytes(b, len, NULL, &m2));
    mp_message_free(m);
    mp_message_info info = mp_message_get_info(m2);
    CU_ASSERT_EQUAL(info.moved_stores + info.shared_stores + info.host_payloads, 0);
    mp_value out;
    OK(mp_deserialize(m2, RB, NULL, &out, NULL));
    check_equal(o, out, "from bytes", __LINE__);
    CU_ASSERT_EQUAL(mp_message_from_bytes(NULL, 3, NULL, &m2), MP_EINVAL);
    OK(mp_message_from_bytes(NULL, 0, NULL, &m2));
    mp_error_info err;
    CU_ASSERT_EQUAL(mp_deserialize(m2, RB, NULL, &out, &err), MP_EDECODE);
    mp_message_free(NULL);
}

/* Messages past the huge-page threshold (2 MiB): a copied 6 MiB buffer
 * and a 3 MiB one beside it (the message's bytes grow to 16 MiB, advised
 * for huge pages), through bytes and through mp_message_from_bytes;
 * every byte arrives, the source stays attached. */
static void
test_large_buffers(void)
{
    setup();
    const size_t big = (size_t)6 << 20, mid = (size_t)3 << 20;
    mp_value list = arr(RA, 0), a, b;
    OK(mp_arraybuffer_new(RA, big, &a));
    OK(mp_arraybuffer_new(RA, mid, &b));
    void *da, *db;
    size_t la, lb;
    OK(mp_arraybuffer_data(a, &da, &la));
    OK(mp_arraybuffer_data(b, &db, &lb));
    for (size_t i = 0; i < la; i++)
        ((uint8_t *)da)[i] = (uint8_t)(i * 131 + (i >> 12));
    for (size_t i = 0; i < lb; i++)
        ((uint8_t *)db)[i] = (uint8_t)(i * 7 + 1);
    OK(mp_array_push(list, a));
    OK(mp_array_push(list, b));
    OK(mp_array_push(list, a));
    ROUNDTRIP(list);
    CU_ASSERT_EQUAL(mp_arraybuffer_byte_length(a), big);

    mp_message *m, *m2;
    OK(mp_serialize(list, NULL, 0, &m, NULL));
    const void *bytes;
    size_t len;
    mp_message_bytes(m, &bytes, &len);
    CU_ASSERT(len > big + mid);
    CU_ASSERT(len < big + mid + 64);
    OK(mp_message_from_bytes(bytes, len, NULL, &m2));
    mp_message_free(m);
    mp_value out;
    OK(mp_deserialize(m2, RB, NULL, &out, NULL));
    check_equal(list, out, "from bytes", __LINE__);
    mp_value oa, ob;
    OK(mp_array_get(out, 0, &oa));
    OK(mp_array_get(out, 2, &ob));
    CU_ASSERT_TRUE(mp_same_value(oa, ob)); /* one buffer, referenced twice */
    void *dout;
    size_t lout;
    OK(mp_arraybuffer_data(oa, &dout, &lout));
    CU_ASSERT_EQUAL(lout, big);
    CU_ASSERT(dout != da);
    if (lout == big) CU_ASSERT(memcmp(dout, da, big) == 0);
}

/* Allocation failures anywhere in serialize, deserialize and clone leave
 * no leak and report MP_ENOMEM. */
static void
test_out_of_memory(void)
{
    mpt_alloc a;
    mpt_alloc_init(&a);
    mp_realm *ra, *rb;
    OK(mp_realm_new(&a.alc, &ra));
    OK(mp_realm_new(&a.alc, &rb));
    mp_value root = obj(ra), list = arr(ra, 0), m;
    /* Big enough to need several arena chunks, each a failure point. */
    for (int i = 0; i < 2000; i++) {
        mp_value o = obj(ra);
        OK(mp_object_set_utf8(o, "n", mp_number(i)));
        OK(mp_object_set_utf8(o, "s", mpt_str(ra, "some text here")));
        OK(mp_array_push(list, o));
    }
    OK(mp_map_new(ra, &m));
    OK(mp_map_set(m, mpt_str(ra, "x"), list));
    OK(mp_object_set_utf8(root, "list", list));
    OK(mp_object_set_utf8(root, "map", m));
    int failures = 0;
    for (long long n = 1; n < 100000; n++) {
        atomic_store(&a.fail_at, atomic_load(&a.allocations) + n);
        mp_message *msg = NULL;
        mp_status st = mp_serialize(root, NULL, 0, &msg, NULL);
        if (st == MP_OK) {
            mp_value out;
            st = mp_deserialize(msg, rb, NULL, &out, NULL);
        }
        if (st == MP_OK) {
            mp_value out;
            st = mp_clone(root, rb, NULL, 0, &out, NULL);
        }
        atomic_store(&a.fail_at, 0);
        mp_realm_collect(rb, NULL, 0);
        if (st == MP_OK) break;
        CU_ASSERT_EQUAL(st, MP_ENOMEM);
        failures++;
    }
    CU_ASSERT(failures > 10);
    mp_realm_free(ra);
    mp_realm_free(rb);
    CU_ASSERT_EQUAL(atomic_load(&a.live_bytes), 0);
}

int
main(void)
{
    static const mpt_test tests[] = {
        {"primitives", test_primitives},
        {"strings", test_strings},
        {"bigints", test_bigints},
        {"objects", test_objects},
        {"decoded and cloned objects grow past their inline properties", test_objects_grow_after_decode},
        {"arrays", test_arrays},
        {"dates, regexps, boxed primitives", test_dates_regexps_boxed},
        {"maps and sets", test_maps_sets},
        {"errors", test_errors},
        {"buffers and views", test_buffers_and_views},
        {"identity topology", test_identity},
        {"every kind together", test_everything_together},
        {"plain data is plain msgpack (msgpack_unpack_next oracle)", test_plain_msgpack_oracle},
        {"FORMAT.md example, byte for byte", test_format_example},
        {"1,000,000-deep chain on a 256 KiB thread stack", test_million_deep_chain},
        {"message from bytes", test_message_from_bytes},
        {"buffers past the huge-page threshold, through bytes", test_large_buffers},
        {"out of memory", test_out_of_memory},
        {NULL, NULL},
    };
    int rc = mpt_run("codec_roundtrip", tests);
    mp_realm_free(RA);
    mp_realm_free(RB);
    return rc;
}
