/* SPDX-License-Identifier: MIT */
/* Session state machine: HTTP head -> WebSocket open -> drain -> linger ->
 * dead, with one timer for every deadline of the current phase. */
#ifndef WS_SERVER_SESSION_H
#define WS_SERVER_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include "io/timer.h"
#include "ext/ext.h"
#include "proto/conn.h"
#include "server/request.h"
#include "server/sendq.h"
#include "server/server_impl.h"
#include "util/buf.h"
#include "wschat/session.h"

typedef enum {
    WS__PH_HTTP,     /* reading the request head */
    WS__PH_OPEN,     /* WebSocket: conn OPEN or CLOSE_SENT */
    WS__PH_DRAIN,    /* flushing the last bytes before closing */
    WS__PH_LINGER,   /* write side shut; reading until EOF or deadline */
    WS__PH_DEAD      /* fd closed; freed once the handler has returned */
} ws__phase;

typedef enum { WS__WAIT_NONE, WS__WAIT_RECV, WS__WAIT_DRAIN } ws__wait;

typedef struct ws__close_cb {
    struct ws__close_cb *next;
    ws_close_fn fn;
    void *ud;
} ws__close_cb;

/* The close texts: allocated when closing starts, since an open session
 * needs none of them (idle memory). */
typedef struct ws__ending {
    ws_close_reason reason;   /* the final one, once ended */
    char local_reason[124];   /* of a ws_close() in flight */
    char peer_reason[124];    /* of the peer's close frame */
} ws__ending;

typedef struct ws__membership {
    struct ws__membership *next;
    struct ws_group *group;
} ws__membership;

/* The request head being read (HTTP phase only). */
typedef struct ws__http_in {
    ws__buf head;
    size_t scanned;
} ws__http_in;

/* Ordered for size (pointers, then the small fields together): idle memory
 * per connection is mostly this struct. */
struct ws_session {
    ws__worker *w;
    ws_session_id id;
    const ws__route *route;
    ws_request *req;          /* NULL once released (callback routes, after on_open) */
    ws__http_in *http;        /* HTTP phase only */
    /* WebSocket phase. */
    ws__conn conn;
    ws__sendq q;
    ws__timer timer;
    uint64_t last_rx;
    uint64_t next_ping;
    uint64_t deadline;        /* handshake, close-handshake, drain or linger deadline */
    ws__ext_chain *exts;      /* negotiated extensions, or NULL */
    /* Sequential handler. */
    ws__coro *co;
    ws_msg *recv_out;
    /* Input held back while the handler is not ready for it. */
    uint8_t *held;
    uint8_t *nul_at;          /* byte overwritten by a text message's NUL */
    /* Ending. */
    ws__ending *ending;       /* NULL until closing starts */
    ws__close_cb *close_cbs;
    ws__membership *groups;
    void *data;
    int fd;
    uint32_t held_off, held_len;
    int busy;                 /* loop callbacks running for it: defer free */
    ws_close_cause local_cause;
    ws__phase phase;
    uint16_t local_code;      /* code of a ws_close() in flight */
    uint8_t wait;             /* a ws__wait */
    uint8_t mode;             /* 0 undecided, 1 messages, 2 frames */
    uint8_t nul_saved;
    uint8_t proto;            /* negotiated subprotocol: route index + 1, or 0 */
    bool conn_ready;
    bool above_hw;            /* send queue went over the high-water mark */
    bool overloaded;          /* over the hard limit: close with 1008 */
    bool dirty;
    bool reading;             /* read interest is on */
    bool peer_eof;            /* the peer shut its write side */
    bool got_msg;
    bool out_frag_open;       /* ws_send_frame started a message not yet finished */
    bool feeding;
    bool ended;
    char peer[];              /* "ip:port" */
};

/* Creates a session for an accepted fd on worker w. */
void ws__session_accept(ws__worker *w, int fd, const char *peer);

/* Called after anything queued output for s: flushed before the next poll. */
void ws__session_mark_dirty(ws_session *s);
/* After bytes were appended to s's output: marks s dirty, and overloaded
 * past the hard limit. */
void ws__session_queued(ws_session *s);
/* Where a new message for s goes: s->q, or, while s's own fragmented
 * message (ws_send_frame) is unfinished, a queue that waits for its end.
 * NULL on ENOMEM. */
ws__sendq *ws__session_out_queue(ws_session *s);
/* Moves what waited behind s's fragmented message to s->q (after its end). */
void ws__session_undefer(ws_session *s);
/* Flushes every dirty session of w (the before-poll hook). */
void ws__worker_flush(ws__loop *l, void *ud);

/* Post-send bookkeeping: overload close, backpressure. Returns the send's
 * final result. */
int ws__session_after_send(ws_session *s, int rc);

/* Starts a close handshake for `cause`, or ends at once for causes that do
 * not wait for the peer. */
void ws__session_close(ws_session *s, uint16_t code, const char *reason, ws_close_cause cause);

/* Ends the session exactly once: reason, groups, callbacks, handler wake-up. */
void ws__session_end(ws_session *s, ws_close_cause cause, uint16_t code, const char *reason,
                     int err);

/* Sequential handler glue (handler_seq.c). */
int ws__seq_start(ws_session *s);
/* Delivers a message to a waiting handler. Returns 1 if input must pause. */
int ws__seq_deliver(ws_session *s, ws_msg *m);
/* Wakes a handler waiting in recv or drain after the session ended. */
void ws__seq_wake(ws_session *s);
/* Resumes a handler that waited for the queue to drain. */
void ws__seq_drained(ws_session *s);
/* 1 if the handler can take a message now. */
bool ws__seq_ready(const ws_session *s);

/* Event callback glue (handler_events.c). */
void ws__events_open(ws_session *s);
void ws__events_message(ws_session *s, const ws_msg *m);
void ws__events_end(ws_session *s);
void ws__events_drained(ws_session *s);

/* Feeds input that was held back (after the handler became ready). */
void ws__session_resume_input(ws_session *s);
/* 1 if input was paused for a handler that was not ready (held or not). */
bool ws__session_input_paused(const ws_session *s);
/* The close reason of an ended session. */
const ws_close_reason *ws__session_reason(const ws_session *s);
/* Frees the kept request (idempotent). */
void ws__request_release(ws_session *s);
/* Frees the session if nothing refers to it any more. */
void ws__session_maybe_free(ws_session *s);

/* HTTP route dispatch (http_static.c). */
void ws__http_dispatch(ws_session *s, const ws__route *r, bool head_only);
/* Queues a complete HTTP response and moves to DRAIN. */
void ws__session_http_reply(ws_session *s, int status, const char *ctype, const void *body,
                            size_t len, bool head_only);
void ws__session_http_error(ws_session *s, int status);

/* Closes every connection of w at once (end of the stop deadline). */
void ws__worker_close_all(ws__worker *w);

/* Group membership bookkeeping (group.c). */
void ws__group_leave_all(ws_session *s);
/* Sends w's pending broadcast batch to its group's members on w. */
void ws__group_batch_flush(ws__worker *w);
/* Drops w's pending batch unsent (teardown). */
void ws__group_batch_discard(ws__worker *w);
/* Called before anything else is queued for s: a pending batch of one of
 * its groups goes first, so s sees messages in the order they were sent. */
void ws__group_before_send(ws_session *s);
/* The cheap test in front of it, for every write path. */
static inline void ws__session_before_output(ws_session *s)
{
    if (s->w->bgroup && s->groups)
        ws__group_before_send(s);
}

#endif
