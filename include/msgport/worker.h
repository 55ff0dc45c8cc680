/* msgport — workers: a thread with its own realm, workerData and a parent
 * port, as Node's worker_threads.Worker.
 *
 * Included by <msgport.h>; do not include directly.
 *
 * mp_worker_start makes a MessageChannel (one port in the parent's realm,
 * one in a fresh realm for the worker), clones workerData into the worker's
 * realm (moving the ArrayBuffers of the transfer list) before the worker
 * runs any code, and runs entry(ctx) on a new thread. When entry returns,
 * the library closes the worker's port — so the parent receives every
 * message the worker posted, then the close event — frees the worker's
 * realm, and ends the thread. mp_worker_join waits for that and gives the
 * exit code.
 *
 * Thread safety: the library default. An mp_worker is used by one thread
 * (normally the one that started it). */
#ifndef MSGPORT_WORKER_H
#define MSGPORT_WORKER_H

#include "port.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mp_worker mp_worker;

/* What the worker's entry function gets. Everything in it belongs to the
 * worker thread; the realm and values are freed when entry returns. */
typedef struct mp_worker_ctx {
    mp_realm *realm;       /* the worker's realm */
    mp_value worker_data;  /* the clone of workerData, in realm */
    mp_value port;         /* the worker's end of the channel (parentPort), in realm */
    void *arg;             /* the arg given to mp_worker_start, as is */
} mp_worker_ctx;

/* The worker's body; its return value is the exit code mp_worker_join
 * reports. */
typedef int (*mp_worker_entry)(mp_worker_ctx *ctx);

typedef struct mp_worker_options {
    size_t stack_size;          /* bytes; 0: the system default */
    const mp_allocator *alc;    /* for the worker's realm; NULL: libc */
} mp_worker_options;

/* Starts a worker. realm is the parent's realm: the parent's port is made
 * there and worker_data and the transfer list must belong to it (or be
 * primitives). opt may be NULL (defaults). arg is passed through as is.
 *
 * workerData is cloned (mp_clone semantics and DataCloneErrors) into the
 * worker's realm before entry runs; on MP_OK each listed ArrayBuffer is
 * detached and its store moved to the worker (same data pointer), and a
 * SharedArrayBuffer in worker_data is shared.
 *
 * On MP_OK *out is the worker, owned by the caller: call mp_worker_join
 * exactly once. On failure — MP_EINVAL (NULL realm, entry or out, or NULL
 * transfer with n > 0), MP_EDATACLONE and the other clone errors,
 * MP_ENOMEM, MP_ETHREAD (the thread could not be created, e.g. for a bad
 * stack_size) — entry never runs, nothing was detached, nothing is leaked,
 * *out is untouched and err (optional) says why. */
MP_API mp_status mp_worker_start(mp_realm *realm, const mp_worker_options *opt, mp_worker_entry entry, void *arg,
                                 mp_value worker_data, const mp_value *transfer, size_t n, mp_worker **out,
                                 mp_error_info *err);

/* The parent's end of the worker's channel, a port in the parent's realm
 * (post to reach the worker's ctx->port; receive what it posts). It stays
 * valid after join, as a value of that realm. Undefined for NULL. */
MP_API mp_value mp_worker_port(const mp_worker *worker);

/* Waits for the worker thread to end, stores entry's return value in
 * *exit_code (optional) and frees the worker. When it returns, every
 * message the worker posted is already queued on mp_worker_port, followed
 * by the close event. MP_EINVAL for NULL; MP_ETHREAD if pthread_join
 * fails (the worker is then not freed). */
MP_API mp_status mp_worker_join(mp_worker *worker, int *exit_code);

#ifdef __cplusplus
}
#endif
#endif
