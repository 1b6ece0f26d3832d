#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs what building and testing libwschat needs, only where missing.
# Usage: scripts/deps.sh [build|test|bench]
set -euo pipefail
want=(meson ninja-build gcc pkg-config zlib1g-dev libjansson-dev libedit-dev libssl-dev libhiredis-dev liburing-dev)
if [ "${1:-build}" = test ]; then
  want+=(libcmocka-dev clang clang-format libclang-rt-dev python3 python3-websockets chromium tmux openssl redis-server
         gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user libwebsockets-dev)
fi
if [ "${1:-build}" = bench ]; then
  want+=(libwebsockets-dev util-linux redis-server python3-matplotlib python3-websockets)
fi
missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node.js may come from elsewhere than Debian (then Debian's npm would
# conflict with it): ask for the commands, not the packages.
if [ "${1:-build}" != build ]; then
  command -v node >/dev/null || missing+=(nodejs)
  command -v npm >/dev/null || missing+=(npm)
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
