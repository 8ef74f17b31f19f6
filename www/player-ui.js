// The player's controls: one component for the room page and <watch-together>.
//
//   <wt-player><video playsinline></video></wt-player>
//   player.attach(session)   // a Session from watch-together.js (or null)
//
// Everything it draws lives in its shadow root; the <video> (and the
// YouTube or Vimeo frame the session puts beside it) stays in the light DOM,
// shown through the default slot. It plays, pauses, seeks and sets the rate
// through the session (the room decides), and sets volume, captions and
// quality for this viewer only. Attributes, read when it is connected:
//   keys="document"  shortcuts anywhere on the page but in a text field
//                    (the room page); by default only while focus is
//                    inside the player (an embed on someone else's page).
//   fullscreen="ID"  the element made fullscreen (default: the player
//                    itself); the room page names one that also holds
//                    the chat and people panel.
//   panel            a "Chat" button shows or hides that panel while
//                    fullscreen (the `panel-hidden` class on it).
// It fires `wt-pick` ({kind: "captions", id}) when the viewer picks a
// text track, so a page can remember the choice.

const STORE_VOLUME = "wt-volume";
const RATES = [0.5, 0.75, 1, 1.25, 1.5, 1.75, 2];
const IDLE_MS = 3000;
const DOUBLE_TAP_MS = 300;
const NO_CONTROL = "Only the host and controllers can play, pause, seek and change the speed in this room";

const ICON = {
  play: "M8 5v14l11-7z",
  pause: "M6 5h4v14H6zm8 0h4v14h-4z",
  volume: "M3 9v6h4l5 5V4L7 9H3zm13.5 3A4.5 4.5 0 0 0 14 8v8a4.5 4.5 0 0 0 2.5-4zM14 3.2v2.1a7 7 0 0 1 0 13.4v2.1a9 9 0 0 0 0-17.6z",
  muted: "M3 9v6h4l5 5V4L7 9H3zm13.6 3 2.7-2.7-1.4-1.4-2.7 2.7-2.7-2.7-1.4 1.4 2.7 2.7-2.7 2.7 1.4 1.4 2.7-2.7 2.7 2.7 1.4-1.4z",
  captions: "M19 4H5a2 2 0 0 0-2 2v12a2 2 0 0 0 2 2h14a2 2 0 0 0 2-2V6a2 2 0 0 0-2-2zm-8 7H9.5v-.5h-2v3h2V13H11v1a1 1 0 0 1-1 1H7a1 1 0 0 1-1-1v-4a1 1 0 0 1 1-1h3a1 1 0 0 1 1 1zm7 0h-1.5v-.5h-2v3h2V13H18v1a1 1 0 0 1-1 1h-3a1 1 0 0 1-1-1v-4a1 1 0 0 1 1-1h3a1 1 0 0 1 1 1z",
  speed: "M20.4 8.6 19 10a7.9 7.9 0 0 1-.9 8H5.9A8 8 0 0 1 14 5.1l1.4-1.4A10 10 0 0 0 4.3 19a2 2 0 0 0 1.7 1h12a2 2 0 0 0 1.7-1 10 10 0 0 0 .7-10.4zM10.6 15.4a2 2 0 0 0 2.8 0L19 7l-8.4 5.6a2 2 0 0 0 0 2.8z",
  quality: "M19.4 13a7.6 7.6 0 0 0 0-2l2.1-1.6-2-3.5-2.5 1a7.4 7.4 0 0 0-1.7-1L15 3h-4l-.4 2.9a7.4 7.4 0 0 0-1.7 1l-2.5-1-2 3.5L6.6 11a7.6 7.6 0 0 0 0 2l-2.1 1.6 2 3.5 2.5-1a7.4 7.4 0 0 0 1.7 1L11 21h4l.4-2.9a7.4 7.4 0 0 0 1.7-1l2.5 1 2-3.5zM13 15.5a3.5 3.5 0 1 1 0-7 3.5 3.5 0 0 1 0 7z",
  stats: "M11 7h2v2h-2zm0 4h2v6h-2zm1-9a10 10 0 1 0 0 20 10 10 0 0 0 0-20zm0 18a8 8 0 1 1 0-16 8 8 0 0 1 0 16z",
  pip: "M19 11h-8v6h8zm4 8V5a2 2 0 0 0-2-2H3a2 2 0 0 0-2 2v14a2 2 0 0 0 2 2h18a2 2 0 0 0 2-2zm-2 0H3V5h18z",
  chat: "M20 2H4a2 2 0 0 0-2 2v18l4-4h14a2 2 0 0 0 2-2V4a2 2 0 0 0-2-2zm0 14H5.2L4 17.2V4h16z",
  fullscreen: "M7 14H5v5h5v-2H7zm-2-4h2V7h3V5H5zm12 7h-3v2h5v-5h-2zM14 5v2h3v3h2V5z",
  exitFullscreen: "M5 16h3v3h2v-5H5zm3-8H5v2h5V5H8zm6 11h2v-3h3v-2h-5zm2-11V5h-2v5h5V8z",
};
const svg = (d) => `<svg viewBox="0 0 24 24" aria-hidden="true" focusable="false"><path d="${d}"/></svg>`;

