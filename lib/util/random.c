/* SPDX-License-Identifier: MIT */
#include "util/random.h"
#include "wschat/error.h"

#include <string.h>
#include <unistd.h>

static int refill(ws__random *r)
{
    if (getentropy(r->buf, sizeof r->buf) != 0)
        return WS_ESYS;
    r->left = sizeof r->buf;
    return 0;
}

int ws__random_bytes(ws__random *r, void *out, size_t n)
{
    uint8_t *o = out;
    while (n) {
        if (r->left == 0 && refill(r) < 0)
            return WS_ESYS;
        size_t k = n < r->left ? n : r->left;
        /* Bytes are taken from the end and wiped, so none is used twice. */
        memcpy(o, r->buf + r->left - k, k);
        memset(r->buf + r->left - k, 0, k);
        r->left -= k;
        o += k;
        n -= k;
    }
    return 0;
}
