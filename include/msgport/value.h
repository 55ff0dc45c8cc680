/* msgport — realms and values.
 *
 * Included by <msgport.h>; do not include directly.
 *
 * A realm is one thread's heap of values. An mp_value is a small struct
 * passed by value: primitives (undefined, null, booleans, numbers) live in
 * it; every other kind points into the realm that made it. A value from a
 * realm stays valid until that realm is freed, or until mp_realm_collect
 * finds it unreachable from the roots it is given.
 *
 * Calls that build a value in a realm take the realm (or a value of it) and
 * return the new value through `out`; on failure `out` is not written and
 * nothing in the realm changed. Calls that store a value into a container
 * return MP_EREALM if the value belongs to another realm: the only way
 * between realms is a clone. Builders also return MP_EINVAL for a NULL
 * realm or out, and MP_ENOMEM.
 *
 * Getters that return a plain value rather than an mp_status cannot fail:
 * given a value of the wrong kind they return 0, false, NULL, NaN or
 * undefined, as each says.
 *
 * Thread safety and ownership: the defaults of <msgport.h>; every function
 * here touches only the realms of its arguments. */
#ifndef MSGPORT_VALUE_H
#define MSGPORT_VALUE_H

#include <stdio.h>

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mp_realm mp_realm;

typedef enum mp_kind {
    /* primitives: no identity */
    MP_UNDEFINED = 0,
    MP_NULL,
    MP_BOOLEAN,
    MP_NUMBER,
    MP_BIGINT,
    MP_STRING,
    /* objects: identity, so sharing and cycles are possible */
    MP_OBJECT,
    MP_ARRAY,
    MP_DATE,
    MP_REGEXP,
    MP_MAP,
    MP_SET,
    MP_ERROR,
    MP_BOOLEAN_OBJECT,
    MP_NUMBER_OBJECT,
    MP_STRING_OBJECT,
    MP_BIGINT_OBJECT,
    MP_ARRAYBUFFER,
    MP_SHAREDARRAYBUFFER,
    MP_TYPEDARRAY,
    MP_DATAVIEW,
    MP_HOST,
    MP_PORT,
    MP_KIND_COUNT_ /* not a kind */
} mp_kind;

/* The fields are private: use the functions below. Copying an mp_value
 * copies a reference, never the object. */
typedef struct mp_value {
    uint32_t kind_;
    uint32_t bits_;
    union {
        double number_;
        void *cell_;
    } u_;
} mp_value;

/* ---- realms ------------------------------------------------------------ */

/* Creates an empty realm using `alc` (NULL: libc) for every value in it.
 * The caller owns the realm and frees it with mp_realm_free. On failure
 * (MP_EINVAL for NULL out, MP_ENOMEM) *out is untouched. */
MP_API mp_status mp_realm_new(const mp_allocator *alc, mp_realm **out);

/* Frees the realm and every value in it at once, cycles included. Byte
 * stores are released (a store still referenced from elsewhere, e.g. a
 * SharedArrayBuffer handle in another realm or a message, lives on) and
 * its ports are closed. NULL is a no-op; cannot fail. No other thread may
 * use the realm meanwhile, not even to post on one of its ports. */
MP_API void mp_realm_free(mp_realm *realm);

/* Frees every value of the realm not reachable from `roots` (n values, any
 * kinds; primitives are ignored). Values that are freed must not be used
 * again; freed ports are closed. NULL realm is a no-op. Cannot fail:
 * marking uses memory reserved as the realm grows. Runs in time linear in
 * the realm's size with no recursion. Does nothing when called (from a
 * host type's hook) while the realm is being serialized or cloned: the
 * walk still uses its values. */
MP_API void mp_realm_collect(mp_realm *realm, const mp_value *roots, size_t n);

/* Small values are carved from 64 KiB chunks of the realm's allocator
 * (bump allocation: decoding is mostly that); a chunk goes back to the
 * allocator when the last value in it is freed. The realm's atoms are not
 * among the values: the first 512 distinct ASCII strings of at most 16
 * bytes that decoding, cloning or a property key (mp_object_set_utf8 and
 * the like) makes in the realm are kept until mp_realm_free, so the same
 * keys and words in later messages cost no new string (at most
 * 64 KiB per realm, counted in `reserved`). The decoder's table of the key
 * lists it has seen (about 12 KiB, made by the first decode into the
 * realm) is counted in `reserved` too. */
typedef struct mp_realm_stats {
    size_t values;   /* live objects, strings and BigInts (atoms excluded) */
    size_t bytes;    /* bytes the live values use (byte stores and atoms excluded) */
    size_t reserved; /* bytes the realm holds from its allocator: chunks, large blocks, atoms */
} mp_realm_stats;
/* Cannot fail; all zero for NULL. */
MP_API mp_realm_stats mp_realm_get_stats(const mp_realm *realm);

