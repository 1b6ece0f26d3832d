/* SPDX-License-Identifier: MIT */
#include "support/test.h"
#include "proto/base64.h"
#include "proto/handshake.h"
#include "proto/sha1.h"

#include <stdio.h>

static void hex(const uint8_t *d, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", d[i]);
}

static void test_sha1_vectors(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        const char *out;
    } v[] = {
        {"", "da39a3ee5e6b4b0d3255bfef95601890afd80709"},
        {"abc", "a9993e364706816aba3e25717850c26c9cd0d89d"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "84983e441c3bd26ebaae4aa1f95129e5e54670f1"},
        /* Around the padding's edges: 55 bytes pad in one block, 56 to 63
         * need a second, 64 is a whole block (digests from Python's hashlib). */
        {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
         "c1c8bbdc22796e28c0e15163d20899b65621d65a"},
        {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
         "03f09f5b158a7a8cdad920bddc29b81c18a551f5"},
        {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
         "0098ba824b5c16427bd7a1122a5a442a25ec644d"},
        {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
         "11655326c708d70319be2610e8a57d9a5b959d3b"},
    };
    for (size_t i = 0; i < ARRAY_LEN(v); i++) {
        ws__sha1 c;
        uint8_t d[20];
        char h[41];
        ws__sha1_init(&c);
        /* Byte-at-a-time updates must match one-shot hashing. */
        for (const char *p = v[i].in; *p; p++)
            ws__sha1_update(&c, p, 1);
        ws__sha1_final(&c, d);
        hex(d, 20, h);
        assert_string_equal(h, v[i].out);
    }
}

static void test_sha1_million_a(void **state)
{
    (void)state;
    ws__sha1 c;
    uint8_t d[20];
    char h[41];
    char block[1000];
    memset(block, 'a', sizeof block);
    ws__sha1_init(&c);
    for (int i = 0; i < 1000; i++)
        ws__sha1_update(&c, block, sizeof block);
    ws__sha1_final(&c, d);
    hex(d, 20, h);
    assert_string_equal(h, "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
}

static void test_base64_roundtrip(void **state)
{
    (void)state;
    static const struct { const char *in; const char *out; } v[] = {
        {"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"},
        {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"},
    };
    for (size_t i = 0; i < ARRAY_LEN(v); i++) {
        char enc[16];
        uint8_t dec[16];
        ws__base64_encode((const uint8_t *)v[i].in, strlen(v[i].in), enc);
        assert_string_equal(enc, v[i].out);
        long n = ws__base64_decode(enc, strlen(enc), dec, sizeof dec);
        assert_int_equal(n, (long)strlen(v[i].in));
        assert_memory_equal(dec, v[i].in, (size_t)n);
    }
}

static void test_base64_rejects(void **state)
{
    (void)state;
    uint8_t out[32];
    const char *bad[] = {"Zg=", "Z===", "Zh==", "Zm9=", "Zm 9", "Zm9v=Zg=", "Zg==Zg==", "****"};
    for (size_t i = 0; i < ARRAY_LEN(bad); i++)
        assert_int_equal(ws__base64_decode(bad[i], strlen(bad[i]), out, sizeof out), -1);
    /* Output capacity is respected. */
    assert_int_equal(ws__base64_decode("Zm9vYmFy", 8, out, 5), -1);
}

static void test_accept_rfc_example(void **state)
{
    (void)state;
    char accept[WS__ACCEPT_LEN + 1];
    ws__handshake_accept("dGhlIHNhbXBsZSBub25jZQ==", 24, accept);
    assert_string_equal(accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sha1_vectors),
        cmocka_unit_test(test_sha1_million_a),
        cmocka_unit_test(test_base64_roundtrip),
        cmocka_unit_test(test_base64_rejects),
        cmocka_unit_test(test_accept_rfc_example),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
