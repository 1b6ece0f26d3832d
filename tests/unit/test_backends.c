/* SPDX-License-Identifier: MIT */
/* The I/O backends' contract (docs/backends.md), checked on each compiled
 * socket backend (epoll, io_uring, poll) over real loopback sockets: bytes
 * in order, level-triggered readiness, a paused reader losing nothing,
 * large transfers both ways (io_uring's bulk mode in and out of it), a
 * close that still delivers what was queued, a peer's reset, an fd number
 * reused at once, and wake from another thread. The in-memory backend has
 * its own tests (tests/session). */
#include "support/test.h"
#include "io/backend.h"
#include "session/sendq.h"
#include "wschat/error.h"
#include "wschat/io.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

typedef struct ctx {
    const ws_io_backend *io;
    void *st;
    int lfd, port;
} ctx;

static uint64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

static int setup(void **state)
{
    const char *name = *state;
    const ws_io_backend *io = ws_io_backend_find(name);
    *state = NULL; /* each test skips without a context */
    if (!io)
        return 0; /* not compiled on this platform */
    ctx *c = calloc(1, sizeof *c);
    c->io = io;
    if (io->create(&c->st, NULL) != 0) {
        free(c);
        return 0; /* e.g. io_uring refused here */
    }
    c->lfd = io->listen(c->st, "127.0.0.1", 0, 64, 0, &c->port);
    assert_true(c->lfd >= 0);
    assert_int_equal(io->add(c->st, c->lfd, WS_IO_READ), 0);
    *state = c;
    return 0;
}

static int teardown(void **state)
{
    ctx *c = *state;
    if (!c)
        return 0;
    c->io->close(c->st, c->lfd);
    c->io->destroy(c->st);
    free(c);
    return 0;
}

/* Polls up to ms for an event on fd with any of `want`; returns them, 0 if
 * none came. */
static unsigned wait_for(ctx *c, int fd, unsigned want, int ms)
{
    uint64_t end = now_ms() + (uint64_t)ms;
    do {
        ws_io_event ev[64];
        int n = c->io->poll(c->st, 10, ev, 64);
        assert_true(n >= 0);
        for (int i = 0; i < n; i++)
            if (ev[i].fd == fd && (ev[i].events & want))
                return ev[i].events;
    } while (now_ms() < end);
    return 0;
}

/* A connected pair: the backend's end (watched for reading) and a plain
 * blocking socket as the peer. */
static int pair(ctx *c, int *peer)
{
    *peer = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)c->port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(*peer, (struct sockaddr *)&a, sizeof a), 0);
    int one = 1;
    setsockopt(*peer, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    assert_true(wait_for(c, c->lfd, WS_IO_READ, 2000) & WS_IO_READ);
    char who[64];
    int fd = c->io->accept(c->st, c->lfd, who, sizeof who);
    assert_true(fd >= 0);
    assert_non_null(strchr(who, ':'));
    assert_int_equal(c->io->add(c->st, fd, WS_IO_READ | WS_IO_OWNED), 0);
    return fd;
}

/* Reads what the backend has for fd into buf until `want` bytes or ms. */
static size_t read_all(ctx *c, int fd, uint8_t *buf, size_t want, size_t step, int ms)
{
    size_t got = 0;
    uint64_t end = now_ms() + (uint64_t)ms;
    while (got < want && now_ms() < end) {
        if (!(wait_for(c, fd, WS_IO_READ, 50) & WS_IO_READ))
            continue;
        for (;;) {
            size_t n = want - got < step ? want - got : step;
            long r = c->io->read(c->st, fd, buf + got, n);
            if (r == WS_EAGAIN || r == 0)
                break;
            assert_true(r > 0);
            got += (size_t)r;
            if (got == want)
                break;
        }
    }
    return got;
}

/* Receives on the peer while pumping the backend's loop (io_uring's sends
 * go out in poll), until want bytes, EOF or ms. */
static size_t peer_recv(ctx *c, int peer, uint8_t *buf, size_t want, int ms, bool *eof)
{
    size_t got = 0;
    uint64_t end = now_ms() + (uint64_t)ms;
    *eof = false;
    while (got < want && now_ms() < end) {
        ws_io_event ev[64];
        c->io->poll(c->st, 1, ev, 64);
        ssize_t r = recv(peer, buf + got, want - got, MSG_DONTWAIT);
        if (r == 0) {
            *eof = true;
            break;
        }
        if (r > 0)
            got += (size_t)r;
    }
    return got;
}

