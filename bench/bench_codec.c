/* bench_codec — msgport's codec beside msgpack-c on the workloads of
 * ../shared/WORKLOADS.md, one JSON line per figure (the schema there).
 *
 *   suite "c":   msgpack_pack_unpack, msgpack_pack, msgpack_unpack,
 *                dom_deep_copy, memcpy_malloc (W3b, W6_*)
 *   suite "lib": lib_clone, lib_encode, lib_decode, lib_clone_direct,
 *                lib_clone_transfer and lib_clone_direct_transfer (W3b, W6_*)
 *   plus one "digest" line per workload (metric "digest": match or not).
 *
 * What one operation is (all of it inside the timed region unless said):
 *   msgpack_pack         msgpack_sbuffer_clear + wl_pack (the sbuffer is
 *                        reused, so after the first op it never reallocates:
 *                        the floor, not a fresh-buffer figure)
 *   msgpack_unpack       msgpack_unpack_next into one reused msgpack_unpacked
 *                        (each call frees the previous zone and makes a new
 *                        one: msgpack-c's own per-message allocation cost)
 *   msgpack_pack_unpack  both of the above
 *   lib_encode           mp_serialize + mp_message_free
 *   lib_decode           mp_realm_collect(target, NULL, 0) (frees the previous
 *                        op's graph) + mp_deserialize (which frees the
 *                        message). The messages are made with
 *                        mp_message_from_bytes before the timed loop.
 *   lib_clone            mp_realm_collect(target, NULL, 0) + mp_serialize +
 *                        mp_deserialize into that one reused target realm
 *   lib_clone_direct     mp_realm_collect(target, NULL, 0) + mp_clone
 *   lib_clone_transfer   mp_serialize with the buffer in the transfer list +
 *                        mp_realm_collect of the other realm + mp_deserialize
 *                        there; the result is the next op's source (the
 *                        source was detached), ping-ponging between 2 realms
 *   lib_clone_direct_transfer  the same with mp_clone
 *   memcpy_malloc        malloc + memcpy + free of the buffer's bytes
 *   dom_deep_copy        a plain C tree copy: the unpacked msgpack_object tree
 *                        copied node by node with malloc (one per array, map,
 *                        str and bin), then freed; the floor of a direct clone
 *
 * Timing: clock_gettime(CLOCK_MONOTONIC) around a batch of ops; the batch
 * size is calibrated (the calibration runs double as warm-up) so that one
 * repetition lasts at least --target-ms; each repetition gives one sample,
 * ns per op. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "workloads.h"

#ifndef MSGPORT_BENCH_BUILD
#define MSGPORT_BENCH_BUILD "unknown"
#endif

/* ---- options ------------------------------------------------------------ */

typedef struct opts {
    bool quick;
    int reps;
    double target_ns;
    char run[64];
    int pin_cpu; /* -1: not pinned */
    bool check_only;
    bool want[WL_COUNT];
    const char *bench_filter; /* comma-separated bench names, NULL = all */
    size_t fixed_ops;         /* > 0: no calibration, this many ops per repetition */
    FILE *out;
} opts;

static opts g_opt;

static uint64_t
now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static bool
bench_wanted(const char *name)
{
    if (!g_opt.bench_filter) return true;
    size_t n = strlen(name);
    const char *p = g_opt.bench_filter;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (l == n && strncmp(p, name, n) == 0) return true;
        if (!e) break;
        p = e + 1;
    }
    return false;
}

/* ---- per-workload state ------------------------------------------------------ */

typedef struct wl_state {
    wl_id id;
    const wl_info *info;
    wl_data *data;

    /* msgpack-c */
    msgpack_sbuffer packed; /* the data packed once, input of msgpack_unpack */
    msgpack_sbuffer sb;     /* scratch for msgpack_pack */
    msgpack_packer pk;
    msgpack_unpacked up;
    msgpack_unpacked dom_src; /* `packed` unpacked once, for dom_deep_copy */

    /* msgport */
    mp_realm *src;
    mp_value v;
    mp_realm *dst;
    uint8_t *wire; /* mp_serialize(v)'s bytes, input of lib_decode */
    size_t wire_len;
    mp_message **msgs;
    size_t cap_msgs;
    mp_realm *xa, *xb; /* transfer ping-pong */
    mp_value cur;
    bool cur_in_a;
    uint8_t *scratch; /* memcpy_malloc source */
    size_t scratch_len;

    /* failure inside a timed loop */
    mp_status fail;
    char fail_what[96];
    mp_error_info err;
} wl_state;

static volatile uint64_t g_sink;

static bool
failed(wl_state *s, mp_status st, const char *what)
{
    if (st == MP_OK) return false;
    if (s->fail == MP_OK) {
        s->fail = st;
        snprintf(s->fail_what, sizeof s->fail_what, "%s", what);
    }
    return true;
}

