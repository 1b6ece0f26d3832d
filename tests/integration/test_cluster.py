#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""examples/chat across processes through a real redis-server (Debian's,
started here on a free port with persistence off, stopped by PID), with
python3-websockets clients on every node: one room across three nodes
(every message exactly once, in order, cluster-wide counts, /users, unique
names, whispers to another node and to no one else, JSON clients), presence
of a node killed with users online, several nodes behind one port
(--reuseport), /metrics and /healthz; and the faults: Redis killed and
restarted mid-conversation, CLIENT KILL TYPE pubsub, Redis absent at start,
a stopped node, fifty Redis restarts with every node surviving (and, under
ASan, exiting without a leak).
Usage: test_cluster.py CHAT_BIN"""
import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

from harness import bounded, check, free_port, need, run, skip

websockets = need("websockets", "python3-websockets")
if not shutil.which("redis-server"):
    skip("redis-server missing: apt-get install redis-server, or run scripts/test.sh")
chat_bin = sys.argv[1]
tmp = tempfile.mkdtemp(prefix="wschat-cluster-")
PRESENCE_MS = 3000
os.environ["ASAN_OPTIONS"] = os.environ.get("ASAN_OPTIONS", "detect_leaks=1") + ":quarantine_size_mb=0"
procs = []  # everything started, stopped by PID at the end


def redis_cmd(port, *args, timeout=2.0):
    """One RESP command over a plain socket; returns the raw answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        req = f"*{len(args)}\r\n" + "".join(f"${len(str(a))}\r\n{a}\r\n" for a in args)
        s.sendall(req.encode())
        return s.recv(65536)


class Redis:
    def __init__(self, port):
        self.port, self.p = port, None

    def start(self):
        self.p = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                                   "--save", "", "--appendonly", "no", "--dir", tmp],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(self.p)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                if redis_cmd(self.port, "PING").startswith(b"+PONG"):
                    return self
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("redis-server did not answer")

    def kill(self):
        self.p.kill()
        self.p.wait(timeout=10)


class Node:
    """examples/chat on its own port (or a shared one with --reuseport)."""

    def __init__(self, redis_port, port=0, extra=()):
        self.log = os.path.join(tmp, f"node-{len(procs)}.log")
        self.err = open(self.log, "w")
        self.p = subprocess.Popen([chat_bin, "--port", str(port), "--bind", "127.0.0.1", "--redis",
                                   f"redis://127.0.0.1:{redis_port}", "--presence-timeout",
                                   str(PRESENCE_MS), *extra],
                                  stdout=subprocess.PIPE, stderr=self.err, text=True)
        procs.append(self.p)
        line = self.p.stdout.readline()
        self.port = int(line.strip().rsplit(":", 1)[1])

    def health(self):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=2) as r:
                return r.status
        except urllib.error.HTTPError as e:
            return e.code
        except OSError:
            return 0

    def wait_up(self, seconds=10):
        deadline = time.time() + seconds
        while time.time() < deadline:
            if self.health() == 200:
                return True
            time.sleep(0.02)
        return False

    def metrics(self):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=2) as r:
            return r.read().decode()

    def stop(self):
        """SIGTERM; returns (exit status, log text)."""
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
        try:
            rc = self.p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.p.kill()
            rc = "hung"
        self.err.close()
        with open(self.log) as f:
            return rc, f.read()


async def join(node, name=None, fmt=None):
    q = [f"name={name}"] if name else []
    if fmt:
        q.append(f"format={fmt}")
    ws = await websockets.connect(f"ws://127.0.0.1:{node.port}/chat" + ("?" + "&".join(q) if q else ""))
    welcome = await bounded(ws.recv(), 5)
    return ws, welcome


async def drain(ws, seconds=0.3):
    got = []
    try:
        while True:
            got.append(await asyncio.wait_for(ws.recv(), seconds))
    except asyncio.TimeoutError:
        return got


async def expect(ws, pred, seconds=5):
    """Reads until pred(message); returns (message, what came before)."""
    before, deadline = [], time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            m = await asyncio.wait_for(ws.recv(), max(0.01, deadline - time.monotonic()))
        except asyncio.TimeoutError:
            break
        if pred(m):
            return m, before
        before.append(m)
    return None, before


