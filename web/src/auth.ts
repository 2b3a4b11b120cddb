// Sign-in: pairing (`#pair=<code>`), the device key (a non-extractable CryptoKey kept in
// IndexedDB) and short-lived tokens made by signing the server's challenge. The token is held in
// memory only; a new one is made before it expires, or after a 401 / WebSocket close 4003.

import { api, setTokenSource } from "./api";
import * as db from "./db";
import { signInWithKey, type AuthInfo, type DeviceKey, type Token } from "./signin";
import { generateDeviceKey, publicKeyLine } from "./sshsig";
import { forgetRemembered, notify, state } from "./store";
import { RelayError } from "./types";

const TOKEN_TTL_S = 3600;
const RENEW_BEFORE_MS = 120_000;

let info: AuthInfo | null = null;
let device: DeviceKey | null = null;
let token: Token | null = null;
let signingIn: Promise<string> | null = null;
let renewTimer: ReturnType<typeof setTimeout> | undefined;
let onRenewed: () => void = () => {};

/** The connection module reconnects with the new token when one is made ahead of expiry. */
export function onTokenRenewed(f: () => void): void {
  onRenewed = f;
}

export function authEnabled(): boolean {
  return !!info?.auth_enabled;
}

function deviceName(): string {
  const ua = navigator.userAgent;
  const os = /iPhone/.test(ua)
    ? "iPhone"
    : /iPad/.test(ua)
      ? "iPad"
      : /Android/.test(ua)
        ? "Android"
        : /Mac OS X/.test(ua)
          ? "Mac"
          : /Windows/.test(ua)
            ? "Windows"
            : /Linux/.test(ua)
              ? "Linux"
              : "Device";
  const browser = /Edg\//.test(ua)
    ? "Edge"
    : /Firefox\//.test(ua)
      ? "Firefox"
      : /Chrome\//.test(ua)
        ? "Chrome"
        : /Safari\//.test(ua)
          ? "Safari"
          : "browser";
  return `${os} ${browser}`;
}

/** Read the pairing code from the fragment and take it out of the address bar and history. */
function takePairCode(): string | null {
  const m = /^#pair=([^&]+)/.exec(location.hash);
  if (!m) return null;
  history.replaceState(null, "", `${location.pathname}${location.search}#/`);
  try {
    return decodeURIComponent(m[1] as string);
  } catch {
    return m[1] as string;
  }
}

export async function init(): Promise<void> {
  const code = takePairCode();
  device = (await db.getKey<DeviceKey>("device")) ?? null;
  try {
    info = await api<AuthInfo>("/api/v1/auth/info", { auth: false });
    await db.putKey("info", info);
  } catch (e) {
    if (e instanceof RelayError && e.code === "not_found") info = { auth_enabled: false };
    else info = (await db.getKey<AuthInfo>("info")) ?? (device ? { auth_enabled: true } : null);
  }
  if (info && !info.auth_enabled) {
    state.auth = "off";
  } else if (code) {
    await pair(code);
  } else if (device) {
    state.auth = "signed-in";
  } else if (info) {
    state.auth = "needs-pairing";
  } else {
    state.auth = "unknown";
  }
  notify();
}

/** Ask the server again whether sign-in is on (after a WebSocket refused for want of a token). */
export async function recheck(): Promise<void> {
  try {
    info = await api<AuthInfo>("/api/v1/auth/info", { auth: false });
    await db.putKey("info", info);
  } catch (e) {
    if (!(e instanceof RelayError && e.code === "not_found")) return;
    info = { auth_enabled: false };
  }
  if (info.auth_enabled && !device && state.auth !== "signed-out") state.auth = "needs-pairing";
  if (!info.auth_enabled) state.auth = "off";
  notify();
}

export async function pair(code: string): Promise<void> {
  state.auth = "pairing";
  state.authMessage = null;
  notify();
  try {
    if (!crypto.subtle) throw new RelayError("insecure", "Pairing needs HTTPS (or localhost): this page has no WebCrypto.");
    const name = deviceName();
    const { alg, keys } = await generateDeviceKey(crypto.subtle);
    const line = await publicKeyLine(crypto.subtle, alg, keys.publicKey, name);
    const r = await api<{ device_id: string; user: string }>("/api/v1/auth/pair", {
      method: "POST",
      auth: false,
      body: { code: code.trim(), public_key: line, device_name: name },
    });
    const d: DeviceKey = { alg, keys, public_key: line, device_id: r.device_id, user: r.user };
    if (!(await db.putKey("device", d))) {
      throw new RelayError("storage", "This browser would not store the device key (private window?).");
    }
    device = d;
    token = null;
    state.auth = "signed-in";
    await getToken(true);
    location.hash = "#/";
  } catch (e) {
    state.auth = device ? "signed-in" : "needs-pairing";
    const msg = e instanceof Error ? e.message : String(e);
    state.authMessage =
      e instanceof RelayError && (e.code === "unauthorized" || e.code === "not_found" || e.code === "bad_request")
        ? `Pairing failed: the code was wrong or has expired (${msg}). Make a new one with \`pocket-relay pair\`.`
        : `Pairing failed: ${msg}`;
  }
  notify();
}

async function signIn(): Promise<string> {
  if (!device || !info) throw new RelayError("unauthorized", "not paired");
  const d = device;
  try {
    const t = await signInWithKey(d, info, TOKEN_TTL_S);
    token = t;
    clearTimeout(renewTimer);
    renewTimer = setTimeout(
      () => {
        token = null;
        getToken(false).then(() => onRenewed(), () => {});
      },
      Math.max(10_000, t.expiresAt - Date.now() - RENEW_BEFORE_MS),
    );
    return t.value;
  } catch (e) {
    if (e instanceof RelayError && e.status === 401) {
      // The key is no longer accepted: the device was revoked.
      token = null;
      state.auth = "signed-out";
      notify();
    }
    throw e;
  }
}

/** A valid token, or null when sign-in is off. Throws when offline or signed out. */
export async function getToken(fresh: boolean): Promise<string | null> {
  if (!info?.auth_enabled) return null;
  if (state.auth === "signed-out") throw new RelayError("unauthorized", "signed out");
  if (!fresh && token && token.expiresAt - Date.now() > 30_000) return token.value;
  if (fresh) token = null;
  if (!signingIn) {
    signingIn = signIn().finally(() => {
      signingIn = null;
    });
  }
  return signingIn;
}

export function dropToken(): void {
  token = null;
}

/** Forget this device's key, to pair again. */
export async function forgetDevice(): Promise<void> {
  token = null;
  device = null;
  clearTimeout(renewTimer);
  await db.clearAll();
  forgetRemembered();
  state.auth = "needs-pairing";
  state.authMessage = null;
  notify();
}

setTokenSource((fresh) => getToken(fresh));
