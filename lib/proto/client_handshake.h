/* SPDX-License-Identifier: MIT */
/* The RFC 6455 opening handshake, client side, sans-I/O: the key, the
 * upgrade request, and the checks a 101 must pass (section 4.1: status,
 * Upgrade, Connection, Sec-WebSocket-Accept, and a subprotocol among those
 * offered). Extensions are checked by the extension layer. */
#ifndef WS_PROTO_CLIENT_HANDSHAKE_H
#define WS_PROTO_CLIENT_HANDSHAKE_H

#include <stddef.h>
#include <stdint.h>

#include "proto/http_parser.h"
#include "proto/url.h"

#define WS__KEY_LEN 24

/* Sec-WebSocket-Key: base64 of 16 random bytes (24 chars + NUL). */
void ws__client_key(const uint8_t nonce[16], char key[WS__KEY_LEN + 1]);

typedef struct ws__client_request {
    const ws__url *url;
    const char *key;              /* from ws__client_key */
    const char *const *protocols; /* offered, in order */
    size_t nprotocols;
    const char *extensions;     /* the Sec-WebSocket-Extensions offer, or NULL */
    const char *const *headers; /* extra "Name: value" lines, checked by the caller */
    size_t nheaders;
} ws__client_request;

/* Writes the GET upgrade request. Returns its length, or -1 if cap is too
 * small. */
int ws__client_request_write(char *out, size_t cap, const ws__client_request *r);

/* 1 if `line` may be sent as an extra header: "Name: value" with a token
 * name, no CR, LF or NUL, and not one of the handshake's own headers. */
int ws__client_header_ok(const char *line);

/* Checks a response head against the request: 0 (and *proto = the index
 * of the chosen subprotocol, or -1), or WS_EREDIRECT (3xx), WS_ESTATUS
 * (another status than 101), WS_EUPGRADE (no "Upgrade: websocket" or no
 * "Connection: upgrade"), WS_EACCEPT (missing, repeated or wrong
 * Sec-WebSocket-Accept), WS_ESUBPROTO (a subprotocol not offered, several,
 * or one when none was offered). */
int ws__client_check_response(const ws__http_response *resp, const char *key,
                              const char *const *protocols, size_t nprotocols, int *proto);

#endif
