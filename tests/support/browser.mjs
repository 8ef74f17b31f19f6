// The browser for a test file (the engine `WT_ENGINE` names, Chromium by
// default: see engines.mjs) and the page helpers, which work on all three.
import { afterEach, test as nodeTest } from "node:test";
import { CHROMIUM_ARGS, ENGINE, launch as launchEngine } from "./engines.mjs";
import { fixture } from "./stack.mjs";

export { CHROMIUM_ARGS, ENGINE };

/** The browsers this test process launched (for `test`'s one more try in WebKit). */
const launched = new Set();

/** The file's engine; `extraArgs` are Chromium flags (other engines ignore them). */
export async function launch(extraArgs = [], opts = {}) {
  const browser = await launchEngine({ args: extraArgs, ...opts });
  launched.add(browser);
  return browser;
}

/**
 * node:test's `test` (same arguments). Where WebKit runs (a WebKit file, or
 * the mixed room's), a test that fails with
 * its MiniBrowser gone (WebKitWebDriver then answers "session deleted
 * because of page crash or hang", after a first error with no message;
 * seen once in a CI run of the test command, in the live DASH test, and
 * once in a probe run of the engine file on busy cores, in the live HLS
 * one, 2026-12-06), or with its web process crashed (MiniBrowser says so
 * on stderr; a loaded run, 2026-12-06), or with its web process frozen
 * inside GStreamer (WebKitGTK's MSE deadlock, found by the web process's
 * main thread's stack: engines.mjs `whatHangs`; a loaded run, 2026-12-06),
 * closes its pages and runs once more from the start;
 * the failure, which says what MiniBrowser last wrote to stderr, is
 * printed and attached to the test's report. Any other failure fails the
 * test, and so does a second loss.
 */
export function test(name, ...rest) {
  const fn = rest.pop();
  // (Any file that launched a WebKit browser: the mixed room's too.)
  if (typeof fn !== "function") return nodeTest(name, ...rest, fn);
  return nodeTest(name, ...rest, async (t) => {
    try {
      return await fn(t);
    } catch (e) {
      if (![...launched].some((b) => b.lost?.())) throw e;
      const note = `MiniBrowser or its web process lost or frozen (${e.message.split("\n")[0]}): the test runs once more, in new pages`;
      console.log(`    ${note}`);
      t.diagnostic(note);
      await Promise.all([...launched].flatMap((b) => b.contexts()).map((c) => c.close().catch(() => {})));
      return fn(t);
    }
  });
}

/**
 * The file's engine (headless where it can be) for the whole test file.
 * The pages a test leaves open, as a failed one does, are closed after it:
 * left playing, they would starve the tests after it (three WebKit pages
 * load 2 cores).
 */
export function withBrowser(extraArgs = [], opts = {}) {
  const browser = fixture(() => launch(extraArgs, opts), (b) => b.close());
  afterEach(async () => {
    let open;
    try {
      open = browser.contexts();
    } catch {
      return; // (it never started)
    }
    await Promise.all(open.map((c) => c.close().catch(() => {})));
  });
  return browser;
}

/** A new page that records console errors and uncaught exceptions. */
export async function newPage(browser) {
  // WebKit's pages are smaller: on Xvfb, without a GPU, a 1280×800 WebKit
  // page playing a video took 0.67–0.73 of a core, a 640×400 one 0.20
  // (2026-12-05, two runs each), and three or four WebKit pages starved 2
  // cores. (Compositing mode off took 0.27 at 1280×800 but starved
  // requestVideoFrameCallback — 68 frames a minute over four pages — which
  // the player reads WebKit's position by.)
  const viewport = browser.engine === "webkit" ? { width: 640, height: 400 } : { width: 1280, height: 800 };
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  // A navigation may take longer than Playwright's 30 s on 2 busy cores
  // (a Firefox room page once did); a test's own waits still bound the rest.
  page.setDefaultNavigationTimeout?.(60_000);
  page.problems = [];
  page.on("console", (m) => { if (m.type() === "error") page.problems.push(`console: ${m.text()}`); });
  page.on("pageerror", (e) => page.problems.push(`pageerror: ${e.message}`));
  if (browser.engine !== "webkit") explainSlowNavigations(page); // (WebDriver's page has no request events)
  return page;
}

/**
 * A navigation that fails (a room page's load once took over 60 s in a CI
 * run, 2026-12-06, cause unknown) says, on the error's first line (the one
 * the test command's summary keeps), which of the page's requests were
 * still unanswered and for how long, and how far the document got.
 */
