// The app's state: one mutable object, changed only by the connection and auth modules and by
// the router; components read it and re-render when `notify()` says it changed (batched per
// animation frame, so token-by-token deltas cost one render a frame).

import { useEffect, useState } from "preact/hooks";
import type { OutboxPrompt, RelayEvent, Session } from "./types";

export type Route =
  | { name: "sessions" }
  | { name: "new" }
  | { name: "session"; id: string }
  | { name: "devices" }
  | { name: "inbox" }
  | { name: "history" }
  | { name: "history-conversation"; id: string }
  | { name: "notifications" };

export type AuthState =
  | "unknown" // not yet known (first load, offline)
  | "off" // the server has no sign-in
  | "signed-in" // a device key is held; tokens are made from it on demand
  | "needs-pairing"
  | "pairing"
  | "signed-out"; // the device was revoked

/** Live text from `delta` frames: shown while it streams, replaced by the stored `assistant` line. */
export interface LiveBlock {
  afterSeq: number;
  kind: "text" | "thinking" | "tool_use";
  text: string;
  toolName?: string;
}

export interface SessionView {
  events: RelayEvent[]; // contiguous, ascending by seq
  cacheLoaded: boolean;
  subscribed: boolean;
  loadingOlder: boolean;
  noOlder: boolean;
  live: LiveBlock | null;
}

export interface AppState {
  route: Route;
  conn: "connecting" | "online" | "offline";
  retryInS: number | null;
  user: string | null;
  /** Connection ids this page has had: a permission resolved by one of them was answered here. */
  connectionIds: Set<string>;
  auth: AuthState;
  authMessage: string | null;
  sessions: Record<string, Session>;
  sessionsLoaded: boolean;
  views: Record<string, SessionView>;
  outbox: (OutboxPrompt & { state: "waiting" | "sending" | "sent" | "failed"; error?: string })[];
  /** request_id → what this device answered. */
  answered: Record<string, string>;
  /** request_id → another device answered first (a `conflict` answer). */
  conflicts: Record<string, true>;
  toast: string | null;
  /** A newer build of the app took over (service worker): offer a reload, never force one. */
  updateReady: boolean;
}

export const state: AppState = {
  route: { name: "sessions" },
  conn: "connecting",
  retryInS: null,
  user: null,
  connectionIds: new Set(loadList("pocket-relay.connections")),
  auth: "unknown",
  authMessage: null,
  sessions: loadSessionsSnapshot(),
  sessionsLoaded: false,
  views: {},
  outbox: [],
  answered: Object.fromEntries(loadList("pocket-relay.answered").map((id) => [id, "answered"])),
  conflicts: {},
  toast: null,
  updateReady: false,
};

// Which permission requests this device answered survives a reload, derived from the server's
// own record: `permission.resolved` names the answering connection (`by.connection_id`, a random
// UUID per connection), and the app keeps the ids of the connections it has had. A request seen
// resolved by one of them (or answered with an `ok`) is also kept by id, so it stays "here" after
// its connection id has aged out of the list. localStorage (not IndexedDB): it is read
// synchronously, so the first render after a reload is already right. Both lists are bounded.
const KEEP_CONNECTIONS = 500;
const KEEP_ANSWERED = 500;
type Remembered = "pocket-relay.connections" | "pocket-relay.answered";

function loadList(key: Remembered): string[] {
  try {
    const v = JSON.parse(localStorage.getItem(key) ?? "[]");
    return Array.isArray(v) ? v.map(String) : [];
  } catch {
    return [];
  }
}

export function remember(key: Remembered, id: string): void {
  try {
    const list = loadList(key);
    if (list[list.length - 1] === id) return;
    const next = list.filter((x) => x !== id);
    next.push(id);
    localStorage.setItem(key, JSON.stringify(next.slice(-(key === "pocket-relay.connections" ? KEEP_CONNECTIONS : KEEP_ANSWERED))));
  } catch {
    /* storage refused: memory only */
  }
}

