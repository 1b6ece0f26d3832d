/* SPDX-License-Identifier: MIT */
#include "room.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int room_init(room *r, ws_server *srv)
{
    memset(r, 0, sizeof *r);
    pthread_mutex_init(&r->mu, NULL);
    r->text = ws_group_new(srv);
    r->json = ws_group_new(srv);
    return r->text && r->json ? 0 : -1;
}

void room_free(room *r)
{
    ws_group_free(r->text);
    ws_group_free(r->json);
    free(r->users);
    pthread_mutex_destroy(&r->mu);
}

bool chat_name_valid(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n < 1 || n > CHAT_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return false;
    }
    return true;
}

static long index_of_name(const room *r, const char *name)
{
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->users[i].name, name) == 0)
            return (long)i;
    return -1;
}

static long index_of_id(const room *r, ws_session_id id)
{
    for (size_t i = 0; i < r->n; i++)
        if (r->users[i].id == id)
            return (long)i;
    return -1;
}

size_t room_join(room *r, ws_session_id id, bool json, const char *wanted,
                 char name[CHAT_NAME_MAX + 1], const char **refused)
{
    *refused = NULL;
    pthread_mutex_lock(&r->mu);
    if (wanted && !chat_name_valid(wanted)) {
        *refused = "names are 1-32 letters, digits, '_' or '-'";
        wanted = NULL;
    } else if (wanted && index_of_name(r, wanted) >= 0) {
        *refused = "that name is taken";
        wanted = NULL;
    }
    if (wanted) {
        snprintf(name, CHAT_NAME_MAX + 1, "%s", wanted);
    } else {
        /* A chosen name may already be "userN": skip numbers in use. */
        do
            snprintf(name, CHAT_NAME_MAX + 1, "user%lu", r->counter++);
        while (index_of_name(r, name) >= 0);
    }
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 16;
        chat_user *u = realloc(r->users, cap * sizeof *u);
        if (!u) {
            pthread_mutex_unlock(&r->mu);
            return 0;
        }
        r->users = u;
        r->cap = cap;
    }
    chat_user *u = &r->users[r->n++];
    u->id = id;
    u->json = json;
    snprintf(u->name, sizeof u->name, "%s", name);
    size_t n = r->n;
    pthread_mutex_unlock(&r->mu);
    return n;
}

int room_leave(room *r, ws_session_id id, char name[CHAT_NAME_MAX + 1])
{
    pthread_mutex_lock(&r->mu);
    long i = index_of_id(r, id);
    if (i >= 0) {
        snprintf(name, CHAT_NAME_MAX + 1, "%s", r->users[i].name);
        memmove(&r->users[i], &r->users[i + 1], (r->n - (size_t)i - 1) * sizeof *r->users);
        r->n--;
    }
    pthread_mutex_unlock(&r->mu);
    return i >= 0 ? 0 : -1;
}

const char *room_rename(room *r, ws_session_id id, const char *wanted,
                        char old[CHAT_NAME_MAX + 1])
{
    if (!chat_name_valid(wanted))
        return "names are 1-32 letters, digits, '_' or '-'";
    const char *err = NULL;
    pthread_mutex_lock(&r->mu);
    long i = index_of_id(r, id);
    long other = index_of_name(r, wanted);
    if (i < 0)
        err = "you are not in the room";
    else if (other == i)
        err = "that is already your name";
    else if (other >= 0)
        err = "that name is taken";
    else {
        snprintf(old, CHAT_NAME_MAX + 1, "%s", r->users[i].name);
        snprintf(r->users[i].name, sizeof r->users[i].name, "%s", wanted);
    }
    pthread_mutex_unlock(&r->mu);
    return err;
}

int room_find(room *r, const char *name, ws_session_id *id, bool *json)
{
    pthread_mutex_lock(&r->mu);
    long i = index_of_name(r, name);
    if (i >= 0) {
        *id = r->users[i].id;
        *json = r->users[i].json;
    }
    pthread_mutex_unlock(&r->mu);
    return i >= 0 ? 0 : -1;
}

int room_name_of(room *r, ws_session_id id, char name[CHAT_NAME_MAX + 1])
{
    pthread_mutex_lock(&r->mu);
    long i = index_of_id(r, id);
    if (i >= 0)
        snprintf(name, CHAT_NAME_MAX + 1, "%s", r->users[i].name);
    pthread_mutex_unlock(&r->mu);
    return i >= 0 ? 0 : -1;
}

void room_each_name(room *r, void (*fn)(const char *name, void *ud), void *ud)
{
    pthread_mutex_lock(&r->mu);
    size_t n = r->n;
    char(*names)[CHAT_NAME_MAX + 1] = malloc((n ? n : 1) * sizeof *names);
    for (size_t i = 0; names && i < n; i++)
        memcpy(names[i], r->users[i].name, sizeof names[i]);
    pthread_mutex_unlock(&r->mu);
    for (size_t i = 0; names && i < n; i++)
        fn(names[i], ud);
    free(names);
}

size_t room_count(room *r)
{
    pthread_mutex_lock(&r->mu);
    size_t n = r->n;
    pthread_mutex_unlock(&r->mu);
    return n;
}

char *room_names_text(room *r)
{
    pthread_mutex_lock(&r->mu);
    size_t len = 1;
    for (size_t i = 0; i < r->n; i++)
        len += strlen(r->users[i].name) + 2;
    char *s = malloc(len);
    if (s) {
        s[0] = '\0';
        for (size_t i = 0; i < r->n; i++) {
            if (i)
                strcat(s, ", ");
            strcat(s, r->users[i].name);
        }
    }
    pthread_mutex_unlock(&r->mu);
    return s;
}

char *room_names_json(room *r)
{
    json_t *a = json_array();
    pthread_mutex_lock(&r->mu);
    for (size_t i = 0; i < r->n; i++)
        json_array_append_new(a, json_string(r->users[i].name));
    pthread_mutex_unlock(&r->mu);
    char *s = json_dumps(a, JSON_COMPACT);
    json_decref(a);
    return s;
}
