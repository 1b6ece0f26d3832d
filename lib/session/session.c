/* SPDX-License-Identifier: MIT */
/* The session's life: creation, phases, the one timer, ending and freeing.
 * Every path that ends a connection goes through close_fd(), and every
 * path that ends a WebSocket session through ws__session_end(), so
 * "exactly once" holds by construction. A session is freed only when its
 * fd is closed, its handler has returned, and no loop callback is running
 * for it (`busy`). */
#include "session/session.h"
#include "tls/tls.h"
#include "util/array.h"
#include "util/strbuf.h"
#include "wschat/error.h"

#include <stdlib.h>
#include <string.h>

#define LINGER_MS 2000

static void on_timer(ws__timer *t);

/* Idle memory per connection is mostly this struct: with an IPv4 "ip:port"
 * (16 bytes) a session is one 176-byte malloc chunk, and every byte over
 * this costs 16 per connection. A field added here must pay for itself. */
_Static_assert(sizeof(void *) != 8 || sizeof(struct ws_session) <= 152,
               "struct ws_session grew: see docs/performance.md, idle memory");

void ws__session_watch(ws_session *s)
{
    if (s->phase == WS__PH_DEAD || s->fd < 0)
        return;
    /* A dirty session's output is written by the flush before the next
     * poll, which then asks for writability only if some is left: asking
     * now would cost two epoll_ctl calls for nothing. */
    bool out = (s->q.bytes && !s->dirty) || !ws__session_tls_idle(s);
    unsigned ev = s->phase == WS__PH_CONNECT
                      ? WS_IO_WRITE
                      : (s->reading ? WS_IO_READ : 0) | (out ? WS_IO_WRITE : 0);
    /* Every byte of a session goes through the backend's read and writev. */
    ws__loop_watch(&s->w->loop, s->fd, ev | WS_IO_OWNED, ws__session_on_io, s);
}

/* A session keeps its times as the low 32 bits of the loop's millisecond
 * clock (idle memory: 12 bytes fewer per connection). Every one of them is
 * within WS__SPAN_MAX of now, the past (last_rx) or the future (deadlines,
 * the next ping), so the full time is now plus the signed difference. */
static uint64_t full_time(const ws_session *s, uint32_t t)
{
    uint64_t now = ws__session_now(s);
    return now + (uint64_t)(int64_t)(int32_t)(t - (uint32_t)now);
}

static uint32_t span(uint32_t ms) { return ms < WS__SPAN_MAX ? ms : WS__SPAN_MAX; }

static void arm_timer(ws_session *s)
{
    uint64_t due = UINT64_MAX;
    uint64_t deadline = s->has_deadline ? full_time(s, s->deadline) : UINT64_MAX;
    if (s->phase == WS__PH_OPEN && s->conn.state != WS__CONN_OPEN) {
        due = deadline; /* closing: only the close-handshake deadline counts */
    } else if (s->phase == WS__PH_OPEN) {
        if (s->h->timeout_ms != WS_DISABLED)
            due = full_time(s, s->last_rx) + span(s->h->timeout_ms);
        if (s->h->ping_period_ms != WS_DISABLED && full_time(s, s->next_ping) < due)
            due = full_time(s, s->next_ping);
        if (deadline < due)
            due = deadline;
    } else if (s->phase != WS__PH_DEAD) {
        due = deadline;
    }
    if (due == UINT64_MAX)
        ws__timer_cancel(&s->w->loop.timers, &s->timer);
    else
        ws__timer_set(&s->w->loop.timers, &s->timer, due);
}

void ws__session_deadline_in(ws_session *s, uint32_t ms)
{
    s->deadline = (uint32_t)(ws__session_now(s) + span(ms));
    s->has_deadline = true;
    arm_timer(s);
}

/* Takes a free slot of w's session table (growing it). -1 on ENOMEM. */
static long take_slot(ws__worker *w)
{
    if (w->nfree)
        return w->free_slots[--w->nfree];
    if (w->nslots == w->slots_cap) {
        uint32_t cap = w->slots_cap ? w->slots_cap * 2 : 64;
        ws__slot *v = realloc(w->slots, cap * sizeof *v);
        uint32_t *f = realloc(w->free_slots, cap * sizeof *f);
        if (v)
            w->slots = v;
        if (f)
            w->free_slots = f;
        if (!v || !f)
            return -1;
        w->slots_cap = cap;
    }
    if (w->nslots >= (1u << 24))
        return -1;
    w->slots[w->nslots].v = 1u << 1 | 1; /* free, generation 1 */
    return w->nslots++;
}

