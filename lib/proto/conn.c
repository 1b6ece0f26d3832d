/* SPDX-License-Identifier: MIT */
/* Message reassembly, control frames and the close handshake on top of the
 * frame decoder. Every protocol failure goes through ws__conn_fail(), so the
 * close code on the wire and the state change can never disagree. */
#include "proto/conn.h"
#include "proto/close.h"
#include "wschat/close.h"
#include "wschat/error.h"

#include <stdlib.h>
#include <string.h>

void ws__conn_init(ws__conn *c, const ws__conn_config *cfg)
{
    memset(c, 0, sizeof *c);
    c->cfg = cfg;
    c->frame_mode = cfg->frame_mode;
}

static const ws__conn_xform *xform_of(const ws__conn *c) { return c->side ? c->side->xform : NULL; }

static uint8_t xform_mask(const ws__conn *c)
{
    const ws__conn_xform *x = xform_of(c);
    return x ? x->rsv_mask : 0;
}

/* A received message's buffer limit: one byte over max_message, room for
 * the NUL after a full-size message. */
static size_t msg_limit(const ws__conn *c)
{
    return c->cfg->max_message ? c->cfg->max_message + 1 : 0;
}

static ws__conn_side *side_of(ws__conn *c)
{
    if (!c->side && (c->side = calloc(1, sizeof *c->side)) != NULL) {
        ws__buf_init(&c->side->xbuf[0], msg_limit(c));
        ws__buf_init(&c->side->xbuf[1], 0);
    }
    return c->side;
}

static void rx_init(const ws__conn *c, ws__conn_rx *r)
{
    memset(r, 0, sizeof *r);
    ws__fdec_init(&r->dec, c->cfg->client ? WS__MASK_FORBIDDEN : WS__MASK_REQUIRED,
                  c->cfg->max_frame);
    r->dec.rsv_allowed = xform_mask(c);
    ws__buf_init(&r->msg, msg_limit(c));
}

int ws__conn_set_xform(ws__conn *c, const ws__conn_xform *x)
{
    ws__conn_side *sd = side_of(c);
    if (!sd)
        return WS_ENOMEM;
    sd->xform = x;
    if (c->rx)
        c->rx->dec.rsv_allowed = xform_mask(c);
    return 0;
}

bool ws__conn_in_msg(const ws__conn *c) { return c->rx && c->rx->in_msg; }

static void side_free(ws__conn *c)
{
    if (c->side) {
        ws__buf_free(&c->side->xbuf[0]);
        ws__buf_free(&c->side->xbuf[1]);
    }
    free(c->side);
    c->side = NULL;
}

void ws__conn_free(ws__conn *c)
{
    if (c->rx) {
        ws__buf_free(&c->rx->msg);
        free(c->rx);
        c->rx = NULL;
    }
    side_free(c);
}

/* With a transform the side buffers serve every message; without one they
 * are needed only while a split control frame or a held pong is pending. */
static void side_release(ws__conn *c)
{
    if (c->side && !c->side->xform && !c->side->mask_seed && !c->pong_pending &&
        c->side->ctrl_len == 0)
        side_free(c);
}

bool ws__conn_buffered(const ws__conn *c, const uint8_t *p)
{
    return (c->rx && c->rx->msg.data && p == c->rx->msg.data) ||
           (c->side && c->side->xbuf[0].data && p == c->side->xbuf[0].data);
}

static ws__buf *xform_bufs(ws__conn *c)
{
    ws__conn_side *sd = side_of(c);
    return sd ? sd->xbuf : NULL;
}

/* Buffered payloads get a NUL after them, so text can be used as a C
 * string. The buffers' limits leave room for it. */
static uint8_t *terminate(ws__buf *b)
{
    if (ws__buf_reserve(b, 1) < 0)
        return NULL;
    b->data[b->len] = '\0';
    return b->data;
}

