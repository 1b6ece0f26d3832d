/* SPDX-License-Identifier: MIT */
/* The ceiling: the smallest epoll TCP server that does the same job with no
 * protocol at all. echo: every byte comes straight back. fanout: every chunk
 * read from any connection is written to every connection. Whatever a
 * WebSocket server spends above this, per operation, is its own cost.
 * wsecho: the least a WebSocket echo can do (a 101 for the key, then every
 * client frame unmasked and sent back as it came), the server for the
 * client benchmark, where the client's cost is what is measured.
 *
 * With a certificate and key (and OpenSSL at build time) every mode runs
 * over TLS: the smallest OpenSSL epoll server doing the job (OpenSSL does
 * the socket I/O, buffers released while idle), the TLS ceiling.
 *
 *   ceiling echo|fanout|wsecho PORT [CERT KEY]   (prints "ready PORT") */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#ifdef BENCH_TLS
#include <openssl/ssl.h>
#endif

#include "ceiling_listen.h"
#include "proto/base64.h"
#include "proto/sha1.h"

#define MAXFD 65536

static int conns[MAXFD], nconns;
static char *pending[MAXFD]; /* bytes a slow receiver could not take yet */
static size_t npending[MAXFD];
#ifdef BENCH_TLS
static SSL *ssl[MAXFD]; /* with TLS, each connection's */
#endif

/* read(2)/write(2), through the connection's SSL with TLS: -1 and EAGAIN
 * for "try again" (OpenSSL's WANT_READ or WANT_WRITE). */
static ssize_t fd_io(int fd, void *p, size_t n, int out)
{
#ifdef BENCH_TLS
    if (ssl[fd]) {
        size_t done = 0;
        if (out ? SSL_write_ex(ssl[fd], p, n, &done) : SSL_read_ex(ssl[fd], p, n, &done))
            return (ssize_t)done;
        int e = SSL_get_error(ssl[fd], 0);
        if (e == SSL_ERROR_ZERO_RETURN)
            return 0;
        errno = e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? EAGAIN : EPROTO;
        return -1;
    }
#endif
    return out ? write(fd, p, n) : read(fd, p, n);
}

static void put(int ep, int fd, const char *p, size_t n)
{
    if (npending[fd] == 0) {
        ssize_t w = fd_io(fd, (void *)p, n, 1);
        if (w == (ssize_t)n)
            return;
        if (w < 0)
            w = 0;
        p += w;
        n -= (size_t)w;
        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.fd = fd};
        epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
    }
    pending[fd] = realloc(pending[fd], npending[fd] + n);
    memcpy(pending[fd] + npending[fd], p, n);
    npending[fd] += n;
}

/* wsecho: what has arrived and not yet been answered, per fd. */
static char *in[MAXFD];
static size_t inlen[MAXFD];
static unsigned char upgraded[MAXFD];

static void drop(int ep, int fd);

/* Answers the upgrade once its head is in. Returns bytes used, 0 if more
 * are needed, -1 to drop the connection. */
static long ws_handshake(int ep, int fd, const char *p, size_t n)
{
    const char *end = memmem(p, n, "\r\n\r\n", 4);
    if (!end)
        return n > 8192 ? -1 : 0;
    const char *k = memmem(p, (size_t)(end - p), "Sec-WebSocket-Key: ", 19);
    if (!k)
        return -1;
    ws__sha1 c;
    uint8_t d[20];
    char acc[32], resp[256];
    ws__sha1_init(&c);
    ws__sha1_update(&c, k + 19, 24);
    ws__sha1_update(&c, "258EAFA5-E914-47DA-95CA-C5AB0DC85B11", 36);
    ws__sha1_final(&c, d);
    ws__base64_encode(d, 20, acc);
    acc[28] = 0;
    int rn = snprintf(resp, sizeof resp,
                      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                      "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
                      acc);
    put(ep, fd, resp, (size_t)rn);
    upgraded[fd] = 1;
    return end + 4 - p;
}

/* One whole masked client frame at p: sent back unmasked. Returns bytes
 * used, 0 if incomplete. */
static size_t ws_frame(int ep, int fd, char *p, size_t n)
{
    if (n < 2)
        return 0;
    unsigned char *u = (unsigned char *)p;
    size_t len = u[1] & 0x7F, h = 2;
    if (len == 126) {
        if (n < 4)
            return 0;
        len = (size_t)u[2] << 8 | u[3];
        h = 4;
    } else if (len == 127) {
        if (n < 10)
            return 0;
        len = 0;
        for (int i = 0; i < 8; i++)
            len = len << 8 | u[2 + i];
        h = 10;
    }
    size_t mask = (u[1] & 0x80) ? 4 : 0;
    if (n < h + mask + len)
        return 0;
    char *payload = p + h + mask;
    for (size_t i = 0; mask && i < len; i++)
        payload[i] ^= p[h + (i & 3)];
    /* The same header without the mask bit, right before the payload. */
    char *out = payload - h;
    memmove(out, p, h);
    out[1] = (char)(u[1] & 0x7F);
    put(ep, fd, out, h + len);
    return h + mask + len;
}

