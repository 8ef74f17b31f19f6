// Two real headless Chromium pages in one room on the real workerd runtime.
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { joined, launch, newPage, positionAt, readVideo, waitFor } from "../support/browser.mjs";
import { root, sleep, startStack } from "../support/stack.mjs";

let stack, browser;
before(async () => {
  stack = await startStack();
  browser = await launch();
});
after(async () => {
  await browser?.close();
  await stack?.stop();
});

/** Positions of the two pages, extrapolated to one instant. */
async function gap(a, b) {
  const at = Date.now();
  const [pa, pb] = await Promise.all([positionAt(a, at), positionAt(b, at)]);
  return { pa, pb, gap: Math.abs(pa - pb) };
}



test("two browsers stay in sync through play, seek, pause and reload", async () => {
  const a = await newPage(browser);
  const b = await newPage(browser);

  // A creates a room from the landing page and shares the link with B.
  await a.goto(`${stack.url}/`);
  await a.click("#create");
  await a.waitForURL(/\/r\/[A-Za-z0-9_-]{22}$/);
  const link = await a.inputValue("#share-link");
  assert.equal(link, a.url());
  await b.goto(link);
  await Promise.all([joined(a), joined(b)]);
  await waitFor(a, () => document.querySelectorAll("#members li").length === 2, null, 5_000, "A sees two members");

  // Play on A: B is playing within 1 s.
  const clicked = Date.now();
  await a.click("#play");
  await waitFor(b, () => { const v = document.getElementById("video"); return !v.paused && v.currentTime > 0; }, null, 1_000, "B playing");
  const startDelay = Date.now() - clicked;
  await sleep(1_500);
  let g = await gap(a, b);
  assert.ok(g.gap < 0.1, `in sync while playing: ${JSON.stringify(g)}`);

  // Seek on B to 10 s: A follows to within 0.5 s.
  await b.fill("#seek-to", "10");
  await b.click("#seek");
  await waitFor(a, () => document.getElementById("video").currentTime >= 10, null, 3_000, "A at 10 s");
  await sleep(500);
  g = await gap(a, b);
  assert.ok(g.gap < 0.5, `A within 0.5 s of B after the seek: ${JSON.stringify(g)}`);
  assert.ok(g.pa >= 10 && g.pa < 13, `near 10 s: ${JSON.stringify(g)}`);

  // Pause on A: B pauses, at the same frame.
  await a.click("#pause");
  await waitFor(b, () => document.getElementById("video").paused, null, 1_000, "B paused");
  await sleep(300);
  g = await gap(a, b);
  assert.ok(g.gap < 0.1, `paused together: ${JSON.stringify(g)}`);
  const pausedAt = g.pb;

  // Reload A while paused: A rejoins paused at the room's position.
  await a.reload();
  await joined(a);
  await waitFor(a, (t) => Math.abs(document.getElementById("video").currentTime - t) < 0.1, pausedAt, 5_000, "A back at the paused position");
  assert.equal((await readVideo(a)).paused, true);

  // Play on B, then reload A while playing: A rejoins playing, in sync.
  await b.click("#play");
  await waitFor(a, () => !document.getElementById("video").paused, null, 1_000, "A playing");
  await sleep(1_000);
  await a.reload();
  await joined(a);
  await waitFor(a, () => !document.getElementById("video").paused, null, 5_000, "A playing after reload");
  await sleep(2_000);
  g = await gap(a, b);
  assert.ok(g.gap < 0.1, `in sync after reload: ${JSON.stringify(g)}`);

  // The sync overlay shows real figures.
  const overlay = await a.textContent("#overlay");
  assert.match(overlay, /drift -?\d+ ms · rtt \d+ ms/);

  const dir = join(root, "target/test-results");
  mkdirSync(dir, { recursive: true });
  await a.screenshot({ path: join(dir, "room.png") });
  console.log(`    play reached B in ${startDelay} ms; final gap ${(g.gap * 1000).toFixed(0)} ms; screenshot target/test-results/room.png`);

  assert.deepEqual(a.problems, [], "no console errors on A");
  assert.deepEqual(b.problems, [], "no console errors on B");
});
