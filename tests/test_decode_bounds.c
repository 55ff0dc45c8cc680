/* The decoder's memory bound on hostile input (codec/FORMAT.md, section 5):
 * decoding n bytes under the default limits allocates at most
 *
 *     MPF_DECODE_BOUND_K * n + MPF_DECODE_BOUND_C + reserve
 *
 * bytes at peak, counted through the allocator of the realm and of the
 * message (the realm's arena chunks and large blocks, byte stores, the
 * decoder's work stacks), above what was live before the call (the
 * message's own copy of the input). `reserve` is the one allocation the
 * input does not pay for: each resizable ArrayBuffer ext reserves its
 * maximum length minus the bytes it carries (all of them together at most
 * max_reserve), plus the 2 MiB huge-page alignment a store of 2 MiB or
 * more gets.
 *
 * Measured over every file of fuzz/corpus/{decode,roundtrip} and over
 * crafted worst cases, whole and truncated (a failed decode peaks before
 * it rolls back). A decoder that allocated from a declared count, or
 * anything superlinear, fails here. Reallocations are counted as moves
 * (old and new block live at once), as a real allocator may do. */
#include <dirent.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec_internal.h"
#include "fuzz_support.h"
#include "testutil.h"
#include "token.h"

/* The bound, MPF_DECODE_BOUND_K and _C (fuzz/fuzz_support.h, shared with
 * fuzz_decode), is quoted in codec/FORMAT.md section 5: keep them in step.
 * The densest input is a chain of one-element arrays (91 91 91 ...): each
 * byte makes an array cell (112 bytes in the arena), a one-slot element
 * vector (24), a work-stack frame (48) and an id slot (16), and right
 * after the stacks double, while the frame stack moves, 2 ids and 3
 * frames per open array: 312 bytes per input byte, measured at depth
 * 2^17 + 1. MPF_DECODE_BOUND_K leaves room for layout changes; MPF_DECODE_BOUND_C covers the
 * first 64 KiB arena chunk and the fixed per-decode allocations. */

typedef struct measured {
    mp_status status;
    size_t n;       /* input bytes */
    size_t peak;    /* peak bytes above the live bytes before the call */
    size_t reserve; /* the resizable-ArrayBuffer term for this input */
} measured;

/* Worst figures over the whole run, printed at the end. */
static double g_worst_ratio; /* (peak - reserve) / n, inputs of 64 KiB or more */
static char g_worst_name[128];
static size_t g_inputs;
static size_t g_worst_constant; /* max(peak - reserve - MPF_DECODE_BOUND_K n): the part of MPF_DECODE_BOUND_C used */

static measured
measure_with(const uint8_t *bytes, size_t n, const mp_decode_limits *lim)
{
    mpt_alloc a;
    mpt_alloc_init(&a);
    atomic_store(&a.realloc_moves, 1);
    mp_realm *r = NULL;
    mp_message *m = NULL;
    measured out = {MP_EINVAL, n, 0, 0};
    CU_ASSERT_EQUAL_FATAL(mp_realm_new(&a.alc, &r), MP_OK);
    CU_ASSERT_EQUAL_FATAL(mp_message_from_bytes(bytes, n, &a.alc, &m), MP_OK);
    long long before = atomic_load(&a.live_bytes);
    atomic_store(&a.peak_bytes, before);
    mp_value v;
    mp_error_info err;
    mp_decode_limits defaults = mp_decode_limits_default();
    out.status = mp_deserialize(m, r, lim, &v, &err);
    out.peak = (size_t)(atomic_load(&a.peak_bytes) - before);
    out.reserve = mpf_reserve_term(bytes, n, lim ? lim : &defaults);
    mp_realm_free(r);
    CU_ASSERT_EQUAL(atomic_load(&a.live_bytes), 0); /* nothing outlives the realm and the message */
    return out;
}

