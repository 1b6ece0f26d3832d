/* SPDX-License-Identifier: MIT */
/* Coroutine lifecycle, stack pool and AddressSanitizer fiber annotations.
 * The register switch itself is in switch_<arch>.S, or ucontext (below)
 * where no assembly exists for the target. */
#include "coro/coro.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define WS_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WS_ASAN 1
#endif
#endif

#ifdef WS_ASAN
void __sanitizer_start_switch_fiber(void **fake_stack_save, const void *bottom, size_t size);
void __sanitizer_finish_switch_fiber(void *fake_stack_save, const void **bottom_old,
                                     size_t *size_old);
#endif

#ifdef WS_CORO_UCONTEXT
#include <ucontext.h>
#else
void ws__coro_switch(void **save_sp, void *load_sp);
void ws__coro_trampoline(void);
#endif

struct ws__coro {
#ifdef WS_CORO_UCONTEXT
    ucontext_t ctx, caller;
#else
    void *sp;           /* the coroutine's saved stack pointer */
    void *caller_sp;    /* the resumer's saved stack pointer */
#endif
    void *map;          /* the whole mapping, guard page first */
    uint8_t *stack;     /* usable stack start (above the guard) */
    size_t size;
    ws__coro_fn fn;
    void *arg;
    void *user;
    bool done;
#ifdef WS_ASAN
    void *fake_stack;
    const void *caller_bottom;
    size_t caller_size;
#endif
};

static size_t page_size(void) { return (size_t)sysconf(_SC_PAGESIZE); }

void ws__stack_pool_init(ws__stack_pool *p, size_t size)
{
    memset(p, 0, sizeof *p);
    size_t pg = page_size();
    p->size = (size + pg - 1) / pg * pg;
}

void ws__stack_pool_fini(ws__stack_pool *p)
{
    for (size_t i = 0; i < p->n; i++)
        munmap(p->free[i], p->size + page_size());
    free(p->free);
    p->free = NULL;
    p->n = p->cap = 0;
}

static void *stack_get(ws__stack_pool *p)
{
    if (p->n)
        return p->free[--p->n];
    size_t pg = page_size();
    /* MAP_NORESERVE and lazy faulting: an idle session costs only the pages
     * its handler actually touched. */
    void *m = mmap(NULL, p->size + pg, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED)
        return NULL;
    if (mprotect(m, pg, PROT_NONE) != 0) {
        munmap(m, p->size + pg);
        return NULL;
    }
    return m;
}

#define POOL_KEEP 256
#define POOL_HOT 16

static void stack_put(ws__stack_pool *p, void *m)
{
    size_t pg = page_size();
    if (p->n == p->cap && p->n < POOL_KEEP) {
        size_t cap = p->cap ? p->cap * 2 : 16;
        void **v = realloc(p->free, cap * sizeof *v);
        if (v) {
            p->free = v;
            p->cap = cap;
        }
    }
    if (p->n < p->cap) {
        /* The most recently used stacks stay hot: reusing one then costs no
         * page faults (a handshake-heavy load creates a handler per
         * connection). Deeper in the pool, the touched pages go back to the
         * kernel; the mapping stays for reuse. */
        if (p->n >= POOL_HOT)
            madvise((uint8_t *)m + pg, p->size, MADV_DONTNEED);
        p->free[p->n++] = m;
    } else {
        munmap(m, p->size + pg);
    }
}

static void entry(void *arg)
{
    ws__coro *c = arg;
#ifdef WS_ASAN
    __sanitizer_finish_switch_fiber(NULL, &c->caller_bottom, &c->caller_size);
#endif
    c->fn(c->arg);
    c->done = true;
#ifdef WS_ASAN
    /* NULL fake-stack save: this fiber's stack is about to die. */
    __sanitizer_start_switch_fiber(NULL, c->caller_bottom, c->caller_size);
#endif
#ifdef WS_CORO_UCONTEXT
    setcontext(&c->caller);
#else
    void *dead;
    ws__coro_switch(&dead, c->caller_sp);
#endif
    abort(); /* unreachable */
}

#ifdef WS_CORO_UCONTEXT
static void uc_entry(unsigned hi, unsigned lo)
{
    /* makecontext passes ints; the pointer travels in two halves. */
    entry((void *)(((uintptr_t)hi << 16 << 16) | (uintptr_t)lo));
}
#endif

