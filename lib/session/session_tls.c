/* SPDX-License-Identifier: MIT */
/* A session's bytes through its TLS transport (tls/tls.h): what the
 * session layer calls instead of the backend's read and writev when
 * s->x->tls is set. The send queue keeps plaintext (a broadcast frame is
 * still encoded once and shared); only the encryption is per session, and
 * it happens as the queue drains, straight into the loop's output scratch
 * and on to the fd, so a peer that stops reading holds at most what the
 * fd did not take of one scratch as ciphertext on top of its queue. */
#include "session/session.h"
#include "tls/tls.h"
#include "wschat/error.h"

#include <stdlib.h>

static ws__tls_io io_of(ws_session *s)
{
    ws__worker *w = s->w;
    if (!w->tls_scratch)
        w->tls_scratch = malloc(WS__TLS_SCRATCH + WS__TLS_OUT_SCRATCH);
    uint8_t *b = w->tls_scratch;
    return (ws__tls_io){w->host->io,
                        w->loop.io_state,
                        s->fd,
                        b,
                        b ? WS__TLS_SCRATCH : 0,
                        b ? b + WS__TLS_SCRATCH : NULL,
                        b ? WS__TLS_OUT_SCRATCH : 0};
}

long ws__session_tls_read(ws_session *s, void *buf, size_t len)
{
    ws__tls_io io = io_of(s);
    if (!io.scratch)
        return WS_ENOMEM;
    long n = ws__tls_read(s->x->tls, &io, buf, len);
    /* The handshake, tickets or an alert may want to go out. */
    if (ws__tls_out_pending(s->x->tls))
        ws__session_mark_dirty(s);
    if (n < 0 && n != WS_EAGAIN) {
        /* The alert saying why goes out before the connection closes. */
        ws__tls_flush(s->x->tls, &io);
        if (!s->conn_ready)
            ws__log(&s->w->host->log, WS_LOG_INFO, "%s: %s", s->peer, ws__tls_error(s->x->tls));
    }
    return n;
}

long ws__session_tls_flush(ws_session *s)
{
    ws__tls_io io = io_of(s);
    if (!io.out)
        return WS_ENOMEM;
    long total = 0;
    for (;;) {
        long w = ws__tls_flush(s->x->tls, &io);
        if (w < 0)
            return w;
        total += w;
        if (ws__tls_out_pending(s->x->tls) || !s->q.head)
            return total; /* the fd is full, or all is out */
        struct iovec iov[WS__SENDQ_IOV];
        int n = ws__sendq_iov(&s->q, iov, WS__SENDQ_IOV);
        long taken = ws__tls_send(s->x->tls, &io, iov, n);
        if (taken < 0)
            return taken;
        if (taken == 0)
            return total; /* a client whose handshake is not done yet */
        ws__sendq_consume(&s->q, &s->w->chunks, (size_t)taken);
        total += taken;
    }
}

long ws__session_tls_write(ws_session *s, const struct iovec *iov, int n)
{
    ws__tls_io io = io_of(s);
    return io.out ? ws__tls_send(s->x->tls, &io, iov, n) : 0;
}

bool ws__session_tls_idle(const ws_session *s)
{
    return !ws__s_tls(s) || ws__tls_out_pending(s->x->tls) == 0;
}
