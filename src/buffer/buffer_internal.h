/* Private to src/buffer/: element encoding, view resolution, waiter table.
 * Other layers use src/internal.h only. */
#ifndef MSGPORT_BUFFER_INTERNAL_H
#define MSGPORT_BUFFER_INTERNAL_H

#include "../internal.h"

/* Element sizes indexed by mp_view_type. */
extern const uint8_t mpi_view_type_sizes[MP_VIEW_TYPE_COUNT_];

static inline bool
mpi_view_type_valid(mp_view_type t)
{
    return (unsigned)t < (unsigned)MP_VIEW_TYPE_COUNT_;
}

static inline bool
mpi_view_type_is_bigint(mp_view_type t)
{
    return t == MP_BIGINT64 || t == MP_BIGUINT64;
}

static inline bool
mpi_is_buffer_kind(uint32_t kind)
{
    return kind == MP_ARRAYBUFFER || kind == MP_SHAREDARRAYBUFFER;
}

static inline bool
mpi_is_view_kind(uint32_t kind)
{
    return kind == MP_TYPEDARRAY || kind == MP_DATAVIEW;
}

/* Resizable ArrayBuffer or growable SharedArrayBuffer. */
bool mpi_buffer_is_elastic(const mpi_cell *buffer);

/* The view's visible bytes now. MP_EDETACHED over a detached buffer,
 * MP_ERANGE when out of bounds after a shrink. Outputs untouched on error. */
mp_status mpi_view_resolve(const mpi_view *v, uint8_t **base, size_t *byte_length);

/* JavaScript's ToBigInt64/ToUint32-style wrap: a double truncated toward
 * zero and reduced modulo 2^64 (NaN and the infinities give 0). */
uint64_t mpi_double_to_uint64_mod(double d);
/* ToIntegerOrInfinity, with -0 folded to +0. */
double mpi_double_to_integer(double d);

/* value -> element bits (low bytes significant) for type t. MP_ETYPE if
 * value is a number for a BigInt type or the reverse. */
mp_status mpi_element_encode(mp_view_type t, mp_value value, uint64_t *raw);
/* Element bits -> a number, or a BigInt allocated in realm. */
mp_status mpi_element_decode(mp_realm *realm, mp_view_type t, uint64_t raw, mp_value *out);

/* Host-order load/store of n (1, 2, 4, 8) bytes at p, any alignment, as an
 * unsigned number. shared: the memory may be accessed by other threads at
 * once (a SharedArrayBuffer): use relaxed atomics, which is what
 * JavaScript's unordered accesses are, so no C data race arises. */
uint64_t mpi_bytes_load(const uint8_t *p, size_t n, bool shared);
void mpi_bytes_store(uint8_t *p, size_t n, uint64_t raw, bool shared);

static inline bool
mpi_buffer_is_shared(const mpi_cell *buffer)
{
    return buffer->kind == MP_SHAREDARRAYBUFFER;
}

/* Frees a shared store's waiter table (no waiters can be left). */
void mpi_waiters_free(mpi_store *s);
/* How many threads wait on addr now (takes the store's wait_lock). For
 * tests that must know a waiter is queued before notifying. */
size_t mpi_wait_queue_length(mpi_store *s, const void *addr);

#endif
