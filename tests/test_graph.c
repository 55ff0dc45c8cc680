/* mp_graph_equal: equal graphs in two realms, each kind of difference, the
 * identity topology (sharing, cycles), the reported path, deep graphs and
 * running out of memory. */
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#define OK(call) CU_ASSERT_EQUAL_FATAL((call), MP_OK)

static mp_realm *RA, *RB;

/* Asserts the graphs differ, and where and how. */
#define CHECK_DIFFER(a, b, want_path, want_detail)                                                                     \
    do {                                                                                                               \
        mp_error_info why_;                                                                                            \
        memset(&why_, 0x55, sizeof why_);                                                                              \
        CU_ASSERT_FALSE(mp_graph_equal((a), (b), &why_));                                                              \
        CU_ASSERT_EQUAL(why_.code, MP_OK);                                                                             \
        if (strcmp(why_.path, (want_path)) || strcmp(why_.detail, (want_detail)))                                      \
            fprintf(stderr, "\n  %s:%d\n  want: %s | %s\n  got:  %s | %s\n", __FILE__, __LINE__, (want_path),          \
                    (want_detail), why_.path, why_.detail);                                                            \
        CU_ASSERT_STRING_EQUAL(why_.path, (want_path));                                                                \
        CU_ASSERT_STRING_EQUAL(why_.detail, (want_detail));                                                            \
        CU_ASSERT_FALSE(mp_graph_equal((a), (b), NULL));                                                               \
    } while (0)

#define CHECK_EQUAL(a, b)                                                                                              \
    do {                                                                                                               \
        mp_error_info why_;                                                                                            \
        why_.path[0] = why_.detail[0] = '\0';                                                                          \
        bool eq_ = mp_graph_equal((a), (b), &why_);                                                                    \
        if (!eq_)                                                                                                      \
            fprintf(stderr, "\n  %s:%d unexpected difference: %s | %s\n", __FILE__, __LINE__, why_.path, why_.detail); \
        CU_ASSERT_TRUE(eq_);                                                                                           \
    } while (0)

static mp_value
obj(mp_realm *r)
{
    mp_value v;
    OK(mp_object_new(r, &v));
    return v;
}

static mp_value
arr(mp_realm *r, uint64_t len)
{
    mp_value v;
    OK(mp_array_new(r, len, &v));
    return v;
}

static void
set(mp_value o, const char *k, mp_value v)
{
    OK(mp_object_set_utf8(o, k, v));
}

/* One graph with every kind, built the same way in any realm. The shared
 * SharedArrayBuffer store and the host pointer come from outside. */
