/* SharedArrayBuffer: fixed and growable, handles in several realms, use
 * from two threads, lifetime across realms. */
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <string.h>

#include "internal.h"
#include "testutil.h"

static mp_realm *
new_realm(mpt_alloc *a)
{
    mp_realm *r = NULL;
    CU_ASSERT_EQUAL_FATAL(mp_realm_new(a ? &a->alc : NULL, &r), MP_OK);
    return r;
}

static void
test_fixed(void)
{
    mp_realm *r = new_realm(NULL);
    mp_value sab;
    CU_ASSERT_EQUAL_FATAL(mp_sab_new(r, 24, &sab), MP_OK);
    CU_ASSERT_EQUAL(mp_kind_of(sab), MP_SHAREDARRAYBUFFER);
    CU_ASSERT_EQUAL(mp_sab_byte_length(sab), 24);
    CU_ASSERT_EQUAL(mp_sab_max_byte_length(sab), 24);
    CU_ASSERT_FALSE(mp_sab_is_growable(sab));
    uint8_t *d;
    size_t len;
    CU_ASSERT_EQUAL(mp_sab_data(sab, (void **)&d, &len), MP_OK);
    CU_ASSERT_EQUAL(len, 24);
    for (size_t i = 0; i < len; i++)
        CU_ASSERT_EQUAL(d[i], 0);
    CU_ASSERT_EQUAL(mp_sab_grow(sab, 24), MP_ETYPE);
    CU_ASSERT_EQUAL(mp_sab_grow(sab, 32), MP_ETYPE);
    CU_ASSERT_EQUAL(mp_sab_byte_length(sab), 24);
    /* An ArrayBuffer is not a SharedArrayBuffer. */
    mp_value ab, out;
    CU_ASSERT_EQUAL(mp_arraybuffer_new(r, 4, &ab), MP_OK);
    CU_ASSERT_EQUAL(mp_sab_data(ab, (void **)&d, &len), MP_ETYPE);
    CU_ASSERT_EQUAL(mp_sab_share(ab, r, &out), MP_ETYPE);
    CU_ASSERT_EQUAL(mp_sab_byte_length(ab), 0);
    CU_ASSERT_FALSE(mp_sab_same_store(ab, ab));
    CU_ASSERT_EQUAL(mp_arraybuffer_byte_length(sab), 0);
    CU_ASSERT_EQUAL(mp_arraybuffer_detach(sab), MP_ETYPE);
    mp_realm_free(r);
}

static void
test_growable(void)
{
    mp_realm *r = new_realm(NULL);
    mp_value sab;
    CU_ASSERT_EQUAL(mp_sab_new_growable(r, 10, 5, &sab), MP_ERANGE);
    CU_ASSERT_EQUAL_FATAL(mp_sab_new_growable(r, 8, 64, &sab), MP_OK);
    CU_ASSERT_TRUE(mp_sab_is_growable(sab));
    CU_ASSERT_EQUAL(mp_sab_byte_length(sab), 8);
    CU_ASSERT_EQUAL(mp_sab_max_byte_length(sab), 64);
    uint8_t *d0, *d1;
    size_t len;
    CU_ASSERT_EQUAL(mp_sab_data(sab, (void **)&d0, &len), MP_OK);
    memset(d0, 0x5A, len);
    CU_ASSERT_EQUAL(mp_sab_grow(sab, 32), MP_OK);
    CU_ASSERT_EQUAL(mp_sab_data(sab, (void **)&d1, &len), MP_OK);
    CU_ASSERT_PTR_EQUAL(d0, d1);
    CU_ASSERT_EQUAL(len, 32);
    CU_ASSERT_EQUAL(d1[7], 0x5A);
    for (size_t i = 8; i < 32; i++)
        CU_ASSERT_EQUAL(d1[i], 0);
    CU_ASSERT_EQUAL(mp_sab_grow(sab, 32), MP_OK);     /* same length: fine */
    CU_ASSERT_EQUAL(mp_sab_grow(sab, 16), MP_ERANGE); /* never shrinks */
    CU_ASSERT_EQUAL(mp_sab_grow(sab, 65), MP_ERANGE);
    CU_ASSERT_EQUAL(mp_sab_byte_length(sab), 32);
    CU_ASSERT_EQUAL(mp_sab_grow(sab, 64), MP_OK);
    CU_ASSERT_EQUAL(mp_sab_byte_length(sab), 64);
    mp_realm_free(r);
}

