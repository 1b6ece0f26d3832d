/* SPDX-License-Identifier: MIT */
/* examples/chat: the broadcast chat of the Ktor tutorial, in C, and more.
 *
 * /chat keeps Ktor's transcript: "You are connected! There are N users
 * here.", then every message X from NAME reaches everyone as "[NAME]: X".
 * Beyond Ktor: ?name=, /name, /whisper, /users, a JSON mode (subprotocol
 * chat.json or ?format=json) and a web client served at /. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wschat.h>

#include "../common/cli.h"
#include "cluster.h"
#include "commands.h"
#include "metrics.h"
#include "room.h"
#include "web_assets.h"

typedef struct chat {
    room room;
    ws_server *srv;
    const char *origin;    /* --origin: refuse upgrades from elsewhere */
    cluster *cl;           /* --redis: the room spans nodes; NULL = this process alone */
    chat_metrics metrics;  /* GET /metrics, /healthz */
} chat;

typedef struct member {
    chat *c;
    ws_session *s;
    bool json;
    char name[CHAT_NAME_MAX + 1];
} member;

/* Sends one reply to this member in its own format. */
static void reply_text(member *m, const char *text) { ws_send_text(m->s, text); }

static void reply_event(member *m, char *json)
{
    if (json)
        ws_send_text(m->s, json);
    free(json);
}

static void reply_error(member *m, const char *why)
{
    if (m->json)
        reply_event(m, chat_ev_error(why));
    else
        ws_sendf(m->s, "error: %s", why);
}

/* One broadcast per format: each group's frame is encoded once. Callers
 * build the JSON only when someone speaks JSON (see wants_json). */
static void broadcast(chat *c, const char *text, char *json)
{
    if (text)
        ws_group_broadcast_text(c->room.text, text);
    if (json)
        ws_group_broadcast_text(c->room.json, json);
    free(json);
}

/* JSON events only when someone speaks JSON: here, or (in a cluster) on
 * any node, which this one cannot see. */
static bool wants_json(chat *c) { return c->cl || ws_group_count(c->room.json) > 0; }

static void say(member *m, const char *text)
{
    /* Formatted straight into the broadcast: no allocation for a short line. */
    ws_group_broadcastf(m->c->room.text, "[%s]: %s", m->name, text);
    if (wants_json(m->c))
        broadcast(m->c, NULL, chat_ev_message(m->name, text));
}

static void whisper(member *m, const char *to, const char *text)
{
    ws_session_id id;
    bool json;
    bool here = room_find(&m->c->room, to, &id, &json) == 0;
    char *line = malloc(strlen(m->name) + strlen(to) + strlen(text) + 10);
    char *ev = chat_ev_whisper(m->name, to, text);
    if (line && ev) {
        sprintf(line, "[%s -> %s]: %s", m->name, to, text);
        if (here) {
            const char *theirs = json ? ev : line;
            if (id != ws_session_get_id(m->s))
                ws_server_send(m->c->srv, id, false, theirs, strlen(theirs));
        }
        if (here || (m->c->cl && cluster_whisper(m->c->cl, m->s, to, line, ev) == 0)) {
            ws_send_text(m->s, m->json ? ev : line); /* the sender's copy */
        } else {
            char why[96];
            snprintf(why, sizeof why, "no user named '%s'", to);
            reply_error(m, why);
        }
    }
    free(line);
    free(ev);
}

static void rename_to(member *m, const char *wanted)
{
    char old[CHAT_NAME_MAX + 1];
    const char *err = m->c->cl ? cluster_rename(m->c->cl, m->s, wanted, old)
                               : room_rename(&m->c->room, ws_session_get_id(m->s), wanted, old);
    if (err) {
        reply_error(m, err);
        return;
    }
    snprintf(m->name, sizeof m->name, "%s", wanted);
    char line[128];
    snprintf(line, sizeof line, "* %s is now known as %s", old, wanted);
    broadcast(m->c, line, chat_ev_rename(old, wanted));
}

/* Everyone's names, from the cluster when there is one. */
static char *names_of(member *m, bool json)
{
    if (m->c->cl)
        return cluster_names(m->c->cl, m->s, json);
    return json ? room_names_json(&m->c->room) : room_names_text(&m->c->room);
}

static void list_users(member *m)
{
    if (m->json) {
        char *names = names_of(m, true);
        reply_event(m, names ? chat_ev_users(names) : NULL);
        free(names);
        return;
    }
    char *names = names_of(m, false);
    if (names)
        ws_sendf(m->s, "Users: %s", names);
    free(names);
}

static void welcome(member *m, size_t count, const char *refused)
{
    char text[96];
    snprintf(text, sizeof text, "You are connected! There are %zu users here.", count);
    if (m->json) {
        char *names = names_of(m, true);
        reply_event(m, names ? chat_ev_welcome(m->name, names, count, text) : NULL);
        free(names);
    } else {
        reply_text(m, text);
    }
    if (refused) {
        char why[160];
        snprintf(why, sizeof why, "%s; you are %s", refused, m->name);
        reply_error(m, why);
    }
}

static void dispatch(member *m, const ws_msg *msg)
{
    chat_cmd cmd;
    const char *data = (const char *)msg->data;
    int rc = m->json ? chat_parse_json(data, msg->len, &cmd) : chat_parse_text(data, msg->len, &cmd);
    if (rc < 0)
        return;
    switch (cmd.kind) {
    case CMD_MESSAGE: say(m, cmd.text); break;
    case CMD_RENAME: rename_to(m, cmd.arg); break;
    case CMD_WHISPER: whisper(m, cmd.arg, cmd.text); break;
    case CMD_USERS: list_users(m); break;
    case CMD_ERROR: reply_error(m, cmd.text); break;
    }
    chat_cmd_free(&cmd);
}

