// Signing in with the device key: ask the server for a challenge, sign its nonce (SSHSIG in the
// server's namespace), trade the signature for a short-lived token. One implementation for the app
// (auth.ts) and the service worker (sw/answer.ts, which answers from a notification).

import { api } from "./api";
import { sshsig, type KeyAlg } from "./sshsig";

/** What the server says about sign-in (`GET /api/v1/auth/info`), kept in IndexedDB as "info". */
export interface AuthInfo {
  auth_enabled: boolean;
  namespace?: string;
}

/** This device's key pair (the private half non-extractable), kept in IndexedDB as "device". */
export interface DeviceKey {
  alg: KeyAlg;
  keys: CryptoKeyPair;
  public_key: string;
  device_id?: string;
  user?: string;
}

/** A bearer token and when it stops working (ms since the epoch). */
export interface Token {
  value: string;
  expiresAt: number;
}

/** Challenge, sign, verify: a token for `ttlS` seconds. Throws the server's `RelayError`. */
export async function signInWithKey(device: DeviceKey, info: AuthInfo, ttlS: number): Promise<Token> {
  const ch = await api<{ challenge_id: string; nonce: string; namespace: string }>("/api/v1/auth/challenge", {
    method: "POST",
    auth: false,
    body: { public_key: device.public_key },
  });
  const signature = await sshsig(crypto.subtle, device.alg, device.keys, ch.namespace || info.namespace || "pocket-relay", ch.nonce);
  const v = await api<{ token: string; expires_at: string }>("/api/v1/auth/verify", {
    method: "POST",
    auth: false,
    body: { challenge_id: ch.challenge_id, signature, ttl_s: ttlS },
  });
  return { value: v.token, expiresAt: Date.parse(v.expires_at) || Date.now() + ttlS * 1000 };
}
