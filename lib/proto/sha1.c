/* SPDX-License-Identifier: MIT */
#include "proto/sha1.h"

#include <string.h>

static uint32_t rol(uint32_t v, int n) { return (v << n) | (v >> (32 - n)); }

/* One round group per loop: with the choice of f and k inside a single
 * 80-step loop the compiler kept the branches (a handshake hashes two
 * blocks, a few percent of its user-space CPU). The schedule is a ring of
 * 16 words, expanded as it goes. */
#define SHA1_STEP(F, K)                                                                           \
    do {                                                                                          \
        if (i >= 16)                                                                              \
            w[i & 15] = rol(w[(i - 3) & 15] ^ w[(i - 8) & 15] ^ w[(i - 14) & 15] ^ w[i & 15], 1); \
        uint32_t t = rol(a, 5) + (F) + e + (K) + w[i & 15];                                       \
        e = d;                                                                                    \
        d = c;                                                                                    \
        c = rol(b, 30);                                                                           \
        b = a;                                                                                    \
        a = t;                                                                                    \
    } while (0)

static void compress(uint32_t h[5], const uint8_t *p)
{
    uint32_t w[16];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
               (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    int i = 0;
    for (; i < 20; i++)
        SHA1_STEP((b & c) | (~b & d), 0x5A827999u);
    for (; i < 40; i++)
        SHA1_STEP(b ^ c ^ d, 0x6ED9EBA1u);
    for (; i < 60; i++)
        SHA1_STEP((b & c) | (b & d) | (c & d), 0x8F1BBCDCu);
    for (; i < 80; i++)
        SHA1_STEP(b ^ c ^ d, 0xCA62C1D6u);
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
}

void ws__sha1_init(ws__sha1 *c)
{
    static const uint32_t iv[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
    memcpy(c->h, iv, sizeof iv);
    c->total = 0;
    c->used = 0;
}

void ws__sha1_update(ws__sha1 *c, const void *data, size_t len)
{
    const uint8_t *p = data;
    c->total += len;
    while (len > 0) {
        size_t n = 64 - c->used;
        if (n > len)
            n = len;
        memcpy(c->block + c->used, p, n);
        c->used += n;
        p += n;
        len -= n;
        if (c->used == 64) {
            compress(c->h, c->block);
            c->used = 0;
        }
    }
}

void ws__sha1_final(ws__sha1 *c, uint8_t out[20])
{
    uint64_t bits = c->total * 8;
    c->block[c->used++] = 0x80; /* used < 64 here: a full block is compressed at once */
    if (c->used > 56) {
        memset(c->block + c->used, 0, 64 - c->used);
        compress(c->h, c->block);
        c->used = 0;
    }
    memset(c->block + c->used, 0, 56 - c->used);
    c->used = 56;
    uint8_t len[8];
    for (int i = 0; i < 8; i++)
        len[i] = (uint8_t)(bits >> (56 - 8 * i));
    ws__sha1_update(c, len, 8);
    for (int i = 0; i < 5; i++) {
        out[4 * i] = (uint8_t)(c->h[i] >> 24);
        out[4 * i + 1] = (uint8_t)(c->h[i] >> 16);
        out[4 * i + 2] = (uint8_t)(c->h[i] >> 8);
        out[4 * i + 3] = (uint8_t)c->h[i];
    }
}
