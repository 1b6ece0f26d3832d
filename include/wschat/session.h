/* SPDX-License-Identifier: MIT */
/* A WebSocket session, server or client: send, receive, close, and what
 * it knows of its handshake.
 *
 * Threading and lifetime: a ws_session pointer is valid on its own loop
 * thread from the start of the handler (or on_open) until the handler returns
 * (or on_close returns). The send and close functions may also be called from
 * another thread while the session is alive (the call is posted to the
 * session's loop); when another thread cannot know whether the session is
 * alive, it must use the id and ws_server_send/ws_server_close_session.
 */
#ifndef WSCHAT_SESSION_H
#define WSCHAT_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api.h"
#include "close.h"
#include "request.h"
#include "server.h"

WS_BEGIN_DECLS

typedef struct ws_client ws_client;

typedef enum ws_msg_type {
    WS_MSG_CONTINUATION = 0,   /* only from ws_recv_frame */
    WS_MSG_TEXT = 1,
    WS_MSG_BINARY = 2
} ws_msg_type;

/* A received message. data is owned by the library: valid until the next
 * ws_recv/ws_recv_frame call, the handler's return, or on_message's return.
 * For text, data is valid UTF-8 and is followed by a NUL byte that is not
 * counted in len (so it can be printed with %s). */
typedef struct ws_msg {
    ws_msg_type type;
    const uint8_t *data;
    size_t len;
    bool fin;          /* ws_recv_frame: last frame of its message; ws_recv: always true */
} ws_msg;

/* --- Sending ---------------------------------------------------------
 * Each send copies its data into the session's send queue and returns 0 once
 * queued. Errors: WS_ECLOSED (session closing or closed), WS_EINVAL (bad
 * argument, text not UTF-8), WS_ENOMEM, WS_EFULL (queue over the hard limit:
 * the session is being closed with 1008), WS_ESTATE (a message started with
 * ws_send_frame is not finished: its frames cannot be interleaved).
 * In a sequential handler, a send that takes the queue above the high-water
 * mark suspends the handler until the queue drains below it. */
WS_API int ws_send_text(ws_session *s, const char *text);
WS_API int ws_send_text_n(ws_session *s, const char *text, size_t len);
WS_API int ws_send_binary(ws_session *s, const void *data, size_t len);
/* printf-formatted text. The formatted result must be valid UTF-8. */
WS_API int ws_sendf(ws_session *s, const char *fmt, ...) WS_PRINTF(2, 3);
/* One raw frame as given: type TEXT, BINARY or CONTINUATION, fin as given.
 * The caller owns fragmentation rules; the library checks opcode order.
 * Until the last frame, messages that reach the session by broadcast or by
 * id wait (queued, counted against the hard limit) and follow that frame;
 * this thread's own ws_send_* return WS_ESTATE instead. */
WS_API int ws_send_frame(ws_session *s, ws_msg_type type, bool fin, const void *data, size_t len);
/* Sends a ping (payload at most 125 bytes). */
WS_API int ws_ping(ws_session *s, const void *data, size_t len);

/* --- Receiving (sequential handlers only) ----------------------------
 * Waits for the next message, suspending only this session. Returns 0 with
 * *m filled, or WS_ECLOSED once the session has ended (then see
 * ws_session_close_reason), WS_ESTATE when called outside a sequential
 * handler, or WS_ENOMEM (nothing received) when there was no memory to park
 * the handler's frames in (shared stacks). Control frames are handled by
 * the library and never returned. */
WS_API int ws_recv(ws_session *s, ws_msg *m);
/* Like ws_recv but returns data frames one by one, unassembled (Ktor's raw
 * mode). Must be chosen before the first message: WS_ESTATE once ws_recv has
 * been used. WS_ENOTSUP if the session negotiated an extension (frames of a
 * compressed message mean nothing alone): turn extensions off for such a
 * route with ws_route_no_extensions. */
WS_API int ws_recv_frame(ws_session *s, ws_msg *m);

/* --- Closing ---------------------------------------------------------
 * Starts the close handshake with code (1000-4999, sendable) and an optional
 * UTF-8 reason (truncated to 123 bytes). The TCP connection is closed when
 * the peer answers or after close_timeout_ms. Returns 0, WS_ECLOSED if
 * already closing, WS_EINVAL for a code that may not be sent. */
WS_API int ws_close(ws_session *s, uint16_t code, const char *reason);

/* The close reason once the session has ended; NULL while it is open. Valid
 * for as long as the session pointer is. */
WS_API const ws_close_reason *ws_session_close_reason(const ws_session *s);

/* Called exactly once when the session ends, on its loop thread, with the
 * reason; after it returns the session is freed once the handler is done.
 * Several callbacks may be registered; they run in registration order.
 * Returns 0, WS_ENOMEM, or WS_ECLOSED if the session has already ended (the
 * callback will then not be called). ud is kept as given: as with
 * ws_session_set_data, not a sequential handler's locals. */
typedef void (*ws_close_fn)(ws_session *s, const ws_close_reason *r, void *ud);
WS_API int ws_on_close(ws_session *s, ws_close_fn cb, void *ud);

/* --- Facts -------------------------------------------------------------- */
WS_API ws_session_id ws_session_get_id(const ws_session *s);
/* The server whose loops the session lives on (a server session, or a
 * client session opened with ws_server_connect), else NULL. */
WS_API ws_server *ws_session_server(const ws_session *s);
/* The ws_client of a session opened with ws_connect, else NULL. */
WS_API ws_client *ws_session_client(const ws_session *s);
/* true for a session this side opened (a client connection). */
WS_API bool ws_session_is_client(const ws_session *s);
/* The opening request, or NULL once a callback route released it (after
 * on_open, unless ws_route_keep_request). For a client session: the
 * server's 101 response (its headers; the path and query are the URL's),
 * released the same way by a callback connection after on_open. */
WS_API const ws_request *ws_session_request(const ws_session *s);
/* The negotiated subprotocol, or NULL. */
WS_API const char *ws_session_protocol(const ws_session *s);
/* Shorthands for ws_request_* on the session's request. Path and peer
 * always work; header, query and cookie return WS_ESTATE once the request
 * was released (see ws_route_keep_request). */
WS_API const char *ws_session_path(const ws_session *s);
WS_API const char *ws_session_peer(const ws_session *s);
WS_API int ws_session_header(const ws_session *s, const char *name, char *buf, size_t cap);
WS_API int ws_session_query(const ws_session *s, const char *name, char *buf, size_t cap);
WS_API int ws_session_cookie(const ws_session *s, const char *name, char *buf, size_t cap);
/* Bytes queued and not yet written to the socket. */
WS_API size_t ws_session_queued(const ws_session *s);
/* Per-session user data; the library never touches it. From a sequential
 * handler, point it at heap memory, not at the handler's locals: with
 * shared stacks (the default, see ws_config.private_stacks) those are not
 * in place while the handler waits, which is when others read them (the
 * library logs a warning when it sees such a pointer). */
WS_API void ws_session_set_data(ws_session *s, void *data);
WS_API void *ws_session_data(const ws_session *s);

/* 1 if the message is text equal to `text` ignoring ASCII case. */
WS_API int ws_msg_equals_ci(const ws_msg *m, const char *text);

WS_END_DECLS

#endif
