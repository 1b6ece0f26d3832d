// SPDX-License-Identifier: MIT
// The chat web client in real headless Chromium (Debian's /usr/bin/chromium,
// driven by playwright-core): two pages join under different names, exchange
// a message and a whisper, and each sees exactly what it should.
// Also: Chromium's own permessage-deflate against examples/echo, and the
// chat over https:// and wss:// with a self-signed certificate made for the
// run, which one Chromium is told to trust (by its key) and another is not.
// Usage: node test_chat_browser.mjs CHAT_BIN ARTIFACT_DIR [ECHO_BIN]
import { spawn, spawnSync } from "node:child_process";
import { createHash, X509Certificate } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { createInterface } from "node:readline";

// A missing tool skips the test (exit 77) with one line saying what to
// install; scripts/test.sh installs everything and counts a skip as a failure.
const skip = (why) => { console.log(`SKIP: ${why}`); process.exit(77); };
if (!existsSync("/usr/bin/chromium")) skip("Chromium missing: apt-get install chromium, or run scripts/test.sh");
if (spawnSync("openssl", ["version"]).status !== 0) skip("openssl missing: apt-get install openssl, or run scripts/test.sh");
const { chromium } = await import("playwright-core").catch(() =>
  skip("npm packages missing: run npm ci in tests/browser, or scripts/test.sh"));

const [chatBin, artifacts, echoBin] = process.argv.slice(2, 5);
mkdirSync(artifacts, { recursive: true });
let passed = 0, failed = 0;
const check = (name, ok, detail = "") => {
  if (ok) { passed++; console.log(`ok: ${name}`); } else { failed++; console.log(`FAILED: ${name} ${detail}`); }
};

function start(bin = chatBin, extra = []) {
  return new Promise((resolve, reject) => {
    const proc = spawn(bin, ["--port", "0", "--bind", "127.0.0.1", ...extra], { stdio: ["ignore", "pipe", "inherit"] });
    const t = setTimeout(() => reject(new Error(`${bin} did not start`)), 10000);
    createInterface({ input: proc.stdout }).once("line", (line) => {
      clearTimeout(t);
      const m = line.match(/ at (?:https?|wss?):\/\/\S+:(\d+)$/);
      m ? resolve({ proc, url: `http://127.0.0.1:${m[1]}/`, port: Number(m[1]) }) : reject(new Error(line));
    });
  });
}

