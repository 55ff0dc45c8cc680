/* msgport internals shared by every layer: allocation, value cells, stores.
 * Not installed. Private names use the mpi_ prefix. */
#ifndef MSGPORT_INTERNAL_H
#define MSGPORT_INTERNAL_H

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <string.h>

#include "msgport.h"

#if defined(__GNUC__)
#define MPI_LIKELY(x) __builtin_expect(!!(x), 1)
#define MPI_UNLIKELY(x) __builtin_expect(!!(x), 0)
/* For the codec's hot loops: which helpers are copied into them and which
 * stay out (cold paths, so the loops keep their registers). */
#define MPI_ALWAYS_INLINE __attribute__((always_inline))
#define MPI_NOINLINE __attribute__((noinline))
#else
#define MPI_LIKELY(x) (x)
#define MPI_UNLIKELY(x) (x)
#define MPI_ALWAYS_INLINE
#define MPI_NOINLINE
#endif

/* ---- allocation (src/util/alloc.c) --------------------------------------- */

/* The libc allocator in mp_allocator form. */
extern const mp_allocator mpi_libc_allocator;
/* alc if non-NULL and complete, else the libc one. */
const mp_allocator *mpi_allocator_or_default(const mp_allocator *alc);

static inline void *
mpi_malloc(const mp_allocator *a, size_t n)
{
    return a->malloc(a->ctx, n);
}
static inline void *
mpi_realloc(const mp_allocator *a, void *p, size_t old_n, size_t n)
{
    return a->realloc(a->ctx, p, old_n, n);
}
static inline void
mpi_free(const mp_allocator *a, void *p)
{
    if (p) a->free(a->ctx, p);
}

/* Fills info (if non-NULL) and returns code. Formats like printf into
 * info->detail. path may be NULL. */
mp_status mpi_vfail(mp_error_info *info, mp_status code, size_t offset, const char *path, const char *fmt, va_list ap);
mp_status mpi_fail(mp_error_info *info, mp_status code, size_t offset, const char *path, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 5, 6)))
#endif
    ;

/* ---- byte stores (src/buffer/store.c) ------------------------------------ */

enum {
    MPI_STORE_SHARED = 1u << 0,   /* SharedArrayBuffer memory */
    MPI_STORE_GROWABLE = 1u << 1, /* growable SAB or resizable ArrayBuffer: max reserved */
    MPI_STORE_EXTERNAL = 1u << 2, /* caller's memory + deleter */
    MPI_STORE_HUGE = 1u << 3      /* aligned to 2 MiB and advised for huge pages */
};

#define MPI_HUGE_THRESHOLD ((size_t)2 << 20)

/* Advises the kernel to back the whole 2 MiB pages inside [p, p + n) with
 * huge pages (transparent huge pages in "madvise" mode): a large buffer
 * written once then takes a fault per 2 MiB instead of per 4 KiB. A range
 * holding no whole 2 MiB page (any under 2 MiB) costs no system call.
 * Advice only: a failure (no THP, memory not from mmap) changes nothing. */
void mpi_advise_huge(void *p, size_t n);

typedef struct mpi_waiter_table mpi_waiter_table;

/* A backing store: outlives realms, may cross threads. */
typedef struct mpi_store {
    _Atomic size_t refs;
    uint8_t *data;              /* NULL only for a zero-length store */
    _Atomic size_t byte_length; /* current length (atomic: growable SABs) */
    size_t max_byte_length;     /* reserved capacity; == byte_length unless growable */
    uint32_t flags;
    void *alloc_base;   /* what to free (data may be aligned inside it) */
    mp_deleter deleter; /* external stores */
    void *deleter_ctx;
    mp_allocator alc; /* copied: the realm may be gone when freed */
    /* Atomics.wait queues (shared stores only), found by address. */
    pthread_mutex_t wait_lock;
    mpi_waiter_table *waiters;
} mpi_store;

/* A new store with refs = 1. zero: fill with zeros (else the contents are
 * unspecified: the caller overwrites them). */
mp_status mpi_store_new(const mp_allocator *alc, size_t byte_length, size_t max_byte_length, uint32_t flags, bool zero,
                        mpi_store **out);
mp_status mpi_store_new_external(const mp_allocator *alc, void *data, size_t byte_length, mp_deleter deleter, void *ctx,
                                 mpi_store **out);
void mpi_store_ref(mpi_store *s);
/* Frees the store when the count reaches 0. NULL is a no-op. */
void mpi_store_unref(mpi_store *s);

