/* SPDX-License-Identifier: MIT */
/* The connection state machine. Every path that ends a connection goes
 * through close_fd(), and every path that ends a WebSocket session through
 * ws__session_end(), so "exactly once" holds by construction. A session is
 * freed only when its fd is closed, its handler has returned, and no loop
 * callback is running for it (`busy`). */
#include "server/session.h"
#include "proto/handshake.h"
#include "util/array.h"
#include "wschat/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LINGER_MS 2000

/* Idle memory per connection is mostly this struct (docs/performance.md
 * budgets 512 bytes per idle callback-route connection in all): a field
 * added here must pay for itself. */
_Static_assert(sizeof(void *) != 8 || sizeof(struct ws_session) <= 408,
               "ws_session outgrew its idle-memory budget");

static void on_io(ws__loop *l, int fd, unsigned events, void *ud);
static void on_timer(ws__timer *t);
static void ws_input(ws_session *s, uint8_t *data, size_t len);
static bool handler_ready(const ws_session *s);
static void drop_deferred(ws_session *s);

static uint64_t now_of(ws_session *s) { return s->w->loop.now; }
static const ws_config *cfg_of(ws_session *s) { return &s->w->srv->cfg; }

static void set_interest(ws_session *s)
{
    if (s->phase == WS__PH_DEAD)
        return;
    unsigned ev = (s->reading ? WS_IO_READ : 0) | (s->q.bytes ? WS_IO_WRITE : 0);
    ws__loop_watch(&s->w->loop, s->fd, ev, on_io, s);
}

static void arm_timer(ws_session *s)
{
    const ws_config *c = cfg_of(s);
    uint64_t due = UINT64_MAX;
    if (s->phase == WS__PH_OPEN && s->conn.state != WS__CONN_OPEN) {
        due = s->deadline; /* closing: only the close-handshake deadline counts */
    } else if (s->phase == WS__PH_OPEN) {
        if (c->timeout_ms != WS_DISABLED)
            due = s->last_rx + c->timeout_ms;
        if (c->ping_period_ms != WS_DISABLED && s->next_ping < due)
            due = s->next_ping;
        if (s->deadline && s->deadline < due)
            due = s->deadline;
    } else if (s->phase != WS__PH_DEAD) {
        due = s->deadline;
    }
    if (due == UINT64_MAX)
        ws__timer_cancel(&s->w->loop.timers, &s->timer);
    else
        ws__timer_set(&s->w->loop.timers, &s->timer, due);
}

void ws__session_accept(ws__worker *w, int fd, const char *peer)
{
    ws_server *srv = w->srv;
    size_t plen = strlen(peer);
    ws_session *s = calloc(1, sizeof *s + plen + 1);
    if (s && !(s->http = calloc(1, sizeof *s->http))) {
        free(s);
        s = NULL;
    }
    if (s && w->nfree == 0 && w->nslots == w->slots_cap) {
        uint32_t cap = w->slots_cap ? w->slots_cap * 2 : 64;
        ws__slot *v = realloc(w->slots, cap * sizeof *v);
        uint32_t *f = realloc(w->free_slots, cap * sizeof *f);
        if (v)
            w->slots = v;
        if (f)
            w->free_slots = f;
        if (v && f)
            w->slots_cap = cap;
    }
    if (!s || (w->nfree == 0 && w->nslots == w->slots_cap) || w->nslots >= (1u << 24)) {
        if (s)
            free(s->http);
        free(s);
        srv->io->close(w->loop.io_state, fd);
        atomic_fetch_sub(&srv->nconns, 1);
        ws__log(&srv->log, WS_LOG_WARN, "dropping connection from %s: out of memory", peer);
        return;
    }
    uint32_t slot;
    if (w->nfree) {
        slot = w->free_slots[--w->nfree];
    } else {
        slot = w->nslots++;
        w->slots[slot].gen = 1;
    }
    w->slots[slot].s = s;
    s->id = WS__ID(w->slots[slot].gen, w->index, slot);
    s->w = w;
    s->fd = fd;
    s->phase = WS__PH_HTTP;
    s->q.cache = &w->chunks;
    memcpy(s->peer, peer, plen + 1);
    ws__buf_init(&s->http->head, srv->cfg.max_header_bytes);
    s->timer.fn = on_timer;
    s->deadline = now_of(s) + srv->cfg.handshake_timeout_ms;
    s->reading = true;
    w->nconns++;
    if (ws__loop_watch(&w->loop, fd, WS_IO_READ, on_io, s) < 0) {
        s->phase = WS__PH_LINGER; /* close_fd below handles the rest */
        s->deadline = now_of(s);
    }
    arm_timer(s);
}

