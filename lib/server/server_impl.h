/* SPDX-License-Identifier: MIT */
/* The server: a host (session/host.h) plus the listener, the routes and the
 * server-wide extensions. */
#ifndef WS_SERVER_SERVER_IMPL_H
#define WS_SERVER_SERVER_IMPL_H

#include <stdbool.h>

#include "io/timer.h"
#include "server/router.h"
#include "session/host.h"
#include "session/session.h"
#include "wschat/ext.h"
#include "wschat/server.h"

struct ws_server {
    ws__host host; /* first: the loops, the configuration, the sessions */
    ws__router routes;
    ws_extension exts[4];     /* server-wide extensions, in registration order */
    size_t nexts;
    int listen_fd;
    int port;
    bool accept_paused;
    ws__timer accept_timer;
};

/* The server's side of a session before it opens (upgrade.c). */
extern const ws__role ws__server_role;

/* Creates the session for an accepted fd on worker w (upgrade.c). */
void ws__server_accept_on(ws__worker *w, int fd, const char *peer);
/* Starts and stops accepting on loop 0 (listener.c). */
int ws__listener_start(ws_server *srv);
void ws__listener_stop(ws__host *h);

/* HTTP route dispatch (http_static.c). */
void ws__http_dispatch(ws_session *s, const ws__route *r, bool head_only);
/* Queues a complete HTTP response and moves to DRAIN (upgrade.c). */
void ws__session_http_reply(ws_session *s, int status, const char *ctype, const void *body,
                            size_t len, bool head_only);
void ws__session_http_error(ws_session *s, int status);

/* The server that owns a session's host. */
static inline ws_server *ws__server_of(const ws_session *s) { return s->w->host->server; }

#endif
