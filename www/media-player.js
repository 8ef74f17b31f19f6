// The player alone, without a room: DASH, HLS (fMP4) and progressive files
// on one <video>, from the build of player-wasm without its `room` feature
// (./pkg/media: no WebSocket, no sync loop, no WebAudio; a smaller download).
// For rooms, use ./watch-together.js.
import init, { MediaPlayer } from "./pkg/media/player_wasm.js";

export { MediaPlayer };

let ready = null;
/** Load the wasm module (once); await it before `new MediaPlayer(video)`. */
export function load(wasmUrl) {
  ready ??= init(wasmUrl ? { module_or_path: wasmUrl } : undefined);
  return ready;
}
