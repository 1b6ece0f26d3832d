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
 * allocated and registered here (no io_uring_setup_buf_ring).
 *
 * This file is the ring: its bookkeeping, set-up, interest, completions
 * and poll. The transport (accept, connect, read, writev, close) is in
 * uring_io.c; what both share is in uring_impl.h. */
/* POLLRDHUP is a GNU extension. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "io/uring_impl.h"

/* --- bookkeeping ------------------------------------------------------------ */

/* fd's entry, its page allocated if need be; NULL on ENOMEM. Pages, not
 * one array doubled: no copy, and at most one page of slack. */
ufd *ws__ur_slot(uring *u, int fd)
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
ubusy *ws__ur_busy(uring *u, ufd *f)
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
void ws__ur_unbusy(uring *u, ufd *f)
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

/* The spares for chunks of cap bytes (0: references), and their bound;
 * NULL for other sizes, which are never kept. */
static chunk_spares *spares_for(uring *u, size_t cap, int *max)
{
    *max = cap == 0 ? REF_SPARE : CHUNK_SPARE;
    return cap == 0 ? &u->spare_refs : cap == CHUNK_MIN ? &u->spare_chunks : NULL;
}

/* An inline chunk of cap bytes, or (cap 0) one for a reference. */
chunk *ws__ur_chunk_new(uring *u, size_t cap)
{
    int max;
    chunk_spares *sp = spares_for(u, cap, &max);
    chunk *c = sp ? sp->list : NULL;
    if (c) {
        sp->list = c->next;
        sp->n--;
    } else if ((c = malloc(sizeof *c + cap)) != NULL) {
        c->cap = (uint32_t)cap;
    }
    if (c)
        c->ext = NULL;
    return c;
}

static void chunk_free(uring *u, chunk *c)
{
    if (c->ext) {
        c->release(c->ref); /* the ring is done with the caller's buffer */
        c->ext = NULL;
    }
    int max;
    chunk_spares *sp = spares_for(u, c->cap, &max);
    if (sp && sp->n < max) {
        c->next = sp->list;
        sp->list = c;
        sp->n++;
        return;
    }
    free(c);
}

static void spares_free(chunk_spares *sp)
{
    for (chunk *c = sp->list, *n; c; c = n) {
        n = c->next;
        free(c);
    }
    *sp = (chunk_spares){0};
}

int ws__ur_push(fdlist *l, int fd)
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

/* A list that cannot grow must not lose the fd (its receive would never be
 * armed again, its event never reported): it is flagged instead, and the
 * next poll finds it by scanning the table, arms what it needs and checks
 * what it has to report. Rare, and allocation-free. */
bool ws__ur_push_or_flag(uring *u, fdlist *l, int fd)
{
    if (ws__ur_push(l, fd) == 0)
        return true;
    get(u, fd)->flags |= F_LOST;
    u->lost = true;
    return false;
}

void ws__ur_mark_ready(uring *u, int fd)
{
    ufd *f = get(u, fd);
    if (!(f->flags & F_READY) && ws__ur_push_or_flag(u, &u->ready, fd))
        f->flags |= F_READY;
}

struct io_uring_sqe *ws__ur_sqe(uring *u)
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

void ws__ur_arm_recv(uring *u, int fd)
{
    ufd *f = get(u, fd);
    if (f->flags & (F_RECV | F_EOF | F_CLOSING | F_CONNECTING | F_BULK) || f->err ||
        !(f->want & WS_IO_READ))
        return;
    struct io_uring_sqe *s = ws__ur_sqe(u);
    if (!s) {
        ws__ur_push_or_flag(u, &u->rearm, fd);
        return;
    }
    io_uring_prep_recv_multishot(s, fd, NULL, 0, 0);
    s->flags |= IOSQE_BUFFER_SELECT;
    s->buf_group = BGID;
    io_uring_sqe_set_data64(s, ud(OP_RECV, f->gen, fd));
    f->flags |= F_RECV;
    f->nops++;
}

