// The end-to-end harness: the real `pocket-relay` binary on 127.0.0.1:0 with a config in a temp
// dir (the fake claude as `claude`, the temp dir as the only allowed root, the store under it),
// Chromium through playwright-core (never a downloaded browser), a phone-sized touch context, and
// REST helpers that read what the server stored. Every wait has a timeout; nothing sleeps.
import { spawn, execFile } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, existsSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { chromium } from 'playwright-core';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const TARGET = process.env.CARGO_TARGET_DIR ? resolve(process.env.CARGO_TARGET_DIR) : join(ROOT, 'target');
export const BIN_DIR = process.env.POCKET_RELAY_BIN_DIR ? resolve(process.env.POCKET_RELAY_BIN_DIR) : join(TARGET, 'debug');
export const CHROMIUM = process.env.POCKET_RELAY_CHROMIUM || '/usr/bin/chromium';
export const SHOTS = join(TARGET, 'e2e-screenshots');
/** How long any single wait may take before a test fails. */
export const PATIENCE = 15_000;

/** Chromium's flags: headless, no sandbox (root), and nothing that phones home (this machine's
 * network refuses it, which would stall or fail page loads). */
export const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--disable-dev-shm-usage',
];

/** The phone: an iPhone-12-sized touch screen. */
export const PHONE = {
  viewport: { width: 390, height: 844 },
  deviceScaleFactor: 3,
  isMobile: true,
  hasTouch: true,
  userAgent:
    'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36',
};

/** Why the browser tests cannot run here, or null. Under CI=true the caller fails instead. */
export function missingPrerequisite() {
  if (!existsSync(CHROMIUM)) return `no Chromium at ${CHROMIUM} (apt-get install chromium)`;
  for (const bin of ['pocket-relay', 'fake-claude']) {
    if (!existsSync(join(BIN_DIR, bin))) return `no ${join(BIN_DIR, bin)} (cargo build --workspace --bins)`;
  }
  return null;
}

/** `test(...)` options: skip with a note when something is missing, except under CI=true. */
export function skipUnlessReady() {
  const missing = missingPrerequisite();
  if (!missing) return {};
  if (process.env.CI === 'true') throw new Error(`browser tests cannot run under CI=true: ${missing}`);
  return { skip: `browser tests skipped: ${missing}` };
}

/** Rejects after `ms` with `what` unless `promise` settles first. */
export function within(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function toml(value) {
  return JSON.stringify(value);
}

/**
 * Starts the real server. `auth`: sign-in on (pairing); `limits`: more `[limits]` lines. Answers {url, dir, project, config, stop,
 * log, cli(args)}.
 */
export async function startServer({ auth = false, extra = '', limits = [] } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'pocket-relay-e2e-'));
  const project = join(dir, 'project');
  mkdirSync(project, { recursive: true });
  const config = join(dir, 'config.toml');
  const lines = [
    // The server's default heartbeat_s (15): the app notices a lost network from the browser's
    // `offline` event, and a silent link by its own pings, without help from the server.
    '[server]', 'bind = "127.0.0.1:0"', 'shutdown_grace_s = 2',
    '[storage]', `path = ${toml(join(dir, 'store/relay.db'))}`,
    '[claude]', `binary = ${toml(join(BIN_DIR, 'fake-claude'))}`, 'idle_timeout_s = 600',
    '[claude.env]', `FAKE_CLAUDE_SPAWN_LOG = ${toml(join(dir, 'spawns.log'))}`,
    '[sessions]', `allowed_roots = [${toml(dir)}]`,
    '[limits]', 'requests_per_minute = 100000', ...limits,
  ];
  if (auth) {
    writeFileSync(join(dir, 'authorized_keys'), '');
    lines.push('[auth]', 'enabled = true', `authorized_keys = ${toml(join(dir, 'authorized_keys'))}`);
  }
  writeFileSync(config, lines.join('\n') + '\n' + extra);
  const logPath = join(dir, 'server.log');
  const { openSync } = await import('node:fs');
  const child = spawn(join(BIN_DIR, 'pocket-relay'), ['--config', config], {
    cwd: dir,
    env: { ...process.env, RUST_LOG: 'info,actix_server=warn' },
    stdio: ['ignore', 'pipe', openSync(logPath, 'w')],
  });
  const exited = new Promise((res) => child.once('exit', (code, signal) => res({ code, signal })));
  const rl = createInterface({ input: child.stdout });
  const first = new Promise((res, rej) => {
    rl.once('line', res);
    exited.then(({ code, signal }) => rej(new Error(`server exited (${code ?? signal}) before its address`)));
  });
  let line;
  try {
    line = await within(first, PATIENCE, 'the server printing its address');
  } catch (error) {
    child.kill('SIGKILL');
    throw new Error(`${error.message}\n${readLog(logPath)}`);
  }
  rl.on('line', () => {}); // keep draining stdout
  const url = line.replace(/^listening on /, '').trim();
  if (!/^https?:\/\//.test(url)) throw new Error(`unexpected first line ${JSON.stringify(line)}`);
  const server = {
    url,
    dir,
    project,
    config,
    log: () => readLog(logPath),
    /** Runs `pocket-relay ARGS --config CONFIG` (the operator's CLI on the same store). */
    cli: (args) => runCli(['--config', config, ...args]),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await within(exited, PATIENCE, 'the server exiting');
      }
      if (!process.env.E2E_KEEP) rmSync(dir, { recursive: true, force: true });
    },
  };
  return server;
}

