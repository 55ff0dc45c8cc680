/* Realms: accounting, collection of cyclic garbage, deep chains, freeing. */
#include <string.h>

#include "testutil.h"

static mp_realm *
new_realm(mpt_alloc *a)
{
    mp_realm *r = NULL;
    CU_ASSERT_EQUAL_FATAL(mp_realm_new(a ? &a->alc : NULL, &r), MP_OK);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    return r;
}

static void
test_empty_realm(void)
{
    mpt_alloc a;
    mpt_alloc_init(&a);
    mp_realm *r = new_realm(&a);
    mp_realm_stats s = mp_realm_get_stats(r);
    CU_ASSERT_EQUAL(s.values, 0);
    CU_ASSERT_EQUAL(s.bytes, 0);
    mp_value o;
    CU_ASSERT_EQUAL(mp_object_new(r, &o), MP_OK);
    CU_ASSERT_PTR_EQUAL(mp_value_realm(o), r);
    CU_ASSERT_PTR_NULL(mp_value_realm(mp_number(1)));
    s = mp_realm_get_stats(r);
    CU_ASSERT_EQUAL(s.values, 1);
    CU_ASSERT(s.bytes > 0);
    mp_realm_free(r);
    CU_ASSERT_EQUAL(a.live_bytes, 0);
    mp_realm_free(NULL);
}

/* The reserved bytes must equal what the allocator sees the realm holding,
 * and the bytes in use can never exceed them. */
static void
test_bytes_exact(void)
{
    mpt_alloc a;
    mpt_alloc_init(&a);
    mp_realm *r = new_realm(&a);
    long long base = a.live_bytes; /* the realm struct itself */
    mp_value arr, m, o;
    CU_ASSERT_EQUAL(mp_array_new(r, 0, &arr), MP_OK);
    CU_ASSERT_EQUAL(mp_map_new(r, &m), MP_OK);
    CU_ASSERT_EQUAL(mp_object_new(r, &o), MP_OK);
    for (int i = 0; i < 1000; i++) {
        char key[32];
        snprintf(key, sizeof key, "k%d", i);
        CU_ASSERT_EQUAL(mp_array_push(arr, mpt_str(r, key)), MP_OK);
        CU_ASSERT_EQUAL(mp_map_set(m, mp_number(i), mp_number(i)), MP_OK);
        CU_ASSERT_EQUAL(mp_object_set_utf8(o, key, mp_number(i)), MP_OK);
    }
    for (int i = 0; i < 500; i++)
        CU_ASSERT_EQUAL(mp_map_delete(m, mp_number(i)), MP_OK);
    CU_ASSERT_EQUAL(mp_array_set_length(arr, 10), MP_OK);
    CU_ASSERT_EQUAL(mp_realm_get_stats(r).reserved, (size_t)(a.live_bytes - base));
    CU_ASSERT(mp_realm_get_stats(r).bytes <= mp_realm_get_stats(r).reserved);
    mp_realm_collect(r, &o, 1);
    CU_ASSERT_EQUAL(mp_realm_get_stats(r).reserved, (size_t)(a.live_bytes - base));
    CU_ASSERT(mp_realm_get_stats(r).bytes <= mp_realm_get_stats(r).reserved);
    CU_ASSERT_EQUAL(mp_object_count(o), 1000);
    mp_realm_free(r);
    CU_ASSERT_EQUAL(a.live_bytes, 0);
}

/* 1,000,000 objects in one big cycle (plus strings) become garbage. */
static void
test_collect_cyclic_garbage(void)
{
    mpt_alloc a;
    mpt_alloc_init(&a);
    mp_realm *r = new_realm(&a);
    mp_value keep;
    CU_ASSERT_EQUAL_FATAL(mp_object_new(r, &keep), MP_OK);
    CU_ASSERT_EQUAL(mp_object_set_utf8(keep, "name", mpt_str(r, "kept")), MP_OK);
    size_t start_bytes = mp_realm_get_stats(r).bytes;
    size_t start_values = mp_realm_get_stats(r).values;
    long long start_held = a.live_bytes;

    const int n = 1000000;
    mp_value first, prev;
    CU_ASSERT_EQUAL_FATAL(mp_array_new(r, 0, &first), MP_OK);
    prev = first;
    for (int i = 1; i < n; i++) {
        mp_value cur;
        CU_ASSERT_EQUAL_FATAL(mp_array_new(r, 0, &cur), MP_OK);
        CU_ASSERT_EQUAL_FATAL(mp_array_push(prev, cur), MP_OK);
        prev = cur;
    }
    CU_ASSERT_EQUAL(mp_array_push(prev, first), MP_OK); /* close the cycle */
    CU_ASSERT(mp_realm_get_stats(r).bytes > start_bytes + (size_t)n * 16);
    CU_ASSERT_EQUAL(mp_realm_get_stats(r).values, start_values + (size_t)n);

    mp_realm_collect(r, &keep, 1);
    CU_ASSERT_EQUAL(mp_realm_get_stats(r).values, start_values);
    CU_ASSERT_EQUAL(mp_realm_get_stats(r).bytes, start_bytes);
    /* The memory went back to the allocator, not just to the realm: at most
     * the one chunk still being allocated from stays. */
    CU_ASSERT(a.live_bytes <= start_held + 64 * 1024);
    mp_value name;
    CU_ASSERT_EQUAL(mp_object_get_utf8(keep, "name", &name), MP_OK);
    CU_ASSERT(mp_string_equals_utf8(name, "kept", 4));
    mp_realm_free(r);
    CU_ASSERT_EQUAL(a.live_bytes, 0);
}