/* ---- the operations ------------------------------------------------------------ */

typedef uint64_t (*rep_fn)(wl_state *s, size_t ops);
/* Runs before each timed batch, untimed; may fail through s->fail. */
typedef void (*prep_fn)(wl_state *s, size_t ops);

static uint64_t
rep_msgpack_pack(wl_state *s, size_t ops)
{
    uint64_t t0 = now_ns();
    for (size_t i = 0; i < ops; i++) {
        msgpack_sbuffer_clear(&s->sb);
        if (wl_pack(s->data, &s->pk) != 0) {
            failed(s, MP_ENOMEM, "wl_pack");
            break;
        }
    }
    uint64_t t1 = now_ns();
    g_sink += s->sb.size;
    return t1 - t0;
}

static uint64_t
rep_msgpack_unpack(wl_state *s, size_t ops)
{
    uint64_t t0 = now_ns();
    for (size_t i = 0; i < ops; i++) {
        size_t off = 0;
        if (msgpack_unpack_next(&s->up, s->packed.data, s->packed.size, &off) != MSGPACK_UNPACK_SUCCESS) {
            failed(s, MP_EDECODE, "msgpack_unpack_next");
            break;
        }
    }
    uint64_t t1 = now_ns();
    g_sink += s->up.data.type;
    return t1 - t0;
}

static uint64_t
rep_msgpack_pack_unpack(wl_state *s, size_t ops)
{
    uint64_t t0 = now_ns();
    for (size_t i = 0; i < ops; i++) {
        msgpack_sbuffer_clear(&s->sb);
        if (wl_pack(s->data, &s->pk) != 0) {
            failed(s, MP_ENOMEM, "wl_pack");
            break;
        }
        size_t off = 0;
        if (msgpack_unpack_next(&s->up, s->sb.data, s->sb.size, &off) != MSGPACK_UNPACK_SUCCESS) {
            failed(s, MP_EDECODE, "msgpack_unpack_next");
            break;
        }
    }
    uint64_t t1 = now_ns();
    g_sink += s->up.data.type;
    return t1 - t0;
}

static uint64_t
rep_memcpy_malloc(wl_state *s, size_t ops)
{
    uint64_t t0 = now_ns();
    for (size_t i = 0; i < ops; i++) {
        uint8_t *p = malloc(s->scratch_len);
        if (!p) {
            failed(s, MP_ENOMEM, "malloc");
            break;
        }
        memcpy(p, s->scratch, s->scratch_len);
        g_sink += p[s->scratch_len - 1];
        free(p);
    }
    return now_ns() - t0;
}

/* Recursive: the packable workloads nest at most 5 levels. */
static bool
dom_copy(const msgpack_object *o, msgpack_object *d)
{
    *d = *o;
    switch (o->type) {
    case MSGPACK_OBJECT_STR:
    case MSGPACK_OBJECT_BIN: {
        uint32_t n = o->via.str.size;
        char *p = malloc(n ? n : 1);
        if (!p) return false;
        memcpy(p, o->via.str.ptr, n);
        d->via.str.ptr = p;
        return true;
    }
    case MSGPACK_OBJECT_ARRAY: {
        uint32_t n = o->via.array.size;
        d->via.array.ptr = malloc((n ? n : 1) * sizeof(msgpack_object));
        if (!d->via.array.ptr) return false;
        for (uint32_t i = 0; i < n; i++)
            if (!dom_copy(&o->via.array.ptr[i], &d->via.array.ptr[i])) return false;
        return true;
    }
    case MSGPACK_OBJECT_MAP: {
        uint32_t n = o->via.map.size;
        d->via.map.ptr = malloc((n ? n : 1) * sizeof(msgpack_object_kv));
        if (!d->via.map.ptr) return false;
        for (uint32_t i = 0; i < n; i++)
            if (!dom_copy(&o->via.map.ptr[i].key, &d->via.map.ptr[i].key) ||
                !dom_copy(&o->via.map.ptr[i].val, &d->via.map.ptr[i].val))
                return false;
        return true;
    }
    default:
        return true;
    }
}

static void
dom_free(msgpack_object *o)
{
    switch (o->type) {
    case MSGPACK_OBJECT_STR:
    case MSGPACK_OBJECT_BIN:
        free((void *)o->via.str.ptr);
        break;
    case MSGPACK_OBJECT_ARRAY:
        for (uint32_t i = 0; i < o->via.array.size; i++)
            dom_free(&o->via.array.ptr[i]);
        free(o->via.array.ptr);
        break;
    case MSGPACK_OBJECT_MAP:
        for (uint32_t i = 0; i < o->via.map.size; i++) {
            dom_free(&o->via.map.ptr[i].key);
            dom_free(&o->via.map.ptr[i].val);
        }
        free(o->via.map.ptr);
        break;
    default:
        break;
    }
}

