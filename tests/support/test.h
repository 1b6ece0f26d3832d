/* SPDX-License-Identifier: MIT */
/* Common includes for cmocka tests. */
#ifndef WS_TEST_H
#define WS_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
