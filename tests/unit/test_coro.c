/* SPDX-License-Identifier: MIT */
/* Coroutines: ping-pong between loop and coroutine, many at once, stack reuse
 * through the pool, floating-point state preserved across switches. */
#include "support/test.h"
#include "coro/coro.h"

#include <stdio.h>

typedef struct pp {
    ws__coro *c;
    int steps;
    double acc;
} pp;

static void body(void *arg)
{
    pp *p = arg;
    for (int i = 0; i < 5; i++) {
        p->steps++;
        p->acc = p->acc * 1.5 + i; /* FP state must survive switches */
        ws__coro_yield(p->c);
    }
}

static void test_ping_pong(void **state)
{
    (void)state;
    ws__stack_pool pool;
    ws__stack_pool_init(&pool, 64 * 1024);
    pp p = {0};
    p.c = ws__coro_new(&pool, body, &p);
    assert_non_null(p.c);
    double expect = 0;
    for (int i = 0; i < 5; i++) {
        ws__coro_resume(p.c);
        expect = expect * 1.5 + i;
        assert_int_equal(p.steps, i + 1);
        assert_true(p.acc == expect);
        assert_false(ws__coro_done(p.c));
    }
    ws__coro_resume(p.c);
    assert_true(ws__coro_done(p.c));
    ws__coro_free(&pool, p.c);
    ws__stack_pool_fini(&pool);
}

static void deep(void *arg)
{
    /* Uses real stack (and printf, as ws_sendf does) inside the coroutine. */
    char buf[8192];
    snprintf(buf, sizeof buf, "%s-%d-%.3f", "stack", 42, 3.25);
    memcpy(arg, buf, strlen(buf) + 1);
}

static void test_many_and_pool_reuse(void **state)
{
    (void)state;
    ws__stack_pool pool;
    ws__stack_pool_init(&pool, 64 * 1024);
    enum { N = 300 };
    static pp ps[N];
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < N; i++) {
            ps[i] = (pp){0};
            ps[i].c = ws__coro_new(&pool, body, &ps[i]);
            assert_non_null(ps[i].c);
        }
        /* Interleave: every coroutine advances one step per sweep. */
        for (int step = 0; step < 6; step++)
            for (int i = 0; i < N; i++)
                if (!ws__coro_done(ps[i].c))
                    ws__coro_resume(ps[i].c);
        for (int i = 0; i < N; i++) {
            assert_true(ws__coro_done(ps[i].c));
            assert_int_equal(ps[i].steps, 5);
            ws__coro_free(&pool, ps[i].c);
        }
    }
    char out[64];
    ws__coro *c = ws__coro_new(&pool, deep, out);
    ws__coro_resume(c);
    assert_true(ws__coro_done(c));
    assert_string_equal(out, "stack-42-3.250");
    ws__coro_free(&pool, c);
    ws__stack_pool_fini(&pool);
}

int main(void)
{
    printf("coroutine flavour: %s\n", ws__coro_flavour());
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ping_pong),
        cmocka_unit_test(test_many_and_pool_reuse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
