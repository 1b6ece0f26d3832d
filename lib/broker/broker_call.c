/* SPDX-License-Identifier: MIT */
/* ws_broker_call: a command from a sequential handler that waits for its
 * answer, the way ws_recv waits for a message. The handler's coroutine is
 * parked (wait = CALL) and its loop goes on; the reply arrives on the
 * broker's loop, is copied, and is posted to the session's loop, which
 * wakes the handler; the handler's own thread then runs fn. A call is
 * shared by the handler and the reply (two references): if the session
 * ends or the deadline passes first, the handler leaves and the late reply
 * finds nobody waiting. */
#include "broker/broker_impl.h"
#include "session/session.h"
#include "util/owner.h"
#include "wschat/error.h"
#include "wschat/loop.h"

#include <stdlib.h>
#include <string.h>

typedef struct call {
    atomic_int refs;
    ws__worker *w;
    ws_session_id id;
    bool done;       /* on the session's loop: answered or timed out */
    int err;         /* the outcome, on the session's loop */
    int answer_err;  /* the answer's, written on the broker's loop before posting */
    ws_reply *reply; /* a copy in one block, or NULL */
} call;

static void call_unref(call *c)
{
    if (atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) == 1) {
        free(c->reply);
        free(c);
    }
}

/* --- copying a reply into one block --------------------------------------- */

static size_t reply_size(const ws_reply *r, size_t *nodes)
{
    size_t bytes = r->str ? r->len + 1 : 0;
    (*nodes)++;
    for (size_t i = 0; r->type == WS_REPLY_ARRAY && i < r->n; i++)
        bytes += reply_size(&r->element[i], nodes);
    return bytes;
}

static void reply_copy(const ws_reply *r, ws_reply *out, ws_reply **spare, char **text)
{
    *out = *r;
    if (r->str) {
        memcpy(*text, r->str, r->len);
        (*text)[r->len] = 0;
        out->str = *text;
        *text += r->len + 1;
    }
    if (r->type == WS_REPLY_ARRAY && r->n) {
        ws_reply *el = *spare;
        *spare += r->n;
        out->element = el;
        for (size_t i = 0; i < r->n; i++)
            reply_copy(&r->element[i], &el[i], spare, text);
    }
}

static ws_reply *reply_dup(const ws_reply *r)
{
    size_t nodes = 0, bytes = reply_size(r, &nodes);
    ws_reply *out = malloc(nodes * sizeof *out + bytes);
    if (!out)
        return NULL;
    ws_reply *spare = out + 1;
    char *text = (char *)(out + nodes);
    reply_copy(r, out, &spare, &text);
    return out;
}

/* --- waking the handler ------------------------------------------------------ */

static void finish(call *c, int err)
{
    if (c->done)
        return;
    c->done = true;
    c->err = err;
    ws_session *s = ws__worker_lookup(c->w, c->id);
    if (s && s->wait == WS__WAIT_CALL && *(call **)ws__coro_user(ws__s_co(s)) == c)
        ws__seq_wake(s);
}

static void answer_task(ws__loop *l, void *arg)
{
    (void)l;
    call *c = arg;
    finish(c, c->answer_err);
    call_unref(c);
}

/* On the broker's loop. */
static void on_answer(const ws_reply *r, int err, void *ud)
{
    call *c = ud;
    if (r && !(c->reply = reply_dup(r)))
        err = WS_ENOMEM;
    c->answer_err = err;
    if (ws__loop_post(&c->w->loop, answer_task, c) != 0) {
        free(c->reply); /* the deadline will end the wait */
        c->reply = NULL;
        call_unref(c);
    }
}

static void on_deadline(ws_timer *t, void *ud)
{
    (void)t;
    finish(ud, WS_ETIMEDOUT);
}

int ws_broker_call(ws_session *s, ws_broker *b, uint32_t timeout_ms, ws_reply_fn fn, void *ud,
                   int argc, const char *const *argv, const size_t *lens)
{
    if (!s || !b)
        return WS_EINVAL;
    if (!ws__s_co(s) || s->w->current != s)
        return WS_ESTATE; /* only a sequential handler can wait */
    if (s->ended)
        return WS_ECLOSED;
    call *c = calloc(1, sizeof *c);
    ws_timer *deadline = c ? ws_timer_new(&s->w->loop, on_deadline, c) : NULL;
    if (!deadline) {
        free(c);
        return WS_ENOMEM;
    }
    atomic_init(&c->refs, 2);
    c->w = s->w;
    c->id = s->id;
    int rc = ws_broker_command(b, on_answer, c, argc, argv, lens);
    if (rc < 0) {
        ws_timer_free(deadline);
        free(c);
        return rc;
    }
    ws_timer_start(deadline, timeout_ms ? timeout_ms : 5000, 0);
    /* The coroutine's user slot names what it waits for (as ws_recv's
     * holds where the message goes). */
    ws__coro *co = ws__s_co(s);
    void *saved = *ws__coro_user(co);
    *(call **)ws__coro_user(co) = c;
    s->wait = WS__WAIT_CALL;
    int yrc = 0;
    while (s->wait == WS__WAIT_CALL && !c->done && !s->ended && yrc == 0)
        yrc = ws__coro_yield(co);
    s->wait = WS__WAIT_NONE;
    *ws__coro_user(co) = saved;
    ws_timer_free(deadline);
    if (yrc < 0)
        rc = yrc;
    else if (!c->done)
        rc = WS_ECLOSED; /* the session ended while waiting */
    else if (c->err)
        rc = c->err;
    else if (fn)
        fn(c->reply, 0, ud);
    c->done = true; /* a late answer finds nobody */
    call_unref(c);
    return rc;
}
