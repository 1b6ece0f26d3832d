#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""One command for every benchmark figure: installs what it needs (Debian's
libwebsockets-dev, npm ws and bun), builds a release tree, runs each
workload against the raw-TCP ceiling, libwschat (callback and sequential
routes) and the peers (libwebsockets, Node ws, Bun), pinned (server on CPU
0, load generator on CPU 1), repeats each figure, checks the issue's
targets, measures 1 vs 2 loop threads on the broadcast, and prints (and
with --write, stores in docs/performance.md) the medians and their ratios.

Where liburing is built in, every plain row also runs libwschat with
`--backend io_uring` and the io_uring ceiling (bench/ceiling_uring), and the
io_uring targets are checked against the epoll ceiling and that one; with
--write the rows are also drawn in docs/performance.svg (matplotlib).

The TLS rows (KEY tls, or any tls-* row) run the same workloads over TLS
against the TLS ceiling (bench/ceiling with a certificate: the smallest
OpenSSL epoll server doing the job) and the peers over TLS, with a
certificate made for the run; they have a table and targets of their own.

Usage: bench/run.py [--repeat 3] [--quick] [--write] [--only KEY]
KEY: echo-small, echo-64k, broadcast, idle, connect, threads, client, cluster, tls,
     plain (every row but TLS and cluster, with the client row)
     (or one of tls-echo-small, tls-echo-64k, tls-broadcast, tls-idle,
     tls-connect)"""
import argparse
import os
import re
import resource
import shutil
import signal
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
ap.add_argument("--servers", default="", help="comma-separated columns to run (e.g. 'ceiling,libwschat events'); "
                "for quick looks, never with --write")
ap.add_argument("--no-spin", action="store_true",
                help="do not keep CPU 0 busy with an idle-priority spinner (see docs/performance.md)")
opts = ap.parse_args()


def sh(*cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def build():
    sh("bash", os.path.join(ROOT, "scripts", "deps.sh"), "bench")
    if not os.path.isdir(BUILD):
        sh("meson", "setup", BUILD, "--buildtype=release", "-Dtests=false", "-Db_ndebug=true",
           stdout=subprocess.DEVNULL)
    elif not os.path.exists(os.path.join(BUILD, "bench", "lws_server")):
        # configured before libwebsockets-dev was installed
        sh("meson", "setup", "--reconfigure", BUILD, stdout=subprocess.DEVNULL)
    sh("ninja", "-C", BUILD, stdout=subprocess.DEVNULL)
    peers = os.path.join(ROOT, "bench", "peers")
    if not os.path.isdir(os.path.join(peers, "node_modules")):
        subprocess.run(["npm", "ci", "--silent", "--no-audit", "--no-fund"], cwd=peers,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def pin(cpu):
    return ["taskset", "-c", str(cpu)] if shutil.which("taskset") and os.cpu_count() > 1 else []


class Spinner:
    """Keeps the server's CPU from going idle: an idle-priority busy loop on
    CPU 0 that any runnable task preempts at once. On a virtual machine an
    idle vCPU halts, and every wake-up then pays a VM exit that lands in the
    server's CPU time; how often that happens depends on timing, not on the
    server, and made small-echo figures swing from 6 to 14 µs between runs.
    The spinner itself is never counted (it is a separate process)."""

    def __enter__(self):
        self.p = None
        if opts.no_spin or not hasattr(os, "SCHED_IDLE") or os.cpu_count() < 2:
            return self

        def idle():
            os.sched_setaffinity(0, {0})
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
            die_with_parent()
        self.p = subprocess.Popen(["sh", "-c", "while :; do :; done"], preexec_fn=idle)
        return self

    def __exit__(self, *a):
        if self.p:
            self.p.kill()
            self.p.wait()


def die_with_parent():
    """In a child before exec: killed when run.py dies, even by SIGKILL, so
    a run that is interrupted leaves no server or spinner behind."""
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    die_with_parent()


class Server:
    def __init__(self, name, argv, ready=r":(\d+)\s*$", cpus="0", env=None):
        self.name, self.argv, self.ready, self.cpus, self.env = name, argv, ready, cpus, env

    def __enter__(self):
        self.p = subprocess.Popen(pin(self.cpus) + self.argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                  text=True, preexec_fn=raise_nofile, cwd=os.path.join(ROOT, "bench", "peers"),
                                  env={**os.environ, **self.env} if self.env else None)
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


def tls_files():
    """A certificate for localhost made for the run (ECDSA P-256, as a
    Let's Encrypt one can be), kept in the bench build tree."""
    d = os.path.join(BUILD, "bench-tls")
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    if not os.path.exists(cert):
        os.makedirs(d, exist_ok=True)
        sh("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
           "-keyout", key, "-out", cert, "-days", "30", "-subj", "/CN=localhost",
           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return cert, key


def servers(kind, tls=False):
    b = BUILD
    echo = os.path.join(b, "examples", "echo")
    chat = os.path.join(b, "examples", "chat")
    ceiling = os.path.join(b, "bench", "ceiling")
    common = ["--port", "0", "--bind", "127.0.0.1", "--no-deflate"]
    files, ours, env = [], [], None
    if tls:
        files = list(tls_files())
        ours = ["--tls-cert", files[0], "--tls-key", files[1]]
        env = {"TLS_CERT": files[0], "TLS_KEY": files[1]}
    raw_mode = "fanout" if kind == "broadcast" else "echo"
    out = [("ceiling", Server("ceiling", [ceiling, raw_mode, "0"] + files, r"ready (\d+)"), True)]
    uring = os.path.exists(os.path.join(b, "bench", "ceiling_uring"))
    if uring and not tls:  # the io_uring ceiling speaks no TLS
        out.append(("ceiling io_uring", Server("ceiling io_uring", [os.path.join(b, "bench", "ceiling_uring"),
                                                                    raw_mode, "0"], r"ready (\d+)"), True))
    for backend in ["epoll"] + (["io_uring"] if uring else []):
        tail = "" if backend == "epoll" else " io_uring"
        be = ["--backend", backend]
        if kind == "broadcast":
            out.append(("libwschat" + tail, Server("libwschat" + tail, [chat] + common + be + ours), False))
        else:
            for style in ("events", "handler"):
                out.append((f"libwschat {style}{tail}",
                            Server(style + tail, [echo, "--style", style] + common + be + ours), False))
    lws = os.path.join(b, "bench", "lws_server")
    if os.path.exists(lws):
        out.append(("lws", Server("lws", [lws, "0"] + files, r"ready (\d+)"), False))
    node = shutil.which("node")
    if node:
        out.append(("Node ws", Server("node", [node, "node_server.mjs"], r"ready (\d+)", env=env), False))
    bun = os.path.join(ROOT, "bench", "peers", "node_modules", ".bin", "bun")
    if os.path.exists(bun):
        out.append(("Bun", Server("bun", [bun, "bun_server.js"], r"ready (\d+)", env=env), False))
    return out


def loadgen(args):
    r = subprocess.run(pin(1) + [os.path.join(BUILD, "bench", "loadgen")] + args, capture_output=True,
                       text=True, timeout=600, preexec_fn=die_with_parent)
    if r.returncode != 0:
        raise RuntimeError(r.stderr.strip())
    return dict(kv.split("=", 1) for kv in r.stdout.split())


Q = opts.quick
# CPU time comes from /proc in 10 ms ticks, so every row runs long enough
# for at least ~100 ticks on the fastest server (a 40-tick row moved the
# broadcast ratio by 2.5% per tick). The slow peers (SLOW) get the counts in
# SLOW_N instead: 50-100x off the pace, they need no such precision and
# would otherwise take minutes per run.
SLOW = {"lws", "Node ws"}
SLOW_N = {"broadcast": "1000", "echo-64k": "20000"}
WORKLOADS = [
    ("echo-small", "echo, 100 conns, 32 B, 1 in flight: server µs per round trip", "echo",
     ["-c", "100", "-d", "1", "-s", "32", "-n", "2000" if Q else "300000"], "server_us_per_op"),
    ("echo-64k", "echo, 10 conns, 64 KiB binary: server µs per round trip", "echo",
     ["-c", "10", "-d", "1", "-s", "65536", "-n", "200" if Q else "60000", "--binary"], "server_us_per_op"),
    ("broadcast", "broadcast to 1000 receivers, 32 B, 16-message bursts: server µs per delivery",
     "broadcast",
     ["-r", "100" if Q else "1000", "-s", "32", "-b", "16", "-n", "48" if Q else "10000",
      "--path", "/chat"],
     "server_us_per_op"),
    ("idle", "10k idle connections: server RSS bytes per connection", "idle",
     ["-c", "500" if Q else "10000"], "server_bytes_per_op"),
    ("connect", "connect + handshake + close: server µs per handshake", "connect",
     ["-n", "200" if Q else "10000"], "server_us_per_op"),
]


# The same workloads over TLS (loadgen --tls: TLS 1.3, AES-128-GCM, a full
# handshake per connection). TLS costs more per operation, so the counts
# are smaller; tls-idle also measures after one 16 KiB echo per connection.
TLS_WORKLOADS = [
    ("tls-echo-small", "TLS echo, 100 conns, 32 B, 1 in flight: server µs per round trip", "echo",
     ["-c", "100", "-d", "1", "-s", "32", "-n", "2000" if Q else "200000"], "server_us_per_op"),
    ("tls-echo-64k", "TLS echo, 10 conns, 64 KiB binary: server µs per round trip", "echo",
     ["-c", "10", "-d", "1", "-s", "65536", "-n", "200" if Q else "20000", "--binary"], "server_us_per_op"),
    ("tls-broadcast", "TLS broadcast to 1000 receivers, 32 B, 16-message bursts: server µs per delivery",
     "broadcast",
     ["-r", "100" if Q else "1000", "-s", "32", "-b", "16", "-n", "48" if Q else "5000", "--path", "/chat"],
     "server_us_per_op"),
    ("tls-idle", "TLS, 10k idle connections: server RSS bytes per connection (fresh)", "idle",
     ["-c", "300" if Q else "10000", "--after", "16384"], "server_bytes_per_op"),
    ("tls-connect", "TLS connect + handshake + close: server µs per full handshake", "connect",
     ["-n", "100" if Q else "3000"], "server_us_per_op"),
]
SLOW_N.update({"tls-broadcast": "500", "tls-echo-64k": "5000", "tls-echo-small": "50000"})
# After the idle row: the same connections after one 16 KiB message each.
IDLE_AFTER = ("tls-idle-after", "TLS, 10k idle connections: server RSS bytes per connection after a "
              "16 KiB message")


def measure(entries, extra=None):
    """Runs every entry (name, server, raw, mode, args, metric) --repeat
    times, round-robin: each round runs every server once, so a drift of
    the machine's speed during a row hits all of them alike instead of the
    ones measured last. Returns {name: (median, median extra, runs)}; a
    server that fails is reported and left out."""
    vals = {e[0]: [] for e in entries}
    extras = {e[0]: [] for e in entries}
    failed = set()
    for _ in range(opts.repeat):
        for name, srv, raw, mode, args, metric in entries:
            if name in failed:
                continue
            try:
                with srv as s:
                    out = loadgen([mode, "--port", str(s.port), "--pid", str(s.p.pid)] +
                                  (["--raw"] if raw else []) + args)
                vals[name].append(float(out[metric]))
                if extra:
                    extras[name].append(float(out[extra]))
            except Exception as e:  # noqa: BLE001 - a peer that fails is reported, not fatal
                print(f"  {name}: {e}", file=sys.stderr)
                failed.add(name)
    return {e[0]: (statistics.median(vals[e[0]]),
                   statistics.median(extras[e[0]]) if extras[e[0]] else None, vals[e[0]])
            for e in entries if e[0] not in failed}


# The targets: (label, row key, libwschat column(s), limit, kind)
# kind "ratio": value / ceiling <= limit; "abs": value <= limit.
TARGETS = [
    ("small echo, callbacks <= 1.10x ceiling", "echo-small", ["libwschat events"], 1.10, "ratio"),
    ("small echo, sequential <= 1.20x ceiling", "echo-small", ["libwschat handler"], 1.20, "ratio"),
    ("64 KiB echo <= 1.25x ceiling", "echo-64k", ["libwschat events", "libwschat handler"], 1.25,
     "ratio"),
    ("broadcast <= 1.3x ceiling per delivery", "broadcast", ["libwschat"], 1.3, "ratio"),
    ("idle, callbacks <= 512 B/conn", "idle", ["libwschat events"], 512, "abs"),
    ("idle, sequential <= 8 KiB/conn", "idle", ["libwschat handler"], 8192, "abs"),
    ("handshake <= 1.5x ceiling", "connect", ["libwschat events", "libwschat handler"], 1.5,
     "ratio"),
]
TLS_TARGETS = [
    ("TLS small echo, callbacks <= 1.10x TLS ceiling", "tls-echo-small", ["libwschat events"], 1.10,
     "ratio"),
    ("TLS 64 KiB echo <= 1.1x TLS ceiling", "tls-echo-64k", ["libwschat events"], 1.1, "ratio"),
    ("TLS broadcast <= 0.8 µs per delivery", "tls-broadcast", ["libwschat"], 0.8, "abs"),
    ("TLS idle, callbacks <= 16 KiB/conn fresh", "tls-idle", ["libwschat events"], 16384, "abs"),
    ("TLS idle, callbacks <= 16 KiB/conn after a 16 KiB message", "tls-idle-after",
     ["libwschat events"], 16384, "abs"),
    ("TLS handshake CPU <= the TLS ceiling's", "tls-connect", ["libwschat events"], 1.0, "ratio"),
]
# io_uring against the epoll ceiling and its own, in the same run. Kinds:
# "ratio@COLUMN" divides by that column instead of the ceiling, "pair"
# compares each "a / b" column pair.
URING_TARGETS = [
    ("io_uring small echo <= 0.90x epoll ceiling", "echo-small", ["libwschat events io_uring"], 0.90,
     "ratio"),
    ("io_uring 64 KiB echo <= 1.0x epoll ceiling", "echo-64k", ["libwschat events io_uring"], 1.0, "ratio"),
    ("io_uring broadcast <= 0.85x epoll ceiling per delivery", "broadcast", ["libwschat io_uring"], 0.85,
     "ratio"),
    ("io_uring handshake <= 1.0x epoll ceiling", "connect", ["libwschat events io_uring"], 1.0, "ratio"),
    ("io_uring small echo <= 1.1x io_uring ceiling", "echo-small", ["libwschat events io_uring"], 1.1,
     "ratio@ceiling io_uring"),
    ("io_uring 64 KiB echo <= 1.1x io_uring ceiling", "echo-64k", ["libwschat events io_uring"], 1.1,
     "ratio@ceiling io_uring"),
    ("io_uring broadcast <= 1.1x io_uring ceiling", "broadcast", ["libwschat io_uring"], 1.1,
     "ratio@ceiling io_uring"),
    ("io_uring handshake <= 1.1x io_uring ceiling", "connect", ["libwschat events io_uring"], 1.1,
     "ratio@ceiling io_uring"),
    ("idle on io_uring <= epoll's + 10%", "idle",
     ["libwschat events io_uring / libwschat events", "libwschat handler io_uring / libwschat handler"], 1.10,
     "pair"),
    ("idle, callbacks <= 256 B/conn (epoll / io_uring)", "idle",
     ["libwschat events", "libwschat events io_uring"], 256, "abs"),
    ("idle, sequential <= 4 KiB/conn (epoll / io_uring)", "idle",
     ["libwschat handler", "libwschat handler io_uring"], 4096, "abs"),
]
# Rows where libwschat need not beat the peers (the exception: a
# full handshake is OpenSSL's cost, and Bun's BoringSSL is faster at it).
NO_BEAT = {"tls-connect"}
# The column that stands for libwschat in "beat Bun and lws on every row":
# the callback route (the fast path), and the chat for the broadcast.
BEST = {"broadcast": "libwschat", "tls-broadcast": "libwschat"}


def targets(rows, target_list=None):
    res = {key: r for key, _, r in rows}
    out = ["| target | result | met |", "|---|---|---|"]
    ok_all = True
    partial = opts.quick or opts.only  # rows left out on purpose

    def unmeasured(label):
        nonlocal ok_all
        if not partial:  # a server that failed must not pass for a target met
            ok_all = False
            out.append(f"| {label} | not measured | **no** |")

    for label, key, cols, limit, kind in (TARGETS if target_list is None else target_list):
        r = res.get(key)
        base = kind.split("@", 1)[1] if "@" in kind else "ceiling"
        need = [x for c in cols for x in c.split(" / ")] + ([base] if kind.startswith("ratio") else [])
        if not r or any(c not in r for c in need):
            unmeasured(label)
            continue
        if kind == "pair":
            vals = [r[a] / r[b] for a, b in (c.split(" / ") for c in cols)]
        else:
            vals = [r[c] / r[base] if kind.startswith("ratio") else r[c] for c in cols]
        ok = all(v <= limit for v in vals)
        ok_all &= ok
        shown = " / ".join(f"{v:.3g}" if kind == "abs" else f"{v:.2f}x" for v in vals)
        out.append(f"| {label} | {shown} | {'yes' if ok else '**no**'} |")
    if target_list is not None and target_list is not TLS_TARGETS:
        return "\n".join(out), ok_all  # the beat-the-peers rows are checked once
    for key, title, r in rows:
        if key in NO_BEAT:
            continue
        ours = r.get(BEST.get(key, "libwschat events"))
        for peer in ("Bun", "lws"):
            if ours is None or peer not in r:
                unmeasured(f"beats {peer}: {title.split(':')[0]}")
                continue
            ok = ours < r[peer]
            ok_all &= ok
            out.append(f"| beats {peer}: {title.split(':')[0]} | {ours:.3g} vs {r[peer]:.3g} | "
                       f"{'yes' if ok else '**no**'} |")
    return "\n".join(out), ok_all


def threads_table():
    """1 vs 2 loop threads on the broadcast: throughput and CPU per delivery.
    One loop runs on CPU 0; two loops run once confined to CPU 0 (what the
    second loop costs by itself: cross-loop posting, smaller batches) and
    once on CPUs 0 and 1 (the load generator stays on CPU 1, as in every
    other row, so the second loop competes with it). Run right after the
    broadcast row, before the idle and connect rows leave thousands of
    sockets in TIME_WAIT."""
    chat = os.path.join(BUILD, "examples", "chat")
    _, _, mode, args, metric = next(w for w in WORKLOADS if w[0] == "broadcast")
    lines = ["| loop threads | server CPUs | deliveries per second | server µs per delivery |",
             "|---|---|---|---|"]
    configs = ((1, "0"), (2, "0"), (2, "0,1"))
    entries = [(f"{n} loop(s) cpu {cpus}",
                Server(f"chat x{n}", [chat, "--port", "0", "--bind", "127.0.0.1", "--no-deflate",
                                      "--threads", str(n)], cpus=cpus), False, mode, args, metric)
               for n, cpus in configs]
    got = measure(entries, extra="rate")
    for (n, cpus), e in zip(configs, entries):
        m = got.get(e[0])
        if m:
            print(f"threads     {e[0]:18} {m[0]:10.3f}  rate {m[1]:.0f}/s")
            lines.append(f"| {n} | {cpus} | {m[1]:,.0f} | {m[0]:.3g} |")
    return "\n".join(lines)


CLIENT_N = {"libwschat client": "300000", "bench/loadgen": "300000", "Node ws client": "60000",
            "python3-websockets client": "12000"}


def client_row():
    """The client row: 100 connections, 32-byte echo, one in flight each,
    against the WebSocket ceiling (bench/ceiling wsecho, the least a
    WebSocket echo server can do); measured is the client's own CPU per
    round trip (its rusage at exit), the client pinned to CPU 1 and the
    server to CPU 0 as in every row. Returns (table, [(label, ok)])."""
    peers = os.path.join(ROOT, "bench", "peers")
    clients = {
        "libwschat client": lambda port, n: [os.path.join(BUILD, "bench", "client_bench"), str(port),
                                             "100", n, "32"],
        "bench/loadgen": lambda port, n: [os.path.join(BUILD, "bench", "loadgen"), "echo", "--port",
                                          str(port), "--pid", "1", "-c", "100", "-d", "1", "-s",
                                          "32", "-n", n],
        "Node ws client": lambda port, n: ["node", os.path.join(peers, "ws_client.mjs"), str(port),
                                           "100", n, "32"],
        "python3-websockets client": lambda port, n: ["/usr/bin/python3",
                                                      os.path.join(peers, "py_client.py"), str(port),
                                                      "100", n, "32"],
    }
    if not shutil.which("node"):
        del clients["Node ws client"]
    vals = {k: [] for k in clients}
    ceiling = os.path.join(BUILD, "bench", "ceiling")
    for _ in range(opts.repeat):
        for name, argv in clients.items():
            n = "2000" if Q else CLIENT_N[name]
            with Server("ws ceiling", [ceiling, "wsecho", "0"], r"ready (\d+)") as srv:
                p = subprocess.Popen(pin(1) + argv(srv.port, n), stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, cwd=peers,
                                     preexec_fn=raise_nofile)
                _, status, ru = os.wait4(p.pid, 0)
                out = p.stdout.read()
                if os.waitstatus_to_exitcode(status) != 0:
                    print(f"  {name}: failed: {out} {p.stderr.read()[-300:]}", file=sys.stderr)
                    continue
                vals[name].append((ru.ru_utime + ru.ru_stime) / int(n) * 1e6)
    med = {k: statistics.median(v) for k, v in vals.items() if v}
    for k, v in vals.items():
        if v:
            print(f"client      {k:26} {med[k]:10.3f}  (runs: {', '.join(f'{x:.3f}' for x in v)})")
    lines = ["| client | client µs per round trip | / bench/loadgen |", "|---|---|---|"]
    base = med.get("bench/loadgen")
    for k in clients:
        if k in med:
            lines.append(f"| {k} | {med[k]:.3g} | {med[k] / base:.2f}x |" if base else
                         f"| {k} | {med[k]:.3g} | – |")
    ours = med.get("libwschat client")
    checks = [("client within 1.25x of bench/loadgen",
               bool(ours and base and ours / base <= 1.25),
               f"{ours / base:.2f}x" if ours and base else "not measured")]
    for peer in ("Node ws client", "python3-websockets client"):
        checks.append((f"client beats {peer}", bool(ours and peer in med and ours < med[peer]),
                       f"{ours:.3g} vs {med[peer]:.3g}" if ours and peer in med else "not measured"))
    return "\n".join(lines), checks


def free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class RedisServer:
    """Debian's redis-server on a free port, persistence off, on CPU 0 with
    the nodes (its CPU is reported beside theirs)."""

    def __enter__(self):
        self.port = free_port()
        self.p = subprocess.Popen(pin("0") + ["redis-server", "--port", str(self.port), "--bind",
                                              "127.0.0.1", "--save", "", "--appendonly", "no"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                  preexec_fn=die_with_parent)
        for _ in range(100):
            if subprocess.run(["redis-cli", "-p", str(self.port), "ping"], capture_output=True,
                              text=True).stdout.strip() == "PONG":
                return self
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def __exit__(self, *a):
        self.p.kill()
        self.p.wait()


def cluster_row():
    """The cluster row: the broadcast workload (1,000 receivers, 32 B,
    16-message bursts) on three examples/chat nodes sharing one port
    (--reuseport, the kernel spreading the receivers) and one Redis, against
    the same load on one process; CPU per delivery of the nodes together
    (and with Redis); then the latency one cross-node hop adds (one sender,
    one receiver, one message in flight: on two nodes vs on one). Returns
    (table, [(label, ok, shown)])."""
    chat = os.path.join(BUILD, "examples", "chat")
    _, _, mode, args, metric = next(w for w in WORKLOADS if w[0] == "broadcast")
    one, three, with_redis = [], [], []
    for _ in range(opts.repeat):
        with Server("chat", [chat, "--port", "0", "--bind", "127.0.0.1", "--no-deflate"]) as srv:
            out = loadgen([mode, "--port", str(srv.port), "--pid", str(srv.p.pid)] + args)
            one.append(float(out[metric]))
        with RedisServer() as r:
            port = free_port()
            nodes = [Server(f"node{i}", [chat, "--port", str(port), "--bind", "127.0.0.1", "--no-deflate",
                                         "--reuseport", "--redis", f"redis://127.0.0.1:{r.port}"])
                     for i in range(3)]
            for n in nodes:
                n.__enter__()
            try:
                time.sleep(0.5)  # every node connected to Redis
                pids = ",".join(str(n.p.pid) for n in nodes)
                out = loadgen([mode, "--port", str(port), "--pid", pids] + args)
                three.append(float(out[metric]))
                out = loadgen([mode, "--port", str(port), "--pid", f"{pids},{r.p.pid}"] + args)
                with_redis.append(float(out[metric]))
            finally:
                for n in nodes:
                    n.__exit__()
    hops = {}
    n_hop = "500" if Q else "20000"
    with RedisServer() as r:
        a = Server("a", [chat, "--port", "0", "--bind", "127.0.0.1", "--no-deflate", "--redis",
                         f"redis://127.0.0.1:{r.port}"])
        b = Server("b", [chat, "--port", "0", "--bind", "127.0.0.1", "--no-deflate", "--redis",
                         f"redis://127.0.0.1:{r.port}"])
        with a, b:
            time.sleep(0.5)
            for label, p2 in (("one node", a.port), ("across nodes", b.port)):
                out = loadgen(["hop", "--port", str(a.port), "--port2", str(p2), "--pid", str(a.p.pid),
                               "-n", n_hop, "-s", "32", "--path", "/chat"])
                hops[label] = (float(out["p50_us"]), float(out["p99_us"]))
    m1, m3, mr = (statistics.median(v) for v in (one, three, with_redis))
    print(f"cluster     one process {m1:.3f}  three nodes {m3:.3f}  with redis {mr:.3f}  hops {hops}")
    lines = ["| broadcast to 1,000, 32 B, bursts of 16 | server µs per delivery | / one process |",
             "|---|---|---|",
             f"| one process (examples/chat) | {m1:.3g} | 1.00x |",
             f"| three nodes on one port (nodes' CPU) | {m3:.3g} | {m3 / m1:.2f}x |",
             f"| three nodes on one port (nodes' and Redis's CPU) | {mr:.3g} | {mr / m1:.2f}x |",
             "",
             "| one message in flight, 32 B | p50 µs | p99 µs |",
             "|---|---|---|"]
    for label, (p50, p99) in hops.items():
        lines.append(f"| {label} | {p50:.0f} | {p99:.0f} |")
    added = hops["across nodes"][1] - hops["one node"][1]
    checks = [("cluster CPU per delivery within 1.3x of one process", m3 / m1 <= 1.3, f"{m3 / m1:.2f}x"),
              ("cross-node hop adds under 2 ms at p99", added < 2000, f"{added:.0f} µs")]
    return "\n".join(lines), checks


def main():
    build()
    with Spinner():
        run_all()


def run_rows(workloads, tls):
    """Measures each selected workload against its servers; returns rows
    (key, title, {server: median}). The broadcast row is followed by the
    1 vs 2 threads table (returned too, plain rows only)."""
    rows, thr = [], ""
    for key, title, mode, args, metric in workloads:
        if not (key.startswith(opts.only) or (tls and opts.only == "tls") or (not tls and opts.only == "plain")):
            continue
        entries = []
        keep = [x.strip() for x in opts.servers.split(",") if x.strip()]
        for name, srv, raw in servers(mode, tls):
            if keep and name not in keep:
                continue
            a = args + (["--tls"] if tls else [])
            if name in SLOW and key in SLOW_N and not Q:
                a = a[:a.index("-n") + 1] + [SLOW_N[key]] + a[a.index("-n") + 2:]
            entries.append((name, srv, raw, mode, a, metric))
        after = "server_bytes_after" if "--after" in args else None
        got = measure(entries, extra=after)
        results, later = {}, {}
        for name, *_ in entries:
            m = got.get(name)
            if m:
                results[name] = m[0]
                print(f"{key:14} {name:18} {m[0]:10.3f}  (runs: {', '.join(f'{v:.3f}' for v in m[2])})")
                if after and m[1] is not None:
                    later[name] = m[1]
                    print(f"{IDLE_AFTER[0]:14} {name:18} {m[1]:10.3f}")
        rows.append((key, title, results))
        if later:
            rows.append((IDLE_AFTER[0], IDLE_AFTER[1], later))
        if key == "broadcast":
            thr = threads_table()
    return rows, thr


def results_table(rows):
    names = ["ceiling", "ceiling io_uring", "libwschat events", "libwschat handler", "libwschat",
             "libwschat events io_uring", "libwschat handler io_uring", "libwschat io_uring", "lws",
             "Node ws", "Bun"]
    names = [n for n in names if any(n in res for _, _, res in rows)]
    lines = ["| workload | " + " | ".join(n for n in names) + " | libwschat / epoll ceiling |",
             "|---|" + "---|" * (len(names) + 1)]
    for key, title, res in rows:
        cells = [f"{res[n]:.3g}" if n in res else "–" for n in names]
        ours = [res[n] for n in ("libwschat events", "libwschat handler", "libwschat", "libwschat events io_uring",
                                 "libwschat handler io_uring", "libwschat io_uring") if n in res]
        ceil = res.get("ceiling")
        ratio = " / ".join(f"{o / ceil:.2f}x" for o in ours) if ceil and ours and "idle" not in key \
            else "–"
        lines.append(f"| {title} | " + " | ".join(cells) + f" | {ratio} |")
    return "\n".join(lines)


def idle_breakdown(rows):
    """Where an idle connection's bytes go (10k connections): the library's
    per-connection parts from bench/idle_sizes, each table's doubling slack
    at this count, and what the measurement leaves (malloc's own overhead,
    and for a sequential handler its coroutine and kept request)."""
    res = {key: r for key, _, r in rows}.get("idle")
    exe = os.path.join(BUILD, "bench", "idle_sizes")
    if not res or not os.path.exists(exe):
        return ""
    sz = {k: int(v) for k, v in (kv.split("=") for kv in subprocess.run([exe], capture_output=True,
                                                                       text=True).stdout.split())}
    n = 500 if Q else 10000
    cap = 0
    while cap <= n + 10:  # the fd table grows by an eighth (lib/util/array.c); a few fds are the server's
        cap += max(cap // 8, 64)
    session = (sz["session"] + 16 + 8 + 15) // 16 * 16  # + "ip:port" and malloc's header, rounded
    parts = [("session struct, with its \"ip:port\" (malloc-rounded)", session, "all"),
             (f"session slot and free-slot entries ({sz['slot']} + {sz['free_slot']} B; "
              "the table's slack is never touched)", sz["slot"] + sz["free_slot"], "all"),
             (f"loop watcher entry ({sz['watcher']} B, fd table at {cap:,}, zeroed)", sz["watcher"] * cap / n,
              "all"),
             ("io_uring fd entry (12 B, pages of 256)", 12 * ((n + 255) // 256 * 256) / n, "io_uring"),
             ("io_uring buffers provided and touched (8 x 4 KiB, shared)", 8 * 4096 / n, "io_uring")]
    cols = [("libwschat events", "callbacks, epoll"), ("libwschat events io_uring", "callbacks, io_uring"),
            ("libwschat handler", "sequential, epoll"), ("libwschat handler io_uring", "sequential, io_uring")]
    cols = [(c, l) for c, l in cols if c in res]
    lines = ["| bytes per idle connection | " + " | ".join(l for _, l in cols) + " |",
             "|---|" + "---|" * len(cols)]
    for label, v, where in parts:
        lines.append(f"| {label} | " + " | ".join(
            f"{v:.0f}" if where == "all" or where in c else "–" for c, _ in cols) + " |")
    rest = []
    for c, _ in cols:
        known = sum(v for _, v, where in parts if where == "all" or where in c)
        base = res.get(c.replace("handler", "events"))
        coro = res[c] - base if "handler" in c and base else 0
        rest.append((coro, res[c] - known - coro))
    lines.append("| the coroutine (its struct and the frames copied out of the loop's shared stack) "
                 "and the request it keeps | " +
                 " | ".join(f"{co:.0f}" if "handler" in c else "–" for (c, _), (co, _) in zip(cols, rest)) + " |")
    lines.append("| the rest (malloc overhead, other allocations) | " +
                 " | ".join(f"{r:.0f}" for _, r in rest) + " |")
    lines.append("| **measured** | " + " | ".join(f"**{res[c]:.0f}**" for c, _ in cols) + " |")
    return "\n".join(lines)


CHART_SERIES = [("ceiling", "epoll ceiling", "#9e9e9e"), ("ceiling io_uring", "io_uring ceiling", "#616161"),
                ("libwschat events", "libwschat (epoll)", "#1f77b4"),
                ("libwschat events io_uring", "libwschat (io_uring)", "#0b3d91"),
                ("lws", "libwebsockets", "#ff7f0e"), ("Node ws", "Node ws", "#2ca02c"), ("Bun", "Bun", "#d62728")]


def chart(rows):
    """docs/performance.svg: server CPU per operation of each plain row
    against the epoll ceiling (1.0 = the ceiling; lower is better, log
    scale: the slow peers are 10-100x off), and idle bytes per connection.
    The chat stands for libwschat on the broadcast row, the callback route
    elsewhere."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("chart: python3-matplotlib missing (apt-get install python3-matplotlib); no chart", file=sys.stderr)
        return
    plt.rcParams["svg.hashsalt"] = "libwschat"
    res = {key: r for key, _, r in rows}
    cpu_rows = [k for k in ("echo-small", "echo-64k", "broadcast", "connect") if k in res and "ceiling" in res[k]]
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4.2), gridspec_kw={"width_ratios": [3, 1.6]})
    width = 0.8 / len(CHART_SERIES)
    for i, (col, label, color) in enumerate(CHART_SERIES):
        xs, ys = [], []
        for j, k in enumerate(cpu_rows):
            c = {"libwschat events": "libwschat", "libwschat events io_uring": "libwschat io_uring"}.get(col, col) \
                if k == "broadcast" else col
            if c in res[k]:
                xs.append(j + i * width)
                ys.append(res[k][c] / res[k]["ceiling"])
        ax.bar(xs, ys, width, label=label, color=color)
    ax.set_yscale("log")
    ax.axhline(1.0, color="black", linewidth=0.6)
    ax.set_xticks([j + 0.4 - width / 2 for j in range(len(cpu_rows))])
    ax.set_xticklabels({"echo-small": "echo 32 B\n100 conns", "echo-64k": "echo 64 KiB\n10 conns",
                        "broadcast": "broadcast\nto 1,000", "connect": "handshake"}[k] for k in cpu_rows)
    ax.set_ylabel("server CPU per operation / epoll ceiling (log)")
    ax.set_title("CPU per operation (lower is better)")
    ax.legend(fontsize=7, ncol=2)
    idle = res.get("idle", {})
    cols = [(c, l) for c, l in (("libwschat events", "callbacks\nepoll"), ("libwschat events io_uring",
                                                                            "callbacks\nio_uring"),
                                ("libwschat handler", "sequential\nepoll"),
                                ("libwschat handler io_uring", "sequential\nio_uring"), ("lws", "lws"),
                                ("Node ws", "Node ws"), ("Bun", "Bun")) if c in idle]
    ys = list(range(len(cols)))[::-1]
    ax2.barh(ys, [idle[c] for c, _ in cols], color="#1f77b4", left=0)
    ax2.set_yticks(ys)
    ax2.set_yticklabels([l.replace("\n", ", ") for _, l in cols], fontsize=7)
    ax2.set_xscale("log")
    ax2.set_xlim(left=100)
    for y, (c, _) in zip(ys, cols):
        ax2.text(idle[c] * 1.05, y, f"{idle[c]:,.0f}", va="center", fontsize=7)
    ax2.set_title("idle memory, bytes per connection (log)")
    fig.tight_layout()
    fig.savefig(os.path.join(ROOT, "docs", "performance.svg"), metadata={"Date": None})
    print("chart: docs/performance.svg")


def write_block(tag, table):
    cpu = subprocess.run(["sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"],
                         capture_output=True, text=True).stdout.strip()
    doc = os.path.join(ROOT, "docs", "performance.md")
    text = open(doc).read() if os.path.exists(doc) else ""
    start, end = f"<!-- {tag}:start -->", f"<!-- {tag}:end -->"
    cmd = f"bench/run.py --repeat {opts.repeat}" + (" --no-spin" if opts.no_spin else "") + \
        (f" --only {opts.only}" if opts.only else "") + " --write"
    block = (f"{start}\nMeasured {time.strftime('%Y-%m-%d')} on {cpu} ({os.cpu_count()} cores), "
             f"median of {opts.repeat} runs, with `{cmd}`:\n\n"
             f"{table}\n{end}")
    text = re.sub(re.escape(start) + ".*?" + re.escape(end), lambda _: block, text, flags=re.S) \
        if start in text else text + "\n" + block + "\n"
    open(doc, "w").write(text)


def run_all():
    tls_only = opts.only.startswith("tls")
    thr = threads_table() if opts.only == "threads" else ""
    rows, thr2 = ([], "") if tls_only else run_rows(WORKLOADS, False)
    thr = thr or thr2
    blocks, all_met = {}, True
    if rows or opts.only in ("", "client", "threads", "plain"):
        ttable, all_met = targets(rows)
        ctable = ""
        if "client".startswith(opts.only) or opts.only in ("", "plain"):
            ctable, checks = client_row()
            for label, ok, shown in checks:
                all_met &= ok
                ttable += f"\n| {label} | {shown} | {'yes' if ok else '**no**'} |"
        if rows and os.path.exists(os.path.join(BUILD, "bench", "ceiling_uring")):
            ut, umet = targets(rows, URING_TARGETS)
            all_met &= umet
            ttable += "\n\nio_uring targets, checked by the same run:\n\n" + ut
            bd = idle_breakdown(rows)
            if bd:
                ttable += "\n\nThe idle row, broken down:\n\n" + bd
            if opts.write and opts.only in ("", "plain"):
                chart(rows)
        # A client-only run has a block of its own, so it does not replace
        # the full table of the servers' rows.
        blocks["client-results" if opts.only == "client" else "results"] = \
            (results_table(rows) + "\n\n" if rows else "") + "Targets, checked by the same run:\n\n" + \
            ttable + ("\n\n1 vs 2 loop threads, broadcast workload (examples/chat):\n\n" + thr if thr else "") + \
            ("\n\nThe client row: 100 connections, 32 B echo against `bench/ceiling wsecho`, "
             "the client's CPU per round trip:\n\n" + ctable if ctable else "")
    if opts.only in ("", "cluster"):
        table, checks = cluster_row()
        shown = "\n".join(f"| {label} | {v} | {'yes' if ok else '**no**'} |" for label, ok, v in checks)
        all_met &= all(ok for _, ok, _ in checks)
        blocks["cluster-results"] = table + "\n\nCluster targets, checked by the same run:\n\n" + \
            "| target | result | met |\n|---|---|---|\n" + shown
    if tls_only or not opts.only:
        trows, _ = run_rows(TLS_WORKLOADS, True)
        tt, met = targets(trows, TLS_TARGETS)
        all_met &= met
        blocks["tls-results"] = results_table(trows) + "\n\nTLS targets, checked by the same run:\n\n" + tt
    for table in blocks.values():
        print()
        print(table)
    print(f"\nall targets met: {'yes' if all_met else 'no'}")
    if opts.write and opts.servers:
        sys.exit("--servers leaves columns out: not for --write")
    if opts.write:
        for tag, table in blocks.items():
            write_block(tag, table)


main()
