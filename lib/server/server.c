/* SPDX-License-Identifier: MIT */
/* Server lifecycle, the listener, workers (one loop thread each), and
 * thread-safe access to sessions by id. */
#include "proto/utf8.h"
#include "server/session.h"
#include "wschat/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ACCEPT_BATCH 64
#define ACCEPT_RETRY_MS 100

ws_server *ws_server_new_err(const ws_config *cfg, int *err)
{
    int rc = WS_ENOMEM;
    ws_server *srv = calloc(1, sizeof *srv);
    if (srv && (rc = ws__config_resolve(&srv->cfg, cfg)) == 0) {
        srv->io = srv->cfg.io ? srv->cfg.io : ws_io_backend_find(srv->cfg.backend);
        if (!srv->io)
            rc = WS_ENOTSUP;
    }
    if (rc) {
        free(srv);
        if (err)
            *err = rc;
        return NULL;
    }
    srv->log = (ws__logger){srv->cfg.log, srv->cfg.log_ud, srv->cfg.log_level};
    const ws_config *c = &srv->cfg;
    srv->conn_cfg = (ws__conn_config){.max_frame = c->max_frame_size,
                                      .max_message = c->max_message_size,
                                      .fragment_size = c->fragment_size,
                                      .mask_outgoing = c->masking};
    srv->listen_fd = -1;
    atomic_init(&srv->state, WS__SRV_NEW);
    if (err)
        *err = 0;
    return srv;
}

ws_server *ws_server_new(const ws_config *cfg) { return ws_server_new_err(cfg, NULL); }

ws_session *ws__worker_lookup(ws__worker *w, ws_session_id id)
{
    uint32_t slot = WS__ID_SLOT(id);
    if (WS__ID_WORKER(id) != w->index || slot >= w->nslots)
        return NULL;
    ws_session *s = w->slots[slot].s;
    return s && w->slots[slot].gen == WS__ID_GEN(id) ? s : NULL;
}

/* --- accepting ------------------------------------------------------------ */

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
        a->srv->io->close(l->io_state, a->fd);
        atomic_fetch_sub(&a->srv->nconns, 1);
    } else {
        ws__session_accept(w, a->fd, a->peer);
    }
    free(a);
}

