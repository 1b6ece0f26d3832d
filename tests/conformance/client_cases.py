# SPDX-License-Identifier: MIT
"""Client-only conformance cases: answers to the opening handshake that a
client must refuse (RFC 6455 4.1, 4.2.2; RFC 7692 7.1), and frames a client
must fail the connection for. A refused handshake must end the attempt: the
client closes the TCP connection without sending a frame, and says why with
the error code named here (examples/autobahn-client prints it)."""
import asyncio
import time

from cases import FAILED, OK
from wsclient import close_payload, frame

CASES = []
EXPECTED_ERROR = {}  # case id -> the error name the client must report


def case(cid, desc, error=None):
    def reg(fn):
        fn.handshake = True
        CASES.append((cid, desc, fn))
        if error:
            EXPECTED_ERROR[cid] = error
        return fn
    return reg


async def refused(r, w, probe=True):
    """After a bad answer: the client must close without echoing anything.
    A text frame is sent as a probe: an echo means the client took the
    handshake."""
    if probe:
        try:
            w.write(frame(1, "echo me if you took this handshake"))
            await w.drain()
        except ConnectionError:
            return OK, "closed at once"
    t0 = time.monotonic()
    try:
        data = await asyncio.wait_for(r.read(1 << 16), 5)
    except asyncio.TimeoutError:
        return FAILED, "the client kept the connection open"
    except ConnectionError:
        data = b""
    if data:
        return FAILED, f"the client sent {len(data)} bytes instead of closing"
    return OK, f"closed without a frame after {(time.monotonic() - t0) * 1000:.0f} ms"


def answer_case(cid, desc, error, answer, probe=True):
    async def run(r, w, req):
        head = answer(req)
        w.write(head if isinstance(head, bytes) else head.encode("latin-1"))
        await w.drain()
        return await refused(r, w, probe)
    case(cid, desc, error)(run)


UP = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"

answer_case("C.1", "101 with a wrong Sec-WebSocket-Accept", "WS_EACCEPT",
            lambda req: UP + "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n")
answer_case("C.2", "101 without Sec-WebSocket-Accept", "WS_EACCEPT", lambda req: UP + "\r\n")
answer_case("C.3", "101 without Upgrade: websocket", "WS_EUPGRADE",
            lambda req: "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
                        f"Sec-WebSocket-Accept: {req.accept()}\r\n\r\n")
answer_case("C.4", "101 without Connection: upgrade", "WS_EUPGRADE",
            lambda req: "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                        f"Sec-WebSocket-Accept: {req.accept()}\r\n\r\n")
answer_case("C.5", "101 choosing a subprotocol the client did not offer", "WS_ESUBPROTO",
            lambda req: UP + f"Sec-WebSocket-Accept: {req.accept()}\r\nSec-WebSocket-Protocol: x-unoffered\r\n\r\n")
answer_case("C.6", "101 accepting an extension the client did not offer", "WS_EEXTENSION",
            lambda req: UP + f"Sec-WebSocket-Accept: {req.accept()}\r\nSec-WebSocket-Extensions: x-unknown\r\n\r\n")
answer_case("C.7", "A redirect (302) is reported, not followed", "WS_EREDIRECT",
            lambda req: "HTTP/1.1 302 Found\r\nLocation: ws://127.0.0.1:1/elsewhere\r\nContent-Length: 0\r\n\r\n",
            probe=False)
answer_case("C.8", "404 Not Found", "WS_ESTATUS",
            lambda req: "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", probe=False)
answer_case("C.9", "Garbage instead of HTTP", "WS_EHTTP",
            lambda req: "SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n\r\n", probe=False)
answer_case("C.10", "A response head of 64 KiB", "WS_ETOOBIG",
            lambda req: UP + "X-Big: " + "a" * 65536 + "\r\n\r\n", probe=False)
answer_case("C.11", "HTTP/1.0 101", "WS_EUPGRADE",
            lambda req: "HTTP/1.0 101 Switching Protocols\r\nConnection: close\r\n"
                        f"Sec-WebSocket-Accept: {req.accept()}\r\n\r\n")


def deflate_bad(params):
    return lambda req: (UP + f"Sec-WebSocket-Accept: {req.accept()}\r\n"
                        f"Sec-WebSocket-Extensions: permessage-deflate; {params}\r\n\r\n")


answer_case("C.12", "Deflate answered with client_max_window_bits without a value", "WS_EEXTENSION",
            deflate_bad("client_max_window_bits"))
answer_case("C.13", "Deflate answered with an unknown parameter", "WS_EEXTENSION",
            deflate_bad("x_fast"))
answer_case("C.14", "Deflate answered with server_max_window_bits=7", "WS_EEXTENSION",
            deflate_bad("server_max_window_bits=7"))
for cid in ("C.12", "C.13", "C.14"):
    next(fn for c, _, fn in CASES if c == cid).deflate = True


@case("C.15", "A server that never answers: the handshake timeout ends the attempt", "WS_ETIMEDOUT")
async def c15(r, w, req):
    t0 = time.monotonic()
    try:
        data = await asyncio.wait_for(r.read(1 << 16), 10)
    except asyncio.TimeoutError:
        return FAILED, "still open after 10 s"
    except ConnectionError:
        data = b""
    ms = (time.monotonic() - t0) * 1000
    return (OK, f"closed after {ms:.0f} ms") if not data else (FAILED, "sent data")


async def open_valid(r, w, req):
    w.write((UP + f"Sec-WebSocket-Accept: {req.accept()}\r\n\r\n").encode())
    await w.drain()


async def expect_close(r, w):
    """Reads the client's frames until its close; returns its code."""
    from wsclient import Conn
    got, _ = await Conn(r, w, "").closing(3)
    return got


@case("C.16", "A masked frame from the server: the client fails with 1002")
async def c16(r, w, req):
    await open_valid(r, w, req)
    w.write(frame(1, "masked", mask=True))
    await w.drain()
    got = await expect_close(r, w)
    return (OK, "1002") if got == 1002 else (FAILED, f"close {got}")


@case("C.17", "A frame claiming 2^63 bytes: the client fails with 1002")
async def c17(r, w, req):
    await open_valid(r, w, req)
    w.write(bytes([0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0]))
    await w.drain()
    got = await expect_close(r, w)
    return (OK, "1002") if got == 1002 else (FAILED, f"close {got}")


@case("C.18", "Frames sent together with the 101 are delivered")
async def c18(r, w, req):
    w.write((UP + f"Sec-WebSocket-Accept: {req.accept()}\r\n\r\n").encode() + frame(1, "early"))
    await w.drain()
    from wsclient import Conn
    c = Conn(r, w, "")
    got = await c.messages(1, 3)
    if got != [(1, b"early")]:
        return FAILED, f"echo {got!r}"
    w.write(frame(8, close_payload(1000)))
    await w.drain()
    code, _ = await c.closing()
    return (OK, "echoed, clean close") if code == 1000 else (FAILED, f"close {code}")


def check_client_output(out, selected, results):
    """Each refused handshake must be reported with its own error code."""
    lines = out.splitlines()
    for n, (cid, desc, fn) in enumerate(selected, 1):
        want = EXPECTED_ERROR.get(cid)
        if not want or cid not in results or results[cid]["verdict"] != OK:
            continue
        said = [l for l in lines if l.startswith(f"case {n}: handshake failed:")]
        if not said or f"({want})" not in said[0]:
            results[cid]["verdict"] = FAILED
            results[cid]["detail"] += f"; the client did not report {want}: {said[:1]}"
        else:
            results[cid]["detail"] += f"; reported {want}"
