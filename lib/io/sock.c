/* SPDX-License-Identifier: MIT */
/* accept4() is a GNU extension on Linux. */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE
#endif
#include "io/sock.h"
#include "util/error_internal.h"
#include "util/strbuf.h"
#include "wschat/error.h"
#include "wschat/io.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/eventfd.h>
#endif

static int set_flags(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -1;
    return fcntl(fd, F_SETFD, FD_CLOEXEC);
}

int ws__sock_listen(void *state, const char *addr, int port, int backlog, unsigned flags,
                    int *bound_port)
{
    (void)state;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV};
    struct addrinfo *res;
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    if (getaddrinfo(addr, ps, &hints, &res) != 0)
        return WS_EINVAL;
    int fd = socket(res->ai_family, SOCK_STREAM, 0);
    if (fd < 0) {
        int e = errno;
        freeaddrinfo(res);
        return ws__from_errno(e);
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
#ifdef __linux__
    /* Linux copies the listener's TCP_NODELAY into every accepted socket:
     * set once here, it saves a setsockopt per connection. */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
#endif
    int rc = 0;
#ifdef SO_REUSEPORT
    /* Several processes on one port, the kernel spreading connections. */
    if ((flags & WS_LISTEN_REUSEPORT) &&
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0)
        rc = ws__from_errno(errno);
#else
    if (flags & WS_LISTEN_REUSEPORT)
        rc = WS_ENOTSUP;
#endif
    if (!rc && (set_flags(fd) < 0 || bind(fd, res->ai_addr, res->ai_addrlen) < 0 ||
                listen(fd, backlog) < 0))
        rc = ws__from_errno(errno);
    freeaddrinfo(res);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (!rc && getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
        *bound_port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                     : ((struct sockaddr_in *)&ss)->sin_port);
    if (rc) {
        close(fd);
        return rc;
    }
    return fd;
}

static void no_delay(int fd)
{
    int one = 1;
    /* Frames are flushed once per loop iteration already; Nagle would only
     * add latency on top of that batching. */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static void format_peer(const struct sockaddr_storage *ss, char *out, size_t cap)
{
    ws__strbuf b = ws__strbuf_on(out, cap);
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
        char ip[INET6_ADDRSTRLEN] = "?";
        inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof ip);
        ws__strbuf_put(&b, "[");
        ws__strbuf_put(&b, ip);
        ws__strbuf_put(&b, "]:");
        ws__strbuf_uint(&b, ntohs(a->sin6_port));
    } else {
        /* By hand: glibc's inet_ntop formats an IPv4 address with sprintf. */
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        const uint8_t *ip = (const uint8_t *)&a->sin_addr;
        for (int i = 0; i < 4; i++) {
            ws__strbuf_uint(&b, ip[i]);
            ws__strbuf_put(&b, i < 3 ? "." : ":");
        }
        ws__strbuf_uint(&b, ntohs(a->sin_port));
    }
    ws__strbuf_end(&b); /* peer buffers hold any address; too small, it is cut short */
}

void ws__sock_peer(int fd, char *peer, size_t peer_cap)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0)
        format_peer(&ss, peer, peer_cap);
    else
        snprintf(peer, peer_cap, "?");
}

int ws__sock_accept(void *state, int lfd, char *peer, size_t peer_cap)
{
    (void)state;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
#ifdef __linux__
    int fd = accept4(lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
#else
    int fd = accept(lfd, (struct sockaddr *)&ss, &sl);
    if (fd >= 0 && set_flags(fd) < 0) {
        close(fd);
        return WS_ESYS;
    }
#endif
    if (fd < 0)
        return ws__from_errno(errno);
#ifndef __linux__
    no_delay(fd); /* on Linux it came from the listener */
#endif
    format_peer(&ss, peer, peer_cap);
    return fd;
}

int ws__sock_connect(void *state, const struct sockaddr *addr, unsigned addrlen, char *peer,
                     size_t peer_cap)
{
    (void)state;
    int fd = socket(addr->sa_family, SOCK_STREAM, 0);
    if (fd < 0)
        return ws__from_errno(errno);
    if (set_flags(fd) < 0) {
        close(fd);
        return WS_ESYS;
    }
    no_delay(fd);
#ifdef SO_NOSIGPIPE
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof one);
#endif
    if (connect(fd, addr, (socklen_t)addrlen) < 0 && errno != EINPROGRESS) {
        int e = errno;
        close(fd);
        return ws__from_errno(e);
    }
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    memcpy(&ss, addr, addrlen < sizeof ss ? addrlen : sizeof ss);
    format_peer(&ss, peer, peer_cap);
    return fd;
}

int ws__sock_connect_result(void *state, int fd)
{
    (void)state;
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        return ws__from_errno(errno);
    return err ? ws__from_errno(err) : 0;
}

long ws__sock_read(void *state, int fd, void *buf, size_t len)
{
    (void)state;
    ssize_t n = read(fd, buf, len);
    return n >= 0 ? (long)n : ws__from_errno(errno);
}

long ws__sock_writev(void *state, int fd, const struct iovec *iov, int iovcnt)
{
    (void)state;
#ifdef MSG_NOSIGNAL
    /* MSG_NOSIGNAL: a peer reset must not raise SIGPIPE. One buffer (the
     * common case: a batch coalesced into one chunk) goes through send(),
     * which skips sendmsg's copy-in of the msghdr and iovec. */
    ssize_t n;
    if (iovcnt == 1) {
        n = send(fd, iov[0].iov_base, iov[0].iov_len, MSG_NOSIGNAL);
    } else {
        struct msghdr m = {.msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)iovcnt};
        n = sendmsg(fd, &m, MSG_NOSIGNAL);
    }
#else
    ssize_t n = writev(fd, iov, iovcnt);
#endif
    return n >= 0 ? (long)n : ws__from_errno(errno);
}

void ws__sock_shutdown(void *state, int fd)
{
    (void)state;
    shutdown(fd, SHUT_WR);
}

void ws__sock_close(void *state, int fd)
{
    (void)state;
    close(fd);
}

int ws__wakefd_open(int fds[2])
{
#ifdef __linux__
    int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (fd < 0)
        return ws__from_errno(errno);
    fds[0] = fds[1] = fd;
    return 0;
#else
    if (pipe(fds) < 0)
        return ws__from_errno(errno);
    set_flags(fds[0]);
    set_flags(fds[1]);
    return 0;
#endif
}

void ws__wakefd_close(int fds[2])
{
    close(fds[0]);
    if (fds[1] != fds[0])
        close(fds[1]);
}

void ws__wakefd_signal(int fd)
{
    /* Async-signal-safe: write(2) only. EAGAIN means a wake is pending. */
    uint64_t one = 1;
    ssize_t r = write(fd, &one, sizeof one);
    (void)r;
}

void ws__wakefd_drain(int fd)
{
    uint64_t buf[8];
    while (read(fd, buf, sizeof buf) > 0)
        ;
}
