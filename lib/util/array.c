#include "util/array.h"
#include "wschat/error.h"

#include <stdlib.h>
#include <string.h>

int ws__grow_zeroed(void **arr, int *cap, int index, size_t elem)
{
    if (index < *cap)
        return 0;
    int n = *cap;
    while (n <= index)
        n += n / 8 > 64 ? n / 8 : 64;
    char *p = realloc(*arr, (size_t)n * elem);
    if (!p)
        return WS_ENOMEM;
    memset(p + (size_t)*cap * elem, 0, (size_t)(n - *cap) * elem);
    *arr = p;
    *cap = n;
    return 0;
}
