/* Messages and their side tables, the per-realm host type registry,
 * transfer-list validation and the small helpers the encoder, decoder and
 * direct clone share. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "codec_internal.h"

#if defined(__SANITIZE_ADDRESS__)
#define MPI_BLOCK_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MPI_BLOCK_ASAN 1
#endif
#endif
#if defined(MPI_BLOCK_ASAN)
#include <sanitizer/asan_interface.h>
#endif
#if defined(__has_include)
#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#define MPI_BLOCK_VALGRIND 1
#endif
#endif

/* ---- message blocks ---------------------------------------------------------------- */

/* A message is mostly allocated by the posting thread and freed by the
 * receiving one. With glibc that free goes back to the sender's arena under
 * its lock, and the sender's next malloc takes the same lock: every message
 * would cost both threads a contended lock and the arena's cache lines. So
 * the blocks of messages made with the default allocator are recycled: a
 * thread keeps up to MPI_BLOCK_LOCAL freed blocks for its own next messages;
 * further ones are gathered in batches of MPI_BLOCK_BATCH, and each batch is
 * pushed with one CAS onto a process-wide return list, which a thread whose
 * cache ran dry takes whole with one exchange. Nobody pops a single node, so
 * the list has no ABA problem. The list holds at most MPI_BLOCK_SHARED
 * blocks and a thread at most that many more; surplus goes back to free(). */
#define MPI_BLOCK_LOCAL 64
#define MPI_BLOCK_BATCH 32
#define MPI_BLOCK_SHARED 4096

/* The work stacks of an encode, decode or clone (mpi_stk: ids, frames)
 * grow to hundreds of KiB on a large graph, and fresh memory of that size
 * comes from mmap: a page fault per 4 KiB, on every message. So a thread
 * keeps the stack buffers of its last walks, MPI_SPARE_N at most and
 * MPI_SPARE_BYTES in all, for its next (default allocator only); they go
 * back to free() at thread exit with the message blocks. */
#define MPI_SPARE_N 4
#define MPI_SPARE_BYTES ((size_t)4 << 20)

/* A block while it is cached: its first bytes link it. */
typedef struct free_block {
    struct free_block *next;       /* the next block of its chain */
    struct free_block *next_chain; /* chain heads: the next chain */
    size_t n;                      /* chain heads on the return list: blocks in the chain */
} free_block;

typedef struct block_cache {
    free_block *ready;  /* chain for this thread's next messages */
    free_block *chains; /* further chains taken from the return list */
    size_t n_ready;     /* blocks in ready and chains */
    free_block *out;    /* batch being gathered for the return list */
    size_t n_out;
    size_t recycled; /* blocks block_get took from a cache */
    bool registered; /* the thread-exit destructor is armed */
    struct spare_stack {
        void *p;
        size_t bytes;
    } spare[MPI_SPARE_N]; /* work-stack buffers kept for the next walk (mpi_stk) */
} block_cache;

/* The return list, alone on its cache line: the threads that push and the
 * one that takes meet here once per batch, not per message. */
static struct {
    _Alignas(64) free_block *_Atomic head;
    _Atomic size_t count; /* blocks on the list or about to be pushed */
    char pad_[64 - sizeof(void *) - sizeof(size_t)];
} block_return;

static _Thread_local block_cache block_tls;
static pthread_key_t block_key;
static pthread_once_t block_key_once = PTHREAD_ONCE_INIT;
static bool block_key_ok;

/* A cached block is out of bounds for ASan and undefined for memcheck
 * beyond its links, so a message used after mp_message_free is still
 * reported as it was when every block went back to free(). */
static inline void
block_hide(free_block *b)
{
#if defined(MPI_BLOCK_ASAN)
    ASAN_POISON_MEMORY_REGION((char *)b + sizeof *b, MPI_MESSAGE_BLOCK - sizeof *b);
#endif
#if defined(MPI_BLOCK_VALGRIND)
    VALGRIND_MAKE_MEM_NOACCESS((char *)b + sizeof *b, MPI_MESSAGE_BLOCK - sizeof *b);
#endif
    (void)b;
}

