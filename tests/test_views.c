/* Typed arrays and DataView: JavaScript's element conversions, bounds and
 * alignment at creation, length tracking, DataView endianness. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "internal.h"
#include "testutil.h"

static mp_realm *
new_realm(void)
{
    mp_realm *r = NULL;
    CU_ASSERT_EQUAL_FATAL(mp_realm_new(NULL, &r), MP_OK);
    return r;
}

static mp_value
view_over(mp_realm *r, mp_view_type t, size_t elems)
{
    mp_value ab, v;
    CU_ASSERT_EQUAL_FATAL(mp_arraybuffer_new(r, elems * mp_view_type_size(t), &ab), MP_OK);
    CU_ASSERT_EQUAL_FATAL(mp_typedarray_new(t, ab, 0, MP_LENGTH_AUTO, &v), MP_OK);
    return v;
}

/* Stores `in` at element 0 and returns what reading it back gives. */
static double
round_trip(mp_value view, double in)
{
    CU_ASSERT_EQUAL_FATAL(mp_view_set(view, 0, mp_number(in)), MP_OK);
    mp_value out;
    CU_ASSERT_EQUAL_FATAL(mp_view_get(view, 0, &out), MP_OK);
    CU_ASSERT_EQUAL_FATAL(mp_kind_of(out), MP_NUMBER);
    return mp_number_value(out);
}

typedef struct conv_case {
    double in;
    double out;
} conv_case;

static void
check_cases(mp_view_type t, const conv_case *cases, size_t n)
{
    mp_realm *r = new_realm();
    mp_value v = view_over(r, t, 2);
    for (size_t i = 0; i < n; i++) {
        double got = round_trip(v, cases[i].in);
        if (got != cases[i].out)
            fprintf(stderr, "%s: %.17g -> %.17g, want %.17g\n", mp_view_type_name(t), cases[i].in, got, cases[i].out);
        CU_ASSERT_EQUAL(got, cases[i].out);
    }
    mp_realm_free(r);
}

#define CHECK_CASES(t, cases) check_cases(t, cases, sizeof cases / sizeof cases[0])

static void
test_type_table(void)
{
    static const struct {
        mp_view_type t;
        size_t size;
        const char *name;
    } table[] = {
        {MP_INT8, 1, "Int8Array"},
        {MP_UINT8, 1, "Uint8Array"},
        {MP_UINT8_CLAMPED, 1, "Uint8ClampedArray"},
        {MP_INT16, 2, "Int16Array"},
        {MP_UINT16, 2, "Uint16Array"},
        {MP_INT32, 4, "Int32Array"},
        {MP_UINT32, 4, "Uint32Array"},
        {MP_FLOAT32, 4, "Float32Array"},
        {MP_FLOAT64, 8, "Float64Array"},
        {MP_BIGINT64, 8, "BigInt64Array"},
        {MP_BIGUINT64, 8, "BigUint64Array"},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        CU_ASSERT_EQUAL(mp_view_type_size(table[i].t), table[i].size);
        CU_ASSERT_STRING_EQUAL(mp_view_type_name(table[i].t), table[i].name);
    }
    CU_ASSERT_EQUAL(mp_view_type_size(MP_VIEW_TYPE_COUNT_), 0);
    CU_ASSERT_PTR_NOT_NULL(mp_view_type_name(MP_VIEW_TYPE_COUNT_));
}

static void
test_int8_uint8(void)
{
    static const conv_case i8[] = {
        {0, 0},
        {127, 127},
        {128, -128},
        {255, -1},
        {256, 0},
        {-128, -128},
        {-129, 127},
        {1.9, 1},
        {-1.9, -1},
        {NAN, 0},
        {INFINITY, 0},
        {-INFINITY, 0},
        {-0.0, 0},
        {0.5, 0},
        {4294967296.0 + 3, 3},
        {1e20, 0},
        {-1e300, 0},
        {9007199254740993.0, 0},
        {-9007199254740991.0, 1},
    };
    static const conv_case u8[] = {
        {-1, 255}, {256, 0}, {300, 44}, {1.5, 1}, {-1.5, 255}, {NAN, 0}, {INFINITY, 0}, {255.99, 255}, {-256, 0},
    };
    CHECK_CASES(MP_INT8, i8);
    CHECK_CASES(MP_UINT8, u8);
}

