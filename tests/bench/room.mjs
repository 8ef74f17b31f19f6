// cargo xtask bench room: one room on the real workerd runtime with N real
// WebSocket clients on loopback. Measures a command's time from send to
// delivery at every member, and broadcast throughput.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import { RoomClient } from "../support/client.mjs";
import { createRoom, exec, nextAddress, processes, root, sleep, startStack } from "../support/stack.mjs";

const N = Number(process.env.BENCH_CLIENTS ?? 5000);
const BATCH = 50;
const COMMANDS = 30;
const pct = (v, p) => {
  const s = [...v].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.round((p / 100) * (s.length - 1)))];
};

// A join in a room of thousands waits behind the joins before it: give
// `hello` and `welcome` time (the bench measures; it does not time out).
const stack = await startStack({ vars: { ROOM_HELLO_TIMEOUT_MS: "120000" } });

/**
 * The runtime's own socket, behind wrangler's dev proxy. The proxy holds
 * six descriptors per WebSocket and this machine allows a process 20 000
 * (not raisable here), so at about 3 300 clients it stops accepting; the
 * runtime itself holds one per client. Found as the port of the stack's
 * inspector-bearing workerd that answers /healthz.
 */
async function runtimeUrl() {
  const runtime = processes().filter((p) => p.pgrp === stack.pgid && /workerd/.test(p.cmd) && /inspector-addr/.test(p.cmd));
  for (const p of runtime) {
    const { stdout } = await exec("ss", ["-ltnpH"]);
    const ports = stdout.split("\n").filter((l) => l.includes(`pid=${p.pid},`)).map((l) => l.split(/\s+/)[3]?.split(":").pop());
    for (const port of ports) {
      const ok = await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok, () => false);
      if (ok) return `127.0.0.1:${port}`;
    }
  }
  return null;
}

/**
 * CPU (ms) used so far by the runtime's workerd, in user space (the room's
 * own work and the runtime's) and in the kernel (its sends; on loopback the
 * kernel also does the receiving side's TCP work in the sender's time), and
 * by this process (the 5,000 clients).
 */
function cpuMs() {
  const ticks = (pid) => {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ").slice(11, 13).map(Number);
  };
  const runtime = processes().filter((p) => p.pgrp === stack.pgid && /workerd/.test(p.cmd) && /inspector-addr/.test(p.cmd));
  const [user, system] = runtime.map((p) => ticks(p.pid)).reduce(([a, b], [u, s]) => [a + u, b + s], [0, 0]);
  const [cu, cs] = ticks(process.pid);
  return { user: user * 10, system: system * 10, clients: (cu + cs) * 10 };
}

try {
  const direct = await runtimeUrl();
  const wsUrl = direct ? `ws://${direct}` : stack.wsUrl;
  console.log(`    clients connect to ${direct ? `the runtime directly (${direct})` : "wrangler's dev proxy"}`);
  const { id } = await createRoom(stack.url);
  const clients = [];
  const t0 = performance.now();
  // Each client from an address of its own (the per-address limits are
  // not what this measures), BATCH joining at a time.
  for (let i = 0; i < N; i += BATCH) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(BATCH, N - i) }, (_, k) => RoomClient.connect(wsUrl, id, `c${i + k}`, { address: nextAddress(), timeout: 120_000 })),
    );
    for (const c of batch) {
      // Keep only what the bench reads: a room of 5,000 sends every client
      // every member change, and the inbox would hold them all.
      c.ws.removeAllListeners("message");
      c.welcome = null;
      c.members.clear();
      c.queue = [];
      c.inbox = [];
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
  const cpu0 = cpuMs();
  for (let k = 0; k < COMMANDS; k++) {
    const cid = 10_000 + k;
    const done = new Promise((resolve) => pending.set(cid, { sent: performance.now(), remaining: N, done: resolve }));
    sender.send({ type: "command", id: cid, command: { op: "seek", position: k } });
    await Promise.race([done, sleep(10_000)]);
    await sleep(100);
  }
  const sequential = [...latencies];
  const cpu1 = cpuMs();
  const per = (k) => (cpu1[k] - cpu0[k]) / COMMANDS;
  const cpuPerCommand = { runtime_user: per("user"), runtime_kernel: per("system"), clients: per("clients") };
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
    cpu_ms_per_command: Object.fromEntries(Object.entries(cpuPerCommand).map(([k, v]) => [k, Number(v.toFixed(1))])),
  };
  console.log(`    one command → delivery at each of ${N} members: p50 ${figures.command_to_all_members_ms.p50} ms, p99 ${figures.command_to_all_members_ms.p99} ms, max ${figures.command_to_all_members_ms.max} ms (${sequential.length} deliveries)`);
  const c = figures.cpu_ms_per_command;
  console.log(`    CPU per command (state to all ${N}): workerd ${c.runtime_user} ms user + ${c.runtime_kernel} ms kernel, the ${N} clients (node) ${c.clients} ms, on the same 2 cores`);
  console.log(`    a burst of 100 commands from 10 members: delivery p50 ${figures.burst_of_100_commands_delivery_ms.p50} ms, p99 ${figures.burst_of_100_commands_delivery_ms.p99} ms`);
  console.log(`    broadcast throughput: ${figures.broadcast_messages_per_second} messages/s delivered (100 commands × ${N} members in ${seconds.toFixed(2)} s)`);
  // The native half (`examples/room_bench.rs`): storage and wire bytes per command.
  const core = join(root, "target/bench/room-core.json");
  if (existsSync(core)) figures.per_command = JSON.parse(readFileSync(core, "utf8"));
  mkdirSync(join(root, "target/bench"), { recursive: true });
  writeFileSync(join(root, "target/bench/room.json"), `${JSON.stringify(figures, null, 2)}\n`);
  console.log("    wrote target/bench/room.json");
  for (const c of clients) c.ws.terminate();
} catch (e) {
  console.error(`\n    the stack said:\n${stack.logs().slice(-4000)}`);
  throw e;
} finally {
  await stack.stop();
}