static int prepare(ws__coro *c)
{
#ifdef WS_CORO_UCONTEXT
    if (getcontext(&c->ctx) != 0)
        return -1;
    c->ctx.uc_stack.ss_sp = c->stack;
    c->ctx.uc_stack.ss_size = c->size;
    c->ctx.uc_link = NULL;
    uintptr_t v = (uintptr_t)c;
    makecontext(&c->ctx, (void (*)(void))uc_entry, 2, (unsigned)(v >> 16 >> 16), (unsigned)v);
#elif defined(__x86_64__)
    /* Initial frame popped by ws__coro_switch: mxcsr/fpu cw, r15, r14, r13,
     * r12, rbx, rbp, return address. The return slot sits 8 below a 16-byte
     * boundary so the trampoline's call sees an ABI-aligned stack. */
    uintptr_t top = ((uintptr_t)c->stack + c->size) & ~(uintptr_t)15;
    uint64_t *sp = (uint64_t *)(top - 8);
    *sp = (uint64_t)(uintptr_t)ws__coro_trampoline;
    *--sp = 0;                              /* rbp */
    *--sp = 0;                              /* rbx */
    *--sp = (uint64_t)(uintptr_t)entry;     /* r12 */
    *--sp = (uint64_t)(uintptr_t)c;         /* r13 */
    *--sp = 0;                              /* r14 */
    *--sp = 0;                              /* r15 */
    *--sp = 0x037F00001F80ull;              /* MXCSR default | x87 CW default << 32 */
    c->sp = sp;
#elif defined(__aarch64__)
    uintptr_t top = ((uintptr_t)c->stack + c->size) & ~(uintptr_t)15;
    uint64_t *f = (uint64_t *)(top - 176);
    memset(f, 0, 176);
    f[0] = (uint64_t)(uintptr_t)entry;                  /* x19 */
    f[1] = (uint64_t)(uintptr_t)c;                      /* x20 */
    f[11] = (uint64_t)(uintptr_t)ws__coro_trampoline;   /* x30 */
    c->sp = f;
#else
#error "no assembly context switch for this target: build with -Dcoroutine=ucontext"
#endif
    return 0;
}

ws__coro *ws__coro_new(ws__stack_pool *p, ws__coro_fn fn, void *arg)
{
    ws__coro *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->map = stack_get(p);
    if (!c->map) {
        free(c);
        return NULL;
    }
    c->stack = (uint8_t *)c->map + page_size();
    c->size = p->size;
    c->fn = fn;
    c->arg = arg;
    if (prepare(c) != 0) {
        stack_put(p, c->map);
        free(c);
        return NULL;
    }
    return c;
}

void ws__coro_resume(ws__coro *c)
{
#ifdef WS_ASAN
    void *fake = NULL;
    __sanitizer_start_switch_fiber(&fake, c->stack, c->size);
#endif
#ifdef WS_CORO_UCONTEXT
    swapcontext(&c->caller, &c->ctx);
#else
    ws__coro_switch(&c->caller_sp, c->sp);
#endif
#ifdef WS_ASAN
    __sanitizer_finish_switch_fiber(fake, NULL, NULL);
#endif
}

void ws__coro_yield(ws__coro *c)
{
#ifdef WS_ASAN
    __sanitizer_start_switch_fiber(&c->fake_stack, c->caller_bottom, c->caller_size);
#endif
#ifdef WS_CORO_UCONTEXT
    swapcontext(&c->ctx, &c->caller);
#else
    ws__coro_switch(&c->sp, c->caller_sp);
#endif
#ifdef WS_ASAN
    __sanitizer_finish_switch_fiber(c->fake_stack, &c->caller_bottom, &c->caller_size);
#endif
}

void **ws__coro_user(ws__coro *c) { return &c->user; }

bool ws__coro_done(const ws__coro *c) { return c->done; }

void ws__coro_free(ws__stack_pool *p, ws__coro *c)
{
    if (!c)
        return;
    stack_put(p, c->map);
    free(c);
}

const char *ws__coro_flavour(void)
{
#if defined(WS_CORO_UCONTEXT)
    return "ucontext";
#elif defined(__x86_64__)
    return "asm-x86_64";
#else
    return "asm-aarch64";
#endif
}
