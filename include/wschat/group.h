/* SPDX-License-Identifier: MIT */
/* ws_group: a thread-safe set of sessions with broadcast.
 *
 * A broadcast encodes the frame once. On each loop thread, the broadcasts to
 * one group made in one loop iteration are gathered and go out before the
 * loop polls again, as one shared chunk per member (sessions on other loops
 * get the frame through one posted task per loop). Each member still
 * receives every message in the order it was sent, relative to every other
 * message sent to it, by a group or directly. Sessions leave every group
 * automatically when they end. All functions are thread-safe.
 */
#ifndef WSCHAT_GROUP_H
#define WSCHAT_GROUP_H

#include <stdbool.h>
#include <stddef.h>

#include "api.h"
#include "client.h"
#include "server.h"
#include "session.h"

WS_BEGIN_DECLS

typedef struct ws_group ws_group;

/* Creates an empty group tied to srv (whose sessions, server and client
 * alike, may join it). NULL on ENOMEM. */
WS_API ws_group *ws_group_new(ws_server *srv);
/* The same for the sessions of a client (client.h). */
WS_API ws_group *ws_client_group_new(ws_client *cl);
/* Releases the group (members are not closed). Broadcasts already made
 * are still delivered; the memory goes when the last member has left. Call
 * before ws_server_free, when no other thread uses the group. */
WS_API void ws_group_free(ws_group *g);

/* Adds an open session (call on its loop thread, e.g. in the handler).
 * Returns 0, WS_EEXIST if already a member, WS_ECLOSED, WS_ENOMEM. */
WS_API int ws_group_add(ws_group *g, ws_session *s);
/* Returns 0 or WS_ENOTFOUND. */
WS_API int ws_group_remove(ws_group *g, ws_session *s);
WS_API size_t ws_group_count(ws_group *g);

/* Sends a message to every member. Returns the number of members it was
 * queued for (>= 0), or WS_ENOMEM / WS_EINVAL (text not UTF-8). Queued
 * means: handed to the members' loops, which send it before they next
 * poll; a member that ends before then does not get it. A member whose
 * queue is over its hard limit is closed with 1008; the others still get
 * the message. */
WS_API int ws_group_broadcast(ws_group *g, bool binary, const void *data, size_t len);
WS_API int ws_group_broadcast_text(ws_group *g, const char *text);
WS_API int ws_group_broadcastf(ws_group *g, const char *fmt, ...) WS_PRINTF(2, 3);

/* Calls fn for each member's id, on a snapshot taken under the lock (fn may
 * call any ws_group or ws_server function). Returns the number visited. */
WS_API size_t ws_group_foreach(ws_group *g, void (*fn)(ws_session_id id, void *ud), void *ud);

WS_END_DECLS

#endif
