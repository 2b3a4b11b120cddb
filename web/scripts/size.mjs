// npm run size: what a first load transfers, compressed (gzip -9 and brotli at its best), for
// every file the first load fetches (index.html, the JS and CSS, the manifest, the icons it names,
// sw.js). The budget is 150 KB.
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join, dirname, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync, brotliCompressSync, constants } from "node:zlib";

const dist = join(dirname(fileURLToPath(import.meta.url)), "..", "dist");
const walk = (d) => readdirSync(d).flatMap((f) => (statSync(join(d, f)).isDirectory() ? walk(join(d, f)) : [join(d, f)]));
const files = walk(dist).filter((f) => !f.endsWith("licenses.txt")).sort();
let raw = 0, gz = 0, br = 0;
const rows = [];
for (const f of files) {
  const b = readFileSync(f);
  const g = gzipSync(b, { level: 9 }).length;
  const r = brotliCompressSync(b, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length;
  // PNGs are already compressed: they travel as they are.
  const isPng = f.endsWith(".png");
  raw += b.length; gz += isPng ? b.length : g; br += isPng ? b.length : Math.min(r, g);
  rows.push([relative(dist, f), b.length, isPng ? b.length : g, isPng ? b.length : r]);
}
const kb = (n) => (n / 1024).toFixed(1).padStart(7);
console.log("file".padEnd(40), "raw KB".padStart(7), " gzip-9".padStart(7), " brotli".padStart(7));
for (const [n, a, g, r] of rows) console.log(n.padEnd(40), kb(a), kb(g), kb(r));
console.log("total (all of dist)".padEnd(40), kb(raw), kb(gz), kb(br));
const limit = 150 * 1024;
console.log(`first load, everything included: ${(gz / 1024).toFixed(1)} KB gzip -9, ${(br / 1024).toFixed(1)} KB brotli (budget 150 KB)`);
if (gz > limit) {
  console.error("over budget");
  process.exit(1);
}
