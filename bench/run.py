#!/usr/bin/python3
"""One command for every benchmark figure: builds a release tree, runs each
workload against the raw-TCP ceiling, libwschat (callback and sequential
routes) and the peers that are available (Node ws, Bun), pinned (server on
CPU 0, load generator on CPU 1), repeats each figure and prints (and with
--write, stores in docs/performance.md) the medians and their ratios.

Usage: bench/run.py [--repeat 3] [--quick] [--write]"""
import argparse
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, "build-bench")
ap = argparse.ArgumentParser()
ap.add_argument("--repeat", type=int, default=3)
ap.add_argument("--quick", action="store_true", help="tiny counts: a smoke test, not a measurement")
ap.add_argument("--write", action="store_true", help="write docs/performance.md")
ap.add_argument("--only", default="")
opts = ap.parse_args()


def sh(*cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def build():
    if not os.path.isdir(BUILD):
        sh("meson", "setup", BUILD, "--buildtype=release", "-Dtests=false", "-Db_ndebug=true",
           stdout=subprocess.DEVNULL)
    sh("ninja", "-C", BUILD, stdout=subprocess.DEVNULL)
    peers = os.path.join(ROOT, "bench", "peers")
    if not os.path.isdir(os.path.join(peers, "node_modules")):
        subprocess.run(["npm", "ci", "--silent", "--no-audit", "--no-fund"], cwd=peers,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def pin(cpu):
    return ["taskset", "-c", str(cpu)] if shutil.which("taskset") and os.cpu_count() > 1 else []


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


class Server:
    def __init__(self, name, argv, ready=r":(\d+)\s*$"):
        self.name, self.argv, self.ready = name, argv, ready

    def __enter__(self):
        self.p = subprocess.Popen(pin(0) + self.argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                  text=True, preexec_fn=raise_nofile, cwd=os.path.join(ROOT, "bench", "peers"))
        line = self.p.stdout.readline()
        m = re.search(self.ready, line)
        if not m:
            self.p.kill()
            raise RuntimeError(f"{self.name}: {line!r}")
        self.port = int(m.group(1))
        time.sleep(0.2)
        return self

    def __exit__(self, *a):
        self.p.kill()
        self.p.wait()


def servers(kind):
    b = BUILD
    echo = os.path.join(b, "examples", "echo")
    chat = os.path.join(b, "examples", "chat")
    ceiling = os.path.join(b, "bench", "ceiling")
    common = ["--port", "0", "--bind", "127.0.0.1", "--no-deflate"]
    out = [("ceiling", Server("ceiling", [ceiling, "fanout" if kind == "broadcast" else "echo", "0"],
                              r"ready (\d+)"), True)]
    if kind == "broadcast":
        out.append(("libwschat", Server("libwschat", [chat] + common), False))
    else:
        out.append(("libwschat events", Server("events", [echo, "--style", "events"] + common), False))
        out.append(("libwschat handler", Server("handler", [echo, "--style", "handler"] + common), False))
    node = shutil.which("node")
    if node:
        out.append(("Node ws", Server("node", [node, "node_server.mjs"], r"ready (\d+)"), False))
    bun = os.path.join(ROOT, "bench", "peers", "node_modules", ".bin", "bun")
    if os.path.exists(bun):
        out.append(("Bun", Server("bun", [bun, "bun_server.js"], r"ready (\d+)"), False))
    return out


def loadgen(args):
    r = subprocess.run(pin(1) + [os.path.join(BUILD, "bench", "loadgen")] + args, capture_output=True,
                       text=True, timeout=600)
    if r.returncode != 0:
        raise RuntimeError(r.stderr.strip())
    return dict(kv.split("=", 1) for kv in r.stdout.split())


Q = opts.quick
WORKLOADS = [
    ("echo-small", "echo, 100 conns, 32 B, 1 in flight: server µs per round trip", "echo",
     ["-c", "100", "-d", "1", "-s", "32", "-n", "2000" if Q else "300000"], "server_us_per_op"),
    ("echo-64k", "echo, 10 conns, 64 KiB binary: server µs per round trip", "echo",
     ["-c", "10", "-d", "1", "-s", "65536", "-n", "200" if Q else "20000", "--binary"], "server_us_per_op"),
    ("broadcast", "broadcast to 1000 receivers, 32 B: server µs per delivery", "broadcast",
     ["-r", "100" if Q else "1000", "-s", "32", "-n", "50" if Q else "2000", "--path", "/chat"],
     "server_us_per_op"),
    ("idle", "10k idle connections: server RSS bytes per connection", "idle",
     ["-c", "500" if Q else "10000"], "server_bytes_per_op"),
    ("connect", "connect + handshake + close: server µs per handshake", "connect",
     ["-n", "200" if Q else "5000"], "server_us_per_op"),
]


def main():
    build()
    rows = []
    for key, title, mode, args, metric in WORKLOADS:
        if not key.startswith(opts.only):
            continue
        results = {}
        for name, srv, raw in servers(mode):
            vals = []
            for _ in range(opts.repeat):
                try:
                    with srv as s:
                        out = loadgen([mode, "--port", str(s.port), "--pid", str(s.p.pid)] +
                                      (["--raw"] if raw else []) + args)
                    vals.append(float(out[metric]))
                except Exception as e:  # noqa: BLE001 - a peer that fails is reported, not fatal
                    print(f"  {name}: {e}", file=sys.stderr)
                    break
            if vals:
                results[name] = statistics.median(vals)
                print(f"{key:11} {name:18} {results[name]:10.3f}  (runs: {', '.join(f'{v:.3f}' for v in vals)})")
        rows.append((title, results))
    names = ["ceiling", "libwschat events", "libwschat handler", "libwschat", "Node ws", "Bun"]
    lines = ["| workload | " + " | ".join(n for n in names) + " | libwschat / ceiling |",
             "|---|" + "---|" * (len(names) + 1)]
    for title, res in rows:
        cells = [f"{res[n]:.3g}" if n in res else "–" for n in names]
        ours = [res[n] for n in ("libwschat events", "libwschat handler", "libwschat") if n in res]
        ceil = res.get("ceiling")
        ratio = " / ".join(f"{o / ceil:.2f}x" for o in ours) if ceil and ours else "–"
        lines.append(f"| {title} | " + " | ".join(cells) + f" | {ratio} |")
    table = "\n".join(lines)
    print()
    print(table)
    if opts.write:
        cpu = subprocess.run(["sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"],
                             capture_output=True, text=True).stdout.strip()
        doc = os.path.join(ROOT, "docs", "performance.md")
        text = open(doc).read() if os.path.exists(doc) else ""
        start, end = "<!-- results:start -->", "<!-- results:end -->"
        block = (f"{start}\nMeasured {time.strftime('%Y-%m-%d')} on {cpu} ({os.cpu_count()} cores), "
                 f"median of {opts.repeat} runs, with `bench/run.py --repeat {opts.repeat} --write`:\n\n"
                 f"{table}\n{end}")
        text = re.sub(re.escape(start) + ".*?" + re.escape(end), block, text, flags=re.S) \
            if start in text else text + "\n" + block + "\n"
        open(doc, "w").write(text)


main()
