/* The codec's fast paths and the general paths they fall back to: object
 * shapes in the decoder (a key matched against the last object of the
 * same size, and every way a match can fail), the number fast paths, the
 * atom lookups, and identity marks kept in cell headers during a walk
 * (cleared on every exit, a walk started from a host hook inside another,
 * mp_realm_collect from a hook), mp_realm_collect freeing a realm's
 * chunks at once when nothing is reachable, the realm's atoms, and big
 * Maps and Sets (the direct clone fetches their buckets ahead). */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "codec_internal.h" /* MPI_ATOMS_MAX, MPI_ATOM_MAX_LEN */
#include "testutil.h"

static mp_realm *A, *B;

static void
setup(void)
{
    CU_ASSERT_EQUAL_FATAL(mp_realm_new(NULL, &A), MP_OK);
    CU_ASSERT_EQUAL_FATAL(mp_realm_new(NULL, &B), MP_OK);
}

static void
teardown(void)
{
    mp_realm_free(A);
    mp_realm_free(B);
    A = B = NULL;
}

/* Decodes bytes (a version byte 1 is prepended) into B. */
static mp_status
decode(const uint8_t *bytes, size_t n, mp_value *out)
{
    uint8_t buf[512];
    CU_ASSERT_FATAL(n + 1 <= sizeof buf);
    buf[0] = 1;
    memcpy(buf + 1, bytes, n);
    mp_message *m;
    CU_ASSERT_EQUAL_FATAL(mp_message_from_bytes(buf, n + 1, NULL, &m), MP_OK);
    return mp_deserialize(m, B, NULL, out, NULL);
}

/* Serializes v and decodes it into B; checks graph equality. */
static mp_value
round_trip(mp_value v)
{
    mp_message *m;
    mp_value out = mp_undefined();
    CU_ASSERT_EQUAL_FATAL(mp_serialize(v, NULL, 0, &m, NULL), MP_OK);
    CU_ASSERT_EQUAL_FATAL(mp_deserialize(m, B, NULL, &out, NULL), MP_OK);
    mp_error_info why;
    CU_ASSERT_TRUE(mp_graph_equal(v, out, &why));
    mp_value direct;
    CU_ASSERT_EQUAL_FATAL(mp_clone(v, B, NULL, 0, &direct, NULL), MP_OK);
    CU_ASSERT_TRUE(mp_graph_equal(v, direct, &why));
    return out;
}

/* The keys of obj joined with ',' into buf. */
static const char *
keys_of(mp_value obj, char *buf, size_t cap)
{
    size_t cursor = 0, len = 0;
    mp_value k;
    buf[0] = '\0';
    while (mp_object_next(obj, &cursor, &k, NULL)) {
        char tmp[64];
        size_t n = mp_string_to_utf8(k, tmp, sizeof tmp);
        snprintf(buf + len, cap - len, "%s%.*s", len ? "," : "", (int)n, tmp);
        len = strlen(buf);
    }
    return buf;
}

static void
set_num(mp_value o, const char *key, double d)
{
    CU_ASSERT_EQUAL_FATAL(mp_object_set_utf8(o, key, mp_number(d)), MP_OK);
}

/* Objects of one size whose keys change from one to the next: every
 * difference (another key, a longer or shorter one, an index key, a key
 * past 16 bytes, one sent as str8, a non-ASCII one) still decodes to the
 * same keys in JavaScript order. */
static void
test_shapes_that_change(void)
{
    setup();
    static const char *const sets[][3] = {
        {"a", "b", "c"},
        {"a", "b", "c"},
        {"a", "b", "c"},
        {"a", "b", "d"},
        {"a", "bb", "c"},
        {"x", "y", "z"},
        {"a", "7", "c"},
        {"a", "b", "c"},
        {"seventeen_bytes_k", "b", "c"},
        {"seventeen_bytes_k", "b", "c"},
        {"seventeen_bytes_x", "b", "c"},
        {"a_key_of_exactly_thirty_one_byt", "b", "c"},
        {"a_key_of_exactly_thirty_one_byt", "b", "c"},
        {"a_key_of_exactly_thirty_two_byte", "b", "c"},
        {"a_key_of_exactly_thirty_two_byte", "b", "c"},
        {"caf\xc3\xa9", "b", "c"},
        {"caf\xc3\xa9", "b", "c"},
        /* 7 bytes: matched as one word with its fixstr header; 8: not */
        {"sevenby", "b", "c"},
        {"sevenby", "b", "c"},
        {"sevenbx", "b", "c"},
        {"sevenbx", "b", "cc"},
        {"eightbyt", "b", "c"},
        {"eightbyt", "b", "c"},
        {"eightbyx", "b", "c"},
        {"a", "b", "c"},
    };
    size_t n = sizeof sets / sizeof sets[0];
    mp_value arr;
    CU_ASSERT_EQUAL_FATAL(mp_array_new(A, 0, &arr), MP_OK);
    for (size_t i = 0; i < n; i++) {
        mp_value o;
        CU_ASSERT_EQUAL_FATAL(mp_object_new(A, &o), MP_OK);
        for (int k = 0; k < 3; k++)
            set_num(o, sets[i][k], (double)(i * 10 + k));
        CU_ASSERT_EQUAL_FATAL(mp_array_push(arr, o), MP_OK);
    }
    mp_value out = round_trip(arr);
    char buf[256];
    mp_value o;
    CU_ASSERT_EQUAL(mp_array_get(out, 6, &o), MP_OK);
    CU_ASSERT_STRING_EQUAL(keys_of(o, buf, sizeof buf), "7,a,c"); /* index keys first */
    CU_ASSERT_EQUAL(mp_array_get(out, 7, &o), MP_OK);
    CU_ASSERT_STRING_EQUAL(keys_of(o, buf, sizeof buf), "a,b,c");
    CU_ASSERT_EQUAL(mp_array_get(out, 10, &o), MP_OK);
    CU_ASSERT_STRING_EQUAL(keys_of(o, buf, sizeof buf), "seventeen_bytes_x,b,c");
    CU_ASSERT_EQUAL(mp_array_get(out, 19, &o), MP_OK);
    CU_ASSERT_STRING_EQUAL(keys_of(o, buf, sizeof buf), "sevenbx,b,c");
    CU_ASSERT_EQUAL(mp_array_get(out, 20, &o), MP_OK);
    CU_ASSERT_STRING_EQUAL(keys_of(o, buf, sizeof buf), "sevenbx,b,cc");
    CU_ASSERT_EQUAL(mp_array_get(out, 23, &o), MP_OK);
    CU_ASSERT_STRING_EQUAL(keys_of(o, buf, sizeof buf), "eightbyx,b,c");
    teardown();
}

