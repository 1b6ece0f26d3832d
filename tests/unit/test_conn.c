/* SPDX-License-Identifier: MIT */
/* The connection engine: reassembly, control frames, close handshake and the
 * close codes each violation must produce, under every input split. */
#include "support/test.h"
#include "support/feed.h"
#include "support/wsframe.h"
#include "proto/conn.h"
#include "wschat/error.h"

#include <stdlib.h>

typedef struct rec {
    ws__conn c;          /* first: the engine's callbacks get &r->c as their ud */
    ws__conn_config cfg; /* the engine keeps a pointer to it */
    uint8_t out[1 << 16];
    size_t out_len;
    char msgs[8][2048];
    size_t msg_len[8];
    uint8_t msg_op[8];
    uint32_t msg_hash[8]; /* of the whole message, however long */
    int nmsgs;
    int pings, pongs;
    uint16_t peer_code;
    int pause_each;
} rec;

static uint32_t fnv1a(const uint8_t *p, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

static int on_message(void *ud, uint8_t op, bool fin, uint8_t *d, size_t n)
{
    rec *r = ud;
    (void)fin;
    if (r->nmsgs < 8) {
        r->msg_hash[r->nmsgs] = fnv1a(d, n);
        memcpy(r->msgs[r->nmsgs], d, n < 2048 ? n : 2048);
        r->msg_len[r->nmsgs] = n;
        r->msg_op[r->nmsgs] = op;
    }
    r->nmsgs++;
    return r->pause_each;
}

static void on_control(void *ud, uint8_t op, const uint8_t *d, size_t n)
{
    rec *r = ud;
    (void)d;
    (void)n;
    if (op == WS__OP_PING)
        r->pings++;
    else
        r->pongs++;
}

static void on_peer_close(void *ud, uint16_t code, const uint8_t *reason, size_t n)
{
    rec *r = ud;
    (void)reason;
    (void)n;
    r->peer_code = code;
}

static int on_write(void *ud, const uint8_t *h, size_t hl, const uint8_t *p, size_t pl,
                    const uint8_t *mask)
{
    rec *r = ud;
    if (r->out_len + hl + pl > sizeof r->out)
        return WS_EFULL;
    memcpy(r->out + r->out_len, h, hl);
    for (size_t i = 0; i < pl; i++) /* masked here, as the send queue does */
        r->out[r->out_len + hl + i] = mask ? p[i] ^ mask[i & 3] : p[i];
    r->out_len += hl + pl;
    return 0;
}

static rec *rec_new(size_t max_message)
{
    rec *r = calloc(1, sizeof *r);
    static const ws__conn_cb cb = {on_message, on_control, on_peer_close, on_write, NULL, NULL};
    r->cfg = (ws__conn_config){.cb = &cb, .max_frame = 0, .max_message = max_message};
    ws__conn_init(&r->c, &r->cfg);
    return r;
}

static void rec_free(rec *r)
{
    ws__conn_free(&r->c);
    free(r);
}

static long feed_fn(void *ud, uint8_t *chunk, size_t n)
{
    rec *r = ud;
    return ws__conn_feed(&r->c, chunk, n);
}

/* Runs input under all three split modes, checking the same outcome. */
typedef void (*check_fn)(rec *r, long rc);

static void run_all_modes(const uint8_t *in, size_t n, size_t max_message, check_fn check)
{
    for (int mode = FEED_WHOLE; mode <= FEED_RANDOM; mode++) {
        for (unsigned seed = 1; seed <= (mode == FEED_RANDOM ? 5u : 1u); seed++) {
            rec *r = rec_new(max_message);
            long rc = feed_split(in, n, (feed_mode)mode, seed, feed_fn, r);
            check(r, rc);
            rec_free(r);
        }
    }
}

/* The first close frame the engine wrote: its code. */
static int sent_close_code(rec *r)
{
    size_t off = 0;
    wsf_frame f;
    while (wsf_parse(r->out + off, r->out_len - off, &f) == 0) {
        if (f.op == 8)
            return f.len >= 2 ? f.payload[0] << 8 | f.payload[1] : 1005;
        off += f.total;
    }
    return -1;
}


/* --- cases ------------------------------------------------------------- */

static void check_fragmented_with_ping(rec *r, long rc)
{
    assert_true(rc > 0);
    assert_int_equal(r->nmsgs, 1);
    assert_int_equal(r->msg_len[0], 15);
    assert_memory_equal(r->msgs[0], "fragment1fragm2", 15);
    assert_int_equal(r->pings, 1);
    wsf_frame f;
    assert_int_equal(wsf_parse(r->out, r->out_len, &f), 0);
    assert_int_equal(f.op, WS__OP_PONG);
    assert_int_equal(f.len, 4);
    assert_memory_equal(f.payload, "ping", 4);
}

static void test_fragmented_with_interleaved_ping(void **state)
{
    (void)state;
    uint8_t in[256];
    size_t n = 0;
    n += wsf_client(in + n, false, WS__OP_TEXT, "fragment1", 9);
    n += wsf_client(in + n, true, WS__OP_PING, "ping", 4);
    n += wsf_client(in + n, false, WS__OP_CONT, "", 0);
    n += wsf_client(in + n, true, WS__OP_CONT, "fragm2", 6);
    run_all_modes(in, n, 0, check_fragmented_with_ping);
}

static void check_1002(rec *r, long rc)
{
    assert_int_equal(rc, WS_EPROTO);
    assert_int_equal(r->c.state, WS__CONN_FAILED);
    assert_int_equal(sent_close_code(r), 1002);
    assert_int_equal(r->nmsgs, 0);
}

/* An idle conn keeps no receive state: it exists only while a frame or a
 * message is unfinished at the end of the input, or a paused message's
 * bytes must stay valid. */
static void test_receive_state_only_while_needed(void **state)
{
    (void)state;
    rec *r = rec_new(0);
    uint8_t in[256];
    size_t n = wsf_client(in, true, WS__OP_TEXT, "whole", 5);
    assert_int_equal(ws__conn_feed(&r->c, in, n), (long)n);
    assert_null(r->c.rx);
    /* A frame split after its header. */
    n = wsf_client(in, true, WS__OP_BINARY, "0123456789", 10);
    assert_int_equal(ws__conn_feed(&r->c, in, 4), 4);
    assert_non_null(r->c.rx);
    assert_int_equal(ws__conn_feed(&r->c, in + 4, n - 4), (long)(n - 4));
    assert_null(r->c.rx);
    assert_int_equal(r->nmsgs, 2);
    assert_int_equal(r->msg_len[1], 10);
    /* A fragmented message: kept between its frames, and with a split
     * header byte. */
    n = wsf_client(in, false, WS__OP_TEXT, "ab", 2);
    assert_int_equal(ws__conn_feed(&r->c, in, n), (long)n);
    assert_true(ws__conn_in_msg(&r->c));
    n = wsf_client(in, true, WS__OP_CONT, "cd", 2);
    assert_int_equal(ws__conn_feed(&r->c, in, 1), 1);
    assert_int_equal(ws__conn_feed(&r->c, in + 1, n - 1), (long)(n - 1));
    assert_null(r->c.rx);
    assert_int_equal(r->nmsgs, 3);
    assert_memory_equal(r->msgs[2], "abcd", 5); /* with its NUL */
    /* Paused on a copied message: its buffer stays until the next feed. */
    r->pause_each = 1;
    n = wsf_client(in, false, WS__OP_TEXT, "ef", 2);
    n += wsf_client(in + n, true, WS__OP_CONT, "gh", 2);
    assert_int_equal(ws__conn_feed(&r->c, in, n), (long)n);
    assert_non_null(r->c.rx);
    assert_true(ws__conn_buffered(&r->c, r->c.rx->msg.data));
    r->pause_each = 0;
    n = wsf_client(in, true, WS__OP_TEXT, "x", 1);
    assert_int_equal(ws__conn_feed(&r->c, in, n), (long)n);
    assert_null(r->c.rx);
    assert_int_equal(r->nmsgs, 5);
    rec_free(r);
}

static void test_continuation_without_start(void **state)
{
    (void)state;
    uint8_t in[64];
    size_t n = wsf_client(in, true, WS__OP_CONT, "x", 1);
    run_all_modes(in, n, 0, check_1002);
}

static void test_new_data_frame_inside_fragmented(void **state)
{
    (void)state;
    uint8_t in[64];
    size_t n = wsf_client(in, false, WS__OP_TEXT, "a", 1);
    n += wsf_client(in + n, true, WS__OP_BINARY, "b", 1);
    run_all_modes(in, n, 0, check_1002);
}

static void check_1009(rec *r, long rc)
{
    assert_int_equal(rc, WS_ETOOBIG);
    assert_int_equal(sent_close_code(r), 1009);
    assert_int_equal(r->nmsgs, 0);
}

static void test_message_too_big_across_fragments(void **state)
{
    (void)state;
    uint8_t in[256];
    char chunk[60];
    memset(chunk, 'a', sizeof chunk);
    size_t n = wsf_client(in, false, WS__OP_TEXT, chunk, 60);
    n += wsf_client(in + n, true, WS__OP_CONT, chunk, 60);
    run_all_modes(in, n, 100, check_1009);
}

static void check_1007_fast(rec *r, long rc)
{
    assert_int_equal(rc, WS_EUTF8);
    assert_int_equal(sent_close_code(r), 1007);
    assert_int_equal(r->nmsgs, 0);
}

/* Fail fast: the bad byte is in the second fragment; the third fragment is
 * never needed, so the input is cut before it arrives. */
static void test_utf8_fail_fast_in_fragment(void **state)
{
    (void)state;
    uint8_t in[128];
    size_t n = wsf_client(in, false, WS__OP_TEXT, "\xce\xba\xe1\xbd\xb9", 5);
    n += wsf_client(in + n, false, WS__OP_CONT, "\xcf\x83\xce\xbc\xce\xb5\xf4\x90\x80\x80", 10);
    run_all_modes(in, n, 0, check_1007_fast);
}

static void check_truncated_utf8(rec *r, long rc)
{
    assert_int_equal(rc, WS_EUTF8);
    assert_int_equal(sent_close_code(r), 1007);
}

static void test_utf8_truncated_at_end(void **state)
{
    (void)state;
    uint8_t in[64];
    size_t n = wsf_client(in, true, WS__OP_TEXT, "ok\xe1\xbd", 4);
    run_all_modes(in, n, 0, check_truncated_utf8);
}

static void check_binary_not_validated(rec *r, long rc)
{
    assert_true(rc > 0);
    assert_int_equal(r->nmsgs, 1);
    assert_int_equal(r->msg_op[0], WS__OP_BINARY);
}

static void test_binary_is_not_utf8_checked(void **state)
{
    (void)state;
    uint8_t in[64];
    size_t n = wsf_client(in, true, WS__OP_BINARY, "\xff\xfe", 2);
    run_all_modes(in, n, 0, check_binary_not_validated);
}

static void close_case(const uint8_t *payload, size_t len, int expect_rc, int expect_code)
{
    uint8_t in[200];
    size_t n = wsf_client(in, true, WS__OP_CLOSE, payload, len);
    rec *r = rec_new(0);
    long rc = ws__conn_feed(&r->c, in, n);
    if (expect_rc == 0) {
        assert_int_equal(rc, (long)n);
        assert_int_equal(r->c.state, WS__CONN_CLOSED);
        assert_true(r->c.peer_closed_first);
    } else {
        assert_int_equal(rc, expect_rc);
    }
    assert_int_equal(sent_close_code(r), expect_code);
    rec_free(r);
}

static void test_close_codes(void **state)
{
    (void)state;
    /* Valid codes are echoed. */
    static const unsigned ok[] = {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011,
                                  3000, 3999, 4000, 4999};
    for (size_t i = 0; i < ARRAY_LEN(ok); i++) {
        uint8_t p[2] = {(uint8_t)(ok[i] >> 8), (uint8_t)ok[i]};
        close_case(p, 2, 0, (int)ok[i]);
    }
    /* Protocol errors: 0-999, 1004, 1005, 1006, 1015, 1016-2999, 5000+. */
    static const unsigned bad[] = {0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999,
                                   5000, 65535};
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        uint8_t p[2] = {(uint8_t)(bad[i] >> 8), (uint8_t)bad[i]};
        close_case(p, 2, WS_EPROTO, 1002);
    }
    /* Empty close: answered with an empty close (1005 seen locally). */
    close_case(NULL, 0, 0, 1005);
    /* One-byte payload: 1002. */
    close_case((const uint8_t *)"\x03", 1, WS_EPROTO, 1002);
    /* Reason with invalid UTF-8: 1007. */
    close_case((const uint8_t *)"\x03\xe8\xce\xba\xe1\xbd\xb9\xed\xa0\x80", 10, WS_EUTF8, 1007);
    /* Reason with valid UTF-8 of maximum length. */
    uint8_t max[125] = {0x03, 0xe8};
    memset(max + 2, 'r', 123);
    close_case(max, 125, 0, 1000);
}

