# SPDX-License-Identifier: MIT
"""A deliberately low-level WebSocket client for conformance testing: it
writes exactly the bytes a case asks for (invalid ones included), chopped as
asked, and records every frame and the way the connection ended."""
import asyncio
import base64
import os
import ssl
import struct
import time
import zlib


# Which side this process plays: "client" (the server suite: frames go out
# masked) or "server" (the client suite, client_suite.py: frames go out
# unmasked, and the peer's must arrive masked). The cases are the same.
ROLE = "client"
# An ssl.SSLContext to speak wss:// to the server (conformance.py --tls);
# None for plain ws://.
TLS = None


def frame(op, payload=b"", fin=True, rsv=0, mask=None, length=None):
    if mask is None:
        mask = ROLE == "client"
    payload = payload.encode() if isinstance(payload, str) else payload
    n = len(payload) if length is None else length
    b0 = (0x80 if fin else 0) | (rsv << 4) | op
    m = 0x80 if mask else 0
    if n < 126:
        hdr = bytes([b0, m | n])
    elif n < 65536:
        hdr = bytes([b0, m | 126]) + struct.pack(">H", n)
    else:
        hdr = bytes([b0, m | 127]) + struct.pack(">Q", n)
    if not mask:
        return hdr + payload
    key = os.urandom(4)
    return hdr + key + unmask(payload, key)


def close_payload(code=None, reason=b""):
    return b"" if code is None else struct.pack(">H", code) + reason


def unmask(payload, key):
    if len(payload) > 1024:
        k = int.from_bytes((key * (len(payload) // 4 + 1))[:len(payload)], "big")
        return (int.from_bytes(payload, "big") ^ k).to_bytes(len(payload), "big")
    return bytes(c ^ key[i % 4] for i, c in enumerate(payload))


class Deflate:
    """This side of permessage-deflate, following the agreed params: our
    compressor resets if our side agreed to no context takeover, our
    inflater if the peer's did."""

    def __init__(self, agreed):
        client_reset = "client_no_context_takeover" in agreed
        server_reset = "server_no_context_takeover" in agreed
        if ROLE == "server":
            client_reset, server_reset = server_reset, client_reset
        self.client_reset, self.server_reset = client_reset, server_reset
        self.c = zlib.compressobj(6, zlib.DEFLATED, -15)
        self.d = zlib.decompressobj(-15)

    def compress(self, data):
        out = self.c.compress(data) + self.c.flush(zlib.Z_SYNC_FLUSH)
        if self.client_reset:
            self.c = zlib.compressobj(6, zlib.DEFLATED, -15)
        return out[:-4]

    def decompress(self, data):
        out = self.d.decompress(data + b"\x00\x00\xff\xff")
        if self.server_reset:
            self.d = zlib.decompressobj(-15)
        return out


class Conn:
    def __init__(self, r, w, response):
        self.r, self.w, self.response = r, w, response
        self.frames = []          # (op, fin, rsv, payload) as received
        self.closed_tcp = False
        self.mask_errors = 0      # frames masked the wrong way for their sender's role
        self.deflate = None
        ext = self.header("sec-websocket-extensions")
        if ext and ext.startswith("permessage-deflate"):
            self.deflate = Deflate(ext)

    def header(self, name):
        for line in self.response.split("\r\n")[1:]:
            k, _, v = line.partition(":")
            if k.strip().lower() == name:
                return v.strip()
        return None

    @property
    def status(self):
        parts = self.response.split(" ", 2)
        return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0

    async def send(self, data, chop=None, delay=0.0):
        if chop:
            for i in range(0, len(data), chop):
                self.w.write(data[i:i + chop])
                await self.w.drain()
                if delay:
                    await asyncio.sleep(delay)
        else:
            self.w.write(data)
            await self.w.drain()

    async def send_msg(self, op, payload, compress=False):
        payload = payload.encode() if isinstance(payload, str) else payload
        if compress and self.deflate:
            await self.send(frame(op, self.deflate.compress(payload), rsv=4))
        else:
            await self.send(frame(op, payload))

    async def read_frame(self, timeout):
        try:
            h = await asyncio.wait_for(self.r.readexactly(2), timeout)
            n = h[1] & 0x7F
            if n == 126:
                n = struct.unpack(">H", await self.r.readexactly(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", await self.r.readexactly(8))[0]
            key = await self.r.readexactly(4) if h[1] & 0x80 else None
            payload = await asyncio.wait_for(self.r.readexactly(n), timeout + n / 5e6)
            # A client must mask, a server must not (RFC 6455 5.1).
            if (key is None) == (ROLE == "server"):
                self.mask_errors += 1
            if key:
                payload = unmask(payload, key)
        except asyncio.TimeoutError:
            return None
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            # Over TLS a cut without close_notify surfaces as an SSLError.
            self.closed_tcp = True
            return None
        op, fin, rsv = h[0] & 0x0F, bool(h[0] & 0x80), (h[0] >> 4) & 7
        if rsv & 4 and self.deflate and op in (1, 2):
            payload = self.deflate.decompress(payload)
            rsv &= ~4
        f = (op, fin, rsv, payload)
        self.frames.append(f)
        return f

    async def messages(self, count, timeout=5.0):
        """Reads until `count` data messages arrived (reassembled) or the
        connection ended; control frames are recorded on the way."""
        out, parts = [], []
        deadline = time.monotonic() + timeout
        while len(out) < count:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            f = await self.read_frame(left)
            if not f:
                break
            op, fin, _, payload = f
            if op == 8:
                break
            if op in (0, 1, 2):
                parts.append(f)
                if fin:
                    kind = parts[0][0]
                    out.append((kind, b"".join(p[3] for p in parts)))
                    parts = []
        return out

    async def closing(self, timeout=3.0):
        """Waits for the server's close frame and the end of TCP. Returns
        (close code or None if no close frame, tcp_closed)."""
        code = None
        deadline = time.monotonic() + timeout
        for f in self.frames:
            if f[0] == 8:
                code = struct.unpack(">H", f[3][:2])[0] if len(f[3]) >= 2 else 1005
        while time.monotonic() < deadline and not self.closed_tcp:
            f = await self.read_frame(deadline - time.monotonic())
            if f and f[0] == 8 and code is None:
                code = struct.unpack(">H", f[3][:2])[0] if len(f[3]) >= 2 else 1005
                # Answer the server's close, as a well-behaved client does.
                try:
                    await self.send(frame(8, f[3][:2]))
                except ConnectionError:
                    pass
        return code, self.closed_tcp

    def abort(self):
        try:
            self.w.close()
        except Exception:
            pass


async def connect(port, path="/", extra="", raw_request=None, timeout=5.0, rcvbuf=None):
    sock = None
    tls = {"ssl": TLS, "server_hostname": "localhost"} if TLS else {}
    if rcvbuf:  # before connect(), so the advertised window starts small
        import socket
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
        r, w = await asyncio.wait_for(asyncio.open_connection(sock=sock, limit=1 << 26, **tls), timeout)
    else:
        r, w = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port, limit=1 << 26, **tls),
                                      timeout)
    if raw_request is None:
        key = base64.b64encode(os.urandom(16)).decode()
        raw_request = (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                       f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                       f"Sec-WebSocket-Version: 13\r\n{extra}\r\n").encode()
    w.write(raw_request)
    await w.drain()
    try:
        head = await asyncio.wait_for(r.readuntil(b"\r\n\r\n"), timeout)
    except (asyncio.TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
        head = b""
    return Conn(r, w, head.decode("latin-1"))
