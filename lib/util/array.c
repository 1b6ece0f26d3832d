/* SPDX-License-Identifier: MIT */
#include "util/array.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void *ws__grow_doubling(void *arr, size_t *cap, size_t elem, size_t first)
{
    size_t n = *cap ? *cap * 2 : first;
    if (n < *cap || n > SIZE_MAX / elem)
        return NULL;
    void *p = realloc(arr, n * elem);
    if (p)
        *cap = n;
    return p;
}

void *ws__grow_zeroed(void *arr, int *cap, int index, size_t elem)
{
    if (index < *cap)
        return arr;
    int n = *cap;
    while (n <= index)
        n += n / 8 > 64 ? n / 8 : 64;
    char *p = realloc(arr, (size_t)n * elem);
    if (!p)
        return NULL;
    memset(p + (size_t)*cap * elem, 0, (size_t)(n - *cap) * elem);
    *cap = n;
    return p;
}
