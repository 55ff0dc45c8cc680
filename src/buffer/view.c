/* Typed arrays and DataView: handles that consult their buffer's state on
 * every access, so detach and resize are seen at once. */
#include "buffer_internal.h"

const uint8_t mpi_view_type_sizes[MP_VIEW_TYPE_COUNT_] = {
    [MP_INT8] = 1,   [MP_UINT8] = 1,   [MP_UINT8_CLAMPED] = 1, [MP_INT16] = 2,    [MP_UINT16] = 2,    [MP_INT32] = 4,
    [MP_UINT32] = 4, [MP_FLOAT32] = 4, [MP_FLOAT64] = 8,       [MP_BIGINT64] = 8, [MP_BIGUINT64] = 8,
};

static const char *const view_type_names[MP_VIEW_TYPE_COUNT_] = {
    [MP_INT8] = "Int8Array",         [MP_UINT8] = "Uint8Array",         [MP_UINT8_CLAMPED] = "Uint8ClampedArray",
    [MP_INT16] = "Int16Array",       [MP_UINT16] = "Uint16Array",       [MP_INT32] = "Int32Array",
    [MP_UINT32] = "Uint32Array",     [MP_FLOAT32] = "Float32Array",     [MP_FLOAT64] = "Float64Array",
    [MP_BIGINT64] = "BigInt64Array", [MP_BIGUINT64] = "BigUint64Array",
};

size_t
mp_view_type_size(mp_view_type type)
{
    return mpi_view_type_valid(type) ? mpi_view_type_sizes[type] : 0;
}

const char *
mp_view_type_name(mp_view_type type)
{
    return mpi_view_type_valid(type) ? view_type_names[type] : "unknown view type";
}

/* ---- conversions ------------------------------------------------------- */

uint64_t
mpi_double_to_uint64_mod(double d)
{
    /* Straight from the bits: exact for every double, no libm, no
     * out-of-range float-to-integer conversion. */
    uint64_t bits;
    memcpy(&bits, &d, sizeof bits);
    int exp = (int)((bits >> 52) & 0x7ff);
    if (exp == 0x7ff || exp < 1023) return 0; /* NaN, infinities, |d| < 1 */
    uint64_t mant = (bits & ((UINT64_C(1) << 52) - 1)) | (UINT64_C(1) << 52);
    int shift = exp - 1075; /* |d| = mant * 2^shift */
    uint64_t mag;
    if (shift >= 64)
        mag = 0;
    else if (shift >= 0)
        mag = mant << shift;
    else
        mag = mant >> -shift;
    return (bits >> 63) ? (uint64_t)0 - mag : mag;
}

double
mpi_double_to_integer(double d)
{
    if (d != d) return 0.0;
    /* 2^52 and above (and the infinities) are already integers. */
    if (d >= 4503599627370496.0 || d <= -4503599627370496.0) return d;
    double t = (double)(int64_t)d;
    return t == 0.0 ? 0.0 : t; /* folds -0 */
}

static uint8_t
to_uint8_clamp(double d)
{
    if (!(d > 0.0)) return 0; /* NaN, -0, negatives */
    if (d >= 255.0) return 255;
    uint8_t f = (uint8_t)d; /* floor, as d > 0 */
    double frac = d - (double)f;
    if (frac < 0.5) return f;
    if (frac > 0.5) return (uint8_t)(f + 1);
    return (f & 1) ? (uint8_t)(f + 1) : f; /* ties to even */
}

