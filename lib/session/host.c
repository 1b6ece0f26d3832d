/* SPDX-License-Identifier: MIT */
/* The host's lifecycle (loops and their threads, the graceful stop) and
 * thread-safe access to sessions by id. */
#include "session/host.h"
#include "proto/utf8.h"
#include "session/session.h"
#include "tls/tls.h"
#include "wschat/error.h"

#include <stdlib.h>
#include <string.h>

int ws__host_init(ws__host *h, const ws_config *cfg)
{
    int rc = ws__config_resolve(&h->cfg, cfg);
    if (rc)
        return rc;
    h->io = h->cfg.io ? h->cfg.io : ws_io_backend_find(h->cfg.backend);
    if (!h->io)
        return WS_ENOTSUP;
    h->log = (ws__logger){h->cfg.log, h->cfg.log_ud, h->cfg.log_level};
    const ws_config *c = &h->cfg;
    ws__conn_config base = {.cb = &ws__session_conn_cb,
                            .max_frame = c->max_frame_size,
                            .max_message = c->max_message_size,
                            .fragment_size = c->fragment_size};
    h->conn_cfg[WS__ROLE_SERVER] = base;
    h->conn_cfg[WS__ROLE_SERVER].mask_outgoing = c->masking;
    /* RFC 6455 5.3: a client masks every frame, whatever `masking` says. */
    h->conn_cfg[WS__ROLE_CLIENT] = base;
    h->conn_cfg[WS__ROLE_CLIENT].mask_outgoing = true;
    h->conn_cfg[WS__ROLE_CLIENT].client = true;
    atomic_init(&h->state, WS__HOST_NEW);
    pthread_mutex_init(&h->client_tls_mu, NULL);
    return 0;
}

int ws__host_client_tls(ws__host *h, struct ws__tls_ctx **out)
{
    int rc = 0;
    pthread_mutex_lock(&h->client_tls_mu);
    if (!h->client_tls)
        rc = ws__tls_client_ctx(NULL, &h->log, &h->client_tls);
    if (rc == 0)
        ws__tls_ctx_ref(h->client_tls);
    *out = rc == 0 ? h->client_tls : NULL;
    pthread_mutex_unlock(&h->client_tls_mu);
    return rc;
}

ws_session *ws__worker_lookup(ws__worker *w, ws_session_id id)
{
    uint32_t slot = WS__ID_SLOT(id);
    if (WS__ID_WORKER(id) != w->index || slot >= w->nslots)
        return NULL;
    ws_session *s = ws__slot_session(&w->slots[slot]);
    return s && s->id == id ? s : NULL;
}

ws__worker *ws__host_pick_worker(ws__host *h)
{
    for (int i = 0; i < h->nworkers; i++)
        if (ws__loop_on_thread(&h->workers[i].loop))
            return &h->workers[i];
    return &h->workers[h->rr++ % (unsigned)h->nworkers];
}

/* --- start / run / stop --------------------------------------------------- */

static void *worker_main(void *arg);

int ws__host_prepare(ws__host *h)
{
    int n = h->cfg.threads;
    h->workers = calloc((size_t)n, sizeof *h->workers);
    if (!h->workers)
        return WS_ENOMEM;
    for (int i = 0; i < n; i++) {
        ws__worker *w = &h->workers[i];
        int rc = ws__loop_init(&w->loop, h->io, h->cfg.io_arg, i);
        if (rc == WS_ENOTSUP && i == 0 && !h->cfg.io && strcmp(h->io->name, "io_uring") == 0 &&
            ws_io_backend_find("epoll")) {
            /* Seccomp profiles, kernel.io_uring_disabled and old kernels
             * refuse the ring: serve on epoll rather than not at all. */
            ws__log(&h->log, WS_LOG_WARN, "io_uring unavailable here; running on epoll");
            h->io = ws_io_backend_find("epoll");
            rc = ws__loop_init(&w->loop, h->io, h->cfg.io_arg, i);
        }
        if (rc) {
            while (i-- > 0)
                ws__loop_fini(&h->workers[i].loop);
            free(h->workers);
            h->workers = NULL;
            return rc;
        }
        w->host = h;
        w->index = i;
        w->loop.before_poll = ws__worker_flush;
        w->loop.before_poll_ud = w;
        ws__stack_pool_init(&w->stacks, h->cfg.stack_size, !h->cfg.private_stacks);
        h->nworkers++;
    }
    ws__worker *w0 = &h->workers[0];
    w0->loop.thread = pthread_self();
    w0->loop.thread_set = true;
    return 0;
}