static uint64_t
rep_dom_deep_copy(wl_state *s, size_t ops)
{
    uint64_t t0 = now_ns();
    for (size_t i = 0; i < ops; i++) {
        msgpack_object copy;
        if (!dom_copy(&s->dom_src.data, &copy)) {
            /* only out of memory; a partial copy is leaked, the run stops */
            failed(s, MP_ENOMEM, "dom_copy");
            break;
        }
        g_sink += copy.type;
        dom_free(&copy);
    }
    return now_ns() - t0;
}

static uint64_t
rep_lib_encode(wl_state *s, size_t ops)
{
    uint64_t t0 = now_ns();
    for (size_t i = 0; i < ops; i++) {
        mp_message *m;
        if (failed(s, mp_serialize(s->v, NULL, 0, &m, &s->err), "mp_serialize")) break;
        mp_message_free(m);
    }
    return now_ns() - t0;
}

/* lib_decode's messages, made before each timed batch (outside rep_*, so
 * callgrind --toggle-collect='rep_*' counts the decoding only). */
static void
prepare_lib_decode(wl_state *s, size_t ops)
{
    if (ops > s->cap_msgs) {
        mp_message **p = realloc(s->msgs, ops * sizeof *p);
        if (!p) {
            failed(s, MP_ENOMEM, "realloc");
            return;
        }
        s->msgs = p;
        s->cap_msgs = ops;
    }
    for (size_t i = 0; i < ops; i++) {
        if (failed(s, mp_message_from_bytes(s->wire, s->wire_len, NULL, &s->msgs[i]), "mp_message_from_bytes")) {
            for (size_t k = 0; k < i; k++)
                mp_message_free(s->msgs[k]);
            return;
        }
    }
}

static uint64_t
rep_lib_decode(wl_state *s, size_t ops)
{
    size_t i = 0;
    mp_value out = mp_undefined();
    uint64_t t0 = now_ns();
    for (; i < ops; i++) {
        mp_realm_collect(s->dst, NULL, 0);
        if (failed(s, mp_deserialize(s->msgs[i], s->dst, NULL, &out, &s->err), "mp_deserialize")) {
            i++;
            break;
        }
    }
    uint64_t t1 = now_ns();
    for (; i < ops; i++)
        mp_message_free(s->msgs[i]);
    g_sink += mp_kind_of(out);
    return t1 - t0;
}

static uint64_t
rep_lib_clone(wl_state *s, size_t ops)
{
    mp_value out = mp_undefined();
    uint64_t t0 = now_ns();
    for (size_t i = 0; i < ops; i++) {
        mp_message *m;
        mp_realm_collect(s->dst, NULL, 0);
        if (failed(s, mp_serialize(s->v, NULL, 0, &m, &s->err), "mp_serialize")) break;
        if (failed(s, mp_deserialize(m, s->dst, NULL, &out, &s->err), "mp_deserialize")) break;
    }
    uint64_t t1 = now_ns();
    g_sink += mp_kind_of(out);
    return t1 - t0;
}

static uint64_t
rep_lib_clone_direct(wl_state *s, size_t ops)
{
    mp_value out = mp_undefined();
    uint64_t t0 = now_ns();
    for (size_t i = 0; i < ops; i++) {
        mp_realm_collect(s->dst, NULL, 0);
        if (failed(s, mp_clone(s->v, s->dst, NULL, 0, &out, &s->err), "mp_clone")) break;
    }
    uint64_t t1 = now_ns();
    g_sink += mp_kind_of(out);
    return t1 - t0;
}

static uint64_t
rep_lib_clone_transfer(wl_state *s, size_t ops)
{
    uint64_t t0 = now_ns();
    for (size_t i = 0; i < ops; i++) {
        mp_realm *to = s->cur_in_a ? s->xb : s->xa;
        mp_value xfer = wl_transfer_buffer(s->cur);
        mp_message *m;
        if (failed(s, mp_serialize(s->cur, &xfer, 1, &m, &s->err), "mp_serialize(transfer)")) break;
        mp_realm_collect(to, NULL, 0);
        if (failed(s, mp_deserialize(m, to, NULL, &s->cur, &s->err), "mp_deserialize(transfer)")) break;
        s->cur_in_a = !s->cur_in_a;
    }
    return now_ns() - t0;
}

static uint64_t
rep_lib_clone_direct_transfer(wl_state *s, size_t ops)
{
    uint64_t t0 = now_ns();
    for (size_t i = 0; i < ops; i++) {
        mp_realm *to = s->cur_in_a ? s->xb : s->xa;
        mp_value xfer = wl_transfer_buffer(s->cur);
        mp_realm_collect(to, NULL, 0);
        if (failed(s, mp_clone(s->cur, to, &xfer, 1, &s->cur, &s->err), "mp_clone(transfer)")) break;
        s->cur_in_a = !s->cur_in_a;
    }
    return now_ns() - t0;
}

