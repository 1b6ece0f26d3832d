/* SPDX-License-Identifier: MIT */
/* The compiled-in backends (see backend.c for the default order). */
#ifndef WS_IO_BACKEND_H
#define WS_IO_BACKEND_H

#include "wschat/io.h"

#include <stdbool.h>
#include <stddef.h>

extern const ws_io_backend ws__io_epoll;
extern const ws_io_backend ws__io_kqueue;
extern const ws_io_backend ws__io_poll;
extern const ws_io_backend ws__io_mem;
extern const ws_io_backend ws__io_uring;

/* Sends by reference, where the backend can (io_uring; not part of the
 * public table): len bytes at p, shared and immutable until release(ref),
 * which the backend calls once, on the loop's thread, when they are sent
 * or dropped (a close, the state destroyed). Returns the bytes taken (a
 * prefix; the reference then counts for the backend, so the caller takes
 * one before the call) or WS_EAGAIN / another ws_err, with release never
 * called; WS_ENOTSUP where the backend or fd has no such path (use
 * writev). Readiness-based backends copy in writev anyway, so only
 * io_uring has it: a broadcast's frame is then one buffer for every
 * receiver, as the raw ring's, instead of a copy per receiver. */
typedef void (*ws__io_release)(void *ref);
bool ws__io_can_write_ref(const ws_io_backend *io);
long ws__io_write_ref(const ws_io_backend *io, void *st, int fd, const void *p, size_t len,
                      ws__io_release release, void *ref);
/* io_uring's (uring_io.c), behind ws__io_write_ref. */
long ws__ur_write_ref(void *state, int fd, const void *p, size_t len, ws__io_release release,
                      void *ref);

#endif
