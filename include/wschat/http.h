/* SPDX-License-Identifier: MIT */
/* Plain HTTP GET routes next to WebSocket routes: enough to serve a web
 * client. Each response closes the connection (no keep-alive). */
#ifndef WSCHAT_HTTP_H
#define WSCHAT_HTTP_H

#include <stddef.h>

#include "api.h"
#include "request.h"
#include "server.h"

WS_BEGIN_DECLS

typedef struct ws_http_reply ws_http_reply;

/* Handles a GET (or HEAD) request; must call ws_http_respond once. Runs on
 * a loop thread; must not block. If it does not respond, the client gets 500. */
typedef void (*ws_http_fn)(const ws_request *req, ws_http_reply *reply, void *app);

/* Registers a GET route for an exact path. Same returns as ws_route. A GET
 * with "Upgrade: websocket" on an HTTP route gets 400; a plain GET on a
 * WebSocket route gets 426; an unknown path 404; other methods 405. */
WS_API int ws_http_route(ws_server *srv, const char *path, ws_http_fn fn, void *app);

/* Sends the response: the body is copied. content_type NULL means
 * "application/octet-stream". Returns 0, WS_ESTATE if already responded,
 * WS_ENOMEM. */
WS_API int ws_http_respond(ws_http_reply *reply, int status, const char *content_type,
                           const void *body, size_t len);

/* Serves files below `dir` for request paths starting with `prefix` (which
 * must end with '/'); "prefix" alone serves dir/index.html. Refuses
 * traversal ("..", NUL, backslashes, symlinks out of dir) with 404 and sets
 * Content-Type from the extension. Returns as ws_http_route. */
WS_API int ws_http_static(ws_server *srv, const char *prefix, const char *dir);

/* The Content-Type for a file name by its extension ("text/html; charset=utf-8",
 * ...); "application/octet-stream" when unknown. Static string. */
WS_API const char *ws_http_content_type(const char *filename);

WS_END_DECLS

#endif
