/* SPDX-License-Identifier: MIT */
/* The runtime both roles share: the configuration, the event loops (one
 * worker thread each, each owning its sessions), access to sessions by id
 * from any thread, signals, and the lifecycle. A ws_server is a host plus a
 * listener and routes; a ws_client is a host alone. Nothing here knows
 * either role. */
#ifndef WS_SESSION_HOST_H
#define WS_SESSION_HOST_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "coro/coro.h"
#include "io/loop.h"
#include "io/resolver.h"
#include "proto/conn.h"
#include "session/sendq.h"
#include "util/log.h"
#include "util/random.h"
#include "wschat/client.h"
#include "wschat/close.h"
#include "wschat/server.h"

typedef struct ws__host ws__host;

/* A session table entry, one word (idle memory): the session, or while the
 * slot is free the generation its next session's id gets, as gen << 1 | 1
 * (a session pointer is aligned, so never odd). */
typedef struct ws__slot {
    uintptr_t v;
} ws__slot;

static inline ws_session *ws__slot_session(const ws__slot *sl)
{
    return sl->v & 1 ? NULL : (ws_session *)sl->v;
}

/* Output held back for a session whose own fragmented message
 * (ws_send_frame) is unfinished: a new message must not go inside it. Rare,
 * so kept per loop rather than in every session (idle memory). */
typedef struct ws__deferred {
    ws_session *s;
    ws__sendq q;
} ws__deferred;

/* What a loop has done (ws_server_get_stats). Only the loop's own thread
 * writes them (ws__count: a plain load and store, no locked instruction);
 * any thread may read them. */
typedef struct ws__counters {
    atomic_uint_fast64_t msgs_in, msgs_out, bytes_in, bytes_out, deliveries;
    atomic_uint_fast64_t closes[WS_CAUSE_CONNECT + 1];
} ws__counters;

static inline void ws__count(atomic_uint_fast64_t *c, uint64_t n)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

typedef struct ws__worker {
    ws__host *host;
    ws__loop loop;
    int index;
    pthread_t thread;
    bool thread_started;
    ws__slot *slots; /* session table: id -> session, this loop only */
    uint32_t nslots, slots_cap;
    uint32_t *free_slots;
    uint32_t nfree;
    /* Sessions with unflushed output: a worker-wide vector rather than a
     * link in every session (idle memory). */
    ws_session **dirty;
    size_t ndirty, dirty_cap;
    ws_session *current; /* session whose coroutine is running */
    ws__stack_pool stacks;
    ws__chunk_cache chunks; /* recycled send-queue chunks */
    ws__random rnd;         /* masking keys for client sessions, drawn in batches */
    uint8_t *tls_scratch;   /* ciphertext just read, for this loop's TLS sessions (lazy) */
    /* Broadcast frames of one group waiting to go out as one shared chunk
     * per member before the next poll (session/group.c). */
    struct ws_group *bgroup;
    ws__blob *bblob;
    size_t bcap;
    uint64_t bframes;    /* frames in bblob */
    ws_session_id *bids; /* scratch: the group's members on this loop */
    size_t bids_cap;
    ws__deferred *deferred;
    size_t ndeferred, deferred_cap;
    size_t nconns; /* connections owned, any phase */
    bool stopping;
    uint64_t stop_deadline;
    ws__counters counters;
} ws__worker;

enum { WS__HOST_NEW, WS__HOST_RUNNING, WS__HOST_STOPPING, WS__HOST_STOPPED };

/* Which engine configuration a session uses. */
enum { WS__ROLE_SERVER = 0, WS__ROLE_CLIENT = 1 };

