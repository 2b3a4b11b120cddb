// IndexedDB: what the app has seen (sessions, events), the prompts not yet confirmed (outbox)
// and the device key (a non-extractable CryptoKey). The app works without it (private windows
// may refuse IndexedDB): every call then resolves to nothing.

import type { OutboxPrompt, RelayEvent, Session } from "./types";

const DB_NAME = "pocket-relay";
const DB_VERSION = 1;
/** Events kept per session; older ones are dropped from the cache (the server still has them). */
export const CACHE_EVENTS_PER_SESSION = 400;

let dbPromise: Promise<IDBDatabase | null> | null = null;

function open(): Promise<IDBDatabase | null> {
  if (dbPromise) return dbPromise;
  dbPromise = new Promise((resolve) => {
    if (typeof indexedDB === "undefined") return resolve(null);
    let req: IDBOpenDBRequest;
    try {
      req = indexedDB.open(DB_NAME, DB_VERSION);
    } catch {
      return resolve(null);
    }
    req.onupgradeneeded = () => {
      const db = req.result;
      db.createObjectStore("sessions", { keyPath: "id" });
      db.createObjectStore("events", { keyPath: ["session_id", "seq"] });
      db.createObjectStore("outbox", { keyPath: "prompt_id" });
      db.createObjectStore("keys");
    };
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => resolve(null);
    req.onblocked = () => resolve(null);
  });
  return dbPromise;
}

function done(tx: IDBTransaction): Promise<void> {
  return new Promise((resolve) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => resolve();
    tx.onabort = () => resolve();
  });
}

function result<T>(req: IDBRequest<T>): Promise<T | undefined> {
  return new Promise((resolve) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => resolve(undefined);
  });
}

async function store(name: string, mode: IDBTransactionMode): Promise<[IDBObjectStore, IDBTransaction] | null> {
  const db = await open();
  if (!db) return null;
  try {
    const tx = db.transaction(name, mode);
    return [tx.objectStore(name), tx];
  } catch {
    return null;
  }
}

export async function putSessions(sessions: Session[]): Promise<void> {
  const s = await store("sessions", "readwrite");
  if (!s) return;
  for (const x of sessions) s[0].put(x);
  await done(s[1]);
}

export async function deleteSession(id: string): Promise<void> {
  const db = await open();
  if (!db) return;
  const tx = db.transaction(["sessions", "events"], "readwrite");
  tx.objectStore("sessions").delete(id);
  tx.objectStore("events").delete(IDBKeyRange.bound([id, 0], [id, Infinity]));
  await done(tx);
}

export async function getSessions(): Promise<Session[]> {
  const s = await store("sessions", "readonly");
  if (!s) return [];
  return ((await result(s[0].getAll())) as Session[] | undefined) ?? [];
}

export async function putEvents(events: RelayEvent[]): Promise<void> {
  if (events.length === 0) return;
  const s = await store("events", "readwrite");
  if (!s) return;
  for (const e of events) s[0].put(e);
  await done(s[1]);
}

/** The cached events of a session, ascending by seq. */
export async function getEvents(sessionId: string): Promise<RelayEvent[]> {
  const s = await store("events", "readonly");
  if (!s) return [];
  const range = IDBKeyRange.bound([sessionId, 0], [sessionId, Infinity]);
  return ((await result(s[0].getAll(range))) as RelayEvent[] | undefined) ?? [];
}

/** Drop the cached events of a session at or below `seq`. */
export async function pruneEvents(sessionId: string, belowOrAt: number): Promise<void> {
  if (belowOrAt < 1) return;
  const s = await store("events", "readwrite");
  if (!s) return;
  s[0].delete(IDBKeyRange.bound([sessionId, 0], [sessionId, belowOrAt]));
  await done(s[1]);
}

export async function putOutbox(p: OutboxPrompt): Promise<void> {
  const s = await store("outbox", "readwrite");
  if (!s) return;
  s[0].put(p);
  await done(s[1]);
}

export async function deleteOutbox(promptId: string): Promise<void> {
  const s = await store("outbox", "readwrite");
  if (!s) return;
  s[0].delete(promptId);
  await done(s[1]);
}

export async function getOutbox(): Promise<OutboxPrompt[]> {
  const s = await store("outbox", "readonly");
  if (!s) return [];
  return ((await result(s[0].getAll())) as OutboxPrompt[] | undefined) ?? [];
}

export async function getKey<T>(name: string): Promise<T | undefined> {
  const s = await store("keys", "readonly");
  if (!s) return undefined;
  return (await result(s[0].get(name))) as T | undefined;
}

export async function putKey(name: string, value: unknown): Promise<boolean> {
  const s = await store("keys", "readwrite");
  if (!s) return false;
  s[0].put(value, name);
  await done(s[1]);
  return true;
}

export async function deleteKey(name: string): Promise<void> {
  const s = await store("keys", "readwrite");
  if (!s) return;
  s[0].delete(name);
  await done(s[1]);
}

/** Forget everything cached (signing out for good). */
export async function clearAll(): Promise<void> {
  const db = await open();
  if (!db) return;
  const tx = db.transaction(["sessions", "events", "outbox", "keys"], "readwrite");
  for (const n of ["sessions", "events", "outbox", "keys"]) tx.objectStore(n).clear();
  await done(tx);
}
