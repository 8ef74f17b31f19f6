// The room's subtitle files on real workerd: a controller adds one over
// HTTP with its member token, everyone hears of it, members read it back as
// WebVTT; strangers, viewers of a controlled room, oversized and
// non-subtitle bodies are refused with clear errors; a removed file is gone;
// files survive a restart of the runtime.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { RoomClient } from "../support/client.mjs";
import { createRoom, nextAddress, postAgain, request, root, startStack, withStack } from "../support/stack.mjs";
import { withUpstream } from "../support/upstream.mjs";

const stack = withStack();
const up = withUpstream({ "/subs/": join(root, "target/test-media/subs") });
const srt = readFileSync(join(root, "target/test-media/subs/en.srt"));

const upload = (url, id, token, body, query = "name=film.en.srt&language=en") =>
  postAgain(`${url}/api/rooms/${id}/subtitles?${query}`, { headers: () => ({ ...(token ? { authorization: `Bearer ${token}` } : {}), "cf-connecting-ip": nextAddress() }), body });
const read = (url, id, n, token) => request(`${url}/api/rooms/${id}/subtitles/${n}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
const code = (res) => JSON.parse(res.text).error.code;

test("a controller adds subtitles, everyone hears of them, members read them back as WebVTT; others are refused", async () => {
  const { id, hostToken } = await createRoom(stack.url, { mode: "controlled" });
  const ana = await RoomClient.connect(stack.wsUrl, id, "Ana", { hello: { host_token: hostToken } });
  const bob = await RoomClient.connect(stack.wsUrl, id, "Bob");
  assert.equal(code(await upload(stack.url, id, null, srt)), "unauthorized");
  assert.equal((await upload(stack.url, id, "not-a-member-token", srt)).status, 401);
  const viewer = await upload(stack.url, id, bob.welcome.resume, srt);
  assert.deepEqual([viewer.status, code(viewer)], [403, "forbidden"]);

  const added = await upload(stack.url, id, ana.welcome.resume, srt);
  assert.equal(added.status, 201, added.text);
  const file = JSON.parse(added.text);
  assert.deepEqual(file, { id: 1, label: "film.en", language: "en", cues: 11 });
  const heard = await bob.next("subtitles");
  assert.deepEqual(heard.subtitles, [{ id: 1, label: "film.en", language: "en", cues: 11, by: "Ana" }]);
  assert.equal(heard.delay_ms, 0);

  const vtt = await read(stack.url, id, 1, bob.welcome.resume);
  assert.equal(vtt.status, 200);
  assert.equal(vtt.headers["content-type"], "text/vtt; charset=utf-8");
  assert.equal(vtt.headers["x-content-type-options"], "nosniff");
  assert.match(vtt.headers["content-security-policy"], /sandbox/);
  assert.ok(vtt.text.startsWith("WEBVTT\n\n00:00:01.000 --> 00:00:01.800\nEN 1\n"), vtt.text.slice(0, 80));
  assert.ok(vtt.text.includes("00:00:02.000 --> 00:00:02.800\nEN 2: <i>hello</i> &amp; welcome\n"), vtt.text);
  assert.ok(vtt.text.includes("EN 5: café &lt; crème &gt;\nsecond line\n"), vtt.text);
  assert.equal((await read(stack.url, id, 1, null)).status, 401);
  assert.equal((await read(stack.url, id, 1, "stranger")).status, 401);
  assert.equal((await read(stack.url, id, 7, bob.welcome.resume)).status, 404);
  // Only numbers there: `…/subtitles/ws` is no way into the room's socket
  // around the origin and per-address checks.
  const sideDoor = await request(`${stack.url}/api/rooms/${id}/subtitles/ws`, { headers: { upgrade: "websocket", connection: "Upgrade", "sec-websocket-version": "13", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==" } });
  assert.equal(sideDoor.status, 404);

  // Bodies: not subtitles, too large.
  const junk = await upload(stack.url, id, ana.welcome.resume, Buffer.from("just some text"), "name=notes.txt");
  assert.deepEqual([junk.status, code(junk)], [400, "bad_subtitles"]);
  assert.match(JSON.parse(junk.text).error.message, /not a subtitle format/);
  const big = await upload(stack.url, id, ana.welcome.resume, Buffer.alloc(2 * 1024 * 1024 + 1, 0x41));
  assert.deepEqual([big.status, code(big)], [413, "too_large"]);

  // The delay and removal, by command; the text goes with the file.
  ana.send({ type: "command", id: 1, command: { op: "set_subtitle_delay", ms: 1500 } });
  assert.equal((await bob.next("subtitles")).delay_ms, 1500);
  bob.send({ type: "command", id: 1, command: { op: "remove_subtitle", id: 1 } });
  assert.equal((await bob.next("error")).code, "forbidden");
  ana.send({ type: "command", id: 2, command: { op: "remove_subtitle", id: 1 } });
  assert.deepEqual((await bob.next("subtitles")).subtitles, []);
  assert.equal((await read(stack.url, id, 1, bob.welcome.resume)).status, 404);
  await ana.close();
  await bob.close();
});

test("a room's subtitle files survive a restart of the runtime", async () => {
  const first = await startStack();
  const { id } = await createRoom(first.url);
  const ana = await RoomClient.connect(first.wsUrl, id, "Ana");
  assert.equal((await upload(first.url, id, ana.welcome.resume, srt)).status, 201);
  ana.send({ type: "command", id: 1, command: { op: "set_subtitle_delay", ms: -250 } });
  await ana.next("subtitles");
  await ana.next("subtitles");
  await ana.close();
  await first.stop();
  const second = await startStack({ persistTo: first.dir });
  try {
    const bob = await RoomClient.connect(second.wsUrl, id, "Bob");
    assert.deepEqual(bob.welcome.room.subtitles.map((s) => [s.id, s.cues]), [[1, 11]]);
    assert.equal(bob.welcome.room.subtitle_delay_ms, -250);
    const vtt = await read(second.url, id, 1, bob.welcome.resume);
    assert.equal(vtt.status, 200);
    assert.equal(vtt.text.split("-->").length - 1, 11);
    await bob.close();
  } finally {
    await second.stop();
  }
});

test("a controller adds subtitles by URL: the worker fetches them (no CORS needed) through the proxy's guard", async () => {
  const { id } = await createRoom(stack.url);
  const ana = await RoomClient.connect(stack.wsUrl, id, "Ana");
  const byUrl = (url) => upload(stack.url, id, ana.welcome.resume, Buffer.alloc(0), `url=${encodeURIComponent(url)}&language=fr`);
  const added = await byUrl(`${up.url}/subs/fr.vtt`);
  assert.equal(added.status, 201, added.text);
  assert.deepEqual(JSON.parse(added.text), { id: 1, label: "fr", language: "fr", cues: 11 });
  assert.ok((await read(stack.url, id, 1, ana.welcome.resume)).text.includes("FR 2: <i>hello</i> &amp; welcome"));
  const missing = await byUrl(`${up.url}/subs/nothing.vtt`);
  assert.deepEqual([missing.status, code(missing)], [502, "upstream_error"]);
  const local = await byUrl("file:///etc/passwd");
  assert.deepEqual([local.status, code(local)], [403, "forbidden_upstream"]);
  const notSubtitles = await byUrl(`${up.url}/subs/dash.mpd`);
  assert.deepEqual([notSubtitles.status, code(notSubtitles)], [400, "bad_subtitles"]);
  await ana.close();
});
