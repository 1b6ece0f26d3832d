/* SPDX-License-Identifier: MIT */
/* Linux epoll backend: the poller half of ws_io_backend; the transport is
 * the shared socket code. Level-triggered, so a callback that stops reading
 * early (backpressure, fairness) is called again on the next iteration. */
#include "io/backend.h"
#include "io/sock.h"
#include "util/error_internal.h"
#include "wschat/error.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

typedef struct ep {
    int epfd;
    int wake[2];
    struct epoll_event ev[256];
} ep;

static int ep_create(void **state, void *arg)
{
    (void)arg;
    ep *e = calloc(1, sizeof *e);
    if (!e)
        return WS_ENOMEM;
    e->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (e->epfd < 0) {
        int rc = ws__from_errno(errno);
        free(e);
        return rc;
    }
    int rc = ws__wakefd_open(e->wake);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = e->wake[0]};
    if (rc == 0 && epoll_ctl(e->epfd, EPOLL_CTL_ADD, e->wake[0], &ev) < 0) {
        rc = ws__from_errno(errno);
        ws__wakefd_close(e->wake);
    }
    if (rc) {
        close(e->epfd);
        free(e);
        return rc;
    }
    *state = e;
    return 0;
}

static void ep_destroy(void *state)
{
    ep *e = state;
    ws__wakefd_close(e->wake);
    close(e->epfd);
    free(e);
}

static uint32_t to_epoll(unsigned events)
{
    return (events & WS_IO_READ ? EPOLLIN | EPOLLRDHUP : 0) | (events & WS_IO_WRITE ? EPOLLOUT : 0);
}

static int ctl(ep *e, int op, int fd, unsigned events)
{
    struct epoll_event ev = {.events = to_epoll(events), .data.fd = fd};
    return epoll_ctl(e->epfd, op, fd, &ev) < 0 ? ws__from_errno(errno) : 0;
}

static int ep_add(void *s, int fd, unsigned events) { return ctl(s, EPOLL_CTL_ADD, fd, events); }
static int ep_mod(void *s, int fd, unsigned events) { return ctl(s, EPOLL_CTL_MOD, fd, events); }
static int ep_del(void *s, int fd) { return ctl(s, EPOLL_CTL_DEL, fd, 0); }

static int ep_poll(void *state, int timeout_ms, ws_io_event *out, int max)
{
    ep *e = state;
    if (max > 256)
        max = 256;
    int n = epoll_wait(e->epfd, e->ev, max, timeout_ms);
    if (n < 0)
        return errno == EINTR ? 0 : ws__from_errno(errno);
    int k = 0;
    for (int i = 0; i < n; i++) {
        if (e->ev[i].data.fd == e->wake[0]) {
            ws__wakefd_drain(e->wake[0]);
            continue;
        }
        uint32_t r = e->ev[i].events;
        unsigned m = 0;
        /* Errors and hang-ups are reported as readable: the read then sees
         * the EOF or the error code, in one place. */
        if (r & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
            m |= WS_IO_READ;
        if (r & (EPOLLOUT | EPOLLERR | EPOLLHUP))
            m |= WS_IO_WRITE;
        if (r & (EPOLLERR | EPOLLHUP))
            m |= WS_IO_ERROR;
        out[k].fd = e->ev[i].data.fd;
        out[k++].events = m;
    }
    return k;
}

static int ep_wake(void *state)
{
    ws__wakefd_signal(((ep *)state)->wake[1]);
    return 0;
}

const ws_io_backend ws__io_epoll = {
    .name = "epoll", .create = ep_create, .destroy = ep_destroy, .add = ep_add, .mod = ep_mod,
    .del = ep_del, .poll = ep_poll, .wake = ep_wake, WS__SOCK_TRANSPORT,
};
