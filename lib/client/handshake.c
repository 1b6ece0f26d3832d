/* SPDX-License-Identifier: MIT */
/* The client's side of a session before it opens: the request goes out,
 * the response head is read (bounded by max_header_bytes) and checked, and
 * the session opens with what the 101 agreed; or the attempt fails, once,
 * with the reason's own code. */
#include "client/client_impl.h"
#include "proto/client_handshake.h"
#include "tls/tls.h"
#include "util/strbuf.h"
#include "wschat/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static ws__dial *dial_of(ws_session *s) { return ws__s_hs(s); }
static ws__cconn *cconn_of(const ws_session *s) { return WS__OWNER_OF(s->h, ws__cconn, h); }

static void release_dial(ws_session *s)
{
    ws__dial *d = ws__s_hs(s);
    if (d) {
        ws__dial_free(d);
        s->x->hs = NULL;
        ws__session_trim(s);
    }
}

static void destroy(ws_session *s)
{
    release_dial(s);
    ws__cconn_free(cconn_of(s));
}

/* The one report of a failed attempt (the caller makes sure there is one). */
static void report(ws_session *s, int err, int status, const char *why)
{
    ws_close_reason r = {.code = WS_CLOSE_ABNORMAL,
                         .http_status = (uint16_t)status,
                         .cause = WS_CAUSE_CONNECT,
                         .err = err};
    ws__str_copy(r.reason, sizeof r.reason, why ? why : ws_strerror(err));
    ws__log(&s->w->host->log, WS_LOG_DEBUG, "%s: connect failed: %s (%s)", s->peer, r.reason,
            ws_err_name(err));
    ws__cconn *cc = cconn_of(s);
    if (cc->on_fail) {
        s->busy++;
        cc->on_fail(s->id, &r, cc->h.app);
        s->busy--;
    }
}

void ws__client_fail(ws_session *s, int err, int status, const char *why)
{
    if (s->ended)
        return;
    s->ended = true;
    report(s, err, status, why);
    ws__session_abort(s, err);
}

void ws__client_send_request(ws_session *s)
{
    ws__dial *d = dial_of(s);
    s->phase = WS__PH_HANDSHAKE;
    s->reading = true;
    if (d->tls) {
        /* wss://: the ClientHello goes first; the request waits in the
         * queue until the handshake is done. */
        if (!(s->x->tls = ws__tls_new(d->tls, true, d->server_name))) {
            ws__client_fail(s, WS_ENOMEM, 0, NULL);
            return;
        }
        ws__tls_start(s->x->tls);
    }
    if (ws__session_queue_raw(s, d->request, d->request_len, NULL, 0) < 0) {
        ws__client_fail(s, WS_ENOMEM, 0, NULL);
        return;
    }
    free(d->request);
    d->request = NULL;
    ws__session_deadline_in(s, d->handshake_timeout_ms);
    ws__session_watch(s);
}

/* Why a non-101 answer failed, in words: the status line, and where a
 * redirect pointed. */
static void describe(const ws__http_response *resp, int err, char *out, size_t cap)
{
    int n = snprintf(out, cap, "HTTP %d %.*s", resp->status, (int)resp->reason.n, resp->reason.p);
    const ws__http_header *loc = err == WS_EREDIRECT
                                     ? ws__headers_find(resp->headers, resp->nheaders, "Location",
                                                        0)
                                     : NULL;
    if (loc && n > 0 && (size_t)n < cap)
        snprintf(out + n, cap - (size_t)n, " to %.*s", (int)loc->value.n, loc->value.p);
}

