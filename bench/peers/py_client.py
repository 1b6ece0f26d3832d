#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Debian python3-websockets' client on the client row of bench/run.py:
CONNS connections, one SIZE-byte text message in flight on each, MSGS round
trips in all. Usage: py_client.py PORT CONNS MSGS SIZE"""
import asyncio
import sys

import websockets

port, conns, total, size = (int(a) for a in sys.argv[1:5])
payload = "x" * size
state = {"sent": 0, "received": 0, "errors": 0}


async def one():
    async with websockets.connect(f"ws://127.0.0.1:{port}/", compression=None, ping_interval=None) as ws:
        while state["sent"] < total:
            state["sent"] += 1
            await ws.send(payload)
            got = await ws.recv()
            state["errors"] += len(got) != size
            state["received"] += 1


async def main():
    await asyncio.gather(*(one() for _ in range(conns)))
    print(f"round_trips={state['received']} errors={state['errors']}")

asyncio.run(main())
sys.exit(1 if state["errors"] or state["received"] != total else 0)
