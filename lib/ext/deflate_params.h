/* SPDX-License-Identifier: MIT */
/* permessage-deflate parameter negotiation (RFC 7692 section 7), pure and
 * testable without zlib. */
#ifndef WS_EXT_DEFLATE_PARAMS_H
#define WS_EXT_DEFLATE_PARAMS_H

#include <stdbool.h>
#include <stddef.h>

#include "wschat/ext.h"

typedef struct ws__pmd_offer {
    bool server_no_context_takeover;
    bool client_no_context_takeover;
    int server_max_window_bits;   /* 0 = not offered, else 8..15 */
    int client_max_window_bits;   /* 0 = not offered, -1 = offered without value, else 8..15 */
} ws__pmd_offer;

typedef struct ws__pmd_agreed {
    bool server_no_context_takeover;  /* we reset our compressor after each message */
    bool client_no_context_takeover;  /* the client resets: our inflater may too */
    int server_window_bits;           /* the window our compressor may use, 8..15 */
} ws__pmd_agreed;

/* Parses one offer. Returns 0, or -1 to decline it (an unknown parameter, a
 * repeated one, or a value out of range, as section 7.1 requires). */
int ws__pmd_parse_offer(const ws_ext_param *p, size_t n, ws__pmd_offer *out);

/* Decides the answer for an accepted offer, given our preferences: whether
 * we keep context, and our largest window (9-15). Writes the response
 * parameters ("server_no_context_takeover; ...") into resp. Returns 0, or -1
 * if resp is too small. */
int ws__pmd_answer(const ws__pmd_offer *offer, bool want_context, int max_window_bits,
                   ws__pmd_agreed *agreed, char *resp, size_t cap);

#endif
