/* SPDX-License-Identifier: MIT */
/* A session's bytes: reading, feeding the engine (and holding input back
 * while a sequential handler is busy), the engine's callbacks, and the
 * write path with the output that waits behind an unfinished fragmented
 * message. */
#include "session/session.h"
#include "tls/tls.h"
#include "util/array.h"
#include "wschat/error.h"

#include <stdlib.h>
#include <string.h>

static void ws_input(ws_session *s, uint8_t *data, size_t len);
static void after_feed(ws_session *s, long n, uint8_t *data, size_t len);

static bool handler_ready(const ws_session *s)
{
    return s->h->kind == WS__H_EVENTS || ws__seq_ready(s);
}

/* Keeps unconsumed input (and, for a paused sequential handler, the buffer
 * its current message points into) until the handler is ready again. The
 * loop's receive buffer is handed over rather than copied. */
static void hold(ws_session *s, uint8_t *p, size_t n)
{
    ws__loop *l = &s->w->loop;
    ws__sess_more *x = p ? ws__session_more(s) : s->x;
    if (!p) {
        /* Input read straight into the engine's buffer: nothing to keep. */
    } else if (x && x->held && p >= x->held) {
        x->held_off = (uint32_t)(p - x->held);
        x->held_len = (uint32_t)n;
    } else {
        uint8_t *fresh = x ? malloc(WS__LOOP_RBUF + 1) : NULL;
        if (!fresh) {
            ws__session_close(s, WS_CLOSE_INTERNAL_ERROR, "out of memory", WS_CAUSE_IO);
            return;
        }
        x->held = l->rbuf;
        x->held_off = (uint32_t)(p - l->rbuf);
        x->held_len = (uint32_t)n;
        l->rbuf = fresh;
    }
    s->reading = false;
    ws__session_watch(s);
}

int ws__session_hold_copy(ws_session *s, const uint8_t *a, size_t alen, const uint8_t *b,
                          size_t blen)
{
    /* One spare byte: a zero-copy text message's NUL may land past it. */
    ws__sess_more *x = ws__session_more(s);
    if (!x || !(x->held = malloc(alen + blen + 1)))
        return WS_ENOMEM;
    memcpy(x->held, a, alen);
    if (blen)
        memcpy(x->held + alen, b, blen);
    x->held_off = 0;
    x->held_len = (uint32_t)(alen + blen);
    return 0;
}

static void restore_nul(ws_session *s)
{
    ws__sess_more *x = s->x;
    if (x && x->nul_at) {
        *x->nul_at = x->nul_saved;
        x->nul_at = NULL;
    }
}

bool ws__session_input_paused(const ws_session *s)
{
    /* hold() stops reading; with input read straight into the engine's
     * buffer there is nothing held, only the stop. */
    return ws__s_held(s) || (s->phase == WS__PH_OPEN && !s->reading && !s->peer_eof);
}

void ws__session_resume_input(ws_session *s)
{
    if (s->phase != WS__PH_OPEN || s->feeding)
        return;
    restore_nul(s);
    if (ws__s_held(s)) {
        uint8_t *buf = s->x->held;
        size_t off = s->x->held_off, len = s->x->held_len;
        s->x->held_len = 0;
        ws_input(s, buf + off, len);
        /* Paused again (hold() turned reading off), or moved on. */
        if (!s->x || s->x->held != buf || s->x->held_len || !handler_ready(s))
            return;
        free(buf);
        s->x->held = NULL;
        ws__session_trim(s);
    }
    if (s->phase == WS__PH_OPEN) {
        s->reading = true;
        ws__session_watch(s);
        struct ws__tls *tls = ws__s_tls(s);
        if (tls && ws__tls_in_pending(tls)) { /* decrypted while paused: no fd event */
            s->tls_kick = true;
            ws__session_mark_dirty(s);
        }
    }
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
        ws__session_drain(s);
        return;
    }
    if (s->conn.state == WS__CONN_CLOSED) {
        const ws__ending *e = ws__s_ending(s);
        if (!s->ended && s->conn.peer_closed_first)
            ws__session_end(s, WS_CAUSE_PEER, s->conn.recv_code, e ? e->peer_reason : NULL, 0);
        else if (!s->ended)
            ws__session_end_as_asked(s, 0);
        ws__session_drain(s);
        return;
    }
    if (s->overloaded)
        ws__session_after_send(s, 0);
    /* A handler that is not back in ws_recv may still point into this input. */
    if (s->phase == WS__PH_OPEN && ((size_t)n < len || !handler_ready(s)))
        hold(s, data ? data + n : NULL, len - (size_t)n);
}

