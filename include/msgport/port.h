/* msgport — MessageChannel ports and named broadcast channels.
 *
 * Included by <msgport.h>; do not include directly.
 *
 * A port is a value of kind MP_PORT in a realm: a handle on a port *core*
 * that lives outside every realm (its queue, its lock, its wake-up). Ports
 * are entangled in sibling groups: a MessageChannel is a group of two, a
 * named broadcast channel a process-wide group of any size. Posting
 * dispatches to every sibling but the source; each receiving port has its
 * own FIFO queue.
 *
 * THREAD SAFETY. Posting (mp_port_post, mp_port_post_message) is safe from
 * any thread, on any port, concurrently, provided the values posted belong
 * to a realm the calling thread may use (a primitive belongs to none) and
 * the port's handle is not being freed meanwhile (its realm freed or the
 * handle collected). Everything else follows the library default: a port
 * handle is used by the thread that owns its realm. As an exception,
 * mp_port_close on another thread wakes a receiver blocked in
 * mp_port_receive on that port, which then returns MP_ECLOSED.
 *
 * ORDERING. FIFO per (source port, receiving port). Messages from two
 * sources may interleave in any order; so may one broadcast as seen by two
 * receivers.
 *
 * CLOSE. mp_port_close is idempotent. Closing one port of a MessageChannel
 * queues a close event behind every message already posted to its peer:
 * the peer receives them all, then MP_ECLOSED once the close event is
 * reached, and MP_ECLOSED from then on. Messages still unread in the queue
 * of the port being closed are released with everything they own
 * (transferred stores freed, SharedArrayBuffer references dropped). A
 * broadcast channel never propagates close. Freeing a port handle (its
 * realm freed, or mp_realm_collect finding it unreachable) closes it, as a
 * garbage-collected entangled port does in Node.
 *
 * POST OWNERSHIP (nng's rule). A post that returns MP_OK has handed the
 * message, and every store it transfers, to the receivers. A post that
 * fails has detached nothing and, for mp_port_post_message, left the
 * message with the caller.
 *
 * MEMORY. A port's core and queue segments come from its realm's allocator
 * and may be freed on another thread after that realm is gone (the rule
 * for byte stores, see mp_allocator). Named broadcast groups use libc.
 *
 * TRANSFER. A port listed in a message's transfer list moves with the
 * message: the sender's handle is detached (MP_ECLOSED from then on), and
 * messages posted to the port while it is in flight stay in its queue and
 * reach the new owner in posting order. Transferring the source port, a
 * port of the same channel, a closed port (also one that has received its
 * close event: mp_port_is_closed), an already shipped port or a broadcast
 * channel's port is MP_EDATACLONE with nothing detached; a message that
 * carries a port and is never read closes that port (its peer sees close),
 * and so on down any chain of ports carried in each other's queues. Two
 * ports carried in each other's queues (a cycle no handle reaches) are
 * never closed: keep them out of such loops. The port's fd and
 * callback do not move: the new owner sets its own.
 *
 * WAKE-UPS. A receiver is woken only when it sleeps (blocked in
 * mp_port_receive) or has an eventfd (mp_port_fd), and only when its queue
 * goes from empty to non-empty: wake-ups coalesce, and posting to a port
 * whose owner is awake costs no system call. */
#ifndef MSGPORT_PORT_H
#define MSGPORT_PORT_H

#include "codec.h"

