/* Atomics on integer typed arrays: seq_cst C11 atomics on the element
 * memory itself, so they interoperate with other threads' Atomics calls on
 * the same SharedArrayBuffer through their own handles. */
#include "buffer_internal.h"

/* The element an Atomics call works on. */
typedef struct atomic_target {
    mpi_view *view;
    mp_view_type type;
    size_t size;
    uint8_t *p;
    bool aligned; /* false only inside unaligned external (unshared) memory */
} atomic_target;

static bool
integer_type(mp_view_type t)
{
    switch (t) {
    case MP_INT8:
    case MP_UINT8:
    case MP_INT16:
    case MP_UINT16:
    case MP_INT32:
    case MP_UINT32:
    case MP_BIGINT64:
    case MP_BIGUINT64:
        return true;
    default:
        return false;
    }
}

static mp_status
locate(mp_value view, size_t index, atomic_target *t)
{
    if (view.kind_ != MP_TYPEDARRAY) return MP_ETYPE;
    mpi_view *v = view.u_.cell_;
    mp_view_type type = (mp_view_type)v->h.aux;
    if (!integer_type(type)) return MP_ETYPE;
    uint8_t *base;
    size_t len;
    mp_status st = mpi_view_resolve(v, &base, &len);
    if (st != MP_OK) return st;
    size_t es = mpi_view_type_sizes[type];
    if (index >= len / es) return MP_ERANGE;
    t->view = v;
    t->type = type;
    t->size = es;
    t->p = base + index * es;
    /* Stores we allocate are at least 16-aligned and views are aligned to
     * their element size; only caller memory can be otherwise, and that is
     * never shared, so plain accesses are correct there. */
    t->aligned = ((uintptr_t)t->p & (es - 1)) == 0;
    return MP_OK;
}

static bool
signed_type(mp_view_type t)
{
    return t == MP_INT8 || t == MP_INT16 || t == MP_INT32 || t == MP_BIGINT64;
}

static uint64_t
width_mask(size_t n)
{
    return n == 8 ? UINT64_MAX : ((UINT64_C(1) << (8 * n)) - 1);
}

static uint64_t
compute(mp_atomic_op op, uint64_t old, uint64_t operand)
{
    switch (op) {
    case MP_ATOMIC_ADD:
        return old + operand;
    case MP_ATOMIC_SUB:
        return old - operand;
    case MP_ATOMIC_AND:
        return old & operand;
    case MP_ATOMIC_OR:
        return old | operand;
    case MP_ATOMIC_XOR:
        return old ^ operand;
    default:
        return operand; /* exchange */
    }
}

/* ---- width dispatch ------------------------------------------------------ */

#define MPI_ATOMIC_PTR(T, p) ((_Atomic T *)(void *)(p))

static uint64_t
raw_load(const atomic_target *t)
{
    if (!t->aligned) return mpi_bytes_load(t->p, t->size, false);
    switch (t->size) {
    case 1:
        return atomic_load(MPI_ATOMIC_PTR(uint8_t, t->p));
    case 2:
        return atomic_load(MPI_ATOMIC_PTR(uint16_t, t->p));
    case 4:
        return atomic_load(MPI_ATOMIC_PTR(uint32_t, t->p));
    default:
        return atomic_load(MPI_ATOMIC_PTR(uint64_t, t->p));
    }
}

static void
raw_store(const atomic_target *t, uint64_t v)
{
    if (!t->aligned) {
        mpi_bytes_store(t->p, t->size, v, false);
        return;
    }
    switch (t->size) {
    case 1:
        atomic_store(MPI_ATOMIC_PTR(uint8_t, t->p), (uint8_t)v);
        break;
    case 2:
        atomic_store(MPI_ATOMIC_PTR(uint16_t, t->p), (uint16_t)v);
        break;
    case 4:
        atomic_store(MPI_ATOMIC_PTR(uint32_t, t->p), (uint32_t)v);
        break;
    default:
        atomic_store(MPI_ATOMIC_PTR(uint64_t, t->p), v);
        break;
    }
}

#define MPI_RMW_CASE(T)                                                                                                \
    do {                                                                                                               \
        _Atomic T *a = MPI_ATOMIC_PTR(T, t->p);                                                                        \
        T x = (T)operand;                                                                                              \
        switch (op) {                                                                                                  \
        case MP_ATOMIC_ADD:                                                                                            \
            return atomic_fetch_add(a, x);                                                                             \
        case MP_ATOMIC_SUB:                                                                                            \
            return atomic_fetch_sub(a, x);                                                                             \
        case MP_ATOMIC_AND:                                                                                            \
            return atomic_fetch_and(a, x);                                                                             \
        case MP_ATOMIC_OR:                                                                                             \
            return atomic_fetch_or(a, x);                                                                              \
        case MP_ATOMIC_XOR:                                                                                            \
            return atomic_fetch_xor(a, x);                                                                             \
        default:                                                                                                       \
            return atomic_exchange(a, x);                                                                              \
        }                                                                                                              \
    } while (0)

/* Returns the old element bits. */
static uint64_t
raw_rmw(const atomic_target *t, mp_atomic_op op, uint64_t operand)
{
    if (!t->aligned) {
        uint64_t old = mpi_bytes_load(t->p, t->size, false);
        mpi_bytes_store(t->p, t->size, compute(op, old, operand) & width_mask(t->size), false);
        return old;
    }
    switch (t->size) {
    case 1:
        MPI_RMW_CASE(uint8_t);
    case 2:
        MPI_RMW_CASE(uint16_t);
    case 4:
        MPI_RMW_CASE(uint32_t);
    default:
        MPI_RMW_CASE(uint64_t);
    }
}

