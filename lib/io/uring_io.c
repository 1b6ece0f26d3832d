/* SPDX-License-Identifier: MIT */
/* The io_uring backend's transport: accept and connect, read (out of the
 * ring's buffers, or straight from the socket in bulk mode), writev (into
 * the per-connection queue, one send in flight), shutdown and close with
 * what is in flight. The ring itself is in uring.c. */
/* POLLRDHUP is a GNU extension. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "io/uring_impl.h"

/* --- the transport ------------------------------------------------------------------ */

/* --- listeners: one multishot accept ---------------------------------------------- */

/* One armed accept takes every connection the backlog brings, each as a
 * completion: no poll re-armed per wake-up, no accept4 per connection and
 * none that finds nothing. What it accepted waits in the listener's queue
 * for the server's accept. The kernel cannot hand out a multishot accept's
 * peer addresses (one buffer for all), so accept asks getpeername. */
static ulisten *listener(const uring *u, int fd)
{
    for (size_t i = 0; i < u->nls; i++)
        if (u->ls[i].fd == fd)
            return &u->ls[i];
    return NULL;
}

int ws__ur_listen(void *state, const char *addr, int port, int backlog, unsigned flags,
                  int *bound_port)
{
    uring *u = state;
    int fd = ws__sock_listen(state, addr, port, backlog, flags, bound_port);
    if (fd < 0 || u->no_maccept)
        return fd;
    ufd *f = ws__ur_slot(u, fd);
    ulisten *v = f ? realloc(u->ls, (u->nls + 1) * sizeof *v) : NULL;
    if (!v)
        return fd; /* polled and accept4'd, as on epoll */
    u->ls = v;
    v[u->nls++] = (ulisten){.fd = fd};
    f->flags = F_LISTEN;
    return fd;
}

