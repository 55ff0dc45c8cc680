/* Atomics: what every operation returns per element type, wrap-around,
 * BigInt views, compareExchange, refused types, and exact sums from two
 * threads. */
#include <math.h>
#include <pthread.h>
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
view_over(mp_realm *r, mp_view_type t, size_t elems, bool shared)
{
    mp_value buf, v;
    size_t n = elems * mp_view_type_size(t);
    mp_status st = shared ? mp_sab_new(r, n, &buf) : mp_arraybuffer_new(r, n, &buf);
    CU_ASSERT_EQUAL_FATAL(st, MP_OK);
    CU_ASSERT_EQUAL_FATAL(mp_typedarray_new(t, buf, 0, MP_LENGTH_AUTO, &v), MP_OK);
    return v;
}

static double
num_at(mp_value view, size_t i)
{
    mp_value out;
    CU_ASSERT_EQUAL_FATAL(mp_view_get(view, i, &out), MP_OK);
    return mp_number_value(out);
}

/* The number an rmw returned, or NAN if the call failed. */
static double
rmw(mp_value view, size_t i, mp_atomic_op op, double x)
{
    mp_value old = mp_undefined();
    if (mp_atomics_rmw(view, i, op, mp_number(x), &old) != MP_OK) return NAN;
    CU_ASSERT_EQUAL(mp_kind_of(old), MP_NUMBER);
    return mp_number_value(old);
}

static double
store(mp_value view, size_t i, double x)
{
    mp_value ret = mp_undefined();
    if (mp_atomics_store(view, i, mp_number(x), &ret) != MP_OK) return NAN;
    CU_ASSERT_EQUAL(mp_kind_of(ret), MP_NUMBER);
    return mp_number_value(ret);
}

static double
load(mp_value view, size_t i)
{
    mp_value out = mp_undefined();
    if (mp_atomics_load(view, i, &out) != MP_OK) return NAN;
    return mp_number_value(out);
}

static void
test_store_returns_integer_argument(void)
{
    mp_realm *r = new_realm();
    for (int shared = 0; shared < 2; shared++) {
        mp_value i8 = view_over(r, MP_INT8, 4, shared), u8 = view_over(r, MP_UINT8, 4, shared);
        CU_ASSERT_EQUAL(store(i8, 0, 300.7), 300);
        CU_ASSERT_EQUAL(load(i8, 0), 44);
        CU_ASSERT_EQUAL(store(i8, 1, -3.7), -3);
        CU_ASSERT_EQUAL(load(i8, 1), -3);
        double z = store(i8, 2, -0.0);
        CU_ASSERT_TRUE(z == 0 && !signbit(z));
        z = store(i8, 2, -0.5);
        CU_ASSERT_TRUE(z == 0 && !signbit(z));
        CU_ASSERT_EQUAL(store(i8, 3, NAN), 0);
        CU_ASSERT_EQUAL(load(i8, 3), 0);
        CU_ASSERT_EQUAL(store(i8, 3, INFINITY), INFINITY);
        CU_ASSERT_EQUAL(load(i8, 3), 0);
        CU_ASSERT_EQUAL(store(i8, 3, -INFINITY), -INFINITY);
        CU_ASSERT_EQUAL(store(u8, 0, -1), -1);
        CU_ASSERT_EQUAL(load(u8, 0), 255);
        CU_ASSERT_EQUAL(store(u8, 0, 1e20), 1e20);
        CU_ASSERT_EQUAL(load(u8, 0), 0);

        mp_value i16 = view_over(r, MP_INT16, 1, shared), u16 = view_over(r, MP_UINT16, 1, shared);
        mp_value i32 = view_over(r, MP_INT32, 1, shared), u32 = view_over(r, MP_UINT32, 1, shared);
        CU_ASSERT_EQUAL(store(i16, 0, 40000), 40000);
        CU_ASSERT_EQUAL(load(i16, 0), 40000 - 65536);
        CU_ASSERT_EQUAL(store(u16, 0, -2), -2);
        CU_ASSERT_EQUAL(load(u16, 0), 65534);
        CU_ASSERT_EQUAL(store(i32, 0, 4294967295.0), 4294967295.0);
        CU_ASSERT_EQUAL(load(i32, 0), -1);
        CU_ASSERT_EQUAL(store(u32, 0, -1.9), -1);
        CU_ASSERT_EQUAL(load(u32, 0), 4294967295.0);
    }
    mp_realm_free(r);
}

