/* SPDX-License-Identifier: MIT */
/* The in-memory backend: a virtual network of byte pipes and a virtual
 * clock, shared by the server's loops and the test's clients through a
 * ws_mem_net. Nothing here touches a socket or the real clock, so whole
 * sessions run deterministically: a test advances the clock itself. */
#include "io/backend.h"
#include "util/array.h"
#include "wschat/error.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct pipe_buf {
    uint8_t *data;
    size_t len, cap;
} pipe_buf;

typedef struct mem_conn {
    bool used;
    int sfd;                  /* server-side fd, -1 before accept / after close */
    pipe_buf c2s, s2c;
    bool client_closed, server_closed, server_shut;
    bool client_reset;        /* closed abortively: server writes fail */
    size_t window;
} mem_conn;

typedef struct mem_fd {
    int kind;                 /* 0 free, 1 listener, 2 connection */
    int index;                /* listener port or connection index */
} mem_fd;

#define MAX_PENDING 4096

typedef struct listener {
    int port;
    int fd;
    int pending[MAX_PENDING];
    int head, count;
} listener;

struct ws_mem_net {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint64_t now;
    mem_conn *conns;
    int nconns, conns_cap;
    mem_fd *fds;
    int fds_cap;
    listener *ls;
    int nls;
    int next_port;
};

typedef struct mem_state {
    ws_mem_net *net;
    unsigned *interest;       /* by fd */
    int cap;
    bool woken;
} mem_state;

/* --- the network (client side) ------------------------------------------ */

ws_mem_net *ws_mem_net_new(void)
{
    ws_mem_net *n = calloc(1, sizeof *n);
    if (!n)
        return NULL;
    pthread_mutex_init(&n->mu, NULL);
    pthread_cond_init(&n->cv, NULL);
    n->next_port = 1;
    return n;
}

void ws_mem_net_free(ws_mem_net *n)
{
    if (!n)
        return;
    for (int i = 0; i < n->nconns; i++) {
        free(n->conns[i].c2s.data);
        free(n->conns[i].s2c.data);
    }
    free(n->conns);
    free(n->fds);
    free(n->ls);
    pthread_cond_destroy(&n->cv);
    pthread_mutex_destroy(&n->mu);
    free(n);
}

static int pipe_put(pipe_buf *p, const void *d, size_t len)
{
    if (p->len + len > p->cap) {
        size_t cap = p->cap ? p->cap : 4096;
        while (cap < p->len + len)
            cap *= 2;
        uint8_t *nd = realloc(p->data, cap);
        if (!nd)
            return WS_ENOMEM;
        p->data = nd;
        p->cap = cap;
    }
    memcpy(p->data + p->len, d, len);
    p->len += len;
    return 0;
}

static size_t pipe_take(pipe_buf *p, void *out, size_t cap)
{
    size_t n = p->len < cap ? p->len : cap;
    memcpy(out, p->data, n);
    memmove(p->data, p->data + n, p->len - n);
    p->len -= n;
    return n;
}

static listener *find_listener(ws_mem_net *n, int port)
{
    for (int i = 0; i < n->nls; i++)
        if (n->ls[i].port == port && n->ls[i].fd >= 0)
            return &n->ls[i];
    return NULL;
}

static mem_conn *client_conn(ws_mem_net *n, int c)
{
    return c >= 0 && c < n->nconns && n->conns[c].used ? &n->conns[c] : NULL;
}

