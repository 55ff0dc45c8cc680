/* Date, RegExp, Error, boxed primitives, host objects, kind names,
 * primitives and SameValue. */
#include <math.h>
#include <string.h>

#include "testutil.h"

static mp_realm *R;

static double
date(double t)
{
    mp_value d;
    CU_ASSERT_EQUAL(mp_date_new(R, t, &d), MP_OK);
    CU_ASSERT_EQUAL(mp_kind_of(d), MP_DATE);
    return mp_date_value(d);
}

static void
test_date_timeclip(void)
{
    CU_ASSERT_EQUAL(date(0), 0);
    CU_ASSERT_EQUAL(date(1.9), 1);
    CU_ASSERT_EQUAL(date(-1.9), -1);
    CU_ASSERT_EQUAL(date(8.64e15), 8.64e15);
    CU_ASSERT_EQUAL(date(-8.64e15), -8.64e15);
    CU_ASSERT(isnan(date(8.64e15 + 1)));
    CU_ASSERT(isnan(date(-8.64e15 - 1)));
    CU_ASSERT(isnan(date(INFINITY)));
    CU_ASSERT(isnan(date(-INFINITY)));
    CU_ASSERT(isnan(date(NAN)));
    double z = date(-0.0);
    CU_ASSERT_EQUAL(z, 0);
    CU_ASSERT(!signbit(z)); /* TimeClip turns -0 into +0 */
    z = date(-0.5);
    CU_ASSERT(!signbit(z));
    CU_ASSERT_EQUAL(date(1700000000123.75), 1700000000123.0);
    CU_ASSERT(isnan(mp_date_value(mp_number(5))));
}

static mp_status
re(const char *flags, char out[9])
{
    mp_value r;
    mp_status st = mp_regexp_new(R, mpt_str(R, "a.b"), flags, &r);
    if (st == MP_OK) {
        CU_ASSERT_EQUAL(mp_kind_of(r), MP_REGEXP);
        mp_regexp_flags(r, out);
        CU_ASSERT(mp_string_equals_utf8(mp_regexp_source(r), "a.b", 3));
    }
    return st;
}

static void
test_regexp_flags(void)
{
    char f[9];
    CU_ASSERT_EQUAL(re("", f), MP_OK);
    CU_ASSERT_STRING_EQUAL(f, "");
    CU_ASSERT_EQUAL(re("yigm", f), MP_OK);
    CU_ASSERT_STRING_EQUAL(f, "gimy");
    CU_ASSERT_EQUAL(re("vsdygmi", f), MP_OK);
    CU_ASSERT_STRING_EQUAL(f, "dgimsyv");
    CU_ASSERT_EQUAL(re("usdygmi", f), MP_OK);
    CU_ASSERT_STRING_EQUAL(f, "dgimsuy");
    size_t before = mp_realm_get_stats(R).values;
    CU_ASSERT_EQUAL(re("gg", f), MP_EINVAL);
    CU_ASSERT_EQUAL(re("uv", f), MP_EINVAL);
    CU_ASSERT_EQUAL(re("x", f), MP_EINVAL);
    CU_ASSERT_EQUAL(re("G", f), MP_EINVAL);
    CU_ASSERT_EQUAL(re("gimg", f), MP_EINVAL);
    CU_ASSERT_EQUAL(re("l", f), MP_EINVAL);
    CU_ASSERT_EQUAL(re(" g", f), MP_EINVAL);
    /* re() makes one source string per call, but no RegExp on failure */
    CU_ASSERT_EQUAL(mp_realm_get_stats(R).values, before + 7);
    mp_value r;
    CU_ASSERT_EQUAL(mp_regexp_new(R, mp_number(1), "g", &r), MP_ETYPE);
    mp_regexp_flags(mp_null(), f);
    CU_ASSERT_STRING_EQUAL(f, "");
    CU_ASSERT_EQUAL(mp_kind_of(mp_regexp_source(mp_null())), MP_UNDEFINED);
}

