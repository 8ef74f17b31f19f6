// engines: chromium firefox webkit
// The player's controls (<wt-player>, www/player-ui.js) in headless Chromium,
// Firefox and WebKit against the real worker, at desktop (1280×800) and phone (390×844, touch)
// sizes: every control by pointer, keyboard and touch; the room page's
// shortcuts, and none of them while typing in the chat; fullscreen of the
// whole layout with the chat usable in it; the volume remembered after a
// reload; a viewer's disabled controls saying why; tap and double tap on a
// phone; axe-core (wcag2a + wcag2aa) with no serious or critical violation,
// every control named, reachable by Tab and drawn with a focus ring; and the
// embed with the same controls. Screenshots go to
// target/test-results/screens/ui-*.png (checked by eye; Firefox's are
// ui-*.firefox.png, WebKit's ui-*.webkit.png). In Firefox, the
// touch parts are not run: Playwright's BiDi driver sends nothing for a tap
// (its touchscreen is empty, and `hasTouch` is not emulated), so the phone
// test is skipped and the phone-size page is clicked; so in WebKit, whose
// WebDriver adapter drives no touch.
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { ENGINE, withBrowser } from "../support/browser.mjs";
import { createRoom, root, setup, sleep, withStack } from "../support/stack.mjs";
import { withSite, withUpstream } from "../support/upstream.mjs";

const SCREENS = join(root, "target/test-results/screens");
setup(() => mkdirSync(SCREENS, { recursive: true }));
const stack = withStack();
const browser = withBrowser();
const up = withUpstream({ "/m/": join(root, "target/test-media") });
const site = withSite();

const DESKTOP = { viewport: { width: 1280, height: 800 } };
const PHONE = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 };
const DEMO = "/media/demo/manifest.mpd"; // 60 s, one rung, served by the worker
const LADDER = () => `${up.url}/m/ladder/manifest.mpd`; // 20 s, 144p/240p/360p, through the media proxy
const SRT = readFileSync(join(root, "target/test-media/subs/en.srt"), "utf8");
const AXE = join(root, "node_modules/axe-core/axe.min.js");
const RATES = ["0.5×", "0.75×", "Normal", "1.25×", "1.5×", "1.75×", "2×"];

// ---- pages ----

/**
 * A page of its own (its own context: storage, viewport, touch) on the
 * room `id`; `hostToken` makes it the room's host, `name` is its member name.
 * Records console errors and uncaught exceptions in `page.problems`.
 */
async function openRoom(id, { size = DESKTOP, hostToken, name } = {}) {
  const context = await browser.newContext(size);
  const page = await context.newPage();
  page.problems = [];
  page.on("console", (m) => { if (m.type() === "error") page.problems.push(`console: ${m.text()}`); });
  page.on("pageerror", (e) => page.problems.push(`pageerror: ${e.message}`));
  await page.addInitScript(([id, token, who]) => {
    // (Firefox's driver runs this in the context's first document too, whose
    // storage it refuses: "The operation is insecure". The room page's is kept.)
    try {
      if (token) localStorage.setItem(`wt-host:${id}`, token);
      if (who) localStorage.setItem("wt-name", who);
    } catch {}
  }, [id, hostToken ?? null, name ?? null]);
  await page.goto(`${stack.url}/r/${id}`);
  await joined(page);
  return page;
}

/** Connected, the media loaded and the player attached to the session. */
const joined = (page) => until(page, () => document.getElementById("connection")?.dataset.state === "open" && document.getElementById("video").readyState >= 2 && document.getElementById("player")?.shadowRoot?.querySelector(".sync")?.textContent !== "Not in a room", null, "joined with media loaded", 20_000);

/** What the player shows and the element does, for failure messages (room page or embed). */
const snapshot = (page) => page.evaluate(() => {
  const player = document.getElementById("player") ?? document.querySelector("watch-together")?.shadowRoot.querySelector("wt-player");
  if (!player) return { player: null };
  const r = player.shadowRoot;
  const v = player.querySelector("video");
  const q = (s) => r.querySelector(s);
  const active = r.activeElement;
  return {
    t: Number(v.currentTime.toFixed(3)), paused: v.paused, rate: Number(v.playbackRate.toFixed(3)), volume: Number(v.volume.toFixed(3)), muted: v.muted,
    play: q("#play").getAttribute("aria-label"), valuenow: q(".seek").getAttribute("aria-valuenow"), valuemax: q(".seek").getAttribute("aria-valuemax"),
    speed: q("#speed .label").textContent, quality: q("#quality .label").textContent, sync: q(".sync").textContent,
    idle: player.classList.contains("idle"), hover: q(".chrome").matches(":hover"), fullscreen: document.fullscreenElement?.id ?? document.fullscreenElement?.tagName ?? null,
    toast: q(".toast").hidden ? null : q(".toast").textContent, menus: [...r.querySelectorAll(".menu:not([hidden])")].map((m) => m.id),
    focus: active ? active.id || active.className || active.tagName : (document.activeElement?.id || document.activeElement?.tagName),
    stored: localStorage.getItem("wt-volume"),
  };
});

/** Wait until `fn(arg)` holds in the page; the error names what was awaited and shows the player's state. */
async function until(page, fn, arg, what, timeout = 10_000) {
  try {
    await page.waitForFunction(fn, arg, { timeout, polling: 20 });
  } catch (e) {
    throw new Error(`${what} (within ${timeout} ms): ${JSON.stringify(await snapshot(page).catch(() => e.message))} ${page.problems.join(" | ")}`);
  }
}

/** The player's position once it holds still: not seeking, and the same (±10 ms) over 500 ms. */
async function settled(page, timeout = 10_000) {
  const read = () => page.evaluate(() => [document.getElementById("video").seeking, window.watchTogether.session.playhead.position]);
  const end = Date.now() + timeout;
  let [seeking, last] = await read();
  while (Date.now() < end) {
    await sleep(500);
    const [now, t] = await read();
    if (!seeking && !now && Math.abs(t - last) < 0.01) return t;
    [seeking, last] = [now, t];
  }
  throw new Error(`the player's position did not hold still within ${timeout} ms: last ${last}`);
}

/** Assert |a − b| ≤ tol, printing the figures. */
function near(a, b, tol, what, figures = {}) {
  assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} is not ${b} ± ${tol} ${JSON.stringify(figures)}`);
}

const ui = (page, sel, fn = "text") => page.evaluate(([sel, fn]) => {
  const el = document.getElementById("player").shadowRoot.querySelector(sel);
  if (!el) return null;
  if (fn === "text") return el.textContent;
  if (fn === "hidden") return el.hidden || getComputedStyle(el).display === "none";
  return el.getAttribute(fn);
}, [sel, fn]);
/** Wait (up to 5 s) for a control's attribute, text or hidden state to read `expected`: the UI renders on events, which may trail what a check just saw. */
async function uiIs(page, sel, fn, expected, what = `${sel} ${fn}`) {
  const deadline = Date.now() + 5_000;
  let last = await ui(page, sel, fn);
  while (last !== expected && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
    last = await ui(page, sel, fn);
  }
  assert.equal(last, expected, what);
}
const video = (page) => page.evaluate(() => {
  const v = document.getElementById("video");
  return { t: v.currentTime, paused: v.paused, rate: v.playbackRate, volume: v.volume, muted: v.muted };
});

/** Move the mouse over the player (controls shown), then click `sel` in it. */
async function press(page, sel) {
  const box = await page.locator("wt-player .media").first().boundingBox();
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 3);
  await page.click(`wt-player ${sel}`);
}

/** Click `sel` at `frac` of its width (a slider). */
async function clickAt(page, sel, frac) {
  const box = await page.locator(`wt-player ${sel}`).boundingBox();
  await page.mouse.move(box.x + box.width / 2, box.y - 40);
  await page.mouse.click(box.x + box.width * frac, box.y + box.height / 2);
  return box;
}

/** The labels of a menu's items and which is checked. */
const menuItems = (page, id) => page.evaluate((id) => [...document.getElementById("player").shadowRoot.querySelectorAll(`#${id} [role=menuitemradio]`)].map((b) => ({ label: b.textContent, checked: b.getAttribute("aria-checked") === "true", disabled: b.getAttribute("aria-disabled") === "true" })), id);

