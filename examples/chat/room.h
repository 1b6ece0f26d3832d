/* SPDX-License-Identifier: MIT */
/* The chat room: who is connected, under which name, in which format. All
 * functions are thread-safe (one mutex); sessions may live on any loop. */
#ifndef CHAT_ROOM_H
#define CHAT_ROOM_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <wschat.h>

#define CHAT_NAME_MAX 32

typedef struct chat_user {
    ws_session_id id;
    char name[CHAT_NAME_MAX + 1];
    bool json;
} chat_user;

typedef struct room {
    pthread_mutex_t mu;
    chat_user *users;       /* in order of arrival */
    size_t n, cap;
    unsigned long counter;  /* next N for "userN"; never reused */
    ws_group *text;         /* members speaking Ktor's plain text */
    ws_group *json;         /* members speaking chat.json */
} room;

int room_init(room *r, ws_server *srv);
void room_free(room *r);

/* 1 if name is 1-32 of [A-Za-z0-9_-]. */
bool chat_name_valid(const char *name);

/* Adds a user. wanted may be NULL (take "userN"). If wanted is invalid or
 * taken, the user gets "userN" and *refused says why (a static string).
 * Writes the name given and returns the number of users now present. */
size_t room_join(room *r, ws_session_id id, bool json, const char *wanted,
                 char name[CHAT_NAME_MAX + 1], const char **refused);
/* Removes a user; writes its name. Returns 0 or -1 if unknown. */
int room_leave(room *r, ws_session_id id, char name[CHAT_NAME_MAX + 1]);
/* Renames; old receives the previous name. Returns 0, or a static error. */
const char *room_rename(room *r, ws_session_id id, const char *wanted,
                        char old[CHAT_NAME_MAX + 1]);
/* Looks a user up by name. Returns 0 (and id, json) or -1. */
int room_find(room *r, const char *name, ws_session_id *id, bool *json);
/* The names, comma-separated ("alice, bob"), in arrival order; malloc'd. */
char *room_names_text(room *r);
/* The names as a JSON array text; malloc'd. */
char *room_names_json(room *r);
size_t room_count(room *r);
/* The name of id (0), or -1 if it is not here. */
int room_name_of(room *r, ws_session_id id, char name[CHAT_NAME_MAX + 1]);
/* fn(name, ud) for every user, in arrival order, outside the lock. */
void room_each_name(room *r, void (*fn)(const char *name, void *ud), void *ud);

#endif
