/* SPDX-License-Identifier: MIT */
/* Text appended into a caller's fixed buffer without printf: the handshake
 * builds its 101 answer and the peer's "ip:port" once per connection, and
 * snprintf's format parsing was most of libc's share of a handshake's CPU. */
#ifndef WS_UTIL_STRBUF_H
#define WS_UTIL_STRBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

typedef struct ws__strbuf {
    char *p;
    size_t len, cap;
    bool over; /* something did not fit: the text is incomplete */
} ws__strbuf;

static inline ws__strbuf ws__strbuf_on(char *p, size_t cap)
{
    return (ws__strbuf){.p = p, .cap = cap, .over = cap == 0};
}

/* Appends n bytes, or marks the buffer over (one byte stays for the NUL). */
static inline void ws__strbuf_putn(ws__strbuf *b, const char *s, size_t n)
{
    if (b->over || n >= b->cap - b->len) {
        b->over = true;
        return;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static inline void ws__strbuf_put(ws__strbuf *b, const char *s)
{
    ws__strbuf_putn(b, s, strlen(s));
}

static inline void ws__strbuf_uint(ws__strbuf *b, unsigned long v)
{
    char t[24];
    size_t i = sizeof t;
    do
        t[--i] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    ws__strbuf_putn(b, t + i, sizeof t - i);
}

/* NUL-terminates what fits and returns its length, or -1 if anything was
 * left out (the buffer then holds the part that fitted). */
static inline int ws__strbuf_end(ws__strbuf *b)
{
    if (b->cap)
        b->p[b->len] = '\0';
    return b->over ? -1 : (int)b->len;
}

/* strlcpy: src, cut short to fit dst's cap with its NUL. */
static inline void ws__str_copy(char *dst, size_t cap, const char *src)
{
    ws__strbuf b = ws__strbuf_on(dst, cap);
    ws__strbuf_putn(&b, src, strnlen(src, cap ? cap - 1 : 0));
    ws__strbuf_end(&b);
}

#endif
