// Room sources other than media URLs, on real workerd: YouTube and Vimeo
// links are kept in one canonical form and never given a proxy link; a local
// file is only its name, size, duration and fingerprint; malformed ones are
// refused with a reason and nobody else hears of them.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { RoomClient, settle } from "../support/client.mjs";
import { createRoom, withStack } from "../support/stack.mjs";

const stack = withStack();
const FP = "ab".repeat(32);

describe("sources", () => {
  test("a YouTube link is canonical, starts at its t=, and is not proxied", async () => {
    const room = await createRoom(stack.url, { source: "youtu.be/dQw4w9WgXcQ?t=1m30s" });
    const c = await RoomClient.connect(stack.wsUrl, room.id, "Ana");
    try {
      const { source, playback } = c.welcome.room;
      assert.equal(source.url, "https://www.youtube.com/watch?v=dQw4w9WgXcQ&t=90s");
      assert.equal(source.play_url, undefined, "no proxy link for an embed");
      assert.equal(playback.position, 90);
    } finally {
      c.close();
    }
  });

  test("Vimeo and local-file sources through set_source; bad ones refused to the sender only", async () => {
    const room = await createRoom(stack.url, {});
    const ana = await RoomClient.connect(stack.wsUrl, room.id, "Ana");
    const bo = await RoomClient.connect(stack.wsUrl, room.id, "Bo");
    try {
      ana.send({ type: "command", id: 1, command: { op: "set_source", url: "https://player.vimeo.com/video/76979871?h=ABCDEF1234" } });
      const vimeo = await bo.next("source");
      assert.equal(vimeo.source.url, "https://vimeo.com/76979871/abcdef1234");
      assert.equal(vimeo.source.play_url, undefined);
      const local = `local:${FP}?size=4294967296&duration=5400.5&name=Our%20film.mkv`;
      ana.send({ type: "command", id: 2, command: { op: "set_source", url: local, title: "Our film.mkv" } });
      const file = await bo.next("source");
      assert.equal(file.source.url, local);
      assert.equal(file.source.play_url, undefined, "a local file is never fetched");
      for (const [id, url, why] of [
        [3, "https://www.youtube.com/watch?v=short", /video id/],
        [4, "https://vimeo.com/about", /Vimeo/],
        [5, `local:${FP}?size=0&duration=1&name=a`, /size/],
        [6, "local:nothex?size=1&duration=1&name=a", /fingerprint/],
      ]) {
        ana.send({ type: "command", id, command: { op: "set_source", url } });
        const err = await ana.nextWhere("error", (m) => m.command_id === id);
        assert.match(err.message, why, url);
      }
      await settle(ana, bo);
      assert.ok(!bo.inbox.some((m) => m.type === "source" && /short|about|nothex|size=0/.test(m.source.url)), "nobody else heard of the refused ones");
    } finally {
      ana.close();
      bo.close();
    }
  });
});