/* The test's context; skips when this backend is not here. */
static ctx *ready(void **state)
{
    if (!*state)
        skip();
    return *state;
}

static void finish(ctx *c, int fd, int peer)
{
    c->io->close(c->st, fd);
    close(peer);
}

static uint8_t pattern(size_t i) { return (uint8_t)(i * 7 + 3); }

static void test_bytes_both_ways(void **state)
{
    ctx *c = ready(state);
    int peer, fd = pair(c, &peer);
    assert_int_equal(send(peer, "hello", 5, 0), 5);
    uint8_t buf[64];
    assert_int_equal(read_all(c, fd, buf, 5, sizeof buf, 2000), 5);
    assert_memory_equal(buf, "hello", 5);
    struct iovec iov[2] = {{"wor", 3}, {"ld", 2}};
    assert_int_equal(c->io->writev(c->st, fd, iov, 2), 5);
    bool eof;
    assert_int_equal(peer_recv(c, peer, buf, 5, 2000, &eof), 5);
    assert_memory_equal(buf, "world", 5);
    c->io->close(c->st, fd);
    assert_int_equal(peer_recv(c, peer, buf, 1, 2000, &eof), 0);
    assert_true(eof);
    close(peer);
}

/* Frames are flushed once per iteration, so Nagle would only add delay:
 * every accepted socket has TCP_NODELAY (on Linux inherited from the
 * listener, elsewhere set per socket). */
static void test_accepted_socket_has_no_delay(void **state)
{
    ctx *c = ready(state);
    int peer, fd = pair(c, &peer), on = 0;
    socklen_t len = sizeof on;
    assert_int_equal(getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, &len), 0);
    assert_true(on != 0);
    c->io->close(c->st, fd);
    close(peer);
}

