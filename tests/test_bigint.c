/* BigInt: construction, normalization, conversions, decimal text. */
#include <stdio.h>
#include <string.h>

#include "testutil.h"

static mp_realm *R;

static mp_value
big(const char *text, mp_status want)
{
    mp_value v = mp_null();
    CU_ASSERT_EQUAL(mp_bigint_from_string(R, text, strlen(text), &v), want);
    return v;
}

static void
check_text(mp_value b, const char *want)
{
    char buf[512];
    size_t n = mp_bigint_to_string(b, buf, sizeof buf);
    CU_ASSERT_EQUAL(n, strlen(want));
    CU_ASSERT_STRING_EQUAL(buf, want);
}

static void
test_int64(void)
{
    const int64_t cases[] = {0, 1, -1, 42, -42, INT64_MAX, INT64_MIN, INT64_MIN + 1};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mp_value b;
        CU_ASSERT_EQUAL_FATAL(mp_bigint_from_int64(R, cases[i], &b), MP_OK);
        CU_ASSERT_EQUAL(mp_kind_of(b), MP_BIGINT);
        int64_t back = 12345;
        CU_ASSERT_EQUAL(mp_bigint_to_int64(b, &back), MP_OK);
        CU_ASSERT_EQUAL(back, cases[i]);
        char want[32];
        snprintf(want, sizeof want, "%lld", (long long)cases[i]);
        check_text(b, want);
    }
    mp_value m;
    CU_ASSERT_EQUAL(mp_bigint_from_int64(R, INT64_MIN, &m), MP_OK);
    uint64_t u;
    CU_ASSERT_EQUAL(mp_bigint_to_uint64(m, &u), MP_ERANGE);
    bool neg = false;
    const uint64_t *w;
    size_t count;
    CU_ASSERT_EQUAL(mp_bigint_words(m, &neg, &w, &count), MP_OK);
    CU_ASSERT(neg);
    CU_ASSERT_EQUAL(count, 1);
    CU_ASSERT_EQUAL(w[0], 0x8000000000000000ULL);
}

static void
test_uint64_and_range(void)
{
    mp_value b;
    CU_ASSERT_EQUAL(mp_bigint_from_uint64(R, UINT64_MAX, &b), MP_OK);
    uint64_t u = 0;
    CU_ASSERT_EQUAL(mp_bigint_to_uint64(b, &u), MP_OK);
    CU_ASSERT_EQUAL(u, UINT64_MAX);
    int64_t i = 7;
    CU_ASSERT_EQUAL(mp_bigint_to_int64(b, &i), MP_ERANGE);
    CU_ASSERT_EQUAL(i, 7);
    check_text(b, "18446744073709551615");
    mp_value over = big("-9223372036854775809", MP_OK);
    CU_ASSERT_EQUAL(mp_bigint_to_int64(over, &i), MP_ERANGE);
    mp_value edge = big("-9223372036854775808", MP_OK);
    CU_ASSERT_EQUAL(mp_bigint_to_int64(edge, &i), MP_OK);
    CU_ASSERT_EQUAL(i, INT64_MIN);
    mp_value two64 = big("18446744073709551616", MP_OK);
    CU_ASSERT_EQUAL(mp_bigint_to_uint64(two64, &u), MP_ERANGE);
    CU_ASSERT_EQUAL(mp_bigint_to_int64(mp_number(1), &i), MP_ETYPE);
}

static void
test_zero_not_negative(void)
{
    mp_value z = big("-0", MP_OK);
    bool neg = true;
    size_t count = 99;
    CU_ASSERT_EQUAL(mp_bigint_words(z, &neg, NULL, &count), MP_OK);
    CU_ASSERT(!neg);
    CU_ASSERT_EQUAL(count, 0);
    check_text(z, "0");
    uint64_t zeros[3] = {0, 0, 0};
    mp_value w;
    CU_ASSERT_EQUAL(mp_bigint_from_words(R, true, zeros, 3, &w), MP_OK);
    CU_ASSERT_EQUAL(mp_bigint_words(w, &neg, NULL, &count), MP_OK);
    CU_ASSERT(!neg);
    CU_ASSERT_EQUAL(count, 0);
    CU_ASSERT(mp_same_value(z, w));
    mp_value zz = big("-000", MP_OK);
    check_text(zz, "0");
    CU_ASSERT(mp_same_value(z, zz));
}

