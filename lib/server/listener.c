/* SPDX-License-Identifier: MIT */
/* The listener: loop 0 accepts, refuses past max_connections, and hands
 * each connection to a loop round robin (posting the fd to the others). */
#include "server/server_impl.h"
#include "wschat/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ACCEPT_BATCH 64
#define ACCEPT_RETRY_MS 100

typedef struct accepted {
    ws_server *srv;
    int fd;
    char peer[64];
} accepted;

static void accept_task(ws__loop *l, void *arg)
{
    accepted *a = arg;
    ws__worker *w = WS__OWNER_OF(l, ws__worker, loop);
    if (w->stopping) {
        a->srv->host.io->close(l->io_state, a->fd);
        atomic_fetch_sub(&a->srv->host.nconns, 1);
    } else {
        ws__server_accept_on(w, a->fd, a->peer);
    }
    free(a);
}

static void dispatch_fd(ws_server *srv, int fd, const char *peer)
{
    ws__host *h = &srv->host;
    ws__worker *w = &h->workers[h->rr++ % (unsigned)h->nworkers];
    if (ws__loop_on_thread(&w->loop)) {
        ws__server_accept_on(w, fd, peer);
        return;
    }
    accepted *a = malloc(sizeof *a);
    if (a) {
        a->srv = srv;
        a->fd = fd;
        snprintf(a->peer, sizeof a->peer, "%s", peer);
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
    ws_server *srv = WS__OWNER_OF(t, ws_server, accept_timer);
    srv->accept_paused = false;
    if (srv->listen_fd >= 0)
        ws__loop_watch(&srv->host.workers[0].loop, srv->listen_fd, WS_IO_READ, on_accept, srv);
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
    ws_server *srv = ud;
    ws__host *h = &srv->host;
    (void)fd;
    (void)events;
    for (int i = 0; i < ACCEPT_BATCH; i++) {
        char peer[64];
        int c = h->io->accept(l->io_state, srv->listen_fd, peer, sizeof peer);
        if (c == WS_EAGAIN)
            return;
        if (c == WS_EMFILE || c == WS_ENOMEM) {
            /* The pending connection stays in the backlog, so a level-
             * triggered poller would report it again at once: stop watching
             * the listener for a moment instead of spinning. */
            ws__log(&h->log, WS_LOG_WARN, "accept: %s; pausing %d ms", ws_strerror(c),
                    ACCEPT_RETRY_MS);
            ws__loop_unwatch(l, srv->listen_fd);
            srv->accept_paused = true;
            ws__timer_set(&l->timers, &srv->accept_timer, l->now + ACCEPT_RETRY_MS);
            return;
        }
        if (c < 0)
            continue; /* ECONNABORTED and friends: that client is gone */
        if (atomic_load(&h->nconns) >= h->cfg.max_connections) {
            refuse(srv, c);
            continue;
        }
        atomic_fetch_add(&h->nconns, 1);
        dispatch_fd(srv, c, peer);
    }
}

int ws__listener_start(ws_server *srv)
{
    ws__host *h = &srv->host;
    ws__worker *w0 = &h->workers[0];
    int port = 0;
    int fd = h->io->listen(w0->loop.io_state, h->cfg.bind, h->cfg.port, h->cfg.backlog, &port);
    if (fd < 0) {
        ws__log(&h->log, WS_LOG_ERROR, "listen on %s:%d: %s", h->cfg.bind, h->cfg.port,
                ws_strerror(fd));
        return fd;
    }
    srv->listen_fd = fd;
    srv->port = port;
    srv->accept_timer.fn = accept_resume;
    ws__loop_watch(&w0->loop, fd, WS_IO_READ, on_accept, srv);
    return 0;
}

void ws__listener_stop(ws__host *h)
{
    ws_server *srv = h->server;
    ws__worker *w0 = &h->workers[0];
    ws__timer_cancel(&w0->loop.timers, &srv->accept_timer);
    if (srv->listen_fd >= 0) {
        ws__loop_unwatch(&w0->loop, srv->listen_fd);
        h->io->close(w0->loop.io_state, srv->listen_fd);
        srv->listen_fd = -1;
    }
}
