// engines: chromium firefox webkit
// The script-tag embed on somebody else's site: a page served from another
// origin loads `embed.js` from the worker with one <script type="module">,
// and two <watch-together> players on that page join one room and stay in
// sync; nothing leaks into `window`, the page's styles do not reach into the
// players and theirs do not leak out. A player given only `src` creates its
// room. A screenshot goes to target/test-results/screens/embed.png.
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { newPage, test, withBrowser } from "../support/browser.mjs";
import { ENGINE } from "../support/engines.mjs";
import { createRoom, root, setup, until, withStack } from "../support/stack.mjs";
import { withSite } from "../support/upstream.mjs";

const SCREENS = join(root, "target/test-results/screens");
setup(() => mkdirSync(SCREENS, { recursive: true }));
const stack = withStack();
const browser = withBrowser();
const site = withSite();

// The first script of the host page (a classic one, so it runs before the
// embed's module) counts every room socket the page opens (one per player
// when nothing fails) and notes the page's globals. (In the page itself, not
// an init script: WebDriver classic, which drives WebKit, has none.)
const INSTRUMENT = `<script>{
  const Native = window.WebSocket;
  window.__sockets = [];
  window.WebSocket = class extends Native {
    constructor(url, protocols) {
      super(url, protocols);
      if (/\\/api\\/rooms\\/[^/]+\\/ws/.test(String(url))) window.__sockets.push(String(url));
    }
  };
  window.__globals = Object.getOwnPropertyNames(window);
}</script>`;

// The host page's own styles: they must not reach the players in their shadow roots.
const page = (body) => `<!doctype html><meta charset="utf-8"><title>Film club</title><link rel="icon" href="data:,">${INSTRUMENT}
<style>body { font: 16px serif; max-width: 900px; margin: 2em auto; } video { visibility: hidden } .bar { color: rgb(255, 0, 0) }
  .players { display: grid; grid-template-columns: 1fr 1fr; gap: 1em }</style>
<h1>Film club</h1><p class="bar">Tonight: the demo stream, together.</p>
${body}
<script type="module" src="${stack.url}/embed.js"></script>`;

async function open(file, html) {
  writeFileSync(join(site.dir, file), html);
  const p = await newPage(browser);
  await p.goto(`${site.url}/${file}`);
  return p;
}

const ready = (sel) => [...document.querySelectorAll(sel)].every((el) => el.session?.connection === "open" && el.video.readyState >= 2);

