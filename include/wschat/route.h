/* SPDX-License-Identifier: MIT */
/* Routes: a path served by a sequential handler or by event callbacks.
 *
 * Registration (every function here) must happen before ws_server_start, on
 * the thread that owns the server. A route path is matched exactly against
 * the request path (no query). If a registration fails, its callbacks are
 * never called.
 */
#ifndef WSCHAT_ROUTE_H
#define WSCHAT_ROUTE_H

#include <stdbool.h>
#include <stddef.h>

#include "api.h"
#include "close.h"
#include "request.h"
#include "server.h"
#include "session.h"

WS_BEGIN_DECLS

/* A sequential handler: runs once per connection, top to bottom, on a
 * coroutine of its own on the session's loop thread. ws_recv suspends only
 * this session. When it returns, the session is closed with 1000 if it is
 * still open. It must not block the thread (no sleep, no blocking I/O). */
typedef void (*ws_handler_fn)(ws_session *s, void *app);

/* Returns 0, WS_EINVAL (path not starting with '/', NULL handler), WS_EEXIST
 * (path already routed), WS_ESTATE (server started), WS_ENOMEM. */
WS_API int ws_route(ws_server *srv, const char *path, ws_handler_fn handler, void *app);

/* Event callbacks: the fast path, no stack per session. Every member may be
 * NULL. All run on the session's loop thread.
 *
 * Idle memory is what a callback route is for, so its session lets the
 * request (head copy and header index, ~0.5 KB) go when on_open returns:
 * ws_session_request() is then NULL and ws_session_header/query/cookie
 * return WS_ESTATE; ws_session_path and ws_session_peer keep working. Read
 * what you need in on_open, or call ws_route_keep_request. */
typedef struct ws_event_callbacks {
    void (*on_open)(ws_session *s, void *app);
    /* m->data is valid until on_message returns. */
    void (*on_message)(ws_session *s, const ws_msg *m, void *app);
    /* An error ended the session (protocol, I/O, timeout); on_close follows. */
    void (*on_error)(ws_session *s, int err, void *app);
    /* Exactly once per opened session. */
    void (*on_close)(ws_session *s, const ws_close_reason *r, void *app);
    /* The send queue went from above the high-water mark to below it. */
    void (*on_drain)(ws_session *s, void *app);
} ws_event_callbacks;

/* Same returns as ws_route. The callbacks struct is copied. */
WS_API int ws_route_events(ws_server *srv, const char *path, const ws_event_callbacks *cb,
                           void *app);

/* Subprotocols the route speaks, in preference order (the strings must
 * outlive the server). A client offering none of them still connects, with no
 * protocol. Returns 0, WS_ENOTFOUND (no such route), WS_EINVAL (protocols
 * NULL with n > 0, or more than 255), WS_ESTATE. */
WS_API int ws_route_protocols(ws_server *srv, const char *path, const char *const *protocols,
                              size_t n);

/* Called before the 101 with the request; may refuse it (authentication, an
 * Origin allow-list). Return 0 to accept, or an HTTP status 400-599 (401 and
 * 403 are typical) to refuse. Runs on the loop thread; must not block. */
typedef int (*ws_upgrade_fn)(const ws_request *req, void *app);
WS_API int ws_route_upgrade_hook(ws_server *srv, const char *path, ws_upgrade_fn hook, void *app);

/* Keeps (keep = true) a callback route's request for the whole session
 * instead of releasing it after on_open. Sequential routes always keep it.
 * Returns 0, WS_ENOTFOUND (no such WebSocket route), WS_EINVAL, WS_ESTATE
 * (server started). */
WS_API int ws_route_keep_request(ws_server *srv, const char *path, bool keep);

WS_END_DECLS

#endif