static void
test_error(void)
{
    mp_value e;
    CU_ASSERT_EQUAL_FATAL(mp_error_new(R, MP_ERR_RANGE, mpt_str(R, "bad"), &e), MP_OK);
    CU_ASSERT_EQUAL(mp_kind_of(e), MP_ERROR);
    CU_ASSERT_EQUAL(mp_error_get_type(e), MP_ERR_RANGE);
    CU_ASSERT_STRING_EQUAL(mp_error_type_name(mp_error_get_type(e)), "RangeError");
    CU_ASSERT(mp_string_equals_utf8(mp_error_message(e), "bad", 3));
    CU_ASSERT_EQUAL(mp_kind_of(mp_error_stack(e)), MP_UNDEFINED);
    mp_value c = mp_null();
    CU_ASSERT_EQUAL(mp_error_cause(e, &c), MP_ENOTFOUND);
    CU_ASSERT_EQUAL(mp_kind_of(c), MP_NULL);
    /* cause undefined is a cause */
    CU_ASSERT_EQUAL(mp_error_set_cause(e, mp_undefined()), MP_OK);
    CU_ASSERT_EQUAL(mp_error_cause(e, &c), MP_OK);
    CU_ASSERT_EQUAL(mp_kind_of(c), MP_UNDEFINED);
    /* cause = the error itself */
    CU_ASSERT_EQUAL(mp_error_set_cause(e, e), MP_OK);
    CU_ASSERT_EQUAL(mp_error_cause(e, &c), MP_OK);
    CU_ASSERT(mp_same_value(c, e));
    mp_realm_collect(R, &e, 1); /* a self-cycle survives marking */
    CU_ASSERT_EQUAL(mp_error_cause(e, &c), MP_OK);
    CU_ASSERT(mp_same_value(c, e));
    CU_ASSERT(mp_string_equals_utf8(mp_error_message(e), "bad", 3));
    CU_ASSERT_EQUAL(mp_error_clear_cause(e), MP_OK);
    CU_ASSERT_EQUAL(mp_error_cause(e, &c), MP_ENOTFOUND);
    /* stack */
    CU_ASSERT_EQUAL(mp_error_set_stack(e, mpt_str(R, "at f (x.js:1:2)")), MP_OK);
    CU_ASSERT(mp_string_equals_utf8(mp_error_stack(e), "at f (x.js:1:2)", 15));
    CU_ASSERT_EQUAL(mp_error_set_stack(e, mp_number(1)), MP_ETYPE);
    CU_ASSERT(mp_string_equals_utf8(mp_error_stack(e), "at f (x.js:1:2)", 15));
    CU_ASSERT_EQUAL(mp_error_set_stack(e, mp_undefined()), MP_OK);
    CU_ASSERT_EQUAL(mp_kind_of(mp_error_stack(e)), MP_UNDEFINED);
    /* no message; every type name; bad arguments */
    mp_value plain;
    CU_ASSERT_EQUAL(mp_error_new(R, MP_ERR_ERROR, mp_undefined(), &plain), MP_OK);
    CU_ASSERT_EQUAL(mp_kind_of(mp_error_message(plain)), MP_UNDEFINED);
    const char *names[] = {"Error",       "EvalError", "RangeError", "ReferenceError",
                           "SyntaxError", "TypeError", "URIError"};
    for (int t = 0; t < MP_ERR_TYPE_COUNT_; t++) {
        CU_ASSERT_STRING_EQUAL(mp_error_type_name((mp_error_type)t), names[t]);
        CU_ASSERT_EQUAL(mp_error_new(R, (mp_error_type)t, mp_undefined(), &plain), MP_OK);
        CU_ASSERT_EQUAL(mp_error_get_type(plain), (mp_error_type)t);
    }
    CU_ASSERT_EQUAL(mp_error_new(R, MP_ERR_TYPE_COUNT_, mp_undefined(), &plain), MP_EINVAL);
    CU_ASSERT_EQUAL(mp_error_new(R, MP_ERR_TYPE, mp_number(3), &plain), MP_ETYPE);
    CU_ASSERT_EQUAL(mp_error_set_cause(mp_null(), mp_null()), MP_ETYPE);
}