static void finish(ws_session *s, const ws__http_response *resp, size_t head_len,
                   const uint8_t *rest, size_t rest_len)
{
    ws__dial *d = dial_of(s);
    ws__cconn *cc = cconn_of(s);
    int proto;
    int rc = ws__client_check_response(resp, d->key, cc->h.protocols, cc->h.nprotocols, &proto);
    if (rc == WS_ESTATUS || rc == WS_EREDIRECT) {
        char why[124];
        describe(resp, rc, why, sizeof why);
        ws__client_fail(s, rc, resp->status, why);
        return;
    }
    if (rc) {
        ws__client_fail(s, rc, 0, NULL);
        return;
    }
    ws__ext_chain *chain = NULL;
    if ((rc = ws__ext_accept(cc->exts, cc->nexts, resp->headers, resp->nheaders, &chain)) < 0) {
        ws__client_fail(s, rc, 0, NULL);
        return;
    }
    const char *head = (const char *)d->head.data;
    ws__sess_more *x = s->x;
    if (!(x->req = malloc(sizeof *x->req)) ||
        ws__request_init_response(x->req, resp, head, head_len, cc->h.path, d->query, s->peer) <
            0) {
        free(x->req);
        x->req = NULL;
        ws__ext_chain_free(chain);
        ws__client_fail(s, WS_ENOMEM, 0, NULL);
        return;
    }
    s->proto = (uint8_t)(proto + 1);
    /* Frames may have come with the 101: they go to the engine. The head
     * buffer goes first (idle memory), so they are copied out of it. */
    size_t extra = d->head.len - head_len;
    uint8_t *after = extra + rest_len ? malloc(extra + rest_len) : NULL;
    if (extra + rest_len && !after) {
        ws__ext_chain_free(chain);
        ws__client_fail(s, WS_ENOMEM, 0, NULL);
        return;
    }
    if (extra)
        memcpy(after, d->head.data + head_len, extra);
    if (rest_len)
        memcpy(after + extra, rest, rest_len);
    release_dial(s);
    ws__session_open(s, chain, after, extra + rest_len);
    free(after);
}

static void hs_input(ws_session *s, uint8_t *data, size_t len)
{
    ws__dial *d = dial_of(s);
    const ws_config *c = ws__session_cfg(s);
    size_t room = d->head.limit - d->head.len;
    size_t take = len < room ? len : room;
    if (ws__buf_append(&d->head, data, take) < 0) {
        ws__client_fail(s, WS_ENOMEM, 0, NULL);
        return;
    }
    ws__http_response *resp = malloc(sizeof *resp);
    if (!resp) {
        ws__client_fail(s, WS_ENOMEM, 0, NULL);
        return;
    }
    ws__http_limits lim = {c->max_header_bytes, c->max_headers, c->max_uri};
    int r = ws__http_parse_response((const char *)d->head.data, d->head.len, &d->scanned, &lim,
                                    resp);
    if (r == WS_ETOOBIG)
        ws__client_fail(s, WS_ETOOBIG, 0, "the response head is over max_header_bytes");
    else if (r < 0)
        ws__client_fail(s, WS_EHTTP, 0, NULL);
    else if (r > 0)
        finish(s, resp, (size_t)r, data + take, len - take);
    free(resp);
}

static void hs_timeout(ws_session *s)
{
    if (s->phase == WS__PH_CONNECT)
        ws__client_fail(s, WS_ETIMEDOUT, 0, "connect timed out");
    else
        ws__client_fail(s, WS_ETIMEDOUT, 0, "no answer to the upgrade request in time");
}

static void lost(ws_session *s, int err)
{
    /* The connection ended under the attempt: the server closed it before
     * answering, a reset, or the client is stopping. */
    const char *why = err == WS_ECLOSED                           ? "the client is stopping"
                      : ws__s_tls(s) && *ws__tls_error(s->x->tls) ? ws__tls_error(s->x->tls)
                      : s->phase == WS__PH_HANDSHAKE ? "the connection closed before the 101"
                                                     : NULL;
    report(s, err ? err : WS_EIO, 0, why);
}

const ws__role ws__client_role = {
    .conn_role = WS__ROLE_CLIENT,
    .hs_input = hs_input,
    .hs_timeout = hs_timeout,
    .connected = ws__client_connected,
    .lost = lost,
    .destroy = destroy,
};
