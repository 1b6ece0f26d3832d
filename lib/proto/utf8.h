/* SPDX-License-Identifier: MIT */
/* Incremental UTF-8 validator (RFC 3629): fails at the first byte that cannot
 * start or continue a valid sequence, so a bad text message is refused while
 * it is still arriving (Autobahn 6.x "fail fast"). */
#ifndef WS_PROTO_UTF8_H
#define WS_PROTO_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* 0 means "between code points". Anything else is a partial sequence. */
typedef uint32_t ws__utf8_state;

/* Validates the next chunk. Returns 0 if every byte so far can still be part
 * of valid UTF-8, -1 at the first invalid byte (state is then meaningless). */
int ws__utf8_feed(ws__utf8_state *st, const uint8_t *p, size_t n);

/* 1 if the text ended on a code point boundary. */
static inline int ws__utf8_complete(ws__utf8_state st) { return st == 0; }

/* Convenience: validates a whole buffer. Returns 1 if valid. */
int ws__utf8_valid(const uint8_t *p, size_t n);

#endif
