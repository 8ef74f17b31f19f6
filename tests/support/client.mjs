// A real WebSocket client speaking the room protocol, for worker tests.
import WebSocket from "ws";
import { nextAddress } from "./stack.mjs";

let barriers = 0;

/**
 * Wait until `clients` are settled: the room has handled everything each of
 * them sent, and each has received what handling it sent at once (two rounds
 * of barriers: the first gets every frame handled, the second every answer
 * delivered). What the room sends later, from an alarm, is not covered.
 */
export async function settle(...clients) {
  for (let round = 0; round < 2; round++) {
    for (const c of clients) await c.barrier();
  }
}

export class RoomClient {
  static async connect(wsUrl, roomId, name, { query = "", hello = {}, origin, address = nextAddress(), timeout = 10_000 } = {}) {
    const headers = { "cf-connecting-ip": address };
    const c = new RoomClient(new WebSocket(`${wsUrl}/api/rooms/${roomId}/ws${query}`, origin ? { origin, headers } : { headers }));
    await new Promise((resolve, reject) => {
      c.ws.once("open", resolve);
      c.ws.once("error", reject);
      c.ws.once("unexpected-response", (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    });
    if (name !== undefined) {
      c.send({ type: "hello", name, ...hello });
      c.welcome = await c.next("welcome", timeout);
    }
    return c;
  }

  constructor(ws) {
    this.ws = ws;
    this.inbox = [];
    this.waiters = [];
    this.closed = new Promise((r) => ws.once("close", (code) => r(code)));
    this.members = new Map();
    /** The queue, kept from `welcome` and the queue deltas. */
    this.queue = [];
    this.memberWatchers = [];
    ws.on("message", (data, isBinary) => {
      const msg = isBinary ? { type: "<binary>" } : JSON.parse(String(data));
      if (msg.type === "welcome") for (const m of msg.room.members) this.members.set(m.id, m);
      if (msg.type === "member") this.members.set(msg.member.id, msg.member);
      if (msg.type === "member_left") this.members.delete(msg.id);
      if (msg.type === "members") {
        for (const m of msg.members) this.members.set(m.id, m);
        for (const id of msg.left) this.members.delete(id);
      }
      if (msg.type === "welcome") this.queue = [...msg.room.queue];
      if (msg.type === "queue") this.queue = [...msg.items];
      if (msg.type === "queue_added") this.queue.splice(Math.min(msg.at, this.queue.length), 0, msg.item);
      if (msg.type === "queue_removed") this.queue = this.queue.filter((q) => q.id !== msg.id);
      if (msg.type === "queue_moved") {
        const item = this.queue.find((q) => q.id === msg.id);
        if (item) {
          this.queue = this.queue.filter((q) => q !== item);
          this.queue.splice(Math.min(msg.to, this.queue.length), 0, item);
        }
      }
      this.memberWatchers = this.memberWatchers.filter((w) => !w());
      this.inbox.push(msg);
      this.waiters = this.waiters.filter((w) => !w(msg));
    });
  }

  send(msg) {
    this.ws.send(JSON.stringify({ v: 1, ...msg }));
  }

  sendRaw(data) {
    this.ws.send(data);
  }

  /** The next message of `type` (already received or arriving within `ms`). */
  next(type, ms = 10_000) {
    return this.nextWhere(type, () => true, ms);
  }

  /** The next message of `type` for which `pred` holds; earlier ones of that type are dropped. */
  nextWhere(type, pred, ms = 10_000) {
    for (;;) {
      const i = this.inbox.findIndex((m) => m.type === type);
      if (i < 0) break;
      const [m] = this.inbox.splice(i, 1);
      if (pred(m)) return Promise.resolve(m);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no matching "${type}" within ${ms} ms; got ${JSON.stringify(this.inbox).slice(0, 2000)}`)), ms);
      this.waiters.push((msg) => {
        if (msg.type !== type) return false;
        if (!pred(msg)) {
          this.inbox.splice(this.inbox.indexOf(msg), 1);
          return false;
        }
        clearTimeout(timer);
        this.inbox.splice(this.inbox.indexOf(msg), 1);
        resolve(msg);
        return true;
      });
    });
  }

  /** The member list (from the welcome and the deltas after it), sorted by id. */
  memberList() {
    return [...this.members.values()].sort((a, b) => a.id - b.id);
  }

  /** Resolve with the queue once `pred(queue)` holds. */
  queueUntil(pred, ms = 10_000) {
    if (pred(this.queue)) return Promise.resolve(this.queue);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`queue never matched within ${ms} ms: ${JSON.stringify(this.queue)}`)), ms);
      this.memberWatchers.push(() => {
        if (!pred(this.queue)) return false;
        clearTimeout(timer);
        resolve(this.queue);
        return true;
      });
    });
  }

  /** Resolve with the member list once `pred(list)` holds. */
  membersUntil(pred, ms = 10_000) {
    if (pred(this.memberList())) return Promise.resolve(this.memberList());
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`member list never matched within ${ms} ms: ${JSON.stringify(this.memberList())}`)), ms);
      this.memberWatchers.push(() => {
        if (!pred(this.memberList())) return false;
        clearTimeout(timer);
        resolve(this.memberList());
        return true;
      });
    });
  }

  /**
   * A barrier: a ping answered means the room has handled every frame this
   * client sent before it, and this client has received everything the room
   * sent it before the pong.
   */
  async barrier() {
    const t0 = 9e12 + ++barriers;
    this.send({ type: "ping", t0 });
    await this.nextWhere("pong", (m) => m.t0 === t0).catch((e) => {
      const limited = this.inbox.some((m) => m.type === "error" && m.code === "rate_limited");
      throw new Error(`barrier: ${limited ? "the room rate-limited this client, so its ping was dropped" : e.message}`);
    });
  }

  /** Drop everything received so far. */
  clear() {
    this.inbox = [];
  }

  close() {
    this.ws.close();
    return this.closed;
  }
}
