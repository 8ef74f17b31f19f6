// One list of events: the wasm's own `events()` (player-wasm/src/events.rs,
// in both builds), `EVENTS` of www/events.js, the keys of `SessionEventMap`
// in www/watch-together.d.ts and the events tables of the READMEs must be
// the same list, in the same order; `MediaPlayerEventMap` the events the
// tables say fire on a MediaPlayer. (The built wasm loads in node: its glue
// touches no browser API until a player is made.)
import assert from "node:assert/strict";
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { pathToFileURL } from "node:url";
import { root } from "../support/stack.mjs";

const scratch = mkdtempSync(join(tmpdir(), "wt-events-"));
after(() => rmSync(scratch, { recursive: true, force: true }));

/** `events()` of the wasm build in www/pkg/<dir> (its glue copied as .mjs: the repository's package.json says no module type). */
async function wasmEvents(dir) {
  const glue = join(scratch, `${dir || "room"}.mjs`);
  copyFileSync(join(root, "www/pkg", dir, "player_wasm.js"), glue);
  const wasm = await import(pathToFileURL(glue).href);
  wasm.initSync({ module: readFileSync(join(root, "www/pkg", dir, "player_wasm_bg.wasm")) });
  return wasm.events();
}

/** The keys of `interface <name>` in a .d.ts file. */
function mapKeys(file, name) {
  const text = readFileSync(join(root, file), "utf8");
  const body = text.match(new RegExp(`export interface ${name} \\{\\n([\\s\\S]*?)\\n\\}`))?.[1];
  assert.ok(body, `${file} declares ${name}`);
  return [...body.matchAll(/^ {2}"?([a-z-]+)"?: CustomEvent</gm)].map((m) => m[1]);
}

/** The rows of a README's events table: [name, fires on]. */
function tableRows(file) {
  const text = readFileSync(join(root, file), "utf8");
  const table = text.split("<!-- BEGIN GENERATED: events (cargo xtask codegen) -->")[1]?.split("<!-- END GENERATED -->")[0];
  assert.ok(table, `${file} has the events table`);
  return [...table.matchAll(/^\| `([a-z-]+)` \| .*? \| (Session(?:, MediaPlayer)?) \|/gm)].map((m) => [m[1], m[2]]);
}

test("the runtime list, EVENTS, the types and the READMEs name the same events", async () => {
  const runtime = await wasmEvents("");
  assert.ok(Array.isArray(runtime) && runtime.length >= 20 && runtime.every((n) => typeof n === "string"), `events(): ${runtime}`);
  assert.ok(runtime.includes("state") && runtime.includes("needs-gesture") && runtime.includes("transmux"));
  assert.deepEqual(await wasmEvents("media"), runtime, "the player-alone build has the same list");

  const { EVENTS } = await import(pathToFileURL(join(root, "www/events.js")).href);
  assert.deepEqual([...EVENTS], runtime, "www/events.js");
  assert.ok(Object.isFrozen(EVENTS));
  const api = readFileSync(join(root, "www/watch-together.js"), "utf8");
  assert.match(api, /import \{ EVENTS \} from "\.\/events\.js";/, "the API re-exports the generated list");
  assert.doesNotMatch(api, /EVENTS = \[/, "and keeps no list of its own");

  assert.deepEqual(mapKeys("www/watch-together.d.ts", "SessionEventMap"), runtime, "SessionEventMap");
  for (const readme of ["README.md", "player-wasm/npm/README.md"]) {
    const rows = tableRows(readme);
    assert.deepEqual(rows.map(([name]) => name), runtime, readme);
    const onPlayer = rows.filter(([, on]) => on.includes("MediaPlayer")).map(([name]) => name);
    assert.deepEqual(mapKeys("www/media-player.d.ts", "MediaPlayerEventMap"), onPlayer, `${readme}: MediaPlayerEventMap`);
  }
});
