// A TCP proxy in front of the worker for network trouble on purpose:
// `cut()` drops every connection and refuses new ones until `restore()`;
// `latency` delays each chunk one way (up = client → server, down = server →
// client) by base ± jitter ms, keeping the byte order (a chunk never
// overtakes the one before it, as on one TCP connection).
import net from "node:net";

export async function startNetem(target, { up = [0, 0], down = [0, 0], seed = 1 } = {}) {
  const [host, port] = [target.hostname, Number(target.port)];
  let rng = seed >>> 0 || 1;
  const random = () => {
    rng ^= rng << 13; rng >>>= 0; rng ^= rng >>> 17; rng ^= rng << 5; rng >>>= 0;
    return rng / 0x100000000;
  };
  const delay = ([base, jitter]) => Math.max(0, base + (random() * 2 - 1) * jitter);
  const sockets = new Set();
  let refusing = false;
  let wsRefused = 0;
  const pipe = (from, to, profile) => {
    // One queue per direction, drained in order by one timer: separate
    // timers with equal deadlines may fire out of order.
    const queue = [];
    let last = 0;
    let timer = null;
    const drain = () => {
      timer = null;
      while (queue.length && queue[0].at <= Date.now()) { const { chunk } = queue.shift(); if (!to.destroyed) to.write(chunk); }
      if (queue.length) timer = setTimeout(drain, Math.max(0, queue[0].at - Date.now()));
    };
    from.on("data", (chunk) => {
      if (profile[0] === 0 && profile[1] === 0) { to.write(chunk); return; }
      const at = Math.max(Date.now() + delay(profile), last);
      last = at;
      queue.push({ at, chunk });
      if (!timer) timer = setTimeout(drain, Math.max(0, queue[0].at - Date.now()));
    });
  };
  const server = net.createServer((client) => {
    if (refusing) {
      client.once("data", (head) => { if (/^upgrade:\s*websocket/im.test(head.toString("latin1"))) wsRefused++; client.destroy(); });
      client.on("error", () => {});
      setTimeout(() => client.destroy(), 1_000);
      return;
    }
    const upstream = net.connect(port, host);
    sockets.add(client); sockets.add(upstream);
    const close = () => { client.destroy(); upstream.destroy(); sockets.delete(client); sockets.delete(upstream); };
    client.on("error", close); upstream.on("error", close);
    client.on("close", close); upstream.on("close", close);
    pipe(client, upstream, up);
    pipe(upstream, client, down);
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    /** WebSocket handshakes refused while cut. */
    wsRefused: () => wsRefused,
    cut() { refusing = true; for (const s of sockets) s.destroy(); sockets.clear(); },
    restore() { refusing = false; },
    close: () => new Promise((r) => { for (const s of sockets) s.destroy(); server.close(r); }),
  };
}