// Chromium negotiates permessage-deflate by itself: echo messages of every
// size through examples/echo and compare.
async function compressedEcho(browser) {
  const echo = await start(echoBin);
  try {
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${echo.port}/nothing-here`).catch(() => {});
    const result = await page.evaluate(async (port) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
      ws.binaryType = "arraybuffer";
      await new Promise((res, rej) => { ws.onopen = res; ws.onerror = rej; });
      const next = () => new Promise((res) => { ws.onmessage = (e) => res(e.data); });
      const out = { ext: ws.extensions, ok: [] };
      for (const size of [0, 10, 1000, 200000, 3 << 20]) {
        const text = "chromium ".repeat(Math.ceil(size / 9)).slice(0, size);
        ws.send(text);
        out.ok.push([`text ${size}`, (await next()) === text]);
        const bin = new Uint8Array(size).map((_, i) => i % 7);
        ws.send(bin);
        const got = new Uint8Array(await next());
        out.ok.push([`binary ${size}`, got.length === size && got.every((v, i) => v === bin[i])]);
      }
      ws.close();
      return out;
    }, echo.port);
    check("Chromium negotiated permessage-deflate", result.ext.startsWith("permessage-deflate"), result.ext);
    for (const [name, ok] of result.ok) check(`Chromium compressed echo: ${name}`, ok);
    await page.close();
  } finally {
    echo.proc.kill("SIGKILL");
  }
}

// What a page's message log shows, one string per line.
const logOf = (page) => page.$$eval("#log li", (lis) => lis.map((li) => `${li.className}|${li.textContent}`));
const usersOf = (page) => page.$$eval("#users li", (lis) => lis.map((li) => li.dataset.name));

async function join(browser, url, name, viewport) {
  const page = await browser.newPage({ viewport });
  await page.goto(url);
  // Only the join card before a name is picked: no user list, no room.
  check(`${name}: before joining only the join card shows`,
    await page.isVisible("#join") && !(await page.isVisible("#room")) && !(await page.isVisible("#users")) &&
    !(await page.isVisible("#count")));
  await page.fill("#name", name);
  await page.click("#join button");
  await page.waitForSelector("#log li.system");
  check(`${name}: after joining the room and user list show`,
    await page.isVisible("#room") && await page.isVisible("#count") && !(await page.isVisible("#join")));
  return page;
}

// Waits until a page's log has a line containing `text`.
const waitLine = (page, text, timeout = 10000) =>
  page.waitForFunction((t) => [...document.querySelectorAll("#log li")].some((li) => li.textContent.includes(t)),
    text, { timeout });
const hasLine = async (page, text) => (await logOf(page)).some((l) => l.includes(text));

// Whispers typed as commands, by the page and by a client that sends the
// command as plain message text: bob gets them, carol never does.
async function typedWhispers(browser, url, alice, bob) {
  const carol = await join(browser, url, "carol", { width: 800, height: 600 });
  await alice.waitForFunction(() => document.querySelectorAll("#users li").length === 3);
  await alice.fill("#text", "/whisper bob psst, typed");
  await alice.press("#text", "Enter");
  await waitLine(bob, "psst, typed");
  check("/whisper typed in the page reaches bob as a whisper",
    (await logOf(bob)).includes("whisper|alice→ bobpsst, typed"));
  check("alice sees her copy of the typed whisper", await hasLine(alice, "psst, typed"));
  // An old or third-party client: the command inside a plain "message".
  await alice.evaluate(async (port) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/chat?name=mallory`, "chat.json");
    await new Promise((res) => { ws.onopen = res; });
    ws.send(JSON.stringify({ type: "message", text: "/whisper bob raw psst" }));
    ws.send(JSON.stringify({ type: "message", text: "mallory is done" }));
    await new Promise((res) => setTimeout(res, 300));
    ws.close();
  }, new URL(url).port);
  await waitLine(carol, "mallory is done");
  await waitLine(bob, "raw psst");
  check("a command in a JSON message is a whisper to bob", (await logOf(bob)).includes("whisper|mallory→ bobraw psst"));
  // alice's next broadcast reaches carol after anything alice sent before it.
  await alice.fill("#text", "everyone hears this");
  await alice.press("#text", "Enter");
  await waitLine(carol, "everyone hears this");
  check("carol never sees a whisper to bob", !(await hasLine(carol, "psst")), JSON.stringify(await logOf(carol)));
  // /help lists the commands from the page's table; a bad one says its usage.
  await carol.fill("#text", "/help");
  await carol.press("#text", "Enter");
  await waitLine(carol, "/whisper NAME text");
  check("/help lists the commands", await hasLine(carol, "/name NEW") && await hasLine(carol, "/users"));
  await carol.fill("#text", "/whisper bob");
  await carol.press("#text", "Enter");
  await waitLine(carol, "usage: /whisper NAME text");
  check("an incomplete /whisper is refused with its usage, not sent", !(await hasLine(bob, "carol→")));
  await carol.close();
}

const launchArgs = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
  "--disable-component-update", "--disable-sync", "--no-first-run"];

