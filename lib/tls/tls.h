/* SPDX-License-Identifier: MIT */
/* TLS as a transport between the I/O backend and the session: ciphertext
 * is read and written through the backend's read/writev (so every backend,
 * the in-memory one included, carries it), plaintext goes to and from the
 * session. OpenSSL never touches the fd: it reads from and writes to
 * buffers of ours (a BIO of our own), so WANT_WRITE never happens and
 * WANT_READ only means "more ciphertext is needed". Built over OpenSSL 3
 * (tls_openssl.c) or, without the `tls` feature, as stubs (tls_none.c). */
#ifndef WS_TLS_TLS_H
#define WS_TLS_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "util/log.h"
#include "wschat/io.h"
#include "wschat/tls.h"

typedef struct ws__tls_ctx ws__tls_ctx; /* a configuration: a listener's, a client's */
typedef struct ws__tls ws__tls;         /* one connection */

/* Where a connection's ciphertext comes from and goes to. scratch is the
 * loop's buffer for ciphertext just read, out its buffer for ciphertext
 * on its way to the fd (both shared by the loop's sessions). */
typedef struct ws__tls_io {
    const ws_io_backend *io;
    void *st;
    int fd;
    uint8_t *scratch;
    size_t scratch_len;
    uint8_t *out;
    size_t out_len;
} ws__tls_io;

#define WS__TLS_SCRATCH (256 * 1024)
/* Four full records and their overhead: a 64 KiB message in one writev. */
#define WS__TLS_OUT_SCRATCH (4 * (16384 + 512) + 1024)

/* A server's configuration from its options (certificate and key
 * required). Returns 0, WS_ETLS (logged: which file, why), WS_EINVAL,
 * WS_ENOTSUP or WS_ENOMEM. */
int ws__tls_server_ctx(const ws_tls_options *o, const ws__logger *log, ws__tls_ctx **out);
/* A client's; o may be NULL (the system's trust store). */
int ws__tls_client_ctx(const ws_tls_options *o, const ws__logger *log, ws__tls_ctx **out);
/* Contexts are shared by their connections: each takes a reference. */
void ws__tls_ctx_ref(ws__tls_ctx *c);
void ws__tls_ctx_unref(ws__tls_ctx *c);

/* A connection on ctx. A client's checks the certificate against
 * server_name (a host name or an IP address) and sends it as SNI. NULL on
 * ENOMEM. */
ws__tls *ws__tls_new(ws__tls_ctx *ctx, bool client, const char *server_name);
void ws__tls_free(ws__tls *t);
/* A client starts the handshake (its ClientHello goes to the output). */
void ws__tls_start(ws__tls *t);

/* Plaintext into buf: reads ciphertext through io as needed (at most once
 * from the fd per call). Returns bytes (> 0), 0 at the end of the stream
 * (close_notify or EOF), WS_EAGAIN, WS_ETLS, WS_ECERT, or the backend's
 * error. Output may be pending afterwards (handshake messages, tickets,
 * alerts): see ws__tls_out_pending. */
long ws__tls_read(ws__tls *t, const ws__tls_io *io, void *buf, size_t len);
/* Plaintext or ciphertext buffered: reading again gives more without the
 * fd becoming readable. */
bool ws__tls_in_pending(const ws__tls *t);
/* Encrypts the start of iov[0..n) and writes it through io, until the fd
 * is full: the ciphertext it did not take stays pending (so a peer that
 * does not read holds at most one scratch of ciphertext; the rest stays
 * plaintext in the send queue). Does nothing while output is pending
 * (ws__tls_flush first). Returns the plaintext bytes taken (possibly 0:
 * output pending, or a client's handshake not done), WS_ETLS, or the
 * backend's error. */
long ws__tls_send(ws__tls *t, const ws__tls_io *io, const struct iovec *iov, int n);
/* Ciphertext waiting for the fd. */
size_t ws__tls_out_pending(const ws__tls *t);
/* Writes the pending ciphertext. Returns bytes written (>= 0) or the
 * backend's error (not WS_EAGAIN). */
long ws__tls_flush(ws__tls *t, const ws__tls_io *io);
/* Queues close_notify (once). */
void ws__tls_close_notify(ws__tls *t);
/* Why the connection failed, for logs and on_fail ("" if it did not). */
const char *ws__tls_error(const ws__tls *t);
/* true once the handshake has completed. */
bool ws__tls_handshake_done(const ws__tls *t);

#endif
