// `cargo xtask dev` stopped by a signal — SIGTERM (kill), SIGHUP (a closed
// terminal), SIGINT (Ctrl-C) — leaves nothing behind: wrangler and workerd
// are gone and the port is free for the next `cargo xtask dev`.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import net from "node:net";
import { describe, test } from "node:test";
import { freePort, membersOf, processes, root, track, until } from "../support/stack.mjs";

/** Process groups whose command line mentions `needle`. */
const groupsOf = (needle) => new Set(processes().filter((p) => p.cmd.includes(needle)).map((p) => p.pgrp));

const refused = (port) =>
  new Promise((resolve) => {
    const s = net.connect(port, "127.0.0.1");
    s.on("connect", () => { s.destroy(); resolve(false); });
    s.on("error", (e) => resolve(e.code === "ECONNREFUSED"));
  });

describe("cargo xtask dev stops everything it started", () => {
  for (const signal of ["SIGTERM", "SIGHUP", "SIGINT"]) {
    test(`on ${signal}: wrangler and workerd gone, the port free`, async (t) => {
      const port = await freePort();
      const dev = spawn("cargo", ["xtask", "dev"], {
        cwd: root,
        detached: true, // its own group, so that this test can clean up if it fails
        stdio: ["ignore", "pipe", "pipe"],
        env: { ...process.env, WT_DEV_PORT: String(port) },
      });
      let out = "";
      dev.stdout.on("data", (d) => (out += d));
      dev.stderr.on("data", (d) => (out += d));
      const exited = new Promise((r) => dev.on("exit", (code, sig) => r({ code, sig })));
      // Whatever happens to this test (or to this process), nothing it started stays.
      const untrack = track(dev.pid);
      let wrangler = new Set();
      t.after(() => {
        for (const g of [dev.pid, ...wrangler]) {
          try { process.kill(-g, "SIGKILL"); } catch {}
        }
        untrack();
      });
      await until(async () => {
        if (dev.exitCode !== null) throw new Error(`cargo xtask dev exited early:\n${out.slice(-3000)}`);
        try { return (await fetch(`http://127.0.0.1:${port}/healthz`)).ok; } catch { return false; }
      }, { timeout: 240_000, every: 200, what: `cargo xtask dev answering on ${port}` });
      wrangler = groupsOf(`--port ${port}`);
      wrangler.delete(dev.pid);
      for (const g of wrangler) t.after(track(g));
      assert.equal(wrangler.size, 1, `wrangler runs in one process group of its own: ${[...wrangler]}`);
      const [group] = wrangler;
      assert.ok(membersOf(group).length >= 2, `wrangler and workerd: ${membersOf(group).join(" | ")}`);

      process.kill(dev.pid, signal); // the xtask process only, as `kill PID` or the terminal would
      const { code, sig } = await Promise.race([exited, until(() => false, { timeout: 30_000, what: "cargo xtask dev exiting" })]);
      assert.ok(code !== 0 || sig, `xtask says it was stopped (code ${code}, signal ${sig})`);
      // xtask exits only once the groups are empty: nothing may be left now.
      assert.deepEqual(membersOf(group), [], "nothing of wrangler's group is left");
      assert.equal(await refused(port), true, `port ${port} is free`);
      assert.deepEqual(membersOf(dev.pid), [], "nothing of xtask's group is left");
    });
  }
});
