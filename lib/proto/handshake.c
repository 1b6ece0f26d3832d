/* SPDX-License-Identifier: MIT */
#include "proto/handshake.h"
#include "proto/base64.h"
#include "proto/sha1.h"
#include "util/strbuf.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

static const char GUID[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

static int key_valid(const ws__http_request *req)
{
    const ws__http_header *k = ws__http_find(req, "Sec-WebSocket-Key", 0);
    if (!k || ws__http_find(req, "Sec-WebSocket-Key", 1))
        return 0;
    uint8_t raw[18];
    return ws__base64_decode(k->value.p, k->value.n, raw, sizeof raw) == 16;
}

int ws__handshake_check(const ws__http_request *req)
{
    if (req->method.n != 3 || memcmp(req->method.p, "GET", 3) != 0) /* methods are case-sensitive */
        return 405;
    if (req->minor_version < 1)
        return 400;
    if (!ws__http_has_token(req, "Upgrade", "websocket"))
        return 426;
    if (!ws__http_has_token(req, "Connection", "upgrade"))
        return 400;
    if (!ws__http_find(req, "Host", 0))
        return 400;
    const ws__http_header *v = ws__http_find(req, "Sec-WebSocket-Version", 0);
    if (!v || !ws__slice_ieq(v->value, "13") || ws__http_find(req, "Sec-WebSocket-Version", 1))
        return 426;
    if (!key_valid(req))
        return 400;
    return 0;
}

void ws__handshake_accept(const char *key, size_t key_len, char out[WS__ACCEPT_LEN + 1])
{
    ws__sha1 c;
    uint8_t digest[20];
    ws__sha1_init(&c);
    ws__sha1_update(&c, key, key_len);
    ws__sha1_update(&c, GUID, sizeof GUID - 1);
    ws__sha1_final(&c, digest);
    ws__base64_encode(digest, sizeof digest, out);
}

int ws__handshake_pick_protocol(const ws__http_request *req, const char *const *supported,
                                size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (ws__http_has_token(req, "Sec-WebSocket-Protocol", supported[i]))
            return (int)i;
    return -1;
}

int ws__handshake_response(char *out, size_t cap, const ws__http_request *req,
                           const char *protocol, const char *extensions)
{
    const ws__http_header *k = ws__http_find(req, "Sec-WebSocket-Key", 0);
    char accept[WS__ACCEPT_LEN + 1];
    ws__handshake_accept(k->value.p, k->value.n, accept);
    ws__strbuf b = ws__strbuf_on(out, cap);
    ws__strbuf_put(&b, "HTTP/1.1 101 Switching Protocols\r\n"
                       "Upgrade: websocket\r\n"
                       "Connection: Upgrade\r\n"
                       "Sec-WebSocket-Accept: ");
    ws__strbuf_putn(&b, accept, WS__ACCEPT_LEN);
    if (protocol) {
        ws__strbuf_put(&b, "\r\nSec-WebSocket-Protocol: ");
        ws__strbuf_put(&b, protocol);
    }
    if (extensions) {
        ws__strbuf_put(&b, "\r\nSec-WebSocket-Extensions: ");
        ws__strbuf_put(&b, extensions);
    }
    ws__strbuf_put(&b, "\r\n\r\n");
    return ws__strbuf_end(&b);
}

const char *ws__http_reason(int status)
{
    switch (status) {
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 414: return "URI Too Long";
    case 426: return "Upgrade Required";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Error";
    }
}

int ws__http_error_response(char *out, size_t cap, int status)
{
    const char *extra = "";
    if (status == 426)
        extra = "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n";
    else if (status == 405)
        extra = "Allow: GET\r\n";
    const char *reason = ws__http_reason(status);
    int n = snprintf(out, cap,
                     "HTTP/1.1 %d %s\r\n%s"
                     "Content-Type: text/plain; charset=utf-8\r\n"
                     "Content-Length: %zu\r\n"
                     "Connection: close\r\n\r\n%s\n",
                     status, reason, extra, strlen(reason) + 1, reason);
    return n < 0 || (size_t)n >= cap ? -1 : n;
}
