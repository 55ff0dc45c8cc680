/* Objects: JavaScript property order, overwrite, delete, has, iteration. */
#include <stdio.h>
#include <string.h>

#include "testutil.h"

static mp_realm *R;

static mp_value
new_obj(void)
{
    mp_value o;
    CU_ASSERT_EQUAL_FATAL(mp_object_new(R, &o), MP_OK);
    return o;
}

/* Joins the keys in iteration order with ',' into buf. */
static void
keys_of(mp_value o, char *buf, size_t cap)
{
    size_t cursor = 0, w = 0;
    mp_value k;
    buf[0] = '\0';
    while (mp_object_next(o, &cursor, &k, NULL)) {
        if (w) w += (size_t)snprintf(buf + w, cap - w, ",");
        w += mp_string_to_utf8(k, buf + w, cap - w);
        if (w >= cap) break;
    }
}

static void
test_property_order(void)
{
    mp_value o = new_obj();
    const char *order[] = {"b", "10", "a", "2", "01", "4294967295", "4294967294", "-1", "0", "1.5", "c"};
    for (int i = 0; i < 11; i++)
        CU_ASSERT_EQUAL(mp_object_set_utf8(o, order[i], mp_number(i)), MP_OK);
    char buf[256];
    keys_of(o, buf, sizeof buf);
    /* index keys ascending, then the rest ("01", "4294967295", "-1", "1.5"
     * are not array indices) in insertion order */
    CU_ASSERT_STRING_EQUAL(buf, "0,2,10,4294967294,b,a,01,4294967295,-1,1.5,c");
    CU_ASSERT_EQUAL(mp_object_count(o), 11);
    mp_value v;
    CU_ASSERT_EQUAL(mp_object_get_utf8(o, "4294967294", &v), MP_OK);
    CU_ASSERT_EQUAL(mp_number_value(v), 6);
    CU_ASSERT_EQUAL(mp_object_get_utf8(o, "01", &v), MP_OK);
    CU_ASSERT_EQUAL(mp_number_value(v), 4);
}

static void
test_overwrite_keeps_position(void)
{
    mp_value o = new_obj();
    CU_ASSERT_EQUAL(mp_object_set_utf8(o, "x", mp_number(1)), MP_OK);
    CU_ASSERT_EQUAL(mp_object_set_utf8(o, "y", mp_number(2)), MP_OK);
    size_t values = mp_realm_get_stats(R).values;
    CU_ASSERT_EQUAL(mp_object_set_utf8(o, "x", mp_number(3)), MP_OK);
    CU_ASSERT_EQUAL(mp_realm_get_stats(R).values, values); /* no new key string */
    char buf[64];
    keys_of(o, buf, sizeof buf);
    CU_ASSERT_STRING_EQUAL(buf, "x,y");
    CU_ASSERT_EQUAL(mp_object_count(o), 2);
    mp_value v;
    CU_ASSERT_EQUAL(mp_object_get(o, mpt_str(R, "x"), &v), MP_OK);
    CU_ASSERT_EQUAL(mp_number_value(v), 3);
    CU_ASSERT_EQUAL(mp_object_set(o, mpt_str(R, "y"), mp_number(4)), MP_OK);
    CU_ASSERT_EQUAL(mp_object_get_utf8(o, "y", &v), MP_OK);
    CU_ASSERT_EQUAL(mp_number_value(v), 4);
    /* value undefined is a present property */
    CU_ASSERT_EQUAL(mp_object_set_utf8(o, "u", mp_undefined()), MP_OK);
    CU_ASSERT(mp_object_has(o, mpt_str(R, "u")));
    CU_ASSERT_EQUAL(mp_object_get_utf8(o, "u", &v), MP_OK);
    CU_ASSERT_EQUAL(mp_kind_of(v), MP_UNDEFINED);
}

