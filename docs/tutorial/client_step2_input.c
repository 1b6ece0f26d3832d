/* SPDX-License-Identifier: MIT */
/* Client step 2: send what the user types, while printing what arrives.
 * Ktor runs two coroutines (outputRoutine, inputRoutine); here stdin is one
 * more fd on the client's loop, so nothing blocks and pings are answered
 * while the user types. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <wschat.h>

typedef struct chat {
    ws_client *cl;
    ws_session_id id; /* the session, by id: valid from any callback */
    ws_watch *input;
} chat;

static void typed(ws_watch *w, int fd, unsigned events, void *ud)
{
    chat *c = ud;
    char line[4096];
    ssize_t n = read(fd, line, sizeof line - 1);
    if (n <= 0) { /* end of input: leave */
        ws_watch_free(w);
        c->input = NULL;
        ws_client_close_session(c->cl, c->id, WS_CLOSE_NORMAL, NULL);
        return;
    }
    if (line[n - 1] == '\n')
        n--;
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
    printf("closed: %u %s\n", r->code, r->reason);
    ws_watch_free(c->input);
    ws_client_stop(c->cl);
}

int main(void)
{
    chat c = {.cl = ws_client_new(NULL, NULL)};
    ws_event_callbacks cb = {.on_open = opened, .on_message = received, .on_close = closed};
    ws_connect_events(c.cl, "ws://127.0.0.1:8080/chat", NULL, &cb, &c, NULL);
    ws_client_run(c.cl);
    ws_client_free(c.cl);
    return 0;
}