/* Measures one input against the bound; records the worst ratio. */
static void
check(const char *name, const uint8_t *bytes, size_t n, const mp_decode_limits *lim)
{
    measured m = measure_with(bytes, n, lim);
    size_t bound = (size_t)MPF_DECODE_BOUND_K * n + MPF_DECODE_BOUND_C + m.reserve;
    g_inputs++;
    if (m.peak > bound) {
        fprintf(stderr, "\n  %s: %zu input bytes (%s) peaked at %zu bytes, over the bound %zu (reserve %zu)\n", name, n,
                mp_strerror(m.status), m.peak, bound, m.reserve);
    }
    CU_ASSERT(m.peak <= bound);
    size_t linear = (size_t)MPF_DECODE_BOUND_K * n + m.reserve;
    if (m.peak > linear && m.peak - linear > g_worst_constant) g_worst_constant = m.peak - linear;
    if (n >= ((size_t)64 << 10)) {
        double ratio = (double)(m.peak - (m.peak > m.reserve ? m.reserve : m.peak)) / (double)n;
        if (ratio > g_worst_ratio) {
            g_worst_ratio = ratio;
            snprintf(g_worst_name, sizeof g_worst_name, "%s (%zu bytes, %s)", name, n, mp_strerror(m.status));
        }
    }
}

/* Whole, and cut at three quarters (the decode then fails part-way). */
static void
check_and_cut(const char *name, const uint8_t *bytes, size_t n)
{
    check(name, bytes, n, NULL);
    char cut[160];
    snprintf(cut, sizeof cut, "%s, cut", name);
    check(cut, bytes, n - n / 4, NULL);
}

/* ---- the corpus --------------------------------------------------------------- */

/* Every file of fuzz/corpus/<which>/ (found from this source file's path);
 * byte 0 of each is the fuzz targets' mode byte, the rest the message,
 * decoded here from bytes alone under the default limits. */
static void
corpus(const char *which)
{
    char dir[4096];
    const char *here = __FILE__;
    const char *slash = strrchr(here, '/');
    snprintf(dir, sizeof dir, "%.*s/../fuzz/corpus/%s", slash ? (int)(slash - here) : 1, slash ? here : ".", which);
    DIR *d = opendir(dir);
    if (!d) fprintf(stderr, "\n  cannot open %s\n", dir);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    size_t files = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        char path[8192];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        size_t len;
        uint8_t *bytes = mpf_read_file(path, &len);
        CU_ASSERT_PTR_NOT_NULL(bytes);
        if (!bytes) continue;
        if (len > 1) check(e->d_name, bytes + 1, len - 1, NULL);
        free(bytes);
        files++;
    }
    closedir(d);
    CU_ASSERT(files > 10); /* a corpus that went missing must not pass */
}

static void
test_corpus_decode(void)
{
    corpus("decode");
}

static void
test_corpus_roundtrip(void)
{
    corpus("roundtrip");
}

/* ---- crafted worst cases -------------------------------------------------------- */

typedef struct buf {
    uint8_t *p;
    size_t n, cap;
} buf;

static void
put(buf *b, const void *bytes, size_t n)
{
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n)
            cap *= 2;
        uint8_t *np = realloc(b->p, cap);
        CU_ASSERT_PTR_NOT_NULL_FATAL(np);
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->n, bytes, n);
    b->n += n;
}

static void
put8(buf *b, uint8_t x)
{
    put(b, &x, 1);
}

static void
put_be32(buf *b, uint32_t x)
{
    uint8_t v[4] = {(uint8_t)(x >> 24), (uint8_t)(x >> 16), (uint8_t)(x >> 8), (uint8_t)x};
    put(b, v, 4);
}

static void
put_le32(buf *b, uint32_t x)
{
    uint8_t v[4] = {(uint8_t)x, (uint8_t)(x >> 8), (uint8_t)(x >> 16), (uint8_t)(x >> 24)};
    put(b, v, 4);
}

