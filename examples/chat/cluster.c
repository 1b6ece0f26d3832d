/* SPDX-License-Identifier: MIT */
/* The chat's shared state in Redis (cluster.h). Keys, all under "chat:":
 *   owner            hash   name -> node holding it (unique names)
 *   order            zset   name -> arrival number (the /users order)
 *   seq, counter     ints   arrival numbers; N of "userN"
 *   nodes            set    nodes that have registered
 *   alive:NODE       string expires unless NODE refreshes it
 *   members:NODE     set    the names NODE holds (what a sweep removes)
 * and the channel chat:node:NODE for whispers to NODE's users. Every change
 * of several keys is one Lua script, so no reader sees half of it. */
#include "cluster.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CALL_MS 2000

struct cluster {
    ws_server *srv;
    room *r;
    ws_broker *b;
    uint32_t presence_ms;
    char node[17];
    char k_alive[64], k_members[64], ch_node[64];
    ws_timer *beat, *sweep;
};

/* Claims ARGV[1] for node ARGV[2]: the cluster's count, or -1 if taken. */
static const char CLAIM[] =
    "if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then return -1 end "
    "redis.call('ZADD', KEYS[2], redis.call('INCR', KEYS[3]), ARGV[1]) "
    "redis.call('SADD', KEYS[4], ARGV[1]) "
    "return redis.call('ZCARD', KEYS[2])";
/* Gives ARGV[1] back if node ARGV[2] holds it. */
static const char RELEASE[] =
    "if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then "
    "redis.call('HDEL', KEYS[1], ARGV[1]) redis.call('ZREM', KEYS[2], ARGV[1]) end "
    "redis.call('SREM', KEYS[3], ARGV[1]) return 1";
/* ARGV[1] -> ARGV[2] for node ARGV[3], keeping the arrival place; -1 if
 * the new name is taken. */
static const char RENAME[] =
    "if redis.call('HSETNX', KEYS[1], ARGV[2], ARGV[3]) == 0 then return -1 end "
    "local sc = redis.call('ZSCORE', KEYS[2], ARGV[1]) or redis.call('INCR', KEYS[3]) "
    "redis.call('ZADD', KEYS[2], sc, ARGV[2]) "
    "if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[3] then "
    "redis.call('HDEL', KEYS[1], ARGV[1]) redis.call('ZREM', KEYS[2], ARGV[1]) end "
    "redis.call('SADD', KEYS[4], ARGV[2]) redis.call('SREM', KEYS[4], ARGV[1]) return 1";
/* Removes the users of every node whose alive key has expired. */
static const char SWEEP[] =
    "local n = 0 "
    "for _, node in ipairs(redis.call('SMEMBERS', KEYS[1])) do "
    "  if redis.call('EXISTS', 'chat:alive:' .. node) == 0 then "
    "    local mk = 'chat:members:' .. node "
    "    for _, u in ipairs(redis.call('SMEMBERS', mk)) do "
    "      if redis.call('HGET', KEYS[2], u) == node then "
    "        redis.call('HDEL', KEYS[2], u) redis.call('ZREM', KEYS[3], u) n = n + 1 end "
    "    end "
    "    redis.call('DEL', mk) redis.call('SREM', KEYS[1], node) "
    "  end "
    "end return n";

/* --- answers -------------------------------------------------------------- */

typedef struct answer {
    ws_reply_type type;
    long long integer;
    char str[CHAT_NAME_MAX + 32];
    json_t *names; /* an array reply's strings */
} answer;

static void take(const ws_reply *r, int err, void *ud)
{
    answer *a = ud;
    (void)err;
    a->type = r->type;
    a->integer = r->integer;
    if (r->str)
        snprintf(a->str, sizeof a->str, "%s", r->str);
    if (r->type == WS_REPLY_ARRAY && (a->names = json_array()) != NULL)
        for (size_t i = 0; i < r->n; i++)
            if (r->element[i].str)
                json_array_append_new(a->names, json_string(r->element[i].str));
}

/* A command from s's handler, waiting for the answer. 0 or an error. */
static int ask(cluster *c, ws_session *s, answer *a, int argc, const char *const *argv)
{
    memset(a, 0, sizeof *a);
    int rc = ws_broker_call(s, c->b, CALL_MS, take, a, argc, argv, NULL);
    if (rc == 0 && a->type == WS_REPLY_ERROR) {
        fprintf(stderr, "chat: redis: %s\n", a->str);
        rc = WS_EBROKER;
    }
    return rc;
}

/* Claims name: the cluster's count (> 0), 0 if taken, or an error. */
static long long claim(cluster *c, ws_session *s, const char *name)
{
    const char *argv[] = {"EVAL",     CLAIM,        "4",  "chat:owner", "chat:order",
                          "chat:seq", c->k_members, name, c->node};
    answer a;
    int rc = ask(c, s, &a, 9, argv);
    if (rc < 0)
        return rc;
    return a.integer < 0 ? 0 : a.integer;
}

