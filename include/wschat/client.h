/* SPDX-License-Identifier: MIT */
/* The client side: open WebSocket connections to a URL.
 *
 * A client connection is a ws_session like any other: ws_recv, ws_send_*,
 * ws_close, ws_on_close, groups and ids work on it with the same meaning as
 * on a server session, with either handler style.
 *
 * Two ways to run one:
 *   - a program that only connects creates a ws_client (event loops and
 *     nothing else: no listening socket) and calls ws_connect on it;
 *   - a server program calls ws_server_connect, and the connection lives
 *     on the server's own loops, next to its server sessions (a bridge, a
 *     proxy, a fan-in).
 *
 * Connecting never blocks a loop: a numeric address is connected at once,
 * a host name is resolved on a helper thread, and connect_timeout_ms covers
 * both. An attempt that fails before the session opens never starts the
 * handler (or on_open): on_fail says why, with its own error code for each
 * cause (WS_ECONNREFUSED, WS_ERESOLVE, WS_ETIMEDOUT, WS_EHTTP, WS_ESTATUS,
 * WS_EREDIRECT, WS_EUPGRADE, WS_EACCEPT, WS_ESUBPROTO, WS_EEXTENSION, ...).
 * Redirects (3xx) are reported, never followed.
 *
 * Every frame a client sends is masked with a fresh key from the system's
 * CSPRNG (drawn in batches); a server frame that arrives masked fails the
 * connection with 1002.
 */
#ifndef WSCHAT_CLIENT_H
#define WSCHAT_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api.h"
#include "close.h"
#include "route.h"
#include "server.h"

WS_BEGIN_DECLS

typedef struct ws_client ws_client;
struct ws_extension;

/* Per-connection options. Zero-initialise and set what you need; strings
 * and arrays are copied by ws_connect. */
typedef struct ws_connect_options {
    /* Extra request headers, each "Name: value" (no CR or LF), e.g.
     * "Origin: https://example.com", "Authorization: Bearer x", "Cookie:
     * a=b". The handshake's own headers (Host, Upgrade, Connection,
     * Sec-WebSocket-*) may not be given here. */
    const char *const *headers;
    size_t nheaders;
    /* Subprotocols to offer, in preference order (at most 255). The server
     * must pick one of them or none; anything else fails with WS_ESUBPROTO. */
    const char *const *protocols;
    size_t nprotocols;
    /* Extensions to offer (e.g. ws_deflate_new()'s), in order. Each must
     * have the client half of the interface (offer and accept). They must
     * outlive the connection. */
    const struct ws_extension *const *extensions;
    size_t nextensions;
    /* wss:// only: a CA file, a client certificate, another name to check
     * (see tls.h). NULL = the system's trust store and the URL's host. */
    const struct ws_tls_options *tls;
    uint32_t connect_timeout_ms; /* name lookup + TCP connect; 0 = 10000 */
    uint32_t
        handshake_timeout_ms; /* TLS handshake and request to 101; 0 = cfg.handshake_timeout_ms */
    uint32_t ping_period_ms;  /* 0 = cfg.ping_period_ms; WS_DISABLED = never */
    uint32_t timeout_ms;      /* idle timeout; 0 = cfg.timeout_ms; WS_DISABLED = never */
    /* Called once, on the connection's loop thread, if the attempt fails
     * before the session opens (the handler or on_open then never runs):
     * r->cause is WS_CAUSE_CONNECT, r->err the reason's code,
     * r->http_status the status of a non-101 answer. id is the one
     * ws_connect returned. May be NULL. */
    void (*on_fail)(ws_session_id id, const ws_close_reason *r, void *app);
} ws_connect_options;

/* --- A program that only connects --------------------------------------- */

/* Creates a client: cfg.threads event loops (default 1) with the
 * configuration's backend, limits and timers; the listener fields (bind,
 * port, backlog, max_connections) are ignored. cfg may be NULL. Returns
 * NULL on bad configuration (*err = WS_EINVAL), unknown backend
 * (WS_ENOTSUP) or WS_ENOMEM; err may be NULL. Thread: the one that will
 * run the client. */
WS_API ws_client *ws_client_new(const ws_config *cfg, int *err);

/* Runs loop 0 on the calling thread (and starts the other loops) until
 * ws_client_stop, or, unless cfg.no_signals, SIGINT or SIGTERM; then every
 * open session is closed with 1001 and given close_timeout_ms to finish,
 * and pending attempts fail with WS_ECLOSED. Returns 0, or a ws_err if the
 * loops could not start. */
WS_API int ws_client_run(ws_client *cl);

/* One iteration of loop 0, waiting at most timeout_ms (threads = 1 only;
 * WS_ESTATE otherwise). Returns 1 while running, 0 once stopped. */
WS_API int ws_client_step(ws_client *cl, int timeout_ms);

/* Asks ws_client_run to finish. Any thread, and signal handlers. */
WS_API void ws_client_stop(ws_client *cl);

/* Frees a client that is not running. */
WS_API void ws_client_free(ws_client *cl);

/* Sends to, or closes, a client session by id from any thread: the same
 * contract as ws_server_send and ws_server_close_session. */
WS_API int ws_client_send(ws_client *cl, ws_session_id id, bool binary, const void *data,
                          size_t len);
WS_API int ws_client_close_session(ws_client *cl, ws_session_id id, uint16_t code,
                                   const char *reason);

/* Open client sessions now (past the handshake). Thread-safe. */
WS_API size_t ws_client_session_count(const ws_client *cl);

/* Starts a connection to url ("ws://host[:port]/path?query", or
 * "wss://..." in a build with TLS, else WS_ENOTSUP). The TLS handshake
 * counts against handshake_timeout_ms. Once it succeeds, exactly one
 * of these happens on a loop thread: the handler runs (sequential style,
 * like a route's handler; the session closes with 1000 when it returns),
 * or opts->on_fail is called. opts may be NULL. *id (if not NULL) receives
 * the session's id. Thread: any; the connection goes to the calling loop
 * when called on one of the client's loop threads, else round robin.
 * Returns 0, WS_EINVAL (bad URL, bad header, NULL handler), WS_ENOTSUP,
 * WS_ESTATE (the client is stopping), WS_ENOMEM: then nothing is called. */
WS_API int ws_connect(ws_client *cl, const char *url, const ws_connect_options *opts,
                      ws_handler_fn handler, void *app, ws_session_id *id);
/* The same with event callbacks (copied): on_open once it is open, then
 * as for a callback route. */
WS_API int ws_connect_events(ws_client *cl, const char *url, const ws_connect_options *opts,
                             const ws_event_callbacks *cb, void *app, ws_session_id *id);

/* --- From a server's loops ---------------------------------------------- */

/* As ws_connect, on the server's loops: from a handler, the connection
 * lives on that handler's loop. The server must be started (WS_ESTATE
 * otherwise); its session ids, ws_server_send and groups reach the new
 * session too. */
WS_API int ws_server_connect(ws_server *srv, const char *url, const ws_connect_options *opts,
                             ws_handler_fn handler, void *app, ws_session_id *id);
WS_API int ws_server_connect_events(ws_server *srv, const char *url, const ws_connect_options *opts,
                                    const ws_event_callbacks *cb, void *app, ws_session_id *id);

WS_END_DECLS

#endif
