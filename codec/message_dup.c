/* Copying a message for a second destination (broadcast channels): the
 * contract is declared in src/port/port_internal.h, where its only caller
 * lives. */
#include "codec_internal.h"

mp_status
mpi_message_dup(const mp_message *m, mp_message **out)
{
    if (!m || !out) return MP_EINVAL;
    /* Moved stores and host payloads have exactly one owner. */
    if (m->n_moved || m->n_hosts) return MP_EDATACLONE;
    mp_message *c = mpi_message_new(&m->alc);
    if (!c) return MP_ENOMEM;
    if (m->len > c->cap && !mpi_message_grow(c, m->len)) goto nomem;
    if (m->len) memcpy(c->bytes, m->bytes, m->len);
    c->len = m->len;
    if (m->n_shared) {
        c->shared = mpi_malloc(&c->alc, m->n_shared * sizeof *c->shared);
        if (!c->shared) goto nomem;
        for (size_t i = 0; i < m->n_shared; i++) {
            mpi_store_ref(m->shared[i]);
            c->shared[i] = m->shared[i];
        }
        c->n_shared = c->cap_shared = m->n_shared;
    }
    *out = c;
    return MP_OK;
nomem:
    mp_message_free(c);
    return MP_ENOMEM;
}
