/* SPDX-License-Identifier: MIT */
/* The in-memory backend: a virtual network of byte pipes and a virtual
 * clock, shared by the library's loops and the test through a ws_mem_net.
 * Nothing here touches a socket or the real clock, so whole sessions run
 * deterministically: a test advances the clock itself.
 *
 * A connection has two ends, the client's (0) and the server's (1). Each
 * end is held either by a loop (as a virtual fd) or by the test (as a
 * handle): a test client talks to a library server, a library client to a
 * test server, or a library client to a library server, all alike. */
#include "io/backend.h"
#include "util/array.h"
#include "wschat/error.h"

#include <netinet/in.h>
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

enum { CLIENT = 0, SERVER = 1 };

typedef struct mem_conn {
    bool used;
    int test_end;     /* the end the test holds, or -1 (both ends are loops') */
    int fd[2];        /* each end's virtual fd, -1 if the test's or closed */
    pipe_buf out[2];  /* out[e]: bytes written by end e, read by the other */
    bool closed[2];   /* end e writes no more (closed or half-closed) */
    bool reset[2];    /* end e closed abortively: the other's writes fail */
    bool gone[2];     /* end e is fully closed (a loop's fd closed) */
    size_t window[2]; /* how much end e may have in out[e] unread */
} mem_conn;

typedef struct mem_fd {
    int kind;  /* 0 free, 1 listener, 2 connection end */
    int index; /* listener slot or connection index */
    int end;   /* connection ends: CLIENT or SERVER */
} mem_fd;

#define MAX_PENDING 4096

typedef struct listener {
    int port;
    int fd; /* the loop's listening fd, or -1 if the test listens */
    bool used;
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

/* --- the network ---------------------------------------------------------- */

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
        free(n->conns[i].out[0].data);
        free(n->conns[i].out[1].data);
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
        if (n->ls[i].used && n->ls[i].port == port)
            return &n->ls[i];
    return NULL;
}

/* Adds a listener (fd -1 when the test listens). Returns it or NULL. */
static listener *add_listener(ws_mem_net *n, int *port, int *err)
{
    if (*port == 0)
        *port = n->next_port++;
    if (find_listener(n, *port)) {
        *err = WS_EADDRINUSE;
        return NULL;
    }
    listener *nl = realloc(n->ls, (size_t)(n->nls + 1) * sizeof *nl);
    if (!nl) {
        *err = WS_ENOMEM;
        return NULL;
    }
    n->ls = nl;
    nl = &n->ls[n->nls++];
    *nl = (listener){.port = *port, .fd = -1, .used = true};
    return nl;
}

/* A new connection to `port`, queued on its listener. Returns its index or
 * WS_ENOTFOUND (nobody listens), WS_EAGAIN (backlog full), WS_ENOMEM. */
static int new_conn(ws_mem_net *n, int port, int test_end)
{
    listener *l = find_listener(n, port);
    if (!l)
        return WS_ENOTFOUND;
    if (l->count == MAX_PENDING)
        return WS_EAGAIN;
    if (n->nconns == n->conns_cap) {
        int cap = n->conns_cap ? n->conns_cap * 2 : 64;
        mem_conn *c = realloc(n->conns, (size_t)cap * sizeof *c);
        if (!c)
            return WS_ENOMEM;
        n->conns = c;
        n->conns_cap = cap;
    }
    int ci = n->nconns++;
    n->conns[ci] = (mem_conn){
        .used = true, .test_end = test_end, .fd = {-1, -1}, .window = {SIZE_MAX, SIZE_MAX}};
    l->pending[(l->head + l->count++) % MAX_PENDING] = ci;
    pthread_cond_broadcast(&n->cv);
    return ci;
}

/* The connection behind a test handle, and which end the test holds. */
static mem_conn *test_conn(ws_mem_net *n, int h, int *end)
{
    if (h < 0 || h >= n->nconns || !n->conns[h].used || n->conns[h].test_end < 0)
        return NULL;
    *end = n->conns[h].test_end;
    return &n->conns[h];
}