int ws_mem_connect(ws_mem_net *n, int port)
{
    pthread_mutex_lock(&n->mu);
    listener *l = find_listener(n, port);
    int rc = WS_ENOTFOUND;
    if (l && l->count == MAX_PENDING)
        rc = WS_EAGAIN;
    else if (l && n->nconns == n->conns_cap) {
        int cap = n->conns_cap ? n->conns_cap * 2 : 64;
        mem_conn *c = realloc(n->conns, (size_t)cap * sizeof *c);
        if (c) {
            n->conns = c;
            n->conns_cap = cap;
        } else {
            rc = WS_ENOMEM;
            l = NULL;
        }
    }
    if (l && rc != WS_EAGAIN) {
        rc = n->nconns++;
        n->conns[rc] = (mem_conn){.used = true, .sfd = -1, .window = SIZE_MAX};
        l->pending[(l->head + l->count++) % MAX_PENDING] = rc;
        pthread_cond_broadcast(&n->cv);
    }
    pthread_mutex_unlock(&n->mu);
    return rc;
}

long ws_mem_write(ws_mem_net *n, int client, const void *data, size_t len)
{
    pthread_mutex_lock(&n->mu);
    mem_conn *c = client_conn(n, client);
    long rc = !c || c->client_closed || c->server_closed ? WS_ECLOSED : pipe_put(&c->c2s, data, len);
    if (rc == 0)
        rc = (long)len;
    pthread_cond_broadcast(&n->cv);
    pthread_mutex_unlock(&n->mu);
    return rc;
}

long ws_mem_read(ws_mem_net *n, int client, void *buf, size_t cap)
{
    pthread_mutex_lock(&n->mu);
    mem_conn *c = client_conn(n, client);
    long rc;
    if (!c)
        rc = WS_ECLOSED;
    else if (c->s2c.len)
        rc = (long)pipe_take(&c->s2c, buf, cap);
    else
        rc = c->server_closed || c->server_shut ? WS_ECLOSED : 0;
    pthread_cond_broadcast(&n->cv);
    pthread_mutex_unlock(&n->mu);
    return rc;
}

void ws_mem_close(ws_mem_net *n, int client)
{
    pthread_mutex_lock(&n->mu);
    mem_conn *c = client_conn(n, client);
    if (c)
        c->client_closed = true;
    pthread_cond_broadcast(&n->cv);
    pthread_mutex_unlock(&n->mu);
}

void ws_mem_reset(ws_mem_net *n, int client)
{
    pthread_mutex_lock(&n->mu);
    mem_conn *c = client_conn(n, client);
    if (c)
        c->client_closed = c->client_reset = true;
    pthread_cond_broadcast(&n->cv);
    pthread_mutex_unlock(&n->mu);
}

int ws_mem_server_closed(ws_mem_net *n, int client)
{
    pthread_mutex_lock(&n->mu);
    mem_conn *c = client_conn(n, client);
    int r = !c || c->server_closed;
    pthread_mutex_unlock(&n->mu);
    return r;
}

void ws_mem_advance(ws_mem_net *n, uint64_t ms)
{
    pthread_mutex_lock(&n->mu);
    n->now += ms;
    pthread_cond_broadcast(&n->cv);
    pthread_mutex_unlock(&n->mu);
}

void ws_mem_set_window(ws_mem_net *n, int client, size_t bytes)
{
    pthread_mutex_lock(&n->mu);
    mem_conn *c = client_conn(n, client);
    if (c)
        c->window = bytes;
    pthread_cond_broadcast(&n->cv);
    pthread_mutex_unlock(&n->mu);
}

/* --- the backend (server side) ------------------------------------------ */

static int new_fd(ws_mem_net *n, int kind, int index)
{
    int fd = 3;
    while (fd < n->fds_cap && n->fds[fd].kind)
        fd++;
    mem_fd *grown = ws__grow_zeroed(n->fds, &n->fds_cap, fd, sizeof *n->fds);
    if (!grown)
        return WS_ENOMEM;
    n->fds = grown;
    n->fds[fd] = (mem_fd){kind, index};
    return fd;
}

