// cargo xtask bench sync: 4 headless Chromium pages in one room on the real
// worker, each behind a TCP proxy adding one-way latency ± jitter
// (asymmetric up/down); every page samples its media time against the one
// shared wall clock every 100 ms ± 20 %. Per profile: inter-client drift
// (max − min of the pages' positions at each instant) p50/p95/p99/max after
// convergence, convergence after a late join and after a seek, corrective
// seeks per minute, share of time at a rate other than 1.0.
// Positions at each instant are read two ways: "raw" interpolates between
// the two samples around it; "smoothed" is the least-squares line through
// the page's samples within ±500 ms at the same playbackRate (no seek or
// rate change inside), which removes the ±4 ms read jitter of Chromium's
// currentTime (measured with correction off: a page playing at rate 1
// scatters −4.5…+4 ms (p5–p95) around a perfect line).
// Profile Y plays a YouTube video through a STAND-IN of YouTube's IFrame
// API (tests/support/standins/: these machines cannot reach YouTube): each
// page's position is read from the <video> inside its cross-origin embed
// frame, where the stand-in plays local media; the sync loop sees only what
// the API gives (getCurrentTime updated every ~250 ms, asynchronous seeks,
// YouTube's list of rates).
// Profiles F, W, V and M run the same script in other engines (profile A's
// network): four Firefox pages, four WebKit pages, two WebKit pages (four
// software-rendered WebKit pages saturate a 2-core machine: W gives no
// figure there), and a mixed room (WebKit, Firefox, and a Chromium page
// joining late). Engines
// read `currentTime` differently (Firefox moves it ~25 times a second), so
// every page also records the picture: each frame's mediaTime and when it
// was shown (requestVideoFrameCallback), and the drift is given both ways —
// "drift" from currentTime, "picture" from the frames — which says whether
// what a page reads is what it shows.
// Writes target/bench/sync.json. WT_BENCH_SECONDS (default 60) per profile;
// WT_BENCH_PROFILES picks profiles (default ABYFWVKMPE).
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { joined, newPage, play } from "../support/browser.mjs";
import { launch } from "../support/engines.mjs";
import { startNetem } from "../support/netem.mjs";
import { createRoom, root, sleep, startStack } from "../support/stack.mjs";
import { startStandins } from "../support/standins.mjs";
import { startUpstream } from "../support/upstream.mjs";

