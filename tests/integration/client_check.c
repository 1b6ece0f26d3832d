/* SPDX-License-Identifier: MIT */
/* libwschat's client against a real echo server (Python websockets, npm ws,
 * or libwschat's own), over loopback:
 *
 *   client_check URL [--style handler|events] [--deflate] [--many N] [--cafile CA]
 *                [--no-server-close]
 *
 * The battery: text and binary echoes of every size class up to 1 MiB, a
 * message sent in fragments, a ping, UTF-8, a client close with a code, a
 * server close read back (URL/close4002 must close with 4002 "server bye"),
 * permessage-deflate negotiated when offered. --many N instead holds N
 * sessions open at once, each echoing one message. Prints ok/FAILED lines
 * and "N passed, M failed"; exits 1 on any failure. Every wait is bounded
 * by the client's own timers and an overall deadline. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <wschat.h>

typedef struct check {
    ws_client *cl;
    ws_extension *pmd;
    const char *url;
    bool events;
    int passed, failed;
    /* --many */
    int many, opened, echoed, ended;
    /* the server-close probe */
    ws_close_reason server_close;
    bool got_server_close;
    int remaining; /* connections still to finish; the client stops at 0 */
} check;

static void ok(check *c, const char *name, bool cond, const char *detail)
{
    if (cond) {
        c->passed++;
        printf("ok: %s\n", name);
    } else {
        c->failed++;
        printf("FAILED: %s %s\n", name, detail ? detail : "");
    }
    fflush(stdout);
}

static uint8_t *pattern(size_t n, bool text)
{
    uint8_t *p = malloc(n + 1);
    for (size_t i = 0; i < n; i++)
        p[i] = text ? (uint8_t)('a' + i % 26) : (uint8_t)(i * 31 + 7);
    p[n] = 0;
    return p;
}

/* One message out, its echo back, compared. */
static bool roundtrip(ws_session *s, bool text, const uint8_t *data, size_t n)
{
    int rc = text ? ws_send_text_n(s, (const char *)data, n) : ws_send_binary(s, data, n);
    ws_msg m;
    if (rc || ws_recv(s, &m) != WS_OK)
        return false;
    return m.type == (text ? WS_MSG_TEXT : WS_MSG_BINARY) && m.len == n &&
           (n == 0 || memcmp(m.data, data, n) == 0);
}

static void battery(ws_session *s, void *app)
{
    check *c = app;
    char name[96];
    char ext[256] = "";
    int have = ws_session_header(s, "Sec-WebSocket-Extensions", ext, sizeof ext);
    if (c->pmd)
        ok(c, "permessage-deflate negotiated", have > 0 && strstr(ext, "permessage-deflate"), ext);
    static const size_t sizes[] = {0, 1, 125, 126, 65535, 65536, 1 << 20};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        for (int text = 1; text >= 0; text--) {
            uint8_t *p = pattern(sizes[i], text);
            snprintf(name, sizeof name, "%s echo of %zu bytes", text ? "text" : "binary", sizes[i]);
            ok(c, name, roundtrip(s, text, p, sizes[i]), NULL);
            free(p);
        }
    }
    const char *utf8 = "κόσμε, µ@ßöäü, \xf0\x9f\x98\x80";
    ok(c, "UTF-8 text echo", roundtrip(s, true, (const uint8_t *)utf8, strlen(utf8)), NULL);
    /* Three frames, one message. */
    bool sent = ws_send_frame(s, WS_MSG_TEXT, false, "frag", 4) == 0 &&
                ws_send_frame(s, WS_MSG_CONTINUATION, false, "men", 3) == 0 &&
                ws_send_frame(s, WS_MSG_CONTINUATION, true, "ted", 3) == 0;
    ws_msg m;
    ok(c, "a message sent in three frames comes back whole",
       sent && ws_recv(s, &m) == WS_OK && m.len == 10 && memcmp(m.data, "fragmented", 10) == 0,
       NULL);
    ok(c, "ping, then the session goes on",
       ws_ping(s, "are you there", 13) == 0 &&
           roundtrip(s, true, (const uint8_t *)"after ping", 10),
       NULL);
    ok(c, "close with 4001 and a reason", ws_close(s, 4001, "bye from C") == 0, NULL);
    while (ws_recv(s, &m) == WS_OK)
        ;
    const ws_close_reason *r = ws_session_close_reason(s);
    ok(c, "the close handshake completes", r && r->cause == WS_CAUSE_LOCAL && r->code == 4001,
       r ? r->reason : "no reason");
}

static void ev_battery_message(ws_session *s, const ws_msg *m, void *app)
{
    check *c = app;
    ok(c, "events style: echo", m->len == 12 && memcmp(m->data, "events style", 12) == 0, NULL);
    ws_close(s, WS_CLOSE_NORMAL, NULL);
}

static void ev_battery_open(ws_session *s, void *app)
{
    (void)app;
    ws_send_text(s, "events style");
}

static void server_closer(ws_session *s, void *app)
{
    check *c = app;
    ws_msg m;
    while (ws_recv(s, &m) == WS_OK)
        ;
    c->server_close = *ws_session_close_reason(s);
    c->got_server_close = true;
}

static void finished(check *c)
{
    if (--c->remaining == 0)
        ws_client_stop(c->cl);
}

static void seq_done(ws_session *s, const ws_close_reason *r, void *ud)
{
    (void)s;
    (void)r;
    finished(ud);
}