static void
test_rmw_numbers(void)
{
    mp_realm *r = new_realm();
    for (int shared = 0; shared < 2; shared++) {
        mp_value u8 = view_over(r, MP_UINT8, 2, shared), i8 = view_over(r, MP_INT8, 2, shared);
        mp_value i16 = view_over(r, MP_INT16, 2, shared), u16 = view_over(r, MP_UINT16, 2, shared);
        mp_value i32 = view_over(r, MP_INT32, 2, shared), u32 = view_over(r, MP_UINT32, 2, shared);

        store(u8, 0, 250);
        CU_ASSERT_EQUAL(rmw(u8, 0, MP_ATOMIC_ADD, 10), 250);
        CU_ASSERT_EQUAL(num_at(u8, 0), 4);
        CU_ASSERT_EQUAL(rmw(u8, 0, MP_ATOMIC_SUB, 5), 4);
        CU_ASSERT_EQUAL(num_at(u8, 0), 255);
        CU_ASSERT_EQUAL(rmw(u8, 0, MP_ATOMIC_AND, 0x0F), 255);
        CU_ASSERT_EQUAL(rmw(u8, 0, MP_ATOMIC_OR, 0x30), 0x0F);
        CU_ASSERT_EQUAL(rmw(u8, 0, MP_ATOMIC_XOR, 0xFF), 0x3F);
        CU_ASSERT_EQUAL(rmw(u8, 0, MP_ATOMIC_EXCHANGE, 513), 0xC0);
        CU_ASSERT_EQUAL(num_at(u8, 0), 1);
        CU_ASSERT_EQUAL(num_at(u8, 1), 0); /* neighbours untouched */

        store(i8, 0, 127);
        CU_ASSERT_EQUAL(rmw(i8, 0, MP_ATOMIC_ADD, 1), 127);
        CU_ASSERT_EQUAL(num_at(i8, 0), -128);
        CU_ASSERT_EQUAL(rmw(i8, 0, MP_ATOMIC_SUB, 1), -128);
        CU_ASSERT_EQUAL(num_at(i8, 0), 127);
        CU_ASSERT_EQUAL(rmw(i8, 0, MP_ATOMIC_EXCHANGE, -1), 127);
        CU_ASSERT_EQUAL(rmw(i8, 0, MP_ATOMIC_AND, 0x7F), -1);
        CU_ASSERT_EQUAL(num_at(i8, 0), 127);

        store(i16, 1, -32768);
        CU_ASSERT_EQUAL(rmw(i16, 1, MP_ATOMIC_SUB, 1), -32768);
        CU_ASSERT_EQUAL(num_at(i16, 1), 32767);
        CU_ASSERT_EQUAL(rmw(i16, 1, MP_ATOMIC_XOR, -1), 32767);
        CU_ASSERT_EQUAL(num_at(i16, 1), -32768);
        CU_ASSERT_EQUAL(num_at(i16, 0), 0);

        CU_ASSERT_EQUAL(rmw(u16, 0, MP_ATOMIC_SUB, 1), 0);
        CU_ASSERT_EQUAL(rmw(u16, 0, MP_ATOMIC_OR, 0), 65535);
        CU_ASSERT_EQUAL(rmw(u16, 0, MP_ATOMIC_ADD, 65537), 65535);
        CU_ASSERT_EQUAL(num_at(u16, 0), 0);

        store(i32, 0, 2147483647);
        CU_ASSERT_EQUAL(rmw(i32, 0, MP_ATOMIC_ADD, 1), 2147483647);
        CU_ASSERT_EQUAL(num_at(i32, 0), -2147483648.0);
        CU_ASSERT_EQUAL(rmw(i32, 0, MP_ATOMIC_EXCHANGE, 4294967296.0 + 7), -2147483648.0);
        CU_ASSERT_EQUAL(rmw(i32, 0, MP_ATOMIC_ADD, 1.9), 7); /* operand truncated */
        CU_ASSERT_EQUAL(num_at(i32, 0), 8);

        CU_ASSERT_EQUAL(rmw(u32, 1, MP_ATOMIC_SUB, 1), 0);
        CU_ASSERT_EQUAL(rmw(u32, 1, MP_ATOMIC_AND, 0xFFFF0000u), 4294967295.0);
        CU_ASSERT_EQUAL(rmw(u32, 1, MP_ATOMIC_OR, 1), 4294901760.0);
        CU_ASSERT_EQUAL(num_at(u32, 1), 4294901761.0);
        CU_ASSERT_EQUAL(num_at(u32, 0), 0);
    }
    mp_value bad = view_over(r, MP_INT32, 1, false), old;
    CU_ASSERT_EQUAL(mp_atomics_rmw(bad, 0, (mp_atomic_op)99, mp_number(1), &old), MP_EINVAL);
    mp_realm_free(r);
}

