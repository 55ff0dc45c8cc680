/* Benchmark workloads W1–W6 (../shared/WORKLOADS.md): generation, msgport
 * builders, msgpack-c packers and the canonical digest. */
#include "workloads.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* WORKLOADS.md fixes "the 64 ASCII words in both files" but does not print
 * them, and the canonical workloads.js/workloads.c were not found. This is
 * OUR OWN list (64 lowercase ASCII words, 3–10 letters): every workload whose
 * data draws word() — W2 and W5 — therefore has a different digest and a
 * somewhat different size than the table. The r() sequence does not depend
 * on the words, so W5s (keys only) still matches. bench/workloads.js holds
 * the same list, so the C and JS digests of W2/W5 must agree with each
 * other. */
const char *const wl_words[64] = {
    "alpha",   "bravo", "charlie",  "delta",   "echo",   "foxtrot", "golf",    "hotel",  "india",  "juliet",  "kilo",
    "lima",    "mike",  "november", "oscar",   "papa",   "quebec",  "romeo",   "sierra", "tango",  "uniform", "victor",
    "whiskey", "xray",  "yankee",   "zulu",    "apple",  "banana",  "cherry",  "date",   "elder",  "fig",     "grape",
    "hazel",   "iris",  "jasmine",  "kiwi",    "lemon",  "mango",   "nutmeg",  "olive",  "pear",   "quince",  "raisin",
    "sage",    "thyme", "umber",    "vanilla", "walnut", "yarrow",  "zest",    "amber",  "basalt", "cobalt",  "dune",
    "ember",   "fjord", "granite",  "harbor",  "island", "juniper", "kestrel", "lagoon", "meadow",
};

uint32_t
wl_mulberry32(uint32_t *s)
{
    uint32_t z = (*s += 0x6D2B79F5u);
    z = (z ^ (z >> 15)) * (z | 1u);
    z ^= z + (z ^ (z >> 7)) * (z | 61u);
    return z ^ (z >> 14);
}

static const wl_info infos[WL_COUNT] = {
    [WL_W1] = {"W1", 0x37e25cf0u, 56, true, false, false},
    [WL_W2] = {"W2", 0x0c5fada1u, 11855, true, false, true},
    [WL_W3A] = {"W3a", 0xca5ca2d6u, 9000005, true, false, false},
    [WL_W3B] = {"W3b", 0xf1d6af72u, 8000005, true, true, false},
    [WL_W4] = {"W4", 0x70eab2d4u, 0, false, false, false},
    [WL_W4FLAT] = {"W4flat", 0x70eab2d4u, 98810, true, false, false},
    [WL_W5] = {"W5", 0x465c225du, 2960846, true, false, true},
    [WL_W5S] = {"W5s", 0xe10d7217u, 883282, true, false, false},
    [WL_W6_1M] = {"W6_1M", 0x515555b3u, 1048581, true, true, false},
    [WL_W6_64M] = {"W6_64M", 0xbe39b49du, 67108869, true, true, false},
};

const wl_info *
wl_info_of(wl_id id)
{
    return (unsigned)id < WL_COUNT ? &infos[id] : NULL;
}

wl_id
wl_by_name(const char *name)
{
    for (int i = 0; i < WL_COUNT; i++)
        if (strcmp(infos[i].name, name) == 0) return (wl_id)i;
    return WL_COUNT;
}

/* ---- generation ---------------------------------------------------------- */

#define W2_ITEMS 46
#define W4_NODES 10000
#define W5_ENTRIES 50000
#define W3_COUNT 1000000

typedef struct w2_item {
    uint32_t uid;
    char *name;
    bool active;
    double score;
    double ratio;
    uint32_t ntags;
    const char *tags[4];
    char *street;
    const char *city;
    char *zip;
    uint32_t t[3];
    double v[3];
    char *note; /* NULL: null */
} w2_item;

struct wl_data {
    wl_id id;
    /* W2 */
    const char *meta_tags[5];
    w2_item *items;
    /* W3a, W3b: doubles; W6: bytes */
    double *doubles;
    uint8_t *bytes;
    size_t n; /* doubles, W4 nodes, W5 entries, or W6 bytes */
    /* W4 */
    uint32_t *ref_a, *ref_b;
    /* W5, W5s */
    char *key_pool;
    uint32_t *key_off;
    uint8_t *key_len;
    uint8_t *name_idx;
    double *score;
    bool *active;
};

wl_id
wl_data_id(const wl_data *d)
{
    return d->id;
}

