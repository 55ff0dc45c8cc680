/* examples.h — the little the example programs share.
 *
 * Each of sab_sum.c, happy_pool.c, copy_vs_transfer.c and graph_clone.c is a
 * standalone program, and also one part of the demo (demo.c): built with
 * -DMSGPORT_DEMO it leaves out its main() and demo.c calls example_<part>().
 * Every example_<part>() prints what it does, checks what it sees, and
 * returns 0 when every check passed. */
#ifndef MSGPORT_EXAMPLES_H
#define MSGPORT_EXAMPLES_H

#include <msgport.h>

#include <stdbool.h>
#include <stdio.h>
#include <time.h>

int example_sab_sum(void);
int example_happy_pool(void);
int example_copy_vs_transfer(void);
int example_graph_clone(void);

/* Runs a fallible msgport call. On failure it says which call failed and
 * why, then jumps to the `done:` label of the calling function, which frees
 * what the function took and returns the failure. */
#define EX_TRY(call)                                                                                                   \
    do {                                                                                                               \
        mp_status ex_st_ = (call);                                                                                     \
        if (ex_st_ != MP_OK) {                                                                                         \
            fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call, mp_strerror(ex_st_));                        \
            goto done;                                                                                                 \
        }                                                                                                              \
    } while (0)

/* The same for calls that fill an mp_error_info, whose path and detail say
 * more than the status alone (which value of the graph, which limit). */
#define EX_TRY_INFO(call, info)                                                                                        \
    do {                                                                                                               \
        mp_status ex_st_ = (call);                                                                                     \
        if (ex_st_ != MP_OK) {                                                                                         \
            fprintf(stderr, "%s:%d: %s: %s at %s: %s\n", __FILE__, __LINE__, #call, mp_strerror(ex_st_), (info).path,  \
                    (info).detail);                                                                                    \
            goto done;                                                                                                 \
        }                                                                                                              \
    } while (0)

/* Prints one check and its outcome; returns the outcome. */
static inline bool
ex_check(bool ok, const char *what)
{
    printf("  [%s] %s\n", ok ? "ok" : "FAILED", what);
    return ok;
}

/* Milliseconds on the monotonic clock, comparable between threads. */
static inline double
ex_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

#endif