int ws_mem_connect(ws_mem_net *n, int port)
{
    pthread_mutex_lock(&n->mu);
    int rc = new_conn(n, port, CLIENT);
    pthread_mutex_unlock(&n->mu);
    return rc;
}

int ws_mem_listen(ws_mem_net *n, int port, int *bound)
{
    pthread_mutex_lock(&n->mu);
    int rc = 0;
    if (add_listener(n, &port, &rc) && bound)
        *bound = port;
    pthread_mutex_unlock(&n->mu);
    return rc;
}

int ws_mem_accept(ws_mem_net *n, int port)
{
    pthread_mutex_lock(&n->mu);
    listener *l = find_listener(n, port);
    int rc = WS_EAGAIN;
    if (!l || l->fd >= 0) {
        rc = WS_ENOTFOUND;
    } else if (l->count) {
        rc = l->pending[l->head];
        l->head = (l->head + 1) % MAX_PENDING;
        l->count--;
        n->conns[rc].test_end = SERVER;
    }
    pthread_mutex_unlock(&n->mu);
    return rc;
}

void ws_mem_unlisten(ws_mem_net *n, int port)
{
    pthread_mutex_lock(&n->mu);
    listener *l = find_listener(n, port);
    if (l && l->fd < 0)
        l->used = false;
    pthread_mutex_unlock(&n->mu);
}

long ws_mem_write(ws_mem_net *n, int h, const void *data, size_t len)
{
    pthread_mutex_lock(&n->mu);
    int e;
    mem_conn *c = test_conn(n, h, &e);
    long rc = !c || c->closed[e] || c->gone[!e] ? WS_ECLOSED : pipe_put(&c->out[e], data, len);
    if (rc == 0)
        rc = (long)len;
    pthread_cond_broadcast(&n->cv);
    pthread_mutex_unlock(&n->mu);
    return rc;
}

long ws_mem_read(ws_mem_net *n, int h, void *buf, size_t cap)
{
    pthread_mutex_lock(&n->mu);
    int e;
    mem_conn *c = test_conn(n, h, &e);
    long rc;
    if (!c)
        rc = WS_ECLOSED;
    else if (c->out[!e].len)
        rc = (long)pipe_take(&c->out[!e], buf, cap);
    else
        rc = c->closed[!e] ? WS_ECLOSED : 0;
    pthread_cond_broadcast(&n->cv);
    pthread_mutex_unlock(&n->mu);
    return rc;
}

void ws_mem_close(ws_mem_net *n, int h)
{
    pthread_mutex_lock(&n->mu);
    int e;
    mem_conn *c = test_conn(n, h, &e);
    if (c)
        c->closed[e] = true;
    pthread_cond_broadcast(&n->cv);
    pthread_mutex_unlock(&n->mu);
}

void ws_mem_reset(ws_mem_net *n, int h)
{
    pthread_mutex_lock(&n->mu);
    int e;
    mem_conn *c = test_conn(n, h, &e);
    if (c)
        c->closed[e] = c->reset[e] = true;
    pthread_cond_broadcast(&n->cv);
    pthread_mutex_unlock(&n->mu);
}

int ws_mem_server_closed(ws_mem_net *n, int h)
{
    pthread_mutex_lock(&n->mu);
    int e;
    mem_conn *c = test_conn(n, h, &e);
    int r = !c || c->gone[!e];
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

void ws_mem_set_window(ws_mem_net *n, int h, size_t bytes)
{
    pthread_mutex_lock(&n->mu);
    int e;
    mem_conn *c = test_conn(n, h, &e);
    if (c)
        c->window[!e] = bytes;
    pthread_cond_broadcast(&n->cv);
    pthread_mutex_unlock(&n->mu);
}

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

static int m_listen(void *state, const char *addr, int port, int backlog, int *bound_port)
{
    (void)addr;
    (void)backlog;
    ws_mem_net *n = ((mem_state *)state)->net;
    pthread_mutex_lock(&n->mu);
    int rc = 0;
    listener *l = add_listener(n, &port, &rc);
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
    int ci = new_conn(n, port, -1);
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
        rc = (long)pipe_take(&c->out[!e], buf, len);
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
            if (k && pipe_put(p, iov[i].iov_base, k) < 0)
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
