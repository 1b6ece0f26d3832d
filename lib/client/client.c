/* SPDX-License-Identifier: MIT */
/* The public client API: ws_client (a host that only connects), and
 * ws_connect on it or on a server's loops. */
#include "client/client_impl.h"
#include "wschat/error.h"
#include "wschat/group.h"
#include "wschat/loop.h"

#include <stdlib.h>

ws_client *ws_client_new(const ws_config *cfg, int *err)
{
    ws_client *cl = calloc(1, sizeof *cl);
    int rc = cl ? ws__host_init(&cl->host, cfg) : WS_ENOMEM;
    if (rc == 0) {
        cl->host.client = cl;
        /* The loops exist from now on, so that ws_connect may be called
         * before ws_client_run (the loops start running there). */
        rc = ws__host_prepare(&cl->host);
    }
    if (rc) {
        free(cl);
        cl = NULL;
    }
    if (err)
        *err = rc;
    return cl;
}

int ws_client_run(ws_client *cl) { return cl ? ws__host_run(&cl->host) : WS_EINVAL; }

int ws_client_step(ws_client *cl, int timeout_ms)
{
    return cl ? ws__host_step(&cl->host, timeout_ms) : WS_EINVAL;
}

void ws_client_stop(ws_client *cl)
{
    if (cl)
        ws__host_stop(&cl->host);
}

void ws_client_free(ws_client *cl)
{
    if (!cl)
        return;
    ws__host_fini(&cl->host);
    free(cl);
}

int ws_client_send(ws_client *cl, ws_session_id id, bool binary, const void *data, size_t len)
{
    return cl ? ws__host_send(&cl->host, id, binary, data, len) : WS_EINVAL;
}

int ws_client_close_session(ws_client *cl, ws_session_id id, uint16_t code, const char *reason)
{
    return cl ? ws__host_close_session(&cl->host, id, code, reason) : WS_EINVAL;
}

size_t ws_client_session_count(const ws_client *cl)
{
    return cl ? atomic_load(&((ws_client *)cl)->host.nsessions) : 0;
}

ws_group *ws_client_group_new(ws_client *cl) { return cl ? ws__group_new(&cl->host) : NULL; }

ws_loop *ws_client_loop(ws_client *cl, int index)
{
    if (!cl || index < 0 || index >= cl->host.nworkers)
        return NULL;
    return &cl->host.workers[index].loop;
}

static int connect_on(ws__host *h, const char *url, const ws_connect_options *opts,
                      const ws__handler *handler, ws_session_id *id)
{
    ws__cconn *cc;
    ws__dial *d;
    int rc = ws__dial_prepare(h, url, opts, handler, &cc, &d);
    return rc ? rc : ws__dial_start(h, cc, d, id);
}

static int seq(ws__host *h, const char *url, const ws_connect_options *opts, ws_handler_fn fn,
               void *app, ws_session_id *id)
{
    if (!fn)
        return WS_EINVAL;
    ws__handler handler = {.kind = WS__H_SEQ, .fn = fn, .app = app};
    return connect_on(h, url, opts, &handler, id);
}

static int events(ws__host *h, const char *url, const ws_connect_options *opts,
                  const ws_event_callbacks *cb, void *app, ws_session_id *id)
{
    if (!cb)
        return WS_EINVAL;
    ws__handler handler = {.kind = WS__H_EVENTS, .cb = *cb, .app = app};
    return connect_on(h, url, opts, &handler, id);
}

int ws_connect(ws_client *cl, const char *url, const ws_connect_options *opts,
               ws_handler_fn handler, void *app, ws_session_id *id)
{
    return cl ? seq(&cl->host, url, opts, handler, app, id) : WS_EINVAL;
}

int ws_connect_events(ws_client *cl, const char *url, const ws_connect_options *opts,
                      const ws_event_callbacks *cb, void *app, ws_session_id *id)
{
    return cl ? events(&cl->host, url, opts, cb, app, id) : WS_EINVAL;
}

int ws_server_connect(ws_server *srv, const char *url, const ws_connect_options *opts,
                      ws_handler_fn handler, void *app, ws_session_id *id)
{
    return srv ? seq(ws__server_host(srv), url, opts, handler, app, id) : WS_EINVAL;
}

int ws_server_connect_events(ws_server *srv, const char *url, const ws_connect_options *opts,
                             const ws_event_callbacks *cb, void *app, ws_session_id *id)
{
    return srv ? events(ws__server_host(srv), url, opts, cb, app, id) : WS_EINVAL;
}
