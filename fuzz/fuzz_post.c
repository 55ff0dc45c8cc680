/* libFuzzer target: random value graphs and transfer lists through a port.
 *
 * The input is a small program (below) that builds values in a sender
 * realm A: every kind of value, linked with shared references and cycles,
 * some ArrayBuffers put in a transfer list (now and then an entry that
 * must be refused: a duplicate, a SharedArrayBuffer, a detached or
 * non-detachable buffer, a host object, a port of the posting channel or
 * of another realm). The graph is posted on port1 of a MessageChannel
 * (mp_port_post) and taken off port2 in realm B (mp_port_try_receive).
 *
 * The expected outcome comes from running the same program again into a
 * twin realm, after the post: SharedArrayBuffers of the twin share the
 * first run's stores, everything else is made afresh, so the twin is the
 * graph as it was before the post.
 *   post MP_OK:   the message is the only one queued, it decodes, the
 *                 received graph equals the twin (mp_graph_equal), every
 *                 ArrayBuffer in the list is detached on the sender and
 *                 every listed port closed, and no other buffer changed.
 *   post failed:  a DataCloneError (or MP_EREALM for a foreign entry),
 *                 nothing queued, and every value the program made equals
 *                 its twin: nothing detached, moved or changed.
 * Any violation prints why and aborts. The realms are freed every run, so
 * leaks show up in libFuzzer's leak check.
 *
 * The program: byte 0 picks the root among the values made (modulo their
 * count); then each op is one byte (modulo OP_COUNT_) followed by its
 * operands; a missing operand byte reads as 0. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_support.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum {
    OP_NUMBER,
    OP_STRING,
    OP_STRING16,
    OP_BIGINT,
    OP_OBJECT,
    OP_ARRAY,
    OP_MAP,
    OP_SET,
    OP_DATE,
    OP_REGEXP,
    OP_ERROR,
    OP_BOXED,
    OP_ARRAYBUFFER,
    OP_VIEW,
    OP_SAB,
    OP_LINK,
    OP_TRANSFER,
    OP_DETACH,
    OP_PIN, /* mp_arraybuffer_set_detachable(false) */
    OP_ARRAY_EDIT,
    OP_RESIZE,
    OP_HOST,
    OP_PORT,
    OP_WRITE,
    OP_SAB_GROW,
    OP_COUNT_
};

#define POOL_MAX 48
#define TRANSFER_MAX 8
#define BUF_MAX 64
#define SAB_VIEWS_MAX 4096

/* How the program runs: the sender's run, or a twin made after the post.
 * The twin of a successful post models what the receiver must get: a
 * non-detachable buffer arrives as an ordinary one (the wire carries no
 * such flag), so that twin skips OP_PIN. */
typedef enum { RUN_SENDER, RUN_TWIN_EXACT, RUN_TWIN_RECEIVED } run_mode;

/* The ports a program can use, one set per run: port1 is the posting
 * port; other1/other2 a second channel in the run's realm; peer is
 * port2, which lives in another realm (B, or a spare realm for twins). */
typedef struct ports {
    mp_value port1, peer, other1, other2;
} ports;

typedef struct run {
    const uint8_t *p, *end;
    run_mode mode;
    mp_realm *realm;
    const ports *pt;
    const struct run *sender; /* twins: the sender's run (shared stores) */
    mp_value pool[POOL_MAX];
    bool pinned[POOL_MAX]; /* OP_PIN has run on it (so far in this run) */
    size_t n;
    size_t xfer[TRANSFER_MAX]; /* pool indices */
    size_t nx;
    /* Views over SharedArrayBuffers: OP_SAB_GROW runs in the sender's run
     * only, and the twin runs after it on the same (grown) stores, so the
     * twin makes such a view exactly where the sender's attempt worked. */
    uint8_t sab_view_ok[SAB_VIEWS_MAX / 8];
    size_t sab_views;
} run;

static uint8_t
u8(run *r)
{
    return r->p < r->end ? *r->p++ : 0;
}

