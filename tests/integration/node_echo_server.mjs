// SPDX-License-Identifier: MIT
// An echo server on npm's ws, for testing libwschat's client against a
// third-party server: echoes every message as it came (text or binary);
// /close4002 closes at once with 4002 "server bye". Prints "listening on
// PORT". Usage: node node_echo_server.mjs [--no-deflate]
const skip = (why) => { console.log(`SKIP: ${why}`); process.exit(77); };
const { WebSocketServer } = await import("ws").catch(() =>
  skip("npm packages missing: run npm ci in tests/integration, or scripts/test.sh"));

const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, maxPayload: 1 << 22,
  perMessageDeflate: !process.argv.includes("--no-deflate") });
wss.on("connection", (ws, req) => {
  if (req.url.endsWith("/close4002")) { ws.close(4002, "server bye"); return; }
  ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }));
});
wss.on("listening", () => console.log(`listening on ${wss.address().port}`));
