// engines: chromium firefox webkit
// The room session in real headless browsers against the real worker:
// three pages in a room, a late joiner, a reload, a cut socket (a TCP proxy
// that drops it), autoplay refused and a suspended AudioContext (a browser
// launched without the autoplay allowance), a quality switch and starved
// timers during playback. In Firefox and WebKit too: the late joiner and
// reload, the cut socket, the quality switch and autoplay refused (in
// Firefox without its AudioContext half); the rest needs what only
// Chromium's driver gives (each test says what, where it is skipped).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { converge, ENGINE, gap, gapsFor, heardStates, joined, launch, newPage, pause, pickQuality, play, positionAt, readVideo, test, traceStates, waitFor, withBrowser } from "../support/browser.mjs";
import { launchHeadful } from "../support/headful.mjs";
import { startNetem } from "../support/netem.mjs";
import { createRoom, root, sleep, withStack } from "../support/stack.mjs";
import { withUpstream } from "../support/upstream.mjs";

const stack = withStack();
const browser = withBrowser();
/** Skip `t` outside Chromium, saying which of Chromium's driver features the test needs. */
function chromiumOnly(t, needs) {
  if (ENGINE === "chromium") return false;
  t.skip(`${ENGINE}: needs ${needs} (Chromium's driver only)`);
  return true;
}
const up = withUpstream({ "/m/": join(root, "target/test-media") });


async function openRoom(url, b = browser) {
  const page = await newPage(b);
  await page.goto(url);
  await joined(page);
  return page;
}

const member = (page) => page.evaluate(() => window.watchTogether.member);
// How close and how soon a late joiner must be: Firefox reads its position
// in 41 ms steps and, three pages on 2 busy cores, was once 256 ms off
// after 8 s (late join idle in `bench sync` F: 4–5 s); three WebKit pages
// (software rendering) starve 2 busy cores: once 390 ms off after 8 s
// (1.1–1.3 s to within 50 ms otherwise).
const [JOIN_S, JOIN_MS] = ENGINE === "chromium" ? [0.05, 8_000] : [0.1, 20_000];
const stats = (page) => page.evaluate(() => window.watchTogether.session.stats);

// (WebKit: skipped until 2026-12-05, when on busy cores a late WebKit page
// was 570 ms behind after 20 s: its seek-only correction never learned where
// its seeks land, and a single frozen-picture reading set off a seek. Both
// fixed in the sync core (`drift.rs`, `client.rs`); 6 of 6 passed with two
// busy loops, with two and three pages.)
test("three pages: a late joiner converges; a reload keeps the member's identity", async () => {
  const room = await createRoom(stack.url);
  const a = await openRoom(`${stack.url}${room.url}`);
  const b = await openRoom(`${stack.url}${room.url}`);
  await play(a);
  await waitFor(b, () => !document.getElementById("video").paused, null, 10_000, "B playing");
  await sleep(3_000); // the room plays on before C joins late
  const c = await openRoom(`${stack.url}${room.url}`);
  const took = await converge(a, c, JOIN_S, JOIN_MS, "late joiner C");
  console.log(`    late joiner within ${JOIN_S * 1000} ms of A after ${took} ms`);
  await waitFor(a, () => document.querySelectorAll("#members li").length === 3, null, 10_000, "A sees 3 members");
  const before = await member(c);
  assert.ok(before, "C has a member id");
  await c.reload();
  await joined(c);
  await waitFor(c, (m) => window.watchTogether.member === m, before, 10_000, "C back as the same member");
  await waitFor(a, () => {
    const ids = [...document.querySelectorAll("#members li")].map((li) => li.dataset.member);
    return ids.length === 3 && new Set(ids).size === 3;
  }, null, 10_000, "3 members, no ghost after the reload");
  await converge(a, c, JOIN_S, JOIN_MS, "C after its reload");
  for (const p of [a, b, c]) assert.deepEqual(p.problems, []);
  for (const p of [a, b, c]) await p.context().close();
});