// The chat over https:// and wss://: a self-signed certificate for
// localhost made now (openssl CLI), a Chromium that trusts exactly its key
// (--ignore-certificate-errors-spki-list, as a developer would) chats in two
// pages; a Chromium told nothing refuses the page.
async function httpsChat() {
  const dir = mkdtempSync(`${tmpdir()}/wschat-browser-tls-`);
  const made = spawnSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
    "-nodes", "-keyout", `${dir}/key.pem`, "-out", `${dir}/cert.pem`, "-days", "2", "-subj", "/CN=localhost",
    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"]);
  check("a self-signed certificate made for the run", made.status === 0, String(made.stderr));
  const spki = createHash("sha256").update(new X509Certificate(readFileSync(`${dir}/cert.pem`)).publicKey
    .export({ type: "spki", format: "der" })).digest("base64");
  const srv = await start(chatBin, ["--tls-cert", `${dir}/cert.pem`, "--tls-key", `${dir}/key.pem`]);
  const trusting = await chromium.launch({ executablePath: "/usr/bin/chromium",
    args: [...launchArgs, `--ignore-certificate-errors-spki-list=${spki}`] });
  const wary = await chromium.launch({ executablePath: "/usr/bin/chromium", args: launchArgs });
  try {
    const url = `https://localhost:${srv.port}/`;
    const refused = await (await wary.newPage()).goto(url).then(() => "", (e) => String(e));
    check("a Chromium not told to trust the certificate refuses the page", /ERR_CERT/.test(refused), refused);
    const ann = await join(trusting, url, "ann", { width: 1000, height: 700 });
    const ben = await join(trusting, url, "ben", { width: 390, height: 760 });
    check("the page came over https", (await ann.evaluate(() => location.protocol)) === "https:");
    await ann.waitForFunction(() => document.querySelectorAll("#users li").length === 2);
    await ann.fill("#text", "hello over wss");
    await ann.press("#text", "Enter");
    await waitLine(ben, "hello over wss");
    check("over wss:// ben sees ann's message", (await logOf(ben)).includes("msg|annhello over wss"));
    await ben.click('#users li[data-name="ann"]');
    await ben.fill("#text", "secret over tls");
    await ben.press("#text", "Enter");
    await waitLine(ann, "secret over tls");
    check("over wss:// ann gets ben's whisper", (await logOf(ann)).includes("whisper|ben→ annsecret over tls"));
    await ann.screenshot({ path: `${artifacts}/chat-ann-https.png` });
  } finally {
    await trusting.close();
    await wary.close();
    srv.proc.kill("SIGKILL");
  }
}

const { proc, url } = await start();
const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: launchArgs });
try {
  if (echoBin) await compressedEcho(browser);
  await httpsChat();
  const alice = await join(browser, url, "alice", { width: 1100, height: 700 });
  check("alice sees her welcome", (await logOf(alice))[0] === "system|You are connected! There are 1 users here. You are alice.");
  const bob = await join(browser, url, "bob", { width: 390, height: 760 }); // a phone
  check("bob sees his welcome", (await logOf(bob))[0] === "system|You are connected! There are 2 users here. You are bob.");
  await alice.waitForFunction(() => document.querySelectorAll("#users li").length === 2);
  check("alice sees bob join", (await logOf(alice)).includes("system|bob joined"));
  check("both are listed for alice", JSON.stringify(await usersOf(alice)) === '["alice","bob"]');

  await alice.fill("#text", "hello bob");
  await alice.press("#text", "Enter");
  await bob.waitForSelector("#log li.msg");
  await alice.waitForSelector("#log li.mine");
  check("bob sees alice's message", (await logOf(bob)).includes("msg|alicehello bob"));
  check("alice sees her own message", (await logOf(alice)).includes("mine|alicehello bob"));

  await bob.click('#users li[data-name="alice"]'); // whisper by clicking a name
  check("clicking a name targets a whisper", (await bob.textContent("#target")).startsWith("to alice"));
  await bob.fill("#text", "just for you");
  await bob.press("#text", "Enter");
  await alice.waitForSelector("#log li.whisper");
  await bob.waitForSelector("#log li.whisper");
  check("alice gets the whisper", (await logOf(alice)).includes("whisper|bob→ alicejust for you"));
  check("bob gets his copy", (await logOf(bob)).includes("whisper mine|bob→ alicejust for you"));

  // Exactly what each should see, nothing more.
  const a = await logOf(alice), b = await logOf(bob);
  check("alice's log is exact", a.length === 4, JSON.stringify(a));
  check("bob's log is exact", b.length === 3, JSON.stringify(b));

  await typedWhispers(browser, url, alice, bob);

  await alice.screenshot({ path: `${artifacts}/chat-alice-desktop.png` });
  await bob.screenshot({ path: `${artifacts}/chat-bob-phone.png` });
  const overflow = await bob.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);
  check("phone width: no horizontal scrolling", !overflow);

  // The server goes away: the client says so and reconnects when it is back.
  proc.kill("SIGTERM");
  await alice.waitForFunction(() => document.getElementById("status").textContent.startsWith("reconnecting"), null, { timeout: 10000 });
  check("client notices the server left", true);
} catch (e) {
  check("no exception", false, String(e && e.stack || e));
} finally {
  await browser.close();
  if (proc.exitCode === null) proc.kill("SIGKILL");
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed || !passed ? 1 : 0);
