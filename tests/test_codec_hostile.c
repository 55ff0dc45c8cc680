/* The decoder on hostile bytes: every prefix of valid messages, random
 * byte flips (fixed seed), huge declared counts (no big allocation), nesting
 * past the limit, forged back-references and side-table indices, trailing
 * bytes, unknown versions and ext types, duplicate keys, every limit, an
 * object's keys in any order. Each gives an error code with an offset,
 * never a crash, a hang or an unbounded allocation. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec_internal.h"
#include "testutil.h"

#define OK(call) CU_ASSERT_EQUAL_FATAL((call), MP_OK)

static mpt_alloc A;
static mp_realm *R;

static void
setup(void)
{
    if (R) mp_realm_free(R);
    mpt_alloc_init(&A);
    OK(mp_realm_new(&A.alc, &R));
}

/* Decodes bytes (copied into a message that uses the counting allocator). */
static mp_status
decode(const void *bytes, size_t len, const mp_decode_limits *lim, mp_value *out, mp_error_info *err)
{
    mp_message *m;
    OK(mp_message_from_bytes(bytes, len, &A.alc, &m));
    mp_value tmp;
    return mp_deserialize(m, R, lim, out ? out : &tmp, err);
}

#define EXPECT(want_, ...)                                                                                             \
    do {                                                                                                               \
        static const uint8_t b_[] = {__VA_ARGS__};                                                                     \
        mp_error_info e_;                                                                                              \
        memset(&e_, 0, sizeof e_);                                                                                     \
        mp_status s_ = decode(b_, sizeof b_, NULL, NULL, &e_);                                                         \
        if (s_ != (want_)) fprintf(stderr, "\n  line %d: got %s (%s)\n", __LINE__, mp_strerror(s_), e_.detail);        \
        CU_ASSERT_EQUAL(s_, (want_));                                                                                  \
        if (s_ != MP_OK) {                                                                                             \
            CU_ASSERT_EQUAL(e_.code, s_);                                                                              \
            CU_ASSERT(e_.offset <= sizeof b_);                                                                         \
            CU_ASSERT(e_.detail[0] != '\0');                                                                           \
        }                                                                                                              \
    } while (0)

/* A graph with every kind, for prefixes and flips. */
static mp_value
rich_value(mp_realm *r)
{
    mp_value root, v, list, ab;
    OK(mp_object_new(r, &root));
    OK(mp_array_new(r, 0, &list));
    OK(mp_object_set_utf8(root, "list", list));
    OK(mp_array_push(list, mp_number(1.5)));
    OK(mp_array_push(list, mp_number(-70000)));
    OK(mp_array_push(list, mpt_str(r, "caf\xc3\xa9 \xe2\x82\xac")));
    static const uint16_t lone[] = {0xD800, 'x'};
    OK(mp_string_from_utf16(r, lone, 2, &v));
    OK(mp_array_push(list, v));
    OK(mp_array_set(list, 7, mp_undefined()));
    OK(mp_object_set_utf8(list, "named", mp_boolean(true)));
    OK(mp_bigint_from_int64(r, -123456789012345, &v));
    OK(mp_object_set_utf8(root, "big", v));
    OK(mp_date_new(r, 1e12, &v));
    OK(mp_object_set_utf8(root, "date", v));
    OK(mp_regexp_new(r, mpt_str(r, "a|b"), "gi", &v));
    OK(mp_object_set_utf8(root, "re", v));
    OK(mp_map_new(r, &v));
    OK(mp_map_set(v, mpt_str(r, "k"), root));
    OK(mp_map_set(v, mp_number(2), mp_null()));
    OK(mp_object_set_utf8(root, "map", v));
    OK(mp_set_new(r, &v));
    OK(mp_set_add(v, mp_number(1)));
    OK(mp_set_add(v, list));
    OK(mp_object_set_utf8(root, "set", v));
    OK(mp_error_new(r, MP_ERR_TYPE, mpt_str(r, "bad"), &v));
    OK(mp_error_set_stack(v, mpt_str(r, "stack")));
    OK(mp_error_set_cause(v, v));
    OK(mp_object_set_utf8(root, "err", v));
    OK(mp_boxed_new(r, mp_number(3), &v));
    OK(mp_object_set_utf8(root, "boxed", v));
    OK(mp_arraybuffer_new_resizable(r, 8, 16, &ab));
    OK(mp_typedarray_new(MP_UINT16, ab, 2, 3, &v));
    OK(mp_object_set_utf8(root, "view", v));
    OK(mp_typedarray_new(MP_UINT8, ab, 0, MP_LENGTH_AUTO, &v));
    OK(mp_object_set_utf8(root, "tracking", v));
    OK(mp_object_set_utf8(root, "ab", ab));
    mp_value sparse;
    OK(mp_array_new(r, 1000000, &sparse));
    OK(mp_array_set(sparse, 999, mpt_str(r, "x")));
    OK(mp_object_set_utf8(root, "sparse", sparse));
    OK(mp_object_set_utf8(root, "self", root));
    return root;
}

