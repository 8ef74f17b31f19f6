// The media proxy tried as an attacker would, on real workerd, against a
// hostile origin: it serves only media, is no relay, no amplifier and no
// port oracle, and the room refuses sources its guard refuses.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import { describe, test } from "node:test";
import { RoomClient, settle } from "../support/client.mjs";
import { proxyPath } from "../support/proxy.mjs";
import { createRoom, fixture, processes, request, root, until, withStack } from "../support/stack.mjs";

const MPD_WITH_SCRIPT = `<?xml version="1.0"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" mediaPresentationDuration="PT4S">
  <h:script xmlns:h="http://www.w3.org/1999/xhtml">localStorage.setItem("pwned", "1")</h:script>
  <Period><AdaptationSet mimeType="video/mp4"><Representation id="1" bandwidth="1"><BaseURL>v.mp4</BaseURL><SegmentBase indexRange="0-99"/></Representation></AdaptationSet></Period>
</MPD>`;
const SEGMENT = readFileSync(`${root}/www/media/demo/init-stream0.m4s`);

/** A hostile origin: documents dressed as media, huge playlists, odd caching. */
async function startHostile() {
  const hits = new Map();
  const big = Buffer.alloc(40 * 1024 * 1024, 7);
  const server = http.createServer((req, res) => {
    const { pathname, searchParams } = new URL(req.url, "http://x");
    hits.set(pathname, (hits.get(pathname) ?? 0) + 1);
    const send = (type, body, extra = {}) => res.writeHead(200, { "content-type": type, "content-length": Buffer.byteLength(body), ...extra }).end(body);
    switch (pathname) {
      case "/x.html": return send("text/html", "<!DOCTYPE html><script>localStorage.setItem('pwned','1')</script>");
      case "/x.svg": return send("image/svg+xml", `<svg xmlns="http://www.w3.org/2000/svg" onload="localStorage.setItem('pwned','1')"/>`);
      case "/html-as-video.mp4": return send("video/mp4", "<!doctype html><script>localStorage.setItem('pwned','1')</script>");
      case "/script.mpd": return send("application/dash+xml", MPD_WITH_SCRIPT);
      case "/v/seg.m4s": return send("video/mp4", SEGMENT);
      case "/v/secret.txt": return send("application/octet-stream", "secret");
      case "/v/show.mpd": return send("application/dash+xml", `<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" mediaPresentationDuration="PT2S"><Period><AdaptationSet mimeType="video/mp4"><Representation id="1" bandwidth="1"><BaseURL>seg.m4s</BaseURL></Representation></AdaptationSet></Period></MPD>`);
      case "/v/setup.exe": return send("application/octet-stream", "MZ\x90\x00 not media at all");
      case "/v/partial.m4s": return res.writeHead(206, { "content-type": "video/mp4", "content-range": "bytes 5-70/100" }).end("<!doctype html><script>localStorage.setItem('pwned','1')</script>");
      case "/no-store.m4s": return send("video/mp4", SEGMENT, { "cache-control": "no-store" });
      case "/max-age.m4s": return send("video/mp4", SEGMENT, { "cache-control": "max-age=600" });
      case "/lines.m3u8": {
        // `#EXTM3U` and then 2-byte URI lines: each would become a ~150-byte link.
        const bytes = Number(searchParams.get("bytes"));
        return send("application/vnd.apple.mpegurl", `#EXTM3U\n${"a\n".repeat(Math.floor((bytes - 8) / 2))}`);
      }
      case "/big.bin": {
        const m = req.headers.range?.match(/^bytes=(\d+)-(\d*)$/);
        if (!m) return res.writeHead(200, { "content-type": "video/mp4", "content-length": big.length }).end(big);
        const [start, end] = [Number(m[1]), m[2] ? Math.min(Number(m[2]), big.length - 1) : big.length - 1];
        res.writeHead(206, { "content-type": "video/mp4", "content-range": `bytes ${start}-${end}/${big.length}`, "content-length": end - start + 1 });
        return res.end(big.subarray(start, end + 1));
      }
      default: res.writeHead(404).end();
    }
  });
  // A port that accepts and then drops every connection, and one nobody listens on.
  const dropper = net.createServer((s) => s.destroy());
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  await new Promise((r) => dropper.listen(0, "127.0.0.1", r));
  const closed = net.createServer();
  await new Promise((r) => closed.listen(0, "127.0.0.1", r));
  const closedPort = closed.address().port;
  await new Promise((r) => closed.close(r));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    dropUrl: `http://127.0.0.1:${dropper.address().port}`,
    closedUrl: `http://127.0.0.1:${closedPort}`,
    hits: (p) => hits.get(p) ?? 0,
    close: () => Promise.all([new Promise((r) => { server.closeAllConnections?.(); server.close(r); }), new Promise((r) => dropper.close(r))]),
  };
}

