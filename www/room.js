// The room page, built only on the public API (./watch-together.js).
import { join, WatchTogetherError } from "/watch-together.js";

const $ = (id) => document.getElementById(id);
const video = $("video");
const roomId = location.pathname.split("/").filter(Boolean).pop();
const fmt = (t) => {
  if (!Number.isFinite(t)) return "0:00";
  const s = Math.floor(t);
  const m = `${Math.floor((s % 3600) / 60)}:${String(s % 60).padStart(2, "0")}`;
  return s >= 3600 ? `${Math.floor(s / 3600)}:${m.padStart(5, "0")}` : m;
};
function notice(message, kind = "error") {
  const n = $("notice");
  n.textContent = message;
  n.className = `notice ${kind}`;
  n.hidden = !message;
}
function fatal(message) {
  $("room").hidden = true;
  $("gate").hidden = true;
  $("fatal").textContent = message;
  $("fatal").hidden = false;
}

// Share.
$("share-link").value = location.origin + location.pathname;
$("copy").addEventListener("click", async () => {
  try {
    await navigator.clipboard.writeText($("share-link").value);
    $("copy").textContent = "Copied";
  } catch {
    $("share-link").select();
  }
});

// The system share sheet where there is one (phones, some desktops).
if (typeof navigator.share === "function") {
  $("share-sheet").hidden = false;
  $("share-sheet").addEventListener("click", () => {
    navigator.share({ title: document.title, text: "Watch with me", url: $("share-link").value }).catch(() => {
      // (Dismissed: nothing to do.)
    });
  });
}

// A QR code of the link (drawn by the wasm: qr.rs), for a phone's camera.
$("qr-toggle").addEventListener("click", async () => {
  const box = $("qr");
  const open = box.hidden;
  box.hidden = !open;
  $("qr-toggle").setAttribute("aria-expanded", String(open));
  if (!open || box.querySelector("svg")) return;
  try {
    const { qrSvg } = await import("/pkg/player_wasm.js");
    box.insertAdjacentHTML("afterbegin", qrSvg($("share-link").value));
  } catch (err) {
    box.textContent = `No QR code: ${err.message ?? err}`;
  }
});

const info = await fetch(`/api/rooms/${roomId}`).then((r) => (r.ok ? r.json() : null)).catch(() => null);
if (!info) {
  fatal("This room does not exist (or has expired). Create a new one from the home page.");
  throw new Error("room not found");
}
if (info.name) {
  $("room-name").textContent = info.name;
  document.title = `${info.name} · Watch Together`;
}

const stored = localStorage.getItem("wt-name");
const name = stored || `Guest ${Math.floor(Math.random() * 900 + 100)}`;
const hostToken = localStorage.getItem(`wt-host:${roomId}`) ?? undefined;

// Where the YouTube and Vimeo player APIs come from: theirs, unless the page
// was given others (a self-hosted mirror; the tests' stand-ins); and the edge
// time endpoint, this origin's unless given (the sync bench's short path).
const apis = globalThis.WATCH_TOGETHER_CONFIG ?? {};
async function enter(password) {
  return join({ room: roomId, video, name: localStorage.getItem("wt-name") || name, password, hostToken, youtubeApi: apis.youtubeApi, vimeoApi: apis.vimeoApi, edgeTime: apis.edgeTime });
}

let session;
const password = sessionStorage.getItem(`wt-pw:${roomId}`) ?? undefined;
if (info.has_password && !password) {
  $("gate").hidden = false;
  $("gate-name").value = stored ?? "";
  session = await new Promise((resolve) => {
    $("gate").addEventListener("submit", async (e) => {
      e.preventDefault();
      const pw = $("gate-password").value;
      const who = $("gate-name").value.trim();
      if (who) localStorage.setItem("wt-name", who);
      try {
        const s = await enter(pw);
        sessionStorage.setItem(`wt-pw:${roomId}`, pw);
        resolve(s);
      } catch (err) {
        $("gate-error").textContent = err.code === "wrong_password" ? "Wrong password — try again." : err.message;
        $("gate-error").hidden = false;
      }
    });
  });
  $("gate").hidden = true;
} else {
  try {
    session = await enter(password);
  } catch (err) {
    fatal(err instanceof WatchTogetherError && err.code === "room_not_found" ? "This room does not exist (or has expired)." : `Could not join: ${err.message}`);
    throw err;
  }
}
localStorage.setItem("wt-name", localStorage.getItem("wt-name") || name);
$("room").hidden = false;
window.watchTogether = { session, video, get member() { return session.me; } };

