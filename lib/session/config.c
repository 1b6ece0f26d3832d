/* SPDX-License-Identifier: MIT */
/* ws_config defaults (the single place they are written down in code; the
 * same numbers are in server.h and docs/security.md). */
#include "session/host.h"
#include "wschat/error.h"

#include <string.h>

#define MiB (1024u * 1024u)

#define DEFAULT(field, value)     \
    do {                          \
        if (!out->field)          \
            out->field = (value); \
    } while (0)

int ws__config_resolve(ws_config *out, const ws_config *in)
{
    if (in)
        *out = *in;
    else
        memset(out, 0, sizeof *out);
    if (out->port < 0 || out->port > 65535 || out->threads < 0 || out->threads > 64 ||
        out->backlog < 0 || out->max_headers > 128)
        return WS_EINVAL;
    DEFAULT(bind, "0.0.0.0");
    DEFAULT(threads, 1);
    DEFAULT(backlog, 1024);
    DEFAULT(ping_period_ms, 30000);
    DEFAULT(timeout_ms, 60000);
    DEFAULT(handshake_timeout_ms, 10000);
    DEFAULT(close_timeout_ms, 5000);
    DEFAULT(max_frame_size, 16 * MiB);
    DEFAULT(max_message_size, 16 * MiB);
    DEFAULT(send_high_water, 1 * MiB);
    DEFAULT(send_hard_limit,
            out->max_message_size * 2 > 64 * MiB ? out->max_message_size * 2 : 64 * MiB);
    DEFAULT(max_connections, 100000);
    DEFAULT(max_header_bytes, 8192);
    DEFAULT(max_headers, 64);
    DEFAULT(max_uri, 4096);
    DEFAULT(stack_size, 256 * 1024);
    DEFAULT(log_level, WS_LOG_INFO);
    if (out->send_hard_limit < out->send_high_water || out->stack_size < 16 * 1024 ||
        out->max_header_bytes < 64)
        return WS_EINVAL;
    if (out->handshake_timeout_ms == WS_DISABLED || out->close_timeout_ms == WS_DISABLED)
        return WS_EINVAL; /* these two protect the server; they cannot be off */
    return 0;
}