/* Everything reachable survives, with its contents, through every kind. */
static void
test_collect_keeps_reachable(void)
{
    mpt_alloc a;
    mpt_alloc_init(&a);
    mp_realm *r = new_realm(&a);
    mp_value root, arr, map, set, err, re, boxed, big, date, host;
    CU_ASSERT_EQUAL_FATAL(mp_object_new(r, &root), MP_OK);
    CU_ASSERT_EQUAL_FATAL(mp_array_new(r, 4294967295u, &arr), MP_OK);
    CU_ASSERT_EQUAL(mp_array_set(arr, 7, mpt_str(r, "seven")), MP_OK);
    CU_ASSERT_EQUAL(mp_object_set_utf8(arr, "extra", mpt_str(r, "named")), MP_OK);
    CU_ASSERT_EQUAL_FATAL(mp_map_new(r, &map), MP_OK);
    CU_ASSERT_EQUAL(mp_map_set(map, mpt_str(r, "mk"), mpt_str(r, "mv")), MP_OK);
    CU_ASSERT_EQUAL_FATAL(mp_set_new(r, &set), MP_OK);
    CU_ASSERT_EQUAL(mp_set_add(set, mpt_str(r, "member")), MP_OK);
    CU_ASSERT_EQUAL_FATAL(mp_error_new(r, MP_ERR_TYPE, mpt_str(r, "msg"), &err), MP_OK);
    CU_ASSERT_EQUAL(mp_error_set_stack(err, mpt_str(r, "at x")), MP_OK);
    CU_ASSERT_EQUAL(mp_error_set_cause(err, mpt_str(r, "why")), MP_OK);
    CU_ASSERT_EQUAL_FATAL(mp_regexp_new(r, mpt_str(r, "a+b"), "gi", &re), MP_OK);
    CU_ASSERT_EQUAL_FATAL(mp_boxed_new(r, mpt_str(r, "boxed"), &boxed), MP_OK);
    CU_ASSERT_EQUAL_FATAL(mp_bigint_from_string(r, "123456789012345678901234567890", 30, &big), MP_OK);
    CU_ASSERT_EQUAL_FATAL(mp_date_new(r, 1e12, &date), MP_OK);
    int token;
    CU_ASSERT_EQUAL_FATAL(mp_host_new(r, 42, &token, &host), MP_OK);
    mp_value parts[] = {arr, map, set, err, re, boxed, big, date, host};
    const char *names[] = {"arr", "map", "set", "err", "re", "boxed", "big", "date", "host"};
    for (int i = 0; i < 9; i++)
        CU_ASSERT_EQUAL(mp_object_set_utf8(root, names[i], parts[i]), MP_OK);
    size_t live_values = mp_realm_get_stats(r).values;
    size_t live_bytes = mp_realm_get_stats(r).bytes;

    /* Garbage of every kind beside it. */
    for (int i = 0; i < 100; i++) {
        mp_value g, s, e;
        CU_ASSERT_EQUAL(mp_object_new(r, &g), MP_OK);
        CU_ASSERT_EQUAL(mp_object_set_utf8(g, "self", g), MP_OK);
        CU_ASSERT_EQUAL(mp_set_new(r, &s), MP_OK);
        CU_ASSERT_EQUAL(mp_set_add(s, g), MP_OK);
        CU_ASSERT_EQUAL(mp_error_new(r, MP_ERR_ERROR, mpt_str(r, "x"), &e), MP_OK);
        CU_ASSERT_EQUAL(mp_error_set_cause(e, e), MP_OK);
    }
    mp_value roots[] = {mp_number(1), root, mp_undefined()};
    mp_realm_collect(r, roots, 3);
    CU_ASSERT_EQUAL(mp_realm_get_stats(r).values, live_values);
    CU_ASSERT_EQUAL(mp_realm_get_stats(r).bytes, live_bytes);

    mp_value v;
    char buf[64];
    CU_ASSERT_EQUAL(mp_array_get(arr, 7, &v), MP_OK);
    CU_ASSERT(mp_string_equals_utf8(v, "seven", 5));
    CU_ASSERT_EQUAL(mp_object_get_utf8(arr, "extra", &v), MP_OK);
    CU_ASSERT(mp_string_equals_utf8(v, "named", 5));
    CU_ASSERT_EQUAL(mp_map_get(map, mpt_str(r, "mk"), &v), MP_OK);
    CU_ASSERT(mp_string_equals_utf8(v, "mv", 2));
    CU_ASSERT(mp_set_has(set, mpt_str(r, "member")));
    CU_ASSERT(mp_string_equals_utf8(mp_error_message(err), "msg", 3));
    CU_ASSERT(mp_string_equals_utf8(mp_error_stack(err), "at x", 4));
    CU_ASSERT_EQUAL(mp_error_cause(err, &v), MP_OK);
    CU_ASSERT(mp_string_equals_utf8(v, "why", 3));
    CU_ASSERT(mp_string_equals_utf8(mp_regexp_source(re), "a+b", 3));
    CU_ASSERT(mp_string_equals_utf8(mp_boxed_value(boxed), "boxed", 5));
    CU_ASSERT_EQUAL(mp_bigint_to_string(big, buf, sizeof buf), 30);
    CU_ASSERT_STRING_EQUAL(buf, "123456789012345678901234567890");
    CU_ASSERT_EQUAL(mp_date_value(date), 1e12);
    CU_ASSERT_PTR_EQUAL(mp_host_ptr(host), &token);

    /* Nothing reachable: everything goes. */
    mp_realm_collect(r, NULL, 0);
    CU_ASSERT_EQUAL(mp_realm_get_stats(r).values, 0);
    CU_ASSERT_EQUAL(mp_realm_get_stats(r).bytes, 0);
    mp_realm_free(r);
    CU_ASSERT_EQUAL(a.live_bytes, 0);
}

