// Makes the app icons (public/icons/): an SVG and 192/512 PNGs of the same drawing, a terminal
// prompt "›_" on a rounded square. Run by hand (`node scripts/icons.mjs`); the output is committed.
import { deflateSync } from "node:zlib";
import { mkdirSync, writeFileSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const out = join(dirname(fileURLToPath(import.meta.url)), "..", "public", "icons");
mkdirSync(out, { recursive: true });

const BG = [0xb4, 0x53, 0x2a];
const FG = [0xff, 0xf7, 0xef];
// The drawing on a 100×100 canvas: segments with a stroke width.
const strokes = [
  { a: [28, 34], b: [46, 50], w: 9 },
  { a: [46, 50], b: [28, 66], w: 9 },
  { a: [54, 68], b: [74, 68], w: 9 },
];

const svg = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 100"><rect width="100" height="100" rx="22" fill="#b4532a"/><path d="M28 34 46 50 28 66M54 68H74" fill="none" stroke="#fff7ef" stroke-width="9" stroke-linecap="round" stroke-linejoin="round"/></svg>\n`;
writeFileSync(join(out, "icon.svg"), svg);

function distSeg(px, py, [ax, ay], [bx, by]) {
  const dx = bx - ax, dy = by - ay;
  const t = Math.max(0, Math.min(1, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)));
  return Math.hypot(px - (ax + t * dx), py - (ay + t * dy));
}

function coverage(f, x, y, s) {
  // 4×4 supersampling
  let c = 0;
  for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) if (f(((x + (i + 0.5) / 4) * 100) / s, ((y + (j + 0.5) / 4) * 100) / s)) c++;
  return c / 16;
}

function png(size, maskable) {
  const r = maskable ? 0 : 22;
  const scale = maskable ? 0.8 : 1; // maskable icons keep the drawing inside the safe zone
  const inBg = (x, y) => {
    const cx = Math.min(Math.max(x, r), 100 - r), cy = Math.min(Math.max(y, r), 100 - r);
    return Math.hypot(x - cx, y - cy) <= r;
  };
  const inFg = (x, y) => {
    const u = 50 + (x - 50) / scale, v = 50 + (y - 50) / scale;
    return strokes.some((s) => distSeg(u, v, s.a, s.b) <= s.w / 2);
  };
  const raw = Buffer.alloc((size * 4 + 1) * size);
  for (let y = 0; y < size; y++) {
    raw[y * (size * 4 + 1)] = 0;
    for (let x = 0; x < size; x++) {
      const a = coverage(inBg, x, y, size);
      const f = coverage(inFg, x, y, size);
      const o = y * (size * 4 + 1) + 1 + x * 4;
      for (let k = 0; k < 3; k++) raw[o + k] = Math.round(BG[k] * (1 - f) + FG[k] * f);
      raw[o + 3] = Math.round(255 * a);
    }
  }
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (buf) => {
    let c = 0xffffffff;
    for (const b of buf) c = crcTable[(c ^ b) & 255] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type), data]);
    const c = Buffer.alloc(4);
    c.writeUInt32BE(crc(td));
    return Buffer.concat([len, td, c]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr[8] = 8; ihdr[9] = 6; ihdr[10] = 0; ihdr[11] = 0; ihdr[12] = 0;
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    chunk("IDAT", deflateSync(raw, { level: 9 })),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

writeFileSync(join(out, "icon-192.png"), png(192, false));
writeFileSync(join(out, "icon-512.png"), png(512, false));
writeFileSync(join(out, "maskable-512.png"), png(512, true));
writeFileSync(join(out, "apple-touch-icon.png"), png(180, true));
console.log("icons written to", out);
