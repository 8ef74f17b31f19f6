// cargo xtask bench room: one room on the real workerd runtime with N real
// WebSocket clients on loopback. Measures a command's time from send to
// delivery at every member, and broadcast throughput.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import { RoomClient } from "../support/client.mjs";
import { createRoom, nextAddress, root, sleep, startStack } from "../support/stack.mjs";

const N = Number(process.env.BENCH_CLIENTS ?? 5000);
const BATCH = 50;
const COMMANDS = 30;
const pct = (v, p) => {
  const s = [...v].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.round((p / 100) * (s.length - 1)))];
};

const stack = await startStack();
try {
  const { id } = await createRoom(stack.url);
  const clients = [];
  const t0 = performance.now();
  // Each client from an address of its own (the per-address limits are
  // not what this measures), BATCH joining at a time.
  for (let i = 0; i < N; i += BATCH) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(BATCH, N - i) }, (_, k) => RoomClient.connect(stack.wsUrl, id, `c${i + k}`, { address: nextAddress() })),
    );
    for (const c of batch) {
      // Keep only what the bench reads: a room of 5,000 sends every client
      // every member change, and the inbox would hold them all.
      c.ws.removeAllListeners("message");
      c.welcome = null;
    }
    clients.push(...batch);
    process.stdout.write(`\r    joined ${clients.length}/${N} (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
  }
  const joinSeconds = (performance.now() - t0) / 1000;
  console.log(`\n    ${N} members joined in ${joinSeconds.toFixed(1)} s`);
  await sleep(2_000);
  // Count every message each client receives from now on.
  let delivered = 0;
  const pending = new Map(); // seq-less: key by command id → { sent, remaining }
  const latencies = [];
  for (const c of clients) {
    c.ws.on("message", (data) => {
      delivered++;
      const text = String(data);
      if (!text.includes('"type":"state"')) return;
      const m = JSON.parse(text);
      const p = pending.get(m.cause?.command_id);
      if (p) {
        latencies.push(performance.now() - p.sent);
        if (--p.remaining === 0) p.done();
      }
    });
    c.inbox = [];
  }
  const sender = clients[0];
  for (let k = 0; k < COMMANDS; k++) {
    const cid = 10_000 + k;
    const done = new Promise((resolve) => pending.set(cid, { sent: performance.now(), remaining: N, done: resolve }));
    sender.send({ type: "command", id: cid, command: { op: "seek", position: k } });
    await Promise.race([done, sleep(10_000)]);
    await sleep(100);
  }
  const sequential = [...latencies];
  latencies.length = 0;
  // Throughput: 10 senders, 10 commands each, as fast as the rate limit allows.
  delivered = 0;
  const tStart = performance.now();
  const burst = [];
  for (let s = 0; s < 10; s++) {
    for (let k = 0; k < 10; k++) {
      const cid = 20_000 + s * 100 + k;
      burst.push(new Promise((resolve) => pending.set(cid, { sent: performance.now(), remaining: N, done: resolve })));
      clients[1 + s].send({ type: "command", id: cid, command: { op: "seek", position: 100 + k } });
    }
  }
  await Promise.race([Promise.all(burst), sleep(60_000)]);
  const seconds = (performance.now() - tStart) / 1000;
  const figures = {
    benchmark: "room",
    machine: `${cpus()[0]?.model ?? "unknown"}, ${cpus().length} cores`,
    date: new Date().toISOString().slice(0, 10),
    clients: N,
    join_seconds: Number(joinSeconds.toFixed(2)),
    command_to_all_members_ms: { p50: Number(pct(sequential, 50).toFixed(1)), p99: Number(pct(sequential, 99).toFixed(1)), max: Number(pct(sequential, 100).toFixed(1)), samples: sequential.length },
    burst_of_100_commands_delivery_ms: { p50: Number(pct(latencies, 50).toFixed(1)), p99: Number(pct(latencies, 99).toFixed(1)), samples: latencies.length },
    broadcast_messages_per_second: Math.round(delivered / seconds),
  };
  console.log(`    one command → delivery at each of ${N} members: p50 ${figures.command_to_all_members_ms.p50} ms, p99 ${figures.command_to_all_members_ms.p99} ms, max ${figures.command_to_all_members_ms.max} ms (${sequential.length} deliveries)`);
  console.log(`    a burst of 100 commands from 10 members: delivery p50 ${figures.burst_of_100_commands_delivery_ms.p50} ms, p99 ${figures.burst_of_100_commands_delivery_ms.p99} ms`);
  console.log(`    broadcast throughput: ${figures.broadcast_messages_per_second} messages/s delivered (100 commands × ${N} members in ${seconds.toFixed(2)} s)`);
  // The native half (`examples/room_bench.rs`): storage and wire bytes per command.
  const core = join(root, "target/bench/room-core.json");
  if (existsSync(core)) figures.per_command = JSON.parse(readFileSync(core, "utf8"));
  mkdirSync(join(root, "target/bench"), { recursive: true });
  writeFileSync(join(root, "target/bench/room.json"), `${JSON.stringify(figures, null, 2)}\n`);
  console.log("    wrote target/bench/room.json");
  for (const c of clients) c.ws.terminate();
} finally {
  await stack.stop();
}
