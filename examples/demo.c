/* demo.c — msgport's whole job in a few seconds: runs the four example
 * parts (sab_sum.c, happy_pool.c, copy_vs_transfer.c, graph_clone.c, each
 * also a program of its own) and ends with a one-line verdict. Exits 1 if
 * any check of any part failed. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */

#include "examples.h"

typedef struct demo_part {
    const char *name;
    int (*run)(void);
} demo_part;

int
main(void)
{
    static const demo_part parts[] = {
        {"SharedArrayBuffer sum", example_sab_sum},
        {"happy-number pool", example_happy_pool},
        {"copy vs transfer", example_copy_vs_transfer},
        {"graph clone", example_graph_clone},
    };
    enum { PART_COUNT = sizeof parts / sizeof parts[0] };

    printf("msgport %d.%d.%d demo: workers, SharedArrayBuffer + Atomics, ports, transfer, structured clone\n",
           MSGPORT_VERSION_MAJOR, MSGPORT_VERSION_MINOR, MSGPORT_VERSION_PATCH);
    double start = ex_now_ms();
    int failures = 0;
    const char *first_failure = NULL;
    for (int i = 0; i < PART_COUNT; i++) {
        double t0 = ex_now_ms();
        /* Flushed before each part so a crash still shows how far it got. */
        fflush(stdout);
        bool passed = parts[i].run() == 0;
        printf("  -> %s: %s in %.0f ms\n", parts[i].name, passed ? "passed" : "FAILED", ex_now_ms() - t0);
        if (!passed && failures++ == 0) first_failure = parts[i].name;
    }
    double seconds = (ex_now_ms() - start) / 1e3;
    if (failures == 0)
        printf("\ndemo: PASS, all %d parts checked out in %.2f s\n", PART_COUNT, seconds);
    else
        printf("\ndemo: FAIL, %d of %d parts failed (first: %s) in %.2f s\n", failures, PART_COUNT, first_failure,
               seconds);
    return failures == 0 ? 0 : 1;
}
