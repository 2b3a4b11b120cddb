// The service worker's notifications: a push shows (or updates, or closes) a notification; a click
// on Allow/Deny answers the request from here (./answer.ts); a plain click opens the app at the
// notification's route. Each handler's work is one async function whose promise goes to
// `event.waitUntil`, and none of them throws: a push the app cannot read shows a generic
// notification (browsers require one for every push).

import { answer } from "./answer";
import {
  afterResolved,
  alreadyAnswered,
  answerFailed,
  genericNotification,
  noteData,
  notificationFor,
  parsePayload,
  type Existing,
  type Shown,
} from "./payload";

declare const self: ServiceWorkerGlobalScope;

function show(s: Shown): Promise<void> {
  return self.registration.showNotification(s.title, s.options as NotificationOptions);
}

function asExisting(n: Notification): Existing {
  return { title: n.title, body: n.body, tag: n.tag, data: n.data, timestamp: (n as Notification & { timestamp?: number }).timestamp ?? 0 };
}

/** The notifications on screen under `tag`, oldest first. */
async function onScreen(tag: string): Promise<Notification[]> {
  return self.registration.getNotifications({ tag });
}

function pushText(data: PushMessageData | null): string | null {
  if (!data) return null;
  try {
    return data.text();
  } catch {
    return null;
  }
}

/** A push arrived: show, update or close its notification. */
export async function handlePush(text: string | null): Promise<void> {
  try {
    const p = parsePayload(text);
    if (!p) return await show(genericNotification(Date.now()));
    const shown = await onScreen(p.tag);
    const newest = shown.length ? asExisting(shown[shown.length - 1] as Notification) : null;
    if (p.kind === "resolved") {
      const next = afterResolved(p, newest);
      if (next === "close") for (const n of shown) n.close();
      else if (next) await show(next);
      return;
    }
    await show(notificationFor(p, newest, Date.now()));
  } catch {
    await show(genericNotification(Date.now())).catch(() => {});
  }
}

/** Focus a window of the app at `url` (an in-app route), or open one. */
async function openApp(url: string): Promise<void> {
  const target = new URL(url, self.location.origin).href;
  const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  const w = windows.find((c) => new URL(c.url).origin === self.location.origin) as WindowClient | undefined;
  if (!w) {
    await self.clients.openWindow(target);
    return;
  }
  // The app moves itself to the route (a fragment change: no reload, nothing typed is lost).
  if (w.url !== target) w.postMessage({ type: "pocket-relay.open", url });
  await w.focus().catch(() => undefined);
}

/** Tell this device's open windows that it answered `requestId` (their card then says "here"). */
async function tellWindows(requestId: string, decision: string): Promise<void> {
  for (const w of await self.clients.matchAll({ type: "window", includeUncontrolled: true })) {
    w.postMessage({ type: "pocket-relay.answered", request_id: requestId, decision });
  }
}

/** A click on a notification: Allow/Deny answer from here; anything else opens the app. */
export async function handleClick(n: Notification, action: string): Promise<void> {
  const d = noteData(n.data);
  try {
    if ((action === "allow" || action === "deny") && d.session_id && d.request_id) {
      const r = await answer(d.session_id, d.request_id, action);
      switch (r.kind) {
        case "answered":
          n.close();
          await tellWindows(d.request_id, action);
          return;
        case "already":
          await show(alreadyAnswered(asExisting(n), Date.now()));
          return;
        case "not-paired":
          n.close();
          await openApp(d.url);
          return;
        case "failed":
          await show(answerFailed(asExisting(n), r.reason, Date.now()));
          return;
      }
    }
    n.close();
    await openApp(d.url);
  } catch {
    // Nothing worked (no window could be opened): the notification stays for another try.
  }
}

self.addEventListener("push", (event) => {
  event.waitUntil(handlePush(pushText(event.data)));
});

self.addEventListener("notificationclick", (event) => {
  event.waitUntil(handleClick(event.notification, event.action));
});