const STYLE = `
:host { display: block; position: relative; background: #000; color: #fff; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; overflow: hidden; user-select: none; -webkit-tap-highlight-color: transparent; }
:host(.idle) { cursor: none; }
.media { position: relative; width: 100%; height: 100%; }
::slotted(video) { display: block; width: 100%; height: 100%; aspect-ratio: 16 / 9; background: #000; object-fit: contain; }
.surface { position: absolute; inset: 0 0 64px 0; }
.chrome { position: absolute; left: 0; right: 0; bottom: 0; padding: 0 10px 6px; background: rgba(0, 0, 0, .78); transition: opacity .2s; }
:host(.idle) .chrome, :host(.idle) .sync { opacity: 0; pointer-events: none; }
.row { display: flex; align-items: center; gap: 2px; min-height: 44px; }
.grow { flex: 1; }
button { font: inherit; color: #fff; background: transparent; border: 0; border-radius: 6px; min-width: 40px; height: 40px; padding: 0 8px; cursor: pointer; display: inline-flex; align-items: center; justify-content: center; gap: 4px; }
button:hover { background: rgba(255, 255, 255, .14); }
button:focus-visible, .seek:focus-visible, input:focus-visible { outline: 2px solid #8ab4ff; outline-offset: 1px; }
button[aria-disabled="true"] { color: #b9b9b9; cursor: not-allowed; }
[hidden] { display: none !important; }
svg { width: 24px; height: 24px; fill: currentColor; flex: none; }
.label { font-size: 13px; }
.time { font-variant-numeric: tabular-nums; padding: 0 8px; white-space: nowrap; font-size: 13px; }
.time .live { background: #d93025; color: #fff; border-radius: 3px; padding: 0 5px; font-weight: 600; margin-right: 6px; }
.time .live.behind { background: #5f6368; }
.volume { display: inline-flex; align-items: center; }
.volume input { width: 80px; accent-color: #fff; margin: 0 6px 0 0; }
.seek { position: relative; height: 18px; cursor: pointer; touch-action: none; border-radius: 3px; }
.seek .track { position: absolute; left: 0; right: 0; top: 7px; height: 4px; background: rgba(255, 255, 255, .3); border-radius: 2px; overflow: hidden; }
.seek:hover .track, .seek.dragging .track { top: 6px; height: 6px; }
.seek .buffered { position: absolute; top: 0; bottom: 0; background: rgba(255, 255, 255, .5); }
.seek .played { position: absolute; left: 0; top: 0; bottom: 0; background: #8ab4ff; }
.seek .thumb { position: absolute; top: 3px; width: 12px; height: 12px; margin-left: -6px; border-radius: 50%; background: #8ab4ff; }
.seek[aria-disabled="true"] { cursor: not-allowed; }
.seek[aria-disabled="true"] .thumb { display: none; }
.tip { position: absolute; bottom: 22px; transform: translateX(-50%); background: #111; color: #fff; padding: 2px 6px; border-radius: 4px; font-size: 12px; font-variant-numeric: tabular-nums; pointer-events: none; white-space: nowrap; }
.menu { position: absolute; bottom: 60px; right: 10px; min-width: 170px; max-height: calc(100% - 70px); overflow-y: auto; background: #1c1f26; border: 1px solid #3a3f4b; border-radius: 8px; padding: 4px; z-index: 3; }
.menu [role="menuitemradio"] { display: flex; width: 100%; justify-content: flex-start; height: 36px; padding: 0 10px 0 28px; position: relative; white-space: nowrap; }
.menu [aria-checked="true"]::before { content: "✓"; position: absolute; left: 9px; }
.menu .head { padding: 4px 10px; color: #c8ccd4; font-size: 12px; }
.sync { position: absolute; left: 10px; top: 10px; display: flex; align-items: center; gap: 6px; background: rgba(0, 0, 0, .78); padding: 3px 9px; border-radius: 12px; font-size: 12px; transition: opacity .2s; pointer-events: none; }
.sync::before { content: ""; width: 8px; height: 8px; border-radius: 50%; background: #9aa0a6; }
.sync.ok::before { background: #5fd38d; } .sync.warn::before { background: #f0b35b; } .sync.bad::before { background: #f07178; }
.nerds { position: absolute; right: 10px; top: 10px; max-width: calc(100% - 20px); background: rgba(0, 0, 0, .82); padding: 8px 10px; border-radius: 6px; font: 12px/1.5 ui-monospace, Menlo, monospace; white-space: pre-wrap; z-index: 2; }
.toast { position: absolute; left: 50%; top: 40%; transform: translate(-50%, -50%); background: rgba(0, 0, 0, .85); padding: 8px 14px; border-radius: 8px; max-width: 80%; text-align: center; pointer-events: none; }
.unmute { position: absolute; left: 50%; top: 12px; transform: translateX(-50%); background: #fff; color: #111; font-weight: 600; border-radius: 20px; padding: 0 16px; z-index: 2; }
.unmute:hover { background: #e6e6e6; }
.reaction { position: absolute; bottom: 70px; font-size: 34px; pointer-events: none; animation: rise 2.4s ease-out forwards; text-align: center; }
.reaction small { display: block; font-size: 11px; background: rgba(0, 0, 0, .78); border-radius: 4px; padding: 0 4px; }
@keyframes rise { from { transform: translateY(0); opacity: 1; } to { transform: translateY(-180px); opacity: 0; } }
@media (prefers-reduced-motion: reduce) { .reaction { animation: none; opacity: .9; } }
.ripple { position: absolute; top: 0; bottom: 64px; width: 33%; display: flex; align-items: center; justify-content: center; font-size: 18px; font-weight: 600; background: rgba(255, 255, 255, .12); pointer-events: none; }
.ripple.left { left: 0; border-radius: 0 50% 50% 0; } .ripple.right { right: 0; border-radius: 50% 0 0 50%; }
:host(.narrow) .volume input, :host(.narrow) .hide-narrow { display: none; }
:host(.narrow) button { min-width: 34px; padding: 0 3px; }
:host(.narrow) .time { padding: 0 4px; font-size: 12px; }
:host(:fullscreen) ::slotted(video) { aspect-ratio: auto; height: 100vh; }
`;

const fmt = (t) => {
  if (!Number.isFinite(t) || t < 0) t = 0;
  const s = Math.floor(t);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
};
const spoken = (t) => {
  const s = Math.max(0, Math.floor(t || 0));
  const parts = [];
  if (s >= 3600) parts.push(`${Math.floor(s / 3600)} hours`);
  if (s >= 60) parts.push(`${Math.floor((s % 3600) / 60)} minutes`);
  parts.push(`${s % 60} seconds`);
  return parts.join(" ");
};
const rateLabel = (r) => (r === 1 ? "Normal" : `${r}×`);
const editable = (el) => el && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName));

function readVolume() {
  try {
    const v = JSON.parse(localStorage.getItem(STORE_VOLUME) ?? "null");
    if (v && Number.isFinite(v.volume)) return { volume: Math.min(1, Math.max(0, v.volume)), muted: v.muted === true };
  } catch {
    // (Nothing stored, or storage refused: the defaults.)
  }
  return null;
}

/** Listeners and timers that all go when the player is disconnected. */
class Guards {
  #off = [];
  on(target, type, fn, options) {
    target.addEventListener(type, fn, options);
    this.#off.push(() => target.removeEventListener(type, fn, options));
  }
  every(ms, fn) {
    const id = setInterval(fn, ms);
    this.#off.push(() => clearInterval(id));
  }
  clear() {
    for (const off of this.#off.splice(0)) off();
  }
}

export class PlayerUI extends HTMLElement {
  /** "document" or "self": where shortcuts are heard. */
  keys = "self";
  /** The element made fullscreen (default: this player). */
  fullscreen = null;
  /** True: a Chat button shows and hides the panel while fullscreen. */
  panel = false;

  #session = null;
  #sessionGuards = new Guards();
  #guards = new Guards();
  #els = {};
  #canControl = false;
  #rate = 1;
  /** The WebAudio status, as the last `audio` event gave it. */
  #audio = null;
  /** The room's last word: playing, or waiting for a member to buffer, or not (null: not heard yet). */
  #roomPlaying = null;
  /** The room waits for a member who buffers, and means to play on (see the `state` handler). */
  #waiting = false;
  #lastState = null;
  #quality = "auto";
  #drift = null;
  #stats = null;
  #buffering = false;
  #waitingFor = [];
  #lastTrack = null;
  #idleTimer = 0;
  #toastTimer = 0;
  #tapTimer = 0;
  #lastTap = 0;
  #dragging = false;
  #pendingSeek = null;
  #seekTimer = 0;
  #kind = "media";

