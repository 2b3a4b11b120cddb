// The one module that owns the WebSocket: hello/welcome, requests and their answers, liveness
// (the browser's offline/online events and an app-level ping while the page is visible),
// reconnect with backoff, subscriptions resumed with `after_seq` (the last seq seen, kept in
// IndexedDB with the events), dedupe by seq, live deltas, and the outbox of prompts.

import { api } from "./api";
import * as auth from "./auth";
import * as db from "./db";
import { notify, noteResolved, remember, snapshotSessions, state, toast, view, newId, type SessionView } from "./store";
import { RelayError, type ErrorObject, type OutboxPrompt, type RelayEvent, type Session } from "./types";

const PAGE = 100;
/** A cache further behind than this is dropped and the session opens at its last page. */
const MAX_CATCH_UP = 1000;
const CLIENT = { name: "pocket-relay-web", version: "0.1.0" };
/** While the page is visible, a `ping` goes out after this long without a frame from the server… */
export const PING_MS = 3000;
/** …and a ping unanswered (nothing at all heard since it went) for this long means the link is dead:
 * a silent link is noticed within 11 s (ticks of 1 s), where the server's heartbeat takes 45–60 s. */
export const PING_ANSWER_MS = 2 * PING_MS;
/** A socket not welcomed within this long is given up and tried again. */
const HANDSHAKE_MS = 10_000;

let ws: WebSocket | null = null;
let welcomed = false;
let attempt = 0;
let reconnectTimer: ReturnType<typeof setTimeout> | undefined;
let countdownTimer: ReturnType<typeof setInterval> | undefined;
let pingTimer: ReturnType<typeof setInterval> | undefined;
let handshakeTimer: ReturnType<typeof setTimeout> | undefined;
/** When the last frame came from the server, and when the ping not yet answered went (0: none). */
let lastRx = 0;
let pingSentAt = 0;
let nextId = 1;
let stopped = false;
let authCloses = 0;
const pending = new Map<string, { resolve: (d: any) => void; reject: (e: RelayError) => void }>();
/** Sessions the screens want live (the open conversation). */
const wanted = new Set<string>();
/** What other modules run at every `welcome` (the inbox subscribes again), and the server frames
 * they take by `type` (the inbox's changes). */
const welcomeHooks: (() => void)[] = [];
const frameHandlers = new Map<string, (data: unknown) => void>();

export function onWelcome(hook: () => void): void {
  welcomeHooks.push(hook);
}

export function onServerFrame(type: string, handler: (data: unknown) => void): void {
  frameHandlers.set(type, handler);
}

// ---------------------------------------------------------------- socket

function wsUrl(): string {
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  return `${proto}//${location.host}/ws`;
}

let started = false;
export function start(): void {
  stopped = false;
  if (started) return void connect();
  started = true;
  // The browser knows the network went: say so at once and stop trusting the socket (a dead link
  // can take minutes to close by itself). Back: try at once, not at the end of a backoff.
  window.addEventListener("offline", () => {
    if (stopped) return;
    if (ws) dropSocket();
    else {
      state.conn = "offline";
      notify();
    }
  });
  window.addEventListener("online", () => {
    if (stopped) return;
    if (ws && welcomed) return void probe();
    if (ws) dropSocket(); // a handshake begun while offline may hang: start afresh
    reconnectNow();
  });
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") checkAlive();
    else stopPinger(); // hidden: no pings (battery); checked again when visible
  });
  loadCache();
  connect();
}

let cacheLoaded = false;
/** Show what was saved (the sessions list, the outbox) at once, before any sign-in or socket. */
export function loadCache(): void {
  if (cacheLoaded) return;
  cacheLoaded = true;
  void loadOutbox();
  void db.getSessions().then((cached) => {
    if (state.sessionsLoaded) return;
    // The whole records (the list's snapshot, already shown, has only what the list needs).
    for (const s of cached) state.sessions[s.id] = { ...state.sessions[s.id], ...s };
    snapshotSessions();
    notify();
  });
}

/** Stop for good (signed out). */
export function stop(): void {
  stopped = true;
  clearTimeout(reconnectTimer);
  clearInterval(countdownTimer);
  clearTimeout(handshakeTimer);
  stopPinger();
  ws?.close(1000);
  ws = null;
}