static void test_local_close_then_peer_close(void **state)
{
    (void)state;
    rec *r = rec_new(0);
    assert_int_equal(ws__conn_close(&r->c, 1000, "bye", 3), 0);
    assert_int_equal(r->c.state, WS__CONN_CLOSE_SENT);
    assert_int_equal(sent_close_code(r), 1000);
    /* Data after our close is read but not delivered. */
    uint8_t in[64];
    size_t n = wsf_client(in, true, WS__OP_TEXT, "late", 4);
    n += wsf_client(in + n, true, WS__OP_CLOSE, "\x03\xe8", 2);
    assert_int_equal(ws__conn_feed(&r->c, in, n), (long)n);
    assert_int_equal(r->nmsgs, 0);
    assert_int_equal(r->c.state, WS__CONN_CLOSED);
    assert_false(r->c.peer_closed_first);
    assert_int_equal(r->peer_code, 1000);
    /* Nothing may be sent once closed. */
    assert_int_equal(ws__conn_send(&r->c, WS__OP_TEXT, "x", 1), WS_ECLOSED);
    assert_int_equal(ws__conn_close(&r->c, 1000, NULL, 0), WS_ECLOSED);
    rec_free(r);
}

static void test_close_rejects_invalid_code(void **state)
{
    (void)state;
    rec *r = rec_new(0);
    assert_int_equal(ws__conn_close(&r->c, 1005, NULL, 0), WS_EINVAL);
    assert_int_equal(ws__conn_close(&r->c, 1000, "\xff", 1), WS_EUTF8);
    assert_int_equal(r->c.state, WS__CONN_OPEN);
    rec_free(r);
}

