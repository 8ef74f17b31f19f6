// Starts the real edge worker on workerd (wrangler dev) on a free port, with
// its own Durable Object storage directory, for one test file; `withStack`
// and `fixture` give a test file its resources for all of its tests.
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before } from "node:test";
import { fileURLToPath } from "node:url";

export const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Poll `check` (sync or async) until it returns a truthy value, which is returned; the error says what was awaited (`what`, a string or a function giving one) and the last value seen. */
export async function until(check, { timeout = 30_000, every = 50, what = "condition" } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    last = await check();
    if (last) return last;
    if (Date.now() > deadline) throw new Error(`${typeof what === "function" ? what() : what}: not within ${timeout} ms (last: ${JSON.stringify(last)})`);
    await sleep(every);
  }
}

/** Live (not zombie) processes, from /proc: { pid, pgrp, cmd }. */
export function processes() {
  const out = [];
  for (const pid of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const [state, , pgrp] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ");
      if (state !== "Z" && state !== "X") out.push({ pid: Number(pid), pgrp: Number(pgrp), cmd });
    } catch {} // the process ended while we looked
  }
  return out;
}

/** What still runs in process group `pgid` (zombies waiting to be reaped do not count). */
export const membersOf = (pgid) => processes().filter((p) => p.pgrp === pgid).map((p) => `${p.pid} ${p.cmd.slice(0, 120)}`);

// Every process group this process started and has not stopped (wrangler
// stacks, and what a test registers with `track`): stopped when the process
// is told to stop (SIGINT, SIGTERM, SIGHUP: the test runner, xtask or a
// closed terminal) or exits without its after().
const groups = new Set();

/** Stop process group `pgid` with the others if this process is told to stop; returns an untrack function. */
export function track(pgid) {
  groups.add(pgid);
  return () => groups.delete(pgid);
}
const stopAll = (signal) => {
  for (const pid of groups) {
    try { process.kill(-pid, signal); } catch {}
  }
};
// Storage directories this process made, removed when it exits (a restart
// test hands one stack's directory to the next).
const stateDirs = new Set();
process.on("exit", () => {
  stopAll("SIGKILL");
  for (const d of stateDirs) rmSync(d, { recursive: true, force: true });
});
for (const [sig, code] of [["SIGINT", 130], ["SIGTERM", 143], ["SIGHUP", 129]]) {
  process.once(sig, () => {
    stopAll("SIGTERM");
    process.exit(code);
  });
}

// Node 20 runs a file's top-level before() hooks concurrently: `setup`
// chains them, so each starts once the ones registered before it are done.
let chain = Promise.resolve();

/** A before() hook that runs after every earlier `setup` and fixture start (it may use them). */
export function setup(fn) {
  before(async () => {
    const prev = chain;
    let done;
    chain = new Promise((r) => { done = r; });
    try {
      await prev;
      await fn();
    } finally {
      done();
    }
  });
}

/**
 * A resource for every test of the file: `start()` in before() (in the
 * order the file asks for them), `stop(it)` in after() (errors reported,
 * never hiding another's). The returned proxy stands for the resource
 * itself once started (`stack.url`, `browser.newContext()`).
 */
export function fixture(start, stop) {
  let it;
  let starting = null;
  let closed = false;
  setup(async () => {
    // (After a failed earlier hook Node may run after() hooks while this one
    // still waits its turn: then it starts nothing, which would outlive the file.)
    if (closed) return;
    starting = start();
    it = await starting;
  });
  after(async () => {
    closed = true;
    // A start still under way is waited for and stopped too.
    const started = it ?? (starting && (await starting.catch(() => null)));
    if (started) await Promise.resolve().then(() => stop(started)).catch((e) => console.error(`    cleanup: ${e.message}`));
  });
  return new Proxy({}, {
    get(_, key) {
      if (!it) throw new Error(`fixture used before it started (reading ${String(key)})`);
      const v = it[key];
      return typeof v === "function" ? v.bind(it) : v;
    },
  });
}

/** The worker on workerd for the whole test file (see startStack for `opts`). */
export const withStack = (opts = {}) => fixture(() => startStack(opts), (s) => s.stop());

/** The proxy secret every test stack runs with (tests sign URLs with it). */
export const PROXY_SECRET = "test-proxy-secret-0123456789abcdef";

/** Start workerd via wrangler dev. `persistTo` reuses a storage dir (restart tests). */
export async function startStack(opts = {}) {
  // A free port can be taken by another process between the check and the
  // bind (workerd itself opens several): try again on a fresh one. wrangler
  // prints only "The Workers runtime failed to start" for that (the bind
  // error goes to its log file), so that is tried again too.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startStackOnce(opts);
    } catch (e) {
      if (attempt >= 3 || !/Address already in use|runtime failed to start/.test(String(e.message))) throw e;
      console.log(`    (wrangler dev did not start, attempt ${attempt}: on a fresh port again)`);
    }
  }
}