static void
test_uint8_clamped(void)
{
    static const conv_case c[] = {
        {-5, 0},
        {300, 255},
        {0.5, 0},
        {1.5, 2},
        {2.5, 2},
        {3.5, 4},
        {254.5, 254},
        {254.6, 255},
        {NAN, 0},
        {INFINITY, 255},
        {-INFINITY, 0},
        {0.49999999999999994, 0},
        {1.4, 1},
        {-0.0, 0},
        {255, 255},
        {254.49, 254},
        {0.50000000000000011, 1},
    };
    CHECK_CASES(MP_UINT8_CLAMPED, c);
}

static void
test_int16_uint16(void)
{
    static const conv_case i16[] = {
        {32767, 32767}, {32768, -32768}, {65535, -1}, {-32769, 32767}, {65536 + 7.9, 7}, {NAN, 0}, {-INFINITY, 0},
    };
    static const conv_case u16[] = {
        {-1, 65535}, {65536.5, 0}, {65537, 1}, {-65537, 65535}, {40000, 40000}, {INFINITY, 0},
    };
    CHECK_CASES(MP_INT16, i16);
    CHECK_CASES(MP_UINT16, u16);
}

static void
test_int32_uint32(void)
{
    static const conv_case i32[] = {
        {2147483647, 2147483647},
        {2147483648.0, -2147483648.0},
        {4294967295.0, -1},
        {4294967296.0 + 5, 5},
        {1e20, 1661992960},
        {-2147483649.0, 2147483647},
        {-1.5, -1},
        {NAN, 0},
        {INFINITY, 0},
        {18446744073709551616.0, 0},
        {-8589934597.0, -5},
        {-4096.5, -4096},
    };
    static const conv_case u32[] = {
        {-1, 4294967295.0}, {4294967296.0, 0}, {1e20, 1661992960}, {-1e20, 2632974336.0}, {3.99, 3}, {-0.0, 0},
    };
    CHECK_CASES(MP_INT32, i32);
    CHECK_CASES(MP_UINT32, u32);

    /* -0 is stored as +0 in integer arrays. */
    mp_realm *r = new_realm();
    mp_value v = view_over(r, MP_INT32, 1);
    double z = round_trip(v, -0.0);
    CU_ASSERT_EQUAL(z, 0);
    CU_ASSERT_FALSE(signbit(z));
    mp_realm_free(r);
}

static void
test_floats(void)
{
    static const conv_case f32[] = {
        {0.1, 0.100000001490116119384765625},
        {1e40, INFINITY},
        {-1e40, -INFINITY},
        {16777217.0, 16777216.0},
        {16777219.0, 16777220.0},
        {1e-45, 1.401298464324817e-45},
        {3.4028235e38, 3.4028234663852886e38},
        {3.4028235677973366e38, INFINITY},
        {1.5, 1.5},
        {INFINITY, INFINITY},
    };
    CHECK_CASES(MP_FLOAT32, f32);
    static const conv_case f64[] = {
        {0.1, 0.1}, {1e308, 1e308}, {5e-324, 5e-324}, {-INFINITY, -INFINITY}, {9007199254740993.0, 9007199254740992.0},
    };
    CHECK_CASES(MP_FLOAT64, f64);

    mp_realm *r = new_realm();
    mp_value v32 = view_over(r, MP_FLOAT32, 1), v64 = view_over(r, MP_FLOAT64, 1);
    double z = round_trip(v32, -0.0);
    CU_ASSERT_TRUE(z == 0 && signbit(z));
    z = round_trip(v64, -0.0);
    CU_ASSERT_TRUE(z == 0 && signbit(z));
    CU_ASSERT_TRUE(isnan(round_trip(v32, NAN)));
    CU_ASSERT_TRUE(isnan(round_trip(v64, NAN)));
    mp_realm_free(r);
}