/* Many sizes at once (the shape table is indexed by size modulo 16) and
 * objects nested inside objects of their own size. */
static void
test_shapes_sizes_and_nesting(void)
{
    setup();
    mp_value arr;
    CU_ASSERT_EQUAL_FATAL(mp_array_new(A, 0, &arr), MP_OK);
    for (int round = 0; round < 3; round++) {
        for (int size = 1; size <= 20; size++) {
            mp_value o, inner;
            CU_ASSERT_EQUAL_FATAL(mp_object_new(A, &o), MP_OK);
            CU_ASSERT_EQUAL_FATAL(mp_object_new(A, &inner), MP_OK);
            for (int k = 0; k < size; k++) {
                char key[16];
                snprintf(key, sizeof key, "k%d_%d", k, (round + k) % 2);
                set_num(inner, key, k);
                if (k == size / 2) {
                    CU_ASSERT_EQUAL_FATAL(mp_object_set_utf8(o, key, inner), MP_OK);
                } else {
                    set_num(o, key, k);
                }
            }
            CU_ASSERT_EQUAL_FATAL(mp_array_push(arr, o), MP_OK);
        }
    }
    (void)round_trip(arr);
    teardown();
}

/* max_string_length holds for keys matched against a recorded shape as
 * for any other string. */
static void
test_shapes_obey_string_limit(void)
{
    setup();
    mp_value out;
    /* [{a:1, b:2}, {a:1, b:2}] records the shape {a, b} in B */
    const uint8_t twice[] = {0x92, 0x82, 0xa1, 'a', 1, 0xa1, 'b', 2, 0x82, 0xa1, 'a', 1, 0xa1, 'b', 2};
    CU_ASSERT_EQUAL_FATAL(decode(twice, sizeof twice, &out), MP_OK);
    const uint8_t once[] = {1, 0x82, 0xa1, 'a', 1, 0xa1, 'b', 2};
    mp_decode_limits lim = mp_decode_limits_default();
    lim.max_string_length = 0;
    mp_message *m;
    mp_error_info err;
    CU_ASSERT_EQUAL_FATAL(mp_message_from_bytes(once, sizeof once, NULL, &m), MP_OK);
    CU_ASSERT_EQUAL(mp_deserialize(m, B, &lim, &out, &err), MP_ELIMIT);
    CU_ASSERT_EQUAL(err.offset, 2);
    CU_ASSERT_STRING_EQUAL(err.detail, "max_string_length (0) exceeded by a string of 1 bytes");
    /* and within the limit, the shape still serves */
    lim.max_string_length = 1;
    CU_ASSERT_EQUAL_FATAL(mp_message_from_bytes(once, sizeof once, NULL, &m), MP_OK);
    CU_ASSERT_EQUAL(mp_deserialize(m, B, &lim, &out, &err), MP_OK);
    char buf[16];
    CU_ASSERT_STRING_EQUAL(keys_of(out, buf, sizeof buf), "a,b");
    teardown();
}

/* A duplicate key must be found even where the shape path is taken. */
static void
test_shapes_reject_duplicates(void)
{
    setup();
    mp_value out;
    /* [{a,b,c}, {a,b,c}, {a:1, b:2, a:3}] */
    const uint8_t dup_after_match[] = {0x93, 0x83, 0xa1, 'a',  1,    0xa1, 'b',  2,    0xa1, 'c', 3,
                                       0x83, 0xa1, 'a',  1,    0xa1, 'b',  2,    0xa1, 'c',  3,   0x83,
                                       0xa1, 'a',  1,    0xa1, 'b',  2,    0xa1, 'a',  3};
    CU_ASSERT_EQUAL(decode(dup_after_match, sizeof dup_after_match, &out), MP_EDECODE);
    /* [{a,b,c}, {a,b,c}, {a:1, b:{q,r,b}, b:4}]: the nested object records a
     * new shape for size 3 whose third key is "b" while the outer one, which
     * matched the old shape's a and b, still reads its third key. */
    const uint8_t dup_after_nested[] = {
        0x93, 0x83, 0xa1, 'a', 1, 0xa1, 'b', 2,    0xa1, 'c', 3, 0x83, 0xa1, 'a', 1,    0xa1, 'b', 2,    0xa1, 'c',
        3,    0x83, 0xa1, 'a', 1, 0xa1, 'b', 0x83, 0xa1, 'q', 1, 0xa1, 'r',  2,   0xa1, 'b',  3,   0xa1, 'b',  4};
    CU_ASSERT_EQUAL(decode(dup_after_nested, sizeof dup_after_nested, &out), MP_EDECODE);
    /* The same without the duplicate decodes. */
    uint8_t ok[sizeof dup_after_nested];
    memcpy(ok, dup_after_nested, sizeof ok);
    ok[sizeof ok - 2] = 'z';
    CU_ASSERT_EQUAL(decode(ok, sizeof ok, &out), MP_OK);
    char buf[64];
    mp_value third;
    CU_ASSERT_EQUAL(mp_array_get(out, 2, &third), MP_OK);
    CU_ASSERT_STRING_EQUAL(keys_of(third, buf, sizeof buf), "a,b,z");
    /* Map and Set entries read in one step: a duplicate is reported at
     * the offset of its entry's value, containers as keys still work. */
    mp_error_info err;
    const uint8_t dup_map[] = {1, 0xd6, 7, 2, 0, 0, 0, 1, 0xc0, 1, 0xc0};
    mp_message *m;
    CU_ASSERT_EQUAL_FATAL(mp_message_from_bytes(dup_map, sizeof dup_map, NULL, &m), MP_OK);
    CU_ASSERT_EQUAL(mp_deserialize(m, B, NULL, &out, &err), MP_EDECODE);
    CU_ASSERT_EQUAL(err.offset, 10);
    const uint8_t dup_set[] = {1, 0xd6, 8, 3, 0, 0, 0, 1, 2, 1};
    CU_ASSERT_EQUAL_FATAL(mp_message_from_bytes(dup_set, sizeof dup_set, NULL, &m), MP_OK);
    CU_ASSERT_EQUAL(mp_deserialize(m, B, NULL, &out, &err), MP_EDECODE);
    CU_ASSERT_EQUAL(err.offset, 9);
    /* {[] => 1, [2] => [3], 4 => 5} */
    const uint8_t containers[] = {0xd6, 7, 3, 0, 0, 0, 0x90, 1, 0x91, 2, 0x91, 3, 4, 5};
    CU_ASSERT_EQUAL(decode(containers, sizeof containers, &out), MP_OK);
    CU_ASSERT_EQUAL(mp_map_size(out), 3);
    /* A key cut short by the end of the message where the shape expects it. */
    const uint8_t cut[] = {0x93, 0x83, 0xa1, 'a', 1,    0xa1, 'b', 2,    0xa1, 'c', 3, 0x83, 0xa1, 'a',
                           1,    0xa1, 'b',  2,   0xa1, 'c',  3,   0x83, 0xa1, 'a', 1, 0xa1, 'b'};
    CU_ASSERT_EQUAL(decode(cut, sizeof cut, &out), MP_EDECODE);
    teardown();
}