/** Focus on the page itself (no control focused): where the room page's shortcuts are heard. */
const blur = (page) => page.evaluate(() => { document.activeElement?.blur(); document.getElementById("player").shadowRoot.activeElement?.blur(); });

/** Room paused at `t` (through the session), seen by the element. */
async function pausedAt(page, t) {
  await page.evaluate((t) => { window.watchTogether.session.pause(); window.watchTogether.session.seek(t); }, t);
  await until(page, (t) => document.getElementById("video").paused && Math.abs(document.getElementById("video").currentTime - t) < 0.3, t, `paused at ${t} s`);
}

/** Add the test SRT for this viewer (a File named en.srt: the upstream sends no CORS headers, so the page cannot fetch it by URL). */
const addSubtitles = (page) => page.evaluate((text) => window.watchTogether.session.addSubtitles(new File([text], "en.srt")), SRT);

/** A screenshot to target/test-results/screens/`file`, once laid out and painted. */
async function shot(page, file, opts = {}) {
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  await page.screenshot({ path: join(SCREENS, ENGINE === "chromium" ? file : file.replace(/\.png$/, `.${ENGINE}.png`)), ...opts });
}

/**
 * Give `page`'s window the focus, as the window a viewer works in has.
 * Firefox gives keys their default action (Enter's click on a button) and
 * grants fullscreen only in the focused window, and the page opened last
 * has it: without this, Enter on a focused Play gave a keydown and a
 * keypress, no click (2026-12-06).
 */
const front = (page) => page.bringToFront();
/** Touch is driven in Chromium only (see the top of the file). */
const TOUCH = ENGINE === "chromium";

const close = async (...pages) => { for (const p of pages) await p.context().close(); };
const noProblems = (...pages) => { for (const p of pages) assert.deepEqual(p.problems, [], "no console errors or uncaught exceptions"); };

// ---- tests ----

test("desktop, by pointer: play/pause, seek bar, mute and volume, the room's speed, stats for nerds, the sync indicator", async () => {
  const { id } = await createRoom(stack.url, { source: DEMO });
  const a = await openRoom(id, { name: "Ana" });
  const b = await openRoom(id, { name: "Ben" });

  // Play: one toggle whose name says what it does; both pages play.
  await uiIs(a, "#play", "aria-label", "Play", "paused: the button says Play");
  await press(a, "#play");
  await until(a, () => !document.getElementById("video").paused && document.getElementById("player").shadowRoot.querySelector("#play").getAttribute("aria-label") === "Pause", null, "A plays and the button says Pause");
  await until(b, () => !document.getElementById("video").paused, null, "B plays too");
  for (const p of [a, b]) await until(p, () => document.getElementById("player").shadowRoot.querySelector(".sync").textContent === "In sync", null, "the sync indicator says In sync", 15_000);

  // Speed: the menu (role=menu, radio items) sets the room's rate; B plays at 1.5×.
  await press(a, "#speed");
  await until(a, () => !document.getElementById("player").shadowRoot.getElementById("speed-menu").hidden, null, "the speed menu opens");
  await uiIs(a, "#speed-menu", "role", "menu");
  await uiIs(a, "#speed", "aria-expanded", "true");
  const items = await menuItems(a, "speed-menu");
  assert.deepEqual(items.map((i) => i.label), RATES, JSON.stringify(items));
  assert.deepEqual(items.filter((i) => i.checked).map((i) => i.label), ["Normal"], JSON.stringify(items));
  const fit = await a.evaluate(() => { const m = document.getElementById("player").shadowRoot.getElementById("speed-menu"); return { scrollHeight: m.scrollHeight, clientHeight: m.clientHeight }; });
  await a.click("wt-player #speed-menu [role=menuitemradio]:text-is('1.5×')");
  await until(b, () => Math.abs(document.getElementById("video").playbackRate - 1.5) < 0.05, null, "B plays at 1.5× (the room's rate)");
  await until(a, () => document.getElementById("player").shadowRoot.querySelector("#speed .label").textContent === "1.5×", null, "A's Speed button says 1.5×");
  await uiIs(a, "#speed-menu", "hidden", true, "the menu closes on a pick");
  await uiIs(a, "#speed", "aria-expanded", "false");
  assert.deepEqual((await menuItems(a, "speed-menu")).filter((i) => i.checked).map((i) => i.label), ["1.5×"]);

  // Stats for nerds: the figures behind a toggle.
  await uiIs(a, ".nerds", "hidden", true, "no figures until asked");
  await press(a, "#stats");
  await until(a, () => /drift -?\d+ ms · rtt \d+ ms/.test(document.getElementById("player").shadowRoot.querySelector(".nerds").textContent), null, "the stats show drift … ms · rtt … ms");
  await uiIs(a, ".nerds", "hidden", false);
  await uiIs(a, "#stats", "aria-pressed", "true");
  await press(a, "#stats");
  await uiIs(a, ".nerds", "hidden", true, "a second press hides them");

  // Pause: the toggle again.
  await press(a, "#play");
  await until(a, () => document.getElementById("video").paused && document.getElementById("player").shadowRoot.querySelector("#play").getAttribute("aria-label") === "Play", null, "A paused and the button says Play");
  await until(b, () => document.getElementById("video").paused, null, "B paused too");

  // Seek bar: a click at 50 % seeks everyone to 30 s of 60; aria-valuenow follows.
  await uiIs(a, ".seek", "role", "slider");
  await uiIs(a, ".seek", "aria-valuemax", "60");
  await clickAt(a, ".seek", 0.5);
  await until(a, () => Math.abs(document.getElementById("video").currentTime - 30) < 0.5, null, "a click at the middle seeks to 30 s");
  await until(b, () => Math.abs(document.getElementById("video").currentTime - 30) < 0.5, null, "B follows to 30 s");
  const now = Number(await ui(a, ".seek", "aria-valuenow"));
  near(now, 30, 1, "aria-valuenow after the seek", await snapshot(a));
  assert.match(await ui(a, ".seek", "aria-valuetext"), /^(29|30) seconds of 1 minutes 0 seconds$/);
  assert.match(await ui(a, ".clock"), /^0:(29|30) \/ 1:00$/);

  // Mute and unmute; the slider at a quarter sets the volume to about a quarter.
  await press(a, "#mute");
  await until(a, () => document.getElementById("video").muted && document.getElementById("player").shadowRoot.getElementById("mute").getAttribute("aria-label") === "Unmute", null, "muted, and the button says Unmute");
  await uiIs(a, "#volume", "aria-valuetext", "0%", "the slider shows 0 while muted");
  await press(a, "#mute");
  await until(a, () => !document.getElementById("video").muted && document.getElementById("player").shadowRoot.getElementById("mute").getAttribute("aria-label") === "Mute", null, "unmuted");
  await clickAt(a, "#volume", 0.25);
  const v = await video(a);
  near(v.volume, 0.25, 0.1, "the volume after a click at a quarter of the slider", v);
  assert.equal(v.muted, false);
  near(JSON.parse(await a.evaluate(() => localStorage.getItem("wt-volume"))).volume, v.volume, 0.001, "the volume is stored");
  near((await video(b)).volume, 1, 0, "B's volume is B's own");

  // Playing again: the controls hide once the pointer has left, and come back when it moves over the player.
  await press(a, "#play");
  await until(a, () => !document.getElementById("video").paused, null, "A plays again");
  const idle = () => document.getElementById("player").classList.contains("idle");
  await a.mouse.move(1275, 795);
  await until(a, idle, null, "the controls hide while playing (3 s)", 8_000);
  const box = await a.locator("wt-player").boundingBox();
  await a.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  await a.mouse.move(box.x + box.width / 2 + 30, box.y + box.height / 2 + 10);
  await until(a, () => !document.getElementById("player").classList.contains("idle"), null, "a pointer move over the player shows them");
  await a.mouse.move(1275, 795);
  await until(a, idle, null, "they hide again 3 s after the pointer left (after two moves over the player)", 8_000);

  assert.ok(fit.scrollHeight <= fit.clientHeight + 1, `at desktop size the speed menu showed every rate without scrolling: ${JSON.stringify(fit)}`);
  noProblems(a, b);
  await close(a, b);
});

