// Answering a permission request from a notification: the service worker signs in with the
// device key the app keeps in IndexedDB (the same challenge/verify as the app, ../signin.ts), keeps
// the token in memory until shortly before it expires, and POSTs the decision through the REST API.

import { api, setTokenSource } from "../api";
import * as db from "../db";
import { signInWithKey, type AuthInfo, type DeviceKey, type Token } from "../signin";
import { RelayError } from "../types";

/** How long a token made here lives (the worker may be stopped long before). */
const TOKEN_TTL_S = 600;
/** A token this close to its end is not used. */
const MARGIN_MS = 30_000;

let token: Token | null = null;
let signingIn: Promise<string> | null = null;

/** What answering came to. */
export type Outcome =
  | { kind: "answered" }
  /** Another device (or the app) answered first: the server no longer has it pending. */
  | { kind: "already" }
  /** This browser holds no device key, or the server no longer accepts it: the app must open. */
  | { kind: "not-paired" }
  | { kind: "failed"; reason: string };

async function authInfo(): Promise<AuthInfo> {
  try {
    const info = await api<AuthInfo>("/api/v1/auth/info", { auth: false });
    await db.putKey("info", info);
    return info;
  } catch (e) {
    if (e instanceof RelayError && e.code === "not_found") return { auth_enabled: false };
    const saved = await db.getKey<AuthInfo>("info");
    if (saved) return saved;
    throw e;
  }
}

/** This browser cannot sign in: no device key, or one the relay no longer accepts. */
class NotPaired extends Error {}
/** Signing in failed otherwise (offline, rate-limited): never read as the answer's own error. */
class SignInFailed extends Error {}

async function signIn(): Promise<string> {
  const device = await db.getKey<DeviceKey>("device");
  if (!device) throw new NotPaired("no device key");
  const info = (await db.getKey<AuthInfo>("info")) ?? (await authInfo());
  try {
    token = await signInWithKey(device, info, TOKEN_TTL_S);
  } catch (e) {
    if (e instanceof RelayError && e.status === 401) throw new NotPaired("the device key is no longer accepted");
    throw new SignInFailed(`signing in failed: ${e instanceof Error ? e.message : e}`);
  }
  return token.value;
}

/** The worker's token source for `api()`: null when sign-in is off, else a cached or fresh token. */
async function getToken(fresh: boolean): Promise<string | null> {
  const info = (await db.getKey<AuthInfo>("info")) ?? (await authInfo());
  if (!info.auth_enabled) return null;
  if (!fresh && token && token.expiresAt - Date.now() > MARGIN_MS) return token.value;
  token = null;
  signingIn ??= signIn().finally(() => {
    signingIn = null;
  });
  return signingIn;
}

setTokenSource(getToken);

/** Answer `requestId` of `sessionId`; first answer wins (the server's not_found/conflict). */
export async function answer(sessionId: string, requestId: string, decision: "allow" | "deny"): Promise<Outcome> {
  const path = `/api/v1/sessions/${encodeURIComponent(sessionId)}/permissions/${encodeURIComponent(requestId)}`;
  try {
    await api(path, { method: "POST", body: { decision } });
    return { kind: "answered" };
  } catch (e) {
    if (e instanceof NotPaired) return { kind: "not-paired" };
    if (e instanceof SignInFailed) return { kind: "failed", reason: e.message };
    if (e instanceof RelayError) {
      if (e.code === "not_found" || e.code === "conflict") return { kind: "already" };
      if (e.status === 401 || e.code === "unauthorized") return { kind: "not-paired" };
      return { kind: "failed", reason: e.message };
    }
    return { kind: "failed", reason: e instanceof Error ? e.message : String(e) };
  }
}