static mp_value
build_everything(mp_realm *r, mp_value sab_source)
{
    mp_value root = obj(r), v;
    set(root, "u", mp_undefined());
    set(root, "n", mp_null());
    set(root, "t", mp_boolean(true));
    set(root, "negzero", mp_number(-0.0));
    set(root, "nan", mp_number(NAN));
    set(root, "inf", mp_number(-INFINITY));
    OK(mp_bigint_from_string(r, "-123456789012345678901234567890", 30, &v));
    set(root, "big", v);
    set(root, "str", mpt_str(r, "h\xc3\xa9llo"));
    static const uint16_t lone[] = {0xD800, 'x'};
    OK(mp_string_from_utf16(r, lone, 2, &v));
    set(root, "lone", v);

    mp_value a = arr(r, 0);
    OK(mp_array_push(a, mp_number(1)));
    OK(mp_array_set(a, 3, mp_number(4)));
    set(a, "named", mpt_str(r, "prop"));
    set(root, "arr", a);
    mp_value sparse = arr(r, MP_ARRAY_MAX_LENGTH);
    OK(mp_array_set(sparse, 4000000000u, mpt_str(r, "far")));
    set(root, "sparse", sparse);

    OK(mp_date_new(r, 1717243200000.0, &v));
    set(root, "date", v);
    OK(mp_regexp_new(r, mpt_str(r, "a+b"), "gi", &v));
    set(root, "re", v);

    mp_value shared = obj(r);
    set(shared, "id", mp_number(7));
    mp_value m, s;
    OK(mp_map_new(r, &m));
    OK(mp_map_set(m, shared, mpt_str(r, "object key")));
    OK(mp_map_set(m, mpt_str(r, "k"), shared));
    set(root, "map", m);
    OK(mp_set_new(r, &s));
    OK(mp_set_add(s, mp_number(1)));
    OK(mp_set_add(s, shared));
    set(root, "set", s);

    mp_value err;
    OK(mp_error_new(r, MP_ERR_RANGE, mpt_str(r, "bad"), &err));
    OK(mp_error_set_stack(err, mpt_str(r, "RangeError: bad\n    at f")));
    OK(mp_error_set_cause(err, err));
    set(root, "err", err);

    OK(mp_boxed_new(r, mp_number(3), &v));
    set(root, "num_obj", v);
    OK(mp_boxed_new(r, mpt_str(r, "s"), &v));
    set(root, "str_obj", v);

    mp_value ab, ta, dv, dab, dview;
    OK(mp_arraybuffer_new(r, 8, &ab));
    void *data;
    size_t len;
    OK(mp_arraybuffer_data(ab, &data, &len));
    memcpy(data, "abcdefgh", 8);
    OK(mp_typedarray_new(MP_UINT16, ab, 2, 2, &ta));
    OK(mp_dataview_new(ab, 1, MP_LENGTH_AUTO, &dv));
    set(root, "ab", ab);
    set(root, "u16", ta);
    set(root, "dv", dv);
    OK(mp_arraybuffer_new(r, 4, &dab));
    OK(mp_typedarray_new(MP_UINT8, dab, 0, 4, &dview));
    OK(mp_arraybuffer_detach(dab));
    set(root, "detached_view", dview);
    mp_value rab;
    OK(mp_arraybuffer_new_resizable(r, 2, 16, &rab));
    set(root, "resizable", rab);

    OK(mp_sab_share(sab_source, r, &v));
    set(root, "sab", v);
    OK(mp_host_new(r, 7, (void *)&RA, &v));
    set(root, "host", v);

    set(root, "shared_again", shared);
    set(root, "self", root);
    return root;
}

static void
test_identical_graphs_in_two_realms(void)
{
    mp_value sab;
    OK(mp_sab_new(RA, 16, &sab));
    mp_value a = build_everything(RA, sab), b = build_everything(RB, sab);
    CHECK_EQUAL(a, b);
    CHECK_EQUAL(b, a);
    CHECK_EQUAL(a, a);
    /* Untouched when equal. */
    mp_error_info why;
    memset(&why, 0x5a, sizeof why);
    CU_ASSERT_TRUE(mp_graph_equal(a, b, &why));
    CU_ASSERT_EQUAL((unsigned char)why.path[0], 0x5a);

    /* A SharedArrayBuffer on another store with the same bytes differs. */
    mp_value other;
    OK(mp_sab_new(RA, 16, &other));
    mp_value c = build_everything(RB, other);
    CHECK_DIFFER(a, c, "root.sab", "SharedArrayBuffers on different shared stores");
}

static void
test_primitives(void)
{
    CHECK_EQUAL(mp_number(NAN), mp_number(-NAN));
    CHECK_EQUAL(mp_number(0.0), mp_number(0.0));
    CHECK_EQUAL(mp_undefined(), mp_undefined());
    CHECK_DIFFER(mp_number(-0.0), mp_number(0.0), "root", "number -0 vs 0");
    CHECK_DIFFER(mp_number(1), mp_number(2), "root", "number 1 vs 2");
    CHECK_DIFFER(mp_number(NAN), mp_number(0), "root", "number NaN vs 0");
    CHECK_DIFFER(mp_undefined(), mp_null(), "root", "undefined vs null");
    CHECK_DIFFER(mp_boolean(true), mp_boolean(false), "root", "boolean true vs false");
    CHECK_DIFFER(mp_number(1), mpt_str(RB, "1"), "root", "number 1 vs string '1'");
    CHECK_DIFFER(mpt_str(RA, "a"), mpt_str(RB, "b"), "root", "string 'a' vs 'b'");
    CHECK_EQUAL(mpt_str(RA, "caf\xc3\xa9"), mpt_str(RB, "caf\xc3\xa9"));
    /* One string narrow, one wide, same units. */
    static const uint16_t u[] = {'a', 0xE9};
    mp_value wide;
    OK(mp_string_from_utf16(RB, u, 2, &wide));
    CHECK_EQUAL(mpt_str(RA, "a\xc3\xa9"), wide);
    mp_value x, y;
    OK(mp_bigint_from_int64(RA, -5, &x));
    OK(mp_bigint_from_int64(RB, -5, &y));
    CHECK_EQUAL(x, y);
    OK(mp_bigint_from_int64(RB, 5, &y));
    CHECK_DIFFER(x, y, "root", "BigInt -5n vs 5n");
    CHECK_DIFFER(obj(RA), arr(RB, 0), "root", "Object vs Array");
}

