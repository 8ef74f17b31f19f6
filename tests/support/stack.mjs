// Starts the real edge worker on workerd (wrangler dev) on a free port, with
// its own Durable Object storage directory, for one test file.
import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
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

/** The proxy secret every test stack runs with (tests sign URLs with it). */
export const PROXY_SECRET = "test-proxy-secret-0123456789abcdef";

/** Start workerd via wrangler dev. `persistTo` reuses a storage dir (restart tests). */
export async function startStack(opts = {}) {
  // A free port can be taken by another process between the check and the
  // bind (workerd itself opens several): try again on a fresh one.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startStackOnce(opts);
    } catch (e) {
      if (attempt >= 3 || !/Address already in use/.test(String(e.message))) throw e;
    }
  }
}

async function startStackOnce({ persistTo, vars: extra = {} } = {}) {
  const vars = { PROXY_SECRET, PROXY_ALLOW_LOOPBACK: "1", ...extra };
  const port = await freePort();
  const inspector = await freePort();
  const dir = persistTo ?? mkdtempSync(join(tmpdir(), "wt-state-"));
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
      throw new Error(`wrangler dev did not become ready on ${url}:\n${logs}`);
    }
    await sleep(100);
  }
  return {
    url,
    wsUrl: `ws://127.0.0.1:${port}`,
    dir,
    logs: () => logs,
    async stop() {
      try { process.kill(-child.pid, "SIGTERM"); } catch {}
      const timer = setTimeout(() => { try { process.kill(-child.pid, "SIGKILL"); } catch {} }, 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

export async function createRoom(url, body = {}) {
  const res = await fetch(`${url}/api/rooms`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  if (res.status !== 201) throw new Error(`create room: HTTP ${res.status} ${await res.text()}`);
  return res.json();
}
