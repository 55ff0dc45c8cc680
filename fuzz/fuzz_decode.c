/* libFuzzer target: hostile bytes into mp_deserialize.
 *
 * The decoder must be total: a value or an error for any input, never a
 * crash, a hang, a leak or an allocation out of proportion to the input.
 * Byte 0 picks the mode (fuzz_support.h): no side tables (bytes alone, so
 * every index ext must be refused) or the synthetic ones (two moved
 * stores, two SharedArrayBuffers, two host payloads of a registered and an
 * unregistered type, two transferred ports: every index path reached),
 * tight or roomy limits, a host read hook that fails, an allocation
 * failure injected into the realm's allocator. The realm is freed every
 * iteration, so anything the decoder leaks shows up in ASan's leak check.
 *
 * Every decode, failed or not, must stay within the memory bound of
 * codec/FORMAT.md section 5 (peak bytes through the harness allocator,
 * which serves the realm and, for messages from bytes alone, the decoder's
 * work stacks). On success a few cheap invariants are checked as well:
 * the decoded graph equals itself and survives a collection rooted at
 * it. */
#include <stdio.h>
#include <stdlib.h>

#include "fuzz_support.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    unsigned mode = data[0];
    data++;
    size--;

    mp_realm *realm = NULL;
    if (mpf_decode_realm(mode, &realm) != MP_OK) return 0;
    mp_message *msg = mpf_message(mode, data, size, true);
    if (!msg) {
        mp_realm_free(realm);
        return 0;
    }
    mp_decode_limits lim = mpf_limits(mode);
    mp_value root = mp_undefined();
    mp_error_info err;
    size_t before = mpf_alloc_live();
    mpf_alloc_reset_peak();
    if (mode & MPF_MODE_FAIL_ALLOC) mpf_failing_arm(mpf_fail_at(mode));
    mp_status st = mp_deserialize(msg, realm, &lim, &root, &err); /* frees msg */
    mpf_failing_arm(0);
    size_t peak = mpf_alloc_peak() - before;
    size_t bound = (size_t)MPF_DECODE_BOUND_K * size + MPF_DECODE_BOUND_C + mpf_reserve_term(data, size, &lim);
    if (peak > bound) {
        fprintf(stderr, "decode: %zu input bytes (%s) peaked at %zu allocated bytes, over the bound %zu\n", size,
                mp_strerror(st), peak, bound);
        abort();
    }
    if (st == MP_OK) {
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
    } else if (st != MP_EDECODE && st != MP_ELIMIT && st != MP_EVERSION && st != MP_ENOMEM && st != MP_EDATACLONE) {
        mpf_report("decode: unexpected status", st, &err);
        abort();
    }
    mp_realm_free(realm);
    return 0;
}
