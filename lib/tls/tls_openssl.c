/* SPDX-License-Identifier: MIT */
/* The TLS transport over OpenSSL 3. Each connection's SSL reads from and
 * writes to a BIO of ours: reading takes from a view of ciphertext (the
 * loop's scratch buffer, or what is left of it, kept per connection only
 * while some is left). Writing goes to the loop's output scratch while a
 * send is under way, which is written to the fd at once; only what the fd
 * does not take (and the handshake's own messages) is kept in an output
 * buffer of the connection's, freed once it has gone out. With
 * SSL_MODE_RELEASE_BUFFERS OpenSSL frees its record buffers too, so an
 * idle connection holds no buffer at all. */
#include "tls/tls.h"
#include "util/buf.h"
#include "wschat/error.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ws__tls_ctx {
    SSL_CTX *ssl;
    BIO_METHOD *bio; /* our BIO; one per context, freed with it */
    int refs;        /* atomic */
};

struct ws__tls {
    SSL *ssl;
    ws__tls_ctx *ctx;
    const uint8_t *view; /* ciphertext being read */
    size_t view_len;
    ws__buf in; /* ciphertext read but not yet taken by OpenSSL */
    size_t in_off;
    ws__buf out; /* ciphertext for the fd */
    size_t out_off;
    uint8_t *stage; /* during ws__tls_send: the loop's output scratch */
    size_t stage_len, stage_cap;
    bool eof;      /* the peer's close_notify, or the fd's end */
    bool notified; /* our close_notify is queued */
    char err[120];
};

int ws_tls_available(void) { return 1; }

/* --- our BIO ----------------------------------------------------------------- */

static int bio_read(BIO *b, char *buf, int len)
{
    ws__tls *t = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    if (t->view_len == 0) {
        BIO_set_retry_read(b);
        return -1;
    }
    size_t n = (size_t)len < t->view_len ? (size_t)len : t->view_len;
    memcpy(buf, t->view, n);
    t->view += n;
    t->view_len -= n;
    return (int)n;
}

static int bio_write(BIO *b, const char *buf, int len)
{
    ws__tls *t = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    if (t->stage) {
        if (t->stage_cap - t->stage_len >= (size_t)len) {
            memcpy(t->stage + t->stage_len, buf, (size_t)len);
            t->stage_len += (size_t)len;
            return len;
        }
        /* No room (a record larger than planned for): what is staged goes
         * first, into the connection's buffer, and the send stops. */
        if (ws__buf_append(&t->out, t->stage, t->stage_len) < 0)
            return -1;
        t->stage = NULL;
    }
    return ws__buf_append(&t->out, buf, (size_t)len) == 0 ? len : -1;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    (void)num;
    (void)ptr;
    ws__tls *t = BIO_get_data(b);
    switch (cmd) {
    case BIO_CTRL_FLUSH: return 1;
    case BIO_CTRL_PENDING: return t ? (long)t->view_len : 0;
    case BIO_CTRL_WPENDING: return 0; /* written means handed over */
    default: return 0;
    }
}

static int bio_create(BIO *b)
{
    BIO_set_init(b, 1);
    return 1;
}

/* --- contexts ------------------------------------------------------------------ */

static int fail_ctx(ws__tls_ctx *c, const ws__logger *log, const char *what, const char *file)
{
    char why[160];
    ERR_error_string_n(ERR_get_error(), why, sizeof why);
    ws__log(log, WS_LOG_ERROR, "TLS: %s%s%s: %s", what, file ? " " : "", file ? file : "", why);
    ERR_clear_error();
    ws__tls_ctx_unref(c);
    return WS_ETLS;
}

/* ALPN: WebSocket over TLS is HTTP/1.1 (RFC 6455 4.1); a client that offers
 * only other protocols is refused (RFC 7301 3.2). */
static int select_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned int inlen, void *arg)
{
    (void)ssl;
    (void)arg;
    for (unsigned i = 0; i < inlen; i += 1u + in[i])
        if (in[i] == 8 && i + 9 <= inlen && memcmp(in + i + 1, "http/1.1", 8) == 0) {
            *out = in + i + 1;
            *outlen = 8;
            return SSL_TLSEXT_ERR_OK;
        }
    return SSL_TLSEXT_ERR_ALERT_FATAL;
}

