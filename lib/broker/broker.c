/* SPDX-License-Identifier: MIT */
/* The broker's generic half: channels (a shared group's or the
 * application's), publishing and receiving shared broadcasts in their
 * envelope, counters, and commands. The implementation (redis.c) only
 * moves bytes; it runs on the same loop. Public calls from other threads
 * are posted to that loop with a reference on the broker, so freeing it
 * never races a task. */
#include "broker/broker_impl.h"
#include "session/session.h"
#include "wschat/error.h"
#include "wschat/loop.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct ws__chan {
    ws__chan *next; /* hash chain */
    char *name;
    ws__share *share;        /* a shared group's channel, or NULL */
    ws_broker_message_fn fn; /* an application channel's callback */
    void *ud;
    uint64_t seq;         /* our last publication on it */
    ws__origins *origins; /* others' last sequence numbers (lazily) */
    bool wanted;          /* subscribed (app: always; group: while members here) */
};

/* A group's side of its sharing, referenced by the group, by its channel
 * and by each task in flight. mu guards b (cleared when the broker goes
 * first) and g (cleared when the group goes first): whoever uses g holds
 * mu, so the group cannot be freed under it. */
struct ws__share {
    ws__group_share base;
    atomic_int refs;
    pthread_mutex_t mu;
    ws_broker *b;
    ws_group *g;
    char *channel; /* immutable */
};

static void share_ref(ws__share *sh)
{
    atomic_fetch_add_explicit(&sh->refs, 1, memory_order_relaxed);
}

static void share_unref(ws__share *sh)
{
    if (atomic_fetch_sub_explicit(&sh->refs, 1, memory_order_acq_rel) != 1)
        return;
    pthread_mutex_destroy(&sh->mu);
    free(sh->channel);
    free(sh);
}

/* --- references and posting --------------------------------------------- */

static void broker_ref(ws_broker *b)
{
    atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
}

void ws__broker_unref(ws_broker *b)
{
    if (atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) != 1)
        return;
    free(b->prefix);
    free(b->tab);
    free(b);
}

typedef struct btask {
    ws_broker *b;
    void (*fn)(ws_broker *b, void *arg);
    void *arg;
} btask;

static void run_btask(ws__loop *l, void *arg)
{
    (void)l;
    btask t = *(btask *)arg;
    free(arg);
    t.fn(t.b, t.arg); /* a closed broker's tasks only free their argument */
    ws__broker_unref(t.b);
}

int ws__broker_post(ws_broker *b, void (*fn)(ws_broker *b, void *arg), void *arg)
{
    if (ws__loop_on_thread(b->loop)) {
        fn(b, arg);
        return 0;
    }
    btask *t = malloc(sizeof *t);
    if (!t)
        return WS_ENOMEM;
    *t = (btask){b, fn, arg};
    broker_ref(b);
    if (ws__loop_post(b->loop, run_btask, t) != 0) {
        ws__broker_unref(b);
        free(t);
        return WS_ENOMEM;
    }
    return 0;
}

/* --- channels ------------------------------------------------------------- */

static size_t hash(const char *s)
{
    size_t h = 1469598103934665603u; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211u;
    return h;
}

static ws__chan *chan_find(ws_broker *b, const char *name)
{
    if (!b->ntab)
        return NULL;
    for (ws__chan *c = b->tab[hash(name) & (b->ntab - 1)]; c; c = c->next)
        if (strcmp(c->name, name) == 0)
            return c;
    return NULL;
}

static int chan_grow(ws_broker *b)
{
    size_t n = b->ntab ? b->ntab * 2 : 16;
    ws__chan **t = calloc(n, sizeof *t);
    if (!t)
        return WS_ENOMEM;
    for (size_t i = 0; i < b->ntab; i++)
        for (ws__chan *c = b->tab[i], *next; c; c = next) {
            next = c->next;
            size_t k = hash(c->name) & (n - 1);
            c->next = t[k];
            t[k] = c;
        }
    free(b->tab);
    b->tab = t;
    b->ntab = n;
    return 0;
}

