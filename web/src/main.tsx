import "./style.css";
import { render } from "preact";
import { App } from "./app";
import * as auth from "./auth";
import * as connection from "./connection";
import { startRouter } from "./router";
import { state } from "./store";

startRouter();
render(<App />, document.getElementById("app")!);

void auth.init().then(() => {
  if (state.auth !== "needs-pairing" && state.auth !== "signed-out") connection.start();
});

if ("serviceWorker" in navigator && (location.protocol === "https:" || location.hostname === "localhost" || location.hostname === "127.0.0.1")) {
  window.addEventListener("load", () => {
    navigator.serviceWorker.register("/sw.js").catch(() => {});
  });
}
