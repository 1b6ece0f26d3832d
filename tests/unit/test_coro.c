/* SPDX-License-Identifier: MIT */
/* Coroutines: ping-pong between loop and coroutine, many at once, stack reuse
 * through the pool, floating-point state preserved across switches; each on
 * private stacks and on a shared stack (frames copied out and back), plus
 * what only the shared stack has to get right. */
#include "support/test.h"
#include "coro/coro.h"

#include <stdio.h>
#include <unistd.h>

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

static void ping_pong(bool shared)
{
    ws__stack_pool pool;
    ws__stack_pool_init(&pool, 64 * 1024, shared);
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

static void many_and_pool_reuse(bool shared)
{
    ws__stack_pool pool;
    ws__stack_pool_init(&pool, 64 * 1024, shared);
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

static void test_ping_pong(void **state)
{
    (void)state;
    ping_pong(false);
}
static void test_ping_pong_shared(void **state)
{
    (void)state;
    ping_pong(true);
}
static void test_many_and_pool_reuse(void **state)
{
    (void)state;
    many_and_pool_reuse(false);
}
static void test_many_shared(void **state)
{
    (void)state;
    many_and_pool_reuse(true);
}

/* Frames of different depths, each with a pattern in its locals and a
 * pointer into its own frame, interleaved on one shared stack. */
typedef struct framed {
    ws__coro *c;
    int depth;
    int rounds;
    bool bad;
} framed;

static void nest(framed *f, int level)
{
    unsigned char local[300];
    unsigned char *self = local; /* a pointer into this frame, kept across switches */
    for (size_t i = 0; i < sizeof local; i++)
        local[i] = (unsigned char)(i * 7 + level + f->depth);
    if (level < f->depth) {
        nest(f, level + 1);
    } else {
        for (int r = 0; r < 4; r++) {
            ws__coro_yield(f->c);
            f->rounds++;
        }
    }
    for (size_t i = 0; i < sizeof local; i++)
        if (self[i] != (unsigned char)(i * 7 + level + f->depth))
            f->bad = true;
}

static void framed_body(void *arg) { nest(arg, 0); }

static void test_shared_frames_survive(void **state)
{
    (void)state;
    ws__stack_pool pool;
    ws__stack_pool_init(&pool, 64 * 1024, true);
    enum { N = 40 };
    framed fs[N];
    memset(fs, 0, sizeof fs);
    for (int i = 0; i < N; i++) {
        fs[i].depth = i % 7;
        fs[i].c = ws__coro_new(&pool, framed_body, &fs[i]);
        assert_non_null(fs[i].c);
    }
    /* Reverse order on odd sweeps: every resume takes the stack from
     * another coroutine, and new ones start while others are parked. */
    for (int sweep = 0; sweep < 6; sweep++)
        for (int k = 0; k < N; k++) {
            int i = sweep % 2 ? N - 1 - k : k;
            if (!ws__coro_done(fs[i].c))
                ws__coro_resume(fs[i].c);
        }
    for (int i = 0; i < N; i++) {
        assert_true(ws__coro_done(fs[i].c));
        assert_false(fs[i].bad);
        assert_int_equal(fs[i].rounds, 4);
        ws__coro_free(&pool, fs[i].c);
    }
    assert_null(pool.owner);
    ws__stack_pool_fini(&pool);
}

/* What a parked coroutine keeps is what its frames use, not a page. */
static void test_shared_saves_little(void **state)
{
    (void)state;
    ws__stack_pool pool;
    ws__stack_pool_init(&pool, 256 * 1024, true);
    pp a = {0}, b = {0};
    a.c = ws__coro_new(&pool, body, &a);
    b.c = ws__coro_new(&pool, body, &b);
    ws__coro_resume(a.c);
    ws__coro_resume(b.c); /* copies a out */
    size_t saved = ws__coro_saved(a.c);
    assert_true(saved > 0);
    assert_true(saved <= 2048);
    assert_true(ws__stack_pool_on_shared(&pool, (char *)pool.shared_map + sysconf(_SC_PAGESIZE)));
    int local;
    assert_false(ws__stack_pool_on_shared(&pool, &local)); /* the test's own stack */
    /* Freeing a parked coroutine and the owner leaves the stack free. */
    ws__coro_free(&pool, a.c);
    ws__coro_free(&pool, b.c);
    assert_null(pool.owner);
    ws__stack_pool_fini(&pool);
}

int main(void)
{
    printf("coroutine flavour: %s\n", ws__coro_flavour());
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ping_pong),
        cmocka_unit_test(test_many_and_pool_reuse),
        cmocka_unit_test(test_ping_pong_shared),
        cmocka_unit_test(test_many_shared),
        cmocka_unit_test(test_shared_frames_survive),
        cmocka_unit_test(test_shared_saves_little),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