static int next_key(ws__conn *c, uint8_t key[4])
{
    if (c->cfg->cb->mask_key)
        return c->cfg->cb->mask_key(c, key);
    /* xorshift32: masking by a server is only a Ktor-parity option, the key
     * needs no cryptographic strength there. */
    ws__conn_side *sd = side_of(c);
    if (!sd)
        return WS_ENOMEM;
    uint32_t x = sd->mask_seed ? sd->mask_seed : (uint32_t)(uintptr_t)c ^ 0x9E3779B9u;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    sd->mask_seed = x ? x : 1; /* never 0: xorshift would stay there, and 0 means unused */
    memcpy(key, &x, 4);
    return 0;
}

static int write_frame(ws__conn *c, bool fin, uint8_t rsv, uint8_t op, const uint8_t *p, size_t len)
{
    uint8_t hdr[WS__MAX_HEADER];
    if (!c->cfg->mask_outgoing) {
        size_t hlen = ws__frame_header(hdr, fin, rsv, op, len, NULL);
        return c->cfg->cb->write(c, hdr, hlen, p, len, NULL);
    }
    uint8_t key[4];
    int rc = next_key(c, key);
    if (rc < 0)
        return rc;
    size_t hlen = ws__frame_header(hdr, fin, rsv, op, len, key);
    return c->cfg->cb->write(c, hdr, hlen, p, len, key);
}

static int send_close(ws__conn *c, uint16_t code, const char *reason, size_t len)
{
    uint8_t payload[WS__MAX_CONTROL_PAYLOAD];
    size_t n = ws__close_build(payload, code, reason, len);
    c->sent_code = code ? code : WS_CLOSE_NO_STATUS;
    return write_frame(c, true, 0, WS__OP_CLOSE, payload, n);
}

int ws__conn_fail(ws__conn *c, uint16_t code, int err)
{
    if (c->state == WS__CONN_FAILED || c->state == WS__CONN_CLOSED)
        return err;
    c->fail_code = code;
    c->fail_err = (int16_t)err;
    if (c->state == WS__CONN_OPEN) {
        const char *why = ws_strerror(err);
        (void)send_close(c, code, why, strlen(why));
    }
    c->state = WS__CONN_FAILED;
    if (c->rx)
        c->rx->in_msg = false;
    return err;
}

static int fail_buf(ws__conn *c, int rc)
{
    return ws__conn_fail(c, rc == WS_ETOOBIG ? WS_CLOSE_MESSAGE_TOO_BIG : WS_CLOSE_INTERNAL_ERROR, rc);
}

static int on_header(ws__conn *c)
{
    ws__conn_rx *r = c->rx;
    const ws__fdec *d = &r->dec;
    if (WS__IS_CONTROL(d->opcode)) {
        if (c->side)
            c->side->ctrl_len = 0;
        return 0;
    }
    if (d->opcode == WS__OP_CONT) {
        if (!r->in_msg)
            return ws__conn_fail(c, WS_CLOSE_PROTOCOL_ERROR, WS_EPROTO);
    } else {
        if (r->in_msg)
            return ws__conn_fail(c, WS_CLOSE_PROTOCOL_ERROR, WS_EPROTO);
        r->in_msg = true;
        r->msg_op = d->opcode;
        r->msg_rsv = d->rsv;
        r->utf8 = 0;
        r->msg_len = 0;
        ws__buf_reset(&r->msg);
    }
    /* Refuse an oversized message before its payload arrives. */
    if (c->cfg->max_message && r->msg_len + d->len > c->cfg->max_message)
        return ws__conn_fail(c, WS_CLOSE_MESSAGE_TOO_BIG, WS_ETOOBIG);
    return 0;
}

static int handle_close(ws__conn *c, const uint8_t *p, size_t len)
{
    uint16_t code;
    const uint8_t *reason;
    size_t rlen;
    int rc = ws__close_parse(p, len, &code, &reason, &rlen);
    if (rc == WS_EUTF8)
        return ws__conn_fail(c, WS_CLOSE_INVALID_PAYLOAD, rc);
    if (rc < 0)
        return ws__conn_fail(c, WS_CLOSE_PROTOCOL_ERROR, rc);
    c->recv_code = code;
    if (c->state == WS__CONN_OPEN) {
        c->peer_closed_first = true;
        (void)send_close(c, code == WS_CLOSE_NO_STATUS ? 0 : code, NULL, 0);
    }
    c->state = WS__CONN_CLOSED;
    if (c->cfg->cb->peer_close)
        c->cfg->cb->peer_close(c, code, reason, rlen);
    return 0;
}