static inline void *
block_reveal(free_block *b)
{
#if defined(MPI_BLOCK_ASAN)
    ASAN_UNPOISON_MEMORY_REGION(b, MPI_MESSAGE_BLOCK);
#endif
#if defined(MPI_BLOCK_VALGRIND)
    VALGRIND_MAKE_MEM_UNDEFINED(b, MPI_MESSAGE_BLOCK);
#endif
    return b;
}

static void
free_chain(free_block *b)
{
    while (b) {
        free_block *next = b->next;
        free(block_reveal(b));
        b = next;
    }
}

/* Thread exit: the cache goes back to free(), so nothing is lost with the
 * thread. A message freed by a later destructor re-arms it. */
static void
block_cache_release(void *arg)
{
    block_cache *c = arg;
    free_chain(c->ready);
    while (c->chains) {
        free_block *next = c->chains->next_chain;
        free_chain(c->chains);
        c->chains = next;
    }
    free_chain(c->out);
    for (int i = 0; i < MPI_SPARE_N; i++)
        free(c->spare[i].p);
    memset(c, 0, sizeof *c);
}

static void
block_key_create(void)
{
    block_key_ok = pthread_key_create(&block_key, block_cache_release) == 0;
}

/* At exit, or when a dlopen'ed msgport is unloaded: no thread that exits
 * later may call into unmapped code, and the return list goes back to
 * free(). Taken with one exchange, as a thread would. */
__attribute__((destructor)) static void
block_pool_unload(void)
{
    if (block_key_ok) pthread_key_delete(block_key);
    free_block *list = atomic_exchange_explicit(&block_return.head, NULL, memory_order_acquire);
    while (list) {
        free_block *next = list->next_chain;
        atomic_fetch_sub_explicit(&block_return.count, list->n, memory_order_relaxed);
        free_chain(list);
        list = next;
    }
}

/* Arms the thread-exit release of this thread's cache; false if it cannot
 * be armed, and then the thread caches nothing. */
static bool
block_cache_arm(block_cache *c)
{
    if (MPI_LIKELY(c->registered)) return true;
    pthread_once(&block_key_once, block_key_create);
    if (!block_key_ok || pthread_setspecific(block_key, c) != 0) return false;
    c->registered = true;
    return true;
}

/* Pushes the gathered batch onto the return list, or frees it when the
 * list is full. */
static void
block_publish(block_cache *c)
{
    free_block *batch = c->out;
    size_t n = c->n_out;
    c->out = NULL;
    c->n_out = 0;
    if (atomic_load_explicit(&block_return.count, memory_order_relaxed) + n > MPI_BLOCK_SHARED) {
        free_chain(batch);
        return;
    }
    atomic_fetch_add_explicit(&block_return.count, n, memory_order_relaxed);
    batch->n = n;
    free_block *head = atomic_load_explicit(&block_return.head, memory_order_relaxed);
    do {
        batch->next_chain = head;
    } while (!atomic_compare_exchange_weak_explicit(&block_return.head, &head, batch, memory_order_release,
                                                    memory_order_relaxed));
}

/* Refills an empty cache: this thread's own gathered batch first, else the
 * whole return list. False if both are empty. */
static bool
block_refill(block_cache *c)
{
    if (c->out) {
        c->ready = c->out;
        c->n_ready = c->n_out;
        c->out = NULL;
        c->n_out = 0;
        return true;
    }
    /* Whatever this thread takes must be released at its exit. */
    if (!atomic_load_explicit(&block_return.head, memory_order_relaxed) || !block_cache_arm(c)) return false;
    free_block *list = atomic_exchange_explicit(&block_return.head, NULL, memory_order_acquire);
    if (!list) return false;
    size_t n = 0;
    for (free_block *h = list; h; h = h->next_chain)
        n += h->n;
    atomic_fetch_sub_explicit(&block_return.count, n, memory_order_relaxed);
    c->ready = list;
    c->chains = list->next_chain;
    c->n_ready = n;
    return true;
}

static void *
block_get(void)
{
    block_cache *c = &block_tls;
    if (!c->ready) {
        if (c->chains) {
            c->ready = c->chains;
            c->chains = c->chains->next_chain;
        } else if (!block_refill(c)) {
            return malloc(MPI_MESSAGE_BLOCK);
        }
    }
    free_block *b = c->ready;
    c->ready = b->next;
    c->n_ready--;
    c->recycled++;
    return block_reveal(b);
}

