/* SPDX-License-Identifier: MIT */
#include "proto/http_parser.h"
#include "wschat/error.h"

#include <string.h>
#include <strings.h>

static int is_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return 1;
    return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static int is_value_char(unsigned char c) { return c == '\t' || (c >= 0x20 && c != 0x7F); }

/* Looks for CRLFCRLF from where the last call stopped. */
static long find_end(const char *buf, size_t len, size_t *scanned)
{
    size_t i = *scanned > 3 ? *scanned - 3 : 0;
    for (; i + 4 <= len; i++) {
        const char *p = memchr(buf + i, '\r', len - i);
        if (!p)
            break;
        i = (size_t)(p - buf);
        if (i + 4 <= len && memcmp(p, "\r\n\r\n", 4) == 0)
            return (long)(i + 4);
    }
    *scanned = len;
    return 0;
}

static int parse_request_line(const char *p, const char *eol, const ws__http_limits *lim,
                              ws__http_request *req)
{
    const char *s = p;
    while (s < eol && is_tchar((unsigned char)*s))
        s++;
    if (s == p || s == eol || *s != ' ')
        return -400;
    req->method = (ws__slice){p, (size_t)(s - p)};
    const char *t = ++s;
    while (s < eol && (unsigned char)*s > 0x20 && (unsigned char)*s < 0x7F)
        s++;
    if (s == t || s == eol || *s != ' ')
        return -400;
    req->target = (ws__slice){t, (size_t)(s - t)};
    if (req->target.n > lim->max_target)
        return -414;
    const char *q = memchr(t, '?', req->target.n);
    req->path = (ws__slice){t, q ? (size_t)(q - t) : req->target.n};
    req->query = q ? (ws__slice){q + 1, (size_t)(s - q - 1)} : (ws__slice){s, 0};
    s++;
    if (eol - s != 8 || memcmp(s, "HTTP/1.", 7) != 0 || s[7] < '0' || s[7] > '9')
        return -400;
    req->minor_version = s[7] - '0';
    return 0;
}

static int parse_header(const char *p, const char *eol, ws__http_header *h)
{
    const char *s = p;
    while (s < eol && is_tchar((unsigned char)*s))
        s++;
    /* No name, whitespace before the colon, or an obs-fold continuation. */
    if (s == p || s == eol || *s != ':')
        return -400;
    h->name = (ws__slice){p, (size_t)(s - p)};
    s++;
    while (s < eol && (*s == ' ' || *s == '\t'))
        s++;
    const char *e = eol;
    while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    for (const char *c = s; c < e; c++)
        if (!is_value_char((unsigned char)*c))
            return -400;
    h->value = (ws__slice){s, (size_t)(e - s)};
    return 0;
}

/* The header lines from p to stop (the head's final CRLF excluded).
 * Returns 0, -400 (malformed) or -431 (too many). */
static int parse_headers(const char *p, const char *stop, const ws__http_limits *lim,
                         ws__http_header *v, size_t *n)
{
    *n = 0;
    size_t max = lim->max_headers < WS__HTTP_MAX_HEADERS ? lim->max_headers : WS__HTTP_MAX_HEADERS;
    for (const char *eol; p < stop; p = eol + 2) {
        eol = memchr(p, '\r', (size_t)(stop - p));
        if (!eol || eol[1] != '\n')
            return -400; /* bare CR inside the head */
        if (*n == max)
            return -431;
        int rc = parse_header(p, eol, &v[*n]);
        if (rc)
            return rc;
        (*n)++;
    }
    return 0;
}

int ws__http_parse(const char *buf, size_t len, size_t *scanned, const ws__http_limits *lim,
                   ws__http_request *req)
{
    /* A request whose first bytes cannot be a method is garbage: it gets
     * its 400 at once instead of waiting for the head limit or the
     * handshake timeout. */
    for (size_t k = 0; k < len && k < 32 && buf[k] != ' '; k++)
        if (!is_tchar((unsigned char)buf[k]))
            return -400;
    long end = find_end(buf, len, scanned);
    if (end == 0)
        return len > lim->max_head_bytes ? -431 : 0;
    if ((size_t)end > lim->max_head_bytes)
        return -431;
    const char *p = buf, *stop = buf + end - 2;
    const char *eol = memchr(p, '\r', (size_t)(stop - p));
    if (!eol || eol[1] != '\n')
        return -400;
    int rc = parse_request_line(p, eol, lim, req);
    if (rc)
        return rc;
    return (rc = parse_headers(eol + 2, stop, lim, req->headers, &req->nheaders)) ? rc : (int)end;
}

