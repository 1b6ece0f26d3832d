#!/bin/sh
# SPDX-License-Identifier: MIT
# Stands in for a test's interpreter when the build could not find it: the
# test is skipped (meson's exit code 77) with one line saying what to install.
echo "SKIP: $1"
exit 77
