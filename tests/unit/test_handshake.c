/* SPDX-License-Identifier: MIT */
/* HTTP head parsing and the upgrade handshake: good and bad vectors, limits,
 * byte-at-a-time arrival, and the exact statuses each fault must produce. */
#include "support/test.h"
#include "proto/ext_offer.h"
#include "proto/handshake.h"
#include "proto/http_parser.h"

#include <stdio.h>
#include <stdlib.h>

static const ws__http_limits LIM = {8192, 64, 4096};

#define GOOD_HEAD                                                        \
    "GET /chat?name=alice&x=1 HTTP/1.1\r\n"                              \
    "Host: server.example.com\r\n"                                       \
    "Upgrade: websocket\r\n"                                             \
    "Connection: keep-alive, Upgrade\r\n"                                \
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"                    \
    "Origin: http://example.com\r\n"                                     \
    "Sec-WebSocket-Protocol: chat, superchat\r\n"                        \
    "Sec-WebSocket-Version: 13\r\n\r\n"

static int parse_whole(const char *s, ws__http_request *req)
{
    size_t scanned = 0;
    return ws__http_parse(s, strlen(s), &scanned, &LIM, req);
}

static void test_parse_good(void **state)
{
    (void)state;
    ws__http_request *req = malloc(sizeof *req);
    int n = parse_whole(GOOD_HEAD, req);
    assert_int_equal(n, (int)strlen(GOOD_HEAD));
    assert_true(ws__slice_ieq(req->method, "GET"));
    assert_true(ws__slice_ieq(req->path, "/chat"));
    assert_true(ws__slice_ieq(req->query, "name=alice&x=1"));
    assert_int_equal(req->minor_version, 1);
    assert_int_equal(req->nheaders, 7);
    assert_non_null(ws__http_find(req, "sec-websocket-key", 0));
    assert_true(ws__http_has_token(req, "connection", "UPGRADE"));
    assert_false(ws__http_has_token(req, "connection", "close"));
    assert_int_equal(ws__handshake_check(req), 0);
    const char *protos[] = {"superchat", "chat"};
    assert_int_equal(ws__handshake_pick_protocol(req, protos, 2), 0);
    const char *other[] = {"mqtt"};
    assert_int_equal(ws__handshake_pick_protocol(req, other, 1), -1);
    char resp[512];
    int len = ws__handshake_response(resp, sizeof resp, req, "chat", NULL);
    assert_true(len > 0);
    assert_non_null(strstr(resp, "HTTP/1.1 101 Switching Protocols\r\n"));
    assert_non_null(strstr(resp, "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
    assert_non_null(strstr(resp, "Sec-WebSocket-Protocol: chat\r\n"));
    assert_null(strstr(resp, "Sec-WebSocket-Extensions"));
    static const char whole[] = "HTTP/1.1 101 Switching Protocols\r\n"
                                "Upgrade: websocket\r\n"
                                "Connection: Upgrade\r\n"
                                "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
                                "Sec-WebSocket-Protocol: chat\r\n"
                                "Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n";
    len = ws__handshake_response(resp, sizeof resp, req, "chat", "permessage-deflate");
    assert_int_equal(len, (int)strlen(whole));
    assert_string_equal(resp, whole);
    /* One byte short of the answer and its NUL: refused, not cut. */
    assert_int_equal(ws__handshake_response(resp, strlen(whole), req, "chat", "permessage-deflate"),
                     -1);
    free(req);
}

/* Byte at a time: partial until the very last byte. */
static void test_parse_incremental(void **state)
{
    (void)state;
    ws__http_request *req = malloc(sizeof *req);
    size_t len = strlen(GOOD_HEAD), scanned = 0;
    for (size_t i = 1; i < len; i++) {
        char *part = malloc(i); /* exact size: ASan catches over-reads */
        memcpy(part, GOOD_HEAD, i);
        assert_int_equal(ws__http_parse(part, i, &scanned, &LIM, req), 0);
        free(part);
    }
    assert_int_equal(ws__http_parse(GOOD_HEAD, len, &scanned, &LIM, req), (int)len);
    free(req);
}

static int status_of(const char *head)
{
    ws__http_request *req = malloc(sizeof *req);
    int n = parse_whole(head, req);
    int st = n < 0 ? -n : n == 0 ? 0 : ws__handshake_check(req);
    free(req);
    return st;
}

static void test_statuses(void **state)
{
    (void)state;
    static const struct { const char *head; int status; } v[] = {
        {"POST /chat HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", 405},
        {"get /chat HTTP/1.1\r\nHost: a\r\n\r\n", 405},
        {"GET /chat HTTP/1.1\r\nHost: a\r\n\r\n", 426},
        {"GET /chat HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n", 426},
        {"GET /chat HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n", 426},
        {"GET /chat HTTP/1.0\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", 400},
        {"GET /chat HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", 400},
        {"GET /chat HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: keep-alive\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", 400},
        {"GET /chat HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: c2hvcnQ=\r\nSec-WebSocket-Version: 13\r\n\r\n", 400},
        {"GET /chat HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: not base64!\r\nSec-WebSocket-Version: 13\r\n\r\n", 400},
        {"GET /chat HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Version: 13\r\n\r\n", 400},
        {"GET /chat HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", 400},
        {"GET /chat HTTP/1.1\r\nHost : a\r\n\r\n", 400},
        {"GET /chat HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", 400},
        {"GET /chat HTTP/1.1\r\n: novalue\r\n\r\n", 400},
        {"GET /chat HTTP/1.1\r\nX: a\x01z\r\n\r\n", 400},
        {"GET /chat HTTP/2.0\r\nHost: a\r\n\r\n", 400},
        {"GET  /chat HTTP/1.1\r\nHost: a\r\n\r\n", 400},
        {"GET /chat\r\nHost: a\r\n\r\n", 400},
        {"\x16\x03\x01\x02\x00\x01", 400},   /* a TLS ClientHello: refused at once */
        {"GET /chat HTTP/1.1\r\nHost: a\r\nUpgrade: WebSocket\r\nConnection: upgrade\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", 0},
    };
    for (size_t i = 0; i < ARRAY_LEN(v); i++) {
        int st = status_of(v[i].head);
        if (st != v[i].status)
            fail_msg("vector %zu: status %d, expected %d", i, st, v[i].status);
    }
}

static void test_limits(void **state)
{
    (void)state;
    ws__http_request *req = malloc(sizeof *req);
    /* Header bytes: 431 as soon as the head passes the limit unterminated. */
    size_t big = 9000;
    char *s = malloc(big + 64);
    strcpy(s, "GET / HTTP/1.1\r\nX: ");
    memset(s + strlen(s), 'a', big);
    s[19 + big] = '\0';
    size_t scanned = 0;
    assert_int_equal(ws__http_parse(s, strlen(s), &scanned, &LIM, req), -431);
    /* Header count. */
    char *many = malloc(70 * 8 + 64);
    strcpy(many, "GET / HTTP/1.1\r\n");
    for (int i = 0; i < 70; i++)
        sprintf(many + strlen(many), "H%02d: v\r\n", i);
    strcat(many, "\r\n");
    scanned = 0;
    assert_int_equal(ws__http_parse(many, strlen(many), &scanned, &LIM, req), -431);
    /* URI length. */
    size_t ulen = 5000 + 64;
    char *uri = calloc(1, ulen);
    size_t k = (size_t)snprintf(uri, ulen, "GET /");
    while (k < 5005)
        uri[k++] = 'u';
    snprintf(uri + k, ulen - k, " HTTP/1.1\r\nHost: a\r\n\r\n");
    scanned = 0;
    assert_int_equal(ws__http_parse(uri, strlen(uri), &scanned, &LIM, req), -414);
    free(s);
    free(many);
    free(uri);
    free(req);
}

static void test_error_responses(void **state)
{
    (void)state;
    char out[512];
    assert_true(ws__http_error_response(out, sizeof out, 426) > 0);
    assert_non_null(strstr(out, "HTTP/1.1 426 Upgrade Required\r\n"));
    assert_non_null(strstr(out, "Sec-WebSocket-Version: 13\r\n"));
    assert_true(ws__http_error_response(out, sizeof out, 405) > 0);
    assert_non_null(strstr(out, "Allow: GET\r\n"));
    assert_true(ws__http_error_response(out, sizeof out, 431) > 0);
    assert_non_null(strstr(out, "431 Request Header Fields Too Large"));
    assert_int_equal(ws__http_error_response(out, 10, 400), -1);
}

static void test_ext_offer(void **state)
{
    (void)state;
    const char *h = "permessage-deflate; client_max_window_bits, "
                    "permessage-deflate; server_no_context_takeover; client_max_window_bits=\"10\","
                    " , x-foo";
    char scratch[256];
    ws__ext_offer offers[WS__EXT_MAX_OFFERS];
    size_t count = 0;
    assert_int_equal(ws__ext_offer_parse(h, strlen(h), scratch, offers, WS__EXT_MAX_OFFERS, &count), 0);
    assert_int_equal(count, 3);
    assert_true(ws__slice_ieq(offers[0].name, "permessage-deflate"));
    assert_int_equal(offers[0].nparams, 1);
    assert_null(offers[0].params[0].value.p);
    assert_int_equal(offers[1].nparams, 2);
    assert_true(ws__slice_ieq(offers[1].params[1].name, "client_max_window_bits"));
    assert_true(ws__slice_ieq(offers[1].params[1].value, "10"));
    assert_true(ws__slice_ieq(offers[2].name, "x-foo"));
    static const char *bad[] = {"permessage-deflate; ", "a; b=\"unterminated", "a;;b", "a b",
                                "a; b=\"sp ace\"", "; a", "a; b="};
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        count = 0;
        assert_int_equal(ws__ext_offer_parse(bad[i], strlen(bad[i]), scratch, offers,
                                             WS__EXT_MAX_OFFERS, &count), -1);
    }
}

/* A long hostile header must parse in linear time: 1 MB of parameters. */
static void test_ext_offer_linear(void **state)
{
    (void)state;
    size_t n = 1 << 20;
    char *h = malloc(n + 1);
    char *scratch = malloc(n);
    for (size_t i = 0; i < n; i++)
        h[i] = i % 2 ? ';' : 'a';
    h[n] = 0;
    ws__ext_offer *offers = malloc(sizeof *offers * WS__EXT_MAX_OFFERS);
    size_t count = 0;
    /* Fails on the parameter limit after a bounded amount of work. */
    assert_int_equal(ws__ext_offer_parse(h, n, scratch, offers, WS__EXT_MAX_OFFERS, &count), -1);
    free(offers);
    free(scratch);
    free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_good),
        cmocka_unit_test(test_parse_incremental),
        cmocka_unit_test(test_statuses),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_error_responses),
        cmocka_unit_test(test_ext_offer),
        cmocka_unit_test(test_ext_offer_linear),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