async function connect(): Promise<void> {
  if (stopped || ws) return;
  clearTimeout(reconnectTimer);
  clearInterval(countdownTimer);
  state.retryInS = null;
  if (state.conn !== "offline") state.conn = "connecting";
  notify();
  let token: string | null = null;
  try {
    token = await auth.getToken(false);
  } catch (e) {
    if (state.auth === "signed-out" || state.auth === "needs-pairing") return stop();
    scheduleReconnect();
    return;
  }
  if (stopped || ws) return;
  const sock = new WebSocket(wsUrl());
  ws = sock;
  welcomed = false;
  clearTimeout(handshakeTimer);
  handshakeTimer = setTimeout(() => {
    if (ws === sock && !welcomed) dropSocket();
  }, HANDSHAKE_MS);
  sock.onopen = () => {
    const hello: Record<string, unknown> = { type: "hello", protocol: 1, client: CLIENT, capabilities: ["permissions"] };
    if (token) hello.token = token;
    sock.send(JSON.stringify(hello));
  };
  sock.onmessage = (m) => {
    if (ws !== sock) return;
    lastRx = Date.now();
    let f: any;
    try {
      f = JSON.parse(String(m.data));
    } catch {
      return;
    }
    onFrame(f);
  };
  sock.onclose = (ev) => {
    if (ws !== sock) return;
    onClosed(ev.code);
  };
}

/** Give up the current socket now, without waiting for a close handshake over a dead link. */
function dropSocket(): void {
  const sock = ws;
  if (!sock) return;
  ws = null;
  sock.onclose = null;
  sock.onmessage = null;
  try {
    sock.close();
  } catch {
    /* already closed */
  }
  onClosed(1006);
}

function onClosed(code: number): void {
  ws = null;
  welcomed = false;
  clearTimeout(handshakeTimer);
  stopPinger();
  for (const [, p] of pending) p.reject(new RelayError("network", "connection lost"));
  pending.clear();
  for (const v of Object.values(state.views)) {
    v.subscribed = false;
    v.live = null;
  }
  for (const o of state.outbox) if (o.state === "sending") o.state = "waiting";
  state.conn = "offline";
  notify();
  if (stopped) return;
  if (code === 4003 || code === 4001) {
    // The token was revoked or expired, or none was sent: learn whether sign-in is on, then sign in
    // again (a revoked device gets 401 → Signed out). Refused twice in a row: back off.
    authCloses++;
    auth.dropToken();
    auth
      .recheck()
      .then(() => auth.getToken(true))
      .then(
        () => (authCloses > 2 ? scheduleReconnect() : reconnectNow()),
        () => (state.auth === "signed-out" || state.auth === "needs-pairing" ? stop() : scheduleReconnect()),
      );
    return;
  }
  authCloses = 0;
  if (code === 4008) attempt = 0; // slow consumer: come back at once and resume.
  scheduleReconnect();
}

function scheduleReconnect(): void {
  if (stopped) return;
  const base = Math.min(30_000, 500 * 2 ** attempt);
  const delay = Math.round(base / 2 + Math.random() * (base / 2));
  attempt = Math.min(attempt + 1, 8);
  const due = Date.now() + delay;
  state.conn = "offline";
  state.retryInS = Math.ceil(delay / 1000);
  clearInterval(countdownTimer);
  countdownTimer = setInterval(() => {
    state.retryInS = Math.max(0, Math.ceil((due - Date.now()) / 1000));
    notify();
  }, 1000);
  clearTimeout(reconnectTimer);
  reconnectTimer = setTimeout(() => void connect(), delay);
  notify();
}

/** Try now (network came back, the person pressed "Retry now", a new token). */
export function reconnectNow(): void {
  if (stopped) return;
  if (ws && welcomed) {
    // A new token: replace the socket; subscriptions resume from their last seq.
    const old = ws;
    ws = null;
    old.onclose = null;
    old.close(1000);
    onClosed(1000);
  }
  attempt = 0;
  clearTimeout(reconnectTimer);
  void connect();
}

