// Strangers against rooms on the real workerd runtime (issue 20): each
// reproduction is refused, bounded or fixed. The pure rules are tested in
// sync-core's room scripts; these check what only the worker can show.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { RoomClient, settle } from "../support/client.mjs";
import { createRoom, nextAddress, postAgain, request, sleep, until, withStack } from "../support/stack.mjs";

const APP = "https://app.example";
const stack = withStack({ vars: { ROOM_HELLO_TIMEOUT_MS: "1500", ALLOWED_ORIGINS: APP } });
/**
 * The Rate Limiting binding counts in fixed windows (a minute from the
 * epoch, locally): a burst that straddles a window's end would be counted
 * in two. Start a burst well inside one.
 */
const insideAWindow = () => until(() => Date.now() % 60_000 < 50_000, { timeout: 70_000, every: 200, what: "well inside a rate-limit window" });
const cmd = (c, command, id = Math.floor(Math.random() * 1e9)) => c.send({ type: "command", id, command });
/**
 * POST a room. wrangler's dev proxy answers 503 "Your worker restarted
 * mid-request" when it reloads the runtime under a request, and also
 * whenever the worker answers before it has read a large body (measured
 * here: 2 in 3 chunked 3 MB posts, 1 in 4 with a declared length, while the
 * worker itself answered 413). It retries only GET and HEAD itself. That is
 * the local tooling's text, never an answer of this worker (which has no
 * such message), so the request is sent again, up to 20 times, and the test
 * still needs the worker's own answer. A reset before any answer, while a
 * large body is still being written, is the socket's race: asked again too.
 */
const post = (body, headers = {}) => postAgain(`${stack.url}/api/rooms`, {
  headers: typeof headers === "function"
    ? (attempt) => ({ "content-type": "application/json", ...headers(attempt) })
    : { "content-type": "application/json", ...headers },
  body,
});
const upgradeStatus = (id, { query = "", address } = {}) =>
  RoomClient.connect(stack.wsUrl, id, undefined, { query, address }).then(
    (c) => { c.ws.close(); return 101; },
    (e) => Number(String(e.message).match(/HTTP (\d+)/)?.[1] ?? 0),
  );

describe("authority: a viewer informs, it never commands", () => {
  test("in a host-only room a viewer's duration ends nothing and its RTT adds at most 500 ms to a start", async () => {
    const { id, hostToken } = await createRoom(stack.url, { mode: "controlled" });
    const host = await RoomClient.connect(stack.wsUrl, id, "Ana", { hello: { host_token: hostToken } });
    const eve = await RoomClient.connect(stack.wsUrl, id, "Eve");
    const seq = host.welcome.room.source_seq;
    cmd(host, { op: "queue_add", url: "https://cdn.example/next.mpd" });
    eve.send({ type: "status", buffering: false, duration: 0.2, source_seq: seq, rtt_ms: 60000, seek_ms: 5000 });
    await settle(host, eve);
    cmd(host, { op: "play", position: 0 });
    // A ping after the play is handled after it: its server time is at or
    // after the play's, so t_ref minus it is at most the lead, however busy
    // the machine (a 2 s lead would show as about 2 s).
    host.send({ type: "ping", t0: 1 });
    const { t1: after } = await host.nextWhere("pong", (m) => m.t0 === 1);
    const { playback } = await eve.next("state");
    const lead = playback.t_ref - after;
    console.log(`    start lead with a viewer reporting a 60 s RTT: at most ${lead} ms`);
    assert.ok(lead <= 600, `lead ${lead} ms`);
    await sleep(1_500); // a window: the 0.2 s "item" Eve reported must not end in it
    await settle(host, eve);
    assert.equal(host.inbox.filter((m) => m.type === "source").length, 0, "the item was not ended or skipped");
    assert.equal(host.queue.length, 1, "the queue is untouched");
    host.ws.close();
    eve.ws.close();
  });
});

