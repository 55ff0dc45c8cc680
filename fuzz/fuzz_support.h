/* Shared by the fuzz targets and make_seeds: the input layout, decode
 * limits by mode, the host type used in side tables, and messages with
 * real side tables.
 *
 * Input layout of every target: byte 0 is a mode byte, the rest is the
 * message bytes.
 *   bit 0 (MPF_MODE_TABLES): give the message the synthetic side tables
 *         (2 SharedArrayBuffer references, 2 moved stores, 2 host payloads,
 *         2 transferred ports) so that every index ext of codec/FORMAT.md
 *         reaches a table;
 *         otherwise the message has no side tables (mp_message_from_bytes).
 *   bit 1 (MPF_MODE_TIGHT): decode with tight limits (every limit is
 *         reachable with a few bytes); otherwise with roomy ones.
 *   bit 2: fuzz_roundtrip (MPF_MODE_SAME_REALM): clone into the realm the
 *         graph lives in instead of a fresh one; fuzz_decode
 *         (MPF_MODE_HOST_FAILS): the decoding realm's read hook for
 *         MPF_HOST_KNOWN fails.
 *   bit 3 (MPF_MODE_FAIL_ALLOC, fuzz_decode): the decoding realm's
 *         allocator fails exactly once, at call number
 *         mpf_fail_at(mode) during mp_deserialize (bits 4-7 pick it).
 *   bit 4 without bit 3 (MPF_MODE_KEEP_REALM, fuzz_decode): decode into a
 *         realm kept from one input to the next (one per bit 2 setting,
 *         renewed every 256 inputs), so the atoms and object shapes that
 *         earlier messages left in it, under other limits too, serve this
 *         one; a finding may then need the inputs before it.
 * Other bits are ignored. */
#ifndef MSGPORT_FUZZ_SUPPORT_H
#define MSGPORT_FUZZ_SUPPORT_H

#include <stdint.h>

#include "codec_internal.h"

#define MPF_MODE_TABLES 1u
#define MPF_MODE_TIGHT 2u
#define MPF_MODE_SAME_REALM 4u
#define MPF_MODE_HOST_FAILS 4u
#define MPF_MODE_FAIL_ALLOC 8u
#define MPF_MODE_KEEP_REALM 16u

/* Host types: KNOWN is registered in every realm the targets make; OTHER
 * only in the realm that writes the synthetic side tables, so decoding it
 * takes the "no codec registered in the target realm" path. Host pointers
 * are small integers (msgport never dereferences them); a payload carries
 * the pointer value, so a decoded host compares equal to its source. */
#define MPF_HOST_KNOWN 7u
#define MPF_HOST_OTHER 9u

/* The attachments behind the synthetic side tables, in table order:
 *   shared[0] = sab0: SharedArrayBuffer, 16 bytes, fixed
 *   shared[1] = sab1: SharedArrayBuffer, 8 bytes, growable to 64
 *   moved[0]  = ab0:  ArrayBuffer, 32 bytes, fixed        (transfer[0])
 *   moved[1]  = ab1:  ArrayBuffer, 8 bytes, resizable to 32 (transfer[1])
 *   hosts[0]  = host of type MPF_HOST_KNOWN
 *   hosts[1]  = host of type MPF_HOST_OTHER
 *   ports[0]  = port0: port1 of a MessageChannel      (transfer[2])
 *   ports[1]  = port1: port1 of a second channel      (transfer[3])
 * A graph serialized with transfer = {ab0, ab1, port0, port1} that meets
 * sab0 before sab1 and host_known before host_other gets exactly these
 * indices (ArrayBuffers and ports are numbered apart, in list order). The
 * ports' peers stay in the realm that made them; once it is freed, a
 * decoded port sees its peer closed. */
typedef struct mpf_attachments {
    mp_value sab0, sab1, ab0, ab1, host_known, host_other, port0, port1;
} mpf_attachments;

/* Registers MPF_HOST_KNOWN (and MPF_HOST_OTHER if `other`) in r. */
mp_status mpf_register_hosts(mp_realm *r, bool other);
/* Registers MPF_HOST_KNOWN in r with a read hook that fails (MP_EDATACLONE). */
mp_status mpf_register_failing_host(mp_realm *r);

/* The harness allocator, for the decoding realm and messages made from
 * bytes: libc-backed, it counts live and peak bytes (a realloc counts as a
 * move: old and new block live at once) and, for fault injection, fails
 * the n-th malloc or realloc after mpf_failing_arm(n) (once; n = 0:
 * never). The state is global: single-threaded harnesses only. */
const mp_allocator *mpf_allocator(void);
void mpf_failing_arm(unsigned long n);
size_t mpf_alloc_live(void);
size_t mpf_alloc_peak(void);
/* Sets the peak to the bytes live now. */
void mpf_alloc_reset_peak(void);

/* Reads a whole file into a buffer from malloc (free() it), *len bytes;
 * NULL with errno set if it cannot be opened or read. */
uint8_t *mpf_read_file(const char *path, size_t *len);

/* The decoder's memory bound of codec/FORMAT.md section 5: decoding n
 * bytes peaks at most at K n + C + mpf_reserve_term() bytes above what was
 * live before; tests/test_decode_bounds.c checks the same numbers. */
#define MPF_DECODE_BOUND_K 400u
#define MPF_DECODE_BOUND_C ((size_t)128 << 10)
/* What the resizable ArrayBuffer exts of bytes[0..len) may reserve beyond
 * the bytes they carry under lim (the bound's one term not paid for by
 * input bytes). */
size_t mpf_reserve_term(const uint8_t *bytes, size_t len, const mp_decode_limits *lim);
/* The call number MPF_MODE_FAIL_ALLOC fails for a mode byte: bits 4-7
 * pick one of 1, 2, 3, 5, 8, ..., 1597 (Fibonacci). */
unsigned long mpf_fail_at(unsigned mode);

/* Makes the attachments in r (which must have both host types). */
mp_status mpf_make_attachments(mp_realm *r, mpf_attachments *a);

/* The realm fuzz_decode decodes into for a mode byte: the harness
 * allocator (not yet armed) and host hooks. */
mp_status mpf_decode_realm(unsigned mode, mp_realm **out);

/* The limits for a mode byte. */
mp_decode_limits mpf_limits(unsigned mode);

/* A message holding bytes[0..len): with the synthetic side tables if
 * mode has MPF_MODE_TABLES, else none; `ports`: whether those tables
 * include the two transferred ports (a graph holding a port serializes
 * only with the port in its transfer list, so fuzz_roundtrip, which
 * re-serializes without one, asks for none). NULL if memory ran out or
 * mpf_skip_known_bug says so (a target then skips the input). */
mp_message *mpf_message(unsigned mode, const uint8_t *bytes, size_t len, bool ports);

/* Known codec bugs, already kept as reproducers in fuzz/corpus/, that the
 * fuzzer would otherwise hit again within seconds, hiding everything
 * else. Only when the environment has MPF_WORKAROUNDS=1 (set it by hand
 * for exploratory runs; run.sh, ctest and the replay tests never do, so
 * the reproducers keep failing until the codec is fixed). Each returns
 * true if the input must be skipped. Delete each one with its fix. */
bool mpf_skip_known_bug(unsigned mode, const uint8_t *bytes, size_t len);

/* Prints "<what>: <status> at <offset>: <path> <detail>" to stderr. */
void mpf_report(const char *what, mp_status st, const mp_error_info *err);

#endif