static char *dup_printf(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

#include <stdarg.h>
static char *
dup_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return NULL;
    char *s = malloc((size_t)n + 1);
    if (!s) return NULL;
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

static const char *
word(uint32_t *s)
{
    return wl_words[wl_mulberry32(s) % 64];
}

static bool
gen_w2(wl_data *d)
{
    uint32_t s = 2;
    for (int i = 0; i < 5; i++)
        d->meta_tags[i] = word(&s);
    d->items = calloc(W2_ITEMS, sizeof *d->items);
    if (!d->items) return false;
    for (int i = 0; i < W2_ITEMS; i++) {
        w2_item *it = &d->items[i];
        it->uid = wl_mulberry32(&s) % 1000000000u;
        const char *w1 = word(&s);
        const char *w2 = word(&s);
        it->name = dup_printf("%s %s", w1, w2);
        it->active = (wl_mulberry32(&s) & 1u) == 1u;
        it->score = (double)(wl_mulberry32(&s) % 100000u) / 100;
        it->ratio = (double)wl_mulberry32(&s) / 4294967296.0;
        it->ntags = 1 + wl_mulberry32(&s) % 4u;
        for (uint32_t k = 0; k < it->ntags; k++)
            it->tags[k] = word(&s);
        uint32_t num = 1 + wl_mulberry32(&s) % 9999u;
        it->street = dup_printf("%u %s St", num, word(&s));
        it->city = word(&s);
        it->zip = dup_printf("%u", 10000 + wl_mulberry32(&s) % 90000u);
        for (int k = 0; k < 3; k++) {
            it->t[k] = 1700000000u + wl_mulberry32(&s) % 1000000u;
            it->v[k] = ((double)(wl_mulberry32(&s) % 2000000u) - 1000000.0) / 1000;
        }
        if (wl_mulberry32(&s) % 4u == 0) {
            it->note = NULL;
        } else {
            uint32_t nw = 3 + wl_mulberry32(&s) % 8u;
            size_t cap = 1, len = 0;
            const char *ws[10];
            for (uint32_t k = 0; k < nw; k++) {
                ws[k] = word(&s);
                cap += strlen(ws[k]) + 1;
            }
            it->note = malloc(cap);
            if (!it->note) return false;
            for (uint32_t k = 0; k < nw; k++) {
                if (k) it->note[len++] = ' ';
                size_t l = strlen(ws[k]);
                memcpy(it->note + len, ws[k], l);
                len += l;
            }
            it->note[len] = '\0';
        }
        if (!it->name || !it->street || !it->zip) return false;
    }
    return true;
}

static bool
gen_w3(wl_data *d)
{
    uint32_t s = 3;
    d->n = W3_COUNT;
    d->doubles = malloc(W3_COUNT * sizeof(double));
    if (!d->doubles) return false;
    for (size_t i = 0; i < W3_COUNT; i++)
        d->doubles[i] = (double)wl_mulberry32(&s) / 4294967296.0;
    return true;
}

static bool
gen_w4(wl_data *d)
{
    uint32_t s = 4;
    d->n = W4_NODES;
    d->ref_a = malloc(W4_NODES * sizeof(uint32_t));
    d->ref_b = malloc(W4_NODES * sizeof(uint32_t));
    if (!d->ref_a || !d->ref_b) return false;
    for (uint32_t i = 0; i < W4_NODES; i++) {
        uint32_t j = wl_mulberry32(&s) % (W4_NODES - 1);
        if (j >= i) j++;
        d->ref_a[i] = j;
        j = wl_mulberry32(&s) % (W4_NODES - 1);
        if (j >= i) j++;
        d->ref_b[i] = j;
    }
    return true;
}

static bool
gen_w5(wl_data *d)
{
    uint32_t s = 5;
    d->n = W5_ENTRIES;
    /* "user:" + up to 5 digits + ":" + up to 6 digits < 24 bytes */
    d->key_pool = malloc((size_t)W5_ENTRIES * 24);
    d->key_off = malloc(W5_ENTRIES * sizeof(uint32_t));
    d->key_len = malloc(W5_ENTRIES);
    d->name_idx = malloc(W5_ENTRIES);
    d->score = malloc(W5_ENTRIES * sizeof(double));
    d->active = malloc(W5_ENTRIES * sizeof(bool));
    if (!d->key_pool || !d->key_off || !d->key_len || !d->name_idx || !d->score || !d->active) return false;
    uint32_t off = 0;
    for (uint32_t i = 0; i < W5_ENTRIES; i++) {
        int l = snprintf(d->key_pool + off, 24, "user:%u:%u", i, wl_mulberry32(&s) % 1000000u);
        d->key_off[i] = off;
        d->key_len[i] = (uint8_t)l;
        off += (uint32_t)l;
        d->name_idx[i] = (uint8_t)(wl_mulberry32(&s) % 64u);
        d->score[i] = (double)wl_mulberry32(&s) / 4294967296.0;
        d->active[i] = (wl_mulberry32(&s) & 1u) == 1u;
    }
    return true;
}

static bool
gen_w6(wl_data *d, size_t len)
{
    uint32_t s = 6;
    d->n = len;
    d->bytes = malloc(len);
    if (!d->bytes) return false;
    for (size_t i = 0; i < len; i += 4) {
        uint32_t r = wl_mulberry32(&s);
        d->bytes[i] = (uint8_t)r;
        d->bytes[i + 1] = (uint8_t)(r >> 8);
        d->bytes[i + 2] = (uint8_t)(r >> 16);
        d->bytes[i + 3] = (uint8_t)(r >> 24);
    }
    return true;
}

static bool
little_endian_host(void)
{
    const uint16_t one = 1;
    uint8_t b;
    memcpy(&b, &one, 1);
    return b == 1;
}

wl_data *
wl_generate(wl_id id)
{
    if ((unsigned)id >= WL_COUNT) return NULL;
    if (!little_endian_host()) {
        fprintf(stderr, "workloads: a little-endian host is assumed (W3b bytes)\n");
        return NULL;
    }
    wl_data *d = calloc(1, sizeof *d);
    if (!d) return NULL;
    d->id = id;
    bool ok = true;
    switch (id) {
    case WL_W1:
        break;
    case WL_W2:
        ok = gen_w2(d);
        break;
    case WL_W3A:
    case WL_W3B:
        ok = gen_w3(d);
        break;
    case WL_W4:
    case WL_W4FLAT:
        ok = gen_w4(d);
        break;
    case WL_W5:
    case WL_W5S:
        ok = gen_w5(d);
        break;
    case WL_W6_1M:
        ok = gen_w6(d, (size_t)1 << 20);
        break;
    case WL_W6_64M:
        ok = gen_w6(d, (size_t)64 << 20);
        break;
    default:
        ok = false;
    }
    if (!ok) {
        wl_data_free(d);
        return NULL;
    }
    return d;
}

void
wl_data_free(wl_data *d)
{
    if (!d) return;
    if (d->items) {
        for (int i = 0; i < W2_ITEMS; i++) {
            free(d->items[i].name);
            free(d->items[i].street);
            free(d->items[i].zip);
            free(d->items[i].note);
        }
        free(d->items);
    }
    free(d->doubles);
    free(d->bytes);
    free(d->ref_a);
    free(d->ref_b);
    free(d->key_pool);
    free(d->key_off);
    free(d->key_len);
    free(d->name_idx);
    free(d->score);
    free(d->active);
    free(d);
}

/* ---- msgpack-c packing ----------------------------------------------------- */

/* Each pack call returns the write callback's status; stop at the first
 * non-zero one. */
#define PK(call)                                                                                                       \
    do {                                                                                                               \
        int rc_ = (call);                                                                                              \
        if (rc_ != 0) return rc_;                                                                                      \
    } while (0)

static int
pk_cstr(msgpack_packer *pk, const char *s)
{
    size_t l = strlen(s);
    PK(msgpack_pack_str(pk, l));
    return msgpack_pack_str_body(pk, s, l);
}

static int
pk_str(msgpack_packer *pk, const char *s, size_t l)
{
    PK(msgpack_pack_str(pk, l));
    return msgpack_pack_str_body(pk, s, l);
}

/* Keys are literals: the length is known at compile time. */
#define PK_KEY(pk, lit) pk_str((pk), (lit), sizeof(lit) - 1)

static int
pack_w1(msgpack_packer *pk)
{
    PK(msgpack_pack_map(pk, 5));
    PK(PK_KEY(pk, "id"));
    PK(msgpack_pack_int(pk, 12345));
    PK(PK_KEY(pk, "name"));
    PK(PK_KEY(pk, "short string"));
    PK(PK_KEY(pk, "ok"));
    PK(msgpack_pack_true(pk));
    PK(PK_KEY(pk, "score"));
    PK(msgpack_pack_double(pk, 3.5));
    PK(PK_KEY(pk, "tags"));
    PK(msgpack_pack_array(pk, 3));
    PK(PK_KEY(pk, "a"));
    PK(PK_KEY(pk, "b"));
    return PK_KEY(pk, "c");
}

static int
pack_w2(const wl_data *d, msgpack_packer *pk)
{
    PK(msgpack_pack_map(pk, 5));
    PK(PK_KEY(pk, "version"));
    PK(msgpack_pack_int(pk, 3));
    PK(PK_KEY(pk, "generator"));
    PK(PK_KEY(pk, "perf-anchors-w2"));
    PK(PK_KEY(pk, "created"));
    PK(PK_KEY(pk, "2024-06-01T12:00:00Z"));
    PK(PK_KEY(pk, "meta"));
    PK(msgpack_pack_map(pk, 4));
    PK(PK_KEY(pk, "seed"));
    PK(msgpack_pack_int(pk, 2));
    PK(PK_KEY(pk, "count"));
    PK(msgpack_pack_int(pk, W2_ITEMS));
    PK(PK_KEY(pk, "tags"));
    PK(msgpack_pack_array(pk, 5));
    for (int i = 0; i < 5; i++)
        PK(pk_cstr(pk, d->meta_tags[i]));
    PK(PK_KEY(pk, "flags"));
    PK(msgpack_pack_map(pk, 3));
    PK(PK_KEY(pk, "a"));
    PK(msgpack_pack_true(pk));
    PK(PK_KEY(pk, "b"));
    PK(msgpack_pack_false(pk));
    PK(PK_KEY(pk, "c"));
    PK(msgpack_pack_nil(pk));
    PK(PK_KEY(pk, "items"));
    PK(msgpack_pack_array(pk, W2_ITEMS));
    for (int i = 0; i < W2_ITEMS; i++) {
        const w2_item *it = &d->items[i];
        PK(msgpack_pack_map(pk, 10));
        PK(PK_KEY(pk, "id"));
        PK(msgpack_pack_uint32(pk, 100000u + (uint32_t)i));
        PK(PK_KEY(pk, "uid"));
        PK(msgpack_pack_uint32(pk, it->uid));
        PK(PK_KEY(pk, "name"));
        PK(pk_cstr(pk, it->name));
        PK(PK_KEY(pk, "active"));
        PK(it->active ? msgpack_pack_true(pk) : msgpack_pack_false(pk));
        PK(PK_KEY(pk, "score"));
        PK(msgpack_pack_double(pk, it->score));
        PK(PK_KEY(pk, "ratio"));
        PK(msgpack_pack_double(pk, it->ratio));
        PK(PK_KEY(pk, "tags"));
        PK(msgpack_pack_array(pk, it->ntags));
        for (uint32_t k = 0; k < it->ntags; k++)
            PK(pk_cstr(pk, it->tags[k]));
        PK(PK_KEY(pk, "address"));
        PK(msgpack_pack_map(pk, 3));
        PK(PK_KEY(pk, "street"));
        PK(pk_cstr(pk, it->street));
        PK(PK_KEY(pk, "city"));
        PK(pk_cstr(pk, it->city));
        PK(PK_KEY(pk, "zip"));
        PK(pk_cstr(pk, it->zip));
        PK(PK_KEY(pk, "history"));
        PK(msgpack_pack_array(pk, 3));
        for (int k = 0; k < 3; k++) {
            PK(msgpack_pack_map(pk, 2));
            PK(PK_KEY(pk, "t"));
            PK(msgpack_pack_uint32(pk, it->t[k]));
            PK(PK_KEY(pk, "v"));
            PK(msgpack_pack_double(pk, it->v[k]));
        }
        PK(PK_KEY(pk, "note"));
        PK(it->note ? pk_cstr(pk, it->note) : msgpack_pack_nil(pk));
    }
    return 0;
}

static int
pack_w5(const wl_data *d, msgpack_packer *pk, bool set)
{
    if (set) {
        PK(msgpack_pack_array(pk, (size_t)d->n));
        for (size_t i = 0; i < d->n; i++)
            PK(pk_str(pk, d->key_pool + d->key_off[i], d->key_len[i]));
        return 0;
    }
    PK(msgpack_pack_map(pk, (size_t)d->n));
    for (size_t i = 0; i < d->n; i++) {
        PK(pk_str(pk, d->key_pool + d->key_off[i], d->key_len[i]));
        PK(msgpack_pack_map(pk, 4));
        PK(PK_KEY(pk, "id"));
        PK(msgpack_pack_uint32(pk, (uint32_t)i));
        PK(PK_KEY(pk, "name"));
        PK(pk_cstr(pk, wl_words[d->name_idx[i]]));
        PK(PK_KEY(pk, "score"));
        PK(msgpack_pack_double(pk, d->score[i]));
        PK(PK_KEY(pk, "active"));
        PK(d->active[i] ? msgpack_pack_true(pk) : msgpack_pack_false(pk));
    }
    return 0;
}

int
wl_pack(const wl_data *d, msgpack_packer *pk)
{
    switch (d->id) {
    case WL_W1:
        return pack_w1(pk);
    case WL_W2:
        return pack_w2(d, pk);
    case WL_W3A:
        PK(msgpack_pack_array(pk, d->n));
        for (size_t i = 0; i < d->n; i++)
            PK(msgpack_pack_double(pk, d->doubles[i]));
        return 0;
    case WL_W3B:
        /* little-endian host (checked in wl_generate): the doubles' bytes
         * are the wire bytes */
        PK(msgpack_pack_bin(pk, d->n * sizeof(double)));
        return msgpack_pack_bin_body(pk, d->doubles, d->n * sizeof(double));
    case WL_W4FLAT:
        PK(msgpack_pack_array(pk, d->n));
        for (uint32_t i = 0; i < d->n; i++) {
            PK(msgpack_pack_array(pk, 3));
            PK(msgpack_pack_uint32(pk, i));
            PK(msgpack_pack_uint32(pk, d->ref_a[i]));
            PK(msgpack_pack_uint32(pk, d->ref_b[i]));
        }
        return 0;
    case WL_W5:
        return pack_w5(d, pk, false);
    case WL_W5S:
        return pack_w5(d, pk, true);
    case WL_W6_1M:
    case WL_W6_64M:
        PK(msgpack_pack_bin(pk, d->n));
        return msgpack_pack_bin_body(pk, d->bytes, d->n);
    default:
        return -1; /* W4: msgpack has no references */
    }
}

/* ---- msgport builders -------------------------------------------------------- */

#define CK(call)                                                                                                       \
    do {                                                                                                               \
        mp_status st_ = (call);                                                                                        \
        if (st_ != MP_OK) return st_;                                                                                  \
    } while (0)

static mp_status
str_val(mp_realm *r, const char *s, mp_value *out)
{
    return mp_string_from_utf8(r, s, strlen(s), out);
}

static mp_status
set_str(mp_value obj, const char *key, const char *s)
{
    mp_value v;
    CK(str_val(mp_value_realm(obj), s, &v));
    return mp_object_set_utf8(obj, key, v);
}

static mp_status
push_str(mp_value arr, const char *s)
{
    mp_value v;
    CK(str_val(mp_value_realm(arr), s, &v));
    return mp_array_push(arr, v);
}

static mp_status
build_w1(mp_realm *r, mp_value *out)
{
    mp_value o, tags;
    CK(mp_object_new(r, &o));
    CK(mp_object_set_utf8(o, "id", mp_number(12345)));
    CK(set_str(o, "name", "short string"));
    CK(mp_object_set_utf8(o, "ok", mp_boolean(true)));
    CK(mp_object_set_utf8(o, "score", mp_number(3.5)));
    CK(mp_array_new(r, 0, &tags));
    CK(push_str(tags, "a"));
    CK(push_str(tags, "b"));
    CK(push_str(tags, "c"));
    CK(mp_object_set_utf8(o, "tags", tags));
    *out = o;
    return MP_OK;
}

static mp_status
build_w2(const wl_data *d, mp_realm *r, mp_value *out)
{
    mp_value doc, meta, tags, flags, items;
    CK(mp_object_new(r, &doc));
    CK(mp_object_set_utf8(doc, "version", mp_number(3)));
    CK(set_str(doc, "generator", "perf-anchors-w2"));
    CK(set_str(doc, "created", "2024-06-01T12:00:00Z"));
    CK(mp_object_new(r, &meta));
    CK(mp_object_set_utf8(meta, "seed", mp_number(2)));
    CK(mp_object_set_utf8(meta, "count", mp_number(W2_ITEMS)));
    CK(mp_array_new(r, 0, &tags));
    for (int i = 0; i < 5; i++)
        CK(push_str(tags, d->meta_tags[i]));
    CK(mp_object_set_utf8(meta, "tags", tags));
    CK(mp_object_new(r, &flags));
    CK(mp_object_set_utf8(flags, "a", mp_boolean(true)));
    CK(mp_object_set_utf8(flags, "b", mp_boolean(false)));
    CK(mp_object_set_utf8(flags, "c", mp_null()));
    CK(mp_object_set_utf8(meta, "flags", flags));
    CK(mp_object_set_utf8(doc, "meta", meta));
    CK(mp_array_new(r, 0, &items));
    for (int i = 0; i < W2_ITEMS; i++) {
        const w2_item *it = &d->items[i];
        mp_value item, itags, addr, hist;
        CK(mp_object_new(r, &item));
        CK(mp_object_set_utf8(item, "id", mp_number(100000 + i)));
        CK(mp_object_set_utf8(item, "uid", mp_number(it->uid)));
        CK(set_str(item, "name", it->name));
        CK(mp_object_set_utf8(item, "active", mp_boolean(it->active)));
        CK(mp_object_set_utf8(item, "score", mp_number(it->score)));
        CK(mp_object_set_utf8(item, "ratio", mp_number(it->ratio)));
        CK(mp_array_new(r, 0, &itags));
        for (uint32_t k = 0; k < it->ntags; k++)
            CK(push_str(itags, it->tags[k]));
        CK(mp_object_set_utf8(item, "tags", itags));
        CK(mp_object_new(r, &addr));
        CK(set_str(addr, "street", it->street));
        CK(set_str(addr, "city", it->city));
        CK(set_str(addr, "zip", it->zip));
        CK(mp_object_set_utf8(item, "address", addr));
        CK(mp_array_new(r, 0, &hist));
        for (int k = 0; k < 3; k++) {
            mp_value h;
            CK(mp_object_new(r, &h));
            CK(mp_object_set_utf8(h, "t", mp_number(it->t[k])));
            CK(mp_object_set_utf8(h, "v", mp_number(it->v[k])));
            CK(mp_array_push(hist, h));
        }
        CK(mp_object_set_utf8(item, "history", hist));
        if (it->note)
            CK(set_str(item, "note", it->note));
        else
            CK(mp_object_set_utf8(item, "note", mp_null()));
        CK(mp_array_push(items, item));
    }
    CK(mp_object_set_utf8(doc, "items", items));
    *out = doc;
    return MP_OK;
}

static mp_status
build_w4(const wl_data *d, mp_realm *r, bool flat, mp_value *out)
{
    mp_value root;
    CK(mp_array_new(r, 0, &root));
    if (flat) {
        for (uint32_t i = 0; i < d->n; i++) {
            mp_value t;
            CK(mp_array_new(r, 0, &t));
            CK(mp_array_push(t, mp_number(i)));
            CK(mp_array_push(t, mp_number(d->ref_a[i])));
            CK(mp_array_push(t, mp_number(d->ref_b[i])));
            CK(mp_array_push(root, t));
        }
        *out = root;
        return MP_OK;
    }
    for (uint32_t i = 0; i < d->n; i++) {
        mp_value node;
        CK(mp_object_new(r, &node));
        CK(mp_object_set_utf8(node, "id", mp_number(i)));
        CK(mp_object_set_utf8(node, "a", mp_null()));
        CK(mp_object_set_utf8(node, "b", mp_null()));
        CK(mp_array_push(root, node));
    }
    for (uint32_t i = 0; i < d->n; i++) {
        mp_value node, na, nb;
        CK(mp_array_get(root, i, &node));
        CK(mp_array_get(root, d->ref_a[i], &na));
        CK(mp_array_get(root, d->ref_b[i], &nb));
        CK(mp_object_set_utf8(node, "a", na));
        CK(mp_object_set_utf8(node, "b", nb));
    }
    *out = root;
    return MP_OK;
}

static mp_status
build_w5(const wl_data *d, mp_realm *r, bool set, mp_value *out)
{
    mp_value m;
    CK(set ? mp_set_new(r, &m) : mp_map_new(r, &m));
    for (size_t i = 0; i < d->n; i++) {
        mp_value key, o, name;
        CK(mp_string_from_utf8(r, d->key_pool + d->key_off[i], d->key_len[i], &key));
        if (set) {
            CK(mp_set_add(m, key));
            continue;
        }
        CK(mp_object_new(r, &o));
        CK(mp_object_set_utf8(o, "id", mp_number((double)i)));
        CK(str_val(r, wl_words[d->name_idx[i]], &name));
        CK(mp_object_set_utf8(o, "name", name));
        CK(mp_object_set_utf8(o, "score", mp_number(d->score[i])));
        CK(mp_object_set_utf8(o, "active", mp_boolean(d->active[i])));
        CK(mp_map_set(m, key, o));
    }
    *out = m;
    return MP_OK;
}

static mp_status
new_buffer(mp_realm *r, const void *bytes, size_t len, mp_value *out)
{
    mp_value ab;
    void *data;
    size_t n;
    CK(mp_arraybuffer_new(r, len, &ab));
    CK(mp_arraybuffer_data(ab, &data, &n));
    if (n != len) return MP_ERANGE;
    memcpy(data, bytes, len);
    *out = ab;
    return MP_OK;
}

mp_status
wl_build(const wl_data *d, mp_realm *r, mp_value *out)
{
    switch (d->id) {
    case WL_W1:
        return build_w1(r, out);
    case WL_W2:
        return build_w2(d, r, out);
    case WL_W3A: {
        mp_value a;
        CK(mp_array_new(r, 0, &a));
        for (size_t i = 0; i < d->n; i++)
            CK(mp_array_push(a, mp_number(d->doubles[i])));
        *out = a;
        return MP_OK;
    }
    case WL_W3B: {
        mp_value ab;
        CK(new_buffer(r, d->doubles, d->n * sizeof(double), &ab));
        return mp_typedarray_new(MP_FLOAT64, ab, 0, d->n, out);
    }
    case WL_W4:
        return build_w4(d, r, false, out);
    case WL_W4FLAT:
        return build_w4(d, r, true, out);
    case WL_W5:
        return build_w5(d, r, false, out);
    case WL_W5S:
        return build_w5(d, r, true, out);
    case WL_W6_1M:
    case WL_W6_64M:
        return new_buffer(r, d->bytes, d->n, out);
    default:
        return MP_EINVAL;
    }
}

mp_value
wl_transfer_buffer(mp_value v)
{
    switch (mp_kind_of(v)) {
    case MP_ARRAYBUFFER:
        return v;
    case MP_TYPEDARRAY:
    case MP_DATAVIEW:
        return mp_view_buffer(v);
    default:
        return mp_undefined();
    }
}

/* ---- digest ---------------------------------------------------------------- */

typedef struct fnv {
    uint32_t h;
} fnv;

static inline void
fnv_bytes(fnv *f, const void *p, size_t n)
{
    const uint8_t *b = p;
    uint32_t h = f->h;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 16777619u;
    }
    f->h = h;
}

