/* Property tables in JavaScript order: array-index keys ascending in the
 * leading slots, then the other keys in insertion order. Small tables are
 * scanned; past PROPS_HASH_MIN slots a hash index (slot+1 per bucket) is
 * kept. Deleting a named key leaves a tombstone (key NULL) that is
 * compacted away when the slots fill up; deleting an index key closes the
 * gap at once so the index region stays sorted and gap-free. */
#include <stdlib.h>

#include "value_internal.h"

#define PROPS_HASH_MIN 8u

static uint32_t
index_of_slot(const mpi_prop *s)
{
    uint32_t idx = 0;
    (void)mpi_string_array_index(s->key, &idx);
    return idx;
}

static void
hash_insert(mpi_props *p, uint32_t slot)
{
    uint32_t mask = p->hash_cap - 1;
    uint32_t b = mpi_string_hash(p->slots[slot].key) & mask;
    while (p->hash[b])
        b = (b + 1) & mask;
    p->hash[b] = slot + 1;
}

static void
hash_rebuild(mpi_props *p)
{
    if (!p->hash) return;
    memset(p->hash, 0, (size_t)p->hash_cap * sizeof(uint32_t));
    for (uint32_t i = 0; i < p->used; i++)
        if (p->slots[i].key) hash_insert(p, i);
}

mpi_prop *
mpi_props_find(const mpi_props *p, const mpi_string *key)
{
    mpi_string *k = (mpi_string *)key; /* hashing caches into the key */
    if (p->hash) {
        uint32_t mask = p->hash_cap - 1;
        uint32_t b = mpi_string_hash(k) & mask;
        uint32_t s;
        while ((s = p->hash[b]) != 0) {
            mpi_prop *slot = &p->slots[s - 1];
            if (slot->key && mpi_key_equal(slot->key, k)) return slot;
            b = (b + 1) & mask;
        }
        return NULL;
    }
    for (uint32_t i = 0; i < p->used; i++) {
        mpi_prop *slot = &p->slots[i];
        if (slot->key && mpi_key_equal(slot->key, k)) return slot;
    }
    return NULL;
}

/* Drops tombstones, keeping order. No allocation. */
static void
compact(mpi_props *p)
{
    uint32_t w = 0;
    for (uint32_t i = 0; i < p->used; i++)
        if (p->slots[i].key) p->slots[w++] = p->slots[i];
    p->used = w;
    hash_rebuild(p);
}

/* Room for one more slot, and a hash index sized for the capacity once it
 * is past the small size. On failure the table is unchanged (capacity may
 * have grown, which nobody can see). */
static mp_status
reserve_one(mp_realm *r, mpi_props *p)
{
    if (p->used == p->cap && p->used - p->live >= p->used / 4 && p->used != p->live) compact(p);
    if (p->used == p->cap) {
        if (p->cap >= UINT32_MAX / 2) return MP_ENOMEM;
        uint32_t cap = p->cap ? p->cap * 2 : 4;
        mpi_prop *s;
        if (mpi_props_slots_inline(p)) {
            /* out of the object's block, which keeps their room */
            s = mpi_realm_alloc(r, (size_t)cap * sizeof(mpi_prop));
            if (s) memcpy(s, p->slots, (size_t)p->used * sizeof(mpi_prop));
        } else {
            s = mpi_realm_realloc(r, p->slots, (size_t)p->cap * sizeof(mpi_prop), (size_t)cap * sizeof(mpi_prop));
        }
        if (!s) return MP_ENOMEM;
        p->slots = s;
        p->cap = cap;
    }
    if (p->cap > PROPS_HASH_MIN && p->hash_cap < 2 * p->cap) {
        uint32_t hc = p->hash_cap ? p->hash_cap : 16;
        while (hc < 2 * p->cap)
            hc *= 2;
        uint32_t *h = mpi_realm_alloc(r, (size_t)hc * sizeof(uint32_t));
        if (!h) return MP_ENOMEM;
        mpi_realm_dealloc(r, p->hash, (size_t)p->hash_cap * sizeof(uint32_t));
        p->hash = h;
        p->hash_cap = hc;
        hash_rebuild(p);
    }
    return MP_OK;
}

mp_status
mpi_props_set(mp_realm *r, mpi_props *p, mpi_string *key, mp_value value)
{
    mpi_prop *found = mpi_props_find(p, key);
    if (found) {
        found->value = value;
        return MP_OK;
    }
    uint32_t idx;
    bool is_index = mpi_string_array_index(key, &idx);
    mp_status st = reserve_one(r, p);
    if (st != MP_OK) return st;
    uint32_t pos = p->used;
    if (is_index) {
        /* Binary search for the first index key greater than idx. */
        uint32_t lo = 0, hi = p->index_keys;
        if (hi && index_of_slot(&p->slots[hi - 1]) < idx) {
            lo = hi;
        } else {
            while (lo < hi) {
                uint32_t mid = lo + (hi - lo) / 2;
                if (index_of_slot(&p->slots[mid]) < idx)
                    lo = mid + 1;
                else
                    hi = mid;
            }
        }
        pos = lo;
        p->index_keys++;
    }
    if (pos < p->used) memmove(&p->slots[pos + 1], &p->slots[pos], (size_t)(p->used - pos) * sizeof(mpi_prop));
    p->slots[pos].key = key;
    p->slots[pos].value = value;
    p->used++;
    p->live++;
    if (p->hash) {
        if (pos + 1 < p->used)
            hash_rebuild(p);
        else
            hash_insert(p, pos);
    }
    return MP_OK;
}

