/* SPDX-License-Identifier: MIT */
/* Finding the struct that embeds a member (timers in sessions, loops in
 * workers): the member needs no back pointer, which per connection adds up. */
#ifndef WS_UTIL_OWNER_H
#define WS_UTIL_OWNER_H

#include <stddef.h>

/* The struct of type T whose member `m` is at p. */
#define WS__OWNER_OF(p, T, m) ((T *)(void *)((char *)(p) - offsetof(T, m)))

#endif
