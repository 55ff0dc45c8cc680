/* copy_vs_transfer.c — a 64 MiB ArrayBuffer posted to a worker twice:
 *
 *   worker.postMessage(buf);          // copied: 64 MiB encoded and decoded
 *   worker.postMessage(buf, [buf]);   // transferred: the memory itself moves
 *
 * The worker notes when each message arrived, checks the bytes, and tells
 * the main thread where they are in memory. A transfer is O(1) whatever
 * the size: the receiver's ArrayBuffer adopts the sender's memory, and the
 * sender's ArrayBuffer is detached (byteLength 0). */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */

#include "examples.h"

#include <string.h>

static const size_t BUFFER_BYTES = (size_t)64 << 20;

/* Marker bytes at the start, the middle and the end, over a filler. */
static void
fill(uint8_t *bytes, size_t len)
{
    memset(bytes, 0xa5, len);
    bytes[0] = 1;
    bytes[len / 2] = 2;
    bytes[len - 1] = 3;
}

static bool
looks_filled(const uint8_t *bytes, size_t len)
{
    return len == BUFFER_BYTES && bytes[0] == 1 && bytes[1] == 0xa5 && bytes[len / 2] == 2 && bytes[len - 1] == 3;
}

/* Replies to each buffer with { receivedAt, intact, address }. */
static mp_status
reply_to(mp_worker_ctx *ctx, mp_value buffer, double received_at)
{
    void *data = NULL;
    size_t len = 0;
    mp_value reply, address;
    mp_status st = mp_arraybuffer_data(buffer, &data, &len);
    if (st == MP_OK) st = mp_object_new(ctx->realm, &reply);
    if (st == MP_OK) st = mp_object_set_utf8(reply, "receivedAt", mp_number(received_at));
    if (st == MP_OK) st = mp_object_set_utf8(reply, "intact", mp_boolean(data && looks_filled(data, len)));
    if (st == MP_OK) st = mp_bigint_from_uint64(ctx->realm, (uintptr_t)data, &address);
    if (st == MP_OK) st = mp_object_set_utf8(reply, "address", address);
    if (st == MP_OK) st = mp_port_post(ctx->port, reply, NULL, 0, NULL);
    return st;
}

static int
buffer_worker(mp_worker_ctx *ctx)
{
    for (;;) {
        mp_value buffer;
        mp_status st = mp_port_receive(ctx->port, NULL, MP_PORT_FOREVER, &buffer, NULL);
        double received_at = ex_now_ms();
        if (st == MP_ECLOSED) return 0;
        if (st == MP_OK) st = reply_to(ctx, buffer, received_at);
        if (st != MP_OK) {
            fprintf(stderr, "copy_vs_transfer: worker: %s\n", mp_strerror(st));
            return 1;
        }
        /* Let the 64 MiB go now rather than when the worker ends. */
        mp_realm_collect(ctx->realm, &ctx->port, 1);
    }
}

static mp_status
get_property(mp_value obj, const char *key, mp_kind kind, mp_value *out)
{
    mp_status st = mp_object_get_utf8(obj, key, out);
    if (st == MP_OK && mp_kind_of(*out) != kind) st = MP_ETYPE;
    return st;
}

/* Posts the buffer (moving it if `transfer`), waits for the worker's reply
 * and reports; false if a call or a check failed. */
static bool
send_buffer(mp_value port, mp_value buffer, bool transfer)
{
    bool ok = false;
    void *sent_from = NULL;
    size_t len = 0;
    mp_value reply, received_at, intact, address;
    uint64_t received_address = 0;
    mp_error_info err;
    memset(&err, 0, sizeof err);

    EX_TRY(mp_arraybuffer_data(buffer, &sent_from, &len));
    double posted_at = ex_now_ms();
    EX_TRY_INFO(mp_port_post(port, buffer, transfer ? &buffer : NULL, transfer ? 1 : 0, &err), err);
    EX_TRY_INFO(mp_port_receive(port, NULL, 30000, &reply, &err), err);
    EX_TRY(get_property(reply, "receivedAt", MP_NUMBER, &received_at));
    EX_TRY(get_property(reply, "intact", MP_BOOLEAN, &intact));
    EX_TRY(get_property(reply, "address", MP_BIGINT, &address));
    EX_TRY(mp_bigint_to_uint64(address, &received_address));

    bool same_memory = received_address == (uintptr_t)sent_from;
    printf("  %-9s post -> worker received in %8.3f ms; the worker's bytes are %s, %s\n",
           transfer ? "transfer:" : "copy:", mp_number_value(received_at) - posted_at,
           same_memory ? "the sender's own memory" : "a copy", mp_boolean_value(intact) ? "intact" : "DAMAGED");
    printf("            the sender's buffer after: byteLength %zu, %s\n", mp_arraybuffer_byte_length(buffer),
           mp_arraybuffer_is_detached(buffer) ? "detached" : "not detached");
    if (transfer)
        ok = ex_check(mp_boolean_value(intact) && same_memory && mp_arraybuffer_is_detached(buffer) &&
                          mp_arraybuffer_byte_length(buffer) == 0,
                      "the transfer moved the memory itself and detached the sender's buffer");
    else
        ok = ex_check(mp_boolean_value(intact) && !same_memory && mp_arraybuffer_byte_length(buffer) == BUFFER_BYTES,
                      "the copy arrived intact and the sender kept its buffer");
done:
    return ok;
}

int
example_copy_vs_transfer(void)
{
    int failed = 1;
    mp_realm *realm = NULL;
    mp_worker *worker = NULL;
    mp_error_info err;
    memset(&err, 0, sizeof err);

    printf("\n== a 64 MiB ArrayBuffer posted to a worker: copied, then transferred ==\n");
    EX_TRY(mp_realm_new(NULL, &realm));
    mp_value buffer;
    void *data;
    size_t len;
    EX_TRY(mp_arraybuffer_new(realm, BUFFER_BYTES, &buffer));
    EX_TRY(mp_arraybuffer_data(buffer, &data, &len));
    fill(data, len);
    EX_TRY_INFO(mp_worker_start(realm, NULL, buffer_worker, NULL, mp_undefined(), NULL, 0, &worker, &err), err);

    bool copied = send_buffer(mp_worker_port(worker), buffer, false);
    bool moved = send_buffer(mp_worker_port(worker), buffer, true);
    failed = !(copied && moved);

done:
    if (worker) {
        int code = 1;
        mp_port_close(mp_worker_port(worker)); /* the worker ends when its port closes */
        if (mp_worker_join(worker, &code) != MP_OK || code != 0) {
            fprintf(stderr, "copy_vs_transfer: the worker failed\n");
            failed = 1;
        }
    }
    mp_realm_free(realm);
    return failed;
}

#ifndef MSGPORT_DEMO
int
main(void)
{
    return example_copy_vs_transfer() == 0 ? 0 : 1;
}
#endif
