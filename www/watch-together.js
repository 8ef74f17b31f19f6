// The public JavaScript API: `join()` a room with a <video>, get a session.
// Hand-written over the wasm-bindgen exports of player-wasm (./pkg), so that
// errors are typed, the wasm is initialised once, and a wrong password or a
// missing room is told before anything connects.
import { EVENTS } from "./events.js";
import init, { join as joinWasm, MediaPlayer } from "./pkg/player_wasm.js";

export { EVENTS, MediaPlayer };

let ready = null;
/** Load the wasm module (once). `join` calls it for you. */
export function load(wasmUrl) {
  ready ??= init(wasmUrl ? { module_or_path: wasmUrl } : undefined);
  return ready;
}

/** A typed failure: `code` is one of room_not_found, password_required, wrong_password, origin_not_allowed, network, bad_options. */
export class WatchTogetherError extends Error {
  constructor(code, message) {
    super(message);
    this.name = "WatchTogetherError";
    this.code = code;
  }
}

/** One membership of one room. Events (CustomEvent, `detail` as documented) are dispatched on the session itself. */
export class Session extends EventTarget {
  #inner;
  #forward = [];
  /** What the wasm session knew when it was left (it is freed then). */
  #last = null;
  /** The room's bans, `[{id, name}]` (the host may lift one with `unban`). */
  bans = [];
  connection = "connecting";
  /** The room's subtitle files, the delay everyone applies and the room's default language: `{files: [{id, label, language, cues, by}], delayMs, language}`. */
  subtitles = { files: [], delayMs: 0, language: "" };
  /** The room's source: `{url, title?, playUrl?, kind, file?, by}` (`kind`: media, youtube, vimeo or local). */
  source = null;

