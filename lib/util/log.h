/* SPDX-License-Identifier: MIT */
/* Log dispatch: formats only when a hook is set and the level passes. */
#ifndef WS_UTIL_LOG_H
#define WS_UTIL_LOG_H

#include "wschat/api.h"
#include "wschat/log.h"

typedef struct ws__logger {
    ws_log_fn fn;
    void *ud;
    ws_log_level level;
} ws__logger;

void ws__log(const ws__logger *lg, ws_log_level level, const char *fmt, ...) WS_PRINTF(3, 4);

#endif
