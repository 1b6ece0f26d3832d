/* SPDX-License-Identifier: MIT */
/* The server: a host (session/host.h) plus its listeners, the routes and
 * the server-wide extensions. */
#ifndef WS_SERVER_SERVER_IMPL_H
#define WS_SERVER_SERVER_IMPL_H

#include <stdbool.h>

#include "io/timer.h"
#include "server/router.h"
#include "session/host.h"
#include "session/session.h"
#include "wschat/ext.h"
#include "wschat/server.h"
#include "wschat/tls.h"

/* One address the server listens on, plain or TLS. */
typedef struct ws__listener {
    ws_server *srv;
    char *bind;        /* owned */
    int port;          /* asked for */
    int bound;         /* bound, once started */
    int fd;            /* -1 unless listening */
    int redirect_port; /* plain HTTP requests get a 308 to https:// on it (0 = no) */
    bool paused;       /* out of fds: not watched for a moment */
    bool reuse_port;   /* SO_REUSEPORT: shared with other processes */
    ws__timer retry;
    /* TLS: the options (their strings owned, for reloading) and the context
     * new connections get, swapped under the server's tls_mu on reload. */
    bool is_tls;
    ws_tls_options opts;
    struct ws__tls_ctx *tls;
} ws__listener;

struct ws_server {
    ws__host host; /* first: the loops, the configuration, the sessions */
    ws__router routes;
    ws_extension exts[4];     /* server-wide extensions, in registration order */
    size_t nexts;
    ws__listener **ls; /* stable pointers: sessions and timers refer to them */
    size_t nls;
    pthread_mutex_t tls_mu; /* the listeners' TLS contexts (reload vs accept) */
};

/* The server's side of a session before it opens (upgrade.c). */
extern const ws__role ws__server_role;

/* Creates the session for an accepted fd on worker w (upgrade.c). */
void ws__server_accept_on(ws__worker *w, int fd, const char *peer, ws__listener *l);
/* Starts and stops accepting on loop 0 (listener.c). */
int ws__listener_start(ws_server *srv);
void ws__listener_stop(ws__host *h);
/* Frees the listeners (listener.c). */
void ws__listeners_free(ws_server *srv);
/* The port l's plain HTTP requests are redirected to (0: none). */
int ws__listener_redirect(const ws__listener *l);
/* A new reference to l's TLS context, or NULL for a plain listener. */
struct ws__tls_ctx *ws__listener_tls(ws__listener *l);

/* HTTP route dispatch (http_static.c). */
void ws__http_dispatch(ws_session *s, const ws__route *r, bool head_only);
/* Queues a complete HTTP response and moves to DRAIN (upgrade.c). */
void ws__session_http_reply(ws_session *s, int status, const char *ctype, const void *body,
                            size_t len, bool head_only);
void ws__session_http_error(ws_session *s, int status);

/* The server that owns a session's host. */
static inline ws_server *ws__server_of(const ws_session *s) { return s->w->host->server; }

#endif
