/* SPDX-License-Identifier: MIT */
/* A client's connection attempt up to the TCP connection: the arguments
 * checked and the request written before anything starts, then the name
 * resolved (off the loop, unless numeric) and each address tried in turn,
 * all within connect_timeout_ms. */
#include "client/client_impl.h"
#include "proto/client_handshake.h"
#include "tls/tls.h"
#include "wschat/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define DEFAULT_CONNECT_TIMEOUT_MS 10000
#define MAX_PROTOCOLS 255

void ws__dial_free(ws__dial *d)
{
    if (!d)
        return;
    if (d->ai && d->owned_ai)
        freeaddrinfo(d->ai);
    ws__buf_free(&d->head);
    free(d->host);
    free(d->request);
    free(d->query);
    free(d->server_name);
    ws__tls_ctx_unref(d->tls);
    free(d);
}

void ws__cconn_free(ws__cconn *cc)
{
    if (!cc)
        return;
    free(cc->exts);
    free(cc->strings);
    free((void *)cc->h.protocols);
    free(cc);
}

static bool token(const char *s)
{
    if (!s || !*s)
        return false;
    for (; *s; s++)
        if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7F ||
            strchr("()<>@,;:\\\"/[]?={}", *s))
            return false;
    return true;
}

static int check_options(const ws_connect_options *o)
{
    if (o->nheaders && !o->headers)
        return WS_EINVAL;
    for (size_t i = 0; i < o->nheaders; i++)
        if (!ws__client_header_ok(o->headers[i]))
            return WS_EINVAL;
    if ((o->nprotocols && !o->protocols) || o->nprotocols > MAX_PROTOCOLS)
        return WS_EINVAL;
    for (size_t i = 0; i < o->nprotocols; i++)
        if (!token(o->protocols[i]))
            return WS_EINVAL;
    if (o->nextensions && !o->extensions)
        return WS_EINVAL;
    return 0;
}

/* The handler and the strings it points to (path, subprotocols), copied. */
static int make_cconn(const ws__url *u, const ws_connect_options *o, const ws__handler *handler,
                      ws__cconn **out)
{
    ws__cconn *cc = calloc(1, sizeof *cc);
    if (!cc)
        return WS_ENOMEM;
    cc->h = *handler;
    cc->on_fail = o->on_fail;
    size_t need = u->path.n + 1;
    for (size_t i = 0; i < o->nprotocols; i++)
        need += strlen(o->protocols[i]) + 1;
    char *p = cc->strings = malloc(need);
    const char **protos = o->nprotocols ? calloc(o->nprotocols, sizeof *protos) : NULL;
    cc->exts = o->nextensions ? calloc(o->nextensions, sizeof *cc->exts) : NULL;
    if (!p || (o->nprotocols && !protos) || (o->nextensions && !cc->exts)) {
        free(protos);
        ws__cconn_free(cc);
        return WS_ENOMEM;
    }
    memcpy(p, u->path.p, u->path.n);
    p[u->path.n] = '\0';
    cc->h.path = p;
    p += u->path.n + 1;
    for (size_t i = 0; i < o->nprotocols; i++) {
        size_t n = strlen(o->protocols[i]) + 1;
        memcpy(p, o->protocols[i], n);
        protos[i] = p;
        p += n;
    }
    cc->h.protocols = protos;
    cc->h.nprotocols = o->nprotocols;
    for (size_t i = 0; i < o->nextensions; i++)
        cc->exts[i] = o->extensions[i];
    cc->nexts = o->nextensions;
    *out = cc;
    return 0;
}

static char *dup_slice(ws__slice s)
{
    char *p = malloc(s.n + 1);
    if (p) {
        memcpy(p, s.p, s.n);
        p[s.n] = '\0';
    }
    return p;
}