static mp_value
big_i(mp_realm *r, int64_t x)
{
    mp_value b;
    CU_ASSERT_EQUAL_FATAL(mp_bigint_from_int64(r, x, &b), MP_OK);
    return b;
}

static mp_value
big_u(mp_realm *r, uint64_t x)
{
    mp_value b;
    CU_ASSERT_EQUAL_FATAL(mp_bigint_from_uint64(r, x, &b), MP_OK);
    return b;
}

static int64_t
as_i64(mp_value b)
{
    int64_t x = 0;
    CU_ASSERT_EQUAL_FATAL(mp_kind_of(b), MP_BIGINT);
    CU_ASSERT_EQUAL(mp_bigint_to_int64(b, &x), MP_OK);
    return x;
}

static uint64_t
as_u64(mp_value b)
{
    uint64_t x = 0;
    CU_ASSERT_EQUAL_FATAL(mp_kind_of(b), MP_BIGINT);
    CU_ASSERT_EQUAL(mp_bigint_to_uint64(b, &x), MP_OK);
    return x;
}

static void
test_bigint_ops(void)
{
    mp_realm *r = new_realm();
    for (int shared = 0; shared < 2; shared++) {
        mp_value i64 = view_over(r, MP_BIGINT64, 2, shared), u64 = view_over(r, MP_BIGUINT64, 2, shared);
        mp_value ret, old, out;
        const uint64_t huge[2] = {3, 1}; /* 2^64 + 3 */
        mp_value two64p3;
        CU_ASSERT_EQUAL_FATAL(mp_bigint_from_words(r, false, huge, 2, &two64p3), MP_OK);

        /* store returns the BigInt argument itself, not the wrapped value. */
        CU_ASSERT_EQUAL(mp_atomics_store(i64, 0, two64p3, &ret), MP_OK);
        CU_ASSERT_TRUE(mp_same_value(ret, two64p3));
        CU_ASSERT_EQUAL(mp_atomics_load(i64, 0, &out), MP_OK);
        CU_ASSERT_EQUAL(as_i64(out), 3);

        CU_ASSERT_EQUAL(mp_atomics_store(i64, 0, big_i(r, INT64_MAX), &ret), MP_OK);
        CU_ASSERT_EQUAL(mp_atomics_rmw(i64, 0, MP_ATOMIC_ADD, big_i(r, 1), &old), MP_OK);
        CU_ASSERT_EQUAL(as_i64(old), INT64_MAX);
        CU_ASSERT_EQUAL(mp_atomics_load(i64, 0, &out), MP_OK);
        CU_ASSERT_EQUAL(as_i64(out), INT64_MIN);
        CU_ASSERT_EQUAL(mp_atomics_rmw(i64, 0, MP_ATOMIC_XOR, big_i(r, -1), &old), MP_OK);
        CU_ASSERT_EQUAL(as_i64(old), INT64_MIN);
        CU_ASSERT_EQUAL(mp_atomics_rmw(i64, 0, MP_ATOMIC_EXCHANGE, big_i(r, 0), &old), MP_OK);
        CU_ASSERT_EQUAL(as_i64(old), INT64_MAX);
        CU_ASSERT_EQUAL(mp_atomics_rmw(i64, 0, MP_ATOMIC_SUB, big_i(r, 5), &old), MP_OK);
        CU_ASSERT_EQUAL(as_i64(old), 0);
        CU_ASSERT_EQUAL(mp_atomics_rmw(i64, 0, MP_ATOMIC_AND, big_i(r, 0xFF), &old), MP_OK);
        CU_ASSERT_EQUAL(as_i64(old), -5);
        CU_ASSERT_EQUAL(mp_atomics_rmw(i64, 0, MP_ATOMIC_OR, big_i(r, 0x100), &old), MP_OK);
        CU_ASSERT_EQUAL(as_i64(old), 0xFB);
        CU_ASSERT_EQUAL(mp_atomics_load(i64, 0, &out), MP_OK);
        CU_ASSERT_EQUAL(as_i64(out), 0x1FB);

        /* BigUint64 reads back unsigned. */
        CU_ASSERT_EQUAL(mp_atomics_rmw(u64, 1, MP_ATOMIC_SUB, big_i(r, 1), &old), MP_OK);
        CU_ASSERT_EQUAL(as_u64(old), 0);
        CU_ASSERT_EQUAL(mp_atomics_rmw(u64, 1, MP_ATOMIC_ADD, two64p3, &old), MP_OK);
        CU_ASSERT_EQUAL(as_u64(old), UINT64_MAX);
        CU_ASSERT_EQUAL(mp_atomics_load(u64, 1, &out), MP_OK);
        CU_ASSERT_EQUAL(as_u64(out), 2);
        CU_ASSERT_EQUAL(mp_atomics_store(u64, 1, big_i(r, -2), &ret), MP_OK);
        CU_ASSERT_EQUAL(as_i64(ret), -2);
        CU_ASSERT_EQUAL(mp_atomics_load(u64, 1, &out), MP_OK);
        CU_ASSERT_EQUAL(as_u64(out), UINT64_MAX - 1);
        CU_ASSERT_EQUAL(mp_view_get(u64, 0, &out), MP_OK);
        CU_ASSERT_EQUAL(as_u64(out), 0); /* the neighbour is untouched */

        /* Numbers to BigInt views are refused, the element stays. */
        CU_ASSERT_EQUAL(mp_atomics_store(u64, 1, mp_number(1), &ret), MP_ETYPE);
        CU_ASSERT_EQUAL(mp_atomics_rmw(u64, 1, MP_ATOMIC_ADD, mp_number(1), &old), MP_ETYPE);
        CU_ASSERT_EQUAL(mp_atomics_compare_exchange(u64, 1, mp_number(0), big_i(r, 1), &old), MP_ETYPE);
        CU_ASSERT_EQUAL(mp_atomics_load(u64, 1, &out), MP_OK);
        CU_ASSERT_EQUAL(as_u64(out), UINT64_MAX - 1);
    }
    mp_realm_free(r);
}