/* ---- measuring and reporting ------------------------------------------------------ */

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void
json_head(const char *suite, const char *bench, const char *workload)
{
    fprintf(g_opt.out,
            "{\"run\":\"%s\",\"suite\":\"%s\",\"build\":\"%s\",\"pinned\":%s,\"bench\":\"%s\",\"workload\":\"%s\"",
            g_opt.run, suite, MSGPORT_BENCH_BUILD, g_opt.pin_cpu >= 0 ? "true" : "false", bench, workload);
}

static void
json_string(const char *key, const char *s)
{
    fprintf(g_opt.out, ",\"%s\":\"", key);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(g_opt.out, "\\%c", c);
        else if (c < 0x20)
            fprintf(g_opt.out, "\\u%04x", c);
        else
            fputc(c, g_opt.out);
    }
    fputc('"', g_opt.out);
}

static void
report_failure(const char *suite, const char *bench, wl_state *s)
{
    char text[1024];
    snprintf(text, sizeof text, "%s: %s%s%s%s%s", s->fail_what, mp_strerror(s->fail), s->err.detail[0] ? " — " : "",
             s->err.detail, s->err.path[0] ? " at " : "", s->err.path);
    json_head(suite, bench, s->info->name);
    fprintf(g_opt.out, ",\"metric\":\"error\"");
    json_string("error", text);
    fprintf(g_opt.out, "}\n");
    fflush(g_opt.out);
    fprintf(stderr, "  %-26s %-7s FAILED: %s\n", bench, s->info->name, text);
    s->fail = MP_OK;
    memset(&s->err, 0, sizeof s->err);
}

static uint64_t
run_batch(wl_state *s, size_t ops, rep_fn fn, prep_fn prep)
{
    if (prep) {
        prep(s, ops);
        if (s->fail != MP_OK) return 0;
    }
    return fn(s, ops);
}

/* One figure: `reps` repetitions of a batch of *ops ops. *ops 0: calibrated
 * here first (the calibration runs are the warm-up) and kept for the next
 * call, so serve mode calibrates once per workload and bench. */
static void
measure_prep(const char *suite, const char *bench, wl_state *s, size_t bytes, rep_fn fn, prep_fn prep, size_t *ops_io)
{
    if (!bench_wanted(bench)) return;
    s->fail = MP_OK;
    memset(&s->err, 0, sizeof s->err);
    size_t ops = g_opt.fixed_ops ? g_opt.fixed_ops : *ops_io ? *ops_io : 1;
    bool calibrate = !g_opt.fixed_ops && *ops_io == 0;
    while (calibrate) {
        uint64_t t = run_batch(s, ops, fn, prep);
        if (s->fail != MP_OK) {
            report_failure(suite, bench, s);
            return;
        }
        if ((double)t >= g_opt.target_ns) break;
        double f = t > 0 ? g_opt.target_ns * 1.2 / (double)t : 100.0;
        if (f < 2.0) f = 2.0;
        if (f > 100.0) f = 100.0;
        ops = (size_t)ceil((double)ops * f);
    }
    *ops_io = ops;
    int n = g_opt.reps;
    double *samples = malloc((size_t)n * sizeof *samples);
    double *sorted = malloc((size_t)n * sizeof *sorted);
    if (!samples || !sorted) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    for (int r = 0; r < n; r++) {
        uint64_t t = run_batch(s, ops, fn, prep);
        if (s->fail != MP_OK) {
            report_failure(suite, bench, s);
            free(samples);
            free(sorted);
            return;
        }
        samples[r] = (double)t / (double)ops;
    }
    memcpy(sorted, samples, (size_t)n * sizeof *sorted);
    qsort(sorted, (size_t)n, sizeof *sorted, cmp_double);
    double med = (n % 2) ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    json_head(suite, bench, s->info->name);
    fprintf(
        g_opt.out,
        ",\"metric\":\"ns_per_op\",\"unit\":\"ns\",\"median\":%.1f,\"min\":%.1f,\"max\":%.1f,\"n\":%d,\"bytes\":%zu,"
        "\"ops_per_s\":%.0f,\"mb_per_s\":%.1f,\"ops_per_rep\":%zu,\"samples\":[",
        med, sorted[0], sorted[n - 1], n, bytes, 1e9 / med, (double)bytes * 1e3 / med, ops);
    for (int r = 0; r < n; r++)
        fprintf(g_opt.out, "%s%.1f", r ? "," : "", samples[r]);
    fprintf(g_opt.out, "]}\n");
    fflush(g_opt.out);
    fprintf(stderr, "  %-26s %-7s %12.1f ns/op  [%.1f – %.1f]  x%zu\n", bench, s->info->name, med, sorted[0],
            sorted[n - 1], ops);
    free(samples);
    free(sorted);
}

