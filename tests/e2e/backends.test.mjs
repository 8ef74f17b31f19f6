// The player backends in real headless Chromium against the real worker:
// YouTube and Vimeo through stand-ins of their player APIs (served by a
// test origin: these machines cannot reach youtube.com or vimeo.com; see
// tests/support/standins.mjs for what they reproduce), and local files each
// page opens from disk. Positions are read from each embed's own <video>
// inside its cross-origin frame.
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { converge, newPage, play, waitFor, withBrowser } from "../support/browser.mjs";
import { createRoom, root, sleep, until, withStack } from "../support/stack.mjs";

// Screenshots of the pages (checked by eye) go with the app test's.
const SCREENS = join(root, "target/test-results/screens");
const shot = (page, file) => {
  mkdirSync(SCREENS, { recursive: true });
  return page.screenshot({ path: join(SCREENS, file), fullPage: true });
};
import { withStandins } from "../support/standins.mjs";

const media = join(root, "target/test-media/clip");
const stack = withStack();
const browser = withBrowser();
const standins = withStandins({ media });

/** A room page with the stand-in APIs configured (and `extra` set, and `init` run, before any script runs). */
async function openRoom(url, extra = {}, init = null) {
  const page = await newPage(browser);
  // What the page sends, from its first request: HTTP bodies and WebSocket frames.
  page.sent = [];
  page.on("request", (r) => { const body = r.postDataBuffer(); if (body) page.sent.push(body); });
  page.on("websocket", (ws) => ws.on("framesent", (f) => page.sent.push(Buffer.from(f.payload))));
  const config = { youtubeApi: `${standins.url}/youtube/iframe_api`, vimeoApi: `${standins.url}/vimeo/api/player.js` };
  await page.addInitScript(([c, e]) => {
    window.WATCH_TOGETHER_CONFIG = c;
    Object.assign(window, e);
  }, [config, extra]);
  if (init) await page.addInitScript(init);
  await page.goto(url);
  await waitFor(page, () => document.getElementById("connection")?.dataset.state === "open", null, 15_000, "connected");
  return page;
}

/** The embed's <video> in its frame: {t, paused, rate, at}. */
async function embedVideo(page) {
  for (const frame of page.frames()) {
    if (frame === page.mainFrame()) continue;
    const v = await frame.evaluate(() => {
      const el = document.querySelector("video");
      return el && { t: el.currentTime, paused: el.paused, rate: el.playbackRate, at: Date.now() };
    }).catch(() => null);
    if (v) return v;
  }
  return null;
}

/** Gap (s) between two pages' embeds at one wall-clock instant. */
async function embedGap(a, b) {
  const [x, y] = await Promise.all([embedVideo(a), embedVideo(b)]);
  if (!x || !y) return Infinity;
  const at = Math.max(x.at, y.at);
  const pos = (v) => (v.paused ? v.t : v.t + ((at - v.at) / 1000) * v.rate);
  return Math.abs(pos(x) - pos(y));
}

/** Wait until every page's embed is within `limit` s of the first's; the error shows the last gaps and each page's sync figures. */
async function embedsConverge(pages, limit, timeout, what) {
  const started = Date.now();
  let gaps = [];
  try {
    await until(async () => {
      gaps = await Promise.all(pages.slice(1).map((p) => embedGap(pages[0], p)));
      return gaps.every((g) => g < limit);
    }, { timeout, every: 200, what });
  } catch (e) {
    const stats = await Promise.all(pages.map((p) => p.evaluate(() => window.watchTogether.session.stats).catch(() => null)));
    throw new Error(`${e.message}; gaps ${gaps.map((g) => Math.round(g * 1000))} ms; stats ${JSON.stringify(stats)}`);
  }
  return Date.now() - started;
}

/** Until the page's embedded video is within `within` s of `t`; the error shows where it is and the room's view. */
const near = (page, t, within, what) =>
  until(async () => Math.abs(((await embedVideo(page))?.t ?? Number.NaN) - t) < within, { timeout: 10_000, what }).catch(async (e) => {
    const st = await page.evaluate(() => ({ stats: window.watchTogether.session.stats, playhead: window.watchTogether.session.playhead })).catch(() => null);
    throw new Error(`${e.message}: ${JSON.stringify(await embedVideo(page))} ${JSON.stringify(st)} ${page.problems.join(" | ")}`);
  });

