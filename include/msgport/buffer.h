/* msgport — ArrayBuffer, SharedArrayBuffer, typed arrays, DataView, Atomics.
 *
 * Included by <msgport.h>; do not include directly.
 *
 * Bytes live in backing stores outside every realm, with atomic reference
 * counts, so they can move (transfer) or be shared between threads. An
 * ArrayBuffer or SharedArrayBuffer value is a realm's handle on a store.
 * Stores of 2 MiB or more are aligned to and advised for huge pages.
 *
 * Thread safety: the default of <msgport.h>, except where a function says
 * "Thread-safe" (mp_sab_grow, the Atomics over shared memory). Builders
 * return MP_EINVAL for a NULL realm or out, MP_ENOMEM, MP_ETYPE for an
 * argument of the wrong kind; getters that return a plain value give 0,
 * false or undefined for the wrong kind. */
#ifndef MSGPORT_BUFFER_H
#define MSGPORT_BUFFER_H

#include "value.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Called once when the last reference to an external store is gone, on
 * whatever thread drops it. */
typedef void (*mp_deleter)(void *data, size_t byte_length, void *ctx);

/* ---- ArrayBuffer -------------------------------------------------------- */

/* Zero-filled. */
MP_API mp_status mp_arraybuffer_new(mp_realm *realm, size_t byte_length, mp_value *out);
/* Resizable up to max_byte_length (MP_ERANGE if byte_length > max). The
 * maximum is reserved up front, so data pointers stay put across resizes. */
MP_API mp_status mp_arraybuffer_new_resizable(mp_realm *realm, size_t byte_length, size_t max_byte_length,
                                              mp_value *out);
/* Wraps memory the caller owns. On MP_OK the buffer owns `data` and calls
 * `deleter` (may be NULL) once it is no longer referenced anywhere, on
 * whatever thread that happens; on failure (MP_EINVAL for NULL data with a
 * non-zero length, MP_ENOMEM) the caller still owns it. */
MP_API mp_status mp_arraybuffer_new_external(mp_realm *realm, void *data, size_t byte_length, mp_deleter deleter,
                                             void *deleter_ctx, mp_value *out);
/* The bytes; NULL and 0 when detached; MP_ETYPE for other kinds. The
 * pointer stays valid until the buffer is detached (transferring detaches)
 * or freed. */
MP_API mp_status mp_arraybuffer_data(mp_value ab, void **data, size_t *byte_length);
MP_API size_t mp_arraybuffer_byte_length(mp_value ab);
/* Equal to the byte length unless resizable. */
MP_API size_t mp_arraybuffer_max_byte_length(mp_value ab);
MP_API bool mp_arraybuffer_is_resizable(mp_value ab);
MP_API bool mp_arraybuffer_is_detached(mp_value ab);
/* MP_ETYPE if not resizable, MP_ERANGE above the max, MP_EDETACHED. Growing
 * zero-fills the new bytes. */
MP_API mp_status mp_arraybuffer_resize(mp_value ab, size_t new_byte_length);
/* Length becomes 0, the data is released, every view reports length 0 and
 * refuses element access. Detaching a detached buffer is MP_OK.
 * MP_ENOTDETACHABLE if marked so. */
MP_API mp_status mp_arraybuffer_detach(mp_value ab);
/* A non-detachable buffer (a pooled slab, memory the embedder pins) can be
 * copied into messages but never transferred or detached. */
MP_API mp_status mp_arraybuffer_set_detachable(mp_value ab, bool detachable);
MP_API bool mp_arraybuffer_is_detachable(mp_value ab);

/* ---- SharedArrayBuffer --------------------------------------------------- */

/* Zero-filled shared memory. */
MP_API mp_status mp_sab_new(mp_realm *realm, size_t byte_length, mp_value *out);
/* Growable up to max_byte_length (MP_ERANGE if byte_length > max), all of
 * it allocated up front; the length is an atomic in the store, so growth is
 * seen by every handle. */
MP_API mp_status mp_sab_new_growable(mp_realm *realm, size_t byte_length, size_t max_byte_length, mp_value *out);
/* A new handle in `realm` on the same shared store. Thread-safe with
 * respect to the source handle's store (not its realm). */
MP_API mp_status mp_sab_share(mp_value sab, mp_realm *realm, mp_value *out);
/* The shared bytes (MP_ETYPE for other kinds). Other threads may write
 * them at any time: use the Atomics, or synchronise otherwise. */
MP_API mp_status mp_sab_data(mp_value sab, void **data, size_t *byte_length);
MP_API size_t mp_sab_byte_length(mp_value sab);
MP_API size_t mp_sab_max_byte_length(mp_value sab);
MP_API bool mp_sab_is_growable(mp_value sab);
/* MP_ETYPE if not growable, MP_ERANGE if smaller than now or above the max.
 * Thread-safe. */
MP_API mp_status mp_sab_grow(mp_value sab, size_t new_byte_length);
/* True if both handles (any realms) share one store. */
MP_API bool mp_sab_same_store(mp_value a, mp_value b);

/* ---- typed arrays and DataView -------------------------------------------- */

typedef enum mp_view_type {
    MP_INT8 = 0,
    MP_UINT8,
    MP_UINT8_CLAMPED,
    MP_INT16,
    MP_UINT16,
    MP_INT32,
    MP_UINT32,
    MP_FLOAT32,
    MP_FLOAT64,
    MP_BIGINT64,
    MP_BIGUINT64,
    MP_VIEW_TYPE_COUNT_
} mp_view_type;