test("the edge time endpoint: probed and agreeing; a page whose edge fails, or answers a wrong time, keeps syncing on the room's pings", async (t) => {
  if (chromiumOnly(t, "Playwright's routeWebSocket")) return;
  const room = await createRoom(stack.url);
  const a = await openRoom(`${stack.url}${room.url}`);
  await waitFor(a, () => window.watchTogether.session.stats.edgeClock === "agrees" && window.watchTogether.session.stats.edgeRttMs != null, null, 10_000, "A's edge probes agree with the room");
  // B's edge is down: every socket to /api/time is closed at once.
  const down = await newPage(browser);
  let failed = 0;
  await down.routeWebSocket("**/api/time", (ws) => { failed++; ws.close({ code: 1011, reason: "down" }); });
  await down.goto(`${stack.url}${room.url}`);
  await joined(down);
  // Rested after three failures (at B's start), not hammered. (Three failed
  // probes take one to three sockets: probes asked while a socket still
  // opens wait on it and fail with it — CI's busy machine once made two,
  // 2026-12-06.) The rest is 30 s: B's checks below take well under that.
  await waitFor(down, () => window.watchTogether.session.stats.edgeClock === "failing", null, 10_000, "B says its edge is failing");
  const before = failed;
  assert.ok(before >= 1 && before <= 3, `three failed probes (one to three sockets) rest the edge: ${before} sockets`);
  await play(a);
  await converge(a, down, 0.03, 10_000, "B (edge down) with A");
  const gaps = await gapsFor(a, down, 5_000);
  assert.equal(failed, before, "no probe while the edge rests");
  assert.ok(Math.max(...gaps) < 30, `B stays in sync on the room's pings: ${gaps.map((g) => g.toFixed(0)).join(" ")} ms`);
  // C's edge answers, but 5 s off: its bounds miss the room's.
  const wrong = await newPage(browser);
  await wrong.routeWebSocket("**/api/time", (ws) => ws.onMessage(() => ws.send(JSON.stringify({ t: Date.now() + 5_000 }))));
  await wrong.goto(`${stack.url}${room.url}`);
  await joined(wrong);
  await converge(a, wrong, 0.03, 10_000, "C (edge 5 s off) with A");
  await waitFor(wrong, () => window.watchTogether.session.stats.edgeClock === "disagrees", null, 10_000, "C says its edge disagrees");
  const seen = (await stats(wrong)).edgeMinusRoomMs;
  assert.ok(Math.abs(seen - 5_000) < 100, `C's stats show the edge ${seen} ms off the room`);
  assert.deepEqual(a.problems, []);
  assert.deepEqual(wrong.problems, []);
  assert.deepEqual(down.problems.filter((p) => !/WebSocket|api\/time/.test(p)), [], "only the failed probes");
  for (const p of [a, down, wrong]) await p.context().close();
});

