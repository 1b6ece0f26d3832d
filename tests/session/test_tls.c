/* SPDX-License-Identifier: MIT */
/* TLS sessions on the in-memory backend (no sockets): a TLS listener and
 * wss:// clients in one process, certificates made for the test. Echo of
 * every size with both handler styles, broadcast to TLS members, what a
 * client must refuse (an untrusted CA, the wrong name), what a TLS port
 * must cut (plain HTTP, garbage, a stalled handshake), reloading the
 * certificate. (A slow reader over TLS is in the integration tests: the
 * mem network gives no backpressure to a library-held end.) */
#include "support/test.h"
#include "support/certs.h"
#include "wschat.h"

#include <stdio.h>
#include <stdlib.h>

typedef struct rig {
    ws_mem_net *net;
    ws_server *srv;
    ws_client *cl;
    int port;
    test_certs certs;
    ws_group *g;
    int opens, fails, closes, got;
    ws_close_reason fail, close;
    size_t last_len;
    char last[128];
} rig;

static void srv_echo(ws_session *s, void *app)
{
    rig *r = app;
    if (r->g)
        ws_group_add(r->g, s);
    ws_msg m;
    while (ws_recv(s, &m) == WS_OK) {
        m.type == WS_MSG_TEXT ? ws_send_text_n(s, (const char *)m.data, m.len)
                              : ws_send_binary(s, m.data, m.len);
    }
}

static void ev_echo(ws_session *s, const ws_msg *m, void *app)
{
    (void)app;
    m->type == WS_MSG_TEXT ? ws_send_text_n(s, (const char *)m->data, m->len)
                           : ws_send_binary(s, m->data, m->len);
}

/* A TLS server on the mem backend with /echo and /ev; with `mutual`, its
 * listener requires a client certificate from the test CA. */
static rig *rig_make(ws_config extra, bool mutual)
{
    rig *r = calloc(1, sizeof *r);
    assert_int_equal(test_certs_make(&r->certs), 0);
    r->net = ws_mem_net_new();
    ws_config c = extra;
    c.backend = "mem";
    c.io_arg = r->net;
    c.no_signals = true;
    r->srv = ws_server_new(&c);
    ws_route(r->srv, "/echo", srv_echo, r);
    ws_route_events(r->srv, "/ev", &(ws_event_callbacks){.on_message = ev_echo}, r);
    ws_tls_options tls = {.cert_file = r->certs.cert,
                          .key_file = r->certs.key,
                          .ca_file = mutual ? r->certs.ca : NULL};
    assert_int_equal(ws_server_listen(r->srv, &(ws_listen_options){.tls = &tls}), 0);
    assert_int_equal(ws_server_start(r->srv), 0);
    r->port = ws_server_port(r->srv);
    r->cl = ws_client_new(&c, NULL);
    return r;
}

static rig *rig_new(ws_config extra) { return rig_make(extra, false); }

static void rig_free(rig *r)
{
    ws_client_free(r->cl);
    ws_server_free(r->srv);
    if (r->g)
        ws_group_free(r->g);
    ws_mem_net_free(r->net);
    test_certs_remove(&r->certs);
    free(r);
}

static void pump(rig *r, int n)
{
    for (int i = 0; i < n; i++) {
        ws_server_step(r->srv, 0);
        ws_client_step(r->cl, 0);
    }
}

static void on_fail(ws_session_id id, const ws_close_reason *why, void *app)
{
    rig *r = app;
    (void)id;
    r->fails++;
    r->fail = *why;
}

static void on_open(ws_session *s, void *app)
{
    rig *r = app;
    r->opens++;
    ws_send_text(s, "hello over TLS");
}

static void on_message(ws_session *s, const ws_msg *m, void *app)
{
    rig *r = app;
    (void)s;
    r->got++;
    r->last_len = m->len;
    snprintf(r->last, sizeof r->last, "%.*s", (int)(m->len < 100 ? m->len : 100),
             (const char *)m->data);
}

static void on_close(ws_session *s, const ws_close_reason *why, void *app)
{
    rig *r = app;
    (void)s;
    r->closes++;
    r->close = *why;
}

static int connect_to(rig *r, const char *path, const ws_tls_options *tls)
{
    char url[96];
    snprintf(url, sizeof url, "wss://127.0.0.1:%d%s", r->port, path);
    ws_connect_options o = {.tls = tls, .on_fail = on_fail};
    ws_event_callbacks cb = {.on_open = on_open, .on_message = on_message, .on_close = on_close};
    return ws_connect_events(r->cl, url, &o, &cb, r, NULL);
}

/* A sequential client checking echoes of every size class. */
typedef struct sizes_run {
    rig *r;
    int ok, total;
} sizes_run;