/* --- the engine's callbacks ------------------------------------------------ */

/* The engine hands its callbacks the conn, which is in the session. */
static ws_session *of_conn(void *conn) { return WS__OWNER_OF(conn, ws_session, conn); }

static int cb_message(void *ud, uint8_t op, bool fin, uint8_t *data, size_t len)
{
    ws_session *s = of_conn(ud);
    uint8_t *nul_at = NULL, nul_saved = 0;
    if (!ws__conn_buffered(&s->conn, data)) {
        /* Zero-copy message: every input buffer has a spare byte past its
         * data, so the NUL can be written and the byte restored later. */
        nul_at = data + len;
        nul_saved = *nul_at;
        *nul_at = 0;
    }
    ws_msg m = {(ws_msg_type)op, data, len, fin};
    int pause = 0;
    if (fin)
        ws__count(&s->w->counters.msgs_in, 1);
    if (s->h->kind == WS__H_EVENTS)
        ws__events_message(s, &m);
    else
        pause = ws__seq_deliver(s, &m);
    ws__sess_more *x = pause && nul_at ? ws__session_more(s) : NULL;
    if (x) {
        /* The handler still has the message: restored when input resumes. */
        x->nul_at = nul_at;
        x->nul_saved = nul_saved;
    } else if (nul_at) {
        *nul_at = nul_saved;
    }
    return pause;
}

static void cb_peer_close(void *ud, uint16_t code, const uint8_t *reason, size_t len)
{
    ws_session *s = of_conn(ud);
    (void)code;
    ws__ending *e = ws__session_ending(s);
    if (!e)
        return; /* the session then ends with the out-of-memory reason */
    size_t n = len < sizeof e->peer_reason - 1 ? len : sizeof e->peer_reason - 1;
    memcpy(e->peer_reason, reason, n);
    e->peer_reason[n] = '\0';
}

static int cb_congested(void *ud)
{
    ws_session *s = of_conn(ud);
    return s->q.bytes > ws__session_cfg(s)->send_high_water;
}

static int cb_mask_key(void *ud, uint8_t key[4])
{
    ws_session *s = of_conn(ud);
    return ws__random_bytes(&s->w->rnd, key, 4);
}

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
    d->q = (ws__sendq){0};
    return &d->q;
}

static void deferred_remove(ws__worker *w, ws__deferred *d) { *d = w->deferred[--w->ndeferred]; }

void ws__session_undefer(ws_session *s)
{
    ws__deferred *d = deferred_find(s);
    if (!d)
        return;
    ws__sendq_splice(&s->q, &d->q);
    deferred_remove(s->w, d);
    ws__session_queued(s);
}

void ws__session_drop_deferred(ws_session *s)
{
    ws__deferred *d = deferred_find(s);
    if (d) {
        ws__sendq_clear(&d->q, &s->w->chunks);
        deferred_remove(s->w, d);
    }
}

void ws__session_queued(ws_session *s)
{
    size_t bytes = s->q.bytes;
    if (s->out_frag_open && s->w->ndeferred) {
        const ws__deferred *d = deferred_find(s);
        bytes += d ? d->q.bytes : 0;
    }
    if (bytes > ws__session_cfg(s)->send_hard_limit)
        s->overloaded = true;
    ws__session_mark_dirty(s);
}

/* Frames at least this big go straight to the socket when nothing is
 * queued: the copy into the queue would cost more than the syscall batching
 * saves. Smaller frames are queued and flushed together before the poll.
 * Masked frames are always queued: the copy is where they get masked. */
#define WRITE_THROUGH 16384