test("the socket is cut: reconnects with growing backoff, never a tight loop, and resyncs", async (t) => {
  const net = await startNetem(new URL(stack.url));
  // (Closed whatever fails: its open sockets would keep the file's process alive.)
  t.after(() => net.close());
  const room = await createRoom(stack.url);
  const a = await openRoom(`${stack.url}${room.url}`);
  const d = await openRoom(`${net.url}${room.url}`);
  await d.evaluate(() => {
    window.conn = [];
    window.watchTogether.session.addEventListener("connection", (e) => window.conn.push({ ...e.detail, at: Date.now() }));
  });
  // (The room's states as A and D heard them start a failure's message.)
  await Promise.all([traceStates(a), traceStates(d)]);
  await play(a);
  await waitFor(d, () => !document.getElementById("video").paused, null, 10_000, "D playing");
  await sleep(1_000); // D plays a while before its socket is cut
  net.cut();
  await sleep(8_000); // the window the retries are counted in
  const log = await d.evaluate(() => window.conn);
  const retries = log.filter((c) => c.state === "closed").map((c) => c.retryInMs);
  const attempts = net.wsRefused();
  assert.ok(retries.length >= 2 && retries.length <= 5, `a few retries in 8 s, not a loop: ${JSON.stringify(log)}`);
  assert.ok(attempts <= 5, `at most 5 WebSocket handshakes reached the network in 8 s: ${attempts}`);
  assert.ok(retries[retries.length - 1] > retries[0], `backoff grows: ${retries}`);
  assert.ok(retries.every((r) => r >= 500 && r <= 30_000), `1 s → 30 s with jitter: ${retries}`);
  // The room moves on meanwhile: A seeks (and is seen there first: a
  // Firefox run once found A and D in sync short of 20 s after D came
  // back, 2026-12-06 — whether A's seek was lost or undone is not known).
  await a.fill("#seek-to", "20");
  await a.click("#seek");
  const heard = () => heardStates({ A: a, D: d });
  await waitFor(a, () => window.__states.some((s) => s.position === 20) && window.__states.at(-1).position >= 20 && document.getElementById("video").currentTime >= 20, null, 10_000, "A heard the room at 20 s and plays there").catch(async (e) => { throw new Error(`${await heard()}; ${e.message}`); });
  net.restore();
  // The next attempt is due when the last backoff announced runs out (up to
  // ~16 s after the cut at this point): within that plus a margin for a
  // busy machine, not a fixed 12 s (missed once under load).
  const due = await d.evaluate(() => { const c = window.conn.findLast((x) => x.state === "closed"); return c ? c.at + c.retryInMs - Date.now() : 0; });
  await waitFor(d, () => document.getElementById("connection").dataset.state === "open", null, Math.max(0, due) + 10_000, `D reconnected (its next attempt due in ${Math.round(due)} ms)`);
  // (Firefox and WebKit pages take longer to converge on busy cores: WebKit's missed 8 s by 233–394 ms twice in six loaded runs.)
  const took = await converge(a, d, 0.1, ENGINE === "chromium" ? 8_000 : 20_000, "D after the reconnect");
  console.log(`    ${retries.length} retries (${retries.map((r) => Math.round(r)).join(", ")} ms); resynced ${took} ms after reconnecting`);
  const [pa, pd] = [await positionAt(a, Date.now()), await positionAt(d, Date.now())];
  assert.ok(pd >= 20, `${await heard()}; D followed the seek made while it was away (A at ${pa.toFixed(3)}, D at ${pd.toFixed(3)})`);
  await a.context().close();
  await d.context().close();
});