static int64_t
big_i64(mp_value b)
{
    int64_t x = 0;
    CU_ASSERT_EQUAL_FATAL(mp_kind_of(b), MP_BIGINT);
    CU_ASSERT_EQUAL(mp_bigint_to_int64(b, &x), MP_OK);
    return x;
}

static uint64_t
big_u64(mp_value b)
{
    uint64_t x = 0;
    CU_ASSERT_EQUAL_FATAL(mp_kind_of(b), MP_BIGINT);
    CU_ASSERT_EQUAL(mp_bigint_to_uint64(b, &x), MP_OK);
    return x;
}

static void
test_bigint_views(void)
{
    mp_realm *r = new_realm();
    mp_value i64 = view_over(r, MP_BIGINT64, 2), u64 = view_over(r, MP_BIGUINT64, 2);
    mp_value b, out;
    const uint64_t two64_plus5[2] = {5, 1};
    const uint64_t two64_plus1[2] = {1, 1};

    CU_ASSERT_EQUAL(mp_bigint_from_uint64(r, UINT64_C(1) << 63, &b), MP_OK);
    CU_ASSERT_EQUAL(mp_view_set(i64, 0, b), MP_OK);
    CU_ASSERT_EQUAL(mp_view_get(i64, 0, &out), MP_OK);
    CU_ASSERT_EQUAL(big_i64(out), INT64_MIN);

    CU_ASSERT_EQUAL(mp_bigint_from_int64(r, -1, &b), MP_OK);
    CU_ASSERT_EQUAL(mp_view_set(i64, 1, b), MP_OK);
    CU_ASSERT_EQUAL(mp_view_get(i64, 1, &out), MP_OK);
    CU_ASSERT_EQUAL(big_i64(out), -1);
    CU_ASSERT_EQUAL(mp_view_set(u64, 0, b), MP_OK);
    CU_ASSERT_EQUAL(mp_view_get(u64, 0, &out), MP_OK);
    CU_ASSERT_EQUAL(big_u64(out), UINT64_MAX);

    CU_ASSERT_EQUAL(mp_bigint_from_words(r, false, two64_plus5, 2, &b), MP_OK);
    CU_ASSERT_EQUAL(mp_view_set(i64, 0, b), MP_OK);
    CU_ASSERT_EQUAL(mp_view_get(i64, 0, &out), MP_OK);
    CU_ASSERT_EQUAL(big_i64(out), 5);
    CU_ASSERT_EQUAL(mp_bigint_from_words(r, true, two64_plus1, 2, &b), MP_OK); /* -(2^64+1) */
    CU_ASSERT_EQUAL(mp_view_set(i64, 0, b), MP_OK);
    CU_ASSERT_EQUAL(mp_view_get(i64, 0, &out), MP_OK);
    CU_ASSERT_EQUAL(big_i64(out), -1);
    CU_ASSERT_EQUAL(mp_view_set(u64, 1, b), MP_OK);
    CU_ASSERT_EQUAL(mp_view_get(u64, 1, &out), MP_OK);
    CU_ASSERT_EQUAL(big_u64(out), UINT64_MAX);

    CU_ASSERT_EQUAL(mp_bigint_from_int64(r, 0, &b), MP_OK);
    CU_ASSERT_EQUAL(mp_view_set(u64, 1, b), MP_OK);
    CU_ASSERT_EQUAL(mp_view_get(u64, 1, &out), MP_OK);
    CU_ASSERT_EQUAL(big_u64(out), 0);

    /* Wrong kinds: nothing written. */
    CU_ASSERT_EQUAL(mp_view_set(i64, 0, mp_number(1)), MP_ETYPE);
    CU_ASSERT_EQUAL(mp_view_get(i64, 0, &out), MP_OK);
    CU_ASSERT_EQUAL(big_i64(out), -1);
    mp_value i32 = view_over(r, MP_INT32, 1), f64 = view_over(r, MP_FLOAT64, 1);
    CU_ASSERT_EQUAL(mp_view_set(i32, 0, mp_number(12)), MP_OK);
    CU_ASSERT_EQUAL(mp_view_set(i32, 0, b), MP_ETYPE);
    CU_ASSERT_EQUAL(mp_view_set(f64, 0, b), MP_ETYPE);
    CU_ASSERT_EQUAL(mp_view_set(i32, 0, mp_undefined()), MP_ETYPE);
    CU_ASSERT_EQUAL(mp_view_set(i32, 0, mp_boolean(true)), MP_ETYPE);
    CU_ASSERT_EQUAL(mp_view_set(i32, 0, mpt_str(r, "5")), MP_ETYPE);
    CU_ASSERT_EQUAL(mp_view_get(i32, 0, &out), MP_OK);
    CU_ASSERT_EQUAL(mp_number_value(out), 12);
    mp_realm_free(r);
}

