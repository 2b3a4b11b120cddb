// The service worker (dist/sw.js, bundled by scripts/build.mjs): the offline cache and the
// notifications. See docs/app.md.
import "./cache";
import "./push";
