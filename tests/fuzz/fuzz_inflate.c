/* SPDX-License-Identifier: MIT */
/* libFuzzer target: permessage-deflate's decode on arbitrary bytes, through
 * the public extension interface, with a small output limit; then the
 * round trip encode -> decode must give the input back. First input byte:
 * bit 0 picks context takeover, the rest is the message. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ext/ext.h"
#include "wschat/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define LIMIT (64 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    ws_deflate_options o = {.server_context_takeover = data[0] & 1, .min_size = 1};
    ws_extension *e = ws_deflate_new(&o, NULL);
    void *session = NULL;
    char resp[128];
    ws_ext_param p = {"client_max_window_bits", NULL};
    if (!e || e->negotiate(&p, 1, resp, sizeof resp, &session, e->ud) != 0)
        abort();
    ws_ext_buf out, wire, back;
    ws__buf_init(&out.buf, LIMIT);
    ws__buf_init(&wire.buf, 0);
    ws__buf_init(&back.buf, LIMIT);
    /* Arbitrary bytes: any result but a crash, and never past the limit. */
    int rc = e->decode(session, data + 1, size - 1, &out);
    if (out.buf.len > LIMIT || (rc != 0 && rc != WS_ETOOBIG && rc != WS_EPROTO))
        abort();
    /* The round trip (a fresh session: the first may be mid-stream). */
    void *s2 = NULL;
    e->negotiate(&p, 1, resp, sizeof resp, &s2, e->ud);
    unsigned rsv = 0;
    size_t n = size - 1 < LIMIT ? size - 1 : LIMIT;
    rc = e->encode(s2, WS_MSG_BINARY, data + 1, n, &wire, &rsv);
    if (rc == 1) {
        if (rsv != WS_RSV1 || e->decode(s2, wire.buf.data, wire.buf.len, &back) != 0 ||
            back.buf.len != n || memcmp(back.buf.data, data + 1, n) != 0)
            abort();
    } else if (rc != 0) {
        abort();
    }
    e->session_free(session);
    e->session_free(s2);
    ws__buf_free(&out.buf);
    ws__buf_free(&wire.buf);
    ws__buf_free(&back.buf);
    ws_deflate_free(e);
    return 0;
}
