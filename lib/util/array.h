/* SPDX-License-Identifier: MIT */
/* Growing the fd-indexed tables (watchers, interest masks, slots): every
 * loop and backend keeps one, and they all grow the same way. */
#ifndef WS_UTIL_ARRAY_H
#define WS_UTIL_ARRAY_H

#include <stddef.h>

/* Makes arr, an array of *cap elements of elem bytes, long enough to hold
 * index `index`, zeroing the new elements. It grows by an eighth (at least
 * 64 elements), not by doubling: the zeroing makes every element resident,
 * and a doubled table would hold up to half its memory for fds that never
 * come (idle memory per connection). Still amortised O(1) per element.
 * Returns the array (moved or not) for the caller to store, or NULL when
 * out of memory, with arr still valid and *cap unchanged. (Returning the
 * pointer, rather than taking a void ** to it, keeps callers free of
 * type-punned pointer casts.) */
void *ws__grow_zeroed(void *arr, int *cap, int index, size_t elem);

/* Doubles arr, an array of *cap elements of elem bytes (to `first` elements
 * when empty), for lists that are appended to one at a time. Returns the
 * array for the caller to store, or NULL when out of memory, with arr still
 * valid and *cap unchanged. */
void *ws__grow_doubling(void *arr, size_t *cap, size_t elem, size_t first);

#endif
