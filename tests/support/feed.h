/* SPDX-License-Identifier: MIT */
/* Scripted byte feeding (after wslay's scripted_data_feed): the same input is
 * delivered whole, one byte at a time, and in seeded random splits, so every
 * incremental parser is exercised at every boundary. */
#ifndef WS_TEST_FEED_H
#define WS_TEST_FEED_H

#include <stddef.h>
#include <stdint.h>

typedef enum { FEED_WHOLE, FEED_BYTES, FEED_RANDOM } feed_mode;

/* Calls fn(ud, chunk, n) with successive chunks of a copy of data. fn returns
 * bytes consumed (< n means "stop here"), or a negative value to stop the
 * feed. Returns the total consumed, or the negative value. */
long feed_split(const uint8_t *data, size_t len, feed_mode mode, unsigned seed,
                long (*fn)(void *ud, uint8_t *chunk, size_t n), void *ud);

#endif