static int handle_control(ws__conn *c, const uint8_t *p, size_t len)
{
    uint8_t op = c->rx->dec.opcode;
    if (op == WS__OP_CLOSE)
        return handle_close(c, p, len);
    if (op == WS__OP_PING && c->state == WS__CONN_OPEN) {
        if (c->cfg->cb->congested && c->cfg->cb->congested(c)) {
            /* A ping flood from a peer that does not read: keep one pong. */
            ws__conn_side *sd = side_of(c);
            if (!sd)
                return fail_buf(c, WS_ENOMEM);
            memmove(sd->pong, p, len); /* p may be sd->ctrl */
            sd->pong_len = (uint8_t)len;
            c->pong_pending = true;
        } else {
            int rc = write_frame(c, true, 0, WS__OP_PONG, p, len);
            if (rc < 0)
                return fail_buf(c, rc);
        }
    }
    if (c->cfg->cb->control)
        c->cfg->cb->control(c, op, p, len);
    return 0;
}

static int deliver(ws__conn *c, uint8_t op, bool fin, uint8_t *p, size_t len)
{
    if (c->state != WS__CONN_OPEN)
        return 0; /* after our close, data is read and dropped */
    return c->cfg->cb->message(c, op, fin, p, len);
}

static int finish_message(ws__conn *c, uint8_t *p, size_t len)
{
    ws__conn_rx *r = c->rx;
    r->in_msg = false;
    if (r->msg_rsv & xform_mask(c)) {
        ws__buf *out = xform_bufs(c);
        if (!out)
            return fail_buf(c, WS_ENOMEM);
        ws__buf_reset(out);
        const ws__conn_xform *x = xform_of(c);
        int rc = x->decode(x->st, r->msg_rsv, p, len, out);
        if (rc == 0 && c->cfg->max_message && out->len > c->cfg->max_message)
            rc = WS_ETOOBIG;
        if (rc == WS_ETOOBIG)
            return ws__conn_fail(c, WS_CLOSE_MESSAGE_TOO_BIG, rc);
        if (rc < 0)
            return ws__conn_fail(c, WS_CLOSE_INVALID_PAYLOAD, rc);
        len = out->len;
        if (!(p = terminate(out)))
            return fail_buf(c, WS_ENOMEM);
        if (r->msg_op == WS__OP_TEXT && !ws__utf8_valid(p, len))
            return ws__conn_fail(c, WS_CLOSE_INVALID_PAYLOAD, WS_EUTF8);
    } else if (r->msg_op == WS__OP_TEXT && !ws__utf8_complete(r->utf8)) {
        return ws__conn_fail(c, WS_CLOSE_INVALID_PAYLOAD, WS_EUTF8);
    }
    return deliver(c, r->msg_op, true, p, len);
}

/* Reading the rest of a frame straight into the reassembly buffer saves
 * a copy only when that rest is big enough to be worth its own read. */
#define GATHER_DIRECT_MIN 4096

size_t ws__conn_gather_space(const ws__conn *c, uint8_t **dst)
{
    const ws__conn_rx *r = c->rx;
    if (!r)
        return 0;
    const ws__fdec *d = &r->dec;
    if (c->state != WS__CONN_OPEN || d->state != WS__FD_PAYLOAD || WS__IS_CONTROL(d->opcode) ||
        d->left < GATHER_DIRECT_MIN || r->msg.cap - r->msg.len <= d->left)
        return 0;
    *dst = r->msg.data + r->msg.len;
    return (size_t)d->left;
}

/* Adds a chunk of the current frame to the reassembly buffer, reserving
 * the rest of the frame (and the NUL) at once rather than by doubling; its
 * size was checked against the limit when the header arrived. A chunk read
 * in place (ws__conn_gather_space) is only counted. */