void ws__session_mark_dirty(ws_session *s)
{
    if (s->dirty || s->phase == WS__PH_DEAD)
        return;
    ws__worker *w = s->w;
    if (w->ndirty == w->dirty_cap) {
        ws_session **v = ws__grow_doubling(w->dirty, &w->dirty_cap, sizeof *v, 64);
        if (!v) {
            set_interest(s); /* out of memory: the writable event flushes it */
            return;
        }
        w->dirty = v;
    }
    w->dirty[w->ndirty++] = s;
    s->dirty = true;
}

static void http_done(ws_session *s)
{
    if (s->http) {
        ws__buf_free(&s->http->head);
        free(s->http);
        s->http = NULL;
    }
}

void ws__session_maybe_free(ws_session *s)
{
    if (s->phase != WS__PH_DEAD || s->busy || s->dirty || (s->co && !ws__coro_done(s->co)) ||
        s->w->current == s)
        return;
    ws__worker *w = s->w;
    uint32_t slot = WS__ID_SLOT(s->id);
    w->slots[slot].s = NULL;
    w->slots[slot].gen++;
    if (w->slots[slot].gen == 0)
        w->slots[slot].gen = 1; /* 0 would make a valid-looking id of 0 */
    w->free_slots[w->nfree++] = slot;
    if (s->conn_ready)
        ws__conn_free(&s->conn);
    ws__sendq_clear(&s->q);
    if (w->ndeferred)
        drop_deferred(s);
    http_done(s);
    ws__request_release(s);
    ws__ext_chain_free(s->exts);
    free(s->held);
    if (s->co)
        ws__coro_free(&w->stacks, s->co);
    for (ws__close_cb *c = s->close_cbs, *n; c; c = n) {
        n = c->next;
        free(c);
    }
    free(s->ending);
    free(s);
}

void ws__request_release(ws_session *s)
{
    if (s->req) {
        ws__request_free(s->req);
        free(s->req);
        s->req = NULL;
    }
}

static void close_fd(ws_session *s)
{
    if (s->phase == WS__PH_DEAD)
        return;
    ws__worker *w = s->w;
    ws__loop_unwatch(&w->loop, s->fd);
    s->w->srv->io->close(w->loop.io_state, s->fd);
    ws__timer_cancel(&w->loop.timers, &s->timer);
    s->phase = WS__PH_DEAD;
    w->nconns--;
    atomic_fetch_sub(&s->w->srv->nconns, 1);
    ws__sendq_clear(&s->q);
    if (s->conn_ready && !s->ended)
        ws__session_end(s, WS_CAUSE_IO, WS_CLOSE_ABNORMAL, "connection lost", WS_EIO);
    s->ended = true;
    ws__session_maybe_free(s);
}

static void enter_drain(ws_session *s)
{
    if (s->phase == WS__PH_DEAD || s->phase == WS__PH_DRAIN || s->phase == WS__PH_LINGER)
        return;
    s->phase = WS__PH_DRAIN;
    s->reading = !s->peer_eof; /* read and discard, so the kernel never answers RST */
    free(s->held);
    s->held = NULL;
    s->held_len = 0;
    s->deadline = now_of(s) + cfg_of(s)->close_timeout_ms;
    arm_timer(s);
    ws__session_mark_dirty(s);
    set_interest(s);
}

static void enter_linger(ws_session *s)
{
    s->w->srv->io->shutdown(s->w->loop.io_state, s->fd);
    s->phase = WS__PH_LINGER;
    uint32_t ct = cfg_of(s)->close_timeout_ms;
    s->deadline = now_of(s) + (ct < LINGER_MS ? ct : LINGER_MS);
    arm_timer(s);
    set_interest(s);
}