ws_session *ws__session_new(ws__worker *w, const ws__role *role, ws__phase phase, int fd,
                            const char *peer, size_t peer_cap)
{
    size_t plen = strlen(peer);
    if (peer_cap < plen + 1)
        peer_cap = plen + 1;
    ws_session *s = calloc(1, sizeof *s + peer_cap);
    /* The handshake always has state of the role's, kept in s->x. */
    if (s && !(s->x = calloc(1, sizeof *s->x))) {
        free(s);
        s = NULL;
    }
    long slot = s ? take_slot(w) : -1;
    if (slot < 0) {
        if (s)
            free(s->x);
        free(s);
        return NULL;
    }
    uint32_t gen = (uint32_t)(w->slots[slot].v >> 1);
    w->slots[slot].v = (uintptr_t)s;
    s->id = WS__ID(gen, w->index, (uint32_t)slot);
    s->w = w;
    s->role = (uint8_t)role->conn_role;
    atomic_store_explicit(&w->host->roles[s->role], role, memory_order_relaxed);
    s->fd = fd;
    s->phase = (uint8_t)phase;
    memcpy(s->peer, peer, plen + 1);
    s->timer.fn = on_timer;
    s->reading = phase == WS__PH_HANDSHAKE;
    w->nconns++;
    if (fd >= 0) {
        ws__session_watch(s);
    }
    return s;
}

int ws__session_set_fd(ws_session *s, int fd)
{
    s->fd = fd;
    ws__session_watch(s);
    return 0;
}

void ws__session_mark_dirty(ws_session *s)
{
    if (s->dirty || s->phase == WS__PH_DEAD)
        return;
    ws__worker *w = s->w;
    if (w->ndirty == w->dirty_cap) {
        ws_session **v = ws__grow_doubling(w->dirty, &w->dirty_cap, sizeof *v, 64);
        if (!v) {
            ws__session_watch(s); /* out of memory: the writable event flushes it */
            return;
        }
        w->dirty = v;
    }
    w->dirty[w->ndirty++] = s;
    s->dirty = true;
}

void ws__session_maybe_free(ws_session *s)
{
    if (s->phase != WS__PH_DEAD || s->busy || s->dirty || ws__s_live_co(s) || s->w->current == s)
        return;
    ws__worker *w = s->w;
    uint32_t slot = WS__ID_SLOT(s->id);
    /* 0 would make a valid-looking id of 0; and the generation must fit
     * in a word shifted by one (31 bits on 32-bit targets). */
    uint32_t gen = WS__ID_GEN(s->id) + 1;
    if ((uint32_t)((uintptr_t)gen << 1 >> 1) != gen || gen == 0)
        gen = 1;
    w->slots[slot].v = (uintptr_t)gen << 1 | 1;
    w->free_slots[w->nfree++] = slot;
    if (s->conn_ready)
        ws__conn_free(&s->conn);
    ws__sendq_clear(&s->q, &w->chunks);
    if (w->ndeferred)
        ws__session_drop_deferred(s);
    ws__request_release(s);
    const ws__role *role = ws__session_role(s);
    if (role->destroy)
        role->destroy(s);
    ws__sess_more *x = s->x;
    if (x) {
        ws__ext_chain_free(x->exts);
        free(x->held);
        if (x->co)
            ws__coro_free(&w->stacks, x->co);
        for (ws__close_cb *c = x->close_cbs, *n; c; c = n) {
            n = c->next;
            free(c);
        }
        ws__tls_free(x->tls);
        free(x->ending);
        free(x);
    }
    free(s);
}

ws__sess_more *ws__session_more(ws_session *s)
{
    if (!s->x)
        s->x = calloc(1, sizeof *s->x);
    return s->x;
}

void ws__session_trim(ws_session *s)
{
    ws__sess_more *x = s->x;
    if (x && !x->hs && !x->req && !x->exts && !x->tls && !x->co && !x->close_cbs && !x->ending &&
        !x->held && !x->nul_at) {
        free(x);
        s->x = NULL;
    }
}

