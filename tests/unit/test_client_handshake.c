/* SPDX-License-Identifier: MIT */
/* The client's half of the opening handshake, sans-I/O: the request bytes,
 * the response-head parser fed whole, byte by byte and in random splits,
 * and each way a 101 can be wrong. */
#include "support/test.h"
#include "support/feed.h"
#include "proto/client_handshake.h"
#include "proto/handshake.h"
#include "wschat/error.h"

#include <stdio.h>
#include <stdlib.h>

static const ws__http_limits LIM = {8192, 64, 4096};
/* RFC 6455 section 1.3's example key and its accept value. */
#define KEY "dGhlIHNhbXBsZSBub25jZQ=="
#define ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
#define GOOD_101                                                                        \
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" \
    "Sec-WebSocket-Accept: " ACCEPT "\r\nSec-WebSocket-Protocol: chat\r\n\r\n"

static void test_key(void **state)
{
    (void)state;
    static const uint8_t nonce[16] = "the sample nonce";
    char key[WS__KEY_LEN + 1];
    ws__client_key(nonce, key);
    assert_string_equal(key, KEY);
}

static void test_request(void **state)
{
    (void)state;
    ws__url u;
    assert_int_equal(ws__url_parse("ws://server.example.com:8080/chat?x=1", &u), 0);
    const char *protos[] = {"chat", "superchat"};
    const char *hdrs[] = {"Origin: http://example.com", "Cookie: a=b"};
    ws__client_request r = {&u,   KEY, protos, 2, "permessage-deflate; client_max_window_bits",
                            hdrs, 2};
    char out[1024];
    int n = ws__client_request_write(out, sizeof out, &r);
    const char *want = "GET /chat?x=1 HTTP/1.1\r\n"
                       "Host: server.example.com:8080\r\n"
                       "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                       "Sec-WebSocket-Key: " KEY "\r\n"
                       "Sec-WebSocket-Version: 13\r\n"
                       "Sec-WebSocket-Protocol: chat, superchat\r\n"
                       "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
                       "Origin: http://example.com\r\nCookie: a=b\r\n\r\n";
    assert_int_equal(n, (int)strlen(want));
    assert_string_equal(out, want);
    /* Every cap short of the whole request fails cleanly. */
    for (size_t cap = 0; cap <= strlen(want); cap++)
        assert_int_equal(ws__client_request_write(out, cap, &r), -1);
    /* The server's parser takes it as a valid upgrade. */
    ws__http_request *req = malloc(sizeof *req);
    size_t scanned = 0;
    assert_int_equal(ws__http_parse(want, strlen(want), &scanned, &LIM, req), n);
    assert_int_equal(ws__handshake_check(req), 0);
    free(req);
}

static void test_header_ok(void **state)
{
    (void)state;
    assert_true(ws__client_header_ok("Origin: https://x"));
    assert_true(ws__client_header_ok("Authorization: Bearer abc"));
    assert_true(ws__client_header_ok("X-Empty:"));
    static const char *const bad[] = {NULL,
                                      "",
                                      "NoColon",
                                      ": v",
                                      "Bad Name: v",
                                      "X: a\r\nY: b",
                                      "X: a\n",
                                      "host: h",
                                      "Sec-WebSocket-Key: x",
                                      "UPGRADE: h2c",
                                      "Content-Length: 5",
                                      "X(y): z"};
    for (size_t i = 0; i < ARRAY_LEN(bad); i++)
        assert_false(ws__client_header_ok(bad[i]));
}

typedef struct parse_run {
    char buf[16384];
    size_t len, scanned;
    int result;
    ws__http_response resp;
} parse_run;

static long feed_fn(void *ud, uint8_t *chunk, size_t n)
{
    parse_run *r = ud;
    memcpy(r->buf + r->len, chunk, n);
    r->len += n;
    r->result = ws__http_parse_response(r->buf, r->len, &r->scanned, &LIM, &r->resp);
    return r->result == 0 ? (long)n : -1;
}

/* Parses s in every split; every split must agree. out is the whole run
 * (its slices point into out->buf). */
