// Push for the browser stories. Headless Chromium has no push service, so:
// - `fakePushService()` is one (an HTTP server on 127.0.0.1): it takes the relay's Web Push requests
//   and decrypts each with the subscription's private key per RFC 8291 (aes128gcm, http_ece), so the
//   story holds the exact JSON the relay sent;
// - `stubPushManager(context, service)` makes the page's `pushManager.subscribe()` answer a
//   subscription to that service (the real app code asks for it, the browser's push service is the
//   only thing replaced);
// - `serviceWorkerPush(context, page)` hands a payload to the app's service worker the way the
//   browser does after decrypting one: the DevTools protocol's `ServiceWorker.deliverPushMessage`.
import { createServer } from 'node:http';
import { createECDH, randomBytes } from 'node:crypto';
import ece from 'http_ece';
import { eventually, PATIENCE, within } from './harness.mjs';

/** A push service with one subscription's keys; `received` is every push it got, decrypted. */
export async function fakePushService() {
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  const authSecret = randomBytes(16);
  const received = [];
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const push = { path: req.url, headers: req.headers, payload: null, error: null };
      try {
        const plain = ece.decrypt(body, { version: 'aes128gcm', privateKey: ecdh, authSecret });
        push.payload = JSON.parse(plain.toString('utf8'));
        push.text = plain.toString('utf8');
      } catch (error) {
        push.error = error.message;
      }
      received.push(push);
      res.writeHead(201, { Location: `${req.url}/message/${received.length}` });
      res.end();
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${server.address().port}/push/e2e-device`;
  return {
    endpoint,
    keys: { p256dh: ecdh.getPublicKey('base64url'), auth: authSecret.toString('base64url') },
    received,
    /** The first decrypted push that `match(payload)` accepts (waits for it). */
    next(match, what) {
      return eventually(() => received.find((p) => p.payload && match(p.payload)), what);
    },
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

/** Every page of `context` gets a `PushManager` whose subscriptions point at `service`. The key the
 * app subscribed with is kept in `localStorage['e2e.applicationServerKey']` (base64url). */
export async function stubPushManager(context, service) {
  await context.addInitScript(({ endpoint, keys }) => {
    if (!('PushManager' in self)) return;
    const STORE = 'e2e.applicationServerKey';
    const b64url = (buf) => btoa(String.fromCharCode(...new Uint8Array(buf))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
    const bytes = (s) => Uint8Array.from(atob(s.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0)).buffer;
    const subscription = (key) => ({
      endpoint,
      expirationTime: null,
      options: { userVisibleOnly: true, applicationServerKey: bytes(key) },
      getKey: (name) => bytes(keys[name]),
      toJSON: () => ({ endpoint, expirationTime: null, keys }),
      unsubscribe: async () => {
        localStorage.removeItem(STORE);
        return true;
      },
    });
    PushManager.prototype.subscribe = async function (options) {
      if (!options?.userVisibleOnly) throw new DOMException('userVisibleOnly is required', 'NotAllowedError');
      localStorage.setItem(STORE, b64url(options.applicationServerKey));
      return subscription(localStorage.getItem(STORE));
    };
    PushManager.prototype.getSubscription = async function () {
      const key = localStorage.getItem(STORE);
      return key ? subscription(key) : null;
    };
  }, { endpoint: service.endpoint, keys: service.keys });
}

/** Delivers payloads to the app's service worker (the page must be on the app's origin). */
export async function serviceWorkerPush(context, page, origin) {
  const cdp = await context.newCDPSession(page);
  const registrations = new Map();
  cdp.on('ServiceWorker.workerRegistrationUpdated', ({ registrations: list }) => {
    for (const r of list) if (r.isDeleted) registrations.delete(r.scopeURL); else registrations.set(r.scopeURL, r.registrationId);
  });
  await cdp.send('ServiceWorker.enable');
  const registrationId = await eventually(() => registrations.get(`${origin}/`), 'the service worker registration');
  return {
    async deliver(text) {
      await within(cdp.send('ServiceWorker.deliverPushMessage', { origin, registrationId, data: text }), PATIENCE, 'deliverPushMessage');
    },
    detach: () => cdp.detach().catch(() => {}),
  };
}

/** The notifications the service worker shows (optionally under one tag), as plain objects. */
export function shownNotifications(page, tag) {
  return page.evaluate(async (tag) => {
    const reg = await navigator.serviceWorker.ready;
    const list = await reg.getNotifications(tag ? { tag } : {});
    return list.map((n) => ({
      title: n.title, body: n.body, tag: n.tag, data: n.data, silent: n.silent, renotify: n.renotify,
      actions: n.actions.map((a) => ({ action: a.action, title: a.title })),
    }));
  }, tag);
}

/** Clicks `action` ('' for the notification itself) on the notification under `tag`, as the
 * browser would: a `notificationclick` NotificationEvent in the service worker. Waits for the work
 * the worker hands to `event.waitUntil` (a dispatched event cannot extend itself, so its
 * `waitUntil` is the one thing replaced: it keeps the promise for the test). */
export async function clickNotification(context, tag, action) {
  const worker = await eventually(() => context.serviceWorkers()[0], 'the service worker');
  return within(
    worker.evaluate(async ({ tag, action }) => {
      const [notification] = await self.registration.getNotifications({ tag });
      if (!notification) throw new Error(`no notification under ${tag}`);
      const event = new NotificationEvent('notificationclick', { notification, action });
      let work = null;
      Object.defineProperty(event, 'waitUntil', { value: (promise) => { work = promise; } });
      self.dispatchEvent(event);
      if (!work) throw new Error('the worker passed nothing to waitUntil');
      await work;
      return true;
    }, { tag, action }),
    PATIENCE,
    `clicking ${action || 'the notification'} under ${tag}`,
  );
}