const playing = (page) =>
  until(async () => (await embedVideo(page))?.paused === false, { timeout: 15_000, what: "embed playing" }).catch(async (e) => {
    const st = await page.evaluate(() => ({ stats: window.watchTogether.session.stats, members: window.watchTogether.session.members })).catch(() => null);
    throw new Error(`${e.message}: ${JSON.stringify(await embedVideo(page))} ${JSON.stringify(st)} ${page.problems.join(" | ")}`);
  });

test("YouTube (stand-in): three pages play, pause, seek, change rate; a late joiner converges; an ad on one member holds the room", async () => {
  const room = await createRoom(stack.url, { source: "https://www.youtube.com/watch?v=abcdefghijk" });
  const url = `${stack.url}${room.url}`;
  const a = await openRoom(url);
  const b = await openRoom(url);
  // C's player shows an ad 6 s into the video.
  const c = await openRoom(url, { YT_STANDIN: { adAt: 6, adSeconds: 4 } });
  for (const p of [a, b, c]) await waitFor(p, () => document.getElementById("room").dataset.kind === "youtube", null, 10_000, "a YouTube source");
  await play(a);
  for (const p of [a, b, c]) await playing(p);
  // The ad: C freezes at 6 s for 4 s; the room waits for it, then all go on together.
  // C's embed reaches the ad and freezes there; the room sees C buffering and holds the others.
  await until(async () => { const v = await embedVideo(c); return v.paused && v.t > 5.9 && v.t < 6.5; }, { timeout: 20_000, what: "C in its ad" });
  await waitFor(a, () => window.watchTogether.session.members.some((m) => m.status === "buffering"), null, 5_000, "A sees C buffering");
  const held = await until(async () => (await embedVideo(a)).paused, { timeout: 5_000, what: "A held while C is in its ad" }).then(() => true);
  const heldAt = (await embedVideo(a)).t;
  assert.ok(heldAt < 7.5, `A held near C's position, not run on (${heldAt.toFixed(2)} s)`);
  const took = await embedsConverge([a, b, c], 0.15, 30_000, "together after C's ad");
  console.log(`    ad on C: A held (${held}) at ${heldAt.toFixed(2)} s; all within 150 ms ${took} ms after`);
  await sleep(3_000); // the members that were held start again: let their corrections finish
  const gaps = [];
  for (let i = 0; i < 20; i++) {
    gaps.push(Math.max(await embedGap(a, b), await embedGap(a, c)) * 1000);
    await sleep(250);
  }
  gaps.sort((x, y) => x - y);
  console.log(`    steady: gap p50 ${gaps[10].toFixed(0)} ms, max ${gaps[19].toFixed(0)} ms`);
  // Peers report about a second of desync on YouTube: the median stays well
  // below that even on a busy machine (whose timers delay the embeds'
  // messages); the precision is measured by `bench sync` (profile Y).
  assert.ok(gaps[10] < 250, `gaps ${gaps.map(Math.round)}`);

  // Pause: everyone stops, within 150 ms of each other.
  await b.evaluate(() => window.watchTogether.session.pause());
  for (const p of [a, b, c]) await until(async () => (await embedVideo(p)).paused, { timeout: 10_000, what: "paused" });
  await embedsConverge([a, b, c], 0.15, 30_000, "paused together");

  // Seek while paused, then play: all at 30 s and on.
  await c.evaluate(() => window.watchTogether.session.seek(30));
  for (const p of [a, b, c]) await near(p, 30, 0.2, "at 30 s");
  await a.evaluate(() => window.watchTogether.session.play());
  for (const p of [a, b, c]) await playing(p);
  await embedsConverge([a, b, c], 0.15, 30_000, "together after the seek");

  // Rate: the room at 1.5×, a rate on YouTube's list, played by every embed.
  await a.evaluate(() => window.watchTogether.session.setRate(1.5));
  for (const p of [a, b, c]) await until(async () => (await embedVideo(p)).rate === 1.5, { timeout: 10_000, what: "1.5×" });
  await embedsConverge([a, b, c], 0.15, 30_000, "together at 1.5×");

  // A late joiner.
  const d = await openRoom(url);
  await playing(d);
  const late = await embedsConverge([a, d], 0.15, 30_000, "late joiner D");
  console.log(`    late joiner within 150 ms after ${late} ms`);
  await shot(d, "room-youtube.png");
  for (const p of [a, b, c, d]) assert.deepEqual(p.problems, []);
  for (const p of [a, b, c, d]) await p.context().close();
});

