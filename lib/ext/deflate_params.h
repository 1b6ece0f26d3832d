/* SPDX-License-Identifier: MIT */
/* permessage-deflate parameter negotiation (RFC 7692 section 7), for both
 * sides, pure and testable without zlib. */
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

/* What was agreed, from this side's point of view (server or client). */
typedef struct ws__pmd_agreed {
    bool own_no_context;  /* we reset our compressor after each message */
    bool peer_no_context; /* the peer resets its compressor: our inflater may too */
    int own_window_bits;  /* the window our compressor may use, 8..15 */
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

/* The client's offer ("client_max_window_bits; ..."), given the same
 * preferences: without context we say we keep none and ask the server to
 * keep none either, so neither side holds zlib state between messages.
 * Returns 0, or -1 if params is too small. */
int ws__pmd_client_offer(bool want_context, int max_window_bits, char *params, size_t cap);

/* The server's answer to that offer (section 7.1: every parameter known,
 * none repeated, values in range, client_max_window_bits with a value).
 * Returns 0 with *agreed filled, or -1 to refuse the answer (the handshake
 * then fails). */
int ws__pmd_client_accept(const ws_ext_param *p, size_t n, bool want_context, int max_window_bits,
                          ws__pmd_agreed *agreed);

#endif
