// Stories 2–5 of issue 16: create a session in an allowed folder and prompt it; watch text stream
// in, then the stored answer; answer permission requests (Allow, Allow always, Deny with a
// message); interrupt a slow answer. Auth off: every client is the user `local`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  skipUnlessReady, withServerAndBrowser, phone, screenshot, openConversation, sendPrompt,
  settled, ofKind, eventually, PATIENCE,
} from '../lib/harness.mjs';

const ready = skipUnlessReady();

test('2. create a session in an allowed folder and prompt it', ready, async (t) => {
  await withServerAndBrowser({}, async ({ server, browser, api }) => {
    mkdirSync(join(server.dir, 'garden'), { recursive: true });
    const { page, requests } = await phone(browser);
    await page.goto(server.url + '/');
    await page.getByRole('heading', { name: 'Sessions' }).waitFor();
    await screenshot(page, 'sessions-list-empty');
    await page.getByRole('button', { name: 'New session' }).or(page.getByRole('link', { name: 'New session' })).first().click();
    await eventually(async () => (await page.evaluate(() => location.hash)).startsWith('#/new'), 'the new-session screen');
    await screenshot(page, 'new-session');
    // The folder picker: the allowed root, then its folder `garden` (the Folder field follows).
    // Until the server answers GET /api/v1/dirs, the folder is typed into the Folder field.
    const picker = await fetch(`${server.url}/api/v1/dirs`).then((r) => r.status);
    if (picker === 404) {
      t.diagnostic('GET /api/v1/dirs answers 404 (no folder picker on this server): typing the folder');
      await page.getByRole('textbox', { name: 'Folder' }).fill(join(server.dir, 'garden'));
    } else {
      const browse = page.getByRole('region', { name: 'Browse folders' });
      await browse.getByRole('button', { name: server.dir, exact: true }).click();
      await browse.getByRole('button', { name: 'Open garden' }).click();
    }
    await eventually(
      async () => (await page.getByRole('textbox', { name: 'Folder' }).inputValue()) === join(server.dir, 'garden'),
      'the Folder field set to the picked folder',
    );
    await screenshot(page, 'new-session-picked');
    await page.getByRole('button', { name: 'Create', exact: true }).click();
    await eventually(async () => /^#\/s\//.test(await page.evaluate(() => location.hash)), 'the new conversation opening');
    const sessionId = decodeURIComponent((await page.evaluate(() => location.hash)).slice('#/s/'.length));
    const session = await api.get(`/api/v1/sessions/${sessionId}`);
    assert.equal((session.session ?? session).cwd, join(server.dir, 'garden'));

    await sendPrompt(page, 'hello from the phone');
    await page.getByText('echo: hello from the phone').waitFor();
    const events = await settled(api, sessionId);
    assert.equal(ofKind(events, 'prompt.queued').length, 1);
    await screenshot(page, 'conversation');
    // Back to the list: the session is a link named by its title or folder.
    await page.goto(server.url + '/#/');
    await page.getByRole('heading', { name: 'Sessions' }).waitFor();
    await page.getByRole('link', { name: /garden/ }).first().waitFor();
    await screenshot(page, 'sessions-list');
    // Nothing the app loaded or asked for left the machine: every request went to this server.
    const own = new URL(server.url).host;
    const elsewhere = requests.filter((url) => !/^(data|blob):/.test(url) && new URL(url).host !== own);
    assert.ok(requests.length > 0);
    assert.deepEqual(elsewhere, [], 'requests that left the server');
  });
});

test('3. text streams in as deltas, then the stored answer replaces it', ready, async () => {
  await withServerAndBrowser({}, async ({ server, browser, api }) => {
    const session = await api.createSession(server.project, 'streaming');
    const { page } = await phone(browser);
    await openConversation(page, server, session.id);
    await sendPrompt(page, 'stream 30 100');
    // Deltas: the first chunks are on screen while the answer is still being written.
    await page.getByText(/chunk 3\b/).first().waitFor();
    const midway = await api.events(session.id);
    assert.equal(ofKind(midway, 'prompt.completed').length, 0, 'chunk 3 was shown before the answer completed');
    await screenshot(page, 'conversation-streaming');
    const events = await settled(api, session.id);
    const full = Array.from({ length: 30 }, (_, i) => `chunk ${i + 1} `).join('').trim();
    const answers = ofKind(events, 'agent.output', (e) => e.data?.message?.type === 'assistant');
    assert.ok(answers.some((e) => JSON.stringify(e).includes(full)), 'the stored assistant line holds the whole text');
    // The stored answer is shown once: the streamed draft is not left next to it.
    await eventually(async () => {
      const text = await page.locator('body').innerText();
      return (text.match(/chunk 30\b/g) ?? []).length === 1 && (text.match(/chunk 1\b/g) ?? []).length === 1;
    }, 'the answer shown exactly once after it completed');
  });
});

test('4. approve a permission, allow always, deny with a message', ready, async () => {
  await withServerAndBrowser({}, async ({ server, browser, api }) => {
    const session = await api.createSession(server.project, 'permissions');
    const { page } = await phone(browser);
    await openConversation(page, server, session.id);
    const card = page.getByRole('region', { name: 'Permission request' });

    // Allow.
    await sendPrompt(page, 'permission Bash {"command":"touch allowed.txt"}');
    await card.waitFor();
    await card.getByText(/touch allowed\.txt/).first().waitFor();
    await screenshot(page, 'permission-card');
    await card.getByRole('button', { name: 'Allow', exact: true }).click();
    let events = await settled(api, session.id, 1);
    let resolved = ofKind(events, 'permission.resolved');
    assert.equal(resolved.length, 1);
    assert.equal(resolved[0].data.decision, 'allow');
    await page.getByText('tool finished').first().waitFor();
    await eventually(async () => (await card.getByRole('button', { name: 'Allow', exact: true }).count()) === 0, 'the answered card without buttons');

    // Allow always: the session remembers exactly the suggested rule.
    await sendPrompt(page, 'permission Bash {"command":"npm test"}');
    await card.getByRole('button', { name: 'Allow always' }).click();
    events = await settled(api, session.id, 2);
    resolved = ofKind(events, 'permission.resolved');
    assert.equal(resolved.length, 2);
    assert.deepEqual(resolved[1].data.rules_added, ['Bash(npm test)']);
    const info = await api.get(`/api/v1/sessions/${session.id}`);
    assert.deepEqual((info.session ?? info).allowed_rules, ['Bash(npm test)']);

    // Deny with a message: the card's own text field (not the composer) carries it.
    await sendPrompt(page, 'permission Bash {"command":"rm -rf build"}');
    await card.getByRole('button', { name: 'Deny' }).waitFor();
    const reason = card.getByRole('textbox');
    assert.ok((await reason.count()) > 0, 'the permission card offers a text field for the deny message');
    await reason.first().fill('not that folder');
    await card.getByRole('button', { name: 'Deny' }).click();
    events = await settled(api, session.id, 3);
    resolved = ofKind(events, 'permission.resolved');
    assert.equal(resolved.length, 3);
    assert.equal(resolved[2].data.decision, 'deny');
    const denial = ofKind(events, 'agent.output', (e) => JSON.stringify(e).includes('not that folder'));
    assert.ok(denial.length >= 1, 'Claude was told the deny message');
    await page.getByText('tool denied').first().waitFor();
  });
});

test('5. interrupt a slow answer', ready, async () => {
  await withServerAndBrowser({}, async ({ server, browser, api }) => {
    const session = await api.createSession(server.project, 'slow');
    const { page } = await phone(browser);
    await openConversation(page, server, session.id);
    await sendPrompt(page, 'slow 100 200');
    await page.getByText(/^line 2$/).or(page.getByText(/\bline 2\b/)).first().waitFor();
    await page.getByRole('button', { name: 'Interrupt' }).click();
    const events = await settled(api, session.id);
    const completed = ofKind(events, 'prompt.completed');
    const failed = ofKind(events, 'prompt.failed');
    const outcome = JSON.stringify([...completed, ...failed]);
    assert.match(outcome, /interrupt|error_during_execution|aborted/i, `the prompt ended interrupted: ${outcome}`);
    const lines = ofKind(events, 'agent.output', (e) => /"line \d+"/.test(JSON.stringify(e))).length;
    assert.ok(lines < 100, `interrupted well before the end (${lines} of 100 lines)`);
    // The composer is usable again: the session went back to idle and the Interrupt button left.
    await eventually(async () => (await page.getByRole('button', { name: 'Interrupt' }).count()) === 0 ||
      !(await page.getByRole('button', { name: 'Interrupt' }).isEnabled()), 'Interrupt gone once the turn ended', PATIENCE);
  });
});
