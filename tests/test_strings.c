/* Strings: UTF-8 validation, UTF-16 units, narrow/wide storage, output. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "testutil.h"

static mp_realm *R;

static mp_value
u8(const char *s, size_t len, mp_status want)
{
    mp_value v = mp_null();
    CU_ASSERT_EQUAL(mp_string_from_utf8(R, s, len, &v), want);
    return v;
}

static void
test_ascii(void)
{
    mp_value s = u8("hello", 5, MP_OK);
    CU_ASSERT_EQUAL(mp_kind_of(s), MP_STRING);
    CU_ASSERT_EQUAL(mp_string_length(s), 5);
    mpi_string *c = mpi_cell_of(s) ? (mpi_string *)mpi_cell_of(s) : NULL;
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT(c->h.flags & MPI_STR_ASCII);
    CU_ASSERT(!(c->h.flags & MPI_STR_WIDE));
    CU_ASSERT_STRING_EQUAL((const char *)c->u.narrow, "hello"); /* NUL-terminated */
    uint16_t u;
    CU_ASSERT_EQUAL(mp_string_code_unit(s, 4, &u), MP_OK);
    CU_ASSERT_EQUAL(u, 'o');
    CU_ASSERT_EQUAL(mp_string_code_unit(s, 5, &u), MP_ERANGE);
    CU_ASSERT_EQUAL(mp_string_code_unit(mp_number(1), 0, &u), MP_ETYPE);
    mp_value e = u8(NULL, 0, MP_OK);
    CU_ASSERT_EQUAL(mp_string_length(e), 0);
    CU_ASSERT(mp_string_equals_utf8(e, "", 0));
    CU_ASSERT_EQUAL(mp_string_length(mp_number(3)), 0);
}

static void
test_latin1_and_wide(void)
{
    /* "é" U+00E9 fits one byte, not ASCII */
    mp_value s = u8("caf\xC3\xA9", 5, MP_OK);
    mpi_string *c = (mpi_string *)mpi_cell_of(s);
    CU_ASSERT_EQUAL(mp_string_length(s), 4);
    CU_ASSERT(!(c->h.flags & MPI_STR_WIDE));
    CU_ASSERT(!(c->h.flags & MPI_STR_ASCII));
    const uint8_t *nb = c->u.narrow; /* the units run past the declared [1] */
    CU_ASSERT_EQUAL(nb[3], 0xE9);
    /* "€" U+20AC needs two bytes per unit; U+1F600 is a surrogate pair */
    mp_value w = u8("\xE2\x82\xAC\xF0\x9F\x98\x80", 7, MP_OK);
    c = (mpi_string *)mpi_cell_of(w);
    CU_ASSERT(c->h.flags & MPI_STR_WIDE);
    CU_ASSERT_EQUAL(mp_string_length(w), 3);
    uint16_t units[4] = {0};
    CU_ASSERT_EQUAL(mp_string_to_utf16(w, units, 4), 3);
    CU_ASSERT_EQUAL(units[0], 0x20AC);
    CU_ASSERT_EQUAL(units[1], 0xD83D);
    CU_ASSERT_EQUAL(units[2], 0xDE00);
    /* truncated copy */
    uint16_t two[2] = {0, 0};
    CU_ASSERT_EQUAL(mp_string_to_utf16(w, two, 1), 3);
    CU_ASSERT_EQUAL(two[0], 0x20AC);
    CU_ASSERT_EQUAL(two[1], 0);
    CU_ASSERT(mp_string_is_well_formed(w));
    CU_ASSERT(mp_string_equals_utf8(w, "\xE2\x82\xAC\xF0\x9F\x98\x80", 7));
    CU_ASSERT(!mp_string_equals_utf8(w, "\xE2\x82\xAC", 3));
}

