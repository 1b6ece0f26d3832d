/* SPDX-License-Identifier: MIT */
/* The broker on Redis, through hiredis's async API run on the library's
 * own loop: hiredis asks for read and write interest through its ev hooks
 * (the adapter below, on ws_watch_fd), and the loop's timers give it what
 * hiredis 0.14 lacks: a connect timeout, reconnecting with backoff, and a
 * liveness probe. Two connections: one for publishing and commands, one in
 * subscribe mode. The probe publishes to a channel of this node's own on
 * the first and waits for it on the second, so a subscription that has
 * silently stopped delivering (a known failure of long-lived pub/sub
 * connections) is noticed and made again.
 *
 * hiredis 0.14 aborts when malloc fails (HIREDIS_OOM_HANDLER) and cannot be
 * given another allocator: what we hand it is bounded (max_pending bytes
 * queued, one message at a time in the probe), so its buffers stay small. */
#include "broker/broker_impl.h"
#include "wschat/error.h"
#include "wschat/loop.h"

#include <arpa/inet.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <hiredis/sds.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct redis redis;

typedef struct rconn {
    redis *r;
    const char *role; /* "publish" or "subscribe", for the log */
    redisAsyncContext *ac;
    ws_watch *watch;
    unsigned events;
    ws_timer *connect_timer;
    bool up;
} rconn;

struct redis {
    ws_broker *b;
    ws__loop *loop;
    char ip[INET6_ADDRSTRLEN];
    int port, db;
    char where[272]; /* "HOST:PORT" for the log */
    uint32_t connect_timeout, probe_period, probe_timeout, backoff_min, backoff_max;
    size_t max_pending;
    rconn pub, sub;
    ws_timer *retry, *probe;
    uint32_t backoff;
    char probe_channel[96];
    uint64_t probe_seen, probe_sent; /* loop ms */
    bool ever_up, closing;
    char why[128];     /* the first failure of this outage */
    uint64_t down_at;  /* loop ms */
    uint64_t dropped0; /* the drop counter when the outage began */
    uint64_t jitter;   /* xorshift state for the backoff's jitter */
};

/* --- the adapter: hiredis's ev hooks on a ws_watch ------------------------- */

static void on_io(ws_watch *w, int fd, unsigned events, void *ud)
{
    rconn *c = ud;
    (void)w;
    (void)fd;
    if (c->ac && (events & (WS_IO_READ | WS_IO_ERROR)))
        redisAsyncHandleRead(c->ac);
    if (c->ac && (events & WS_IO_WRITE)) /* the read may have freed it */
        redisAsyncHandleWrite(c->ac);
}

static void set_events(rconn *c, unsigned ev)
{
    if (ev != c->events && c->watch && ws_watch_set(c->watch, ev) == 0)
        c->events = ev;
}

static void ev_add_read(void *pd) { set_events(pd, ((rconn *)pd)->events | WS_IO_READ); }
static void ev_del_read(void *pd) { set_events(pd, ((rconn *)pd)->events & ~WS_IO_READ); }
static void ev_add_write(void *pd) { set_events(pd, ((rconn *)pd)->events | WS_IO_WRITE); }
static void ev_del_write(void *pd) { set_events(pd, ((rconn *)pd)->events & ~WS_IO_WRITE); }

/* hiredis is freeing the context (and will close the fd next). */
static void ev_cleanup(void *pd)
{
    rconn *c = pd;
    ws_watch_free(c->watch);
    c->watch = NULL;
    c->events = 0;
    c->ac = NULL;
    c->up = false;
}

/* --- state -------------------------------------------------------------------- */

static void schedule_retry(redis *r);

