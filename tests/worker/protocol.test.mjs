// Every room command end to end on the real workerd runtime, with real
// WebSocket clients: permissions, kick, host transfer, resume, passwords,
// queue, chat, flooding, a bad-input corpus, and alarms.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import WebSocket from "ws";
import { RoomClient, settle } from "../support/client.mjs";
import { createRoom, sleep, withStack } from "../support/stack.mjs";

const stack = withStack({ vars: { ROOM_GRACE_MS: "1500", ROOM_IDLE_EXPIRY_MS: "2500", ALLOWED_ORIGINS: "https://friend.example" } });

let nextId = 100;
const cmd = (client, command) => {
  const id = nextId++;
  client.send({ type: "command", id, command });
  return id;
};

async function room(body = {}) {
  const created = await createRoom(stack.url, body);
  const host = await RoomClient.connect(stack.wsUrl, created.id, "Host");
  return { ...created, host };
}

describe("roles and permissions", () => {
  test("in controlled mode a viewer is refused, a controller is not", async () => {
    const { id, host } = await room({ mode: "controlled" });
    const viewer = await RoomClient.connect(stack.wsUrl, id, "Viewer");
    const cid = cmd(viewer, { op: "play" });
    const err = await viewer.next("error");
    assert.equal(err.code, "forbidden");
    assert.equal(err.command_id, cid);
    cmd(host, { op: "set_role", member: viewer.welcome.member, role: "controller" });
    await viewer.membersUntil((l) => l.find((x) => x.id === viewer.welcome.member)?.role === "controller");
    viewer.clear();
    cmd(viewer, { op: "seek", position: 5 });
    assert.equal((await host.next("state")).playback.position, 5);
    await viewer.close();
    await host.close();
  });

  test("only the host changes settings; set_mode and set_password reach everyone", async () => {
    const { id, host } = await room();
    const other = await RoomClient.connect(stack.wsUrl, id, "Other");
    cmd(other, { op: "set_mode", mode: "controlled" });
    assert.equal((await other.next("error")).code, "forbidden");
    cmd(host, { op: "set_mode", mode: "controlled" });
    const s = await other.next("settings");
    assert.equal(s.mode, "controlled");
    cmd(host, { op: "set_password", password: "pw" });
    assert.equal((await other.next("settings")).has_password, true);
    const info = await (await fetch(`${stack.url}/api/rooms/${id}`)).json();
    assert.deepEqual(info, { exists: true, has_password: true }, "with a password, strangers learn only that");
    await other.close();
    await host.close();
  });

  test("kick closes the member's socket with 4001 and tells the others", async () => {
    const { id, host } = await room();
    const victim = await RoomClient.connect(stack.wsUrl, id, "Victim");
    const closed = victim.closed;
    cmd(host, { op: "kick", member: victim.welcome.member });
    assert.equal((await victim.next("error")).code, "kicked");
    assert.equal(await closed, 4001);
    await host.membersUntil((l) => !l.some((x) => x.id === victim.welcome.member));
    await host.close();
  });

  test("host transfer makes the old host a controller", async () => {
    const { id, host } = await room();
    const heir = await RoomClient.connect(stack.wsUrl, id, "Heir");
    cmd(host, { op: "transfer_host", member: heir.welcome.member });
    const m = await heir.membersUntil((l) => l.some((y) => y.id === heir.welcome.member && y.role === "host") && l.some((y) => y.id === host.welcome.member && y.role === "controller"));
    const role = (mid) => m.find((x) => x.id === mid).role;
    assert.equal(role(heir.welcome.member), "host");
    assert.equal(role(host.welcome.member), "controller");
    cmd(host, { op: "kick", member: heir.welcome.member });
    assert.equal((await host.next("error")).code, "forbidden");
    await heir.close();
    await host.close();
  });

  test("the host token from creation claims host", async () => {
    const created = await createRoom(stack.url);
    const early = await RoomClient.connect(stack.wsUrl, created.id, "Early");
    assert.equal(early.welcome.role, "host");
    const ws = new RoomClient(new WebSocket(`${stack.wsUrl}/api/rooms/${created.id}/ws`));
    await new Promise((r) => ws.ws.once("open", r));
    ws.send({ type: "hello", name: "Creator", host_token: created.hostToken });
    const w = await ws.next("welcome");
    assert.equal(w.role, "host");
    await ws.close();
    await early.close();
  });
});

