/* SPDX-License-Identifier: MIT */
/* Whole sessions on the in-memory backend, for both handler styles: the same
 * behaviours are checked against a sequential handler and against event
 * callbacks. The virtual clock makes every timeout test exact. */
#include "support/test.h"
#include "support/peer.h"

#include <wschat/tls.h>

#include "session/session.h" /* the idle test looks inside a session */

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

typedef enum { STYLE_SEQ, STYLE_EVENTS } style;

typedef struct app {
    int closes;                 /* close callbacks seen */
    ws_close_reason last;       /* the last close reason */
    int errors;
    int drains;
    int flood_sent;             /* messages the handler managed to queue */
    int opens;
    char query_name[64];
    char header_ua[64];
    char cookie[64];
    char path[64];
    char peer[64];
    const char *protocol;
    ws_group *group;
    ws_group *group2;           /* joined on request ("join2") */
    int frag_rc[6];             /* results of the "frag" command's sends */
    ws_session_id ids[8];       /* of the sessions opened, in order */
    /* Facts read again after open (the "facts" message). */
    bool late_have_request;
    int late_header_rc;
    char late_header[64];
    char late_path[64];
    char late_peer[64];
    const char *late_protocol;
} app;

typedef struct fixture {
    ws_mem_net *net;
    ws_server *srv;
    app a;
    style st;
    int port;
} fixture;

static void on_close_cb(ws_session *s, const ws_close_reason *r, void *ud)
{
    app *a = ud;
    (void)s;
    a->closes++;
    a->last = *r;
}

static void record_facts(ws_session *s, app *a)
{
    ws_session_query(s, "name", a->query_name, sizeof a->query_name);
    ws_session_header(s, "User-Agent", a->header_ua, sizeof a->header_ua);
    ws_session_cookie(s, "sid", a->cookie, sizeof a->cookie);
    snprintf(a->path, sizeof a->path, "%s", ws_session_path(s));
    snprintf(a->peer, sizeof a->peer, "%s", ws_session_peer(s));
    a->protocol = ws_session_protocol(s);
    if (a->opens <= 8)
        a->ids[a->opens - 1] = ws_session_get_id(s);
    if (a->group)
        ws_group_add(a->group, s);
}

/* What both styles do with one message. Returns 1 when the handler should
 * stop reading (it closed). */
static int handle(ws_session *s, app *a, const ws_msg *m)
{
    if (ws_msg_equals_ci(m, "bye")) {
        ws_close(s, WS_CLOSE_NORMAL, "Client said BYE");
        return 1;
    }
    if (m->type == WS_MSG_TEXT && strncmp((const char *)m->data, "flood:", 6) == 0) {
        int n = atoi((const char *)m->data + 6);
        char block[1024];
        memset(block, 'f', sizeof block);
        for (int i = 0; i < n; i++) {
            if (ws_send_binary(s, block, sizeof block) != 0)
                break;
            a->flood_sent++;
        }
        return 0;
    }
    if (m->type == WS_MSG_TEXT && strncmp((const char *)m->data, "cast:", 5) == 0) {
        ws_group_broadcast_text(a->group, (const char *)m->data + 5);
        return 0;
    }
    if (m->type == WS_MSG_TEXT && strncmp((const char *)m->data, "cast2:", 6) == 0) {
        ws_group_broadcast_text(a->group2, (const char *)m->data + 6);
        return 0;
    }
    if (m->type == WS_MSG_TEXT && strcmp((const char *)m->data, "frag") == 0) {
        a->frag_rc[0] = ws_send_frame(s, WS_MSG_CONTINUATION, true, "x", 1);
        a->frag_rc[1] = ws_send_frame(s, WS_MSG_TEXT, false, "ab", 2);
        a->frag_rc[2] = ws_send_text(s, "interleaved");
        a->frag_rc[3] = ws_send_frame(s, WS_MSG_TEXT, false, "zz", 2);
        a->frag_rc[4] = ws_send_frame(s, WS_MSG_CONTINUATION, true, "cd", 2);
        a->frag_rc[5] = ws_send_text(s, "after");
        return 0;
    }
    if (m->type == WS_MSG_TEXT && strcmp((const char *)m->data, "fragopen") == 0) {
        ws_send_frame(s, WS_MSG_TEXT, false, "ab", 2);
        return 0;
    }
    if (m->type == WS_MSG_TEXT && strcmp((const char *)m->data, "fragend") == 0) {
        ws_send_frame(s, WS_MSG_CONTINUATION, true, "cd", 2);
        return 0;
    }
    if (m->type == WS_MSG_TEXT && strcmp((const char *)m->data, "join2") == 0) {
        ws_group_add(a->group2, s);
        return 0;
    }
    if (m->type == WS_MSG_TEXT && strcmp((const char *)m->data, "leave2") == 0) {
        ws_group_remove(a->group2, s);
        return 0;
    }
    if (m->type == WS_MSG_TEXT && strcmp((const char *)m->data, "quit") == 0)
        return 1; /* handler returns: the library closes with 1000 */
    if (m->type == WS_MSG_TEXT && strcmp((const char *)m->data, "facts") == 0) {
        a->late_have_request = ws_session_request(s) != NULL;
        a->late_header_rc = ws_session_header(s, "User-Agent", a->late_header,
                                              sizeof a->late_header);
        snprintf(a->late_path, sizeof a->late_path, "%s", ws_session_path(s));
        snprintf(a->late_peer, sizeof a->late_peer, "%s", ws_session_peer(s));
        a->late_protocol = ws_session_protocol(s);
        ws_send_text(s, "facts");
        return 0;
    }
    if (m->type == WS_MSG_TEXT)
        ws_send_text_n(s, (const char *)m->data, m->len);
    else
        ws_send_binary(s, m->data, m->len);
    return 0;
}

static void seq_handler(ws_session *s, void *ud)
{
    app *a = ud;
    a->opens++;
    ws_on_close(s, on_close_cb, a);
    record_facts(s, a);
    ws_msg m;
    while (ws_recv(s, &m) == WS_OK)
        if (handle(s, a, &m))
            break;
}

static void ev_open(ws_session *s, void *ud)
{
    app *a = ud;
    a->opens++;
    ws_on_close(s, on_close_cb, a);
    record_facts(s, a);
}

static void ev_message(ws_session *s, const ws_msg *m, void *ud)
{
    if (handle(s, ud, m) && strcmp((const char *)m->data, "quit") == 0)
        ws_close(s, WS_CLOSE_NORMAL, NULL);
}

static void ev_error(ws_session *s, int err, void *ud)
{
    (void)s;
    (void)err;
    ((app *)ud)->errors++;
}

static void ev_drain(ws_session *s, void *ud)
{
    (void)s;
    ((app *)ud)->drains++;
}

static const ws_event_callbacks EV = {ev_open, ev_message, ev_error, NULL, ev_drain};

static fixture *fx_new_keep(style st, ws_config *over, bool keep_request);

static fixture *fx_new(style st, ws_config *over) { return fx_new_keep(st, over, false); }

static fixture *fx_new_keep(style st, ws_config *over, bool keep_request)
{
    fixture *f = calloc(1, sizeof *f);
    f->st = st;
    f->net = ws_mem_net_new();
    ws_config c = over ? *over : (ws_config){0};
    c.backend = "mem";
    c.io_arg = f->net;
    c.no_signals = true;
    f->srv = ws_server_new(&c);
    assert_non_null(f->srv);
    f->a.group = ws_group_new(f->srv);
    f->a.group2 = ws_group_new(f->srv);
    if (st == STYLE_SEQ)
        assert_int_equal(ws_route(f->srv, "/echo", seq_handler, &f->a), 0);
    else
        assert_int_equal(ws_route_events(f->srv, "/echo", &EV, &f->a), 0);
    static const char *const protos[] = {"chat.json", "chat"};
    assert_int_equal(ws_route_protocols(f->srv, "/echo", protos, 2), 0);
    if (keep_request)
        assert_int_equal(ws_route_keep_request(f->srv, "/echo", true), 0);
    assert_int_equal(ws_server_start(f->srv), 0);
    f->port = ws_server_port(f->srv);
    assert_true(f->port > 0);
    return f;
}

