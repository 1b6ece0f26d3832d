#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Fails if the shared library exports any symbol without the ws_ prefix.
set -euo pipefail
lib=$1
bad=$(nm -D --defined-only "$lib" | awk '$2 ~ /[TDBR]/ {print $3}' | grep -v '^ws_' || true)
if [ -n "$bad" ]; then
  echo "symbols without the ws_ prefix:"; echo "$bad"; exit 1
fi
count=$(nm -D --defined-only "$lib" | awk '$2 ~ /[TDBR]/' | wc -l)
echo "$count exported symbols, all ws_"
