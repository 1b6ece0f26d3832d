/* SPDX-License-Identifier: MIT */
/* A session of either role: connect (client) or handshake -> WebSocket open
 * -> drain -> linger -> dead, with one timer for every deadline of the
 * current phase. The role (lib/server, lib/client) owns the handshake
 * phase through a small table of hooks; everything from the 101 on is
 * here, and neither role is known to this layer. */
#ifndef WS_SESSION_SESSION_H
#define WS_SESSION_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include "ext/ext.h"
#include "io/timer.h"
#include "proto/conn.h"
#include "session/handler.h"
#include "session/host.h"
#include "session/request.h"
#include "session/sendq.h"
#include "util/buf.h"
#include "wschat/session.h"

typedef enum {
    WS__PH_CONNECT,   /* client: resolving the name, or connecting */
    WS__PH_HANDSHAKE, /* server: reading the request head; client: the 101 */
    WS__PH_OPEN,      /* WebSocket: conn OPEN or CLOSE_SENT */
    WS__PH_DRAIN,     /* flushing the last bytes before closing */
    WS__PH_LINGER,    /* write side shut; reading until EOF or deadline */
    WS__PH_DEAD       /* fd closed; freed once the handler has returned */
} ws__phase;

typedef enum { WS__WAIT_NONE, WS__WAIT_RECV, WS__WAIT_DRAIN, WS__WAIT_CALL } ws__wait;

/* What a role does before the session opens. */
typedef struct ws__role {
    int conn_role; /* WS__ROLE_SERVER or WS__ROLE_CLIENT: which engine configuration */
    /* Bytes read in the HANDSHAKE phase. */
    void (*hs_input)(ws_session *s, uint8_t *data, size_t len);
    /* The CONNECT or HANDSHAKE phase's deadline passed. */
    void (*hs_timeout)(ws_session *s);
    /* CONNECT phase: the fd became writable (or failed). May be NULL. */
    void (*connected)(ws_session *s);
    /* The connection ended before the session opened, without the role
     * having reported it (a reset, a read error, shutdown). May be NULL. */
    void (*lost)(ws_session *s, int err);
    /* The session is being freed: release what the role keeps (hs, and for
     * a client its handler). May be NULL. */
    void (*destroy)(ws_session *s);
} ws__role;

typedef struct ws__close_cb {
    struct ws__close_cb *next;
    ws_close_fn fn;
    void *ud;
} ws__close_cb;

/* The close texts: allocated when closing starts, since an open session
 * needs none of them (idle memory). */
typedef struct ws__ending {
    ws_close_reason reason; /* the final one, once ended */
    char local_reason[124]; /* of a ws_close() in flight */
    char peer_reason[124];  /* of the peer's close frame */
    uint16_t local_code;    /* code of a ws_close() in flight */
    uint8_t local_cause;    /* a ws_close_cause */
} ws__ending;

typedef struct ws__membership {
    struct ws__membership *next;
    struct ws_group *group;
} ws__membership;

/* What only some sessions need, or need only for a while: allocated when
 * first needed and freed when nothing in it is any more
 * (ws__session_trim), so that an idle open session on a callback route
 * carries none of it. Sequential sessions keep it (their coroutine and
 * request are here). */
typedef struct ws__sess_more {
    void *hs;            /* the role's handshake state, until open */
    ws_request *req;     /* NULL once released (callback routes, after on_open) */
    ws__ext_chain *exts; /* negotiated extensions */
    struct ws__tls *tls; /* the TLS transport */
    ws__coro *co;        /* a sequential handler's */
    ws__close_cb *close_cbs;
    ws__ending *ending; /* NULL until closing starts */
    /* Input held back while the handler is not ready for it. */
    uint8_t *held;
    uint8_t *nul_at; /* byte a paused text message's NUL overwrote */
    uint32_t held_off, held_len;
    uint8_t nul_saved;
} ws__sess_more;

/* Ordered for size (pointers, then the small fields together): idle memory
 * per connection is mostly this struct. */
