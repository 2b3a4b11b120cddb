// The approval inbox on this device: the list `inbox.subscribe` answers, kept current by `inbox`
// frames, subscribed again after every reconnect (docs/protocol.md §14). When a session has no
// pending request left (answered here, on another device, timed out), its approval notification is
// closed, so the tray never asks about something already settled.

import * as connection from "./connection";
import { applyChange, approvalTag, oldestFirst, readPending, settledSessions, type InboxChange, type Pending } from "./pending";
import { notify } from "./store";

export const inbox: { items: Pending[]; loaded: boolean } = { items: [], loaded: false };

/** Pending requests of `sessionId` (all sessions without one). */
export function pendingCount(sessionId?: string): number {
  return sessionId ? inbox.items.filter((p) => p.session_id === sessionId).length : inbox.items.length;
}

let started = false;
/** Subscribe at every welcome and follow the frames; once, before the socket starts. */
export function startInbox(): void {
  if (started) return;
  started = true;
  connection.onWelcome(() => void subscribe());
  connection.onServerFrame("inbox", (data) => change(data as InboxChange));
}

async function subscribe(): Promise<void> {
  try {
    const r = await connection.request<{ permissions: unknown[] }>("inbox.subscribe", {});
    const list = oldestFirst((r.permissions ?? []).map(readPending).filter((p): p is Pending => p !== null));
    replace(list);
    inbox.loaded = true;
    notify();
  } catch {
    /* offline: the next welcome subscribes again */
  }
}

function change(data: InboxChange): void {
  if (!data || typeof data !== "object") return;
  replace(applyChange(inbox.items, data));
  notify();
}

function replace(next: Pending[]): void {
  const settled = settledSessions(inbox.items, next);
  inbox.items = next;
  for (const sessionId of settled) void closeApprovalNotifications(sessionId);
}

/** Closes the shown approval notifications of `sessionId`, where the browser has them. */
export async function closeApprovalNotifications(sessionId: string): Promise<void> {
  if (typeof navigator === "undefined" || !("serviceWorker" in navigator)) return;
  try {
    // `getRegistration` rather than `ready`: without a worker `ready` never settles.
    const registration = await navigator.serviceWorker.getRegistration();
    if (!registration || typeof registration.getNotifications !== "function") return;
    const shown = await registration.getNotifications({ tag: approvalTag(sessionId) });
    for (const n of shown) n.close();
  } catch {
    /* notifications unsupported or refused: nothing to close */
  }
}
