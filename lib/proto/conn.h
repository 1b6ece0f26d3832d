/* SPDX-License-Identifier: MIT */
/* The sans-I/O WebSocket connection engine, for either role.
 *
 * Bytes in (ws__conn_feed), events out through typed callbacks, frames out
 * through the `write` callback. It knows nothing of sockets or loops; the
 * server layer and the unit tests drive it the same way. */
#ifndef WS_PROTO_CONN_H
#define WS_PROTO_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/frame.h"
#include "proto/utf8.h"
#include "util/buf.h"

typedef enum {
    WS__CONN_OPEN = 0,
    WS__CONN_CLOSE_SENT,   /* we sent close first; waiting for the peer's */
    WS__CONN_CLOSED,       /* both closes exchanged: the TCP side may close */
    WS__CONN_FAILED        /* we failed the connection; input is ignored */
} ws__conn_state;

/* Every callback gets the conn itself as `ud`: its owner finds itself with
 * WS__OWNER_OF (util/owner.h), so no connection stores a pointer back. */
typedef struct ws__conn_cb {
    /* A complete message, or in frame mode one data frame (`fin` tells which;
     * opcode is CONT for a continuation). When the payload was copied into
     * the engine's own buffers it is followed by a NUL byte (not counted).
     * `data` is writable and stays valid
     * until the callback returns, or until the next ws__conn_feed if it asked
     * to pause. Return 1 to pause input after this event, 0 to go on. */
    int (*message)(void *ud, uint8_t opcode, bool fin, uint8_t *data, size_t len);
    /* Optional: a ping or pong arrived (pongs to pings are already queued). */
    void (*control)(void *ud, uint8_t opcode, const uint8_t *data, size_t len);
    /* The peer's close frame arrived (code 1005 if it had none). */
    void (*peer_close)(void *ud, uint16_t code, const uint8_t *reason, size_t len);
    /* Outgoing frame bytes: header then payload; either part may be empty.
     * With `mask` (4 bytes) the payload goes on the wire masked with it: the
     * consumer masks its copy (the engine never copies a payload to mask
     * it). Returns 0 or a negative ws_err (queue full, out of memory). */
    int (*write)(void *ud, const uint8_t *hdr, size_t hlen, const uint8_t *payload, size_t plen,
                 const uint8_t *mask);
    /* Optional: 1 while the output is congested. Pongs are then coalesced
     * into one pending pong (RFC 6455 5.5.3 allows answering only the most
     * recent ping), sent by ws__conn_flush_pong. */
    int (*congested)(void *ud);
    /* A client's masking key for the next frame, from a CSPRNG (RFC 6455
     * 5.3: unpredictable). Returns 0 or a ws_err. NULL: a server's keys for
     * its (non-RFC) masking option come from a cheap generator instead. */
    int (*mask_key)(void *ud, uint8_t key[4]);
} ws__conn_cb;

/* Message-level transform hook for extensions (permessage-deflate): turns a
 * received payload whose first frame had RSV bits set into plain bytes in out
 * (bounded by out->limit), and optionally an outgoing payload into wire bytes. */
typedef struct ws__conn_xform {
    int (*decode)(void *st, uint8_t rsv, const uint8_t *in, size_t len, ws__buf *out);
    /* Returns 1 and fills out (wire bytes) with *rsv set to compress, 0 to send
     * as is, or a negative ws_err. */
    int (*encode)(void *st, uint8_t opcode, const uint8_t *in, size_t len, ws__buf *out,
                  uint8_t *rsv);
    void *st;
    uint8_t rsv_mask;
} ws__conn_xform;

/* Shared by every connection of a role: they point to it. */
typedef struct ws__conn_config {
    const ws__conn_cb *cb;
    uint64_t max_frame;     /* 0 = no limit */
    size_t max_message;     /* 0 = no limit */
    size_t fragment_size;   /* split outgoing messages larger than this; 0 = never */
    bool mask_outgoing;     /* a client; or a server with Ktor's (non-RFC) `masking` */
    bool client;            /* received frames must be unmasked (they are the server's) */
    bool frame_mode;        /* initial mode: deliver data frames, not messages */
} ws__conn_config;

/* What only some connections need, allocated on first use and released
 * when no longer needed, so an idle connection does not carry it. */
