/* SPDX-License-Identifier: MIT */
/* Without hiredis (the `redis` feature off): there is no Redis broker. */
#include "broker/broker_impl.h"
#include "wschat/error.h"

int ws__redis_open(ws_broker *b, const char *url, const ws_redis_options *o)
{
    (void)b;
    (void)url;
    (void)o;
    return WS_ENOTSUP;
}
