// The three browser engines, launched the same way:
// `launch({ engine: "chromium" | "firefox" | "webkit" })` gives a browser
// whose `newContext().newPage()` is a page the helpers in browser.mjs work on.
//
// - chromium: Debian's, driven by playwright-core over CDP.
// - firefox: Debian's firefox-esr, driven by the same playwright-core over
//   WebDriver BiDi (the "moz-firefox" channel; 1.64 works, 1.65 does not).
//   Firefox's AudioContext never resumes without a sound server, so a
//   PulseAudio daemon with a null sink runs for the test process.
// - webkit: WebKitGTK's MiniBrowser under Xvfb, driven over classic
//   WebDriver (WebKitWebDriver, npm selenium-webdriver) through a thin
//   adapter with the part of Playwright's page API the tests use. Every
//   WebDriver call has a hard timeout: WebKit can hang a session.
// Every process started here is in its own process group, tracked so that
// it is stopped with the test process whatever happens.
import { execFile, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, firefox } from "playwright-core";
import { startXvfb } from "./headful.mjs";
import { freePort, membersOf, processes, sleep, track, until } from "./stack.mjs";

export const ENGINES = ["chromium", "firefox", "webkit"];

/** The engine this test process runs its pages in (`WT_ENGINE`, chromium by default). */
export const ENGINE = process.env.WT_ENGINE ?? "chromium";
if (!ENGINES.includes(ENGINE)) throw new Error(`WT_ENGINE=${ENGINE}: one of ${ENGINES.join(", ")}`);

export const CHROMIUM_ARGS = [
  "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
  "--autoplay-policy=no-user-gesture-required",
];

const FIREFOX = process.env.FIREFOX ?? "/usr/bin/firefox-esr";
const MINIBROWSER = process.env.MINIBROWSER ?? "/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser";

/**
 * Launch an engine. `autoplay: false` gives the engine's strict default
 * (a gesture needed for sound, and for an AudioContext in Chromium and
 * WebKit; in Firefox it follows the driver's activation); `args` are
 * Chromium flags.
 */
export async function launch({ engine = ENGINE, autoplay = true, args = [] } = {}) {
  // A first launch can fail on a busy machine (seen with both new engines): one retry.
  for (let attempt = 1; ; attempt++) {
    try {
      return await launchOnce(engine, { autoplay, args });
    } catch (e) {
      if (attempt >= 2) throw e;
      console.log(`    ${engine} launch failed (${e.message.split("\n")[0]}); once more`);
    }
  }
}