static void
test_share_into_second_realm(void)
{
    mp_realm *ra = new_realm(NULL), *rb = new_realm(NULL);
    mp_value a, b, other;
    CU_ASSERT_EQUAL_FATAL(mp_sab_new_growable(ra, 8, 32, &a), MP_OK);
    CU_ASSERT_EQUAL_FATAL(mp_sab_share(a, rb, &b), MP_OK);
    CU_ASSERT_PTR_EQUAL(mp_value_realm(b), rb);
    CU_ASSERT_TRUE(mp_sab_same_store(a, b));
    CU_ASSERT_TRUE(mp_sab_is_growable(b));
    CU_ASSERT_EQUAL(mp_sab_max_byte_length(b), 32);
    CU_ASSERT_EQUAL(mp_sab_new(ra, 8, &other), MP_OK);
    CU_ASSERT_FALSE(mp_sab_same_store(a, other));
    CU_ASSERT_EQUAL(atomic_load(&((mpi_sab *)a.u_.cell_)->store->refs), 2);

    mp_value va, vb, out;
    CU_ASSERT_EQUAL_FATAL(mp_typedarray_new(MP_INT32, a, 0, MP_LENGTH_AUTO, &va), MP_OK);
    CU_ASSERT_EQUAL_FATAL(mp_typedarray_new(MP_INT32, b, 0, MP_LENGTH_AUTO, &vb), MP_OK);
    CU_ASSERT_PTR_EQUAL(mp_value_realm(vb), rb);
    CU_ASSERT_EQUAL(mp_view_set(va, 1, mp_number(-42)), MP_OK);
    CU_ASSERT_EQUAL(mp_view_get(vb, 1, &out), MP_OK);
    CU_ASSERT_EQUAL(mp_number_value(out), -42);
    /* Growth through one handle is seen through the other. */
    CU_ASSERT_EQUAL(mp_sab_grow(b, 24), MP_OK);
    CU_ASSERT_EQUAL(mp_sab_byte_length(a), 24);
    CU_ASSERT_EQUAL(mp_view_length(va), 6);
    mp_realm_free(ra);
    mp_realm_free(rb);
}

static void
test_freed_with_last_handle(void)
{
    mpt_alloc aa, ab;
    mpt_alloc_init(&aa);
    mpt_alloc_init(&ab);
    mp_realm *ra = new_realm(&aa), *rb = new_realm(&ab), *rc = new_realm(&ab);
    const size_t n = 1 << 20;
    mp_value a, b, c;
    CU_ASSERT_EQUAL_FATAL(mp_sab_new(ra, n, &a), MP_OK);
    CU_ASSERT_EQUAL_FATAL(mp_sab_share(a, rb, &b), MP_OK);
    CU_ASSERT_EQUAL_FATAL(mp_sab_share(b, rc, &c), MP_OK);
    CU_ASSERT(atomic_load(&aa.live_bytes) >= (long long)n);
    CU_ASSERT(atomic_load(&ab.live_bytes) < (long long)n); /* the store is A's */

    /* The realm that made it goes first: the store lives on, freed later
     * through the allocator it copied. */
    mp_realm_free(ra);
    CU_ASSERT(atomic_load(&aa.live_bytes) >= (long long)n);
    mp_value vb, out;
    CU_ASSERT_EQUAL_FATAL(mp_typedarray_new(MP_UINT8, b, 0, MP_LENGTH_AUTO, &vb), MP_OK);
    CU_ASSERT_EQUAL(mp_view_set(vb, n - 1, mp_number(9)), MP_OK);
    CU_ASSERT_EQUAL(mp_view_get(vb, n - 1, &out), MP_OK);
    CU_ASSERT_EQUAL(mp_number_value(out), 9);
    mp_realm_free(rb);
    CU_ASSERT(atomic_load(&aa.live_bytes) >= (long long)n);
    mp_realm_free(rc);
    CU_ASSERT_EQUAL(atomic_load(&aa.live_bytes), 0);
    CU_ASSERT_EQUAL(atomic_load(&ab.live_bytes), 0);

    /* Collecting an unreachable handle drops its reference too. */
    mpt_alloc_init(&aa);
    ra = new_realm(&aa);
    rb = new_realm(NULL);
    CU_ASSERT_EQUAL_FATAL(mp_sab_new(ra, n, &a), MP_OK);
    CU_ASSERT_EQUAL_FATAL(mp_sab_share(a, rb, &b), MP_OK);
    mp_realm_collect(rb, NULL, 0);
    CU_ASSERT_EQUAL(atomic_load(&((mpi_sab *)a.u_.cell_)->store->refs), 1);
    mp_realm_collect(ra, NULL, 0);
    CU_ASSERT(atomic_load(&aa.live_bytes) < (long long)n);
    mp_realm_free(ra);
    mp_realm_free(rb);
    CU_ASSERT_EQUAL(atomic_load(&aa.live_bytes), 0);
}

