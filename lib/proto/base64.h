/* SPDX-License-Identifier: MIT */
/* Base64 (RFC 4648, standard alphabet, padded). */
#ifndef WS_PROTO_BASE64_H
#define WS_PROTO_BASE64_H

#include <stddef.h>
#include <stdint.h>

#define WS__B64_ENCODED_LEN(n) ((((n) + 2) / 3) * 4)

/* Writes WS__B64_ENCODED_LEN(len) characters plus a NUL to out. */
void ws__base64_encode(const uint8_t *in, size_t len, char *out);

/* Decodes strictly (padding required, no whitespace). Returns the decoded
 * length, or -1 if the input is not canonical base64 or out is too small. */
long ws__base64_decode(const char *in, size_t len, uint8_t *out, size_t outcap);

#endif
