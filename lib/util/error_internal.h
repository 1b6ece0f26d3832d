/* SPDX-License-Identifier: MIT */
#ifndef WS_UTIL_ERROR_INTERNAL_H
#define WS_UTIL_ERROR_INTERNAL_H

/* Translates an errno value into a ws_err. */
int ws__from_errno(int e);

#endif
