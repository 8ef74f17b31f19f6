// The script-tag embed: one module script and a custom element, on any site.
//
//   <script type="module" src="https://EDGE/embed.js"></script>
//   <watch-together room="ROOM_ID"></watch-together>
//   <watch-together src="https://example.com/film.mpd"></watch-together>
//
// Attributes: `room` (join this room), `src` (no room: create one that
// plays this; in a room: changing it later plays it there, if you may),
// `name`, `password`, `server` (default: where this script came from),
// `youtube-api` and `vimeo-api` (the player API scripts for YouTube and
// Vimeo sources; default: theirs). `src` may be a YouTube or Vimeo link.
// The controls are the room page's own (./player-ui.js: play, seek,
// volume, captions, speed, quality, fullscreen, picture in picture; its
// shortcuts work while focus is inside the element).
// The element re-dispatches the session's events (`state`, `members`,
// `chat`, `stats`, `error`, `needs-gesture`, `quality`, …) and fires `room`
// with `{ room, url }` once it knows its room. Everything lives in a shadow
// root; nothing is added to `window`.
import "./player-ui.js";
import { EVENTS, join } from "./watch-together.js";

const SCRIPT_ORIGIN = new URL(import.meta.url).origin;

const STYLE = `
.wt-embed iframe { width: 100%; height: 100%; border: 0; display: block; }
:host { display: block; position: relative; background: #000; color: #e8eaf0; font: 13px/1.4 system-ui, sans-serif; border-radius: 8px; overflow: hidden; }
:host([hidden]) { display: none; }
wt-player { border-radius: 8px 8px 0 0; }
wt-player video::-webkit-media-text-track-container { transition: transform .2s; }
wt-player:not(.idle) video::-webkit-media-text-track-container { transform: translateY(-64px); }
.bar { display: flex; gap: .75em; align-items: center; padding: .4em .7em; background: #14161c; min-height: 2em; flex-wrap: wrap; }
.dot { width: .6em; height: .6em; border-radius: 50%; background: #8a8f9c; flex: none; }
.dot.open { background: #3fb950; }
.dot.closed, .dot.kicked, .dot.refused { background: #f85149; }
.grow { flex: 1; }
.error { color: #ff9b93; }
button { font: inherit; color: inherit; background: #2b6cff; border: 0; border-radius: 4px; padding: .25em .7em; cursor: pointer; }
button:focus-visible { outline: 2px solid #fff; outline-offset: 2px; }
button[hidden] { display: none; }
`;

class WatchTogetherElement extends HTMLElement {
  static observedAttributes = ["room", "src", "server", "name", "password"];

  #video;
  #dot;
  #status;
  #people;
  #player;
  #session = null;
  #generation = 0;
  #forward = [];
  #reflecting = false;
  #restartQueued = false;
  /** The host token of a room this element created (it hosts it). */
  #hostToken;

  constructor() {
    super();
    const root = this.attachShadow({ mode: "open" });
    root.innerHTML = `<style>${STYLE}</style>
      <wt-player part="player"><video part="video" playsinline></video></wt-player>
      <div class="bar" part="bar" role="status" aria-live="polite">
        <span class="dot"></span><span class="status">Connecting…</span>
        <span class="people"></span><span class="grow"></span>
      </div>`;
    this.#player = root.querySelector("wt-player");
    this.#video = root.querySelector("video");
    this.#dot = root.querySelector(".dot");
    this.#status = root.querySelector(".status");
    this.#people = root.querySelector(".people");
  }

