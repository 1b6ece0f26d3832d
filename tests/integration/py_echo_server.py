#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""An echo server on Debian's python3-websockets, for testing libwschat's
client against a third-party server: echoes every message; the path
/close4002 closes at once with 4002 "server bye". Prints "listening on
PORT" once bound (port 0 = a free one).
Usage: py_echo_server.py [--no-deflate] [--tls-cert CHAIN --tls-key KEY]"""
import asyncio
import ssl
import sys

from harness import need

websockets = need("websockets", "python3-websockets")


async def handler(ws, path=None):
    path = path or getattr(ws, "path", "/")
    if path.endswith("/close4002"):
        await ws.close(4002, "server bye")
        return
    try:
        async for msg in ws:
            await ws.send(msg)
    except websockets.ConnectionClosed:
        pass


def tls():
    if "--tls-cert" not in sys.argv:
        return None
    c = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    c.load_cert_chain(sys.argv[sys.argv.index("--tls-cert") + 1], sys.argv[sys.argv.index("--tls-key") + 1])
    return c


async def main():
    compression = None if "--no-deflate" in sys.argv else "deflate"
    async with websockets.serve(handler, "127.0.0.1", 0, compression=compression, ssl=tls(),
                                max_size=1 << 22, ping_interval=None) as srv:
        print(f"listening on {srv.sockets[0].getsockname()[1]}", flush=True)
        await asyncio.Future()

asyncio.run(main())
