/* msgport-dump's library: dump -> pack gives back the bytes of every kind
 * mp_serialize writes; hand-written text packs into the expected graph;
 * bad bytes are reported with their offset and bad text with its line and
 * column; every decode seed (valid or not) is listed without harm. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dump.h"
#include "testutil.h"

#define OK(call) CU_ASSERT_EQUAL_FATAL((call), MP_OK)

static mp_realm *R;

static void
fresh_realm(void)
{
    if (R) mp_realm_free(R);
    OK(mp_realm_new(NULL, &R));
}

/* The listing of bytes, as a NUL-terminated string the caller frees. */
static char *
listing_of(const uint8_t *bytes, size_t len, mpd_dump_result *res, int *rc)
{
    char *text = NULL;
    size_t text_len = 0;
    FILE *f = open_memstream(&text, &text_len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    *rc = mpd_dump(bytes, len, f, NULL, res);
    CU_ASSERT_EQUAL_FATAL(fclose(f), 0);
    return text;
}

/* Dumps the bytes, packs the listing, and checks the same bytes come back. */
static void
check_exact_at(const uint8_t *bytes, size_t len, int line)
{
    mpd_dump_result res;
    int rc;
    char *text = listing_of(bytes, len, &res, &rc);
    if (rc != 0) fprintf(stderr, "\n  line %d: dump: %s\n%s", line, res.first, text);
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_TRUE(res.complete);
    CU_ASSERT_TRUE(res.exact);
    uint8_t *back = NULL;
    size_t back_len = 0;
    mpd_pack_result pr;
    int prc = mpd_pack(text, strlen(text), &back, &back_len, &pr);
    if (prc != 0) fprintf(stderr, "\n  line %d: pack: %s\n%s", line, pr.error, text);
    CU_ASSERT_EQUAL_FATAL(prc, 0);
    CU_ASSERT_EQUAL(pr.warnings, 0);
    CU_ASSERT_EQUAL(back_len, len);
    bool same = back_len == len && memcmp(back, bytes, len) == 0;
    if (!same) fprintf(stderr, "\n  line %d: pack gave other bytes for\n%s", line, text);
    CU_ASSERT_TRUE(same);
    free(back);
    free(text);
}

/* mp_serialize(v, transfer) -> dump -> pack must give the same bytes. */
static void
roundtrip_at(mp_value v, mp_value *transfer, size_t n, int line)
{
    mp_message *m = NULL;
    mp_error_info err;
    mp_status st = mp_serialize(v, transfer, n, &m, &err);
    if (st != MP_OK) fprintf(stderr, "\n  line %d: serialize: %s %s\n", line, err.path, err.detail);
    CU_ASSERT_EQUAL_FATAL(st, MP_OK);
    const void *bytes;
    size_t len;
    mp_message_bytes(m, &bytes, &len);
    check_exact_at(bytes, len, line);
    mp_message_free(m);
}
#define ROUNDTRIP(v) roundtrip_at((v), NULL, 0, __LINE__)

static mp_value
str(const char *s)
{
    return mpt_str(R, s);
}

static mp_value
obj(void)
{
    mp_value v;
    OK(mp_object_new(R, &v));
    return v;
}

static mp_value
arr(uint64_t n)
{
    mp_value v;
    OK(mp_array_new(R, n, &v));
    return v;
}

static mp_value
bigint(const char *decimal)
{
    mp_value v;
    OK(mp_bigint_from_string(R, decimal, strlen(decimal), &v));
    return v;
}

/* ---- dump -> pack is byte-exact ------------------------------------------------------ */

static void
test_roundtrip_primitives(void)
{
    fresh_realm();
    double numbers[] = {0,
                        -0.0,
                        1,
                        -1,
                        -32,
                        -33,
                        127,
                        128,
                        255,
                        256,
                        65535,
                        65536,
                        -129,
                        -32768,
                        -32769,
                        4294967295.0,
                        4294967296.0,
                        -2147483649.0,
                        9007199254740993.0,
                        -9.2233720368547758e18,
                        9.2233720368547758e18,
                        0.1,
                        -1.5,
                        1e300,
                        5e-324,
                        NAN,
                        INFINITY,
                        -INFINITY,
                        123456789.125};
    for (size_t i = 0; i < sizeof numbers / sizeof numbers[0]; i++)
        ROUNDTRIP(mp_number(numbers[i]));
    ROUNDTRIP(mp_undefined());
    ROUNDTRIP(mp_null());
    ROUNDTRIP(mp_boolean(true));
    ROUNDTRIP(mp_boolean(false));
    const char *texts[] = {"",
                           "a",
                           "quote \" backslash \\ tab \t nl \n cr \r bell \x07 del \x7f",
                           "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
                           "c1 \xc2\x85 nbsp \xc2\xa0",
                           "# not a comment",
                           "0123456789012345678901234567890123456789"};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
        ROUNDTRIP(str(texts[i]));
    /* Lone surrogates make a STRING16; a pair and controls go with it. */
    uint16_t units[] = {'a', 0xd800, 'b', 0xdc00, 0xd83d, 0xde00, 0x0a, 0x85, '"', 0xdbff};
    mp_value s16;
    OK(mp_string_from_utf16(R, units, sizeof units / sizeof units[0], &s16));
    ROUNDTRIP(s16);
    const char *bigs[] = {"0",
                          "1",
                          "-1",
                          "255",
                          "256",
                          "4660",
                          "-4660",
                          "18446744073709551616",
                          "-340282366920938463463374607431768211457"};
    for (size_t i = 0; i < sizeof bigs / sizeof bigs[0]; i++)
        ROUNDTRIP(bigint(bigs[i]));
}

static void
test_roundtrip_objects(void)
{
    fresh_realm();
    mp_value o = obj(), inner = obj(), a = arr(0);
    OK(mp_object_set_utf8(o, "n", mp_number(1)));
    OK(mp_object_set_utf8(o, "inner", inner));
    OK(mp_object_set_utf8(inner, "back", o));
    OK(mp_object_set_utf8(o, "again", inner));
    OK(mp_object_set_utf8(o, "list", a));
    OK(mp_array_push(a, str("x")));
    OK(mp_array_push(a, mp_null()));
    ROUNDTRIP(o);
    ROUNDTRIP(obj());
    ROUNDTRIP(arr(0));

    /* Holes and named properties: ARRAY form 0; far indices: form 1. */
    mp_value holey = arr(5);
    OK(mp_array_set(holey, 1, mp_number(1)));
    OK(mp_array_set(holey, 3, mp_undefined()));
    OK(mp_object_set_utf8(holey, "name", str("v")));
    ROUNDTRIP(holey);
    mp_value sparse = arr(0);
    OK(mp_array_set(sparse, 7, str("seven")));
    OK(mp_array_set(sparse, 4000000000u, mp_boolean(true)));
    OK(mp_object_set_utf8(sparse, "k", mp_number(2)));
    ROUNDTRIP(sparse);
    ROUNDTRIP(arr(1000));

    mp_value date, bad_date, re, source = str("a+\\d"), boxed[4];
    OK(mp_date_new(R, 1700000000000.0, &date));
    OK(mp_date_new(R, NAN, &bad_date));
    OK(mp_regexp_new(R, source, "dgimsy", &re));
    OK(mp_boxed_new(R, mp_boolean(false), &boxed[0]));
    OK(mp_boxed_new(R, mp_number(-2.5), &boxed[1]));
    OK(mp_boxed_new(R, str("s"), &boxed[2]));
    OK(mp_boxed_new(R, bigint("-99999999999999999999"), &boxed[3]));
    mp_value list = arr(0);
    OK(mp_array_push(list, date));
    OK(mp_array_push(list, bad_date));
    OK(mp_array_push(list, re));
    for (int i = 0; i < 4; i++)
        OK(mp_array_push(list, boxed[i]));
    OK(mp_array_push(list, date));
    ROUNDTRIP(list);

    mp_value map, set;
    OK(mp_map_new(R, &map));
    OK(mp_set_new(R, &set));
    OK(mp_map_set(map, map, set));
    OK(mp_map_set(map, mp_number(NAN), str("nan")));
    OK(mp_map_set(map, str("k"), mp_undefined()));
    OK(mp_set_add(set, mp_number(1)));
    OK(mp_set_add(set, set));
    OK(mp_set_add(set, bigint("7")));
    ROUNDTRIP(map);

    mp_value e1, e2, e3;
    OK(mp_error_new(R, MP_ERR_RANGE, str("out of range"), &e1));
    OK(mp_error_set_stack(e1, str("at f (x.js:1:2)\nat g")));
    OK(mp_error_set_cause(e1, e1));
    OK(mp_error_new(R, MP_ERR_URI, mp_undefined(), &e2));
    OK(mp_error_new(R, MP_ERR_TYPE, str("t"), &e3));
    OK(mp_error_set_cause(e3, e2));
    mp_value errs = arr(0);
    OK(mp_array_push(errs, e1));
    OK(mp_array_push(errs, e3));
    ROUNDTRIP(errs);
}

static mp_status
host_write(void *ctx, void *ptr, bool transferring, void **payload)
{
    (void)ctx;
    (void)transferring;
    *payload = ptr;
    return MP_OK;
}

static mp_status
host_read(void *ctx, mp_realm *realm, void *payload, void **ptr)
{
    (void)ctx;
    (void)realm;
    *ptr = payload;
    return MP_OK;
}

static void
test_roundtrip_buffers_and_side_tables(void)
{
    fresh_realm();
    mp_value ab, rab, moved, sab, gsab, views = arr(0);
    OK(mp_arraybuffer_new(R, 16, &ab));
    void *data;
    size_t n;
    OK(mp_arraybuffer_data(ab, &data, &n));
    for (size_t i = 0; i < n; i++)
        ((uint8_t *)data)[i] = (uint8_t)(i * 17);
    OK(mp_arraybuffer_new_resizable(R, 8, 4096, &rab));
    OK(mp_arraybuffer_new(R, 32, &moved));
    OK(mp_sab_new(R, 64, &sab));
    OK(mp_sab_new_growable(R, 8, 1024, &gsab));
    mp_value f64, u8, dv, tracking, sab_view, moved_view, empty;
    OK(mp_typedarray_new(MP_FLOAT64, ab, 0, 2, &f64));
    OK(mp_typedarray_new(MP_UINT8, ab, 3, 5, &u8));
    OK(mp_dataview_new(ab, 4, 8, &dv));
    OK(mp_typedarray_new(MP_INT16, rab, 2, MP_LENGTH_AUTO, &tracking));
    OK(mp_typedarray_new(MP_INT32, sab, 8, 4, &sab_view));
    OK(mp_typedarray_new(MP_BIGUINT64, moved, 8, 3, &moved_view));
    OK(mp_arraybuffer_new(R, 0, &empty));
    mp_value items[] = {ab, f64, u8, dv, rab, tracking, sab, sab_view, sab, gsab, moved, moved_view, empty};
    for (size_t i = 0; i < sizeof items / sizeof items[0]; i++)
        OK(mp_array_push(views, items[i]));
    /* Side tables: a moved store, shared stores, a host payload and a port. */
    OK(mp_realm_register_host_type(R, 77, &(mp_host_type_hooks){host_write, host_read, NULL, NULL}, NULL));
    mp_value host, p1, p2;
    OK(mp_host_new(R, 77, &n, &host));
    OK(mp_array_push(views, host));
    OK(mp_channel_new(R, R, &p1, &p2));
    OK(mp_array_push(views, p1));
    mp_value transfer[] = {moved, p1};
    roundtrip_at(views, transfer, 2, __LINE__);
    OK(mp_port_close(p2));
}

static void
test_roundtrip_deep_and_wide(void)
{
    fresh_realm();
    /* Deeper than the listing indents: still exact. */
    mp_value root = obj(), cur = root;
    for (int i = 0; i < 100; i++) {
        mp_value list = arr(0), next = obj();
        OK(mp_object_set_utf8(cur, "d", list));
        OK(mp_array_push(list, next));
        cur = next;
    }
    ROUNDTRIP(root);
    mp_value wide = obj();
    char key[16];
    for (int i = 0; i < 70000; i++) {
        snprintf(key, sizeof key, "k%d", i);
        OK(mp_object_set_utf8(wide, key, mp_number(i * 3.0)));
    }
    ROUNDTRIP(wide);
    mp_value big;
    OK(mp_arraybuffer_new(R, 70000, &big));
    ROUNDTRIP(big);
}

/* ---- the listing's text --------------------------------------------------------------- */

static void
test_listing_names_fields_and_ids(void)
{
    /* FORMAT.md §8's example. */
    static const uint8_t example[] = {0x01, 0x84, 0xa2, 'i',  'd', 0xcd, 0x30, 0x39, 0xa4, 't',  'a',
                                      'g',  's',  0x91, 0xa1, 'a', 0xa3, 'b',  'i',  'g',  0xd5, 0x03,
                                      0x00, 0x01, 0xa4, 's',  'e', 'l',  'f',  0xd4, 0x10, 0x00};
    mpd_dump_result res;
    int rc;
    char *text = listing_of(example, sizeof example, &res, &rc);
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "       0 | version 1\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "       1 | map 4  # id 0\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "       5 |   12345\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "      13 |   array 1  # id 1\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "      14 |     \"a\"\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "      20 |   BIGINT 0x1  # = 1\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "      29 |   BACKREF id=0  # -> Object at offset 1\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "no side tables"));
    free(text);

    /* A view's id follows its buffer's; fields are named. */
    fresh_realm();
    mp_value ab, view, pair = arr(0);
    OK(mp_arraybuffer_new_resizable(R, 32, 4096, &ab));
    OK(mp_typedarray_new(MP_FLOAT64, ab, 0, 4, &view));
    OK(mp_array_push(pair, view));
    OK(mp_array_push(pair, bigint("-4660")));
    mp_message *m;
    OK(mp_serialize(pair, NULL, 0, &m, NULL));
    const void *bytes;
    size_t len;
    mp_message_bytes(m, &bytes, &len);
    text = listing_of(bytes, len, &res, &rc);
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "       1 | array 2  # id 0\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "       2 |   ARRAYBUFFER resizable max=4096 bytes=0000"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "  # id 1; 32 bytes\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "|   VIEW Float64Array offset=0 length=4  # id 2\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "|   BIGINT -0x1234  # = -4660\n"));
    free(text);
    mp_message_free(m);
}

/* ---- hand-written text -> the expected graph --------------------------------------------- */

/* Packs text, decodes it into R, compares with `want`. */
static void
check_text_at(const char *text, mp_value want, int line)
{
    uint8_t *bytes = NULL;
    size_t len = 0;
    mpd_pack_result pr;
    int rc = mpd_pack(text, strlen(text), &bytes, &len, &pr);
    if (rc != 0) fprintf(stderr, "\n  line %d: pack: %s\n", line, pr.error);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    CU_ASSERT_EQUAL(pr.warnings, 0);
    mp_message *m;
    OK(mp_message_from_bytes(bytes, len, NULL, &m));
    free(bytes);
    mp_value got = mp_undefined();
    mp_error_info err;
    mp_status st = mp_deserialize(m, R, NULL, &got, &err);
    if (st != MP_OK) fprintf(stderr, "\n  line %d: decode: offset %zu: %s\n", line, err.offset, err.detail);
    CU_ASSERT_EQUAL_FATAL(st, MP_OK);
    mp_error_info why;
    why.path[0] = why.detail[0] = '\0';
    bool eq = mp_graph_equal(got, want, &why);
    if (!eq) fprintf(stderr, "\n  line %d: differs at %s: %s\n", line, why.path, why.detail);
    CU_ASSERT_TRUE(eq);
}
#define CHECK_TEXT(text, want) check_text_at((text), (want), __LINE__)

static void
test_hand_written_text(void)
{
    fresh_realm();
    /* No offset column, comments anywhere, '#N' as an index is no comment. */
    mp_value doc = obj(), tags = arr(0);
    OK(mp_object_set_utf8(doc, "id", mp_number(12345)));
    OK(mp_object_set_utf8(doc, "tags", tags));
    OK(mp_array_push(tags, str("a # b")));
    OK(mp_array_push(tags, mp_number(-1.5)));
    OK(mp_array_push(tags, str("caf\xc3\xa9\n\xf0\x9f\x98\x80")));
    OK(mp_object_set_utf8(doc, "big", bigint("1")));
    OK(mp_object_set_utf8(doc, "self", doc));
    CHECK_TEXT("# a document that holds itself\n"
               "version 1\n"
               "map 4            # id 0\n"
               "  \"id\"\n"
               "  12345\n"
               "\n"
               "  \"tags\"\n"
               "  array 3\n"
               "    \"a # b\"\n"
               "    -1.5\n"
               "    \"caf\\u00e9\\n\\ud83d\\ude00\"\n"
               "  \"big\"\n"
               "  BIGINT 1\n"
               "  \"self\"\n"
               "  BACKREF id=0\n",
               doc);

    /* Every ext by name, with the offset column of a dump left in. */
    mp_value all = arr(0), holey = arr(3), date, re, map, err, boxed, ab, view, s16;
    OK(mp_array_set(holey, 2, mp_number(2)));
    OK(mp_object_set_utf8(holey, "extra", mp_boolean(true)));
    OK(mp_date_new(R, 1700000000000.0, &date));
    OK(mp_regexp_new(R, str("^x$"), "gi", &re));
    OK(mp_map_new(R, &map));
    OK(mp_map_set(map, mp_number(1), mp_undefined()));
    OK(mp_error_new(R, MP_ERR_SYNTAX, str("bad"), &err));
    OK(mp_error_set_cause(err, mp_null()));
    OK(mp_boxed_new(R, str("boxed"), &boxed));
    OK(mp_arraybuffer_new_resizable(R, 4, 64, &ab));
    void *data;
    size_t n;
    OK(mp_arraybuffer_data(ab, &data, &n));
    memcpy(data, "\x01\x02\x03\x04", 4);
    OK(mp_typedarray_new(MP_UINT16, ab, 2, MP_LENGTH_AUTO, &view));
    uint16_t units[] = {'h', 0xdc00};
    OK(mp_string_from_utf16(R, units, 2, &s16));
    mp_value items[] = {holey, date, re, map, err, boxed, view, ab, s16, mp_undefined()};
    for (size_t i = 0; i < sizeof items / sizeof items[0]; i++)
        OK(mp_array_push(all, items[i]));
    CHECK_TEXT("   0 | version 1\n"
               "   1 | array 10\n"
               "   2 |   ARRAY form=0 length=3 named=1\n"
               "     |     HOLE\n"
               "     |     HOLE\n"
               "     |     2\n"
               "     |     \"extra\"\n"
               "     |     true\n"
               "     |   DATE 1700000000000  # 2023-11-14\n"
               "     |   REGEXP flags=gi\n"
               "     |     \"^x$\"\n"
               "     |   MAP count=1\n"
               "     |     1\n"
               "     |     UNDEFINED\n"
               "     |   ERROR SyntaxError message cause\n"
               "     |     \"bad\"\n"
               "     |     nil\n"
               "     |   BOXED\n"
               "     |     \"boxed\"\n"
               "     |   ARRAYBUFFER resizable max=64 bytes=01020304\n"
               "     |   VIEW Uint16Array tracking offset=2 length=0\n"
               "     |   BACKREF id=7\n"
               "     |   STRING16 \"h\\udc00\"\n"
               "     |   UNDEFINED\n",
               all);
}

/* ---- errors ------------------------------------------------------------------------------- */

/* Dumps bytes expected to be invalid: the first problem's text. */
static void
check_dump_error_at(const uint8_t *bytes, size_t len, const char *want, int line)
{
    mpd_dump_result res;
    int rc;
    char *text = listing_of(bytes, len, &res, &rc);
    CU_ASSERT_EQUAL(rc, 1);
    CU_ASSERT_TRUE(res.problems > 0);
    if (strcmp(res.first, want) != 0) fprintf(stderr, "\n  line %d: got '%s'\n  want '%s'\n", line, res.first, want);
    CU_ASSERT_STRING_EQUAL(res.first, want);
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "invalid: "));
    free(text);
}
#define DUMP_ERROR(lit, want) check_dump_error_at((const uint8_t *)(lit), sizeof(lit) - 1, (want), __LINE__)

