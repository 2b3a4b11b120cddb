// npm run e2e: the built app in headless Chromium against the real server (target/debug/pocket-relay
// with target/debug/fake-claude; build them with `cargo build --bins` first). Everything is found by
// role and accessible name through Chromium's accessibility tree, as a screen reader would.
// Needs `chromium` on PATH (CHROMIUM=… to choose another) and Node ≥ 20 (run with
// --experimental-websocket on Node 20). Writes screenshots to $E2E_SHOTS if set.
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync, rmSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import assert from "node:assert/strict";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const tmp = mkdtempSync(join(tmpdir(), "pr-e2e-"));
const work = join(tmp, "project");
mkdirSync(work);
const shots = process.env.E2E_SHOTS;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let server, chrome;

function startServer(bind) {
  writeFileSync(
    join(tmp, "config.toml"),
    `[server]\nbind = "${bind}"\nheartbeat_s = 5\nshutdown_grace_s = 1\n[storage]\npath = "${tmp}/relay.db"\n` +
      `[claude]\nbinary = "${repo}/target/debug/fake-claude"\n[sessions]\nallowed_roots = ["${tmp}"]\n`,
  );
  const p = spawn(join(repo, "target/debug/pocket-relay"), ["--config", join(tmp, "config.toml")], { stdio: ["ignore", "pipe", "pipe"] });
  p.stderr.on("data", (d) => process.env.E2E_VERBOSE && process.stderr.write(d));
  return new Promise((res, rej) => {
    p.stdout.on("data", (d) => {
      const m = /listening on (http:\/\/[^\s]+)/.exec(String(d));
      if (m) res({ p, url: m[1] });
    });
    p.on("exit", (c) => rej(new Error(`server exited ${c}`)));
  });
}