static int make_dial(ws__host *h, const ws__url *u, const ws_connect_options *o,
                     const ws__cconn *cc, ws__dial **out)
{
    ws__dial *d = calloc(1, sizeof *d);
    if (!d)
        return WS_ENOMEM;
    d->port = u->port;
    d->connect_timeout_ms = o->connect_timeout_ms ? o->connect_timeout_ms
                                                  : DEFAULT_CONNECT_TIMEOUT_MS;
    d->handshake_timeout_ms = o->handshake_timeout_ms ? o->handshake_timeout_ms
                                                      : h->cfg.handshake_timeout_ms;
    /* One byte past the limit is kept, so "too big" is told from "partial". */
    ws__buf_init(&d->head, h->cfg.max_header_bytes + 1);
    uint8_t nonce[16];
    int rc = getentropy(nonce, sizeof nonce) == 0 ? 0 : WS_ESYS;
    char exts[1024] = "";
    if (rc == 0)
        rc = ws__ext_write_offer(cc->exts, cc->nexts, exts, sizeof exts);
    if (rc == 0 && (!(d->host = dup_slice(u->host)) || !(d->query = dup_slice(u->query))))
        rc = WS_ENOMEM;
    if (rc == 0) {
        ws__client_key(nonce, d->key);
        ws__client_request r = {u,    d->key,     cc->h.protocols, cc->h.nprotocols,
                                exts, o->headers, o->nheaders};
        size_t cap = 512 + u->target.n + strlen(exts);
        for (size_t i = 0; i < o->nprotocols; i++)
            cap += strlen(o->protocols[i]) + 2;
        for (size_t i = 0; i < o->nheaders; i++)
            cap += strlen(o->headers[i]) + 2;
        int n = (d->request = malloc(cap)) ? ws__client_request_write(d->request, cap, &r) : -1;
        if (n < 0)
            rc = WS_ENOMEM;
        else
            d->request_len = (size_t)n;
    }
    if (rc == 0 && u->tls) {
        /* The context now, so that a CA or key file that does not load is
         * an error of ws_connect's, not a failure later. */
        rc = o->tls ? ws__tls_client_ctx(o->tls, &h->log, &d->tls)
                    : ws__host_client_tls(h, &d->tls);
        const char *name = o->tls && o->tls->server_name ? o->tls->server_name : d->host;
        if (rc == 0 && !(d->server_name = strdup(name)))
            rc = WS_ENOMEM;
    }
    if (rc) {
        ws__dial_free(d);
        return rc;
    }
    *out = d;
    return 0;
}

int ws__dial_prepare(ws__host *h, const char *url, const ws_connect_options *opts,
                     const ws__handler *handler, ws__cconn **cc, ws__dial **d)
{
    static const ws_connect_options none;
    const ws_connect_options *o = opts ? opts : &none;
    ws__url u;
    int rc = ws__url_parse(url, &u);
    if (rc == 0 && u.tls && !ws_tls_available())
        rc = WS_ENOTSUP; /* a build without TLS */
    if (rc == 0)
        rc = check_options(o);
    if (rc == 0 && u.target.n > h->cfg.max_uri)
        rc = WS_EINVAL;
    if (rc == 0)
        rc = make_cconn(&u, o, handler, cc);
    if (rc == 0) {
        (*cc)->h.ping_period_ms = o->ping_period_ms ? o->ping_period_ms : h->cfg.ping_period_ms;
        (*cc)->h.timeout_ms = o->timeout_ms ? o->timeout_ms : h->cfg.timeout_ms;
        if ((rc = make_dial(h, &u, o, *cc, d)) != 0) {
            ws__cconn_free(*cc);
            *cc = NULL;
        }
    }
    return rc;
}

/* --- on the loop ------------------------------------------------------------- */

static ws__dial *dial_of(ws_session *s) { return ws__s_hs(s); }

/* Tries the remaining addresses until one is connecting; fails the attempt
 * when none is left. */
static void try_next(ws_session *s)
{
    ws__dial *d = dial_of(s);
    ws__worker *w = s->w;
    const ws_io_backend *io = w->host->io;
    if (!io->connect) {
        ws__client_fail(s, WS_ENOTSUP, 0, "the I/O backend cannot connect");
        return;
    }
    while (d->next_ai) {
        struct addrinfo *a = d->next_ai;
        d->next_ai = a->ai_next;
        int fd = io->connect(w->loop.io_state, a->ai_addr, (unsigned)a->ai_addrlen, s->peer, 64);
        if (fd >= 0) {
            ws__session_set_fd(s, fd);
            return;
        }
        d->last_err = fd;
    }
    ws__client_fail(s, d->last_err ? d->last_err : WS_ECONNREFUSED, 0, NULL);
}

void ws__client_connected(ws_session *s)
{
    ws__worker *w = s->w;
    const ws_io_backend *io = w->host->io;
    int rc = io->connect_result(w->loop.io_state, s->fd);
    if (rc == 0) {
        ws__client_send_request(s);
        return;
    }
    ws__loop_unwatch(&w->loop, s->fd);
    io->close(w->loop.io_state, s->fd);
    s->fd = -1;
    dial_of(s)->last_err = rc;
    try_next(s);
}

