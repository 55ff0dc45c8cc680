/* mp_graph_equal: structural equality of two value graphs, identity
 * topology included.
 *
 * Both graphs are walked in lockstep, depth first, on an explicit stack of
 * container frames (a 1,000,000-deep chain costs heap, not C stack). Two
 * identity tables keep a bijection between the objects met so far: a pair
 * (x, y) is fine if x is new and y is new (record x<->y and compare their
 * contents), or if x was paired with y before; any other case means the
 * graphs share or cycle in different places. The frames double as the path
 * reported on a difference. */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>

#include "print.h"

/* How a frame was reached from its parent: one step of the path. */
enum {
    STEP_ROOT = 0,
    STEP_NONE,    /* a difference in the container itself */
    STEP_KEY,     /* .name or ['key'] */
    STEP_INDEX,   /* [3] */
    STEP_MAP_KEY, /* <Map key #n> */
    STEP_MAP_VALUE,
    STEP_SET_ENTRY,
    STEP_CAUSE,
    STEP_BUFFER
};

typedef struct eq_step {
    uint8_t kind;
    uint32_t index;        /* STEP_INDEX, entry ordinal */
    const mpi_string *key; /* STEP_KEY (the key in graph a) */
} eq_step;

typedef struct eq_frame {
    mpi_cell *a, *b;
    uint32_t pos_a, pos_b; /* cursors into each side */
    uint32_t n;            /* entries done (Map/Set ordinal) */
    uint8_t phase;
    eq_step step; /* how this frame was reached */
} eq_frame;

typedef struct eq {
    mpi_ptrmap ab, ba; /* object in a -> object in b, and back */
    mpi_vec stack;     /* eq_frame */
    const mp_allocator *alc;
    mp_error_info *why;
} eq;

/* ---- reporting ------------------------------------------------------------- */

static void
step_text(const eq_step *s, char *buf, size_t cap)
{
    switch (s->kind) {
    case STEP_ROOT:
        snprintf(buf, cap, "root");
        break;
    case STEP_KEY:
        mpi_format_key_step(s->key, buf, cap);
        break;
    case STEP_INDEX:
        snprintf(buf, cap, "[%" PRIu32 "]", s->index);
        break;
    case STEP_MAP_KEY:
        snprintf(buf, cap, "<Map key #%" PRIu32 ">", s->index);
        break;
    case STEP_MAP_VALUE:
        snprintf(buf, cap, "<Map value #%" PRIu32 ">", s->index);
        break;
    case STEP_SET_ENTRY:
        snprintf(buf, cap, "<Set entry #%" PRIu32 ">", s->index);
        break;
    case STEP_CAUSE:
        snprintf(buf, cap, "<cause>");
        break;
    case STEP_BUFFER:
        snprintf(buf, cap, "<buffer>");
        break;
    default:
        buf[0] = '\0';
        break;
    }
}

/* The path to `last` under the frames on the stack, into path[cap]. A path
 * too long for it keeps its head and its tail around "...". */