/* ---- realms and cells (src/value/) ---------------------------------------- */

/* Every non-primitive value is a cell in its realm's list. */
typedef struct mpi_cell {
    struct mpi_cell *next; /* the realm's list of all cells */
    struct mpi_cell *gray; /* intrusive mark stack for mp_realm_collect */
    mp_realm *realm;
    uint8_t kind; /* mp_kind */
    uint8_t marked;
    uint16_t flags; /* per kind, below */
    uint32_t aux;   /* per kind, below */
} mpi_cell;

typedef struct mpi_chunk mpi_chunk;

struct mp_realm {
    mp_allocator alc;
    mpi_cell *cells;
    size_t cell_count;
    size_t bytes;      /* bytes in use by values (cells and their vectors) */
    size_t reserved;   /* bytes held from alc: arena chunks and large blocks */
    /* Every large block (not in a chunk), so that a collection that frees
     * every cell frees them without visiting a cell. */
    struct mpi_large *large;
    /* Cells that own something outside the realm (mpi_kind_owns_outside):
     * while there are none, that collection visits no cell at all. */
    size_t outside_owners;
    mpi_chunk *chunk;  /* the chunk small blocks are bumped from, or NULL */
    mpi_chunk *chunks; /* every chunk, doubly linked */
    /* Codec-owned state (the host type registry, codec/). mp_realm_new sets
     * both to NULL; mp_realm_free calls codec_free(realm), if set, before
     * freeing any cell. */
    void *codec_state;
    void (*codec_free)(mp_realm *realm);
    /* An encode or clone is walking this realm's values and keeps its
     * identity marks in their cells' `gray` fields (codec/codec_internal.h,
     * mpi_idtab); mp_realm_collect, which needs those fields, then does
     * nothing (it could only run from a host hook, inside the walk). */
    bool walking;
    /* The realm's table of short ASCII strings (mpi_string_atom). */
    struct mpi_atoms {
        struct mpi_atom_slot *slots; /* mask + 1 entries; a shared empty one until the first atom */
        uint32_t mask;
        uint32_t count;
        uint8_t *bump; /* free space in the newest atom block */
        size_t left;
        void *blocks; /* atom blocks, linked through their first word */
    } atoms;
};

/* memcpy for the short strings most messages are made of: overlapping
 * word copies inline up to 16 bytes instead of a call. */
static inline void
mpi_copy_short(uint8_t *dst, const uint8_t *src, size_t n)
{
    if (n >= 8 && n <= 16) {
        uint64_t a, b;
        memcpy(&a, src, 8);
        memcpy(&b, src + n - 8, 8);
        memcpy(dst, &a, 8);
        memcpy(dst + n - 8, &b, 8);
    } else if (n >= 4 && n < 8) {
        uint32_t a, b;
        memcpy(&a, src, 4);
        memcpy(&b, src + n - 4, 4);
        memcpy(dst, &a, 4);
        memcpy(dst + n - 4, &b, 4);
    } else if (n < 4) {
        if (n) {
            dst[0] = src[0];
            dst[n / 2] = src[n / 2];
            dst[n - 1] = src[n - 1];
        }
    } else {
        memcpy(dst, src, n);
    }
}

/* Realm allocation: every byte a value holds goes through these, so the
 * realm's byte count stays exact. The arena itself is in src/value/realm.c;
 * its common cases (bump a block from the current chunk, free a block whose
 * chunk stays alive) are inlined here because the codec makes and frees a
 * cell per value and the calls dominated small messages. */
void *mpi_realm_realloc(mp_realm *r, void *p, size_t old_n, size_t n);
void *mpi_realm_alloc_slow(mp_realm *r, size_t n);
void mpi_realm_dealloc_slow(mp_realm *r, void *p, size_t n);

/* Small blocks are bumped from chunks, each block preceded by a pointer to
 * its chunk (NULL for a large block, which an mpi_large header precedes).
 * Under AddressSanitizer every block is a large block, so ASan sees each
 * one on its own. */
#if defined(__SANITIZE_ADDRESS__)
#define MPI_ARENA_MAX_BLOCK 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MPI_ARENA_MAX_BLOCK 0
#endif
#endif
#ifndef MPI_ARENA_MAX_BLOCK
#define MPI_ARENA_MAX_BLOCK 1024
#endif
#define MPI_BLOCK_PREFIX sizeof(mpi_chunk *)

