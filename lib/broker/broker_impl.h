/* SPDX-License-Identifier: MIT */
/* Inside a broker: the generic half (broker.c: channels, shared groups,
 * envelopes, counters, commands and calls) and the table an
 * implementation fills (redis.c on hiredis; another broker would be
 * another table). Everything here runs on the broker's loop (the server's
 * loop 0) unless it says otherwise; the public calls post to it. */
#ifndef WS_BROKER_IMPL_H
#define WS_BROKER_IMPL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "broker/envelope.h"
#include "io/loop.h"
#include "util/log.h"
#include "wschat/broker.h"

typedef struct ws__broker_ops {
    /* Starts connecting (on the loop, once). */
    void (*start)(void *impl);
    /* Publishes hdr then data as one message. 0, WS_EBROKER (not
     * connected) or WS_EFULL (the pending bound). */
    int (*publish)(void *impl, const char *channel, const uint8_t *hdr, size_t hl, const void *data,
                   size_t len);
    /* Starts or stops receiving a channel; the implementation subscribes
     * again to every wanted channel after a reconnect (ws__broker_each). */
    void (*subscribe)(void *impl, const char *channel, bool on);
    /* A command; fn is called exactly once (WS_EBROKER on a lost
     * connection). Returns 0, WS_EBROKER or WS_EFULL (fn not called). */
    int (*command)(void *impl, int argc, const char *const *argv, const size_t *lens,
                   ws_reply_fn fn, void *ud);
    void (*free)(void *impl);
} ws__broker_ops;

typedef struct ws__chan ws__chan;

struct ws_broker {
    atomic_int refs; /* the user's, and one per posted task */
    ws_server *srv;
    ws__loop *loop;
    const ws__logger *log;
    const ws__broker_ops *ops;
    void *impl;
    uint64_t node;
    char node_hex[17];
    char *prefix;
    bool closed; /* ws_broker_free has run (loop thread) */
    /* Channels by name (loop thread only). */
    ws__chan **tab;
    size_t ntab, nchan;
    _Atomic int state;
    void (*state_fn)(ws_broker_state st, void *ud);
    void *state_ud;
    struct {
        atomic_uint_fast64_t published, received, dropped, gaps, duplicates, rejected, reconnects,
            outages;
        atomic_uint channels;
    } st;
};

/* For the implementation: a message arrived on channel. */
void ws__broker_message(ws_broker *b, const char *channel, const uint8_t *p, size_t n);
/* The implementation's state changed (logs, counts, tells the app). */
void ws__broker_set_state(ws_broker *b, ws_broker_state st);
/* Every channel currently wanted, for resubscribing. */
void ws__broker_each(ws_broker *b, void (*fn)(const char *channel, void *ud), void *ud);

/* A broker with no implementation yet (b->ops, b->impl to fill), on srv's
 * loop 0; NULL and *err: WS_EINVAL, WS_ESTATE (not started), WS_ENOMEM. */
ws_broker *ws__broker_new(ws_server *srv, const char *prefix, int *err);
/* Calls ops->start on the loop. */
void ws__broker_start(ws_broker *b);

/* The Redis implementation (redis.c, or redis_none.c without hiredis):
 * fills b->ops and b->impl. Returns 0, WS_EINVAL, WS_ENOTSUP, WS_ENOMEM. */
int ws__redis_open(ws_broker *b, const char *url, const ws_redis_options *o);

/* Posts fn(b, arg) to the broker's loop (or runs it now on that thread),
 * holding a reference on b meanwhile. Returns 0 or WS_ENOMEM. */
int ws__broker_post(ws_broker *b, void (*fn)(ws_broker *b, void *arg), void *arg);
void ws__broker_unref(ws_broker *b);

/* --- shared groups (group.c calls these) --------------------------------- */

typedef struct ws__share ws__share;
/* A broadcast on a shared group, any thread: published once. */
void ws__share_publish(ws__share *sh, bool binary, const void *data, size_t len);
/* The group's local membership changed (any thread). */
void ws__share_members_changed(ws__share *sh);
/* The group is being freed. */
void ws__share_release(ws__share *sh);

#endif