static void release(cluster *c, const char *name)
{
    const char *argv[] = {"EVAL",       RELEASE,      "3",  "chat:owner",
                          "chat:order", c->k_members, name, c->node};
    ws_broker_command(c->b, NULL, NULL, 8, argv, NULL);
}

/* --- joining and leaving ---------------------------------------------------- */

size_t cluster_join(cluster *c, ws_session *s, bool json, const char *wanted,
                    char name[CHAT_NAME_MAX + 1], const char **refused)
{
    ws_session_id id = ws_session_get_id(s);
    *refused = NULL;
    if (wanted && !chat_name_valid(wanted)) {
        *refused = "names are 1-32 letters, digits, '_' or '-'";
        wanted = NULL;
    }
    long long count = 0;
    if (wanted) {
        count = claim(c, s, wanted);
        if (count == 0)
            *refused = "that name is taken";
        else if (count > 0)
            snprintf(name, CHAT_NAME_MAX + 1, "%s", wanted);
    }
    /* "userN" from the cluster's counter; one may have been chosen by hand. */
    for (int tries = 0; count == 0 && tries < 8; tries++) {
        const char *argv[] = {"INCR", "chat:counter"};
        answer a;
        if (ask(c, s, &a, 2, argv) < 0) {
            count = -1;
            break;
        }
        snprintf(name, CHAT_NAME_MAX + 1, "user%lld", a.integer - 1);
        count = claim(c, s, name);
    }
    if (count <= 0) {
        /* Redis is away: this node's room alone decides, as without --redis. */
        const char *why = NULL;
        size_t n = room_join(c->r, id, json, wanted, name, &why);
        if (!*refused)
            *refused = why;
        return n;
    }
    char claimed[CHAT_NAME_MAX + 1];
    const char *local = NULL;
    snprintf(claimed, sizeof claimed, "%s", name);
    room_join(c->r, id, json, claimed, name, &local);
    return (size_t)count;
}

void cluster_leave(cluster *c, ws_session *s, const char *name)
{
    (void)s; /* the session has ended: nothing waits for the answer */
    release(c, name);
}

const char *cluster_rename(cluster *c, ws_session *s, const char *wanted,
                           char old[CHAT_NAME_MAX + 1])
{
    if (!chat_name_valid(wanted))
        return "names are 1-32 letters, digits, '_' or '-'";
    char cur[CHAT_NAME_MAX + 1];
    if (room_name_of(c->r, ws_session_get_id(s), cur) < 0)
        return "you are not in the room";
    if (strcmp(cur, wanted) == 0)
        return "that is already your name";
    const char *argv[] = {"EVAL",     RENAME,       "4", "chat:owner", "chat:order",
                          "chat:seq", c->k_members, cur, wanted,       c->node};
    answer a;
    int rc = ask(c, s, &a, 10, argv);
    if (rc == 0 && a.integer < 0)
        return "that name is taken";
    return room_rename(c->r, ws_session_get_id(s), wanted, old);
}

/* --- whispers across nodes ----------------------------------------------------- */

int cluster_whisper(cluster *c, ws_session *s, const char *to, const char *text, const char *ev)
{
    const char *argv[] = {"HGET", "chat:owner", to};
    answer a;
    if (ask(c, s, &a, 3, argv) < 0 || a.type != WS_REPLY_STRING || strcmp(a.str, c->node) == 0)
        return -1;
    json_t *msg = json_pack("{s:s,s:s,s:s}", "to", to, "text", text, "ev", ev);
    char *body = msg ? json_dumps(msg, JSON_COMPACT) : NULL;
    json_decref(msg);
    if (!body)
        return -1;
    char ch[sizeof a.str + 16];
    snprintf(ch, sizeof ch, "chat:node:%s", a.str);
    int rc = ws_broker_publish(c->b, ch, body, strlen(body));
    free(body);
    return rc < 0 ? -1 : 0;
}

/* On loop 0: a whisper from another node for one of ours. */
static void on_node_message(const char *channel, const void *data, size_t len, void *ud)
{
    cluster *c = ud;
    (void)channel;
    json_t *m = json_loadb(data, len, 0, NULL);
    const char *to, *text, *ev;
    ws_session_id id;
    bool json;
    if (m && json_unpack(m, "{s:s,s:s,s:s}", "to", &to, "text", &text, "ev", &ev) == 0 &&
        room_find(c->r, to, &id, &json) == 0) {
        const char *theirs = json ? ev : text;
        ws_server_send(c->srv, id, false, theirs, strlen(theirs));
    }
    json_decref(m);
}

