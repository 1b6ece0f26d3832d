/* SPDX-License-Identifier: MIT */
/* The public session functions. Calls from the session's own loop thread act
 * at once; calls from any other thread are posted to that loop by id. */
#include "proto/utf8.h"
#include "session/session.h"
#include "util/format.h"
#include "wschat/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static bool on_loop(const ws_session *s) { return ws__loop_on_thread(&s->w->loop); }

static int send_data(ws_session *s, uint8_t op, const void *data, size_t len)
{
    if (!s || (!data && len))
        return WS_EINVAL;
    if (op == WS_MSG_TEXT && !ws__utf8_valid(data, len))
        return WS_EINVAL;
    if (!on_loop(s))
        return ws__host_send(s->w->host, s->id, op == WS_MSG_BINARY, data, len);
    if (s->phase != WS__PH_OPEN || s->ended)
        return WS_ECLOSED;
    if (s->out_frag_open)
        return WS_ESTATE; /* a new message inside a fragmented one: 1002 at the peer */
    return ws__session_after_send(s, ws__conn_send(&s->conn, op, data, len));
}

int ws_send_text(ws_session *s, const char *text)
{
    return text ? send_data(s, WS_MSG_TEXT, text, strlen(text)) : WS_EINVAL;
}

int ws_send_text_n(ws_session *s, const char *text, size_t len)
{
    return send_data(s, WS_MSG_TEXT, text, len);
}

int ws_send_binary(ws_session *s, const void *data, size_t len)
{
    return send_data(s, WS_MSG_BINARY, data, len);
}

int ws_sendf(ws_session *s, const char *fmt, ...)
{
    char small[512];
    size_t n;
    int rc;
    va_list ap;
    va_start(ap, fmt);
    char *text = ws__vformat(small, sizeof small, &n, &rc, fmt, ap);
    va_end(ap);
    if (!text)
        return rc;
    rc = send_data(s, WS_MSG_TEXT, text, n);
    if (text != small)
        free(text);
    return rc;
}

int ws_send_frame(ws_session *s, ws_msg_type type, bool fin, const void *data, size_t len)
{
    if (!s || (!data && len) || (unsigned)type > WS_MSG_BINARY)
        return WS_EINVAL;
    if (!on_loop(s))
        return WS_ESTATE; /* raw frames only from the session's own thread */
    if (s->phase != WS__PH_OPEN || s->ended)
        return WS_ECLOSED;
    /* Opcode order: a continuation needs an open message, a new message
     * needs none. */
    bool open_msg = s->out_frag_open;
    if ((type == WS_MSG_CONTINUATION) != open_msg)
        return WS_EINVAL;
    /* A pending broadcast batch goes first (held back if the message is
     * already open); this message's own frame then goes straight to the
     * queue, and what waited for its end follows the last frame. */
    ws__session_before_output(s);
    s->out_frag_open = false;
    int rc = ws__conn_send_frame(&s->conn, fin, 0, (uint8_t)type, data, len);
    s->out_frag_open = rc == 0 ? !fin : open_msg;
    if (rc == 0 && fin && open_msg)
        ws__session_undefer(s);
    return ws__session_after_send(s, rc);
}

int ws_ping(ws_session *s, const void *data, size_t len)
{
    if (!s || len > 125 || (!data && len))
        return WS_EINVAL;
    if (!on_loop(s))
        return WS_ESTATE;
    if (s->phase != WS__PH_OPEN || s->ended)
        return WS_ECLOSED;
    return ws__session_after_send(s, ws__conn_ping(&s->conn, data, len));
}

int ws_close(ws_session *s, uint16_t code, const char *reason)
{
    if (!s)
        return WS_EINVAL;
    if (!ws_close_code_valid(code))
        return WS_EINVAL;
    if (reason && !ws__utf8_valid((const uint8_t *)reason, strlen(reason)))
        return WS_EINVAL;
    if (!on_loop(s))
        return ws__host_close_session(s->w->host, s->id, code, reason);
    if (s->phase != WS__PH_OPEN || s->ended || s->conn.state != WS__CONN_OPEN)
        return WS_ECLOSED;
    ws__session_close(s, code, reason, WS_CAUSE_LOCAL);
    return 0;
}