/* A large block's header: the realm's list of them, and the size taken
 * from the allocator (header included). */
struct mpi_large {
    struct mpi_large *prev;
    struct mpi_large *next;
    size_t size;
};

struct mpi_chunk {
    mpi_chunk *prev;
    mpi_chunk *next;
    size_t live; /* bytes of blocks not yet freed */
    uint8_t *bump;
    uint8_t *end;
};

static inline void *
mpi_realm_alloc(mp_realm *r, size_t n)
{
    mpi_chunk *c = r->chunk;
    if (MPI_LIKELY(n <= MPI_ARENA_MAX_BLOCK && c)) {
        size_t b = (n + MPI_BLOCK_PREFIX + 7) & ~(size_t)7;
        if (MPI_LIKELY(b <= MPI_ARENA_MAX_BLOCK && (size_t)(c->end - c->bump) >= b)) {
            uint8_t *p = c->bump;
            c->bump = p + b;
            c->live += b;
            memcpy(p, &c, sizeof c);
            r->bytes += n;
            return p + MPI_BLOCK_PREFIX;
        }
    }
    return mpi_realm_alloc_slow(r, n);
}

static inline void
mpi_realm_dealloc(mp_realm *r, void *p, size_t n)
{
    if (!p) return;
    uint8_t *base = (uint8_t *)p - MPI_BLOCK_PREFIX;
    mpi_chunk *c;
    memcpy(&c, base, sizeof c);
    size_t b = (n + MPI_BLOCK_PREFIX + 7) & ~(size_t)7;
    /* The chunk keeps other live blocks: only the counts change (and the
     * newest block of the current chunk gives its space back). */
    if (MPI_LIKELY(c && c->live > b)) {
        r->bytes -= n;
        c->live -= b;
        if (c == r->chunk && base + b == c->bump) c->bump = base;
        return;
    }
    mpi_realm_dealloc_slow(r, p, n);
}

/* True for a block mpi_realm_alloc took straight from the allocator (too
 * large for a chunk), which must be freed on its own. */
static inline bool
mpi_block_is_large(const void *p)
{
    mpi_chunk *c;
    memcpy(&c, (const uint8_t *)p - MPI_BLOCK_PREFIX, sizeof c);
    return c == NULL;
}

/* Kinds whose cells hold a reference outside the realm (a store, a port
 * core), released when the cell is freed. */
static inline bool
mpi_kind_owns_outside(mp_kind kind)
{
    return kind == MP_ARRAYBUFFER || kind == MP_SHAREDARRAYBUFFER || kind == MP_PORT;
}

/* A cell of `size` bytes with its header filled and linked into the realm;
 * bytes [sizeof(mpi_cell), zeroed) are zeroed (the header is always
 * written). Inline so that constant sizes make the clearing a few stores. */
static inline mpi_cell *
mpi_cell_new_partial(mp_realm *r, mp_kind kind, size_t size, size_t zeroed)
{
    mpi_cell *c = (mpi_cell *)mpi_realm_alloc(r, size);
    if (MPI_UNLIKELY(!c)) return NULL;
    if (zeroed > sizeof(mpi_cell)) memset(c + 1, 0, zeroed - sizeof(mpi_cell));
    c->next = r->cells;
    c->gray = NULL;
    c->realm = r;
    c->kind = (uint8_t)kind;
    c->marked = 0;
    c->flags = 0;
    c->aux = 0;
    r->cells = c;
    r->cell_count++;
    if (mpi_kind_owns_outside(kind)) r->outside_owners++;
    return c;
}
/* The rest is zeroed. */
static inline mpi_cell *
mpi_cell_new(mp_realm *r, mp_kind kind, size_t size)
{
    return mpi_cell_new_partial(r, kind, size, size);
}

/* Frees every cell made in r since r->cells was `mark` (newest first), for
 * a call that failed after building values nobody else references yet. */
void mpi_realm_rollback(mp_realm *r, mpi_cell *mark);

/* Internal mp_value tags beyond mp_kind, never returned to users. */
#define MPI_TAG_HOLE 0xF0u  /* an absent array element */
#define MPI_TAG_EMPTY 0xF1u /* a deleted Map/Set entry */