  constructor() {
    super();
    const root = this.attachShadow({ mode: "open" });
    root.innerHTML = `<style>${STYLE}</style>
      <div class="media" part="media"><slot></slot><div class="surface" part="surface"></div></div>
      <div class="sync" part="sync" role="status">Connecting…</div>
      <section class="nerds" part="stats" hidden aria-label="Stats for nerds"></section>
      <button type="button" class="unmute" hidden>Tap to unmute</button>
      <div class="toast" role="status" hidden></div>
      <div class="chrome" part="controls">
        <div class="seek" role="slider" tabindex="0" aria-label="Seek" aria-valuemin="0" aria-valuemax="0" aria-valuenow="0" aria-valuetext="0 seconds">
          <div class="track"><div class="played"></div></div><div class="thumb"></div><div class="tip" hidden></div>
        </div>
        <div class="row">
          <button type="button" id="play" aria-label="Play" title="Play (k)">${svg(ICON.play)}</button>
          <span class="volume">
            <button type="button" id="mute" aria-label="Mute" title="Mute (m)">${svg(ICON.volume)}</button>
            <input id="volume" type="range" min="0" max="1" step="0.05" value="1" aria-label="Volume">
          </span>
          <span class="time" aria-live="off"><span class="live" hidden>LIVE</span><span class="clock">0:00 / 0:00</span></span>
          <span class="grow"></span>
          <button type="button" id="captions" aria-label="Captions" aria-haspopup="menu" aria-expanded="false" title="Captions (c)">${svg(ICON.captions)}</button>
          <button type="button" id="speed" aria-label="Speed" aria-haspopup="menu" aria-expanded="false" title="Speed (&lt; &gt;)">${svg(ICON.speed)}<span class="label hide-narrow">1×</span></button>
          <button type="button" id="quality" aria-label="Quality" aria-haspopup="menu" aria-expanded="false" title="Quality">${svg(ICON.quality)}<span class="label hide-narrow">Auto</span></button>
          <button type="button" id="stats" aria-label="Stats for nerds" aria-pressed="false" title="Stats for nerds">${svg(ICON.stats)}</button>
          <button type="button" id="pip" class="hide-narrow" aria-label="Picture in picture" title="Picture in picture" hidden>${svg(ICON.pip)}</button>
          <button type="button" id="chat" aria-label="Show chat" aria-pressed="true" title="Chat and people" hidden>${svg(ICON.chat)}</button>
          <button type="button" id="fullscreen" aria-label="Fullscreen" title="Fullscreen (f)">${svg(ICON.fullscreen)}</button>
        </div>
      </div>
      <div class="menu" id="captions-menu" role="menu" aria-label="Captions" hidden></div>
      <div class="menu" id="speed-menu" role="menu" aria-label="Speed" hidden></div>
      <div class="menu" id="quality-menu" role="menu" aria-label="Quality" hidden></div>`;
    const q = (s) => root.querySelector(s);
    this.#els = {
      surface: q(".surface"), sync: q(".sync"), nerds: q(".nerds"), unmute: q(".unmute"), toast: q(".toast"), chrome: q(".chrome"),
      seek: q(".seek"), played: q(".played"), track: q(".track"), thumb: q(".thumb"), tip: q(".tip"),
      play: q("#play"), mute: q("#mute"), volume: q("#volume"), live: q(".live"), clock: q(".clock"),
      captions: q("#captions"), speed: q("#speed"), quality: q("#quality"), stats: q("#stats"), pip: q("#pip"), chat: q("#chat"), fullscreen: q("#fullscreen"),
      menus: { captions: q("#captions-menu"), speed: q("#speed-menu"), quality: q("#quality-menu") },
    };
  }

  /** The <video> this player shows (its light-DOM child). */
  get video() {
    return this.querySelector("video");
  }

  /** Whether the viewer may play, pause, seek and set the speed (from the session). */
  get canControl() {
    return this.#canControl;
  }