static void
test_boxed(void)
{
    mp_value b;
    CU_ASSERT_EQUAL(mp_boxed_new(R, mp_boolean(true), &b), MP_OK);
    CU_ASSERT_EQUAL(mp_kind_of(b), MP_BOOLEAN_OBJECT);
    CU_ASSERT(mp_boolean_value(mp_boxed_value(b)));
    CU_ASSERT(mp_is_object(b));
    CU_ASSERT_EQUAL(mp_boxed_new(R, mp_number(-0.0), &b), MP_OK);
    CU_ASSERT_EQUAL(mp_kind_of(b), MP_NUMBER_OBJECT);
    CU_ASSERT(signbit(mp_number_value(mp_boxed_value(b))));
    CU_ASSERT_EQUAL(mp_boxed_new(R, mpt_str(R, "s"), &b), MP_OK);
    CU_ASSERT_EQUAL(mp_kind_of(b), MP_STRING_OBJECT);
    CU_ASSERT(mp_string_equals_utf8(mp_boxed_value(b), "s", 1));
    mp_value big;
    CU_ASSERT_EQUAL(mp_bigint_from_int64(R, -5, &big), MP_OK);
    CU_ASSERT_EQUAL(mp_boxed_new(R, big, &b), MP_OK);
    CU_ASSERT_EQUAL(mp_kind_of(b), MP_BIGINT_OBJECT);
    int64_t i;
    CU_ASSERT_EQUAL(mp_bigint_to_int64(mp_boxed_value(b), &i), MP_OK);
    CU_ASSERT_EQUAL(i, -5);
    mp_value o = mp_null();
    CU_ASSERT_EQUAL(mp_boxed_new(R, mp_null(), &o), MP_ETYPE);
    CU_ASSERT_EQUAL(mp_boxed_new(R, mp_undefined(), &o), MP_ETYPE);
    CU_ASSERT_EQUAL(mp_boxed_new(R, b, &o), MP_ETYPE);
    CU_ASSERT_EQUAL(mp_kind_of(o), MP_NULL);
    CU_ASSERT_EQUAL(mp_kind_of(mp_boxed_value(mp_number(1))), MP_UNDEFINED);
    /* two boxes of one value are two objects */
    mp_value b1, b2;
    CU_ASSERT_EQUAL(mp_boxed_new(R, mp_number(1), &b1), MP_OK);
    CU_ASSERT_EQUAL(mp_boxed_new(R, mp_number(1), &b2), MP_OK);
    CU_ASSERT(!mp_same_value(b1, b2));
    CU_ASSERT(mp_same_value(b1, b1));
}

static void
test_host(void)
{
    int thing = 7;
    mp_value h;
    CU_ASSERT_EQUAL(mp_host_new(R, 0xABCD, &thing, &h), MP_OK);
    CU_ASSERT_EQUAL(mp_kind_of(h), MP_HOST);
    CU_ASSERT_EQUAL(mp_host_type(h), 0xABCD);
    CU_ASSERT_PTR_EQUAL(mp_host_ptr(h), &thing);
    CU_ASSERT(mp_is_object(h));
    CU_ASSERT_PTR_EQUAL(mp_value_realm(h), R);
    CU_ASSERT_EQUAL(mp_host_type(mp_null()), 0);
    CU_ASSERT_PTR_NULL(mp_host_ptr(mp_null()));
}

