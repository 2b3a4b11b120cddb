// What a push means on screen: the decrypted payload (docs/protocol.md, "Push payload") checked
// field by field, and the notification the service worker shows for it. Plain functions with no
// service-worker API in them, so Node's test runner checks them (test/payload.test.ts).
// Everything in a payload is plain text: the notification API shows strings as they are (it has no
// HTML), and the strings are cut to a sane length and stripped of control characters.

export type Kind = "approval" | "completed" | "failed" | "crashed" | "resolved";
const KINDS: readonly Kind[] = ["approval", "completed", "failed", "crashed", "resolved"];

/** A push payload, checked. */
export interface Payload {
  kind: Kind;
  id: string;
  session_id: string;
  tag: string;
  title: string;
  body: string;
  /** Where a click opens the app: always an in-app route (`/#/…`). */
  url: string;
  count: number;
  request_id?: string;
  tool?: string;
  summary?: string;
}

/** What a notification keeps in `data`, read back by the click handler and by later pushes. */
export interface NoteData {
  kind: Kind | "answered" | "generic";
  session_id?: string;
  request_id?: string;
  url: string;
  count: number;
}

/** The options of `registration.showNotification` this app uses (`actions`, `renotify` and
 * `timestamp` are missing from TypeScript's DOM types). */
export interface ShowOptions {
  body: string;
  tag: string;
  data: NoteData;
  renotify: boolean;
  silent: boolean;
  actions: { action: "allow" | "deny"; title: string }[];
  icon: string;
  badge: string;
  timestamp: number;
}

/** A notification to show. */
export interface Shown {
  title: string;
  options: ShowOptions;
}

/** What is already on screen under a tag (the newest one). */
export interface Existing {
  title: string;
  body: string;
  tag: string;
  data: unknown;
  timestamp: number;
}

/** A notification under the same tag shown less than this long ago is the same burst: the server
 * holds the pushes of a burst for its coalescing window (1 s) and sends one update, which replaces
 * the first notification without a second buzz. Later approvals buzz again. */
export const UPDATE_WINDOW_MS = 5_000;

const ICON = "/icons/icon-192.png";
const BADGE = "/icons/icon-192.png";
export const GENERIC_TAG = "pocket-relay:update";

/** Printable text only (no control characters), trimmed, at most `max` characters. */
export function cleanText(value: unknown, max: number): string {
  if (typeof value !== "string") return "";
  const s = value.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, " ").trim();
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

/** An id-like field: a short string of safe characters, else undefined. */
function cleanId(value: unknown): string | undefined {
  return typeof value === "string" && /^[A-Za-z0-9._:-]{1,200}$/.test(value) ? value : undefined;
}

/** An in-app route for a click: `/#/…` only (never another origin or a `javascript:` URL). */
export function cleanUrl(value: unknown, sessionId: string): string {
  if (typeof value === "string" && /^\/#\/[A-Za-z0-9._~%/:-]*$/.test(value) && value.length <= 300) return value;
  return `/#/s/${encodeURIComponent(sessionId)}`;
}

/** The payload of a push, or null when it is not one this app understands. Never throws. */
export function parsePayload(text: string | null): Payload | null {
  if (!text) return null;
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return null;
  }
  if (!raw || typeof raw !== "object" || Array.isArray(raw)) return null;
  const o = raw as Record<string, unknown>;
  if (o.v !== 1) return null;
  const kind = KINDS.find((k) => k === o.kind);
  const session_id = cleanId(o.session_id);
  if (!kind || !session_id) return null;
  const count = typeof o.count === "number" && Number.isInteger(o.count) && o.count >= 0 ? Math.min(o.count, 1_000_000) : kind === "resolved" ? 0 : 1;
  const tagOf = kind === "approval" || kind === "resolved" ? "approval" : "status";
  const tag = typeof o.tag === "string" && o.tag.startsWith("pocket-relay:") && o.tag.length <= 300 ? o.tag : `pocket-relay:${session_id}:${tagOf}`;
  const title = cleanText(o.title, 120);
  const p: Payload = {
    kind,
    id: cleanId(o.id) ?? "",
    session_id,
    tag,
    title: title || defaultTitle(kind),
    body: cleanText(o.body, 400),
    url: cleanUrl(o.url, session_id),
    count,
  };
  const request_id = cleanId(o.request_id);
  if (request_id) p.request_id = request_id;
  const tool = cleanText(o.tool, 80);
  if (tool) p.tool = tool;
  const summary = cleanText(o.summary, 300);
  if (summary) p.summary = summary;
  return p;
}

function defaultTitle(kind: Kind): string {
  switch (kind) {
    case "approval":
      return "Claude needs your approval";
    case "completed":
      return "Claude finished";
    case "failed":
      return "A prompt failed";
    case "crashed":
      return "Claude Code stopped unexpectedly";
    case "resolved":
      return "pocket-relay";
  }
}