function explainSlowNavigations(page) {
  const inflight = new Map(); // request → when it was sent
  page.on("request", (r) => inflight.set(r, Date.now()));
  page.on("requestfinished", (r) => inflight.delete(r));
  page.on("requestfailed", (r) => inflight.delete(r));
  for (const verb of ["goto", "reload"]) {
    const go = page[verb].bind(page);
    page[verb] = async (...args) => {
      try {
        return await go(...args);
      } catch (e) {
        const now = Date.now();
        // Oldest first (the summary keeps a line's first 300 characters).
        const waiting = [...inflight].sort((x, y) => x[1] - y[1]).map(([r, t0]) => `${r.method()} ${new URL(r.url()).pathname.slice(0, 60)} for ${now - t0} ms`);
        // (A page too busy to load may be too busy to answer: 3 s at most.)
        let timer;
        const state = await Promise.race([
          page.evaluate(() => document.readyState).catch((err) => `unread (${err.message.split("\n")[0]})`),
          new Promise((r) => { timer = setTimeout(r, 3_000, "unread (no answer in 3 s)"); }),
        ]);
        clearTimeout(timer);
        const [first] = e.message.split("\n");
        const told = `${first} (document ${state}; unanswered: ${waiting.slice(0, 5).join(", ") || "none"}${waiting.length > 5 ? ` and ${waiting.length - 5} more` : ""})`;
        e.message = e.message.replace(first, () => told);
        if (e.stack) e.stack = e.stack.replace(first, () => told);
        throw e;
      }
    };
  }
}

/** Record the room's states as `page` hears them from now on (see `heardStates`). */
export function traceStates(page) {
  return page.evaluate(() => {
    window.__states = [];
    window.watchTogether.session.addEventListener("state", (e) => window.__states.push({ playing: e.detail.playing, position: e.detail.position, by: e.detail.by, reason: e.detail.reason, at: Date.now() }));
  });
}

/**
 * The states each of `pages` ({ name: page }) heard since `traceStates`, in
 * short: "▶10.000 by 1 +2112" is a play at 10 s by member 1, 2112 ms after
 * the first state any of them heard; "⏸10.000 buffering" the room waiting
 * for a member. (Short, for the start of a failure's message: a CI log
 * keeps only the start of a long line.)
 */
export async function heardStates(pages) {
  const heard = await Promise.all(Object.values(pages).map((p) => p.evaluate(() => window.__states ?? null).catch(() => null)));
  const t0 = Math.min(...heard.flat().filter(Boolean).map((s) => s.at));
  const one = (s) => `${s.playing ? "▶" : "⏸"}${s.position.toFixed(3)} ${s.reason ?? `by ${s.by}`} +${s.at - t0}`;
  return Object.keys(pages).map((name, i) => `${name}: ${heard[i] ? heard[i].map(one).join(", ") : "-"}`).join("; ");
}

/** The element's state with the wall-clock time it was read. */
export function readVideo(page) {
  return page.evaluate(() => {
    const v = document.getElementById("video");
    const b = v.buffered;
    const buffered = Array.from({ length: b.length }, (_, i) => `${b.start(i).toFixed(3)}-${b.end(i).toFixed(3)}`).join(",");
    const connection = document.getElementById("connection")?.dataset.state;
    return { t: v.currentTime, paused: v.paused, seeking: v.seeking, readyState: v.readyState, at: Date.now(), rate: v.playbackRate, buffered, connection };
  });
}

/**
 * Where the picture is: the last frame shown (requestVideoFrameCallback)
 * carried to now, or `currentTime` while paused or without a frame in the
 * last 150 ms. Firefox moves `currentTime` in ~41 ms steps (two Firefox
 * pages in sync read up to ~145 ms apart by it on a loaded machine); the
 * sync reads the picture there, and so do tests comparing Firefox pages.
 */
function readPicture() {
  const v = document.getElementById("video");
  if (!window.__wtPicture) window.__wtPicture = { v: null, f: null };
  const w = window.__wtPicture;
  if (w.v !== v && v.requestVideoFrameCallback) {
    w.v = v;
    w.f = null;
    const on = (_, meta) => {
      if (w.v !== v) return;
      w.f = [performance.timeOrigin + meta.expectedDisplayTime, meta.mediaTime];
      v.requestVideoFrameCallback(on);
    };
    v.requestVideoFrameCallback(on);
  }
  const at = Date.now();
  const f = w.f;
  const t = !v.paused && f && at - f[0] < 150 && at >= f[0] - 50 ? f[1] + ((at - f[0]) / 1000) * v.playbackRate : v.currentTime;
  return { t, paused: v.paused, at, rate: v.playbackRate };
}

/**
 * Media position of `page` extrapolated to wall-clock `at` (for comparing
 * two pages): the picture in Firefox and WebKit, `currentTime` in
 * Chromium (the page's own engine). (WebKitGTK's `currentTime`, with the element routed into
 * WebAudio as the room's pages are, jumps ~1 s ahead of the picture
 * about a second after each start, and both jump ~1 s at each rate
 * change: measured 2026-12-05. The player syncs the picture there.)
 */
