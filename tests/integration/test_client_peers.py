#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""libwschat's client against real servers over loopback: Debian's
python3-websockets and npm's ws (echo of every size, fragments, a ping,
close codes both ways, permessage-deflate), both handler styles; and 1,000
client sessions from one process to one examples/echo process.
Usage: test_client_peers.py CLIENT_CHECK ECHO_BIN"""
import os
import re
import shutil
import subprocess
import sys
import time

from harness import check, need, server, skip, RESULTS

need("websockets", "python3-websockets")
here = os.path.dirname(os.path.abspath(__file__))
client_check, echo_bin = sys.argv[1:3]
if not shutil.which("node"):
    skip("node missing: apt-get install nodejs npm, or run scripts/test.sh")
if not os.path.isdir(os.path.join(here, "node_modules", "ws")):
    skip("npm packages missing: run npm ci in tests/integration, or scripts/test.sh")


def peer(cmd):
    """Starts a third-party echo server; returns (proc, port)."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=here)
    line = proc.stdout.readline()
    m = re.search(r"listening on (\d+)", line)
    if not m:
        proc.kill()
        raise RuntimeError(f"{cmd[0]} did not start: {line!r} {proc.stderr.read()}")
    return proc, int(m.group(1))


def run_check(label, url, *flags, timeout=120):
    try:
        r = subprocess.run([client_check, url, *flags], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        check(f"{label}: finished in time", False)
        return
    fails = [l for l in r.stdout.splitlines() if l.startswith("FAILED")]
    summary = r.stdout.strip().splitlines()[-1] if r.stdout.strip() else r.stderr[-300:]
    check(f"{label}: {summary}", r.returncode == 0 and not fails, "; ".join(fails[:5]))


peers = {
    "python3-websockets": ["/usr/bin/python3", os.path.join(here, "py_echo_server.py")],
    "npm ws": ["node", os.path.join(here, "node_echo_server.mjs")],
}
for name, cmd in peers.items():
    for deflate in (True, False):
        proc, port = peer(cmd + ([] if deflate else ["--no-deflate"]))
        try:
            for style in ("handler", "events"):
                run_check(f"{name}{' (deflate)' if deflate else ''}, {style}",
                          f"ws://127.0.0.1:{port}/", "--style", style, *(["--deflate"] if deflate else []))
        finally:
            proc.kill()
            proc.wait()

# 1,000 sessions at once from one process to one server process.
with server(echo_bin, nofile=4096) as (proc, port):
    t0 = time.time()
    run_check("1000 client sessions to examples/echo", f"ws://127.0.0.1:{port}/", "--many", "1000",
              timeout=180)
    print(f"  ({time.time() - t0:.1f} s)")
    check("the server is still up", proc.poll() is None)

print(f"{RESULTS['passed']} passed, {RESULTS['failed']} failed")
sys.exit(1 if RESULTS["failed"] or not RESULTS["passed"] else 0)