static void fx_free(fixture *f)
{
    ws_server_stop(f->srv);
    for (int i = 0; i < 200 && ws_server_step(f->srv, 0) == 1; i++)
        ws_mem_advance(f->net, 100);
    ws_server_free(f->srv);
    ws_group_free(f->a.group);
    ws_group_free(f->a.group2);
    ws_mem_net_free(f->net);
    free(f);
}

static int open_peer(fixture *f, peer *p, const char *extra)
{
    return peer_open(p, f->srv, f->net, f->port, "/echo", extra, NULL);
}

/* --- tests, each run for both styles ------------------------------------- */

static void echo_and_facts(style st)
{
    fixture *f = fx_new(st, NULL);
    peer p;
    assert_int_equal(open_peer(f, &p, "User-Agent: cmocka\r\nCookie: a=1; sid=xyz\r\n"
                                      "Sec-WebSocket-Protocol: chat, other\r\n"), 101);
    assert_non_null(strstr(p.response, "Sec-WebSocket-Protocol: chat\r\n"));
    assert_int_equal(peer_send_text(&p, "hello"), 0);
    assert_true(peer_expect_text(&p, "hello"));
    uint8_t bin[3000];
    for (size_t i = 0; i < sizeof bin; i++)
        bin[i] = (uint8_t)i;
    peer_send(&p, true, 2, bin, sizeof bin);
    assert_int_equal(peer_recv(&p, 50, NULL), 2);
    assert_int_equal(p.payload_len, sizeof bin);
    assert_memory_equal(p.payload, bin, sizeof bin);
    assert_string_equal(f->a.header_ua, "cmocka");
    assert_string_equal(f->a.cookie, "xyz");
    assert_string_equal(f->a.path, "/echo");
    assert_string_equal(f->a.protocol, "chat");
    assert_int_equal(ws_server_session_count(f->srv), 1);
    peer_free(&p);
    fx_free(f);
}

/* After open, a callback route has let its request go (idle memory) unless
 * it asked to keep it; sequential routes always keep it. Path, peer and
 * protocol work either way. */
static void late_facts(style st, bool keep, bool expect_request)
{
    fixture *f = fx_new_keep(st, NULL, keep);
    peer p;
    assert_int_equal(open_peer(f, &p, "User-Agent: late\r\nSec-WebSocket-Protocol: chat\r\n"),
                     101);
    assert_string_equal(f->a.header_ua, "late"); /* in on_open: always there */
    assert_int_equal(peer_send_text(&p, "facts"), 0);
    assert_true(peer_expect_text(&p, "facts"));
    assert_int_equal(f->a.late_have_request, expect_request);
    if (expect_request) {
        assert_int_equal(f->a.late_header_rc, 4);
        assert_string_equal(f->a.late_header, "late");
    } else {
        assert_int_equal(f->a.late_header_rc, WS_ESTATE);
    }
    assert_string_equal(f->a.late_path, "/echo");
    assert_string_equal(f->a.late_peer, f->a.peer);
    assert_true(strlen(f->a.late_peer) > 0);
    assert_string_equal(f->a.late_protocol, "chat");
    peer_free(&p);
    fx_free(f);
}

static void test_late_facts_events(void **s) { (void)s; late_facts(STYLE_EVENTS, false, false); }
static void test_late_facts_events_kept(void **s) { (void)s; late_facts(STYLE_EVENTS, true, true); }
static void test_late_facts_seq(void **s) { (void)s; late_facts(STYLE_SEQ, false, true); }

/* A control frame that arrives in pieces (gathered in a side buffer that
 * only exists meanwhile), and a close frame the same way: the reason text
 * survives both. */
static void split_control(style st)
{
    fixture *f = fx_new(st, NULL);
    peer p;
    assert_int_equal(open_peer(f, &p, NULL), 101);
    uint8_t fr[256];
    size_t n = wsf_client(fr, true, 9, "split ping payload", 18);
    for (size_t i = 0; i < n; i++) {
        peer_send_raw(&p, fr + i, 1);
        pump(f->srv, 1);
    }
    assert_int_equal(peer_recv(&p, 50, NULL), 10);
    assert_int_equal(p.payload_len, 18);
    assert_memory_equal(p.payload, "split ping payload", 18);
    n = wsf_client(fr, true, 8, "\x0f\xa1in pieces", 11); /* 4001 */
    peer_send_raw(&p, fr, 5);
    pump(f->srv, 2);
    peer_send_raw(&p, fr + 5, n - 5);
    assert_int_equal(peer_expect_close(&p), 4001);
    pump(f->srv, 5);
    assert_int_equal(f->a.closes, 1);
    assert_int_equal(f->a.last.code, 4001);
    assert_string_equal(f->a.last.reason, "in pieces");
    peer_free(&p);
    fx_free(f);
}

static void test_split_control_seq(void **s) { (void)s; split_control(STYLE_SEQ); }
static void test_split_control_events(void **s) { (void)s; split_control(STYLE_EVENTS); }

/* Route options answer with the documented errors. */
static void test_route_option_errors(void **state)
{
    (void)state;
    ws_mem_net *net = ws_mem_net_new();
    ws_config c = {.backend = "mem", .io_arg = net, .no_signals = true};
    ws_server *srv = ws_server_new(&c);
    assert_int_equal(ws_route_events(srv, "/ev", &EV, NULL), 0);
    assert_int_equal(ws_route_keep_request(srv, "/nope", true), WS_ENOTFOUND);
    assert_int_equal(ws_route_keep_request(srv, "ev", true), WS_EINVAL);
    assert_int_equal(ws_route_keep_request(srv, "/ev", true), 0);
    static const char *many[256];
    for (size_t i = 0; i < 256; i++)
        many[i] = "p";
    assert_int_equal(ws_route_protocols(srv, "/ev", many, 256), WS_EINVAL); /* index is a byte */
    assert_int_equal(ws_route_protocols(srv, "/ev", many, 255), 0);
    assert_int_equal(ws_server_start(srv), 0);
    assert_int_equal(ws_route_keep_request(srv, "/ev", false), WS_ESTATE);
    ws_server_stop(srv);
    for (int i = 0; i < 50 && ws_server_step(srv, 0) == 1; i++)
        ws_mem_advance(net, 100);
    ws_server_free(srv);
    ws_mem_net_free(net);
}

/* The listener API's answers that hold in every build: a TLS listener is
 * WS_ENOTSUP without OpenSSL and WS_ETLS with it when the files do not
 * load, the same for a reload; a plain listener works in both. */
static void test_listen_errors(void **state)
{
    (void)state;
    ws_mem_net *net = ws_mem_net_new();
    ws_config c = {.backend = "mem", .io_arg = net, .no_signals = true};
    ws_server *srv = ws_server_new(&c);
    ws_tls_options tls = {.cert_file = "/nonexistent/cert.pem", .key_file = "/nonexistent/key.pem"};
    ws_listen_options bad = {.port = 1, .tls = &tls};
    assert_int_equal(ws_server_listen(srv, &bad), ws_tls_available() ? WS_ETLS : WS_ENOTSUP);
    ws_listen_options both = {.port = 1, .tls = &tls, .redirect_port = 2};
    assert_int_equal(ws_server_listen(srv, &both), WS_EINVAL); /* a TLS port redirects nowhere */
    ws_listen_options range = {.port = 70000};
    assert_int_equal(ws_server_listen(srv, &range), WS_EINVAL);
    assert_int_equal(ws_server_listen(NULL, &range), WS_EINVAL);
    assert_int_equal(ws_server_listener_port(srv, 0), WS_EINVAL);
    ws_listen_options plain = {.port = 0, .bind = "127.0.0.1"};
    assert_int_equal(ws_server_listen(srv, &plain), 0);
    assert_int_equal(ws_server_tls_reload(srv), ws_tls_available() ? 0 : WS_ENOTSUP);
    assert_int_equal(ws_server_start(srv), 0);
    assert_true(ws_server_listener_port(srv, 0) >= 0);
    assert_int_equal(ws_server_listen(srv, &plain), WS_ESTATE);
    ws_server_stop(srv);
    for (int i = 0; i < 50 && ws_server_step(srv, 0) == 1; i++)
        ws_mem_advance(net, 100);
    ws_server_free(srv);
    ws_mem_net_free(net);
}