static inline mp_value
mpi_value_cell(mp_kind kind, void *cell)
{
    mp_value v;
    v.kind_ = (uint32_t)kind;
    v.bits_ = 0;
    v.u_.cell_ = cell;
    return v;
}
static inline mp_value
mpi_hole(void)
{
    mp_value v;
    v.kind_ = MPI_TAG_HOLE;
    v.bits_ = 0;
    v.u_.cell_ = NULL;
    return v;
}
/* Inline twins of mp_undefined/mp_null/mp_boolean (bits 0 or 1) and
 * mp_number, for the codec's per-value paths (the API ones are calls). */
static inline mp_value
mpi_value_simple(mp_kind kind, uint32_t bits)
{
    mp_value v;
    v.kind_ = (uint32_t)kind;
    v.bits_ = bits;
    v.u_.cell_ = NULL;
    return v;
}
static inline mp_value
mpi_value_number(double d)
{
    mp_value v;
    v.kind_ = MP_NUMBER;
    v.bits_ = 0;
    v.u_.number_ = d;
    return v;
}
static inline bool
mpi_is_hole(mp_value v)
{
    return v.kind_ == MPI_TAG_HOLE;
}
static inline bool
mpi_has_cell(mp_value v)
{
    return v.kind_ >= MP_BIGINT && v.kind_ < MP_KIND_COUNT_;
}
static inline mpi_cell *
mpi_cell_of(mp_value v)
{
    return mpi_has_cell(v) ? (mpi_cell *)v.u_.cell_ : NULL;
}

/* String: one allocation, code units inline. */
enum {
    MPI_STR_WIDE = 1u << 0,  /* UTF-16 units, else one byte (Latin-1) per unit */
    MPI_STR_ASCII = 1u << 1, /* one-byte and all < 0x80: the bytes are its UTF-8 */
    MPI_STR_HASHED = 1u << 2
};
typedef struct mpi_string {
    mpi_cell h;      /* aux: cached hash when MPI_STR_HASHED */
    uint32_t length; /* code units */
    union {
        uint8_t narrow[1];
        uint16_t wide[1];
    } u; /* allocated to length (+1 NUL for narrow) */
} mpi_string;

mp_status mpi_string_new_latin1(mp_realm *r, const uint8_t *bytes, size_t len, mp_value *out);
/* A narrow string of len bytes the caller has checked are all < 0x80 (one
 * pass over them, where mpi_string_new_latin1 and mp_string_from_utf8 scan
 * again). NULL if out of memory. */
static inline mpi_string *
mpi_string_new_ascii(mp_realm *r, const uint8_t *bytes, uint32_t len)
{
    mpi_string *s =
        (mpi_string *)mpi_cell_new_partial(r, MP_STRING, offsetof(mpi_string, u) + (size_t)len + 1, sizeof(mpi_cell));
    if (MPI_UNLIKELY(!s)) return NULL;
    s->h.flags = MPI_STR_ASCII;
    s->length = len;
    mpi_copy_short(s->u.narrow, bytes, len);
    s->u.narrow[len] = 0; /* the NUL after narrow units */
    return s;
}
uint32_t mpi_string_hash(mpi_string *s);

/* A short byte string as two words that cover it (with its length): for
 * n <= 16 equal (n, a, b) means equal bytes, so the atom table and the
 * decoder's shapes compare these instead of the bytes (no call, no load
 * from the cell). */
#define MPI_SHORT_EXACT 16u
static inline void
mpi_short_words(const uint8_t *s, uint32_t n, uint64_t *a, uint64_t *b)
{
    if (n >= 8) {
        memcpy(a, s, 8);
        memcpy(b, s + n - 8, 8);
    } else if (n >= 4) {
        uint32_t x, y;
        memcpy(&x, s, 4);
        memcpy(&y, s + n - 4, 4);
        *a = x;
        *b = y;
    } else {
        *a = n ? (uint64_t)s[0] | ((uint64_t)s[n / 2] << 8) | ((uint64_t)s[n - 1] << 16) : 0;
        *b = 0;
    }
}
/* A cheap hash of those words for the caches' slots (a collision only
 * costs a cache miss: entries are compared in full). */
static inline uint32_t
mpi_short_hash(uint64_t a, uint64_t b, uint32_t n)
{
    uint64_t h = (a ^ (b * 0x9E3779B97F4A7C15ull) ^ n) * 0xff51afd7ed558ccdull;
    return (uint32_t)(h >> 40);
}

/* A slot of the realm's atom table: the length and the covering words, so
 * that a lookup does not touch the atom's memory. */
typedef struct mpi_atom_slot {
    mpi_string *s;
    uint64_t a, b;
    uint32_t len;
} mpi_atom_slot;

