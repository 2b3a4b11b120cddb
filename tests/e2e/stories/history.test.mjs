// Issue 19: a conversation started at the desk shows on the History screen; the phone previews it
// and continues it, with the earlier messages above the new reply, and offers it back to the
// terminal. The server reads Claude Code's files from its HOME (a scratch one here).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { skipUnlessReady, withServerAndBrowser, phone, screenshot, sendPrompt, eventually, openConversation } from '../lib/harness.mjs';

const ready = skipUnlessReady();
const ID = '6652a9e8-3aee-4cc6-8d8a-837ae4f5fd6d';

test('19. the history lists a desk conversation; continue it here, the earlier messages above the reply', ready, async () => {
  const home = mkdtempSync(join(tmpdir(), 'pocket-relay-e2e-home-'));
  const oldHome = process.env.HOME;
  process.env.HOME = home; // the server started next reads ~/.claude here
  try {
    await withServerAndBrowser({}, async ({ server, browser }) => {
      const desk = join(server.dir, 'garden');
      mkdirSync(desk, { recursive: true });
      const project = join(home, '.claude', 'projects', desk.replaceAll('/', '-'));
      mkdirSync(project, { recursive: true });
      const ts = '2026-05-01T10:00:00.000Z';
      const lines = [
        { type: 'user', cwd: desk, gitBranch: 'main', timestamp: ts, uuid: 'u1', sessionId: ID, message: { role: 'user', content: 'plan the vegetable beds' } },
        { type: 'attachment', attachment: { type: 'date' }, timestamp: ts },
        { type: 'assistant', timestamp: ts, uuid: 'u2', message: { role: 'assistant', content: [{ type: 'text', text: 'Use **raised beds** <img src=x onerror=alert(1)>' }] } },
      ];
      writeFileSync(join(project, `${ID}.jsonl`), lines.map((l) => JSON.stringify(l)).join('\n') + '\n');

      const { page } = await phone(browser);
      await page.goto(server.url + '/#/history');
      await page.getByRole('heading', { name: 'Claude Code history' }).waitFor();
      const link = page.getByRole('link', { name: 'plan the vegetable beds' });
      await link.waitFor();
      await page.getByText('2 messages').waitFor();
      await screenshot(page, 'history-list');
      await link.click();
      await page.getByText('raised beds').first().waitFor();
      assert.equal(await page.locator('img').count(), 0, 'the model text is never HTML');
      await screenshot(page, 'history-preview');
      await page.getByRole('button', { name: 'Continue here' }).click();
      await eventually(async () => /^#\/s\//.test(await page.evaluate(() => location.hash)), 'the continued session opening');
      await page.getByText('Earlier in this conversation').waitFor();
      await page.getByText('raised beds').first().waitFor();
      await sendPrompt(page, 'and the tomatoes?');
      const reply = page.getByText('echo: and the tomatoes?');
      await reply.waitFor();
      // The earlier conversation is above the new turn.
      const earlierY = (await page.getByText('plan the vegetable beds').first().boundingBox()).y;
      const replyY = (await reply.boundingBox()).y;
      assert.ok(earlierY < replyY, `earlier (${earlierY}) above the reply (${replyY})`);
      await page.getByText('Continue in terminal').click();
      await page.getByText(`claude --resume ${ID}`).waitFor();
      await screenshot(page, 'history-continued');

      // Another phone, which never saw the history screen, shows the same earlier messages.
      const sessionId = decodeURIComponent((await page.evaluate(() => location.hash)).replace(/^#\/s\//, ''));
      const { page: other } = await phone(browser);
      await openConversation(other, server, sessionId);
      await other.getByText('Earlier in this conversation').waitFor();
      await other.getByText('plan the vegetable beds').first().waitFor();
      await other.getByText('echo: and the tomatoes?').waitFor();
      const otherEarlierY = (await other.getByText('plan the vegetable beds').first().boundingBox()).y;
      const otherReplyY = (await other.getByText('echo: and the tomatoes?').boundingBox()).y;
      assert.ok(otherEarlierY < otherReplyY, `on the other phone too: earlier (${otherEarlierY}) above the reply (${otherReplyY})`);
    });
  } finally {
    process.env.HOME = oldHome;
    rmSync(home, { recursive: true, force: true });
  }
});