struct ws__host {
    ws_config cfg;               /* with defaults filled in */
    ws__conn_config conn_cfg[2]; /* per role: what every session's engine reads (shared) */
    /* Per role: its hooks, recorded by the first session of that role (so
     * that no session carries the pointer). Every store is of the same
     * constant, so relaxed order is enough. */
    _Atomic(const struct ws__role *) roles[2];
    const ws_io_backend *io;
    ws__logger log;
    ws__worker *workers;
    int nworkers;
    atomic_int state;
    atomic_int stop_requested;
    atomic_size_t nconns;            /* all connections, for max_connections */
    atomic_size_t nsessions;         /* open WebSocket sessions */
    atomic_uint_fast64_t broadcasts; /* from any thread: a locked add each */
    unsigned rr;                     /* round-robin cursor for new connections */
    ws__resolver resolver;           /* host names, off the loop threads */
    /* The TLS context of client connections given no TLS options (the
     * system's trust store), made on first use. */
    struct ws__tls_ctx *client_tls;
    pthread_mutex_t client_tls_mu;
    /* The owner: exactly one is set. */
    ws_server *server;
    ws_client *client;
    /* Called on loop 0 when a stop begins, before sessions are closed
     * (the server closes its listener). May be NULL. */
    void (*on_stop)(ws__host *h);
    pthread_t sig_thread;
    bool sig_thread_started;
    atomic_int sig_exit;
    sigset_t sig_old_mask;
};

/* A server's host (defined by the server layer), so that the client layer
 * can open connections on a server's loops without knowing the server. */
ws__host *ws__server_host(ws_server *srv);

/* Fills defaults and validates. Returns 0 or WS_EINVAL. */
int ws__config_resolve(ws_config *out, const ws_config *in);

/* Resolves the configuration and the backend. Returns 0, WS_EINVAL or
 * WS_ENOTSUP (unknown backend). */
int ws__host_init(ws__host *h, const ws_config *cfg);
/* Creates the loops and, unless cfg.no_signals, the signal thread. Loop 0
 * belongs to the calling thread. Returns 0 or a ws_err (nothing started). */
int ws__host_prepare(ws__host *h);
/* Undoes ws__host_prepare after the owner's own setup failed. */
void ws__host_unprepare(ws__host *h);
/* Starts the other loop threads: the host is running. */
void ws__host_launch(ws__host *h);
/* Runs loop 0 until stopped, then stops gracefully (1001 to every session,
 * at most close_timeout_ms) and joins the other loops. */
int ws__host_run(ws__host *h);
/* One iteration of loop 0 (threads = 1 only): 1 while running, 0 once
 * stopped, WS_ESTATE with more loops. */
int ws__host_step(ws__host *h, int timeout_ms);
/* Asks for a graceful stop: any thread, signal handlers too. */
void ws__host_stop(ws__host *h);
/* Frees everything the host owns (after run returned, or never started). */
void ws__host_fini(ws__host *h);

/* The worker a new connection goes to: the caller's loop when called on a
 * loop thread, else the next one round robin. */
ws__worker *ws__host_pick_worker(ws__host *h);
/* Resolves an id on its own worker's thread; NULL when stale. */
ws_session *ws__worker_lookup(ws__worker *w, ws_session_id id);

/* A new reference to the default client TLS context (made on first use).
 * Returns 0, or the error making it (WS_ENOTSUP without TLS, WS_ETLS). */
int ws__host_client_tls(ws__host *h, struct ws__tls_ctx **out);

/* Sends a message to, or closes, a session by id from any thread (the
 * public ws_server_send / ws_client_send and friends). */
int ws__host_send(ws__host *h, ws_session_id id, bool binary, const void *data, size_t len);
int ws__host_close_session(ws__host *h, ws_session_id id, uint16_t code, const char *reason);

/* Signal handling around ws__host_run (signals.c). */
int ws__signals_start(ws__host *h);
void ws__signals_stop(ws__host *h);

/* Session id layout: generation (32 bits) | worker (8 bits) | slot (24). */
#define WS__ID(gen, worker, slot) \
    ((uint64_t)(gen) << 32 | (uint64_t)(worker) << 24 | (uint64_t)(slot))
#define WS__ID_WORKER(id) ((int)(((id) >> 24) & 0xFF))
#define WS__ID_SLOT(id) ((uint32_t)((id)&0xFFFFFF))
#define WS__ID_GEN(id) ((uint32_t)((id) >> 32))

#endif
