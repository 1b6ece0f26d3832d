/* SPDX-License-Identifier: MIT */
/* Step 2: keep the set of open connections. Ktor uses a synchronized set
 * and try/finally; a ws_group is thread-safe and a session leaves it by
 * itself when it ends, so there is no finally to write. */
#include <stdio.h>
#include <wschat.h>

static void chat(ws_session *s, void *app)
{
    ws_group *connections = app;
    ws_group_add(connections, s);
    ws_sendf(s, "%zu connections", ws_group_count(connections));
    ws_msg m;
    while (ws_recv(s, &m) == WS_OK)
        ;                                 /* nothing yet: step 3 broadcasts */
}

int main(void)
{
    ws_server *srv = ws_server_new(&(ws_config){.port = 8080});
    ws_group *connections = ws_group_new(srv);
    ws_route(srv, "/chat", chat, connections);
    int rc = ws_server_run(srv);
    ws_server_free(srv);
    ws_group_free(connections);
    return rc;
}
