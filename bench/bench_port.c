/* bench_port — msgport's ports and workers beside their C baselines
 * (baselines_port.c), one JSON line per figure (../shared/WORKLOADS.md).
 *
 *   suite "lib" (every worker made with mp_worker_start):
 *   lib_port_tput (W1, W2, W6_1M)  the worker posts n messages (W1: 200k) to
 *       the main thread, which mp_port_receive's (decodes) each into a realm
 *       of its own, mp_realm_collect'ed every few messages. One repetition:
 *       post "go" -> n-th message received; sample = ns per message. The
 *       worker posts without flow control (as Node's MessageChannel).
 *   lib_port_pingpong (int, W1)  main posts, the worker receives (decodes)
 *       and re-posts the decoded value, main receives it: one round trip,
 *       timed each. Workload names: "int"/"W1" (blocking, spin 0, the
 *       default) and "int_spin"/"W1_spin" (mp_port_set_spin on both ports).
 *       metric rtt_ns.
 *   lib_buf_oneway_copy / lib_buf_oneway_transfer (W6_1M, W6_64M)  the
 *       worker (asked by main) sleeps 200 us so main is surely asleep in
 *       mp_port_receive, reads the clock, posts the ArrayBuffer (copied, or
 *       in the transfer list); sample = main's clock after mp_port_receive
 *       returned - the worker's clock before mp_port_post. In transfer mode
 *       main posts the buffer back (transfer, untimed), and the worker
 *       answers it with a number, timed the same way: lib_oneway
 *       "int@W6_64M" and so on, the floor between the transfers. One op
 *       per sample. lib_oneway "int": numbers only: the wake-up floor.
 *   lib_thread_start_exit  mp_worker_start with workerData {id: 1}, the
 *       worker checks it, mp_worker_join (the #4 target: against
 *       pthread_create of an empty function + join).
 *   lib_thread_start_post_exit  the same, and the worker posts one number
 *       that main receives before the join (as Node's worker bench does).
 *
 * Run: bench_port [--quick] [--reps N] [--run ID] [--bench a,b] [--workloads a,b]
 *                 [--lib-only|--c-only] [--pin-pair A,B] [--out FILE]
 * --workloads: lib_port_pingpong's figures to take (int, W1, int_spin,
 * W1_spin; default all). bench/driver.py takes each in a process of its
 * own: a second sleeping ping-pong in one process reads 6-8 us slower
 * than the first (the C condvar baseline run twice in one process: 31-33,
 * then 35-40 us), and the baselines each run first in theirs.
 * --pin-pair: the main thread on CPU A, the other thread of each bench (the
 * worker, echo or producer) on CPU B; bench/driver.py uses it for the
 * latency benches (ping-pong, one-way) so every wake-up crosses CPUs. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include "bench_port.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef MSGPORT_BENCH_BUILD
#define MSGPORT_BENCH_BUILD "unknown"
#endif

bp_opts bp_opt;
volatile uint64_t bp_sink;

/* ---- common ---------------------------------------------------------------- */

uint64_t
bp_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Is name one of the comma-separated names of list (NULL: all)? */
static bool
in_list(const char *list, const char *name)
{
    if (!list) return true;
    size_t n = strlen(name);
    const char *p = list;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (l == n && strncmp(p, name, n) == 0) return true;
        if (!e) break;
        p = e + 1;
    }
    return false;
}

bool
bp_wanted(const char *name)
{
    return in_list(bp_opt.bench_filter, name);
}

bool
bp_wanted_workload(const char *wl)
{
    return in_list(bp_opt.wl_filter, wl);
}

void
bp_pin_other(void)
{
    if (bp_opt.pin_other < 0) return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(bp_opt.pin_other, &set);
    if (pthread_setaffinity_np(pthread_self(), sizeof set, &set) != 0)
        fprintf(stderr, "bench_port: cannot pin a thread to CPU %d\n", bp_opt.pin_other);
}

const double bp_quantiles[BP_NQ] = {0.01, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 0.999, 1.0};

const bp_buf bp_bufs[BP_NBUF] = {
    {"W6_4K", 4096, false},    {"W6_64K", 65536, true},      {"W6_1M", 1u << 20, false},
    {"W6_8M", 8u << 20, true}, {"W6_64M", 64u << 20, false},
};