static void
test_dump_errors(void)
{
    DUMP_ERROR("", "offset 0: empty message: no format version");
    DUMP_ERROR("\x01", "offset 1: the message ends before its root value");
    DUMP_ERROR("\x01\xc7\x00\x0a", "offset 4: the message ends inside the BOXED at offset 1 (1 more value expected)");
    DUMP_ERROR("\x01\x82\xa1"
               "a\x01",
               "offset 1: declared count 2 exceeds the 3 bytes left");
    DUMP_ERROR("\x01\xd9\xff"
               "abcdefghijkl",
               "offset 1: declared length 255 exceeds the 12 bytes left");
    DUMP_ERROR("\x01\xc1", "offset 1: byte 0xc1 is never used in msgpack");
    DUMP_ERROR("\x01\xcd\x01", "offset 1: truncated token header (0xcd)");
    DUMP_ERROR("\x01\xdc\x01\x00\x01", "offset 1: declared count 256 exceeds the 1 bytes left");
    DUMP_ERROR("\x02\xc0", "offset 0: format version 2 (this is version 1)");
    DUMP_ERROR("\xc0\xc0", "offset 0: the message must start with its format version, a positive integer");
    DUMP_ERROR("\x01\xc0\xc0", "offset 2: bytes after the root value");
    DUMP_ERROR("\x01\xd4\x10\x00", "offset 1: back-reference to id 0, only 0 assigned");
    DUMP_ERROR("\x01\xd4\x63\x00", "offset 1: unknown ext type 99");
    DUMP_ERROR("\x01\xd5\x09\x07\x00", "offset 1: ext 9 has a malformed payload (2 bytes)");
    DUMP_ERROR("\x01\xa2\xc3\x28", "offset 1: invalid UTF-8 in a str");
    DUMP_ERROR("\x01\xc7\x09\x06\x00\x05\x00\x00\x00\x00\x00\x00\x00",
               "offset 1: array declares more children than bytes left");
    DUMP_ERROR("\x01\xc7\x12\x0c\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00",
               "offset 1: view ext not preceded by its buffer");

    /* Every prefix of a valid message is listed without harm and refused. */
    fresh_realm();
    mp_value v = obj(), ab;
    OK(mp_arraybuffer_new(R, 5, &ab));
    mp_value view;
    OK(mp_typedarray_new(MP_UINT8, ab, 1, 3, &view));
    OK(mp_object_set_utf8(v, "view", view));
    OK(mp_object_set_utf8(v, "again", v));
    mp_message *m;
    OK(mp_serialize(v, NULL, 0, &m, NULL));
    const void *bytes;
    size_t len;
    mp_message_bytes(m, &bytes, &len);
    for (size_t cut = 0; cut < len; cut++) {
        mpd_dump_result res;
        int rc;
        char *text = listing_of(bytes, cut, &res, &rc);
        CU_ASSERT_EQUAL(rc, 1);
        CU_ASSERT_TRUE(res.first_offset <= cut);
        free(text);
    }
    mp_message_free(m);
}

