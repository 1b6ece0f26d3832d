/* SPDX-License-Identifier: MIT */
/* Builds client frames (masked) for tests, and parses server frames. */
#ifndef WS_TEST_WSFRAME_H
#define WS_TEST_WSFRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Writes a frame into out and returns its size. key NULL = unmasked. */
size_t wsf_build(uint8_t *out, bool fin, uint8_t rsv, uint8_t op, const void *payload, size_t len,
                 const uint8_t *key);
/* Same with the default test key {0x37,0xfa,0x21,0x3d} (RFC 6455 5.7). */
size_t wsf_client(uint8_t *out, bool fin, uint8_t op, const void *payload, size_t len);

typedef struct wsf_frame {
    bool fin;
    uint8_t rsv, op;
    const uint8_t *payload; /* as on the wire: still masked if masked */
    size_t len;
    size_t total;   /* header + payload bytes */
    bool masked;    /* a server with the (non-RFC) masking option */
    uint8_t key[4];
} wsf_frame;

/* Parses one server frame; returns 0 or -1 if incomplete. */
int wsf_parse(const uint8_t *p, size_t n, wsf_frame *f);

#endif