static void test_echo_seq(void **s) { (void)s; echo_and_facts(STYLE_SEQ); }
static void test_echo_events(void **s) { (void)s; echo_and_facts(STYLE_EVENTS); }

static void query_param(style st)
{
    fixture *f = fx_new(st, NULL);
    peer p;
    assert_int_equal(peer_open(&p, f->srv, f->net, f->port, "/echo?x=1&name=al%20ice+b", NULL,
                               NULL), 101);
    pump(f->srv, 3);
    assert_string_equal(f->a.query_name, "al ice b");
    peer_free(&p);
    fx_free(f);
}

static void test_query_seq(void **s) { (void)s; query_param(STYLE_SEQ); }
static void test_query_events(void **s) { (void)s; query_param(STYLE_EVENTS); }

static void fragmented_and_ping(style st)
{
    fixture *f = fx_new(st, NULL);
    peer p;
    assert_int_equal(open_peer(f, &p, NULL), 101);
    peer_send(&p, false, 1, "Hel", 3);
    peer_send(&p, true, 9, "are you there", 13);
    peer_send(&p, false, 0, "lo, ", 4);
    peer_send(&p, true, 0, "world", 5);
    assert_int_equal(peer_recv(&p, 50, NULL), 10); /* pong first */
    assert_string_equal((char *)p.payload, "are you there");
    assert_true(peer_expect_text(&p, "Hello, world"));
    peer_free(&p);
    fx_free(f);
}

static void test_fragments_seq(void **s) { (void)s; fragmented_and_ping(STYLE_SEQ); }
static void test_fragments_events(void **s) { (void)s; fragmented_and_ping(STYLE_EVENTS); }

/* Client closes: the server echoes the code and ends with cause PEER. */
static void client_close(style st)
{
    fixture *f = fx_new(st, NULL);
    peer p;
    assert_int_equal(open_peer(f, &p, NULL), 101);
    peer_send(&p, true, 8, "\x0f\xa0gone", 6); /* 4000 "gone" */
    assert_int_equal(peer_expect_close(&p), 4000);
    pump(f->srv, 5);
    assert_int_equal(f->a.closes, 1);
    assert_int_equal(f->a.last.code, 4000);
    assert_int_equal(f->a.last.cause, WS_CAUSE_PEER);
    assert_string_equal(f->a.last.reason, "gone");
    assert_int_equal(peer_recv(&p, 20, NULL), -2); /* server closed TCP */
    assert_int_equal(ws_server_session_count(f->srv), 0);
    peer_free(&p);
    fx_free(f);
}

static void test_client_close_seq(void **s) { (void)s; client_close(STYLE_SEQ); }
static void test_client_close_events(void **s) { (void)s; client_close(STYLE_EVENTS); }

/* The seed's "bye": server closes with 1000 "Client said BYE"; the client
 * answers and the session ends with cause LOCAL and the server's reason. */
static void server_close(style st)
{
    fixture *f = fx_new(st, NULL);
    peer p;
    assert_int_equal(open_peer(f, &p, NULL), 101);
    peer_send_text(&p, "BYE");
    assert_int_equal(peer_expect_close(&p), 1000);
    assert_string_equal((char *)p.payload + 2, "Client said BYE");
    assert_int_equal(f->a.closes, 0); /* not ended until the client answers */
    peer_send(&p, true, 8, "\x03\xe8", 2);
    pump(f->srv, 5);
    assert_int_equal(f->a.closes, 1);
    assert_int_equal(f->a.last.cause, WS_CAUSE_LOCAL);
    assert_int_equal(f->a.last.code, 1000);
    assert_string_equal(f->a.last.reason, "Client said BYE");
    assert_int_equal(peer_recv(&p, 20, NULL), -2);
    peer_free(&p);
    fx_free(f);
}

static void test_server_close_seq(void **s) { (void)s; server_close(STYLE_SEQ); }
static void test_server_close_events(void **s) { (void)s; server_close(STYLE_EVENTS); }

/* The client never answers our close: TCP is cut after close_timeout. */
static void close_timeout(style st)
{
    ws_config c = {.close_timeout_ms = 3000};
    fixture *f = fx_new(st, &c);
    peer p;
    assert_int_equal(open_peer(f, &p, NULL), 101);
    peer_send_text(&p, "bye");
    assert_int_equal(peer_expect_close(&p), 1000);
    ws_mem_advance(f->net, 2999);
    pump(f->srv, 3);
    assert_false(ws_mem_server_closed(f->net, p.c));
    ws_mem_advance(f->net, 2);
    pump(f->srv, 3);
    assert_true(ws_mem_server_closed(f->net, p.c));
    assert_int_equal(f->a.closes, 1);
    assert_int_equal(f->a.last.code, 1000);
    assert_int_equal(f->a.last.err, WS_ETIMEDOUT);
    peer_free(&p);
    fx_free(f);
}

static void test_close_timeout_seq(void **s) { (void)s; close_timeout(STYLE_SEQ); }
static void test_close_timeout_events(void **s) { (void)s; close_timeout(STYLE_EVENTS); }

/* Leaving the handler (or closing from on_message) closes with 1000. */
static void handler_return(style st)
{
    fixture *f = fx_new(st, NULL);
    peer p;
    assert_int_equal(open_peer(f, &p, NULL), 101);
    peer_send_text(&p, "quit");
    assert_int_equal(peer_expect_close(&p), 1000);
    peer_send(&p, true, 8, "\x03\xe8", 2);
    pump(f->srv, 5);
    assert_int_equal(f->a.closes, 1);
    assert_int_equal(f->a.last.cause, WS_CAUSE_LOCAL);
    peer_free(&p);
    fx_free(f);
}

static void test_handler_return_seq(void **s) { (void)s; handler_return(STYLE_SEQ); }
static void test_handler_return_events(void **s) { (void)s; handler_return(STYLE_EVENTS); }

/* Idle timeout (fake clock) and the server's periodic ping. */
static void idle_and_ping(style st)
{
    ws_config c = {.ping_period_ms = 1000, .timeout_ms = 5000};
    fixture *f = fx_new(st, &c);
    peer p;
    assert_int_equal(open_peer(f, &p, NULL), 101);
    ws_mem_advance(f->net, 1000);
    assert_int_equal(peer_recv(&p, 10, NULL), 9);  /* ping */
    peer_send(&p, true, 10, "", 0);                 /* pong keeps it alive */
    pump(f->srv, 3);
    ws_mem_advance(f->net, 4500);                   /* 4.5 s after the pong */
    pump(f->srv, 3);
    assert_int_equal(f->a.closes, 0);
    ws_mem_advance(f->net, 600);                    /* 5.1 s of silence */
    assert_int_equal(peer_expect_close(&p), 1001);
    assert_int_equal(f->a.closes, 1);
    assert_int_equal(f->a.last.cause, WS_CAUSE_TIMEOUT);
    assert_int_equal(f->a.last.err, WS_ETIMEDOUT);
    if (st == STYLE_EVENTS)
        assert_int_equal(f->a.errors, 1);
    peer_free(&p);
    fx_free(f);
}

