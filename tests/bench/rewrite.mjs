// cargo xtask bench rewrite (second half): a 1 MB MPD through the proxy on
// the real workerd runtime. The upstream bytes come from the Cache API after
// the first request, so a request's time is the worker's own work: the
// rewrite, next to passing a cached 1 MB segment through (the peer: the
// same request without the rewrite). Merges its figures into
// target/bench/rewrite.json (written by the native half).
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { proxyPath } from "../support/proxy.mjs";
import { root, startStack } from "../support/stack.mjs";
import { startUpstream } from "../support/upstream.mjs";

const RUNS = 40;
const dir = mkdtempSync(join(tmpdir(), "wt-bench-"));
let mpd = `<?xml version="1.0"?>\n<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" mediaPresentationDuration="PT10H"><Period><AdaptationSet mimeType="video/mp4"><Representation id="v" bandwidth="2000000" codecs="avc1.64001f"><SegmentList timescale="1000" duration="4000">\n<Initialization sourceURL="https://cdn.example/vod/v/init.mp4"/>\n`;
let n = 0;
while (mpd.length < 1_000_000) mpd += `<SegmentURL media="https://cdn.example/vod/v/segment-${String(n++).padStart(6, "0")}.m4s"/>\n`;
mpd += `</SegmentList></Representation></AdaptationSet></Period></MPD>\n`;
writeFileSync(join(dir, "big.mpd"), mpd);
writeFileSync(join(dir, "blob.m4s"), Buffer.alloc(mpd.length, 7));

const up = await startUpstream({ "/b/": dir });
const stack = await startStack();
const median = (v) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
async function time(path, check) {
  const first = await fetch(`${stack.url}${path}`);
  check(await first.arrayBuffer());
  const ms = [];
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now();
    const res = await fetch(`${stack.url}${path}`);
    const body = await res.arrayBuffer();
    ms.push(performance.now() - t);
    if (res.headers.get("x-cache") !== "HIT") throw new Error(`expected a cache hit for ${path}`);
    check(body);
  }
  return ms;
}
try {
  const rewrite = await time(proxyPath(`${up.url}/b/big.mpd`), (b) => {
    const text = Buffer.from(b).toString();
    if (!text.includes("/proxy/") || text.includes("https://cdn.example/")) throw new Error("not rewritten");
  });
  const pass = await time(proxyPath(`${up.url}/b/blob.m4s`), (b) => {
    if (b.byteLength !== mpd.length) throw new Error("short body");
  });
  const figures = {
    mpd_bytes: mpd.length,
    mpd_segments: n,
    request_ms_rewrite_p50: Number(median(rewrite).toFixed(2)),
    request_ms_passthrough_p50: Number(median(pass).toFixed(2)),
    rewrite_cpu_ms_estimate: Number((median(rewrite) - median(pass)).toFixed(2)),
    runs: RUNS,
  };
  console.log(`    1 MB MPD (${n} absolute SegmentURLs) through the proxy on workerd, upstream bytes cached:`);
  console.log(`        rewritten: p50 ${figures.request_ms_rewrite_p50} ms per request · a cached 1 MB segment passed through: p50 ${figures.request_ms_passthrough_p50} ms`);
  console.log(`        → the rewrite costs about ${figures.rewrite_cpu_ms_estimate} ms of worker time per request`);
  const file = join(root, "target/bench/rewrite.json");
  const all = JSON.parse(readFileSync(file, "utf8"));
  all.workerd_1mb_mpd = figures;
  writeFileSync(file, `${JSON.stringify(all, null, 2)}\n`);
  console.log("    wrote target/bench/rewrite.json");
} finally {
  await stack.stop();
  await up.close();
}
