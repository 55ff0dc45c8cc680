/* Plain objects, and the property calls shared with arrays: on an Array,
 * index keys address elements and the other keys its named properties. */
#include "value_internal.h"

mp_status
mp_object_new(mp_realm *realm, mp_value *out)
{
    if (!realm || !out) return MP_EINVAL;
    mpi_object *o = mpi_object_new_cell(realm, MPI_OBJECT_INLINE_NEW);
    if (!o) return MP_ENOMEM;
    *out = mpi_value_cell(MP_OBJECT, o);
    return MP_OK;
}

/* The named-property table of an Object or Array; NULL for other kinds. */
static mpi_props *
props_of(mp_value obj, mpi_array **arr)
{
    *arr = NULL;
    if (obj.kind_ == MP_OBJECT) return &((mpi_object *)obj.u_.cell_)->props;
    if (obj.kind_ == MP_ARRAY) {
        *arr = obj.u_.cell_;
        return &(*arr)->props;
    }
    return NULL;
}

mp_status
mp_object_set(mp_value obj, mp_value key, mp_value value)
{
    mpi_array *arr;
    mpi_props *p = props_of(obj, &arr);
    if (!p || key.kind_ != MP_STRING) return MP_ETYPE;
    mp_realm *r = mpi_realm_of(obj);
    if (mpi_check_realm(r, key) || mpi_check_realm(r, value)) return MP_EREALM;
    mpi_string *k = key.u_.cell_;
    uint32_t idx;
    if (arr && mpi_string_array_index(k, &idx)) return mpi_array_set(arr, idx, value);
    return mpi_props_set(r, p, k, value);
}

#define TMP_KEY_BYTES 128

typedef union tmp_key {
    mpi_string s;
    uint8_t bytes[TMP_KEY_BYTES];
} tmp_key;

mp_status
mp_object_set_utf8(mp_value obj, const char *key, mp_value value)
{
    mpi_array *arr;
    mpi_props *p = props_of(obj, &arr);
    if (!p) return MP_ETYPE;
    if (!key) return MP_EINVAL;
    mp_realm *r = mpi_realm_of(obj);
    if (mpi_check_realm(r, value)) return MP_EREALM;
    tmp_key buf;
    mpi_string *k;
    bool heap;
    mp_status st = mpi_tmp_string_from_utf8(r, key, strlen(key), &buf, sizeof buf, &k, &heap);
    if (st != MP_OK) return st;
    uint32_t idx;
    if (arr && mpi_string_array_index(k, &idx)) {
        st = mpi_array_set(arr, idx, value);
    } else {
        mpi_prop *found = mpi_props_find(p, k);
        if (found) {
            found->value = value;
        } else {
            /* Short ASCII keys are the realm's atoms, as the decoder's
             * are: objects built key by key share them. */
            mpi_string *cell = NULL;
            if ((k->h.flags & MPI_STR_ASCII) && k->length <= MPI_ATOM_MAX_LEN)
                cell = mpi_string_atom(r, k->u.narrow, k->length);
            st = cell ? MP_OK : mpi_string_clone(r, k, &cell);
            if (st == MP_OK) {
                st = mpi_props_set(r, p, cell, value);
                if (st != MP_OK && cell->h.marked != MPI_MARK_ATOM) mpi_cell_discard_newest(r, &cell->h);
            }
        }
    }
    mpi_tmp_string_free(r, k, heap);
    return st;
}

static mp_status
get_key(mpi_props *p, mpi_array *arr, mpi_string *k, mp_value *out)
{
    uint32_t idx;
    if (arr && mpi_string_array_index(k, &idx)) return mpi_array_get(arr, idx, out);
    mpi_prop *found = mpi_props_find(p, k);
    if (!found) {
        if (out) *out = mp_undefined();
        return MP_ENOTFOUND;
    }
    if (out) *out = found->value;
    return MP_OK;
}

mp_status
mp_object_get(mp_value obj, mp_value key, mp_value *out)
{
    mpi_array *arr;
    mpi_props *p = props_of(obj, &arr);
    if (!p || key.kind_ != MP_STRING) return MP_ETYPE;
    return get_key(p, arr, key.u_.cell_, out);
}

mp_status
mp_object_get_utf8(mp_value obj, const char *key, mp_value *out)
{
    mpi_array *arr;
    mpi_props *p = props_of(obj, &arr);
    if (!p) return MP_ETYPE;
    if (!key) return MP_EINVAL;
    mp_realm *r = mpi_realm_of(obj);
    tmp_key buf;
    mpi_string *k;
    bool heap;
    mp_status st = mpi_tmp_string_from_utf8(r, key, strlen(key), &buf, sizeof buf, &k, &heap);
    if (st != MP_OK) return st;
    st = get_key(p, arr, k, out);
    mpi_tmp_string_free(r, k, heap);
    return st;
}

bool
mp_object_has(mp_value obj, mp_value key)
{
    mpi_array *arr;
    mpi_props *p = props_of(obj, &arr);
    if (!p || key.kind_ != MP_STRING) return false;
    mpi_string *k = key.u_.cell_;
    uint32_t idx;
    if (arr && mpi_string_array_index(k, &idx)) return mpi_array_has(arr, idx);
    return mpi_props_find(p, k) != NULL;
}

mp_status
mp_object_delete(mp_value obj, mp_value key)
{
    mpi_array *arr;
    mpi_props *p = props_of(obj, &arr);
    if (!p || key.kind_ != MP_STRING) return MP_ETYPE;
    mpi_string *k = key.u_.cell_;
    uint32_t idx;
    if (arr && mpi_string_array_index(k, &idx)) {
        if (!mpi_array_has(arr, idx)) return MP_ENOTFOUND;
        mpi_array_delete(arr, idx);
        return MP_OK;
    }
    return mpi_props_delete(mpi_realm_of(obj), p, k);
}

size_t
mp_object_count(mp_value obj)
{
    mpi_array *arr;
    mpi_props *p = props_of(obj, &arr);
    return p ? p->live : 0;
}

bool
mp_object_next(mp_value obj, size_t *cursor, mp_value *key, mp_value *value)
{
    mpi_array *arr;
    mpi_props *p = props_of(obj, &arr);
    if (!p || !cursor) return false;
    return mpi_props_next(p, cursor, key, value);
}
