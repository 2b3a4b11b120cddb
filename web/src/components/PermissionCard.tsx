import { useState } from "preact/hooks";
import * as connection from "../connection";
import { alwaysRules, type PermissionItem } from "../conversation";
import { useAppState } from "../store";
import { ToolInput, str } from "./ToolCard";

function resolvedText(p: PermissionItem, mine: boolean, decision: string): string {
  const by = p.resolved?.by ?? {};
  const verb = decision === "allow" ? "Allowed" : decision === "deny" ? "Denied" : "Cancelled";
  if (by.timeout) return "Timed out: denied";
  if (by.reason) return `Cancelled (${String(by.reason).replace(/_/g, " ")})`;
  if (mine) return `${verb} here`;
  return `${verb} on another device${by.user ? ` by ${by.user}` : ""}`;
}

export function PermissionCard({ sessionId, p }: { sessionId: string; p: PermissionItem }) {
  const st = useAppState();
  const [busy, setBusy] = useState(false);
  const [denyMsg, setDenyMsg] = useState("");
  const isBash = p.tool_name === "Bash" && typeof p.input?.command === "string";
  const [command, setCommand] = useState<string>(isBash ? p.input.command : "");
  const [editing, setEditing] = useState(false);
  const rules = alwaysRules(p.suggestions);
  const edited = isBash && command !== p.input.command;

  if (p.resolved || st.conflicts[p.request_id]) {
    const mine = !!p.resolved && (st.connectionIds.has(String(p.resolved.by?.connection_id)) || !!st.answered[p.request_id]);
    const text = p.resolved
      ? resolvedText(p, mine, p.resolved.decision)
      : "Already answered on another device";
    return (
      <div class="perm done" role="group" aria-label={`Permission for ${p.tool_name}`}>
        <span class="tname">{p.tool_name}</span> <span class={`verdict ${p.resolved?.decision ?? ""}`}>{text}</span>
        <div class="small muted">
          <ToolSummary p={p} />
        </div>
      </div>
    );
  }

  const answer = async (a: { decision: "allow" | "deny"; always?: boolean; message?: string; updated_input?: unknown }) => {
    setBusy(true);
    await connection.answerPermission(sessionId, p.request_id, a);
    setBusy(false);
  };
  const offline = st.conn !== "online";

  return (
    <section class="perm" role="region" aria-label="Permission request">
      <h3>
        Claude wants to use <span class="tname">{p.tool_name}</span>
      </h3>
      {p.description && <p class="desc">{p.description}</p>}
      {editing && isBash ? (
        <label>
          Command
          <textarea rows={3} value={command} onInput={(e) => setCommand(e.currentTarget.value)} spellcheck={false} autocapitalize="off" />
        </label>
      ) : (
        <ToolInput name={p.tool_name} input={p.tool_name === "Bash" ? { ...p.input, description: undefined } : p.input} />
      )}
      {p.blocked_path && <p class="small">Path: {p.blocked_path}</p>}
      {st.answered[p.request_id] && <p class="small muted">Answer sent, waiting for Claude…</p>}
      <div class="actions">
        <button
          type="button"
          class="primary"
          disabled={busy || offline}
          onClick={() => answer(edited ? { decision: "allow", updated_input: { ...p.input, command } } : { decision: "allow" })}
        >
          Allow
        </button>
        <button type="button" disabled={busy || offline || edited} onClick={() => answer({ decision: "allow", always: true })} aria-describedby={`rule-${p.request_id}`}>
          Allow always
        </button>
        {isBash && !editing && (
          <button type="button" class="link" onClick={() => setEditing(true)}>
            Edit command
          </button>
        )}
      </div>
      <p class="small muted" id={`rule-${p.request_id}`}>
        {edited
          ? "An edited command is allowed once."
          : rules.length
            ? `Allow always remembers for this session: ${rules.join(", ")}`
            : "Allow always: Claude suggested no rule, so this is allowed once and nothing is remembered."}
      </p>
      <div class="actions deny">
        <label class="grow">
          Message to Claude (optional)
          <input type="text" value={denyMsg} onInput={(e) => setDenyMsg(e.currentTarget.value)} />
        </label>
        <button type="button" class="danger" disabled={busy || offline} onClick={() => answer(denyMsg.trim() ? { decision: "deny", message: denyMsg.trim() } : { decision: "deny" })}>
          Deny
        </button>
      </div>
    </section>
  );
}

function ToolSummary({ p }: { p: PermissionItem }) {
  const i = p.input ?? {};
  const s = str(i.command ?? i.file_path ?? i.url ?? i.pattern ?? p.description ?? "");
  return <>{s.length > 160 ? `${s.slice(0, 160)}…` : s}</>;
}