#ifdef __cplusplus
extern "C" {
#endif

/* For timeouts: wait as long as it takes. */
#define MP_PORT_FOREVER ((int64_t)-1)

/* ---- channels and broadcast -------------------------------------------------- */

/* A MessageChannel: two entangled ports, port1 made in realm1 and port2 in
 * realm2 (NULL: realm1), so each end can belong to a different thread's
 * realm. Both realms must be usable by the calling thread during the call.
 * On failure (MP_EINVAL, MP_ENOMEM, MP_ETHREAD) nothing was made and the
 * outputs are untouched. */
MP_API mp_status mp_channel_new(mp_realm *realm1, mp_realm *realm2, mp_value *port1, mp_value *port2);

/* Opens a port in `realm` on the process-wide broadcast channel `name`
 * (a NUL-terminated string; channels are equal when their names are equal
 * bytes). A post on it reaches every other port open on that name, in any
 * thread, never the sender; a transfer list is refused (MP_EDATACLONE).
 * Closing it removes it from the channel and tells no one. On failure
 * nothing was made and *out is untouched (MP_EINVAL for NULL arguments,
 * MP_ENOMEM, MP_ETHREAD). Thread-safe with respect to other opens and
 * closes of the same name. */
MP_API mp_status mp_broadcast_open(mp_realm *realm, const char *name, mp_value *out);

/* ---- sending ------------------------------------------------------------------ */

/* Clones `value` with the transfer list transfer[0..n) (see mp_serialize)
 * and queues it on every sibling of `port` but `port` itself.
 *
 * Returns MP_OK when the message was queued for at least one sibling.
 * MP_ECLOSED: `port` is closed (or was transferred); MP_ENOPEER: no
 * sibling is left (a channel whose peer closed, a broadcast channel with
 * no other member); in both cases nothing was serialized or detached.
 * MP_ETYPE if `port` is not a port. MP_EDATACLONE if the transfer list
 * holds `port` itself ("Transfer list contains source port") or the other
 * port of its channel ("Transfer list contains the target port"). Any
 * transfer list on a broadcast channel is MP_EDATACLONE ("Transferables
 * cannot be used with multiple destinations."); a message carrying
 * host-object payloads cannot be broadcast to more than one sibling either
 * (MP_EDATACLONE). Serialization errors are those of mp_serialize. On any
 * failure nothing was detached and err (optional) says why.
 *
 * Thread-safe (see the file comment). */
MP_API mp_status mp_port_post(mp_value port, mp_value value, const mp_value *transfer, size_t n,
                              mp_error_info *err);

/* Queues an already-encoded message (from mp_serialize, another port's
 * mp_port_receive_message, or mp_message_from_bytes) on every sibling of
 * `port` but `port` itself, without decoding it: how a router forwards.
 * On MP_OK the ports own msg; on failure the caller still owns it and
 * nothing was queued. Errors as mp_port_post (without details), and
 * MP_EINVAL for NULL msg. On a broadcast channel a message carrying
 * transferred stores or ports is refused, and one carrying host payloads
 * cannot go to more than one sibling (MP_EDATACLONE). Thread-safe. */
MP_API mp_status mp_port_post_message(mp_value port, mp_message *msg);

/* ---- receiving ----------------------------------------------------------------- */

/* Takes the next message of `port` and decodes it into `realm` (NULL: the
 * port's own realm), waiting up to timeout_ms milliseconds on a monotonic
 * clock (MP_PORT_FOREVER, or any negative value: no limit; 0: do not wait,
 * MP_EAGAIN when empty). If a spin count is set (mp_port_set_spin) the call
 * first polls that many times before it sleeps.
 *
 * MP_OK: *out holds the message's value.
 * MP_EMESSAGE: the next message could not be decoded (the standard's
 *   messageerror); it was consumed and freed with everything it carried
 *   (ports it carried are closed), err holds the decoder's offset and
 *   detail (err->detail starts with the decoder's status text), and the
 *   port stays usable. Running out of memory while decoding is reported
 *   this way too (detail "out of memory..."): the message is lost.
 * MP_ECLOSED: the peer's close event was reached (every message posted
 *   before the close was received first), or this port was closed;
 *   every later call returns MP_ECLOSED too.
 * MP_ETIMEDOUT: nothing arrived in time (timeout_ms > 0). MP_EAGAIN:
 *   nothing waits (timeout_ms 0). MP_ETYPE: not a port. MP_EINVAL: NULL out.
 * On MP_OK the value belongs to `realm`. On anything but MP_OK *out is
 * untouched. */
MP_API mp_status mp_port_receive(mp_value port, mp_realm *realm, int64_t timeout_ms, mp_value *out,
                                 mp_error_info *err);

/* receiveMessageOnPort: mp_port_receive with timeout 0; MP_EAGAIN when no
 * message (and no close event) waits. */
MP_API mp_status mp_port_try_receive(mp_value port, mp_realm *realm, mp_value *out, mp_error_info *err);

/* Takes the next message without decoding it (for routers and
 * transports): on MP_OK the caller owns *out (mp_message_free it, post it
 * with mp_port_post_message, or mp_deserialize it). Waits, and returns
 * MP_EAGAIN, MP_ETIMEDOUT and MP_ECLOSED, as mp_port_receive; MP_ETYPE for
 * a non-port, MP_EINVAL for NULL out. */
MP_API mp_status mp_port_receive_message(mp_value port, int64_t timeout_ms, mp_message **out);

/* How many messages (and close events) wait in the queue. A snapshot:
 * thread-safe, may be stale on return. 0 for non-ports and for a handle
 * that was closed or transferred away. */
MP_API size_t mp_port_pending(mp_value port);

/* ---- event loops ---------------------------------------------------------------- */

/* A file descriptor (an eventfd, non-blocking, close-on-exec) that polls
 * readable while the port has messages or a close event waiting, and from
 * then on once the close event was received or the port closed (so a
 * loop always comes back to see MP_ECLOSED, then drops the fd). For
 * poll/epoll (level-triggered)/libuv/actor loops. Created on the first
 * call and owned by the port: do not read, write or close it; it is
 * closed when the port is freed or transferred, so take it out of your
 * poller before either. Receiving drains it when the queue empties. Only
 * the empty -> non-empty transition writes to it. MP_ETHREAD if the
 * eventfd cannot be created, MP_ECLOSED on a closed port, MP_ETYPE for a
 * non-port, MP_EINVAL for NULL fd. */
MP_API mp_status mp_port_fd(mp_value port, int *fd);

/* Called by mp_port_dispatch, on the thread that calls it, once per
 * message: status MP_OK with the value (in the port's realm), MP_EMESSAGE
 * with err set for a message that could not be decoded, and MP_ECLOSED
 * exactly once, with value undefined, when the close event is reached. */
typedef void (*mp_port_callback)(void *ctx, mp_value port, mp_status status, mp_value value,
                                 const mp_error_info *err);

/* Sets (fn non-NULL) or clears the callback of a port. MP_ECLOSED for a
 * handle that was closed or transferred away (the callback never moves
 * with a port); MP_ETYPE for a non-port. */
MP_API mp_status mp_port_set_callback(mp_value port, mp_port_callback fn, void *ctx);

/* Runs the callback for at most max_batch waiting messages (0: 1000, as
 * Node's per-wake-up limit), so one busy port cannot starve a loop; call it
 * when the fd polls readable or after waking. If messages remain after the
 * batch the fd stays readable, so a level-triggered loop comes back.
 * *dispatched (optional) gets how many callbacks ran. MP_OK when at least
 * one callback ran or the queue was empty; MP_ECLOSED once the close event
 * was delivered (earlier) or the port is closed; MP_EINVAL when no callback
 * is set; MP_ETYPE for a non-port. The callback may post, receive on other
 * ports, and close this port (the batch then stops and the messages it had
 * already taken are released unread). */
MP_API mp_status mp_port_dispatch(mp_value port, size_t max_batch, size_t *dispatched);

/* Spin count for mp_port_receive: poll the queue this many times before
 * sleeping (0, the default: sleep at once). Trades CPU for latency.
 * MP_ECLOSED for a handle that was closed or transferred away; MP_ETYPE
 * for a non-port. */
MP_API mp_status mp_port_set_spin(mp_value port, unsigned iterations);

/* ---- lifetime -------------------------------------------------------------------- */

/* Closes the port (see CLOSE above). Idempotent; cannot fail for a port
 * (MP_ETYPE otherwise). The handle stays a valid value that reports
 * MP_ECLOSED. */
MP_API mp_status mp_port_close(mp_value port);

/* True if the port was closed (by mp_port_close or by transfer), or its
 * peer's close event was received; false for non-ports. */
MP_API bool mp_port_is_closed(mp_value port);

#ifdef __cplusplus
}
#endif
#endif