/* A 1,000,000-deep chain: marking must not recurse. */
static void
test_collect_deep_chain(void)
{
    mp_realm *r = new_realm(NULL);
    const int n = 1000000;
    mp_value head;
    CU_ASSERT_EQUAL_FATAL(mp_object_new(r, &head), MP_OK);
    mp_value cur = head;
    for (int i = 0; i < n; i++) {
        mp_value next;
        CU_ASSERT_EQUAL_FATAL(mp_object_new(r, &next), MP_OK);
        CU_ASSERT_EQUAL_FATAL(mp_object_set_utf8(cur, "next", next), MP_OK);
        cur = next;
    }
    /* 1,000,001 objects; their key "next" is one of the realm's atoms,
     * shared by all and not counted among the values */
    CU_ASSERT_EQUAL(mp_realm_get_stats(r).values, 1000001);
    mp_realm_collect(r, &head, 1);
    CU_ASSERT_EQUAL(mp_realm_get_stats(r).values, 1000001);
    /* walk it: intact */
    int depth = 0;
    mp_value v = head, next;
    while (mp_object_get_utf8(v, "next", &next) == MP_OK) {
        v = next;
        depth++;
    }
    CU_ASSERT_EQUAL(depth, n);
    /* keep only the second half */
    v = head;
    for (int i = 0; i < n / 2; i++)
        CU_ASSERT_EQUAL(mp_object_get_utf8(v, "next", &v), MP_OK);
    mp_realm_collect(r, &v, 1);
    CU_ASSERT_EQUAL(mp_realm_get_stats(r).values, (size_t)(n / 2 + 1));
    mp_realm_free(r);
}

/* Freeing a realm full of cycles leaks nothing. */
static void
test_free_with_cycles(void)
{
    mpt_alloc a;
    mpt_alloc_init(&a);
    mp_realm *r = new_realm(&a);
    for (int i = 0; i < 1000; i++) {
        mp_value o, arr, m, e;
        CU_ASSERT_EQUAL(mp_object_new(r, &o), MP_OK);
        CU_ASSERT_EQUAL(mp_array_new(r, 0, &arr), MP_OK);
        CU_ASSERT_EQUAL(mp_map_new(r, &m), MP_OK);
        CU_ASSERT_EQUAL(mp_error_new(r, MP_ERR_RANGE, mp_undefined(), &e), MP_OK);
        CU_ASSERT_EQUAL(mp_object_set_utf8(o, "a", arr), MP_OK);
        CU_ASSERT_EQUAL(mp_array_push(arr, m), MP_OK);
        CU_ASSERT_EQUAL(mp_map_set(m, o, e), MP_OK);
        CU_ASSERT_EQUAL(mp_error_set_cause(e, o), MP_OK);
    }
    CU_ASSERT(a.live_bytes > 1000 * 4 * 32);
    mp_realm_free(r);
    CU_ASSERT_EQUAL(a.live_bytes, 0);
}

