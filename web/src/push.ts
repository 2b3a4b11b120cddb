// Notifications on the app's side: subscribing this device to Web Push (only when the person asks:
// the browser's permission prompt is never shown on load), the notification levels (the user's and
// a session's), and telling the server which session this app shows right now (`client.viewing`),
// so that a device looking at a session gets no push about it.

import { api } from "./api";
import * as connection from "./connection";
import * as db from "./db";
import { parseRoute, go } from "./router";
import { notify, remember, state } from "./store";
import { RelayError } from "./types";

export type Level = "all" | "approvals" | "none";
export const LEVELS: Level[] = ["all", "approvals", "none"];

/** `GET/PUT /api/v1/notifications/settings`. */
export interface NotifySettings {
  level: Level;
  sessions: Record<string, Level>;
}

/** What this device's push state is. */
export type PushStatus =
  | "unsupported" // no service worker / Push API / Notification API (or not a secure context)
  | "blocked" // the person refused notifications for this site (only the browser's settings undo it)
  | "off"
  | "on";

/** The server's record of a subscription. */
export interface SubscriptionRecord {
  id: string;
  endpoint_host: string;
  device_id?: string | null;
  created_at: string;
}

/** Kept in IndexedDB: which server record is this browser's subscription (to delete it). */
interface Saved {
  id: string;
  endpoint: string;
}
const SAVED = "push-subscription";

export function pushSupported(): boolean {
  return (
    typeof window !== "undefined" &&
    window.isSecureContext &&
    "serviceWorker" in navigator &&
    "PushManager" in window &&
    "Notification" in window
  );
}

async function registration(): Promise<ServiceWorkerRegistration> {
  const reg = (await navigator.serviceWorker.getRegistration()) ?? (await navigator.serviceWorker.register("/sw.js"));
  return reg.active ? reg : navigator.serviceWorker.ready;
}

/** base64url (no padding) → bytes: the VAPID key as `applicationServerKey`. */
export function fromBase64Url(s: string): Uint8Array<ArrayBuffer> {
  const b64 = s.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (s.length % 4)) % 4);
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function sameKey(sub: PushSubscription, key: Uint8Array): boolean {
  const have = sub.options?.applicationServerKey;
  if (!have) return true; // the browser does not say: keep it
  const a = new Uint8Array(have);
  return a.length === key.length && a.every((x, i) => x === key[i]);
}

/** Whether this browser is subscribed and the server still knows the subscription. */
export async function pushStatus(): Promise<PushStatus> {
  if (!pushSupported()) return "unsupported";
  if (Notification.permission === "denied") return "blocked";
  if (Notification.permission !== "granted") return "off";
  const sub = await (await registration()).pushManager.getSubscription();
  const saved = await db.getKey<Saved>(SAVED);
  if (!sub || !saved || saved.endpoint !== sub.endpoint) return "off";
  const { subscriptions } = await api<{ subscriptions: SubscriptionRecord[] }>("/api/v1/push/subscriptions");
  return subscriptions.some((s) => s.id === saved.id) ? "on" : "off";
}

/** Turn notifications on for this device: the permission prompt (this is the person's tap), the
 * browser's push subscription with the server's VAPID key, and the server's record of it. */
export async function enablePush(): Promise<PushStatus> {
  if (!pushSupported()) return "unsupported";
  const permission = await Notification.requestPermission();
  if (permission === "denied") return "blocked";
  if (permission !== "granted") return "off";
  const { public_key } = await api<{ public_key: string }>("/api/v1/push/vapid");
  const key = fromBase64Url(public_key);
  const reg = await registration();
  let sub = await reg.pushManager.getSubscription();
  if (sub && !sameKey(sub, key)) {
    // Made for another server key (the relay's store was replaced): it can never be delivered to.
    await sub.unsubscribe();
    sub = null;
  }
  sub ??= await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key });
  const { subscription } = await api<{ subscription: SubscriptionRecord }>("/api/v1/push/subscriptions", {
    method: "POST",
    body: sub.toJSON(),
  });
  await db.putKey(SAVED, { id: subscription.id, endpoint: sub.endpoint } satisfies Saved);
  return "on";
}

/** Turn notifications off for this device: the server forgets it, and so does the browser. */
export async function disablePush(): Promise<PushStatus> {
  const saved = await db.getKey<Saved>(SAVED);
  if (saved) {
    try {
      await api(`/api/v1/push/subscriptions/${encodeURIComponent(saved.id)}`, { method: "DELETE" });
    } catch (e) {
      if (!(e instanceof RelayError && e.code === "not_found")) throw e;
    }
    await db.deleteKey(SAVED);
  }
  const sub = pushSupported() ? await (await registration()).pushManager.getSubscription() : null;
  await sub?.unsubscribe();
  return "off";
}

export function getSettings(): Promise<NotifySettings> {
  return api<NotifySettings>("/api/v1/notifications/settings");
}

export function setLevel(level: Level): Promise<NotifySettings> {
  return api<NotifySettings>("/api/v1/notifications/settings", { method: "PUT", body: { level } });
}

/** A session's level; null: follow the user's. */
export function setSessionLevel(sessionId: string, level: Level | null): Promise<NotifySettings> {
  return api<NotifySettings>(`/api/v1/sessions/${encodeURIComponent(sessionId)}/notifications`, { method: "PUT", body: { level } });
}

// ---------------------------------------------------------------- what this app shows right now

let lastViewing: string | null | undefined;

/** The session shown in the foreground, or null (another screen, or the app hidden). */
function viewing(): string | null {
  if (typeof document !== "undefined" && document.visibilityState !== "visible") return null;
  const r = parseRoute(location.hash);
  return r.name === "session" ? r.id : null;
}

/** Tell the server (once per change, and again on every new connection). */
function reportViewing(force: boolean): void {
  const now = viewing();
  if (!force && now === lastViewing) return;
  lastViewing = now;
  connection.request("client.viewing", { session_id: now }).catch(() => {
    // Offline: sent again on the next welcome. An older server without it: nothing to do.
  });
}

/** Start reporting what is viewed, and follow the service worker's messages (open a route; a
 * request answered from a notification). */
export function startPush(): void {
  window.addEventListener("hashchange", () => reportViewing(false));
  document.addEventListener("visibilitychange", () => reportViewing(false));
  connection.onWelcome(() => reportViewing(true));
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.addEventListener("message", (m) => {
      const d = m.data;
      if (d && d.type === "pocket-relay.open" && typeof d.url === "string" && d.url.startsWith("/#/")) go(d.url.slice(1));
      if (d && d.type === "pocket-relay.answered" && typeof d.request_id === "string" && typeof d.decision === "string") {
        // Answered from this device's notification: the card says so, as for an answer given here.
        state.answered[d.request_id] = d.decision;
        remember("pocket-relay.answered", d.request_id);
        notify();
      }
    });
  }
}
