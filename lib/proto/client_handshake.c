/* SPDX-License-Identifier: MIT */
#include "proto/client_handshake.h"
#include "proto/base64.h"
#include "proto/handshake.h"
#include "wschat/error.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

void ws__client_key(const uint8_t nonce[16], char key[WS__KEY_LEN + 1])
{
    ws__base64_encode(nonce, 16, key);
}

/* Appends n bytes to out[*len .. cap), keeping room for the NUL; false
 * once it does not fit (and from then on). */
static bool put(char *out, size_t cap, size_t *len, const char *s, size_t n)
{
    if (*len == SIZE_MAX || n >= cap - *len) {
        *len = SIZE_MAX;
        return false;
    }
    memcpy(out + *len, s, n);
    *len += n;
    out[*len] = '\0';
    return true;
}

static bool puts0(char *out, size_t cap, size_t *len, const char *s)
{
    return put(out, cap, len, s, strlen(s));
}

int ws__client_request_write(char *out, size_t cap, const ws__client_request *r)
{
    char host[WS__URL_MAX_HOST + 16];
    if (ws__url_host_header(r->url, host, sizeof host) < 0 || cap == 0)
        return -1;
    size_t len = 0;
    puts0(out, cap, &len, "GET ");
    put(out, cap, &len, r->url->target.p, r->url->target.n);
    puts0(out, cap, &len, " HTTP/1.1\r\nHost: ");
    puts0(out, cap, &len, host);
    puts0(out, cap, &len, "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ");
    puts0(out, cap, &len, r->key);
    puts0(out, cap, &len, "\r\nSec-WebSocket-Version: 13\r\n");
    for (size_t i = 0; i < r->nprotocols; i++) {
        puts0(out, cap, &len, i ? ", " : "Sec-WebSocket-Protocol: ");
        puts0(out, cap, &len, r->protocols[i]);
        if (i + 1 == r->nprotocols)
            puts0(out, cap, &len, "\r\n");
    }
    if (r->extensions && r->extensions[0]) {
        puts0(out, cap, &len, "Sec-WebSocket-Extensions: ");
        puts0(out, cap, &len, r->extensions);
        puts0(out, cap, &len, "\r\n");
    }
    for (size_t i = 0; i < r->nheaders; i++) {
        puts0(out, cap, &len, r->headers[i]);
        puts0(out, cap, &len, "\r\n");
    }
    return puts0(out, cap, &len, "\r\n") ? (int)len : -1;
}

int ws__client_header_ok(const char *line)
{
    static const char *const own[] = {"Host",
                                      "Upgrade",
                                      "Connection",
                                      "Sec-WebSocket-Key",
                                      "Sec-WebSocket-Version",
                                      "Sec-WebSocket-Protocol",
                                      "Sec-WebSocket-Extensions",
                                      "Content-Length",
                                      "Transfer-Encoding"};
    const char *colon = line ? strchr(line, ':') : NULL;
    if (!colon || colon == line || strpbrk(line, "\r\n"))
        return 0;
    for (const char *p = line; p < colon; p++)
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7F ||
            strchr("()<>@,;:\\\"/[]?={}", *p))
            return 0;
    for (size_t i = 0; i < sizeof own / sizeof own[0]; i++)
        if (strlen(own[i]) == (size_t)(colon - line) &&
            strncasecmp(line, own[i], strlen(own[i])) == 0)
            return 0;
    return 1;
}

/* The one subprotocol the server chose, or -1; WS_ESUBPROTO if it chose
 * one it was not offered, or more than one. */
static int chosen_protocol(const ws__http_response *resp, const char *const *protocols, size_t n)
{
    const ws__http_header *h = ws__headers_find(resp->headers, resp->nheaders,
                                                "Sec-WebSocket-Protocol", 0);
    if (!h)
        return -1;
    if (ws__headers_find(resp->headers, resp->nheaders, "Sec-WebSocket-Protocol", 1))
        return WS_ESUBPROTO;
    for (size_t i = 0; i < n; i++)
        if (h->value.n == strlen(protocols[i]) && memcmp(h->value.p, protocols[i], h->value.n) == 0)
            return (int)i; /* subprotocol names are case-sensitive (RFC 6455 11.5) */
    return WS_ESUBPROTO;
}

int ws__client_check_response(const ws__http_response *resp, const char *key,
                              const char *const *protocols, size_t nprotocols, int *proto)
{
    *proto = -1;
    if (resp->status >= 300 && resp->status < 400)
        return WS_EREDIRECT;
    if (resp->status != 101)
        return WS_ESTATUS;
    const ws__http_header *v = resp->headers;
    size_t n = resp->nheaders;
    if (!ws__headers_have_token(v, n, "Upgrade", "websocket") ||
        !ws__headers_have_token(v, n, "Connection", "upgrade"))
        return WS_EUPGRADE;
    const ws__http_header *a = ws__headers_find(v, n, "Sec-WebSocket-Accept", 0);
    char want[WS__ACCEPT_LEN + 1];
    ws__handshake_accept(key, strlen(key), want);
    if (!a || ws__headers_find(v, n, "Sec-WebSocket-Accept", 1) || a->value.n != WS__ACCEPT_LEN ||
        memcmp(a->value.p, want, WS__ACCEPT_LEN) != 0)
        return WS_EACCEPT;
    int pi = chosen_protocol(resp, protocols, nprotocols);
    if (pi < -1)
        return pi;
    *proto = pi;
    return 0;
}
