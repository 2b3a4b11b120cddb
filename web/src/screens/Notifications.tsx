import { useEffect, useState } from "preact/hooks";
import { disablePush, enablePush, getSettings, pushStatus, setLevel, type Level, type PushStatus } from "../push";
import { useAppState } from "../store";

const STATUS_TEXT: Record<PushStatus, string> = {
  unsupported: "This browser cannot get push notifications here (it needs HTTPS, and on iPhone the app added to the Home Screen).",
  blocked: "Notifications are blocked for this site. Allow them in the browser's site settings, then turn them on here.",
  off: "This device gets no notifications.",
  on: "This device gets notifications.",
};

const LEVEL_TEXT: Record<Level, string> = {
  all: "Everything: approvals, finished, failed, crashed",
  approvals: "Only when Claude needs my approval",
  none: "Nothing",
};

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** The header's link to this screen when sign-in is off (with it on, the Devices screen links
 * here): a bell, as the header has no room for another word on a phone. */
export function BellIcon() {
  return (
    <svg class="icon" viewBox="0 0 24 24" width="22" height="22" aria-hidden="true" focusable="false">
      <path
        fill="currentColor"
        d="M12 22a2.5 2.5 0 0 0 2.45-2h-4.9A2.5 2.5 0 0 0 12 22Zm7-6V11a7 7 0 0 0-5.5-6.84V3.5a1.5 1.5 0 0 0-3 0v.66A7 7 0 0 0 5 11v5l-2 2v1h18v-1l-2-2Z"
      />
    </svg>
  );
}

/** This device's push subscription and the user's notification level. */
export function NotificationsScreen() {
  const st = useAppState();
  const [status, setStatus] = useState<PushStatus | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [level, setLevelState] = useState<Level | null>(null);

  useEffect(() => {
    pushStatus().then(setStatus, (e) => {
      setStatus("off");
      setError(`Could not check this device: ${errorText(e)}`);
    });
    getSettings().then(
      (s) => setLevelState(s.level),
      (e) => setError(`Could not load the settings: ${errorText(e)}`),
    );
  }, [st.conn === "online"]);

  const toggle = async () => {
    setBusy(true);
    setError(null);
    try {
      setStatus(status === "on" ? await disablePush() : await enablePush());
    } catch (e) {
      setError(`${status === "on" ? "Turning off" : "Turning on"} failed: ${errorText(e)}`);
      setStatus(await pushStatus().catch(() => "off" as const));
    } finally {
      setBusy(false);
    }
  };

  const choose = async (l: Level) => {
    const before = level;
    setLevelState(l);
    setError(null);
    try {
      setLevelState((await setLevel(l)).level);
    } catch (e) {
      setLevelState(before);
      setError(`Could not save: ${errorText(e)}`);
    }
  };

  return (
    <main class="screen">
      <h1>Notifications</h1>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <section aria-labelledby="this-device">
        <h2 id="this-device">This device</h2>
        <p role="status">{status === null ? "Checking…" : STATUS_TEXT[status]}</p>
        {status !== null && status !== "unsupported" && (
          <button type="button" class={status === "on" ? "" : "primary"} disabled={busy || status === "blocked"} onClick={toggle}>
            {status === "on" ? "Turn off notifications on this device" : "Turn on notifications on this device"}
          </button>
        )}
      </section>
      <section aria-labelledby="what-notifies">
        <h2 id="what-notifies">What notifies</h2>
        <fieldset class="levels" disabled={level === null}>
          <legend class="sr">Notify me about</legend>
          {(["all", "approvals", "none"] as Level[]).map((l) => (
            <label key={l} class="level">
              <input type="radio" name="level" value={l} checked={level === l} onChange={() => choose(l)} /> {LEVEL_TEXT[l]}
            </label>
          ))}
        </fieldset>
        <p class="muted small">Each session can differ: open it and use its menu.</p>
      </section>
      <section aria-labelledby="privacy">
        <h2 id="privacy">Privacy</h2>
        <p class="muted small">
          A notification says only that Claude needs you, or is done, and in which session. What Claude asks, the command and
          its output reach this device over the signed-in connection when you open the app, unless the relay's operator
          turned on <code>notify.include_content</code>. Allow and Deny on a notification sign in with this device's key.
          A device that shows a session gets no notification about it.
        </p>
      </section>
    </main>
  );
}
