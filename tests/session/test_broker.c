/* SPDX-License-Identifier: MIT */
/* Brokers without Redis: two servers on the in-memory backend, each with a
 * broker whose implementation is a bus in this file (what Redis does,
 * minus the network). Shared groups (local delivery, one publication, the
 * other node delivering, own messages skipped), subscribing only while a
 * node has members, duplicates and gaps counted, malformed messages from
 * the broker rejected and counted, the broker down (local
 * delivery goes on, publications dropped and counted), application
 * channels, and commands waited for from a sequential handler. */
#include "support/peer.h"
#include "support/test.h"

#include "broker/broker_impl.h"
#include "broker/envelope.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- the bus: a broker implementation in memory ----------------------------- */

#define MAX_SUBS 8
#define MAX_INBOX 64

typedef struct fake {
    ws_broker *b;
    struct bus *bus;
    char subs[MAX_SUBS][96];
    bool down;
    int published;
    ws_reply_fn held_fn; /* a command left unanswered (for timeouts) */
    void *held_ud;
    bool hold;
} fake;

typedef struct msg {
    fake *to;
    char channel[96];
    uint8_t data[512];
    size_t len;
} msg;

typedef struct bus {
    fake *node[2];
    msg inbox[MAX_INBOX];
    int n;
} bus;

static bool subscribed(const fake *f, const char *ch)
{
    for (int i = 0; i < MAX_SUBS; i++)
        if (strcmp(f->subs[i], ch) == 0)
            return true;
    return false;
}

static void f_start(void *impl)
{
    fake *f = impl;
    ws__broker_set_state(f->b, WS_BROKER_UP);
}

static int f_publish(void *impl, const char *ch, const uint8_t *hdr, size_t hl, const void *data,
                     size_t len)
{
    fake *f = impl;
    if (f->down)
        return WS_EBROKER;
    f->published++;
    for (int k = 0; k < 2; k++) { /* the publisher hears its own, as on Redis */
        fake *to = f->bus->node[k];
        if (!to || !subscribed(to, ch) || f->bus->n == MAX_INBOX || hl + len > 512)
            continue;
        msg *m = &f->bus->inbox[f->bus->n++];
        m->to = to;
        snprintf(m->channel, sizeof m->channel, "%s", ch);
        if (hl)
            memcpy(m->data, hdr, hl);
        memcpy(m->data + hl, data, len);
        m->len = hl + len;
    }
    return 0;
}

static void f_subscribe(void *impl, const char *ch, bool on)
{
    fake *f = impl;
    for (int i = 0; i < MAX_SUBS; i++) {
        if (on && !f->subs[i][0]) {
            snprintf(f->subs[i], sizeof f->subs[i], "%s", ch);
            return;
        }
        if (!on && strcmp(f->subs[i], ch) == 0) {
            f->subs[i][0] = 0;
            return;
        }
    }
}

static int f_command(void *impl, int argc, const char *const *argv, const size_t *lens,
                     ws_reply_fn fn, void *ud)
{
    fake *f = impl;
    (void)lens;
    if (f->down)
        return WS_EBROKER;
    if (f->hold) {
        f->held_fn = fn;
        f->held_ud = ud;
        return 0;
    }
    /* ECHO x answers x; anything else answers its argument count. */
    ws_reply r = {.type = WS_REPLY_INTEGER, .integer = argc};
    if (strcmp(argv[0], "ECHO") == 0 && argc == 2)
        r = (ws_reply){.type = WS_REPLY_STRING, .str = argv[1], .len = strlen(argv[1])};
    if (fn)
        fn(&r, 0, ud);
    return 0;
}

static void f_free(void *impl)
{
    fake *f = impl;
    if (f->held_fn)
        f->held_fn(NULL, WS_ECLOSED, f->held_ud);
    f->held_fn = NULL;
}

static const ws__broker_ops fake_ops = {f_start, f_publish, f_subscribe, f_command, f_free};

