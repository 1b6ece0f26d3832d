// SPDX-License-Identifier: MIT
// npm ws's client over wss:// against a libwschat echo: echoes of every size
// class and permessage-deflate, trusting the test's CA.
// Usage: node tls_node_client.mjs PORT CA_FILE
import { readFileSync } from "node:fs";

const skip = (why) => { console.log(`SKIP: ${why}`); process.exit(77); };
const { default: WebSocket } = await import("ws").catch(() =>
  skip("npm packages missing: run npm ci in tests/integration, or scripts/test.sh"));

const [port, caFile] = process.argv.slice(2);
const ws = new WebSocket(`wss://localhost:${port}/`, { ca: readFileSync(caFile), perMessageDeflate: true,
  maxPayload: 64 << 20 });
const timer = setTimeout(() => { console.log("timeout"); process.exit(1); }, 30000);
ws.on("error", (e) => { console.log(`error: ${e.message}`); process.exit(1); });
ws.on("open", async () => {
  const next = () => new Promise((res) => ws.once("message", (d, bin) => res([d, bin])));
  let ok = 0;
  const sizes = [0, 1, 16384, 16385, 65536, 1 << 20, 3 << 20];
  for (const n of sizes) {
    const buf = Buffer.alloc(n, n % 251);
    ws.send(buf);
    const [got, bin] = await next();
    if (bin && Buffer.compare(got, buf) === 0) ok++;
  }
  ws.send("text over wss");
  const [t] = await next();
  if (t.toString() === "text over wss") ok++;
  const deflate = ws.extensions.includes("permessage-deflate");
  console.log(`${ok} of ${sizes.length + 1} echoes, deflate ${deflate}`);
  clearTimeout(timer);
  ws.close(1000);
  process.exit(ok === sizes.length + 1 && deflate ? 0 : 1);
});
