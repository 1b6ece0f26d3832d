#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""TLS over loopback, with certificates made for this run (openssl CLI):
examples/echo and examples/chat on wss:// and https:// with Debian's
python3-websockets, npm's ws and openssl s_client (TLS 1.1 refused, 1.2
and 1.3 served, ALPN http/1.1); libwschat's client against its own TLS
server and a third-party one; the plain listener's redirect; reload on
SIGHUP; and the hostile cases: plain HTTP, garbage and a truncated,
stalled ClientHello, renegotiation, a handshake flood, a reader that stops
reading. Usage: test_tls.py ECHO_BIN CHAT_BIN CLIENT_CHECK"""
import asyncio
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time

from harness import bounded, check, free_port, need, run, server, skip, test_ca

websockets = need("websockets", "python3-websockets")
if not shutil.which("openssl"):
    skip("openssl missing: apt-get install openssl, or run scripts/test.sh")
here = os.path.dirname(os.path.abspath(__file__))
if not shutil.which("node"):
    skip("node missing: apt-get install nodejs npm, or run scripts/test.sh")
if not os.path.isdir(os.path.join(here, "node_modules", "ws")):
    skip("npm packages missing: run npm ci in tests/integration, or scripts/test.sh")
echo_bin, chat_bin, client_check = sys.argv[1:4]
tmp = tempfile.mkdtemp(prefix="wschat-tls-")
# Under AddressSanitizer freed memory sits in quarantine and would count as
# growth in the memory checks; without it RSS measures what the server holds.
os.environ["ASAN_OPTIONS"] = os.environ.get("ASAN_OPTIONS", "detect_leaks=1") + ":quarantine_size_mb=0"


CA, CERT, KEY = test_ca(tmp, "first")
CA2, CERT2, KEY2 = test_ca(tmp, "second")
TLS = ["--tls-cert", CERT, "--tls-key", KEY]


def ctx(cafile=CA):
    c = ssl.create_default_context(cafile=cafile)
    return c


def s_client(port, *args, data=b""):
    r = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-CAfile", CA,
                        "-servername", "localhost", *args], input=data, capture_output=True, timeout=20)
    return r.stdout.decode("latin-1") + r.stderr.decode("latin-1")


async def echo_checks(port, style):
    url = f"wss://127.0.0.1:{port}/"
    async with websockets.connect(url, ssl=ctx(), max_size=None) as ws:
        ext = ws.response_headers.get("Sec-WebSocket-Extensions") or ""
        check(f"{style}: permessage-deflate over TLS", ext.startswith("permessage-deflate"), ext)
        for size in (0, 1, 125, 16384, 16385, 65536, 1 << 20, 4 << 20):
            payload = os.urandom(size)
            await ws.send(payload)
            check(f"{style}: wss echo of {size} bytes", await bounded(ws.recv(), 30) == payload)
        text = "ünï 🎉 " * 2000
        await ws.send(text)
        check(f"{style}: wss text echo", await bounded(ws.recv()) == text)
    async with websockets.connect(f"wss://localhost:{port}/echo", ssl=ctx()) as ws:
        check(f"{style}: wss://localhost (SNI, name checked)", await bounded(ws.recv()) == "Please enter your name")
    try:
        async with websockets.connect(url, ssl=ctx(CA2)):
            check(f"{style}: a client trusting another CA is refused", False)
    except ssl.SSLCertVerificationError:
        check(f"{style}: a client trusting another CA is refused", True)


def run_node(port, cafile):
    r = subprocess.run(["node", os.path.join(here, "tls_node_client.mjs"), str(port), cafile],
                       capture_output=True, text=True, timeout=60, cwd=here)
    return r.returncode, (r.stdout + r.stderr).strip()


def versions(port):
    out11 = s_client(port, "-tls1_1")
    check("TLS 1.1 is refused", "Cipher is (NONE)" in out11 or "no protocols available" in out11 or
          "alert" in out11, out11[-300:])
    out12 = s_client(port, "-tls1_2", "-alpn", "http/1.1")
    check("TLS 1.2 is served", "Protocol  : TLSv1.2" in out12 or "TLSv1.2" in out12, out12[-300:])
    check("ALPN http/1.1 is selected", "ALPN protocol: http/1.1" in out12, out12[-300:])
    out13 = s_client(port, "-tls1_3")
    check("TLS 1.3 is served", "TLSv1.3" in out13, out13[-300:])
    outh2 = s_client(port, "-alpn", "h2")
    check("a client offering only h2 is refused (RFC 7301)", "ALPN protocol: h2" not in outh2 and
          "no application protocol" in outh2, outh2[-300:])
    # TLS 1.2 renegotiation: s_client asks for it on an "R" line.
    outr = s_client(port, "-tls1_2", "-no_ign_eof", data=b"R\n")
    check("renegotiation is refused", "RENEGOTIATING" not in outr or "alert" in outr or
          "no renegotiation" in outr, outr[-300:])


async def hostile(port, proc):
    # Plain HTTP to the TLS port: no plaintext answer, the connection cut.
    r, w = await asyncio.open_connection("127.0.0.1", port)
    w.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    data = await bounded(r.read(4096))
    check("plain HTTP to the TLS port gets no HTTP answer", b"HTTP/1.1" not in data, repr(data[:60]))
    w.close()
    # Garbage, then a truncated ClientHello that stalls: cut, the latter at the handshake timeout.
    r, w = await asyncio.open_connection("127.0.0.1", port)
    w.write(os.urandom(300))
    await bounded(r.read(4096))
    check("garbage instead of a ClientHello is cut", r.at_eof())
    w.close()
    t0 = time.monotonic()
    r, w = await asyncio.open_connection("127.0.0.1", port)
    w.write(bytes.fromhex("16030102000100") + b"\x01\xfc\x03\x03")
    await bounded(r.read(4096), 10)
    check(f"a stalled ClientHello is cut at the handshake timeout ({time.monotonic() - t0:.1f} s)",
          r.at_eof() and time.monotonic() - t0 < 5)
    w.close()
    # A flood of handshakes, half of them never finished: the server goes on.
    rss0 = rss_kib(proc.pid)
    stalls = []
    for _ in range(300):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(bytes.fromhex("1603010200"))
        stalls.append(s)

    async def one():
        async with websockets.connect(f"wss://127.0.0.1:{port}/", ssl=ctx()) as ws:
            await ws.send("flood")
            return await ws.recv() == "flood"
    oks = await bounded(asyncio.gather(*(one() for _ in range(200))), 60)
    check(f"200 handshakes complete during 300 stalled ones ({sum(oks)} ok)", all(oks))
    grown = (rss_kib(proc.pid) - rss0) / 1024
    check(f"handshake flood: memory bounded (+{grown:.1f} MiB)", grown < 64)
    for s in stalls:
        s.close()
    check("the TLS server survived the hostile cases", proc.poll() is None)


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))


async def slow_reader(port, proc):
    """Chat over TLS: one member never reads while the room broadcasts; it
    is closed at its send-queue limit (1008) like a plain one, and the
    others lose nothing. The TLS layer must not hide the queue: records are
    made only as the socket takes them."""
    raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.connect(("127.0.0.1", port))
    slow = ctx().wrap_socket(raw, server_hostname="localhost")
    slow.sendall(b"GET /chat HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
                 b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                 b"Sec-WebSocket-Version: 13\r\n\r\n")
    url = f"wss://localhost:{port}/chat"
    reader = await websockets.connect(url, ssl=ctx(), max_queue=None)
    sender = await websockets.connect(url, ssl=ctx(), max_queue=None)
    await bounded(reader.recv())
    await bounded(sender.recv())
    # 12 MB to everyone: past the slow reader's 1 MiB limit even after the
    # kernel's socket buffers (they took 3 MB here) have absorbed their share.
    text, n = "m" * 4000, 3000
    for i in range(n):
        await sender.send(f"{i} {text}")
    k = 0
    try:
        while k < n:
            msg = await bounded(reader.recv(), 10)
            k += msg.endswith(text)
    except asyncio.TimeoutError:
        pass
    check("slow reader over TLS: a reading member loses nothing", k == n, f"{k}/{n}")

    def drain():
        slow.settimeout(10)
        try:
            while slow.recv(1 << 16):
                pass
            return True          # close_notify or EOF: closed by the server
        except (ConnectionResetError, ssl.SSLError):
            return True          # cut after the close timeout, backlog dropped
        except socket.timeout:
            return False
    tcp = await asyncio.get_running_loop().run_in_executor(None, drain)
    slow.close()
    await reader.close()
    await sender.close()
    proc.send_signal(signal.SIGTERM)
    log = proc.stderr.read()
    check("slow reader over TLS: ended by the server with 1008 (overload)",
          "session ended: 1008 (overload) send queue over its limit" in log, log[-600:])
    check("slow reader over TLS: its connection was closed", tcp)


async def main():
    # examples/echo over TLS, both styles.
    for style in ("handler", "events"):
        with server(echo_bin, "--style", style, "--send-limit", "8388608", "--handshake-timeout",
                    "2000", *TLS) as (proc, port):
            await echo_checks(port, style)
            rc, out = run_node(port, CA)
            check(f"{style}: npm ws over wss: {out.splitlines()[-1] if out else ''}", rc == 0, out[-300:])
            if style == "handler":
                versions(port)
                await hostile(port, proc)
            # libwschat's own client against its own TLS server.
            r = subprocess.run([client_check, f"wss://127.0.0.1:{port}/", "--cafile", CA, "--deflate",
                                "--style", style, "--no-server-close"],
                               capture_output=True, text=True, timeout=120)
            check(f"{style}: libwschat client over wss: {r.stdout.strip().splitlines()[-1:]}",
                  r.returncode == 0, r.stdout[-400:] + r.stderr[-200:])
    with server(chat_bin, "--send-limit", "1048576", "--verbose", *TLS) as (proc, port):
        await slow_reader(port, proc)
    # The chat over https and wss, the plain port redirecting, reload on SIGHUP.
    plain = free_port()
    with server(chat_bin, *TLS, "--redirect-from", str(plain)) as (proc, port):
        page = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-quiet",
                               "-CAfile", CA, "-servername", "localhost"],
                              input=b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
                              capture_output=True, timeout=20).stdout
        check("https:// serves the web client", b"200 OK" in page and b"<!doctype html>" in page)
        r, w = await asyncio.open_connection("127.0.0.1", plain)
        w.write(b"GET /app.js HTTP/1.1\r\nHost: localhost:" + str(plain).encode() + b"\r\n\r\n")
        head = await bounded(r.read(4096))
        check("the plain port redirects to https", b"308" in head and
              f"Location: https://localhost:{port}/app.js".encode() in head, head[:200])
        w.close()
        a = await websockets.connect(f"wss://localhost:{port}/chat", ssl=ctx())
        b = await websockets.connect(f"wss://localhost:{port}/chat", ssl=ctx())
        await bounded(a.recv())
        await bounded(b.recv())
        await a.send("over wss")
        got = await bounded(b.recv())
        check("chat over wss: the other user gets it", got.endswith("]: over wss"), got)
        # Reload: the files now hold the second CA's certificate.
        shutil.copy(CERT2, CERT)
        shutil.copy(KEY2, KEY)
        proc.send_signal(signal.SIGHUP)
        ok = False
        for _ in range(50):
            try:
                async with websockets.connect(f"wss://localhost:{port}/chat", ssl=ctx(CA2)) as c:
                    ok = bool(await bounded(c.recv()))
                    break
            except ssl.SSLCertVerificationError:
                await asyncio.sleep(0.1)
        check("SIGHUP: new connections get the new certificate", ok)
        await a.send("still here")
        got = await bounded(b.recv())
        check("SIGHUP: open connections are untouched", got.endswith("still here"), got)
        await a.close()
        await b.close()
    # A third-party TLS server for libwschat's client (python websockets).
    peer = subprocess.Popen(["/usr/bin/python3", os.path.join(here, "py_echo_server.py"),
                             "--tls-cert", CERT2, "--tls-key", KEY2], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=here)
    try:
        m = re.search(r"listening on (\d+)", peer.stdout.readline())
        r = subprocess.run([client_check, f"wss://localhost:{m.group(1)}/", "--cafile", CA2, "--deflate"],
                           capture_output=True, text=True, timeout=120)
        check(f"libwschat client against python3-websockets over wss: "
              f"{r.stdout.strip().splitlines()[-1:]}", r.returncode == 0, r.stdout[-400:])
    finally:
        peer.kill()
        peer.wait()


run(main, 280, lambda: shutil.rmtree(tmp, ignore_errors=True))
