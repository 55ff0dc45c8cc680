/* Strings: UTF-16 code units, stored one byte per unit (Latin-1) when they
 * all fit, else two. */
#include "value_internal.h"

/* Decodes one well-formed UTF-8 sequence; returns its length, 0 if the
 * bytes are malformed (overlong, surrogate, > U+10FFFF, truncated). */
static inline size_t
utf8_decode(const uint8_t *p, size_t n, uint32_t *cp)
{
    uint8_t b0 = p[0];
    if (b0 < 0x80) {
        *cp = b0;
        return 1;
    }
    if (b0 < 0xC2) return 0; /* continuation byte or overlong 2-byte lead */
    if (b0 < 0xE0) {
        if (n < 2 || (p[1] & 0xC0) != 0x80) return 0;
        *cp = ((uint32_t)(b0 & 0x1F) << 6) | (p[1] & 0x3F);
        return 2;
    }
    if (b0 < 0xF0) {
        if (n < 3 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80) return 0;
        uint32_t c = ((uint32_t)(b0 & 0x0F) << 12) | ((uint32_t)(p[1] & 0x3F) << 6) | (p[2] & 0x3F);
        if (c < 0x800 || (c >= 0xD800 && c <= 0xDFFF)) return 0;
        *cp = c;
        return 3;
    }
    if (b0 < 0xF5) {
        if (n < 4 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80 || (p[3] & 0xC0) != 0x80) return 0;
        uint32_t c = ((uint32_t)(b0 & 0x07) << 18) | ((uint32_t)(p[1] & 0x3F) << 12) | ((uint32_t)(p[2] & 0x3F) << 6) |
                     (p[3] & 0x3F);
        if (c < 0x10000 || c > 0x10FFFF) return 0;
        *cp = c;
        return 4;
    }
    return 0;
}

/* Scans UTF-8: units needed and the largest code point. false if malformed. */
static bool
utf8_scan(const uint8_t *p, size_t n, size_t *units, uint32_t *max_cp)
{
    size_t i = 0, u = 0;
    uint32_t mx = 0;
    while (i < n) {
        /* ASCII runs, eight bytes at a time. */
        while (i + 8 <= n) {
            uint64_t w;
            memcpy(&w, p + i, 8);
            if (w & 0x8080808080808080ULL) break;
            i += 8;
            u += 8;
        }
        if (i >= n) break;
        uint32_t cp = 0;
        size_t k = utf8_decode(p + i, n - i, &cp);
        if (!k) return false;
        i += k;
        u += cp >= 0x10000 ? 2 : 1;
        if (cp > mx) mx = cp;
    }
    *units = u;
    *max_cp = mx;
    return true;
}

/* Writes the units of already-validated UTF-8. */
static void
utf8_to_narrow(const uint8_t *p, size_t n, uint8_t *out)
{
    size_t i = 0;
    while (i < n) {
        uint32_t cp = 0;
        i += utf8_decode(p + i, n - i, &cp);
        *out++ = (uint8_t)cp;
    }
}

static void
utf8_to_wide(const uint8_t *p, size_t n, uint16_t *out)
{
    size_t i = 0;
    while (i < n) {
        uint32_t cp = 0;
        i += utf8_decode(p + i, n - i, &cp);
        if (cp >= 0x10000) {
            cp -= 0x10000;
            *out++ = (uint16_t)(0xD800 | (cp >> 10));
            *out++ = (uint16_t)(0xDC00 | (cp & 0x3FF));
        } else {
            *out++ = (uint16_t)cp;
        }
    }
}

static mpi_string *
string_alloc(mp_realm *r, size_t len, bool wide)
{
    /* The units are written by the caller: zero only the header. */
    mpi_string *s =
        (mpi_string *)mpi_cell_new_partial(r, MP_STRING, mpi_string_size(len, wide), offsetof(mpi_string, u));
    if (!s) return NULL;
    s->length = (uint32_t)len;
    if (wide) {
        s->h.flags = MPI_STR_WIDE;
    } else {
        s->u.narrow[len] = 0; /* the NUL after narrow units */
    }
    return s;
}

