// pocket-relay: placeholder for the phone app's bundle. The web app's build (web/, esbuild)
// replaces web/dist/ with the real files; the server embeds whatever web/dist/ holds.
const root = document.getElementById("app");
if (root) {
  const heading = document.createElement("h1");
  heading.textContent = "pocket-relay";
  const note = document.createElement("p");
  note.textContent =
    "The phone app has not been built into web/dist yet. The server, its WebSocket and its " +
    "HTTP API work: see the README for the API.";
  root.replaceChildren(heading, note);
}