/* The realm's atoms: the first MPI_ATOMS_MAX distinct ASCII strings of at
 * most MPI_ATOM_MAX_LEN bytes that decoding or cloning into the realm
 * makes are kept for the realm's lifetime, so a key or word that comes
 * again in the next message costs a lookup, not a string (mailboxes see the
 * same keys message after message). Atoms live outside the arena and the
 * cell list, are never collected (marked stays MPI_MARK_ATOM) and count in
 * the realm's `reserved` bytes, not in its values or bytes. */
#define MPI_ATOM_MAX_LEN MPI_SHORT_EXACT
#define MPI_ATOMS_MAX 512u
#define MPI_MARK_ATOM 2
extern mpi_atom_slot mpi_atoms_empty[1];
mpi_string *mpi_string_atom_add(mp_realm *r, const uint8_t *bytes, uint32_t n, uint64_t a, uint64_t b);

/* The atom equal to the n <= MPI_ATOM_MAX_LEN ASCII bytes (checked by the
 * caller) whose mpi_short_words are a and b, made if the table has room;
 * NULL if it is full or out of memory (then make an ordinary string). */
static inline mpi_string *
mpi_string_atom_words(mp_realm *r, const uint8_t *bytes, uint32_t n, uint64_t a, uint64_t b)
{
    const struct mpi_atoms *t = &r->atoms;
    for (uint32_t i = mpi_short_hash(a, b, n) & t->mask;; i = (i + 1) & t->mask) {
        const mpi_atom_slot *e = &t->slots[i];
        if (!e->s) return mpi_string_atom_add(r, bytes, n, a, b);
        if (e->len == n && e->a == a && e->b == b) return e->s;
    }
}
static inline mpi_string *
mpi_string_atom(mp_realm *r, const uint8_t *bytes, uint32_t n)
{
    uint64_t a, b;
    mpi_short_words(bytes, n, &a, &b);
    return mpi_string_atom_words(r, bytes, n, a, b);
}
bool mpi_string_equal(const mpi_string *a, const mpi_string *b);
static inline uint16_t
mpi_string_unit(const mpi_string *s, size_t i)
{
    return (s->h.flags & MPI_STR_WIDE) ? s->u.wide[i] : s->u.narrow[i];
}

/* BigInt: sign in flags bit 0, magnitude little-endian, normalized. */
typedef struct mpi_bigint {
    mpi_cell h;     /* flags bit 0: negative */
    uint32_t count; /* words; 0 for zero */
    uint64_t words[];
} mpi_bigint;

/* Named properties, kept in JavaScript order: index keys ascending first,
 * then the others in insertion order. A deleted slot has key NULL. */
typedef struct mpi_prop {
    mpi_string *key;
    mp_value value;
} mpi_prop;
typedef struct mpi_props {
    mpi_prop *slots;
    uint32_t used; /* slots in use, deleted ones included */
    uint32_t cap;
    uint32_t live;
    uint32_t index_keys; /* how many leading slots hold array-index keys */
    uint32_t *hash;      /* slot+1 per bucket (0 = empty), or NULL while small */
    uint32_t hash_cap;   /* power of two */
    /* Objects only: slots the object's own block holds right after it
     * (mpi_object_new_cell). slots points there until the table outgrows
     * them; the room stays, unused, for the object's life. */
    uint32_t inline_cap;
} mpi_props;

typedef struct mpi_object {
    mpi_cell h;
    mpi_props props; /* last: its inline slots follow it */
} mpi_object;
_Static_assert(sizeof(mpi_object) == offsetof(mpi_object, props) + sizeof(mpi_props),
               "an object's inline slots start right after its props");

/* Objects with this many properties or fewer, made by the decoder or a
 * clone (which know the count) or by mp_object_new (MPI_OBJECT_INLINE_NEW),
 * keep them in the object's own block: one allocation instead of two, and
 * the properties on the lines that follow the header, so the encoder can
 * fetch both at once (put_child, codec/encode.c). */
#define MPI_OBJECT_INLINE_MAX 16u
#define MPI_OBJECT_INLINE_NEW 4u

/* Where the inline slots of the object holding p start (right after p). */
static inline mpi_prop *
mpi_props_inline_slots(const mpi_props *p)
{
    return (mpi_prop *)(uintptr_t)(p + 1);
}

/* True while p's slots are the inline ones after the object that holds p
 * (false for an Array's props, which have none). */