auth.onTokenRenewed(() => reconnectNow());

/** The page became visible (it may have slept with the socket dying under it): ask at once. */
function checkAlive(): void {
  if (stopped) return;
  if (!ws) return reconnectNow();
  if (!welcomed) return; // a handshake runs, with its own deadline
  probe();
}

/** Ping now and watch for the answer (any frame counts) within PING_ANSWER_MS. */
function probe(): void {
  if (!ws || !welcomed) return;
  sendPing();
  startPinger();
}

function sendPing(): void {
  pingSentAt = Date.now();
  request("ping", {}).catch(() => {});
}

/** While visible: a ping after PING_MS of silence; dead when it goes unanswered PING_ANSWER_MS. */
function startPinger(): void {
  if (pingTimer !== undefined || typeof document === "undefined" || document.visibilityState !== "visible") return;
  pingTimer = setInterval(() => {
    if (!ws || !welcomed) return;
    const now = Date.now();
    if (pingSentAt > lastRx && now - pingSentAt > PING_ANSWER_MS) return void dropSocket();
    if (pingSentAt <= lastRx && now - lastRx >= PING_MS) sendPing();
  }, 1000);
}

function stopPinger(): void {
  clearInterval(pingTimer);
  pingTimer = undefined;
  pingSentAt = 0;
}

function send(frame: unknown): boolean {
  if (!ws || ws.readyState !== WebSocket.OPEN) return false;
  ws.send(JSON.stringify(frame));
  return true;
}

/** One request over the socket; resolves with `data` or rejects with the error object. */
export function request<T = any>(type: string, fields: Record<string, unknown>): Promise<T> {
  if (!ws || !welcomed) return Promise.reject(new RelayError("network", "offline"));
  const id = String(nextId++);
  return new Promise<T>((resolve, reject) => {
    pending.set(id, { resolve, reject });
    if (!send({ id, type, ...fields })) {
      pending.delete(id);
      reject(new RelayError("network", "offline"));
    }
  });
}

function onFrame(f: any): void {
  switch (f.type) {
    case "welcome":
      welcomed = true;
      clearTimeout(handshakeTimer);
      authCloses = 0;
      attempt = 0;
      state.conn = "online";
      state.retryInS = null;
      state.user = f.user ?? null;
      if (f.connection_id) {
        state.connectionIds.add(String(f.connection_id));
        remember("pocket-relay.connections", String(f.connection_id));
      }
      lastRx = Date.now();
      pingSentAt = 0;
      startPinger();
      notify();
      void refreshSessions();
      for (const id of wanted) void subscribeSession(id);
      for (const hook of welcomeHooks) hook();
      flushOutbox();
      return;
    case "response": {
      const p = pending.get(String(f.id));
      if (!p) return;
      pending.delete(String(f.id));
      if (f.ok) p.resolve(f.data ?? {});
      else {
        const e: ErrorObject = f.error ?? { code: "internal", message: "error" };
        const err = new RelayError(e.code, e.message);
        (err as RelayError & { details?: unknown }).details = e.details;
        p.reject(err);
      }
      return;
    }
    case "event":
      onEvent(f as RelayEvent);
      return;
    case "delta":
      onDelta(f.session_id, Number(f.after_seq) || 0, f.message);
      return;
    case "error":
      console.warn("relay error", f.error);
      return;
    default:
      frameHandlers.get(String(f.type))?.(f.data);
  }
}

// ---------------------------------------------------------------- sessions

function putSession(s: Session): void {
  state.sessions[s.id] = { ...state.sessions[s.id], ...s };
  void db.putSessions([state.sessions[s.id] as Session]);
  snapshotSessions();
}

export async function refreshSessions(): Promise<void> {
  try {
    const r = await request<{ sessions: Session[] }>("session.list", {});
    const next: Record<string, Session> = {};
    for (const s of r.sessions) next[s.id] = s;
    for (const old of Object.keys(state.sessions)) if (!next[old]) void db.deleteSession(old);
    state.sessions = next;
    state.sessionsLoaded = true;
    snapshotSessions();
    void db.putSessions(r.sessions);
    notify();
  } catch {
    /* offline: the cached list stays */
  }
}

