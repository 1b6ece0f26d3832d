/* SPDX-License-Identifier: MIT */
/* libwschat error codes.
 *
 * Every fallible function returns 0 (WS_OK) on success or one of the negative
 * codes below. The enum and ws_strerror() are generated from the same table,
 * so a code can never lack its message.
 */
#ifndef WSCHAT_ERROR_H
#define WSCHAT_ERROR_H

#include "api.h"

WS_BEGIN_DECLS

/* XX(name, value, message) */
#define WS_ERROR_MAP(XX)                                                          \
    XX(OK, 0, "success")                                                          \
    XX(EINVAL, -1, "invalid argument")                                            \
    XX(ENOMEM, -2, "out of memory")                                               \
    XX(ECLOSED, -3, "session is closed")                                          \
    XX(EPROTO, -4, "WebSocket protocol violation")                                \
    XX(ETOOBIG, -5, "frame or message exceeds the configured limit")              \
    XX(EUTF8, -6, "invalid UTF-8 in a text message or close reason")              \
    XX(EAGAIN, -7, "operation would block; try again later")                      \
    XX(EIO, -8, "I/O error on the connection")                                    \
    XX(ETIMEDOUT, -9, "timed out")                                                \
    XX(EADDRINUSE, -10, "address already in use")                                 \
    XX(ENOTFOUND, -11, "not found")                                               \
    XX(EFULL, -12, "send queue is over its hard limit")                           \
    XX(ESTATE, -13, "operation not valid in the current state")                   \
    XX(ENOTSUP, -14, "not supported by this build or backend")                    \
    XX(EACCES, -15, "permission denied")                                          \
    XX(ESTALE, -16, "reference to a session that no longer exists")               \
    XX(EMFILE, -17, "too many open files")                                        \
    XX(EEXIST, -19, "already exists")                                             \
    XX(ESYS, -20, "unexpected system error")                                      \
    /* Connecting (client sessions): each way an attempt fails has its own. */    \
    XX(ECONNREFUSED, -21, "connection refused")                                   \
    XX(ERESOLVE, -22, "host name could not be resolved")                          \
    XX(EHTTP, -23, "the server's answer is not valid HTTP")                       \
    XX(ESTATUS, -24, "the server answered an HTTP status other than 101")         \
    XX(EREDIRECT, -25, "the server redirected (3xx), which is not followed")      \
    XX(EUPGRADE, -26, "101 without Upgrade: websocket and Connection: upgrade")   \
    XX(EACCEPT, -27, "Sec-WebSocket-Accept does not match the key sent")          \
    XX(ESUBPROTO, -28, "the server chose a subprotocol not offered")              \
    XX(EEXTENSION, -29, "the server accepted an extension not offered, or badly") \
    XX(ENETUNREACH, -30, "network or host unreachable")                           \
    XX(ETLS, -31, "TLS handshake or record failure")                              \
    XX(ECERT, -32, "the peer's certificate is not trusted or does not match")     \
    XX(EBROKER, -33, "the message broker is not reachable")

typedef enum ws_err {
#define WS__ERR_ENUM(name, value, msg) WS_##name = (value),
    WS_ERROR_MAP(WS__ERR_ENUM)
#undef WS__ERR_ENUM
} ws_err;

/* Returns a static, human-readable message for an error code. Never NULL;
 * an unknown code gives "unknown error". Thread-safe, no allocation. */
WS_API const char *ws_strerror(int err);

/* Returns the symbolic name of an error code ("WS_EINVAL"), or "WS_UNKNOWN".
 * Thread-safe, no allocation. */
WS_API const char *ws_err_name(int err);

WS_END_DECLS

#endif
