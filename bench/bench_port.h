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
    int reps;         /* repetitions per figure */
    double target_ns; /* calibrated benches: one repetition lasts this long */
    char run[64];
    const char *bench_filter; /* comma-separated, NULL = all */
    const char *wl_filter;    /* --workloads: comma-separated, NULL = all (lib_port_pingpong) */
    bool lib, c;              /* which suites */
    int pin_main, pin_other;  /* --pin-pair A,B: CPUs of the main and the other thread; -1 = not pinned */
    FILE *out;
} bp_opts;

extern bp_opts bp_opt;
extern volatile uint64_t bp_sink;

uint64_t bp_now_ns(void);
bool bp_wanted(const char *bench);
/* True if the workload name (e.g. "W1_spin") passes --workloads. */
bool bp_wanted_workload(const char *wl);
/* The second thread of a bench (worker, echo, producer) calls this first:
 * pins it to --pin-pair's second CPU (nothing when not pinned). */
void bp_pin_other(void);

/* One ns_per_op line from per-repetition samples (ns per op). */
void bp_emit_ns(const char *suite, const char *bench, const char *workload, size_t bytes, const double *samples, int n,
                size_t ops_per_rep);
void bp_emit_error(const char *suite, const char *bench, const char *workload, const char *text);

/* Round-trip statistics: per repetition, the median, p99, p99.9, mean and
 * the BP_NQ quantiles of bp_quantiles (the latency distribution plot) of its
 * round trips; the line carries the median over repetitions of each. */
#define BP_NQ 15
extern const double bp_quantiles[BP_NQ];
typedef struct bp_rtt {
    int n, cap;
    double *med, *p99, *p999, *mean;
    double *q; /* cap * BP_NQ */
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

/* Buffer sizes of the one-way copy vs transfer benches: the W6 fill
 * (mulberry32 seed 6, little-endian uint32s), W6_1M and W6_64M being the
 * workloads, the others prefixes of the same bytes. */
typedef struct bp_buf {
    const char *name;
    size_t bytes;
    bool full_only; /* skipped by --quick */
} bp_buf;
#define BP_NBUF 5
extern const bp_buf bp_bufs[BP_NBUF];
/* A fresh malloc'd copy of the first `bytes` bytes of the W6 fill. */
void *bp_w6_fill(size_t bytes);
/* Samples (one op each) per run of a one-way bench; bytes 0: the int floor.
 * Warm-ups: bp_oneway_warmups. */
int bp_oneway_ops(size_t bytes, bool copy);
int bp_oneway_warmups(size_t bytes, bool copy);

/* The C baselines (suite "c"). */
void bp_run_baselines(void);

#endif