/* Delivers what the bus carries (each node on its own loop: in these tests
 * every loop runs on the test's thread). */
static void bus_deliver(bus *line)
{
    for (int i = 0; i < line->n; i++)
        ws__broker_message(line->inbox[i].to->b, line->inbox[i].channel, line->inbox[i].data,
                           line->inbox[i].len);
    line->n = 0;
}

/* --- two nodes ------------------------------------------------------------------ */

typedef struct node {
    ws_server *srv;
    ws_group *g;
    fake f;
    int port;
} node;

typedef struct rig {
    ws_mem_net *net;
    bus bus;
    node n[2];
} rig;

static void ev_join(ws_session *s, void *app)
{
    node *n = app;
    ws_group_add(n->g, s);
}

static void ev_say(ws_session *s, const ws_msg *m, void *app)
{
    node *n = app;
    (void)s;
    ws_group_broadcast(n->g, false, m->data, m->len);
}

/* A sequential handler that asks the broker and reports the answer. */
static void ask_handler(ws_session *s, void *app);

static void pump_all(rig *r, int rounds)
{
    for (int i = 0; i < rounds; i++) {
        for (int k = 0; k < 2; k++)
            ws_server_step(r->n[k].srv, 0);
        bus_deliver(&r->bus);
    }
}

static rig *rig_new(void)
{
    rig *r = calloc(1, sizeof *r);
    r->net = ws_mem_net_new();
    for (int k = 0; k < 2; k++) {
        node *n = &r->n[k];
        ws_config c = {.backend = "mem", .io_arg = r->net, .no_signals = true};
        n->srv = ws_server_new(&c);
        n->g = ws_group_new(n->srv);
        ws_route_events(n->srv, "/room",
                        &(ws_event_callbacks){.on_open = ev_join, .on_message = ev_say}, n);
        ws_route(n->srv, "/ask", ask_handler, n);
        assert_int_equal(ws_server_start(n->srv), 0);
        n->port = ws_server_port(n->srv);
        int err = 0;
        ws_broker *b = ws__broker_new(n->srv, NULL, &err);
        assert_non_null(b);
        n->f = (fake){.b = b, .bus = &r->bus};
        b->ops = &fake_ops;
        b->impl = &n->f;
        r->bus.node[k] = &n->f;
        ws__broker_start(b);
        assert_int_equal(ws_group_share(n->g, b, "room"), 0);
    }
    pump_all(r, 3);
    assert_int_equal(ws_broker_get_state(r->n[0].f.b), WS_BROKER_UP);
    return r;
}

static void rig_free(rig *r)
{
    for (int k = 0; k < 2; k++) {
        ws_broker_free(r->n[k].f.b);
        ws_server_stop(r->n[k].srv);
    }
    for (int i = 0; i < 50; i++) {
        int busy = 0;
        for (int k = 0; k < 2; k++)
            busy += ws_server_step(r->n[k].srv, 0) == 1;
        ws_mem_advance(r->net, 100);
        if (!busy)
            break;
    }
    for (int k = 0; k < 2; k++) {
        ws_server_free(r->n[k].srv);
        ws_group_free(r->n[k].g);
    }
    ws_mem_net_free(r->net);
    free(r);
}

static const char *channel(void) { return "wschat:g:room"; }

