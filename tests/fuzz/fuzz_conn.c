/* SPDX-License-Identifier: MIT */
/* libFuzzer target: the frame decoder and connection engine on arbitrary
 * client bytes, in chunks whose sizes come from the input itself. Checks
 * invariants: output stays bounded, no message beyond the limit is ever
 * delivered, text messages are valid UTF-8. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/conn.h"
#include "proto/utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_MSG 4096

/* The engine hands its callbacks the conn: the sink is found around it. */
typedef struct sink {
    ws__conn c;
    size_t out;
    bool frame_mode;
    uint8_t op;              /* frame mode: opcode of the message in progress */
    uint8_t acc[MAX_MSG];    /* frame mode: the message so far */
    size_t acc_len;
} sink;

static int on_message(void *ud, uint8_t op, bool fin, uint8_t *p, size_t n)
{
    sink *s = ud;
    if (n > MAX_MSG)
        abort();
    if (!s->frame_mode) {
        if (op == 1 && !ws__utf8_valid(p, n))
            abort();
        return 0;
    }
    /* Frames of a text message may split a character; only the whole
     * message has to be valid UTF-8. */
    if (op != 0) {
        s->op = op;
        s->acc_len = 0;
    }
    if (s->acc_len + n > MAX_MSG)
        abort();
    memcpy(s->acc + s->acc_len, p, n);
    s->acc_len += n;
    if (fin && s->op == 1 && !ws__utf8_valid(s->acc, s->acc_len))
        abort();
    return 0;
}

static int on_write(void *ud, const uint8_t *h, size_t hl, const uint8_t *p, size_t pl,
                    const uint8_t *mask)
{
    sink *s = ud;
    (void)h;
    (void)p;
    (void)mask;
    s->out += hl + pl;
    return s->out > (1u << 20) ? -12 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    static sink s;
    memset(&s, 0, sizeof s);
    s.frame_mode = (data[0] & 1) != 0;
    static const ws__conn_cb cb = {on_message, NULL, NULL, on_write, NULL, NULL};
    ws__conn_config cfg = {
        .cb = &cb, .max_frame = MAX_MSG, .max_message = MAX_MSG, .frame_mode = (data[0] & 1) != 0};
    ws__conn *c = &s.c;
    ws__conn_init(c, &cfg);
    size_t step = (size_t)(data[0] >> 1) + 1;
    const uint8_t *p = data + 1;
    size_t left = size - 1;
    while (left > 0) {
        size_t n = left < step ? left : step;
        uint8_t *chunk = malloc(n + 1);
        memcpy(chunk, p, n);
        long r = ws__conn_feed(c, chunk, n);
        free(chunk);
        if (r < 0 || c->state == WS__CONN_CLOSED)
            break;
        p += n;
        left -= n;
    }
    ws__conn_free(c);
    return 0;
}
