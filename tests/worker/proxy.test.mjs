// The signed, caching media proxy on real workerd, in front of a real local
// origin serving ffmpeg-made DASH and HLS (which sends no CORS headers).
import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, test } from "node:test";
import { RoomClient } from "../support/client.mjs";
import { proxyPath, sign } from "../support/proxy.mjs";
import { createRoom, root, withStack } from "../support/stack.mjs";
import { withUpstream } from "../support/upstream.mjs";

const up = withUpstream({ "/dash/": join(root, "www/media/demo"), "/hls/": join(root, "target/test-media/hls") });
const stack = withStack({ vars: { PROXY_TIMEOUT_MS: "1500", ALLOWED_ORIGINS: "https://embed.example" } });

const get = (path, headers = {}, method = "GET") => fetch(`${stack.url}${path}`, { headers, method, redirect: "manual" });
const errorOf = async (res) => (await res.json()).error;
/** Every attribute value or text that is a URL in a rewritten manifest. */
const dashUrls = (xml) => [...xml.matchAll(/(?:media|initialization|sourceURL|index)="([^"]+)"|<BaseURL[^>]*>([^<]+)</g)].map((m) => m[1] ?? m[2]);

describe("DASH through the proxy", () => {
  let manifest;
  let base;
  test("the manifest is rewritten so every reference is a signed proxy URL", async () => {
    const res = await get(proxyPath(`${up.url}/dash/manifest.mpd`));
    assert.equal(res.status, 200, await res.clone().text());
    assert.equal(res.headers.get("content-type"), "application/dash+xml");
    assert.equal(res.headers.get("x-cache"), "MISS");
    manifest = await res.text();
    const urls = dashUrls(manifest);
    assert.ok(urls.length >= 4, `references found: ${urls}`);
    // Relative references stay relative below the proxied BaseURL the
    // rewrite gives the MPD (a link to the manifest's own directory).
    base = urls[0];
    assert.ok(base.startsWith(`${stack.url}/proxy/`) && base.includes("/d/"), `the MPD's BaseURL is a proxied directory: ${base}`);
    for (const u of urls) assert.ok(new URL(u, base).href.startsWith(`${stack.url}/proxy/`), `not proxied: ${u}`);
    assert.ok(!manifest.includes(up.url), "no upstream URL left in the manifest");
    // Everything else passes through: the timeline is byte-identical.
    const original = up.read("/dash/", "manifest.mpd").toString();
    assert.equal(manifest.match(/<SegmentTimeline>[\s\S]*?<\/SegmentTimeline>/g).join(), original.match(/<SegmentTimeline>[\s\S]*?<\/SegmentTimeline>/g).join());
  });

  test("an expanded template segment comes through with Range, then from the cache", async () => {
    const media = manifest.match(/media="([^"]+)"/)[1];
    assert.ok(media.includes("$RepresentationID$") && media.includes("$Number%05d$"), `template identifiers kept: ${media}`);
    const url = media.replace("$RepresentationID$", "0").replace("$Number%05d$", "00003");
    const path = new URL(url, base).pathname;
    const file = up.read("/dash/", "chunk-stream0-00003.m4s");
    const before = up.hits("/dash/chunk-stream0-00003.m4s");

    const first = await get(path, { range: "bytes=100-1099" });
    assert.equal(first.status, 206);
    assert.equal(first.headers.get("content-range"), `bytes 100-1099/${file.length}`);
    assert.equal(first.headers.get("x-cache"), "MISS");
    assert.deepEqual(Buffer.from(await first.arrayBuffer()), file.subarray(100, 1100));

    const second = await get(path, { range: "bytes=100-1099" });
    assert.equal(second.status, 206);
    assert.equal(second.headers.get("x-cache"), "HIT");
    assert.equal(second.headers.get("content-range"), `bytes 100-1099/${file.length}`);
    assert.deepEqual(Buffer.from(await second.arrayBuffer()), file.subarray(100, 1100));
    assert.equal(up.hits("/dash/chunk-stream0-00003.m4s"), before + 1, "the origin was asked once");

    const whole = await get(path);
    assert.equal(whole.status, 200);
    assert.deepEqual(Buffer.from(await whole.arrayBuffer()), file);
  });

  test("HEAD and conditional requests", async () => {
    const path = proxyPath(`${up.url}/dash/init-stream0.m4s`);
    const size = up.read("/dash/", "init-stream0.m4s").length;
    const head = await get(path, {}, "HEAD");
    assert.equal(head.status, 200);
    assert.equal(head.headers.get("content-length"), String(size));
    assert.equal((await head.arrayBuffer()).byteLength, 0);
    const full = await get(path);
    const etag = full.headers.get("etag");
    assert.ok(etag, "etag passed on");
    await full.arrayBuffer();
    const again = await get(path, { "if-none-match": etag });
    assert.equal(again.status, 304);
  });

  test("CORS for listed origins only, with the media headers exposed", async () => {
    const path = proxyPath(`${up.url}/dash/init-stream1.m4s`);
    const stranger = await get(path, { origin: "https://stranger.example" });
    assert.equal(stranger.headers.get("access-control-allow-origin"), null, "an origin ALLOWED_ORIGINS does not list");
    await stranger.arrayBuffer();
    const res = await get(path, { origin: "https://embed.example" });
    assert.equal(res.headers.get("access-control-allow-origin"), "https://embed.example");
    assert.match(res.headers.get("access-control-expose-headers"), /content-range/);
    await res.arrayBuffer();
    const pre = await fetch(`${stack.url}${path}`, { method: "OPTIONS", headers: { origin: "https://embed.example", "access-control-request-method": "GET", "access-control-request-headers": "range" } });
    assert.equal(pre.status, 204);
    assert.match(pre.headers.get("access-control-allow-headers"), /range/);
  });
});

