/* SPDX-License-Identifier: MIT */
/* libFuzzer target: a whole client session on the in-memory backend,
 * against a server that sends arbitrary bytes: as the response head (the
 * parser and every check of the 101), or, when the first input byte says
 * so, after a valid 101 (with or without permessage-deflate), as the
 * server's frames. Both handler styles; no crash, no leak, bounded
 * output, and on_fail at most once. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/handshake.h"
#include "wschat.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int fails;

static void echo(ws_session *s, void *app)
{
    (void)app;
    ws_msg m;
    while (ws_recv(s, &m) == WS_OK)
        m.type == WS_MSG_TEXT ? ws_send_text_n(s, (const char *)m.data, m.len)
                              : ws_send_binary(s, m.data, m.len);
}

static void ev_message(ws_session *s, const ws_msg *m, void *app)
{
    (void)app;
    ws_send_binary(s, m->data, m->len);
}

static void on_fail(ws_session_id id, const ws_close_reason *r, void *app)
{
    (void)id;
    (void)r;
    (void)app;
    if (++fails > 1)
        abort();
}

/* Reads the client's request and answers a valid 101 for its key. */
static void answer_101(ws_mem_net *net, ws_client *cl, int h, bool deflate)
{
    char req[4096] = "";
    size_t got = 0;
    for (int i = 0; i < 20 && !strstr(req, "\r\n\r\n"); i++) {
        ws_client_step(cl, 0);
        long n = ws_mem_read(net, h, req + got, sizeof req - 1 - got);
        if (n > 0)
            got += (size_t)n;
    }
    const char *k = strstr(req, "Sec-WebSocket-Key: ");
    if (!k)
        return;
    char accept[WS__ACCEPT_LEN + 1];
    ws__handshake_accept(k + 19, 24, accept);
    char resp[512];
    int n = snprintf(resp, sizeof resp,
                     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n%s\r\n",
                     accept,
                     deflate ? "Sec-WebSocket-Extensions: permessage-deflate; "
                               "server_no_context_takeover; client_no_context_takeover\r\n"
                             : "");
    ws_mem_write(net, h, resp, (size_t)n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    uint8_t ctl = data[0], step = (uint8_t)(data[1] | 1);
    data += 2;
    size -= 2;
    fails = 0;
    ws_mem_net *net = ws_mem_net_new();
    int port;
    ws_mem_listen(net, 0, &port);
    ws_config cfg = {.backend = "mem",
                     .io_arg = net,
                     .no_signals = true,
                     .max_message_size = 1 << 16,
                     .max_frame_size = 1 << 16,
                     .send_hard_limit = 1 << 18,
                     .send_high_water = 1 << 14};
    ws_client *cl = ws_client_new(&cfg, NULL);
    ws_extension *pmd = ws_deflate_new(NULL, NULL);
    const ws_extension *exts[] = {pmd};
    ws_connect_options o = {.on_fail = on_fail, .extensions = exts, .nextensions = pmd ? 1 : 0};
    char url[64];
    snprintf(url, sizeof url, "ws://127.0.0.1:%d/f", port);
    if (ctl & 2)
        ws_connect_events(cl, url, &o, &(ws_event_callbacks){.on_message = ev_message}, NULL, NULL);
    else
        ws_connect(cl, url, &o, echo, NULL, NULL);
    int h = -1;
    for (int i = 0; i < 10 && h < 0; i++) {
        ws_client_step(cl, 0);
        h = ws_mem_accept(net, port);
    }
    if (h >= 0 && (ctl & 1))
        answer_101(net, cl, h, ctl & 4);
    size_t off = 0, out = 0;
    uint8_t sink[4096];
    while (h >= 0 && off < size) {
        size_t n = size - off < step ? size - off : step;
        ws_mem_write(net, h, data + off, n);
        off += n;
        ws_client_step(cl, 0);
        if (data[off - 1] == 0xff)
            ws_mem_advance(net, 3000); /* timers fire mid-input */
        long r;
        while ((r = ws_mem_read(net, h, sink, sizeof sink)) > 0)
            out += (size_t)r;
    }
    if (h >= 0)
        (ctl & 8) ? ws_mem_reset(net, h) : ws_mem_close(net, h);
    ws_client_stop(cl);
    for (int i = 0; i < 100 && ws_client_step(cl, 0) == 1; i++)
        ws_mem_advance(net, 1000);
    if (out > 64 * size + (1u << 20))
        abort();
    ws_client_free(cl);
    ws_deflate_free(pmd);
    ws_mem_net_free(net);
    return 0;
}
