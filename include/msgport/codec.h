/* msgport — structured clone: messages, transfer, sharing, host objects.
 *
 * Included by <msgport.h>; do not include directly.
 *
 * mp_serialize turns a value graph into an mp_message: msgpack bytes (the
 * wire format is codec/FORMAT.md) plus side tables for what never travels
 * as bytes: the backing stores of transferred ArrayBuffers, references to
 * SharedArrayBuffer stores, transferred ports and host-object payloads.
 * mp_deserialize makes a graph in another realm from a message; mp_clone
 * does both at once, straight from graph to graph, with the same
 * semantics.
 *
 * Semantics are those of the HTML standard's StructuredSerializeWithTransfer
 * and StructuredDeserializeWithTransfer as Node.js implements them, with
 * msgport's decisions: the transfer list is validated before anything is
 * encoded, and the commit (detaching transferred buffers and moving their
 * stores) happens only after the whole graph was encoded and cannot fail,
 * so a failed call detaches nothing.
 *
 * Thread safety (the library default): the realms and values passed in are
 * used by the calling thread only. An mp_message belongs to no realm: it
 * may be handed to another thread and decoded or freed there, but one
 * message is used by one thread at a time. */
#ifndef MSGPORT_CODEC_H
#define MSGPORT_CODEC_H

#include "buffer.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The wire-format version written in every message header. */
#define MP_FORMAT_VERSION 1u

typedef struct mp_message mp_message;

/* ---- messages -------------------------------------------------------------- */

/* Frees a message and everything it owns: the bytes, transferred stores
 * (freed when their last reference goes), SharedArrayBuffer references and
 * host payloads (through the host type's free_payload) and carried ports
 * (closed, so their peers see close). NULL is a no-op. Cannot fail. The
 * block of a message made with the default allocator is kept for the next
 * messages (at most 64 per thread and 4,096 shared; given back at thread
 * exit and unload): docs/guide.md, "Message memory". */
MP_API void mp_message_free(mp_message *msg);

/* A message holding a copy of `len` bytes and no side tables: for
 * persistence, transports and fuzzing. The bytes are not checked here;
 * mp_deserialize checks them. alc (NULL: libc) serves the message. On
 * failure (MP_EINVAL for NULL out, or NULL bytes with len > 0; MP_ENOMEM)
 * *out is untouched. On MP_OK the caller owns *out. */
MP_API mp_status mp_message_from_bytes(const void *bytes, size_t len, const mp_allocator *alc, mp_message **out);

/* The encoded bytes, owned by the message and valid until it is freed,
 * deserialized or posted. Cannot fail; a NULL message gives NULL and 0. */
MP_API void mp_message_bytes(const mp_message *msg, const void **bytes, size_t *len);

/* How many side-table entries a message carries (for tests, tools and
 * transports that must refuse messages with attachments). Cannot fail;
 * all zero for NULL. */
typedef struct mp_message_info {
    size_t moved_stores;  /* transferred ArrayBuffer stores */
    size_t shared_stores; /* SharedArrayBuffer references */
    size_t host_payloads; /* host-object payloads */
    size_t ports;         /* transferred MessagePorts */
} mp_message_info;
MP_API mp_message_info mp_message_get_info(const mp_message *msg);

/* ---- encode ---------------------------------------------------------------- */

/* Serializes v, transferring the ArrayBuffers, MessagePorts and
 * transferable host objects listed in transfer[0..n_transfer) (NULL with
 * n_transfer > 0 is MP_EINVAL).
 *
 * Order, as in Node: (1) the transfer list is validated, entry by entry in
 * list order — each entry must be a detachable, not detached ArrayBuffer,
 * an open port not yet transferred (nor a broadcast channel's), or a host
 * object whose type has a transfer hook, each listed once; the
 * DataCloneError texts are Node's ("Found invalid value in
 * transferList.", "Transfer list contains duplicate ArrayBuffer", "An
 * ArrayBuffer is detached and could not be cloned.", "ArrayBuffer is not
 * detachable and could not be cloned.", "A SharedArrayBuffer could not be
 * cloned. SharedArrayBuffer must not be transferred.", "MessagePort in
 * transfer list is already detached"); (2) the graph is encoded without
 * recursion, so any depth works on any thread stack; (3) only then, a
 * commit that cannot fail detaches each listed ArrayBuffer and moves its
 * store into the message (no copy: the receiver sees the same data
 * pointer), ships each listed port (its handle reports MP_ECLOSED from then
 * on) and calls each listed host object's transfer hook.
 *
 * Every value reachable from v and every transfer entry must belong to one
 * realm (MP_EREALM otherwise). Host objects are written with the hooks
 * registered in that realm; a host object of an unregistered type, a
 * MessagePort or a detached ArrayBuffer that is not in the transfer list,
 * an out-of-bounds view, or a buffer, string or BigInt of 4 GiB or more is
 * MP_EDATACLONE ("Object that needs transfer was found in message but not
 * listed in transferList" for the port), with err->path naming where it
 * was met (e.g. "root.items[3].handle") and err->detail saying what; a
 * failing host write hook's status is returned the same way. The list's
 * entries are reported as "transfer[i]".
 *
 * On MP_OK *out owns a new message (free it with mp_message_free, or give
 * it to mp_deserialize). The message allocates through a copy of the
 * source realm's allocator (libc when v and the list have no realm), which
 * must therefore outlive it, as for byte stores. On failure nothing was
 * detached or changed, and *out is untouched; err (optional) says why. */
MP_API mp_status mp_serialize(mp_value v, const mp_value *transfer, size_t n_transfer, mp_message **out,
                              mp_error_info *err);

/* ---- decode ---------------------------------------------------------------- */

