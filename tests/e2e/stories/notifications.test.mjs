// Issue 18, the phone's side: the person turns notifications on in the app (the permission is asked
// on their tap), Claude asks for a permission while the phone shows another screen, the relay pushes
// (to a fake push service here: headless Chromium has none), and the exact payload it sent, decrypted,
// is handed to the app's service worker. The notification says only that Claude needs approval and
// where; its Allow answers the request from the service worker (signed in with the device key), and
// first answer wins: a second Allow says "Already answered". A `resolved` push closes it by its tag.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  skipUnlessReady, withServerAndBrowser, phone, screenshot, rest, eventually, pairPhone, ofKind, settled,
} from '../lib/harness.mjs';
import { fakePushService, stubPushManager, serviceWorkerPush, shownNotifications, clickNotification } from '../lib/push.mjs';

const ready = skipUnlessReady();

/** What the page's app told the relay it shows (`client.viewing`), in the order the relay
 * acknowledged it, over every WebSocket of the page (as the browser sent and got the frames). */
function viewingLog(page) {
  const acknowledged = [];
  page.on('websocket', (socket) => {
    const sent = new Map();
    socket.on('framesent', ({ payload }) => {
      try {
        const f = JSON.parse(String(payload));
        if (f.type === 'client.viewing') sent.set(f.id, f.session_id);
      } catch {}
    });
    socket.on('framereceived', ({ payload }) => {
      try {
        const f = JSON.parse(String(payload));
        if (f.type === 'response' && sent.has(f.id) && f.ok) acknowledged.push(sent.get(f.id));
      } catch {}
    });
  });
  return {
    acknowledged,
    /** Waits until the relay acknowledged `sessionId` (null: none) after the first `since` acknowledgements. */
    told: (sessionId, since) => eventually(() => acknowledged.slice(since).includes(sessionId), `the app telling the relay it shows ${sessionId}`),
  };
}

/** The person turns notifications on: Devices, Notification settings (the browser asks nothing before). */
async function turnOn(page) {
  await page.getByRole('link', { name: 'Devices' }).click();
  await page.getByRole('link', { name: 'Notification settings' }).click();
  await page.getByRole('heading', { name: 'Notifications' }).waitFor();
  await page.getByRole('status').filter({ hasText: 'This device gets no notifications.' }).waitFor();
  await page.getByRole('button', { name: 'Turn on notifications on this device' }).click();
  await page.getByRole('status').filter({ hasText: 'This device gets notifications.' }).waitFor();
}

