/* SPDX-License-Identifier: MIT */
/* Registry of the backends this build compiled. WS_DEFAULT_BACKEND comes from
 * the io_backend meson option ("auto" picks the best the platform has). */
#include "io/backend.h"

#include "wschat/error.h"

#include <string.h>

static const ws_io_backend *const backends[] = {
#ifdef WS_HAVE_EPOLL
    &ws__io_epoll,
#endif
#ifdef WS_HAVE_IO_URING
    &ws__io_uring,
#endif
#ifdef WS_HAVE_KQUEUE
    &ws__io_kqueue,
#endif
    &ws__io_poll,   &ws__io_mem,
};

const char *ws_io_default_backend(void) { return WS_DEFAULT_BACKEND; }

const ws_io_backend *ws_io_backend_find(const char *name)
{
    if (!name || !*name)
        name = WS_DEFAULT_BACKEND;
    for (size_t i = 0; i < sizeof backends / sizeof backends[0]; i++)
        if (strcmp(backends[i]->name, name) == 0)
            return backends[i];
    return NULL;
}

bool ws__io_can_write_ref(const ws_io_backend *io)
{
#ifdef WS_HAVE_IO_URING
    return io == &ws__io_uring;
#else
    (void)io;
    return false;
#endif
}

long ws__io_write_ref(const ws_io_backend *io, void *st, int fd, const void *p, size_t len,
                      ws__io_release release, void *ref)
{
#ifdef WS_HAVE_IO_URING
    if (io == &ws__io_uring)
        return ws__ur_write_ref(st, fd, p, len, release, ref);
#else
    (void)st, (void)fd, (void)p, (void)len, (void)release, (void)ref;
#endif
    (void)io;
    return WS_ENOTSUP;
}
