// Stories 6 and 7 of issue 16: a reload and lost networks mid-stream lose and double nothing (the
// rendered conversation against the server's stored events), and a prompt sent while offline is
// sent once, after the reconnect, with one prompt_id even when the connection drops under it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  skipUnlessReady, withServerAndBrowser, phone, screenshot, openConversation, sendPrompt,
  settled, ofKind, eventually, promptText, PATIENCE,
} from '../lib/harness.mjs';

const ready = skipUnlessReady();

/** How often each `line N` of the fake's `slow` answer is on screen: {N: count}. */
async function renderedLines(page) {
  const text = await page.locator('body').innerText();
  const counts = {};
  for (const match of text.matchAll(/\bline (\d+)\b/g)) counts[match[1]] = (counts[match[1]] ?? 0) + 1;
  return counts;
}

/** The `line N` texts of the stored assistant lines, in order. */
function storedLines(events) {
  return ofKind(events, 'agent.output', (e) => e.data?.message?.type === 'assistant')
    .flatMap((e) => (e.data.message.message?.content ?? []).filter((b) => b.type === 'text').map((b) => b.text))
    .filter((t) => /^line \d+$/.test(t))
    .map((t) => t.slice('line '.length));
}

async function storedCount(api, sessionId) {
  return storedLines(await api.events(sessionId)).length;
}

/** The browser's `offline` event shows the banner at once: this is only rendering's slack. */
const BANNER_PATIENCE = 3_000;
/** A link that goes silent without an `offline` event: the app pings after 3 s of silence and
 * gives the ping 6 s (web/src/connection.ts, PING_MS and PING_ANSWER_MS, checked every second),
 * so at most 4 + 7 = 11 s, and 3 s of slack. The server's own heartbeat (3 × 15 s) would take 45–60 s. */
const SILENT_LINK_PATIENCE = 14_000;
const offlineBanner = (page) => page.getByRole('status').filter({ hasText: 'Offline' });

test('6. reload and lose the network mid-stream: nothing missing or doubled', ready, async () => {
  await withServerAndBrowser({}, async ({ server, browser, api }) => {
    const session = await api.createSession(server.project, 'flaky network');
    const { context, page } = await phone(browser);
    await openConversation(page, server, session.id);
    const total = 200;
    const everyMs = 100;
    const streamEnds = Date.now() + total * everyMs; // the fake writes one line every 100 ms
    await sendPrompt(page, `slow ${total} ${everyMs}`);
    await page.getByText(/\bline 5\b/).first().waitFor();

    // A reload mid-stream.
    await page.reload();
    await page.getByRole('textbox', { name: 'Message', exact: true }).waitFor();
    await page.getByText(/\bline 15\b/).first().waitFor();

    // Offline (Playwright's context switch) while lines keep being stored.
    await context.setOffline(true);
    await offlineBanner(page).waitFor({ timeout: BANNER_PATIENCE });
    const before = await storedCount(api, session.id);
    await eventually(async () => (await storedCount(api, session.id)) >= Math.min(total, before + 10), 'ten lines stored while offline');
    await screenshot(page, 'conversation-offline');
    await context.setOffline(false);
    await eventually(async () => (await offlineBanner(page).count()) === 0, 'the offline banner gone after reconnecting');

    // Offline again, through CDP's network emulation.
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', { offline: true, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
    const again = await storedCount(api, session.id);
    await eventually(async () => (await storedCount(api, session.id)) >= Math.min(total, again + 10), 'ten more lines stored');
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });

    // The answer takes 20 s to write: wait for its end, then the usual patience.
    await eventually(async () => (await storedCount(api, session.id)) >= total, 'every line stored',
      Math.max(0, streamEnds - Date.now()) + PATIENCE);
    const events = await settled(api, session.id);
    const stored = storedLines(events);
    assert.equal(stored.length, total, 'the server stored every line');
    await eventually(async () => (await renderedLines(page))[String(total)] === 1, `line ${total} on screen`);
    const rendered = await renderedLines(page);
    const missing = stored.filter((n) => !rendered[n]);
    const doubled = Object.entries(rendered).filter(([, count]) => count > 1).map(([n]) => n);
    const extra = Object.keys(rendered).filter((n) => !stored.includes(n));
    assert.deepEqual({ missing, doubled, extra }, { missing: [], doubled: [], extra: [] });
    // The stored sequence itself is whole: seq 1..last without a gap.
    events.forEach((e, i) => assert.equal(e.seq, i + 1));
  });
});