static ws__tls_ctx *ctx_new(bool server, const ws_tls_options *o)
{
    ws__tls_ctx *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->refs = 1;
    c->ssl = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    c->bio = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "wschat");
    if (!c->ssl || !c->bio) {
        SSL_CTX_free(c->ssl);
        BIO_meth_free(c->bio);
        free(c);
        return NULL;
    }
    BIO_meth_set_read(c->bio, bio_read);
    BIO_meth_set_write(c->bio, bio_write);
    BIO_meth_set_ctrl(c->bio, bio_ctrl);
    BIO_meth_set_create(c->bio, bio_create);
    int min = o && o->min_version == WS_TLS_1_3 ? TLS1_3_VERSION : TLS1_2_VERSION;
    SSL_CTX_set_min_proto_version(c->ssl, min);
    /* Renegotiation is an attack surface with no use here (TLS 1.3 has
     * none; a 1.2 peer asking for it is refused). */
    SSL_CTX_set_options(c->ssl, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
                                    (server ? SSL_OP_CIPHER_SERVER_PREFERENCE : 0));
    SSL_CTX_set_mode(c->ssl, SSL_MODE_RELEASE_BUFFERS);
    return c;
}

int ws__tls_server_ctx(const ws_tls_options *o, const ws__logger *log, ws__tls_ctx **out)
{
    if (!o || !o->cert_file || !o->key_file ||
        (o->min_version && o->min_version != WS_TLS_1_2 && o->min_version != WS_TLS_1_3))
        return WS_EINVAL;
    ws__tls_ctx *c = ctx_new(true, o);
    if (!c)
        return WS_ENOMEM;
    if (SSL_CTX_use_certificate_chain_file(c->ssl, o->cert_file) != 1)
        return fail_ctx(c, log, "certificate chain", o->cert_file);
    if (SSL_CTX_use_PrivateKey_file(c->ssl, o->key_file, SSL_FILETYPE_PEM) != 1)
        return fail_ctx(c, log, "private key", o->key_file);
    if (SSL_CTX_check_private_key(c->ssl) != 1)
        return fail_ctx(c, log, "the key does not match the certificate", o->key_file);
    if (o->ca_file) {
        if (SSL_CTX_load_verify_locations(c->ssl, o->ca_file, NULL) != 1)
            return fail_ctx(c, log, "client CA", o->ca_file);
        SSL_CTX_set_verify(c->ssl, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    }
    SSL_CTX_set_alpn_select_cb(c->ssl, select_alpn, NULL);
    *out = c;
    return 0;
}

int ws__tls_client_ctx(const ws_tls_options *o, const ws__logger *log, ws__tls_ctx **out)
{
    if (o && o->min_version && o->min_version != WS_TLS_1_2 && o->min_version != WS_TLS_1_3)
        return WS_EINVAL;
    ws__tls_ctx *c = ctx_new(false, o);
    if (!c)
        return WS_ENOMEM;
    if (o && o->ca_file) {
        if (SSL_CTX_load_verify_locations(c->ssl, o->ca_file, NULL) != 1)
            return fail_ctx(c, log, "CA file", o->ca_file);
    } else if (SSL_CTX_set_default_verify_paths(c->ssl) != 1) {
        return fail_ctx(c, log, "the system's trust store", NULL);
    }
    if (o && o->cert_file) {
        if (SSL_CTX_use_certificate_chain_file(c->ssl, o->cert_file) != 1)
            return fail_ctx(c, log, "client certificate", o->cert_file);
        if (!o->key_file || SSL_CTX_use_PrivateKey_file(c->ssl, o->key_file, SSL_FILETYPE_PEM) != 1)
            return fail_ctx(c, log, "client key", o->key_file);
    }
    SSL_CTX_set_verify(c->ssl, o && o->insecure_skip_verify ? SSL_VERIFY_NONE : SSL_VERIFY_PEER,
                       NULL);
    static const unsigned char alpn[] = "\x08http/1.1";
    SSL_CTX_set_alpn_protos(c->ssl, alpn, sizeof alpn - 1);
    *out = c;
    return 0;
}

void ws__tls_ctx_ref(ws__tls_ctx *c) { __atomic_add_fetch(&c->refs, 1, __ATOMIC_RELAXED); }

void ws__tls_ctx_unref(ws__tls_ctx *c)
{
    if (c && __atomic_sub_fetch(&c->refs, 1, __ATOMIC_ACQ_REL) == 0) {
        SSL_CTX_free(c->ssl);
        BIO_meth_free(c->bio);
        free(c);
    }
}

/* --- connections ------------------------------------------------------------ */

static bool is_ip(const char *s)
{
    unsigned char b[16];
    return inet_pton(AF_INET, s, b) == 1 || inet_pton(AF_INET6, s, b) == 1;
}

ws__tls *ws__tls_new(ws__tls_ctx *ctx, bool client, const char *server_name)
{
    ws__tls *t = calloc(1, sizeof *t);
    BIO *b = t ? BIO_new(ctx->bio) : NULL;
    if (t)
        t->ssl = SSL_new(ctx->ssl);
    if (!t || !b || !t->ssl) {
        BIO_free(b);
        if (t)
            SSL_free(t->ssl);
        free(t);
        return NULL;
    }
    BIO_set_data(b, t);
    SSL_set_bio(t->ssl, b, b);
    ws__buf_init(&t->in, 0);
    ws__buf_init(&t->out, 0);
    t->ctx = ctx;
    ws__tls_ctx_ref(ctx);
    if (!client) {
        SSL_set_accept_state(t->ssl);
        return t;
    }
    SSL_set_connect_state(t->ssl);
    if (server_name && !is_ip(server_name)) {
        SSL_set_tlsext_host_name(t->ssl, server_name); /* SNI is for names only (RFC 6066 3) */
        SSL_set1_host(t->ssl, server_name);
    } else if (server_name) {
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl), server_name);
    }
    return t;
}