def start_nodes(r, n):
    nodes = [Node(r.port) for _ in range(n)]
    check(f"{n} nodes up", all(x.wait_up() for x in nodes))
    return nodes


async def one_room(r):
    nodes = start_nodes(r, 3)
    a, wa = await join(nodes[0], "alice")
    b, wb = await join(nodes[1], "bob")
    c, wc = await join(nodes[2], "carol")
    check("counts cover every node", [wa, wb, wc] == [f"You are connected! There are {i} users here."
                                                     for i in (1, 2, 3)], str([wa, wb, wc]))
    d, wd = await join(nodes[1], "alice")
    taken = await bounded(d.recv(), 5)
    check("a name held on node A is refused on node B", taken.startswith("error: that name is taken"),
          taken)
    dname = taken.rsplit(" ", 1)[1]
    # 30 messages from node 1: everyone on every node, once each, in order.
    for i in range(30):
        await a.send(f"m{i}")
    want = [f"[alice]: m{i}" for i in range(30)]
    for ws, who in ((a, "alice"), (b, "bob"), (c, "carol"), (d, dname)):
        got = [await bounded(ws.recv(), 5) for _ in range(30)]
        check(f"{who} got the 30 messages once each, in order", got == want, str(got[:3]))
    await c.send("from carol")
    for ws in (a, b, d):
        m, _ = await expect(ws, lambda m: m.endswith("from carol"))
        check("node 3's message reaches the others", m == "[carol]: from carol", str(m))
    extra = -1  # carol's own copy of her message
    for ws in (a, b, c, d):
        extra += len(await drain(ws))
    check("and nothing twice", extra == 0, str(extra))
    await c.send("/users")
    m, _ = await expect(c, lambda m: m.startswith("Users: "))
    check("/users lists every node's users in arrival order", m == f"Users: alice, bob, carol, {dname}",
          str(m))
    # A whisper to another node's user, and to no one else.
    await a.send("/whisper carol across nodes")
    m, _ = await expect(c, lambda m: "across nodes" in m)
    check("a whisper reaches a user on another node", m == "[alice -> carol]: across nodes", str(m))
    await a.send("after the whisper")
    m, before = await expect(b, lambda m: m.endswith("after the whisper"))
    check("and no one else", m is not None and not any("across" in x for x in before), str(before))
    await a.send("/whisper nobody hi")
    m, _ = await expect(a, lambda m: m.startswith("error:"))
    check("a whisper to no one is refused", m == "error: no user named 'nobody'", str(m))
    # A JSON client on node 2 hears a text client on node 1.
    j, wj = await join(nodes[1], "jason", "json")
    welcome = json.loads(wj)
    check("JSON welcome counts the cluster", welcome.get("type") == "welcome" and "users" in welcome,
          wj)
    await a.send("to json")
    m, _ = await expect(j, lambda m: "to json" in m)
    ev = json.loads(m) if m else {}
    check("a JSON client gets another node's message as an event",
          ev.get("type") == "message" and ev.get("from") == "alice" and ev.get("text") == "to json", str(m))
    # Metrics and health.
    text = nodes[0].metrics()
    check("/metrics is Prometheus text with the broker's counters",
          "wschat_broker_up 1" in text and "wschat_messages_in_total" in text and
          "wschat_broker_published_total" in text, text[:200])
    # A node killed with users online: its users leave the list within the
    # presence timeout.
    nodes[2].p.kill()
    t0 = time.monotonic()
    gone = False
    while time.monotonic() - t0 < PRESENCE_MS / 1000 + 3:
        await a.send("/users")
        m, _ = await expect(a, lambda m: m.startswith("Users: "))
        if m and "carol" not in m:
            gone = True
            break
        await asyncio.sleep(0.2)
    took = time.monotonic() - t0
    check(f"a killed node's users leave the list ({took:.1f} s, timeout {PRESENCE_MS / 1000:.0f} s)",
          gone and took < PRESENCE_MS / 1000 + 1.5, str(m))
    n5, w5 = await join(nodes[0], "newcomer")
    check("and the count", w5 == "You are connected! There are 5 users here.", w5)
    for ws in (a, b, c, d, j, n5):
        await ws.close()
    for n in nodes[:2]:
        rc, log = n.stop()
        check(f"node exits cleanly on SIGTERM (status {rc})", rc == 0, log[-500:])