static inline void
fnv_byte(fnv *f, uint8_t c)
{
    fnv_bytes(f, &c, 1);
}

static inline void
fnv_u32(fnv *f, uint32_t u)
{
    uint8_t b[4] = {(uint8_t)u, (uint8_t)(u >> 8), (uint8_t)(u >> 16), (uint8_t)(u >> 24)};
    fnv_bytes(f, b, 4);
}

static inline void
fnv_num(fnv *f, double d)
{
    uint64_t u;
    memcpy(&u, &d, 8);
    uint8_t b[9];
    b[0] = 'n';
    for (int i = 0; i < 8; i++)
        b[1 + i] = (uint8_t)(u >> (8 * i));
    fnv_bytes(f, b, 9);
}

static inline void
fnv_tagged(fnv *f, char tag, const void *p, size_t n)
{
    fnv_byte(f, (uint8_t)tag);
    fnv_u32(f, (uint32_t)n);
    fnv_bytes(f, p, n);
}

/* Cell-pointer -> root index, for W4's flattened digest. */
typedef struct refmap {
    const void **keys;
    uint32_t *vals;
    size_t mask;
} refmap;

static size_t
ptr_hash(const void *p)
{
    uint64_t x = (uint64_t)(uintptr_t)p;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return (size_t)x;
}

