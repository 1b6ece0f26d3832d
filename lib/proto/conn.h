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

typedef struct ws__conn_config {
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
    /* With a transform: [0] decoded (inflated) messages, limit max_message + 1;
     * [1] encoded outgoing messages, never aliasing [0], so a decoded message
     * can be sent straight back. */
    ws__buf xbuf[2];
    /* A control frame split across reads (a whole one is handled straight
     * from the input). */
    uint8_t ctrl[WS__MAX_CONTROL_PAYLOAD];
    /* A pong held back by congestion. */
    uint8_t pong[WS__MAX_CONTROL_PAYLOAD];
} ws__conn_side;

/* Sized for idle memory: a server holds many of these. */
typedef struct ws__conn {
    const ws__conn_cb *cb;      /* not copied: must outlive the conn */
    void *ud;
    const ws__conn_config *cfg; /* not copied (one per server): must outlive it */
    const ws__conn_xform *xform; /* NULL, or the extension chain's */
    ws__conn_side *side;        /* NULL unless needed now */
    ws__fdec dec;
    /* Message being received. */
    uint64_t msg_len;       /* payload bytes of the message so far */
    ws__buf msg;            /* reassembly buffer, limit = max_message */
    ws__conn_state state;
    ws__utf8_state utf8;
    int fail_err;
    uint32_t mask_seed;
    uint16_t sent_code;     /* code of the close frame we sent, 0 if none */
    uint16_t recv_code;     /* code of the close frame we received, 0 if none */
    uint16_t fail_code;     /* code we failed the connection with */
    uint8_t msg_op;
    uint8_t msg_rsv;
    uint8_t ctrl_len;       /* bytes of a split control frame gathered */
    uint8_t pong_len;
    bool in_msg;
    bool frame_mode;        /* deliver data frames, not reassembled messages */
    bool peer_closed_first;
    bool pong_pending;      /* a coalesced pong waits for the output to drain */
} ws__conn;

/* cfg, cb and (later) the transform are referenced, not copied: they must
 * outlive the conn. */
void ws__conn_init(ws__conn *c, const ws__conn_config *cfg, const ws__conn_cb *cb, void *ud);
/* Installs a message transform (an extension chain). */
void ws__conn_set_xform(ws__conn *c, const ws__conn_xform *x);
/* The decoded-message buffer, or NULL if no transform ever ran: a payload
 * at its data pointer was copied by the engine. */
const uint8_t *ws__conn_decoded_data(const ws__conn *c);
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
