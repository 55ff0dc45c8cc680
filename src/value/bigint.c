/* BigInt: sign + magnitude in 64-bit little-endian words, normalized (no
 * leading zero word; zero has no words and is never negative). */
#include "value_internal.h"

__extension__ typedef unsigned __int128 u128;

#define BIGINT_NEG 1u
#define TEN19 10000000000000000000ULL

static mp_status
bigint_make(mp_realm *r, bool negative, const uint64_t *words, size_t count, mp_value *out)
{
    while (count && words[count - 1] == 0)
        count--;
    if (count > UINT32_MAX) return MP_ERANGE;
    if (count > (SIZE_MAX - sizeof(mpi_bigint)) / sizeof(uint64_t)) return MP_ENOMEM;
    mpi_bigint *b = (mpi_bigint *)mpi_cell_new_partial(r, MP_BIGINT, sizeof(mpi_bigint) + count * sizeof(uint64_t),
                                                       sizeof(mpi_bigint));
    if (!b) return MP_ENOMEM;
    b->count = (uint32_t)count;
    if (count) memcpy(b->words, words, count * sizeof(uint64_t));
    if (negative && count) b->h.flags |= BIGINT_NEG;
    *out = mpi_value_cell(MP_BIGINT, b);
    return MP_OK;
}

mp_status
mp_bigint_from_int64(mp_realm *realm, int64_t i, mp_value *out)
{
    if (!realm || !out) return MP_EINVAL;
    uint64_t mag = i < 0 ? (uint64_t)0 - (uint64_t)i : (uint64_t)i;
    return bigint_make(realm, i < 0, &mag, 1, out);
}

mp_status
mp_bigint_from_uint64(mp_realm *realm, uint64_t u, mp_value *out)
{
    if (!realm || !out) return MP_EINVAL;
    return bigint_make(realm, false, &u, 1, out);
}

mp_status
mp_bigint_from_words(mp_realm *realm, bool negative, const uint64_t *words, size_t count, mp_value *out)
{
    if (!realm || !out || (!words && count)) return MP_EINVAL;
    return bigint_make(realm, negative, words, count, out);
}

mp_status
mp_bigint_from_string(mp_realm *realm, const char *text, size_t len, mp_value *out)
{
    if (!realm || !out || !text) return MP_EINVAL;
    size_t i = 0;
    bool neg = false;
    if (len && text[0] == '-') {
        neg = true;
        i = 1;
    }
    if (i == len) return MP_EINVAL;
    for (size_t k = i; k < len; k++)
        if (text[k] < '0' || text[k] > '9') return MP_EINVAL;
    while (i + 1 < len && text[i] == '0')
        i++; /* leading zeros do not count */
    size_t digits = len - i;
    /* log2(10) < 3.33: words needed <= digits * 3.33 / 64 + 1. */
    size_t cap = digits / 19 + 2;
    uint64_t stack[32];
    uint64_t *w = stack;
    if (cap > 32) {
        if (cap > SIZE_MAX / sizeof(uint64_t)) return MP_ENOMEM;
        w = mpi_malloc(&realm->alc, cap * sizeof(uint64_t));
        if (!w) return MP_ENOMEM;
    }
    size_t n = 0;
    size_t first = digits % 19 ? digits % 19 : 19;
    while (i < len) {
        size_t take = first;
        first = 19;
        uint64_t chunk = 0, mul = 1;
        for (size_t k = 0; k < take; k++) {
            chunk = chunk * 10 + (uint64_t)(text[i + k] - '0');
            mul *= 10;
        }
        i += take;
        /* w = w * mul + chunk */
        uint64_t carry = chunk;
        for (size_t k = 0; k < n; k++) {
            u128 t = (u128)w[k] * mul + carry;
            w[k] = (uint64_t)t;
            carry = (uint64_t)(t >> 64);
        }
        if (carry) w[n++] = carry;
    }
    mp_status st = bigint_make(realm, neg, w, n, out);
    if (w != stack) mpi_free(&realm->alc, w);
    return st;
}

