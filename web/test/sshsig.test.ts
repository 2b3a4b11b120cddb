// The SSHSIG builder against OpenSSH itself: a signature made with WebCrypto must pass
// `ssh-keygen -Y verify`, and a changed message or namespace must not.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { webcrypto } from "node:crypto";
import { generateDeviceKey, mpintBody, publicKeyLine, sshsig, type KeyAlg } from "../src/sshsig";

const subtle = webcrypto.subtle as unknown as SubtleCrypto;

function verify(dir: string, pubLine: string, sig: string, message: string, namespace: string): { ok: boolean; out: string } {
  writeFileSync(join(dir, "allowed_signers"), `id ${pubLine}\n`);
  writeFileSync(join(dir, "sig"), sig);
  const r = spawnSync(
    "ssh-keygen",
    ["-Y", "verify", "-f", join(dir, "allowed_signers"), "-I", "id", "-n", namespace, "-s", join(dir, "sig")],
    { input: message },
  );
  return { ok: r.status === 0, out: `${r.stdout}${r.stderr}` };
}

async function keysFor(alg: KeyAlg): Promise<CryptoKeyPair> {
  if (alg === "ssh-ed25519") {
    return (await subtle.generateKey({ name: "Ed25519" } as Algorithm, false, ["sign", "verify"])) as CryptoKeyPair;
  }
  return subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign", "verify"]);
}

async function ed25519Supported(): Promise<boolean> {
  try {
    await subtle.generateKey({ name: "Ed25519" } as Algorithm, false, ["sign", "verify"]);
    return true;
  } catch {
    return false;
  }
}

test("ssh-keygen is installed", () => {
  const r = spawnSync("ssh-keygen", ["-?"]);
  assert.equal(r.error, undefined, "ssh-keygen must be on PATH");
});

for (const alg of ["ecdsa-sha2-nistp256", "ssh-ed25519"] as KeyAlg[]) {
  test(`${alg}: ssh-keygen -Y verify accepts the signature`, async (t) => {
    if (alg === "ssh-ed25519" && !(await ed25519Supported())) {
      t.skip("this Node's WebCrypto has no Ed25519");
      return;
    }
    const dir = mkdtempSync(join(tmpdir(), "sshsig-"));
    try {
      const keys = await keysFor(alg);
      const line = await publicKeyLine(subtle, alg, keys.publicKey, "phone test");
      assert.match(line, new RegExp(`^${alg} AAAA[A-Za-z0-9+/=]+ phone test$`));
      // ssh-keygen itself must read the public key line.
      writeFileSync(join(dir, "k.pub"), line + "\n");
      execFileSync("ssh-keygen", ["-l", "-f", join(dir, "k.pub")]);

      // Many messages, so that ECDSA r and s with a high bit set or a leading zero byte get hit.
      for (let i = 0; i < 12; i++) {
        const message = `nonce-${i}-${Math.random().toString(36).slice(2)}-é✓`;
        const sig = await sshsig(subtle, alg, keys, "pocket-relay", message);
        assert.match(sig, /^-----BEGIN SSH SIGNATURE-----\n([A-Za-z0-9+/=]{1,70}\n)+-----END SSH SIGNATURE-----\n$/);
        const good = verify(dir, line, sig, message, "pocket-relay");
        assert.ok(good.ok, `ssh-keygen refused: ${good.out}`);
        if (i === 0) {
          assert.equal(verify(dir, line, sig, message + "x", "pocket-relay").ok, false, "a changed message must fail");
          assert.equal(verify(dir, line, sig, message, "other-namespace").ok, false, "another namespace must fail");
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test("generateDeviceKey makes a non-extractable private key", async () => {
  const { alg, keys } = await generateDeviceKey(subtle);
  assert.equal(keys.privateKey.extractable, false);
  assert.ok(alg === "ssh-ed25519" || alg === "ecdsa-sha2-nistp256");
  await assert.rejects(subtle.exportKey("pkcs8", keys.privateKey));
});

test("mpint encoding", () => {
  assert.deepEqual([...mpintBody(new Uint8Array([0, 0, 0x7f]))], [0x7f]);
  assert.deepEqual([...mpintBody(new Uint8Array([0, 0x80, 1]))], [0, 0x80, 1]);
  assert.deepEqual([...mpintBody(new Uint8Array([0, 0]))], []);
});