static int gather(ws__conn *c, const ws__fdec_event *ev)
{
    ws__buf *b = &c->rx->msg;
    if (b->data && ev->data == b->data + b->len) {
        b->len += ev->len;
        return 0;
    }
    int rc = ws__buf_reserve(b, ev->len + (size_t)c->rx->dec.left + 1);
    if (rc == 0)
        rc = ws__buf_append(b, ev->data, ev->len);
    return rc;
}

static int on_data(ws__conn *c, const ws__fdec_event *ev)
{
    ws__conn_rx *r = c->rx;
    const ws__fdec *d = &r->dec;
    bool compressed = (r->msg_rsv & xform_mask(c)) != 0;
    if (r->msg_op == WS__OP_TEXT && !compressed && ws__utf8_feed(&r->utf8, ev->data, ev->len) < 0)
        return ws__conn_fail(c, WS_CLOSE_INVALID_PAYLOAD, WS_EUTF8);
    r->msg_len += ev->len;
    bool whole_frame = ev->frame_done && ev->len == d->len;
    if (c->frame_mode) {
        if (d->fin && r->msg_op == WS__OP_TEXT && !ws__utf8_complete(r->utf8))
            return ws__conn_fail(c, WS_CLOSE_INVALID_PAYLOAD, WS_EUTF8);
        if (whole_frame) {
            r->in_msg = !d->fin;
            return deliver(c, d->opcode, d->fin, ev->data, ev->len);
        }
        int rc = gather(c, ev);
        if (rc < 0)
            return fail_buf(c, rc);
        if (!ev->frame_done)
            return 0;
        r->in_msg = !d->fin;
        if (!terminate(&r->msg))
            return fail_buf(c, WS_ENOMEM);
        rc = deliver(c, d->opcode, d->fin, r->msg.data, r->msg.len);
        ws__buf_reset(&r->msg);
        return rc;
    }
    /* A message that is one frame, wholly in this input: no copy at all. */
    if (d->fin && d->opcode != WS__OP_CONT && whole_frame)
        return finish_message(c, ev->data, ev->len);
    int rc = gather(c, ev);
    if (rc < 0)
        return fail_buf(c, rc);
    if (ev->frame_done && d->fin) {
        if (!terminate(&r->msg))
            return fail_buf(c, WS_ENOMEM);
        return finish_message(c, r->msg.data, r->msg.len);
    }
    return 0;
}

static int on_chunk(ws__conn *c, const ws__fdec_event *ev)
{
    const ws__fdec *d = &c->rx->dec;
    if (!WS__IS_CONTROL(d->opcode))
        return on_data(c, ev);
    if (ev->frame_done && (!c->side || c->side->ctrl_len == 0) && ev->len == d->len)
        return handle_control(c, ev->data, ev->len);
    /* Split across reads: gather it (at most 125 bytes, the decoder
     * refused anything longer). */
    ws__conn_side *sd = side_of(c);
    if (!sd)
        return fail_buf(c, WS_ENOMEM);
    memcpy(sd->ctrl + sd->ctrl_len, ev->data, ev->len);
    sd->ctrl_len = (uint8_t)(sd->ctrl_len + ev->len);
    if (!ev->frame_done)
        return 0;
    size_t n = sd->ctrl_len;
    sd->ctrl_len = 0;
    int rc = handle_control(c, sd->ctrl, n);
    side_release(c);
    return rc;
}

static long feed(ws__conn *c, uint8_t *in, size_t len, bool *paused)
{
    size_t off = 0;
    for (;;) {
        if (c->state == WS__CONN_FAILED)
            return (long)len; /* a failed connection only drains */
        if (c->state == WS__CONN_CLOSED)
            return (long)off;
        size_t used;
        ws__fdec_event ev;
        int r = ws__fdec_feed(&c->rx->dec, in + off, len - off, &used, &ev);
        off += used;
        if (r < 0)
            return ws__conn_fail(c, c->rx->dec.close_code, r);
        if (r == WS__FD_NEED_MORE)
            return (long)off;
        int rc = r == WS__FD_HEADER ? on_header(c) : on_chunk(c, &ev);
        if (rc < 0)
            return rc;
        if (rc > 0) {
            *paused = true; /* by the consumer */
            return (long)off;
        }
    }
}

