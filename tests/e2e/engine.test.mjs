// The DASH engine in headless Chromium on ffmpeg-made assets (made by
// `cargo xtask test` into target/test-media/), served by a real local
// origin through the media proxy: SegmentTemplate + SegmentTimeline with a
// 3-rung ladder, VP9/Opus WebM, SegmentList with mediaRange, the same
// one-file MP4s addressed through SegmentBase indexRange (their sidx), and
// HLS fMP4 (audio muxed, and as a separate rendition).
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { joined, launch, newPage, waitFor } from "../support/browser.mjs";
import { createRoom, root, startStack } from "../support/stack.mjs";
import { startUpstream } from "../support/upstream.mjs";

const media = join(root, "target/test-media");
let stack, browser, up;

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

before(async () => {
  sidxVariant();
  twoPeriods();
  up = await startUpstream({ "/m/": media });
  stack = await startStack();
  browser = await launch();
});
after(async () => {
  await browser?.close();
  await stack?.stop();
  await up?.close();
});


async function open(source) {
  const room = await createRoom(stack.url, { source: `${up.url}/m/${source}`, title: source });
  const page = await newPage(browser);
  await page.goto(`${stack.url}${room.url}`);
  await joined(page);
  return page;
}

/** Plays, decodes audio, seeks to 7 s and plays on from there. */
async function playAndSeek(page) {
  await page.click("#play");
  await waitFor(page, () => document.getElementById("video").currentTime > 2, null, 10_000, "playing past 2 s");
  const audio = await page.evaluate(() => document.getElementById("video").webkitAudioDecodedByteCount);
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
]) {
  test(`${name}: plays, decodes audio, seeks`, async () => {
    const page = await open(source);
    await playAndSeek(page);
    assert.deepEqual(page.problems, []);
    await page.context().close();
  });
}

test("two periods: playback crosses the boundary with no gap", async () => {
  const page = await open("ladder/two-periods.mpd");
  await page.click("#play");
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
  await playAndSeek(page);
  const labels = await page.$$eval("#quality option", (os) => os.map((o) => o.textContent));
  assert.deepEqual(labels, ["Auto", "144p", "240p", "360p"]);
  for (const [value, id] of [["0", "0"], ["2", "2"]]) {
    await page.selectOption("#quality", value);
    await waitFor(page, (want) => document.getElementById("quality").dataset.playing === want, id, 6_000, `fetching quality ${id}`);
    const t = await page.evaluate(() => document.getElementById("video").currentTime);
    await waitFor(page, (t0) => document.getElementById("video").currentTime > t0 + 2.5, t, 8_000, "playing on after the switch");
  }
  // One continuous buffered range around the playhead, for audio and video together.
  const ranges = await page.evaluate(() => {
    const v = document.getElementById("video");
    const b = v.buffered;
    return { t: v.currentTime, ranges: Array.from({ length: b.length }, (_, i) => [b.start(i), b.end(i)]) };
  });
  const holding = ranges.ranges.filter(([s, e]) => s <= ranges.t && ranges.t < e);
  assert.equal(holding.length, 1, JSON.stringify(ranges));
  assert.ok(holding[0][0] <= 7.1, `continuous since the seek: ${JSON.stringify(ranges)}`);
  assert.equal(await page.evaluate(() => document.getElementById("video").error), null, "no decode error");
  assert.deepEqual(page.problems, []);
});
