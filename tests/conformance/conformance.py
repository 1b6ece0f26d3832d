#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Autobahn-style conformance run against examples/echo's "/" route.

Usage: conformance.py ECHO_BIN [--style handler|events] [--no-deflate]
                      [--report DIR] [--only PREFIX] [--tls]
Writes DIR/conformance-<style>-<deflate>.json and .html and ends with
"N passed, M failed"; exits 1 on any FAILED or NON-STRICT case."""
import argparse
import asyncio
import html
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
from harness import server, test_ca  # noqa: E402

import cases  # noqa: E402
import wsclient  # noqa: E402
from wsclient import connect  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("binary")
ap.add_argument("--style", default="handler")
ap.add_argument("--no-deflate", action="store_true")
ap.add_argument("--report", default=".")
ap.add_argument("--only", default="")
ap.add_argument("--tls", action="store_true", help="every case over wss:// (certificates made now)")
opts = ap.parse_args()


def order(cid):
    return [int(x) if x.isdigit() else x for x in cid.replace("H.", "99.").split(".")]


async def run_case(port, cid, fn):
    async def open_conn(extra=""):
        c = await connect(port, "/", extra)
        if c.status != 101:
            raise RuntimeError(f"handshake failed: HTTP {c.status}")
        conns.append(c)
        return c

    async def open_raw(request, timeout=5.0):
        c = await connect(port, raw_request=request.encode() if isinstance(request, str) else request,
                          timeout=timeout)
        conns.append(c)
        return c

    conns = []
    t0 = time.monotonic()
    try:
        verdict, detail = await asyncio.wait_for(fn(open_raw if getattr(fn, "raw", False) else open_conn), 90)
    except Exception as e:  # noqa: BLE001 - any exception is a failed case, reported
        verdict, detail = cases.FAILED, f"{type(e).__name__}: {e}"
    for c in conns:
        c.abort()
    return verdict, detail, (time.monotonic() - t0) * 1000


async def main():
    label = f"{opts.style}-{'plain' if opts.no_deflate else 'deflate'}" + ("-tls" if opts.tls else "")
    args = ["--style", opts.style, "--handshake-timeout", "2000"]
    if opts.tls:
        import ssl
        import tempfile
        tmp = tempfile.mkdtemp(prefix="wschat-conf-")
        ca, cert, key = test_ca(tmp)
        wsclient.TLS = ssl.create_default_context(cafile=ca)
        args += ["--tls-cert", cert, "--tls-key", key]
    if opts.no_deflate:
        args.append("--no-deflate")
    results = []
    with server(opts.binary, *args) as (proc, port):
        for cid, desc, fn in sorted(cases.CASES, key=lambda c: order(c[0])):
            if not cid.startswith(opts.only):
                continue
            if opts.no_deflate and cid.split(".")[0] in ("12", "13"):
                continue  # compression cases need a server that offers it
            verdict, detail, ms = await run_case(port, cid, fn)
            results.append({"id": cid, "description": desc, "verdict": verdict, "detail": detail,
                            "ms": round(ms, 1)})
            if verdict in (cases.FAILED, cases.NON_STRICT):
                print(f"{verdict}: {cid} {desc}: {detail}")
        alive = proc.poll() is None
    counts = {v: sum(r["verdict"] == v for r in results)
              for v in (cases.OK, cases.NON_STRICT, cases.INFO, cases.FAILED)}
    if not alive:
        counts[cases.FAILED] += 1
        print("FAILED: the server died during the run")
    os.makedirs(opts.report, exist_ok=True)
    base = os.path.join(opts.report, f"conformance-{label}")
    with open(base + ".json", "w") as f:
        json.dump({"server": f"examples/echo --style {opts.style}", "compression": not opts.no_deflate,
                   "tls": opts.tls,
                   "summary": counts, "cases": results}, f, indent=1)
    colors = {cases.OK: "#c8f7c5", cases.NON_STRICT: "#fff3b0", cases.INFO: "#dde7ff", cases.FAILED: "#ffc9c9"}
    rows = "\n".join(
        f"<tr style='background:{colors[r['verdict']]}'><td>{r['id']}</td><td>{html.escape(r['description'])}</td>"
        f"<td>{r['verdict']}</td><td>{html.escape(r['detail'])}</td><td>{r['ms']}</td></tr>" for r in results)
    with open(base + ".html", "w") as f:
        f.write(f"<!doctype html><meta charset=utf-8><title>libwschat conformance {label}</title>"
                f"<style>body{{font-family:system-ui;margin:2em}}td,th{{padding:3px 8px;text-align:left}}</style>"
                f"<h1>libwschat conformance: {label}</h1><p>{json.dumps(counts)}</p>"
                f"<table><tr><th>case</th><th>description</th><th>verdict</th><th>detail</th><th>ms</th></tr>"
                f"{rows}</table>")
    print(f"report: {base}.html")
    print(f"{counts[cases.OK]} OK, {counts[cases.NON_STRICT]} NON-STRICT, "
          f"{counts[cases.INFO]} INFORMATIONAL, {counts[cases.FAILED]} FAILED")
    good = counts[cases.OK] + counts[cases.INFO]
    bad = counts[cases.NON_STRICT] + counts[cases.FAILED]
    print(f"{good} passed, {bad} failed")
    return 1 if bad else 0


sys.exit(asyncio.run(main()))
