/* SPDX-License-Identifier: MIT */
/* Where an idle connection's bytes go: the sizes of what the library keeps
 * per connection, printed as key=value for bench/run.py's idle breakdown.
 * (The io_uring backend's per-fd entry is 12 bytes, asserted in
 * lib/io/uring.c; its buffers are shared by the loop.) */
#include <stdio.h>

#include "io/loop.h"
#include "session/host.h"
#include "session/session.h"

int main(void)
{
    printf("session=%zu conn=%zu sendq=%zu timer=%zu slot=%zu free_slot=%zu watcher=%zu\n",
           sizeof(struct ws_session), sizeof(ws__conn), sizeof(ws__sendq), sizeof(ws__timer),
           sizeof(ws__slot), sizeof(uint32_t), sizeof(ws__watcher));
    return 0;
}