static void
put_le64(buf *b, uint64_t x)
{
    put_le32(b, (uint32_t)x);
    put_le32(b, (uint32_t)(x >> 32));
}

/* Starts a message: version 1. */
static buf
msg(void)
{
    buf b = {NULL, 0, 0};
    put8(&b, 0x01);
    return b;
}

static void
array32(buf *b, uint32_t n)
{
    put8(b, 0xdd);
    put_be32(b, n);
}

/* A msgpack unsigned int in the shortest form (sparse array indices). */
static void
put_uint(buf *b, uint32_t x)
{
    if (x < 128) {
        put8(b, (uint8_t)x);
    } else if (x < 65536) {
        put8(b, 0xcd);
        put8(b, (uint8_t)(x >> 8));
        put8(b, (uint8_t)x);
    } else {
        put8(b, 0xce);
        put_be32(b, x);
    }
}

/* 2^16 + 1: just past a power of two, where doubling tables waste most. */
#define M 65537u

static void
done(buf *b, const char *name)
{
    check_and_cut(name, b->p, b->n);
    free(b->p);
}

static void
test_nesting(void)
{
    /* [[[[...]]]]: 2^17 + 1 levels, so the work stacks have just doubled
     * (the densest input there is); and a depth off the doubling points. */
    buf b = msg();
    for (int i = 0; i < (1 << 17) + 1; i++)
        put8(&b, 0x91);
    put8(&b, 0xc0);
    done(&b, "131,073 nested one-element arrays");
    b = msg();
    for (int i = 0; i < 100000; i++)
        put8(&b, 0x91);
    put8(&b, 0xc0);
    done(&b, "100,000 nested one-element arrays");

    b = msg();
    for (int i = 0; i < 100000; i++)
        put(&b, "\x81\xa0", 2); /* {"": {"": ...}} */
    put8(&b, 0xc0);
    done(&b, "100,000 nested one-key objects");

    b = msg();
    for (int i = 0; i < 50000; i++)
        put(&b, "\xd5\x09\x00\x04", 4); /* Error whose cause is an Error ... */
    put8(&b, 0xc0);
    done(&b, "50,000 nested Error causes");

    b = msg();
    for (int i = 0; i < 50000; i++)
        put(&b, "\xd6\x08\x01\x00\x00\x00", 6); /* Set of one Set ... */
    put8(&b, 0xc0);
    done(&b, "50,000 nested Sets");

    /* Up to the depth limit and one past it, with a limit of 65,536 (the
     * default of 10,000,000 would need a 10 MB input here). */
    mp_decode_limits lim = mp_decode_limits_default();
    lim.max_depth = 65536;
    for (size_t depth = lim.max_depth; depth <= lim.max_depth + 1; depth++) {
        b = msg();
        for (size_t i = 0; i < depth; i++)
            put8(&b, 0x91);
        put8(&b, 0xc0);
        measured m = measure_with(b.p, b.n, &lim);
        CU_ASSERT_EQUAL(m.status, depth <= lim.max_depth ? MP_OK : MP_ELIMIT);
        check(depth <= lim.max_depth ? "nesting at max_depth" : "nesting past max_depth", b.p, b.n, &lim);
        free(b.p);
    }
}