size_t
mpi_message_blocks_recycled(void)
{
    return block_tls.recycled;
}

static void
block_put(void *p)
{
    block_cache *c = &block_tls;
    if (!block_cache_arm(c)) {
        free(p);
        return;
    }
    free_block *b = p;
    /* Hidden before it is linked: once published another thread may take it. */
    block_hide(b);
    if (c->n_ready < MPI_BLOCK_LOCAL) {
        b->next = c->ready;
        c->ready = b;
        c->n_ready++;
    } else {
        b->next = c->out;
        c->out = b;
        if (++c->n_out == MPI_BLOCK_BATCH) block_publish(c);
    }
}

/* Messages of the default allocator live in recycled blocks. */
static inline bool
uses_libc(const mp_allocator *alc)
{
    return alc->malloc == mpi_libc_allocator.malloc && alc->free == mpi_libc_allocator.free;
}

/* ---- messages ------------------------------------------------------------------ */

mp_message *
mpi_message_new(const mp_allocator *alc)
{
    alc = mpi_allocator_or_default(alc);
    mp_message *m = uses_libc(alc) ? block_get() : mpi_malloc(alc, MPI_MESSAGE_BLOCK);
    if (!m) return NULL;
    /* Field by field: a memset of the header compiles to `rep stos`, whose
     * stores the encoder's first loads from the header (bytes, len) wait
     * for (half of mpi_message_new's samples and a quarter of
     * mp_serialize's own on W1). */
    m->alc = *alc;
    m->bytes = m->inline_bytes;
    m->len = 0;
    m->cap = MPI_MESSAGE_INLINE;
    m->moved = NULL;
    m->n_moved = 0;
    m->shared = NULL;
    m->n_shared = 0;
    m->cap_shared = 0;
    m->hosts = NULL;
    m->n_hosts = 0;
    m->cap_hosts = 0;
    m->ports = NULL;
    m->n_ports = 0;
    return m;
}

bool
mpi_message_grow(mp_message *m, size_t need)
{
    size_t cap = m->cap;
    while (cap - m->len < need) {
        /* Fourfold past 64 KiB: a large message is copied fewer times as
         * it grows (mpi_message_fit gives back what it does not use). */
        unsigned k = cap >= MPI_MESSAGE_GROW4 ? 4 : 2;
        if (cap > SIZE_MAX / k) return false;
        cap *= k;
    }
    uint8_t *b;
    if (m->bytes == m->inline_bytes) {
        b = mpi_malloc(&m->alc, cap);
        if (b && m->len) memcpy(b, m->bytes, m->len);
    } else {
        b = mpi_realloc(&m->alc, m->bytes, m->cap, cap);
    }
    if (!b) return false;
    /* A large message is written once, front to back, into fresh memory:
     * 4 KiB faults cost W6_64M's encode 34 ms, 2 MiB ones 7 ms. */
    mpi_advise_huge(b, cap);
    m->bytes = b;
    m->cap = cap;
    return true;
}

void
mpi_message_fit(mp_message *m)
{
    if (m->bytes == m->inline_bytes || m->cap < MPI_MESSAGE_GROW4 || m->cap - m->len <= m->len) return;
    uint8_t *b = mpi_realloc(&m->alc, m->bytes, m->cap, m->len);
    if (!b) return; /* keeps the larger block */
    m->bytes = b;
    m->cap = m->len;
}

mp_status
mpi_message_set_bytes(mp_message *m, const void *bytes, size_t len)
{
    uint8_t *b = mpi_malloc(&m->alc, len ? len : 1);
    if (!b) return MP_ENOMEM;
    mpi_advise_huge(b, len);
    if (len) memcpy(b, bytes, len);
    if (m->bytes != m->inline_bytes) mpi_free(&m->alc, m->bytes);
    m->bytes = b;
    m->len = len;
    m->cap = len ? len : 1;
    return MP_OK;
}