mp_status
mp_string_from_utf8(mp_realm *realm, const char *utf8, size_t len, mp_value *out)
{
    if (!realm || !out || (!utf8 && len)) return MP_EINVAL;
    const uint8_t *p = (const uint8_t *)utf8;
    size_t units;
    uint32_t max_cp;
    if (!utf8_scan(p, len, &units, &max_cp)) return MP_EINVAL;
    if (units > UINT32_MAX) return MP_ERANGE;
    bool wide = max_cp >= 0x100;
    mpi_string *s = string_alloc(realm, units, wide);
    if (!s) return MP_ENOMEM;
    if (max_cp < 0x80) {
        if (len) memcpy(s->u.narrow, p, len);
        s->h.flags |= MPI_STR_ASCII;
    } else if (!wide) {
        utf8_to_narrow(p, len, s->u.narrow);
    } else {
        utf8_to_wide(p, len, s->u.wide);
    }
    *out = mpi_string_value(s);
    return MP_OK;
}

mp_status
mpi_string_new_units(mp_realm *r, const uint16_t *units, size_t len, mpi_string **out)
{
    if (len > UINT32_MAX) return MP_ERANGE;
    uint16_t mx = 0;
    for (size_t i = 0; i < len; i++)
        mx |= units[i];
    bool wide = mx >= 0x100;
    mpi_string *s = string_alloc(r, len, wide);
    if (!s) return MP_ENOMEM;
    if (wide) {
        if (len) memcpy(s->u.wide, units, len * 2);
    } else {
        for (size_t i = 0; i < len; i++)
            s->u.narrow[i] = (uint8_t)units[i];
        if (mx < 0x80) s->h.flags |= MPI_STR_ASCII;
    }
    *out = s;
    return MP_OK;
}

mp_status
mp_string_from_utf16(mp_realm *realm, const uint16_t *units, size_t len, mp_value *out)
{
    if (!realm || !out || (!units && len)) return MP_EINVAL;
    mpi_string *s;
    mp_status st = mpi_string_new_units(realm, units, len, &s);
    if (st != MP_OK) return st;
    *out = mpi_string_value(s);
    return MP_OK;
}

mp_status
mpi_string_new_latin1(mp_realm *r, const uint8_t *bytes, size_t len, mp_value *out)
{
    if (!r || !out || (!bytes && len)) return MP_EINVAL;
    if (len > UINT32_MAX) return MP_ERANGE;
    mpi_string *s = string_alloc(r, len, false);
    if (!s) return MP_ENOMEM;
    uint8_t acc = 0;
    for (size_t i = 0; i < len; i++)
        acc |= bytes[i];
    if (len) memcpy(s->u.narrow, bytes, len);
    if (acc < 0x80) s->h.flags |= MPI_STR_ASCII;
    *out = mpi_string_value(s);
    return MP_OK;
}

size_t
mp_string_length(mp_value s)
{
    mpi_string *str = mpi_cell_if(s, MP_STRING);
    return str ? str->length : 0;
}

mp_status
mp_string_code_unit(mp_value s, size_t index, uint16_t *out)
{
    mpi_string *str = mpi_cell_if(s, MP_STRING);
    if (!str) return MP_ETYPE;
    if (index >= str->length) return MP_ERANGE;
    if (out) *out = mpi_string_unit(str, index);
    return MP_OK;
}

size_t
mp_string_to_utf16(mp_value s, uint16_t *buf, size_t cap)
{
    mpi_string *str = mpi_cell_if(s, MP_STRING);
    if (!str) return 0;
    size_t n = str->length < cap ? str->length : cap;
    if (!buf) return str->length;
    if (str->h.flags & MPI_STR_WIDE) {
        if (n) memcpy(buf, str->u.wide, n * 2);
    } else {
        for (size_t i = 0; i < n; i++)
            buf[i] = str->u.narrow[i];
    }
    return str->length;
}

/* The code point starting at unit i and how many units it takes; lone
 * surrogates give U+FFFD. */
