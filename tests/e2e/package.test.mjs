// engines: chromium firefox webkit
// The npm package as a stranger gets it: the tarball `cargo xtask pack`
// made (npm pack) is installed into a throwaway project outside the repo,
// type-checked with tsc against the package's own types, bundled with
// esbuild through the package's `exports`, served from another origin, and
// two pages of that app join one room on the real worker and play in sync.
import assert from "node:assert/strict";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after } from "node:test";
import { converge, ENGINE, joined, newPage, test, waitFor, withBrowser } from "../support/browser.mjs";
import { createRoom, exec, root, setup, withStack } from "../support/stack.mjs";
import { startUpstream } from "../support/upstream.mjs";

const tarball = resolve(process.env.WT_NPM_TARBALL
  ?? join(root, "target/npm", readdirSync(join(root, "target/npm")).filter((f) => f.endsWith(".tgz")).sort().pop() ?? "missing.tgz"));
const bin = (name) => join(root, "node_modules/.bin", name);

const APP_TS = `
import { join, WatchTogetherError, type Member, type QueueItem, type Role, type Session, type StateReason } from "@watch-together/player";

const params = new URLSearchParams(location.search);
const video = document.querySelector("video")!;
const status = document.getElementById("connection")!;
try {
  const session: Session = await join({ server: params.get("server")!, room: params.get("room")!, video, name: params.get("name") ?? "npm" });
  session.addEventListener("connection", (e) => { status.textContent = e.detail.state; });
  session.addEventListener("members", (e) => {
    const names: string[] = e.detail.map((m: Member) => m.name);
    document.getElementById("members")!.textContent = names.join(", ");
    const drifts: number[] = e.detail.flatMap((m) => (m.driftMs === undefined ? [] : [m.driftMs]));
    document.getElementById("members")!.dataset.drift = drifts.join(",");
  });
  session.addEventListener("queue", (e) => {
    const by: number[] = e.detail.map((item: QueueItem) => item.addedBy);
    document.getElementById("queue")!.textContent = by.join(",");
  });
  session.addEventListener("state", (e) => {
    const by: number | null = e.detail.by;
    const reason: StateReason | null = e.detail.reason;
    document.getElementById("state")!.textContent += \`\${e.detail.playing ? "playing" : "paused"} by \${by ?? "the room"}\${reason ? \` (\${reason})\` : ""}; \`;
  });
  session.addEventListener("source", () => {
    const proxied: string | undefined = session.source?.playUrl;
    const role: Role | null = session.role;
    const allowed: boolean = session.canControl;
    document.getElementById("source")!.textContent = \`\${proxied ? "proxied" : "direct"} · \${role} · \${allowed}\`;
  });
  (globalThis as unknown as { app: { session: Session } }).app = { session };
} catch (e) {
  status.textContent = e instanceof WatchTogetherError ? \`error: \${e.code}\` : \`error: \${String(e)}\`;
}
`;

// Misuse the types must catch (if they were `any`, tsc would pass this).
const WRONG_TS = `
import { join } from "@watch-together/player";
const s = await join({ room: "x", video: document.createElement("div") });
s.seek("ten seconds");
s.setMode("anarchy");
s.addEventListener("members", (e) => e.detail.toFixed());
import { MediaPlayer } from "@watch-together/player/media";
new MediaPlayer(document.createElement("video")).load({ url: "a.mpd", kind: "rtmp" });
s.addEventListener("members", (e) => e.detail.map((m) => m.drift_ms));
s.addEventListener("queue", (e) => e.detail.map((item) => item.added_by));
const proxied: string | undefined = s.source?.play_url;
s.members.map((m) => m.rtt_ms);
`;

