/* SPDX-License-Identifier: MIT */
/* The io_uring backend (Linux, liburing): the same readiness contract as
 * epoll (ws_io_backend), kept by doing the I/O inside the ring.
 *
 *  - Connections (fds this backend accepted or connected) get a multishot
 *    receive into a buffer ring shared by the loop (never per connection:
 *    idle memory must not grow). What arrives waits in the ring's buffers
 *    until read() copies it out; "readable" means "has received data".
 *  - writev() copies small writes into a per-connection queue, sent with
 *    one send in flight per socket; every send of a loop iteration goes to
 *    the kernel in the one io_uring_submit_and_wait of the next poll(), so
 *    a broadcast to N members is one syscall, not N. A large write with
 *    nothing queued goes straight to the socket, as on epoll.
 *  - Other fds (listeners, the application's own, hiredis's) are polled
 *    (one-shot POLL_ADD, re-armed: level-triggered like epoll), and the
 *    caller reads them itself.
 *  - Closing with operations in flight cancels them and closes the fd on
 *    the last completion, so its number is never reused while the ring
 *    still refers to it; completions carry a generation, so a late one for
 *    an old connection is recognised.
 *
 * The ring is set up with SINGLE_ISSUER | DEFER_TASKRUN (COOP_TASKRUN where
 * DEFER is refused): completions, and the copies of received data into the
 * ring's buffers, only happen inside our io_uring_enter. That is also what
 * makes bulk mode (large transfers read straight through, see to_bulk)
 * safe: outside poll() the multishot receive cannot take bytes, so a direct
 * recv() after the ring's buffers are read keeps them in order. Without
 * DEFER_TASKRUN there is no bulk mode.
 *
 * Features newer than liburing 2.3 are done by hand: the buffer ring is
 * allocated and registered here (no io_uring_setup_buf_ring). */
/* POLLRDHUP is a GNU extension. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "io/backend.h"
#include "io/sock.h"
#include "util/array.h"
#include "util/error_internal.h"
#include "wschat/error.h"

#include <errno.h>
#include <liburing.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#define RING_ENTRIES 1024
#define BUF_SIZE (16 * 1024)
#define BUF_COUNT 512 /* a power of two; 8 MiB of address space, touched as used */
/* Provided at first; doubled whenever a receive finds none left. The ring
 * hands buffers out in turn, so every provided one gets touched: starting
 * small keeps an idle server's resident memory small. */
#define BUF_START 8
#define PAGE_FDS 256 /* the fd table grows by pages of this many entries */
/* Kept for reuse rather than freed: a broadcast to N members attaches N
 * busy parts and N chunks, and gives them all back one iteration later. */
#define SPARE_MAX 1024  /* idle ubusy (40 B each) */
#define CHUNK_SPARE 128 /* CHUNK_MIN chunks (512 KiB at most) */
#define BGID 7
#define SEND_MAX (256 * 1024)  /* bytes a socket may have queued here */
#define DIRECT_MIN (16 * 1024) /* writes at least this big skip the queue */
#define CHUNK_MIN 4096

enum { OP_RECV = 1, OP_SEND, OP_POLL, OP_WAKE, OP_CANCEL, OP_LINGER };

/* How long a closed connection may take to send what it had queued. */
#define CLOSE_LINGER_MS 2000
/* A bulk connection's direct read shorter than this returns it to the
 * multishot receive. */
#define BULK_EXIT 2048

enum {
    F_SOCKET = 1,       /* our connection: receive and send through the ring */
    F_RECV = 2,         /* multishot receive armed */
    F_POLL = 4,         /* a poll armed */
    F_SENDING = 8,      /* a send in flight */
    F_EOF = 16,         /* the receive side ended */
    F_CLOSING = 32,     /* close() called: waiting for the last completion */
    F_READY = 64,       /* on the ready list */
    F_CONNECTING = 128, /* a client socket before connect_result */
    F_SHUTDOWN = 256,   /* shutdown(SHUT_WR) once the queue is out */
    F_LINGER = 512,     /* a close's deadline is armed */
    F_BULK = 1024,      /* large transfers: polled and read straight through, no receive */
    F_TO_BULK = 2048,   /* a receive filled a whole buffer: go bulk once drained */
};

typedef struct seg {
    uint16_t bid, off, len;
} seg;

typedef struct chunk {
    struct chunk *next;
    uint32_t len, off, cap;
    uint8_t data[];
} chunk;

/* What a connection holds only while data waits in either direction:
 * attached on the first received buffer or queued send, detached (kept in
 * a small spare list) when both are empty again. */
typedef struct ubusy {
    seg *segs; /* received buffers, a ring of segcap */
    uint16_t nseg, seg0, segcap;
    uint32_t queued; /* bytes in q */
    chunk *q, *qtail;
    struct ubusy *next; /* on the spare list */
    uint32_t ix;        /* in uring.parts, for as long as it exists */
} ubusy;

/* Per fd, in a table of pages indexed by fd. Small: idle memory (24 B). */
/* One per fd, 12 bytes: its busy part by index rather than pointer, the
 * rest in bit-fields (user_data carries 24 bits of generation anyway). */
