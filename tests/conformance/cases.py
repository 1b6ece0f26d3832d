# SPDX-License-Identifier: MIT
"""The conformance cases: Autobahn TestSuite's fuzzing-client cases, by their
numbers and descriptions, written again from the RFC for this suite. Each
case is an async function (conn factory) -> (verdict, detail).

Verdicts have Autobahn's meaning: OK (the strict behaviour), NON-STRICT
(acceptable but not the strictest), INFORMATIONAL (the RFC leaves it open),
FAILED. Close codes follow the IANA registry as of RFC 6455's successors:
1012-1014 are registered and therefore valid to receive."""
import asyncio
import time

from wsclient import close_payload, connect, frame

OK, NON_STRICT, INFO, FAILED = "OK", "NON-STRICT", "INFORMATIONAL", "FAILED"
CASES = []


def case(cid, desc):
    def reg(fn):
        CASES.append((cid, desc, fn))
        return fn
    return reg


async def expect_fail(c, code, fast=True, detail=""):
    """The server must fail the connection with `code` (or, non-strictly,
    another 10xx or a dropped TCP connection)."""
    got, tcp = await c.closing(3.0)
    if got == code:
        return OK, f"closed {got}{detail}"
    if got is None and tcp:
        return NON_STRICT, f"TCP dropped without close frame{detail}"
    return FAILED, f"expected close {code}, got {got} (tcp closed: {tcp}){detail}"


async def expect_echo_then_close(c, sent, compress=False):
    got = await c.messages(len(sent), 20)
    want = [(op, p.encode() if isinstance(p, str) else p) for op, p in sent]
    if got != want:
        return FAILED, f"echo mismatch: {len(got)} of {len(want)} messages"
    await c.send(frame(8, close_payload(1000)))
    code, tcp = await c.closing(3.0)
    if code != 1000:
        return FAILED, f"close echo {code}"
    return (OK, "echoed, clean close") if tcp else (NON_STRICT, "TCP not closed by server")


def echo_case(cid, desc, msgs, chop=None, compress=False):
    async def run(open_conn):
        c = await open_conn()
        for op, p in msgs:
            data = frame(op, p) if not compress else None
            if compress:
                await c.send_msg(op, p, compress=True)
            else:
                await c.send(data, chop=chop)
        return await expect_echo_then_close(c, msgs, compress)
    case(cid, desc)(run)


# --- 1 framing -----------------------------------------------------------------
for i, n in enumerate([0, 125, 126, 127, 128, 65535, 65536], 1):
    echo_case(f"1.1.{i}", f"Text message of length {n}", [(1, "*" * n)])
    echo_case(f"1.2.{i}", f"Binary message of length {n}", [(2, bytes([0xfe]) * n)])
echo_case("1.1.8", "Text message of length 65536, written in chops of 997 bytes", [(1, "*" * 65536)], chop=997)
echo_case("1.2.8", "Binary message of length 65536, written in chops of 997 bytes", [(2, b"\xfe" * 65536)], chop=997)

# --- 2 pings and pongs -----------------------------------------------------------


def ping_case(cid, desc, payload, chop=None, count=1):
    async def run(open_conn):
        c = await open_conn()
        for k in range(count):
            await c.send(frame(9, payload), chop=chop)
        pongs = []
        deadline = time.monotonic() + 3
        while len(pongs) < count and time.monotonic() < deadline:
            f = await c.read_frame(deadline - time.monotonic())
            if not f:
                break
            if f[0] == 10:
                pongs.append(f[3])
        if pongs != [payload] * count:
            return FAILED, f"{len(pongs)} pongs for {count} pings"
        await c.send(frame(8, close_payload(1000)))
        code, _ = await c.closing()
        return (OK, f"{count} pong(s) with the payload") if code == 1000 else (FAILED, f"close {code}")
    case(cid, desc)(run)


ping_case("2.1", "Ping without payload", b"")
ping_case("2.2", "Ping with small text payload", b"Hello, world!")
ping_case("2.3", "Ping with small binary payload", bytes([0, 0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0, 0xff]))
ping_case("2.4", "Ping with 125-byte binary payload", b"\xfe" * 125)


