#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The kqueue backend cannot run on Linux; this keeps it compiling (with
# -Werror) as the code around it changes, against a stand-in <sys/event.h>
# declaring only the kqueue API it uses.
set -euo pipefail
cd "$(dirname "$0")/.."
${CC:-cc} -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -Wall -Wextra -Wpedantic -Werror \
  -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Itests/compile/kqueue_standin -Ilib -Iinclude \
  -fsyntax-only lib/io/kqueue.c
echo "lib/io/kqueue.c compiles"
