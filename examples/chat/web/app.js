// SPDX-License-Identifier: MIT
// libwschat chat client: JSON mode (subprotocol "chat.json"), presence,
// whispers by clicking a name, reconnect with exponential backoff.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { ws: null, me: null, users: [], target: null, wanted: "", retry: 0, timer: null };

function setStatus(online, text) {
  const s = $("status");
  s.textContent = text;
  s.className = "status " + (online ? "online" : "offline");
}

function add(kind, parts) {
  const li = document.createElement("li");
  li.className = kind;
  for (const [cls, text] of parts) {
    const span = document.createElement("span");
    if (cls) span.className = cls;
    span.textContent = text; // never innerHTML: names and texts are untrusted
    li.appendChild(span);
  }
  const log = $("log");
  log.appendChild(li);
  log.scrollTop = log.scrollHeight;
  return li;
}

function renderUsers() {
  const ul = $("users");
  ul.textContent = "";
  for (const name of state.users) {
    const li = document.createElement("li");
    li.textContent = name;
    li.dataset.name = name;
    if (name === state.me) li.className = "me";
    else li.addEventListener("click", () => setTarget(name));
    ul.appendChild(li);
  }
  $("count").textContent = String(state.users.length);
}

function setTarget(name) {
  state.target = name;
  const t = $("target");
  t.hidden = !name;
  t.textContent = name ? "to " + name + " ✕" : "";
  $("text").placeholder = name ? "Whisper to " + name + "…" : "Say something…";
  $("text").focus();
}

const handlers = {
  welcome(ev) {
    state.me = ev.name;
    state.wanted = ev.name; // keep our name across reconnects
    state.users = ev.users;
    renderUsers();
    add("system", [[null, ev.text + " You are " + ev.name + "."]]);
  },
  message(ev) {
    add(ev.from === state.me ? "mine" : "msg", [["from", ev.from], [null, ev.text]]);
  },
  whisper(ev) {
    const li = add("whisper" + (ev.from === state.me ? " mine" : ""),
      [["from", ev.from], ["to", "→ " + ev.to], [null, ev.text]]);
    li.title = "whisper";
  },
  join(ev) {
    if (!state.users.includes(ev.name)) state.users.push(ev.name);
    renderUsers();
    add("system", [[null, ev.name + " joined"]]);
  },
  leave(ev) {
    state.users = state.users.filter((n) => n !== ev.name);
    if (state.target === ev.name) setTarget(null);
    renderUsers();
    add("system", [[null, ev.name + " left"]]);
  },
  rename(ev) {
    state.users = state.users.map((n) => (n === ev.from ? ev.to : n));
    if (state.me === ev.from) { state.me = ev.to; state.wanted = ev.to; }
    if (state.target === ev.from) setTarget(ev.to);
    renderUsers();
    add("system", [[null, ev.from + " is now " + ev.to]]);
  },
  users(ev) { state.users = ev.users; renderUsers(); },
  error(ev) { add("error", [[null, ev.message]]); },
};

function connect() {
  clearTimeout(state.timer);
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  const q = state.wanted ? "?name=" + encodeURIComponent(state.wanted) : "";
  const ws = new WebSocket(proto + "//" + location.host + "/chat" + q, "chat.json");
  state.ws = ws;
  setStatus(false, "connecting…");
  ws.onopen = () => { state.retry = 0; setStatus(true, "online"); };
  ws.onmessage = (e) => {
    let ev;
    try { ev = JSON.parse(e.data); } catch { return; }
    const h = handlers[ev.type];
    if (h) h(ev);
  };
  ws.onclose = () => {
    if (state.ws !== ws) return;
    // Exponential backoff, capped, with jitter so a restarted server is not
    // hit by every tab at the same instant.
    const delay = Math.min(30000, 1000 * 2 ** state.retry) * (0.75 + Math.random() / 2);
    state.retry = Math.min(state.retry + 1, 5);
    setStatus(false, "reconnecting in " + Math.round(delay / 1000) + "s");
    state.timer = setTimeout(connect, delay);
  };
}

$("join").addEventListener("submit", (e) => {
  e.preventDefault();
  state.wanted = $("name").value.trim();
  $("join").hidden = true;
  $("room").hidden = false;
  connect();
  $("text").focus();
});

// Every text command the terminal chat knows, in one table: what the page
// sends for it, and what /help prints. A line starting with "/" that is not
// here goes to the server as it is, so a command the server learns later
// still works (the server parses the text of a "message" event too).
const COMMANDS = [
  { name: "/whisper", usage: "/whisper NAME text", help: "a private message to NAME only",
    build: (args) => {
      const m = args.match(/^(\S+)\s+([\s\S]*\S[\s\S]*)$/);
      return m ? { type: "whisper", to: m[1], text: m[2] } : null;
    } },
  { name: "/name", usage: "/name NEW", help: "change your name",
    build: (args) => (args.trim() ? { type: "rename", name: args.trim() } : null) },
  { name: "/users", usage: "/users", help: "who is online", build: () => ({ type: "users" }) },
  { name: "/help", usage: "/help", help: "this list", local: true },
];

function showHelp() {
  add("system help", [[null, "Commands:"]]);
  for (const c of COMMANDS) add("system help", [["usage", c.usage], [null, " — " + c.help]]);
  add("system help", [[null, "Click a name to whisper to it."]]);
}

// The request for one typed line, or a string saying what was wrong.
function requestFor(text) {
  const m = text.match(/^(\/\S+)(?:\s+([\s\S]*))?$/);
  const cmd = m && COMMANDS.find((c) => c.name === m[1].toLowerCase());
  if (!cmd) return state.target ? { type: "whisper", to: state.target, text } : { type: "message", text };
  if (cmd.local) { showHelp(); return null; }
  return cmd.build(m[2] || "") || "usage: " + cmd.usage;
}

$("send").addEventListener("submit", (e) => {
  e.preventDefault();
  const input = $("text");
  const text = input.value;
  if (!text.trim() || !state.ws || state.ws.readyState !== WebSocket.OPEN) return;
  const req = requestFor(text);
  if (typeof req === "string") add("error", [[null, req]]);
  else if (req) state.ws.send(JSON.stringify(req));
  input.value = "";
});

$("target").addEventListener("click", () => setTarget(null));
