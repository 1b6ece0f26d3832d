/* SPDX-License-Identifier: MIT */
/* libFuzzer target: a whole server session on the in-memory backend.
 * Arbitrary client bytes (after a valid upgrade, when the first input byte
 * says so) are written in input-chosen chunks while the server steps and the
 * virtual clock jumps. Both handler styles; no crash, no leak, and the
 * server's output stays bounded. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wschat.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void echo(ws_session *s, void *app)
{
    (void)app;
    ws_msg m;
    while (ws_recv(s, &m) == WS_OK) {
        if (m.len == 3 && memcmp(m.data, "bye", 3) == 0) {
            ws_close(s, 1000, "bye");
            break;
        }
        m.type == WS_MSG_TEXT ? ws_send_text_n(s, (const char *)m.data, m.len)
                              : ws_send_binary(s, m.data, m.len);
    }
}

static void ev_message(ws_session *s, const ws_msg *m, void *app)
{
    (void)app;
    ws_send_binary(s, m->data, m->len);
}

static const char UPGRADE[] =
    "GET /%s HTTP/1.1\r\nHost: f\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
    "Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    uint8_t ctl = data[0], step = (uint8_t)(data[1] | 1);
    data += 2;
    size -= 2;
    ws_mem_net *net = ws_mem_net_new();
    ws_config cfg = {.backend = "mem", .io_arg = net, .no_signals = true,
                     .max_message_size = 1 << 16, .max_frame_size = 1 << 16,
                     .send_hard_limit = 1 << 18, .send_high_water = 1 << 14};
    ws_server *srv = ws_server_new(&cfg);
    ws_extension *pmd = ws_deflate_new(NULL, NULL);
    if (pmd)
        ws_server_extension(srv, pmd);
    ws_route(srv, "/seq", echo, NULL);
    ws_route_events(srv, "/ev", &(ws_event_callbacks){.on_message = ev_message}, NULL);
    ws_server_start(srv);
    int c = ws_mem_connect(net, ws_server_port(srv));
    if (ctl & 1) {
        char req[512];
        int n = snprintf(req, sizeof req, UPGRADE, ctl & 2 ? "ev" : "seq");
        ws_mem_write(net, c, req, (size_t)n);
    }
    if (ctl & 4)
        ws_mem_set_window(net, c, 512); /* a slow reader */
    size_t off = 0, out = 0;
    uint8_t sink[4096];
    while (off < size) {
        size_t n = size - off < step ? size - off : step;
        ws_mem_write(net, c, data + off, n);
        off += n;
        ws_server_step(srv, 0);
        if (data[off - 1] == 0xff)
            ws_mem_advance(net, 3000); /* timers fire mid-input */
        long r;
        while (!(ctl & 4) && (r = ws_mem_read(net, c, sink, sizeof sink)) > 0)
            out += (size_t)r;
    }
    if (ctl & 8)
        ws_mem_reset(net, c);
    else
        ws_mem_close(net, c);
    ws_server_stop(srv);
    for (int i = 0; i < 100 && ws_server_step(srv, 0) == 1; i++)
        ws_mem_advance(net, 1000);
    /* Output is bounded by what the input could ask for, plus the limits. */
    if (out > 64 * size + (1u << 20))
        abort();
    ws_server_free(srv);
    ws_deflate_free(pmd);
    ws_mem_net_free(net);
    return 0;
}
