/* SPDX-License-Identifier: MIT */
/* Coroutine lifecycle, stack pool and AddressSanitizer fiber annotations.
 * The register switch itself is in switch_<arch>.S, or ucontext (below)
 * where no assembly exists for the target. */
#include "coro/coro.h"
#include "wschat/error.h"

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
void __asan_unpoison_memory_region(const volatile void *addr, size_t size);
/* A suspended coroutine's frames keep their redzones poisoned; copied out
 * or overwritten by another's, that shadow would be wrong for whatever runs
 * there next, so the region is cleared (those frames lose redzone checks
 * once they have been copied, nothing else does). */
#define UNPOISON(p, n) __asan_unpoison_memory_region((p), (n))
#else
#define UNPOISON(p, n) ((void)0)
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
    void *map;          /* the whole mapping, guard page first; NULL on a shared stack */
    uint8_t *stack;     /* usable stack start (above the guard) */
    size_t size;
    ws__coro_fn fn;
    void *arg;
    void *user;
    /* Shared stack: the frames [sp, top) while another coroutine runs. */
    ws__stack_pool *pool;
    uint8_t *save;
    size_t save_len, save_cap;
    bool fresh; /* shared stack, never run: its first frame is not laid yet */
    bool done;
#ifdef WS_ASAN
    void *fake_stack;
    const void *caller_bottom;
    size_t caller_size;
#endif
};

static size_t page_size(void) { return (size_t)sysconf(_SC_PAGESIZE); }

void ws__stack_pool_init(ws__stack_pool *p, size_t size, bool shared)
{
    memset(p, 0, sizeof *p);
    size_t pg = page_size();
    p->size = (size + pg - 1) / pg * pg;
#ifndef WS_CORO_UCONTEXT
    p->shared = shared;
#else
    (void)shared;
#endif
}

void ws__stack_pool_fini(ws__stack_pool *p)
{
    for (size_t i = 0; i < p->n; i++)
        munmap(p->free[i], p->size + page_size());
    if (p->shared_map)
        munmap(p->shared_map, p->size + page_size());
    free(p->free);
    p->free = NULL;
    p->shared_map = NULL;
    p->owner = NULL;
    p->n = p->cap = 0;
}

bool ws__stack_pool_on_shared(const ws__stack_pool *p, const void *ptr)
{
    if (!p->shared_map)
        return false;
    const uint8_t *lo = (const uint8_t *)p->shared_map + page_size();
    return (const uint8_t *)ptr >= lo && (const uint8_t *)ptr < lo + p->size;
}

static void *stack_map(size_t size)
{
    size_t pg = page_size();
    /* MAP_NORESERVE and lazy faulting: an idle session costs only the pages
     * its handler actually touched. */
    void *m = mmap(NULL, size + pg, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED)
        return NULL;
    if (mprotect(m, pg, PROT_NONE) != 0) {
        munmap(m, size + pg);
        return NULL;
    }
    return m;
}

static void *stack_get(ws__stack_pool *p)
{
    if (p->n)
        return p->free[--p->n];
    return stack_map(p->size);
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

static uint8_t *stack_top(const ws__coro *c) { return c->stack + c->size; }

ws__coro *ws__coro_new(ws__stack_pool *p, ws__coro_fn fn, void *arg)
{
    ws__coro *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->size = p->size;
    c->fn = fn;
    c->arg = arg;
    if (p->shared) {
        if (!p->shared_map && !(p->shared_map = stack_map(p->size))) {
            free(c);
            return NULL;
        }
        c->pool = p;
        c->stack = (uint8_t *)p->shared_map + page_size();
        c->fresh = true; /* laid out when it first gets the stack */
        return c;
    }
    c->map = stack_get(p);
    if (!c->map) {
        free(c);
        return NULL;
    }
    c->stack = (uint8_t *)c->map + page_size();
    if (prepare(c) != 0) {
        stack_put(p, c->map);
        free(c);
        return NULL;
    }
    return c;
}

/* Copies the owner's frames out (into the buffer its yield made room in). */
static void stash(ws__coro *o)
{
#ifdef WS_CORO_UCONTEXT
    (void)o;
    abort(); /* pools are never shared with ucontext */
#else
    uint8_t *sp = o->sp;
    size_t len = (size_t)(stack_top(o) - sp);
    if (len > o->save_cap)
        abort(); /* yield's margin was wrong: copying would overrun */
    UNPOISON(sp, len);
    memcpy(o->save, sp, len);
    o->save_len = len;
#endif
}

/* Gives c the shared stack: whoever had it is copied out, c's frames in. */
static void take_stack(ws__coro *c)
{
    ws__stack_pool *p = c->pool;
    if (p->owner == c)
        return;
    if (p->owner)
        stash(p->owner);
    p->owner = c;
    if (c->fresh) {
        c->fresh = false;
        UNPOISON(c->stack, c->size);
        (void)prepare(c); /* cannot fail with the assembly switch */
        return;
    }
    uint8_t *sp = stack_top(c) - c->save_len;
    UNPOISON(sp, c->save_len);
    memcpy(sp, c->save, c->save_len);
}

void ws__coro_resume(ws__coro *c)
{
    if (c->pool)
        take_stack(c);
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
    if (c->pool && c->done) {
        c->pool->owner = NULL;
        UNPOISON(c->stack, c->size); /* its dead frames' redzones */
    }
}

/* Room for what yield and the switch push below the caller's frame. */
#define SWITCH_MARGIN 512

/* Makes sure the frames in use now can be copied out when another
 * coroutine takes the stack, so that taking it never allocates. */
static int reserve_save(ws__coro *c)
{
    uint8_t *here = __builtin_frame_address(0);
    size_t need = (size_t)(stack_top(c) - here) + SWITCH_MARGIN;
    if (need <= c->save_cap)
        return 0;
    size_t cap = (need + 255) & ~(size_t)255;
    uint8_t *b = realloc(c->save, cap);
    if (!b)
        return WS_ENOMEM;
    c->save = b;
    c->save_cap = cap;
    return 0;
}

int ws__coro_yield(ws__coro *c)
{
    if (c->pool && reserve_save(c) != 0)
        return WS_ENOMEM;
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
    return 0;
}

void **ws__coro_user(ws__coro *c) { return &c->user; }

bool ws__coro_done(const ws__coro *c) { return c->done; }

size_t ws__coro_saved(const ws__coro *c) { return c->save_cap; }

void ws__coro_free(ws__stack_pool *p, ws__coro *c)
{
    if (!c)
        return;
    if (c->pool) {
        if (p->owner == c) {
            p->owner = NULL;
            UNPOISON(c->stack, c->size);
        }
        free(c->save);
    } else {
        stack_put(p, c->map);
    }
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