static void test_idle_seq(void **s) { (void)s; idle_and_ping(STYLE_SEQ); }
static void test_idle_events(void **s) { (void)s; idle_and_ping(STYLE_EVENTS); }

/* A protocol error (unmasked frame) fails the connection with 1002. */
static void protocol_error(style st)
{
    fixture *f = fx_new(st, NULL);
    peer p;
    assert_int_equal(open_peer(f, &p, NULL), 101);
    peer_send_raw(&p, "\x81\x02hi", 4);
    assert_int_equal(peer_expect_close(&p), 1002);
    assert_int_equal(f->a.closes, 1);
    assert_int_equal(f->a.last.cause, WS_CAUSE_PROTOCOL);
    assert_int_equal(f->a.last.code, 1002);
    assert_int_equal(peer_recv(&p, 20, NULL), -2);
    peer_free(&p);
    fx_free(f);
}

static void test_protocol_error_seq(void **s) { (void)s; protocol_error(STYLE_SEQ); }
static void test_protocol_error_events(void **s) { (void)s; protocol_error(STYLE_EVENTS); }

/* Backpressure: the client reads nothing (window 0). A sequential handler is
 * suspended at the high-water mark and resumes when the client reads; a
 * callback route keeps queueing and gets on_drain. Nothing is lost. */
static void backpressure(style st)
{
    ws_config c = {.send_high_water = 8 * 1024, .send_hard_limit = 1024 * 1024};
    fixture *f = fx_new(st, &c);
    peer p;
    assert_int_equal(open_peer(f, &p, NULL), 101);
    ws_mem_set_window(f->net, p.c, 0);
    peer_send_text(&p, "flood:100");
    pump(f->srv, 10);
    if (st == STYLE_SEQ)
        assert_true(f->a.flood_sent > 0 && f->a.flood_sent < 100); /* suspended */
    else
        assert_int_equal(f->a.flood_sent, 100);
    /* While suspended, further input waits its turn. */
    peer_send_text(&p, "after");
    pump(f->srv, 5);
    ws_mem_set_window(f->net, p.c, SIZE_MAX);
    for (int i = 0; i < 100; i++) {
        int op = peer_recv(&p, 50, NULL);
        if (op != 2)
            fail_msg("message %d: opcode %d", i, op);
        assert_int_equal(p.payload_len, 1024);
    }
    assert_true(peer_expect_text(&p, "after"));
    assert_int_equal(f->a.flood_sent, 100);
    if (st == STYLE_EVENTS)
        assert_true(f->a.drains >= 1);
    assert_int_equal(f->a.closes, 0);
    peer_free(&p);
    fx_free(f);
}

/* A large message whose rest the server read straight into the engine's
 * buffer, echoed by a handler that then waits for its queue to drain:
 * reading must resume once the handler is back in ws_recv, although no
 * input was held. */
static void direct_read_then_drain(style st)
{
    ws_config c = {.send_high_water = 4 * 1024, .send_hard_limit = 1 << 20};
    fixture *f = fx_new(st, &c);
    peer p;
    assert_int_equal(open_peer(f, &p, NULL), 101);
    size_t n = 60000;
    uint8_t *payload = malloc(n), *wire = malloc(n + 14);
    for (size_t i = 0; i < n; i++)
        payload[i] = (uint8_t)(i * 13 + 1);
    size_t wl = wsf_client(wire, true, 2, payload, n);
    ws_mem_set_window(f->net, p.c, 0);
    assert_int_equal(peer_send_raw(&p, wire, 1000), 0);
    pump(f->srv, 2);
    assert_int_equal(peer_send_raw(&p, wire + 1000, wl - 1000), 0);
    pump(f->srv, 3);
    ws_mem_set_window(f->net, p.c, SIZE_MAX);
    assert_int_equal(peer_recv(&p, 20, NULL), 2);
    assert_int_equal(p.payload_len, n);
    assert_memory_equal(p.payload, payload, n);
    peer_send_text(&p, "after");
    assert_true(peer_expect_text(&p, "after"));
    free(payload);
    free(wire);
    peer_free(&p);
    fx_free(f);
}

static void test_direct_read_then_drain_seq(void **s) { (void)s; direct_read_then_drain(STYLE_SEQ); }
static void test_direct_read_then_drain_events(void **s)
{
    (void)s;
    direct_read_then_drain(STYLE_EVENTS);
}

/* ws_send_frame: opcode order is checked, and no other message may be put
 * inside a fragmented one (the peer would fail the connection with 1002). */
static void send_frames(style st)
{
    fixture *f = fx_new(st, NULL);
    peer p;
    assert_int_equal(open_peer(f, &p, NULL), 101);
    peer_send_text(&p, "frag");
    wsf_frame fr;
    assert_int_equal(peer_recv(&p, 20, &fr), 1);
    assert_false(fr.fin);
    assert_string_equal((const char *)p.payload, "ab");
    assert_int_equal(peer_recv(&p, 20, &fr), 0);
    assert_true(fr.fin);
    assert_string_equal((const char *)p.payload, "cd");
    assert_true(peer_expect_text(&p, "after"));
    int want[6] = {WS_EINVAL, 0, WS_ESTATE, WS_EINVAL, 0, 0};
    assert_memory_equal(f->a.frag_rc, want, sizeof want);
    peer_free(&p);
    fx_free(f);
}

/* Messages that reach a session while its own fragmented message is open
 * (a broadcast, a send by id) wait for that message's last frame: nothing
 * may go inside it. */
static void held_behind_fragments(style st)
{
    fixture *f = fx_new(st, NULL);
    peer p0, p1;
    assert_int_equal(open_peer(f, &p0, NULL), 101);
    assert_int_equal(open_peer(f, &p1, NULL), 101);
    peer_send_text(&p0, "fragopen");
    wsf_frame fr;
    assert_int_equal(peer_recv(&p0, 20, &fr), 1);
    assert_false(fr.fin);
    peer_send_text(&p1, "cast:X");
    assert_true(peer_expect_text(&p1, "X"));
    assert_int_equal(ws_server_send(f->srv, f->a.ids[0], false, "by id", 5), 0);
    pump(f->srv, 5);
    assert_int_equal(peer_recv(&p0, 5, NULL), -1); /* held back */
    peer_send_text(&p0, "fragend");
    assert_int_equal(peer_recv(&p0, 20, &fr), 0);
    assert_true(fr.fin);
    assert_string_equal((const char *)p0.payload, "cd");
    assert_true(peer_expect_text(&p0, "X"));
    assert_true(peer_expect_text(&p0, "by id"));
    /* And a session that ends with its message open frees what waited. */
    peer_send_text(&p0, "fragopen");
    assert_int_equal(peer_recv(&p0, 20, &fr), 1);
    peer_send_text(&p1, "cast:Y");
    assert_true(peer_expect_text(&p1, "Y"));
    peer_send(&p0, true, 8, "\x03\xe8", 2);
    assert_int_equal(peer_expect_close(&p0), 1000);
    peer_free(&p0);
    peer_free(&p1);
    fx_free(f);
}

static void test_held_behind_fragments_seq(void **s) { (void)s; held_behind_fragments(STYLE_SEQ); }
static void test_held_behind_fragments_events(void **s)
{
    (void)s;
    held_behind_fragments(STYLE_EVENTS);
}

static void test_send_frames_seq(void **s) { (void)s; send_frames(STYLE_SEQ); }
static void test_send_frames_events(void **s) { (void)s; send_frames(STYLE_EVENTS); }

static void test_backpressure_seq(void **s) { (void)s; backpressure(STYLE_SEQ); }
static void test_backpressure_events(void **s) { (void)s; backpressure(STYLE_EVENTS); }

/* A client that half-closes right after its message still gets the answer;
 * one that resets gets nothing and the session ends either way (1006). */
