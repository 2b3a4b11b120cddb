// REST calls in the `/api/v1` envelope: `{success, data}` or `{success: false, error}`.

import { RelayError } from "./types";

type TokenSource = (fresh: boolean) => Promise<string | null>;
let tokenSource: TokenSource = async () => null;

/** The auth module tells how to get a token (none when sign-in is off). */
export function setTokenSource(f: TokenSource): void {
  tokenSource = f;
}

export interface ApiOptions {
  method?: string;
  body?: unknown;
  /** Send the token (default true). */
  auth?: boolean;
}

async function once(path: string, opts: ApiOptions, token: string | null): Promise<{ status: number; json: any }> {
  const headers: Record<string, string> = { Accept: "application/json" };
  if (opts.body !== undefined) headers["Content-Type"] = "application/json";
  if (token) headers["Authorization"] = `Bearer ${token}`;
  let res: Response;
  try {
    res = await fetch(path, {
      method: opts.method ?? "GET",
      headers,
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      credentials: "omit",
      cache: "no-store",
    });
  } catch {
    throw new RelayError("network", "The server cannot be reached");
  }
  let json: any = null;
  try {
    json = await res.json();
  } catch {
    json = null;
  }
  return { status: res.status, json };
}

/** A GET whose answer is bytes (an image), with the same sign-in as `api`. */
export async function apiBlob(path: string): Promise<Blob> {
  const get = async (token: string | null) => {
    const headers: Record<string, string> = {};
    if (token) headers["Authorization"] = `Bearer ${token}`;
    try {
      return await fetch(path, { headers, credentials: "omit" });
    } catch {
      throw new RelayError("network", "The server cannot be reached");
    }
  };
  let token = await tokenSource(false);
  let res = await get(token);
  if (res.status === 401 && token) {
    token = await tokenSource(true);
    if (token) res = await get(token);
  }
  if (!res.ok) throw new RelayError(res.status === 404 ? "not_found" : "internal", `HTTP ${res.status}`, res.status);
  return res.blob();
}

export async function api<T = any>(path: string, opts: ApiOptions = {}): Promise<T> {
  const useAuth = opts.auth !== false;
  let token = useAuth ? await tokenSource(false) : null;
  let r = await once(path, opts, token);
  if (r.status === 401 && useAuth && token) {
    // The token died (expired or revoked): sign in again once.
    token = await tokenSource(true);
    if (token) r = await once(path, opts, token);
  }
  if (r.json && r.json.success === true) return r.json.data as T;
  const err = r.json && r.json.error;
  if (err && typeof err.code === "string") throw new RelayError(err.code, String(err.message ?? err.code), r.status);
  throw new RelayError(r.status === 404 ? "not_found" : "internal", `HTTP ${r.status}`, r.status);
}