const evil = fixture(startHostile, (h) => h.close());
const stack = withStack({ vars: { PROXY_TIMEOUT_MS: "3000", ALLOWED_ORIGINS: "https://app.example" } });

const get = (path, headers = {}) => fetch(`${stack.url}${path}`, { headers, redirect: "manual" });
/** A GET whose path goes out exactly as written. */
const rawGet = (path) =>
  new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port: stack.port, path, agent: false }, (res) => {
      let text = "";
      res.setEncoding("utf8").on("data", (d) => (text += d)).on("end", () => resolve({ status: res.statusCode, text }));
    });
    req.on("error", reject).end();
  });
const errorOf = async (res) => (await res.json()).error;

/** workerd's peak resident memory (VmHWM, kB) in the stack's process group. */
function workerdPeakKb() {
  const w = processes().find((p) => p.pgrp === stack.pgid && /workerd/.test(p.cmd));
  const status = w ? readFileSync(`/proc/${w.pid}/status`, "utf8") : "";
  return Number(status.match(/VmHWM:\s+(\d+)/)?.[1] ?? 0);
}

describe("only media leaves the proxy", () => {
  test("HTML, SVG, a document dressed as video and an MPD with a script are refused, with a clear error", async () => {
    for (const p of ["/x.html", "/x.svg", "/html-as-video.mp4", "/script.mpd"]) {
      const res = await get(proxyPath(`${evil.url}${p}`));
      assert.equal(res.status, 415, p);
      assert.equal(res.headers.get("content-type"), "application/json", p);
      const e = await errorOf(res);
      assert.equal(e.code, "not_media", p);
      assert.match(e.message, /not media|script/, p);
      assert.equal(res.headers.get("x-content-type-options"), "nosniff", p);
    }
  });

  test("what passes is labelled as media and carries nosniff, a sandbox CSP and attachment", async () => {
    const res = await get(proxyPath(`${evil.url}/v/seg.m4s`));
    assert.equal(res.status, 200);
    assert.deepEqual(Buffer.from(await res.arrayBuffer()), SEGMENT);
    assert.equal(res.headers.get("content-type"), "video/mp4");
    assert.equal(res.headers.get("x-content-type-options"), "nosniff");
    assert.equal(res.headers.get("content-security-policy"), "sandbox; default-src 'none'");
    assert.equal(res.headers.get("content-disposition"), "attachment");
  });

  test("CORS only for the origins ALLOWED_ORIGINS lists, never *", async () => {
    const path = proxyPath(`${evil.url}/v/seg.m4s`);
    const stranger = await get(path, { origin: "https://evil.example" });
    assert.equal(stranger.headers.get("access-control-allow-origin"), null);
    const listed = await get(path, { origin: "https://app.example" });
    assert.equal(listed.headers.get("access-control-allow-origin"), "https://app.example");
  });
});