test("YouTube (stand-in): while the room waits for a member's ad, Play/Pause says Pause, on a page joining then too; a press pauses the room, which stays paused when the ad ends", async () => {
  const room = await createRoom(stack.url, { source: "https://www.youtube.com/watch?v=abcdefghijk" });
  const url = `${stack.url}${room.url}`;
  const a = await openRoom(url);
  // C's player shows an ad 3 s into the video (the room waits for it 10 s at most).
  const c = await openRoom(url, { YT_STANDIN: { adAt: 3, adSeconds: 10 } });
  for (const p of [a, c]) await waitFor(p, () => document.getElementById("room").dataset.kind === "youtube", null, 10_000, "a YouTube source");
  await a.evaluate(() => {
    window.__states = [];
    window.watchTogether.session.addEventListener("state", (e) => window.__states.push({ playing: e.detail.playing, reason: e.detail.reason, by: e.detail.by }));
  });
  await play(a);
  for (const p of [a, c]) await playing(p);
  // The room waits for C: A hears the wait, and its button still says Pause.
  await waitFor(a, () => window.__states.at(-1)?.reason === "buffering", null, 15_000, "A hears the room wait for C's ad");
  const label = (p = a) => p.getAttribute("wt-player #play", "aria-label");
  assert.equal(await label(), "Pause", "waiting for a member, the room still means to play");
  // B joins during the wait: the room's welcome tells it the room waits.
  // Each state B hears is recorded with its button's label once the page
  // has taken it in.
  const b = await openRoom(url, {}, () => {
    window.__heard = [];
    const dispatch = EventTarget.prototype.dispatchEvent;
    EventTarget.prototype.dispatchEvent = function (e) {
      const r = dispatch.call(this, e);
      if (e.type === "state" && e.detail) {
        const button = document.querySelector("wt-player")?.shadowRoot?.getElementById("play");
        window.__heard.push({ playing: e.detail.playing, reason: e.detail.reason, label: button?.getAttribute("aria-label") ?? null });
      }
      return r;
    };
  });
  await waitFor(b, () => window.__heard.length > 0, null, 10_000, "B's first state");
  const first = await b.evaluate(() => window.__heard[0]);
  assert.ok(first.playing || first.reason !== null, `B heard a plain pause: ${JSON.stringify(first)}`);
  assert.ok(!first.playing, `B joined after the wait had ended (it lasts 10 s at most): ${JSON.stringify(first)}`);
  assert.deepEqual(first, { playing: false, reason: "buffering", label: "Pause" }, "a page joining during the wait hears it, and says Pause too");
  await b.context().close();
  assert.equal((await a.evaluate(() => window.__states.at(-1))).reason, "buffering", "(the wait still on when A presses)");
  await a.hover("wt-player");
  await a.click("wt-player #play");
  await waitFor(a, () => { const s = window.__states.at(-1); return !s.playing && s.reason === null && s.by !== null; }, null, 10_000, "the room paused by A's press");
  // C's ad ends: the room stays paused, and says Play.
  await waitFor(a, () => { const ms = window.watchTogether.session.members.filter((m) => m.status !== "away"); return ms.length === 2 && ms.every((m) => m.status !== "buffering"); }, null, 15_000, "C's ad over");
  await sleep(2_000);
  const heard = await a.evaluate(() => window.__states);
  assert.ok(!heard.at(-1).playing, `the room stays paused after the wait: ${JSON.stringify(heard)}`);
  for (const p of [a, c]) assert.equal((await embedVideo(p)).paused, true, "both embeds paused");
  assert.equal(await label(), "Play");
  for (const p of [a, c]) assert.deepEqual(p.problems, []);
  for (const p of [a, c]) await p.context().close();
});