static int open_fds(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

static int dial(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

/* Accepts on lfd for up to ms until n connections; checks each one's peer
 * against the clients' own addresses. */
static int accept_n(ctx *c, int lfd, const int *clients, int n, int *got, int ms)
{
    int k = 0;
    uint64_t end = now_ms() + (uint64_t)ms;
    while (k < n && now_ms() < end) {
        if (!(wait_for(c, lfd, WS_IO_READ, 50) & WS_IO_READ))
            continue;
        char who[64];
        int fd;
        while (k < n && (fd = c->io->accept(c->st, lfd, who, sizeof who)) >= 0) {
            got[k++] = fd;
            bool known = false;
            for (int i = 0; i < n && !known; i++) {
                struct sockaddr_in a;
                socklen_t al = sizeof a;
                getsockname(clients[i], (struct sockaddr *)&a, &al);
                char want[64];
                snprintf(want, sizeof want, "127.0.0.1:%u", ntohs(a.sin_port));
                known = strcmp(who, want) == 0;
            }
            assert_true(known);
        }
    }
    return k;
}

/* A burst of connections, a paused listener, and a listener closed with
 * connections it accepted and nobody took (io_uring's multishot accept
 * queues them): every connection is handed out once with its peer, none
 * while paused, and closing leaks no fd. */
static void test_listener_burst_pause_close(void **state)
{
    ctx *c = ready(state);
    int fds0 = open_fds(), port;
    int lfd = c->io->listen(c->st, "127.0.0.1", 0, 128, 0, &port);
    assert_true(lfd >= 0);
    assert_int_equal(c->io->add(c->st, lfd, WS_IO_READ), 0);
    enum { N = 40 };
    int cl[N], got[N];
    for (int i = 0; i < N; i++)
        cl[i] = dial(port);
    assert_int_equal(accept_n(c, lfd, cl, N, got, 3000), N);
    char who[64];
    assert_int_equal(c->io->accept(c->st, lfd, who, sizeof who), WS_EAGAIN);
    for (int i = 0; i < N; i++) {
        c->io->close(c->st, got[i]);
        close(cl[i]);
    }
    /* Paused: nothing reported, nothing lost. */
    assert_int_equal(c->io->mod(c->st, lfd, 0), 0);
    for (int i = 0; i < 3; i++)
        cl[i] = dial(port);
    assert_int_equal(wait_for(c, lfd, WS_IO_READ, 300), 0);
    assert_int_equal(c->io->mod(c->st, lfd, WS_IO_READ), 0);
    assert_int_equal(accept_n(c, lfd, cl, 3, got, 3000), 3);
    for (int i = 0; i < 3; i++) {
        c->io->close(c->st, got[i]);
        close(cl[i]);
    }
    /* Closed with accepted connections waiting. */
    for (int i = 0; i < 3; i++)
        cl[i] = dial(port);
    for (int i = 0; i < 5; i++)
        wait_for(c, lfd, WS_IO_READ, 20);
    c->io->close(c->st, lfd);
    for (int i = 0; i < 3; i++)
        close(cl[i]);
    uint64_t end = now_ms() + 2000;
    while (open_fds() != fds0 && now_ms() < end) {
        ws_io_event ev[8];
        c->io->poll(c->st, 10, ev, 8); /* the close's last completions */
    }
    assert_int_equal(open_fds(), fds0);
}

/* A connection accepted on c's listener, not yet watched; *peer its client. */
static int accepted(ctx *c, int *peer)
{
    *peer = dial(c->port);
    assert_true(wait_for(c, c->lfd, WS_IO_READ, 2000) & WS_IO_READ);
    char who[64];
    int fd = c->io->accept(c->st, c->lfd, who, sizeof who);
    assert_true(fd >= 0);
    return fd;
}

/* The peer of an IPv6 connection reads "[addr]:port" (the IPv4 one is
 * checked with every accept in the burst above). */
static void test_ipv6_peer(void **state)
{
    ctx *c = ready(state);
    int port, lfd = c->io->listen(c->st, "::1", 0, 8, 0, &port);
    if (lfd < 0)
        skip(); /* no IPv6 loopback here */
    assert_int_equal(c->io->add(c->st, lfd, WS_IO_READ), 0);
    int cl = socket(AF_INET6, SOCK_STREAM, 0);
    struct sockaddr_in6 a = {.sin6_family = AF_INET6,
                             .sin6_port = htons((uint16_t)port),
                             .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    assert_int_equal(connect(cl, (struct sockaddr *)&a, sizeof a), 0);
    struct sockaddr_in6 me;
    socklen_t ml = sizeof me;
    getsockname(cl, (struct sockaddr *)&me, &ml);
    char want[64], who[64];
    snprintf(want, sizeof want, "[::1]:%u", ntohs(me.sin6_port));
    int fd = -1;
    for (int i = 0; i < 200 && fd < 0; i++)
        if (wait_for(c, lfd, WS_IO_READ, 10) & WS_IO_READ)
            fd = c->io->accept(c->st, lfd, who, sizeof who);
    assert_true(fd >= 0);
    assert_string_equal(who, want);
    c->io->close(c->st, fd);
    c->io->close(c->st, lfd);
    close(cl);
}

/* An fd added without WS_IO_OWNED belongs to someone who reads it himself
 * (hiredis): the backend reports readiness and leaves every byte. */
static void test_foreign_fd_is_never_read(void **state)
{
    ctx *c = ready(state);
    int peer, fd = accepted(c, &peer);
    assert_int_equal(c->io->add(c->st, fd, WS_IO_READ), 0);
    assert_int_equal(send(peer, "mine", 4, 0), 4);
    assert_true(wait_for(c, fd, WS_IO_READ, 2000) & WS_IO_READ);
    char buf[8];
    assert_int_equal(recv(fd, buf, sizeof buf, MSG_DONTWAIT), 4);
    assert_memory_equal(buf, "mine", 4);
    c->io->del(c->st, fd);
    close(fd);
    close(peer);
}

static void count_release(void *ref) { (*(int *)ref)++; }

/* io_uring's send by reference (a broadcast's shared frame): in order with
 * what writev queues around it, sent from the caller's buffer, released
 * once after it is sent, and released by a state destroyed with it still
 * queued. The other backends have no such path. */
static void test_write_by_reference(void **state)
{
    ctx *c = ready(state);
    int peer, fd = pair(c, &peer);
    static const char frame[] = "shared";
    int released = 0;
    struct iovec a = {"<", 1}, z = {">", 1};
    assert_int_equal(c->io->writev(c->st, fd, &a, 1), 1);
    long w = ws__io_write_ref(c->io, c->st, fd, frame, 6, count_release, &released);
    if (strcmp(c->io->name, "io_uring") != 0) {
        assert_int_equal(w, WS_ENOTSUP);
        finish(c, fd, peer);
        return;
    }
    assert_int_equal(w, 6);
    assert_int_equal(c->io->writev(c->st, fd, &z, 1), 1);
    assert_int_equal(released, 0); /* queued: not sent before the next poll */
    uint8_t buf[16];
    bool eof;
    assert_int_equal(peer_recv(c, peer, buf, 8, 2000, &eof), 8);
    assert_memory_equal(buf, "<shared>", 8);
    for (int i = 0; i < 100 && !released; i++) {
        ws_io_event ev[8];
        c->io->poll(c->st, 10, ev, 8);
    }
    assert_int_equal(released, 1);
    finish(c, fd, peer);

    /* Still queued when its state goes: released, never sent. */
    void *st2;
    assert_int_equal(c->io->create(&st2, NULL), 0);
    fd = accepted(c, &peer);
    assert_int_equal(c->io->add(st2, fd, WS_IO_READ | WS_IO_OWNED), 0);
    released = 0;
    assert_int_equal(ws__io_write_ref(c->io, st2, fd, frame, 6, count_release, &released), 6);
    c->io->destroy(st2);
    assert_int_equal(released, 1);
    close(fd);
    close(peer);
}

/* A session's queue with a shared blob between copies: on io_uring the
 * blob goes by reference (the backend holds one more reference until it is
 * sent), on every backend the bytes arrive in order and the blob ends with
 * only its owner's reference. */
static void test_sendq_blob_by_reference(void **state)
{
    ctx *c = ready(state);
    int peer, fd = pair(c, &peer);
    ws__blob *b = ws__blob_new(1000);
    for (size_t i = 0; i < 1000; i++)
        b->data[i] = pattern(i);
    ws__sendq q = {0};
    ws__chunk_cache k = {0};
    assert_int_equal(ws__sendq_append(&q, &k, "[", 1, NULL, 0), 0);
    assert_int_equal(ws__sendq_append_blob(&q, &k, b), 0);
    assert_int_equal(ws__sendq_append(&q, &k, "]", 1, NULL, 0), 0);
    assert_int_equal(ws__sendq_flush(&q, &k, c->io, c->st, fd), 1002);
    assert_null(q.head);
    bool uring = strcmp(c->io->name, "io_uring") == 0;
    assert_int_equal(atomic_load(&b->refs), uring ? 2 : 1);
    uint8_t buf[1002];
    bool eof;
    assert_int_equal(peer_recv(c, peer, buf, sizeof buf, 2000, &eof), sizeof buf);
    assert_int_equal(buf[0], '[');
    for (size_t i = 0; i < 1000; i++)
        assert_int_equal(buf[1 + i], pattern(i));
    assert_int_equal(buf[1001], ']');
    for (int i = 0; i < 100 && atomic_load(&b->refs) > 1; i++) {
        ws_io_event ev[8];
        c->io->poll(c->st, 10, ev, 8);
    }
    assert_int_equal(atomic_load(&b->refs), 1);
    ws__blob_unref(b);
    ws__chunk_cache_free(&k);
    finish(c, fd, peer);
}

/* A foreign fd unwatched and closed by its owner (hiredis closing its
 * connection) must really close: io_uring's armed poll holds the file, so
 * the peer would never see the FIN. And the next fd of that number starts
 * afresh: a stale "poll armed" would leave it unwatched. */
static void test_unwatched_foreign_fd_closes(void **state)
{
    ctx *c = ready(state);
    int peer, fd = accepted(c, &peer);
    assert_int_equal(c->io->add(c->st, fd, WS_IO_READ), 0);
    ws_io_event ev[8];
    c->io->poll(c->st, 10, ev, 8); /* io_uring: the poll is armed now */
    c->io->del(c->st, fd);
    close(fd);
    uint8_t buf[8];
    bool eof;
    assert_int_equal(peer_recv(c, peer, buf, sizeof buf, 2000, &eof), 0);
    assert_true(eof);
    close(peer);
    int peer2, fd2 = accepted(c, &peer2);
    assert_int_equal(fd2, fd); /* the lowest free number: the one just closed */
    assert_int_equal(c->io->add(c->st, fd2, WS_IO_READ), 0);
    assert_int_equal(send(peer2, "again", 5, 0), 5);
    assert_true(wait_for(c, fd2, WS_IO_READ, 2000) & WS_IO_READ);
    c->io->del(c->st, fd2);
    close(fd2);
    close(peer2);
}

/* Accepted on one state, served on another (a server's second loop): the
 * serving state drives it like its own. On io_uring that means the ring
 * receives it: once reported, the bytes are out of the socket already. */
static void test_served_on_another_state(void **state)
{
    ctx *c = ready(state);
    void *st2;
    assert_int_equal(c->io->create(&st2, NULL), 0);
    int peer, fd = accepted(c, &peer);
    assert_int_equal(c->io->add(st2, fd, WS_IO_READ | WS_IO_OWNED), 0);
    assert_int_equal(send(peer, "hello", 5, 0), 5);
    ctx c2 = *c;
    c2.st = st2;
    assert_true(wait_for(&c2, fd, WS_IO_READ, 2000) & WS_IO_READ);
    char buf[8];
    if (strcmp(c->io->name, "io_uring") == 0)
        assert_int_equal(recv(fd, buf, sizeof buf, MSG_PEEK | MSG_DONTWAIT), -1);
    assert_int_equal(read_all(&c2, fd, (uint8_t *)buf, 5, sizeof buf, 2000), 5);
    assert_memory_equal(buf, "hello", 5);
    struct iovec iov = {"back", 4};
    assert_int_equal(c->io->writev(st2, fd, &iov, 1), 4);
    bool eof;
    assert_int_equal(peer_recv(&c2, peer, (uint8_t *)buf, 4, 2000, &eof), 4);
    assert_memory_equal(buf, "back", 4);
    c->io->close(st2, fd);
    for (int i = 0; i < 5; i++) {
        ws_io_event ev[8];
        c->io->poll(st2, 10, ev, 8); /* the close's completions */
    }
    c->io->destroy(st2);
    close(peer);
}

static void test_level_triggered(void **state)
{
    ctx *c = ready(state);
    int peer, fd = pair(c, &peer);
    uint8_t out[100], in[100];
    for (size_t i = 0; i < sizeof out; i++)
        out[i] = pattern(i);
    assert_int_equal(send(peer, out, sizeof out, 0), (ssize_t)sizeof out);
    assert_true(wait_for(c, fd, WS_IO_READ, 2000));
    /* Let all 100 bytes arrive, then take only 10: still readable. */
    usleep(20000);
    assert_true(wait_for(c, fd, WS_IO_READ, 2000));
    assert_int_equal(c->io->read(c->st, fd, in, 10), 10);
    assert_true(wait_for(c, fd, WS_IO_READ, 500) & WS_IO_READ);
    assert_int_equal(read_all(c, fd, in + 10, 90, 90, 2000), 90);
    assert_memory_equal(in, out, sizeof out);
    finish(c, fd, peer);
}

static void test_paused_reader_loses_nothing(void **state)
{
    ctx *c = ready(state);
    int peer, fd = pair(c, &peer);
    static uint8_t out[5000], in[5000];
    for (size_t i = 0; i < sizeof out; i++)
        out[i] = pattern(i);
    assert_int_equal(send(peer, out, 1000, 0), 1000);
    assert_int_equal(read_all(c, fd, in, 1000, 300, 2000), 1000);
    assert_int_equal(c->io->mod(c->st, fd, 0), 0); /* paused */
    assert_int_equal(send(peer, out + 1000, 4000, 0), 4000);
    assert_int_equal(wait_for(c, fd, WS_IO_READ, 200), 0);
    assert_int_equal(c->io->mod(c->st, fd, WS_IO_READ), 0);
    assert_int_equal(read_all(c, fd, in + 1000, 4000, 4000, 2000), 4000);
    assert_memory_equal(in, out, sizeof out);
    finish(c, fd, peer);
}

typedef struct sender {
    int fd;
    size_t n;
} sender;

static void *send_pattern(void *arg)
{
    sender *s = arg;
    static uint8_t chunk[65536 + 17];
    for (size_t off = 0; off < s->n;) {
        size_t n = s->n - off < sizeof chunk ? s->n - off : sizeof chunk;
        for (size_t i = 0; i < n; i++)
            chunk[i] = pattern(off + i);
        ssize_t w = send(s->fd, chunk, n, 0);
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    return NULL;
}

/* Large transfers arrive in order whatever the reads' sizes: big reads
 * (io_uring goes bulk) alternating with small ones (it comes back). */
static void test_large_in_order(void **state)
{
    ctx *c = ready(state);
    int peer, fd = pair(c, &peer);
    enum { TOTAL = 4 << 20 };
    sender s = {peer, TOTAL};
    pthread_t t;
    pthread_create(&t, NULL, send_pattern, &s);
    uint8_t *in = malloc(TOTAL);
    size_t got = 0;
    const size_t steps[] = {200000, 700, 65536, 100, 16384, 1};
    uint64_t end = now_ms() + 20000;
    for (int k = 0; got < TOTAL && now_ms() < end; k++)
        got += read_all(c, fd, in + got, TOTAL - got < 300000 ? TOTAL - got : 300000,
                        steps[k % ARRAY_LEN(steps)], 100);
    pthread_join(t, NULL);
    assert_int_equal(got, TOTAL);
    for (size_t i = 0; i < TOTAL; i++)
        if (in[i] != pattern(i))
            fail_msg("byte %zu out of order", i);
    free(in);
    finish(c, fd, peer);
}

/* Request and answer sized messages: 64 KiB ones (io_uring reads them
 * straight through once a receive fills a whole buffer: bulk mode), then
 * small ones (back to the multishot receive), then large again; every
 * byte in order. */
static void test_large_then_small_messages(void **state)
{
    ctx *c = ready(state);
    int peer, fd = pair(c, &peer);
    static uint8_t out[65536], in[65536];
    size_t off = 0;
    const size_t sizes[] = {65536, 100, 65536};
    for (int phase = 0; phase < 3; phase++)
        for (int round = 0; round < 30; round++) {
            size_t n = sizes[phase];
            for (size_t i = 0; i < n; i++)
                out[i] = pattern(off + i);
            assert_int_equal(send(peer, out, n, 0), (ssize_t)n);
            /* Into a buffer larger than the message, as a session reads. */
            size_t got = 0;
            static uint8_t big[200000];
            uint64_t end = now_ms() + 3000;
            while (got < n && now_ms() < end) {
                if (!(wait_for(c, fd, WS_IO_READ, 50) & WS_IO_READ))
                    continue;
                long r = c->io->read(c->st, fd, big + got, sizeof big - got);
                assert_true(r > 0 || r == WS_EAGAIN);
                if (r > 0)
                    got += (size_t)r;
            }
            assert_int_equal(got, n);
            memcpy(in, big, n);
            if (memcmp(in, out, n) != 0)
                fail_msg("phase %d round %d: bytes out of order", phase, round);
            off += n;
            /* The answer, as an echo server would send it. */
            struct iovec iov = {in, n < 4000 ? n : 4000};
            assert_true(c->io->writev(c->st, fd, &iov, 1) > 0);
            bool eof;
            uint8_t back[4000];
            assert_int_equal(peer_recv(c, peer, back, iov.iov_len, 3000, &eof), iov.iov_len);
        }
    finish(c, fd, peer);
}

/* Writes until the backend refuses (a peer that does not read), then
 * closes: what writev accepted still reaches the peer, then EOF. */
static void test_close_delivers_what_was_accepted(void **state)
{
    ctx *c = ready(state);
    int peer, fd = pair(c, &peer);
    static uint8_t chunk[32768];
    size_t accepted = 0;
    /* Small writes (io_uring queues them) and large ones (after a small
     * one they queue too), until the backend says no more. */
    for (int i = 0; i < 400; i++) {
        size_t n = i % 2 ? sizeof chunk : 4000;
        for (size_t k = 0; k < n; k++)
            chunk[k] = pattern(accepted + k);
        struct iovec iov = {chunk, n};
        long w = c->io->writev(c->st, fd, &iov, 1);
        if (w == WS_EAGAIN)
            break;
        assert_true(w > 0);
        accepted += (size_t)w;
        if ((size_t)w < n)
            break;
    }
    assert_true(accepted > 0);
    c->io->close(c->st, fd);
    uint8_t *in = malloc(accepted + 1);
    bool eof;
    size_t got = peer_recv(c, peer, in, accepted + 1, 10000, &eof);
    if (!eof) /* the EOF may come after the last byte's recv */
        peer_recv(c, peer, in + got, 1, 2000, &eof);
    assert_int_equal(got, accepted);
    assert_true(eof);
    for (size_t i = 0; i < accepted; i++)
        if (in[i] != pattern(i))
            fail_msg("byte %zu wrong", i);
    free(in);
    close(peer);
}

/* The peer resets with data unread: reads end (0 or an error), never
 * hang, and the fd closes cleanly. */
static void test_peer_reset(void **state)
{
    ctx *c = ready(state);
    int peer, fd = pair(c, &peer);
    uint8_t buf[4096];
    assert_int_equal(send(peer, "partial frame", 13, 0), 13);
    struct linger lg = {1, 0};
    setsockopt(peer, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(peer);
    long r = 1;
    uint64_t end = now_ms() + 3000;
    while (r != 0 && now_ms() < end) {
        if (!(wait_for(c, fd, WS_IO_READ | WS_IO_ERROR, 100)))
            continue;
        r = c->io->read(c->st, fd, buf, sizeof buf);
        if (r < 0 && r != WS_EAGAIN)
            break;
    }
    assert_true(r <= 0 && r != WS_EAGAIN);
    c->io->close(c->st, fd);
}

/* Close one connection and at once accept another that gets the same fd
 * number: nothing of the first reaches the second. */
static void test_fd_reused_at_once(void **state)
{
    ctx *c = ready(state);
    int peer1, fd1 = pair(c, &peer1);
    assert_int_equal(send(peer1, "first", 5, 0), 5);
    assert_true(wait_for(c, fd1, WS_IO_READ, 2000));
    c->io->close(c->st, fd1); /* its data unread, its receive armed */
    int peer2, fd2 = pair(c, &peer2);
    assert_int_equal(send(peer2, "second", 6, 0), 6);
    uint8_t buf[16];
    assert_int_equal(read_all(c, fd2, buf, 6, sizeof buf, 2000), 6);
    assert_memory_equal(buf, "second", 6);
    assert_int_equal(c->io->read(c->st, fd2, buf, sizeof buf), WS_EAGAIN);
    c->io->close(c->st, fd2);
    close(peer1);
    close(peer2);
}

static void *wake_later(void *arg)
{
    ctx *c = arg;
    usleep(50000);
    c->io->wake(c->st);
    return NULL;
}

static void test_wake_from_another_thread(void **state)
{
    ctx *c = ready(state);
    pthread_t t;
    uint64_t t0 = now_ms();
    pthread_create(&t, NULL, wake_later, c);
    ws_io_event ev[8];
    c->io->poll(c->st, 5000, ev, 8);
    pthread_join(t, NULL);
    assert_true(now_ms() - t0 < 2000);
}

/* The out-of-memory test makes realloc fail for a while, in this process
 * only (not under ASan, whose allocator would not recognise glibc's). */
#if defined(__SANITIZE_ADDRESS__)
#define CAN_FAIL_REALLOC 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CAN_FAIL_REALLOC 0
#endif
#endif
#ifndef CAN_FAIL_REALLOC
#if defined(__GLIBC__)
#define CAN_FAIL_REALLOC 1
extern void *__libc_realloc(void *p, size_t n);
static atomic_bool realloc_fails;
void *realloc(void *p, size_t n)
{
    return atomic_load(&realloc_fails) ? NULL : __libc_realloc(p, n);
}
#else
#define CAN_FAIL_REALLOC 0
#endif
#endif

/* More fds watched before the first poll than the io_uring backend's
 * submission queue holds (1,024 entries; the ring is only enabled by the
 * first poll, so nothing can be submitted before it): every one of them
 * must still be reported. With no_memory, the lists that keep what could
 * not be queued cannot grow while the fds are added either. */
static void watch_many(void **state, bool no_memory)
{
    ctx *c = ready(state);
    enum { N = 1100 };
    struct rlimit rl;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
    if (rl.rlim_cur < 2 * N + 64) {
        rl.rlim_cur = rl.rlim_max < 2 * N + 64 ? rl.rlim_max : 2 * N + 64;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur < 2 * N + 64)
        skip(); /* the hard limit is too low here */
    /* A fresh backend: setup's poll already enabled the ring. */
    void *st;
    assert_int_equal(c->io->create(&st, NULL), 0);
    static int sp[N][2];
    for (int i = 0; i < N; i++) {
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sp[i]), 0);
        assert_int_equal(write(sp[i][1], "x", 1), 1);
    }
    /* The last fd first: the fd table then has room for all of them, so
     * adding the rest needs no realloc of its own. */
    assert_int_equal(c->io->add(st, sp[N - 1][0], WS_IO_READ), 0);
#if CAN_FAIL_REALLOC
    atomic_store(&realloc_fails, no_memory);
#endif
    /* A backend whose add needs memory says so; what it took, it reports. */
    static bool seen[N];
    memset(seen, 0, sizeof seen);
    int nseen = 0;
    for (int i = 0; i < N - 1; i++) {
        int rc = c->io->add(st, sp[i][0], WS_IO_READ);
        if (rc != 0) {
            assert_int_equal(rc, WS_ENOMEM);
            assert_true(no_memory);
            seen[i] = true; /* not watched: nothing to report */
            nseen++;
        }
    }
#if CAN_FAIL_REALLOC
    atomic_store(&realloc_fails, false);
#endif
    /* io_uring's add needs no memory of its own here, so this is its lists'
     * test: every fd added, and reported. */
    if (strcmp(c->io->name, "io_uring") == 0)
        assert_int_equal(nseen, 0);
    uint64_t end = now_ms() + 3000;
    while (nseen < N && now_ms() < end) {
        ws_io_event ev[256];
        int n = c->io->poll(st, 10, ev, 256);
        assert_true(n >= 0);
        for (int k = 0; k < n; k++)
            for (int i = 0; i < N; i++)
                if (ev[k].fd == sp[i][0] && !seen[i]) {
                    seen[i] = true;
                    nseen++;
                    assert_int_equal(c->io->mod(st, sp[i][0], 0), 0); /* reported: quiet now */
                }
    }
    assert_int_equal(nseen, N);
    for (int i = 0; i < N; i++) {
        c->io->del(st, sp[i][0]);
        c->io->close(st, sp[i][0]);
        close(sp[i][1]);
    }
    c->io->destroy(st);
}

static void test_more_watches_than_the_queue_holds(void **state) { watch_many(state, false); }

/* The same while the backend's lists cannot grow: nothing may be lost. */
static void test_more_watches_than_the_queue_holds_no_memory(void **state)
{
    if (!CAN_FAIL_REALLOC)
        skip(); /* needs glibc's realloc, without ASan */
    watch_many(state, true);
}

/* Each test once per backend, named after both. */
#define FOR_BACKEND(fn, name)                            \
    {                                                    \
        name ": " #fn, fn, setup, teardown, (void *)name \
    }
#define ALL(name)                                                                                  \
    FOR_BACKEND(test_bytes_both_ways, name), FOR_BACKEND(test_accepted_socket_has_no_delay, name), \
        FOR_BACKEND(test_listener_burst_pause_close, name), FOR_BACKEND(test_ipv6_peer, name),     \
        FOR_BACKEND(test_foreign_fd_is_never_read, name),                                          \
        FOR_BACKEND(test_unwatched_foreign_fd_closes, name),                                       \
        FOR_BACKEND(test_write_by_reference, name),                                                \
        FOR_BACKEND(test_sendq_blob_by_reference, name),                                           \
        FOR_BACKEND(test_served_on_another_state, name), FOR_BACKEND(test_level_triggered, name),  \
        FOR_BACKEND(test_paused_reader_loses_nothing, name),                                       \
        FOR_BACKEND(test_large_in_order, name), FOR_BACKEND(test_large_then_small_messages, name), \
        FOR_BACKEND(test_close_delivers_what_was_accepted, name),                                  \
        FOR_BACKEND(test_peer_reset, name), FOR_BACKEND(test_fd_reused_at_once, name),             \
        FOR_BACKEND(test_wake_from_another_thread, name),                                          \
        FOR_BACKEND(test_more_watches_than_the_queue_holds, name),                                 \
        FOR_BACKEND(test_more_watches_than_the_queue_holds_no_memory, name)

int main(void)
{
    const struct CMUnitTest tests[] = {ALL("epoll"), ALL("io_uring"), ALL("poll")};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