static void
test_bounds_and_alignment(void)
{
    mp_realm *r = new_realm();
    mp_value ab, v;
    CU_ASSERT_EQUAL_FATAL(mp_arraybuffer_new(r, 16, &ab), MP_OK);
    CU_ASSERT_EQUAL(mp_typedarray_new(MP_INT32, ab, 2, 1, &v), MP_ERANGE); /* misaligned */
    CU_ASSERT_EQUAL(mp_typedarray_new(MP_FLOAT64, ab, 4, MP_LENGTH_AUTO, &v), MP_ERANGE);
    CU_ASSERT_EQUAL(mp_typedarray_new(MP_INT32, ab, 4, 4, &v), MP_ERANGE);  /* 4 + 16 > 16 */
    CU_ASSERT_EQUAL(mp_typedarray_new(MP_INT32, ab, 20, 0, &v), MP_ERANGE); /* past the end */
    CU_ASSERT_EQUAL(mp_typedarray_new(MP_UINT8, ab, 0, SIZE_MAX / 2, &v), MP_ERANGE);
    CU_ASSERT_EQUAL(mp_typedarray_new(MP_UINT16, ab, 0, SIZE_MAX / 2 + 1, &v), MP_ERANGE);
    CU_ASSERT_EQUAL(mp_typedarray_new(MP_VIEW_TYPE_COUNT_, ab, 0, 1, &v), MP_EINVAL);
    CU_ASSERT_EQUAL(mp_typedarray_new(MP_UINT8, mp_number(1), 0, 1, &v), MP_ETYPE);
    CU_ASSERT_EQUAL(mp_dataview_new(ab, 17, MP_LENGTH_AUTO, &v), MP_ERANGE);
    CU_ASSERT_EQUAL(mp_dataview_new(ab, 8, 9, &v), MP_ERANGE);

    CU_ASSERT_EQUAL_FATAL(mp_typedarray_new(MP_INT32, ab, 4, 3, &v), MP_OK);
    CU_ASSERT_EQUAL(mp_view_length(v), 3);
    CU_ASSERT_EQUAL(mp_view_byte_length(v), 12);
    CU_ASSERT_EQUAL(mp_view_byte_offset(v), 4);
    CU_ASSERT_FALSE(mp_view_is_length_tracking(v));
    CU_ASSERT_EQUAL(mp_view_type_of(v), MP_INT32);
    CU_ASSERT_TRUE(mp_same_value(mp_view_buffer(v), ab));
    mp_value out;
    CU_ASSERT_EQUAL(mp_view_set(v, 2, mp_number(-7)), MP_OK);
    CU_ASSERT_EQUAL(mp_view_set(v, 3, mp_number(1)), MP_ERANGE);
    CU_ASSERT_EQUAL(mp_view_get(v, 3, &out), MP_ERANGE);
    CU_ASSERT_EQUAL(mp_view_get(v, SIZE_MAX, &out), MP_ERANGE);
    /* The element landed at byte 4 + 2*4. */
    uint8_t *d;
    CU_ASSERT_EQUAL(mp_arraybuffer_data(ab, (void **)&d, NULL), MP_OK);
    int32_t x;
    memcpy(&x, d + 12, 4);
    CU_ASSERT_EQUAL(x, -7);
    void *vd;
    size_t vlen;
    CU_ASSERT_EQUAL(mp_view_data(v, &vd, &vlen), MP_OK);
    CU_ASSERT_PTR_EQUAL(vd, d + 4);
    CU_ASSERT_EQUAL(vlen, 12);

    /* AUTO over a fixed buffer takes the rest, which must be whole elements. */
    mp_value ab10;
    CU_ASSERT_EQUAL_FATAL(mp_arraybuffer_new(r, 10, &ab10), MP_OK);
    CU_ASSERT_EQUAL(mp_typedarray_new(MP_INT32, ab10, 0, MP_LENGTH_AUTO, &v), MP_ERANGE);
    CU_ASSERT_EQUAL_FATAL(mp_typedarray_new(MP_INT16, ab10, 4, MP_LENGTH_AUTO, &v), MP_OK);
    CU_ASSERT_EQUAL(mp_view_length(v), 3);
    CU_ASSERT_FALSE(mp_view_is_length_tracking(v));
    /* Offset equal to the length: an empty view. */
    CU_ASSERT_EQUAL_FATAL(mp_typedarray_new(MP_INT16, ab10, 10, MP_LENGTH_AUTO, &v), MP_OK);
    CU_ASSERT_EQUAL(mp_view_length(v), 0);
    CU_ASSERT_EQUAL(mp_view_get(v, 0, &out), MP_ERANGE);
    mp_realm_free(r);
}