void ws__request_release(ws_session *s)
{
    ws_request *req = ws__s_req(s);
    if (req) {
        ws__request_free(req);
        free(req);
        s->x->req = NULL;
        ws__session_trim(s);
    }
}

static void close_fd(ws_session *s, int err)
{
    if (s->phase == WS__PH_DEAD)
        return;
    ws__worker *w = s->w;
    const ws_io_backend *io = w->host->io;
    /* The role hears of an unreported end before the phase is gone. */
    if (!s->conn_ready && !s->ended && ws__session_role(s)->lost) {
        s->busy++;
        ws__session_role(s)->lost(s, err);
        s->busy--;
    }
    if (s->fd >= 0) {
        ws__loop_unwatch(&w->loop, s->fd);
        io->close(w->loop.io_state, s->fd);
    }
    ws__timer_cancel(&w->loop.timers, &s->timer);
    s->phase = WS__PH_DEAD;
    w->nconns--;
    atomic_fetch_sub(&w->host->nconns, 1);
    ws__sendq_clear(&s->q, &s->w->chunks);
    if (s->conn_ready && !s->ended)
        ws__session_end(s, WS_CAUSE_IO, WS_CLOSE_ABNORMAL, "connection lost", err ? err : WS_EIO);
    s->ended = true;
    ws__session_maybe_free(s);
}

void ws__session_abort(ws_session *s, int err) { close_fd(s, err); }

void ws__session_drain(ws_session *s)
{
    if (s->phase == WS__PH_DEAD || s->phase == WS__PH_DRAIN || s->phase == WS__PH_LINGER)
        return;
    s->phase = WS__PH_DRAIN;
    s->reading = !s->peer_eof; /* read and discard, so the kernel never answers RST */
    if (ws__s_held(s)) {
        free(s->x->held);
        s->x->held = NULL;
        s->x->held_len = 0;
    }
    ws__session_deadline_in(s, ws__session_cfg(s)->close_timeout_ms);
    ws__session_mark_dirty(s);
    if (!s->dirty) /* else the flush before the next poll sets the interest */
        ws__session_watch(s);
}

static void enter_linger(ws_session *s)
{
    s->w->host->io->shutdown(s->w->loop.io_state, s->fd);
    s->phase = WS__PH_LINGER;
    uint32_t ct = ws__session_cfg(s)->close_timeout_ms;
    ws__session_deadline_in(s, ct < LINGER_MS ? ct : LINGER_MS);
    ws__session_watch(s);
}

void ws__session_flush_now(ws_session *s)
{
    if (s->phase == WS__PH_DEAD || s->phase == WS__PH_CONNECT)
        return;
    long r = ws__s_tls(s) ? ws__session_tls_flush(s)
                          : ws__sendq_flush(&s->q, &s->w->chunks, s->w->host->io,
                                            s->w->loop.io_state, s->fd);
    if (r < 0) {
        close_fd(s, (int)r);
        return;
    }
    size_t hw = ws__session_cfg(s)->send_high_water;
    if (s->q.bytes == 0 && s->phase == WS__PH_DRAIN && ws__s_tls(s) && ws__session_tls_idle(s)) {
        /* The last bytes are out: close_notify goes after them (once). */
        ws__tls_close_notify(s->x->tls);
        if ((r = ws__session_tls_flush(s)) < 0) {
            close_fd(s, (int)r);
            return;
        }
    }
    if (s->q.bytes == 0 && s->phase == WS__PH_DRAIN && ws__session_tls_idle(s)) {
        if (s->peer_eof)
            close_fd(s, WS_EIO); /* nothing more will come: no need to linger */
        else
            enter_linger(s);
        return;
    }
    if (s->conn_ready && s->conn.pong_pending && s->q.bytes <= hw)
        ws__conn_flush_pong(&s->conn); /* queued now, written on the next flush */
    ws__session_watch(s);
    if (s->above_hw && s->q.bytes <= hw) {
        s->above_hw = false;
        if (s->h->kind == WS__H_EVENTS)
            ws__events_drained(s);
        else if (ws__s_co(s))
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
        if (s->tls_kick) {
            s->tls_kick = false;
            ws__session_read_now(s);
        }
        if (s->q.bytes || s->phase == WS__PH_DRAIN || !ws__session_tls_idle(s))
            ws__session_flush_now(s);
        s->busy--;
        ws__session_maybe_free(s);
    }
}