static inline uint32_t
wide_code_point(const uint16_t *w, size_t len, size_t i, size_t *units)
{
    uint32_t c = w[i];
    *units = 1;
    if (c >= 0xD800 && c <= 0xDBFF && i + 1 < len && w[i + 1] >= 0xDC00 && w[i + 1] <= 0xDFFF) {
        *units = 2;
        return 0x10000 + ((c - 0xD800) << 10) + (w[i + 1] - 0xDC00u);
    }
    if (c >= 0xD800 && c <= 0xDFFF) return 0xFFFD;
    return c;
}

static inline size_t
utf8_encode(uint32_t c, uint8_t *o)
{
    if (c < 0x80) {
        o[0] = (uint8_t)c;
        return 1;
    }
    if (c < 0x800) {
        o[0] = (uint8_t)(0xC0 | (c >> 6));
        o[1] = (uint8_t)(0x80 | (c & 0x3F));
        return 2;
    }
    if (c < 0x10000) {
        o[0] = (uint8_t)(0xE0 | (c >> 12));
        o[1] = (uint8_t)(0x80 | ((c >> 6) & 0x3F));
        o[2] = (uint8_t)(0x80 | (c & 0x3F));
        return 3;
    }
    o[0] = (uint8_t)(0xF0 | (c >> 18));
    o[1] = (uint8_t)(0x80 | ((c >> 12) & 0x3F));
    o[2] = (uint8_t)(0x80 | ((c >> 6) & 0x3F));
    o[3] = (uint8_t)(0x80 | (c & 0x3F));
    return 4;
}

size_t
mp_string_to_utf8(mp_value s, char *buf, size_t cap)
{
    mpi_string *str = mpi_cell_if(s, MP_STRING);
    if (!str) {
        if (buf && cap) buf[0] = '\0';
        return 0;
    }
    uint8_t *o = (uint8_t *)buf;
    size_t room = (buf && cap) ? cap - 1 : 0; /* bytes we may still write */
    size_t total = 0, written = 0;
    bool full = false; /* stop writing once one char did not fit */
    if (str->h.flags & MPI_STR_ASCII) {
        total = str->length;
        written = total < room ? total : room;
        if (written) memcpy(o, str->u.narrow, written);
    } else if (!(str->h.flags & MPI_STR_WIDE)) {
        for (size_t i = 0; i < str->length; i++) {
            uint8_t tmp[2];
            size_t k = utf8_encode(str->u.narrow[i], tmp);
            total += k;
            if (!full && written + k <= room) {
                memcpy(o + written, tmp, k);
                written += k;
            } else {
                full = true;
            }
        }
    } else {
        size_t i = 0;
        while (i < str->length) {
            size_t used;
            uint32_t c = wide_code_point(str->u.wide, str->length, i, &used);
            i += used;
            uint8_t tmp[4];
            size_t k = utf8_encode(c, tmp);
            total += k;
            if (!full && written + k <= room) {
                memcpy(o + written, tmp, k);
                written += k;
            } else {
                full = true;
            }
        }
    }
    if (buf && cap) o[written] = '\0';
    return total;
}

bool
mp_string_is_well_formed(mp_value s)
{
    mpi_string *str = mpi_cell_if(s, MP_STRING);
    if (!str) return false;
    if (!(str->h.flags & MPI_STR_WIDE)) return true;
    for (size_t i = 0; i < str->length;) {
        size_t used;
        if (wide_code_point(str->u.wide, str->length, i, &used) == 0xFFFD && str->u.wide[i] != 0xFFFD) return false;
        i += used;
    }
    return true;
}

bool
mp_string_equals_utf8(mp_value s, const char *utf8, size_t len)
{
    mpi_string *str = mpi_cell_if(s, MP_STRING);
    if (!str || (!utf8 && len)) return false;
    const uint8_t *p = (const uint8_t *)utf8;
    if (str->h.flags & MPI_STR_ASCII) return str->length == len && (len == 0 || memcmp(str->u.narrow, p, len) == 0);
    size_t i = 0, u = 0;
    while (i < len) {
        uint32_t cp = 0;
        size_t k = utf8_decode(p + i, len - i, &cp);
        if (!k) return false;
        i += k;
        if (cp >= 0x10000) {
            cp -= 0x10000;
            if (u + 2 > str->length || mpi_string_unit(str, u) != (0xD800 | (cp >> 10)) ||
                mpi_string_unit(str, u + 1) != (0xDC00 | (cp & 0x3FF)))
                return false;
            u += 2;
        } else {
            if (u >= str->length || mpi_string_unit(str, u) != cp) return false;
            u++;
        }
    }
    return u == str->length;
}

