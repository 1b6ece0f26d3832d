/* SPDX-License-Identifier: MIT */
/* A build without the `tls` feature: asking for TLS fails with WS_ENOTSUP
 * (and says so in the log), and nothing else here is ever reached, since
 * no connection gets a TLS transport. */
#include "tls/tls.h"
#include "wschat/error.h"

#include <stdlib.h>

int ws_tls_available(void) { return 0; }

static int unsupported(const ws__logger *log)
{
    ws__log(log, WS_LOG_ERROR,
            "TLS: this build of libwschat has no TLS (configure with -Dtls=enabled)");
    return WS_ENOTSUP;
}

int ws__tls_server_ctx(const ws_tls_options *o, const ws__logger *log, ws__tls_ctx **out)
{
    (void)o;
    *out = NULL;
    return unsupported(log);
}

int ws__tls_client_ctx(const ws_tls_options *o, const ws__logger *log, ws__tls_ctx **out)
{
    (void)o;
    *out = NULL;
    return unsupported(log);
}

void ws__tls_ctx_ref(ws__tls_ctx *c) { (void)c; }
void ws__tls_ctx_unref(ws__tls_ctx *c) { (void)c; }
ws__tls *ws__tls_new(ws__tls_ctx *ctx, bool client, const char *server_name)
{
    (void)ctx;
    (void)client;
    (void)server_name;
    return NULL;
}
void ws__tls_free(ws__tls *t) { (void)t; }
void ws__tls_start(ws__tls *t) { (void)t; }
long ws__tls_read(ws__tls *t, const ws__tls_io *io, void *buf, size_t len)
{
    (void)t;
    (void)io;
    (void)buf;
    (void)len;
    return WS_ENOTSUP;
}
bool ws__tls_in_pending(const ws__tls *t)
{
    (void)t;
    return false;
}
long ws__tls_send(ws__tls *t, const ws__tls_io *io, const struct iovec *iov, int n)
{
    (void)t;
    (void)io;
    (void)iov;
    (void)n;
    return WS_ENOTSUP;
}
size_t ws__tls_out_pending(const ws__tls *t)
{
    (void)t;
    return 0;
}
long ws__tls_flush(ws__tls *t, const ws__tls_io *io)
{
    (void)t;
    (void)io;
    return 0;
}
void ws__tls_close_notify(ws__tls *t) { (void)t; }
const char *ws__tls_error(const ws__tls *t)
{
    (void)t;
    return "";
}
bool ws__tls_handshake_done(const ws__tls *t)
{
    (void)t;
    return false;
}
