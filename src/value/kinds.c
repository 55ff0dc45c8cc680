/* Primitives, kind names, and the small object kinds: Date, RegExp, Error,
 * boxed primitives, host objects. */
#include <math.h>

#include "value_internal.h"

/* ---- primitives ------------------------------------------------------------ */

mp_value
mp_undefined(void)
{
    mp_value v;
    v.kind_ = MP_UNDEFINED;
    v.bits_ = 0;
    v.u_.cell_ = NULL;
    return v;
}

mp_value
mp_null(void)
{
    mp_value v = mp_undefined();
    v.kind_ = MP_NULL;
    return v;
}

mp_value
mp_boolean(bool b)
{
    mp_value v = mp_undefined();
    v.kind_ = MP_BOOLEAN;
    v.bits_ = b ? 1u : 0u;
    return v;
}

mp_value
mp_number(double d)
{
    mp_value v;
    v.kind_ = MP_NUMBER;
    v.bits_ = 0;
    v.u_.number_ = d;
    return v;
}

bool
mp_boolean_value(mp_value v)
{
    return v.kind_ == MP_BOOLEAN && v.bits_ != 0;
}

double
mp_number_value(mp_value v)
{
    return v.kind_ == MP_NUMBER ? v.u_.number_ : NAN;
}

mp_kind
mp_kind_of(mp_value v)
{
    /* Internal tags (holes, deleted entries) never reach users; map any
     * stray one to undefined rather than an out-of-range enum. */
    return v.kind_ < MP_KIND_COUNT_ ? (mp_kind)v.kind_ : MP_UNDEFINED;
}

bool
mp_is_object(mp_value v)
{
    return v.kind_ >= MP_OBJECT && v.kind_ < MP_KIND_COUNT_;
}

static const char *const kind_names[MP_KIND_COUNT_] = {
    [MP_UNDEFINED] = "undefined",
    [MP_NULL] = "null",
    [MP_BOOLEAN] = "boolean",
    [MP_NUMBER] = "number",
    [MP_BIGINT] = "bigint",
    [MP_STRING] = "string",
    [MP_OBJECT] = "Object",
    [MP_ARRAY] = "Array",
    [MP_DATE] = "Date",
    [MP_REGEXP] = "RegExp",
    [MP_MAP] = "Map",
    [MP_SET] = "Set",
    [MP_ERROR] = "Error",
    [MP_BOOLEAN_OBJECT] = "Boolean",
    [MP_NUMBER_OBJECT] = "Number",
    [MP_STRING_OBJECT] = "String",
    [MP_BIGINT_OBJECT] = "BigInt",
    [MP_ARRAYBUFFER] = "ArrayBuffer",
    [MP_SHAREDARRAYBUFFER] = "SharedArrayBuffer",
    [MP_TYPEDARRAY] = "TypedArray",
    [MP_DATAVIEW] = "DataView",
    [MP_HOST] = "HostObject",
    [MP_PORT] = "MessagePort",
};

const char *
mp_kind_name(mp_kind kind)
{
    if ((unsigned)kind >= MP_KIND_COUNT_) return "unknown";
    return kind_names[kind];
}

/* ---- Date ------------------------------------------------------------------ */

mp_status
mp_date_new(mp_realm *realm, double time, mp_value *out)
{
    if (!realm || !out) return MP_EINVAL;
    mpi_date *d = (mpi_date *)mpi_cell_new(realm, MP_DATE, sizeof(mpi_date));
    if (!d) return MP_ENOMEM;
    /* TimeClip: ToIntegerOrInfinity maps -0 to +0, hence the + 0.0. */
    /* |time| <= 8.64e15 < 2^63, so the int64 cast truncates exactly (and
     * keeps libm out of the library). NaN fails both comparisons. */
    if (!(time >= -8.64e15 && time <= 8.64e15))
        d->time = NAN;
    else
        d->time = (double)(int64_t)time + 0.0;
    *out = mpi_value_cell(MP_DATE, d);
    return MP_OK;
}

double
mp_date_value(mp_value date)
{
    mpi_date *d = mpi_cell_if(date, MP_DATE);
    return d ? d->time : NAN;
}