/* ---- checks: digests and round trips, before anything is timed ------------------ */

static void
hex32(char out[9], uint32_t h)
{
    snprintf(out, 9, "%08" PRIx32, h);
}

/* Returns true if the codec round-trips the workload (lib benches can run). */
static bool
check_workload(wl_state *s)
{
    const wl_info *in = s->info;
    bool flat = s->id == WL_W4;
    uint32_t dv = 0, dm = 0, dc = 0, dd = 0;
    bool have_dv = wl_digest_value(s->v, flat, &dv);
    bool have_dm = false;
    if (in->packable) {
        msgpack_unpacked u;
        msgpack_unpacked_init(&u);
        size_t off = 0;
        if (msgpack_unpack_next(&u, s->packed.data, s->packed.size, &off) == MSGPACK_UNPACK_SUCCESS)
            have_dm = wl_digest_msgpack(&u.data, &dm);
        msgpack_unpacked_destroy(&u);
    }

    /* round trips through the codec */
    char codec_err[1024] = "";
    bool have_dc = false, have_dd = false, equal_c = false, equal_d = false;
    mp_error_info err;
    memset(&err, 0, sizeof err);
    mp_message *m = NULL;
    mp_status st = mp_serialize(s->v, NULL, 0, &m, &err);
    if (st == MP_OK) {
        const void *b;
        size_t len;
        mp_message_bytes(m, &b, &len);
        s->wire = malloc(len ? len : 1);
        if (!s->wire) {
            fprintf(stderr, "out of memory\n");
            exit(1);
        }
        memcpy(s->wire, b, len);
        s->wire_len = len;
        mp_value out;
        st = mp_deserialize(m, s->dst, NULL, &out, &err);
        if (st == MP_OK) {
            have_dc = wl_digest_value(out, flat, &dc);
            equal_c = mp_graph_equal(s->v, out, NULL);
        } else {
            snprintf(codec_err, sizeof codec_err, "mp_deserialize: %s %s %s", mp_strerror(st), err.detail, err.path);
        }
    } else {
        snprintf(codec_err, sizeof codec_err, "mp_serialize: %s %s %s", mp_strerror(st), err.detail, err.path);
    }
    mp_realm_collect(s->dst, NULL, 0);
    mp_value outd;
    memset(&err, 0, sizeof err);
    mp_status std = mp_clone(s->v, s->dst, NULL, 0, &outd, &err);
    if (std == MP_OK) {
        have_dd = wl_digest_value(outd, flat, &dd);
        equal_d = mp_graph_equal(s->v, outd, NULL);
    } else if (!codec_err[0]) {
        snprintf(codec_err, sizeof codec_err, "mp_clone: %s %s %s", mp_strerror(std), err.detail, err.path);
    }
    mp_realm_collect(s->dst, NULL, 0);

    char hv[9] = "-", he[9], hm[9] = "-", hc[9] = "-", hd[9] = "-";
    if (have_dv) hex32(hv, dv);
    hex32(he, in->expected_digest);
    if (have_dm) hex32(hm, dm);
    if (have_dc) hex32(hc, dc);
    if (have_dd) hex32(hd, dd);
    bool match = have_dv && dv == in->expected_digest;
    bool codec_ok = st == MP_OK && have_dc && dc == dv && equal_c;
    bool direct_ok = std == MP_OK && have_dd && dd == dv && equal_d;

    json_head("lib", "digest", in->name);
    fprintf(g_opt.out,
            ",\"metric\":\"digest\",\"digest\":\"%s\",\"expected\":\"%s\",\"match\":%s,\"words_canonical\":false,"
            "\"msgpack_digest\":\"%s\",\"msgpack_bytes\":%zu,\"expected_msgpack_bytes\":%zu,\"wire_bytes\":%zu,"
            "\"clone_digest\":\"%s\",\"clone_graph_equal\":%s,\"direct_digest\":\"%s\",\"direct_graph_equal\":%s",
            hv, he, match ? "true" : "false", hm, in->packable ? s->packed.size : 0, in->expected_msgpack, s->wire_len,
            hc, equal_c ? "true" : "false", hd, equal_d ? "true" : "false");
    if (codec_err[0]) json_string("codec_error", codec_err);
    fprintf(g_opt.out, "}\n");
    fflush(g_opt.out);

    fprintf(stderr,
            "%-7s digest %s (table %s) %s%s | msgpack %s %zu B (table %zu) | wire %zu B | clone %s %s | direct %s %s\n",
            in->name, hv, he, match ? "MATCH" : "MISMATCH",
            (!match && in->uses_words) ? " (WORDS list differs from WORKLOADS.md's (not published to us))" : "", hm,
            in->packable ? s->packed.size : 0, in->expected_msgpack, s->wire_len, hc, codec_ok ? "ok" : "BAD", hd,
            direct_ok ? "ok" : "BAD");
    if (codec_err[0]) fprintf(stderr, "        codec: %s\n", codec_err);
    return codec_ok || direct_ok;
}

