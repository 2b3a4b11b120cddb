// History messages (protocol §15) folded into the conversation screen's items.
import { test } from "node:test";
import assert from "node:assert/strict";
import { historyItems, recentMessages } from "../src/history";

test("typed prompts become the person's bubbles, the rest folds like agent.output", () => {
  const m = (index: number, message: any) => ({ index, message });
  const items = historyItems([
    m(1, { type: "user", message: { role: "user", content: "fix the flaky test" } }),
    m(2, { type: "assistant", message: { content: [{ type: "text", text: "looking" }, { type: "tool_use", id: "t1", name: "Bash", input: { command: "ls" } }] } }),
    m(3, { type: "user", message: { content: [{ type: "tool_result", tool_use_id: "t1", content: "src" }] } }),
    m(4, { type: "user", message: { content: [{ type: "text", text: "<system-reminder>x</system-reminder>" }, { type: "text", text: "now <b>this</b>" }] } }),
  ]);
  assert.deepEqual(items.map((i) => i.type), ["prompt", "text", "tool", "prompt"]);
  assert.equal((items[0] as any).text, "fix the flaky test");
  assert.equal((items[0] as any).state, "done");
  assert.deepEqual((items[2] as any).call.result, { text: "src", isError: false });
  assert.equal((items[3] as any).text, "now <b>this</b>", "kept as text, shown as a text node");
  assert.ok(items.every((i) => i.key.startsWith("h")), "keys never collide with the session's own");
});

test("the preview follows next_after when the server ends a page early (big messages)", async () => {
  const all = Array.from({ length: 7 }, (_, i) => ({ index: i + 1, message: { type: "assistant", message: { content: [] } } }));
  const asked: string[] = [];
  const realFetch = globalThis.fetch;
  globalThis.fetch = (async (url: string) => {
    asked.push(url);
    const q = new URL(url, "http://x").searchParams;
    const after = Number(q.get("after") ?? 0);
    const limit = Number(q.get("limit") ?? 100);
    // The server's byte bound: at most two messages a page.
    const messages = all.filter((m) => m.index > after).slice(0, Math.min(limit, 2));
    const last = messages.at(-1)?.index ?? after;
    const data = { claude_session_id: "c", cwd: "/p", messages, total: all.length, next_after: last < all.length ? last : null };
    return new Response(JSON.stringify({ success: true, data }), { status: 200, headers: { "Content-Type": "application/json" } });
  }) as typeof fetch;
  try {
    const page = await recentMessages("c", 6);
    assert.deepEqual(page.messages.map((m) => m.index), [1, 2, 3, 4, 5, 6], `asked ${asked.join(" ")}`);
    assert.equal(page.next_after, null);
  } finally {
    globalThis.fetch = realFetch;
  }
});