/* Shapes are kept in the realm from one message to the next: later
 * messages take the shape path at once, and whatever differs from a kept
 * shape (another key, a duplicate, a failed decode in between, another
 * realm) still decodes to exactly the keys sent, made in the target realm. */
static void
test_shapes_across_messages(void)
{
    setup();
    mp_realm *C;
    CU_ASSERT_EQUAL_FATAL(mp_realm_new(NULL, &C), MP_OK);
    /* {id: 1, name: "x"} */
    const uint8_t obj[] = {0x82, 0xa2, 'i', 'd', 1, 0xa4, 'n', 'a', 'm', 'e', 0xa1, 'x'};
    mp_value out, v;
    char buf[64];
    size_t reserved_first = 0;
    for (int i = 0; i < 4; i++) {
        CU_ASSERT_EQUAL_FATAL(decode(obj, sizeof obj, &out), MP_OK);
        CU_ASSERT_STRING_EQUAL(keys_of(out, buf, sizeof buf), "id,name");
        CU_ASSERT_EQUAL(mp_object_get_utf8(out, "name", &v), MP_OK);
        CU_ASSERT_TRUE(mp_string_equals_utf8(v, "x", 1));
        /* the table of shapes is made once, by the first message (values
         * collected: reserved is then atoms, shapes and kept chunks) */
        mp_realm_collect(B, NULL, 0);
        if (i == 0) reserved_first = mp_realm_get_stats(B).reserved;
        CU_ASSERT_EQUAL(mp_realm_get_stats(B).reserved, reserved_first);
    }
    /* a second key that differs from the kept shape's */
    const uint8_t other[] = {0x82, 0xa2, 'i', 'd', 1, 0xa4, 'n', 'a', 'm', 'x', 0xa1, 'x'};
    CU_ASSERT_EQUAL(decode(other, sizeof other, &out), MP_OK);
    CU_ASSERT_STRING_EQUAL(keys_of(out, buf, sizeof buf), "id,namx");
    /* the kept shape's first key twice */
    const uint8_t dup[] = {0x82, 0xa2, 'i', 'd', 1, 0xa2, 'i', 'd', 2};
    CU_ASSERT_EQUAL(decode(dup, sizeof dup, &out), MP_EDECODE);
    /* a message cut inside the object, then the whole one again */
    CU_ASSERT_EQUAL(decode(obj, sizeof obj - 3, &out), MP_EDECODE);
    CU_ASSERT_EQUAL(decode(obj, sizeof obj, &out), MP_OK);
    CU_ASSERT_STRING_EQUAL(keys_of(out, buf, sizeof buf), "id,name");
    /* after a collect with nothing kept, the shape's keys (atoms) remain */
    mp_realm_collect(B, NULL, 0);
    CU_ASSERT_EQUAL(decode(obj, sizeof obj, &out), MP_OK);
    CU_ASSERT_STRING_EQUAL(keys_of(out, buf, sizeof buf), "id,name");
    /* another realm has shapes of its own: its keys are its own strings */
    for (int i = 0; i < 3; i++) {
        uint8_t msg[sizeof obj + 1] = {1};
        memcpy(msg + 1, obj, sizeof obj);
        mp_message *m;
        CU_ASSERT_EQUAL_FATAL(mp_message_from_bytes(msg, sizeof msg, NULL, &m), MP_OK);
        CU_ASSERT_EQUAL_FATAL(mp_deserialize(m, C, NULL, &out, NULL), MP_OK);
        size_t cursor = 0;
        mp_value k;
        while (mp_object_next(out, &cursor, &k, NULL))
            CU_ASSERT_PTR_EQUAL(mp_value_realm(k), C);
    }
    mp_realm_free(C);
    teardown();
}