int ws__session_queue_raw(ws_session *s, const void *a, size_t alen, const void *b, size_t blen)
{
    int rc = ws__sendq_append(&s->q, &s->w->chunks, a, alen, b, blen);
    if (rc == 0)
        ws__session_mark_dirty(s);
    return rc;
}

int ws__session_open(ws_session *s, ws__ext_chain *exts, const uint8_t *extra, size_t n)
{
    ws__host *host = s->w->host;
    ws__conn_init(&s->conn, &host->conn_cfg[s->role]);
    bool attached = true;
    if (exts) {
        ws__sess_more *x = ws__session_more(s); /* the handshake's: there */
        if (x)
            x->exts = exts;
        else
            ws__ext_chain_free(exts);
        attached = x && ws__ext_chain_attach(exts, &s->conn) == 0;
    }
    s->conn_ready = true;
    s->phase = WS__PH_OPEN;
    s->reading = true;
    s->last_rx = (uint32_t)ws__session_now(s);
    s->next_ping = s->last_rx + span(s->h->ping_period_ms);
    s->has_deadline = false;
    atomic_fetch_add(&host->nsessions, 1);
    arm_timer(s);
    ws__session_mark_dirty(s);
    ws__session_watch(s);
    /* Bytes that followed the head (a peer may send frames at once). */
    if (!attached || (n && ws__session_hold_copy(s, extra, n, NULL, 0) < 0)) {
        ws__session_close(s, WS_CLOSE_INTERNAL_ERROR, "out of memory", WS_CAUSE_IO);
        return WS_ENOMEM;
    }
    if (s->h->kind == WS__H_EVENTS) {
        ws__events_open(s);
        if (!s->h->keep_request)
            ws__request_release(s); /* idle memory: most callback routes never look again */
    } else if (ws__seq_start(s) < 0) {
        ws__session_close(s, WS_CLOSE_TRY_AGAIN_LATER, "out of memory", WS_CAUSE_IO);
        return WS_ENOMEM;
    }
    ws__session_resume_input(s);
    return 0;
}

/* --- ending ------------------------------------------------------------ */

ws__ending *ws__session_ending(ws_session *s)
{
    ws__sess_more *x = ws__session_more(s);
    if (x && !x->ending)
        x->ending = calloc(1, sizeof *x->ending);
    return x ? x->ending : NULL;
}

/* What a session that could not allocate its close texts reports: the
 * facts are lost, but there still is exactly one reason, and it says why. */
static const ws_close_reason no_memory_reason = {WS_CLOSE_INTERNAL_ERROR, 0, WS_CAUSE_IO, WS_ENOMEM,
                                                 "out of memory"};

const ws_close_reason *ws__session_reason(const ws_session *s)
{
    const ws__ending *e = ws__s_ending(s);
    return e ? &e->reason : &no_memory_reason;
}

void ws__session_end(ws_session *s, ws_close_cause cause, uint16_t code, const char *reason,
                     int err)
{
    if (s->ended)
        return;
    s->ended = true;
    ws__ending *e = ws__session_ending(s);
    if (e) {
        /* reason may be e->local_reason or e->peer_reason: other arrays */
        e->reason.code = code;
        e->reason.cause = cause;
        e->reason.err = err;
        ws__str_copy(e->reason.reason, sizeof e->reason.reason, reason ? reason : "");
    }
    const ws_close_reason *r = ws__session_reason(s);
    ws__log(&s->w->host->log, WS_LOG_DEBUG, "%s: session ended: %u (%s) %s%s%s", s->peer, r->code,
            ws_close_cause_name(r->cause), r->reason, r->err ? ", " : "",
            r->err ? ws_err_name(r->err) : "");
    if (s->conn_ready) {
        atomic_fetch_sub(&s->w->host->nsessions, 1);
        ws__count(&s->w->counters.closes[r->cause <= WS_CAUSE_CONNECT ? r->cause : 0], 1);
    }
    ws__group_leave_all(s);
    s->busy++;
    if (s->h->kind == WS__H_EVENTS)
        ws__events_end(s);
    for (ws__close_cb *c = s->x ? s->x->close_cbs : NULL; c; c = c->next)
        c->fn(s, ws__session_reason(s), c->ud);
    if (ws__s_co(s))
        ws__seq_wake(s);
    s->busy--;
}