static void
test_share_failure_keeps_count(void)
{
    mpt_alloc aa, ab;
    mpt_alloc_init(&aa);
    mpt_alloc_init(&ab);
    mp_realm *ra = new_realm(&aa), *rb = new_realm(&ab);
    mp_value a, b = mp_undefined();
    CU_ASSERT_EQUAL_FATAL(mp_sab_new(ra, 64, &a), MP_OK);
    atomic_store(&ab.fail_at, atomic_load(&ab.allocations) + 1);
    CU_ASSERT_EQUAL(mp_sab_share(a, rb, &b), MP_ENOMEM);
    CU_ASSERT_EQUAL(mp_kind_of(b), MP_UNDEFINED);
    CU_ASSERT_EQUAL(atomic_load(&((mpi_sab *)a.u_.cell_)->store->refs), 1);
    mp_realm_free(ra);
    CU_ASSERT_EQUAL(atomic_load(&aa.live_bytes), 0);
    mp_realm_free(rb);
}

/* Two threads, each with its own realm and its own handle, shared before
 * the threads start. The writer fills the elements and then raises a flag
 * with Atomics.store; the reader waits for the flag with Atomics.load and
 * must then see every element. */
enum { N_ELEMS = 4096 };

typedef struct thread_arg {
    mp_realm *realm;
    mp_value sab;
    int errors;
    bool is_writer;
} thread_arg;

static void *
sab_thread(void *p)
{
    thread_arg *t = p;
    mp_value data, flag, out;
    if (mp_typedarray_new(MP_INT32, t->sab, 4, N_ELEMS, &data) != MP_OK) t->errors++;
    if (mp_typedarray_new(MP_INT32, t->sab, 0, 1, &flag) != MP_OK) t->errors++;
    if (t->errors) return NULL;
    if (t->is_writer) {
        for (int i = 0; i < N_ELEMS; i++)
            if (mp_view_set(data, (size_t)i, mp_number(i * 3 - 1000)) != MP_OK) t->errors++;
        if (mp_atomics_store(flag, 0, mp_number(1), &out) != MP_OK) t->errors++;
    } else {
        for (;;) {
            if (mp_atomics_load(flag, 0, &out) != MP_OK) {
                t->errors++;
                return NULL;
            }
            if (mp_number_value(out) == 1) break;
            sched_yield();
        }
        for (int i = 0; i < N_ELEMS; i++) {
            if (mp_view_get(data, (size_t)i, &out) != MP_OK || mp_number_value(out) != i * 3 - 1000) t->errors++;
        }
    }
    return NULL;
}