static void flush_now(ws_session *s)
{
    if (s->phase == WS__PH_DEAD)
        return;
    long r = ws__sendq_flush(&s->q, s->w->srv->io, s->w->loop.io_state, s->fd);
    if (r < 0) {
        close_fd(s);
        return;
    }
    if (s->q.bytes == 0 && s->phase == WS__PH_DRAIN) {
        if (s->peer_eof)
            close_fd(s); /* nothing more will come: no need to linger */
        else
            enter_linger(s);
        return;
    }
    if (s->conn_ready && s->conn.pong_pending && s->q.bytes <= cfg_of(s)->send_high_water)
        ws__conn_flush_pong(&s->conn); /* queued now, written on the next flush */
    set_interest(s);
    if (s->above_hw && s->q.bytes <= cfg_of(s)->send_high_water) {
        s->above_hw = false;
        if (s->route && s->route->kind == WS__ROUTE_EVENTS)
            ws__events_drained(s);
        else if (s->co)
            ws__seq_drained(s);
    }
}

void ws__worker_flush(ws__loop *l, void *ud)
{
    ws__worker *w = ud;
    (void)l;
    ws__group_batch_flush(w);
    while (w->ndirty) {
        ws_session *s = w->dirty[--w->ndirty];
        s->dirty = false;
        s->busy++;
        if (s->q.bytes || s->phase == WS__PH_DRAIN)
            flush_now(s);
        s->busy--;
        ws__session_maybe_free(s);
    }
}

/* --- ending ------------------------------------------------------------ */

static ws__ending *ending_of(ws_session *s)
{
    if (!s->ending)
        s->ending = calloc(1, sizeof *s->ending);
    return s->ending;
}

/* What a session that could not allocate its close texts reports: the
 * facts are lost, but there still is exactly one reason, and it says why. */
static const ws_close_reason no_memory_reason = {
    WS_CLOSE_INTERNAL_ERROR, WS_CAUSE_IO, WS_ENOMEM, "out of memory"};

const ws_close_reason *ws__session_reason(const ws_session *s)
{
    return s->ending ? &s->ending->reason : &no_memory_reason;
}

void ws__session_end(ws_session *s, ws_close_cause cause, uint16_t code, const char *reason,
                     int err)
{
    if (s->ended)
        return;
    s->ended = true;
    ws__ending *e = ending_of(s);
    if (e) {
        /* reason may be e->local_reason or e->peer_reason: other arrays */
        e->reason.code = code;
        e->reason.cause = cause;
        e->reason.err = err;
        snprintf(e->reason.reason, sizeof e->reason.reason, "%s", reason ? reason : "");
    }
    const ws_close_reason *r = ws__session_reason(s);
    ws__log(&s->w->srv->log, WS_LOG_DEBUG, "%s: session ended: %u (%s) %s", s->peer, r->code,
            ws_close_cause_name(r->cause), r->reason);
    if (s->conn_ready)
        atomic_fetch_sub(&s->w->srv->nsessions, 1);
    ws__group_leave_all(s);
    s->busy++;
    if (s->route && s->route->kind == WS__ROUTE_EVENTS)
        ws__events_end(s);
    for (ws__close_cb *c = s->close_cbs; c; c = c->next)
        c->fn(s, ws__session_reason(s), c->ud);
    if (s->co)
        ws__seq_wake(s);
    s->busy--;
}

static int cause_err(ws_close_cause cause)
{
    switch (cause) {
    case WS_CAUSE_TIMEOUT: return WS_ETIMEDOUT;
    case WS_CAUSE_OVERLOAD: return WS_EFULL;
    default: return 0;
    }
}

