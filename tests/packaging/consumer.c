/* An installed-msgport consumer: a real structured clone through bytes
 * (mp_serialize + mp_deserialize) and a direct clone with transfer, each
 * checked. Built by tests/packaging/cmake and tests/packaging/pkgconfig
 * against an installed tree only; scripts/packaging.sh runs it. */
#include <msgport.h>
#include <stdio.h>
#include <string.h>

static int failures;

static void
check(bool ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "FAILED: %s\n", what);
        failures++;
    }
}

static bool
call(mp_status st, const char *what)
{
    if (st != MP_OK) fprintf(stderr, "FAILED: %s: %s\n", what, mp_strerror(st));
    failures += st != MP_OK;
    return st == MP_OK;
}

int
main(int argc, char **argv)
{
    const char *label = argc > 1 ? argv[1] : "consumer";
    mp_realm *a = NULL, *b = NULL;
    if (!call(mp_realm_new(NULL, &a), "mp_realm_new") || !call(mp_realm_new(NULL, &b), "mp_realm_new")) return 1;

    /* {name: "packaging", list: [1, 2.5, "x"], self: <the object>, buf: ArrayBuffer(16)} */
    mp_value doc, list, name, x, buf;
    void *data = NULL;
    size_t len = 0;
    call(mp_object_new(a, &doc), "mp_object_new");
    call(mp_array_new(a, 0, &list), "mp_array_new");
    call(mp_string_from_utf8(a, "packaging", 9, &name), "mp_string_from_utf8");
    call(mp_string_from_utf8(a, "x", 1, &x), "mp_string_from_utf8");
    call(mp_array_push(list, mp_number(1)), "mp_array_push");
    call(mp_array_push(list, mp_number(2.5)), "mp_array_push");
    call(mp_array_push(list, x), "mp_array_push");
    call(mp_arraybuffer_new(a, 16, &buf), "mp_arraybuffer_new");
    call(mp_arraybuffer_data(buf, &data, &len), "mp_arraybuffer_data");
    if (failures) return 1;
    memset(data, 0xab, len);
    call(mp_object_set_utf8(doc, "name", name), "set name");
    call(mp_object_set_utf8(doc, "list", list), "set list");
    call(mp_object_set_utf8(doc, "self", doc), "set self");
    call(mp_object_set_utf8(doc, "buf", buf), "set buf");

    /* Through bytes. */
    mp_message *msg = NULL;
    mp_error_info err;
    mp_value decoded = mp_undefined();
    if (call(mp_serialize(doc, NULL, 0, &msg, &err), "mp_serialize")) {
        const void *bytes;
        size_t n;
        mp_message_bytes(msg, &bytes, &n);
        check(n > 20 && ((const unsigned char *)bytes)[0] == MP_FORMAT_VERSION, "message starts with version 1");
        call(mp_deserialize(msg, b, NULL, &decoded, &err), "mp_deserialize");
        check(mp_graph_equal(doc, decoded, NULL), "decoded graph equals the original");
        mp_value self = mp_undefined();
        call(mp_object_get_utf8(decoded, "self", &self), "get self");
        check(mp_same_value(self, decoded), "the cycle survives");
    }

    /* Directly, transferring the buffer: no copy, the source detached. */
    mp_value copy = mp_undefined(), copy_buf = mp_undefined();
    if (call(mp_clone(doc, b, &buf, 1, &copy, &err), "mp_clone with transfer")) {
        call(mp_object_get_utf8(copy, "buf", &copy_buf), "get buf");
        void *moved = NULL;
        size_t moved_len = 0;
        call(mp_arraybuffer_data(copy_buf, &moved, &moved_len), "mp_arraybuffer_data");
        check(moved == data && moved_len == 16, "the transferred store moved without a copy");
        check(mp_arraybuffer_is_detached(buf), "the sender's buffer is detached");
    }
    check(strcmp(mp_strerror(MP_EDECODE), mp_strerror(MP_OK)) != 0, "mp_strerror");
    mp_realm_free(a);
    mp_realm_free(b);
    if (failures) {
        fprintf(stderr, "%s: %d check(s) failed\n", label, failures);
        return 1;
    }
    printf("%s: msgport %d.%d.%d: serialize/deserialize round trip and clone with transfer OK\n", label,
           MSGPORT_VERSION_MAJOR, MSGPORT_VERSION_MINOR, MSGPORT_VERSION_PATCH);
    return 0;
}