void ws__host_unprepare(ws__host *h)
{
    ws__signals_stop(h);
    for (int i = 0; i < h->nworkers; i++) {
        ws__stack_pool_fini(&h->workers[i].stacks);
        ws__loop_fini(&h->workers[i].loop);
    }
    free(h->workers);
    h->workers = NULL;
    h->nworkers = 0;
}

void ws__host_launch(ws__host *h)
{
    /* Before any loop thread exists, so that every one of them inherits
     * the blocked SIGINT/SIGTERM and only the signal thread takes them. */
    if (!h->cfg.no_signals && !h->sig_thread_started && ws__signals_start(h) < 0)
        ws__log(&h->log, WS_LOG_WARN,
                "signal thread not started; SIGTERM will not stop gracefully");
    atomic_store(&h->state, WS__HOST_RUNNING);
    for (int i = 1; i < h->nworkers; i++) {
        ws__worker *w = &h->workers[i];
        if (pthread_create(&w->thread, NULL, worker_main, w) == 0)
            w->thread_started = true;
        else
            ws__log(&h->log, WS_LOG_ERROR, "could not start loop thread %d", i);
    }
}

static void stop_task(ws__loop *l, void *arg)
{
    ws__worker *w = arg;
    w->stop_deadline = l->now + w->host->cfg.close_timeout_ms;
    ws__worker_begin_stop(w);
}

/* Loop 0 notices the stop request: the owner stops taking new work (the
 * server closes its listener), then every loop closes its sessions with
 * 1001. */