async function launchOnce(engine, { autoplay, args }) {
  if (engine === "chromium") {
    const flags = CHROMIUM_ARGS.filter((a) => autoplay || !a.startsWith("--autoplay-policy"));
    if (!autoplay) flags.push("--autoplay-policy=document-user-activation-required");
    const b = await chromium.launch({ executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium", headless: true, args: [...flags, ...args] });
    b.engine = engine;
    return b;
  }
  if (engine === "firefox") {
    if (!existsSync(FIREFOX)) throw new Error(`${FIREFOX} is missing (cargo xtask setup installs Debian's firefox-esr and libavcodec59)`);
    const pulse = await startSoundServer();
    const b = await firefox.launch({
      channel: "moz-firefox",
      executablePath: FIREFOX,
      headless: true,
      env: { ...process.env, PULSE_SERVER: pulse.server },
      firefoxUserPrefs: {
        // 0 allows audible autoplay, 5 blocks audible and inaudible until a gesture.
        "media.autoplay.default": autoplay ? 0 : 1,
        // Strict: audible play only from a handler of real user input (2).
        // Sticky or transient activation (0, 1) would not do: Playwright's
        // BiDi driver gives every new document activation, creating its
        // utility world with `script.evaluate` and `userActivation: true`
        // ~70 ms after load. (An AudioContext follows sticky activation
        // whatever this says: it runs.)
        "media.autoplay.blocking_policy": autoplay ? 0 : 2,
        "media.autoplay.block-webaudio": !autoplay,
      },
      timeout: 60_000,
    }).catch(async (e) => { await pulse.stop(); throw e; });
    b.engine = engine;
    const close = b.close.bind(b);
    b.close = async () => { try { await close(); } finally { await pulse.stop(); } };
    return b;
  }
  if (engine === "webkit") return new WebKitBrowser({ autoplay });
  throw new Error(`unknown engine ${engine}`);
}

// ---- a sound server for Firefox ----

/** A PulseAudio daemon with a null sink: { server (for PULSE_SERVER), stop }. */
async function startSoundServer() {
  const dir = mkdtempSync(join(tmpdir(), "wt-pulse-"));
  const socket = join(dir, "native");
  const p = spawn("pulseaudio", ["--daemonize=no", "--exit-idle-time=-1", "-n", "--use-pid-file=no", "--system=false",
    "--load=module-null-sink", `--load=module-native-protocol-unix socket=${socket} auth-anonymous=1`],
  { env: { ...process.env, HOME: dir, XDG_RUNTIME_DIR: dir, XDG_CONFIG_HOME: dir }, stdio: ["ignore", "ignore", "pipe"], detached: true });
  let err = "";
  p.stderr.on("data", (d) => (err += d));
  p.on("error", (e) => (err += `${e.message} `));
  const exited = new Promise((r) => p.on("exit", (code) => r(code)));
  const untrack = p.pid ? track(p.pid) : () => {};
  const stop = async () => {
    try { process.kill(-p.pid, "SIGTERM"); } catch {}
    await Promise.race([exited, sleep(3_000)]);
    try { process.kill(-p.pid, "SIGKILL"); } catch {}
    untrack();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await Promise.race([
      until(() => existsSync(socket), { timeout: 15_000, what: "PulseAudio's socket" }),
      exited.then((code) => { throw new Error(`pulseaudio exited (${code}): ${err.slice(-400)} (cargo xtask setup installs Debian's pulseaudio)`); }),
    ]);
  } catch (e) {
    await stop();
    throw e;
  }
  return { server: `unix:${socket}`, stop };
}

// ---- WebKit over classic WebDriver ----

const CALL_TIMEOUT = Number(process.env.WT_WEBKIT_CALL_MS ?? 30_000);

/** `promise`, or an error naming `what` after `ms`: WebDriver calls into WebKit can hang. */
function bounded(promise, what, ms = CALL_TIMEOUT) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`webkit: ${what} took over ${ms} ms`)), ms); }),
  ]).finally(() => clearTimeout(timer));
}

/** CPU seconds (user + system) process `pid` has used, or null once it is gone. */
function cpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(f[11]) + Number(f[12])) / 100; // utime, stime (clock ticks of 10 ms)
  } catch {
    return null;
  }
}

/** The stack of process `pid`'s main thread (gdb, attached for a moment), or "" where gdb cannot attach. */
function mainThreadStack(pid) {
  return new Promise((done) => {
    // (No gdbinit, no debuginfod: nothing to fetch, attached for seconds.)
    const gdb = ["-nx", "-iex", "set debuginfod enabled off", "-p", String(pid), "-batch", "-ex", "thread 1", "-ex", "bt 60"];
    execFile("timeout", ["-k", "5", "30", "gdb", ...gdb], { maxBuffer: 1 << 20 }, (_, stdout) => done(String(stdout ?? "")));
  });
}

/**
 * What a hung WebKit is doing: each process of group `pgid` (MiniBrowser,
 * its web and network processes) with the CPU it used over 2 s and its
 * state, e.g. "WebKitWebProcess 0.02 s/2 s S": a busy web process is a
 * script or the engine spinning, an idle one is waiting on something.
 * `gst` says whether an idle web process's main thread is blocked inside
 * GStreamer (`gst_pad_push_event`): WebKitGTK's MSE deadlock (README
 * "Engines"). A page can set it off (a seek as the load starts), but the
 * deadlock is the engine's own. (Where gdb cannot attach, as a user
 * without ptrace rights, the stack is said not read, and nothing is found.)
 */