static void
encode(mp_value v, uint8_t **bytes, size_t *len)
{
    mp_message *m;
    OK(mp_serialize(v, NULL, 0, &m, NULL));
    const void *b;
    mp_message_bytes(m, &b, len);
    *bytes = malloc(*len);
    memcpy(*bytes, b, *len);
    mp_message_free(m);
}

static void
test_every_prefix(void)
{
    setup();
    mp_realm *src;
    OK(mp_realm_new(NULL, &src));
    mp_value values[3];
    values[0] = rich_value(src);
    OK(mp_object_new(src, &values[1]));
    OK(mp_object_set_utf8(values[1], "id", mp_number(12345)));
    OK(mp_object_set_utf8(values[1], "name", mpt_str(src, "short string")));
    values[2] = mp_number(1e300);
    for (int k = 0; k < 3; k++) {
        uint8_t *b;
        size_t len;
        encode(values[k], &b, &len);
        mp_value out;
        mp_error_info err;
        OK(decode(b, len, NULL, &out, &err));
        for (size_t n = 0; n < len; n++) {
            /* A failed decode frees what it built: the realm is as before. */
            mp_realm_stats before = mp_realm_get_stats(R);
            mp_status st = decode(b, n, NULL, &out, &err);
            CU_ASSERT_EQUAL(st, MP_EDECODE);
            CU_ASSERT(err.offset <= n);
            mp_realm_stats after = mp_realm_get_stats(R);
            CU_ASSERT_EQUAL(after.values, before.values);
            CU_ASSERT_EQUAL(after.bytes, before.bytes);
        }
        free(b);
        mp_realm_collect(R, NULL, 0);
    }
    mp_realm_free(src);
    /* with side tables: a transfer, a SharedArrayBuffer */
    for (size_t n = 0;; n++) {
        mp_realm *s;
        OK(mp_realm_new(NULL, &s));
        mp_value o, ab, sab;
        OK(mp_object_new(s, &o));
        OK(mp_arraybuffer_new(s, 64, &ab));
        OK(mp_sab_new(s, 64, &sab));
        OK(mp_object_set_utf8(o, "ab", ab));
        OK(mp_object_set_utf8(o, "sab", sab));
        mp_message *m;
        OK(mp_serialize(o, &ab, 1, &m, NULL));
        bool whole = n >= m->len;
        if (!whole) m->len = n;
        mp_value out;
        mp_status st = mp_deserialize(m, R, NULL, &out, NULL);
        mp_realm_free(s);
        if (whole) {
            CU_ASSERT_EQUAL(st, MP_OK);
            break;
        }
        CU_ASSERT_EQUAL(st, MP_EDECODE);
    }
    mp_realm_free(R);
    R = NULL;
    CU_ASSERT_EQUAL(atomic_load(&A.live_bytes), 0);
}

static uint32_t
mulberry32(uint32_t *s)
{
    uint32_t z = (*s += 0x6D2B79F5u);
    z = (z ^ (z >> 15)) * (z | 1u);
    z ^= z + (z ^ (z >> 7)) * (z | 61u);
    return z ^ (z >> 14);
}

