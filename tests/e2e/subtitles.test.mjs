// Subtitles a viewer adds to the player alone (MediaPlayer.addSubtitles),
// in headless Chromium: the files made by xtask (SubRip written from a
// hand-checked source, ffmpeg's WebVTT of it, a File built in the page),
// shown through the element's own TextTrack, each cue's `cuechange` timed
// against the video's position; a second language switched to mid-play; a
// delay; a bad file refused without disturbing playback. A screenshot goes
// to target/test-results/screens/subtitles.png.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { joined, newPage, waitFor, withBrowser } from "../support/browser.mjs";
import { createRoom, root, setup, withStack } from "../support/stack.mjs";
import { withUpstream } from "../support/upstream.mjs";

const SCREENS = join(root, "target/test-results/screens");
const pages = mkdtempSync(join(tmpdir(), "wt-subs-"));
after(() => rmSync(pages, { recursive: true, force: true }));
setup(async () => {
  // The player alone; every `cue` event recorded with the element's time
  // when it fired (the event is dispatched from the track's `cuechange`).
  writeFileSync(join(pages, "player.html"), `<!doctype html><link rel="icon" href="data:,"><body style="margin:0;background:#000"><video id="video" muted autoplay playsinline style="width:640px;height:360px"></video>
<script type="module">
import init, { MediaPlayer } from "/pkg/media/player_wasm.js";
await init();
const video = document.getElementById("video");
window.player = new MediaPlayer(video);
window.cues = [];
window.player.events.addEventListener("cue", (e) => window.cues.push({ at: video.currentTime, paused: video.paused, ...e.detail }));
window.player.events.addEventListener("error", (e) => console.error(e.detail.message));
window.ready = true;
</script>`);
});
const up = withUpstream({ "/m/": join(root, "target/test-media"), "/pkg/": join(root, "www/pkg"), "/page/": pages });
const stack = withStack();
const browser = withBrowser();

async function player(source = "shaka/live-profile.mpd") {
  const page = await newPage(browser);
  await page.goto(`${up.url}/page/player.html`);
  await waitFor(page, () => window.ready === true, null, 10_000, "player ready");
  await page.evaluate((url) => window.player.load(url), `${up.url}/m/${source}`);
  await waitFor(page, () => document.getElementById("video").readyState >= 2, null, 15_000, "media loaded");
  return page;
}

/** The first `cue` event of each cue that came up: how late it fired
 * after the cue's start on the element's clock (ms). */
const appearances = (events) => {
  const seen = new Map();
  for (const e of events) {
    for (const c of e.cues) {
      if (!seen.has(c.start) && !e.paused) seen.set(c.start, { ...c, track: e.track, lateMs: (e.at - c.start) * 1000 });
    }
  }
  return [...seen.values()];
};

test("an SRT added by URL shows each cue within 50 ms of its start, styled as written", async () => {
  const page = await player();
  const track = await page.evaluate((url) => window.player.addSubtitles(url), `${up.url}/m/subs/en.srt`);
  assert.deepEqual({ ...track, id: 0 }, { id: 0, label: "en", language: "", origin: "file", loaded: true, cues: 11, selected: true });
  await waitFor(page, () => document.getElementById("video").currentTime > 6.2, null, 15_000, "playing past 6.2 s");
  const shown = appearances(await page.evaluate(() => window.cues));
  const late = shown.map((c) => c.lateMs.toFixed(1));
  console.log(`    cue shown after its start (ms): ${late.join(", ")}`);
  assert.ok(shown.length >= 5, `at least 5 cues came up: ${JSON.stringify(shown)}`);
  for (const c of shown) assert.ok(c.lateMs >= -1 && c.lateMs <= 50, `cue at ${c.start} s came ${c.lateMs.toFixed(1)} ms after its start`);
  const two = shown.find((c) => c.start === 2);
  assert.equal(two.text, "EN 2: <i>hello</i> &amp; welcome");
  assert.equal(two.plain, "EN 2: hello & welcome");
  // The browser has the track showing, with all its cues.
  const element = await page.evaluate(() => {
    const t = [...document.getElementById("video").textTracks].find((t) => t.mode === "showing");
    return { cues: t.cues.length, label: t.label };
  });
  assert.deepEqual(element, { cues: 11, label: "en" });
  mkdirSync(SCREENS, { recursive: true });
  await page.evaluate(() => {
    const v = document.getElementById("video");
    v.pause();
    v.currentTime = 5.3;
  });
  await waitFor(page, () => document.getElementById("video").seeking === false && window.cues.at(-1)?.cues[0]?.start === 5, null, 5_000, "cue 5 showing after a seek");
  await page.screenshot({ path: join(SCREENS, "subtitles.png") });
  await page.close();
});

