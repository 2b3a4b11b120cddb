// The service worker: a repeat visit is answered from its cache (no round trip for the page), and
// a new build takes over: its worker precaches the new page and assets, deletes the old cache, and
// an open page is offered a reload but never reloaded under the person. Two builds are needed, so
// web/dist (build A) and a build B made from it (a new script name and worker version) are served by
// a small static server with the real server's cache headers; the app then finds no API
// (auth off, offline), which this story does not need.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { readFileSync, existsSync } from 'node:fs';
import { join, extname } from 'node:path';
import { ROOT, CHROMIUM, launchBrowser, phone, eventually, PATIENCE } from '../lib/harness.mjs';

const DIST = join(ROOT, 'web', 'dist');
const ready = existsSync(CHROMIUM) && existsSync(join(DIST, 'index.html')) ? {} : { skip: `needs ${CHROMIUM} and web/dist` };

const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css', '.webmanifest': 'application/manifest+json', '.svg': 'image/svg+xml', '.png': 'image/png' };

/** Build A is web/dist; build B renames the script (with a marker in it) and bumps the worker. */
function builds() {
  const index = readFileSync(join(DIST, 'index.html'), 'utf8');
  const script = /\/assets\/app-[A-Z0-9]+\.js/.exec(index)[0];
  const sw = readFileSync(join(DIST, 'sw.js'), 'utf8');
  const a = new Map([['/', index], ['/sw.js', sw]]);
  const newScript = script.replace('.js', 'B.js');
  const b = new Map([
    ['/', index.replace(script, newScript)],
    ['/sw.js', sw.replace(/pocket-relay-[0-9a-f]+/, 'pocket-relay-buildb').replace(script, newScript)],
    [newScript, `window.__build = "B";\n${readFileSync(join(DIST, script), 'utf8')}`],
  ]);
  return { a, b, newScript };
}

function serve(files) {
  const server = createServer((req, res) => {
    const path = new URL(req.url, 'http://x').pathname;
    const current = files.current;
    let body = current.get(path);
    if (body === undefined && !path.startsWith('/api/') && path !== '/ws' && existsSync(join(DIST, path)) && path !== '/') {
      body = readFileSync(join(DIST, path));
    }
    files.log.push(path);
    if (body === undefined) {
      res.writeHead(404, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ success: false, error: { code: 'not_found', message: 'not found' } }));
      return;
    }
    const immutable = path.startsWith('/assets/');
    res.writeHead(200, {
      'Content-Type': TYPES[extname(path)] ?? (path === '/' ? TYPES['.html'] : 'application/octet-stream'),
      'Cache-Control': immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
    });
    res.end(body);
  });
  server.on('upgrade', (req, socket) => socket.destroy());
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

test('11. repeat visits come from the service worker; a new build takes over without reloading an open page', ready, async () => {
  const { a, b, newScript } = builds();
  const files = { current: a, log: [] };
  const server = await serve(files);
  const url = `http://127.0.0.1:${server.address().port}`;
  const browser = await launchBrowser();
  try {
    const { context, page } = await phone(browser.browser);
    await page.goto(`${url}/#/`);
    await page.getByRole('heading', { name: 'Sessions' }).waitFor();
    await page.waitForFunction(() => Boolean(navigator.serviceWorker?.controller), null, { timeout: PATIENCE });

    // A repeat visit: the page comes from the worker's cache.
    let response = await page.reload();
    assert.ok(response.fromServiceWorker(), 'the page came from the service worker');
    await page.getByRole('heading', { name: 'Sessions' }).waitFor();
    assert.equal(await page.evaluate(() => window.__build ?? 'A'), 'A');

    // A new build is deployed while the page is open and the person is typing.
    files.current = b;
    await page.evaluate(() => {
      window.__sameDocument = true;
    });
    await page.evaluate(() => navigator.serviceWorker.getRegistration().then((r) => r.update()));
    const offer = page.getByRole('status').filter({ hasText: 'A new version of the app is ready' });
    await offer.waitFor();
    assert.equal(await page.evaluate(() => window.__sameDocument), true, 'the open page was not reloaded');
    assert.equal(await page.evaluate(() => window.__build ?? 'A'), 'A', 'the open page still runs build A');
    await eventually(async () => {
      const keys = await page.evaluate(() => caches.keys());
      return keys.filter((k) => k.startsWith('pocket-relay-')).join() === 'pocket-relay-buildb';
    }, 'the old cache deleted, only the new one left');
    assert.ok(files.log.includes(newScript), 'the new worker precached the new script');

    // The next visit opens build B at once, and so does one without a network.
    response = await page.reload();
    assert.ok(response.fromServiceWorker());
    await page.getByRole('heading', { name: 'Sessions' }).waitFor();
    assert.equal(await page.evaluate(() => window.__build), 'B', 'the next visit runs build B');
    assert.equal(await offer.count(), 0, 'no offer on the new build');
    await context.setOffline(true);
    await page.reload();
    await page.getByRole('heading', { name: 'Sessions' }).waitFor();
    assert.equal(await page.evaluate(() => window.__build), 'B', 'offline, build B from the cache');
    await context.setOffline(false);

    // A fresh copy of the page is fetched in the background on each visit (for the next one).
    const before = files.log.filter((p) => p === '/').length;
    await page.reload();
    await eventually(() => files.log.filter((p) => p === '/').length > before, 'the page revalidated in the background');
    await context.close();
  } finally {
    await browser.close();
    server.close();
  }
});