describe("identity", () => {
  test("a reconnect within the grace period gets the same member and role back", async () => {
    const { id, host } = await room();
    const token = host.welcome.resume;
    assert.match(token, /^[A-Za-z0-9_-]{22}$/);
    const watcher = await RoomClient.connect(stack.wsUrl, id, "Watcher");
    await host.close();
    await watcher.membersUntil((l) => l.find((m) => m.id === host.welcome.member)?.status === "away");
    const back = new RoomClient(new WebSocket(`${stack.wsUrl}/api/rooms/${id}/ws`));
    await new Promise((r) => back.ws.once("open", r));
    back.send({ type: "hello", name: "Host", resume: token });
    const w = await back.next("welcome");
    assert.equal(w.member, host.welcome.member);
    assert.equal(w.role, "host");
    await back.close();
    await watcher.close();
  });

  test("after the grace period the identity is gone and host passes on (an alarm)", async () => {
    const { id, host } = await room();
    const stayer = await RoomClient.connect(stack.wsUrl, id, "Stayer");
    await host.close();
    stayer.clear();
    const members = await stayer.membersUntil((l) => l.length === 1 && l[0].role === "host", 8_000);
    assert.deepEqual(members.map((m) => [m.name, m.role]), [["Stayer", "host"]]);
    await stayer.close();
  });

  test("an empty room is deleted by its alarm once idle", async () => {
    const { id, host } = await room();
    await host.close();
    const deadline = Date.now() + 10_000;
    let status = 200;
    while (Date.now() < deadline && status !== 404) {
      await sleep(250);
      status = (await fetch(`${stack.url}/api/rooms/${id}`)).status;
    }
    assert.equal(status, 404, "room deleted after the idle time");
  });
});

describe("passwords", () => {
  test("the upgrade is refused without (401) or with a wrong (403) password", async () => {
    const { id } = await createRoom(stack.url, { password: "open sesame" });
    await assert.rejects(RoomClient.connect(stack.wsUrl, id, "x"), /401/);
    await assert.rejects(RoomClient.connect(stack.wsUrl, id, "x", { query: "?password=nope" }), /403/);
    const ok = await RoomClient.connect(stack.wsUrl, id, "Friend", { query: "?password=open%20sesame", hello: { password: "open sesame" } });
    assert.equal(ok.welcome.room.has_password, true);
    // The password in hello is checked too (a client that skipped the query).
    const sneaky = await RoomClient.connect(stack.wsUrl, id, undefined, { query: "?password=open%20sesame" });
    sneaky.send({ type: "hello", name: "Sneaky", password: "guess" });
    assert.equal((await sneaky.next("error")).code, "wrong_password");
    assert.equal(await sneaky.closed, 4003);
    await ok.close();
  });

  test("?check answers without an upgrade: 204 for the right password, 401/403/404 otherwise", async () => {
    const { id } = await createRoom(stack.url, { password: "open sesame" });
    const check = (q, room = id) => fetch(`${stack.url}/api/rooms/${room}/ws?check${q}`);
    assert.equal((await check("&password=open%20sesame")).status, 204);
    const wrong = await check("&password=nope");
    assert.equal(wrong.status, 403);
    assert.equal((await wrong.json()).error.code, "wrong_password");
    assert.equal((await check("")).status, 401);
    assert.equal((await check("", "AAAAAAAAAAAAAAAAAAAAAA")).status, 404);
    const open = await createRoom(stack.url);
    assert.equal((await check("", open.id)).status, 204, "a room without a password opens to anyone");
  });
});