/* Values of another realm are rejected; roots of another realm ignored. */
static void
test_cross_realm(void)
{
    mp_realm *r1 = new_realm(NULL), *r2 = new_realm(NULL);
    mp_value o1, o2, a1, m1, e1;
    CU_ASSERT_EQUAL_FATAL(mp_object_new(r1, &o1), MP_OK);
    CU_ASSERT_EQUAL_FATAL(mp_object_new(r2, &o2), MP_OK);
    CU_ASSERT_EQUAL_FATAL(mp_array_new(r1, 0, &a1), MP_OK);
    CU_ASSERT_EQUAL_FATAL(mp_map_new(r1, &m1), MP_OK);
    CU_ASSERT_EQUAL_FATAL(mp_error_new(r1, MP_ERR_ERROR, mp_undefined(), &e1), MP_OK);
    mp_value s2 = mpt_str(r2, "other");
    CU_ASSERT_EQUAL(mp_object_set_utf8(o1, "x", o2), MP_EREALM);
    CU_ASSERT_EQUAL(mp_object_set(o1, s2, mp_number(1)), MP_EREALM);
    CU_ASSERT_EQUAL(mp_array_push(a1, s2), MP_EREALM);
    CU_ASSERT_EQUAL(mp_array_length(a1), 0);
    CU_ASSERT_EQUAL(mp_map_set(m1, s2, mp_null()), MP_EREALM);
    CU_ASSERT_EQUAL(mp_map_size(m1), 0);
    CU_ASSERT_EQUAL(mp_error_set_cause(e1, o2), MP_EREALM);
    CU_ASSERT_EQUAL(mp_error_cause(e1, NULL), MP_ENOTFOUND);
    mp_value re;
    CU_ASSERT_EQUAL(mp_regexp_new(r1, s2, "", &re), MP_EREALM);
    CU_ASSERT_EQUAL(mp_boxed_new(r1, s2, &re), MP_EREALM);
    CU_ASSERT_EQUAL(mp_object_count(o1), 0);
    size_t before = mp_realm_get_stats(r2).values;
    mp_realm_collect(r1, &o2, 1); /* a foreign root: r1 keeps nothing */
    CU_ASSERT_EQUAL(mp_realm_get_stats(r1).values, 0);
    CU_ASSERT_EQUAL(mp_realm_get_stats(r2).values, before);
    mp_realm_free(r1);
    mp_realm_free(r2);
}

/* With the allocator failing at every step in turn, calls report ENOMEM
 * and leave byte counts consistent. */
static void
test_alloc_failure(void)
{
    for (long long k = 1; k < 40; k++) {
        mpt_alloc a;
        mpt_alloc_init(&a);
        mp_realm *r = NULL;
        a.fail_at = k;
        if (mp_realm_new(&a.alc, &r) != MP_OK) {
            CU_ASSERT_EQUAL(a.live_bytes, 0);
            continue;
        }
        long long base = a.live_bytes; /* the realm struct */
        mp_value o = mp_undefined(), arr = mp_undefined();
        mp_status st = mp_object_new(r, &o);
        if (st == MP_OK) {
            for (int i = 0; i < 20; i++) {
                char key[16];
                snprintf(key, sizeof key, "key%d", i);
                st = mp_object_set_utf8(o, key, mp_number(i));
                CU_ASSERT(st == MP_OK || st == MP_ENOMEM);
                if (st == MP_ENOMEM) CU_ASSERT_EQUAL(mp_object_get_utf8(o, key, NULL), MP_ENOTFOUND);
            }
        }
        if (mp_array_new(r, 0, &arr) == MP_OK) {
            for (int i = 0; i < 20; i++) {
                size_t len = mp_array_length(arr);
                st = mp_array_push(arr, mp_number(i));
                if (st != MP_OK) CU_ASSERT_EQUAL(mp_array_length(arr), len);
            }
        }
        CU_ASSERT_EQUAL(mp_realm_get_stats(r).reserved, (size_t)(a.live_bytes - base));
        mp_realm_free(r);
        CU_ASSERT_EQUAL(a.live_bytes, 0);
    }
}

int
main(void)
{
    static const mpt_test tests[] = {
        {"empty realm, stats, free", test_empty_realm},
        {"realm bytes match the allocator", test_bytes_exact},
        {"collect 1,000,000-node cyclic garbage", test_collect_cyclic_garbage},
        {"collect keeps reachable values of every kind", test_collect_keeps_reachable},
        {"collect a 1,000,000-deep chain", test_collect_deep_chain},
        {"realm free with cycles leaks nothing", test_free_with_cycles},
        {"cross-realm values rejected", test_cross_realm},
        {"allocation failures", test_alloc_failure},
        {NULL, NULL},
    };
    return mpt_run("realm", tests);
}
