/* SPDX-License-Identifier: MIT */
#include "support/test.h"
#include "proto/utf8.h"

typedef struct vec {
    const char *name;
    const char *bytes;
    size_t len;
    int valid;
    long fail_at;   /* index of the first byte that must be refused, -1 = at end */
} vec;

#define V(name, s, valid, at) {name, s, sizeof(s) - 1, valid, at}

static const vec vectors[] = {
    V("empty", "", 1, 0),
    V("ascii", "Hello-µ@ßöäüàá-UTF-8!!", 1, 0),
    V("2-byte min U+0080", "\xC2\x80", 1, 0),
    V("2-byte max U+07FF", "\xDF\xBF", 1, 0),
    V("3-byte min U+0800", "\xE0\xA0\x80", 1, 0),
    V("3-byte U+D7FF", "\xED\x9F\xBF", 1, 0),
    V("3-byte U+E000", "\xEE\x80\x80", 1, 0),
    V("3-byte max U+FFFF", "\xEF\xBF\xBF", 1, 0),
    V("4-byte min U+10000", "\xF0\x90\x80\x80", 1, 0),
    V("4-byte max U+10FFFF", "\xF4\x8F\xBF\xBF", 1, 0),
    V("kosme", "\xCE\xBA\xE1\xBD\xB9\xCF\x83\xCE\xBC\xCE\xB5", 1, 0),
    V("overlong 2-byte C0", "\xC0\xAF", 0, 0),
    V("overlong 2-byte C1", "\xC1\xBF", 0, 0),
    V("overlong 3-byte", "\xE0\x80\xAF", 0, 1),
    V("overlong 4-byte", "\xF0\x80\x80\xAF", 0, 1),
    V("surrogate D800", "\xED\xA0\x80", 0, 1),
    V("surrogate DFFF", "\xED\xBF\xBF", 0, 1),
    V("above U+10FFFF", "\xF4\x90\x80\x80", 0, 1),
    V("F5 lead", "\xF5\x80\x80\x80", 0, 0),
    V("FE", "\xFE", 0, 0),
    V("FF", "\xFF", 0, 0),
    V("stray continuation", "a\x80", 0, 1),
    V("truncated 2-byte", "\xC2", 0, -1),
    V("truncated 3-byte", "\xE1\x80", 0, -1),
    V("truncated 4-byte", "\xF0\x90\x80", 0, -1),
    V("lead then ascii", "\xC2" "A", 0, 1),
    V("fail fast in text", "\xCE\xBA\xE1\xBD\xB9\xCF\x83\xCE\xBC\xCE\xB5\xED\xA0\x80" "edited", 0, 12),
};

static void test_vectors_whole(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(vectors); i++) {
        const vec *v = &vectors[i];
        int got = ws__utf8_valid((const uint8_t *)v->bytes, v->len);
        if (got != v->valid)
            fail_msg("vector '%s': expected %d", v->name, v->valid);
    }
}

/* Byte at a time: the validator must refuse exactly at the first bad byte. */
static void test_vectors_fail_fast(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(vectors); i++) {
        const vec *v = &vectors[i];
        ws__utf8_state st = 0;
        long failed = -2;
        for (size_t k = 0; k < v->len; k++) {
            if (ws__utf8_feed(&st, (const uint8_t *)v->bytes + k, 1) < 0) {
                failed = (long)k;
                break;
            }
        }
        if (v->valid) {
            assert_int_equal(failed, -2);
            assert_true(ws__utf8_complete(st));
        } else if (v->fail_at >= 0) {
            if (failed != v->fail_at)
                fail_msg("vector '%s': failed at %ld, expected %ld", v->name, failed, v->fail_at);
        } else {
            assert_int_equal(failed, -2);
            assert_false(ws__utf8_complete(st));
        }
    }
}

/* Every code point, encoded by hand, in one long buffer: exercises the
 * word-at-a-time path next to multi-byte sequences. */
static void test_all_code_points(void **state)
{
    (void)state;
    static uint8_t buf[4 * 0x110000];
    size_t n = 0;
    for (uint32_t cp = 0; cp <= 0x10FFFF; cp++) {
        if (cp >= 0xD800 && cp <= 0xDFFF)
            continue;
        if (cp < 0x80) {
            buf[n++] = (uint8_t)cp;
        } else if (cp < 0x800) {
            buf[n++] = (uint8_t)(0xC0 | cp >> 6);
            buf[n++] = (uint8_t)(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            buf[n++] = (uint8_t)(0xE0 | cp >> 12);
            buf[n++] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
            buf[n++] = (uint8_t)(0x80 | (cp & 0x3F));
        } else {
            buf[n++] = (uint8_t)(0xF0 | cp >> 18);
            buf[n++] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
            buf[n++] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
            buf[n++] = (uint8_t)(0x80 | (cp & 0x3F));
        }
    }
    assert_true(ws__utf8_valid(buf, n));
    /* Each surrogate alone is refused. */
    for (uint32_t cp = 0xD800; cp <= 0xDFFF; cp += 0x7F) {
        uint8_t s[3] = {(uint8_t)(0xE0 | cp >> 12), (uint8_t)(0x80 | ((cp >> 6) & 0x3F)),
                        (uint8_t)(0x80 | (cp & 0x3F))};
        assert_false(ws__utf8_valid(s, 3));
    }
}

static void test_long_ascii_then_bad(void **state)
{
    (void)state;
    uint8_t buf[1031];
    memset(buf, 'x', sizeof buf);
    assert_true(ws__utf8_valid(buf, sizeof buf));
    buf[1029] = 0x80;
    ws__utf8_state st = 0;
    assert_int_equal(ws__utf8_feed(&st, buf, 1029), 0);
    assert_int_equal(ws__utf8_feed(&st, buf + 1029, 2), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors_whole),
        cmocka_unit_test(test_vectors_fail_fast),
        cmocka_unit_test(test_all_code_points),
        cmocka_unit_test(test_long_ascii_then_bad),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