// The stream (target/test-media/long, made by xtask) is 150 s long: 60 s of
// measurement after a seek to 2 s and 2 s of settling.
const SECONDS = Number(process.env.WT_BENCH_SECONDS ?? 60);
/** Profiles P and E: each page's [up, down] as base ± jitter (ms). */
const OWN_PATHS = [[[30, 10], [90, 10]], [[90, 10], [30, 10]], [[60, 10], [40, 10]], [[40, 10], [60, 10]]];
const PROFILES = [
  { name: "A", up: [40, 20], down: [30, 15], note: "40 ms ± 20 up, 30 ms ± 15 down" },
  { name: "B", up: [150, 50], down: [120, 40], note: "150 ms ± 50 up, 120 ms ± 40 down" },
  // The video id names the stand-in's media: target/test-media/clip/benchLong01.mp4 (150 s).
  { name: "Y", up: [40, 20], down: [30, 15], note: "YouTube stand-in, 40 ms ± 20 up, 30 ms ± 15 down", youtube: "benchLong01", limitMs: 50 },
  { name: "F", up: [40, 20], down: [30, 15], note: "4 Firefox pages, 40 ms ± 20 up, 30 ms ± 15 down", engines: ["firefox", "firefox", "firefox", "firefox"] },
  { name: "W", up: [40, 20], down: [30, 15], note: "4 WebKit pages, 40 ms ± 20 up, 30 ms ± 15 down", engines: ["webkit", "webkit", "webkit", "webkit"] },
  { name: "V", up: [40, 20], down: [30, 15], note: "2 WebKit pages (the second late), 40 ms ± 20 up, 30 ms ± 15 down", engines: ["webkit", "webkit"] },
  { name: "K", up: [40, 20], down: [30, 15], note: "mixed: Chromium, Firefox, Chromium, Firefox late, 40 ms ± 20 up, 30 ms ± 15 down", engines: ["chromium", "firefox", "chromium", "firefox"] },
  // WebKit joins first: a WebKitGTK page that joined late (its first
  // segment appended at ~4 s) stays seeking after the room's seek back to
  // 2 s (README "Engines"); W keeps a late WebKit page and shows it.
  { name: "M", up: [40, 20], down: [30, 15], note: "mixed: WebKit, Firefox, Chromium late, 40 ms ± 20 up, 30 ms ± 15 down", engines: ["webkit", "firefox", "chromium"], limitMs: 30 },
  // Issue 26: every page its own path to the room, with different,
  // asymmetric least delays (base ± jitter: 20–40 up / 80–100 down, the
  // opposite, 50–70 / 30–50, 30–50 / 50–70), so the bias each path puts in
  // a page's clock estimate no longer cancels out between pages. P: the
  // room's pings alone (edgeTime: false); E: the same paths, and each page
  // also probes /api/time through a short path of its own (1–5 ms each
  // way) — the edge time endpoint at its nearest point of presence.
  { name: "P", paths: OWN_PATHS, edge: false, note: "own asymmetric paths per page (20/80, 80/20, 50/30, 30/50 ms least delays, +20 jitter), room pings only" },
  { name: "E", paths: OWN_PATHS, edge: true, note: "the same paths + an edge time endpoint 1–5 ms away per page" },
];
const ALL = PROFILES.map((p) => p.name).join("");
// WT_BENCH_ENGINES=firefox,chromium,…: one more profile, X, with those pages (the last joins late).
if (process.env.WT_BENCH_ENGINES) {
  const engines = process.env.WT_BENCH_ENGINES.split(",");
  PROFILES.push({ name: "X", up: [40, 20], down: [30, 15], note: `${engines.join(", ")} (last late), 40 ms ± 20 up, 30 ms ± 15 down`, engines });
}
// Samples at varied intervals (100 ms ± 20 %): `currentTime` moves in ~10 ms
// steps, and reads at a fixed period lock onto one phase of the step, a
// bias of up to ±2 ms per page (measured) that would show up as drift.
const SAMPLER = () => {
  if (window.__samples) return;
  window.__samples = [];
  // The picture: [wall ms when shown, its mediaTime, rate] per frame.
  window.__frames = [];
  let watched = null;
  const onFrame = (_, meta) => {
    const v = document.getElementById("video");
    window.__frames.push([performance.timeOrigin + meta.expectedDisplayTime, meta.mediaTime, v.playbackRate]);
    v.requestVideoFrameCallback(onFrame);
  };
  // Where the picture is now: the last frame carried to now (currentTime
  // when there is no recent frame: paused, or no requestVideoFrameCallback).
  window.__pos = () => {
    const v = document.getElementById("video");
    const at = performance.timeOrigin + performance.now();
    const f = window.__frames.at(-1);
    const t = !v.paused && f && at - f[0] < 150 && at >= f[0] ? f[1] + ((at - f[0]) / 1000) * v.playbackRate : v.currentTime;
    return { t, at, paused: v.paused, rate: v.playbackRate };
  };
  const sample = () => {
    setTimeout(sample, 80 + Math.random() * 40);
    // The room page's element, or the one in a (stand-in) embed's frame.
    const v = document.getElementById("video");
    if (!v || v.style.display === "none") return;
    if (watched !== v && v.requestVideoFrameCallback) { watched = v; v.requestVideoFrameCallback(onFrame); }
    const st = window.watchTogether?.session?.stats;
    const clock = (st?.offsetMs ?? NaN) - performance.timeOrigin; // server − wall, as this page believes
    window.__samples.push([performance.timeOrigin + performance.now(), v.currentTime, v.playbackRate, v.paused ? 1 : 0, clock, st?.driftMs ?? NaN]);
  };
  sample();
};
const q = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s.length ? s[Math.min(s.length - 1, Math.floor(p * s.length))] : null; };
const r1 = (x) => (x == null ? null : Number(x.toFixed(1)));

