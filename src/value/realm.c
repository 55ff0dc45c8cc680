/* Realms: the allocator every value goes through, with exact accounting. */
#include "value_internal.h"

mp_status
mp_realm_new(const mp_allocator *alc, mp_realm **out)
{
    if (!out) return MP_EINVAL;
    const mp_allocator *a = mpi_allocator_or_default(alc);
    /* The realm struct itself is not counted in bytes: an empty realm
     * reports 0, so tests can compare against a clean baseline. */
    mp_realm *r = mpi_malloc(a, sizeof *r);
    if (!r) return MP_ENOMEM;
    r->alc = *a;
    r->cells = NULL;
    r->cell_count = 0;
    r->bytes = 0;
    r->reserved = 0;
    r->large = NULL;
    r->outside_owners = 0;
    r->chunk = NULL;
    r->chunks = NULL;
    r->codec_state = NULL;
    r->codec_free = NULL;
    r->walking = false;
    r->atoms = (struct mpi_atoms){mpi_atoms_empty, 0, 0, NULL, 0, NULL};
    *out = r;
    return MP_OK;
}

static void chunk_free(mp_realm *r, mpi_chunk *c);

void
mp_realm_free(mp_realm *realm)
{
    if (!realm) return;
    if (realm->codec_free) realm->codec_free(realm);
    mpi_cell *c = realm->cells;
    while (c) {
        mpi_cell *next = c->next;
        mpi_cell_destroy(realm, c);
        c = next;
    }
    while (realm->chunks)
        chunk_free(realm, realm->chunks);
    mpi_atoms_free(realm);
    mp_allocator a = realm->alc;
    mpi_free(&a, realm);
}

void
mpi_realm_rollback(mp_realm *r, mpi_cell *mark)
{
    while (r->cells != mark) {
        mpi_cell *c = r->cells;
        r->cells = c->next;
        mpi_cell_destroy(r, c);
    }
}

mp_realm_stats
mp_realm_get_stats(const mp_realm *realm)
{
    mp_realm_stats s = {0, 0, 0};
    if (realm) {
        s.values = realm->cell_count;
        s.bytes = realm->bytes;
        s.reserved = realm->reserved;
    }
    return s;
}

/* ---- the arena --------------------------------------------------------
 * Small blocks are bumped from 64 KiB chunks; each block is preceded by a
 * pointer to its chunk (NULL for a large block, which comes straight from
 * the allocator). A chunk counts its live bytes and goes back to the
 * allocator when that reaches 0, so collecting garbage returns memory while
 * allocation stays a pointer bump. Freed blocks are not reused one by one:
 * the price is that a chunk lives while any block in it does.
 * struct mpi_chunk, MPI_ARENA_MAX_BLOCK (0 under AddressSanitizer) and the
 * inline fast paths of mpi_realm_alloc / mpi_realm_dealloc are in
 * src/internal.h; the functions here handle everything else. */

#define ARENA_CHUNK ((size_t)64 * 1024)

static inline uint8_t *
chunk_data(mpi_chunk *c)
{
    return (uint8_t *)(c + 1);
}

/* Prefix + payload, rounded to 8; 0 if n is absurd (so that a large
 * block's header can be added to it without overflow too). */
static inline size_t
block_size(size_t n)
{
    if (n > SIZE_MAX - 2 * MPI_BLOCK_PREFIX - sizeof(struct mpi_large)) return 0;
    return (n + MPI_BLOCK_PREFIX + 7) & ~(size_t)7;
}

static mpi_chunk *
chunk_new(mp_realm *r)
{
    mpi_chunk *cur = r->chunk;
    if (cur && cur->live == 0) {
        cur->bump = chunk_data(cur);
        return cur;
    }
    mpi_chunk *c = mpi_malloc(&r->alc, ARENA_CHUNK);
    if (!c) return NULL;
    c->prev = NULL;
    c->next = r->chunks;
    if (r->chunks) r->chunks->prev = c;
    r->chunks = c;
    c->live = 0;
    c->bump = chunk_data(c);
    c->end = (uint8_t *)c + ARENA_CHUNK;
    r->chunk = c;
    r->reserved += ARENA_CHUNK;
    return c;
}

static void
chunk_free(mp_realm *r, mpi_chunk *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        r->chunks = c->next;
    if (c->next) c->next->prev = c->prev;
    if (r->chunk == c) r->chunk = NULL;
    r->reserved -= ARENA_CHUNK;
    mpi_free(&r->alc, c);
}

/* A large block of b bytes (chunk prefix included) behind its header,
 * linked into r->large; returns where the prefix goes. */
