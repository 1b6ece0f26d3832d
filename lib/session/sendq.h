/* SPDX-License-Identifier: MIT */
/* Per-session send queue. Small frames are coalesced into the tail chunk;
 * a broadcast frame is shared by reference (a refcounted blob), so N
 * recipients cost N pointers, not N copies. Flushing is one writev of up to
 * WS__SENDQ_IOV chunks. */
#ifndef WS_SESSION_SENDQ_H
#define WS_SESSION_SENDQ_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "wschat/io.h"

typedef struct ws__blob {
    atomic_int refs;
    size_t len;
    uint8_t data[];
} ws__blob;

ws__blob *ws__blob_new(size_t len);
void ws__blob_ref(ws__blob *b);
void ws__blob_unref(ws__blob *b);

typedef struct ws__chunk {
    struct ws__chunk *next;
    struct ws__chunk *last; /* in a queue's first chunk: its last one (the queue keeps no tail) */
    ws__blob *blob;         /* shared bytes, or NULL for inline data */
    size_t off;             /* bytes already written */
    size_t len;             /* bytes in the chunk */
    size_t cap;             /* inline capacity */
    uint8_t data[];
} ws__chunk;

/* Recycled chunks, one cache per loop (so no locking): the hot path then
 * allocates nothing per message. Bounded, so a burst does not pin memory. */
typedef struct ws__chunk_cache {
    ws__chunk *inline_free; /* WS__CHUNK_MIN-byte inline chunks */
    size_t n_inline;
    ws__chunk *ref_free; /* bare chunks that reference a blob */
    size_t n_ref;
} ws__chunk_cache;

#define WS__CHUNK_MIN 4096

/* Every function that takes or gives back chunks is handed the owning
 * loop's cache (or NULL), so that no queue stores a pointer to it. */
typedef struct ws__sendq {
    ws__chunk *head; /* head->last is the tail */
    size_t bytes;    /* queued and unwritten */
} ws__sendq;

/* Frees every cached chunk. */
void ws__chunk_cache_free(ws__chunk_cache *c);

#define WS__SENDQ_IOV 64
/* Shared frames up to this size are copied into the batch instead. */
#define WS__SENDQ_COPY_MAX 256

/* Appends a then b (either may be empty) as one copy. 0 or WS_ENOMEM. */
int ws__sendq_append(ws__sendq *q, ws__chunk_cache *k, const void *a, size_t alen, const void *b,
                     size_t blen);
/* The same, with b masked (RFC 6455 5.3) by the 4-byte mask if not NULL. */
int ws__sendq_append_masked(ws__sendq *q, ws__chunk_cache *k, const void *a, size_t alen,
                            const void *b, size_t blen, const uint8_t *mask);
/* Appends a shared blob (takes a reference). 0 or WS_ENOMEM. */
int ws__sendq_append_blob(ws__sendq *q, ws__chunk_cache *k, ws__blob *b);
/* Writes as much as the transport takes. Returns bytes written (>= 0), or a
 * negative ws_err other than WS_EAGAIN on a broken connection. */
long ws__sendq_flush(ws__sendq *q, ws__chunk_cache *k, const ws_io_backend *io, void *st, int fd);
/* The first (at most max) chunks' unwritten bytes, for a writer of its
 * own (TLS); returns how many iovecs it filled. */
int ws__sendq_iov(const ws__sendq *q, struct iovec *iov, int max);
/* Drops n bytes from the front (they were written). */
void ws__sendq_consume(ws__sendq *q, ws__chunk_cache *k, size_t n);
/* Moves every chunk of `from` to the end of `to`, leaving `from` empty. */
void ws__sendq_splice(ws__sendq *to, ws__sendq *from);
void ws__sendq_clear(ws__sendq *q, ws__chunk_cache *k);

#endif