function readLog(path) {
  try {
    return readFileSync(path, 'utf8').split('\n').slice(-40).join('\n');
  } catch {
    return '';
  }
}

/** Runs the server binary as a CLI; answers {stdout, stderr}, rejects on a non-zero exit. */
export function runCli(args) {
  return within(
    new Promise((res, rej) => {
      execFile(join(BIN_DIR, 'pocket-relay'), args, { timeout: PATIENCE }, (error, stdout, stderr) => {
        if (error) rej(new Error(`pocket-relay ${args.join(' ')} failed: ${error.message}\n${stderr}`));
        else res({ stdout, stderr });
      });
    }),
    PATIENCE + 1000,
    `pocket-relay ${args.join(' ')}`,
  );
}

/** A REST client for one server (and optionally one token). Answers `data` of the envelope. */
export function rest(server, token) {
  const call = async (method, path, body) => {
    const headers = { 'Content-Type': 'application/json' };
    if (token) headers.Authorization = `Bearer ${token}`;
    const response = await within(
      fetch(server.url + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) }),
      PATIENCE,
      `${method} ${path}`,
    );
    const text = await response.text();
    let json;
    try {
      json = JSON.parse(text);
    } catch {
      throw new Error(`${method} ${path}: ${response.status} ${text.slice(0, 200)}`);
    }
    if (!json.success) throw new Error(`${method} ${path}: ${response.status} ${JSON.stringify(json.error)}`);
    return json.data;
  };
  return {
    get: (path) => call('GET', path),
    post: (path, body = {}) => call('POST', path, body),
    del: (path, body) => call('DELETE', path, body),
    /** Every stored event of a session, in order (paged by after_seq). */
    async events(sessionId) {
      const all = [];
      let after = 0;
      for (;;) {
        const page = await call('GET', `/api/v1/sessions/${sessionId}/events?after_seq=${after}&limit=500`);
        all.push(...page.events);
        if (page.events.length === 0 || all.at(-1).seq >= page.last_seq) return all;
        after = all.at(-1).seq;
      }
    },
    async createSession(cwd, title) {
      const data = await call('POST', '/api/v1/sessions', title === undefined ? { cwd } : { cwd, title });
      return data.session ?? data;
    },
  };
}