static uint32_t
u32(run *r)
{
    uint32_t x = u8(r);
    x |= (uint32_t)u8(r) << 8;
    x |= (uint32_t)u8(r) << 16;
    return x | (uint32_t)u8(r) << 24;
}

static uint64_t
u64(run *r)
{
    uint64_t lo = u32(r);
    return lo | (uint64_t)u32(r) << 32;
}

static double
number(run *r)
{
    static const double special[8] = {0.0, -0.0, NAN, INFINITY, -INFINITY, 1.5, 9007199254740993.0, -1.0};
    uint8_t k = u8(r);
    if (k < 8) return special[k];
    if (k < 128) return (double)(k - 64);
    uint64_t bits = u64(r);
    double d;
    memcpy(&d, &bits, sizeof d);
    return d;
}

static void
push(run *r, mp_value v)
{
    if (r->n < POOL_MAX) r->pool[r->n++] = v;
}

/* A pool index from one operand byte; SIZE_MAX if the pool is empty. */
static size_t
pick(run *r)
{
    uint8_t b = u8(r);
    return r->n ? b % r->n : SIZE_MAX;
}

static mp_value
pick_value(run *r)
{
    size_t i = pick(r);
    return i == SIZE_MAX ? mp_undefined() : r->pool[i];
}

static mp_value
make_string(run *r)
{
    char text[24];
    size_t len = u8(r) % sizeof text;
    for (size_t i = 0; i < len; i++)
        text[i] = (char)(u8(r) & 0x7f);
    mp_value v = mp_undefined();
    if (mp_string_from_utf8(r->realm, text, len, &v) != MP_OK) return mp_undefined();
    return v;
}

/* A property key: array-index keys, short names, or a pool string. */
static mp_value
make_key(run *r)
{
    static const char *const keys[] = {"0", "1", "7", "4294967294", "4294967295", "01", "length", "a", "b", ""};
    uint8_t k = u8(r);
    mp_value v = mp_undefined();
    if (k < 2 * (sizeof keys / sizeof keys[0])) {
        const char *s = keys[k % (sizeof keys / sizeof keys[0])];
        if (mp_string_from_utf8(r->realm, s, strlen(s), &v) != MP_OK) return mp_undefined();
        return v;
    }
    v = pick_value(r);
    return mp_kind_of(v) == MP_STRING ? v : make_string(r);
}

static void
op_string16(run *r)
{
    uint16_t units[12];
    size_t len = u8(r) % 12;
    for (size_t i = 0; i < len; i++) {
        uint8_t hi = u8(r);
        /* Half the units land among the surrogates, so lone ones are common. */
        units[i] = (hi & 1) ? (uint16_t)(0xD800 | (hi & 0x06) << 8 | u8(r)) : (uint16_t)(hi << 8 | u8(r));
    }
    mp_value v;
    if (mp_string_from_utf16(r->realm, units, len, &v) == MP_OK) push(r, v);
}

static void
op_bigint(run *r)
{
    uint64_t words[3];
    bool negative = u8(r) & 1;
    size_t n = u8(r) % 4;
    for (size_t i = 0; i < n; i++)
        words[i] = u64(r);
    mp_value v;
    if (mp_bigint_from_words(r->realm, negative, words, n, &v) == MP_OK) push(r, v);
}

static void
op_array(run *r)
{
    uint8_t k = u8(r);
    uint64_t len = k < 200 ? k % 8 : (k < 250 ? u8(r) : u32(r));
    mp_value v;
    if (mp_array_new(r->realm, len, &v) == MP_OK) push(r, v);
}

static void
op_regexp(run *r)
{
    static const char all[] = "dgimsuyv";
    char flags[9];
    size_t n = 0;
    uint8_t bits = u8(r);
    for (int i = 0; i < 8; i++)
        if (bits & (1u << i)) flags[n++] = all[i];
    flags[n] = '\0';
    mp_value src = pick_value(r), v;
    if (mp_kind_of(src) != MP_STRING) src = make_string(r);
    if (mp_regexp_new(r->realm, src, flags, &v) == MP_OK) push(r, v);
}

