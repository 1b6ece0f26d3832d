/* SPDX-License-Identifier: MIT */
/* Chat protocol: what a client line or JSON object asks for, and the JSON
 * events the server sends. Pure functions, no sockets: unit-tested alone. */
#ifndef CHAT_COMMANDS_H
#define CHAT_COMMANDS_H

#include <stddef.h>

typedef enum {
    CMD_MESSAGE,   /* text: to everyone */
    CMD_RENAME,    /* arg: the new name */
    CMD_WHISPER,   /* arg: recipient, text: the message */
    CMD_USERS,
    CMD_ERROR      /* text: what was wrong */
} chat_cmd_kind;

typedef struct chat_cmd {
    chat_cmd_kind kind;
    char arg[64];
    char *text;    /* malloc'd, NUL-terminated */
} chat_cmd;

/* Text mode: "/name NEW", "/whisper NAME TEXT", "/users", anything else not
 * starting with '/' is a message. Returns 0 (free with chat_cmd_free). */
int chat_parse_text(const char *line, size_t len, chat_cmd *out);
/* JSON mode: {"type":"message","text":...}, {"type":"whisper","to":...,
 * "text":...}, {"type":"rename","name":...}, {"type":"users"}. The text of
 * a "message" goes through chat_parse_text, so a command typed into any
 * client means the same everywhere. Malformed input gives CMD_ERROR, never
 * a crash. */
int chat_parse_json(const char *data, size_t len, chat_cmd *out);
void chat_cmd_free(chat_cmd *c);

/* JSON events (malloc'd strings, NULL on ENOMEM). users_json is a JSON array
 * text as room_names_json() gives. */
char *chat_ev_welcome(const char *name, const char *users_json, size_t count, const char *text);
char *chat_ev_message(const char *from, const char *text);
char *chat_ev_whisper(const char *from, const char *to, const char *text);
char *chat_ev_join(const char *name);
char *chat_ev_leave(const char *name);
char *chat_ev_rename(const char *from, const char *to);
char *chat_ev_users(const char *users_json);
char *chat_ev_error(const char *message);

#endif
