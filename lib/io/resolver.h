/* SPDX-License-Identifier: MIT */
/* Host names resolved off the loop threads: getaddrinfo() blocks, so it
 * runs on a small pool of helper threads (started on first use, at most
 * WS__RESOLVER_THREADS) and the answer is posted back to the asking loop.
 * Numeric addresses never come here (the caller resolves them inline with
 * AI_NUMERICHOST). Cancelling is abandoning interest: the answer names its
 * request by a tag (a session id), and a tag that no longer resolves to
 * anything is simply dropped. One resolver per host serves every role. */
#ifndef WS_IO_RESOLVER_H
#define WS_IO_RESOLVER_H

#include <netdb.h>
#include <stdint.h>

#include "io/loop.h"

#define WS__RESOLVER_THREADS 2

/* Runs on the asking loop's thread. err is 0 (ai is a list the callback
 * must freeaddrinfo()), WS_ERESOLVE (no such host) or WS_ENOMEM. */
typedef void (*ws__resolve_cb)(ws__loop *l, uint64_t tag, int err, struct addrinfo *ai);

typedef struct ws__resolver_shared ws__resolver_shared;
typedef struct ws__resolver {
    ws__resolver_shared *sh; /* allocated on first use; outlives us if a lookup is slow */
} ws__resolver;

/* Queues a lookup of host:port (TCP). Thread: l's. Returns 0 (cb will run
 * once on l, unless the resolver is finished first) or WS_ENOMEM. */
int ws__resolve(ws__resolver *r, ws__loop *l, const char *host, int port, ws__resolve_cb cb,
                uint64_t tag);
/* Stops the resolver: queued lookups are dropped and none of their
 * callbacks run; a thread still inside getaddrinfo() finishes on its own,
 * without touching any loop. Call before the loops are freed. */
void ws__resolver_fini(ws__resolver *r);

#endif
