// Stories 1 and 9 of issue 16, with sign-in on: pair a new phone from the link
// `pocket-relay pair` prints and sign in (its private key never extractable); then revoke the
// device from the operator's CLI and watch the app sign out.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  skipUnlessReady, withServerAndBrowser, phone, screenshot, rest, eventually, pairPhone,
} from '../lib/harness.mjs';

const ready = skipUnlessReady();

/** Every CryptoKey the page's origin keeps in IndexedDB: where, its type, and whether it can be
 * exported (also tried: exporting a private key must fail). */
function keysInIndexedDb() {
  return (async () => {
    const found = [];
    const request = (r) => new Promise((res, rej) => { r.onsuccess = () => res(r.result); r.onerror = () => rej(r.error); });
    for (const { name } of await indexedDB.databases()) {
      const db = await request(indexedDB.open(name));
      for (const storeName of db.objectStoreNames) {
        const values = await request(db.transaction(storeName).objectStore(storeName).getAll());
        const keys = [];
        const walk = (value, path, depth) => {
          if (value instanceof CryptoKey) keys.push([value, path]);
          else if (value && typeof value === 'object' && depth < 5) for (const k of Object.keys(value)) walk(value[k], `${path}.${k}`, depth + 1);
        };
        values.forEach((v, i) => walk(v, `${name}/${storeName}[${i}]`, 0));
        for (const [key, path] of keys) {
          let exported = false;
          if (key.type === 'private') {
            try {
              await crypto.subtle.exportKey('pkcs8', key);
              exported = true;
            } catch {}
          }
          found.push({ path, type: key.type, algorithm: key.algorithm.name, extractable: key.extractable, exported });
        }
      }
      db.close();
    }
    return found;
  })();
}

test('1. pair a new phone from the printed link and sign in; its key cannot be extracted', ready, async () => {
  await withServerAndBrowser({ auth: true }, async ({ server, browser }) => {
    const { page } = await phone(browser);
    // Before pairing, the app knows sign-in is on and shows no sessions.
    const code = await pairPhone(server, page, 'alice');
    await screenshot(page, 'paired-sessions-list');
    // The URL no longer carries the code, and the code never reached the server's log.
    assert.ok(!(await page.evaluate(() => location.hash)).includes(code), 'the pairing code left the URL');
    assert.ok(!server.log().includes(code), 'the pairing code is not in the server log');
    const keys = await page.evaluate(keysInIndexedDb);
    const privates = keys.filter((k) => k.type === 'private');
    assert.ok(privates.length >= 1, `a private CryptoKey is kept in IndexedDB: ${JSON.stringify(keys)}`);
    for (const key of privates) {
      assert.equal(key.extractable, false, `${key.path} is not extractable`);
      assert.equal(key.exported, false, `${key.path} cannot be exported`);
    }
    // Signed in as alice: the device is listed as hers, and a reload stays signed in.
    const { stdout: token } = await server.cli(['token', 'issue', '--user', 'alice', '--label', 'e2e']);
    const devices = await rest(server, token.trim()).get('/api/v1/devices');
    assert.equal(devices.devices.length, 1);
    assert.equal(devices.devices[0].user, 'alice');
    await page.reload();
    await page.getByRole('heading', { name: 'Sessions' }).waitFor();
    // Sessions made by the phone belong to alice.
    await eventually(async () => (await page.getByRole('heading', { name: 'Signed out' }).count()) === 0, 'still signed in');
  });
});

test('9. revoke the device: the app signs out', ready, async () => {
  await withServerAndBrowser({ auth: true }, async ({ server, browser }) => {
    const { page } = await phone(browser);
    await pairPhone(server, page, 'alice');
    const { stdout: token } = await server.cli(['token', 'issue', '--user', 'alice', '--label', 'e2e']);
    const { devices } = await rest(server, token.trim()).get('/api/v1/devices');
    assert.equal(devices.length, 1);
    const { stdout: listed } = await server.cli(['devices', 'list']);
    assert.ok(listed.includes(devices[0].id), `devices list names ${devices[0].id}: ${listed}`);
    await server.cli(['devices', 'revoke', devices[0].id]);
    await page.getByRole('heading', { name: 'Signed out' }).waitFor();
    await screenshot(page, 'signed-out');
    // And stays signed out after a reload (its tokens are dead).
    await page.reload();
    await page.getByRole('heading', { name: 'Signed out' }).or(page.getByRole('heading', { name: /pair|sign in/i })).first().waitFor();
    assert.equal(await page.getByRole('heading', { name: 'Sessions' }).count(), 0);
  });
});
