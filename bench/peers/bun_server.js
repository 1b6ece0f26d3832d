// SPDX-License-Identifier: MIT
// Peer: the same echo ("/") and chat ("/chat") behaviour on Bun.
// TLS_CERT and TLS_KEY in the environment: over TLS (Bun.serve's tls).
let lastId = 0;
let users = 0;
const {TLS_CERT, TLS_KEY} = process.env;
const server = Bun.serve({
    port : 0,
    hostname : "127.0.0.1",
    ...(TLS_CERT ? {tls : {cert : Bun.file(TLS_CERT), key : Bun.file(TLS_KEY)}} : {}),
    fetch(req, srv) {
        const chat = new URL(req.url).pathname.startsWith("/chat");
        if (srv.upgrade(req, {data : {chat, name : chat ? `user${lastId++}` : ""}}))
            return;
        return new Response("upgrade required", {status : 426});
    },
    websocket : {
        perMessageDeflate : false,
        open(ws) {
            if (!ws.data.chat)
                return;
            ws.subscribe("chat");
            users++;
            ws.send(`You are connected! There are ${users} users here.`);
        },
        message(ws, msg) {
            if (!ws.data.chat)
                return ws.send(msg);
            server.publish("chat",
                           `[${ws.data.name}]: ${msg}`); // encoded once, the sender included
        },
        close(ws) {
            if (ws.data.chat)
                users--;
        },
    },
});
console.log(`ready ${server.port}`);