/** The conversation screen opened: show the cache at once, then subscribe. */
export async function openSession(id: string): Promise<void> {
  wanted.add(id);
  const v = view(id);
  if (!v.cacheLoaded) {
    const cached = await db.getEvents(id);
    // Keep the contiguous run that ends at the newest cached event.
    let i = cached.length - 1;
    while (i > 0 && (cached[i - 1] as RelayEvent).seq === (cached[i] as RelayEvent).seq - 1) i--;
    const run = cached.slice(Math.max(0, i));
    if (!v.cacheLoaded) {
      v.cacheLoaded = true;
      if (v.events.length === 0) v.events = run;
      notify();
    }
  }
  if (welcomed) await subscribeSession(id);
}

export function closeSession(id: string): void {
  wanted.delete(id);
  const v = state.views[id];
  if (v?.subscribed) {
    v.subscribed = false;
    request("session.unsubscribe", { session_id: id }).catch(() => {});
  }
}

function lastSeq(v: SessionView): number {
  return v.events.length ? (v.events[v.events.length - 1] as RelayEvent).seq : 0;
}

async function subscribeSession(id: string): Promise<void> {
  const v = view(id);
  if (v.subscribed) return;
  v.subscribed = true;
  try {
    let after = lastSeq(v);
    const known = state.sessions[id]?.last_seq;
    if (after === 0 || (known !== undefined && known - after > MAX_CATCH_UP)) {
      // Open at the end: the last page, then live from there.
      const s = (await request<{ session: Session }>("session.get", { session_id: id })).session;
      putSession(s);
      const last = s.last_seq ?? 0;
      if (last > 0) {
        const from = Math.max(0, last - PAGE);
        const page = await eventsPage(id, { after_seq: from, limit: PAGE });
        v.events = page.filter((e) => e.seq > from && e.seq <= last);
        v.noOlder = from === 0;
        void db.pruneEvents(id, Number.MAX_SAFE_INTEGER);
        void db.putEvents(v.events);
        after = lastSeq(v);
        notify();
      }
    }
    const r = await request<{ session: Session; last_seq: number }>("session.subscribe", { session_id: id, after_seq: after });
    putSession(r.session);
    notify();
  } catch (e) {
    v.subscribed = false;
    if (!(e instanceof RelayError)) throw e;
    if (e.code === "replay_gap" || e.code === "bad_request") {
      // Our cache is older than what the server keeps, or from another store: start over at the end.
      v.events = [];
      void db.pruneEvents(id, Number.MAX_SAFE_INTEGER);
      if (welcomed && wanted.has(id)) setTimeout(() => void subscribeSession(id), 200);
    } else if (e.code === "not_found") {
      delete state.sessions[id];
      void db.deleteSession(id);
      snapshotSessions();
      notify();
    }
  }
}

async function eventsPage(id: string, q: { after_seq?: number; before_seq?: number; limit: number }): Promise<RelayEvent[]> {
  const params = new URLSearchParams();
  if (q.after_seq !== undefined) params.set("after_seq", String(q.after_seq));
  if (q.before_seq !== undefined) params.set("before_seq", String(q.before_seq));
  params.set("limit", String(q.limit));
  const r = await api<{ events: RelayEvent[] }>(`/api/v1/sessions/${encodeURIComponent(id)}/events?${params}`);
  return [...r.events].sort((a, b) => a.seq - b.seq);
}

