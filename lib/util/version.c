/* SPDX-License-Identifier: MIT */
#include "wschat/version.h"

const char *ws_version(void) { return WS_VERSION_STRING; }