static void test_shared_group(void **state)
{
    (void)state;
    rig *r = rig_new();
    /* Nobody anywhere: no node listens to the group. */
    assert_false(subscribed(&r->n[0].f, channel()));
    assert_false(subscribed(&r->n[1].f, channel()));
    peer a = {0}, b = {0};
    assert_int_equal(peer_open(&a, r->n[0].srv, r->net, r->n[0].port, "/room", NULL, NULL), 101);
    assert_int_equal(peer_open(&b, r->n[1].srv, r->net, r->n[1].port, "/room", NULL, NULL), 101);
    pump_all(r, 5);
    assert_true(subscribed(&r->n[0].f, channel()));
    assert_true(subscribed(&r->n[1].f, channel()));
    peer_send_text(&a, "one");
    peer_send_text(&a, "two");
    pump_all(r, 10);
    /* Each member once, in order; node 0 published each message once and
     * skipped its own copies coming back. */
    assert_int_equal(peer_expect_text(&a, "one"), 1);
    assert_int_equal(peer_expect_text(&a, "two"), 1);
    assert_int_equal(peer_expect_text(&b, "one"), 1);
    assert_int_equal(peer_expect_text(&b, "two"), 1);
    assert_int_equal(peer_recv(&a, 5, NULL), -1);
    assert_int_equal(r->n[0].f.published, 2);
    ws_broker_stats st;
    ws_broker_get_stats(r->n[1].f.b, &st);
    assert_int_equal(st.received, 2);
    assert_int_equal(st.gaps, 0);
    ws_broker_get_stats(r->n[0].f.b, &st);
    assert_int_equal(st.received, 0); /* its own, skipped */
    assert_int_equal(st.published, 2);
    /* The last member here leaves: node 1 stops listening. */
    peer_free(&b);
    pump_all(r, 10);
    assert_false(subscribed(&r->n[1].f, channel()));
    assert_true(subscribed(&r->n[0].f, channel()));
    peer_free(&a);
    rig_free(r);
}

static void test_duplicates_and_gaps(void **state)
{
    (void)state;
    rig *r = rig_new();
    peer b = {0};
    assert_int_equal(peer_open(&b, r->n[1].srv, r->net, r->n[1].port, "/room", NULL, NULL), 101);
    pump_all(r, 5);
    uint8_t m[WS__ENV_HEADER + 2];
    ws__envelope e = {.node = 0x1234, .seq = 5};
    ws__envelope_header(&e, m);
    memcpy(m + WS__ENV_HEADER, "hi", 2);
    ws_broker *nb = r->n[1].f.b;
    ws__broker_message(nb, channel(), m, sizeof m); /* first seen: not a gap */
    ws__broker_message(nb, channel(), m, sizeof m); /* the same again */
    e.seq = 9;                                      /* 6, 7, 8 missing */
    ws__envelope_header(&e, m);
    ws__broker_message(nb, channel(), m, sizeof m);
    ws__broker_message(nb, channel(), (const uint8_t *)"not ours", 8);
    pump_all(r, 5);
    ws_broker_stats st;
    ws_broker_get_stats(nb, &st);
    assert_int_equal(st.received, 2);
    assert_int_equal(st.duplicates, 1);
    assert_int_equal(st.gaps, 3);
    assert_int_equal(peer_expect_text(&b, "hi"), 1);
    assert_int_equal(peer_expect_text(&b, "hi"), 1);
    assert_int_equal(peer_recv(&b, 5, NULL), -1);
    peer_free(&b);
    rig_free(r);
}

/* What anyone with access to Redis could publish on the channel: none of
 * it reaches a member, each is counted, and the next good one does. */
static void test_bad_messages_rejected(void **state)
{
    (void)state;
    rig *r = rig_new();
    peer b = {0};
    assert_int_equal(peer_open(&b, r->n[1].srv, r->net, r->n[1].port, "/room", NULL, NULL), 101);
    pump_all(r, 5);
    ws_broker *nb = r->n[1].f.b;
    size_t big = 16u << 20; /* the default max_message_size, plus one byte below */
    uint8_t *m = calloc(1, WS__ENV_HEADER + big + 1);
    ws__envelope e = {.node = 0x77, .seq = 1};
    ws__envelope_header(&e, m);
    ws__broker_message(nb, channel(), m, WS__ENV_HEADER + big + 1); /* too large */
    ws__broker_message(nb, channel(), (const uint8_t *)"WS", 2);    /* too short */
    e.seq = 2;
    ws__envelope_header(&e, m);
    memcpy(m + WS__ENV_HEADER, "\xc3\x28", 2); /* text, not UTF-8 */
    ws__broker_message(nb, channel(), m, WS__ENV_HEADER + 2);
    e.seq = 3;
    ws__envelope_header(&e, m);
    memcpy(m + WS__ENV_HEADER, "ok", 2);
    ws__broker_message(nb, channel(), m, WS__ENV_HEADER + 2);
    free(m);
    pump_all(r, 5);
    ws_broker_stats st;
    ws_broker_get_stats(nb, &st);
    assert_int_equal(st.rejected, 3);
    assert_int_equal(st.received, 1);
    assert_int_equal(peer_expect_text(&b, "ok"), 1);
    assert_int_equal(peer_recv(&b, 5, NULL), -1);
    peer_free(&b);
    rig_free(r);
}

