/* libFuzzer target: hostile bytes into mp_deserialize.
 *
 * The decoder must be total: a value or an error for any input, never a
 * crash, a hang, a leak or an allocation out of proportion to the input.
 * Byte 0 picks the mode (fuzz_support.h): no side tables (bytes alone, so
 * every index ext must be refused) or the synthetic ones (two moved
 * stores, two SharedArrayBuffers, two host payloads of a registered and an
 * unregistered type, two transferred ports: every index path reached),
 * tight or roomy limits, a host read hook that fails, an allocation
 * failure injected into the realm's allocator, a realm kept across inputs
 * (the atoms and shapes earlier messages left in it). A realm that is not
 * kept is freed every iteration, so anything the decoder leaks shows up in
 * ASan's leak check; a kept one is freed every 256 inputs.
 *
 * Every decode, failed or not, must stay within the memory bound of
 * codec/FORMAT.md section 5 (peak bytes through the harness allocator,
 * which serves the realm and, for messages from bytes alone, the decoder's
 * work stacks). On success a few cheap invariants are checked as well:
 * the decoded graph equals itself and survives a collection rooted at
 * it. In a kept realm the same bytes must give what they give in a fresh
 * realm (the same status, an equal graph), and the graph's own encoding
 * must decode (through the shapes the first decode recorded) to an equal
 * graph. A failed decode leaves the realm's values and bytes as they
 * were. */
#include <stdio.h>
#include <stdlib.h>

#include "fuzz_support.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static mp_realm *g_kept[2]; /* by MPF_MODE_HOST_FAILS */
static unsigned g_kept_uses[2];

/* The realm to decode into; *kept if it is one of g_kept. */
static mp_status
decode_realm(unsigned mode, mp_realm **out, bool *kept)
{
    *kept = (mode & (MPF_MODE_KEEP_REALM | MPF_MODE_FAIL_ALLOC)) == MPF_MODE_KEEP_REALM;
    if (!*kept) return mpf_decode_realm(mode, out);
    unsigned k = (mode & MPF_MODE_HOST_FAILS) != 0;
    if (g_kept[k] && ++g_kept_uses[k] % 256 == 0) {
        mp_realm_free(g_kept[k]);
        g_kept[k] = NULL;
    }
    if (!g_kept[k]) {
        mp_status st = mpf_decode_realm(mode, &g_kept[k]);
        if (st != MP_OK) return st;
    }
    *out = g_kept[k];
    return MP_OK;
}

/* The input decoded again into a fresh realm: a kept realm's atoms and
 * shapes may make a decode faster, never change what it gives. */
static void
check_fresh(unsigned mode, const uint8_t *data, size_t size, mp_status st, mp_value root)
{
    mp_realm *fresh;
    if (mpf_decode_realm(mode, &fresh) != MP_OK) return;
    mp_message *msg = mpf_message(mode, data, size, true);
    if (!msg) {
        mp_realm_free(fresh);
        return;
    }
    mp_decode_limits lim = mpf_limits(mode);
    mp_value other;
    mp_error_info err;
    mp_status fst = mp_deserialize(msg, fresh, &lim, &other, &err);
    if (fst != MP_ENOMEM && st != MP_ENOMEM) {
        if (fst != st) {
            fprintf(stderr, "decode: %s in a kept realm, %s in a fresh one\n", mp_strerror(st), mp_strerror(fst));
            abort();
        }
        /* Graphs compare only without side tables: each message's tables
         * are new SharedArrayBuffer stores, which equality tells apart. */
        mp_error_info why;
        if (st == MP_OK && !(mode & MPF_MODE_TABLES) && !mp_graph_equal(root, other, &why) && why.code != MP_ENOMEM) {
            mpf_report("decode: a kept realm and a fresh one gave different graphs", why.code, &why);
            abort();
        }
    }
    mp_realm_free(fresh);
}

/* root, just decoded into the kept realm, encoded and decoded again there:
 * the second decode takes the shapes the first recorded. A root that
 * cannot be encoded without a transfer list (it holds ports) is skipped. */
static void
check_redecode(mp_realm *realm, mp_value root)
{
    mp_message *msg;
    mp_error_info err;
    mp_status st = mp_serialize(root, NULL, 0, &msg, &err);
    if (st == MP_EDATACLONE || st == MP_ENOMEM) return;
    if (st != MP_OK) {
        mpf_report("decode: a decoded graph did not encode", st, &err);
        abort();
    }
    mp_value again;
    st = mp_deserialize(msg, realm, NULL, &again, &err);
    if (st == MP_ENOMEM) return;
    if (st != MP_OK) {
        mpf_report("decode: a decoded graph's own encoding did not decode", st, &err);
        abort();
    }
    mp_error_info why;
    if (!mp_graph_equal(root, again, &why) && why.code != MP_ENOMEM) {
        mpf_report("decode: decoding a graph's encoding again gave another graph", why.code, &why);
        abort();
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    unsigned mode = data[0];
    data++;
    size--;

    mp_realm *realm = NULL;
    bool kept;
    if (decode_realm(mode, &realm, &kept) != MP_OK) return 0;
    mp_message *msg = mpf_message(mode, data, size, true);
    if (!msg) {
        if (!kept) mp_realm_free(realm);
        return 0;
    }
    mp_realm_stats before_stats = mp_realm_get_stats(realm);
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
        if (kept) check_redecode(realm, root);
    } else if (st < MP_OK || st >= MP_STATUS_COUNT_) {
        fprintf(stderr, "decode: status %d is not an mp_status\n", (int)st);
        abort();
    } else if (st != MP_EDECODE && st != MP_ELIMIT && st != MP_EVERSION && st != MP_ENOMEM && st != MP_EDATACLONE) {
        mpf_report("decode: unexpected status", st, &err);
        abort();
    }
    if (kept) check_fresh(mode, data, size, st, root);
    if (st != MP_OK) {
        mp_realm_stats after = mp_realm_get_stats(realm);
        if (after.values != before_stats.values || after.bytes != before_stats.bytes) {
            fprintf(stderr,
                    "decode: a failed decode (%s) changed the realm: %zu values, %zu bytes before; %zu, %zu after\n",
                    mp_strerror(st), before_stats.values, before_stats.bytes, after.values, after.bytes);
            abort();
        }
    }
    if (kept)
        mp_realm_collect(realm, NULL, 0); /* its values go; its atoms and shapes stay */
    else
        mp_realm_free(realm);
    return 0;
}