test('18. a permission request reaches the phone as a notification; Allow on it answers, first answer wins', ready, async () => {
  const push = await fakePushService();
  try {
    // Every notification goes at once (no coalescing window, which the relay's own tests cover): a
    // push held back for the phone showing its session is then told apart from one coalesced away.
    await withServerAndBrowser({ auth: true, extra: '[notify]\ncoalesce_ms = 0\n' }, async ({ server, browser }) => {
      const { context, page, errors } = await phone(browser);
      const viewing = viewingLog(page);
      await context.grantPermissions(['notifications'], { origin: server.url });
      await stubPushManager(context, push);
      await pairPhone(server, page, 'alice');
      const { stdout } = await server.cli(['token', 'issue', '--user', 'alice', '--label', 'e2e']);
      const api = rest(server, stdout.trim());
      const [device] = (await api.get('/api/v1/devices')).devices;

      // Nothing is asked on load; the person turns notifications on from the Notifications screen.
      await turnOn(page);
      await screenshot(page, 'notifications-on');
      const { public_key } = await api.get('/api/v1/push/vapid');
      assert.equal(await page.evaluate(() => localStorage.getItem('e2e.applicationServerKey')), public_key, 'subscribed with the relay\'s VAPID key');
      const { subscriptions } = await api.get('/api/v1/push/subscriptions');
      assert.equal(subscriptions.length, 1);
      assert.equal(subscriptions[0].device_id, device.id, 'the subscription belongs to the phone');
      assert.equal(subscriptions[0].endpoint_host, new URL(push.endpoint).host);
      // The level: everything by default, saved on a tap.
      const approvalsOnly = page.getByRole('radio', { name: /Only when Claude needs my approval/ });
      await page.getByRole('radio', { name: /^Everything/ }).and(page.locator(':checked')).waitFor();
      await approvalsOnly.check();
      await eventually(async () => (await api.get('/api/v1/notifications/settings')).level === 'approvals', 'the level saved');
      await page.getByRole('radio', { name: /^Everything/ }).check();
      await eventually(async () => (await api.get('/api/v1/notifications/settings')).level === 'all', 'the level saved back');

      // Claude asks while the phone shows the sessions list.
      await page.goto(`${server.url}/#/`);
      await page.getByRole('heading', { name: 'Sessions' }).waitFor();
      const sw = await serviceWorkerPush(context, page, server.url);
      const session = await api.createSession(server.project, 'deploy box');
      await api.post(`/api/v1/sessions/${session.id}/prompts`, { text: 'permission Bash {"command":"touch secret-plan.txt"}' });
      const requested = await eventually(async () => ofKind(await api.events(session.id), 'permission.requested')[0], 'the permission request stored');
      const requestId = requested.data.request_id;
      const { payload, text } = await push.next((p) => p.kind === 'approval' && p.request_id === requestId, 'the approval push');
      const tag = `pocket-relay:${session.id}:approval`;
      assert.equal(payload.tag, tag);
      assert.ok(!text.includes('touch') && !text.includes('secret-plan'), `no content in the payload by default: ${text}`);

      // The service worker shows it: title, where, the tag, Allow and Deny.
      await sw.deliver(text);
      const [shown] = await eventually(async () => {
        const list = await shownNotifications(page, tag);
        return list.length ? list : null;
      }, 'the notification shown');
      assert.equal(shown.title, 'Claude needs your approval');
      assert.match(shown.body, /deploy box/);
      assert.ok(!/touch|secret-plan/.test(shown.title + shown.body), 'no tool content in the notification');
      assert.deepEqual(shown.actions, [{ action: 'allow', title: 'Allow' }, { action: 'deny', title: 'Deny' }]);
      assert.equal(shown.data.request_id, requestId);

      // Allow, from the notification: the relay resolves it as allowed and the session goes on.
      await clickNotification(context, tag, 'allow');
      const events = await settled(api, session.id, 1);
      const resolved = ofKind(events, 'permission.resolved');
      assert.equal(resolved.length, 1);
      assert.equal(resolved[0].data.request_id, requestId);
      assert.equal(resolved[0].data.decision, 'allow');
      assert.equal(ofKind(events, 'prompt.completed').length, 1, 'the prompt completed after the allow');
      assert.deepEqual(await shownNotifications(page, tag), [], 'the answered notification closed');

      // The same notification again (another device's tray, a late push): Allow says it was answered.
      await sw.deliver(text);
      await eventually(async () => (await shownNotifications(page, tag)).length === 1, 'shown again');
      await clickNotification(context, tag, 'allow');
      const [already] = await shownNotifications(page, tag);
      assert.equal(already.title, 'Already answered on another device');
      assert.deepEqual(already.actions, []);
      assert.equal(ofKind(await api.events(session.id), 'permission.resolved').length, 1, 'still one answer');

      // The relay's own `resolved` push for that request closes whatever is left under the tag.
      const gone = await push.next((p) => p.kind === 'resolved' && p.request_id === requestId, 'the resolved push');
      assert.equal(gone.payload.count, 0);
      assert.equal(gone.payload.tag, tag);
      await sw.deliver(gone.text);
      await eventually(async () => (await shownNotifications(page, tag)).length === 0, 'closed by the resolved push');

      // A payload the app cannot read shows the generic notification, never an error.
      await sw.deliver('<b>not json</b>');
      const generic = await eventually(async () => (await shownNotifications(page, 'pocket-relay:update'))[0], 'the generic notification');
      assert.equal(generic.title, 'pocket-relay');

      // The prompt finished: "Claude finished", no buttons; a tap opens the app at the session.
      const finished = await push.next((p) => p.kind === 'completed' && p.session_id === session.id, 'the finished push');
      const statusTag = `pocket-relay:${session.id}:status`;
      await sw.deliver(finished.text);
      const done = await eventually(async () => (await shownNotifications(page, statusTag))[0], 'the finished notification');
      assert.equal(done.title, 'Claude finished');
      assert.match(done.body, /deploy box/);
      assert.deepEqual(done.actions, []);
      const beforeTap = viewing.acknowledged.length;
      await clickNotification(context, statusTag, '');
      await page.waitForURL(`**/#/s/${session.id}`);
      await viewing.told(session.id, beforeTap);
      assert.deepEqual(await shownNotifications(page, statusTag), [], 'the tapped notification closed');
      // The conversation knows its first request was answered from this phone's notification.
      await page.getByText('Allowed here').first().waitFor();
      await sw.detach();

      // The session's own level, in the conversation's menu; and a phone that shows the session gets no
      // push about it (it told the relay with `client.viewing`).
      await page.getByRole('textbox', { name: 'Message', exact: true }).waitFor();
      await page.getByRole('button', { name: 'Session menu' }).click();
      const level = page.getByRole('combobox', { name: 'Notifications for this session' });
      await level.waitFor();
      await screenshot(page, 'session-menu');
      await level.selectOption('approvals');
      await eventually(async () => (await api.get('/api/v1/notifications/settings')).sessions[session.id] === 'approvals', 'the session level saved');
      await level.selectOption('follow');
      await eventually(async () => !(session.id in (await api.get('/api/v1/notifications/settings')).sessions), 'the session follows the user again');
      await api.post(`/api/v1/sessions/${session.id}/prompts`, { text: 'permission Bash {"command":"ls"}' });
      const watched = await eventually(async () => ofKind(await api.events(session.id), 'permission.requested')[1], 'the second request stored');
      await page.getByRole('region', { name: 'Permission request' }).getByRole('button', { name: 'Allow', exact: true }).click();
      await settled(api, session.id, 2);
      // Its `resolved` push (sent to every device) comes after the approval push would have.
      await push.next((p) => p.kind === 'resolved' && p.request_id === watched.data.request_id, 'the resolved push of the watched request');
      assert.ok(
        !push.received.some((p) => p.payload?.kind === 'approval' && p.payload.request_id === watched.data.request_id),
        'no push for the request made while the phone showed its session',
      );
      // A new connection (a reload) says again what it shows: still no push.
      const beforeReload = viewing.acknowledged.length;
      await page.reload();
      await viewing.told(session.id, beforeReload);
      await api.post(`/api/v1/sessions/${session.id}/prompts`, { text: 'permission Bash {"command":"whoami"}' });
      const again = await eventually(async () => ofKind(await api.events(session.id), 'permission.requested')[2], 'the request after the reload stored');
      await page.getByRole('region', { name: 'Permission request' }).getByRole('button', { name: 'Allow', exact: true }).click();
      await settled(api, session.id, 3);
      await push.next((p) => p.kind === 'resolved' && p.request_id === again.data.request_id, 'the resolved push of the request after the reload');
      assert.ok(
        !push.received.some((p) => p.payload?.kind === 'approval' && p.payload.request_id === again.data.request_id),
        'no push for the request made while the reloaded phone showed its session',
      );
      const beforeLeaving = viewing.acknowledged.length;
      await page.goto(`${server.url}/#/`);
      await page.getByRole('heading', { name: 'Sessions' }).waitFor();
      await viewing.told(null, beforeLeaving);
      await api.post(`/api/v1/sessions/${session.id}/prompts`, { text: 'permission Bash {"command":"pwd"}' });
      const third = await eventually(async () => ofKind(await api.events(session.id), 'permission.requested')[3], 'the request made after leaving stored');
      await push.next((p) => p.kind === 'approval' && p.request_id === third.data.request_id, 'the push for the request made once the phone left the session');

      // Turning it off: the relay forgets the subscription.
      await page.goto(`${server.url}/#/notifications`);
      await page.getByRole('button', { name: 'Turn off notifications on this device' }).click();
      await page.getByRole('status').filter({ hasText: 'This device gets no notifications.' }).waitFor();
      assert.deepEqual((await api.get('/api/v1/push/subscriptions')).subscriptions, []);
      assert.deepEqual(errors, []);
    });
  } finally {
    await push.close();
  }
});