char *cluster_names(cluster *c, ws_session *s, bool json)
{
    const char *argv[] = {"ZRANGE", "chat:order", "0", "-1"};
    answer a;
    if (ask(c, s, &a, 4, argv) < 0 || !a.names) {
        json_decref(a.names);
        return json ? room_names_json(c->r) : room_names_text(c->r);
    }
    char *out = NULL;
    if (json) {
        out = json_dumps(a.names, JSON_COMPACT);
    } else {
        size_t len = 1, n = json_array_size(a.names);
        for (size_t i = 0; i < n; i++)
            len += strlen(json_string_value(json_array_get(a.names, i))) + 2;
        if ((out = malloc(len)) != NULL) {
            out[0] = 0;
            for (size_t i = 0; i < n; i++) {
                if (i)
                    strcat(out, ", ");
                strcat(out, json_string_value(json_array_get(a.names, i)));
            }
        }
    }
    json_decref(a.names);
    return out;
}

/* --- presence: heartbeat and sweep, on loop 0 ---------------------------------- */

static void heartbeat(cluster *c)
{
    char px[16];
    snprintf(px, sizeof px, "%u", c->presence_ms * 9 / 10);
    const char *set[] = {"SET", c->k_alive, "1", "PX", px};
    const char *add[] = {"SADD", "chat:nodes", c->node};
    ws_broker_command(c->b, NULL, NULL, 5, set, NULL);
    ws_broker_command(c->b, NULL, NULL, 3, add, NULL);
}

static void on_beat(ws_timer *t, void *ud)
{
    (void)t;
    heartbeat(ud);
}

static void on_sweep(ws_timer *t, void *ud)
{
    cluster *c = ud;
    (void)t;
    const char *argv[] = {"EVAL", SWEEP, "3", "chat:nodes", "chat:owner", "chat:order"};
    ws_broker_command(c->b, NULL, NULL, 6, argv, NULL);
}

/* Back after an outage: this node's users are claimed again (a name taken
 * meanwhile on another node stays with both; the log says so). */
static void reclaim_one(const char *name, void *ud)
{
    cluster *c = ud;
    const char *argv[] = {"EVAL",     CLAIM,        "4",  "chat:owner", "chat:order",
                          "chat:seq", c->k_members, name, c->node};
    ws_broker_command(c->b, NULL, NULL, 9, argv, NULL);
}

static void on_state(ws_broker_state st, void *ud)
{
    cluster *c = ud;
    if (st != WS_BROKER_UP)
        return;
    heartbeat(c);
    room_each_name(c->r, reclaim_one, c);
}

static void setup(ws_loop *l, void *ud)
{
    cluster *c = ud;
    c->beat = ws_timer_new(l, on_beat, c);
    c->sweep = ws_timer_new(l, on_sweep, c);
    uint32_t period = c->presence_ms / 10 ? c->presence_ms / 10 : 1;
    if (c->beat)
        ws_timer_start(c->beat, c->presence_ms / 3, c->presence_ms / 3);
    if (c->sweep)
        ws_timer_start(c->sweep, period, period);
}

cluster *cluster_new(ws_server *srv, room *r, const char *url, uint32_t presence_ms, int *err)
{
    cluster *c = calloc(1, sizeof *c);
    if (!c) {
        *err = WS_ENOMEM;
        return NULL;
    }
    c->srv = srv;
    c->r = r;
    c->presence_ms = presence_ms ? presence_ms : 30000;
    if (!(c->b = ws_broker_redis(srv, url, NULL, err))) {
        free(c);
        return NULL;
    }
    snprintf(c->node, sizeof c->node, "%s", ws_broker_node(c->b));
    snprintf(c->k_alive, sizeof c->k_alive, "chat:alive:%s", c->node);
    snprintf(c->k_members, sizeof c->k_members, "chat:members:%s", c->node);
    snprintf(c->ch_node, sizeof c->ch_node, "chat:node:%s", c->node);
    ws_group_share(r->text, c->b, "chat:text");
    ws_group_share(r->json, c->b, "chat:json");
    ws_broker_subscribe(c->b, c->ch_node, on_node_message, c);
    ws_broker_on_state(c->b, on_state, c);
    ws_loop_post(ws_server_loop(srv, 0), setup, c);
    return c;
}

static void release_one(const char *name, void *ud) { release(ud, name); }

void cluster_free(cluster *c)
{
    if (!c)
        return;
    /* Best effort: what is still connected says goodbye; a sweep on
     * another node removes the rest once the alive key expires. */
    room_each_name(c->r, release_one, c);
    const char *del[] = {"DEL", c->k_alive};
    ws_broker_command(c->b, NULL, NULL, 2, del, NULL);
    ws_timer_free(c->beat);
    ws_timer_free(c->sweep);
    ws_broker_free(c->b);
    free(c);
}

ws_broker *cluster_broker(cluster *c) { return c->b; }

const char *cluster_state(cluster *c)
{
    switch (ws_broker_get_state(c->b)) {
    case WS_BROKER_UP: return "up";
    case WS_BROKER_DOWN: return "down";
    default: return "connecting";
    }
}