/* Bounds for decoding untrusted bytes. Whatever the limits, the decoder
 * returns for any input, uses a constant amount of C stack, and allocates
 * at most 400 bytes per input byte + 128 KiB (each 1-byte msgpack
 * container becomes a value cell, a work-stack frame and an id slot), plus
 * what max_reserve allows (codec/FORMAT.md section 5 derives the bound).
 * Bound total memory with max_bytes and max_reserve. */
typedef struct mp_decode_limits {
    size_t max_depth;         /* open containers at once */
    size_t max_bytes;         /* size of the encoded message */
    size_t max_objects;       /* values with identity (objects, arrays, buffers, ...) */
    size_t max_string_length; /* bytes of one encoded string (UTF-8, or UTF-16 payload) */
    size_t max_buffer_length; /* byte length (and maximum, if resizable) of one copied ArrayBuffer */
    size_t max_reserve;       /* bytes the resizable ArrayBuffers of one message may
                               * reserve, all together, beyond the bytes the
                               * message carries for them: the only allocation
                               * not paid for by input bytes */
} mp_decode_limits;

/* Defaults: depth 10,000,000, bytes, objects, string and buffer lengths
 * unlimited beyond what the input itself bounds, reserve 64 MiB. Cannot
 * fail. Thread-safe. */
MP_API mp_decode_limits mp_decode_limits_default(void);

/* Builds the message's value in `realm` and returns it in *out.
 *
 * Always takes ownership of msg and frees it, on success and on failure
 * (one rule: the message cannot be decoded twice or leak). Transferred
 * stores are adopted by new ArrayBuffers in `realm` without a copy (stores
 * the value never mentions are released); SharedArrayBuffers become new
 * handles on the same shared stores; carried ports become port handles in
 * `realm`; host objects are rebuilt by the hooks registered in `realm`
 * (MP_EDATACLONE if the type is not registered there; a failing read
 * hook's status is returned). A NULL msg is MP_EINVAL (nothing to free);
 * a NULL realm or out is MP_EINVAL and msg is freed.
 *
 * limits: NULL means mp_decode_limits_default(). Errors: MP_EDECODE for
 * malformed bytes, MP_ELIMIT for an exceeded limit (err->detail names it),
 * MP_EVERSION for an unknown format version, MP_ENOMEM; err->offset holds
 * the byte offset where the problem was found.
 *
 * On failure *out is untouched and the values already made in `realm` are
 * freed again: the realm holds what it held before. */
MP_API mp_status mp_deserialize(mp_message *msg, mp_realm *realm, const mp_decode_limits *limits, mp_value *out,
                                mp_error_info *err);

/* ---- direct clone ---------------------------------------------------------- */

/* structuredClone without bytes: the same semantics as mp_serialize +
 * mp_deserialize (validation, identity, transfer, sharing, host objects,
 * DataCloneErrors), copying straight from v's realm into `target` (which
 * may be the same realm). Both realms must be usable by the calling thread.
 * A host object needs its type registered in both realms (write hook from
 * v's realm, read hook from target's). MP_EINVAL for NULL target or out.
 *
 * On MP_OK *out is the clone, owned by `target`, and each listed
 * ArrayBuffer is detached, its store adopted by the clone's buffer (or
 * released if the value never mentions it); listed ports move to `target`
 * (or close, if never mentioned); listed host objects are transferred
 * (read into `target` only where the value mentions them). On failure
 * nothing is detached, *out is untouched, and values already made in
 * `target` are freed again. */
MP_API mp_status mp_clone(mp_value v, mp_realm *target, const mp_value *transfer, size_t n_transfer, mp_value *out,
                          mp_error_info *err);

/* ---- host objects ---------------------------------------------------------- */

/* How a realm clones the host objects (mp_host_new) of one type tag. The
 * hooks run on the thread doing the clone and must not touch the realm
 * they are given except through msgport calls that allocate new values.
 *
 * write:    host pointer -> a payload the message will own. `transferring`
 *           is true when the host object is in the transfer list. Returning
 *           anything but MP_OK fails the whole serialize with that status
 *           (MP_EDATACLONE with a detail naming the path if the hook returns
 *           MP_EDATACLONE).
 * read:     payload -> a new host pointer for the target realm. The payload
 *           stays owned by the message (take its contents if you want to
 *           move them); an error fails the deserialize. Called only for
 *           host objects the value mentions: a listed one it never
 *           mentions is written and transferred, its payload freed unread
 *           (mp_deserialize and mp_clone alike).
 * free_payload: releases a payload; called exactly once per written payload
 *           when the message is freed, decoded or abandoned (may run on any
 *           thread, after the registering realm is gone). May be NULL.
 * transfer: NULL if the type is not transferable. Otherwise called once
 *           per listed host object at the commit, after everything else
 *           succeeded; it cannot fail (detach the sender's object here). */
typedef struct mp_host_type_hooks {
    mp_status (*write)(void *ctx, void *host_ptr, bool transferring, void **payload);
    mp_status (*read)(void *ctx, mp_realm *realm, void *payload, void **host_ptr);
    void (*free_payload)(void *ctx, void *payload);
    void (*transfer)(void *ctx, void *host_ptr, void *payload);
} mp_host_type_hooks;

/* Registers (or replaces) the hooks for `type_tag` in `realm`; the hooks
 * are copied, ctx is kept and must outlive every message made with it.
 * write and read must be non-NULL (MP_EINVAL). MP_ENOMEM leaves the
 * registry as it was. */
MP_API mp_status mp_realm_register_host_type(mp_realm *realm, uint32_t type_tag, const mp_host_type_hooks *hooks,
                                             void *ctx);

#ifdef __cplusplus
}
#endif
#endif