static uint8_t *
large_new(mp_realm *r, size_t b)
{
    struct mpi_large *h = mpi_malloc(&r->alc, sizeof *h + b);
    if (!h) return NULL;
    h->prev = NULL;
    h->next = r->large;
    if (r->large) r->large->prev = h;
    r->large = h;
    h->size = sizeof *h + b;
    r->reserved += h->size;
    return (uint8_t *)(h + 1);
}

static inline struct mpi_large *
large_of(uint8_t *base)
{
    return (struct mpi_large *)base - 1;
}

static void
large_free(mp_realm *r, struct mpi_large *h)
{
    if (h->prev)
        h->prev->next = h->next;
    else
        r->large = h->next;
    if (h->next) h->next->prev = h->prev;
    r->reserved -= h->size;
    mpi_free(&r->alc, h);
}

void
mpi_realm_free_large(mp_realm *r)
{
    while (r->large)
        large_free(r, r->large);
}

void *
mpi_realm_alloc_slow(mp_realm *r, size_t n)
{
    size_t b = block_size(n);
    if (MPI_UNLIKELY(b == 0)) return NULL;
    uint8_t *p;
    mpi_chunk *c = NULL;
    if (b <= MPI_ARENA_MAX_BLOCK) {
        c = r->chunk;
        if (MPI_UNLIKELY(!c || (size_t)(c->end - c->bump) < b)) {
            c = chunk_new(r);
            if (!c) return NULL;
        }
        p = c->bump;
        c->bump += b;
        c->live += b;
    } else {
        p = large_new(r, b);
        if (!p) return NULL;
    }
    memcpy(p, &c, sizeof c);
    r->bytes += n;
    return p + MPI_BLOCK_PREFIX;
}

static inline mpi_chunk *
block_chunk(void *p)
{
    mpi_chunk *c;
    memcpy(&c, (uint8_t *)p - MPI_BLOCK_PREFIX, sizeof c);
    return c;
}

void
mpi_realm_dealloc_slow(mp_realm *r, void *p, size_t n)
{
    if (!p) return;
    uint8_t *base = (uint8_t *)p - MPI_BLOCK_PREFIX;
    mpi_chunk *c = block_chunk(p);
    size_t b = block_size(n);
    r->bytes -= n;
    if (!c) {
        large_free(r, large_of(base));
        return;
    }
    c->live -= b;
    if (c->live == 0) {
        if (c == r->chunk)
            c->bump = chunk_data(c);
        else
            chunk_free(r, c);
    } else if (c == r->chunk && base + b == c->bump) {
        c->bump = base; /* the newest block: give its space back */
    }
}

void
mpi_realm_reset_arena(mp_realm *r)
{
    mpi_chunk *keep = r->chunk;
    mpi_chunk *c = r->chunks;
    while (c) {
        mpi_chunk *next = c->next;
        if (c != keep) chunk_free(r, c);
        c = next;
    }
    if (keep) {
        keep->live = 0;
        keep->bump = chunk_data(keep);
        r->chunk = keep;
    }
    r->bytes = 0;
}

void *
mpi_realm_realloc(mp_realm *r, void *p, size_t old_n, size_t n)
{
    if (!p) return mpi_realm_alloc(r, n);
    uint8_t *base = (uint8_t *)p - MPI_BLOCK_PREFIX;
    mpi_chunk *c = block_chunk(p);
    size_t ob = block_size(old_n), nb = block_size(n);
    if (MPI_UNLIKELY(nb == 0)) return NULL;
    if (c && c == r->chunk && base + ob == c->bump && nb <= MPI_ARENA_MAX_BLOCK && nb <= (size_t)(c->end - base)) {
        /* The newest block grows or shrinks in place. */
        c->bump = base + nb;
        c->live = c->live - ob + nb;
        r->bytes = r->bytes - old_n + n;
        return p;
    }
    if (!c && nb > MPI_ARENA_MAX_BLOCK) {
        struct mpi_large *h = large_of(base);
        size_t size = h->size;
        h = mpi_realloc(&r->alc, h, size, sizeof *h + nb);
        if (!h) return NULL;
        /* the block may have moved: its neighbours point at it again */
        if (h->prev)
            h->prev->next = h;
        else
            r->large = h;
        if (h->next) h->next->prev = h;
        h->size = sizeof *h + nb;
        r->reserved = r->reserved - size + h->size;
        r->bytes = r->bytes - old_n + n;
        return (uint8_t *)(h + 1) + MPI_BLOCK_PREFIX;
    }
    void *q = mpi_realm_alloc(r, n);
    if (!q) return NULL;
    memcpy(q, p, old_n < n ? old_n : n);
    mpi_realm_dealloc(r, p, old_n);
    return q;
}

mp_realm *
mp_value_realm(mp_value v)
{
    return mpi_realm_of(v);
}