static void
op_error(run *r)
{
    uint8_t k = u8(r);
    mp_value msg = (k & 0x10) ? make_string(r) : mp_undefined(), v;
    if (mp_error_new(r->realm, (mp_error_type)(k % MP_ERR_TYPE_COUNT_), msg, &v) != MP_OK) return;
    if (k & 0x20) (void)mp_error_set_stack(v, make_string(r));
    push(r, v);
}

static void
op_boxed(run *r)
{
    mp_value prim = pick_value(r), v;
    mp_kind k = mp_kind_of(prim);
    if (k != MP_BOOLEAN && k != MP_NUMBER && k != MP_STRING && k != MP_BIGINT) prim = mp_number(number(r));
    if (mp_boxed_new(r->realm, prim, &v) == MP_OK) push(r, v);
}

static void
fill(mp_value buffer, run *r)
{
    void *data = NULL;
    size_t len = 0;
    if (mp_kind_of(buffer) == MP_ARRAYBUFFER)
        (void)mp_arraybuffer_data(buffer, &data, &len);
    else if (mp_kind_of(buffer) == MP_SHAREDARRAYBUFFER)
        (void)mp_sab_data(buffer, &data, &len);
    uint8_t seed = u8(r);
    for (size_t i = 0; i < len; i++)
        ((uint8_t *)data)[i] = (uint8_t)(seed + 31u * i);
}

static void
op_arraybuffer(run *r)
{
    uint8_t k = u8(r);
    size_t len = k % (BUF_MAX + 1);
    mp_value v;
    mp_status st;
    if (k & 0x80)
        st = mp_arraybuffer_new_resizable(r->realm, len, len + u8(r) % BUF_MAX, &v);
    else
        st = mp_arraybuffer_new(r->realm, len, &v);
    if (st != MP_OK) return;
    fill(v, r);
    push(r, v);
}

static void
op_sab(run *r)
{
    uint8_t k = u8(r);
    uint8_t extra = u8(r);
    uint8_t seed_byte = u8(r);
    size_t slot = r->n;
    if (slot >= POOL_MAX) return;
    mp_value v;
    if (r->sender) {
        /* The twin handle shares the sender's store (same bytes, and
         * mp_graph_equal compares SharedArrayBuffers by store). Where the
         * sender made none, neither does the twin. */
        if (slot < r->sender->n && mp_kind_of(r->sender->pool[slot]) == MP_SHAREDARRAYBUFFER &&
            mp_sab_share(r->sender->pool[slot], r->realm, &v) == MP_OK)
            push(r, v);
        return;
    }
    size_t len = k % (BUF_MAX + 1);
    mp_status st =
        (k & 0x80) ? mp_sab_new_growable(r->realm, len, len + extra % BUF_MAX, &v) : mp_sab_new(r->realm, len, &v);
    if (st != MP_OK) return;
    void *data;
    size_t n;
    if (mp_sab_data(v, &data, &n) == MP_OK)
        for (size_t i = 0; i < n; i++)
            ((uint8_t *)data)[i] = (uint8_t)(seed_byte ^ i);
    push(r, v);
}

static void
op_view(run *r)
{
    mp_value buf = pick_value(r);
    uint8_t type = u8(r) % (MP_VIEW_TYPE_COUNT_ + 1);
    size_t off = u8(r) % 33;
    uint8_t k = u8(r);
    size_t len = k == 255 ? MP_LENGTH_AUTO : k % 33;
    mp_kind bk = mp_kind_of(buf);
    if (bk != MP_ARRAYBUFFER && bk != MP_SHAREDARRAYBUFFER) return;
    size_t k_sab = r->sab_views;
    if (bk == MP_SHAREDARRAYBUFFER) {
        if (k_sab == SAB_VIEWS_MAX) return;
        r->sab_views++;
        if (r->sender && !(r->sender->sab_view_ok[k_sab / 8] & (1u << (k_sab % 8)))) return;
    }
    mp_value v;
    mp_status st = type == MP_VIEW_TYPE_COUNT_ ? mp_dataview_new(buf, off, len, &v)
                                               : mp_typedarray_new((mp_view_type)type, buf, off, len, &v);
    if (st != MP_OK) return;
    if (bk == MP_SHAREDARRAYBUFFER) r->sab_view_ok[k_sab / 8] |= (uint8_t)(1u << (k_sab % 8));
    push(r, v);
}