static void test_broker_down(void **state)
{
    (void)state;
    rig *r = rig_new();
    peer a = {0}, a2 = {0}, b = {0};
    peer_open(&a, r->n[0].srv, r->net, r->n[0].port, "/room", NULL, NULL);
    peer_open(&a2, r->n[0].srv, r->net, r->n[0].port, "/room", NULL, NULL);
    peer_open(&b, r->n[1].srv, r->net, r->n[1].port, "/room", NULL, NULL);
    pump_all(r, 5);
    r->n[0].f.down = true;
    ws__broker_set_state(r->n[0].f.b, WS_BROKER_DOWN);
    peer_send_text(&a, "local only");
    pump_all(r, 10);
    assert_int_equal(peer_expect_text(&a2, "local only"), 1); /* local delivery goes on */
    assert_int_equal(peer_recv(&b, 5, NULL), -1);             /* lost across nodes */
    ws_broker_stats st;
    ws_broker_get_stats(r->n[0].f.b, &st);
    assert_int_equal(st.dropped, 1);
    assert_int_equal(st.outages, 1);
    assert_int_equal(st.state, WS_BROKER_DOWN);
    /* Back: the next message crosses again (one gap counted by node 1). */
    r->n[0].f.down = false;
    ws__broker_set_state(r->n[0].f.b, WS_BROKER_UP);
    peer_send_text(&a, "again");
    pump_all(r, 10);
    assert_int_equal(peer_expect_text(&b, "again"), 1);
    ws_broker_get_stats(r->n[0].f.b, &st);
    assert_int_equal(st.reconnects, 1);
    peer_free(&a);
    peer_free(&a2);
    peer_free(&b);
    rig_free(r);
}

static int app_got;
static char app_last[64];

static void on_app(const char *ch, const void *data, size_t len, void *ud)
{
    (void)ch;
    (void)ud;
    app_got++;
    snprintf(app_last, sizeof app_last, "%.*s", (int)len, (const char *)data);
}

static void test_app_channels(void **state)
{
    (void)state;
    rig *r = rig_new();
    app_got = 0;
    assert_int_equal(ws_broker_subscribe(r->n[1].f.b, "news", on_app, NULL), 0);
    assert_int_equal(ws_broker_subscribe(r->n[1].f.b, "", on_app, NULL), WS_EINVAL);
    assert_int_equal(ws_broker_publish(r->n[0].f.b, NULL, "x", 1), WS_EINVAL);
    pump_all(r, 2);
    assert_true(subscribed(&r->n[1].f, "news"));
    assert_int_equal(ws_broker_publish(r->n[0].f.b, "news", "raw bytes", 9), 0);
    pump_all(r, 3);
    assert_int_equal(app_got, 1);
    assert_string_equal(app_last, "raw bytes"); /* application channels carry no envelope */
    assert_int_equal(ws_broker_unsubscribe(r->n[1].f.b, "news"), 0);
    pump_all(r, 2);
    assert_false(subscribed(&r->n[1].f, "news"));
    ws_broker_publish(r->n[0].f.b, "news", "late", 4);
    pump_all(r, 3);
    assert_int_equal(app_got, 1);
    rig_free(r);
}

/* --- commands from a sequential handler --------------------------------------- */

