// The service worker's reading of push payloads and the notifications it makes of them.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  afterResolved,
  alreadyAnswered,
  genericNotification,
  notificationFor,
  parsePayload,
  UPDATE_WINDOW_MS,
  withCount,
  type Existing,
} from "../src/sw/payload";

const S = "0b6c3c1e-4e8a-4f7e-9f63-7e0f3c2a9b11";
const approval = (over: Record<string, unknown> = {}) =>
  JSON.stringify({
    v: 1,
    id: "n1",
    kind: "approval",
    session_id: S,
    tag: `pocket-relay:${S}:approval`,
    title: "Claude needs your approval",
    body: "in my project",
    url: `/#/s/${S}`,
    count: 1,
    request_id: "req-1",
    ...over,
  });

test("an approval for one request shows Allow and Deny, and a new one buzzes", () => {
  const p = parsePayload(approval());
  assert.ok(p);
  const n = notificationFor(p, null, 1000);
  assert.equal(n.title, "Claude needs your approval");
  assert.equal(n.options.body, "in my project");
  assert.equal(n.options.tag, `pocket-relay:${S}:approval`);
  assert.deepEqual(n.options.actions.map((a) => a.action), ["allow", "deny"]);
  assert.deepEqual(n.options.data, { kind: "approval", session_id: S, url: `/#/s/${S}`, count: 1, request_id: "req-1" });
  assert.equal(n.options.silent, false);
  // A later approval in the same session replaces the one on screen and buzzes again.
  const old: Existing = { title: n.title, body: n.options.body, tag: n.options.tag, data: n.options.data, timestamp: 1000 };
  const later = notificationFor(parsePayload(approval({ request_id: "req-2" }))!, old, 1000 + UPDATE_WINDOW_MS + 1);
  assert.equal(later.options.renotify, true);
  assert.equal(later.options.silent, false);
});

test("a coalesced update of the same burst replaces the notification silently, without actions for many", () => {
  const first = parsePayload(approval())!;
  const shown = notificationFor(first, null, 1000);
  const old: Existing = { title: shown.title, body: shown.options.body, tag: shown.options.tag, data: shown.options.data, timestamp: 1000 };
  const update = parsePayload(approval({ count: 10, request_id: undefined, body: "10 requests in my project", url: "/#/inbox" }))!;
  const n = notificationFor(update, old, 2100);
  assert.equal(n.options.silent, true);
  assert.equal(n.options.renotify, false);
  assert.equal(n.options.body, "10 requests in my project");
  assert.deepEqual(n.options.actions, []);
  assert.equal(n.options.data.url, "/#/inbox");
  assert.equal(n.options.data.request_id, undefined);
});

test("resolved closes the tag when none is left, else shows the new count silently", () => {
  const resolved = (count: number, request_id = "req-1") =>
    parsePayload(JSON.stringify({ v: 1, id: "n2", kind: "resolved", session_id: S, tag: `pocket-relay:${S}:approval`, request_id, count }))!;
  assert.equal(afterResolved(resolved(0), null), "close");
  const three: Existing = {
    title: "Claude needs your approval",
    body: "3 requests in my project",
    tag: `pocket-relay:${S}:approval`,
    data: { kind: "approval", session_id: S, url: "/#/inbox", count: 3 },
    timestamp: 5,
  };
  const two = afterResolved(resolved(2), three);
  assert.ok(two && two !== "close");
  assert.equal(two.options.body, "2 requests in my project");
  assert.equal(two.options.silent, true);
  assert.deepEqual(two.options.actions, []);
  const one = afterResolved(resolved(1), { ...three, body: "2 requests in my project", data: two.options.data });
  assert.ok(one && one !== "close");
  assert.equal(one.options.body, "in my project");
  assert.equal(one.options.data.url, `/#/s/${S}`);
  // Nothing on screen: nothing to update.
  assert.equal(afterResolved(resolved(1), null), null);
  // The shown request was answered but another is pending: its buttons go.
  const single: Existing = { ...three, body: "in my project", data: { kind: "approval", session_id: S, url: `/#/s/${S}`, count: 1, request_id: "req-1" } };
  const rest = afterResolved(resolved(1, "req-1"), single);
  assert.ok(rest && rest !== "close");
  assert.equal(rest.options.data.request_id, undefined);
});

test("text stays text: no markup is interpreted, control characters go, lengths are bounded", () => {
  const p = parsePayload(approval({ title: "<img src=x onerror=alert(1)>", body: "a\u0000b\nc\u2028d", summary: "x".repeat(5000), tool: "Bash" }))!;
  assert.equal(p.title, "<img src=x onerror=alert(1)>");
  assert.equal(p.body, "a b c d");
  assert.ok(p.summary!.length <= 300);
  assert.equal(notificationFor(p, null, 0).options.body, "a b c d", "the relay's body as it is");
  const bare = parsePayload(approval({ body: "", summary: "ls -la", tool: "Bash" }))!;
  assert.equal(notificationFor(bare, null, 0).options.body, "Bash: ls -la");
});

test("a click can only lead into the app", () => {
  for (const url of ["javascript:alert(1)", "https://evil.example/", "//evil.example/#/", "/#/s/x\"><b>", 42]) {
    assert.equal(parsePayload(approval({ url }))!.url, `/#/s/${S}`, String(url));
  }
  assert.equal(parsePayload(approval({ url: "/#/inbox" }))!.url, "/#/inbox");
});

test("malformed payloads are not read (the worker shows the generic notification)", () => {
  for (const bad of [null, "", "not json", "[]", "null", "{}", JSON.stringify({ v: 2, kind: "approval", session_id: S }), approval({ kind: "other" }), approval({ session_id: "../x y" })]) {
    assert.equal(parsePayload(bad), null, String(bad));
  }
  const g = genericNotification(0);
  assert.equal(g.title, "pocket-relay");
  assert.deepEqual(g.options.actions, []);
});

test("already answered keeps the tag and drops the buttons", () => {
  const n = alreadyAnswered({ title: "Claude needs your approval", body: "in my project", tag: "pocket-relay:x:approval", data: { kind: "approval", session_id: S, request_id: "r", url: `/#/s/${S}`, count: 1 }, timestamp: 0 }, 9);
  assert.equal(n.title, "Already answered on another device");
  assert.equal(n.options.tag, "pocket-relay:x:approval");
  assert.deepEqual(n.options.actions, []);
});

test("withCount rewrites the number of requests", () => {
  assert.equal(withCount("10 requests in p", 4), "4 requests in p");
  assert.equal(withCount("in p · 10 requests", 1), "in p");
  assert.equal(withCount("in p", 1), "in p");
  assert.equal(withCount("2 requests in p", 1), "in p");
  assert.equal(withCount("Bash: ls — 2 requests in p", 1), "Bash: ls — in p");
});
