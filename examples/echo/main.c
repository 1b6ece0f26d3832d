/* SPDX-License-Identifier: MIT */
/* examples/echo: the echo servers of the Ktor documents, in C.
 *
 *   /      plain echo of every text and binary message (conformance target)
 *   /echo  "Please enter your name", then "Hi, X!"; "bye" closes (1000)
 *   /chat  "You are connected!", then "You said: X"
 *
 * Each route is written twice: as a sequential handler (the Ktor style) and
 * as event callbacks. --style picks which set is served. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wschat.h>

#include "../common/cli.h"

/* --- sequential handlers ----------------------------------------------- */

static void plain_echo(ws_session *s, void *app)
{
    (void)app;
    ws_msg m;
    while (ws_recv(s, &m) == WS_OK) {
        if (m.type == WS_MSG_TEXT)
            ws_send_text_n(s, (const char *)m.data, m.len);
        else
            ws_send_binary(s, m.data, m.len);
    }
}

/* Ktor: webSocket("/echo") { send("Please enter your name"); for (frame in
 * incoming) { ... if "bye" close(...) else send("Hi, $text!") } } */
static void greet(ws_session *s, void *app)
{
    (void)app;
    ws_send_text(s, "Please enter your name");
    ws_msg m;
    while (ws_recv(s, &m) == WS_OK) {
        if (m.type != WS_MSG_TEXT)
            continue;
        if (ws_msg_equals_ci(&m, "bye")) {
            ws_close(s, WS_CLOSE_NORMAL, "Client said BYE");
            break;
        }
        ws_sendf(s, "Hi, %s!", (const char *)m.data);
    }
}

static void you_said(ws_session *s, void *app)
{
    (void)app;
    ws_send_text(s, "You are connected!");
    ws_msg m;
    while (ws_recv(s, &m) == WS_OK)
        if (m.type == WS_MSG_TEXT)
            ws_sendf(s, "You said: %s", (const char *)m.data);
}

/* --- the same routes as event callbacks ------------------------------- */

static void ev_echo(ws_session *s, const ws_msg *m, void *app)
{
    (void)app;
    if (m->type == WS_MSG_TEXT)
        ws_send_text_n(s, (const char *)m->data, m->len);
    else
        ws_send_binary(s, m->data, m->len);
}

static void ev_greet_open(ws_session *s, void *app)
{
    (void)app;
    ws_send_text(s, "Please enter your name");
}

static void ev_greet(ws_session *s, const ws_msg *m, void *app)
{
    (void)app;
    if (m->type != WS_MSG_TEXT)
        return;
    if (ws_msg_equals_ci(m, "bye"))
        ws_close(s, WS_CLOSE_NORMAL, "Client said BYE");
    else
        ws_sendf(s, "Hi, %s!", (const char *)m->data);
}

static void ev_chat_open(ws_session *s, void *app)
{
    (void)app;
    ws_send_text(s, "You are connected!");
}

static void ev_chat(ws_session *s, const ws_msg *m, void *app)
{
    (void)app;
    if (m->type == WS_MSG_TEXT)
        ws_sendf(s, "You said: %s", (const char *)m->data);
}

int main(int argc, char **argv)
{
    static const char *const extra[] = {"style", NULL};
    cli c;
    cli_parse(&c, argc, argv, "echo", " [--style handler|events]", extra);
    const char *style = c.style ? c.style : "handler";
    if (strcmp(style, "handler") != 0 && strcmp(style, "events") != 0) {
        fprintf(stderr, "echo: --style must be handler or events\n");
        return 2;
    }
    int err;
    ws_server *srv = ws_server_new_err(&c.cfg, &err);
    if (!srv) {
        fprintf(stderr, "echo: %s\n", ws_strerror(err));
        return 1;
    }
    cli_listen(srv, &c, "echo");
    ws_extension *pmd = cli_deflate(srv, &c);
    if (strcmp(style, "handler") == 0) {
        ws_route(srv, "/", plain_echo, NULL);
        ws_route(srv, "/echo", greet, NULL);
        ws_route(srv, "/chat", you_said, NULL);
    } else {
        ws_route_events(srv, "/", &(ws_event_callbacks){.on_message = ev_echo}, NULL);
        ws_route_events(srv, "/echo",
                        &(ws_event_callbacks){.on_open = ev_greet_open, .on_message = ev_greet}, NULL);
        ws_route_events(srv, "/chat",
                        &(ws_event_callbacks){.on_open = ev_chat_open, .on_message = ev_chat}, NULL);
    }
    int rc = ws_server_start(srv);
    if (rc) {
        fprintf(stderr, "echo: cannot listen on port %d: %s\n", c.cfg.port, ws_strerror(rc));
        ws_server_free(srv);
        ws_deflate_free(pmd);
        return 1;
    }
    cli_announce(srv, &c, "Echo server listening", "ws");
    rc = ws_server_run(srv);
    ws_server_free(srv);
    ws_deflate_free(pmd);
    return rc == 0 ? 0 : 1;
}
