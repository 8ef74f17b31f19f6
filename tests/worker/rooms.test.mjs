// The room API and Durable Object on the real workerd runtime, driven by
// real WebSocket clients.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { RoomClient, settle } from "../support/client.mjs";
import { createRoom, request, startStack, withStack } from "../support/stack.mjs";

const stack = withStack();

describe("HTTP API", () => {
  test("healthz answers", async () => {
    const res = await fetch(`${stack.url}/healthz`);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { ok: true });
  });

  test("creating a room returns an unguessable id and a link", async () => {
    const a = await createRoom(stack.url);
    const b = await createRoom(stack.url);
    assert.match(a.id, /^[A-Za-z0-9_-]{22}$/);
    assert.notEqual(a.id, b.id);
    assert.equal(a.url, `/r/${a.id}`);
    const info = await (await fetch(`${stack.url}/api/rooms/${a.id}`)).json();
    assert.equal(info.exists, true);
    assert.equal(info.source.url, "/media/demo/manifest.mpd");
    assert.match(a.hostToken, /^[A-Za-z0-9_-]{22}$/);
  });

  test("unknown rooms, bad ids and non-upgrades get clear JSON errors", async () => {
    let res = await fetch(`${stack.url}/api/rooms/AAAAAAAAAAAAAAAAAAAAAA`);
    assert.equal(res.status, 404);
    assert.equal((await res.json()).error.code, "room_not_found");
    res = await fetch(`${stack.url}/api/rooms/not-a-room-id`);
    assert.equal(res.status, 404);
    const { id } = await createRoom(stack.url);
    res = await fetch(`${stack.url}/api/rooms/${id}/ws`);
    assert.equal(res.status, 400);
    assert.equal((await res.json()).error.code, "upgrade_required");
    res = await request(`${stack.url}/api/rooms`, { method: "POST", headers: { "content-type": "application/json" }, body: "{nope" });
    assert.equal(res.status, 400);
    res = await request(`${stack.url}/api/rooms`, { method: "POST", body: "{}" });
    assert.equal(res.status, 415, "not JSON: a form could send it cross-site without a preflight");
    await assert.rejects(RoomClient.connect(stack.wsUrl, "AAAAAAAAAAAAAAAAAAAAAA", "x"), /404/);
  });

  test("the room page is served at /r/:id", async () => {
    const { id } = await createRoom(stack.url);
    const res = await fetch(`${stack.url}/r/${id}`);
    assert.equal(res.status, 200);
    assert.match(await res.text(), /<video id="video"/);
  });
});

