/* SPDX-License-Identifier: MIT */
/* examples/chat-client: the terminal chat client of the Ktor tutorial, in C.
 *
 *   chat-client [URL] [--name NAME] [--reconnect]
 *
 * Connects to URL (default ws://127.0.0.1:8080/chat, the tutorial's
 * address), prints every text message it receives on a line of its own and
 * sends every line typed. "exit" (any case) or the end of input closes with
 * 1000 and prints "Connection closed. Goodbye!", as Ktor's client does.
 * When the server closes, the code and reason are printed, and the exit
 * status is 0 only for 1000. --reconnect retries an abnormal close with
 * exponential backoff and jitter. Pings are answered while the user types:
 * the terminal is just another fd on the client's loop. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <wschat.h>

#include "terminal.h"

#define BACKOFF_MIN_MS 500
#define BACKOFF_MAX_MS 30000

typedef struct chat {
    ws_client *cl;
    terminal *term;
    ws_timer *retry;
    ws_extension *pmd;
    char url[2048];
    bool reconnect;
    bool verbose;
    ws_tls_options tls; /* wss://: --cafile */
    bool leaving;       /* the user typed exit or ^D */
    bool open;
    ws_session_id id;
    unsigned attempt; /* consecutive failures, for the backoff */
    unsigned seed;
    int status; /* the process's exit status */
} chat;

static void usage(int code)
{
    fprintf(code ? stderr : stdout,
            "usage: chat-client [URL] [--name NAME] [--reconnect] [--cafile FILE] [--no-deflate]\n"
            "                   [--verbose]\n"
            "  URL          ws:// or wss://HOST[:PORT]/PATH (default ws://127.0.0.1:8080/chat)\n"
            "  --cafile F   wss://: trust the certificates in F (default: the system's store)\n"
            "  --name NAME  join with this name (1-32 letters, digits, '_' or '-')\n"
            "  --reconnect  on an abnormal close, reconnect with exponential backoff\n"
            "  --no-deflate do not offer permessage-deflate\n"
            "  Type a line to send it; 'exit' or ^D quits.\n");
    exit(code);
}

static bool name_ok(const char *n)
{
    size_t len = strlen(n);
    if (len == 0 || len > 32)
        return false;
    for (; *n; n++)
        if (!((*n >= 'a' && *n <= 'z') || (*n >= 'A' && *n <= 'Z') || (*n >= '0' && *n <= '9') ||
              *n == '_' || *n == '-'))
            return false;
    return true;
}

static void connect_now(chat *c);

static void quit(chat *c, int status)
{
    c->status = status;
    ws_client_stop(c->cl);
}

static void schedule_retry(chat *c, const char *why)
{
    unsigned shift = c->attempt < 6 ? c->attempt : 6;
    unsigned base = BACKOFF_MIN_MS << shift;
    if (base > BACKOFF_MAX_MS)
        base = BACKOFF_MAX_MS;
    /* Jitter (50-100% of the step), so that clients a restart dropped
     * together do not come back together. */
    unsigned ms = base / 2 + (unsigned)(rand_r(&c->seed) % (base / 2 + 1));
    c->attempt++;
    terminal_print(c->term, "%s; reconnecting in %.1f s...", why, ms / 1000.0);
    ws_timer_start(c->retry, ms, 0);
}

/* --- the session ------------------------------------------------------------ */

static void on_open(ws_session *s, void *app)
{
    chat *c = app;
    c->open = true;
    c->attempt = 0;
    c->id = ws_session_get_id(s);
    if (c->verbose)
        terminal_print(c->term, "* connected to %s", c->url);
    terminal_resume(c->term);
}

static void on_message(ws_session *s, const ws_msg *m, void *app)
{
    chat *c = app;
    (void)s;
    if (m->type == WS_MSG_TEXT)
        terminal_print(c->term, "%s", (const char *)m->data);
}

static void on_close(ws_session *s, const ws_close_reason *r, void *app)
{
    chat *c = app;
    (void)s;
    c->open = false;
    terminal_pause(c->term);
    if (c->leaving || r->cause == WS_CAUSE_LOCAL || r->cause == WS_CAUSE_SHUTDOWN) {
        terminal_print(c->term, "Connection closed. Goodbye!");
        quit(c, 0);
        return;
    }
    char why[200];
    if (r->cause == WS_CAUSE_PEER)
        snprintf(why, sizeof why, "Connection closed by the server: %u%s%s", r->code,
                 r->reason[0] ? " " : "", r->reason);
    else
        snprintf(why, sizeof why, "Connection lost: %s", r->reason);
    bool normal = r->cause == WS_CAUSE_PEER && r->code == WS_CLOSE_NORMAL;
    if (c->reconnect && !normal) {
        schedule_retry(c, why);
        return;
    }
    terminal_print(c->term, "%s", why);
    quit(c, normal ? 0 : 1);
}