void
mp_message_free(mp_message *m)
{
    if (!m) return;
    mp_allocator alc = m->alc;
    if (m->moved || m->shared || m->hosts || m->ports) { /* most messages have no side tables */
        for (size_t i = 0; i < m->n_moved; i++)
            mpi_store_unref(m->moved[i].store);
        for (size_t i = 0; i < m->n_shared; i++)
            mpi_store_unref(m->shared[i]);
        for (size_t i = 0; i < m->n_hosts; i++) {
            mpi_host_payload *h = &m->hosts[i];
            if (h->free_payload) h->free_payload(h->ctx, h->payload);
        }
        for (size_t i = 0; i < m->n_ports; i++)
            mpi_port_release(m->ports[i]); /* unread: the port closes, its peer sees close */
        mpi_free(&alc, m->ports);
        mpi_free(&alc, m->moved);
        mpi_free(&alc, m->shared);
        mpi_free(&alc, m->hosts);
    }
    if (m->bytes != m->inline_bytes) mpi_free(&alc, m->bytes);
    if (uses_libc(&alc))
        block_put(m);
    else
        mpi_free(&alc, m);
}

mp_status
mp_message_from_bytes(const void *bytes, size_t len, const mp_allocator *alc, mp_message **out)
{
    if (!out || (!bytes && len)) return MP_EINVAL;
    mp_message *m = mpi_message_new(alc);
    if (!m) return MP_ENOMEM;
    if (mpi_message_set_bytes(m, bytes, len) != MP_OK) {
        mp_message_free(m);
        return MP_ENOMEM;
    }
    *out = m;
    return MP_OK;
}

void
mp_message_bytes(const mp_message *m, const void **bytes, size_t *len)
{
    if (bytes) *bytes = m ? m->bytes : NULL;
    if (len) *len = m ? m->len : 0;
}

mp_message_info
mp_message_get_info(const mp_message *m)
{
    mp_message_info i = {0, 0, 0, 0};
    if (m) {
        i.moved_stores = m->n_moved;
        i.shared_stores = m->n_shared;
        i.host_payloads = m->n_hosts;
        i.ports = m->n_ports;
    }
    return i;
}

/* Grows a side table by one slot. */
static void *
table_push(const mp_allocator *alc, void **data, size_t *n, size_t *cap, size_t elem)
{
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 4;
        void *d = mpi_realloc(alc, *data, *cap * elem, c * elem);
        if (!d) return NULL;
        *data = d;
        *cap = c;
    }
    return (uint8_t *)*data + (*n)++ * elem;
}

mp_status
mpi_message_add_shared(mp_message *m, mpi_store *s, uint32_t *index)
{
    if (m->n_shared >= UINT32_MAX) return MP_ENOMEM;
    mpi_store **slot = table_push(&m->alc, (void **)&m->shared, &m->n_shared, &m->cap_shared, sizeof *slot);
    if (!slot) return MP_ENOMEM;
    mpi_store_ref(s);
    *slot = s;
    *index = (uint32_t)(m->n_shared - 1);
    return MP_OK;
}

mp_status
mpi_message_add_host(mp_message *m, const mpi_host_payload *h, uint32_t *index)
{
    if (m->n_hosts >= UINT32_MAX) return MP_ENOMEM;
    mpi_host_payload *slot = table_push(&m->alc, (void **)&m->hosts, &m->n_hosts, &m->cap_hosts, sizeof *slot);
    if (!slot) return MP_ENOMEM;
    *slot = *h;
    *index = (uint32_t)(m->n_hosts - 1);
    return MP_OK;
}

/* ---- limits ---------------------------------------------------------------------- */

mp_decode_limits
mp_decode_limits_default(void)
{
    mp_decode_limits l;
    l.max_depth = 10000000;
    l.max_bytes = SIZE_MAX;
    l.max_objects = SIZE_MAX;
    l.max_string_length = SIZE_MAX;
    l.max_buffer_length = SIZE_MAX;
    l.max_reserve = (size_t)64 << 20;
    return l;
}

/* ---- per-realm codec state ------------------------------------------------------- */

static void
codec_realm_free(mp_realm *r)
{
    mpi_codec_realm *cr = r->codec_state;
    if (!cr) return;
    mpi_free(&r->alc, cr->types);
    mpi_dshapes_free(r, cr->shapes);
    mpi_free(&r->alc, cr);
    r->codec_state = NULL;
    r->codec_free = NULL;
}