test('18b. Allow on a notification in a browser that was never paired opens the app instead', ready, async () => {
  await withServerAndBrowser({ auth: true }, async ({ server, browser }) => {
    const { context, page, requests } = await phone(browser);
    await context.grantPermissions(['notifications'], { origin: server.url });
    await page.goto(`${server.url}/#/`);
    await page.waitForFunction(() => Boolean(navigator.serviceWorker?.controller));
    const sw = await serviceWorkerPush(context, page, server.url);
    const sessionId = '7d0c3b52-5a8e-4a8e-9d0c-1f0e2b3c4d5e';
    const tag = `pocket-relay:${sessionId}:approval`;
    // A payload as the relay makes it (docs/protocol.md, "Push payload").
    await sw.deliver(JSON.stringify({
      v: 1, id: 'e2e-1', kind: 'approval', session_id: sessionId, tag, title: 'Claude needs your approval',
      body: 'in elsewhere', url: `/#/s/${sessionId}`, count: 1, request_id: 'req-e2e',
    }));
    await eventually(async () => (await shownNotifications(page, tag)).length === 1, 'the notification shown');
    await clickNotification(context, tag, 'allow');
    assert.deepEqual(await shownNotifications(page, tag), [], 'the notification closed');
    await page.waitForURL(`**/#/s/${sessionId}`);
    assert.ok(!requests.some((u) => u.includes('/permissions/')), 'no answer was attempted without a device key');
    await sw.detach();
  });
});