/* Stores one pool value into another: the only way sharing and cycles
 * arise. */
static void
op_link(run *r)
{
    mp_value c = pick_value(r), v = pick_value(r);
    uint8_t how = u8(r);
    switch (mp_kind_of(c)) {
    case MP_OBJECT:
        (void)mp_object_set(c, make_key(r), v);
        break;
    case MP_ARRAY:
        if (how < 128)
            (void)mp_array_push(c, v);
        else if (how < 192)
            (void)mp_array_set(c, how & 15, v);
        else if (how < 224)
            (void)mp_array_set(c, u32(r) % 4294967295u, v);
        else
            (void)mp_object_set(c, make_key(r), v); /* a named property, or an element by index key */
        break;
    case MP_MAP:
        if (how & 1)
            (void)mp_map_set(c, v, pick_value(r));
        else
            (void)mp_map_set(c, pick_value(r), v);
        break;
    case MP_SET:
        (void)mp_set_add(c, v);
        break;
    case MP_ERROR:
        (void)mp_error_set_cause(c, v);
        break;
    default:
        break;
    }
}

static void
op_array_edit(run *r)
{
    mp_value a = pick_value(r);
    uint8_t how = u8(r);
    if (mp_kind_of(a) != MP_ARRAY) return;
    if (how & 1)
        (void)mp_array_delete(a, u8(r) % 16);
    else
        (void)mp_array_set_length(a, (how & 2) ? u8(r) % 16 : u32(r));
}

static void
op_host(run *r)
{
    uint8_t k = u8(r);
    /* MPF_HOST_OTHER is registered in no realm here: serializing one is a
     * DataCloneError. */
    uint32_t tag = (k & 0x80) ? MPF_HOST_OTHER : MPF_HOST_KNOWN;
    mp_value v;
    if (mp_host_new(r->realm, tag, (void *)(uintptr_t)(0x1000u + (k & 0x7f)), &v) == MP_OK) push(r, v);
}

static void
op_port(run *r)
{
    switch (u8(r) % 4) {
    case 0:
        push(r, r->pt->other1);
        break;
    case 1:
        push(r, r->pt->other2);
        break;
    case 2:
        push(r, r->pt->port1); /* the posting port: never transferable */
        break;
    default:
        push(r, r->pt->peer); /* another realm: refused by containers and the transfer list */
        break;
    }
}

static void
op_write(run *r)
{
    mp_value v = pick_value(r);
    size_t at = u8(r);
    uint8_t byte = u8(r);
    mp_kind k = mp_kind_of(v);
    if (k == MP_TYPEDARRAY || k == MP_DATAVIEW) {
        /* Through a view over a SharedArrayBuffer only in the sender's run:
         * the twin shares the store. */
        if (r->sender && mp_kind_of(mp_view_buffer(v)) == MP_SHAREDARRAYBUFFER) return;
        void *data;
        size_t len;
        if (mp_view_data(v, &data, &len) == MP_OK && len) ((uint8_t *)data)[at % len] = byte;
    } else if (k == MP_ARRAYBUFFER) {
        void *data;
        size_t len;
        if (mp_arraybuffer_data(v, &data, &len) == MP_OK && len) ((uint8_t *)data)[at % len] = byte;
    }
}

