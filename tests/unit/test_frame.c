/* SPDX-License-Identifier: MIT */
/* Frame decoder and encoder: every length form and boundary, every rule that
 * fails a connection, and byte-at-a-time input. */
#include "support/test.h"
#include "support/wsframe.h"
#include "proto/frame.h"
#include "wschat/error.h"

#include <stdlib.h>

typedef struct decoded {
    int headers;
    uint8_t op;
    bool fin;
    uint64_t len;
    uint8_t *payload;
    size_t got;
    bool done;
    int err;
} decoded;

/* Feeds `in` in chunks of `step` bytes (0 = whole) and collects one frame. */
static void decode(ws__fdec *d, const uint8_t *in, size_t n, size_t step, decoded *out)
{
    memset(out, 0, sizeof *out);
    uint8_t *copy = malloc(n + 1);
    memcpy(copy, in, n);
    size_t off = 0;
    while (!out->done) {
        size_t chunk = step && n - off > step ? step : n - off;
        size_t used;
        ws__fdec_event ev;
        int r = ws__fdec_feed(d, copy + off, chunk, &used, &ev);
        off += used;
        if (r < 0) {
            out->err = r;
            break;
        }
        if (r == WS__FD_HEADER) {
            out->headers++;
            out->op = d->opcode;
            out->fin = d->fin;
            out->len = d->len;
            out->payload = malloc(d->len + 1);
        } else if (r == WS__FD_DATA) {
            memcpy(out->payload + out->got, ev.data, ev.len);
            out->got += ev.len;
            out->done = ev.frame_done;
        } else if (off == n) {
            break;
        }
    }
    free(copy);
}

static void roundtrip_len(size_t len, size_t step)
{
    uint8_t *payload = malloc(len + 1);
    for (size_t i = 0; i < len; i++)
        payload[i] = (uint8_t)(i * 7 + 3);
    uint8_t *frame = malloc(len + 14);
    size_t n = wsf_client(frame, true, WS__OP_BINARY, payload, len);
    ws__fdec d;
    ws__fdec_init(&d, WS__MASK_REQUIRED, 0);
    decoded out;
    decode(&d, frame, n, step, &out);
    assert_int_equal(out.err, 0);
    assert_true(out.done);
    assert_int_equal(out.headers, 1);
    assert_int_equal(out.len, len);
    assert_int_equal(out.got, len);
    if (len)
        assert_memory_equal(out.payload, payload, len);
    free(out.payload);
    free(frame);
    free(payload);
}

static void test_length_boundaries(void **state)
{
    (void)state;
    static const size_t lens[] = {0, 1, 125, 126, 127, 65535, 65536, 70000};
    for (size_t i = 0; i < ARRAY_LEN(lens); i++) {
        roundtrip_len(lens[i], 0);
        roundtrip_len(lens[i], 3);
    }
    roundtrip_len(300, 1); /* byte at a time across header and payload */
}

static void test_header_length_forms(void **state)
{
    (void)state;
    uint8_t h[14];
    assert_int_equal(ws__frame_header(h, true, 0, 1, 125, NULL), 2);
    assert_int_equal(h[1], 125);
    assert_int_equal(ws__frame_header(h, true, 0, 1, 126, NULL), 4);
    assert_int_equal(h[1], 126);
    assert_int_equal(h[2] << 8 | h[3], 126);
    assert_int_equal(ws__frame_header(h, true, 0, 1, 65535, NULL), 4);
    assert_int_equal(ws__frame_header(h, true, 0, 1, 65536, NULL), 10);
    assert_int_equal(h[1], 127);
    uint64_t big = (1ull << 32) + 5; /* above 2^32 */
    assert_int_equal(ws__frame_header(h, false, 4, 2, big, NULL), 10);
    assert_int_equal(h[0], 0x42);
    uint64_t got = 0;
    for (int i = 0; i < 8; i++)
        got = got << 8 | h[2 + i];
    assert_true(got == big);
    uint8_t key[4] = {1, 2, 3, 4};
    assert_int_equal(ws__frame_header(h, true, 0, 9, 0, key), 6);
    assert_int_equal(h[1], 0x80);
}

/* A 64-bit length above 2^32 decodes (header only: the payload is not sent). */
static void test_decode_len_above_4g(void **state)
{
    (void)state;
    uint8_t hdr[14] = {0x82, 0xFF, 0, 0, 0, 1, 0, 0, 0, 7, 1, 2, 3, 4};
    ws__fdec d;
    ws__fdec_init(&d, WS__MASK_REQUIRED, 0);
    size_t used;
    ws__fdec_event ev;
    assert_int_equal(ws__fdec_feed(&d, hdr, sizeof hdr, &used, &ev), WS__FD_HEADER);
    assert_int_equal(used, 14);
    assert_true(d.len == (1ull << 32) + 7);
}

