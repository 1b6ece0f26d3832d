/* SPDX-License-Identifier: MIT */
/* ws_group: membership under one mutex; a broadcast encodes its frame once
 * and adds it to a per-loop batch that every member on that loop receives
 * as one shared chunk (below). Members are referred to by id outside their
 * own loop, so a member that ends before the batch goes out is skipped. */
#include "proto/frame.h"
#include "proto/utf8.h"
#include "session/session.h"
#include "util/array.h"
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
    ws__host *host;
    atomic_int refs; /* the user's, each member's, a pending batch's, a task's */
    pthread_mutex_t mu;
    member *v;
    size_t n, cap;
    ws__group_share *share; /* set once (ws_group_share), read under mu */
};

static void group_ref(ws_group *g) { atomic_fetch_add_explicit(&g->refs, 1, memory_order_relaxed); }

static void group_unref(ws_group *g)
{
    if (atomic_fetch_sub_explicit(&g->refs, 1, memory_order_acq_rel) == 1) {
        if (g->share)
            g->share->release(g->share);
        pthread_mutex_destroy(&g->mu);
        free(g->v);
        free(g);
    }
}

ws_group *ws__group_new(ws__host *host)
{
    if (!host)
        return NULL;
    ws_group *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->host = host;
    atomic_init(&g->refs, 1);
    pthread_mutex_init(&g->mu, NULL);
    return g;
}

void ws_group_free(ws_group *g)
{
    if (g)
        group_unref(g); /* members and pending broadcasts may still hold it */
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
    /* What was broadcast before the join is not for the newcomer. */
    if (s->w->bgroup == g)
        ws__group_batch_flush(s->w);
    pthread_mutex_lock(&g->mu);
    int rc = 0;
    if (find(g, s->id) >= 0) {
        rc = WS_EEXIST;
    } else if (g->n == g->cap) {
        member *v = ws__grow_doubling(g->v, &g->cap, sizeof *v, 16);
        if (v)
            g->v = v;
        else
            rc = WS_ENOMEM;
    }
    if (rc == 0)
        g->v[g->n++] = (member){s->id};
    ws__group_share *sh = g->n == 1 ? g->share : NULL;
    pthread_mutex_unlock(&g->mu);
    if (rc) {
        free(m);
        return rc;
    }
    if (sh) /* the first member here: this node now listens to the group */
        sh->members_changed(sh);
    m->group = g;
    m->next = s->groups;
    s->groups = m;
    group_ref(g); /* a member's group outlives ws_group_free until it leaves */
    return 0;
}

static int drop(ws_group *g, ws_session_id id)
{
    pthread_mutex_lock(&g->mu);
    long i = find(g, id);
    if (i >= 0)
        g->v[i] = g->v[--g->n];
    ws__group_share *sh = i >= 0 && g->n == 0 ? g->share : NULL;
    pthread_mutex_unlock(&g->mu);
    if (sh) /* the last member here left */
        sh->members_changed(sh);
    return i >= 0 ? 0 : WS_ENOTFOUND;
}

int ws__group_set_share(ws_group *g, ws__group_share *sh)
{
    pthread_mutex_lock(&g->mu);
    int rc = g->share ? WS_EEXIST : 0;
    if (!rc)
        g->share = sh;
    pthread_mutex_unlock(&g->mu);
    return rc;
}