/* FNV-1a over code units, so narrow and wide copies of one text agree. */
uint32_t
mpi_string_hash(mpi_string *s)
{
    if (s->h.flags & MPI_STR_HASHED) return s->h.aux;
    uint32_t h = (s->h.flags & MPI_STR_WIDE) ? mpi_hash_units(NULL, s->u.wide, s->length)
                                             : mpi_hash_units(s->u.narrow, NULL, s->length);
    s->h.aux = h;
    s->h.flags |= MPI_STR_HASHED;
    return h;
}

bool
mpi_string_equal(const mpi_string *a, const mpi_string *b)
{
    if (a == b) return true;
    if (a->length != b->length) return false;
    if ((a->h.flags & b->h.flags & MPI_STR_HASHED) && a->h.aux != b->h.aux) return false;
    bool aw = (a->h.flags & MPI_STR_WIDE) != 0, bw = (b->h.flags & MPI_STR_WIDE) != 0;
    if (!aw && !bw) return memcmp(a->u.narrow, b->u.narrow, a->length) == 0;
    if (aw && bw) return memcmp(a->u.wide, b->u.wide, (size_t)a->length * 2) == 0;
    /* Normally a string is narrow whenever it can be, so a narrow one never
     * equals a wide one; compare units anyway in case a producer did not
     * narrow. */
    for (uint32_t i = 0; i < a->length; i++)
        if (mpi_string_unit(a, i) != mpi_string_unit(b, i)) return false;
    return true;
}

bool
mpi_string_array_index(const mpi_string *s, uint32_t *index)
{
    uint32_t n = s->length;
    if (n == 0 || n > 10) return false;
    uint16_t c0 = mpi_string_unit(s, 0);
    if (c0 < '0' || c0 > '9') return false;
    if (c0 == '0' && n > 1) return false;
    uint64_t v = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint16_t c = mpi_string_unit(s, i);
        if (c < '0' || c > '9') return false;
        v = v * 10 + (c - '0');
    }
    if (v > 4294967294u) return false;
    *index = (uint32_t)v;
    return true;
}

mp_status
mpi_tmp_string_from_utf8(mp_realm *r, const char *utf8, size_t len, void *buf, size_t cap, mpi_string **out, bool *heap)
{
    if (!utf8 && len) return MP_EINVAL;
    const uint8_t *p = (const uint8_t *)utf8;
    size_t units;
    uint32_t max_cp;
    if (!utf8_scan(p, len, &units, &max_cp)) return MP_EINVAL;
    if (units > UINT32_MAX) return MP_ERANGE;
    bool wide = max_cp >= 0x100;
    size_t size = mpi_string_size(units, wide);
    mpi_string *s;
    *heap = size > cap;
    if (*heap) {
        s = mpi_malloc(&r->alc, size);
        if (!s) return MP_ENOMEM;
    } else {
        s = buf;
    }
    memset(s, 0, sizeof(mpi_cell));
    s->h.kind = MP_STRING;
    s->h.realm = r;
    s->length = (uint32_t)units;
    if (max_cp < 0x80) {
        if (len) memcpy(s->u.narrow, p, len);
        s->u.narrow[len] = 0;
        s->h.flags = MPI_STR_ASCII;
    } else if (!wide) {
        utf8_to_narrow(p, len, s->u.narrow);
        s->u.narrow[units] = 0;
    } else {
        utf8_to_wide(p, len, s->u.wide);
        s->h.flags = MPI_STR_WIDE;
    }
    *out = s;
    return MP_OK;
}

void
mpi_tmp_string_free(mp_realm *r, mpi_string *s, bool heap)
{
    if (heap) mpi_free(&r->alc, s);
}