static void test_autofragmentation(void **state)
{
    (void)state;
    rec *r = rec_new(0);
    r->cfg.fragment_size = 4;
    assert_int_equal(ws__conn_send(&r->c, WS__OP_TEXT, "0123456789", 10), 0);
    wsf_frame f;
    size_t off = 0;
    static const struct { bool fin; uint8_t op; size_t len; } want[] = {
        {false, 1, 4}, {false, 0, 4}, {true, 0, 2}};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(wsf_parse(r->out + off, r->out_len - off, &f), 0);
        assert_int_equal(f.fin, want[i].fin);
        assert_int_equal(f.op, want[i].op);
        assert_int_equal(f.len, want[i].len);
        off += f.total;
    }
    assert_int_equal(off, r->out_len);
    rec_free(r);
}

/* The rest of a large frame read straight into the engine's reassembly
 * buffer (ws__conn_gather_space): unmasked there and delivered whole. */
static void test_gather_in_place(void **state)
{
    (void)state;
    rec *r = rec_new(0);
    size_t n = 20000;
    uint8_t *payload = malloc(n), *wire = malloc(n + 14);
    for (size_t i = 0; i < n; i++)
        payload[i] = (uint8_t)(i * 7 + 3);
    size_t wl = wsf_client(wire, true, 2, payload, n);
    size_t first = wl - n + 1000; /* header and 1000 bytes, as one read */
    uint8_t *dst = NULL;
    assert_int_equal(ws__conn_gather_space(&r->c, &dst), 0);
    assert_int_equal(ws__conn_feed(&r->c, wire, first), (long)first);
    assert_int_equal(ws__conn_gather_space(&r->c, &dst), n - 1000);
    memcpy(dst, wire + first, 5000);
    assert_int_equal(ws__conn_feed(&r->c, dst, 5000), 5000);
    assert_int_equal(r->nmsgs, 0);
    size_t rest = ws__conn_gather_space(&r->c, &dst);
    assert_int_equal(rest, n - 6000);
    memcpy(dst, wire + first + 5000, rest);
    assert_int_equal(ws__conn_feed(&r->c, dst, rest), (long)rest);
    assert_int_equal(r->nmsgs, 1);
    assert_int_equal(r->msg_len[0], n);
    assert_int_equal(r->msg_hash[0], fnv1a(payload, n));
    assert_int_equal(ws__conn_gather_space(&r->c, &dst), 0);
    /* A rest too small to be worth its own read is not offered. */
    wl = wsf_client(wire, true, 2, payload, 5000);
    assert_int_equal(ws__conn_feed(&r->c, wire, wl - 4000), (long)(wl - 4000));
    assert_int_equal(ws__conn_gather_space(&r->c, &dst), 0);
    assert_int_equal(ws__conn_feed(&r->c, wire + wl - 4000, 4000), 4000);
    assert_int_equal(r->nmsgs, 2);
    assert_int_equal(r->msg_hash[1], fnv1a(payload, 5000));
    free(payload);
    free(wire);
    rec_free(r);
}

