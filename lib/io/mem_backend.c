/* SPDX-License-Identifier: MIT */
/* The in-memory backend's ws_io_backend table: the loops' side of the
 * network in mem.c. */
#include "io/backend.h"
#include "io/mem_net.h"
#include "util/array.h"
#include "wschat/error.h"

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* --- the backend ------------------------------------------------------------ */

static int new_fd(ws_mem_net *n, int kind, int index, int end)
{
    int fd = 3;
    while (fd < n->fds_cap && n->fds[fd].kind)
        fd++;
    mem_fd *grown = ws__grow_zeroed(n->fds, &n->fds_cap, fd, sizeof *n->fds);
    if (!grown)
        return WS_ENOMEM;
    n->fds = grown;
    n->fds[fd] = (mem_fd){kind, index, end};
    return fd;
}

/* The connection behind a loop's fd, and its end. */
static mem_conn *fd_conn(ws_mem_net *n, int fd, int *end)
{
    if (fd < 0 || fd >= n->fds_cap || n->fds[fd].kind != 2)
        return NULL;
    *end = n->fds[fd].end;
    return &n->conns[n->fds[fd].index];
}

static int m_create(void **state, void *arg)
{
    if (!arg)
        return WS_EINVAL; /* the "mem" backend needs ws_config.io_arg = a ws_mem_net */
    mem_state *s = calloc(1, sizeof *s);
    if (!s)
        return WS_ENOMEM;
    s->net = arg;
    *state = s;
    return 0;
}

static void m_destroy(void *state)
{
    mem_state *s = state;
    free(s->interest);
    free(s);
}

static int m_add(void *state, int fd, unsigned events)
{
    mem_state *s = state;
    unsigned *grown = ws__grow_zeroed(s->interest, &s->cap, fd, sizeof *s->interest);
    if (!grown)
        return WS_ENOMEM;
    s->interest = grown;
    s->interest[fd] = (events & (WS_IO_READ | WS_IO_WRITE)) | 0x100; /* 0x100 marks "watched" */
    return 0;
}

static int m_mod(void *state, int fd, unsigned events) { return m_add(state, fd, events); }

static int m_del(void *state, int fd)
{
    mem_state *s = state;
    if (fd < s->cap)
        s->interest[fd] = 0;
    return 0;
}

static unsigned ready(ws_mem_net *n, int fd, unsigned want)
{
    if (fd >= n->fds_cap)
        return 0;
    if (n->fds[fd].kind == 1) {
        listener *l = &n->ls[n->fds[fd].index];
        return (want & WS_IO_READ) && l->count ? WS_IO_READ : 0;
    }
    int e;
    mem_conn *c = fd_conn(n, fd, &e);
    if (!c)
        return 0;
    unsigned m = 0;
    if ((want & WS_IO_READ) && (c->out[!e].len || c->closed[!e]))
        m |= WS_IO_READ;
    if ((want & WS_IO_WRITE) && (c->reset[!e] || c->out[e].len < c->window[e]))
        m |= WS_IO_WRITE;
    return m;
}

static int scan(mem_state *s, ws_io_event *out, int max)
{
    int k = 0;
    for (int fd = 0; fd < s->cap && k < max; fd++) {
        if (!(s->interest[fd] & 0x100))
            continue;
        unsigned m = ready(s->net, fd, s->interest[fd]);
        if (m) {
            out[k].fd = fd;
            out[k++].events = m;
        }
    }
    return k;
}

static int m_poll(void *state, int timeout_ms, ws_io_event *out, int max)
{
    mem_state *s = state;
    ws_mem_net *n = s->net;
    pthread_mutex_lock(&n->mu);
    int k = scan(s, out, max);
    if (k == 0 && timeout_ms != 0 && !s->woken) {
        /* Real-time wait only matters when a test runs the server on its
         * own thread; stepping tests always poll with timeout 0. */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        long ms = timeout_ms < 0 || timeout_ms > 50 ? 50 : timeout_ms;
        ts.tv_nsec += ms * 1000000L;
        ts.tv_sec += ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&n->cv, &n->mu, &ts);
        k = scan(s, out, max);
    }
    s->woken = false;
    pthread_mutex_unlock(&n->mu);
    return k;
}

static int m_wake(void *state)
{
    mem_state *s = state;
    pthread_mutex_lock(&s->net->mu);
    s->woken = true;
    pthread_cond_broadcast(&s->net->cv);
    pthread_mutex_unlock(&s->net->mu);
    return 0;
}

static int m_listen(void *state, const char *addr, int port, int backlog, unsigned flags,
                    int *bound_port)
{
    (void)addr;
    (void)backlog;
    if (flags & WS_LISTEN_REUSEPORT)
        return WS_ENOTSUP; /* one process: nothing to share the port with */
    ws_mem_net *n = ((mem_state *)state)->net;
    pthread_mutex_lock(&n->mu);
    int rc = 0;
    listener *l = ws__mem_add_listener(n, &port, &rc);
    if (l) {
        int slot = (int)(l - n->ls);
        rc = new_fd(n, 1, slot, 0);
        if (rc >= 0) {
            n->ls[slot].fd = rc;
            *bound_port = port;
        } else {
            n->ls[slot].used = false;
        }
    }
    pthread_mutex_unlock(&n->mu);
    return rc;
}

