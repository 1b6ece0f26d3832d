/* SPDX-License-Identifier: MIT */
/* permessage-deflate: parameter negotiation (RFC 7692 section 7), whole
 * compressed sessions with and without context takeover, stacking through
 * the public extension API, and the decompression-bomb limit. */
#include "support/test.h"
#include "support/peer.h"
#include "ext/deflate_params.h"

#include <stdio.h>
#include <stdlib.h>
#include <zlib.h>

/* --- negotiation ------------------------------------------------------------ */

static int parse(const char *names[], const char *values[], size_t n, ws__pmd_offer *o)
{
    ws_ext_param p[8];
    for (size_t i = 0; i < n; i++)
        p[i] = (ws_ext_param){names[i], values[i]};
    return ws__pmd_parse_offer(p, n, o);
}

static void test_offer_parsing(void **state)
{
    (void)state;
    ws__pmd_offer o;
    const char *n1[] = {"client_max_window_bits", "server_no_context_takeover"};
    const char *v1[] = {NULL, NULL};
    assert_int_equal(parse(n1, v1, 2, &o), 0);
    assert_int_equal(o.client_max_window_bits, -1);
    assert_true(o.server_no_context_takeover);
    const char *n2[] = {"server_max_window_bits"};
    const char *good[] = {"8", "9", "15"};
    for (int i = 0; i < 3; i++) {
        const char *v[] = {good[i]};
        assert_int_equal(parse(n2, v, 1, &o), 0);
    }
    /* Each of these declines the offer. */
    const char *bad[] = {"7", "16", "08", "", "1a", "+9", NULL};
    for (int i = 0; i < 7; i++) {
        const char *v[] = {bad[i]};
        assert_int_equal(parse(n2, v, 1, &o), -1);
    }
    const char *dup[] = {"server_no_context_takeover", "server_no_context_takeover"};
    const char *dv[] = {NULL, NULL};
    assert_int_equal(parse(dup, dv, 2, &o), -1);
    const char *unk[] = {"x_fast"};
    const char *uv[] = {NULL};
    assert_int_equal(parse(unk, uv, 1, &o), -1);
    const char *valued[] = {"client_no_context_takeover"};
    const char *vv[] = {"1"};
    assert_int_equal(parse(valued, vv, 1, &o), -1);
}

static void test_answers(void **state)
{
    (void)state;
    ws__pmd_offer o = {0};
    ws__pmd_agreed a;
    char resp[256];
    /* Default (no context kept): we announce both no-context parameters. */
    assert_int_equal(ws__pmd_answer(&o, false, 15, &a, resp, sizeof resp), 0);
    assert_string_equal(resp, "server_no_context_takeover; client_no_context_takeover");
    assert_int_equal(a.own_window_bits, 15);
    /* Context kept, nothing asked: an empty answer. */
    assert_int_equal(ws__pmd_answer(&o, true, 15, &a, resp, sizeof resp), 0);
    assert_string_equal(resp, "");
    /* The client limits our window: answered with the same or smaller. */
    o.server_max_window_bits = 10;
    assert_int_equal(ws__pmd_answer(&o, true, 15, &a, resp, sizeof resp), 0);
    assert_string_equal(resp, "server_max_window_bits=10");
    assert_int_equal(ws__pmd_answer(&o, true, 9, &a, resp, sizeof resp), 0);
    assert_string_equal(resp, "server_max_window_bits=9");
    /* The client asks for no server context while we would keep it. */
    o = (ws__pmd_offer){.server_no_context_takeover = true, .client_max_window_bits = -1};
    assert_int_equal(ws__pmd_answer(&o, true, 15, &a, resp, sizeof resp), 0);
    assert_string_equal(resp, "server_no_context_takeover");
    assert_null(strstr(resp, "client_max_window_bits"));
    assert_int_equal(ws__pmd_answer(&o, true, 15, &a, resp, 5), -1);
}

/* --- compressed sessions ----------------------------------------------------- */

static void echo(ws_session *s, void *app)
{
    (void)app;
    ws_msg m;
    while (ws_recv(s, &m) == WS_OK)
        m.type == WS_MSG_TEXT ? ws_send_text_n(s, (const char *)m.data, m.len)
                              : ws_send_binary(s, m.data, m.len);
}

typedef struct dfx {
    ws_mem_net *net;
    ws_server *srv;
    ws_extension *pmd;
    peer p;
    z_stream def, inf;   /* the client's side */
    bool client_keeps_context;
} dfx;