static int parse_all_ways(const char *s, parse_run *out)
{
    memset(out, 0, sizeof *out);
    feed_split((const uint8_t *)s, strlen(s), FEED_WHOLE, 1, feed_fn, out);
    for (int mode = FEED_BYTES; mode <= FEED_RANDOM; mode++) {
        for (unsigned seed = 1; seed <= (mode == FEED_RANDOM ? 20u : 1u); seed++) {
            parse_run *r = calloc(1, sizeof *r);
            feed_split((const uint8_t *)s, strlen(s), (feed_mode)mode, seed, feed_fn, r);
            assert_int_equal(r->result, out->result);
            assert_int_equal(r->resp.nheaders, out->resp.nheaders);
            free(r);
        }
    }
    return out->result;
}

static void test_parse_response(void **state)
{
    (void)state;
    parse_run *r = malloc(sizeof *r);
    assert_int_equal(parse_all_ways(GOOD_101 "\x81\x02hi", r), (int)strlen(GOOD_101));
    assert_int_equal(r->resp.status, 101);
    assert_int_equal(r->resp.minor_version, 1);
    assert_true(ws__slice_ieq(r->resp.reason, "Switching Protocols"));
    assert_int_equal(r->resp.nheaders, 4);
    int proto;
    const char *protos[] = {"superchat", "chat"};
    assert_int_equal(ws__client_check_response(&r->resp, KEY, protos, 2, &proto), 0);
    assert_int_equal(proto, 1);
    /* No reason phrase at all is tolerated. */
    assert_true(parse_all_ways("HTTP/1.1 404\r\n\r\n", r) > 0);
    assert_int_equal(r->resp.status, 404);
    assert_int_equal(r->resp.reason.n, 0);
    free(r);
}

static void test_parse_garbage(void **state)
{
    (void)state;
    parse_run *r = malloc(sizeof *r);
    static const char *const bad[] = {
        "SSH-2.0-OpenSSH_9.2\r\n\r\n", /* not HTTP: refused at the first bytes */
        "HTTP/2 101 x\r\n\r\n",
        "HTTP/1.1 1O1 x\r\n\r\n",
        "HTTP/1.1 101x\r\n\r\n",
        "HTTP/1.1 099 x\r\n\r\n",
        "HTTP/1.1 101 ok\r\nBad Header\r\n\r\n",
        "HTTP/1.1 101 ok\r\n folded: no\r\n\r\n",
        "HTTP/1.1 101 ok\r\nX: a\rb\r\n\r\n",
        "HTTP/1.1 101 bad\x01reason\r\n\r\n",
    };
    for (size_t i = 0; i < ARRAY_LEN(bad); i++)
        assert_int_equal(parse_all_ways(bad[i], r), WS_EHTTP);
    /* Garbage is known after five bytes, long before the head limit. */
    size_t scanned = 0;
    assert_int_equal(ws__http_parse_response("<html", 5, &scanned, &LIM, &r->resp), WS_EHTTP);
    assert_int_equal(ws__http_parse_response("HTT", 3, &scanned, &LIM, &r->resp), 0);
    free(r);
}

static void test_limits(void **state)
{
    (void)state;
    /* A 64 KiB header: refused once the head limit is passed, without its end. */
    size_t big = 65536;
    char *s = malloc(big + 64);
    int k = snprintf(s, big + 64, "HTTP/1.1 101 ok\r\nX-Big: ");
    memset(s + k, 'a', big);
    s[k + big] = '\0';
    size_t scanned = 0;
    ws__http_response *resp = malloc(sizeof *resp);
    assert_int_equal(ws__http_parse_response(s, 8192, &scanned, &LIM, resp), 0);
    assert_int_equal(ws__http_parse_response(s, 8193, &scanned, &LIM, resp), WS_ETOOBIG);
    /* Too many headers. */
    size_t n = (size_t)snprintf(s, big, "HTTP/1.1 101 ok\r\n");
    for (int i = 0; i < 65; i++)
        n += (size_t)snprintf(s + n, big - n, "X-%d: v\r\n", i);
    n += (size_t)snprintf(s + n, big - n, "\r\n");
    scanned = 0;
    assert_int_equal(ws__http_parse_response(s, n, &scanned, &LIM, resp), WS_ETOOBIG);
    free(resp);
    free(s);
}

