/* See fuzz_support.h. */
#include "fuzz_support.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "token.h"

/* ---- host objects ---------------------------------------------------------------- */

static mp_status
host_write(void *ctx, void *host_ptr, bool transferring, void **payload)
{
    (void)ctx;
    (void)transferring;
    uintptr_t *p = malloc(sizeof *p);
    if (!p) return MP_ENOMEM;
    *p = (uintptr_t)host_ptr;
    *payload = p;
    return MP_OK;
}

static mp_status
host_read(void *ctx, mp_realm *realm, void *payload, void **host_ptr)
{
    (void)ctx;
    (void)realm;
    *host_ptr = (void *)*(const uintptr_t *)payload;
    return MP_OK;
}

static void
host_free(void *ctx, void *payload)
{
    (void)ctx;
    free(payload);
}

static mp_status
host_read_fails(void *ctx, mp_realm *realm, void *payload, void **host_ptr)
{
    (void)ctx;
    (void)realm;
    (void)payload;
    (void)host_ptr;
    return MP_EDATACLONE;
}

mp_status
mpf_register_failing_host(mp_realm *r)
{
    static const mp_host_type_hooks hooks = {host_write, host_read_fails, host_free, NULL};
    return mp_realm_register_host_type(r, MPF_HOST_KNOWN, &hooks, NULL);
}

mp_status
mpf_register_hosts(mp_realm *r, bool other)
{
    static const mp_host_type_hooks hooks = {host_write, host_read, host_free, NULL};
    mp_status st = mp_realm_register_host_type(r, MPF_HOST_KNOWN, &hooks, NULL);
    if (st == MP_OK && other) st = mp_realm_register_host_type(r, MPF_HOST_OTHER, &hooks, NULL);
    return st;
}

mp_status
mpf_decode_realm(unsigned mode, mp_realm **out)
{
    mp_realm *r = NULL;
    mp_status st = mp_realm_new(mpf_allocator(), &r);
    if (st != MP_OK) return st;
    st = (mode & MPF_MODE_HOST_FAILS) ? mpf_register_failing_host(r) : mpf_register_hosts(r, false);
    if (st != MP_OK) {
        mp_realm_free(r);
        return st;
    }
    *out = r;
    return MP_OK;
}

/* ---- the harness allocator ------------------------------------------------------------ */

static unsigned long g_calls, g_fail_at;
static size_t g_live, g_peak;

/* Each block carries its size in front, so frees can be counted. */
typedef union block_head {
    size_t size;
    max_align_t align;
} block_head;

static bool
should_fail(void)
{
    return g_fail_at != 0 && ++g_calls == g_fail_at;
}

static void *
counted_malloc(size_t n)
{
    if (n > SIZE_MAX - sizeof(block_head)) return NULL;
    block_head *h = malloc(sizeof *h + n);
    if (!h) return NULL;
    h->size = n;
    g_live += n;
    if (g_live > g_peak) g_peak = g_live;
    return h + 1;
}

static void
counted_free(void *p)
{
    if (!p) return;
    block_head *h = (block_head *)p - 1;
    g_live -= h->size;
    free(h);
}

static void *
f_malloc(void *ctx, size_t n)
{
    (void)ctx;
    return should_fail() ? NULL : counted_malloc(n);
}

static void *
f_realloc(void *ctx, void *p, size_t old_n, size_t n)
{
    (void)ctx;
    (void)old_n;
    if (should_fail()) return NULL;
    if (!p) return counted_malloc(n);
    /* A move, so the peak sees both blocks as a moving realloc holds them. */
    void *q = counted_malloc(n);
    if (!q) return NULL;
    size_t before = ((block_head *)p - 1)->size;
    memcpy(q, p, before < n ? before : n);
    counted_free(p);
    return q;
}

static void
f_free(void *ctx, void *p)
{
    (void)ctx;
    counted_free(p);
}

const mp_allocator *
mpf_allocator(void)
{
    static const mp_allocator a = {NULL, f_malloc, f_realloc, f_free};
    return &a;
}

void
mpf_failing_arm(unsigned long n)
{
    g_calls = 0;
    g_fail_at = n;
}

size_t
mpf_alloc_live(void)
{
    return g_live;
}

size_t
mpf_alloc_peak(void)
{
    return g_peak;
}

void
mpf_alloc_reset_peak(void)
{
    g_peak = g_live;
}