static void expect_error(const uint8_t *frame, size_t n, bool require_mask, uint64_t max, int err,
                         uint16_t code)
{
    for (size_t step = 0; step <= 1; step++) {
        ws__fdec d;
        ws__fdec_init(&d, require_mask ? WS__MASK_REQUIRED : WS__MASK_ANY, max);
        decoded out;
        decode(&d, frame, n, step, &out);
        free(out.payload);
        assert_int_equal(out.err, err);
        assert_int_equal(d.close_code, code);
    }
}

static void test_rule_violations(void **state)
{
    (void)state;
    uint8_t f[64];
    /* 64-bit length with the top bit set. */
    uint8_t top[] = {0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4};
    expect_error(top, sizeof top, true, 0, WS_EPROTO, 1002);
    /* Unmasked client frame. */
    size_t n = wsf_build(f, true, 0, 1, "hi", 2, NULL);
    expect_error(f, n, true, 0, WS_EPROTO, 1002);
    /* RSV1/2/3 without an extension. */
    for (uint8_t rsv = 1; rsv < 8; rsv++) {
        n = wsf_build(f, true, rsv, 1, "hi", 2, (const uint8_t *)"abcd");
        expect_error(f, n, true, 0, WS_EPROTO, 1002);
    }
    /* Reserved opcodes 3-7 and B-F. */
    static const uint8_t ops[] = {3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF};
    for (size_t i = 0; i < ARRAY_LEN(ops); i++) {
        n = wsf_build(f, true, 0, ops[i], "", 0, (const uint8_t *)"abcd");
        expect_error(f, n, true, 0, WS_EPROTO, 1002);
    }
    /* Control frame over 125 bytes, and a fragmented control frame. */
    uint8_t big[200] = {0};
    uint8_t fb[220];
    n = wsf_build(fb, true, 0, 9, big, 126, (const uint8_t *)"abcd");
    expect_error(fb, n, true, 0, WS_EPROTO, 1002);
    n = wsf_build(f, false, 0, 9, "x", 1, (const uint8_t *)"abcd");
    expect_error(f, n, true, 0, WS_EPROTO, 1002);
    /* Over the frame limit: 1009, decided from the header alone. */
    n = wsf_build(fb, true, 0, 2, big, 200, (const uint8_t *)"abcd");
    expect_error(fb, n, true, 199, WS_ETOOBIG, 1009);
}

static void test_rsv_allowed_when_claimed(void **state)
{
    (void)state;
    uint8_t f[32];
    size_t n = wsf_build(f, true, 4, 1, "hi", 2, (const uint8_t *)"abcd");
    ws__fdec d;
    ws__fdec_init(&d, WS__MASK_REQUIRED, 0);
    d.rsv_allowed = 4;
    decoded out;
    decode(&d, f, n, 0, &out);
    assert_int_equal(out.err, 0);
    assert_true(out.done);
    assert_int_equal(d.rsv, 4);
    free(out.payload);
    /* A claim covers a data message's first frame only: the same bit on a
     * control frame or a continuation is a protocol error. */
    static const uint8_t not_first[] = {8, 9, 10, 0};
    for (size_t i = 0; i < ARRAY_LEN(not_first); i++) {
        n = wsf_build(f, true, 4, not_first[i], "", 0, (const uint8_t *)"abcd");
        ws__fdec_init(&d, WS__MASK_REQUIRED, 0);
        d.rsv_allowed = 4;
        decode(&d, f, n, 0, &out);
        free(out.payload);
        assert_int_equal(out.err, WS_EPROTO);
        assert_int_equal(d.close_code, 1002);
    }
}

static void test_error_is_sticky(void **state)
{
    (void)state;
    uint8_t f[16];
    size_t n = wsf_build(f, true, 0, 1, "hi", 2, NULL);
    ws__fdec d;
    ws__fdec_init(&d, WS__MASK_REQUIRED, 0);
    size_t used;
    ws__fdec_event ev;
    assert_int_equal(ws__fdec_feed(&d, f, n, &used, &ev), WS_EPROTO);
    uint8_t ok[16];
    n = wsf_client(ok, true, 1, "hi", 2);
    assert_int_equal(ws__fdec_feed(&d, ok, n, &used, &ev), WS_EPROTO);
}

/* RFC 6455 5.7 examples. */
static void test_rfc_examples(void **state)
{
    (void)state;
    uint8_t masked_hello[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58};
    ws__fdec d;
    ws__fdec_init(&d, WS__MASK_REQUIRED, 0);
    decoded out;
    decode(&d, masked_hello, sizeof masked_hello, 1, &out);
    assert_true(out.done);
    assert_int_equal(out.op, 1);
    assert_memory_equal(out.payload, "Hello", 5);
    free(out.payload);
    uint8_t h[14];
    assert_int_equal(ws__frame_header(h, true, 0, 1, 5, NULL), 2);
    assert_int_equal(h[0], 0x81);
    assert_int_equal(h[1], 0x05);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_length_boundaries),
        cmocka_unit_test(test_header_length_forms),
        cmocka_unit_test(test_decode_len_above_4g),
        cmocka_unit_test(test_rule_violations),
        cmocka_unit_test(test_rsv_allowed_when_claimed),
        cmocka_unit_test(test_error_is_sticky),
        cmocka_unit_test(test_rfc_examples),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