static void
test_compare_exchange(void)
{
    mp_realm *r = new_realm();
    for (int shared = 0; shared < 2; shared++) {
        mp_value u8 = view_over(r, MP_UINT8, 1, shared), i8 = view_over(r, MP_INT8, 1, shared);
        mp_value i32 = view_over(r, MP_INT32, 1, shared), u16 = view_over(r, MP_UINT16, 1, shared);
        mp_value old;

        store(u8, 0, 200);
        /* expected -56 converts to 200 as a Uint8: a match. */
        CU_ASSERT_EQUAL(mp_atomics_compare_exchange(u8, 0, mp_number(-56), mp_number(7), &old), MP_OK);
        CU_ASSERT_EQUAL(mp_number_value(old), 200);
        CU_ASSERT_EQUAL(num_at(u8, 0), 7);
        CU_ASSERT_EQUAL(mp_atomics_compare_exchange(u8, 0, mp_number(8), mp_number(9), &old), MP_OK);
        CU_ASSERT_EQUAL(mp_number_value(old), 7);
        CU_ASSERT_EQUAL(num_at(u8, 0), 7);
        CU_ASSERT_EQUAL(mp_atomics_compare_exchange(u8, 0, mp_number(7.9), mp_number(300), &old), MP_OK);
        CU_ASSERT_EQUAL(mp_number_value(old), 7);
        CU_ASSERT_EQUAL(num_at(u8, 0), 44);

        store(i8, 0, -1);
        CU_ASSERT_EQUAL(mp_atomics_compare_exchange(i8, 0, mp_number(255), mp_number(128), &old), MP_OK);
        CU_ASSERT_EQUAL(mp_number_value(old), -1);
        CU_ASSERT_EQUAL(num_at(i8, 0), -128);

        store(i32, 0, -5);
        CU_ASSERT_EQUAL(mp_atomics_compare_exchange(i32, 0, mp_number(4294967291.0), mp_number(1), &old), MP_OK);
        CU_ASSERT_EQUAL(mp_number_value(old), -5);
        CU_ASSERT_EQUAL(num_at(i32, 0), 1);
        CU_ASSERT_EQUAL(mp_atomics_compare_exchange(i32, 0, mp_number(-5), mp_number(2), &old), MP_OK);
        CU_ASSERT_EQUAL(mp_number_value(old), 1);
        CU_ASSERT_EQUAL(num_at(i32, 0), 1);

        CU_ASSERT_EQUAL(mp_atomics_compare_exchange(u16, 0, mp_number(NAN), mp_number(-1), &old), MP_OK);
        CU_ASSERT_EQUAL(mp_number_value(old), 0);
        CU_ASSERT_EQUAL(num_at(u16, 0), 65535);

        mp_value i64 = view_over(r, MP_BIGINT64, 1, shared), u64 = view_over(r, MP_BIGUINT64, 1, shared), out;
        CU_ASSERT_EQUAL(mp_atomics_store(i64, 0, big_i(r, -1), &out), MP_OK);
        /* 2^64 - 1 is -1 modulo 2^64. */
        CU_ASSERT_EQUAL(mp_atomics_compare_exchange(i64, 0, big_u(r, UINT64_MAX), big_i(r, 42), &old), MP_OK);
        CU_ASSERT_EQUAL(as_i64(old), -1);
        CU_ASSERT_EQUAL(mp_atomics_load(i64, 0, &out), MP_OK);
        CU_ASSERT_EQUAL(as_i64(out), 42);
        CU_ASSERT_EQUAL(mp_atomics_compare_exchange(i64, 0, big_i(r, 41), big_i(r, 0), &old), MP_OK);
        CU_ASSERT_EQUAL(as_i64(old), 42);
        CU_ASSERT_EQUAL(mp_atomics_load(i64, 0, &out), MP_OK);
        CU_ASSERT_EQUAL(as_i64(out), 42);
        CU_ASSERT_EQUAL(mp_atomics_compare_exchange(u64, 0, big_i(r, 0), big_i(r, -3), &old), MP_OK);
        CU_ASSERT_EQUAL(as_u64(old), 0);
        CU_ASSERT_EQUAL(mp_atomics_compare_exchange(u64, 0, big_i(r, 0), big_i(r, 9), &old), MP_OK);
        CU_ASSERT_EQUAL(as_u64(old), UINT64_MAX - 2);
        CU_ASSERT_EQUAL(mp_atomics_load(u64, 0, &out), MP_OK);
        CU_ASSERT_EQUAL(as_u64(out), UINT64_MAX - 2);
    }
    mp_realm_free(r);
}

