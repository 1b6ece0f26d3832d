/* SPDX-License-Identifier: MIT */
/* The loops, opened to the application (wschat/loop.h): its own fds,
 * timers and posted calls, on the same loops as its sessions. */
#include "session/session.h"
#include "wschat/error.h"
#include "wschat/loop.h"

#include <stdlib.h>

struct ws_watch {
    ws__loop *l;
    int fd;
    ws_watch_fn fn;
    void *ud;
};

struct ws_timer {
    ws__timer t;
    ws__loop *l;
    ws_timer_fn fn;
    void *ud;
    uint64_t repeat;
    bool in_cb; /* its callback is running: freeing waits for it to return */
    bool freed;
};

ws_loop *ws_session_loop(const ws_session *s) { return s ? &s->w->loop : NULL; }

uint64_t ws_loop_now(const ws_loop *l) { return l ? l->now : 0; }

typedef struct posted {
    void (*fn)(ws_loop *l, void *ud);
    void *ud;
} posted;

static void run_posted(ws__loop *l, void *arg)
{
    posted p = *(posted *)arg;
    free(arg);
    p.fn(l, p.ud);
}

int ws_loop_post(ws_loop *l, void (*fn)(ws_loop *l, void *ud), void *ud)
{
    if (!l || !fn)
        return WS_EINVAL;
    posted *p = malloc(sizeof *p);
    if (!p)
        return WS_ENOMEM;
    *p = (posted){fn, ud};
    int rc = ws__loop_post(l, run_posted, p);
    if (rc)
        free(p);
    return rc;
}

/* --- file descriptors ------------------------------------------------------ */

static void on_fd(ws__loop *l, int fd, unsigned events, void *ud)
{
    ws_watch *w = ud;
    (void)l;
    w->fn(w, fd, events, w->ud); /* may free w: nothing touches it after */
}

ws_watch *ws_watch_fd(ws_loop *l, int fd, unsigned events, ws_watch_fn fn, void *ud, int *err)
{
    int rc = 0;
    ws_watch *w = NULL;
    if (!l || fd < 0 || !fn || (events & ~(unsigned)(WS_IO_READ | WS_IO_WRITE)))
        rc = WS_EINVAL;
    else if (l->io->now_ms) /* a backend with its own clock has virtual fds (mem) */
        rc = WS_ENOTSUP;
    else if (fd < l->wcap && l->w[fd].cb)
        rc = WS_EEXIST;
    else if (!(w = malloc(sizeof *w)))
        rc = WS_ENOMEM;
    if (w) {
        *w = (ws_watch){l, fd, fn, ud};
        if ((rc = ws__loop_watch(l, fd, events, on_fd, w)) < 0) {
            free(w);
            w = NULL;
        }
    }
    if (err)
        *err = rc;
    return w;
}

int ws_watch_set(ws_watch *w, unsigned events)
{
    if (!w || (events & ~(unsigned)(WS_IO_READ | WS_IO_WRITE)))
        return WS_EINVAL;
    return ws__loop_watch(w->l, w->fd, events, on_fd, w);
}

void ws_watch_free(ws_watch *w)
{
    if (!w)
        return;
    ws__loop_unwatch(w->l, w->fd);
    free(w);
}

/* --- timers ------------------------------------------------------------------- */

static void on_timer(ws__timer *t)
{
    ws_timer *tm = WS__OWNER_OF(t, ws_timer, t);
    tm->in_cb = true;
    tm->fn(tm, tm->ud);
    tm->in_cb = false;
    if (tm->freed)
        free(tm);
    else if (tm->repeat && !tm->t.slot) /* not restarted or stopped by the callback */
        ws__timer_set(&tm->l->timers, &tm->t, tm->l->now + tm->repeat);
}

ws_timer *ws_timer_new(ws_loop *l, ws_timer_fn fn, void *ud)
{
    if (!l || !fn)
        return NULL;
    ws_timer *t = calloc(1, sizeof *t);
    if (t) {
        t->t.fn = on_timer;
        t->l = l;
        t->fn = fn;
        t->ud = ud;
    }
    return t;
}

int ws_timer_start(ws_timer *t, uint64_t after_ms, uint64_t repeat_ms)
{
    if (!t)
        return WS_EINVAL;
    t->repeat = repeat_ms;
    return ws__timer_set(&t->l->timers, &t->t, t->l->now + after_ms);
}

void ws_timer_stop(ws_timer *t)
{
    if (t) {
        t->repeat = 0;
        ws__timer_cancel(&t->l->timers, &t->t);
    }
}

void ws_timer_free(ws_timer *t)
{
    if (!t)
        return;
    ws__timer_cancel(&t->l->timers, &t->t);
    if (t->in_cb)
        t->freed = true;
    else
        free(t);
}
