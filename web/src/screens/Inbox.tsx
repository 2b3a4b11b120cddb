import { PermissionCard } from "../components/PermissionCard";
import { inbox } from "../inbox";
import { sessionLabel, type Pending } from "../pending";
import { useAppState } from "../store";

function when(ts: string): string {
  const t = Date.parse(ts);
  if (Number.isNaN(t)) return "";
  const s = Math.max(0, Math.round((Date.now() - t) / 1000));
  if (s < 60) return "just now";
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return new Date(t).toLocaleString();
}

function Entry({ p }: { p: Pending }) {
  return (
    <li class="inbox-entry" data-request={p.request_id}>
      <div class="meta">
        <a href={`#/s/${encodeURIComponent(p.session_id)}`} class="session-link">
          {sessionLabel(p)}
        </a>
        <span class="muted small"> · {p.cwd} · {when(p.requested_at)}</span>
      </div>
      <PermissionCard sessionId={p.session_id} p={p} />
    </li>
  );
}

/** Every pending permission request over all sessions, oldest first, each answerable here. */
export function InboxScreen() {
  const st = useAppState();
  const items = inbox.items;
  return (
    <main class="screen">
      <div class="row head">
        <h1>Approvals</h1>
      </div>
      {items.length === 0 && (
        <p class="muted">{inbox.loaded ? "Nothing waits for your approval." : st.conn === "online" ? "Loading…" : "Offline — the list comes back with the connection."}</p>
      )}
      <ul class="inbox">
        {items.map((p) => (
          <Entry key={`${p.session_id}/${p.request_id}`} p={p} />
        ))}
      </ul>
    </main>
  );
}