void ws__session_close(ws_session *s, uint16_t code, const char *reason, ws_close_cause cause)
{
    if (!s->conn_ready || s->phase != WS__PH_OPEN)
        return;
    if (s->conn.state == WS__CONN_OPEN) {
        size_t rl = reason ? strlen(reason) : 0;
        ws__conn_close(&s->conn, code, reason, rl);
        s->local_code = code;
        ws__ending *e = ending_of(s);
        if (e)
            snprintf(e->local_reason, sizeof e->local_reason, "%s", reason ? reason : "");
        s->local_cause = cause;
        s->deadline = now_of(s) + cfg_of(s)->close_timeout_ms;
        arm_timer(s);
        ws__session_mark_dirty(s);
    }
    /* Only a close the application asked for waits for the peer's answer
     * before ending; the others end the session now. */
    if (cause != WS_CAUSE_LOCAL)
        ws__session_end(s, cause, code, reason, cause_err(cause));
}

int ws__session_after_send(ws_session *s, int rc)
{
    if (rc < 0)
        return rc;
    if (s->overloaded) {
        ws__session_close(s, WS_CLOSE_POLICY_VIOLATION, "send queue over its limit",
                          WS_CAUSE_OVERLOAD);
        return WS_EFULL;
    }
    if (s->q.bytes > cfg_of(s)->send_high_water) {
        s->above_hw = true;
        if (s->co && s->w->current == s && !ws__coro_done(s->co)) {
            s->wait = WS__WAIT_DRAIN;
            while (s->wait == WS__WAIT_DRAIN)
                ws__coro_yield(s->co);
            if (s->ended)
                return WS_ECLOSED;
        }
    }
    return 0;
}

/* --- input ------------------------------------------------------------- */

static void after_feed(ws_session *s, long n, uint8_t *data, size_t len);

/* Keeps unconsumed input (and, for a paused sequential handler, the buffer
 * its current message points into) until the handler is ready again. The
 * loop's receive buffer is handed over rather than copied. */
static void hold(ws_session *s, uint8_t *p, size_t n)
{
    ws__loop *l = &s->w->loop;
    if (!p) {
        /* Input read straight into the engine's buffer: nothing to keep. */
    } else if (s->held && p >= s->held) {
        s->held_off = (uint32_t)(p - s->held);
        s->held_len = (uint32_t)n;
    } else {
        uint8_t *fresh = malloc(WS__LOOP_RBUF + 1);
        if (!fresh) {
            ws__session_close(s, WS_CLOSE_INTERNAL_ERROR, "out of memory", WS_CAUSE_IO);
            return;
        }
        s->held = l->rbuf;
        s->held_off = (uint32_t)(p - l->rbuf);
        s->held_len = (uint32_t)n;
        l->rbuf = fresh;
    }
    s->reading = false;
    set_interest(s);
}

static void restore_nul(ws_session *s)
{
    if (s->nul_at) {
        *s->nul_at = s->nul_saved;
        s->nul_at = NULL;
    }
}

bool ws__session_input_paused(const ws_session *s)
{
    /* hold() stops reading; with input read straight into the engine's
     * buffer there is nothing held, only the stop. */
    return s->held || (s->phase == WS__PH_OPEN && !s->reading && !s->peer_eof);
}

void ws__session_resume_input(ws_session *s)
{
    if (s->phase != WS__PH_OPEN || s->feeding)
        return;
    restore_nul(s);
    if (s->held) {
        uint8_t *buf = s->held;
        size_t off = s->held_off, len = s->held_len;
        s->held_len = 0;
        ws_input(s, buf + off, len);
        if (s->held != buf || s->held_len || !handler_ready(s))
            return; /* paused again (hold() turned reading off), or moved on */
        free(buf);
        s->held = NULL;
    }
    if (s->phase == WS__PH_OPEN) {
        s->reading = true;
        set_interest(s);
    }
}

static bool handler_ready(const ws_session *s)
{
    return s->route->kind == WS__ROUTE_EVENTS || ws__seq_ready(s);
}

static void ws_input(ws_session *s, uint8_t *data, size_t len)
{
    if (!handler_ready(s)) {
        hold(s, data, len);
        return;
    }
    s->feeding = true;
    long n = ws__conn_feed(&s->conn, data, len);
    s->feeding = false;
    after_feed(s, n, data, len);
}

