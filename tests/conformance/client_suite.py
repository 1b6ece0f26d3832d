#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The project's own fuzzing server for WebSocket clients: Autobahn
TestSuite's client protocol (/getCaseCount, /runCase?case=N&agent=A,
/updateReports?agent=A), serving the same cases as the server suite
(cases.py, sections 1-7, 9, 10, 12, 13) with the roles reversed (this side
sends unmasked frames and checks that the client's are masked), plus
client-only cases: handshake answers the client must refuse (client_cases.py).

Usage: client_suite.py CLIENT_BIN [--style handler|events] [--no-deflate]
                       [--report DIR] [--only PREFIX]
CLIENT_BIN speaks the client protocol (examples/autobahn-client). Writes
DIR/client-<style>-<deflate>.json and .html, ends with "N passed, M failed"
and exits 1 on any FAILED or NON-STRICT case."""
import argparse
import asyncio
import base64
import hashlib
import html
import json
import os
import subprocess
import sys
import time
import urllib.parse

import wsclient

wsclient.ROLE = "server"  # before the cases build any frame

import cases  # noqa: E402
import client_cases  # noqa: E402
from wsclient import Conn, close_payload, frame  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("client")
ap.add_argument("--style", default="handler")
ap.add_argument("--no-deflate", action="store_true")
ap.add_argument("--report", default=".")
ap.add_argument("--only", default="")
opts = ap.parse_args()

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def order(cid):
    return [int(x) if x.isdigit() else 0 for x in cid.replace("H.", "99.").replace("C.", "98.").split(".")]


def selected():
    out = []
    for cid, desc, fn in cases.CASES + client_cases.CASES:
        if getattr(fn, "raw", False):
            continue  # server handshake cases: client_cases.py has the client's own
        if opts.no_deflate and (cid.split(".")[0] in ("12", "13") or getattr(fn, "deflate", False)):
            continue
        if cid.startswith(opts.only):
            out.append((cid, desc, fn))
    return sorted(out, key=lambda c: order(c[0]))


CASES = selected()
results = {}
done = asyncio.Event()


class Request:
    def __init__(self, head):
        lines = head.decode("latin-1").split("\r\n")
        self.method, target, _ = (lines[0].split(" ") + ["", "", ""])[:3]
        u = urllib.parse.urlsplit(target)
        self.path, self.query = u.path, dict(urllib.parse.parse_qsl(u.query))
        self.headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            if k:
                self.headers[k.strip().lower()] = v.strip()

    def accept(self):
        key = self.headers.get("sec-websocket-key", "")
        return base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()

    def offer(self):
        return self.headers.get("sec-websocket-extensions", "")


def deflate_answer(req, extra):
    """The server's permessage-deflate answer for a case: the case's offer
    (written for the server suite) read as the parameters to answer with,
    and server_no_context_takeover whenever the client asked for it (RFC
    7692 7.1.1.1). None when the client offered no deflate."""
    offer = req.offer()
    if "permessage-deflate" not in offer:
        return None
    wanted = extra.split(":", 1)[1].split(",")[0] if "Extensions" in extra else "permessage-deflate"
    params = [p.strip() for p in wanted.split(";")[1:] if p.strip()]
    out = []
    for p in params:
        if p == "client_max_window_bits":  # a value is required in an answer
            p = "client_max_window_bits=15"
        if p.startswith("client_max_window_bits") and "client_max_window_bits" not in offer:
            continue
        if p not in out:
            out.append(p)
    if "server_no_context_takeover" in offer and "server_no_context_takeover" not in out:
        out.append("server_no_context_takeover")
    return "; ".join(["permessage-deflate"] + out)


async def handshake(req, w, extra=""):
    ext = deflate_answer(req, extra)
    resp = ("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Accept: {req.accept()}\r\n"
            + (f"Sec-WebSocket-Extensions: {ext}\r\n" if ext else "") + "\r\n")
    w.write(resp.encode())
    await w.drain()
    return resp


async def run_case(index, r, w, req):
    cid, desc, fn = CASES[index]
    conns = []

    async def open_conn(extra=""):
        resp = await handshake(req, w, extra)
        c = Conn(r, w, resp)
        conns.append(c)
        return c

    t0 = time.monotonic()
    try:
        if getattr(fn, "handshake", False):
            verdict, detail = await asyncio.wait_for(fn(r, w, req), 60)
        else:
            verdict, detail = await asyncio.wait_for(fn(open_conn), 90)
    except Exception as e:  # noqa: BLE001 - any exception is a failed case, reported
        verdict, detail = cases.FAILED, f"{type(e).__name__}: {e}"
    bad_masks = sum(c.mask_errors for c in conns)
    if bad_masks:
        verdict, detail = cases.FAILED, f"{bad_masks} frame(s) from the client not masked; {detail}"
    results[cid] = {"id": cid, "description": desc, "verdict": verdict, "detail": detail,
                    "ms": round((time.monotonic() - t0) * 1000, 1)}
    if verdict in (cases.FAILED, cases.NON_STRICT):
        print(f"{verdict}: {cid} {desc}: {detail}", flush=True)


async def handle(r, w):
    try:
        head = await asyncio.wait_for(r.readuntil(b"\r\n\r\n"), 10)
        req = Request(head)
        if req.path == "/getCaseCount":
            await handshake(req, w)
            w.write(frame(1, str(len(CASES))) + frame(8, close_payload(1000)))
            await w.drain()
            await asyncio.wait_for(r.read(1 << 16), 5)
        elif req.path == "/runCase":
            n = int(req.query.get("case", "0"))
            if 1 <= n <= len(CASES):
                await run_case(n - 1, r, w, req)
        elif req.path == "/updateReports":
            await handshake(req, w)
            w.write(frame(8, close_payload(1000)))
            await w.drain()
            done.set()
            await asyncio.wait_for(r.read(1 << 16), 5)
        else:
            w.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
    except (asyncio.TimeoutError, asyncio.IncompleteReadError, ConnectionError, ValueError):
        pass
    finally:
        try:
            w.close()
        except Exception:  # noqa: BLE001
            pass


async def main():
    label = f"{opts.style}-{'plain' if opts.no_deflate else 'deflate'}"
    srv = await asyncio.start_server(handle, "127.0.0.1", 0, limit=1 << 26)
    port = srv.sockets[0].getsockname()[1]
    args = [opts.client, f"ws://127.0.0.1:{port}", "libwschat", "--style", opts.style,
            "--handshake-timeout", "1500"] + (["--no-deflate"] if opts.no_deflate else [])
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    t0 = time.monotonic()
    try:
        while not done.is_set() and proc.poll() is None and time.monotonic() - t0 < 500:
            await asyncio.sleep(0.1)
        try:
            out, _ = await asyncio.get_running_loop().run_in_executor(None, lambda: proc.communicate(timeout=20))
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        srv.close()
    # What the client said of each handshake case: its own error for each.
    client_cases.check_client_output(out, CASES, results)
    missing = [cid for cid, _, _ in CASES if cid not in results]
    for cid in missing:
        results[cid] = {"id": cid, "description": "", "verdict": cases.FAILED,
                        "detail": "the client never ran it", "ms": 0}
    rows = [results[cid] for cid, _, _ in CASES]
    counts = {v: sum(x["verdict"] == v for x in rows)
              for v in (cases.OK, cases.NON_STRICT, cases.INFO, cases.FAILED)}
    if proc.returncode != 0:
        counts[cases.FAILED] += 1
        print(f"FAILED: the client exited with {proc.returncode}; its last lines:\n" +
              "\n".join(out.splitlines()[-15:]))
    os.makedirs(opts.report, exist_ok=True)
    base = os.path.join(opts.report, f"client-{label}")
    with open(base + ".json", "w") as f:
        json.dump({"client": f"examples/autobahn-client --style {opts.style}",
                   "compression": not opts.no_deflate, "summary": counts, "cases": rows}, f, indent=1)
    colors = {cases.OK: "#c8f7c5", cases.NON_STRICT: "#fff3b0", cases.INFO: "#dde7ff", cases.FAILED: "#ffc9c9"}
    body = "\n".join(
        f"<tr style='background:{colors[x['verdict']]}'><td>{x['id']}</td><td>{html.escape(x['description'])}</td>"
        f"<td>{x['verdict']}</td><td>{html.escape(x['detail'])}</td><td>{x['ms']}</td></tr>" for x in rows)
    with open(base + ".html", "w") as f:
        f.write(f"<!doctype html><meta charset=utf-8><title>libwschat client conformance {label}</title>"
                f"<h1>libwschat client conformance: {label}</h1><p>{json.dumps(counts)}</p>"
                f"<table><tr><th>case</th><th>description</th><th>verdict</th><th>detail</th><th>ms</th></tr>"
                f"{body}</table>")
    print(f"report: {base}.html")
    print(f"{counts[cases.OK]} OK, {counts[cases.NON_STRICT]} NON-STRICT, "
          f"{counts[cases.INFO]} INFORMATIONAL, {counts[cases.FAILED]} FAILED")
    bad = counts[cases.NON_STRICT] + counts[cases.FAILED]
    print(f"{counts[cases.OK] + counts[cases.INFO]} passed, {bad} failed")
    return 1 if bad else 0


sys.exit(asyncio.run(main()))