mpi_codec_realm *
mpi_codec_realm_get(mp_realm *r)
{
    mpi_codec_realm *cr = r->codec_state;
    if (cr) return cr;
    cr = mpi_malloc(&r->alc, sizeof *cr);
    if (!cr) return NULL;
    memset(cr, 0, sizeof *cr);
    r->codec_state = cr;
    r->codec_free = codec_realm_free;
    return cr;
}

const mpi_host_type *
mpi_host_type_find(const mp_realm *r, uint32_t tag)
{
    const mpi_codec_realm *cr = r ? r->codec_state : NULL;
    if (!cr) return NULL;
    for (size_t i = 0; i < cr->n_types; i++)
        if (cr->types[i].tag == tag) return &cr->types[i];
    return NULL;
}

mp_status
mp_realm_register_host_type(mp_realm *realm, uint32_t type_tag, const mp_host_type_hooks *hooks, void *ctx)
{
    if (!realm || !hooks || !hooks->write || !hooks->read) return MP_EINVAL;
    mpi_codec_realm *cr = mpi_codec_realm_get(realm);
    if (!cr) return MP_ENOMEM;
    for (size_t i = 0; i < cr->n_types; i++) {
        if (cr->types[i].tag == type_tag) {
            cr->types[i].hooks = *hooks;
            cr->types[i].ctx = ctx;
            return MP_OK;
        }
    }
    mpi_host_type *t = table_push(&realm->alc, (void **)&cr->types, &cr->n_types, &cr->cap_types, sizeof *t);
    if (!t) return MP_ENOMEM;
    t->tag = type_tag;
    t->hooks = *hooks;
    t->ctx = ctx;
    return MP_OK;
}

/* ---- transfer lists ------------------------------------------------------------------ */

/* ---- small containers ------------------------------------------------------------ */

/* A kept stack buffer of at least `need` bytes (the smallest such, else
 * the largest grown to need), or NULL; *bytes is its size. */
static void *
spare_take(size_t need, size_t *bytes)
{
    block_cache *c = &block_tls;
    int best = -1, largest = -1;
    for (int i = 0; i < MPI_SPARE_N; i++) {
        size_t b = c->spare[i].bytes;
        if (!c->spare[i].p) continue;
        if (b >= need && (best < 0 || b < c->spare[best].bytes)) best = i;
        if (largest < 0 || b > c->spare[largest].bytes) largest = i;
    }
    int i = best >= 0 ? best : largest;
    if (i < 0) return NULL;
    void *p = c->spare[i].p;
    size_t b = c->spare[i].bytes;
    c->spare[i].p = NULL;
    c->spare[i].bytes = 0;
    if (b < need) {
        void *q = realloc(p, need);
        if (!q) {
            free(p);
            return NULL;
        }
        p = q;
        b = need;
    }
    *bytes = b;
    return p;
}

static size_t
spare_total(const block_cache *c)
{
    size_t total = 0;
    for (int i = 0; i < MPI_SPARE_N; i++)
        total += c->spare[i].bytes;
    return total;
}

/* Keeps a stack buffer for this thread's next walk, in place of a smaller
 * one if the budget is spent; frees what is not kept. */
static void
spare_put(void *p, size_t bytes)
{
    block_cache *c = &block_tls;
    if (bytes > MPI_SPARE_BYTES || !block_cache_arm(c)) {
        free(p);
        return;
    }
    int slot = -1;
    for (int i = 0; i < MPI_SPARE_N && slot < 0; i++)
        if (!c->spare[i].p) slot = i;
    while (slot < 0 || spare_total(c) + bytes > MPI_SPARE_BYTES) {
        int smallest = -1;
        for (int i = 0; i < MPI_SPARE_N; i++)
            if (c->spare[i].p && (smallest < 0 || c->spare[i].bytes < c->spare[smallest].bytes)) smallest = i;
        if (smallest < 0 || c->spare[smallest].bytes >= bytes) {
            free(p);
            return;
        }
        free(c->spare[smallest].p);
        c->spare[smallest].p = NULL;
        c->spare[smallest].bytes = 0;
        slot = smallest;
    }
    c->spare[slot].p = p;
    c->spare[slot].bytes = bytes;
}

