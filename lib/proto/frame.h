/* SPDX-License-Identifier: MIT */
/* RFC 6455 frame layer: opcodes, the incremental decoder, the header encoder. */
#ifndef WS_PROTO_FRAME_H
#define WS_PROTO_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    WS__OP_CONT = 0x0,
    WS__OP_TEXT = 0x1,
    WS__OP_BINARY = 0x2,
    WS__OP_CLOSE = 0x8,
    WS__OP_PING = 0x9,
    WS__OP_PONG = 0xA
};

#define WS__IS_CONTROL(op) (((op) & 0x8) != 0)
#define WS__MAX_HEADER 14
#define WS__MAX_CONTROL_PAYLOAD 125

typedef enum {
    WS__FD_HDR = 0,   /* collecting header bytes */
    WS__FD_PAYLOAD,   /* handing out payload chunks */
    WS__FD_FAILED     /* sticky after an error */
} ws__fdec_state;

/* Decoder results. Negative values are ws_err codes; `close_code` then says
 * which RFC close code to fail the connection with. */
typedef enum {
    WS__FD_NEED_MORE = 0, /* all input consumed, no event */
    WS__FD_HEADER = 1,    /* a header was parsed: see the frame fields */
    WS__FD_DATA = 2       /* a payload chunk (possibly empty) is in ev */
} ws__fdec_result;

typedef struct ws__fdec_event {
    uint8_t *data;        /* unmasked in place, points into the caller's input */
    size_t len;
    bool frame_done;      /* this chunk ends the frame's payload */
} ws__fdec_event;

typedef struct ws__fdec {
    uint64_t max_frame;    /* 0 = no limit */
    /* The current frame. */
    uint64_t len;
    uint64_t left;
    ws__fdec_state state;
    uint8_t key[4];
    uint8_t hdr[WS__MAX_HEADER];
    uint8_t hlen;
    uint8_t key_off;       /* 0..3: the mask phase */
    uint16_t close_code;   /* set on error */
    uint8_t rsv_allowed;   /* RSV bits (0x4 = RSV1 ...) an extension claimed */
    uint8_t mask_rule;     /* a ws__mask_rule */
    bool fin;
    uint8_t rsv;           /* 3 bits, RSV1 = 0x4 */
    uint8_t opcode;
    bool masked;
    bool empty_pending;    /* a zero-length payload still to report */
} ws__fdec;

/* What masking the decoder accepts: a server requires masked frames from
 * its clients, a client refuses masked frames from its server (RFC 6455
 * 5.1: both fail the connection with 1002). */
enum { WS__MASK_ANY = 0, WS__MASK_REQUIRED = 1, WS__MASK_FORBIDDEN = 2 };

void ws__fdec_init(ws__fdec *d, int mask_rule, uint64_t max_frame);

/* Feeds bytes. `*used` receives how many bytes were consumed. Payload is
 * unmasked in place, so `in` must be writable. Returns a ws__fdec_result or
 * a negative ws_err (WS_EPROTO → 1002, WS_ETOOBIG → 1009, in close_code). */
int ws__fdec_feed(ws__fdec *d, uint8_t *in, size_t len, size_t *used, ws__fdec_event *ev);

/* Writes a frame header to out (at most 14 bytes) and returns its length.
 * `key` NULL means an unmasked frame. */
size_t ws__frame_header(uint8_t *out, bool fin, uint8_t rsv, uint8_t opcode, uint64_t len,
                        const uint8_t *key);

#endif
