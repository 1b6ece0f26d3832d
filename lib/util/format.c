/* SPDX-License-Identifier: MIT */
#include "util/format.h"
#include "wschat/error.h"

#include <stdio.h>
#include <stdlib.h>

char *ws__vformat(char *small, size_t cap, size_t *len, int *err, const char *fmt, va_list ap)
{
    va_list again;
    va_copy(again, ap);
    int n = vsnprintf(small, cap, fmt, again);
    va_end(again);
    if (n < 0) {
        *err = WS_EINVAL;
        return NULL;
    }
    *len = (size_t)n;
    if ((size_t)n < cap)
        return small;
    char *big = malloc((size_t)n + 1);
    if (!big) {
        *err = WS_ENOMEM;
        return NULL;
    }
    va_copy(again, ap);
    vsnprintf(big, (size_t)n + 1, fmt, again);
    va_end(again);
    return big;
}
