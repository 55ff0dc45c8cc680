/* msgport-dump: lists msgport message bytes as text, and packs such text
 * back into bytes (--pack). See tools/README.md and --help. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dump.h"
#include "msgport.h"

static const char usage_text[] = "NAME\n"
                                 "    msgport-dump - list msgport message bytes as text, or pack such text into bytes\n"
                                 "\n"
                                 "SYNOPSIS\n"
                                 "    msgport-dump [--check] [--skip N] [FILE | -]\n"
                                 "    msgport-dump --pack [--check] [-o OUT] [FILE | -]\n"
                                 "    msgport-dump --help\n"
                                 "\n"
                                 "DESCRIPTION\n"
                                 "    Without --pack, reads the raw bytes of one message (codec/FORMAT.md version 1)\n"
                                 "    from FILE, or standard input when FILE is - or absent, and writes a listing:\n"
                                 "    one token per line, the byte offset in a left column, indented by nesting,\n"
                                 "    msgpack values as literals (nil, true, 12345, -1.5, \"text\", bin 0a0b),\n"
                                 "    msgport's ext types by name with their fields (ARRAY form=0 length=5 named=1,\n"
                                 "    VIEW Float64Array offset=0 length=4, BACKREF id=3, ...), and each object's\n"
                                 "    implicit id as a comment (# id 4). Anything invalid is marked in the listing\n"
                                 "    (# invalid: ...) and reported on standard error as \"offset N: why\".\n"
                                 "\n"
                                 "    With --pack, reads such a listing (as dumped, edited, or written by hand)\n"
                                 "    and writes the message bytes. The offset column and # comments are ignored;\n"
                                 "    indentation must match the nesting the declared counts give (two spaces per\n"
                                 "    level). Packing a listing of any message msgport wrote gives back the same\n"
                                 "    bytes. tools/README.md describes the text format.\n"
                                 "\n"
                                 "OPTIONS\n"
                                 "    --pack       text to bytes instead of bytes to text\n"
                                 "    --check      also decode the message with mp_deserialize into a fresh realm\n"
                                 "                 and print the value (mp_print) or the decoder's error: after the\n"
                                 "                 listing as # comments, or with --pack on standard error\n"
                                 "    -o OUT       --pack: write the bytes to OUT instead of standard output\n"
                                 "    --skip N     ignore the first N input bytes (offsets stay relative to the\n"
                                 "                 message): --skip 1 for fuzz/corpus/decode/ files, whose first\n"
                                 "                 byte picks the fuzzer's mode\n"
                                 "    -h, --help   this text\n"
                                 "\n"
                                 "EXIT STATUS\n"
                                 "    0  the message is valid (as far as the listing or --check can tell)\n"
                                 "    1  the input is invalid: bad bytes (with their offset), bad text (with its\n"
                                 "       line and column), or --check failed\n"
                                 "    2  usage error, unreadable input or unwritable output\n"
                                 "\n"
                                 "EXAMPLES\n"
                                 "    msgport-dump msg.bin\n"
                                 "    msgport-dump --skip 1 fuzz/corpus/decode/seed-kitchen-sink\n"
                                 "    msgport-dump msg.bin > msg.txt && msgport-dump --pack -o msg2.bin msg.txt\n"
                                 "    msgport-dump --pack --check -o hand.bin hand.txt\n";

/* Reads a whole stream; NULL (errno set) on failure. */
/* Decodes the bytes into a new realm and prints the value, each line
 * prefixed with `prefix`, to `out`. Returns 0 if it decodes, 1 if not, 2
 * if msgport could not even start (memory). */
static int
check(const uint8_t *bytes, size_t len, FILE *out, const char *prefix)
{
    mp_realm *realm = NULL;
    mp_message *msg = NULL;
    mp_status st = mp_realm_new(NULL, &realm);
    if (st == MP_OK) st = mp_message_from_bytes(bytes, len, NULL, &msg);
    if (st != MP_OK) {
        fprintf(stderr, "msgport-dump: --check: %s\n", mp_strerror(st));
        mp_realm_free(realm);
        return 2;
    }
    mp_value v;
    mp_error_info err;
    st = mp_deserialize(msg, realm, NULL, &v, &err);
    int rc;
    if (st != MP_OK) {
        fprintf(out, "%scheck: mp_deserialize fails: ", prefix);
        if (err.offset != MP_NO_OFFSET) fprintf(out, "offset %zu: ", err.offset);
        fprintf(out, "%s%s%s\n", mp_strerror(st), err.detail[0] ? ": " : "", err.detail);
        rc = 1;
    } else {
        /* mp_print writes to a FILE: capture it to prefix each line. */
        char *text = NULL;
        size_t text_len = 0;
        FILE *mem = open_memstream(&text, &text_len);
        st = mem ? mp_print(mem, v, MP_PRINT_PRETTY) : MP_ENOMEM;
        if (mem && fclose(mem) != 0 && st == MP_OK) st = MP_ENOMEM;
        if (st != MP_OK) {
            fprintf(out, "%scheck: decodes, but printing failed: %s\n", prefix, mp_strerror(st));
        } else {
            fprintf(out, "%scheck: mp_deserialize gives:\n", prefix);
            for (char *line = text; line && *line;) {
                char *nl = strchr(line, '\n');
                size_t n = nl ? (size_t)(nl - line) : strlen(line);
                fprintf(out, "%s%.*s\n", prefix, (int)n, line);
                line = nl ? nl + 1 : NULL;
            }
        }
        free(text);
        rc = st == MP_OK ? 0 : 2;
    }
    mp_realm_free(realm);
    return rc;
}

