/* SPDX-License-Identifier: MIT */
/* The io_uring ceiling: the smallest io_uring TCP server doing the job of
 * bench/ceiling (echo: every byte back; fanout: every chunk read from any
 * connection written to every connection) with the techniques the
 * libwschat io_uring backend uses: one ring, SINGLE_ISSUER|DEFER_TASKRUN,
 * multishot accept, multishot receive into one provided-buffer ring shared
 * by every connection, one send in flight per socket (what arrives
 * meanwhile is queued), and one io_uring_submit_and_wait per iteration
 * carrying all of its sends. It sends straight from the provided buffer
 * when nothing is queued (a reference count per buffer for the fan-out),
 * which libwschat cannot (it frames the bytes), so it is the floor. Large
 * transfers go straight through, as in the backend: a connection whose
 * receive fills a whole buffer switches to a poll and read(2) into one big
 * buffer, after every completion of the batch is handled (safe with
 * DEFER_TASKRUN: the ring takes no bytes outside the enter), and back to
 * the multishot receive on a short read; a write of 16 KiB or more with
 * nothing queued is a write(2).
 *
 *   ceiling_uring echo|fanout PORT   (prints "ready PORT") */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ceiling_listen.h"

#define MAXFD 65536
#define NBUF 1024
#define BUFSZ 16384
#define BGID 1
#define DIRECT_MIN 16384

enum { OP_ACCEPT = 1, OP_RECV, OP_SEND, OP_POLL };

typedef struct conn {
    char *out; /* the send in flight: a provided buffer or our own copy */
    size_t len, off;
    int bid;    /* the provided buffer it points into, or -1 */
    char *pend; /* bytes waiting for the send in flight */
    size_t npend, cap;
    unsigned sending : 1, receiving : 1, closing : 1, open : 1, bulk : 1, polling : 1;
} conn;

static struct io_uring ring;
static struct io_uring_buf_ring *br;
static char *bufs;
static unsigned short refs[NBUF];
static conn c[MAXFD];
static int conns[MAXFD], nconns, starved[MAXFD], nstarved, readable[MAXFD], nreadable;
static void put(int fd, char *p, size_t n, int bid);
static struct io_uring_sqe *get_sqe(void);
static uint64_t ud(int op, int fd);

static void arm_poll(int fd)
{
    struct io_uring_sqe *s = get_sqe();
    io_uring_prep_poll_add(s, fd, POLLIN);
    io_uring_sqe_set_data64(s, ud(OP_POLL, fd));
    c[fd].polling = 1;
}

static struct io_uring_sqe *get_sqe(void)
{
    struct io_uring_sqe *s = io_uring_get_sqe(&ring);
    if (!s) { /* full: hand what is there to the kernel first */
        io_uring_submit(&ring);
        s = io_uring_get_sqe(&ring);
    }
    return s;
}

static uint64_t ud(int op, int fd) { return (uint64_t)op << 32 | (uint32_t)fd; }

static void recycle(int bid)
{
    io_uring_buf_ring_add(br, bufs + (size_t)bid * BUFSZ, BUFSZ, (unsigned short)bid,
                          io_uring_buf_ring_mask(NBUF), 0);
    io_uring_buf_ring_advance(br, 1);
}

static void unref(int bid)
{
    if (bid >= 0 && --refs[bid] == 0)
        recycle(bid);
}

static void arm_recv(int fd)
{
    struct io_uring_sqe *s = get_sqe();
    io_uring_prep_recv_multishot(s, fd, NULL, 0, 0);
    s->flags |= IOSQE_BUFFER_SELECT;
    s->buf_group = BGID;
    io_uring_sqe_set_data64(s, ud(OP_RECV, fd));
    c[fd].receiving = 1;
}

static void submit_send(int fd)
{
    struct io_uring_sqe *s = get_sqe();
    io_uring_prep_send(s, fd, c[fd].out + c[fd].off, c[fd].len - c[fd].off, MSG_NOSIGNAL);
    io_uring_sqe_set_data64(s, ud(OP_SEND, fd));
    c[fd].sending = 1;
}