static void test_masking_option(void **state)
{
    (void)state;
    rec *r = rec_new(0);
    r->cfg.mask_outgoing = true;
    assert_int_equal(ws__conn_send(&r->c, WS__OP_TEXT, "Hello", 5), 0);
    assert_int_equal(r->out_len, 11);
    assert_int_equal(r->out[1], 0x85);
    uint8_t p[5];
    for (int i = 0; i < 5; i++)
        p[i] = r->out[6 + i] ^ r->out[2 + (i & 3)];
    assert_memory_equal(p, "Hello", 5);
    rec_free(r);
}

static void test_pause_resumes(void **state)
{
    (void)state;
    rec *r = rec_new(0);
    r->pause_each = 1;
    uint8_t in[64];
    size_t n = wsf_client(in, true, WS__OP_TEXT, "one", 3);
    size_t first = n;
    n += wsf_client(in + n, true, WS__OP_TEXT, "two", 3);
    long rc = ws__conn_feed(&r->c, in, n);
    assert_int_equal(rc, (long)first);
    assert_int_equal(r->nmsgs, 1);
    rc = ws__conn_feed(&r->c, in + first, n - first);
    assert_int_equal(rc, (long)(n - first));
    assert_int_equal(r->nmsgs, 2);
    assert_memory_equal(r->msgs[1], "two", 3);
    rec_free(r);
}