void ws__ur_arm_poll(uring *u, int fd)
{
    ufd *f = get(u, fd);
    if (f->flags & F_LISTEN) {
        ws__ur_arm_accept(u, fd); /* a listener waits on its accept, not a poll */
        return;
    }
    unsigned want = (f->flags & F_CONNECTING) ? WS_IO_WRITE : f->want;
    if (is_conn(f)) /* a connection polls only in bulk, */
        want = (f->flags & F_BULK) ? (f->want & WS_IO_READ) : 0; /* for reading: its queue writes */
    if (f->flags & (F_POLL | F_CLOSING) || !want)
        return;
    struct io_uring_sqe *s = ws__ur_sqe(u);
    if (!s) {
        ws__ur_push_or_flag(u, &u->rearm, fd);
        return;
    }
    io_uring_prep_poll_add(
        s, fd, (want & WS_IO_READ ? POLLIN | POLLRDHUP : 0) | (want & WS_IO_WRITE ? POLLOUT : 0));
    io_uring_sqe_set_data64(s, ud(OP_POLL, f->gen, fd));
    f->flags |= F_POLL;
    f->armed = (uint8_t)want;
    f->nops++;
}

void ws__ur_cancel(uring *u, int fd, int op)
{
    ufd *f = get(u, fd);
    struct io_uring_sqe *s = ws__ur_sqe(u);
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
    ws__ur_unbusy(u, f);
}

/* The last operation on a closing fd has completed: close it for real. */
void ws__ur_finish_close(uring *u, int fd)
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
    while (u->nls)
        ws__ur_drop_listener(u, u->ls[0].fd);
    free(u->ls);
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
    spares_free(&u->spare_chunks);
    spares_free(&u->spare_refs);
    munmap(u->br, BUF_COUNT * sizeof(struct io_uring_buf));
    munmap(u->bufs, (size_t)BUF_COUNT * BUF_SIZE);
    ws__wakefd_close(u->wake);
    free(u->ready.v);
    free(u->sendq.v);
    free(u->starved.v);
    free(u->rearm.v);
    free(u);
}

/* --- interest ------------------------------------------------------------------ */

int ws__ur_mod(void *state, int fd, unsigned events)
{
    uring *u = state;
    ufd *f = ws__ur_slot(u, fd);
    if (!f)
        return WS_ENOMEM;
    if ((events & WS_IO_OWNED) && !(f->flags & (F_SOCKET | F_LISTEN)))
        f->flags |= F_SOCKET; /* ours to receive and send through the ring */
    events &= WS_IO_READ | WS_IO_WRITE;
    f->want = (uint8_t)events;
    if (is_conn(f)) {
        if ((events & WS_IO_READ) && (f->flags & F_BULK))
            ws__ur_arm_poll(u, fd);
        else if (events & WS_IO_READ)
            ws__ur_arm_recv(u, fd);
        else if (f->flags & F_RECV)
            ws__ur_cancel(u, fd, OP_RECV); /* paused: what arrived stays queued */
        else if (f->flags & F_POLL)
            ws__ur_cancel(u, fd, OP_POLL);
        if (nseg(u, f) || f->err || f->flags & F_EOF || (events & WS_IO_WRITE))
            ws__ur_mark_ready(u, fd);
    } else if (f->flags & F_LISTEN) {
        if (events & WS_IO_READ)
            ws__ur_arm_accept(u, fd);
        else if (f->flags & F_RECV)
            ws__ur_cancel(u, fd, OP_ACCEPT); /* paused: what was accepted stays queued */
        if (ws__ur_has_accepted(u, fd))
            ws__ur_mark_ready(u, fd);
    } else if (!events && (f->flags & F_POLL) && !(f->flags & F_SOCKET)) {
        /* A foreign fd unwatched: its owner may close it next (hiredis
         * does), which this backend never sees, and the armed poll would
         * hold the file open, so the peer would never see the FIN.
         * Cancelled, and the entry starts afresh for whatever fd gets this
         * number next; the cancelled completion is stale by its generation.
         * Our own sockets keep theirs until close, which waits for it. */
        ws__ur_cancel(u, fd, OP_POLL);
        f->gen++;
        f->flags &= (uint16_t)~F_POLL;
        f->nops--;
        f->armed = 0;
        f->polled = 0;
    } else if ((f->flags & F_POLL) && (f->want & ~f->armed)) {
        /* Waiting for less than is wanted now (hiredis asking to write):
         * cancelled, and armed again with the new mask on its completion. */
        ws__ur_cancel(u, fd, OP_POLL);
    } else {
        ws__ur_arm_poll(u, fd);
    }
    return 0;
}