static void
test_length_tracking(void)
{
    mp_realm *r = new_realm();
    mp_value rab, track, track_off, fixed, dv;
    CU_ASSERT_EQUAL_FATAL(mp_arraybuffer_new_resizable(r, 16, 64, &rab), MP_OK);
    CU_ASSERT_EQUAL_FATAL(mp_typedarray_new(MP_INT32, rab, 0, MP_LENGTH_AUTO, &track), MP_OK);
    CU_ASSERT_EQUAL_FATAL(mp_typedarray_new(MP_INT32, rab, 8, MP_LENGTH_AUTO, &track_off), MP_OK);
    CU_ASSERT_EQUAL_FATAL(mp_typedarray_new(MP_INT16, rab, 4, 4, &fixed), MP_OK);
    CU_ASSERT_EQUAL_FATAL(mp_dataview_new(rab, 2, MP_LENGTH_AUTO, &dv), MP_OK);
    CU_ASSERT_TRUE(mp_view_is_length_tracking(track));
    CU_ASSERT_TRUE(mp_view_is_length_tracking(dv));
    CU_ASSERT_FALSE(mp_view_is_length_tracking(fixed));
    CU_ASSERT_EQUAL(mp_view_length(track), 4);
    CU_ASSERT_EQUAL(mp_view_length(track_off), 2);
    CU_ASSERT_EQUAL(mp_view_length(dv), 14);

    CU_ASSERT_EQUAL(mp_arraybuffer_resize(rab, 30), MP_OK);
    CU_ASSERT_EQUAL(mp_view_length(track), 7); /* floor(30 / 4) */
    CU_ASSERT_EQUAL(mp_view_byte_length(track), 28);
    CU_ASSERT_EQUAL(mp_view_length(track_off), 5);
    CU_ASSERT_EQUAL(mp_view_length(dv), 28);
    CU_ASSERT_EQUAL(mp_view_set(track, 6, mp_number(66)), MP_OK);
    CU_ASSERT_EQUAL(mp_view_set(track, 7, mp_number(1)), MP_ERANGE);
    CU_ASSERT_EQUAL(mp_view_set(track_off, 0, mp_number(5)), MP_OK);

    /* Shrink below the offsets: out of bounds reads as 0 and refuses access. */
    CU_ASSERT_EQUAL(mp_arraybuffer_resize(rab, 6), MP_OK);
    CU_ASSERT_EQUAL(mp_view_length(track), 1);
    CU_ASSERT_EQUAL(mp_view_length(track_off), 0);
    CU_ASSERT_EQUAL(mp_view_byte_offset(track_off), 0);
    CU_ASSERT_EQUAL(mp_view_length(fixed), 0);
    CU_ASSERT_EQUAL(mp_view_byte_length(fixed), 0);
    CU_ASSERT_EQUAL(mp_view_byte_offset(fixed), 0);
    mp_value out;
    CU_ASSERT_EQUAL(mp_view_get(track_off, 0, &out), MP_ERANGE);
    CU_ASSERT_EQUAL(mp_view_get(fixed, 0, &out), MP_ERANGE);
    CU_ASSERT_EQUAL(mp_view_set(fixed, 0, mp_number(1)), MP_ERANGE);
    void *d;
    size_t len;
    CU_ASSERT_EQUAL(mp_view_data(fixed, &d, &len), MP_ERANGE);
    CU_ASSERT_EQUAL(mp_view_data(track_off, &d, &len), MP_ERANGE);
    CU_ASSERT_EQUAL(mp_atomics_load(fixed, 0, &out), MP_ERANGE);

    /* Back in bounds after growing; the regrown bytes are zero. */
    CU_ASSERT_EQUAL(mp_arraybuffer_resize(rab, 12), MP_OK);
    CU_ASSERT_EQUAL(mp_view_length(fixed), 4);
    CU_ASSERT_EQUAL(mp_view_byte_offset(fixed), 4);
    CU_ASSERT_EQUAL(mp_view_length(track_off), 1);
    CU_ASSERT_EQUAL(mp_view_byte_offset(track_off), 8);
    CU_ASSERT_EQUAL(mp_view_get(track_off, 0, &out), MP_OK);
    CU_ASSERT_EQUAL(mp_number_value(out), 0);
    CU_ASSERT_EQUAL(mp_arraybuffer_resize(rab, 64), MP_OK);
    CU_ASSERT_EQUAL(mp_view_get(track, 6, &out), MP_OK);
    CU_ASSERT_EQUAL(mp_number_value(out), 0);
    CU_ASSERT_EQUAL(mp_view_length(track), 16);

    /* A view created while the buffer is at max, with a fixed length. */
    CU_ASSERT_EQUAL(mp_typedarray_new(MP_INT32, rab, 0, 17, &out), MP_ERANGE);
    mp_realm_free(r);
}