static ws__chan *chan_add(ws_broker *b, const char *name)
{
    if (b->nchan + 1 > b->ntab / 2 && chan_grow(b) < 0)
        return NULL;
    ws__chan *c = calloc(1, sizeof *c);
    if (!c || !(c->name = strdup(name))) {
        free(c);
        return NULL;
    }
    size_t k = hash(name) & (b->ntab - 1);
    c->next = b->tab[k];
    b->tab[k] = c;
    b->nchan++;
    return c;
}

static void chan_remove(ws_broker *b, ws__chan *c)
{
    for (ws__chan **p = &b->tab[hash(c->name) & (b->ntab - 1)]; *p; p = &(*p)->next)
        if (*p == c) {
            *p = c->next;
            break;
        }
    b->nchan--;
    if (c->share)
        share_unref(c->share);
    free(c->origins);
    free(c->name);
    free(c);
}

static void set_wanted(ws_broker *b, ws__chan *c, bool on)
{
    if (c->wanted == on)
        return;
    c->wanted = on;
    atomic_fetch_add(&b->st.channels, on ? 1u : (unsigned)-1);
    if (b->ops)
        b->ops->subscribe(b->impl, c->name, on);
}

void ws__broker_each(ws_broker *b, void (*fn)(const char *channel, void *ud), void *ud)
{
    for (size_t i = 0; i < b->ntab; i++)
        for (ws__chan *c = b->tab[i]; c; c = c->next)
            if (c->wanted)
                fn(c->name, ud);
}

/* --- what arrives ----------------------------------------------------------- */

void ws__broker_message(ws_broker *b, const char *channel, const uint8_t *p, size_t n)
{
    ws__chan *c = b->closed ? NULL : chan_find(b, channel);
    if (!c || !c->wanted)
        return; /* unsubscribed meanwhile */
    if (!c->share) {
        c->fn(channel, p, n, c->ud);
        return;
    }
    ws__envelope e;
    /* Anyone who can reach Redis can publish on the channel: what is not
     * an envelope, or is larger than a client could send here, is dropped
     * and counted, never sent to the members. */
    if (ws__envelope_parse(p, n, &e) < 0 || e.len > ws__server_host(b->srv)->cfg.max_message_size) {
        atomic_fetch_add_explicit(&b->st.rejected, 1, memory_order_relaxed);
        return;
    }
    if (e.node == b->node)
        return; /* ours: delivered here already */
    if (!c->origins && !(c->origins = calloc(1, sizeof *c->origins)))
        return;
    uint64_t gap;
    if (ws__origins_note(c->origins, e.node, e.seq, &gap) == WS__SEQ_DUPLICATE) {
        atomic_fetch_add_explicit(&b->st.duplicates, 1, memory_order_relaxed);
        return;
    }
    if (gap)
        atomic_fetch_add_explicit(&b->st.gaps, gap, memory_order_relaxed);
    pthread_mutex_lock(&c->share->mu);
    int rc = c->share->g ? ws__group_broadcast_local(c->share->g, e.binary, e.data, e.len) : 0;
    pthread_mutex_unlock(&c->share->mu);
    atomic_fetch_add_explicit(rc == WS_EINVAL ? &b->st.rejected : &b->st.received, 1,
                              memory_order_relaxed); /* WS_EINVAL: text that is not UTF-8 */
}

void ws__broker_set_state(ws_broker *b, ws_broker_state st)
{
    int old = atomic_exchange(&b->state, (int)st);
    if (old == (int)st)
        return;
    if (st == WS_BROKER_DOWN && old == WS_BROKER_UP)
        atomic_fetch_add(&b->st.outages, 1);
    if (st == WS_BROKER_UP && old == WS_BROKER_DOWN)
        atomic_fetch_add(&b->st.reconnects, 1);
    if (b->state_fn && !b->closed)
        b->state_fn(st, b->state_ud);
}

/* --- creating and freeing --------------------------------------------------- */

