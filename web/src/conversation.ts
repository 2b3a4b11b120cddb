// Folds a session's events into what the conversation screen shows: prompts, Claude's text and
// thinking, tool calls with their results, permission requests, turn footers and notes.
// Pure: no DOM, unit-tested in test/conversation.test.ts.

import type { RelayEvent } from "./types";

export interface ToolCall {
  id: string;
  name: string;
  input: any;
  result?: { text: string; isError: boolean };
}

export interface PermissionItem {
  request_id: string;
  tool_name: string;
  input: any;
  description?: string;
  blocked_path?: string;
  suggestions?: any[];
  resolved?: { decision: string; by: any };
}

export type Item =
  | { type: "prompt"; key: string; prompt_id: string; text: string; state: "queued" | "running" | "done" | "failed"; position?: number; images: number }
  | { type: "text"; key: string; text: string }
  | { type: "thinking"; key: string; text: string }
  | { type: "tool"; key: string; call: ToolCall }
  | { type: "permission"; key: string; p: PermissionItem }
  | { type: "turn"; key: string; prompt_id: string; cost_usd?: number; duration_ms?: number; num_turns?: number; is_error: boolean; error?: string }
  | { type: "note"; key: string; text: string; tone: "info" | "error" }
  | { type: "stderr"; key: string; text: string };

export function toolResultText(content: unknown): string {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) {
    return content
      .map((b: any) => (b && b.type === "text" && typeof b.text === "string" ? b.text : b && b.type === "image" ? "[image]" : ""))
      .filter(Boolean)
      .join("\n");
  }
  if (content == null) return "";
  return JSON.stringify(content);
}

/** Claude Code's rule syntax: `Tool` or `Tool(content)` with `\`, `(` and `)` escaped. */
export function ruleString(rule: { toolName?: string; ruleContent?: string }): string | null {
  if (!rule || typeof rule.toolName !== "string") return null;
  if (!rule.ruleContent) return rule.toolName;
  return `${rule.toolName}(${rule.ruleContent.replace(/[\\()]/g, (c) => `\\${c}`)})`;
}

/** The rules "Allow always" would remember for a request (the relay takes only allow addRules). */
export function alwaysRules(suggestions: unknown): string[] {
  if (!Array.isArray(suggestions)) return [];
  const out: string[] = [];
  for (const s of suggestions) {
    if (s && s.type === "addRules" && s.behavior === "allow" && Array.isArray(s.rules)) {
      for (const r of s.rules) {
        const str = ruleString(r);
        if (str) out.push(str);
      }
    }
  }
  return out;
}

export function fold(events: RelayEvent[]): Item[] {
  const items: Item[] = [];
  const prompts = new Map<string, Extract<Item, { type: "prompt" }>>();
  const tools = new Map<string, ToolCall>();
  const perms = new Map<string, PermissionItem>();
  let stderr: Extract<Item, { type: "stderr" }> | null = null;

  for (const e of events) {
    const d = e.data ?? {};
    if (e.kind !== "agent.stderr") stderr = null;
    switch (e.kind) {
      case "prompt.queued": {
        const it = { type: "prompt" as const, key: `p${e.seq}`, prompt_id: String(d.prompt_id), text: String(d.text ?? ""), state: "queued" as const, position: d.position, images: Array.isArray(d.images) ? d.images.length : 0 };
        prompts.set(it.prompt_id, it);
        items.push(it);
        break;
      }
      case "prompt.started": {
        const p = prompts.get(String(d.prompt_id));
        if (p) p.state = "running";
        break;
      }
      case "prompt.completed": {
        const p = prompts.get(String(d.prompt_id));
        if (p) p.state = "done";
        items.push({
          type: "turn",
          key: `t${e.seq}`,
          prompt_id: String(d.prompt_id),
          cost_usd: typeof d.cost_usd === "number" ? d.cost_usd : undefined,
          duration_ms: typeof d.duration_ms === "number" ? d.duration_ms : undefined,
          num_turns: typeof d.num_turns === "number" ? d.num_turns : undefined,
          is_error: !!d.is_error,
          error: d.is_error && typeof d.result === "string" ? d.result : undefined,
        });
        break;
      }
      case "prompt.failed": {
        const p = prompts.get(String(d.prompt_id));
        if (p) p.state = "failed";
        const code = d.error?.code ?? "failed";
        items.push({ type: "note", key: `f${e.seq}`, text: `Prompt ${code === "interrupted" ? "interrupted" : `failed: ${code}`}${d.error?.message && code !== "interrupted" ? ` (${d.error.message})` : ""}`, tone: code === "interrupted" ? "info" : "error" });
        break;
      }
      case "agent.output":
        foldOutput(e, d.message, items, tools);
        break;
      case "agent.stderr":
        if (stderr) stderr.text += String(d.text ?? "");
        else {
          stderr = { type: "stderr", key: `e${e.seq}`, text: String(d.text ?? "") };
          items.push(stderr);
        }
        break;
      case "agent.exited":
        if (!d.expected) items.push({ type: "note", key: `x${e.seq}`, text: `Claude exited unexpectedly (${d.signal ? `signal ${d.signal}` : `code ${d.code}`})`, tone: "error" });
        break;
      case "agent.invalid_output":
        items.push({ type: "note", key: `i${e.seq}`, text: `Unreadable output from Claude: ${String(d.text ?? "").slice(0, 200)}`, tone: "error" });
        break;
      case "permission.requested": {
        const p: PermissionItem = {
          request_id: String(d.request_id),
          tool_name: String(d.tool_name ?? "tool"),
          input: d.input,
          description: typeof d.description === "string" ? d.description : undefined,
          blocked_path: typeof d.blocked_path === "string" ? d.blocked_path : undefined,
          suggestions: Array.isArray(d.suggestions) ? d.suggestions : undefined,
        };
        perms.set(p.request_id, p);
        items.push({ type: "permission", key: `r${e.seq}`, p });
        break;
      }
      case "permission.resolved": {
        const p = perms.get(String(d.request_id));
        if (p) p.resolved = { decision: String(d.decision), by: d.by };
        break;
      }
    }
  }
  return items;
}