void ws__session_end_as_asked(ws_session *s, int err)
{
    const ws__ending *e = ws__s_ending(s);
    ws_close_cause cause = e ? (ws_close_cause)e->local_cause : WS_CAUSE_IO;
    ws__session_end(s, cause, e ? e->local_code : WS_CLOSE_INTERNAL_ERROR,
                    e ? e->local_reason : NULL, err ? err : ws__cause_err(cause));
}

int ws__cause_err(ws_close_cause cause)
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
        ws__ending *e = ws__session_ending(s);
        if (e) {
            ws__str_copy(e->local_reason, sizeof e->local_reason, reason ? reason : "");
            e->local_code = code;
            e->local_cause = (uint8_t)cause;
        }
        ws__session_deadline_in(s, ws__session_cfg(s)->close_timeout_ms);
        ws__session_mark_dirty(s);
    }
    /* Only a close the application asked for waits for the peer's answer
     * before ending; the others end the session now. */
    if (cause != WS_CAUSE_LOCAL)
        ws__session_end(s, cause, code, reason, ws__cause_err(cause));
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
    if (s->q.bytes > ws__session_cfg(s)->send_high_water) {
        s->above_hw = true;
        ws__coro *co = ws__s_live_co(s);
        if (co && s->w->current == s) {
            s->wait = WS__WAIT_DRAIN;
            /* Out of memory to wait with: the message is queued, so go on
             * (the hard limit still bounds the queue). */
            while (s->wait == WS__WAIT_DRAIN)
                if (ws__coro_yield(co) < 0)
                    s->wait = WS__WAIT_NONE;
            if (s->ended)
                return WS_ECLOSED;
        }
    }
    return 0;
}

/* --- the timer ----------------------------------------------------------- */

static void open_timer(ws_session *s)
{
    uint64_t now = ws__session_now(s);
    if (s->has_deadline && now >= full_time(s, s->deadline)) {
        if (!s->ended)
            ws__session_end_as_asked(s, WS_ETIMEDOUT);
        close_fd(s, WS_ETIMEDOUT);
        return;
    }
    if (s->h->timeout_ms != WS_DISABLED && (uint32_t)now - s->last_rx >= span(s->h->timeout_ms)) {
        ws__session_close(s, WS_CLOSE_GOING_AWAY, "idle timeout", WS_CAUSE_TIMEOUT);
    } else if (s->h->ping_period_ms != WS_DISABLED && now >= full_time(s, s->next_ping)) {
        if (ws__conn_ping(&s->conn, NULL, 0) == 0)
            ws__session_mark_dirty(s);
        s->next_ping = (uint32_t)(now + span(s->h->ping_period_ms));
    }
    arm_timer(s);
}

static void on_timer(ws__timer *t)
{
    ws_session *s = WS__OWNER_OF(t, ws_session, timer);
    s->busy++;
    switch (s->phase) {
    case WS__PH_CONNECT:
    case WS__PH_HANDSHAKE: ws__session_role(s)->hs_timeout(s); break;
    case WS__PH_OPEN: open_timer(s); break;
    default: close_fd(s, WS_ETIMEDOUT); break;
    }
    s->busy--;
    ws__session_maybe_free(s);
}

void ws__worker_close_all(ws__worker *w)
{
    for (uint32_t i = 0; i < w->nslots; i++) {
        ws_session *s = ws__slot_session(&w->slots[i]);
        if (s)
            close_fd(s, WS_ECLOSED);
    }
}

void ws__worker_begin_stop(ws__worker *w)
{
    w->stopping = true;
    for (uint32_t i = 0; i < w->nslots; i++) {
        ws_session *s = ws__slot_session(&w->slots[i]);
        if (!s)
            continue;
        if (s->phase == WS__PH_OPEN)
            ws__session_close(s, WS_CLOSE_GOING_AWAY,
                              w->host->server ? "server shutting down" : "client going away",
                              WS_CAUSE_SHUTDOWN);
        else if (s->phase == WS__PH_HANDSHAKE || s->phase == WS__PH_CONNECT)
            close_fd(s, WS_ECLOSED);
    }
}