void ws__ur_arm_accept(uring *u, int fd)
{
    ufd *f = get(u, fd);
    if (f->flags & (F_RECV | F_CLOSING) || !(f->want & WS_IO_READ))
        return;
    struct io_uring_sqe *s = ws__ur_sqe(u);
    if (!s) {
        ws__ur_push_or_flag(u, &u->rearm, fd);
        return;
    }
    io_uring_prep_multishot_accept(s, fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    io_uring_sqe_set_data64(s, ud(OP_ACCEPT, f->gen, fd));
    f->flags |= F_RECV;
    f->nops++;
}

void ws__ur_on_accept(uring *u, int fd, ufd *f, const struct io_uring_cqe *c)
{
    ulisten *l = listener(u, fd);
    if (c->res >= 0) {
        if (!l || (f->flags & F_CLOSING) || ws__ur_push(&l->q, c->res) != 0)
            close(c->res); /* no listener, or no memory to keep it: that client sees a reset */
        else
            ws__ur_mark_ready(u, fd);
    } else if (c->res == -EINVAL && l && !(c->flags & IORING_CQE_F_MORE) && !l->q.n) {
        /* A kernel before 5.19: no multishot accept. Polled from now on. */
        u->no_maccept = true;
        f->flags &= (uint16_t) ~(F_LISTEN | F_RECV);
        f->nops--;
        ws__ur_drop_listener(u, fd);
        ws__ur_arm_poll(u, fd);
        return;
    } else if (c->res != -ECANCELED && l) {
        l->err = ws__from_errno(-c->res); /* EMFILE: the server pauses accepting */
        ws__ur_mark_ready(u, fd);
    }
    if (!(c->flags & IORING_CQE_F_MORE)) {
        f->flags &= (uint16_t)~F_RECV;
        f->nops--;
        if (l && !l->err)
            ws__ur_arm_accept(u, fd); /* it ended for no reason to report: go on */
    }
}

bool ws__ur_has_accepted(const uring *u, int fd)
{
    const ulisten *l = listener(u, fd);
    return l && (l->head < l->q.n || l->err);
}

/* Closing the listener: what it accepted and nobody took is closed. */
void ws__ur_drop_listener(uring *u, int fd)
{
    ulisten *l = listener(u, fd);
    if (!l)
        return;
    for (size_t i = l->head; i < l->q.n; i++)
        close(l->q.v[i]);
    free(l->q.v);
    *l = u->ls[--u->nls];
}

static int take_accepted(uring *u, ulisten *l, char *peer, size_t peer_cap)
{
    if (l->head == l->q.n) {
        l->head = l->q.n = 0;
        int e = l->err;
        l->err = 0;
        if (e)
            ws__ur_arm_accept(u, l->fd); /* if still wanted; after EMFILE the server pauses first */
        return e ? e : WS_EAGAIN;
    }
    int fd = l->q.v[l->head++];
    ws__sock_peer(fd, peer, peer_cap);
    return fd;
}

int ws__ur_accept(void *state, int lfd, char *peer, size_t peer_cap)
{
    uring *u = state;
    const ufd *lf = get(u, lfd);
    ulisten *l = lf && (lf->flags & F_LISTEN) ? listener(u, lfd) : NULL;
    int fd = l ? take_accepted(u, l, peer, peer_cap) : ws__sock_accept(state, lfd, peer, peer_cap);
    ufd *f = fd >= 0 ? ws__ur_slot(u, fd) : NULL;
    if (fd >= 0 && !f) {
        close(fd);
        return WS_ENOMEM;
    }
    if (f)
        f->flags = 0; /* a connection once added with WS_IO_OWNED, on whichever loop serves it */
    return fd;
}

int ws__ur_connect(void *state, const struct sockaddr *addr, unsigned addrlen, char *peer,
                   size_t peer_cap)
{
    uring *u = state;
    int fd = ws__sock_connect(state, addr, addrlen, peer, peer_cap);
    ufd *f = fd >= 0 ? ws__ur_slot(u, fd) : NULL;
    if (fd >= 0 && !f) {
        close(fd);
        return WS_ENOMEM;
    }
    if (f)
        f->flags = F_SOCKET | F_CONNECTING; /* polled for writability until connected */
    return fd;
}

int ws__ur_connect_result(void *state, int fd)
{
    uring *u = state;
    int rc = ws__sock_connect_result(state, fd);
    ufd *f = get(u, fd);
    if (rc == 0 && f) {
        f->flags &= (uint16_t)~F_CONNECTING;
        ws__ur_mod(u, fd, f->want);
    }
    return rc;
}

/* Bulk mode. A multishot receive copies everything into the ring's 16 KiB
 * buffers before the session sees a frame header, so a 64 KiB message
 * would be copied twice (kernel to ring, ring to the session) where epoll
 * copies once. A connection whose receive fills a whole buffer therefore
 * switches, once what was received is read, to a poll and reads straight
 * into the session's buffer (the engine's reassembly buffer for the rest of
 * a frame), as on epoll; sends still go through the ring. A short read
 * returns it to the multishot receive. Only with DEFER_TASKRUN: the order of
 * bytes relies on the ring taking none outside our enter. */
static void to_bulk(uring *u, int fd, ufd *f)
{
    f->flags = (uint16_t)((f->flags & ~F_TO_BULK) | F_BULK);
    f->polled = 0;
    if (f->flags & F_RECV)
        ws__ur_cancel(u, fd, OP_RECV);
    ws__ur_arm_poll(u, fd);
}

static long bulk_read(uring *u, int fd, ufd *f, void *buf, size_t len)
{
    if (!(f->polled & WS_IO_READ))
        return WS_EAGAIN;
    long n = ws__sock_read(u, fd, buf, len);
    if (n > 0 && n < BULK_EXIT && (size_t)n < len) { /* little was there, not a small ask */
        f->flags &= (uint16_t)~F_BULK;               /* small again: back to the ring */
        f->polled = 0;
        if (f->flags & F_POLL)
            ws__ur_cancel(u, fd, OP_POLL);
        ws__ur_arm_recv(u, fd);
    } else if (n == WS_EAGAIN || (n > 0 && (size_t)n < len)) {
        f->polled = 0; /* drained: wait for the next poll */
        ws__ur_arm_poll(u, fd);
    }
    return n;
}

long ws__ur_read(void *state, int fd, void *buf, size_t len)
{
    uring *u = state;
    ufd *f = get(u, fd);
    if (!f || !(f->flags & F_SOCKET))
        return ws__sock_read(state, fd, buf, len);
    ubusy *b = busy_of(u, f);
    if (!nseg(u, f)) {
        if (f->err)
            return f->err;
        if (f->flags & F_EOF)
            return 0;
        if (f->flags & F_BULK)
            return bulk_read(u, fd, f, buf, len);
        /* Nothing received: the multishot receive brings what comes (a
         * recv(2) here would mostly find nothing: a session reads once more
         * after its handshake, for one). */
        return WS_EAGAIN;
    }
    size_t got = 0;
    uint16_t done = 0;
    while (got < len && b->nseg) {
        seg *g = &b->segs[b->seg0];
        size_t n = g->len < len - got ? g->len : len - got;
        memcpy((uint8_t *)buf + got, u->bufs + (size_t)g->bid * BUF_SIZE + g->off, n);
        got += n;
        g->off = (uint16_t)(g->off + n);
        g->len = (uint16_t)(g->len - n);
        if (g->len == 0) {
            io_uring_buf_ring_add(u->br, u->bufs + (size_t)g->bid * BUF_SIZE, BUF_SIZE, g->bid,
                                  u->br_mask, done++);
            b->seg0 = (uint16_t)((b->seg0 + 1) % b->segcap);
            b->nseg--;
        }
    }
    if (done) {
        io_uring_buf_ring_advance(u->br, done);
        /* Buffers are back: the receives that ran dry go on. */
        for (size_t i = 0; i < u->starved.n; i++)
            if (get(u, u->starved.v[i]))
                ws__ur_arm_recv(u, u->starved.v[i]);
        u->starved.n = 0;
    }
    if (!b->nseg) {
        ws__ur_unbusy(u, f); /* idle memory: nothing attached while nothing waits */
        if (f->flags & F_TO_BULK)
            to_bulk(u, fd, f);
        else if (!(f->flags & (F_RECV | F_BULK)))
            ws__ur_arm_recv(u, fd); /* it ended for want of buffers: go on */
    }
    return (long)got;
}

/* How much of `total` more bytes fd's queue takes (its busy part attached
 * in *out): > 0; 0 when nothing is ahead of a write this large, which goes
 * straight to the socket instead; or a negative ws_err (WS_EAGAIN: full). */
static long queue_room(uring *u, ufd *f, size_t total, ubusy **out)
{
    if (f->err)
        return f->err;
    const ubusy *fb = busy_of(u, f);
    if (!(fb && fb->q) && !(f->flags & F_SENDING) && total >= DIRECT_MIN)
        return 0;
    ubusy *b = ws__ur_busy(u, f);
    if (!b)
        return WS_ENOMEM;
    *out = b;
    size_t room = SEND_MAX > b->queued ? SEND_MAX - b->queued : 0;
    return room == 0 ? WS_EAGAIN : (long)(total < room ? total : room);
}

static void append(ubusy *b, chunk *c)
{
    c->next = NULL;
    if (b->qtail)
        b->qtail->next = c;
    else
        b->q = c;
    b->qtail = c;
}

/* take more bytes are in the queue. The first is sent at the next poll,
 * with whatever else this iteration adds; out of memory for the list,
 * prepared now instead. */
static void queued(uring *u, int fd, ufd *f, ubusy *b, size_t take)
{
    bool first = b->queued == 0 && !(f->flags & F_SENDING);
    b->queued += (uint32_t)take;
    if (first && ws__ur_push(&u->sendq, fd) != 0)
        ws__ur_submit_send(u, fd);
}

long ws__ur_writev(void *state, int fd, const struct iovec *iov, int iovcnt)
{
    uring *u = state;
    ufd *f = get(u, fd);
    if (!f || !is_conn(f))
        return ws__sock_writev(state, fd, iov, iovcnt);
    size_t total = 0;
    for (int i = 0; i < iovcnt; i++)
        total += iov[i].iov_len;
    ubusy *b = NULL;
    long room = queue_room(u, f, total, &b);
    if (room == 0)
        return ws__sock_writev(state, fd, iov, iovcnt); /* nothing ahead of it */
    if (room < 0)
        return room;
    size_t take = (size_t)room;
    /* Into the tail chunk if it is not on its way, else a new one. */
    chunk *c = b->qtail;
    bool tail_free = c && !c->ext && !((f->flags & F_SENDING) && c == b->q);
    if (!tail_free || c->cap - c->len < take) {
        if (!(c = ws__ur_chunk_new(u, take > CHUNK_MIN ? take : CHUNK_MIN))) {
            ws__ur_unbusy(u, f);
            return WS_ENOMEM;
        }
        c->len = c->off = 0;
        append(b, c);
    }
    size_t left = take;
    for (int i = 0; i < iovcnt && left; i++) {
        size_t n = iov[i].iov_len < left ? iov[i].iov_len : left;
        memcpy(c->data + c->len, iov[i].iov_base, n);
        c->len += (uint32_t)n;
        left -= n;
    }
    queued(u, fd, f, b, take);
    return (long)take;
}

long ws__ur_write_ref(void *state, int fd, const void *p, size_t len, ws__io_release release,
                      void *ref)
{
    uring *u = state;
    ufd *f = get(u, fd);
    if (!f || !is_conn(f) || len == 0)
        return WS_ENOTSUP;
    ubusy *b = NULL;
    long room = queue_room(u, f, len, &b);
    if (room <= 0)
        return room == 0 ? WS_ENOTSUP : room; /* 0: writev sends it straight */
    chunk *c = ws__ur_chunk_new(u, 0);
    if (!c) {
        ws__ur_unbusy(u, f);
        return WS_ENOMEM;
    }
    *c = (chunk){.len = (uint32_t)room, .ext = p, .release = release, .ref = ref};
    append(b, c);
    queued(u, fd, f, b, (size_t)room);
    return room;
}

void ws__ur_submit_send(uring *u, int fd)
{
    ufd *f = get(u, fd);
    const ubusy *b = busy_of(u, f);
    if (f->flags & F_SENDING || !b || !b->q || f->err)
        return;
    struct io_uring_sqe *s = ws__ur_sqe(u);
    if (!s) {
        ws__ur_push_or_flag(u, &u->rearm, fd);
        return;
    }
    chunk *c = b->q;
    io_uring_prep_send(s, fd, (c->ext ? c->ext : c->data) + c->off, c->len - c->off, MSG_NOSIGNAL);
    io_uring_sqe_set_data64(s, ud(OP_SEND, f->gen, fd));
    f->flags |= F_SENDING;
    f->nops++;
}

void ws__ur_shutdown(void *state, int fd)
{
    uring *u = state;
    ufd *f = get(u, fd);
    const ubusy *b = f ? busy_of(u, f) : NULL;
    if (f && ((b && b->q) || (f->flags & F_SENDING))) {
        f->flags |= F_SHUTDOWN; /* the FIN goes after the queued bytes */
        return;
    }
    ws__sock_shutdown(state, fd);
}

void ws__ur_close(void *state, int fd)
{
    uring *u = state;
    ufd *f = get(u, fd);
    if (!f) {
        close(fd);
        return;
    }
    f->want = 0;
    if (f->flags & F_LISTEN)
        ws__ur_drop_listener(u, fd);
    if (f->flags & F_RECV)
        ws__ur_cancel(u, fd, (f->flags & F_LISTEN) ? OP_ACCEPT : OP_RECV);
    if (f->flags & F_POLL)
        ws__ur_cancel(u, fd, OP_POLL);
    /* What is queued still goes out, as epoll's writes already have, but
     * within a deadline: a peer that does not read cannot hold the fd. */
    const ubusy *b = busy_of(u, f);
    if (b && b->q && !f->err) {
        ws__ur_submit_send(u, fd);
        struct io_uring_sqe *s = ws__ur_sqe(u);
        if (s) {
            static const struct __kernel_timespec linger = {
                .tv_sec = CLOSE_LINGER_MS / 1000, .tv_nsec = (CLOSE_LINGER_MS % 1000) * 1000000LL};
            io_uring_prep_timeout(s, (struct __kernel_timespec *)&linger, 0, 0);
            io_uring_sqe_set_data64(s, ud(OP_LINGER, f->gen, fd));
            f->flags |= F_LINGER;
            f->nops++;
        }
    }
    if (f->nops) {
        f->flags |= F_CLOSING;
        return;
    }
    ws__ur_finish_close(u, fd);
}

/* A closing connection's queue is out (or cannot go): stop its deadline. */
void ws__ur_linger_done(uring *u, int fd)
{
    ufd *f = get(u, fd);
    if (!(f->flags & F_LINGER))
        return;
    struct io_uring_sqe *s = ws__ur_sqe(u);
    if (s) {
        io_uring_prep_timeout_remove(s, ud(OP_LINGER, f->gen, fd), 0);
        io_uring_sqe_set_data64(s, ud(OP_CANCEL, 0, 0));
    }
}