/** The notification data of a shown notification, checked (it is ours, but may be from an older build). */
export function noteData(value: unknown): NoteData {
  const o = value && typeof value === "object" ? (value as Record<string, unknown>) : {};
  const session_id = cleanId(o.session_id);
  const d: NoteData = {
    kind: (typeof o.kind === "string" ? o.kind : "generic") as NoteData["kind"],
    url: session_id ? cleanUrl(o.url, session_id) : typeof o.url === "string" && /^\/#\/[A-Za-z0-9._~%/:-]*$/.test(o.url) ? o.url : "/#/",
    count: typeof o.count === "number" ? o.count : 0,
  };
  if (session_id) d.session_id = session_id;
  const request_id = cleanId(o.request_id);
  if (request_id) d.request_id = request_id;
  return d;
}

const ACTIONS: ShowOptions["actions"] = [
  { action: "allow", title: "Allow" },
  { action: "deny", title: "Deny" },
];

/**
 * The notification for a push of kind approval/completed/failed/crashed. `existing` is what is on
 * screen under the same tag: a notification of the same burst is replaced silently (the coalesced
 * count); a new approval buzzes again (`renotify`). Allow/Deny only when the push names one request.
 */
export function notificationFor(p: Payload, existing: Existing | null, now: number): Shown {
  // The relay's body already carries the tool and summary when it sends them (include_content).
  const body = p.body || (p.tool && p.summary ? `${p.tool}: ${p.summary}` : p.tool || p.summary || "");
  const sameBurst = !!existing && now - existing.timestamp < UPDATE_WINDOW_MS;
  const data: NoteData = { kind: p.kind, session_id: p.session_id, url: p.url, count: p.count };
  if (p.request_id && p.kind === "approval") data.request_id = p.request_id;
  return {
    title: p.title,
    options: {
      body,
      tag: p.tag,
      data,
      renotify: p.kind === "approval" && !!existing && !sameBurst,
      silent: sameBurst,
      actions: data.request_id && p.count === 1 ? ACTIONS : [],
      icon: ICON,
      badge: BADGE,
      timestamp: sameBurst && existing ? existing.timestamp : now,
    },
  };
}

/** Replace the "N requests" of a body with the new count (none left when one is). */
export function withCount(body: string, count: number): string {
  if (count > 1) return body.replace(/\b\d+ requests\b/, `${count} requests`);
  return body.replace(/\s*[·,–-]?\s*\b\d+ requests\b\s*[·,–-]?\s*/, " ").trim();
}

/**
 * A request was answered or cancelled somewhere (`kind: "resolved"`): "close" when none is left in
 * that session; else the notification on screen again with the new count, silently and without
 * Allow/Deny (which request is left is the app's to show); null when nothing is on screen.
 */
export function afterResolved(p: Payload, existing: Existing | null): Shown | "close" | null {
  if (p.count === 0) return "close";
  if (!existing) return null;
  const old = noteData(existing.data);
  if (old.count === p.count && old.request_id !== p.request_id) return null;
  const sessionUrl = `/#/s/${encodeURIComponent(p.session_id)}`;
  return {
    title: existing.title,
    options: {
      body: withCount(existing.body, p.count),
      tag: p.tag,
      data: { kind: "approval", session_id: p.session_id, url: p.count > 1 ? old.url : sessionUrl, count: p.count },
      renotify: false,
      silent: true,
      actions: [],
      icon: ICON,
      badge: BADGE,
      timestamp: existing.timestamp,
    },
  };
}

/** The notification that replaces one whose request another device answered first. */
export function alreadyAnswered(existing: Existing, now: number): Shown {
  const d = noteData(existing.data);
  return {
    title: "Already answered on another device",
    options: {
      body: existing.body,
      tag: existing.tag,
      data: { kind: "answered", ...(d.session_id ? { session_id: d.session_id } : {}), url: d.url, count: 0 },
      renotify: false,
      silent: true,
      actions: [],
      icon: ICON,
      badge: BADGE,
      timestamp: now,
    },
  };
}

/** The notification that replaces one whose answer could not be sent: its buttons stay, to try again. */
export function answerFailed(existing: Existing, reason: string, now: number): Shown {
  const d = noteData(existing.data);
  return {
    title: existing.title,
    options: {
      body: cleanText(`Could not answer (${reason}). Try again, or tap to open the app.`, 400),
      tag: existing.tag,
      data: d,
      renotify: false,
      silent: true,
      actions: d.request_id ? ACTIONS : [],
      icon: ICON,
      badge: BADGE,
      timestamp: now,
    },
  };
}

/** What is shown for a push this app cannot read (browsers require a notification for every push). */
export function genericNotification(now: number): Shown {
  return {
    title: "pocket-relay",
    options: {
      body: "Something happened in your sessions. Tap to open the app.",
      tag: GENERIC_TAG,
      data: { kind: "generic", url: "/#/", count: 0 },
      renotify: false,
      silent: false,
      actions: [],
      icon: ICON,
      badge: BADGE,
      timestamp: now,
    },
  };
}