static void
test_delete_and_has(void)
{
    mp_value o = new_obj();
    const char *keys[] = {"a", "5", "b", "1", "c"};
    for (int i = 0; i < 5; i++)
        CU_ASSERT_EQUAL(mp_object_set_utf8(o, keys[i], mp_number(i)), MP_OK);
    CU_ASSERT_EQUAL(mp_object_delete(o, mpt_str(R, "b")), MP_OK);
    CU_ASSERT_EQUAL(mp_object_delete(o, mpt_str(R, "5")), MP_OK);
    CU_ASSERT_EQUAL(mp_object_delete(o, mpt_str(R, "b")), MP_ENOTFOUND);
    CU_ASSERT_EQUAL(mp_object_delete(o, mpt_str(R, "zz")), MP_ENOTFOUND);
    CU_ASSERT(!mp_object_has(o, mpt_str(R, "b")));
    CU_ASSERT(!mp_object_has(o, mpt_str(R, "5")));
    CU_ASSERT(mp_object_has(o, mpt_str(R, "a")));
    CU_ASSERT(mp_object_has(o, mpt_str(R, "1")));
    CU_ASSERT_EQUAL(mp_object_count(o), 3);
    mp_value v = mp_null();
    CU_ASSERT_EQUAL(mp_object_get_utf8(o, "b", &v), MP_ENOTFOUND);
    CU_ASSERT_EQUAL(mp_kind_of(v), MP_UNDEFINED);
    char buf[64];
    keys_of(o, buf, sizeof buf);
    CU_ASSERT_STRING_EQUAL(buf, "1,a,c");
    /* re-adding: a named key goes to the end, an index key to its place */
    CU_ASSERT_EQUAL(mp_object_set_utf8(o, "b", mp_boolean(true)), MP_OK);
    CU_ASSERT_EQUAL(mp_object_set_utf8(o, "5", mp_boolean(false)), MP_OK);
    CU_ASSERT_EQUAL(mp_object_set_utf8(o, "3", mp_null()), MP_OK);
    keys_of(o, buf, sizeof buf);
    CU_ASSERT_STRING_EQUAL(buf, "1,3,5,a,c,b");
    CU_ASSERT_EQUAL(mp_object_get_utf8(o, "b", &v), MP_OK);
    CU_ASSERT(mp_boolean_value(v));
    /* delete everything, then reuse */
    const char *all[] = {"1", "3", "5", "a", "c", "b"};
    for (int i = 0; i < 6; i++)
        CU_ASSERT_EQUAL(mp_object_delete(o, mpt_str(R, all[i])), MP_OK);
    CU_ASSERT_EQUAL(mp_object_count(o), 0);
    size_t cursor = 0;
    CU_ASSERT(!mp_object_next(o, &cursor, NULL, NULL));
    CU_ASSERT_EQUAL(mp_object_set_utf8(o, "z", mp_number(1)), MP_OK);
    keys_of(o, buf, sizeof buf);
    CU_ASSERT_STRING_EQUAL(buf, "z");
}

