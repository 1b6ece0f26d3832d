/* SPDX-License-Identifier: MIT */
/* Extension negotiation and the per-session chain of accepted extensions,
 * plugged into the connection engine as its transform. */
#ifndef WS_EXT_EXT_H
#define WS_EXT_EXT_H

#include <stddef.h>

#include "proto/conn.h"
#include "proto/http_parser.h"
#include "wschat/ext.h"

#define WS__EXT_MAX 4

struct ws_ext_buf {
    ws__buf buf;   /* first member: a ws__buf * and a ws_ext_buf * convert */
};

typedef struct ws__ext_chain {
    size_t n;
    struct {
        const ws_extension *ext;
        void *session;
    } v[WS__EXT_MAX];
    unsigned rsv_mask;
    ws__buf tmp;   /* between two stacked extensions */
    ws__conn_xform xform; /* what the conn calls */
} ws__ext_chain;

/* Negotiates the request's offers against the available extensions (in the
 * client's order). On success *out is the accepted chain (NULL if none) and
 * hdr holds the Sec-WebSocket-Extensions value ("" if none). Returns 0, an
 * HTTP status (400) for an unparsable header or an extension that refused
 * the handshake, or WS_ENOMEM. */
int ws__ext_negotiate(const ws_extension *const *avail, size_t navail, const ws__http_request *req,
                      char *hdr, size_t hdr_cap, ws__ext_chain **out);
/* Client side: the Sec-WebSocket-Extensions offer for these extensions
 * (each's name and offer parameters). Returns 0 (hdr "" if none), WS_EINVAL
 * (an extension without the client half), WS_ENOMEM (too long), or an
 * extension's error. */
int ws__ext_write_offer(const ws_extension *const *exts, size_t n, char *hdr, size_t cap);
/* Client side: checks the server's answer (the response's headers) against
 * what was offered: every extension it names must have been offered, once,
 * with parameters its accept takes. On success *out is the chain in the
 * answer's order (NULL if none). Returns 0, WS_EEXTENSION or WS_ENOMEM. */
int ws__ext_accept(const ws_extension *const *offered, size_t n, const ws__http_header *headers,
                   size_t nheaders, ws__ext_chain **out);
void ws__ext_chain_free(ws__ext_chain *c);
/* Wires the chain into a connection as its transform. */
int ws__ext_chain_attach(ws__ext_chain *c, ws__conn *conn);

#endif