// Connection and errors.
session.addEventListener("connection", (e) => {
  const { state, retryInMs } = e.detail;
  const badge = $("connection");
  badge.className = `badge status-${state}`;
  badge.dataset.state = state;
  badge.textContent = state === "closed" ? `offline — retrying in ${Math.round(retryInMs / 1000)} s` : { open: "connected", connecting: "connecting…", kicked: "removed" }[state] ?? state;
  if (state === "kicked") fatal("You were removed from the room by the host.");
  if (state === "refused") fatal("The room refused this password.");
});
session.addEventListener("error", (e) => {
  const { code, message } = e.detail;
  if (code === "kicked") return; // the connection event (state "kicked") says so
  if (code === "forbidden") return notice(`Not allowed: ${message}`);
  notice(code === "media" ? `The video could not be played: ${message}` : message);
});
session.addEventListener("reverted", (e) => notice(`Not allowed: ${e.detail.message}`));

// Controls.
const controls = ["seek", "seek-to", "source-play", "queue-next", "source-file"];
function refreshControls() {
  const can = session.canControl;
  for (const id of controls) {
    $(id).disabled = !can;
    $(id).title = can ? "" : "Only the host and controllers can do this in this room";
  }
  $("host-panel").hidden = session.role !== "host";
  $("mode").value = session.settings.mode;
  // The hint never covers an error the member has not read yet (a refusal
  // can arrive just before a settings or joined event).
  const showingError = !$("notice").hidden && $("notice").classList.contains("error");
  if (!can && !showingError) notice("The host controls playback in this room: you can watch, chat and suggest videos.", "info");
  else if ($("notice").classList.contains("info")) notice("");
}
session.addEventListener("settings", refreshControls);
session.addEventListener("joined", refreshControls);

$("leave").addEventListener("click", () => {
  session.leave();
  location.href = "/";
});
// The player's controls (www/player-ui.js) play, pause, seek and set the
// speed through the session; volume, captions and quality are yours.
const player = $("player");
player.attach(session);
// "Go to": m:ss, h:mm:ss or seconds.
const parseTime = (text) => {
  if (!/^\d+(\.\d+)?(:\d{1,2}(\.\d+)?){0,2}$/.test(text.trim())) return null;
  const parts = text.trim().split(":").map(Number);
  if (parts.some((n) => !Number.isFinite(n) || n < 0)) return null;
  return parts.reduce((acc, n) => acc * 60 + n, 0);
};
function goTo() {
  const t = parseTime($("seek-to").value);
  if (t == null) return notice("Go to: a time like 12:03, 1:02:03 or 90");
  session.seek(t);
}
$("seek").addEventListener("click", goTo);
$("seek-to").addEventListener("keydown", (e) => {
  if (e.key === "Enter") goTo();
});
$("normalize").addEventListener("change", () => session.setNormalize($("normalize").checked));

session.addEventListener("audio", (e) => {
  $("normalize").checked = e.detail.normalize;
});

// Subtitles: the source's own tracks and your files; yours alone (each
// member picks). The language you pick is remembered for this room and
// picked again when the source changes.
const subtitleKey = `wt-subtitles-${roomId}`;
const remembered = () => {
  try {
    return localStorage.getItem(subtitleKey);
  } catch {
    return null;
  }
};
// What this viewer gets without picking: their last choice in this room
// ("" is Off), else the room's default language.
function autoPick(tracks) {
  if (tracks.some((t) => t.selected)) return;
  const want = remembered() ?? session.subtitles.language;
  const pick = want && tracks.find((t) => t.language === want || t.label === want);
  if (pick) session.setTextTrack(pick.id);
}
session.addEventListener("texttracks", (e) => autoPick(e.detail));
session.addEventListener("subtitles", () => autoPick(session.textTracks));
$("subtitles-default").addEventListener("click", () => {
  const t = session.textTracks.find((x) => x.selected);
  session.setSubtitleLanguage(t ? t.language : "");
});
// A pick in the player's captions menu is remembered for this room.
player.addEventListener("wt-pick", (e) => {
  const t = session.textTracks.find((x) => x.id === e.detail.id);
  try {
    localStorage.setItem(subtitleKey, t ? t.language || t.label : "");
  } catch {
    // (Storage refused: the choice holds for this page only.)
  }
});
// A subtitle file picked in `input` goes to `send` (yours, or the room's);
// what is wrong with it is shown.
function onSubtitleFile(input, send) {
  $(input).addEventListener("change", async (e) => {
    const file = e.target.files[0];
    e.target.value = "";
    if (!file) return;
    try {
      await send(file);
      notice("");
    } catch (err) {
      notice(`Subtitles: ${err.message ?? err}`);
    }
  });
}
onSubtitleFile("subtitles-file", (file) => session.addSubtitles(file));
onSubtitleFile("subtitles-share", (file) => session.shareSubtitles(file));

