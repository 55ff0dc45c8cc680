/* Ports internals: the per-realm handle (an MP_PORT cell), the port core
 * that lives outside realms, sibling groups. Not installed.
 *
 * Lock order: broadcast registry, then a group's lock, then cores'
 * post_locks (a post holds its source's; a change of members takes every
 * member's, in member order), then one of a core's two mutexes (never both
 * at once). A core's mutex is never held while taking a group lock. */
#ifndef MSGPORT_PORT_INTERNAL_H
#define MSGPORT_PORT_INTERNAL_H

#include "../internal.h"

typedef struct mpi_group mpi_group;

/* A port's queue is a chain of segments of message slots, so steady traffic
 * neither allocates nor shares a node per message: the sender fills slots,
 * the receiver empties them, and one cache line carries eight messages
 * across. A drained segment goes back to the senders through core->spare. */
#define MPI_SEG_SLOTS 63 /* a segment is 512 bytes */

typedef struct mpi_seg {
    struct mpi_seg *_Atomic next; /* linked (release) before any slot of it is filled */
    mp_message *_Atomic slot[MPI_SEG_SLOTS];
} mpi_seg;

/* core->notify: what the receiver asks of the next sender. */
enum { MPI_WANT_WAKE = 1, MPI_WANT_FD = 2 };

/* Senders and the receiver touch different cache lines: each side has its
 * own mutex (senders: `plock`; the receiver, close and fd/callback state:
 * `lock`), and the padding keeps them apart whatever the allocation's
 * alignment. The only per-message hand-over is the slot itself, plus a
 * read of `notify`, which the receiver writes only when it goes idle. */
typedef struct mpi_port_core {
    _Atomic size_t refs;
    mp_allocator alc;
    mpi_group *group;      /* constant for the core's life; one group reference */
    bool member;           /* in group->members: written under post_lock for writing */
    _Atomic unsigned spin; /* mp_port_set_spin; read lock-free */
    /* Carried by a message being freed while another release runs on this
     * thread: mpi_port_release closes it from its loop, not by recursion. */
    struct mpi_port_core *release_next;

    char pad_poster_[64];
    /* Read-locked by posts from this port, write-locked (with every other
     * member's) by a change of the group's members. A post then touches
     * no line its receiver writes: a group-wide lock would move between
     * the two threads of a ping-pong at every message. */
    pthread_rwlock_t post_lock;

    char pad_producer_[64];
    pthread_mutex_t plock; /* senders: guards the fields down to `pushed`, but credits */
    mpi_seg *ptail;        /* the segment being filled */
    size_t pidx;           /* its next free slot (MPI_SEG_SLOTS: go on to ptail->next) */
    mpi_seg *plast;        /* the chain's last segment */
    /* Free slots from (ptail, pidx) to the end of plast not yet promised
     * to a post in flight. A post takes one without the lock while any is
     * left; only a segment's addition, under plock, raises it by more than
     * a returned promise. */
    _Atomic size_t credits;
    _Atomic size_t pushed; /* messages ever queued */

    char pad_handover_[64];
    _Atomic unsigned notify;   /* MPI_WANT_*: set by the receiver, taken by one sender */
    _Atomic uint32_t wake_seq; /* futex word a blocked receiver sleeps on; bumped to wake it */
    _Atomic unsigned sleepers; /* receivers in (or entering) the futex wait */
    _Atomic bool close_queued; /* the close event follows the last slot filled */
    mpi_seg *_Atomic spare;    /* one drained segment for reuse */

    char pad_consumer_[64];
    pthread_mutex_t lock;  /* the receiving side: guards everything below */
    mpi_seg *chead;        /* the segment being read; NULL once closed and released */
    size_t cidx;           /* its next slot to read */
    _Atomic size_t popped; /* messages ever taken */
    _Atomic bool closed;   /* disentangled by its own side: nothing more is queued */
    _Atomic bool eof;      /* the close event was consumed by the receiver */
    int efd;               /* eventfd, -1 until mp_port_fd */
    bool efd_set;          /* efd counter is non-zero */
    mp_port_callback cb;
    void *cb_ctx;
} mpi_port_core;