  /** The session once joined (see watch-together.js), else null. */
  get session() { return this.#session; }
  /** The <video> element inside the shadow root. */
  get video() { return this.#video; }
  /** The room this element is in (given or created). */
  get room() { return this.getAttribute("room"); }
  /** The text tracks (the source's own, the room's files, yours): `[{id, label, language, origin, loaded, cues, selected}]`. */
  get textTracks() { return this.#session?.textTracks ?? []; }
  /** Show a text track by id, or none with null (for this viewer only). The video's own captions menu picks them too. */
  setTextTrack(id) { this.#session?.setTextTrack(id); }
  /** Add a subtitle file for this viewer (a File, a Blob or a URL; WebVTT, SRT, ASS/SSA, TTML). */
  addSubtitles(source, options) {
    return this.#session ? this.#session.addSubtitles(source, options) : Promise.reject(new Error("not joined yet"));
  }

  connectedCallback() { this.#restart(); }
  disconnectedCallback() { this.#stop(); }

  attributeChangedCallback(name, old, value) {
    if (old === value || !this.isConnected || this.#reflecting) return;
    if (name === "room" || name === "server") this.#hostToken = undefined;
    if (name === "src" && this.#session && value) {
      this.#session.load(value);
      return;
    }
    this.#restart();
  }

  /**
   * Join (again) once the element's callbacks of this task have run: an
   * element upgraded with `room` and `name` set gets a callback for each
   * attribute and then `connectedCallback`, all at once — three joins, two
   * of them left while their sockets were still connecting (Firefox logs
   * each as an error; the room sees members come and go).
   */
  #restart() {
    this.#stop();
    if (this.#restartQueued) return;
    this.#restartQueued = true;
    queueMicrotask(() => {
      this.#restartQueued = false;
      if (this.isConnected) this.#start();
    });
  }

  #say(text, cls = "") {
    this.#status.textContent = text;
    this.#status.className = `status ${cls}`;
  }

  #stop() {
    this.#generation++;
    for (const [type, fn] of this.#forward.splice(0)) this.#session?.removeEventListener(type, fn);
    this.#player.attach(null);
    this.#session?.leave();
    this.#session = null;
  }

  async #start() {
    this.#stop();
    const gen = this.#generation;
    const server = (this.getAttribute("server") || SCRIPT_ORIGIN).replace(/\/+$/, "");
    let room = this.getAttribute("room");
    const src = this.getAttribute("src");
    this.#say("Connecting…");
    try {
      if (!room) {
        if (!src) throw new Error("set a `room` or a `src` attribute");
        const res = await fetch(`${server}/api/rooms`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ source: src, name: this.getAttribute("title") || undefined }),
        });
        const body = await res.json().catch(() => ({}));
        if (!res.ok) throw new Error(body.error?.message ?? `could not create a room (${res.status})`);
        if (gen !== this.#generation) return;
        room = body.id;
        this.#hostToken = body.hostToken;
        this.#reflecting = true;
        this.setAttribute("room", room);
        this.#reflecting = false;
      }
      const session = await join({
        server, room, video: this.#video,
        name: this.getAttribute("name") ?? undefined,
        password: this.getAttribute("password") ?? undefined,
        hostToken: this.#hostToken,
        youtubeApi: this.getAttribute("youtube-api") ?? undefined,
        vimeoApi: this.getAttribute("vimeo-api") ?? undefined,
      });
      if (gen !== this.#generation) {
        session.leave();
        return;
      }
      this.#session = session;
      this.#player.attach(session);
      for (const type of EVENTS) {
        const fn = (e) => {
          this.#show(type, e.detail);
          this.dispatchEvent(new CustomEvent(type, { detail: e.detail }));
        };
        session.addEventListener(type, fn);
        this.#forward.push([type, fn]);
      }
      // What the session saw before these listeners (its welcome may already
      // have come: a member list, an open socket) is shown from its state.
      this.#show("connection", { state: session.connection });
      this.#show("members", session.members);
      this.dispatchEvent(new CustomEvent("room", { detail: { room, url: `${server}/r/${room}` } }));
    } catch (err) {
      if (gen !== this.#generation) return;
      this.#dot.className = "dot closed";
      this.#say(err.message, "error");
      this.dispatchEvent(new CustomEvent("error", { detail: { kind: err.code ?? "embed", message: err.message } }));
    }
  }

  #show(type, d) {
    if (type === "connection") {
      this.#dot.className = `dot ${d.state}`;
      const text = { open: "Connected", connecting: "Connecting…", kicked: "Removed by the host", refused: "Refused" }[d.state];
      this.#say(text ?? `Reconnecting…`);
    } else if (type === "members") {
      this.#people.textContent = `${d.length} watching`;
    } else if (type === "error") {
      this.#say(d.message, "error");
    } else if (type === "reverted") {
      this.#say(`Not allowed: ${d.message}`, "error");
    }
  }
}

if (!customElements.get("watch-together")) customElements.define("watch-together", WatchTogetherElement);