/* ---- one workload ------------------------------------------------------------------ */

static int
sbuffer_write(void *data, const char *buf, size_t len)
{
    return msgpack_sbuffer_write(data, buf, len);
}

static void
die_status(const char *what, mp_status st)
{
    fprintf(stderr, "%s: %s\n", what, mp_strerror(st));
    exit(1);
}

/* What a bench needs of the workload's state. */
enum bench_need { NEED_PACKED, NEED_DOM, NEED_SCRATCH, NEED_WIRE, NEED_VALUE, NEED_XFER };

typedef struct bench_def {
    const char *suite, *name;
    enum bench_need need;
    rep_fn fn;
    prep_fn prep;
} bench_def;

/* msgpack-c and msgport alternate, so a shift in machine load during one
 * workload hits both sides. */
static const bench_def g_benches[] = {
    {"c", "msgpack_pack_unpack", NEED_PACKED, rep_msgpack_pack_unpack, NULL},
    {"lib", "lib_clone", NEED_WIRE, rep_lib_clone, NULL},
    {"c", "dom_deep_copy", NEED_DOM, rep_dom_deep_copy, NULL},
    {"lib", "lib_clone_direct", NEED_VALUE, rep_lib_clone_direct, NULL},
    {"c", "msgpack_pack", NEED_PACKED, rep_msgpack_pack, NULL},
    {"lib", "lib_encode", NEED_WIRE, rep_lib_encode, NULL},
    {"c", "msgpack_unpack", NEED_PACKED, rep_msgpack_unpack, NULL},
    {"lib", "lib_decode", NEED_WIRE, rep_lib_decode, prepare_lib_decode},
    {"c", "memcpy_malloc", NEED_SCRATCH, rep_memcpy_malloc, NULL},
    {"lib", "lib_clone_transfer", NEED_XFER, rep_lib_clone_transfer, NULL},
    {"lib", "lib_clone_direct_transfer", NEED_XFER, rep_lib_clone_direct_transfer, NULL},
};
#define N_BENCHES (sizeof g_benches / sizeof g_benches[0])

/* The payload size in msgpack-c's format for suite c, msgport's wire for lib. */
static size_t
bench_bytes(const wl_state *s, const bench_def *b)
{
    switch (b->need) {
    case NEED_PACKED:
    case NEED_DOM:
        return s->packed.size;
    case NEED_SCRATCH:
        return s->scratch_len;
    default:
        return s->wire_len;
    }
}

static bool
bench_applies(const wl_state *s, const bench_def *b)
{
    switch (b->need) {
    case NEED_PACKED:
        return s->info->packable;
    case NEED_DOM:
        return s->info->packable && s->dom_src.zone != NULL;
    case NEED_SCRATCH:
        return s->scratch_len > 0;
    case NEED_WIRE:
        return s->wire != NULL;
    case NEED_VALUE:
        return true;
    case NEED_XFER:
        return s->xa != NULL;
    }
    return false;
}

static void
load_workload(wl_state *s, wl_id id)
{
    memset(s, 0, sizeof *s);
    s->id = id;
    s->info = wl_info_of(id);
    s->data = wl_generate(id);
    if (!s->data) {
        fprintf(stderr, "%s: generation failed\n", s->info->name);
        exit(1);
    }
    msgpack_sbuffer_init(&s->packed);
    msgpack_sbuffer_init(&s->sb);
    msgpack_packer_init(&s->pk, &s->sb, sbuffer_write);
    msgpack_unpacked_init(&s->up);
    msgpack_unpacked_init(&s->dom_src);
    if (s->info->packable) {
        msgpack_packer pk;
        msgpack_packer_init(&pk, &s->packed, sbuffer_write);
        if (wl_pack(s->data, &pk) != 0) {
            fprintf(stderr, "%s: packing failed\n", s->info->name);
            exit(1);
        }
        size_t off = 0;
        if (msgpack_unpack_next(&s->dom_src, s->packed.data, s->packed.size, &off) != MSGPACK_UNPACK_SUCCESS)
            fprintf(stderr, "%s: msgpack-c cannot unpack its own packing; dom_deep_copy skipped\n", s->info->name);
    }
    mp_status st;
    if ((st = mp_realm_new(NULL, &s->src)) != MP_OK) die_status("mp_realm_new", st);
    if ((st = mp_realm_new(NULL, &s->dst)) != MP_OK) die_status("mp_realm_new", st);
    if ((st = wl_build(s->data, s->src, &s->v)) != MP_OK) die_status("wl_build", st);
    if (!check_workload(s))
        fprintf(stderr, "  %s: codec does not round-trip this workload; lib benches run anyway where they can\n",
                s->info->name);
    if (s->info->has_buffer && s->info->packable && s->packed.size > 5) {
        /* the buffer's own bytes: the packed bin32 minus its 5-byte header */
        s->scratch = malloc(s->packed.size - 5);
        if (!s->scratch) die_status("malloc", MP_ENOMEM);
        s->scratch_len = s->packed.size - 5;
        memcpy(s->scratch, s->packed.data + 5, s->scratch_len);
    }
    if (s->info->has_buffer) {
        /* the transfer benches detach their source: a copy of its own, which
         * ping-pongs between xa and xb (both transfer benches share it) */
        if ((st = mp_realm_new(NULL, &s->xa)) != MP_OK) die_status("mp_realm_new", st);
        if ((st = mp_realm_new(NULL, &s->xb)) != MP_OK) die_status("mp_realm_new", st);
        if ((st = wl_build(s->data, s->xa, &s->cur)) != MP_OK) die_status("wl_build", st);
        s->cur_in_a = true;
    }
}