test("YouTube (stand-in): a video whose owner refuses embedding says so on every page", async () => {
  const room = await createRoom(stack.url);
  const url = `${stack.url}${room.url}`;
  const a = await openRoom(url);
  const b = await openRoom(url);
  await a.fill("#source-url", "https://youtu.be/noEmbed0150");
  await shot(a, "room-paste-youtube.png");
  assert.match(await a.textContent("#source-kind"), /YouTube/);
  await a.click("#source-play");
  for (const p of [a, b]) await waitFor(p, () => /does not allow it to be played on other sites/.test(document.getElementById("notice").textContent), null, 15_000, "the refusal shown");
  await shot(b, "room-youtube-refused.png");
  for (const p of [a, b]) await p.context().close();
});

test("Vimeo (stand-in): two pages play, seek and pause together", async () => {
  const room = await createRoom(stack.url, { source: "https://vimeo.com/76979871" });
  const url = `${stack.url}${room.url}`;
  const a = await openRoom(url);
  const b = await openRoom(url);
  for (const p of [a, b]) await waitFor(p, () => document.getElementById("room").dataset.kind === "vimeo", null, 10_000, "a Vimeo source");
  await play(a);
  for (const p of [a, b]) await playing(p);
  const took = await embedsConverge([a, b], 0.15, 30_000, "Vimeo pages together");
  console.log(`    Vimeo: within 150 ms after ${took} ms`);
  await b.evaluate(() => window.watchTogether.session.seek(20));
  for (const p of [a, b]) await near(p, 20, 2, "near 20 s");
  await embedsConverge([a, b], 0.15, 30_000, "together after the seek");
  await a.evaluate(() => window.watchTogether.session.pause());
  for (const p of [a, b]) await until(async () => (await embedVideo(p)).paused, { timeout: 10_000, what: "paused" });
  for (const p of [a, b]) assert.deepEqual(p.problems, []);
  for (const p of [a, b]) await p.context().close();
});

test("local files: two pages open the same file and play in sync, a third is warned; no request carries the file", async () => {
  const clip = join(media, "clip.mp4");
  const head = readFileSync(clip).subarray(0, 4096);
  const room = await createRoom(stack.url);
  const url = `${stack.url}${room.url}`;
  const pages = [await openRoom(url), await openRoom(url), await openRoom(url)];
  const [a, b, c] = pages;
  await a.setInputFiles("#source-file", clip);
  for (const p of [b, c]) await waitFor(p, () => !document.getElementById("local").hidden, null, 15_000, "asked to open their copy");
  assert.match(await b.textContent("#local-text"), /clip\.mp4/);
  await b.setInputFiles("#local-open", clip);
  await waitFor(b, () => document.getElementById("local-verdict").dataset.match === "same", null, 15_000, "B: the same file");
  await c.setInputFiles("#local-open", join(media, "other.mp4"));
  await waitFor(c, () => document.getElementById("local-verdict").dataset.match === "different", null, 15_000, "C: warned");
  assert.match(await c.textContent("#local-verdict"), /not the file the room plays/);
  await shot(c, "room-local-warned.png");
  await play(a);
  const took = await converge(a, b, 0.05, 15_000, "A and B on their own copies");
  const sent = pages.flatMap((p) => p.sent);
  const biggest = Math.max(...sent.map((m) => m.length));
  const carried = sent.some((m) => m.includes(head.subarray(0, 64)));
  console.log(`    local file: A and B within 50 ms after ${took} ms; largest message any page sent: ${biggest} bytes (the file is ${statSync(clip).size})`);
  assert.ok(!carried, "no request body holds the file's bytes");
  assert.ok(biggest < 4096, `every message is small (largest ${biggest} bytes)`);
  for (const p of pages) assert.deepEqual(p.problems, []);
  for (const p of pages) await p.context().close();
});