static int
usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "msgport-dump: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nTry 'msgport-dump --help'.\n");
    return 2;
}

int
main(int argc, char **argv)
{
    bool pack = false, do_check = false;
    const char *in_path = NULL, *out_path = NULL;
    size_t skip = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage_text, stdout);
            return 0;
        } else if (strcmp(a, "--pack") == 0) {
            pack = true;
        } else if (strcmp(a, "--check") == 0) {
            do_check = true;
        } else if (strcmp(a, "-o") == 0) {
            if (++i == argc) return usage_error("%s needs a file name", a);
            out_path = argv[i];
        } else if (strcmp(a, "--skip") == 0) {
            char *end;
            if (++i == argc) return usage_error("%s needs a byte count", a);
            errno = 0;
            unsigned long long n = strtoull(argv[i], &end, 10);
            if (errno || *end || !*argv[i] || argv[i][0] == '-')
                return usage_error("--skip %s: not a byte count", argv[i]);
            skip = (size_t)n;
        } else if (a[0] == '-' && a[1] != '\0') {
            return usage_error("unknown option %s", a);
        } else if (in_path) {
            return usage_error("one input at a time (also got %s)", a);
        } else {
            in_path = a;
        }
    }
    if (skip && pack) return usage_error("%s", "--skip is for dumping bytes, not for --pack");
    if (out_path && !pack) return usage_error("%s: -o is for --pack (the listing goes to standard output)", out_path);

    FILE *in = stdin;
    if (in_path && strcmp(in_path, "-") != 0) {
        in = fopen(in_path, "rb");
        if (!in) {
            fprintf(stderr, "msgport-dump: %s: %s\n", in_path, strerror(errno));
            return 2;
        }
    }
    const char *in_name = in == stdin ? "standard input" : in_path;
    size_t len = 0;
    uint8_t *input = mpd_read_all(in, &len);
    int read_errno = errno;
    if (in != stdin) fclose(in);
    if (!input) {
        fprintf(stderr, "msgport-dump: %s: %s\n", in_name, strerror(read_errno));
        return 2;
    }

    int rc;
    if (!pack) {
        if (skip > len) {
            fprintf(stderr, "msgport-dump: %s: --skip %zu is more than its %zu bytes\n", in_name, skip, len);
            free(input);
            return 2;
        }
        const uint8_t *msg = input + skip;
        len -= skip;
        mpd_dump_result res;
        int d = mpd_dump(msg, len, stdout, stderr, &res);
        if (d < 0) {
            fprintf(stderr, "msgport-dump: %s\n", res.first);
            rc = 2;
        } else {
            rc = d;
            if (do_check) {
                fflush(stdout);
                int c = check(msg, len, stdout, "# ");
                if (c > rc) rc = c;
            }
            if (fflush(stdout) != 0 || ferror(stdout)) {
                fprintf(stderr, "msgport-dump: writing the listing: %s\n", strerror(errno));
                rc = 2;
            }
        }
        free(input);
        return rc;
    }

    uint8_t *bytes = NULL;
    size_t n = 0;
    mpd_pack_result res;
    if (mpd_pack((const char *)input, len, &bytes, &n, &res) != 0) {
        fprintf(stderr, "msgport-dump: %s: %s\n", in_name, res.error);
        free(input);
        return res.line ? 1 : 2;
    }
    free(input);
    if (res.warnings) fprintf(stderr, "msgport-dump: %s: warning: %s\n", in_name, res.warning);
    rc = 0;
    FILE *out = stdout;
    if (out_path) {
        out = fopen(out_path, "wb");
        if (!out) {
            fprintf(stderr, "msgport-dump: %s: %s\n", out_path, strerror(errno));
            free(bytes);
            return 2;
        }
    } else if (isatty(STDOUT_FILENO)) {
        fprintf(stderr, "msgport-dump: not writing binary bytes to a terminal: use -o OUT or redirect\n");
        free(bytes);
        return 2;
    }
    if ((n && fwrite(bytes, 1, n, out) != n) || fflush(out) != 0) {
        fprintf(stderr, "msgport-dump: %s: %s\n", out_path ? out_path : "standard output", strerror(errno));
        rc = 2;
    }
    if (out != stdout && fclose(out) != 0 && rc == 0) {
        fprintf(stderr, "msgport-dump: %s: %s\n", out_path, strerror(errno));
        rc = 2;
    }
    if (rc == 0 && do_check) rc = check(bytes, n, stderr, "");
    free(bytes);
    return rc;
}