/* The realm a value lives in; NULL for undefined, null, booleans and numbers. */
MP_API mp_realm *mp_value_realm(mp_value v);

/* ---- any value --------------------------------------------------------- */

MP_API mp_kind mp_kind_of(mp_value v);
/* A constant name: "undefined", "Object", "TypedArray", ...; "unknown" out
 * of range (mp_view_type_name names the typed array types). */
MP_API const char *mp_kind_name(mp_kind kind);
/* True for the kinds with identity (MP_OBJECT and after). */
MP_API bool mp_is_object(mp_value v);
/* JavaScript's SameValue: identity for objects, content for strings and
 * BigInts, NaN equals NaN, -0 differs from +0. */
MP_API bool mp_same_value(mp_value a, mp_value b);

/* ---- primitives (no realm, cannot fail) -------------------------------- */

MP_API mp_value mp_undefined(void);
MP_API mp_value mp_null(void);
MP_API mp_value mp_boolean(bool b);
/* Every double is kept exactly: -0, NaN and the infinities included. */
MP_API mp_value mp_number(double d);
/* The payload of a boolean / number; false / NaN for other kinds. */
MP_API bool mp_boolean_value(mp_value v);
MP_API double mp_number_value(mp_value v);

/* ---- strings: sequences of UTF-16 code units, as in JavaScript --------- */

/* From UTF-8. MP_EINVAL if the bytes are not well-formed UTF-8 (nothing is
 * replaced silently); use mp_string_from_utf16 for lone surrogates.
 * MP_ERANGE above 2^32-1 code units. */
MP_API mp_status mp_string_from_utf8(mp_realm *realm, const char *utf8, size_t len, mp_value *out);
/* Any code units, lone surrogates included. */
MP_API mp_status mp_string_from_utf16(mp_realm *realm, const uint16_t *units, size_t len, mp_value *out);
/* Length in UTF-16 code units; 0 for non-strings. */
MP_API size_t mp_string_length(mp_value s);
/* MP_ERANGE if index >= length, MP_ETYPE if not a string. */
MP_API mp_status mp_string_code_unit(mp_value s, size_t index, uint16_t *out);
/* Copies min(cap, length) code units; returns the length. */
MP_API size_t mp_string_to_utf16(mp_value s, uint16_t *buf, size_t cap);
/* Writes UTF-8 like snprintf: at most cap-1 bytes plus a NUL when cap > 0,
 * never splitting a character; returns the full UTF-8 length (excluding the
 * NUL), so a second call with a big enough buffer gets everything. Lone
 * surrogates come out as U+FFFD (use the UTF-16 calls to see them).
 * Returns 0 for non-strings. */
MP_API size_t mp_string_to_utf8(mp_value s, char *buf, size_t cap);
/* False if the string holds a lone surrogate. */
MP_API bool mp_string_is_well_formed(mp_value s);
/* True if s is a string equal to the given well-formed UTF-8. */
MP_API bool mp_string_equals_utf8(mp_value s, const char *utf8, size_t len);

/* ---- BigInt: arbitrary size, sign + magnitude --------------------------- */

MP_API mp_status mp_bigint_from_int64(mp_realm *realm, int64_t i, mp_value *out);
MP_API mp_status mp_bigint_from_uint64(mp_realm *realm, uint64_t u, mp_value *out);
/* Magnitude as little-endian 64-bit words (leading zero words allowed). */
MP_API mp_status mp_bigint_from_words(mp_realm *realm, bool negative, const uint64_t *words, size_t count,
                                      mp_value *out);
/* Decimal text: optional '-', then one or more digits, nothing else.
 * MP_EINVAL otherwise. */
MP_API mp_status mp_bigint_from_string(mp_realm *realm, const char *text, size_t len, mp_value *out);
/* MP_ERANGE if the value does not fit. */
MP_API mp_status mp_bigint_to_int64(mp_value b, int64_t *out);
MP_API mp_status mp_bigint_to_uint64(mp_value b, uint64_t *out);
/* The magnitude's words, little-endian, no leading zero word (zero has 0
 * words). Pointers stay valid while the value does. */
MP_API mp_status mp_bigint_words(mp_value b, bool *negative, const uint64_t **words, size_t *count);
/* Decimal text like snprintf (see mp_string_to_utf8); 0 for non-BigInts,
 * and for a BigInt too large for the stack buffer whose scratch memory
 * (from the realm's allocator) cannot be had. */
MP_API size_t mp_bigint_to_string(mp_value b, char *buf, size_t cap);

/* ---- Object, and the named properties of an Array --------------------- */

/* Property order is JavaScript's: array-index keys ("0".."4294967294")
 * ascending, then the other keys in insertion order. On an Array, index
 * keys address elements and the other keys are its extra named
 * properties. The *_utf8 forms take a NUL-terminated UTF-8 key.
 * mp_object_new leaves room for the first 4 properties in the object's own
 * block (168 bytes counted in the realm's `bytes` on 64-bit targets). */
