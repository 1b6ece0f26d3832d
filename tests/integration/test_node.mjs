// SPDX-License-Identifier: MIT
// examples/echo and examples/chat with Node's ws client (npm "ws").
// Usage: node test_node.mjs ECHO_BIN CHAT_BIN [--threads N]
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";

// A missing tool skips the test (meson's exit code 77) with one line saying
// what to install; scripts/test.sh installs everything and counts a skip as
// a failure.
const skip = (why) => { console.log(`SKIP: ${why}`); process.exit(77); };
const { default: WebSocket } = await import("ws").catch(() =>
  skip("npm packages missing: run npm ci in tests/integration, or scripts/test.sh"));

const [echoBin, chatBin] = process.argv.slice(2, 4);
const threads = process.argv.includes("--threads") ? process.argv[process.argv.indexOf("--threads") + 1] : "1";
let passed = 0, failed = 0;
const check = (name, ok, detail = "") => {
  if (ok) { passed++; console.log(`ok: ${name}`); } else { failed++; console.log(`FAILED: ${name} ${detail}`); }
};

function start(bin, args) {
  return new Promise((resolve, reject) => {
    const proc = spawn(bin, ["--port", "0", "--bind", "127.0.0.1", ...args], { stdio: ["ignore", "pipe", "pipe"] });
    const timer = setTimeout(() => reject(new Error(`${bin}: no port announced`)), 10000);
    createInterface({ input: proc.stdout }).once("line", (line) => {
      clearTimeout(timer);
      const m = line.match(/:(\d+)\s*$/);
      m ? resolve({ proc, port: Number(m[1]) }) : reject(new Error(line));
    });
    proc.once("exit", () => clearTimeout(timer));
  });
}

// A small queue over a ws client: next() resolves with the next message.
function client(url, opts = {}) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, opts.protocols, { perMessageDeflate: opts.deflate ?? false, maxPayload: 64 << 20 });
    const queue = [], waiters = [];
    ws.on("message", (data, isBinary) => {
      const v = isBinary ? data : data.toString();
      waiters.length ? waiters.shift()(v) : queue.push(v);
    });
    ws.next = (ms = 10000) => queue.length ? Promise.resolve(queue.shift())
      : new Promise((res, rej) => { const t = setTimeout(() => rej(new Error("timeout")), ms); waiters.push((v) => { clearTimeout(t); res(v); }); });
    ws.closed = new Promise((res) => ws.on("close", (code, reason) => res({ code, reason: reason.toString() })));
    ws.once("open", () => resolve(ws));
    ws.once("error", reject);
  });
}

async function echoTests(style) {
  const { proc, port } = await start(echoBin, ["--style", style, "--threads", threads]);
  try {
    const url = `ws://127.0.0.1:${port}`;
    const e = await client(url + "/echo");
    check(`${style}: /echo greets`, (await e.next()) === "Please enter your name");
    e.send("Node");
    check(`${style}: /echo Hi, X!`, (await e.next()) === "Hi, Node!");
    e.send("Bye");
    const c = await e.closed;
    check(`${style}: bye closes 1000 with reason`, c.code === 1000 && c.reason === "Client said BYE", JSON.stringify(c));
    const p = await client(url + "/");
    for (const size of [0, 125, 126, 65536, 3 << 20]) {
      const buf = Buffer.alloc(size, 7);
      p.send(buf);
      const got = await p.next();
      check(`${style}: / echoes ${size} bytes`, Buffer.isBuffer(got) && got.equals(buf));
    }
    p.send("texte é");
    check(`${style}: / echoes text`, (await p.next()) === "texte é");
    p.close(1000);
    check(`${style}: close handshake`, (await p.closed).code === 1000);
    // Compression, as Node's ws does it with perMessageDeflate: true.
    const z = await client(url + "/", { deflate: true });
    check(`${style}: ws negotiated permessage-deflate`, z.extensions.includes("permessage-deflate"), z.extensions);
    for (const size of [0, 100, 70000, 4 << 20]) {
      const text = "compress me ".repeat(Math.ceil(size / 12)).slice(0, size);
      z.send(text);
      check(`${style}: compressed echo of ${size} chars`, (await z.next()) === text);
      const bin = Buffer.alloc(size, 3);
      z.send(bin);
      const got = await z.next();
      check(`${style}: compressed binary echo of ${size} bytes`, Buffer.isBuffer(got) && got.equals(bin));
    }
    z.close();
    const ch = await client(url + "/chat");
    check(`${style}: /chat greets`, (await ch.next()) === "You are connected!");
    ch.send("yo");
    check(`${style}: /chat You said: X`, (await ch.next()) === "You said: yo");
    ch.close();
  } finally {
    proc.kill("SIGKILL");
  }
}

async function chatTests() {
  const { proc, port } = await start(chatBin, ["--threads", threads]);
  try {
    const url = `ws://127.0.0.1:${port}/chat`;
    const a = await client(url);
    check("chat: first user", (await a.next()) === "You are connected! There are 1 users here.");
    const b = await client(url + "?name=nodejs", { protocols: ["chat.json"] });
    check("chat: json subprotocol", b.protocol === "chat.json");
    const w = JSON.parse(await b.next());
    check("chat: welcome", w.type === "welcome" && w.name === "nodejs" && w.count === 2);
    a.send("hi all");
    check("chat: text broadcast", (await a.next()) === "[user0]: hi all");
    const m = JSON.parse(await b.next());
    check("chat: JSON broadcast", m.type === "message" && m.from === "user0" && m.text === "hi all");
    b.send(JSON.stringify({ type: "whisper", to: "user0", text: "secret" }));
    check("chat: whisper", (await a.next()) === "[nodejs -> user0]: secret");
    a.close(); b.close();
  } finally {
    proc.kill("SIGKILL");
  }
}

try {
  await echoTests("handler");
  await echoTests("events");
  await chatTests();
} catch (e) {
  check("no exception", false, String(e && e.stack || e));
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed || !passed ? 1 : 0);
