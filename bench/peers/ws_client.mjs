// SPDX-License-Identifier: MIT
// npm ws's client on the client row of bench/run.py: CONNS connections, one
// SIZE-byte text message in flight on each, MSGS round trips in all.
// Usage: node ws_client.mjs PORT CONNS MSGS SIZE
import WebSocket from "ws";

const [port, conns, total, size] = process.argv.slice(2).map(Number);
const payload = "x".repeat(size);
let sent = 0, received = 0, errors = 0;
for (let i = 0; i < conns; i++) {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/`, { perMessageDeflate: false });
  const next = () => { if (sent < total) { sent++; ws.send(payload); } };
  ws.on("open", next);
  ws.on("message", (data) => {
    if (data.length !== size) errors++;
    if (++received === total) { console.log(`round_trips=${received} errors=${errors}`); process.exit(errors ? 1 : 0); }
    next();
  });
  ws.on("error", (e) => { console.error(String(e)); process.exit(1); });
}