int ws_group_remove(ws_group *g, ws_session *s)
{
    if (!g || !s)
        return WS_EINVAL;
    /* What was broadcast before leaving still reaches the member. */
    if (s->w->bgroup == g && ws__loop_on_thread(&s->w->loop))
        ws__group_batch_flush(s->w);
    int rc = drop(g, s->id);
    for (ws__membership **p = &s->groups; *p; p = &(*p)->next) {
        if ((*p)->group == g) {
            ws__membership *m = *p;
            *p = m->next;
            free(m);
            group_unref(g);
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
        group_unref(m->group);
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

/* --- the per-loop batch -------------------------------------------------
 * Broadcasts are not handed to each member at once: the frames of one group
 * are appended to a per-loop batch, and before the loop polls again every
 * member on that loop gets the whole batch as one shared chunk. A member's
 * cost is then paid once per loop iteration, not once per message, as a raw
 * TCP fan-out pays one write per iteration. Order is kept by flushing the
 * batch first whenever anything else is about to be queued for a member
 * (ws__group_before_send), when the membership changes, and when another
 * group broadcasts on the same loop. */

/* A batch is flushed early past this size, so a burst of broadcasts in one
 * iteration cannot pin unbounded memory. */
#define BATCH_MAX (256 * 1024)

/* The ids of g's members on w's loop, into the worker's scratch vector. */
static size_t members_on(ws_group *g, ws__worker *w)
{
    size_t k = 0;
    pthread_mutex_lock(&g->mu);
    if (g->n > w->bids_cap) {
        ws_session_id *v = realloc(w->bids, g->n * sizeof *v);
        if (v) {
            w->bids = v;
            w->bids_cap = g->n;
        }
    }
    size_t i = 0;
    for (; i < g->n && k < w->bids_cap; i++)
        if (WS__ID_WORKER(g->v[i].id) == w->index)
            w->bids[k++] = g->v[i].id;
    bool short_of_memory = i < g->n;
    pthread_mutex_unlock(&g->mu);
    if (short_of_memory)
        ws__log(&w->host->log, WS_LOG_WARN, "broadcast: out of memory, some members miss a batch");
    return k;
}

/* A session that transforms its frames (compression, masking,
 * fragmentation) cannot share the encoded bytes: each frame of the batch is
 * sent to it through its engine. */
static int send_each_frame(ws_session *s, ws__blob *b)
{
    ws__fdec d;
    ws__fdec_init(&d, WS__MASK_ANY, 0);
    size_t off = 0;
    uint8_t op = 0;
    while (off < b->len || d.state == WS__FD_PAYLOAD) {
        size_t used;
        ws__fdec_event ev;
        int r = ws__fdec_feed(&d, b->data + off, b->len - off, &used, &ev);
        off += used;
        if (r == WS__FD_HEADER) {
            op = d.opcode;
        } else if (r == WS__FD_DATA) {
            int rc = ws__conn_send(&s->conn, op, ev.data, ev.len);
            if (rc < 0)
                return rc;
        } else {
            break; /* our own encoding: cannot happen */
        }
    }
    return 0;
}

void ws__group_batch_flush(ws__worker *w)
{
    ws_group *g = w->bgroup;
    ws__blob *b = w->bblob;
    if (!g)
        return;
    /* Detached first: sends below go through ws__group_before_send. */
    w->bgroup = NULL;
    w->bblob = NULL;
    uint64_t frames = w->bframes;
    w->bframes = 0;
    size_t n = members_on(g, w);
    for (size_t i = 0; i < n; i++) {
        ws_session *s = ws__worker_lookup(w, w->bids[i]);
        if (!s || s->phase != WS__PH_OPEN || s->ended || s->conn.state != WS__CONN_OPEN)
            continue;
        int rc;
        ws__count(&w->counters.deliveries, frames);
        ws__count(&w->counters.msgs_out, frames);
        ws__count(&w->counters.bytes_out, b->len);
        if (!ws__conn_sends_verbatim(&s->conn)) {
            rc = send_each_frame(s, b);
        } else {
            ws__sendq *q = ws__session_out_queue(s);
            if ((rc = q ? ws__sendq_append_blob(q, &s->w->chunks, b) : WS_ENOMEM) == 0)
                ws__session_queued(s);
        }
        ws__session_after_send(s, rc);
    }
    ws__blob_unref(b);
    group_unref(g);
}

void ws__group_batch_discard(ws__worker *w)
{
    if (w->bgroup) {
        ws__blob_unref(w->bblob);
        group_unref(w->bgroup);
        w->bgroup = NULL;
        w->bblob = NULL;
        w->bframes = 0;
    }
}

void ws__group_before_send(ws_session *s)
{
    ws__worker *w = s->w;
    for (ws__membership *m = s->groups; m; m = m->next)
        if (m->group == w->bgroup) {
            ws__group_batch_flush(w);
            return;
        }
}

/* Appends one frame (header h, payload p) to w's batch for g. */
static int batch_add(ws__worker *w, ws_group *g, const uint8_t *h, size_t hl, const uint8_t *p,
                     size_t pl)
{
    if (w->bgroup != g)
        ws__group_batch_flush(w);
    size_t have = w->bblob ? w->bblob->len : 0, need = have + hl + pl;
    if (need > w->bcap || !w->bblob) {
        size_t cap = w->bblob ? w->bcap * 2 : 4096;
        if (cap < need)
            cap = need;
        ws__blob *b = realloc(w->bblob, sizeof *b + cap);
        if (!b)
            return WS_ENOMEM;
        if (!w->bblob) {
            atomic_init(&b->refs, 1);
            b->len = 0;
        }
        w->bblob = b;
        w->bcap = cap;
    }
    if (!w->bgroup) {
        group_ref(g);
        w->bgroup = g;
    }
    memcpy(w->bblob->data + have, h, hl);
    if (pl)
        memcpy(w->bblob->data + have + hl, p, pl);
    w->bblob->len = need;
    w->bframes++;
    if (need >= BATCH_MAX)
        ws__group_batch_flush(w);
    return 0;
}

typedef struct bcast {
    ws_group *g;
    ws__blob *frame; /* encoded once, shared by every loop's task */
} bcast;

static void bcast_task(ws__loop *l, void *arg)
{
    bcast *b = arg;
    ws__worker *w = WS__OWNER_OF(l, ws__worker, loop);
    if (batch_add(w, b->g, b->frame->data, b->frame->len, NULL, 0) < 0)
        ws__log(&w->host->log, WS_LOG_WARN, "broadcast dropped on loop %d: out of memory",
                w->index);
    ws__blob_unref(b->frame);
    group_unref(b->g);
    free(b);
}

/* Hands the frame to worker k: into its batch on its own thread, else
 * through a posted task. Returns 0 or WS_ENOMEM. */
static int to_worker(ws_group *g, ws__worker *w, const uint8_t *hdr, size_t hlen,
                     const uint8_t *data, size_t len, ws__blob **frame)
{
    if (ws__loop_on_thread(&w->loop))
        return batch_add(w, g, hdr, hlen, data, len);
    if (!*frame) {
        if (!(*frame = ws__blob_new(hlen + len)))
            return WS_ENOMEM;
        memcpy((*frame)->data, hdr, hlen);
        if (len)
            memcpy((*frame)->data + hlen, data, len);
    }
    bcast *t = malloc(sizeof *t);
    if (!t)
        return WS_ENOMEM;
    *t = (bcast){g, *frame};
    group_ref(g);
    ws__blob_ref(*frame);
    if (ws__loop_post(&w->loop, bcast_task, t) != 0) {
        ws__blob_unref(*frame);
        group_unref(g);
        free(t);
        return WS_ENOMEM;
    }
    return 0;
}

int ws_group_broadcast(ws_group *g, bool binary, const void *data, size_t len)
{
    if (!g || (!data && len))
        return WS_EINVAL;
    int rc = ws__group_broadcast_local(g, binary, data, len);
    atomic_fetch_add_explicit(&g->host->broadcasts, 1, memory_order_relaxed);
    pthread_mutex_lock(&g->mu);
    ws__group_share *sh = g->share;
    pthread_mutex_unlock(&g->mu);
    if (sh && rc >= 0) /* once to the broker; the other nodes deliver to theirs */
        sh->publish(sh, binary, data, len);
    return rc;
}

int ws__group_broadcast_local(ws_group *g, bool binary, const void *data, size_t len)
{
    if (!binary && !ws__utf8_valid(data, len))
        return WS_EINVAL; /* the application's, or another node's: never on the wire */
    uint8_t op = binary ? WS__OP_BINARY : WS__OP_TEXT;
    ws__host *srv = g->host;
    int nw = srv->nworkers;
    if (nw == 0)
        return 0; /* not started: nobody can be a member yet */
    uint8_t hdr[WS__MAX_HEADER];
    size_t hlen = ws__frame_header(hdr, true, 0, op, len, NULL);
    /* Members per loop: one small count per loop, not a copy of the ids. */
    size_t stack_counts[8], *count = nw <= 8 ? stack_counts : calloc((size_t)nw, sizeof *count);
    if (!count)
        return WS_ENOMEM;
    memset(count, 0, (size_t)nw * sizeof *count);
    pthread_mutex_lock(&g->mu);
    if (nw == 1)
        count[0] = g->n;
    else
        for (size_t i = 0; i < g->n; i++)
            count[WS__ID_WORKER(g->v[i].id)]++;
    pthread_mutex_unlock(&g->mu);
    ws__blob *frame = NULL;
    int total = 0, rc = 0;
    for (int k = 0; k < nw; k++) {
        if (!count[k])
            continue;
        int r = to_worker(g, &srv->workers[k], hdr, hlen, data, len, &frame);
        if (r == 0)
            total += (int)count[k];
        else
            rc = r;
    }
    ws__blob_unref(frame);
    if (count != stack_counts)
        free(count);
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
