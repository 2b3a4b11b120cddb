import { useEffect } from "preact/hooks";
import * as connection from "../connection";
import { useAppState } from "../store";
import type { Session } from "../types";

export function sessionName(s: Session): string {
  return (s.title && s.title.trim()) || folderName(s.cwd);
}

export function folderName(path: string): string {
  const parts = path.split("/").filter(Boolean);
  return parts[parts.length - 1] ?? path;
}

export function statusLabel(status: string): string {
  switch (status) {
    case "awaiting_permission":
      return "needs permission";
    case "waiting":
      return "waiting for a slot";
    default:
      return status;
  }
}

function needsAnswer(s: Session): boolean {
  return s.status === "awaiting_permission" || (s.pending_permissions?.length ?? 0) > 0;
}

export function SessionsScreen() {
  const st = useAppState();
  useEffect(() => {
    void connection.refreshSessions();
    const t = setInterval(() => {
      if (document.visibilityState === "visible") void connection.refreshSessions();
    }, 10_000);
    return () => clearInterval(t);
  }, [st.conn === "online"]);

  const list = Object.values(st.sessions).sort((a, b) => {
    const na = needsAnswer(a) ? 1 : 0;
    const nb = needsAnswer(b) ? 1 : 0;
    if (na !== nb) return nb - na;
    return (b.updated_at ?? "").localeCompare(a.updated_at ?? "");
  });

  return (
    <main class="screen">
      <div class="row head">
        <h1>Sessions</h1>
        <a class="button primary" href="#/new" role="button">
          New session
        </a>
      </div>
      {list.length === 0 && (
        <p class="muted">{st.sessionsLoaded ? "No sessions yet. Start one with New session." : st.conn === "offline" ? "Nothing saved on this device yet." : "Loading…"}</p>
      )}
      <ul class="sessions">
        {list.map((s) => {
          const ask = needsAnswer(s);
          return (
            <li key={s.id} class={ask ? "session ask" : "session"}>
              <a href={`#/s/${encodeURIComponent(s.id)}`}>{sessionName(s)}</a>
              <div class="meta">
                <span class="folder">{s.cwd}</span>
              </div>
              <div class="meta">
                <span class={`badge ${s.status}`}>{statusLabel(s.status)}</span>
                {ask && <strong class="asks"> · Permission request waiting</strong>}
                {s.paused && <span> · paused</span>}
                {(s.queue_length ?? 0) > 0 && <span> · {s.queue_length} queued</span>}
              </div>
            </li>
          );
        })}
      </ul>
    </main>
  );
}
