// Subtitles in headless Chromium, on the files xtask makes (SubRip from a
// hand-checked source, ffmpeg's WebVTT/TTML of it, Shaka Packager's DASH
// and HLS with two languages): a viewer's own files on the player alone
// (a language switch, a delay, bad files refused without disturbing
// playback); the stream's own tracks, fetched only while selected; rooms of
// three pages, each viewer its own language, the room's shared file and
// its delay; sidecars from an origin without CORS headers through the
// proxy, across a source reload. Each cue's `cuechange` is timed against the
// video's position (figures: target/bench/subtitle-timing.json).
// Screenshots: target/test-results/screens/subtitles.png, room-subtitles.png.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { joined, newPage, play, waitFor, withBrowser } from "../support/browser.mjs";
import { createRoom, root, setup, withStack } from "../support/stack.mjs";
import { withUpstream } from "../support/upstream.mjs";

const SCREENS = join(root, "target/test-results/screens");
const pages = mkdtempSync(join(tmpdir(), "wt-subs-"));
after(() => rmSync(pages, { recursive: true, force: true }));
setup(async () => {
  // DASH with sidecar text files (a WebVTT and a TTML file as the
  // Representation's BaseURL), from an origin without CORS headers.
  const subs = join(root, "target/test-media/subs");
  const mpd = readFileSync(join(subs, "dash.mpd"), "utf8");
  const sidecars = `<AdaptationSet contentType="text" lang="en" mimeType="text/vtt"><Label>English (WebVTT file)</Label><Representation id="vtt" bandwidth="256"><BaseURL>en.vtt</BaseURL></Representation></AdaptationSet>
    <AdaptationSet contentType="text" lang="en" mimeType="application/ttml+xml"><Label>English (TTML file)</Label><Representation id="ttml" bandwidth="256"><BaseURL>en.ttml</BaseURL></Representation></AdaptationSet>
  </Period>`;
  writeFileSync(join(subs, "sidecar.mpd"), mpd.replace(/<AdaptationSet id="\d+" contentType="text"[\s\S]*<\/Period>/, sidecars));
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

/**
 * How late each cue came up after its start on the element's clock, per
 * test: the figures go to `target/bench/subtitle-timing.json` (the goal,
 * 50 ms, is judged from them in BENCHMARKS.md, not here). The tests assert
 * the right cue at the right time within 250 ms: a cue a segment, a delay or
 * a timestamp map off would be late by 500 ms or more.
 */
const timings = {};
const LATE_BOUND_MS = 250;
function onTime(what, cues, label) {
  timings[what] = [...(timings[what] ?? []), ...cues.map((c) => Number(c.lateMs.toFixed(1)))];
  for (const c of cues) assert.ok(c.lateMs >= -1 && c.lateMs <= LATE_BOUND_MS, `${label(c)} came ${c.lateMs.toFixed(1)} ms after its start`);
}
after(() => {
  const all = Object.values(timings).flat().sort((a, b) => a - b);
  if (all.length === 0) return;
  const q = (p) => all[Math.min(all.length - 1, Math.floor(p * all.length))];
  const figures = { benchmark: "subtitle-timing", date: new Date().toISOString().slice(0, 10), method: "e2e/subtitles.test.mjs: element time at each cue's first cuechange minus the cue's start", cues: all.length, p50_ms: q(0.5), p90_ms: q(0.9), max_ms: all.at(-1), within_50_ms: all.filter((x) => x <= 50).length, by_test: timings };
  mkdirSync(join(root, "target/bench"), { recursive: true });
  writeFileSync(join(root, "target/bench/subtitle-timing.json"), JSON.stringify(figures, null, 2));
  console.log(`    subtitle timing: ${all.length} cues, p50 ${figures.p50_ms} ms, p90 ${figures.p90_ms} ms, max ${figures.max_ms} ms, ${figures.within_50_ms} within 50 ms`);
});

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

test("an SRT added by URL shows each cue on time, styled as written", async () => {
  const page = await player();
  const track = await page.evaluate((url) => window.player.addSubtitles(url), `${up.url}/m/subs/en.srt`);
  assert.deepEqual({ ...track, id: 0 }, { id: 0, label: "en", language: "", origin: "file", loaded: true, cues: 11, selected: true });
  await waitFor(page, () => document.getElementById("video").currentTime > 6.2, null, 15_000, "playing past 6.2 s");
  const shown = appearances(await page.evaluate(() => window.cues));
  const late = shown.map((c) => c.lateMs.toFixed(1));
  console.log(`    cue shown after its start (ms): ${late.join(", ")}`);
  assert.ok(shown.length >= 5, `at least 5 cues came up: ${JSON.stringify(shown)}`);
  onTime("an SRT by URL", shown, (c) => `cue at ${c.start} s`);
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
  onTime("a language switch", shown, (c) => c.plain);
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
  }
  onTime("a viewer's delay", delayed, (c) => c.plain);
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
    onTime(`stream tracks: ${name}`, shown, (c) => c.plain);
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
    // (The room's sync loop may seek, at the start most of all: a cue a
    // seek lands in the middle of comes up "late" by the jump. Such cues
    // are marked and left out of the timing.)
    let lastSeek = -1e9;
    video.addEventListener("seeking", () => {
      lastSeek = performance.now();
    });
    const watch = (t) =>
      t.addEventListener("cuechange", () => {
        if (t.mode !== "showing" || video.paused) return;
        const afterSeek = performance.now() - lastSeek < 1000;
        for (const c of t.activeCues) window.shownCues.push({ at: video.currentTime, start: c.startTime, text: c.text, label: t.label, afterSeek });
      });
    [...video.textTracks].forEach(watch);
    video.textTracks.addEventListener("addtrack", (e) => watch(e.track));
  });
const firstShown = async (page) => {
  const seen = new Map();
  for (const c of await page.evaluate(() => window.shownCues)) if (!seen.has(c.start)) seen.set(c.start, { ...c, lateMs: (c.at - c.start) * 1000 });
  const all = [...seen.values()];
  const seeked = all.filter((c) => c.afterSeek);
  if (seeked.length) console.log(`    (left out of the timing: ${seeked.map((c) => `${c.text.split(/[: ]/).slice(0, 2).join(" ")} +${c.lateMs.toFixed(1)} ms, shown right after a sync seek`).join(", ")})`);
  return all.filter((c) => !c.afterSeek);
};
// A language picked in the player's captions menu, by pointer.
async function pick(page, language) {
  await page.click("wt-player #captions");
  const items = page.locator("wt-player #captions-menu [role=menuitemradio]");
  const labels = await items.allTextContents();
  const i = labels.findIndex((l) => l.startsWith(language));
  assert.ok(i >= 0, `a captions item for ${language} in ${JSON.stringify(labels)}`);
  await items.nth(i).click();
}

test("a room on a stream with two subtitle languages: three viewers each see their own on time; a reload picks it again", async () => {
  const room = await createRoom(stack.url, { source: `${up.url}/m/subs/dash.mpd`, title: "subtitles" });
  const pages = [];
  for (let i = 0; i < 3; i++) {
    const page = await newPage(browser);
    await page.goto(`${stack.url}${room.url}`);
    await joined(page);
    await waitFor(page, () => [...document.querySelector("wt-player").shadowRoot.querySelectorAll("#captions-menu [role=menuitemradio]")].length === 3, null, 10_000, "two subtitle tracks offered");
    await recordCues(page);
    pages.push(page);
  }
  const langs = ["en", "fr", "en"];
  for (const [i, page] of pages.entries()) await pick(page, langs[i]);
  await play(pages[0]);
  for (const page of pages) await waitFor(page, () => document.getElementById("video").currentTime > 6.3, null, 20_000, "the room playing past 6.3 s");
  for (const [i, page] of pages.entries()) {
    const shown = await firstShown(page);
    console.log(`    page ${i} (${langs[i]}): ${shown.map((c) => `${c.text.split(/[: ]/).slice(0, 2).join(" ")} +${c.lateMs.toFixed(1)} ms`).join(", ")}`);
    assert.ok(shown.length >= 4, `page ${i} saw at least 4 cues: ${JSON.stringify(shown)}`);
    for (const c of shown) {
      assert.ok(c.text.startsWith(langs[i].toUpperCase()), `page ${i} shows its own language: ${c.text}`);
    }
    onTime("a room, two languages, three pages", shown, (c) => `page ${i}: ${c.text}`);
  }
  // The French viewer wants larger text on a solid box, then reloads:
  // French again without picking, in the same style.
  await pages[1].selectOption("#subtitles-style", { label: "Large, solid box" });
  await pages[1].reload();
  await joined(pages[1]);
  await waitFor(pages[1], () => [...document.querySelector("wt-player").shadowRoot.querySelectorAll("#captions-menu [role=menuitemradio]")].find((i) => i.getAttribute("aria-checked") === "true")?.textContent.startsWith("fr"), null, 10_000, "French picked again after a reload");
  assert.deepEqual(
    await pages[1].evaluate(() => ["--cue-size", "--cue-background"].map((p) => document.getElementById("video").style.getPropertyValue(p))),
    ["1.4em", "rgba(0,0,0,1)"],
    "the viewer's subtitle style, remembered",
  );
  mkdirSync(SCREENS, { recursive: true });
  await waitFor(pages[1], () => [...document.getElementById("video").textTracks].some((t) => t.mode === "showing" && t.activeCues?.length > 0), null, 10_000, "a French cue showing");
  await pages[1].screenshot({ path: join(SCREENS, "room-subtitles.png"), fullPage: true });
  // The host makes English the room's default: a newcomer who never picked gets it.
  await pages[0].click("#subtitles-default");
  const newcomer = await newPage(browser);
  await newcomer.goto(`${stack.url}${room.url}`);
  await joined(newcomer);
  await waitFor(newcomer, () => [...document.querySelector("wt-player").shadowRoot.querySelectorAll("#captions-menu [role=menuitemradio]")].find((i) => i.getAttribute("aria-checked") === "true")?.textContent.startsWith("en"), null, 10_000, "the room's default language picked for a newcomer");
  for (const page of [...pages, newcomer]) await page.close();
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
  for (const page of pages) await waitFor(page, () => [...document.querySelector("wt-player").shadowRoot.querySelectorAll("#captions-menu [role=menuitemradio]")].some((o) => o.textContent === "en · room"), null, 10_000, "the room's file offered");
  for (const page of pages) await pick(page, "en");
  await pages[1].fill("#subtitles-delay", "0.5");
  await pages[1].dispatchEvent("#subtitles-delay", "change");
  for (const page of pages) await waitFor(page, () => document.getElementById("subtitles-delay").value === "0.5", null, 10_000, "the room's delay heard");
  await play(pages[2]);
  for (const page of pages) await waitFor(page, () => document.getElementById("video").currentTime > 6.8, null, 20_000, "the room playing past 6.8 s");
  for (const [i, page] of pages.entries()) {
    const shown = await firstShown(page);
    console.log(`    page ${i}: ${shown.map((c) => `${c.text.split(/[: ]/).slice(0, 2).join(" ")} at ${c.start} s +${c.lateMs.toFixed(1)} ms`).join(", ")}`);
    assert.ok(shown.length >= 4, `page ${i} saw at least 4 cues: ${JSON.stringify(shown)}`);
    for (const c of shown) {
      const n = Number(c.text.split(/[: ]/)[1]);
      assert.equal(c.start, n + 0.5, `page ${i}: EN ${n} half a second late, as the room said`);
    }
    onTime("the room's file and delay, three pages", shown, (c) => `page ${i}: ${c.text}`);
  }
  // A reload: the room's file is offered again and picked again.
  await pages[2].reload();
  await joined(pages[2]);
  await waitFor(pages[2], () => [...document.querySelector("wt-player").shadowRoot.querySelectorAll("#captions-menu [role=menuitemradio]")].find((i) => i.getAttribute("aria-checked") === "true")?.textContent === "en · room", null, 10_000, "the room's file picked again after a reload");
  for (const page of pages) await page.close();
});

test("sidecar subtitle files from an origin without CORS headers play through the proxy, and survive a source reload", async () => {
  const room = await createRoom(stack.url, { source: `${up.url}/m/subs/sidecar.mpd`, title: "sidecars" });
  const [vttHits, ttmlHits] = [up.hits("/m/subs/en.vtt"), up.hits("/m/subs/en.ttml")];
  const pages = [];
  for (const label of ["English (WebVTT file)", "English (TTML file)"]) {
    const page = await newPage(browser);
    await page.goto(`${stack.url}${room.url}`);
    await joined(page);
    await waitFor(page, () => [...document.querySelector("wt-player").shadowRoot.querySelectorAll("#captions-menu [role=menuitemradio]")].length === 3, null, 10_000, "two sidecar tracks offered");
    await recordCues(page);
    await pick(page, label);
    pages.push(page);
  }
  await play(pages[0]);
  for (const page of pages) await waitFor(page, () => document.getElementById("video").currentTime > 4.3, null, 20_000, "playing past 4.3 s");
  for (const [i, page] of pages.entries()) {
    const shown = await firstShown(page);
    console.log(`    ${["WebVTT", "TTML"][i]} sidecar: ${shown.map((c) => `${c.text.split(/[: ]/).slice(0, 2).join(" ")} +${c.lateMs.toFixed(1)} ms`).join(", ")}`);
    assert.ok(shown.length >= 3, JSON.stringify(shown));
    onTime("sidecar files through the proxy", shown, (c) => c.text);
  }
  // Fetched from the origin by the proxy, once each (the page itself could not: no CORS headers).
  assert.deepEqual([up.hits("/m/subs/en.vtt") - vttHits, up.hits("/m/subs/en.ttml") - ttmlHits], [1, 1]);
  // The room loads the source again: the track is picked again, cues come again.
  await pages[0].evaluate(() => {
    window.shownCues = [];
  });
  await pages[0].fill("#source-url", `${up.url}/m/subs/sidecar.mpd`);
  await pages[0].click("#source-play");
  await waitFor(pages[0], () => document.getElementById("video").currentTime < 1, null, 10_000, "the source loaded again");
  await play(pages[0]);
  await waitFor(pages[0], () => [...document.querySelector("wt-player").shadowRoot.querySelectorAll("#captions-menu [role=menuitemradio]")].find((i) => i.getAttribute("aria-checked") === "true")?.textContent.startsWith("English"), null, 10_000, "a track picked again after the source reload");
  await waitFor(pages[0], () => window.shownCues.length > 0, null, 15_000, "cues after the source reload");
  for (const page of pages) await page.close();
});

test("a pick in the video's own captions menu (its text track set showing) is a selection: the stream track starts fetching", async () => {
  const page = await player("subs/dash.mpd");
  await waitFor(page, () => window.player.textTracks.length === 2, null, 10_000, "two text tracks listed");
  // What the native controls' menu does: one track showing.
  await page.evaluate(() => {
    const video = document.getElementById("video");
    [...video.textTracks].find((t) => t.language === "fr").mode = "showing";
  });
  await waitFor(page, () => window.player.textTracks.find((t) => t.language === "fr")?.selected === true, null, 5_000, "French selected");
  await waitFor(page, () => window.cues.some((e) => e.cues.some((c) => c.plain.startsWith("FR"))), null, 15_000, "French cues from the menu's pick");
  // And "Off" in the menu is no track.
  await page.evaluate(() => {
    for (const t of document.getElementById("video").textTracks) t.mode = "disabled";
  });
  await waitFor(page, () => window.player.textTracks.every((t) => !t.selected), null, 5_000, "none selected");
  await page.close();
});
