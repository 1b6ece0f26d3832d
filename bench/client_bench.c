/* SPDX-License-Identifier: MIT */
/* libwschat's client on the client row of bench/run.py: CONNS connections
 * to a WebSocket echo server, one SIZE-byte text message in flight on each,
 * MSGS round trips in all, every echo checked. bench/run.py reads the CPU
 * this process used (wait4), so nothing here measures itself.
 *
 *   client_bench PORT CONNS MSGS SIZE        (prints "round_trips=N") */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wschat.h>

typedef struct bench {
    ws_client *cl;
    char *payload;
    size_t size;
    long sent, received, total;
    int errors;
} bench;

static void send_one(bench *b, ws_session *s)
{
    if (b->sent < b->total && ws_send_text_n(s, b->payload, b->size) == 0)
        b->sent++;
}

static void on_open(ws_session *s, void *app) { send_one(app, s); }

static void on_message(ws_session *s, const ws_msg *m, void *app)
{
    bench *b = app;
    if (m->len != b->size || memcmp(m->data, b->payload, b->size) != 0)
        b->errors++;
    if (++b->received == b->total)
        ws_client_stop(b->cl);
    else
        send_one(b, s);
}

static void on_fail(ws_session_id id, const ws_close_reason *r, void *app)
{
    bench *b = app;
    (void)id;
    fprintf(stderr, "client_bench: %s\n", r->reason);
    b->errors++;
    ws_client_stop(b->cl);
}

int main(int argc, char **argv)
{
    if (argc < 5)
        return 2;
    bench b = {.total = atol(argv[3]), .size = (size_t)atol(argv[4])};
    int conns = atoi(argv[2]);
    b.payload = malloc(b.size + 1);
    memset(b.payload, 'x', b.size);
    b.cl = ws_client_new(&(ws_config){.no_signals = true}, NULL);
    char url[64];
    snprintf(url, sizeof url, "ws://127.0.0.1:%s/", argv[1]);
    ws_event_callbacks cb = {.on_open = on_open, .on_message = on_message};
    ws_connect_options o = {.on_fail = on_fail};
    for (int i = 0; i < conns; i++)
        ws_connect_events(b.cl, url, &o, &cb, &b, NULL);
    ws_client_run(b.cl);
    ws_client_free(b.cl);
    free(b.payload);
    printf("round_trips=%ld errors=%d\n", b.received, b.errors);
    return b.errors || b.received != b.total;
}