@case("2.5", "Ping with 126-byte payload (control frames are at most 125)")
async def c2_5(open_conn):
    c = await open_conn()
    await c.send(frame(9, b"\xfe" * 126))
    return await expect_fail(c, 1002)


ping_case("2.6", "Ping with 125-byte payload, written one byte at a time", b"\xfe" * 125, chop=1)


@case("2.7", "Unsolicited pong without payload: ignored")
async def c2_7(open_conn):
    c = await open_conn()
    await c.send(frame(10, b""))
    return await expect_echo_then_close(c, [])


@case("2.8", "Unsolicited pong with payload: ignored")
async def c2_8(open_conn):
    c = await open_conn()
    await c.send(frame(10, b"unsolicited pong payload"))
    return await expect_echo_then_close(c, [])


@case("2.9", "Unsolicited pong, then ping: only the ping is answered")
async def c2_9(open_conn):
    c = await open_conn()
    await c.send(frame(10, b"unsolicited") + frame(9, b"my ping"))
    f = await c.read_frame(3)
    if not f or f[0] != 10 or f[3] != b"my ping":
        return FAILED, f"got {f and f[:2]}"
    return await expect_echo_then_close(c, [])


ping_case("2.10", "10 pings with payload", b"ping payload", count=10)
ping_case("2.11", "10 pings with payload, one byte at a time", b"ping payload", chop=1, count=10)

# --- 3 reserved bits ---------------------------------------------------------------


def rsv_case(cid, rsv, op, before_echo):
    async def run(open_conn):
        c = await open_conn()
        data = frame(1, "Hello, world!") if before_echo else b""
        await c.send(data + frame(op, b"Hello, world!" if op != 9 else b"", rsv=rsv) + frame(9, b""))
        if before_echo:
            got = await c.messages(1, 3)
            if got != [(1, b"Hello, world!")]:
                return FAILED, "message before the bad frame was not echoed"
        return await expect_fail(c, 1002)
    case(cid, f"Frame with RSV = {rsv}{' after a valid message' if before_echo else ''} (no extension)")(run)


# With permessage-deflate negotiated RSV1 is legal on data frames, so the
# RSV cases use RSV2/RSV3 combinations that no extension claims.
rsv_case("3.1", 2, 1, False)
rsv_case("3.2", 2, 1, True)
rsv_case("3.3", 3, 1, True)
rsv_case("3.4", 1, 1, True)
rsv_case("3.5", 3, 2, False)
rsv_case("3.6", 6, 9, False)
rsv_case("3.7", 7, 8, False)



# RSV1 means "compressed" only on the first frame of a data message (RFC 7692
# section 6). These cases offer permessage-deflate, so with the extension
# negotiated RSV1 is claimed, and must still fail a control frame or a
# continuation; without it, RSV1 fails anyway.
def rsv1_misplaced_case(cid, desc, frames):
    async def run(open_conn):
        c = await open_conn("Sec-WebSocket-Extensions: permessage-deflate\r\n")
        await c.send(b"".join(frames) + frame(9, b"after"))
        return await expect_fail(c, 1002, detail=f" (deflate negotiated: {c.deflate is not None})")
    case(cid, desc)(run)


rsv1_misplaced_case("3.8", "Ping with RSV1, permessage-deflate offered", [frame(9, b"ping", rsv=4)])
rsv1_misplaced_case("3.9", "Pong with RSV1, permessage-deflate offered", [frame(10, b"pong", rsv=4)])
rsv1_misplaced_case("3.10", "Close with RSV1, permessage-deflate offered",
                    [frame(8, close_payload(1000), rsv=4)])
rsv1_misplaced_case("3.11", "Continuation with RSV1 inside a compressed message",
                    [frame(1, b"\xf2\x48", fin=False, rsv=4), frame(0, b"\xcd\xc9\xc9\x07\x00", rsv=4)])

# --- 4 opcodes ------------------------------------------------------------------------
for i, op in enumerate([3, 4, 5, 6, 7], 1):
    async def run(open_conn, op=op):
        c = await open_conn()
        await c.send(frame(1, "Hello") + frame(op, b"reserved") + frame(9, b""))
        got = await c.messages(1, 3)
        if got != [(1, b"Hello")]:
            return FAILED, "message before the bad frame was not echoed"
        return await expect_fail(c, 1002)
    case(f"4.1.{i}", f"Reserved non-control opcode {op}")(run)
