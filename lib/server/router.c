/* SPDX-License-Identifier: MIT */
#include "server/router.h"
#include "util/array.h"
#include "wschat/error.h"

#include <stdlib.h>
#include <string.h>

int ws__router_add(ws__router *rt, const ws__route *r)
{
    if (ws__router_find(rt, r->path))
        return WS_EEXIST;
    if (rt->n == rt->cap) {
        ws__route *v = ws__grow_doubling(rt->v, &rt->cap, sizeof *v, 8);
        if (!v)
            return WS_ENOMEM;
        rt->v = v;
    }
    rt->v[rt->n++] = *r;
    return 0;
}

ws__route *ws__router_find(ws__router *rt, const char *path)
{
    for (size_t i = 0; i < rt->n; i++)
        if (strcmp(rt->v[i].path, path) == 0)
            return &rt->v[i];
    return NULL;
}

const ws__route *ws__router_match(const ws__router *rt, const char *path, size_t len)
{
    const ws__route *best = NULL;
    for (size_t i = 0; i < rt->n; i++) {
        const ws__route *r = &rt->v[i];
        if (r->kind != WS__ROUTE_STATIC) {
            if (r->path_len == len && memcmp(r->path, path, len) == 0)
                return r;
            continue;
        }
        /* "/static/" serves "/static/x" and also "/static" itself. */
        bool prefix = len >= r->path_len && memcmp(r->path, path, r->path_len) == 0;
        bool bare = len + 1 == r->path_len && memcmp(r->path, path, len) == 0;
        if ((prefix || bare) && (!best || r->path_len > best->path_len))
            best = r;
    }
    return best;
}

void ws__router_free(ws__router *rt)
{
    for (size_t i = 0; i < rt->n; i++) {
        free(rt->v[i].path);
        free(rt->v[i].dir);
    }
    free(rt->v);
    rt->v = NULL;
    rt->n = rt->cap = 0;
}

/* --- public registration -------------------------------------------------- */

#include "server/server_impl.h"

#include <limits.h>

static int check(ws_server *srv, const char *path)
{
    if (!srv || !path || path[0] != '/')
        return WS_EINVAL;
    if (atomic_load(&srv->host.state) != WS__HOST_NEW || srv->host.workers)
        return WS_ESTATE;
    return 0;
}

static int add(ws_server *srv, ws__route *r, const char *path)
{
    r->path = strdup(path);
    if (!r->path)
        return WS_ENOMEM;
    r->path_len = strlen(path);
    /* Sessions read these through their handler (session/handler.h). */
    r->h.path = r->path;
    r->h.ping_period_ms = srv->host.cfg.ping_period_ms;
    r->h.timeout_ms = srv->host.cfg.timeout_ms;
    int rc = ws__router_add(&srv->routes, r);
    if (rc) {
        free(r->path);
        free(r->dir);
    }
    return rc;
}

int ws_route(ws_server *srv, const char *path, ws_handler_fn handler, void *app)
{
    int rc = check(srv, path);
    if (rc || !handler)
        return rc ? rc : WS_EINVAL;
    ws__route r = {.kind = WS__ROUTE_SEQ, .h = {.kind = WS__H_SEQ, .fn = handler, .app = app}};
    return add(srv, &r, path);
}

int ws_route_events(ws_server *srv, const char *path, const ws_event_callbacks *cb, void *app)
{
    int rc = check(srv, path);
    if (rc || !cb)
        return rc ? rc : WS_EINVAL;
    ws__route r = {.kind = WS__ROUTE_EVENTS, .h = {.kind = WS__H_EVENTS, .cb = *cb, .app = app}};
    return add(srv, &r, path);
}

int ws_http_route(ws_server *srv, const char *path, ws_http_fn fn, void *app)
{
    int rc = check(srv, path);
    if (rc || !fn)
        return rc ? rc : WS_EINVAL;
    ws__route r = {.kind = WS__ROUTE_HTTP, .http = fn, .app = app};
    return add(srv, &r, path);
}

int ws_http_static(ws_server *srv, const char *prefix, const char *dir)
{
    int rc = check(srv, prefix);
    if (rc || !dir || prefix[strlen(prefix) - 1] != '/')
        return rc ? rc : WS_EINVAL;
    char real[PATH_MAX];
    if (!realpath(dir, real))
        return WS_ENOTFOUND;
    ws__route r = {.kind = WS__ROUTE_STATIC, .dir = strdup(real)};
    if (!r.dir)
        return WS_ENOMEM;
    return add(srv, &r, prefix);
}

static ws__route *ws_route_of(ws_server *srv, const char *path, int *rc)
{
    *rc = check(srv, path);
    if (*rc)
        return NULL;
    ws__route *r = ws__router_find(&srv->routes, path);
    if (!r || (r->kind != WS__ROUTE_SEQ && r->kind != WS__ROUTE_EVENTS))
        *rc = WS_ENOTFOUND;
    return *rc ? NULL : r;
}

int ws_route_protocols(ws_server *srv, const char *path, const char *const *protocols, size_t n)
{
    int rc;
    ws__route *r = ws_route_of(srv, path, &rc);
    if (!r)
        return rc;
    if ((n && !protocols) || n > 255)
        return WS_EINVAL;
    r->h.protocols = protocols;
    r->h.nprotocols = n;
    return 0;
}

int ws_route_upgrade_hook(ws_server *srv, const char *path, ws_upgrade_fn hook, void *app)
{
    int rc;
    ws__route *r = ws_route_of(srv, path, &rc);
    if (!r)
        return rc;
    r->hook = hook;
    r->hook_app = app;
    return 0;
}

static bool rsv_taken(const ws_extension *list, size_t n, const ws_extension *const *rl, size_t rn,
                      unsigned rsv)
{
    for (size_t i = 0; i < n; i++)
        if (list[i].rsv & rsv)
            return true;
    for (size_t i = 0; i < rn; i++)
        if (rl[i]->rsv & rsv)
            return true;
    return false;
}

int ws_server_extension(ws_server *srv, const ws_extension *ext)
{
    if (!srv || !ext || !ext->name || !ext->negotiate)
        return WS_EINVAL;
    if (atomic_load(&srv->host.state) != WS__HOST_NEW || srv->host.workers)
        return WS_ESTATE;
    if (srv->nexts == sizeof srv->exts / sizeof srv->exts[0])
        return WS_ENOMEM;
    if (rsv_taken(srv->exts, srv->nexts, NULL, 0, ext->rsv))
        return WS_EINVAL;
    srv->exts[srv->nexts++] = *ext;
    return 0;
}

int ws_route_extension(ws_server *srv, const char *path, const ws_extension *ext)
{
    int rc;
    ws__route *r = ws_route_of(srv, path, &rc);
    if (!r)
        return rc;
    if (!ext || !ext->name || !ext->negotiate)
        return WS_EINVAL;
    if (r->nexts == sizeof r->exts / sizeof r->exts[0])
        return WS_ENOMEM;
    if (rsv_taken(NULL, 0, r->exts, r->nexts, ext->rsv))
        return WS_EINVAL;
    r->exts[r->nexts++] = ext;
    return 0;
}

int ws_route_keep_request(ws_server *srv, const char *path, bool keep)
{
    int rc;
    ws__route *r = ws_route_of(srv, path, &rc);
    if (!r)
        return rc;
    r->h.keep_request = keep;
    return 0;
}

int ws_route_no_extensions(ws_server *srv, const char *path)
{
    int rc;
    ws__route *r = ws_route_of(srv, path, &rc);
    if (!r)
        return rc;
    r->no_exts = true;
    return 0;
}
