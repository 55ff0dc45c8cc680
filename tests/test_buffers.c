/* ArrayBuffer and backing stores: creation, resizing, external memory,
 * detach (and what every view then reports), huge-page alignment. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buffer/buffer_internal.h"
#include "internal.h"
#include "testutil.h"

static mp_realm *
new_realm(mpt_alloc *a)
{
    mp_realm *r = NULL;
    CU_ASSERT_EQUAL_FATAL(mp_realm_new(a ? &a->alc : NULL, &r), MP_OK);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    return r;
}

static bool
all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i]) return false;
    return true;
}

static void
test_new_zero_filled(void)
{
    mpt_alloc a;
    mpt_alloc_init(&a);
    mp_realm *r = new_realm(&a);
    mp_value ab;
    CU_ASSERT_EQUAL_FATAL(mp_arraybuffer_new(r, 100, &ab), MP_OK);
    CU_ASSERT_EQUAL(mp_kind_of(ab), MP_ARRAYBUFFER);
    CU_ASSERT_EQUAL(mp_arraybuffer_byte_length(ab), 100);
    CU_ASSERT_EQUAL(mp_arraybuffer_max_byte_length(ab), 100);
    CU_ASSERT_FALSE(mp_arraybuffer_is_resizable(ab));
    CU_ASSERT_FALSE(mp_arraybuffer_is_detached(ab));
    CU_ASSERT_TRUE(mp_arraybuffer_is_detachable(ab));
    void *data = NULL;
    size_t len = 0;
    CU_ASSERT_EQUAL(mp_arraybuffer_data(ab, &data, &len), MP_OK);
    CU_ASSERT_PTR_NOT_NULL_FATAL(data);
    CU_ASSERT_EQUAL(len, 100);
    CU_ASSERT_TRUE(all_zero(data, len));
    /* The bytes come from the realm's allocator (a store outside the realm's count). */
    CU_ASSERT(atomic_load(&a.live_bytes) >= 100);
    CU_ASSERT(mp_realm_get_stats(r).bytes < 100);

    mp_value empty;
    CU_ASSERT_EQUAL(mp_arraybuffer_new(r, 0, &empty), MP_OK);
    CU_ASSERT_EQUAL(mp_arraybuffer_byte_length(empty), 0);
    CU_ASSERT_EQUAL(mp_arraybuffer_data(empty, &data, &len), MP_OK);
    CU_ASSERT_EQUAL(len, 0);

    /* Wrong kinds. */
    CU_ASSERT_EQUAL(mp_arraybuffer_byte_length(mp_number(3)), 0);
    CU_ASSERT_EQUAL(mp_arraybuffer_data(mp_number(3), &data, &len), MP_ETYPE);
    CU_ASSERT_EQUAL(mp_arraybuffer_detach(mp_null()), MP_ETYPE);
    CU_ASSERT_EQUAL(mp_arraybuffer_new(NULL, 4, &ab), MP_EINVAL);
    mp_realm_free(r);
    CU_ASSERT_EQUAL(atomic_load(&a.live_bytes), 0);
}

static void
test_allocation_failure_changes_nothing(void)
{
    mpt_alloc a;
    mpt_alloc_init(&a);
    mp_realm *r = new_realm(&a);
    long long base = atomic_load(&a.allocations);
    bool succeeded = false;
    for (long long k = 1; k <= 5 && !succeeded; k++) {
        atomic_store(&a.fail_at, atomic_load(&a.allocations) + k);
        mp_value out = mp_number(42);
        mp_status st = mp_arraybuffer_new_resizable(r, 16, 64, &out);
        if (st == MP_OK) {
            succeeded = true;
            CU_ASSERT_EQUAL(mp_arraybuffer_byte_length(out), 16);
        } else {
            CU_ASSERT_EQUAL(st, MP_ENOMEM);
            CU_ASSERT_EQUAL(mp_kind_of(out), MP_NUMBER); /* out not written */
            CU_ASSERT_EQUAL(mp_realm_get_stats(r).values, 0);
        }
    }
    CU_ASSERT_TRUE(succeeded);
    CU_ASSERT(atomic_load(&a.allocations) > base + 2);
    atomic_store(&a.fail_at, 0);
    mp_realm_free(r);
    CU_ASSERT_EQUAL(atomic_load(&a.live_bytes), 0);
}