static inline bool
mpi_props_slots_inline(const mpi_props *p)
{
    return p->inline_cap != 0 && p->slots == mpi_props_inline_slots(p);
}

/* The bytes of an object's block: the object and its inline slots. */
static inline size_t
mpi_object_size(uint32_t inline_cap)
{
    return sizeof(mpi_object) + (size_t)inline_cap * sizeof(mpi_prop);
}

/* A new empty object with room for inline_cap (<= MPI_OBJECT_INLINE_MAX)
 * properties in its own block; NULL if out of memory. */
static inline mpi_object *
mpi_object_new_cell(mp_realm *r, uint32_t inline_cap)
{
    mpi_object *o =
        (mpi_object *)mpi_cell_new_partial(r, MP_OBJECT, mpi_object_size(inline_cap), sizeof(mpi_object));
    if (MPI_UNLIKELY(!o)) return NULL;
    if (inline_cap) o->props.slots = mpi_props_inline_slots(&o->props);
    o->props.cap = o->props.inline_cap = inline_cap;
    return o;
}

/* Array: dense (elems, holes as MPI_TAG_HOLE) or sparse (sorted pairs). */
enum { MPI_ARRAY_SPARSE = 1u << 0 };
typedef struct mpi_sparse_elem {
    uint32_t index;
    mp_value value;
} mpi_sparse_elem;
typedef struct mpi_array {
    mpi_cell h;
    uint32_t length;
    uint32_t cap;    /* elems or sparse capacity */
    uint32_t count;  /* sparse: entries; dense: present elements */
    mp_value *elems; /* dense: length slots valid */
    mpi_sparse_elem *sparse;
    mpi_props props; /* extra named properties */
} mpi_array;

typedef struct mpi_date {
    mpi_cell h;
    double time;
} mpi_date;

/* RegExp flags bit i = "dgimsuyv"[i]. */
typedef struct mpi_regexp {
    mpi_cell h; /* aux: flag bits */
    mpi_string *source;
} mpi_regexp;

enum { MPI_ERROR_HAS_CAUSE = 1u << 0 };
typedef struct mpi_error {
    mpi_cell h;          /* aux: mp_error_type */
    mpi_string *message; /* NULL: none */
    mpi_string *stack;   /* NULL: none */
    mp_value cause;
} mpi_error;

typedef struct mpi_boxed {
    mpi_cell h;
    mp_value value;
} mpi_boxed;

/* Map and Set: insertion-ordered entries + open-addressing index. A
 * deleted entry's key is MPI_TAG_EMPTY. Set entries leave value unused. */
typedef struct mpi_map_entry {
    mp_value key;
    mp_value value;
} mpi_map_entry;
/* The most entries a Map or Set holds, as in V8 (2^24): an index slot has
 * room for the entry and a tag of the key's hash (mpi_map_slot). */
#define MPI_MAP_MAX_ENTRIES (1u << 24)
typedef struct mpi_map {
    mpi_cell h;
    mpi_map_entry *entries;
    uint32_t used; /* entries in use, deleted included */
    uint32_t cap;
    uint32_t live;
    uint32_t *index;    /* mpi_map_slot per bucket, 0 empty, UINT32_MAX tombstone */
    uint32_t index_cap; /* power of two */
} mpi_map;

/* An index slot: entry + 1 in the low MPI_MAP_SLOT_BITS bits (at most
 * MPI_MAP_MAX_ENTRIES, so never all ones: no slot is UINT32_MAX) and the
 * key hash's top bits above them, so a probe compares keys (a cache miss
 * on the entry, another on a string key) only when the tags agree. */
#define MPI_MAP_SLOT_BITS 25u
#define MPI_MAP_SLOT_ENTRY ((1u << MPI_MAP_SLOT_BITS) - 1)
static inline uint32_t
mpi_map_slot(uint32_t entry, uint32_t hash)
{
    return (hash & ~MPI_MAP_SLOT_ENTRY) | (entry + 1);
}
/* The entry of a live slot whose tag is the hash's, else UINT32_MAX. */
static inline uint32_t
mpi_map_slot_entry(uint32_t slot, uint32_t hash)
{
    if (slot == UINT32_MAX || ((slot ^ hash) & ~MPI_MAP_SLOT_ENTRY)) return UINT32_MAX;
    return (slot & MPI_MAP_SLOT_ENTRY) - 1;
}
/* Puts entry's slot in the first empty bucket from hash (the index has one:
 * its load is at most a half). */