void ws__tls_free(ws__tls *t)
{
    if (!t)
        return;
    SSL_free(t->ssl); /* frees the BIO too */
    ws__buf_free(&t->in);
    ws__buf_free(&t->out);
    ws__tls_ctx_unref(t->ctx);
    free(t);
}

/* OpenSSL's error queue must be empty before a call whose outcome
 * SSL_get_error reads. failure() empties it after every error, so this
 * only costs a look (ERR_clear_error itself was 3% of a small echo). */
static void clear_errors(void)
{
    if (ERR_peek_error())
        ERR_clear_error();
}

void ws__tls_start(ws__tls *t)
{
    clear_errors();
    SSL_do_handshake(t->ssl); /* WANT_READ: the ClientHello is in the output */
}

bool ws__tls_handshake_done(const ws__tls *t) { return SSL_is_init_finished(t->ssl); }

const char *ws__tls_error(const ws__tls *t) { return t ? t->err : ""; }

/* Records why the connection failed; WS_ECERT when it was the peer's
 * certificate (not trusted, expired, the wrong name). */
static long failure(ws__tls *t)
{
    long v = SSL_get_verify_result(t->ssl);
    if (v != X509_V_OK) {
        snprintf(t->err, sizeof t->err, "certificate: %s", X509_verify_cert_error_string(v));
        ERR_clear_error();
        return WS_ECERT;
    }
    unsigned long e = ERR_get_error();
    const char *why = e ? ERR_reason_error_string(e) : NULL;
    snprintf(t->err, sizeof t->err, "TLS: %s", why ? why : "handshake failed");
    ERR_clear_error();
    return WS_ETLS;
}

/* What OpenSSL did not take of the view is kept (the view points into the
 * loop's scratch, which the next session reuses). */
static void keep_rest(ws__tls *t)
{
    if (t->view_len == 0) {
        if (t->in.cap) { /* drained: give the buffer back (idle memory) */
            ws__buf_free(&t->in);
            ws__buf_init(&t->in, 0);
        }
        t->in_off = 0;
        return;
    }
    if (t->in.data && t->view >= t->in.data && t->view < t->in.data + t->in.len) {
        t->in_off = (size_t)(t->view - t->in.data); /* still inside our copy */
        return;
    }
    ws__buf_reset(&t->in);
    t->in_off = 0;
    if (ws__buf_append(&t->in, t->view, t->view_len) < 0)
        t->view_len = 0; /* out of memory: the record is lost, the next read fails */
}

