// The phone app's performance figures, for `pocket-relay-bench app` (which starts the release
// server, stores a session of 10,000 events and runs this script). Never part of a timed test.
//
//   node tests/e2e/perf/app-perf.mjs --url http://127.0.0.1:PORT --session ID --last-text TEXT
//
// Prints one JSON object on its last stdout line: {figures: {name: value}, missing: [what could
// not be measured, and why]}. Measures, in Chromium through playwright-core and CDP:
// - first load: bytes transferred for every asset the page fetched (compressed, headers
//   included; Chromium offers only gzip over plain http), and what the service worker fetched;
// - under Lighthouse's mobile profile (150 ms RTT, 1.6 Mbit/s down, 750 kbit/s up, CPU 4x
//   slower): time from navigation start until the sessions list is on screen, fresh and on a
//   repeat visit served by the service worker;
// - opening the session with 10,000 events: main-thread time (CDP Performance.getMetrics
//   TaskDuration, ScriptDuration) until its last answer shows, wall time, JS heap;
// - scrolling up in it: whether older pages are fetched and shown.
import { chromium } from 'playwright-core';
import { CHROMIUM, CHROMIUM_ARGS, PHONE } from '../lib/harness.mjs';

const args = Object.fromEntries(
  process.argv.slice(2).reduce((pairs, word, i, all) => (word.startsWith('--') ? [...pairs, [word.slice(2), all[i + 1]]] : pairs), []),
);
const url = args.url;
const sessionId = args.session;
const lastText = args['last-text'] ?? 'echo: the last answer';
if (!url || !sessionId) {
  console.error('usage: app-perf.mjs --url URL --session ID [--last-text TEXT]');
  process.exit(2);
}

const MOBILE_NETWORK = {
  offline: false,
  latency: 150,
  downloadThroughput: (1.6 * 1e6) / 8,
  uploadThroughput: (750 * 1e3) / 8,
};
const CPU_SLOWDOWN = 4;
const PATIENCE = 30_000;

const figures = {};
const missing = [];
const log = (...words) => console.error('[app-perf]', ...words);

/** Records, in the page, when the sessions list is first on screen (performance.now(), from the
 * navigation's start): a heading "Sessions" and at least one session link. */
function watchSessionsList() {
  const check = () => {
    if (window.__listShownAt !== undefined) return;
    const heading = [...document.querySelectorAll('h1, h2, h3, [role="heading"]')].some((h) => h.textContent.trim() === 'Sessions');
    const link = document.querySelector('a[href*="#/s/"]');
    if (heading && link) {
      window.__listShownAt = performance.now();
      observer.disconnect();
    }
  };
  const observer = new MutationObserver(check);
  observer.observe(document, { childList: true, subtree: true, characterData: true });
  document.addEventListener('DOMContentLoaded', check);
}

async function metrics(cdp) {
  const { metrics: list } = await cdp.send('Performance.getMetrics');
  return Object.fromEntries(list.map((m) => [m.name, m.value]));
}

async function shownAt(page) {
  await page.waitForFunction(() => window.__listShownAt !== undefined, null, { timeout: PATIENCE });
  return page.evaluate(() => window.__listShownAt);
}

async function throttle(cdp, on) {
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', on ? MOBILE_NETWORK : { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
  await cdp.send('Emulation.setCPUThrottlingRate', { rate: on ? CPU_SLOWDOWN : 1 });
}

/** Step 1: bytes of a first load, unthrottled. */
async function firstLoadBytes(browser) {
  const context = await browser.newContext(PHONE);
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  const requests = new Map();
  cdp.on('Network.responseReceived', (e) => requests.set(e.requestId, { url: e.response.url, encoding: e.response.headers['content-encoding'] ?? e.response.headers['Content-Encoding'] ?? '', fromSw: e.response.fromServiceWorker }));
  const done = new Map();
  cdp.on('Network.loadingFinished', (e) => done.set(e.requestId, e.encodedDataLength));
  await page.goto(`${url}/#/`);
  await page.getByRole('heading', { name: 'Sessions' }).waitFor({ timeout: PATIENCE });
  await page.waitForLoadState('networkidle', { timeout: PATIENCE }).catch(() => {});
  // Let the service worker install (it may precache the assets).
  const sw = await page.evaluate(async () => {
    if (!('serviceWorker' in navigator)) return 'unsupported';
    const registration = await Promise.race([navigator.serviceWorker.ready, new Promise((r) => setTimeout(() => r(null), 10_000))]);
    return registration ? 'ready' : 'none';
  });
  let bytes = 0;
  const rows = [];
  for (const [id, length] of done) {
    const info = requests.get(id);
    if (!info || info.url.startsWith('data:')) continue;
    bytes += length;
    rows.push(`${length}\t${info.encoding || '-'}\t${info.url.replace(url, '')}`);
  }
  log(`first load, page requests:\n${rows.join('\n')}`);
  figures.first_load_bytes = bytes;
  figures.first_load_requests = rows.length;
  figures.service_worker = sw;
  await context.close();
}