static void
test_invalid_utf8(void)
{
    const struct {
        const char *s;
        size_t n;
    } bad[] = {
        {"\xC0\x80", 2},         /* overlong NUL */
        {"\xC1\xBF", 2},         /* overlong */
        {"\xE0\x80\xAF", 3},     /* overlong 3-byte */
        {"\xF0\x80\x80\xAF", 4}, /* overlong 4-byte */
        {"\xED\xA0\x80", 3},     /* U+D800 encoded */
        {"\xED\xBF\xBF", 3},     /* U+DFFF encoded */
        {"\xF4\x90\x80\x80", 4}, /* U+110000 */
        {"\xF5\x80\x80\x80", 4},
        {"\xFF", 1},
        {"\x80", 1},         /* lone continuation */
        {"abc\xE2\x82", 5},  /* truncated */
        {"\xF0\x9F\x98", 3}, /* truncated */
        {"\xC3", 1},
        {"\xC3\x28", 2},                  /* bad continuation */
        {"0123456789abcdef\xC3\x28", 18}, /* after the 8-byte fast path */
    };
    size_t before = mp_realm_get_stats(R).values;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        mp_value v = mp_null();
        CU_ASSERT_EQUAL(mp_string_from_utf8(R, bad[i].s, bad[i].n, &v), MP_EINVAL);
        CU_ASSERT_EQUAL(mp_kind_of(v), MP_NULL); /* out untouched */
    }
    CU_ASSERT_EQUAL(mp_realm_get_stats(R).values, before);
    /* boundaries that are valid */
    u8("\xED\x9F\xBF", 3, MP_OK);     /* U+D7FF */
    u8("\xEE\x80\x80", 3, MP_OK);     /* U+E000 */
    u8("\xF4\x8F\xBF\xBF", 4, MP_OK); /* U+10FFFF */
    u8("\xC2\x80", 2, MP_OK);         /* U+0080 */
    mp_value nul = u8("a\0b", 3, MP_OK);
    CU_ASSERT_EQUAL(mp_string_length(nul), 3);
}

static void
test_lone_surrogates(void)
{
    uint16_t units[] = {'a', 0xD800, 'b', 0xDC00, 0xD83D, 0xDE00};
    mp_value s;
    CU_ASSERT_EQUAL_FATAL(mp_string_from_utf16(R, units, 6, &s), MP_OK);
    CU_ASSERT_EQUAL(mp_string_length(s), 6);
    CU_ASSERT(!mp_string_is_well_formed(s));
    uint16_t back[6];
    CU_ASSERT_EQUAL(mp_string_to_utf16(s, back, 6), 6);
    CU_ASSERT_EQUAL(memcmp(back, units, sizeof units), 0);
    char buf[32];
    /* a, FFFD, b, FFFD, U+1F600 */
    size_t n = mp_string_to_utf8(s, buf, sizeof buf);
    CU_ASSERT_EQUAL(n, 1 + 3 + 1 + 3 + 4);
    CU_ASSERT_EQUAL(memcmp(buf,
                           "a\xEF\xBF\xBD"
                           "b\xEF\xBF\xBD\xF0\x9F\x98\x80",
                           12),
                    0);
    CU_ASSERT_EQUAL(buf[12], '\0');
    uint16_t hi[] = {0xD800};
    mp_value h;
    CU_ASSERT_EQUAL(mp_string_from_utf16(R, hi, 1, &h), MP_OK);
    CU_ASSERT(!mp_string_is_well_formed(h));
    uint16_t fffd[] = {0xFFFD};
    CU_ASSERT_EQUAL(mp_string_from_utf16(R, fffd, 1, &h), MP_OK);
    CU_ASSERT(mp_string_is_well_formed(h));
}

static void
test_to_utf8_snprintf(void)
{
    mp_value s = u8("a\xC3\xA9\xE2\x82\xAC", 6, MP_OK); /* a é € : 1+2+3 */
    char buf[8];
    memset(buf, 'X', sizeof buf);
    CU_ASSERT_EQUAL(mp_string_to_utf8(s, buf, 0), 6);
    CU_ASSERT_EQUAL(buf[0], 'X');
    CU_ASSERT_EQUAL(mp_string_to_utf8(s, NULL, 0), 6);
    CU_ASSERT_EQUAL(mp_string_to_utf8(s, buf, 1), 6);
    CU_ASSERT_STRING_EQUAL(buf, "");
    CU_ASSERT_EQUAL(mp_string_to_utf8(s, buf, 3), 6); /* é would be split */
    CU_ASSERT_STRING_EQUAL(buf, "a");
    CU_ASSERT_EQUAL(mp_string_to_utf8(s, buf, 4), 6);
    CU_ASSERT_STRING_EQUAL(buf, "a\xC3\xA9");
    CU_ASSERT_EQUAL(mp_string_to_utf8(s, buf, 6), 6); /* € needs 3 more + NUL */
    CU_ASSERT_STRING_EQUAL(buf, "a\xC3\xA9");
    CU_ASSERT_EQUAL(mp_string_to_utf8(s, buf, 7), 6);
    CU_ASSERT_STRING_EQUAL(buf, "a\xC3\xA9\xE2\x82\xAC");
    /* latin-1 narrow output */
    mp_value l = u8("\xC3\xBF\xC2\xA0", 4, MP_OK);
    CU_ASSERT_EQUAL(mp_string_to_utf8(l, buf, sizeof buf), 4);
    CU_ASSERT_STRING_EQUAL(buf, "\xC3\xBF\xC2\xA0");
    CU_ASSERT_EQUAL(mp_string_to_utf8(mp_null(), buf, sizeof buf), 0);
    CU_ASSERT_STRING_EQUAL(buf, "");
    mp_value a = u8("abcdef", 6, MP_OK);
    CU_ASSERT_EQUAL(mp_string_to_utf8(a, buf, 4), 6);
    CU_ASSERT_STRING_EQUAL(buf, "abc");
}