static void after_feed(ws_session *s, long n, uint8_t *data, size_t len)
{
    if (n < 0) {
        ws__session_end(s, WS_CAUSE_PROTOCOL, s->conn.fail_code, ws_strerror((int)n), (int)n);
        enter_drain(s);
        return;
    }
    if (s->conn.state == WS__CONN_CLOSED) {
        if (!s->ended && s->conn.peer_closed_first)
            ws__session_end(s, WS_CAUSE_PEER, s->conn.recv_code,
                            s->ending ? s->ending->peer_reason : NULL, 0);
        else if (!s->ended)
            ws__session_end(s, s->local_cause, s->local_code,
                            s->ending ? s->ending->local_reason : NULL,
                            cause_err(s->local_cause));
        enter_drain(s);
        return;
    }
    if (s->overloaded)
        ws__session_after_send(s, 0);
    /* A handler that is not back in ws_recv may still point into this input. */
    if (s->phase == WS__PH_OPEN && ((size_t)n < len || !handler_ready(s)))
        hold(s, data ? data + n : NULL, len - (size_t)n);
}

/* --- conn callbacks ------------------------------------------------------ */

static int cb_message(void *ud, uint8_t op, bool fin, uint8_t *data, size_t len)
{
    ws_session *s = ud;
    const uint8_t *decoded = ws__conn_decoded_data(&s->conn);
    bool buffered = (s->conn.msg.data && data == s->conn.msg.data) ||
                    (decoded && data == decoded);
    if (!buffered) {
        /* Zero-copy message: every input buffer has a spare byte past its
         * data, so the NUL can be written and the byte restored later. */
        s->nul_at = data + len;
        s->nul_saved = *s->nul_at;
        *s->nul_at = 0;
    }
    ws_msg m = {(ws_msg_type)op, data, len, fin};
    int pause = 0;
    if (s->route->kind == WS__ROUTE_EVENTS)
        ws__events_message(s, &m);
    else
        pause = ws__seq_deliver(s, &m);
    if (!pause)
        restore_nul(s);
    return pause;
}

static void cb_peer_close(void *ud, uint16_t code, const uint8_t *reason, size_t len)
{
    ws_session *s = ud;
    (void)code;
    ws__ending *e = ending_of(s);
    if (!e)
        return; /* the session then ends with the out-of-memory reason */
    size_t n = len < sizeof e->peer_reason - 1 ? len : sizeof e->peer_reason - 1;
    memcpy(e->peer_reason, reason, n);
    e->peer_reason[n] = '\0';
}

static int cb_congested(void *ud)
{
    ws_session *s = ud;
    return s->q.bytes > cfg_of(s)->send_high_water;
}

/* Frames at least this big go straight to the socket when nothing is
 * queued: the copy into the queue would cost more than the syscall batching
 * saves. Smaller frames are queued and flushed together before the poll. */
#define WRITE_THROUGH 16384

/* --- output held behind an unfinished fragmented message ----------------- */

static ws__deferred *deferred_find(const ws_session *s)
{
    ws__worker *w = s->w;
    for (size_t i = 0; i < w->ndeferred; i++)
        if (w->deferred[i].s == s)
            return &w->deferred[i];
    return NULL;
}

ws__sendq *ws__session_out_queue(ws_session *s)
{
    if (!s->out_frag_open)
        return &s->q;
    ws__deferred *d = deferred_find(s);
    if (d)
        return &d->q;
    ws__worker *w = s->w;
    if (w->ndeferred == w->deferred_cap) {
        ws__deferred *v = ws__grow_doubling(w->deferred, &w->deferred_cap, sizeof *v, 4);
        if (!v)
            return NULL;
        w->deferred = v;
    }
    d = &w->deferred[w->ndeferred++];
    d->s = s;
    d->q = (ws__sendq){.cache = s->q.cache};
    return &d->q;
}

static void deferred_remove(ws__worker *w, ws__deferred *d)
{
    *d = w->deferred[--w->ndeferred];
}

void ws__session_undefer(ws_session *s)
{
    ws__deferred *d = deferred_find(s);
    if (!d)
        return;
    ws__sendq_splice(&s->q, &d->q);
    deferred_remove(s->w, d);
    ws__session_queued(s);
}

static void drop_deferred(ws_session *s)
{
    ws__deferred *d = deferred_find(s);
    if (d) {
        ws__sendq_clear(&d->q);
        deferred_remove(s->w, d);
    }
}