/** A `permission.resolved` (live, replayed or cached): was it answered by one of this device's connections? */
export function noteResolved(requestId: string, decision: string, by: { connection_id?: unknown } | undefined): void {
  if (!by || by.connection_id === undefined || !state.connectionIds.has(String(by.connection_id))) return;
  if (state.answered[requestId]) return;
  state.answered[requestId] = decision;
  remember("pocket-relay.answered", requestId);
}

// The sessions list's first paint: IndexedDB takes 20–200 ms to open on a slow phone, so a compact
// copy of the list (the fields the list shows, the 100 most recently updated sessions) is kept in
// localStorage too, read synchronously before the first render. IndexedDB keeps the whole record.
const SESSIONS_SNAPSHOT = "pocket-relay.sessions";
const SNAPSHOT_MAX = 100;
const SNAPSHOT_FIELDS = ["id", "title", "cwd", "status", "paused", "queue_length", "pending_permissions", "updated_at", "last_seq"] as const;

function loadSessionsSnapshot(): Record<string, Session> {
  const out: Record<string, Session> = {};
  try {
    // Runs while `state` is made, before the constants below exist: the key is spelled out.
    const list = JSON.parse(localStorage.getItem("pocket-relay.sessions") ?? "[]");
    if (!Array.isArray(list)) return out;
    for (const s of list) if (s && typeof s.id === "string" && typeof s.cwd === "string" && typeof s.status === "string") out[s.id] = s as Session;
  } catch {
    /* none */
  }
  return out;
}

let snapshotTimer: ReturnType<typeof setTimeout> | undefined;
/** The sessions changed: write the list's snapshot soon (at most every half second). */
export function snapshotSessions(): void {
  if (snapshotTimer !== undefined) return;
  snapshotTimer = setTimeout(() => {
    snapshotTimer = undefined;
    const list = Object.values(state.sessions)
      .sort((a, b) => (b.updated_at ?? "").localeCompare(a.updated_at ?? ""))
      .slice(0, SNAPSHOT_MAX)
      .map((s) => Object.fromEntries(SNAPSHOT_FIELDS.filter((k) => s[k] !== undefined).map((k) => [k, s[k]])));
    try {
      localStorage.setItem(SESSIONS_SNAPSHOT, JSON.stringify(list));
    } catch {
      /* storage refused: IndexedDB still has them */
    }
  }, 500);
}

/** Forget which requests and connections were this device's, and its list (the device is forgotten). */
export function forgetRemembered(): void {
  state.connectionIds.clear();
  state.answered = {};
  state.sessions = {};
  clearTimeout(snapshotTimer);
  snapshotTimer = undefined;
  try {
    localStorage.removeItem(SESSIONS_SNAPSHOT);
    localStorage.removeItem("pocket-relay.connections");
    localStorage.removeItem("pocket-relay.answered");
  } catch {
    /* nothing kept */
  }
}

type Listener = () => void;
const listeners = new Set<Listener>();
let scheduled = false;

export function notify(): void {
  if (scheduled) return;
  scheduled = true;
  const run = () => {
    scheduled = false;
    for (const l of [...listeners]) l();
  };
  if (typeof requestAnimationFrame === "function" && typeof document !== "undefined" && !document.hidden) {
    requestAnimationFrame(run);
  } else {
    setTimeout(run, 0);
  }
}

export function subscribe(l: Listener): () => void {
  listeners.add(l);
  return () => listeners.delete(l);
}

/** Re-render the calling component whenever the state changes. */
export function useAppState(): AppState {
  const [, setTick] = useState(0);
  useEffect(() => subscribe(() => setTick((t) => t + 1)), []);
  return state;
}

export function view(sessionId: string): SessionView {
  let v = state.views[sessionId];
  if (!v) {
    v = { events: [], cacheLoaded: false, subscribed: false, loadingOlder: false, noOlder: false, live: null };
    state.views[sessionId] = v;
  }
  return v;
}

let toastTimer: ReturnType<typeof setTimeout> | undefined;
export function toast(message: string): void {
  state.toast = message;
  notify();
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => {
    state.toast = null;
    notify();
  }, 6000);
}

export function newId(): string {
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = ((b[6] as number) & 0x0f) | 0x40;
  b[8] = ((b[8] as number) & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