async function whatHangs(pgid) {
  const mine = processes().filter((p) => p.pgrp === pgid);
  const before = new Map(mine.map((p) => [p.pid, cpuSeconds(p.pid)]));
  await sleep(2_000);
  // (Sampled before any gdb stops a process.)
  const sampled = mine.map((p) => {
    const [a, b] = [before.get(p.pid), cpuSeconds(p.pid)];
    let state = "gone";
    try { const st = readFileSync(`/proc/${p.pid}/stat`, "utf8"); state = st.slice(st.lastIndexOf(")") + 2).split(" ")[0]; } catch {}
    return { p, a, b, state };
  });
  // WT_WEBKIT_GDB=dir: every thread's stack of the web process, for a closer look.
  const dir = process.env.WT_WEBKIT_GDB;
  for (const p of mine.filter((p) => dir && /WebKitWebProcess/.test(p.cmd))) {
    const out = join(dir, `webkit-hang-${p.pid}-${Date.now()}.txt`);
    await new Promise((done) => spawn("sh", ["-c", `timeout -k 5 60 gdb -nx -p ${p.pid} -batch -ex "thread apply all bt 30" > ${out} 2>&1`], { stdio: "ignore" }).on("exit", done));
  }
  let gst = false;
  const seen = [];
  for (const { p, a, b, state } of sampled) {
    const name = p.cmd.split(" ")[0].split("/").pop();
    const idle = a != null && b != null && b - a < 0.1 && state === "S";
    let note = "";
    if (idle && /WebKitWebProcess/.test(p.cmd)) {
      const stack = await mainThreadStack(p.pid);
      if (/gst_pad_push_event/.test(stack)) {
        gst = true;
        note = ", its main thread blocked in gst_pad_push_event";
      } else if (!/^#\d/m.test(stack)) {
        note = ", its main thread's stack not read (gdb)";
      }
    }
    seen.push(`${name} ${a != null && b != null ? (b - a).toFixed(2) : "?"} s/2 s ${state}${note}`);
  }
  return { summary: seen.join(", "), gst };
}

