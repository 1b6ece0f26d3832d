/* SPDX-License-Identifier: MIT */
/* The server: configuration, lifecycle, and thread-safe access to sessions
 * by id.
 *
 * Threading: ws_server_new/route registration/ws_server_free belong to one
 * thread (the one that calls ws_server_run). ws_server_stop, ws_server_send
 * and ws_server_close_session may be called from any thread.
 */
#ifndef WSCHAT_SERVER_H
#define WSCHAT_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api.h"
#include "io.h"
#include "log.h"

WS_BEGIN_DECLS

typedef struct ws_server ws_server;
typedef struct ws_session ws_session;

/* Names a session across threads: a stale id fails with WS_ESTALE instead of
 * touching freed memory. 0 is never a valid id. */
typedef uint64_t ws_session_id;

/* Use for a timeout field to switch that timer off. */
#define WS_DISABLED UINT32_MAX

/* Server configuration. Zero-initialise and set what you need: every field
 * left 0 takes the documented default (docs/security.md lists the limits).
 * The struct is copied by ws_server_new; strings must outlive the server. */
typedef struct ws_config {
    const char *bind;            /* address to listen on; NULL = "0.0.0.0" */
    int port;                    /* 0 = an ephemeral port, see ws_server_port() */
    int threads;                 /* event loops; 0 = 1 */
    int backlog;                 /* listen backlog; 0 = 1024 */
    const char *backend;         /* "epoll", "poll", "kqueue", "mem"; NULL = build default */
    const ws_io_backend *io;     /* custom backend (overrides `backend`) */
    void *io_arg;                /* passed to the backend's create (ws_mem_net for "mem") */

    uint32_t ping_period_ms;     /* ping every session this often; 0 = 30000 */
    uint32_t timeout_ms;         /* close a session silent this long (1001); 0 = 60000 */
    uint32_t handshake_timeout_ms; /* whole HTTP request within; 0 = 10000 */
    uint32_t close_timeout_ms;   /* wait for the peer's close / drain at shutdown; 0 = 5000 */

    uint64_t max_frame_size;     /* 1009 above it; 0 = 16 MiB */
    uint64_t max_message_size;   /* 1009 above it (after inflate); 0 = 16 MiB */
    size_t fragment_size;        /* split outgoing messages above it; 0 = never */
    bool masking;                /* mask outgoing frames (Ktor's option; not RFC-compliant) */

    size_t send_high_water;      /* suspend a handler / await drain above it; 0 = 1 MiB */
    size_t send_hard_limit;      /* close with 1008 above it; 0 = max(64 MiB, 2 x max message) */
    size_t max_connections;      /* refuse (503) above it; 0 = 100000 */
    size_t max_header_bytes;     /* 431 above it; 0 = 8192 */
    size_t max_headers;          /* 431 above it; 0 = 64 (at most 128) */
    size_t max_uri;              /* 414 above it; 0 = 4096 */
    size_t stack_size;           /* per sequential handler; 0 = 256 KiB */
    /* Sequential handlers of a loop share one stack: a waiting handler
     * keeps only the bytes its frames use (copied out and back when
     * another runs), instead of a page of its own. Its locals then cannot
     * be read from outside it while it waits (set them as session data
     * or close-callback data and they are not there): true gives every
     * handler its own stack instead. See docs/architecture.md. */
    bool private_stacks;

    ws_log_fn log;               /* NULL = silent */
    void *log_ud;
    ws_log_level log_level;      /* 0 = WS_LOG_INFO */
    bool no_signals;             /* leave SIGINT/SIGTERM alone (see ws_server_start) */
    bool reuse_port;             /* share bind:port with other processes (SO_REUSEPORT) */
} ws_config;

/* Creates a server. cfg may be NULL for all defaults. Nothing is bound until
 * ws_server_start/ws_server_run. Returns NULL on invalid configuration or
 * out of memory; *err (if not NULL) then says which. */
WS_API ws_server *ws_server_new(const ws_config *cfg);
WS_API ws_server *ws_server_new_err(const ws_config *cfg, int *err);

/* Binds, listens and starts the event loops (threads - 1 of them on new
 * threads; loop 0 runs in ws_server_run or ws_server_step). Unless
 * cfg.no_signals, it also blocks SIGINT and SIGTERM in the calling thread
 * (the loop threads inherit that) and starts a thread that turns them into
 * ws_server_stop(); the previous mask is restored when ws_server_run
 * returns or the server is freed. Returns 0,
 * WS_EADDRINUSE, WS_EACCES, WS_ENOTSUP (unknown backend), WS_ESTATE if
 * already started. If it fails, nothing was started. */
WS_API int ws_server_start(ws_server *srv);

/* What the server has done since it started, summed over its loops (each
 * counter read atomically; together they are not one instant's). */
typedef struct ws_server_stats {
    uint64_t sessions_open; /* WebSocket sessions open now */
    uint64_t connections;   /* TCP connections open now, any phase */
    uint64_t messages_in;   /* whole messages (frames, in frame mode) received */
    uint64_t messages_out;  /* data messages sent (each broadcast copy counts) */
    uint64_t bytes_in;      /* WebSocket bytes read (plaintext under TLS) */
    uint64_t bytes_out;     /* WebSocket bytes queued for sending */
    uint64_t broadcasts;    /* ws_group_broadcast* calls */
    uint64_t deliveries;    /* broadcast frames handed to members */
    uint64_t closes[9];     /* sessions ended, indexed by ws_close_cause */
} ws_server_stats;

/* Fills *out. Any thread; cheap (no lock). */
WS_API void ws_server_get_stats(ws_server *srv, ws_server_stats *out);

/* The port actually bound (useful with port 0), or WS_ESTATE before start. */
WS_API int ws_server_port(const ws_server *srv);

/* Runs loop 0 until ws_server_stop() or, unless cfg.no_signals, SIGINT or
 * SIGTERM; then stops accepting, sends close 1001 to every session, waits at
 * most close_timeout_ms for them to end and returns 0. Starts the server
 * first if needed (returning ws_server_start's error if that fails). */
WS_API int ws_server_run(ws_server *srv);

/* Runs one iteration of loop 0, waiting at most timeout_ms for I/O. Only for
 * threads = 1 (WS_ESTATE otherwise); lets tests and embedders drive the
 * server step by step. Returns 1 while the server is running, 0 once it has
 * fully stopped. */
WS_API int ws_server_step(ws_server *srv, int timeout_ms);

/* Asks the server to stop gracefully. Safe from any thread and from a signal
 * handler (epoll and poll backends). Idempotent. */
WS_API void ws_server_stop(ws_server *srv);

/* Frees a server that is not running (never started, or run returned). */
WS_API void ws_server_free(ws_server *srv);

/* Number of sessions (WebSocket, past the handshake) now open. Thread-safe. */
WS_API size_t ws_server_session_count(const ws_server *srv);

/* Sends a text (binary = false) or binary message to a session by id from
 * any thread. Copies data. Returns 0 when queued to the session's loop,
 * WS_ESTALE if the session is gone, WS_ENOMEM. Delivery order between two
 * calls from the same thread is preserved. */
WS_API int ws_server_send(ws_server *srv, ws_session_id id, bool binary, const void *data,
                          size_t len);

/* Closes a session by id from any thread. Same returns as ws_server_send. */
WS_API int ws_server_close_session(ws_server *srv, ws_session_id id, uint16_t code,
                                   const char *reason);

WS_END_DECLS

#endif
