/* SPDX-License-Identifier: MIT */
/* The socket transport shared by the epoll, kqueue and poll backends: the
 * ws_io_backend transport functions over real non-blocking TCP sockets. */
#ifndef WS_IO_SOCK_H
#define WS_IO_SOCK_H

#include <stddef.h>
#include <sys/socket.h>
#include <sys/uio.h>

int ws__sock_listen(void *state, const char *addr, int port, int backlog, unsigned flags,
                    int *bound_port);
int ws__sock_accept(void *state, int lfd, char *peer, size_t peer_cap);
/* "ip:port" of fd's peer (getpeername), or "?" if it is gone already. */
void ws__sock_peer(int fd, char *peer, size_t peer_cap);
long ws__sock_read(void *state, int fd, void *buf, size_t len);
long ws__sock_writev(void *state, int fd, const struct iovec *iov, int iovcnt);
void ws__sock_shutdown(void *state, int fd);
void ws__sock_close(void *state, int fd);
int ws__sock_connect(void *state, const struct sockaddr *addr, unsigned addrlen, char *peer,
                     size_t peer_cap);
int ws__sock_connect_result(void *state, int fd);

/* A self-pipe (eventfd on Linux) for wake(): fds[0] is polled, write to fds[1]. */
int ws__wakefd_open(int fds[2]);
void ws__wakefd_close(int fds[2]);
void ws__wakefd_signal(int fd);
void ws__wakefd_drain(int fd);

#define WS__SOCK_TRANSPORT                                                             \
    .listen = ws__sock_listen, .accept = ws__sock_accept, .read = ws__sock_read,       \
    .writev = ws__sock_writev, .shutdown = ws__sock_shutdown, .close = ws__sock_close, \
    .connect = ws__sock_connect, .connect_result = ws__sock_connect_result

#endif