/* Input is decoded with the receive state on the stack when the conn has
 * none (the input starts at a frame boundary), and that state is kept
 * only if the input ends inside a frame or a message, or a paused
 * message still lives in its buffer. */
long ws__conn_feed(ws__conn *c, uint8_t *in, size_t len)
{
    ws__conn_rx local, *kept = c->rx;
    if (!kept) {
        rx_init(c, &local);
        c->rx = &local;
    }
    bool paused = false;
    long n = feed(c, in, len, &paused);
    ws__conn_rx *r = c->rx;
    /* A paused message's bytes (perhaps in r->msg) stay until the next feed. */
    bool done = c->state == WS__CONN_FAILED || c->state == WS__CONN_CLOSED;
    if (!paused && (done || (!r->in_msg && r->dec.state == WS__FD_HDR && r->dec.hlen == 0))) {
        ws__buf_free(&r->msg);
        c->rx = NULL;
        free(kept);
        return n;
    }
    if (!paused && !r->in_msg)
        ws__buf_free(&r->msg); /* mid-header: no message, so no buffer */
    if (!kept) {
        kept = malloc(sizeof *kept);
        if (!kept) {
            ws__buf_free(&local.msg);
            c->rx = NULL;
            return ws__conn_fail(c, WS_CLOSE_INTERNAL_ERROR, WS_ENOMEM);
        }
        *kept = local;
        c->rx = kept;
    }
    return n;
}

int ws__conn_send_frame(ws__conn *c, bool fin, uint8_t rsv, uint8_t opcode, const void *data,
                        size_t len)
{
    if (c->state != WS__CONN_OPEN)
        return WS_ECLOSED;
    if (WS__IS_CONTROL(opcode) && (len > WS__MAX_CONTROL_PAYLOAD || !fin))
        return WS_EINVAL;
    return write_frame(c, fin, rsv, opcode, data, len);
}

bool ws__conn_sends_verbatim(const ws__conn *c)
{
    const ws__conn_xform *x = xform_of(c);
    return !(x && x->encode) && !c->cfg->mask_outgoing && !c->cfg->fragment_size;
}

int ws__conn_send(ws__conn *c, uint8_t opcode, const void *data, size_t len)
{
    if (c->state != WS__CONN_OPEN)
        return WS_ECLOSED;
    const uint8_t *p = data;
    uint8_t rsv = 0;
    const ws__conn_xform *x = xform_of(c);
    if (x && x->encode) {
        ws__buf *b = xform_bufs(c);
        if (!b)
            return WS_ENOMEM;
        ws__buf_reset(&b[1]);
        int rc = x->encode(x->st, opcode, p, len, &b[1], &rsv);
        if (rc < 0)
            return rc;
        if (rc == 1) {
            p = b[1].data;
            len = b[1].len;
        }
    }
    size_t frag = c->cfg->fragment_size;
    if (frag == 0 || len <= frag)
        return write_frame(c, true, rsv, opcode, p, len);
    for (size_t off = 0; off < len; off += frag) {
        size_t n = len - off < frag ? len - off : frag;
        int rc = write_frame(c, off + n == len, off ? 0 : rsv, off ? WS__OP_CONT : opcode, p + off, n);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int ws__conn_flush_pong(ws__conn *c)
{
    if (!c->pong_pending || c->state != WS__CONN_OPEN)
        return 0;
    c->pong_pending = false;
    int rc = write_frame(c, true, 0, WS__OP_PONG, c->side->pong, c->side->pong_len);
    side_release(c);
    return rc;
}

int ws__conn_ping(ws__conn *c, const void *data, size_t len)
{
    return ws__conn_send_frame(c, true, 0, WS__OP_PING, data, len);
}

int ws__conn_close(ws__conn *c, uint16_t code, const char *reason, size_t len)
{
    if (c->state != WS__CONN_OPEN)
        return WS_ECLOSED;
    if (code && !ws_close_code_valid(code))
        return WS_EINVAL;
    if (reason && !ws__utf8_valid((const uint8_t *)reason, len))
        return WS_EUTF8;
    c->state = WS__CONN_CLOSE_SENT;
    return send_close(c, code, reason, len);
}
