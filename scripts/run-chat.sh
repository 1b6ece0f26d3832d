#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The quick start's first command: build libwschat and run the chat server.
# Usage: scripts/run-chat.sh [--tls] [--port N] [other examples/chat flags]
# --tls serves https:// and wss://; without --tls-cert/--tls-key it makes a
# self-signed certificate for localhost (openssl CLI) in build-release/dev-tls/
# and prints how to make a browser trust it.
# RUN_CHAT_BUILD=DIR runs an existing build tree as it is (the tests do).
set -euo pipefail
cd "$(dirname "$0")/.."
tls=0
args=()
for a in "$@"; do
  case "$a" in
    --tls) tls=1 ;;
    --tls-cert) tls=2; args+=("$a") ;;
    *) args+=("$a") ;;
  esac
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
exec "$build/examples/chat" "${args[@]}"