static void on_fail(ws_session_id id, const ws_close_reason *r, void *app)
{
    check *c = app;
    (void)id;
    ok(c, "connect", false, r->reason);
    finished(c);
}

/* --- many at once ------------------------------------------------------------ */

static void many_open(ws_session *s, void *app)
{
    check *c = app;
    c->opened++;
    ws_sendf(s, "hello %llu", (unsigned long long)ws_session_get_id(s));
}

static void many_message(ws_session *s, const ws_msg *m, void *app)
{
    check *c = app;
    char want[64];
    snprintf(want, sizeof want, "hello %llu", (unsigned long long)ws_session_get_id(s));
    if (m->len == strlen(want) && memcmp(m->data, want, m->len) == 0)
        c->echoed++;
    /* Everyone holds on until all have echoed: N sessions open at once. */
    if (c->echoed == c->many)
        ws_client_stop(c->cl); /* closes them all with 1001 */
}

static void many_close(ws_session *s, const ws_close_reason *r, void *app)
{
    check *c = app;
    (void)s;
    (void)r;
    c->ended++;
}

static void many_fail(ws_session_id id, const ws_close_reason *r, void *app)
{
    check *c = app;
    (void)id;
    if (c->failed++ < 5)
        printf("FAILED: connect: %s\n", r->reason);
}

static void with_battery_handler(ws_session *s, void *app)
{
    ws_on_close(s, seq_done, app);
    battery(s, app);
}

static void with_closer_handler(ws_session *s, void *app)
{
    ws_on_close(s, seq_done, app);
    server_closer(s, app);
}

static void ev_close_done(ws_session *s, const ws_close_reason *r, void *app)
{
    (void)s;
    (void)r;
    finished(app);
}

int main(int argc, char **argv)
{
    check c = {0};
    bool deflate = false;
    ws_tls_options tls = {0};
    bool no_server_close = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--deflate") == 0)
            deflate = true;
        else if (strcmp(argv[i], "--style") == 0 && i + 1 < argc)
            c.events = strcmp(argv[++i], "events") == 0;
        else if (strcmp(argv[i], "--many") == 0 && i + 1 < argc)
            c.many = atoi(argv[++i]);
        else if (strcmp(argv[i], "--cafile") == 0 && i + 1 < argc)
            tls.ca_file = argv[++i];
        else if (strcmp(argv[i], "--no-server-close") == 0) /* a server without /close4002 */
            no_server_close = true;
        else if (argv[i][0] != '-')
            c.url = argv[i];
    }
    if (!c.url) {
        fprintf(stderr,
                "usage: client_check URL [--style handler|events] [--deflate] [--many N]\n");
        return 2;
    }
    if (c.many) { /* one fd per session, and some to spare */
        struct rlimit rl;
        getrlimit(RLIMIT_NOFILE, &rl);
        if (rl.rlim_cur < (rlim_t)c.many + 64 && rl.rlim_max >= (rlim_t)c.many + 64) {
            rl.rlim_cur = (rlim_t)c.many + 64;
            setrlimit(RLIMIT_NOFILE, &rl);
        }
    }
    c.cl = ws_client_new(&(ws_config){.no_signals = true, .max_message_size = 4 << 20}, NULL);
    c.pmd = deflate ? ws_deflate_new(NULL, NULL) : NULL;
    const ws_extension *exts[] = {c.pmd};
    ws_connect_options o = {.extensions = exts,
                            .nextensions = c.pmd ? 1 : 0,
                            .on_fail = on_fail,
                            .tls = tls.ca_file ? &tls : NULL};
    if (c.many) {
        o.on_fail = many_fail;
        ws_event_callbacks cb = {
            .on_open = many_open, .on_message = many_message, .on_close = many_close};
        for (int i = 0; i < c.many; i++)
            ws_connect_events(c.cl, c.url, &o, &cb, &c, NULL);
        ws_client_run(c.cl);
        char detail[96];
        snprintf(detail, sizeof detail, "%d opened, %d echoed, %d ended", c.opened, c.echoed,
                 c.ended);
        ok(&c, "all sessions open at once, each echoed", c.opened == c.many && c.echoed == c.many,
           detail);
        ok(&c, "all of them closed", c.ended == c.many, detail);
    } else {
        char closer[512];
        snprintf(closer, sizeof closer, "%s%sclose4002", c.url,
                 c.url[strlen(c.url) - 1] == '/' ? "" : "/");
        c.remaining = no_server_close ? 2 : 3;
        if (c.events)
            ws_connect_events(c.cl, c.url, &o,
                              &(ws_event_callbacks){.on_open = ev_battery_open,
                                                    .on_message = ev_battery_message,
                                                    .on_close = ev_close_done},
                              &c, NULL);
        else
            ws_connect(c.cl, c.url, &o, with_battery_handler, &c, NULL);
        ws_connect(c.cl, c.url, &o, with_battery_handler, &c, NULL);
        if (!no_server_close)
            ws_connect(c.cl, closer, &o, with_closer_handler, &c, NULL);
        ws_client_run(c.cl);
        if (!no_server_close)
            ok(&c, "a server close is read back with its code and reason",
               c.got_server_close && c.server_close.cause == WS_CAUSE_PEER &&
                   c.server_close.code == 4002 && strcmp(c.server_close.reason, "server bye") == 0,
               c.server_close.reason);
    }
    ws_client_free(c.cl);
    ws_deflate_free(c.pmd);
    printf("%d passed, %d failed\n", c.passed, c.failed);
    return c.failed || !c.passed ? 1 : 0;
}
