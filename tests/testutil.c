#include "testutil.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

int
mpt_run(const char *suite_name, const mpt_test *tests)
{
    if (CU_initialize_registry() != CUE_SUCCESS) return 2;
    CU_pSuite suite = CU_add_suite(suite_name, NULL, NULL);
    if (!suite) {
        CU_cleanup_registry();
        return 2;
    }
    for (const mpt_test *t = tests; t->name; t++) {
        if (!CU_add_test(suite, t->name, t->fn)) {
            CU_cleanup_registry();
            return 2;
        }
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    /* CU_basic_run_tests reports success even when assertions fail. */
    unsigned failures = CU_get_number_of_failures();
    unsigned suites_failed = CU_get_number_of_suites_failed();
    unsigned tests_run = CU_get_number_of_tests_run();
    CU_cleanup_registry();
    if (tests_run == 0) return 3;
    return (failures || suites_failed) ? 1 : 0;
}

/* Each block carries its size in a 16-byte header. */
typedef struct {
    size_t size;
    size_t pad;
} hdr;

static int
should_fail(mpt_alloc *a)
{
    long long n = atomic_fetch_add(&a->allocations, 1) + 1;
    long long at = atomic_load(&a->fail_at);
    return at > 0 && n == at;
}

static void
account(mpt_alloc *a, long long delta)
{
    long long now = atomic_fetch_add(&a->live_bytes, delta) + delta;
    long long peak = atomic_load(&a->peak_bytes);
    while (now > peak && !atomic_compare_exchange_weak(&a->peak_bytes, &peak, now)) {
    }
}

static void *
t_malloc(void *ctx, size_t n)
{
    mpt_alloc *a = ctx;
    if (should_fail(a)) return NULL;
    hdr *h = malloc(sizeof(hdr) + n);
    if (!h) return NULL;
    h->size = n;
    account(a, (long long)n);
    return h + 1;
}

static void
t_free(void *ctx, void *p)
{
    if (!p) return;
    hdr *h = (hdr *)p - 1;
    account(ctx, -(long long)h->size);
    free(h);
}

static void *
t_realloc(void *ctx, void *p, size_t old_n, size_t n)
{
    mpt_alloc *a = ctx;
    (void)old_n;
    if (!p) return t_malloc(ctx, n);
    if (should_fail(a)) return NULL;
    hdr *h = (hdr *)p - 1;
    size_t before = h->size;
    if (atomic_load(&a->realloc_moves)) {
        hdr *moved = malloc(sizeof(hdr) + n);
        if (!moved) return NULL;
        moved->size = n;
        account(a, (long long)n);
        memcpy(moved + 1, p, before < n ? before : n);
        account(a, -(long long)before);
        free(h);
        return moved + 1;
    }
    hdr *nh = realloc(h, sizeof(hdr) + n);
    if (!nh) return NULL;
    nh->size = n;
    account(a, (long long)n - (long long)before);
    return nh + 1;
}

void
mpt_alloc_init(mpt_alloc *a)
{
    a->alc.ctx = a;
    a->alc.malloc = t_malloc;
    a->alc.realloc = t_realloc;
    a->alc.free = t_free;
    atomic_init(&a->live_bytes, 0);
    atomic_init(&a->peak_bytes, 0);
    atomic_init(&a->allocations, 0);
    atomic_init(&a->fail_at, 0);
    atomic_init(&a->realloc_moves, 0);
}

mp_value
mpt_str(mp_realm *r, const char *s)
{
    mp_value v = mp_undefined();
    mp_status st = mp_string_from_utf8(r, s, strlen(s), &v);
    CU_ASSERT_EQUAL_FATAL(st, MP_OK);
    return v;
}