void *
bp_w6_fill(size_t bytes)
{
    unsigned char *p = malloc(bytes ? bytes : 1);
    if (!p) return NULL;
    uint32_t s = 6;
    for (size_t i = 0; i + 4 <= bytes; i += 4) {
        uint32_t v = wl_mulberry32(&s);
        p[i] = (unsigned char)v;
        p[i + 1] = (unsigned char)(v >> 8);
        p[i + 2] = (unsigned char)(v >> 16);
        p[i + 3] = (unsigned char)(v >> 24);
    }
    return p;
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double
median_of(const double *v, int n) /* v sorted */
{
    return (n % 2) ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static double
quantile_of(const double *v, size_t n, double q) /* v sorted, nearest rank */
{
    size_t i = (size_t)ceil(q * (double)n);
    if (i > 0) i--;
    if (i >= n) i = n - 1;
    return v[i];
}

static void
json_head(const char *suite, const char *bench, const char *workload)
{
    fprintf(bp_opt.out,
            "{\"run\":\"%s\",\"suite\":\"%s\",\"build\":\"%s\",\"pinned\":%s,\"bench\":\"%s\",\"workload\":\"%s\"",
            bp_opt.run, suite, MSGPORT_BENCH_BUILD, bp_opt.pin_main >= 0 ? "true" : "false", bench, workload);
}

void
bp_emit_error(const char *suite, const char *bench, const char *workload, const char *text)
{
    json_head(suite, bench, workload);
    fprintf(bp_opt.out, ",\"metric\":\"error\",\"error\":\"");
    for (const char *s = text; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(bp_opt.out, "\\%c", c);
        else if (c < 0x20)
            fprintf(bp_opt.out, "\\u%04x", c);
        else
            fputc(c, bp_opt.out);
    }
    fprintf(bp_opt.out, "\"}\n");
    fflush(bp_opt.out);
    fprintf(stderr, "  %-26s %-8s FAILED: %s\n", bench, workload, text);
}

void
bp_emit_ns(const char *suite, const char *bench, const char *workload, size_t bytes, const double *samples, int n,
           size_t ops_per_rep)
{
    double *s = malloc((size_t)n * sizeof *s);
    if (!s) abort();
    memcpy(s, samples, (size_t)n * sizeof *s);
    qsort(s, (size_t)n, sizeof *s, cmp_double);
    double med = median_of(s, n);
    json_head(suite, bench, workload);
    fprintf(
        bp_opt.out,
        ",\"metric\":\"ns_per_op\",\"unit\":\"ns\",\"median\":%.1f,\"min\":%.1f,\"max\":%.1f,\"n\":%d,\"bytes\":%zu,"
        "\"ops_per_s\":%.0f,\"mb_per_s\":%.1f,\"ops_per_rep\":%zu,\"samples\":[",
        med, s[0], s[n - 1], n, bytes, 1e9 / med, (double)bytes * 1e3 / med, ops_per_rep);
    for (int r = 0; r < n; r++)
        fprintf(bp_opt.out, "%s%.1f", r ? "," : "", samples[r]);
    fprintf(bp_opt.out, "]}\n");
    fflush(bp_opt.out);
    fprintf(stderr, "  %-4s %-26s %-8s %12.1f ns/op  [%.1f – %.1f]  x%zu\n", suite, bench, workload, med, s[0],
            s[n - 1], ops_per_rep);
    free(s);
}

void
bp_rtt_init(bp_rtt *r, int reps)
{
    memset(r, 0, sizeof *r);
    r->cap = reps;
    r->med = calloc((size_t)reps, sizeof(double));
    r->p99 = calloc((size_t)reps, sizeof(double));
    r->p999 = calloc((size_t)reps, sizeof(double));
    r->mean = calloc((size_t)reps, sizeof(double));
    r->q = calloc((size_t)reps * BP_NQ, sizeof(double));
    if (!r->med || !r->p99 || !r->p999 || !r->mean || !r->q) abort();
}

void
bp_rtt_add_rep(bp_rtt *r, double *rtts, size_t k)
{
    if (r->n >= r->cap || k == 0) return;
    double sum = 0;
    for (size_t i = 0; i < k; i++)
        sum += rtts[i];
    qsort(rtts, k, sizeof *rtts, cmp_double);
    r->med[r->n] = (k % 2) ? rtts[k / 2] : (rtts[k / 2 - 1] + rtts[k / 2]) / 2;
    r->p99[r->n] = quantile_of(rtts, k, 0.99);
    r->p999[r->n] = quantile_of(rtts, k, 0.999);
    r->mean[r->n] = sum / (double)k;
    for (int i = 0; i < BP_NQ; i++)
        r->q[r->n * BP_NQ + i] = quantile_of(rtts, k, bp_quantiles[i]);
    r->n++;
}

void
bp_rtt_emit(bp_rtt *r, const char *suite, const char *bench, const char *workload, size_t bytes, size_t rtts_per_rep)
{
    int n = r->n;
    if (n == 0) return;
    double *m = malloc((size_t)n * sizeof *m), *p = malloc((size_t)n * sizeof *p);
    double *q = malloc((size_t)n * sizeof *q), *a = malloc((size_t)n * sizeof *a);
    if (!m || !p || !q || !a) abort();
    memcpy(m, r->med, (size_t)n * sizeof *m);
    memcpy(p, r->p99, (size_t)n * sizeof *p);
    memcpy(q, r->p999, (size_t)n * sizeof *q);
    memcpy(a, r->mean, (size_t)n * sizeof *a);
    qsort(m, (size_t)n, sizeof *m, cmp_double);
    qsort(p, (size_t)n, sizeof *p, cmp_double);
    qsort(q, (size_t)n, sizeof *q, cmp_double);
    qsort(a, (size_t)n, sizeof *a, cmp_double);
    double med = median_of(m, n);
    json_head(suite, bench, workload);
    fprintf(bp_opt.out,
            ",\"metric\":\"rtt_ns\",\"unit\":\"ns\",\"median\":%.1f,\"min\":%.1f,\"max\":%.1f,\"n\":%d,\"bytes\":%zu,"
            "\"p99_ns\":%.1f,\"p99_min\":%.1f,\"p99_max\":%.1f,\"p999_ns\":%.1f,\"mean_ns\":%.1f,"
            "\"ops_per_s\":%.0f,\"rtts_per_rep\":%zu,\"q_p\":[",
            med, m[0], m[n - 1], n, bytes, median_of(p, n), p[0], p[n - 1], median_of(q, n), median_of(a, n), 1e9 / med,
            rtts_per_rep);
    /* each quantile: its median over the repetitions */
    for (int i = 0; i < BP_NQ; i++)
        fprintf(bp_opt.out, "%s%g", i ? "," : "", bp_quantiles[i] * 100);
    fprintf(bp_opt.out, "],\"q_ns\":[");
    for (int i = 0; i < BP_NQ; i++) {
        for (int j = 0; j < n; j++)
            a[j] = r->q[j * BP_NQ + i];
        qsort(a, (size_t)n, sizeof *a, cmp_double);
        fprintf(bp_opt.out, "%s%.1f", i ? "," : "", median_of(a, n));
    }
    fprintf(bp_opt.out, "],\"samples\":[");
    for (int i = 0; i < n; i++)
        fprintf(bp_opt.out, "%s%.1f", i ? "," : "", r->med[i]);
    fprintf(bp_opt.out, "]}\n");
    fflush(bp_opt.out);
    fprintf(stderr, "  %-4s %-26s %-8s rtt %10.1f ns [%.1f – %.1f]  p99 %.1f  x%zu\n", suite, bench, workload, med,
            m[0], m[n - 1], median_of(p, n), rtts_per_rep);
    free(m);
    free(p);
    free(q);
    free(a);
}

void
bp_rtt_free(bp_rtt *r)
{
    free(r->med);
    free(r->p99);
    free(r->p999);
    free(r->mean);
    free(r->q);
    memset(r, 0, sizeof *r);
}

void
bp_measure(const char *suite, const char *bench, const char *workload, size_t bytes, bp_rep_fn fn, void *ctx)
{
    if (!bp_wanted(bench)) return;
    size_t ops = 1;
    for (;;) {
        uint64_t t = fn(ctx, ops);
        if ((double)t >= bp_opt.target_ns) break;
        double f = t > 0 ? bp_opt.target_ns * 1.2 / (double)t : 100.0;
        if (f < 2.0) f = 2.0;
        if (f > 100.0) f = 100.0;
        ops = (size_t)ceil((double)ops * f);
    }
    int n = bp_opt.reps;
    double *samples = malloc((size_t)n * sizeof *samples);
    if (!samples) abort();
    for (int r = 0; r < n; r++)
        samples[r] = (double)fn(ctx, ops) / (double)ops;
    bp_emit_ns(suite, bench, workload, bytes, samples, n, ops);
    free(samples);
}

size_t
bp_tput_n(wl_id id)
{
    switch (id) {
    case WL_W1:
        return bp_opt.quick ? 50000 : 200000;
    case WL_W2:
        return bp_opt.quick ? 500 : 2000;
    default:
        return bp_opt.quick ? 50 : 200; /* W6_1M */
    }
}

size_t
bp_pingpong_k(bool spinning)
{
    if (spinning) return bp_opt.quick ? 5000 : 20000;
    return bp_opt.quick ? 300 : 2000;
}

int
bp_oneway_ops(size_t bytes, bool copy)
{
    if (copy && bytes >= (64u << 20)) return bp_opt.quick ? 1 : 2;
    if (copy && bytes >= (8u << 20)) return bp_opt.quick ? 2 : 5;
    return bp_opt.quick ? 11 : 51; /* a wake-up is noisy: many samples, each cheap */
}

int
bp_oneway_warmups(size_t bytes, bool copy)
{
    return copy && bytes >= (8u << 20) ? 1 : 2;
}

/* ---- msgport: the worker side ------------------------------------------------------ */

enum job_mode { JOB_TPUT, JOB_ECHO, JOB_ONEWAY };

typedef struct job {
    enum job_mode mode;
    wl_id wl;            /* WL_COUNT: a number */
    unsigned spin;       /* ECHO: mp_port_set_spin on the worker's port */
    bool transfer;       /* ONEWAY */
    size_t buf_bytes;    /* ONEWAY: the ArrayBuffer's size; 0: a number */
    _Atomic uint64_t t0; /* ONEWAY: clock before the post */
    _Atomic int failed;
    char why[600];
} job;

static void
job_fail(job *j, const char *what, mp_status st, const mp_error_info *err)
{
    if (atomic_exchange(&j->failed, 1)) return;
    snprintf(j->why, sizeof j->why, "worker %s: %s %s", what, mp_strerror(st), err ? err->detail : "");
}

static mp_status
build_value(wl_id id, mp_realm *realm, mp_value *out)
{
    if (id == WL_COUNT) {
        *out = mp_number(42);
        return MP_OK;
    }
    wl_data *d = wl_generate(id);
    if (!d) return MP_ENOMEM;
    mp_status st = wl_build(d, realm, out);
    wl_data_free(d);
    return st;
}

/* An ArrayBuffer holding the first `bytes` bytes of the W6 fill. */
static mp_status
build_buffer(size_t bytes, mp_realm *realm, mp_value *out)
{
    void *fill = bp_w6_fill(bytes);
    if (!fill) return MP_ENOMEM;
    mp_status st = mp_arraybuffer_new(realm, bytes, out);
    void *data;
    size_t len;
    if (st == MP_OK && (st = mp_arraybuffer_data(*out, &data, &len)) == MP_OK) memcpy(data, fill, len);
    free(fill);
    return st;
}

static int
job_entry(mp_worker_ctx *ctx)
{
    job *j = ctx->arg;
    bp_pin_other();
    mp_error_info err;
    memset(&err, 0, sizeof err);
    mp_value v = mp_undefined(), in;
    mp_status st;
    if (j->mode == JOB_ONEWAY && j->buf_bytes > 0)
        st = build_buffer(j->buf_bytes, ctx->realm, &v);
    else if (j->mode != JOB_ECHO)
        st = build_value(j->wl, ctx->realm, &v);
    else
        st = MP_OK;
    if (st != MP_OK) {
        job_fail(j, "build", st, NULL);
        return 1;
    }
    if (j->mode == JOB_ECHO && j->spin) mp_port_set_spin(ctx->port, j->spin);
    mp_value roots[3] = {ctx->port, ctx->worker_data, v};
    unsigned since = 0;
    for (;;) {
        st = mp_port_receive(ctx->port, NULL, MP_PORT_FOREVER, &in, &err);
        if (st == MP_ECLOSED) break;
        if (st != MP_OK) {
            job_fail(j, "receive", st, &err);
            return 1;
        }
        switch (j->mode) {
        case JOB_TPUT:
            /* "go" carries the count (warm-up: a tenth) */
            for (size_t i = 0, n = (size_t)mp_number_value(in); i < n; i++)
                if ((st = mp_port_post(ctx->port, v, NULL, 0, &err)) != MP_OK) {
                    job_fail(j, "post", st, &err);
                    return 1;
                }
            break;
        case JOB_ECHO:
            if ((st = mp_port_post(ctx->port, in, NULL, 0, &err)) != MP_OK) {
                job_fail(j, "post", st, &err);
                return 1;
            }
            break;
        case JOB_ONEWAY: {
            /* Transfer mode alternates: the buffer came back, so a number
             * goes next (the floor, measured between the transfers) */
            bool floor = j->transfer && mp_kind_of(in) == MP_ARRAYBUFFER;
            if (floor) v = in;
            struct timespec d = {0, 200000};
            nanosleep(&d, NULL);
            atomic_store_explicit(&j->t0, bp_now_ns(), memory_order_release);
            mp_value tl = v;
            if (floor)
                st = mp_port_post(ctx->port, mp_number(1), NULL, 0, &err);
            else
                st = mp_port_post(ctx->port, v, &tl, j->transfer ? 1 : 0, &err);
            if (st != MP_OK) {
                job_fail(j, "post", st, &err);
                return 1;
            }
            break;
        }
        }
        if (++since >= 256 || j->mode == JOB_ONEWAY) {
            roots[2] = v;
            mp_realm_collect(ctx->realm, roots, 3);
            since = 0;
        }
    }
    return 0;
}

/* ---- msgport: the main side ------------------------------------------------------------- */

typedef struct lib_ctx {
    mp_realm *pr;  /* the parent's realm: the ports live here */
    mp_realm *rx;  /* received values, collected with no roots */
    mp_realm *src; /* values main posts */
} lib_ctx;

static bool
start_job(lib_ctx *L, job *j, mp_worker **w, const char *bench, const char *wl)
{
    mp_error_info err;
    memset(&err, 0, sizeof err);
    mp_status st = mp_worker_start(L->pr, NULL, job_entry, j, mp_undefined(), NULL, 0, w, &err);
    if (st != MP_OK) {
        char t[700];
        snprintf(t, sizeof t, "mp_worker_start: %s %s", mp_strerror(st), err.detail);
        bp_emit_error("lib", bench, wl, t);
        return false;
    }
    return true;
}

static void
stop_job(lib_ctx *L, mp_worker *w, const char *bench, const char *wl, job *j)
{
    mp_port_close(mp_worker_port(w));
    int code = 0;
    mp_worker_join(w, &code);
    mp_realm_collect(L->pr, NULL, 0);
    mp_realm_collect(L->rx, NULL, 0);
    if (atomic_load(&j->failed)) bp_emit_error("lib", bench, wl, j->why);
}

static const char *
wl_name(wl_id id)
{
    return id == WL_COUNT ? "int" : wl_info_of(id)->name;
}

static size_t
wire_bytes(mp_value v)
{
    mp_message *m = NULL;
    if (mp_serialize(v, NULL, 0, &m, NULL) != MP_OK) return 0;
    const void *b;
    size_t len;
    mp_message_bytes(m, &b, &len);
    mp_message_free(m);
    return len;
}

static void
lib_tput(lib_ctx *L, wl_id id)
{
    const char *bench = "lib_port_tput", *wl = wl_name(id);
    if (!bp_wanted(bench)) return;
    size_t n = bp_tput_n(id);
    unsigned every = id == WL_W1 ? 1024 : id == WL_W2 ? 16 : 1;
    job j = {.mode = JOB_TPUT, .wl = id};
    mp_worker *w;
    if (!start_job(L, &j, &w, bench, wl)) return;
    mp_value port = mp_worker_port(w);
    mp_value ref;
    size_t bytes = 0;
    if (build_value(id, L->src, &ref) == MP_OK) bytes = wire_bytes(ref);
    int reps = bp_opt.reps;
    double *samples = calloc((size_t)reps, sizeof *samples);
    mp_error_info err;
    memset(&err, 0, sizeof err);
    mp_value v = mp_undefined();
    bool ok = true;
    for (int r = -1; r < reps && ok; r++) { /* r = -1: warm-up, a tenth of n (as Node's) */
        size_t count = r < 0 ? (n / 10 ? n / 10 : 1) : n;
        uint64_t t0 = bp_now_ns();
        mp_status st = mp_port_post(port, mp_number((double)count), NULL, 0, &err);
        for (size_t i = 0; i < count && st == MP_OK; i++) {
            st = mp_port_receive(port, L->rx, MP_PORT_FOREVER, &v, &err);
            if (st == MP_OK && (i + 1) % every == 0 && i + 1 < count) mp_realm_collect(L->rx, NULL, 0);
        }
        uint64_t t1 = bp_now_ns();
        if (st != MP_OK) {
            char t[700];
            snprintf(t, sizeof t, "main: %s %s", mp_strerror(st), err.detail);
            bp_emit_error("lib", bench, wl, t);
            ok = false;
            break;
        }
        if (r >= 0) samples[r] = (double)(t1 - t0) / (double)n;
        if (r == -1 && !mp_graph_equal(v, ref, NULL)) {
            bp_emit_error("lib", bench, wl, "received value differs from the workload");
            ok = false;
        }
        mp_realm_collect(L->rx, NULL, 0);
    }
    if (ok) bp_emit_ns("lib", bench, wl, bytes, samples, reps, n);
    free(samples);
    stop_job(L, w, bench, wl, &j);
    mp_realm_collect(L->src, NULL, 0);
}

static void
lib_pingpong(lib_ctx *L, wl_id id, bool spinning)
{
    const char *bench = "lib_port_pingpong";
    char wl[32];
    snprintf(wl, sizeof wl, "%s%s", wl_name(id), spinning ? "_spin" : "");
    if (!bp_wanted(bench) || !bp_wanted_workload(wl)) return;
    unsigned spin = spinning ? 200000 : 0;
    job j = {.mode = JOB_ECHO, .wl = id, .spin = spin};
    mp_worker *w;
    if (!start_job(L, &j, &w, bench, wl)) return;
    mp_value port = mp_worker_port(w);
    if (spin) mp_port_set_spin(port, spin);
    mp_value val;
    if (build_value(id, L->src, &val) != MP_OK) {
        bp_emit_error("lib", bench, wl, "build");
        stop_job(L, w, bench, wl, &j);
        return;
    }
    size_t bytes = wire_bytes(val);
    size_t k = bp_pingpong_k(spinning);
    double *rtts = malloc(k * sizeof *rtts);
    bp_rtt R;
    bp_rtt_init(&R, bp_opt.reps);
    mp_error_info err;
    memset(&err, 0, sizeof err);
    bool ok = true;
    for (int r = -1; r < bp_opt.reps && ok; r++) {
        size_t kk = r < 0 ? k / 5 + 1 : k;
        for (size_t i = 0; i < kk; i++) {
            mp_value back;
            uint64_t t0 = bp_now_ns();
            mp_status st = mp_port_post(port, val, NULL, 0, &err);
            if (st == MP_OK) st = mp_port_receive(port, L->rx, MP_PORT_FOREVER, &back, &err);
            uint64_t t1 = bp_now_ns();
            if (st != MP_OK) {
                char t[700];
                snprintf(t, sizeof t, "main: %s %s", mp_strerror(st), err.detail);
                bp_emit_error("lib", bench, wl, t);
                ok = false;
                break;
            }
            if (r < 0 && i == 0 && !mp_graph_equal(back, val, NULL)) {
                bp_emit_error("lib", bench, wl, "echoed value differs");
                ok = false;
                break;
            }
            rtts[i] = (double)(t1 - t0);
            if ((i & 255) == 255) mp_realm_collect(L->rx, NULL, 0);
        }
        if (ok && r >= 0) bp_rtt_add_rep(&R, rtts, k);
    }
    if (ok) bp_rtt_emit(&R, "lib", bench, wl, bytes, k);
    bp_rtt_free(&R);
    free(rtts);
    stop_job(L, w, bench, wl, &j);
    mp_realm_collect(L->src, NULL, 0);
}

/* buf NULL: a number (the wake-up floor, "lib_oneway int"). Transfer mode
 * alternates a transferred buffer and a number, and emits the numbers'
 * figure too, as lib_oneway "int@<workload>": the floor taken in the same
 * moments as the transfers, so that the two can be compared although a
 * wake-up on this kind of machine drifts by more than the difference. */
static void
lib_oneway(lib_ctx *L, const bp_buf *buf, bool transfer)
{
    const char *bench = !buf ? "lib_oneway" : transfer ? "lib_buf_oneway_transfer" : "lib_buf_oneway_copy";
    const char *wl = buf ? buf->name : "int";
    if (!bp_wanted(bench)) return;
    size_t bytes = buf ? buf->bytes : 0;
    job j = {.mode = JOB_ONEWAY, .wl = WL_COUNT, .transfer = transfer, .buf_bytes = bytes};
    mp_worker *w;
    if (!start_job(L, &j, &w, bench, wl)) return;
    mp_value port = mp_worker_port(w);
    int ops = bp_oneway_ops(bytes, !transfer), warm = bp_oneway_warmups(bytes, !transfer);
    double *samples = calloc((size_t)ops, sizeof *samples), *floors = calloc((size_t)ops, sizeof *floors);
    if (!samples || !floors) abort();
    mp_error_info err;
    memset(&err, 0, sizeof err);
    mp_value got = mp_undefined();
    bool ok = true;
    int n = -warm, n_floor = -warm;
    while (ok && (n < ops || (transfer && n_floor < ops))) {
        mp_status st;
        if (transfer && mp_kind_of(got) == MP_ARRAYBUFFER)
            st = mp_port_post(port, got, &got, 1, &err);
        else
            st = mp_port_post(port, mp_number(n), NULL, 0, &err);
        mp_realm_collect(L->rx, NULL, 0);
        if (st == MP_OK) st = mp_port_receive(port, L->rx, MP_PORT_FOREVER, &got, &err);
        uint64_t t1 = bp_now_ns();
        if (st != MP_OK) {
            char t[700];
            snprintf(t, sizeof t, "main: %s %s", mp_strerror(st), err.detail);
            bp_emit_error("lib", bench, wl, t);
            ok = false;
            break;
        }
        double dt = (double)(t1 - atomic_load_explicit(&j.t0, memory_order_acquire));
        if (buf && mp_kind_of(got) != MP_ARRAYBUFFER) { /* a floor sample */
            if (n_floor >= 0 && n_floor < ops) floors[n_floor] = dt;
            n_floor++;
            continue;
        }
        if (n >= 0 && n < ops) samples[n] = dt;
        n++;
        if (buf && mp_arraybuffer_byte_length(got) != bytes) {
            bp_emit_error("lib", bench, wl, "received buffer has the wrong size");
            ok = false;
        }
    }
    if (ok) bp_emit_ns("lib", bench, wl, buf ? bytes : 9, samples, ops, 1);
    if (ok && transfer) {
        char name[64];
        snprintf(name, sizeof name, "int@%s", wl);
        bp_emit_ns("lib", "lib_oneway", name, 9, floors, ops, 1);
    }
    free(samples);
    free(floors);
    stop_job(L, w, bench, wl, &j);
}

/* The worker's exit code says whether its workerData arrived ({id: 1}). */
static int
start_exit_entry(mp_worker_ctx *ctx)
{
    mp_value id;
    return mp_object_get_utf8(ctx->worker_data, "id", &id) == MP_OK && mp_kind_of(id) == MP_NUMBER &&
                   mp_number_value(id) == 1
               ? 0
               : 1;
}

/* The same, and one number posted to main first (Node's bench does this). */
static int
start_post_exit_entry(mp_worker_ctx *ctx)
{
    if (start_exit_entry(ctx) != 0) return 1;
    return mp_port_post(ctx->port, mp_number(1), NULL, 0, NULL) == MP_OK ? 0 : 1;
}

typedef struct start_ctx {
    lib_ctx *L;
    mp_value wd;
    bool post; /* the worker posts a number, which main receives before the join */
    mp_status fail;
} start_ctx;

static uint64_t
rep_start_exit(void *p, size_t ops)
{
    start_ctx *S = p;
    uint64_t t0 = bp_now_ns();
    for (size_t i = 0; i < ops; i++) {
        mp_worker *w;
        mp_status st = mp_worker_start(S->L->pr, NULL, S->post ? start_post_exit_entry : start_exit_entry, NULL, S->wd,
                                       NULL, 0, &w, NULL);
        if (st != MP_OK) {
            S->fail = st;
            break;
        }
        if (S->post) {
            mp_value v;
            st = mp_port_receive(mp_worker_port(w), S->L->rx, MP_PORT_FOREVER, &v, NULL);
            if (st != MP_OK) S->fail = st;
        }
        int code = 0;
        mp_worker_join(w, &code);
        if (code != 0) S->fail = MP_ETHREAD;
        if ((i & 63) == 63) {
            mp_realm_collect(S->L->pr, &S->wd, 1);
            mp_realm_collect(S->L->rx, NULL, 0);
        }
    }
    uint64_t t1 = bp_now_ns();
    mp_realm_collect(S->L->pr, &S->wd, 1);
    mp_realm_collect(S->L->rx, NULL, 0);
    return t1 - t0;
}

static void
lib_start_exit(lib_ctx *L, bool post)
{
    const char *bench = post ? "lib_thread_start_post_exit" : "lib_thread_start_exit";
    if (!bp_wanted(bench)) return;
    start_ctx S = {.L = L, .post = post, .fail = MP_OK};
    if (mp_object_new(L->pr, &S.wd) != MP_OK || mp_object_set_utf8(S.wd, "id", mp_number(1)) != MP_OK) {
        bp_emit_error("lib", bench, "-", "workerData");
        return;
    }
    bp_measure("lib", bench, "-", 0, rep_start_exit, &S);
    if (S.fail != MP_OK) bp_emit_error("lib", bench, "-", mp_strerror(S.fail));
    mp_realm_collect(L->pr, NULL, 0);
}

static void
run_lib(void)
{
    lib_ctx L;
    if (mp_realm_new(NULL, &L.pr) != MP_OK || mp_realm_new(NULL, &L.rx) != MP_OK ||
        mp_realm_new(NULL, &L.src) != MP_OK) {
        fprintf(stderr, "mp_realm_new failed\n");
        exit(1);
    }
    lib_tput(&L, WL_W1);
    lib_tput(&L, WL_W2);
    lib_tput(&L, WL_W6_1M);
    lib_pingpong(&L, WL_COUNT, false);
    lib_pingpong(&L, WL_W1, false);
    lib_pingpong(&L, WL_COUNT, true);
    lib_pingpong(&L, WL_W1, true);
    lib_oneway(&L, NULL, false);
    for (int i = 0; i < BP_NBUF; i++) {
        if (bp_opt.quick && bp_bufs[i].full_only) continue;
        lib_oneway(&L, &bp_bufs[i], false);
        lib_oneway(&L, &bp_bufs[i], true);
    }
    lib_start_exit(&L, false);
    lib_start_exit(&L, true);
    mp_realm_free(L.src);
    mp_realm_free(L.rx);
    mp_realm_free(L.pr);
}

/* ---- main ------------------------------------------------------------------------------------ */

int
main(int argc, char **argv)
{
    bp_opt.out = stdout;
    bp_opt.lib = bp_opt.c = true;
    bp_opt.pin_main = bp_opt.pin_other = -1;
    snprintf(bp_opt.run, sizeof bp_opt.run, "r%ld", (long)time(NULL));
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--quick") == 0) {
            bp_opt.quick = true;
        } else if (strcmp(a, "--lib-only") == 0) {
            bp_opt.c = false;
        } else if (strcmp(a, "--c-only") == 0) {
            bp_opt.lib = false;
        } else if (strcmp(a, "--reps") == 0 && val) {
            bp_opt.reps = atoi(val);
            i++;
        } else if (strcmp(a, "--pin-pair") == 0 && val) {
            if (sscanf(val, "%d,%d", &bp_opt.pin_main, &bp_opt.pin_other) != 2 || bp_opt.pin_main < 0 ||
                bp_opt.pin_other < 0) {
                fprintf(stderr, "--pin-pair wants two CPU numbers: A,B\n");
                return 2;
            }
            i++;
        } else if (strcmp(a, "--run") == 0 && val) {
            snprintf(bp_opt.run, sizeof bp_opt.run, "%s", val);
            i++;
        } else if (strcmp(a, "--bench") == 0 && val) {
            bp_opt.bench_filter = val;
            i++;
        } else if (strcmp(a, "--workloads") == 0 && val) {
            bp_opt.wl_filter = val;
            i++;
        } else if (strcmp(a, "--out") == 0 && val) {
            bp_opt.out = fopen(val, "a");
            if (!bp_opt.out) {
                fprintf(stderr, "%s: %s\n", val, strerror(errno));
                return 1;
            }
            i++;
        } else {
            fprintf(stderr, "usage: bench_port [--quick] [--reps N] [--run ID] [--bench a,b] [--workloads a,b] "
                            "[--lib-only|--c-only] [--pin-pair A,B] [--out FILE]\n");
            return strcmp(a, "--help") == 0 ? 0 : 2;
        }
    }
    if (bp_opt.reps <= 0) bp_opt.reps = bp_opt.quick ? 3 : 11;
    if (bp_opt.pin_main >= 0) {
        /* threads made later inherit this until they call bp_pin_other */
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(bp_opt.pin_main, &set);
        if (sched_setaffinity(0, sizeof set, &set) != 0) {
            fprintf(stderr, "bench_port: cannot pin to CPU %d: %s; running unpinned\n", bp_opt.pin_main,
                    strerror(errno));
            bp_opt.pin_main = bp_opt.pin_other = -1;
        }
    }
    bp_opt.target_ns = (bp_opt.quick ? 10.0 : 20.0) * 1e6;
    fprintf(stderr, "bench_port: run %s, build %s, %d reps%s\n", bp_opt.run, MSGPORT_BENCH_BUILD, bp_opt.reps,
            bp_opt.quick ? " (quick)" : "");
    if (bp_opt.lib) run_lib();
    if (bp_opt.c) bp_run_baselines();
    if (bp_opt.out != stdout) fclose(bp_opt.out);
    return 0;
}
