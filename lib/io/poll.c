/* SPDX-License-Identifier: MIT */
/* POSIX poll() backend: works everywhere, O(n) per wait. The pollfd array is
 * kept dense; `slot` maps an fd to its index so add/mod/del are O(1). */
#include "io/backend.h"
#include "io/sock.h"
#include "util/array.h"
#include "util/error_internal.h"
#include "wschat/error.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

typedef struct pl {
    struct pollfd *pfd;
    int n, cap;
    int *slot;        /* fd -> index + 1, 0 = absent */
    int slot_cap;
    int wake[2];
} pl;

static int pl_create(void **state, void *arg)
{
    (void)arg;
    pl *p = calloc(1, sizeof *p);
    if (!p)
        return WS_ENOMEM;
    p->cap = 64;
    p->pfd = malloc((size_t)p->cap * sizeof *p->pfd);
    int rc = p->pfd ? ws__wakefd_open(p->wake) : WS_ENOMEM;
    if (rc) {
        free(p->pfd);
        free(p);
        return rc;
    }
    *state = p;
    return 0;
}

static void pl_destroy(void *state)
{
    pl *p = state;
    ws__wakefd_close(p->wake);
    free(p->pfd);
    free(p->slot);
    free(p);
}

static short to_poll(unsigned events)
{
    return (short)((events & WS_IO_READ ? POLLIN : 0) | (events & WS_IO_WRITE ? POLLOUT : 0));
}

static int pl_add(void *state, int fd, unsigned events)
{
    pl *p = state;
    int *grown = ws__grow_zeroed(p->slot, &p->slot_cap, fd, sizeof *p->slot);
    if (!grown)
        return WS_ENOMEM;
    p->slot = grown;
    /* One spare entry at the end is reserved for the wake fd. */
    if (p->n + 1 >= p->cap) {
        int cap = p->cap ? p->cap * 2 : 64;
        struct pollfd *v = realloc(p->pfd, (size_t)cap * sizeof *v);
        if (!v)
            return WS_ENOMEM;
        p->pfd = v;
        p->cap = cap;
    }
    p->pfd[p->n] = (struct pollfd){.fd = fd, .events = to_poll(events)};
    p->slot[fd] = ++p->n;
    return 0;
}

static int pl_mod(void *state, int fd, unsigned events)
{
    pl *p = state;
    if (fd >= p->slot_cap || !p->slot[fd])
        return WS_ENOTFOUND;
    p->pfd[p->slot[fd] - 1].events = to_poll(events);
    return 0;
}

static int pl_del(void *state, int fd)
{
    pl *p = state;
    if (fd >= p->slot_cap || !p->slot[fd])
        return WS_ENOTFOUND;
    int i = p->slot[fd] - 1;
    p->slot[fd] = 0;
    if (i != --p->n) {
        p->pfd[i] = p->pfd[p->n];
        p->slot[p->pfd[i].fd] = i + 1;
    }
    return 0;
}

static int pl_poll(void *state, int timeout_ms, ws_io_event *out, int max)
{
    pl *p = state;
    p->pfd[p->n] = (struct pollfd){.fd = p->wake[0], .events = POLLIN};
    int n = poll(p->pfd, (nfds_t)p->n + 1, timeout_ms);
    if (n < 0)
        return errno == EINTR ? 0 : ws__from_errno(errno);
    if (p->pfd[p->n].revents)
        ws__wakefd_drain(p->wake[0]);
    int k = 0;
    for (int i = 0; i < p->n && k < max; i++) {
        short r = p->pfd[i].revents;
        if (!r)
            continue;
        unsigned m = 0;
        if (r & (POLLIN | POLLHUP | POLLERR | POLLNVAL))
            m |= WS_IO_READ;
        if (r & (POLLOUT | POLLHUP | POLLERR))
            m |= WS_IO_WRITE;
        if (r & (POLLERR | POLLHUP | POLLNVAL))
            m |= WS_IO_ERROR;
        out[k].fd = p->pfd[i].fd;
        out[k++].events = m;
    }
    return k;
}

static int pl_wake(void *state)
{
    ws__wakefd_signal(((pl *)state)->wake[1]);
    return 0;
}

const ws_io_backend ws__io_poll = {
    .name = "poll", .create = pl_create, .destroy = pl_destroy, .add = pl_add, .mod = pl_mod,
    .del = pl_del, .poll = pl_poll, .wake = pl_wake, WS__SOCK_TRANSPORT,
};
