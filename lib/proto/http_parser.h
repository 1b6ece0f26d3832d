/* SPDX-License-Identifier: MIT */
/* HTTP/1.1 request- and response-head parser (RFC 9112). Slices point into the caller's
 * buffer; nothing is allocated. It is incremental in the picohttpparser sense:
 * call it again with more bytes and `*scanned` lets it resume the search for
 * the end of the head instead of re-reading everything. */
#ifndef WS_PROTO_HTTP_PARSER_H
#define WS_PROTO_HTTP_PARSER_H

#include <stddef.h>

#define WS__HTTP_MAX_HEADERS 128

typedef struct ws__slice {
    const char *p;
    size_t n;
} ws__slice;

typedef struct ws__http_header {
    ws__slice name;
    ws__slice value;
} ws__http_header;

typedef struct ws__http_request {
    ws__slice method;
    ws__slice target;     /* path and query as sent */
    ws__slice path;       /* target up to '?' */
    ws__slice query;      /* after '?', without it */
    int minor_version;
    size_t nheaders;
    ws__http_header headers[WS__HTTP_MAX_HEADERS];
} ws__http_request;

/* A response head (the client side of the handshake). */
typedef struct ws__http_response {
    int minor_version;
    int status;       /* 100-999 */
    ws__slice reason; /* the reason phrase, possibly empty */
    size_t nheaders;
    ws__http_header headers[WS__HTTP_MAX_HEADERS];
} ws__http_response;

typedef struct ws__http_limits {
    size_t max_head_bytes;  /* 431 past it */
    size_t max_headers;     /* 431 past it; at most WS__HTTP_MAX_HEADERS */
    size_t max_target;      /* 414 past it */
} ws__http_limits;

/* Returns the length of the complete head (> 0), 0 if more bytes are needed,
 * or minus the HTTP status to answer (-400, -414, -431). */
int ws__http_parse(const char *buf, size_t len, size_t *scanned, const ws__http_limits *lim,
                   ws__http_request *req);

/* Parses a response head, incrementally like ws__http_parse. Returns the
 * head's length (> 0), 0 if more bytes are needed, WS_EHTTP for anything
 * that is not an HTTP/1.x response head, or WS_ETOOBIG past the limits
 * (max_head_bytes, max_headers). */
int ws__http_parse_response(const char *buf, size_t len, size_t *scanned,
                            const ws__http_limits *lim, ws__http_response *resp);

/* Case-insensitive comparisons on slices. */
int ws__slice_ieq(ws__slice s, const char *lit);
/* Finds the index-th header named `name` (case-insensitive); NULL if none. */
const ws__http_header *ws__http_find(const ws__http_request *req, const char *name, size_t index);
/* 1 if some header `name` holds `token` in its comma-separated list. */
int ws__http_has_token(const ws__http_request *req, const char *name, const char *token);
/* The same two over any header array (a response's). */
const ws__http_header *ws__headers_find(const ws__http_header *v, size_t n, const char *name,
                                        size_t index);
int ws__headers_have_token(const ws__http_header *v, size_t n, const char *name, const char *token);

#endif
