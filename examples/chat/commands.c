/* SPDX-License-Identifier: MIT */
#include "commands.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int set(chat_cmd *c, chat_cmd_kind kind, const char *arg, const char *text, size_t tlen)
{
    c->kind = kind;
    snprintf(c->arg, sizeof c->arg, "%s", arg ? arg : "");
    c->text = malloc(tlen + 1);
    if (!c->text)
        return -1;
    memcpy(c->text, text, tlen);
    c->text[tlen] = '\0';
    return 0;
}

static int error(chat_cmd *c, const char *msg) { return set(c, CMD_ERROR, NULL, msg, strlen(msg)); }

void chat_cmd_free(chat_cmd *c)
{
    free(c->text);
    c->text = NULL;
}

/* Copies the next space-delimited word of [*p, end) into out. */
static int word(const char **p, const char *end, char *out, size_t cap)
{
    while (*p < end && **p == ' ')
        (*p)++;
    const char *s = *p;
    while (*p < end && **p != ' ')
        (*p)++;
    size_t n = (size_t)(*p - s);
    if (n == 0 || n >= cap)
        return -1;
    memcpy(out, s, n);
    out[n] = '\0';
    return 0;
}

int chat_parse_text(const char *line, size_t len, chat_cmd *c)
{
    memset(c, 0, sizeof *c);
    if (len == 0 || line[0] != '/')
        return set(c, CMD_MESSAGE, NULL, line, len);
    const char *p = line, *end = line + len;
    char verb[16];
    if (word(&p, end, verb, sizeof verb) < 0)
        return error(c, "unknown command");
    char arg[64];
    if (strcmp(verb, "/users") == 0)
        return set(c, CMD_USERS, NULL, "", 0);
    if (strcmp(verb, "/name") == 0) {
        /* The whole rest of the line is the name, so "/name a b" is refused
         * by validation instead of quietly becoming "a". */
        while (p < end && *p == ' ')
            p++;
        while (end > p && end[-1] == ' ')
            end--;
        if (p == end)
            return error(c, "usage: /name NEW");
        if ((size_t)(end - p) >= sizeof arg)
            return error(c, "names are 1-32 letters, digits, '_' or '-'");
        memcpy(arg, p, (size_t)(end - p));
        arg[end - p] = '\0';
        return set(c, CMD_RENAME, arg, "", 0);
    }
    if (strcmp(verb, "/whisper") == 0) {
        if (word(&p, end, arg, sizeof arg) < 0)
            return error(c, "usage: /whisper NAME TEXT");
        while (p < end && *p == ' ')
            p++;
        if (p == end)
            return error(c, "usage: /whisper NAME TEXT");
        return set(c, CMD_WHISPER, arg, p, (size_t)(end - p));
    }
    char msg[64];
    snprintf(msg, sizeof msg, "unknown command %s", verb);
    return error(c, msg);
}

static const char *str(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

int chat_parse_json(const char *data, size_t len, chat_cmd *c)
{
    memset(c, 0, sizeof *c);
    json_error_t e;
    json_t *o = json_loadb(data, len, 0, &e);
    int rc;
    const char *type = json_is_object(o) ? str(o, "type") : NULL;
    const char *text = type ? str(o, "text") : NULL;
    if (!o)
        rc = error(c, "malformed JSON");
    else if (!type)
        rc = error(c, "expected an object with a \"type\"");
    else if (strcmp(type, "message") == 0 && text)
        /* The same commands as text mode: "/whisper bob x" from an old or a
         * third-party client is a whisper, never a broadcast. */
        rc = chat_parse_text(text, strlen(text), c);
    else if (strcmp(type, "whisper") == 0 && text && str(o, "to") && strlen(str(o, "to")) < 64)
        rc = set(c, CMD_WHISPER, str(o, "to"), text, strlen(text));
    else if (strcmp(type, "rename") == 0 && str(o, "name") && strlen(str(o, "name")) < 64)
        rc = set(c, CMD_RENAME, str(o, "name"), "", 0);
    else if (strcmp(type, "users") == 0)
        rc = set(c, CMD_USERS, NULL, "", 0);
    else
        rc = error(c, "unknown or incomplete request");
    json_decref(o);
    return rc;
}

static char *dump(json_t *o)
{
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return s;
}

char *chat_ev_welcome(const char *name, const char *users_json, size_t count, const char *text)
{
    json_t *users = json_loads(users_json, 0, NULL);
    return dump(json_pack("{s:s,s:s,s:o,s:I,s:s}", "type", "welcome", "name", name, "users",
                          users ? users : json_array(), "count", (json_int_t)count, "text", text));
}

char *chat_ev_message(const char *from, const char *text)
{
    return dump(json_pack("{s:s,s:s,s:s}", "type", "message", "from", from, "text", text));
}

char *chat_ev_whisper(const char *from, const char *to, const char *text)
{
    return dump(json_pack("{s:s,s:s,s:s,s:s}", "type", "whisper", "from", from, "to", to, "text",
                          text));
}

char *chat_ev_join(const char *name) { return dump(json_pack("{s:s,s:s}", "type", "join", "name", name)); }
char *chat_ev_leave(const char *name) { return dump(json_pack("{s:s,s:s}", "type", "leave", "name", name)); }

char *chat_ev_rename(const char *from, const char *to)
{
    return dump(json_pack("{s:s,s:s,s:s}", "type", "rename", "from", from, "to", to));
}

char *chat_ev_users(const char *users_json)
{
    json_t *users = json_loads(users_json, 0, NULL);
    return dump(json_pack("{s:s,s:o}", "type", "users", "users", users ? users : json_array()));
}

char *chat_ev_error(const char *message)
{
    return dump(json_pack("{s:s,s:s}", "type", "error", "message", message));
}
