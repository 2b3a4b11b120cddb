// The approval inbox's list: order, changes (repeats included), and which sessions settle.
import { test } from "node:test";
import assert from "node:assert/strict";
import { applyChange, approvalTag, oldestFirst, readPending, sessionLabel, settledSessions, type Pending } from "../src/pending";

const p = (session_id: string, request_id: string, requested_at: string, seq = 1): Pending => ({
  session_id,
  session_title: null,
  cwd: `/home/a/${session_id}`,
  request_id,
  tool_name: "Bash",
  input: { command: "ls" },
  requested_at,
  seq,
});

test("oldest first by time, then session, then seq", () => {
  const list = oldestFirst([p("b", "3", "2026-01-01T00:00:01.000Z", 4), p("a", "2", "2026-01-01T00:00:02.000Z"), p("b", "1", "2026-01-01T00:00:01.000Z", 3)]);
  assert.deepEqual(list.map((x) => x.request_id), ["1", "3", "2"]);
});

test("added and removed frames, with repeats that change nothing", () => {
  let list: Pending[] = [p("a", "1", "2026-01-01T00:00:01.000Z")];
  list = applyChange(list, { added: p("a", "1", "2026-01-01T00:00:01.000Z") });
  assert.equal(list.length, 1, "an added already shown changes nothing");
  list = applyChange(list, { added: p("b", "0", "2026-01-01T00:00:00.000Z") });
  assert.deepEqual(list.map((x) => x.request_id), ["0", "1"], "kept oldest first");
  const same = applyChange(list, { removed: { session_id: "a", request_id: "zzz", decision: "allow" } });
  assert.equal(same, list, "a removed not shown changes nothing");
  list = applyChange(list, { removed: { session_id: "b", request_id: "0", decision: "deny" } });
  assert.deepEqual(list.map((x) => x.request_id), ["1"]);
  // The same request id in another session is another request.
  list = applyChange(list, { removed: { session_id: "b", request_id: "1", decision: "deny" } });
  assert.equal(list.length, 1);
});

test("malformed entries are dropped, not shown half", () => {
  assert.equal(readPending(null), null);
  assert.equal(readPending({ session_id: "a" }), null);
  assert.equal(applyChange([], { added: { session_id: 1 } as any }).length, 0);
  const ok = readPending({ session_id: "a", request_id: "r", tool_name: "Bash", input: {}, suggestions: "no" });
  assert.equal(ok?.suggestions, undefined);
  assert.equal(ok?.session_title, null);
});

test("a session with nothing left pending settles; its label and tag", () => {
  const before = [p("a", "1", "t"), p("a", "2", "t"), p("b", "3", "t")];
  assert.deepEqual(settledSessions(before, [p("a", "2", "t")]), ["b"]);
  assert.deepEqual(settledSessions(before, []), ["a", "b"]);
  assert.equal(sessionLabel(p("proj", "1", "t")), "proj");
  assert.equal(sessionLabel({ ...p("proj", "1", "t"), session_title: "Fix it" }), "Fix it");
  assert.equal(approvalTag("s1"), "pocket-relay:s1:approval");
});
