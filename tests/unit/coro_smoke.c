/* SPDX-License-Identifier: MIT */
/* A dependency-free coroutine check, for targets where cmocka is not at
 * hand: scripts/check-coro-aarch64.sh cross-compiles it with the AArch64
 * switch and runs it under qemu-user. Exits non-zero on any mismatch. */
#include <stdio.h>
#include <string.h>

#include "coro/coro.h"

typedef struct pp {
    ws__coro *c;
    int steps;
    double acc;
    long callee_saved;
    long id;           /* makes every coroutine's live values distinct */
} pp;

/* Ten integers and eight doubles live across the switch: more than the
 * caller-saved registers can hold, so the compiler keeps them in every
 * callee-saved register (x19-x28, d8-d15 on AArch64; rbx, rbp, r12-r15 on
 * x86-64), and a switch that fails to restore any of them shows here. */
/* Values the compiler cannot see through, so it must keep them (it cannot
 * recompute them after the switch). */
__attribute__((noinline)) static long opaque(long v)
{
    __asm__ volatile("" : "+r"(v));
    return v;
}

__attribute__((noinline)) static double opaque_d(double v)
{
#if defined(__aarch64__)
    __asm__ volatile("" : "+w"(v));
#elif defined(__x86_64__)
    __asm__ volatile("" : "+x"(v));
#endif
    return v;
}

static void body(void *arg)
{
    pp *p = arg;
    for (long n = 0; n < 1000; n++) {
        long i = n + p->id * 100000; /* distinct from every other coroutine's */
        long a0 = opaque(i * 3), a1 = opaque(i + 7), a2 = opaque(i ^ 0x55), a3 = opaque(i - 1);
        long a4 = opaque(i * i), a5 = opaque(i + 11), a6 = opaque(i * 5);
        long a7 = opaque(i ^ 0x1234), a8 = opaque(i + 99), a9 = opaque(i * 7);
        double d0 = opaque_d(i * 0.5), d1 = opaque_d(i + 0.25), d2 = opaque_d(i * 1.5);
        double d3 = opaque_d(i - 0.75), d4 = opaque_d(i * 2.5), d5 = opaque_d(i + 3.5);
        double d6 = opaque_d(i * 0.125), d7 = opaque_d(i + 9.5);
        double f = p->acc * 1.5 + (double)n;
        ws__coro_yield(p->c);
        long sum = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9;
        long want = i * 3 + (i + 7) + (i ^ 0x55) + (i - 1) + i * i + (i + 11) + i * 5 +
                    (i ^ 0x1234) + (i + 99) + i * 7;
        double dsum = d0 + d1 + d2 + d3 + d4 + d5 + d6 + d7;
        double dwant = i * 0.5 + (i + 0.25) + i * 1.5 + (i - 0.75) + i * 2.5 + (i + 3.5) +
                       i * 0.125 + (i + 9.5);
        if (sum != want || dsum != dwant)
            p->callee_saved = -1;
        p->acc = f;
        p->steps++;
    }
}

/* Every coroutine interleaved with the others, on private stacks or on one
 * shared stack (where each switch also copies frames out and back). */
static int run(bool shared)
{
    ws__stack_pool pool;
    ws__stack_pool_init(&pool, 64 * 1024, shared);
    enum { N = 50 };
    static pp ps[N];
    memset(ps, 0, sizeof ps);
    for (int i = 0; i < N; i++) {
        ps[i].id = i + 1;
        ps[i].c = ws__coro_new(&pool, body, &ps[i]);
        if (!ps[i].c)
            return 1;
    }
    for (int round = 0; round <= 1000; round++)
        for (int i = 0; i < N; i++)
            if (!ws__coro_done(ps[i].c))
                ws__coro_resume(ps[i].c);
    double expect = 0;
    for (int i = 0; i < 1000; i++)
        expect = expect * 1.5 + i;
    int bad = 0;
    for (int i = 0; i < N; i++) {
        if (!ws__coro_done(ps[i].c) || ps[i].steps != 1000 || ps[i].acc != expect ||
            ps[i].callee_saved != 0)
            bad++;
        ws__coro_free(&pool, ps[i].c);
    }
    ws__stack_pool_fini(&pool);
    printf("coroutines (%s, %s stacks): %d of %d correct\n", ws__coro_flavour(),
           shared ? "shared" : "private", N - bad, N);
    return bad;
}

int main(void) { return run(false) + run(true) ? 1 : 0; }
