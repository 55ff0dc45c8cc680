/* mp_print: the exact text for every kind, reference labels, sparse and
 * deep graphs, pretty mode. */
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static mp_realm *R;

/* mp_print into a string (caller frees). */
static char *
render(mp_value v, unsigned flags)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    mp_status st = mp_print(f, v, flags);
    fclose(f);
    CU_ASSERT_EQUAL(st, MP_OK);
    return buf;
}

/* Asserts the rendering, and says what came out when it differs. */
#define CHECK_PRINT_FLAGS(v, flags, expected)                                                                          \
    do {                                                                                                               \
        char *got_ = render((v), (flags));                                                                             \
        if (strcmp(got_, (expected)) != 0)                                                                             \
            fprintf(stderr, "\n  %s:%d\n  expected: %s\n  got:      %s\n", __FILE__, __LINE__, (expected), got_);      \
        CU_ASSERT_STRING_EQUAL(got_, (expected));                                                                      \
        free(got_);                                                                                                    \
    } while (0)
#define CHECK_PRINT(v, expected) CHECK_PRINT_FLAGS(v, 0, expected)

#define OK(call) CU_ASSERT_EQUAL_FATAL((call), MP_OK)

static mp_value
obj(void)
{
    mp_value v;
    OK(mp_object_new(R, &v));
    return v;
}

static mp_value
arr(uint64_t len)
{
    mp_value v;
    OK(mp_array_new(R, len, &v));
    return v;
}

static void
test_primitives(void)
{
    CHECK_PRINT(mp_undefined(), "undefined");
    CHECK_PRINT(mp_null(), "null");
    CHECK_PRINT(mp_boolean(true), "true");
    CHECK_PRINT(mp_boolean(false), "false");
    CHECK_PRINT(mp_number(0), "0");
    CHECK_PRINT(mp_number(-0.0), "-0");
    CHECK_PRINT(mp_number(NAN), "NaN");
    CHECK_PRINT(mp_number(INFINITY), "Infinity");
    CHECK_PRINT(mp_number(-INFINITY), "-Infinity");
    CHECK_PRINT(mp_number(42), "42");
    CHECK_PRINT(mp_number(-7), "-7");
    CHECK_PRINT(mp_number(0.1), "0.1");
    CHECK_PRINT(mp_number(1.5), "1.5");
    CHECK_PRINT(mp_number(0.1 + 0.2), "0.30000000000000004");
    CHECK_PRINT(mp_number(1e21), "1e+21");
    CHECK_PRINT(mp_number(1e20), "100000000000000000000");
    CHECK_PRINT(mp_number(123456789012345680000.0), "123456789012345680000");
    CHECK_PRINT(mp_number(1152921504606846976.0), "1152921504606847000");
    CHECK_PRINT(mp_number(1e-7), "1e-7");
    CHECK_PRINT(mp_number(0.000001), "0.000001");
    CHECK_PRINT(mp_number(1.5e-10), "1.5e-10");
    CHECK_PRINT(mp_number(5e-324), "5e-324");
    CHECK_PRINT(mp_number(1.7976931348623157e308), "1.7976931348623157e+308");
    CHECK_PRINT(mp_number(9007199254740993.0), "9007199254740992");
    CHECK_PRINT(mp_number(-123.456), "-123.456");
    /* Powers of two whose shortest digits are not printf's correctly rounded
     * ones at that length (the doubles below a power of two are closer
     * together than above, so the rounded decimal below does not read
     * back): expected texts from Python's repr, the same as JavaScript's. */
    CHECK_PRINT(mp_number(ldexp(1, -383)), "5.075883674631299e-116");
    CHECK_PRINT(mp_number(ldexp(1, -1017)), "7.120236347223045e-307");
    CHECK_PRINT(mp_number(ldexp(1, -1007)), "7.291122019556398e-304");
    CHECK_PRINT(mp_number(ldexp(1, -957)), "8.209073602596753e-289");
    CHECK_PRINT(mp_number(ldexp(1, -808)), "5.858190679279809e-244");
    CHECK_PRINT(mp_number(ldexp(1, -791)), "7.678447687145631e-239");
    /* Every power of two reads back as itself. */
    for (int e = -1074; e <= 1023; e++) {
        char *got = render(mp_number(ldexp(1, e)), 0);
        CU_ASSERT_EQUAL(strtod(got, NULL), ldexp(1, e));
        free(got);
    }
}

