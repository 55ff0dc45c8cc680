/* Benchmark workloads W1–W6 of ../shared/WORKLOADS.md, built two ways from
 * one deterministic generation: as msgport values in a realm, and as a plain
 * msgpack-c packing of the same data (the baseline). Plus the FNV-1a digest
 * of the canonical stream, over msgport values and over msgpack objects.
 *
 * Not part of the library: bench code only. Not thread-safe (no state is
 * shared, but a wl_data is used by one thread at a time). */
#ifndef MSGPORT_BENCH_WORKLOADS_H
#define MSGPORT_BENCH_WORKLOADS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>
#include <msgport.h>

typedef enum wl_id {
    WL_W1 = 0,
    WL_W2,
    WL_W3A,
    WL_W3B,
    WL_W4,
    WL_W4FLAT,
    WL_W5,
    WL_W5S,
    WL_W6_1M,
    WL_W6_64M,
    WL_COUNT
} wl_id;

typedef struct wl_info {
    const char *name;         /* "W1", "W4flat", "W6_64M", ... */
    uint32_t expected_digest; /* from the WORKLOADS.md table */
    size_t expected_msgpack;  /* msgpack bytes (C) from the table; 0 = n/a */
    bool packable;            /* has a msgpack form (all but W4) */
    bool has_buffer;          /* W3b and W6_*: a buffer to transfer */
    bool uses_words;          /* digest depends on the WORDS list */
} wl_info;

/* The 64 words of word(). See workloads.c: NOT the canonical list. */
extern const char *const wl_words[64];

/* mulberry32 exactly as WORKLOADS.md prints it. */
uint32_t wl_mulberry32(uint32_t *s);

const wl_info *wl_info_of(wl_id id);
/* WL_COUNT if no workload has that name (case-sensitive). */
wl_id wl_by_name(const char *name);

/* The generated data in plain C form (what a C program would pack). */
typedef struct wl_data wl_data;
/* NULL on allocation failure. W4 and W4flat share one generation. */
wl_data *wl_generate(wl_id id);
void wl_data_free(wl_data *d);
wl_id wl_data_id(const wl_data *d);

/* Packs the data with msgpack_pack_* (never for W4: returns -1). Returns
 * what the packer's write callback returned (0 = ok). */
int wl_pack(const wl_data *d, msgpack_packer *pk);

/* Builds the data as msgport values in `realm`. W4 is the cyclic graph;
 * W3b is a Float64Array over an ArrayBuffer; W6_* an ArrayBuffer. */
mp_status wl_build(const wl_data *d, mp_realm *realm, mp_value *out);

/* The ArrayBuffer to put in a transfer list for v (W3b: the view's
 * buffer; W6: v itself); undefined for other kinds. */
mp_value wl_transfer_buffer(mp_value v);

/* FNV-1a 32-bit over the canonical stream. For W4 (flatten_refs true) the
 * root must be an array of objects whose object-valued properties refer to
 * root elements: each is digested as its index (WORKLOADS.md: W4's digest
 * is W4flat's). Returns false (and *out untouched) if the value holds a
 * kind the canonical stream has no encoding for, or a W4 reference that is
 * not a root element. */
bool wl_digest_value(mp_value v, bool flatten_refs, uint32_t *out);
bool wl_digest_msgpack(const msgpack_object *o, uint32_t *out);

#endif
