/* SPDX-License-Identifier: MIT */
/* WebSocket URIs: what is accepted, what each part becomes, and what is
 * refused before it could reach a request line. */
#include "support/test.h"
#include "proto/url.h"
#include "wschat/error.h"

static void expect(const char *url, bool tls, const char *host, int port, const char *target,
                   const char *query, const char *host_hdr)
{
    ws__url u;
    assert_int_equal(ws__url_parse(url, &u), 0);
    assert_int_equal(u.tls, tls);
    assert_int_equal(u.host.n, strlen(host));
    assert_memory_equal(u.host.p, host, u.host.n);
    assert_int_equal(u.port, port);
    assert_int_equal(u.target.n, strlen(target));
    assert_memory_equal(u.target.p, target, u.target.n);
    assert_int_equal(u.query.n, strlen(query));
    assert_memory_equal(u.query.p, query, u.query.n);
    char h[300];
    assert_true(ws__url_host_header(&u, h, sizeof h) > 0);
    assert_string_equal(h, host_hdr);
}

static void test_good(void **state)
{
    (void)state;
    expect("ws://127.0.0.1:8080/chat", false, "127.0.0.1", 8080, "/chat", "", "127.0.0.1:8080");
    expect("ws://example.com", false, "example.com", 80, "/", "", "example.com");
    expect("WSS://Example.COM/a/b?x=1&y=%20", true, "Example.COM", 443, "/a/b?x=1&y=%20",
           "x=1&y=%20", "Example.COM");
    expect("ws://[::1]:9000/", false, "::1", 9000, "/", "", "[::1]:9000");
    expect("wss://[2001:db8::7]/", true, "2001:db8::7", 443, "/", "", "[2001:db8::7]");
    expect("ws://h:80/", false, "h", 80, "/", "", "h:80"); /* an explicit port is kept */
    expect("ws://h/?", false, "h", 80, "/?", "", "h");
}

static void test_bad(void **state)
{
    (void)state;
    static const char *const bad[] = {
        NULL,
        "",
        "http://h/",
        "ws:/h/",
        "ws//h",
        "ws://",
        "ws://:80/",
        "ws://h:/",
        "ws://h:0/",
        "ws://h:65536/",
        "ws://h:12ab/",
        "ws://user@h/",
        "ws://user:pw@h/",
        "ws://h/#frag",
        "ws://h/a b",
        "ws://h/a\r\nX: y",
        "ws://h/\x01",
        "ws://[::1/",
        "ws://[]/",
        "ws://[zz]/",
        "ws://h\xc3\xa9/",
        "ws://h?x=1",
        "ws://h:123456789/",
    };
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        ws__url u;
        assert_int_equal(ws__url_parse(bad[i], &u), WS_EINVAL);
    }
    char longhost[300] = "ws://";
    memset(longhost + 5, 'a', 260);
    ws__url u;
    assert_int_equal(ws__url_parse(longhost, &u), WS_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good),
        cmocka_unit_test(test_bad),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
