/* Arrays: holes vs undefined, dense/sparse storage, length, named props. */
#include <stdio.h>
#include <string.h>

#include "testutil.h"

static mp_realm *R;

static mp_value
new_arr(uint64_t len)
{
    mp_value a;
    CU_ASSERT_EQUAL_FATAL(mp_array_new(R, len, &a), MP_OK);
    return a;
}

static void
test_holes_vs_undefined(void)
{
    mp_value a = new_arr(3);
    CU_ASSERT_EQUAL(mp_kind_of(a), MP_ARRAY);
    CU_ASSERT_EQUAL(mp_array_length(a), 3);
    CU_ASSERT_EQUAL(mp_array_element_count(a), 0);
    CU_ASSERT_EQUAL(mp_array_set(a, 1, mp_undefined()), MP_OK);
    mp_value v = mp_null();
    CU_ASSERT_EQUAL(mp_array_get(a, 0, &v), MP_ENOTFOUND); /* hole */
    CU_ASSERT_EQUAL(mp_kind_of(v), MP_UNDEFINED);
    v = mp_null();
    CU_ASSERT_EQUAL(mp_array_get(a, 1, &v), MP_OK); /* present undefined */
    CU_ASSERT_EQUAL(mp_kind_of(v), MP_UNDEFINED);
    CU_ASSERT_EQUAL(mp_array_get(a, 3, &v), MP_ENOTFOUND); /* past the end */
    CU_ASSERT_EQUAL(mp_array_element_count(a), 1);
    CU_ASSERT(mp_object_has(a, mpt_str(R, "1")));
    CU_ASSERT(!mp_object_has(a, mpt_str(R, "0")));
    /* delete makes a hole; length unchanged; deleting a hole is fine */
    CU_ASSERT_EQUAL(mp_array_delete(a, 1), MP_OK);
    CU_ASSERT_EQUAL(mp_array_delete(a, 1), MP_OK);
    CU_ASSERT_EQUAL(mp_array_delete(a, 100), MP_OK);
    CU_ASSERT_EQUAL(mp_array_length(a), 3);
    CU_ASSERT_EQUAL(mp_array_element_count(a), 0);
    CU_ASSERT_EQUAL(mp_array_get(a, 1, &v), MP_ENOTFOUND);
}

static void
test_push_and_iterate(void)
{
    mp_value a = new_arr(0);
    for (int i = 0; i < 1000; i++)
        CU_ASSERT_EQUAL_FATAL(mp_array_push(a, mp_number(i)), MP_OK);
    CU_ASSERT_EQUAL(mp_array_length(a), 1000);
    CU_ASSERT_EQUAL(mp_array_element_count(a), 1000);
    for (int i = 0; i < 1000; i += 3)
        CU_ASSERT_EQUAL(mp_array_delete(a, (uint32_t)i), MP_OK);
    size_t cursor = 0;
    uint32_t idx;
    mp_value v;
    int n = 0;
    bool ok = true;
    uint32_t prev = 0;
    while (mp_array_next(a, &cursor, &idx, &v)) {
        if (idx % 3 == 0 || mp_number_value(v) != idx || (n && idx <= prev)) ok = false;
        prev = idx;
        n++;
    }
    CU_ASSERT(ok);
    CU_ASSERT_EQUAL(n, 666);
    CU_ASSERT_EQUAL(mp_array_element_count(a), 666);
}

