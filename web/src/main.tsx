import "./style.css";
import { render } from "preact";
import { App } from "./app";
import * as auth from "./auth";
import * as connection from "./connection";
import { startInbox } from "./inbox";
import { startPush } from "./push";
import { startRouter } from "./router";
import { notify, state } from "./store";

startRouter();
startPush();
// What was saved shows at once (the sessions list from its snapshot in the first render, then the
// IndexedDB cache); sign-in and the socket follow.
connection.loadCache();
startInbox();
render(<App />, document.getElementById("app")!);

void auth.init().then(() => {
  if (state.auth !== "needs-pairing" && state.auth !== "signed-out") connection.start();
});

if ("serviceWorker" in navigator && (location.protocol === "https:" || location.hostname === "localhost" || location.hostname === "127.0.0.1")) {
  // A page that had a worker when it loaded and gets another one was built from an older build:
  // a new one took over. It is not reloaded under the person (who may be typing): the app offers
  // a reload, and the next visit opens the new build anyway. (The first install is no update.)
  const hadController = !!navigator.serviceWorker.controller;
  navigator.serviceWorker.addEventListener("controllerchange", () => {
    if (!hadController) return;
    state.updateReady = true;
    notify();
  });
  window.addEventListener("load", () => {
    navigator.serviceWorker.register("/sw.js").catch(() => {});
  });
}
