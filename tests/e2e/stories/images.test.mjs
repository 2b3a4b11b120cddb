// Images on prompts (issue 19): attach from the gallery (several at once) and the camera input,
// see previews and remove one, send; a large photo is scaled down on the phone to fit the
// server's limit; the fake Claude receives the images as content blocks before the text; the
// conversation shows them, and again after a reload (fetched from the image route).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  skipUnlessReady, withServerAndBrowser, phone, screenshot, openConversation,
  settled, ofKind, eventually,
} from '../lib/harness.mjs';

const ready = skipUnlessReady();

/** A real 1×1 PNG. */
const TINY_PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==',
  'base64',
);

/** A PNG of random noise (which compresses badly, like a photo), `width`×`height`, made by the
 * browser's own encoder. */
async function noisePng(page, width, height) {
  const base64 = await page.evaluate(([w, h]) => {
    const canvas = document.createElement('canvas');
    canvas.width = w;
    canvas.height = h;
    const ctx = canvas.getContext('2d');
    const pixels = ctx.createImageData(w, h);
    for (let at = 0; at < pixels.data.length; at += 65536) {
      crypto.getRandomValues(pixels.data.subarray(at, at + 65536));
    }
    for (let a = 3; a < pixels.data.length; a += 4) pixels.data[a] = 255;
    ctx.putImageData(pixels, 0, 0);
    return canvas.toDataURL('image/png').slice('data:image/png;base64,'.length);
  }, [width, height]);
  return Buffer.from(base64, 'base64');
}

const MAX_IMAGE_BYTES = 200_000;

/** The natural width of the <img> named `name` once it has loaded. */
async function loadedWidth(page, name) {
  const img = page.getByRole('img', { name, exact: true });
  await img.waitFor();
  return eventually(() => img.evaluate((el) => el.complete && el.naturalWidth), `${name} loading`);
}

test('attach images from the gallery and the camera, remove one, send; the conversation shows them', ready, async () => {
  const limits = [`max_image_bytes = ${MAX_IMAGE_BYTES}`];
  await withServerAndBrowser({ limits }, async ({ server, browser, api }) => {
    const session = await api.createSession(server.project, 'pictures');
    const { page, errors } = await phone(browser);
    await openConversation(page, server, session.id);

    // The camera input asks for the back camera; the gallery takes several images.
    const camera = page.getByLabel('Take a photo');
    const gallery = page.getByLabel('Attach images');
    assert.equal(await camera.getAttribute('capture'), 'environment');
    assert.equal(await camera.getAttribute('accept'), 'image/*');
    assert.equal(await gallery.getAttribute('multiple'), '');

    // A photo far over the limit and wider than Claude uses, plus a tiny screenshot.
    const photo = await noisePng(page, 2400, 300);
    assert.ok(photo.length > 5 * MAX_IMAGE_BYTES, `the photo is ${photo.length} bytes`);
    await gallery.setInputFiles([
      { name: 'tiny.png', mimeType: 'image/png', buffer: TINY_PNG },
      { name: 'photo.png', mimeType: 'image/png', buffer: photo },
    ]);
    const previews = page.getByRole('list', { name: 'Attached images' });
    await previews.getByRole('img', { name: 'Attached image 2' }).waitFor();
    // Removing the first leaves the photo, now first.
    await page.getByRole('button', { name: 'Remove image 1' }).click();
    await eventually(async () => (await previews.getByRole('img').count()) === 1, 'one preview left');
    assert.equal(await page.getByRole('button', { name: 'Remove image 2' }).count(), 0);
    await gallery.setInputFiles([{ name: 'tiny.png', mimeType: 'image/png', buffer: TINY_PNG }]);
    await previews.getByRole('img', { name: 'Attached image 2' }).waitFor();
    await screenshot(page, 'images-attached');

    await page.getByRole('textbox', { name: 'Message', exact: true }).fill('describe');
    await page.getByRole('button', { name: 'Send', exact: true }).click();
    const events = await settled(api, session.id);
    const [queued] = ofKind(events, 'prompt.queued');
    const images = queued.data.images;
    assert.equal(images.length, 2, JSON.stringify(queued));
    assert.equal(images[0].media_type, 'image/jpeg', 'the photo was re-encoded as JPEG');
    assert.ok(images[0].bytes <= MAX_IMAGE_BYTES, `the photo is ${images[0].bytes} bytes`);
    assert.deepEqual(images[1], { media_type: 'image/png', bytes: TINY_PNG.length });
    // The fake Claude got both as image blocks, then the text.
    const [done] = ofKind(events, 'prompt.completed');
    const content = JSON.parse(done.data.result);
    assert.deepEqual(content.map((b) => b.type), ['image', 'image', 'text']);
    assert.equal(content[0].source.media_type, 'image/jpeg');
    assert.deepEqual(content[1].source, { type: 'base64', media_type: 'image/png', data: TINY_PNG.toString('base64') });
    assert.equal(content[2].text, 'describe');

    // The conversation shows them: the photo scaled to Claude's 1568 pixels, the tiny one as is.
    assert.equal(await loadedWidth(page, 'Image 1'), 1568);
    assert.equal(await loadedWidth(page, 'Image 2'), 1);
    assert.equal(await previews.count(), 0, 'the composer is empty again');
    await screenshot(page, 'images-sent');

    // After a reload they come from the server.
    await page.reload();
    await page.getByRole('textbox', { name: 'Message', exact: true }).waitFor();
    assert.equal(await loadedWidth(page, 'Image 1'), 1568);
    assert.equal(await loadedWidth(page, 'Image 2'), 1);

    // A photo without words from the camera input is a prompt of its own.
    await camera.setInputFiles([{ name: 'shot.png', mimeType: 'image/png', buffer: TINY_PNG }]);
    await previews.getByRole('img', { name: 'Attached image 1' }).waitFor();
    await page.getByRole('button', { name: 'Send', exact: true }).click();
    const after = await settled(api, session.id, 2);
    const second = ofKind(after, 'prompt.queued')[1];
    assert.equal(second.data.text, '');
    assert.deepEqual(second.data.images, [{ media_type: 'image/png', bytes: TINY_PNG.length }]);
    assert.deepEqual(errors, []);
  });
});

test('a file that is no image is refused in the composer, nothing is sent', ready, async () => {
  await withServerAndBrowser({}, async ({ server, browser, api }) => {
    const session = await api.createSession(server.project, 'not a picture');
    const { page } = await phone(browser);
    await openConversation(page, server, session.id);
    await page.getByLabel('Attach images').setInputFiles([
      { name: 'notes.png', mimeType: 'image/png', buffer: Buffer.from('just some text, not a picture') },
    ]);
    await page.getByRole('alert').filter({ hasText: 'notes.png: This file is not an image the browser can read' }).waitFor();
    assert.equal(await page.getByRole('list', { name: 'Attached images' }).count(), 0);
    assert.equal(await page.getByRole('button', { name: 'Send', exact: true }).isDisabled(), true);
    const events = await api.events(session.id);
    assert.equal(ofKind(events, 'prompt.queued').length, 0);
  });
});