describe("HLS through the proxy", () => {
  test("master → media playlist → init and segments, all proxied", async () => {
    const master = await (await get(proxyPath(`${up.url}/hls/master.m3u8`))).text();
    assert.match(master, /^#EXTM3U/);
    const variant = master.split("\n").find((l) => l && !l.startsWith("#"));
    assert.ok(variant.startsWith(`${stack.url}/proxy/`), variant);
    const mediaRes = await get(new URL(variant).pathname + new URL(variant).search);
    assert.equal(mediaRes.status, 200);
    assert.equal(mediaRes.headers.get("content-type"), "application/vnd.apple.mpegurl");
    const media = await mediaRes.text();
    const map = media.match(/#EXT-X-MAP:URI="([^"]+)"/)[1];
    const segments = media.split("\n").filter((l) => l && !l.startsWith("#"));
    assert.ok(segments.length >= 5, `segments: ${segments.length}`);
    for (const u of [map, ...segments]) assert.ok(u.startsWith(`${stack.url}/proxy/`), `not proxied: ${u}`);
    const original = up.read("/hls/", "media.m3u8").toString().split("\n");
    assert.deepEqual(media.split("\n").filter((l) => l.startsWith("#EXTINF")), original.filter((l) => l.startsWith("#EXTINF")));
    const init = await get(new URL(map).pathname);
    assert.deepEqual(Buffer.from(await init.arrayBuffer()), up.read("/hls/", "init.mp4"));
    const seg = await get(new URL(segments[2]).pathname, { range: "bytes=0-15" });
    assert.equal(seg.status, 206);
    assert.deepEqual(Buffer.from(await seg.arrayBuffer()), up.read("/hls/", "seg-002.m4s").subarray(0, 16));
  });
});

describe("signatures", () => {
  const target = () => `${up.url}/dash/manifest.mpd`;
  test("tampered, expired, wrong-secret and missing signatures are refused", async () => {
    const exp = Math.floor(Date.now() / 1000) + 600;
    const good = sign(target(), exp);
    const other = "OtherRoomOtherRoomOther";
    const flipped = (good[0] === "A" ? "B" : "A") + good.slice(1);
    const cases = [
      ["tampered signature", proxyPath(target(), { expires: exp, sig: flipped }), 403, "bad_signature"],
      ["tampered expiry", proxyPath(target(), { expires: exp + 1, sig: good }), 403, "bad_signature"],
      ["tampered URL", proxyPath(`${up.url}/dash/manifest.mpdx`, { expires: exp, sig: good }), 403, "bad_signature"],
      ["expired", proxyPath(target(), { expires: Math.floor(Date.now() / 1000) - 5 }), 403, "signature_expired"],
      ["wrong secret", proxyPath(target(), { secret: "some-other-secret-0123456789" }), 403, "bad_signature"],
      ["moved to another room", proxyPath(target(), { expires: exp, sig: good, room: other }), 403, "bad_signature"],
      ["a whole-URL signature used as a directory", proxyPath(target(), { expires: exp, sig: good, scope: "d" }), 400, "bad_proxy_path"],
      ["malformed signature", proxyPath(target(), { sig: "abc" }), 403, "bad_signature"],
      ["rest after a whole-URL signature", proxyPath(target(), { rest: "x.m4s" }), 400, "bad_proxy_path"],
      ["climbing out of a signed directory", proxyPath(`${up.url}/dash/`, { rest: "%2e%2e/hls/master.m3u8" }), 400, "bad_proxy_path"],
      ["not a proxy path", "/proxy/just-one-segment", 400, "bad_proxy_path"],
    ];
    for (const [what, path, status, code] of cases) {
      const res = await get(path);
      assert.equal(res.status, status, what);
      assert.equal((await errorOf(res)).code, code, what);
    }
    assert.equal((await get(proxyPath(target()), {}, "POST")).status, 405);
  });

  test("a room hands out a signed proxy URL for its source", async () => {
    const room = await createRoom(stack.url, { source: `${up.url}/dash/manifest.mpd`, title: "Upstream" });
    const c = await RoomClient.connect(stack.wsUrl, room.id, "Ana");
    try {
      const src = c.welcome.room.source;
      assert.equal(src.url, `${up.url}/dash/manifest.mpd`);
      assert.match(src.play_url, /^\/proxy\//);
      const res = await get(src.play_url);
      assert.equal(res.status, 200);
      assert.match(await res.text(), /<MPD/);
    } finally {
      c.close();
    }
  });
});

describe("upstream failures and limits", () => {
  test("upstream errors become 502 with the upstream status", async () => {
    for (const s of [404, 500, 503]) {
      const res = await get(proxyPath(`${up.url}/status/${s}`));
      assert.equal(res.status, 502);
      const e = await errorOf(res);
      assert.equal(e.code, "upstream_error");
      assert.equal(e.upstream_status, s);
    }
  });

  test("a silent upstream times out with 504", async () => {
    const t = Date.now();
    const res = await get(proxyPath(`${up.url}/slow.mpd`));
    assert.equal(res.status, 504);
    assert.equal((await errorOf(res)).code, "upstream_timeout");
    // The configured 1.5 s, not some far longer default (generous for a busy machine).
    assert.ok(Date.now() - t < 15_000, `took ${Date.now() - t} ms`);
    console.log(`    504 after ${Date.now() - t} ms (PROXY_TIMEOUT_MS 1500)`);
  });

  test("redirects are followed by hand, at most 5, each one guarded", async () => {
    const ok = await get(proxyPath(`${up.url}/redirect/3/dash/init-stream0.m4s`));
    assert.equal(ok.status, 200);
    assert.deepEqual(Buffer.from(await ok.arrayBuffer()), up.read("/dash/", "init-stream0.m4s"));
    const many = await get(proxyPath(`${up.url}/redirect/6/dash/init-stream0.m4s`));
    assert.equal(many.status, 502);
    assert.equal((await errorOf(many)).code, "too_many_redirects");
    for (const target of ["http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/x", "http://[fd00::1]/x", "file:///etc/passwd", "http://0x0a000001/"]) {
      const res = await get(proxyPath(`${up.url}/redirect-to?url=${encodeURIComponent(target)}`));
      assert.equal(res.status, 403, target);
      assert.equal((await errorOf(res)).code, "forbidden_upstream", target);
    }
  });

  test("billion laughs fails cleanly and fast", async () => {
    const t = Date.now();
    const res = await get(proxyPath(`${up.url}/laughs.mpd`));
    assert.equal(res.status, 502);
    assert.equal((await errorOf(res)).code, "manifest_dtd_refused");
    // Refused before any expansion: an expanding parser would not come back at all.
    assert.ok(Date.now() - t < 15_000, `took ${Date.now() - t} ms`);
  });

  test("a 100 MB manifest is refused with 413, sized or chunked, and the proxy keeps working", async () => {
    for (const p of ["/big.mpd", "/big-chunked.mpd"]) {
      const res = await get(proxyPath(`${up.url}${p}`));
      assert.equal(res.status, 413, p);
      assert.equal((await errorOf(res)).code, "manifest_too_large", p);
    }
    const after = await get(proxyPath(`${up.url}/dash/manifest.mpd`));
    assert.equal(after.status, 200);
    await after.text();
  });
});

describe("SSRF guard without the loopback allowance", () => {
  const strict = withStack({ vars: { PROXY_ALLOW_LOOPBACK: "0" } });

  test("every private, local and odd spelling is refused before any fetch", async () => {
    const refused = [
      "http://127.0.0.1/", "http://127.1/", "http://2130706433/", "http://0x7f000001/", "http://0177.0.0.1/", "http://0x7f.0.0.1/",
      "http://localhost/", "http://LOCALHOST./", "http://foo.localhost/", "http://printer.local/", "http://db.internal/",
      "http://[::1]/", "http://[0:0:0:0:0:0:0:1]/", "http://[::ffff:127.0.0.1]/", "http://[::ffff:7f00:1]/", "http://[::]/", "http://0.0.0.0/", "http://0/",
      "http://10.0.0.1/", "http://012.0.0.1/", "http://172.16.0.1/", "http://172.31.255.255/", "http://192.168.0.1/", "http://3232235521/",
      "http://169.254.169.254/", "http://[fe80::1]/", "http://[fc00::1]/", "http://[fd12:3456::1]/", "http://100.64.0.1/", "http://100.127.255.254/",
      "http://224.0.0.1/", "http://239.255.255.250/", "http://[ff02::1]/", "http://255.255.255.255/",
      "http://192.0.2.1/", "http://198.51.100.7/", "http://203.0.113.9/", "http://[2001:db8::1]/", "http://198.18.0.1/",
      "http://[::ffff:10.0.0.1]/", "http://[64:ff9b::a00:1]/", "http://user:pass@example.com/", "http://user@example.com/",
    ];
    for (const u of refused) {
      const res = await fetch(`${strict.url}${proxyPath(u)}`);
      assert.equal(res.status, 403, u);
      assert.equal((await errorOf(res)).code, "forbidden_upstream", u);
    }
    for (const u of ["ftp://example.com/x", "file:///etc/passwd", "gopher://example.com/"]) {
      const res = await fetch(`${strict.url}${proxyPath(u)}`);
      assert.equal(res.status, 400, u);
      assert.equal((await errorOf(res)).code, "bad_proxy_path", u);
    }
    // The loopback origin itself is refused here too.
    const res = await fetch(`${strict.url}${proxyPath(`${up.url}/dash/manifest.mpd`)}`);
    assert.equal(res.status, 403);
  });
});
