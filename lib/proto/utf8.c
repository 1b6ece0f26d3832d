/* SPDX-License-Identifier: MIT */
#include "proto/utf8.h"

#include <string.h>

/* State layout: bits 0-7 lowest allowed next byte, 8-15 highest, 16-17 the
 * number of continuation bytes still needed. The bounds encode the overlong,
 * surrogate and >U+10FFFF exclusions of RFC 3629's table, so each byte costs
 * one range check. */
#define ST(need, lo, hi) ((uint32_t)(need) << 16 | (uint32_t)(hi) << 8 | (uint32_t)(lo))

static uint32_t lead(uint8_t b)
{
    if (b >= 0xC2 && b <= 0xDF) return ST(1, 0x80, 0xBF);
    if (b == 0xE0) return ST(2, 0xA0, 0xBF);
    if (b == 0xED) return ST(2, 0x80, 0x9F);
    if (b >= 0xE1 && b <= 0xEF) return ST(2, 0x80, 0xBF);
    if (b == 0xF0) return ST(3, 0x90, 0xBF);
    if (b >= 0xF1 && b <= 0xF3) return ST(3, 0x80, 0xBF);
    if (b == 0xF4) return ST(3, 0x80, 0x8F);
    return 0xFFFFFFFFu;
}

int ws__utf8_feed(ws__utf8_state *st, const uint8_t *p, size_t n)
{
    uint32_t s = *st;
    size_t i = 0;
    while (i < n) {
        if (s == 0) {
            /* ASCII fast path: eight bytes per step while no high bit is set. */
            while (i + 8 <= n) {
                uint64_t w;
                memcpy(&w, p + i, 8);
                if (w & 0x8080808080808080ull)
                    break;
                i += 8;
            }
            if (i == n)
                break;
            uint8_t b = p[i++];
            if (b < 0x80)
                continue;
            s = lead(b);
            if (s == 0xFFFFFFFFu)
                return -1;
            continue;
        }
        uint8_t b = p[i++];
        if (b < (s & 0xFF) || b > ((s >> 8) & 0xFF))
            return -1;
        uint32_t need = (s >> 16) - 1;
        s = need ? ST(need, 0x80, 0xBF) : 0;
    }
    *st = s;
    return 0;
}

int ws__utf8_valid(const uint8_t *p, size_t n)
{
    ws__utf8_state st = 0;
    return ws__utf8_feed(&st, p, n) == 0 && st == 0;
}