/** Steps 2 and 3: the sessions list on screen under the mobile profile, fresh then repeat. */
async function listUnderMobileProfile(browser) {
  const context = await browser.newContext(PHONE);
  await context.addInitScript(watchSessionsList);
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await throttle(cdp, true);
  await page.goto(`${url}/#/`, { timeout: 60_000 });
  figures.fresh_list_shown_ms = await shownAt(page);
  const hasSw = await page.evaluate(async () => {
    if (!('serviceWorker' in navigator)) return false;
    const registration = await Promise.race([navigator.serviceWorker.ready, new Promise((r) => setTimeout(() => r(null), 15_000))]);
    if (!registration) return false;
    // Wait until it controls a page: the next navigation goes through it.
    return true;
  });
  if (!hasSw) missing.push('repeat visit from the service worker: the app registered no service worker');
  await page.waitForLoadState('networkidle', { timeout: PATIENCE }).catch(() => {});
  // The repeat visit: a new tab in the same profile (HTTP cache and service worker kept).
  const again = await context.newPage();
  const cdp2 = await context.newCDPSession(again);
  await throttle(cdp2, true);
  const controlled = [];
  await again.goto(`${url}/#/`, { timeout: 60_000 });
  figures.repeat_list_shown_ms = await shownAt(again);
  controlled.push(await again.evaluate(() => Boolean(navigator.serviceWorker?.controller)));
  figures.repeat_visit_controlled_by_service_worker = controlled[0];
  if (hasSw && !controlled[0]) missing.push('repeat visit: the page was not controlled by the service worker');
  await context.close();
}

/** Steps 4 and 5: open the 10,000-event session (CPU 4x slower), then scroll up. */
async function bigSession(browser) {
  const context = await browser.newContext(PHONE);
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('Performance.enable', { timeDomain: 'threadTicks' }).catch(() => cdp.send('Performance.enable'));
  await cdp.send('Network.enable');
  const olderPages = [];
  cdp.on('Network.webSocketFrameSent', (e) => {
    if (/"session\.events"/.test(e.response.payloadData) && /before_seq/.test(e.response.payloadData)) olderPages.push(e.response.payloadData);
  });
  cdp.on('Network.requestWillBeSent', (e) => {
    if (/\/events\?.*before_seq=/.test(e.request.url)) olderPages.push(e.request.url);
  });
  await page.goto(`${url}/#/`);
  await page.getByRole('heading', { name: 'Sessions' }).waitFor({ timeout: PATIENCE });
  await page.waitForLoadState('networkidle', { timeout: PATIENCE }).catch(() => {});
  await cdp.send('Emulation.setCPUThrottlingRate', { rate: CPU_SLOWDOWN });
  await cdp.send('HeapProfiler.collectGarbage').catch(() => {});
  const before = await metrics(cdp);
  const started = Date.now();
  await page.evaluate((id) => { location.hash = `#/s/${id}`; }, sessionId);
  await page.getByText(lastText, { exact: false }).first().waitFor({ timeout: PATIENCE });
  // The frame that shows it is painted.
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  const wall = Date.now() - started;
  const after = await metrics(cdp);
  figures.open_10k_main_thread_ms = (after.TaskDuration - before.TaskDuration) * 1000;
  figures.open_10k_script_ms = (after.ScriptDuration - before.ScriptDuration) * 1000;
  figures.open_10k_layout_ms = ((after.LayoutDuration ?? 0) - (before.LayoutDuration ?? 0)) * 1000;
  figures.open_10k_wall_ms = wall;
  figures.open_10k_heap_mb = after.JSHeapUsedSize / 1e6;
  figures.open_10k_dom_nodes = after.Nodes;
  await cdp.send('Emulation.setCPUThrottlingRate', { rate: 1 });
  await cdp.send('HeapProfiler.collectGarbage').catch(() => {});
  figures.open_10k_heap_after_gc_mb = (await metrics(cdp)).JSHeapUsedSize / 1e6;

  // Scroll up: older pages come in (a before_seq request) and the page grows.
  const lineNumbers = () => page.evaluate(() => {
    const numbers = [...document.body.innerText.matchAll(/\bline (\d+)\b/g)].map((m) => Number(m[1]));
    return numbers.length ? Math.min(...numbers) : null;
  });
  const lowestBefore = await lineNumbers();
  let lowest = lowestBefore;
  for (let i = 0; i < 5; i++) {
    await page.evaluate(() => {
      const scrollers = [...document.querySelectorAll('*')].filter((el) => el.scrollHeight > el.clientHeight + 10 && /(auto|scroll)/.test(getComputedStyle(el).overflowY));
      const target = scrollers.sort((a, b) => b.scrollHeight - a.scrollHeight)[0] ?? document.scrollingElement;
      target.scrollTop = 0;
      target.dispatchEvent(new Event('scroll'));
      window.scrollTo(0, 0);
    });
    const grew = await page.waitForFunction(
      (prev) => {
        const numbers = [...document.body.innerText.matchAll(/\bline (\d+)\b/g)].map((m) => Number(m[1]));
        return numbers.length && (prev === null || Math.min(...numbers) < prev);
      },
      lowest,
      { timeout: 5000 },
    ).then(() => true, () => false);
    if (!grew) break;
    lowest = await lineNumbers();
  }
  figures.scroll_older_page_requests = olderPages.length;
  figures.scroll_lowest_line_before = lowestBefore;
  figures.scroll_lowest_line_after = lowest;
  figures.scroll_loads_older = olderPages.length > 0 && lowest !== null && (lowestBefore === null || lowest < lowestBefore);
  await context.close();
}

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  headless: true,
  args: CHROMIUM_ARGS.filter((a) => a !== '--headless'),
  timeout: 60_000,
});
try {
  for (const [name, step] of [
    ['first load bytes', firstLoadBytes],
    ['sessions list under the mobile profile', listUnderMobileProfile],
    ['the 10,000-event session', bigSession],
  ]) {
    try {
      await step(browser);
    } catch (error) {
      missing.push(`${name}: ${error.message.split('\n')[0]}`);
      log(`${name} failed: ${error.message}`);
    }
  }
} finally {
  await browser.close();
}
console.log(JSON.stringify({ figures, missing }));