static int cb_write(void *ud, const uint8_t *h, size_t hl, const uint8_t *p, size_t pl)
{
    ws_session *s = ud;
    ws__session_before_output(s);
    if (s->out_frag_open && !WS__IS_CONTROL(h[0] & 0x0F)) {
        /* Another message while the session's own fragmented one is open
         * (a broadcast, a send by id): it waits for that message's end. */
        ws__sendq *q = ws__session_out_queue(s);
        int rc = q ? ws__sendq_append(q, h, hl, p, pl) : WS_ENOMEM;
        if (rc == 0)
            ws__session_queued(s);
        return rc;
    }
    if (pl >= WRITE_THROUGH && s->q.bytes == 0 && s->phase == WS__PH_OPEN) {
        struct iovec iov[2] = {{(void *)h, hl}, {(void *)p, pl}};
        long w = s->w->srv->io->writev(s->w->loop.io_state, s->fd, iov, 2);
        if (w == (long)(hl + pl))
            return 0;
        if (w > 0) { /* queue only what the kernel did not take */
            size_t skip = (size_t)w;
            size_t hs = skip < hl ? skip : hl;
            h += hs;
            hl -= hs;
            skip -= hs;
            p += skip;
            pl -= skip;
        }
        /* Errors surface at the next flush, in one place. */
    }
    int rc = ws__sendq_append(&s->q, h, hl, p, pl);
    if (rc < 0)
        return rc;
    ws__session_queued(s);
    return 0;
}

void ws__session_queued(ws_session *s)
{
    size_t bytes = s->q.bytes;
    if (s->out_frag_open && s->w->ndeferred) {
        const ws__deferred *d = deferred_find(s);
        bytes += d ? d->q.bytes : 0;
    }
    if (bytes > cfg_of(s)->send_hard_limit)
        s->overloaded = true;
    ws__session_mark_dirty(s);
}

/* --- HTTP phase ---------------------------------------------------------- */

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
    ws__sendq_append(&s->q, hdr, (size_t)n, head_only ? NULL : body, head_only ? 0 : len);
    enter_drain(s);
}

void ws__session_http_error(ws_session *s, int status)
{
    char buf[512];
    int n = ws__http_error_response(buf, sizeof buf, status);
    if (n > 0)
        ws__sendq_append(&s->q, buf, (size_t)n, NULL, 0);
    ws__log(&s->w->srv->log, WS_LOG_DEBUG, "%s: HTTP %d", s->peer, status);
    enter_drain(s);
}

/* Route-only extensions first, then the server's, unless the route opted
 * out. Returns 0 or an HTTP status. */
static int negotiate_extensions(ws_session *s, const ws__http_request *req, char *hdr, size_t cap)
{
    const ws__route *r = s->route;
    const ws_extension *avail[8];
    size_t n = 0;
    hdr[0] = '\0';
    if (r->no_exts)
        return 0;
    for (size_t i = 0; i < r->nexts; i++)
        avail[n++] = r->exts[i];
    for (size_t i = 0; i < s->w->srv->nexts; i++)
        avail[n++] = &s->w->srv->exts[i];
    int rc = ws__ext_negotiate(avail, n, req, hdr, cap, &s->exts);
    return rc == WS_ENOMEM ? 503 : rc;
}

