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
#include "io/mem_net.h"
#include "wschat/error.h"

#include <stdlib.h>
#include <string.h>

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

int ws__mem_pipe_put(pipe_buf *p, const void *d, size_t len)
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

size_t ws__mem_pipe_take(pipe_buf *p, void *out, size_t cap)
{
    size_t n = p->len < cap ? p->len : cap;
    memcpy(out, p->data, n);
    memmove(p->data, p->data + n, p->len - n);
    p->len -= n;
    return n;
}

listener *ws__mem_find_listener(ws_mem_net *n, int port)
{
    for (int i = 0; i < n->nls; i++)
        if (n->ls[i].used && n->ls[i].port == port)
            return &n->ls[i];
    return NULL;
}

/* Adds a listener (fd -1 when the test listens). Returns it or NULL. */
listener *ws__mem_add_listener(ws_mem_net *n, int *port, int *err)
{
    if (*port == 0)
        *port = n->next_port++;
    if (ws__mem_find_listener(n, *port)) {
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
int ws__mem_new_conn(ws_mem_net *n, int port, int test_end)
{
    listener *l = ws__mem_find_listener(n, port);
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
    int rc = ws__mem_new_conn(n, port, CLIENT);
    pthread_mutex_unlock(&n->mu);
    return rc;
}

int ws_mem_listen(ws_mem_net *n, int port, int *bound)
{
    pthread_mutex_lock(&n->mu);
    int rc = 0;
    if (ws__mem_add_listener(n, &port, &rc) && bound)
        *bound = port;
    pthread_mutex_unlock(&n->mu);
    return rc;
}

int ws_mem_accept(ws_mem_net *n, int port)
{
    pthread_mutex_lock(&n->mu);
    listener *l = ws__mem_find_listener(n, port);
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
    listener *l = ws__mem_find_listener(n, port);
    if (l && l->fd < 0)
        l->used = false;
    pthread_mutex_unlock(&n->mu);
}

long ws_mem_write(ws_mem_net *n, int h, const void *data, size_t len)
{
    pthread_mutex_lock(&n->mu);
    int e;
    mem_conn *c = test_conn(n, h, &e);
    long rc = !c || c->closed[e] || c->gone[!e] ? WS_ECLOSED
                                                : ws__mem_pipe_put(&c->out[e], data, len);
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
        rc = (long)ws__mem_pipe_take(&c->out[!e], buf, cap);
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