static void start_task(ws_broker *b, void *arg)
{
    (void)arg;
    if (!b->closed && b->ops)
        b->ops->start(b->impl);
}

ws_broker *ws__broker_new(ws_server *srv, const char *prefix, int *err)
{
    ws__loop *l = srv ? ws_server_loop(srv, 0) : NULL;
    ws_broker *b = l ? calloc(1, sizeof *b) : NULL;
    if (!b) {
        *err = !srv ? WS_EINVAL : !l ? WS_ESTATE : WS_ENOMEM; /* loops exist once started */
        return NULL;
    }
    atomic_init(&b->refs, 1);
    atomic_init(&b->state, WS_BROKER_CONNECTING);
    b->srv = srv;
    b->loop = l;
    b->log = &ws__server_host(srv)->log;
    if (getentropy(&b->node, sizeof b->node) != 0)
        b->node = (uint64_t)(uintptr_t)b ^ (uint64_t)getpid() << 32; /* unique enough here */
    snprintf(b->node_hex, sizeof b->node_hex, "%016llx", (unsigned long long)b->node);
    if (!(b->prefix = strdup(prefix ? prefix : "wschat:"))) {
        ws__broker_unref(b);
        *err = WS_ENOMEM;
        return NULL;
    }
    return b;
}

void ws__broker_start(ws_broker *b) { ws__broker_post(b, start_task, NULL); }

ws_broker *ws_broker_redis(ws_server *srv, const char *url, const ws_redis_options *o, int *err)
{
    int rc = WS_EINVAL;
    ws_broker *b = url ? ws__broker_new(srv, o ? o->prefix : NULL, &rc) : NULL;
    if (b && (rc = ws__redis_open(b, url, o)) < 0) {
        ws__broker_unref(b);
        b = NULL;
    }
    if (!b) {
        if (err)
            *err = rc;
        return NULL;
    }
    ws__broker_start(b); /* the loop connects once it runs */
    return b;
}

static void close_task(ws_broker *b, void *arg)
{
    (void)arg;
    for (size_t i = 0; i < b->ntab; i++)
        while (b->tab[i]) {
            ws__chan *c = b->tab[i];
            if (c->share) {
                pthread_mutex_lock(&c->share->mu);
                c->share->b = NULL; /* the group goes on, local only */
                pthread_mutex_unlock(&c->share->mu);
            }
            chan_remove(b, c);
        }
    if (b->ops)
        b->ops->free(b->impl); /* pending callbacks get WS_ECLOSED */
    b->ops = NULL;
    b->closed = true;
}

void ws_broker_free(ws_broker *b)
{
    if (!b)
        return;
    /* Always posted, even on the loop's thread: this may be called from
     * one of the broker's own callbacks, inside hiredis. On the loop's
     * thread nothing reaches the application from now on; a stopped
     * server runs what was posted when it is freed. */
    if (ws__loop_on_thread(b->loop)) {
        b->closed = true;
        b->state_fn = NULL;
    }
    btask *t = malloc(sizeof *t);
    if (t) {
        *t = (btask){b, close_task, NULL};
        broker_ref(b);
        if (ws__loop_post(b->loop, run_btask, t) != 0) {
            ws__broker_unref(b);
            free(t);
            t = NULL;
        }
    }
    if (!t)
        close_task(b, NULL);
    ws__broker_unref(b);
}

ws_broker_state ws_broker_get_state(const ws_broker *b)
{
    return b ? (ws_broker_state)atomic_load(&b->state) : WS_BROKER_DOWN;
}

const char *ws_broker_node(const ws_broker *b) { return b ? b->node_hex : ""; }

typedef struct state_arg {
    void (*fn)(ws_broker_state st, void *ud);
    void *ud;
} state_arg;

static void state_task(ws_broker *b, void *arg)
{
    state_arg *a = arg;
    b->state_fn = a->fn;
    b->state_ud = a->ud;
    free(a);
}