/* ---- RegExp ------------------------------------------------------------------ */

static const char regexp_flag_chars[] = "dgimsuyv";

mp_status
mp_regexp_new(mp_realm *realm, mp_value source, const char *flags, mp_value *out)
{
    if (!realm || !out) return MP_EINVAL;
    if (source.kind_ != MP_STRING) return MP_ETYPE;
    if (mpi_check_realm(realm, source)) return MP_EREALM;
    uint32_t bits = 0;
    for (const char *f = flags ? flags : ""; *f; f++) {
        const char *at = strchr(regexp_flag_chars, *f);
        if (!at) return MP_EINVAL;
        uint32_t bit = 1u << (at - regexp_flag_chars);
        if (bits & bit) return MP_EINVAL;
        bits |= bit;
    }
    const uint32_t u = 1u << 5, v = 1u << 7;
    if ((bits & u) && (bits & v)) return MP_EINVAL;
    mpi_regexp *re = (mpi_regexp *)mpi_cell_new(realm, MP_REGEXP, sizeof(mpi_regexp));
    if (!re) return MP_ENOMEM;
    re->h.aux = bits;
    re->source = source.u_.cell_;
    *out = mpi_value_cell(MP_REGEXP, re);
    return MP_OK;
}

mp_value
mp_regexp_source(mp_value re)
{
    mpi_regexp *x = mpi_cell_if(re, MP_REGEXP);
    return x ? mpi_string_value(x->source) : mp_undefined();
}

void
mp_regexp_flags(mp_value re, char buf[9])
{
    mpi_regexp *x = mpi_cell_if(re, MP_REGEXP);
    size_t n = 0;
    if (x)
        for (int i = 0; i < 8; i++)
            if (x->h.aux & (1u << i)) buf[n++] = regexp_flag_chars[i];
    buf[n] = '\0';
}

/* ---- boxed primitives -------------------------------------------------------- */

mp_status
mp_boxed_new(mp_realm *realm, mp_value primitive, mp_value *out)
{
    if (!realm || !out) return MP_EINVAL;
    mp_kind kind;
    switch (primitive.kind_) {
    case MP_BOOLEAN:
        kind = MP_BOOLEAN_OBJECT;
        break;
    case MP_NUMBER:
        kind = MP_NUMBER_OBJECT;
        break;
    case MP_STRING:
        kind = MP_STRING_OBJECT;
        break;
    case MP_BIGINT:
        kind = MP_BIGINT_OBJECT;
        break;
    default:
        return MP_ETYPE;
    }
    if (mpi_check_realm(realm, primitive)) return MP_EREALM;
    mpi_boxed *b = (mpi_boxed *)mpi_cell_new(realm, kind, sizeof(mpi_boxed));
    if (!b) return MP_ENOMEM;
    b->value = primitive;
    *out = mpi_value_cell(kind, b);
    return MP_OK;
}

mp_value
mp_boxed_value(mp_value boxed)
{
    switch (boxed.kind_) {
    case MP_BOOLEAN_OBJECT:
    case MP_NUMBER_OBJECT:
    case MP_STRING_OBJECT:
    case MP_BIGINT_OBJECT:
        return ((mpi_boxed *)boxed.u_.cell_)->value;
    default:
        return mp_undefined();
    }
}

/* ---- Error ------------------------------------------------------------------- */

static const char *const error_names[MP_ERR_TYPE_COUNT_] = {
    [MP_ERR_ERROR] = "Error",        [MP_ERR_EVAL] = "EvalError",
    [MP_ERR_RANGE] = "RangeError",   [MP_ERR_REFERENCE] = "ReferenceError",
    [MP_ERR_SYNTAX] = "SyntaxError", [MP_ERR_TYPE] = "TypeError",
    [MP_ERR_URI] = "URIError",
};

const char *
mp_error_type_name(mp_error_type type)
{
    if ((unsigned)type >= MP_ERR_TYPE_COUNT_) return "Error";
    return error_names[type];
}

