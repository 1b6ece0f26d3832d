/* SPDX-License-Identifier: MIT */
/* What the io_uring backend's two files share: the per-fd entry, the busy
 * part, the ring's state and user_data, and the functions each file calls
 * in the other. uring.c: the ring, its bookkeeping, completions and poll;
 * uring_io.c: the transport (accept, connect, read, writev, close). */
#ifndef WS_IO_URING_IMPL_H
#define WS_IO_URING_IMPL_H

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
#define SPARE_MAX 1024  /* idle ubusy (48 B each) */
#define CHUNK_SPARE 128 /* CHUNK_MIN chunks (512 KiB at most) */
#define REF_SPARE 1024  /* reference chunks (48 KiB at most) */
#define BGID 7
#define SEND_MAX (256 * 1024)  /* bytes a socket may have queued here */
#define DIRECT_MIN (16 * 1024) /* writes at least this big skip the queue */
#define CHUNK_MIN 4096

enum { OP_RECV = 1, OP_SEND, OP_POLL, OP_WAKE, OP_CANCEL, OP_LINGER, OP_ACCEPT };

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
    F_LOST = 4096,      /* a list had no room for it (out of memory): found by a scan */
    F_LISTEN = 8192,    /* a listener on a multishot accept (F_RECV: the accept is armed) */
};

typedef struct seg {
    uint16_t bid, off, len;
} seg;

/* Queued bytes: inline (data), or a caller's shared buffer by reference
 * (ext, cap 0), sent from where it is and released once sent or dropped. */
typedef struct chunk {
    struct chunk *next;
    uint32_t len, off, cap;
    const uint8_t *ext;
    ws__io_release release;
    void *ref;
    uint8_t data[];
} chunk;

/* Chunks of one size kept for reuse, at most a bound's worth. */
typedef struct chunk_spares {
    chunk *list;
    int n;
} chunk_spares;

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
    unsigned flags : 14;
    unsigned want : 2;  /* WS_IO_READ | WS_IO_WRITE asked for */
    unsigned armed : 2; /* what its armed poll waits for */
    int err : 8;        /* a ws_err from the receive or send side, 0 if none */
} ufd;
_Static_assert(sizeof(ufd) <= 12, "ufd is idle memory: keep it small");
_Static_assert(F_LISTEN < 1 << 14 && WS_EBROKER >= -128, "ufd's bit-fields hold these");

typedef struct fdlist {
    int *v;
    size_t n, cap;
} fdlist;

/* A listener's accepted connections, waiting for the server's accept. */
typedef struct ulisten {
    int fd;
    int err;  /* the accept's error, reported once nothing waits */
    fdlist q; /* accepted fds: q.v[head..q.n) */
    size_t head;
} ulisten;

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
    chunk_spares spare_chunks; /* CHUNK_MIN inline chunks */
    chunk_spares spare_refs;   /* reference chunks (cap 0) */
    fdlist ready;              /* fds with something to report (F_READY) */
    fdlist sendq;              /* sockets with queued bytes and no send in flight */
    fdlist starved;            /* sockets whose receive ended for want of buffers */
    fdlist rearm; /* fds whose receive, poll or send found no free SQE: retried in poll */
    bool lost;    /* some fd is F_LOST: the next poll scans the table */
    ulisten *ls;  /* the listeners (a few) */
    size_t nls;
    bool no_maccept; /* the kernel has no multishot accept: listeners are polled */
} uring;

/* --- user_data: op, generation, fd --------------------------------------- */

static inline uint64_t ud(int op, uint32_t gen, int fd)
{
    return (uint64_t)op << 56 | (uint64_t)(gen & 0xffffff) << 32 | (uint32_t)fd;
}

static inline int ud_op(uint64_t u) { return (int)(u >> 56); }
static inline uint32_t ud_gen(uint64_t u) { return (uint32_t)(u >> 32) & 0xffffff; }
static inline int ud_fd(uint64_t u) { return (int)(uint32_t)u; }

/* --- small accessors ----------------------------------------------------- */

/* fd's entry, or NULL if the backend has never seen an fd in its page. */
static inline ufd *get(uring *u, int fd)
{
    if (fd < 0 || fd / PAGE_FDS >= u->npages || !u->pages[fd / PAGE_FDS])
        return NULL;
    return &u->pages[fd / PAGE_FDS][fd % PAGE_FDS];
}

/* f's busy part, or NULL. */
static inline ubusy *busy_of(const uring *u, const ufd *f)
{
    return f->bi ? u->parts[f->bi - 1] : NULL;
}

static inline uint16_t nseg(const uring *u, const ufd *f)
{
    const ubusy *b = busy_of(u, f);
    return b ? b->nseg : 0;
}

/* A connection of ours, past connecting: received and sent through the ring. */
static inline bool is_conn(const ufd *f)
{
    return (f->flags & F_SOCKET) && !(f->flags & F_CONNECTING);
}

/* --- uring.c ----------------------------------------------------------------- */

ufd *ws__ur_slot(uring *u, int fd);
ubusy *ws__ur_busy(uring *u, ufd *f);
void ws__ur_unbusy(uring *u, ufd *f);
chunk *ws__ur_chunk_new(uring *u, size_t cap);
int ws__ur_push(fdlist *l, int fd);
/* Pushes fd, or flags it F_LOST for the next poll to find; true if listed. */
bool ws__ur_push_or_flag(uring *u, fdlist *l, int fd);
struct io_uring_sqe *ws__ur_sqe(uring *u);
void ws__ur_arm_recv(uring *u, int fd);
void ws__ur_arm_poll(uring *u, int fd);
void ws__ur_cancel(uring *u, int fd, int op);
void ws__ur_finish_close(uring *u, int fd);
int ws__ur_mod(void *state, int fd, unsigned events);
void ws__ur_mark_ready(uring *u, int fd);

/* --- uring_io.c ------------------------------------------------------------------ */

int ws__ur_listen(void *state, const char *addr, int port, int backlog, unsigned flags,
                  int *bound_port);
void ws__ur_arm_accept(uring *u, int fd);
void ws__ur_on_accept(uring *u, int fd, ufd *f, const struct io_uring_cqe *c);
bool ws__ur_has_accepted(const uring *u, int fd);
void ws__ur_drop_listener(uring *u, int fd);
int ws__ur_accept(void *state, int lfd, char *peer, size_t peer_cap);
int ws__ur_connect(void *state, const struct sockaddr *addr, unsigned addrlen, char *peer,
                   size_t peer_cap);
int ws__ur_connect_result(void *state, int fd);
long ws__ur_read(void *state, int fd, void *buf, size_t len);
long ws__ur_writev(void *state, int fd, const struct iovec *iov, int iovcnt);
void ws__ur_submit_send(uring *u, int fd);
void ws__ur_shutdown(void *state, int fd);
void ws__ur_close(void *state, int fd);
void ws__ur_linger_done(uring *u, int fd);

#endif
