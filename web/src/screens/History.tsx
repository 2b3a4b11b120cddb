// `#/history`: the conversations Claude Code keeps on this machine (started at the desk, in an
// editor, anywhere), newest first, filtered by folder, with the ones a terminal runs right now
// marked. `#/history/<id>`: one conversation's newest messages, and "Continue here", which
// starts a session resuming it (asking again when a terminal runs it right now).

import { useEffect, useState } from "preact/hooks";
import * as connection from "../connection";
import { historyItems, listConversations, recentMessages, rememberOrigin, type ClaudeConversation, type MessagesPage } from "../history";
import { go } from "../router";
import { toast } from "../store";
import { RelayError } from "../types";
import { ItemView } from "./Conversation";

function when(ts: string): string {
  const d = new Date(ts);
  return Number.isNaN(d.getTime()) ? ts : d.toLocaleString();
}

function Running({ c }: { c: ClaudeConversation }) {
  if (!c.running) return null;
  return <span class="badge running">In a terminal{c.running.status ? ` (${c.running.status})` : ""}</span>;
}

export function HistoryScreen() {
  const [folder, setFolder] = useState("");
  const [applied, setApplied] = useState("");
  const [list, setList] = useState<ClaudeConversation[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [state, setState] = useState<"loading" | "ready" | "error">("loading");
  const [error, setError] = useState("");

  const load = (cwd: string, after: string | null) => {
    setState("loading");
    listConversations(cwd, after)
      .then((page) => {
        setList((old) => (after ? [...old, ...page.sessions] : page.sessions));
        setCursor(page.next_cursor);
        setState("ready");
      })
      .catch((e) => {
        setError(e instanceof Error ? e.message : String(e));
        setState("error");
      });
  };
  useEffect(() => load(applied, null), [applied]);

  return (
    <main class="screen history">
      <div class="row head">
        <h1>Claude Code history</h1>
      </div>
      <form
        class="row"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          setApplied(folder);
        }}
      >
        <label for="history-folder" class="sr">
          Folder
        </label>
        <input id="history-folder" class="grow" placeholder="Only this folder, e.g. ~/src/app" value={folder} onInput={(e) => setFolder(e.currentTarget.value)} />
        <button type="submit">Filter</button>
      </form>
      {state === "error" && <p class="note error">{error}</p>}
      {state === "ready" && list.length === 0 && <p class="muted">No Claude Code conversations {applied ? "in this folder" : "here"}.</p>}
      <ul class="sessions">
        {list.map((c) => (
          <li key={c.claude_session_id} class="session">
            <a href={`#/history/${encodeURIComponent(c.claude_session_id)}`}>{c.title || "Untitled conversation"}</a>
            <div class="meta">
              <span class="folder">{c.cwd}</span>
              {c.git_branch && <span> · {c.git_branch}</span>}
            </div>
            <div class="meta">
              <span>{when(c.last_activity)}</span> · <span>{c.message_count} messages</span> <Running c={c} />
            </div>
          </li>
        ))}
      </ul>
      {state === "loading" && <p class="muted center">Loading…</p>}
      {cursor && state === "ready" && (
        <button type="button" class="link" onClick={() => load(applied, cursor)}>
          Show older
        </button>
      )}
    </main>
  );
}

export function HistoryConversationScreen({ id }: { id: string }) {
  const [page, setPage] = useState<MessagesPage | null>(null);
  const [running, setRunning] = useState<ClaudeConversation["running"]>(null);
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    recentMessages(id)
      .then(setPage)
      .catch((e) => setError(e instanceof Error ? e.message : String(e)));
  }, [id]);
  useEffect(() => {
    if (!page) return;
    listConversations(page.cwd, null)
      .then((p) => setRunning(p.sessions.find((c) => c.claude_session_id === id)?.running ?? null))
      .catch(() => setRunning(null));
  }, [page?.cwd]);

  const continueHere = async () => {
    if (!page) return;
    if (running && !confirm(`This conversation is running in a terminal right now (pid ${running.pid}). Continue it here too?`)) return;
    setBusy(true);
    const start = (force: boolean) => connection.createSession({ resume_claude_session_id: id, force });
    try {
      let session;
      try {
        session = await start(!!running);
      } catch (e) {
        const pid = (e as { details?: { running?: { pid?: number } } }).details?.running?.pid;
        if (!(e instanceof RelayError && e.code === "conflict")) throw e;
        if (!confirm(`This conversation is running in a terminal right now${pid ? ` (pid ${pid})` : ""}. Continue it here too?`)) return;
        session = await start(true);
      }
      rememberOrigin(session.id, { claude_session_id: id, total: page.total });
      go(`#/s/${encodeURIComponent(session.id)}`);
    } catch (e) {
      toast(`Continue here failed: ${e instanceof Error ? e.message : e}`);
    } finally {
      setBusy(false);
    }
  };

  const items = page ? historyItems(page.messages) : [];
  return (
    <main class="conversation">
      <div class="convhead">
        <a href="#/history" class="back" aria-label="Back to the history">
          ‹
        </a>
        <div class="grow">
          <h1>Claude Code conversation</h1>
          {page && <p class="folder small muted">{page.cwd}</p>}
        </div>
      </div>
      {running && <p class="note error">Running in a terminal right now (pid {running.pid}): continuing here would mean two places writing it.</p>}
      <div class="log">
        {error && <p class="note error">{error}</p>}
        {!page && !error && <p class="muted center">Loading…</p>}
        {page && page.total > page.messages.length && <p class="muted center small">The {page.messages.length} newest of {page.total} messages</p>}
        {items.map((it) => (
          <ItemView key={it.key} item={it} sessionId="" />
        ))}
      </div>
      <div class="controls">
        <button type="button" class="primary" disabled={!page || busy} onClick={continueHere}>
          Continue here
        </button>
      </div>
    </main>
  );
}
