/* SPDX-License-Identifier: MIT */
#include "proto/close.h"
#include "proto/utf8.h"
#include "wschat/close.h"
#include "wschat/error.h"

#include <string.h>

int ws_close_code_valid(unsigned code)
{
    if (code >= 3000 && code <= 4999)
        return 1; /* registered (3xxx) and private (4xxx) ranges */
    switch (code) {
    case 1000: case 1001: case 1002: case 1003: case 1007: case 1008:
    case 1009: case 1010: case 1011: case 1012: case 1013: case 1014:
        return 1;
    default:
        return 0; /* 0-999, 1004-1006, 1015, 1016-2999, >= 5000 */
    }
}

int ws__close_parse(const uint8_t *p, size_t n, uint16_t *code, const uint8_t **reason,
                    size_t *reason_len)
{
    *reason = p;
    *reason_len = 0;
    if (n == 0) {
        *code = WS_CLOSE_NO_STATUS;
        return 0;
    }
    if (n == 1)
        return WS_EPROTO;
    *code = (uint16_t)(p[0] << 8 | p[1]);
    if (!ws_close_code_valid(*code))
        return WS_EPROTO;
    if (!ws__utf8_valid(p + 2, n - 2))
        return WS_EUTF8;
    *reason = p + 2;
    *reason_len = n - 2;
    return 0;
}

size_t ws__close_build(uint8_t *out, uint16_t code, const char *reason, size_t reason_len)
{
    if (code == 0)
        return 0;
    out[0] = (uint8_t)(code >> 8);
    out[1] = (uint8_t)code;
    if (!reason)
        reason_len = 0;
    if (reason_len > 123) {
        reason_len = 123;
        /* Never cut a multi-byte character in half. */
        while (reason_len > 0 && ((uint8_t)reason[reason_len] & 0xC0) == 0x80)
            reason_len--;
    }
    if (reason_len)
        memcpy(out + 2, reason, reason_len);
    return 2 + reason_len;
}
