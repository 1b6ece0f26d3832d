/* SPDX-License-Identifier: MIT */
/* Client step 3: "exit" leaves, as in Ktor's client:
 *   if (message.equals("exit", true)) return ... println("Connection closed. Goodbye!")
 * ws_close starts the close handshake; on_close fires once it is done. */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <wschat.h>

typedef struct chat {
    ws_client *cl;
    ws_session_id id;
    ws_watch *input;
    bool leaving;
} chat;

static void typed(ws_watch *w, int fd, unsigned events, void *ud)
{
    chat *c = ud;
    char line[4096];
    ssize_t n = read(fd, line, sizeof line - 1);
    if (n > 0 && line[n - 1] == '\n')
        n--;
    line[n > 0 ? n : 0] = '\0';
    if (n <= 0 || strcasecmp(line, "exit") == 0) {
        ws_watch_free(w);
        c->input = NULL;
        c->leaving = true;
        ws_client_close_session(c->cl, c->id, WS_CLOSE_NORMAL, NULL);
        return;
    }
    ws_client_send(c->cl, c->id, false, line, (size_t)n);
}

static void opened(ws_session *s, void *app)
{
    chat *c = app;
    c->id = ws_session_get_id(s);
    c->input = ws_watch_fd(ws_session_loop(s), 0, WS_IO_READ, typed, c, NULL);
}

static void received(ws_session *s, const ws_msg *m, void *app)
{
    (void)s;
    (void)app;
    if (m->type == WS_MSG_TEXT)
        printf("%s\n", (const char *)m->data);
}

static void closed(ws_session *s, const ws_close_reason *r, void *app)
{
    chat *c = app;
    (void)s;
    if (c->leaving)
        printf("Connection closed. Goodbye!\n");
    else
        printf("Connection closed by the server: %u %s\n", r->code, r->reason);
    ws_watch_free(c->input);
    ws_client_stop(c->cl);
}

static void failed(ws_session_id id, const ws_close_reason *r, void *app)
{
    chat *c = app;
    (void)id;
    fprintf(stderr, "cannot connect: %s (%s)\n", r->reason, ws_err_name(r->err));
    ws_client_stop(c->cl);
}

int main(int argc, char **argv)
{
    chat c = {.cl = ws_client_new(NULL, NULL)};
    ws_event_callbacks cb = {.on_open = opened, .on_message = received, .on_close = closed};
    ws_connect_options o = {.on_fail = failed};
    const char *url = argc > 1 ? argv[1] : "ws://127.0.0.1:8080/chat";
    if (ws_connect_events(c.cl, url, &o, &cb, &c, NULL) != 0) {
        fprintf(stderr, "not a WebSocket URL: %s\n", url);
        return 2;
    }
    ws_client_run(c.cl);
    ws_client_free(c.cl);
    return 0;
}