long ws__tls_read(ws__tls *t, const ws__tls_io *io, void *buf, size_t len)
{
    if (t->in.len > t->in_off) {
        t->view = t->in.data + t->in_off;
        t->view_len = t->in.len - t->in_off;
    } else {
        t->view_len = 0;
    }
    size_t total = 0;
    bool read_fd = false;
    long rc = 0;
    while (total < len && !t->eof) {
        clear_errors();
        size_t want = len - total > (size_t)INT32_MAX ? (size_t)INT32_MAX : len - total;
        int r = SSL_read(t->ssl, (uint8_t *)buf + total, (int)want);
        if (r > 0) {
            total += (size_t)r;
            continue;
        }
        int e = SSL_get_error(t->ssl, r);
        if (e == SSL_ERROR_ZERO_RETURN) {
            t->eof = true;
            break;
        }
        if (e != SSL_ERROR_WANT_READ) {
            rc = failure(t);
            break;
        }
        if (read_fd || t->view_len)
            break; /* taken what there was: more next time */
        long n = io->io->read(io->st, io->fd, io->scratch, io->scratch_len);
        read_fd = true;
        if (n == 0)
            t->eof = true;
        if (n <= 0) {
            if (n != WS_EAGAIN && n != 0)
                rc = n;
            break;
        }
        t->view = io->scratch;
        t->view_len = (size_t)n;
    }
    keep_rest(t);
    if (total)
        return (long)total;
    if (rc)
        return rc;
    return t->eof ? 0 : WS_EAGAIN;
}

bool ws__tls_in_pending(const ws__tls *t)
{
    return !t->eof && (SSL_pending(t->ssl) > 0 || t->in.len > t->in_off);
}

/* Room kept in the stage for one more record: 16 KiB of plaintext and
 * the record's overhead (29 bytes for TLS 1.2 GCM, 22 for 1.3). */
#define RECORD_ROOM (16384 + 512)

/* Writes the stage to the fd; what it does not take moves to the
 * connection's buffer and ends the send (t->stage = NULL). */
static long write_stage(ws__tls *t, const ws__tls_io *io)
{
    size_t off = 0;
    long rc = 0;
    while (off < t->stage_len) {
        struct iovec v = {t->stage + off, t->stage_len - off};
        long w = io->io->writev(io->st, io->fd, &v, 1);
        if (w < 0) {
            if (w != WS_EAGAIN)
                rc = w;
            break;
        }
        off += (size_t)w;
    }
    if (off < t->stage_len && !rc) {
        if (ws__buf_append(&t->out, t->stage + off, t->stage_len - off) < 0)
            rc = WS_ENOMEM;
        t->stage = NULL;
    }
    t->stage_len = 0;
    return rc;
}

long ws__tls_send(ws__tls *t, const ws__tls_io *io, const struct iovec *iov, int n)
{
    if (ws__tls_out_pending(t) || !io->out)
        return 0; /* ws__tls_flush first */
    t->stage = io->out;
    t->stage_cap = io->out_len;
    t->stage_len = 0;
    long taken = 0, rc = 0;
    for (int i = 0; i < n && t->stage && !rc; i++) {
        for (size_t off = 0; off < iov[i].iov_len && t->stage && !rc;) {
            if (t->stage_cap - t->stage_len < RECORD_ROOM &&
                ((rc = write_stage(t, io)) || !t->stage))
                break;
            size_t len = iov[i].iov_len - off < 16384 ? iov[i].iov_len - off : 16384;
            clear_errors();
            int r = SSL_write(t->ssl, (const uint8_t *)iov[i].iov_base + off, (int)len);
            if (r <= 0) {
                if (SSL_get_error(t->ssl, r) == SSL_ERROR_WANT_READ) /* a client mid-handshake */
                    goto done;
                rc = failure(t);
                break;
            }
            off += (size_t)r;
            taken += r;
        }
    }
done:
    if (t->stage) {
        long w = write_stage(t, io);
        if (!rc)
            rc = w;
    }
    t->stage = NULL;
    return rc ? rc : taken;
}

size_t ws__tls_out_pending(const ws__tls *t) { return t->out.len - t->out_off; }

long ws__tls_flush(ws__tls *t, const ws__tls_io *io)
{
    long total = 0;
    while (t->out.len > t->out_off) {
        struct iovec iov = {t->out.data + t->out_off, t->out.len - t->out_off};
        long w = io->io->writev(io->st, io->fd, &iov, 1);
        if (w == WS_EAGAIN)
            break;
        if (w < 0)
            return w;
        t->out_off += (size_t)w;
        total += w;
    }
    if (t->out.len == t->out_off && t->out.cap) { /* all gone: free it (idle memory) */
        ws__buf_free(&t->out);
        ws__buf_init(&t->out, 0);
        t->out_off = 0;
    }
    return total;
}

void ws__tls_close_notify(ws__tls *t)
{
    if (t->notified || !SSL_is_init_finished(t->ssl))
        return;
    t->notified = true;
    clear_errors();
    SSL_shutdown(t->ssl);
}
