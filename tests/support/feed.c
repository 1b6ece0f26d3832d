/* SPDX-License-Identifier: MIT */
#include "feed.h"

#include <stdlib.h>
#include <string.h>

long feed_split(const uint8_t *data, size_t len, feed_mode mode, unsigned seed,
                long (*fn)(void *ud, uint8_t *chunk, size_t n), void *ud)
{
    uint8_t *copy = malloc(len ? len : 1);
    memcpy(copy, data, len);
    size_t off = 0;
    long rc = 0;
    unsigned x = seed ? seed : 1;
    do {
        size_t n = len - off;
        if (mode == FEED_BYTES && n > 1)
            n = 1;
        if (mode == FEED_RANDOM && n > 1) {
            x = x * 1103515245u + 12345u;
            n = 1 + (x >> 8) % n;
        }
        /* Each chunk gets its own exact-size allocation so ASan catches any
         * read past the chunk's end. */
        uint8_t *chunk = malloc(n ? n : 1);
        memcpy(chunk, copy + off, n);
        rc = fn(ud, chunk, n);
        if (rc >= 0)
            memcpy(copy + off, chunk, (size_t)rc);
        free(chunk);
        if (rc < 0)
            break;
        off += (size_t)rc;
        if ((size_t)rc < n)
            break;
    } while (off < len);
    free(copy);
    return rc < 0 ? rc : (long)off;
}