  constructor(inner) {
    super();
    this.#inner = inner;
    const events = inner.events;
    for (const type of EVENTS) {
      const fn = (e) => {
        const d = e.detail;
        if (type === "bans") this.bans = d;
        if (type === "connection") this.connection = d.state;
        if (type === "source") this.source = d;
        if (type === "subtitles") this.subtitles = d;
        this.dispatchEvent(new CustomEvent(type, { detail: d }));
      };
      events.addEventListener(type, fn);
      this.#forward.push([events, type, fn]);
    }
  }
  play() { this.#live("play").play(); }
  pause() { this.#live("pause").pause(); }
  seek(seconds) { this.#live("seek").seek(seconds); }
  setRate(rate) { this.#live("setRate").setRate(rate); }
  /** Play another source now: a DASH, HLS or progressive URL, or a YouTube or Vimeo link. */
  load(url, title) { this.#live("load").load(url, title); }
  /** Play a file from this device, everyone from their own copy: only its name, size, duration and fingerprint go to the room. */
  shareLocalFile(file) { return this.#live("shareLocalFile").shareLocalFile(file); }
  /** Open your copy of the room's local file; resolves with `{match, name, roomName}` (`match`: same, other-version, different). */
  openLocalFile(file) { return this.#live("openLocalFile").openLocalFile(file); }
  chat(text) { this.#live("chat").chat(text); }
  queueAdd(url, title) { this.#live("queueAdd").queueAdd(url, title); }
  queueRemove(id) { this.#live("queueRemove").queueRemove(id); }
  queueMove(id, to) { this.#live("queueMove").queueMove(id, to); }
  queueNext() { this.#live("queueNext").queueNext(); }
  /** Host: remove a member and ban it (its identity and address) until `unban`. */
  kick(member) { this.#live("kick").kick(member); }
  unban(ban) { this.#live("unban").unban(ban); }
  transferHost(member) { this.#live("transferHost").transferHost(member); }
  setRole(member, role) { this.#live("setRole").setRole(member, role); }
  setMode(mode) { this.#live("setMode").setMode(mode); }
  setPassword(password) { this.#live("setPassword").setPassword(password || undefined); }
  setQuality(choice) { this.#live("setQuality").setQuality(choice); }
  setNormalize(on) { this.#live("setNormalize").setNormalize(on); }
  setCorrection(on) { this.#live("setCorrection").setCorrection(on); }
  setHold(on) { this.#live("setHold").setHold(on); }
  /** Add a subtitle file for yourself (WebVTT, SRT, ASS/SSA, TTML): shown at once, in this page only. */
  addSubtitles(source, options) { return this.#live("addSubtitles").addSubtitles(source, options ?? {}); }
  /** Show a text track by id, or none with null (for you only). */
  setTextTrack(id) { this.#live("setTextTrack").setTextTrack(id ?? null); }
  setTextDelay(seconds) { this.#live("setTextDelay").setTextDelay(seconds); }
  /** Add a subtitle file to the room, for everyone (if you may control it); resolves to `{id, label, language, cues}`. */
  shareSubtitles(file, options) { return this.#live("shareSubtitles").shareSubtitles(file, options ?? {}); }
  /** Remove one of the room's subtitle files. */
  removeSubtitles(id) { this.#live("removeSubtitles").removeSubtitles(id); }
  /** Shift the room's subtitle files for everyone (ms, positive: later). */
  setSubtitleDelay(ms) { this.#live("setSubtitleDelay").setSubtitleDelay(ms); }
  /** The room's default subtitle language, for members who have not picked a track ("" for none). */
  setSubtitleLanguage(language) { this.#live("setSubtitleLanguage").setSubtitleLanguage(language ?? ""); }
  /** The source's own text tracks and your files: `[{id, label, language, origin, loaded, cues, selected}]`. */
  get textTracks() { return this.#last ? [] : this.#inner.textTracks(); }
  get qualities() { return this.#last ? [] : this.#inner.qualities(); }
  get stats() { return this.#last ? this.#last.stats : this.#inner.stats(); }
  /** What plays now, whatever the player (the element, YouTube's or Vimeo's embed): `{position, duration, paused}`. */
  get playhead() { return this.#last ? this.#last.playhead : this.#inner.playhead(); }
  get audio() { return this.#last ? this.#last.audio : this.#inner.audio(); }
  /** The members as the player last heard them: `[{id, name, role, status, driftMs?, rttMs?}]`. */
  get members() { return this.#read("members"); }
  /** Your member id once joined, else null. */
  get me() { return this.#read("me"); }
  /** Your role once joined ("host", "controller" or "viewer"), else null. */
  get role() { return this.#read("role"); }
  /** The queue: `[{id, url, title?, addedBy}]`. */
  get queue() { return this.#read("queue"); }
  /** The room's settings: `{mode, hasPassword}`. */
  get settings() { return this.#read("settings"); }
  /** Whether the room takes your play, pause, seek, source and queue commands now (the room's own rule; false until joined). */
  get canControl() { return this.#read("canControl"); }
  /** The wasm session, or a typed error once left (it is freed then: a call would be a null pointer). */
  #live(what) {
    if (this.#last) throw new WatchTogetherError("left", `${what}: this session has left its room`);
    return this.#inner;
  }
  /** The wasm session's own knowledge; once left (and freed), what it knew then. */
  #read(key) { return this.#last ? this.#last[key] : (this.#inner[key] ?? null); }
  /** Leave the room: the socket, timers, listeners and the MediaSource are released. */
  leave() {
    if (this.#last) return;
    for (const [target, type, fn] of this.#forward.splice(0)) target.removeEventListener(type, fn);
    const known = Object.fromEntries(["members", "me", "role", "queue", "settings"].map((k) => [k, this.#read(k)]));
    // What a getter read after leaving gets (a player's last render races the page's navigation).
    const playhead = this.#inner.playhead();
    this.#last = { ...known, canControl: false, stats: this.#inner.stats(), playhead: { ...playhead, paused: true }, audio: this.#inner.audio() };
    this.#inner.leave();
    this.#inner.free?.();
  }
}

/**
 * Join a room and keep `video` in sync with it.
 * @param {{server?: string, room: string, video: HTMLVideoElement, name?: string, password?: string, hostToken?: string, normalize?: boolean, youtubeApi?: string, vimeoApi?: string, edgeTime?: string | false}} options
 * @returns {Promise<Session>}
 */
export async function join(options) {
  const { room, video } = options ?? {};
  if (!(video instanceof HTMLVideoElement)) throw new WatchTogetherError("bad_options", "join: `video` must be an HTMLVideoElement");
  if (typeof room !== "string" || !/^[A-Za-z0-9_-]{22}$/.test(room)) throw new WatchTogetherError("bad_options", "join: `room` must be a room id");
  const server = (options.server ?? location.origin).replace(/\/+$/, "");
  await load(options.wasmUrl);
  const q = new URLSearchParams({ check: "1" });
  if (options.password) q.set("password", options.password);
  let res;
  try {
    res = await fetch(`${server}/api/rooms/${room}/ws?${q}`);
  } catch (e) {
    throw new WatchTogetherError("network", `cannot reach ${server}: ${e.message}`);
  }
  if (res.status !== 204) {
    const body = await res.json().catch(() => ({}));
    throw new WatchTogetherError(body.error?.code ?? `http_${res.status}`, body.error?.message ?? `the server answered ${res.status}`);
  }
  const { name, password, hostToken, normalize, youtubeApi, vimeoApi, edgeTime } = options;
  const inner = joinWasm({ server, room, name, password, hostToken, normalize, youtubeApi, vimeoApi, edgeTime }, video);
  return new Session(inner);
}

export default { join, load, Session, WatchTogetherError, MediaPlayer };
