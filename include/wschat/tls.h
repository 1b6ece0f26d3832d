/* SPDX-License-Identifier: MIT */
/* TLS: wss:// and https:// for servers and clients (OpenSSL 3, behind the
 * `tls` build feature; without it every call here fails with WS_ENOTSUP).
 *
 * A server listens on one or more addresses, each with or without TLS
 * (ws_server_listen); TLS listeners serve WebSocket routes (wss://) and
 * HTTP routes (https://) alike. A client connects to wss:// URLs with
 * ws_connect, the certificate verified against the system's trust store
 * and the URL's host by default.
 */
#ifndef WSCHAT_TLS_H
#define WSCHAT_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include "api.h"
#include "server.h"

WS_BEGIN_DECLS

enum { WS_TLS_1_2 = 12, WS_TLS_1_3 = 13 };

/* TLS settings of a listener or a client connection. Zero-initialise and
 * set what you need; the strings are read (and the files loaded) by the
 * call that takes the options, not kept. */
typedef struct ws_tls_options {
    /* Our certificate chain (PEM, leaf first, e.g. Let's Encrypt's
     * fullchain.pem) and its private key (PEM). Required on a server; on a
     * client, a certificate to present when the server asks for one. */
    const char *cert_file;
    const char *key_file;
    /* Certificates to trust (PEM). Server: verify client certificates
     * against these and require one. Client: trust these instead of the
     * system's store. */
    const char *ca_file;
    /* The oldest protocol accepted: WS_TLS_1_2 (0 = default) or
     * WS_TLS_1_3. TLS 1.0 and 1.1 are never accepted. */
    int min_version;
    /* Client: the name to send as SNI and to check the certificate
     * against; NULL = the URL's host. */
    const char *server_name;
    /* Client: accept any certificate, or none. Only for tests against
     * throwaway certificates: it removes TLS's protection against anyone
     * in the path. */
    bool insecure_skip_verify;
} ws_tls_options;

/* 1 if this build has TLS (the `tls` feature found OpenSSL 3), else 0. */
WS_API int ws_tls_available(void);

/* One address the server listens on. port 0 picks a free port (see
 * ws_server_listener_port). tls NULL: plain ws:// and http://.
 * redirect_port: for a plain listener, answer every HTTP request (not a
 * WebSocket upgrade) with a 308 to https:// on that port (0 = serve it;
 * WS_REDIRECT_TLS = the port the server's first TLS listener is bound to). */
#define WS_REDIRECT_TLS (-1)
typedef struct ws_listen_options {
    const char *bind; /* NULL = "0.0.0.0" */
    int port;
    const ws_tls_options *tls;
    int redirect_port;
    /* Share the port with other processes that ask for it too
     * (SO_REUSEPORT: the kernel spreads new connections over them), e.g.
     * several chat nodes on one machine. WS_ENOTSUP at start where the
     * platform or backend has no such thing. */
    bool reuse_port;
} ws_listen_options;

/* Adds a listener (before ws_server_start). Without any, the server
 * listens on cfg.bind:cfg.port as before; with some, only on them (the
 * first is the one ws_server_port reports). The certificate and key are
 * loaded now. Returns the listener's index (>= 0), or WS_EINVAL,
 * WS_ENOTSUP (a build without TLS), WS_ETLS (the files do not load: the
 * log says why), WS_ESTATE (started), WS_ENOMEM. Thread: the server's. */
WS_API int ws_server_listen(ws_server *srv, const ws_listen_options *opts);

/* The port listener `index` is bound to, once started; WS_EINVAL or
 * WS_ESTATE otherwise. */
WS_API int ws_server_listener_port(const ws_server *srv, int index);

/* Loads the certificate and key files of every TLS listener again (after a
 * renewal): new connections get the new certificate, open ones keep
 * theirs. On any error nothing changes. Returns 0, WS_ETLS (a file does
 * not load: the log says which and why) or WS_ENOTSUP. Any thread. */
WS_API int ws_server_tls_reload(ws_server *srv);

WS_END_DECLS

#endif