for i, op in enumerate([0xB, 0xC, 0xD, 0xE, 0xF], 1):
    async def run(open_conn, op=op):
        c = await open_conn()
        await c.send(frame(op, b"reserved"))
        return await expect_fail(c, 1002)
    case(f"4.2.{i}", f"Reserved control opcode {op:#x}")(run)

# --- 5 fragmentation ---------------------------------------------------------------------


def frags_case(cid, desc, frames, expect, chop=None, fail=False):
    async def run(open_conn):
        c = await open_conn()
        await c.send(b"".join(frames), chop=chop)
        if fail:
            got = await c.messages(len(expect), 2)
            if got != expect:
                return FAILED, f"before failing: {got!r}"
            return await expect_fail(c, 1002)
        return await expect_echo_then_close(c, expect)
    case(cid, desc)(run)


frags_case("5.1", "Ping fragmented into 2 frames", [frame(9, "frag", fin=False), frame(0, "ment")], [], fail=True)
frags_case("5.2", "Pong fragmented into 2 frames", [frame(10, "frag", fin=False), frame(0, "ment")], [], fail=True)
for cid, chop in (("5.3", None), ("5.4", 7), ("5.5", 1)):
    frags_case(cid, f"Text in 2 fragments{' chopped' if chop else ''}",
               [frame(1, "fragment1", fin=False), frame(0, "fragment2")], [(1, b"fragment1fragment2")], chop=chop)
for cid, chop in (("5.6", None), ("5.7", 7), ("5.8", 1)):
    async def run(open_conn, chop=chop):
        c = await open_conn()
        await c.send(frame(1, "fragment1", fin=False) + frame(9, "ping") + frame(0, "fragment2"), chop=chop)
        f = await c.read_frame(3)
        if not f or f[0] != 10:
            return FAILED, "no pong inside the fragmented message"
        return await expect_echo_then_close(c, [(1, "fragment1fragment2")])
    case(cid, f"Text in 2 fragments with a ping between them{' (chopped)' if chop else ''}")(run)
for cid, fin, chop in (("5.9", True, None), ("5.10", True, 7), ("5.11", True, 1),
                       ("5.12", False, None), ("5.13", False, 7), ("5.14", False, 1)):
    frags_case(cid, f"Continuation (fin={int(fin)}) with nothing to continue",
               [frame(0, "non-continuation payload", fin=fin), frame(1, "Hello, world!")], [], chop=chop, fail=True)
frags_case("5.15", "Text, continuation, then continuation/text out of order",
           [frame(1, "fragment1", fin=False), frame(0, "fragment2"), frame(0, "fragment3", fin=False),
            frame(1, "fragment4")], [(1, b"fragment1fragment2")], fail=True)
frags_case("5.16", "Repeated continuation without start, 3 times",
           [frame(0, "fragment1", fin=False), frame(1, "fragment2", fin=False), frame(0, "fragment3")], [], fail=True)
frags_case("5.17", "Same as 5.16 with final continuation first",
           [frame(0, "fragment1"), frame(1, "fragment2", fin=False), frame(0, "fragment3")], [], fail=True)
frags_case("5.18", "A new text message inside a fragmented one",
           [frame(1, "fragment1", fin=False), frame(1, "fragment2")], [], fail=True)


@case("5.19", "Text in 5 fragments with pings between them, sent over time")
async def c5_19(open_conn):
    c = await open_conn()
    parts = [f"fragment{i}" for i in range(1, 6)]
    for i, p in enumerate(parts):
        await c.send(frame(0 if i else 1, p, fin=i == 4))
        await c.send(frame(9, f"pongme {i}"))
        await asyncio.sleep(0.05)
    pongs, texts = [], []
    deadline = time.monotonic() + 3
    # The echo comes once the last fragment is in, between pong 4 and 5.
    while (len(pongs) < 5 or not texts) and time.monotonic() < deadline:
        f = await c.read_frame(deadline - time.monotonic())
        if not f:
            break
        (pongs if f[0] == 10 else texts).append(f)
    if [p[3] for p in pongs] != [f"pongme {i}".encode() for i in range(5)]:
        return FAILED, f"{len(pongs)} pongs"
    if [(t[0], t[3]) for t in texts] != [(1, "".join(parts).encode())]:
        return FAILED, "echo of the fragmented message missing"
    await c.send(frame(8, close_payload(1000)))
    code, _ = await c.closing()
    return (OK, "5 pongs in order and the echo") if code == 1000 else (FAILED, f"close {code}")


