// A headful Chromium on a virtual X display (Xvfb), driven over raw CDP.
//
// Why not headless + Playwright: there every page stays "visible" (tabs,
// minimising and freezing were tried), so a real background tab — hidden,
// its timers throttled to one wake-up a second — exists only in a headful
// browser whose tab is not the active one. Raw CDP also never gives the page
// a user gesture (Playwright's evaluate does).
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import WebSocket from "ws";
import { CHROMIUM_ARGS } from "./browser.mjs";
import { membersOf, track, until } from "./stack.mjs";

/** Start Xvfb on a free display; resolves to { display, stop }. */
export function startXvfb() {
  return new Promise((resolve, reject) => {
    const x = spawn("Xvfb", ["-displayfd", "3", "-screen", "0", "1280x800x24", "-nolisten", "tcp"], { stdio: ["ignore", "ignore", "pipe", "pipe"] });
    let out = "", err = "";
    x.stdio[3].on("data", (d) => {
      out += d;
      if (out.includes("\n")) resolve({ display: `:${out.trim()}`, stop: () => x.kill() });
    });
    x.stderr.on("data", (d) => (err += d));
    x.on("error", (e) => reject(new Error(`Xvfb: ${e.message} (cargo xtask setup installs the Debian package xvfb)`)));
    x.on("exit", (code) => reject(new Error(`Xvfb exited (${code}): ${err.slice(-300)}`)));
  });
}

export async function launchHeadful() {
  const xvfb = await startXvfb();
  const profile = mkdtempSync(join(tmpdir(), "wt-headful-"));
  let chrome, ws, untrack;
  // Whatever fails on the way up, nothing is left running or on disk.
  const cleanup = async () => {
    ws?.terminate();
    if (chrome) {
      // The whole process group: Chromium's helpers outlive the browser
      // process and go on writing into the profile for a while.
      try { process.kill(-chrome.pid, "SIGTERM"); } catch {}
      await until(() => membersOf(chrome.pid).length === 0, { timeout: 10_000, what: "chromium's process group gone" })
        .catch(() => { try { process.kill(-chrome.pid, "SIGKILL"); } catch {} });
      await until(() => membersOf(chrome.pid).length === 0, { timeout: 10_000, what: "chromium's process group gone after SIGKILL" }).catch(() => {});
      untrack?.();
    }
    xvfb.stop();
    rmSync(profile, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
  };
  try {
    chrome = spawn(process.env.CHROMIUM ?? "/usr/bin/chromium", [...CHROMIUM_ARGS, "--remote-debugging-port=0", `--user-data-dir=${profile}`, "--window-size=1280,800", "about:blank"], { env: { ...process.env, DISPLAY: xvfb.display }, stdio: ["ignore", "ignore", "pipe"], detached: true });
    untrack = track(chrome.pid);
    const endpoint = await new Promise((resolve, reject) => {
      let err = "";
      const timer = setTimeout(() => reject(new Error(`chromium did not start: ${err.slice(-500)}`)), 20_000);
      chrome.stderr.on("data", (d) => {
        err += d;
        const m = /DevTools listening on (ws:\/\/\S+)/.exec(err);
        if (m) { clearTimeout(timer); resolve(m[1]); }
      });
      chrome.on("exit", (code) => { clearTimeout(timer); reject(new Error(`chromium exited (${code}): ${err.slice(-500)}`)); });
    });
    ws = new WebSocket(endpoint);
    await new Promise((r, j) => { ws.once("open", r); ws.once("error", j); });
  } catch (e) {
    await cleanup();
    throw e;
  }
  let seq = 0;
  const pending = new Map();
  const listeners = new Map(); // sessionId → fn(method, params)
  ws.on("message", (m) => {
    const d = JSON.parse(m);
    if (d.id != null && pending.has(d.id)) {
      const { resolve, reject, method } = pending.get(d.id);
      pending.delete(d.id);
      if (d.error) reject(new Error(`${method}: ${d.error.message}`));
      else resolve(d.result);
    } else if (d.method && d.sessionId) listeners.get(d.sessionId)?.(d.method, d.params);
  });
  // A browser that dies fails the calls in flight instead of hanging them.
  ws.on("close", () => {
    for (const { reject, method } of pending.values()) reject(new Error(`${method}: the browser's DevTools connection closed`));
    pending.clear();
  });
  const send = (method, params = {}, sessionId) => new Promise((resolve, reject) => {
    if (ws.readyState !== WebSocket.OPEN) return reject(new Error(`${method}: the browser's DevTools connection is closed`));
    const id = ++seq;
    pending.set(id, { resolve, reject, method });
    ws.send(JSON.stringify({ id, method, params, sessionId }));
  });

  /** A new tab in the browser's one window (made the active tab). */
  async function newTab(url) {
    const { targetId } = await send("Target.createTarget", { url: "about:blank" });
    const { sessionId } = await send("Target.attachToTarget", { targetId, flatten: true });
    const tab = {
      targetId,
      problems: [],
      /** Like Playwright's page.evaluate(fn, arg), without a user gesture. */
      async evaluate(fn, arg) {
        const expression = typeof fn === "function" ? `(${fn})(${arg === undefined ? "" : JSON.stringify(arg)})` : fn;
        const r = await send("Runtime.evaluate", { expression, awaitPromise: true, returnByValue: true }, sessionId);
        if (r.exceptionDetails) throw new Error(`evaluate: ${r.exceptionDetails.exception?.description ?? r.exceptionDetails.text}`);
        return r.result.value;
      },
      activate: () => send("Target.activateTarget", { targetId }),
      close: () => send("Target.closeTarget", { targetId }),
    };
    listeners.set(sessionId, (method, params) => {
      if (method === "Runtime.consoleAPICalled" && params.type === "error") tab.problems.push(`console: ${params.args.map((a) => a.value ?? a.description).join(" ")}`);
      if (method === "Runtime.exceptionThrown") tab.problems.push(`pageerror: ${params.exceptionDetails.exception?.description ?? params.exceptionDetails.text}`);
    });
    await send("Runtime.enable", {}, sessionId);
    await send("Page.enable", {}, sessionId);
    await send("Page.navigate", { url }, sessionId);
    await send("Target.activateTarget", { targetId });
    return tab;
  }

  return { newTab, close: cleanup };
}