mp_status
mpi_element_encode(mp_view_type t, mp_value value, uint64_t *raw)
{
    if (mpi_view_type_is_bigint(t)) {
        bool neg;
        const uint64_t *words;
        size_t count;
        if (mp_kind_of(value) != MP_BIGINT || mp_bigint_words(value, &neg, &words, &count) != MP_OK) return MP_ETYPE;
        uint64_t w0 = count ? words[0] : 0;
        *raw = neg ? (uint64_t)0 - w0 : w0; /* modulo 2^64 */
        return MP_OK;
    }
    if (mp_kind_of(value) != MP_NUMBER) return MP_ETYPE;
    double d = mp_number_value(value);
    switch (t) {
    case MP_INT8:
    case MP_UINT8:
        *raw = mpi_double_to_uint64_mod(d) & 0xffu;
        break;
    case MP_UINT8_CLAMPED:
        *raw = to_uint8_clamp(d);
        break;
    case MP_INT16:
    case MP_UINT16:
        *raw = mpi_double_to_uint64_mod(d) & 0xffffu;
        break;
    case MP_INT32:
    case MP_UINT32:
        *raw = mpi_double_to_uint64_mod(d) & 0xffffffffu;
        break;
    case MP_FLOAT32: {
        float f = (float)d; /* round to nearest even; overflow gives ±Inf */
        uint32_t b;
        memcpy(&b, &f, sizeof b);
        *raw = b;
        break;
    }
    case MP_FLOAT64: {
        uint64_t b;
        memcpy(&b, &d, sizeof b);
        *raw = b;
        break;
    }
    default:
        return MP_EINVAL;
    }
    return MP_OK;
}

mp_status
mpi_element_decode(mp_realm *realm, mp_view_type t, uint64_t raw, mp_value *out)
{
    double d;
    switch (t) {
    case MP_INT8:
        d = (int8_t)(uint8_t)raw;
        break;
    case MP_UINT8:
    case MP_UINT8_CLAMPED:
        d = (uint8_t)raw;
        break;
    case MP_INT16:
        d = (int16_t)(uint16_t)raw;
        break;
    case MP_UINT16:
        d = (uint16_t)raw;
        break;
    case MP_INT32:
        d = (int32_t)(uint32_t)raw;
        break;
    case MP_UINT32:
        d = (uint32_t)raw;
        break;
    case MP_FLOAT32: {
        uint32_t b = (uint32_t)raw;
        float f;
        memcpy(&f, &b, sizeof f);
        d = f;
        break;
    }
    case MP_FLOAT64:
        memcpy(&d, &raw, sizeof d);
        break;
    case MP_BIGINT64:
        return mp_bigint_from_int64(realm, (int64_t)raw, out);
    case MP_BIGUINT64:
        return mp_bigint_from_uint64(realm, raw, out);
    default:
        return MP_EINVAL;
    }
    *out = mp_number(d);
    return MP_OK;
}

/* ---- raw element memory ------------------------------------------------ */

uint64_t
mpi_bytes_load(const uint8_t *p, size_t n, bool shared)
{
    uint8_t tmp[8];
    if (shared) {
        /* Aligned: one relaxed access, so no tearing within an element. */
        uint8_t *q = (uint8_t *)(uintptr_t)p;
        if (((uintptr_t)p & (n - 1)) == 0) {
            switch (n) {
            case 1:
                return atomic_load_explicit((_Atomic uint8_t *)q, memory_order_relaxed);
            case 2:
                return atomic_load_explicit((_Atomic uint16_t *)(void *)q, memory_order_relaxed);
            case 4:
                return atomic_load_explicit((_Atomic uint32_t *)(void *)q, memory_order_relaxed);
            default:
                return atomic_load_explicit((_Atomic uint64_t *)(void *)q, memory_order_relaxed);
            }
        }
        for (size_t i = 0; i < n; i++)
            tmp[i] = atomic_load_explicit((_Atomic uint8_t *)(q + i), memory_order_relaxed);
    } else {
        memcpy(tmp, p, n);
    }
    switch (n) {
    case 1:
        return tmp[0];
    case 2: {
        uint16_t x;
        memcpy(&x, tmp, 2);
        return x;
    }
    case 4: {
        uint32_t x;
        memcpy(&x, tmp, 4);
        return x;
    }
    default: {
        uint64_t x;
        memcpy(&x, tmp, 8);
        return x;
    }
    }
}

