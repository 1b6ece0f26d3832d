/* SPDX-License-Identifier: MIT */
/* WebSocket URIs (RFC 6455 section 3): "ws" or "wss", "://", a host (a name,
 * an IPv4 address or a bracketed IPv6 one), an optional port, a path and
 * an optional query. No user info and no fragment (section 3 forbids it).
 * Anything that could break the request line or a header (spaces, control
 * characters) is refused here, before it reaches the wire. */
#ifndef WS_PROTO_URL_H
#define WS_PROTO_URL_H

#include <stdbool.h>
#include <stddef.h>

#include "proto/http_parser.h"

#define WS__URL_MAX_HOST 253

typedef struct ws__url {
    bool tls;          /* wss:// */
    bool ipv6;         /* the host was a bracketed IPv6 literal */
    bool default_port; /* no port given: 80 or 443 */
    int port;
    ws__slice host;   /* into the URL, without brackets */
    ws__slice target; /* path and query as they go on the request line ("/" if none) */
    ws__slice path;   /* the target up to '?' */
    ws__slice query;  /* after '?', without it (empty if none) */
} ws__url;

/* Parses a NUL-terminated URL. Returns 0, or WS_EINVAL for anything that is
 * not a WebSocket URI as above. Slices point into url (target may point to
 * a static "/"). */
int ws__url_parse(const char *url, ws__url *out);

/* Writes the Host header's value ("host", "host:port", "[v6]:port"; the
 * port only when it is not the scheme's default). Returns the length or -1
 * if cap is too small. */
int ws__url_host_header(const ws__url *u, char *out, size_t cap);

#endif
