/* Map and Set: SameValueZero keys, insertion order, deletes, scale. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "testutil.h"

static mp_realm *R;

static mp_value
new_map(void)
{
    mp_value m;
    CU_ASSERT_EQUAL_FATAL(mp_map_new(R, &m), MP_OK);
    return m;
}

static void
test_same_value_zero(void)
{
    mp_value m = new_map();
    CU_ASSERT_EQUAL(mp_map_set(m, mp_number(NAN), mp_number(1)), MP_OK);
    CU_ASSERT_EQUAL(mp_map_set(m, mp_number(-NAN), mp_number(2)), MP_OK); /* same key */
    CU_ASSERT_EQUAL(mp_map_size(m), 1);
    mp_value v;
    CU_ASSERT_EQUAL(mp_map_get(m, mp_number(NAN), &v), MP_OK);
    CU_ASSERT_EQUAL(mp_number_value(v), 2);
    /* -0 and +0 are one key, stored as +0 */
    CU_ASSERT_EQUAL(mp_map_set(m, mp_number(-0.0), mp_number(3)), MP_OK);
    CU_ASSERT(mp_map_has(m, mp_number(0.0)));
    CU_ASSERT_EQUAL(mp_map_set(m, mp_number(0.0), mp_number(4)), MP_OK);
    CU_ASSERT_EQUAL(mp_map_size(m), 2);
    size_t cursor = 0;
    mp_value k;
    CU_ASSERT(mp_map_next(m, &cursor, &k, &v));
    CU_ASSERT(isnan(mp_number_value(k)));
    CU_ASSERT(mp_map_next(m, &cursor, &k, &v));
    CU_ASSERT_EQUAL(mp_number_value(k), 0);
    CU_ASSERT(!signbit(mp_number_value(k)));
    CU_ASSERT_EQUAL(mp_number_value(v), 4);
    /* strings by content (narrow and wide equal texts too) */
    CU_ASSERT_EQUAL(mp_map_set(m, mpt_str(R, "k"), mp_number(5)), MP_OK);
    CU_ASSERT_EQUAL(mp_map_set(m, mpt_str(R, "k"), mp_number(6)), MP_OK);
    CU_ASSERT_EQUAL(mp_map_size(m), 3);
    CU_ASSERT_EQUAL(mp_map_get(m, mpt_str(R, "k"), &v), MP_OK);
    CU_ASSERT_EQUAL(mp_number_value(v), 6);
    /* BigInts by content, distinct from numbers */
    mp_value b1, b2;
    CU_ASSERT_EQUAL(mp_bigint_from_int64(R, 1, &b1), MP_OK);
    CU_ASSERT_EQUAL(mp_bigint_from_string(R, "1", 1, &b2), MP_OK);
    CU_ASSERT_EQUAL(mp_map_set(m, b1, mp_number(7)), MP_OK);
    CU_ASSERT(mp_map_has(m, b2));
    CU_ASSERT(!mp_map_has(m, mp_number(1)));
    CU_ASSERT_EQUAL(mp_map_set(m, mp_number(1), mp_number(8)), MP_OK);
    CU_ASSERT_EQUAL(mp_map_size(m), 5);
    /* objects by identity */
    mp_value o1, o2;
    CU_ASSERT_EQUAL(mp_object_new(R, &o1), MP_OK);
    CU_ASSERT_EQUAL(mp_object_new(R, &o2), MP_OK);
    CU_ASSERT_EQUAL(mp_map_set(m, o1, mp_number(9)), MP_OK);
    CU_ASSERT(mp_map_has(m, o1));
    CU_ASSERT(!mp_map_has(m, o2));
    /* undefined, null, booleans are keys too */
    CU_ASSERT_EQUAL(mp_map_set(m, mp_undefined(), mp_number(10)), MP_OK);
    CU_ASSERT_EQUAL(mp_map_set(m, mp_null(), mp_number(11)), MP_OK);
    CU_ASSERT_EQUAL(mp_map_set(m, mp_boolean(false), mp_number(12)), MP_OK);
    CU_ASSERT(!mp_map_has(m, mp_boolean(true)));
    CU_ASSERT_EQUAL(mp_map_get(m, mp_null(), &v), MP_OK);
    CU_ASSERT_EQUAL(mp_number_value(v), 11);
    CU_ASSERT_EQUAL(mp_map_size(m), 9);
    v = mp_null();
    CU_ASSERT_EQUAL(mp_map_get(m, mp_boolean(true), &v), MP_ENOTFOUND);
    CU_ASSERT_EQUAL(mp_kind_of(v), MP_UNDEFINED);
    /* the primitives agree with the exported helpers */
    CU_ASSERT(mpi_same_value_zero(mp_number(-0.0), mp_number(0.0)));
    CU_ASSERT_EQUAL(mpi_hash_same_value_zero(mp_number(-0.0)), mpi_hash_same_value_zero(mp_number(0.0)));
    CU_ASSERT(!mp_same_value(mp_number(-0.0), mp_number(0.0)));
    CU_ASSERT(mp_same_value(mp_number(NAN), mp_number(NAN)));
    CU_ASSERT(!mpi_same_value_zero(mp_number(1), b1));
}

