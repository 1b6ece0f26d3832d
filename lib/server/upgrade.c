/* SPDX-License-Identifier: MIT */
/* The server's side of a session before it opens: reading the request
 * head, routing it, the upgrade (subprotocol, extensions, 101) or a plain
 * HTTP answer. From the 101 on the session layer takes over. */
#include "proto/handshake.h"
#include "server/server_impl.h"
#include "tls/tls.h"
#include "wschat/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The request head being read. */
typedef struct http_in {
    ws__buf head;
    size_t scanned;
    int redirect_port; /* the listener's: plain HTTP requests go to https:// there */
} http_in;

static void http_done(ws_session *s)
{
    http_in *in = ws__s_hs(s);
    if (in) {
        ws__buf_free(&in->head);
        free(in);
        s->x->hs = NULL;
        ws__session_trim(s);
    }
}

static void hs_input(ws_session *s, uint8_t *data, size_t len);
static void hs_timeout(ws_session *s) { ws__session_http_error(s, 408); }

const ws__role ws__server_role = {
    .conn_role = WS__ROLE_SERVER,
    .hs_input = hs_input,
    .hs_timeout = hs_timeout,
    .destroy = http_done,
};

void ws__server_accept_on(ws__worker *w, int fd, const char *peer, ws__listener *l)
{
    ws__host *h = w->host;
    http_in *in = calloc(1, sizeof *in);
    struct ws__tls_ctx *ctx = ws__listener_tls(l);
    ws__tls *t = ctx ? ws__tls_new(ctx, false, NULL) : NULL;
    ws__tls_ctx_unref(ctx); /* the connection holds its own reference */
    ws_session *s = in && (t || !ctx)
                        ? ws__session_new(w, &ws__server_role, WS__PH_HANDSHAKE, fd, peer, 0)
                        : NULL;
    if (!s) {
        free(in);
        ws__tls_free(t);
        h->io->close(w->loop.io_state, fd);
        atomic_fetch_sub(&h->nconns, 1);
        ws__log(&h->log, WS_LOG_WARN, "dropping connection from %s: out of memory", peer);
        return;
    }
    s->x->hs = in;
    s->x->tls = t;
    in->redirect_port = ws__listener_redirect(l);
    ws__buf_init(&in->head, h->cfg.max_header_bytes);
    ws__session_deadline_in(s, h->cfg.handshake_timeout_ms);
}

void ws__session_http_reply(ws_session *s, int status, const char *ctype, const void *body,
                            size_t len, bool head_only)
{
    char hdr[512];
    int n = snprintf(hdr, sizeof hdr,
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\nCache-Control: no-cache\r\n"
                     "X-Content-Type-Options: nosniff\r\n\r\n",
                     status, ws__http_reason(status), ctype ? ctype : "application/octet-stream",
                     len);
    ws__session_queue_raw(s, hdr, (size_t)n, head_only ? NULL : body, head_only ? 0 : len);
    ws__session_drain(s);
}

void ws__session_http_error(ws_session *s, int status)
{
    if (ws__s_tls(s) && !ws__tls_handshake_done(s->x->tls)) {
        /* No TLS yet to say it in (a stalled or broken handshake): close. */
        ws__log(&s->w->host->log, WS_LOG_DEBUG, "%s: HTTP %d before the TLS handshake ended",
                s->peer, status);
        ws__session_abort(s, WS_ETIMEDOUT);
        return;
    }
    char buf[512];
    int n = ws__http_error_response(buf, sizeof buf, status);
    if (n > 0)
        ws__session_queue_raw(s, buf, (size_t)n, NULL, 0);
    ws__log(&s->w->host->log, WS_LOG_DEBUG, "%s: HTTP %d", s->peer, status);
    ws__session_drain(s);
}

/* Route-only extensions first, then the server's, unless the route opted
 * out. Returns 0 or an HTTP status. */
static int negotiate_extensions(ws_session *s, const ws__route *r, const ws__http_request *req,
                                char *hdr, size_t cap, ws__ext_chain **exts)
{
    const ws_server *srv = ws__server_of(s);
    const ws_extension *avail[8];
    size_t n = 0;
    hdr[0] = '\0';
    if (r->no_exts)
        return 0;
    for (size_t i = 0; i < r->nexts; i++)
        avail[n++] = r->exts[i];
    for (size_t i = 0; i < srv->nexts; i++)
        avail[n++] = &srv->exts[i];
    int rc = ws__ext_negotiate(avail, n, req, hdr, cap, exts);
    return rc == WS_ENOMEM ? 503 : rc;
}