async function startChrome() {
  const bin = process.env.CHROMIUM || "chromium";
  const p = spawn(bin, ["--headless=new", "--no-sandbox", "--disable-gpu", "--remote-debugging-port=0", `--user-data-dir=${tmp}/chrome`, "--window-size=360,740", "about:blank"], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  const port = await new Promise((res) => {
    let buf = "";
    p.stderr.on("data", (d) => {
      buf += d;
      const m = /DevTools listening on ws:\/\/127\.0\.0\.1:(\d+)\//.exec(buf);
      if (m) res(m[1]);
    });
  });
  const list = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json();
  const page = list.find((t) => t.type === "page");
  const ws = new WebSocket(page.webSocketDebuggerUrl);
  await new Promise((r) => (ws.onopen = r));
  let id = 0;
  const waiting = new Map();
  const listeners = [];
  ws.onmessage = (m) => {
    const f = JSON.parse(m.data);
    if (f.id && waiting.has(f.id)) {
      const { res, rej } = waiting.get(f.id);
      waiting.delete(f.id);
      f.error ? rej(new Error(`${f.error.message}`)) : res(f.result);
    } else if (f.method) for (const l of listeners) l(f);
  };
  const send = (method, params = {}) =>
    new Promise((res, rej) => {
      const i = ++id;
      waiting.set(i, { res, rej });
      ws.send(JSON.stringify({ id: i, method, params }));
    });
  return { p, send, on: (l) => listeners.push(l) };
}

async function main() {
  const first = await startServer("127.0.0.1:0");
  server = first.p;
  const base = first.url;
  const bind = base.replace("http://", "");
  const c = await startChrome();
  chrome = c.p;
  const problems = [];
  c.on((f) => {
    if (f.method === "Runtime.exceptionThrown") problems.push(`exception: ${f.params.exceptionDetails.exception?.description ?? f.params.exceptionDetails.text}`);
    if (f.method === "Log.entryAdded" && /Content.Security.Policy|Refused to/i.test(f.params.entry.text)) problems.push(`CSP: ${f.params.entry.text}`);
  });
  await c.send("Page.enable");
  await c.send("Runtime.enable");
  await c.send("Log.enable");
  await c.send("Accessibility.enable");
  await c.send("Emulation.setDeviceMetricsOverride", { width: 360, height: 740, deviceScaleFactor: 2, mobile: true });

  const evaluate = async (expression) => (await c.send("Runtime.evaluate", { expression, awaitPromise: true, returnByValue: true })).result.value;
  const text = () => evaluate("document.body.innerText");
  async function find(role, name, { exact = true } = {}) {
    const { root } = await c.send("DOM.getDocument", { depth: 0 });
    const { nodes } = await c.send("Accessibility.queryAXTree", { nodeId: root.nodeId, role, ...(exact ? { accessibleName: name } : {}) });
    return nodes.filter((n) => !n.ignored && (exact || String(n.name?.value ?? "").includes(name)));
  }
  async function waitRole(role, name, opts = {}, ms = 10000) {
    const end = Date.now() + ms;
    for (;;) {
      const n = await find(role, name, opts);
      if (n.length) return n[0];
      if (Date.now() > end) throw new Error(`no ${role} named ${JSON.stringify(name)}; page says:\n${await text()}`);
      await sleep(100);
    }
  }
  async function waitText(s, ms = 10000) {
    const end = Date.now() + ms;
    while (!(await text()).includes(s)) {
      if (Date.now() > end) throw new Error(`no text ${JSON.stringify(s)}; page says:\n${await text()}`);
      await sleep(100);
    }
  }
  async function call(node, fn, ...args) {
    const { object } = await c.send("DOM.resolveNode", { backendNodeId: node.backendDOMNodeId });
    return c.send("Runtime.callFunctionOn", { objectId: object.objectId, functionDeclaration: fn, arguments: args.map((value) => ({ value })), returnByValue: true });
  }
  const click = async (role, name) => call(await waitRole(role, name), "function(){ this.click(); }");
  const type = async (name, value) =>
    call(await waitRole("textbox", name), "function(v){ this.focus(); this.value = v; this.dispatchEvent(new Event('input', {bubbles: true})); }", value);
  const shot = async (name) => {
    if (!shots) return;
    const { data } = await c.send("Page.captureScreenshot", { format: "png" });
    writeFileSync(join(shots, `${name}.png`), Buffer.from(data, "base64"));
  };
  const rest = async (path, init) => (await (await fetch(base + path, init)).json()).data;
  const step = (s) => console.log(`# ${s}`);

  step("the sessions list shows a session by its title");
  const s = (await rest("/api/v1/sessions", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ cwd: work, title: "e2e session" }) })).session;
  await c.send("Page.navigate", { url: `${base}/#/` });
  await waitRole("heading", "Sessions");
  await waitRole("button", "New session");
  await shot("sessions");
  await click("link", "e2e session");

  step("a prompt, Claude's lines, the turn's cost and duration");
  await type("Message", "emit 3");
  await click("button", "Send");
  await waitText("line 3");
  await waitText("$0.0");

  step("live deltas while streaming, replaced by the stored text");
  await type("Message", "stream 30 60");
  await click("button", "Send");
  let sawLive = false;
  for (let i = 0; i < 80 && !sawLive; i++) {
    sawLive = await evaluate("!!document.querySelector('.live') && document.querySelector('.live').innerText.includes('chunk')");
    await sleep(25);
  }
  assert.ok(sawLive, "live text was shown while streaming");
  await waitText("chunk 29");
  await sleep(300);
  assert.equal(await evaluate("document.querySelectorAll('.live').length"), 0, "the live block is gone after the stored line");

  step("a permission request: Allow always remembers the suggested rule");
  await type("Message", "permission Bash");
  await click("button", "Send");
  await waitRole("region", "Permission request");
  await waitText("Bash(touch x)");
  await shot("permission");
  await click("button", "Allow always");
  await waitText("tool finished");
  await waitText("Allowed rules (1)");
  assert.equal((await find("region", "Permission request")).length, 0, "the card is answered");

  step("deny with a message");
  await type("Message", 'permission Bash {"command":"rm -rf y"}');
  await click("button", "Send");
  await waitRole("region", "Permission request");
  await type("Message to Claude (optional)", "not that");
  await click("button", "Deny");
  await waitText("tool denied");

  step("a reload shows the conversation from IndexedDB at once");
  await c.send("Page.reload");
  await waitText("line 3", 3000);
  await shot("conversation");

  step("offline: the banner, a prompt kept and sent exactly once when the server is back");
  server.kill("SIGTERM");
  await new Promise((r) => server.once("exit", r));
  const banner = await waitRole("status", "Offline", { exact: false }).catch(async () => {
    // Chromium names a status region by its text only sometimes: read the text instead.
    await waitText("Offline");
    return null;
  });
  void banner;
  await type("Message", "hello while offline");
  await click("button", "Send");
  await waitText("Waiting for the connection");
  await shot("offline");
  await c.send("Page.reload"); // the prompt survives a reload
  await waitText("hello while offline", 3000);
  server = (await startServer(bind)).p;
  await click("button", "Retry now").catch(() => {});
  await waitText("echo: hello while offline", 20000);
  const events = (await rest(`/api/v1/sessions/${s.id}/events?after_seq=0&limit=1000`)).events;
  const queued = events.filter((e) => e.kind === "prompt.queued" && e.data.text === "hello while offline");
  assert.equal(queued.length, 1, "the offline prompt was queued exactly once");

  step("Pause / Resume, Interrupt, Stop");
  await click("button", "Pause");
  await waitRole("button", "Resume");
  await click("button", "Resume");
  await waitRole("button", "Pause");
  await click("button", "Stop");
  await waitText("stopped");

  step("new session screen");
  await c.send("Page.navigate", { url: `${base}/#/new` });
  await waitRole("heading", "New session");
  await type("Folder", work);
  await click("button", "Create");
  await waitRole("textbox", "Message");

  if (shots) {
    await c.send("Emulation.setEmulatedMedia", { features: [{ name: "prefers-color-scheme", value: "dark" }] });
    await c.send("Page.navigate", { url: `${base}/#/s/${s.id}` });
    await waitText("line 3");
    await sleep(300);
    await shot("conversation-dark");
  }
  assert.deepEqual(problems, [], "no exceptions or CSP violations");
  console.log("e2e: all steps passed");
}

main()
  .catch((e) => {
    console.error(e);
    process.exitCode = 1;
  })
  .finally(() => {
    server?.kill("SIGTERM");
    chrome?.kill("SIGTERM");
    setTimeout(() => rmSync(tmp, { recursive: true, force: true }), 500);
  });