static void
test_order_after_delete(void)
{
    mp_value m = new_map();
    for (int i = 0; i < 5; i++)
        CU_ASSERT_EQUAL(mp_map_set(m, mp_number(i), mp_number(i * 10)), MP_OK);
    CU_ASSERT_EQUAL(mp_map_delete(m, mp_number(1)), MP_OK);
    CU_ASSERT_EQUAL(mp_map_delete(m, mp_number(1)), MP_ENOTFOUND);
    CU_ASSERT_EQUAL(mp_map_set(m, mp_number(1), mp_number(99)), MP_OK); /* re-added: goes last */
    CU_ASSERT_EQUAL(mp_map_set(m, mp_number(3), mp_number(33)), MP_OK); /* overwrite: stays */
    const double want_k[] = {0, 2, 3, 4, 1};
    const double want_v[] = {0, 20, 33, 40, 99};
    size_t cursor = 0;
    mp_value k, v;
    int n = 0;
    while (mp_map_next(m, &cursor, &k, &v)) {
        CU_ASSERT_FATAL(n < 5);
        CU_ASSERT_EQUAL(mp_number_value(k), want_k[n]);
        CU_ASSERT_EQUAL(mp_number_value(v), want_v[n]);
        n++;
    }
    CU_ASSERT_EQUAL(n, 5);
    CU_ASSERT_EQUAL(mp_map_size(m), 5);
    /* deleting while iterating visits each remaining entry once */
    cursor = 0;
    n = 0;
    while (mp_map_next(m, &cursor, &k, &v)) {
        CU_ASSERT_EQUAL(mp_map_delete(m, k), MP_OK);
        n++;
    }
    CU_ASSERT_EQUAL(n, 5);
    CU_ASSERT_EQUAL(mp_map_size(m), 0);
}

static void
test_set(void)
{
    mp_value s;
    CU_ASSERT_EQUAL_FATAL(mp_set_new(R, &s), MP_OK);
    CU_ASSERT_EQUAL(mp_kind_of(s), MP_SET);
    CU_ASSERT_EQUAL(mp_set_add(s, mpt_str(R, "a")), MP_OK);
    CU_ASSERT_EQUAL(mp_set_add(s, mp_number(-0.0)), MP_OK);
    CU_ASSERT_EQUAL(mp_set_add(s, mpt_str(R, "a")), MP_OK);
    CU_ASSERT_EQUAL(mp_set_add(s, mp_number(0)), MP_OK);
    CU_ASSERT_EQUAL(mp_set_add(s, s), MP_OK); /* a set containing itself */
    CU_ASSERT_EQUAL(mp_set_size(s), 3);
    CU_ASSERT(mp_set_has(s, s));
    CU_ASSERT_EQUAL(mp_set_delete(s, mpt_str(R, "a")), MP_OK);
    CU_ASSERT_EQUAL(mp_set_delete(s, mpt_str(R, "a")), MP_ENOTFOUND);
    CU_ASSERT_EQUAL(mp_set_add(s, mpt_str(R, "a")), MP_OK);
    size_t cursor = 0;
    mp_value k;
    CU_ASSERT(mp_set_next(s, &cursor, &k));
    CU_ASSERT_EQUAL(mp_kind_of(k), MP_NUMBER);
    CU_ASSERT(!signbit(mp_number_value(k)));
    CU_ASSERT(mp_set_next(s, &cursor, &k));
    CU_ASSERT(mp_same_value(k, s));
    CU_ASSERT(mp_set_next(s, &cursor, &k));
    CU_ASSERT(mp_string_equals_utf8(k, "a", 1));
    CU_ASSERT(!mp_set_next(s, &cursor, &k));
    /* Map calls on a Set and vice versa */
    mp_value v;
    CU_ASSERT_EQUAL(mp_map_set(s, mp_null(), mp_null()), MP_ETYPE);
    CU_ASSERT_EQUAL(mp_map_get(s, mp_null(), &v), MP_ETYPE);
    mp_value m = new_map();
    CU_ASSERT_EQUAL(mp_set_add(m, mp_null()), MP_ETYPE);
    CU_ASSERT_EQUAL(mp_set_size(m), 0);
    CU_ASSERT_EQUAL(mp_map_size(s), 0);
}