/** Position of a page at wall time t from its samples [at, currentTime, rate, paused]; i: the first sample at or after t. */
function rawAt(ss, t, i) {
  if (i <= 0) return null;
  const [ta, pa] = ss[i - 1];
  const [tb, pb] = ss[i];
  if (pb < pa || tb - ta > 500) return null; // a seek or a stall between the samples
  return pa + ((t - ta) / (tb - ta)) * (pb - pa);
}
function smoothAt(ss, t, i) {
  if (i <= 0) return null;
  const rate = ss[i - 1][2];
  // The run of samples around t at one rate, playing forward without jumps.
  const ok = (a, b) => a[2] === rate && b[2] === rate && !a[3] && !b[3] && b[0] - a[0] < 500 && Math.abs((b[1] - a[1]) - ((b[0] - a[0]) / 1000) * rate) < 0.03;
  let lo = i - 1, hi = i;
  while (lo > 0 && ss[lo - 1][0] >= t - 500 && ok(ss[lo - 1], ss[lo])) lo--;
  while (hi < ss.length - 1 && ss[hi + 1][0] <= t + 500 && ok(ss[hi], ss[hi + 1])) hi++;
  if (!ok(ss[i - 1], ss[i])) return null;
  const run = ss.slice(lo, hi + 1);
  if (run.length < 4) return rawAt(ss, t, i);
  // The slope is the rate; fit only the intercept: mean of (position − rate·time).
  const c = run.reduce((a, [at, p]) => a + (p - (at / 1000) * rate), 0) / run.length;
  return c + (t / 1000) * rate;
}

/** Where a page plays: its own document, or its embed's frame. */
const frameOf = (p) => p.frames().find((f) => f.url().includes("/youtube/embed/")) ?? p.mainFrame();
async function embedPositionAt(p, at) {
  const v = await frameOf(p).evaluate(() => { const e = document.getElementById("video"); return { t: e.currentTime, paused: e.paused, rate: e.playbackRate, at: Date.now() }; });
  return v.paused ? v.t : v.t + ((at - v.at) / 1000) * v.rate;
}
/** Where a page's picture is at wall time `at` (ms). */
async function pagePositionAt(p, at) {
  const v = await p.evaluate(() => window.__pos());
  return v.paused ? v.t : v.t + ((at - v.at) / 1000) * v.rate;
}
let embedded = false;
async function spreadAt(pages, at) {
  const pos = await Promise.all(pages.map((p) => (embedded ? embedPositionAt(p, at) : pagePositionAt(p, at))));
  return (Math.max(...pos) - Math.min(...pos)) * 1000;
}
async function convergence(pages, limitMs, timeoutMs) {
  const t0 = Date.now();
  while (Date.now() - t0 < timeoutMs) {
    if ((await spreadAt(pages, Date.now() + 50)) < limitMs) return Date.now() - t0;
    await sleep(50);
  }
  return null;
}

const stack = await startStack();
const up = await startUpstream({ "/m/": join(root, "target/test-media") });
const standins = await startStandins({ media: join(root, "target/test-media/clip") });
const CONFIG = { youtubeApi: `${standins.url}/youtube/iframe_api` };
// One browser per engine, started when a profile first needs it.
const browsers = {};
const browserFor = async (engine) => (browsers[engine] ??= await launch({ engine }));
const results = [];
const open = async (url, engine = "chromium", edgeTime = undefined) => {
  const p = await newPage(await browserFor(engine));
  if (edgeTime !== undefined) await p.addInitScript((c) => { window.WATCH_TOGETHER_CONFIG = c; }, { edgeTime });
  if (embedded) {
    await p.addInitScript((c) => { window.WATCH_TOGETHER_CONFIG = c; }, CONFIG);
    await p.addInitScript(SAMPLER); // in every frame: the room page and an embed's
  }
  await p.goto(url);
  if (embedded) {
    await p.waitForFunction(() => document.getElementById("connection")?.dataset.state === "open", null, { timeout: 15_000 });
    await p.waitForFunction(() => document.querySelector(".wt-embed iframe"), null, { timeout: 15_000 });
    for (let i = 0; i < 150 && !frameOf(p).url().includes("/youtube/embed/"); i++) await sleep(100);
  } else {
    await joined(p);
    await p.evaluate(SAMPLER);
  }
  return p;
};
const profiles = PROFILES.filter((p) => (process.env.WT_BENCH_PROFILES ?? ALL).includes(p.name));

