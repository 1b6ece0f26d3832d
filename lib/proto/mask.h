/* SPDX-License-Identifier: MIT */
/* XOR (un)masking of frame payloads (RFC 6455 5.3), the receive hot loop. */
#ifndef WS_PROTO_MASK_H
#define WS_PROTO_MASK_H

#include <stddef.h>
#include <stdint.h>

/* XORs len bytes of p in place with key, starting at key offset `off` (the
 * number of payload bytes of this frame already unmasked). Returns the new
 * offset modulo 4. Works a machine word at a time. */
size_t ws__mask(uint8_t *p, size_t len, const uint8_t key[4], size_t off);

#endif
