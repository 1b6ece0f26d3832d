/* SPDX-License-Identifier: MIT */
/* libwschat: a C11 WebSocket server library.
 *
 * The one header applications include. Start with docs/api.md; each header
 * below documents its functions' ownership, threading and errors. */
#ifndef WSCHAT_H
#define WSCHAT_H

#include "wschat/version.h"
#include "wschat/api.h"
#include "wschat/error.h"
#include "wschat/close.h"
#include "wschat/log.h"
#include "wschat/io.h"
#include "wschat/server.h"
#include "wschat/client.h"
#include "wschat/loop.h"
#include "wschat/tls.h"
#include "wschat/request.h"
#include "wschat/session.h"
#include "wschat/route.h"
#include "wschat/group.h"
#include "wschat/broker.h"
#include "wschat/http.h"
#include "wschat/ext.h"

#endif