static void
test_huge_counts(void)
{
    /* Each declares far more than the bytes left: refused before any
     * allocation for the count. */
    static const struct {
        const char *name;
        const char *bytes;
        size_t n;
    } cases[] = {
        {"array32 of 2^32-1", "\x01\xdd\xff\xff\xff\xff\x90", 7},
        {"map32 of 2^32-1", "\x01\xdf\xff\xff\xff\xff\xa0\x90", 8},
        {"str32 of 2^32-1",
         "\x01\xdb\xff\xff\xff\xff"
         "abc",
         9},
        {"bin32 of 2^32-1",
         "\x01\xc6\xff\xff\xff\xff"
         "abc",
         9},
        {"ext32 of 2^32-1", "\x01\xc9\xff\xff\xff\xff\x0b\x00", 8},
        {"Map ext of 2^30", "\x01\xd6\x07\x00\x00\x00\x40\x90\x90", 9},
        {"Set ext of 2^32-1", "\x01\xd6\x08\xff\xff\xff\xff\x90", 8},
        {"dense ARRAY ext of 2^32-1", "\x01\xc7\x09\x06\x00\xff\xff\xff\xff\x00\x00\x00\x00\x90", 14},
        {"dense ARRAY ext, 2^32-1 named", "\x01\xc7\x09\x06\x00\x00\x00\x00\x00\xff\xff\xff\xff\xa0", 14},
        {"sparse ARRAY ext, 2^32-1 of 2^32-1",
         "\x01\xc7\x0d\x06\x01\xff\xff\xff\xff\xff\xff\xff\xff\x00\x00\x00\x00\x00", 18},
        {"ArrayBuffer max 2^64-1", "\x01\xc7\x09\x0b\x01\xff\xff\xff\xff\xff\xff\xff\xff", 13},
        {"view of length 2^64-2",
         "\x01\xc4\x00\xc7\x12\x0c\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\xfe\xff\xff\xff\xff\xff\xff\xff", 24},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        measured m = measure_with((const uint8_t *)cases[i].bytes, cases[i].n, NULL);
        CU_ASSERT_NOT_EQUAL(m.status, MP_OK);
        CU_ASSERT_NOT_EQUAL(m.status, MP_ENOMEM);
        check(cases[i].name, (const uint8_t *)cases[i].bytes, cases[i].n, NULL);
    }

    /* A sparse array of length 2^32-1 holding M elements: memory follows
     * the elements, not the length. */
    buf b = msg();
    put(&b, "\xc7\x0d\x06\x01", 4);
    put_le32(&b, 0xffffffffu);
    put_le32(&b, M);
    put_le32(&b, 0);
    for (uint32_t i = 0; i < M; i++) {
        put_uint(&b, i * 7u);
        put8(&b, 0x90);
    }
    done(&b, "sparse array of length 2^32-1, 65,537 empty arrays");

    /* All indices present: the array turns dense while decoding. */
    b = msg();
    put(&b, "\xc7\x0d\x06\x01", 4);
    put_le32(&b, M);
    put_le32(&b, M);
    put_le32(&b, 0);
    for (uint32_t i = 0; i < M; i++) {
        put_uint(&b, i);
        put8(&b, 0xc0);
    }
    done(&b, "sparse array turning dense, 65,537 nulls");

    /* Holes: 3 bytes each, 16 bytes of element vector. */
    b = msg();
    put(&b, "\xc7\x09\x06\x00", 4);
    put_le32(&b, M);
    put_le32(&b, 0);
    for (uint32_t i = 0; i < M; i++)
        put(&b, "\xc7\x00\x01", 3);
    done(&b, "dense array ext of 65,537 holes");
}

