/* SPDX-License-Identifier: MIT */
/* Growable byte buffer with a hard cap: the cap is checked before any
 * allocation, so hostile input can never grow it past the configured limit. */
#ifndef WS_UTIL_BUF_H
#define WS_UTIL_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct ws__buf {
    uint8_t *data;
    size_t len;
    size_t cap;
    size_t limit;   /* 0 = unlimited */
} ws__buf;

void ws__buf_init(ws__buf *b, size_t limit);
void ws__buf_free(ws__buf *b);
/* Returns 0, WS_ETOOBIG past the limit, or WS_ENOMEM. */
int ws__buf_reserve(ws__buf *b, size_t extra);
int ws__buf_append(ws__buf *b, const void *p, size_t n);
/* Drops the first n bytes. */
void ws__buf_consume(ws__buf *b, size_t n);
static inline void ws__buf_reset(ws__buf *b) { b->len = 0; }

#endif