struct ws_session {
    ws__worker *w;
    ws_session_id id;
    const ws__handler *h; /* what runs it; NULL until known (a server before routing) */
    ws__sess_more *x;     /* NULL unless needed now */
    /* WebSocket phase. */
    ws__conn conn;
    ws__sendq q;
    ws__timer timer;
    ws__membership *groups;
    void *data;
    /* The loop clock's low 32 bits (see full_time in session.c). */
    uint32_t last_rx;
    uint32_t next_ping;
    uint32_t deadline; /* connect, handshake, close-handshake, drain or linger: has_deadline */
    int fd;            /* -1 while a client resolves its host name */
    uint16_t busy;     /* loop callbacks running for it: defer free */
    uint8_t proto;     /* negotiated subprotocol: index into h->protocols + 1, or 0 */
    /* Small fields and flags, as bit-fields: each is a bit of idle memory. */
    unsigned phase : 3; /* a ws__phase */
    unsigned wait : 2;  /* a ws__wait */
    unsigned mode : 2;  /* 0 undecided, 1 messages, 2 frames */
    unsigned role : 1;  /* WS__ROLE_SERVER or WS__ROLE_CLIENT: see ws__session_role */
    bool conn_ready : 1;
    bool above_hw : 1;   /* send queue went over the high-water mark */
    bool overloaded : 1; /* over the hard limit: close with 1008 */
    bool dirty : 1;
    bool reading : 1;  /* read interest is on */
    bool peer_eof : 1; /* the peer shut its write side */
    bool got_msg : 1;
    bool out_frag_open : 1; /* ws_send_frame started a message not yet finished */
    bool feeding : 1;
    bool ended : 1;
    bool tls_kick : 1; /* TLS holds input the fd will not announce: read before polling */
    bool has_deadline : 1;
    char peer[]; /* "ip:port" */
};

/* s->x's parts, for reading (NULL when s has no x). */
static inline ws__coro *ws__s_co(const ws_session *s) { return s->x ? s->x->co : NULL; }
/* The coroutine of a sequential handler that has not returned, or NULL. */
static inline ws__coro *ws__s_live_co(const ws_session *s)
{
    ws__coro *co = ws__s_co(s);
    return co && !ws__coro_done(co) ? co : NULL;
}
static inline struct ws__tls *ws__s_tls(const ws_session *s) { return s->x ? s->x->tls : NULL; }
static inline ws_request *ws__s_req(const ws_session *s) { return s->x ? s->x->req : NULL; }
static inline ws__ext_chain *ws__s_exts(const ws_session *s) { return s->x ? s->x->exts : NULL; }
static inline ws__ending *ws__s_ending(const ws_session *s) { return s->x ? s->x->ending : NULL; }
static inline void *ws__s_hs(const ws_session *s) { return s->x ? s->x->hs : NULL; }
static inline uint8_t *ws__s_held(const ws_session *s) { return s->x ? s->x->held : NULL; }
/* s->x, allocated if s had none; NULL on ENOMEM. */
ws__sess_more *ws__session_more(ws_session *s);
/* Frees s->x once nothing in it is in use. */
void ws__session_trim(ws_session *s);
/* The close texts, allocated if s had none; NULL on ENOMEM. */
ws__ending *ws__session_ending(ws_session *s);

/* --- For the roles ----------------------------------------------------------- */

/* Creates a session on w in `phase` (CONNECT or HANDSHAKE) with fd (or -1)
 * and room for a peer string of peer_cap bytes, initialised to peer. Takes
 * a slot and counts the connection. s->x exists until the role's hs and the
 * request are released (ws__session_trim). Returns NULL on ENOMEM (the
 * caller still owns fd). */
ws_session *ws__session_new(ws__worker *w, const ws__role *role, ws__phase phase, int fd,
                            const char *peer, size_t peer_cap);
/* Gives a resolved client its connecting fd and watches it for writing. */
int ws__session_set_fd(ws_session *s, int fd);
/* The longest a session timer may run: its times are kept in 32 bits (a
 * longer timeout acts as this one, 24.8 days). */
#define WS__SPAN_MAX ((uint32_t)INT32_MAX)
/* Sets the deadline of the current phase, ms from now. */
void ws__session_deadline_in(ws_session *s, uint32_t ms);
/* Recomputes the fd's interest from the session's state. */
void ws__session_watch(ws_session *s);
/* The handshake succeeded: the engine starts (with this role's
 * configuration and the negotiated extensions, which it takes), the
 * handler or on_open runs, and `extra` (bytes that came after the head) is
 * fed to it. s->h must be set. Returns 0, or a ws_err after closing. */
int ws__session_open(ws_session *s, ws__ext_chain *exts, const uint8_t *extra, size_t n);
/* Queues bytes as they are (an HTTP head). 0 or WS_ENOMEM. */
int ws__session_queue_raw(ws_session *s, const void *a, size_t alen, const void *b, size_t blen);
/* Flushes what is queued, then closes (an HTTP answer, a refusal). */
void ws__session_drain(ws_session *s);
/* Closes the connection now. err is what `lost` hears if the session
 * never opened and the role had not reported it. */
