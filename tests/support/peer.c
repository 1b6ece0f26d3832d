/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE /* memmem */
#include "peer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void pump(ws_server *srv, int n)
{
    for (int i = 0; i < n; i++)
        ws_server_step(srv, 0);
}

static void take(peer *p)
{
    for (;;) {
        if (p->in_len == p->in_cap) {
            p->in_cap = p->in_cap ? p->in_cap * 2 : 1 << 16;
            p->in = realloc(p->in, p->in_cap);
        }
        long n = ws_mem_read(p->net, p->c, p->in + p->in_len, p->in_cap - p->in_len);
        if (n == WS_ECLOSED)
            p->closed = true;
        if (n <= 0)
            return;
        p->in_len += (size_t)n;
    }
}

int peer_open(peer *p, ws_server *srv, ws_mem_net *net, int port, const char *path,
              const char *extra, const char *request)
{
    memset(p, 0, sizeof *p);
    p->net = net;
    p->srv = srv;
    p->c = ws_mem_connect(net, port);
    if (p->c < 0)
        return 0;
    char req[4096];
    if (!request) {
        snprintf(req, sizeof req,
                 "GET %s HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n%s\r\n",
                 path, extra ? extra : "");
        request = req;
    }
    ws_mem_write(net, p->c, request, strlen(request));
    for (int i = 0; i < 50; i++) {
        pump(srv, 1);
        take(p);
        char *end = p->in_len ? memmem(p->in, p->in_len, "\r\n\r\n", 4) : NULL;
        if (end) {
            size_t hl = (size_t)(end + 4 - (char *)p->in);
            size_t keep = hl < sizeof p->response - 1 ? hl : sizeof p->response - 1;
            memcpy(p->response, p->in, keep);
            p->response[keep] = '\0';
            sscanf(p->response, "HTTP/1.1 %d", &p->status);
            /* Keep the body (HTTP) or first frames (WebSocket) for later. */
            memmove(p->in, p->in + hl, p->in_len - hl);
            p->in_len -= hl;
            return p->status;
        }
        if (p->closed)
            break;
    }
    return 0;
}

void peer_free(peer *p)
{
    ws_mem_close(p->net, p->c);
    free(p->in);
    p->in = NULL;
}

int peer_send(peer *p, bool fin, uint8_t op, const void *data, size_t len)
{
    uint8_t *f = malloc(len + 14);
    size_t n = wsf_client(f, fin, op, data, len);
    long rc = ws_mem_write(p->net, p->c, f, n);
    free(f);
    return rc < 0 ? (int)rc : 0;
}

int peer_send_text(peer *p, const char *text) { return peer_send(p, true, 1, text, strlen(text)); }

int peer_send_raw(peer *p, const void *data, size_t len)
{
    long rc = ws_mem_write(p->net, p->c, data, len);
    return rc < 0 ? (int)rc : 0;
}

int peer_recv(peer *p, int rounds, wsf_frame *out)
{
    for (int i = 0; i <= rounds; i++) {
        take(p);
        wsf_frame f;
        if (wsf_parse(p->in, p->in_len, &f) == 0) {
            size_t n = f.len < sizeof p->payload - 1 ? f.len : sizeof p->payload - 1;
            memcpy(p->payload, f.payload, n);
            for (size_t k = 0; f.masked && k < n; k++)
                p->payload[k] ^= f.key[k & 3];
            p->payload[n] = 0;
            p->payload_len = f.len;
            memmove(p->in, p->in + f.total, p->in_len - f.total);
            p->in_len -= f.total;
            if (out) {
                *out = f;
                out->payload = p->payload;
            }
            return f.op;
        }
        if (p->closed)
            return -2;
        pump(p->srv, 1);
    }
    return -1;
}

int peer_expect_text(peer *p, const char *text)
{
    int op = peer_recv(p, 50, NULL);
    if (op != 1) {
        fprintf(stderr, "expected text '%s', got opcode %d\n", text, op);
        return 0;
    }
    if (p->payload_len != strlen(text) || memcmp(p->payload, text, p->payload_len) != 0) {
        fprintf(stderr, "expected '%s', got '%s'\n", text, (char *)p->payload);
        return 0;
    }
    return 1;
}

int peer_expect_close(peer *p)
{
    int op;
    while ((op = peer_recv(p, 50, NULL)) >= 0 && op != 8)
        ;
    if (op != 8)
        return -1;
    return p->payload_len >= 2 ? p->payload[0] << 8 | p->payload[1] : 1005;
}