static void
unload_workload(wl_state *s)
{
    mp_realm_free(s->xa);
    mp_realm_free(s->xb);
    mp_realm_free(s->dst);
    mp_realm_free(s->src);
    free(s->msgs);
    free(s->wire);
    free(s->scratch);
    msgpack_unpacked_destroy(&s->up);
    msgpack_unpacked_destroy(&s->dom_src);
    msgpack_sbuffer_destroy(&s->sb);
    msgpack_sbuffer_destroy(&s->packed);
    wl_data_free(s->data);
    memset(s, 0, sizeof *s);
}

static void
run_workload(wl_id id)
{
    wl_state s;
    load_workload(&s, id);
    if (!g_opt.check_only) {
        for (size_t i = 0; i < N_BENCHES; i++) {
            const bench_def *b = &g_benches[i];
            if (!bench_applies(&s, b)) continue;
            size_t ops = 0;
            measure_prep(b->suite, b->name, &s, bench_bytes(&s, b), b->fn, b->prep, &ops);
            mp_realm_collect(s.dst, NULL, 0);
        }
    }
    unload_workload(&s);
}

/* ---- serve mode: bench/driver.py interleaves repetitions with Node's ---------------- */

/* Commands on stdin, one per line; every answer ends with a {"ctl":...} line
 * on the results stream:
 *   load W2        frees the current workload, builds W2, writes its digest
 *                  line, answers {"ctl":"ready","benches":[...]} (the benches
 *                  that apply to it, in interleaving order)
 *   rep lib_clone  one repetition (calibrated on the first call per workload,
 *                  which is the warm-up): a schema line with n 1, then
 *                  {"ctl":"done"}
 *   quit */
static void
serve(void)
{
    wl_state s;
    bool loaded = false;
    size_t ops[N_BENCHES];
    char line[256];
    g_opt.reps = 1;
    while (fgets(line, sizeof line, stdin)) {
        line[strcspn(line, "\r\n")] = 0;
        if (strncmp(line, "load ", 5) == 0) {
            wl_id id = wl_by_name(line + 5);
            if (id == WL_COUNT) {
                fprintf(g_opt.out, "{\"ctl\":\"error\",\"error\":\"unknown workload\"}\n");
                fflush(g_opt.out);
                continue;
            }
            if (loaded) unload_workload(&s);
            load_workload(&s, id);
            loaded = true;
            memset(ops, 0, sizeof ops);
            fprintf(g_opt.out, "{\"ctl\":\"ready\",\"workload\":\"%s\",\"benches\":[", s.info->name);
            bool first = true;
            for (size_t i = 0; i < N_BENCHES; i++)
                if (bench_applies(&s, &g_benches[i]) && bench_wanted(g_benches[i].name)) {
                    fprintf(g_opt.out, "%s\"%s\"", first ? "" : ",", g_benches[i].name);
                    first = false;
                }
            fprintf(g_opt.out, "]}\n");
        } else if (strncmp(line, "rep ", 4) == 0 && loaded) {
            size_t i = 0;
            while (i < N_BENCHES && strcmp(g_benches[i].name, line + 4) != 0)
                i++;
            if (i == N_BENCHES || !bench_applies(&s, &g_benches[i])) {
                fprintf(g_opt.out, "{\"ctl\":\"error\",\"error\":\"bench does not apply\"}\n");
            } else {
                const bench_def *b = &g_benches[i];
                measure_prep(b->suite, b->name, &s, bench_bytes(&s, b), b->fn, b->prep, &ops[i]);
                mp_realm_collect(s.dst, NULL, 0);
                fprintf(g_opt.out, "{\"ctl\":\"done\"}\n");
            }
        } else if (strcmp(line, "quit") == 0) {
            break;
        } else {
            fprintf(g_opt.out, "{\"ctl\":\"error\",\"error\":\"unknown command\"}\n");
        }
        fflush(g_opt.out);
    }
    if (loaded) unload_workload(&s);
}