describe("limits on strangers", () => {
  test("a socket that never says hello is closed (4008), and waiting sockets are bounded per address", async () => {
    const { id } = await createRoom(stack.url);
    const idle = await RoomClient.connect(stack.wsUrl, id, undefined);
    assert.equal(await idle.closed, 4008, "closed for not saying hello");
    const address = "203.0.113.50";
    const waiting = [];
    for (let i = 0; i < 8; i++) waiting.push(await RoomClient.connect(stack.wsUrl, id, undefined, { address }));
    assert.equal(await upgradeStatus(id, { address }), 429, "the ninth waiting socket from one address is refused");
    assert.equal(await upgradeStatus(id, { address: "203.0.113.51" }), 101, "another address is served meanwhile");
    for (const w of waiting) w.ws.close();
  });

  test("a kicked member is banned by identity and address until the host lifts it", async () => {
    const { id, hostToken } = await createRoom(stack.url);
    const host = await RoomClient.connect(stack.wsUrl, id, "Ana", { hello: { host_token: hostToken } });
    const eve = await RoomClient.connect(stack.wsUrl, id, "Eve", { address: "203.0.113.66" });
    cmd(host, { op: "kick", member: eve.welcome.member });
    assert.equal(await eve.closed, 4001);
    const { bans } = await host.next("bans");
    assert.deepEqual(bans.map((b) => b.name), ["Eve"]);
    const same = await RoomClient.connect(stack.wsUrl, id, undefined, { address: "203.0.113.66" });
    same.send({ type: "hello", name: "Eve again" });
    assert.equal((await same.next("error")).code, "banned", "a new identity from her address is refused");
    assert.equal(await same.closed, 4009);
    const again = await RoomClient.connect(stack.wsUrl, id, undefined, { address: "203.0.113.67" });
    again.send({ type: "hello", name: "Eve", resume: eve.welcome.resume });
    assert.equal((await again.next("error")).code, "banned", "her identity is refused from elsewhere");
    assert.equal(await again.closed, 4009);
    cmd(host, { op: "unban", ban: bans[0].id });
    await host.nextWhere("bans", (m) => m.bans.length === 0);
    const back = await RoomClient.connect(stack.wsUrl, id, "Eve", { address: "203.0.113.66" });
    assert.ok(back.welcome.member > eve.welcome.member, "welcome again after unban");
    host.ws.close();
    back.ws.close();
  });

  test("names: no invisible characters, no role poses, duplicates made distinct", async () => {
    const { id } = await createRoom(stack.url);
    const a = await RoomClient.connect(stack.wsUrl, id, "Ana");
    const b = await RoomClient.connect(stack.wsUrl, id, "An\u200Ba");
    const me = (c) => c.welcome.room.members.find((m) => m.id === c.welcome.member);
    assert.equal(me(b).name, "Ana (2)");
    const spoof = await RoomClient.connect(stack.wsUrl, id, undefined);
    spoof.send({ type: "hello", name: "Ben (host)" });
    assert.equal((await spoof.next("error")).code, "bad_name");
    for (const c of [a, b, spoof]) c.ws.close();
  });
});

describe("passwords", () => {
  test("guessing is bounded per address and per room, a guesser cannot lock members out, and a stranger learns only that a password is needed", async () => {
    const { id } = await createRoom(stack.url, { name: "Secret", password: "7391", source: "https://cdn.example/v.mpd?token=abc" });
    const info = await (await fetch(`${stack.url}/api/rooms/${id}`)).json();
    assert.deepEqual(info, { exists: true, has_password: true }, "no name, no source, no members");
    const check = (pw, address) =>
      request(`${stack.url}/api/rooms/${id}/ws?check&password=${pw}`, { headers: { "cf-connecting-ip": address } });
    const one = [];
    for (let i = 0; i < 7; i++) one.push((await check(String(1000 + i), "192.0.2.1")).status);
    assert.deepEqual(one, [403, 403, 403, 403, 403, 429, 429], "5 wrong answers a minute from one address, then 429");
    const member = await check("7391", "192.0.2.2");
    assert.equal(member.status, 204, "a member elsewhere is not locked out by that guesser");
    // Many addresses together spend the room's budget (60 wrong a minute).
    const many = [];
    for (let i = 0; i < 57; i++) many.push((await check(String(2000 + i), `198.51.100.${i}`)).status);
    assert.equal(many.filter((s) => s === 403).length, 55);
    assert.equal(many.at(-1), 429, "past 60 wrong answers a minute the room stops answering");
    const right = await check("7391", "192.0.2.99");
    assert.equal(right.status, 429, "then even the right password waits out the window");
    assert.ok(Number(right.headers["retry-after"]) > 0);
  });

  test("load: 50 clients on one address guessing passwords at once get 429 past the address's budget; others are served meanwhile", async () => {
    // Ten rooms, five guesses each: under each room's own bound for one address.
    const rooms = [];
    for (let i = 0; i < 10; i++) rooms.push((await createRoom(stack.url, { password: `pw${i}` })).id);
    const address = "198.51.100.200";
    await insideAWindow();
    const t = Date.now();
    const guesses = Array.from({ length: 50 }, (_, i) =>
      request(`${stack.url}/api/rooms/${rooms[i % 10]}/ws?check&password=guess${i}`, { headers: { "cf-connecting-ip": address } }).then((r) => r.status));
    const other = createRoom(stack.url, { password: "pw" }).then(({ id }) =>
      request(`${stack.url}/api/rooms/${id}/ws?check&password=pw`, { headers: { "cf-connecting-ip": "198.51.100.201" } }));
    const statuses = await Promise.all(guesses);
    const count = (s) => statuses.filter((x) => x === s).length;
    console.log(`    50 guesses at once from one address: ${count(403)} answered (403), ${count(429)} refused (429) in ${Date.now() - t} ms`);
    assert.equal(count(403), 20, "the address's budget: 20 checks a minute");
    assert.equal(count(429), 30);
    assert.equal((await other).status, 204, "another address is served meanwhile");
  });
});