static void down(redis *r, rconn *c, const char *why)
{
    if (r->closing)
        return;
    if (!r->why[0])
        snprintf(r->why, sizeof r->why, "%s connection: %s", c->role, why);
    if (ws_broker_get_state(r->b) == WS_BROKER_UP || !r->down_at) {
        ws_broker_stats st;
        ws_broker_get_stats(r->b, &st);
        r->dropped0 = st.dropped;
        r->down_at = ws__loop_clock(r->loop);
        /* Once per outage, not per message or per attempt. */
        ws__log(r->b->log, WS_LOG_WARN,
                "broker: redis %s unreachable (%s); messages to other nodes are dropped until "
                "it is back",
                r->where, r->why);
    }
    if (ws_broker_get_state(r->b) == WS_BROKER_UP)
        ws__broker_set_state(r->b, WS_BROKER_DOWN);
    ws_timer_stop(r->probe);
    if (!r->closing)
        schedule_retry(r);
}

static void maybe_up(redis *r)
{
    if (!r->pub.up || !r->sub.up || ws_broker_get_state(r->b) == WS_BROKER_UP)
        return;
    if (r->ever_up) {
        ws_broker_stats st;
        ws_broker_get_stats(r->b, &st);
        ws__log(r->b->log, WS_LOG_INFO,
                "broker: redis %s back after %llu ms, %llu messages dropped", r->where,
                (unsigned long long)(ws__loop_clock(r->loop) - r->down_at),
                (unsigned long long)(st.dropped - r->dropped0));
    } else {
        ws__log(r->b->log, WS_LOG_INFO, "broker: connected to redis %s as node %s", r->where,
                r->b->node_hex);
    }
    r->ever_up = true;
    r->why[0] = 0;
    r->down_at = 0;
    r->backoff = 0;
    r->probe_seen = r->probe_sent = ws__loop_clock(r->loop);
    ws_timer_start(r->probe, r->probe_period, r->probe_period);
    ws__broker_set_state(r->b, WS_BROKER_UP);
}

/* --- subscriptions ------------------------------------------------------------ */

static void on_sub_reply(redisAsyncContext *ac, void *reply, void *pd)
{
    redis *r = pd;
    redisReply *m = reply;
    (void)ac;
    if (!m || m->type != REDIS_REPLY_ARRAY || m->elements < 3 ||
        m->element[0]->type != REDIS_REPLY_STRING || strcmp(m->element[0]->str, "message") != 0 ||
        m->element[1]->type != REDIS_REPLY_STRING || m->element[2]->type != REDIS_REPLY_STRING)
        return; /* subscribe/unsubscribe confirmations, or the connection going away */
    if (strcmp(m->element[1]->str, r->probe_channel) == 0) {
        r->probe_seen = ws__loop_clock(r->loop);
        return;
    }
    ws__broker_message(r->b, m->element[1]->str, (const uint8_t *)m->element[2]->str,
                       m->element[2]->len);
}

static void send_sub(redis *r, const char *channel, bool on)
{
    if (!r->sub.up)
        return; /* subscribed to on connect (ws__broker_each) */
    const char *argv[2] = {on ? "SUBSCRIBE" : "UNSUBSCRIBE", channel};
    redisAsyncCommandArgv(r->sub.ac, on_sub_reply, r, 2, argv, NULL);
}

static void resubscribe(const char *channel, void *ud) { send_sub(ud, channel, true); }

static void op_subscribe(void *impl, const char *channel, bool on) { send_sub(impl, channel, on); }

/* --- connecting ----------------------------------------------------------------- */

static void on_connect(const redisAsyncContext *ac, int status)
{
    rconn *c = ac->data;
    redis *r = c->r;
    ws_timer_stop(c->connect_timer);
    if (status != REDIS_OK) {
        /* hiredis frees the context when this returns. */
        down(r, c, ac->errstr[0] ? ac->errstr : "connection failed");
        return;
    }
    c->up = true;
    if (c == &r->sub) {
        send_sub(r, r->probe_channel, true);
        ws__broker_each(r->b, resubscribe, r);
    } else if (r->db) {
        char db[16];
        snprintf(db, sizeof db, "%d", r->db);
        const char *argv[2] = {"SELECT", db};
        redisAsyncCommandArgv(c->ac, NULL, NULL, 2, argv, NULL);
    }
    maybe_up(r);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    rconn *c = ac->data;
    (void)status;
    c->up = false; /* the context is freed when this returns */
    down(c->r, c, ac->errstr[0] ? ac->errstr : "connection closed");
}

