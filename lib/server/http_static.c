/* SPDX-License-Identifier: MIT */
/* Plain HTTP routes and the static-file helper. Files are read whole (up to
 * MAX_STATIC bytes) on the loop thread: meant for a web client's handful of
 * small files, not for bulk downloads. */
#include "server/server_impl.h"
#include "wschat/error.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_STATIC (16u * 1024 * 1024)

struct ws_http_reply {
    ws_session *s;
    bool done;
    bool head_only;
};

int ws_http_respond(ws_http_reply *r, int status, const char *content_type, const void *body,
                    size_t len)
{
    if (!r || (!body && len) || status < 100 || status > 599)
        return WS_EINVAL;
    if (r->done)
        return WS_ESTATE;
    r->done = true;
    ws__session_http_reply(r->s, status, content_type, body, len, r->head_only);
    return 0;
}

const char *ws_http_content_type(const char *name)
{
    static const struct { const char *ext, *type; } types[] = {
        {".html", "text/html; charset=utf-8"}, {".htm", "text/html; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"}, {".mjs", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"}, {".json", "application/json"},
        {".txt", "text/plain; charset=utf-8"}, {".svg", "image/svg+xml"},
        {".png", "image/png"}, {".jpg", "image/jpeg"}, {".jpeg", "image/jpeg"},
        {".gif", "image/gif"}, {".ico", "image/x-icon"}, {".webp", "image/webp"},
        {".wasm", "application/wasm"}, {".woff2", "font/woff2"},
    };
    const char *dot = name ? strrchr(name, '.') : NULL;
    if (dot && !strchr(dot, '/'))
        for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
            if (strcasecmp(dot, types[i].ext) == 0)
                return types[i].type;
    return "application/octet-stream";
}

/* A request path below the prefix is served only if every segment is a
 * plain name: no "..", no hidden files, no backslashes or NULs. */
static bool safe_relative(const char *rel)
{
    if (strchr(rel, '\\'))
        return false;
    const char *p = rel;
    while (*p) {
        if (*p == '/')
            return false; /* empty segment ("//") */
        if (*p == '.')
            return false; /* ".", "..", hidden files */
        const char *slash = strchr(p, '/');
        if (!slash)
            break;
        p = slash + 1;
    }
    return true;
}

static int read_file(const char *path, char **out, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return WS_ENOTFOUND;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size > MAX_STATIC) {
        close(fd);
        return WS_ENOTFOUND;
    }
    char *buf = malloc((size_t)st.st_size + 1);
    size_t got = 0;
    while (buf && got < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    if (!buf || got != (size_t)st.st_size) {
        free(buf);
        return buf ? WS_EIO : WS_ENOMEM;
    }
    *out = buf;
    *len = got;
    return 0;
}

static void serve_static(ws_session *s, const ws__route *r, ws_http_reply *rep)
{
    const char *path = ws_request_path(s->x->req);
    size_t plen = strlen(path);
    const char *rawrel = plen >= r->path_len ? path + r->path_len : "";
    char rel[PATH_MAX];
    long n = ws__percent_decode(rawrel, strlen(rawrel), rel, sizeof rel - 16, 0);
    if (n < 0 || memchr(rel, '\0', (size_t)n) != NULL || !safe_relative(rel)) {
        ws_http_respond(rep, 404, "text/plain; charset=utf-8", "Not Found\n", 10);
        return;
    }
    if (n == 0 || rel[n - 1] == '/')
        strcat(rel, "index.html");
    char full[PATH_MAX], real[PATH_MAX];
    int k = snprintf(full, sizeof full, "%s/%s", r->dir, rel);
    char *body = NULL;
    size_t len = 0;
    /* realpath() catches a symlink inside dir that points out of it. */
    if (k < 0 || (size_t)k >= sizeof full || !realpath(full, real) ||
        strncmp(real, r->dir, strlen(r->dir)) != 0 || real[strlen(r->dir)] != '/' ||
        read_file(real, &body, &len) != 0) {
        ws_http_respond(rep, 404, "text/plain; charset=utf-8", "Not Found\n", 10);
        return;
    }
    ws_http_respond(rep, 200, ws_http_content_type(real), body, len);
    free(body);
}

void ws__http_dispatch(ws_session *s, const ws__route *r, bool head_only)
{
    ws_http_reply rep = {s, false, head_only};
    if (r->kind == WS__ROUTE_STATIC)
        serve_static(s, r, &rep);
    else
        r->http(s->x->req, &rep, r->app);
    if (!rep.done)
        ws__session_http_error(s, 500);
}
