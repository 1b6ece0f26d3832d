/* SPDX-License-Identifier: MIT */
#include "metrics.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct out {
    char buf[8192];
    size_t len;
} out;

static void put(out *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(o->buf + o->len, sizeof o->buf - o->len, fmt, ap);
    va_end(ap);
    if (n > 0 && (size_t)n < sizeof o->buf - o->len)
        o->len += (size_t)n;
}

typedef struct row {
    const char *name, *type, *help;
    uint64_t v;
} row;

static void rows(out *o, const row *r, size_t n)
{
    for (size_t i = 0; i < n; i++)
        put(o, "# HELP wschat_%s %s\n# TYPE wschat_%s %s\nwschat_%s %llu\n", r[i].name, r[i].help,
            r[i].name, r[i].type, r[i].name, (unsigned long long)r[i].v);
}

static void serve_metrics(const ws_request *req, ws_http_reply *reply, void *app)
{
    chat_metrics *c = app;
    (void)req;
    out *o = malloc(sizeof *o);
    if (!o) {
        ws_http_respond(reply, 500, "text/plain", "out of memory\n", 14);
        return;
    }
    o->len = 0;
    ws_server_stats st;
    ws_server_get_stats(c->srv, &st);
    const row server[] = {
        {"sessions_open", "gauge", "WebSocket sessions open now", st.sessions_open},
        {"connections", "gauge", "TCP connections open now", st.connections},
        {"messages_in_total", "counter", "Messages received", st.messages_in},
        {"messages_out_total", "counter", "Messages sent, each broadcast copy counted",
         st.messages_out},
        {"bytes_in_total", "counter", "WebSocket bytes received", st.bytes_in},
        {"bytes_out_total", "counter", "WebSocket bytes sent", st.bytes_out},
        {"broadcasts_total", "counter", "Broadcasts", st.broadcasts},
        {"deliveries_total", "counter", "Broadcast frames handed to members", st.deliveries},
    };
    rows(o, server, sizeof server / sizeof server[0]);
    put(o, "# HELP wschat_closes_total Sessions ended, by cause\n# TYPE wschat_closes_total "
           "counter\n");
    for (int k = WS_CAUSE_PEER; k <= WS_CAUSE_CONNECT; k++)
        put(o, "wschat_closes_total{cause=\"%s\"} %llu\n", ws_close_cause_name((ws_close_cause)k),
            (unsigned long long)st.closes[k]);
    ws_broker *br = atomic_load(&c->broker);
    if (br) {
        ws_broker_stats b;
        ws_broker_get_stats(br, &b);
        const row broker[] = {
            {"broker_up", "gauge", "1 if the broker is connected", b.state == WS_BROKER_UP},
            {"broker_published_total", "counter", "Messages published", b.published},
            {"broker_received_total", "counter", "Messages from other nodes", b.received},
            {"broker_dropped_total", "counter", "Messages not published (broker down)", b.dropped},
            {"broker_gaps_total", "counter", "Messages missed from other nodes", b.gaps},
            {"broker_duplicates_total", "counter", "Messages seen twice", b.duplicates},
            {"broker_rejected_total", "counter",
             "Messages from the broker not delivered (malformed)", b.rejected},
            {"broker_reconnects_total", "counter", "Reconnections", b.reconnects},
            {"broker_channels", "gauge", "Channels subscribed", b.channels},
        };
        rows(o, broker, sizeof broker / sizeof broker[0]);
    }
    ws_http_respond(reply, 200, "text/plain; version=0.0.4", o->buf, o->len);
    free(o);
}

static void serve_health(const ws_request *req, ws_http_reply *reply, void *app)
{
    chat_metrics *c = app;
    (void)req;
    ws_broker *br = atomic_load(&c->broker);
    if (!br) {
        ws_http_respond(reply, 200, "text/plain", "ok\n", 3);
        return;
    }
    ws_broker_state s = ws_broker_get_state(br);
    /* Down is not unhealthy for serving (local chat goes on), but a load
     * balancer should know: 503 says "prefer another node". */
    const char *text = s == WS_BROKER_UP     ? "ok broker up\n"
                       : s == WS_BROKER_DOWN ? "degraded broker down\n"
                                             : "starting broker connecting\n";
    ws_http_respond(reply, s == WS_BROKER_UP ? 200 : 503, "text/plain", text, strlen(text));
}

void chat_metrics_routes(chat_metrics *m)
{
    ws_http_route(m->srv, "/metrics", serve_metrics, m);
    ws_http_route(m->srv, "/healthz", serve_health, m);
}
