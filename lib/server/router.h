/* SPDX-License-Identifier: MIT */
/* The route table: exact-path WebSocket and HTTP routes, prefix static
 * routes. Filled before start, read-only afterwards (so loops read it
 * without locks). */
#ifndef WS_SERVER_ROUTER_H
#define WS_SERVER_ROUTER_H

#include <stdbool.h>
#include <stddef.h>

#include "session/handler.h"
#include "wschat/http.h"
#include "wschat/ext.h"
#include "wschat/route.h"

typedef enum { WS__ROUTE_SEQ, WS__ROUTE_EVENTS, WS__ROUTE_HTTP, WS__ROUTE_STATIC } ws__route_kind;

typedef struct ws__route {
    char *path;
    size_t path_len;
    ws__route_kind kind;
    ws__handler h; /* WebSocket routes: what runs their sessions */
    ws_http_fn http;
    void *app; /* HTTP routes */
    ws_upgrade_fn hook;
    void *hook_app;
    char *dir;            /* static routes */
    const ws_extension *exts[4]; /* route-only extensions */
    size_t nexts;
    bool no_exts; /* ws_route_no_extensions */
} ws__route;

typedef struct ws__router {
    ws__route *v;
    size_t n, cap;
} ws__router;

/* Takes ownership of r->path and r->dir on success. 0, WS_EEXIST, WS_ENOMEM. */
int ws__router_add(ws__router *rt, const ws__route *r);
ws__route *ws__router_find(ws__router *rt, const char *path);
/* Exact routes first, then the longest static prefix. NULL if none. */
const ws__route *ws__router_match(const ws__router *rt, const char *path, size_t len);
void ws__router_free(ws__router *rt);

#endif
