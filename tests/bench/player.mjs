// cargo xtask bench player (size half): the shipped player (wasm + JS glue)
// next to dash.js, Shaka Player and hls.js from their npm packages
// (installed by xtask into target/bench-peers), raw and gzip -9, measured
// in the same run. Writes target/bench/player.json.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { root } from "../support/stack.mjs";

const peers = join(root, "target/bench-peers/node_modules");
const size = (files) => {
  const bytes = files.map((f) => readFileSync(f));
  const raw = bytes.reduce((n, b) => n + b.length, 0);
  const gz = bytes.reduce((n, b) => n + gzipSync(b, { level: 9 }).length, 0);
  return { raw, gzip: gz };
};
const version = (pkg) => JSON.parse(readFileSync(join(peers, pkg, "package.json"), "utf8")).version;
const rows = [
  ["watch-together player (wasm + JS glue; DASH + HLS fMP4 + sync)", size([join(root, "www/pkg/player_wasm_bg.wasm"), join(root, "www/pkg/player_wasm.js")])],
  [`dash.js ${version("dashjs")} dash.all.min.js`, size([join(peers, "dashjs/dist/modern/umd/dash.all.min.js")])],
  [`Shaka Player ${version("shaka-player")} compiled`, size([join(peers, "shaka-player/dist/shaka-player.compiled.js")])],
  [`Shaka Player ${version("shaka-player")} DASH only`, size([join(peers, "shaka-player/dist/shaka-player.dash.js")])],
  [`hls.js ${version("hls.js")} hls.min.js`, size([join(peers, "hls.js/dist/hls.min.js")])],
  [`hls.js ${version("hls.js")} hls.light.min.js`, size([join(peers, "hls.js/dist/hls.light.min.js")])],
];
const ours = rows[0][1].gzip;
console.log("    bundle                                                    raw B     gzip -9 B   ours / it");
for (const [name, s] of rows) console.log(`    ${name.padEnd(56)} ${String(s.raw).padStart(9)} ${String(s.gzip).padStart(11)}   ${(ours / s.gzip).toFixed(2)}`);
const figures = {
  benchmark: "player",
  date: new Date().toISOString().slice(0, 10),
  sizes: Object.fromEntries(rows.map(([n, s]) => [n, { ...s, ratio_ours_to_it: Number((ours / s.gzip).toFixed(3)) }])),
  goal_gzip_bytes: 100_000,
  first_frame: "not measured yet",
};
mkdirSync(join(root, "target/bench"), { recursive: true });
writeFileSync(join(root, "target/bench/player.json"), JSON.stringify(figures, null, 2) + "\n");
console.log("    wrote target/bench/player.json");