/* ---- main ------------------------------------------------------------------------------ */

static void
usage(void)
{
    fprintf(stderr,
            "usage: bench_codec [--quick] [--reps N] [--target-ms MS] [--ops N] [--run ID] [--pin CPU]\n"
            "                   [--workloads W1,W2,...] [--bench lib_clone,...] [--check] [--out FILE] [--serve]\n"
            "JSON lines go to stdout (or FILE), progress to stderr. --ops N skips the calibration\n"
            "and runs exactly N ops per repetition (for callgrind: instructions per op). --serve reads\n"
            "commands (load W, rep BENCH, quit) from stdin: bench/driver.py interleaves them with Node's.\n");
}

int
main(int argc, char **argv)
{
    g_opt.reps = 0;
    g_opt.target_ns = 0;
    g_opt.pin_cpu = -1;
    g_opt.out = stdout;
    snprintf(g_opt.run, sizeof g_opt.run, "r%ld", (long)time(NULL));
    const char *wl_list = NULL;
    bool serve_mode = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = (i + 1 < argc) ? argv[i + 1] : NULL;
        if (strcmp(a, "--quick") == 0) {
            g_opt.quick = true;
        } else if (strcmp(a, "--check") == 0) {
            g_opt.check_only = true;
        } else if (strcmp(a, "--serve") == 0) {
            serve_mode = true;
        } else if (strcmp(a, "--reps") == 0 && val) {
            g_opt.reps = atoi(val);
            i++;
        } else if (strcmp(a, "--ops") == 0 && val) {
            g_opt.fixed_ops = (size_t)strtoull(val, NULL, 10);
            i++;
        } else if (strcmp(a, "--target-ms") == 0 && val) {
            g_opt.target_ns = atof(val) * 1e6;
            i++;
        } else if (strcmp(a, "--run") == 0 && val) {
            snprintf(g_opt.run, sizeof g_opt.run, "%s", val);
            i++;
        } else if (strcmp(a, "--pin") == 0 && val) {
            g_opt.pin_cpu = atoi(val);
            i++;
        } else if (strcmp(a, "--workloads") == 0 && val) {
            wl_list = val;
            i++;
        } else if (strcmp(a, "--bench") == 0 && val) {
            g_opt.bench_filter = val;
            i++;
        } else if (strcmp(a, "--out") == 0 && val) {
            g_opt.out = fopen(val, "a");
            if (!g_opt.out) {
                fprintf(stderr, "%s: %s\n", val, strerror(errno));
                return 1;
            }
            i++;
        } else {
            usage();
            return strcmp(a, "--help") == 0 ? 0 : 2;
        }
    }
    if (g_opt.reps <= 0) g_opt.reps = g_opt.quick ? 3 : 11;
    if (g_opt.target_ns <= 0) g_opt.target_ns = (g_opt.quick ? 10.0 : 20.0) * 1e6;
    if (wl_list) {
        char buf[256];
        snprintf(buf, sizeof buf, "%s", wl_list);
        for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            wl_id id = wl_by_name(t);
            if (id == WL_COUNT) {
                fprintf(stderr, "unknown workload %s\n", t);
                return 2;
            }
            g_opt.want[id] = true;
        }
    } else {
        for (int i = 0; i < WL_COUNT; i++)
            g_opt.want[i] = true;
    }
    if (g_opt.pin_cpu >= 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(g_opt.pin_cpu, &set);
        if (sched_setaffinity(0, sizeof set, &set) != 0) {
            fprintf(stderr, "sched_setaffinity(%d): %s; running unpinned\n", g_opt.pin_cpu, strerror(errno));
            g_opt.pin_cpu = -1;
        }
    }
    if (serve_mode) {
        fprintf(stderr, "bench_codec: run %s, build %s, serving repetitions of >= %.0f ms\n", g_opt.run,
                MSGPORT_BENCH_BUILD, g_opt.target_ns / 1e6);
        serve();
        if (g_opt.out != stdout) fclose(g_opt.out);
        return 0;
    }
    fprintf(stderr, "bench_codec: run %s, build %s, %d reps of >= %.0f ms%s\n", g_opt.run, MSGPORT_BENCH_BUILD,
            g_opt.reps, g_opt.target_ns / 1e6, g_opt.quick ? " (quick)" : "");
    for (int i = 0; i < WL_COUNT; i++)
        if (g_opt.want[i]) run_workload((wl_id)i);
    if (g_opt.out != stdout) fclose(g_opt.out);
    return 0;
}
