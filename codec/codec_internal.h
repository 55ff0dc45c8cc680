/* Codec internals shared by the encoder, decoder, direct clone and tests:
 * the message layout, the wire constants of codec/FORMAT.md, the host type
 * registry and transfer-list handling. Not installed. */
#ifndef MSGPORT_CODEC_INTERNAL_H
#define MSGPORT_CODEC_INTERNAL_H

#include "../src/internal.h"
#include "../src/port/port_internal.h" /* transferred ports: ship, adopt, release */

#if defined(__GNUC__)
#define MPI_PREFETCH(p) __builtin_prefetch(p)
#else
#define MPI_PREFETCH(p) ((void)(p))
#endif

/* ---- wire constants (codec/FORMAT.md) -------------------------------------- */

enum {
    MPI_EXT_UNDEFINED = 0,
    MPI_EXT_HOLE = 1,
    MPI_EXT_STRING16 = 2,
    MPI_EXT_BIGINT = 3,
    MPI_EXT_DATE = 4,
    MPI_EXT_REGEXP = 5,
    MPI_EXT_ARRAY = 6,
    MPI_EXT_MAP = 7,
    MPI_EXT_SET = 8,
    MPI_EXT_ERROR = 9,
    MPI_EXT_BOXED = 10,
    MPI_EXT_ARRAYBUFFER = 11,
    MPI_EXT_VIEW = 12,
    MPI_EXT_MOVED = 13,
    MPI_EXT_SAB = 14,
    MPI_EXT_HOST = 15,
    MPI_EXT_BACKREF = 16,
    MPI_EXT_PORT = 17,
    MPI_EXT_COUNT_ /* first unassigned */
};

enum { MPI_ARRAY_FORM_DENSE = 0, MPI_ARRAY_FORM_SPARSE = 1 };
enum { MPI_ERRF_MESSAGE = 1, MPI_ERRF_STACK = 2, MPI_ERRF_CAUSE = 4 };
enum { MPI_ABF_RESIZABLE = 1 };
enum { MPI_VIEWF_TRACKING = 1 };
#define MPI_VIEW_DATAVIEW 11u

/* ---- the message ------------------------------------------------------------ */

typedef struct mpi_moved {
    mpi_store *store; /* one reference, owned by the message; NULL once adopted */
    size_t byte_length;
    size_t max_byte_length;
    bool resizable;
} mpi_moved;

typedef struct mpi_host_payload {
    uint32_t tag;
    void *payload;
    void (*free_payload)(void *ctx, void *payload);
    void *ctx;
} mpi_host_payload;

struct mp_message {
    /* mpi_message_new sets each field by name (no memset): a new field
     * needs its line there. */
    mp_allocator alc;
    uint8_t *bytes;
    size_t len;
    size_t cap;
    mpi_moved *moved; /* transferred ArrayBuffers, in transfer-list order */
    size_t n_moved;
    mpi_store **shared; /* one reference each */
    size_t n_shared;
    size_t cap_shared;
    mpi_host_payload *hosts;
    size_t n_hosts;
    size_t cap_hosts;
    mpi_port_core **ports; /* transferred ports' cores, in transfer-list order: one
                            * reference each, NULL once adopted */
    size_t n_ports;
    /* bytes starts here, in the message's own block, so a small message is
     * one allocation; a larger one moves its bytes out (mpi_message_grow). */
    uint8_t inline_bytes[];
};

/* One allocation holds the header and the first bytes. */
#define MPI_MESSAGE_BLOCK 256
#define MPI_MESSAGE_INLINE (MPI_MESSAGE_BLOCK - sizeof(struct mp_message))
_Static_assert(sizeof(struct mp_message) + 64 <= MPI_MESSAGE_BLOCK, "a message block holds its header and some bytes");

mp_message *mpi_message_new(const mp_allocator *alc);
/* Starts loading a message's block (its header and first bytes) on the
 * thread about to decode it: a message posted from another core is in that
 * core's cache, and the decoder would otherwise take its lines one miss
 * after another. */
static inline void
mpi_message_prefetch(const mp_message *m)
{
    for (size_t off = 0; off < MPI_MESSAGE_BLOCK; off += 64)
        MPI_PREFETCH((const uint8_t *)m + off);
}
/* Messages of the default allocator live in recycled blocks (message.c):
 * how many of this thread's mpi_message_new calls took a cached block
 * instead of calling malloc. For tests. */