/** Scrolled to the top: the page before the oldest event shown. */
export async function loadOlder(id: string): Promise<void> {
  const v = view(id);
  const first = v.events[0];
  if (!first || first.seq <= 1 || v.loadingOlder || v.noOlder) {
    if (first && first.seq <= 1) v.noOlder = true;
    return;
  }
  v.loadingOlder = true;
  notify();
  try {
    let page = (await eventsPage(id, { before_seq: first.seq, limit: PAGE })).filter((e) => e.seq < first.seq);
    if (page[page.length - 1]?.seq !== first.seq - 1) {
      // A server without `before_seq` answers from the start: ask for the same page by `after_seq`.
      const from = Math.max(0, first.seq - 1 - PAGE);
      page = (await eventsPage(id, { after_seq: from, limit: first.seq - 1 - from })).filter((e) => e.seq < first.seq);
    }
    // Keep only the run that joins the events shown, so they stay contiguous.
    const joined: RelayEvent[] = [];
    let want = first.seq - 1;
    for (let i = page.length - 1; i >= 0 && (page[i] as RelayEvent).seq === want; i--, want--) joined.unshift(page[i] as RelayEvent);
    if (joined.length === 0) v.noOlder = true;
    else {
      v.events = [...joined, ...v.events];
      if ((joined[0] as RelayEvent).seq <= 1) v.noOlder = true;
    }
  } catch (e) {
    toast(`Could not load older messages: ${e instanceof Error ? e.message : e}`);
  } finally {
    v.loadingOlder = false;
    notify();
  }
}

let persistQueue: RelayEvent[] = [];
let persistTimer: ReturnType<typeof setTimeout> | undefined;
function persist(e: RelayEvent): void {
  persistQueue.push(e);
  if (persistTimer) return;
  persistTimer = setTimeout(() => {
    const batch = persistQueue;
    persistQueue = [];
    persistTimer = undefined;
    void db.putEvents(batch);
    const crossed = batch.find((e) => e.seq % 100 === 0);
    if (crossed) void db.pruneEvents(crossed.session_id, crossed.seq - db.CACHE_EVENTS_PER_SESSION);
  }, 100);
}

function onEvent(e: RelayEvent): void {
  const v = view(e.session_id);
  const last = lastSeq(v);
  if (v.events.length && e.seq <= last) return; // already seen
  if (v.events.length && e.seq !== last + 1) {
    // A gap cannot happen when resuming with after_seq; if it does, resubscribe from what we have.
    console.warn("gap", last, e.seq);
    v.subscribed = false;
    request("session.unsubscribe", { session_id: e.session_id })
      .catch(() => {})
      .then(() => subscribeSession(e.session_id));
    return;
  }
  v.events.push(e);
  persist(e);
  applyEvent(e, v);
  notify();
}

function applyEvent(e: RelayEvent, v: SessionView): void {
  const s = state.sessions[e.session_id];
  switch (e.kind) {
    case "session.created":
    case "session.updated":
      if (e.data?.session) putSession(e.data.session);
      break;
    case "session.status":
      if (s) putSession({ ...s, status: e.data?.status ?? s.status, last_seq: e.seq });
      break;
    case "prompt.queued": {
      const i = state.outbox.findIndex((o) => o.prompt_id === e.data?.prompt_id);
      if (i >= 0) {
        state.outbox.splice(i, 1);
        void db.deleteOutbox(e.data.prompt_id);
      }
      break;
    }
    case "agent.output":
      if (e.data?.message?.type === "assistant") v.live = null;
      break;
    case "prompt.completed":
    case "prompt.failed":
    case "agent.exited":
      v.live = null;
      break;
    case "permission.requested":
      if (s) putSession({ ...s, pending_permissions: [...(s.pending_permissions ?? []), e.data.request_id] });
      break;
    case "permission.resolved":
      noteResolved(String(e.data?.request_id), String(e.data?.decision), e.data?.by);
      if (s) putSession({ ...s, pending_permissions: (s.pending_permissions ?? []).filter((r) => r !== e.data.request_id) });
      break;
  }
  if (s && (s.last_seq ?? 0) < e.seq) s.last_seq = e.seq;
}

function onDelta(sessionId: string, afterSeq: number, message: any): void {
  const v = state.views[sessionId];
  if (!v) return;
  const ev = message?.event;
  if (!ev || typeof ev.type !== "string") return;
  switch (ev.type) {
    case "message_start":
    case "message_stop":
      v.live = null;
      break;
    case "content_block_start": {
      const b = ev.content_block ?? {};
      const kind = b.type === "thinking" ? "thinking" : b.type === "tool_use" ? "tool_use" : "text";
      v.live = { afterSeq, kind, text: "", toolName: b.name };
      break;
    }
    case "content_block_delta": {
      const d = ev.delta ?? {};
      if (!v.live) v.live = { afterSeq, kind: d.type === "thinking_delta" ? "thinking" : "text", text: "" };
      if (d.type === "text_delta" && typeof d.text === "string") v.live.text += d.text;
      else if (d.type === "thinking_delta" && typeof d.thinking === "string") v.live.text += d.thinking;
      else if (d.type === "input_json_delta" && typeof d.partial_json === "string") v.live.text += d.partial_json;
      break;
    }
    default:
      return;
  }
  notify();
}