static int check(const char *head, const char *const *protos, size_t n)
{
    ws__http_response *resp = malloc(sizeof *resp);
    size_t scanned = 0;
    assert_true(ws__http_parse_response(head, strlen(head), &scanned, &LIM, resp) > 0);
    int proto;
    int rc = ws__client_check_response(resp, KEY, protos, n, &proto);
    free(resp);
    return rc;
}

static void test_check_failures(void **state)
{
    (void)state;
    const char *chat[] = {"chat"};
    const char *other[] = {"other"};
#define UP "Upgrade: websocket\r\nConnection: Upgrade\r\n"
#define ACC "Sec-WebSocket-Accept: " ACCEPT "\r\n"
    assert_int_equal(check("HTTP/1.1 101 ok\r\n" UP ACC "\r\n", NULL, 0), 0);
    assert_int_equal(
        check("HTTP/1.1 101 ok\r\nupgrade: WebSocket\r\nconnection: keep-alive, upgrade\r\n" ACC
              "\r\n",
              NULL, 0),
        0);
    assert_int_equal(check("HTTP/1.1 302 Found\r\nLocation: /x\r\n\r\n", NULL, 0), WS_EREDIRECT);
    assert_int_equal(check("HTTP/1.1 200 OK\r\n\r\n", NULL, 0), WS_ESTATUS);
    assert_int_equal(check("HTTP/1.1 404 Not Found\r\n\r\n", NULL, 0), WS_ESTATUS);
    assert_int_equal(check("HTTP/1.1 101 ok\r\nConnection: Upgrade\r\n" ACC "\r\n", NULL, 0),
                     WS_EUPGRADE);
    assert_int_equal(check("HTTP/1.1 101 ok\r\nUpgrade: websocket\r\n" ACC "\r\n", NULL, 0),
                     WS_EUPGRADE);
    assert_int_equal(
        check("HTTP/1.1 101 ok\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n" ACC "\r\n", NULL, 0),
        WS_EUPGRADE);
    assert_int_equal(check("HTTP/1.1 101 ok\r\n" UP "\r\n", NULL, 0), WS_EACCEPT);
    assert_int_equal(check("HTTP/1.1 101 ok\r\n" UP
                           "Sec-WebSocket-Accept: AAAAPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
                           NULL, 0),
                     WS_EACCEPT);
    assert_int_equal(check("HTTP/1.1 101 ok\r\n" UP ACC ACC "\r\n", NULL, 0), WS_EACCEPT);
    assert_int_equal(
        check("HTTP/1.1 101 ok\r\n" UP "Sec-WebSocket-Accept: " ACCEPT "x\r\n\r\n", NULL, 0),
        WS_EACCEPT);
    /* Subprotocols: one of those offered, at most one, none if none offered. */
    assert_int_equal(
        check("HTTP/1.1 101 ok\r\n" UP ACC "Sec-WebSocket-Protocol: chat\r\n\r\n", chat, 1), 0);
    assert_int_equal(check("HTTP/1.1 101 ok\r\n" UP ACC "\r\n", chat, 1), 0);
    assert_int_equal(
        check("HTTP/1.1 101 ok\r\n" UP ACC "Sec-WebSocket-Protocol: chat\r\n\r\n", other, 1),
        WS_ESUBPROTO);
    assert_int_equal(
        check("HTTP/1.1 101 ok\r\n" UP ACC "Sec-WebSocket-Protocol: chat\r\n\r\n", NULL, 0),
        WS_ESUBPROTO);
    assert_int_equal(
        check("HTTP/1.1 101 ok\r\n" UP ACC "Sec-WebSocket-Protocol: CHAT\r\n\r\n", chat, 1),
        WS_ESUBPROTO);
    assert_int_equal(check("HTTP/1.1 101 ok\r\n" UP ACC
                           "Sec-WebSocket-Protocol: chat\r\nSec-WebSocket-Protocol: chat\r\n\r\n",
                           chat, 1),
                     WS_ESUBPROTO);
#undef UP
#undef ACC
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key),
        cmocka_unit_test(test_request),
        cmocka_unit_test(test_header_ok),
        cmocka_unit_test(test_parse_response),
        cmocka_unit_test(test_parse_garbage),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_check_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