test("desktop, by keyboard: every control focused and worked with Enter, Space and arrows; the quality and captions menus", async () => {
  const { id } = await createRoom(stack.url, { source: LADDER() });
  const a = await openRoom(id, { name: "Kay" });
  const b = await openRoom(id, { name: "Lee" });
  await front(a);
  await pausedAt(a, 4);

  // Play/pause: Enter and Space on the focused button.
  await a.focus("wt-player #play");
  await a.keyboard.press("Enter");
  await until(a, () => !document.getElementById("video").paused && document.getElementById("player").shadowRoot.getElementById("play").getAttribute("aria-label") === "Pause", null, "Enter on Play plays");
  await a.keyboard.press("Space");
  await until(a, () => document.getElementById("video").paused && document.getElementById("player").shadowRoot.getElementById("play").getAttribute("aria-label") === "Play", null, "Space on Pause pauses");
  await until(b, () => document.getElementById("video").paused, null, "B paused too");

  // Seek bar: ArrowRight moves +5 s, ArrowLeft −5 s; aria-valuenow follows.
  const t0 = (await video(a)).t;
  await a.focus("wt-player .seek");
  await a.keyboard.press("ArrowRight");
  await until(a, (t) => Math.abs(document.getElementById("video").currentTime - t) < 0.3, t0 + 5, `ArrowRight on the seek bar: ${t0.toFixed(2)} + 5 s`);
  await until(b, (t) => Math.abs(document.getElementById("video").currentTime - t) < 0.3, t0 + 5, "B follows the +5 s");
  near(Number(await ui(a, ".seek", "aria-valuenow")), t0 + 5, 1, "aria-valuenow (whole seconds) after ArrowRight", await snapshot(a));
  await a.keyboard.press("ArrowLeft");
  await until(a, (t) => Math.abs(document.getElementById("video").currentTime - t) < 0.3, t0, "ArrowLeft on the seek bar: back 5 s");

  // Mute with Enter; the volume slider with arrows (5 % a step).
  await a.focus("wt-player #mute");
  await a.keyboard.press("Enter");
  await until(a, () => document.getElementById("video").muted, null, "Enter on Mute mutes");
  await a.keyboard.press("Space");
  await until(a, () => !document.getElementById("video").muted, null, "Space on Unmute unmutes");
  await a.focus("wt-player #volume");
  // One step at a time: on a loaded machine a press on the focused slider
  // was lost now and then (2 of ~6 loaded runs on 2026-12-04: the volume
  // stayed where it was for 10 s, focus on the slider; not diagnosed). A
  // press that moved nothing in 3 s is pressed once more, and said; a
  // second loss fails.
  for (let i = 1; i <= 4; i++) {
    const want = 1 - 0.05 * i;
    const at = (v) => Math.abs(document.getElementById("video").volume - v) < 0.01;
    await a.keyboard.press("ArrowLeft");
    const moved = await a.waitForFunction(at, want, { timeout: 3_000, polling: 20 }).then(() => true, () => false);
    if (!moved) {
      console.log(`    ArrowLeft ${i} on the volume slider moved nothing in 3 s (a lost press): pressed once more`);
      await a.keyboard.press("ArrowLeft");
    }
    await until(a, at, want, `ArrowLeft ${i} on the volume slider: ${100 - 5 * i} %`);
  }
  await until(a, () => document.getElementById("player").shadowRoot.getElementById("volume").getAttribute("aria-valuetext") === "80%", null, "the volume slider says 80%");

  // Speed: Enter opens the menu on the checked item; arrows move, Enter picks; Escape closes and gives focus back.
  await a.focus("wt-player #speed");
  await a.keyboard.press("Enter");
  await until(a, () => document.getElementById("player").shadowRoot.activeElement?.textContent === "Normal", null, "the speed menu opens with Normal focused");
  await a.keyboard.press("ArrowDown");
  await a.keyboard.press("ArrowDown");
  assert.equal(await a.evaluate(() => document.getElementById("player").shadowRoot.activeElement.textContent), "1.5×", "two ArrowDown: 1.5×");
  await a.keyboard.press("Enter");
  await until(b, () => document.getElementById("player").shadowRoot.querySelector("#speed .label").textContent === "1.5×", null, "the room's rate is 1.5×: B's Speed button says so");
  assert.equal(await a.evaluate(() => document.getElementById("player").shadowRoot.activeElement?.id), "speed", "focus back on Speed after the pick");
  await a.keyboard.press("Enter");
  await until(a, () => !document.getElementById("player").shadowRoot.getElementById("speed-menu").hidden, null, "the speed menu opens again");
  await a.keyboard.press("Escape");
  await until(a, () => document.getElementById("player").shadowRoot.getElementById("speed-menu").hidden && document.getElementById("player").shadowRoot.activeElement?.id === "speed", null, "Escape closes it, focus on Speed");

  // Quality: Auto (what it picked) and the ladder; pick 360p with the keyboard, Auto again by pointer.
  await until(a, () => /^Auto · \d+p$/.test(document.getElementById("player").shadowRoot.querySelector("#quality .label").textContent), null, "the Quality button says what Auto picked");
  await a.focus("wt-player #quality");
  await a.keyboard.press("Enter");
  await until(a, () => !document.getElementById("player").shadowRoot.getElementById("quality-menu").hidden, null, "the quality menu opens");
  const ladder = await menuItems(a, "quality-menu");
  assert.equal(ladder.length, 4, JSON.stringify(ladder));
  assert.match(ladder[0].label, /^Auto \((144|240|360)p\)$/, JSON.stringify(ladder));
  assert.deepEqual(ladder.slice(1).map((i) => i.label), ["144p", "240p", "360p"], JSON.stringify(ladder));
  assert.ok(ladder[0].checked, `Auto is checked: ${JSON.stringify(ladder)}`);
  await a.keyboard.press("End");
  await a.keyboard.press("Enter");
  await until(a, () => document.getElementById("player").shadowRoot.querySelector("#quality .label").textContent === "360p", null, "End, Enter: 360p");
  await press(a, "#quality");
  await a.click("wt-player #quality-menu [role=menuitemradio] >> nth=0");
  await until(a, () => document.getElementById("player").shadowRoot.querySelector("#quality .label").textContent.startsWith("Auto"), null, "a click on Auto: Auto again");

  // Captions: a subtitle file, then the menu (Off and the track); picked by keyboard, Off by pointer.
  await addSubtitles(a);
  await a.evaluate(() => window.watchTogether.session.setTextTrack(null));
  await a.focus("wt-player #captions");
  await a.keyboard.press("Enter");
  await until(a, () => !document.getElementById("player").shadowRoot.getElementById("captions-menu").hidden, null, "the captions menu opens");
  const tracks = await menuItems(a, "captions-menu");
  assert.deepEqual(tracks.map((t) => [t.label, t.checked]), [["Off", true], ["en · your file", false]], JSON.stringify(tracks));
  await a.keyboard.press("ArrowDown");
  await a.keyboard.press("Enter");
  await until(a, () => window.watchTogether.session.textTracks.some((t) => t.selected && t.label === "en"), null, "ArrowDown, Enter: the track is shown");
  await uiIs(a, "#captions", "aria-pressed", "true", "the Captions button shows captions are on");
  assert.equal(await a.evaluate(() => [...document.getElementById("video").textTracks].filter((t) => t.mode === "showing").length), 1, "the element shows one text track");
  await press(a, "#captions");
  await a.click("wt-player #captions-menu [role=menuitemradio]:text-is('Off')");
  await until(a, () => !window.watchTogether.session.textTracks.some((t) => t.selected), null, "Off by pointer: no track shown");
  await uiIs(a, "#captions", "aria-pressed", "false");

  // Stats and fullscreen by keyboard.
  await a.focus("wt-player #stats");
  await a.keyboard.press("Enter");
  await until(a, () => !document.getElementById("player").shadowRoot.querySelector(".nerds").hidden, null, "Enter on Stats shows the figures");
  await a.keyboard.press("Enter");
  await until(a, () => document.getElementById("player").shadowRoot.querySelector(".nerds").hidden, null, "Enter again hides them");
  await a.focus("wt-player #fullscreen");
  await a.keyboard.press("Enter");
  await until(a, () => document.fullscreenElement?.id === "room", null, "Enter on Fullscreen: the room layout is fullscreen");
  await a.keyboard.press("Enter");
  await until(a, () => document.fullscreenElement === null, null, "Enter on Exit fullscreen leaves it");

  noProblems(a, b);
  await close(a, b);
});