mp_status
mpi_props_add_slow(mp_realm *r, mpi_props *p, mpi_string *key, mp_value value, bool *dup)
{
    if (mpi_props_find(p, key)) {
        *dup = true;
        return MP_OK;
    }
    return mpi_props_set(r, p, key, value);
}

mp_status
mpi_props_add_any_order(mp_realm *r, mpi_props *p, mpi_string *key, mp_value value, bool *dup, bool *unordered)
{
    if (!*unordered) {
        uint32_t idx;
        uint16_t c0 = key->length ? mpi_string_unit(key, 0) : 0;
        /* In order: a named key (it goes last), or an index key above every
         * key so far, all of them index keys. */
        if (c0 < '0' || c0 > '9' || !mpi_string_array_index(key, &idx) ||
            (p->index_keys == p->used && (p->used == 0 || index_of_slot(&p->slots[p->used - 1]) < idx)))
            return mpi_props_add(r, p, key, value, dup);
        *unordered = true;
    }
    *dup = mpi_props_find(p, key) != NULL;
    if (*dup) return MP_OK;
    mp_status st = reserve_one(r, p);
    if (st != MP_OK) return st;
    p->slots[p->used].key = key;
    p->slots[p->used].value = value;
    if (p->hash) hash_insert(p, p->used);
    p->used++;
    p->live++;
    return MP_OK;
}

typedef struct indexed_prop {
    uint32_t index;
    mpi_prop prop;
} indexed_prop;

static int
compare_indexes(const void *a, const void *b)
{
    uint32_t x = ((const indexed_prop *)a)->index, y = ((const indexed_prop *)b)->index;
    return (x > y) - (x < y);
}

mp_status
mpi_props_order_keys(mp_realm *r, mpi_props *p)
{
    uint32_t total = p->index_keys, idx;
    for (uint32_t i = p->index_keys; i < p->used; i++)
        total += p->slots[i].key && mpi_string_array_index(p->slots[i].key, &idx);
    if (total == p->index_keys) return MP_OK;
    indexed_prop *tmp = mpi_malloc(&r->alc, (size_t)total * sizeof *tmp);
    if (!tmp) return MP_ENOMEM;
    uint32_t t = 0;
    for (; t < p->index_keys; t++)
        tmp[t] = (indexed_prop){index_of_slot(&p->slots[t]), p->slots[t]};
    /* The other keys move up to the end, keeping their order (walking
     * down, the write position never passes the read one). */
    uint32_t w = p->used;
    for (uint32_t i = p->used; i-- > p->index_keys;) {
        if (p->slots[i].key && mpi_string_array_index(p->slots[i].key, &idx))
            tmp[t++] = (indexed_prop){idx, p->slots[i]};
        else
            p->slots[--w] = p->slots[i];
    }
    /* Distinct indexes (the table has no duplicate keys): any sort is
     * stable enough. */
    qsort(tmp, total, sizeof *tmp, compare_indexes);
    for (uint32_t i = 0; i < total; i++)
        p->slots[i] = tmp[i].prop;
    mpi_free(&r->alc, tmp);
    p->index_keys = total;
    hash_rebuild(p);
    return MP_OK;
}

mp_status
mpi_props_delete(mp_realm *r, mpi_props *p, const mpi_string *key)
{
    (void)r;
    mpi_prop *found = mpi_props_find(p, key);
    if (!found) return MP_ENOTFOUND;
    uint32_t slot = (uint32_t)(found - p->slots);
    p->live--;
    if (p->live == 0) {
        p->used = 0;
        p->index_keys = 0;
        if (p->hash) memset(p->hash, 0, (size_t)p->hash_cap * sizeof(uint32_t));
        return MP_OK;
    }
    if (slot < p->index_keys) {
        memmove(&p->slots[slot], &p->slots[slot + 1], (size_t)(p->used - slot - 1) * sizeof(mpi_prop));
        p->used--;
        p->index_keys--;
        hash_rebuild(p);
    } else {
        found->key = NULL;
        found->value = mp_undefined();
    }
    return MP_OK;
}

bool
mpi_props_next(const mpi_props *p, size_t *cursor, mp_value *key, mp_value *value)
{
    for (size_t i = *cursor; i < p->used; i++) {
        const mpi_prop *s = &p->slots[i];
        if (!s->key) continue;
        if (key) *key = mpi_string_value(s->key);
        if (value) *value = s->value;
        *cursor = i + 1;
        return true;
    }
    *cursor = p->used;
    return false;
}
