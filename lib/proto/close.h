/* SPDX-License-Identifier: MIT */
/* Close frame payloads (RFC 6455 5.5.1, 7.4). */
#ifndef WS_PROTO_CLOSE_H
#define WS_PROTO_CLOSE_H

#include <stddef.h>
#include <stdint.h>

/* Parses a received close payload. On success returns 0 with *code (1005 when
 * the payload is empty) and the reason slice. Returns WS_EPROTO for a 1-byte
 * payload or a code that must not be on the wire, WS_EUTF8 for a reason that is
 * not UTF-8. */
int ws__close_parse(const uint8_t *p, size_t n, uint16_t *code, const uint8_t **reason,
                    size_t *reason_len);

/* Builds a close payload (code + reason truncated to fit 125 bytes on a UTF-8
 * boundary) into out[125]. code 0 gives an empty payload. Returns its length. */
size_t ws__close_build(uint8_t *out, uint16_t code, const char *reason, size_t reason_len);

#endif