void *
mpi_stk_grow(mpi_stk *s)
{
    size_t cap = s->cap ? s->cap * 2 : 16;
    if (cap > SIZE_MAX / s->elem) return NULL;
    uint8_t *d;
    if (s->data == s->inl) {
        size_t bytes = cap * s->elem;
        if (uses_libc(s->alc) && (d = spare_take(bytes, &bytes)) != NULL)
            cap = bytes / s->elem;
        else if (!(d = mpi_malloc(s->alc, cap * s->elem)))
            return NULL;
        if (s->len) memcpy(d, s->data, s->len * s->elem);
    } else {
        d = mpi_realloc(s->alc, s->data, s->cap * s->elem, cap * s->elem);
        if (!d) return NULL;
    }
    s->data = d;
    s->cap = cap;
    return s->data + s->len++ * s->elem;
}

void
mpi_stk_release(mpi_stk *s)
{
    if (uses_libc(s->alc))
        spare_put(s->data, s->cap * s->elem);
    else
        mpi_free(s->alc, s->data);
}

static void
idt_insert(mpi_idt_slot *slots, size_t cap, const mpi_cell *key, uintptr_t val)
{
    size_t mask = cap - 1;
    size_t i = mpi_idt_hash(key) & mask;
    while (slots[i].k)
        i = (i + 1) & mask;
    slots[i].k = key;
    slots[i].v = val;
}

mp_status
mpi_idtab_put_slow(mpi_idtab *t, const mpi_cell *key, uintptr_t val)
{
    if (MPI_LIKELY(!t->slots && t->n < MPI_IDT_SMALL)) {
        t->small[t->n].k = key;
        t->small[t->n++].v = val;
        return MP_OK;
    }
    if (!t->slots || 2 * (t->n + 1) > t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        if (cap > SIZE_MAX / 2 / sizeof(mpi_idt_slot)) return MP_ENOMEM;
        mpi_idt_slot *slots = mpi_malloc(t->alc, cap * sizeof *slots);
        if (!slots) return MP_ENOMEM;
        memset(slots, 0, cap * sizeof *slots);
        if (t->slots) {
            for (size_t i = 0; i < t->cap; i++)
                if (t->slots[i].k) idt_insert(slots, cap, t->slots[i].k, t->slots[i].v);
            mpi_free(t->alc, t->slots);
        } else {
            for (size_t i = 0; i < t->n; i++)
                idt_insert(slots, cap, t->small[i].k, t->small[i].v);
        }
        t->slots = slots;
        t->cap = cap;
    }
    idt_insert(t->slots, t->cap, key, val);
    t->n++;
    return MP_OK;
}

void
mpi_idtab_free_slots(mpi_idtab *t)
{
    mpi_free(t->alc, t->slots);
    t->slots = NULL;
}

/* A failure of transfer-list entry i, its path "transfer[i]" made only now
 * (every post with a transfer list checks its entries). */
static mp_status
entry_fail(mp_error_info *err, mp_status code, size_t i, const char *fmt, ...)
{
    char path[32];
    snprintf(path, sizeof path, "transfer[%zu]", i);
    va_list ap;
    va_start(ap, fmt);
    mpi_vfail(err, code, MP_NO_OFFSET, path, fmt, ap);
    va_end(ap);
    return code;
}

/* The checks of entry i that need no other entry; the first entry also
 * fixes the realm every other must belong to. */
