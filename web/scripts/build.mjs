// npm run build: src/ → dist/, deterministic (same sources, same bytes: no timestamps, content-
// hashed asset names). dist/ is committed; the server embeds it.
import { build } from "esbuild";
import { createHash } from "node:crypto";
import { cpSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join, dirname, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const dist = join(root, "dist");
rmSync(dist, { recursive: true, force: true });
mkdirSync(dist, { recursive: true });

const result = await build({
  entryPoints: { app: join(root, "src", "main.tsx") },
  outdir: dist,
  entryNames: "assets/[name]-[hash]",
  assetNames: "assets/[name]-[hash]",
  bundle: true,
  minify: true,
  format: "esm",
  target: ["es2020", "safari15", "chrome96", "firefox94"],
  jsx: "automatic",
  jsxImportSource: "preact",
  legalComments: "none",
  sourcemap: false,
  metafile: true,
  charset: "utf8",
  define: { "process.env.NODE_ENV": '"production"' },
  logLevel: "warning",
});

const outputs = Object.keys(result.metafile.outputs).map((p) => relative(dist, join(root, p)).split("\\").join("/"));
const js = outputs.find((p) => p.endsWith(".js"));
const css = outputs.find((p) => p.endsWith(".css"));
if (!js || !css) throw new Error(`missing outputs: ${outputs}`);

cpSync(join(root, "public"), dist, { recursive: true });

// Licences of the bundled packages (the bundle itself carries no comments).
const bundled = [...new Set(Object.keys(result.metafile.inputs)
  .map((p) => /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(p)?.[1])
  .filter(Boolean))].sort();
let licences = "Third-party code in assets/ (bundled by esbuild):\n";
for (const name of bundled) {
  const dir = join(root, "node_modules", name);
  const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
  const file = readdirSync(dir).find((f) => /^licen[cs]e/i.test(f));
  licences += `\n== ${name} ${pkg.version} (${pkg.license}) ==\n\n${file ? readFileSync(join(dir, file), "utf8").trim() : pkg.license}\n`;
}
writeFileSync(join(dist, "licenses.txt"), licences);

const manifest = {
  name: "pocket-relay",
  short_name: "pocket-relay",
  description: "Drive your Claude Code sessions from your phone",
  start_url: "/#/",
  scope: "/",
  display: "standalone",
  background_color: "#151514",
  theme_color: "#b4532a",
  icons: [
    { src: "/icons/icon.svg", sizes: "any", type: "image/svg+xml" },
    { src: "/icons/icon-192.png", sizes: "192x192", type: "image/png" },
    { src: "/icons/icon-512.png", sizes: "512x512", type: "image/png" },
    { src: "/icons/maskable-512.png", sizes: "512x512", type: "image/png", purpose: "maskable" },
  ],
};
writeFileSync(join(dist, "manifest.webmanifest"), JSON.stringify(manifest, null, 2) + "\n");

const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1, viewport-fit=cover">
<meta name="referrer" content="no-referrer">
<meta name="color-scheme" content="light dark">
<meta name="theme-color" content="#f7f7f5" media="(prefers-color-scheme: light)">
<meta name="theme-color" content="#151514" media="(prefers-color-scheme: dark)">
<meta name="apple-mobile-web-app-capable" content="yes">
<meta name="mobile-web-app-capable" content="yes">
<title>pocket-relay</title>
<link rel="manifest" href="/manifest.webmanifest">
<link rel="icon" href="/icons/icon.svg" type="image/svg+xml">
<link rel="apple-touch-icon" href="/icons/apple-touch-icon.png">
<link rel="stylesheet" href="/${css}">
<script type="module" src="/${js}"></script>
</head>
<body>
<div id="app"></div>
<noscript>pocket-relay needs JavaScript.</noscript>
</body>
</html>
`;
writeFileSync(join(dist, "index.html"), html);

// The service worker (src/sw/, bundled on its own): its cache name is the hash of everything it
// caches, so a new build replaces the old cache once the new worker activates.
const shell = ["/", "/manifest.webmanifest", "/icons/icon.svg", "/icons/icon-192.png", `/${js}`, `/${css}`];
const version = createHash("sha256");
for (const f of ["index.html", js, css, "manifest.webmanifest"]) version.update(readFileSync(join(dist, f)));
await build({
  entryPoints: [join(root, "src", "sw", "main.ts")],
  outfile: join(dist, "sw.js"),
  bundle: true,
  minify: true,
  format: "iife",
  target: ["es2020", "safari15", "chrome96", "firefox94"],
  legalComments: "none",
  sourcemap: false,
  charset: "utf8",
  define: {
    __CACHE__: JSON.stringify(`pocket-relay-${version.digest("hex").slice(0, 16)}`),
    __SHELL__: JSON.stringify(shell),
  },
  logLevel: "warning",
});

console.log(`built ${[js, css].join(", ")}`);
