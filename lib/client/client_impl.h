/* SPDX-License-Identifier: MIT */
/* The client role: a connection attempt (resolve, connect, request, 101)
 * on the session layer, and ws_client, a host that only connects. */
#ifndef WS_CLIENT_CLIENT_IMPL_H
#define WS_CLIENT_CLIENT_IMPL_H

#include <netdb.h>

#include "proto/http_parser.h"
#include "proto/url.h"
#include "session/handler.h"
#include "session/host.h"
#include "session/session.h"
#include "util/buf.h"
#include "wschat/client.h"
#include "wschat/ext.h"

struct ws_client {
    ws__host host;
};

/* What a client session keeps for its whole life: its handler (s->h points
 * here) and the copies the handler refers to. */
typedef struct ws__cconn {
    ws__handler h;
    void (*on_fail)(ws_session_id id, const ws_close_reason *r, void *app);
    const ws_extension **exts; /* offered; the chain refers to them */
    size_t nexts;
    char *strings; /* path and protocol names, one allocation */
} ws__cconn;

/* The attempt, until the session opens or fails (s->hs). */
typedef struct ws__dial {
    char *host; /* to resolve or connect to, NUL-terminated */
    int port;
    char *request; /* the whole GET, ready to queue */
    size_t request_len;
    char key[32]; /* Sec-WebSocket-Key, for checking the Accept */
    char *query;  /* the URL's query, for the session's facts */
    uint32_t connect_timeout_ms;
    uint32_t handshake_timeout_ms;
    struct addrinfo *ai;      /* resolved addresses */
    struct addrinfo *next_ai; /* the next one to try */
    int last_err;             /* why the previous address failed */
    bool owned_ai;            /* ai came from getaddrinfo (freeaddrinfo it) */
    ws__buf head;             /* the response head being read */
    size_t scanned;
    struct ws__tls_ctx *tls; /* wss://: the context, and the name to check */
    char *server_name;
} ws__dial;

/* Prepares an attempt from the public arguments: validates everything
 * that can be checked before connecting. Returns 0 or WS_EINVAL,
 * WS_ENOTSUP, WS_ENOMEM (nothing is left allocated then). */
int ws__dial_prepare(ws__host *h, const char *url, const ws_connect_options *opts,
                     const ws__handler *handler, ws__cconn **cc, ws__dial **d);
void ws__dial_free(ws__dial *d);
void ws__cconn_free(ws__cconn *cc);

/* Starts a prepared attempt on the best loop of h (see ws_connect).
 * Takes cc and d whatever happens. Returns 0, WS_ESTATE or WS_ENOMEM. */
int ws__dial_start(ws__host *h, ws__cconn *cc, ws__dial *d, ws_session_id *id);

/* CONNECT phase, fd writable: connected (the request goes out), or on to
 * the next address (dial.c). */
void ws__client_connected(ws_session *s);
/* The client's side of a session before it opens (handshake.c). */
extern const ws__role ws__client_role;
/* Sends the request once connected (handshake.c). */
void ws__client_send_request(ws_session *s);
/* Ends a failed attempt: on_fail hears why, then the connection closes. */
void ws__client_fail(ws_session *s, int err, int status, const char *why);

#endif