static void
test_many_small_values(void)
{
    buf b = msg();
    array32(&b, M);
    for (uint32_t i = 0; i < M; i++)
        put8(&b, 0x90);
    done(&b, "array of 65,537 empty arrays");

    b = msg();
    array32(&b, M);
    for (uint32_t i = 0; i < M; i++)
        put8(&b, 0x80);
    done(&b, "array of 65,537 empty objects");

    b = msg();
    array32(&b, M + 1);
    put8(&b, 0x80);
    for (uint32_t i = 0; i < M; i++)
        put(&b, "\xd4\x10\x00", 3); /* BACKREF id 0 */
    done(&b, "65,537 back-references");

    b = msg();
    array32(&b, M);
    for (uint32_t i = 0; i < M; i++) {
        uint8_t s[4] = {0xa3, (uint8_t)(0x20 + i % 95), (uint8_t)(0x20 + (i / 95) % 95), (uint8_t)(0x20 + i / 9025)};
        put(&b, s, sizeof s); /* distinct 3-character strings */
    }
    done(&b, "65,537 distinct short strings");

    b = msg();
    array32(&b, M);
    for (uint32_t i = 0; i < M; i++) {
        uint8_t s[4] = {0xd5, 0x02, (uint8_t)i, 0xd8}; /* STRING16: one lone surrogate */
        put(&b, s, sizeof s);
    }
    done(&b, "65,537 one-unit UTF-16 strings");

    b = msg();
    array32(&b, M);
    for (uint32_t i = 0; i < M; i++)
        put(&b, "\xd4\x03\x00", 3); /* BigInt 0n */
    done(&b, "65,537 BigInts");

    b = msg();
    array32(&b, M);
    for (uint32_t i = 0; i < M; i++)
        put(&b, "\xc4\x00", 2); /* bin: an empty ArrayBuffer */
    done(&b, "65,537 empty ArrayBuffers");

    b = msg();
    array32(&b, M);
    for (uint32_t i = 0; i < M; i++) {
        put(&b, "\xc4\x00", 2);
        /* Uint8Array, length-fixed, offset 0, length 0 */
        put(&b, "\xc7\x12\x0c\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00", 21);
    }
    done(&b, "65,537 views over empty ArrayBuffers");

    b = msg();
    array32(&b, M + 1);
    put(&b, "\xc4\x00", 2);
    for (uint32_t i = 0; i < M; i++) {
        put(&b, "\xd4\x10\x00", 3); /* the first buffer again, then a view over it */
        put(&b, "\xc7\x12\x0c\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00", 21);
    }
    done(&b, "65,537 views over one ArrayBuffer");

    b = msg();
    array32(&b, M);
    for (uint32_t i = 0; i < M; i++)
        put(&b, "\xd7\x04\x00\x00\x00\x00\x00\x00\x00\x00", 10); /* Date 0 */
    done(&b, "65,537 Dates");

    b = msg();
    put8(&b, 0xdf);
    put_be32(&b, M);
    for (uint32_t i = 0; i < M; i++) {
        uint8_t k[4] = {0xa3, (uint8_t)(0x20 + i % 95), (uint8_t)(0x20 + (i / 95) % 95), (uint8_t)(0x20 + i / 9025)};
        put(&b, k, sizeof k);
        put8(&b, 0x90);
    }
    done(&b, "object of 65,537 keys");
}

static void
test_maps_and_sets(void)
{
    buf b = msg();
    put(&b, "\xd6\x08", 2);
    put_le32(&b, M);
    for (uint32_t i = 0; i < M; i++)
        put8(&b, 0x90);
    done(&b, "Set of 65,537 empty arrays");

    b = msg();
    put(&b, "\xd6\x07", 2);
    put_le32(&b, M);
    for (uint32_t i = 0; i < M; i++)
        put(&b, "\x90\x90", 2);
    done(&b, "Map of 65,537 empty arrays to empty arrays");

    b = msg();
    put(&b, "\xd6\x08", 2);
    put_le32(&b, M);
    for (uint32_t i = 0; i < M; i++)
        put_uint(&b, i);
    done(&b, "Set of 65,537 numbers");
}

/* Resizable ArrayBuffers reserve their maximum up front: bounded by
 * max_reserve for the whole message, not by the input. The bound holds
 * with the reserve term, and the term is what it costs. */