#define MPI_CAS_CASE(T)                                                                                                \
    do {                                                                                                               \
        T e = (T)*expected;                                                                                            \
        bool ok = atomic_compare_exchange_strong(MPI_ATOMIC_PTR(T, t->p), &e, (T)desired);                             \
        *expected = e;                                                                                                 \
        return ok;                                                                                                     \
    } while (0)

/* On failure *expected gets the element's bits. */
static bool
raw_cas(const atomic_target *t, uint64_t *expected, uint64_t desired)
{
    if (!t->aligned) {
        uint64_t old = mpi_bytes_load(t->p, t->size, false);
        if (old != *expected) {
            *expected = old;
            return false;
        }
        mpi_bytes_store(t->p, t->size, desired, false);
        return true;
    }
    switch (t->size) {
    case 1:
        MPI_CAS_CASE(uint8_t);
    case 2:
        MPI_CAS_CASE(uint16_t);
    case 4:
        MPI_CAS_CASE(uint32_t);
    default:
        MPI_CAS_CASE(uint64_t);
    }
}

/* ---- BigInt results ---------------------------------------------------------
 *
 * A BigInt result needs an allocation, which may fail; the element must
 * then be unchanged. So BigInt views allocate the result for the value
 * they expect to replace first, and commit with a CAS: a failed CAS leaves
 * the element as it was and the result is reused or remade. */

/* Rewrites b (made by this file, seen by no one) to hold raw if that keeps
 * its word count (and so its size); false if it must be remade. */
static bool
bigint_refill(mp_value b, bool is_signed, uint64_t raw)
{
    mpi_bigint *c = b.u_.cell_;
    bool neg = is_signed && (int64_t)raw < 0;
    uint64_t mag = neg ? (uint64_t)0 - raw : raw;
    if (mag == 0) return c->count == 0;
    if (c->count != 1) return false;
    c->words[0] = mag;
    if (neg)
        c->h.flags |= 1u;
    else
        c->h.flags &= (uint16_t)~1u;
    return true;
}

static mp_status
bigint_result(const atomic_target *t, uint64_t raw, mp_value *res, bool have)
{
    if (have && bigint_refill(*res, signed_type(t->type), raw)) return MP_OK;
    return mpi_element_decode(t->view->h.realm, t->type, raw, res);
}

/* ---- the calls ------------------------------------------------------------ */

mp_status
mp_atomics_load(mp_value view, size_t index, mp_value *out)
{
    atomic_target t;
    mp_status st = locate(view, index, &t);
    if (st != MP_OK) return st;
    if (!out) return MP_EINVAL;
    return mpi_element_decode(t.view->h.realm, t.type, raw_load(&t), out);
}

mp_status
mp_atomics_store(mp_value view, size_t index, mp_value value, mp_value *out)
{
    atomic_target t;
    mp_status st = locate(view, index, &t);
    if (st != MP_OK) return st;
    uint64_t raw;
    st = mpi_element_encode(t.type, value, &raw);
    if (st != MP_OK) return st;
    raw_store(&t, raw);
    if (out) {
        /* JavaScript returns the argument as ToIntegerOrInfinity (or the
         * BigInt itself), not the wrapped element. */
        *out = mpi_view_type_is_bigint(t.type) ? value : mp_number(mpi_double_to_integer(mp_number_value(value)));
    }
    return MP_OK;
}

mp_status
mp_atomics_rmw(mp_value view, size_t index, mp_atomic_op op, mp_value value, mp_value *old)
{
    atomic_target t;
    mp_status st = locate(view, index, &t);
    if (st != MP_OK) return st;
    if ((unsigned)op > (unsigned)MP_ATOMIC_EXCHANGE) return MP_EINVAL;
    uint64_t operand;
    st = mpi_element_encode(t.type, value, &operand);
    if (st != MP_OK) return st;
    if (!mpi_view_type_is_bigint(t.type)) {
        uint64_t prev = raw_rmw(&t, op, operand) & width_mask(t.size);
        mp_value res;
        (void)mpi_element_decode(NULL, t.type, prev, &res); /* a number: cannot fail */
        if (old) *old = res;
        return MP_OK;
    }
    uint64_t cur = raw_load(&t);
    mp_value res;
    st = bigint_result(&t, cur, &res, false);
    if (st != MP_OK) return st;
    while (!raw_cas(&t, &cur, compute(op, cur, operand))) {
        st = bigint_result(&t, cur, &res, true);
        if (st != MP_OK) return st;
    }
    if (old) *old = res;
    return MP_OK;
}

mp_status
mp_atomics_compare_exchange(mp_value view, size_t index, mp_value expected, mp_value replacement, mp_value *old)
{
    atomic_target t;
    mp_status st = locate(view, index, &t);
    if (st != MP_OK) return st;
    uint64_t exp, repl;
    st = mpi_element_encode(t.type, expected, &exp);
    if (st == MP_OK) st = mpi_element_encode(t.type, replacement, &repl);
    if (st != MP_OK) return st;
    mp_value res;
    if (!mpi_view_type_is_bigint(t.type)) {
        uint64_t seen = exp;
        (void)raw_cas(&t, &seen, repl);
        (void)mpi_element_decode(NULL, t.type, seen, &res);
        if (old) *old = res;
        return MP_OK;
    }
    /* Result first, then the swap: a mismatch is a plain seq_cst read. */
    uint64_t cur = raw_load(&t);
    st = bigint_result(&t, cur, &res, false);
    if (st != MP_OK) return st;
    while (cur == exp && !raw_cas(&t, &cur, repl)) {
        st = bigint_result(&t, cur, &res, true);
        if (st != MP_OK) return st;
    }
    if (old) *old = res;
    return MP_OK;
}