async def redis_faults(r):
    nodes = start_nodes(r, 2)
    a, _ = await join(nodes[0], "ann")
    a2, _ = await join(nodes[0], "ann2")
    b, _ = await join(nodes[1], "ben")
    await drain(a)
    await drain(a2)
    await drain(b)
    # Redis killed mid-conversation.
    r.kill()
    await asyncio.sleep(0.3)
    await a.send("while redis is down")
    m, _ = await expect(a2, lambda m: "while redis is down" in m)
    check("Redis down: chat on one node goes on", m == "[ann]: while redis is down", str(m))
    m, _ = await expect(b, lambda m: "while redis is down" in m, 1)
    check("and the other node does not get it (at most once, lost)", m is None)
    check("/healthz says the broker is down", nodes[0].health() == 503)
    r.start()
    t0 = time.monotonic()
    back = all(n.wait_up(5) for n in nodes)
    took = time.monotonic() - t0
    check(f"both nodes back within 2 s of Redis answering ({took:.2f} s)", back and took < 2, str(took))
    await a.send("redis is back")
    m, _ = await expect(b, lambda m: "redis is back" in m)
    check("cross-node delivery is back", m == "[ann]: redis is back", str(m))
    await b.send("/users")
    m, _ = await expect(b, lambda m: m.startswith("Users: "))
    check("a fresh Redis learns every node's users again", m and all(x in m for x in ("ann", "ann2", "ben")),
          str(m))
    dup = [x for x in await drain(b) if "redis is back" in x]
    check("no duplicates after the outage", dup == [], str(dup))
    # The server drops every subscriber connection.
    redis_cmd(r.port, "CLIENT", "KILL", "TYPE", "pubsub")
    t0 = time.monotonic()
    delivered = False
    while time.monotonic() - t0 < 5 and not delivered:
        await a.send("after client kill")
        m, _ = await expect(b, lambda m: "after client kill" in m, 0.3)
        delivered = m is not None
    took = time.monotonic() - t0
    check(f"CLIENT KILL TYPE pubsub: subscriptions made again ({took:.2f} s)", delivered and took < 2.5)
    # A stopped node holds no one back.
    n3 = Node(r.port)
    check("a third node up", n3.wait_up())
    c, _ = await join(n3, "cat")
    await drain(a)
    await drain(b)
    nodes[1].p.send_signal(signal.SIGSTOP)
    t0 = time.monotonic()
    await a.send("while ben's node sleeps")
    m, _ = await expect(c, lambda m: "while ben's node sleeps" in m, 3)
    took = time.monotonic() - t0
    check(f"a stopped node does not hold the others back ({took * 1000:.0f} ms)", m is not None and took < 0.5)
    nodes[1].p.send_signal(signal.SIGCONT)
    m, _ = await expect(b, lambda m: "while ben's node sleeps" in m, 5)
    check("and catches up when it resumes", m is not None)
    # Fifty Redis restarts: every node survives and comes back each time.
    ok = 0
    for _ in range(50):
        r.kill()
        r.start()
        ok += all(n.wait_up(5) for n in (nodes[0], nodes[1], n3))
    check(f"fifty Redis kill/restart cycles, nodes back every time ({ok}/50)", ok == 50)
    await a.send("after fifty")
    m, _ = await expect(c, lambda m: "after fifty" in m)
    check("and still one room", m == "[ann]: after fifty", str(m))
    stats = nodes[0].metrics()
    check("the outages are counted", "wschat_broker_reconnects_total" in stats and
          "wschat_broker_reconnects_total 0" not in stats, stats[-400:])
    for ws in (a, a2, b, c):
        await ws.close()
    for n in (nodes[0], nodes[1], n3):
        rc, log = n.stop()
        check(f"node exits cleanly after the faults (status {rc}, no leak)",
              rc == 0 and "LeakSanitizer" not in log, log[-800:])
        check("outages logged once each, not per message", log.count("messages to other nodes are dropped")
              <= 60, str(log.count("dropped")))


async def absent_at_start():
    port = free_port()
    n = Node(port)
    a, wa = await join(n, "early")
    check("Redis absent at start: the node serves locally", wa.startswith("You are connected!"), wa)
    check("and says it is not connected", n.health() == 503)
    r = Redis(port).start()
    check("it joins when Redis appears", n.wait_up(5))
    n2 = Node(port)
    n2.wait_up()
    b, wb = await join(n2, "late")
    check("its users are known to the cluster", wb == "You are connected! There are 2 users here.", wb)
    await b.send("hello early")
    m, _ = await expect(a, lambda m: "hello early" in m)
    check("and they chat", m == "[late]: hello early", str(m))
    await a.close()
    await b.close()
    n.stop()
    n2.stop()
    r.kill()


