/* SPDX-License-Identifier: MIT */
/* Incremental frame decoder: bytes may arrive split anywhere. Header bytes are
 * kept in a 14-byte array; payload is never copied, only unmasked in place. */
#include "proto/frame.h"
#include "proto/mask.h"
#include "wschat/error.h"

#include <string.h>

void ws__fdec_init(ws__fdec *d, int mask_rule, uint64_t max_frame)
{
    memset(d, 0, sizeof *d);
    d->mask_rule = (uint8_t)mask_rule;
    d->max_frame = max_frame;
}

static int fail(ws__fdec *d, int err, uint16_t code)
{
    d->state = WS__FD_FAILED;
    d->close_code = code;
    return err;
}

/* How many header bytes the frame needs, given what has arrived. */
static size_t header_need(const ws__fdec *d)
{
    if (d->hlen < 2)
        return 2;
    size_t n = 2;
    uint8_t l7 = d->hdr[1] & 0x7F;
    if (l7 == 126)
        n += 2;
    else if (l7 == 127)
        n += 8;
    if (d->hdr[1] & 0x80)
        n += 4;
    return n;
}

static int check_first_two(ws__fdec *d)
{
    uint8_t b0 = d->hdr[0], b1 = d->hdr[1];
    d->fin = (b0 & 0x80) != 0;
    d->rsv = (b0 >> 4) & 0x7;
    d->opcode = b0 & 0x0F;
    d->masked = (b1 & 0x80) != 0;
    if (d->rsv & ~d->rsv_allowed)
        return fail(d, WS_EPROTO, 1002);
    switch (d->opcode) {
    case WS__OP_CONT: case WS__OP_TEXT: case WS__OP_BINARY:
    case WS__OP_CLOSE: case WS__OP_PING: case WS__OP_PONG:
        break;
    default:
        return fail(d, WS_EPROTO, 1002);
    }
    /* An extension's RSV claim covers the first frame of a data message
     * only (RFC 7692 section 6; the extension API works per message): on a
     * control or continuation frame the bits mean nothing, so they are a
     * protocol error even when claimed. */
    if (d->rsv && (WS__IS_CONTROL(d->opcode) || d->opcode == WS__OP_CONT))
        return fail(d, WS_EPROTO, 1002);
    if (WS__IS_CONTROL(d->opcode) && (!d->fin || (b1 & 0x7F) > WS__MAX_CONTROL_PAYLOAD))
        return fail(d, WS_EPROTO, 1002);
    if (d->mask_rule == WS__MASK_REQUIRED ? !d->masked
                                          : d->mask_rule == WS__MASK_FORBIDDEN && d->masked)
        return fail(d, WS_EPROTO, 1002);
    return 0;
}

static int finish_header(ws__fdec *d)
{
    const uint8_t *h = d->hdr;
    uint8_t l7 = h[1] & 0x7F;
    size_t pos = 2;
    uint64_t len = l7;
    if (l7 == 126) {
        len = (uint64_t)h[2] << 8 | h[3];
        pos = 4;
    } else if (l7 == 127) {
        len = 0;
        for (int i = 0; i < 8; i++)
            len = len << 8 | h[2 + i];
        pos = 10;
        if (len >> 63)
            return fail(d, WS_EPROTO, 1002);
    }
    if (d->masked)
        memcpy(d->key, h + pos, 4);
    if (d->max_frame && len > d->max_frame)
        return fail(d, WS_ETOOBIG, 1009);
    d->len = d->left = len;
    d->key_off = 0;
    d->empty_pending = len == 0;
    d->state = WS__FD_PAYLOAD;
    d->hlen = 0;
    return WS__FD_HEADER;
}

int ws__fdec_feed(ws__fdec *d, uint8_t *in, size_t len, size_t *used, ws__fdec_event *ev)
{
    size_t i = 0;
    *used = 0;
    if (d->state == WS__FD_FAILED)
        return d->close_code == 1009 ? WS_ETOOBIG : WS_EPROTO;
    if (d->state == WS__FD_PAYLOAD) {
        if (d->empty_pending) {
            d->empty_pending = false;
            d->state = WS__FD_HDR;
            ev->data = in;
            ev->len = 0;
            ev->frame_done = true;
            return WS__FD_DATA;
        }
        if (len == 0)
            return WS__FD_NEED_MORE;
        size_t n = d->left < len ? (size_t)d->left : len;
        if (d->masked)
            d->key_off = (uint8_t)(ws__mask(in, n, d->key, d->key_off) & 3);
        d->left -= n;
        *used = n;
        ev->data = in;
        ev->len = n;
        ev->frame_done = d->left == 0;
        if (ev->frame_done)
            d->state = WS__FD_HDR;
        return WS__FD_DATA;
    }
    while (i < len) {
        d->hdr[d->hlen++] = in[i++];
        if (d->hlen == 2) {
            int rc = check_first_two(d);
            if (rc < 0) {
                *used = i;
                return rc;
            }
        }
        if (d->hlen >= 2 && d->hlen == header_need(d)) {
            *used = i;
            return finish_header(d);
        }
    }
    *used = i;
    return WS__FD_NEED_MORE;
}
