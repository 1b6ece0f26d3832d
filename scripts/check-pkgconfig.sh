#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs a build into a scratch prefix and compiles an outside program
# against it with nothing but pkg-config, as a user would.
set -euo pipefail
build=$1
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
meson install -C "$build" --destdir "$stage" >/dev/null
prefix=$(meson introspect "$build" --buildoptions | python3 -c \
  'import json,sys; print([o["value"] for o in json.load(sys.stdin) if o["name"]=="prefix"][0])')
libdir=$(meson introspect "$build" --buildoptions | python3 -c \
  'import json,sys; print([o["value"] for o in json.load(sys.stdin) if o["name"]=="libdir"][0])')
pcdir="$stage$prefix/$libdir/pkgconfig"
cat >"$stage/app.c" <<'C'
#include <stdio.h>
#include <string.h>
#include <wschat.h>
int main(void)
{
    ws_server *srv = ws_server_new(NULL);
    if (!srv || strcmp(ws_strerror(WS_ECLOSED), "session is closed") != 0)
        return 1;
    printf("libwschat %s: %s\n", ws_version(), ws_strerror(WS_EINVAL));
    ws_server_free(srv);
    return 0;
}
C
# Point the .pc file's prefix at the staging directory.
flags=$(PKG_CONFIG_PATH="$pcdir" pkg-config --define-variable=prefix="$stage$prefix" --cflags --libs libwschat)
cc -std=c11 -Wall -Werror "$stage/app.c" $flags -o "$stage/app"
LD_LIBRARY_PATH="$stage$prefix/$libdir" "$stage/app"