test("desktop, the room page's shortcuts with focus on the page; none of them while typing in the chat; the volume remembered after a reload", async () => {
  const { id } = await createRoom(stack.url, { source: DEMO });
  const a = await openRoom(id, { name: "Sam" });
  await addSubtitles(a);
  await a.evaluate(() => window.watchTogether.session.setTextTrack(null));
  await pausedAt(a, 20);
  await blur(a);

  // Space and k: play and pause.
  await a.keyboard.press("Space");
  await until(a, () => !document.getElementById("video").paused, null, "Space plays");
  await a.keyboard.press("k");
  await until(a, () => document.getElementById("video").paused, null, "k pauses");
  // (Where the player is: what the shortcuts seek from, once it holds still.
  // WebKit's element read ~1 s ahead of it just after the pause, and once,
  // in a loaded run, 1 s behind where the room's pause then seeked it.)
  const t0 = await settled(a);
  // ←/→ 5 s, j/l 10 s; each seek done (the next key seeks from where it
  // landed: in WebKit the player's position is right only after `seeked`).
  for (const [key, dt] of [["ArrowRight", 5], ["ArrowLeft", 0], ["l", 10], ["j", 0]]) {
    await a.keyboard.press(key);
    await until(a, (t) => !document.getElementById("video").seeking && Math.abs(window.watchTogether.session.playhead.position - t) < 0.3, t0 + dt, `${key}: ${(t0 + dt).toFixed(2)} s`);
  }
  // ↑/↓: the volume by 5 %; fourteen ↓ from 100 %: 30 %.
  for (let i = 0; i < 14; i++) await a.keyboard.press("ArrowDown");
  await until(a, () => Math.abs(document.getElementById("video").volume - 0.3) < 0.01, null, "14 × ArrowDown: 30 %");
  await a.keyboard.press("ArrowUp");
  await until(a, () => Math.abs(document.getElementById("video").volume - 0.35) < 0.01, null, "ArrowUp: 35 %");
  await a.keyboard.press("ArrowDown");
  await until(a, () => Math.abs(document.getElementById("video").volume - 0.3) < 0.01, null, "ArrowDown: 30 % again");
  // m: mute and unmute.
  await a.keyboard.press("m");
  await until(a, () => document.getElementById("video").muted, null, "m mutes");
  await a.keyboard.press("m");
  await until(a, () => !document.getElementById("video").muted && Math.abs(document.getElementById("video").volume - 0.3) < 0.01, null, "m unmutes, at 30 % still");
  // c: captions on (the only track) and off.
  await a.keyboard.press("c");
  await until(a, () => window.watchTogether.session.textTracks.some((t) => t.selected), null, "c shows the captions");
  await a.keyboard.press("c");
  await until(a, () => !window.watchTogether.session.textTracks.some((t) => t.selected), null, "c hides them");
  // > and < (Shift+. and Shift+,): the room's speed a step up and down.
  await a.keyboard.press("Shift+Period");
  await until(a, () => document.getElementById("player").shadowRoot.querySelector("#speed .label").textContent === "1.25×", null, "> : 1.25×");
  await a.keyboard.press("Shift+Comma");
  await until(a, () => document.getElementById("player").shadowRoot.querySelector("#speed .label").textContent === "1×", null, "< : back to 1×");
  // f: fullscreen of the room layout, and out (the page hearing each f).
  await a.evaluate(() => document.addEventListener("keydown", (e) => { if (e.key === "f") window.fKeys = (window.fKeys ?? 0) + 1; }, true));
  await a.keyboard.press("f");
  await until(a, () => document.fullscreenElement?.id === "room", null, "f: the room layout fullscreen");
  if (ENGINE === "webkit") {
    // (MiniBrowser takes an f typed in fullscreen: the page never hears it.)
    await press(a, "#fullscreen");
    await until(a, () => document.fullscreenElement === null, null, "webkit: out of fullscreen by the button");
  } else {
    await a.keyboard.press("f");
    await until(a, () => document.fullscreenElement === null, null, "f again: out of fullscreen");
    assert.equal(await a.evaluate(() => window.fKeys), 2, "the page heard both f");
  }

  // Typing in the chat: every shortcut key goes into the message, none acts.
  const before = await snapshot(a);
  const message = "k f m j l c < > and spaces   then more";
  await a.click("#chat-input");
  await a.keyboard.type(message);
  for (const key of ["ArrowLeft", "ArrowRight", "ArrowUp", "ArrowDown", "Home", "End"]) await a.keyboard.press(key);
  assert.equal(await a.inputValue("#chat-input"), message, "every key went into the chat input");
  await a.keyboard.press("Enter");
  // The line comes back through the room: any command sent before it would have come back first.
  await until(a, (m) => document.getElementById("chat-log").textContent.includes(m), message, "the chat line sent and shown");
  const after = await snapshot(a);
  const same = (k) => assert.deepEqual(after[k], before[k], `${k} unchanged by typing in the chat: before ${JSON.stringify(before)} after ${JSON.stringify(after)}`);
  for (const k of ["t", "paused", "muted", "volume", "speed", "fullscreen", "valuenow"]) same(k);
  assert.equal(await a.evaluate(() => window.watchTogether.session.textTracks.some((t) => t.selected)), false, "captions not toggled by the c typed in the chat");

  // The volume (30 %) is remembered on this device after a reload.
  const stored = JSON.parse(await a.evaluate(() => localStorage.getItem("wt-volume")));
  near(stored.volume, 0.3, 0.01, "wt-volume stored", stored);
  assert.equal(stored.muted, false);
  await a.reload();
  await joined(a);
  const v = await video(a);
  near(v.volume, 0.3, 0.01, "the volume after the reload", v);
  assert.equal(v.muted, false, "not muted after the reload");
  near(Number(await a.$eval("wt-player #volume", (e) => e.value)), 0.3, 0.01, "the slider shows 30 % after the reload");
  noProblems(a);
  await close(a);
});