/* The number fast paths agree with the general reader, cut short or not. */
static void
test_number_tokens(void)
{
    setup();
    mp_value out;
    const uint8_t f64[] = {0xcb, 0x40, 0x09, 0x21, 0xfb, 0x54, 0x44, 0x2d, 0x18};
    CU_ASSERT_EQUAL(decode(f64, sizeof f64, &out), MP_OK);
    CU_ASSERT_EQUAL(mp_number_value(out), 3.141592653589793);
    const uint8_t u16[] = {0xcd, 0x12, 0x34};
    CU_ASSERT_EQUAL(decode(u16, sizeof u16, &out), MP_OK);
    CU_ASSERT_EQUAL(mp_number_value(out), 0x1234);
    const uint8_t u32[] = {0xce, 0xff, 0xff, 0xff, 0xff};
    CU_ASSERT_EQUAL(decode(u32, sizeof u32, &out), MP_OK);
    CU_ASSERT_EQUAL(mp_number_value(out), 4294967295.0);
    for (size_t cutlen = 1; cutlen < sizeof f64; cutlen++)
        CU_ASSERT_EQUAL(decode(f64, cutlen, &out), MP_EDECODE);
    for (size_t cutlen = 1; cutlen < sizeof u32; cutlen++)
        CU_ASSERT_EQUAL(decode(u32, cutlen, &out), MP_EDECODE);
    CU_ASSERT_EQUAL(decode(u16, 2, &out), MP_EDECODE);
    teardown();
}

/* Strings of every short length, repeated, through the decoder's and the
 * clone's atom lookups (exact by words up to 16 bytes; longer ones are
 * ordinary strings), and strings that differ only in the middle. */
static void
test_short_strings(void)
{
    setup();
    mp_value arr;
    CU_ASSERT_EQUAL_FATAL(mp_array_new(A, 0, &arr), MP_OK);
    char s[40];
    for (int rep = 0; rep < 2; rep++) {
        for (int len = 0; len <= 34; len++) {
            for (int mid = 0; mid < 3; mid++) {
                memset(s, 'a', (size_t)len);
                s[len] = '\0';
                if (len) s[len / 2] = (char)('a' + mid);
                if (len > 2) s[len / 2 - 1] = (char)('x' + mid); /* outside the covering words past 16 */
                CU_ASSERT_EQUAL_FATAL(mp_array_push(arr, mpt_str(A, s)), MP_OK);
            }
        }
    }
    /* one non-ASCII character (two UTF-8 bytes) at every position of
     * every short length: the decoder's ASCII test must see it */
    for (int len = 2; len <= 24; len++) {
        for (int at = 0; at + 1 < len; at++) {
            memset(s, 'b', (size_t)len);
            s[at] = (char)0xc3;
            s[at + 1] = (char)0xa9;
            s[len] = '\0';
            CU_ASSERT_EQUAL_FATAL(mp_array_push(arr, mpt_str(A, s)), MP_OK);
        }
    }
    for (int i = 0; i < 200; i++) { /* more than the small clone cache holds */
        snprintf(s, sizeof s, "word%d", i % 70);
        CU_ASSERT_EQUAL_FATAL(mp_array_push(arr, mpt_str(A, s)), MP_OK);
    }
    (void)round_trip(arr);
    teardown();
}

/* Back-references with 1-, 2- and 4-byte ids (the decoder's fast path),
 * and to buffers, which take the general path for a view that may follow. */
static void
test_back_references(void)
{
    setup();
    mp_value arr, buf, view;
    CU_ASSERT_EQUAL_FATAL(mp_array_new(A, 0, &arr), MP_OK);
    CU_ASSERT_EQUAL_FATAL(mp_arraybuffer_new(A, 16, &buf), MP_OK);
    CU_ASSERT_EQUAL_FATAL(mp_array_push(arr, buf), MP_OK);
    const int n = 70000; /* ids past 65535 */
    for (int i = 0; i < n; i++) {
        mp_value o;
        CU_ASSERT_EQUAL_FATAL(mp_object_new(A, &o), MP_OK);
        CU_ASSERT_EQUAL_FATAL(mp_array_push(arr, o), MP_OK);
    }
    int picks[] = {1, 200, 300, 60000, 66000, n};
    for (size_t k = 0; k < sizeof picks / sizeof picks[0]; k++) {
        mp_value o;
        CU_ASSERT_EQUAL_FATAL(mp_array_get(arr, (uint32_t)picks[k], &o), MP_OK);
        CU_ASSERT_EQUAL_FATAL(mp_array_push(arr, o), MP_OK);
    }
    CU_ASSERT_EQUAL_FATAL(mp_array_push(arr, buf), MP_OK);
    CU_ASSERT_EQUAL_FATAL(mp_typedarray_new(MP_UINT8, buf, 4, 8, &view), MP_OK);
    CU_ASSERT_EQUAL_FATAL(mp_array_push(arr, view), MP_OK);
    mp_value out = round_trip(arr);
    mp_value first, again;
    CU_ASSERT_EQUAL(mp_array_get(out, (uint32_t)n, &first), MP_OK);
    CU_ASSERT_EQUAL(mp_array_get(out, (uint32_t)n + 6, &again), MP_OK);
    CU_ASSERT_TRUE(first.u_.cell_ == again.u_.cell_);
    /* a back-reference past the ids assigned so far is refused */
    mp_value bad;
    const uint8_t past[] = {0x92, 0x80, 0xd5, 16, 0x02, 0x00};
    CU_ASSERT_EQUAL(decode(past, sizeof past, &bad), MP_EDECODE);
    const uint8_t cut[] = {0x92, 0x80, 0xd6, 16, 0x01, 0x00};
    CU_ASSERT_EQUAL(decode(cut, sizeof cut, &bad), MP_EDECODE);
    teardown();
}

/* ---- identity marks in cell headers --------------------------------------------- */

/* A shared graph: a -> {x: o, y: o, self: a}. */
static mp_value
shared_graph(mp_realm *r)
{
    mp_value a, o;
    CU_ASSERT_EQUAL_FATAL(mp_object_new(r, &a), MP_OK);
    CU_ASSERT_EQUAL_FATAL(mp_object_new(r, &o), MP_OK);
    set_num(o, "n", 1);
    CU_ASSERT_EQUAL_FATAL(mp_object_set_utf8(a, "x", o), MP_OK);
    CU_ASSERT_EQUAL_FATAL(mp_object_set_utf8(a, "y", o), MP_OK);
    CU_ASSERT_EQUAL_FATAL(mp_object_set_utf8(a, "self", a), MP_OK);
    return a;
}