static void queue(conn *k, const char *p, size_t n)
{
    if (k->npend + n > k->cap) {
        k->cap = (k->npend + n) * 2;
        k->pend = realloc(k->pend, k->cap);
    }
    memcpy(k->pend + k->npend, p, n);
    k->npend += n;
}

/* n bytes of buffer bid (p; bid -1: our own memory, copied if kept) for
 * fd: a big one written at once, else sent from the provided buffer itself
 * when nothing is ahead of it, else copied behind what is. */
static void put(int fd, char *p, size_t n, int bid)
{
    conn *k = &c[fd];
    if (!k->open || k->closing)
        return;
    if (!k->sending && n >= DIRECT_MIN) {
        ssize_t w = write(fd, p, n);
        if (w == (ssize_t)n)
            return;
        if (w > 0)
            p += w, n -= (size_t)w;
        bid = -1;
    }
    if (!k->sending) {
        if (bid < 0) {
            char *own = malloc(n);
            memcpy(own, p, n);
            p = own;
        } else {
            refs[bid]++;
        }
        k->out = p, k->len = n, k->off = 0, k->bid = bid;
        submit_send(fd);
        return;
    }
    queue(k, p, n);
}

static void maybe_close(int fd)
{
    conn *k = &c[fd];
    if (!k->closing || k->sending || k->receiving || k->polling)
        return;
    free(k->pend);
    memset(k, 0, sizeof *k);
    close(fd); /* nothing in the ring refers to it any more */
}

static void drop(int fd)
{
    conn *k = &c[fd];
    if (k->closing)
        return;
    k->closing = 1;
    for (int i = 0; i < nconns; i++)
        if (conns[i] == fd) {
            conns[i] = conns[--nconns];
            break;
        }
    if (k->receiving) {
        struct io_uring_sqe *s = get_sqe();
        io_uring_prep_cancel64(s, ud(OP_RECV, fd), 0);
        io_uring_sqe_set_data64(s, 0);
    }
    shutdown(fd, SHUT_RDWR); /* a send waiting on a full socket ends now */
    maybe_close(fd);
}

static void on_send(int fd, int res)
{
    conn *k = &c[fd];
    k->sending = 0;
    if (res < 0) {
        if (k->bid >= 0)
            unref(k->bid);
        else
            free(k->out);
        drop(fd);
        maybe_close(fd);
        return;
    }
    k->off += (size_t)res;
    if (k->off < k->len && !k->closing) {
        submit_send(fd);
        return;
    }
    if (k->bid >= 0)
        unref(k->bid);
    else
        free(k->out);
    k->out = NULL;
    if (k->npend && !k->closing) {
        k->out = k->pend, k->len = k->npend, k->off = 0, k->bid = -1;
        k->pend = NULL, k->npend = k->cap = 0;
        submit_send(fd);
    }
    maybe_close(fd);
}

static void on_recv(int fd, int res, unsigned flags, int fanout)
{
    conn *k = &c[fd];
    if (!(flags & IORING_CQE_F_MORE))
        k->receiving = 0;
    if (res == -ENOBUFS) {
        starved[nstarved++] = fd;
        return;
    }
    if (res == -ECANCELED) { /* gone bulk, or closing */
        maybe_close(fd);
        return;
    }
    if (res <= 0) {
        drop(fd);
        maybe_close(fd);
        return;
    }
    int bid = (int)(flags >> IORING_CQE_BUFFER_SHIFT);
    char *p = bufs + (size_t)bid * BUFSZ;
    refs[bid] = 1; /* our own hold while it is handed out */
    if (!k->closing) {
        if (!fanout)
            put(fd, p, (size_t)res, bid);
        else
            for (int i = 0; i < nconns; i++)
                put(conns[i], p, (size_t)res, bid);
    }
    unref(bid);
    if (res == BUFSZ && !k->closing && !k->bulk) { /* large transfers: straight through */
        k->bulk = 1;
        if (k->receiving) {
            struct io_uring_sqe *s = get_sqe();
            io_uring_prep_cancel64(s, ud(OP_RECV, fd), 0);
            io_uring_sqe_set_data64(s, 0);
        }
        arm_poll(fd);
    }
    if (!k->receiving && !k->closing && !k->bulk)
        arm_recv(fd);
    maybe_close(fd);
}