void
mpi_bytes_store(uint8_t *p, size_t n, uint64_t raw, bool shared)
{
    uint8_t tmp[8];
    uint8_t b1 = (uint8_t)raw;
    uint16_t b2 = (uint16_t)raw;
    uint32_t b4 = (uint32_t)raw;
    switch (n) {
    case 1:
        tmp[0] = b1;
        break;
    case 2:
        memcpy(tmp, &b2, 2);
        break;
    case 4:
        memcpy(tmp, &b4, 4);
        break;
    default:
        memcpy(tmp, &raw, 8);
        break;
    }
    if (!shared) {
        memcpy(p, tmp, n);
        return;
    }
    if (((uintptr_t)p & (n - 1)) == 0) {
        switch (n) {
        case 1:
            atomic_store_explicit((_Atomic uint8_t *)p, b1, memory_order_relaxed);
            return;
        case 2:
            atomic_store_explicit((_Atomic uint16_t *)(void *)p, b2, memory_order_relaxed);
            return;
        case 4:
            atomic_store_explicit((_Atomic uint32_t *)(void *)p, b4, memory_order_relaxed);
            return;
        default:
            atomic_store_explicit((_Atomic uint64_t *)(void *)p, raw, memory_order_relaxed);
            return;
        }
    }
    for (size_t i = 0; i < n; i++)
        atomic_store_explicit((_Atomic uint8_t *)(p + i), tmp[i], memory_order_relaxed);
}

/* ---- views --------------------------------------------------------------- */

static mpi_view *
view_of(mp_value v)
{
    return mpi_is_view_kind(v.kind_) ? (mpi_view *)v.u_.cell_ : NULL;
}

static mpi_view *
typedarray_of(mp_value v)
{
    return v.kind_ == MP_TYPEDARRAY ? (mpi_view *)v.u_.cell_ : NULL;
}

static inline mp_view_type
view_type(const mpi_view *v)
{
    return (mp_view_type)v->h.aux;
}

/* A DataView's aux is MP_UINT8, so its element size is 1 byte. */
static inline size_t
view_esize(const mpi_view *v)
{
    return mpi_view_type_sizes[view_type(v)];
}

static bool
buffer_detached(const mpi_cell *b)
{
    return b->kind == MP_ARRAYBUFFER && ((const mpi_arraybuffer *)b)->store == NULL;
}

mp_status
mpi_view_resolve(const mpi_view *v, uint8_t **base, size_t *byte_length)
{
    if (buffer_detached(v->buffer)) return MP_EDETACHED;
    size_t buf_len;
    uint8_t *data = mpi_buffer_bytes(v->buffer, &buf_len);
    size_t es = view_esize(v);
    size_t len;
    if (v->byte_offset > buf_len) return MP_ERANGE;
    if (v->h.flags & MPI_VIEW_LENGTH_TRACKING) {
        len = (buf_len - v->byte_offset) / es * es;
    } else {
        len = v->length * es; /* cannot overflow: checked at creation */
        if (len > buf_len - v->byte_offset) return MP_ERANGE;
    }
    *base = data ? data + v->byte_offset : NULL;
    *byte_length = len;
    return MP_OK;
}

uint8_t *
mpi_view_bytes(const mpi_view *v, size_t *byte_length)
{
    uint8_t *base = NULL;
    size_t len = 0;
    if (mpi_view_resolve(v, &base, &len) != MP_OK) {
        base = NULL;
        len = 0;
    }
    if (byte_length) *byte_length = len;
    return base;
}

