/* SPDX-License-Identifier: MIT */
/* Callback routes: the event callbacks are called straight from the loop,
 * with no stack per session. */
#include "session/session.h"
#include "wschat/error.h"

static const ws_event_callbacks *cbs(ws_session *s) { return &s->h->cb; }

void ws__events_open(ws_session *s)
{
    if (cbs(s)->on_open)
        cbs(s)->on_open(s, s->h->app);
}

void ws__events_message(ws_session *s, const ws_msg *m)
{
    if (cbs(s)->on_message)
        cbs(s)->on_message(s, m, s->h->app);
}

void ws__events_end(ws_session *s)
{
    const ws_close_reason *r = ws__session_reason(s);
    ws_close_cause c = r->cause;
    bool error = c == WS_CAUSE_PROTOCOL || c == WS_CAUSE_IO || c == WS_CAUSE_TIMEOUT ||
                 c == WS_CAUSE_OVERLOAD;
    if (error && cbs(s)->on_error)
        cbs(s)->on_error(s, r->err ? r->err : WS_EIO, s->h->app);
    if (cbs(s)->on_close)
        cbs(s)->on_close(s, r, s->h->app);
}

void ws__events_drained(ws_session *s)
{
    if (cbs(s)->on_drain && !s->ended)
        cbs(s)->on_drain(s, s->h->app);
}
