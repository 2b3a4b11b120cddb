// History messages (protocol §15) folded into the conversation screen's items.
import { test } from "node:test";
import assert from "node:assert/strict";
import { historyItems } from "../src/history";

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
