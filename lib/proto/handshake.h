/* SPDX-License-Identifier: MIT */
/* The RFC 6455 opening handshake, server side: request validation, the
 * Sec-WebSocket-Accept value, subprotocol choice and the response bytes. */
#ifndef WS_PROTO_HANDSHAKE_H
#define WS_PROTO_HANDSHAKE_H

#include <stddef.h>

#include "proto/http_parser.h"

#define WS__ACCEPT_LEN 28

/* Validates an upgrade request. Returns 0 if it is a valid WebSocket
 * handshake, else the HTTP status to answer: 405 (not GET), 426 (no
 * "Upgrade: websocket", or a version other than 13), 400 (anything else
 * malformed: HTTP/1.0, no Host, no "Connection: upgrade", a key that is not
 * base64 of 16 bytes, a repeated key). */
int ws__handshake_check(const ws__http_request *req);

/* Computes Sec-WebSocket-Accept for a key into out (28 chars + NUL). */
void ws__handshake_accept(const char *key, size_t key_len, char out[WS__ACCEPT_LEN + 1]);

/* Picks the first protocol of `supported` (server preference order) that the
 * client offered in Sec-WebSocket-Protocol. Returns its index or -1. */
int ws__handshake_pick_protocol(const ws__http_request *req, const char *const *supported,
                                size_t n);

/* Writes the 101 response. protocol and extensions may be NULL. Returns the
 * length, or -1 if cap is too small. */
int ws__handshake_response(char *out, size_t cap, const ws__http_request *req,
                           const char *protocol, const char *extensions);

/* Writes a complete error response (with Connection: close and the headers
 * the status calls for, such as Sec-WebSocket-Version for 426). */
int ws__http_error_response(char *out, size_t cap, int status);

/* Reason phrase for a status code. */
const char *ws__http_reason(int status);

#endif
