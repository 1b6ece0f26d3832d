/* SPDX-License-Identifier: MIT */
/* Stackful coroutines for sequential handlers. Stacks are mmap'd with a
 * PROT_NONE guard page below them, so a handler that overflows its stack
 * faults instead of corrupting a neighbour's.
 *
 * A pool runs its coroutines either on one stack each (private) or on one
 * stack it shares between them (shared): the coroutine that runs keeps its
 * frames there, and the part another had in use is copied out to a buffer
 * of that size when a different one needs the stack, and back in when it
 * resumes (libaco's copying stacks). A suspended coroutine then costs the
 * bytes it had in use (usually well under a kilobyte) instead of a touched
 * page, and every stack address stays the same, so pointers a coroutine
 * keeps into its own frames stay valid for it; what is not valid is another
 * context reading a suspended coroutine's frames (they are not in place).
 * The ucontext flavour has private stacks only.
 *
 * Not thread-safe: a coroutine and its pool belong to one loop thread. */
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
    bool shared;
    void *shared_map; /* the shared stack's mapping, made on first use */
    ws__coro *owner;  /* whose frames are on the shared stack */
} ws__stack_pool;

/* shared: run the pool's coroutines on one stack (ignored, and private,
 * with ucontext). */
void ws__stack_pool_init(ws__stack_pool *p, size_t size, bool shared);
/* 1 if ptr points into the shared stack (a coroutine's frames). */
bool ws__stack_pool_on_shared(const ws__stack_pool *p, const void *ptr);
void ws__stack_pool_fini(ws__stack_pool *p);

/* Creates a coroutine that will run fn(arg) when first resumed. NULL on
 * ENOMEM. */
ws__coro *ws__coro_new(ws__stack_pool *p, ws__coro_fn fn, void *arg);
/* Switches into the coroutine until it yields or returns. Must not be called
 * from inside a coroutine. */
void ws__coro_resume(ws__coro *c);
/* Switches back to whoever resumed c. Only from inside c. Returns 0 once
 * resumed, or WS_ENOMEM without switching when a shared stack's frames
 * could not be given a buffer to be copied out to (so that resuming
 * another coroutine later can never fail). */
int ws__coro_yield(ws__coro *c);
/* Bytes c keeps for its frames while another runs (shared stacks). */
size_t ws__coro_saved(const ws__coro *c);
bool ws__coro_done(const ws__coro *c);
/* One pointer of the user's, kept with the coroutine (so that what only
 * coroutine users need costs nothing to others). */
void **ws__coro_user(ws__coro *c);
/* Frees a coroutine that has returned or never started. */
void ws__coro_free(ws__stack_pool *p, ws__coro *c);
/* "asm-x86_64", "asm-aarch64" or "ucontext". */
const char *ws__coro_flavour(void);

#endif
