#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""A decompression bomb against examples/echo: a compressed frame that
inflates to 1 GiB must be refused with 1009 after at most max_message_size
(16 MiB) of output, the server's memory must stay flat, and other clients
must be unaffected."""
import argparse
import asyncio
import base64
import os
import struct
import zlib

from harness import bounded, check, need, run, server

websockets = need("websockets", "python3-websockets")

ap = argparse.ArgumentParser()
ap.add_argument("binary")
opts = ap.parse_args()


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def bomb(size):
    z = zlib.compressobj(9, zlib.DEFLATED, -15)
    chunk = bytes(1 << 20)
    out = [z.compress(chunk) for _ in range(size >> 20)]
    out.append(z.flush(zlib.Z_SYNC_FLUSH))
    data = b"".join(out)
    return data[:-4] if data.endswith(b"\x00\x00\xff\xff") else data


def frame(payload):
    key = os.urandom(4)
    n = len(payload)
    hdr = bytes([0xC2])  # FIN | RSV1 | binary
    if n < 126:
        hdr += bytes([0x80 | n])
    elif n < 65536:
        hdr += bytes([0x80 | 126]) + struct.pack(">H", n)
    else:
        hdr += bytes([0x80 | 127]) + struct.pack(">Q", n)
    masked = bytes(b ^ key[i % 4] for i, b in enumerate(payload)) if n < 4096 else \
        (int.from_bytes(payload, "big") ^ int.from_bytes((key * (n // 4 + 1))[:n], "big")).to_bytes(n, "big")
    return hdr + key + masked


async def raw_bomb(port, payload):
    r, w = await asyncio.open_connection("127.0.0.1", port)
    key = base64.b64encode(os.urandom(16)).decode()
    w.write((f"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
             f"Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n").encode())
    head = await bounded(r.readuntil(b"\r\n\r\n"), 10)
    check("bomb client negotiated compression", b"permessage-deflate" in head)
    w.write(frame(payload))
    await w.drain()
    data = await bounded(r.read(64), 20)
    await asyncio.sleep(0)
    w.close()
    return data


async def main():
    # Under AddressSanitizer, freed memory sits in a quarantine (256 MiB by
    # default) and RSS would measure that, not the server: turn it off for
    # this process so the bound below means the same in both builds.
    os.environ["ASAN_OPTIONS"] = os.environ.get("ASAN_OPTIONS", "") + ":quarantine_size_mb=0"
    payload = bomb(1 << 30)  # 1 GiB of zeros
    check(f"bomb is small ({len(payload) >> 10} KiB for 1 GiB)", len(payload) < 2 << 20)
    with server(opts.binary) as (proc, port):
        bystander = await websockets.connect(f"ws://127.0.0.1:{port}/")
        before = rss_kib(proc.pid)
        answers = await asyncio.gather(*(raw_bomb(port, payload) for _ in range(4)))
        after = rss_kib(proc.pid)
        for a in answers:
            code = struct.unpack(">H", a[2:4])[0] if len(a) >= 4 and a[0] == 0x88 else None
            check("bomb refused with 1009", code == 1009, repr(a[:16]))
        # Four bombs at once, each stopped at 16 MiB of output at most.
        check(f"server memory stays flat (+{(after - before) >> 10} MiB)", after - before < 100 * 1024)
        await bystander.send("still here")
        check("other sessions unaffected", await bounded(bystander.recv()) == "still here")
        await bystander.close()


run(main)
