/* SPDX-License-Identifier: MIT */
/* BSD/macOS kqueue backend: the poller half of ws_io_backend over kevent(2);
 * the transport is the shared socket code. Read and write interest are two
 * separate kqueue filters, so add/mod/del translate the loop's event mask
 * into filter additions and deletions. Level-triggered (no EV_CLEAR), like
 * the other backends.
 *
 * Compiled only where <sys/event.h> exists. No machine in this project's CI
 * has kqueue, so this file is compile-checked here against a stand-in header
 * only; see docs/backends.md. */
#include "io/backend.h"
#include "io/sock.h"
#include "util/array.h"
#include "util/error_internal.h"
#include "wschat/error.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/event.h>
#include <sys/time.h>
#include <sys/types.h>
#include <unistd.h>

typedef struct kq {
    int fd;
    int wake[2];
    unsigned *interest;       /* by fd: the mask currently registered */
    int cap;
    struct kevent ev[256];
} kq;

static int kq_create(void **state, void *arg)
{
    (void)arg;
    kq *k = calloc(1, sizeof *k);
    if (!k)
        return WS_ENOMEM;
    k->fd = kqueue();
    if (k->fd < 0) {
        int rc = ws__from_errno(errno);
        free(k);
        return rc;
    }
    int rc = ws__wakefd_open(k->wake);
    struct kevent e;
    EV_SET(&e, k->wake[0], EVFILT_READ, EV_ADD, 0, 0, NULL);
    if (rc == 0 && kevent(k->fd, &e, 1, NULL, 0, NULL) < 0) {
        rc = ws__from_errno(errno);
        ws__wakefd_close(k->wake);
    }
    if (rc) {
        close(k->fd);
        free(k);
        return rc;
    }
    *state = k;
    return 0;
}

static void kq_destroy(void *state)
{
    kq *k = state;
    ws__wakefd_close(k->wake);
    close(k->fd);
    free(k->interest);
    free(k);
}

/* Registers the difference between the old and the new mask. */
static int apply(kq *k, int fd, unsigned events)
{
    events &= WS_IO_READ | WS_IO_WRITE; /* WS_IO_OWNED changes nothing here */
    unsigned *grown = ws__grow_zeroed(k->interest, &k->cap, fd, sizeof *k->interest);
    if (!grown)
        return WS_ENOMEM;
    k->interest = grown;
    unsigned old = k->interest[fd];
    struct kevent ch[2];
    int n = 0;
    if ((old ^ events) & WS_IO_READ) {
        EV_SET(&ch[n], fd, EVFILT_READ, events & WS_IO_READ ? EV_ADD : EV_DELETE, 0, 0, NULL);
        n++;
    }
    if ((old ^ events) & WS_IO_WRITE) {
        EV_SET(&ch[n], fd, EVFILT_WRITE, events & WS_IO_WRITE ? EV_ADD : EV_DELETE, 0, 0, NULL);
        n++;
    }
    if (n && kevent(k->fd, ch, n, NULL, 0, NULL) < 0 && errno != ENOENT)
        return ws__from_errno(errno);
    k->interest[fd] = events;
    return 0;
}

static int kq_add(void *s, int fd, unsigned events) { return apply(s, fd, events); }
static int kq_mod(void *s, int fd, unsigned events) { return apply(s, fd, events); }
static int kq_del(void *s, int fd) { return apply(s, fd, 0); }

static int kq_poll(void *state, int timeout_ms, ws_io_event *out, int max)
{
    kq *k = state;
    if (max > 256)
        max = 256;
    struct timespec ts, *tp = NULL;
    if (timeout_ms >= 0) {
        ts.tv_sec = timeout_ms / 1000;
        ts.tv_nsec = (long)(timeout_ms % 1000) * 1000000L;
        tp = &ts;
    }
    int n = kevent(k->fd, NULL, 0, k->ev, max, tp);
    if (n < 0)
        return errno == EINTR ? 0 : ws__from_errno(errno);
    int j = 0;
    for (int i = 0; i < n; i++) {
        int fd = (int)k->ev[i].ident;
        if (fd == k->wake[0]) {
            ws__wakefd_drain(k->wake[0]);
            continue;
        }
        unsigned m = k->ev[i].filter == EVFILT_WRITE ? WS_IO_WRITE : WS_IO_READ;
        /* EOF and errors surface through read(), as with the other backends. */
        if (k->ev[i].flags & (EV_EOF | EV_ERROR))
            m |= WS_IO_READ | WS_IO_ERROR;
        out[j].fd = fd;
        out[j++].events = m;
    }
    return j;
}

static int kq_wake(void *state)
{
    ws__wakefd_signal(((kq *)state)->wake[1]);
    return 0;
}

const ws_io_backend ws__io_kqueue = {
    .name = "kqueue", .create = kq_create, .destroy = kq_destroy, .add = kq_add, .mod = kq_mod,
    .del = kq_del, .poll = kq_poll, .wake = kq_wake, WS__SOCK_TRANSPORT,
};