static mp_status
xfer_check_entry(mp_value t, size_t i, mp_realm **realm, mp_error_info *err)
{
    switch (t.kind_) {
    case MP_SHAREDARRAYBUFFER:
        return entry_fail(err, MP_EDATACLONE, i,
                          "A SharedArrayBuffer could not be cloned. SharedArrayBuffer must not be transferred.");
    case MP_PORT:
        /* Closed, already shipped, or its close event received. The
         * source port is refused by the port layer, which knows it. */
        if (mpi_port_is_broadcast(t.u_.cell_))
            return entry_fail(err, MP_EDATACLONE, i,
                              "Found invalid value in transferList. (a broadcast channel cannot be transferred)");
        if (!mpi_port_transferable(t.u_.cell_))
            return entry_fail(err, MP_EDATACLONE, i, "MessagePort in transfer list is already detached");
        break;
    case MP_ARRAYBUFFER: {
        mpi_arraybuffer *ab = t.u_.cell_;
        if (ab->h.flags & MPI_AB_DETACHED)
            return entry_fail(err, MP_EDATACLONE, i, "An ArrayBuffer is detached and could not be cloned.");
        if (ab->h.flags & MPI_AB_NOT_DETACHABLE)
            return entry_fail(err, MP_EDATACLONE, i, "ArrayBuffer is not detachable and could not be cloned.");
        break;
    }
    case MP_HOST: {
        mpi_host *h = t.u_.cell_;
        const mpi_host_type *ht = mpi_host_type_find(h->h.realm, h->h.aux);
        if (!ht || !ht->hooks.transfer)
            return entry_fail(err, MP_EDATACLONE, i,
                              "Found invalid value in transferList. (host type %u is not transferable)",
                              (unsigned)h->h.aux);
        break;
    }
    default:
        return entry_fail(err, MP_EDATACLONE, i, "Found invalid value in transferList.");
    }
    mpi_cell *c = t.u_.cell_;
    if (!*realm) *realm = c->realm;
    if (c->realm != *realm) return entry_fail(err, MP_EREALM, i, "transfer list entry belongs to another realm");
    return MP_OK;
}

/* Records checked entry i (its placeholder in ids), unless it is listed
 * already. */
static mp_status
xfer_add_entry(mpi_xfer *x, mpi_cell *c, size_t i, mpi_idtab *ids, mp_error_info *err)
{
    uintptr_t seen;
    if (mpi_idtab_get(ids, c, &seen)) {
        if (c->kind == MP_ARRAYBUFFER)
            return entry_fail(err, MP_EDATACLONE, i, "Transfer list contains duplicate ArrayBuffer");
        if (c->kind == MP_PORT)
            return entry_fail(err, MP_EDATACLONE, i, "Transfer list contains duplicate MessagePort");
        return entry_fail(err, MP_EDATACLONE, i, "Transfer list contains duplicate host object");
    }
    mpi_xfer_entry *e = &x->entries[x->n];
    memset(e, 0, sizeof *e);
    e->cell = c;
    if (c->kind == MP_ARRAYBUFFER)
        e->ab_index = x->n_ab++;
    else if (c->kind == MP_PORT)
        e->port_index = x->n_ports++;
    else
        e->ht = mpi_host_type_find(c->realm, c->aux);
    if (mpi_idtab_put(ids, c, MPI_XFER_MARK(x->n)) != MP_OK) return mpi_fail(err, MP_ENOMEM, MP_NO_OFFSET, NULL, NULL);
    x->n++;
    return MP_OK;
}

mp_status
mpi_xfer_prepare(mpi_xfer *x, mp_realm **realm, const mp_value *transfer, size_t n, mpi_idtab *ids,
                 const mp_allocator *alc, mp_error_info *err)
{
    memset(x, 0, sizeof *x);
    x->alc = alc;
    if (n == 0) return MP_OK;
    if (!transfer) return mpi_fail(err, MP_EINVAL, MP_NO_OFFSET, NULL, "transfer list is NULL with n = %zu", n);
    x->entries = mpi_malloc(alc, n * sizeof *x->entries);
    if (!x->entries) return mpi_fail(err, MP_ENOMEM, MP_NO_OFFSET, NULL, NULL);
    /* One pass in list order, as Node: each entry is checked whole (kind,
     * then detached / not detachable, then duplicate) before the next, so
     * the first bad entry is the one reported. Nothing is mutated here. */
    for (size_t i = 0; i < n; i++) {
        mp_status st = xfer_check_entry(transfer[i], i, realm, err);
        if (st == MP_OK) st = xfer_add_entry(x, transfer[i].u_.cell_, i, ids, err);
        if (st != MP_OK) {
            mpi_xfer_destroy(x);
            mpi_idtab_destroy(ids);
            mpi_idtab_init(ids, alc);
            return st;
        }
    }
    return MP_OK;
}

void
mpi_xfer_destroy(mpi_xfer *x)
{
    if (x->entries) mpi_free(x->alc, x->entries);
    x->entries = NULL;
    x->n = x->n_ab = x->n_ports = 0;
}

