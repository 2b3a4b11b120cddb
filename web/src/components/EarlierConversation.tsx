// Above a session that continues a conversation from Claude Code's history: what was said
// before (at the desk, in an editor), read from the history and shown like the session's own.

import { useEffect, useState } from "preact/hooks";
import { historyItems, originOf, recentMessages } from "../history";
import type { Item } from "../conversation";
import type { Session } from "../types";
import { ItemView } from "../screens/Conversation";

export function EarlierConversation({ sessionId, from }: { sessionId: string; from?: Session["continued_from"] }) {
  // This device's own record, else the session's (so any device shows what came before).
  const origin = originOf(sessionId) ?? (from ? { claude_session_id: from.claude_session_id, total: from.messages } : undefined);
  const [items, setItems] = useState<Item[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    if (!origin) return;
    recentMessages(origin.claude_session_id, origin.total)
      .then((page) => setItems(historyItems(page.messages)))
      .catch((e) => setError(e instanceof Error ? e.message : String(e)));
  }, [sessionId, origin?.claude_session_id]);
  if (!origin) return null;
  return (
    <section class="earlier" aria-label="Earlier conversation">
      <p class="note info">Earlier in this conversation</p>
      {error && <p class="note error">Could not load the earlier messages: {error}</p>}
      {items === null && !error && <p class="muted center">Loading…</p>}
      {items?.map((it) => (
        <ItemView key={it.key} item={it} sessionId={sessionId} />
      ))}
      <p class="note info">Continued here</p>
    </section>
  );
}
