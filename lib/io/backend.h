/* SPDX-License-Identifier: MIT */
/* The compiled-in backends (see backend.c for the default order). */
#ifndef WS_IO_BACKEND_H
#define WS_IO_BACKEND_H

#include "wschat/io.h"

extern const ws_io_backend ws__io_epoll;
extern const ws_io_backend ws__io_kqueue;
extern const ws_io_backend ws__io_poll;
extern const ws_io_backend ws__io_mem;
extern const ws_io_backend ws__io_uring;

#endif
