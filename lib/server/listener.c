/* SPDX-License-Identifier: MIT */
/* The listeners: one or more addresses, each plain or TLS. Loop 0 accepts,
 * refuses past max_connections, and hands each connection to a loop round
 * robin (posting the fd to the others). A TLS listener's context is
 * swapped whole on reload: a connection takes a reference when accepted,
 * so open connections keep the certificate they started with. */
#include "server/server_impl.h"
#include "tls/tls.h"
#include "util/strbuf.h"
#include "wschat/error.h"

#include <stdlib.h>
#include <string.h>

#define ACCEPT_BATCH 64
#define ACCEPT_RETRY_MS 100

/* --- registration ---------------------------------------------------------- */

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

static void listener_free(ws__listener *l)
{
    if (!l)
        return;
    free(l->bind);
    free((char *)l->opts.cert_file);
    free((char *)l->opts.key_file);
    free((char *)l->opts.ca_file);
    ws__tls_ctx_unref(l->tls);
    free(l);
}

void ws__listeners_free(ws_server *srv)
{
    for (size_t i = 0; i < srv->nls; i++)
        listener_free(srv->ls[i]);
    free(srv->ls);
    srv->ls = NULL;
    srv->nls = 0;
}

static int add_listener(ws_server *srv, const ws_listen_options *o, ws__listener **out)
{
    ws__listener *l = calloc(1, sizeof *l);
    ws__listener **v = l ? realloc(srv->ls, (srv->nls + 1) * sizeof *v) : NULL;
    if (!v) {
        free(l);
        return WS_ENOMEM;
    }
    srv->ls = v;
    *l = (ws__listener){.srv = srv,
                        .port = o->port,
                        .fd = -1,
                        .redirect_port = o->redirect_port,
                        .reuse_port = o->reuse_port};
    l->bind = strdup(o->bind ? o->bind : "0.0.0.0");
    if (!l->bind) {
        free(l);
        return WS_ENOMEM;
    }
    if (o->tls) {
        l->is_tls = true;
        l->opts = *o->tls;
        l->opts.cert_file = dup_or_null(o->tls->cert_file);
        l->opts.key_file = dup_or_null(o->tls->key_file);
        l->opts.ca_file = dup_or_null(o->tls->ca_file);
        l->opts.server_name = NULL;
        int rc = ws__tls_server_ctx(&l->opts, &srv->host.log, &l->tls);
        if (rc) {
            listener_free(l);
            return rc;
        }
    }
    srv->ls[srv->nls++] = l;
    *out = l;
    return 0;
}

int ws_server_listen(ws_server *srv, const ws_listen_options *o)
{
    if (!srv || !o || o->port < 0 || o->port > 65535 || o->redirect_port < WS_REDIRECT_TLS ||
        o->redirect_port > 65535 || (o->tls && o->redirect_port))
        return WS_EINVAL;
    if (atomic_load(&srv->host.state) != WS__HOST_NEW || srv->host.workers)
        return WS_ESTATE;
    ws__listener *l;
    int rc = add_listener(srv, o, &l);
    return rc ? rc : (int)srv->nls - 1;
}

int ws_server_listener_port(const ws_server *srv, int index)
{
    if (!srv || index < 0 || (size_t)index >= srv->nls)
        return WS_EINVAL;
    return srv->host.workers ? srv->ls[index]->bound : WS_ESTATE;
}

int ws__listener_redirect(const ws__listener *l)
{
    if (l->redirect_port != WS_REDIRECT_TLS)
        return l->redirect_port;
    for (size_t i = 0; i < l->srv->nls; i++)
        if (l->srv->ls[i]->is_tls)
            return l->srv->ls[i]->bound;
    return 0;
}

struct ws__tls_ctx *ws__listener_tls(ws__listener *l)
{
    if (!l->is_tls)
        return NULL;
    pthread_mutex_lock(&l->srv->tls_mu);
    struct ws__tls_ctx *c = l->tls;
    ws__tls_ctx_ref(c);
    pthread_mutex_unlock(&l->srv->tls_mu);
    return c;
}

int ws_server_tls_reload(ws_server *srv)
{
    if (!srv)
        return WS_EINVAL;
    if (!ws_tls_available())
        return WS_ENOTSUP;
    /* Every new context first; swap only if all of them load. */
    struct ws__tls_ctx **fresh = calloc(srv->nls ? srv->nls : 1, sizeof *fresh);
    if (!fresh)
        return WS_ENOMEM;
    int rc = 0;
    for (size_t i = 0; i < srv->nls && rc == 0; i++)
        if (srv->ls[i]->is_tls)
            rc = ws__tls_server_ctx(&srv->ls[i]->opts, &srv->host.log, &fresh[i]);
    if (rc == 0) {
        pthread_mutex_lock(&srv->tls_mu);
        for (size_t i = 0; i < srv->nls; i++) {
            if (!srv->ls[i]->is_tls)
                continue;
            struct ws__tls_ctx *old = srv->ls[i]->tls;
            srv->ls[i]->tls = fresh[i];
            fresh[i] = old; /* released below, outside the lock */
        }
        pthread_mutex_unlock(&srv->tls_mu);
        ws__log(&srv->host.log, WS_LOG_INFO, "TLS certificates reloaded");
    }
    for (size_t i = 0; i < srv->nls; i++)
        ws__tls_ctx_unref(fresh[i]);
    free(fresh);
    return rc;
}

/* --- accepting ---------------------------------------------------------------- */

