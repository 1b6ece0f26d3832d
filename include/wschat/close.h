/* SPDX-License-Identifier: MIT */
/* RFC 6455 close codes and the reason a session ended. */
#ifndef WSCHAT_CLOSE_H
#define WSCHAT_CLOSE_H

#include <stdint.h>
#include "api.h"

WS_BEGIN_DECLS

enum ws_close_code {
    WS_CLOSE_NORMAL = 1000,
    WS_CLOSE_GOING_AWAY = 1001,
    WS_CLOSE_PROTOCOL_ERROR = 1002,
    WS_CLOSE_UNSUPPORTED_DATA = 1003,
    WS_CLOSE_NO_STATUS = 1005,      /* never sent: peer's close had no code */
    WS_CLOSE_ABNORMAL = 1006,       /* never sent: no close frame at all */
    WS_CLOSE_INVALID_PAYLOAD = 1007,
    WS_CLOSE_POLICY_VIOLATION = 1008,
    WS_CLOSE_MESSAGE_TOO_BIG = 1009,
    WS_CLOSE_MANDATORY_EXTENSION = 1010,
    WS_CLOSE_INTERNAL_ERROR = 1011,
    WS_CLOSE_SERVICE_RESTART = 1012,
    WS_CLOSE_TRY_AGAIN_LATER = 1013
};

/* Why a session ended. */
typedef enum ws_close_cause {
    WS_CAUSE_NONE = 0, /* session has not ended */
    WS_CAUSE_PEER,     /* the client sent a close frame first */
    WS_CAUSE_LOCAL,    /* the application called ws_close() or its handler returned */
    WS_CAUSE_PROTOCOL, /* the client broke RFC 6455; we failed the connection */
    WS_CAUSE_TIMEOUT,  /* idle, pong or close-handshake timeout */
    WS_CAUSE_IO,       /* TCP reset, EOF without close frame, write error */
    WS_CAUSE_SHUTDOWN, /* server stopping: 1001 sent to everyone */
    WS_CAUSE_OVERLOAD, /* send queue past its hard limit: 1008 */
    WS_CAUSE_CONNECT   /* a client's connection attempt failed before it opened */
} ws_close_cause;

/* The close reason of an ended session. `code` is the code of the close frame
 * that ended it (the peer's if the peer closed first, ours otherwise), or 1006
 * when no close frame was exchanged. `reason` is NUL-terminated UTF-8 of at most
 * 123 bytes.
 *
 * For a client's failed connection attempt (cause WS_CAUSE_CONNECT), code is
 * 1006, err says why (WS_ECONNREFUSED, WS_ETIMEDOUT, WS_ESTATUS, WS_EACCEPT,
 * ... see error.h), http_status is the server's status when it answered
 * something other than 101 (else 0), and reason is the status line's reason
 * phrase or a description of what went wrong. */
typedef struct ws_close_reason {
    uint16_t code;
    uint16_t http_status;
    ws_close_cause cause;
    int err; /* ws_err behind PROTOCOL / IO / TIMEOUT / CONNECT, else 0 */
    char reason[124];
} ws_close_reason;

/* Returns 1 if `code` may appear on the wire in a close frame (RFC 6455 7.4),
 * 0 otherwise. Pure function. */
WS_API int ws_close_code_valid(unsigned code);

/* Static name of a close cause ("peer", "timeout", ...). */
WS_API const char *ws_close_cause_name(ws_close_cause cause);

WS_END_DECLS

#endif
