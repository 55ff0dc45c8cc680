/* uv_port.c — a port in a libuv loop.
 *
 * The port's eventfd (mp_port_fd) goes into a uv_poll_t: libuv calls back
 * when it is readable, and the callback drains the port with
 * mp_port_try_receive until MP_EAGAIN. A worker posts bursts of messages,
 * then returns, which closes its port: the loop sees MP_ECLOSED after the
 * last message, stops polling, and uv_run returns as nothing is left to
 * watch. An unreferenced timer guards against a port that never closes
 * without keeping the loop alive itself.
 *
 * Take the fd out of the loop (uv_poll_stop, uv_close) before the port is
 * freed or transferred: the port owns the fd and closes it then. */
#define _POSIX_C_SOURCE 200809L /* nanosleep */

#include <msgport.h>

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <uv.h>

enum { BURSTS = 5, PER_BURST = 20 };

/* The worker: BURSTS bursts of PER_BURST numbers 0, 1, 2, ..., 10 ms apart. */
static int
poster(mp_worker_ctx *ctx)
{
    const struct timespec pause = {0, 10 * 1000 * 1000};
    for (int burst = 0, next = 0; burst < BURSTS; burst++) {
        for (int i = 0; i < PER_BURST; i++) {
            mp_status st = mp_port_post(ctx->port, mp_number(next++), NULL, 0, NULL);
            if (st != MP_OK) {
                fprintf(stderr, "uv_port: worker: post: %s\n", mp_strerror(st));
                return 1;
            }
        }
        nanosleep(&pause, NULL);
    }
    return 0;
}

typedef struct loop_state {
    mp_value port;
    uv_poll_t poll;
    uv_timer_t watchdog;
    int received;
    int wakeups;
    bool in_order;
    bool closed;
    bool failed;
} loop_state;

/* Takes both handles out of the loop; uv_run then returns. */
static void
stop_loop(loop_state *state)
{
    if (!uv_is_closing((uv_handle_t *)&state->poll)) uv_close((uv_handle_t *)&state->poll, NULL);
    if (!uv_is_closing((uv_handle_t *)&state->watchdog)) uv_close((uv_handle_t *)&state->watchdog, NULL);
}

static void
on_readable(uv_poll_t *handle, int status, int events)
{
    loop_state *state = handle->data;
    (void)events;
    if (status < 0) {
        fprintf(stderr, "uv_port: poll: %s\n", uv_strerror(status));
        state->failed = true;
        stop_loop(state);
        return;
    }
    state->wakeups++;
    for (;;) {
        mp_value value;
        mp_error_info err;
        mp_status st = mp_port_try_receive(state->port, NULL, &value, &err);
        if (st == MP_EAGAIN) return; /* drained: the fd is quiet until the next post */
        if (st == MP_OK) {
            state->in_order &= mp_number_value(value) == state->received;
            state->received++;
        } else if (st == MP_EMESSAGE) {
            fprintf(stderr, "uv_port: a message could not be read: %s\n", err.detail);
            state->failed = true;
        } else {
            state->closed = st == MP_ECLOSED;
            if (!state->closed) {
                fprintf(stderr, "uv_port: receive: %s\n", mp_strerror(st));
                state->failed = true;
            }
            stop_loop(state);
            return;
        }
    }
}

static void
on_watchdog(uv_timer_t *timer)
{
    loop_state *state = timer->data;
    fprintf(stderr, "uv_port: the port did not close within 10 s\n");
    state->failed = true;
    stop_loop(state);
}

int
main(void)
{
    int failed = 1;
    mp_realm *realm = NULL;
    mp_worker *worker = NULL;
    uv_loop_t loop;
    bool loop_ready = false;
    loop_state state;
    memset(&state, 0, sizeof state);
    state.in_order = true;

    int fd = -1, rc = uv_loop_init(&loop);
    if (rc < 0) {
        fprintf(stderr, "uv_port: uv_loop_init: %s\n", uv_strerror(rc));
        goto done;
    }
    loop_ready = true;
    mp_status st = mp_realm_new(NULL, &realm);
    if (st == MP_OK) st = mp_worker_start(realm, NULL, poster, NULL, mp_undefined(), NULL, 0, &worker, NULL);
    if (st == MP_OK) {
        state.port = mp_worker_port(worker);
        st = mp_port_fd(state.port, &fd);
    }
    if (st != MP_OK) {
        fprintf(stderr, "uv_port: setting up the worker and its port: %s\n", mp_strerror(st));
        goto done;
    }

    state.poll.data = state.watchdog.data = &state;
    rc = uv_poll_init(&loop, &state.poll, fd);
    if (rc < 0) {
        fprintf(stderr, "uv_port: uv_poll_init on the port's fd: %s\n", uv_strerror(rc));
        goto done;
    }
    rc = uv_poll_start(&state.poll, UV_READABLE, on_readable);
    if (rc < 0) {
        fprintf(stderr, "uv_port: uv_poll_start: %s\n", uv_strerror(rc));
        uv_close((uv_handle_t *)&state.poll, NULL);
        uv_run(&loop, UV_RUN_DEFAULT); /* completes the close */
        goto done;
    }
    uv_timer_init(&loop, &state.watchdog);
    uv_timer_start(&state.watchdog, on_watchdog, 10000, 0);
    uv_unref((uv_handle_t *)&state.watchdog);
    uv_run(&loop, UV_RUN_DEFAULT);

    printf("uv_port: %d messages in %d libuv callbacks, in order: %s, then the close event\n", state.received,
           state.wakeups, state.in_order ? "yes" : "no");
    failed = state.failed || !state.closed || !state.in_order || state.received != BURSTS * PER_BURST;

done:
    if (worker) {
        int code = 1;
        if (mp_worker_join(worker, &code) != MP_OK || code != 0) failed = 1;
    }
    if (loop_ready && uv_loop_close(&loop) != 0) {
        fprintf(stderr, "uv_port: the loop still had handles\n");
        failed = 1;
    }
    mp_realm_free(realm); /* after the fd left the loop: freeing the port closes it */
    printf("uv_port: %s\n", failed ? "FAILED" : "ok");
    return failed;
}