test('18c. ten requests in a second are one notification that says ten; answered elsewhere, it counts down and closes', ready, async () => {
  const push = await fakePushService();
  try {
    // The relay's default coalescing window (1 s).
    await withServerAndBrowser({ auth: true }, async ({ server, browser }) => {
      const { context, page } = await phone(browser);
      await context.grantPermissions(['notifications'], { origin: server.url });
      await stubPushManager(context, push);
      await pairPhone(server, page, 'alice');
      const { stdout } = await server.cli(['token', 'issue', '--user', 'alice', '--label', 'e2e']);
      const api = rest(server, stdout.trim());
      await turnOn(page);
      const sw = await serviceWorkerPush(context, page, server.url);
      const session = await api.createSession(server.project, 'burst');
      const tag = `pocket-relay:${session.id}:approval`;
      await api.post(`/api/v1/sessions/${session.id}/prompts`, { text: 'permissions 10 Bash' });
      const requests = await eventually(async () => {
        const asked = ofKind(await api.events(session.id), 'permission.requested');
        return asked.length === 10 ? asked : null;
      }, 'ten requests stored');

      // The first push went at once (one request, with its buttons); the update says ten.
      const update = await push.next((p) => p.kind === 'approval' && p.count === 10, 'the coalesced update');
      const approvals = push.received.filter((p) => p.payload?.kind === 'approval');
      assert.equal(approvals.length, 2, `one push at once and one update: ${JSON.stringify(approvals.map((p) => p.payload.count))}`);
      assert.equal(approvals[0].payload.count, 1);
      await sw.deliver(approvals[0].text);
      const first = await eventually(async () => (await shownNotifications(page, tag))[0], 'the first notification');
      assert.equal(first.actions.length, 2);
      assert.equal(first.silent, false);
      await sw.deliver(update.text);
      const ten = await eventually(async () => {
        const list = await shownNotifications(page, tag);
        return list.length === 1 && list[0].body.startsWith('10 requests') ? list[0] : null;
      }, 'one notification that says ten');
      assert.equal(ten.body, '10 requests in burst');
      assert.deepEqual(ten.actions, [], 'no Allow/Deny for ten at once');
      assert.equal(ten.silent, true, 'the update of the burst does not buzz again');
      assert.equal(ten.data.url, '/#/inbox');

      // Another device answers them all: the resolved pushes count down, the last one closes it.
      for (const r of requests) await api.post(`/api/v1/sessions/${session.id}/permissions/${r.data.request_id}`, { decision: 'allow' });
      const last = await push.next((p) => p.kind === 'resolved' && p.count === 0, 'the last resolved push');
      // The first answer's push goes at once unless the update's window is still open (then only the
      // last of the window, count 0, is sent): when there is one, it counts down.
      const countingDown = push.received.find((p) => p.payload?.kind === 'resolved' && p.payload.count > 1);
      if (countingDown) {
        await sw.deliver(countingDown.text);
        await eventually(async () => (await shownNotifications(page, tag))[0]?.body === `${countingDown.payload.count} requests in burst`, 'counted down');
      }
      await sw.deliver(last.text);
      await eventually(async () => (await shownNotifications(page, tag)).length === 0, 'closed when none is left');
      await settled(api, session.id, 1);
      await sw.detach();
    });
  } finally {
    await push.close();
  }
});

test('18d. with sign-in off, the header\'s bell opens the notification settings, and the header fits a phone', ready, async () => {
  await withServerAndBrowser({}, async ({ server, browser }) => {
    const { page } = await phone(browser);
    await page.goto(`${server.url}/#/`);
    await page.getByRole('heading', { name: 'Sessions' }).waitFor();
    const bell = page.getByRole('link', { name: 'Notifications' });
    const box = await bell.boundingBox();
    const width = page.viewportSize().width;
    assert.ok(box && box.x + box.width <= width, `the bell is on the screen (${JSON.stringify(box)}, ${width} px wide)`);
    await bell.click();
    await page.getByRole('heading', { name: 'Notifications' }).waitFor();
    await page.getByRole('status').filter({ hasText: 'This device gets no notifications.' }).waitFor();
    assert.equal(await page.evaluate(() => Notification.permission), 'default', 'nothing asked before a tap');
  });
});
