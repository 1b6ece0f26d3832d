/* SPDX-License-Identifier: MIT */
#include "proto/url.h"
#include "wschat/error.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static bool host_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

static bool v6_char(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' ||
           c == '.';
}

/* What may stand in a request target: visible ASCII but '#' (a fragment).
 * Bytes above 0x7E must be percent-encoded by the caller. */
static bool target_char(unsigned char c) { return c > 0x20 && c < 0x7F && c != '#'; }

static int parse_host(const char *p, const char **end, ws__url *u)
{
    if (*p == '[') {
        const char *s = ++p;
        while (v6_char((unsigned char)*p))
            p++;
        if (*p != ']' || p == s || (size_t)(p - s) > 45)
            return WS_EINVAL;
        u->host = (ws__slice){s, (size_t)(p - s)};
        u->ipv6 = true;
        *end = p + 1;
        return 0;
    }
    const char *s = p;
    while (host_char((unsigned char)*p))
        p++;
    if (p == s || (size_t)(p - s) > WS__URL_MAX_HOST)
        return WS_EINVAL;
    u->host = (ws__slice){s, (size_t)(p - s)};
    *end = p;
    return 0;
}

int ws__url_parse(const char *url, ws__url *u)
{
    memset(u, 0, sizeof *u);
    if (!url)
        return WS_EINVAL;
    const char *p;
    if (strncasecmp(url, "ws://", 5) == 0) {
        p = url + 5;
    } else if (strncasecmp(url, "wss://", 6) == 0) {
        p = url + 6;
        u->tls = true;
    } else {
        return WS_EINVAL;
    }
    if (parse_host(p, &p, u) < 0)
        return WS_EINVAL;
    u->port = u->tls ? 443 : 80;
    u->default_port = true;
    if (*p == ':') {
        long port = 0;
        const char *s = ++p;
        while (*p >= '0' && *p <= '9' && p - s < 6)
            port = port * 10 + (*p++ - '0');
        if (p == s || port < 1 || port > 65535)
            return WS_EINVAL;
        u->port = (int)port;
        u->default_port = false;
    }
    if (*p == '\0') {
        u->target = u->path = (ws__slice){"/", 1};
        u->query = (ws__slice){"", 0};
        return 0;
    }
    if (*p != '/' && *p != '?') /* user info, a bad port, a bad host character */
        return WS_EINVAL;
    const char *t = p;
    while (target_char((unsigned char)*p))
        p++;
    if (*p != '\0')
        return WS_EINVAL; /* a fragment, a space, a control character */
    u->target = (ws__slice){t, (size_t)(p - t)};
    const char *q = memchr(t, '?', u->target.n);
    u->path = q ? (ws__slice){t, (size_t)(q - t)} : u->target;
    u->query = q ? (ws__slice){q + 1, (size_t)(p - q - 1)} : (ws__slice){p, 0};
    if (u->path.n == 0) /* "ws://h?x": the path is "/", the target must say so */
        return WS_EINVAL;
    return 0;
}

int ws__url_host_header(const ws__url *u, char *out, size_t cap)
{
    int n;
    const char *l = u->ipv6 ? "[" : "", *r = u->ipv6 ? "]" : "";
    if (u->default_port)
        n = snprintf(out, cap, "%s%.*s%s", l, (int)u->host.n, u->host.p, r);
    else
        n = snprintf(out, cap, "%s%.*s%s:%d", l, (int)u->host.n, u->host.p, r, u->port);
    return n < 0 || (size_t)n >= cap ? -1 : n;
}
