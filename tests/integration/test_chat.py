#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""examples/chat over loopback with Python's websockets: Ktor's transcript
word for word, then names, whispers, /users, JSON mode, malformed input,
the served web client, the Origin hook, and unique names across threads."""
import argparse
import asyncio
import json
import urllib.error
import urllib.request

from harness import bounded, check, need, run, server

websockets = need("websockets", "python3-websockets")

ap = argparse.ArgumentParser()
ap.add_argument("binary")
ap.add_argument("--threads", default="1")
ap.add_argument("--backend", default="epoll")
opts = ap.parse_args()


async def recv(ws):
    return await bounded(ws.recv(), 10)


async def ktor_transcript(url):
    a = await websockets.connect(url + "/chat")
    check("first user: count 1", await recv(a) == "You are connected! There are 1 users here.")
    b = await websockets.connect(url + "/chat")
    check("second user: count 2", await recv(b) == "You are connected! There are 2 users here.")
    await a.send("Hello")
    check("sender sees its own line", await recv(a) == "[user0]: Hello")
    check("others see it", await recv(b) == "[user0]: Hello")
    await b.send("Hi there")
    check("names count up", await recv(a) == "[user1]: Hi there")
    check("user1 sees its own line", await recv(b) == "[user1]: Hi there")
    await b.close()
    c = await websockets.connect(url + "/chat")
    check("a leaver frees its place", await recv(c) == "You are connected! There are 2 users here.")
    await c.send("x")
    check("no name is handed out twice", await recv(c) == "[user2]: x")
    await recv(a)
    await a.close()
    await c.close()


async def commands(url):
    alice = await websockets.connect(url + "/chat?name=alice")
    await recv(alice)
    bob = await websockets.connect(url + "/chat?name=bob")
    await recv(bob)
    await alice.send("/users")
    check("/users lists who is here", await recv(alice) == "Users: alice, bob")
    await alice.send("/whisper bob psst")
    check("whisper reaches its target", await recv(bob) == "[alice -> bob]: psst")
    check("whisperer gets a copy", await recv(alice) == "[alice -> bob]: psst")
    await alice.send("/whisper nobody hi")
    check("whisper to nobody: error to sender", await recv(alice) == "error: no user named 'nobody'")
    await bob.send("/name robert")
    check("rename announced", await recv(alice) == "* bob is now known as robert")
    check("renamer sees it too", await recv(bob) == "* bob is now known as robert")
    await bob.send("/name alice")
    check("taken name refused", await recv(bob) == "error: that name is taken")
    await bob.send("/name bad name!")
    check("invalid name refused", (await recv(bob)).startswith("error: names are 1-32"))
    await bob.send("/dance")
    check("unknown command refused", await recv(bob) == "error: unknown command /dance")
    await bob.send("after")
    check("errors went to the sender only", await recv(alice) == "[robert]: after")
    await recv(bob)
    dup = await websockets.connect(url + "/chat?name=alice")
    first = await recv(dup)
    second = await recv(dup)
    check("taken ?name gets a generated one",
          first.startswith("You are connected!") and second.startswith("error: that name is taken; you are user"),
          second)
    for w in (alice, bob, dup):
        await w.close()


async def json_mode(url):
    j = await websockets.connect(url + "/chat?name=jay", subprotocols=["chat.json"])
    check("chat.json subprotocol chosen", j.subprotocol == "chat.json")
    w = json.loads(await recv(j))
    check("welcome event", w["type"] == "welcome" and w["name"] == "jay" and "jay" in w["users"]
          and w["text"] == f"You are connected! There are {w['count']} users here.", str(w))
    t = await websockets.connect(url + "/chat?name=tex")
    await recv(t)
    ev = json.loads(await recv(j))
    check("join event", ev == {"type": "join", "name": "tex"}, str(ev))
    await t.send("from text")
    ev = json.loads(await recv(j))
    check("text user's message as JSON", ev == {"type": "message", "from": "tex", "text": "from text"})
    check("text user still gets text", await recv(t) == "[tex]: from text")
    await j.send(json.dumps({"type": "message", "text": "hé"}))
    check("JSON message to text users", await recv(t) == "[jay]: hé")
    check("JSON echo to JSON users", json.loads(await recv(j)) == {"type": "message", "from": "jay", "text": "hé"})
    await j.send(json.dumps({"type": "whisper", "to": "tex", "text": "sh"}))
    check("JSON whisper to a text user", await recv(t) == "[jay -> tex]: sh")
    check("JSON whisper copy", json.loads(await recv(j)) == {"type": "whisper", "from": "jay", "to": "tex", "text": "sh"})
    await j.send("{not json")
    ev = json.loads(await recv(j))
    check("malformed JSON: error event", ev["type"] == "error" and "malformed" in ev["message"])
    await j.send(json.dumps([1, 2]))
    check("non-object JSON: error event", json.loads(await recv(j))["type"] == "error")
    await j.send(json.dumps({"type": "users"}))
    ev = json.loads(await recv(j))
    check("users event", ev["type"] == "users" and "tex" in ev["users"] and "jay" in ev["users"])
    await j.send(json.dumps({"type": "rename", "name": "jules"}))
    check("rename event", json.loads(await recv(j)) == {"type": "rename", "from": "jay", "to": "jules"})
    await recv(t)
    await t.close()
    ev = json.loads(await recv(j))
    check("leave event", ev == {"type": "leave", "name": "tex"}, str(ev))
    q = await websockets.connect(url + "/chat?format=json&name=qq")
    check("?format=json selects JSON", json.loads(await recv(q))["type"] == "welcome")
    await q.close()
    await j.close()


def http_get(url, headers=None):
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.headers.get("Content-Type"), r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type"), e.read()


async def web(port):
    base = f"http://127.0.0.1:{port}"
    loop = asyncio.get_running_loop()
    st, ct, body = await loop.run_in_executor(None, http_get, base + "/")
    check("GET / serves the web client", st == 200 and ct.startswith("text/html") and b"app.js" in body)
    st, ct, body = await loop.run_in_executor(None, http_get, base + "/app.js")
    check("GET /app.js is JavaScript", st == 200 and ct.startswith("text/javascript") and b"WebSocket" in body)
    st, _, _ = await loop.run_in_executor(None, http_get, base + "/style.css")
    check("GET /style.css", st == 200)
    st, _, _ = await loop.run_in_executor(None, http_get, base + "/nope")
    check("unknown path: 404", st == 404)
    st, _, _ = await loop.run_in_executor(None, http_get, base + "/chat")
    check("plain GET on /chat: 426", st == 426)


async def unique_names(url, n=40):
    # max_queue=None: each client leaves up to n broadcasts unread, and a
    # bounded client queue would stop it reading our close reply.
    conns = await asyncio.gather(*(websockets.connect(url + "/chat", max_queue=None)
                                   for _ in range(n)))
    for c in conns:
        await recv(c)
    names = []
    for i, c in enumerate(conns):
        await c.send(f"who{i}")
        # Everyone receives every line; find our own.
        while True:
            line = await recv(c)
            if line.endswith(f": who{i}"):
                names.append(line[1:line.index("]")])
                break
    check(f"{n} concurrent users get {n} distinct names", len(set(names)) == n, str(names))
    for c in conns:
        await c.close()


async def origin_hook():
    with server(opts.binary, "--origin", "http://good.example") as (_, port):
        url = f"ws://127.0.0.1:{port}/chat"
        ok = await websockets.connect(url, origin="http://good.example")
        check("allowed Origin connects", (await recv(ok)).startswith("You are connected"))
        await ok.close()
        try:
            await websockets.connect(url, origin="http://evil.example")
            check("foreign Origin refused", False)
        except websockets.InvalidStatusCode as e:
            check("foreign Origin refused with 403", e.status_code == 403)


async def main():
    with server(opts.binary, "--threads", opts.threads, "--backend", opts.backend) as (_, port):
        url = f"ws://127.0.0.1:{port}"
        await ktor_transcript(url)
        await commands(url)
        await json_mode(url)
        await web(port)
        await unique_names(url)
    await origin_hook()


run(main)