static void
test_resizable(void)
{
    mp_realm *r = new_realm(NULL);
    mp_value ab;
    CU_ASSERT_EQUAL(mp_arraybuffer_new_resizable(r, 10, 5, &ab), MP_ERANGE);
    CU_ASSERT_EQUAL_FATAL(mp_arraybuffer_new_resizable(r, 8, 64, &ab), MP_OK);
    CU_ASSERT_TRUE(mp_arraybuffer_is_resizable(ab));
    CU_ASSERT_EQUAL(mp_arraybuffer_byte_length(ab), 8);
    CU_ASSERT_EQUAL(mp_arraybuffer_max_byte_length(ab), 64);
    uint8_t *p0;
    size_t len;
    CU_ASSERT_EQUAL(mp_arraybuffer_data(ab, (void **)&p0, &len), MP_OK);
    CU_ASSERT_EQUAL(len, 8);
    memset(p0, 0xAB, 8);

    CU_ASSERT_EQUAL(mp_arraybuffer_resize(ab, 32), MP_OK);
    uint8_t *p1;
    CU_ASSERT_EQUAL(mp_arraybuffer_data(ab, (void **)&p1, &len), MP_OK);
    CU_ASSERT_PTR_EQUAL(p1, p0); /* the max was reserved: no move */
    CU_ASSERT_EQUAL(len, 32);
    CU_ASSERT_EQUAL(p1[7], 0xAB);
    CU_ASSERT_TRUE(all_zero(p1 + 8, 24));

    /* Shrink, dirty nothing, grow: the regrown bytes are zero again. */
    memset(p1, 0xCD, 32);
    CU_ASSERT_EQUAL(mp_arraybuffer_resize(ab, 4), MP_OK);
    CU_ASSERT_EQUAL(mp_arraybuffer_byte_length(ab), 4);
    CU_ASSERT_EQUAL(mp_arraybuffer_resize(ab, 16), MP_OK);
    CU_ASSERT_EQUAL(p1[3], 0xCD);
    CU_ASSERT_TRUE(all_zero(p1 + 4, 12));

    CU_ASSERT_EQUAL(mp_arraybuffer_resize(ab, 65), MP_ERANGE);
    CU_ASSERT_EQUAL(mp_arraybuffer_byte_length(ab), 16);
    CU_ASSERT_EQUAL(mp_arraybuffer_resize(ab, 64), MP_OK);
    CU_ASSERT_EQUAL(mp_arraybuffer_byte_length(ab), 64);
    CU_ASSERT_EQUAL(mp_arraybuffer_resize(ab, 0), MP_OK);
    CU_ASSERT_EQUAL(mp_arraybuffer_byte_length(ab), 0);

    mp_value fixed;
    CU_ASSERT_EQUAL(mp_arraybuffer_new(r, 8, &fixed), MP_OK);
    CU_ASSERT_EQUAL(mp_arraybuffer_resize(fixed, 4), MP_ETYPE);
    CU_ASSERT_EQUAL(mp_arraybuffer_byte_length(fixed), 8);

    CU_ASSERT_EQUAL(mp_arraybuffer_detach(ab), MP_OK);
    CU_ASSERT_EQUAL(mp_arraybuffer_resize(ab, 4), MP_EDETACHED);
    mp_realm_free(r);
}

typedef struct deleter_log {
    int calls;
    void *data;
    size_t len;
    void *ctx;
} deleter_log;

