/* SPDX-License-Identifier: MIT */
/* ws_strerror() and friends, generated from the WS_ERROR_MAP table. */
#include "wschat/error.h"
#include "wschat/close.h"
#include "util/error_internal.h"

#include <errno.h>

const char *ws_strerror(int err)
{
    switch (err) {
#define WS__ERR_MSG(name, value, msg) case value: return msg;
        WS_ERROR_MAP(WS__ERR_MSG)
#undef WS__ERR_MSG
    }
    return "unknown error";
}

const char *ws_err_name(int err)
{
    switch (err) {
#define WS__ERR_NAME(name, value, msg) case value: return "WS_" #name;
        WS_ERROR_MAP(WS__ERR_NAME)
#undef WS__ERR_NAME
    }
    return "WS_UNKNOWN";
}

/* The one place errno becomes a ws_err. */
int ws__from_errno(int e)
{
    switch (e) {
    case 0: return WS_OK;
    case EINVAL: return WS_EINVAL;
    case ENOMEM: case ENOBUFS: return WS_ENOMEM;
    case EAGAIN:
#if EWOULDBLOCK != EAGAIN
    case EWOULDBLOCK:
#endif
    case EINTR: return WS_EAGAIN;
    case EADDRINUSE: return WS_EADDRINUSE;
    case EACCES: case EPERM: return WS_EACCES;
    case EMFILE: case ENFILE: return WS_EMFILE;
    case ETIMEDOUT: return WS_ETIMEDOUT;
    case ENOENT: return WS_ENOTFOUND;
    case ECONNREFUSED: return WS_ECONNREFUSED;
    case ENETUNREACH:
    case EHOSTUNREACH:
    case ENETDOWN: return WS_ENETUNREACH;
    case EPIPE: case ECONNRESET: case ECONNABORTED: case ENOTCONN: case EIO:
        return WS_EIO;
    default: return WS_ESYS;
    }
}

const char *ws_close_cause_name(ws_close_cause cause)
{
    static const char *const names[] = {"none", "peer",     "local",    "protocol", "timeout",
                                        "io",   "shutdown", "overload", "connect"};
    if ((unsigned)cause < sizeof names / sizeof names[0])
        return names[cause];
    return "unknown";
}
