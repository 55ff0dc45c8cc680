/* Map and Set: entries in insertion order plus an open-addressing index
 * (mpi_map_slot per bucket, 0 empty, UINT32_MAX tombstone). Every entry ever
 * appended owns one non-empty bucket, so the index load is used/index_cap,
 * kept at most 1/2 by sizing index_cap = 2 * cap. Deleting marks the entry
 * MPI_TAG_EMPTY; tombstones are compacted away only when the entries fill
 * up, never during delete, so deleting while iterating is safe. */
#include <math.h>

#include "value_internal.h"

uint32_t
mpi_hash_same_value_zero(mp_value v)
{
    switch (v.kind_) {
    case MP_UNDEFINED:
        return 0x9e3779b9u;
    case MP_NULL:
        return 0x7f4a7c15u;
    case MP_BOOLEAN:
        return v.bits_ ? 0x85ebca6bu : 0xc2b2ae35u;
    case MP_NUMBER: {
        double d = v.u_.number_;
        uint64_t bits;
        if (d != d) return 0x27d4eb2fu; /* every NaN alike */
        if (d == 0) d = 0.0;            /* -0 hashes as +0 */
        memcpy(&bits, &d, sizeof bits);
        return mpi_hash_u64(bits);
    }
    case MP_STRING:
        return mpi_string_hash(v.u_.cell_);
    case MP_BIGINT: {
        const mpi_bigint *b = v.u_.cell_;
        return mpi_hash_words((uint64_t)(b->h.flags & 1), b->words, b->count);
    }
    default:
        /* objects by identity: the address is the key */
        return mpi_hash_u64((uint64_t)(uintptr_t)v.u_.cell_);
    }
}

static bool
bigint_equal(const mpi_bigint *a, const mpi_bigint *b)
{
    return a->count == b->count && (a->h.flags & 1) == (b->h.flags & 1) &&
           (a->count == 0 || memcmp(a->words, b->words, a->count * sizeof(uint64_t)) == 0);
}

bool
mpi_same_value_zero(mp_value a, mp_value b)
{
    if (a.kind_ != b.kind_) return false;
    switch (a.kind_) {
    case MP_UNDEFINED:
    case MP_NULL:
        return true;
    case MP_BOOLEAN:
        return (a.bits_ != 0) == (b.bits_ != 0);
    case MP_NUMBER: {
        double x = a.u_.number_, y = b.u_.number_;
        return x == y || (x != x && y != y);
    }
    case MP_STRING:
        return mpi_string_equal(a.u_.cell_, b.u_.cell_);
    case MP_BIGINT:
        return bigint_equal(a.u_.cell_, b.u_.cell_);
    default:
        return a.u_.cell_ == b.u_.cell_;
    }
}

bool
mp_same_value(mp_value a, mp_value b)
{
    if (a.kind_ == MP_NUMBER && b.kind_ == MP_NUMBER) {
        double x = a.u_.number_, y = b.u_.number_;
        if (x != x) return y != y;
        if (x == 0 && y == 0) return signbit(x) == signbit(y);
        return x == y;
    }
    return mpi_same_value_zero(a, b);
}

/* ---- the table ----------------------------------------------------------- */

static mpi_map *
map_of(mp_value v, mp_kind kind)
{
    return mpi_cell_if(v, kind);
}

static uint32_t
find_entry(const mpi_map *m, mp_value key, uint32_t hash, uint32_t *bucket)
{
    if (!m->index) return UINT32_MAX;
    uint32_t mask = m->index_cap - 1;
    uint32_t b = hash & mask;
    uint32_t s;
    while ((s = m->index[b]) != 0) {
        uint32_t e = mpi_map_slot_entry(s, hash);
        if (e != UINT32_MAX && mpi_same_value_zero(m->entries[e].key, key)) {
            if (bucket) *bucket = b;
            return e;
        }
        b = (b + 1) & mask;
    }
    return UINT32_MAX;
}