static void
test_random_flips(void)
{
    setup();
    mp_realm *src;
    OK(mp_realm_new(NULL, &src));
    uint8_t *b;
    size_t len;
    encode(rich_value(src), &b, &len);
    mp_realm_free(src);
    uint8_t *w = malloc(len);
    uint32_t seed = 12345;
    int ok = 0, bad = 0;
    for (int iter = 0; iter < 20000; iter++) {
        memcpy(w, b, len);
        int flips = 1 + (int)(mulberry32(&seed) % 3);
        for (int f = 0; f < flips; f++) {
            uint32_t r = mulberry32(&seed);
            size_t at = r % len;
            if (r & 0x80000000u)
                w[at] = (uint8_t)(r >> 8);
            else
                w[at] ^= (uint8_t)(1u << ((r >> 8) % 8));
        }
        mp_value out;
        mp_error_info err;
        mp_status st = decode(w, len, NULL, &out, &err);
        if (st == MP_OK) {
            ok++;
            /* whatever decoded must encode again */
            mp_message *m;
            mp_status st2 = mp_serialize(out, NULL, 0, &m, NULL);
            CU_ASSERT(st2 == MP_OK || st2 == MP_EDATACLONE);
            if (st2 == MP_OK) mp_message_free(m);
        } else {
            bad++;
            CU_ASSERT(st == MP_EDECODE || st == MP_ELIMIT || st == MP_EVERSION);
            CU_ASSERT(err.offset <= len);
        }
        if (iter % 500 == 0) mp_realm_collect(R, NULL, 0);
    }
    CU_ASSERT(bad > 0);
    CU_ASSERT(ok > 0);
    free(w);
    free(b);
    mp_realm_free(R);
    R = NULL;
    CU_ASSERT_EQUAL(atomic_load(&A.live_bytes), 0);
}

/* Counts declared far past the bytes left fail fast without allocating. */
static void
test_huge_counts(void)
{
    setup();
    atomic_store(&A.peak_bytes, 0);
    EXPECT(MP_EDECODE, 1, 0xdd, 0xff, 0xff, 0xff, 0xff);       /* array32 */
    EXPECT(MP_EDECODE, 1, 0xdf, 0xff, 0xff, 0xff, 0xff);       /* map32 */
    EXPECT(MP_EDECODE, 1, 0xdb, 0xff, 0xff, 0xff, 0xff);       /* str32 */
    EXPECT(MP_EDECODE, 1, 0xc6, 0xff, 0xff, 0xff, 0xff);       /* bin32 */
    EXPECT(MP_EDECODE, 1, 0xc9, 0xff, 0xff, 0xff, 0xff, 11);   /* ext32 */
    EXPECT(MP_EDECODE, 1, 0xdc, 0xff, 0xff, 0xc0);             /* array16 */
    EXPECT(MP_EDECODE, 1, 0x91, 0xdd, 0x7f, 0xff, 0xff, 0xff); /* nested */
    /* dense array ext: length 0xffffffff */
    EXPECT(MP_EDECODE, 1, 0xc7, 9, MPI_EXT_ARRAY, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0);
    /* dense array ext: named properties 0xffffffff */
    EXPECT(MP_EDECODE, 1, 0xc7, 9, MPI_EXT_ARRAY, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff);
    /* sparse: element count 0xffffffff */
    EXPECT(MP_EDECODE, 1, 0xc7, 13, MPI_EXT_ARRAY, 1, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0);
    /* Map and Set counts */
    EXPECT(MP_EDECODE, 1, 0xd6, MPI_EXT_MAP, 0xff, 0xff, 0xff, 0xff);
    EXPECT(MP_EDECODE, 1, 0xd6, MPI_EXT_SET, 0xff, 0xff, 0xff, 0x7f);
    /* a resizable ArrayBuffer reserving 2^62 bytes: max_reserve */
    EXPECT(MP_ELIMIT, 1, 0xc7, 9, MPI_EXT_ARRAYBUFFER, 1, 0, 0, 0, 0, 0, 0, 0, 0x40);
    /* a sparse array's length costs nothing: valid, up to the largest length */
    EXPECT(MP_OK, 1, 0xc7, 13, MPI_EXT_ARRAY, 1, 0xfe, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0);
    EXPECT(MP_OK, 1, 0xc7, 13, MPI_EXT_ARRAY, 1, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0);
    /* ... with its one element at the last index 2^32-2 */
    EXPECT(MP_OK, 1, 0xc7, 13, MPI_EXT_ARRAY, 1, 0xff, 0xff, 0xff, 0xff, 1, 0, 0, 0, 0, 0, 0, 0, 0xce, 0xff, 0xff, 0xff,
           0xfe, 0x01);
    /* a fixed-length view whose length is 2^64-1 (MP_LENGTH_AUTO in memory) */
    EXPECT(MP_EDECODE, 1, 0xc7, 5, MPI_EXT_ARRAYBUFFER, 0, 0xaa, 0xbb, 0xcc, 0xdd, 0xc7, 18, MPI_EXT_VIEW, MP_UINT8, 0,
           0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff);
    /* One 64 KiB arena chunk and small change; honouring any of those
     * counts would take gigabytes. */
    CU_ASSERT(atomic_load(&A.peak_bytes) < 160 * 1024);
    mp_realm_free(R);
    R = NULL;
    CU_ASSERT_EQUAL(atomic_load(&A.live_bytes), 0);
}