export async function positionAt(page, at) {
  const v = engineOf(page) === "chromium" ? await readVideo(page) : await page.evaluate(readPicture);
  return v.paused ? v.t : v.t + ((at - v.at) / 1000) * v.rate;
}

/**
 * The engine `page` runs in (a mixed room's pages differ from the file's;
 * the headful tab's raw CDP page has no context: the file's engine).
 */
export const engineOf = (page) => (typeof page.context === "function" ? page.context().browser?.()?.engine : null) ?? ENGINE;

/** Positions of two pages extrapolated to one instant, and their gap (s). */
export async function gap(a, b) {
  const at = Date.now();
  const [pa, pb] = await Promise.all([positionAt(a, at), positionAt(b, at)]);
  return { pa, pb, gap: Math.abs(pa - pb) };
}

/** Poll until two pages are within `limit` s of each other; returns the ms it took. */
export async function converge(a, b, limit, timeout, what) {
  const t0 = Date.now();
  let g;
  while (Date.now() - t0 < timeout) {
    g = await gap(a, b);
    if (g.gap < limit) return Date.now() - t0;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what}: not within ${limit * 1000} ms after ${timeout} ms: ${JSON.stringify(g)}`);
}

/** The gaps (ms) between two pages sampled every 250 ms for `ms`: for "it stays in sync". */
export async function gapsFor(a, b, ms) {
  const gaps = [];
  const end = Date.now() + ms;
  while (Date.now() < end) {
    gaps.push((await gap(a, b)).gap * 1000);
    await new Promise((r) => setTimeout(r, 250));
  }
  return gaps;
}

/** Wait until `fn(arg)` holds in the page; the error says what was awaited and shows the element and any page problems. */
export async function waitFor(page, fn, arg, timeout, what) {
  try {
    await page.waitForFunction(fn, arg, { timeout, polling: 20 });
  } catch (e) {
    // (A failure other than the timeout, such as a lost WebKit session, is named too.)
    const cause = /timeout|not within/i.test(e.message) ? "" : ` [${e.message.split("\n")[0]}]`;
    const state = await readVideo(page).then(JSON.stringify, (f) => `(not read: ${f.message.split("\n")[0]})`);
    throw new Error(`${what} (within ${timeout} ms): ${state} ${page.problems.join(" | ")}${cause}`);
  }
}

/** Connected to the room with media loaded. */
export const joined = (page) => waitFor(page, () => (document.getElementById("connection")?.dataset.state ?? document.getElementById("connection")?.textContent) === "open" && document.getElementById("video").readyState >= 2, null, 15_000, "joined with media loaded");

// The player's controls (www/player-ui.js, <wt-player>): Playwright's CSS
// selectors reach into its shadow root; `evaluate` goes through `shadowRoot`.

/**
 * Press the player's Play or Pause (one toggle, labelled by what the room
 * does). A label the room has not confirmed yet (a press just before) is
 * waited for; if the room already does what is asked, nothing is pressed.
 */
async function toggleTo(page, label) {
  await page.waitForSelector("wt-player #play:not([aria-disabled])", { timeout: 15_000 });
  await page.waitForSelector(`wt-player #play[aria-label=${label}]`, { timeout: 3_000 }).catch(() => {});
  if ((await page.getAttribute("wt-player #play", "aria-label")) === label) await page.click("wt-player #play");
}

/** Press the player's Play (if the room is not playing). */
export const play = (page) => toggleTo(page, "Play");

/** Press the player's Pause (if the room is playing). */
export const pause = (page) => toggleTo(page, "Pause");

/** The quality menu's items, read by opening it ("Auto …" first, then the ladder). */
export async function qualityLabels(page) {
  await page.hover("wt-player"); // (controls shown: they hide while playing)
  await page.click("wt-player #quality");
  const labels = await page.$$eval("wt-player #quality-menu [role=menuitemradio]", (items) => items.map((i) => i.textContent));
  await page.keyboard.press("Escape");
  return labels;
}

/** Pick a quality in the player's menu: "auto" or an index of the ladder. */
export async function pickQuality(page, choice) {
  await page.hover("wt-player"); // (controls shown: they hide while playing)
  await page.click("wt-player #quality");
  const items = page.locator("wt-player #quality-menu [role=menuitemradio]");
  await items.nth(choice === "auto" ? 0 : Number(choice) + 1).click();
}

/** The id of the quality playing now, as the player shows it. */
export const playingQuality = (page) => page.evaluate(() => document.querySelector("wt-player").shadowRoot.getElementById("quality").dataset.playing ?? null);