static void half_close_and_reset(style st)
{
    fixture *f = fx_new(st, NULL);
    peer p;
    assert_int_equal(open_peer(f, &p, NULL), 101);
    peer_send_text(&p, "last words");
    ws_mem_close(f->net, p.c);
    assert_true(peer_expect_text(&p, "last words"));
    assert_int_equal(peer_recv(&p, 20, NULL), -2);
    assert_int_equal(f->a.closes, 1);
    assert_int_equal(f->a.last.cause, WS_CAUSE_IO);
    assert_int_equal(f->a.last.code, 1006);
    peer_free(&p);
    peer q;
    assert_int_equal(open_peer(f, &q, NULL), 101);
    peer_send_raw(&q, "\x81\x85\x00\x00", 4); /* half a frame, then a reset */
    ws_mem_reset(f->net, q.c);
    pump(f->srv, 5);
    assert_true(ws_mem_server_closed(f->net, q.c));
    assert_int_equal(f->a.closes, 2);
    assert_int_equal(f->a.last.code, 1006);
    peer_free(&q);
    fx_free(f);
}

static void test_half_close_seq(void **s) { (void)s; half_close_and_reset(STYLE_SEQ); }
static void test_half_close_events(void **s) { (void)s; half_close_and_reset(STYLE_EVENTS); }

/* A ping flood from a client that reads nothing: pongs are coalesced, so
 * the queue stays near the high-water mark instead of growing per ping, and
 * the pong finally sent answers the most recent ping. */
static ws_session *flood_target;

static void remember_open(ws_session *s, void *ud)
{
    (void)ud;
    flood_target = s;
}

static void test_ping_flood_coalesced(void **state)
{
    (void)state;
    ws_mem_net *net = ws_mem_net_new();
    ws_config c = {.backend = "mem", .io_arg = net, .no_signals = true, .send_high_water = 4096,
                   .send_hard_limit = 1 << 20};
    ws_server *srv = ws_server_new(&c);
    ws_event_callbacks cb = {.on_open = remember_open};
    ws_route_events(srv, "/", &cb, NULL);
    ws_server_start(srv);
    peer p;
    assert_int_equal(peer_open(&p, srv, net, ws_server_port(srv), "/", NULL, NULL), 101);
    ws_mem_set_window(net, p.c, 0);
    char payload[100];
    for (int i = 0; i < 20000; i++) {
        int n = snprintf(payload, sizeof payload, "ping %05d", i);
        memset(payload + n, '.', sizeof payload - (size_t)n);
        peer_send(&p, true, 9, payload, sizeof payload);
        if (i % 500 == 0)
            pump(srv, 2);
    }
    pump(srv, 5);
    /* 20000 pongs would be 2.1 MB: the queue stays at the mark plus one. */
    assert_true(ws_session_queued(flood_target) < 4096 + 2 * 128);
    ws_mem_set_window(net, p.c, SIZE_MAX);
    int pongs = 0;
    char last[16] = "";
    int op;
    while ((op = peer_recv(&p, 20, NULL)) == 10) {
        pongs++;
        memcpy(last, p.payload, 10);
    }
    assert_true(pongs > 1 && pongs < 100);
    assert_string_equal(last, "ping 19999");
    peer_free(&p);
    ws_server_free(srv);
    ws_mem_net_free(net);
}

/* Regression: a handler suspended by one send over the high-water mark and
 * resumed when the queue drains must get read interest back, or the next
 * message would never be read. */
static void resume_rearms_reading(style st)
{
    ws_config c = {.send_high_water = 512, .send_hard_limit = 1024 * 1024};
    fixture *f = fx_new(st, &c);
    peer p;
    assert_int_equal(open_peer(f, &p, NULL), 101);
    peer_send_text(&p, "flood:1");
    assert_int_equal(peer_recv(&p, 50, NULL), 2);
    pump(f->srv, 5);
    peer_send_text(&p, "later");
    assert_true(peer_expect_text(&p, "later"));
    peer_free(&p);
    fx_free(f);
}

static void test_resume_rearms_seq(void **s) { (void)s; resume_rearms_reading(STYLE_SEQ); }
static void test_resume_rearms_events(void **s) { (void)s; resume_rearms_reading(STYLE_EVENTS); }

/* Past the hard limit the session is closed with 1008 (cause OVERLOAD). A
 * sequential handler is suspended before the hard limit, so that style
 * reaches it through other sessions' sends (a broadcast). */
static void test_hard_limit_events(void **s)
{
    (void)s;
    ws_config c = {.send_high_water = 4 * 1024, .send_hard_limit = 64 * 1024};
    fixture *f = fx_new(STYLE_EVENTS, &c);
    peer p;
    assert_int_equal(open_peer(f, &p, NULL), 101);
    ws_mem_set_window(f->net, p.c, 0);
    peer_send_text(&p, "flood:1000");
    pump(f->srv, 10);
    assert_true(f->a.flood_sent < 1000);
    assert_int_equal(f->a.closes, 1);
    assert_int_equal(f->a.last.cause, WS_CAUSE_OVERLOAD);
    assert_int_equal(f->a.last.code, 1008);
    assert_int_equal(f->a.errors, 1);
    ws_mem_advance(f->net, 6000); /* close timeout: the reader never reads */
    pump(f->srv, 5);
    assert_true(ws_mem_server_closed(f->net, p.c));
    peer_free(&p);
    fx_free(f);
}

static void test_hard_limit_broadcast(void **s)
{
    (void)s;
    ws_config c = {.send_high_water = 4 * 1024, .send_hard_limit = 64 * 1024};
    fixture *f = fx_new(STYLE_SEQ, &c);
    peer slow, fast;
    assert_int_equal(open_peer(f, &slow, NULL), 101);
    assert_int_equal(open_peer(f, &fast, NULL), 101);
    ws_mem_set_window(f->net, slow.c, 0);
    char msg[1100] = "cast:";
    memset(msg + 5, 'b', 1000);
    for (int i = 0; i < 80; i++) {
        peer_send_text(&fast, msg);
        assert_int_equal(peer_recv(&fast, 50, NULL), 1);
    }
    assert_int_equal(f->a.closes, 1);
    assert_int_equal(f->a.last.cause, WS_CAUSE_OVERLOAD);
    assert_int_equal(ws_group_count(f->a.group), 1);
    peer_free(&slow);
    peer_free(&fast);
    fx_free(f);
}

/* Groups: broadcast reaches every member once; a member that leaves (closes)
 * mid-way stops receiving and leaves the group by itself. */
static void groups(style st)
{
    fixture *f = fx_new(st, NULL);
    peer p[3];
    for (int i = 0; i < 3; i++)
        assert_int_equal(open_peer(f, &p[i], NULL), 101);
    pump(f->srv, 3);
    assert_int_equal(ws_group_count(f->a.group), 3);
    peer_send_text(&p[0], "cast:one");
    for (int i = 0; i < 3; i++)
        assert_true(peer_expect_text(&p[i], "one"));
    peer_send(&p[2], true, 8, "\x03\xe8", 2);
    peer_send_text(&p[1], "cast:two");
    pump(f->srv, 5);
    assert_int_equal(ws_group_count(f->a.group), 2);
    assert_true(peer_expect_text(&p[0], "two"));
    assert_true(peer_expect_text(&p[1], "two"));
    assert_int_equal(peer_expect_close(&p[2]), 1000);
    assert_int_equal(peer_recv(&p[2], 10, NULL), -2);
    for (int i = 0; i < 3; i++)
        peer_free(&p[i]);
    fx_free(f);
}

/* Writes several text frames in one write, so the server reads them in one
 * loop iteration (where broadcasts are batched). */