static void
test_depth_limit(void)
{
    setup();
    enum { N = 5000 };
    uint8_t *b = malloc(N + 2);
    b[0] = 1;
    for (int i = 1; i <= N; i++)
        b[i] = 0x91; /* [[[[...]]]] */
    b[N + 1] = 0xc0;
    mp_decode_limits lim = mp_decode_limits_default();
    lim.max_depth = 1000;
    mp_error_info err;
    mp_value out;
    CU_ASSERT_EQUAL(decode(b, N + 2, &lim, &out, &err), MP_ELIMIT);
    CU_ASSERT_STRING_EQUAL(err.detail, "max_depth (1000) exceeded");
    CU_ASSERT_EQUAL(err.offset, 1001);
    lim.max_depth = N;
    OK(decode(b, N + 2, &lim, &out, &err));
    OK(decode(b, N + 2, NULL, &out, &err));
    /* nested Error causes and Map values count too */
    free(b);
    mp_realm_free(R);
    R = NULL;
}

static void
test_forged_references(void)
{
    setup();
    EXPECT(MP_EDECODE, 1, 0xd4, MPI_EXT_BACKREF, 0);                      /* no ids yet */
    EXPECT(MP_EDECODE, 1, 0x91, 0xd4, MPI_EXT_BACKREF, 5);                /* id 5 of 1 */
    EXPECT(MP_OK, 1, 0x91, 0xd4, MPI_EXT_BACKREF, 0);                     /* [self] */
    EXPECT(MP_EDECODE, 1, 0xd6, MPI_EXT_BACKREF, 0, 0, 0, 0x80);          /* 4-byte id */
    EXPECT(MP_EDECODE, 1, 0xd7, MPI_EXT_BACKREF, 0, 0, 0, 0, 0, 0, 0, 0); /* 8-byte payload */
    EXPECT(MP_EDECODE, 1, 0xd4, MPI_EXT_MOVED, 0);                        /* no moved stores */
    EXPECT(MP_EDECODE, 1, 0xd5, MPI_EXT_SAB, 3, 0);                       /* no shared stores */
    EXPECT(MP_EDECODE, 1, 0xd7, MPI_EXT_HOST, 1, 0, 0, 0, 0, 0, 0, 0);    /* no host payloads */
    /* an index past a real side table, and a moved store used twice */
    mp_realm *s;
    OK(mp_realm_new(NULL, &s));
    mp_value ab;
    OK(mp_arraybuffer_new(s, 8, &ab));
    mp_message *m;
    OK(mp_serialize(ab, &ab, 1, &m, NULL));
    CU_ASSERT_EQUAL_FATAL(m->len, 4);
    m->bytes[3] = 1; /* MOVED 1 of 1 */
    mp_value out;
    mp_error_info err;
    CU_ASSERT_EQUAL(mp_deserialize(m, R, NULL, &out, &err), MP_EDECODE);
    CU_ASSERT_EQUAL(err.offset, 1);
    mp_value arr2;
    OK(mp_arraybuffer_new(s, 8, &ab));
    OK(mp_array_new(s, 0, &arr2));
    OK(mp_array_push(arr2, ab));
    OK(mp_array_push(arr2, mp_null()));
    OK(mp_serialize(arr2, &ab, 1, &m, NULL));
    /* 01 92 d4 0d 00 c0 -> 01 92 d4 0d 00 d4 0d 00 */
    uint8_t forged[] = {1, 0x92, 0xd4, MPI_EXT_MOVED, 0, 0xd4, MPI_EXT_MOVED, 0};
    CU_ASSERT_EQUAL_FATAL(m->len, 6);
    OK(mpi_message_set_bytes(m, forged, sizeof forged));
    CU_ASSERT_EQUAL(mp_deserialize(m, R, NULL, &out, &err), MP_EDECODE);
    CU_ASSERT_EQUAL(err.offset, 5);
    mp_realm_free(s);
    mp_realm_free(R);
    R = NULL;
    CU_ASSERT_EQUAL(atomic_load(&A.live_bytes), 0);
}