/* Ktor: webSocket("/chat") { connections += this; try { for (frame in
 * incoming) ... } finally { connections -= this } } */
static void chat_session(ws_session *s, void *app)
{
    chat *c = app;
    member m = {.c = c, .s = s};
    char fmt[8] = "", wanted[64];
    const char *proto = ws_session_protocol(s);
    m.json = (proto && strcmp(proto, "chat.json") == 0) ||
             (ws_session_query(s, "format", fmt, sizeof fmt) >= 0 && strcmp(fmt, "json") == 0);
    int have = ws_session_query(s, "name", wanted, sizeof wanted);
    const char *refused = NULL;
    size_t count = c->cl
                       ? cluster_join(c->cl, s, m.json, have >= 0 ? wanted : NULL, m.name, &refused)
                       : room_join(&c->room, ws_session_get_id(s), m.json,
                                   have >= 0 ? wanted : NULL, m.name, &refused);
    if (have == WS_ETOOBIG)
        refused = "names are 1-32 letters, digits, '_' or '-'";
    broadcast(c, NULL, chat_ev_join(m.name)); /* before joining: no echo of our own join */
    ws_group_add(m.json ? c->room.json : c->room.text, s);
    welcome(&m, count, refused);

    ws_msg msg;
    while (ws_recv(s, &msg) == WS_OK)
        if (msg.type == WS_MSG_TEXT)
            dispatch(&m, &msg);

    room_leave(&c->room, ws_session_get_id(s), m.name);
    if (c->cl)
        cluster_leave(c->cl, s, m.name);
    broadcast(c, NULL, chat_ev_leave(m.name));
}

/* Removes "--flag VALUE" from argv; returns VALUE or NULL. */
static const char *take_flag(int *argc, char **argv, const char *flag)
{
    for (int i = 1; i + 1 < *argc; i++)
        if (strcmp(argv[i], flag) == 0) {
            const char *v = argv[i + 1];
            memmove(&argv[i], &argv[i + 2], (size_t)(*argc - i - 1) * sizeof *argv);
            *argc -= 2;
            return v;
        }
    return NULL;
}

static int check_origin(const ws_request *req, void *app)
{
    chat *c = app;
    char origin[256];
    if (ws_request_header(req, "Origin", origin, sizeof origin) < 0 || strcmp(origin, c->origin) != 0)
        return 403;
    return 0;
}

static void serve_asset(const ws_request *req, ws_http_reply *reply, void *app)
{
    const web_asset *a = app;
    (void)req;
    ws_http_respond(reply, 200, a->content_type, a->data, a->len);
}

int main(int argc, char **argv)
{
    static const char *const extra[] = {"web-root", NULL};
    cli opts;
    /* The chat-only flags come out before the shared parser runs. */
    const char *origin = take_flag(&argc, argv, "--origin");
    const char *redis = take_flag(&argc, argv, "--redis");
    const char *presence = take_flag(&argc, argv, "--presence-timeout");
    cli_parse(&opts, argc, argv, "chat",
              " [--web-root DIR] [--origin URL] [--redis redis://HOST:PORT[/DB]]\n"
              "            [--presence-timeout MS] [--reuseport]",
              extra);
    int err;
    ws_server *srv = ws_server_new_err(&opts.cfg, &err);
    if (!srv) {
        fprintf(stderr, "chat: %s\n", ws_strerror(err));
        return 1;
    }
    chat c = {.srv = srv, .origin = origin};
    if (room_init(&c.room, srv) < 0)
        return 1;
    cli_listen(srv, &opts, "chat");
    ws_extension *pmd = cli_deflate(srv, &opts);
    static const char *const protocols[] = {"chat.json"};
    c.metrics.srv = srv;
    chat_metrics_routes(&c.metrics);
    ws_route(srv, "/chat", chat_session, &c);
    ws_route_protocols(srv, "/chat", protocols, 1);
    if (origin)
        ws_route_upgrade_hook(srv, "/chat", check_origin, &c);
    if (opts.web_root) {
        if ((err = ws_http_static(srv, "/", opts.web_root)) < 0) {
            fprintf(stderr, "chat: --web-root %s: %s\n", opts.web_root, ws_strerror(err));
            return 1;
        }
    } else {
        ws_http_route(srv, "/", serve_asset, (void *)&web_assets[0]);
        for (size_t i = 0; i < web_assets_count; i++)
            ws_http_route(srv, web_assets[i].path, serve_asset, (void *)&web_assets[i]);
    }
    int rc = ws_server_start(srv);
    if (rc) {
        fprintf(stderr, "chat: cannot listen on port %d: %s\n", opts.cfg.port, ws_strerror(rc));
        ws_server_free(srv);
        room_free(&c.room);
        ws_deflate_free(pmd);
        return 1;
    }
    if (redis) {
        long ms = presence ? strtol(presence, NULL, 10) : 0;
        if (!(c.cl = cluster_new(srv, &c.room, redis, ms > 0 ? (uint32_t)ms : 0, &err))) {
            fprintf(stderr, "chat: --redis %s: %s\n", redis, ws_strerror(err));
            ws_server_free(srv);
            room_free(&c.room);
            ws_deflate_free(pmd);
            return 1;
        }
        atomic_store(&c.metrics.broker, cluster_broker(c.cl));
    }
    cli_announce(srv, &opts, "Responding", "http");
    rc = ws_server_run(srv);
    atomic_store(&c.metrics.broker, NULL);
    cluster_free(c.cl);
    ws_server_free(srv);
    room_free(&c.room);
    ws_deflate_free(pmd);
    return rc == 0 ? 0 : 1;
}