static void
test_sharing_vs_copies(void)
{
    /* [x, x] vs [x1, x2]: same values, different topology. */
    mp_value x = obj(RA), a = arr(RA, 0);
    OK(mp_array_push(a, x));
    OK(mp_array_push(a, x));
    mp_value b = arr(RB, 0);
    OK(mp_array_push(b, obj(RB)));
    OK(mp_array_push(b, obj(RB)));
    CHECK_DIFFER(a, b, "root[1]", "shared reference in the first graph only");
    CHECK_DIFFER(b, a, "root[1]", "shared reference in the second graph only");

    /* [x, y, x] vs [x', y', y']: both refer back, to different objects. */
    mp_value c = arr(RA, 0), d = arr(RB, 0), x2 = obj(RB), y2 = obj(RB);
    OK(mp_array_push(c, x));
    OK(mp_array_push(c, obj(RA)));
    OK(mp_array_push(c, x));
    OK(mp_array_push(d, x2));
    OK(mp_array_push(d, y2));
    OK(mp_array_push(d, y2));
    CHECK_DIFFER(c, d, "root[2]", "references to different objects met earlier");

    /* The same sharing in both: equal. */
    mp_value e = arr(RB, 0), x3 = obj(RB);
    OK(mp_array_push(e, x3));
    OK(mp_array_push(e, x3));
    CHECK_EQUAL(a, e);
}

static void
test_cycles_vs_unrolled(void)
{
    mp_value a = obj(RA);
    set(a, "self", a);
    /* b -> b1 -> b: a 2-cycle, and a finite unrolling. */
    mp_value b = obj(RB), b1 = obj(RB);
    set(b, "self", b1);
    set(b1, "self", b);
    CHECK_DIFFER(a, b, "root.self", "shared reference in the first graph only");
    mp_value c = obj(RB), c1 = obj(RB), c2 = obj(RB);
    set(c, "self", c1);
    set(c1, "self", c2);
    set(c2, "self", obj(RB));
    CHECK_DIFFER(a, c, "root.self", "shared reference in the first graph only");
    mp_value d = obj(RB);
    set(d, "self", d);
    CHECK_EQUAL(a, d);
}

static void
test_holes_and_arrays(void)
{
    mp_value a = arr(RA, 2), b = arr(RB, 0);
    OK(mp_array_set(a, 1, mp_number(1)));
    OK(mp_array_push(b, mp_undefined()));
    OK(mp_array_push(b, mp_number(1)));
    CHECK_DIFFER(a, b, "root[0]", "hole vs undefined");
    CHECK_DIFFER(b, a, "root[0]", "undefined vs hole");

    mp_value c = arr(RB, 3);
    OK(mp_array_set(c, 1, mp_number(1)));
    CHECK_DIFFER(a, c, "root", "array length 2 vs 3");

    /* Dense and sparse layouts of the same array are equal. */
    mp_value dense = arr(RA, 0), sparse = arr(RB, 100000);
    for (uint32_t i = 0; i < 100000; i++)
        OK(mp_array_push(dense, mp_number(i % 7 ? 0 : i)));
    for (uint32_t i = 0; i < 100000; i++)
        OK(mp_array_delete(dense, i));
    OK(mp_array_set(dense, 5, mpt_str(RA, "five")));
    OK(mp_array_set(sparse, 5, mpt_str(RB, "five")));
    CHECK_EQUAL(dense, sparse);
    OK(mp_array_set(sparse, 99999, mp_null()));
    CHECK_DIFFER(dense, sparse, "root[99999]", "hole vs null");

    mp_value n1 = arr(RA, 0), n2 = arr(RB, 0);
    set(n1, "x", mp_number(1));
    set(n2, "x", mp_number(2));
    CHECK_DIFFER(n1, n2, "root.x", "number 1 vs 2");

    mp_value big1 = arr(RA, MP_ARRAY_MAX_LENGTH), big2 = arr(RB, MP_ARRAY_MAX_LENGTH);
    CHECK_EQUAL(big1, big2);
}