// The player alone (no room), from its own entry point.
const MEDIA_TS = `
import { load, MediaPlayer, type Quality } from "@watch-together/player/media";
export async function playAlone(video: HTMLVideoElement, url: string): Promise<Quality[]> {
  await load();
  const player = new MediaPlayer(video);
  player.events.addEventListener("error", (e) => console.error((e as CustomEvent<{ message: string }>).detail.message));
  player.load({ url, kind: "dash" });
  player.setQuality("auto");
  return player.qualities();
}
`;

const HTML = `<!doctype html><meta charset="utf-8"><title>npm consumer</title><link rel="icon" href="data:,">
<video id="video" playsinline muted></video><p>connection: <span id="connection">loading</span></p><p id="members"></p>
<p id="state"></p><p id="queue"></p><p id="source"></p>
<script type="module" src="./app.js"></script>`;

const stack = withStack();
const browser = withBrowser();
let site, app;
setup(async () => {
  app = mkdtempSync(join(tmpdir(), "wt-consumer-"));
  writeFileSync(join(app, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }));
  const npm = await exec("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error", "--prefer-offline", tarball], { cwd: app });
  if (npm.status !== 0) throw new Error(`npm install of the tarball failed: ${npm.stdout}${npm.stderr}`);
  mkdirSync(join(app, "src"));
  mkdirSync(join(app, "dist"));
  writeFileSync(join(app, "tsconfig.json"), JSON.stringify({
    compilerOptions: { target: "es2022", module: "esnext", moduleResolution: "bundler", strict: true, noEmit: true, lib: ["es2022", "dom"], skipLibCheck: false },
  }));
  site = await startUpstream({ "/": join(app, "dist") });
});
after(async () => {
  await site?.close();
  if (app) rmSync(app, { recursive: true, force: true });
});