static dfx *dfx_new(const ws_deflate_options *opt, size_t max_message, const char *offer)
{
    dfx *f = calloc(1, sizeof *f);
    f->net = ws_mem_net_new();
    ws_config c = {.backend = "mem", .io_arg = f->net, .no_signals = true,
                   .max_message_size = max_message};
    f->srv = ws_server_new(&c);
    int err;
    f->pmd = ws_deflate_new(opt, &err);
    assert_non_null(f->pmd);
    assert_int_equal(ws_server_extension(f->srv, f->pmd), 0);
    assert_int_equal(ws_server_extension(f->srv, f->pmd), WS_EINVAL); /* RSV1 taken */
    ws_route(f->srv, "/", echo, NULL);
    ws_server_start(f->srv);
    char hdr[256];
    snprintf(hdr, sizeof hdr, "Sec-WebSocket-Extensions: %s\r\n", offer);
    assert_int_equal(peer_open(&f->p, f->srv, f->net, ws_server_port(f->srv), "/", hdr, NULL), 101);
    deflateInit2(&f->def, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
    inflateInit2(&f->inf, -15);
    f->client_keeps_context = strstr(f->p.response, "client_no_context_takeover") == NULL;
    return f;
}

static void dfx_free(dfx *f)
{
    deflateEnd(&f->def);
    inflateEnd(&f->inf);
    peer_free(&f->p);
    ws_server_free(f->srv);
    ws_deflate_free(f->pmd);
    ws_mem_net_free(f->net);
    free(f);
}

/* Compresses like a client: sync flush, tail removed. */
static size_t client_deflate(dfx *f, const void *in, size_t len, uint8_t *out, size_t cap)
{
    f->def.next_in = (Bytef *)in;
    f->def.avail_in = (uInt)len;
    f->def.next_out = out;
    f->def.avail_out = (uInt)cap;
    assert_int_equal(deflate(&f->def, Z_SYNC_FLUSH), Z_OK);
    size_t n = cap - f->def.avail_out;
    if (!f->client_keeps_context)
        deflateReset(&f->def);
    return n - 4;
}

static size_t client_inflate(dfx *f, const uint8_t *in, size_t len, uint8_t *out, size_t cap)
{
    uint8_t *buf = malloc(len + 4);
    memcpy(buf, in, len);
    memcpy(buf + len, "\x00\x00\xff\xff", 4);
    f->inf.next_in = buf;
    f->inf.avail_in = (uInt)len + 4;
    f->inf.next_out = out;
    f->inf.avail_out = (uInt)cap;
    int zr = inflate(&f->inf, Z_SYNC_FLUSH);
    free(buf);
    assert_true(zr == Z_OK || zr == Z_BUF_ERROR);
    return cap - f->inf.avail_out;
}

static void roundtrip(dfx *f, const char *text)
{
    size_t len = strlen(text);
    uint8_t *z = malloc(len + 64), *plain = malloc(len + 64);
    size_t zl = client_deflate(f, text, len, z, len + 64);
    uint8_t *frame = malloc(zl + 14);
    size_t fl = wsf_build(frame, true, 4 /* RSV1 */, 1, z, zl, (const uint8_t *)"abcd");
    peer_send_raw(&f->p, frame, fl);
    wsf_frame fr;
    assert_int_equal(peer_recv(&f->p, 50, &fr), 1);
    if (len >= 64) {
        assert_int_equal(fr.rsv, 4); /* the echo came back compressed */
        /* RFC 7692 7.2.1: the sender removes the 00 00 ff ff tail. */
        assert_true(f->p.payload_len < 4 ||
                    memcmp(f->p.payload + f->p.payload_len - 4, "\x00\x00\xff\xff", 4) != 0);
        size_t n = client_inflate(f, f->p.payload, f->p.payload_len, plain, len + 64);
        assert_int_equal(n, len);
        assert_memory_equal(plain, text, len);
    } else {
        assert_int_equal(fr.rsv, 0); /* below min_size: sent as is */
        assert_memory_equal(f->p.payload, text, len);
    }
    free(z);
    free(plain);
    free(frame);
}

static void run_session(const ws_deflate_options *opt, const char *offer)
{
    dfx *f = dfx_new(opt, 0, offer);
    assert_non_null(strstr(f->p.response, "Sec-WebSocket-Extensions: permessage-deflate"));
    char big[5000];
    for (size_t i = 0; i < sizeof big - 1; i++)
        big[i] = "the quick brown fox "[i % 20];
    big[sizeof big - 1] = 0;
    for (int i = 0; i < 3; i++) { /* repeated: exercises kept or reset context */
        roundtrip(f, big);
        roundtrip(f, "short");
        roundtrip(f, "ünïcödé text that is long enough to be compressed by the server, surely");
    }
    dfx_free(f);
}

static void test_session_no_context(void **state)
{
    (void)state;
    run_session(NULL, "permessage-deflate; client_max_window_bits");
}

static void test_session_with_context(void **state)
{
    (void)state;
    ws_deflate_options o = {.server_context_takeover = true};
    run_session(&o, "permessage-deflate; client_max_window_bits");
}

static void test_session_small_window(void **state)
{
    (void)state;
    ws_deflate_options o = {.server_context_takeover = true};
    run_session(&o, "permessage-deflate; server_max_window_bits=8");
}

/* The first offer is unusable (an unknown parameter), the second is taken. */
static void test_offers_in_order(void **state)
{
    (void)state;
    dfx *f = dfx_new(NULL, 0, "permessage-deflate; x_unknown, permessage-deflate; server_max_window_bits=12");
    assert_non_null(strstr(f->p.response, "server_max_window_bits=12"));
    dfx_free(f);
    /* No usable offer at all: the connection opens without compression. */
    dfx *g = calloc(1, sizeof *g);
    g->net = ws_mem_net_new();
    ws_config c = {.backend = "mem", .io_arg = g->net, .no_signals = true};
    g->srv = ws_server_new(&c);
    g->pmd = ws_deflate_new(NULL, NULL);
    ws_server_extension(g->srv, g->pmd);
    ws_route(g->srv, "/", echo, NULL);
    ws_server_start(g->srv);
    assert_int_equal(peer_open(&g->p, g->srv, g->net, ws_server_port(g->srv), "/",
                               "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=7\r\n",
                               NULL), 101);
    assert_null(strstr(g->p.response, "Sec-WebSocket-Extensions"));
    /* RSV1 is then a protocol error. */
    peer_send_raw(&g->p, "\xc1\x81" "abcd" "\x00", 7);
    assert_int_equal(peer_expect_close(&g->p), 1002);
    peer_free(&g->p);
    ws_server_free(g->srv);
    ws_deflate_free(g->pmd);
    ws_mem_net_free(g->net);
    free(g);
}

/* A compressed message that inflates past max_message_size: 1009, and the
 * server never held more than the limit. */
static void test_bomb(void **state)
{
    (void)state;
    size_t limit = 1 << 20;
    dfx *f = dfx_new(NULL, limit, "permessage-deflate");
    size_t plain = 64u << 20; /* 64 MiB of zeros */
    uint8_t *zeros = calloc(1, plain);
    size_t cap = plain / 500 + 1024;
    uint8_t *z = malloc(cap);
    size_t zl = client_deflate(f, zeros, plain, z, cap);
    assert_true(zl < 100 * 1024); /* a small frame... */
    uint8_t *frame = malloc(zl + 14);
    size_t fl = wsf_build(frame, true, 4, 2, z, zl, (const uint8_t *)"abcd");
    peer_send_raw(&f->p, frame, fl);
    assert_int_equal(peer_expect_close(&f->p), 1009); /* ...refused */
    free(zeros);
    free(z);
    free(frame);
    dfx_free(f);
}

/* Garbage with RSV1 set: 1007 (invalid payload), not a crash. */
static void test_corrupt_stream(void **state)
{
    (void)state;
    dfx *f = dfx_new(NULL, 0, "permessage-deflate");
    uint8_t junk[] = {0xff, 0xff, 0xff, 0x13, 0x37};
    uint8_t frame[32];
    size_t fl = wsf_build(frame, true, 4, 2, junk, sizeof junk, (const uint8_t *)"abcd");
    peer_send_raw(&f->p, frame, fl);
    assert_int_equal(peer_expect_close(&f->p), 1007);
    dfx_free(f);
}

/* RFC 7692 section 6: RSV1 means "compressed" on the first frame of a data
 * message only. With deflate negotiated, RSV1 on a control frame or on a
 * continuation is still a protocol error (1002), and nothing answers it. */
static void expect_rsv1_refused(uint8_t op, bool start_message)
{
    dfx *f = dfx_new(NULL, 0, "permessage-deflate");
    assert_non_null(strstr(f->p.response, "permessage-deflate"));
    uint8_t frame[64];
    size_t fl = 0;
    if (start_message) /* an open compressed message, so a continuation is in order */
        fl = wsf_build(frame, false, 4, 1, "\xf2\x48", 2, (const uint8_t *)"abcd");
    fl += wsf_build(frame + fl, true, 4, op, "ab", 2, (const uint8_t *)"abcd");
    peer_send_raw(&f->p, frame, fl);
    wsf_frame fr;
    int got = peer_recv(&f->p, 50, &fr);
    assert_int_equal(got, 8); /* the close, not a pong or an echo */
    assert_int_equal((f->p.payload[0] << 8) | f->p.payload[1], 1002);
    dfx_free(f);
}

static void test_rsv1_on_control_frames(void **state)
{
    (void)state;
    expect_rsv1_refused(9, false);  /* ping */
    expect_rsv1_refused(10, false); /* pong */
    expect_rsv1_refused(8, false);  /* close */
}

static void test_rsv1_on_continuation(void **state)
{
    (void)state;
    expect_rsv1_refused(0, true);
}

/* Deflate on one route only: a session of another route negotiated nothing,
 * so RSV1 there is a protocol error even on a data frame's first frame. */
static void test_rsv1_on_route_without_extension(void **state)
{
    (void)state;
    ws_mem_net *net = ws_mem_net_new();
    ws_config c = {.backend = "mem", .io_arg = net, .no_signals = true};
    ws_server *srv = ws_server_new(&c);
    ws_extension *pmd = ws_deflate_new(NULL, NULL);
    ws_route(srv, "/z", echo, NULL);
    ws_route(srv, "/plain", echo, NULL);
    assert_int_equal(ws_route_extension(srv, "/z", pmd), 0);
    ws_server_start(srv);
    peer z, plain;
    const char *offer = "Sec-WebSocket-Extensions: permessage-deflate\r\n";
    assert_int_equal(peer_open(&z, srv, net, ws_server_port(srv), "/z", offer, NULL), 101);
    assert_non_null(strstr(z.response, "permessage-deflate"));
    assert_int_equal(peer_open(&plain, srv, net, ws_server_port(srv), "/plain", offer, NULL), 101);
    assert_null(strstr(plain.response, "Sec-WebSocket-Extensions"));
    uint8_t frame[32];
    /* "Hello", compressed (RFC 7692 section 7.2.3.1). */
    size_t fl = wsf_build(frame, true, 4, 1, "\xf2\x48\xcd\xc9\xc9\x07\x00", 7,
                          (const uint8_t *)"abcd");
    peer_send_raw(&plain, frame, fl);
    assert_int_equal(peer_expect_close(&plain), 1002);
    /* The deflate route's session is unaffected and still inflates. */
    peer_send_raw(&z, frame, fl);
    wsf_frame fr;
    assert_int_equal(peer_recv(&z, 50, &fr), 1);
    assert_string_equal((const char *)z.payload, "Hello");
    peer_free(&z);
    peer_free(&plain);
    ws_server_free(srv);
    ws_deflate_free(pmd);
    ws_mem_net_free(net);
}

/* A second extension on the public API, stacked after deflate: it claims
 * RSV2 and reverses payloads, so the order of application is observable. */
static int rev_negotiate(const ws_ext_param *p, size_t n, char *resp, size_t cap, void **s, void *ud)
{
    (void)p; (void)n; (void)cap; (void)ud;
    resp[0] = 0;
    *s = NULL;
    return 0;
}

static void reverse(uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n / 2; i++) {
        uint8_t t = p[i];
        p[i] = p[n - 1 - i];
        p[n - 1 - i] = t;
    }
}