static int ur_add(void *state, int fd, unsigned events) { return ws__ur_mod(state, fd, events); }

static int ur_del(void *state, int fd) { return ws__ur_mod(state, fd, 0); }

/* --- completions ------------------------------------------------------------------------ */

static void on_recv(uring *u, int fd, ufd *f, struct io_uring_cqe *c)
{
    bool more = c->flags & IORING_CQE_F_MORE;
    if (c->res > 0 && (c->flags & IORING_CQE_F_BUFFER)) {
        uint16_t bid = (uint16_t)(c->flags >> IORING_CQE_BUFFER_SHIFT);
        ubusy *b = (f->flags & F_CLOSING) ? NULL : ws__ur_busy(u, f);
        if (!b) {
            recycle(u, bid);
            if (!(f->flags & F_CLOSING)) {
                f->err = WS_ENOMEM;
                ws__ur_mark_ready(u, fd);
            }
            goto ended;
        }
        if (b->nseg == b->segcap) {
            uint16_t cap = b->segcap ? (uint16_t)(b->segcap * 2) : 4;
            seg *v = malloc(cap * sizeof *v);
            if (!v) {
                recycle(u, bid);
                ws__ur_unbusy(u, f);
                f->err = WS_ENOMEM;
                ws__ur_mark_ready(u, fd);
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
        ws__ur_mark_ready(u, fd);
    } else if (c->res == 0) {
        f->flags |= F_EOF;
        ws__ur_mark_ready(u, fd);
    } else if (c->res < 0 && c->res != -ENOBUFS && c->res != -ECANCELED) {
        f->err = ws__from_errno(-c->res);
        ws__ur_mark_ready(u, fd);
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
            ws__ur_push_or_flag(u, &u->starved, fd);
        else
            ws__ur_arm_recv(u, fd);
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
            ws__ur_linger_done(u, fd);
        ws__ur_mark_ready(u, fd);
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
        ws__ur_submit_send(u, fd); /* the rest, or the next chunk: still one in flight */
    } else {
        if (f->flags & F_SHUTDOWN) {
            f->flags &= (uint16_t)~F_SHUTDOWN;
            ws__sock_shutdown(u, fd);
        }
        if (f->flags & F_CLOSING)
            ws__ur_linger_done(u, fd);
        ws__ur_unbusy(u, f);
    }
    if (f->want & WS_IO_WRITE)
        ws__ur_mark_ready(u, fd);
}

static void on_linger(uring *u, int fd, ufd *f, struct io_uring_cqe *c)
{
    f->flags &= (uint16_t)~F_LINGER;
    f->nops--;
    if (c->res == -ETIME && f->nops) { /* the deadline passed: let the rest go */
        struct io_uring_sqe *s = ws__ur_sqe(u);
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
        ws__ur_arm_poll(u, fd); /* a mask change (or a close, which arms nothing) */
        return;
    }
    unsigned r = c->res < 0 ? POLLERR : (unsigned)c->res;
    f->polled = (uint8_t)((r & (POLLIN | POLLRDHUP | POLLHUP | POLLERR) ? WS_IO_READ : 0) |
                          (r & (POLLOUT | POLLERR | POLLHUP) ? WS_IO_WRITE : 0) |
                          (r & (POLLERR | POLLHUP) ? WS_IO_ERROR : 0));
    ws__ur_mark_ready(u, fd);
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
        if (op == OP_ACCEPT && c->res >= 0)
            close(c->res); /* accepted for a listener that is gone */
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
    else if (op == OP_ACCEPT)
        ws__ur_on_accept(u, fd, f, c);
    if ((f->flags & F_CLOSING) && f->nops == 0)
        ws__ur_finish_close(u, fd);
}

/* --- poll -------------------------------------------------------------------------------- */

static unsigned events_of(uring *u, int fd)
{
    ufd *f = get(u, fd);
    if (f->flags & F_CLOSING)
        return 0;
    if (f->flags & F_LISTEN)
        return (f->want & WS_IO_READ) && ws__ur_has_accepted(u, fd) ? WS_IO_READ : 0;
    if (!is_conn(f)) {
        unsigned e = f->polled;
        f->polled = 0;
        ws__ur_arm_poll(u, fd); /* level-triggered: asked again while wanted */
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

/* Level-triggered without a poll: a connection's received bytes and a
 * listener's accepted fds are reported until taken. */
static bool stays_ready(const ufd *f) { return is_conn(f) || (f->flags & F_LISTEN); }

/* Queues whatever fd's receive, send or poll could not queue before. */
static void rearm(uring *u, int fd)
{
    ufd *f = get(u, fd);
    if (!f || (f->flags & F_CLOSING))
        return;
    if (is_conn(f)) {
        ws__ur_arm_recv(u, fd);
        ws__ur_submit_send(u, fd);
    }
    ws__ur_arm_poll(u, fd);
}

static void find_lost(uring *u)
{
    u->lost = false;
    for (int p = 0; p < u->npages; p++)
        for (int i = 0; u->pages[p] && i < PAGE_FDS; i++) {
            ufd *f = &u->pages[p][i];
            if (!(f->flags & F_LOST))
                continue;
            f->flags &= (uint16_t)~F_LOST;
            int fd = p * PAGE_FDS + i;
            rearm(u, fd);
            ws__ur_mark_ready(u, fd); /* reporting finds out whether there is anything */
        }
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
    /* What could not be queued before (the SQ was full, and the ring not
     * yet enabled or refusing a submit) is queued now. */
    if (u->rearm.n) {
        fdlist todo = u->rearm;
        u->rearm = (fdlist){0};
        for (size_t i = 0; i < todo.n; i++)
            rearm(u, todo.v[i]);
        free(todo.v);
    }
    if (u->lost)
        find_lost(u);
    for (size_t i = 0; i < u->sendq.n; i++)
        ws__ur_submit_send(u, u->sendq.v[i]);
    u->sendq.n = 0;
    if (!u->wake_armed) {
        struct io_uring_sqe *s = ws__ur_sqe(u);
        if (s) {
            io_uring_prep_poll_add(s, u->wake[0], POLLIN);
            io_uring_sqe_set_data64(s, ud(OP_WAKE, 0, 0));
            u->wake_armed = true;
        }
    }
    /* Level-triggered: what is still unread is reported again at once. */
    bool still = false;
    for (size_t i = 0; i < u->ready.n && !still; i++)
        still = stays_ready(get(u, u->ready.v[i])) && events_of(u, u->ready.v[i]);
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
        if (full || (e && stays_ready(f)))
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
    .mod = ws__ur_mod,
    .del = ur_del,
    .poll = ur_poll,
    .wake = ur_wake,
    .listen = ws__ur_listen,
    .accept = ws__ur_accept,
    .read = ws__ur_read,
    .writev = ws__ur_writev,
    .shutdown = ws__ur_shutdown,
    .close = ws__ur_close,
    .now_ms = NULL,
    .connect = ws__ur_connect,
    .connect_result = ws__ur_connect_result,
};