static void
step(run *r)
{
    uint8_t op = u8(r) % OP_COUNT_;
    mp_value v;
    size_t i;
    switch (op) {
    case OP_NUMBER:
        push(r, mp_number(number(r)));
        break;
    case OP_STRING:
        v = make_string(r);
        if (mp_kind_of(v) == MP_STRING) push(r, v);
        break;
    case OP_STRING16:
        op_string16(r);
        break;
    case OP_BIGINT:
        op_bigint(r);
        break;
    case OP_OBJECT:
        if (mp_object_new(r->realm, &v) == MP_OK) push(r, v);
        break;
    case OP_ARRAY:
        op_array(r);
        break;
    case OP_MAP:
        if (mp_map_new(r->realm, &v) == MP_OK) push(r, v);
        break;
    case OP_SET:
        if (mp_set_new(r->realm, &v) == MP_OK) push(r, v);
        break;
    case OP_DATE:
        if (mp_date_new(r->realm, number(r), &v) == MP_OK) push(r, v);
        break;
    case OP_REGEXP:
        op_regexp(r);
        break;
    case OP_ERROR:
        op_error(r);
        break;
    case OP_BOXED:
        op_boxed(r);
        break;
    case OP_ARRAYBUFFER:
        op_arraybuffer(r);
        break;
    case OP_VIEW:
        op_view(r);
        break;
    case OP_SAB:
        op_sab(r);
        break;
    case OP_LINK:
        op_link(r);
        break;
    case OP_TRANSFER:
        i = pick(r);
        if (i != SIZE_MAX && r->nx < TRANSFER_MAX) r->xfer[r->nx++] = i;
        break;
    case OP_DETACH:
        i = pick(r);
        /* The received twin has no pin, so it must not detach what the
         * sender could not. */
        if (i != SIZE_MAX && !(r->mode == RUN_TWIN_RECEIVED && r->pinned[i])) (void)mp_arraybuffer_detach(r->pool[i]);
        break;
    case OP_PIN:
        i = pick(r);
        if (i == SIZE_MAX || mp_kind_of(r->pool[i]) != MP_ARRAYBUFFER) break;
        r->pinned[i] = true;
        if (r->mode != RUN_TWIN_RECEIVED) (void)mp_arraybuffer_set_detachable(r->pool[i], false);
        break;
    case OP_ARRAY_EDIT:
        op_array_edit(r);
        break;
    case OP_RESIZE:
        v = pick_value(r);
        (void)mp_arraybuffer_resize(v, u8(r) % (BUF_MAX + 1));
        break;
    case OP_HOST:
        op_host(r);
        break;
    case OP_PORT:
        op_port(r);
        break;
    case OP_WRITE:
        op_write(r);
        break;
    case OP_SAB_GROW:
        v = pick_value(r);
        i = u8(r) % (BUF_MAX + 1);
        /* Once, in the sender's run: the store is shared with the twin. */
        if (!r->sender && mp_kind_of(v) == MP_SHAREDARRAYBUFFER) (void)mp_sab_grow(v, i);
        break;
    default:
        break;
    }
}

static mp_value
run_program(run *r, const uint8_t *data, size_t size)
{
    r->p = data + 1;
    r->end = data + size;
    while (r->p < r->end)
        step(r);
    return r->n ? r->pool[data[0] % r->n] : mp_undefined();
}

static void
fail_equal(const char *what, const mp_error_info *why)
{
    fprintf(stderr, "post: %s: graphs differ at %s: %s\n", what, why->path, why->detail);
    abort();
}

static bool
is_listed(const run *r, size_t i)
{
    for (size_t k = 0; k < r->nx; k++)
        if (r->xfer[k] == i) return true;
    return false;
}

/* A second channel in realm a, with port2 in `peer_realm`, and the
 * posting channel's port1 in a: the ports a run can reach. */
