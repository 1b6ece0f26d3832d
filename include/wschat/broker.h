/* SPDX-License-Identifier: MIT */
/* Brokers: groups and messages shared by several processes ("nodes").
 *
 * A broker connects a server to a message broker that other nodes use too
 * (Redis, through hiredis, behind the `redis` build feature; without it
 * ws_broker_redis fails with WS_ENOTSUP). Through it:
 *
 *  - a group is shared (ws_group_share): a broadcast is delivered to the
 *    group's members on this node directly and published once; every other
 *    node with members in the group delivers it to them. A node subscribes
 *    to a group's channel only while it has members in it;
 *  - an application publishes and subscribes to channels of its own, and
 *    sends commands (for shared state: presence, names), with callbacks or,
 *    from a sequential handler, waiting for the answer (ws_broker_call).
 *
 * Delivery across nodes is at most once, as Redis pub/sub is: while the
 * broker is unreachable local delivery goes on, messages for other nodes
 * are counted as lost and dropped, and the broker reconnects by itself
 * (backoff with jitter), subscribing again to every channel. Per sender,
 * order is kept end to end; receivers count gaps and duplicates.
 *
 * Threads: every function may be called from any thread. Callbacks run on
 * the broker's loop (the server's loop 0).
 */
#ifndef WSCHAT_BROKER_H
#define WSCHAT_BROKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api.h"
#include "group.h"
#include "server.h"
#include "session.h"

WS_BEGIN_DECLS

typedef struct ws_broker ws_broker;

typedef enum ws_broker_state {
    WS_BROKER_CONNECTING, /* never connected yet */
    WS_BROKER_UP,         /* both connections up, subscriptions in place */
    WS_BROKER_DOWN        /* lost; reconnecting */
} ws_broker_state;

typedef struct ws_redis_options {
    uint32_t connect_timeout_ms; /* a connection attempt; default 2000 */
    /* The subscribe connection is probed (PING) this often and given up on
     * after probe_timeout_ms without an answer: a subscription that has
     * silently stopped delivering is detected. Defaults 1000 and 3000. */
    uint32_t probe_period_ms;
    uint32_t probe_timeout_ms;
    /* Reconnect delays, doubled up to max, +-25% jitter; defaults 100 and
     * 1000, so a node is back within about a second and a half of Redis. */
    uint32_t backoff_min_ms;
    uint32_t backoff_max_ms;
    /* Bytes of commands and publications waiting for the broker before
     * more are refused (WS_EFULL; publications counted as dropped). Default
     * 8 MiB. */
    size_t max_pending;
    /* Prefix of every channel the library uses for groups; default
     * "wschat:". Application channels and keys are used as given. */
    const char *prefix;
} ws_redis_options;

/* Connects srv to Redis at url ("redis://HOST[:PORT][/DB]", port 6379 by
 * default; a host name is resolved off the loop). Returns at once: the
 * connection is made on the server's loop 0 once it runs (before
 * ws_server_start is fine), and kept up from then on. Returns NULL and sets
 * *err (if err): WS_EINVAL (url), WS_ENOTSUP (a build without hiredis),
 * WS_ENOMEM. Free with ws_broker_free before ws_server_free. */
WS_API ws_broker *ws_broker_redis(ws_server *srv, const char *url, const ws_redis_options *o,
                                  int *err);

/* Disconnects and frees; shared groups become local again. Pending
 * callbacks are called with WS_ECLOSED. Call it after ws_server_stop (the
 * loops no longer run) or from any thread while they run. */
WS_API void ws_broker_free(ws_broker *b);

WS_API ws_broker_state ws_broker_get_state(const ws_broker *b);
/* This node's id: 16 hex digits, random per broker. The string lives as
 * long as the broker. */
WS_API const char *ws_broker_node(const ws_broker *b);
/* Called on the broker's loop whenever the state changes (e.g. to put
 * shared state back after an outage). One callback per broker. */
WS_API void ws_broker_on_state(ws_broker *b, void (*fn)(ws_broker_state st, void *ud), void *ud);

