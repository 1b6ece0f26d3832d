/* SPDX-License-Identifier: MIT */
/* The event loops, open to the application: watch your own file
 * descriptors (stdin, a database socket) and set timers on the loop that
 * runs your sessions, so nothing needs a thread of its own.
 *
 * Threading: a ws_loop belongs to one thread (loop 0 to the thread that
 * runs the server or client, the others to their own). Every function here
 * must be called on the loop's thread, except ws_loop_post, which any
 * thread may call. Callbacks run on the loop's thread.
 */
#ifndef WSCHAT_LOOP_H
#define WSCHAT_LOOP_H

#include <stdbool.h>
#include <stdint.h>

#include "api.h"
#include "client.h"
#include "server.h"

WS_BEGIN_DECLS

typedef struct ws_loop ws_loop;
typedef struct ws_watch ws_watch;
typedef struct ws_timer ws_timer;

/* Loop `index` (0 .. threads-1) of a server or client, or NULL if there is
 * no such loop. A server has its loops once started; a client from
 * ws_client_new. */
WS_API ws_loop *ws_server_loop(ws_server *srv, int index);
WS_API ws_loop *ws_client_loop(ws_client *cl, int index);
/* The loop a session lives on. */
WS_API ws_loop *ws_session_loop(const ws_session *s);

/* Milliseconds of the loop's monotonic clock, as of this iteration. */
WS_API uint64_t ws_loop_now(const ws_loop *l);

/* Runs fn(l, ud) on the loop's thread soon. Any thread. Returns 0, or
 * WS_ENOMEM (fn will then not run). */
WS_API int ws_loop_post(ws_loop *l, void (*fn)(ws_loop *l, void *ud), void *ud);

/* --- File descriptors ---------------------------------------------------- */

/* Called when fd is ready for what was asked (WS_IO_READ, WS_IO_WRITE;
 * WS_IO_ERROR may be added). Level-triggered: it is called again on the
 * next iteration while the condition holds. */
typedef void (*ws_watch_fn)(ws_watch *w, int fd, unsigned events, void *ud);

/* Watches fd (which the application keeps owning; the library never reads,
 * writes or closes it) for `events` (WS_IO_READ | WS_IO_WRITE; 0 = none for
 * now). Returns the watch, or NULL with *err = WS_EEXIST (fd already
 * watched on this loop), WS_EINVAL, WS_ENOTSUP (the "mem" backend has no
 * real descriptors), WS_ENOMEM or the backend's error; err may be NULL. */
WS_API ws_watch *ws_watch_fd(ws_loop *l, int fd, unsigned events, ws_watch_fn fn, void *ud,
                             int *err);
/* Changes what is watched. Returns 0 or the backend's error. */
WS_API int ws_watch_set(ws_watch *w, unsigned events);
/* Stops watching and frees the watch (safe inside its own callback). The
 * fd is not closed: close it after this call. */
WS_API void ws_watch_free(ws_watch *w);

/* --- Timers --------------------------------------------------------------- */

typedef void (*ws_timer_fn)(ws_timer *t, void *ud);

/* Creates a stopped timer on l. NULL on ENOMEM. */
WS_API ws_timer *ws_timer_new(ws_loop *l, ws_timer_fn fn, void *ud);
/* (Re)starts the timer: fn runs after `after_ms`, then every `repeat_ms`
 * (0 = once). Returns 0 or WS_ENOMEM. */
WS_API int ws_timer_start(ws_timer *t, uint64_t after_ms, uint64_t repeat_ms);
WS_API void ws_timer_stop(ws_timer *t);
/* Stops and frees (safe inside its own callback). */
WS_API void ws_timer_free(ws_timer *t);

WS_END_DECLS

#endif