static mpi_bigint *
bigint_of(mp_value v)
{
    return mpi_cell_if(v, MP_BIGINT);
}

mp_status
mp_bigint_to_int64(mp_value b, int64_t *out)
{
    mpi_bigint *x = bigint_of(b);
    if (!x) return MP_ETYPE;
    if (x->count > 1) return MP_ERANGE;
    uint64_t mag = x->count ? x->words[0] : 0;
    int64_t v;
    if (x->h.flags & BIGINT_NEG) {
        if (mag > (uint64_t)INT64_MAX + 1) return MP_ERANGE;
        v = mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag;
    } else {
        if (mag > (uint64_t)INT64_MAX) return MP_ERANGE;
        v = (int64_t)mag;
    }
    if (out) *out = v;
    return MP_OK;
}

mp_status
mp_bigint_to_uint64(mp_value b, uint64_t *out)
{
    mpi_bigint *x = bigint_of(b);
    if (!x) return MP_ETYPE;
    if (x->count > 1 || (x->h.flags & BIGINT_NEG)) return MP_ERANGE;
    if (out) *out = x->count ? x->words[0] : 0;
    return MP_OK;
}

mp_status
mp_bigint_words(mp_value b, bool *negative, const uint64_t **words, size_t *count)
{
    mpi_bigint *x = bigint_of(b);
    if (!x) return MP_ETYPE;
    if (negative) *negative = (x->h.flags & BIGINT_NEG) != 0;
    if (words) *words = x->words;
    if (count) *count = x->count;
    return MP_OK;
}

size_t
mp_bigint_to_string(mp_value b, char *buf, size_t cap)
{
    mpi_bigint *x = bigint_of(b);
    if (buf && cap) buf[0] = '\0';
    if (!x) return 0;
    /* Repeated division by 10^19 on a copy; the chunks come out least
     * significant first. A 64-bit word holds at most 1.02 chunks. */
    size_t n = x->count;
    size_t max_chunks = n + n / 32 + 2;
    uint64_t stack[64];
    uint64_t *tmp = stack;
    mp_allocator *alc = &x->h.realm->alc;
    if (n + max_chunks > 64) {
        tmp = mpi_malloc(alc, (n + max_chunks) * sizeof(uint64_t));
        if (!tmp) return 0; /* cannot render without memory */
    }
    uint64_t *mag = tmp, *chunks = tmp + n;
    if (n) memcpy(mag, x->words, n * sizeof(uint64_t));
    size_t nc = 0;
    while (n) {
        uint64_t rem = 0;
        for (size_t k = n; k-- > 0;) {
            u128 cur = ((u128)rem << 64) | mag[k];
            mag[k] = (uint64_t)(cur / TEN19);
            rem = (uint64_t)(cur % TEN19);
        }
        chunks[nc++] = rem;
        while (n && mag[n - 1] == 0)
            n--;
    }
    if (nc == 0) chunks[nc++] = 0;
    char top[24];
    int toplen = snprintf(top, sizeof top, "%llu", (unsigned long long)chunks[nc - 1]);
    bool neg = (x->h.flags & BIGINT_NEG) != 0;
    size_t total = (neg ? 1 : 0) + (size_t)toplen + (nc - 1) * 19;
    if (buf && cap) {
        size_t room = cap - 1, w = 0;
        char piece[24];
        if (neg && w < room) buf[w++] = '-';
        for (int k = 0; k < toplen && w < room; k++)
            buf[w++] = top[k];
        for (size_t c = nc - 1; c-- > 0 && w < room;) {
            snprintf(piece, sizeof piece, "%019llu", (unsigned long long)chunks[c]);
            for (int k = 0; k < 19 && w < room; k++)
                buf[w++] = piece[k];
        }
        buf[w] = '\0';
    }
    if (tmp != stack) mpi_free(alc, tmp);
    return total;
}