describe("queue, chat, rate, source", () => {
  test("queue add/move/remove/next and chat reach everyone", async () => {
    const { id, host } = await room();
    const guest = await RoomClient.connect(stack.wsUrl, id, "Guest");
    cmd(guest, { op: "queue_add", url: "https://cdn.example/a.mpd", title: "A" });
    cmd(guest, { op: "queue_add", url: "https://cdn.example/b.mpd", title: "B" });
    const titles = (q) => q.map((i) => i.title).join();
    let q = [...(await host.queueUntil((q) => titles(q) === "A,B"))];
    cmd(host, { op: "queue_move", item: q[1].id, to: 0 });
    q = [...(await guest.queueUntil((q) => titles(q) === "B,A"))];
    const moved = await guest.next("queue_moved");
    assert.deepEqual(Object.keys(moved).sort(), ["cause", "id", "to", "type", "v"], "a move is a delta, not the queue");
    cmd(host, { op: "queue_remove", item: q[1].id });
    await guest.queueUntil((q) => titles(q) === "B");
    cmd(host, { op: "queue_next" });
    const src = await guest.next("source");
    assert.equal(src.source.url, "https://cdn.example/b.mpd");
    assert.equal(src.playback.playing, true, "the next item plays");
    cmd(host, { op: "set_rate", rate: 1.5 });
    assert.equal((await guest.next("state")).playback.rate, 1.5);
    guest.send({ type: "chat", text: "hello\u0007 there" });
    const line = (await host.next("chat")).line;
    assert.equal(line.text, "hello there");
    assert.equal(line.name, "Guest");
    const late = await RoomClient.connect(stack.wsUrl, id, "Late");
    assert.deepEqual(late.welcome.room.chat.map((l) => l.text), ["hello there"]);
    await Promise.all([host.close(), guest.close(), late.close()]);
  });

  // What the room promises whatever the machine's speed: one error per run
  // of refused messages (a token that refills mid-flood lets one through and
  // a new run begins), never a reply to every refused message, and the close.
  test("a flood is rate limited with one error per run of refusals, then closed with 1008", async () => {
    const { id, host } = await room();
    const flooder = await RoomClient.connect(stack.wsUrl, id, "Flooder");
    flooder.clear();
    // Flood until the room closes the socket, as a real flooder would (on a
    // slow machine more messages are needed to make 40 refusals in a row).
    let N = 0;
    let done = false;
    const closed = flooder.closed.then((c) => { done = true; return c; });
    while (!done && N < 10_000) {
      for (let i = 0; i < 50 && flooder.ws.readyState === WebSocket.OPEN; i++) flooder.send({ type: "ping", t0: N++ });
      await new Promise((r) => setImmediate(r));
      if (flooder.ws.readyState !== WebSocket.OPEN) break;
    }
    const code = await Promise.race([closed, sleep(30_000).then(() => assert.fail(`not closed 30 s after ${N} messages`))]);
    assert.equal(code, 1008);
    const replies = flooder.inbox.filter((m) => m.type === "pong" || (m.type === "error" && m.code === "rate_limited"));
    const errors = replies.filter((m) => m.type === "error");
    const pongs = replies.filter((m) => m.type === "pong");
    assert.ok(errors.length >= 1, "the flood is told once it is refused");
    // Each error opens a run: the first, and any later one only after a message got through.
    replies.forEach((m, i) => {
      if (m.type === "error" && i > 0) assert.equal(replies[i - 1].type, "pong", `two errors in one run of refusals: ${JSON.stringify(replies.slice(Math.max(0, i - 3), i + 1))}`);
    });
    // About the burst (40) got through, the rest mostly did not: refusals are silent.
    assert.ok(pongs.length >= 30 && pongs.length < N - 20, `pongs ${pongs.length}`);
    assert.ok(errors.length + pongs.length < N, "not every refused message is answered");
    console.log(`    ${pongs.length} answered, ${errors.length} rate_limited error(s), then 1008`);
    // The host is unaffected.
    host.send({ type: "ping", t0: 1 });
    assert.equal((await host.next("pong")).t0, 1);
    await host.close();
  });
});