MP_API mp_status mp_object_new(mp_realm *realm, mp_value *out);
/* Adds or overwrites. MP_ETYPE if obj is not an Object/Array or key not a string.
 * Array-index keys ("0"..."4294967294") stay first, ascending, in one table
 * with the others: adding or deleting one that other keys follow moves
 * those keys, O(properties). Many integer keys added in any order (or
 * after named ones) are quadratic: use an Array or a Map for those. */
MP_API mp_status mp_object_set(mp_value obj, mp_value key, mp_value value);
MP_API mp_status mp_object_set_utf8(mp_value obj, const char *key, mp_value value);
/* MP_ENOTFOUND (out = undefined) if absent. */
MP_API mp_status mp_object_get(mp_value obj, mp_value key, mp_value *out);
MP_API mp_status mp_object_get_utf8(mp_value obj, const char *key, mp_value *out);
MP_API bool mp_object_has(mp_value obj, mp_value key);
/* MP_ENOTFOUND if absent. */
MP_API mp_status mp_object_delete(mp_value obj, mp_value key);
/* Own properties; on an Array only the named (non-index) ones. */
MP_API size_t mp_object_count(mp_value obj);
/* Iteration in property order: start with *cursor = 0; each call yields the
 * next property and returns true, or returns false at the end. On an Array
 * it yields only the named properties. Changing the object while iterating
 * is allowed for values of existing keys; adding or deleting keys restarts
 * nothing but may skip or repeat keys. */
MP_API bool mp_object_next(mp_value obj, size_t *cursor, mp_value *key, mp_value *value);

/* ---- Array -------------------------------------------------------------- */

#define MP_ARRAY_MAX_LENGTH 4294967295u
/* A new array of `length` holes (MP_ERANGE above MP_ARRAY_MAX_LENGTH).
 * Costs memory for elements actually present, not for the length. */
MP_API mp_status mp_array_new(mp_realm *realm, uint64_t length, mp_value *out);
MP_API uint32_t mp_array_length(mp_value arr);
/* Shrinking drops elements past the new length. */
MP_API mp_status mp_array_set_length(mp_value arr, uint64_t length);
/* MP_ENOTFOUND (out = undefined) for a hole or index >= length. */
MP_API mp_status mp_array_get(mp_value arr, uint32_t index, mp_value *out);
/* Grows the length to index + 1 if needed; index <= 4294967294. A sparse
 * array (see mp_array_new) keeps its elements sorted: setting a new one
 * below the highest costs O(elements), so fill sparse arrays upward. */
MP_API mp_status mp_array_set(mp_value arr, uint32_t index, mp_value value);
MP_API mp_status mp_array_push(mp_value arr, mp_value value);
/* Leaves a hole; the length is unchanged. Deleting a hole is MP_OK. */
MP_API mp_status mp_array_delete(mp_value arr, uint32_t index);
/* Present elements, in ascending index order: start with *cursor = 0. */
MP_API bool mp_array_next(mp_value arr, size_t *cursor, uint32_t *index, mp_value *value);
/* How many elements are present (not holes). */
MP_API size_t mp_array_element_count(mp_value arr);

/* ---- Date, RegExp, boxed primitives ------------------------------------- */

/* The time value is TimeClip'd as in JavaScript: NaN (an invalid date) if
 * not finite or |t| > 8.64e15, else truncated toward zero. */
MP_API mp_status mp_date_new(mp_realm *realm, double time, mp_value *out);
MP_API double mp_date_value(mp_value date);

/* source: a string value; flags: a NUL-terminated subset of "dgimsuyv" in
 * any order, each at most once, not both u and v (MP_EINVAL otherwise,
 * with no detail needed: the rule is this one). The pattern itself is kept
 * as text and not compiled. */
MP_API mp_status mp_regexp_new(mp_realm *realm, mp_value source, const char *flags, mp_value *out);
MP_API mp_value mp_regexp_source(mp_value re);
/* Canonical order ("dgimsuyv" filtered), NUL-terminated into buf[9]. */
MP_API void mp_regexp_flags(mp_value re, char buf[9]);

/* primitive: a boolean, number, string or BigInt; gives MP_BOOLEAN_OBJECT,
 * MP_NUMBER_OBJECT, MP_STRING_OBJECT or MP_BIGINT_OBJECT. */
MP_API mp_status mp_boxed_new(mp_realm *realm, mp_value primitive, mp_value *out);
MP_API mp_value mp_boxed_value(mp_value boxed);

/* ---- Error --------------------------------------------------------------- */

