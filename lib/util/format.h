/* SPDX-License-Identifier: MIT */
/* printf into a caller's small buffer, or the heap when it does not fit:
 * the formatted sends use it so a short message costs no allocation. */
#ifndef WS_UTIL_FORMAT_H
#define WS_UTIL_FORMAT_H

#include <stdarg.h>
#include <stddef.h>

/* Returns the formatted text (small, or a malloc'd buffer the caller frees
 * when it differs from small) with its length in *len, or NULL with *err set
 * to WS_EINVAL (bad format) or WS_ENOMEM. ap is not consumed. */
char *ws__vformat(char *small, size_t cap, size_t *len, int *err, const char *fmt, va_list ap);

#endif