void ws_broker_on_state(ws_broker *b, void (*fn)(ws_broker_state st, void *ud), void *ud)
{
    state_arg *a = b ? malloc(sizeof *a) : NULL;
    if (!a)
        return;
    *a = (state_arg){fn, ud};
    if (ws__broker_post(b, state_task, a) != 0)
        free(a);
}

void ws_broker_get_stats(const ws_broker *b, ws_broker_stats *out)
{
    if (!out)
        return;
    memset(out, 0, sizeof *out);
    if (!b)
        return;
    out->published = atomic_load_explicit(&b->st.published, memory_order_relaxed);
    out->received = atomic_load_explicit(&b->st.received, memory_order_relaxed);
    out->dropped = atomic_load_explicit(&b->st.dropped, memory_order_relaxed);
    out->gaps = atomic_load_explicit(&b->st.gaps, memory_order_relaxed);
    out->duplicates = atomic_load_explicit(&b->st.duplicates, memory_order_relaxed);
    out->rejected = atomic_load_explicit(&b->st.rejected, memory_order_relaxed);
    out->reconnects = atomic_load_explicit(&b->st.reconnects, memory_order_relaxed);
    out->outages = atomic_load_explicit(&b->st.outages, memory_order_relaxed);
    out->channels = atomic_load_explicit(&b->st.channels, memory_order_relaxed);
    out->state = ws_broker_get_state(b);
}

/* --- publishing --------------------------------------------------------------- */

static void count_publish(ws_broker *b, int rc)
{
    if (rc == 0)
        atomic_fetch_add_explicit(&b->st.published, 1, memory_order_relaxed);
    else
        atomic_fetch_add_explicit(&b->st.dropped, 1, memory_order_relaxed);
}

/* A publication on its way to the loop: channel and data in one block. */
typedef struct pub {
    ws__share *share; /* a group's broadcast (enveloped), else an app message */
    bool binary;
    size_t len;
    char *channel;
    uint8_t data[];
} pub;

static void publish_now(ws_broker *b, const char *channel, ws__share *share, bool binary,
                        const void *data, size_t len)
{
    if (b->closed || !b->ops)
        return;
    if (!share) {
        count_publish(b, b->ops->publish(b->impl, channel, NULL, 0, data, len));
        return;
    }
    ws__chan *c = chan_find(b, share->channel);
    if (!c)
        return;
    uint8_t hdr[WS__ENV_HEADER];
    ws__envelope e = {.node = b->node, .seq = ++c->seq, .binary = binary};
    ws__envelope_header(&e, hdr);
    count_publish(b, b->ops->publish(b->impl, c->name, hdr, sizeof hdr, data, len));
}

static void pub_task(ws_broker *b, void *arg)
{
    pub *p = arg;
    publish_now(b, p->channel, p->share, p->binary, p->data, p->len);
    if (p->share)
        share_unref(p->share);
    free(p);
}

static int post_publish(ws_broker *b, const char *channel, ws__share *share, bool binary,
                        const void *data, size_t len)
{
    if (ws__loop_on_thread(b->loop)) {
        publish_now(b, channel, share, binary, data, len);
        return 0;
    }
    size_t cl = channel ? strlen(channel) + 1 : 0;
    pub *p = malloc(sizeof *p + len + cl);
    if (!p) {
        atomic_fetch_add_explicit(&b->st.dropped, 1, memory_order_relaxed);
        return WS_ENOMEM;
    }
    *p = (pub){share, binary, len, NULL};
    memcpy(p->data, data, len);
    if (channel)
        p->channel = memcpy(p->data + len, channel, cl);
    if (share)
        share_ref(share);
    if (ws__broker_post(b, pub_task, p) != 0) {
        if (share)
            share_unref(share);
        free(p);
        atomic_fetch_add_explicit(&b->st.dropped, 1, memory_order_relaxed);
        return WS_ENOMEM;
    }
    return 0;
}