// The viewer's subtitle style, remembered on this device.
const subtitleStyle = $("subtitles-style");
function applySubtitleStyle(value) {
  const [size, background] = value.split("|");
  video.style.setProperty("--cue-size", size);
  video.style.setProperty("--cue-background", background);
}
try {
  const saved = localStorage.getItem("wt-subtitle-style");
  if (saved && [...subtitleStyle.options].some((o) => o.value === saved)) subtitleStyle.value = saved;
} catch {
  // (No storage: the default style.)
}
applySubtitleStyle(subtitleStyle.value);
subtitleStyle.addEventListener("change", () => {
  applySubtitleStyle(subtitleStyle.value);
  try {
    localStorage.setItem("wt-subtitle-style", subtitleStyle.value);
  } catch {
    // (The style holds for this page only.)
  }
});
$("subtitles-delay").addEventListener("change", (e) => {
  const seconds = Number(e.target.value);
  if (Number.isFinite(seconds)) session.setSubtitleDelay(Math.round(seconds * 1000));
});
session.addEventListener("subtitles", (e) => {
  $("subtitles-delay").value = String(e.detail.delayMs / 1000);
});
const showSubtitleControls = () => {
  $("subtitles-share-label").hidden = !session.canControl;
  $("subtitles-default").hidden = !session.canControl;
  $("subtitles-delay").disabled = !session.canControl;
};
for (const type of ["joined", "members", "settings"]) session.addEventListener(type, showSubtitleControls);