static void
build_path(eq *e, const eq_step *last, char *path, size_t cap)
{
    mpi_vec text;
    mpi_vec_init(&text, e->alc, 1);
    char seg[96];
    bool ok = true;
    size_t frames = e->stack.len;
    for (size_t i = 0; i <= frames && ok; i++) {
        const eq_step *s = i < frames ? &((eq_frame *)mpi_vec_at(&e->stack, i))->step : last;
        step_text(s, seg, sizeof seg);
        for (const char *c = seg; *c && ok; c++) {
            char *slot = mpi_vec_push(&text);
            if (!slot)
                ok = false;
            else
                *slot = *c;
        }
    }
    size_t len = text.len;
    const char *t = (const char *)text.data;
    if (!ok || !t) {
        /* No memory for the whole path: the head of it will do. */
        size_t at = 0;
        path[0] = '\0';
        for (size_t i = 0; i <= frames && at + 1 < cap; i++) {
            const eq_step *s = i < frames ? &((eq_frame *)mpi_vec_at(&e->stack, i))->step : last;
            step_text(s, seg, sizeof seg);
            at += (size_t)snprintf(path + at, cap - at, "%s", seg);
            if (at >= cap) at = cap - 1;
        }
    } else if (len < cap) {
        memcpy(path, t, len);
        path[len] = '\0';
    } else {
        /* head ... tail, cut on UTF-8 character boundaries */
        size_t head = (cap - 4) / 3, tail = cap - 4 - head;
        while (head > 0 && ((unsigned char)t[head] & 0xC0) == 0x80)
            head--;
        size_t from = len - tail;
        while (from < len && ((unsigned char)t[from] & 0xC0) == 0x80)
            from++;
        memcpy(path, t, head);
        memcpy(path + head, "...", 3);
        memcpy(path + head + 3, t + from, len - from);
        path[head + 3 + len - from] = '\0';
    }
    mpi_vec_destroy(&text);
}

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static bool
differ(eq *e, const eq_step *where, const char *fmt, ...)
{
    if (!e->why) return false;
    char path[sizeof e->why->path];
    build_path(e, where, path, sizeof path);
    char detail[sizeof e->why->detail];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    /* Inequality is not an error: the code stays MP_OK. */
    mpi_fail(e->why, MP_OK, MP_NO_OFFSET, path, "%s", detail);
    return false;
}

static void
out_of_memory(eq *e)
{
    mpi_fail(e->why, MP_ENOMEM, MP_NO_OFFSET, NULL, "ran out of memory comparing graphs");
}

/* Two renderings for a "x vs y" detail. */
typedef struct brief2 {
    char a[100], b[100];
} brief2;

static brief2
briefs(mp_value a, mp_value b)
{
    brief2 r;
    mpi_format_brief(a, r.a, sizeof r.a);
    mpi_format_brief(b, r.b, sizeof r.b);
    return r;
}

/* ---- leaf comparisons ----------------------------------------------------------- */

static bool
string_equal(const mpi_string *a, const mpi_string *b)
{
    if (a == b) return true;
    if (!a || !b || a->length != b->length) return false;
    bool wa = a->h.flags & MPI_STR_WIDE, wb = b->h.flags & MPI_STR_WIDE;
    if (!wa && !wb) return memcmp(a->u.narrow, b->u.narrow, a->length) == 0;
    if (wa && wb) return memcmp(a->u.wide, b->u.wide, (size_t)a->length * 2) == 0;
    for (uint32_t i = 0; i < a->length; i++)
        if (mpi_string_unit(a, i) != mpi_string_unit(b, i)) return false;
    return true;
}

static bool
bigint_equal(const mpi_bigint *a, const mpi_bigint *b)
{
    return a->count == b->count && (a->h.flags & 1u) == (b->h.flags & 1u) &&
           memcmp(a->words, b->words, (size_t)a->count * sizeof a->words[0]) == 0;
}

/* SameValue on doubles: every NaN equals every NaN, -0 differs from +0. */
static bool
number_same(double x, double y)
{
    if (isnan(x) || isnan(y)) return isnan(x) && isnan(y);
    return x == y && signbit(x) == signbit(y);
}

/* Primitives of one kind (already checked) by SameValue. */
static bool
primitive_equal(mp_value a, mp_value b)
{
    switch (a.kind_) {
    case MP_UNDEFINED:
    case MP_NULL:
        return true;
    case MP_BOOLEAN:
        return mp_boolean_value(a) == mp_boolean_value(b);
    case MP_NUMBER:
        return number_same(mp_number_value(a), mp_number_value(b));
    case MP_BIGINT:
        return bigint_equal(a.u_.cell_, b.u_.cell_);
    case MP_STRING:
        return string_equal(a.u_.cell_, b.u_.cell_);
    default:
        return false;
    }
}