static void begin_stop(ws__host *h)
{
    atomic_store(&h->state, WS__HOST_STOPPING);
    if (h->on_stop)
        h->on_stop(h);
    for (int i = 1; i < h->nworkers; i++)
        if (ws__loop_post(&h->workers[i].loop, stop_task, &h->workers[i]) != 0)
            h->workers[i].stopping = true;
    stop_task(&h->workers[0].loop, &h->workers[0]);
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

int ws__host_step(ws__host *h, int timeout_ms)
{
    if (h->nworkers > 1)
        return WS_ESTATE;
    int st = atomic_load(&h->state);
    if (st == WS__HOST_STOPPED)
        return 0;
    if (st == WS__HOST_NEW)
        ws__host_launch(h);
    if (atomic_load(&h->stop_requested) && atomic_load(&h->state) == WS__HOST_RUNNING)
        begin_stop(h);
    ws__worker *w0 = &h->workers[0];
    if (worker_finished(w0)) {
        ws__worker_flush(&w0->loop, w0);
        atomic_store(&h->state, WS__HOST_STOPPED);
        return 0;
    }
    ws__loop_run_once(&w0->loop, timeout_ms);
    return 1;
}

int ws__host_run(ws__host *h)
{
    if (atomic_load(&h->state) == WS__HOST_NEW)
        ws__host_launch(h);
    ws__worker *w0 = &h->workers[0];
    for (;;) {
        if (atomic_load(&h->stop_requested) && atomic_load(&h->state) == WS__HOST_RUNNING)
            begin_stop(h);
        if (worker_finished(w0))
            break;
        ws__loop_run_once(&w0->loop, 1000);
    }
    ws__worker_flush(&w0->loop, w0);
    for (int i = 1; i < h->nworkers; i++)
        if (h->workers[i].thread_started) {
            pthread_join(h->workers[i].thread, NULL);
            h->workers[i].thread_started = false;
        }
    atomic_store(&h->state, WS__HOST_STOPPED);
    ws__signals_stop(h);
    ws__log(&h->log, WS_LOG_INFO, "stopped");
    return 0;
}

void ws__host_stop(ws__host *h)
{
    atomic_store(&h->stop_requested, 1);
    int st = atomic_load(&h->state);
    if ((st == WS__HOST_RUNNING || st == WS__HOST_STOPPING) && h->nworkers)
        h->io->wake(h->workers[0].loop.io_state);
}

static void free_worker(ws__worker *w)
{
    /* Sessions whose handler never returned (stuck or never resumed) are
     * released with their stacks; nothing of theirs runs again. */
    ws__worker_close_all(w);
    ws__loop_run_posted(&w->loop);
    ws__group_batch_discard(w);
    ws__worker_flush(&w->loop, w); /* frees the closed sessions still on the dirty list */
    for (uint32_t i = 0; i < w->nslots; i++) {
        ws_session *s = ws__slot_session(&w->slots[i]);
        if (s && ws__s_live_co(s)) {
            ws__coro_free(&w->stacks, s->x->co);
            s->x->co = NULL;
            s->busy = 0;
            ws__session_maybe_free(s);
        }
    }
    ws__loop_fini(&w->loop);
    ws__stack_pool_fini(&w->stacks);
    ws__chunk_cache_free(&w->chunks);
    free(w->dirty);
    free(w->tls_scratch);
    free(w->bids);
    free(w->deferred);
    free(w->slots);
    free(w->free_slots);
}

void ws__host_fini(ws__host *h)
{
    int st = atomic_load(&h->state);
    if (st == WS__HOST_RUNNING || st == WS__HOST_STOPPING) {
        /* Freed while running (a test that stepped and gave up): stop the
         * other loops first. */
        ws__host_stop(h);
        for (int i = 1; i < h->nworkers; i++)
            if (ws__loop_post(&h->workers[i].loop, stop_task, &h->workers[i]) == 0 &&
                h->workers[i].thread_started)
                pthread_join(h->workers[i].thread, NULL);
    }
    ws__signals_stop(h);
    ws__resolver_fini(&h->resolver);
    for (int i = 0; i < h->nworkers; i++)
        free_worker(&h->workers[i]);
    free(h->workers);
    h->workers = NULL;
    h->nworkers = 0;
    ws__tls_ctx_unref(h->client_tls);
    h->client_tls = NULL;
    pthread_mutex_destroy(&h->client_tls_mu);
}

/* --- by id, from any thread ------------------------------------------------ */

typedef struct id_task {
    ws_session_id id;
    int kind; /* 0 send, 1 close */
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

static int by_id(ws__host *h, ws_session_id id, int kind, uint8_t op, uint16_t code,
                 const void *data, size_t len)
{
    if (!data && len)
        return WS_EINVAL;
    int wi = WS__ID_WORKER(id);
    if (id == 0 || !h->workers || wi >= h->nworkers)
        return WS_ESTALE;
    ws__worker *w = &h->workers[wi];
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

int ws__host_send(ws__host *h, ws_session_id id, bool binary, const void *data, size_t len)
{
    if (!binary && data && !ws__utf8_valid(data, len))
        return WS_EINVAL;
    return by_id(h, id, 0, binary ? 2 : 1, 0, data, len);
}

int ws__host_close_session(ws__host *h, ws_session_id id, uint16_t code, const char *reason)
{
    if (!ws_close_code_valid(code) ||
        (reason && !ws__utf8_valid((const uint8_t *)reason, strlen(reason))))
        return WS_EINVAL;
    return by_id(h, id, 1, 0, code, reason, reason ? strlen(reason) : 0);
}