// Source box and queue. A pasted link says what it is before it is sent
// (the room decides: it reads every YouTube and Vimeo link form).
const kindOf = (text) => {
  const t = text.trim();
  if (/^(https?:\/\/)?([\w-]+\.)?(youtube(-nocookie)?\.com|youtu\.be)\//i.test(t)) return "YouTube video — played by YouTube's player, synced";
  if (/^(https?:\/\/)?(www\.|player\.)?vimeo\.com\//i.test(t)) return "Vimeo video — played by Vimeo's player, synced";
  if (/\.mpd(\?|$)/i.test(t)) return "DASH stream";
  if (/\.m3u8(\?|$)/i.test(t)) return "HLS stream";
  return t ? "Video URL" : "";
};
$("source-url").addEventListener("input", () => { $("source-kind").textContent = kindOf($("source-url").value); });
$("source-form").addEventListener("submit", (e) => {
  e.preventDefault();
  session.load($("source-url").value.trim());
  $("source-url").value = "";
  $("source-kind").textContent = "";
});
$("source-queue").addEventListener("click", () => {
  if (!$("source-url").reportValidity()) return;
  session.queueAdd($("source-url").value.trim());
  $("source-url").value = "";
});
$("queue-next").addEventListener("click", () => session.queueNext());
/** A queue item's label: its title, else the end of its URL (decoded when that decodes). */
const titleOf = (item) => {
  if (item.title) return item.title;
  const tail = String(item.url).split("?")[0].split("/").slice(-2).join("/");
  try {
    return decodeURIComponent(tail);
  } catch {
    return tail; // a malformed escape (%E0%A4%A) is shown as written
  }
};
session.addEventListener("queue", (e) => {
  const items = e.detail;
  $("queue-empty").hidden = items.length > 0;
  $("queue").replaceChildren(...items.map((item, i) => {
    const li = document.createElement("li");
    li.dataset.id = item.id;
    const label = document.createElement("span");
    label.textContent = titleOf(item);
    label.title = item.url;
    const up = Object.assign(document.createElement("button"), { className: "icon", textContent: "↑", title: "Move up", disabled: i === 0 });
    up.setAttribute("aria-label", `Move ${label.textContent} up`);
    up.addEventListener("click", () => session.queueMove(item.id, i - 1));
    const rm = Object.assign(document.createElement("button"), { className: "icon", textContent: "✕", title: "Remove" });
    rm.setAttribute("aria-label", `Remove ${label.textContent}`);
    rm.addEventListener("click", () => session.queueRemove(item.id));
    li.append(label, up, rm);
    return li;
  }));
});
session.addEventListener("source", (e) => {
  const s = e.detail;
  if (s?.title) $("room-name").dataset.playing = s.title;
  $("room").dataset.kind = s?.kind ?? "";
  showLocal(s);
});

// Local files: the host shares a file from this device (only its name,
// size, duration and fingerprint go to the room); everyone opens their own.
const size = (n) => (n >= 1e9 ? `${(n / 1e9).toFixed(1)} GB` : `${Math.round(n / 1e6)} MB`);
let ownCopy = false;
function showLocal(s) {
  const local = s?.kind === "local";
  $("local").hidden = !local || ownCopy;
  if (!local) { ownCopy = false; $("local-verdict").hidden = true; return; }
  $("local-text").textContent = `This room plays “${s.file.name}” (${size(s.file.size)}, ${fmt(s.file.duration)}). Everyone opens their own copy — nothing is uploaded.`;
}
async function openCopy(file) {
  try {
    const v = await session.openLocalFile(file);
    ownCopy = true;
    const text = { same: `Your copy “${v.name}” matches.`, "other-version": `“${v.name}” is a different version of “${v.roomName}” (same length): it plays in sync, but the picture or sound may differ.`, different: `“${v.name}” is not the file the room plays (“${v.roomName}”): it plays, but not the same video.` }[v.match];
    $("local-verdict").textContent = text;
    $("local-verdict").className = `notice ${v.match === "same" ? "info" : "error"}`;
    $("local-verdict").dataset.match = v.match;
    $("local-verdict").hidden = false;
    $("local").hidden = false;
  } catch (err) {
    notice(`Could not open that file: ${err?.message ?? err}`);
  }
}
$("local-open").addEventListener("change", () => { const f = $("local-open").files[0]; if (f) openCopy(f); });
async function shareFile(file) {
  try {
    ownCopy = true;
    await session.shareLocalFile(file);
  } catch (err) {
    ownCopy = false;
    notice(`Could not use that file: ${err?.message ?? err}`);
  }
}
$("source-file").addEventListener("change", () => { const f = $("source-file").files[0]; if (f) shareFile(f); });
// Drag a file onto the player: your copy of the room's file, or (if you may control) the room's new source.
player.addEventListener("dragover", (e) => { e.preventDefault(); player.classList.add("drop"); });
player.addEventListener("dragleave", () => player.classList.remove("drop"));
player.addEventListener("drop", (e) => {
  e.preventDefault();
  player.classList.remove("drop");
  const f = e.dataTransfer?.files?.[0];
  if (!f) return;
  if (session.source?.kind === "local" && !ownCopy) openCopy(f);
  else if (session.canControl) shareFile(f);
});

// People, with host actions. Each member's row is kept and updated in
// place, keyed by member id: the list is told again with every drift and
// round-trip report, and rebuilt, a row's buttons would be new ones every
// time, losing a keyboard user's focus and a click whose press and release
// fell on either side of a report (a WebKit run, 2026-12-06).
const memberRows = new Map(); // member id → { li, who, status, actions, whoKey, actionsKey }
session.addEventListener("members", (e) => {
  refreshControls();
  const list = $("members");
  let focusTo = null; // where a focus lost to this update goes, once the rows are in place
  const order = e.detail.map((m) => {
    let row = memberRows.get(m.id);
    if (!row) {
      const li = document.createElement("li");
      li.dataset.member = m.id;
      row = { li, who: Object.assign(document.createElement("span"), { className: "who" }), status: document.createElement("span"), actions: null, whoKey: null, actionsKey: null };
      li.append(row.who, row.status);
      memberRows.set(m.id, row);
    }
    const whoKey = `${m.name}\n${m.role}\n${m.id === session.me}`;
    if (row.whoKey !== whoKey) {
      row.whoKey = whoKey;
      row.who.textContent = m.name + (m.id === session.me ? " (you)" : "");
      if (m.role !== "viewer") row.who.append(" ", Object.assign(document.createElement("span"), { className: "role", textContent: m.role }));
    }
    const className = `badge status-${m.status}`;
    if (row.status.className !== className) row.status.className = className;
    const status = m.status !== "ready" ? m.status : m.driftMs == null ? "ready" : `${Math.round(m.driftMs)} ms · ${Math.round(m.rttMs ?? 0)} ms rtt`;
    if (row.status.textContent !== status) row.status.textContent = status;
    const hostActions = session.role === "host" && m.id !== session.me;
    const actionsKey = hostActions ? `${m.name}\n${m.role}` : null;
    if (row.actionsKey !== actionsKey) {
      // (A role change rebuilds the row's buttons: the one that had the
      // focus, as "Let control" pressed from the keyboard, passes it on.)
      const focused = row.actions ? [...row.actions.children].indexOf(document.activeElement) : -1;
      row.actionsKey = actionsKey;
      row.actions?.remove();
      row.actions = hostActions ? memberActions(m) : null;
      if (row.actions) row.li.append(row.actions);
      // (None left, as after "Make host": the row's name takes the focus.)
      if (focused >= 0) focusTo = row.actions?.children[focused] ?? row.who;
    }
    return row.li;
  });
  const ids = new Set(e.detail.map((m) => m.id));
  let lostFocusAt = -1; // where a row that had the focus was (a kick from the keyboard)
  for (const [id, row] of [...memberRows]) {
    if (ids.has(id)) continue;
    if (row.li.contains(document.activeElement)) lostFocusAt = [...list.children].indexOf(row.li);
    row.li.remove();
    memberRows.delete(id);
  }
  // (Only a row out of place is moved: moving a row drops its focus, and a
  // newcomer, added at the end, moves none.)
  order.forEach((li, i) => {
    if (list.children[i] !== li) list.insertBefore(li, list.children[i] ?? null);
  });
  // A removed row's focus goes to the row that took its place (its first
  // button, or its name), not to the page's start.
  if (lostFocusAt >= 0) {
    const next = order[Math.min(lostFocusAt, order.length - 1)];
    focusTo = next?.querySelector("button") ?? next?.querySelector(".who") ?? null;
  }
  if (focusTo) focusOn(focusTo);
});
/** Focus on `el`; a name (no control) takes it only until it leaves. */
function focusOn(el) {
  if (el.tagName !== "BUTTON" && !el.hasAttribute("tabindex")) {
    el.tabIndex = -1;
    el.addEventListener("blur", () => el.removeAttribute("tabindex"), { once: true });
  }
  el.focus();
}
/** The host's buttons for member `m`: its role, the host's place, a kick. */
function memberActions(m) {
  const actions = document.createElement("span");
  actions.className = "actions";
  const button = (text, label, fn) => {
    const b = Object.assign(document.createElement("button"), { className: "icon", textContent: text, title: label });
    b.setAttribute("aria-label", `${label}: ${m.name}`);
    b.addEventListener("click", fn);
    return b;
  };
  actions.append(
    m.role === "controller" ? button("☆", "Make viewer", () => session.setRole(m.id, "viewer")) : button("★", "Let control", () => session.setRole(m.id, "controller")),
    button("⇄", "Make host", () => session.transferHost(m.id)),
    button("✕", "Remove and ban from room", () => session.kick(m.id)),
  );
  return actions;
}
// Banned people (a kick is a ban): the host can let them back in.
// (Rebuilt only when what it shows changed: it is told with every members
// report too, and a rebuilt button would lose its focus.)
let bansShown = null;
const showBans = () => {
  const host = session.role === "host";
  const key = JSON.stringify([host, session.bans.map((b) => [b.id, b.name])]);
  if (key === bansShown) return;
  bansShown = key;
  $("bans").hidden = !host || session.bans.length === 0;
  $("bans").replaceChildren(...session.bans.map((b) => {
    const li = document.createElement("li");
    const who = Object.assign(document.createElement("span"), { className: "who", textContent: `${b.name} (banned)` });
    const lift = Object.assign(document.createElement("button"), { className: "icon", textContent: "↺", title: "Let back in" });
    lift.setAttribute("aria-label", `Let back in: ${b.name}`);
    lift.addEventListener("click", () => session.unban(b.id));
    li.append(who, lift);
    return li;
  }));
};
session.addEventListener("bans", showBans);
session.addEventListener("members", showBans);
$("mode").addEventListener("change", () => session.setMode($("mode").value));
$("password-form").addEventListener("submit", (e) => {
  e.preventDefault();
  session.setPassword($("new-password").value);
  notice($("new-password").value ? "Password set: new people will need it." : "Password removed.", "info");
  $("new-password").value = "";
});

// Chat, with the room's goings-on between the lines: who joined and left,
// who played, paused, jumped or changed the speed. The log stays where the
// reader scrolled it; new lines below say so.
const log = $("chat-log");
function logLine(build, kind = "msg") {
  const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 24;
  const li = document.createElement("div");
  li.className = kind;
  build(li);
  log.append(li);
  while (log.children.length > 300) log.firstChild.remove();
  if (atBottom) log.scrollTop = log.scrollHeight;
  else $("chat-more").hidden = false;
}
const say = (text) => logLine((li) => { li.textContent = text; }, "event");
log.addEventListener("scroll", () => {
  if (log.scrollHeight - log.scrollTop - log.clientHeight < 24) $("chat-more").hidden = true;
});
$("chat-more").addEventListener("click", () => {
  log.scrollTop = log.scrollHeight;
  $("chat-more").hidden = true;
});
// Reactions are chat lines of one emoji: they also float over the picture
// (in fullscreen too), with who sent them.
const REACTIONS = ["👍", "😂", "😮", "❤️", "👏"];
const floated = new Set();
let joinedAt = performance.now();
session.addEventListener("joined", () => {
  joinedAt = performance.now();
});
for (const b of document.querySelectorAll(".reactions button")) b.addEventListener("click", () => session.chat(b.textContent));
session.addEventListener("chat", (e) => {
  const line = e.detail;
  // (A rejoin replays recent lines: only new ones float, each once.)
  if (REACTIONS.includes(line.text) && !floated.has(line.id) && performance.now() - joinedAt > 2000) {
    floated.add(line.id);
    player.react(line.text, line.member === session.me ? "you" : line.name);
  }
  logLine((li) => {
    const who = Object.assign(document.createElement("b"), { textContent: line.name });
    li.title = new Date(line.at).toLocaleTimeString();
    li.append(who, ` ${line.text}`);
  });
});
const names = new Map();
let listed = false;
session.addEventListener("members", (e) => {
  const now = new Map(e.detail.map((m) => [m.id, m.name]));
  if (listed) {
    for (const [id, n] of now) if (!names.has(id) && id !== session.me) say(`${n} joined`);
    for (const [id, n] of names) if (!now.has(id)) say(`${n} left`);
  }
  listed = true;
  for (const [id, n] of now) names.set(id, n);
  for (const id of [...names.keys()]) if (!now.has(id)) names.delete(id);
});
const whoDid = (id) => (id == null ? null : id === session.me ? "You" : (names.get(id) ?? "Someone"));
// What this page showed just before a state arrived (a state's position is
// the room's at its own reference time, which can be long ago).
let shown = null;
const seen = () => {
  const p = session.playhead;
  if (p) shown = { position: p.position, at: performance.now() };
};
video.addEventListener("timeupdate", seen);
setInterval(seen, 500);
let last = null;
let sourceAt = -Infinity;
session.addEventListener("state", (e) => {
  const s = e.detail;
  const at = performance.now();
  const prev = last;
  last = { ...s, at };
  // The first state (a join), one a reconnect hears again and the one that starts a new source tell no news.
  if (!prev || s.seq === prev.seq || at - sourceAt < 1500) return;
  const who = whoDid(s.by);
  if (s.reason === "buffering") return say(`Waiting for everyone to load (paused at ${fmt(s.position)})`);
  if (s.reason === "resume") return say("Everyone is ready: playing");
  if (s.reason === "advance") return say("Next in the queue");
  if (!who) return;
  const from = shown ?? prev;
  const expected = from.position + (prev.playing ? ((at - from.at) / 1000) * prev.rate : 0);
  if (s.rate !== prev.rate) say(`${who} set the speed to ${s.rate}×`);
  if (Math.abs(s.position - expected) > 1.5) say(`${who} jumped to ${fmt(s.position)}`);
  else if (s.playing && !prev.playing) say(`${who} played at ${fmt(s.position)}`);
  // (While the room waits for everyone to load it means to play: a pause then is one.)
  else if (!s.playing && (prev.playing || (prev.reason === "buffering" && s.rate === prev.rate))) say(`${who} paused at ${fmt(s.position)}`);
});
let lastSource = null;
session.addEventListener("source", (e) => {
  const s = e.detail;
  sourceAt = performance.now();
  if (s && lastSource && s.url !== lastSource) say(`Now playing: ${titleOf(s)}`);
  lastSource = s?.url ?? null;
});
$("chat-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const text = $("chat-input").value.trim();
  if (text) session.chat(text);
  $("chat-input").value = "";
});