static bool
refmap_init(refmap *m, size_t n)
{
    size_t cap = 16;
    while (cap < 2 * n)
        cap <<= 1;
    m->keys = calloc(cap, sizeof *m->keys);
    m->vals = calloc(cap, sizeof *m->vals);
    m->mask = cap - 1;
    return m->keys && m->vals;
}

static void
refmap_put(refmap *m, const void *k, uint32_t v)
{
    size_t i = ptr_hash(k) & m->mask;
    while (m->keys[i] && m->keys[i] != k)
        i = (i + 1) & m->mask;
    if (!m->keys[i]) {
        m->keys[i] = k;
        m->vals[i] = v;
    }
}

static bool
refmap_get(const refmap *m, const void *k, uint32_t *v)
{
    size_t i = ptr_hash(k) & m->mask;
    while (m->keys[i]) {
        if (m->keys[i] == k) {
            *v = m->vals[i];
            return true;
        }
        i = (i + 1) & m->mask;
    }
    return false;
}

static bool
digest_string(fnv *f, mp_value s)
{
    char small[256];
    size_t len = mp_string_to_utf8(s, small, sizeof small);
    if (len < sizeof small) {
        fnv_tagged(f, 's', small, len);
        return true;
    }
    char *big = malloc(len + 1);
    if (!big) return false;
    mp_string_to_utf8(s, big, len + 1);
    fnv_tagged(f, 's', big, len);
    free(big);
    return true;
}

