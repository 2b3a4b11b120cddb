import { useEffect } from "preact/hooks";
import { authEnabled } from "./auth";
import * as connection from "./connection";
import { useAppState } from "./store";
import { SessionsScreen } from "./screens/Sessions";
import { NewSessionScreen } from "./screens/NewSession";
import { ConversationScreen } from "./screens/Conversation";
import { DevicesScreen } from "./screens/Devices";
import { InboxScreen } from "./screens/Inbox";
import { InboxBadge } from "./components/Badge";
import { BellIcon, NotificationsScreen } from "./screens/Notifications";
import { PairScreen, SignedOutScreen } from "./screens/Pair";
import { HistoryConversationScreen, HistoryScreen } from "./screens/History";

function OfflineBanner() {
  const s = useAppState();
  const offline = s.conn === "offline";
  return (
    <div class={offline ? "banner offline" : "banner"}>
      <div role="status">
        {offline
          ? `Offline — showing what was saved. ${s.retryInS ? `Reconnecting in ${s.retryInS} s.` : "Reconnecting…"}`
          : ""}
      </div>
      {offline && (
        <button type="button" class="link" onClick={() => connection.reconnectNow()}>
          Retry now
        </button>
      )}
    </div>
  );
}

function UpdateBar() {
  const s = useAppState();
  if (!s.updateReady) return null;
  return (
    <div class="banner update" role="status">
      <span>A new version of the app is ready.</span>
      <button type="button" class="link" onClick={() => location.reload()}>
        Reload
      </button>
    </div>
  );
}

function Toast() {
  const s = useAppState();
  return (
    <div class="toast" role="alert">
      {s.toast ?? ""}
    </div>
  );
}

export function App() {
  const s = useAppState();
  const r = s.route;
  useEffect(() => {
    document.title =
      r.name === "session" ? `${s.sessions[r.id]?.title || "Session"} · pocket-relay` : "pocket-relay";
  });

  if (s.auth === "signed-out") return <SignedOutScreen />;
  if (s.auth === "needs-pairing" || s.auth === "pairing") return <PairScreen />;

  let screen;
  switch (r.name) {
    case "new":
      screen = <NewSessionScreen />;
      break;
    case "session":
      screen = <ConversationScreen key={r.id} id={r.id} />;
      break;
    case "devices":
      screen = <DevicesScreen />;
      break;
    case "inbox":
      screen = <InboxScreen />;
      break;
    case "history":
      screen = <HistoryScreen />;
      break;
    case "history-conversation":
      screen = <HistoryConversationScreen key={r.id} id={r.id} />;
      break;
    case "notifications":
      screen = <NotificationsScreen />;
      break;
    default:
      screen = <SessionsScreen />;
  }
  return (
    <div class={r.name === "session" || r.name === "history-conversation" ? "shell chat" : "shell"}>
      <header class="top">
        <nav aria-label="Main">
          <a href="#/" class={r.name === "sessions" ? "brand current" : "brand"} aria-current={r.name === "sessions" ? "page" : undefined}>
            pocket-relay
          </a>
          <InboxBadge />
          <a href="#/history" aria-current={r.name === "history" ? "page" : undefined}>
            History
          </a>
          {authEnabled() ? (
            <a href="#/devices" aria-current={r.name === "devices" ? "page" : undefined}>
              Devices
            </a>
          ) : (
            // No Devices screen without sign-in: the notification settings get their own bell.
            <a href="#/notifications" class="bell" aria-label="Notifications" title="Notifications" aria-current={r.name === "notifications" ? "page" : undefined}>
              <BellIcon />
            </a>
          )}
        </nav>
        <span class={`dot ${s.conn}`} title={s.conn} aria-hidden="true" />
      </header>
      <OfflineBanner />
      <UpdateBar />
      {screen}
      <Toast />
    </div>
  );
}