// Each engine without the autoplay allowance (`launch({ autoplay: false })`;
// Chromium: document-user-activation-required; WebKit: MiniBrowser's
// default policy; Firefox: audible play only from real user input): the
// page gets no gesture at all until the test clicks in it (how it is
// watched without one: below).
test("autoplay refused and a suspended AudioContext: muted fallback, needs-gesture, bounded resume attempts, recovered by a gesture", async (t) => {
  // Firefox under Playwright's BiDi driver: every document has sticky
  // activation ~70 ms after load (the driver's utility world is created
  // with `userActivation: true`). Its strict policy there refuses audible
  // play outside a handler of real user input, but an AudioContext
  // follows sticky activation alone: it runs, so that the context starts
  // suspended and stays so without a gesture is not checked there (its
  // resume attempts are still bounded).
  const webaudioStrict = ENGINE !== "firefox";
  // (Launched here, not for the file: no idle browser beside the others.)
  const strict = await launch([], { autoplay: false });
  t.after(() => strict.close());
  const room = await createRoom(stack.url);
  const a = await openRoom(`${stack.url}${room.url}`);
  const g = await newPage(strict);
  // The page is watched without a gesture from the driver: Playwright's
  // evaluate is one (CDP's userGesture, BiDi's userActivation: a Firefox page
  // read `hasBeenActive` true after it), so there the page reports through
  // its console from a preload script. Classic WebDriver has neither, and its
  // executeScript is no gesture (a WebKit page read `hasBeenActive` false
  // until a click): there the reports are collected by polling.
  const log = [];
  const watch = (report) => {
    const hook = setInterval(() => {
      const w = window.watchTogether;
      if (!w?.session) return;
      clearInterval(hook);
      report("activation", { active: navigator.userActivation.hasBeenActive, now: navigator.userActivation.isActive });
      for (const k of ["needs-gesture", "audio", "unmuted"]) w.session.addEventListener(k, (e) => report(k, e.detail ?? null));
      setInterval(() => report("video", { t: w.video.currentTime, paused: w.video.paused, muted: w.video.muted, seeking: w.video.seeking, ready: w.video.readyState, audio: w.session.audio }), 200);
    }, 20);
  };
  let polling = null;
  if (ENGINE === "webkit") {
    await g.goto(`${stack.url}${room.url}`);
    await g.evaluate((src) => {
      window.__wtReports = [];
      new Function("report", `(${src})(report)`)((kind, detail) => window.__wtReports.push(JSON.parse(JSON.stringify({ kind, detail }))));
    }, watch.toString());
    let stop = false;
    polling = (async () => {
      while (!stop) {
        const batch = await g.evaluate(() => window.__wtReports.splice(0)).catch(() => []);
        for (const e of batch) log.push({ ...e, at: Date.now() });
        await sleep(100);
      }
    })();
    polling.stop = () => { stop = true; return polling; };
  } else {
    g.on("console", (m) => {
      const t = m.text();
      if (t.startsWith("WT-REPORT ")) log.push({ ...JSON.parse(t.slice(10)), at: Date.now() });
    });
    await g.addInitScript(`(${watch})((kind, detail) => console.log("WT-REPORT " + JSON.stringify({ kind, detail })))`);
    await g.goto(`${stack.url}${room.url}`);
  }
  try {
    const until = async (pred, ms, what) => {
      const t0 = Date.now();
      while (!log.some(pred)) {
        if (Date.now() - t0 > ms) {
          const video = log.filter((e) => e.kind === "video").slice(-40).map(({ at, detail: d }) => `${at % 100_000} ${d.t.toFixed(2)}${d.paused ? " paused" : ""}${d.muted ? " muted" : ""}${d.seeking ? " seeking" : ""} rs${d.ready} ${d.audio?.state}`);
          throw new Error(`${what}: ${JSON.stringify(log.filter((e) => e.kind !== "video").slice(-8))}; the element every 200 ms: ${video.join(", ")}`);
        }
        await sleep(50);
      }
    };
    const last = (kind) => log.filter((e) => e.kind === kind).pop()?.detail;
    const attempts = () => Math.max(0, ...log.filter((e) => e.kind === "video" && e.detail.audio).map((e) => e.detail.audio.resumeAttempts));
    await until((e) => e.kind === "video", 10_000, "the page reporting");
    // (In Firefox the page's activation is the driver's, so its strict
    // policy there asks for real user input instead: see engines.mjs.)
    const activation = log.find((e) => e.kind === "activation").detail;
    if (ENGINE !== "firefox") assert.equal(activation.active, false, `the page has had no user activation: ${JSON.stringify(activation)}`);
    // (Through polling, a first event may come before the hook: the reports say the state too.)
    if (webaudioStrict) await until((e) => (e.kind === "audio" && e.detail.state === "suspended") || (e.kind === "video" && e.detail.audio?.state === "suspended"), 10_000, "an AudioContext that starts suspended");
    await play(a);
    // Unmuted play() is refused: the element plays muted and the page is told.
    await until((e) => e.kind === "needs-gesture", 8_000, "needs-gesture");
    await until((e) => e.kind === "video" && !e.detail.paused && e.detail.muted && e.detail.t > 1, 8_000, "playing muted");
    // Without a gesture the context cannot resume: a few attempts, then it waits — not a loop.
    await sleep(6_000); // the window in which resume attempts are counted
    const tries = attempts();
    assert.ok(tries >= (webaudioStrict ? 1 : 0) && tries <= 5, `bounded resume attempts without a gesture: ${tries}`);
    const before = last("video").audio.state;
    if (webaudioStrict) assert.equal(before, "suspended", "still suspended: nothing forced it");
    await sleep(3_000); // the window in which no further attempt may come
    assert.equal(attempts(), tries, "no further attempts while waiting for a gesture");
    // The room played on all along: no pause of the engine's (WebKitGTK's,
    // after it unmuted the element by itself) was taken for the viewer's.
    assert.equal(await a.evaluate(() => document.getElementById("video").paused), false, "the other page still playing");
    // A real click: the context runs and the sound comes back.
    // (Only what comes after the click counts: in Firefox the context ran before it.)
    const mark = log.length;
    const after = (pred) => (e, i) => i >= mark && pred(e);
    await g.mouse.click(5, 5);
    await until(after((e) => e.kind === "unmuted"), 10_000, "unmuted after the gesture");
    await until(after((e) => (e.kind === "audio" && e.detail.state === "running") || (e.kind === "video" && e.detail.audio?.state === "running")), 10_000, "the context running after the gesture");
    await until((e) => e.at > Date.now() - 300 && e.kind === "video" && !e.detail.muted && !e.detail.paused, 10_000, "playing with sound");
    await converge(a, g, 0.1, 8_000, "the page after its recovery");
    console.log(`    resume() attempts before the gesture: ${tries}, the AudioContext ${before} before it; muted fallback, needs-gesture, unmuted and running after one click`);
  } finally {
    await polling?.stop(); // (a failed wait must not leave it polling)
  }
  assert.deepEqual(g.problems, []);
  await a.context().close();
  await g.context().close();
});

