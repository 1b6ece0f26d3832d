/* SPDX-License-Identifier: MIT */
/* SHA-1 (FIPS 180-4), only for Sec-WebSocket-Accept. */
#ifndef WS_PROTO_SHA1_H
#define WS_PROTO_SHA1_H

#include <stddef.h>
#include <stdint.h>

typedef struct ws__sha1 {
    uint32_t h[5];
    uint64_t total;
    uint8_t block[64];
    size_t used;
} ws__sha1;

void ws__sha1_init(ws__sha1 *c);
void ws__sha1_update(ws__sha1 *c, const void *data, size_t len);
void ws__sha1_final(ws__sha1 *c, uint8_t out[20]);

#endif