typedef struct ufd {
    uint32_t bi; /* busy part: uring.parts[bi - 1]; 0 while nothing waits */
    unsigned gen : 24;
    unsigned nops : 5;   /* operations in flight (recv, poll, send, cancel, linger) */
    unsigned polled : 3; /* a polled fd's events from its last completion (with WS_IO_ERROR) */
    unsigned flags : 12;
    unsigned want : 2;  /* WS_IO_READ | WS_IO_WRITE asked for */
    unsigned armed : 2; /* what its armed poll waits for */
    int err : 8;        /* a ws_err from the receive or send side, 0 if none */
} ufd;
_Static_assert(sizeof(ufd) <= 12, "ufd is idle memory: keep it small");
_Static_assert(F_TO_BULK < 1 << 12 && WS_EBROKER >= -128, "ufd's bit-fields hold these");

typedef struct fdlist {
    int *v;
    size_t n, cap;
} fdlist;

typedef struct uring {
    struct io_uring ring;
    bool defer;   /* DEFER_TASKRUN: completions only inside our enter */
    bool enabled; /* created disabled; enabled by the loop's own thread */
    struct io_uring_buf_ring *br;
    uint8_t *bufs;
    uint16_t br_mask;
    uint16_t provided; /* buffers handed to the ring so far */
    int wake[2];
    bool wake_armed;
    ufd **pages; /* the fd table: npages pages of PAGE_FDS, each allocated when first used */
    int npages;
    ubusy *spare;
    int nspare;
    /* Every busy part that exists, attached or spare, by its ix; a freed
     * part leaves a hole, reused first. */
    ubusy **parts;
    size_t nparts, parts_cap;
    uint32_t *holes;
    size_t nholes, holes_cap;
    struct chunk *spare_chunks;
    int nspare_chunks;
    fdlist ready;   /* fds with something to report (F_READY) */
    fdlist sendq;   /* sockets with queued bytes and no send in flight */
    fdlist starved; /* sockets whose receive ended for want of buffers */
} uring;

/* --- user_data: op, generation, fd --------------------------------------- */

static uint64_t ud(int op, uint32_t gen, int fd)
{
    return (uint64_t)op << 56 | (uint64_t)(gen & 0xffffff) << 32 | (uint32_t)fd;
}

static int ud_op(uint64_t u) { return (int)(u >> 56); }
static uint32_t ud_gen(uint64_t u) { return (uint32_t)(u >> 32) & 0xffffff; }
static int ud_fd(uint64_t u) { return (int)(uint32_t)u; }

/* --- bookkeeping ------------------------------------------------------------ */

/* fd's entry, or NULL if the backend has never seen an fd in its page. */
static ufd *get(uring *u, int fd)
{
    if (fd < 0 || fd / PAGE_FDS >= u->npages || !u->pages[fd / PAGE_FDS])
        return NULL;
    return &u->pages[fd / PAGE_FDS][fd % PAGE_FDS];
}

/* fd's entry, its page allocated if need be; NULL on ENOMEM. Pages, not
 * one array doubled: no copy, and at most one page of slack. */
static ufd *slot(uring *u, int fd)
{
    if (fd < 0)
        return NULL;
    int pg = fd / PAGE_FDS;
    if (pg >= u->npages) {
        int n = u->npages ? u->npages : 16;
        while (n <= pg)
            n *= 2;
        ufd **v = realloc(u->pages, (size_t)n * sizeof *v);
        if (!v)
            return NULL;
        memset(v + u->npages, 0, (size_t)(n - u->npages) * sizeof *v);
        u->pages = v;
        u->npages = n;
    }
    if (!u->pages[pg] && !(u->pages[pg] = calloc(PAGE_FDS, sizeof(ufd))))
        return NULL;
    return &u->pages[pg][fd % PAGE_FDS];
}

/* f's busy part, or NULL. */
static ubusy *busy_of(const uring *u, const ufd *f) { return f->bi ? u->parts[f->bi - 1] : NULL; }

static ubusy *part_new(uring *u)
{
    if (!u->nholes && u->nparts == u->parts_cap) {
        ubusy **v = ws__grow_doubling(u->parts, &u->parts_cap, sizeof *v, 256);
        if (!v)
            return NULL;
        u->parts = v;
    }
    ubusy *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->ix = u->nholes ? u->holes[--u->nholes] : (uint32_t)u->nparts++;
    u->parts[b->ix] = b;
    return b;
}

static void part_free(uring *u, ubusy *b)
{
    u->parts[b->ix] = NULL;
    if (u->nholes == u->holes_cap) {
        uint32_t *v = ws__grow_doubling(u->holes, &u->holes_cap, sizeof *v, 64);
        if (v)
            u->holes = v; /* else the index stays unused */
    }
    if (u->nholes < u->holes_cap)
        u->holes[u->nholes++] = b->ix;
    free(b->segs);
    free(b);
}

/* f's busy part, attached if need be; NULL on ENOMEM. */
static ubusy *busy(uring *u, ufd *f)
{
    ubusy *b = busy_of(u, f);
    if (b)
        return b;
    if (u->spare) {
        b = u->spare;
        u->spare = b->next;
        u->nspare--;
    } else if (!(b = part_new(u))) {
        return NULL;
    }
    f->bi = b->ix + 1;
    return b;
}

/* Detaches f's busy part once nothing waits in it. */
static void unbusy(uring *u, ufd *f)
{
    ubusy *b = busy_of(u, f);
    if (!b || b->nseg || b->q)
        return;
    f->bi = 0;
    b->seg0 = 0;
    if (u->nspare < SPARE_MAX) {
        b->next = u->spare;
        u->spare = b;
        u->nspare++;
    } else {
        part_free(u, b);
    }
}