/* "HTTP/1.x SSS reason": three digits, then a space and any reason
 * phrase (RFC 9112 4: the space is required, the phrase may be empty). */
static int parse_status_line(const char *p, const char *eol, ws__http_response *r)
{
    if (eol - p < 12 || memcmp(p, "HTTP/1.", 7) != 0 || p[7] < '0' || p[7] > '9' || p[8] != ' ')
        return WS_EHTTP;
    for (int i = 9; i < 12; i++)
        if (p[i] < '0' || p[i] > '9')
            return WS_EHTTP;
    if (eol - p > 12 && p[12] != ' ')
        return WS_EHTTP;
    r->minor_version = p[7] - '0';
    r->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
    if (r->status < 100)
        return WS_EHTTP;
    const char *s = eol - p > 12 ? p + 13 : eol;
    for (const char *c = s; c < eol; c++)
        if (!is_value_char((unsigned char)*c))
            return WS_EHTTP;
    r->reason = (ws__slice){s, (size_t)(eol - s)};
    return 0;
}

int ws__http_parse_response(const char *buf, size_t len, size_t *scanned,
                            const ws__http_limits *lim, ws__http_response *resp)
{
    /* Garbage fails as soon as it cannot be "HTTP/", not at the limit. */
    size_t k = len < 5 ? len : 5;
    if (memcmp(buf, "HTTP/", k) != 0)
        return WS_EHTTP;
    long end = find_end(buf, len, scanned);
    if (end == 0)
        return len > lim->max_head_bytes ? WS_ETOOBIG : 0;
    if ((size_t)end > lim->max_head_bytes)
        return WS_ETOOBIG;
    const char *stop = buf + end - 2;
    const char *eol = memchr(buf, '\r', (size_t)(stop - buf));
    if (!eol || eol[1] != '\n')
        return WS_EHTTP;
    int rc = parse_status_line(buf, eol, resp);
    if (rc)
        return rc;
    rc = parse_headers(eol + 2, stop, lim, resp->headers, &resp->nheaders);
    return rc == -431 ? WS_ETOOBIG : rc ? WS_EHTTP : (int)end;
}

int ws__slice_ieq(ws__slice s, const char *lit)
{
    size_t n = strlen(lit);
    return s.n == n && strncasecmp(s.p, lit, n) == 0;
}

const ws__http_header *ws__headers_find(const ws__http_header *v, size_t n, const char *name,
                                        size_t index)
{
    for (size_t i = 0; i < n; i++)
        if (ws__slice_ieq(v[i].name, name) && index-- == 0)
            return &v[i];
    return NULL;
}

const ws__http_header *ws__http_find(const ws__http_request *req, const char *name, size_t index)
{
    return ws__headers_find(req->headers, req->nheaders, name, index);
}

static int list_has(ws__slice v, const char *token)
{
    const char *p = v.p, *end = v.p + v.n;
    while (p < end) {
        const char *c = memchr(p, ',', (size_t)(end - p));
        const char *e = c ? c : end;
        const char *s = p;
        while (s < e && (*s == ' ' || *s == '\t'))
            s++;
        const char *t = e;
        while (t > s && (t[-1] == ' ' || t[-1] == '\t'))
            t--;
        if (ws__slice_ieq((ws__slice){s, (size_t)(t - s)}, token))
            return 1;
        p = e + 1;
    }
    return 0;
}

int ws__headers_have_token(const ws__http_header *v, size_t n, const char *name, const char *token)
{
    const ws__http_header *h;
    for (size_t i = 0; (h = ws__headers_find(v, n, name, i)) != NULL; i++)
        if (list_has(h->value, token))
            return 1;
    return 0;
}

int ws__http_has_token(const ws__http_request *req, const char *name, const char *token)
{
    return ws__headers_have_token(req->headers, req->nheaders, name, token);
}