frags_case("5.20", "Text in 5 fragments with pings, all at once",
           [frame(0 if i else 1, f"fragment{i}", fin=i == 4) + frame(9, "x") for i in range(5)],
           [(1, b"fragment0fragment1fragment2fragment3fragment4")])

# --- 6 UTF-8 -------------------------------------------------------------------------
VALID = {
    "6.2.1": "Hello-µ@ßöäüàá-UTF-8!!", "6.5.1": "κόσμε", "6.5.2": "\u0080", "6.5.3": "\u07ff",
    "6.5.4": "\u0800", "6.5.5": "\uffff", "6.5.6": "\U00010000", "6.5.7": "\U0010ffff",
    "6.5.8": "\ud7ff", "6.5.9": "\ue000", "6.5.10": "\ufffd", "6.5.11": "\ufdd0\ufdef\ufffe",
}
INVALID = {
    "6.3.1": b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited",
    "6.6.1": b"\xce", "6.6.2": b"\xce\xba\xe1", "6.6.3": b"\xce\xba\xe1\xbd",
    "6.6.4": b"\xce\xba\xe1\xbd\xb9\xcf", "6.7.1": b"\xf4\x90\x80\x80", "6.7.2": b"\xf8\x88\x80\x80\x80",
    "6.7.3": b"\xfc\x84\x80\x80\x80\x80", "6.8.1": b"\x80", "6.8.2": b"\xbf", "6.8.3": b"\x80\xbf\x80",
    "6.9.1": b"\xc0 ", "6.9.2": b"\xe0\x80 ", "6.10.1": b"\xc0\xaf", "6.10.2": b"\xe0\x80\xaf",
    "6.10.3": b"\xf0\x80\x80\xaf", "6.11.1": b"\xc1\xbf", "6.11.2": b"\xe0\x9f\xbf",
    "6.12.1": b"\xed\xa0\x80", "6.12.2": b"\xed\xbf\xbf", "6.12.3": b"\xed\xa0\x80\xed\xb0\x80",
    "6.13.1": b"\xfe", "6.13.2": b"\xff", "6.13.3": b"\xfe\xfe\xff\xff",
}
for cid, text in VALID.items():
    echo_case(cid, f"Valid UTF-8 {text.encode()[:12]!r}", [(1, text)])
    raw = text.encode()

    async def split_run(open_conn, raw=raw):
        c = await open_conn()
        # Every split point of the text across two fragments.
        for k in range(1, len(raw)):
            await c.send(frame(1, raw[:k], fin=False) + frame(0, raw[k:]))
        return await expect_echo_then_close(c, [(1, raw)] * (len(raw) - 1))
    if len(raw) > 1:
        case(cid + ".split", f"Valid UTF-8 split across fragments at every byte: {raw[:12]!r}")(split_run)
for cid, raw in INVALID.items():
    async def run(open_conn, raw=raw):
        c = await open_conn()
        await c.send(frame(1, raw))
        return await expect_fail_utf8(c)
    case(cid, f"Invalid UTF-8 {raw[:12]!r}")(run)

    async def run_frag(open_conn, raw=raw):
        c = await open_conn()
        await c.send(b"".join(frame(1 if i == 0 else 0, raw[i:i + 1], fin=i == len(raw) - 1)
                              for i in range(len(raw))))
        return await expect_fail_utf8(c)
    case(cid + ".frag", f"Invalid UTF-8 one byte per fragment {raw[:12]!r}")(run_frag)


async def expect_fail_utf8(c):
    return await expect_fail(c, 1007)