test("a quality switch during playback keeps the room in sync", async () => {
  const room = await createRoom(stack.url, { source: `${up.url}/m/ladder/manifest.mpd`, title: "ladder" });
  const a = await openRoom(`${stack.url}${room.url}`);
  const b = await openRoom(`${stack.url}${room.url}`);
  await play(a);
  await waitFor(b, () => document.getElementById("video").currentTime > 1, null, 10_000, "B playing");
  for (const q of ["2", "0"]) {
    // The ladder is 20 s: a switch late in it goes back to 2 s first
    // (on 2 busy cores a WebKit page once reached the end before the second).
    if ((await readVideo(a)).t > 8) {
      await a.fill("#seek-to", "2");
      await a.click("#seek");
      await waitFor(b, () => document.getElementById("video").currentTime < 6, null, 10_000, "B back at 2 s");
      await converge(a, b, 0.1, 15_000, "in sync after the seek back");
    }
    const switched = Date.now();
    await pickQuality(b, q);
    await waitFor(b, (want) => document.querySelector("wt-player").shadowRoot.getElementById("quality").dataset.playing === want, q, 6_000, `B fetching quality ${q}`);
    const took = await converge(a, b, 0.1, 15_000, `in sync after switching to ${q}`);
    console.log(`    quality ${q}: fetching after ${Date.now() - switched - took} ms, in sync ${took} ms later`);
  }
  const s = await stats(b);
  // Where rate changes do not apply (WebKit through WebAudio: the picture
  // jumps ~1 s at each), the controller corrects by seeks: 3 were seen on
  // 2 busy cores.
  const seeks = s.rateApplies ? 2 : 4;
  assert.ok(s.seekCorrections <= seeks, `no seek storm around the switches (at most ${seeks}): ${JSON.stringify(s)}`);
  assert.equal(await b.evaluate(() => document.getElementById("video").error), null);
  for (const p of [a, b]) assert.deepEqual(p.problems, []);
  for (const p of [a, b]) await p.context().close();
});

