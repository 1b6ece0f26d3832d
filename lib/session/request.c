/* SPDX-License-Identifier: MIT */
/* Request facts: path, query parameters, headers, cookies, peer. */
#include "session/request.h"
#include "wschat/error.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

int ws__request_init(ws_request *r, const ws__http_request *req, const char *head_src,
                     size_t head_len, const char *peer)
{
    memset(r, 0, sizeof *r);
    r->peer = peer;
    r->head = malloc(head_len + 1);
    r->path = malloc(req->path.n + 1);
    r->headers = malloc((req->nheaders ? req->nheaders : 1) * sizeof *r->headers);
    if (!r->head || !r->path || !r->headers) {
        ws__request_free(r);
        return WS_ENOMEM;
    }
    memcpy(r->head, head_src, head_len);
    r->head[head_len] = '\0';
    memcpy(r->path, req->path.p, req->path.n);
    r->path[req->path.n] = '\0';
    /* Re-point every slice from the parse buffer into our copy. */
#define REBASE(s) ((ws__slice){r->head + ((s).p - head_src), (s).n})
    r->query = REBASE(req->query);
    for (size_t i = 0; i < req->nheaders; i++) {
        r->headers[i].name = REBASE(req->headers[i].name);
        r->headers[i].value = REBASE(req->headers[i].value);
    }
#undef REBASE
    r->nheaders = req->nheaders;
    return 0;
}

int ws__request_init_response(ws_request *r, const ws__http_response *resp, const char *head_src,
                              size_t head_len, const char *path, const char *query,
                              const char *peer)
{
    memset(r, 0, sizeof *r);
    r->peer = peer;
    size_t ql = strlen(query);
    /* The query goes after the head copy, so that every slice points into
     * the one buffer, as for a request. */
    r->head = malloc(head_len + ql + 2);
    r->path = strdup(path);
    r->headers = malloc((resp->nheaders ? resp->nheaders : 1) * sizeof *r->headers);
    if (!r->head || !r->path || !r->headers) {
        ws__request_free(r);
        return WS_ENOMEM;
    }
    memcpy(r->head, head_src, head_len);
    r->head[head_len] = '\0';
    memcpy(r->head + head_len + 1, query, ql + 1);
    r->query = (ws__slice){r->head + head_len + 1, ql};
    for (size_t i = 0; i < resp->nheaders; i++) {
        r->headers[i].name = (ws__slice){r->head + (resp->headers[i].name.p - head_src),
                                         resp->headers[i].name.n};
        r->headers[i].value = (ws__slice){r->head + (resp->headers[i].value.p - head_src),
                                          resp->headers[i].value.n};
    }
    r->nheaders = resp->nheaders;
    return 0;
}

void ws__request_free(ws_request *r)
{
    free(r->head);
    free(r->path);
    free(r->headers);
    memset(r, 0, sizeof *r);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

long ws__percent_decode(const char *s, size_t n, char *out, size_t cap, int form)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '%') {
            int hi, lo;
            if (i + 2 >= n || (hi = hexval(s[i + 1])) < 0 || (lo = hexval(s[i + 2])) < 0)
                return -1;
            c = (char)(hi << 4 | lo);
            i += 2;
        } else if (c == '+' && form) {
            c = ' ';
        }
        if (o + 1 >= cap)
            return -1;
        out[o++] = c;
    }
    out[o] = '\0';
    return (long)o;
}

static int copy_out(const char *p, size_t n, char *buf, size_t cap)
{
    if (!buf || cap == 0)
        return WS_EINVAL;
    if (n >= cap) {
        memcpy(buf, p, cap - 1);
        buf[cap - 1] = '\0';
        return WS_ETOOBIG;
    }
    memcpy(buf, p, n);
    buf[n] = '\0';
    return (int)n;
}

const char *ws_request_path(const ws_request *req) { return req ? req->path : NULL; }
const char *ws_request_peer(const ws_request *req) { return req ? req->peer : NULL; }

int ws_request_header(const ws_request *req, const char *name, char *buf, size_t cap)
{
    if (!req || !name)
        return WS_EINVAL;
    for (size_t i = 0; i < req->nheaders; i++)
        if (ws__slice_ieq(req->headers[i].name, name))
            return copy_out(req->headers[i].value.p, req->headers[i].value.n, buf, cap);
    return WS_ENOTFOUND;
}

int ws_request_query(const ws_request *req, const char *name, char *buf, size_t cap)
{
    if (!req || !name || !buf || cap == 0)
        return WS_EINVAL;
    const char *p = req->query.p, *end = p + req->query.n;
    size_t nlen = strlen(name);
    char key[256];
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *e = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(e - p));
        const char *kend = eq ? eq : e;
        long kl = ws__percent_decode(p, (size_t)(kend - p), key, sizeof key, 1);
        if (kl == (long)nlen && memcmp(key, name, nlen) == 0) {
            const char *v = eq ? eq + 1 : e;
            long vl = ws__percent_decode(v, (size_t)(e - v), buf, cap, 1);
            if (vl < 0) {
                buf[0] = '\0';
                return (size_t)(e - v) >= cap ? WS_ETOOBIG : WS_EINVAL;
            }
            return (int)vl;
        }
        p = e + 1;
    }
    return WS_ENOTFOUND;
}

int ws_request_cookie(const ws_request *req, const char *name, char *buf, size_t cap)
{
    if (!req || !name)
        return WS_EINVAL;
    size_t nlen = strlen(name);
    for (size_t i = 0; i < req->nheaders; i++) {
        if (!ws__slice_ieq(req->headers[i].name, "Cookie"))
            continue;
        const char *p = req->headers[i].value.p, *end = p + req->headers[i].value.n;
        while (p < end) {
            while (p < end && (*p == ' ' || *p == ';'))
                p++;
            const char *semi = memchr(p, ';', (size_t)(end - p));
            const char *e = semi ? semi : end;
            const char *eq = memchr(p, '=', (size_t)(e - p));
            if (eq && (size_t)(eq - p) == nlen && memcmp(p, name, nlen) == 0) {
                const char *v = eq + 1;
                size_t vl = (size_t)(e - v);
                if (vl >= 2 && v[0] == '"' && v[vl - 1] == '"') { /* RFC 6265 quoted value */
                    v++;
                    vl -= 2;
                }
                return copy_out(v, vl, buf, cap);
            }
            p = e;
        }
    }
    return WS_ENOTFOUND;
}
