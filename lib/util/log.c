/* SPDX-License-Identifier: MIT */
#include "util/log.h"

#include <stdarg.h>
#include <stdio.h>

void ws__log(const ws__logger *lg, ws_log_level level, const char *fmt, ...)
{
    if (!lg->fn || level > lg->level)
        return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    lg->fn(level, msg, lg->ud);
}