static int rev_decode(void *s, const uint8_t *in, size_t len, ws_ext_buf *out)
{
    (void)s;
    int rc = ws_ext_buf_append(out, in, len);
    if (rc == 0)
        reverse(ws_ext_buf_data(out), len);
    return rc;
}

static int rev_encode(void *s, ws_msg_type t, const uint8_t *in, size_t len, ws_ext_buf *out,
                      unsigned *rsv)
{
    (void)t;
    int rc = rev_decode(s, in, len, out);
    *rsv = WS_RSV2;
    return rc < 0 ? rc : 1;
}

static void test_custom_extension(void **state)
{
    (void)state;
    ws_mem_net *net = ws_mem_net_new();
    ws_config c = {.backend = "mem", .io_arg = net, .no_signals = true};
    ws_server *srv = ws_server_new(&c);
    ws_extension rev = {.name = "x-reverse", .rsv = WS_RSV2, .negotiate = rev_negotiate,
                        .decode = rev_decode, .encode = rev_encode};
    ws_route(srv, "/", echo, NULL);
    ws_route(srv, "/plain", echo, NULL);
    assert_int_equal(ws_route_extension(srv, "/", &rev), 0);
    assert_int_equal(ws_route_no_extensions(srv, "/plain"), 0);
    ws_server_start(srv);
    peer p;
    assert_int_equal(peer_open(&p, srv, net, ws_server_port(srv), "/",
                               "Sec-WebSocket-Extensions: x-reverse\r\n", NULL), 101);
    assert_non_null(strstr(p.response, "Sec-WebSocket-Extensions: x-reverse\r\n"));
    uint8_t frame[64];
    size_t fl = wsf_build(frame, true, 2, 1, "olleh", 5, (const uint8_t *)"abcd");
    peer_send_raw(&p, frame, fl);
    wsf_frame fr;
    assert_int_equal(peer_recv(&p, 50, &fr), 1);
    assert_int_equal(fr.rsv, 2);
    assert_memory_equal(p.payload, "olleh", 5); /* reversed twice: decoded then encoded */
    peer_free(&p);
    peer q;
    assert_int_equal(peer_open(&q, srv, net, ws_server_port(srv), "/plain",
                               "Sec-WebSocket-Extensions: x-reverse\r\n", NULL), 101);
    assert_null(strstr(q.response, "Sec-WebSocket-Extensions"));
    peer_free(&q);
    ws_server_free(srv);
    ws_mem_net_free(net);
}

