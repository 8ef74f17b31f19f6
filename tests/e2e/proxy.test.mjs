// Headless Chromium plays a room whose source is on a foreign origin that
// sends no CORS headers: only the signed proxy can make that work.
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { joined, newPage, play, readVideo, withBrowser } from "../support/browser.mjs";
import { createRoom, root, withStack } from "../support/stack.mjs";
import { withUpstream } from "../support/upstream.mjs";

const up = withUpstream({ "/dash/": join(root, "www/media/demo") });
const stack = withStack();
const browser = withBrowser();

test("a DASH source on a CORS-less origin plays through the proxy", async () => {
  const room = await createRoom(stack.url, { source: `${up.url}/dash/manifest.mpd`, title: "Foreign origin" });
  const page = await newPage(browser);
  const requested = [];
  page.on("request", (r) => requested.push(r.url()));
  await page.goto(`${stack.url}${room.url}`);
  try {
    await joined(page);
  } catch (e) {
    throw new Error(`media did not load: ${e.message} requests ${requested.slice(0, 8)}`);
  }
  await play(page);
  try {
    await page.waitForFunction(() => document.getElementById("video").currentTime > 3, null, { timeout: 10_000 });
  } catch {
    throw new Error(`did not play: ${JSON.stringify(await readVideo(page))} ${page.problems}`);
  }
  const media = requested.filter((u) => /\.(mpd|m4s)/.test(u) || u.includes("/proxy/"));
  assert.ok(media.length >= 4, `media requests: ${media.length}`);
  for (const u of media) assert.ok(u.startsWith(`${stack.url}/proxy/`), `fetched around the proxy: ${u}`);
  assert.ok(!requested.some((u) => u.startsWith(up.url)), "the page never contacts the origin itself");
  assert.ok(up.hits("/dash/manifest.mpd") >= 1 && up.hits("/dash/chunk-stream0-00001.m4s") >= 1, "the origin served the proxy");
  assert.deepEqual(page.problems, [], "no console errors");
});
