/* libFuzzer target: hostile bytes into mp_deserialize.
 *
 * The decoder must be total: a value or an error for any input, never a
 * crash, a hang, a leak or an allocation out of proportion to the input.
 * Byte 0 picks the mode (fuzz_support.h): no side tables or the synthetic
 * ones, tight or roomy limits, a host read hook that fails, an allocation
 * failure injected into the realm's allocator. The realm is freed every iteration, so
 * anything the decoder leaks shows up in ASan's leak check.
 *
 * On success a few cheap invariants are checked as well: the decoded graph
 * equals itself, survives a collection rooted at it, and the realm holds
 * memory proportional to the input. */
#include <stdio.h>
#include <stdlib.h>

#include "fuzz_support.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Realm bytes allowed per input byte (plus a constant). The densest inputs
 * are one-byte containers ({} or []) that each cost a cell and an id slot,
 * so a few hundred bytes per input byte is legitimate; anything
 * superlinear blows through this. */
#define MPF_BYTES_PER_INPUT_BYTE 512u
#define MPF_BYTES_SLACK ((size_t)256 << 10)

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    unsigned mode = data[0];
    data++;
    size--;

    mp_realm *realm = NULL;
    if (mpf_decode_realm(mode, &realm) != MP_OK) return 0;
    mp_message *msg = mpf_message(mode, data, size);
    if (!msg) {
        mp_realm_free(realm);
        return 0;
    }
    mp_decode_limits lim = mpf_limits(mode);
    mp_value root = mp_undefined();
    mp_error_info err;
    if (mode & MPF_MODE_FAIL_ALLOC) mpf_failing_arm(mpf_fail_at(mode));
    mp_status st = mp_deserialize(msg, realm, &lim, &root, &err); /* frees msg */
    mpf_failing_arm(0);
    if (st == MP_OK) {
        mp_realm_stats rs = mp_realm_get_stats(realm);
        if (rs.bytes > MPF_BYTES_SLACK + (size_t)MPF_BYTES_PER_INPUT_BYTE * size) {
            fprintf(stderr, "decode: %zu input bytes made a realm of %zu bytes (%zu values)\n", size, rs.bytes,
                    rs.values);
            abort();
        }
        mp_error_info why;
        if (!mp_graph_equal(root, root, &why) && why.code != MP_ENOMEM) {
            mpf_report("decode: graph differs from itself", why.code, &why);
            abort();
        }
        /* Everything decoded is reachable from root: collecting must keep
         * it all, and the graph must still compare equal afterwards. */
        mp_realm_collect(realm, &root, 1);
        if (!mp_graph_equal(root, root, &why) && why.code != MP_ENOMEM) {
            mpf_report("decode: graph differs from itself after a collection", why.code, &why);
            abort();
        }
    } else if (st < MP_OK || st >= MP_STATUS_COUNT_) {
        fprintf(stderr, "decode: status %d is not an mp_status\n", (int)st);
        abort();
    } else if (st != MP_EDECODE && st != MP_ELIMIT && st != MP_EVERSION && st != MP_ENOMEM &&
               st != MP_EDATACLONE) {
        mpf_report("decode: unexpected status", st, &err);
        abort();
    }
    mp_realm_free(realm);
    return 0;
}