typedef struct ws__conn_side {
    const ws__conn_xform *xform; /* NULL, or the extension chain's */
    uint32_t mask_seed;          /* a masking server's key generator, once used */
    /* With a transform: [0] decoded (inflated) messages, limit max_message + 1;
     * [1] encoded outgoing messages, never aliasing [0], so a decoded message
     * can be sent straight back. */
    ws__buf xbuf[2];
    /* A control frame split across reads (a whole one is handled straight
     * from the input). */
    uint8_t ctrl[WS__MAX_CONTROL_PAYLOAD];
    /* A pong held back by congestion. */
    uint8_t pong[WS__MAX_CONTROL_PAYLOAD];
    uint8_t ctrl_len; /* bytes of a split control frame gathered */
    uint8_t pong_len;
} ws__conn_side;

/* What receiving needs between a frame's first byte and its message's
 * end. Between messages, at a frame boundary (where an idle connection
 * is), there is nothing to keep: a conn has one only while a frame or a
 * message is unfinished at the end of its input, or a paused message's
 * buffer must stay valid. */
typedef struct ws__conn_rx {
    ws__fdec dec;
    uint64_t msg_len; /* payload bytes of the message so far */
    ws__buf msg;      /* reassembly buffer, limit = max_message + 1 */
    ws__utf8_state utf8;
    uint8_t msg_op;
    uint8_t msg_rsv;
    bool in_msg;
} ws__conn_rx;

/* Sized for idle memory: a server holds many of these. */
typedef struct ws__conn {
    const ws__conn_config *cfg; /* not copied (one per role): must outlive the conn */
    ws__conn_side *side;        /* NULL unless needed now (always, with a transform) */
    ws__conn_rx *rx;            /* NULL at a frame boundary between messages */
    int16_t fail_err;           /* the ws_err we failed the connection with */
    uint16_t sent_code;         /* code of the close frame we sent, 0 if none */
    uint16_t recv_code;         /* code of the close frame we received, 0 if none */
    uint16_t fail_code;         /* code we failed the connection with */
    uint8_t state;              /* a ws__conn_state */
    bool frame_mode;        /* deliver data frames, not reassembled messages */
    bool peer_closed_first;
    bool pong_pending;      /* a coalesced pong waits for the output to drain */
} ws__conn;

/* cfg (with its callbacks) and (later) the transform are referenced, not
 * copied: they must outlive the conn. */
void ws__conn_init(ws__conn *c, const ws__conn_config *cfg);
/* 1 while a message is partly received. */
bool ws__conn_in_msg(const ws__conn *c);
/* 1 if p is the start of one of the engine's own buffers (a message it
 * copied), 0 if it points into the caller's input. */
bool ws__conn_buffered(const ws__conn *c, const uint8_t *p);
/* Installs a message transform (an extension chain). 0 or WS_ENOMEM. */
int ws__conn_set_xform(ws__conn *c, const ws__conn_xform *x);
void ws__conn_free(ws__conn *c);

/* Consumes input. Returns the number of bytes consumed (less than len only if
 * a callback asked to pause, or the connection closed or failed), or a
 * negative ws_err after failing the connection (a close frame with
 * c->fail_code has been written). */
long ws__conn_feed(ws__conn *c, uint8_t *in, size_t len);
/* While a large data frame is being gathered, the place its remaining
 * payload will be copied to: the caller may read input straight there (at
 * most the returned count, which is 0 when there is no such place) and
 * then hand it over with ws__conn_feed(c, *dst, n), which then copies
 * nothing. */
size_t ws__conn_gather_space(const ws__conn *c, uint8_t **dst);

/* 1 if ws__conn_send would put a message on the wire as one unmasked,
 * untransformed frame, so a frame encoded once can be shared with others. */
bool ws__conn_sends_verbatim(const ws__conn *c);
/* Sends a whole message (text, binary), fragmented per fragment_size. */
int ws__conn_send(ws__conn *c, uint8_t opcode, const void *data, size_t len);
/* Sends one raw frame as given (no transform, no fragmentation). */
int ws__conn_send_frame(ws__conn *c, bool fin, uint8_t rsv, uint8_t opcode, const void *data,
                        size_t len);
int ws__conn_ping(ws__conn *c, const void *data, size_t len);
/* Starts (or answers) the close handshake. code 0 sends an empty close. */
int ws__conn_close(ws__conn *c, uint16_t code, const char *reason, size_t len);
/* Sends the pending coalesced pong, if any. Returns 0 or a ws_err. */
int ws__conn_flush_pong(ws__conn *c);
/* Fails the connection: sends a close with `code`, ignores further input. */
int ws__conn_fail(ws__conn *c, uint16_t code, int err);

#endif
