/* SPDX-License-Identifier: MIT */
/* Step 1: an echo route. Ktor:
 *   webSocket("/chat") { for (frame in incoming) ... outgoing.send(Frame.Text(text)) } */
#include <wschat.h>

static void chat(ws_session *s, void *app)
{
    (void)app;
    ws_msg m;
    while (ws_recv(s, &m) == WS_OK)       /* suspends only this session */
        if (m.type == WS_MSG_TEXT)
            ws_send_text(s, (const char *)m.data);
}

int main(void)
{
    ws_server *srv = ws_server_new(&(ws_config){.port = 8080});
    ws_route(srv, "/chat", chat, NULL);
    return ws_server_run(srv);            /* Ctrl-C: close 1001 to all, then return */
}
