// SPDX-License-Identifier: MIT
// Peer: the same echo ("/") and chat ("/chat") behaviour on Node's ws.
// TLS_CERT and TLS_KEY in the environment: over https (wss://).
import { WebSocketServer } from "ws";
import { readFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";

const { TLS_CERT, TLS_KEY } = process.env;
const server = TLS_CERT
  ? https.createServer({ cert: readFileSync(TLS_CERT), key: readFileSync(TLS_KEY) })
  : http.createServer();
const wss = new WebSocketServer({ server, perMessageDeflate: false });
const room = new Set();
let lastId = 0;
wss.on("connection", (ws, req) => {
  if (req.url.startsWith("/chat")) {
    const name = `user${lastId++}`;
    room.add(ws);
    ws.send(`You are connected! There are ${room.size} users here.`);
    ws.on("message", (data, isBinary) => {
      if (isBinary) return;
      const line = `[${name}]: ${data}`;
      for (const peer of room) peer.send(line);
    });
    ws.on("close", () => room.delete(ws));
  } else {
    ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }));
  }
});
server.listen(0, "127.0.0.1", () => console.log(`ready ${server.address().port}`));