void ws__session_abort(ws_session *s, int err);
/* The role's hooks. */
static inline const ws__role *ws__session_role(const ws_session *s)
{
    return atomic_load_explicit(&s->w->host->roles[s->role], memory_order_relaxed);
}
/* The loop's clock. */
static inline uint64_t ws__session_now(const ws_session *s) { return s->w->loop.now; }
static inline const ws_config *ws__session_cfg(const ws_session *s) { return &s->w->host->cfg; }

/* --- Within the session layer ------------------------------------------------- */

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
/* Drops what waited behind s's fragmented message (s is being freed). */
void ws__session_drop_deferred(ws_session *s);
/* Flushes every dirty session of w (the before-poll hook). */
void ws__worker_flush(ws__loop *l, void *ud);
/* Writes what s has queued now. */
void ws__session_flush_now(ws_session *s);

/* Post-send bookkeeping: overload close, backpressure. Returns the send's
 * final result. */
int ws__session_after_send(ws_session *s, int rc);

/* Starts a close handshake for `cause`, or ends at once for causes that do
 * not wait for the peer. */
void ws__session_close(ws_session *s, uint16_t code, const char *reason, ws_close_cause cause);

/* Ends the session exactly once: reason, groups, callbacks, handler wake-up. */
void ws__session_end(ws_session *s, ws_close_cause cause, uint16_t code, const char *reason,
                     int err);
/* Ends the session as the ws_close in flight asked (its code, cause and
 * reason), with err, or the cause's own error if 0. */
void ws__session_end_as_asked(ws_session *s, int err);
/* The error that goes with a cause, for the close reason. */
int ws__cause_err(ws_close_cause cause);

/* Input (session_io.c). */
void ws__session_on_io(ws__loop *l, int fd, unsigned events, void *ud);
/* Feeds input that was held back (after the handler became ready). */
void ws__session_resume_input(ws_session *s);
/* 1 if input was paused for a handler that was not ready (held or not). */
bool ws__session_input_paused(const ws_session *s);
/* Keeps bytes that came with the head for the engine, which is not ready
 * for them yet. 0 or WS_ENOMEM. */
int ws__session_hold_copy(ws_session *s, const uint8_t *a, size_t alen, const uint8_t *b,
                          size_t blen);
/* The engine's callbacks, for ws__session_open. */
extern const ws__conn_cb ws__session_conn_cb;

/* TLS sessions (session_tls.c): plaintext in, the queue out through the
 * transport, and whether it still has ciphertext to write. */
long ws__session_tls_read(ws_session *s, void *buf, size_t len);
long ws__session_tls_flush(ws_session *s);
/* Encrypts and writes iov now if no ciphertext is pending (write-through):
 * returns the plaintext bytes taken (0 if none could be), or an error. */
long ws__session_tls_write(ws_session *s, const struct iovec *iov, int n);
bool ws__session_tls_idle(const ws_session *s);
/* Reads now (TLS input the fd will not announce). */
void ws__session_read_now(ws_session *s);

/* The close reason of an ended session. */
const ws_close_reason *ws__session_reason(const ws_session *s);
/* Frees the kept request (idempotent). */
void ws__request_release(ws_session *s);
/* Frees the session if nothing refers to it any more. */
void ws__session_maybe_free(ws_session *s);

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

/* Closes every connection of w at once (end of the stop deadline). */
void ws__worker_close_all(ws__worker *w);
/* Worker shutdown step: close every session with 1001, abort the rest. */
void ws__worker_begin_stop(ws__worker *w);

/* A group on a host (ws_group_new and ws_client_group_new). */
struct ws_group *ws__group_new(ws__host *host);
/* A group shared across nodes (lib/broker): the group calls these, on any
 * thread; release when the group is freed. */
typedef struct ws__group_share {
    void (*publish)(struct ws__group_share *sh, bool binary, const void *data, size_t len);
    void (*members_changed)(struct ws__group_share *sh);
    void (*release)(struct ws__group_share *sh);
} ws__group_share;
/* Once per group: WS_EEXIST if it is shared already. */
int ws__group_set_share(struct ws_group *g, ws__group_share *sh);
/* A broadcast to this node's members only (what arrived from another).
 * WS_EINVAL for text that is not UTF-8. */
int ws__group_broadcast_local(struct ws_group *g, bool binary, const void *data, size_t len);
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