static void on_fail(ws_session_id id, const ws_close_reason *r, void *app)
{
    chat *c = app;
    (void)id;
    char why[2300];
    snprintf(why, sizeof why, "Cannot connect to %s: %s", c->url, r->reason);
    if (c->reconnect && r->err != WS_ECLOSED) {
        schedule_retry(c, why);
        return;
    }
    terminal_print(c->term, "%s", why);
    quit(c, 1);
}

static void connect_now(chat *c)
{
    const ws_extension *exts[] = {c->pmd};
    ws_connect_options o = {.on_fail = on_fail,
                            .extensions = exts,
                            .nextensions = c->pmd ? 1 : 0,
                            .tls = c->tls.ca_file ? &c->tls : NULL};
    ws_event_callbacks cb = {.on_open = on_open, .on_message = on_message, .on_close = on_close};
    int rc = ws_connect_events(c->cl, c->url, &o, &cb, c, NULL);
    if (rc) {
        terminal_print(c->term, "Cannot connect to %s: %s", c->url, ws_strerror(rc));
        quit(c, 2);
    }
}

static void on_retry(ws_timer *t, void *ud)
{
    (void)t;
    connect_now(ud);
}

/* --- the terminal -------------------------------------------------------------- */

static void on_line(const char *line, void *ud)
{
    chat *c = ud;
    if (c->leaving)
        return;
    if (!line || strcasecmp(line, "exit") == 0) { /* ^D, or the tutorial's word */
        c->leaving = true;
        terminal_pause(c->term);
        if (!c->open || ws_client_close_session(c->cl, c->id, WS_CLOSE_NORMAL, NULL) < 0) {
            terminal_print(c->term, "Connection closed. Goodbye!");
            quit(c, 0);
        }
        return;
    }
    if (!*line || !c->open)
        return;
    int rc = ws_client_send(c->cl, c->id, false, line, strlen(line));
    if (rc)
        terminal_print(c->term, "* not sent: %s", ws_strerror(rc));
}

static void log_line(ws_log_level level, const char *msg, void *ud)
{
    chat *c = ud;
    if (c->term)
        terminal_print(c->term, "[%s] %s", level == WS_LOG_DEBUG ? "debug" : "info", msg);
}

int main(int argc, char **argv)
{
    chat c = {.seed = (unsigned)time(NULL) ^ (unsigned)clock()};
    const char *url = "ws://127.0.0.1:8080/chat", *name = NULL, *backend = NULL;
    bool deflate = true;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
            usage(0);
        else if (strcmp(a, "--name") == 0 && i + 1 < argc)
            name = argv[++i];
        else if (strcmp(a, "--cafile") == 0 && i + 1 < argc)
            c.tls.ca_file = argv[++i];
        else if (strcmp(a, "--backend") == 0 && i + 1 < argc)
            backend = argv[++i];
        else if (strcmp(a, "--reconnect") == 0)
            c.reconnect = true;
        else if (strcmp(a, "--no-deflate") == 0)
            deflate = false;
        else if (strcmp(a, "--verbose") == 0)
            c.verbose = true;
        else if (a[0] != '-')
            url = a;
        else
            usage(2);
    }
    if (name && !name_ok(name)) {
        fprintf(stderr, "chat-client: names are 1-32 letters, digits, '_' or '-'\n");
        return 2;
    }
    snprintf(c.url, sizeof c.url, "%s%s%s%s", url, name ? (strchr(url, '?') ? "&" : "?") : "",
             name ? "name=" : "", name ? name : "");
    int err;
    ws_config cfg = {.backend = backend,
                     .log = c.verbose ? log_line : NULL,
                     .log_ud = &c,
                     .log_level = WS_LOG_DEBUG};
    c.cl = ws_client_new(&cfg, &err);
    if (!c.cl) {
        fprintf(stderr, "chat-client: %s\n", ws_strerror(err));
        return 2;
    }
    c.pmd = deflate ? ws_deflate_new(NULL, NULL) : NULL;
    ws_loop *l = ws_client_loop(c.cl, 0);
    c.retry = ws_timer_new(l, on_retry, &c);
    c.term = terminal_open(l, on_line, &c);
    if (!c.term || !c.retry) {
        ws_client_free(c.cl);
        return 2;
    }
    terminal_pause(c.term); /* typed lines wait until the session is open */
    connect_now(&c);
    ws_client_run(c.cl);
    terminal_close(c.term);
    ws_timer_free(c.retry);
    ws_client_free(c.cl);
    ws_deflate_free(c.pmd);
    return c.status;
}