/* Many keys: the hash index, tombstones and compaction keep order. */
static void
test_many_keys(void)
{
    mp_value o = new_obj();
    const int n = 20000;
    char key[32];
    for (int i = 0; i < n; i++) {
        snprintf(key, sizeof key, "key%d", i);
        CU_ASSERT_EQUAL_FATAL(mp_object_set_utf8(o, key, mp_number(i)), MP_OK);
    }
    for (int i = 0; i < n; i += 2) {
        snprintf(key, sizeof key, "key%d", i);
        CU_ASSERT_EQUAL_FATAL(mp_object_delete(o, mpt_str(R, key)), MP_OK);
    }
    CU_ASSERT_EQUAL(mp_object_count(o), (size_t)n / 2);
    /* more inserts force compaction of the tombstones */
    for (int i = n; i < 2 * n; i++) {
        snprintf(key, sizeof key, "key%d", i);
        CU_ASSERT_EQUAL_FATAL(mp_object_set_utf8(o, key, mp_number(i)), MP_OK);
    }
    CU_ASSERT_EQUAL(mp_object_count(o), (size_t)n / 2 + n);
    size_t cursor = 0;
    mp_value k, v;
    int seen = 0;
    bool in_order = true;
    while (mp_object_next(o, &cursor, &k, &v)) {
        /* the surviving odd keys, then the new ones */
        int expect = seen < n / 2 ? 2 * seen + 1 : n + (seen - n / 2);
        snprintf(key, sizeof key, "key%d", expect);
        if (!mp_string_equals_utf8(k, key, strlen(key)) || mp_number_value(v) != expect) in_order = false;
        seen++;
    }
    CU_ASSERT(in_order);
    CU_ASSERT_EQUAL(seen, n / 2 + n);
    for (int i = 0; i < 2 * n; i++) {
        snprintf(key, sizeof key, "key%d", i);
        bool present = (i >= n) || (i % 2 == 1);
        mp_value got;
        mp_status st = mp_object_get_utf8(o, key, &got);
        if (present) {
            CU_ASSERT_EQUAL(st, MP_OK);
            CU_ASSERT_EQUAL(mp_number_value(got), i);
        } else {
            CU_ASSERT_EQUAL(st, MP_ENOTFOUND);
        }
    }
    /* many index keys inserted in reverse end up ascending */
    mp_value ix = new_obj();
    CU_ASSERT_EQUAL(mp_object_set_utf8(ix, "name", mp_null()), MP_OK);
    for (int i = 999; i >= 0; i--) {
        snprintf(key, sizeof key, "%d", i * 3);
        CU_ASSERT_EQUAL_FATAL(mp_object_set_utf8(ix, key, mp_number(i)), MP_OK);
    }
    cursor = 0;
    int prev = -1;
    bool ascending = true;
    int count = 0;
    while (mp_object_next(ix, &cursor, &k, &v)) {
        if (count == 1000) {
            CU_ASSERT(mp_string_equals_utf8(k, "name", 4));
        } else if ((int)mp_number_value(v) != prev + 1) {
            ascending = false;
        }
        prev = (int)mp_number_value(v);
        count++;
    }
    CU_ASSERT(ascending);
    CU_ASSERT_EQUAL(count, 1001);
    CU_ASSERT_EQUAL(mp_object_delete(ix, mpt_str(R, "300")), MP_OK);
    CU_ASSERT(!mp_object_has(ix, mpt_str(R, "300")));
    CU_ASSERT(mp_object_has(ix, mpt_str(R, "303")));
    CU_ASSERT_EQUAL(mp_object_get_utf8(ix, "2997", &v), MP_OK);
    CU_ASSERT_EQUAL(mp_number_value(v), 999);
}

static void
test_keys_non_ascii(void)
{
    mp_value o = new_obj();
    CU_ASSERT_EQUAL(mp_object_set_utf8(o, "caf\xC3\xA9", mp_number(1)), MP_OK);
    CU_ASSERT_EQUAL(mp_object_set_utf8(o, "\xE2\x82\xAC", mp_number(2)), MP_OK);
    uint16_t units[] = {0x20AC};
    mp_value euro;
    CU_ASSERT_EQUAL(mp_string_from_utf16(R, units, 1, &euro), MP_OK);
    mp_value v;
    CU_ASSERT_EQUAL(mp_object_get(o, euro, &v), MP_OK);
    CU_ASSERT_EQUAL(mp_number_value(v), 2);
    CU_ASSERT_EQUAL(mp_object_get_utf8(o, "caf\xC3\xA9", &v), MP_OK);
    CU_ASSERT_EQUAL(mp_number_value(v), 1);
    CU_ASSERT_EQUAL(mp_object_set_utf8(o, "bad\xC0\x80", mp_number(3)), MP_EINVAL);
    CU_ASSERT_EQUAL(mp_object_count(o), 2);
    /* a long key (past the on-stack buffer) */
    char longkey[400];
    memset(longkey, 'k', sizeof longkey - 1);
    longkey[sizeof longkey - 1] = '\0';
    CU_ASSERT_EQUAL(mp_object_set_utf8(o, longkey, mp_number(4)), MP_OK);
    CU_ASSERT_EQUAL(mp_object_get_utf8(o, longkey, &v), MP_OK);
    CU_ASSERT_EQUAL(mp_number_value(v), 4);
}

/* A new object keeps its first properties in its own block: filling it,
 * deleting there, then growing past it keeps order and values, and
 * collecting the object gives back every byte it took. */