static void send_texts(peer *p, const char *const *texts, int n)
{
    uint8_t buf[4096];
    size_t len = 0;
    for (int i = 0; i < n; i++)
        len += wsf_client(buf + len, true, 1, texts[i], strlen(texts[i]));
    assert_int_equal(peer_send_raw(p, buf, len), 0);
}

/* Broadcasts made in one iteration go out together, yet every member sees
 * each message in the order it was sent, whatever else it was sent in
 * between: a direct reply, another group's broadcast, its own join or leave. */
static void batch_order(style st)
{
    fixture *f = fx_new(st, NULL);
    peer p0, p1;
    assert_int_equal(open_peer(f, &p0, NULL), 101);
    assert_int_equal(open_peer(f, &p1, NULL), 101);
    peer_send_text(&p1, "join2");
    pump(f->srv, 3);
    static const char *const burst[] = {"cast:A", "self", "cast2:B", "join2", "cast:C",
                                        "cast2:D", "leave2", "cast2:E", "cast:F"};
    send_texts(&p0, burst, 9);
    /* p0 was not in group 2 for B nor after leaving it (E). */
    static const char *const want0[] = {"A", "self", "C", "D", "F"};
    static const char *const want1[] = {"A", "B", "C", "D", "E", "F"};
    for (int i = 0; i < 5; i++)
        assert_true(peer_expect_text(&p0, want0[i]));
    for (int i = 0; i < 6; i++)
        assert_true(peer_expect_text(&p1, want1[i]));
    pump(f->srv, 3);
    assert_int_equal(peer_recv(&p0, 3, NULL), -1);
    assert_int_equal(peer_recv(&p1, 3, NULL), -1);
    peer_free(&p0);
    peer_free(&p1);
    fx_free(f);
}

static void test_batch_order_seq(void **s) { (void)s; batch_order(STYLE_SEQ); }
static void test_batch_order_events(void **s) { (void)s; batch_order(STYLE_EVENTS); }

/* A member whose frames are transformed (masked here) cannot share the
 * batch's bytes: it gets each message as its own frame, in order. */
static void test_batch_to_transforming_member(void **s)
{
    (void)s;
    ws_config c = {.masking = true};
    fixture *f = fx_new(STYLE_EVENTS, &c);
    peer p0, p1;
    assert_int_equal(open_peer(f, &p0, NULL), 101);
    assert_int_equal(open_peer(f, &p1, NULL), 101);
    static const char *const burst[] = {"cast:one", "cast:", "cast:three"};
    send_texts(&p0, burst, 3);
    for (int i = 0; i < 2; i++) {
        peer *p = i ? &p1 : &p0;
        assert_true(peer_expect_text(p, "one"));
        assert_true(peer_expect_text(p, ""));
        assert_true(peer_expect_text(p, "three"));
    }
    peer_free(&p0);
    peer_free(&p1);
    fx_free(f);
}

/* The group is released while a batch for it is pending and members are
 * still in it: the batch still goes out, and the memory goes with the last
 * member (the sanitizer build checks there is neither a leak nor a use
 * after free). */
static void test_group_freed_with_pending_batch(void **s)
{
    (void)s;
    fixture *f = fx_new(STYLE_EVENTS, NULL);
    peer p0, p1;
    assert_int_equal(open_peer(f, &p0, NULL), 101);
    assert_int_equal(open_peer(f, &p1, NULL), 101);
    assert_int_equal(ws_group_broadcast_text(f->a.group, "last words"), 2);
    ws_group_free(f->a.group);
    f->a.group = NULL;
    assert_true(peer_expect_text(&p0, "last words"));
    assert_true(peer_expect_text(&p1, "last words"));
    peer_send(&p1, true, 8, "\x03\xe8", 2);
    assert_int_equal(peer_expect_close(&p1), 1000);
    peer_free(&p0);
    peer_free(&p1);
    fx_free(f);
}

/* Broadcasts beyond the batch bound in one iteration are sent in several
 * batches: every message arrives, in order. */
static void test_batch_bound(void **s)
{
    (void)s;
    fixture *f = fx_new(STYLE_EVENTS, NULL);
    peer p0;
    assert_int_equal(open_peer(f, &p0, NULL), 101);
    static char big[40000];
    for (int i = 0; i < 10; i++) {
        memset(big, 'a' + i, sizeof big - 1);
        assert_int_equal(ws_group_broadcast_text(f->a.group, big), 1);
    }
    for (int i = 0; i < 10; i++) {
        assert_int_equal(peer_recv(&p0, 20, NULL), 1);
        assert_int_equal(p0.payload_len, sizeof big - 1);
        assert_int_equal(p0.payload[0], 'a' + i);
    }
    peer_free(&p0);
    fx_free(f);
}

static void test_groups_seq(void **s) { (void)s; groups(STYLE_SEQ); }
static void test_groups_events(void **s) { (void)s; groups(STYLE_EVENTS); }

/* Stop: every session gets 1001 and the server finishes. */
static void stop_sends_1001(style st)
{
    fixture *f = fx_new(st, NULL);
    peer p[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(open_peer(f, &p[i], NULL), 101);
    ws_server_stop(f->srv);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(peer_expect_close(&p[i]), 1001);
        peer_send(&p[i], true, 8, "\x03\xe9", 2);
        ws_mem_close(f->net, p[i].c); /* as a real client does after the handshake */
    }
    int steps = 0;
    while (ws_server_step(f->srv, 0) == 1 && steps++ < 100)
        ;
    assert_true(steps < 100);
    assert_int_equal(f->a.closes, 2);
    assert_int_equal(f->a.last.cause, WS_CAUSE_SHUTDOWN);
    assert_int_equal(f->a.last.code, 1001);
    for (int i = 0; i < 2; i++)
        peer_free(&p[i]);
    fx_free(f);
}

static void test_stop_seq(void **s) { (void)s; stop_sends_1001(STYLE_SEQ); }
static void test_stop_events(void **s) { (void)s; stop_sends_1001(STYLE_EVENTS); }

/* --- style-independent ----------------------------------------------------- */

static void hello_http(const ws_request *req, ws_http_reply *reply, void *ud)
{
    (void)ud;
    char v[32] = "";
    ws_request_query(req, "v", v, sizeof v);
    char body[64];
    int n = snprintf(body, sizeof body, "hello %s", v);
    ws_http_respond(reply, 200, "text/plain", body, (size_t)n);
}

static int http_status(fixture *f, const char *request, peer *p)
{
    int st = peer_open(p, f->srv, f->net, f->port, NULL, NULL, request);
    return st;
}

static void test_http_statuses(void **s)
{
    (void)s;
    ws_mem_net *net = ws_mem_net_new();
    ws_config c = {.backend = "mem", .io_arg = net, .no_signals = true};
    fixture f = {.net = net};
    f.srv = ws_server_new(&c);
    assert_int_equal(ws_route(f.srv, "/echo", seq_handler, &f.a), 0);
    assert_int_equal(ws_route(f.srv, "/echo", seq_handler, &f.a), WS_EEXIST);
    assert_int_equal(ws_route(f.srv, "nope", seq_handler, &f.a), WS_EINVAL);
    assert_int_equal(ws_http_route(f.srv, "/hello", hello_http, NULL), 0);
    assert_int_equal(ws_server_start(f.srv), 0);
    assert_int_equal(ws_route(f.srv, "/late", seq_handler, &f.a), WS_ESTATE);
    f.port = ws_server_port(f.srv);
    peer p;
    assert_int_equal(http_status(&f, "GET /hello?v=world HTTP/1.1\r\nHost: x\r\n\r\n", &p), 200);
    assert_non_null(strstr(p.response, "Content-Length: 11"));
    pump(f.srv, 3);
    wsf_frame fr;
    (void)fr;
    peer_free(&p);
    static const struct { const char *req; int status; } v[] = {
        {"GET /echo HTTP/1.1\r\nHost: x\r\n\r\n", 426},
        {"GET /missing HTTP/1.1\r\nHost: x\r\n\r\n", 404},
        {"POST /hello HTTP/1.1\r\nHost: x\r\n\r\n", 405},
        {"GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 7\r\n\r\n", 426},
        {"GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: short\r\nSec-WebSocket-Version: 13\r\n\r\n", 400},
        {"GET /hello HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\n", 400},
        {"\x16\x03\x01\x00\xa5garbage", 400},
    };
    for (size_t i = 0; i < ARRAY_LEN(v); i++) {
        int st = http_status(&f, v[i].req, &p);
        if (st != v[i].status)
            fail_msg("request %zu: status %d, expected %d", i, st, v[i].status);
        peer_free(&p);
    }
    /* 426 names the version. */
    http_status(&f, v[0].req, &p);
    assert_non_null(strstr(p.response, "Sec-WebSocket-Version: 13"));
    peer_free(&p);
    /* Oversized head: 431. */
    char *big = malloc(10000);
    strcpy(big, "GET /echo HTTP/1.1\r\nX: ");
    memset(big + strlen(big), 'a', 9000);
    strcpy(big + 9023, "\r\n\r\n");
    assert_int_equal(http_status(&f, big, &p), 431);
    peer_free(&p);
    free(big);
    ws_server_free(f.srv);
    ws_mem_net_free(net);
}