static char answers[4][64];
static int nanswers;

static void take(const ws_reply *rep, int err, void *ud)
{
    (void)err;
    (void)ud;
    if (rep->type == WS_REPLY_STRING)
        snprintf(answers[nanswers++], sizeof answers[0], "str:%s", rep->str);
    else
        snprintf(answers[nanswers++], sizeof answers[0], "int:%lld", rep->integer);
}

static void ask_handler(ws_session *s, void *app)
{
    node *n = app;
    const char *echo[] = {"ECHO", "hello"};
    const char *three[] = {"X", "a", "b"};
    int rc1 = ws_broker_call(s, n->f.b, 0, take, NULL, 2, echo, NULL);
    int rc2 = ws_broker_call(s, n->f.b, 0, take, NULL, 3, three, NULL);
    n->f.hold = true; /* the next one never answers */
    int rc3 = ws_broker_call(s, n->f.b, 500, take, NULL, 2, echo, NULL);
    n->f.hold = false;
    ws_sendf(s, "%d %d %d", rc1, rc2, rc3);
    ws_msg m;
    while (ws_recv(s, &m) == WS_OK)
        ;
}

static void test_call(void **state)
{
    (void)state;
    rig *r = rig_new();
    nanswers = 0;
    peer p = {0};
    assert_int_equal(peer_open(&p, r->n[0].srv, r->net, r->n[0].port, "/ask", NULL, NULL), 101);
    for (int i = 0; i < 20; i++) {
        pump_all(r, 1);
        ws_mem_advance(r->net, 50);
    }
    char want[64];
    snprintf(want, sizeof want, "0 0 %d", WS_ETIMEDOUT);
    assert_int_equal(peer_expect_text(&p, want), 1);
    assert_int_equal(nanswers, 2);
    assert_string_equal(answers[0], "str:hello");
    assert_string_equal(answers[1], "int:3");
    /* Outside a sequential handler, and with the broker down. */
    const char *echo[] = {"ECHO", "x"};
    assert_int_equal(ws_broker_call(NULL, r->n[0].f.b, 0, take, NULL, 2, echo, NULL), WS_EINVAL);
    r->n[0].f.down = true;
    ws__broker_set_state(r->n[0].f.b, WS_BROKER_DOWN);
    assert_int_equal(ws_broker_command(r->n[0].f.b, take, NULL, 2, echo, NULL), WS_EBROKER);
    assert_int_equal(ws_broker_command(r->n[0].f.b, take, NULL, 0, echo, NULL), WS_EINVAL);
    peer_free(&p);
    rig_free(r);
}

static void test_share_errors(void **state)
{
    (void)state;
    rig *r = rig_new();
    ws_broker *b = r->n[0].f.b;
    assert_int_equal(ws_group_share(r->n[0].g, b, "again"), WS_EEXIST);
    ws_group *g = ws_group_new(r->n[0].srv);
    assert_int_equal(ws_group_share(g, b, ""), WS_EINVAL);
    assert_int_equal(ws_group_share(NULL, b, "x"), WS_EINVAL);
    char long_name[256];
    memset(long_name, 'n', sizeof long_name - 1);
    long_name[255] = 0;
    assert_int_equal(ws_group_share(g, b, long_name), WS_EINVAL);
    assert_int_equal(ws_group_share(g, b, "second"), 0);
    pump_all(r, 2);
    ws_group_free(g); /* freed while shared: its channel goes too */
    pump_all(r, 2);
    int err = 0;
    assert_null(ws_broker_redis(NULL, "redis://127.0.0.1", NULL, &err));
    assert_int_equal(err, WS_EINVAL);
    rig_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shared_group),
        cmocka_unit_test(test_duplicates_and_gaps),
        cmocka_unit_test(test_broker_down),
        cmocka_unit_test(test_app_channels),
        cmocka_unit_test(test_call),
        cmocka_unit_test(test_share_errors),
        cmocka_unit_test(test_bad_messages_rejected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