/* A string cell, NULL for undefined; MP_ETYPE / MP_EREALM otherwise. */
static mp_status
optional_string(mp_realm *r, mp_value v, mpi_string **out)
{
    if (v.kind_ == MP_UNDEFINED) {
        *out = NULL;
        return MP_OK;
    }
    if (v.kind_ != MP_STRING) return MP_ETYPE;
    if (mpi_check_realm(r, v)) return MP_EREALM;
    *out = v.u_.cell_;
    return MP_OK;
}

mp_status
mp_error_new(mp_realm *realm, mp_error_type type, mp_value message, mp_value *out)
{
    if (!realm || !out || (unsigned)type >= MP_ERR_TYPE_COUNT_) return MP_EINVAL;
    mpi_string *msg;
    mp_status st = optional_string(realm, message, &msg);
    if (st != MP_OK) return st;
    mpi_error *e = (mpi_error *)mpi_cell_new(realm, MP_ERROR, sizeof(mpi_error));
    if (!e) return MP_ENOMEM;
    e->h.aux = (uint32_t)type;
    e->message = msg;
    e->cause = mp_undefined();
    *out = mpi_value_cell(MP_ERROR, e);
    return MP_OK;
}

mp_error_type
mp_error_get_type(mp_value err)
{
    mpi_error *e = mpi_cell_if(err, MP_ERROR);
    return e ? (mp_error_type)e->h.aux : MP_ERR_ERROR;
}

mp_value
mp_error_message(mp_value err)
{
    mpi_error *e = mpi_cell_if(err, MP_ERROR);
    return (e && e->message) ? mpi_string_value(e->message) : mp_undefined();
}

mp_status
mp_error_set_stack(mp_value err, mp_value stack)
{
    mpi_error *e = mpi_cell_if(err, MP_ERROR);
    if (!e) return MP_ETYPE;
    mpi_string *s;
    mp_status st = optional_string(e->h.realm, stack, &s);
    if (st != MP_OK) return st;
    e->stack = s;
    return MP_OK;
}

mp_value
mp_error_stack(mp_value err)
{
    mpi_error *e = mpi_cell_if(err, MP_ERROR);
    return (e && e->stack) ? mpi_string_value(e->stack) : mp_undefined();
}

mp_status
mp_error_set_cause(mp_value err, mp_value cause)
{
    mpi_error *e = mpi_cell_if(err, MP_ERROR);
    if (!e) return MP_ETYPE;
    if (cause.kind_ >= MP_KIND_COUNT_) return MP_EINVAL;
    if (mpi_check_realm(e->h.realm, cause)) return MP_EREALM;
    e->cause = cause;
    e->h.flags |= MPI_ERROR_HAS_CAUSE;
    return MP_OK;
}

mp_status
mp_error_clear_cause(mp_value err)
{
    mpi_error *e = mpi_cell_if(err, MP_ERROR);
    if (!e) return MP_ETYPE;
    e->cause = mp_undefined();
    e->h.flags &= (uint16_t)~MPI_ERROR_HAS_CAUSE;
    return MP_OK;
}

mp_status
mp_error_cause(mp_value err, mp_value *out)
{
    mpi_error *e = mpi_cell_if(err, MP_ERROR);
    if (!e) return MP_ETYPE;
    if (!(e->h.flags & MPI_ERROR_HAS_CAUSE)) return MP_ENOTFOUND;
    if (out) *out = e->cause;
    return MP_OK;
}

/* ---- host objects -------------------------------------------------------------- */

mp_status
mp_host_new(mp_realm *realm, uint32_t type_tag, void *ptr, mp_value *out)
{
    if (!realm || !out) return MP_EINVAL;
    mpi_host *h = (mpi_host *)mpi_cell_new(realm, MP_HOST, sizeof(mpi_host));
    if (!h) return MP_ENOMEM;
    h->h.aux = type_tag;
    h->ptr = ptr;
    *out = mpi_value_cell(MP_HOST, h);
    return MP_OK;
}

uint32_t
mp_host_type(mp_value host)
{
    mpi_host *h = mpi_cell_if(host, MP_HOST);
    return h ? h->h.aux : 0;
}

void *
mp_host_ptr(mp_value host)
{
    mpi_host *h = mpi_cell_if(host, MP_HOST);
    return h ? h->ptr : NULL;
}
