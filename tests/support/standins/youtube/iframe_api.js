// Stand-in for https://www.youtube.com/iframe_api (YouTube's IFrame Player
// API), for tests on machines that cannot reach youtube.com. Written from
// the published reference (developers.google.com/youtube/iframe_api_reference):
//
// - window.YT = { Player, PlayerState, loaded: 1, ready(fn) }, then
//   window.onYouTubeIframeAPIReady() is called asynchronously.
// - new YT.Player(elementOrId, { videoId, width, height, playerVars, events })
//   replaces the element with an <iframe> of <stand-in origin>/youtube/embed/<id>
//   (the element's id moves to the iframe), or wraps an existing embed iframe.
//   The player talks to it only by postMessage (JSON strings): "listening"
//   until it answers, then {event: "command", func, args}.
// - As with the real widget, the playback methods (playVideo, seekTo,
//   getCurrentTime, ...) appear on the player only once the iframe has
//   delivered its API, just before onReady; getIframe, destroy, setSize,
//   addEventListener and removeEventListener exist from the start.
// - Getters return what the latest infoDelivery said (sent every 250 ms, each
//   message 0-40 ms late): getCurrentTime moves in steps, not continuously.
// - Handlers get { target: player, data } (onReady and onAutoplayBlocked: no data).
//
// Stand-in only: window.YT_STANDIN = { adAt, adSeconds }, read when a Player
// is constructed, puts an ad break in that player (see embed.html).
(() => {
  if (window.YT?.loaded) return;

  const script = document.currentScript ?? [...document.scripts].find((s) => /\/youtube\/iframe_api(\?|$)/.test(s.src));
  const ORIGIN = new URL(script.src).origin;
  const PlayerState = { UNSTARTED: -1, ENDED: 0, PLAYING: 1, PAUSED: 2, BUFFERING: 3, CUED: 5 };
  const COMMANDS = new Set(["cueVideoById", "loadVideoById", "cueVideoByUrl", "loadVideoByUrl", "playVideo", "pauseVideo",
    "stopVideo", "seekTo", "mute", "unMute", "setVolume", "setPlaybackRate"]);
  const GETTERS = {
    isMuted: (i) => i.muted,
    getVolume: (i) => i.volume,
    getPlaybackRate: (i) => i.playbackRate,
    getAvailablePlaybackRates: (i) => i.availablePlaybackRates ?? [1],
    getVideoLoadedFraction: (i) => i.videoLoadedFraction,
    getPlayerState: (i) => i.playerState,
    getCurrentTime: (i) => i.currentTime,
    getDuration: (i) => i.duration,
    getVideoUrl: (i) => i.videoUrl,
    getVideoEmbedCode: (i) => i.videoEmbedCode,
  };
  let nextId = 1;

  class Player {
    constructor(elementOrId, options = {}) {
      const el = typeof elementOrId === "string" ? document.getElementById(elementOrId) : elementOrId;
      if (!el || !(el instanceof Element)) throw new Error(`YT.Player: no element ${String(elementOrId)}`);
      this.id = nextId++;
      this.playerInfo = {};
      this.options = options;
      this._listeners = new Map();
      for (const [name, fn] of Object.entries(options.events ?? {})) this.addEventListener(name, fn);
      if (el.tagName === "IFRAME") {
        this._iframe = el;
        this._original = null;
      } else {
        const vars = { ...(options.playerVars ?? {}) };
        const q = new URLSearchParams();
        q.set("enablejsapi", "1");
        for (const [k, v] of Object.entries(vars)) {
          if (v === undefined || v === null) continue;
          q.set(k, typeof v === "boolean" ? (v ? "1" : "0") : String(v));
        }
        if (!q.has("origin")) q.set("origin", location.origin);
        q.set("widgetid", String(this.id));
        const ad = window.YT_STANDIN;
        if (ad && Number.isFinite(Number(ad.adAt)) && Number(ad.adSeconds) > 0) {
          q.set("standin_ad_at", String(Number(ad.adAt)));
          q.set("standin_ad_seconds", String(Number(ad.adSeconds)));
        }
        const iframe = document.createElement("iframe");
        if (el.id) iframe.id = el.id;
        iframe.width = String(options.width ?? 640);
        iframe.height = String(options.height ?? 390);
        iframe.setAttribute("frameborder", "0");
        iframe.setAttribute("allow", "autoplay; fullscreen");
        iframe.title = "YouTube video player";
        iframe.src = `${ORIGIN}/youtube/embed/${encodeURIComponent(options.videoId ?? "")}?${q}`;
        el.replaceWith(iframe);
        this._iframe = iframe;
        this._original = el;
      }
      this._onMessage = (e) => this._receive(e);
      window.addEventListener("message", this._onMessage);
      // Like the real widget: once the iframe has loaded, say "listening"
      // (again every 250 ms) until the player answers. Not before: a message
      // to the iframe's initial about:blank would be refused.
      const listen = () => this._post({ event: "listening", id: this.id, channel: "widget" });
      const start = () => {
        clearInterval(this._listening);
        listen();
        this._listening = setInterval(listen, 250);
      };
      this._iframe.addEventListener("load", start);
      // An existing embed may have loaded already (then it is cross-origin).
      if (this._original === null && this._iframe.contentDocument === null) start();
    }

    _post(msg) {
      this._iframe?.contentWindow?.postMessage(JSON.stringify(msg), ORIGIN);
    }

    _receive(e) {
      if (!this._iframe || e.source !== this._iframe.contentWindow || e.origin !== ORIGIN) return;
      let msg;
      try { msg = typeof e.data === "string" ? JSON.parse(e.data) : e.data; } catch { return; }
      if (!msg || typeof msg !== "object") return;
      clearInterval(this._listening);
      switch (msg.event) {
        case "initialDelivery":
          Object.assign(this.playerInfo, msg.info);
          for (const name of msg.info?.apiInterface ?? []) this._install(name);
          break;
        case "infoDelivery":
          Object.assign(this.playerInfo, msg.info);
          break;
        case "onReady":
          this._fire("onReady");
          break;
        case "onStateChange":
          this.playerInfo.playerState = msg.info;
          this._fire("onStateChange", msg.info);
          break;
        case "onPlaybackRateChange":
          this.playerInfo.playbackRate = msg.info;
          this._fire("onPlaybackRateChange", msg.info);
          break;
        case "onError":
          this._fire("onError", msg.info);
          break;
        case "onAutoplayBlocked":
          this._fire("onAutoplayBlocked");
          break;
      }
    }

    _install(name) {
      if (COMMANDS.has(name)) this[name] = (...args) => { this._post({ event: "command", func: name, args, id: this.id, channel: "widget" }); return this; };
      else if (Object.hasOwn(GETTERS, name)) this[name] = () => GETTERS[name](this.playerInfo);
    }

    _fire(name, data) {
      const event = data === undefined ? { target: this } : { target: this, data };
      for (const fn of [...(this._listeners.get(name) ?? [])]) {
        const f = typeof fn === "string" ? window[fn] : fn;
        if (typeof f === "function") {
          try { f.call(this, event); } catch (err) { setTimeout(() => { throw err; }); }
        }
      }
    }

    addEventListener(name, listener) {
      if (!this._listeners.has(name)) this._listeners.set(name, []);
      this._listeners.get(name).push(listener);
    }

    removeEventListener(name, listener) {
      const list = this._listeners.get(name);
      if (!list) return;
      const i = list.indexOf(listener);
      if (i >= 0) list.splice(i, 1);
    }

    getIframe() {
      return this._iframe;
    }

    setSize(width, height) {
      if (this._iframe) {
        this._iframe.width = String(width);
        this._iframe.height = String(height);
      }
      return this;
    }

    destroy() {
      clearInterval(this._listening);
      window.removeEventListener("message", this._onMessage);
      const iframe = this._iframe;
      this._iframe = null;
      if (!iframe) return;
      if (this._original) {
        // The element given to the constructor comes back (a div with the id).
        iframe.replaceWith(this._original);
      } else iframe.remove();
    }
  }

  const callbacks = [];
  window.YT = {
    Player,
    PlayerState,
    loading: 1,
    loaded: 1,
    ready(fn) { if (typeof fn === "function") callbacks.push(fn); setTimeout(flush); },
  };
  const flush = () => { while (callbacks.length) callbacks.shift()(); };
  setTimeout(() => {
    flush();
    if (typeof window.onYouTubeIframeAPIReady === "function") window.onYouTubeIframeAPIReady();
  });
})();
