/* SPDX-License-Identifier: MIT */
/* The pluggable I/O backend.
 *
 * A backend is a poller plus a byte transport: the built-in ones are "epoll"
 * (Linux), "kqueue" (BSD/macOS), "poll" (any POSIX) and "mem" (in-memory: no
 * sockets, a virtual clock, deterministic order; for tests). An application
 * can supply its own table through ws_config.io to run the server over
 * another transport or inside another event loop. See docs/backends.md for
 * the contract each function must keep.
 */
#ifndef WSCHAT_IO_H
#define WSCHAT_IO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "api.h"

WS_BEGIN_DECLS

/* WS_IO_OWNED, given to add() only: fd is a connection made by some state's
 * accept or connect of this backend (not necessarily this state's: a server
 * accepts on one loop and serves on another), read and written only through
 * read, writev, shutdown and close. A backend may then do the I/O its own
 * way (io_uring: a multishot receive into its buffers). Without it the fd's
 * owner does its own I/O (hiredis does), so the backend only reports
 * readiness and never reads the fd. Other backends ignore it. */
enum { WS_IO_READ = 1, WS_IO_WRITE = 2, WS_IO_ERROR = 4, WS_IO_OWNED = 8 };

typedef struct ws_io_event {
    int fd;
    unsigned events;   /* WS_IO_* bits */
} ws_io_event;

/* Every function returns 0 or a byte count on success and a negative ws_err
 * on failure; WS_EAGAIN means "not now". One state per event loop: all calls
 * for a state come from that loop's thread, except wake(), which any thread
 * (and a signal handler, for epoll and poll) may call. */
#define WS_LISTEN_REUSEPORT 1u

typedef struct ws_io_backend {
    const char *name;
    int (*create)(void **state, void *arg);
    void (*destroy)(void *state);
    int (*add)(void *state, int fd, unsigned events);
    int (*mod)(void *state, int fd, unsigned events);
    int (*del)(void *state, int fd);
    /* Waits up to timeout_ms (-1 = forever) and fills out[0..max). Returns
     * the number of events. Must return early after wake(). */
    int (*poll)(void *state, int timeout_ms, ws_io_event *out, int max);
    int (*wake)(void *state);
    /* Transport. listen returns a listening fd and writes the bound port;
     * flags: WS_LISTEN_REUSEPORT (share the port with other processes,
     * SO_REUSEPORT; WS_ENOTSUP where the backend cannot). */
    int (*listen)(void *state, const char *addr, int port, int backlog, unsigned flags,
                  int *bound_port);
    /* Returns a new non-blocking fd; peer gets "ip:port". */
    int (*accept)(void *state, int lfd, char *peer, size_t peer_cap);
    /* Returns bytes read, 0 at end of stream. */
    long (*read)(void *state, int fd, void *buf, size_t len);
    long (*writev)(void *state, int fd, const struct iovec *iov, int iovcnt);
    /* Half-closes the write side (after a close handshake) where possible. */
    void (*shutdown)(void *state, int fd);
    void (*close)(void *state, int fd);
    /* Monotonic milliseconds. NULL means CLOCK_MONOTONIC. */
    uint64_t (*now_ms)(void *state);
    /* Client transport; both NULL for a backend that cannot connect (then
     * connecting fails with WS_ENOTSUP). connect starts a non-blocking
     * connection to addr and returns its fd (possibly still connecting), or
     * an error such as WS_ECONNREFUSED; peer gets "ip:port". Once the fd is
     * writable, connect_result returns 0 if the connection is established,
     * else its error. */
    int (*connect)(void *state, const struct sockaddr *addr, unsigned addrlen, char *peer,
                   size_t peer_cap);
    int (*connect_result)(void *state, int fd);
} ws_io_backend;

/* Finds a backend compiled into this build by name ("epoll", "poll",
 * "kqueue", "mem"); NULL or "" gives the build's default. Returns NULL if
 * there is no such backend. The table is static; thread-safe. */
WS_API const ws_io_backend *ws_io_backend_find(const char *name);

/* The name of the build's default backend. */
WS_API const char *ws_io_default_backend(void);

/* --- The in-memory backend's network ---------------------------------
 * Create a ws_mem_net, pass it as ws_config.io_arg with backend "mem", and
 * connect test clients to the server through it. Every function is
 * thread-safe. Clients are plain byte pipes: the test writes the HTTP request
 * and masked frames itself (or uses a helper such as tests/support/peer.c). */
typedef struct ws_mem_net ws_mem_net;

/* Returns a new network with its virtual clock at 0, or NULL on ENOMEM. */
WS_API ws_mem_net *ws_mem_net_new(void);
/* Frees the network. Every server using it must have been freed first. */
WS_API void ws_mem_net_free(ws_mem_net *net);
/* Connects a client to the listener on `port`. Returns the client's handle
 * (>= 0), WS_ENOTFOUND if nothing listens there. */
WS_API int ws_mem_connect(ws_mem_net *net, int port);
/* Queues bytes from the client to the server. Returns len or WS_ECLOSED. */
WS_API long ws_mem_write(ws_mem_net *net, int client, const void *data, size_t len);
/* Takes up to cap bytes the server sent. Returns the count (0 if none yet),
 * or WS_ECLOSED once the server closed and everything was read. */
WS_API long ws_mem_read(ws_mem_net *net, int client, void *buf, size_t cap);
/* Half-closes the client's end: the server reads end of stream but can
 * still write what it has queued (the client can still ws_mem_read it). */
WS_API void ws_mem_close(ws_mem_net *net, int client);
/* Closes the client's end abortively (a TCP reset): the server's writes fail. */
WS_API void ws_mem_reset(ws_mem_net *net, int client);
/* 1 once the server has closed the client's connection. */
WS_API int ws_mem_server_closed(ws_mem_net *net, int client);
/* The other way round, for testing a client: the test listens on `port`
 * (0 = pick one; *bound gets it) and accepts what the library's client
 * sessions connect there. ws_mem_listen returns 0, WS_EADDRINUSE or
 * WS_ENOMEM. ws_mem_accept returns a handle (as ws_mem_connect's, with
 * the test on the server's end: ws_mem_write sends to the client, and
 * ws_mem_read, ws_mem_close, ws_mem_reset, ws_mem_server_closed (here: the
 * client closed) and ws_mem_set_window act on that end), or WS_EAGAIN when
 * nobody is waiting. ws_mem_unlisten stops listening. */
WS_API int ws_mem_listen(ws_mem_net *net, int port, int *bound);
WS_API int ws_mem_accept(ws_mem_net *net, int port);
WS_API void ws_mem_unlisten(ws_mem_net *net, int port);
/* Advances the virtual clock. */
WS_API void ws_mem_advance(ws_mem_net *net, uint64_t ms);
/* Sets how many bytes the server may write to this client before its writes
 * would block (simulating a slow reader). SIZE_MAX = unlimited (default). */
WS_API void ws_mem_set_window(ws_mem_net *net, int client, size_t bytes);

WS_END_DECLS

#endif