/* Drops deleted entries (order kept) and rebuilds the index. */
static void
compact_and_reindex(mpi_map *m)
{
    uint32_t w = 0;
    for (uint32_t i = 0; i < m->used; i++)
        if (m->entries[i].key.kind_ != MPI_TAG_EMPTY) m->entries[w++] = m->entries[i];
    m->used = w;
    memset(m->index, 0, (size_t)m->index_cap * sizeof(uint32_t));
    for (uint32_t i = 0; i < w; i++)
        mpi_map_index_insert(m, i, mpi_hash_same_value_zero(m->entries[i].key));
}

/* Room for one more entry. On failure the table is unchanged. */
static mp_status
reserve_one(mpi_map *m)
{
    if (m->used < m->cap) return MP_OK;
    mp_realm *r = m->h.realm;
    if (m->used - m->live >= m->cap / 4 && m->used != m->live) {
        /* A quarter or more tombstones: reuse the space. Each compaction
         * frees at least cap/4 slots, so its cost amortizes to O(1). */
        compact_and_reindex(m);
        return MP_OK;
    }
    if (m->cap >= MPI_MAP_MAX_ENTRIES) return MP_ENOMEM;
    uint32_t cap = m->cap ? m->cap * 2 : 4;
    uint32_t icap = cap * 2;
    uint32_t *idx = mpi_realm_alloc(r, (size_t)icap * sizeof(uint32_t));
    if (!idx) return MP_ENOMEM;
    mpi_map_entry *e =
        mpi_realm_realloc(r, m->entries, (size_t)m->cap * sizeof(mpi_map_entry), (size_t)cap * sizeof(mpi_map_entry));
    if (!e) {
        mpi_realm_dealloc(r, idx, (size_t)icap * sizeof(uint32_t));
        return MP_ENOMEM;
    }
    mpi_realm_dealloc(r, m->index, (size_t)m->index_cap * sizeof(uint32_t));
    m->entries = e;
    m->cap = cap;
    m->index = idx;
    m->index_cap = icap;
    compact_and_reindex(m);
    return MP_OK;
}

static mp_status
table_put(mpi_map *m, mp_value key, mp_value value)
{
    if (mpi_check_realm(m->h.realm, key) || mpi_check_realm(m->h.realm, value)) return MP_EREALM;
    if (key.kind_ >= MP_KIND_COUNT_) return MP_EINVAL;
    if (key.kind_ == MP_NUMBER && key.u_.number_ == 0) key.u_.number_ = 0.0; /* -0 -> +0 */
    uint32_t h = mpi_hash_same_value_zero(key);
    uint32_t e = find_entry(m, key, h, NULL);
    if (e != UINT32_MAX) {
        m->entries[e].value = value;
        return MP_OK;
    }
    mp_status st = reserve_one(m);
    if (st != MP_OK) return st;
    e = m->used++;
    m->entries[e].key = key;
    m->entries[e].value = value;
    m->live++;
    mpi_map_index_insert(m, e, h);
    return MP_OK;
}

bool
mpi_map_add_new(mpi_map *m, mp_value key, mp_value value)
{
    if (key.kind_ == MP_NUMBER && key.u_.number_ == 0) key.u_.number_ = 0.0; /* -0 -> +0 */
    uint32_t mask = m->index_cap - 1;
    uint32_t hash = mpi_hash_same_value_zero(key);
    uint32_t b = hash & mask;
    uint32_t s;
    while ((s = m->index[b]) != 0) {
        uint32_t e = mpi_map_slot_entry(s, hash);
        if (e != UINT32_MAX && mpi_same_value_zero(m->entries[e].key, key)) return false;
        b = (b + 1) & mask;
    }
    uint32_t e = m->used++;
    m->entries[e].key = key;
    m->entries[e].value = value;
    m->live++;
    m->index[b] = mpi_map_slot(e, hash);
    return true;
}