async def one_port(r):
    port = free_port()
    nodes = [Node(r.port, port, ["--reuseport"]) for _ in range(3)]
    check("three nodes listen on one port", all(n.port == port for n in nodes) and
          all(n.wait_up() for n in nodes))
    def established(n):
        """Connections to the shared port that node n holds (from /proc)."""
        fd = f"/proc/{n.p.pid}/fd"
        mine = set()
        for x in os.listdir(fd):
            link = os.readlink(f"{fd}/{x}")
            if link.startswith("socket:["):
                mine.add(link[8:-1])
        count = 0
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            with open(table) as f:
                for line in f.readlines()[1:]:
                    cols = line.split()
                    if int(cols[1].rsplit(":", 1)[1], 16) == port and cols[3] == "01" and cols[9] in mine:
                        count += 1
        return count
    clients, welcomes = [], []
    for i in range(9):
        ws, w = await join(nodes[0], f"u{i}")  # nodes[0].port == the shared port
        clients.append(ws)
        welcomes.append(w)
    check("nine users through one port, counted as one room",
          welcomes == [f"You are connected! There are {i} users here." for i in range(1, 10)], str(welcomes))
    # Each node's own sockets tell where the kernel sent the connections
    # (an HTTP request to the shared port could land on any node).
    spread = [established(n) for n in nodes]
    check(f"the kernel spread them over the nodes ({spread})", sum(spread) == 9 and max(spread) < 9)
    await clients[0].send("one room")
    got = [(await expect(ws, lambda m: "one room" in m))[0] for ws in clients]
    check("a message reaches all nine", got == ["[u0]: one room"] * 9, str(got))
    for ws in clients:
        await ws.close()
    for n in nodes:
        n.stop()


async def main_command():
    """scripts/run-chat.sh --cluster 3: redis-server and three nodes on one
    port, all stopped with the script."""
    build = os.path.dirname(os.path.dirname(os.path.abspath(chat_bin)))
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "run-chat.sh")
    p = subprocess.Popen([script, "--cluster", "3", "--port", "0", "--bind", "127.0.0.1"], text=True,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                         env={**os.environ, "RUN_CHAT_BUILD": build}, start_new_session=True)
    procs.append(p)
    port = None
    for _ in range(10):
        line = p.stdout.readline()
        if line.startswith("Responding at "):
            port = int(line.strip().rsplit(":", 1)[1])
            break
    check("run-chat.sh --cluster 3 prints the address", port is not None)
    if port is None:
        return
    class Shared:  # the one port all three listen on
        pass
    node = Shared()
    node.port = port
    welcomes = []
    clients = []
    deadline = time.time() + 10
    while time.time() < deadline:  # the nodes connect to Redis in their own time
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            time.sleep(0.1)
    for i in range(3):
        ws, w = await join(node, f"m{i}")
        clients.append(ws)
        welcomes.append(w)
    check("and its nodes are one room", welcomes == [f"You are connected! There are {i} users here."
                                                    for i in (1, 2, 3)], str(welcomes))
    for ws in clients:
        await ws.close()
    os.killpg(p.pid, signal.SIGTERM)
    p.wait(timeout=10)
    deadline = time.time() + 10  # the nodes finish their sessions first
    while time.time() < deadline:
        left = subprocess.run(["pgrep", "-s", str(p.pid)], capture_output=True, text=True).stdout.split()
        if not left:
            break
        time.sleep(0.1)
    check("stopping the script stops redis-server and the nodes", left == [], str(left))


async def main():
    await main_command()
    r = Redis(free_port()).start()
    await one_room(r)
    await one_port(r)
    await redis_faults(r)
    r.kill()
    await absent_at_start()


def cleanup():
    for p in procs:
        if p.poll() is None:
            try:
                p.send_signal(signal.SIGCONT)
            except OSError:
                pass
            p.kill()
            p.wait(timeout=10)
    shutil.rmtree(tmp, ignore_errors=True)


run(main, 280, cleanup)
