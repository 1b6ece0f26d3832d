/* SPDX-License-Identifier: MIT */
/* Step 3: propagate every message to all connections. The frame is encoded
 * once and shared by every recipient's send queue. */
#include <wschat.h>

static void chat(ws_session *s, void *app)
{
    ws_group *connections = app;
    ws_group_add(connections, s);
    ws_msg m;
    while (ws_recv(s, &m) == WS_OK)
        if (m.type == WS_MSG_TEXT)
            ws_group_broadcast(connections, false, m.data, m.len);
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