static void
test_names_and_primitives(void)
{
    CU_ASSERT_STRING_EQUAL(mp_kind_name(MP_UNDEFINED), "undefined");
    CU_ASSERT_STRING_EQUAL(mp_kind_name(MP_OBJECT), "Object");
    CU_ASSERT_STRING_EQUAL(mp_kind_name(MP_ARRAY), "Array");
    CU_ASSERT_STRING_EQUAL(mp_kind_name(MP_MAP), "Map");
    CU_ASSERT_STRING_EQUAL(mp_kind_name(MP_TYPEDARRAY), "TypedArray");
    CU_ASSERT_STRING_EQUAL(mp_kind_name(MP_SHAREDARRAYBUFFER), "SharedArrayBuffer");
    CU_ASSERT_STRING_EQUAL(mp_kind_name(MP_PORT), "MessagePort");
    CU_ASSERT_STRING_EQUAL(mp_kind_name(MP_KIND_COUNT_), "unknown");
    for (int k = 0; k < MP_KIND_COUNT_; k++)
        CU_ASSERT_PTR_NOT_NULL(mp_kind_name((mp_kind)k));
    CU_ASSERT_EQUAL(mp_kind_of(mp_null()), MP_NULL);
    CU_ASSERT_EQUAL(mp_kind_of(mp_boolean(false)), MP_BOOLEAN);
    CU_ASSERT(!mp_boolean_value(mp_boolean(false)));
    CU_ASSERT(mp_boolean_value(mp_boolean(true)));
    CU_ASSERT(!mp_boolean_value(mp_number(1)));
    CU_ASSERT(isnan(mp_number_value(mp_null())));
    CU_ASSERT(signbit(mp_number_value(mp_number(-0.0))));
    CU_ASSERT_EQUAL(mp_number_value(mp_number(INFINITY)), INFINITY);
    CU_ASSERT(!mp_is_object(mp_number(1)));
    CU_ASSERT(!mp_is_object(mpt_str(R, "s")));
    CU_ASSERT_PTR_NULL(mp_value_realm(mp_null()));
    CU_ASSERT_PTR_EQUAL(mp_value_realm(mpt_str(R, "s")), R);
    /* SameValue */
    CU_ASSERT(mp_same_value(mp_undefined(), mp_undefined()));
    CU_ASSERT(!mp_same_value(mp_undefined(), mp_null()));
    CU_ASSERT(mp_same_value(mp_boolean(true), mp_boolean(true)));
    CU_ASSERT(!mp_same_value(mp_boolean(true), mp_boolean(false)));
    CU_ASSERT(mp_same_value(mp_number(NAN), mp_number(-NAN)));
    CU_ASSERT(!mp_same_value(mp_number(0.0), mp_number(-0.0)));
    CU_ASSERT(mp_same_value(mp_number(-0.0), mp_number(-0.0)));
    CU_ASSERT(mp_same_value(mp_number(1.5), mp_number(1.5)));
    CU_ASSERT(!mp_same_value(mp_number(1), mp_boolean(true)));
    CU_ASSERT(mp_same_value(mpt_str(R, "abc"), mpt_str(R, "abc")));
    CU_ASSERT(!mp_same_value(mpt_str(R, "abc"), mpt_str(R, "abd")));
    mp_value o1, o2;
    CU_ASSERT_EQUAL(mp_object_new(R, &o1), MP_OK);
    CU_ASSERT_EQUAL(mp_object_new(R, &o2), MP_OK);
    CU_ASSERT(!mp_same_value(o1, o2));
    CU_ASSERT(mp_same_value(o1, o1));
}

int
main(void)
{
    if (mp_realm_new(NULL, &R) != MP_OK) return 2;
    static const mpt_test tests[] = {
        {"Date TimeClip and NaN", test_date_timeclip},
        {"RegExp flag validation and order", test_regexp_flags},
        {"Error: type, message, stack, cause (self too)", test_error},
        {"boxed primitives", test_boxed},
        {"host objects", test_host},
        {"kind names, primitives, SameValue", test_names_and_primitives},
        {NULL, NULL},
    };
    int rc = mpt_run("kinds", tests);
    mp_realm_free(R);
    return rc;
}