static void on_connect_timeout(ws_timer *t, void *ud)
{
    rconn *c = ud;
    (void)t;
    if (!c->ac || c->up)
        return;
    redisAsyncFree(c->ac); /* not connected: no disconnect callback, cleanup runs */
    down(c->r, c, "connect timed out");
}

static void start(rconn *c)
{
    redis *r = c->r;
    if (c->ac)
        return;
    redisAsyncContext *ac = redisAsyncConnect(r->ip, r->port);
    if (!ac || ac->err) {
        down(r, c, ac ? ac->errstr : "out of memory");
        if (ac)
            redisAsyncFree(ac);
        return;
    }
    int err = 0;
    c->watch = ws_watch_fd(r->loop, ac->c.fd, 0, on_io, c, &err);
    if (!c->watch) {
        redisAsyncFree(ac);
        down(r, c, ws_strerror(err));
        return;
    }
    c->ac = ac;
    c->events = 0;
    ac->data = c;
    ac->ev.data = c;
    ac->ev.addRead = ev_add_read;
    ac->ev.delRead = ev_del_read;
    ac->ev.addWrite = ev_add_write;
    ac->ev.delWrite = ev_del_write;
    ac->ev.cleanup = ev_cleanup;
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    redisAsyncSetConnectCallback(ac, on_connect); /* asks for write interest: hooks first */
    ws_timer_start(c->connect_timer, r->connect_timeout, 0);
}

static void on_retry(ws_timer *t, void *ud)
{
    redis *r = ud;
    (void)t;
    start(&r->pub);
    start(&r->sub);
}

static void schedule_retry(redis *r)
{
    /* Doubling from backoff_min to backoff_max, +-25% jitter, so that the
     * nodes of a cluster do not all come back in the same millisecond. */
    r->backoff = r->backoff ? r->backoff * 2 : r->backoff_min;
    if (r->backoff > r->backoff_max)
        r->backoff = r->backoff_max;
    r->jitter ^= r->jitter << 13;
    r->jitter ^= r->jitter >> 7;
    r->jitter ^= r->jitter << 17;
    uint64_t wait = r->backoff * 3 / 4 + r->jitter % (r->backoff / 2 + 1);
    ws_timer_start(r->retry, wait, 0);
}

static void on_probe(ws_timer *t, void *ud)
{
    redis *r = ud;
    (void)t;
    uint64_t now = ws__loop_clock(r->loop);
    if (r->sub.up && r->pub.up && now - r->probe_seen > r->probe_timeout) {
        ws__log(r->b->log, WS_LOG_WARN, "broker: the subscription to redis %s stopped delivering",
                r->where);
        redisAsyncDisconnect(r->sub.ac); /* on_disconnect reconnects */
        return;
    }
    if (r->pub.up) {
        const char *argv[3] = {"PUBLISH", r->probe_channel, "probe"};
        redisAsyncCommandArgv(r->pub.ac, NULL, NULL, 3, argv, NULL);
        r->probe_sent = now;
    }
}

/* --- publishing and commands ----------------------------------------------------- */

static bool full(const redis *r) { return sdslen(r->pub.ac->c.obuf) > r->max_pending; }

static int op_publish(void *impl, const char *channel, const uint8_t *hdr, size_t hl,
                      const void *data, size_t len)
{
    redis *r = impl;
    if (!r->pub.up)
        return WS_EBROKER;
    if (full(r))
        return WS_EFULL;
    char small[512];
    char *msg = hl + len <= sizeof small ? small : malloc(hl + len);
    if (!msg)
        return WS_ENOMEM;
    if (hl)
        memcpy(msg, hdr, hl);
    memcpy(msg + hl, data, len);
    const char *argv[3] = {"PUBLISH", channel, msg};
    size_t lens[3] = {7, strlen(channel), hl + len};
    int rc = redisAsyncCommandArgv(r->pub.ac, NULL, NULL, 3, argv, lens);
    if (msg != small)
        free(msg);
    return rc == REDIS_OK ? 0 : WS_EBROKER;
}