static const char *
primitive_label(uint32_t kind)
{
    switch (kind) {
    case MP_BOOLEAN:
        return "boolean";
    case MP_NUMBER:
        return "number";
    case MP_BIGINT:
        return "BigInt";
    case MP_STRING:
        return "string";
    default:
        return "value";
    }
}

/* "number 1", "string 'x'", "undefined", "Object", "Uint8Array": for
 * values of different kinds. */
static void
describe(mp_value v, char *buf, size_t cap)
{
    char t[100];
    mpi_format_brief(v, t, sizeof t);
    switch (v.kind_) {
    case MP_BOOLEAN:
    case MP_NUMBER:
    case MP_BIGINT:
    case MP_STRING:
        snprintf(buf, cap, "%s %s", primitive_label(v.kind_), t);
        break;
    default:
        snprintf(buf, cap, "%s", t);
        break;
    }
}

static void
string_brief(const mpi_string *s, char *buf, size_t cap)
{
    if (!s)
        snprintf(buf, cap, "none");
    else
        mpi_format_brief(mpi_value_cell(MP_STRING, (void *)s), buf, cap);
}

static void
regexp_text(const mpi_regexp *re, char *buf, size_t cap)
{
    static const char flag_chars[] = "dgimsuyv";
    char src[80], flags[9];
    size_t n = 0;
    for (unsigned i = 0; i < 8; i++)
        if (re->h.aux & (1u << i)) flags[n++] = flag_chars[i];
    flags[n] = '\0';
    string_brief(re->source, src, sizeof src);
    snprintf(buf, cap, "%s flags '%s'", src, flags);
}

static const char *
yes_no(bool b)
{
    return b ? "yes" : "no";
}

static bool
arraybuffer_equal(eq *e, const eq_step *where, const mpi_arraybuffer *a, const mpi_arraybuffer *b)
{
    bool da = a->h.flags & MPI_AB_DETACHED, db = b->h.flags & MPI_AB_DETACHED;
    if (da != db) return differ(e, where, "ArrayBuffer detached: %s vs %s", yes_no(da), yes_no(db));
    bool na = a->h.flags & MPI_AB_NOT_DETACHABLE, nb = b->h.flags & MPI_AB_NOT_DETACHABLE;
    if (na != nb) return differ(e, where, "ArrayBuffer detachable: %s vs %s", yes_no(!na), yes_no(!nb));
    bool ra = a->h.flags & MPI_AB_RESIZABLE, rb = b->h.flags & MPI_AB_RESIZABLE;
    if (ra != rb) return differ(e, where, "ArrayBuffer resizable: %s vs %s", yes_no(ra), yes_no(rb));
    if (da) return true;
    if (a->byte_length != b->byte_length)
        return differ(e, where, "ArrayBuffer byteLength %zu vs %zu", a->byte_length, b->byte_length);
    if (ra && a->max_byte_length != b->max_byte_length)
        return differ(e, where, "ArrayBuffer maxByteLength %zu vs %zu", a->max_byte_length, b->max_byte_length);
    const uint8_t *pa = a->store ? a->store->data : NULL, *pb = b->store ? b->store->data : NULL;
    if (a->byte_length && pa != pb) {
        if (!pa || !pb) return differ(e, where, "ArrayBuffer bytes missing in one graph");
        if (memcmp(pa, pb, a->byte_length) != 0) {
            size_t i = 0;
            while (pa[i] == pb[i])
                i++;
            return differ(e, where, "ArrayBuffer byte %zu: %u vs %u", i, pa[i], pb[i]);
        }
    }
    return true;
}