static void
test_refused(void)
{
    mp_realm *r = new_realm();
    mp_value out = mp_number(-1), old = mp_number(-1);
    const mp_view_type refused[] = {MP_FLOAT32, MP_FLOAT64, MP_UINT8_CLAMPED};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        mp_value v = view_over(r, refused[i], 2, true);
        CU_ASSERT_EQUAL(mp_view_set(v, 0, mp_number(3)), MP_OK);
        CU_ASSERT_EQUAL(mp_atomics_load(v, 0, &out), MP_ETYPE);
        CU_ASSERT_EQUAL(mp_atomics_store(v, 0, mp_number(1), &out), MP_ETYPE);
        CU_ASSERT_EQUAL(mp_atomics_rmw(v, 0, MP_ATOMIC_ADD, mp_number(1), &old), MP_ETYPE);
        CU_ASSERT_EQUAL(mp_atomics_compare_exchange(v, 0, mp_number(3), mp_number(1), &old), MP_ETYPE);
        CU_ASSERT_EQUAL(num_at(v, 0), 3);
    }
    CU_ASSERT_EQUAL(mp_number_value(out), -1);
    CU_ASSERT_EQUAL(mp_number_value(old), -1);

    mp_value sab, dv;
    CU_ASSERT_EQUAL_FATAL(mp_sab_new(r, 8, &sab), MP_OK);
    CU_ASSERT_EQUAL_FATAL(mp_dataview_new(sab, 0, MP_LENGTH_AUTO, &dv), MP_OK);
    CU_ASSERT_EQUAL(mp_atomics_load(dv, 0, &out), MP_ETYPE);
    CU_ASSERT_EQUAL(mp_atomics_rmw(dv, 0, MP_ATOMIC_ADD, mp_number(1), &old), MP_ETYPE);
    CU_ASSERT_EQUAL(mp_atomics_load(sab, 0, &out), MP_ETYPE);
    CU_ASSERT_EQUAL(mp_atomics_load(mp_number(0), 0, &out), MP_ETYPE);

    mp_value i32 = view_over(r, MP_INT32, 2, true), b = big_i(r, 1);
    CU_ASSERT_EQUAL(mp_atomics_store(i32, 0, mp_number(6), NULL), MP_OK);
    CU_ASSERT_EQUAL(mp_atomics_store(i32, 0, b, &out), MP_ETYPE);
    CU_ASSERT_EQUAL(mp_atomics_rmw(i32, 0, MP_ATOMIC_ADD, b, &old), MP_ETYPE);
    CU_ASSERT_EQUAL(mp_atomics_rmw(i32, 0, MP_ATOMIC_ADD, mp_undefined(), &old), MP_ETYPE);
    CU_ASSERT_EQUAL(mp_atomics_compare_exchange(i32, 0, mp_number(6), b, &old), MP_ETYPE);
    CU_ASSERT_EQUAL(num_at(i32, 0), 6);
    CU_ASSERT_EQUAL(mp_atomics_load(i32, 2, &out), MP_ERANGE);
    CU_ASSERT_EQUAL(mp_atomics_store(i32, 2, mp_number(1), &out), MP_ERANGE);
    CU_ASSERT_EQUAL(mp_atomics_rmw(i32, SIZE_MAX, MP_ATOMIC_ADD, mp_number(1), &old), MP_ERANGE);
    CU_ASSERT_EQUAL(mp_atomics_compare_exchange(i32, 2, mp_number(0), mp_number(1), &old), MP_ERANGE);
    mp_realm_free(r);
}