static void
test_dataview_endianness(void)
{
    mp_realm *r = new_realm();
    mp_value ab, dv, out;
    CU_ASSERT_EQUAL_FATAL(mp_arraybuffer_new(r, 16, &ab), MP_OK);
    CU_ASSERT_EQUAL_FATAL(mp_dataview_new(ab, 0, MP_LENGTH_AUTO, &dv), MP_OK);
    CU_ASSERT_EQUAL(mp_view_type_of(dv), MP_UINT8);
    CU_ASSERT_EQUAL(mp_view_length(dv), 16);
    uint8_t *d;
    CU_ASSERT_EQUAL(mp_arraybuffer_data(ab, (void **)&d, NULL), MP_OK);

    CU_ASSERT_EQUAL(mp_dataview_set(dv, MP_INT32, 0, mp_number(0x01020304), false), MP_OK);
    CU_ASSERT_EQUAL(mp_dataview_set(dv, MP_INT32, 4, mp_number(0x01020304), true), MP_OK);
    static const uint8_t want[8] = {1, 2, 3, 4, 4, 3, 2, 1};
    CU_ASSERT_EQUAL(memcmp(d, want, 8), 0);
    CU_ASSERT_EQUAL(mp_dataview_get(dv, MP_INT32, 0, false, &out), MP_OK);
    CU_ASSERT_EQUAL(mp_number_value(out), 0x01020304);
    CU_ASSERT_EQUAL(mp_dataview_get(dv, MP_INT32, 0, true, &out), MP_OK);
    CU_ASSERT_EQUAL(mp_number_value(out), 0x04030201);
    CU_ASSERT_EQUAL(mp_dataview_get(dv, MP_UINT16, 1, false, &out), MP_OK); /* unaligned */
    CU_ASSERT_EQUAL(mp_number_value(out), 0x0203);
    CU_ASSERT_EQUAL(mp_dataview_get(dv, MP_UINT16, 1, true, &out), MP_OK);
    CU_ASSERT_EQUAL(mp_number_value(out), 0x0302);
    CU_ASSERT_EQUAL(mp_dataview_get(dv, MP_INT8, 7, true, &out), MP_OK);
    CU_ASSERT_EQUAL(mp_number_value(out), 1);

    CU_ASSERT_EQUAL(mp_dataview_set(dv, MP_FLOAT64, 8, mp_number(1.0), false), MP_OK);
    static const uint8_t one_be[8] = {0x3F, 0xF0, 0, 0, 0, 0, 0, 0};
    CU_ASSERT_EQUAL(memcmp(d + 8, one_be, 8), 0);
    CU_ASSERT_EQUAL(mp_dataview_get(dv, MP_FLOAT64, 8, false, &out), MP_OK);
    CU_ASSERT_EQUAL(mp_number_value(out), 1.0);
    CU_ASSERT_EQUAL(mp_dataview_get(dv, MP_FLOAT64, 8, true, &out), MP_OK);
    uint64_t bits = 0xF03F; /* the same bytes read little-endian */
    double tiny;
    memcpy(&tiny, &bits, 8);
    CU_ASSERT_EQUAL(mp_number_value(out), tiny);

    CU_ASSERT_EQUAL(mp_dataview_set(dv, MP_FLOAT32, 1, mp_number(-2.5), true), MP_OK); /* unaligned */
    static const uint8_t m25_le[4] = {0x00, 0x00, 0x20, 0xC0};
    CU_ASSERT_EQUAL(memcmp(d + 1, m25_le, 4), 0);
    CU_ASSERT_EQUAL(mp_dataview_get(dv, MP_FLOAT32, 1, true, &out), MP_OK);
    CU_ASSERT_EQUAL(mp_number_value(out), -2.5);

    mp_value b;
    CU_ASSERT_EQUAL(mp_bigint_from_int64(r, -2, &b), MP_OK);
    CU_ASSERT_EQUAL(mp_dataview_set(dv, MP_BIGINT64, 3, b, false), MP_OK);
    static const uint8_t m2_be[8] = {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE};
    CU_ASSERT_EQUAL(memcmp(d + 3, m2_be, 8), 0);
    CU_ASSERT_EQUAL(mp_dataview_get(dv, MP_BIGINT64, 3, false, &out), MP_OK);
    CU_ASSERT_EQUAL(big_i64(out), -2);
    CU_ASSERT_EQUAL(mp_dataview_get(dv, MP_BIGUINT64, 3, true, &out), MP_OK);
    CU_ASSERT_EQUAL(big_u64(out), UINT64_C(0xFEFFFFFFFFFFFFFF));
    CU_ASSERT_EQUAL(mp_dataview_set(dv, MP_UINT16, 0, mp_number(-1), true), MP_OK); /* wraps */
    CU_ASSERT_EQUAL(mp_dataview_get(dv, MP_UINT16, 0, false, &out), MP_OK);
    CU_ASSERT_EQUAL(mp_number_value(out), 65535);

    /* Bounds, kinds. */
    CU_ASSERT_EQUAL(mp_dataview_get(dv, MP_INT32, 13, true, &out), MP_ERANGE);
    CU_ASSERT_EQUAL(mp_dataview_get(dv, MP_UINT8, 16, true, &out), MP_ERANGE);
    CU_ASSERT_EQUAL(mp_dataview_get(dv, MP_INT8, SIZE_MAX, true, &out), MP_ERANGE);
    CU_ASSERT_EQUAL(mp_dataview_set(dv, MP_FLOAT64, 9, mp_number(1), true), MP_ERANGE);
    CU_ASSERT_EQUAL(mp_dataview_get(dv, MP_UINT8_CLAMPED, 0, true, &out), MP_EINVAL);
    CU_ASSERT_EQUAL(mp_dataview_set(dv, MP_BIGINT64, 0, mp_number(1), true), MP_ETYPE);
    CU_ASSERT_EQUAL(mp_dataview_set(dv, MP_INT32, 0, b, true), MP_ETYPE);
    CU_ASSERT_EQUAL(mp_view_get(dv, 0, &out), MP_ETYPE);
    mp_value u8;
    CU_ASSERT_EQUAL_FATAL(mp_typedarray_new(MP_UINT8, ab, 0, 4, &u8), MP_OK);
    CU_ASSERT_EQUAL(mp_dataview_get(u8, MP_UINT8, 0, true, &out), MP_ETYPE);

    /* A window: offsets are relative to the view. */
    mp_value win;
    CU_ASSERT_EQUAL_FATAL(mp_dataview_new(ab, 2, 4, &win), MP_OK);
    CU_ASSERT_EQUAL(mp_view_byte_offset(win), 2);
    CU_ASSERT_EQUAL(mp_view_byte_length(win), 4);
    CU_ASSERT_EQUAL(mp_dataview_get(win, MP_UINT8, 0, true, &out), MP_OK);
    CU_ASSERT_EQUAL(mp_number_value(out), d[2]);
    CU_ASSERT_EQUAL(mp_dataview_set(win, MP_INT16, 3, mp_number(1), true), MP_ERANGE);
    CU_ASSERT_EQUAL(mp_dataview_set(win, MP_INT16, 2, mp_number(0x1234), true), MP_OK);
    CU_ASSERT_EQUAL(d[4], 0x34);
    CU_ASSERT_EQUAL(d[5], 0x12);
    mp_realm_free(r);
}