static void
test_framing(void)
{
    setup();
    EXPECT(MP_OK, 1, 0xc0);
    EXPECT(MP_EDECODE, 1, 0xc0, 0xc0); /* trailing bytes */
    EXPECT(MP_EDECODE, 1, 0x90, 0x00);
    EXPECT(MP_EVERSION, 2, 0xc0); /* unknown versions */
    EXPECT(MP_EVERSION, 0, 0xc0);
    EXPECT(MP_EVERSION, 0xcf, 0, 0, 0, 1, 0, 0, 0, 1, 0xc0);
    EXPECT(MP_EDECODE, 0xc0);                             /* no header */
    EXPECT(MP_EDECODE, 1);                                /* no value */
    EXPECT(MP_EDECODE, 1, 0xc1);                          /* never-used byte */
    EXPECT(MP_EDECODE, 1, 0xd4, 100, 0);                  /* unknown ext */
    EXPECT(MP_EDECODE, 1, 0xd4, 17, 0);                   /* reserved (ports) */
    EXPECT(MP_EDECODE, 1, 0xd6, 0xff, 0, 0, 0, 0);        /* timestamp (-1) */
    EXPECT(MP_EDECODE, 1, 0xc7, 1, MPI_EXT_UNDEFINED, 0); /* payload where none belongs */
    EXPECT(MP_EDECODE, 1, 0xc7, 0, MPI_EXT_HOLE);         /* a hole outside a dense array */
    EXPECT(MP_EDECODE, 1, 0x91, 0xc7, 0, MPI_EXT_HOLE);
    EXPECT(MP_OK, 1, 0xc7, 9, MPI_EXT_ARRAY, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0xc7, 0, MPI_EXT_HOLE, 0xc0);
    EXPECT(MP_EDECODE, 1, 0xa2, 0xc3, 0x28);                                /* invalid UTF-8 */
    EXPECT(MP_EDECODE, 1, 0xa3, 0xed, 0xa0, 0x80);                          /* UTF-8 surrogate */
    EXPECT(MP_EDECODE, 1, 0xd4, MPI_EXT_STRING16, 0x41);                    /* odd UTF-16 length */
    EXPECT(MP_EDECODE, 1, 0x81, 0x01, 0xc0);                                /* non-string key */
    EXPECT(MP_EDECODE, 1, 0x82, 0xa1, 'a', 0xc0, 0xa1, 'a', 0xc0);          /* duplicate key */
    EXPECT(MP_EDECODE, 1, 0xd6, MPI_EXT_MAP, 2, 0, 0, 0, 1, 0xc0, 1, 0xc0); /* duplicate Map key */
    EXPECT(MP_EDECODE, 1, 0xd6, MPI_EXT_SET, 2, 0, 0, 0, 0xa1, 'x', 0xa1, 'x');
    EXPECT(MP_EDECODE, 1, 0xd6, MPI_EXT_SET, 2, 0, 0, 0, 0x00, 0xcb, 0x80, 0, 0, 0, 0, 0, 0, 0); /* 0, -0 */
    EXPECT(MP_OK, 1, 0xd6, MPI_EXT_MAP, 1, 0, 0, 0, 0x91, 0xc0, 0xd4, MPI_EXT_BACKREF, 1); /* {[null] => itself} */
    /* array ext: an index key among the named properties, sparse order */
    EXPECT(MP_EDECODE, 1, 0xc7, 9, MPI_EXT_ARRAY, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0xa1, '3', 0xc0);
    EXPECT(MP_OK, 1, 0xc7, 9, MPI_EXT_ARRAY, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0xa2, '0', '3', 0xc0);
    EXPECT(MP_EDECODE, 1, 0xc7, 13, MPI_EXT_ARRAY, 1, 9, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 5, 0xc0, 2, 0xc0);
    EXPECT(MP_EDECODE, 1, 0xc7, 13, MPI_EXT_ARRAY, 1, 9, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 9, 0xc0);
    EXPECT(MP_EDECODE, 1, 0xc7, 13, MPI_EXT_ARRAY, 1, 9, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0xa1, '1', 0xc0);
    EXPECT(MP_EDECODE, 1, 0xc7, 2, MPI_EXT_ARRAY, 7, 0); /* unknown form */
    /* views: no buffer before, out of range, misaligned, bad type */
    EXPECT(MP_EDECODE, 1, 0xc7, 18, MPI_EXT_VIEW, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
    EXPECT(MP_OK, 1, 0xc7, 5, MPI_EXT_ARRAYBUFFER, 0, 1, 2, 3, 4, 0xc7, 18, MPI_EXT_VIEW, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0,
           3, 0, 0, 0, 0, 0, 0, 0);
    EXPECT(MP_EDECODE, 1, 0xc7, 5, MPI_EXT_ARRAYBUFFER, 0, 1, 2, 3, 4, 0xc7, 18, MPI_EXT_VIEW, 1, 0, 1, 0, 0, 0, 0, 0,
           0, 0, 4, 0, 0, 0, 0, 0, 0, 0);
    EXPECT(MP_EDECODE, 1, 0xc7, 5, MPI_EXT_ARRAYBUFFER, 0, 1, 2, 3, 4, 0xc7, 18, MPI_EXT_VIEW, MP_INT16, 0, 1, 0, 0, 0,
           0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0);
    EXPECT(MP_EDECODE, 1, 0xc7, 5, MPI_EXT_ARRAYBUFFER, 0, 1, 2, 3, 4, 0xc7, 18, MPI_EXT_VIEW, 12, 0, 0, 0, 0, 0, 0, 0,
           0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
    EXPECT(MP_EDECODE, 1, 0xc7, 5, MPI_EXT_ARRAYBUFFER, 0, 1, 2, 3, 4, 0xc7, 18, MPI_EXT_VIEW, 1, 1, 0, 0, 0, 0, 0, 0,
           0, 0, 0, 0, 0, 0, 0, 0, 0, 0); /* tracking over a fixed buffer */
    /* errors, RegExps, boxed, BigInt, Date payloads */
    EXPECT(MP_EDECODE, 1, 0xd5, MPI_EXT_ERROR, 7, 0);
    EXPECT(MP_EDECODE, 1, 0xd5, MPI_EXT_ERROR, 0, 8);
    EXPECT(MP_EDECODE, 1, 0xd5, MPI_EXT_ERROR, 0, 1, 0x01);
    EXPECT(MP_OK, 1, 0xd5, MPI_EXT_ERROR, 0, 4, 0xd4, MPI_EXT_BACKREF, 0);
    EXPECT(MP_EDECODE, 1, 0xd4, MPI_EXT_REGEXP, 0xa0, 0xa0); /* u and v */
    EXPECT(MP_EDECODE, 1, 0xd4, MPI_EXT_REGEXP, 0, 0xc0);
    EXPECT(MP_EDECODE, 1, 0xc7, 0, MPI_EXT_BOXED, 0xc0);
    EXPECT(MP_EDECODE, 1, 0xc7, 0, MPI_EXT_BOXED, 0x90);
    EXPECT(MP_OK, 1, 0xc7, 0, MPI_EXT_BOXED, 0xc3);
    EXPECT(MP_EDECODE, 1, 0xd4, MPI_EXT_BIGINT, 2);
    EXPECT(MP_EDECODE, 1, 0xc7, 0, MPI_EXT_BIGINT);
    EXPECT(MP_OK, 1, 0xd5, MPI_EXT_BIGINT, 1, 0); /* -0n is 0n */
    EXPECT(MP_EDECODE, 1, 0xd6, MPI_EXT_DATE, 0, 0, 0, 0);
    EXPECT(MP_EDECODE, 1, 0xc7, 9, MPI_EXT_ARRAYBUFFER, 1, 3, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4); /* max < len */
    EXPECT(MP_EDECODE, 1, 0xc7, 1, MPI_EXT_ARRAYBUFFER, 2);
    mp_realm_free(R);
    R = NULL;
    CU_ASSERT_EQUAL(atomic_load(&A.live_bytes), 0);
}

static void
test_limits(void)
{
    setup();
    mp_error_info err;
    mp_value out;
    static const uint8_t msg[] = {1, 0x93, 0xa3, 'a', 'b', 'c', 0x90, 0xc4, 4, 1, 2, 3, 4};
    OK(decode(msg, sizeof msg, NULL, &out, &err));
    mp_decode_limits lim = mp_decode_limits_default();
    lim.max_bytes = sizeof msg - 1;
    CU_ASSERT_EQUAL(decode(msg, sizeof msg, &lim, &out, &err), MP_ELIMIT);
    CU_ASSERT_EQUAL(err.offset, 0);
    lim = mp_decode_limits_default();
    lim.max_objects = 2;
    CU_ASSERT_EQUAL(decode(msg, sizeof msg, &lim, &out, &err), MP_ELIMIT);
    CU_ASSERT_EQUAL(err.offset, 7);
    CU_ASSERT_STRING_EQUAL(err.detail, "max_objects (2) exceeded");
    lim = mp_decode_limits_default();
    lim.max_string_length = 2;
    CU_ASSERT_EQUAL(decode(msg, sizeof msg, &lim, &out, &err), MP_ELIMIT);
    CU_ASSERT_EQUAL(err.offset, 2);
    lim = mp_decode_limits_default();
    lim.max_buffer_length = 3;
    CU_ASSERT_EQUAL(decode(msg, sizeof msg, &lim, &out, &err), MP_ELIMIT);
    CU_ASSERT_EQUAL(err.offset, 7);
    lim = mp_decode_limits_default();
    lim.max_depth = 1;
    OK(decode(msg, sizeof msg, &lim, &out, &err));
    lim.max_depth = 0;
    CU_ASSERT_EQUAL(decode(msg, sizeof msg, &lim, &out, &err), MP_ELIMIT);
    mp_realm_free(R);
    R = NULL;
    CU_ASSERT_EQUAL(atomic_load(&A.live_bytes), 0);
}

/* Memory use is proportional to the input, whatever it declares. */
static void
test_allocation_bound(void)
{
    setup();
    /* 100,000 one-byte empty arrays in one array: fine, and bounded */
    enum { N = 100000 };
    uint8_t *b = malloc(N + 6);
    b[0] = 1;
    b[1] = 0xdd;
    b[2] = 0;
    b[3] = (uint8_t)(N >> 16);
    b[4] = (uint8_t)(N >> 8);
    b[5] = (uint8_t)N;
    memset(b + 6, 0x90, N);
    atomic_store(&A.peak_bytes, atomic_load(&A.live_bytes));
    mp_value out;
    OK(decode(b, N + 6, NULL, &out, NULL));
    CU_ASSERT_EQUAL(mp_array_length(out), N);
    long long peak = atomic_load(&A.peak_bytes);
    CU_ASSERT(peak < 400LL * N); /* cells are bigger than one byte; a constant factor */
    free(b);
    mp_realm_free(R);
    R = NULL;
    CU_ASSERT_EQUAL(atomic_load(&A.live_bytes), 0);
}

/* A map of n keys: key i is keys(i), its value i (uint16). */
static uint8_t *
keyed_map(uint32_t n, void (*keys)(uint32_t i, uint32_t n, char *buf), size_t *len)
{
    uint8_t *b = malloc(6 + (size_t)n * 16), *p = b;
    *p++ = 1;
    *p++ = 0xdf;
    for (int s = 24; s >= 0; s -= 8)
        *p++ = (uint8_t)(n >> s);
    for (uint32_t i = 0; i < n; i++) {
        char k[12];
        keys(i, n, k);
        size_t kl = strlen(k);
        *p++ = (uint8_t)(0xa0 | kl);
        memcpy(p, k, kl);
        p += kl;
        *p++ = 0xcd;
        *p++ = (uint8_t)(i >> 8);
        *p++ = (uint8_t)i;
    }
    *len = (size_t)(p - b);
    return b;
}

/* Odd positions: index keys, descending; even ones: named keys. */
static void
mixed_keys(uint32_t i, uint32_t n, char *buf)
{
    if (i % 2)
        snprintf(buf, 12, "%u", (unsigned)(n - i));
    else
        snprintf(buf, 12, "k%u", (unsigned)i);
}

static void
descending_keys(uint32_t i, uint32_t n, char *buf)
{
    snprintf(buf, 12, "%u", (unsigned)(n - 1 - i));
}

/* Named keys first, then index keys ascending. */
static void
named_then_index_keys(uint32_t i, uint32_t n, char *buf)
{
    if (i < n / 2)
        snprintf(buf, 12, "k%u", (unsigned)i);
    else
        snprintf(buf, 12, "%u", (unsigned)(i - n / 2));
}

/* Checks that out's keys are in JavaScript order: the index keys
 * ascending, then the named ones in message order, each with its value. */
static void
check_key_order(mp_value out, uint32_t n, void (*keys)(uint32_t i, uint32_t n, char *buf))
{
    CU_ASSERT_EQUAL_FATAL(mp_object_count(out), n);
    uint32_t n_index = 0;
    char k[12];
    for (uint32_t i = 0; i < n; i++) {
        keys(i, n, k);
        n_index += k[0] >= '0' && k[0] <= '9';
    }
    size_t cursor = 0;
    mp_value key, v;
    uint32_t seen = 0, named = 0;
    long last_index = -1;
    while (mp_object_next(out, &cursor, &key, &v)) {
        char got[12];
        CU_ASSERT_FATAL(mp_string_to_utf8(key, got, sizeof got) < sizeof got);
        if (seen < n_index) {
            long index = strtol(got, NULL, 10);
            CU_ASSERT(index > last_index);
            last_index = index;
        } else {
            /* the next named key of the message */
            do
                keys(named++, n, k);
            while (k[0] >= '0' && k[0] <= '9');
            CU_ASSERT_STRING_EQUAL(got, k);
        }
        /* each key still has its own value, and is found by lookup */
        uint32_t pos = n;
        for (uint32_t i = 0; i < n && pos == n; i++) {
            keys(i, n, k);
            if (!strcmp(k, got)) pos = i;
        }
        CU_ASSERT_EQUAL(mp_number_value(v), pos);
        mp_value found;
        CU_ASSERT_EQUAL(mp_object_get_utf8(out, got, &found), MP_OK);
        CU_ASSERT_EQUAL(mp_number_value(found), pos);
        seen++;
    }
    CU_ASSERT_EQUAL(seen, n);
}

/* An object's keys may come in any order (a message from another encoder):
 * index keys are put first, ascending, in time proportional to n log n
 * (each out-of-order key used to move the whole table and rebuild its
 * index: 549 KB of descending keys took 11 s); duplicates are still found. */
static void
test_keys_in_any_order(void)
{
    setup();
    void (*orders[])(uint32_t, uint32_t, char *) = {mixed_keys, descending_keys, named_then_index_keys};
    uint32_t sizes[] = {4, 7, 40, 1000, 20000};
    for (size_t o = 0; o < sizeof orders / sizeof orders[0]; o++) {
        for (size_t z = 0; z < sizeof sizes / sizeof sizes[0]; z++) {
            uint32_t n = sizes[z];
            size_t len;
            uint8_t *b = keyed_map(n, orders[o], &len);
            mp_value out;
            mp_error_info err;
            /* twice: the second decode may use what the first recorded */
            for (int round = 0; round < 2; round++) {
                CU_ASSERT_EQUAL_FATAL(decode(b, len, NULL, &out, &err), MP_OK);
                if (n <= 1000) check_key_order(out, n, orders[o]);
            }
            free(b);
        }
    }
    /* a duplicate index key after the table went out of order */
    EXPECT(MP_EDECODE, 1, 0x83, 0xa1, '5', 0, 0xa1, '3', 0, 0xa1, '5', 0);
    EXPECT(MP_EDECODE, 1, 0x84, 0xa1, 'x', 0, 0xa1, '3', 0, 0xa1, 'y', 0, 0xa1, 'x', 0);
    mp_error_info err;
    static const uint8_t dup[] = {1, 0x83, 0xa1, '5', 0, 0xa1, '3', 0, 0xa1, '5', 0};
    CU_ASSERT_EQUAL(decode(dup, sizeof dup, NULL, NULL, &err), MP_EDECODE);
    CU_ASSERT_EQUAL(err.offset, 8);
    CU_ASSERT_STRING_EQUAL(err.detail, "duplicate property key");
    mp_realm_free(R);
    R = NULL;
    CU_ASSERT_EQUAL(atomic_load(&A.live_bytes), 0);
}

int
main(void)
{
    static const mpt_test tests[] = {
        {"every prefix of valid messages fails cleanly", test_every_prefix},
        {"random byte flips (fixed seed)", test_random_flips},
        {"huge declared counts fail fast, no big allocation", test_huge_counts},
        {"nesting past the depth limit", test_depth_limit},
        {"forged back-references and side-table indices", test_forged_references},
        {"framing, versions, unknown ext, malformed payloads", test_framing},
        {"limits: bytes, objects, string and buffer lengths", test_limits},
        {"allocation proportional to input", test_allocation_bound},
        {"object keys in any order", test_keys_in_any_order},
        {NULL, NULL},
    };
    int rc = mpt_run("codec_hostile", tests);
    mp_realm_free(R);
    return rc;
}