static bool
make_ports(mp_realm *a, mp_realm *peer_realm, ports *pt)
{
    return mp_channel_new(a, peer_realm, &pt->port1, &pt->peer) == MP_OK &&
           mp_channel_new(a, a, &pt->other1, &pt->other2) == MP_OK;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    mp_realm *ra = NULL, *rb = NULL, *rt = NULL, *rt_peer = NULL;
    run *s = calloc(1, sizeof *s), *t = calloc(1, sizeof *t);
    if (!s || !t) goto out;
    if (mp_realm_new(NULL, &ra) != MP_OK || mp_realm_new(NULL, &rb) != MP_OK || mp_realm_new(NULL, &rt) != MP_OK ||
        mp_realm_new(NULL, &rt_peer) != MP_OK)
        goto out;
    if (mpf_register_hosts(ra, false) != MP_OK || mpf_register_hosts(rb, false) != MP_OK ||
        mpf_register_hosts(rt, false) != MP_OK)
        goto out;
    ports sp, tp;
    if (!make_ports(ra, rb, &sp) || !make_ports(rt, rt_peer, &tp)) goto out;

    s->mode = RUN_SENDER;
    s->realm = ra;
    s->pt = &sp;
    mp_value root = run_program(s, data, size);
    mp_value xfer[TRANSFER_MAX];
    for (size_t k = 0; k < s->nx; k++)
        xfer[k] = s->pool[s->xfer[k]];

    mp_error_info err;
    mp_status st = mp_port_post(sp.port1, root, xfer, s->nx, &err);

    t->mode = st == MP_OK ? RUN_TWIN_RECEIVED : RUN_TWIN_EXACT;
    t->realm = rt;
    t->pt = &tp;
    t->sender = s;
    mp_value twin_root = run_program(t, data, size);
    if (t->n != s->n || t->nx != s->nx) {
        fprintf(stderr, "post: the twin run made %zu values (%zu listed), the sender's %zu (%zu)\n", t->n, t->nx, s->n,
                s->nx);
        abort();
    }

    mp_error_info why;
    why.code = MP_OK;
    if (st == MP_OK) {
        if (mp_port_pending(sp.peer) != 1) {
            fprintf(stderr, "post: MP_OK but %zu messages queued\n", mp_port_pending(sp.peer));
            abort();
        }
        mp_value got;
        mp_error_info rerr;
        mp_status rst = mp_port_try_receive(sp.peer, rb, &got, &rerr);
        if (rst != MP_OK) {
            mpf_report("post: the posted message was not received", rst, &rerr);
            abort();
        }
        if (!mp_graph_equal(got, twin_root, &why) && why.code != MP_ENOMEM)
            fail_equal("received vs the graph before the post", &why);
        for (size_t i = 0; i < s->n; i++) {
            mp_value v = s->pool[i];
            if (mp_kind_of(v) == MP_ARRAYBUFFER) {
                bool want = is_listed(s, i) || mp_arraybuffer_is_detached(t->pool[i]);
                if (mp_arraybuffer_is_detached(v) != want) {
                    fprintf(stderr, "post: MP_OK but ArrayBuffer %zu is %s on the sender (listed: %s)\n", i,
                            want ? "not detached" : "detached", is_listed(s, i) ? "yes" : "no");
                    abort();
                }
            } else if (mp_kind_of(v) == MP_PORT && is_listed(s, i) && !mp_port_is_closed(v)) {
                fprintf(stderr, "post: MP_OK but transferred port %zu is still open on the sender\n", i);
                abort();
            }
        }
    } else {
        if (st != MP_EDATACLONE && st != MP_EREALM) {
            mpf_report("post: unexpected status", st, &err);
            abort();
        }
        if (mp_port_pending(sp.peer) != 0) {
            fprintf(stderr, "post: failed (%s) but %zu messages queued\n", mp_strerror(st), mp_port_pending(sp.peer));
            abort();
        }
        for (size_t i = 0; i < s->n; i++) {
            if (!mp_graph_equal(s->pool[i], t->pool[i], &why) && why.code != MP_ENOMEM) {
                fprintf(stderr, "post: failed with %s (%s) and value %zu changed\n", mp_strerror(st), err.detail, i);
                fail_equal("sender's value vs the graph before the post", &why);
            }
            if (mp_kind_of(s->pool[i]) == MP_PORT && mp_port_is_closed(s->pool[i]) != mp_port_is_closed(t->pool[i])) {
                fprintf(stderr, "post: failed (%s) but port %zu changed state\n", mp_strerror(st), i);
                abort();
            }
        }
    }

out:
    mp_realm_free(rb);
    mp_realm_free(ra);
    mp_realm_free(rt);
    mp_realm_free(rt_peer);
    free(s);
    free(t);
    return 0;
}