// ---------------------------------------------------------------- prompts (the outbox)

async function loadOutbox(): Promise<void> {
  const saved = await db.getOutbox();
  for (const p of saved.sort((a, b) => a.created_at - b.created_at)) {
    if (!state.outbox.some((o) => o.prompt_id === p.prompt_id)) state.outbox.push({ ...p, state: "waiting" });
  }
  notify();
  flushOutbox();
}

function flushOutbox(): void {
  if (!welcomed) return;
  for (const o of state.outbox) if (o.state === "waiting") void sendOne(o);
}

async function sendOne(o: AppOutbox): Promise<void> {
  o.state = "sending";
  notify();
  try {
    await request("session.prompt", { session_id: o.session_id, text: o.text, prompt_id: o.prompt_id });
    o.state = "sent";
    // Confirmed by the answer; the entry goes when `prompt.queued` is seen, or now if nobody watches.
    if (!wanted.has(o.session_id)) dropOutbox(o.prompt_id);
  } catch (e) {
    if (e instanceof RelayError && e.code !== "network" && e.code !== "rate_limited" && e.code !== "unavailable") {
      o.state = "failed";
      o.error = e.message;
    } else {
      o.state = "waiting";
      if (e instanceof RelayError && e.code !== "network") setTimeout(flushOutbox, 3000);
    }
  }
  notify();
}

type AppOutbox = (typeof state.outbox)[number];

function dropOutbox(promptId: string): void {
  const i = state.outbox.findIndex((o) => o.prompt_id === promptId);
  if (i >= 0) state.outbox.splice(i, 1);
  void db.deleteOutbox(promptId);
  notify();
}

/** Send a prompt exactly once: kept in IndexedDB under its prompt_id until the server has it. */
export async function sendPrompt(sessionId: string, text: string): Promise<void> {
  const p: OutboxPrompt = { prompt_id: newId(), session_id: sessionId, text, created_at: Date.now() };
  await db.putOutbox(p);
  const o: AppOutbox = { ...p, state: "waiting" };
  state.outbox.push(o);
  notify();
  if (welcomed) await sendOne(o);
}

export function retryPrompt(promptId: string): void {
  const o = state.outbox.find((x) => x.prompt_id === promptId);
  if (!o) return;
  o.state = "waiting";
  delete o.error;
  flushOutbox();
  notify();
}

export const discardPrompt = dropOutbox;

// ---------------------------------------------------------------- session commands

/** A request whose failure is shown to the person; resolves with the data or undefined. */
export async function act<T = any>(type: string, fields: Record<string, unknown>, what: string): Promise<T | undefined> {
  try {
    const d = await request<T>(type, fields);
    const s = (d as any)?.session as Session | undefined;
    if (s?.id) {
      putSession(s);
      notify();
    }
    return d;
  } catch (e) {
    toast(`${what} failed: ${e instanceof Error ? e.message : e}`);
    return undefined;
  }
}

export async function answerPermission(
  sessionId: string,
  requestId: string,
  answer: { decision: "allow" | "deny"; always?: boolean; message?: string; updated_input?: unknown },
): Promise<void> {
  try {
    await request("session.permission", { session_id: sessionId, request_id: requestId, ...answer });
    state.answered[requestId] = answer.decision;
    remember("pocket-relay.answered", requestId);
  } catch (e) {
    if (e instanceof RelayError && e.code === "conflict") state.conflicts[requestId] = true;
    else toast(`Answer failed: ${e instanceof Error ? e.message : e}`);
  }
  notify();
}

export async function createSession(fields: Record<string, unknown>): Promise<Session> {
  const d = await request<{ session: Session }>("session.create", fields);
  putSession(d.session);
  notify();
  return d.session;
}
