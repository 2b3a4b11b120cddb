// Story 8 of issue 16: two phones race to answer one permission request: exactly one answer
// counts, and the other phone's card says another device answered.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  skipUnlessReady, withServerAndBrowser, phone, screenshot, openConversation, settled, ofKind,
  eventually,
} from '../lib/harness.mjs';

const ready = skipUnlessReady();

test('8. two devices race to answer one permission: one wins, the other is told', ready, async () => {
  await withServerAndBrowser({}, async ({ server, browser, api }) => {
    const session = await api.createSession(server.project, 'race');
    const one = await phone(browser);
    const two = await phone(browser);
    await openConversation(one.page, server, session.id);
    await openConversation(two.page, server, session.id);
    await api.post(`/api/v1/sessions/${session.id}/prompts`, { text: 'permission Bash {"command":"make deploy"}' });
    const cards = [one.page, two.page].map((p) => p.getByRole('region', { name: 'Permission request' }));
    const allow = cards.map((card) => card.getByRole('button', { name: 'Allow', exact: true }));
    await Promise.all(allow.map((button) => button.waitFor()));
    // Both tap at once (a tap that finds its button gone has lost the race).
    const taps = await Promise.allSettled(allow.map((button) => button.tap({ timeout: 3000 })));
    const events = await settled(api, session.id);
    const resolved = ofKind(events, 'permission.resolved');
    assert.equal(resolved.length, 1, 'the request was resolved exactly once');
    assert.equal(resolved[0].data.decision, 'allow');
    assert.ok(taps.some((t) => t.status === 'fulfilled'), 'at least one tap landed');
    const told = await eventually(async () => {
      // An answered card is no longer the request's region: read the whole conversation.
      const texts = await Promise.all([one.page, two.page].map((p) => p.locator('body').innerText()));
      const saying = texts.map((t) => /another device/i.test(t));
      return saying.filter(Boolean).length === 1 ? saying : null;
    }, 'exactly one card saying another device answered');
    await screenshot(told[0] ? one.page : two.page, 'permission-answered-elsewhere');
    // The winner's card shows no buttons any more either.
    for (const button of allow) assert.equal(await button.count(), 0);
    await one.context.close();
    await two.context.close();
  });
});

// The app keeps the connection ids it has had (the server's `permission.resolved` names the
// answering connection in `by.connection_id`) and the requests it answered, across reloads.
test('8b. after a reload, a permission this phone answered is not said to be answered elsewhere', ready, async () => {
  await withServerAndBrowser({}, async ({ server, browser, api }) => {
    const session = await api.createSession(server.project, 'reload after answering');
    const { page } = await phone(browser);
    await openConversation(page, server, session.id);
    await api.post(`/api/v1/sessions/${session.id}/prompts`, { text: 'permission Bash {"command":"make"}' });
    await page.getByRole('region', { name: 'Permission request' }).getByRole('button', { name: 'Allow', exact: true }).click();
    await settled(api, session.id);
    await page.getByText('tool finished').first().waitFor();
    assert.doesNotMatch(await page.locator('body').innerText(), /another device/i);
    await page.getByText('Allowed here').first().waitFor();
    await page.reload();
    await page.getByText('tool finished').first().waitFor();
    assert.doesNotMatch(await page.locator('body').innerText(), /another device/i, 'after the reload');
    await page.getByText('Allowed here').first().waitFor();
  });
});
