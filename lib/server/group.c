/* ws_group: membership under one mutex; broadcast encodes the frame once
 * into a refcounted blob and hands each loop one task with its members' ids.
 * Members are referred to by id outside their own loop, so a member that
 * ends mid-broadcast is simply skipped. */
#include "proto/frame.h"
#include "proto/utf8.h"
#include "server/session.h"
#include "util/format.h"
#include "wschat/error.h"
#include "wschat/group.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct member {
    ws_session_id id;
} member;

struct ws_group {
    ws_server *srv;
    pthread_mutex_t mu;
    member *v;
    size_t n, cap;
};

ws_group *ws_group_new(ws_server *srv)
{
    if (!srv)
        return NULL;
    ws_group *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->srv = srv;
    pthread_mutex_init(&g->mu, NULL);
    return g;
}

void ws_group_free(ws_group *g)
{
    if (!g)
        return;
    pthread_mutex_destroy(&g->mu);
    free(g->v);
    free(g);
}

static long find(const ws_group *g, ws_session_id id)
{
    for (size_t i = 0; i < g->n; i++)
        if (g->v[i].id == id)
            return (long)i;
    return -1;
}

int ws_group_add(ws_group *g, ws_session *s)
{
    if (!g || !s)
        return WS_EINVAL;
    if (s->ended || s->phase != WS__PH_OPEN)
        return WS_ECLOSED;
    ws__membership *m = malloc(sizeof *m);
    if (!m)
        return WS_ENOMEM;
    pthread_mutex_lock(&g->mu);
    int rc = 0;
    if (find(g, s->id) >= 0) {
        rc = WS_EEXIST;
    } else if (g->n == g->cap) {
        size_t cap = g->cap ? g->cap * 2 : 16;
        member *v = realloc(g->v, cap * sizeof *v);
        if (v) {
            g->v = v;
            g->cap = cap;
        } else {
            rc = WS_ENOMEM;
        }
    }
    if (rc == 0)
        g->v[g->n++] = (member){s->id};
    pthread_mutex_unlock(&g->mu);
    if (rc) {
        free(m);
        return rc;
    }
    m->group = g;
    m->next = s->groups;
    s->groups = m;
    return 0;
}

static int drop(ws_group *g, ws_session_id id)
{
    pthread_mutex_lock(&g->mu);
    long i = find(g, id);
    if (i >= 0)
        g->v[i] = g->v[--g->n];
    pthread_mutex_unlock(&g->mu);
    return i >= 0 ? 0 : WS_ENOTFOUND;
}

int ws_group_remove(ws_group *g, ws_session *s)
{
    if (!g || !s)
        return WS_EINVAL;
    int rc = drop(g, s->id);
    for (ws__membership **p = &s->groups; *p; p = &(*p)->next) {
        if ((*p)->group == g) {
            ws__membership *m = *p;
            *p = m->next;
            free(m);
            break;
        }
    }
    return rc;
}

void ws__group_leave_all(ws_session *s)
{
    while (s->groups) {
        ws__membership *m = s->groups;
        s->groups = m->next;
        drop(m->group, s->id);
        free(m);
    }
}

size_t ws_group_count(ws_group *g)
{
    if (!g)
        return 0;
    pthread_mutex_lock(&g->mu);
    size_t n = g->n;
    pthread_mutex_unlock(&g->mu);
    return n;
}

typedef struct bcast {
    ws__blob *frame;      /* encoded once: header + payload */
    uint8_t op;
    size_t hlen;          /* header bytes in frame */
    size_t n;
    ws_session_id ids[];
} bcast;

/* Runs on the members' loop. */
static int deliver(ws__worker *w, const bcast *b)
{
    int count = 0;
    for (size_t i = 0; i < b->n; i++) {
        ws_session *s = ws__worker_lookup(w, b->ids[i]);
        if (!s || s->phase != WS__PH_OPEN || s->ended || s->conn.state != WS__CONN_OPEN)
            continue;
        int rc;
        if (!ws__conn_sends_verbatim(&s->conn)) {
            /* This session transforms its frames: it needs its own copy. */
            rc = ws__conn_send(&s->conn, b->op, b->frame->data + b->hlen, b->frame->len - b->hlen);
        } else {
            rc = ws__sendq_append_blob(&s->q, b->frame);
            if (rc == 0) {
                if (s->q.bytes > s->w->srv->cfg.send_hard_limit)
                    s->overloaded = true;
                ws__session_mark_dirty(s);
            }
        }
        if (ws__session_after_send(s, rc) == 0)
            count++;
    }
    return count;
}

