/* SPDX-License-Identifier: MIT */
#include "wsframe.h"

#include <string.h>

size_t wsf_build(uint8_t *out, bool fin, uint8_t rsv, uint8_t op, const void *payload, size_t len,
                 const uint8_t *key)
{
    size_t n = 0;
    out[n++] = (uint8_t)((fin ? 0x80 : 0) | (rsv << 4) | op);
    uint8_t m = key ? 0x80 : 0;
    if (len < 126) {
        out[n++] = (uint8_t)(m | len);
    } else if (len < 65536) {
        out[n++] = m | 126;
        out[n++] = (uint8_t)(len >> 8);
        out[n++] = (uint8_t)len;
    } else {
        out[n++] = m | 127;
        for (int i = 7; i >= 0; i--)
            out[n++] = (uint8_t)((uint64_t)len >> (8 * i));
    }
    if (key) {
        memcpy(out + n, key, 4);
        n += 4;
    }
    const uint8_t *p = payload;
    for (size_t i = 0; i < len; i++)
        out[n + i] = key ? p[i] ^ key[i & 3] : p[i];
    return n + len;
}

size_t wsf_client(uint8_t *out, bool fin, uint8_t op, const void *payload, size_t len)
{
    static const uint8_t key[4] = {0x37, 0xfa, 0x21, 0x3d};
    return wsf_build(out, fin, 0, op, payload, len, key);
}

int wsf_parse(const uint8_t *p, size_t n, wsf_frame *f)
{
    if (n < 2)
        return -1;
    f->fin = (p[0] & 0x80) != 0;
    f->rsv = (p[0] >> 4) & 7;
    f->op = p[0] & 0xF;
    size_t h = 2;
    uint64_t len = p[1] & 0x7F;
    if (len == 126) {
        if (n < 4) return -1;
        len = (uint64_t)p[2] << 8 | p[3];
        h = 4;
    } else if (len == 127) {
        if (n < 10) return -1;
        len = 0;
        for (int i = 0; i < 8; i++)
            len = len << 8 | p[2 + i];
        h = 10;
    }
    f->masked = (p[1] & 0x80) != 0;
    if (f->masked) {
        if (n < h + 4) return -1;
        memcpy(f->key, p + h, 4);
        h += 4;
    }
    if (n < h + len)
        return -1;
    f->payload = p + h;
    f->len = (size_t)len;
    f->total = h + (size_t)len;
    return 0;
}