static void
test_two_threads(void)
{
    mpt_alloc a;
    mpt_alloc_init(&a);
    mp_realm *rm = new_realm(&a), *rw = new_realm(&a), *rr = new_realm(&a);
    mp_value sab;
    CU_ASSERT_EQUAL_FATAL(mp_sab_new(rm, 4 + 4 * N_ELEMS, &sab), MP_OK);
    thread_arg w = {rw, mp_undefined(), 0, true}, rd = {rr, mp_undefined(), 0, false};
    CU_ASSERT_EQUAL_FATAL(mp_sab_share(sab, rw, &w.sab), MP_OK);
    CU_ASSERT_EQUAL_FATAL(mp_sab_share(sab, rr, &rd.sab), MP_OK);
    /* The main realm's handle is gone before the threads finish. */
    mp_realm_free(rm);
    pthread_t tw, tr;
    CU_ASSERT_EQUAL_FATAL(pthread_create(&tr, NULL, sab_thread, &rd), 0);
    CU_ASSERT_EQUAL_FATAL(pthread_create(&tw, NULL, sab_thread, &w), 0);
    pthread_join(tw, NULL);
    pthread_join(tr, NULL);
    CU_ASSERT_EQUAL(w.errors, 0);
    CU_ASSERT_EQUAL(rd.errors, 0);
    /* And the bytes are really there, in host order. */
    int32_t *d;
    size_t len;
    CU_ASSERT_EQUAL(mp_sab_data(rd.sab, (void **)&d, &len), MP_OK);
    CU_ASSERT_EQUAL(len, 4 + 4 * N_ELEMS);
    CU_ASSERT_EQUAL(d[0], 1);
    CU_ASSERT_EQUAL(d[1], -1000);
    CU_ASSERT_EQUAL(d[N_ELEMS], (N_ELEMS - 1) * 3 - 1000);
    mp_realm_free(rw);
    mp_realm_free(rr);
    CU_ASSERT_EQUAL(atomic_load(&a.live_bytes), 0);
}

/* Concurrent growth: every grow succeeds or fails cleanly and the length
 * ends at the largest request. */
typedef struct grow_arg {
    mp_realm *realm;
    mp_value sab;
    size_t base;
    int bad;
} grow_arg;

static void *
grow_thread(void *p)
{
    grow_arg *g = p;
    for (size_t k = 0; k < 1000; k++) {
        size_t want = g->base + k * 2;
        mp_status st = mp_sab_grow(g->sab, want);
        size_t now = mp_sab_byte_length(g->sab);
        if ((st != MP_OK && st != MP_ERANGE) || now < want) g->bad++;
    }
    return NULL;
}

static void
test_concurrent_grow(void)
{
    mp_realm *rm = new_realm(NULL), *r1 = new_realm(NULL), *r2 = new_realm(NULL);
    mp_value sab;
    CU_ASSERT_EQUAL_FATAL(mp_sab_new_growable(rm, 0, 4096, &sab), MP_OK);
    grow_arg g1 = {r1, mp_undefined(), 0, 0}, g2 = {r2, mp_undefined(), 1, 0};
    CU_ASSERT_EQUAL_FATAL(mp_sab_share(sab, r1, &g1.sab), MP_OK);
    CU_ASSERT_EQUAL_FATAL(mp_sab_share(sab, r2, &g2.sab), MP_OK);
    pthread_t t1, t2;
    CU_ASSERT_EQUAL_FATAL(pthread_create(&t1, NULL, grow_thread, &g1), 0);
    CU_ASSERT_EQUAL_FATAL(pthread_create(&t2, NULL, grow_thread, &g2), 0);
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    CU_ASSERT_EQUAL(g1.bad, 0);
    CU_ASSERT_EQUAL(g2.bad, 0);
    CU_ASSERT_EQUAL(mp_sab_byte_length(sab), 1 + 999 * 2);
    mp_realm_free(r1);
    mp_realm_free(r2);
    mp_realm_free(rm);
}

int
main(void)
{
    static const mpt_test tests[] = {
        {"fixed", test_fixed},
        {"growable", test_growable},
        {"share into a second realm", test_share_into_second_realm},
        {"store freed with the last handle", test_freed_with_last_handle},
        {"failed share keeps the count", test_share_failure_keeps_count},
        {"written by one thread, read by another", test_two_threads},
        {"concurrent grow", test_concurrent_grow},
        {NULL, NULL},
    };
    return mpt_run("sab", tests);
}
