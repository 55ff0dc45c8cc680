/* Shared test support: the CUnit runner and a counting allocator. */
#ifndef MSGPORT_TESTUTIL_H
#define MSGPORT_TESTUTIL_H

#include <CUnit/Basic.h>

#include "msgport.h"

typedef struct mpt_test {
    const char *name;
    void (*fn)(void);
} mpt_test;

/* Registers one suite with the given NULL-terminated tests, runs every
 * registered suite in verbose mode (CUnit's Run Summary is printed) and
 * returns the process exit code: non-zero if any assertion failed. */
int mpt_run(const char *suite, const mpt_test *tests);

/* An allocator that counts live bytes and can fail the Nth allocation
 * (fail_at = 0: never). Thread-safe. A realloc counts as its new size
 * unless realloc_moves is set: then it allocates the new block, copies and
 * frees the old one, so peak_bytes sees both blocks at once, as it is
 * when a real realloc moves (for tests that bound peak memory). */
typedef struct mpt_alloc {
    mp_allocator alc;     /* pass &x.alc to msgport */
    _Atomic long long live_bytes;
    _Atomic long long peak_bytes;
    _Atomic long long allocations;
    _Atomic long long fail_at;
    _Atomic int realloc_moves;
} mpt_alloc;
void mpt_alloc_init(mpt_alloc *a);

/* Convenience: a UTF-8 string value, asserting success. */
mp_value mpt_str(mp_realm *r, const char *s);

#endif