/* A client that sends half a request and stalls gets 408 at the deadline. */
static void test_handshake_timeout(void **s)
{
    (void)s;
    ws_config c = {.handshake_timeout_ms = 2000};
    fixture *f = fx_new(STYLE_SEQ, &c);
    int cl = ws_mem_connect(f->net, f->port);
    ws_mem_write(f->net, cl, "GET /echo HTTP/1.1\r\nHo", 22);
    pump(f->srv, 3);
    ws_mem_advance(f->net, 1999);
    pump(f->srv, 3);
    assert_false(ws_mem_server_closed(f->net, cl));
    ws_mem_advance(f->net, 2);
    pump(f->srv, 3);
    char buf[256] = "";
    long n = ws_mem_read(f->net, cl, buf, sizeof buf - 1);
    assert_true(n > 0);
    assert_non_null(strstr(buf, "408"));
    ws_mem_advance(f->net, 3000);
    pump(f->srv, 3);
    assert_true(ws_mem_server_closed(f->net, cl));
    ws_mem_close(f->net, cl);
    fx_free(f);
}

/* Raw frames: ws_recv_frame hands out each fragment as it came. */
static void frame_handler(ws_session *s, void *ud)
{
    (void)ud;
    ws_msg m;
    char out[128];
    while (ws_recv_frame(s, &m) == WS_OK) {
        snprintf(out, sizeof out, "%d:%d:%.*s", m.type, m.fin, (int)m.len, (const char *)m.data);
        ws_send_text(s, out);
    }
}

static void test_recv_frame(void **s)
{
    (void)s;
    ws_mem_net *net = ws_mem_net_new();
    ws_config c = {.backend = "mem", .io_arg = net, .no_signals = true};
    ws_server *srv = ws_server_new(&c);
    ws_route(srv, "/raw", frame_handler, NULL);
    ws_server_start(srv);
    peer p;
    assert_int_equal(peer_open(&p, srv, net, ws_server_port(srv), "/raw", NULL, NULL), 101);
    peer_send(&p, false, 1, "ab", 2);
    peer_send(&p, true, 0, "cd", 2);
    assert_true(peer_expect_text(&p, "1:0:ab"));
    assert_true(peer_expect_text(&p, "0:1:cd"));
    peer_free(&p);
    ws_server_free(srv);
    ws_mem_net_free(net);
}

/* The static helper: files are served with their types; traversal, hidden
 * files and symlinks out of the directory are refused. */
static void log_capture(ws_log_level level, const char *msg, void *ud)
{
    (void)level;
    char *buf = ud;
    if (strlen(buf) + strlen(msg) + 2 < 4096) {
        strcat(buf, msg);
        strcat(buf, "\n");
    }
}

static void test_static_files(void **s)
{
    (void)s;
    char dir[] = "/tmp/wschat-static-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/index.html", dir);
    FILE *f = fopen(path, "w");
    fputs("<h1>hi</h1>", f);
    fclose(f);
    snprintf(path, sizeof path, "%s/app.js", dir);
    f = fopen(path, "w");
    fputs("let x = 1;", f);
    fclose(f);
    snprintf(path, sizeof path, "%s/.secret", dir);
    f = fopen(path, "w");
    fputs("nope", f);
    fclose(f);
    snprintf(path, sizeof path, "%s/escape", dir);
    assert_int_equal(symlink("/etc/passwd", path), 0);

    static char logbuf[4096];
    logbuf[0] = 0;
    ws_mem_net *net = ws_mem_net_new();
    ws_config c = {.backend = "mem", .io_arg = net, .no_signals = true, .log = log_capture,
                   .log_ud = logbuf, .log_level = WS_LOG_DEBUG};
    ws_server *srv = ws_server_new(&c);
    assert_int_equal(ws_http_static(srv, "/", dir), 0);
    assert_int_equal(ws_http_static(srv, "/x", dir), WS_EINVAL); /* prefix must end in '/' */
    assert_int_equal(ws_http_static(srv, "/y/", "/no/such/dir"), WS_ENOTFOUND);
    assert_int_equal(ws_server_start(srv), 0);
    fixture fx = {.net = net, .srv = srv, .port = ws_server_port(srv)};
    static const struct { const char *req; int status; const char *type; } v[] = {
        {"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 200, "text/html; charset=utf-8"},
        {"GET /app.js HTTP/1.1\r\nHost: x\r\n\r\n", 200, "text/javascript; charset=utf-8"},
        {"HEAD /app.js HTTP/1.1\r\nHost: x\r\n\r\n", 200, "text/javascript; charset=utf-8"},
        {"GET /../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n", 404, NULL},
        {"GET /%2e%2e/etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n", 404, NULL},
        {"GET /.secret HTTP/1.1\r\nHost: x\r\n\r\n", 404, NULL},
        {"GET /escape HTTP/1.1\r\nHost: x\r\n\r\n", 404, NULL},
        {"GET //app.js HTTP/1.1\r\nHost: x\r\n\r\n", 404, NULL},
        {"GET /app.js%00.png HTTP/1.1\r\nHost: x\r\n\r\n", 404, NULL},
        {"GET /missing.css HTTP/1.1\r\nHost: x\r\n\r\n", 404, NULL},
    };
    for (size_t i = 0; i < ARRAY_LEN(v); i++) {
        peer p;
        int st = http_status(&fx, v[i].req, &p);
        if (st != v[i].status)
            fail_msg("request %zu: status %d, expected %d", i, st, v[i].status);
        if (v[i].type) {
            char want[128];
            snprintf(want, sizeof want, "Content-Type: %s\r\n", v[i].type);
            assert_non_null(strstr(p.response, want));
        }
        peer_free(&p);
    }
    /* The log hook saw the server start; the library printed nothing itself. */
    assert_non_null(strstr(logbuf, "listening on"));
    ws_server_free(srv);
    ws_mem_net_free(net);
    unlink(path);
    snprintf(path, sizeof path, "%s/.secret", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/app.js", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/index.html", dir);
    unlink(path);
    rmdir(dir);
}

/* Shared stacks: every waiting handler's frames are copied out when another
 * runs. Each handler keeps a pattern in its locals and checks it after each
 * wait, with ten handlers taking turns. */
