/* SPDX-License-Identifier: MIT */
/* Min-heap of timers keyed by due time; each timer knows its heap slot, so
 * re-arming or cancelling is O(log n) without searching. */
#ifndef WS_IO_TIMER_H
#define WS_IO_TIMER_H

#include <stddef.h>
#include <stdint.h>

#include "util/owner.h"

typedef struct ws__timer ws__timer;
/* A timer is embedded in its owner, which the callback finds with
 * WS__OWNER_OF (util/owner.h): no user-data pointer per timer. */
typedef void (*ws__timer_fn)(ws__timer *t);

struct ws__timer {
    uint64_t due;
    size_t slot;      /* index in the heap + 1; 0 = not armed */
    ws__timer_fn fn;
};

typedef struct ws__timer_heap {
    ws__timer **v;
    size_t n, cap;
} ws__timer_heap;

void ws__timer_heap_free(ws__timer_heap *h);
/* Arms (or re-arms) t for `due`. Returns 0 or WS_ENOMEM. */
int ws__timer_set(ws__timer_heap *h, ws__timer *t, uint64_t due);
void ws__timer_cancel(ws__timer_heap *h, ws__timer *t);
/* Earliest due time, or UINT64_MAX if none. */
uint64_t ws__timer_next(const ws__timer_heap *h);
/* Removes and returns an expired timer, or NULL. */
ws__timer *ws__timer_pop_expired(ws__timer_heap *h, uint64_t now);

#endif
