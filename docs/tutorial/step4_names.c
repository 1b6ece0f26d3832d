/* SPDX-License-Identifier: MIT */
/* Step 4: names. Ktor's Connection class takes "user${lastId.getAndIncrement()}"
 * from an AtomicInteger; a C11 atomic does the same across loop threads. */
#include <stdatomic.h>
#include <stdio.h>
#include <wschat.h>

typedef struct room {
    ws_group *connections;
    atomic_uint last_id;
} room;

static void chat(ws_session *s, void *app)
{
    room *r = app;
    char name[32];
    snprintf(name, sizeof name, "user%u", atomic_fetch_add(&r->last_id, 1));
    ws_group_add(r->connections, s);
    ws_sendf(s, "You are connected! There are %zu users here.", ws_group_count(r->connections));
    ws_msg m;
    while (ws_recv(s, &m) == WS_OK)
        if (m.type == WS_MSG_TEXT)
            ws_group_broadcastf(r->connections, "[%s]: %s", name, (const char *)m.data);
}

int main(void)
{
    ws_server *srv = ws_server_new(&(ws_config){.port = 8080, .threads = 2});
    room r = {.connections = ws_group_new(srv)};
    ws_route(srv, "/chat", chat, &r);
    int rc = ws_server_run(srv);
    ws_server_free(srv);
    ws_group_free(r.connections);
    return rc;
}