static bool
view_equal(eq *e, const eq_step *where, const mpi_view *a, const mpi_view *b)
{
    if (a->h.kind == MP_TYPEDARRAY && a->h.aux != b->h.aux)
        return differ(e, where, "view type %s vs %s", mp_view_type_name((mp_view_type)a->h.aux),
                      mp_view_type_name((mp_view_type)b->h.aux));
    if (a->byte_offset != b->byte_offset)
        return differ(e, where, "view byteOffset %zu vs %zu", a->byte_offset, b->byte_offset);
    bool ta = a->h.flags & MPI_VIEW_LENGTH_TRACKING, tb = b->h.flags & MPI_VIEW_LENGTH_TRACKING;
    if (ta != tb) return differ(e, where, "view length-tracking: %s vs %s", yes_no(ta), yes_no(tb));
    if (!ta && a->length != b->length) return differ(e, where, "view length %zu vs %zu", a->length, b->length);
    if (!a->buffer || !b->buffer) {
        if (a->buffer != b->buffer) return differ(e, where, "view buffer missing in one graph");
    }
    return true;
}

/* Compares what an object pair holds besides its children. */
static bool
shallow_equal(eq *e, const eq_step *where, mpi_cell *a, mpi_cell *b)
{
    switch (a->kind) {
    case MP_ARRAY: {
        const mpi_array *x = (const mpi_array *)a, *y = (const mpi_array *)b;
        if (x->length != y->length)
            return differ(e, where, "array length %" PRIu32 " vs %" PRIu32, x->length, y->length);
        return true;
    }
    case MP_DATE: {
        double x = ((mpi_date *)a)->time, y = ((mpi_date *)b)->time;
        if (number_same(x, y)) return true;
        char tx[MPI_NUMBER_BUF], ty[MPI_NUMBER_BUF];
        mpi_format_number(x, tx);
        mpi_format_number(y, ty);
        return differ(e, where, "Date time value %s vs %s", tx, ty);
    }
    case MP_REGEXP: {
        const mpi_regexp *x = (const mpi_regexp *)a, *y = (const mpi_regexp *)b;
        if (x->h.aux == y->h.aux && string_equal(x->source, y->source)) return true;
        char tx[100], ty[100];
        regexp_text(x, tx, sizeof tx);
        regexp_text(y, ty, sizeof ty);
        return differ(e, where, "RegExp %s vs %s", tx, ty);
    }
    case MP_MAP:
    case MP_SET: {
        const mpi_map *x = (const mpi_map *)a, *y = (const mpi_map *)b;
        if (x->live != y->live)
            return differ(e, where, "%s size %" PRIu32 " vs %" PRIu32, a->kind == MP_MAP ? "Map" : "Set", x->live,
                          y->live);
        return true;
    }
    case MP_ERROR: {
        const mpi_error *x = (const mpi_error *)a, *y = (const mpi_error *)b;
        char tx[100], ty[100];
        if (x->h.aux != y->h.aux)
            return differ(e, where, "Error type %s vs %s", mp_error_type_name((mp_error_type)x->h.aux),
                          mp_error_type_name((mp_error_type)y->h.aux));
        if (!string_equal(x->message, y->message)) {
            string_brief(x->message, tx, sizeof tx);
            string_brief(y->message, ty, sizeof ty);
            return differ(e, where, "Error message %s vs %s", tx, ty);
        }
        if (!string_equal(x->stack, y->stack)) {
            string_brief(x->stack, tx, sizeof tx);
            string_brief(y->stack, ty, sizeof ty);
            return differ(e, where, "Error stack %s vs %s", tx, ty);
        }
        bool ca = x->h.flags & MPI_ERROR_HAS_CAUSE, cb = y->h.flags & MPI_ERROR_HAS_CAUSE;
        if (ca != cb) return differ(e, where, "Error cause in %s graph only", ca ? "the first" : "the second");
        return true;
    }
    case MP_BOOLEAN_OBJECT:
    case MP_NUMBER_OBJECT:
    case MP_STRING_OBJECT:
    case MP_BIGINT_OBJECT: {
        mp_value x = ((mpi_boxed *)a)->value, y = ((mpi_boxed *)b)->value;
        if (x.kind_ == y.kind_ && primitive_equal(x, y)) return true;
        brief2 t = briefs(x, y);
        return differ(e, where, "%s value %s vs %s", mp_kind_name((mp_kind)a->kind), t.a, t.b);
    }
    case MP_ARRAYBUFFER:
        return arraybuffer_equal(e, where, (const mpi_arraybuffer *)a, (const mpi_arraybuffer *)b);
    case MP_SHAREDARRAYBUFFER:
        if (((mpi_sab *)a)->store != ((mpi_sab *)b)->store)
            return differ(e, where, "SharedArrayBuffers on different shared stores");
        return true;
    case MP_TYPEDARRAY:
    case MP_DATAVIEW:
        return view_equal(e, where, (const mpi_view *)a, (const mpi_view *)b);
    case MP_HOST: {
        const mpi_host *x = (const mpi_host *)a, *y = (const mpi_host *)b;
        if (x->h.aux != y->h.aux) return differ(e, where, "host type tag %" PRIu32 " vs %" PRIu32, x->h.aux, y->h.aux);
        if (x->ptr != y->ptr)
            return differ(e, where, "host pointer 0x%" PRIxPTR " vs 0x%" PRIxPTR, (uintptr_t)x->ptr, (uintptr_t)y->ptr);
        return true;
    }
    default:
        /* Object (children only) and MessagePort (identity only). */
        return true;
    }
}