/* Recursive: the workloads other than W4 nest at most 5 levels. */
static bool
digest_value(fnv *f, mp_value v)
{
    switch (mp_kind_of(v)) {
    case MP_NUMBER:
        fnv_num(f, mp_number_value(v));
        return true;
    case MP_STRING:
        return digest_string(f, v);
    case MP_BOOLEAN:
        fnv_byte(f, mp_boolean_value(v) ? 't' : 'f');
        return true;
    case MP_NULL:
        fnv_byte(f, 'z');
        return true;
    case MP_ARRAY: {
        uint32_t n = mp_array_length(v);
        fnv_byte(f, 'a');
        fnv_u32(f, n);
        for (uint32_t i = 0; i < n; i++) {
            mp_value e;
            if (mp_array_get(v, i, &e) != MP_OK || !digest_value(f, e)) return false;
        }
        return true;
    }
    case MP_OBJECT: {
        size_t cur = 0;
        mp_value k, e;
        fnv_byte(f, 'o');
        fnv_u32(f, (uint32_t)mp_object_count(v));
        while (mp_object_next(v, &cur, &k, &e))
            if (!digest_string(f, k) || !digest_value(f, e)) return false;
        return true;
    }
    case MP_MAP: {
        size_t cur = 0;
        mp_value k, e;
        fnv_byte(f, 'o');
        fnv_u32(f, (uint32_t)mp_map_size(v));
        while (mp_map_next(v, &cur, &k, &e))
            if (!digest_value(f, k) || !digest_value(f, e)) return false;
        return true;
    }
    case MP_SET: {
        size_t cur = 0;
        mp_value k;
        fnv_byte(f, 'a');
        fnv_u32(f, (uint32_t)mp_set_size(v));
        while (mp_set_next(v, &cur, &k))
            if (!digest_value(f, k)) return false;
        return true;
    }
    case MP_ARRAYBUFFER: {
        void *data;
        size_t n;
        if (mp_arraybuffer_data(v, &data, &n) != MP_OK) return false;
        fnv_tagged(f, 'b', data, n);
        return true;
    }
    case MP_TYPEDARRAY:
    case MP_DATAVIEW: {
        void *data;
        size_t n;
        if (mp_view_data(v, &data, &n) != MP_OK) return false;
        fnv_tagged(f, 'b', data, n);
        return true;
    }
    default:
        return false;
    }
}

