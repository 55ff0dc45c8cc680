/* Stress: NT threads, each with its own realm, post, receive, close and
 * transfer MessageChannel ports at random for MSGPORT_STRESS_SECONDS
 * (default 10), then check that nothing was lost and nothing leaked.
 *
 * Topology. Every pair of threads shares one permanent *control* channel
 * (never closed, never transferred, until the end) and starts with one
 * *data* channel. Data ports are what the threads play with: posting,
 * receiving, closing (the peer's owner then sees the close event),
 * making new channels (one end kept, the other shipped to another thread)
 * and transferring held ports to another thread. Ports travel only over
 * control channels, so a port can never end up queued inside itself or in
 * a cycle of in-flight ports (which nothing could ever read or free).
 *
 * Every data port end has an id (eid; the two ends of a channel are 2k and
 * 2k+1). g_sent[eid] counts the posts on that end that returned MP_OK; the
 * message carries {s: eid, q: seq} with seq = g_sent[eid] before the post.
 * The receiving end keeps rexp, the next seq it expects; a transferred
 * port carries its rexp in the control message, so the adopter continues.
 *
 * "Nothing lost", exactly as checked: for every data channel end R with
 * peer P (the only source of R's messages),
 *   (1) every message R receives has s == P and q == rexp(R), then rexp
 *       is incremented: FIFO, no gaps, no duplicates, nothing forged, no
 *       matter how often R and P moved between threads;
 *   (2) when R receives MP_ECLOSED (P's close event; R is never closed
 *       while held), rexp(R) == g_sent[P]: every post on P that returned
 *       MP_OK before P was closed was received by R before the close event;
 *   (3) at the end, after every thread stopped posting and the control
 *       queues were drained (adopting the ports in flight), every held R
 *       is drained and rexp(R) == g_sent[P] again.
 * Messages still queued on a port that its owner closes are released with
 * what they own, and not counted: the standard's close semantics. Posts
 * that return MP_ENOPEER (peer closed) must have detached nothing: the
 * ArrayBuffer keeps its length and bytes. A transferred ArrayBuffer or a
 * SharedArrayBuffer arrives with the bytes the sender wrote.
 *
 * "Nothing leaked": every realm uses one counting allocator; after every
 * thread closed its ports and freed its realm, live bytes are 0.
 *
 * CUnit is not thread-safe: the threads record failures, the main thread
 * asserts. Seeds: MSGPORT_STRESS_SEED (default 0x5eed), thread i uses
 * seed + i with mulberry32. */
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "testutil.h"

#define NT 6             /* threads */
#define POOL_LOW 3       /* fewer data ports than this: make a channel */
#define POOL_HIGH 12     /* more than this: do not adopt, close instead */
#define SLOTS 256        /* room for what the final drain adopts */
#define MAX_CHANNELS (1u << 19)
#define COLLECT_EVERY 256

typedef struct slot {
    mp_value port;
    uint32_t eid;
    uint64_t rexp; /* next seq expected from eid ^ 1 */
} slot;

typedef struct thr {
    int id;
    uint32_t seed;
    uint32_t rng;
    mp_realm *realm;
    mp_value ctl[NT]; /* ctl[j]: this thread's end of the control channel to j */
    slot s[SLOTS];
    int n;
    unsigned long long posts, posts_ab, posts_sab, posts_nopeer, recvs, closes, peer_closes, xfer_out, xfer_in,
        channels, final_checked;
    int fails;
    char first[512];
} thr;

static thr g_thr[NT];
static mpt_alloc g_alloc;
static _Atomic uint64_t *g_sent; /* [2 * MAX_CHANNELS] */
static atomic_uint g_next_channel;
static atomic_bool g_channels_exhausted;
static pthread_barrier_t g_barrier;
static struct timespec g_deadline;

/* ---- helpers ------------------------------------------------------------ */

static uint32_t
mulberry32(uint32_t *state)
{
    uint32_t z = (*state += 0x6D2B79F5u);
    z = (z ^ (z >> 15)) * (z | 1u);
    z ^= z + (z ^ (z >> 7)) * (z | 61u);
    return z ^ (z >> 14);
}

static uint32_t
rnd(thr *t, uint32_t n)
{
    return mulberry32(&t->rng) % n;
}