static void pattern_handler(ws_session *s, void *ud)
{
    (void)ud;
    unsigned char pat[700];
    unsigned char *self = pat; /* a pointer into its own frame */
    unsigned seed = (unsigned)ws_session_get_id(s) * 31u;
    for (size_t i = 0; i < sizeof pat; i++)
        pat[i] = (unsigned char)(seed + i * 13);
    char keep[4];
    if (ws_session_query(s, "keep", keep, sizeof keep) >= 0)
        ws_session_set_data(s, pat); /* wrong with shared stacks: warned */
    ws_msg m;
    int round = 0;
    while (ws_recv(s, &m) == WS_OK) {
        bool same = true;
        for (size_t i = 0; i < sizeof pat; i++)
            same = same && self[i] == (unsigned char)(seed + i * 13);
        ws_sendf(s, "%s:%d", same ? "ok" : "bad", ++round);
    }
}

static void stacks_run(bool private_stacks, const char *path, char *logbuf)
{
    ws_mem_net *net = ws_mem_net_new();
    ws_config c = {.backend = "mem",
                   .io_arg = net,
                   .no_signals = true,
                   .log = log_capture,
                   .log_ud = logbuf,
                   .log_level = WS_LOG_DEBUG,
                   .private_stacks = private_stacks};
    ws_server *srv = ws_server_new(&c);
    ws_route(srv, "/p", pattern_handler, NULL);
    ws_server_start(srv);
    enum { N = 10 };
    peer p[N];
    for (int i = 0; i < N; i++)
        assert_int_equal(peer_open(&p[i], srv, net, ws_server_port(srv), path, NULL, NULL), 101);
    for (int round = 1; round <= 4; round++) {
        for (int k = 0; k < N; k++) /* reversed on even rounds */
            peer_send_text(&p[round % 2 ? k : N - 1 - k], "x");
        char want[16];
        snprintf(want, sizeof want, "ok:%d", round);
        for (int i = 0; i < N; i++)
            assert_true(peer_expect_text(&p[i], want));
    }
    for (int i = 0; i < N; i++)
        peer_free(&p[i]);
    ws_server_free(srv);
    ws_mem_net_free(net);
}

static void test_handler_stacks(void **s)
{
    (void)s;
    static char logbuf[4096];
    logbuf[0] = 0;
    stacks_run(false, "/p", logbuf);
    stacks_run(true, "/p", logbuf);
    assert_null(strstr(logbuf, "sequential handler's frame"));
    /* A pointer into the frames kept as session data is reported on shared
     * stacks only (with private stacks it stays valid). */
    stacks_run(true, "/p?keep=1", logbuf);
    assert_null(strstr(logbuf, "sequential handler's frame"));
    stacks_run(false, "/p?keep=1", logbuf);
    assert_non_null(
        strstr(logbuf, "ws_session_set_data: the pointer is into a sequential handler's frame"));
}

/* Idle memory: an open session on a callback route, between messages,
 * carries no optional part, no receive state and no side buffers; each
 * comes while needed and goes after. */
static ws_session *idle_s;
static void idle_open(ws_session *s, void *ud)
{
    (void)ud;
    idle_s = s;
}
static void idle_echo(ws_session *s, const ws_msg *m, void *ud)
{
    (void)ud;
    ws_send_text_n(s, (const char *)m->data, m->len);
}
static void idle_closed(ws_session *s, const ws_close_reason *r, void *ud)
{
    (void)s;
    (void)r;
    (void)ud;
}

static void test_idle_session_parts(void **state)
{
    (void)state;
    ws_mem_net *net = ws_mem_net_new();
    ws_config c = {.backend = "mem", .io_arg = net, .no_signals = true};
    ws_server *srv = ws_server_new(&c);
    ws_event_callbacks cb = {.on_open = idle_open, .on_message = idle_echo};
    ws_route_events(srv, "/", &cb, NULL);
    ws_server_start(srv);
    peer p;
    assert_int_equal(peer_open(&p, srv, net, ws_server_port(srv), "/", NULL, NULL), 101);
    pump(srv, 2);
    ws_session *s = idle_s;
    assert_non_null(s);
    assert_null(s->x);
    assert_null(s->conn.rx);
    assert_null(s->conn.side);
    /* A fragmented message keeps receive state until its last frame. */
    peer_send(&p, false, 1, "ab", 2);
    pump(srv, 2);
    assert_non_null(s->conn.rx);
    peer_send(&p, true, 0, "cd", 2);
    assert_true(peer_expect_text(&p, "abcd"));
    assert_null(s->conn.rx);
    /* A ping split across reads needs the side buffers, then not. */
    uint8_t ping[64];
    size_t n = wsf_client(ping, true, 9, "split", 5);
    peer_send_raw(&p, ping, 8); /* the header and two payload bytes */
    pump(srv, 2);
    assert_non_null(s->conn.side);
    peer_send_raw(&p, ping + 8, n - 8);
    pump(srv, 2);
    assert_null(s->conn.side);
    /* A close callback is one of the optional parts. */
    assert_int_equal(ws_on_close(s, idle_closed, NULL), 0);
    assert_non_null(s->x);
    assert_non_null(s->x->close_cbs);
    peer_free(&p);
    ws_server_free(srv);
    ws_mem_net_free(net);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_echo_seq),
        cmocka_unit_test(test_echo_events),
        cmocka_unit_test(test_query_seq),
        cmocka_unit_test(test_query_events),
        cmocka_unit_test(test_fragments_seq),
        cmocka_unit_test(test_fragments_events),
        cmocka_unit_test(test_client_close_seq),
        cmocka_unit_test(test_client_close_events),
        cmocka_unit_test(test_server_close_seq),
        cmocka_unit_test(test_server_close_events),
        cmocka_unit_test(test_close_timeout_seq),
        cmocka_unit_test(test_close_timeout_events),
        cmocka_unit_test(test_handler_return_seq),
        cmocka_unit_test(test_handler_return_events),
        cmocka_unit_test(test_idle_seq),
        cmocka_unit_test(test_idle_events),
        cmocka_unit_test(test_protocol_error_seq),
        cmocka_unit_test(test_protocol_error_events),
        cmocka_unit_test(test_backpressure_seq),
        cmocka_unit_test(test_backpressure_events),
        cmocka_unit_test(test_send_frames_seq),
        cmocka_unit_test(test_send_frames_events),
        cmocka_unit_test(test_held_behind_fragments_seq),
        cmocka_unit_test(test_held_behind_fragments_events),
        cmocka_unit_test(test_direct_read_then_drain_seq),
        cmocka_unit_test(test_direct_read_then_drain_events),
        cmocka_unit_test(test_half_close_seq),
        cmocka_unit_test(test_half_close_events),
        cmocka_unit_test(test_ping_flood_coalesced),
        cmocka_unit_test(test_late_facts_events),
        cmocka_unit_test(test_route_option_errors),
        cmocka_unit_test(test_listen_errors),
        cmocka_unit_test(test_late_facts_events_kept),
        cmocka_unit_test(test_late_facts_seq),
        cmocka_unit_test(test_split_control_seq),
        cmocka_unit_test(test_split_control_events),
        cmocka_unit_test(test_resume_rearms_seq),
        cmocka_unit_test(test_resume_rearms_events),
        cmocka_unit_test(test_hard_limit_events),
        cmocka_unit_test(test_hard_limit_broadcast),
        cmocka_unit_test(test_groups_seq),
        cmocka_unit_test(test_groups_events),
        cmocka_unit_test(test_batch_order_seq),
        cmocka_unit_test(test_batch_order_events),
        cmocka_unit_test(test_batch_to_transforming_member),
        cmocka_unit_test(test_group_freed_with_pending_batch),
        cmocka_unit_test(test_batch_bound),
        cmocka_unit_test(test_stop_seq),
        cmocka_unit_test(test_stop_events),
        cmocka_unit_test(test_http_statuses),
        cmocka_unit_test(test_handshake_timeout),
        cmocka_unit_test(test_recv_frame),
        cmocka_unit_test(test_static_files),
        cmocka_unit_test(test_handler_stacks),
        cmocka_unit_test(test_idle_session_parts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