void ws__server_dispatch_fd(ws_server *srv, int fd, const char *peer)
{
    ws__worker *w = &srv->workers[srv->rr++ % (unsigned)srv->nworkers];
    if (ws__loop_on_thread(&w->loop)) {
        ws__session_accept(w, fd, peer);
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
    srv->io->close(srv->workers[0].loop.io_state, fd);
    atomic_fetch_sub(&srv->nconns, 1);
}

static void on_accept(ws__loop *l, int fd, unsigned events, void *ud);

static void accept_resume(ws__timer *t)
{
    ws_server *srv = WS__OWNER_OF(t, ws_server, accept_timer);
    srv->accept_paused = false;
    if (srv->listen_fd >= 0)
        ws__loop_watch(&srv->workers[0].loop, srv->listen_fd, WS_IO_READ, on_accept, srv);
}

static void refuse(ws_server *srv, int fd)
{
    static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
                               "Connection: close\r\nRetry-After: 1\r\n\r\n";
    struct iovec iov = {(void *)busy, sizeof busy - 1};
    void *st = srv->workers[0].loop.io_state;
    srv->io->writev(st, fd, &iov, 1);
    srv->io->close(st, fd);
}

static void on_accept(ws__loop *l, int fd, unsigned events, void *ud)
{
    ws_server *srv = ud;
    (void)fd;
    (void)events;
    for (int i = 0; i < ACCEPT_BATCH; i++) {
        char peer[64];
        int c = srv->io->accept(l->io_state, srv->listen_fd, peer, sizeof peer);
        if (c == WS_EAGAIN)
            return;
        if (c == WS_EMFILE || c == WS_ENOMEM) {
            /* The pending connection stays in the backlog, so a level-
             * triggered poller would report it again at once: stop watching
             * the listener for a moment instead of spinning. */
            ws__log(&srv->log, WS_LOG_WARN, "accept: %s; pausing %d ms", ws_strerror(c),
                    ACCEPT_RETRY_MS);
            ws__loop_unwatch(l, srv->listen_fd);
            srv->accept_paused = true;
            ws__timer_set(&l->timers, &srv->accept_timer, l->now + ACCEPT_RETRY_MS);
            return;
        }
        if (c < 0)
            continue; /* ECONNABORTED and friends: that client is gone */
        if (atomic_load(&srv->nconns) >= srv->cfg.max_connections) {
            refuse(srv, c);
            continue;
        }
        atomic_fetch_add(&srv->nconns, 1);
        ws__server_dispatch_fd(srv, c, peer);
    }
}

/* --- start / run / stop --------------------------------------------------- */

static void *worker_main(void *arg);

static int workers_init(ws_server *srv)
{
    int n = srv->cfg.threads;
    srv->workers = calloc((size_t)n, sizeof *srv->workers);
    if (!srv->workers)
        return WS_ENOMEM;
    for (int i = 0; i < n; i++) {
        ws__worker *w = &srv->workers[i];
        int rc = ws__loop_init(&w->loop, srv->io, srv->cfg.io_arg, i);
        if (rc) {
            while (i-- > 0)
                ws__loop_fini(&srv->workers[i].loop);
            free(srv->workers);
            srv->workers = NULL;
            return rc;
        }
        w->srv = srv;
        w->index = i;
        w->loop.before_poll = ws__worker_flush;
        w->loop.before_poll_ud = w;
        ws__stack_pool_init(&w->stacks, srv->cfg.stack_size);
        srv->nworkers++;
    }
    return 0;
}

int ws_server_start(ws_server *srv)
{
    if (!srv)
        return WS_EINVAL;
    if (atomic_load(&srv->state) != WS__SRV_NEW)
        return WS_ESTATE;
    int rc = workers_init(srv);
    if (rc)
        return rc;
    /* Before any thread exists, so that every loop thread inherits the
     * blocked SIGINT/SIGTERM and only the signal thread takes them. */
    if (!srv->cfg.no_signals && ws__signals_start(srv) < 0)
        ws__log(&srv->log, WS_LOG_WARN, "signal thread not started; SIGTERM will not stop gracefully");
    ws__worker *w0 = &srv->workers[0];
    int port = 0;
    int fd = srv->io->listen(w0->loop.io_state, srv->cfg.bind, srv->cfg.port, srv->cfg.backlog,
                             &port);
    if (fd < 0) {
        ws__log(&srv->log, WS_LOG_ERROR, "listen on %s:%d: %s", srv->cfg.bind, srv->cfg.port,
                ws_strerror(fd));
        ws__signals_stop(srv);
        for (int i = 0; i < srv->nworkers; i++) {
            ws__stack_pool_fini(&srv->workers[i].stacks);
            ws__loop_fini(&srv->workers[i].loop);
        }
        free(srv->workers);
        srv->workers = NULL;
        srv->nworkers = 0;
        return fd;
    }
    srv->listen_fd = fd;
    srv->port = port;
    srv->accept_timer.fn = accept_resume;
    w0->loop.thread = pthread_self();
    w0->loop.thread_set = true;
    ws__loop_watch(&w0->loop, fd, WS_IO_READ, on_accept, srv);
    atomic_store(&srv->state, WS__SRV_RUNNING);
    for (int i = 1; i < srv->nworkers; i++) {
        ws__worker *w = &srv->workers[i];
        if (pthread_create(&w->thread, NULL, worker_main, w) == 0)
            w->thread_started = true;
        else
            ws__log(&srv->log, WS_LOG_ERROR, "could not start loop thread %d", i);
    }
    ws__log(&srv->log, WS_LOG_INFO, "listening on %s:%d (%s, %d loop%s)", srv->cfg.bind, port,
            srv->io->name, srv->nworkers, srv->nworkers > 1 ? "s" : "");
    return 0;
}

int ws_server_port(const ws_server *srv)
{
    return srv && atomic_load(&srv->state) != WS__SRV_NEW ? srv->port : WS_ESTATE;
}

static void stop_task(ws__loop *l, void *arg)
{
    ws__worker *w = arg;
    w->stop_deadline = l->now + w->srv->cfg.close_timeout_ms;
    ws__worker_begin_stop(w);
}

/* Worker 0 notices the stop request: close the listener, then ask every
 * loop to close its sessions with 1001. */
static void begin_stop(ws_server *srv)
{
    ws__worker *w0 = &srv->workers[0];
    atomic_store(&srv->state, WS__SRV_STOPPING);
    ws__timer_cancel(&w0->loop.timers, &srv->accept_timer);
    if (srv->listen_fd >= 0) {
        ws__loop_unwatch(&w0->loop, srv->listen_fd);
        srv->io->close(w0->loop.io_state, srv->listen_fd);
        srv->listen_fd = -1;
    }
    for (int i = 1; i < srv->nworkers; i++)
        if (ws__loop_post(&srv->workers[i].loop, stop_task, &srv->workers[i]) != 0)
            srv->workers[i].stopping = true;
    stop_task(&w0->loop, w0);
}

static bool worker_finished(ws__worker *w)
{
    if (!w->stopping)
        return false;
    if (w->nconns == 0)
        return true;
    if (w->loop.now >= w->stop_deadline) {
        ws__worker_close_all(w);
        return true;
    }
    return false;
}

static void *worker_main(void *arg)
{
    ws__worker *w = arg;
    w->loop.thread = pthread_self();
    w->loop.thread_set = true;
    while (!worker_finished(w))
        ws__loop_run_once(&w->loop, 1000);
    ws__worker_flush(&w->loop, w);
    return NULL;
}

int ws_server_step(ws_server *srv, int timeout_ms)
{
    if (!srv || srv->nworkers > 1)
        return WS_ESTATE;
    int st = atomic_load(&srv->state);
    if (st == WS__SRV_NEW) {
        int rc = ws_server_start(srv);
        if (rc)
            return rc;
    } else if (st == WS__SRV_STOPPED) {
        return 0;
    }
    if (atomic_load(&srv->stop_requested) && atomic_load(&srv->state) == WS__SRV_RUNNING)
        begin_stop(srv);
    ws__worker *w0 = &srv->workers[0];
    if (worker_finished(w0)) {
        ws__worker_flush(&w0->loop, w0);
        atomic_store(&srv->state, WS__SRV_STOPPED);
        return 0;
    }
    ws__loop_run_once(&w0->loop, timeout_ms);
    return 1;
}

int ws_server_run(ws_server *srv)
{
    if (!srv)
        return WS_EINVAL;
    if (atomic_load(&srv->state) == WS__SRV_NEW) {
        int rc = ws_server_start(srv);
        if (rc)
            return rc;
    }
    ws__worker *w0 = &srv->workers[0];
    for (;;) {
        if (atomic_load(&srv->stop_requested) && atomic_load(&srv->state) == WS__SRV_RUNNING)
            begin_stop(srv);
        if (worker_finished(w0))
            break;
        ws__loop_run_once(&w0->loop, 1000);
    }
    ws__worker_flush(&w0->loop, w0);
    for (int i = 1; i < srv->nworkers; i++)
        if (srv->workers[i].thread_started) {
            pthread_join(srv->workers[i].thread, NULL);
            srv->workers[i].thread_started = false;
        }
    atomic_store(&srv->state, WS__SRV_STOPPED);
    ws__signals_stop(srv);
    ws__log(&srv->log, WS_LOG_INFO, "stopped");
    return 0;
}

void ws_server_stop(ws_server *srv)
{
    if (!srv)
        return;
    atomic_store(&srv->stop_requested, 1);
    int st = atomic_load(&srv->state);
    if (st == WS__SRV_RUNNING || st == WS__SRV_STOPPING)
        srv->io->wake(srv->workers[0].loop.io_state);
}

static void free_worker(ws__worker *w)
{
    /* Sessions whose handler never returned (stuck or never resumed) are
     * released with their stacks; nothing of theirs runs again. */
    ws__worker_close_all(w);
    ws__loop_run_posted(&w->loop);
    ws__group_batch_discard(w);
    for (uint32_t i = 0; i < w->nslots; i++) {
        ws_session *s = w->slots[i].s;
        if (s && s->co && !ws__coro_done(s->co)) {
            ws__coro_free(&w->stacks, s->co);
            s->co = NULL;
            s->busy = 0;
            ws__session_maybe_free(s);
        }
    }
    ws__loop_fini(&w->loop);
    ws__stack_pool_fini(&w->stacks);
    ws__chunk_cache_free(&w->chunks);
    free(w->dirty);
    free(w->bids);
    free(w->deferred);
    free(w->slots);
    free(w->free_slots);
}

void ws_server_free(ws_server *srv)
{
    if (!srv)
        return;
    int st = atomic_load(&srv->state);
    if (st == WS__SRV_RUNNING || st == WS__SRV_STOPPING) {
        /* Freed while running (a test that stepped and gave up): stop the
         * other loops first. */
        ws_server_stop(srv);
        for (int i = 1; i < srv->nworkers; i++)
            if (ws__loop_post(&srv->workers[i].loop, stop_task, &srv->workers[i]) == 0 &&
                srv->workers[i].thread_started)
                pthread_join(srv->workers[i].thread, NULL);
    }
    ws__signals_stop(srv);
    if (srv->listen_fd >= 0 && srv->nworkers)
        srv->io->close(srv->workers[0].loop.io_state, srv->listen_fd);
    for (int i = 0; i < srv->nworkers; i++)
        free_worker(&srv->workers[i]);
    free(srv->workers);
    ws__router_free(&srv->routes);
    free(srv);
}

size_t ws_server_session_count(const ws_server *srv)
{
    return srv ? atomic_load(&((ws_server *)srv)->nsessions) : 0;
}

/* --- by id, from any thread ------------------------------------------------ */

typedef struct id_task {
    ws_session_id id;
    int kind;              /* 0 send, 1 close */
    uint8_t op;
    uint16_t code;
    size_t len;
    char data[];
} id_task;

static int act_on(ws_session *s, const id_task *t)
{
    if (s->phase != WS__PH_OPEN || s->ended)
        return WS_ECLOSED;
    if (t->kind == 1) {
        if (s->conn.state != WS__CONN_OPEN)
            return WS_ECLOSED;
        ws__session_close(s, t->code, t->len ? t->data : NULL, WS_CAUSE_LOCAL);
        return 0;
    }
    return ws__session_after_send(s, ws__conn_send(&s->conn, t->op, t->data, t->len));
}

static void id_task_run(ws__loop *l, void *arg)
{
    id_task *t = arg;
    ws__worker *w = WS__OWNER_OF(l, ws__worker, loop);
    ws_session *s = ws__worker_lookup(w, t->id);
    if (s)
        act_on(s, t);
    free(t);
}

static int by_id(ws_server *srv, ws_session_id id, int kind, uint8_t op, uint16_t code,
                 const void *data, size_t len)
{
    if (!srv || (!data && len))
        return WS_EINVAL;
    int wi = WS__ID_WORKER(id);
    if (id == 0 || atomic_load(&srv->state) == WS__SRV_NEW || wi >= srv->nworkers)
        return WS_ESTALE;
    ws__worker *w = &srv->workers[wi];
    id_task *t = malloc(sizeof *t + len + 1);
    if (!t)
        return WS_ENOMEM;
    *t = (id_task){.id = id, .kind = kind, .op = op, .code = code, .len = len};
    if (len)
        memcpy(t->data, data, len);
    t->data[len] = '\0';
    if (ws__loop_on_thread(&w->loop)) {
        ws_session *s = ws__worker_lookup(w, id);
        int rc = s ? act_on(s, t) : WS_ESTALE;
        free(t);
        return rc;
    }
    int rc = ws__loop_post(&w->loop, id_task_run, t);
    if (rc)
        free(t);
    return rc;
}

int ws_server_send(ws_server *srv, ws_session_id id, bool binary, const void *data, size_t len)
{
    if (!binary && data && !ws__utf8_valid(data, len))
        return WS_EINVAL;
    return by_id(srv, id, 0, binary ? 2 : 1, 0, data, len);
}

int ws_server_close_session(ws_server *srv, ws_session_id id, uint16_t code, const char *reason)
{
    if (!ws_close_code_valid(code) ||
        (reason && !ws__utf8_valid((const uint8_t *)reason, strlen(reason))))
        return WS_EINVAL;
    return by_id(srv, id, 1, 0, code, reason, reason ? strlen(reason) : 0);
}
