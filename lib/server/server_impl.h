/* SPDX-License-Identifier: MIT */
/* The server and its workers (one event loop thread each). */
#ifndef WS_SERVER_SERVER_IMPL_H
#define WS_SERVER_SERVER_IMPL_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "coro/coro.h"
#include "io/loop.h"
#include "proto/conn.h"
#include "server/router.h"
#include "server/sendq.h"
#include "util/log.h"
#include "wschat/ext.h"
#include "wschat/server.h"

typedef struct ws__slot {
    ws_session *s;
    uint32_t gen;
} ws__slot;

/* Output held back for a session whose own fragmented message
 * (ws_send_frame) is unfinished: a new message must not go inside it. Rare,
 * so kept per loop rather than in every session (idle memory). */
typedef struct ws__deferred {
    ws_session *s;
    ws__sendq q;
} ws__deferred;

typedef struct ws__worker {
    ws_server *srv;
    ws__loop loop;
    int index;
    pthread_t thread;
    bool thread_started;
    ws__slot *slots;          /* session table: id -> session, this loop only */
    uint32_t nslots, slots_cap;
    uint32_t *free_slots;
    uint32_t nfree;
    /* Sessions with unflushed output: a worker-wide vector rather than a
     * link in every session (idle memory). */
    ws_session **dirty;
    size_t ndirty, dirty_cap;
    ws_session *current;      /* session whose coroutine is running */
    ws__stack_pool stacks;
    ws__chunk_cache chunks;   /* recycled send-queue chunks */
    /* Broadcast frames of one group waiting to go out as one shared chunk
     * per member before the next poll (server/group.c). */
    struct ws_group *bgroup;
    ws__blob *bblob;
    size_t bcap;
    ws_session_id *bids;      /* scratch: the group's members on this loop */
    size_t bids_cap;
    ws__deferred *deferred;
    size_t ndeferred, deferred_cap;
    size_t nconns;            /* connections owned, any phase */
    bool stopping;
    uint64_t stop_deadline;
} ws__worker;

enum { WS__SRV_NEW, WS__SRV_RUNNING, WS__SRV_STOPPING, WS__SRV_STOPPED };

struct ws_server {
    ws_config cfg;            /* with defaults filled in */
    ws__conn_config conn_cfg; /* what every session's engine reads (shared) */
    const ws_io_backend *io;
    ws__logger log;
    ws__router routes;
    ws_extension exts[4];     /* server-wide extensions, in registration order */
    size_t nexts;
    ws__worker *workers;
    int nworkers;
    int listen_fd;
    int port;
    atomic_int state;
    atomic_int stop_requested;
    atomic_size_t nconns;     /* all connections, for max_connections */
    atomic_size_t nsessions;  /* open WebSocket sessions */
    unsigned rr;              /* round-robin cursor for accepted connections */
    bool accept_paused;
    ws__timer accept_timer;
    pthread_t sig_thread;
    bool sig_thread_started;
    atomic_int sig_exit;
    sigset_t sig_old_mask;
};

/* Fills defaults and validates. Returns 0 or WS_EINVAL. */
int ws__config_resolve(ws_config *out, const ws_config *in);

/* Session id layout: generation (32 bits) | worker (8 bits) | slot (24). */
#define WS__ID(gen, worker, slot) \
    ((uint64_t)(gen) << 32 | (uint64_t)(worker) << 24 | (uint64_t)(slot))
#define WS__ID_WORKER(id) ((int)(((id) >> 24) & 0xFF))
#define WS__ID_SLOT(id) ((uint32_t)((id) & 0xFFFFFF))
#define WS__ID_GEN(id) ((uint32_t)((id) >> 32))

/* Resolves an id on its own worker's thread; NULL when stale. */
ws_session *ws__worker_lookup(ws__worker *w, ws_session_id id);

/* Hands an accepted fd to a worker (posting when it is another thread). */
void ws__server_dispatch_fd(ws_server *srv, int fd, const char *peer);
/* Worker shutdown step: close every session with 1001. */
void ws__worker_begin_stop(ws__worker *w);

/* Signal handling around ws_server_run (signals.c). */
int ws__signals_start(ws_server *srv);
void ws__signals_stop(ws_server *srv);

#endif