size_t mpi_message_blocks_recycled(void);
/* Room for `need` more bytes after m->len: doubles the capacity until they
 * fit (quadruples it from MPI_MESSAGE_GROW4 on). False (m unchanged) when
 * memory runs out. */
#define MPI_MESSAGE_GROW4 ((size_t)64 * 1024)
bool mpi_message_grow(mp_message *m, size_t need);
/* A finished message of MPI_MESSAGE_GROW4 or more that uses less than half
 * its capacity gives the rest back (if the allocator cannot, it keeps it). */
void mpi_message_fit(mp_message *m);
/* Replaces m's bytes with a copy of bytes[0..len) in a block of exactly
 * len bytes of its own, so that ASan sees any read past the end of bytes
 * from outside (mp_message_from_bytes, fuzzers, forged test messages).
 * MP_ENOMEM leaves m unchanged. */
mp_status mpi_message_set_bytes(mp_message *m, const void *bytes, size_t len);
mp_status mpi_message_add_shared(mp_message *m, mpi_store *s, uint32_t *index);
mp_status mpi_message_add_host(mp_message *m, const mpi_host_payload *h, uint32_t *index);

/* A copy of m for a second destination (broadcast): the bytes copied, one
 * more reference on each shared store. MP_EDATACLONE if m holds moved
 * stores or host payloads (they have one owner), MP_ENOMEM; on failure
 * *out is untouched. Also declared in src/port/port_internal.h. */
mp_status mpi_message_dup(const mp_message *m, mp_message **out);

/* ---- per-realm codec state (realm->codec_state) ------------------------------ */

typedef struct mpi_host_type {
    uint32_t tag;
    mp_host_type_hooks hooks;
    void *ctx;
} mpi_host_type;

struct mpi_dshapes; /* the decoder's object shapes (decode.c) */
typedef struct mpi_codec_realm {
    mpi_host_type *types; /* the host type registry */
    size_t n_types, cap_types;
    /* Made by the first decode that records a shape; kept for the realm's
     * life (its keys are the realm's atoms, which are never collected) and
     * counted in the realm's `reserved` bytes. */
    struct mpi_dshapes *shapes;
} mpi_codec_realm;

/* The realm's codec state, made on first use; NULL when out of memory. */
mpi_codec_realm *mpi_codec_realm_get(mp_realm *r);
/* Frees r's shapes (NULL: nothing) and their share of r->reserved. */
void mpi_dshapes_free(mp_realm *r, struct mpi_dshapes *shapes);

/* The hooks for tag in realm r, or NULL. */
const mpi_host_type *mpi_host_type_find(const mp_realm *r, uint32_t tag);

/* ---- small containers without allocation for small messages ------------------ */

/* An explicit work stack whose first elements live in caller storage. */
typedef struct mpi_stk {
    const mp_allocator *alc;
    uint8_t *data;
    uint8_t *inl;
    size_t len;
    size_t cap;
    size_t elem;
} mpi_stk;

static inline void
mpi_stk_init(mpi_stk *s, const mp_allocator *alc, size_t elem, void *inl, size_t inl_cap)
{
    s->alc = alc;
    s->data = s->inl = inl;
    s->len = 0;
    s->cap = inl_cap;
    s->elem = elem;
}
/* Moves to (larger) heap storage and pushes; NULL on allocation failure. */
void *mpi_stk_grow(mpi_stk *s);
static inline void *
mpi_stk_push(mpi_stk *s)
{
    if (MPI_LIKELY(s->len < s->cap)) return s->data + s->len++ * s->elem;
    return mpi_stk_grow(s);
}
static inline void *
mpi_stk_at(const mpi_stk *s, size_t i)
{
    return s->data + i * s->elem;
}
/* Frees heap storage, or keeps it for the thread's next walk. */
void mpi_stk_release(mpi_stk *s);
static inline void
mpi_stk_destroy(mpi_stk *s)
{
    if (s->data != s->inl) mpi_stk_release(s);
    s->data = s->inl;
    s->len = 0;
}

/* Identity table: cell -> value (never UINTPTR_MAX). Cells of the realm
 * being walked (mpi_idtab_use_headers) keep their value in their own
 * header, in the `gray` field that only mp_realm_collect uses otherwise
 * (value + 1, so NULL stays "none"): a lookup is a load from the cell the
 * walk reads anyway, with no table to grow or probe. The marked cells are
 * listed and cleared by mpi_idtab_destroy, on every exit path. One walk at
 * a time owns a realm's headers (mp_realm.walking): a walk started from a
 * host hook during another, and cells of other realms, use a linear array
 * for the first few, then an open-addressing hash table of interleaved
 * key/value pairs (one cache line per probe). */