static void
test_property_order_and_keys(void)
{
    mp_value a = obj(RA), b = obj(RB);
    set(a, "a", mp_number(1));
    set(a, "b", mp_number(2));
    set(b, "b", mp_number(2));
    set(b, "a", mp_number(1));
    CHECK_DIFFER(a, b, "root", "property key 'a' vs 'b' (keys or their order differ)");

    mp_value c = obj(RB);
    set(c, "a", mp_number(1));
    CHECK_DIFFER(a, c, "root", "property 'b' in the first graph only");
    CHECK_DIFFER(c, a, "root", "property 'b' in the second graph only");

    /* Deleting and re-adding moves a key to the end. */
    mp_value d = obj(RB);
    set(d, "a", mp_number(1));
    set(d, "b", mp_number(2));
    CHECK_EQUAL(a, d);
    OK(mp_object_delete(d, mpt_str(RB, "a")));
    set(d, "a", mp_number(1));
    CHECK_DIFFER(a, d, "root", "property key 'a' vs 'b' (keys or their order differ)");

    mp_value e = obj(RA), f = obj(RB);
    set(e, "odd key", mp_number(1));
    set(f, "odd key", mp_number(3));
    CHECK_DIFFER(e, f, "root['odd key']", "number 1 vs 3");
}

static void
test_map_and_set_order(void)
{
    mp_value m1, m2;
    OK(mp_map_new(RA, &m1));
    OK(mp_map_new(RB, &m2));
    OK(mp_map_set(m1, mp_number(1), mpt_str(RA, "a")));
    OK(mp_map_set(m1, mp_number(2), mpt_str(RA, "b")));
    OK(mp_map_set(m2, mp_number(2), mpt_str(RB, "b")));
    OK(mp_map_set(m2, mp_number(1), mpt_str(RB, "a")));
    CHECK_DIFFER(m1, m2, "root<Map key #0>", "number 1 vs 2");

    mp_value m3;
    OK(mp_map_new(RB, &m3));
    OK(mp_map_set(m3, mp_number(1), mpt_str(RB, "a")));
    OK(mp_map_set(m3, mp_number(2), mpt_str(RB, "c")));
    CHECK_DIFFER(m1, m3, "root<Map value #1>", "string 'b' vs 'c'");
    OK(mp_map_delete(m3, mp_number(2)));
    CHECK_DIFFER(m1, m3, "root", "Map size 2 vs 1");
    OK(mp_map_set(m3, mp_number(2), mpt_str(RB, "b")));
    CHECK_EQUAL(m1, m3);

    /* Object keys correspond structurally. */
    mp_value k1 = obj(RA), k2 = obj(RB), m4, m5;
    set(k1, "k", mp_number(1));
    set(k2, "k", mp_number(1));
    OK(mp_map_new(RA, &m4));
    OK(mp_map_new(RB, &m5));
    OK(mp_map_set(m4, k1, k1));
    OK(mp_map_set(m5, k2, k2));
    CHECK_EQUAL(m4, m5);
    mp_value m6;
    OK(mp_map_new(RB, &m6));
    OK(mp_map_set(m6, k2, obj(RB)));
    CHECK_DIFFER(m4, m6, "root<Map value #0>", "shared reference in the first graph only");

    mp_value s1, s2;
    OK(mp_set_new(RA, &s1));
    OK(mp_set_new(RB, &s2));
    OK(mp_set_add(s1, mpt_str(RA, "x")));
    OK(mp_set_add(s1, mpt_str(RA, "y")));
    OK(mp_set_add(s2, mpt_str(RB, "y")));
    OK(mp_set_add(s2, mpt_str(RB, "x")));
    CHECK_DIFFER(s1, s2, "root<Set entry #0>", "string 'x' vs 'y'");
}

