/* SPDX-License-Identifier: MIT */
/* Random bytes from the system's CSPRNG (getentropy), drawn in batches: a
 * client masks every frame with a fresh key, and one syscall per frame
 * would cost more than the frame. One pool per loop thread, no locking. */
#ifndef WS_UTIL_RANDOM_H
#define WS_UTIL_RANDOM_H

#include <stddef.h>
#include <stdint.h>

#define WS__RANDOM_BATCH 256 /* getentropy's largest request */

typedef struct ws__random {
    uint8_t buf[WS__RANDOM_BATCH];
    size_t left; /* unused bytes at the end of buf */
} ws__random;

/* Writes n random bytes to out. Returns 0, or WS_ESYS if the system has no
 * randomness to give (then out is unchanged). */
int ws__random_bytes(ws__random *r, void *out, size_t n);

#endif