/* For length arguments: track the buffer's length (resizable or growable
 * buffers), or take the rest of a fixed buffer. */
#define MP_LENGTH_AUTO ((size_t)-1)

/* Element size in bytes; 0 for an invalid type. */
MP_API size_t mp_view_type_size(mp_view_type type);
/* "Int8Array", ...; "unknown view type" for an invalid type. */
MP_API const char *mp_view_type_name(mp_view_type type);

/* A typed array over an ArrayBuffer or SharedArrayBuffer, in its realm.
 * byte_offset must be a multiple of the element size and the view must fit
 * (MP_ERANGE); MP_EDETACHED over a detached buffer. length is in elements;
 * MP_LENGTH_AUTO tracks a resizable/growable buffer's length, or covers the
 * rest of a fixed one (whose remaining size must be a multiple of the
 * element size). */
MP_API mp_status mp_typedarray_new(mp_view_type type, mp_value buffer, size_t byte_offset, size_t length,
                                   mp_value *out);
/* A DataView; byte_length MP_LENGTH_AUTO as above. */
MP_API mp_status mp_dataview_new(mp_value buffer, size_t byte_offset, size_t byte_length, mp_value *out);

/* For typed arrays; MP_UINT8 is reported for a DataView. */
MP_API mp_view_type mp_view_type_of(mp_value view);
MP_API mp_value mp_view_buffer(mp_value view);
MP_API bool mp_view_is_length_tracking(mp_value view);
/* 0 when the buffer is detached or the view is out of bounds after a shrink. */
MP_API size_t mp_view_byte_offset(mp_value view);
MP_API size_t mp_view_byte_length(mp_value view);
/* In elements (DataView: bytes). */
MP_API size_t mp_view_length(mp_value view);
/* The viewed bytes; MP_EDETACHED / MP_ERANGE (out of bounds) otherwise. */
MP_API mp_status mp_view_data(mp_value view, void **data, size_t *byte_length);

/* Element access with JavaScript's conversions: numbers for the number
 * types (stored with ToInt8..ToUint32 wrap-around, Uint8Clamped rounding,
 * Float32 rounding), BigInts for BigInt64/BigUint64 (stored modulo 2^64).
 * MP_ETYPE for a value of the wrong kind, MP_ERANGE past the length,
 * MP_EDETACHED over a detached buffer. A BigInt result is allocated in the
 * view's realm (MP_ENOMEM possible). Plain element access is not atomic. */
MP_API mp_status mp_view_get(mp_value view, size_t index, mp_value *out);
MP_API mp_status mp_view_set(mp_value view, size_t index, mp_value value);

/* DataView access at a byte offset, either endianness; errors as above,
 * and MP_EINVAL for MP_UINT8_CLAMPED or an invalid type. */
MP_API mp_status mp_dataview_get(mp_value dv, mp_view_type type, size_t byte_offset, bool little_endian,
                                 mp_value *out);
MP_API mp_status mp_dataview_set(mp_value dv, mp_view_type type, size_t byte_offset, mp_value value,
                                 bool little_endian);

/* ---- Atomics -------------------------------------------------------------- */

/* On integer typed arrays (Int8..Uint32, BigInt64, BigUint64; not floats,
 * not Uint8Clamped: MP_ETYPE), over shared or unshared buffers; all
 * sequentially consistent, and thread-safe over a SharedArrayBuffer (each
 * thread using its own handle and view in its own realm). Results are what
 * JavaScript returns: store gives its argument as ToIntegerOrInfinity (or
 * the BigInt); the others give the old element value. */
typedef enum mp_atomic_op {
    MP_ATOMIC_ADD = 0,
    MP_ATOMIC_SUB,
    MP_ATOMIC_AND,
    MP_ATOMIC_OR,
    MP_ATOMIC_XOR,
    MP_ATOMIC_EXCHANGE
} mp_atomic_op;

MP_API mp_status mp_atomics_load(mp_value view, size_t index, mp_value *out);
MP_API mp_status mp_atomics_store(mp_value view, size_t index, mp_value value, mp_value *out);
MP_API mp_status mp_atomics_rmw(mp_value view, size_t index, mp_atomic_op op, mp_value value, mp_value *old);
MP_API mp_status mp_atomics_compare_exchange(mp_value view, size_t index, mp_value expected, mp_value replacement,
                                             mp_value *old);

typedef enum mp_wait_result {
    MP_WAIT_OK = 0,     /* woken by a notify */
    MP_WAIT_NOT_EQUAL,  /* the element did not hold `expected` */
    MP_WAIT_TIMED_OUT
} mp_wait_result;

/* Atomics.wait on an Int32Array or BigInt64Array over a SharedArrayBuffer
 * (MP_ETYPE otherwise). timeout_ms: NaN or +Infinity waits forever, negative
 * means 0. Measured on a monotonic clock; a spurious wake-up is never
 * reported as MP_WAIT_OK. Blocks the calling thread. MP_EINVAL for NULL
 * result; MP_ENOMEM if the wait queue could not be allocated. */
MP_API mp_status mp_atomics_wait(mp_value view, size_t index, mp_value expected, double timeout_ms,
                                 mp_wait_result *result);
/* Wakes up to `count` waiters on that element (UINT32_MAX: all), oldest
 * first; *woken gets how many. 0 over an unshared buffer. */
MP_API mp_status mp_atomics_notify(mp_value view, size_t index, uint32_t count, uint32_t *woken);

#ifdef __cplusplus
}
#endif
#endif
