#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# CI smoke for the benchmark tools (not a measurement): the load generator
# against the ceiling and examples/echo with tiny counts, payloads verified;
# the client row's pieces (the WebSocket ceiling, client_bench).
set -euo pipefail
loadgen=$1 ceiling=$2 echo=$3 client_bench=${4:-}
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT
"$ceiling" echo 0 > ceiling.out & pids+=($!)
"$echo" --port 0 --bind 127.0.0.1 --no-deflate --style events > echo.out 2>/dev/null & pids+=($!)
sleep 0.5
cport=$(awk '{print $2}' ceiling.out)
eport=$(sed -n 's/.*:\([0-9]*\)$/\1/p' echo.out)
"$loadgen" echo --raw --port "$cport" --pid "${pids[0]}" -c 4 -n 500 -s 32
"$loadgen" echo --port "$eport" --pid "${pids[1]}" -c 4 -n 500 -s 32
"$loadgen" echo --port "$eport" --pid "${pids[1]}" -c 2 -n 50 -s 65536 --binary
"$loadgen" idle --port "$eport" --pid "${pids[1]}" -c 50
"$loadgen" connect --port "$eport" --pid "${pids[1]}" -n 50
"$ceiling" wsecho 0 > wsceiling.out & pids+=($!)
sleep 0.3
wport=$(awk '{print $2}' wsceiling.out)
"$loadgen" echo --port "$wport" --pid "${pids[2]}" -c 4 -n 500 -s 32
if [ -n "$client_bench" ]; then
  "$client_bench" "$wport" 4 500 32
  "$client_bench" "$eport" 4 500 32
fi