test("switching language mid-play, then a delay, each cue on time", async () => {
  const page = await player();
  const en = await page.evaluate((url) => window.player.addSubtitles(url, { language: "en", label: "English" }), `${up.url}/m/subs/en.vtt`);
  const fr = await page.evaluate((url) => window.player.addSubtitles(url, { language: "fr", label: "Français" }), `${up.url}/m/subs/fr.vtt`);
  await page.evaluate((id) => window.player.setTextTrack(id), en.id);
  await waitFor(page, () => document.getElementById("video").currentTime > 3.2, null, 15_000, "playing past 3.2 s");
  await page.evaluate((id) => window.player.setTextTrack(id), fr.id);
  await waitFor(page, () => document.getElementById("video").currentTime > 6.2, null, 15_000, "playing past 6.2 s");
  const tracks = await page.evaluate(() => window.player.textTracks);
  assert.deepEqual(tracks.map((t) => [t.label, t.language, t.selected]), [["English", "en", false], ["Français", "fr", true]]);
  const shown = appearances(await page.evaluate(() => window.cues));
  console.log(`    ${shown.map((c) => `${c.plain.split(":")[0]} +${c.lateMs.toFixed(1)} ms`).join(", ")}`);
  const byStart = Object.fromEntries(shown.map((c) => [c.start, c.plain.slice(0, 2)]));
  assert.equal(byStart[1], "EN");
  assert.equal(byStart[2], "EN");
  assert.equal(byStart[5], "FR");
  assert.equal(byStart[6], "FR");
  for (const c of shown) assert.ok(c.lateMs >= -1 && c.lateMs <= 50, `${c.plain} came ${c.lateMs.toFixed(1)} ms after its start`);
  // Half a second later for everything.
  await page.evaluate(() => {
    window.player.setTextDelay(0.5);
    window.cues = [];
  });
  await waitFor(page, () => document.getElementById("video").currentTime > 9.7, null, 15_000, "playing past 9.7 s");
  const delayed = appearances(await page.evaluate(() => window.cues)).filter((c) => c.start > 7);
  console.log(`    with a 0.5 s delay: ${delayed.map((c) => `${c.plain} at ${c.start} s +${c.lateMs.toFixed(1)} ms`).join(", ")}`);
  assert.ok(delayed.length >= 2, JSON.stringify(delayed));
  for (const c of delayed) {
    const n = Number(c.plain.split(" ")[1]);
    assert.equal(c.start, n + 0.5, `${c.plain} starts half a second after its own time`);
    assert.ok(c.lateMs >= -1 && c.lateMs <= 50, `${c.plain} came ${c.lateMs.toFixed(1)} ms after its delayed start`);
  }
  await page.close();
});

test("a File from the page names its track; a bad file is refused and playback goes on", async () => {
  const page = await player();
  const named = await page.evaluate(async () => {
    const file = new File(["1\n00:00:00,500 --> 00:00:01,500\nBonjour\n"], "film.fr.srt");
    return window.player.addSubtitles(file);
  });
  assert.deepEqual([named.label, named.language, named.cues], ["film", "fr", 1]);
  const refused = await page.evaluate(async (url) => {
    const out = [];
    for (const source of [new Blob(["this is not a subtitle file"]), url, new Blob([new Uint8Array(5 * 1024 * 1024)])]) {
      try {
        await window.player.addSubtitles(source);
        out.push("accepted");
      } catch (e) {
        out.push(String(e.message ?? e));
      }
    }
    return out;
  }, `${up.url}/m/subs/missing.srt`);
  console.log(`    refused: ${refused.join(" | ")}`);
  assert.match(refused[0], /not a subtitle format/);
  assert.match(refused[1], /HTTP 404/);
  assert.match(refused[2], /too large/);
  const t0 = await page.evaluate(() => document.getElementById("video").currentTime);
  await waitFor(page, (t) => document.getElementById("video").currentTime > t + 1, t0, 8_000, "still playing after the refusals");
  assert.equal((await page.evaluate(() => window.player.textTracks)).length, 1);
  await page.close();
});