static void
log_deleter(void *data, size_t len, void *ctx)
{
    deleter_log *log = ctx;
    log->calls++;
    log->data = data;
    log->len = len;
    log->ctx = ctx;
    free(data);
}

static void
test_external(void)
{
    mp_realm *r = new_realm(NULL);

    /* Freed with the realm: deleter once. */
    deleter_log log1 = {0, NULL, 0, NULL};
    uint8_t *mem1 = malloc(24);
    CU_ASSERT_PTR_NOT_NULL_FATAL(mem1);
    memset(mem1, 7, 24);
    mp_value ab1;
    CU_ASSERT_EQUAL_FATAL(mp_arraybuffer_new_external(r, mem1, 24, log_deleter, &log1, &ab1), MP_OK);
    void *d;
    size_t len;
    CU_ASSERT_EQUAL(mp_arraybuffer_data(ab1, &d, &len), MP_OK);
    CU_ASSERT_PTR_EQUAL(d, mem1);
    CU_ASSERT_EQUAL(len, 24);
    CU_ASSERT_EQUAL(mp_arraybuffer_byte_length(ab1), 24);
    CU_ASSERT_EQUAL(log1.calls, 0);

    /* Detached: deleter at the detach, never again. */
    deleter_log log2 = {0, NULL, 0, NULL};
    uint8_t *mem2 = malloc(8);
    CU_ASSERT_PTR_NOT_NULL_FATAL(mem2);
    mp_value ab2;
    CU_ASSERT_EQUAL_FATAL(mp_arraybuffer_new_external(r, mem2, 8, log_deleter, &log2, &ab2), MP_OK);
    CU_ASSERT_EQUAL(mp_arraybuffer_detach(ab2), MP_OK);
    CU_ASSERT_EQUAL(log2.calls, 1);
    CU_ASSERT_PTR_EQUAL(log2.data, mem2);
    CU_ASSERT_EQUAL(log2.len, 8);
    CU_ASSERT_PTR_EQUAL(log2.ctx, &log2);
    CU_ASSERT_EQUAL(mp_arraybuffer_detach(ab2), MP_OK);
    CU_ASSERT_EQUAL(log2.calls, 1);

    /* A NULL deleter: the memory stays the caller's. */
    uint8_t stack_mem[4] = {1, 2, 3, 4};
    mp_value ab3;
    CU_ASSERT_EQUAL(mp_arraybuffer_new_external(r, stack_mem, 4, NULL, NULL, &ab3), MP_OK);
    CU_ASSERT_EQUAL(mp_arraybuffer_new_external(r, NULL, 4, NULL, NULL, &ab3), MP_EINVAL);

    mp_realm_free(r);
    CU_ASSERT_EQUAL(log1.calls, 1);
    CU_ASSERT_PTR_EQUAL(log1.data, mem1);
    CU_ASSERT_EQUAL(log1.len, 24);
    CU_ASSERT_EQUAL(log2.calls, 1);
}

static void
test_external_failure_keeps_ownership(void)
{
    mpt_alloc a;
    mpt_alloc_init(&a);
    mp_realm *r = new_realm(&a);
    deleter_log log = {0, NULL, 0, NULL};
    uint8_t *mem = malloc(16);
    CU_ASSERT_PTR_NOT_NULL_FATAL(mem);
    int failures = 0;
    mp_value ab = mp_undefined();
    for (long long k = 1; k <= 4; k++) {
        atomic_store(&a.fail_at, atomic_load(&a.allocations) + k);
        mp_status st = mp_arraybuffer_new_external(r, mem, 16, log_deleter, &log, &ab);
        if (st == MP_OK) break;
        CU_ASSERT_EQUAL(st, MP_ENOMEM);
        CU_ASSERT_EQUAL(log.calls, 0); /* the caller still owns mem */
        CU_ASSERT_EQUAL(mp_kind_of(ab), MP_UNDEFINED);
        failures++;
    }
    atomic_store(&a.fail_at, 0);
    CU_ASSERT(failures >= 2); /* both the store and the cell allocation failed once */
    CU_ASSERT_EQUAL(mp_kind_of(ab), MP_ARRAYBUFFER);
    mp_realm_free(r);
    CU_ASSERT_EQUAL(log.calls, 1);
    CU_ASSERT_EQUAL(atomic_load(&a.live_bytes), 0);
}

