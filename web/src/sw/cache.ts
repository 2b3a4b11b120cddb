// The service worker's offline cache (bundled into dist/sw.js by scripts/build.mjs, which defines
// __CACHE__, this build's cache name, and __SHELL__, the files it precaches).
// - The page (`/`): stale-while-revalidate. A visit is answered from the cache at once and a fresh
//   copy is fetched in the background for the next visit; it is stored only when every hashed asset
//   it names is cached too, so the cache never holds a page whose script it cannot serve offline.
// - Hashed assets (`/assets/`): cache first (a name never changes content).
// - Other top-level files: network first, the cache when offline.
// - `/api/`, `/ws`, `/health`, `/ready`, `/metrics`: never touched.
// A new build is a new worker (its version is the hash of what it caches): it precaches its shell,
// takes over at once (skipWaiting, clients.claim) and deletes the older caches. Pages already open
// keep running the script they loaded (nothing is loaded lazily) and are not reloaded under the
// person; the app offers a reload. The next visit gets the new page.
export {};

declare const self: ServiceWorkerGlobalScope;
declare const __CACHE__: string;
declare const __SHELL__: string[];

const CACHE = __CACHE__;
const SHELL = __SHELL__;

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      .then((c) => c.addAll(SHELL.map((u) => new Request(u, { cache: "no-cache" }))))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) => Promise.all(keys.filter((k) => k.startsWith("pocket-relay-") && k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

/** This worker's cache, or null once a newer worker has deleted it (never re-created by an old one). */
async function ownCache(): Promise<Cache | null> {
  return (await caches.has(CACHE)) ? caches.open(CACHE) : null;
}

/** Store a fresh copy of the page, if this worker has every hashed asset it names. One naming
 * others is a new build: the new worker (which the same navigation's update check installs)
 * precaches it and its assets; this one keeps serving its own build, whole, until then. */
async function storePage(res: Response): Promise<void> {
  const html = await res.text();
  const cache = await ownCache();
  if (!cache) return;
  for (const a of new Set(html.match(/\/assets\/[A-Za-z0-9._-]+/g) || [])) {
    if (!(await cache.match(a))) return;
  }
  // Its headers (the CSP among them) go with it; the body is decoded now, so no encoding or length.
  const headers = new Headers(res.headers);
  for (const h of ["content-encoding", "content-length", "transfer-encoding"]) headers.delete(h);
  await cache.put("/", new Response(html, { status: res.status, statusText: res.statusText, headers }));
}

function storable(res: Response): boolean {
  return res.ok && res.type === "basic" && !res.redirected;
}

self.addEventListener("fetch", (event) => {
  const req = event.request;
  if (req.method !== "GET") return;
  const url = new URL(req.url);
  if (url.origin !== self.location.origin) return;
  if (url.pathname.startsWith("/api/") || url.pathname === "/ws" || url.pathname.startsWith("/ws/")) return;
  if (["/health", "/ready", "/metrics"].includes(url.pathname)) return;

  if (url.pathname.startsWith("/assets/")) {
    // Hashed names never change content: cache first.
    event.respondWith(
      caches.match(req).then(
        (hit) =>
          hit ||
          fetch(req).then((res) => {
            if (res.ok) {
              const copy = res.clone();
              event.waitUntil(ownCache().then((c) => c && c.put(req, copy)));
            }
            return res;
          }),
      ),
    );
    return;
  }

  if (req.mode === "navigate" && (url.pathname === "/" || url.pathname === "/index.html")) {
    // The app shell: from the cache at once; a fresh copy for next time in the background.
    event.respondWith(
      (async () => {
        const hit = await caches.match("/", { cacheName: CACHE });
        if (hit) {
          event.waitUntil(
            fetch("/", { cache: "no-cache", credentials: "same-origin" })
              .then((res) => (storable(res) ? storePage(res) : undefined))
              .catch(() => {}),
          );
          return hit;
        }
        try {
          const res = await fetch(req);
          if (storable(res)) event.waitUntil(storePage(res.clone()).catch(() => {}));
          return res;
        } catch {
          return (await caches.match("/")) || Response.error();
        }
      })(),
    );
    return;
  }

  // The other top-level files: network first, the cache when offline.
  const key = url.pathname === "/index.html" ? "/" : req;
  event.respondWith(
    fetch(req)
      .then((res) => {
        if (res.ok && SHELL.includes(url.pathname)) {
          const copy = res.clone();
          event.waitUntil(ownCache().then((c) => c && c.put(key, copy)));
        }
        return res;
      })
      .catch(() => caches.match(key).then((hit) => hit || Response.error())),
  );
});