static void test_frame_mode(void **state)
{
    (void)state;
    rec *r = rec_new(0);
    r->c.frame_mode = true;
    uint8_t in[64];
    size_t n = wsf_client(in, false, WS__OP_TEXT, "ab", 2);
    n += wsf_client(in + n, true, WS__OP_CONT, "cd", 2);
    assert_int_equal(ws__conn_feed(&r->c, in, n), (long)n);
    assert_int_equal(r->nmsgs, 2);
    assert_int_equal(r->msg_op[0], WS__OP_TEXT);
    assert_int_equal(r->msg_op[1], WS__OP_CONT);
    assert_memory_equal(r->msgs[1], "cd", 2);
    rec_free(r);
}

static void test_ping_too_big_to_send(void **state)
{
    (void)state;
    rec *r = rec_new(0);
    char big[126] = {0};
    assert_int_equal(ws__conn_ping(&r->c, big, 126), WS_EINVAL);
    assert_int_equal(ws__conn_ping(&r->c, big, 125), 0);
    rec_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fragmented_with_interleaved_ping),
        cmocka_unit_test(test_receive_state_only_while_needed),
        cmocka_unit_test(test_continuation_without_start),
        cmocka_unit_test(test_new_data_frame_inside_fragmented),
        cmocka_unit_test(test_message_too_big_across_fragments),
        cmocka_unit_test(test_utf8_fail_fast_in_fragment),
        cmocka_unit_test(test_utf8_truncated_at_end),
        cmocka_unit_test(test_binary_is_not_utf8_checked),
        cmocka_unit_test(test_close_codes),
        cmocka_unit_test(test_local_close_then_peer_close),
        cmocka_unit_test(test_close_rejects_invalid_code),
        cmocka_unit_test(test_autofragmentation),
        cmocka_unit_test(test_masking_option),
        cmocka_unit_test(test_gather_in_place),
        cmocka_unit_test(test_pause_resumes),
        cmocka_unit_test(test_frame_mode),
        cmocka_unit_test(test_ping_too_big_to_send),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
