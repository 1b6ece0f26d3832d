#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The quick start's first command: build libwschat and run the chat server.
# Usage: scripts/run-chat.sh [--port N] [other examples/chat flags]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh build
[ -d build-release ] || meson setup build-release --buildtype=release -Dtests=false >/dev/null
ninja -C build-release examples/chat examples/chat-client >/dev/null
exec build-release/examples/chat "$@"