test("two players from one script tag on another origin join one room and play in sync", async () => {
  const { id } = await createRoom(stack.url, {});
  assert.notEqual(new URL(site.url).origin, new URL(stack.url).origin);
  const p = await open("club.html", page(`<div class="players">
    <watch-together id="left" room="${id}" name="Left"></watch-together>
    <watch-together id="right" room="${id}" name="Right"></watch-together></div>`));
  await p.waitForFunction(ready, "watch-together", { timeout: 15_000 });
  await p.waitForFunction(() => document.getElementById("left").shadowRoot.querySelector(".people").textContent === "2 watching", null, { timeout: 20_000 });
  // One join per player: the element's attribute callbacks and its
  // connectedCallback at upgrade make one join, not one each.
  assert.equal(await p.evaluate(() => window.__sockets.length), 2, "one room socket per player");

  // Nothing added to window; styles scoped both ways.
  // (`__pw…`: what Playwright's own driver adds, in Firefox over BiDi;
  // `__wtProblems`: the WebKit adapter's record of page errors.)
  const leaked = await p.evaluate(() => Object.getOwnPropertyNames(window).filter((k) => !window.__globals.includes(k) && k !== "__globals" && !k.startsWith("__pw") && k !== "__wtProblems"));
  assert.deepEqual(leaked, [], "no globals");
  const styles = await p.evaluate(() => {
    const el = document.getElementById("left");
    return {
      shadowVideo: getComputedStyle(el.video).visibility,
      shadowBar: getComputedStyle(el.shadowRoot.querySelector(".bar")).color,
      pageBar: getComputedStyle(document.querySelector("p.bar")).color,
      lightDomChildren: el.children.length,
      videosInDocument: document.querySelectorAll("video").length,
    };
  });
  assert.equal(styles.shadowVideo, "visible", "the page's `video { visibility: hidden }` does not reach the player");
  assert.notEqual(styles.shadowBar, "rgb(255, 0, 0)", "nor its .bar colour");
  assert.equal(styles.pageBar, "rgb(255, 0, 0)", "the player's .bar style does not leak out");
  assert.equal(styles.videosInDocument, 0, "the videos live in shadow roots");
  assert.equal(styles.lightDomChildren, 0);

  // Events come out of the element; playing in one plays the room.
  await p.evaluate(() => {
    window.__events = [];
    document.getElementById("right").addEventListener("state", (e) => window.__events.push(e.detail.playing));
    document.getElementById("left").session.play();
  });
  await p.waitForFunction(() => [...document.querySelectorAll("watch-together")].every((el) => !el.video.paused && el.video.currentTime > 1), null, { timeout: 10_000 });
  assert.ok(await p.evaluate(() => window.__events.includes(true)), "the right player dispatched the room's `state`");
  // Both players of one page read in one task: the same instant. In
  // Chromium by `currentTime`; in Firefox (41 ms steps) and WebKit (its
  // `currentTime` runs ~1 s ahead of the picture once routed into WebAudio)
  // by the picture, as the player reads them: the last frame shown carried to now.
  const gap = () => p.evaluate((byPicture) => {
    const [a, b] = [...document.querySelectorAll("watch-together")].map((el) => {
      const v = el.video;
      if (!byPicture || !v.requestVideoFrameCallback) return v.currentTime;
      if (!v.__wtFrame) {
        v.__wtFrame = [0, 0];
        const on = (_, meta) => { v.__wtFrame = [performance.timeOrigin + meta.expectedDisplayTime, meta.mediaTime]; v.requestVideoFrameCallback(on); };
        v.requestVideoFrameCallback(on);
      }
      const [shown, t] = v.__wtFrame;
      const now = performance.timeOrigin + performance.now();
      return !v.paused && now - shown < 150 && now >= shown - 50 ? t + ((now - shown) / 1000) * v.playbackRate : null;
    });
    // (null, not NaN, without a fresh frame: WebDriver classic sends NaN as null.)
    return a == null || b == null ? null : Math.abs(a - b);
  }, ENGINE !== "chromium");
  const apart = await until(async () => { const g = await gap(); return Number.isFinite(g) && g < 0.1 && g + 1e-9; }, { timeout: 10_000, what: "the two players within 100 ms" }).catch(async (e) => assert.fail(`${e.message}: ${(await gap()) * 1000} ms apart`));
  console.log(`    players ${(apart * 1000).toFixed(0)} ms apart`);
  await p.screenshot({ path: join(SCREENS, "embed.png"), fullPage: true });

  // Removing an element leaves the room (a goodbye, not a 30 s grace); the other one sees it go.
  await p.evaluate(() => document.getElementById("right").remove());
  await p.waitForFunction(() => document.getElementById("left").session.members.length === 1, null, { timeout: 10_000 });
  assert.deepEqual(p.problems, []);
});

test("a player given only `src` creates its room and says which", async () => {
  const src = `${stack.url}/media/demo/manifest.mpd`;
  const p = await open("own.html", page(`<watch-together id="own" src="${src}" name="Solo"></watch-together>
    <script>document.getElementById("own").addEventListener("room", (e) => { window.__room = e.detail; });</script>`));
  await p.waitForFunction(ready, "watch-together", { timeout: 15_000 });
  const { attr, event, role } = await p.evaluate(() => ({ attr: document.getElementById("own").getAttribute("room"), event: window.__room, role: document.getElementById("own").session.role }));
  assert.match(attr, /^[A-Za-z0-9_-]{22}$/);
  assert.equal(event.room, attr);
  assert.equal(event.url, `${stack.url}/r/${attr}`);
  assert.equal(role, "host", "the creator is the room's host");
  const info = await fetch(`${stack.url}/api/rooms/${attr}`).then((r) => r.json());
  assert.ok(JSON.stringify(info).includes("manifest.mpd"), JSON.stringify(info));
  assert.deepEqual(p.problems, []);
});
