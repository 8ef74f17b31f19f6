// Join and leave 50 times in one page: everything a session takes must come
// back. The page is instrumented before any script runs: every
// addEventListener / removeEventListener, setTimeout / setInterval (and their
// clears), WebSocket, AudioContext and object URL is counted. After a first
// join/leave (which loads the wasm module and gives the element its one
// WebAudio graph, both for the page's lifetime) the counts are the baseline;
// after 50 more they must be back to it, and the JS heap and the wasm memory
// (after a forced GC) must not grow with the number of cycles.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { newPage, withBrowser } from "../support/browser.mjs";
import { createRoom, setup, sleep, withStack } from "../support/stack.mjs";
import { withSite } from "../support/upstream.mjs";

const INSTRUMENT = () => {
  const live = { listeners: 0, timers: new Set(), intervals: new Set(), sockets: [], contexts: [], urls: new Set() };
  window.__live = live;
  const seen = new WeakMap();
  const key = (type, opts) => `${type}|${typeof opts === "boolean" ? opts : !!opts?.capture}`;
  const add = EventTarget.prototype.addEventListener;
  const remove = EventTarget.prototype.removeEventListener;
  EventTarget.prototype.addEventListener = function (type, fn, opts) {
    if (fn && !opts?.once) {
      let byType = seen.get(this);
      if (!byType) {
        byType = new Map();
        seen.set(this, byType);
      }
      let fns = byType.get(key(type, opts));
      if (!fns) {
        fns = new Set();
        byType.set(key(type, opts), fns);
      }
      if (!fns.has(fn)) { fns.add(fn); live.listeners++; }
    }
    return add.call(this, type, fn, opts);
  };
  EventTarget.prototype.removeEventListener = function (type, fn, opts) {
    if (seen.get(this)?.get(key(type, opts))?.delete(fn)) live.listeners--;
    return remove.call(this, type, fn, opts);
  };
  const [st, ct, si, ci] = [setTimeout, clearTimeout, setInterval, clearInterval];
  window.setTimeout = (fn, ms, ...a) => {
    const id = st(function (...x) { live.timers.delete(id); if (typeof fn === "function") fn.apply(this, x); }, ms, ...a);
    live.timers.add(id);
    return id;
  };
  window.clearTimeout = (id) => { live.timers.delete(id); ct(id); };
  window.setInterval = (fn, ms, ...a) => { const id = si(fn, ms, ...a); live.intervals.add(id); return id; };
  window.clearInterval = (id) => { live.intervals.delete(id); ci(id); };
  const WS = WebSocket;
  window.WebSocket = class extends WS { constructor(...a) { super(...a); live.sockets.push(new WeakRef(this)); } };
  const AC = AudioContext;
  window.AudioContext = class extends AC { constructor(...a) { super(...a); live.contexts.push(new WeakRef(this)); } };
  const [cu, ru] = [URL.createObjectURL, URL.revokeObjectURL];
  URL.createObjectURL = (o) => { const u = cu(o); live.urls.add(u); return u; };
  URL.revokeObjectURL = (u) => { live.urls.delete(u); ru(u); };
  window.__counts = async () => {
    gc();
    await new Promise((r) => st(r, 50));
    gc();
    const alive = (refs, open) => refs.filter((r) => { const x = r.deref(); return x && open(x); }).length;
    return {
      listeners: live.listeners,
      timers: live.timers.size,
      intervals: live.intervals.size,
      sockets: alive(live.sockets, (s) => s.readyState !== WebSocket.CLOSED),
      audioContexts: alive(live.contexts, (c) => c.state !== "closed"),
      objectUrls: live.urls.size,
      heap: performance.memory.usedJSHeapSize,
      // The module's one memory (export names are minified in the bundle).
      wasm: Object.values(await window.wt.load()).find((v) => v instanceof WebAssembly.Memory).buffer.byteLength,
    };
  };
};

const PAGE = (server) => `<!doctype html><meta charset="utf-8"><title>leak check</title><link rel="icon" href="data:,">
<div id="box"><video id="video" playsinline muted></video></div>
<script type="module">import * as wt from "${server}/watch-together.js"; window.wt = wt; window.server = "${server}"; await wt.load(); document.title = "ready";</script>`;

