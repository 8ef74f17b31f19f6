// engines: chromium firefox webkit
// The DASH engine in headless Chromium on assets made by ffmpeg and Shaka
// Packager (by `cargo xtask test` into target/test-media/), served by a real
// local origin through the media proxy: SegmentTemplate + SegmentTimeline
// with a 3-rung ladder, VP9/Opus WebM, SegmentList with mediaRange, the same
// one-file MP4s addressed through SegmentBase indexRange (their sidx), HLS
// fMP4 (audio muxed, and as a separate rendition), Shaka Packager's
// on-demand (SegmentBase) and live-profile (SegmentTemplate) DASH and its
// HLS, two periods, and a live stream the origin publishes over time.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after } from "node:test";
import { ENGINE, joined, newPage, pickQuality, play, qualityLabels, test, waitFor, withBrowser } from "../support/browser.mjs";
import { createRoom, root, setup, withStack } from "../support/stack.mjs";
import { withUpstream } from "../support/upstream.mjs";

const media = join(root, "target/test-media");

/** The SegmentList MPD of one-file MP4s, rewritten to SegmentBase: the index
 * is the sidx between the init segment and the first media range. */
function sidxVariant() {
  const mpd = readFileSync(join(media, "single/manifest.mpd"), "utf8");
  const out = mpd.replace(/<SegmentList[^>]*>([\s\S]*?)<\/SegmentList>/g, (_, body) => {
    const init = body.match(/<Initialization range="(\d+)-(\d+)"/);
    const first = body.match(/mediaRange="(\d+)-/);
    return `<SegmentBase indexRange="${Number(init[2]) + 1}-${Number(first[1]) - 1}"><Initialization range="${init[1]}-${init[2]}"/></SegmentBase>`;
  });
  assert.ok(out.includes("SegmentBase") && !out.includes("SegmentURL"));
  writeFileSync(join(media, "single/manifest-sidx.mpd"), out);
}

/** Two periods from the ladder's segments: 0–8 s, then the content again
 * from its start as a second period at 8–20 s (timestampOffset 8). */
function twoPeriods() {
  const mpd = readFileSync(join(media, "ladder/manifest.mpd"), "utf8");
  const period = mpd.match(/<Period[^>]*>([\s\S]*?)<\/Period>/)[1];
  const out = mpd.replace(/<Period[^>]*>[\s\S]*?<\/Period>/, `<Period id="p1" start="PT0S" duration="PT8S">${period}</Period><Period id="p2" start="PT8S" duration="PT12S">${period}</Period>`);
  writeFileSync(join(media, "ladder/two-periods.mpd"), out);
}

const page = mkdtempSync(join(tmpdir(), "wt-engine-"));
after(() => rmSync(page, { recursive: true, force: true }));
setup(async () => {
  sidxVariant();
  twoPeriods();
  writeFileSync(join(page, "player.html"), `<!doctype html><link rel="icon" href="data:,"><body><video id="video" muted autoplay playsinline></video>
<script type="module">
import init, * as wasm from "/pkg/media/player_wasm.js";
await init();
window.hasJoin = "join" in wasm;
window.player = new wasm.MediaPlayer(document.getElementById("video"));
window.qualityEvents = [];
window.player.events.addEventListener("quality", (e) => window.qualityEvents.push(e.detail.id));
window.player.events.addEventListener("error", (e) => console.error(e.detail.message));
window.ready = true;
</script>`);
  // Safari's ManagedMediaSource, which Chromium and Firefox lack: a subclass
  // of MediaSource under that name stands in, so the test sees which class
  // the player constructs. In WebKit the subclass extends the real one.
  writeFileSync(join(page, "managed.html"), `<!doctype html><link rel="icon" href="data:,"><body><video id="video" muted autoplay playsinline></video>
<script type="module">
window.managed = 0;
// WebKit has the real one: the subclass extends it there.
window.realManaged = typeof window.ManagedMediaSource === "function";
const Base = window.realManaged ? window.ManagedMediaSource : MediaSource;
window.ManagedMediaSource = class ManagedMediaSource extends Base {
  constructor() { super(); window.managed += 1; }
};
import("/pkg/media/player_wasm.js").then(async ({ default: init, MediaPlayer }) => {
  await init();
  window.player = new MediaPlayer(document.getElementById("video"));
  window.player.events.addEventListener("error", (e) => console.error(e.detail.message));
  window.ready = true;
});
</script>`);
});
const up = withUpstream({ "/m/": media, "/pkg/": join(root, "www/pkg"), "/page/": page });
const stack = withStack();
const browser = withBrowser();


/** Audio bytes decoded (Chromium); Firefox counts none and says only that it plays an audio track (1). */
// WebKitGTK has the counter but leaves it at 0: there, the audio tracks the element plays.
const AUDIO_DECODED = () => { const v = document.getElementById("video"); return v.webkitAudioDecodedByteCount || (v.audioTracks ? v.audioTracks.length : 0) || (v.mozHasAudio ? 1 : 0); };

/** The buffered span around the playhead `t`: [start, end], or null. */
function continuous(ranges, t) {
  return ranges.find(([s, e]) => s <= t && t < e) ?? null;
}

/** Whether this engine's MediaSource takes every type (asked in a blank page). */
async function canPlay(types) {
  const page = await newPage(browser);
  await page.goto(`${up.url}/page/player.html`);
  const ok = await page.evaluate((ts) => ts.every((t) => (window.ManagedMediaSource ?? MediaSource).isTypeSupported(t)), types);
  await page.context().close();
  return ok;
}

async function open(source) {
  const room = await createRoom(stack.url, { source: `${up.url}/m/${source}`, title: source });
  const page = await newPage(browser);
  // (Not waiting for the load event: once, in Firefox on a loaded machine, it
  // did not come within 30 s; joined() waits for what the test needs.)
  await page.goto(`${stack.url}${room.url}`, { waitUntil: "domcontentloaded" });
  await joined(page);
  return page;
}

/** A page of the player alone (`file` under /page/), its MediaPlayer ready. */
async function playerPage(file = "player.html") {
  const page = await newPage(browser);
  await page.goto(`${up.url}/page/${file}`);
  await waitFor(page, () => window.ready === true, null, 10_000, "player ready");
  return page;
}

/** Plays, decodes audio, seeks to 7 s and plays on from there. */
async function playAndSeek(page) {
  await play(page);
  await waitFor(page, () => document.getElementById("video").currentTime > 2, null, 10_000, "playing past 2 s");
  const audio = await page.evaluate(AUDIO_DECODED);
  assert.ok(audio > 0, `audio decoded: ${audio} bytes`);
  await page.fill("#seek-to", "7");
  await page.click("#seek");
  await waitFor(page, () => document.getElementById("video").currentTime > 7.8, null, 8_000, "playing on after a seek to 7 s");
  const err = await page.evaluate(() => document.getElementById("video").error?.message ?? null);
  assert.equal(err, null);
}

for (const [name, source] of [
  ["VP9/Opus WebM (SegmentTemplate + SegmentTimeline)", "webm/manifest.mpd"],
  ["one-file MP4s through SegmentList + mediaRange", "single/manifest.mpd"],
  ["one-file MP4s through SegmentBase indexRange (sidx)", "single/manifest-sidx.mpd"],
  ["HLS fMP4, audio muxed", "hls/master.m3u8"],
  ["HLS fMP4 with a separate audio rendition", "hls-audio/master.m3u8"],
  ["Shaka Packager on-demand profile: SegmentBase indexRange (sidx)", "shaka/ondemand.mpd"],
  ["Shaka Packager live profile: SegmentTemplate + SegmentTimeline", "shaka/live-profile.mpd"],
  ["Shaka Packager HLS fMP4, separate audio (DEFAULT=NO, AUTOSELECT)", "shaka/master.m3u8"],
]) {
  test(`${name}: plays, decodes audio, seeks`, async (t) => {
    if (source.startsWith("webm/")) {
      const ok = await canPlay(['video/webm; codecs="vp9"', 'audio/webm; codecs="opus"']);
      if (!ok) return t.skip(`${ENGINE}: MediaSource.isTypeSupported says no to VP9/Opus WebM`);
    }
    const page = await open(source);
    await playAndSeek(page);
    assert.deepEqual(page.problems, []);
    await page.context().close();
  });
}

test("two periods: playback crosses the boundary with no gap", async () => {
  const page = await open("ladder/two-periods.mpd");
  await play(page);
  await waitFor(page, () => document.getElementById("video").currentTime > 10.5, null, 15_000, "playing into the second period");
  const state = await page.evaluate(() => {
    const v = document.getElementById("video");
    const b = v.buffered;
    return { t: v.currentTime, duration: v.duration, ranges: Array.from({ length: b.length }, (_, i) => [b.start(i), b.end(i)]) };
  });
  assert.ok(Math.abs(state.duration - 20) < 0.1, `duration of both periods: ${JSON.stringify(state)}`);
  const across = state.ranges.find(([s, e]) => s <= 7.5 && e >= 10.5);
  assert.ok(across, `one buffered range across the 8 s boundary: ${JSON.stringify(state)}`);
  assert.equal(await page.evaluate(() => document.getElementById("video").error), null);
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test("a 3-rung ladder: quality switches mid-play keep audio and video continuous", async () => {
  const page = await open("ladder/manifest.mpd");
  // (The menu read first: the switches below come right after the seek, well before the 20 s end, however slow the machine.)
  const labels = (await qualityLabels(page)).map((l) => (l.startsWith("Auto") ? "Auto" : l));
  assert.deepEqual(labels, ["Auto", "144p", "240p", "360p"]);
  await playAndSeek(page);
  for (const [value, id] of [["0", "0"], ["2", "2"]]) {
    await pickQuality(page, value);
    await waitFor(page, (want) => document.querySelector("wt-player").shadowRoot.getElementById("quality").dataset.playing === want, id, 6_000, `fetching quality ${id}`);
    const t = await page.evaluate(() => document.getElementById("video").currentTime);
    await waitFor(page, (t0) => document.getElementById("video").currentTime > t0 + 2.5, t, 8_000, "playing on after the switch");
  }
  // One continuous buffered range around the playhead, for audio and video together.
  const ranges = await page.evaluate(() => {
    const v = document.getElementById("video");
    const b = v.buffered;
    return { t: v.currentTime, ranges: Array.from({ length: b.length }, (_, i) => [b.start(i), b.end(i)]) };
  });
  const holding = continuous(ranges.ranges, ranges.t);
  assert.ok(holding, JSON.stringify(ranges));
  assert.ok(holding[0] <= 7.1, `continuous since the seek: ${JSON.stringify(ranges)}`);
  assert.equal(await page.evaluate(() => document.getElementById("video").error), null, "no decode error");
  assert.deepEqual(page.problems, []);
});

// The engine alone: the player-only build (`www/pkg/media`, what the size
// goal is measured on) with its MediaPlayer export. Live in a room is the
// sync loop's business.
test("the player-only build: a 3-rung ladder plays, switches quality on request, audio and video stay continuous", async () => {
  const page = await playerPage();
  assert.equal(await page.evaluate(() => window.hasJoin), false, "the build without the room has no join()");
  await page.evaluate((url) => window.player.load(url), `${up.url}/m/ladder/manifest.mpd`);
  await waitFor(page, () => window.player.qualities().length === 3, null, 10_000, "the ladder is known");
  await waitFor(page, () => document.getElementById("video").currentTime > 2, null, 10_000, "playing past 2 s");
  for (const index of [0, 2]) {
    await page.evaluate((i) => window.player.setQuality(i), index);
    await waitFor(page, (id) => window.qualityEvents.at(-1) === id, String(index), 6_000, `fetching quality ${index}`);
    const t = await page.evaluate(() => document.getElementById("video").currentTime);
    await waitFor(page, (t0) => document.getElementById("video").currentTime > t0 + 2.5, t, 8_000, "playing on after the switch");
  }
  const state = await page.evaluate(() => {
    const v = document.getElementById("video");
    const b = v.buffered;
    return { t: v.currentTime, audio: v.webkitAudioDecodedByteCount || (v.audioTracks ? v.audioTracks.length : 0) || (v.mozHasAudio ? 1 : 0), ranges: Array.from({ length: b.length }, (_, i) => [b.start(i), b.end(i)]) };
  });
  assert.ok(state.audio > 0, `audio decoded: ${JSON.stringify(state)}`);
  const holding = continuous(state.ranges, state.t);
  assert.ok(holding, JSON.stringify(state));
  assert.ok(holding[0] <= 2, `continuous from the start through both switches: ${JSON.stringify(state)}`);
  assert.equal(await page.evaluate(() => document.getElementById("video").error), null, "no decode error");
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

// A late joiner starts where the room is; the room may then seek back
// before anything it appended. WebKitGTK's audio SourceBuffer took nothing
// earlier than what it held (stuck seeking at HAVE_METADATA) until every
// flush reset the parser and sent the init segment again.
test("a seek back before where the load started lands and plays (audio and video)", async () => {
  const page = await playerPage();
  await page.evaluate((url) => { window.player.load(url); document.getElementById("video").currentTime = 6; }, `${up.url}/m/ladder/manifest.mpd`);
  await waitFor(page, () => document.getElementById("video").currentTime > 6.5, null, 10_000, "playing from 6 s");
  const before = await page.evaluate(() => { const b = document.getElementById("video").buffered; return b.length ? b.start(0) : null; });
  assert.ok(before > 4, `nothing before 4 s was appended: starts at ${before}`);
  await page.evaluate(() => { document.getElementById("video").currentTime = 2; });
  await waitFor(page, () => { const v = document.getElementById("video"); return !v.seeking && !v.paused && v.currentTime > 2.3 && v.currentTime < 5.5; }, null, 8_000, "playing on from 2 s");
  const state = await page.evaluate(() => { const v = document.getElementById("video"); const b = v.buffered; return { t: v.currentTime, audio: v.webkitAudioDecodedByteCount || (v.audioTracks ? v.audioTracks.length : 0) || (v.mozHasAudio ? 1 : 0), ranges: Array.from({ length: b.length }, (_, i) => [b.start(i), b.end(i)]) }; });
  assert.ok(state.ranges.some(([s, e]) => s <= 2.2 && e > state.t), `audio and video buffered from 2 s: ${JSON.stringify(state)}`);
  assert.ok(state.audio > 0, `audio: ${JSON.stringify(state)}`);
  assert.equal(await page.evaluate(() => document.getElementById("video").error), null);
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test("ManagedMediaSource is used where the browser has it (remote playback off, as it requires)", async () => {
  const page = await playerPage("managed.html");
  await page.evaluate((url) => window.player.load(url), `${up.url}/m/ladder/manifest.mpd`);
  await waitFor(page, () => document.getElementById("video").currentTime > 2, null, 10_000, "playing past 2 s");
  const seen = await page.evaluate(() => {
    const v = document.getElementById("video");
    return { real: window.realManaged, managed: window.managed, remote: v.disableRemotePlayback, audio: v.webkitAudioDecodedByteCount || (v.audioTracks ? v.audioTracks.length : 0) || (v.mozHasAudio ? 1 : 0), error: v.error };
  });
  assert.deepEqual({ managed: seen.managed, remote: seen.remote, error: seen.error }, { managed: 1, remote: true, error: null }, JSON.stringify(seen));
  assert.ok(seen.audio > 0, `audio decoded: ${seen.audio}`);
  assert.equal(seen.real, ENGINE === "webkit", `the engine's own ManagedMediaSource (WebKit has one): ${JSON.stringify(seen)}`);
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test("a live stream published over time: starts near the edge, follows the growing timeline, seeks back in the window", async () => {
  up.restartLive("/m/live");
  const early = up.early();
  const page = await playerPage();
  await page.evaluate((url) => window.player.load({ url, kind: "dash" }), `${up.url}/m/live/live.mpd`);
  await waitFor(page, () => document.getElementById("video").readyState >= 2, null, 10_000, "live media loaded");
  const edge = () => (Date.now() - up.liveStart("/m/live")) / 1000;
  await waitFor(page, () => !document.getElementById("video").paused && document.getElementById("video").currentTime > 0, null, 10_000, "playing");
  const first = await page.evaluate(() => document.getElementById("video").currentTime);
  const lag = edge() - first;
  assert.ok(lag > 2 && lag < 14, `starts behind the live edge by the delay (about 4–8 s): edge ${edge()}, at ${first}`);
  const refreshesBefore = up.hits("/m/live/live.mpd");
  // 12 s were published when it started: playing on past that needs segments
  // that only later refreshes list.
  await waitFor(page, (t) => document.getElementById("video").currentTime > t + 8, first, 14_000, "following the live edge for 8 s");
  const now = await page.evaluate(() => document.getElementById("video").currentTime);
  assert.ok(now > 14, `played segments published after the start: ${now}`);
  assert.ok(up.hits("/m/live/live.mpd") >= refreshesBefore + 2, `the MPD is refreshed (minimumUpdatePeriod 2 s): ${up.hits("/m/live/live.mpd")}`);
  assert.ok(edge() - now < 14, `still near the edge: edge ${edge()}, at ${now}`);
  const audio = await page.evaluate(AUDIO_DECODED);
  assert.ok(audio > 0, `audio decoded: ${audio} bytes`);
  // Back 6 s inside the time-shift window.
  const back = Math.floor(now - 6);
  await page.evaluate((b) => { document.getElementById("video").currentTime = b; }, back);
  await waitFor(page, (b) => { const v = document.getElementById("video"); return v.currentTime > b + 1 && v.currentTime < b + 5 && !v.paused; }, back, 8_000, `playing on after a seek back to ${back}`);
  assert.equal(up.early() - early, 0, "no segment asked for before it was complete");
  assert.equal(await page.evaluate(() => document.getElementById("video").error), null);
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test("live HLS published over time (a sliding window, not starting at media time 0): starts behind the edge, follows reloads, seeks back", async () => {
  // (WebKitGTK stood paused at HAVE_METADATA inside what was buffered, on
  // busy cores, 3 of ~20 runs of this file: the engine now seeks such an
  // element again where it stands.)
  up.restartLive("/m/live-hls");
  const early = up.early();
  const page = await playerPage();
  // The element's events and the player's warnings, printed if it does not start.
  await page.evaluate(() => {
    const v = document.getElementById("video");
    window.__events = [];
    const at = performance.now();
    for (const e of ["loadedmetadata", "seeking", "seeked", "waiting", "canplay", "playing", "pause"]) v.addEventListener(e, () => window.__events.push(`${Math.round(performance.now() - at)} ${e} ${v.currentTime.toFixed(3)} rs${v.readyState}`));
    const warn = console.warn.bind(console);
    console.warn = (...a) => { window.__events.push(`${Math.round(performance.now() - at)} ${a.join(" ")}`); warn(...a); };
  });
  await page.evaluate((url) => window.player.load({ url, kind: "hls" }), `${up.url}/m/live-hls/live.m3u8`);
  await waitFor(page, () => !document.getElementById("video").paused && document.getElementById("video").currentTime > 0, null, 12_000, "playing").catch(async (e) => {
    const events = await page.evaluate(() => window.__events).catch((f) => `(not read: ${f.message})`);
    throw new Error(`${e.message}; events: ${JSON.stringify(events)}`);
  });
  // The first playlist listed the 30 s before the stream's 50th second:
  // segments from media time ~20 s, which the player's timeline puts at 0.
  const edge = () => (Date.now() - up.liveStart("/m/live-hls")) / 1000 - 20;
  const first = await page.evaluate(() => document.getElementById("video").currentTime);
  const lag = edge() - first;
  assert.ok(lag > 2 && lag < 14, `starts about three target durations behind the live edge: edge ${edge()}, at ${first}`);
  const reloadsBefore = up.hits("/m/live-hls/live.m3u8");
  await waitFor(page, (t) => document.getElementById("video").currentTime > t + 8, first, 14_000, "following the live edge for 8 s");
  const now = await page.evaluate(() => document.getElementById("video").currentTime);
  assert.ok(up.hits("/m/live-hls/live.m3u8") >= reloadsBefore + 2, `the playlist is reloaded every target duration: ${up.hits("/m/live-hls/live.m3u8")}`);
  const state = await page.evaluate(() => {
    const v = document.getElementById("video");
    const b = v.buffered;
    return { t: v.currentTime, audio: v.webkitAudioDecodedByteCount || (v.audioTracks ? v.audioTracks.length : 0) || (v.mozHasAudio ? 1 : 0), ranges: Array.from({ length: b.length }, (_, i) => [b.start(i), b.end(i)]) };
  });
  assert.ok(state.audio > 0, `audio decoded: ${JSON.stringify(state)}`);
  assert.ok(state.ranges.some(([s, e]) => s <= first + 0.5 && e >= state.t), `one buffered range from the start through segments listed by later reloads: ${JSON.stringify(state)}`);
  // Back 6 s inside the window.
  const back = Math.floor(now - 6);
  await page.evaluate((b) => { document.getElementById("video").currentTime = b; }, back);
  await waitFor(page, (b) => { const v = document.getElementById("video"); return v.currentTime > b + 1 && v.currentTime < b + 5 && !v.paused; }, back, 8_000, `playing on after a seek back to ${back}`);
  assert.equal(up.early() - early, 0, "no segment asked for before it was complete");
  assert.equal(await page.evaluate(() => document.getElementById("video").error), null);
  assert.deepEqual(page.problems, []);
  await page.context().close();
});
