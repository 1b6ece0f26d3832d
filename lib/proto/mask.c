/* SPDX-License-Identifier: MIT */
#include "proto/mask.h"

#include <string.h>

/* The word loop below vectorises; on x86-64 with glibc it is also built for
 * AVX2 and chosen at load time (an ifunc), which takes a 64 KiB payload
 * from ~2-4 to ~1.5 µs on the benchmark machine. Elsewhere: one build. */
/* GCC only: clang 14 leaves the ifunc undefined when the object is linked
 * from a static archive (the fuzz build). */
#if defined(__x86_64__) && defined(__GLIBC__) && defined(__has_attribute) && !defined(__clang__)
#if __has_attribute(target_clones)
#define WS__MASK_CLONES __attribute__((target_clones("avx2", "default")))
#endif
#endif
#ifndef WS__MASK_CLONES
#define WS__MASK_CLONES
#endif

WS__MASK_CLONES size_t ws__mask(uint8_t *p, size_t len, const uint8_t key[4], size_t off)
{
    off &= 3;
    size_t i = 0;
    /* Align the key to the start of the word loop by handling a short prefix
     * byte by byte; after it the rotated key repeats every 8 bytes. */
    while (i < len && ((uintptr_t)(p + i) & 7) != 0) {
        p[i++] ^= key[off];
        off = (off + 1) & 3;
    }
    if (len - i >= 8) {
        uint8_t k8[8];
        for (int j = 0; j < 8; j++)
            k8[j] = key[(off + (size_t)j) & 3];
        uint64_t k;
        memcpy(&k, k8, 8);
        for (; i + 8 <= len; i += 8) {
            uint64_t w;
            memcpy(&w, p + i, 8);
            w ^= k;
            memcpy(p + i, &w, 8);
        }
    }
    while (i < len) {
        p[i++] ^= key[off];
        off = (off + 1) & 3;
    }
    return off;
}