static void
test_why_path(void)
{
    /* root.items[3].name */
    mp_value a = obj(RA), b = obj(RB), ia = arr(RA, 0), ib = arr(RB, 0);
    for (int i = 0; i < 4; i++) {
        mp_value ea = obj(RA), eb = obj(RB);
        set(ea, "name", mpt_str(RA, i == 3 ? "Ada" : "x"));
        set(eb, "name", mpt_str(RB, i == 3 ? "Bob" : "x"));
        OK(mp_array_push(ia, ea));
        OK(mp_array_push(ib, eb));
    }
    set(a, "items", ia);
    set(b, "items", ib);
    CHECK_DIFFER(a, b, "root.items[3].name", "string 'Ada' vs 'Bob'");

    /* Through a Map key, an Error cause and a view's buffer. */
    mp_value ma, mb, ka = obj(RA), kb = obj(RB);
    OK(mp_map_new(RA, &ma));
    OK(mp_map_new(RB, &mb));
    OK(mp_map_set(ma, mp_number(0), mp_null()));
    OK(mp_map_set(mb, mp_number(0), mp_null()));
    set(ka, "deep", mp_boolean(true));
    set(kb, "deep", mp_boolean(false));
    OK(mp_map_set(ma, ka, mp_null()));
    OK(mp_map_set(mb, kb, mp_null()));
    CHECK_DIFFER(ma, mb, "root<Map key #1>.deep", "boolean true vs false");

    mp_value ea, eb, ca, cb;
    OK(mp_error_new(RA, MP_ERR_TYPE, mpt_str(RA, "m"), &ea));
    OK(mp_error_new(RB, MP_ERR_TYPE, mpt_str(RB, "m"), &eb));
    OK(mp_error_new(RA, MP_ERR_ERROR, mp_undefined(), &ca));
    OK(mp_error_new(RB, MP_ERR_URI, mp_undefined(), &cb));
    OK(mp_error_set_cause(ea, ca));
    OK(mp_error_set_cause(eb, cb));
    CHECK_DIFFER(ea, eb, "root<cause>", "Error type Error vs URIError");

    mp_value aba, abb, va, vb;
    OK(mp_arraybuffer_new(RA, 4, &aba));
    OK(mp_arraybuffer_new(RB, 4, &abb));
    OK(mp_typedarray_new(MP_UINT8, aba, 0, 4, &va));
    OK(mp_typedarray_new(MP_UINT8, abb, 0, 4, &vb));
    OK(mp_view_set(vb, 2, mp_number(9)));
    CHECK_DIFFER(va, vb, "root<buffer>", "ArrayBuffer byte 2: 0 vs 9");
}

static void
test_other_kinds(void)
{
    mp_value a, b;
    OK(mp_date_new(RA, 1, &a));
    OK(mp_date_new(RB, 2, &b));
    CHECK_DIFFER(a, b, "root", "Date time value 1 vs 2");
    OK(mp_date_new(RA, NAN, &a));
    OK(mp_date_new(RB, NAN, &b));
    CHECK_EQUAL(a, b);

    OK(mp_regexp_new(RA, mpt_str(RA, "x"), "g", &a));
    OK(mp_regexp_new(RB, mpt_str(RB, "x"), "i", &b));
    CHECK_DIFFER(a, b, "root", "RegExp 'x' flags 'g' vs 'x' flags 'i'");
    OK(mp_regexp_new(RB, mpt_str(RB, "x"), "g", &b));
    CHECK_EQUAL(a, b);

    OK(mp_error_new(RA, MP_ERR_ERROR, mpt_str(RA, "m1"), &a));
    OK(mp_error_new(RB, MP_ERR_ERROR, mpt_str(RB, "m2"), &b));
    CHECK_DIFFER(a, b, "root", "Error message 'm1' vs 'm2'");
    OK(mp_error_new(RB, MP_ERR_ERROR, mp_undefined(), &b));
    CHECK_DIFFER(a, b, "root", "Error message 'm1' vs none");
    OK(mp_error_new(RB, MP_ERR_ERROR, mpt_str(RB, "m1"), &b));
    CHECK_EQUAL(a, b);
    OK(mp_error_set_cause(b, mp_undefined()));
    CHECK_DIFFER(a, b, "root", "Error cause in the second graph only");
    OK(mp_error_set_cause(a, mp_undefined()));
    CHECK_EQUAL(a, b);
    OK(mp_error_set_stack(a, mpt_str(RA, "s")));
    CHECK_DIFFER(a, b, "root", "Error stack 's' vs none");
    /* A self cause against a cause that is another, equal error. */
    mp_value c, d, d2;
    OK(mp_error_new(RA, MP_ERR_ERROR, mp_undefined(), &c));
    OK(mp_error_set_cause(c, c));
    OK(mp_error_new(RB, MP_ERR_ERROR, mp_undefined(), &d));
    OK(mp_error_new(RB, MP_ERR_ERROR, mp_undefined(), &d2));
    OK(mp_error_set_cause(d, d2));
    OK(mp_error_set_cause(d2, d));
    CHECK_DIFFER(c, d, "root<cause>", "shared reference in the first graph only");

    OK(mp_boxed_new(RA, mp_number(-0.0), &a));
    OK(mp_boxed_new(RB, mp_number(0), &b));
    CHECK_DIFFER(a, b, "root", "Number value -0 vs 0");
    OK(mp_boxed_new(RB, mpt_str(RB, "0"), &b));
    CHECK_DIFFER(a, b, "root", "Number vs String");

    OK(mp_host_new(RA, 1, &a, &a));
    OK(mp_host_new(RB, 2, NULL, &b));
    CHECK_DIFFER(a, b, "root", "host type tag 1 vs 2");
}