#define MPI_IDT_SMALL 8
typedef struct mpi_idt_slot {
    const mpi_cell *k;
    uintptr_t v;
} mpi_idt_slot;
typedef struct mpi_idtab {
    const mp_allocator *alc;
    mp_realm *hdr;  /* the realm whose headers this table marks, or NULL */
    mpi_stk marked; /* mpi_cell *: headers to clear */
    mpi_idt_slot small[MPI_IDT_SMALL];
    mpi_idt_slot *slots; /* NULL while small */
    size_t n;
    size_t cap; /* power of two, load <= 1/2 */
    mpi_cell *marked_inline[16];
} mpi_idtab;

static inline size_t
mpi_idt_hash(const void *p)
{
    uint64_t x = (uint64_t)(uintptr_t)p;
    x ^= x >> 29;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 32;
    return (size_t)x;
}
static inline void
mpi_idtab_init(mpi_idtab *t, const mp_allocator *alc)
{
    t->alc = alc;
    t->hdr = NULL;
    mpi_stk_init(&t->marked, alc, sizeof(mpi_cell *), t->marked_inline,
                 sizeof t->marked_inline / sizeof t->marked_inline[0]);
    t->slots = NULL;
    t->n = 0;
    t->cap = 0;
}
/* From now on, cells of r keep their values in their headers, unless
 * another walk owns r's headers (then the table serves them too). */
static inline void
mpi_idtab_use_headers(mpi_idtab *t, mp_realm *r)
{
    if (!r || r->walking) return;
    r->walking = true;
    t->hdr = r;
}
/* The table part: a pointer to key's value, or NULL. */
static inline uintptr_t *
mpi_idtab_slot(mpi_idtab *t, const mpi_cell *key)
{
    if (MPI_LIKELY(!t->slots)) {
        for (size_t i = 0; i < t->n; i++)
            if (t->small[i].k == key) return &t->small[i].v;
        return NULL;
    }
    size_t mask = t->cap - 1;
    for (size_t i = mpi_idt_hash(key) & mask;; i = (i + 1) & mask) {
        if (t->slots[i].k == key) return &t->slots[i].v;
        if (!t->slots[i].k) return NULL;
    }
}
/* True and *val if key has a value. */
static inline bool
mpi_idtab_get(mpi_idtab *t, const mpi_cell *key, uintptr_t *val)
{
    if (key->realm == t->hdr) {
        if (key->gray) {
            *val = (uintptr_t)key->gray - 1;
            return true;
        }
        if (MPI_LIKELY(t->n == 0)) return false; /* the table holds only what was put before the headers */
    }
    uintptr_t *slot = mpi_idtab_slot(t, key);
    if (!slot) return false;
    *val = *slot;
    return true;
}
/* key must be absent. MP_ENOMEM leaves the table as it was. */
mp_status mpi_idtab_put_slow(mpi_idtab *t, const mpi_cell *key, uintptr_t val);
static inline mp_status
mpi_idtab_put(mpi_idtab *t, mpi_cell *key, uintptr_t val)
{
    if (key->realm == t->hdr) {
        /* mpi_stk_push with the element size known: no multiply */
        mpi_stk *ms = &t->marked;
        mpi_cell **m;
        if (MPI_LIKELY(ms->len < ms->cap))
            m = (mpi_cell **)(void *)ms->data + ms->len++;
        else if (!(m = mpi_stk_grow(ms)))
            return MP_ENOMEM;
        *m = key;
        key->gray = (mpi_cell *)(val + 1);
        return MP_OK;
    }
    return mpi_idtab_put_slow(t, key, val);
}
/* True if key keeps its value in its own header in this table (it belongs
 * to the realm whose headers the table owns): mpi_idtab_put then needs no
 * table, and mpi_idtab_get_header finds the value. */
static inline bool
mpi_idtab_owns_header(const mpi_idtab *t, const mpi_cell *key)
{
    return key->realm == t->hdr;
}
/* True and *val if key has a value kept in its header: a load and a
 * compare, never a table probe, for callers whose miss is cheap. */
