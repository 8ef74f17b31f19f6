// Stand-in for https://player.vimeo.com/api/player.js (Vimeo's Player SDK),
// for tests on machines that cannot reach vimeo.com. Written from the
// published README (github.com/vimeo/player.js) and its client's protocol:
//
// - window.Vimeo = { Player }.
// - new Vimeo.Player(elementOrIdOrIframe, { id | url, width, height, autoplay,
//   muted, controls, loop, ... }) appends an <iframe> of
//   <stand-in origin>/vimeo/video/<id> into the element (or wraps an existing
//   stand-in iframe; a second Player for the same element is the first one).
//   It talks to it only by postMessage: {method, value} to the iframe;
//   {method, value}, {event, data} and {event: "error", data: {name, message,
//   method}} back.
// - Every method but on() and off() returns a Promise; calls wait for ready().
//   A reply resolves every pending call of that method (as the real client
//   does); an error event naming a method rejects them with an Error whose
//   name is the error's (RangeError, NotAllowedError, PrivacyError, ...).
// - Events are sent only once listened to (on() asks the iframe for them).
(() => {
  if (window.Vimeo?.Player) return;

  const script = document.currentScript ?? [...document.scripts].find((s) => /\/vimeo\/api\/player\.js(\?|$)/.test(s.src));
  const ORIGIN = new URL(script.src).origin;
  const players = new WeakMap();
  const EMBED_OPTIONS = ["autopause", "autoplay", "background", "byline", "color", "controls", "dnt", "keyboard", "loop", "muted",
    "pip", "playsinline", "portrait", "quality", "responsive", "speed", "t", "title", "transparent"];

  const isStandinUrl = (src) => {
    try {
      const u = new URL(src, location.href);
      return u.origin === ORIGIN && /^\/vimeo\/video\/[^/]+$/.test(u.pathname);
    } catch {
      return false;
    }
  };
  const idOf = (options) => {
    if (options.id !== undefined && options.id !== null) return String(options.id);
    const url = String(options.url ?? "");
    return url.match(/vimeo\.com\/(?:video\/)?(\d+)/)?.[1] ?? url.match(/\/vimeo\/video\/(\d+)/)?.[1] ?? "";
  };
  const capitalize = (s) => s.charAt(0).toUpperCase() + s.slice(1);

  class Player {
    constructor(element, options = {}) {
      let el = typeof element === "string" ? document.getElementById(element) : element;
      if (!el || !(el instanceof Element)) throw new TypeError("You must pass either a valid element or a valid id.");
      if (el.nodeName !== "IFRAME") el = el.querySelector("iframe") ?? el;
      if (el.nodeName === "IFRAME" && !isStandinUrl(el.getAttribute("src") ?? "")) throw new Error("The player element passed isn’t a Vimeo embed.");
      // biome-ignore lint/correctness/noConstructorReturn: as the real client, a second Player for one embed is the first one
      if (players.has(el)) return players.get(el);

      this.element = el;
      this._callbacks = new Map(); // method or "event:<name>" -> [fn | {resolve, reject}]
      this._ready = new Promise((resolve, reject) => {
        this._onMessage = (e) => {
          if (e.origin !== ORIGIN || !this.element || this.element.contentWindow !== e.source) return;
          let data = e.data;
          try { if (typeof data === "string") data = JSON.parse(data); } catch { return; }
          if (!data || typeof data !== "object") return;
          if (data.event === "error" && data.data?.method === "ready") {
            const error = new Error(data.data.message);
            error.name = data.data.name;
            reject(error);
            return;
          }
          if (data.event === "ready" || data.method === "ping") {
            this.element.setAttribute("data-ready", "true");
            resolve();
            return;
          }
          this._process(data);
        };
        window.addEventListener("message", this._onMessage);
      });
      this._ready.catch(() => {});

      if (el.nodeName !== "IFRAME") {
        const q = new URLSearchParams();
        for (const key of EMBED_OPTIONS) {
          const v = el.getAttribute(`data-vimeo-${key}`) ?? options[key];
          if (v === undefined || v === null) continue;
          q.set(key, typeof v === "boolean" ? (v ? "1" : "0") : String(v));
        }
        const id = el.getAttribute("data-vimeo-id") ?? idOf(options);
        const iframe = document.createElement("iframe");
        iframe.src = `${ORIGIN}/vimeo/video/${encodeURIComponent(id)}${q.size ? `?${q}` : ""}`;
        const width = Number(el.getAttribute("data-vimeo-width") ?? options.width ?? 640);
        const height = Number(el.getAttribute("data-vimeo-height") ?? options.height ?? Math.round((width * 9) / 16));
        iframe.width = String(width);
        iframe.height = String(height);
        iframe.setAttribute("frameborder", "0");
        iframe.setAttribute("allow", "autoplay; fullscreen; picture-in-picture; encrypted-media");
        iframe.title = "vimeo-player";
        el.appendChild(iframe);
        el.setAttribute("data-vimeo-initialized", "true");
        this._originalElement = el;
        this.element = iframe;
      } else if (el.contentDocument === null) {
        // An existing embed that has loaded: ask whether it is ready.
        this._post("ping");
      } else {
        el.addEventListener("load", () => this._post("ping"), { once: true });
      }
      players.set(this.element, this);
      if (this._originalElement) players.set(this._originalElement, this);
    }

    _post(method, value) {
      const win = this.element?.contentWindow;
      if (!win) return;
      win.postMessage(value === undefined ? { method } : { method, value }, ORIGIN);
    }

    _store(key, cb) {
      if (!this._callbacks.has(key)) this._callbacks.set(key, []);
      this._callbacks.get(key).push(cb);
    }

    _process(data) {
      let callbacks = [];
      let param;
      if (data.event) {
        if (data.event === "error" && data.data?.method) {
          for (const p of this._callbacks.get(data.data.method) ?? []) {
            const error = new Error(data.data.message);
            error.name = data.data.name;
            p.reject(error);
          }
          this._callbacks.delete(data.data.method);
        }
        callbacks = this._callbacks.get(`event:${data.event}`) ?? [];
        param = data.data;
      } else if (data.method) {
        callbacks = this._callbacks.get(data.method) ?? [];
        this._callbacks.delete(data.method);
        param = data.value;
      }
      for (const cb of [...callbacks]) {
        try {
          if (typeof cb === "function") cb.call(this, param);
          else cb.resolve(param);
        } catch (err) {
          setTimeout(() => { throw err; });
        }
      }
    }

    callMethod(name, ...args) {
      if (name === undefined || name === null) throw new TypeError("You must pass a method name.");
      return new Promise((resolve, reject) => {
        this.ready().then(() => {
          this._store(name, { resolve, reject });
          this._post(name, args.length === 0 ? {} : args.length === 1 ? args[0] : args);
        }).catch(reject);
      });
    }

    get(name) {
      return new Promise((resolve, reject) => {
        const method = `get${capitalize(name)}`;
        this.ready().then(() => {
          this._store(method, { resolve, reject });
          this._post(method);
        }).catch(reject);
      });
    }

    set(name, value) {
      return new Promise((resolve, reject) => {
        const method = `set${capitalize(name)}`;
        if (value === undefined || value === null) throw new TypeError("There must be a value to set.");
        this.ready().then(() => {
          this._store(method, { resolve, reject });
          this._post(method, value);
        }).catch(reject);
      });
    }

    on(eventName, callback) {
      if (!eventName) throw new TypeError("You must pass an event name.");
      if (!callback) throw new TypeError("You must pass a callback function.");
      if (typeof callback !== "function") throw new TypeError("The callback must be a function.");
      const key = `event:${eventName}`;
      if (!(this._callbacks.get(key)?.length)) this.callMethod("addEventListener", eventName).catch(() => {});
      this._store(key, callback);
    }

    off(eventName, callback) {
      if (!eventName) throw new TypeError("You must pass an event name.");
      if (callback && typeof callback !== "function") throw new TypeError("The callback must be a function.");
      const key = `event:${eventName}`;
      const list = this._callbacks.get(key);
      if (!list) return;
      if (callback) {
        const i = list.indexOf(callback);
        if (i >= 0) list.splice(i, 1);
      } else list.length = 0;
      if (list.length === 0) {
        this._callbacks.delete(key);
        this.callMethod("removeEventListener", eventName).catch(() => {});
      }
    }

    ready() {
      return this._ready ? Promise.resolve(this._ready) : Promise.reject(new Error("Unknown player. Probably unloaded."));
    }

    loadVideo(options) { return this.callMethod("loadVideo", options); }
    play() { return this.callMethod("play"); }
    pause() { return this.callMethod("pause"); }
    unload() { return this.callMethod("unload"); }

    destroy() {
      return new Promise((resolve) => {
        this._ready = null;
        players.delete(this.element);
        if (this._originalElement) {
          players.delete(this._originalElement);
          this._originalElement.removeAttribute("data-vimeo-initialized");
        }
        this.element?.parentNode?.removeChild(this.element);
        window.removeEventListener("message", this._onMessage);
        resolve();
      });
    }

    getCurrentTime() { return this.get("currentTime"); }
    setCurrentTime(seconds) { return this.set("currentTime", seconds); }
    getDuration() { return this.get("duration"); }
    getPaused() { return this.get("paused"); }
    getEnded() { return this.get("ended"); }
    getSeeking() { return this.get("seeking"); }
    getPlaybackRate() { return this.get("playbackRate"); }
    setPlaybackRate(rate) { return this.set("playbackRate", rate); }
    getVolume() { return this.get("volume"); }
    setVolume(volume) { return this.set("volume", volume); }
    getMuted() { return this.get("muted"); }
    setMuted(muted) { return this.set("muted", muted); }
    getLoop() { return this.get("loop"); }
    setLoop(loop) { return this.set("loop", loop); }
    getBuffered() { return this.get("buffered"); }
    getPlayed() { return this.get("played"); }
    getSeekable() { return this.get("seekable"); }
    getVideoId() { return this.get("videoId"); }
    getVideoTitle() { return this.get("videoTitle"); }
    getVideoUrl() { return this.get("videoUrl"); }
    getVideoWidth() { return this.get("videoWidth"); }
    getVideoHeight() { return this.get("videoHeight"); }
  }

  window.Vimeo = { ...(window.Vimeo ?? {}), Player };
})();