static int cb_write(void *ud, const uint8_t *h, size_t hl, const uint8_t *p, size_t pl,
                    const uint8_t *mask)
{
    ws_session *s = of_conn(ud);
    ws__session_before_output(s);
    if ((h[0] & 0x80) && !WS__IS_CONTROL(h[0] & 0x0F))
        ws__count(&s->w->counters.msgs_out, 1);
    ws__count(&s->w->counters.bytes_out, hl + pl);
    if (s->out_frag_open && !WS__IS_CONTROL(h[0] & 0x0F)) {
        /* Another message while the session's own fragmented one is open
         * (a broadcast, a send by id): it waits for that message's end. */
        ws__sendq *q = ws__session_out_queue(s);
        int rc = q ? ws__sendq_append_masked(q, &s->w->chunks, h, hl, p, pl, mask) : WS_ENOMEM;
        if (rc == 0)
            ws__session_queued(s);
        return rc;
    }
    if (!mask && pl >= WRITE_THROUGH && s->q.bytes == 0 && s->phase == WS__PH_OPEN) {
        /* Over TLS too: encrypted into the loop's scratch and written, so
         * a big echo costs no queue copy (nor the heap growing and
         * shrinking by its size each time). */
        struct iovec iov[2] = {{(void *)h, hl}, {(void *)p, pl}};
        long w = ws__s_tls(s) ? ws__session_tls_write(s, iov, 2)
                              : s->w->host->io->writev(s->w->loop.io_state, s->fd, iov, 2);
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
    int rc = ws__sendq_append_masked(&s->q, &s->w->chunks, h, hl, p, pl, mask);
    if (rc < 0)
        return rc;
    ws__session_queued(s);
    return 0;
}

const ws__conn_cb ws__session_conn_cb = {
    .message = cb_message,
    .peer_close = cb_peer_close,
    .write = cb_write,
    .congested = cb_congested,
    .mask_key = cb_mask_key,
};

/* --- reading ------------------------------------------------------------------ */

/* The peer half-closed: it will send nothing more but may still read, so
 * what is queued for it is delivered before the connection is closed. */
static void peer_eof(ws_session *s)
{
    s->peer_eof = true;
    s->reading = false;
    if (s->phase == WS__PH_OPEN) {
        if (!s->ended)
            ws__session_end(s, WS_CAUSE_IO, WS_CLOSE_ABNORMAL, "connection closed by peer", WS_EIO);
        ws__session_drain(s);
    }
    if (s->q.bytes == 0 || s->phase == WS__PH_HANDSHAKE)
        ws__session_abort(s, WS_EIO);
    else
        ws__session_watch(s);
}

/* The rest of a large frame already being gathered is read straight into
 * the engine's reassembly buffer instead of through the loop's. */
static size_t direct_space(ws_session *s, uint8_t **dst)
{
    if (s->phase != WS__PH_OPEN || ws__s_held(s) || !handler_ready(s))
        return 0;
    return ws__conn_gather_space(&s->conn, dst);
}

static void input(ws_session *s, uint8_t *data, size_t len)
{
    if (s->phase == WS__PH_HANDSHAKE)
        ws__session_role(s)->hs_input(s, data, len);
    else if (s->phase == WS__PH_OPEN)
        ws_input(s, data, len);
    /* DRAIN and LINGER: read and dropped. */
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
    struct ws__tls *tls = ws__s_tls(s);
    /* A bounded number of reads per wake-up keeps one busy client from
     * starving the others (the poller is level-triggered). */
    for (int i = 0; i < 8 && s->reading && s->phase != WS__PH_DEAD; i++) {
        uint8_t *dst = NULL;
        size_t want = direct_space(s, &dst);
        if (!want) {
            dst = l->rbuf;
            want = WS__LOOP_RBUF;
        }
        long n = tls ? ws__session_tls_read(s, dst, want)
                     : s->w->host->io->read(l->io_state, s->fd, dst, want);
        if (n == WS_EAGAIN)
            break;
        if (n == 0 && s->phase != WS__PH_LINGER) {
            peer_eof(s);
            return;
        }
        if (n <= 0) {
            ws__session_abort(s, n < 0 ? (int)n : WS_EIO);
            return;
        }
        s->last_rx = (uint32_t)l->now;
        ws__count(&s->w->counters.bytes_in, (uint64_t)n);
        if (dst == l->rbuf)
            input(s, l->rbuf, (size_t)n);
        else
            direct_input(s, dst, (size_t)n);
        if ((size_t)n < want && !(tls && ws__tls_in_pending(tls)))
            break;
    }
    /* TLS may hold decrypted or undecrypted input the fd will not report
     * again: read it before the next poll. */
    if (tls && s->reading && s->phase != WS__PH_DEAD && ws__tls_in_pending(tls)) {
        s->tls_kick = true;
        ws__session_mark_dirty(s);
    }
}

void ws__session_read_now(ws_session *s)
{
    if (s->reading && s->phase != WS__PH_DEAD && s->phase != WS__PH_CONNECT)
        do_read(s);
}

void ws__session_on_io(ws__loop *l, int fd, unsigned events, void *ud)
{
    ws_session *s = ud;
    (void)l;
    (void)fd;
    s->busy++;
    if (s->phase == WS__PH_CONNECT) {
        if (ws__session_role(s)->connected)
            ws__session_role(s)->connected(s);
    } else {
        if (events & WS_IO_WRITE)
            ws__session_flush_now(s);
        if ((events & WS_IO_READ) && s->phase != WS__PH_DEAD)
            do_read(s);
    }
    s->busy--;
    ws__session_maybe_free(s);
}
