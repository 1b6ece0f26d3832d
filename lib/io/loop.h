/* SPDX-License-Identifier: MIT */
/* One event loop: fd watchers, timers, tasks posted from other threads, and a
 * hook run just before each poll (where the server flushes every session it
 * wrote to during the iteration: one writev per connection per iteration). */
#ifndef WS_IO_LOOP_H
#define WS_IO_LOOP_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "io/timer.h"
#include "wschat/io.h"

/* The public ws_loop (wschat/loop.h) is this struct. */
typedef struct ws_loop ws__loop;
typedef void (*ws__io_cb)(ws__loop *l, int fd, unsigned events, void *ud);
typedef void (*ws__task_fn)(ws__loop *l, void *arg);

/* One per fd, so 16 bytes: the interest (WS_IO_READ | WS_IO_WRITE) rides
 * in the low bits of ud, which is always a malloc'd (aligned) object. */
typedef struct ws__watcher {
    ws__io_cb cb;
    uintptr_t ud_events;
} ws__watcher;
#define WS__WATCH_EVMASK ((uintptr_t)(WS_IO_READ | WS_IO_WRITE))

typedef struct ws__task {
    struct ws__task *next;
    ws__task_fn fn;
    void *arg;
} ws__task;

#define WS__LOOP_MAX_FIRED 256
#define WS__LOOP_RBUF (256 * 1024)

struct ws_loop {
    const ws_io_backend *io;
    void *io_state;
    int index;                 /* which loop of the server */
    pthread_t thread;          /* the thread running it */
    bool thread_set;
    ws__watcher *w;            /* indexed by fd */
    int wcap;
    ws__timer_heap timers;
    uint64_t now;              /* ms, refreshed once per iteration */
    pthread_mutex_t post_mu;
    ws__task *post_head, *post_tail;
    void (*before_poll)(ws__loop *l, void *ud);
    void *before_poll_ud;
    uint8_t *rbuf;             /* shared receive buffer, WS__LOOP_RBUF bytes */
    ws_io_event fired[WS__LOOP_MAX_FIRED];
};

int ws__loop_init(ws__loop *l, const ws_io_backend *io, void *io_arg, int index);
void ws__loop_fini(ws__loop *l);

/* Sets (adds or changes) the watcher of fd. events 0 removes interest but
 * keeps the callback. Returns 0 or a ws_err. */
int ws__loop_watch(ws__loop *l, int fd, unsigned events, ws__io_cb cb, void *ud);
void ws__loop_unwatch(ws__loop *l, int fd);

/* Runs fn(l, arg) on the loop's thread soon. Thread-safe. Returns 0 or
 * WS_ENOMEM (fn will then not run). */
int ws__loop_post(ws__loop *l, ws__task_fn fn, void *arg);
/* Runs all posted tasks now (used at teardown). */
void ws__loop_run_posted(ws__loop *l);

/* One iteration: before-poll hook, poll (bounded by the next timer), fd
 * callbacks, expired timers, posted tasks. */
int ws__loop_run_once(ws__loop *l, int timeout_ms);

/* 1 when called on the loop's own thread. */
bool ws__loop_on_thread(const ws__loop *l);

uint64_t ws__loop_clock(ws__loop *l);

#endif
