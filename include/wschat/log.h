/* SPDX-License-Identifier: MIT */
/* The log hook: the library never prints; it hands messages to this hook. */
#ifndef WSCHAT_LOG_H
#define WSCHAT_LOG_H

#include "api.h"

WS_BEGIN_DECLS

typedef enum ws_log_level {
    WS_LOG_ERROR = 1,
    WS_LOG_WARN = 2,
    WS_LOG_INFO = 3,
    WS_LOG_DEBUG = 4
} ws_log_level;

/* Called with a NUL-terminated message (no trailing newline), valid only for
 * the duration of the call. May be called from any loop thread at once: the
 * hook must be thread-safe. */
typedef void (*ws_log_fn)(ws_log_level level, const char *msg, void *ud);

WS_END_DECLS

#endif