static void sizes_handler(ws_session *s, void *app)
{
    sizes_run *sr = app;
    static const size_t sizes[] = {0, 1, 125, 126, 16383, 16384, 16385, 65536, 1 << 20};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        uint8_t *p = malloc(sizes[i] + 1);
        for (size_t k = 0; k < sizes[i]; k++)
            p[k] = (uint8_t)(k * 7 + i);
        ws_send_binary(s, p, sizes[i]);
        ws_msg m;
        sr->total++;
        if (ws_recv(s, &m) == WS_OK && m.len == sizes[i] && !memcmp(m.data, p, sizes[i]))
            sr->ok++;
        free(p);
    }
    ws_close(s, WS_CLOSE_NORMAL, NULL);
}

static void test_echo_every_size(void **state)
{
    (void)state;
    if (!ws_tls_available())
        skip();
    for (int style = 0; style < 2; style++) {
        rig *r = rig_new((ws_config){0});
        ws_tls_options tls = {.ca_file = r->certs.ca};
        sizes_run sr = {r, 0, 0};
        char url[96];
        snprintf(url, sizeof url, "wss://127.0.0.1:%d%s", r->port, style ? "/ev" : "/echo");
        ws_connect_options o = {.tls = &tls, .on_fail = on_fail};
        assert_int_equal(ws_connect(r->cl, url, &o, sizes_handler, &sr, NULL), 0);
        pump(r, 400);
        assert_int_equal(r->fails, 0);
        assert_int_equal(sr.total, 9);
        assert_int_equal(sr.ok, 9);
        rig_free(r);
    }
}

/* n clients have opened, each greeted back by the echo. */
static void opened(rig *r, int n)
{
    pump(r, 40);
    assert_int_equal(r->opens, n);
    assert_int_equal(r->got, n);
    assert_string_equal(r->last, "hello over TLS");
}

static void test_verification(void **state)
{
    (void)state;
    if (!ws_tls_available())
        skip();
    rig *r = rig_new((ws_config){0});
    /* The system's store does not know the test CA. */
    assert_int_equal(connect_to(r, "/echo", NULL), 0);
    pump(r, 30);
    assert_int_equal(r->fails, 1);
    assert_int_equal(r->fail.err, WS_ECERT);
    assert_non_null(strstr(r->fail.reason, "certificate"));
    /* Another CA: refused too. */
    ws_tls_options other = {.ca_file = r->certs.other_ca};
    assert_int_equal(connect_to(r, "/echo", &other), 0);
    pump(r, 30);
    assert_int_equal(r->fails, 2);
    assert_int_equal(r->fail.err, WS_ECERT);
    /* The right CA but the wrong name. */
    ws_tls_options wrong = {.ca_file = r->certs.ca, .server_name = "chat.example.org"};
    assert_int_equal(connect_to(r, "/echo", &wrong), 0);
    pump(r, 30);
    assert_int_equal(r->fails, 3);
    assert_int_equal(r->fail.err, WS_ECERT);
    assert_int_equal(r->opens, 0);
    /* The right CA and name: open; an insecure client: open too. */
    ws_tls_options good = {.ca_file = r->certs.ca, .server_name = "localhost"};
    assert_int_equal(connect_to(r, "/echo", &good), 0);
    ws_tls_options insecure = {.insecure_skip_verify = true};
    assert_int_equal(connect_to(r, "/echo", &insecure), 0);
    opened(r, 2);
    rig_free(r);
}

/* A client refused in the handshake: it fails, nothing opens. */
static void refused(rig *r, const ws_tls_options *o)
{
    int fails = r->fails;
    assert_int_equal(connect_to(r, "/ev", o), 0);
    pump(r, 40);
    assert_int_equal(r->fails, fails + 1);
    assert_int_equal(r->opens, 0);
}

/* A listener with a CA file requires a client certificate from that CA:
 * none, or one from another CA, fails the handshake on both sides; the
 * CA's own opens. The client presents its certificate through the same
 * ws_tls_options (cert_file, key_file). */
static void test_client_certificates(void **state)
{
    (void)state;
    if (!ws_tls_available())
        skip();
    rig *r = rig_make((ws_config){0}, true);
    refused(r, &(ws_tls_options){.ca_file = r->certs.ca}); /* no certificate */
    refused(r, &(ws_tls_options){.ca_file = r->certs.ca,   /* another CA's */
                                 .cert_file = r->certs.other_cert,
                                 .key_file = r->certs.other_key});
    /* A key that does not load is ws_connect's own error. */
    ws_tls_options missing = {.ca_file = r->certs.ca,
                              .cert_file = "/nonexistent/c.pem",
                              .key_file = "/nonexistent/k.pem"};
    assert_int_equal(connect_to(r, "/ev", &missing), WS_ETLS);
    ws_tls_options member = {
        .ca_file = r->certs.ca, .cert_file = r->certs.cert, .key_file = r->certs.key};
    assert_int_equal(connect_to(r, "/ev", &member), 0);
    opened(r, 1);
    rig_free(r);
}