int main(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    int fanout = strcmp(argv[1], "fanout") == 0;
    int lfd = ceiling_listen(argv[2], 0);
    if (lfd < 0)
        return 1;
    struct io_uring_params p = {.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
                                         IORING_SETUP_CQSIZE,
                                .cq_entries = 16384};
    if (io_uring_queue_init_params(4096, &ring, &p) < 0) {
        fprintf(stderr, "ceiling_uring: io_uring unavailable\n");
        return 1;
    }
    br = mmap(NULL, NBUF * sizeof(struct io_uring_buf), PROT_READ | PROT_WRITE,
              MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    bufs = mmap(NULL, (size_t)NBUF * BUFSZ, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
                0);
    struct io_uring_buf_reg reg = {
        .ring_addr = (uint64_t)(uintptr_t)br, .ring_entries = NBUF, .bgid = BGID};
    if (br == MAP_FAILED || bufs == MAP_FAILED || io_uring_register_buf_ring(&ring, &reg, 0) < 0)
        return 1;
    io_uring_buf_ring_init(br);
    for (int i = 0; i < NBUF; i++)
        io_uring_buf_ring_add(br, bufs + (size_t)i * BUFSZ, BUFSZ, (unsigned short)i,
                              io_uring_buf_ring_mask(NBUF), i);
    io_uring_buf_ring_advance(br, NBUF);
    struct io_uring_sqe *s = get_sqe();
    io_uring_prep_multishot_accept(s, lfd, NULL, NULL, SOCK_NONBLOCK);
    io_uring_sqe_set_data64(s, ud(OP_ACCEPT, lfd));
    for (;;) {
        if (io_uring_submit_and_wait(&ring, 1) < 0 && errno != EINTR)
            continue;
        struct io_uring_cqe *cqe;
        unsigned head, seen = 0;
        io_uring_for_each_cqe(&ring, head, cqe)
        {
            seen++;
            uint64_t u = io_uring_cqe_get_data64(cqe);
            int op = (int)(u >> 32), fd = (int)(uint32_t)u;
            if (op == OP_ACCEPT) {
                if (cqe->res >= 0 && cqe->res < MAXFD) {
                    int nfd = cqe->res;
                    c[nfd].open = 1;
                    conns[nconns++] = nfd;
                    arm_recv(nfd);
                } else if (cqe->res >= 0) {
                    close(cqe->res);
                }
                if (!(cqe->flags & IORING_CQE_F_MORE)) { /* re-armed after an error */
                    s = get_sqe();
                    io_uring_prep_multishot_accept(s, lfd, NULL, NULL, SOCK_NONBLOCK);
                    io_uring_sqe_set_data64(s, ud(OP_ACCEPT, lfd));
                }
            } else if (op == OP_RECV) {
                on_recv(fd, cqe->res, cqe->flags, fanout);
            } else if (op == OP_SEND) {
                on_send(fd, cqe->res);
            } else if (op == OP_POLL) {
                c[fd].polling = 0;
                if (c[fd].closing)
                    maybe_close(fd);
                else
                    readable[nreadable++] = fd;
            }
        }
        io_uring_cq_advance(&ring, seen);
        /* Bulk connections read now, after every receive of the batch. */
        for (int i = 0; i < nreadable; i++) {
            int fd = readable[i];
            static char big[1 << 18];
            ssize_t r = c[fd].closing ? -1 : read(fd, big, sizeof big);
            if (r == 0 || (r < 0 && errno != EAGAIN)) {
                drop(fd);
                continue;
            }
            if (r > 0) {
                if (!fanout)
                    put(fd, big, (size_t)r, -1);
                else
                    for (int k = 0; k < nconns; k++)
                        put(conns[k], big, (size_t)r, -1);
            }
            if (r > 0 && r < 2048) { /* small again: back to the ring */
                c[fd].bulk = 0;
                if (!c[fd].receiving)
                    arm_recv(fd);
            } else {
                arm_poll(fd);
            }
        }
        nreadable = 0;
        /* Receives that ended for want of buffers go on once some are back. */
        int n = nstarved;
        nstarved = 0;
        for (int i = 0; i < n; i++)
            if (c[starved[i]].open && !c[starved[i]].closing && !c[starved[i]].receiving)
                arm_recv(starved[i]);
    }
}