typedef enum mp_error_type {
    MP_ERR_ERROR = 0,
    MP_ERR_EVAL,
    MP_ERR_RANGE,
    MP_ERR_REFERENCE,
    MP_ERR_SYNTAX,
    MP_ERR_TYPE,
    MP_ERR_URI,
    MP_ERR_TYPE_COUNT_
} mp_error_type;

/* message: a string, or undefined for none. */
MP_API mp_status mp_error_new(mp_realm *realm, mp_error_type type, mp_value message, mp_value *out);
MP_API mp_error_type mp_error_get_type(mp_value err);
/* "Error", "RangeError", ... */
MP_API const char *mp_error_type_name(mp_error_type type);
/* undefined if none */
MP_API mp_value mp_error_message(mp_value err);
/* stack: a string, or undefined to remove it */
MP_API mp_status mp_error_set_stack(mp_value err, mp_value stack);
MP_API mp_value mp_error_stack(mp_value err);
/* cause: any value of the same realm (the error itself too) */
MP_API mp_status mp_error_set_cause(mp_value err, mp_value cause);
MP_API mp_status mp_error_clear_cause(mp_value err);
/* MP_ENOTFOUND if the error has no cause (distinct from cause undefined). */
MP_API mp_status mp_error_cause(mp_value err, mp_value *out);

/* ---- Map and Set: SameValueZero keys, insertion order ------------------ */

/* Keys compare as SameValueZero: NaN equals NaN, -0 is stored as +0,
 * strings and BigInts by content, objects by identity. O(1) average. */
MP_API mp_status mp_map_new(mp_realm *realm, mp_value *out);
MP_API mp_status mp_map_set(mp_value map, mp_value key, mp_value value);
MP_API mp_status mp_map_get(mp_value map, mp_value key, mp_value *out); /* MP_ENOTFOUND */
MP_API bool mp_map_has(mp_value map, mp_value key);
MP_API mp_status mp_map_delete(mp_value map, mp_value key); /* MP_ENOTFOUND */
MP_API size_t mp_map_size(mp_value map);
/* Insertion order; start with *cursor = 0 (also for mp_set_next).
 * Changing values and deleting entries during a walk are fine (a deleted
 * entry not yet reached is not visited). Unlike JavaScript, adding entries
 * during a walk may make it skip entries it has not reached (the table
 * drops its deleted entries to make room, which moves the others): add
 * after the walk. */
MP_API bool mp_map_next(mp_value map, size_t *cursor, mp_value *key, mp_value *value);

MP_API mp_status mp_set_new(mp_realm *realm, mp_value *out);
MP_API mp_status mp_set_add(mp_value set, mp_value key);
MP_API bool mp_set_has(mp_value set, mp_value key);
MP_API mp_status mp_set_delete(mp_value set, mp_value key); /* MP_ENOTFOUND */
MP_API size_t mp_set_size(mp_value set);
MP_API bool mp_set_next(mp_value set, size_t *cursor, mp_value *key);

/* ---- host objects --------------------------------------------------------- */

/* An embedder pointer with a type tag. msgport never dereferences or frees
 * the pointer: the embedder owns it and keeps it alive while the value may
 * be used. mp_host_type gives 0 and mp_host_ptr NULL for other kinds.
 * Cloning one needs a codec registered for its tag (see <msgport/codec.h>);
 * without one, cloning it is a DataCloneError. */
MP_API mp_status mp_host_new(mp_realm *realm, uint32_t type_tag, void *ptr, mp_value *out);
MP_API uint32_t mp_host_type(mp_value host);
MP_API void *mp_host_ptr(mp_value host);

/* ---- graphs ------------------------------------------------------------- */

/* True if the graphs (possibly in two realms) are the same: same kinds and
 * values (numbers by SameValue), same property / entry order, and the same
 * identity topology (shared references and cycles in the same places).
 * SharedArrayBuffers are equal when they share one store; ArrayBuffers
 * when length, resizability, detached state and bytes agree. On false, if
 * `why` is given, it says where the graphs first differ (path) and how;
 * why->code is MP_ENOMEM if the comparison ran out of memory. Runs without
 * recursion. */
MP_API bool mp_graph_equal(mp_value a, mp_value b, mp_error_info *why);

/* Renders v as JavaScript-literal-style text. An object met a second time
 * is printed as a reference to a label put on its first occurrence:
 * `<ref *1> { self: [Circular *1] }` for a cycle, `[Ref *1]` for a shared
 * (non-ancestor) reference. MP_PRINT_PRETTY indents nested containers.
 * MP_ENOMEM if the walk's own memory could not be had (partial text may
 * have been written); MP_EINVAL for a NULL stream or unknown flags (nothing
 * written) or on a write error of the stream. */
#define MP_PRINT_PRETTY 1u
MP_API mp_status mp_print(FILE *stream, mp_value v, unsigned flags);

#ifdef __cplusplus
}
#endif
#endif
