/* SPDX-License-Identifier: MIT */
/* Step 5: the same chat as event callbacks: no stack per session, the
 * fastest way to serve many idle connections. Ktor's onConnect / onMessage /
 * onClose / onError map to on_open / on_message / on_close / on_error. */
#include <stdio.h>
#include <wschat.h>

static void on_open(ws_session *s, void *app)
{
    ws_group_add(app, s);
}

static void on_message(ws_session *s, const ws_msg *m, void *app)
{
    if (m->type == WS_MSG_TEXT)
        ws_group_broadcastf(app, "[%llu]: %s", (unsigned long long)ws_session_get_id(s),
                            (const char *)m->data);
}

static void on_close(ws_session *s, const ws_close_reason *r, void *app)
{
    (void)s;
    (void)app;
    fprintf(stderr, "closed %u (%s) %s\n", r->code, ws_close_cause_name(r->cause), r->reason);
}

int main(void)
{
    ws_server *srv = ws_server_new(&(ws_config){.port = 8080});
    ws_group *everyone = ws_group_new(srv);
    ws_event_callbacks cb = {.on_open = on_open, .on_message = on_message, .on_close = on_close};
    ws_route_events(srv, "/chat", &cb, everyone);
    int rc = ws_server_run(srv);
    ws_server_free(srv);
    ws_group_free(everyone);
    return rc;
}