/* Packs text expected to be refused at (line, column) with a message containing `want`. */
static void
check_pack_error_at(const char *text, size_t line, size_t col, const char *want, int src_line)
{
    uint8_t *bytes = (uint8_t *)"untouched";
    size_t len = 0;
    mpd_pack_result pr;
    int rc = mpd_pack(text, strlen(text), &bytes, &len, &pr);
    CU_ASSERT_EQUAL(rc, -1);
    CU_ASSERT_STRING_EQUAL((const char *)bytes, "untouched");
    if (pr.line != line || pr.column != col || !strstr(pr.error, want))
        fprintf(stderr, "\n  line %d: got '%s' (line %zu, column %zu)\n", src_line, pr.error, pr.line, pr.column);
    CU_ASSERT_EQUAL(pr.line, line);
    CU_ASSERT_EQUAL(pr.column, col);
    CU_ASSERT_PTR_NOT_NULL(strstr(pr.error, want));
}
#define PACK_ERROR(text, line, col, want) check_pack_error_at((text), (line), (col), (want), __LINE__)

static void
test_pack_errors(void)
{
    PACK_ERROR("version 1\nfoo\n", 2, 1, "line 2, column 1: unknown token 'foo'");
    PACK_ERROR("version 1\nmap 1\n  \"a\"\n    1\n", 4, 5,
               "indented to level 2, but the counts above put this token at level 1");
    PACK_ERROR("version 1\narray 1\n  1\n  2\n", 4, 3, "at the top level");
    PACK_ERROR("version 1\n   \"odd\"\n", 2, 4, "two per level");
    PACK_ERROR("version 1\n\t1\n", 2, 1, "not tabs");
    PACK_ERROR("version 1\nbin 0a0\n", 2, 5, "odd number of hex digits");
    PACK_ERROR("version 1\nbin 0g\n", 2, 5, "'0g' is not a hex byte");
    PACK_ERROR("version 1\n\"abc\n", 2, 1, "unterminated string");
    PACK_ERROR("version 1\n\"a\\qb\"\n", 2, 3, "unknown escape \\q");
    PACK_ERROR("version 1\n\"\\ud800\"\n", 2, 2, "lone surrogate");
    PACK_ERROR("version 1\nARRAY form=0 length=3\n", 2, 1, "named= is missing");
    PACK_ERROR("version 1\nVIEW Float65Array offset=0 length=1\n", 2, 6, "not a view type");
    PACK_ERROR("version 1\nMOVED store #1x\n", 2, 13, "not an index");
    PACK_ERROR("version 1\nBACKREF id=300 width=1\n", 2, 16, "does not fit in 1 bytes");
    PACK_ERROR("version 1\nREGEXP flags=gq\n", 2, 15, "'q' is not a RegExp flag");
    PACK_ERROR("version 1\n1 2\n", 2, 3, "unexpected '2'");
    PACK_ERROR("version 1\n18446744073709551616\n", 2, 1, "above the largest msgpack int");
    PACK_ERROR("version 1\nMAP count=1 extra=2\n", 2, 13, "unexpected 'extra=2' after MAP");
    PACK_ERROR("# fine\n\n  version 1\n", 3, 3, "at the top level");

    /* A short container is written as it is, with a warning. */
    uint8_t *bytes = NULL;
    size_t len = 0;
    mpd_pack_result pr;
    const char *text = "version 1\nMAP count=2\n  1\n";
    CU_ASSERT_EQUAL_FATAL(mpd_pack(text, strlen(text), &bytes, &len, &pr), 0);
    CU_ASSERT_EQUAL(pr.warnings, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(pr.warning, "MAP of line 2: 3 more values expected"));
    CU_ASSERT_EQUAL(len, 8);
    free(bytes);
}

