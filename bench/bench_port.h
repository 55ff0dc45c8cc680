/* Shared by bench_port.c (suite "lib": msgport ports and workers) and
 * baselines_port.c (suite "c": condvar, futex, spin, ZeroMQ, memcpy,
 * pthread). Options, timing and the JSON lines of ../shared/WORKLOADS.md. */
#ifndef MSGPORT_BENCH_PORT_H
#define MSGPORT_BENCH_PORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "workloads.h"

typedef struct bp_opts {
    bool quick;
    int reps;                 /* repetitions per figure */
    double target_ns;         /* calibrated benches: one repetition lasts this long */
    char run[64];
    const char *bench_filter; /* comma-separated, NULL = all */
    bool lib, c;              /* which suites */
    FILE *out;
} bp_opts;

extern bp_opts bp_opt;
extern volatile uint64_t bp_sink;

uint64_t bp_now_ns(void);
bool bp_wanted(const char *bench);

/* One ns_per_op line from per-repetition samples (ns per op). */
void bp_emit_ns(const char *suite, const char *bench, const char *workload, size_t bytes, const double *samples,
                int n, size_t ops_per_rep);
void bp_emit_error(const char *suite, const char *bench, const char *workload, const char *text);

/* Round-trip statistics: per repetition, the median, p99, p99.9 and mean of
 * its round trips; the line carries the median over repetitions of each. */
typedef struct bp_rtt {
    int n, cap;
    double *med, *p99, *p999, *mean;
} bp_rtt;
void bp_rtt_init(bp_rtt *r, int reps);
void bp_rtt_add_rep(bp_rtt *r, double *rtts, size_t k); /* sorts rtts */
void bp_rtt_emit(bp_rtt *r, const char *suite, const char *bench, const char *workload, size_t bytes,
                 size_t rtts_per_rep);
void bp_rtt_free(bp_rtt *r);

/* Calibrated ns_per_op figure: fn(ctx, ops) returns the ns of `ops` ops. */
typedef uint64_t (*bp_rep_fn)(void *ctx, size_t ops);
void bp_measure(const char *suite, const char *bench, const char *workload, size_t bytes, bp_rep_fn fn, void *ctx);

/* Iteration counts shared by lib and C so the figures compare. */
size_t bp_tput_n(wl_id id);
size_t bp_pingpong_k(bool spinning);
int bp_oneway_ops(wl_id id, bool copy); /* samples (one op each); id WL_COUNT: the int floor */

/* The C baselines (suite "c"). */
void bp_run_baselines(void);

#endif
