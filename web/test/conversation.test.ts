// The conversation fold over real Claude Code output shapes, and the Markdown renderer's safety.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { alwaysRules, fold, ruleString } from "../src/conversation";
import { renderMarkdown } from "../src/markdown";
import type { RelayEvent } from "../src/types";

let seq = 0;
const ev = (kind: string, data: any): RelayEvent => ({ session_id: "s", seq: ++seq, ts: "", kind, data });

test("a turn with text, a Bash call and its result, thinking, cost", () => {
  const items = fold([
    ev("prompt.queued", { prompt_id: "p1", text: "run it", position: 0 }),
    ev("prompt.started", { prompt_id: "p1" }),
    ev("agent.output", { message: { type: "system", subtype: "init" } }),
    ev("agent.output", { message: { type: "assistant", message: { content: [{ type: "thinking", thinking: "hmm" }] } } }),
    ev("agent.output", { message: { type: "assistant", message: { content: [{ type: "tool_use", id: "t1", name: "Bash", input: { command: "echo hi" } }] } } }),
    ev("agent.output", { message: { type: "user", message: { content: [{ type: "tool_result", tool_use_id: "t1", content: "hi", is_error: false }] } } }),
    ev("agent.output", { message: { type: "assistant", message: { content: [{ type: "text", text: "done **ok**" }] } } }),
    ev("agent.output", { message: { type: "result", subtype: "success", is_error: false } }),
    ev("prompt.completed", { prompt_id: "p1", is_error: false, cost_usd: 0.05, duration_ms: 1500 }),
  ]);
  assert.deepEqual(items.map((i) => i.type), ["prompt", "thinking", "tool", "text", "turn"]);
  const p = items[0] as any;
  assert.equal(p.state, "done");
  const tool = items[2] as any;
  assert.equal(tool.call.name, "Bash");
  assert.deepEqual(tool.call.result, { text: "hi", isError: false });
  assert.equal((items[4] as any).cost_usd, 0.05);
});

test("permission requested then resolved by someone", () => {
  const items = fold([
    ev("permission.requested", {
      request_id: "r1",
      tool_name: "Bash",
      input: { command: "touch x" },
      suggestions: [
        { type: "addRules", rules: [{ toolName: "Bash", ruleContent: "touch (x)" }], behavior: "allow", destination: "localSettings" },
        { type: "setMode", mode: "acceptEdits", destination: "session" },
      ],
    }),
    ev("permission.resolved", { request_id: "r1", decision: "allow", by: { user: "alice", connection_id: "c9" } }),
  ]);
  const p = (items[0] as any).p;
  assert.equal(p.resolved.decision, "allow");
  assert.deepEqual(alwaysRules(p.suggestions), ["Bash(touch \\(x\\))"]);
  assert.equal(ruleString({ toolName: "Write" }), "Write");
});

test("every real transcript folds without throwing", () => {
  const dir = "/work/shared/claude-code/transcripts";
  let files: string[] = [];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith(".jsonl"));
  } catch {
    return; // not on this machine
  }
  for (const f of files) {
    seq = 0;
    const events: RelayEvent[] = [];
    for (const line of readFileSync(`${dir}/${f}`, "utf8").split("\n")) {
      if (!line.trim()) continue;
      const rec = JSON.parse(line);
      if (rec.dir === "stdout" && rec.data && rec.data.type !== "control_request" && rec.data.type !== "control_response") {
        events.push(ev("agent.output", { message: rec.data }));
      }
    }
    fold(events);
  }
});

test("markdown: raw HTML is escaped, only http(s) links, opened safely", () => {
  const html = renderMarkdown(
    "<script>alert(1)</script> <img src=x onerror=alert(1)> [a](javascript:alert(1)) [b](https://example.com) ![i](https://example.com/i.png) https://auto.example",
  );
  assert.ok(!html.includes("<script"), html);
  assert.ok(!html.includes("<img"), html);
  assert.ok(!/href="javascript/i.test(html), html);
  assert.ok(html.includes('<a href="https://example.com" target="_blank" rel="noopener noreferrer">b</a>'), html);
  assert.ok(html.includes('href="https://auto.example"'), html);
  assert.ok(html.includes("&lt;script&gt;"), html);
});