typedef struct pending {
    ws_reply_fn fn;
    void *ud;
    redis *r;
} pending;

/* hiredis's reply as ours: the arrays copied into one allocation. */
static size_t count_nodes(const redisReply *m)
{
    size_t n = 1;
    if (m->type == REDIS_REPLY_ARRAY)
        for (size_t i = 0; i < m->elements; i++)
            n += count_nodes(m->element[i]);
    return n;
}

static void convert(const redisReply *m, ws_reply *out, ws_reply **spare)
{
    memset(out, 0, sizeof *out);
    switch (m->type) {
    case REDIS_REPLY_INTEGER:
        out->type = WS_REPLY_INTEGER;
        out->integer = m->integer;
        break;
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS: out->type = WS_REPLY_STRING; break;
    case REDIS_REPLY_ERROR: out->type = WS_REPLY_ERROR; break;
    case REDIS_REPLY_ARRAY: {
        out->type = WS_REPLY_ARRAY;
        out->n = m->elements;
        ws_reply *el = *spare;
        *spare += m->elements;
        out->element = el;
        for (size_t i = 0; i < m->elements; i++)
            convert(m->element[i], &el[i], spare);
        break;
    }
    default: out->type = WS_REPLY_NIL; break;
    }
    if (m->type == REDIS_REPLY_STRING || m->type == REDIS_REPLY_STATUS ||
        m->type == REDIS_REPLY_ERROR) {
        out->str = m->str;
        out->len = m->len;
    }
}

static void on_reply(redisAsyncContext *ac, void *reply, void *pd)
{
    pending *p = pd;
    (void)ac;
    if (!reply) {
        if (p->fn)
            p->fn(NULL, p->r->closing ? WS_ECLOSED : WS_EBROKER, p->ud);
        free(p);
        return;
    }
    size_t n = count_nodes(reply);
    ws_reply one, *nodes = n > 1 ? malloc(n * sizeof *nodes) : &one;
    if (!nodes) {
        if (p->fn)
            p->fn(NULL, WS_ENOMEM, p->ud);
        free(p);
        return;
    }
    ws_reply *spare = nodes + 1;
    convert(reply, nodes, &spare);
    if (p->fn)
        p->fn(nodes, 0, p->ud);
    if (nodes != &one)
        free(nodes);
    free(p);
}

static int op_command(void *impl, int argc, const char *const *argv, const size_t *lens,
                      ws_reply_fn fn, void *ud)
{
    redis *r = impl;
    if (!r->pub.up)
        return WS_EBROKER;
    if (full(r))
        return WS_EFULL;
    pending *p = malloc(sizeof *p);
    if (!p)
        return WS_ENOMEM;
    *p = (pending){fn, ud, r};
    if (redisAsyncCommandArgv(r->pub.ac, on_reply, p, argc, (const char **)argv, lens) !=
        REDIS_OK) {
        free(p);
        return WS_EBROKER;
    }
    return 0;
}

/* --- creating and freeing ---------------------------------------------------------- */

static void close_conn(rconn *c)
{
    ws_timer_free(c->connect_timer);
    c->connect_timer = NULL;
    if (c->ac)
        redisAsyncFree(c->ac); /* pending callbacks get NULL: WS_ECLOSED */
}

static void op_free(void *impl)
{
    redis *r = impl;
    r->closing = true;
    ws_timer_free(r->retry);
    ws_timer_free(r->probe);
    close_conn(&r->pub);
    close_conn(&r->sub);
    free(r);
}