static void
test_words_normalized(void)
{
    uint64_t words[4] = {5, 0, 7, 0};
    mp_value b;
    CU_ASSERT_EQUAL(mp_bigint_from_words(R, true, words, 4, &b), MP_OK);
    bool neg;
    const uint64_t *w;
    size_t count;
    CU_ASSERT_EQUAL(mp_bigint_words(b, &neg, &w, &count), MP_OK);
    CU_ASSERT(neg);
    CU_ASSERT_EQUAL(count, 3);
    CU_ASSERT_EQUAL(w[0], 5);
    CU_ASSERT_EQUAL(w[1], 0);
    CU_ASSERT_EQUAL(w[2], 7);
    /* -(7 * 2^128 + 5) */
    check_text(b, "-2381976568446569244243622252022377480197");
    mp_value p = big("-2381976568446569244243622252022377480197", MP_OK);
    CU_ASSERT(mp_same_value(b, p));
}

static void
test_text(void)
{
    const char *bad[] = {"", "-", "+1", " 1", "1 ", "1a", "0x10", "--1", "1.0"};
    size_t before = mp_realm_get_stats(R).values;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        big(bad[i], MP_EINVAL);
    CU_ASSERT_EQUAL(mp_realm_get_stats(R).values, before);
    check_text(big("00000000000000000000000000000000012", MP_OK), "12");
    /* exactly 10^19 and neighbours */
    check_text(big("10000000000000000000", MP_OK), "10000000000000000000");
    check_text(big("9999999999999999999", MP_OK), "9999999999999999999");
    check_text(big("100000000000000000000000000000000000000", MP_OK), "100000000000000000000000000000000000000");
    /* 2^128 */
    mp_value p = big("340282366920938463463374607431768211456", MP_OK);
    const uint64_t *w;
    size_t count;
    CU_ASSERT_EQUAL(mp_bigint_words(p, NULL, &w, &count), MP_OK);
    CU_ASSERT_EQUAL(count, 3);
    CU_ASSERT_EQUAL(w[0], 0);
    CU_ASSERT_EQUAL(w[1], 0);
    CU_ASSERT_EQUAL(w[2], 1);
    /* snprintf-like truncation */
    char buf[5];
    CU_ASSERT_EQUAL(mp_bigint_to_string(p, buf, sizeof buf), 39);
    CU_ASSERT_STRING_EQUAL(buf, "3402");
    mp_value n = big("-12345", MP_OK);
    CU_ASSERT_EQUAL(mp_bigint_to_string(n, buf, 3), 6);
    CU_ASSERT_STRING_EQUAL(buf, "-1");
    CU_ASSERT_EQUAL(mp_bigint_to_string(n, NULL, 0), 6);
    CU_ASSERT_EQUAL(mp_bigint_to_string(mp_number(3), buf, sizeof buf), 0);
    CU_ASSERT_STRING_EQUAL(buf, "");
}

static void
test_huge_round_trip(void)
{
    /* 3000 digits: both the parse and the print take the heap paths. */
    char text[3002];
    text[0] = '-';
    for (int i = 1; i <= 3000; i++)
        text[i] = (char)('0' + (i * 7 + i / 13) % 10);
    text[1] = '9';
    text[3001] = '\0';
    mp_value b = big(text, MP_OK);
    char out[3100];
    CU_ASSERT_EQUAL(mp_bigint_to_string(b, out, sizeof out), 3001);
    CU_ASSERT_STRING_EQUAL(out, text);
    mp_value b2 = big(text, MP_OK);
    CU_ASSERT(mp_same_value(b, b2));
    CU_ASSERT(!mp_same_value(b, big(text + 1, MP_OK))); /* sign differs */
}

int
main(void)
{
    if (mp_realm_new(NULL, &R) != MP_OK) return 2;
    static const mpt_test tests[] = {
        {"int64 round trips", test_int64},
        {"uint64 and range errors", test_uint64_and_range},
        {"zero is never negative", test_zero_not_negative},
        {"words are normalized", test_words_normalized},
        {"decimal text parse and print", test_text},
        {"3000-digit round trip", test_huge_round_trip},
        {NULL, NULL},
    };
    int rc = mpt_run("bigint", tests);
    mp_realm_free(R);
    return rc;
}