  connectedCallback() {
    this.keys = this.getAttribute("keys") === "document" ? "document" : "self";
    const target = this.getAttribute("fullscreen");
    this.fullscreen = (target && this.getRootNode().getElementById?.(target)) || null;
    this.panel = this.hasAttribute("panel");
    const e = this.#els;
    const g = this.#guards;
    const video = this.video;
    this.#restoreVolume();
    g.on(e.play, "click", () => this.togglePlay());
    // (The press itself is the gesture that lets the session unmute an
    // autoplay-muted video: the click acts on what the viewer saw.)
    g.on(e.mute, "pointerdown", () => {
      this.#mutedAtDown = this.video?.muted ?? null;
    });
    g.on(e.mute, "click", () => {
      const was = this.#mutedAtDown;
      this.#mutedAtDown = null;
      if (was === true && this.video && !this.video.muted) this.#saveVolume();
      else this.toggleMute();
    });
    g.on(e.volume, "input", () => this.setVolume(Number(e.volume.value)));
    g.on(e.unmute, "click", () => this.#unmute());
    g.on(e.fullscreen, "click", () => this.toggleFullscreen());
    g.on(e.pip, "click", () => this.#togglePip());
    g.on(e.stats, "click", () => this.toggleStats());
    g.on(e.chat, "click", () => this.#togglePanel());
    for (const kind of ["captions", "speed", "quality"]) {
      g.on(e[kind], "click", () => {
        if (kind !== "speed" || this.#allowed()) this.#openMenu(kind);
      });
      g.on(e.menus[kind], "keydown", (ev) => this.#menuKey(kind, ev));
    }
    this.#wireSeek();
    this.#wireSurface();
    // Shortcuts: anywhere but a text field (room page), or only inside the player (embeds).
    g.on(this.keys === "document" ? document : this, "keydown", (ev) => this.#shortcut(ev));
    // Controls hide while playing and come back on any pointer move, touch or key.
    for (const type of ["pointermove", "pointerdown", "keydown", "focusin"]) g.on(this, type, () => this.#wake());
    // A click anywhere but in an open menu or on its button closes it.
    g.on(document, "click", (ev) => {
      const path = ev.composedPath();
      for (const [kind, menu] of Object.entries(e.menus)) {
        if (!menu.hidden && !path.includes(menu) && !path.includes(e[kind])) this.#closeMenus();
      }
    });
    g.on(document, "visibilitychange", () => this.#render());
    g.on(document, "fullscreenchange", () => this.#showFullscreen());
    g.on(document, "webkitfullscreenchange", () => this.#showFullscreen());
    if (video) {
      for (const type of ["play", "pause", "timeupdate", "progress", "durationchange", "volumechange", "ratechange", "loadedmetadata", "emptied"]) g.on(video, type, () => this.#render());
      g.on(video, "volumechange", () => this.#showVolume());
      g.on(video, "enterpictureinpicture", () => e.pip.setAttribute("aria-label", "Leave picture in picture"));
      g.on(video, "leavepictureinpicture", () => e.pip.setAttribute("aria-label", "Picture in picture"));
      e.pip.hidden = !(document.pictureInPictureEnabled && typeof video.requestPictureInPicture === "function");
    }
    // What an embedded player (YouTube, Vimeo) plays has no element events: read four times a second.
    g.every(250, () => this.#render());
    const narrow = () => this.classList.toggle("narrow", this.clientWidth < 520);
    if (typeof ResizeObserver === "function") {
      const ro = new ResizeObserver(narrow);
      ro.observe(this);
      g.on(this, "wt-disconnect", () => ro.disconnect(), { once: true });
    }
    narrow();
    this.#showFullscreen();
    // (Moved in the page: listen to the session again.)
    if (this.#session) this.attach(this.#session);
    this.#showVolume();
    this.#showPermissions();
    this.#showSync();
    this.#render();
  }

  disconnectedCallback() {
    this.dispatchEvent(new Event("wt-disconnect"));
    this.#guards.clear();
    this.#sessionGuards.clear();
    for (const t of [this.#idleTimer, this.#toastTimer, this.#tapTimer, this.#seekTimer, this.#clickTimer]) clearTimeout(t);
    this.#idleTimer = 0;
    this.#pendingSeek = null;
  }

  /** Drive the controls from `session` (watch-together.js), or from nothing (null). */
  attach(session) {
    this.#sessionGuards.clear();
    this.#session = session;
    this.#roomPlaying = null;
    this.#waiting = false;
    this.#lastState = null;
    this.#audio = null;
    this.#buffering = false;
    this.#waitingFor = [];
    this.#kind = "media";
    this.#lastQuality = null;
    this.#quality = "auto";
    this.#rate = 1;
    this.#pendingSeek = null;
    clearTimeout(this.#seekTimer);
    this.#stats = null;
    this.#drift = null;
    if (session) {
      const on = (type, fn) => this.#sessionGuards.on(session, type, (ev) => fn(ev.detail));
      for (const type of ["joined", "settings", "members"]) on(type, () => this.#showPermissions());
      on("members", (members) => {
        this.#waitingFor = members.filter((m) => m.status === "buffering" && m.id !== session.me).map((m) => m.name);
        this.#showSync();
      });
      on("state", (s) => {
        this.#rate = s.rate;
        // The group waiting for a member who buffers still means to play:
        // the button says Pause, and a press pauses the room for good (a
        // pause ends the wait; the room would otherwise play on when it
        // ends). A seek or a speed change meanwhile keeps the wait (the
        // room plays on after it); a pause leaves position and rate as
        // they were. (A page that joins during a wait hears it in its first
        // state: the room's snapshot says it waits.)
        const prev = this.#lastState;
        this.#lastState = s;
        if (s.reason === "buffering") this.#waiting = true;
        else if (s.playing || s.reason) this.#waiting = false;
        else if (this.#waiting && prev && s.position === prev.position && s.rate === prev.rate) this.#waiting = false;
        this.#roomPlaying = s.playing || this.#waiting;
        this.#showMenus();
        this.#render();
      });
      on("stats", (s) => {
        this.#stats = s;
        this.#drift = s.driftMs;
        this.#showSync();
        this.#showNerds();
      });
      on("buffering", (b) => {
        this.#buffering = b;
        this.#showSync();
      });
      on("connection", () => this.#showSync());
      on("source", (s) => {
        this.#kind = s?.kind ?? "media";
        this.#quality = "auto";
        this.#showVolume();
        this.#showMenus();
      });
      on("quality", (q) => {
        this.#lastQuality = q;
        this.#els.quality.dataset.playing = q.id;
        this.#showMenus();
      });
      for (const type of ["qualities", "texttracks", "texttrack"]) on(type, () => this.#showMenus());
      on("audio", (a) => {
        this.#audio = a;
        this.#showNerds();
      });
      on("needs-gesture", () => {
        this.#els.unmute.hidden = false;
      });
      on("unmuted", () => {
        this.#els.unmute.hidden = true;
      });
    }
    this.#showPermissions();
    this.#showMenus();
    this.#showSync();
    this.#render();
  }

  // ---- actions (also the shortcuts') ----

  togglePlay() {
    if (!this.#allowed()) return;
    if (this.#paused()) this.#session.play();
    else this.#session.pause();
  }

  /** Seek to `t` seconds (the room seeks everyone). */
  seekTo(t) {
    if (!this.#allowed()) return;
    const { duration } = this.#playhead();
    const max = Number.isFinite(duration) ? duration : Infinity;
    this.#session.seek(Math.max(0, Math.min(max, t)));
  }

  /** Seek by `dt` seconds; keys held down become one seek (the room hears the last). */
  seekBy(dt) {
    if (!this.#allowed()) return;
    const base = this.#pendingSeek ?? this.#playhead().position;
    const { duration } = this.#playhead();
    this.#pendingSeek = Math.max(0, Math.min(Number.isFinite(duration) ? duration : Infinity, base + dt));
    this.#render();
    clearTimeout(this.#seekTimer);
    this.#seekTimer = setTimeout(() => {
      const t = this.#pendingSeek;
      this.#pendingSeek = null;
      if (t != null) this.seekTo(t);
    }, 250);
  }

  setVolume(v) {
    const video = this.video;
    if (!video) return;
    video.volume = Math.min(1, Math.max(0, v));
    if (video.volume > 0 && video.muted) this.#unmute();
    this.#saveVolume();
    // The slider shows it now, not when the element's volumechange task runs.
    this.#showVolume();
  }

  toggleMute() {
    const video = this.video;
    if (!video) return;
    if (video.muted) this.#unmute();
    else video.muted = true;
    this.#saveVolume();
  }

  setRate(rate) {
    if (!this.#allowed()) return;
    this.#session.setRate(rate);
  }

  stepRate(dir) {
    const i = RATES.findIndex((r) => r >= this.#rate - 1e-9);
    const next = RATES[Math.min(RATES.length - 1, Math.max(0, (i < 0 ? RATES.length - 1 : i) + dir))];
    if (next !== this.#rate) this.setRate(next);
  }

  /** Captions on (the last track shown, else the first) or off. */
  toggleCaptions() {
    const tracks = this.#session?.textTracks ?? [];
    const on = tracks.find((t) => t.selected);
    if (on) this.#pickTrack(null);
    else {
      const pick = tracks.find((t) => t.id === this.#lastTrack) ?? tracks[0];
      if (pick) this.#pickTrack(pick.id);
      else this.#toast("No captions for this video");
    }
  }

  toggleStats() {
    const n = this.#els.nerds;
    n.hidden = !n.hidden;
    this.#els.stats.setAttribute("aria-pressed", String(!n.hidden));
    this.#showNerds();
  }

  async toggleFullscreen() {
    const target = this.fullscreen ?? this;
    const d = document;
    try {
      if (this.#isFullscreen()) {
        await (d.exitFullscreen ?? d.webkitExitFullscreen).call(d);
      } else if (target.requestFullscreen) {
        await target.requestFullscreen({ navigationUI: "hide" });
      } else if (target.webkitRequestFullscreen) {
        target.webkitRequestFullscreen();
      } else if (this.video?.webkitEnterFullscreen) {
        // iOS: only the element itself can go fullscreen (its own controls, no chat).
        this.video.webkitEnterFullscreen();
      } else {
        this.#toast("Fullscreen is not available here");
      }
    } catch (err) {
      this.#toast(`Fullscreen refused: ${err.message ?? err}`);
    }
  }

  /** A reaction (an emoji someone sent) floats up over the picture for a moment. */
  react(emoji, who) {
    if (this.shadowRoot.querySelectorAll(".reaction").length >= 8) return;
    const div = Object.assign(document.createElement("div"), { className: "reaction", textContent: emoji });
    div.setAttribute("aria-hidden", "true");
    if (who) div.append(Object.assign(document.createElement("small"), { textContent: who }));
    div.style.left = `${10 + Math.random() * 75}%`;
    this.shadowRoot.append(div);
    setTimeout(() => div.remove(), 2500);
  }

  // ---- state ----

  #playhead() {
    const s = this.#session;
    if (s) {
      try {
        const p = s.playhead;
        if (p) return p;
      } catch {
        // (Session gone: the element's own figures.)
      }
    }
    const v = this.video;
    return { position: v?.currentTime ?? 0, duration: v && Number.isFinite(v.duration) ? v.duration : null, paused: v?.paused ?? true };
  }

  /** In a room, what the room does (the element pauses for a moment in a seek); else the element. */
  #paused() {
    return this.#roomPlaying === null ? this.#playhead().paused : !this.#roomPlaying;
  }

  #allowed() {
    if (!this.#session) {
      this.#toast("Not in a room yet");
      return false;
    }
    if (!this.#canControl) {
      this.#toast(NO_CONTROL);
      return false;
    }
    return true;
  }

  #isFullscreen() {
    const target = this.fullscreen ?? this;
    // (By element, not `:fullscreen`, which Safari before 16.4 does not parse;
    // from inside a shadow root the document names its host.)
    let el = document.fullscreenElement ?? document.webkitFullscreenElement ?? null;
    while (el && el !== target && el.shadowRoot?.fullscreenElement) el = el.shadowRoot.fullscreenElement;
    return el === target;
  }

  // ---- drawing ----

  #render() {
    // A hidden page draws nothing (its timers are the sync loop's); it draws
    // again when shown.
    if (document.hidden) return;
    const e = this.#els;
    const { position, duration } = this.#playhead();
    const playing = !this.#paused();
    const label = playing ? "Pause" : "Play";
    if (e.play.getAttribute("aria-label") !== label) {
      e.play.innerHTML = svg(playing ? ICON.pause : ICON.play);
      e.play.setAttribute("aria-label", label);
    }
    e.play.title = `${label} (k)${this.#canControl ? "" : ` — ${NO_CONTROL}`}`;
    // A live stream: the seekable window, "LIVE" and how far behind its edge.
    const video = this.video;
    let start = 0;
    let end = Number.isFinite(duration) ? duration : 0;
    const live = this.#kind === "media" && video && !Number.isFinite(video.duration) && video.seekable?.length > 0;
    if (live) {
      start = video.seekable.start(0);
      end = video.seekable.end(video.seekable.length - 1);
    }
    const shown = this.#dragging ? this.#dragging : (this.#pendingSeek ?? position);
    if (live) {
      const behind = Math.max(0, end - shown);
      e.live.hidden = false;
      e.live.classList.toggle("behind", behind > 10);
      e.clock.textContent = behind > 10 ? `−${fmt(behind)}` : "";
    } else {
      e.live.hidden = true;
      e.clock.textContent = `${fmt(shown)} / ${fmt(Math.round(end))}`;
    }
    const span = end - start;
    const frac = span > 0 ? Math.min(1, Math.max(0, (shown - start) / span)) : 0;
    e.played.style.width = `${frac * 100}%`;
    e.thumb.style.left = `${frac * 100}%`;
    e.seek.setAttribute("aria-valuemin", String(Math.floor(start)));
    e.seek.setAttribute("aria-valuemax", String(Math.round(end)));
    e.seek.setAttribute("aria-valuenow", String(Math.floor(shown)));
    e.seek.setAttribute("aria-valuetext", live ? `live, ${spoken(end - shown)} behind` : `${spoken(shown)} of ${spoken(Math.round(end))}`);
    // Buffered ranges (what the element holds; embeds keep theirs to themselves).
    const ranges = [];
    if (video && this.#kind !== "youtube" && this.#kind !== "vimeo" && span > 0) {
      for (let i = 0; i < video.buffered.length; i++) {
        const a = (video.buffered.start(i) - start) / span;
        const b = (video.buffered.end(i) - start) / span;
        if (b > 0 && a < 1) ranges.push([Math.max(0, a), Math.min(1, b)]);
      }
    }
    const have = e.track.querySelectorAll(".buffered");
    if (have.length !== ranges.length) {
      for (const old of have) old.remove();
      for (let i = 0; i < ranges.length; i++) e.track.prepend(Object.assign(document.createElement("div"), { className: "buffered" }));
    }
    e.track.querySelectorAll(".buffered").forEach((div, i) => {
      div.style.left = `${ranges[i][0] * 100}%`;
      div.style.width = `${(ranges[i][1] - ranges[i][0]) * 100}%`;
    });
    if (playing) this.#armIdle();
    else this.#wake(false);
  }

  #showVolume() {
    const e = this.#els;
    const video = this.video;
    const embedded = this.#kind === "youtube" || this.#kind === "vimeo";
    e.mute.parentElement.hidden = embedded;
    if (!video) return;
    const muted = video.muted || video.volume === 0;
    e.mute.innerHTML = svg(muted ? ICON.muted : ICON.volume);
    e.mute.setAttribute("aria-label", muted ? "Unmute" : "Mute");
    e.mute.title = `${muted ? "Unmute" : "Mute"} (m)`;
    e.volume.value = String(video.muted ? 0 : video.volume);
    e.volume.setAttribute("aria-valuetext", `${Math.round((video.muted ? 0 : video.volume) * 100)}%`);
  }

  #showPermissions() {
    const s = this.#session;
    let can = false;
    try {
      can = !!s?.canControl;
    } catch {
      can = false;
    }
    this.#canControl = can;
    const e = this.#els;
    const reason = s ? NO_CONTROL : "Not in a room yet";
    for (const el of [e.play, e.seek, e.speed]) {
      if (can) {
        el.removeAttribute("aria-disabled");
        el.removeAttribute("aria-description");
      } else {
        el.setAttribute("aria-disabled", "true");
        el.setAttribute("aria-description", reason);
      }
    }
    e.speed.title = can ? "Speed (< >)" : `Speed — ${reason}`;
    e.seek.title = can ? "" : reason;
    this.#render();
  }

  #showMenus() {
    const e = this.#els;
    const s = this.#session;
    // Speed: the room's rate.
    e.speed.querySelector(".label").textContent = `${this.#rate}×`;
    this.#fillMenu("speed", [{ head: this.#canControl ? "Speed (everyone)" : "Speed — set by the host" }, ...RATES.map((r) => ({ label: rateLabel(r), value: r, checked: Math.abs(r - this.#rate) < 1e-6, disabled: !this.#canControl }))]);
    // Quality: Auto (and what it picked) and the ladder, for this viewer.
    let qualities = [];
    try {
      qualities = s?.qualities ?? [];
    } catch {
      qualities = [];
    }
    const playing = this.#playingQuality();
    const name = (q) => (q.height ? `${q.height}p` : `${Math.round(q.bandwidth / 1000)} kbit/s`);
    e.quality.hidden = qualities.length === 0;
    e.quality.querySelector(".label").textContent = this.#quality === "auto" ? (playing ? `Auto · ${name(playing)}` : "Auto") : name(qualities[this.#quality] ?? {});
    this.#fillMenu("quality", [{ head: "Quality (for you)" }, { label: playing ? `Auto (${name(playing)})` : "Auto", value: "auto", checked: this.#quality === "auto" }, ...qualities.map((q, i) => ({ label: name(q), value: i, checked: this.#quality === i }))]);
    // Captions: Off and every track (the stream's, the room's, yours).
    let tracks = [];
    try {
      tracks = s?.textTracks ?? [];
    } catch {
      tracks = [];
    }
    const on = tracks.find((t) => t.selected);
    if (on) this.#lastTrack = on.id;
    e.captions.setAttribute("aria-pressed", String(!!on));
    e.captions.classList.toggle("on", !!on);
    const label = (t) => (t.language && t.label !== t.language ? `${t.label} (${t.language})` : t.label) + (t.origin === "file" ? " · your file" : t.origin === "room" ? " · room" : "");
    this.#fillMenu("captions", [{ head: "Captions (for you)" }, { label: "Off", value: null, checked: !on }, ...tracks.map((t) => ({ label: label(t), value: t.id, checked: t.id === on?.id }))]);
  }

  /** What Auto plays now (the session's last `quality` event). */
  #playingQuality() {
    return this.#session ? this.#lastQuality : null;
  }
  #lastQuality = null;

  #fillMenu(kind, items) {
    const menu = this.#els.menus[kind];
    const focused = menu.contains(this.shadowRoot.activeElement) ? [...menu.querySelectorAll("[role=menuitemradio]")].indexOf(this.shadowRoot.activeElement) : -1;
    menu.replaceChildren(...items.map((it) => {
      if (it.head) return Object.assign(document.createElement("div"), { className: "head", textContent: it.head, role: "presentation" });
      const b = Object.assign(document.createElement("button"), { type: "button", textContent: it.label, tabIndex: -1 });
      b.setAttribute("role", "menuitemradio");
      b.setAttribute("aria-checked", String(it.checked));
      if (it.disabled) b.setAttribute("aria-disabled", "true");
      b.addEventListener("click", (ev) => {
        ev.stopPropagation();
        this.#choose(kind, it.value);
      });
      return b;
    }));
    if (focused >= 0) menu.querySelectorAll("[role=menuitemradio]")[focused]?.focus();
  }

  #choose(kind, value) {
    if (kind === "speed") this.setRate(value);
    if (kind === "quality") {
      this.#quality = value;
      this.#session?.setQuality(value);
    }
    if (kind === "captions") this.#pickTrack(value);
    this.#closeMenus(true);
    this.#showMenus();
  }

  #pickTrack(id) {
    this.#session?.setTextTrack(id);
    this.dispatchEvent(new CustomEvent("wt-pick", { detail: { kind: "captions", id }, bubbles: true, composed: true }));
    this.#showMenus();
  }

  #openMenu(kind) {
    const menu = this.#els.menus[kind];
    const open = menu.hidden;
    this.#closeMenus();
    if (!open) return;
    this.#showMenus();
    menu.hidden = false;
    this.#els[kind].setAttribute("aria-expanded", "true");
    const items = [...menu.querySelectorAll("[role=menuitemradio]")];
    (items.find((b) => b.getAttribute("aria-checked") === "true") ?? items[0])?.focus();
  }

  #closeMenus(refocus = false) {
    for (const [kind, menu] of Object.entries(this.#els.menus)) {
      if (menu.hidden) continue;
      menu.hidden = true;
      this.#els[kind].setAttribute("aria-expanded", "false");
      if (refocus) this.#els[kind].focus();
    }
  }

  #menuKey(kind, ev) {
    const items = [...this.#els.menus[kind].querySelectorAll("[role=menuitemradio]")];
    const i = items.indexOf(this.shadowRoot.activeElement);
    const move = { ArrowDown: 1, ArrowUp: -1 }[ev.key];
    if (move) items[(i + move + items.length) % items.length]?.focus();
    else if (ev.key === "Home") items[0]?.focus();
    else if (ev.key === "End") items.at(-1)?.focus();
    else if (ev.key === "Escape" || ev.key === "Tab") {
      this.#closeMenus(ev.key === "Escape");
      if (ev.key === "Tab") return;
    } else return;
    ev.preventDefault();
    ev.stopPropagation();
  }

  #showSync() {
    const el = this.#els.sync;
    const s = this.#session;
    let text = "Not in a room";
    let cls = "";
    const conn = s?.connection;
    if (s && conn !== "open") {
      text = conn === "closed" ? "Offline — reconnecting…" : conn === "kicked" ? "Removed from the room" : conn === "refused" ? "Refused by the room" : "Connecting…";
      cls = conn === "connecting" ? "warn" : "bad";
    } else if (s) {
      const drift = this.#drift;
      const behind = drift != null && drift < 0 ? -drift / 1000 : 0;
      if (this.#buffering) {
        text = behind >= 0.5 ? `Behind by ${behind.toFixed(1)} s — buffering` : "Buffering…";
        cls = "warn";
      } else if (this.#waitingFor.length) {
        text = `Waiting for ${this.#waitingFor.slice(0, 2).join(", ")}${this.#waitingFor.length > 2 ? "…" : ""}`;
        cls = "warn";
      } else if (drift == null) {
        text = "Syncing…";
        cls = "warn";
      } else if (Math.abs(drift) <= 150) {
        text = "In sync";
        cls = "ok";
      } else if (Math.abs(drift) < 1500 || this.#stats?.correcting) {
        text = "Catching up";
        cls = "warn";
      } else {
        text = `${drift < 0 ? "Behind" : "Ahead"} by ${(Math.abs(drift) / 1000).toFixed(1)} s`;
        cls = "bad";
      }
    }
    // Screen readers hear a change of state, not every figure.
    el.setAttribute("aria-live", el.dataset.state === cls ? "off" : "polite");
    if (el.textContent !== text) el.textContent = text;
    el.className = `sync ${cls}`;
    el.dataset.state = cls;
  }

  #showNerds() {
    const n = this.#els.nerds;
    if (n.hidden) return;
    const s = this.#stats;
    const v = this.video;
    const ms = (x, unit = " ms") => (x == null ? "–" : `${Math.round(x)}${unit}`);
    const lines = [];
    if (s) {
      lines.push(`drift ${ms(s.driftMs)} · rtt ${ms(s.rttMs)} · clock ±${ms(s.offsetErrorMs)} · rate ${s.rate.toFixed(3)} · fixes ${s.rateCorrections}r/${s.seekCorrections}s`);
      lines.push(`clock offset ${ms(s.offsetMs)} · skew ${s.skewPpm.toFixed(0)} ppm · nudge cost ${ms(s.nudgeCostMs)} · rate nudges ${s.rateApplies ? "on" : "off"}`);
      if (s.edgeClock && s.edgeClock !== "off") lines.push(`edge clock ${s.edgeClock} · rtt ${ms(s.edgeRttMs)} · edge − room ${ms(s.edgeMinusRoomMs)} ±${ms(s.edgeMinusRoomErrorMs)}`);
      if (s.readStepMs != null) lines.push(`position read in ${ms(s.readStepMs)} steps${s.readsPicture ? " · from the picture" : ""}`);
      if (s.readLeadMs != null) lines.push(`currentTime ${ms(Math.abs(s.readLeadMs))} ${s.readLeadMs > 0 ? "ahead of" : "behind"} the picture${s.readsPicture ? " · position read from the picture" : ""}`);
      if (s.speedTrim) lines.push(`plays ${(Math.abs(s.speedTrim) * 100).toFixed(1)} % ${s.speedTrim > 0 ? "slow" : "fast"}: trimmed`);
    } else lines.push("sync: waiting for the room…");
    if (v && this.#kind !== "youtube" && this.#kind !== "vimeo") {
      let ahead = 0;
      for (let i = 0; i < v.buffered.length; i++) if (v.buffered.start(i) <= v.currentTime + 0.1 && v.buffered.end(i) > v.currentTime) ahead = v.buffered.end(i) - v.currentTime;
      const q = v.getVideoPlaybackQuality?.();
      lines.push(`video ${v.videoWidth}×${v.videoHeight} · buffer ${ahead.toFixed(1)} s${q ? ` · dropped ${q.droppedVideoFrames}/${q.totalVideoFrames}` : ""}`);
    }
    {
      const a = this.#audio;
      if (a) lines.push(`audio ${a.state}${a.normalize ? ` · loudness ${a.makeupGain >= 0 ? "+" : ""}${(20 * Math.log10(a.makeupGain || 1)).toFixed(1)} dB` : ""}`);
    }
    n.textContent = lines.join("\n");
  }

  #toast(text) {
    const t = this.#els.toast;
    t.textContent = text;
    t.hidden = false;
    clearTimeout(this.#toastTimer);
    this.#toastTimer = setTimeout(() => {
      t.hidden = true;
    }, 2500);
  }

  #showFullscreen() {
    const on = this.#isFullscreen();
    const e = this.#els;
    e.fullscreen.innerHTML = svg(on ? ICON.exitFullscreen : ICON.fullscreen);
    e.fullscreen.setAttribute("aria-label", on ? "Exit fullscreen" : "Fullscreen");
    e.fullscreen.title = `${on ? "Exit fullscreen" : "Fullscreen"} (f)`;
    this.classList.toggle("fullscreen", on);
    e.chat.hidden = !this.panel || !on;
  }

  #togglePanel() {
    const target = this.fullscreen ?? this;
    const hidden = target.classList.toggle("panel-hidden");
    this.#els.chat.setAttribute("aria-pressed", String(!hidden));
    this.#els.chat.setAttribute("aria-label", hidden ? "Show chat" : "Hide chat");
  }

  async #togglePip() {
    try {
      if (document.pictureInPictureElement) await document.exitPictureInPicture();
      else await this.video?.requestPictureInPicture();
    } catch (err) {
      this.#toast(`Picture in picture refused: ${err.message ?? err}`);
    }
  }

  #unmute() {
    const video = this.video;
    if (video) {
      video.muted = false;
      if (video.volume === 0) video.volume = 0.5;
    }
    this.#els.unmute.hidden = true;
  }

  #restoreVolume() {
    const v = readVolume();
    const video = this.video;
    if (!v || !video) return;
    video.volume = v.volume;
    // Remembered mute is kept; an unmute is never forced (autoplay rules decide).
    if (v.muted) video.muted = true;
  }

  #saveVolume() {
    const video = this.video;
    if (!video) return;
    try {
      localStorage.setItem(STORE_VOLUME, JSON.stringify({ volume: video.volume, muted: video.muted }));
    } catch {
      // (Storage refused: the volume holds for this page only.)
    }
  }

  // ---- auto-hide ----

  #wake(arm = true) {
    this.classList.remove("idle");
    clearTimeout(this.#idleTimer);
    this.#idleTimer = 0;
    if (arm) this.#armIdle();
  }

  #armIdle() {
    if (this.#idleTimer || this.classList.contains("idle")) return;
    this.#idleTimer = setTimeout(() => {
      this.#idleTimer = 0;
      const menuOpen = Object.values(this.#els.menus).some((m) => !m.hidden);
      // (A keyboard user's focus ring stays in sight; a clicked button's focus does not hold them.)
      const focused = this.shadowRoot.activeElement;
      const overBar = this.#els.chrome.matches(":hover") || (this.#els.chrome.contains(focused) && focused.matches(":focus-visible"));
      if (!this.#paused() && !menuOpen && !overBar && !this.#dragging) this.classList.add("idle");
    }, IDLE_MS);
  }

  // ---- pointer, touch and keys ----

  #wireSeek() {
    const { seek, tip } = this.#els;
    const g = this.#guards;
    const at = (ev) => {
      const r = seek.getBoundingClientRect();
      const frac = Math.min(1, Math.max(0, (ev.clientX - r.left) / (r.width || 1)));
      const [start, end] = this.#window();
      return { t: start + frac * (end - start), frac };
    };
    g.on(seek, "pointermove", (ev) => {
      const { t, frac } = at(ev);
      tip.hidden = false;
      tip.style.left = `${frac * 100}%`;
      tip.textContent = fmt(t);
      if (this.#dragging) {
        this.#dragging = t;
        this.#render();
      }
    });
    g.on(seek, "pointerleave", () => {
      if (!this.#dragging) tip.hidden = true;
    });
    g.on(seek, "pointerdown", (ev) => {
      if (ev.button !== 0) return;
      if (!this.#allowed()) return;
      seek.setPointerCapture?.(ev.pointerId);
      seek.classList.add("dragging");
      this.#dragging = at(ev).t || 1e-6;
      this.#render();
    });
    const release = (ev, commit) => {
      if (!this.#dragging) return;
      const t = commit ? at(ev).t : null;
      this.#dragging = false;
      seek.classList.remove("dragging");
      tip.hidden = true;
      if (t != null) this.seekTo(t);
      this.#render();
    };
    g.on(seek, "pointerup", (ev) => release(ev, true));
    g.on(seek, "pointercancel", (ev) => release(ev, false));
    g.on(seek, "keydown", (ev) => {
      const [start, end] = this.#window();
      const step = { ArrowLeft: -5, ArrowRight: 5, ArrowDown: -5, ArrowUp: 5, PageDown: -10, PageUp: 10 }[ev.key];
      if (step) this.seekBy(step);
      else if (ev.key === "Home") this.seekTo(start);
      else if (ev.key === "End") this.seekTo(end);
      else return;
      ev.preventDefault();
      ev.stopPropagation();
    });
  }

  #window() {
    const video = this.video;
    if (this.#kind === "media" && video && !Number.isFinite(video.duration) && video.seekable?.length > 0) return [video.seekable.start(0), video.seekable.end(video.seekable.length - 1)];
    const { duration } = this.#playhead();
    return [0, Number.isFinite(duration) ? duration : 0];
  }

  #wireSurface() {
    const { surface } = this.#els;
    const g = this.#guards;
    g.on(surface, "click", (ev) => {
      if (ev.pointerType === "touch" || this.#touchClick) return;
      this.#closeMenus();
      // A double click is fullscreen, not two commands to the room.
      clearTimeout(this.#clickTimer);
      if (ev.detail > 1) return;
      this.#clickTimer = setTimeout(() => this.togglePlay(), DOUBLE_TAP_MS);
    });
    g.on(surface, "dblclick", (ev) => {
      if (ev.pointerType === "touch" || this.#touchClick) return;
      clearTimeout(this.#clickTimer);
      this.toggleFullscreen();
    });
    // Touch: a tap shows or hides the controls; a double tap on either side seeks 10 s.
    // (Whether they were hidden is read on the way down, capturing, before this
    // element's own pointerdown shows them.)
    g.on(this, "pointerdown", (ev) => {
      if (ev.pointerType === "touch") this.#idleAtDown = this.classList.contains("idle");
    }, { capture: true });
    g.on(surface, "pointerup", (ev) => {
      if (ev.pointerType !== "touch") return;
      this.#touchClick = true;
      setTimeout(() => {
        this.#touchClick = false;
      }, 500);
      const now = ev.timeStamp;
      const r = surface.getBoundingClientRect();
      const x = (ev.clientX - r.left) / (r.width || 1);
      const side = x < 1 / 3 ? -1 : x > 2 / 3 ? 1 : 0;
      if (now - this.#lastTap < DOUBLE_TAP_MS && side) {
        clearTimeout(this.#tapTimer);
        this.#lastTap = 0;
        this.#ripple(side);
        this.seekBy(10 * side);
        return;
      }
      this.#lastTap = now;
      clearTimeout(this.#tapTimer);
      const wasIdle = this.#idleAtDown;
      this.#tapTimer = setTimeout(() => {
        if (wasIdle) this.#wake();
        else if (!this.#paused()) {
          clearTimeout(this.#idleTimer);
          this.#idleTimer = 0;
          this.classList.add("idle");
        }
      }, DOUBLE_TAP_MS);
    });
  }
  #touchClick = false;
  #mutedAtDown = null;
  #clickTimer = 0;
  #idleAtDown = false;

  #ripple(side) {
    const div = Object.assign(document.createElement("div"), { className: `ripple ${side < 0 ? "left" : "right"}`, textContent: side < 0 ? "« 10 s" : "10 s »" });
    this.shadowRoot.append(div);
    setTimeout(() => div.remove(), 500);
  }

  #shortcut(ev) {
    if (ev.defaultPrevented || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    if (ev.key === "Escape" && Object.values(this.#els.menus).some((m) => !m.hidden)) {
      this.#closeMenus(true);
      ev.preventDefault();
      return;
    }
    const target = ev.composedPath()[0];
    if (editable(target)) return;
    // Held keys repeat only seeks and volume (not a command per repeat to the room).
    if (ev.repeat && !/^(ArrowLeft|ArrowRight|ArrowUp|ArrowDown|j|l)$/.test(ev.key)) return;
    // On the page, a focused element outside the player keeps its own
    // scrolling keys (the chat log scrolls with arrows and Space).
    const outside = this.keys === "document" && target instanceof HTMLElement && target !== document.body && target !== document.documentElement && !ev.composedPath().includes(this);
    if (outside && /^(ArrowUp|ArrowDown|ArrowLeft|ArrowRight| |PageUp|PageDown|Home|End)$/.test(ev.key)) return;
    // A focused button or slider keeps Space and Enter (and a slider its arrows).
    const onButton = target instanceof HTMLElement && (target.tagName === "BUTTON" || target.getAttribute("role") === "menuitemradio");
    if ((ev.key === " " || ev.key === "Enter") && onButton) return;
    const video = this.video;
    const actions = {
      " ": () => this.togglePlay(),
      k: () => this.togglePlay(),
      ArrowLeft: () => this.seekBy(-5),
      ArrowRight: () => this.seekBy(5),
      j: () => this.seekBy(-10),
      l: () => this.seekBy(10),
      ArrowUp: () => video && this.setVolume(video.volume + 0.05),
      ArrowDown: () => video && this.setVolume(video.volume - 0.05),
      f: () => this.toggleFullscreen(),
      m: () => this.toggleMute(),
      c: () => this.toggleCaptions(),
      "<": () => this.stepRate(-1),
      ">": () => this.stepRate(1),
    };
    const fn = actions[ev.key.length === 1 && ev.key !== " " && !ev.shiftKey ? ev.key.toLowerCase() : ev.key];
    if (!fn) return;
    ev.preventDefault();
    this.#wake();
    fn();
  }
}

if (!customElements.get("wt-player")) customElements.define("wt-player", PlayerUI);