test("the installed package is what package.json promises", () => {
  const pkgDir = join(app, "node_modules/@watch-together/player");
  const pkg = JSON.parse(readFileSync(join(pkgDir, "package.json"), "utf8"));
  const cargo = readFileSync(join(root, "Cargo.toml"), "utf8").match(/\[workspace\.package\][^[]*?version = "([^"]+)"/)[1];
  assert.equal(pkg.version, cargo, "versioned with the crates");
  assert.equal(pkg.type, "module");
  assert.deepEqual(pkg.sideEffects, ["./embed.js", "./player-ui.js"], "the embed and the player element it defines are kept by bundlers");
  const require = createRequire(join(app, "index.js"));
  // Resolution goes through `exports` (the consumer never names a file).
  for (const spec of ["@watch-together/player", "@watch-together/player/embed", "@watch-together/player/player_wasm_bg.wasm",
    "@watch-together/player/media", "@watch-together/player/media/player_wasm_bg.wasm"]) {
    assert.ok(require.resolve(spec).startsWith(pkgDir), spec);
  }
  assert.match(readFileSync(join(pkgDir, "README.md"), "utf8"), /import \{ join \} from "@watch-together\/player"/);
  // Every module the package's own modules import is in the package.
  for (const file of readdirSync(pkgDir).filter((f) => f.endsWith(".js"))) {
    for (const [, spec] of readFileSync(join(pkgDir, file), "utf8").matchAll(/(?:from|import) "(\.\/[^"]+)"/g)) {
      assert.ok(existsSync(join(pkgDir, spec)), `${file} imports ${spec}, which the package lacks`);
    }
  }
  // The generated event list ships next to the API that imports it; the changelog names the renames.
  assert.match(readFileSync(join(pkgDir, "events.js"), "utf8"), /export const EVENTS = Object\.freeze\(\[/);
  const changelog = readFileSync(join(pkgDir, "CHANGELOG.md"), "utf8");
  assert.ok(changelog.includes(`## ${cargo}`), "the changelog has this version");
  for (const [from, to] of [["drift_ms", "driftMs"], ["rtt_ms", "rttMs"], ["added_by", "addedBy"], ["play_url", "playUrl"]]) {
    assert.ok(changelog.includes(`| \`${from}\` | \`${to}\` |`), `CHANGELOG: ${from} → ${to}`);
  }
});

test("tsc accepts the consumer against the package types and rejects misuse", async () => {
  writeFileSync(join(app, "src/app.ts"), APP_TS);
  writeFileSync(join(app, "src/media.ts"), MEDIA_TS);
  const ok = await exec(bin("tsc"), ["-p", "."], { cwd: app });
  assert.equal(ok.status, 0, `tsc: ${ok.stdout}${ok.stderr}`);
  writeFileSync(join(app, "src/wrong.ts"), WRONG_TS);
  const bad = await exec(bin("tsc"), ["-p", "."], { cwd: app });
  rmSync(join(app, "src/wrong.ts"));
  assert.notEqual(bad.status, 0, "misuse must not type-check");
  // Each misuse (lines 3–6 and 8; the 0.1 names on lines 9–12) is an error of its own.
  for (const line of [3, 4, 5, 6, 8, 9, 10, 11, 12]) assert.ok(bad.stdout.includes(`src/wrong.ts(${line},`), `tsc flags line ${line}: ${bad.stdout}`);
  for (const name of ["drift_ms", "added_by", "play_url", "rtt_ms"]) assert.ok(bad.stdout.includes(`Property '${name}' does not exist`), `tsc: no ${name}: ${bad.stdout}`);
});

test("an esbuild app from the tarball, on another origin, joins and plays in sync", async () => {
  const esb = await exec(bin("esbuild"), ["src/app.ts", "--bundle", "--format=esm", "--target=es2022", "--outfile=dist/app.js"], { cwd: app });
  assert.equal(esb.status, 0, esb.stderr);
  // The wasm sits next to the bundle, where `new URL(…, import.meta.url)` finds it.
  copyFileSync(createRequire(join(app, "index.js")).resolve("@watch-together/player/player_wasm_bg.wasm"), join(app, "dist/player_wasm_bg.wasm"));
  writeFileSync(join(app, "dist/index.html"), HTML);
  const bundle = readFileSync(join(app, "dist/app.js"), "utf8");
  assert.ok(!bundle.includes(root), "the bundle names nothing in the repository");

  const { id } = await createRoom(stack.url, {});
  assert.notEqual(new URL(site.url).origin, new URL(stack.url).origin, "the app is on another origin");
  const pages = [];
  for (const name of ["Ana", "Ben"]) {
    const p = await newPage(browser);
    await p.goto(`${site.url}/index.html?server=${encodeURIComponent(stack.url)}&room=${id}&name=${name}`);
    await joined(p);
    pages.push(p);
  }
  for (const p of pages) await waitFor(p, () => document.getElementById("members").textContent.split(", ").length === 2, null, 10_000, "both members listed");
  // What the wasm session knows, through the typed getters: an open room, everyone controls.
  for (const p of pages) {
    const { role, canControl, me, members } = await p.evaluate(() => {
      const s = globalThis.app.session;
      return { role: s.role, canControl: s.canControl, me: s.me, members: s.members.map((m) => m.id) };
    });
    assert.ok(["host", "viewer"].includes(role) && canControl === true && members.includes(me), JSON.stringify({ role, canControl, me, members }));
  }
  await pages[0].evaluate(() => globalThis.app.session.play());
  for (const p of pages) await waitFor(p, () => !document.getElementById("video").paused && document.getElementById("video").currentTime > 1, null, 10_000, "both play");
  const ana = await pages[0].evaluate(() => globalThis.app.session.me);
  await waitFor(pages[1], (id) => document.getElementById("state").textContent.includes(`playing by ${id}; `), ana, 5_000, "Ben's state event says Ana played");
  // (Firefox and WebKit pages take longer on busy cores: two WebKit pages were 158 ms apart after 10 s once.)
  await converge(pages[0], pages[1], 0.1, ENGINE === "chromium" ? 10_000 : 20_000, "in sync");
  for (const p of pages) assert.deepEqual(p.problems, []);
});
