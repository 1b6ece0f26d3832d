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
    ws__session_watch(s);
}

int ws__session_hold_copy(ws_session *s, const uint8_t *a, size_t alen, const uint8_t *b,
                          size_t blen)
{
    /* One spare byte: a zero-copy text message's NUL may land past it. */
    s->held = malloc(alen + blen + 1);
    if (!s->held)
        return WS_ENOMEM;
    memcpy(s->held, a, alen);
    if (blen)
        memcpy(s->held + alen, b, blen);
    s->held_off = 0;
    s->held_len = (uint32_t)(alen + blen);
    return 0;
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
        ws__session_watch(s);
        if (s->tls && ws__tls_in_pending(s->tls)) { /* decrypted while paused: no fd event */
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
        if (!s->ended && s->conn.peer_closed_first)
            ws__session_end(s, WS_CAUSE_PEER, s->conn.recv_code,
                            s->ending ? s->ending->peer_reason : NULL, 0);
        else if (!s->ended)
            ws__session_end(s, (ws_close_cause)s->local_cause, s->local_code,
                            s->ending ? s->ending->local_reason : NULL,
                            ws__cause_err((ws_close_cause)s->local_cause));
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

static int cb_message(void *ud, uint8_t op, bool fin, uint8_t *data, size_t len)
{
    ws_session *s = ud;
    const uint8_t *decoded = ws__conn_decoded_data(&s->conn);
    bool buffered = (s->conn.msg.data && data == s->conn.msg.data) || (decoded && data == decoded);
    if (!buffered) {
        /* Zero-copy message: every input buffer has a spare byte past its
         * data, so the NUL can be written and the byte restored later. */
        s->nul_at = data + len;
        s->nul_saved = *s->nul_at;
        *s->nul_at = 0;
    }
    ws_msg m = {(ws_msg_type)op, data, len, fin};
    int pause = 0;
    if (fin)
        ws__count(&s->w->counters.msgs_in, 1);
    if (s->h->kind == WS__H_EVENTS)
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
    if (!s->ending && !(s->ending = calloc(1, sizeof *s->ending)))
        return; /* the session then ends with the out-of-memory reason */
    ws__ending *e = s->ending;
    size_t n = len < sizeof e->peer_reason - 1 ? len : sizeof e->peer_reason - 1;
    memcpy(e->peer_reason, reason, n);
    e->peer_reason[n] = '\0';
}

static int cb_congested(void *ud)
{
    ws_session *s = ud;
    return s->q.bytes > ws__session_cfg(s)->send_high_water;
}

static int cb_mask_key(void *ud, uint8_t key[4])
{
    ws_session *s = ud;
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
    d->q = (ws__sendq){.cache = s->q.cache};
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
        ws__sendq_clear(&d->q);
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
    ws_session *s = ud;
    ws__session_before_output(s);
    if ((h[0] & 0x80) && !WS__IS_CONTROL(h[0] & 0x0F))
        ws__count(&s->w->counters.msgs_out, 1);
    ws__count(&s->w->counters.bytes_out, hl + pl);
    if (s->out_frag_open && !WS__IS_CONTROL(h[0] & 0x0F)) {
        /* Another message while the session's own fragmented one is open
         * (a broadcast, a send by id): it waits for that message's end. */
        ws__sendq *q = ws__session_out_queue(s);
        int rc = q ? ws__sendq_append_masked(q, h, hl, p, pl, mask) : WS_ENOMEM;
        if (rc == 0)
            ws__session_queued(s);
        return rc;
    }
    if (!mask && pl >= WRITE_THROUGH && s->q.bytes == 0 && s->phase == WS__PH_OPEN) {
        /* Over TLS too: encrypted into the loop's scratch and written, so
         * a big echo costs no queue copy (nor the heap growing and
         * shrinking by its size each time). */
        struct iovec iov[2] = {{(void *)h, hl}, {(void *)p, pl}};
        long w = s->tls ? ws__session_tls_write(s, iov, 2)
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
    int rc = ws__sendq_append_masked(&s->q, h, hl, p, pl, mask);
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
    if (s->phase != WS__PH_OPEN || s->held || !handler_ready(s))
        return 0;
    return ws__conn_gather_space(&s->conn, dst);
}

static void input(ws_session *s, uint8_t *data, size_t len)
{
    if (s->phase == WS__PH_HANDSHAKE)
        s->role->hs_input(s, data, len);
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
    /* A bounded number of reads per wake-up keeps one busy client from
     * starving the others (the poller is level-triggered). */
    for (int i = 0; i < 8 && s->reading && s->phase != WS__PH_DEAD; i++) {
        uint8_t *dst = NULL;
        size_t want = direct_space(s, &dst);
        if (!want) {
            dst = l->rbuf;
            want = WS__LOOP_RBUF;
        }
        long n = s->tls ? ws__session_tls_read(s, dst, want)
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
        s->last_rx = l->now;
        ws__count(&s->w->counters.bytes_in, (uint64_t)n);
        if (dst == l->rbuf)
            input(s, l->rbuf, (size_t)n);
        else
            direct_input(s, dst, (size_t)n);
        if ((size_t)n < want && !(s->tls && ws__tls_in_pending(s->tls)))
            break;
    }
    /* TLS may hold decrypted or undecrypted input the fd will not report
     * again: read it before the next poll. */
    if (s->tls && s->reading && s->phase != WS__PH_DEAD && ws__tls_in_pending(s->tls)) {
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
        if (s->role->connected)
            s->role->connected(s);
    } else {
        if (events & WS_IO_WRITE)
            ws__session_flush_now(s);
        if ((events & WS_IO_READ) && s->phase != WS__PH_DEAD)
            do_read(s);
    }
    s->busy--;
    ws__session_maybe_free(s);
}
