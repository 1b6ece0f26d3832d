/* SPDX-License-Identifier: MIT */
/* The public ws_server: a host that listens. */
#include "server/server_impl.h"
#include "wschat/error.h"
#include "wschat/group.h"
#include "wschat/loop.h"

#include <stdlib.h>
#include <string.h>

ws_server *ws_server_new_err(const ws_config *cfg, int *err)
{
    ws_server *srv = calloc(1, sizeof *srv);
    int rc = srv ? ws__host_init(&srv->host, cfg) : WS_ENOMEM;
    if (rc) {
        free(srv);
        if (err)
            *err = rc;
        return NULL;
    }
    srv->host.server = srv;
    srv->host.on_stop = ws__listener_stop;
    pthread_mutex_init(&srv->tls_mu, NULL);
    if (err)
        *err = 0;
    return srv;
}

ws_server *ws_server_new(const ws_config *cfg) { return ws_server_new_err(cfg, NULL); }

int ws_server_start(ws_server *srv)
{
    if (!srv)
        return WS_EINVAL;
    if (atomic_load(&srv->host.state) != WS__HOST_NEW || srv->host.workers)
        return WS_ESTATE;
    int rc = ws__host_prepare(&srv->host);
    if (rc)
        return rc;
    if ((rc = ws__listener_start(srv)) < 0) {
        ws__host_unprepare(&srv->host);
        return rc;
    }
    ws__host_launch(&srv->host);
    ws__log(&srv->host.log, WS_LOG_INFO, "running (%s, %d loop%s)", srv->host.io->name,
            srv->host.nworkers, srv->host.nworkers > 1 ? "s" : "");
    return 0;
}

int ws_server_port(const ws_server *srv)
{
    return srv && srv->host.workers && srv->nls ? srv->ls[0]->bound : WS_ESTATE;
}

int ws_server_step(ws_server *srv, int timeout_ms)
{
    if (!srv)
        return WS_ESTATE;
    if (!srv->host.workers) {
        int rc = ws_server_start(srv);
        if (rc)
            return rc;
    }
    return ws__host_step(&srv->host, timeout_ms);
}

int ws_server_run(ws_server *srv)
{
    if (!srv)
        return WS_EINVAL;
    if (!srv->host.workers) {
        int rc = ws_server_start(srv);
        if (rc)
            return rc;
    }
    return ws__host_run(&srv->host);
}

void ws_server_stop(ws_server *srv)
{
    if (srv)
        ws__host_stop(&srv->host);
}

void ws_server_free(ws_server *srv)
{
    if (!srv)
        return;
    if (srv->host.nworkers)
        ws__listener_stop(&srv->host);
    ws__host_fini(&srv->host);
    ws__router_free(&srv->routes);
    ws__listeners_free(srv);
    pthread_mutex_destroy(&srv->tls_mu);
    free(srv);
}

size_t ws_server_session_count(const ws_server *srv)
{
    return srv ? atomic_load(&((ws_server *)srv)->host.nsessions) : 0;
}

int ws_server_send(ws_server *srv, ws_session_id id, bool binary, const void *data, size_t len)
{
    return srv ? ws__host_send(&srv->host, id, binary, data, len) : WS_EINVAL;
}

int ws_server_close_session(ws_server *srv, ws_session_id id, uint16_t code, const char *reason)
{
    return srv ? ws__host_close_session(&srv->host, id, code, reason) : WS_EINVAL;
}

ws_group *ws_group_new(ws_server *srv) { return srv ? ws__group_new(&srv->host) : NULL; }

ws__host *ws__server_host(ws_server *srv) { return &srv->host; }

void ws_server_get_stats(ws_server *srv, ws_server_stats *out)
{
    if (!out)
        return;
    memset(out, 0, sizeof *out);
    if (!srv)
        return;
    ws__host *h = &srv->host;
    out->sessions_open = atomic_load(&h->nsessions);
    out->connections = atomic_load(&h->nconns);
    out->broadcasts = atomic_load_explicit(&h->broadcasts, memory_order_relaxed);
    for (int i = 0; i < h->nworkers; i++) {
        const ws__counters *c = &h->workers[i].counters;
        out->messages_in += atomic_load_explicit(&c->msgs_in, memory_order_relaxed);
        out->messages_out += atomic_load_explicit(&c->msgs_out, memory_order_relaxed);
        out->bytes_in += atomic_load_explicit(&c->bytes_in, memory_order_relaxed);
        out->bytes_out += atomic_load_explicit(&c->bytes_out, memory_order_relaxed);
        out->deliveries += atomic_load_explicit(&c->deliveries, memory_order_relaxed);
        for (int k = 0; k <= WS_CAUSE_CONNECT; k++)
            out->closes[k] += atomic_load_explicit(&c->closes[k], memory_order_relaxed);
    }
}

ws_loop *ws_server_loop(ws_server *srv, int index)
{
    if (!srv || index < 0 || index >= srv->host.nworkers)
        return NULL;
    return &srv->host.workers[index].loop;
}