int ws_broker_publish(ws_broker *b, const char *channel, const void *data, size_t len)
{
    if (!b || !channel || !*channel || (!data && len))
        return WS_EINVAL;
    return post_publish(b, channel, NULL, false, data ? data : "", len);
}

/* --- application channels ------------------------------------------------------ */

typedef struct sub_arg {
    ws_broker_message_fn fn; /* NULL: unsubscribe */
    void *ud;
    char channel[];
} sub_arg;

static void sub_task(ws_broker *b, void *arg)
{
    sub_arg *a = arg;
    if (!b->closed) {
        ws__chan *c = chan_find(b, a->channel);
        if (a->fn && !c && (c = chan_add(b, a->channel)) != NULL) {
            c->fn = a->fn;
            c->ud = a->ud;
            set_wanted(b, c, true);
        } else if (!a->fn && c && !c->share) {
            set_wanted(b, c, false);
            chan_remove(b, c);
        }
    }
    free(a);
}

static int post_sub(ws_broker *b, const char *channel, ws_broker_message_fn fn, void *ud)
{
    if (!b || !channel || !*channel)
        return WS_EINVAL;
    size_t n = strlen(channel) + 1;
    sub_arg *a = malloc(sizeof *a + n);
    if (!a)
        return WS_ENOMEM;
    a->fn = fn;
    a->ud = ud;
    memcpy(a->channel, channel, n);
    if (ws__broker_post(b, sub_task, a) != 0) {
        free(a);
        return WS_ENOMEM;
    }
    return 0;
}

int ws_broker_subscribe(ws_broker *b, const char *channel, ws_broker_message_fn fn, void *ud)
{
    return fn ? post_sub(b, channel, fn, ud) : WS_EINVAL;
}

int ws_broker_unsubscribe(ws_broker *b, const char *channel)
{
    return post_sub(b, channel, NULL, NULL);
}

/* --- shared groups -------------------------------------------------------------- */

/* On the loop: subscribed while the group has members here. */
static void members_task(ws_broker *b, void *arg)
{
    ws__share *sh = arg;
    ws__chan *c = b->closed ? NULL : chan_find(b, sh->channel);
    if (c && c->share == sh) {
        pthread_mutex_lock(&sh->mu);
        bool on = sh->g && ws_group_count(sh->g) > 0;
        pthread_mutex_unlock(&sh->mu);
        set_wanted(b, c, on);
    }
    share_unref(sh);
}

/* Takes a reference on sh's broker, or returns NULL if it is gone. */
static ws_broker *share_broker(ws__share *sh)
{
    pthread_mutex_lock(&sh->mu);
    ws_broker *b = sh->b;
    if (b)
        broker_ref(b);
    pthread_mutex_unlock(&sh->mu);
    return b;
}

static void share_members_changed(ws__group_share *base)
{
    ws__share *sh = (ws__share *)base;
    ws_broker *b = share_broker(sh);
    if (!b)
        return;
    share_ref(sh);
    if (ws__broker_post(b, members_task, sh) != 0)
        share_unref(sh);
    ws__broker_unref(b);
}

/* The group is gone: its channel goes too. */
static void unshare_task(ws_broker *b, void *arg)
{
    ws__share *sh = arg;
    ws__chan *c = b->closed ? NULL : chan_find(b, sh->channel);
    if (c && c->share == sh) {
        set_wanted(b, c, false);
        chan_remove(b, c);
    }
    share_unref(sh);
}

static void share_release(ws__group_share *base)
{
    ws__share *sh = (ws__share *)base;
    pthread_mutex_lock(&sh->mu);
    sh->g = NULL;
    pthread_mutex_unlock(&sh->mu);
    ws_broker *b = share_broker(sh);
    if (b) {
        share_ref(sh);
        if (ws__broker_post(b, unshare_task, sh) != 0)
            share_unref(sh);
        ws__broker_unref(b);
    }
    share_unref(sh); /* the group's reference */
}

static void share_publish(ws__group_share *base, bool binary, const void *data, size_t len)
{
    ws__share *sh = (ws__share *)base;
    ws_broker *b = share_broker(sh);
    if (!b)
        return;
    post_publish(b, NULL, sh, binary, data, len);
    ws__broker_unref(b);
}