/* W4: [[id, index(a), index(b)], ...] without recursion. */
static bool
digest_flat_refs(fnv *f, mp_value root)
{
    if (mp_kind_of(root) != MP_ARRAY) return false;
    uint32_t n = mp_array_length(root);
    refmap m;
    bool ok = refmap_init(&m, n);
    for (uint32_t i = 0; ok && i < n; i++) {
        mp_value e;
        ok = mp_array_get(root, i, &e) == MP_OK && mp_is_object(e);
        if (ok) refmap_put(&m, e.u_.cell_, i);
    }
    if (ok) {
        fnv_byte(f, 'a');
        fnv_u32(f, n);
    }
    for (uint32_t i = 0; ok && i < n; i++) {
        mp_value e, k, p;
        size_t cur = 0;
        ok = mp_array_get(root, i, &e) == MP_OK && mp_kind_of(e) == MP_OBJECT;
        if (!ok) break;
        fnv_byte(f, 'a');
        fnv_u32(f, (uint32_t)mp_object_count(e));
        while (ok && mp_object_next(e, &cur, &k, &p)) {
            uint32_t idx;
            if (mp_is_object(p)) {
                ok = refmap_get(&m, p.u_.cell_, &idx);
                if (ok) fnv_num(f, idx);
            } else {
                ok = digest_value(f, p);
            }
        }
    }
    free(m.keys);
    free(m.vals);
    return ok;
}