static mp_status
view_new(mp_kind kind, mp_view_type type, mp_value buffer, size_t byte_offset, size_t length, mp_value *out)
{
    if (!out) return MP_EINVAL;
    if (!mpi_is_buffer_kind(buffer.kind_)) return MP_ETYPE;
    mpi_cell *b = buffer.u_.cell_;
    if (buffer_detached(b)) return MP_EDETACHED;
    size_t es = mpi_view_type_sizes[type];
    size_t buf_len;
    (void)mpi_buffer_bytes(b, &buf_len);
    if (byte_offset % es != 0 || byte_offset > buf_len) return MP_ERANGE;
    bool tracking = false;
    if (length == MP_LENGTH_AUTO) {
        if (mpi_buffer_is_elastic(b)) {
            tracking = true;
            length = 0;
        } else {
            size_t rest = buf_len - byte_offset;
            if (rest % es != 0) return MP_ERANGE;
            length = rest / es;
        }
    } else if (length > (buf_len - byte_offset) / es) {
        return MP_ERANGE;
    }
    mpi_view *v = (mpi_view *)mpi_cell_new(b->realm, kind, sizeof *v);
    if (!v) return MP_ENOMEM;
    v->h.aux = (uint32_t)type;
    if (tracking) v->h.flags |= MPI_VIEW_LENGTH_TRACKING;
    v->buffer = b;
    v->byte_offset = byte_offset;
    v->length = length;
    *out = mpi_value_cell(kind, v);
    return MP_OK;
}

mp_status
mp_typedarray_new(mp_view_type type, mp_value buffer, size_t byte_offset, size_t length, mp_value *out)
{
    if (!mpi_view_type_valid(type)) return MP_EINVAL;
    return view_new(MP_TYPEDARRAY, type, buffer, byte_offset, length, out);
}

mp_status
mp_dataview_new(mp_value buffer, size_t byte_offset, size_t byte_length, mp_value *out)
{
    return view_new(MP_DATAVIEW, MP_UINT8, buffer, byte_offset, byte_length, out);
}

mp_view_type
mp_view_type_of(mp_value view)
{
    mpi_view *v = view_of(view);
    return v ? view_type(v) : MP_VIEW_TYPE_COUNT_;
}

mp_value
mp_view_buffer(mp_value view)
{
    mpi_view *v = view_of(view);
    if (!v) return mp_undefined();
    return mpi_value_cell((mp_kind)v->buffer->kind, v->buffer);
}

bool
mp_view_is_length_tracking(mp_value view)
{
    mpi_view *v = view_of(view);
    return v && (v->h.flags & MPI_VIEW_LENGTH_TRACKING);
}

size_t
mp_view_byte_offset(mp_value view)
{
    mpi_view *v = view_of(view);
    uint8_t *base;
    size_t len;
    if (!v || mpi_view_resolve(v, &base, &len) != MP_OK) return 0;
    return v->byte_offset;
}

size_t
mp_view_byte_length(mp_value view)
{
    mpi_view *v = view_of(view);
    size_t len = 0;
    if (v) (void)mpi_view_bytes(v, &len);
    return len;
}

size_t
mp_view_length(mp_value view)
{
    mpi_view *v = view_of(view);
    size_t len = 0;
    if (!v) return 0;
    (void)mpi_view_bytes(v, &len);
    return len / view_esize(v);
}

mp_status
mp_view_data(mp_value view, void **data, size_t *byte_length)
{
    mpi_view *v = view_of(view);
    if (!v) return MP_ETYPE;
    uint8_t *base;
    size_t len;
    mp_status st = mpi_view_resolve(v, &base, &len);
    if (st != MP_OK) return st;
    if (data) *data = base;
    if (byte_length) *byte_length = len;
    return MP_OK;
}

mp_status
mp_view_get(mp_value view, size_t index, mp_value *out)
{
    mpi_view *v = typedarray_of(view);
    if (!v) return MP_ETYPE;
    if (!out) return MP_EINVAL;
    uint8_t *base;
    size_t len;
    mp_status st = mpi_view_resolve(v, &base, &len);
    if (st != MP_OK) return st;
    size_t es = view_esize(v);
    if (index >= len / es) return MP_ERANGE;
    uint64_t raw = mpi_bytes_load(base + index * es, es, mpi_buffer_is_shared(v->buffer));
    return mpi_element_decode(v->h.realm, view_type(v), raw, out);
}