static void
test_buffers(void)
{
    mp_value a, b;
    OK(mp_arraybuffer_new(RA, 4, &a));
    OK(mp_arraybuffer_new(RB, 5, &b));
    CHECK_DIFFER(a, b, "root", "ArrayBuffer byteLength 4 vs 5");
    OK(mp_arraybuffer_new(RB, 4, &b));
    CHECK_EQUAL(a, b);
    OK(mp_arraybuffer_set_detachable(b, false));
    CHECK_DIFFER(a, b, "root", "ArrayBuffer detachable: yes vs no");
    OK(mp_arraybuffer_new_resizable(RB, 4, 4, &b));
    CHECK_DIFFER(a, b, "root", "ArrayBuffer resizable: no vs yes");
    OK(mp_arraybuffer_new_resizable(RA, 4, 8, &a));
    CHECK_DIFFER(a, b, "root", "ArrayBuffer maxByteLength 8 vs 4");
    OK(mp_arraybuffer_new(RA, 4, &a));
    OK(mp_arraybuffer_new(RB, 4, &b));
    OK(mp_arraybuffer_detach(a));
    CHECK_DIFFER(a, b, "root", "ArrayBuffer detached: yes vs no");
    OK(mp_arraybuffer_detach(b));
    CHECK_EQUAL(a, b);

    /* Two views over one buffer vs two views over two equal buffers. */
    mp_value ab1, ab2, ab3, v1, v2, v3, v4, pa = arr(RA, 0), pb = arr(RB, 0);
    OK(mp_arraybuffer_new(RA, 8, &ab1));
    OK(mp_typedarray_new(MP_UINT8, ab1, 0, 4, &v1));
    OK(mp_typedarray_new(MP_UINT8, ab1, 0, 4, &v2));
    OK(mp_array_push(pa, v1));
    OK(mp_array_push(pa, v2));
    OK(mp_arraybuffer_new(RB, 8, &ab2));
    OK(mp_arraybuffer_new(RB, 8, &ab3));
    OK(mp_typedarray_new(MP_UINT8, ab2, 0, 4, &v3));
    OK(mp_typedarray_new(MP_UINT8, ab3, 0, 4, &v4));
    OK(mp_array_push(pb, v3));
    OK(mp_array_push(pb, v4));
    CHECK_DIFFER(pa, pb, "root[1]<buffer>", "shared reference in the first graph only");

    mp_value w1, w2;
    OK(mp_typedarray_new(MP_UINT8, ab1, 0, 4, &w1));
    OK(mp_typedarray_new(MP_INT8, ab2, 0, 4, &w2));
    CHECK_DIFFER(w1, w2, "root", "view type Uint8Array vs Int8Array");
    OK(mp_typedarray_new(MP_UINT8, ab2, 1, 3, &w2));
    CHECK_DIFFER(w1, w2, "root", "view byteOffset 0 vs 1");
    OK(mp_typedarray_new(MP_UINT8, ab2, 0, 3, &w2));
    CHECK_DIFFER(w1, w2, "root", "view length 4 vs 3");
    OK(mp_dataview_new(ab2, 0, 4, &w2));
    CHECK_DIFFER(w1, w2, "root", "Uint8Array vs DataView");

    /* SharedArrayBuffers: one store (any realm) or not. */
    mp_value s1, s2, s3;
    OK(mp_sab_new(RA, 8, &s1));
    OK(mp_sab_share(s1, RB, &s2));
    CHECK_EQUAL(s1, s2);
    OK(mp_sab_new(RB, 8, &s3));
    CHECK_DIFFER(s1, s3, "root", "SharedArrayBuffers on different shared stores");
}