/* After walks that succeed and walks that fail, collection and later
 * walks see clean headers. */
static void
test_marks_cleared(void)
{
    setup();
    mp_value g = shared_graph(A);
    mp_value host;
    CU_ASSERT_EQUAL_FATAL(mp_host_new(A, 99, NULL, &host), MP_OK); /* no codec: DataCloneError */
    mp_value bad;
    CU_ASSERT_EQUAL_FATAL(mp_object_new(A, &bad), MP_OK);
    CU_ASSERT_EQUAL_FATAL(mp_object_set_utf8(bad, "g", g), MP_OK);
    CU_ASSERT_EQUAL_FATAL(mp_object_set_utf8(bad, "h", host), MP_OK);
    for (int i = 0; i < 3; i++) {
        mp_message *m;
        mp_value out;
        CU_ASSERT_EQUAL(mp_serialize(bad, NULL, 0, &m, NULL), MP_EDATACLONE);
        CU_ASSERT_EQUAL(mp_clone(bad, B, NULL, 0, &out, NULL), MP_EDATACLONE);
        (void)round_trip(g);
        /* collect works (it would do nothing while a walk held the realm) */
        size_t before = mp_realm_get_stats(A).values;
        mp_value junk;
        CU_ASSERT_EQUAL_FATAL(mp_object_new(A, &junk), MP_OK);
        mp_value roots[2] = {g, bad};
        mp_realm_collect(A, roots, 2);
        CU_ASSERT_EQUAL(mp_realm_get_stats(A).values, before);
    }
    /* clone into the same realm */
    mp_value same;
    CU_ASSERT_EQUAL(mp_clone(g, A, NULL, 0, &same, NULL), MP_OK);
    CU_ASSERT_TRUE(mp_graph_equal(g, same, NULL));
    teardown();
}

/* A write hook that clones and serializes another graph of the same
 * realm (a walk inside a walk) and tries to collect the realm. */
typedef struct hook_ctx {
    mp_value other;
    mp_realm *target;
    int calls;
    bool nested_ok;
} hook_ctx;

static mp_status
nested_write(void *ctx, void *host_ptr, bool transferring, void **payload)
{
    (void)host_ptr;
    (void)transferring;
    hook_ctx *h = ctx;
    h->calls++;
    mp_value copy;
    mp_message *m;
    bool ok = mp_clone(h->other, h->target, NULL, 0, &copy, NULL) == MP_OK && mp_graph_equal(h->other, copy, NULL);
    ok = ok && mp_serialize(h->other, NULL, 0, &m, NULL) == MP_OK;
    if (ok) {
        mp_value back;
        ok = mp_deserialize(m, h->target, NULL, &back, NULL) == MP_OK && mp_graph_equal(h->other, back, NULL);
    }
    mp_realm_collect(mp_value_realm(h->other), NULL, 0); /* during a walk of that realm: does nothing */
    h->nested_ok = ok;
    *payload = NULL;
    return MP_OK;
}

static mp_status
nested_read(void *ctx, mp_realm *realm, void *payload, void **host_ptr)
{
    (void)ctx;
    (void)realm;
    (void)payload;
    *host_ptr = NULL;
    return MP_OK;
}

/* obj[name] = n objects {id, name, tag} whose keys and short words are the
 * realm's atoms: past a few objects the encoder keeps their encodings and
 * the clone their copies in the atoms' headers. */
static void
set_keyed_list(mp_value obj, const char *name, int n)
{
    mp_realm *r = mp_value_realm(obj);
    mp_value arr;
    CU_ASSERT_EQUAL_FATAL(mp_array_new(r, 0, &arr), MP_OK);
    for (int i = 0; i < n; i++) {
        mp_value o;
        CU_ASSERT_EQUAL_FATAL(mp_object_new(r, &o), MP_OK);
        set_num(o, "id", i);
        CU_ASSERT_EQUAL_FATAL(mp_object_set_utf8(o, "name", mpt_str(r, i % 2 ? "odd" : "even")), MP_OK);
        CU_ASSERT_EQUAL_FATAL(mp_object_set_utf8(o, "tag", mpt_str(r, "t")), MP_OK);
        CU_ASSERT_EQUAL_FATAL(mp_array_push(arr, o), MP_OK);
    }
    CU_ASSERT_EQUAL_FATAL(mp_object_set_utf8(obj, name, arr), MP_OK);
}

static void
test_marks_nested_walks(void)
{
    setup();
    hook_ctx h = {0};
    mp_host_type_hooks hooks = {nested_write, nested_read, NULL, NULL};
    CU_ASSERT_EQUAL_FATAL(mp_realm_register_host_type(A, 7, &hooks, &h), MP_OK);
    CU_ASSERT_EQUAL_FATAL(mp_realm_register_host_type(B, 7, &hooks, &h), MP_OK);
    mp_value g = shared_graph(A);
    h.other = shared_graph(A);
    /* the nested walks share a node with the outer graph */
    mp_value gx;
    CU_ASSERT_EQUAL_FATAL(mp_object_get_utf8(g, "x", &gx), MP_OK);
    CU_ASSERT_EQUAL_FATAL(mp_object_set_utf8(h.other, "shared", gx), MP_OK);
    h.target = B;
    /* Before the hook the outer walks hold atoms' encodings and copies in
     * their headers; the nested walks meet the same atoms (and must not
     * use them), and the outer walks go on using them after. */
    set_keyed_list(g, "before", 20);
    set_keyed_list(h.other, "list", 20);
    mp_value host;
    CU_ASSERT_EQUAL_FATAL(mp_host_new(A, 7, NULL, &host), MP_OK);
    CU_ASSERT_EQUAL_FATAL(mp_object_set_utf8(g, "host", host), MP_OK);
    CU_ASSERT_EQUAL_FATAL(mp_object_set_utf8(g, "after", gx), MP_OK); /* a repeat after the hook ran */
    set_keyed_list(g, "later", 20);
    size_t values = mp_realm_get_stats(A).values;
    (void)round_trip(g);
    CU_ASSERT_EQUAL(h.calls, 2);
    CU_ASSERT_TRUE(h.nested_ok);
    CU_ASSERT_EQUAL(mp_realm_get_stats(A).values, values); /* the hook's collect freed nothing */
    /* and the realm collects normally afterwards */
    mp_realm_collect(A, &g, 1);
    CU_ASSERT(mp_realm_get_stats(A).values < values);
    teardown();
}

