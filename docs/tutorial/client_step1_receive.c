/* SPDX-License-Identifier: MIT */
/* Client step 1: connect and print what the server says. Ktor:
 *   client.webSocket(method = HttpMethod.Get, host = "127.0.0.1", port = 8080, path = "/chat") {
 *       for (message in incoming) { message as? Frame.Text ?: continue; println(message.readText()) } } */
#include <stdio.h>
#include <wschat.h>

static void chat(ws_session *s, void *app)
{
    ws_msg m;
    while (ws_recv(s, &m) == WS_OK) /* suspends only this session, as on a server */
        if (m.type == WS_MSG_TEXT)
            printf("%s\n", (const char *)m.data);
    ws_client_stop(app); /* the connection ended: so does the program */
}

static void failed(ws_session_id id, const ws_close_reason *r, void *app)
{
    (void)id;
    fprintf(stderr, "cannot connect: %s\n", r->reason);
    ws_client_stop(app);
}

int main(void)
{
    ws_client *cl = ws_client_new(NULL, NULL);
    ws_connect_options o = {.on_fail = failed};
    ws_connect(cl, "ws://127.0.0.1:8080/chat", &o, chat, cl, NULL);
    ws_client_run(cl); /* until ws_client_stop, or Ctrl-C */
    ws_client_free(cl);
    return 0;
}