// (In WebKit, MiniBrowser takes an f typed in fullscreen: the page never
// hears it — no keydown — and fullscreen ends; "xyz" typed fine,
// 2026-12-06. There the line typed has no f, and fullscreen is left by the
// button where the others press f.)
test("desktop, fullscreen with the chat: entered and left by button and key, the chat usable in it, the Chat button hides and shows the panel", async () => {
  const line = ENGINE === "webkit" ? "nice, a space is no shortcut" : "fine, f is for fullscreen";
  const { id } = await createRoom(stack.url, { source: DEMO });
  const a = await openRoom(id, { name: "Ana" });
  const b = await openRoom(id, { name: "Ben" });
  await front(a);
  await pausedAt(a, 12);
  await uiIs(a, "#chat", "hidden", true, "no Chat button outside fullscreen");

  await press(a, "#fullscreen");
  await until(a, () => document.fullscreenElement?.id === "room", null, "the Fullscreen button makes the whole room layout fullscreen (element.requestFullscreen works in headless Chromium)");
  await uiIs(a, "#fullscreen", "aria-label", "Exit fullscreen");
  await uiIs(a, "#chat", "hidden", false, "a Chat button while fullscreen");
  await uiIs(a, "#chat", "aria-pressed", "true");
  // The chat beside the video, in the window.
  const layout = await a.evaluate(() => {
    const box = (el) => { const r = el.getBoundingClientRect(); return { x: Math.round(r.x), y: Math.round(r.y), w: Math.round(r.width), h: Math.round(r.height) }; };
    return { win: { w: innerWidth, h: innerHeight }, player: box(document.getElementById("player")), input: box(document.getElementById("chat-input")), log: box(document.getElementById("chat-log")) };
  });
  assert.ok(layout.input.w > 100 && layout.input.x >= layout.player.x + layout.player.w - 1 && layout.input.y + layout.input.h <= layout.win.h, `the chat input beside the player and in the window: ${JSON.stringify(layout)}`);
  assert.ok(layout.player.w > layout.win.w / 2 && layout.player.h > layout.win.h * 0.9, `the player takes most of the screen: ${JSON.stringify(layout)}`);

  // Chat while fullscreen: type (an f and a space among it), send; the other's line comes in too.
  await a.click("#chat-input");
  await a.keyboard.type(line);
  await a.keyboard.press("Enter");
  await until(a, (line) => document.getElementById("chat-log").textContent.includes(line), line, "the line sent in fullscreen shows in the log");
  await until(b, (line) => document.getElementById("chat-log").textContent.includes(line), line, "and reaches Ben");
  await b.fill("#chat-input", "popcorn ready");
  await b.press("#chat-input", "Enter");
  await until(a, () => document.getElementById("chat-log").textContent.includes("popcorn ready"), null, "Ben's line comes in while fullscreen");
  assert.equal(await a.evaluate(() => document.fullscreenElement?.id), "room", "still fullscreen after typing");
  await a.mouse.move(300, 300);
  await shot(a, "ui-fullscreen-chat.png");

  // The Chat button hides and shows the panel.
  await press(a, "#chat");
  await until(a, () => document.getElementById("room").classList.contains("panel-hidden"), null, "Chat: panel-hidden on #room");
  assert.equal(await a.isVisible("#chat-input"), false, "the chat is hidden");
  await uiIs(a, "#chat", "aria-pressed", "false");
  await uiIs(a, "#chat", "aria-label", "Show chat");
  const wide = await a.evaluate(() => document.getElementById("player").getBoundingClientRect().width);
  assert.ok(wide > 1200, `the player takes the whole width without the panel: ${wide}`);
  await press(a, "#chat");
  await until(a, () => !document.getElementById("room").classList.contains("panel-hidden"), null, "Chat again: the panel is back");
  assert.equal(await a.isVisible("#chat-input"), true, "the chat is shown again");

  // Out with f (focus on the page; WebKit: the button), in with f, out with the button.
  await blur(a);
  if (ENGINE === "webkit") await press(a, "#fullscreen");
  else await a.keyboard.press("f");
  await until(a, () => document.fullscreenElement === null, null, "f leaves fullscreen");
  await uiIs(a, "#fullscreen", "aria-label", "Fullscreen");
  await uiIs(a, "#chat", "hidden", true, "no Chat button once out");
  await a.keyboard.press("f");
  await until(a, () => document.fullscreenElement?.id === "room", null, "f enters it");
  await press(a, "#fullscreen");
  await until(a, () => document.fullscreenElement === null, null, "the Exit fullscreen button leaves it");
  noProblems(a, b);
  await close(a, b);
});