static mp_value
chain(mp_realm *r, int depth, double bottom)
{
    mp_value root = obj(r), cur = root;
    for (int i = 0; i < depth; i++) {
        mp_value next = obj(r);
        OK(mp_object_set_utf8(cur, "next", next));
        cur = next;
    }
    OK(mp_object_set_utf8(cur, "v", mp_number(bottom)));
    return root;
}

static void
test_deep_chain(void)
{
    enum { DEPTH = 1000000 };
    mp_realm *ra, *rb;
    OK(mp_realm_new(NULL, &ra));
    OK(mp_realm_new(NULL, &rb));
    mp_value a = chain(ra, DEPTH, 1), b = chain(rb, DEPTH, 1);
    CHECK_EQUAL(a, b);
    mp_value c = chain(rb, DEPTH, 2);
    mp_error_info why;
    CU_ASSERT_FALSE(mp_graph_equal(a, c, &why));
    CU_ASSERT_STRING_EQUAL(why.detail, "number 1 vs 2");
    /* A path too long to keep: head ... tail. */
    CU_ASSERT(strncmp(why.path, "root.next.next.", 15) == 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(why.path, "..."));
    size_t n = strlen(why.path);
    CU_ASSERT(n < sizeof why.path && n > 150);
    CU_ASSERT(n > 7 && strcmp(why.path + n - 7, ".next.v") == 0);
    mp_realm_free(ra);
    mp_realm_free(rb);
}

static void
test_out_of_memory(void)
{
    bool saw_enomem = false, saw_equal = false;
    for (long long n = 1; n < 60 && !saw_equal; n++) {
        mpt_alloc alc;
        mpt_alloc_init(&alc);
        mp_realm *r;
        OK(mp_realm_new(&alc.alc, &r));
        mp_value a = obj(r), b = obj(r), la = arr(r, 0), lb = arr(r, 0);
        for (int i = 0; i < 300; i++) {
            OK(mp_array_push(la, obj(r)));
            OK(mp_array_push(lb, obj(r)));
        }
        set(a, "l", la);
        set(b, "l", lb);
        atomic_store(&alc.fail_at, atomic_load(&alc.allocations) + n);
        mp_error_info why;
        why.code = MP_EINVAL;
        bool eq = mp_graph_equal(a, b, &why);
        atomic_store(&alc.fail_at, 0);
        if (eq) {
            saw_equal = true;
        } else {
            CU_ASSERT_EQUAL(why.code, MP_ENOMEM);
            saw_enomem = saw_enomem || why.code == MP_ENOMEM;
        }
        mp_realm_free(r);
        CU_ASSERT_EQUAL(atomic_load(&alc.live_bytes), 0);
    }
    CU_ASSERT_TRUE(saw_enomem);
    CU_ASSERT_TRUE(saw_equal);
}

int
main(void)
{
    if (mp_realm_new(NULL, &RA) != MP_OK || mp_realm_new(NULL, &RB) != MP_OK) return 2;
    static const mpt_test tests[] = {
        {"identical graphs in two realms", test_identical_graphs_in_two_realms},
        {"primitives by SameValue", test_primitives},
        {"sharing vs equal copies", test_sharing_vs_copies},
        {"cycles vs unrolled", test_cycles_vs_unrolled},
        {"holes vs undefined, arrays", test_holes_and_arrays},
        {"property order and keys", test_property_order_and_keys},
        {"Map and Set entry order", test_map_and_set_order},
        {"why->path for known differences", test_why_path},
        {"Date, RegExp, Error, boxed, host", test_other_kinds},
        {"ArrayBuffer, views, SharedArrayBuffer", test_buffers},
        {"1,000,000-deep chain", test_deep_chain},
        {"out of memory", test_out_of_memory},
        {NULL, NULL},
    };
    int rc = mpt_run("graph", tests);
    mp_realm_free(RA);
    mp_realm_free(RB);
    return rc;
}