/* ---- collecting a whole realm at once ---------------------------------------------- */

/* mp_realm_collect with nothing reachable frees chunks wholesale: large
 * blocks, stores and every byte must still be accounted for. */
static void
test_collect_everything(void)
{
    mpt_alloc a;
    mpt_alloc_init(&a);
    mp_realm *r;
    CU_ASSERT_EQUAL_FATAL(mp_realm_new(&a.alc, &r), MP_OK);
    /* The keys below are the realm's atoms, kept for its lifetime: made
     * first, so that what stays after a collection is measured without them. */
    mp_value keys;
    CU_ASSERT_EQUAL_FATAL(mp_object_new(r, &keys), MP_OK);
    for (int i = 0; i < 40; i++) {
        char key[16];
        snprintf(key, sizeof key, "key%d", i);
        CU_ASSERT_EQUAL_FATAL(mp_object_set_utf8(keys, key, mp_null()), MP_OK);
    }
    mp_realm_collect(r, NULL, 0);
    CU_ASSERT_EQUAL(mp_realm_get_stats(r).values, 0);
    long long empty = atomic_load(&a.live_bytes);
    size_t atoms = mp_realm_get_stats(r).reserved;
    for (int round = 0; round < 3; round++) {
        mp_value arr, map, big, buf, obj;
        CU_ASSERT_EQUAL_FATAL(mp_array_new(r, 0, &arr), MP_OK);
        for (int i = 0; i < 5000; i++) /* elements past a chunk block: a large block */
            CU_ASSERT_EQUAL_FATAL(mp_array_push(arr, mp_number(i)), MP_OK);
        CU_ASSERT_EQUAL_FATAL(mp_map_new(r, &map), MP_OK);
        for (int i = 0; i < 3000; i++)
            CU_ASSERT_EQUAL_FATAL(mp_map_set(map, mp_number(i), arr), MP_OK);
        char text[3000];
        memset(text, 'q', sizeof text);
        CU_ASSERT_EQUAL_FATAL(mp_string_from_utf8(r, text, sizeof text, &big), MP_OK); /* a large cell */
        CU_ASSERT_EQUAL_FATAL(mp_arraybuffer_new(r, 100000, &buf), MP_OK);             /* a store */
        CU_ASSERT_EQUAL_FATAL(mp_object_new(r, &obj), MP_OK);
        for (int i = 0; i < 40; i++) {
            char key[16];
            snprintf(key, sizeof key, "key%d", i);
            CU_ASSERT_EQUAL_FATAL(mp_object_set_utf8(obj, key, i % 2 ? big : buf), MP_OK);
        }
        /* keep the object only: the rest goes one by one */
        mp_realm_collect(r, &obj, 1);
        CU_ASSERT_EQUAL(mp_realm_get_stats(r).values, 1 + 2);
        /* roots from nowhere: everything goes at once */
        mp_value none[2] = {mp_number(1), mp_null()};
        mp_realm_collect(r, none, 2);
        CU_ASSERT_EQUAL(mp_realm_get_stats(r).values, 0);
        CU_ASSERT_EQUAL(mp_realm_get_stats(r).bytes, 0);
        CU_ASSERT(mp_realm_get_stats(r).reserved - atoms <= 64 * 1024);
        CU_ASSERT(atomic_load(&a.live_bytes) - empty <= 64 * 1024);
        /* and the realm is usable afterwards */
        mp_value again;
        CU_ASSERT_EQUAL(mp_object_new(r, &again), MP_OK);
        CU_ASSERT_EQUAL(mp_object_set_utf8(again, "x", mp_number(1)), MP_OK);
        mp_realm_collect(r, NULL, 0);
        CU_ASSERT_EQUAL(mp_realm_get_stats(r).values, 0);
    }
    mp_realm_free(r);
    CU_ASSERT_EQUAL(atomic_load(&a.live_bytes), 0);
}

/* The same with only small cells left when nothing is reachable (the
 * collection then drops the chunks without visiting a cell): a store or a
 * large block made before, released by an earlier collection, or made
 * after, must not be missed. */
