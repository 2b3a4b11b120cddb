// Routing lives in the URL fragment only: #/ · #/new · #/s/<id> · #/devices · #/inbox ·
// #/history[/<id>] · #/notifications (and #pair=<code>, which the auth module takes out of the
// address bar).
import { notify, state, type Route } from "./store";

export function parseRoute(hash: string): Route {
  const h = hash.replace(/^#/, "");
  if (h === "/new") return { name: "new" };
  if (h === "/devices") return { name: "devices" };
  if (h === "/inbox") return { name: "inbox" };
  if (h === "/history") return { name: "history" };
  const hc = /^\/history\/([^/?#]+)$/.exec(h);
  if (hc) return { name: "history-conversation", id: decodeURIComponent(hc[1] as string) };
  if (h === "/notifications") return { name: "notifications" };
  const m = /^\/s\/([^/?#]+)$/.exec(h);
  if (m) return { name: "session", id: decodeURIComponent(m[1] as string) };
  return { name: "sessions" };
}

export function startRouter(): void {
  const apply = () => {
    state.route = parseRoute(location.hash);
    notify();
  };
  window.addEventListener("hashchange", apply);
  apply();
}

export function go(hash: string): void {
  if (location.hash !== hash) location.hash = hash;
}
