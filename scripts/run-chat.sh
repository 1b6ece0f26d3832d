#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The quick start's first command: build libwschat and run the chat server.
# Usage: scripts/run-chat.sh [--tls] [--cluster N] [--port N] [other examples/chat flags]
# --tls serves https:// and wss://; without --tls-cert/--tls-key it makes a
# self-signed certificate for localhost (openssl CLI) in build-release/dev-tls/
# and prints how to make a browser trust it.
# --cluster N starts Debian's redis-server on a free port (persistence off)
# and N chat processes sharing one port (--reuseport), and stops them all
# on ^C.
# RUN_CHAT_BUILD=DIR runs an existing build tree as it is (the tests do).
set -euo pipefail
cd "$(dirname "$0")/.."
tls=0
nodes=0
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --tls) tls=1 ;;
    --tls-cert) tls=2; args+=("$1") ;;
    --cluster) nodes=${2:?--cluster needs a number}; shift ;;
    *) args+=("$1") ;;
  esac
  shift
done
build=${RUN_CHAT_BUILD:-build-release}
if [ -z "${RUN_CHAT_BUILD:-}" ]; then
  scripts/deps.sh build
  [ -d "$build" ] || meson setup "$build" --buildtype=release -Dtests=false >/dev/null
  ninja -C "$build" examples/chat examples/chat-client >/dev/null
fi
if [ "$tls" = 1 ]; then
  command -v openssl >/dev/null || { echo "run-chat: --tls needs the openssl command: apt-get install openssl" >&2; exit 1; }
  dir=$build/dev-tls
  if [ ! -f "$dir/cert.pem" ] || ! openssl x509 -checkend 86400 -noout -in "$dir/cert.pem" >/dev/null 2>&1; then
    mkdir -p "$dir"
    (umask 077; openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
      -keyout "$dir/key.pem" -out "$dir/cert.pem" -subj /CN=localhost \
      -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" 2>/dev/null)
  fi
  spki=$(openssl x509 -pubkey -noout -in "$dir/cert.pem" | openssl pkey -pubin -outform der |
         openssl dgst -sha256 -binary | base64)
  echo "run-chat: self-signed certificate $dir/cert.pem (for localhost, 30 days)."
  echo "run-chat: to trust it in Chromium: chromium --ignore-certificate-errors-spki-list=$spki"
  echo "run-chat: the terminal client: $build/examples/chat-client --cafile $dir/cert.pem wss://localhost:PORT/chat"
  args+=(--tls-cert "$dir/cert.pem" --tls-key "$dir/key.pem")
fi
if [ "$nodes" -gt 0 ]; then
  command -v redis-server >/dev/null || { echo "run-chat: --cluster needs redis-server: apt-get install redis-server" >&2; exit 1; }
  free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
  rport=$(free_port)
  port=8080
  for ((i = 0; i < ${#args[@]}; i++)); do [ "${args[i]}" = --port ] && port=${args[i + 1]}; done
  [ "$port" = 0 ] && port=$(free_port) && args+=(--port "$port")
  redis-server --port "$rport" --bind 127.0.0.1 --save "" --appendonly no >/dev/null &
  pids=($!)
  trap 'kill "${pids[@]}" 2>/dev/null; wait' EXIT INT TERM
  for _ in $(seq 50); do redis-cli -p "$rport" ping >/dev/null 2>&1 && break; sleep 0.1; done
  for ((n = 1; n <= nodes; n++)); do
    "$build/examples/chat" "${args[@]}" --reuseport --redis "redis://127.0.0.1:$rport" >/dev/null &
    pids+=($!)
  done
  echo "run-chat: redis-server on 127.0.0.1:$rport, $nodes chat processes on port $port"
  echo "Responding at http$([ "$tls" != 0 ] && echo s)://localhost:$port"
  wait
  exit 0
fi
exec "$build/examples/chat" "${args[@]}"