static mem_conn *fd_conn(ws_mem_net *n, int fd)
{
    if (fd < 0 || fd >= n->fds_cap || n->fds[fd].kind != 2)
        return NULL;
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
    s->interest[fd] = events | 0x100; /* 0x100 marks "watched" */
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
    unsigned m = 0;
    if (fd >= n->fds_cap)
        return 0;
    if (n->fds[fd].kind == 1) {
        listener *l = &n->ls[n->fds[fd].index];
        return (want & WS_IO_READ) && l->count ? WS_IO_READ : 0;
    }
    mem_conn *c = fd_conn(n, fd);
    if (!c)
        return 0;
    if ((want & WS_IO_READ) && (c->c2s.len || c->client_closed))
        m |= WS_IO_READ;
    if ((want & WS_IO_WRITE) && (c->client_reset || c->s2c.len < c->window))
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

static int m_listen(void *state, const char *addr, int port, int backlog, int *bound_port)
{
    (void)addr;
    (void)backlog;
    ws_mem_net *n = ((mem_state *)state)->net;
    pthread_mutex_lock(&n->mu);
    int rc;
    if (port == 0)
        port = n->next_port++;
    listener *nl = find_listener(n, port) ? NULL : realloc(n->ls, (size_t)(n->nls + 1) * sizeof *nl);
    if (!nl) {
        rc = find_listener(n, port) ? WS_EADDRINUSE : WS_ENOMEM;
    } else {
        n->ls = nl;
        rc = new_fd(n, 1, n->nls);
        if (rc >= 0) {
            n->ls[n->nls++] = (listener){.port = port, .fd = rc};
            *bound_port = port;
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
        rc = new_fd(n, 2, ci);
        if (rc >= 0) {
            l->head = (l->head + 1) % MAX_PENDING;
            l->count--;
            n->conns[ci].sfd = rc;
            snprintf(peer, cap, "mem:%d", ci);
        }
    }
    pthread_mutex_unlock(&n->mu);
    return rc;
}

static long m_read(void *state, int fd, void *buf, size_t len)
{
    ws_mem_net *n = ((mem_state *)state)->net;
    pthread_mutex_lock(&n->mu);
    mem_conn *c = fd_conn(n, fd);
    long rc;
    if (!c)
        rc = WS_EINVAL;
    else if (c->c2s.len)
        rc = (long)pipe_take(&c->c2s, buf, len);
    else
        rc = c->client_closed ? 0 : WS_EAGAIN;
    pthread_mutex_unlock(&n->mu);
    return rc;
}

static long m_writev(void *state, int fd, const struct iovec *iov, int iovcnt)
{
    ws_mem_net *n = ((mem_state *)state)->net;
    pthread_mutex_lock(&n->mu);
    mem_conn *c = fd_conn(n, fd);
    long rc = 0;
    if (!c || c->client_reset) {
        rc = WS_EIO;
    } else {
        for (int i = 0; i < iovcnt; i++) {
            size_t room = c->window > c->s2c.len ? c->window - c->s2c.len : 0;
            size_t k = iov[i].iov_len < room ? iov[i].iov_len : room;
            if (k && pipe_put(&c->s2c, iov[i].iov_base, k) < 0)
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
    mem_conn *c = fd_conn(n, fd);
    if (c)
        c->server_shut = true;
    pthread_mutex_unlock(&n->mu);
}

static void m_close(void *state, int fd)
{
    ws_mem_net *n = ((mem_state *)state)->net;
    pthread_mutex_lock(&n->mu);
    if (fd >= 0 && fd < n->fds_cap) {
        if (n->fds[fd].kind == 2) {
            mem_conn *c = &n->conns[n->fds[fd].index];
            c->server_closed = true;
            c->sfd = -1;
        } else if (n->fds[fd].kind == 1) {
            n->ls[n->fds[fd].index].fd = -1;
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
    .name = "mem", .create = m_create, .destroy = m_destroy, .add = m_add, .mod = m_mod,
    .del = m_del, .poll = m_poll, .wake = m_wake, .listen = m_listen, .accept = m_accept,
    .read = m_read, .writev = m_writev, .shutdown = m_shutdown, .close = m_close, .now_ms = m_now,
};