static void ws_input(int ep, int fd, const char *p, size_t n)
{
    in[fd] = realloc(in[fd], inlen[fd] + n);
    memcpy(in[fd] + inlen[fd], p, n);
    inlen[fd] += n;
    size_t off = 0;
    if (!upgraded[fd]) {
        long used = ws_handshake(ep, fd, in[fd], inlen[fd]);
        if (used < 0) {
            drop(ep, fd);
            return;
        }
        off = (size_t)used;
    }
    for (size_t used; upgraded[fd] && (used = ws_frame(ep, fd, in[fd] + off, inlen[fd] - off));)
        off += used;
    memmove(in[fd], in[fd] + off, inlen[fd] - off);
    inlen[fd] -= off;
}

static void drop(int ep, int fd)
{
    free(in[fd]);
    in[fd] = NULL;
    inlen[fd] = 0;
    upgraded[fd] = 0;
    epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
#ifdef BENCH_TLS
    SSL_free(ssl[fd]);
    ssl[fd] = NULL;
#endif
    close(fd);
    free(pending[fd]);
    pending[fd] = NULL;
    npending[fd] = 0;
    for (int i = 0; i < nconns; i++)
        if (conns[i] == fd) {
            conns[i] = conns[--nconns];
            break;
        }
}

int main(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    int fanout = strcmp(argv[1], "fanout") == 0, wsecho = strcmp(argv[1], "wsecho") == 0;
    int lfd = ceiling_listen(argv[2], SOCK_NONBLOCK);
    if (lfd < 0)
        return 1;
#ifdef BENCH_TLS
    SSL_CTX *tls = NULL;
    if (argc > 4) {
        tls = SSL_CTX_new(TLS_server_method());
        if (SSL_CTX_use_certificate_chain_file(tls, argv[3]) != 1 ||
            SSL_CTX_use_PrivateKey_file(tls, argv[4], SSL_FILETYPE_PEM) != 1)
            return 1;
        SSL_CTX_set_mode(tls, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
                                  SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
        /* One read(2) for whatever the socket holds, not one per record
         * header and one per body: the least a TLS server can do. */
        SSL_CTX_set_read_ahead(tls, 1);
    }
#else
    if (argc > 4)
        return 1; /* no TLS in this build */
#endif
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = lfd};
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
    static char buf[1 << 18]; /* as big as libwschat's receive buffer: a fair ceiling */
    struct epoll_event evs[256];
    for (;;) {
        int n = epoll_wait(ep, evs, 256, -1);
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == lfd) {
                int c;
                while ((c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    struct epoll_event ce = {.events = EPOLLIN, .data.fd = c};
                    epoll_ctl(ep, EPOLL_CTL_ADD, c, &ce);
                    conns[nconns++] = c;
#ifdef BENCH_TLS
                    if (tls) {
                        ssl[c] = SSL_new(tls);
                        SSL_set_fd(ssl[c], c);
                        SSL_set_accept_state(ssl[c]);
                    }
#endif
                }
                continue;
            }
            if ((evs[i].events & EPOLLOUT) && npending[fd]) {
                ssize_t w = fd_io(fd, pending[fd], npending[fd], 1);
                if (w > 0) {
                    memmove(pending[fd], pending[fd] + w, npending[fd] - (size_t)w);
                    npending[fd] -= (size_t)w;
                }
                if (!npending[fd]) {
                    struct epoll_event ce = {.events = EPOLLIN, .data.fd = fd};
                    epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ce);
                }
            }
            if (!(evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
                continue;
            /* With TLS, read while OpenSSL holds more (epoll only knows
             * about the socket). */
            for (int more = 1; more;) {
                ssize_t r = fd_io(fd, buf, sizeof buf, 0);
                if (r <= 0) {
                    if (r == 0 || errno != EAGAIN)
                        drop(ep, fd);
                    break;
                }
#ifdef BENCH_TLS
                more = ssl[fd] && SSL_has_pending(ssl[fd]);
#else
                more = 0;
#endif
                if (wsecho)
                    ws_input(ep, fd, buf, (size_t)r);
                else if (!fanout)
                    put(ep, fd, buf, (size_t)r);
                else
                    for (int k = 0; k < nconns; k++)
                        put(ep, conns[k], buf, (size_t)r);
            }
        }
    }
}