static uint16_t nseg(const uring *u, const ufd *f)
{
    const ubusy *b = busy_of(u, f);
    return b ? b->nseg : 0;
}

/* A connection of ours, past connecting: received and sent through the ring. */
static bool is_conn(const ufd *f) { return (f->flags & F_SOCKET) && !(f->flags & F_CONNECTING); }

static chunk *chunk_new(uring *u, size_t cap)
{
    if (cap == CHUNK_MIN && u->spare_chunks) {
        chunk *c = u->spare_chunks;
        u->spare_chunks = c->next;
        u->nspare_chunks--;
        return c;
    }
    chunk *c = malloc(sizeof *c + cap);
    if (c)
        c->cap = (uint32_t)cap;
    return c;
}

static void chunk_free(uring *u, chunk *c)
{
    if (c->cap == CHUNK_MIN && u->nspare_chunks < CHUNK_SPARE) {
        c->next = u->spare_chunks;
        u->spare_chunks = c;
        u->nspare_chunks++;
        return;
    }
    free(c);
}

static int push(fdlist *l, int fd)
{
    if (l->n == l->cap) {
        int *v = ws__grow_doubling(l->v, &l->cap, sizeof *v, 64);
        if (!v)
            return WS_ENOMEM;
        l->v = v;
    }
    l->v[l->n++] = fd;
    return 0;
}

static void mark_ready(uring *u, int fd)
{
    ufd *f = get(u, fd);
    if (!(f->flags & F_READY) && push(&u->ready, fd) == 0)
        f->flags |= F_READY;
}

static struct io_uring_sqe *sqe(uring *u)
{
    struct io_uring_sqe *s = io_uring_get_sqe(&u->ring);
    if (!s && u->enabled) { /* the queue is full: hand it to the kernel now */
        io_uring_submit(&u->ring);
        s = io_uring_get_sqe(&u->ring);
    }
    return s;
}

static void recycle(uring *u, uint16_t bid)
{
    io_uring_buf_ring_add(u->br, u->bufs + (size_t)bid * BUF_SIZE, BUF_SIZE, bid, u->br_mask, 0);
    io_uring_buf_ring_advance(u->br, 1);
}

/* Hands n more buffers to the ring (never past BUF_COUNT). */
static void provide(uring *u, uint16_t n)
{
    if (n > BUF_COUNT - u->provided)
        n = (uint16_t)(BUF_COUNT - u->provided);
    for (uint16_t i = 0; i < n; i++) {
        uint16_t bid = (uint16_t)(u->provided + i);
        io_uring_buf_ring_add(u->br, u->bufs + (size_t)bid * BUF_SIZE, BUF_SIZE, bid, u->br_mask,
                              i);
    }
    io_uring_buf_ring_advance(u->br, n);
    u->provided = (uint16_t)(u->provided + n);
}

static void arm_recv(uring *u, int fd)
{
    ufd *f = get(u, fd);
    if (f->flags & (F_RECV | F_EOF | F_CLOSING | F_CONNECTING | F_BULK) || f->err ||
        !(f->want & WS_IO_READ))
        return;
    struct io_uring_sqe *s = sqe(u);
    if (!s)
        return;
    io_uring_prep_recv_multishot(s, fd, NULL, 0, 0);
    s->flags |= IOSQE_BUFFER_SELECT;
    s->buf_group = BGID;
    io_uring_sqe_set_data64(s, ud(OP_RECV, f->gen, fd));
    f->flags |= F_RECV;
    f->nops++;
}

static void arm_poll(uring *u, int fd)
{
    ufd *f = get(u, fd);
    unsigned want = (f->flags & F_CONNECTING) ? WS_IO_WRITE : f->want;
    if (is_conn(f)) /* a connection polls only in bulk, */
        want = (f->flags & F_BULK) ? (f->want & WS_IO_READ) : 0; /* for reading: its queue writes */
    if (f->flags & (F_POLL | F_CLOSING) || !want)
        return;
    struct io_uring_sqe *s = sqe(u);
    if (!s)
        return;
    io_uring_prep_poll_add(
        s, fd, (want & WS_IO_READ ? POLLIN | POLLRDHUP : 0) | (want & WS_IO_WRITE ? POLLOUT : 0));
    io_uring_sqe_set_data64(s, ud(OP_POLL, f->gen, fd));
    f->flags |= F_POLL;
    f->armed = (uint8_t)want;
    f->nops++;
}

static void cancel(uring *u, int fd, int op)
{
    ufd *f = get(u, fd);
    struct io_uring_sqe *s = sqe(u);
    if (!s)
        return;
    io_uring_prep_cancel64(s, ud(op, f->gen, fd), 0);
    io_uring_sqe_set_data64(s, ud(OP_CANCEL, 0, 0));
}

static void free_queues(uring *u, ufd *f)
{
    ubusy *b = busy_of(u, f);
    if (!b)
        return;
    for (uint16_t i = 0; i < b->nseg; i++)
        recycle(u, b->segs[(b->seg0 + i) % b->segcap].bid);
    b->nseg = 0;
    for (chunk *c = b->q, *n; c; c = n) {
        n = c->next;
        chunk_free(u, c);
    }
    b->q = b->qtail = NULL;
    b->queued = 0;
    unbusy(u, f);
}

