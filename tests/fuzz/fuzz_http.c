/* SPDX-License-Identifier: MIT */
/* libFuzzer target: the HTTP head parser, the handshake checks and the
 * extension-offer parser on arbitrary bytes, fed whole and then in two parts
 * (the split point comes from the first input byte). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/ext_offer.h"
#include "proto/handshake.h"
#include "proto/http_parser.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void exercise(const ws__http_request *req)
{
    if (ws__handshake_check(req) == 0) {
        char resp[512];
        ws__handshake_response(resp, sizeof resp, req, NULL, NULL);
    }
    static const char *const protos[] = {"chat", "chat.json"};
    ws__handshake_pick_protocol(req, protos, 2);
    const ws__http_header *h;
    for (size_t i = 0; (h = ws__http_find(req, "Sec-WebSocket-Extensions", i)) != NULL; i++) {
        char *scratch = malloc(h->value.n + 1);
        ws__ext_offer offers[WS__EXT_MAX_OFFERS];
        size_t count = 0;
        ws__ext_offer_parse(h->value.p, h->value.n, scratch, offers, WS__EXT_MAX_OFFERS, &count);
        free(scratch);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const ws__http_limits lim = {8192, 64, 4096};
    ws__http_request *req = malloc(sizeof *req);
    /* An exact-size copy, so ASan sees any read past the end. */
    char *buf = malloc(size ? size : 1);
    memcpy(buf, data, size);
    size_t scanned = 0;
    size_t split = size ? data[0] % (size + 1) : 0;
    int r = ws__http_parse(buf, split, &scanned, &lim, req);
    if (r == 0)
        r = ws__http_parse(buf, size, &scanned, &lim, req);
    if (r > 0)
        exercise(req);
    free(buf);
    free(req);
    return 0;
}