describe("no relay", () => {
  test("a link for a room's source fetches that file and no other file of its host", async () => {
    for (const source of [`${evil.url}/v/seg.m4s`, `${evil.url}/`]) {
      const room = await createRoom(stack.url, { source });
      const c = await RoomClient.connect(stack.wsUrl, room.id, "Ana");
      const link = c.welcome.room.source.play_url;
      c.close();
      assert.match(link, /^\/proxy\//);
      assert.ok(link.includes(`/${room.id}/`), "the link names its room");
      // The link with something appended, or pointed at another file: refused.
      for (const tampered of [`${link}secret.txt`, `${link}../secret.txt`, link.replace(/\/f\/[^/]+\/$/, `/f/${Buffer.from(`${evil.url}/v/secret.txt`).toString("base64url")}/`), link.replace("/f/", "/d/")]) {
        const res = await get(`${tampered}`);
        assert.ok([400, 403].includes(res.status), `${tampered}: ${res.status}`);
      }
    }
    assert.equal(evil.hits("/v/secret.txt"), 0, "the origin never saw a request for another file");
  });

  test("below a manifest's directory link, only media: another file of that directory is refused", async () => {
    const room = await createRoom(stack.url, { source: `${evil.url}/v/show.mpd` });
    const c = await RoomClient.connect(stack.wsUrl, room.id, "Ana");
    const link = c.welcome.room.source.play_url;
    c.close();
    assert.match(link, /\/d\/[^/]+\/show\.mpd$/, "a manifest is linked through its directory");
    assert.equal((await get(link)).status, 200);
    assert.equal((await get(link.replace(/show\.mpd$/, "seg.m4s"))).status, 200);
    for (const file of ["secret.txt", "setup.exe"]) {
      const res = await get(link.replace(/show\.mpd$/, file));
      assert.equal(res.status, 415, file);
      assert.equal((await errorOf(res)).code, "not_media", file);
    }
    // Partial content nobody asked for is not passed on unread.
    const partial = await get(link.replace(/show\.mpd$/, "partial.m4s"));
    assert.equal(partial.status, 502);
  });

  test("no host root is ever signed as a directory; ;-parameters and double-encoded dots stay below theirs", async () => {
    const root = await get(proxyPath(`${evil.url}/`, { rest: "v/secret.txt" }));
    assert.equal(root.status, 400);
    assert.match((await errorOf(root)).message, /host root/);
    const before = evil.hits("/x.html");
    for (const rest of ["..;/x.html", "a/..;/..;/x.html", "%252e%252e/x.html", "%2e%2e/x.html", "a/%2E%2e/%2e%2E/x.html", "a\\..\\..\\x.html"]) {
      // Sent byte for byte (a client's URL parser would resolve `%2e%2e` first;
      // the runtime's may, which then breaks the signed prefix instead).
      const res = await rawGet(proxyPath(`${evil.url}/v/`, { rest }));
      assert.equal(res.status, 400, rest);
      assert.equal(JSON.parse(res.text).error.code, "bad_proxy_path", rest);
    }
    assert.equal(evil.hits("/x.html"), before, "no climb reached the origin");
  });

  test("the upstream's Cache-Control caps the cache: no-store is fetched each time", async () => {
    for (let i = 0; i < 2; i++) await (await get(proxyPath(`${evil.url}/no-store.m4s`))).arrayBuffer();
    assert.equal(evil.hits("/no-store.m4s"), 2);
    for (let i = 0; i < 2; i++) await (await get(proxyPath(`${evil.url}/max-age.m4s`))).arrayBuffer();
    assert.equal(evil.hits("/max-age.m4s"), 1);
  });

  test("a body above 16 MiB is served only by bounded ranges, uncached", async () => {
    const whole = await get(proxyPath(`${evil.url}/big.bin`));
    assert.equal(whole.status, 413);
    assert.equal((await errorOf(whole)).code, "too_large");
    const open = await get(proxyPath(`${evil.url}/big.bin`), { range: "bytes=0-" });
    assert.equal(open.status, 206);
    const body = Buffer.from(await open.arrayBuffer());
    assert.equal(body.length, 16 * 1024 * 1024, "an open range is narrowed to 16 MiB");
    assert.equal(open.headers.get("content-range"), `bytes 0-${16 * 1024 * 1024 - 1}/${40 * 1024 * 1024}`);
    assert.equal(open.headers.get("x-cache"), "BYPASS");
  });
});

describe("no amplification, no oracle", () => {
  test("a playlist of 2-byte lines answers 413 quickly, 300 kB, 1 MB and 16 MB, with workerd's memory bounded", async () => {
    const before = workerdPeakKb();
    // 300 kB: fewer lines than a rewrite may map, stopped at the output bound;
    // 1 MB and 16 MB: more lines than that, refused before any link is made.
    for (const bytes of [300_000, 1_000_000, 16_000_000]) {
      const t = Date.now();
      const res = await get(proxyPath(`${evil.url}/lines.m3u8?bytes=${bytes}`));
      const e = await errorOf(res);
      assert.equal(res.status, 413, JSON.stringify(e));
      assert.equal(e.code, "manifest_amplification");
      console.log(`    ${bytes / 1e6} MB of 2-byte lines: 413 in ${Date.now() - t} ms (${e.message})`);
    }
    const grown = (workerdPeakKb() - before) / 1024;
    console.log(`    workerd peak memory grew by ${grown.toFixed(0)} MiB`);
    assert.ok(grown < 64, `workerd peak memory grew by ${grown.toFixed(0)} MiB`);
    // And the proxy still works.
    assert.equal((await get(proxyPath(`${evil.url}/v/seg.m4s`))).status, 200);
  });

  test("an unreachable upstream answers one fixed error, whatever the runtime said", async () => {
    const bodies = [];
    for (const u of [`${evil.closedUrl}/x.m4s`, `${evil.dropUrl}/x.m4s`]) {
      const res = await get(proxyPath(u));
      assert.equal(res.status, 502, u);
      bodies.push(await res.text());
    }
    assert.equal(bodies[0], bodies[1], "a closed port and a dropping one look the same");
    assert.deepEqual(JSON.parse(bodies[0]).error, { code: "upstream_unreachable", message: "the upstream could not be reached" });
  });
});

describe("the room refuses sources its guard refuses", () => {
  const strict = withStack({ vars: { PROXY_ALLOW_LOOPBACK: "0" } });

  test("at creation and by command, with the reason, to whoever set it", async () => {
    for (const source of ["http://127.0.0.1:8080/x.mpd", "http://10.0.0.1/x.mpd", "http://169.254.169.254/latest/", "http://[::1]/x", "http://printer.local/x.mpd"]) {
      const res = await request(`${strict.url}/api/rooms`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ source }) });
      assert.equal(res.status, 400, source);
      const e = JSON.parse(res.text).error;
      assert.equal(e.code, "bad_source", source);
      assert.match(e.message, /not allowed/, source);
    }
    const room = await createRoom(strict.url, {});
    const ana = await RoomClient.connect(strict.wsUrl, room.id, "Ana");
    const bo = await RoomClient.connect(strict.wsUrl, room.id, "Bo");
    try {
      ana.send({ type: "command", id: 7, command: { op: "set_source", url: "http://192.168.1.1/admin" } });
      const err = await ana.nextWhere("error", (m) => m.command_id === 7);
      assert.match(err.message, /not allowed/);
      ana.send({ type: "command", id: 8, command: { op: "queue_add", url: "http://10.1.2.3/x.m3u8" } });
      assert.match((await ana.nextWhere("error", (m) => m.command_id === 8)).message, /not allowed/);
      // Nobody else was told anything of it.
      await settle(ana, bo);
      assert.ok(!JSON.stringify(bo.inbox).match(/192\.168|10\.1\.2\.3/), JSON.stringify(bo.inbox).slice(0, 500));
    } finally {
      ana.close();
      bo.close();
    }
  });
});