@case("6.4.1", "Fail fast: the invalid bytes are in fragment 2 of 3; fragment 3 is sent 1 s later")
async def c6_4_1(open_conn):
    c = await open_conn()
    await c.send(frame(1, b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5", fin=False))
    await c.send(frame(0, b"\xf4\x90\x80\x80", fin=False))
    t0 = time.monotonic()
    code, _ = await c.closing(1.0)
    elapsed = time.monotonic() - t0
    try:
        await c.send(frame(0, b"\x65\x64\x69\x74\x65\x64"))
    except ConnectionError:
        pass
    if code == 1007 and elapsed < 1.0:
        return OK, f"failed after {elapsed * 1000:.0f} ms, before the last fragment"
    if code is None:
        code, _ = await c.closing(2.0)
        if code == 1007:
            return NON_STRICT, "failed only after the message ended"
    return FAILED, f"close {code}"


@case("6.4.2", "Fail fast inside one frame: invalid byte arrives, rest of the frame 1 s later")
async def c6_4_2(open_conn):
    c = await open_conn()
    payload = b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4\x90\x80\x80\x65\x64\x69\x74\x65\x64"
    data = frame(1, payload)
    await c.send(data[:6 + 13])  # header + mask + payload up to the first invalid byte (0x90)
    code, _ = await c.closing(1.0)
    if code == 1007:
        return OK, "failed before the frame ended"
    try:
        await c.send(data[19:])
    except ConnectionError:
        pass
    code, _ = await c.closing(2.0)
    return (NON_STRICT, "failed at the end of the frame") if code == 1007 else (FAILED, f"close {code}")

# --- 7 close handling ------------------------------------------------------------------


@case("7.1.1", "Text message, then close: echo, then close echoed")
async def c7_1_1(open_conn):
    c = await open_conn()
    await c.send(frame(1, "Hello World!"))
    return await expect_echo_then_close(c, [(1, "Hello World!")])


@case("7.1.2", "Close twice: the second close is ignored")
async def c7_1_2(open_conn):
    c = await open_conn()
    await c.send(frame(8, close_payload(1000)) + frame(8, close_payload(1000)))
    code, tcp = await c.closing()
    closes = [f for f in c.frames if f[0] == 8]
    return (OK, "one close back") if code == 1000 and len(closes) == 1 else (FAILED, f"{len(closes)} closes, code {code}")


for cid, extra, desc in (("7.1.3", frame(9, "ping"), "ping"), ("7.1.4", frame(1, "text"), "text"),
                         ("7.1.5", frame(1, "frag", fin=False) + frame(8, close_payload(1000)) + frame(0, "ment"),
                          "fragments around it")):
    async def run(open_conn, extra=extra, cid=cid):
        c = await open_conn()
        if cid == "7.1.5":
            await c.send(extra)
        else:
            await c.send(frame(8, close_payload(1000)) + extra)
        code, tcp = await c.closing()
        data = [f for f in c.frames if f[0] in (1, 2, 10)]
        if code == 1000 and not data:
            return OK, "close echoed, the rest ignored"
        return FAILED, f"code {code}, {len(data)} data/pong frames after close"
    case(cid, f"Close, then {desc}: nothing after the close is answered")(run)


@case("7.1.6", "A large queued echo, then close: the close handshake still completes")
async def c7_1_6(open_conn):
    c = await open_conn()
    big = "BAsd7&jh23" * 26214  # 256 KiB
    await c.send(frame(1, big) + frame(8, close_payload(1000)) + frame(9, "ping"))
    code, tcp = await c.closing(10)
    return (INFO, f"close {code}; echo of the large message may or may not precede it") if code == 1000 \
        else (FAILED, f"close {code}")


for cid, payload, want, desc in (
        ("7.3.1", b"", 1005, "Close without payload"),
        ("7.3.3", close_payload(1000), 1000, "Close with code 1000"),
        ("7.3.4", close_payload(1000, b"Hello World!"), 1000, "Close with code and reason"),
        ("7.3.5", close_payload(1000, b"*" * 123), 1000, "Close with 123-byte reason")):
    async def run(open_conn, payload=payload, want=want):
        c = await open_conn()
        await c.send(frame(8, payload))
        code, tcp = await c.closing()
        if code == want:
            return (OK, f"answered {code}") if tcp else (NON_STRICT, "TCP left open")
        return FAILED, f"answered {code}"
    case(cid, desc)(run)


@case("7.3.2", "Close with a 1-byte payload")
async def c7_3_2(open_conn):
    c = await open_conn()
    await c.send(frame(8, b"\x03"))
    return await expect_fail(c, 1002)


@case("7.3.6", "Close with a 126-byte payload")
async def c7_3_6(open_conn):
    c = await open_conn()
    await c.send(frame(8, close_payload(1000, b"*" * 124)))
    return await expect_fail(c, 1002)


@case("7.5.1", "Close with an invalid UTF-8 reason")
async def c7_5_1(open_conn):
    c = await open_conn()
    await c.send(frame(8, close_payload(1000, b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited")))
    return await expect_fail(c, 1007)


for i, code in enumerate([1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014,
                          3000, 3999, 4000, 4999], 1):
    async def run(open_conn, code=code):
        c = await open_conn()
        await c.send(frame(8, close_payload(code)))
        got, tcp = await c.closing()
        return (OK, f"echoed {got}") if got == code else (FAILED, f"answered {got}")
    case(f"7.7.{i}", f"Close with valid code {code}")(run)
for i, code in enumerate([0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535], 1):
    async def run(open_conn, code=code):
        c = await open_conn()
        await c.send(frame(8, close_payload(code)))
        return await expect_fail(c, 1002)
    case(f"7.9.{i}", f"Close with invalid code {code}")(run)

# --- 9 large messages -------------------------------------------------------------------


def big_case(cid, desc, op, size, frag=None, chop=None):
    async def run(open_conn):
        c = await open_conn()
        payload = (b"BAsd7&jh23" * (size // 10 + 1))[:size]
        t0 = time.monotonic()
        if frag:
            frames = [frame(0 if i else op, payload[i:i + frag], fin=i + frag >= size)
                      for i in range(0, size, frag)]
            await c.send(b"".join(frames), chop=chop)
        else:
            await c.send(frame(op, payload), chop=chop)
        got = await c.messages(1, 60)
        ms = (time.monotonic() - t0) * 1000
        if got != [(op, payload)]:
            return FAILED, f"no correct echo after {ms:.0f} ms"
        await c.send(frame(8, close_payload(1000)))
        code, _ = await c.closing()
        return (OK if code == 1000 else FAILED), f"round trip {ms:.0f} ms"
    case(cid, desc)(run)


for i, size in enumerate([64 << 10, 256 << 10, 1 << 20, 4 << 20, 8 << 20, 16 << 20], 1):
    big_case(f"9.1.{i}", f"Text message of {size >> 10} KiB", 1, size)
    big_case(f"9.2.{i}", f"Binary message of {size >> 10} KiB", 2, size)
for i, frag in enumerate([64, 256, 1 << 10, 4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20, 4 << 20], 1):
    big_case(f"9.3.{i}", f"4 MiB text in fragments of {frag} bytes", 1, 4 << 20, frag=frag)
    big_case(f"9.4.{i}", f"4 MiB binary in fragments of {frag} bytes", 2, 4 << 20, frag=frag)
for i, chop in enumerate([64, 128, 256, 512, 1024, 2048], 1):
    big_case(f"9.5.{i}", f"1 MiB text written in chops of {chop} bytes", 1, 1 << 20, chop=chop * 64)
    big_case(f"9.6.{i}", f"1 MiB binary written in chops of {chop} bytes", 2, 1 << 20, chop=chop * 64)


def many_case(cid, desc, op, size, count):
    async def run(open_conn):
        c = await open_conn()
        payload = b"*" * size
        t0 = time.monotonic()
        for _ in range(count):
            await c.send(frame(op, payload))
            got = await c.messages(1, 10)
            if got != [(op, payload)]:
                return FAILED, "lost an echo"
        ms = (time.monotonic() - t0) * 1000
        await c.send(frame(8, close_payload(1000)))
        await c.closing()
        return OK, f"{count} round trips in {ms:.0f} ms"
    case(cid, desc)(run)


for i, size in enumerate([0, 16, 64, 256, 1024, 4096], 1):
    many_case(f"9.7.{i}", f"1000 text messages of {size} bytes, one at a time", 1, size, 1000)
    many_case(f"9.8.{i}", f"1000 binary messages of {size} bytes, one at a time", 2, size, 1000)


@case("9.9.1", "A message over the 16 MiB limit is refused with 1009")
async def c9_9_1(open_conn):
    c = await open_conn()
    await c.send(frame(2, b"", length=(16 << 20) + 1)[:14])  # the header alone
    return await expect_fail(c, 1009)

# --- 10 auto-fragmentation ---------------------------------------------------------------


@case("10.1.1", "64 KiB text sent in 1300-byte fragments: echoed (any framing)")
async def c10_1_1(open_conn):
    c = await open_conn()
    payload = ("*" * 65536).encode()
    await c.send(b"".join(frame(0 if i else 1, payload[i:i + 1300], fin=i + 1300 >= len(payload))
                          for i in range(0, len(payload), 1300)))
    return await expect_echo_then_close(c, [(1, payload)])

# --- 12/13 compression (run only when the server negotiates permessage-deflate) ----------


def deflate_case(cid, desc, offer, sizes, op=1):
    async def run(open_conn):
        c = await open_conn(f"Sec-WebSocket-Extensions: {offer}\r\n")
        if not c.deflate:
            return FAILED, "permessage-deflate not negotiated"
        sent = []
        for n in sizes:
            p = ("Hello, compression " * (n // 19 + 1))[:n] if op == 1 else bytes(range(256)) * (n // 256) + bytes(n % 256)
            await c.send_msg(op, p, compress=True)
            sent.append((op, p))
        return await expect_echo_then_close(c, sent)
    case(cid, desc)(run)


SIZES = [16, 64, 256, 1024, 4096, 8192, 16384, 32768, 65536, 131072]
for i, n in enumerate(SIZES, 1):
    deflate_case(f"12.1.{i}", f"Compressed text echo, 10 messages of {n} bytes",
                 "permessage-deflate", [n] * 10)
    deflate_case(f"12.2.{i}", f"Compressed binary echo, 10 messages of {n} bytes",
                 "permessage-deflate", [n] * 10, op=2)
OFFERS = ["permessage-deflate; client_no_context_takeover",
          "permessage-deflate; client_max_window_bits=9",
          "permessage-deflate; client_max_window_bits=15",
          "permessage-deflate; server_max_window_bits=9",
          "permessage-deflate; server_max_window_bits=15",
          "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
          "permessage-deflate; client_max_window_bits, permessage-deflate"]
for i, offer in enumerate(OFFERS, 1):
    deflate_case(f"13.{i}.1", f"Offer '{offer}', messages of growing size", offer, SIZES)

# --- handshake ---------------------------------------------------------------------------


def hs_case(cid, desc, request, status):
    async def run(open_conn_raw):
        c = await open_conn_raw(request)
        return (OK, f"HTTP {c.status}") if c.status == status else (FAILED, f"HTTP {c.status}, expected {status}")
    case(cid, desc)(run)
    run.raw = True


BASE = ("GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n")
hs_case("H.1", "Bad Sec-WebSocket-Key", BASE.replace("dGhlIHNhbXBsZSBub25jZQ==", "bad") + "\r\n", 400)
hs_case("H.2", "Wrong version", BASE.replace("Version: 13", "Version: 8") + "\r\n", 426)
hs_case("H.3", "Method POST", BASE.replace("GET", "POST", 1) + "\r\n", 405)
hs_case("H.4", "No Upgrade header", BASE.replace("Upgrade: websocket\r\n", "") + "\r\n", 426)
hs_case("H.5", "No Connection: upgrade", BASE.replace("Connection: Upgrade\r\n", "") + "\r\n", 400)
hs_case("H.6", "No Host", BASE.replace("Host: x\r\n", "") + "\r\n", 400)
hs_case("H.7", "Oversized header block", BASE + "X-Big: " + "a" * 9000 + "\r\n\r\n", 431)
hs_case("H.8", "HTTP/1.0", BASE.replace("HTTP/1.1", "HTTP/1.0", 1) + "\r\n", 400)
hs_case("H.9", "Unknown path", BASE.replace("GET / ", "GET /nowhere ", 1) + "\r\n", 404)


@case("H.10", "A stalled partial handshake is answered 408 and closed within the handshake timeout")
async def c_h10(open_conn_raw):
    t0 = time.monotonic()
    c = await open_conn_raw(b"GET / HTTP/1.1\r\nHost: x\r\n", timeout=15)
    ms = (time.monotonic() - t0) * 1000
    return (OK, f"408 after {ms:.0f} ms") if c.status == 408 else (FAILED, f"HTTP {c.status} after {ms:.0f} ms")
c_h10.raw = True
