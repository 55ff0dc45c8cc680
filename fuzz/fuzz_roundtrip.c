/* libFuzzer target: whatever decodes must survive a round trip.
 *
 *   g1 = decode(input)                into realm A (limits by mode)
 *   m  = serialize(g1)                must succeed
 *   g2 = decode(m)                    into realm B, default limits: must succeed
 *   g1 == g2                          mp_graph_equal
 *   serialize(g2) == m                byte for byte: the encoding is canonical
 *   g3 = clone(g1)                    into realm C (or A itself, by mode)
 *   g1 == g3                          mp_graph_equal
 *
 * Any broken step is a finding: the harness prints why and aborts. Byte 0
 * is the mode byte of fuzz_support.h; the synthetic side tables hold no
 * ports here (a port travels only in a transfer list, and these steps
 * use none). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_support.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fail_equal(const char *what, const mp_error_info *why)
{
    fprintf(stderr, "roundtrip: %s: graphs differ at %s: %s (code %s)\n", what, why->path, why->detail,
            mp_strerror(why->code));
    abort();
}

/* The bytes of a message, copied (the message is consumed by decode). */
static uint8_t *
copy_bytes(const mp_message *m, size_t *len)
{
    const void *b;
    mp_message_bytes(m, &b, len);
    uint8_t *c = malloc(*len ? *len : 1);
    if (c && *len) memcpy(c, b, *len);
    return c;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    unsigned mode = data[0];
    data++;
    size--;

    mp_realm *ra = NULL, *rb = NULL, *rc = NULL;
    mp_message *m = NULL, *m2 = NULL;
    uint8_t *bytes1 = NULL;
    mp_error_info err, why;
    mp_status st;

    if (mp_realm_new(NULL, &ra) != MP_OK || mp_realm_new(NULL, &rb) != MP_OK || mp_realm_new(NULL, &rc) != MP_OK)
        goto out;
    if (mpf_register_hosts(ra, false) != MP_OK || mpf_register_hosts(rb, false) != MP_OK ||
        mpf_register_hosts(rc, false) != MP_OK)
        goto out;

    mp_message *in = mpf_message(mode, data, size, false);
    if (!in) goto out;
    mp_decode_limits lim = mpf_limits(mode);
    mp_value g1 = mp_undefined();
    if (mp_deserialize(in, ra, &lim, &g1, &err) != MP_OK) goto out; /* decode's target judges failures */

    /* Through bytes. */
    st = mp_serialize(g1, NULL, 0, &m, &err);
    if (st == MP_ENOMEM) goto out;
    if (st != MP_OK) {
        mpf_report("roundtrip: a decoded graph does not serialize", st, &err);
        abort();
    }
    size_t len1;
    bytes1 = copy_bytes(m, &len1);
    if (!bytes1) goto out;
    mp_value g2 = mp_undefined();
    st = mp_deserialize(m, rb, NULL, &g2, &err); /* frees m */
    m = NULL;
    if (st == MP_ENOMEM) goto out;
    if (st != MP_OK) {
        mpf_report("roundtrip: the serializer's own output does not decode", st, &err);
        abort();
    }
    why.code = MP_OK;
    if (!mp_graph_equal(g1, g2, &why)) {
        if (why.code == MP_ENOMEM) goto out;
        fail_equal("decode(serialize(g1)) vs g1", &why);
    }
    st = mp_serialize(g2, NULL, 0, &m2, &err);
    if (st == MP_ENOMEM) goto out;
    if (st != MP_OK) {
        mpf_report("roundtrip: a re-decoded graph does not serialize", st, &err);
        abort();
    }
    const void *b2;
    size_t len2;
    mp_message_bytes(m2, &b2, &len2);
    if (len2 != len1 || (len1 && memcmp(b2, bytes1, len1) != 0)) {
        size_t at = 0;
        while (at < len1 && at < len2 && ((const uint8_t *)b2)[at] == bytes1[at])
            at++;
        fprintf(stderr, "roundtrip: re-encoding is not stable: %zu vs %zu bytes, first difference at offset %zu\n",
                len1, len2, at);
        abort();
    }

    /* Directly. */
    mp_realm *target = (mode & MPF_MODE_SAME_REALM) ? ra : rc;
    mp_value g3 = mp_undefined();
    st = mp_clone(g1, target, NULL, 0, &g3, &err);
    if (st == MP_ENOMEM) goto out;
    if (st != MP_OK) {
        mpf_report("roundtrip: a decoded graph does not clone", st, &err);
        abort();
    }
    why.code = MP_OK;
    if (!mp_graph_equal(g1, g3, &why)) {
        if (why.code == MP_ENOMEM) goto out;
        fail_equal("clone(g1) vs g1", &why);
    }

out:
    mp_message_free(m);
    mp_message_free(m2);
    free(bytes1);
    mp_realm_free(ra);
    mp_realm_free(rb);
    mp_realm_free(rc);
    return 0;
}