describe("the proxy on its own origin (MEDIA_ORIGIN)", () => {
  // One workerd, two origins: the app on 127.0.0.1, the media proxy on localhost.
  const split = withStack({ vars: (port) => ({ MEDIA_ORIGIN: `http://localhost:${port}`, APP_ORIGIN: `http://127.0.0.1:${port}` }) });
  const onMedia = (path, headers = {}) => request(`${split.url}${path}`, { headers: { host: `localhost:${split.port}`, ...headers } });

  test("links are made on the media origin, which serves the proxy and nothing else", async () => {
    const room = await createRoom(split.url, { source: `${evil.url}/v/seg.m4s` });
    const c = await RoomClient.connect(split.wsUrl, room.id, "Ana");
    const link = c.welcome.room.source.play_url;
    c.close();
    const media = `http://localhost:${split.port}`;
    assert.ok(link.startsWith(`${media}/proxy/`), link);
    const path = link.slice(media.length);
    const res = await onMedia(path, { origin: `http://127.0.0.1:${split.port}` });
    assert.equal(res.status, 200);
    assert.equal(res.headers["access-control-allow-origin"], `http://127.0.0.1:${split.port}`, "the app may read its media");
    // The same link on the app's origin: refused.
    const onApp = await request(`${split.url}${path}`);
    assert.equal(onApp.status, 404);
    // No page, no API on the media origin; the app's origin still serves them.
    for (const p of ["/", "/room.html", "/embed.js", `/r/${room.id}`, `/api/rooms/${room.id}`]) {
      const r = await onMedia(p);
      assert.equal(r.status, 404, p);
      assert.match(r.headers["content-type"], /application\/json/, p);
    }
    const page = await request(`${split.url}/`);
    assert.equal(page.status, 200);
    assert.match(page.headers["content-type"], /text\/html/);
  });
});

// Last in the file: it spends this client's request budget.
describe("budgets", () => {
  test("a client over its request budget gets 429, and is served again after the window", async () => {
    const path = proxyPath(`${evil.url}/v/seg.m4s`);
    const t = Date.now();
    let n = 0;
    let refused;
    while (!refused && n < 2_000) {
      const res = await get(path);
      await res.arrayBuffer();
      n++;
      if (res.status === 429) refused = res;
      else assert.equal(res.status, 200);
    }
    assert.ok(refused, `no 429 after ${n} requests`);
    assert.equal(refused.headers.get("retry-after"), "10");
    console.log(`    429 after ${n} requests in ${Date.now() - t} ms`);
    const t2 = Date.now();
    await until(async () => (await get(path)).status === 200, { timeout: 30_000, every: 500, what: "served again after the window" });
    console.log(`    served again ${Date.now() - t2} ms later`);
  });
});