static void
test_resizable_reserve(void)
{
    buf b = msg();
    array32(&b, 4);
    for (int i = 0; i < 4; i++) {
        put(&b, "\xc7\x09\x0b\x01", 4); /* ARRAYBUFFER, resizable, no bytes */
        put_le64(&b, (uint64_t)1 << 20);
    }
    measured m = measure_with(b.p, b.n, NULL);
    CU_ASSERT_EQUAL(m.status, MP_OK);
    CU_ASSERT_EQUAL(m.reserve, (size_t)4 << 20);
    CU_ASSERT(m.peak >= m.reserve); /* the reservation is real memory */
    check("4 resizable ArrayBuffers reserving 1 MiB each", b.p, b.n, NULL);
    free(b.p);

    /* Past max_reserve: refused before the allocation. */
    mp_decode_limits lim = mp_decode_limits_default();
    lim.max_reserve = 4096;
    b = msg();
    put(&b, "\xc7\x09\x0b\x01", 4);
    put_le64(&b, 8192);
    m = measure_with(b.p, b.n, &lim);
    CU_ASSERT_EQUAL(m.status, MP_ELIMIT);
    CU_ASSERT_EQUAL(m.reserve, 0);
    CU_ASSERT(m.peak < 8192);
    free(b.p);

    /* Sixteen 12-byte exts each asking for the whole default budget (64
     * MiB): the first gets it, the second is refused, so 196 bytes cannot
     * make the decoder reserve a gigabyte. */
    b = msg();
    array32(&b, 16);
    for (int i = 0; i < 16; i++) {
        put(&b, "\xc7\x09\x0b\x01", 4);
        put_le64(&b, mp_decode_limits_default().max_reserve);
    }
    m = measure_with(b.p, b.n, NULL);
    CU_ASSERT_EQUAL(m.status, MP_ELIMIT);
    CU_ASSERT_EQUAL(m.reserve, mp_decode_limits_default().max_reserve + MPI_HUGE_THRESHOLD);
    CU_ASSERT(m.peak <= m.reserve + MPF_DECODE_BOUND_C);
    free(b.p);
}

/* The measurement itself can fail: an input charged for its declared
 * length would break the bound. Decoding 1 MiB of bin payload costs about
 * the payload; the bound with k = 0 and a small c does not hold. */
static void
test_measure_sees_allocations(void)
{
    size_t len = (size_t)1 << 20;
    buf b = msg();
    put8(&b, 0xc6);
    put_be32(&b, (uint32_t)len);
    uint8_t zeros[4096] = {0};
    for (size_t i = 0; i < len; i += sizeof zeros)
        put(&b, zeros, sizeof zeros);
    measured m = measure_with(b.p, b.n, NULL);
    CU_ASSERT_EQUAL(m.status, MP_OK);
    CU_ASSERT(m.peak >= len);
    CU_ASSERT(m.peak <= (size_t)MPF_DECODE_BOUND_K * b.n + MPF_DECODE_BOUND_C);
    free(b.p);
}

static void
test_report(void)
{
    fprintf(stderr,
            "\n  %zu inputs within %u n + %zu + reserve; worst (peak - reserve) / n for n >= 64 KiB: %.1f, %s;"
            " most of the constant used: %zu\n",
            g_inputs, MPF_DECODE_BOUND_K, MPF_DECODE_BOUND_C, g_worst_ratio, g_worst_name, g_worst_constant);
    CU_ASSERT(g_inputs > 50);
    CU_ASSERT(g_worst_ratio <= MPF_DECODE_BOUND_K);
}

int
main(void)
{
    static const mpt_test tests[] = {
        {"corpus: fuzz/corpus/decode", test_corpus_decode},
        {"corpus: fuzz/corpus/roundtrip", test_corpus_roundtrip},
        {"nesting, to the depth limit", test_nesting},
        {"huge declared counts, long sparse arrays", test_huge_counts},
        {"many small values", test_many_small_values},
        {"big Maps and Sets", test_maps_and_sets},
        {"resizable ArrayBuffer reservations", test_resizable_reserve},
        {"the measurement sees allocations", test_measure_sees_allocations},
        {"worst ratio", test_report},
        {NULL, NULL},
    };
    return mpt_run("decode_bounds", tests);
}
