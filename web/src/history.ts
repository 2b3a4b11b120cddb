// This machine's Claude Code history (protocol §15): the conversations Claude Code keeps, read
// over REST, turned into the conversation screen's items, and which of the app's sessions
// continue one (so the conversation screen can show the earlier messages above the new turns).

import { api } from "./api";
import { fold, type Item } from "./conversation";
import type { RelayEvent } from "./types";

export interface ClaudeConversation {
  claude_session_id: string;
  cwd: string;
  title: string | null;
  last_activity: string;
  message_count: number;
  git_branch: string | null;
  running: { pid: number; status: string | null } | null;
}

export interface ConversationsPage {
  sessions: ClaudeConversation[];
  next_cursor: string | null;
}

export interface HistoryMessage {
  index: number;
  message: any;
}

export interface MessagesPage {
  claude_session_id: string;
  cwd: string;
  messages: HistoryMessage[];
  total: number;
  next_after: number | null;
}

/** How many of the newest messages a preview shows. */
export const PREVIEW_MESSAGES = 100;

export function listConversations(cwd: string, cursor: string | null): Promise<ConversationsPage> {
  const q = new URLSearchParams({ limit: "30" });
  if (cwd.trim()) q.set("cwd", cwd.trim());
  if (cursor) q.set("cursor", cursor);
  return api<ConversationsPage>(`/api/v1/claude/sessions?${q}`);
}

/** The newest `PREVIEW_MESSAGES` messages among the first `upTo` (all when absent). */
export async function recentMessages(id: string, upTo?: number): Promise<MessagesPage> {
  const path = `/api/v1/claude/sessions/${encodeURIComponent(id)}/messages`;
  const first = await api<MessagesPage>(`${path}?limit=1`);
  const total = Math.min(upTo ?? first.total, first.total);
  const after = Math.max(0, total - PREVIEW_MESSAGES);
  const page = await api<MessagesPage>(`${path}?after=${after}&limit=${Math.max(1, total - after)}`);
  return { ...page, messages: page.messages.filter((m) => m.index <= total) };
}

/** Texts Claude Code puts in user messages itself. */
function cliText(text: string): boolean {
  const t = text.trimStart();
  return ["<system-reminder>", "[Request interrupted", "<command-", "<local-command-", "Caveat: The messages below"].some((p) => t.startsWith(p));
}

/** What the person typed in a `user` message, if it is one. */
function typedText(m: any): string | null {
  if (m?.type !== "user") return null;
  const c = m.message?.content;
  const texts: string[] = typeof c === "string" ? [c] : Array.isArray(c) ? c.filter((b: any) => b?.type === "text" && typeof b.text === "string").map((b: any) => b.text) : [];
  const typed = texts.filter((t) => t.trim() && !cliText(t));
  return typed.length ? typed.join("\n") : null;
}

/** The conversation screen's items for history messages: typed prompts as the person's bubbles,
 *  everything else through the same folding as live `agent.output` events. */
export function historyItems(messages: HistoryMessage[]): Item[] {
  const items: Item[] = [];
  let pending: RelayEvent[] = [];
  const flush = () => {
    for (const it of fold(pending)) items.push({ ...it, key: `h${it.key}` } as Item);
    pending = [];
  };
  for (const m of messages) {
    const typed = typedText(m.message);
    if (typed !== null) {
      flush();
      items.push({ type: "prompt", key: `hp${m.index}`, prompt_id: `history-${m.index}`, text: typed, state: "done" } as Item);
    } else {
      pending.push({ kind: "agent.output", seq: m.index, data: { message: m.message } } as unknown as RelayEvent);
    }
  }
  flush();
  return items;
}

const ORIGIN_KEY = "pocket-relay.history-origin";

/** Which conversation (and how many of its messages) a session of this app continues. */
export interface Origin {
  claude_session_id: string;
  total: number;
}

function origins(): Record<string, Origin> {
  try {
    return JSON.parse(localStorage.getItem(ORIGIN_KEY) ?? "{}") ?? {};
  } catch {
    return {};
  }
}

export function rememberOrigin(sessionId: string, origin: Origin): void {
  try {
    localStorage.setItem(ORIGIN_KEY, JSON.stringify({ ...origins(), [sessionId]: origin }));
  } catch {
    /* storage full or off: the earlier messages are just not shown */
  }
}

export function originOf(sessionId: string): Origin | undefined {
  return origins()[sessionId];
}