static int upgrade(ws_session *s, const ws__http_request *req)
{
    const ws__route *r = s->route;
    int st = ws__handshake_check(req);
    if (st == 0 && r->hook) {
        st = r->hook(s->req, r->hook_app);
        if (st && (st < 400 || st > 599))
            st = 500;
    }
    if (st)
        return st;
    int pi = ws__handshake_pick_protocol(req, r->protocols, r->nprotocols);
    if (pi >= 0)
        s->proto = (uint8_t)(pi + 1); /* ws_route_protocols allows at most 255 */
    char exts[512];
    st = negotiate_extensions(s, req, exts, sizeof exts);
    if (st)
        return st;
    char resp[1024];
    int n = ws__handshake_response(resp, sizeof resp, req, pi >= 0 ? r->protocols[pi] : NULL,
                                   exts[0] ? exts : NULL);
    if (n < 0 || ws__sendq_append(&s->q, resp, (size_t)n, NULL, 0) < 0)
        return 503;
    const ws_config *c = cfg_of(s);
    static const ws__conn_cb cb = {cb_message, NULL, cb_peer_close, cb_write, cb_congested};
    ws__conn_init(&s->conn, &s->w->srv->conn_cfg, &cb, s);
    if (s->exts)
        ws__ext_chain_attach(s->exts, &s->conn);
    s->conn_ready = true;
    s->phase = WS__PH_OPEN;
    s->last_rx = now_of(s);
    s->next_ping = s->last_rx + c->ping_period_ms;
    s->deadline = 0;
    atomic_fetch_add(&s->w->srv->nsessions, 1);
    arm_timer(s);
    ws__session_mark_dirty(s);
    return 0;
}