/* On the loop: timers, then the first connection attempt. */
static void op_start(void *impl)
{
    redis *r = impl;
    r->retry = ws_timer_new(r->loop, on_retry, r);
    r->probe = ws_timer_new(r->loop, on_probe, r);
    r->pub.connect_timer = ws_timer_new(r->loop, on_connect_timeout, &r->pub);
    r->sub.connect_timer = ws_timer_new(r->loop, on_connect_timeout, &r->sub);
    if (!r->retry || !r->probe || !r->pub.connect_timer || !r->sub.connect_timer) {
        ws__log(r->b->log, WS_LOG_ERROR, "broker: out of memory; not connecting");
        return;
    }
    start(&r->pub);
    start(&r->sub);
}

static const ws__broker_ops redis_ops = {op_start, op_publish, op_subscribe, op_command, op_free};

/* redis://HOST[:PORT][/DB]; an IPv6 host in brackets. The host is resolved
 * here, once, on the calling thread (at startup, not on a loop). */
static int parse_url(redis *r, const char *url)
{
    if (strncmp(url, "redis://", 8) != 0)
        return WS_EINVAL;
    const char *h = url + 8, *end;
    char host[256];
    if (*h == '[') {
        if (!(end = strchr(h, ']')) || (size_t)(end - h - 1) >= sizeof host)
            return WS_EINVAL;
        memcpy(host, h + 1, (size_t)(end - h - 1));
        host[end - h - 1] = 0;
        end++;
    } else {
        end = h + strcspn(h, ":/");
        if (end == h || (size_t)(end - h) >= sizeof host)
            return WS_EINVAL;
        memcpy(host, h, (size_t)(end - h));
        host[end - h] = 0;
    }
    r->port = 6379;
    if (*end == ':') {
        char *e;
        long p = strtol(end + 1, &e, 10);
        if (e == end + 1 || p < 1 || p > 65535)
            return WS_EINVAL;
        r->port = (int)p;
        end = e;
    }
    if (*end == '/' && end[1]) {
        char *e;
        long db = strtol(end + 1, &e, 10);
        if (*e || db < 0 || db > 100000)
            return WS_EINVAL;
        r->db = (int)db;
    } else if (*end && strcmp(end, "/") != 0) {
        return WS_EINVAL;
    }
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
    if (getaddrinfo(host, NULL, &hints, &ai) != 0 || !ai)
        return WS_ERESOLVE;
    const void *a = ai->ai_family == AF_INET6
                        ? (const void *)&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr
                        : (const void *)&((struct sockaddr_in *)ai->ai_addr)->sin_addr;
    inet_ntop(ai->ai_family, a, r->ip, sizeof r->ip);
    freeaddrinfo(ai);
    snprintf(r->where, sizeof r->where, "%s:%d", host, r->port);
    return 0;
}

static uint32_t or_default(uint32_t v, uint32_t d) { return v ? v : d; }

int ws__redis_open(ws_broker *b, const char *url, const ws_redis_options *o)
{
    redis *r = calloc(1, sizeof *r);
    if (!r)
        return WS_ENOMEM;
    int rc = parse_url(r, url);
    if (rc < 0) {
        free(r);
        return rc;
    }
    ws_redis_options d = o ? *o : (ws_redis_options){0};
    r->b = b;
    r->loop = b->loop;
    r->connect_timeout = or_default(d.connect_timeout_ms, 2000);
    r->probe_period = or_default(d.probe_period_ms, 1000);
    r->probe_timeout = or_default(d.probe_timeout_ms, 3000);
    r->backoff_min = or_default(d.backoff_min_ms, 100);
    r->backoff_max = or_default(d.backoff_max_ms, 1000);
    if (r->backoff_max < r->backoff_min)
        r->backoff_max = r->backoff_min;
    r->max_pending = d.max_pending ? d.max_pending : 8u << 20;
    snprintf(r->probe_channel, sizeof r->probe_channel, "%sprobe:%s", b->prefix, b->node_hex);
    r->pub = (rconn){.r = r, .role = "publish"};
    r->sub = (rconn){.r = r, .role = "subscribe"};
    r->jitter = b->node | 1;
    b->ops = &redis_ops;
    b->impl = r;
    return 0;
}
