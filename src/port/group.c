/* Sibling groups (Node's SiblingGroup) and the process-wide registry of
 * named broadcast groups. */
#include <stdlib.h>

#include "port_internal.h"

/* The broadcast registry is the one piece of global mutable state in the
 * library, by necessity: a broadcast channel name is process-wide (any
 * thread, any realm, no shared object to hang the table on), exactly like
 * Node's SiblingGroup::groups_. It is a short list under one mutex, taken
 * only to open a broadcast port and to drop a named group's reference —
 * never on the post or receive paths. */
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static mpi_group *registry;

static mpi_group *
group_alloc(const mp_allocator *alc)
{
    alc = mpi_allocator_or_default(alc);
    mpi_group *g = mpi_malloc(alc, sizeof *g);
    if (!g) return NULL;
    memset(g, 0, sizeof *g);
    g->alc = *alc;
    atomic_init(&g->refs, 0);
    if (pthread_mutex_init(&g->lock, NULL) != 0) {
        mpi_free(alc, g);
        return NULL;
    }
    return g;
}

static void
group_free(mpi_group *g)
{
    mp_allocator alc = g->alc;
    pthread_mutex_destroy(&g->lock);
    mpi_free(&alc, g->members);
    mpi_free(&alc, g->name);
    mpi_free(&alc, g);
}

mp_status
mpi_group_new(const mp_allocator *alc, mpi_group **out)
{
    mpi_group *g = group_alloc(alc);
    if (!g) return MP_ENOMEM;
    *out = g;
    return MP_OK;
}

void
mpi_group_unref(mpi_group *g)
{
    if (!g) return;
    if (!g->name) {
        if (atomic_fetch_sub_explicit(&g->refs, 1, memory_order_acq_rel) == 1) group_free(g);
        return;
    }
    /* Named: the count only changes under the registry lock, so an open
     * cannot revive a group being freed. */
    pthread_mutex_lock(&registry_lock);
    bool last = atomic_fetch_sub_explicit(&g->refs, 1, memory_order_acq_rel) == 1;
    if (last) {
        for (mpi_group **link = &registry; *link; link = &(*link)->next) {
            if (*link == g) {
                *link = g->next;
                break;
            }
        }
    }
    pthread_mutex_unlock(&registry_lock);
    if (last) group_free(g);
}

/* Every member's post lock for writing, in member order (g->lock held, so
 * the order cannot change meanwhile): no post from the group is in flight
 * until members_unlock. */
static void
members_lock(mpi_group *g)
{
    for (size_t i = 0; i < g->n; i++)
        pthread_rwlock_wrlock(&g->members[i]->post_lock);
}

/* Releases the post locks of the first n members. */
static void
members_unlock(mpi_group *g, size_t n)
{
    for (size_t i = 0; i < n; i++)
        pthread_rwlock_unlock(&g->members[i]->post_lock);
}

mp_status
mpi_group_join(mpi_group *g, mpi_port_core *core)
{
    mp_status st = MP_OK;
    pthread_mutex_lock(&g->lock);
    members_lock(g);
    if (g->n == g->cap) {
        size_t cap = g->cap ? g->cap * 2 : 2;
        mpi_port_core **m = mpi_realloc(&g->alc, g->members, g->cap * sizeof *m, cap * sizeof *m);
        if (!m) {
            st = MP_ENOMEM;
        } else {
            g->members = m;
            g->cap = cap;
        }
    }
    size_t locked = g->n;
    /* The new core posts nothing yet (no handle holds it): it joins
     * without its own lock. */
    if (st == MP_OK) {
        g->members[g->n++] = core;
        core->member = true;
    }
    members_unlock(g, locked);
    pthread_mutex_unlock(&g->lock);
    return st;
}

void
mpi_group_leave(mpi_port_core *core)
{
    mpi_group *g = core->group;
    pthread_mutex_lock(&g->lock);
    if (core->member) {
        members_lock(g);
        size_t i = 0;
        while (i < g->n && g->members[i] != core)
            i++;
        /* Keep join order: broadcast delivers in creation order. */
        if (i < g->n) memmove(&g->members[i], &g->members[i + 1], (g->n - i - 1) * sizeof *g->members);
        g->n--;
        core->member = false;
        /* A MessageChannel tells the one port left; a broadcast group
         * never propagates close (Node, the standard). */
        if (!g->name && g->n == 1) mpi_core_push_close(g->members[0]);
        pthread_rwlock_unlock(&core->post_lock);
        members_unlock(g, g->n);
    }
    pthread_mutex_unlock(&g->lock);
}

mp_status
mp_broadcast_open(mp_realm *realm, const char *name, mp_value *out)
{
    if (!realm || !name || !out) return MP_EINVAL;
    size_t len = strlen(name);
    pthread_mutex_lock(&registry_lock);
    mpi_group *g = registry;
    while (g && strcmp(g->name, name) != 0)
        g = g->next;
    bool fresh = false;
    if (!g) {
        /* Named groups use libc: they outlive any one realm's allocator. */
        g = group_alloc(NULL);
        char *copy = g ? mpi_malloc(&g->alc, len + 1) : NULL;
        if (!copy) {
            if (g) group_free(g);
            pthread_mutex_unlock(&registry_lock);
            return MP_ENOMEM;
        }
        memcpy(copy, name, len + 1);
        g->name = copy;
        fresh = true;
    }
    /* The core's group reference is taken here, under the registry lock;
     * mpi_core_new is told not to take another. */
    atomic_fetch_add_explicit(&g->refs, 1, memory_order_relaxed);
    if (fresh) {
        g->next = registry;
        registry = g;
    }
    pthread_mutex_unlock(&registry_lock);

    mpi_port_core *c = NULL;
    mp_status st = mpi_core_new(&realm->alc, g, &c);
    if (st == MP_OK) {
        st = mpi_port_handle_new(realm, c, out);
        if (st != MP_OK) {
            mpi_group_leave(c);
            mpi_core_unref(c); /* drops the group reference too */
        }
        return st;
    }
    mpi_group_unref(g);
    return st;
}