/* 100,000 keys, half deleted, half re-added: order and lookups hold, and
 * deleted space is reused rather than growing without bound. */
static void
test_100k(void)
{
    mp_value m = new_map();
    const int n = 100000;
    char key[32];
    for (int i = 0; i < n; i++) {
        snprintf(key, sizeof key, "s%d", i);
        mp_value k = (i % 2) ? mp_number(i) : mpt_str(R, key);
        CU_ASSERT_EQUAL_FATAL(mp_map_set(m, k, mp_number(i)), MP_OK);
    }
    CU_ASSERT_EQUAL(mp_map_size(m), (size_t)n);
    for (int i = 0; i < n; i += 2) {
        snprintf(key, sizeof key, "s%d", i);
        CU_ASSERT_EQUAL_FATAL(mp_map_delete(m, mpt_str(R, key)), MP_OK);
    }
    CU_ASSERT_EQUAL(mp_map_size(m), (size_t)n / 2);
    size_t bytes_after_delete = mp_realm_get_stats(R).bytes;
    /* churn: add and delete many times the same number of keys */
    for (int round = 0; round < 4; round++) {
        for (int i = 0; i < n / 2; i++)
            CU_ASSERT_EQUAL_FATAL(mp_map_set(m, mp_number(-1 - i), mp_number(round)), MP_OK);
        for (int i = 0; i < n / 2; i++)
            CU_ASSERT_EQUAL_FATAL(mp_map_delete(m, mp_number(-1 - i)), MP_OK);
    }
    CU_ASSERT(mp_realm_get_stats(R).bytes <= bytes_after_delete + (size_t)n * 48);
    CU_ASSERT_EQUAL(mp_map_size(m), (size_t)n / 2);
    size_t cursor = 0;
    mp_value k, v;
    int expect = 1, count = 0;
    bool ok = true;
    while (mp_map_next(m, &cursor, &k, &v)) {
        if (mp_number_value(k) != expect || mp_number_value(v) != expect) ok = false;
        expect += 2;
        count++;
    }
    CU_ASSERT(ok);
    CU_ASSERT_EQUAL(count, n / 2);
    bool found = true;
    for (int i = 0; i < n; i++) {
        snprintf(key, sizeof key, "s%d", i);
        bool has = (i % 2) ? mp_map_has(m, mp_number(i)) : mp_map_has(m, mpt_str(R, key));
        if (has != (i % 2 == 1)) found = false;
    }
    CU_ASSERT(found);
}

int
main(void)
{
    if (mp_realm_new(NULL, &R) != MP_OK) return 2;
    static const mpt_test tests[] = {
        {"SameValueZero keys", test_same_value_zero},
        {"insertion order after delete and re-add", test_order_after_delete},
        {"Set", test_set},
        {"100k keys with deletes and churn", test_100k},
        {NULL, NULL},
    };
    int rc = mpt_run("mapset", tests);
    mp_realm_free(R);
    return rc;
}
