#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Hostile clients and faults against the real binaries. Every scenario
checks that a well-behaved bystander keeps its exact behaviour, that the
server's memory stays within a stated bound, and that the server survives.
Usage: test_faults.py ECHO_BIN CHAT_BIN [--only NAME] [--idle N]"""
import argparse
import asyncio
import base64
import os
import resource
import signal
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "conformance"))
from harness import bounded, check, need, raise_nofile, run, server  # noqa: E402
from wsclient import close_payload, connect, frame  # noqa: E402

websockets = need("websockets", "python3-websockets")

ap = argparse.ArgumentParser()
ap.add_argument("echo")
ap.add_argument("chat")
ap.add_argument("--only", default="")
ap.add_argument("--idle", type=int, default=10000)
opts = ap.parse_args()
# RSS is measured without AddressSanitizer's quarantine (it holds freed
# memory on purpose), so the bounds mean the same in every build.
os.environ["ASAN_OPTIONS"] = os.environ.get("ASAN_OPTIONS", "detect_leaks=1") + ":quarantine_size_mb=0"


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Bystander:
    """A normal client that keeps checking the exact echo while faults run."""

    def __init__(self, port):
        self.port = port

    async def __aenter__(self):
        self.ws = await websockets.connect(f"ws://127.0.0.1:{self.port}/", max_size=None)
        self.worst = 0.0
        return self

    async def probe(self, n=5):
        ok = True
        for i in range(n):
            t0 = time.monotonic()
            await self.ws.send(f"bystander {i}")
            ok &= await bounded(self.ws.recv(), 10) == f"bystander {i}"
            self.worst = max(self.worst, time.monotonic() - t0)
        return ok

    async def __aexit__(self, *a):
        await self.ws.close()


def raw_key():
    return base64.b64encode(os.urandom(16)).decode()


def upgrade_request(path="/"):
    return (f"GET {path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {raw_key()}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode()


async def slowloris(port, proc):
    """300 sockets trickle a request a byte every 300 ms."""
    base = rss_mib(proc.pid)
    req = upgrade_request()
    statuses = []

    async def trickle():
        r, w = await asyncio.open_connection("127.0.0.1", port)

        async def dribble():
            try:
                for b in req[:-4]:
                    w.write(bytes([b]))
                    await w.drain()
                    await asyncio.sleep(0.3)
            except ConnectionError:
                pass
        writer = asyncio.create_task(dribble())
        try:  # the answer is read as it comes, while still dribbling
            data = await asyncio.wait_for(r.read(200), 5)
            statuses.append(data[9:12])
        except (asyncio.TimeoutError, ConnectionError):
            statuses.append(b"")
        writer.cancel()
        w.close()

    async with Bystander(port) as b:
        t0 = time.monotonic()
        tasks = [asyncio.create_task(trickle()) for _ in range(300)]
        await asyncio.sleep(0.5)
        alive = await b.probe()
        await asyncio.gather(*tasks)
        took = time.monotonic() - t0
        check("slowloris: bystander unaffected", alive and await b.probe(), f"worst {b.worst * 1000:.0f} ms")
    check("slowloris: every trickler got 408", statuses.count(b"408") == 300,
          f"{statuses.count(b'408')}/300")
    check(f"slowloris: cut within the handshake timeout ({took:.1f} s)", took < 5)
    check(f"slowloris: memory bounded (+{rss_mib(proc.pid) - base:.1f} MiB)", rss_mib(proc.pid) - base < 30)


async def malformed(port, proc):
    base = rss_mib(proc.pid)
    requests = [
        os.urandom(2000),
        b"GET / HTTP/1.1\r\n" + b"X: " + b"a" * 100000 + b"\r\n\r\n",
        b"GET / HTTP/1.1\r\n" + b"".join(b"H%d: v\r\n" % i for i in range(1000)) + b"\r\n",
        b"GET /" + b"u" * 5000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\n folded: header\r\n\r\n",
        b"\x00\x01\x02\x03\r\n\r\n",
        b"GET / HTTP/9.9\r\n\r\n",
        b"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello",
    ]
    want = [b"400", b"431", b"431", b"414", b"400", b"400", b"400", b"405"]
    got = []
    async with Bystander(port) as b:
        for _ in range(25):
            for req in requests:
                r, w = await asyncio.open_connection("127.0.0.1", port)
                try:
                    w.write(req)
                    await w.drain()
                except ConnectionError:
                    pass
                try:
                    data = await asyncio.wait_for(r.read(100), 5)
                except (asyncio.TimeoutError, ConnectionError):
                    data = b""
                got.append(data[9:12])
                w.close()
        check("malformed requests: bystander unaffected", await b.probe())
    # Which request (its index in `requests`), what it wanted, what it got.
    check("malformed requests: each gets its status", got == want * 25,
          str([(i % len(requests), w_, g) for i, (w_, g) in enumerate(zip(want * 25, got))
               if w_ != g][:8]))
    check(f"malformed requests: memory bounded (+{rss_mib(proc.pid) - base:.1f} MiB)",
          rss_mib(proc.pid) - base < 30)


async def broken_clients(port, proc):
    """Killed mid-frame (FIN and RST), half-closed after a message."""
    async with Bystander(port) as b:
        for i in range(60):
            c = await connect(port)
            data = frame(2, os.urandom(5000))
            await c.send(data[:len(data) // 2])
            if i % 2:
                sock = c.w.get_extra_info("socket")
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            c.abort()
        check("killed mid-frame (FIN and RST): bystander unaffected", await b.probe())
        c = await connect(port)
        await c.send(frame(1, "before half-close"))
        c.w.get_extra_info("socket").shutdown(socket.SHUT_WR)
        got = await c.messages(1, 5)
        _, tcp = await c.closing(5)
        check("half-closed client still gets its echo", got == [(1, b"before half-close")])
        check("half-closed client: server then closes", tcp)
        check("after broken clients: bystander unaffected", await b.probe())


async def floods(port, proc):
    base = rss_mib(proc.pid)
    async with Bystander(port) as b:
        # Ping flood from a client that never reads.
        c = await connect(port)
        c.w.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        ping = frame(9, b"p" * 125)
        for _ in range(200):
            await c.send(ping * 500)
        flood_rss = rss_mib(proc.pid) - base
        check("ping flood: bystander unaffected", await b.probe())
        check(f"ping flood (100k pings, not read): memory bounded (+{flood_rss:.1f} MiB)", flood_rss < 30)
        c.abort()
        # A message of 200,000 one-byte fragments: legal, echoed.
        c = await connect(port)
        n = 200000
        await c.send(frame(2, b"x", fin=False) + frame(0, b"x", fin=False) * (n - 2) + frame(0, b"x"))
        got = await c.messages(1, 30)
        check("tiny-fragment flood: reassembled and echoed", got == [(2, b"x" * n)])
        # Fragments beyond the message limit: 1009 once the total passes 16 MiB.
        chunk = frame(0, b"y" * 65536, fin=False)
        await c.send(frame(2, b"y" * 65536, fin=False))
        try:
            for _ in range(300):
                await c.send(chunk)
        except ConnectionError:
            pass
        code, _ = await c.closing(5)
        check("fragment flood past the limit: 1009", code == 1009, str(code))
        # Max-size messages back to back.
        ws = await websockets.connect(f"ws://127.0.0.1:{port}/", max_size=None, compression=None)
        big = os.urandom(16 << 20)
        t0 = time.monotonic()
        for _ in range(6):
            await ws.send(big)
            assert await bounded(ws.recv(), 60) == big
        check(f"6 max-size (16 MiB) messages echoed ({time.monotonic() - t0:.1f} s)", True)
        await ws.close()
        check("after floods: bystander unaffected", await b.probe())
    grown = rss_mib(proc.pid) - base
    check(f"floods: memory bounded (+{grown:.1f} MiB, limit 150)", grown < 150)


async def slow_reader(port, proc):
    """Chat: one member never reads while the room broadcasts; it is closed
    at its send-queue limit and the others keep their latency."""
    url = f"ws://127.0.0.1:{port}/chat"
    # A plain socket that really never reads (an asyncio stream would keep
    # reading in the background), with a small receive window.
    slow = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow.connect(("127.0.0.1", port))
    slow.sendall(upgrade_request("/chat"))
    readers = [await websockets.connect(url, max_queue=None) for _ in range(3)]
    sender = await websockets.connect(url, max_queue=None)
    for r in readers + [sender]:
        await bounded(r.recv())
    lat = []
    text = "m" * 4000
    n = 3000  # 12 MB to everyone: far past the slow reader's 1 MiB limit
    probed = 0
    for i in range(n):
        await sender.send(f"{i} {text}")
        if i % 100 == 0:
            t0 = time.monotonic()
            want = f"[user4]: {i} {text}"
            while True:
                msg = await bounded(readers[0].recv())
                probed += msg.startswith("[user4]: ")
                if msg == want:
                    break
            lat.append(time.monotonic() - t0)
    counts = []
    for j, r in enumerate(readers):
        k = probed if j == 0 else 0
        try:
            while True:
                msg = await asyncio.wait_for(r.recv(), 2)
                if msg.startswith("[user4]: "):
                    k += 1
        except asyncio.TimeoutError:
            pass
        counts.append(k)
    # Only now does the slow reader read: the server has given up on it.
    def drain():
        slow.settimeout(10)
        try:
            while slow.recv(1 << 20):
                pass
            return True          # EOF: closed by the server
        except ConnectionResetError:
            return True          # cut after the close timeout, backlog dropped
        except socket.timeout:
            return False
    tcp = await asyncio.get_running_loop().run_in_executor(None, drain)
    slow.close()
    proc.send_signal(signal.SIGTERM)
    log = proc.stderr.read()
    if os.environ.get("FAULTS_DEBUG"):
        print(log[-3000:])
    check("slow reader: ended by the server with 1008 (overload)",
          "session ended: 1008 (overload) send queue over its limit" in log)
    check("slow reader: its connection was closed", tcp)
    check(f"slow reader: others' latency stays low (worst {max(lat) * 1000:.0f} ms)", max(lat) < 0.5)
    check("slow reader: the others lose nothing", counts == [n, n, n], str(counts))
    for r in readers + [sender]:
        await r.close()


def idle_connections(port, proc, n):
    raise_nofile(n + 500)
    base = rss_mib(proc.pid)
    socks, t0 = [], time.monotonic()
    req = upgrade_request()
    for i in range(n):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(req)
        socks.append(s)
        if i % 500 == 499:  # ramp: read the answers of this batch
            for x in socks[-500:]:
                x.settimeout(10)
                if not x.recv(200).startswith(b"HTTP/1.1 101"):
                    return check("idle: handshake", False)
    for x in socks[n - n % 500:]:
        x.settimeout(10)
        x.recv(200)
    held = rss_mib(proc.pid)
    per = (held - base) * 1024 * 1024 / n
    check(f"{n} idle connections held ({time.monotonic() - t0:.1f} s, {per:.0f} B each)", per < 16384)
    for s in socks:  # all dropped at once, abortively
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
    time.sleep(1.5)
    return held


async def idle(port, proc):
    held = await asyncio.get_running_loop().run_in_executor(None, idle_connections, port, proc, opts.idle)
    async with Bystander(port) as b:
        check("after dropping every idle connection: service as before", await b.probe())
    check(f"idle connections released (RSS {rss_mib(proc.pid):.0f} MiB, held {held or 0:.0f})",
          held is not None)


async def broadcast_disconnects(port, proc):
    """Chat on 2 threads: members vanish (RST) while a broadcast to them is
    in flight. Nothing may touch a freed session (ASan in CI would say)."""
    url = f"ws://127.0.0.1:{port}/chat"
    stay = [await websockets.connect(url, max_queue=None) for _ in range(50)]
    leave = [await connect(port, "/chat") for _ in range(150)]
    for w in stay:
        await bounded(w.recv())
    sender = stay[0]
    n = 300

    async def vanish():
        for i, c in enumerate(leave):
            await asyncio.sleep(0.002)
            c.w.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            c.abort()

    async def talk():
        for i in range(n):
            await sender.send(f"b{i}")
    await asyncio.gather(vanish(), talk())
    ok = True
    for w in stay:
        got = 0
        try:
            while got < n:
                if (await asyncio.wait_for(w.recv(), 5)).startswith("[user0]: b"):
                    got += 1
        except asyncio.TimeoutError:
            pass
        ok &= got == n
    check("broadcast while members vanish: the rest get every message", ok)
    check("broadcast while members vanish: server alive", proc.poll() is None)
    for w in stay:
        await w.close()


def metrics(port):
    import urllib.request
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        text = r.read().decode()
    return {k: int(v) for k, v in (line.split() for line in text.splitlines()
                                   if line.startswith("wschat_") and "{" not in line)}


def storm_connections(port, n):
    """n chat members, each with a frame half sent (a receive in flight),
    all reset at once right after broadcasts to them were started."""
    raise_nofile(n + 500)
    socks = []
    for i in range(n):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(upgrade_request("/chat"))
        socks.append(s)
        if i % 500 == 499:
            for x in socks[-500:]:
                x.settimeout(10)
                if not x.recv(300).startswith(b"HTTP/1.1 101"):
                    return None
    for x in socks[n - n % 500:]:
        x.settimeout(10)
        x.recv(300)
    half = frame(0x1, b"z" * 1000, mask=True)[:600]
    for s in socks:
        s.sendall(half)
    return socks


async def closing_storm(port, proc):
    """10,000 members dropped at once (RST) while broadcasts to them are
    being written and their frames are half received: every session ends,
    nothing spins, the service goes on; under ASan nothing is touched after
    it is freed, and the exit on SIGTERM finds no leak."""
    n = opts.idle
    loop = asyncio.get_running_loop()
    socks = await loop.run_in_executor(None, storm_connections, port, n)
    check(f"storm: {n} members joined", socks is not None and len(socks) == n)
    if not socks:
        return
    sender = await websockets.connect(f"ws://127.0.0.1:{port}/chat", max_queue=None)
    await bounded(sender.recv())
    before = await loop.run_in_executor(None, metrics, port)
    for i in range(20):
        await sender.send(f"storm {i} " + "s" * 1000)
    await asyncio.sleep(0.05)
    for s in socks:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
    deadline, m = time.monotonic() + 30, {}
    while time.monotonic() < deadline:
        m = await loop.run_in_executor(None, metrics, port)
        # Two connections: the sender's and this /metrics request's own.
        if m.get("wschat_sessions_open") == 1 and m.get("wschat_connections") == 2:
            break
        await asyncio.sleep(0.2)
    check("storm: every dropped session ended (one left: the sender)",
          m.get("wschat_sessions_open") == 1 and m.get("wschat_connections") == 2, str(m))
    check("storm: broadcasts were under way when the members vanished",
          m.get("wschat_deliveries_total", 0) - before.get("wschat_deliveries_total", 0) > 0, str(m))
    cpu0 = cpu_seconds(proc.pid)
    await asyncio.sleep(1)
    spent = cpu_seconds(proc.pid) - cpu0
    check(f"storm: idle afterwards ({spent:.2f} s CPU in 1 s)", spent < 0.2)
    got = 0
    await sender.send("after the storm")
    while got < 21:
        msg = await bounded(sender.recv(), 10)
        got += 1
        if msg.endswith("after the storm"):
            break
    check("storm: the sender is served after it", msg.endswith("after the storm"), msg[:60])
    await sender.close()
    proc.send_signal(signal.SIGTERM)
    rc = await loop.run_in_executor(None, lambda: proc.wait(timeout=30))
    check("storm: clean exit on SIGTERM (no leak under ASan)", rc == 0, f"rc={rc} {proc.stderr.read()[-2000:]}")


async def sigterm_under_load(port, proc):
    conns = [await websockets.connect(f"ws://127.0.0.1:{port}/") for _ in range(100)]
    stop = False

    async def pound(ws):
        try:
            while not stop:
                await ws.send("load")
                await ws.recv()
        except websockets.ConnectionClosed as e:
            return e.rcvd.code if e.rcvd else None
    tasks = [asyncio.create_task(pound(w)) for w in conns]
    await asyncio.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    codes = await asyncio.wait_for(asyncio.gather(*tasks), 15)
    check("SIGTERM under load: every client sees 1001", codes.count(1001) == 100,
          str({c: codes.count(c) for c in set(codes)}))
    rc = await asyncio.get_running_loop().run_in_executor(None, lambda: proc.wait(timeout=15))
    check("SIGTERM under load: exit status 0", rc == 0, f"rc={rc}")


async def limits():
    with server(opts.echo, "--max-connections", "20") as (proc, port):
        socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(25)]
        time.sleep(0.3)
        refused = 0
        for s in socks[20:]:
            s.settimeout(5)
            refused += s.recv(100).startswith(b"HTTP/1.1 503")
        check("connections above --max-connections get 503", refused == 5, str(refused))
        for s in socks:
            s.close()

    # Out of descriptors: the server must neither spin nor stop serving.
    def low_nofile():
        resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
    import subprocess
    p = subprocess.Popen([opts.echo, "--port", "0", "--bind", "127.0.0.1"], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True, preexec_fn=low_nofile)
    try:
        port = int(p.stdout.readline().rsplit(":", 1)[1])
        socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(120)]
        cpu0 = cpu_seconds(p.pid)
        time.sleep(2)
        spent = cpu_seconds(p.pid) - cpu0
        check(f"EMFILE: accept does not spin ({spent:.2f} s CPU in 2 s)", spent < 0.5)
        for s in socks[:80]:
            s.close()
        time.sleep(0.5)
        ws = await websockets.connect(f"ws://127.0.0.1:{port}/")
        await ws.send("after EMFILE")
        check("EMFILE: serving again once descriptors are free", await bounded(ws.recv()) == "after EMFILE")
        await ws.close()
        for s in socks[80:]:
            s.close()
    finally:
        p.kill()
        p.wait()


SCENARIOS = [("slowloris", opts.echo, slowloris), ("malformed", opts.echo, malformed),
             ("broken", opts.echo, broken_clients), ("floods", opts.echo, floods),
             ("slow-reader", opts.chat, slow_reader), ("idle", opts.echo, idle),
             ("disconnects", opts.chat, broadcast_disconnects), ("storm", opts.chat, closing_storm),
             ("sigterm", opts.echo, sigterm_under_load)]


async def main():
    raise_nofile(opts.idle + 1000)
    for name, binary, fn in SCENARIOS:
        if not name.startswith(opts.only):
            continue
        extra = ["--handshake-timeout", "1500"]
        if name == "slow-reader":
            extra += ["--send-limit", "1048576", "--verbose"]
        if name in ("disconnects", "storm"):
            extra += ["--threads", "2"]
        t0 = time.monotonic()
        with server(binary, *extra, nofile=opts.idle + 1000) as (proc, port):
            await fn(port, proc)
            if name not in ("sigterm", "slow-reader", "storm"):
                check(f"{name}: server still running", proc.poll() is None)
        print(f"   ({name}: {time.monotonic() - t0:.1f} s)", flush=True)
    if "limits".startswith(opts.only) or not opts.only:
        await limits()


run(main)