/* Length 4294967295 with three elements costs three elements. */
static void
test_sparse_max_length(void)
{
    mpt_alloc al;
    mpt_alloc_init(&al);
    mp_realm *r;
    CU_ASSERT_EQUAL_FATAL(mp_realm_new(&al.alc, &r), MP_OK);
    mp_value a;
    CU_ASSERT_EQUAL_FATAL(mp_array_new(r, 4294967295u, &a), MP_OK);
    CU_ASSERT_EQUAL(mp_array_length(a), 4294967295u);
    size_t empty = mp_realm_get_stats(r).bytes;
    CU_ASSERT(empty < 256);
    CU_ASSERT_EQUAL(mp_array_set(a, 4294967294u, mp_number(3)), MP_OK);
    CU_ASSERT_EQUAL(mp_array_set(a, 0, mp_number(1)), MP_OK);
    CU_ASSERT_EQUAL(mp_array_set(a, 2000000000u, mp_number(2)), MP_OK);
    CU_ASSERT_EQUAL(mp_array_set(a, 4294967295u, mp_number(9)), MP_ERANGE);
    CU_ASSERT_EQUAL(mp_array_length(a), 4294967295u);
    CU_ASSERT_EQUAL(mp_array_element_count(a), 3);
    CU_ASSERT(mp_realm_get_stats(r).bytes < empty + 256);
    /* From the allocator's side: one arena chunk and the realm, no more. */
    CU_ASSERT(al.live_bytes < 64 * 1024 + 1024);
    uint32_t idx[3];
    mp_value v[3];
    size_t cursor = 0;
    int n = 0;
    while (n < 3 && mp_array_next(a, &cursor, &idx[n], &v[n]))
        n++;
    CU_ASSERT_EQUAL(n, 3);
    CU_ASSERT(!mp_array_next(a, &cursor, NULL, NULL));
    CU_ASSERT_EQUAL(idx[0], 0);
    CU_ASSERT_EQUAL(idx[1], 2000000000u);
    CU_ASSERT_EQUAL(idx[2], 4294967294u);
    CU_ASSERT_EQUAL(mp_number_value(v[0]), 1);
    CU_ASSERT_EQUAL(mp_number_value(v[1]), 2);
    CU_ASSERT_EQUAL(mp_number_value(v[2]), 3);
    mp_value got;
    CU_ASSERT_EQUAL(mp_array_get(a, 2000000000u, &got), MP_OK);
    CU_ASSERT_EQUAL(mp_number_value(got), 2);
    CU_ASSERT_EQUAL(mp_array_get(a, 1999999999u, &got), MP_ENOTFOUND);
    /* full length: push fails, nothing changes */
    CU_ASSERT_EQUAL(mp_array_push(a, mp_null()), MP_ERANGE);
    CU_ASSERT_EQUAL(mp_array_element_count(a), 3);
    CU_ASSERT_EQUAL(mp_array_new(r, 4294967296ull, &got), MP_ERANGE);
    mp_realm_free(r);
    CU_ASSERT_EQUAL(al.live_bytes, 0);
}

/* A dense array given a far index goes sparse instead of allocating. */
static void
test_far_index_goes_sparse(void)
{
    mp_value a = new_arr(0);
    for (int i = 0; i < 10; i++)
        CU_ASSERT_EQUAL(mp_array_push(a, mp_number(i)), MP_OK);
    size_t before = mp_realm_get_stats(R).bytes;
    CU_ASSERT_EQUAL(mp_array_set(a, 3000000000u, mp_number(-1)), MP_OK);
    CU_ASSERT(mp_realm_get_stats(R).bytes < before + 4096);
    CU_ASSERT_EQUAL(mp_array_length(a), 3000000001u);
    CU_ASSERT_EQUAL(mp_array_element_count(a), 11);
    mp_value v;
    for (uint32_t i = 0; i < 10; i++) {
        CU_ASSERT_EQUAL(mp_array_get(a, i, &v), MP_OK);
        CU_ASSERT_EQUAL(mp_number_value(v), i);
    }
    CU_ASSERT_EQUAL(mp_array_get(a, 3000000000u, &v), MP_OK);
    CU_ASSERT_EQUAL(mp_number_value(v), -1);
    /* growing the length far also stays cheap */
    mp_value b = new_arr(0);
    CU_ASSERT_EQUAL(mp_array_push(b, mp_number(1)), MP_OK);
    before = mp_realm_get_stats(R).bytes;
    CU_ASSERT_EQUAL(mp_array_set_length(b, 4000000000u), MP_OK);
    CU_ASSERT(mp_realm_get_stats(R).bytes < before + 4096);
    CU_ASSERT_EQUAL(mp_array_length(b), 4000000000u);
    CU_ASSERT_EQUAL(mp_array_get(b, 0, &v), MP_OK);
    /* filling a sparse array in order ends up dense-cheap and correct */
    mp_value c = new_arr(5000);
    for (uint32_t i = 0; i < 5000; i++)
        CU_ASSERT_EQUAL_FATAL(mp_array_set(c, i, mp_number(i * 2)), MP_OK);
    CU_ASSERT_EQUAL(mp_array_length(c), 5000);
    CU_ASSERT_EQUAL(mp_array_element_count(c), 5000);
    bool ok = true;
    for (uint32_t i = 0; i < 5000; i++)
        if (mp_array_get(c, i, &v) != MP_OK || mp_number_value(v) != i * 2) ok = false;
    CU_ASSERT(ok);
}