/* Bytes a raw connection gets back until the server closes it. */
static size_t raw_until_closed(rig *r, int c, int rounds)
{
    uint8_t buf[4096];
    size_t got = 0;
    for (int i = 0; i < rounds && !ws_mem_server_closed(r->net, c); i++) {
        ws_server_step(r->srv, 0);
        long n;
        while ((n = ws_mem_read(r->net, c, buf, sizeof buf)) > 0)
            got += (size_t)n;
    }
    return got;
}

static void test_hostile(void **state)
{
    (void)state;
    if (!ws_tls_available())
        skip();
    rig *r = rig_new((ws_config){.handshake_timeout_ms = 2000});
    /* Plain HTTP to the TLS port: cut (an alert at most), the server goes on. */
    int c = ws_mem_connect(r->net, r->port);
    const char *http = "GET /echo HTTP/1.1\r\nHost: x\r\n\r\n";
    ws_mem_write(r->net, c, http, strlen(http));
    size_t got = raw_until_closed(r, c, 20);
    assert_true(ws_mem_server_closed(r->net, c));
    assert_true(got < 64); /* no HTTP answer in the clear */
    /* Garbage and a truncated ClientHello. */
    int g = ws_mem_connect(r->net, r->port);
    ws_mem_write(r->net, g, "\x16\x03\x01\x00\x05\xff\xff\xff\xff\xff", 10);
    raw_until_closed(r, g, 20);
    assert_true(ws_mem_server_closed(r->net, g));
    int t = ws_mem_connect(r->net, r->port);
    ws_mem_write(r->net, t, "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11);
    raw_until_closed(r, t, 5);
    assert_false(ws_mem_server_closed(r->net, t)); /* waiting for the rest... */
    ws_mem_advance(r->net, 2100);                  /* ...until the handshake timeout */
    raw_until_closed(r, t, 5);
    assert_true(ws_mem_server_closed(r->net, t));
    /* A well-behaved client meanwhile is served. */
    ws_tls_options tls = {.ca_file = r->certs.ca};
    assert_int_equal(connect_to(r, "/echo", &tls), 0);
    pump(r, 40);
    assert_int_equal(r->opens, 1);
    assert_int_equal(r->got, 1);
    rig_free(r);
}

static void test_reload(void **state)
{
    (void)state;
    if (!ws_tls_available())
        skip();
    rig *r = rig_new((ws_config){0});
    ws_tls_options first = {.ca_file = r->certs.ca};
    ws_tls_options second = {.ca_file = r->certs.other_ca};
    assert_int_equal(connect_to(r, "/echo", &first), 0);
    pump(r, 40);
    assert_int_equal(r->opens, 1);
    /* Swap the files the listener was configured with, then reload. */
    assert_int_equal(rename(r->certs.other_cert, r->certs.cert), 0);
    assert_int_equal(rename(r->certs.other_key, r->certs.key), 0);
    r->certs.other_cert[0] = r->certs.other_key[0] = 0;
    assert_int_equal(ws_server_tls_reload(r->srv), 0);
    /* New connections get the new certificate... */
    assert_int_equal(connect_to(r, "/echo", &second), 0);
    assert_int_equal(connect_to(r, "/echo", &first), 0);
    pump(r, 40);
    assert_int_equal(r->opens, 2);
    assert_int_equal(r->fails, 1);
    assert_int_equal(r->fail.err, WS_ECERT); /* the old CA no longer vouches for it */
    /* ...and a file that does not load changes nothing. */
    FILE *f = fopen(r->certs.key, "w");
    fputs("not a key\n", f);
    fclose(f);
    assert_int_equal(ws_server_tls_reload(r->srv), WS_ETLS);
    assert_int_equal(connect_to(r, "/echo", &second), 0);
    pump(r, 40);
    assert_int_equal(r->opens, 3);
    rig_free(r);
}

/* Broadcast: the frame is encoded once, each member's copy encrypted by
 * its own transport. */
static void test_broadcast(void **state)
{
    (void)state;
    if (!ws_tls_available())
        skip();
    rig *r = rig_new((ws_config){0});
    r->g = ws_group_new(r->srv);
    ws_tls_options tls = {.ca_file = r->certs.ca};
    for (int i = 0; i < 3; i++)
        assert_int_equal(connect_to(r, "/echo", &tls), 0);
    pump(r, 40);
    assert_int_equal(ws_group_count(r->g), 3);
    r->got = 0;
    assert_int_equal(ws_group_broadcast_text(r->g, "to every TLS member"), 3);
    pump(r, 20);
    assert_int_equal(r->got, 3);
    assert_string_equal(r->last, "to every TLS member");
    rig_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_echo_every_size),
        cmocka_unit_test(test_verification),
        cmocka_unit_test(test_client_certificates),
        cmocka_unit_test(test_hostile),
        cmocka_unit_test(test_reload),
        cmocka_unit_test(test_broadcast),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