function foldOutput(e: RelayEvent, m: any, items: Item[], tools: Map<string, ToolCall>): void {
  if (!m || typeof m !== "object") return;
  if (m.type === "assistant") {
    const content = m.message?.content;
    if (!Array.isArray(content)) return;
    content.forEach((b: any, i: number) => {
      const key = `a${e.seq}.${i}`;
      if (b?.type === "text" && typeof b.text === "string" && b.text.trim()) items.push({ type: "text", key, text: b.text });
      else if (b?.type === "thinking" && typeof b.thinking === "string" && b.thinking.trim()) items.push({ type: "thinking", key, text: b.thinking });
      else if (b?.type === "tool_use") {
        const call: ToolCall = { id: String(b.id), name: String(b.name ?? "tool"), input: b.input ?? {} };
        tools.set(call.id, call);
        items.push({ type: "tool", key, call });
      }
    });
  } else if (m.type === "user") {
    const content = m.message?.content;
    if (typeof content === "string") {
      if (content.startsWith("[Request interrupted")) items.push({ type: "note", key: `u${e.seq}`, text: content, tone: "info" });
      return;
    }
    if (!Array.isArray(content)) return;
    content.forEach((b: any, i: number) => {
      if (b?.type === "tool_result") {
        const r = { text: toolResultText(b.content), isError: !!b.is_error };
        const call = tools.get(String(b.tool_use_id));
        if (call) call.result = r;
        else items.push({ type: "tool", key: `u${e.seq}.${i}`, call: { id: String(b.tool_use_id), name: "Tool result", input: null, result: r } });
      } else if (b?.type === "text" && typeof b.text === "string" && b.text.startsWith("[Request interrupted")) {
        items.push({ type: "note", key: `u${e.seq}.${i}`, text: b.text, tone: "info" });
      }
    });
  } else if (m.type === "system" && m.subtype === "api_retry") {
    items.push({ type: "note", key: `s${e.seq}`, text: `API error${m.error_status ? ` ${m.error_status}` : ""}: retrying (attempt ${m.attempt} of ${m.max_retries})`, tone: "info" });
  } else if (m.type === "system" && m.subtype === "permission_denied") {
    items.push({ type: "note", key: `s${e.seq}`, text: `Permission denied: ${m.tool_name ?? ""} ${m.message ?? ""}`.trim(), tone: "error" });
  } else if (m.type === "result" && m.is_error && Array.isArray(m.errors) && m.errors.length) {
    items.push({ type: "note", key: `s${e.seq}`, text: m.errors.map(String).join("\n"), tone: "error" });
  }
}

export function formatCost(usd: number | undefined): string {
  if (usd === undefined) return "";
  return usd < 0.01 ? `$${usd.toFixed(4)}` : `$${usd.toFixed(2)}`;
}

export function formatDuration(ms: number | undefined): string {
  if (ms === undefined) return "";
  if (ms < 1000) return `${ms} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}
