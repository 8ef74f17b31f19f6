// The edge time endpoint on the real workerd runtime: the worker's clock,
// answered by the worker itself — no Durable Object is created or stored
// for it — over HTTP (uncached, small, GET only) and per message of a
// WebSocket (in order, bounded in size and rate).
import assert from "node:assert/strict";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import WebSocket from "ws";
import { createRoom, startStack, until } from "../support/stack.mjs";

/** Every file under `dir` (none if it does not exist). */
function files(dir) {
  let out = [];
  let entries = [];
  try { entries = readdirSync(dir); } catch { return out; }
  for (const e of entries) {
    const p = join(dir, e);
    out = statSync(p).isDirectory() ? out.concat(files(p)) : out.concat([p]);
  }
  return out;
}

/** A WebSocket with its answers queued: `next()`, `closed` (the close code). */
async function socket(url) {
  const ws = new WebSocket(url);
  ws.answers = [];
  const waiting = [];
  ws.on("message", (d) => { const w = waiting.shift(); if (w) w(String(d)); else ws.answers.push(String(d)); });
  ws.next = () => (ws.answers.length ? Promise.resolve(ws.answers.shift()) : new Promise((r) => waiting.push(r)));
  ws.closed = new Promise((r) => ws.on("close", (code) => r(code)));
  await new Promise((r, j) => { ws.once("open", r); ws.once("error", j); });
  return ws;
}

test("GET /api/time answers the worker's clock, uncached, without touching a Durable Object", async () => {
  const stack = await startStack();
  try {
    // Each Durable Object keeps a database of its own under the persist
    // dir's `do/<class>/` (next to the namespace's `metadata.sqlite`).
    const objects = () => files(join(stack.dir, "v3/do")).filter((f) => !/\/metadata\.sqlite/.test(f));
    assert.deepEqual(objects(), [], "a fresh runtime holds no Durable Object");
    for (let i = 0; i < 50; i++) {
      const before = Date.now();
      const res = await fetch(`${stack.url}/api/time`);
      const after = Date.now();
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("cache-control"), "no-store");
      const text = await res.text();
      assert.ok(text.length < 40, `a small answer: ${text}`);
      const { t } = JSON.parse(text);
      // The same machine's clock: between the request and its answer (ms resolution).
      assert.ok(t >= before - 1 && t <= after + 1, `${before} <= ${t} <= ${after}`);
    }
    assert.deepEqual(objects(), [], "still none after 50 probes");
    // Over a WebSocket: each message answered in order with the time then.
    const ws = await socket(`${stack.wsUrl}/api/time`);
    for (let i = 0; i < 8; i++) {
      const before = Date.now();
      ws.send("t");
      const { t } = JSON.parse(await ws.next());
      assert.ok(t >= before - 1 && t <= Date.now() + 1, `${before} <= ${t}`);
      await new Promise((r) => setTimeout(r, 120)); // (within the socket's 10 a second)
    }
    ws.close();
    // Bounded: a message over 64 bytes, or a burst of 30, closes the socket.
    const big = await socket(`${stack.wsUrl}/api/time`);
    big.send("x".repeat(65));
    assert.equal(await big.closed, 1009);
    const burst = await socket(`${stack.wsUrl}/api/time`);
    for (let i = 0; i < 30; i++) burst.send("t");
    assert.equal(await burst.closed, 1008);
    assert.ok(burst.answers.length >= 10 && burst.answers.length < 30, `the burst's first ten answered, then closed: ${burst.answers.length}`);
    assert.deepEqual(objects(), [], "and none after the sockets");
    // An allowed page on another origin may read it (the embed's pages).
    const cors = await fetch(`${stack.url}/api/time`, { headers: { origin: "https://embedder.example" } });
    assert.equal(cors.headers.get("access-control-allow-origin"), "https://embedder.example");
    for (const method of ["POST", "PUT", "DELETE"]) {
      const res = await fetch(`${stack.url}/api/time`, { method, body: "x".repeat(100) });
      assert.equal(res.status, 404, `${method} is refused`);
      assert.equal((await res.json()).error.code, "not_found");
    }
    // The check can fail: a room does put a Durable Object there.
    await createRoom(stack.url);
    assert.ok(objects().length > 0, "a room's Durable Object is stored under do/");
  } finally {
    await stack.stop();
  }
});

test("time sockets are budgeted per address: 120 in 10 s (as room sockets), then 429; another address is served meanwhile", async () => {
  const stack = await startStack();
  try {
    const open = (address) => new Promise((resolve) => {
      const ws = new WebSocket(`${stack.wsUrl}/api/time`, { headers: { "cf-connecting-ip": address } });
      ws.once("open", () => { ws.close(); resolve(101); });
      ws.once("unexpected-response", (_req, res) => resolve(res.statusCode));
      ws.once("error", () => resolve(0));
    });
    // The Rate Limiting binding counts in fixed 10 s windows from the epoch
    // (locally): a burst that straddles a window's end is counted in two
    // (a loaded run, 2026-12-06: the 121st and 122nd opened). So the burst
    // starts at a window's start, and one that still straddles (it took
    // over 9 s) is made again, once, from another address.
    const windowOf = (t) => Math.floor(t / 10_000);
    let statuses, straddled;
    for (const address of ["203.0.113.77", "203.0.113.79"]) {
      await until(() => Date.now() % 10_000 < 1_000, { timeout: 12_000, every: 50, what: "a rate-limit window's start" });
      const t0 = Date.now();
      statuses = [];
      for (let i = 0; i < 122; i++) statuses.push(await open(address));
      straddled = windowOf(Date.now()) !== windowOf(t0) ? `the burst from ${address} straddled two windows (${Date.now() - t0} ms)` : null;
      if (!straddled) break;
    }
    assert.equal(straddled, null);
    assert.deepEqual(statuses.slice(0, 120), Array(120).fill(101), "the first 120 open");
    assert.deepEqual(statuses.slice(120), [429, 429], "then 429");
    assert.equal(await open("203.0.113.78"), 101, "another address is served");
  } finally {
    await stack.stop();
  }
});