/** Polls `check` (async, answers a truthy value when done) until it holds; answers its value. */
export async function eventually(check, what, ms = PATIENCE) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms: ${what}${last ? ` (${last.message})` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Launches Chromium. playwright-core gives every launch a fresh temporary profile
 * (`--user-data-dir` in a new temp dir, removed at close) and refuses one passed in `args`. */
export async function launchBrowser() {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS.filter((a) => a !== '--headless'),
    timeout: 60_000,
  });
  return {
    browser,
    async close() {
      await browser.close().catch(() => {});
    },
  };
}

/**
 * A phone context with traps for injected script: `window.__pwned` stays unset unless something
 * ran; dialogs, CSP violations and every requested URL are recorded. Answers
 * {context, page, dialogs, errors, requests}.
 */
export async function phone(browser, options = {}) {
  const context = await browser.newContext({ ...PHONE, ...options });
  context.setDefaultTimeout(PATIENCE);
  await context.addInitScript(() => {
    window.__cspViolations = [];
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`);
    });
  });
  const page = await context.newPage();
  const dialogs = [];
  page.on('dialog', (dialog) => {
    dialogs.push(dialog.message());
    dialog.dismiss().catch(() => {});
  });
  const errors = [];
  page.on('pageerror', (error) => errors.push(error.message));
  // Every URL the phone asked for (pages, assets, the service worker's fetches, sockets).
  const requests = [];
  context.on('request', (request) => requests.push(request.url()));
  page.on('websocket', (socket) => requests.push(socket.url()));
  return { context, page, dialogs, errors, requests };
}

/** Saves a screenshot of the page as target/e2e-screenshots/NAME.png. */
export async function screenshot(page, name) {
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: false }).catch(() => {});
}

/** Pairs a phone page for `user` from the link `pocket-relay pair` prints (as a person would);
 * answers the pairing code. */
export async function pairPhone(server, page, user) {
  const { stdout } = await server.cli(['pair', '--user', user, '--url', server.url]);
  const link = stdout.match(/(https?:\/\/\S+#pair=([A-Za-z0-9_\-.~%]+))/);
  if (!link) throw new Error(`pocket-relay pair printed no link: ${stdout.slice(-400)}`);
  await page.goto(link[1]);
  await screenshot(page, 'pairing');
  await page.getByRole('heading', { name: 'Sessions' }).waitFor();
  return link[2];
}

/** Opens the app's conversation screen of a session and waits for its composer. */
export async function openConversation(page, server, sessionId) {
  await page.goto(`${server.url}/#/s/${sessionId}`);
  await page.getByRole('textbox', { name: 'Message', exact: true }).waitFor();
}

/** Types a prompt into the composer and presses Send. */
export async function sendPrompt(page, text) {
  const box = page.getByRole('textbox', { name: 'Message', exact: true });
  await box.fill(text);
  await page.getByRole('button', { name: 'Send', exact: true }).click();
}

/** The stored events of `kind` (optionally filtered). */
export function ofKind(events, kind, filter = () => true) {
  return events.filter((e) => (e.kind ?? e.type) === kind && filter(e));
}

/** The prompt text of a `prompt.queued` event, wherever the server keeps it. */
export function promptText(event) {
  return event.data?.text ?? event.text ?? event.data?.prompt?.text ?? '';
}

/** True once a session's stored events hold a `prompt.completed` (or failed) for each queued prompt. */
export async function settled(api, sessionId, prompts = 1) {
  return eventually(async () => {
    const events = await api.events(sessionId);
    const done = ofKind(events, 'prompt.completed').length + ofKind(events, 'prompt.failed').length;
    return done >= prompts ? events : null;
  }, `${prompts} prompt(s) of ${sessionId} finishing`);
}

/** Runs `body` with a server and a browser, always cleaning both up. */
export async function withServerAndBrowser(options, body) {
  const server = await startServer(options);
  let browser;
  try {
    browser = await launchBrowser();
    return await body({ server, browser: browser.browser, api: rest(server) });
  } catch (error) {
    error.message += `\n--- server log (tail) ---\n${server.log()}`;
    throw error;
  } finally {
    if (browser) await browser.close();
    await server.stop();
  }
}