static void fail_at(thr *t, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
fail_at(thr *t, int line, const char *fmt, ...)
{
    if (t->fails++ == 0) {
        int k = snprintf(t->first, sizeof t->first, "thread %d (seed 0x%x), line %d: ", t->id, t->seed, line);
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(t->first + k, sizeof t->first - (size_t)k, fmt, ap);
        va_end(ap);
        fprintf(stderr, "FAIL %s\n", t->first);
    }
}

#define CHECK(t, cond, ...)                                \
    do {                                                   \
        if (!(cond)) fail_at((t), __LINE__, __VA_ARGS__); \
    } while (0)

static bool
past_deadline(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec > g_deadline.tv_sec || (now.tv_sec == g_deadline.tv_sec && now.tv_nsec >= g_deadline.tv_nsec);
}

static uint8_t
pattern(uint32_t eid, uint64_t seq, size_t i)
{
    return (uint8_t)(eid * 31u + (uint32_t)seq * 7u + (uint32_t)i * 13u + 1u);
}

static bool
alloc_channel(uint32_t *eid)
{
    unsigned c = atomic_fetch_add(&g_next_channel, 1);
    if (c >= MAX_CHANNELS) {
        atomic_store(&g_channels_exhausted, true);
        return false;
    }
    *eid = 2u * c;
    return true;
}

static bool
get_num(mp_value o, const char *key, double *out)
{
    mp_value v;
    if (mp_object_get_utf8(o, key, &v) != MP_OK || mp_kind_of(v) != MP_NUMBER) return false;
    *out = mp_number_value(v);
    return true;
}

static void
set_num(thr *t, mp_value o, const char *key, double d)
{
    mp_status st = mp_object_set_utf8(o, key, mp_number(d));
    CHECK(t, st == MP_OK, "object_set %s: %s", key, mp_strerror(st));
}

static void
add_slot(thr *t, mp_value port, uint32_t eid, uint64_t rexp)
{
    if (t->n >= SLOTS) { /* cannot happen with these limits; keep it safe */
        mp_port_close(port);
        t->closes++;
        return;
    }
    t->s[t->n++] = (slot){port, eid, rexp};
}

static void
remove_slot(thr *t, int i)
{
    t->s[i] = t->s[--t->n];
}

static void
collect(thr *t)
{
    mp_value roots[NT + SLOTS];
    size_t k = 0;
    for (int j = 0; j < NT; j++)
        if (j != t->id) roots[k++] = t->ctl[j];
    for (int i = 0; i < t->n; i++) roots[k++] = t->s[i].port;
    mp_realm_collect(t->realm, roots, k);
}

/* ---- operations ----------------------------------------------------------- */

static void
op_post(thr *t)
{
    slot *sl = &t->s[rnd(t, (uint32_t)t->n)];
    uint64_t q = atomic_load(&g_sent[sl->eid]);
    mp_value o, ab = mp_undefined();
    mp_status st = mp_object_new(t->realm, &o);
    if (st != MP_OK) {
        CHECK(t, 0, "object_new: %s", mp_strerror(st));
        return;
    }
    set_num(t, o, "s", sl->eid);
    set_num(t, o, "q", (double)q);
    uint32_t kind = rnd(t, 8);
    size_t len = 8 + rnd(t, 57);
    if (kind == 0) { /* a transferred ArrayBuffer */
        uint8_t *d;
        size_t l;
        st = mp_arraybuffer_new(t->realm, len, &ab);
        CHECK(t, st == MP_OK, "arraybuffer_new: %s", mp_strerror(st));
        if (st != MP_OK) return;
        mp_arraybuffer_data(ab, (void **)&d, &l);
        for (size_t i = 0; i < len; i++) d[i] = pattern(sl->eid, q, i);
        mp_object_set_utf8(o, "ab", ab);
    } else if (kind == 1) { /* a SharedArrayBuffer */
        mp_value sab;
        uint8_t *d;
        size_t l;
        st = mp_sab_new(t->realm, len, &sab);
        CHECK(t, st == MP_OK, "sab_new: %s", mp_strerror(st));
        if (st != MP_OK) return;
        mp_sab_data(sab, (void **)&d, &l);
        for (size_t i = 0; i < len; i++) d[i] = pattern(sl->eid, q, i);
        mp_object_set_utf8(o, "sab", sab);
    }
    mp_error_info err;
    st = mp_port_post(sl->port, o, kind == 0 ? &ab : NULL, kind == 0 ? 1 : 0, &err);
    if (st == MP_OK) {
        atomic_store(&g_sent[sl->eid], q + 1);
        t->posts++;
        t->posts_ab += kind == 0;
        t->posts_sab += kind == 1;
        if (kind == 0)
            CHECK(t, mp_arraybuffer_is_detached(ab) && mp_arraybuffer_byte_length(ab) == 0,
                  "eid %u seq %llu: transferred ArrayBuffer not detached after MP_OK", sl->eid,
                  (unsigned long long)q);
    } else if (st == MP_ENOPEER) {
        t->posts_nopeer++;
        if (kind == 0) {
            uint8_t *d = NULL;
            size_t l = 0;
            bool intact = !mp_arraybuffer_is_detached(ab) && mp_arraybuffer_data(ab, (void **)&d, &l) == MP_OK &&
                          l == len;
            for (size_t i = 0; intact && i < len; i++) intact = d[i] == pattern(sl->eid, q, i);
            CHECK(t, intact, "eid %u: post failed with MP_ENOPEER but the ArrayBuffer was touched", sl->eid);
        }
    } else {
        CHECK(t, 0, "post on held eid %u: %s (%s)", sl->eid, mp_strerror(st), err.detail);
    }
}

static void
check_data(thr *t, slot *sl, mp_value v)
{
    double s, q;
    if (mp_kind_of(v) != MP_OBJECT || !get_num(v, "s", &s) || !get_num(v, "q", &q)) {
        CHECK(t, 0, "eid %u: malformed message (kind %s)", sl->eid, mp_kind_name(mp_kind_of(v)));
        return;
    }
    uint32_t peer = sl->eid ^ 1u;
    CHECK(t, (uint32_t)s == peer, "eid %u: message from eid %u, expected %u", sl->eid, (uint32_t)s, peer);
    CHECK(t, (uint64_t)q == sl->rexp, "eid %u <- %u: seq %llu, expected %llu (%s)", sl->eid, peer,
          (unsigned long long)q, (unsigned long long)sl->rexp, (uint64_t)q > sl->rexp ? "gap" : "duplicate/reorder");
    sl->rexp = (uint64_t)q + 1;
    t->recvs++;
    mp_value b;
    if (mp_object_get_utf8(v, "ab", &b) == MP_OK) {
        uint8_t *d = NULL;
        size_t l = 0;
        bool ok = mp_kind_of(b) == MP_ARRAYBUFFER && mp_arraybuffer_data(b, (void **)&d, &l) == MP_OK && l >= 8 &&
                  l <= 64;
        for (size_t i = 0; ok && i < l; i++) ok = d[i] == pattern(peer, (uint64_t)q, i);
        CHECK(t, ok, "eid %u seq %llu: transferred ArrayBuffer arrived wrong (len %zu)", sl->eid,
              (unsigned long long)q, l);
    }
    if (mp_object_get_utf8(v, "sab", &b) == MP_OK) {
        uint8_t *d = NULL;
        size_t l = 0;
        bool ok = mp_kind_of(b) == MP_SHAREDARRAYBUFFER && mp_sab_data(b, (void **)&d, &l) == MP_OK && l >= 8 &&
                  l <= 64;
        for (size_t i = 0; ok && i < l; i++) ok = d[i] == pattern(peer, (uint64_t)q, i);
        CHECK(t, ok, "eid %u seq %llu: SharedArrayBuffer arrived wrong (len %zu)", sl->eid, (unsigned long long)q,
              l);
    }
}

/* One receive on slot i. Returns MP_OK (got one), MP_EAGAIN/MP_ETIMEDOUT
 * (nothing), MP_ECLOSED (peer closed: checked, slot removed). */
static mp_status
recv_slot(thr *t, int i, int64_t timeout_ms)
{
    slot *sl = &t->s[i];
    mp_value v;
    mp_error_info err;
    mp_status st = timeout_ms == 0 ? mp_port_try_receive(sl->port, NULL, &v, &err)
                                   : mp_port_receive(sl->port, NULL, timeout_ms, &v, &err);
    if (st == MP_OK) {
        check_data(t, sl, v);
    } else if (st == MP_ECLOSED) {
        uint64_t sent = atomic_load(&g_sent[sl->eid ^ 1u]);
        CHECK(t, sl->rexp == sent, "eid %u: close event after %llu messages, but the peer %u had %llu accepted",
              sl->eid, (unsigned long long)sl->rexp, sl->eid ^ 1u, (unsigned long long)sent);
        CHECK(t, mp_port_is_closed(sl->port), "eid %u: MP_ECLOSED but not is_closed", sl->eid);
        mp_port_close(sl->port);
        t->peer_closes++;
        remove_slot(t, i);
    } else if (st != MP_EAGAIN && st != MP_ETIMEDOUT) {
        CHECK(t, 0, "receive on eid %u: %s (%s)", sl->eid, mp_strerror(st), err.detail);
    }
    return st;
}

static void
drain_slot(thr *t, int i)
{
    while (recv_slot(t, i, 0) == MP_OK) {
    }
}

/* Ships port (end eid, rexp) to thread j over the control channel. */
static bool
ship(thr *t, int j, mp_value port, uint32_t eid, uint64_t rexp)
{
    mp_value o;
    mp_status st = mp_object_new(t->realm, &o);
    if (st != MP_OK) {
        CHECK(t, 0, "object_new: %s", mp_strerror(st));
        return false;
    }
    mp_object_set_utf8(o, "port", port);
    set_num(t, o, "id", eid);
    set_num(t, o, "r", (double)rexp);
    mp_error_info err;
    st = mp_port_post(t->ctl[j], o, &port, 1, &err);
    CHECK(t, st == MP_OK, "ship eid %u to %d: %s (%s)", eid, j, mp_strerror(st), err.detail);
    if (st != MP_OK) {
        CHECK(t, !mp_port_is_closed(port), "failed ship of eid %u detached the port", eid);
        return false;
    }
    CHECK(t, mp_port_is_closed(port), "eid %u: shipped port not detached", eid);
    mp_value v;
    CHECK(t, mp_port_try_receive(port, NULL, &v, NULL) == MP_ECLOSED, "eid %u: shipped port still receives", eid);
    t->xfer_out++;
    return true;
}

static int
other_thread(thr *t)
{
    int j = (int)rnd(t, NT - 1);
    return j >= t->id ? j + 1 : j;
}

static void
op_new_channel(thr *t)
{
    uint32_t e;
    if (!alloc_channel(&e)) return;
    mp_value a, b;
    mp_status st = mp_channel_new(t->realm, NULL, &a, &b);
    if (st != MP_OK) {
        CHECK(t, 0, "channel_new: %s", mp_strerror(st));
        return;
    }
    t->channels++;
    add_slot(t, a, e, 0);
    ship(t, other_thread(t), b, e + 1, 0);
}

static void
op_transfer(thr *t)
{
    int i = (int)rnd(t, (uint32_t)t->n);
    slot sl = t->s[i];
    if (ship(t, other_thread(t), sl.port, sl.eid, sl.rexp)) remove_slot(t, i);
}

static void
op_close(thr *t)
{
    int i = (int)rnd(t, (uint32_t)t->n);
    mp_port_close(t->s[i].port);
    CHECK(t, mp_port_post(t->s[i].port, mp_number(0), NULL, 0, NULL) == MP_ECLOSED, "eid %u: post after close",
          t->s[i].eid);
    t->closes++;
    remove_slot(t, i);
}

/* Adopts the ports waiting on the control channels. */
static void
poll_control(thr *t, bool final)
{
    for (int j = 0; j < NT; j++) {
        if (j == t->id) continue;
        for (;;) {
            mp_value o, p;
            mp_error_info err;
            mp_status st = mp_port_try_receive(t->ctl[j], NULL, &o, &err);
            if (st == MP_EAGAIN) break;
            if (st != MP_OK) {
                CHECK(t, 0, "control receive from %d: %s (%s)", j, mp_strerror(st), err.detail);
                break;
            }
            double id, r;
            if (mp_kind_of(o) != MP_OBJECT || mp_object_get_utf8(o, "port", &p) != MP_OK ||
                mp_kind_of(p) != MP_PORT || !get_num(o, "id", &id) || !get_num(o, "r", &r)) {
                CHECK(t, 0, "malformed control message from %d", j);
                continue;
            }
            CHECK(t, mp_value_realm(p) == t->realm, "adopted port eid %u not in my realm", (uint32_t)id);
            CHECK(t, !mp_port_is_closed(p), "adopted port eid %u arrived closed", (uint32_t)id);
            t->xfer_in++;
            if (!final && t->n >= POOL_HIGH) { /* pool full: close it (its peer sees close) */
                mp_port_close(p);
                t->closes++;
            } else {
                add_slot(t, p, (uint32_t)id, (uint64_t)r);
            }
        }
    }
}

static void
one_op(thr *t)
{
    if (t->n < POOL_LOW && !atomic_load(&g_channels_exhausted)) op_new_channel(t);
    uint32_t r = rnd(t, 1000);
    if (t->n == 0) {
        poll_control(t, false);
        return;
    }
    if (r < 420) {
        op_post(t);
    } else if (r < 720) {
        recv_slot(t, (int)rnd(t, (uint32_t)t->n), 0);
    } else if (r < 760) {
        recv_slot(t, (int)rnd(t, (uint32_t)t->n), 1); /* a short blocking wait */
    } else if (r < 840) {
        poll_control(t, false);
    } else if (r < 850) {
        op_close(t);
    } else if (r < 870) {
        op_transfer(t);
    } else if (r < 880) {
        if (t->n < POOL_HIGH) op_new_channel(t);
    } else {
        for (int i = t->n - 1; i >= 0; i--) drain_slot(t, i);
    }
}

static void *
thread_main(void *arg)
{
    thr *t = arg;
    unsigned long long ops = 0;
    while (!past_deadline()) {
        for (int k = 0; k < 64; k++) {
            one_op(t);
            if (++ops % COLLECT_EVERY == 0) collect(t);
        }
    }
    /* Everybody stops posting. */
    pthread_barrier_wait(&g_barrier);
    /* Adopt every port in flight (only control channels carry ports, and
     * no one posts any more), then drain every held port. */
    poll_control(t, true);
    for (int i = t->n - 1; i >= 0; i--) drain_slot(t, i);
    /* (3): every accepted post on the peer of a held port was received. */
    for (int i = 0; i < t->n; i++) {
        slot *sl = &t->s[i];
        uint64_t sent = atomic_load(&g_sent[sl->eid ^ 1u]);
        CHECK(t, sl->rexp == sent, "end: eid %u received %llu, peer %u had %llu accepted", sl->eid,
              (unsigned long long)sl->rexp, sl->eid ^ 1u, (unsigned long long)sent);
        t->final_checked++;
    }
    pthread_barrier_wait(&g_barrier);
    for (int i = 0; i < t->n; i++) mp_port_close(t->s[i].port);
    for (int j = 0; j < NT; j++)
        if (j != t->id) mp_port_close(t->ctl[j]);
    mp_realm_collect(t->realm, NULL, 0);
    CHECK(t, mp_realm_get_stats(t->realm).values == 0, "values left after collecting with no roots");
    mp_realm_free(t->realm);
    t->realm = NULL;
    return NULL;
}

/* ---- the test ----------------------------------------------------------------- */

static void
test_stress_ports(void)
{
    const char *env = getenv("MSGPORT_STRESS_SECONDS");
    double seconds = env && *env ? atof(env) : 10.0;
    if (seconds < 0) seconds = 0;
    env = getenv("MSGPORT_STRESS_SEED");
    uint32_t seed = env && *env ? (uint32_t)strtoul(env, NULL, 0) : 0x5eedu;

    mpt_alloc_init(&g_alloc);
    g_sent = calloc(2u * MAX_CHANNELS, sizeof *g_sent);
    CU_ASSERT_FATAL(g_sent != NULL);
    for (size_t i = 0; i < 2u * MAX_CHANNELS; i++) atomic_init(&g_sent[i], 0);
    atomic_init(&g_next_channel, 0);
    atomic_init(&g_channels_exhausted, false);
    memset(g_thr, 0, sizeof g_thr);

    for (int i = 0; i < NT; i++) {
        g_thr[i].id = i;
        g_thr[i].seed = g_thr[i].rng = seed + (uint32_t)i;
        CU_ASSERT_EQUAL_FATAL(mp_realm_new(&g_alloc.alc, &g_thr[i].realm), MP_OK);
    }
    for (int i = 0; i < NT; i++)
        for (int j = i + 1; j < NT; j++) {
            CU_ASSERT_EQUAL_FATAL(mp_channel_new(g_thr[i].realm, g_thr[j].realm, &g_thr[i].ctl[j], &g_thr[j].ctl[i]),
                                  MP_OK);
            uint32_t e = 0;
            CU_ASSERT_FATAL(alloc_channel(&e));
            mp_value a, b;
            CU_ASSERT_EQUAL_FATAL(mp_channel_new(g_thr[i].realm, g_thr[j].realm, &a, &b), MP_OK);
            add_slot(&g_thr[i], a, e, 0);
            add_slot(&g_thr[j], b, e + 1, 0);
        }

    clock_gettime(CLOCK_MONOTONIC, &g_deadline);
    g_deadline.tv_sec += (time_t)seconds;
    g_deadline.tv_nsec += (long)((seconds - (double)(time_t)seconds) * 1e9);
    if (g_deadline.tv_nsec >= 1000000000L) {
        g_deadline.tv_sec++;
        g_deadline.tv_nsec -= 1000000000L;
    }
    CU_ASSERT_FATAL(pthread_barrier_init(&g_barrier, NULL, NT) == 0);
    pthread_t th[NT];
    for (int i = 0; i < NT; i++) CU_ASSERT_FATAL(pthread_create(&th[i], NULL, thread_main, &g_thr[i]) == 0);
    for (int i = 0; i < NT; i++) pthread_join(th[i], NULL);
    pthread_barrier_destroy(&g_barrier);

    unsigned long long tot[11] = {0};
    int fails = 0;
    printf("\nstress_ports: %d threads, %.1f s, base seed 0x%x (MSGPORT_STRESS_SEED)\n", NT, seconds, seed);
    for (int i = 0; i < NT; i++) {
        thr *t = &g_thr[i];
        printf("  thread %d seed 0x%x: posts %llu (ab %llu, sab %llu, enopeer %llu) receives %llu closes %llu "
               "peer-closes %llu transfers out %llu in %llu channels %llu final-checked %llu fails %d\n",
               i, t->seed, t->posts, t->posts_ab, t->posts_sab, t->posts_nopeer, t->recvs, t->closes, t->peer_closes,
               t->xfer_out, t->xfer_in, t->channels, t->final_checked, t->fails);
        unsigned long long v[11] = {t->posts,       t->posts_ab, t->posts_sab, t->posts_nopeer,
                                    t->recvs,       t->closes,   t->peer_closes, t->xfer_out,
                                    t->xfer_in,     t->channels, t->final_checked};
        for (int k = 0; k < 11; k++) tot[k] += v[k];
        fails += t->fails;
        if (t->fails) printf("  FIRST FAILURE %s\n", t->first);
    }
    printf("  total: posts %llu (ab %llu, sab %llu, enopeer %llu) receives %llu closes %llu peer-closes %llu "
           "transfers out %llu in %llu channels %llu final-checked %llu; peak live bytes %lld, live after free "
           "%lld\n",
           tot[0], tot[1], tot[2], tot[3], tot[4], tot[5], tot[6], tot[7], tot[8], tot[9], tot[10],
           (long long)atomic_load(&g_alloc.peak_bytes), (long long)atomic_load(&g_alloc.live_bytes));
    fflush(stdout);

    CU_ASSERT_EQUAL(fails, 0);
    /* Every shipped port was adopted at the end. */
    CU_ASSERT_EQUAL(tot[7], tot[8]);
    /* The run did something. */
    CU_ASSERT(seconds == 0 || (tot[0] > 0 && tot[4] > 0));
    CU_ASSERT_FALSE(atomic_load(&g_channels_exhausted));
    CU_ASSERT_EQUAL(atomic_load(&g_alloc.live_bytes), 0);
    free(g_sent);
    g_sent = NULL;
}

int
main(void)
{
    static const mpt_test tests[] = {
        {"random posts, closes and port transfers between threads", test_stress_ports},
        {NULL, NULL},
    };
    return mpt_run("stress_ports", tests);
}
