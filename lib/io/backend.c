/* SPDX-License-Identifier: MIT */
/* Registry of the backends this build compiled. WS_DEFAULT_BACKEND comes from
 * the io_backend meson option ("auto" picks the best the platform has). */
#include "io/backend.h"

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