test("a corpus of 40+ bad messages: each answered to its sender only, state unchanged, others unaffected", async () => {
  const { id, host } = await room({ mode: "controlled" });
  const watcher = await RoomClient.connect(stack.wsUrl, id, "Watcher");
  const bad = await RoomClient.connect(stack.wsUrl, id, "Mallory");
  await settle(host, watcher, bad);
  const before = await (await fetch(`${stack.url}/api/rooms/${id}`)).json();
  const v = (o) => JSON.stringify({ v: 1, ...o });
  const corpus = [
    ["", "bad_message"], ["{", "bad_message"], ["null", "bad_message"], ["[]", "bad_message"], ["42", "bad_message"],
    ['"hello"', "bad_message"], ["{}", "unsupported_version"], [JSON.stringify({ type: "ping", t0: 1 }), "unsupported_version"],
    [JSON.stringify({ v: 2, type: "ping", t0: 1 }), "unsupported_version"], [JSON.stringify({ v: "1", type: "ping", t0: 1 }), "unsupported_version"],
    [v({}), "bad_message"], [v({ type: 7 }), "bad_message"], [v({ type: "nope" }), "unknown_type"], [v({ type: "welcome" }), "unknown_type"],
    [v({ type: "PING", t0: 1 }), "unknown_type"], [v({ type: "ping" }), "bad_message"], [v({ type: "ping", t0: "x" }), "bad_message"],
    [v({ type: "hello", name: "again" }), "already_joined"], [v({ type: "command" }), "bad_message"], [v({ type: "command", id: 1 }), "bad_message"],
    [v({ type: "command", id: -1, command: { op: "play" } }), "bad_message"], [v({ type: "command", id: 1, command: {} }), "bad_message"],
    [v({ type: "command", id: 1, command: { op: "fly" } }), "bad_message"], [v({ type: "command", id: 1, command: { op: "seek" } }), "bad_message"],
    [v({ type: "command", id: 1, command: { op: "seek", position: "10" } }), "bad_message"],
    [v({ type: "command", id: 1, command: { op: "play" } }), "forbidden"], [v({ type: "command", id: 1, command: { op: "pause" } }), "forbidden"],
    [v({ type: "command", id: 1, command: { op: "seek", position: 4 } }), "forbidden"], [v({ type: "command", id: 1, command: { op: "set_rate", rate: 2 } }), "forbidden"],
    [v({ type: "command", id: 1, command: { op: "set_source", url: "https://x.example/a.mpd" } }), "forbidden"],
    [v({ type: "command", id: 1, command: { op: "queue_add", url: "https://x.example/a.mpd" } }), "forbidden"],
    [v({ type: "command", id: 1, command: { op: "queue_next" } }), "forbidden"],
    [v({ type: "command", id: 1, command: { op: "kick", member: 0 } }), "forbidden"],
    [v({ type: "command", id: 1, command: { op: "transfer_host", member: 2 } }), "forbidden"],
    [v({ type: "command", id: 1, command: { op: "set_role", member: 2, role: "host" } }), "forbidden"],
    [v({ type: "command", id: 1, command: { op: "set_mode", mode: "open" } }), "forbidden"],
    [v({ type: "command", id: 1, command: { op: "set_password" } }), "forbidden"],
    [v({ type: "chat", text: "" }), "bad_command"], [v({ type: "chat", text: "\u0000\u0001  " }), "bad_command"], [v({ type: "chat" }), "bad_message"],
    [v({ type: "status" }), "bad_message"], [v({ type: "status", buffering: "yes" }), "bad_message"],
    [v({ type: "hello", name: "x".repeat(17_000) }), "too_large"], [Buffer.from("binary"), "binary_not_supported"],
  ];
  assert.ok(corpus.length >= 40, `${corpus.length} bad messages`);
  watcher.clear();
  host.clear();
  for (const [frame, code] of corpus) {
    bad.sendRaw(frame);
    const err = await bad.next("error");
    assert.equal(err.code, code, `for ${String(frame).slice(0, 60)}`);
    await sleep(40); // stay under the rate limit: this test is about content, not floods
  }
  // Meanwhile the others keep working.
  cmd(host, { op: "seek", position: 7 });
  assert.equal((await watcher.next("state")).playback.position, 7);
  watcher.send({ type: "ping", t0: 3 });
  assert.equal((await watcher.next("pong")).t0, 3);
  await settle(bad, watcher, host); // what the bad frames caused has reached everyone
  assert.deepEqual(watcher.inbox.filter((m) => m.type === "error"), [], "the watcher saw no errors");
  assert.deepEqual(host.inbox.filter((m) => m.type === "error"), [], "the host saw no errors");
  const afterInfo = await (await fetch(`${stack.url}/api/rooms/${id}`)).json();
  assert.deepEqual({ ...afterInfo, members: 0 }, { ...before, members: 0 }, "room settings and source unchanged");
  await Promise.all([host.close(), watcher.close(), bad.close()]);
});

describe("CORS and origins", () => {
  test("an allowed origin gets CORS headers and a preflight; others do not", async () => {
    let res = await fetch(`${stack.url}/api/rooms`, { method: "OPTIONS", headers: { origin: "https://friend.example", "access-control-request-method": "POST" } });
    assert.equal(res.status, 204);
    assert.equal(res.headers.get("access-control-allow-origin"), "https://friend.example");
    assert.match(res.headers.get("access-control-allow-methods"), /POST/);
    res = await fetch(`${stack.url}/healthz`, { headers: { origin: "https://evil.example" } });
    assert.equal(res.headers.get("access-control-allow-origin"), null);
    const { id } = await createRoom(stack.url);
    res = await fetch(`${stack.url}/api/rooms/${id}`, { headers: { origin: "https://friend.example" } });
    assert.equal(res.headers.get("access-control-allow-origin"), "https://friend.example");
  });

  test("a room socket from a page of another, unlisted origin is refused", async () => {
    const { id } = await createRoom(stack.url);
    await assert.rejects(RoomClient.connect(stack.wsUrl, id, "x", { origin: "https://evil.example" }), /403/);
    const friend = await RoomClient.connect(stack.wsUrl, id, "Friend", { origin: "https://friend.example" });
    const own = await RoomClient.connect(stack.wsUrl, id, "Own", { origin: stack.url });
    assert.equal(own.welcome.room.members.length, 2);
    await Promise.all([friend.close(), own.close()]);
  });
});