mp_status
mp_view_set(mp_value view, size_t index, mp_value value)
{
    mpi_view *v = typedarray_of(view);
    if (!v) return MP_ETYPE;
    uint64_t raw;
    mp_status st = mpi_element_encode(view_type(v), value, &raw);
    if (st != MP_OK) return st;
    uint8_t *base;
    size_t len;
    st = mpi_view_resolve(v, &base, &len);
    if (st != MP_OK) return st;
    size_t es = view_esize(v);
    if (index >= len / es) return MP_ERANGE;
    mpi_bytes_store(base + index * es, es, raw, mpi_buffer_is_shared(v->buffer));
    return MP_OK;
}

/* ---- DataView ------------------------------------------------------------- */

static bool
host_little_endian(void)
{
#if defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__)
    return __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__;
#else
    const uint16_t one = 1;
    uint8_t b;
    memcpy(&b, &one, 1);
    return b == 1;
#endif
}

static uint64_t
byte_swap(uint64_t x, size_t n)
{
    uint64_t r = 0;
    for (size_t i = 0; i < n; i++) {
        r = (r << 8) | (x & 0xffu);
        x >>= 8;
    }
    return r;
}

/* The DataView's bytes at [byte_offset, byte_offset + size of t). */
static mp_status
dataview_locate(mp_value dv, mp_view_type type, size_t byte_offset, mpi_view **vout, uint8_t **p)
{
    mpi_view *v = dv.kind_ == MP_DATAVIEW ? (mpi_view *)dv.u_.cell_ : NULL;
    if (!v) return MP_ETYPE;
    /* DataView has no Uint8Clamped accessor. */
    if (!mpi_view_type_valid(type) || type == MP_UINT8_CLAMPED) return MP_EINVAL;
    uint8_t *base;
    size_t len;
    mp_status st = mpi_view_resolve(v, &base, &len);
    if (st != MP_OK) return st;
    size_t es = mpi_view_type_sizes[type];
    if (byte_offset > len || es > len - byte_offset) return MP_ERANGE;
    *vout = v;
    *p = base + byte_offset;
    return MP_OK;
}

mp_status
mp_dataview_get(mp_value dv, mp_view_type type, size_t byte_offset, bool little_endian, mp_value *out)
{
    mpi_view *v;
    uint8_t *p;
    mp_status st = dataview_locate(dv, type, byte_offset, &v, &p);
    if (st != MP_OK) return st;
    if (!out) return MP_EINVAL;
    size_t es = mpi_view_type_sizes[type];
    uint64_t raw = mpi_bytes_load(p, es, mpi_buffer_is_shared(v->buffer));
    if (little_endian != host_little_endian()) raw = byte_swap(raw, es);
    return mpi_element_decode(v->h.realm, type, raw, out);
}

mp_status
mp_dataview_set(mp_value dv, mp_view_type type, size_t byte_offset, mp_value value, bool little_endian)
{
    if (dv.kind_ != MP_DATAVIEW) return MP_ETYPE;
    if (!mpi_view_type_valid(type) || type == MP_UINT8_CLAMPED) return MP_EINVAL;
    uint64_t raw;
    mp_status st = mpi_element_encode(type, value, &raw);
    if (st != MP_OK) return st;
    mpi_view *v;
    uint8_t *p;
    st = dataview_locate(dv, type, byte_offset, &v, &p);
    if (st != MP_OK) return st;
    size_t es = mpi_view_type_sizes[type];
    if (little_endian != host_little_endian()) raw = byte_swap(raw, es);
    mpi_bytes_store(p, es, raw, mpi_buffer_is_shared(v->buffer));
    return MP_OK;
}