static void
test_bigints(void)
{
    mp_value b;
    OK(mp_bigint_from_int64(R, 123, &b));
    CHECK_PRINT(b, "123n");
    OK(mp_bigint_from_int64(R, -5, &b));
    CHECK_PRINT(b, "-5n");
    OK(mp_bigint_from_int64(R, 0, &b));
    CHECK_PRINT(b, "0n");
    const char *big = "-340282366920938463463374607431768211457";
    OK(mp_bigint_from_string(R, big, strlen(big), &b));
    CHECK_PRINT(b, "-340282366920938463463374607431768211457n");
    const char *huge = "123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890";
    OK(mp_bigint_from_string(R, huge, strlen(huge), &b));
    CHECK_PRINT(b, "123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890n");
}

static void
test_strings(void)
{
    CHECK_PRINT(mpt_str(R, ""), "''");
    CHECK_PRINT(mpt_str(R, "abc"), "'abc'");
    CHECK_PRINT(mpt_str(R, "it's"), "\"it's\"");
    CHECK_PRINT(mpt_str(R, "it's \"x\""), "`it's \"x\"`");
    CHECK_PRINT(mpt_str(R, "'\"`"), "'\\'\"`'");
    CHECK_PRINT(mpt_str(R, "a\\b"), "'a\\\\b'");
    CHECK_PRINT(mpt_str(R, "l1\nl2\t\r\b\f"), "'l1\\nl2\\t\\r\\b\\f'");
    CHECK_PRINT(mpt_str(R, "\x01\x1b\x7f"), "'\\x01\\x1B\\x7F'");
    CHECK_PRINT(mpt_str(R, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"), "'caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80'");
    mp_value s;
    static const uint16_t lone[] = {'a', 0xD800, 'b', 0xDC00, 0xD83D, 0xDE00};
    OK(mp_string_from_utf16(R, lone, 6, &s));
    CHECK_PRINT(s, "'a\\uD800b\\uDC00\xf0\x9f\x98\x80'");
    static const uint16_t nul[] = {'x', 0, 0x85};
    OK(mp_string_from_utf16(R, nul, 3, &s));
    CHECK_PRINT(s, "'x\\x00\\x85'");
}

static void
test_objects_and_arrays(void)
{
    CHECK_PRINT(obj(), "{}");
    CHECK_PRINT(arr(0), "[]");

    mp_value o = obj(), tags = arr(0);
    OK(mp_object_set_utf8(o, "id", mp_number(1)));
    OK(mp_object_set_utf8(o, "name", mpt_str(R, "a")));
    OK(mp_array_push(tags, mpt_str(R, "x")));
    OK(mp_array_set_length(tags, 3));
    OK(mp_array_push(tags, mp_undefined()));
    OK(mp_object_set_utf8(o, "tags", tags));
    CHECK_PRINT(o, "{ id: 1, name: 'a', tags: [ 'x', <2 empty items>, undefined ] }");

    mp_value k = obj();
    OK(mp_object_set_utf8(k, "a-b", mp_number(1)));
    OK(mp_object_set_utf8(k, "_ok9", mp_number(2)));
    OK(mp_object_set_utf8(k, "9no", mp_number(3)));
    OK(mp_object_set_utf8(k, "", mp_number(4)));
    OK(mp_object_set_utf8(k, "it's", mp_number(5)));
    OK(mp_object_set_utf8(k, "7", mp_null()));
    CHECK_PRINT(k, "{ '7': null, 'a-b': 1, _ok9: 2, '9no': 3, '': 4, \"it's\": 5 }");

    mp_value a = arr(0);
    OK(mp_array_set_length(a, 1));
    OK(mp_array_push(a, mp_boolean(true)));
    OK(mp_object_set_utf8(a, "extra", mpt_str(R, "e")));
    CHECK_PRINT(a, "[ <1 empty item>, true, extra: 'e' ]");

    mp_value holes = arr(5);
    CHECK_PRINT(holes, "[ <5 empty items> ]");
}

static void
test_sparse_max_length(void)
{
    mp_value a = arr(MP_ARRAY_MAX_LENGTH);
    CHECK_PRINT(a, "[ <4294967295 empty items> ]");
    OK(mp_array_set(a, 7, mp_number(1)));
    OK(mp_array_set(a, 4294967294u, mp_number(2)));
    OK(mp_object_set_utf8(a, "x", mp_number(3)));
    CHECK_PRINT(a, "[ <7 empty items>, 1, <4294967286 empty items>, 2, x: 3 ]");
}

static void
test_map_set(void)
{
    mp_value m, s;
    OK(mp_map_new(R, &m));
    CHECK_PRINT(m, "Map(0) {}");
    OK(mp_map_set(m, mpt_str(R, "k"), mp_number(1)));
    OK(mp_map_set(m, mp_number(2), obj()));
    CHECK_PRINT(m, "Map(2) { 'k' => 1, 2 => {} }");
    OK(mp_set_new(R, &s));
    CHECK_PRINT(s, "Set(0) {}");
    OK(mp_set_add(s, mp_number(1)));
    CHECK_PRINT(s, "Set(1) { 1 }");
    OK(mp_set_add(s, mpt_str(R, "two")));
    OK(mp_set_add(s, mp_number(3)));
    OK(mp_set_delete(s, mpt_str(R, "two")));
    CHECK_PRINT(s, "Set(2) { 1, 3 }");
}

static void
test_date_regexp_boxed(void)
{
    mp_value d;
    OK(mp_date_new(R, 1717243200000.0, &d));
    CHECK_PRINT(d, "[Date: 2024-06-01T12:00:00.000Z]");
    OK(mp_date_new(R, 0, &d));
    CHECK_PRINT(d, "[Date: 1970-01-01T00:00:00.000Z]");
    OK(mp_date_new(R, -1, &d));
    CHECK_PRINT(d, "[Date: 1969-12-31T23:59:59.999Z]");
    OK(mp_date_new(R, 8.64e15, &d));
    CHECK_PRINT(d, "[Date: +275760-09-13T00:00:00.000Z]");
    OK(mp_date_new(R, -8.64e15, &d));
    CHECK_PRINT(d, "[Date: -271821-04-20T00:00:00.000Z]");
    OK(mp_date_new(R, NAN, &d));
    CHECK_PRINT(d, "Invalid Date");

    mp_value re;
    OK(mp_regexp_new(R, mpt_str(R, "src"), "ig", &re));
    CHECK_PRINT(re, "/src/gi");
    OK(mp_regexp_new(R, mpt_str(R, ""), "", &re));
    CHECK_PRINT(re, "/(?:)/");

    mp_value b;
    OK(mp_boxed_new(R, mp_number(3), &b));
    CHECK_PRINT(b, "[Number: 3]");
    OK(mp_boxed_new(R, mp_number(-0.0), &b));
    CHECK_PRINT(b, "[Number: -0]");
    OK(mp_boxed_new(R, mpt_str(R, "x"), &b));
    CHECK_PRINT(b, "[String: 'x']");
    OK(mp_boxed_new(R, mp_boolean(false), &b));
    CHECK_PRINT(b, "[Boolean: false]");
    mp_value big;
    OK(mp_bigint_from_int64(R, 5, &big));
    OK(mp_boxed_new(R, big, &b));
    CHECK_PRINT(b, "[BigInt: 5n]");
}

static void
test_errors(void)
{
    mp_value e, e2;
    OK(mp_error_new(R, MP_ERR_RANGE, mpt_str(R, "msg"), &e));
    CHECK_PRINT(e, "[RangeError: msg]");
    OK(mp_error_new(R, MP_ERR_ERROR, mp_undefined(), &e2));
    CHECK_PRINT(e2, "[Error]");
    OK(mp_error_set_cause(e, mp_number(1)));
    CHECK_PRINT(e, "[RangeError: msg] { [cause]: 1 }");
    OK(mp_error_set_cause(e, e));
    CHECK_PRINT(e, "<ref *1> [RangeError: msg] { [cause]: [Circular *1] }");
    OK(mp_error_set_cause(e2, mp_undefined()));
    OK(mp_error_set_stack(e2, mpt_str(R, "Error\n    at x")));
    CHECK_PRINT(e2, "[Error] { [stack]: 'Error\\n    at x', [cause]: undefined }");
}

static void
test_buffers_and_views(void)
{
    mp_value ab, sab, ta, dv;
    OK(mp_arraybuffer_new(R, 4, &ab));
    void *data;
    size_t len;
    OK(mp_arraybuffer_data(ab, &data, &len));
    memcpy(data, "\x01\x02\x03\xff", 4);
    CHECK_PRINT(ab, "ArrayBuffer { [Uint8Contents]: <01 02 03 ff>, byteLength: 4 }");

    OK(mp_typedarray_new(MP_UINT8, ab, 0, MP_LENGTH_AUTO, &ta));
    CHECK_PRINT(ta, "Uint8Array(4) [ 1, 2, 3, 255 ]");
    OK(mp_typedarray_new(MP_INT8, ab, 1, 2, &ta));
    CHECK_PRINT(ta, "Int8Array(2) [ 2, 3 ]");
    OK(mp_dataview_new(ab, 1, 2, &dv));
    CHECK_PRINT(dv, "DataView { byteLength: 2, byteOffset: 1, buffer: ArrayBuffer { [Uint8Contents]: <01 02 03 ff>, "
                    "byteLength: 4 } }");

    mp_value big;
    OK(mp_arraybuffer_new(R, 40, &big));
    CHECK_PRINT(big, "ArrayBuffer { [Uint8Contents]: <00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
                     "00 00 00 00 00 00 00 00 00 00 00 ... 8 more bytes>, byteLength: 40 }");

    mp_value f64, b64;
    OK(mp_arraybuffer_new(R, 16, &ab));
    OK(mp_typedarray_new(MP_FLOAT64, ab, 0, 2, &f64));
    OK(mp_view_set(f64, 0, mp_number(-0.0)));
    OK(mp_view_set(f64, 1, mp_number(0.5)));
    CHECK_PRINT(f64, "Float64Array(2) [ -0, 0.5 ]");
    OK(mp_typedarray_new(MP_BIGINT64, ab, 0, 2, &b64));
    mp_value m1;
    OK(mp_bigint_from_int64(R, -1, &m1));
    OK(mp_view_set(b64, 1, m1));
    CHECK_PRINT(b64, "BigInt64Array(2) [ -9223372036854775808n, -1n ]");

    /* Long typed arrays stop after 100 elements. */
    mp_value ab200, u16;
    OK(mp_arraybuffer_new(R, 206, &ab200));
    OK(mp_typedarray_new(MP_UINT16, ab200, 0, MP_LENGTH_AUTO, &u16));
    char *got = render(u16, 0);
    CU_ASSERT(strncmp(got, "Uint16Array(103) [ 0, 0,", 24) == 0);
    CU_ASSERT(strstr(got, ", 0, ... 3 more items ]") != NULL);
    free(got);

    /* Detached: the buffer says so, its views are empty. */
    mp_value dab, dview;
    OK(mp_arraybuffer_new(R, 8, &dab));
    OK(mp_typedarray_new(MP_UINT8, dab, 0, 8, &dview));
    OK(mp_arraybuffer_detach(dab));
    CHECK_PRINT(dab, "ArrayBuffer { (detached), byteLength: 0 }");
    CHECK_PRINT(dview, "Uint8Array(0) []");
    /* A view and its buffer both in the graph: the view shows the link. */
    mp_value pair = arr(0);
    OK(mp_array_push(pair, dab));
    OK(mp_array_push(pair, dview));
    CHECK_PRINT(pair, "[ <ref *1> ArrayBuffer { (detached), byteLength: 0 }, Uint8Array(0) [ [buffer]: [Ref *1] ] ]");

    mp_value rab;
    OK(mp_arraybuffer_new_resizable(R, 2, 8, &rab));
    CHECK_PRINT(rab, "ArrayBuffer { [Uint8Contents]: <00 00>, byteLength: 2, maxByteLength: 8 }");

    OK(mp_sab_new(R, 3, &sab));
    OK(mp_sab_data(sab, &data, &len));
    ((uint8_t *)data)[2] = 0xab;
    CHECK_PRINT(sab, "SharedArrayBuffer { [Uint8Contents]: <00 00 ab>, byteLength: 3 }");
    OK(mp_sab_new_growable(R, 1, 4, &sab));
    CHECK_PRINT(sab, "SharedArrayBuffer { [Uint8Contents]: <00>, byteLength: 1, maxByteLength: 4 }");
}

static void
test_host(void)
{
    mp_value h;
    OK(mp_host_new(R, 7, (void *)0x1234, &h));
    CHECK_PRINT(h, "[Host tag=7 0x1234]");
    OK(mp_host_new(R, 0, NULL, &h));
    CHECK_PRINT(h, "[Host tag=0 0x0]");
}

static void
test_labels(void)
{
    /* A cycle: the ancestor is labelled, the back edge is Circular. */
    mp_value self = obj();
    OK(mp_object_set_utf8(self, "self", self));
    CHECK_PRINT(self, "<ref *1> { self: [Circular *1] }");

    /* A shared (non-ancestor) reference is a Ref. */
    mp_value shared = obj(), root = arr(0);
    OK(mp_object_set_utf8(shared, "v", mp_number(1)));
    OK(mp_array_push(root, shared));
    OK(mp_array_push(root, shared));
    CHECK_PRINT(root, "[ <ref *1> { v: 1 }, [Ref *1] ]");

    /* Labels number in print order; one node both cycles and is shared. */
    mp_value a = obj(), b = obj(), top = obj();
    OK(mp_object_set_utf8(a, "b", b));
    OK(mp_object_set_utf8(b, "a", a));
    OK(mp_object_set_utf8(top, "first", a));
    OK(mp_object_set_utf8(top, "again", b));
    OK(mp_object_set_utf8(top, "top", top));
    CHECK_PRINT(top, "<ref *1> { first: <ref *2> { b: <ref *3> { a: [Circular *2] } }, again: [Ref *3], top: [Circular "
                     "*1] }");

    /* A Map key that is the map itself, and a shared value. */
    mp_value m;
    OK(mp_map_new(R, &m));
    OK(mp_map_set(m, m, shared));
    OK(mp_map_set(m, mpt_str(R, "k"), shared));
    CHECK_PRINT(m, "<ref *1> Map(2) { [Circular *1] => <ref *2> { v: 1 }, 'k' => [Ref *2] }");
}

static void
test_pretty(void)
{
    mp_value o = obj(), tags = arr(0), inner = obj(), m;
    OK(mp_object_set_utf8(o, "id", mp_number(1)));
    OK(mp_array_push(tags, mpt_str(R, "x")));
    OK(mp_array_set_length(tags, 3));
    OK(mp_object_set_utf8(o, "tags", tags));
    OK(mp_object_set_utf8(o, "empty", inner));
    OK(mp_map_new(R, &m));
    OK(mp_map_set(m, mp_number(1), o));
    OK(mp_object_set_utf8(o, "m", m));
    CHECK_PRINT_FLAGS(o, MP_PRINT_PRETTY,
                      "<ref *1> {\n"
                      "  id: 1,\n"
                      "  tags: [\n"
                      "    'x',\n"
                      "    <2 empty items>\n"
                      "  ],\n"
                      "  empty: {},\n"
                      "  m: Map(1) {\n"
                      "    1 => [Circular *1]\n"
                      "  }\n"
                      "}");
    CHECK_PRINT_FLAGS(mp_number(1), MP_PRINT_PRETTY, "1");
}

static void
test_deep_chain(void)
{
    enum { DEPTH = 1000000 };
    mp_realm *r;
    OK(mp_realm_new(NULL, &r));
    mp_value root, cur;
    OK(mp_object_new(r, &root));
    cur = root;
    for (int i = 0; i < DEPTH; i++) {
        mp_value next;
        OK(mp_array_new(r, 0, &next));
        OK(mp_object_set_utf8(cur, "n", next));
        OK(mp_object_new(r, &cur));
        OK(mp_array_push(next, cur));
    }
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT_EQUAL(mp_print(f, root, 0), MP_OK);
    fclose(f);
    /* "{ n: [ " per level, "{}" at the bottom, " ] }" per level */
    CU_ASSERT_EQUAL(len, (size_t)DEPTH * 11 + 2);
    CU_ASSERT(strncmp(buf, "{ n: [ { n: [ ", 14) == 0);
    CU_ASSERT(strncmp(buf + (size_t)DEPTH * 7, "{} ] } ] }", 10) == 0);
    CU_ASSERT(strcmp(buf + len - 8, " ] } ] }") == 0);
    free(buf);
    mp_realm_free(r);
}

static void
test_bad_arguments_and_write_errors(void)
{
    CU_ASSERT_EQUAL(mp_print(NULL, mp_null(), 0), MP_EINVAL);
    CU_ASSERT_EQUAL(mp_print(stdout, mp_null(), 0x80), MP_EINVAL);
    /* A stream that refuses writes. */
    FILE *ro = fopen("/dev/null", "r");
    if (ro) {
        CU_ASSERT_EQUAL(mp_print(ro, mpt_str(R, "x"), 0), MP_EINVAL);
        fclose(ro);
    }
}

static void
test_out_of_memory(void)
{
    /* Fail each allocation of a print in turn: MP_ENOMEM or MP_OK, never
     * a crash or a leak. */
    for (long long n = 1; n < 40; n++) {
        mpt_alloc a;
        mpt_alloc_init(&a);
        mp_realm *r;
        OK(mp_realm_new(&a.alc, &r));
        mp_value o, l;
        OK(mp_object_new(r, &o));
        OK(mp_array_new(r, 0, &l));
        for (int i = 0; i < 200; i++)
            OK(mp_array_push(l, o));
        OK(mp_object_set_utf8(o, "l", l));
        atomic_store(&a.fail_at, atomic_load(&a.allocations) + n);
        FILE *f = fopen("/dev/null", "w");
        CU_ASSERT_PTR_NOT_NULL_FATAL(f);
        mp_status st = mp_print(f, o, 0);
        fclose(f);
        CU_ASSERT(st == MP_OK || st == MP_ENOMEM);
        atomic_store(&a.fail_at, 0);
        mp_realm_free(r);
        CU_ASSERT_EQUAL(atomic_load(&a.live_bytes), 0);
    }
}

int
main(void)
{
    if (mp_realm_new(NULL, &R) != MP_OK) return 2;
    static const mpt_test tests[] = {
        {"primitives", test_primitives},
        {"bigints", test_bigints},
        {"strings and escapes", test_strings},
        {"objects and arrays", test_objects_and_arrays},
        {"sparse array of max length", test_sparse_max_length},
        {"Map and Set", test_map_set},
        {"Date, RegExp, boxed", test_date_regexp_boxed},
        {"errors and cause", test_errors},
        {"buffers and views", test_buffers_and_views},
        {"host objects", test_host},
        {"ref and circular labels", test_labels},
        {"pretty mode", test_pretty},
        {"1,000,000-deep chain", test_deep_chain},
        {"bad arguments, write errors", test_bad_arguments_and_write_errors},
        {"out of memory", test_out_of_memory},
        {NULL, NULL},
    };
    int rc = mpt_run("print", tests);
    mp_realm_free(R);
    return rc;
}