static void resolved(ws__loop *l, uint64_t tag, int err, struct addrinfo *ai)
{
    ws__worker *w = WS__OWNER_OF(l, ws__worker, loop);
    ws_session *s = ws__worker_lookup(w, tag);
    if (!s || s->phase != WS__PH_CONNECT || !ws__s_hs(s)) { /* gone, or timed out meanwhile */
        if (ai)
            freeaddrinfo(ai);
        return;
    }
    if (err) {
        char why[300];
        snprintf(why, sizeof why, "cannot resolve %s", dial_of(s)->host);
        ws__client_fail(s, err, 0, why);
        return;
    }
    ws__dial *d = dial_of(s);
    d->ai = d->next_ai = ai;
    d->owned_ai = true;
    s->busy++;
    try_next(s);
    s->busy--;
    ws__session_maybe_free(s);
}

/* The first step, always from the loop (never inside ws_connect, so that
 * no callback runs before ws_connect has returned). */
static void begin(ws__loop *l, void *arg)
{
    ws_session_id *idp = arg;
    ws__worker *w = WS__OWNER_OF(l, ws__worker, loop);
    ws_session *s = ws__worker_lookup(w, *idp);
    free(idp);
    if (!s || s->phase != WS__PH_CONNECT)
        return;
    ws__dial *d = dial_of(s);
    ws__session_deadline_in(s, d->connect_timeout_ms);
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV};
    char port[8];
    snprintf(port, sizeof port, "%d", d->port);
    struct addrinfo *ai = NULL;
    s->busy++;
    if (getaddrinfo(d->host, port, &hints, &ai) == 0) { /* numeric: no lookup, no wait */
        d->ai = d->next_ai = ai;
        d->owned_ai = true;
        try_next(s);
    } else if (ws__resolve(&w->host->resolver, l, d->host, d->port, resolved, s->id) < 0) {
        ws__client_fail(s, WS_ENOMEM, 0, "cannot start the name lookup");
    }
    s->busy--;
    ws__session_maybe_free(s);
}

/* Creates the session on w and schedules its first step. */
static int start_on(ws__worker *w, ws__cconn *cc, ws__dial *d, ws_session_id *id)
{
    ws_session_id *idp = malloc(sizeof *idp);
    ws_session *s = idp ? ws__session_new(w, &ws__client_role, WS__PH_CONNECT, -1, "", 64) : NULL;
    if (!s) {
        free(idp);
        ws__cconn_free(cc);
        ws__dial_free(d);
        return WS_ENOMEM;
    }
    atomic_fetch_add(&w->host->nconns, 1);
    s->h = &cc->h;
    s->x->hs = d;
    snprintf(s->peer, 64, "%s:%d", d->host, d->port);
    *idp = s->id;
    if (id)
        *id = s->id;
    if (ws__loop_post(&w->loop, begin, idp) < 0) {
        free(idp);
        ws__client_fail(s, WS_ENOMEM, 0, NULL);
    }
    return 0;
}

typedef struct start_task {
    ws__cconn *cc;
    ws__dial *d;
} start_task;

static void start_posted(ws__loop *l, void *arg)
{
    start_task *t = arg;
    ws__worker *w = WS__OWNER_OF(l, ws__worker, loop);
    if (w->stopping) {
        ws__cconn_free(t->cc);
        ws__dial_free(t->d);
    } else {
        start_on(w, t->cc, t->d, NULL);
    }
    free(t);
}

int ws__dial_start(ws__host *h, ws__cconn *cc, ws__dial *d, ws_session_id *id)
{
    int st = atomic_load(&h->state);
    if (!h->workers || st == WS__HOST_STOPPING || st == WS__HOST_STOPPED ||
        atomic_load(&h->stop_requested)) {
        ws__cconn_free(cc);
        ws__dial_free(d);
        return WS_ESTATE;
    }
    ws__worker *w = ws__host_pick_worker(h);
    if (ws__loop_on_thread(&w->loop))
        return start_on(w, cc, d, id);
    /* Another thread: the loop creates the session (its table is the
     * loop's alone), so the id is not known here. */
    if (id)
        *id = 0;
    start_task *t = malloc(sizeof *t);
    if (t) {
        *t = (start_task){cc, d};
        if (ws__loop_post(&w->loop, start_posted, t) == 0)
            return 0;
        free(t);
    }
    ws__cconn_free(cc);
    ws__dial_free(d);
    return WS_ENOMEM;
}