typedef struct accepted {
    ws__listener *l;
    int fd;
    char peer[64];
} accepted;

static void accept_task(ws__loop *l, void *arg)
{
    accepted *a = arg;
    ws__worker *w = WS__OWNER_OF(l, ws__worker, loop);
    ws__host *h = w->host;
    if (w->stopping) {
        h->io->close(l->io_state, a->fd);
        atomic_fetch_sub(&h->nconns, 1);
    } else {
        ws__server_accept_on(w, a->fd, a->peer, a->l);
    }
    free(a);
}

static void dispatch_fd(ws__listener *lst, int fd, const char *peer)
{
    ws__host *h = &lst->srv->host;
    ws__worker *w = &h->workers[h->rr++ % (unsigned)h->nworkers];
    if (ws__loop_on_thread(&w->loop)) {
        ws__server_accept_on(w, fd, peer, lst);
        return;
    }
    accepted *a = malloc(sizeof *a);
    if (a) {
        a->l = lst;
        a->fd = fd;
        ws__str_copy(a->peer, sizeof a->peer, peer);
        if (ws__loop_post(&w->loop, accept_task, a) == 0)
            return;
        free(a);
    }
    h->io->close(h->workers[0].loop.io_state, fd);
    atomic_fetch_sub(&h->nconns, 1);
}

static void on_accept(ws__loop *l, int fd, unsigned events, void *ud);

static void accept_resume(ws__timer *t)
{
    ws__listener *lst = WS__OWNER_OF(t, ws__listener, retry);
    lst->paused = false;
    if (lst->fd >= 0)
        ws__loop_watch(&lst->srv->host.workers[0].loop, lst->fd, WS_IO_READ, on_accept, lst);
}

static void refuse(ws_server *srv, int fd)
{
    static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
                               "Connection: close\r\nRetry-After: 1\r\n\r\n";
    struct iovec iov = {(void *)busy, sizeof busy - 1};
    void *st = srv->host.workers[0].loop.io_state;
    srv->host.io->writev(st, fd, &iov, 1);
    srv->host.io->close(st, fd);
}

static void on_accept(ws__loop *l, int fd, unsigned events, void *ud)
{
    ws__listener *lst = ud;
    ws_server *srv = lst->srv;
    ws__host *h = &srv->host;
    (void)fd;
    (void)events;
    for (int i = 0; i < ACCEPT_BATCH; i++) {
        char peer[64];
        int c = h->io->accept(l->io_state, lst->fd, peer, sizeof peer);
        if (c == WS_EAGAIN)
            return;
        if (c == WS_EMFILE || c == WS_ENOMEM) {
            /* The pending connection stays in the backlog, so a level-
             * triggered poller would report it again at once: stop watching
             * the listener for a moment instead of spinning. */
            ws__log(&h->log, WS_LOG_WARN, "accept: %s; pausing %d ms", ws_strerror(c),
                    ACCEPT_RETRY_MS);
            ws__loop_unwatch(l, lst->fd);
            lst->paused = true;
            ws__timer_set(&l->timers, &lst->retry, l->now + ACCEPT_RETRY_MS);
            return;
        }
        if (c < 0)
            continue; /* ECONNABORTED and friends: that client is gone */
        if (atomic_load(&h->nconns) >= h->cfg.max_connections) {
            /* A TLS client would not understand a plain 503: just close. */
            if (lst->is_tls)
                h->io->close(l->io_state, c);
            else
                refuse(srv, c);
            continue;
        }
        atomic_fetch_add(&h->nconns, 1);
        dispatch_fd(lst, c, peer);
    }
}

int ws__listener_start(ws_server *srv)
{
    ws__host *h = &srv->host;
    if (srv->nls == 0) { /* no ws_server_listen: the configuration's address */
        ws__listener *l;
        ws_listen_options o = {
            .bind = h->cfg.bind, .port = h->cfg.port, .reuse_port = h->cfg.reuse_port};
        int rc = add_listener(srv, &o, &l);
        if (rc)
            return rc;
    }
    ws__worker *w0 = &h->workers[0];
    for (size_t i = 0; i < srv->nls; i++) {
        ws__listener *l = srv->ls[i];
        int fd = h->io->listen(w0->loop.io_state, l->bind, l->port, h->cfg.backlog,
                               l->reuse_port ? WS_LISTEN_REUSEPORT : 0, &l->bound);
        if (fd < 0) {
            ws__log(&h->log, WS_LOG_ERROR, "listen on %s:%d: %s", l->bind, l->port,
                    ws_strerror(fd));
            ws__listener_stop(h);
            return fd;
        }
        l->fd = fd;
        l->retry.fn = accept_resume;
        ws__loop_watch(&w0->loop, fd, WS_IO_READ, on_accept, l);
        ws__log(&h->log, WS_LOG_INFO, "listening on %s:%d%s", l->bind, l->bound,
                l->is_tls ? " (TLS)" : "");
    }
    return 0;
}

void ws__listener_stop(ws__host *h)
{
    ws_server *srv = h->server;
    ws__worker *w0 = &h->workers[0];
    for (size_t i = 0; i < srv->nls; i++) {
        ws__listener *l = srv->ls[i];
        ws__timer_cancel(&w0->loop.timers, &l->retry);
        if (l->fd >= 0) {
            ws__loop_unwatch(&w0->loop, l->fd);
            h->io->close(w0->loop.io_state, l->fd);
            l->fd = -1;
        }
    }
}