static bool
has_children(const mpi_cell *c)
{
    switch (c->kind) {
    case MP_OBJECT:
    case MP_ARRAY:
    case MP_MAP:
    case MP_SET:
    case MP_TYPEDARRAY:
    case MP_DATAVIEW:
        return true;
    case MP_ERROR:
        return (c->flags & MPI_ERROR_HAS_CAUSE) != 0;
    default:
        return false;
    }
}

/* ---- the walk ------------------------------------------------------------------- */

typedef enum { PAIR_DIFFER = 0, PAIR_DONE, PAIR_PUSHED } pair_result;

/* Compares one pair reached by `where`. May push a frame: callers must
 * not use frame pointers taken before the call. */
static pair_result
visit(eq *e, mp_value a, mp_value b, const eq_step *where)
{
    if (a.kind_ != b.kind_) {
        char da[120], db[120];
        describe(a, da, sizeof da);
        describe(b, db, sizeof db);
        differ(e, where, "%s vs %s", da, db);
        return PAIR_DIFFER;
    }
    if (a.kind_ < MP_OBJECT) {
        if (primitive_equal(a, b)) return PAIR_DONE;
        brief2 t = briefs(a, b);
        differ(e, where, "%s %s vs %s", primitive_label(a.kind_), t.a, t.b);
        return PAIR_DIFFER;
    }
    if (a.kind_ >= MP_KIND_COUNT_) {
        differ(e, where, "unknown value tag %" PRIu32, a.kind_);
        return PAIR_DIFFER;
    }
    mpi_cell *ca = a.u_.cell_, *cb = b.u_.cell_;
    uintptr_t *ma = mpi_ptrmap_get(&e->ab, ca);
    uintptr_t *mb = mpi_ptrmap_get(&e->ba, cb);
    if (ma || mb) {
        if (ma && mb && *ma == (uintptr_t)cb && *mb == (uintptr_t)ca) return PAIR_DONE;
        if (ma && mb)
            differ(e, where, "references to different objects met earlier");
        else
            differ(e, where, "shared reference in %s graph only", ma ? "the first" : "the second");
        return PAIR_DIFFER;
    }
    if (mpi_ptrmap_put(&e->ab, ca, (uintptr_t)cb) != MP_OK || mpi_ptrmap_put(&e->ba, cb, (uintptr_t)ca) != MP_OK) {
        out_of_memory(e);
        return PAIR_DIFFER;
    }
    if (!shallow_equal(e, where, ca, cb)) return PAIR_DIFFER;
    if (!has_children(ca)) return PAIR_DONE;
    eq_frame *f = mpi_vec_push(&e->stack);
    if (!f) {
        out_of_memory(e);
        return PAIR_DIFFER;
    }
    memset(f, 0, sizeof *f);
    f->a = ca;
    f->b = cb;
    f->step = *where;
    return PAIR_PUSHED;
}