class WebKitBrowser {
  engine = "webkit";
  #contexts = new Set();
  #autoplay;
  #xvfb = null;
  constructor({ autoplay }) { this.#autoplay = autoplay; }

  /** The browser's virtual display (one Xvfb for all its contexts), started on first use. */
  display() {
    this.#xvfb ??= startXvfb();
    return this.#xvfb.then((x) => x.display);
  }

  /** A context is one MiniBrowser (its own WebKitWebDriver and session): pages of two contexts share nothing. */
  async newContext({ viewport = { width: 1280, height: 800 } } = {}) {
    const ctx = new WebKitContext(this, viewport, this.#autoplay);
    this.#contexts.add(ctx);
    return ctx;
  }

  forget(ctx) { this.#contexts.delete(ctx); }

  /** The contexts open (as Playwright's `Browser.contexts`). */
  contexts() { return [...this.#contexts]; }

  /** Whether the MiniBrowser of an open context is gone. */
  lost() { return [...this.#contexts].some((c) => c.lost()); }

  async close() {
    await Promise.all([...this.#contexts].map((c) => c.close()));
    const x = this.#xvfb;
    this.#xvfb = null;
    if (x) (await x.catch(() => null))?.stop();
  }
}

class WebKitContext {
  #browser; #viewport; #autoplay; #driver = null; #proc = null; #untrack = null; #page = null;
  #log = ""; // the last 8 KB the driver and MiniBrowser wrote to stderr
  #crashed = false; // MiniBrowser said its web process crashed
  #looking = null; // the look at its processes under way (whatHangs)
  #frozen = null; // what the look that found its web process frozen inside GStreamer saw (said to later calls at once)
  constructor(browser, viewport, autoplay) { this.#browser = browser; this.#viewport = viewport; this.#autoplay = autoplay; }

  async newPage() {
    if (this.#page) throw new Error("webkit: one page per context");
    // A new session once took over 60 s on 2 busy cores (a loaded run of
    // the test command, 2026-12-05): one more try, with a fresh driver.
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#start();
        break;
      } catch (e) {
        await this.#stop();
        if (attempt >= 2 || !/took over/.test(e.message)) {
          this.#browser.forget(this);
          throw e;
        }
        console.log(`    (${e.message}: starting it again)`);
      }
    }
    this.#page = new WebKitPage(this, this.#driver);
    // The newest page has the focus, as in the other engines. (Said, not
    // thrown: only keyboard and focus-ring checks need it.)
    await this.focus().catch((e) => console.log(`    (webkit: the new page's window not focused: ${e.message})`));
    return this.#page;
  }

  /**
   * Give this MiniBrowser's window the keyboard focus (xdotool). Xvfb has
   * no window manager: a new window does not take the focus from another,
   * and one whose window never had it neither matches `:focus` (no focus
   * ring) nor says `document.hasFocus()`, though keys reach it.
   */
  async focus() {
    const env = { ...process.env, DISPLAY: await this.#browser.display() };
    const run = (args) => new Promise((resolve, reject) => execFile("xdotool", args, { env, timeout: 5_000 }, (e, out) => (e ? reject(new Error(`xdotool ${args.join(" ")}: ${e.message.split("\n")[0]} (cargo xtask setup installs Debian's xdotool)`)) : resolve(out.trim()))));
    const group = this.#proc?.pid;
    const mini = processes().find((p) => p.pgrp === group && /MiniBrowser/.test(p.cmd));
    if (!mini) throw new Error("webkit: no MiniBrowser to focus");
    // (The window may not be mapped yet just after the session starts.)
    let window = null;
    await until(async () => {
      window = (await run(["search", "--onlyvisible", "--pid", String(mini.pid)]).catch(() => "")).split("\n").find(Boolean) ?? null;
      return window != null;
    }, { timeout: 5_000, what: `a visible MiniBrowser window (pid ${mini.pid})` });
    await run(["windowfocus", "--sync", window]);
  }

  async #start() {
    const { Builder } = await import("selenium-webdriver");
    const port = await freePort();
    const env = { ...process.env, DISPLAY: await this.#browser.display(), PULSE_SERVER: "unix:/nonexistent" }; // (PulseAudio stalls WebKit: none)
    this.#proc = spawn("WebKitWebDriver", [`--port=${port}`, "--host=127.0.0.1"], { env, stdio: ["ignore", "ignore", "pipe"], detached: true });
    this.#untrack = track(this.#proc.pid);
    this.#log = "";
    this.#crashed = false;
    this.#looking = null;
    this.#frozen = null;
    const keep = (d) => {
      this.#log = (this.#log + d).slice(-8192);
      this.#crashed ||= /WebProcess CRASHED/.test(this.#log);
    };
    this.#proc.stderr.on("data", keep);
    this.#proc.on("error", (e) => keep(`${e.message} (cargo xtask setup installs Debian's webkit2gtk-driver)`));
    await until(async () => fetch(`http://127.0.0.1:${port}/status`).then((r) => r.ok, () => false), { timeout: 15_000, what: () => `WebKitWebDriver on ${port} ${this.#log.slice(-300)}` });
    const caps = {
      browserName: "MiniBrowser",
      "webkitgtk:browserOptions": { binary: MINIBROWSER, args: ["--automation", ...(this.#autoplay ? ["--autoplay-policy=allow"] : [])] },
    };
    this.#driver = await bounded(new Builder().usingServer(`http://127.0.0.1:${port}`).withCapabilities(caps).build(), "new session", 60_000);
    await bounded(this.#driver.manage().window().setRect({ x: 0, y: 0, width: this.#viewport.width, height: this.#viewport.height }), "window size").catch(() => {});
  }

  /**
   * What this context's processes do (for an error about a hang). One
   * look at a time: calls that hung together share it (gdb attaches to a
   * process once at a time), and once the web process is found frozen,
   * later calls are told so at once.
   */
  whatHangs() {
    if (!this.#proc) return Promise.resolve("no processes");
    if (this.#frozen) return this.#frozen;
    this.#looking ??= whatHangs(this.#proc.pid).then(({ summary, gst }) => {
      this.#looking = null;
      if (gst) this.#frozen = Promise.resolve(`${summary} (seen earlier)`);
      return summary;
    });
    return this.#looking;
  }

  /** Whether its web process was found frozen inside GStreamer (`whatHangs`). */
  frozen() { return this.#frozen != null; }

  /** The browser of this context (as Playwright's `BrowserContext.browser`). */
  browser() { return this.#browser; }

  /**
   * Whether this context's MiniBrowser is gone, or said its web process
   * crashed, while its session was open (WebKitWebDriver then says
   * "session deleted because of page crash or hang"); not while a session
   * is still starting. (The crash seen, a loaded CI run of 2026-12-06:
   * GLib's `getauxval () failed: Interrupted system call`, an abort inside
   * the web process.) Or its web process was found frozen inside
   * GStreamer, after a call that took too long: WebKitGTK's MSE deadlock
   * (`whatHangs`).
   */
  lost() {
    const group = this.#proc?.pid;
    return group != null && this.#driver != null && (this.#crashed || this.frozen() || !processes().some((p) => p.pgrp === group && /MiniBrowser/.test(p.cmd)));
  }

  /** The last lines the driver and MiniBrowser (its child) wrote to stderr. */
  log(lines = 12) { return this.#log.trimEnd().split("\n").slice(-lines).join(" | "); }

  async close() {
    this.#browser.forget(this);
    await this.#stop();
  }

  /** Ends the session and stops the driver's process group (MiniBrowser with it). */
  async #stop() {
    const driver = this.#driver;
    this.#driver = null;
    if (driver) await bounded(driver.quit(), "quit", 10_000).catch(() => {});
    const proc = this.#proc;
    this.#proc = null;
    if (proc) {
      try { process.kill(-proc.pid, "SIGTERM"); } catch {}
      await until(() => membersOf(proc.pid).length === 0, { timeout: 5_000, what: "WebKitWebDriver gone" })
        .catch(() => { try { process.kill(-proc.pid, "SIGKILL"); } catch {} });
      this.#untrack?.();
    }
  }
}

/** Collects console errors and uncaught exceptions into `window.__wtProblems` (installed after each navigation: classic WebDriver has no preload script). */
const HOOK = `if (!window.__wtProblems) {
  window.__wtProblems = [];
  const error = console.error.bind(console);
  console.error = (...a) => { window.__wtProblems.push("console: " + a.map(String).join(" ")); error(...a); };
  addEventListener("error", (e) => window.__wtProblems.push("pageerror: " + e.message));
  addEventListener("unhandledrejection", (e) => window.__wtProblems.push("pageerror: " + (e.reason && e.reason.message || e.reason)));
}`;

/**
 * The elements `selector` finds where Playwright would find them, in the
 * page (stringified into it: self-contained). Each space-separated step
 * looks inside shadow roots too, at any depth ("watch-together wt-player
 * .media"); and, as far as the tests use Playwright's own selectors, a
 * trailing `:text-is('…')` keeps the elements whose text is exactly that,
 * a trailing `>> nth=N` the Nth.
 */
function findAllInPage(selector) {
  let sel = selector.trim();
  let nth = null;
  let text = null;
  const n = /\s*>>\s*nth=(\d+)$/.exec(sel);
  if (n) {
    nth = Number(n[1]);
    sel = sel.slice(0, n.index);
  }
  const t = /:text-is\((['"])(.*)\1\)$/.exec(sel);
  if (t) {
    text = t[2];
    sel = sel.slice(0, t.index);
  }
  // Steps at the spaces outside brackets and quotes; a combinator joins its neighbours.
  const words = [];
  let cur = "";
  let depth = 0;
  let quote = null;
  for (const ch of sel) {
    if (quote) {
      cur += ch;
      if (ch === quote) quote = null;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      cur += ch;
    } else if (ch === " " && depth === 0) {
      if (cur) words.push(cur);
      cur = "";
    } else {
      if (ch === "[" || ch === "(") depth++;
      if (ch === "]" || ch === ")") depth--;
      cur += ch;
    }
  }
  if (cur) words.push(cur);
  const steps = [];
  for (let i = 0; i < words.length; i++) {
    if ([">", "+", "~"].includes(words[i]) && steps.length > 0 && i + 1 < words.length) steps[steps.length - 1] += ` ${words[i]} ${words[++i]}`;
    else steps.push(words[i]);
  }
  // A node and every shadow root under it (and its own).
  const scopes = (node) => {
    const out = [node];
    const walk = (root) => {
      for (const el of root.querySelectorAll("*")) {
        if (el.shadowRoot) {
          out.push(el.shadowRoot);
          walk(el.shadowRoot);
        }
      }
    };
    if (node.shadowRoot) {
      out.push(node.shadowRoot);
      walk(node.shadowRoot);
    }
    walk(node);
    return out;
  };
  let found = [document];
  for (const step of steps) {
    const next = new Set();
    for (const at of found) for (const scope of scopes(at)) for (const el of scope.querySelectorAll(step)) next.add(el);
    found = [...next];
  }
  // (Text compared as Playwright does: white space collapsed and trimmed.)
  if (text !== null) found = found.filter((e) => e.textContent.replace(/\s+/g, " ").trim() === text);
  if (nth !== null) found = found[nth] ? [found[nth]] : [];
  return found;
}
const FIND = `const findAll = ${findAllInPage}; const find = (sel) => findAll(sel)[0] || null;`;

class WebKitPage {
  problems = [];
  #context; #driver; #url = "about:blank";
  /** `addInitScript`'s scripts (as source) with their arguments. */
  #init = [];
  keyboard;
  mouse;
  constructor(context, driver) {
    this.#context = context;
    this.#driver = driver;
    this.keyboard = { press: (key) => this.#press(key), type: (text) => this.#type(text) };
    this.mouse = { move: (x, y) => this.#moveTo(x, y), click: (x, y) => this.#clickAt(x, y) };
  }

  context() { return this.#context; }
  url() { return this.#url; }
  on() {} // (console and page errors are read from the page: see HOOK)

  async goto(url) {
    if (this.#init.length > 0) {
      // (WebDriver classic has no preload script: the scripts run in a
      // document of the target's origin first, as far as `addInitScript`
      // is used here — to set the origin's storage before its page loads.)
      await this.#call(this.#driver.get(new URL("/.well-known/wt-init", url).href), "goto the origin for init scripts", 60_000);
      for (const [source, arg] of this.#init) await this.#call(this.#driver.executeScript(`(${source})(arguments[0]);`, arg), "init script");
    }
    await this.#call(this.#driver.get(url), `goto ${url}`, 60_000);
    this.#url = await this.#call(this.#driver.getCurrentUrl(), "url");
    await this.#hook();
  }

  async reload() {
    await this.#call(this.#driver.navigate().refresh(), "reload", 60_000);
    await this.#hook();
  }

  /**
   * `addInitScript(fn, arg)`, for functions that set the origin's storage
   * (see `goto`): not for globals of the page, which they never reach, nor
   * run again at `reload` (the storage they set is still there).
   */
  async addInitScript(fn, arg) {
    if (typeof fn !== "function") throw new Error("webkit: addInitScript takes a function that sets storage (no preload script in WebDriver classic)");
    this.#init.push([String(fn), arg === undefined ? null : arg]);
  }

  /** The viewport's size, as the window's (the size `newContext` gave it). */
  async setViewportSize({ width, height }) {
    await this.#call(this.#driver.manage().window().setRect({ width, height }), "window size");
  }

  /** This page's window focused (one page per MiniBrowser). */
  bringToFront() { return this.#context.focus(); }

  async waitForURL(re, { timeout = 30_000 } = {}) {
    await until(async () => {
      this.#url = await this.#call(this.#driver.getCurrentUrl(), "url");
      return typeof re === "string" ? this.#url === re : re.test(this.#url);
    }, { timeout, what: `url ${re}` });
    await this.#hook();
  }

  /**
   * A WebDriver call, bounded in time; its error names `what`, and where
   * WebKit hangs or is gone (a call over its time, a lost session, an
   * error with no message — the first a lost MiniBrowser gives), which of
   * its processes are left, what they do and what MiniBrowser last wrote
   * to stderr.
   */
  async #call(promise, what, ms) {
    // (A web process found frozen answers nothing more: said at once, not after the call's time.)
    if (this.#context.frozen()) {
      promise.catch(() => {}); // (answered when the context closes, if ever)
      throw new Error(`webkit ${what}: not asked: its web process was found frozen inside GStreamer (${await this.#context.whatHangs()})`);
    }
    try {
      return await bounded(promise, what, ms);
    } catch (e) {
      const first = e.message.split("\n")[0];
      const hung = /took over|crash or hang/.test(first) || !first ? ` (${await this.#context.whatHangs()}; stderr: ${this.#context.log()})` : "";
      throw new Error(`webkit ${what}: ${first || `${e.name} (no message)`}${hung}`);
    }
  }

  #hook() { return this.#call(this.#driver.executeScript(HOOK), "hook"); }

  /** Like Playwright's: runs `fn(arg)` in the page (awaited) and returns its value. */
  async evaluate(fn, arg) {
    // (A string is an expression, as in Playwright; a function is called with `arg`.)
    const call = typeof fn === "string" ? `(${fn})` : `(${fn})(__arg)`;
    const script = `const __arg = arguments[0];
return (async () => {
  const r = await ${call};
  return [r === undefined ? null : r, window.__wtProblems ? window.__wtProblems.splice(0) : []];
})();`;
    const [value, problems] = await this.#call(this.#driver.executeScript(script, arg === undefined ? null : arg), "evaluate");
    this.problems.push(...(problems ?? []));
    return value;
  }

  async waitForFunction(fn, arg, { timeout = 30_000, polling = 50 } = {}) {
    const deadline = Date.now() + timeout;
    for (;;) {
      const v = await this.evaluate(fn, arg);
      if (v) return v;
      if (Date.now() > deadline) throw new Error(`webkit waitForFunction: not within ${timeout} ms`);
      await sleep(typeof polling === "number" ? polling : 50);
    }
  }

  async waitForSelector(selector, { timeout = 30_000 } = {}) {
    await this.waitForFunction(new Function("sel", `${FIND} return !!find(sel);`), selector, { timeout });
  }

  getAttribute(selector, name) {
    return this.evaluate(new Function("a", `${FIND} const el = find(a[0]); if (!el) throw new Error("no " + a[0]); return el.getAttribute(a[1]);`), [selector, name]);
  }

  inputValue(selector) {
    return this.evaluate(new Function("sel", `${FIND} return find(sel).value;`), selector);
  }

  isVisible(selector) {
    return this.evaluate(new Function("sel", `${FIND} const el = find(sel); return !!el && el.getClientRects().length > 0 && getComputedStyle(el).visibility !== "hidden";`), selector);
  }

  /** The centre of the `index`th match, in viewport pixels, scrolled into view. */
  #centre(selector, index = 0) {
    return this.evaluate(new Function("a", `${FIND} const el = findAll(a[0])[a[1]]; if (!el) throw new Error("no " + a[0]); el.scrollIntoView({ block: "center" }); const r = el.getBoundingClientRect(); return { x: Math.round(r.x + r.width / 2), y: Math.round(r.y + r.height / 2) };`), [selector, index]);
  }

  async #moveTo(x, y) {
    await this.#call(this.#driver.actions({ async: true }).move({ x: Math.round(x), y: Math.round(y), origin: "viewport" }).perform(), "pointer move");
  }

  /** A real pointer click (a user gesture) at viewport pixels `x`, `y`. */
  async #clickAt(x, y) {
    await this.#call(this.#driver.actions({ async: true }).move({ x: Math.round(x), y: Math.round(y), origin: "viewport" }).click().perform(), `click at ${x},${y}`);
  }

  /**
   * A real pointer click (a user gesture) at the element's centre; `which`:
   * the match's index (the locator's `nth`), or Playwright's options (its
   * `force`, for an aria-disabled button, is what this does anyway).
   */
  async click(selector, which = 0) {
    const index = typeof which === "number" ? which : 0;
    await this.waitForSelector(selector, { timeout: 15_000 });
    const { x, y } = await this.#centre(selector, index);
    await this.#call(this.#driver.actions({ async: true }).move({ x, y, origin: "viewport" }).click().perform(), `click ${selector}`);
  }

  async hover(selector) {
    const { x, y } = await this.#centre(selector);
    await this.#moveTo(x, y);
  }

  async fill(selector, text) {
    await this.evaluate(new Function("a", `${FIND} const el = find(a[0]); el.focus(); el.value = a[1]; el.dispatchEvent(new Event("input", { bubbles: true })); el.dispatchEvent(new Event("change", { bubbles: true }));`), [selector, text]);
  }

  async focus(selector) {
    await this.evaluate(new Function("sel", `${FIND} find(sel).focus();`), selector);
  }

  /** Like Playwright's: the element's textContent (it waits for the element). */
  async textContent(selector) {
    await this.waitForSelector(selector, { timeout: 15_000 });
    return this.evaluate(new Function("sel", `${FIND} const el = find(sel); return el ? el.textContent : null;`), selector);
  }

  async press(selector, key) {
    await this.focus(selector);
    await this.#press(key);
  }

  /** A key, or a chord as Playwright writes it ("Shift+Tab"). */
  async #press(key) {
    const { Key } = await import("selenium-webdriver");
    const name = { Enter: Key.ENTER, Escape: Key.ESCAPE, Space: " ", ArrowLeft: Key.ARROW_LEFT, ArrowRight: Key.ARROW_RIGHT, ArrowUp: Key.ARROW_UP, ArrowDown: Key.ARROW_DOWN, Tab: Key.TAB, Home: Key.HOME, End: Key.END, Shift: Key.SHIFT, Control: Key.CONTROL, Alt: Key.ALT, Period: ".", Comma: "," };
    // (With Shift, a US keyboard's character: Playwright's Shift+Period is ">".)
    const shifted = { ".": ">", ",": "<" };
    const parts = key.length > 1 ? key.split("+") : [key];
    const keys = parts.map((k) => name[k] ?? k).map((k) => (parts.includes("Shift") ? (shifted[k] ?? k) : k));
    for (const k of keys) if (typeof k === "string" && k.length > 1 && !Object.values(Key).includes(k)) throw new Error(`webkit: no key named ${k}`);
    let a = this.#driver.actions({ async: true });
    for (const k of keys) a = a.keyDown(k);
    for (const k of [...keys].reverse()) a = a.keyUp(k);
    await this.#call(a.perform(), `key ${key}`);
  }

  async #type(text) {
    await this.#call(this.#driver.actions({ async: true }).sendKeys(text).perform(), "type");
  }

  /** Playwright's locator, as far as the tests use it: `.nth(i).click()`, `.count()`, `.first()`, `.boundingBox()`. */
  locator(selector) {
    const loc = {
      nth: (i) => ({ click: () => this.click(selector, i) }),
      count: () => this.evaluate(new Function("sel", `${FIND} return findAll(sel).length;`), selector),
      first: () => loc,
      boundingBox: () => this.evaluate(new Function("sel", `${FIND} const el = find(sel); if (!el) return null; const r = el.getBoundingClientRect(); return { x: r.x, y: r.y, width: r.width, height: r.height };`), selector),
    };
    return loc;
  }

  /** A script file run in the page (`{ path }`), as Playwright's `addScriptTag` with a path. */
  async addScriptTag({ path }) {
    const source = readFileSync(path, "utf8");
    await this.#call(this.#driver.executeScript(source), `script ${path}`);
  }

  $eval(selector, fn) {
    return this.evaluate(new Function("a", `${FIND} const el = find(a); if (!el) throw new Error("no " + a); return (${fn})(el);`), selector);
  }

  /** A checkbox or radio button, checked by a real click. */
  check(selector) { return this.click(selector); }

  $$eval(selector, fn) {
    return this.evaluate(new Function("a", `${FIND} return (${fn})(findAll(a));`), selector);
  }

  async screenshot({ path } = {}) {
    const data = await this.#call(this.#driver.takeScreenshot(), "screenshot");
    if (path) (await import("node:fs")).writeFileSync(path, Buffer.from(data, "base64"));
    return Buffer.from(data, "base64");
  }

  close() { return this.#context.close(); }
}
