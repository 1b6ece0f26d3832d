/* SPDX-License-Identifier: MIT */
/* Facts about the HTTP request that opened a session or asked an HTTP route:
 * path, query, headers, cookies, peer address.
 *
 * A `const ws_request *` is valid for the life of its session (or during the
 * HTTP handler / upgrade hook call) and only on that session's loop thread.
 * Callback routes release it when on_open returns unless
 * ws_route_keep_request asked otherwise (see route.h).
 */
#ifndef WSCHAT_REQUEST_H
#define WSCHAT_REQUEST_H

#include <stddef.h>

#include "api.h"

WS_BEGIN_DECLS

typedef struct ws_request ws_request;

/* The path (no query), NUL-terminated, as sent (not percent-decoded). */
WS_API const char *ws_request_path(const ws_request *req);
/* The peer as "ip:port" (IPv6 as "[ip]:port"). */
WS_API const char *ws_request_peer(const ws_request *req);

/* The next three copy a value, NUL-terminated, into buf. They return its
 * length, WS_ENOTFOUND if absent, or WS_ETOOBIG if cap is too small (buf then
 * holds a truncated, still NUL-terminated prefix). */

/* First header `name` (case-insensitive), with surrounding spaces trimmed. */
WS_API int ws_request_header(const ws_request *req, const char *name, char *buf, size_t cap);
/* Query parameter `name`, percent- and '+'-decoded. A parameter given with
 * no '=' has an empty value. */
WS_API int ws_request_query(const ws_request *req, const char *name, char *buf, size_t cap);
/* Cookie `name` from the Cookie header(s). */
WS_API int ws_request_cookie(const ws_request *req, const char *name, char *buf, size_t cap);

WS_END_DECLS

#endif
