#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds the libFuzzer targets with clang (ASan + UBSan, the library itself
# coverage-instrumented) and fuzzes each for SECONDS (default 20), starting
# from the committed seed corpus. Exits non-zero on any finding; a crash
# reproducer is left in build-fuzz/ for the corpus.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-20}
if [ ! -d build-fuzz ]; then
  CC=clang meson setup build-fuzz -Dfuzzing=true -Db_sanitize=address,undefined -Db_lundef=false \
    -Dexamples=false -Dintegration=false >/dev/null
fi
targets=(http conn inflate session client)
ninja -C build-fuzz "${targets[@]/#/tests/fuzz/fuzz_}" >/dev/null
for t in "${targets[@]}"; do
  work=$(mktemp -d)
  cp tests/fuzz/corpus/"$t"/* "$work"/
  if ! (cd build-fuzz && UBSAN_OPTIONS=halt_on_error=1 ./tests/fuzz/fuzz_"$t" \
        -max_total_time="$secs" -max_len=16384 -rss_limit_mb=4096 "$work" >"fuzz-$t.log" 2>&1); then
    tail -30 "build-fuzz/fuzz-$t.log"
    rm -rf "$work"
    echo "fuzz $t: FINDING (see build-fuzz/fuzz-$t.log)"
    exit 1
  fi
  echo "fuzz $t: $(grep -o 'Done [0-9]* runs' "build-fuzz/fuzz-$t.log") in ${secs} s, no finding"
  rm -rf "$work"
done
