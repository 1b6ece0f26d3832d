/* SPDX-License-Identifier: MIT */
#include "util/buf.h"
#include "wschat/error.h"

#include <stdlib.h>
#include <string.h>

void ws__buf_init(ws__buf *b, size_t limit)
{
    b->data = NULL;
    b->len = b->cap = 0;
    b->limit = limit;
}

void ws__buf_free(ws__buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

int ws__buf_reserve(ws__buf *b, size_t extra)
{
    if (extra > SIZE_MAX - b->len)
        return WS_ETOOBIG;
    size_t need = b->len + extra;
    if (b->limit && need > b->limit)
        return WS_ETOOBIG;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    if (b->limit && cap > b->limit)
        cap = b->limit;
    uint8_t *p = realloc(b->data, cap);
    if (!p)
        return WS_ENOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
}

int ws__buf_append(ws__buf *b, const void *p, size_t n)
{
    if (n == 0)
        return 0;
    int rc = ws__buf_reserve(b, n);
    if (rc)
        return rc;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

void ws__buf_consume(ws__buf *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
}