test("a viewer in a host-controlled room: play, seek and speed disabled and saying why, pressing them changes nothing; volume, captions, quality and fullscreen work", async () => {
  const room = await createRoom(stack.url, { source: DEMO, mode: "controlled" });
  const host = await openRoom(room.id, { hostToken: room.hostToken, name: "Host" });
  const v = await openRoom(room.id, { name: "Viewer" });
  await pausedAt(host, 10);
  await until(v, () => Math.abs(document.getElementById("video").currentTime - 10) < 0.3, null, "the viewer at 10 s");
  assert.equal(await host.evaluate(() => window.watchTogether.session.role), "host");
  await uiIs(host, "#play", "aria-disabled", null, "the host's Play is enabled");

  // Disabled, and saying why: aria-disabled, aria-description and the tooltip.
  for (const sel of ["#play", ".seek", "#speed"]) {
    const why = await v.evaluate((sel) => { const el = document.getElementById("player").shadowRoot.querySelector(sel); return { disabled: el.getAttribute("aria-disabled"), description: el.getAttribute("aria-description"), title: el.title }; }, sel);
    assert.equal(why.disabled, "true", `${sel}: ${JSON.stringify(why)}`);
    assert.match(why.description, /Only the host and controllers can play, pause, seek and change the speed/, `${sel}: ${JSON.stringify(why)}`);
    assert.match(why.title, /Only the host and controllers/, `${sel} tooltip: ${JSON.stringify(why)}`);
  }
  const toast = (p) => until(p, () => /Only the host and controllers/.test(document.getElementById("player").shadowRoot.querySelector(".toast:not([hidden])")?.textContent ?? ""), null, "the reason shown in a toast");
  const hideToast = (p) => p.evaluate(() => { document.getElementById("player").shadowRoot.querySelector(".toast").hidden = true; });

  // Pressing them says why (Playwright holds aria-disabled buttons for disabled: force).
  await v.mouse.move(400, 300);
  await v.click("wt-player #play", { force: true });
  await toast(v);
  await hideToast(v);
  await clickAt(v, ".seek", 0.75);
  await toast(v);
  await hideToast(v);
  await v.focus("wt-player .seek");
  await v.keyboard.press("ArrowRight");
  await toast(v);
  await hideToast(v);
  await blur(v);
  await v.keyboard.press("k");
  await toast(v);
  await hideToast(v);
  // The speed button says why instead of opening its menu.
  await v.click("wt-player #speed", { force: true });
  await toast(v);
  assert.equal(await v.evaluate(() => document.getElementById("player").shadowRoot.getElementById("speed-menu").hidden), true, "no speed menu for a viewer");
  // Nothing changed: a chat line through the room first (anything sent before it would have come back).
  await v.fill("#chat-input", "can't touch this");
  await v.press("#chat-input", "Enter");
  await until(v, () => document.getElementById("chat-log").textContent.includes("can't touch this"), null, "the viewer's chat line back");
  for (const p of [v, host]) {
    const s = await snapshot(p);
    assert.ok(s.paused && Math.abs(s.t - 10) < 0.3 && s.speed === "1×", `nothing changed: ${JSON.stringify(s)}`);
  }

  // What a viewer may use: mute and volume, quality, captions, fullscreen.
  await press(v, "#mute");
  await until(v, () => document.getElementById("video").muted, null, "the viewer mutes");
  await press(v, "#mute");
  await until(v, () => !document.getElementById("video").muted, null, "and unmutes");
  await clickAt(v, "#volume", 0.5);
  const vol = (await video(v)).volume;
  near(vol, 0.5, 0.1, "the viewer's volume after a click at the middle", await snapshot(v));
  near((await video(host)).volume, 1, 0, "the host's volume is the host's own");
  await press(v, "#quality");
  const q = await menuItems(v, "quality-menu");
  assert.deepEqual(q.map((i) => i.label.replace(/\(\d+p\)/, "(…)")), ["Auto (…)", "240p"], JSON.stringify(q));
  assert.ok(q.every((i) => !i.disabled), JSON.stringify(q));
  await v.click("wt-player #quality-menu [role=menuitemradio]:text-is('240p')");
  await until(v, () => document.getElementById("player").shadowRoot.querySelector("#quality .label").textContent === "240p", null, "the viewer picks 240p");
  await addSubtitles(v);
  await v.evaluate(() => window.watchTogether.session.setTextTrack(null));
  await press(v, "#captions");
  await v.click("wt-player #captions-menu [role=menuitemradio]:text-is('en · your file')");
  await until(v, () => window.watchTogether.session.textTracks.some((t) => t.selected), null, "the viewer shows captions");
  await press(v, "#fullscreen");
  await until(v, () => document.fullscreenElement?.id === "room", null, "the viewer goes fullscreen");
  await press(v, "#fullscreen");
  await until(v, () => document.fullscreenElement === null, null, "and out");

  // The host plays: the viewer's player follows and its toggle says Pause (still disabled).
  await press(host, "#play");
  await until(v, () => !document.getElementById("video").paused && document.getElementById("player").shadowRoot.getElementById("play").getAttribute("aria-label") === "Pause", null, "the viewer plays with the room");
  await uiIs(v, "#play", "aria-disabled", "true");
  noProblems(host, v);
  await close(host, v);
});

test("phone, by touch: tap to show the controls, double tap on the sides seeks 10 s, every control by tap", async (t) => {
  if (!TOUCH) return t.skip(`${ENGINE}: ${ENGINE === "firefox" ? "Playwright's BiDi driver sends no touch" : "the WebDriver adapter drives no touch"} (Chromium's only)`);
  const { id } = await createRoom(stack.url, { source: DEMO });
  const p = await openRoom(id, { size: PHONE, name: "Pip" });
  await addSubtitles(p);
  await p.evaluate(() => window.watchTogether.session.setTextTrack(null));
  assert.equal(await p.evaluate(() => document.getElementById("player").classList.contains("narrow")), true, "the player knows it is narrow");
  assert.equal(await p.isVisible("wt-player #fullscreen"), true, "Fullscreen on a phone");

  // Double taps: right third +10 s, left third −10 s.
  const surface = await p.locator("wt-player .surface").boundingBox();
  const at = (fx) => [surface.x + surface.width * fx, surface.y + surface.height * 0.45];
  await pausedAt(p, 20);
  const t0 = (await video(p)).t;
  await p.touchscreen.tap(...at(0.85));
  await p.touchscreen.tap(...at(0.85));
  await until(p, (t) => Math.abs(document.getElementById("video").currentTime - t) < 0.3, t0 + 10, `a double tap on the right: ${t0.toFixed(2)} + 10 s`);
  assert.equal(await p.evaluate(() => document.getElementById("video").paused), true, "still paused");
  await p.touchscreen.tap(...at(0.15));
  await p.touchscreen.tap(...at(0.15));
  await until(p, (t) => Math.abs(document.getElementById("video").currentTime - t) < 0.3, t0, "a double tap on the left: back 10 s");

  // Seek bar by a tap at 75 %, mute, speed, captions, quality, fullscreen: all by taps.
  const seek = await p.locator("wt-player .seek").boundingBox();
  await p.touchscreen.tap(seek.x + seek.width * 0.75, seek.y + seek.height / 2);
  await until(p, () => Math.abs(document.getElementById("video").currentTime - 45) < 0.6, null, "a tap at 75 % of the seek bar: 45 s");
  await p.tap("wt-player #mute");
  await until(p, () => document.getElementById("video").muted, null, "a tap mutes");
  await p.tap("wt-player #mute");
  await until(p, () => !document.getElementById("video").muted, null, "a tap unmutes");
  await p.tap("wt-player #speed");
  await p.tap("wt-player #speed-menu [role=menuitemradio]:text-is('1.25×')");
  await until(p, () => document.getElementById("player").shadowRoot.querySelector("#speed .label").textContent === "1.25×", null, "the room's speed 1.25× by taps");
  await p.tap("wt-player #captions");
  await p.tap("wt-player #captions-menu [role=menuitemradio]:text-is('en · your file')");
  await until(p, () => window.watchTogether.session.textTracks.some((t) => t.selected), null, "captions on by taps");
  await p.tap("wt-player #quality");
  const q = await menuItems(p, "quality-menu");
  assert.match(q[0]?.label ?? "", /^Auto/, JSON.stringify(q));
  await p.tap("wt-player #quality-menu [role=menuitemradio] >> nth=0");
  await p.waitForSelector("wt-player #quality-menu", { state: "hidden" });
  await p.evaluate(() => window.watchTogether.session.setTextTrack(null));
  await shot(p, "ui-phone.png");
  await p.tap("wt-player #fullscreen");
  await until(p, () => document.fullscreenElement?.id === "room", null, "a tap on Fullscreen");
  const fs = await p.evaluate(() => ({ chat: document.getElementById("chat-input").getBoundingClientRect().toJSON(), player: document.getElementById("player").getBoundingClientRect().toJSON(), h: innerHeight }));
  assert.ok(fs.chat.y >= fs.player.y + fs.player.height - 1 && fs.chat.y + fs.chat.height <= fs.h + 1, `on a phone the chat is under the player, in the window: ${JSON.stringify(fs)}`);
  await p.tap("wt-player #fullscreen");
  await until(p, () => document.fullscreenElement === null, null, "a tap leaves fullscreen");

  // Play by a tap; the controls hide while playing; a tap on the picture shows them again (and they stay).
  await pausedAt(p, 20);
  await p.tap("wt-player #play");
  await until(p, () => !document.getElementById("video").paused, null, "a tap on Play plays");
  await until(p, () => document.getElementById("player").classList.contains("idle"), null, "the controls hide while playing");
  await p.touchscreen.tap(...at(0.5));
  await until(p, () => !document.getElementById("player").classList.contains("idle"), null, "a tap on the picture shows the controls");
  // Past the double-tap window (300 ms) the controls are still there (a single tap is decided then).
  await p.waitForTimeout(700);
  assert.equal(await p.evaluate(() => document.getElementById("player").classList.contains("idle")), false, `the controls stay shown after a tap that showed them: ${JSON.stringify(await snapshot(p))}`);
  await p.tap("wt-player #play");
  await until(p, () => document.getElementById("video").paused, null, "a tap on Pause pauses");
  noProblems(p);
  await close(p);
});

