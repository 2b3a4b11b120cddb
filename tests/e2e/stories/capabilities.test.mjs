// Issue 19, "What this CLI can do": the composer completes the session's slash commands (keyboard
// and tap), the model picker lists the CLI's models and switching works (with an effort level),
// and the mode picker offers the modes the CLI accepts (no bypass: the server does not allow it).
// The fake claude answers `initialize` like Claude Code 2.1.330.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  skipUnlessReady, withServerAndBrowser, phone, screenshot, openConversation, sendPrompt, eventually,
} from '../lib/harness.mjs';

const ready = skipUnlessReady();

/** The option values of a labelled select. */
async function options(page, label) {
  return page.getByRole('combobox', { name: label, exact: true }).evaluate((el) => [...el.options].map((o) => o.value));
}

test('the composer, the model picker and the mode picker offer what the CLI offers', ready, async () => {
  await withServerAndBrowser({}, async ({ server, browser, api }) => {
    const session = await api.createSession(server.project, 'capabilities');
    const { page } = await phone(browser);
    await openConversation(page, server, session.id);
    // Before any process ran: the pinned CLI's modes, nothing started to find out.
    await eventually(async () => (await options(page, 'Permission mode')).includes('dontAsk'), 'the pinned modes');

    await sendPrompt(page, 'hello');
    await page.getByText('echo: hello').waitFor();
    await eventually(async () => (await options(page, 'Model')).includes('fake-fast'), 'the CLI\'s models in the picker');
    assert.deepEqual(await options(page, 'Model'), ['', 'default', 'fake-model', 'fake-fast']);
    assert.deepEqual(await options(page, 'Permission mode'), ['acceptEdits', 'auto', 'default', 'dontAsk', 'plan']);

    // Slash completion with the keyboard: `/co` lists compact and code-review; ↓ Enter picks.
    const box = page.getByRole('textbox', { name: 'Message', exact: true });
    await box.fill('/co');
    const list = page.getByRole('listbox', { name: 'Slash commands' });
    await list.waitFor();
    const names = await list.getByRole('option').allTextContents();
    assert.equal(names.length, 2, names.join(' | '));
    assert.ok(names[0].startsWith('/compact'), names[0]);
    assert.ok(names[1].startsWith('/code-review'), names[1]);
    await screenshot(page, 'slash-completion');
    await box.press('ArrowDown');
    await box.press('Enter');
    assert.equal(await box.inputValue(), '/code-review ');
    await list.waitFor({ state: 'detached' });
    // By an alias, and with a tap.
    await box.fill('/rev');
    await list.getByRole('option', { name: /code-review/ }).tap();
    assert.equal(await box.inputValue(), '/code-review ');
    await box.fill('/');
    await list.getByRole('option', { name: /compact/ }).tap();
    assert.equal(await box.inputValue(), '/compact ');
    // Escape closes the list; the text stays.
    await box.fill('/c');
    await list.waitFor();
    await box.press('Escape');
    await list.waitFor({ state: 'detached' });
    assert.equal(await box.inputValue(), '/c');
    await box.fill('');

    // The model: switched on the live process; the CLI answers with it.
    await page.getByRole('combobox', { name: 'Model', exact: true }).selectOption('fake-fast');
    await eventually(async () => (await api.get(`/api/v1/sessions/${session.id}`)).session.model === 'fake-fast', 'the model changed');
    // The picker follows the session's new model once the app hears of it.
    await eventually(async () => (await options(page, 'Effort')).join() === ',low,medium', 'the efforts of fake-fast');
    await page.getByRole('combobox', { name: 'Effort', exact: true }).selectOption('low');
    await eventually(async () => (await api.get(`/api/v1/sessions/${session.id}`)).session.effort === 'low', 'the effort changed');
    await sendPrompt(page, 'model');
    await page.getByText('model: fake-fast effort: low').waitFor();
    await screenshot(page, 'model-picker');

    // The mode: one the CLI offers beyond v1's four.
    await page.getByRole('combobox', { name: 'Permission mode', exact: true }).selectOption('dontAsk');
    await eventually(async () => (await api.get(`/api/v1/sessions/${session.id}`)).session.permission_mode === 'dontAsk', 'the mode changed');
  });
});
