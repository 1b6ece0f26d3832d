#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""examples/echo over loopback with Python's websockets (Debian
python3-websockets): every route's exact strings, both styles, every
backend, 1 and 2 threads, 2,000 concurrent connections, and SIGTERM."""
import argparse
import asyncio
import os
import signal

from harness import bounded, check, need, run, server

websockets = need("websockets", "python3-websockets")

ap = argparse.ArgumentParser()
ap.add_argument("binary")
ap.add_argument("--style", default="handler")
ap.add_argument("--backend", default="epoll")
ap.add_argument("--threads", default="1")
ap.add_argument("--many", type=int, default=0, help="also hold this many connections at once")
ap.add_argument("--no-deflate", action="store_true", help="run the server without compression")
opts = ap.parse_args()
ARGS = ["--style", opts.style, "--backend", opts.backend, "--threads", opts.threads]
if opts.no_deflate:
    ARGS.append("--no-deflate")


async def routes(port):
    url = f"ws://127.0.0.1:{port}"
    async with websockets.connect(url + "/echo") as ws:
        check("/echo greets", await bounded(ws.recv()) == "Please enter your name")
        await ws.send("Alice")
        check("/echo answers Hi, X!", await bounded(ws.recv()) == "Hi, Alice!")
        await ws.send("ünï 🎉")
        check("/echo keeps UTF-8", await bounded(ws.recv()) == "Hi, ünï 🎉!")
        await ws.send(["frag", "mented"])  # reassembled, then used as a C string
        check("/echo on a fragmented message", await bounded(ws.recv()) == "Hi, fragmented!")
        await ws.send(b"\x00\x01")  # binary is ignored by /echo
        await ws.send("bYe")
        try:
            await bounded(ws.recv())
            check("/echo bye closes", False, "got a message")
        except websockets.ConnectionClosed as e:
            check("/echo bye closes with 1000", e.rcvd is not None and e.rcvd.code == 1000)
            check("/echo bye reason", e.rcvd is not None and e.rcvd.reason == "Client said BYE")
    async with websockets.connect(url + "/chat") as ws:
        check("/chat greets", await bounded(ws.recv()) == "You are connected!")
        await ws.send("hello")
        check("/chat answers You said: X", await bounded(ws.recv()) == "You said: hello")
    async with websockets.connect(url + "/", max_size=None) as ws:
        ext = ws.response_headers.get("Sec-WebSocket-Extensions") or ""
        if opts.no_deflate:
            check("--no-deflate: no extension negotiated", ext == "", ext)
        else:
            check("permessage-deflate negotiated", ext.startswith("permessage-deflate"), ext)
        for size in (0, 1, 125, 126, 65535, 65536, 1 << 20, 5 << 20):
            text = ("abcé" * (size // 5 + 1))[:size // 2]
            await ws.send(text)
            check(f"/ echoes compressible text of {len(text)} chars", await bounded(ws.recv()) == text)
            payload = os.urandom(size)
            await ws.send(payload)
            check(f"/ echoes {size} binary bytes", await bounded(ws.recv()) == payload)
        text = "x" * 70000 + "é"
        await ws.send(text)
        check("/ echoes long text", await bounded(ws.recv()) == text)
        # Fragmented message from the client (an iterable sends fragments).
        await ws.send(["frag", "mented ", "text"])
        check("/ reassembles fragments", await bounded(ws.recv()) == "fragmented text")
        pong = await ws.ping(b"ping!")
        await bounded(pong, 5)
        check("/ answers pings", True)
    async with websockets.connect(url + "/") as ws:
        await ws.close(4000, "client done")
        check("client close echoed", ws.close_code == 4000)


async def many(port, n):
    url = f"ws://127.0.0.1:{port}/"
    conns = []
    # Ramp in batches so the 4,096 backlog is never the limit being tested.
    for start in range(0, n, 200):
        batch = await asyncio.gather(*(websockets.connect(url, open_timeout=30)
                                       for _ in range(min(200, n - start))))
        conns.extend(batch)
    check(f"{n} connections open at once", len(conns) == n)
    await asyncio.gather(*(c.send(f"m{i}") for i, c in enumerate(conns)))
    replies = await asyncio.gather(*(bounded(c.recv(), 60) for c in conns))
    check(f"all {n} echo their own message", replies == [f"m{i}" for i in range(n)])
    await asyncio.gather(*(c.close() for c in conns))


async def sigterm(proc, port):
    url = f"ws://127.0.0.1:{port}/"
    conns = [await websockets.connect(url) for _ in range(5)]
    proc.send_signal(signal.SIGTERM)
    codes = []
    for c in conns:
        try:
            await bounded(c.recv(), 10)
        except websockets.ConnectionClosed as e:
            codes.append(e.rcvd.code if e.rcvd else None)
    check("SIGTERM: every client sees 1001", codes == [1001] * 5, str(codes))
    rc = await asyncio.get_running_loop().run_in_executor(None, lambda: proc.wait(timeout=15))
    check("SIGTERM: exit status 0", rc == 0, f"rc={rc}")


async def main():
    nofile = opts.many + 512 if opts.many else None
    if nofile:
        import harness
        harness.raise_nofile(nofile)
    with server(opts.binary, *ARGS, nofile=nofile) as (proc, port):
        await routes(port)
        if opts.many:
            await many(port, opts.many)
        await sigterm(proc, port)


run(main)