static int m_accept(void *state, int lfd, char *peer, size_t cap)
{
    ws_mem_net *n = ((mem_state *)state)->net;
    pthread_mutex_lock(&n->mu);
    int rc = WS_EAGAIN;
    listener *l = lfd < n->fds_cap && n->fds[lfd].kind == 1 ? &n->ls[n->fds[lfd].index] : NULL;
    if (l && l->count) {
        int ci = l->pending[l->head];
        rc = new_fd(n, 2, ci, SERVER);
        if (rc >= 0) {
            l->head = (l->head + 1) % MAX_PENDING;
            l->count--;
            n->conns[ci].fd[SERVER] = rc;
            snprintf(peer, cap, "mem:%d", ci);
        }
    }
    pthread_mutex_unlock(&n->mu);
    return rc;
}

/* A loop's client end: the port is the listener's; the host is ignored. */
static int m_connect(void *state, const struct sockaddr *addr, unsigned len, char *peer, size_t cap)
{
    ws_mem_net *n = ((mem_state *)state)->net;
    int port = 0;
    if (addr->sa_family == AF_INET && len >= sizeof(struct sockaddr_in))
        port = ntohs(((const struct sockaddr_in *)addr)->sin_port);
    else if (addr->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6))
        port = ntohs(((const struct sockaddr_in6 *)addr)->sin6_port);
    pthread_mutex_lock(&n->mu);
    int ci = ws__mem_new_conn(n, port, -1);
    int rc = ci == WS_ENOTFOUND ? WS_ECONNREFUSED : ci;
    if (ci >= 0) {
        rc = new_fd(n, 2, ci, CLIENT);
        if (rc >= 0) {
            n->conns[ci].fd[CLIENT] = rc;
            snprintf(peer, cap, "mem:%d", port);
        } else {
            n->conns[ci].closed[CLIENT] = n->conns[ci].gone[CLIENT] = true;
        }
    }
    pthread_mutex_unlock(&n->mu);
    return rc;
}

static int m_connect_result(void *state, int fd)
{
    (void)state;
    (void)fd;
    return 0; /* a mem connection is established as soon as it is queued */
}

static long m_read(void *state, int fd, void *buf, size_t len)
{
    ws_mem_net *n = ((mem_state *)state)->net;
    pthread_mutex_lock(&n->mu);
    int e;
    mem_conn *c = fd_conn(n, fd, &e);
    long rc;
    if (!c)
        rc = WS_EINVAL;
    else if (c->out[!e].len)
        rc = (long)ws__mem_pipe_take(&c->out[!e], buf, len);
    else
        rc = c->closed[!e] ? 0 : WS_EAGAIN; /* a reset reads as end of stream too */
    pthread_cond_broadcast(&n->cv);
    pthread_mutex_unlock(&n->mu);
    return rc;
}

static long m_writev(void *state, int fd, const struct iovec *iov, int iovcnt)
{
    ws_mem_net *n = ((mem_state *)state)->net;
    pthread_mutex_lock(&n->mu);
    int e;
    mem_conn *c = fd_conn(n, fd, &e);
    long rc = 0;
    if (!c || c->reset[!e] || c->gone[!e]) {
        rc = WS_EIO;
    } else {
        pipe_buf *p = &c->out[e];
        for (int i = 0; i < iovcnt; i++) {
            size_t room = c->window[e] > p->len ? c->window[e] - p->len : 0;
            size_t k = iov[i].iov_len < room ? iov[i].iov_len : room;
            if (k && ws__mem_pipe_put(p, iov[i].iov_base, k) < 0)
                break;
            rc += (long)k;
            if (k < iov[i].iov_len)
                break;
        }
        if (rc == 0 && iovcnt > 0)
            rc = WS_EAGAIN;
        pthread_cond_broadcast(&n->cv);
    }
    pthread_mutex_unlock(&n->mu);
    return rc;
}

static void m_shutdown(void *state, int fd)
{
    ws_mem_net *n = ((mem_state *)state)->net;
    pthread_mutex_lock(&n->mu);
    int e;
    mem_conn *c = fd_conn(n, fd, &e);
    if (c)
        c->closed[e] = true;
    pthread_cond_broadcast(&n->cv);
    pthread_mutex_unlock(&n->mu);
}

static void m_close(void *state, int fd)
{
    ws_mem_net *n = ((mem_state *)state)->net;
    pthread_mutex_lock(&n->mu);
    if (fd >= 0 && fd < n->fds_cap) {
        if (n->fds[fd].kind == 2) {
            int e = n->fds[fd].end;
            mem_conn *c = &n->conns[n->fds[fd].index];
            c->closed[e] = c->gone[e] = true;
            c->fd[e] = -1;
        } else if (n->fds[fd].kind == 1) {
            n->ls[n->fds[fd].index].used = false;
        }
        n->fds[fd].kind = 0;
    }
    pthread_cond_broadcast(&n->cv);
    pthread_mutex_unlock(&n->mu);
}

static uint64_t m_now(void *state)
{
    ws_mem_net *n = ((mem_state *)state)->net;
    pthread_mutex_lock(&n->mu);
    uint64_t t = n->now;
    pthread_mutex_unlock(&n->mu);
    return t;
}

const ws_io_backend ws__io_mem = {
    .name = "mem",
    .create = m_create,
    .destroy = m_destroy,
    .add = m_add,
    .mod = m_mod,
    .del = m_del,
    .poll = m_poll,
    .wake = m_wake,
    .listen = m_listen,
    .accept = m_accept,
    .read = m_read,
    .writev = m_writev,
    .shutdown = m_shutdown,
    .close = m_close,
    .now_ms = m_now,
    .connect = m_connect,
    .connect_result = m_connect_result,
};