static void
test_detach_and_views(void)
{
    mp_realm *r = new_realm(NULL);
    mp_value ab, rab;
    CU_ASSERT_EQUAL_FATAL(mp_arraybuffer_new(r, 32, &ab), MP_OK);
    CU_ASSERT_EQUAL_FATAL(mp_arraybuffer_new_resizable(r, 16, 32, &rab), MP_OK);
    mp_value u8, i32, dv, tracking;
    CU_ASSERT_EQUAL_FATAL(mp_typedarray_new(MP_UINT8, ab, 0, MP_LENGTH_AUTO, &u8), MP_OK);
    CU_ASSERT_EQUAL_FATAL(mp_typedarray_new(MP_INT32, ab, 8, 4, &i32), MP_OK);
    CU_ASSERT_EQUAL_FATAL(mp_dataview_new(ab, 4, 12, &dv), MP_OK);
    CU_ASSERT_EQUAL_FATAL(mp_typedarray_new(MP_UINT16, rab, 2, MP_LENGTH_AUTO, &tracking), MP_OK);
    CU_ASSERT_EQUAL(mp_view_set(i32, 1, mp_number(99)), MP_OK);
    CU_ASSERT_EQUAL(mp_view_length(i32), 4);
    CU_ASSERT_EQUAL(mp_view_byte_offset(i32), 8);
    CU_ASSERT_EQUAL(mp_view_length(tracking), 7);

    CU_ASSERT_EQUAL(mp_arraybuffer_detach(ab), MP_OK);
    CU_ASSERT_EQUAL(mp_arraybuffer_detach(rab), MP_OK);
    CU_ASSERT_TRUE(mp_arraybuffer_is_detached(ab));
    CU_ASSERT_EQUAL(mp_arraybuffer_byte_length(ab), 0);
    CU_ASSERT_EQUAL(mp_arraybuffer_max_byte_length(rab), 0);
    void *d = (void *)&ab;
    size_t len = 99;
    CU_ASSERT_EQUAL(mp_arraybuffer_data(ab, &d, &len), MP_OK);
    CU_ASSERT_PTR_NULL(d);
    CU_ASSERT_EQUAL(len, 0);

    mp_value views[] = {u8, i32, dv, tracking};
    for (size_t i = 0; i < sizeof views / sizeof views[0]; i++) {
        mp_value v = views[i];
        CU_ASSERT_EQUAL(mp_view_length(v), 0);
        CU_ASSERT_EQUAL(mp_view_byte_length(v), 0);
        CU_ASSERT_EQUAL(mp_view_byte_offset(v), 0);
        void *vd = NULL;
        size_t vlen = 0;
        CU_ASSERT_EQUAL(mp_view_data(v, &vd, &vlen), MP_EDETACHED);
        CU_ASSERT_PTR_NULL(mpi_view_bytes(v.u_.cell_, &vlen));
        CU_ASSERT_EQUAL(vlen, 0);
    }
    mp_value out = mp_number(-1);
    CU_ASSERT_EQUAL(mp_view_get(u8, 0, &out), MP_EDETACHED);
    CU_ASSERT_EQUAL(mp_view_get(i32, 1, &out), MP_EDETACHED);
    CU_ASSERT_EQUAL(mp_view_get(tracking, 0, &out), MP_EDETACHED);
    CU_ASSERT_EQUAL(mp_number_value(out), -1); /* not written */
    CU_ASSERT_EQUAL(mp_view_set(u8, 0, mp_number(1)), MP_EDETACHED);
    CU_ASSERT_EQUAL(mp_dataview_get(dv, MP_INT32, 0, true, &out), MP_EDETACHED);
    CU_ASSERT_EQUAL(mp_dataview_set(dv, MP_INT8, 0, mp_number(1), true), MP_EDETACHED);
    CU_ASSERT_EQUAL(mp_atomics_load(i32, 0, &out), MP_EDETACHED);
    CU_ASSERT_EQUAL(mp_atomics_store(i32, 0, mp_number(1), &out), MP_EDETACHED);
    mp_value nv;
    CU_ASSERT_EQUAL(mp_typedarray_new(MP_UINT8, ab, 0, 0, &nv), MP_EDETACHED);
    CU_ASSERT_EQUAL(mp_dataview_new(ab, 0, MP_LENGTH_AUTO, &nv), MP_EDETACHED);
    /* The view still names its buffer. */
    CU_ASSERT_TRUE(mp_same_value(mp_view_buffer(i32), ab));
    mp_realm_free(r);
}

