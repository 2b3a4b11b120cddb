import { useState } from "preact/hooks";
import * as auth from "../auth";
import * as connection from "../connection";
import { state, useAppState } from "../store";

export function PairScreen() {
  const st = useAppState();
  const [code, setCode] = useState("");
  const pairing = st.auth === "pairing";
  const submit = async (e: Event) => {
    e.preventDefault();
    if (!code.trim()) return;
    await auth.pair(code.trim());
    if (state.auth === "signed-in") connection.start();
  };
  return (
    <main class="screen narrow">
      <h1>Pair this device</h1>
      {pairing ? (
        <p role="status">Pairing… making this device's key and signing in.</p>
      ) : (
        <>
          <p>
            On the computer that runs pocket-relay, run <code>pocket-relay pair</code> and scan the QR code with this phone, or
            type the code it prints here.
          </p>
          <form onSubmit={submit} class="stack">
            <label>
              Pairing code
              <input type="text" value={code} onInput={(e) => setCode(e.currentTarget.value)} autocomplete="one-time-code" autocapitalize="off" spellcheck={false} />
            </label>
            <button type="submit" class="primary" disabled={!code.trim()}>
              Pair
            </button>
          </form>
        </>
      )}
      {st.authMessage && (
        <p class="error" role="alert">
          {st.authMessage}
        </p>
      )}
      <p class="muted small">
        The key this device makes stays in this browser and cannot be exported; the server keeps only its public half.
      </p>
    </main>
  );
}

export function SignedOutScreen() {
  return (
    <main class="screen narrow">
      <h1>Signed out</h1>
      <p>This device's key is no longer accepted: it was revoked (from another device or with <code>pocket-relay devices revoke</code>).</p>
      <p>To use pocket-relay here again, pair it anew.</p>
      <button
        type="button"
        class="primary"
        onClick={() => {
          connection.stop();
          void auth.forgetDevice();
        }}
      >
        Pair again
      </button>
    </main>
  );
}