/* ---- every decode seed ------------------------------------------------------------------- */

static void
test_decode_corpus(void)
{
    DIR *dir = opendir(MPD_DECODE_CORPUS);
    CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
    size_t files = 0, exact = 0, valid = 0;
    struct dirent *ent;
    while ((ent = readdir(dir))) {
        if (ent->d_name[0] == '.') continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", MPD_DECODE_CORPUS, ent->d_name);
        FILE *f = fopen(path, "rb");
        CU_ASSERT_PTR_NOT_NULL_FATAL(f);
        size_t len = 0;
        uint8_t *buf = mpd_read_all(f, &len);
        fclose(f);
        CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
        mpd_dump_result res;
        int rc;
        /* The whole file as hostile bytes, then the message after the
         * fuzzer's mode byte. */
        char *text = listing_of(buf, len, &res, &rc);
        CU_ASSERT_TRUE(rc == 0 || rc == 1);
        free(text);
        CU_ASSERT_TRUE_FATAL(len >= 1);
        text = listing_of(buf + 1, len - 1, &res, &rc);
        CU_ASSERT_TRUE(rc == 0 || rc == 1);
        valid += rc == 0;
        /* Whatever was listed whole and exact packs back to the same bytes. */
        if (res.complete && res.exact) {
            uint8_t *back = NULL;
            size_t back_len = 0;
            mpd_pack_result pr;
            int prc = mpd_pack(text, strlen(text), &back, &back_len, &pr);
            if (prc != 0) fprintf(stderr, "\n  %s: pack: %s\n", ent->d_name, pr.error);
            CU_ASSERT_EQUAL(prc, 0);
            bool same = prc == 0 && back_len == len - 1 && (back_len == 0 || memcmp(back, buf + 1, back_len) == 0);
            if (!same) fprintf(stderr, "\n  %s: pack gave other bytes\n", ent->d_name);
            CU_ASSERT_TRUE(same);
            exact += same;
            free(back);
        }
        free(text);
        free(buf);
        files++;
    }
    closedir(dir);
    fprintf(stderr, "\n  %zu decode seeds listed, %zu without a problem, %zu packed back byte-exact\n", files, valid,
            exact);
    CU_ASSERT_TRUE(files >= 10);
    CU_ASSERT_TRUE(exact >= 10);
}

int
main(void)
{
    static const mpt_test tests[] = {
        {"dump -> pack is exact: primitives, strings, BigInts", test_roundtrip_primitives},
        {"dump -> pack is exact: objects, arrays, dates, maps, errors", test_roundtrip_objects},
        {"dump -> pack is exact: buffers, views, side tables", test_roundtrip_buffers_and_side_tables},
        {"dump -> pack is exact: deep and wide", test_roundtrip_deep_and_wide},
        {"listing names fields and ids", test_listing_names_fields_and_ids},
        {"hand-written text decodes to the expected graph", test_hand_written_text},
        {"bad bytes: offset and reason", test_dump_errors},
        {"bad text: line, column and reason", test_pack_errors},
        {"every decode seed is listed; exact ones pack back", test_decode_corpus},
        {NULL, NULL},
    };
    int rc = mpt_run("tool_dump", tests);
    mp_realm_free(R);
    return rc;
}
