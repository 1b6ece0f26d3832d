/* SPDX-License-Identifier: MIT */
#include "session/sendq.h"
#include "io/backend.h"
#include "proto/mask.h"
#include "wschat/error.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Inline chunks are at least WS__CHUNK_MIN bytes, so a burst of small
 * frames shares a few allocations and a single iovec. */
#define CHUNK_MIN WS__CHUNK_MIN
/* Bounds on what a loop keeps after a burst: 8 MiB of inline chunks and
 * 3 MiB of reference chunks at most. */
#define CACHE_INLINE 2048
#define CACHE_REF 65536

void ws__chunk_cache_free(ws__chunk_cache *c)
{
    for (ws__chunk *k = c->inline_free, *n; k; k = n) {
        n = k->next;
        free(k);
    }
    for (ws__chunk *k = c->ref_free, *n; k; k = n) {
        n = k->next;
        free(k);
    }
    c->inline_free = c->ref_free = NULL;
    c->n_inline = c->n_ref = 0;
}

static ws__chunk *take_cached(ws__chunk **list, size_t *n)
{
    ws__chunk *k = *list;
    if (k) {
        *list = k->next;
        (*n)--;
    }
    return k;
}

ws__blob *ws__blob_new(size_t len)
{
    ws__blob *b = malloc(sizeof *b + len);
    if (!b)
        return NULL;
    atomic_init(&b->refs, 1);
    b->len = len;
    return b;
}

void ws__blob_ref(ws__blob *b) { atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed); }

void ws__blob_unref(ws__blob *b)
{
    if (b && atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) == 1)
        free(b);
}

static void push(ws__sendq *q, ws__chunk *c)
{
    c->next = NULL;
    if (q->head)
        q->head->last->next = c;
    else
        q->head = c;
    q->head->last = c;
}

int ws__sendq_append(ws__sendq *q, ws__chunk_cache *k, const void *a, size_t alen, const void *b,
                     size_t blen)
{
    return ws__sendq_append_masked(q, k, a, alen, b, blen, NULL);
}

int ws__sendq_append_masked(ws__sendq *q, ws__chunk_cache *k, const void *a, size_t alen,
                            const void *b, size_t blen, const uint8_t *mask)
{
    size_t n = alen + blen;
    if (n == 0)
        return 0;
    ws__chunk *t = q->head ? q->head->last : NULL;
    if (!t || t->blob || t->cap - t->len < n) {
        size_t cap = n > CHUNK_MIN ? n : CHUNK_MIN;
        t = NULL;
        if (cap == CHUNK_MIN && k)
            t = take_cached(&k->inline_free, &k->n_inline);
        if (!t && !(t = malloc(sizeof *t + cap)))
            return WS_ENOMEM;
        t->blob = NULL;
        t->off = t->len = 0;
        t->cap = cap;
        push(q, t);
    }
    if (alen)
        memcpy(t->data + t->len, a, alen);
    if (blen) {
        memcpy(t->data + t->len + alen, b, blen);
        if (mask) /* the copy into the queue is the one copy masking needs */
            ws__mask(t->data + t->len + alen, blen, mask, 0);
    }
    t->len += n;
    q->bytes += n;
    return 0;
}

int ws__sendq_append_blob(ws__sendq *q, ws__chunk_cache *k, ws__blob *b)
{
    /* A tiny frame is cheaper to copy into the batch than to reference:
     * no allocation, no atomic, and consecutive frames share one iovec. */
    if (b->len <= WS__SENDQ_COPY_MAX)
        return ws__sendq_append(q, k, b->data, b->len, NULL, 0);
    ws__chunk *c = k ? take_cached(&k->ref_free, &k->n_ref) : NULL;
    if (!c && !(c = malloc(sizeof *c)))
        return WS_ENOMEM;
    ws__blob_ref(b);
    c->blob = b;
    c->off = 0;
    c->len = b->len;
    c->cap = 0;
    push(q, c);
    q->bytes += b->len;
    return 0;
}

static void pop(ws__sendq *q, ws__chunk_cache *k)
{
    ws__chunk *c = q->head;
    q->head = c->next;
    if (q->head)
        q->head->last = c->last;
    ws__blob_unref(c->blob);
    if (k && c->blob && k->n_ref < CACHE_REF) {
        c->next = k->ref_free;
        k->ref_free = c;
        k->n_ref++;
    } else if (k && !c->blob && c->cap == CHUNK_MIN && k->n_inline < CACHE_INLINE) {
        c->next = k->inline_free;
        k->inline_free = c;
        k->n_inline++;
    } else {
        free(c);
    }
}

/* The iovecs of the first chunks; with stop_at_blob, none from a shared
 * blob after the first (those go by reference). */
static int gather(const ws__sendq *q, struct iovec *iov, int max, bool stop_at_blob)
{
    int n = 0;
    for (const ws__chunk *c = q->head; c && n < max; c = c->next) {
        if (stop_at_blob && c->blob && n > 0)
            break;
        const uint8_t *base = c->blob ? c->blob->data : c->data;
        iov[n].iov_base = (void *)(base + c->off);
        iov[n++].iov_len = c->len - c->off;
    }
    return n;
}

int ws__sendq_iov(const ws__sendq *q, struct iovec *iov, int max)
{
    return gather(q, iov, max, false);
}

static void release_blob(void *b) { ws__blob_unref(b); }

/* A shared blob at the head goes by reference where the backend keeps
 * references (io_uring): every receiver's send points at the one frame.
 * WS_ENOTSUP: it has no such path (for this fd), writev instead. */
static long write_blob(ws__sendq *q, const ws_io_backend *io, void *st, int fd)
{
    ws__chunk *c = q->head;
    ws__blob_ref(c->blob); /* the backend's, released when it is done */
    long w = ws__io_write_ref(io, st, fd, c->blob->data + c->off, c->len - c->off, release_blob,
                              c->blob);
    if (w <= 0)
        ws__blob_unref(c->blob);
    return w;
}

void ws__sendq_consume(ws__sendq *q, ws__chunk_cache *k, size_t n)
{
    q->bytes -= n;
    while (n > 0) {
        ws__chunk *c = q->head;
        size_t left = c->len - c->off;
        if (n < left) {
            c->off += n;
            break;
        }
        n -= left;
        pop(q, k);
    }
}

long ws__sendq_flush(ws__sendq *q, ws__chunk_cache *k, const ws_io_backend *io, void *st, int fd)
{
    long total = 0;
    bool by_ref = ws__io_can_write_ref(io);
    while (q->head) {
        long w = by_ref && q->head->blob ? write_blob(q, io, st, fd) : WS_ENOTSUP;
        if (w == WS_ENOTSUP) {
            struct iovec iov[WS__SENDQ_IOV];
            int n = gather(q, iov, WS__SENDQ_IOV, by_ref);
            w = io->writev(st, fd, iov, n);
        }
        if (w == WS_EAGAIN)
            return total;
        if (w < 0)
            return w;
        total += w;
        ws__sendq_consume(q, k, (size_t)w);
    }
    return total;
}

void ws__sendq_splice(ws__sendq *to, ws__sendq *from)
{
    if (!from->head)
        return;
    if (to->head) {
        to->head->last->next = from->head;
        to->head->last = from->head->last;
    } else {
        to->head = from->head;
    }
    to->bytes += from->bytes;
    from->head = NULL;
    from->bytes = 0;
}

void ws__sendq_clear(ws__sendq *q, ws__chunk_cache *k)
{
    while (q->head)
        pop(q, k);
    q->bytes = 0;
}