static void
test_grow_past_inline(void)
{
    mp_realm *r;
    CU_ASSERT_EQUAL_FATAL(mp_realm_new(NULL, &r), MP_OK);
    /* a survivor, so that the collection frees the others one by one */
    mp_value keep;
    CU_ASSERT_EQUAL_FATAL(mp_object_new(r, &keep), MP_OK);
    size_t kept_bytes = mp_realm_get_stats(r).bytes;
    mp_value o;
    CU_ASSERT_EQUAL_FATAL(mp_object_new(r, &o), MP_OK);
    const char *first[] = {"a", "b", "c", "d"};
    for (int i = 0; i < 4; i++)
        CU_ASSERT_EQUAL(mp_object_set_utf8(o, first[i], mp_number(i)), MP_OK);
    CU_ASSERT_EQUAL(mp_object_delete(o, mpt_str(r, "b")), MP_OK);
    CU_ASSERT_EQUAL(mp_object_set_utf8(o, "e", mp_number(4)), MP_OK);
    CU_ASSERT_EQUAL(mp_object_set_utf8(o, "7", mp_number(7)), MP_OK);
    for (int i = 0; i < 30; i++) {
        char k[16];
        snprintf(k, sizeof k, "x%d", i);
        CU_ASSERT_EQUAL(mp_object_set_utf8(o, k, mp_number(100 + i)), MP_OK);
    }
    char buf[512];
    keys_of(o, buf, sizeof buf);
    CU_ASSERT_STRING_EQUAL(buf, "7,a,c,d,e,x0,x1,x2,x3,x4,x5,x6,x7,x8,x9,x10,x11,x12,x13,x14,x15,x16,x17,x18,x19,x20,"
                                "x21,x22,x23,x24,x25,x26,x27,x28,x29");
    mp_value v;
    CU_ASSERT_EQUAL(mp_object_get_utf8(o, "d", &v), MP_OK);
    CU_ASSERT_EQUAL(mp_number_value(v), 3);
    CU_ASSERT_EQUAL(mp_object_get_utf8(o, "x29", &v), MP_OK);
    CU_ASSERT_EQUAL(mp_number_value(v), 129);
    CU_ASSERT_EQUAL(mp_object_get_utf8(o, "b", &v), MP_ENOTFOUND);
    mp_realm_collect(r, &keep, 1);
    CU_ASSERT_EQUAL(mp_realm_get_stats(r).values, 1);
    CU_ASSERT_EQUAL(mp_realm_get_stats(r).bytes, kept_bytes);
    mp_realm_free(r);
}

static void
test_errors(void)
{
    mp_value o = new_obj();
    mp_value v;
    CU_ASSERT_EQUAL(mp_object_set(o, mp_number(1), mp_null()), MP_ETYPE);
    CU_ASSERT_EQUAL(mp_object_set_utf8(mp_number(1), "a", mp_null()), MP_ETYPE);
    mp_value m;
    CU_ASSERT_EQUAL(mp_map_new(R, &m), MP_OK);
    CU_ASSERT_EQUAL(mp_object_set_utf8(m, "a", mp_null()), MP_ETYPE);
    CU_ASSERT_EQUAL(mp_object_get(o, mp_null(), &v), MP_ETYPE);
    CU_ASSERT_EQUAL(mp_object_delete(o, mp_null()), MP_ETYPE);
    CU_ASSERT(!mp_object_has(o, mp_null()));
    CU_ASSERT_EQUAL(mp_object_count(mp_null()), 0);
    CU_ASSERT_EQUAL(mp_object_count(o), 0);
    CU_ASSERT(mp_is_object(o));
    CU_ASSERT_EQUAL(mp_kind_of(o), MP_OBJECT);
}

int
main(void)
{
    if (mp_realm_new(NULL, &R) != MP_OK) return 2;
    static const mpt_test tests[] = {
        {"JS property order", test_property_order},
        {"overwrite keeps the position", test_overwrite_keeps_position},
        {"delete and has", test_delete_and_has},
        {"20k keys with deletes keep order", test_many_keys},
        {"non-ASCII and long keys", test_keys_non_ascii},
        {"growing past the inline properties", test_grow_past_inline},
        {"type errors", test_errors},
        {NULL, NULL},
    };
    int rc = mpt_run("objects", tests);
    mp_realm_free(R);
    return rc;
}
