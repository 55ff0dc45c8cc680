/* poll_port.c — a port in a poll() loop.
 *
 * mp_port_fd gives a port's eventfd: it polls readable while messages (or
 * the close event) wait, so a port fits in any poll/epoll loop beside
 * sockets and timers. Here a worker posts bursts of messages; the main
 * thread sleeps in poll() and, each time the fd is readable, runs the
 * port's callback for what waits with mp_port_dispatch. Wake-ups coalesce:
 * a burst posted while the loop is busy costs one wake-up, not one per
 * message. When the worker returns, the library closes its port; the
 * callback then gets MP_ECLOSED once, and the loop ends. */
#define _POSIX_C_SOURCE 200809L /* nanosleep */

#include <msgport.h>

#include <poll.h>
#include <stdio.h>
#include <time.h>

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
                fprintf(stderr, "poll_port: worker: post: %s\n", mp_strerror(st));
                return 1;
            }
        }
        nanosleep(&pause, NULL);
    }
    return 0; /* the library closes ctx->port: the main thread sees the close after every message */
}

typedef struct loop_state {
    int received;
    bool in_order;
    bool closed;
    int errors;
} loop_state;

/* Runs on the main thread, inside mp_port_dispatch. */
static void
on_message(void *ctx, mp_value port, mp_status status, mp_value value, const mp_error_info *err)
{
    loop_state *state = ctx;
    (void)port;
    if (status == MP_OK) {
        state->in_order &= mp_number_value(value) == state->received;
        state->received++;
    } else if (status == MP_ECLOSED) {
        state->closed = true;
    } else {
        fprintf(stderr, "poll_port: a message could not be read: %s\n", err ? err->detail : mp_strerror(status));
        state->errors++;
    }
}

int
main(void)
{
    int failed = 1;
    mp_realm *realm = NULL;
    mp_worker *worker = NULL;
    loop_state state = {0, true, false, 0};
    mp_status st = mp_realm_new(NULL, &realm);
    if (st == MP_OK) st = mp_worker_start(realm, NULL, poster, NULL, mp_undefined(), NULL, 0, &worker, NULL);
    if (st != MP_OK) {
        fprintf(stderr, "poll_port: starting the worker: %s\n", mp_strerror(st));
        goto done;
    }
    mp_value port = mp_worker_port(worker);
    struct pollfd pfd = {.events = POLLIN};
    st = mp_port_set_callback(port, on_message, &state);
    if (st == MP_OK) st = mp_port_fd(port, &pfd.fd);
    if (st != MP_OK) {
        fprintf(stderr, "poll_port: setting up the port: %s\n", mp_strerror(st));
        goto done;
    }

    int wakeups = 0;
    while (!state.closed) {
        int ready = poll(&pfd, 1, 10000);
        if (ready <= 0) {
            fprintf(stderr, "poll_port: %s\n", ready == 0 ? "nothing arrived for 10 s" : "poll failed");
            goto done;
        }
        wakeups++;
        /* MP_ECLOSED here only repeats what the callback was told. */
        st = mp_port_dispatch(port, 0, NULL);
        if (st != MP_OK && st != MP_ECLOSED) {
            fprintf(stderr, "poll_port: dispatch: %s\n", mp_strerror(st));
            goto done;
        }
    }
    printf("poll_port: %d messages in %d wake-ups of poll(), in order: %s, then the close event\n", state.received,
           wakeups, state.in_order ? "yes" : "no");
    failed = !(state.received == BURSTS * PER_BURST && state.in_order && state.errors == 0);

done:
    if (worker) {
        int code = 1;
        if (mp_worker_join(worker, &code) != MP_OK || code != 0) failed = 1;
    }
    mp_realm_free(realm); /* frees the port, which closes its fd */
    printf("poll_port: %s\n", failed ? "FAILED" : "ok");
    return failed;
}