/* Answers 101 and opens the session. Returns 0 or an HTTP status. */
static int upgrade(ws_session *s, const ws__route *r, const ws__http_request *req,
                   const uint8_t *extra, size_t nextra)
{
    int st = ws__handshake_check(req);
    if (st == 0 && r->hook) {
        st = r->hook(s->x->req, r->hook_app);
        if (st && (st < 400 || st > 599))
            st = 500;
    }
    if (st)
        return st;
    int pi = ws__handshake_pick_protocol(req, r->h.protocols, r->h.nprotocols);
    if (pi >= 0)
        s->proto = (uint8_t)(pi + 1); /* ws_route_protocols allows at most 255 */
    char exts[512];
    ws__ext_chain *chain = NULL;
    st = negotiate_extensions(s, r, req, exts, sizeof exts, &chain);
    if (st)
        return st;
    char resp[1024];
    int n = ws__handshake_response(resp, sizeof resp, req, pi >= 0 ? r->h.protocols[pi] : NULL,
                                   exts[0] ? exts : NULL);
    if (n < 0 || ws__session_queue_raw(s, resp, (size_t)n, NULL, 0) < 0) {
        ws__ext_chain_free(chain);
        return 503;
    }
    s->h = &r->h;
    /* The head's buffer goes before the handler starts (idle memory); the
     * bytes after it were copied out by the caller. */
    http_done(s);
    ws__session_open(s, chain, extra, nextra);
    return 0;
}

/* A plain listener's HTTP requests go to the same host and target on the
 * TLS port (308 keeps the method). WebSocket upgrades are served. */
static void redirect(ws_session *s, const ws__http_request *req, int port)
{
    const ws__http_header *host = ws__http_find(req, "Host", 0);
    size_t hn = host ? host->value.n : 0;
    const char *hp = host ? host->value.p : "";
    /* The host without its port ("[v6]:80" keeps its brackets). */
    size_t colon = hn;
    while (colon > 0 && hp[colon - 1] != ':' && hp[colon - 1] != ']')
        colon--;
    if (colon > 0 && hp[colon - 1] == ':')
        hn = colon - 1;
    if (hn == 0 || hn > 255 || memchr(hp, '\r', hn) || memchr(hp, '\n', hn)) {
        ws__session_http_error(s, 400);
        return;
    }
    char head[8192 + 512];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 308 Permanent Redirect\r\nLocation: https://%.*s:%d%.*s\r\n"
                     "Content-Length: 0\r\nConnection: close\r\n\r\n",
                     (int)hn, hp, port, (int)req->target.n, req->target.p);
    if (n > 0 && (size_t)n < sizeof head)
        ws__session_queue_raw(s, head, (size_t)n, NULL, 0);
    ws__session_drain(s);
}

static void route_request(ws_session *s, ws__http_request *req, size_t head_end, uint8_t *rest,
                          size_t rest_len)
{
    http_in *in = s->x->hs;
    if (in->redirect_port && !ws__http_has_token(req, "Upgrade", "websocket")) {
        redirect(s, req, in->redirect_port);
        return;
    }
    const ws__route *r = ws__router_match(&ws__server_of(s)->routes, req->path.p, req->path.n);
    if (!r) {
        ws__session_http_error(s, 404);
        return;
    }
    ws__sess_more *x = s->x;
    if (!(x->req = malloc(sizeof *x->req)) ||
        ws__request_init(x->req, req, (const char *)in->head.data, head_end, s->peer) < 0) {
        free(x->req);
        x->req = NULL;
        ws__session_http_error(s, 503);
        return;
    }
    bool is_get = req->method.n == 3 && memcmp(req->method.p, "GET", 3) == 0;
    bool is_head = req->method.n == 4 && memcmp(req->method.p, "HEAD", 4) == 0;
    if (r->kind == WS__ROUTE_HTTP || r->kind == WS__ROUTE_STATIC) {
        if (!is_get && !is_head)
            ws__session_http_error(s, 405);
        else if (ws__http_has_token(req, "Upgrade", "websocket"))
            ws__session_http_error(s, 400);
        else
            ws__http_dispatch(s, r, is_head);
        return;
    }
    /* Bytes that followed the head (a client may send frames at once):
     * what is in the head buffer past the head, and the rest of this read. */
    size_t extra = in->head.len - head_end;
    uint8_t *after = NULL;
    if (extra + rest_len && !(after = malloc(extra + rest_len))) {
        ws__session_http_error(s, 503);
        return;
    }
    if (extra)
        memcpy(after, in->head.data + head_end, extra);
    if (rest_len)
        memcpy(after + extra, rest, rest_len);
    int st = upgrade(s, r, req, after, extra + rest_len);
    free(after);
    if (st)
        ws__session_http_error(s, st);
}

static void hs_input(ws_session *s, uint8_t *data, size_t len)
{
    http_in *in = s->x->hs;
    const ws_config *c = ws__session_cfg(s);
    size_t room = c->max_header_bytes - in->head.len;
    size_t take = len < room ? len : room;
    if (ws__buf_append(&in->head, data, take) < 0) {
        ws__session_http_error(s, 503);
        return;
    }
    ws__http_request req;
    ws__http_limits lim = {c->max_header_bytes, c->max_headers, c->max_uri};
    int r = ws__http_parse((const char *)in->head.data, in->head.len, &in->scanned, &lim, &req);
    if (r == 0 && in->head.len >= c->max_header_bytes)
        r = -431;
    if (r < 0)
        ws__session_http_error(s, -r);
    else if (r > 0)
        route_request(s, &req, (size_t)r, data + take, len - take);
}