/* Next live property slot at or after *pos, or NULL. */
static const mpi_prop *
props_next(const mpi_props *p, uint32_t *pos)
{
    while (*pos < p->used) {
        const mpi_prop *s = &p->slots[(*pos)++];
        if (s->key) return s;
    }
    return NULL;
}

/* One property pair of two tables in lockstep; false when both ended, and
 * *res says whether that or a difference stopped it. */
static bool
props_step(eq *e, eq_frame *f, const mpi_props *pa, const mpi_props *pb, pair_result *res)
{
    const mpi_prop *x = props_next(pa, &f->pos_a);
    const mpi_prop *y = props_next(pb, &f->pos_b);
    eq_step here = {STEP_NONE, 0, NULL};
    char k[100];
    if (!x && !y) {
        *res = PAIR_DONE;
        return false;
    }
    if (!x || !y) {
        mpi_format_brief(mpi_value_cell(MP_STRING, (void *)(x ? x->key : y->key)), k, sizeof k);
        differ(e, &here, "property %s in %s graph only", k, x ? "the first" : "the second");
        *res = PAIR_DIFFER;
        return false;
    }
    if (!string_equal(x->key, y->key)) {
        char k2[100];
        mpi_format_brief(mpi_value_cell(MP_STRING, x->key), k, sizeof k);
        mpi_format_brief(mpi_value_cell(MP_STRING, y->key), k2, sizeof k2);
        differ(e, &here, "property key %s vs %s (keys or their order differ)", k, k2);
        *res = PAIR_DIFFER;
        return false;
    }
    eq_step s = {STEP_KEY, 0, x->key};
    *res = visit(e, x->value, y->value, &s);
    return *res != PAIR_DIFFER;
}

