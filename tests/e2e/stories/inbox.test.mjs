// Issue 18's approval inbox in the app: the header's badge counts the requests waiting over all
// sessions (on the sessions list and in a conversation), the Approvals screen shows one card per
// request with its session, answering there removes the card, and a request answered by another
// client vanishes from the open inbox (and its notification from the tray) without a reload.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  skipUnlessReady, withServerAndBrowser, phone, screenshot, settled, ofKind, eventually,
} from '../lib/harness.mjs';

const ready = skipUnlessReady();

/** The pending list over REST, once it holds `n` requests. */
async function pendingOnce(api, n) {
  return eventually(async () => {
    const { permissions } = await api.get('/api/v1/permissions?status=pending');
    return permissions.length === n ? permissions : null;
  }, `${n} pending request(s) over REST`);
}

/** The badge's count as shown ('' when there is none). */
async function badgeCount(page) {
  const count = page.getByTestId('inbox-count');
  return (await count.count()) ? (await count.innerText()).trim() : '';
}

test('18. the inbox badge and screen: cards from two sessions, answered here and elsewhere', ready, async () => {
  await withServerAndBrowser({}, async ({ server, browser, api }) => {
    const alpha = await api.createSession(server.project, 'alpha');
    await api.post(`/api/v1/sessions/${alpha.id}/prompts`, { text: 'permission Bash {"command":"make alpha"}' });
    await pendingOnce(api, 1);
    const beta = await api.createSession(server.project, 'beta');
    await api.post(`/api/v1/sessions/${beta.id}/prompts`, { text: 'permission Bash {"command":"<img src=x onerror=window.__pwned=1> beta"}' });
    const listed = await pendingOnce(api, 2);
    assert.deepEqual(listed.map((p) => p.session_title), ['alpha', 'beta']);

    const { context, page, errors } = await phone(browser);
    await context.grantPermissions(['notifications']);
    // The sessions list shows the count…
    await page.goto(`${server.url}/#/`);
    const badge = page.getByRole('link', { name: 'Approvals: 2 waiting' });
    await badge.waitFor();
    assert.equal(await badgeCount(page), '2');
    // …and so does a conversation's header.
    await page.goto(`${server.url}/#/s/${alpha.id}`);
    await page.getByRole('textbox', { name: 'Message', exact: true }).waitFor();
    await badge.waitFor();
    await screenshot(page, 'inbox-badge-in-conversation');

    // The badge leads to the inbox: both cards, oldest first, each under its session's title.
    await badge.click();
    await page.waitForURL(/#\/inbox$/);
    await page.getByRole('heading', { name: 'Approvals' }).waitFor();
    const cards = page.getByRole('region', { name: 'Permission request' });
    await eventually(async () => (await cards.count()) === 2, 'two cards');
    const entries = page.locator('.inbox-entry');
    assert.deepEqual(await entries.locator('.session-link').allInnerTexts(), ['alpha', 'beta']);
    assert.match(await entries.nth(0).innerText(), /make alpha/);
    // A tool's text is shown as text, never run as markup.
    assert.match(await entries.nth(1).innerText(), /<img src=x onerror=window.__pwned=1> beta/);
    assert.equal(await page.evaluate(() => window.__pwned), undefined);
    await screenshot(page, 'inbox-two-sessions');

    // A notification the service worker showed for beta's request (as a push would).
    await page.waitForFunction(() => navigator.serviceWorker?.controller, null, { timeout: 15_000 });
    const tag = `pocket-relay:${beta.id}:approval`;
    const shown = await page.evaluate(async (tag) => {
      const registration = await navigator.serviceWorker.ready;
      await registration.showNotification('Claude needs your approval', { tag, body: 'in beta' });
      return (await registration.getNotifications({ tag })).length;
    }, tag);
    assert.equal(shown, 1, 'the browser shows the notification');

    // Allow alpha's request here: its card goes, the badge says 1.
    await entries.nth(0).getByRole('button', { name: 'Allow', exact: true }).click();
    await page.getByRole('link', { name: 'Approvals: 1 waiting' }).waitFor();
    await eventually(async () => (await cards.count()) === 1, 'one card left');
    const alphaEvents = await settled(api, alpha.id);
    assert.equal(ofKind(alphaEvents, 'permission.resolved')[0].data.decision, 'allow');
    assert.equal(await entries.locator('.session-link').innerText(), 'beta');

    // Another client denies beta's request over REST: it vanishes from the open inbox, and the
    // notification about it leaves the tray, without a reload.
    const navigations = [];
    page.on('framenavigated', (frame) => navigations.push(frame.url()));
    await api.post(`/api/v1/sessions/${beta.id}/permissions/${listed[1].request_id}`, { decision: 'deny' });
    await page.getByText('Nothing waits for your approval.').waitFor();
    assert.equal(await cards.count(), 0);
    await page.getByRole('link', { name: 'Approvals: none waiting' }).waitFor();
    assert.equal(await badgeCount(page), '');
    await eventually(
      () => page.evaluate(async (tag) => {
        const registration = await navigator.serviceWorker.ready;
        return (await registration.getNotifications({ tag })).length === 0;
      }, tag),
      'the notification closed',
    );
    assert.deepEqual(navigations, [], 'no reload');

    // A new request shows up live in the open inbox.
    await api.post(`/api/v1/sessions/${alpha.id}/prompts`, { text: 'permission Bash {"command":"make again"}' });
    await eventually(async () => (await cards.count()) === 1, 'the new card');
    assert.match(await entries.nth(0).innerText(), /make again/);
    await page.getByRole('link', { name: 'Approvals: 1 waiting' }).waitFor();
    await entries.nth(0).getByRole('button', { name: 'Deny', exact: true }).click();
    await page.getByText('Nothing waits for your approval.').waitFor();
    const again = await settled(api, alpha.id, 2);
    assert.equal(ofKind(again, 'permission.resolved').at(-1).data.decision, 'deny');
    assert.deepEqual((await api.get('/api/v1/permissions')).permissions, []);
    assert.deepEqual(errors, []);
    await context.close();
  });
});