/* Caller memory may be unaligned; unshared, so plain accesses are right
 * there, and the results must be the same. */
static void
test_unaligned_external(void)
{
    mp_realm *r = new_realm();
    static _Alignas(8) uint8_t mem[24];
    mp_value ab, i32, i64, old, out;
    CU_ASSERT_EQUAL_FATAL(mp_arraybuffer_new_external(r, mem + 1, 16, NULL, NULL, &ab), MP_OK);
    CU_ASSERT_EQUAL_FATAL(mp_typedarray_new(MP_INT32, ab, 4, 2, &i32), MP_OK);
    CU_ASSERT_EQUAL_FATAL(mp_typedarray_new(MP_BIGINT64, ab, 8, 1, &i64), MP_OK);
    CU_ASSERT_EQUAL(store(i32, 1, 2147483647), 2147483647);
    CU_ASSERT_EQUAL(rmw(i32, 1, MP_ATOMIC_ADD, 1), 2147483647);
    CU_ASSERT_EQUAL(load(i32, 1), -2147483648.0);
    CU_ASSERT_EQUAL(mp_atomics_compare_exchange(i32, 1, mp_number(-2147483648.0), mp_number(5), &old), MP_OK);
    CU_ASSERT_EQUAL(mp_number_value(old), -2147483648.0);
    CU_ASSERT_EQUAL(load(i32, 1), 5);
    int32_t x;
    memcpy(&x, mem + 1 + 8, 4);
    CU_ASSERT_EQUAL(x, 5);
    CU_ASSERT_EQUAL(mp_atomics_rmw(i64, 0, MP_ATOMIC_SUB, big_i(r, 7), &old), MP_OK);
    CU_ASSERT_EQUAL(as_i64(old), 5); /* the low bytes hold the Int32 written above */
    CU_ASSERT_EQUAL(mp_atomics_load(i64, 0, &out), MP_OK);
    CU_ASSERT_EQUAL(as_i64(out), -2);
    mp_realm_free(r);
}

