/* SPDX-License-Identifier: MIT */
/* The chat across nodes (--redis): the room's text and JSON groups are
 * shared through the broker, and who is connected where lives in Redis, so
 * names are unique, counts and /users cover every node, and /whisper finds
 * a user on any node. Each node refreshes a key that expires (its
 * heartbeat); any node removes the users of a node whose key has expired,
 * so a node that dies without a word drops out of the list within the
 * presence timeout. Redis 7.0 has no expiry per hash field: users are
 * fields of one hash (name -> node) plus one set per node, and the sweep
 * (one Lua script) is what makes them expire.
 *
 * The cluster_* calls that ask Redis wait for its answer (ws_broker_call):
 * they are called from the chat's sequential handler. While Redis is down
 * they fall back to this node's room (local names, local counts). */
#ifndef CHAT_CLUSTER_H
#define CHAT_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <wschat.h>

#include "room.h"

typedef struct cluster cluster;

/* Connects the room to Redis at url (after ws_server_start). presence_ms:
 * how long a dead node's users may stay listed (0 = 30000). NULL and *err
 * on failure (WS_ENOTSUP without hiredis). */
cluster *cluster_new(ws_server *srv, room *r, const char *url, uint32_t presence_ms, int *err);
/* Takes this node's users out of Redis (best effort) and disconnects. */
void cluster_free(cluster *c);
ws_broker *cluster_broker(cluster *c);

/* room_join for the whole cluster: returns the number of users on every
 * node (this one included). */
size_t cluster_join(cluster *c, ws_session *s, bool json, const char *wanted,
                    char name[CHAT_NAME_MAX + 1], const char **refused);
void cluster_leave(cluster *c, ws_session *s, const char *name);
/* room_rename for the whole cluster: NULL, or why not. */
const char *cluster_rename(cluster *c, ws_session *s, const char *wanted,
                           char old[CHAT_NAME_MAX + 1]);
/* A user on another node: hands the whisper (text for a text client, ev for
 * a JSON one) to that node. Returns 0, or -1 if there is no such user. */
int cluster_whisper(cluster *c, ws_session *s, const char *to, const char *text, const char *ev);
/* Every node's users in arrival order: "a, b" or a JSON array; malloc'd. */
char *cluster_names(cluster *c, ws_session *s, bool json);

/* For /healthz and /metrics: "up", "down" or "connecting". */
const char *cluster_state(cluster *c);

#endif
