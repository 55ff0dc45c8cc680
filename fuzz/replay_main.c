/* A main() for builds without libFuzzer (gcc, no MSGPORT_FUZZ): runs the
 * target's LLVMFuzzerTestOneInput once over every file named on the
 * command line and every regular file in the directories named there (not
 * recursive; names starting with '.' skipped), in sorted order. A crash
 * or an abort() in the target fails the run; so does an unreadable file
 * or a directory with nothing in it (a corpus that went missing should
 * not pass silently).
 *
 *   fuzz_decode fuzz/corpus/decode/            # as ctest fuzz_replay_decode does
 *   fuzz_decode fuzz/corpus/decode/crash-1234  # one reproducer */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_support.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
run_file(const char *path)
{
    size_t len = 0;
    uint8_t *buf = mpf_read_file(path, &len);
    if (!buf) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    fprintf(stderr, "replay: %s (%zu bytes)\n", path, len);
    /* Exactly the bytes, as libFuzzer hands them: a copy of the right size
     * so ASan catches reads past the end. */
    uint8_t *exact = malloc(len ? len : 1);
    if (!exact) {
        free(buf);
        return -1;
    }
    memcpy(exact, buf, len);
    free(buf);
    LLVMFuzzerTestOneInput(exact, len);
    free(exact);
    return 0;
}

static int
cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Returns the number of files run, or -1 on an error. */
static long
run_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
        return -1;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    long status = 0;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            char **nn = realloc(names, cap * sizeof *names);
            if (!nn) {
                status = -1;
                break;
            }
            names = nn;
        }
        size_t dl = strlen(dir), fl = strlen(e->d_name);
        char *p = malloc(dl + fl + 2);
        if (!p) {
            status = -1;
            break;
        }
        memcpy(p, dir, dl);
        p[dl] = '/';
        memcpy(p + dl + 1, e->d_name, fl + 1);
        names[n++] = p;
    }
    closedir(d);
    if (n) qsort(names, n, sizeof *names, cmp_names);
    long ran = 0;
    for (size_t i = 0; i < n; i++) {
        struct stat sb;
        if (status == 0 && stat(names[i], &sb) == 0 && S_ISREG(sb.st_mode)) {
            if (run_file(names[i]) != 0)
                status = -1;
            else
                ran++;
        }
        free(names[i]);
    }
    free(names);
    return status != 0 ? -1 : ran;
}

int
main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s <corpus dir or file>...\n", argv[0]);
        return 2;
    }
    long total = 0;
    for (int i = 1; i < argc; i++) {
        struct stat sb;
        if (stat(argv[i], &sb) != 0) {
            fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
            return 1;
        }
        if (S_ISDIR(sb.st_mode)) {
            long k = run_dir(argv[i]);
            if (k < 0) return 1;
            if (k == 0) {
                fprintf(stderr, "replay: %s: no inputs\n", argv[i]);
                return 1;
            }
            total += k;
        } else {
            if (run_file(argv[i]) != 0) return 1;
            total++;
        }
    }
    fprintf(stderr, "replay: %ld inputs, no failure\n", total);
    return 0;
}