static void
test_collect_everything_small(void)
{
    mpt_alloc a;
    mpt_alloc_init(&a);
    mp_realm *r;
    CU_ASSERT_EQUAL_FATAL(mp_realm_new(&a.alc, &r), MP_OK);
    mp_value warm;
    CU_ASSERT_EQUAL_FATAL(mp_object_new(r, &warm), MP_OK);
    CU_ASSERT_EQUAL_FATAL(mp_object_set_utf8(warm, "k", mp_null()), MP_OK); /* the atom stays */
    mp_realm_collect(r, NULL, 0);
    long long empty = atomic_load(&a.live_bytes);
    for (int round = 0; round < 3; round++) {
        mp_value buf, arr, obj, s;
        CU_ASSERT_EQUAL_FATAL(mp_arraybuffer_new(r, 100000, &buf), MP_OK);
        CU_ASSERT_EQUAL_FATAL(mp_array_new(r, 0, &arr), MP_OK);
        for (int i = 0; i < 5000; i++)
            CU_ASSERT_EQUAL_FATAL(mp_array_push(arr, mp_number(i)), MP_OK);
        CU_ASSERT_EQUAL_FATAL(mp_object_new(r, &obj), MP_OK);
        CU_ASSERT_EQUAL_FATAL(mp_string_from_utf8(r, "a value", 7, &s), MP_OK);
        CU_ASSERT_EQUAL_FATAL(mp_object_set_utf8(obj, "k", s), MP_OK);
        /* the store and the large block go in a collection that keeps obj */
        mp_realm_collect(r, &obj, 1);
        CU_ASSERT_EQUAL(mp_realm_get_stats(r).values, 2);
        CU_ASSERT(atomic_load(&a.live_bytes) - empty <= 64 * 1024);
        /* only small cells are left: they go at once */
        mp_realm_collect(r, NULL, 0);
        CU_ASSERT_EQUAL(mp_realm_get_stats(r).values, 0);
        CU_ASSERT_EQUAL(mp_realm_get_stats(r).bytes, 0);
        /* a store made after that is still released with everything else */
        CU_ASSERT_EQUAL_FATAL(mp_arraybuffer_new(r, 100000, &buf), MP_OK);
        CU_ASSERT_EQUAL_FATAL(mp_object_new(r, &obj), MP_OK);
        CU_ASSERT_EQUAL_FATAL(mp_object_set_utf8(obj, "k", buf), MP_OK);
        CU_ASSERT(atomic_load(&a.live_bytes) - empty > 100000);
        mp_realm_collect(r, NULL, 0);
        CU_ASSERT_EQUAL(mp_realm_get_stats(r).values, 0);
        CU_ASSERT_EQUAL(mp_realm_get_stats(r).bytes, 0);
        CU_ASSERT(atomic_load(&a.live_bytes) - empty <= 64 * 1024);
    }
    mp_realm_free(r);
    CU_ASSERT_EQUAL(atomic_load(&a.live_bytes), 0);
}

/* Stats of r with the allocator a: values, bytes, and reserved checked
 * against what the allocator sees (base: the realm struct). */
static mp_realm_stats
exact_stats(mp_realm *r, const mpt_alloc *a, long long base)
{
    mp_realm_stats s = mp_realm_get_stats(r);
    CU_ASSERT_EQUAL(s.reserved, (size_t)(a->live_bytes - base));
    return s;
}

/* The realm's atoms: the first MPI_ATOMS_MAX short ASCII strings decoded
 * or cloned into a realm stay for its lifetime (counted in reserved, not
 * in values or bytes), survive collection, serve later messages without
 * new strings, and past the limit strings are made as before. */
static void
test_atoms(void)
{
    setup();
    enum { KEYS = MPI_ATOMS_MAX + 88 };
    mp_value obj;
    CU_ASSERT_EQUAL_FATAL(mp_object_new(A, &obj), MP_OK);
    char key[24];
    for (int i = 0; i < KEYS; i++) {
        snprintf(key, sizeof key, "k%d", i);
        CU_ASSERT_EQUAL_FATAL(mp_object_set_utf8(obj, key, mpt_str(A, "v")), MP_OK);
    }
    /* longer than an atom: an ordinary string every time */
    CU_ASSERT_EQUAL_FATAL(mp_object_set_utf8(obj, "seventeen_bytes_k", mpt_str(A, "0123456789abcdefg")), MP_OK);
    CU_ASSERT_EQUAL_FATAL(strlen("seventeen_bytes_k"), MPI_ATOM_MAX_LEN + 1);

    mpt_alloc a;
    mpt_alloc_init(&a);
    mp_realm *r;
    CU_ASSERT_EQUAL_FATAL(mp_realm_new(&a.alc, &r), MP_OK);
    long long base = a.live_bytes;
    /* Met in order k0, "v", k1, ...: "v" and the first MPI_ATOMS_MAX - 1
     * keys become atoms; left are the object, the other keys and the two
     * long strings. */
    const size_t ordinary = 1 + (KEYS - (MPI_ATOMS_MAX - 1)) + 2;
    mp_error_info why;
    for (int round = 0; round < 3; round++) {
        mp_value out;
        if (round < 2) {
            mp_message *m;
            CU_ASSERT_EQUAL_FATAL(mp_serialize(obj, NULL, 0, &m, NULL), MP_OK);
            CU_ASSERT_EQUAL_FATAL(mp_deserialize(m, r, NULL, &out, NULL), MP_OK);
        } else {
            CU_ASSERT_EQUAL_FATAL(mp_clone(obj, r, NULL, 0, &out, NULL), MP_OK);
        }
        CU_ASSERT_TRUE(mp_graph_equal(obj, out, &why));
        mp_realm_stats s = exact_stats(r, &a, base);
        CU_ASSERT_EQUAL(s.values, ordinary);
        mp_realm_collect(r, NULL, 0);
        s = exact_stats(r, &a, base);
        CU_ASSERT_EQUAL(s.values, 0);
        CU_ASSERT_EQUAL(s.bytes, 0);
        CU_ASSERT(s.reserved >= MPI_ATOMS_MAX * 16); /* the atoms stayed */
        CU_ASSERT(s.reserved <= 2 * 64 * 1024);      /* the chunk the arena keeps, and the atoms: at most 64 KiB */
    }
    /* Atoms read back intact after the collections (ASan and valgrind
     * would see a use after free). */
    mp_value out, v;
    CU_ASSERT_EQUAL_FATAL(mp_clone(obj, r, NULL, 0, &out, NULL), MP_OK);
    CU_ASSERT_EQUAL(mp_object_get_utf8(out, "k7", &v), MP_OK);
    CU_ASSERT_TRUE(mp_string_equals_utf8(v, "v", 1));
    CU_ASSERT_EQUAL(mp_object_get_utf8(out, "seventeen_bytes_k", &v), MP_OK);
    CU_ASSERT_TRUE(mp_string_equals_utf8(v, "0123456789abcdefg", 17));
    mp_realm_free(r);
    CU_ASSERT_EQUAL(a.live_bytes, 0);
    teardown();
}