static mp_status
table_delete(mpi_map *m, mp_value key)
{
    uint32_t b;
    uint32_t e = find_entry(m, key, mpi_hash_same_value_zero(key), &b);
    if (e == UINT32_MAX) return MP_ENOTFOUND;
    m->index[b] = UINT32_MAX;
    m->entries[e].key.kind_ = MPI_TAG_EMPTY;
    m->entries[e].key.u_.cell_ = NULL;
    m->entries[e].value = mp_undefined();
    m->live--;
    return MP_OK;
}

static bool
table_next(const mpi_map *m, size_t *cursor, mp_value *key, mp_value *value)
{
    if (!cursor) return false;
    for (size_t i = *cursor; i < m->used; i++) {
        const mpi_map_entry *en = &m->entries[i];
        if (en->key.kind_ == MPI_TAG_EMPTY) continue;
        if (key) *key = en->key;
        if (value) *value = en->value;
        *cursor = i + 1;
        return true;
    }
    if (*cursor < m->used) *cursor = m->used;
    return false;
}

static mp_status
table_new(mp_realm *realm, mp_kind kind, mp_value *out)
{
    if (!realm || !out) return MP_EINVAL;
    mpi_cell *c = mpi_cell_new(realm, kind, sizeof(mpi_map));
    if (!c) return MP_ENOMEM;
    *out = mpi_value_cell(kind, c);
    return MP_OK;
}

/* ---- Map ------------------------------------------------------------------ */

mp_status
mp_map_new(mp_realm *realm, mp_value *out)
{
    return table_new(realm, MP_MAP, out);
}

mp_status
mp_map_set(mp_value map, mp_value key, mp_value value)
{
    mpi_map *m = map_of(map, MP_MAP);
    if (!m) return MP_ETYPE;
    return table_put(m, key, value);
}

mp_status
mp_map_get(mp_value map, mp_value key, mp_value *out)
{
    mpi_map *m = map_of(map, MP_MAP);
    if (!m) return MP_ETYPE;
    uint32_t e = find_entry(m, key, mpi_hash_same_value_zero(key), NULL);
    if (e == UINT32_MAX) {
        if (out) *out = mp_undefined();
        return MP_ENOTFOUND;
    }
    if (out) *out = m->entries[e].value;
    return MP_OK;
}

bool
mp_map_has(mp_value map, mp_value key)
{
    mpi_map *m = map_of(map, MP_MAP);
    return m && find_entry(m, key, mpi_hash_same_value_zero(key), NULL) != UINT32_MAX;
}

mp_status
mp_map_delete(mp_value map, mp_value key)
{
    mpi_map *m = map_of(map, MP_MAP);
    if (!m) return MP_ETYPE;
    return table_delete(m, key);
}

size_t
mp_map_size(mp_value map)
{
    mpi_map *m = map_of(map, MP_MAP);
    return m ? m->live : 0;
}

bool
mp_map_next(mp_value map, size_t *cursor, mp_value *key, mp_value *value)
{
    mpi_map *m = map_of(map, MP_MAP);
    return m && table_next(m, cursor, key, value);
}

/* ---- Set ------------------------------------------------------------------ */

mp_status
mp_set_new(mp_realm *realm, mp_value *out)
{
    return table_new(realm, MP_SET, out);
}

mp_status
mp_set_add(mp_value set, mp_value key)
{
    mpi_map *m = map_of(set, MP_SET);
    if (!m) return MP_ETYPE;
    return table_put(m, key, mp_undefined());
}

bool
mp_set_has(mp_value set, mp_value key)
{
    mpi_map *m = map_of(set, MP_SET);
    return m && find_entry(m, key, mpi_hash_same_value_zero(key), NULL) != UINT32_MAX;
}

mp_status
mp_set_delete(mp_value set, mp_value key)
{
    mpi_map *m = map_of(set, MP_SET);
    if (!m) return MP_ETYPE;
    return table_delete(m, key);
}

size_t
mp_set_size(mp_value set)
{
    mpi_map *m = map_of(set, MP_SET);
    return m ? m->live : 0;
}

bool
mp_set_next(mp_value set, size_t *cursor, mp_value *key)
{
    mpi_map *m = map_of(set, MP_SET);
    return m && table_next(m, cursor, key, NULL);
}