// Which transport gives an edge probe the tighter bounds (issue 26): from one
// Chromium page straight on the runtime (no latency proxy), 100 probes of
// each in turn, 60 ms apart (the room takes 20 messages a second) — HTTP
// GET /api/time on a kept-alive connection, a message on /api/time's own
// WebSocket, and the room's ping over its socket (answered by the Durable
// Object) — and each probe's bound: half its round trip less the server's
// own time. The player probes the edge over the WebSocket: this is why.
let transport = null;
if (profiles.some((p) => p.edge)) {
  const room = await createRoom(stack.url, { title: "transport" });
  const p = await newPage(await browserFor("chromium"));
  await p.goto(`${stack.url}/healthz`);
  transport = await p.evaluate(async ([wsUrl, id]) => {
    const http = [];
    const pause = () => new Promise((r) => setTimeout(r, 60));
    for (let i = 0; i < 100; i++) {
      await pause();
      const t0 = performance.now();
      await (await fetch("/api/time", { cache: "no-store" })).json();
      http.push((performance.now() - t0) / 2);
    }
    const ws = new WebSocket(`${wsUrl}/api/rooms/${id}/ws`);
    await new Promise((r, j) => { ws.onopen = r; ws.onerror = j; });
    const next = () => new Promise((r) => { ws.onmessage = (e) => { const m = JSON.parse(e.data); if (m.type === "pong" || m.type === "welcome") r(m); }; });
    ws.send(JSON.stringify({ v: 1, type: "hello", name: "transport" }));
    await next();
    const sock = [];
    for (let i = 0; i < 100; i++) {
      await pause();
      const t0 = performance.now();
      const got = next();
      ws.send(JSON.stringify({ v: 1, type: "ping", t0 }));
      const m = await got;
      sock.push((performance.now() - t0 - (m.t2 - m.t1)) / 2);
    }
    ws.close();
    // The edge's own socket: a message, an answer.
    const edge = new WebSocket(`${wsUrl}/api/time`);
    await new Promise((r, j) => { edge.onopen = r; edge.onerror = j; });
    const edgeSock = [];
    for (let i = 0; i < 100; i++) {
      await pause();
      const t0 = performance.now();
      const got = new Promise((r) => { edge.onmessage = (e) => r(JSON.parse(e.data)); });
      edge.send("t");
      await got;
      edgeSock.push((performance.now() - t0) / 2);
    }
    edge.close();
    return { http, sock, edgeSock };
  }, [stack.wsUrl, room.id]);
  await p.context().close();
  const fig = (xs) => ({ min: Number(Math.min(...xs).toFixed(2)), p50: Number(q(xs, 0.5).toFixed(2)), p90: Number(q(xs, 0.9).toFixed(2)) });
  transport = { http_get_api_time_half_rtt_ms: fig(transport.http), websocket_api_time_half_rtt_ms: fig(transport.edgeSock), room_websocket_ping_half_rtt_ms: fig(transport.sock) };
  const line = (f) => `min ${f.min} · p50 ${f.p50} · p90 ${f.p90} ms`;
  console.log(`    edge probe transport, Chromium straight on workerd, 100 each, bound (half the round trip less the server's time): HTTP GET /api/time ${line(transport.http_get_api_time_half_rtt_ms)}; /api/time's WebSocket ${line(transport.websocket_api_time_half_rtt_ms)}; the room's WebSocket ping ${line(transport.room_websocket_ping_half_rtt_ms)}`);
}
for (const profile of profiles) {
  console.log(`    profile ${profile.name} (${profile.note}), ${SECONDS} s`);
  const engines = profile.engines ?? ["chromium", "chromium", "chromium", "chromium"]; // the last joins late
  embedded = Boolean(profile.youtube);
  const limit = profile.limitMs ?? 20;
  // One path for all pages, or (P, E) one each, and (E) a short one each to the edge endpoint.
  const nets = await Promise.all(engines.map((_, k) => startNetem(new URL(stack.url), profile.paths ? { up: profile.paths[k][0], down: profile.paths[k][1], seed: 7 + k } : { up: profile.up, down: profile.down, seed: 7 })));
  const edges = profile.edge ? await Promise.all(engines.map((_, k) => startNetem(new URL(stack.url), { up: [3, 2], down: [3, 2], seed: 70 + k }))) : [];
  const edgeTime = (k) => (profile.paths ? (profile.edge ? `${edges[k].url}/api/time` : false) : undefined);
  const source = embedded ? `https://www.youtube.com/watch?v=${profile.youtube}` : `${up.url}/m/long/manifest.mpd`;
  const room = await createRoom(stack.url, { source, title: "bench (150 s)" });
  const pages = [];
  for (const [k, engine] of engines.slice(0, -1).entries()) pages.push(await open(`${nets[k].url}${room.url}`, engine, edgeTime(k)));
  await play(pages[0]);
  await sleep(3_000);
  const joinAt = Date.now();
  const late = await open(`${nets.at(-1).url}${room.url}`, engines.at(-1), edgeTime(engines.length - 1));
  pages.push(late);
  const lateJoin = await convergence(pages, limit, 15_000);
  const lateJoinMs = lateJoin == null ? null : Date.now() - joinAt;
  await pages[1].fill("#seek-to", "2");
  const seekAt = Date.now();
  await pages[1].click("#seek");
  // Everyone has taken the seek, then within 20 ms of each other.
  // A page that does not take it (WebKitGTK seeking back) is reported, not fatal.
  const missed = [];
  for (const [k, p] of pages.entries()) {
    await (embedded ? frameOf(p) : p).waitForFunction(() => document.getElementById("video").currentTime >= 1.5 && document.getElementById("video").currentTime < 6, null, { timeout: 15_000, polling: 20 })
      .catch(() => missed.push(k));
  }
  if (missed.length) console.log(`\n    page(s) ${missed.join(", ")} (${missed.map((k) => engines[k]).join(", ")}) did not take the seek to 2 s within 15 s`);
  const seekConv = (await convergence(pages, limit, 15_000)) == null ? null : Date.now() - seekAt;
  await sleep(2_000);
  const stats0 = await Promise.all(pages.map((p) => p.evaluate(() => window.watchTogether.session.stats)));
  const from = Date.now();
  for (let s = 0; s < SECONDS; s += 10) { await sleep(10_000); process.stdout.write(`\r    ${Math.min(SECONDS, s + 10)}/${SECONDS} s`); }
  process.stdout.write("\n");
  const to = Date.now();
  const stats1 = await Promise.all(pages.map((p) => p.evaluate(() => window.watchTogether.session.stats)));
  const samples = await Promise.all(pages.map((p) => (embedded ? frameOf(p) : p).evaluate(() => window.__samples)));
  // The picture, as samples of the same shape: [shown at, mediaTime, rate, paused = 0].
  const frames = await Promise.all(pages.map((p) => (embedded ? frameOf(p) : p).evaluate(() => window.__frames.map(([at, t, rate]) => [at, t, rate, 0]))));
  // Position of each page at common instants, raw and smoothed.
  // A page with no smoothed position at an instant (its rate changed or it
  // seeked within ±500 ms) counts with its raw read there, so the moments
  // of largest drift are not left out of the smoothed figures.
  const spreads = [], raw = [];
  // Where each page sits against the others, on average, and how far its clock estimate is from theirs.
  const devs = pages.map(() => []), clocks = pages.map(() => []), selfs = pages.map(() => []);
  let off = 0, total = 0, fallbacks = 0, reads = 0;
  const pictures = [], pdevs = pages.map(() => []);
  for (let t = from; t <= to; t += 100) {
    const pic = frames.map((fs) => smoothAt(fs, t, fs.findIndex((x) => x[0] >= t)));
    if (pic.every((x) => x != null)) {
      pictures.push((Math.max(...pic) - Math.min(...pic)) * 1000);
      const m = pic.reduce((a, x) => a + x, 0) / pic.length;
      pic.forEach((x, k) => { pdevs[k].push((x - m) * 1000); });
    }
    const pos = [], rpos = [], at = []; // at: each page's sample at or after t
    for (const ss of samples) {
      const i = ss.findIndex((x) => x[0] >= t);
      at.push(ss[Math.max(0, i)]);
      const p = smoothAt(ss, t, i), r = rawAt(ss, t, i);
      if (r != null) rpos.push(r);
      if (p != null || r != null) { pos.push(p ?? r); reads++; if (p == null) fallbacks++; }
      if (i > 0) { total++; if (Math.abs(ss[i - 1][2] - 1) > 1e-6) off++; }
    }
    if (pos.length === pages.length) {
      spreads.push((Math.max(...pos) - Math.min(...pos)) * 1000);
      const m = pos.reduce((a, x) => a + x, 0) / pos.length;
      pos.forEach((x, k) => { devs[k].push((x - m) * 1000); });
      const cs = at.map((x) => x[4]);
      const cm = cs.reduce((a, x) => a + x, 0) / cs.length;
      cs.forEach((c, k) => { clocks[k].push(c - cm); });
      at.forEach((x, k) => { selfs[k].push(x[5]); });
    }
    if (rpos.length === pages.length) raw.push((Math.max(...rpos) - Math.min(...rpos)) * 1000);
  }
  // How fast each page played against what its rate asked (1 = kept up):
  // the media advanced between consecutive samples over rate × wall time,
  // leaving out seeks and pauses. Under 1: the page could not keep up.
  const speeds = samples.map((ss) => {
    let got = 0, asked = 0;
    for (let i = 1; i < ss.length; i++) {
      const [ta, pa, ra, za] = ss[i - 1], [tb, pb, , zb] = ss[i];
      if (ta < from || tb > to || za || zb || tb - ta > 500) continue;
      const d = pb - pa, want = ((tb - ta) / 1000) * ra;
      if (Math.abs(d - want) > 0.3) continue; // a seek
      got += d; asked += want;
    }
    return asked ? Number((got / asked).toFixed(4)) : null;
  });
  // Share of the window each page was playing (not paused): a page that
  // never played makes every drift figure meaningless (all equal at 0).
  const playing = samples.map((ss) => {
    const w = ss.filter((x) => x[0] >= from && x[0] <= to);
    return w.length ? Number((w.filter((x) => !x[3]).length / w.length).toFixed(3)) : 0;
  });
  const quality = await Promise.all(pages.map((p) => (embedded ? frameOf(p) : p).evaluate(() => {
    const q = document.getElementById("video").getVideoPlaybackQuality?.();
    return q ? [q.droppedVideoFrames, q.totalVideoFrames] : null;
  })));
  if (process.env.WT_BENCH_DUMP) writeFileSync(process.env.WT_BENCH_DUMP, JSON.stringify({ engines, from, to, samples, frames, stats0, stats1 }));
  const minutes = (to - from) / 60_000;
  const seeks = stats1.reduce((n, s, i) => n + s.seekCorrections - stats0[i].seekCorrections, 0);
  const r = {
    stand_in: embedded ? "YouTube IFrame API stand-in (tests/support/standins), not YouTube" : undefined,
    convergence_limit_ms: limit,
    profile: profile.name, latency: profile.note, engines, pages: pages.length, seconds: Math.round((to - from) / 1000), instants: spreads.length,
    raw_in_smoothed_share: Number((fallbacks / Math.max(1, reads)).toFixed(3)),
    drift_ms: { p50: r1(q(spreads, 0.5)), p95: r1(q(spreads, 0.95)), p99: r1(q(spreads, 0.99)), max: r1(Math.max(...spreads)) },
    drift_raw_ms: { p50: r1(q(raw, 0.5)), p95: r1(q(raw, 0.95)), p99: r1(q(raw, 0.99)), max: r1(Math.max(...raw)) },
    drift_picture_ms: pictures.length ? { p50: r1(q(pictures, 0.5)), p95: r1(q(pictures, 0.95)), p99: r1(q(pictures, 0.99)), max: r1(Math.max(...pictures)), instants: pictures.length } : null,
    convergence_ms: { late_join: lateJoinMs, seek: seekConv },
    corrective_seeks_per_minute_per_page: Number((seeks / minutes / pages.length).toFixed(2)),
    speed_trim: stats1.map((s) => s.speedTrim ?? null),
    nudges_per_minute: stats1.map((s, i) => Number(((s.rateCorrections - stats0[i].rateCorrections) / minutes).toFixed(1))),
    rates_apply: stats1.map((s) => s.rateApplies ?? null),
    share_time_rate_not_1: Number((off / Math.max(1, total)).toFixed(3)),
    rtt_ms: stats1.map((s) => r1(s.rttMs)),
    clock_error_bound_ms: stats1.map((s) => r1(s.offsetErrorMs)),
    edge_clock: stats1.map((s) => s.edgeClock ?? null),
    edge_minus_room_ms: stats1.map((s) => r1(s.edgeMinusRoomMs)),
    edge_rtt_ms: stats1.map((s) => r1(s.edgeRttMs)),
    nudge_cost_ms: stats1.map((s) => r1(s.nudgeCostMs)),
    page_mean_position_ms: devs.map((d) => r1(d.reduce((a, x) => a + x, 0) / Math.max(1, d.length))),
    page_playing_share: playing,
    all_played: playing.every((x) => x > 0.9),
    seek_missed_by: missed.map((k) => engines[k]),
    page_speed: speeds,
    page_dropped_frames: quality,
    page_mean_picture_ms: pdevs.map((d) => (d.length ? r1(d.reduce((a, x) => a + x, 0) / d.length) : null)),
    page_mean_clock_ms: clocks.map((d) => r1(d.reduce((a, x) => a + x, 0) / Math.max(1, d.length))),
    page_mean_own_drift_ms: selfs.map((d) => r1(d.reduce((a, x) => a + x, 0) / Math.max(1, d.length))),
  };
  if (!r.all_played) console.log(`    NOT A SYNC FIGURE: a page did not play through the window (playing ${playing.map((x) => `${(x * 100).toFixed(0)} %`).join(" / ")})`);
  console.log(`    drift p50 ${r.drift_ms.p50} · p95 ${r.drift_ms.p95} · p99 ${r.drift_ms.p99} · max ${r.drift_ms.max} ms (raw reads: p50 ${r.drift_raw_ms.p50} · p95 ${r.drift_raw_ms.p95}); late join ${lateJoinMs} ms, seek ${seekConv} ms; seeks/min/page ${r.corrective_seeks_per_minute_per_page}; raw reads in smoothed ${(r.raw_in_smoothed_share * 100).toFixed(1)} %; rate≠1 ${(r.share_time_rate_not_1 * 100).toFixed(1)} %`);
  if (r.drift_picture_ms) console.log(`    picture (requestVideoFrameCallback): drift p50 ${r.drift_picture_ms.p50} · p95 ${r.drift_picture_ms.p95} · p99 ${r.drift_picture_ms.p99} ms over ${r.drift_picture_ms.instants} instants; each page against the mean ${r.page_mean_picture_ms.join(" / ")} ms`);
  console.log(`    each page (${engines.join(", ")}) against the mean of all: position ${r.page_mean_position_ms.join(" / ")} ms; clock estimate ${r.page_mean_clock_ms.join(" / ")} ms; own drift reading ${r.page_mean_own_drift_ms.join(" / ")} ms; speed ${speeds.join(" / ")}; nudges/min ${r.nudges_per_minute.join(" / ")} (rates ${r.rates_apply.map((x) => (x == null ? "?" : x ? "on" : "off")).join(" / ")}); trim ${r.speed_trim.map((x) => (x == null ? "–" : `${(x * 100).toFixed(2)} %`)).join(" / ")}; dropped ${quality.map((x) => (x ? `${x[0]}/${x[1]}` : "?")).join(" / ")}`);
  if (profile.paths) console.log(`    clocks: error bound ${r.clock_error_bound_ms.join(" / ")} ms; edge ${r.edge_clock.join(" / ")}; edge − room as seen ${r.edge_minus_room_ms.join(" / ")} ms; edge rtt ${r.edge_rtt_ms.join(" / ")} ms; room rtt ${r.rtt_ms.join(" / ")} ms`);
  results.push(r);
  for (const p of pages) await p.context().close();
  for (const n of [...nets, ...edges]) await n.close();
}
for (const b of Object.values(browsers)) await b.close();
await standins.close();
await up.close();
await stack.stop();
mkdirSync(join(root, "target/bench"), { recursive: true });
// WT_BENCH_PROFILES=A (or B) runs one profile, into its own file.
const only = (process.env.WT_BENCH_PROFILES ?? ALL) === ALL ? "" : `-${process.env.WT_BENCH_PROFILES}`;
writeFileSync(join(root, `target/bench/sync${only}.json`), `${JSON.stringify({ benchmark: "sync", date: new Date().toISOString().slice(0, 10), profiles: results, edge_probe_transport: transport ?? undefined,
  peers_tolerance_ms: { "Jellyfin SyncPlay": 60, Metastream: 100, WatchParty: 500, OpenTogetherTube: 1000, Syncplay: 1500 }, goal: "p95 < 10 ms on profiles A, F and W (V on a machine W saturates), < 15 ms on M (mixed engines), < 10 ms on E (own asymmetric paths, edge time endpoint), 0 corrective seeks per minute in steady state; p95 < 50 ms on profile Y (YouTube stand-in)" }, null, 2)}\n`);
console.log(`    wrote target/bench/sync${only}.json`);
