// SSH wire formats for a WebCrypto key: the OpenSSH public key line and the armored SSHSIG
// signature that `ssh-keygen -Y sign -n <namespace>` makes (PROTOCOL.sshsig in OpenSSH).
// Works with any `SubtleCrypto` (the browser's, or Node's in the unit test).

export type KeyAlg = "ssh-ed25519" | "ecdsa-sha2-nistp256";

const enc = new TextEncoder();

function u32(n: number): Uint8Array {
  return new Uint8Array([(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255]);
}

type Bytes = Uint8Array<ArrayBuffer>;

function concat(parts: Uint8Array[]): Bytes {
  let len = 0;
  for (const p of parts) len += p.length;
  const out = new Uint8Array(len);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** SSH `string`: uint32 length, then the bytes. */
export function sshString(data: Uint8Array | string): Uint8Array {
  const b = typeof data === "string" ? enc.encode(data) : data;
  return concat([u32(b.length), b]);
}

/** SSH `mpint` body of a non-negative big-endian integer: no leading zeros, a 0x00 when the high bit is set. */
export function mpintBody(bytes: Uint8Array): Uint8Array {
  let i = 0;
  while (i < bytes.length && bytes[i] === 0) i++;
  const b = bytes.subarray(i);
  if (b.length === 0) return b;
  if ((b[0] as number) & 0x80) return concat([new Uint8Array([0]), b]);
  return b;
}

export function toBase64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

/** The public key blob (what the OpenSSH line carries in base64) for a WebCrypto public key. */
export async function publicKeyBlob(subtle: SubtleCrypto, alg: KeyAlg, publicKey: CryptoKey): Promise<Uint8Array> {
  const raw = new Uint8Array(await subtle.exportKey("raw", publicKey));
  if (alg === "ssh-ed25519") return concat([sshString(alg), sshString(raw)]);
  // P-256 "raw" export is the uncompressed point 0x04 ‖ X ‖ Y.
  return concat([sshString(alg), sshString("nistp256"), sshString(raw)]);
}

/** `ssh-ed25519 AAAA… comment` / `ecdsa-sha2-nistp256 AAAA… comment`. */
export async function publicKeyLine(subtle: SubtleCrypto, alg: KeyAlg, publicKey: CryptoKey, comment?: string): Promise<string> {
  const blob = await publicKeyBlob(subtle, alg, publicKey);
  const line = `${alg} ${toBase64(blob)}`;
  const c = (comment ?? "").replace(/[\r\n]+/g, " ").trim();
  return c ? `${line} ${c}` : line;
}

/** The key algorithm's signature blob: string(alg) ‖ string(signature in SSH's encoding). */
async function signatureBlob(subtle: SubtleCrypto, alg: KeyAlg, privateKey: CryptoKey, data: Bytes): Promise<Uint8Array> {
  if (alg === "ssh-ed25519") {
    const sig = new Uint8Array(await subtle.sign({ name: "Ed25519" }, privateKey, data));
    return concat([sshString(alg), sshString(sig)]);
  }
  // WebCrypto gives r ‖ s (32 bytes each); SSH wants string(mpint r ‖ mpint s).
  const rs = new Uint8Array(await subtle.sign({ name: "ECDSA", hash: "SHA-256" }, privateKey, data));
  const r = rs.subarray(0, 32);
  const s = rs.subarray(32, 64);
  const inner = concat([sshString(mpintBody(r)), sshString(mpintBody(s))]);
  return concat([sshString(alg), sshString(inner)]);
}

/**
 * The armored SSHSIG over `message` (its UTF-8 bytes when a string), hash sha512, in `namespace`:
 * byte for byte the format of `ssh-keygen -Y sign -n <namespace>`.
 */
export async function sshsig(
  subtle: SubtleCrypto,
  alg: KeyAlg,
  keys: { publicKey: CryptoKey; privateKey: CryptoKey },
  namespace: string,
  message: Uint8Array | string,
): Promise<string> {
  const msg: Bytes = typeof message === "string" ? enc.encode(message) : new Uint8Array(message);
  const magic = enc.encode("SSHSIG");
  const digest = new Uint8Array(await subtle.digest("SHA-512", msg));
  const signedData = concat([magic, sshString(namespace), sshString(""), sshString("sha512"), sshString(digest)]);
  const pub = await publicKeyBlob(subtle, alg, keys.publicKey);
  const sig = await signatureBlob(subtle, alg, keys.privateKey, signedData);
  const blob = concat([magic, u32(1), sshString(pub), sshString(namespace), sshString(""), sshString("sha512"), sshString(sig)]);
  const b64 = toBase64(blob);
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += 70) lines.push(b64.slice(i, i + 70));
  return `-----BEGIN SSH SIGNATURE-----\n${lines.join("\n")}\n-----END SSH SIGNATURE-----\n`;
}

/** A fresh key pair whose private half cannot be exported: Ed25519 where the browser has it, else P-256. */
export async function generateDeviceKey(subtle: SubtleCrypto): Promise<{ alg: KeyAlg; keys: CryptoKeyPair }> {
  try {
    const keys = (await subtle.generateKey({ name: "Ed25519" } as Algorithm, false, ["sign", "verify"])) as CryptoKeyPair;
    return { alg: "ssh-ed25519", keys };
  } catch {
    const keys = await subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign", "verify"]);
    return { alg: "ecdsa-sha2-nistp256", keys };
  }
}