static void
test_views_over_sab(void)
{
    mp_realm *r = new_realm();
    mp_value sab, gsab, v, track, dv, out;
    CU_ASSERT_EQUAL_FATAL(mp_sab_new(r, 8, &sab), MP_OK);
    CU_ASSERT_EQUAL_FATAL(mp_typedarray_new(MP_UINT16, sab, 2, MP_LENGTH_AUTO, &v), MP_OK);
    CU_ASSERT_FALSE(mp_view_is_length_tracking(v));
    CU_ASSERT_EQUAL(mp_view_length(v), 3);
    CU_ASSERT_EQUAL(mp_view_set(v, 2, mp_number(70000)), MP_OK);
    CU_ASSERT_EQUAL(mp_view_get(v, 2, &out), MP_OK);
    CU_ASSERT_EQUAL(mp_number_value(out), 70000 - 65536);
    CU_ASSERT_TRUE(mp_same_value(mp_view_buffer(v), sab));

    CU_ASSERT_EQUAL_FATAL(mp_sab_new_growable(r, 4, 32, &gsab), MP_OK);
    CU_ASSERT_EQUAL_FATAL(mp_typedarray_new(MP_FLOAT64, gsab, 0, MP_LENGTH_AUTO, &track), MP_OK);
    CU_ASSERT_EQUAL_FATAL(mp_dataview_new(gsab, 1, MP_LENGTH_AUTO, &dv), MP_OK);
    CU_ASSERT_TRUE(mp_view_is_length_tracking(track));
    CU_ASSERT_EQUAL(mp_view_length(track), 0);
    CU_ASSERT_EQUAL(mp_view_length(dv), 3);
    CU_ASSERT_EQUAL(mp_sab_grow(gsab, 20), MP_OK);
    CU_ASSERT_EQUAL(mp_view_length(track), 2);
    CU_ASSERT_EQUAL(mp_view_length(dv), 19);
    CU_ASSERT_EQUAL(mp_view_set(track, 1, mp_number(2.25)), MP_OK);
    CU_ASSERT_EQUAL(mp_dataview_get(dv, MP_FLOAT64, 7, true, &out), MP_OK);
    CU_ASSERT_EQUAL(mp_number_value(out), 2.25);
    mp_realm_free(r);
}

int
main(void)
{
    static const mpt_test tests[] = {
        {"type sizes and names", test_type_table},
        {"Int8/Uint8 conversions", test_int8_uint8},
        {"Uint8Clamped rounding", test_uint8_clamped},
        {"Int16/Uint16 conversions", test_int16_uint16},
        {"Int32/Uint32 conversions", test_int32_uint32},
        {"Float32/Float64", test_floats},
        {"BigInt64/BigUint64 modulo 2^64", test_bigint_views},
        {"bounds and alignment at creation", test_bounds_and_alignment},
        {"length tracking over resizable", test_length_tracking},
        {"DataView both endiannesses", test_dataview_endianness},
        {"views over SharedArrayBuffer", test_views_over_sab},
        {NULL, NULL},
    };
    return mpt_run("views", tests);
}