static void
test_set_length(void)
{
    mp_value a = new_arr(0);
    for (int i = 0; i < 100; i++)
        CU_ASSERT_EQUAL(mp_array_push(a, mp_number(i)), MP_OK);
    CU_ASSERT_EQUAL(mp_array_set_length(a, 10), MP_OK);
    CU_ASSERT_EQUAL(mp_array_length(a), 10);
    CU_ASSERT_EQUAL(mp_array_element_count(a), 10);
    mp_value v;
    CU_ASSERT_EQUAL(mp_array_get(a, 50, &v), MP_ENOTFOUND);
    /* growing back does not resurrect the dropped elements */
    CU_ASSERT_EQUAL(mp_array_set_length(a, 100), MP_OK);
    CU_ASSERT_EQUAL(mp_array_length(a), 100);
    CU_ASSERT_EQUAL(mp_array_element_count(a), 10);
    CU_ASSERT_EQUAL(mp_array_get(a, 50, &v), MP_ENOTFOUND);
    CU_ASSERT_EQUAL(mp_array_get(a, 9, &v), MP_OK);
    CU_ASSERT_EQUAL(mp_number_value(v), 9);
    CU_ASSERT_EQUAL(mp_array_set_length(a, 4294967296ull), MP_ERANGE);
    CU_ASSERT_EQUAL(mp_array_length(a), 100);
    /* sparse shrink */
    mp_value s = new_arr(4294967295u);
    CU_ASSERT_EQUAL(mp_array_set(s, 5, mp_number(5)), MP_OK);
    CU_ASSERT_EQUAL(mp_array_set(s, 500000, mp_number(6)), MP_OK);
    CU_ASSERT_EQUAL(mp_array_set(s, 4000000000u, mp_number(7)), MP_OK);
    CU_ASSERT_EQUAL(mp_array_set_length(s, 500000), MP_OK);
    CU_ASSERT_EQUAL(mp_array_element_count(s), 1);
    CU_ASSERT_EQUAL(mp_array_get(s, 500000, &v), MP_ENOTFOUND);
    CU_ASSERT_EQUAL(mp_array_get(s, 5, &v), MP_OK);
    CU_ASSERT_EQUAL(mp_array_set_length(s, 0), MP_OK);
    CU_ASSERT_EQUAL(mp_array_element_count(s), 0);
    CU_ASSERT_EQUAL(mp_array_length(s), 0);
    CU_ASSERT_EQUAL(mp_array_push(s, mp_number(1)), MP_OK);
    CU_ASSERT_EQUAL(mp_array_length(s), 1);
}

