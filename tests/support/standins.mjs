// Stand-ins for YouTube's IFrame Player API and Vimeo's Player SDK, for the
// end-to-end tests (these machines cannot reach youtube.com or vimeo.com).
// One local origin (127.0.0.1, a port of its own, so a different origin from
// the app under test: the players' iframes are cross-origin, as on the web)
// serves what the real hosts would:
//   /youtube/iframe_api      https://www.youtube.com/iframe_api
//   /youtube/embed/<id>      https://www.youtube.com/embed/<id>
//   /vimeo/api/player.js     https://player.vimeo.com/api/player.js
//   /vimeo/video/<id>        https://player.vimeo.com/video/<id>
//   /media/<name>            files of the `media` directory (Range, ETag)
// The iframes play a real <video>: `/media/<id>.mp4` where that file exists,
// else `/media/clip.mp4`. The scripts implement the documented API surface
// (names, argument orders, state codes, payloads, error codes) and talk to
// their iframes by postMessage only. The header comment of each script says
// what it reproduces and what it does not.
import { createReadStream, readdirSync, readFileSync, statSync } from "node:fs";
import http from "node:http";
import { dirname, extname, join, normalize, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { fixture } from "./stack.mjs";

const HERE = join(dirname(fileURLToPath(import.meta.url)), "standins");
const TYPES = { ".mp4": "video/mp4", ".m4a": "audio/mp4", ".webm": "video/webm", ".m4s": "video/iso.segment", ".js": "text/javascript", ".html": "text/html; charset=utf-8" };

/** The stand-ins' origin for the whole test file (see startStandins). */
export const withStandins = (opts) => fixture(() => startStandins(opts), (s) => s.close());

/**
 * Start the stand-in origin on 127.0.0.1 (port 0). `media` is the directory
 * served under /media/ (it should hold clip.mp4). Returns `{ url, close(),
 * hits(path) }`; `hits` counts requests by path (e.g. "/youtube/iframe_api",
 * "/media/clip.mp4").
 */
export async function startStandins({ media } = {}) {
  if (!media) throw new Error("startStandins: `media` (a directory with clip.mp4) is required");
  const hits = new Map();
  const count = (p) => hits.set(p, (hits.get(p) ?? 0) + 1);
  // Read on each request: an edit to a stand-in shows without a restart.
  const file = (rel) => readFileSync(join(HERE, rel));
  // The player pages learn which /media/<id>.mp4 exist from the page itself
  // (no probing request, so no 404 in the browser's console).
  const page = (rel) => {
    let names = [];
    try { names = readdirSync(media).filter((n) => n.endsWith(".mp4")); } catch {}
    return file(rel).toString().replace("/*standin:media*/ []", JSON.stringify(names));
  };
  const send = (res, type, body) => res.writeHead(200, { "content-type": type, "cache-control": "no-store" }).end(body);
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, "http://x");
    const path = url.pathname;
    count(path);
    if (req.method !== "GET" && req.method !== "HEAD") { res.writeHead(405).end(); return; }
    if (path === "/youtube/iframe_api") return send(res, TYPES[".js"], file("youtube/iframe_api.js"));
    if (/^\/youtube\/embed\/[^/]*$/.test(path)) return send(res, TYPES[".html"], page("youtube/embed.html"));
    if (path === "/vimeo/api/player.js") return send(res, TYPES[".js"], file("vimeo/player.js"));
    if (/^\/vimeo\/video\/[^/]+$/.test(path)) return send(res, TYPES[".html"], page("vimeo/video.html"));
    if (path === "/favicon.ico") { res.writeHead(204).end(); return; }
    if (!path.startsWith("/media/")) { res.writeHead(404, { "content-type": "text/plain" }).end("not found"); return; }
    serveFile(req, res, media, decodeURIComponent(path.slice("/media/".length)));
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    hits: (p) => hits.get(p) ?? 0,
    close: () => new Promise((r) => { server.closeAllConnections?.(); server.close(r); }),
  };
}

// A file of `dir` with Range, ETag and conditional requests (as upstream.mjs).
function serveFile(req, res, dir, rel) {
  const root = normalize(dir);
  const file = normalize(join(root, rel));
  if (!file.startsWith(root.endsWith(sep) ? root : root + sep)) { res.writeHead(403).end(); return; }
  let st;
  try { st = statSync(file); } catch { res.writeHead(404, { "content-type": "text/plain" }).end("not found"); return; }
  if (!st.isFile()) { res.writeHead(404, { "content-type": "text/plain" }).end("not found"); return; }
  const etag = `"${st.size.toString(16)}-${Math.floor(st.mtimeMs).toString(16)}"`;
  const base = { "content-type": TYPES[extname(file)] ?? "application/octet-stream", etag, "accept-ranges": "bytes", "last-modified": st.mtime.toUTCString() };
  if (req.headers["if-none-match"] === etag) { res.writeHead(304, base).end(); return; }
  const range = req.headers.range?.match(/^bytes=(\d*)-(\d*)$/);
  if (range && !(range[1] === "" && range[2] === "")) {
    const start = range[1] === "" ? Math.max(0, st.size - Number(range[2])) : Number(range[1]);
    const end = range[1] === "" || range[2] === "" ? st.size - 1 : Math.min(Number(range[2]), st.size - 1);
    if (start > end || start >= st.size) { res.writeHead(416, { "content-range": `bytes */${st.size}` }).end(); return; }
    res.writeHead(206, { ...base, "content-range": `bytes ${start}-${end}/${st.size}`, "content-length": end - start + 1 });
    if (req.method === "HEAD") { res.end(); return; }
    res.on("error", () => {});
    createReadStream(file, { start, end }).pipe(res);
    return;
  }
  res.writeHead(200, { ...base, "content-length": st.size });
  if (req.method === "HEAD") { res.end(); return; }
  res.on("error", () => {});
  createReadStream(file).pipe(res);
}