static inline void
mpi_map_index_insert(mpi_map *m, uint32_t entry, uint32_t hash)
{
    uint32_t mask = m->index_cap - 1;
    uint32_t b = hash & mask;
    while (m->index[b])
        b = (b + 1) & mask;
    m->index[b] = mpi_map_slot(entry, hash);
}

enum { MPI_AB_RESIZABLE = 1u << 0, MPI_AB_DETACHED = 1u << 1, MPI_AB_NOT_DETACHABLE = 1u << 2 };
typedef struct mpi_arraybuffer {
    mpi_cell h;
    mpi_store *store;   /* NULL when detached */
    size_t byte_length; /* the buffer's own length (resizable: <= store max) */
    size_t max_byte_length;
} mpi_arraybuffer;

typedef struct mpi_sab {
    mpi_cell h;
    mpi_store *store; /* length lives in the store */
} mpi_sab;

enum { MPI_VIEW_LENGTH_TRACKING = 1u << 0 };
typedef struct mpi_view {
    mpi_cell h;       /* kind MP_TYPEDARRAY or MP_DATAVIEW; aux: mp_view_type */
    mpi_cell *buffer; /* an mpi_arraybuffer or mpi_sab */
    size_t byte_offset;
    size_t length; /* elements (DataView: bytes); unused when tracking */
} mpi_view;

typedef struct mpi_host {
    mpi_cell h; /* aux: type tag */
    void *ptr;
} mpi_host;

/* Kind-specific helpers used across layers. */

/* The bytes a view can see now: NULL/0 if detached or out of bounds. */
uint8_t *mpi_view_bytes(const mpi_view *v, size_t *byte_length);
/* The bytes a buffer cell (AB or SAB) holds now. */
uint8_t *mpi_buffer_bytes(const mpi_cell *buffer, size_t *byte_length);

/* Enumerates the values a cell references (for marking, cloning,
 * printing, equality): calls fn(ctx, child) for each, in the order a
 * serializer would visit them. */
typedef void (*mpi_child_fn)(void *ctx, mp_value child);
void mpi_cell_children(mpi_cell *c, mpi_child_fn fn, void *ctx);

/* Property-table primitives shared by Object and Array. */
mpi_prop *mpi_props_find(const mpi_props *p, const mpi_string *key);
/* Inserts or overwrites; r for allocation. */
mp_status mpi_props_set(mp_realm *r, mpi_props *p, mpi_string *key, mp_value value);
/* mpi_string_equal with the common outcomes decided inline: the same cell,
 * different lengths, or two atoms of one realm (unique, so different ones
 * differ). */
static inline bool
mpi_key_equal(const mpi_string *a, const mpi_string *b)
{
    if (a == b) return true;
    if (a->length != b->length) return false;
    if (a->h.marked == MPI_MARK_ATOM && b->h.marked == MPI_MARK_ATOM && a->h.realm == b->h.realm) return false;
    /* Narrow keys of one length mostly differ in the first or last unit. */
    if (a->length && !((a->h.flags | b->h.flags) & MPI_STR_WIDE) &&
        (a->u.narrow[0] != b->u.narrow[0] || a->u.narrow[a->length - 1] != b->u.narrow[a->length - 1]))
        return false;
    return mpi_string_equal(a, b);
}

/* Scanning a table without a hash index stays cheap up to this many keys:
 * mpi_props_add appends below it without building one (a table without
 * an index is valid at any size; the next growth adds it). */
#define MPI_PROPS_ADD_SCAN_MAX 16u
mp_status mpi_props_add_slow(mp_realm *r, mpi_props *p, mpi_string *key, mp_value value, bool *dup);
/* For builders (the decoder) that reject duplicate keys: inserts key if
 * absent; if present, sets *dup and leaves the table unchanged. Inline:
 * the decoder adds every key through it. */
static inline mp_status
mpi_props_add(mp_realm *r, mpi_props *p, mpi_string *key, mp_value value, bool *dup)
{
    *dup = false;
    /* Fast path: room in a small index-free table of live slots (as the
     * decoder pre-sizes them), and a key that is not an array index (its
     * first unit is not a digit): the key goes last, after a scan. */
    if (!p->hash && p->used < p->cap && p->used < MPI_PROPS_ADD_SCAN_MAX && p->used == p->live && key->length != 0) {
        uint16_t c0 = mpi_string_unit(key, 0);
        if (c0 < '0' || c0 > '9') {
            for (uint32_t i = 0; i < p->used; i++) {
                if (mpi_key_equal(p->slots[i].key, key)) {
                    *dup = true;
                    return MP_OK;
                }
            }
            p->slots[p->used].key = key;
            p->slots[p->used].value = value;
            p->used++;
            p->live++;
            return MP_OK;
        }
    }
    return mpi_props_add_slow(r, p, key, value, dup);
}