const textHits = (lang) =>
  [1, 2, 3, 4, 5, 6].reduce((n, i) => n + up.hits(`/m/subs/text-${lang}/${i}.m4s`) + up.hits(`/m/subs/hls-${lang}/${i}.vtt`), 0) + up.hits(`/m/subs/text-${lang}/init.mp4`) + up.hits(`/m/subs/${lang}.m3u8`);

for (const [name, source, labels] of [
  ["DASH text AdaptationSets (fMP4 wvtt)", "subs/dash.mpd", ["en", "fr"]],
  ["an HLS SUBTITLES group (WebVTT segments)", "subs/hls.m3u8", ["English", "Français"]],
]) {
  test(`the stream's own text tracks, ${name}: listed, fetched only while selected, each language on time`, async () => {
    const [en0, fr0] = [textHits("en"), textHits("fr")];
    const page = await player(source);
    await waitFor(page, () => window.player.textTracks.length === 2, null, 10_000, "two text tracks listed");
    const tracks = await page.evaluate(() => window.player.textTracks);
    assert.deepEqual(tracks.map((t) => [t.label, t.language, t.origin, t.selected]), [[labels[0], "en", "stream", false], [labels[1], "fr", "stream", false]]);
    await page.evaluate(() => new Promise((r) => setTimeout(r, 600)));
    assert.deepEqual([textHits("en") - en0, textHits("fr") - fr0], [0, 0], "nothing fetched before a track is selected");
    await page.evaluate((id) => window.player.setTextTrack(id), tracks[0].id);
    await waitFor(page, () => document.getElementById("video").currentTime > 3.3, null, 15_000, "playing past 3.3 s");
    await page.evaluate((id) => window.player.setTextTrack(id), tracks[1].id);
    await waitFor(page, () => document.getElementById("video").currentTime > 7.3, null, 15_000, "playing past 7.3 s");
    const enAfterSwitch = textHits("en");
    await page.evaluate(() => new Promise((r) => setTimeout(r, 700)));
    const shown = appearances(await page.evaluate(() => window.cues));
    console.log(`    ${shown.map((c) => `${c.plain.split(":")[0]} +${c.lateMs.toFixed(1)} ms`).join(", ")}; fetched en ${textHits("en") - en0}, fr ${textHits("fr") - fr0}`);
    const byStart = Object.fromEntries(shown.map((c) => [c.start, c.plain]));
    // (A cue at the switch may come in either language.)
    assert.equal(byStart[1], "EN 1");
    assert.equal(byStart[2], "EN 2: hello & welcome");
    for (const n of [5, 6, 7]) assert.match(byStart[n] ?? "", new RegExp(`^FR ${n}`), `FR ${n} after the switch: ${JSON.stringify(byStart)}`);
    for (const c of shown) assert.ok(c.lateMs >= -1 && c.lateMs <= 50, `${c.plain} came ${c.lateMs.toFixed(1)} ms after its start`);
    assert.equal(textHits("en"), enAfterSwitch, "the track left is fetched no more");
    await page.close();
  });
}

/** Records every `cuechange` of the element's showing text tracks, with
 * the element's time when it fired (the browser's own event). */
const recordCues = (page) =>
  page.evaluate(() => {
    const video = document.getElementById("video");
    window.shownCues = [];
    const watch = (t) =>
      t.addEventListener("cuechange", () => {
        if (t.mode !== "showing" || video.paused) return;
        for (const c of t.activeCues) window.shownCues.push({ at: video.currentTime, start: c.startTime, text: c.text, label: t.label });
      });
    [...video.textTracks].forEach(watch);
    video.textTracks.addEventListener("addtrack", (e) => watch(e.track));
  });
const firstShown = async (page) => {
  const seen = new Map();
  for (const c of await page.evaluate(() => window.shownCues)) if (!seen.has(c.start)) seen.set(c.start, { ...c, lateMs: (c.at - c.start) * 1000 });
  return [...seen.values()];
};
const pick = (page, language) =>
  page.evaluate((lang) => {
    const select = document.getElementById("subtitles");
    const option = [...select.options].find((o) => o.text.startsWith(lang));
    select.value = option.value;
    select.dispatchEvent(new Event("change"));
  }, language);