// An element can fail under the player: WebKitGTK's pipeline did, after a
// seek while it prerolled (2026-12-06). Here the failure is made in the
// page: one media segment's append gets an initialisation segment with a
// track more than the SourceBuffer's (the muxed HLS one: video and audio),
// which MSE answers in every engine with its append error, ending the
// stream with a decode error: the element reports MEDIA_ERR_DECODE, as for
// a broken segment. (A box of size 4 failed Chromium's parser, not
// Firefox's, which waited for more.) The player loads the source again,
// and the room's position brings it back.
test("a video element that fails is loaded again and plays on in sync", async () => {
  const room = await createRoom(stack.url);
  const a = await openRoom(`${stack.url}${room.url}`);
  const b = await openRoom(`${stack.url}${room.url}`);
  await play(a);
  await waitFor(b, () => document.getElementById("video").currentTime > 1, null, 10_000, "B playing");
  const muxedInit = [...readFileSync(join(root, "target/test-media/hls/init.mp4"))];
  await b.evaluate((bad) => {
    window.__failures = [];
    document.getElementById("video").addEventListener("error", (e) => window.__failures.push(e.target.error?.code));
    const append = SourceBuffer.prototype.appendBuffer;
    SourceBuffer.prototype.appendBuffer = function (data) {
      if (data.byteLength < 5_000) return append.call(this, data); // an init segment
      SourceBuffer.prototype.appendBuffer = append;
      return append.call(this, new Uint8Array(bad));
    };
  }, muxedInit);
  await waitFor(b, () => window.__failures.length > 0, null, 20_000, "B's element failed");
  const failed = await b.evaluate(() => window.__failures);
  await waitFor(b, () => { const v = document.getElementById("video"); return v.error === null && !v.paused && v.readyState >= 3; }, null, 15_000, "B plays again");
  const took = await converge(a, b, 0.1, ENGINE === "chromium" ? 10_000 : 20_000, "B back in sync");
  console.log(`    element failed (MediaError ${failed.join(", ")}), playing and in sync ${took} ms after it plays again`);
  assert.equal(await a.evaluate(() => document.getElementById("video").paused), false, "the room played on");
  for (const p of [a, b]) assert.deepEqual(p.problems, [], "no console errors: the failure was recovered, not shown");
  for (const p of [a, b]) await p.context().close();
});

// Headless Chromium keeps every page "visible" (minimising, freezing and
// background targets were tried), so a throttled background tab is made
// the way it hurts: the page's timers starve (main thread blocked 3 s, then
// CPU throttled 10× for 5 s) while the media pipeline plays on.
test("starved timers, as in a throttled background tab: catches up without a seek storm", async (t) => {
  if (chromiumOnly(t, "CDP's CPU throttling")) return;
  const room = await createRoom(stack.url);
  const a = await openRoom(`${stack.url}${room.url}`);
  const b = await openRoom(`${stack.url}${room.url}`);
  await play(a);
  await waitFor(b, () => document.getElementById("video").currentTime > 1, null, 10_000, "B playing");
  await sleep(2_000); // play in sync a while first
  const s0 = await stats(b);
  await b.evaluate(() => { const end = Date.now() + 3_000; while (Date.now() < end); });
  const cdp = await b.context().newCDPSession(b);
  await cdp.send("Emulation.setCPUThrottlingRate", { rate: 10 });
  await sleep(5_000); // the throttled window
  await cdp.send("Emulation.setCPUThrottlingRate", { rate: 1 });
  const took = await converge(a, b, 0.05, 15_000, "B after starving");
  const after = await gapsFor(a, b, 3_000); // it stays in sync: no late seeks, no drift
  const s1 = await stats(b);
  const seeks = s1.seekCorrections - s0.seekCorrections;
  console.log(`    caught up ${took} ms after the throttling; then gaps ${after.map((g) => g.toFixed(0)).join(" ")} ms; corrective seeks ${seeks}, rate corrections ${s1.rateCorrections - s0.rateCorrections}`);
  assert.ok(seeks <= 1, `at most one corrective seek: ${seeks}`);
  assert.ok(Math.max(...after) < 100, `stays within 100 ms once caught up: ${after.map((g) => g.toFixed(0))}`);
  await converge(a, b, 0.05, 2_000, "in sync");
  for (const p of [a, b]) assert.deepEqual(p.problems, []);
  for (const p of [a, b]) await p.context().close();
});

/** Poll `fn` in a CDP tab until it holds. */
async function poll(tab, fn, ms, what) {
  const t0 = Date.now();
  while (!(await tab.evaluate(fn))) {
    if (Date.now() - t0 > ms) throw new Error(`${what} (within ${ms} ms): ${JSON.stringify(await readVideo(tab))} ${tab.problems.join(" | ")}`);
    await sleep(50);
  }
}

