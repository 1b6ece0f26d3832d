/* SPDX-License-Identifier: MIT */
/* Sec-WebSocket-Extensions parser (RFC 6455 9.1): a list of extensions, each
 * with parameters whose values are tokens or quoted strings. One pass, linear
 * in the input; quoted values are unescaped into a caller scratch buffer. */
#ifndef WS_PROTO_EXT_OFFER_H
#define WS_PROTO_EXT_OFFER_H

#include <stddef.h>

#include "proto/http_parser.h"

#define WS__EXT_MAX_PARAMS 16
#define WS__EXT_MAX_OFFERS 16

typedef struct ws__ext_param {
    ws__slice name;
    ws__slice value;   /* p == NULL when the parameter has no value */
} ws__ext_param;

typedef struct ws__ext_offer {
    ws__slice name;
    size_t nparams;
    ws__ext_param params[WS__EXT_MAX_PARAMS];
} ws__ext_offer;

/* Parses s[0..n) appending to offers (capacity max, *count in/out). scratch
 * must hold n bytes. Returns 0, or -1 if the header is malformed or holds
 * more offers or parameters than the limits. */
int ws__ext_offer_parse(const char *s, size_t n, char *scratch, ws__ext_offer *offers, size_t max,
                        size_t *count);

#endif
