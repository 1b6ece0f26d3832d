#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The quick start's second command, and what .ci/run calls: installs what it
# needs, then builds and tests four times: a -Werror build, an
# AddressSanitizer + UndefinedBehaviorSanitizer build, the same with
# io_uring as the default backend, and a build with
# every optional feature disabled (unit and session tests only). Ends with
# "N passed, M failed" and exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
scripts/deps.sh test || { echo "0 passed, 1 failed"; exit 1; }
for d in tests/integration tests/browser; do
  ( cd "$d" && { [ -d node_modules ] || npm ci --silent --no-audit --no-fund >/dev/null; } ) \
    || { echo "npm install in $d failed"; echo "0 passed, 1 failed"; exit 1; }
done

passed=0
failed=0
count_log() { # tally a meson testlog.json
  local log=$1
  [ -f "$log" ] || return 0
  local p f
  p=$(grep -c '"result": "OK"' "$log" || true)
  # This script installed every tool, so a skipped test is a failure here.
  f=$(grep -c -E '"result": "(FAIL|TIMEOUT|ERROR|UNEXPECTEDPASS|SKIP)"' "$log" || true)
  passed=$((passed + p))
  failed=$((failed + f))
}
step() { # a check outside meson: name, command...
  local name=$1; shift
  if "$@"; then passed=$((passed + 1)); echo "ok: $name"; else failed=$((failed + 1)); echo "FAILED: $name"; fi
}

build_and_test() { # dir, meson options...
  local dir=$1; shift
  rm -f "$dir/meson-logs/testlog.json"
  if [ ! -d "$dir" ]; then
    meson setup "$dir" -Dwerror=true "$@" >/dev/null || { failed=$((failed + 1)); echo "FAILED: setup $dir"; return; }
  fi
  # The log stays inside the build directory (meson-logs/), out of git.
  local blog="$dir/meson-logs/build.log"
  if ! ninja -C "$dir" >"$blog" 2>&1; then
    tail -40 "$blog"; failed=$((failed + 1)); echo "FAILED: build $dir"; return
  fi
  meson test -C "$dir" --num-processes 2 --timeout-multiplier "${TIMEOUT_MULT:-1}" \
    | grep -E '^ *[0-9]+/[0-9]+ |^(Ok|Fail|Timeout):' || true
  count_log "$dir/meson-logs/testlog.json"
  show_failures "$dir/meson-logs/testlog.json"
}
show_failures() { # the end of each failed test's output, so a red run says why
  [ -f "$1" ] || return 0
  /usr/bin/python3 - "$1" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    t = json.loads(line)
    if t.get("result") in ("FAIL", "TIMEOUT", "ERROR", "UNEXPECTEDPASS", "SKIP"):
        out = ((t.get("stdout") or "") + (t.get("stderr") or "")).splitlines()
        print(f"---- {t['name']}: {t['result']} ({t.get('duration', 0):.1f} s), last lines:")
        print("\n".join("   " + l for l in out[-60:]))
PY
}

echo "== build 1: -Werror"
build_and_test build-ci
echo "== build 2: ASan + UBSan"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
TIMEOUT_MULT=3 build_and_test build-ci-asan -Db_sanitize=address,undefined -Db_lundef=false
# Every test once more with epoll as the build's default backend (builds 1
# and 2 default to io_uring, and run the echo and chat tests on every
# backend), under the sanitizers too.
echo "== build 3: epoll as the default backend, ASan + UBSan"
TIMEOUT_MULT=3 build_and_test build-ci-epoll -Dio_backend=epoll -Db_sanitize=address,undefined -Db_lundef=false
unset ASAN_OPTIONS UBSAN_OPTIONS

echo "== build 4: every optional feature disabled (no zlib, OpenSSL, hiredis, liburing, libedit)"
build_and_test build-ci-bare -Ddeflate=disabled -Dtls=disabled -Dlibedit=disabled -Dredis=disabled -Dio_uring=disabled -Dintegration=false

echo "== packaging"
step "pkg-config consumer" scripts/check-pkgconfig.sh "$root/build-ci"
step "fuzzing: each target ${FUZZ_SECONDS:-20} s (clang, ASan+UBSan)" scripts/fuzz.sh "${FUZZ_SECONDS:-20}"
step "kqueue backend compiles (stand-in header)" scripts/check-kqueue-compiles.sh
step "AArch64 coroutine switch under qemu" scripts/check-coro-aarch64.sh
step "the lines this change touches follow .clang-format" scripts/check-format.sh
step "exported symbols carry the ws_ prefix" tests/abi/check_symbols.sh "$root/build-ci/lib/libwschat.so"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
