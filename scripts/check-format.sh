#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Checks that the C lines a change touches are formatted as .clang-format
# says. Usage: scripts/check-format.sh [BASE]
# BASE defaults to the commit that added .clang-format, so every line
# written since then is checked and the older code is never reformatted.
# Exits 0 when clean, 1 with the diff otherwise; outside a git checkout
# (a release tarball) there is no change to check and it exits 0.
set -uo pipefail
cd "$(dirname "$0")/.."
git rev-parse --git-dir >/dev/null 2>&1 || { echo "not a git checkout: nothing to check"; exit 0; }
command -v git-clang-format >/dev/null || { echo "git-clang-format missing: apt-get install clang-format"; exit 1; }
base=${1:-$(git log --diff-filter=A --format=%H -- .clang-format | tail -n 1)}
[ -n "$base" ] || base=HEAD
# Compare the committed tree and the working tree with the base.
out=$(git clang-format --quiet --diff --extensions c,h "$base" -- lib include examples tests bench docs 2>&1)
case "$out" in
  ""|"no modified files to format"*|"clang-format did not modify any files"*) echo "format: clean since ${base:0:12}"; exit 0 ;;
esac
echo "$out"
echo "format: the lines above differ from .clang-format (fix with: git clang-format $base)"
exit 1