static void bcast_task(ws__loop *l, void *arg)
{
    bcast *b = arg;
    deliver(WS__OWNER_OF(l, ws__worker, loop), b);
    ws__blob_unref(b->frame);
    free(b);
}

int ws_group_broadcast(ws_group *g, bool binary, const void *data, size_t len)
{
    if (!g || (!data && len))
        return WS_EINVAL;
    uint8_t op = binary ? WS__OP_BINARY : WS__OP_TEXT;
    if (!binary && !ws__utf8_valid(data, len))
        return WS_EINVAL;
    uint8_t hdr[WS__MAX_HEADER];
    size_t hlen = ws__frame_header(hdr, true, 0, op, len, NULL);
    ws__blob *frame = ws__blob_new(hlen + len);
    if (!frame)
        return WS_ENOMEM;
    memcpy(frame->data, hdr, hlen);
    if (len)
        memcpy(frame->data + hlen, data, len);
    ws_server *srv = g->srv;
    int nw = srv->nworkers;
    bcast **per = calloc((size_t)(nw ? nw : 1), sizeof *per);
    int rc = per ? 0 : WS_ENOMEM;
    pthread_mutex_lock(&g->mu);
    for (int k = 0; rc == 0 && k < nw; k++) {
        size_t cnt = 0;
        for (size_t i = 0; i < g->n; i++)
            cnt += WS__ID_WORKER(g->v[i].id) == k;
        if (!cnt)
            continue;
        per[k] = malloc(sizeof *per[k] + cnt * sizeof(ws_session_id));
        if (!per[k]) {
            rc = WS_ENOMEM;
            break;
        }
        *per[k] = (bcast){.frame = frame, .op = op, .hlen = hlen, .n = 0};
        for (size_t i = 0; i < g->n; i++)
            if (WS__ID_WORKER(g->v[i].id) == k)
                per[k]->ids[per[k]->n++] = g->v[i].id;
    }
    pthread_mutex_unlock(&g->mu);
    int total = 0;
    for (int k = 0; k < nw && per; k++) {
        if (!per[k])
            continue;
        if (rc == 0 && ws__loop_on_thread(&srv->workers[k].loop)) {
            total += deliver(&srv->workers[k], per[k]);
            free(per[k]);
        } else if (rc == 0) {
            ws__blob_ref(frame);
            total += (int)per[k]->n; /* queued for that loop */
            if (ws__loop_post(&srv->workers[k].loop, bcast_task, per[k]) != 0) {
                ws__blob_unref(frame);
                total -= (int)per[k]->n;
                free(per[k]);
            }
        } else {
            free(per[k]);
        }
    }
    free(per);
    ws__blob_unref(frame);
    return rc ? rc : total;
}

int ws_group_broadcast_text(ws_group *g, const char *text)
{
    return text ? ws_group_broadcast(g, false, text, strlen(text)) : WS_EINVAL;
}

int ws_group_broadcastf(ws_group *g, const char *fmt, ...)
{
    char small[512];
    size_t n;
    int rc;
    va_list ap;
    va_start(ap, fmt);
    char *text = ws__vformat(small, sizeof small, &n, &rc, fmt, ap);
    va_end(ap);
    if (!text)
        return rc;
    rc = ws_group_broadcast(g, false, text, n);
    if (text != small)
        free(text);
    return rc;
}

size_t ws_group_foreach(ws_group *g, void (*fn)(ws_session_id id, void *ud), void *ud)
{
    if (!g || !fn)
        return 0;
    pthread_mutex_lock(&g->mu);
    size_t n = g->n;
    ws_session_id *ids = malloc((n ? n : 1) * sizeof *ids);
    for (size_t i = 0; ids && i < n; i++)
        ids[i] = g->v[i].id;
    pthread_mutex_unlock(&g->mu);
    if (!ids)
        return 0;
    for (size_t i = 0; i < n; i++)
        fn(ids[i], ud);
    free(ids);
    return n;
}