bool
wl_digest_value(mp_value v, bool flatten_refs, uint32_t *out)
{
    fnv f = {2166136261u};
    bool ok = flatten_refs ? digest_flat_refs(&f, v) : digest_value(&f, v);
    if (ok) *out = f.h;
    return ok;
}

static bool
digest_mp(fnv *f, const msgpack_object *o)
{
    switch (o->type) {
    case MSGPACK_OBJECT_NIL:
        fnv_byte(f, 'z');
        return true;
    case MSGPACK_OBJECT_BOOLEAN:
        fnv_byte(f, o->via.boolean ? 't' : 'f');
        return true;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        fnv_num(f, (double)o->via.u64);
        return true;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        fnv_num(f, (double)o->via.i64);
        return true;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        fnv_num(f, o->via.f64);
        return true;
    case MSGPACK_OBJECT_STR:
        fnv_tagged(f, 's', o->via.str.ptr, o->via.str.size);
        return true;
    case MSGPACK_OBJECT_BIN:
        fnv_tagged(f, 'b', o->via.bin.ptr, o->via.bin.size);
        return true;
    case MSGPACK_OBJECT_ARRAY:
        fnv_byte(f, 'a');
        fnv_u32(f, o->via.array.size);
        for (uint32_t i = 0; i < o->via.array.size; i++)
            if (!digest_mp(f, &o->via.array.ptr[i])) return false;
        return true;
    case MSGPACK_OBJECT_MAP:
        fnv_byte(f, 'o');
        fnv_u32(f, o->via.map.size);
        for (uint32_t i = 0; i < o->via.map.size; i++)
            if (!digest_mp(f, &o->via.map.ptr[i].key) || !digest_mp(f, &o->via.map.ptr[i].val)) return false;
        return true;
    default:
        return false;
    }
}

bool
wl_digest_msgpack(const msgpack_object *o, uint32_t *out)
{
    fnv f = {2166136261u};
    if (!digest_mp(&f, o)) return false;
    *out = f.h;
    return true;
}