// A real background tab: headful Chromium on a virtual display (see
// support/headful.mjs), the room page in a tab that another tab covers, and
// muted by its viewer (Chromium spares audible tabs). Chromium throttles a
// bare hidden page's timers to one wake-up a second (measured: 5 of a 50 ms
// interval in 5 s) but, as measured here, not this page's (its media
// pipeline keeps it awake); the wake-ups are printed, not asserted, and
// starved timers are forced in the test above.
test("a real background tab (hidden, muted) follows the room and catches up without a seek storm", async (t) => {
  if (chromiumOnly(t, "a headful Chromium's hidden tab over CDP")) return;
  const headful = await launchHeadful();
  t.after(() => headful.close());
  const room = await createRoom(stack.url);
  const a = await openRoom(`${stack.url}${room.url}`);
  t.after(() => a.context().close());
  const b = await headful.newTab(`${stack.url}${room.url}`);
  await poll(b, () => document.getElementById("connection")?.dataset.state === "open" && document.getElementById("video").readyState >= 2, 15_000, "B joined");
  await play(a);
  await poll(b, () => document.getElementById("video").currentTime > 1, 8_000, "B playing");
  await sleep(2_000); // play in sync a while first
  const s0 = await b.evaluate(() => window.watchTogether.session.stats);
  await b.evaluate(() => { document.getElementById("video").muted = true; window.__wakes = []; setInterval(() => window.__wakes.push(performance.now()), 50); });
  await headful.newTab("about:blank");
  await sleep(6_000); // hidden long enough for background throttling to apply
  const hidden = await b.evaluate(() => ({ vis: document.visibilityState, wakes: window.__wakes.filter((t) => t > performance.now() - 5_000).length, paused: document.getElementById("video").paused }));
  assert.equal(hidden.vis, "hidden", "B is a background tab");
  assert.equal(hidden.paused, false, "B plays on in the background");
  // The room moves while B is hidden: A seeks, then pauses and plays.
  await a.fill("#seek-to", "20");
  await a.click("#seek");
  // (A first: if A's own seek did not happen, the failure says so, not B's.)
  await poll(a, () => document.getElementById("video").currentTime >= 20, 6_000, "A at 20 s after its seek");
  const followed = await converge(a, b, 0.1, 6_000, "hidden B after A's seek");
  assert.ok((await positionAt(b, Date.now())) >= 20, "hidden B took the seek");
  await pause(a);
  await poll(b, () => document.getElementById("video").paused, 10_000, "hidden B paused with the room");
  await play(a);
  await poll(b, () => !document.getElementById("video").paused, 10_000, "hidden B playing again with the room");
  const gaps = [];
  for (let i = 0; i < 8; i++) {
    await sleep(1_000); // one gap sample a second while hidden
    gaps.push((await gap(a, b)).gap * 1000);
  }
  const worst = Math.max(...gaps.slice(3));
  await b.activate();
  const took = await converge(a, b, 0.05, 15_000, "B back in front");
  const back = await gapsFor(a, b, 3_000); // it stays in sync: no late seeks, no drift
  const s1 = await b.evaluate(() => window.watchTogether.session.stats);
  const seeks = s1.seekCorrections - s0.seekCorrections;
  console.log(`    hidden (${hidden.wakes} wake-ups of a 50 ms timer in 5 s): followed A's seek in ${followed} ms; gap while hidden ${gaps.map((g) => g.toFixed(0)).join(" ")} ms; in sync ${took} ms after coming back, then ${back.map((g) => g.toFixed(0)).join(" ")} ms; corrective seeks ${seeks}, rate corrections ${s1.rateCorrections - s0.rateCorrections}`);
  assert.ok(worst < 100, `within 100 ms of the room while hidden: ${worst.toFixed(1)} ms`);
  assert.ok(seeks <= 1, `at most one corrective seek: ${seeks}`);
  assert.ok(Math.max(...back) < 100, `stays within 100 ms once back: ${back.map((g) => g.toFixed(0))}`);
  await converge(a, b, 0.05, 2_000, "in sync");
  assert.deepEqual(a.problems, []);
  assert.deepEqual(b.problems, []);
});