describe("one creation path", () => {
  test("creation follows the room's own rules and bounds its body", async () => {
    const cases = [
      [{ name: "x".repeat(100_000) }, 413, "too_large"],
      [{ name: "x".repeat(1_000) }, 400, "bad_name"],
      [{ source: "https://cdn.example/a b\u0000.mpd" }, 400, "bad_source"],
      [{ source: "http://10.0.0.1/x.mpd" }, 400, "bad_source"],
      [{ password: "p".repeat(201) }, 400, "bad_password"],
    ];
    for (const [i, [body, status, code]] of cases.entries()) {
      const res = await post(JSON.stringify(body), { "cf-connecting-ip": `203.0.113.${100 + i}` });
      assert.equal(res.status, status, `${JSON.stringify(body).slice(0, 80)} → ${res.text.slice(0, 200)}`);
      assert.equal(JSON.parse(res.text).error.code, code);
    }
    const big = await post(JSON.stringify({ name: "x".repeat(3_000_000) }), { "cf-connecting-ip": "203.0.113.110" });
    assert.equal(big.status, 413, big.text.slice(0, 300));
    assert.equal(JSON.parse(big.text).error.code, "too_large");
    // Without a declared length (chunked), reading stops at the bound too
    // (16 KB; this body is 40 KB). A 3 MB chunked body cannot be tested
    // through wrangler's dev proxy: the worker's early answer makes the proxy
    // report "restarted mid-request" (2 in 3 idle, 20 in 20 on a loaded
    // machine); a body a socket's buffers take whole reaches the worker.
    // The creation budget is charged before such a body is read, so each
    // attempt sent again comes from an address of its own: cuts from one
    // address would rightly meet a 429.
    const chunked = await post(JSON.stringify({ name: "x".repeat(40_000) }), () => ({ "cf-connecting-ip": nextAddress(), "transfer-encoding": "chunked" }));
    assert.equal(chunked.status, 413, chunked.text.slice(0, 300));
  });

  test("load: 50 clients on one address creating rooms at once get 429 past the budget; others are served meanwhile", async () => {
    await insideAWindow();
    const t = Date.now();
    const attempts = Array.from({ length: 50 }, () => post("{}", { "cf-connecting-ip": "198.51.100.77" }));
    const other = post("{}", { "cf-connecting-ip": "198.51.100.78" });
    const results = await Promise.all(attempts);
    const statuses = results.map((r) => r.status);
    const count = (s) => statuses.filter((x) => x === s).length;
    console.log(`    50 creations at once from one address: ${count(201)} created, ${count(429)} refused (429) in ${Date.now() - t} ms`);
    assert.equal(count(201), 10, `the budget: 10 rooms a minute per address (${statuses.join()})`);
    assert.equal(count(429), 40, `the rest refused (${statuses.join()}; ${results.filter((r) => ![201, 429].includes(r.status)).map((r) => r.text).join(" | ")})`);
    const refused = results.find((r) => r.status === 429);
    assert.equal(JSON.parse(refused.text).error.code, "too_many_rooms");
    assert.ok(Number(refused.headers["retry-after"]) > 0);
    assert.equal((await other).status, 201, "another address is served meanwhile");
  });
});

describe("origins and framing", () => {
  test("ALLOWED_ORIGINS is enforced on creation and sockets; pages may not be framed by other sites", async () => {
    const evil = await post("{}", { origin: "https://evil.example" });
    assert.equal(evil.status, 403);
    assert.equal(JSON.parse(evil.text).error.code, "origin_not_allowed");
    assert.equal((await post("{}", { origin: APP })).status, 201);
    const { id } = await createRoom(stack.url);
    await assert.rejects(RoomClient.connect(stack.wsUrl, id, "x", { origin: "https://evil.example" }), /403/);
    for (const path of [`/r/${id}`, "/"]) {
      const res = await fetch(`${stack.url}${path}`);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("content-security-policy"), `frame-ancestors 'self' ${APP}`, path);
    }
  });
});

describe("persistence", () => {
  test("a queue change reaches members as a delta of a few dozen bytes", async () => {
    const { id } = await createRoom(stack.url);
    const a = await RoomClient.connect(stack.wsUrl, id, "Ana");
    const raw = [];
    a.ws.on("message", (d) => raw.push(String(d)));
    for (let i = 0; i < 30; i++) cmd(a, { op: "queue_add", url: `https://cdn.example/item-${i}.mpd`, title: `Item ${i}` });
    await a.queueUntil((q) => q.length === 30);
    cmd(a, { op: "queue_move", item: a.queue[29].id, to: 0 });
    await a.next("queue_moved");
    const move = raw.find((t) => t.includes('"queue_moved"'));
    assert.ok(move.length < 100, `${move.length} bytes: ${move}`);
    await until(() => a.queue[0].title === "Item 29", { what: "the move applied" });
    a.ws.close();
  });
});
