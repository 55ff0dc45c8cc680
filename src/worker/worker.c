/* Workers: a thread with its own realm, workerData and a parent port.
 *
 * The thread is created first and held at a gate; only then is workerData
 * cloned (which detaches transferred buffers), and the gate opens. So a
 * thread that cannot be created detaches nothing, and a clone that fails
 * sends the held thread home without running any user code. */
#include <errno.h>

#include "../port/port_internal.h"
#include "../value/value_internal.h"

enum { GATE_WAIT = 0, GATE_RUN = 1, GATE_ABORT = 2 };

struct mp_worker {
    pthread_t thread;
    mp_allocator alc;
    mp_realm *parent_realm;
    mp_value parent_port;   /* in parent_realm */
    mp_realm *realm;        /* the worker's; the thread frees it */
    mp_value port;          /* in realm */
    mp_value data;          /* in realm */
    mp_worker_entry entry;
    void *arg;
    int exit_code;          /* written by the thread, read after join */
    pthread_mutex_t gate_lock;
    pthread_cond_t gate_cond;
    int gate;
};

static void *
worker_main(void *p)
{
    mp_worker *w = p;
    pthread_mutex_lock(&w->gate_lock);
    while (w->gate == GATE_WAIT) pthread_cond_wait(&w->gate_cond, &w->gate_lock);
    int gate = w->gate;
    pthread_mutex_unlock(&w->gate_lock);
    if (gate != GATE_RUN) return NULL; /* the starter cleans up */
    mp_worker_ctx ctx;
    ctx.realm = w->realm;
    ctx.worker_data = w->data;
    ctx.port = w->port;
    ctx.arg = w->arg;
    w->exit_code = w->entry(&ctx);
    /* Close first: everything the worker posted is already queued at the
     * parent, so the parent sees it all, then the close event, and join
     * (which follows this thread's end) reports the exit after both. */
    mp_port_close(w->port);
    mp_realm_free(w->realm);
    w->realm = NULL;
    return NULL;
}

static void
worker_free(mp_worker *w)
{
    pthread_cond_destroy(&w->gate_cond);
    pthread_mutex_destroy(&w->gate_lock);
    mp_allocator alc = w->alc;
    mpi_free(&alc, w);
}

static void
open_gate(mp_worker *w, int gate)
{
    pthread_mutex_lock(&w->gate_lock);
    w->gate = gate;
    pthread_cond_signal(&w->gate_cond);
    pthread_mutex_unlock(&w->gate_lock);
}

mp_status
mp_worker_start(mp_realm *realm, const mp_worker_options *opt, mp_worker_entry entry, void *arg,
                mp_value worker_data, const mp_value *transfer, size_t n, mp_worker **out, mp_error_info *err)
{
    if (!realm || !entry || !out || (n && !transfer))
        return mpi_fail(err, MP_EINVAL, MP_NO_OFFSET, NULL, "realm, entry and out are required");
    mp_worker_options defaults = {0, NULL};
    if (!opt) opt = &defaults;
    const mp_allocator *alc = mpi_allocator_or_default(&realm->alc);
    mp_worker *w = mpi_malloc(alc, sizeof *w);
    if (!w) return mpi_fail(err, MP_ENOMEM, MP_NO_OFFSET, NULL, NULL);
    memset(w, 0, sizeof *w);
    w->alc = *alc;
    w->parent_realm = realm;
    w->entry = entry;
    w->arg = arg;
    w->data = mp_undefined();
    if (pthread_mutex_init(&w->gate_lock, NULL) != 0) {
        mpi_free(alc, w);
        return mpi_fail(err, MP_ETHREAD, MP_NO_OFFSET, NULL, "pthread_mutex_init failed");
    }
    if (pthread_cond_init(&w->gate_cond, NULL) != 0) {
        pthread_mutex_destroy(&w->gate_lock);
        mpi_free(alc, w);
        return mpi_fail(err, MP_ETHREAD, MP_NO_OFFSET, NULL, "pthread_cond_init failed");
    }
    mp_status st = mp_realm_new(opt->alc, &w->realm);
    if (st != MP_OK) {
        worker_free(w);
        return mpi_fail(err, st, MP_NO_OFFSET, NULL, "cannot make the worker's realm");
    }
    st = mp_channel_new(realm, w->realm, &w->parent_port, &w->port);
    if (st != MP_OK) {
        mp_realm_free(w->realm);
        worker_free(w);
        return mpi_fail(err, st, MP_NO_OFFSET, NULL, "cannot make the worker's channel");
    }

    pthread_attr_t attr;
    int rc = pthread_attr_init(&attr);
    if (rc == 0 && opt->stack_size) rc = pthread_attr_setstacksize(&attr, opt->stack_size);
    if (rc == 0) {
        rc = pthread_create(&w->thread, &attr, worker_main, w);
        pthread_attr_destroy(&attr);
    }
    if (rc != 0) {
        /* The parent's port is still its realm's newest cell: undo it (its
         * core closes), then the worker's realm with its port. */
        mpi_cell_discard_newest(realm, w->parent_port.u_.cell_);
        mp_realm_free(w->realm);
        worker_free(w);
        return mpi_fail(err, MP_ETHREAD, MP_NO_OFFSET, NULL, "cannot create the worker thread: %s", strerror(rc));
    }

    /* The thread waits at the gate: this thread may still use w->realm. */
    st = mp_clone(worker_data, w->realm, transfer, n, &w->data, err);
    if (st != MP_OK) {
        open_gate(w, GATE_ABORT);
        pthread_join(w->thread, NULL);
        mpi_cell_discard_newest(realm, w->parent_port.u_.cell_);
        mp_realm_free(w->realm);
        worker_free(w);
        return st;
    }
    open_gate(w, GATE_RUN);
    *out = w;
    return MP_OK;
}

mp_value
mp_worker_port(const mp_worker *worker)
{
    return worker ? worker->parent_port : mp_undefined();
}

mp_status
mp_worker_join(mp_worker *worker, int *exit_code)
{
    if (!worker) return MP_EINVAL;
    if (pthread_join(worker->thread, NULL) != 0) return MP_ETHREAD;
    if (exit_code) *exit_code = worker->exit_code;
    worker_free(worker);
    return MP_OK;
}
