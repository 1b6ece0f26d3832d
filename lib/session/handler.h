/* SPDX-License-Identifier: MIT */
/* What runs a session, whichever role opened it: a sequential handler or
 * event callbacks, with the facts the session layer needs about them. A
 * server route embeds one (shared by all its sessions); a client connection
 * owns one. */
#ifndef WS_SESSION_HANDLER_H
#define WS_SESSION_HANDLER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wschat/route.h"

typedef enum { WS__H_SEQ, WS__H_EVENTS } ws__handler_kind;

typedef struct ws__handler {
    ws__handler_kind kind;
    ws_handler_fn fn;      /* WS__H_SEQ */
    ws_event_callbacks cb; /* WS__H_EVENTS */
    void *app;
    const char *path;             /* what ws_session_path answers */
    const char *const *protocols; /* a session's subprotocol is an index into these */
    size_t nprotocols;
    uint32_t ping_period_ms; /* the session's timers (WS_DISABLED = off) */
    uint32_t timeout_ms;
    bool keep_request; /* callback routes: keep the request after on_open */
} ws__handler;

#endif