/** axe-core's wcag2a + wcag2aa rules on the page: every violation printed; the serious or critical ones returned. */
async function axe(page, what) {
  if (!(await page.evaluate(() => typeof window.axe === "object"))) await page.addScriptTag({ path: AXE });
  const result = await page.evaluate(() => window.axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa"] } }).then((r) => ({
    violations: r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => ({ target: n.target.flat().join(" » "), summary: n.failureSummary })) })),
    incomplete: r.incomplete.map((v) => `${v.id} (${v.nodes.map((n) => n.target.flat().join(" » ")).join("; ")})`),
    passes: r.passes.length,
  })));
  console.log(`    axe, ${what}: ${result.passes} rules pass, ${result.violations.length} violated${result.violations.map((v) => ` [${v.impact}] ${v.id} ×${v.nodes.length}`).join(",")}; to check by hand: ${result.incomplete.join(", ") || "none"}`);
  return result.violations.filter((v) => v.impact === "serious" || v.impact === "critical").map((v) => ({ where: what, ...v }));
}

/** Every visible control in the player has an accessible name (aria-label, text or labelling). */
const unnamed = (page) => page.evaluate(() => {
  const r = document.getElementById("player").shadowRoot;
  return [...r.querySelectorAll("button, input, [role=slider], [role=menuitemradio], [tabindex]")]
    .filter((e) => e.getClientRects().length > 0)
    .filter((e) => !(e.getAttribute("aria-label") || e.textContent).trim())
    .map((e) => e.outerHTML.slice(0, 100));
});

/**
 * Contrast of every visible text in the player, computed here where axe
 * cannot (text over translucent bars over the video: axe leaves those "to
 * check"): the text's colour against its backgrounds composited over the
 * worst video pixel (white or black). [{text, ratio}], lowest first.
 */
const contrasts = (page) => page.evaluate(() => {
  const player = document.getElementById("player");
  const parse = (c) => { const n = c.match(/[\d.]+/g).map(Number); return [n[0], n[1], n[2], n[3] ?? 1]; };
  const lum = (rgb) => { const f = (c) => { const x = c / 255; return x <= 0.03928 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4; }; return 0.2126 * f(rgb[0]) + 0.7152 * f(rgb[1]) + 0.0722 * f(rgb[2]); };
  const over = (top, under) => [0, 1, 2].map((i) => top[i] * top[3] + under[i] * (1 - top[3]));
  const out = [];
  for (const el of player.shadowRoot.querySelectorAll("*")) {
    const own = [...el.childNodes].filter((n) => n.nodeType === 3).map((n) => n.textContent.trim()).join("");
    if (!own || el.getClientRects().length === 0 || el.closest("style, [hidden]") || getComputedStyle(el).visibility === "hidden" || getComputedStyle(el).opacity === "0") continue;
    const layers = [];
    for (let n = el; n; n = n.parentElement) { const bg = parse(getComputedStyle(n).backgroundColor); if (bg[3] > 0) layers.unshift(bg); if (bg[3] === 1) break; }
    let ratio = Infinity;
    for (const video of [[255, 255, 255], [0, 0, 0]]) {
      const bg = layers.reduce((under, top) => over(top, under), video);
      const fg = over(parse(getComputedStyle(el).color), bg);
      const [hi, lo] = [lum(fg), lum(bg)].sort((x, y) => y - x);
      ratio = Math.min(ratio, (hi + 0.05) / (lo + 0.05));
    }
    out.push({ text: own.slice(0, 30), where: el.className || el.id || el.tagName, ratio: Number(ratio.toFixed(2)) });
  }
  return out.sort((x, y) => x.ratio - y.ratio);
});