async function startStackOnce({ persistTo, vars: extra = {} } = {}) {
  const port = await freePort();
  // `vars` may be a function of the port (e.g. an origin on it).
  const vars = { PROXY_SECRET, PROXY_ALLOW_LOOPBACK: "1", ...(typeof extra === "function" ? extra(port) : extra) };
  const inspector = await freePort();
  const dir = persistTo ?? mkdtempSync(join(tmpdir(), "wt-state-"));
  if (!persistTo) stateDirs.add(dir);
  const child = spawn(
    join(root, "node_modules/.bin/wrangler"),
    ["dev", "--ip", "127.0.0.1", "--port", String(port), "--inspector-port", String(inspector),
      "--persist-to", dir, "--show-interactive-dev-session=false", "--log-level", "warn",
      ...Object.entries(vars).flatMap(([k, v]) => ["--var", `${k}:${v}`])],
    {
      cwd: root,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
      env: {
        ...process.env,
        WRANGLER_SEND_METRICS: "false",
        WRANGLER_SEND_ERROR_REPORTS: "false",
        CLOUDFLARE_CF_FETCH_ENABLED: "false",
        WRANGLER_HIDE_BANNER: "true",
      },
    },
  );
  groups.add(child.pid);
  let logs = "";
  child.stdout.on("data", (d) => (logs += d));
  child.stderr.on("data", (d) => (logs += d));
  const exited = new Promise((r) => child.on("exit", r));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      const res = await fetch(`${url}/healthz`);
      if (res.ok) break;
    } catch {}
    if (child.exitCode !== null || Date.now() > deadline) {
      try { process.kill(-child.pid, "SIGKILL"); } catch {}
      groups.delete(child.pid);
      throw new Error(`wrangler dev did not become ready on ${url}:\n${logs}`);
    }
    await sleep(100);
  }
  return {
    url,
    port,
    /** wrangler's process group (wrangler and workerd). */
    pgid: child.pid,
    wsUrl: `ws://127.0.0.1:${port}`,
    dir,
    logs: () => logs,
    async stop() {
      try { process.kill(-child.pid, "SIGTERM"); } catch {}
      const timer = setTimeout(() => { try { process.kill(-child.pid, "SIGKILL"); } catch {} }, 5_000);
      await exited;
      clearTimeout(timer);
      groups.delete(child.pid);
      // wrangler has gone; workerd (same group) may not have yet.
      await until(() => membersOf(child.pid).length === 0, { timeout: 10_000, what: "the stack's process group gone" })
        .catch(() => { try { process.kill(-child.pid, "SIGKILL"); } catch {} });
    },
  };
}

/**
 * Run a program without blocking the event loop (a blocked loop lets the
 * servers of the test close idle connections under it). Resolves to
 * { status, stdout, stderr } whatever the exit status.
 */
export function exec(cmd, args, opts = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"], ...opts });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (status) => resolve({ status, stdout, stderr }));
  });
}

/**
 * One HTTP request on a connection of its own (never a pooled keep-alive
 * socket: fetch would send a POST on one the server has since closed, and
 * not retry it). Resolves to { status, headers, text }.
 */
export function request(url, { method = "GET", headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = http.request(url, { method, headers, agent: false }, (res) => {
      answered = true;
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d) => (text += d));
      res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, text }));
      res.on("error", reject);
    });
    // A server that answers before reading the whole body (a 413) may close
    // while the body is still being written: the answer counts, the write's
    // EPIPE/ECONNRESET does not.
    req.on("error", (e) => answered || reject(e));
    req.end(body);
  });
}

let addresses = 0;
/**
 * A client address of its own (198.18.0.0/15, the benchmarking range). The
 * local runtime takes `CF-Connecting-IP` from the request when it is there
 * (Cloudflare's edge sets it itself), so tests that are not about the
 * per-address budgets do not share one address's budget.
 */
/**
 * POST `body`, sent again (up to 20 times) when local tooling cut it short:
 * wrangler's dev proxy answers 503 "Your worker restarted mid-request" when
 * the worker answers (a 413) before it read the whole body, and the socket
 * may reset. Neither is the worker's answer; everything else is returned.
 * `headers` may be a function of the attempt (1, 2, …): a post the worker
 * charges to a per-address budget before reading its body (a creation
 * without a declared length) needs an address of its own per attempt, or
 * the tooling's cuts spend the budget and the worker rightly answers 429.
 */
export async function postAgain(url, { headers = {}, body }) {
  const last = 20;
  for (let attempt = 1; ; attempt++) {
    const sent = typeof headers === "function" ? headers(attempt) : headers;
    const res = await request(url, { method: "POST", headers: sent, body }).catch((e) => {
      if (!["ECONNRESET", "EPIPE"].includes(e.code) || attempt === last) throw e;
      return { tooling: e.code };
    });
    const tooling = res.tooling ?? (res.status === 503 && res.text.includes("restarted mid-request") ? "the dev proxy's 503" : null);
    if (!tooling || attempt === last) return res;
    console.log(`    ${tooling} on a ${body.length}-byte post (attempt ${attempt}): sent again`);
  }
}

export function nextAddress() {
  addresses++;
  return `198.18.${(addresses >> 8) & 255}.${addresses & 255}`;
}

export async function createRoom(url, body = {}, { address = nextAddress() } = {}) {
  const post = () => request(`${url}/api/rooms`, {
    method: "POST",
    headers: { "content-type": "application/json", "cf-connecting-ip": address },
    body: JSON.stringify(body),
  });
  let res = await post();
  // wrangler dev answers this when its worker restarted under the request, and asks for the request again.
  if (res.status === 503 && res.text.includes("restarted mid-request")) {
    console.log("    (wrangler restarted the worker mid-request: creating the room once more)");
    res = await post();
  }
  if (res.status !== 201) throw new Error(`create room: HTTP ${res.status} ${res.text}`);
  return JSON.parse(res.text);
}