static void share_task(ws_broker *b, void *arg)
{
    ws__share *sh = arg; /* the channel's reference, from ws_group_share */
    ws__chan *c = b->closed || chan_find(b, sh->channel) ? NULL : chan_add(b, sh->channel);
    if (!c) {
        ws__log(b->log, WS_LOG_ERROR, "broker: cannot share group %s (taken or out of memory)",
                sh->channel);
        share_unref(sh);
        return;
    }
    c->share = sh;
    pthread_mutex_lock(&sh->mu);
    bool on = sh->g && ws_group_count(sh->g) > 0;
    pthread_mutex_unlock(&sh->mu);
    set_wanted(b, c, on);
}

int ws_group_share(ws_group *g, ws_broker *b, const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (!g || !b || n == 0 || n > 200)
        return WS_EINVAL;
    ws__share *sh = calloc(1, sizeof *sh);
    size_t pl = strlen(b->prefix), cap = pl + 2 + n + 1;
    if (!sh || !(sh->channel = malloc(cap))) {
        free(sh);
        return WS_ENOMEM;
    }
    sh->base = (ws__group_share){share_publish, share_members_changed, share_release};
    atomic_init(&sh->refs, 2); /* the group's and the channel's */
    pthread_mutex_init(&sh->mu, NULL);
    sh->b = b;
    sh->g = g;
    snprintf(sh->channel, cap, "%sg:%s", b->prefix, name);
    int rc = ws__group_set_share(g, &sh->base);
    if (rc < 0) {
        atomic_store(&sh->refs, 1);
        share_unref(sh);
        return rc;
    }
    if (ws__broker_post(b, share_task, sh) != 0) {
        share_unref(sh); /* the group keeps its reference: shared with no one */
        return WS_ENOMEM;
    }
    return 0;
}

/* --- commands --------------------------------------------------------------------- */

/* A command on its way to the loop: argv and the bytes in one block. */
typedef struct cmd {
    ws_reply_fn fn;
    void *ud;
    int argc;
    const char **argv;
    size_t *lens;
} cmd;

static void cmd_task(ws_broker *b, void *arg)
{
    cmd *c = arg;
    int rc = b->closed || !b->ops
                 ? WS_ECLOSED
                 : b->ops->command(b->impl, c->argc, c->argv, c->lens, c->fn, c->ud);
    if (rc < 0 && c->fn)
        c->fn(NULL, rc, c->ud);
    free(c);
}

int ws_broker_command(ws_broker *b, ws_reply_fn fn, void *ud, int argc, const char *const *argv,
                      const size_t *lens)
{
    if (!b || argc < 1 || argc > 1024 || !argv)
        return WS_EINVAL;
    if (ws_broker_get_state(b) != WS_BROKER_UP)
        return WS_EBROKER;
    size_t bytes = 0;
    for (int i = 0; i < argc; i++) {
        if (!argv[i])
            return WS_EINVAL;
        bytes += lens ? lens[i] : strlen(argv[i]);
    }
    size_t na = (size_t)argc;
    cmd *c = malloc(sizeof *c + na * (sizeof(char *) + sizeof(size_t)) + bytes + na);
    if (!c)
        return WS_ENOMEM;
    c->fn = fn;
    c->ud = ud;
    c->argc = argc;
    c->argv = (const char **)(c + 1);
    c->lens = (size_t *)(c->argv + na);
    char *p = (char *)(c->lens + na);
    for (int i = 0; i < argc; i++) {
        size_t l = lens ? lens[i] : strlen(argv[i]);
        memcpy(p, argv[i], l);
        p[l] = 0;
        c->argv[i] = p;
        c->lens[i] = l;
        p += l + 1;
    }
    if (ws__broker_post(b, cmd_task, c) != 0) {
        free(c);
        return WS_ENOMEM;
    }
    return 0;
}