static void
test_named_props(void)
{
    mp_value a = new_arr(0);
    CU_ASSERT_EQUAL(mp_array_push(a, mp_number(10)), MP_OK);
    CU_ASSERT_EQUAL(mp_object_set_utf8(a, "foo", mp_number(1)), MP_OK);
    CU_ASSERT_EQUAL(mp_object_set_utf8(a, "-1", mp_number(2)), MP_OK);
    CU_ASSERT_EQUAL(mp_object_set_utf8(a, "4294967295", mp_number(3)), MP_OK); /* not an index */
    CU_ASSERT_EQUAL(mp_object_set_utf8(a, "2", mp_number(4)), MP_OK);          /* an element */
    CU_ASSERT_EQUAL(mp_object_set(a, mpt_str(R, "3"), mp_number(5)), MP_OK);   /* an element */
    CU_ASSERT_EQUAL(mp_array_length(a), 4);
    CU_ASSERT_EQUAL(mp_array_element_count(a), 3);
    CU_ASSERT_EQUAL(mp_object_count(a), 3);
    mp_value v;
    CU_ASSERT_EQUAL(mp_array_get(a, 2, &v), MP_OK);
    CU_ASSERT_EQUAL(mp_number_value(v), 4);
    CU_ASSERT_EQUAL(mp_object_get_utf8(a, "0", &v), MP_OK);
    CU_ASSERT_EQUAL(mp_number_value(v), 10);
    CU_ASSERT_EQUAL(mp_object_get_utf8(a, "1", &v), MP_ENOTFOUND);
    size_t cursor = 0;
    mp_value k;
    CU_ASSERT(mp_object_next(a, &cursor, &k, &v));
    CU_ASSERT(mp_string_equals_utf8(k, "foo", 3));
    CU_ASSERT(mp_object_next(a, &cursor, &k, &v));
    CU_ASSERT(mp_string_equals_utf8(k, "-1", 2));
    CU_ASSERT(mp_object_next(a, &cursor, &k, &v));
    CU_ASSERT(mp_string_equals_utf8(k, "4294967295", 10));
    CU_ASSERT(!mp_object_next(a, &cursor, &k, &v));
    CU_ASSERT_EQUAL(mp_object_delete(a, mpt_str(R, "2")), MP_OK);
    CU_ASSERT_EQUAL(mp_array_element_count(a), 2);
    CU_ASSERT_EQUAL(mp_object_delete(a, mpt_str(R, "2")), MP_ENOTFOUND);
    CU_ASSERT_EQUAL(mp_object_delete(a, mpt_str(R, "foo")), MP_OK);
    CU_ASSERT_EQUAL(mp_object_count(a), 2);
    /* set_length leaves named props alone */
    CU_ASSERT_EQUAL(mp_array_set_length(a, 0), MP_OK);
    CU_ASSERT_EQUAL(mp_object_count(a), 2);
}

static void
test_type_errors(void)
{
    mp_value o, v;
    CU_ASSERT_EQUAL(mp_object_new(R, &o), MP_OK);
    CU_ASSERT_EQUAL(mp_array_push(o, mp_null()), MP_ETYPE);
    CU_ASSERT_EQUAL(mp_array_get(o, 0, &v), MP_ETYPE);
    CU_ASSERT_EQUAL(mp_array_set_length(o, 1), MP_ETYPE);
    CU_ASSERT_EQUAL(mp_array_length(o), 0);
    CU_ASSERT_EQUAL(mp_array_element_count(mp_null()), 0);
    size_t cursor = 0;
    CU_ASSERT(!mp_array_next(o, &cursor, NULL, NULL));
}

int
main(void)
{
    if (mp_realm_new(NULL, &R) != MP_OK) return 2;
    static const mpt_test tests[] = {
        {"holes vs undefined", test_holes_vs_undefined},
        {"push, delete, iterate", test_push_and_iterate},
        {"length 4294967295 with three elements costs three", test_sparse_max_length},
        {"far index / far length go sparse", test_far_index_goes_sparse},
        {"set_length shrinks and grows", test_set_length},
        {"named properties beside elements", test_named_props},
        {"type errors", test_type_errors},
        {NULL, NULL},
    };
    int rc = mpt_run("arrays", tests);
    mp_realm_free(R);
    return rc;
}
