/* SPDX-License-Identifier: MIT */
/* The loops as the application sees them (wschat/loop.h): its own fds,
 * timers (once, repeating, freed in their own callback), calls posted from
 * another thread; and a host name resolved off the loop thread. */
#include "support/test.h"
#include "wschat.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

typedef struct counts {
    int reads, fires, posted, repeats;
    char last[32];
} counts;

static void on_readable(ws_watch *w, int fd, unsigned ev, void *ud)
{
    counts *c = ud;
    (void)w;
    assert_true(ev & WS_IO_READ);
    long n = read(fd, c->last, sizeof c->last - 1);
    if (n > 0)
        c->last[n] = '\0';
    c->reads++;
}

static void step_until(ws_client *cl, int *what, int want, int rounds)
{
    for (int i = 0; i < rounds && *what < want; i++)
        ws_client_step(cl, 10);
}

static void test_fd_watch(void **state)
{
    (void)state;
    ws_client *cl = ws_client_new(&(ws_config){.backend = "poll", .no_signals = true}, NULL);
    assert_non_null(cl);
    ws_loop *l = ws_client_loop(cl, 0);
    assert_non_null(l);
    assert_null(ws_client_loop(cl, 1));
    int p[2];
    assert_int_equal(pipe(p), 0);
    counts c = {0};
    int err;
    ws_watch *w = ws_watch_fd(l, p[0], WS_IO_READ, on_readable, &c, &err);
    assert_non_null(w);
    assert_null(ws_watch_fd(l, p[0], WS_IO_READ, on_readable, &c, &err));
    assert_int_equal(err, WS_EEXIST);
    assert_int_equal(write(p[1], "hello", 5), 5);
    step_until(cl, &c.reads, 1, 50);
    assert_int_equal(c.reads, 1);
    assert_string_equal(c.last, "hello");
    /* Interest off: data waits, no callback. */
    assert_int_equal(ws_watch_set(w, 0), 0);
    assert_int_equal(write(p[1], "again", 5), 5);
    for (int i = 0; i < 5; i++)
        ws_client_step(cl, 5);
    assert_int_equal(c.reads, 1);
    assert_int_equal(ws_watch_set(w, WS_IO_READ), 0);
    step_until(cl, &c.reads, 2, 50);
    assert_string_equal(c.last, "again");
    ws_watch_free(w);
    close(p[0]);
    close(p[1]);
    ws_client_free(cl);
}

static void on_fire(ws_timer *t, void *ud)
{
    counts *c = ud;
    (void)t;
    c->fires++;
}

static void on_repeat(ws_timer *t, void *ud)
{
    counts *c = ud;
    if (++c->repeats == 3)
        ws_timer_free(t); /* inside its own callback */
}

static void test_timers(void **state)
{
    (void)state;
    ws_mem_net *net = ws_mem_net_new();
    ws_client *cl = ws_client_new(&(ws_config){.backend = "mem", .io_arg = net, .no_signals = true},
                                  NULL);
    ws_loop *l = ws_client_loop(cl, 0);
    counts c = {0};
    ws_timer *once = ws_timer_new(l, on_fire, &c);
    ws_timer *rep = ws_timer_new(l, on_repeat, &c);
    assert_int_equal(ws_timer_start(once, 100, 0), 0);
    assert_int_equal(ws_timer_start(rep, 10, 10), 0);
    ws_client_step(cl, 0);
    assert_int_equal(c.fires, 0);
    for (int i = 0; i < 10; i++) {
        ws_mem_advance(net, 10);
        ws_client_step(cl, 0);
    }
    assert_int_equal(c.fires, 1);   /* once, at 100 ms */
    assert_int_equal(c.repeats, 3); /* then freed itself */
    assert_int_equal(ws_timer_start(once, 50, 0), 0);
    ws_timer_stop(once);
    ws_mem_advance(net, 100);
    ws_client_step(cl, 0);
    assert_int_equal(c.fires, 1);
    ws_timer_free(once);
    /* The mem backend has no real fds to watch. */
    int err;
    assert_null(ws_watch_fd(l, 0, WS_IO_READ, on_readable, &c, &err));
    assert_int_equal(err, WS_ENOTSUP);
    ws_client_free(cl);
    ws_mem_net_free(net);
}

static void on_post(ws_loop *l, void *ud)
{
    counts *c = ud;
    (void)l;
    c->posted++;
}

typedef struct post_arg {
    ws_loop *l;
    counts *c;
} post_arg;

static void *poster_main(void *arg)
{
    post_arg *a = arg;
    for (int i = 0; i < 10; i++)
        ws_loop_post(a->l, on_post, a->c);
    return NULL;
}

static void test_post_from_thread(void **state)
{
    (void)state;
    ws_client *cl = ws_client_new(&(ws_config){.backend = "poll", .no_signals = true}, NULL);
    counts c = {0};
    post_arg a = {ws_client_loop(cl, 0), &c};
    pthread_t t;
    pthread_create(&t, NULL, poster_main, &a);
    pthread_join(t, NULL);
    step_until(cl, &c.posted, 10, 50);
    assert_int_equal(c.posted, 10);
    ws_client_free(cl);
}

/* "localhost" is a name, not a number: it is resolved on a helper thread
 * and the answer comes back to the loop; the mem network then connects by
 * port. */
static void echo_route(ws_session *s, void *app)
{
    (void)app;
    ws_msg m;
    while (ws_recv(s, &m) == WS_OK)
        ws_send_text_n(s, (const char *)m.data, m.len);
}

static void greet(ws_session *s, void *app)
{
    counts *c = app;
    ws_send_text(s, "via a name");
    ws_msg m;
    if (ws_recv(s, &m) == WS_OK)
        snprintf(c->last, sizeof c->last, "%s", (const char *)m.data);
    c->reads++;
}

static void test_resolved_name(void **state)
{
    (void)state;
    ws_mem_net *net = ws_mem_net_new();
    ws_config cfg = {.backend = "mem", .io_arg = net, .no_signals = true};
    ws_server *srv = ws_server_new(&cfg);
    ws_route(srv, "/", echo_route, NULL);
    ws_server_start(srv);
    ws_client *cl = ws_client_new(&cfg, NULL);
    counts c = {0};
    char url[64];
    snprintf(url, sizeof url, "ws://localhost:%d/", ws_server_port(srv));
    assert_int_equal(ws_connect(cl, url, NULL, greet, &c, NULL), 0);
    for (int i = 0; i < 400 && c.reads == 0; i++) {
        ws_server_step(srv, 0);
        ws_client_step(cl, 5); /* a real wait: the lookup runs on another thread */
    }
    assert_int_equal(c.reads, 1);
    assert_string_equal(c.last, "via a name");
    ws_client_free(cl);
    ws_server_free(srv);
    ws_mem_net_free(net);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fd_watch),
        cmocka_unit_test(test_timers),
        cmocka_unit_test(test_post_from_thread),
        cmocka_unit_test(test_resolved_name),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
