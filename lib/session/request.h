/* SPDX-License-Identifier: MIT */
/* The request facts a session keeps: a copy of the head and a compact
 * header index into it. */
#ifndef WS_SESSION_REQUEST_H
#define WS_SESSION_REQUEST_H

#include <stddef.h>

#include "proto/http_parser.h"
#include "wschat/request.h"

struct ws_request {
    char *head;      /* the request head, owned */
    char *path;      /* NUL-terminated copy of the path */
    ws__slice query; /* into head */
    ws__http_header *headers;
    size_t nheaders;
    const char *peer; /* the session's peer string */
};

/* Copies what it needs from a parsed request (whose slices point into
 * head_src). Returns 0 or WS_ENOMEM. */
int ws__request_init(ws_request *r, const ws__http_request *req, const char *head_src,
                     size_t head_len, const char *peer);
/* A client session's facts: the 101 response's headers (slices into
 * head_src), the URL's path and query. Returns 0 or WS_ENOMEM. */
int ws__request_init_response(ws_request *r, const ws__http_response *resp, const char *head_src,
                              size_t head_len, const char *path, const char *query,
                              const char *peer);
void ws__request_free(ws_request *r);

/* Percent-decodes (and '+' to space when form is set) into out[cap].
 * Returns the decoded length, or -1 on a bad escape or a short buffer. */
long ws__percent_decode(const char *s, size_t n, char *out, size_t cap, int form);

#endif
