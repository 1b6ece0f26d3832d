/* SPDX-License-Identifier: MIT */
#include "io/loop.h"
#include "util/array.h"
#include "wschat/error.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

uint64_t ws__loop_clock(ws__loop *l)
{
    if (l->io->now_ms)
        return l->io->now_ms(l->io_state);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int ws__loop_init(ws__loop *l, const ws_io_backend *io, void *io_arg, int index)
{
    memset(l, 0, sizeof *l);
    l->io = io;
    l->index = index;
    /* One spare byte: a zero-copy text message gets its NUL written there. */
    if (!(l->rbuf = malloc(WS__LOOP_RBUF + 1)))
        return WS_ENOMEM;
    int rc = io->create(&l->io_state, io_arg);
    if (rc < 0) {
        free(l->rbuf);
        return rc;
    }
    pthread_mutex_init(&l->post_mu, NULL);
    l->now = ws__loop_clock(l);
    return 0;
}

void ws__loop_fini(ws__loop *l)
{
    ws__loop_run_posted(l);
    l->io->destroy(l->io_state);
    pthread_mutex_destroy(&l->post_mu);
    ws__timer_heap_free(&l->timers);
    free(l->w);
    free(l->rbuf);
}

int ws__loop_watch(ws__loop *l, int fd, unsigned events, ws__io_cb cb, void *ud)
{
    if ((uintptr_t)ud & WS__WATCH_EVMASK || events & ~(unsigned)(WS__WATCH_EVMASK | WS_IO_OWNED))
        return WS_EINVAL;                  /* ud's low bits carry the interest */
    unsigned owned = events & WS_IO_OWNED; /* told to the backend once, when added */
    events &= (unsigned)WS__WATCH_EVMASK;
    ws__watcher *grown = ws__grow_zeroed(l->w, &l->wcap, fd, sizeof *l->w);
    if (!grown)
        return WS_ENOMEM;
    l->w = grown;
    ws__watcher *w = &l->w[fd];
    int rc = 0;
    bool known = w->cb != NULL;
    if (!known)
        rc = l->io->add(l->io_state, fd, events | owned);
    else if ((w->ud_events & WS__WATCH_EVMASK) != events)
        rc = l->io->mod(l->io_state, fd, events);
    if (rc < 0)
        return rc;
    w->cb = cb;
    w->ud_events = (uintptr_t)ud | events;
    return 0;
}

void ws__loop_unwatch(ws__loop *l, int fd)
{
    if (fd < 0 || fd >= l->wcap || !l->w[fd].cb)
        return;
    l->io->del(l->io_state, fd);
    memset(&l->w[fd], 0, sizeof l->w[fd]);
}

int ws__loop_post(ws__loop *l, ws__task_fn fn, void *arg)
{
    ws__task *t = malloc(sizeof *t);
    if (!t)
        return WS_ENOMEM;
    t->next = NULL;
    t->fn = fn;
    t->arg = arg;
    pthread_mutex_lock(&l->post_mu);
    bool was_empty = l->post_head == NULL;
    if (l->post_tail)
        l->post_tail->next = t;
    else
        l->post_head = t;
    l->post_tail = t;
    pthread_mutex_unlock(&l->post_mu);
    /* Only the first task of a batch needs to wake the poller. */
    if (was_empty)
        l->io->wake(l->io_state);
    return 0;
}

void ws__loop_run_posted(ws__loop *l)
{
    pthread_mutex_lock(&l->post_mu);
    ws__task *t = l->post_head;
    l->post_head = l->post_tail = NULL;
    pthread_mutex_unlock(&l->post_mu);
    while (t) {
        ws__task *next = t->next;
        t->fn(l, t->arg);
        free(t);
        t = next;
    }
}

bool ws__loop_on_thread(const ws__loop *l)
{
    return l->thread_set && pthread_equal(pthread_self(), l->thread);
}

static int poll_timeout(ws__loop *l, int timeout_ms)
{
    pthread_mutex_lock(&l->post_mu);
    bool pending = l->post_head != NULL;
    pthread_mutex_unlock(&l->post_mu);
    if (pending)
        return 0;
    uint64_t next = ws__timer_next(&l->timers);
    if (next == UINT64_MAX)
        return timeout_ms;
    uint64_t wait = next > l->now ? next - l->now : 0;
    if (timeout_ms >= 0 && wait > (uint64_t)timeout_ms)
        return timeout_ms;
    return wait > 60000 ? 60000 : (int)wait;
}

int ws__loop_run_once(ws__loop *l, int timeout_ms)
{
    if (l->before_poll)
        l->before_poll(l, l->before_poll_ud);
    int n = l->io->poll(l->io_state, poll_timeout(l, timeout_ms), l->fired, WS__LOOP_MAX_FIRED);
    l->now = ws__loop_clock(l);
    for (int i = 0; i < n; i++) {
        int fd = l->fired[i].fd;
        /* A callback earlier in this batch may have closed this fd. */
        if (fd >= 0 && fd < l->wcap && l->w[fd].cb)
            l->w[fd].cb(l, fd, l->fired[i].events,
                        (void *)(l->w[fd].ud_events & ~WS__WATCH_EVMASK));
    }
    ws__timer *t;
    while ((t = ws__timer_pop_expired(&l->timers, l->now)) != NULL)
        t->fn(t);
    ws__loop_run_posted(l);
    return n < 0 ? n : 0;
}