mp_status
mpi_string_clone(mp_realm *r, const mpi_string *s, mpi_string **out)
{
    bool wide = (s->h.flags & MPI_STR_WIDE) != 0;
    mpi_string *c = string_alloc(r, s->length, wide);
    if (!c) return MP_ENOMEM;
    c->h.flags = s->h.flags & (MPI_STR_WIDE | MPI_STR_ASCII | MPI_STR_HASHED);
    c->h.aux = s->h.aux;
    memcpy(c->u.narrow, s->u.narrow, wide ? (size_t)s->length * 2 : s->length);
    *out = c;
    return MP_OK;
}

/* ---- atoms (src/internal.h, mpi_string_atom) ---------------------------- */

mpi_atom_slot mpi_atoms_empty[1]; /* never written: a lookup's first probe finds it empty */

/* Atom blocks: one per atom under AddressSanitizer (it then sees each
 * string on its own, as with the arena), else 4 KiB holding many. */
#define ATOM_BLOCK (MPI_ARENA_MAX_BLOCK ? (size_t)4096 : (size_t)0)
#define ATOM_TABLE_FIRST 64u

/* Puts e in the first free slot from its hash (the table has one: its
 * load is at most a half). */
static void
atom_slot_put(mpi_atom_slot *slots, uint32_t mask, mpi_atom_slot e)
{
    uint32_t i = mpi_short_hash(e.a, e.b, e.len) & mask;
    while (slots[i].s)
        i = (i + 1) & mask;
    slots[i] = e;
}

static bool
atoms_grow(mp_realm *r)
{
    struct mpi_atoms *t = &r->atoms;
    uint32_t cap = t->slots == mpi_atoms_empty ? ATOM_TABLE_FIRST : (t->mask + 1) * 2;
    mpi_atom_slot *slots = mpi_malloc(&r->alc, cap * sizeof *slots);
    if (!slots) return false;
    memset(slots, 0, cap * sizeof *slots);
    if (t->slots != mpi_atoms_empty) {
        for (uint32_t i = 0; i <= t->mask; i++)
            if (t->slots[i].s) atom_slot_put(slots, cap - 1, t->slots[i]);
        mpi_free(&r->alc, t->slots);
        r->reserved -= (t->mask + 1) * sizeof *slots;
    }
    r->reserved += cap * sizeof *slots;
    t->slots = slots;
    t->mask = cap - 1;
    return true;
}

mpi_string *
mpi_string_atom_add(mp_realm *r, const uint8_t *bytes, uint32_t n, uint64_t a, uint64_t b)
{
    struct mpi_atoms *t = &r->atoms;
    if (t->count >= MPI_ATOMS_MAX) return NULL;
    /* Load at most one half: probes stay short, misses find a hole soon. */
    if ((t->count + 1) * 2 > t->mask + 1 && !atoms_grow(r)) return NULL;
    size_t size = (offsetof(mpi_string, u) + (size_t)n + 1 + 7) & ~(size_t)7;
    if (t->left < size) {
        size_t bsize = ATOM_BLOCK ? ATOM_BLOCK : sizeof(void *) + size;
        uint8_t *blk = mpi_malloc(&r->alc, bsize);
        if (!blk) return NULL;
        memcpy(blk, &t->blocks, sizeof(void *));
        t->blocks = blk;
        r->reserved += bsize;
        t->bump = blk + sizeof(void *);
        t->left = bsize - sizeof(void *);
    }
    mpi_string *s = (mpi_string *)(void *)t->bump;
    t->bump += size;
    t->left -= size;
    s->h.next = NULL;
    s->h.gray = NULL;
    s->h.realm = r;
    s->h.kind = MP_STRING;
    s->h.marked = MPI_MARK_ATOM; /* never marked, so never swept */
    s->h.flags = MPI_STR_ASCII;
    s->h.aux = 0;
    s->length = n;
    memcpy(s->u.narrow, bytes, n);
    s->u.narrow[n] = 0;
    atom_slot_put(t->slots, t->mask, (mpi_atom_slot){s, a, b, n});
    t->count++;
    return s;
}

void
mpi_atoms_free(mp_realm *r)
{
    struct mpi_atoms *t = &r->atoms;
    if (t->slots != mpi_atoms_empty) mpi_free(&r->alc, t->slots);
    while (t->blocks) {
        void *next;
        memcpy(&next, t->blocks, sizeof next);
        mpi_free(&r->alc, t->blocks);
        t->blocks = next;
    }
}