/* The last operation on a closing fd has completed: close it for real. */
static void finish_close(uring *u, int fd)
{
    ufd *f = get(u, fd);
    free_queues(u, f);
    uint32_t gen = f->gen + 1;
    memset(f, 0, sizeof *f);
    f->gen = gen;
    close(fd);
}

/* --- create / destroy ---------------------------------------------------------- */

static int ur_create(void **state, void *arg)
{
    (void)arg;
    uring *u = calloc(1, sizeof *u);
    if (!u)
        return WS_ENOMEM;
    /* Disabled at first: the loops are created on the thread that starts
     * the server, and a SINGLE_ISSUER ring belongs to the thread that
     * enables it, which is the loop's own (the first poll). */
    struct io_uring_params p = {.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
                                         IORING_SETUP_CQSIZE | IORING_SETUP_R_DISABLED,
                                .cq_entries = RING_ENTRIES * 4};
    int rc = io_uring_queue_init_params(RING_ENTRIES, &u->ring, &p);
    u->defer = rc == 0;
    if (rc == -EINVAL) { /* a kernel before 6.1: cooperative task running instead */
        p = (struct io_uring_params){.flags = IORING_SETUP_COOP_TASKRUN | IORING_SETUP_CQSIZE |
                                              IORING_SETUP_R_DISABLED,
                                     .cq_entries = RING_ENTRIES * 4};
        rc = io_uring_queue_init_params(RING_ENTRIES, &u->ring, &p);
    }
    if (rc < 0) { /* EPERM (seccomp, io_uring_disabled), ENOSYS (old kernel) */
        free(u);
        return rc == -ENOMEM ? WS_ENOMEM : WS_ENOTSUP;
    }
    if (!u->defer) {
        /* Before 6.1: the multishot receive came in 6.0, and has no probe
         * of its own; IORING_OP_SEND_ZC came in the same release. */
        struct io_uring_probe *pr = io_uring_get_probe_ring(&u->ring);
        bool ok = pr && io_uring_opcode_supported(pr, IORING_OP_SEND_ZC);
        io_uring_free_probe(pr);
        if (!ok) {
            io_uring_queue_exit(&u->ring);
            free(u);
            return WS_ENOTSUP;
        }
    }
    /* The buffer ring, by hand (liburing 2.3 has no io_uring_setup_buf_ring). */
    size_t ring_bytes = BUF_COUNT * sizeof(struct io_uring_buf);
    u->br = mmap(NULL, ring_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    u->bufs = mmap(NULL, (size_t)BUF_COUNT * BUF_SIZE, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    struct io_uring_buf_reg reg = {
        .ring_addr = (uint64_t)(uintptr_t)u->br, .ring_entries = BUF_COUNT, .bgid = BGID};
    if (u->br == MAP_FAILED || u->bufs == MAP_FAILED ||
        io_uring_register_buf_ring(&u->ring, &reg, 0) < 0 || ws__wakefd_open(u->wake) < 0) {
        if (u->br != MAP_FAILED)
            munmap(u->br, ring_bytes);
        if (u->bufs != MAP_FAILED)
            munmap(u->bufs, (size_t)BUF_COUNT * BUF_SIZE);
        io_uring_queue_exit(&u->ring);
        free(u);
        return WS_ENOTSUP;
    }
    io_uring_buf_ring_init(u->br);
    u->br_mask = (uint16_t)io_uring_buf_ring_mask(BUF_COUNT);
    provide(u, BUF_START);
    *state = u;
    return 0;
}

static void ur_destroy(void *state)
{
    uring *u = state;
    int nfds = u->npages * PAGE_FDS;
    for (int fd = 0; fd < nfds; fd++)
        if (get(u, fd) && get(u, fd)->flags & F_CLOSING)
            close(fd); /* the ring goes with everything it refers to */
    /* Queues only after the ring: its exit cancels the sends that point
     * into them (a closing connection's lingering queue among them). */
    io_uring_queue_exit(&u->ring);
    for (int fd = 0; fd < nfds; fd++)
        if (get(u, fd))
            free_queues(u, get(u, fd));
    for (int pg = 0; pg < u->npages; pg++)
        free(u->pages[pg]);
    free(u->pages);
    for (ubusy *b = u->spare, *n; b; b = n) {
        n = b->next;
        free(b->segs);
        free(b);
    }
    free(u->parts);
    free(u->holes);
    for (chunk *c = u->spare_chunks, *n; c; c = n) {
        n = c->next;
        free(c);
    }
    munmap(u->br, BUF_COUNT * sizeof(struct io_uring_buf));
    munmap(u->bufs, (size_t)BUF_COUNT * BUF_SIZE);
    ws__wakefd_close(u->wake);
    free(u->ready.v);
    free(u->sendq.v);
    free(u->starved.v);
    free(u);
}

/* --- interest ------------------------------------------------------------------ */

static int ur_mod(void *state, int fd, unsigned events)
{
    uring *u = state;
    ufd *f = slot(u, fd);
    if (!f)
        return WS_ENOMEM;
    f->want = (uint8_t)events;
    if (is_conn(f)) {
        if ((events & WS_IO_READ) && (f->flags & F_BULK))
            arm_poll(u, fd);
        else if (events & WS_IO_READ)
            arm_recv(u, fd);
        else if (f->flags & F_RECV)
            cancel(u, fd, OP_RECV); /* paused: what arrived stays queued */
        else if (f->flags & F_POLL)
            cancel(u, fd, OP_POLL);
        if (nseg(u, f) || f->err || f->flags & F_EOF || (events & WS_IO_WRITE))
            mark_ready(u, fd);
    } else if ((f->flags & F_POLL) && (f->want & ~f->armed)) {
        /* Waiting for less than is wanted now (hiredis asking to write):
         * cancelled, and armed again with the new mask on its completion. */
        cancel(u, fd, OP_POLL);
    } else {
        arm_poll(u, fd);
    }
    return 0;
}

static int ur_add(void *state, int fd, unsigned events) { return ur_mod(state, fd, events); }

static int ur_del(void *state, int fd) { return ur_mod(state, fd, 0); }

/* --- the transport ------------------------------------------------------------------ */

static int ur_accept(void *state, int lfd, char *peer, size_t peer_cap)
{
    uring *u = state;
    int fd = ws__sock_accept(state, lfd, peer, peer_cap);
    ufd *f = fd >= 0 ? slot(u, fd) : NULL;
    if (fd >= 0 && !f) {
        close(fd);
        return WS_ENOMEM;
    }
    if (f)
        f->flags = F_SOCKET;
    return fd;
}

static int ur_connect(void *state, const struct sockaddr *addr, unsigned addrlen, char *peer,
                      size_t peer_cap)
{
    uring *u = state;
    int fd = ws__sock_connect(state, addr, addrlen, peer, peer_cap);
    ufd *f = fd >= 0 ? slot(u, fd) : NULL;
    if (fd >= 0 && !f) {
        close(fd);
        return WS_ENOMEM;
    }
    if (f)
        f->flags = F_SOCKET | F_CONNECTING; /* polled for writability until connected */
    return fd;
}

static int ur_connect_result(void *state, int fd)
{
    uring *u = state;
    int rc = ws__sock_connect_result(state, fd);
    ufd *f = get(u, fd);
    if (rc == 0 && f) {
        f->flags &= (uint16_t)~F_CONNECTING;
        ur_mod(u, fd, f->want);
    }
    return rc;
}

/* Bulk mode. A multishot receive copies everything into the ring's 16 KiB
 * buffers before the session sees a frame header, so a 64 KiB message
 * would be copied twice (kernel to ring, ring to the session) where epoll
 * copies once. A connection whose receive fills a whole buffer therefore
 * switches, once what was received is read, to a poll and reads straight
 * into the session's buffer (the engine's reassembly buffer for the rest of
 * a frame), as on epoll; sends still go through the ring. A short read
 * returns it to the multishot receive. Only with DEFER_TASKRUN: the order of
 * bytes relies on the ring taking none outside our enter. */
static void to_bulk(uring *u, int fd, ufd *f)
{
    f->flags = (uint16_t)((f->flags & ~F_TO_BULK) | F_BULK);
    f->polled = 0;
    if (f->flags & F_RECV)
        cancel(u, fd, OP_RECV);
    arm_poll(u, fd);
}

static long bulk_read(uring *u, int fd, ufd *f, void *buf, size_t len)
{
    if (!(f->polled & WS_IO_READ))
        return WS_EAGAIN;
    long n = ws__sock_read(u, fd, buf, len);
    if (n > 0 && n < BULK_EXIT && (size_t)n < len) { /* little was there, not a small ask */
        f->flags &= (uint16_t)~F_BULK;               /* small again: back to the ring */
        f->polled = 0;
        if (f->flags & F_POLL)
            cancel(u, fd, OP_POLL);
        arm_recv(u, fd);
    } else if (n == WS_EAGAIN || (n > 0 && (size_t)n < len)) {
        f->polled = 0; /* drained: wait for the next poll */
        arm_poll(u, fd);
    }
    return n;
}

static long ur_read(void *state, int fd, void *buf, size_t len)
{
    uring *u = state;
    ufd *f = get(u, fd);
    if (!f || !(f->flags & F_SOCKET))
        return ws__sock_read(state, fd, buf, len);
    ubusy *b = busy_of(u, f);
    if (!nseg(u, f)) {
        if (f->err)
            return f->err;
        if (f->flags & F_EOF)
            return 0;
        if (f->flags & F_BULK)
            return bulk_read(u, fd, f, buf, len);
        /* Nothing received: the multishot receive brings what comes (a
         * recv(2) here would mostly find nothing: a session reads once more
         * after its handshake, for one). */
        return WS_EAGAIN;
    }
    size_t got = 0;
    uint16_t done = 0;
    while (got < len && b->nseg) {
        seg *g = &b->segs[b->seg0];
        size_t n = g->len < len - got ? g->len : len - got;
        memcpy((uint8_t *)buf + got, u->bufs + (size_t)g->bid * BUF_SIZE + g->off, n);
        got += n;
        g->off = (uint16_t)(g->off + n);
        g->len = (uint16_t)(g->len - n);
        if (g->len == 0) {
            io_uring_buf_ring_add(u->br, u->bufs + (size_t)g->bid * BUF_SIZE, BUF_SIZE, g->bid,
                                  u->br_mask, done++);
            b->seg0 = (uint16_t)((b->seg0 + 1) % b->segcap);
            b->nseg--;
        }
    }
    if (done) {
        io_uring_buf_ring_advance(u->br, done);
        /* Buffers are back: the receives that ran dry go on. */
        for (size_t i = 0; i < u->starved.n; i++)
            if (get(u, u->starved.v[i]))
                arm_recv(u, u->starved.v[i]);
        u->starved.n = 0;
    }
    if (!b->nseg) {
        unbusy(u, f); /* idle memory: nothing attached while nothing waits */
        if (f->flags & F_TO_BULK)
            to_bulk(u, fd, f);
        else if (!(f->flags & (F_RECV | F_BULK)))
            arm_recv(u, fd); /* it ended for want of buffers: go on */
    }
    return (long)got;
}

static void submit_send(uring *u, int fd);

static long ur_writev(void *state, int fd, const struct iovec *iov, int iovcnt)
{
    uring *u = state;
    ufd *f = get(u, fd);
    if (!f || !is_conn(f))
        return ws__sock_writev(state, fd, iov, iovcnt);
    if (f->err)
        return f->err;
    size_t total = 0;
    for (int i = 0; i < iovcnt; i++)
        total += iov[i].iov_len;
    const ubusy *fb = busy_of(u, f);
    if (!(fb && fb->q) && !(f->flags & F_SENDING) && total >= DIRECT_MIN)
        return ws__sock_writev(state, fd, iov, iovcnt); /* nothing ahead of it */
    ubusy *b = busy(u, f);
    if (!b)
        return WS_ENOMEM;
    size_t room = SEND_MAX > b->queued ? SEND_MAX - b->queued : 0;
    if (room == 0)
        return WS_EAGAIN;
    size_t take = total < room ? total : room;
    /* Into the tail chunk if it is not on its way, else a new one. */
    chunk *c = b->qtail;
    bool tail_free = c && !((f->flags & F_SENDING) && c == b->q);
    if (!tail_free || c->cap - c->len < take) {
        chunk *n = chunk_new(u, take > CHUNK_MIN ? take : CHUNK_MIN);
        if (!n) {
            unbusy(u, f);
            return WS_ENOMEM;
        }
        n->next = NULL;
        n->len = n->off = 0;
        if (b->qtail)
            b->qtail->next = n;
        else
            b->q = n;
        b->qtail = c = n;
    }
    size_t left = take;
    for (int i = 0; i < iovcnt && left; i++) {
        size_t n = iov[i].iov_len < left ? iov[i].iov_len : left;
        memcpy(c->data + c->len, iov[i].iov_base, n);
        c->len += (uint32_t)n;
        left -= n;
    }
    b->queued += (uint32_t)take;
    /* Sent at the next poll, with whatever else this iteration adds; out of
     * memory for the list, prepared now instead. */
    if (!(f->flags & F_SENDING) && b->q == c && c->len == take && push(&u->sendq, fd) != 0)
        submit_send(u, fd);
    return (long)take;
}

static void submit_send(uring *u, int fd)
{
    ufd *f = get(u, fd);
    const ubusy *b = busy_of(u, f);
    if (f->flags & F_SENDING || !b || !b->q || f->err)
        return;
    struct io_uring_sqe *s = sqe(u);
    if (!s)
        return;
    chunk *c = b->q;
    io_uring_prep_send(s, fd, c->data + c->off, c->len - c->off, MSG_NOSIGNAL);
    io_uring_sqe_set_data64(s, ud(OP_SEND, f->gen, fd));
    f->flags |= F_SENDING;
    f->nops++;
}

static void ur_shutdown(void *state, int fd)
{
    uring *u = state;
    ufd *f = get(u, fd);
    const ubusy *b = f ? busy_of(u, f) : NULL;
    if (f && ((b && b->q) || (f->flags & F_SENDING))) {
        f->flags |= F_SHUTDOWN; /* the FIN goes after the queued bytes */
        return;
    }
    ws__sock_shutdown(state, fd);
}

static void ur_close(void *state, int fd)
{
    uring *u = state;
    ufd *f = get(u, fd);
    if (!f) {
        close(fd);
        return;
    }
    f->want = 0;
    if (f->flags & F_RECV)
        cancel(u, fd, OP_RECV);
    if (f->flags & F_POLL)
        cancel(u, fd, OP_POLL);
    /* What is queued still goes out, as epoll's writes already have, but
     * within a deadline: a peer that does not read cannot hold the fd. */
    const ubusy *b = busy_of(u, f);
    if (b && b->q && !f->err) {
        submit_send(u, fd);
        struct io_uring_sqe *s = sqe(u);
        if (s) {
            static const struct __kernel_timespec linger = {
                .tv_sec = CLOSE_LINGER_MS / 1000, .tv_nsec = (CLOSE_LINGER_MS % 1000) * 1000000LL};
            io_uring_prep_timeout(s, (struct __kernel_timespec *)&linger, 0, 0);
            io_uring_sqe_set_data64(s, ud(OP_LINGER, f->gen, fd));
            f->flags |= F_LINGER;
            f->nops++;
        }
    }
    if (f->nops) {
        f->flags |= F_CLOSING;
        return;
    }
    finish_close(u, fd);
}

/* A closing connection's queue is out (or cannot go): stop its deadline. */
static void linger_done(uring *u, int fd)
{
    ufd *f = get(u, fd);
    if (!(f->flags & F_LINGER))
        return;
    struct io_uring_sqe *s = sqe(u);
    if (s) {
        io_uring_prep_timeout_remove(s, ud(OP_LINGER, f->gen, fd), 0);
        io_uring_sqe_set_data64(s, ud(OP_CANCEL, 0, 0));
    }
}

/* --- completions ------------------------------------------------------------------------ */

static void on_recv(uring *u, int fd, ufd *f, struct io_uring_cqe *c)
{
    bool more = c->flags & IORING_CQE_F_MORE;
    if (c->res > 0 && (c->flags & IORING_CQE_F_BUFFER)) {
        uint16_t bid = (uint16_t)(c->flags >> IORING_CQE_BUFFER_SHIFT);
        ubusy *b = (f->flags & F_CLOSING) ? NULL : busy(u, f);
        if (!b) {
            recycle(u, bid);
            if (!(f->flags & F_CLOSING)) {
                f->err = WS_ENOMEM;
                mark_ready(u, fd);
            }
            goto ended;
        }
        if (b->nseg == b->segcap) {
            uint16_t cap = b->segcap ? (uint16_t)(b->segcap * 2) : 4;
            seg *v = malloc(cap * sizeof *v);
            if (!v) {
                recycle(u, bid);
                unbusy(u, f);
                f->err = WS_ENOMEM;
                mark_ready(u, fd);
                goto ended;
            }
            for (uint16_t i = 0; i < b->nseg; i++)
                v[i] = b->segs[(b->seg0 + i) % b->segcap];
            free(b->segs);
            b->segs = v;
            b->seg0 = 0;
            b->segcap = cap;
        }
        if (c->res == BUF_SIZE && u->defer && !(f->flags & F_BULK))
            f->flags |= F_TO_BULK;
        b->segs[(b->seg0 + b->nseg) % b->segcap] = (seg){bid, 0, (uint16_t)c->res};
        b->nseg++;
        mark_ready(u, fd);
    } else if (c->res == 0) {
        f->flags |= F_EOF;
        mark_ready(u, fd);
    } else if (c->res < 0 && c->res != -ENOBUFS && c->res != -ECANCELED) {
        f->err = ws__from_errno(-c->res);
        mark_ready(u, fd);
    }
ended:
    if (!more) {
        f->flags &= (uint16_t)~F_RECV;
        f->nops--;
        /* Out of buffers: more are provided while there are any left to
         * give, else it is re-armed once a read gives some back. */
        if (c->res == -ENOBUFS && u->provided < BUF_COUNT)
            provide(u, u->provided);
        if (c->res == -ENOBUFS && u->provided == BUF_COUNT)
            push(&u->starved, fd);
        else
            arm_recv(u, fd);
    }
}

static void on_send(uring *u, int fd, ufd *f, struct io_uring_cqe *c)
{
    f->flags &= (uint16_t)~F_SENDING;
    f->nops--;
    if (c->res < 0) {
        if (c->res != -ECANCELED)
            f->err = ws__from_errno(-c->res);
        if (f->flags & F_CLOSING)
            linger_done(u, fd);
        mark_ready(u, fd);
        return;
    }
    ubusy *b = busy_of(u, f);
    chunk *q = b ? b->q : NULL;
    if (!q)
        return;
    q->off += (uint32_t)c->res;
    b->queued -= (uint32_t)c->res;
    if (q->off == q->len) {
        b->q = q->next;
        if (!b->q)
            b->qtail = NULL;
        chunk_free(u, q);
    }
    if (b->q) {
        submit_send(u, fd); /* the rest, or the next chunk: still one in flight */
    } else {
        if (f->flags & F_SHUTDOWN) {
            f->flags &= (uint16_t)~F_SHUTDOWN;
            ws__sock_shutdown(u, fd);
        }
        if (f->flags & F_CLOSING)
            linger_done(u, fd);
        unbusy(u, f);
    }
    if (f->want & WS_IO_WRITE)
        mark_ready(u, fd);
}

static void on_linger(uring *u, int fd, ufd *f, struct io_uring_cqe *c)
{
    f->flags &= (uint16_t)~F_LINGER;
    f->nops--;
    if (c->res == -ETIME && f->nops) { /* the deadline passed: let the rest go */
        struct io_uring_sqe *s = sqe(u);
        if (s) {
            io_uring_prep_cancel_fd(s, fd, IORING_ASYNC_CANCEL_ALL);
            io_uring_sqe_set_data64(s, ud(OP_CANCEL, 0, 0));
        }
    }
}

static void on_poll(uring *u, int fd, ufd *f, struct io_uring_cqe *c)
{
    f->flags &= (uint16_t)~F_POLL;
    f->nops--;
    if (c->res == -ECANCELED) {
        arm_poll(u, fd); /* a mask change (or a close, which arms nothing) */
        return;
    }
    unsigned r = c->res < 0 ? POLLERR : (unsigned)c->res;
    f->polled = (uint8_t)((r & (POLLIN | POLLRDHUP | POLLHUP | POLLERR) ? WS_IO_READ : 0) |
                          (r & (POLLOUT | POLLERR | POLLHUP) ? WS_IO_WRITE : 0) |
                          (r & (POLLERR | POLLHUP) ? WS_IO_ERROR : 0));
    mark_ready(u, fd);
}

static void handle(uring *u, struct io_uring_cqe *c)
{
    uint64_t d = io_uring_cqe_get_data64(c);
    int op = ud_op(d), fd = ud_fd(d);
    if (op == OP_CANCEL)
        return;
    if (op == OP_WAKE) {
        u->wake_armed = false;
        ws__wakefd_drain(u->wake[0]);
        return;
    }
    ufd *f = get(u, fd);
    if (!f || (f->gen & 0xffffff) != ud_gen(d)) {
        /* For a connection closed and gone: only its buffer matters. */
        if (op == OP_RECV && c->res > 0 && (c->flags & IORING_CQE_F_BUFFER))
            recycle(u, (uint16_t)(c->flags >> IORING_CQE_BUFFER_SHIFT));
        return;
    }
    if (op == OP_RECV)
        on_recv(u, fd, f, c);
    else if (op == OP_SEND)
        on_send(u, fd, f, c);
    else if (op == OP_POLL)
        on_poll(u, fd, f, c);
    else if (op == OP_LINGER)
        on_linger(u, fd, f, c);
    if ((f->flags & F_CLOSING) && f->nops == 0)
        finish_close(u, fd);
}

/* --- poll -------------------------------------------------------------------------------- */

static unsigned events_of(uring *u, int fd)
{
    ufd *f = get(u, fd);
    if (f->flags & F_CLOSING)
        return 0;
    if (!is_conn(f)) {
        unsigned e = f->polled;
        f->polled = 0;
        arm_poll(u, fd); /* level-triggered: asked again while wanted */
        return e & (f->want | WS_IO_ERROR | ((f->flags & F_CONNECTING) ? WS_IO_WRITE : 0));
    }
    unsigned e = 0;
    if ((f->want & WS_IO_READ) &&
        (nseg(u, f) || f->err || (f->flags & F_EOF) || (f->polled & WS_IO_READ)))
        e |= WS_IO_READ;
    const ubusy *b = busy_of(u, f);
    if ((f->want & WS_IO_WRITE) && ((b ? b->queued : 0) < SEND_MAX || f->err))
        e |= WS_IO_WRITE;
    if (f->err)
        e |= WS_IO_ERROR;
    return e;
}

static int ur_poll(void *state, int timeout_ms, ws_io_event *out, int max)
{
    uring *u = state;
    if (!u->enabled) {
        /* liburing 2.3 declares io_uring_enable_rings but does not export
         * it: the register call by hand. */
        if (syscall(__NR_io_uring_register, u->ring.ring_fd, IORING_REGISTER_ENABLE_RINGS, NULL,
                    0) < 0)
            return ws__from_errno(errno);
        u->enabled = true;
    }
    for (size_t i = 0; i < u->sendq.n; i++)
        submit_send(u, u->sendq.v[i]);
    u->sendq.n = 0;
    if (!u->wake_armed) {
        struct io_uring_sqe *s = sqe(u);
        if (s) {
            io_uring_prep_poll_add(s, u->wake[0], POLLIN);
            io_uring_sqe_set_data64(s, ud(OP_WAKE, 0, 0));
            u->wake_armed = true;
        }
    }
    /* Level-triggered: what is still unread is reported again at once. */
    bool still = false;
    for (size_t i = 0; i < u->ready.n && !still; i++)
        still = is_conn(get(u, u->ready.v[i])) && events_of(u, u->ready.v[i]);
    struct __kernel_timespec ts = {.tv_sec = timeout_ms / 1000,
                                   .tv_nsec = (long long)(timeout_ms % 1000) * 1000000};
    struct io_uring_cqe *cqe;
    int rc = (still || timeout_ms == 0) ? io_uring_submit_and_get_events(&u->ring)
             : timeout_ms < 0           ? io_uring_submit_and_wait(&u->ring, 1)
                              : io_uring_submit_and_wait_timeout(&u->ring, &cqe, 1, &ts, NULL);
    if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EBUSY)
        return ws__from_errno(-rc);
    unsigned head, seen = 0;
    io_uring_for_each_cqe(&u->ring, head, cqe)
    {
        handle(u, cqe);
        seen++;
    }
    io_uring_cq_advance(&u->ring, seen);
    /* Report. A connection with something to report stays on the list
     * (level-triggered: reported again until it is read, or its interest
     * changes); so does what did not fit in out. A polled fd is re-armed by
     * events_of instead, and anything else comes back through mark_ready. */
    int k = 0;
    size_t keep = 0;
    for (size_t i = 0; i < u->ready.n; i++) {
        int fd = u->ready.v[i];
        ufd *f = get(u, fd);
        bool full = k >= max;
        unsigned e = full ? 0 : events_of(u, fd);
        if (e) {
            out[k].fd = fd;
            out[k++].events = e;
        }
        if (full || (e && is_conn(f)))
            u->ready.v[keep++] = fd;
        else
            f->flags &= (uint16_t)~F_READY;
    }
    u->ready.n = keep;
    return k;
}

static int ur_wake(void *state)
{
    ws__wakefd_signal(((uring *)state)->wake[1]);
    return 0;
}

const ws_io_backend ws__io_uring = {
    .name = "io_uring",
    .create = ur_create,
    .destroy = ur_destroy,
    .add = ur_add,
    .mod = ur_mod,
    .del = ur_del,
    .poll = ur_poll,
    .wake = ur_wake,
    .listen = ws__sock_listen,
    .accept = ur_accept,
    .read = ur_read,
    .writev = ur_writev,
    .shutdown = ur_shutdown,
    .close = ur_close,
    .now_ms = NULL,
    .connect = ur_connect,
    .connect_result = ur_connect_result,
};
