/* Ports internals: the per-realm handle (an MP_PORT cell), the port core
 * that lives outside realms, sibling groups. Not installed.
 *
 * Lock order: broadcast registry, then a group's rwlock, then a core's
 * mutex. A core's mutex is never held while taking a group lock. */
#ifndef MSGPORT_PORT_INTERNAL_H
#define MSGPORT_PORT_INTERNAL_H

#include "../internal.h"

typedef struct mpi_group mpi_group;

/* One queued item. The close event is the core's embedded close_node
 * (msg NULL), so queueing it cannot fail. */
typedef struct mpi_port_node {
    struct mpi_port_node *next;
    mp_message *msg;
} mpi_port_node;

/* Nodes kept for reuse per core, so steady traffic does not allocate. */
#define MPI_PORT_FREE_MAX 256

typedef struct mpi_port_core {
    _Atomic size_t refs;
    mp_allocator alc;
    mpi_group *group;          /* constant for the core's life; one group reference */
    bool member;               /* in group->members: written under the group write lock */

    pthread_mutex_t lock;      /* guards everything below */
    pthread_cond_t cond;       /* blocking receive (CLOCK_MONOTONIC) */
    mpi_port_node *head, *tail;
    _Atomic size_t pending;    /* queue length; written under lock, read lock-free to spin */
    mpi_port_node *free_nodes;
    size_t n_free;
    mpi_port_node close_node;
    bool closed;               /* disentangled by its own side: nothing more is queued */
    bool eof;                  /* the close event was consumed by the receiver */
    int sleepers;              /* receivers blocked on cond */
    int efd;                   /* eventfd, -1 until mp_port_fd */
    bool efd_set;              /* efd counter is non-zero */
    _Atomic unsigned spin;     /* mp_port_set_spin; read lock-free */
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
    _Atomic int state;         /* MPI_PORT_* */
} mpi_port;

struct mpi_group {
    _Atomic size_t refs;       /* one per core; named groups change it under the registry lock */
    pthread_rwlock_t lock;     /* read: dispatch; write: entangle / disentangle */
    mpi_port_core **members;   /* in join order */
    size_t n, cap;
    char *name;                /* NULL: a MessageChannel (close propagates) */
    struct mpi_group *next;    /* broadcast registry list */
    mp_allocator alc;
};

/* ---- group.c ------------------------------------------------------------------- */

/* A new anonymous group with refs = 0 (each core adds one). */
mp_status mpi_group_new(const mp_allocator *alc, mpi_group **out);
/* Drops one reference; frees the group (and unregisters a named one) at 0. */
void mpi_group_unref(mpi_group *g);
/* Appends core to g under the write lock. MP_ENOMEM leaves g unchanged. */
mp_status mpi_group_join(mpi_group *g, mpi_port_core *core);
/* Removes core from its group under the write lock; for a MessageChannel
 * queues the close event on the one member left. Idempotent. */
void mpi_group_leave(mpi_port_core *core);

/* ---- port.c -------------------------------------------------------------------- */

/* A new core with refs = 1 joined to g. It takes over one group
 * reference the caller already counted (released when the core is freed);
 * on failure the caller still owns that reference. */
mp_status mpi_core_new(const mp_allocator *alc, mpi_group *g, mpi_port_core **out);
void mpi_core_unref(mpi_port_core *c);
/* Queues the close event (group write lock held by the caller). */
void mpi_core_push_close(mpi_port_core *c);
/* A new MP_PORT cell in r on core c (takes over one core reference). */
mp_status mpi_port_handle_new(mp_realm *r, mpi_port_core *c, mp_value *out);
/* Called by mpi_cell_destroy (src/value/gc.c): closes a live port, drops
 * the core reference. Does not free the cell itself. */
void mpi_port_handle_destroy(mpi_port *p);

/* ---- port transfer, called by the codec ---------------------------------------- */

/* True if the MP_PORT cell c may be transferred: open and not shipped. */
bool mpi_port_transferable(const mpi_cell *c);
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
