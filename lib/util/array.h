/* Growing the fd-indexed tables (watchers, interest masks, slots): every
 * loop and backend keeps one, and they all grow the same way. */
#ifndef WS_UTIL_ARRAY_H
#define WS_UTIL_ARRAY_H

#include <stddef.h>

/* Makes *arr, an array of *cap elements of elem bytes, long enough to hold
 * index `index`, doubling from 64 and zeroing the new elements. Returns 0,
 * or WS_ENOMEM with *arr and *cap unchanged. */
int ws__grow_zeroed(void **arr, int *cap, int index, size_t elem);

#endif