const ws_close_reason *ws_session_close_reason(const ws_session *s)
{
    return s && s->ended && s->conn_ready ? ws__session_reason(s) : NULL;
}

/* A pointer into a sequential handler's frames, kept for later, is read by
 * the loop while the handler waits, when (on a shared stack) those frames
 * are elsewhere: say so, since nothing else would until data is wrong. */
static void warn_if_on_stack(const ws_session *s, const void *p, const char *what)
{
    if (p && ws__s_co(s) && ws__stack_pool_on_shared(&s->w->stacks, p))
        ws__log(&s->w->host->log, WS_LOG_WARN,
                "%s: the pointer is into a sequential handler's frame, which is not in place "
                "while the handler waits (shared stacks): pass heap memory, or set "
                "ws_config.private_stacks",
                what);
}

int ws_on_close(ws_session *s, ws_close_fn cb, void *ud)
{
    if (!s || !cb)
        return WS_EINVAL;
    warn_if_on_stack(s, ud, "ws_on_close");
    if (s->ended)
        return WS_ECLOSED;
    ws__sess_more *x = ws__session_more(s);
    ws__close_cb *c = x ? malloc(sizeof *c) : NULL;
    if (!c)
        return WS_ENOMEM;
    c->fn = cb;
    c->ud = ud;
    c->next = NULL;
    ws__close_cb **tail = &x->close_cbs;
    while (*tail)
        tail = &(*tail)->next;
    *tail = c;
    return 0;
}

ws_session_id ws_session_get_id(const ws_session *s) { return s ? s->id : 0; }
ws_server *ws_session_server(const ws_session *s) { return s ? s->w->host->server : NULL; }
ws_client *ws_session_client(const ws_session *s) { return s ? s->w->host->client : NULL; }
bool ws_session_is_client(const ws_session *s) { return s && s->role == WS__ROLE_CLIENT; }
const ws_request *ws_session_request(const ws_session *s) { return s ? ws__s_req(s) : NULL; }

/* A session whose route let its request go answers WS_ESTATE, so "not
 * kept" is never mistaken for "not sent". */
static int released(const ws_session *s) { return s && !ws__s_req(s) && s->conn_ready; }
const char *ws_session_protocol(const ws_session *s)
{
    return s && s->proto ? s->h->protocols[s->proto - 1] : NULL;
}
const char *ws_session_path(const ws_session *s)
{
    /* WebSocket routes match exactly, so the route's path is the request's;
     * a client's is its URL's. */
    if (s && s->h && s->h->path && s->conn_ready)
        return s->h->path;
    return ws_request_path(ws_session_request(s));
}
const char *ws_session_peer(const ws_session *s) { return s ? s->peer : NULL; }

int ws_session_header(const ws_session *s, const char *name, char *buf, size_t cap)
{
    if (released(s))
        return WS_ESTATE;
    return ws_request_header(ws_session_request(s), name, buf, cap);
}

int ws_session_query(const ws_session *s, const char *name, char *buf, size_t cap)
{
    if (released(s))
        return WS_ESTATE;
    return ws_request_query(ws_session_request(s), name, buf, cap);
}

int ws_session_cookie(const ws_session *s, const char *name, char *buf, size_t cap)
{
    if (released(s))
        return WS_ESTATE;
    return ws_request_cookie(ws_session_request(s), name, buf, cap);
}

size_t ws_session_queued(const ws_session *s) { return s ? s->q.bytes : 0; }
void ws_session_set_data(ws_session *s, void *data)
{
    if (!s)
        return;
    warn_if_on_stack(s, data, "ws_session_set_data");
    s->data = data;
}
void *ws_session_data(const ws_session *s) { return s ? s->data : NULL; }

int ws_msg_equals_ci(const ws_msg *m, const char *text)
{
    size_t n = text ? strlen(text) : 0;
    return m && text && m->type == WS_MSG_TEXT && m->len == n &&
           strncasecmp((const char *)m->data, text, n) == 0;
}
