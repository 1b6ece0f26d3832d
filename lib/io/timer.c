/* SPDX-License-Identifier: MIT */
#include "io/timer.h"
#include "util/array.h"
#include "wschat/error.h"

#include <stdlib.h>

static void place(ws__timer_heap *h, size_t i, ws__timer *t)
{
    h->v[i] = t;
    t->slot = i + 1;
}

static void sift_up(ws__timer_heap *h, size_t i)
{
    ws__timer *t = h->v[i];
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (h->v[p]->due <= t->due)
            break;
        place(h, i, h->v[p]);
        i = p;
    }
    place(h, i, t);
}

static void sift_down(ws__timer_heap *h, size_t i)
{
    ws__timer *t = h->v[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n)
            break;
        if (c + 1 < h->n && h->v[c + 1]->due < h->v[c]->due)
            c++;
        if (t->due <= h->v[c]->due)
            break;
        place(h, i, h->v[c]);
        i = c;
    }
    place(h, i, t);
}

void ws__timer_heap_free(ws__timer_heap *h)
{
    free(h->v);
    h->v = NULL;
    h->n = h->cap = 0;
}

void ws__timer_cancel(ws__timer_heap *h, ws__timer *t)
{
    if (!t->slot)
        return;
    size_t i = t->slot - 1;
    t->slot = 0;
    ws__timer *last = h->v[--h->n];
    if (i == h->n)
        return;
    place(h, i, last);
    sift_down(h, i);
    sift_up(h, last->slot - 1);
}

int ws__timer_set(ws__timer_heap *h, ws__timer *t, uint64_t due)
{
    if (t->slot) {
        size_t i = t->slot - 1;
        uint64_t old = t->due;
        t->due = due;
        if (due < old)
            sift_up(h, i);
        else
            sift_down(h, i);
        return 0;
    }
    if (h->n == h->cap) {
        ws__timer **v = ws__grow_doubling(h->v, &h->cap, sizeof *v, 64);
        if (!v)
            return WS_ENOMEM;
        h->v = v;
    }
    t->due = due;
    place(h, h->n++, t);
    sift_up(h, h->n - 1);
    return 0;
}

uint64_t ws__timer_next(const ws__timer_heap *h) { return h->n ? h->v[0]->due : UINT64_MAX; }

ws__timer *ws__timer_pop_expired(ws__timer_heap *h, uint64_t now)
{
    if (!h->n || h->v[0]->due > now)
        return NULL;
    ws__timer *t = h->v[0];
    ws__timer_cancel(h, t);
    return t;
}
