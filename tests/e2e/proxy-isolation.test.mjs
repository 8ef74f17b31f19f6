// A proxied response can never run script with the app's rights: hostile
// HTML, SVG, an MPD carrying an XHTML <script> and a playlist wrapped in
// HTML, each opened through the proxy as a top-level page and as an iframe
// of the app, in headless Chromium. Each would set a marker in the app
// origin's localStorage (where host tokens live) and read a host token.
import assert from "node:assert/strict";
import http from "node:http";
import { describe, test } from "node:test";
import { newPage, withBrowser } from "../support/browser.mjs";
import { proxyPath } from "../support/proxy.mjs";
import { fixture, withStack } from "../support/stack.mjs";

const PAYLOAD = "localStorage.setItem('pwned', String(localStorage.getItem('wt-host:victim'))); document.title = 'PWNED'";
const DOCUMENTS = {
  "/x.html": ["text/html", `<!DOCTYPE html><html><body><script>${PAYLOAD}</script></body></html>`],
  "/x.svg": ["image/svg+xml", `<svg xmlns="http://www.w3.org/2000/svg"><script>${PAYLOAD}</script></svg>`],
  "/x.mpd": ["application/dash+xml", `<?xml version="1.0"?><MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static"><h:script xmlns:h="http://www.w3.org/1999/xhtml">${PAYLOAD}</h:script><Period/></MPD>`],
  "/x.m3u8": ["text/html", `#EXTM3U\n<html><script>${PAYLOAD}</script></html>\n`],
};

const evil = fixture(async () => {
  const server = http.createServer((req, res) => {
    const doc = DOCUMENTS[new URL(req.url, "http://x").pathname];
    if (!doc) return res.writeHead(404).end();
    res.writeHead(200, { "content-type": doc[0] }).end(doc[1]);
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${server.address().port}`, close: () => new Promise((r) => server.close(r)) };
}, (e) => e.close());
const stack = withStack();
const browser = withBrowser();

/** The app origin's marker and token, read on an app page. */
async function appStorage(page) {
  await page.goto(`${stack.url}/`);
  return page.evaluate(() => ({ pwned: localStorage.getItem("pwned"), token: localStorage.getItem("wt-host:victim") }));
}

describe("proxied documents run no script on the app's origin", () => {
  for (const p of Object.keys(DOCUMENTS)) {
    test(`${p} as a top-level page and as an iframe of the app`, async () => {
      const page = await newPage(browser);
      page.on("dialog", (d) => d.dismiss());
      await page.goto(`${stack.url}/`);
      await page.evaluate(() => localStorage.setItem("wt-host:victim", "secret-host-token"));
      const url = `${stack.url}${proxyPath(`${evil.url}${p}`)}`;
      const status = (await fetch(url)).status;

      // Top level: rendered (an error) or downloaded, never run.
      await page.goto(url).catch((e) => assert.match(e.message, /Download|ERR_ABORTED/));
      // Two animation frames: anything the document would run has run.
      await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))).catch(() => {});
      const title = await page.title().catch(() => "");
      assert.notEqual(title, "PWNED");
      assert.deepEqual(await appStorage(page), { pwned: null, token: "secret-host-token" });

      // As an iframe of an app page.
      const loaded = await page.evaluate(
        (src) =>
          new Promise((resolve) => {
            const f = document.createElement("iframe");
            f.src = src;
            f.onload = () => resolve("load");
            document.body.append(f);
            // Window (not a barrier): a download fires no load event.
            setTimeout(() => resolve("no load within 3 s"), 3_000);
          }),
        url,
      );
      assert.equal(await page.evaluate(() => localStorage.getItem("pwned")), null);
      const framed = await page.evaluate(() => {
        try {
          return document.querySelector("iframe")?.contentDocument?.title ?? "(no access: another origin or a sandbox)";
        } catch {
          return "(no access)";
        }
      });
      assert.notEqual(framed, "PWNED");
      assert.deepEqual(await appStorage(page), { pwned: null, token: "secret-host-token" });
      console.log(`    ${p}: proxy answered ${status}; iframe: ${loaded}`);
      await page.context().close();
    });
  }
});