describe("room over WebSockets", () => {
  test("members join, commands reach everyone with their cause", async () => {
    const { id } = await createRoom(stack.url);
    const a = await RoomClient.connect(stack.wsUrl, id, "Ana");
    const b = await RoomClient.connect(stack.wsUrl, id, "Bob");
    assert.notEqual(a.welcome.member, b.welcome.member);
    assert.equal(b.welcome.room.source.url, "/media/demo/manifest.mpd");
    assert.equal(a.welcome.role, "host", "the first member hosts");
    assert.equal(b.welcome.role, "viewer");
    assert.equal(b.welcome.room.playback.playing, false);
    const members = await a.membersUntil((l) => l.length === 2);
    assert.deepEqual(members.map((m) => [m.name, m.role]), [["Ana", "host"], ["Bob", "viewer"]]);

    const sent = Date.now();
    a.send({ type: "command", id: 7, command: { op: "play", position: 3 } });
    const [sa, sb] = await Promise.all([a.next("state"), b.next("state")]);
    assert.deepEqual(sa, sb);
    assert.equal(sb.playback.playing, true);
    // The server and this process share one clock here (small slack for rounding).
    assert.ok(sb.playback.t_ref >= sent - 5, `a scheduled start at a server time after the command: ${sb.playback.t_ref} vs ${sent}`);
    assert.equal(sb.playback.position, 3);
    assert.deepEqual(sb.cause, { member: a.welcome.member, command_id: 7 });
    assert.ok(sb.seq > b.welcome.room.seq);
    await a.close();
    await b.close();
  });

  test("clock probes are answered with server receive and send times", async () => {
    const { id } = await createRoom(stack.url);
    const a = await RoomClient.connect(stack.wsUrl, id, "Ana");
    const t0 = performance.now();
    a.send({ type: "ping", t0 });
    const pong = await a.next("pong");
    assert.equal(pong.t0, t0);
    assert.ok(Math.abs(pong.t1 - Date.now()) < 5_000, "server time is wall-clock ms");
    assert.ok(pong.t2 >= pong.t1);
    await a.close();
  });

  test("bad input is answered to its sender only and harms nothing", async () => {
    const { id } = await createRoom(stack.url);
    const a = await RoomClient.connect(stack.wsUrl, id, "Ana");
    const b = await RoomClient.connect(stack.wsUrl, id, "Bob");
    await settle(a, b);
    a.clear();
    b.clear();
    const cases = [
      ["{not json", "bad_message"],
      [JSON.stringify({ v: 1, type: "launch" }), "unknown_type"],
      [JSON.stringify({ v: 9, type: "ping", t0: 1 }), "unsupported_version"],
      [JSON.stringify({ v: 1, type: "command", id: 1, command: { op: "seek", position: -4 } }), "bad_command"],
      [JSON.stringify({ v: 1, type: "hello", name: "x".repeat(20_000) }), "too_large"],
      [Buffer.from([1, 2, 3]), "binary_not_supported"],
    ];
    for (const [frame, code] of cases) {
      a.sendRaw(frame);
      const err = await a.next("error");
      assert.equal(err.code, code, `for ${String(frame).slice(0, 40)}`);
    }
    await settle(a, b); // whatever A's frames caused has reached B by now
    assert.deepEqual(b.inbox, [], "the other member saw nothing");
    // The room still works for both.
    b.send({ type: "command", id: 1, command: { op: "seek", position: 12 } });
    assert.equal((await a.next("state")).playback.position, 12);
    await a.close();
    await b.close();
  });

  test("commands before hello are refused", async () => {
    const { id } = await createRoom(stack.url);
    const a = await RoomClient.connect(stack.wsUrl, id);
    a.send({ type: "command", id: 1, command: { op: "play" } });
    const err = await a.next("error");
    assert.equal(err.code, "not_joined");
    const info = await (await fetch(`${stack.url}/api/rooms/${id}`)).json();
    assert.equal(info.playing, false);
    await a.close();
  });

  test("leaving updates the member list of those who stay", async () => {
    const { id } = await createRoom(stack.url);
    const a = await RoomClient.connect(stack.wsUrl, id, "Ana");
    const b = await RoomClient.connect(stack.wsUrl, id, "Bob");
    await settle(a, b);
    a.clear();
    await b.close();
    const m = await a.membersUntil((l) => l.some((x) => x.name === "Bob" && x.status === "away"));
    assert.deepEqual(m.map((x) => [x.name, x.status]), [["Ana", "ready"], ["Bob", "away"]], "Bob is away during the grace period");
    await a.close();
  });

  test("a goodbye removes the member at once and hands over host", async () => {
    const { id } = await createRoom(stack.url);
    const a = await RoomClient.connect(stack.wsUrl, id, "Ana");
    const b = await RoomClient.connect(stack.wsUrl, id, "Bob");
    await settle(a, b);
    assert.equal(a.welcome.role, "host");
    a.send({ type: "leave" });
    assert.equal(await a.closed, 1000, "the room closes the leaver's socket normally");
    const left = await b.next("member_left");
    assert.equal(left.id, a.welcome.member);
    const m = await b.membersUntil((l) => l.length === 1 && l[0].role === "host");
    assert.deepEqual(m.map((x) => [x.name, x.role]), [["Bob", "host"]], "no grace period, and Bob hosts now");
    await b.close();
  });
});

test("a room survives a restart of the runtime", async () => {
  const first = await startStack();
  const { id } = await createRoom(first.url);
  const a = await RoomClient.connect(first.wsUrl, id, "Ana");
  a.send({ type: "command", id: 1, command: { op: "seek", position: 42 } });
  const state = await a.next("state");
  a.send({ type: "command", id: 2, command: { op: "queue_add", url: "https://cdn.example/next.mpd", title: "Next" } });
  await a.next("queue_added");
  a.send({ type: "chat", text: "see you after the restart" });
  await a.next("chat");
  a.send({ type: "command", id: 3, command: { op: "set_mode", mode: "controlled" } });
  await a.next("settings");
  await a.close();
  await first.stop();

  const second = await startStack({ persistTo: first.dir });
  try {
    const b = await RoomClient.connect(second.wsUrl, id, "Bob");
    assert.equal(b.welcome.room.seq, state.seq);
    assert.deepEqual(b.welcome.room.playback, state.playback);
    assert.deepEqual(b.welcome.room.queue.map((q) => q.title), ["Next"]);
    assert.deepEqual(b.welcome.room.chat.map((l) => l.text), ["see you after the restart"]);
    assert.equal(b.welcome.room.mode, "controlled");
    assert.notEqual(b.welcome.member, a.welcome.member, "member ids are not reused");
    await b.close();
  } finally {
    await second.stop();
  }
});
