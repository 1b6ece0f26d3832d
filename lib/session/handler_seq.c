/* SPDX-License-Identifier: MIT */
/* Sequential handlers: each session's handler runs on its own coroutine.
 * ws_recv parks the coroutine (wait = RECV) and returns to the loop; a
 * message or the session's end resumes it. Resumes only ever start from the
 * loop's own stack, never from inside another handler: a wake-up requested
 * while some coroutine runs is posted to the loop instead. */
#include "session/session.h"
#include "wschat/error.h"

#include <stdlib.h>

static void resume(ws_session *s)
{
    ws__worker *w = s->w;
    ws__coro *co = ws__s_co(s);
    s->busy++;
    w->current = s;
    ws__coro_resume(co);
    w->current = NULL;
    s->busy--;
    if (ws__coro_done(co))
        s->wait = WS__WAIT_NONE;
    else if (s->wait == WS__WAIT_RECV && !s->feeding && ws__session_input_paused(s))
        ws__session_resume_input(s);
    ws__session_maybe_free(s);
}

static void handler_main(void *arg)
{
    ws_session *s = arg;
    s->h->fn(s, s->h->app);
    /* Like Ktor: leaving the handler block closes the session normally. */
    if (!s->ended)
        ws__session_close(s, WS_CLOSE_NORMAL, NULL, WS_CAUSE_LOCAL);
}

int ws__seq_start(ws_session *s)
{
    ws__sess_more *x = ws__session_more(s);
    if (!x || !(x->co = ws__coro_new(&s->w->stacks, handler_main, s)))
        return WS_ENOMEM;
    resume(s);
    return 0;
}

bool ws__seq_ready(const ws_session *s) { return !ws__s_live_co(s) || s->wait == WS__WAIT_RECV; }

int ws__seq_deliver(ws_session *s, ws_msg *m)
{
    if (!ws__s_live_co(s))
        return 0; /* the handler has returned: input is read and dropped */
    if (s->wait != WS__WAIT_RECV)
        return 1;
    /* The handler reads it from here once resumed (its own frames may not
     * be in place while it waits: shared stacks). */
    *(const ws_msg **)ws__coro_user(ws__s_co(s)) = m;
    s->got_msg = true;
    s->wait = WS__WAIT_NONE;
    resume(s);
    return ws__seq_ready(s) ? 0 : 1;
}

static void wake_task(ws__loop *l, void *arg)
{
    ws_session_id *id = arg;
    ws__worker *w = WS__OWNER_OF(l, ws__worker, loop);
    ws_session *s = ws__worker_lookup(w, *id);
    free(id);
    if (s && ws__s_live_co(s) && s->wait != WS__WAIT_NONE) {
        s->wait = WS__WAIT_NONE;
        resume(s);
    }
}

void ws__seq_wake(ws_session *s)
{
    if (!ws__s_live_co(s) || s->wait == WS__WAIT_NONE)
        return;
    if (s->w->current) {
        /* Some handler is running (perhaps this session's own): resuming
         * here would nest coroutines, so let the loop do it. */
        ws_session_id *id = malloc(sizeof *id);
        if (id) {
            *id = s->id;
            if (ws__loop_post(&s->w->loop, wake_task, id) == 0)
                return;
            free(id);
        }
        return;
    }
    s->wait = WS__WAIT_NONE;
    resume(s);
}

void ws__seq_drained(ws_session *s)
{
    if (s->wait == WS__WAIT_DRAIN)
        ws__seq_wake(s);
}

static int recv_common(ws_session *s, ws_msg *m, int mode)
{
    if (!s || !m)
        return WS_EINVAL;
    ws__coro *co = ws__s_co(s);
    if (!co || s->w->current != s)
        return WS_ESTATE;
    if (s->mode && s->mode != mode)
        return WS_ESTATE;
    if (!s->mode) {
        if (mode == 2 && ws__s_exts(s))
            return WS_ENOTSUP; /* frames of transformed messages: see ws_route_no_extensions */
        if (mode == 2 && ws__conn_in_msg(&s->conn))
            return WS_ESTATE;
        s->mode = mode;
        s->conn.frame_mode = mode == 2;
    }
    if (s->ended)
        return WS_ECLOSED;
    s->got_msg = false;
    s->wait = WS__WAIT_RECV;
    while (s->wait == WS__WAIT_RECV) {
        int rc = ws__coro_yield(co);
        if (rc < 0) {
            s->wait = WS__WAIT_NONE;
            return rc;
        }
    }
    if (s->got_msg) {
        s->got_msg = false;
        *m = **(const ws_msg **)ws__coro_user(co);
        return 0;
    }
    return WS_ECLOSED;
}

int ws_recv(ws_session *s, ws_msg *m) { return recv_common(s, m, 1); }
int ws_recv_frame(ws_session *s, ws_msg *m) { return recv_common(s, m, 2); }
