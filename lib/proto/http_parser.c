/* SPDX-License-Identifier: MIT */
#include "proto/http_parser.h"

#include <string.h>
#include <strings.h>

static int is_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return 1;
    return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static int is_value_char(unsigned char c) { return c == '\t' || (c >= 0x20 && c != 0x7F); }

/* Looks for CRLFCRLF from where the last call stopped. Also rejects a request
 * whose first bytes cannot be a method, so garbage gets its 400 at once
 * instead of waiting for the head limit or the handshake timeout. */
static long find_end(const char *buf, size_t len, size_t *scanned)
{
    size_t i = *scanned > 3 ? *scanned - 3 : 0;
    for (size_t k = 0; k < len && k < 32 && buf[k] != ' '; k++)
        if (!is_tchar((unsigned char)buf[k]))
            return -400;
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

int ws__http_parse(const char *buf, size_t len, size_t *scanned, const ws__http_limits *lim,
                   ws__http_request *req)
{
    long end = find_end(buf, len, scanned);
    if (end < 0)
        return (int)end;
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
    req->nheaders = 0;
    size_t max = lim->max_headers < WS__HTTP_MAX_HEADERS ? lim->max_headers : WS__HTTP_MAX_HEADERS;
    for (p = eol + 2; p < stop; p = eol + 2) {
        eol = memchr(p, '\r', (size_t)(stop - p));
        if (!eol || eol[1] != '\n')
            return -400; /* bare CR inside the head */
        if (req->nheaders == max)
            return -431;
        if ((rc = parse_header(p, eol, &req->headers[req->nheaders])) != 0)
            return rc;
        req->nheaders++;
    }
    return (int)end;
}

int ws__slice_ieq(ws__slice s, const char *lit)
{
    size_t n = strlen(lit);
    return s.n == n && strncasecmp(s.p, lit, n) == 0;
}

const ws__http_header *ws__http_find(const ws__http_request *req, const char *name, size_t index)
{
    for (size_t i = 0; i < req->nheaders; i++)
        if (ws__slice_ieq(req->headers[i].name, name) && index-- == 0)
            return &req->headers[i];
    return NULL;
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

int ws__http_has_token(const ws__http_request *req, const char *name, const char *token)
{
    const ws__http_header *h;
    for (size_t i = 0; (h = ws__http_find(req, name, i)) != NULL; i++)
        if (list_has(h->value, token))
            return 1;
    return 0;
}