mpi_arraybuffer *
mpi_ab_adopt(mp_realm *r, mpi_store *s, size_t byte_length, size_t max_byte_length, bool resizable)
{
    mpi_arraybuffer *ab = (mpi_arraybuffer *)mpi_cell_new(r, MP_ARRAYBUFFER, sizeof *ab);
    if (!ab) return NULL;
    ab->store = s;
    ab->byte_length = byte_length;
    ab->max_byte_length = resizable ? max_byte_length : byte_length;
    if (resizable) ab->h.flags |= MPI_AB_RESIZABLE;
    return ab;
}

/* ---- paths ------------------------------------------------------------------------------ */

void
mpi_path_append(mpi_pathbuf *p, const char *fmt, ...)
{
    if (p->len + 1 >= p->cap) return;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(p->buf + p->len, p->cap - p->len, fmt, ap);
    va_end(ap);
    if (k < 0) return;
    p->len += (size_t)k;
    if (p->len >= p->cap) p->len = p->cap - 1;
}

void
mpi_path_key(mpi_pathbuf *p, const mpi_string *key)
{
    bool ident = key->length > 0 && key->length <= 64 && !(key->h.flags & MPI_STR_WIDE);
    for (uint32_t i = 0; ident && i < key->length; i++) {
        uint8_t c = key->u.narrow[i];
        bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '$';
        bool digit = c >= '0' && c <= '9';
        if (!(alpha || (i > 0 && digit))) ident = false;
    }
    if (ident) {
        mpi_path_append(p, ".%.*s", (int)key->length, (const char *)key->u.narrow);
        return;
    }
    /* Anything else as a quoted key, printable ASCII only, kept short. */
    mpi_path_append(p, "[\"");
    for (uint32_t i = 0; i < key->length && i < 48; i++) {
        uint16_t c = mpi_string_unit(key, i);
        if (c >= 0x20 && c < 0x7F && c != '"' && c != '\\')
            mpi_path_append(p, "%c", (char)c);
        else
            mpi_path_append(p, "\\u%04x", (unsigned)c);
    }
    if (key->length > 48) mpi_path_append(p, "...");
    mpi_path_append(p, "\"]");
}

size_t
mpi_codec_view_esize(uint32_t type)
{
    static const uint8_t sizes[MP_VIEW_TYPE_COUNT_] = {
        [MP_INT8] = 1,    [MP_UINT8] = 1,    [MP_UINT8_CLAMPED] = 1, [MP_INT16] = 2,
        [MP_UINT16] = 2,  [MP_INT32] = 4,    [MP_UINT32] = 4,        [MP_FLOAT32] = 4,
        [MP_FLOAT64] = 8, [MP_BIGINT64] = 8, [MP_BIGUINT64] = 8,
    };
    return type < MP_VIEW_TYPE_COUNT_ ? sizes[type] : 1;
}

/* The position of entry slot `slot` among the entries that exist (deleted
 * ones leave empty slots until the table is compacted): what iteration
 * would count. Only error paths ask, so a scan is fine. */
static size_t
live_entry_index(const mpi_map *m, size_t slot)
{
    size_t live = 0;
    for (size_t i = 0; i < slot; i++)
        live += m->entries[i].key.kind_ != MPI_TAG_EMPTY;
    return live;
}

void
mpi_path_step(mpi_pathbuf *p, const mpi_cell *container, size_t last, int phase)
{
    switch ((mp_kind)container->kind) {
    case MP_OBJECT:
        mpi_path_key(p, ((const mpi_object *)container)->props.slots[last].key);
        break;
    case MP_ARRAY: {
        const mpi_array *a = (const mpi_array *)container;
        if (phase == 1)
            mpi_path_key(p, a->props.slots[last].key);
        else if (container->flags & MPI_ARRAY_SPARSE)
            mpi_path_append(p, "[%u]", (unsigned)a->sparse[last].index);
        else
            mpi_path_append(p, "[%u]", (unsigned)last);
        break;
    }
    case MP_MAP:
        mpi_path_append(p, "[[entries]][%zu].%s", live_entry_index((const mpi_map *)container, last),
                        phase ? "value" : "key");
        break;
    case MP_SET:
        mpi_path_append(p, "[[entries]][%zu]", live_entry_index((const mpi_map *)container, last));
        break;
    case MP_ERROR:
        mpi_path_append(p, ".cause");
        break;
    default:
        break;
    }
}
