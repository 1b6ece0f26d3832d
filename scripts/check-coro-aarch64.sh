#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs the coroutine smoke test with the AArch64 assembly switch under
# qemu-user, so the switch for a CPU CI does not have is still executed.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
aarch64-linux-gnu-gcc -std=c11 -O2 -Wall -Wextra -Werror -D_DEFAULT_SOURCE -static \
  -Ilib -Iinclude tests/unit/coro_smoke.c lib/coro/coro.c lib/coro/switch_aarch64.S \
  -o "$out/coro_smoke"
qemu-aarch64 "$out/coro_smoke"
