// The approval inbox's list as the server keeps it (docs/protocol.md §14): every pending permission
// request over all of the person's sessions, oldest first, and the `inbox` frames that change it.
// Pure: no DOM, unit-tested in test/pending.test.ts.

export interface Pending {
  session_id: string;
  session_title: string | null;
  cwd: string;
  request_id: string;
  tool_name: string;
  input: any;
  description?: string;
  tool_use_id?: string;
  blocked_path?: string;
  suggestions?: any[];
  requested_at: string;
  seq: number;
}

export type InboxChange =
  | { added: Pending }
  | { removed: { session_id: string; request_id: string; decision: string } };

const same = (a: { session_id: string; request_id: string }, b: { session_id: string; request_id: string }) =>
  a.session_id === b.session_id && a.request_id === b.request_id;

/** Oldest first, as the server orders it: by time asked, then session, then seq. */
export function oldestFirst(list: Pending[]): Pending[] {
  return [...list].sort((a, b) =>
    a.requested_at < b.requested_at ? -1 : a.requested_at > b.requested_at ? 1 : a.session_id < b.session_id ? -1 : a.session_id > b.session_id ? 1 : a.seq - b.seq,
  );
}

/** Only well-formed entries: anything else from the wire is dropped rather than shown half. */
export function readPending(raw: unknown): Pending | null {
  const p = raw as Pending | null;
  if (!p || typeof p !== "object") return null;
  if (typeof p.session_id !== "string" || typeof p.request_id !== "string" || typeof p.tool_name !== "string") return null;
  return {
    ...p,
    session_title: typeof p.session_title === "string" ? p.session_title : null,
    cwd: typeof p.cwd === "string" ? p.cwd : "",
    requested_at: typeof p.requested_at === "string" ? p.requested_at : "",
    seq: typeof p.seq === "number" ? p.seq : 0,
    suggestions: Array.isArray(p.suggestions) ? p.suggestions : undefined,
  };
}

/** The list after one change. An `added` already shown and a `removed` not shown change nothing
 * (right after subscribing a change may repeat the list, §14.3). */
export function applyChange(list: Pending[], change: InboxChange): Pending[] {
  if ("added" in change) {
    const p = readPending(change.added);
    if (!p || list.some((q) => same(q, p))) return list;
    return oldestFirst([...list, p]);
  }
  const r = change.removed;
  if (!r || typeof r.request_id !== "string" || !list.some((q) => same(q, r))) return list;
  return list.filter((q) => !same(q, r));
}

/** Sessions that had requests in `before` and have none in `after`: their notifications go. */
export function settledSessions(before: Pending[], after: Pending[]): string[] {
  const still = new Set(after.map((p) => p.session_id));
  return [...new Set(before.map((p) => p.session_id))].filter((s) => !still.has(s));
}

/** The title a card shows for its session: its title, else its folder's name. */
export function sessionLabel(p: Pending): string {
  if (p.session_title && p.session_title.trim()) return p.session_title;
  const parts = p.cwd.split("/").filter(Boolean);
  return parts[parts.length - 1] ?? p.cwd;
}

/** The tag the service worker shows a session's approval notification under. */
export function approvalTag(sessionId: string): string {
  return `pocket-relay:${sessionId}:approval`;
}