test("accessibility: axe-core finds no serious violation at desktop and phone size, controls shown and a menu open; every control named, reached by Tab, with a focus ring", async () => {
  const { id } = await createRoom(stack.url, { source: DEMO });
  const a = await openRoom(id, { name: "Axel" });
  await pausedAt(a, 12);

  // Tab from the start of the page reaches every control of the player, each drawn with a focus ring.
  await a.evaluate(() => { document.activeElement?.blur(); window.scrollTo(0, 0); });
  await a.mouse.click(5, 5); // the page's start: nothing focusable there
  const want = ["play", "seek", "mute", "volume", "captions", "speed", "quality", "fullscreen"];
  const reached = new Map();
  for (let i = 1; i <= 60 && reached.size < want.length; i++) {
    await a.keyboard.press("Tab");
    const f = await a.evaluate(() => {
      const el = document.getElementById("player").shadowRoot.activeElement;
      if (!el) return { outside: document.activeElement?.id || document.activeElement?.tagName };
      const s = getComputedStyle(el);
      return { key: el.id || el.className.split(" ")[0], outline: s.outlineStyle, width: s.outlineWidth, color: s.outlineColor, name: el.getAttribute("aria-label") };
    });
    if (f.key && want.includes(f.key) && !reached.has(f.key)) reached.set(f.key, { ...f, press: i });
  }
  const missing = want.filter((k) => !reached.has(k));
  assert.deepEqual(missing, [], `controls not reached by Tab: ${JSON.stringify([...reached])}`);
  for (const [key, f] of reached) {
    assert.ok(f.outline !== "none" && parseFloat(f.width) >= 1, `${key} shows a focus ring when reached by Tab: ${JSON.stringify(f)}`);
  }
  console.log(`    Tab presses from the page start: ${[...reached].map(([k, f]) => `${k} ${f.press}`).join(", ")}; focus ring ${[...reached.values()][0].outline} ${[...reached.values()][0].width} ${[...reached.values()][0].color}`);
  assert.deepEqual(await unnamed(a), [], "player controls without an accessible name");

  // axe with the controls shown (the desktop screenshot), then with the speed menu open.
  await blur(a);
  await a.mouse.move(640, 300);
  const serious = [];
  serious.push(...(await axe(a, "desktop, controls shown")));
  await shot(a, "ui-desktop.png");
  // (Stats first: a click on another control closes an open menu.)
  await a.click("wt-player #stats");
  await press(a, "#speed");
  await until(a, () => !document.getElementById("player").shadowRoot.getElementById("speed-menu").hidden, null, "the speed menu open");
  assert.deepEqual(await unnamed(a), [], "menu items without an accessible name");
  serious.push(...(await axe(a, "desktop, speed menu open")));
  // Contrast of the player's text over the video, worst case (axe leaves these to check): at least 4.5:1,
  // with the menu, the stats and a toast showing too.
  await a.evaluate(() => { const t = document.getElementById("player").shadowRoot.querySelector(".toast"); t.textContent = "Only the host and controllers can play"; t.hidden = false; });
  const texts = await contrasts(a);
  console.log(`    text contrast over the video (worst pixel): lowest ${texts.slice(0, 4).map((c) => `${c.ratio}:1 "${c.text}"`).join(", ")} (${texts.length} texts)`);
  assert.ok(texts.length >= 10, `texts found: ${JSON.stringify(texts)}`);
  assert.deepEqual(texts.filter((c) => c.ratio < 4.5), [], `text under 4.5:1: ${JSON.stringify(texts)}`);

  // Phone size (touch): controls shown, the captions menu open.
  const p = await openRoom(id, { size: PHONE, name: "Phoebe" });
  await addSubtitles(p);
  serious.push(...(await axe(p, "phone, controls shown")));
  await (TOUCH ? p.tap("wt-player #captions") : p.click("wt-player #captions"));
  await until(p, () => !document.getElementById("player").shadowRoot.getElementById("captions-menu").hidden, null, "the captions menu open");
  assert.deepEqual(await unnamed(p), [], "phone: controls without an accessible name");
  serious.push(...(await axe(p, "phone, captions menu open")));
  assert.deepEqual(serious, [], `axe: serious or critical violations (wcag2a, wcag2aa):\n${JSON.stringify(serious, null, 1)}`);
  noProblems(a, p);
  await close(a, p);
});

test("the embed <watch-together> on another site: the same controls, shortcuts only while focus is inside, its own fullscreen", async () => {
  const { id } = await createRoom(stack.url, { source: DEMO });
  writeFileSync(join(site.dir, "ui.html"), `<!doctype html><meta charset="utf-8"><title>Film club</title><link rel="icon" href="data:,">
<style>body { font: 16px/1.5 Georgia, serif; max-width: 760px; margin: 2em auto; color: #222 }</style>
<h1>Film club</h1><p>Tonight: the demo stream, together. Press play: everyone here sees the same frame.</p>
<watch-together id="wt" room="${id}" name="Embed"></watch-together>
<p>Comments below.</p>
<script type="module" src="${stack.url}/embed.js"></script>`);
  const context = await browser.newContext(DESKTOP);
  const e = await context.newPage();
  e.problems = [];
  e.on("console", (m) => { if (m.type() === "error") e.problems.push(`console: ${m.text()}`); });
  e.on("pageerror", (err) => e.problems.push(`pageerror: ${err.message}`));
  await e.goto(`${site.url}/ui.html`);
  // (Not yet upgraded — embed.js still loading, as once in WebKit — reads as "not yet", not as an error.)
  const inEmbed = (fn) => `(() => { const el = document.getElementById("wt"); const player = el?.shadowRoot?.querySelector("wt-player"); const r = player?.shadowRoot; const v = el?.video; if (!r || !v) return false; return (${fn})({ el, player, r, v }); })()`;
  await until(e, inEmbed(({ el, r, v }) => el.session?.connection === "open" && v.readyState >= 2 && r.querySelector("#play").getAttribute("aria-disabled") === null), null, "the embed joined with media, controls enabled", 20_000);
  // A second member in the room: the embed plays with it.
  const other = await openRoom(id, { name: "Room" });
  await front(e);
  await other.evaluate(() => window.watchTogether.session.seek(12));
  await until(e, inEmbed(({ v }) => Math.abs(v.currentTime - 12) < 0.3), null, "the embed follows the room to 12 s");

  // The same controls: Play by pointer; k with focus on the page does nothing, with focus inside pauses.
  await e.hover("watch-together wt-player .media");
  await e.click("watch-together wt-player #play");
  await until(e, inEmbed(({ r, v }) => !v.paused && r.querySelector("#play").getAttribute("aria-label") === "Pause"), null, "Play in the embed plays");
  await until(other, () => !document.getElementById("video").paused, null, "and the room plays");
  // Focus back on the host page as a reader puts it there: a click on its
  // text. (Not `blur()` on the <watch-together>: Firefox leaves focus on the
  // button inside, where `k` is the player's.)
  await e.click("h1");
  assert.equal(await e.evaluate(() => document.activeElement === document.body), true, "a click on the host page's text leaves focus on its body");
  await e.keyboard.press("k");
  await e.evaluate(() => document.getElementById("wt").session.chat("ping"));
  await until(other, () => document.getElementById("chat-log").textContent.includes("ping"), null, "a chat line from the embed back through the room");
  assert.equal(await e.evaluate(inEmbed(({ v }) => v.paused)), false, "k with focus on the host page does not reach the embed");
  await e.focus("watch-together wt-player .seek");
  await e.keyboard.press("k");
  await until(e, inEmbed(({ v }) => v.paused), null, "k with focus inside the player pauses");
  await until(other, () => document.getElementById("video").paused, null, "the room pauses");
  await e.click("watch-together wt-player #quality");
  await until(e, inEmbed(({ r }) => !r.getElementById("quality-menu").hidden && r.querySelectorAll("#quality-menu [role=menuitemradio]").length === 2), null, "the embed's quality menu: Auto and 240p");
  await e.keyboard.press("Escape");
  await until(e, inEmbed(({ r }) => r.getElementById("quality-menu").hidden && r.activeElement?.id === "quality"), null, "Escape closes the menu, focus on Quality");
  await e.evaluate(inEmbed(({ r }) => r.activeElement.blur()));
  await e.hover("watch-together wt-player .media");
  await shot(e, "ui-embed.png", { fullPage: true });

  // Fullscreen: the player itself (the host page sees its <watch-together>).
  await e.click("watch-together wt-player #fullscreen");
  await until(e, inEmbed(({ el, player }) => document.fullscreenElement === el && el.shadowRoot.fullscreenElement === player), null, "the embed's player fullscreen");
  await e.click("watch-together wt-player #fullscreen");
  await until(e, () => document.fullscreenElement === null, null, "out of fullscreen");
  noProblems(e, other);
  await close(e, other);
});