static void
test_non_detachable(void)
{
    mp_realm *r = new_realm(NULL);
    mp_value ab, u8;
    CU_ASSERT_EQUAL_FATAL(mp_arraybuffer_new(r, 4, &ab), MP_OK);
    CU_ASSERT_EQUAL_FATAL(mp_typedarray_new(MP_UINT8, ab, 0, MP_LENGTH_AUTO, &u8), MP_OK);
    CU_ASSERT_EQUAL(mp_view_set(u8, 2, mp_number(77)), MP_OK);
    CU_ASSERT_EQUAL(mp_arraybuffer_set_detachable(ab, false), MP_OK);
    CU_ASSERT_FALSE(mp_arraybuffer_is_detachable(ab));
    CU_ASSERT_EQUAL(mp_arraybuffer_detach(ab), MP_ENOTDETACHABLE);
    CU_ASSERT_FALSE(mp_arraybuffer_is_detached(ab));
    CU_ASSERT_EQUAL(mp_arraybuffer_byte_length(ab), 4);
    mp_value out;
    CU_ASSERT_EQUAL(mp_view_get(u8, 2, &out), MP_OK);
    CU_ASSERT_EQUAL(mp_number_value(out), 77);
    CU_ASSERT_EQUAL(mp_arraybuffer_set_detachable(ab, true), MP_OK);
    CU_ASSERT_TRUE(mp_arraybuffer_is_detachable(ab));
    CU_ASSERT_EQUAL(mp_arraybuffer_detach(ab), MP_OK);
    CU_ASSERT_TRUE(mp_arraybuffer_is_detached(ab));
    CU_ASSERT_EQUAL(mp_arraybuffer_set_detachable(mp_number(1), false), MP_ETYPE);
    mp_realm_free(r);
}

static void
test_huge_store_alignment(void)
{
    mpt_alloc a;
    mpt_alloc_init(&a);
    mp_realm *r = new_realm(&a);
    size_t n = 3 * MPI_HUGE_THRESHOLD + 123;
    mp_value ab;
    CU_ASSERT_EQUAL_FATAL(mp_arraybuffer_new(r, n, &ab), MP_OK);
    uint8_t *d;
    size_t len;
    CU_ASSERT_EQUAL(mp_arraybuffer_data(ab, (void **)&d, &len), MP_OK);
    CU_ASSERT_EQUAL(len, n);
    CU_ASSERT_EQUAL((uintptr_t)d % MPI_HUGE_THRESHOLD, 0);
    CU_ASSERT_TRUE(all_zero(d, n));
    d[n - 1] = 1; /* the whole length is usable */
    mpi_store *s = ((mpi_arraybuffer *)ab.u_.cell_)->store;
    CU_ASSERT_TRUE((s->flags & MPI_STORE_HUGE) != 0);
    CU_ASSERT(atomic_load(&a.live_bytes) >= (long long)n);

    /* A resizable buffer with a huge max is aligned too, even when empty. */
    mp_value rab;
    CU_ASSERT_EQUAL_FATAL(mp_arraybuffer_new_resizable(r, 0, 2 * MPI_HUGE_THRESHOLD, &rab), MP_OK);
    s = ((mpi_arraybuffer *)rab.u_.cell_)->store;
    CU_ASSERT_EQUAL((uintptr_t)s->data % MPI_HUGE_THRESHOLD, 0);
    CU_ASSERT_EQUAL(mp_arraybuffer_resize(rab, 2 * MPI_HUGE_THRESHOLD), MP_OK);
    CU_ASSERT_TRUE(all_zero(s->data, 2 * MPI_HUGE_THRESHOLD));

    /* Below the threshold: no huge flag. */
    mp_value small;
    CU_ASSERT_EQUAL_FATAL(mp_arraybuffer_new(r, MPI_HUGE_THRESHOLD - 1, &small), MP_OK);
    s = ((mpi_arraybuffer *)small.u_.cell_)->store;
    CU_ASSERT_FALSE((s->flags & MPI_STORE_HUGE) != 0);
    mp_realm_free(r);
    CU_ASSERT_EQUAL(atomic_load(&a.live_bytes), 0);
}