const stack = withStack();
const browser = withBrowser(["--js-flags=--expose-gc", "--enable-precise-memory-info"]);
const site = withSite();
setup(() => writeFileSync(join(site.dir, "leak.html"), PAGE(stack.url)));

async function leakPage() {
  const p = await newPage(browser);
  await p.addInitScript(INSTRUMENT);
  await p.goto(`${site.url}/leak.html`);
  await p.waitForFunction(() => document.title === "ready");
  return p;
}

/** Join (media attached and loading), then leave; `fresh` puts a new <video> in the page first. */
async function cycle(p, room, fresh, measure = false) {
  await p.evaluate(async ({ room, fresh }) => {
    if (fresh) document.getElementById("box").innerHTML = `<video id="video" playsinline muted></video>`;
    window.s = await window.wt.join({ server: window.server, room, video: document.getElementById("video"), name: "cycler" });
  }, { room, fresh });
  await p.waitForFunction(() => window.s.connection === "open" && document.getElementById("video").readyState >= 2, null, { timeout: 10_000 });
  const live = measure ? await p.evaluate(() => window.__counts()) : null;
  // Once left, the getters give what it knew and a command is a typed error (not a freed wasm object's null pointer).
  const left = await p.evaluate(() => {
    const s = window.s;
    s.leave();
    const seen = { tracks: s.textTracks.length, qualities: s.qualities.length, stats: s.stats !== null && typeof s.stats === "object", paused: s.playhead.paused, canControl: s.canControl };
    try { s.play(); seen.play = "no error"; } catch (e) { seen.play = e.code; }
    window.s = null;
    return seen;
  });
  assert.deepEqual(left, { tracks: 0, qualities: 0, stats: true, paused: true, canControl: false, play: "left" }, JSON.stringify(left));
  return live;
}

/**
 * The counts once cleanup has finished: sockets closed, and the same counts
 * (heap and wasm aside) twice in a row — closing sockets and AudioContexts
 * finish asynchronously. After 10 s the counts are returned as they are (a
 * leak keeps something open: the assertions then say what).
 */
async function settle(p) {
  const deadline = Date.now() + 10_000;
  let prev;
  for (;;) {
    const counts = await p.evaluate(() => window.__counts());
    const stable = prev && JSON.stringify(same(prev)) === JSON.stringify(same(counts));
    if ((counts.sockets === 0 && stable) || Date.now() > deadline) return counts;
    prev = counts;
    await sleep(100);
  }
}

const same = ({ heap, wasm, ...counts }) => counts;

for (const fresh of [false, true]) {
  test(`50 joins and leaves ${fresh ? "with a new <video> each time" : "on one <video>"}: listeners, timers, sockets and memory come back`, async () => {
    const { id } = await createRoom(stack.url, {});
    const p = await leakPage();
    const before = await settle(p);
    await cycle(p, id, fresh);
    const base = await settle(p);
    const during = [];
    let joined;
    for (let i = 1; i <= 50; i++) {
      const live = await cycle(p, id, fresh, i === 1);
      joined ??= live;
      if (i === 10 || i === 50) during.push(await settle(p));
    }
    const [at10, at50] = during;
    console.log(JSON.stringify({ fresh, before, base, joined, at10, at50 }));
    // The instrument sees what a session holds (so it would see a leak).
    assert.ok(joined.listeners >= base.listeners + 10, `a joined session's listeners are counted: ${joined.listeners}`);
    assert.equal(joined.sockets, 2, "its sockets: the room's and the edge clock's");
    assert.ok(joined.timers + joined.intervals >= 2, "its timers (sync loop, media engine tick)");
    assert.deepEqual(same(at50), same(base), "the same live listeners, timers, sockets, AudioContexts and object URLs as after the first cycle");
    assert.equal(base.sockets, 0);
    assert.equal(base.timers + base.intervals, before.timers + before.intervals, "no timer outlives its session");
    assert.equal(base.listeners, before.listeners, "no listener outlives its session");
    const perCycle = (at50.heap - at10.heap) / 40;
    assert.ok(perCycle < 20_000, `JS heap grows ${Math.round(perCycle)} bytes per join/leave (${at10.heap} → ${at50.heap})`);
    assert.ok(at50.wasm - at10.wasm <= 1 << 20, `wasm memory ${at10.wasm} → ${at50.wasm}`);
    assert.deepEqual(p.problems, []);
  });
}