/* Checks a copy of the tables test_big_tables builds: every live key found with
 * its value, every deleted one absent, the object keys in their order. */
static void
check_big_tables(mp_value root, mp_realm *r)
{
    mp_value m, set, v;
    CU_ASSERT_EQUAL_FATAL(mp_array_get(root, 0, &m), MP_OK);
    CU_ASSERT_EQUAL_FATAL(mp_array_get(root, 1, &set), MP_OK);
    size_t live = 0, members = 0;
    for (int i = 0; i < 6000; i++) {
        char name[32];
        if (i % 3 != 2) {
            snprintf(name, sizeof name, i % 2 ? "key:%d" : "a-much-longer-key:%d", i);
            mp_value key = i % 3 == 0 ? mpt_str(r, name) : mp_number(i);
            if (i % 7 == 0) {
                CU_ASSERT_FALSE(mp_map_has(m, key));
            } else {
                live++;
                CU_ASSERT_EQUAL(mp_map_get(m, key, &v), MP_OK);
                CU_ASSERT_EQUAL(mp_number_value(v), i);
            }
        } else if (i % 7 != 0) {
            live++;
        }
        snprintf(name, sizeof name, "member-%d", i);
        bool kept = i % 5 != 0;
        members += kept;
        CU_ASSERT_EQUAL(mp_set_has(set, mpt_str(r, name)), kept);
    }
    CU_ASSERT_EQUAL(mp_map_size(m), live);
    CU_ASSERT_EQUAL(mp_set_size(set), members);
    /* The object keys, found by walking the entries (they are new objects
     * in r): in insertion order, each with its value. */
    size_t cursor = 0;
    mp_value key;
    int expect = 2;
    while (mp_map_next(m, &cursor, &key, &v)) {
        if (mp_kind_of(key) != MP_OBJECT) continue;
        while (expect % 7 == 0)
            expect += 3;
        CU_ASSERT_EQUAL(mp_number_value(v), expect);
        CU_ASSERT_TRUE(mp_map_has(m, key));
        expect += 3;
    }
    while (expect < 6000 && expect % 7 == 0)
        expect += 3;
    CU_ASSERT_EQUAL(expect, 6002); /* every object key met */
}

/* Maps and Sets with thousands of entries (the clone fetches the target
 * buckets of string keys ahead): string, number and object keys, with
 * deleted entries among them, through bytes and directly. */
static void
test_big_tables(void)
{
    setup();
    mp_value m, set, obj, root;
    CU_ASSERT_EQUAL_FATAL(mp_map_new(A, &m), MP_OK);
    CU_ASSERT_EQUAL_FATAL(mp_set_new(A, &set), MP_OK);
    for (int i = 0; i < 6000; i++) {
        char name[32];
        mp_value key;
        if (i % 3 == 0) {
            snprintf(name, sizeof name, i % 2 ? "key:%d" : "a-much-longer-key:%d", i);
            key = mpt_str(A, name);
        } else if (i % 3 == 1) {
            key = mp_number(i);
        } else {
            CU_ASSERT_EQUAL_FATAL(mp_object_new(A, &obj), MP_OK);
            key = obj;
        }
        CU_ASSERT_EQUAL_FATAL(mp_map_set(m, key, mp_number(i)), MP_OK);
        snprintf(name, sizeof name, "member-%d", i);
        CU_ASSERT_EQUAL_FATAL(mp_set_add(set, mpt_str(A, name)), MP_OK);
    }
    /* Deleted entries stay in the source's entry list as holes. */
    size_t cursor = 0;
    mp_value key, v;
    mp_value doomed[900];
    size_t n_doomed = 0;
    while (mp_map_next(m, &cursor, &key, &v))
        if ((int)mp_number_value(v) % 7 == 0 && n_doomed < sizeof doomed / sizeof doomed[0]) doomed[n_doomed++] = key;
    CU_ASSERT_FATAL(n_doomed == 858);
    for (size_t i = 0; i < n_doomed; i++)
        CU_ASSERT_EQUAL(mp_map_delete(m, doomed[i]), MP_OK);
    for (int i = 0; i < 6000; i += 5) {
        char name[32];
        snprintf(name, sizeof name, "member-%d", i);
        CU_ASSERT_EQUAL(mp_set_delete(set, mpt_str(A, name)), MP_OK);
    }
    CU_ASSERT_EQUAL_FATAL(mp_array_new(A, 0, &root), MP_OK);
    CU_ASSERT_EQUAL_FATAL(mp_array_push(root, m), MP_OK);
    CU_ASSERT_EQUAL_FATAL(mp_array_push(root, set), MP_OK);

    check_big_tables(root, A);
    mp_value decoded = round_trip(root), direct;
    check_big_tables(decoded, B);
    CU_ASSERT_EQUAL_FATAL(mp_clone(root, B, NULL, 0, &direct, NULL), MP_OK);
    check_big_tables(direct, B);
    teardown();
}

int
main(void)
{
    static const mpt_test tests[] = {
        {"shapes that change from object to object", test_shapes_that_change},
        {"shapes of many sizes, nested", test_shapes_sizes_and_nesting},
        {"duplicate keys found on the shape path", test_shapes_reject_duplicates},
        {"string limit on the shape path", test_shapes_obey_string_limit},
        {"shapes kept in the realm across messages", test_shapes_across_messages},
        {"number fast paths, whole and cut", test_number_tokens},
        {"strings of every short length, atoms and not", test_short_strings},
        {"back-references of every id size", test_back_references},
        {"identity marks cleared after every walk", test_marks_cleared},
        {"a walk from a host hook inside a walk", test_marks_nested_walks},
        {"collect with nothing reachable", test_collect_everything},
        {"collect with only small cells left", test_collect_everything_small},
        {"the realm's atoms", test_atoms},
        {"big Maps and Sets, with deleted entries", test_big_tables},
        {NULL, NULL},
    };
    return mpt_run("codec fast paths", tests);
}
