/* SPDX-License-Identifier: MIT */
/* Stackful coroutines for sequential handlers. A coroutine runs on an
 * mmap'd stack with a PROT_NONE guard page below it, so a handler that
 * overflows its stack faults instead of corrupting a neighbour's. Not
 * thread-safe: a coroutine and its pool belong to one loop thread. */
#ifndef WS_CORO_CORO_H
#define WS_CORO_CORO_H

#include <stdbool.h>
#include <stddef.h>

typedef struct ws__coro ws__coro;
typedef void (*ws__coro_fn)(void *arg);

typedef struct ws__stack_pool {
    void **free;        /* cached stack mappings (each size + guard) */
    size_t n, cap;
    size_t size;        /* usable bytes per stack */
} ws__stack_pool;

void ws__stack_pool_init(ws__stack_pool *p, size_t size);
void ws__stack_pool_fini(ws__stack_pool *p);

/* Creates a coroutine that will run fn(arg) when first resumed. NULL on
 * ENOMEM. */
ws__coro *ws__coro_new(ws__stack_pool *p, ws__coro_fn fn, void *arg);
/* Switches into the coroutine until it yields or returns. Must not be called
 * from inside a coroutine. */
void ws__coro_resume(ws__coro *c);
/* Switches back to whoever resumed c. Only from inside c. */
void ws__coro_yield(ws__coro *c);
bool ws__coro_done(const ws__coro *c);
/* One pointer of the user's, kept with the coroutine (so that what only
 * coroutine users need costs nothing to others). */
void **ws__coro_user(ws__coro *c);
/* Frees a coroutine that has returned or never started. */
void ws__coro_free(ws__stack_pool *p, ws__coro *c);
/* "asm-x86_64", "asm-aarch64" or "ucontext". */
const char *ws__coro_flavour(void);

#endif