/* Stacked: permessage-deflate (server-wide) then x-reverse (route), in the
 * client's offer order. Outgoing, the server compresses and then reverses;
 * incoming, it un-reverses and then inflates; both bits are on the frames. */
static void test_stacked_extensions(void **state)
{
    (void)state;
    ws_mem_net *net = ws_mem_net_new();
    ws_config c = {.backend = "mem", .io_arg = net, .no_signals = true};
    ws_server *srv = ws_server_new(&c);
    ws_extension *pmd = ws_deflate_new(NULL, NULL);
    ws_extension rev = {.name = "x-reverse", .rsv = WS_RSV2, .negotiate = rev_negotiate,
                        .decode = rev_decode, .encode = rev_encode};
    ws_server_extension(srv, pmd);
    ws_route(srv, "/", echo, NULL);
    assert_int_equal(ws_route_extension(srv, "/", &rev), 0);
    ws_server_start(srv);
    dfx f = {.net = net, .srv = srv};
    assert_int_equal(peer_open(&f.p, srv, net, ws_server_port(srv), "/",
                               "Sec-WebSocket-Extensions: permessage-deflate, x-reverse\r\n", NULL), 101);
    assert_non_null(strstr(f.p.response, "Sec-WebSocket-Extensions: permessage-deflate; "
                                         "server_no_context_takeover; client_no_context_takeover, x-reverse\r\n"));
    deflateInit2(&f.def, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
    inflateInit2(&f.inf, -15);
    const char *text = "stacked extensions: first deflate, then reverse, and back again in reverse order";
    size_t len = strlen(text);
    uint8_t z[256], plain[256], frame[300];
    size_t zl = client_deflate(&f, text, len, z, sizeof z);
    reverse(z, zl);
    size_t fl = wsf_build(frame, true, 4 | 2, 1, z, zl, (const uint8_t *)"abcd");
    peer_send_raw(&f.p, frame, fl);
    wsf_frame fr;
    assert_int_equal(peer_recv(&f.p, 50, &fr), 1);
    assert_int_equal(fr.rsv, 4 | 2);
    reverse(f.p.payload, f.p.payload_len);
    size_t n = client_inflate(&f, f.p.payload, f.p.payload_len, plain, sizeof plain);
    assert_int_equal(n, len);
    assert_memory_equal(plain, text, len);
    deflateEnd(&f.def);
    inflateEnd(&f.inf);
    peer_free(&f.p);
    ws_server_free(srv);
    ws_deflate_free(pmd);
    ws_mem_net_free(net);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_offer_parsing),
        cmocka_unit_test(test_answers),
        cmocka_unit_test(test_session_no_context),
        cmocka_unit_test(test_session_with_context),
        cmocka_unit_test(test_session_small_window),
        cmocka_unit_test(test_offers_in_order),
        cmocka_unit_test(test_bomb),
        cmocka_unit_test(test_corrupt_stream),
        cmocka_unit_test(test_rsv1_on_control_frames),
        cmocka_unit_test(test_rsv1_on_continuation),
        cmocka_unit_test(test_rsv1_on_route_without_extension),
        cmocka_unit_test(test_custom_extension),
        cmocka_unit_test(test_stacked_extensions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