test("a room on a stream with two subtitle languages: three viewers each see their own on time; a reload picks it again", async () => {
  const room = await createRoom(stack.url, { source: `${up.url}/m/subs/dash.mpd`, title: "subtitles" });
  const pages = [];
  for (let i = 0; i < 3; i++) {
    const page = await newPage(browser);
    await page.goto(`${stack.url}${room.url}`);
    await joined(page);
    await waitFor(page, () => document.getElementById("subtitles").options.length === 3, null, 10_000, "two subtitle tracks offered");
    await recordCues(page);
    pages.push(page);
  }
  const langs = ["en", "fr", "en"];
  for (const [i, page] of pages.entries()) await pick(page, langs[i]);
  await pages[0].click("#play");
  for (const page of pages) await waitFor(page, () => document.getElementById("video").currentTime > 6.3, null, 20_000, "the room playing past 6.3 s");
  for (const [i, page] of pages.entries()) {
    const shown = await firstShown(page);
    console.log(`    page ${i} (${langs[i]}): ${shown.map((c) => `${c.text.split(/[: ]/).slice(0, 2).join(" ")} +${c.lateMs.toFixed(1)} ms`).join(", ")}`);
    assert.ok(shown.length >= 4, `page ${i} saw at least 4 cues: ${JSON.stringify(shown)}`);
    for (const c of shown) {
      assert.ok(c.text.startsWith(langs[i].toUpperCase()), `page ${i} shows its own language: ${c.text}`);
      assert.ok(c.lateMs >= -1 && c.lateMs <= 50, `page ${i}: ${c.text} came ${c.lateMs.toFixed(1)} ms after its start`);
    }
  }
  // The French viewer reloads: French again, without picking.
  await pages[1].reload();
  await joined(pages[1]);
  await waitFor(pages[1], () => document.getElementById("subtitles").selectedOptions[0]?.text.startsWith("fr"), null, 10_000, "French picked again after a reload");
  mkdirSync(SCREENS, { recursive: true });
  await waitFor(pages[1], () => [...document.getElementById("video").textTracks].some((t) => t.mode === "showing" && t.activeCues?.length > 0), null, 10_000, "a French cue showing");
  await pages[1].screenshot({ path: join(SCREENS, "room-subtitles.png"), fullPage: true });
  for (const page of pages) await page.close();
});

test("an SRT shared with the room: every viewer gets it, the room's delay moves it for everyone, each cue on time", async () => {
  const room = await createRoom(stack.url, { source: `${up.url}/m/shaka/live-profile.mpd`, title: "room subtitles" });
  const pages = [];
  for (let i = 0; i < 3; i++) {
    const page = await newPage(browser);
    await page.goto(`${stack.url}${room.url}`);
    await joined(page);
    await recordCues(page);
    pages.push(page);
  }
  await pages[0].setInputFiles("#subtitles-share", join(root, "target/test-media/subs/en.srt"));
  for (const page of pages) await waitFor(page, () => [...document.getElementById("subtitles").options].some((o) => o.text === "en · room"), null, 10_000, "the room's file offered");
  for (const page of pages) await pick(page, "en");
  await pages[1].fill("#subtitles-delay", "0.5");
  await pages[1].dispatchEvent("#subtitles-delay", "change");
  for (const page of pages) await waitFor(page, () => document.getElementById("subtitles-delay").value === "0.5", null, 10_000, "the room's delay heard");
  await pages[2].click("#play");
  for (const page of pages) await waitFor(page, () => document.getElementById("video").currentTime > 6.8, null, 20_000, "the room playing past 6.8 s");
  for (const [i, page] of pages.entries()) {
    const shown = await firstShown(page);
    console.log(`    page ${i}: ${shown.map((c) => `${c.text.split(/[: ]/).slice(0, 2).join(" ")} at ${c.start} s +${c.lateMs.toFixed(1)} ms`).join(", ")}`);
    assert.ok(shown.length >= 4, `page ${i} saw at least 4 cues: ${JSON.stringify(shown)}`);
    for (const c of shown) {
      const n = Number(c.text.split(/[: ]/)[1]);
      assert.equal(c.start, n + 0.5, `page ${i}: EN ${n} half a second late, as the room said`);
      assert.ok(c.lateMs >= -1 && c.lateMs <= 50, `page ${i}: EN ${n} came ${c.lateMs.toFixed(1)} ms after its start`);
    }
  }
  // A reload: the room's file is offered again and picked again.
  await pages[2].reload();
  await joined(pages[2]);
  await waitFor(pages[2], () => document.getElementById("subtitles").selectedOptions[0]?.text === "en · room", null, 10_000, "the room's file picked again after a reload");
  for (const page of pages) await page.close();
});
