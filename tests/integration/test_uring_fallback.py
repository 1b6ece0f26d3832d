#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The io_uring fallback: examples/echo with io_uring_setup refused by a
seccomp filter (tests/support/no_uring.c) logs one line and serves on
epoll; told to use epoll, it never calls io_uring_setup at all (the filter
kills the process that does). Which backend a server really runs on is read
from its descriptors in /proc (anon_inode:[io_uring] or [eventpoll]), with
an unfiltered run as the control that shows the check can tell them apart."""
import argparse
import os
import subprocess

from harness import bounded, check, need, run, server, skip

websockets = need("websockets", "python3-websockets")

ap = argparse.ArgumentParser()
ap.add_argument("echo")
ap.add_argument("no_uring")
ap.add_argument("--default-backend", default="epoll")
opts = ap.parse_args()

LINE = "io_uring unavailable here; running on epoll"

probe = subprocess.run([opts.no_uring, "eperm", "true"], capture_output=True, text=True)
if probe.returncode == 77:
    skip(probe.stdout.strip())


def rings(pid):
    """Counts the process's io_uring and epoll descriptors."""
    kinds = {"io_uring": 0, "eventpoll": 0}
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        for k in kinds:
            if target == f"anon_inode:[{k}]":
                kinds[k] += 1
    return kinds


async def echoes(port):
    async with websockets.connect(f"ws://127.0.0.1:{port}/") as ws:
        for size in (5, 70000):
            text = "x" * size
            await ws.send(text)
            if await bounded(ws.recv()) != text:
                return False
    return True


async def case(name, wrap, args, want, want_line):
    with server(opts.echo, *args, wrap=wrap) as (proc, port):
        ok = await echoes(port)
        kinds = rings(proc.pid)
        proc.terminate()
        proc.wait(timeout=10)
        err = proc.stderr.read()
    check(f"{name}: serves", ok)
    check(f"{name}: runs on {want}",
          (kinds["io_uring"] > 0) == (want == "io_uring") and
          (kinds["eventpoll"] > 0) == (want == "epoll"), str(kinds))
    check(f"{name}: {'logs the fallback once' if want_line else 'no fallback line'}",
          err.count(LINE) == (1 if want_line else 0), err[-400:])
    check(f"{name}: exits cleanly on SIGTERM", proc.returncode == 0, str(proc.returncode))


async def main():
    refused = [opts.no_uring, "eperm"]
    killer = [opts.no_uring, "kill"]
    await case("io_uring, not refused (control)", [], ["--backend", "io_uring"], "io_uring", False)
    for threads in ("1", "2"):
        await case(f"io_uring refused (EPERM), {threads} thread(s)", refused,
                   ["--backend", "io_uring", "--threads", threads], "epoll", True)
    await case("epoll set: io_uring never probed (a probe would be killed)", killer,
               ["--backend", "epoll"], "epoll", False)
    await case("poll set: io_uring never probed", killer, ["--backend", "poll"], "poll", False)
    if opts.default_backend == "io_uring":
        await case("the build's default (io_uring) refused", refused, [], "epoll", True)
    else:
        await case("the build's default (epoll): io_uring never probed", killer, [], "epoll", False)


run(main, seconds=120)
