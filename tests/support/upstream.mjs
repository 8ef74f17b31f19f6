// A real local HTTP origin for the media proxy tests: serves files with
// Range, ETag and conditional requests (no CORS headers, like most origins),
// plus routes that misbehave on purpose. Counts requests per path.
import { createReadStream, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import { extname, join, normalize } from "node:path";
import { fixture } from "./stack.mjs";

const TYPES = { ".mpd": "application/dash+xml", ".m3u8": "application/vnd.apple.mpegurl", ".m4s": "video/iso.segment", ".ts": "video/mp2t", ".mp4": "video/mp4", ".m4a": "audio/mp4", ".webm": "video/webm", ".js": "text/javascript", ".wasm": "application/wasm", ".html": "text/html; charset=utf-8" };

export const BILLION_LAUGHS = `<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011"><BaseURL>&lol9;</BaseURL></MPD>
`;

const iso = (ms) => new Date(ms).toISOString();

/**
 * A live stream made of a VOD MPD (ffmpeg's SegmentTemplate + SegmentTimeline):
 * dynamic, published as if the stream had started at `ast`, listing only the
 * segments complete by `now` and not older than the time-shift window
 * (startNumber moves with the window). Refreshed every 2 s by the player.
 */
export function liveMpd(vod, ast, now, { tsbd = 30 } = {}) {
  const live = (now - ast) / 1000;
  let out = vod
    .replace(/\s*mediaPresentationDuration="[^"]*"/, "")
    .replace(/type="static"/, `type="dynamic" availabilityStartTime="${iso(ast)}" publishTime="${iso(now)}" minimumUpdatePeriod="PT2S" timeShiftBufferDepth="PT${tsbd}S" suggestedPresentationDelay="PT4S"`);
  out = out.replace(/<SegmentTemplate([^>]*)>\s*<SegmentTimeline>([\s\S]*?)<\/SegmentTimeline>/g, (_, attrs, body) => {
    const ts = Number(attrs.match(/timescale="(\d+)"/)?.[1] ?? 1);
    const start = Number(attrs.match(/startNumber="(\d+)"/)?.[1] ?? 1);
    const segs = [];
    let t = 0;
    for (const m of body.matchAll(/<S\s+([^>]*?)\/?>/g)) {
      const a = m[1];
      const at = a.match(/\bt="(\d+)"/);
      if (at) t = Number(at[1]);
      const d = Number(a.match(/\bd="(\d+)"/)[1]);
      const r = Number(a.match(/\br="(\d+)"/)?.[1] ?? 0);
      for (let i = 0; i <= r; i++) { segs.push({ t, d, n: start + segs.length }); t += d; }
    }
    const keep = segs.filter(({ t, d }) => (t + d) / ts <= live && (t + d) / ts >= live - tsbd);
    const number = keep[0]?.n ?? start;
    const attrs2 = /startNumber=/.test(attrs) ? attrs.replace(/startNumber="\d+"/, `startNumber="${number}"`) : `${attrs} startNumber="${number}"`;
    return `<SegmentTemplate${attrs2}><SegmentTimeline>${keep.map(({ t, d }) => `<S t="${t}" d="${d}"/>`).join("")}</SegmentTimeline>`;
  });
  return out;
}

/**
 * A live HLS media playlist made of a VOD one (ffmpeg's fMP4 HLS): as if the
 * stream had started at `start`, listing the segments complete by `now` that
 * began within the last `window` seconds (EXT-X-MEDIA-SEQUENCE moves with
 * the window), without EXT-X-ENDLIST or a VOD playlist type.
 */
export function liveM3u8(vod, start, now, { window = 30 } = {}) {
  const live = (now - start) / 1000;
  const head = vod.split("\n").filter((l) => /^#EXT(M3U|-X-VERSION|-X-TARGETDURATION|-X-MAP)/.test(l));
  const segs = [];
  let t = 0;
  const lines = vod.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const d = lines[i].match(/^#EXTINF:([\d.]+)/);
    if (!d) continue;
    segs.push({ n: segs.length, t, d: Number(d[1]), uri: lines[i + 1].trim() });
    t += Number(d[1]);
  }
  const keep = segs.filter(({ t, d }) => t + d <= live && t >= live - window);
  return [...head, `#EXT-X-MEDIA-SEQUENCE:${keep[0]?.n ?? 0}`, ...keep.flatMap(({ d, uri }) => [`#EXTINF:${d.toFixed(6)},`, uri]), ""].join("\n");
}

/** A test origin for the whole test file (see startUpstream). */
export const withUpstream = (mounts, opts) => fixture(() => startUpstream(mounts, opts), (u) => u.close());

/** Another origin serving a scratch directory for the whole test file (see startSite). */
export const withSite = () => fixture(() => startSite(), (s) => s.close());

/** Start the origin on 127.0.0.1 with `mounts` = { "/dash/": dir, ... }.
 * `<dir>/live.mpd` publishes `<dir>/manifest.mpd` as a live stream that
 * started `liveLeadSecs` before its first request; its segments are refused
 * (404, counted by `early()`) until they are complete. `<dir>/live.m3u8`
 * likewise publishes `<dir>/media.m3u8` as live HLS that started
 * `hlsLeadSecs` before (by default longer ago than its 30 s window: the
 * first segment listed does not start at media time 0). */
export async function startUpstream(mounts, { liveLeadSecs = 12, hlsLeadSecs = 50 } = {}) {
  const hits = new Map();
  const liveStarts = new Map();
  let early = 0;
  const count = (p) => hits.set(p, (hits.get(p) ?? 0) + 1);
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, "http://x");
    const path = url.pathname;
    count(path);
    // /redirect/N/rest → N hops, then /rest
    let m = path.match(/^\/redirect\/(\d+)(\/.*)$/);
    if (m) {
      const n = Number(m[1]);
      res.writeHead(302, { location: n > 1 ? `/redirect/${n - 1}${m[2]}` : m[2] }).end();
      return;
    }
    if (path === "/redirect-to") {
      res.writeHead(302, { location: url.searchParams.get("url") }).end();
      return;
    }
    if (path === "/slow.mpd") return; // never answers
    m = path.match(/^\/status\/(\d+)$/);
    if (m) {
      res.writeHead(Number(m[1]), { "content-type": "text/plain" }).end("nope");
      return;
    }
    if (path === "/laughs.mpd") {
      res.writeHead(200, { "content-type": "application/dash+xml" }).end(BILLION_LAUGHS);
      return;
    }
    if (path === "/big.mpd" || path === "/big-chunked.mpd") {
      // 100 MB of MPD: a SegmentList with a million entries.
      const total = 100 * 1024 * 1024;
      const head = `<?xml version="1.0"?>\n<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static"><Period><AdaptationSet><Representation id="v" bandwidth="1"><SegmentList duration="1">\n`;
      const line = `<SegmentURL media="segment-000000000000.m4s"/>\n`;
      const headers = { "content-type": "application/dash+xml" };
      if (path === "/big.mpd") headers["content-length"] = String(total);
      res.writeHead(200, headers);
      let sent = 0;
      const chunk = Buffer.from(line.repeat(2048));
      const pump = () => {
        if (sent === 0) { res.write(head); sent += head.length; }
        while (sent < total) {
          const part = sent + chunk.length <= total ? chunk : chunk.subarray(0, total - sent);
          sent += part.length;
          if (!res.write(part)) { res.once("drain", pump); return; }
        }
        res.end();
      };
      res.on("error", () => {});
      req.socket.on("close", () => { sent = total; });
      pump();
      return;
    }
    const mount = Object.keys(mounts).find((k) => path.startsWith(k));
    if (!mount) { res.writeHead(404).end("not found"); return; }
    const file = normalize(join(mounts[mount], decodeURIComponent(path.slice(mount.length))));
    if (!file.startsWith(normalize(mounts[mount]))) { res.writeHead(403).end(); return; }
    const dir = file.slice(0, file.lastIndexOf("/"));
    if (file.endsWith("/live.mpd")) {
      let vod;
      try { vod = readFileSync(join(dir, "manifest.mpd"), "utf8"); } catch { res.writeHead(404).end("not found"); return; }
      if (!liveStarts.has(dir)) liveStarts.set(dir, Date.now() - liveLeadSecs * 1000);
      res.writeHead(200, { "content-type": "application/dash+xml", "cache-control": "no-cache" }).end(liveMpd(vod, liveStarts.get(dir), Date.now()));
      return;
    }
    if (file.endsWith("/live.m3u8")) {
      let vod;
      try { vod = readFileSync(join(dir, "media.m3u8"), "utf8"); } catch { res.writeHead(404).end("not found"); return; }
      if (!liveStarts.has(dir)) liveStarts.set(dir, Date.now() - hlsLeadSecs * 1000);
      res.writeHead(200, { "content-type": "application/vnd.apple.mpegurl", "cache-control": "no-cache" }).end(liveM3u8(vod, liveStarts.get(dir), Date.now()));
      return;
    }
    // DASH chunk n (from 1) ends at 2n s; HLS seg-n (from 0) at 2(n + 1) s.
    const chunk = file.match(/chunk-stream\d+-(\d+)\.m4s$/) ?? file.match(/seg-(\d+)\.m4s$/)?.map((v, i) => (i === 1 ? String(Number(v) + 1) : v));
    if (chunk && liveStarts.has(dir) && Number(chunk[1]) * 2 > (Date.now() - liveStarts.get(dir)) / 1000 + 0.25) {
      early++;
      res.writeHead(404).end("not yet available");
      return;
    }
    let st;
    try { st = statSync(file); } catch { res.writeHead(404).end("not found"); return; }
    if (!st.isFile()) { res.writeHead(404).end("not found"); return; }
    const etag = `"${st.size.toString(16)}-${Math.floor(st.mtimeMs).toString(16)}"`;
    const base = { "content-type": TYPES[extname(file)] ?? "application/octet-stream", etag, "accept-ranges": "bytes", "last-modified": st.mtime.toUTCString() };
    if (req.headers["if-none-match"] === etag) { res.writeHead(304, base).end(); return; }
    const range = req.headers.range?.match(/^bytes=(\d*)-(\d*)$/);
    if (range) {
      const start = range[1] === "" ? st.size - Number(range[2]) : Number(range[1]);
      const end = range[1] === "" || range[2] === "" ? st.size - 1 : Math.min(Number(range[2]), st.size - 1);
      if (start > end || start >= st.size) { res.writeHead(416, { "content-range": `bytes */${st.size}` }).end(); return; }
      res.writeHead(206, { ...base, "content-range": `bytes ${start}-${end}/${st.size}`, "content-length": end - start + 1 });
      if (req.method === "HEAD") return res.end();
      createReadStream(file, { start, end }).pipe(res);
      return;
    }
    res.writeHead(200, { ...base, "content-length": st.size });
    if (req.method === "HEAD") return res.end();
    createReadStream(file).pipe(res);
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    hits: (p) => hits.get(p) ?? 0,
    early: () => early,
    /** When the live stream under URL directory `path` (e.g. "/m/live") started. */
    liveStart: (path) => {
      const mount = Object.keys(mounts).find((k) => `${path}/`.startsWith(k));
      return mount && liveStarts.get(normalize(join(mounts[mount], path.slice(mount.length))));
    },
    /** Start the live stream under `path` again: its clock starts at the next request (a test run again starts where a first run did). */
    restartLive: (path) => {
      const mount = Object.keys(mounts).find((k) => `${path}/`.startsWith(k));
      if (mount) liveStarts.delete(normalize(join(mounts[mount], path.slice(mount.length))));
    },
    read: (mount, rel) => readFileSync(join(mounts[mount], rel)),
    close: () => new Promise((r) => { server.closeAllConnections?.(); server.close(r); }),
  };
}

/** Another origin for pages under test: a temporary directory served on
 * 127.0.0.1 (a port of its own). `close()` also removes the directory. */
export async function startSite() {
  const dir = mkdtempSync(join(tmpdir(), "wt-site-"));
  const server = await startUpstream({ "/": dir });
  return { url: server.url, dir, close: async () => { await server.close(); rmSync(dir, { recursive: true, force: true }); } };
}