unsigned long
mpf_fail_at(unsigned mode)
{
    static const unsigned short fib[16] = {1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233, 377, 610, 987, 1597};
    return fib[(mode >> 4) & 15u];
}

/* ---- the synthetic side tables ------------------------------------------------------- */

static void
fill(void *data, size_t n, uint8_t seed)
{
    uint8_t *p = data;
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(seed + 17u * i);
}

mp_status
mpf_make_attachments(mp_realm *r, mpf_attachments *a)
{
    mp_status st;
    void *data;
    size_t n;
    if ((st = mp_sab_new(r, 16, &a->sab0)) != MP_OK) return st;
    if ((st = mp_sab_new_growable(r, 8, 64, &a->sab1)) != MP_OK) return st;
    if ((st = mp_arraybuffer_new(r, 32, &a->ab0)) != MP_OK) return st;
    if ((st = mp_arraybuffer_new_resizable(r, 8, 32, &a->ab1)) != MP_OK) return st;
    if ((st = mp_host_new(r, MPF_HOST_KNOWN, (void *)(uintptr_t)0x7007, &a->host_known)) != MP_OK) return st;
    if ((st = mp_host_new(r, MPF_HOST_OTHER, (void *)(uintptr_t)0x9009, &a->host_other)) != MP_OK) return st;
    mp_value peer;
    if ((st = mp_channel_new(r, r, &a->port0, &peer)) != MP_OK) return st;
    if ((st = mp_channel_new(r, r, &a->port1, &peer)) != MP_OK) return st;
    if (mp_sab_data(a->sab0, &data, &n) == MP_OK) fill(data, n, 1);
    if (mp_sab_data(a->sab1, &data, &n) == MP_OK) fill(data, n, 2);
    if (mp_arraybuffer_data(a->ab0, &data, &n) == MP_OK) fill(data, n, 3);
    if (mp_arraybuffer_data(a->ab1, &data, &n) == MP_OK) fill(data, n, 4);
    return MP_OK;
}

/* Serializes [sab0, sab1, ab0, ab1, host_known, host_other] and, if
 * `ports`, port0 and port1, transferring ab0, ab1 (and the ports): the
 * side tables come from the codec itself, so they are exactly what a real
 * sender produces. */
static mp_message *
tables_message(bool ports)
{
    mp_realm *src = NULL;
    mp_message *m = NULL;
    mpf_attachments a;
    mp_value arr;
    if (mp_realm_new(NULL, &src) != MP_OK) return NULL;
    if (mpf_register_hosts(src, true) != MP_OK || mpf_make_attachments(src, &a) != MP_OK ||
        mp_array_new(src, 0, &arr) != MP_OK)
        goto out;
    const mp_value items[] = {a.sab0, a.sab1, a.ab0, a.ab1, a.host_known, a.host_other, a.port0, a.port1};
    size_t n_items = ports ? 8 : 6, n_ports = ports ? 2 : 0;
    for (size_t i = 0; i < n_items; i++)
        if (mp_array_push(arr, items[i]) != MP_OK) goto out;
    const mp_value xfer[4] = {a.ab0, a.ab1, a.port0, a.port1};
    mp_error_info err;
    mp_status st = mp_serialize(arr, xfer, 2 + n_ports, &m, &err);
    if (st != MP_OK) {
        /* Not the input's fault: the harness itself is broken. */
        mpf_report("fuzz harness: serializing the side-table graph", st, &err);
        abort();
    }
    mp_message_info info = mp_message_get_info(m);
    if (info.moved_stores != 2 || info.shared_stores != 2 || info.host_payloads != 2 || m->n_ports != n_ports) {
        fprintf(stderr,
                "fuzz harness: side tables have %zu moved, %zu shared, %zu hosts, %zu ports (want 2, 2, 2, %zu)\n",
                info.moved_stores, info.shared_stores, info.host_payloads, m->n_ports, n_ports);
        abort();
    }
out:
    /* The message holds its own references: the realm can go. */
    mp_realm_free(src);
    return m;
}

mp_message *
mpf_message(unsigned mode, const uint8_t *bytes, size_t len, bool ports)
{
    mp_message *m = NULL;
    if (mpf_skip_known_bug(mode, bytes, len)) return NULL;
    if (!(mode & MPF_MODE_TABLES)) {
        if (mp_message_from_bytes(bytes, len, mpf_allocator(), &m) != MP_OK) return NULL;
        return m;
    }
    m = tables_message(ports);
    if (!m) return NULL;
    /* Swap the codec's bytes for the input. */
    if (mpi_message_set_bytes(m, bytes, len) != MP_OK) {
        mp_message_free(m);
        return NULL;
    }
    return m;
}