test('6b. a link that goes silent (no offline event) is noticed by the app\'s own pings, then resumed', ready, async () => {
  await withServerAndBrowser({}, async ({ server, browser, api }) => {
    const session = await api.createSession(server.project, 'silent link');
    const { page } = await phone(browser);
    // Between the page and the server: once `silent` is set, the connection open at that moment
    // carries nothing either way (a dead Wi-Fi the browser does not know about). Later
    // connections pass.
    let silent = false;
    let connections = 0;
    await page.routeWebSocket(/\/ws(\?|$)/, (ws) => {
      const mine = ++connections;
      const blackHoled = () => silent && mine === 1;
      const upstream = ws.connectToServer();
      ws.onMessage((message) => {
        if (!blackHoled()) upstream.send(message);
      });
      upstream.onMessage((message) => {
        if (!blackHoled()) ws.send(message);
      });
    });
    await openConversation(page, server, session.id);
    await sendPrompt(page, 'before the silence');
    await page.getByText('echo: before the silence').first().waitFor();
    await eventually(async () => (await offlineBanner(page).count()) === 0, 'online before the silence');
    silent = true;
    const since = Date.now();
    // Stored while the link is silent: shown once the app has reconnected and resumed.
    await api.post(`/api/v1/sessions/${session.id}/prompts`, { text: 'during the silence' });
    // Noticed: the app gives the dead connection up and opens a new one (on loopback the new one
    // is up at once, so the Offline banner may show for too short a time to be seen).
    await eventually(async () => connections >= 2, 'a new connection after the silence', SILENT_LINK_PATIENCE);
    const noticedMs = Date.now() - since;
    await page.getByText('echo: during the silence').first().waitFor();
    await eventually(async () => (await offlineBanner(page).count()) === 0, 'the offline banner gone after reconnecting');
    assert.ok(connections >= 2, 'the app opened a new connection');
    const text = await page.locator('body').innerText();
    assert.equal((text.match(/echo: during the silence/g) ?? []).length, 1, 'its answer shown once');
    console.log(`# silent link noticed after ${noticedMs} ms`);
  });
});

test('7. a prompt sent while offline is sent once, after the reconnect', ready, async () => {
  await withServerAndBrowser({}, async ({ server, browser, api }) => {
    const session = await api.createSession(server.project, 'offline prompt');
    const { context, page } = await phone(browser);
    await openConversation(page, server, session.id);
    await context.setOffline(true);
    await offlineBanner(page).waitFor({ timeout: BANNER_PATIENCE });
    await sendPrompt(page, 'written in a tunnel');
    await page.getByText('written in a tunnel').first().waitFor();
    let events = await api.events(session.id);
    assert.equal(ofKind(events, 'prompt.queued').length, 0, 'nothing reached the server while offline');
    await context.setOffline(false);
    await page.getByText('echo: written in a tunnel').first().waitFor();
    events = await settled(api, session.id);
    const queued = ofKind(events, 'prompt.queued', (e) => promptText(e) === 'written in a tunnel');
    assert.equal(queued.length, 1, 'the prompt was queued once');
    await eventually(async () => {
      const text = await page.locator('body').innerText();
      return (text.match(/echo: written in a tunnel/g) ?? []).length === 1;
    }, 'its answer shown once');
  });
});

test('7b. a prompt whose answer is lost with the connection is resent with the same prompt_id', ready, async () => {
  await withServerAndBrowser({}, async ({ server, browser, api }) => {
    const session = await api.createSession(server.project, 'lost answer');
    const { page } = await phone(browser);
    const sent = [];
    let dropped = false;
    // Between the page and the server: the first connection that carries the prompt is cut right
    // after the prompt went through, before the server's answer reaches the page.
    await page.routeWebSocket(/\/ws(\?|$)/, (ws) => {
      const upstream = ws.connectToServer();
      ws.onMessage((message) => {
        let frame = null;
        try {
          frame = JSON.parse(message);
        } catch {}
        if (frame?.type === 'session.prompt') {
          sent.push(frame);
          upstream.send(message);
          if (!dropped) {
            dropped = true;
            ws.close({ code: 1006, reason: 'network lost' }).catch?.(() => {});
            upstream.close().catch?.(() => {});
          }
          return;
        }
        upstream.send(message);
      });
      upstream.onMessage((message) => ws.send(message));
    });
    await openConversation(page, server, session.id);
    await sendPrompt(page, 'say it once');
    await page.getByText('echo: say it once').first().waitFor();
    const events = await settled(api, session.id);
    const queued = ofKind(events, 'prompt.queued', (e) => promptText(e) === 'say it once');
    assert.equal(queued.length, 1, 'one prompt.queued');
    assert.ok(dropped, 'the connection carrying the prompt was cut');
    assert.ok(sent.length >= 1);
    const ids = new Set(sent.map((f) => f.prompt_id));
    assert.ok(sent.every((f) => typeof f.prompt_id === 'string' && f.prompt_id.length > 0), 'every session.prompt carries a prompt_id');
    assert.equal(ids.size, 1, `every send of the prompt carried the same prompt_id: ${[...ids]}`);
    assert.equal(queued[0].data.prompt_id, sent[0].prompt_id);
  });
});
