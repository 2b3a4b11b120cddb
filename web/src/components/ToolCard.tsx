import { diffLines } from "diff";
import type { ToolCall } from "../conversation";

const MAX_LINES = 30;

/** Long text: the first lines, the rest behind "Show all". Always text nodes. */
export function Output({ text, error }: { text: string; error?: boolean }) {
  const lines = text.split("\n");
  if (lines.length <= MAX_LINES && text.length <= 4000) return <pre class={error ? "out err" : "out"}>{text}</pre>;
  return (
    <details class="more">
      <summary>
        <pre class={error ? "out err" : "out"}>{lines.slice(0, 8).join("\n").slice(0, 1200)}</pre>
        <span class="link">Show all {lines.length} lines</span>
      </summary>
      <pre class={error ? "out err" : "out"}>{text}</pre>
    </details>
  );
}

function DiffView({ oldText, newText }: { oldText: string; newText: string }) {
  const parts = diffLines(oldText, newText);
  const rows: { sign: string; line: string }[] = [];
  for (const p of parts) {
    const sign = p.added ? "+" : p.removed ? "-" : " ";
    const lines = p.value.replace(/\n$/, "").split("\n");
    if (!p.added && !p.removed && lines.length > 6) {
      // Unchanged context: the first and last three lines.
      rows.push(...lines.slice(0, 3).map((line) => ({ sign, line })));
      rows.push({ sign: "…", line: `${lines.length - 6} unchanged lines` });
      rows.push(...lines.slice(-3).map((line) => ({ sign, line })));
    } else rows.push(...lines.map((line) => ({ sign, line })));
  }
  return (
    <pre class="diff" aria-label="Changes">
      {rows.map((r, i) => (
        <span key={i} class={r.sign === "+" ? "add" : r.sign === "-" ? "del" : r.sign === "…" ? "gap" : "ctx"}>
          {r.sign} {r.line}
          {"\n"}
        </span>
      ))}
    </pre>
  );
}

function short(v: unknown, n = 300): string {
  let s: string;
  try {
    s = JSON.stringify(v);
  } catch {
    s = String(v);
  }
  return s.length > n ? `${s.slice(0, n)}…` : s;
}

export function str(v: unknown): string {
  return typeof v === "string" ? v : v == null ? "" : String(v);
}

/** What a tool call is about, for the card and for a permission request. */
export function ToolInput({ name, input }: { name: string; input: any }) {
  const i = input ?? {};
  switch (name) {
    case "Bash":
      return (
        <>
          {i.description && <p class="desc">{str(i.description)}</p>}
          <pre class="cmd">$ {str(i.command)}</pre>
        </>
      );
    case "Edit":
      return (
        <>
          <p class="path">{str(i.file_path)}</p>
          <DiffView oldText={str(i.old_string)} newText={str(i.new_string)} />
        </>
      );
    case "MultiEdit":
      return (
        <>
          <p class="path">{str(i.file_path)}</p>
          {Array.isArray(i.edits) && i.edits.map((e: any, k: number) => <DiffView key={k} oldText={str(e?.old_string)} newText={str(e?.new_string)} />)}
        </>
      );
    case "Write":
      return (
        <>
          <p class="path">{str(i.file_path)}</p>
          <DiffView oldText="" newText={str(i.content)} />
        </>
      );
    case "Read":
    case "NotebookRead":
      return <p class="path">{str(i.file_path ?? i.notebook_path)}{i.offset ? ` (from line ${i.offset})` : ""}</p>;
    case "Glob":
    case "Grep":
      return (
        <p class="path">
          {str(i.pattern)}
          {i.path ? ` in ${str(i.path)}` : ""}
        </p>
      );
    case "WebFetch":
    case "WebSearch":
      return <p class="path">{str(i.url ?? i.query)}</p>;
    default:
      return input == null ? null : <pre class="json">{short(input)}</pre>;
  }
}

export function ToolCard({ call }: { call: ToolCall }) {
  const r = call.result;
  return (
    <article class={`tool ${r?.isError ? "failed" : ""}`} aria-label={`Tool ${call.name}`}>
      <header>
        <span class="tname">{call.name}</span>
        {!r && <span class="muted small"> running…</span>}
        {r?.isError && <span class="badge crashed"> error</span>}
      </header>
      <ToolInput name={call.name} input={call.input} />
      {r && r.text && <Output text={r.text} error={r.isError} />}
    </article>
  );
}