static inline bool
mpi_idtab_get_header(const mpi_idtab *t, const mpi_cell *key, uintptr_t *val)
{
    if (key->gray && key->realm == t->hdr) {
        *val = (uintptr_t)key->gray - 1;
        return true;
    }
    return false;
}
/* Changes the value of a key that has one. */
static inline void
mpi_idtab_replace(mpi_idtab *t, mpi_cell *key, uintptr_t val)
{
    if (key->realm == t->hdr && key->gray) {
        key->gray = (mpi_cell *)(val + 1);
        return;
    }
    uintptr_t *slot = mpi_idtab_slot(t, key);
    if (slot) *slot = val;
}
/* Frees the hash table of cells outside the owned headers (rare). */
void mpi_idtab_free_slots(mpi_idtab *t);
/* Clears the marked headers and frees the table; t is empty and owns no
 * headers afterwards (mpi_idtab_init state, same allocator). Inline: every
 * encode and clone ends with it. */
static inline void
mpi_idtab_destroy(mpi_idtab *t)
{
    mpi_cell **marked = (mpi_cell **)(void *)t->marked.data;
    for (size_t i = 0; i < t->marked.len; i++)
        marked[i]->gray = NULL;
    mpi_stk_destroy(&t->marked);
    if (t->hdr) t->hdr->walking = false;
    t->hdr = NULL;
    if (t->slots) mpi_idtab_free_slots(t);
    t->n = 0;
    t->cap = 0;
}

/* ---- transfer lists ------------------------------------------------------------ */

/* Identity-table values: an object seen while encoding/cloning has an even
 * value (encoder: id << 1; clone: the target cell pointer); a transfer-list
 * entry not yet met is a placeholder, (slot << 1) | 1. */
#define MPI_XFER_MARK(slot) ((((uintptr_t)(slot)) << 1) | 1u)
#define MPI_IS_XFER(val) (((val)&1u) != 0)
#define MPI_XFER_SLOT(val) ((size_t)((val) >> 1))

typedef struct mpi_xfer_entry {
    mpi_cell *cell;          /* an mpi_arraybuffer, mpi_host or mpi_port */
    const mpi_host_type *ht; /* hosts only */
    size_t ab_index;         /* ArrayBuffers: index among the listed buffers */
    size_t port_index;       /* ports: index among the listed ports */
    void *payload;           /* hosts: written payload (for the transfer hook);
                              * ports (mp_clone): the target handle, once met */
    bool met;                /* hosts: written while walking the graph */
} mpi_xfer_entry;

typedef struct mpi_xfer {
    const mp_allocator *alc;
    mpi_xfer_entry *entries;
    size_t n;
    size_t n_ab;
    size_t n_ports;
} mpi_xfer;

/* Validates transfer[0..n) in Node's order and seeds `ids` with a
 * placeholder for each entry. *realm is the source realm (may be NULL on
 * entry if v is a primitive: then the entries' realm). Fills x. On failure
 * x holds nothing to free and err says why. */
mp_status mpi_xfer_prepare(mpi_xfer *x, mp_realm **realm, const mp_value *transfer, size_t n, mpi_idtab *ids,
                           const mp_allocator *alc, mp_error_info *err);
void mpi_xfer_destroy(mpi_xfer *x);

/* Detaches a transferred ArrayBuffer and returns its store reference. */
static inline mpi_store *
mpi_ab_take_store(mpi_arraybuffer *ab)
{
    mpi_store *s = ab->store;
    ab->store = NULL;
    ab->byte_length = 0;
    ab->max_byte_length = 0;
    ab->h.flags |= MPI_AB_DETACHED;
    return s;
}

/* A new ArrayBuffer cell in r wrapping store s (one reference taken over). */
mpi_arraybuffer *mpi_ab_adopt(mp_realm *r, mpi_store *s, size_t byte_length, size_t max_byte_length, bool resizable);

/* ---- paths for DataCloneError ------------------------------------------------- */

typedef struct mpi_pathbuf {
    char *buf;
    size_t cap;
    size_t len;
} mpi_pathbuf;
void mpi_path_append(mpi_pathbuf *p, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Appends ".key" or ["key"] for a property key. */
void mpi_path_key(mpi_pathbuf *p, const mpi_string *key);
/* Appends the step into a container's child: a key, an index, a Map or Set
 * entry, or an Error's cause. last: the child's slot (property slot, dense
 * index, sparse entry, Map/Set entry); phase 1: an array's named property,
 * or a Map entry's value. */
void mpi_path_step(mpi_pathbuf *p, const mpi_cell *container, size_t last, int phase);

/* Element sizes by mp_view_type. */
size_t mpi_codec_view_esize(uint32_t type);

#endif
