/* Status codes: every code has its own constant text, pinned here. */
#include <string.h>

#include "testutil.h"

static void
test_every_code_has_a_distinct_text(void)
{
    for (int i = 0; i < MP_STATUS_COUNT_; i++) {
        const char *t = mp_strerror((mp_status)i);
        CU_ASSERT_PTR_NOT_NULL_FATAL(t);
        CU_ASSERT(strlen(t) > 0);
        CU_ASSERT_STRING_NOT_EQUAL(t, "unknown status code");
        for (int j = 0; j < i; j++) CU_ASSERT_STRING_NOT_EQUAL(t, mp_strerror((mp_status)j));
    }
}

static void
test_pinned_texts(void)
{
    CU_ASSERT_EQUAL(MP_OK, 0);
    CU_ASSERT_STRING_EQUAL(mp_strerror(MP_OK), "success");
    CU_ASSERT_STRING_EQUAL(mp_strerror(MP_ENOMEM), "out of memory");
    CU_ASSERT_STRING_EQUAL(mp_strerror(MP_EDATACLONE), "value could not be cloned (DataCloneError)");
    CU_ASSERT_STRING_EQUAL(mp_strerror(MP_EDETACHED), "ArrayBuffer is detached");
    CU_ASSERT_STRING_EQUAL(mp_strerror(MP_ECLOSED), "port is closed");
}

static void
test_unknown_codes(void)
{
    CU_ASSERT_STRING_EQUAL(mp_strerror(MP_STATUS_COUNT_), "unknown status code");
    CU_ASSERT_STRING_EQUAL(mp_strerror((mp_status)-1), "unknown status code");
    CU_ASSERT_STRING_EQUAL(mp_strerror((mp_status)12345), "unknown status code");
}

int
main(void)
{
    static const mpt_test tests[] = {
        {"every code has a distinct text", test_every_code_has_a_distinct_text},
        {"pinned texts", test_pinned_texts},
        {"unknown codes", test_unknown_codes},
        {NULL, NULL},
    };
    return mpt_run("errors", tests);
}
