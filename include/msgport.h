/* msgport — the message-passing model of Node.js worker_threads and the
 * HTML standard, for C11 programs.
 *
 * The only header users include.
 *
 * THREAD SAFETY, the default for every function: a realm and every value in
 * it are used by one thread at a time; functions on them take no locks.
 * Different realms may be used by different threads at once. Exceptions
 * are marked "Thread-safe" on the function itself (e.g. mp_strerror,
 * mp_sab_grow, the Atomics, posting on a port).
 *
 * OWNERSHIP: a realm owns every value made in it; mp_realm_free releases
 * them all at once, and mp_realm_collect releases what is unreachable from
 * the roots the owner names. Nothing else frees a value. Calls that hand
 * over ownership of other things say so on the function.
 *
 * FAILURE: a call that returns anything but MP_OK has changed nothing the
 * caller can see, and freed whatever it allocated, unless its comment says
 * otherwise. */
#ifndef MSGPORT_H
#define MSGPORT_H

#include "msgport/common.h"
#include "msgport/value.h"
#include "msgport/buffer.h"
#include "msgport/codec.h"
#include "msgport/port.h"
#include "msgport/worker.h"

#endif