/* Two threads, each with its own realm and its own handle on one store,
 * add to the same elements; the sums must be exact. */
enum { ADDS = 20000 };

typedef struct adder {
    mp_realm *realm;
    mp_value sab;
    int errors;
} adder;

static void *
adder_thread(void *p)
{
    adder *a = p;
    mp_value i32, u8, i64, one, old;
    if (mp_typedarray_new(MP_INT32, a->sab, 0, 1, &i32) != MP_OK ||
        mp_typedarray_new(MP_UINT8, a->sab, 4, 1, &u8) != MP_OK ||
        mp_typedarray_new(MP_BIGINT64, a->sab, 8, 1, &i64) != MP_OK ||
        mp_bigint_from_int64(a->realm, 1, &one) != MP_OK) {
        a->errors++;
        return NULL;
    }
    for (int i = 0; i < ADDS; i++) {
        if (mp_atomics_rmw(i32, 0, MP_ATOMIC_ADD, mp_number(1), &old) != MP_OK) a->errors++;
        if (mp_atomics_rmw(u8, 0, MP_ATOMIC_ADD, mp_number(1), &old) != MP_OK) a->errors++;
        if (mp_atomics_rmw(i64, 0, MP_ATOMIC_ADD, one, NULL) != MP_OK) a->errors++;
        /* BigInt results are cells: keep the thread's realm small. */
        if (i % 1024 == 0) {
            mp_value roots[4] = {i32, u8, i64, one}; /* the views keep the SAB */
            mp_realm_collect(a->realm, roots, 4);
        }
    }
    return NULL;
}

static void
test_concurrent_add(void)
{
    mp_realm *rm = new_realm(), *r1 = new_realm(), *r2 = new_realm();
    mp_value sab;
    CU_ASSERT_EQUAL_FATAL(mp_sab_new(rm, 16, &sab), MP_OK);
    adder a1 = {r1, mp_undefined(), 0}, a2 = {r2, mp_undefined(), 0};
    CU_ASSERT_EQUAL_FATAL(mp_sab_share(sab, r1, &a1.sab), MP_OK);
    CU_ASSERT_EQUAL_FATAL(mp_sab_share(sab, r2, &a2.sab), MP_OK);
    pthread_t t1, t2;
    CU_ASSERT_EQUAL_FATAL(pthread_create(&t1, NULL, adder_thread, &a1), 0);
    CU_ASSERT_EQUAL_FATAL(pthread_create(&t2, NULL, adder_thread, &a2), 0);
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    CU_ASSERT_EQUAL(a1.errors, 0);
    CU_ASSERT_EQUAL(a2.errors, 0);
    mp_value i32, u8, i64, out;
    CU_ASSERT_EQUAL_FATAL(mp_typedarray_new(MP_INT32, sab, 0, 1, &i32), MP_OK);
    CU_ASSERT_EQUAL_FATAL(mp_typedarray_new(MP_UINT8, sab, 4, 1, &u8), MP_OK);
    CU_ASSERT_EQUAL_FATAL(mp_typedarray_new(MP_BIGINT64, sab, 8, 1, &i64), MP_OK);
    CU_ASSERT_EQUAL(load(i32, 0), 2 * ADDS);
    CU_ASSERT_EQUAL(load(u8, 0), (2 * ADDS) % 256);
    CU_ASSERT_EQUAL(mp_atomics_load(i64, 0, &out), MP_OK);
    CU_ASSERT_EQUAL(as_i64(out), 2 * ADDS);
    mp_realm_free(r1);
    mp_realm_free(r2);
    mp_realm_free(rm);
}

int
main(void)
{
    static const mpt_test tests[] = {
        {"store returns ToIntegerOrInfinity", test_store_returns_integer_argument},
        {"rmw returns the old value, wraps", test_rmw_numbers},
        {"BigInt64/BigUint64", test_bigint_ops},
        {"compareExchange match and mismatch", test_compare_exchange},
        {"refused types and ranges", test_refused},
        {"unaligned external memory", test_unaligned_external},
        {"concurrent add from two threads", test_concurrent_add},
        {NULL, NULL},
    };
    return mpt_run("atomics", tests);
}