/* ---- known bugs ------------------------------------------------------------------ */

bool
mpf_skip_known_bug(unsigned mode, const uint8_t *bytes, size_t len)
{
    static int enabled = -1;
    if (enabled < 0) {
        const char *e = getenv("MPF_WORKAROUNDS");
        enabled = e && strcmp(e, "1") == 0;
    }
    if (!enabled) return false;
    (void)mode;
    (void)bytes;
    (void)len;
    /* (Hash flooding, Map/Set and property keys with colliding hashes
     * making decoding quadratic, is fixed by keyed hashing in
     * src/util/hash.c; its reproducer stays in the corpus as
     * timeout-29f767f86b765e3bd199dbc600362786fbe3e5d8, made by
     * gen_hash_flood.py.) */
    /* (The first finding, an empty message decoding NULL + 0, is fixed in
     * codec/decode.c; its reproducer stays in the corpus as
     * crash-4a0a19218e082a343a1b17e5333409af9d98f0f5.) */
    return false;
}

/* ---- files ---------------------------------------------------------------------- */

uint8_t *
mpf_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, n = 0;
    uint8_t *buf = malloc(cap);
    while (buf) {
        if (n == cap) {
            uint8_t *nb = cap <= SIZE_MAX / 2 ? realloc(buf, cap * 2) : NULL;
            if (!nb) {
                free(buf);
                buf = NULL;
                errno = ENOMEM;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t k = fread(buf + n, 1, cap - n, f);
        n += k;
        if (k == 0) break;
    }
    if (buf && ferror(f)) {
        free(buf);
        buf = NULL;
        errno = EIO;
    }
    fclose(f);
    *len = n;
    return buf;
}

/* ---- the memory bound ------------------------------------------------------------- */

size_t
mpf_reserve_term(const uint8_t *bytes, size_t len, const mp_decode_limits *lim)
{
    /* A flat pass over the tokens: an ext's children follow it in the
     * stream, so every ext is met; it stops where the token reader stops,
     * as the decoder does. */
    const uint8_t *p = bytes, *end = bytes + len;
    size_t total = 0, reserved = 0;
    mpi_tok t;
    while (p < end && mpi_tok_next(&p, end, &t) == MPI_TOKE_OK) {
        if (t.t != MPI_TOK_EXT || t.ext != MPI_EXT_ARRAYBUFFER || t.n < 9 || !(t.data[0] & MPI_ABF_RESIZABLE)) continue;
        uint64_t max = mpi_le64(t.data + 1), carried = t.n - 9u;
        /* max_reserve is one budget for the whole message. */
        if (max < carried || max - carried > lim->max_reserve - reserved || max > lim->max_buffer_length)
            continue; /* refused */
        reserved += (size_t)(max - carried);
        total += (size_t)(max - carried) + (max >= MPI_HUGE_THRESHOLD ? MPI_HUGE_THRESHOLD : 0);
    }
    return total;
}

/* ---- limits ---------------------------------------------------------------------- */

mp_decode_limits
mpf_limits(unsigned mode)
{
    mp_decode_limits l = mp_decode_limits_default();
    if (mode & MPF_MODE_TIGHT) {
        l.max_depth = 16;
        l.max_bytes = 2048;
        l.max_objects = 64;
        l.max_string_length = 12; /* below an atom's 16 bytes: keys of kept shapes reach it */
        l.max_buffer_length = 64;
        l.max_reserve = 16; /* below max_buffer_length, so both limits are reachable */
    } else {
        l.max_depth = 4096;
        l.max_bytes = (size_t)1 << 20;
        l.max_objects = (size_t)1 << 16;
        l.max_string_length = (size_t)1 << 16;
        l.max_buffer_length = (size_t)1 << 20;
        l.max_reserve = (size_t)1 << 16;
    }
    return l;
}

void
mpf_report(const char *what, mp_status st, const mp_error_info *err)
{
    fprintf(stderr, "%s: %s", what, mp_strerror(st));
    if (err) {
        if (err->offset != MP_NO_OFFSET) fprintf(stderr, " at offset %zu", err->offset);
        fprintf(stderr, ": %s %s", err->path, err->detail);
    }
    fputc('\n', stderr);
}