static void route_request(ws_session *s, ws__http_request *req, size_t head_end, uint8_t *rest,
                          size_t rest_len)
{
    const ws__route *r = ws__router_match(&s->w->srv->routes, req->path.p, req->path.n);
    if (!r) {
        ws__session_http_error(s, 404);
        return;
    }
    s->route = r;
    if (!(s->req = malloc(sizeof *s->req)) ||
        ws__request_init(s->req, req, (const char *)s->http->head.data, head_end, s->peer) < 0) {
        free(s->req);
        s->req = NULL;
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
    int st = upgrade(s, req);
    if (st) {
        ws__session_http_error(s, st);
        return;
    }
    /* Bytes that followed the head (a client may send frames at once). */
    size_t extra = s->http->head.len - head_end;
    if (extra + rest_len) {
        s->held = malloc(extra + rest_len + 1);
        if (!s->held) {
            ws__session_close(s, WS_CLOSE_INTERNAL_ERROR, "out of memory", WS_CAUSE_IO);
            return;
        }
        memcpy(s->held, s->http->head.data + head_end, extra);
        memcpy(s->held + extra, rest, rest_len);
        s->held_off = 0;
        s->held_len = (uint32_t)(extra + rest_len);
    }
    http_done(s);
    if (r->kind == WS__ROUTE_EVENTS) {
        ws__events_open(s);
        if (!r->keep_request)
            ws__request_release(s); /* idle memory: most callback routes never look again */
    } else if (ws__seq_start(s) < 0)
        ws__session_close(s, WS_CLOSE_TRY_AGAIN_LATER, "out of memory", WS_CAUSE_IO);
    ws__session_resume_input(s);
}

static void http_input(ws_session *s, uint8_t *data, size_t len)
{
    const ws_config *c = cfg_of(s);
    size_t room = c->max_header_bytes - s->http->head.len;
    size_t take = len < room ? len : room;
    if (ws__buf_append(&s->http->head, data, take) < 0) {
        ws__session_http_error(s, 503);
        return;
    }
    ws__http_request req;
    ws__http_limits lim = {c->max_header_bytes, c->max_headers, c->max_uri};
    int r = ws__http_parse((const char *)s->http->head.data, s->http->head.len, &s->http->scanned, &lim, &req);
    if (r == 0 && s->http->head.len >= c->max_header_bytes)
        r = -431;
    if (r < 0)
        ws__session_http_error(s, -r);
    else if (r > 0)
        route_request(s, &req, (size_t)r, data + take, len - take);
}

static void input(ws_session *s, uint8_t *data, size_t len)
{
    if (s->phase == WS__PH_HTTP)
        http_input(s, data, len);
    else if (s->phase == WS__PH_OPEN)
        ws_input(s, data, len);
    /* DRAIN and LINGER: read and dropped. */
}

/* The peer half-closed: it will send nothing more but may still read, so
 * what is queued for it is delivered before the connection is closed. */
static void peer_eof(ws_session *s)
{
    s->peer_eof = true;
    s->reading = false;
    if (s->phase == WS__PH_OPEN) {
        if (!s->ended)
            ws__session_end(s, WS_CAUSE_IO, WS_CLOSE_ABNORMAL, "connection closed by peer", WS_EIO);
        enter_drain(s);
    }
    if (s->q.bytes == 0)
        close_fd(s);
    else
        set_interest(s);
}

/* The rest of a large frame already being gathered is read straight into
 * the engine's reassembly buffer instead of through the loop's. */
static size_t direct_space(ws_session *s, uint8_t **dst)
{
    if (s->phase != WS__PH_OPEN || s->held || !handler_ready(s))
        return 0;
    return ws__conn_gather_space(&s->conn, dst);
}

static void direct_input(ws_session *s, uint8_t *dst, size_t len)
{
    s->feeding = true;
    long n = ws__conn_feed(&s->conn, dst, len);
    s->feeding = false;
    after_feed(s, n, NULL, len);
}

static void do_read(ws_session *s)
{
    ws__loop *l = &s->w->loop;
    /* A bounded number of reads per wake-up keeps one busy client from
     * starving the others (the poller is level-triggered). */
    for (int i = 0; i < 8 && s->reading && s->phase != WS__PH_DEAD; i++) {
        uint8_t *dst = NULL;
        size_t want = direct_space(s, &dst);
        if (!want) {
            dst = l->rbuf;
            want = WS__LOOP_RBUF;
        }
        long n = s->w->srv->io->read(l->io_state, s->fd, dst, want);
        if (n == WS_EAGAIN)
            return;
        if (n == 0 && s->phase != WS__PH_HTTP && s->phase != WS__PH_LINGER) {
            peer_eof(s);
            return;
        }
        if (n <= 0) {
            close_fd(s);
            return;
        }
        s->last_rx = l->now;
        if (dst == l->rbuf)
            input(s, l->rbuf, (size_t)n);
        else
            direct_input(s, dst, (size_t)n);
        if ((size_t)n < want)
            return;
    }
}

static void on_io(ws__loop *l, int fd, unsigned events, void *ud)
{
    ws_session *s = ud;
    (void)l;
    (void)fd;
    s->busy++;
    if (events & WS_IO_WRITE)
        flush_now(s);
    if ((events & WS_IO_READ) && s->phase != WS__PH_DEAD)
        do_read(s);
    s->busy--;
    ws__session_maybe_free(s);
}

static void on_timer(ws__timer *t)
{
    ws_session *s = WS__OWNER_OF(t, ws_session, timer);
    const ws_config *c = cfg_of(s);
    uint64_t now = now_of(s);
    s->busy++;
    switch (s->phase) {
    case WS__PH_HTTP:
        ws__session_http_error(s, 408);
        break;
    case WS__PH_OPEN:
        if (s->deadline && now >= s->deadline) {
            if (!s->ended)
                ws__session_end(s, s->local_cause, s->local_code,
                                s->ending ? s->ending->local_reason : NULL, WS_ETIMEDOUT);
            close_fd(s);
        } else if (c->timeout_ms != WS_DISABLED && now - s->last_rx >= c->timeout_ms) {
            ws__session_close(s, WS_CLOSE_GOING_AWAY, "idle timeout", WS_CAUSE_TIMEOUT);
        } else if (c->ping_period_ms != WS_DISABLED && now >= s->next_ping) {
            if (ws__conn_ping(&s->conn, NULL, 0) == 0)
                ws__session_mark_dirty(s);
            s->next_ping = now + c->ping_period_ms;
        }
        arm_timer(s);
        break;
    default:
        close_fd(s);
        break;
    }
    s->busy--;
    ws__session_maybe_free(s);
}

void ws__worker_close_all(ws__worker *w)
{
    for (uint32_t i = 0; i < w->nslots; i++)
        if (w->slots[i].s)
            close_fd(w->slots[i].s);
}

void ws__worker_begin_stop(ws__worker *w)
{
    w->stopping = true;
    for (uint32_t i = 0; i < w->nslots; i++) {
        ws_session *s = w->slots[i].s;
        if (!s)
            continue;
        if (s->phase == WS__PH_OPEN)
            ws__session_close(s, WS_CLOSE_GOING_AWAY, "server shutting down", WS_CAUSE_SHUTDOWN);
        else if (s->phase == WS__PH_HTTP)
            close_fd(s);
    }
}