/* Makes g span the nodes that share `name` (1-200 bytes, no NUL): see the
 * top of this header. A group is shared once, with one broker. Returns 0,
 * WS_EINVAL, WS_EEXIST (already shared) or WS_ENOMEM. */
WS_API int ws_group_share(ws_group *g, ws_broker *b, const char *name);

/* --- channels of the application's own ------------------------------------ */

typedef void (*ws_broker_message_fn)(const char *channel, const void *data, size_t len, void *ud);

/* Subscribes (again after each reconnect, by itself). One callback per
 * channel; messages published by this node are delivered too. Returns 0,
 * WS_EINVAL, WS_EEXIST or WS_ENOMEM. */
WS_API int ws_broker_subscribe(ws_broker *b, const char *channel, ws_broker_message_fn fn,
                               void *ud);
WS_API int ws_broker_unsubscribe(ws_broker *b, const char *channel);
/* Publishes data (copied) to channel. Returns 0, or WS_EFULL (the pending
 * bound is reached: dropped and counted) or WS_EINVAL. While the broker is
 * down publications are dropped and counted (Redis pub/sub keeps nothing
 * for later) and 0 is returned. */
WS_API int ws_broker_publish(ws_broker *b, const char *channel, const void *data, size_t len);

/* --- commands ------------------------------------------------------------- */

typedef enum ws_reply_type {
    WS_REPLY_NIL,
    WS_REPLY_INTEGER,
    WS_REPLY_STRING, /* also Redis's status replies ("OK") */
    WS_REPLY_ARRAY,
    WS_REPLY_ERROR /* str holds Redis's error text */
} ws_reply_type;

/* A command's answer; valid only during the callback that receives it. */
typedef struct ws_reply {
    ws_reply_type type;
    long long integer;
    const char *str; /* NUL-terminated */
    size_t len;
    size_t n; /* elements of an array */
    const struct ws_reply *element;
} ws_reply;

/* err is 0 with a reply, or WS_EBROKER (not connected, or the connection
 * was lost before the answer) / WS_ECLOSED (the broker is being freed)
 * with r NULL. */
typedef void (*ws_reply_fn)(const ws_reply *r, int err, void *ud);

/* Sends a command (argv[0] the command's name; each argument lens[i] bytes,
 * or strlen if lens is NULL). fn (may be NULL) is called exactly once on
 * the broker's loop. Returns 0, WS_EINVAL, WS_EFULL, or WS_EBROKER (not
 * connected now: fn is not called). */
WS_API int ws_broker_command(ws_broker *b, ws_reply_fn fn, void *ud, int argc,
                             const char *const *argv, const size_t *lens);

/* The same from a sequential handler, waiting for the answer: the handler
 * is parked and its loop serves other sessions meanwhile; fn runs on the
 * handler's own thread before ws_broker_call returns (so it may touch the
 * handler's locals). At most timeout_ms (0 = 5000). Returns 0 (fn saw the
 * reply), WS_EBROKER, WS_ETIMEDOUT, WS_ECLOSED (the session ended while
 * waiting) or WS_ESTATE (not from s's sequential handler). */
WS_API int ws_broker_call(ws_session *s, ws_broker *b, uint32_t timeout_ms, ws_reply_fn fn,
                          void *ud, int argc, const char *const *argv, const size_t *lens);

/* --- counters ------------------------------------------------------------- */

typedef struct ws_broker_stats {
    uint64_t published;  /* messages handed to the broker */
    uint64_t received;   /* messages from other nodes delivered here */
    uint64_t dropped;    /* not published: broker down or the pending bound */
    uint64_t gaps;       /* messages from another node missing in its sequence */
    uint64_t duplicates; /* messages seen twice (not delivered again) */
    uint64_t rejected;   /* arrived, not delivered: not an envelope, text that is not
                            UTF-8, or over the server's max_message_size */
    uint64_t reconnects; /* connections made again after a loss */
    uint64_t outages;    /* times the broker went down */
    uint32_t channels;   /* subscribed now */
    ws_broker_state state;
} ws_broker_stats;

/* A snapshot (each counter read atomically; not all at one instant). */
WS_API void ws_broker_get_stats(const ws_broker *b, ws_broker_stats *out);

WS_END_DECLS

#endif
