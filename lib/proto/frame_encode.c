/* SPDX-License-Identifier: MIT */
#include "proto/frame.h"

#include <string.h>

size_t ws__frame_header(uint8_t *out, bool fin, uint8_t rsv, uint8_t opcode, uint64_t len,
                        const uint8_t *key)
{
    size_t n = 2;
    out[0] = (uint8_t)((fin ? 0x80 : 0) | (rsv & 7) << 4 | (opcode & 0x0F));
    uint8_t mbit = key ? 0x80 : 0;
    if (len < 126) {
        out[1] = (uint8_t)(mbit | len);
    } else if (len <= 0xFFFF) {
        out[1] = mbit | 126;
        out[2] = (uint8_t)(len >> 8);
        out[3] = (uint8_t)len;
        n = 4;
    } else {
        out[1] = mbit | 127;
        for (int i = 0; i < 8; i++)
            out[2 + i] = (uint8_t)(len >> (56 - 8 * i));
        n = 10;
    }
    if (key) {
        memcpy(out + n, key, 4);
        n += 4;
    }
    return n;
}