/* For the decoder, whose messages may list an object's keys in any order:
 * as mpi_props_add, except that an array-index key that belongs before
 * keys already in the table is appended and *unordered set, and once it is
 * set every key is appended. The table is then out of order (only the
 * decoder sees it) until mpi_props_order_keys, so n keys in any order cost
 * O(n log n) rather than a move of the table per key. */
mp_status mpi_props_add_any_order(mp_realm *r, mpi_props *p, mpi_string *key, mp_value value, bool *dup,
                                  bool *unordered);
/* Puts a table filled through mpi_props_add_any_order in JavaScript order
 * (index keys first, ascending; the others in the order they came) and
 * rebuilds its hash index. MP_ENOMEM leaves it as it was. */
mp_status mpi_props_order_keys(mp_realm *r, mpi_props *p);

/* For builders that made m with room for every entry they add (used <
 * cap, index allocated): adds key -> value (Sets: value unused) in one hash
 * and one probe, or returns false, changing nothing, if an equal key
 * (SameValueZero) is there. key and value must be of m's realm. */
bool mpi_map_add_new(mpi_map *m, mp_value key, mp_value value);

/* Map hashing and SameValueZero, shared with the codec (duplicate keys). */
uint32_t mpi_hash_same_value_zero(mp_value v);
bool mpi_same_value_zero(mp_value a, mp_value b);

/* ---- keyed hashing (src/util/hash.c) ------------------------------------- */

/* SipHash-1-3 under a per-process random key: for tables hostile input can
 * fill. Equal inputs hash alike in every realm and thread. Thread-safe. */
uint32_t mpi_hash_u64(uint64_t x);
uint32_t mpi_hash_words(uint64_t seed, const uint64_t *words, size_t n);
/* Over a string's code units: pass narrow (one byte per unit) or wide.
 * Equal unit sequences hash alike whichever way they are stored. */
uint32_t mpi_hash_units(const uint8_t *narrow, const uint16_t *wide, size_t n);

/* ---- pointer-keyed hash map (src/util/ptrmap.c) --------------------------- */

/* Open addressing, pointer -> uintptr_t, allocation through an allocator;
 * used for identity tables (codec ids, clone memo, equality, printer). */
typedef struct mpi_ptrmap {
    const mp_allocator *alc;
    const void **keys;
    uintptr_t *vals;
    size_t cap; /* power of two, or 0 */
    size_t count;
} mpi_ptrmap;

void mpi_ptrmap_init(mpi_ptrmap *m, const mp_allocator *alc);
void mpi_ptrmap_destroy(mpi_ptrmap *m);
/* Returns a pointer to the value slot, or NULL if absent. */
uintptr_t *mpi_ptrmap_get(const mpi_ptrmap *m, const void *key);
/* Inserts (key must be absent) or fails with MP_ENOMEM, map unchanged. */
mp_status mpi_ptrmap_put(mpi_ptrmap *m, const void *key, uintptr_t val);
/* Capacity for n entries without further allocation. */
mp_status mpi_ptrmap_reserve(mpi_ptrmap *m, size_t n);

/* ---- growable array of values (src/util/vec.c) ----------------------------- */

/* An explicit work stack / list of plain bytes elements. */
typedef struct mpi_vec {
    const mp_allocator *alc;
    uint8_t *data;
    size_t len;  /* elements */
    size_t cap;  /* elements */
    size_t elem; /* element size */
} mpi_vec;
void mpi_vec_init(mpi_vec *v, const mp_allocator *alc, size_t elem_size);
void mpi_vec_destroy(mpi_vec *v);
/* Reserves and returns a slot for one more element (len grows), or NULL. */
void *mpi_vec_push(mpi_vec *v);
static inline void *
mpi_vec_at(const mpi_vec *v, size_t i)
{
    return v->data + i * v->elem;
}
static inline void *
mpi_vec_top(const mpi_vec *v)
{
    return v->len ? v->data + (v->len - 1) * v->elem : NULL;
}

#endif