static void
test_hash_and_equal(void)
{
    /* The same text stored narrow (by latin1) and wide (forced). */
    mp_value n;
    const uint8_t bytes[] = {'x', 0xE9, 'z'};
    CU_ASSERT_EQUAL_FATAL(mpi_string_new_latin1(R, bytes, 3, &n), MP_OK);
    mpi_string *nc = (mpi_string *)mpi_cell_of(n);
    CU_ASSERT(!(nc->h.flags & MPI_STR_WIDE));
    CU_ASSERT(!(nc->h.flags & MPI_STR_ASCII));
    mpi_string *wc = (mpi_string *)mpi_cell_new(R, MP_STRING, offsetof(mpi_string, u) + 6);
    CU_ASSERT_PTR_NOT_NULL_FATAL(wc);
    wc->h.flags = MPI_STR_WIDE;
    wc->length = 3;
    uint16_t *wu = wc->u.wide;
    wu[0] = 'x';
    wu[1] = 0xE9;
    wu[2] = 'z';
    CU_ASSERT_EQUAL(mpi_string_hash(nc), mpi_string_hash(wc));
    CU_ASSERT(nc->h.flags & MPI_STR_HASHED);
    CU_ASSERT(mpi_string_equal(nc, wc));
    mp_value other = u8("x\xC3\xA9y", 4, MP_OK);
    mpi_string *oc = (mpi_string *)mpi_cell_of(other);
    CU_ASSERT(!mpi_string_equal(nc, oc));
    CU_ASSERT_NOT_EQUAL(mpi_string_hash(nc), mpi_string_hash(oc));
    mp_value same = u8("x\xC3\xA9z", 4, MP_OK);
    CU_ASSERT(mpi_string_equal(nc, (mpi_string *)mpi_cell_of(same)));
    CU_ASSERT(mp_same_value(n, same));
    CU_ASSERT(!mp_same_value(n, other));
    /* latin1 ASCII flag */
    CU_ASSERT_EQUAL(mpi_string_new_latin1(R, (const uint8_t *)"ab", 2, &n), MP_OK);
    CU_ASSERT(((mpi_string *)mpi_cell_of(n))->h.flags & MPI_STR_ASCII);
    /* from_utf16 narrows when it can */
    uint16_t narrow_units[] = {'h', 'i', 0xFF};
    mp_value h;
    CU_ASSERT_EQUAL(mp_string_from_utf16(R, narrow_units, 3, &h), MP_OK);
    CU_ASSERT(!(((mpi_string *)mpi_cell_of(h))->h.flags & MPI_STR_WIDE));
    CU_ASSERT(mp_string_equals_utf8(h, "hi\xC3\xBF", 4));
}

static void
test_long_string(void)
{
    size_t n = 100000;
    char *big = malloc(n * 3);
    CU_ASSERT_PTR_NOT_NULL_FATAL(big);
    for (size_t i = 0; i < n; i++)
        memcpy(big + 3 * i, "\xE2\x82\xAC", 3);
    mp_value s = u8(big, n * 3, MP_OK);
    CU_ASSERT_EQUAL(mp_string_length(s), n);
    char *out = malloc(n * 3 + 1);
    CU_ASSERT_EQUAL(mp_string_to_utf8(s, out, n * 3 + 1), n * 3);
    CU_ASSERT_EQUAL(memcmp(out, big, n * 3), 0);
    free(big);
    free(out);
}

int
main(void)
{
    if (mp_realm_new(NULL, &R) != MP_OK) return 2;
    static const mpt_test tests[] = {
        {"ASCII strings", test_ascii},
        {"Latin-1 narrow and UTF-16 wide storage", test_latin1_and_wide},
        {"invalid UTF-8 rejected", test_invalid_utf8},
        {"lone surrogates kept, U+FFFD in UTF-8", test_lone_surrogates},
        {"to_utf8 is snprintf-like, never splits", test_to_utf8_snprintf},
        {"hash and equality across narrow/wide", test_hash_and_equal},
        {"long string round trip", test_long_string},
        {NULL, NULL},
    };
    int rc = mpt_run("strings", tests);
    mp_realm_free(R);
    return rc;
}
