/* SPDX-License-Identifier: MIT */
/* examples/autobahn-client: libwschat's client under an Autobahn
 * TestSuite-compatible fuzzing server.
 *
 *   autobahn-client URL [AGENT] [--style handler|events] [--no-deflate]
 *                   [--cases FIRST-LAST] [--handshake-timeout MS]
 *
 * The fuzzing server's client protocol: URL/getCaseCount answers with the
 * number of cases as a text message; for each case N, URL/runCase?case=N&
 * agent=AGENT is connected and every message is echoed back until the
 * server closes; then URL/updateReports?agent=AGENT. Cases run one after
 * the other, each from the end of the previous one. permessage-deflate is
 * offered unless --no-deflate. A case whose handshake fails (the suite has
 * such cases) is reported and the run goes on. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wschat.h>

typedef struct run {
    ws_client *cl;
    ws_extension *pmd;
    const char *base;
    const char *agent;
    bool events;
    int count;      /* cases the server has, from getCaseCount */
    int next, last; /* the next case to run, and the last one */
    int phase;      /* 0 counting, 1 cases, 2 reports */
    uint32_t handshake_timeout_ms;
    int failures; /* attempts that did not open */
} run;

static void start_next(run *r);

/* --- both handler styles, the same behaviour --------------------------------- */

static void got_message(run *r, ws_session *s, const ws_msg *m)
{
    if (r->phase == 0) {
        r->count = m->type == WS_MSG_TEXT ? atoi((const char *)m->data) : 0;
        return;
    }
    /* Echo as received: same type, same bytes. */
    if (m->type == WS_MSG_TEXT)
        ws_send_text_n(s, (const char *)m->data, m->len);
    else
        ws_send_binary(s, m->data, m->len);
}

static void ended(run *r, const ws_close_reason *why)
{
    if (r->phase == 1)
        printf("case %d: %u %s\n", r->next - 1, why->code, why->reason);
    fflush(stdout);
    start_next(r);
}

static void seq_handler(ws_session *s, void *app)
{
    run *r = app;
    ws_msg m;
    while (ws_recv(s, &m) == WS_OK)
        got_message(r, s, &m);
    /* The session has ended; starting the next one from inside a handler
     * would make it a child of this coroutine's loop turn, which is fine:
     * ws_connect never calls back before it returns. */
    ended(r, ws_session_close_reason(s));
}

static void ev_message(ws_session *s, const ws_msg *m, void *app) { got_message(app, s, m); }
static void ev_close(ws_session *s, const ws_close_reason *why, void *app)
{
    (void)s;
    ended(app, why);
}

static void failed(ws_session_id id, const ws_close_reason *why, void *app)
{
    run *r = app;
    (void)id;
    r->failures++;
    printf("%s%d: handshake failed: %s (%s)\n", r->phase == 1 ? "case " : "phase ",
           r->phase == 1 ? r->next - 1 : r->phase, why->reason, ws_err_name(why->err));
    fflush(stdout);
    if (r->phase == 0) { /* no case count: nothing to run */
        ws_client_stop(r->cl);
        return;
    }
    start_next(r);
}

static void open_url(run *r, const char *path_and_query)
{
    char url[2048];
    snprintf(url, sizeof url, "%s%s", r->base, path_and_query);
    const ws_extension *exts[] = {r->pmd};
    ws_connect_options o = {.extensions = exts,
                            .nextensions = r->pmd ? 1 : 0,
                            .on_fail = failed,
                            .handshake_timeout_ms = r->handshake_timeout_ms};
    int rc;
    if (r->events) {
        ws_event_callbacks cb = {.on_message = ev_message, .on_close = ev_close};
        rc = ws_connect_events(r->cl, url, &o, &cb, r, NULL);
    } else {
        rc = ws_connect(r->cl, url, &o, seq_handler, r, NULL);
    }
    if (rc) {
        fprintf(stderr, "autobahn-client: %s: %s\n", url, ws_strerror(rc));
        ws_client_stop(r->cl);
    }
}

static void start_next(run *r)
{
    char q[512];
    if (r->phase == 0) {
        printf("%d cases\n", r->count);
        r->phase = 1;
        if (!r->last || r->last > r->count)
            r->last = r->count;
    }
    if (r->phase == 1 && r->next <= r->last) {
        snprintf(q, sizeof q, "/runCase?case=%d&agent=%s", r->next++, r->agent);
        open_url(r, q);
        return;
    }
    if (r->phase == 1) {
        r->phase = 2;
        snprintf(q, sizeof q, "/updateReports?agent=%s", r->agent);
        open_url(r, q);
        return;
    }
    ws_client_stop(r->cl); /* the reports are written: done */
}

int main(int argc, char **argv)
{
    run r = {.agent = "libwschat", .next = 1};
    const char *style = "handler";
    bool deflate = true;
    int positional = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--style") == 0 && i + 1 < argc)
            style = argv[++i];
        else if (strcmp(a, "--no-deflate") == 0)
            deflate = false;
        else if (strcmp(a, "--cases") == 0 && i + 1 < argc &&
                 sscanf(argv[i + 1], "%d-%d", &r.next, &r.last) >= 1)
            i++;
        else if (strcmp(a, "--handshake-timeout") == 0 && i + 1 < argc)
            r.handshake_timeout_ms = (uint32_t)strtoul(argv[++i], NULL, 10);
        else if (a[0] != '-' && positional == 0 && ++positional)
            r.base = a;
        else if (a[0] != '-' && positional == 1 && ++positional)
            r.agent = a;
        else {
            fprintf(stderr, "usage: autobahn-client URL [AGENT] [--style handler|events] "
                            "[--no-deflate] [--cases FIRST-LAST] [--handshake-timeout MS]\n");
            return 2;
        }
    }
    if (!r.base || (strcmp(style, "handler") != 0 && strcmp(style, "events") != 0)) {
        fprintf(stderr, "autobahn-client: a URL and --style handler|events, please\n");
        return 2;
    }
    if (r.next < 1)
        r.next = 1;
    r.events = strcmp(style, "events") == 0;
    int err;
    /* Autobahn's 9.x cases send messages of up to 16 MiB (the default limit). */
    r.cl = ws_client_new(&(ws_config){.close_timeout_ms = 2000}, &err);
    if (!r.cl) {
        fprintf(stderr, "autobahn-client: %s\n", ws_strerror(err));
        return 1;
    }
    r.pmd = deflate ? ws_deflate_new(NULL, NULL) : NULL;
    open_url(&r, "/getCaseCount");
    ws_client_run(r.cl);
    ws_client_free(r.cl);
    ws_deflate_free(r.pmd);
    printf("done: %d cases run, %d did not open\n", r.phase >= 1 ? r.next - 1 : 0, r.failures);
    return r.phase == 2 ? 0 : 1;
}
