/* SPDX-License-Identifier: MIT */
/* util/: the formatted-text helper, the fixed-buffer text builder and the fd-table growth helper. */
#include "support/test.h"
#include "util/array.h"
#include "util/format.h"
#include "util/strbuf.h"
#include "wschat/error.h"

#include <stdlib.h>

static char *fmt(char *small, size_t cap, size_t *len, int *err, const char *f, ...)
{
    va_list ap;
    va_start(ap, f);
    char *r = ws__vformat(small, cap, len, err, f, ap);
    va_end(ap);
    return r;
}

static void test_vformat(void **state)
{
    (void)state;
    char small[8];
    size_t n;
    int err = 0;
    char *r = fmt(small, sizeof small, &n, &err, "%s-%d", "ab", 12);
    assert_ptr_equal(r, small); /* fits: no allocation */
    assert_string_equal(r, "ab-12");
    assert_int_equal(n, 5);
    r = fmt(small, sizeof small, &n, &err, "%s", "exactly8"); /* 8 chars + NUL do not fit */
    assert_ptr_not_equal(r, small);
    assert_string_equal(r, "exactly8");
    assert_int_equal(n, 8);
    free(r);
    char big[600];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    r = fmt(small, sizeof small, &n, &err, "[%s]", big);
    assert_int_equal(n, 601);
    assert_int_equal(r[0], '[');
    assert_int_equal(r[600], ']');
    assert_int_equal(r[601], 0);
    free(r);
}

/* Exactly what fits, one byte kept for the NUL, and an overflow reported
 * with what fitted left terminated. */
static void test_strbuf(void **state)
{
    (void)state;
    char out[12];
    ws__strbuf b = ws__strbuf_on(out, sizeof out);
    ws__strbuf_put(&b, "ab:");
    ws__strbuf_uint(&b, 0);
    ws__strbuf_put(&b, ",");
    ws__strbuf_uint(&b, 65535);
    assert_int_equal(ws__strbuf_end(&b), 10);
    assert_string_equal(out, "ab:0,65535");
    ws__strbuf_put(&b, "x");
    assert_int_equal(ws__strbuf_end(&b), 11); /* 11 bytes and the NUL: full */
    ws__strbuf_put(&b, "y");
    assert_int_equal(ws__strbuf_end(&b), -1);
    assert_string_equal(out, "ab:0,65535x");
    b = ws__strbuf_on(out, 4);
    ws__strbuf_uint(&b, 12345);
    assert_int_equal(ws__strbuf_end(&b), -1);
    assert_string_equal(out, "");
    ws__str_copy(out, 4, "abcdef");
    assert_string_equal(out, "abc");
    ws__str_copy(out, sizeof out, "abc");
    assert_string_equal(out, "abc");
    b = ws__strbuf_on(NULL, 0);
    ws__strbuf_put(&b, "");
    assert_int_equal(ws__strbuf_end(&b), -1);
}

static void test_grow_zeroed(void **state)
{
    (void)state;
    int *a = NULL, cap = 0;
    assert_non_null(a = ws__grow_zeroed(a, &cap, 0, sizeof *a));
    assert_int_equal(cap, 64);
    a[63] = 7;
    int *same = a;
    assert_ptr_equal(a = ws__grow_zeroed(a, &cap, 63, sizeof *a), same);
    assert_int_equal(cap, 64); /* already big enough: unchanged */
    assert_non_null(a = ws__grow_zeroed(a, &cap, 1000, sizeof *a));
    assert_true(cap > 1000);
    assert_int_equal(a[63], 7); /* kept */
    for (int i = 64; i < cap; i++)
        assert_int_equal(a[i], 0); /* new elements zeroed */
    /* Slack is bounded by an eighth (doubling would leave 131072 here):
     * every zeroed element is resident memory. */
    assert_non_null(a = ws__grow_zeroed(a, &cap, 100000, sizeof *a));
    assert_true(cap > 100000 && cap <= 100000 + 100000 / 8 + 64);
    assert_int_equal(a[63], 7);
    assert_int_equal(a[100000], 0);
    free(a);
}

/* Append-one-at-a-time lists: first size, then doubling; an impossible
 * size fails cleanly, leaving the array and its capacity as they were. */
static void test_grow_doubling(void **state)
{
    (void)state;
    size_t cap = 0;
    int *a = NULL;
    assert_non_null(a = ws__grow_doubling(a, &cap, sizeof *a, 4));
    assert_int_equal(cap, 4);
    a[3] = 7;
    assert_non_null(a = ws__grow_doubling(a, &cap, sizeof *a, 4));
    assert_int_equal(cap, 8);
    assert_int_equal(a[3], 7);
    size_t huge = SIZE_MAX / 2 + 1;
    assert_null(ws__grow_doubling(a, &huge, sizeof *a, 4));
    assert_int_equal(huge, SIZE_MAX / 2 + 1);
    free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vformat),
        cmocka_unit_test(test_strbuf),
        cmocka_unit_test(test_grow_zeroed),
        cmocka_unit_test(test_grow_doubling),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
