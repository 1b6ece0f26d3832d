/* SPDX-License-Identifier: MIT */
/* GET /metrics (Prometheus' text format) and GET /healthz for the chat:
 * the server's counters, and the broker's when the chat runs in a
 * cluster. */
#ifndef CHAT_METRICS_H
#define CHAT_METRICS_H

#include <stdatomic.h>
#include <wschat.h>

typedef struct chat_metrics {
    ws_server *srv;
    /* NULL: one process alone (always healthy). Set after the server has
     * started (a broker needs its loops), while loops may already serve. */
    _Atomic(ws_broker *) broker;
} chat_metrics;

/* Adds the routes; m must outlive the server. */
void chat_metrics_routes(chat_metrics *m);

#endif