static int store_deleter_calls;

static void
count_deleter(void *data, size_t len, void *ctx)
{
    (void)data;
    (void)len;
    (void)ctx;
    store_deleter_calls++;
}

static void
test_store_refcount(void)
{
    mpt_alloc a;
    mpt_alloc_init(&a);
    mpi_store *s = NULL;
    CU_ASSERT_EQUAL_FATAL(mpi_store_new(&a.alc, 64, 256, MPI_STORE_GROWABLE, false, &s), MP_OK);
    CU_ASSERT_EQUAL(atomic_load(&s->refs), 1);
    CU_ASSERT_EQUAL(atomic_load(&s->byte_length), 64);
    CU_ASSERT_EQUAL(s->max_byte_length, 256);
    /* Uninitialised on request, but the growth reserve is zero. */
    CU_ASSERT_TRUE(all_zero(s->data + 64, 192));
    mpi_store_ref(s);
    CU_ASSERT_EQUAL(atomic_load(&s->refs), 2);
    mpi_store_unref(s);
    CU_ASSERT(atomic_load(&a.live_bytes) >= 256);
    mpi_store_unref(s);
    CU_ASSERT_EQUAL(atomic_load(&a.live_bytes), 0);
    mpi_store_unref(NULL);

    CU_ASSERT_EQUAL(mpi_store_new(&a.alc, 65, 64, MPI_STORE_GROWABLE, true, &s), MP_ERANGE);

    static uint8_t mem[8];
    store_deleter_calls = 0;
    CU_ASSERT_EQUAL_FATAL(mpi_store_new_external(NULL, mem, 8, count_deleter, NULL, &s), MP_OK);
    CU_ASSERT_PTR_EQUAL(s->data, mem);
    CU_ASSERT_TRUE((s->flags & MPI_STORE_EXTERNAL) != 0);
    mpi_store_ref(s);
    mpi_store_unref(s);
    CU_ASSERT_EQUAL(store_deleter_calls, 0);
    mpi_store_unref(s);
    CU_ASSERT_EQUAL(store_deleter_calls, 1);
}

int
main(void)
{
    static const mpt_test tests[] = {
        {"new is zero-filled", test_new_zero_filled},
        {"allocation failure changes nothing", test_allocation_failure_changes_nothing},
        {"resizable", test_resizable},
        {"external deleter called once", test_external},
        {"external failure keeps ownership", test_external_failure_keeps_ownership},
        {"detach: buffer and views report 0 and refuse", test_detach_and_views},
        {"non-detachable", test_non_detachable},
        {"huge store 2 MiB aligned", test_huge_store_alignment},
        {"store refcount", test_store_refcount},
        {NULL, NULL},
    };
    return mpt_run("buffers", tests);
}