/* Advances the top frame by one child pair. Returns false on a difference. */
static bool
step(eq *e)
{
    eq_frame *f = mpi_vec_top(&e->stack);
    pair_result res = PAIR_DONE;
    switch (f->a->kind) {
    case MP_OBJECT:
        if (!props_step(e, f, &((mpi_object *)f->a)->props, &((mpi_object *)f->b)->props, &res)) {
            if (res == PAIR_DONE) e->stack.len--;
        }
        break;
    case MP_ARRAY: {
        const mpi_array *x = (const mpi_array *)f->a, *y = (const mpi_array *)f->b;
        if (f->phase == 0) {
            /* Present elements in lockstep; a hole on one side only shows
             * as differing indices. */
            uint32_t la = f->pos_a, lb = f->pos_b, ia = 0, ib = 0;
            mp_value va = mp_undefined(), vb = mp_undefined();
            bool ha = mpi_array_next(x, &la, &ia, &va), hb = mpi_array_next(y, &lb, &ib, &vb);
            if (!ha && !hb) {
                f->phase = 1;
                f->pos_a = f->pos_b = 0;
                break;
            }
            if (ha && hb && ia == ib) {
                f->pos_a = la;
                f->pos_b = lb;
                eq_step s = {STEP_INDEX, ia, NULL};
                res = visit(e, va, vb, &s);
                break;
            }
            bool a_first = ha && (!hb || ia < ib);
            eq_step s = {STEP_INDEX, a_first ? ia : ib, NULL};
            char t[100];
            mpi_format_brief(a_first ? va : vb, t, sizeof t);
            if (a_first)
                differ(e, &s, "%s vs hole", t);
            else
                differ(e, &s, "hole vs %s", t);
            res = PAIR_DIFFER;
            break;
        }
        if (!props_step(e, f, &x->props, &y->props, &res)) {
            if (res == PAIR_DONE) e->stack.len--;
        }
        break;
    }
    case MP_MAP:
    case MP_SET: {
        const mpi_map *x = (const mpi_map *)f->a, *y = (const mpi_map *)f->b;
        bool is_map = f->a->kind == MP_MAP;
        if (f->phase == 1) {
            /* The value of the entry whose key was just compared. */
            mp_value va = x->entries[f->pos_a].value, vb = y->entries[f->pos_b].value;
            eq_step s = {STEP_MAP_VALUE, f->n, NULL};
            f->phase = 0;
            f->pos_a++;
            f->pos_b++;
            f->n++;
            res = visit(e, va, vb, &s);
            break;
        }
        while (f->pos_a < x->used && x->entries[f->pos_a].key.kind_ == MPI_TAG_EMPTY)
            f->pos_a++;
        while (f->pos_b < y->used && y->entries[f->pos_b].key.kind_ == MPI_TAG_EMPTY)
            f->pos_b++;
        bool ha = f->pos_a < x->used, hb = f->pos_b < y->used;
        if (!ha || !hb) {
            if (ha == hb) {
                e->stack.len--;
                break;
            }
            /* Sizes were equal, so this means a broken table. */
            eq_step here = {STEP_NONE, 0, NULL};
            differ(e, &here, "entry #%" PRIu32 " in %s graph only", f->n, ha ? "the first" : "the second");
            res = PAIR_DIFFER;
            break;
        }
        mp_value ka = x->entries[f->pos_a].key, kb = y->entries[f->pos_b].key;
        eq_step s = {is_map ? STEP_MAP_KEY : STEP_SET_ENTRY, f->n, NULL};
        if (is_map) {
            f->phase = 1;
        } else {
            f->pos_a++;
            f->pos_b++;
            f->n++;
        }
        res = visit(e, ka, kb, &s);
        break;
    }
    case MP_ERROR: {
        if (f->phase) {
            e->stack.len--;
            break;
        }
        f->phase = 1;
        eq_step s = {STEP_CAUSE, 0, NULL};
        res = visit(e, ((mpi_error *)f->a)->cause, ((mpi_error *)f->b)->cause, &s);
        break;
    }
    case MP_TYPEDARRAY:
    case MP_DATAVIEW: {
        mpi_cell *ba = ((mpi_view *)f->a)->buffer, *bb = ((mpi_view *)f->b)->buffer;
        if (f->phase || !ba) {
            e->stack.len--;
            break;
        }
        f->phase = 1;
        eq_step s = {STEP_BUFFER, 0, NULL};
        res = visit(e, mpi_value_cell((mp_kind)ba->kind, ba), mpi_value_cell((mp_kind)bb->kind, bb), &s);
        break;
    }
    default:
        e->stack.len--;
        break;
    }
    return res != PAIR_DIFFER;
}

bool
mp_graph_equal(mp_value a, mp_value b, mp_error_info *why)
{
    eq e;
    mpi_cell *root = mpi_cell_of(a);
    if (!root) root = mpi_cell_of(b);
    e.alc = mpi_allocator_or_default(root ? &root->realm->alc : NULL);
    e.why = why;
    mpi_ptrmap_init(&e.ab, e.alc);
    mpi_ptrmap_init(&e.ba, e.alc);
    mpi_vec_init(&e.stack, e.alc, sizeof(eq_frame));

    eq_step top = {STEP_ROOT, 0, NULL};
    bool equal = visit(&e, a, b, &top) != PAIR_DIFFER;
    while (equal && e.stack.len)
        equal = step(&e);

    mpi_vec_destroy(&e.stack);
    mpi_ptrmap_destroy(&e.ab);
    mpi_ptrmap_destroy(&e.ba);
    return equal;
}
