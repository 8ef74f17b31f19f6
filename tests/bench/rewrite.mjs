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
import { processes, root, startStack } from "../support/stack.mjs";
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
/** CPU time (user + system, ms) used so far by the stack's processes
 * (wrangler's node and workerd) for which `pick(cmd)` holds. */
function cpuMs(pick = () => true) {
  let ticks = 0;
  for (const p of processes().filter((q) => q.pgrp === stack.pgid && pick(q.cmd))) {
    const stat = readFileSync(`/proc/${p.pid}/stat`, "utf8");
    const [utime, stime] = stat.slice(stat.lastIndexOf(")") + 2).split(" ").slice(11, 13).map(Number);
    ticks += utime + stime;
  }
  return (ticks * 1000) / 100; // clock ticks of 10 ms
}
const workerdCpuMs = () => cpuMs((cmd) => /workerd/.test(cmd));
const stackCpuMs = () => cpuMs();
/** Time RUNS requests of `pathOf(i)` after a first one (which fills the upstream cache). */
async function time(pathOf, check, rewriteCache) {
  const first = await fetch(`${stack.url}${pathOf(-1)}`);
  check(await first.arrayBuffer());
  const ms = [];
  const cpu0 = workerdCpuMs();
  const all0 = stackCpuMs();
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now();
    const res = await fetch(`${stack.url}${pathOf(i)}`);
    const body = await res.arrayBuffer();
    ms.push(performance.now() - t);
    if (res.headers.get("x-cache") !== "HIT") throw new Error(`expected the upstream bytes from the cache for ${pathOf(i)}`);
    if (rewriteCache && res.headers.get("x-rewrite-cache") !== rewriteCache) throw new Error(`expected rewrite cache ${rewriteCache}, got ${res.headers.get("x-rewrite-cache")}`);
    check(body);
  }
  ms.cpu = (workerdCpuMs() - cpu0) / RUNS;
  ms.all = (stackCpuMs() - all0) / RUNS;
  return ms;
}
const rewritten = (b) => {
  const text = Buffer.from(b).toString();
  if (!text.includes("/proxy/") || text.includes("https://cdn.example/")) throw new Error("not rewritten");
};
try {
  // Each request for another room: its links differ, so each is rewritten anew.
  const room = (i) => `BenchRoom${String(i + 1).padStart(13, "0")}`;
  const rewrite = await time((i) => proxyPath(`${up.url}/b/big.mpd`, { room: room(i) }), rewritten, "MISS");
  // The same room again and again: the rewrite comes from the cache.
  const cached = await time(() => proxyPath(`${up.url}/b/big.mpd`, { room: room(0) }), rewritten, "HIT");
  const pass = await time(() => proxyPath(`${up.url}/b/blob.m4s`), (b) => {
    if (b.byteLength !== mpd.length) throw new Error("short body");
  });
  // The same bytes as the rewritten manifest, passed through: the peer of a cached rewrite.
  const outBytes = (await (await fetch(`${stack.url}${proxyPath(`${up.url}/b/big.mpd`, { room: room(0) })}`)).arrayBuffer()).byteLength;
  writeFileSync(join(dir, "blob-out.m4s"), Buffer.alloc(outBytes, 7));
  const passOut = await time(() => proxyPath(`${up.url}/b/blob-out.m4s`), (b) => {
    if (b.byteLength !== outBytes) throw new Error("short body");
  });
  const figures = {
    mpd_bytes: mpd.length,
    mpd_segments: n,
    request_ms_rewrite_p50: Number(median(rewrite).toFixed(2)),
    request_ms_rewrite_cached_p50: Number(median(cached).toFixed(2)),
    request_ms_passthrough_p50: Number(median(pass).toFixed(2)),
    rewritten_bytes: outBytes,
    request_ms_passthrough_same_bytes_p50: Number(median(passOut).toFixed(2)),
    workerd_cpu_ms_per_request: {
      rewrite: Number(rewrite.cpu.toFixed(2)),
      rewrite_cached: Number(cached.cpu.toFixed(2)),
      passthrough_1mb: Number(pass.cpu.toFixed(2)),
      passthrough_same_bytes: Number(passOut.cpu.toFixed(2)),
    },
    rewrite_cpu_ms_estimate: Number((rewrite.cpu - pass.cpu).toFixed(2)),
    runs: RUNS,
  };
  console.log(`    1 MB MPD (${n} absolute SegmentURLs) through the proxy on workerd, upstream bytes cached:`);
  console.log(`        rewritten for a new room: p50 ${figures.request_ms_rewrite_p50} ms · the same room again (rewrite cached): p50 ${figures.request_ms_rewrite_cached_p50} ms · a cached 1 MB segment passed through: p50 ${figures.request_ms_passthrough_p50} ms`);
  console.log(`        a cached ${(outBytes / 1e6).toFixed(1)} MB segment (the rewrite's size) passed through: p50 ${figures.request_ms_passthrough_same_bytes_p50} ms`);
  const c = figures.workerd_cpu_ms_per_request;
  console.log(`        workerd CPU per request: rewrite ${c.rewrite} ms · cached rewrite ${c.rewrite_cached} ms · 1 MB passthrough ${c.passthrough_1mb} ms · same-size passthrough ${c.passthrough_same_bytes} ms`);
  console.log(`        all stack processes (wrangler + workerd) CPU per request: rewrite ${rewrite.all} ms · cached ${cached.all} ms · 1 MB passthrough ${pass.all} ms · same-size ${passOut.all} ms`);
  console.log(`        → the rewrite itself costs about ${figures.rewrite_cpu_ms_estimate} ms of CPU per request (rewrite − 1 MB passthrough)`);
  const file = join(root, "target/bench/rewrite.json");
  const all = JSON.parse(readFileSync(file, "utf8"));
  all.workerd_1mb_mpd = figures;
  writeFileSync(file, `${JSON.stringify(all, null, 2)}\n`);
  console.log("    wrote target/bench/rewrite.json");
} finally {
  await stack.stop();
  await up.close();
}