enum { MPI_PORT_LIVE = 0, MPI_PORT_CLOSED = 1, MPI_PORT_SHIPPED = 2 };

/* The MP_PORT cell. core is constant and holds one reference until the
 * cell is destroyed, so a post racing a close on the same handle never
 * touches freed memory. */
typedef struct mpi_port {
    mpi_cell h;
    mpi_port_core *core;
    _Atomic int state; /* MPI_PORT_* */
} mpi_port;

struct mpi_group {
    _Atomic size_t refs;     /* one per core; named groups change it under the registry lock */
    pthread_mutex_t lock;    /* serializes changes of members (join / leave) */
    mpi_port_core **members; /* in join order; changed with every member's post_lock held */
    size_t n, cap;
    char *name;             /* NULL: a MessageChannel (close propagates) */
    struct mpi_group *next; /* broadcast registry list */
    mp_allocator alc;
};

/* ---- group.c ------------------------------------------------------------------- */

/* A new anonymous group with refs = 0 (each core adds one). */
mp_status mpi_group_new(const mp_allocator *alc, mpi_group **out);
/* Drops one reference; frees the group (and unregisters a named one) at 0. */
void mpi_group_unref(mpi_group *g);
/* Appends core to g (every member's post lock held). MP_ENOMEM leaves g
 * unchanged. */
mp_status mpi_group_join(mpi_group *g, mpi_port_core *core);
/* Removes core from its group (every member's post lock held, so no post
 * is in flight); for a MessageChannel queues the close event on the one
 * member left. Idempotent. */
void mpi_group_leave(mpi_port_core *core);

/* ---- port.c -------------------------------------------------------------------- */

/* A new core with refs = 1 joined to g. It takes over one group
 * reference the caller already counted (released when the core is freed);
 * on failure the caller still owns that reference. */
mp_status mpi_core_new(const mp_allocator *alc, mpi_group *g, mpi_port_core **out);
void mpi_core_unref(mpi_port_core *c);
/* Queues the close event behind every message (called by mpi_group_leave,
 * so no post is in flight). Cannot fail. */
void mpi_core_push_close(mpi_port_core *c);
/* A new MP_PORT cell in r on core c (takes over one core reference). */
mp_status mpi_port_handle_new(mp_realm *r, mpi_port_core *c, mp_value *out);
/* Called by mpi_cell_destroy (src/value/gc.c): closes a live port, drops
 * the core reference. Does not free the cell itself. */
void mpi_port_handle_destroy(mpi_port *p);

/* ---- port transfer, called by the codec ---------------------------------------- */

/* True if the MP_PORT cell c may be transferred: open, not shipped, and
 * its close event not received (mp_port_is_closed would say true). */
bool mpi_port_transferable(const mpi_cell *c);
/* True if c is a port of a named broadcast channel, which cannot be
 * transferred (a BroadcastChannel is not transferable). */
bool mpi_port_is_broadcast(const mpi_cell *c);
/* Commit of a transfer (cannot fail): the handle c becomes detached
 * (shipped) and the core, with a new reference for the message, is
 * returned. The core stays in its group, so its siblings keep queueing
 * into it while it is in flight; its owner state (eventfd, callback, spin)
 * is reset for the next owner. */
mpi_port_core *mpi_port_ship(mpi_cell *c);
/* A new handle in r owning `core` (the message's reference is taken over
 * on MP_OK; on MP_ENOMEM the caller keeps it). core may be NULL for a
 * placeholder filled later with mpi_port_fill (mp_clone). */
mp_status mpi_port_adopt(mp_realm *r, mpi_port_core *core, mp_value *out);
void mpi_port_fill(mpi_cell *handle, mpi_port_core *core);
/* Releases a core a message still owns (never received): closes it, so
 * its peer sees close, and drops the reference. NULL is a no-op. */
void mpi_port_release(mpi_port_core *core);

/* ---- codec/message_dup.c --------------------------------------------------------- */

/* A copy of m for a second destination: the bytes copied, one more
 * reference on each SharedArrayBuffer store. MP_EDATACLONE if m holds
 * transferred stores or host payloads (they have one owner), MP_ENOMEM.
 * On failure *out is untouched. */
mp_status mpi_message_dup(const mp_message *m, mp_message **out);

#endif
