// The room page, built only on the public API (./watch-together.js).
import { join, WatchTogetherError } from "/watch-together.js";

const $ = (id) => document.getElementById(id);
const video = $("video");
const roomId = location.pathname.split("/").filter(Boolean).pop();
const fmt = (t) => {
  if (!Number.isFinite(t)) return "0:00";
  const s = Math.floor(t);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
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
// was given others (a self-hosted mirror; the tests' stand-ins).
const apis = globalThis.WATCH_TOGETHER_CONFIG ?? {};
async function enter(password) {
  return join({ room: roomId, video, name: localStorage.getItem("wt-name") || name, password, hostToken, youtubeApi: apis.youtubeApi, vimeoApi: apis.vimeoApi });
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
const controls = ["play", "pause", "seek", "scrub", "seek-to", "source-play", "queue-next", "source-file"];
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

$("play").addEventListener("click", () => session.play());
$("leave").addEventListener("click", () => {
  session.leave();
  location.href = "/";
});
$("pause").addEventListener("click", () => session.pause());
$("seek").addEventListener("click", () => session.seek(Number($("seek-to").value) || 0));
$("scrub").addEventListener("change", () => session.seek(Number($("scrub").value)));
// Time and scrub bar from whatever plays (the element, or an embed whose
// own time is in its frame): the element's timeupdate, and for embeds a
// reading four times a second.
function showTime() {
  const { position, duration } = session.playhead;
  $("time").textContent = `${fmt(position)} / ${fmt(duration ?? NaN)}`;
  if (Number.isFinite(duration)) $("scrub").max = String(duration);
  if (document.activeElement !== $("scrub")) $("scrub").value = String(position);
}
video.addEventListener("timeupdate", showTime);
let embedClock = null;
session.addEventListener("source", (e) => {
  const embed = e.detail?.kind === "youtube" || e.detail?.kind === "vimeo";
  if (embed && !embedClock) embedClock = setInterval(showTime, 250);
  if (!embed && embedClock) { clearInterval(embedClock); embedClock = null; }
});
$("unmute").addEventListener("click", () => {
  video.muted = false;
  $("unmute").hidden = true;
});
session.addEventListener("needs-gesture", () => { $("unmute").hidden = false; });
session.addEventListener("unmuted", () => { $("unmute").hidden = true; });
$("normalize").addEventListener("change", () => session.setNormalize($("normalize").checked));

// Sync figures.
let audioText = "";
session.addEventListener("stats", (e) => {
  const s = e.detail;
  const n = (v, unit = " ms") => (v == null ? "–" : `${Math.round(v)}${unit}`);
  $("overlay").textContent = `drift ${n(s.driftMs)} · rtt ${n(s.rttMs)} · clock ±${n(s.offsetErrorMs)} · rate ${s.rate.toFixed(3)} · fixes ${s.rateCorrections}r/${s.seekCorrections}s${audioText}`;
});
session.addEventListener("audio", (e) => {
  const a = e.detail;
  audioText = a.state === "running" ? "" : ` · audio ${a.state} (tap to resume)`;
  $("normalize").checked = a.normalize;
});

// Quality: the ladder of the current DASH/HLS source, "Auto" by default.
const quality = $("quality");
function fillQualities() {
  const labels = session.qualities.map((q, i) => [String(i), q.height ? `${q.height}p` : `${Math.round(q.bandwidth / 1000)} kbit/s`]);
  const want = ["auto", ...labels.map(([v]) => v)].join();
  if (want !== [...quality.options].map((o) => o.value).join()) {
    const keep = quality.value;
    quality.replaceChildren(new Option("Auto", "auto"), ...labels.map(([v, l]) => new Option(l, v)));
    quality.value = [...quality.options].some((o) => o.value === keep) ? keep : "auto";
  }
}
session.addEventListener("qualities", fillQualities);
session.addEventListener("quality", (e) => {
  fillQualities();
  quality.title = `playing ${e.detail.height ? `${e.detail.height}p` : e.detail.id} · ${Math.round(e.detail.bandwidth / 1000)} kbit/s`;
  quality.dataset.playing = e.detail.id;
});
quality.addEventListener("change", () => session.setQuality(quality.value === "auto" ? "auto" : Number(quality.value)));

// Subtitles: the source's own tracks and your files; yours alone (each
// member picks). The language you pick is remembered for this room and
// picked again when the source changes.
const subtitles = $("subtitles");
const subtitleKey = `wt-subtitles-${roomId}`;
const remembered = () => {
  try {
    return localStorage.getItem(subtitleKey);
  } catch {
    return null;
  }
};
function fillSubtitles() {
  const tracks = session.textTracks;
  const label = (t) => (t.language && t.label !== t.language ? `${t.label} (${t.language})` : t.label) + (t.origin === "file" ? " · your file" : t.origin === "room" ? " · room" : "");
  subtitles.replaceChildren(new Option("Off", ""), ...tracks.map((t) => new Option(label(t), String(t.id))));
  subtitles.value = String(tracks.find((t) => t.selected)?.id ?? "");
}
// What this viewer gets without picking: their last choice in this room
// ("" is Off), else the room's default language.
function autoPick(tracks) {
  if (tracks.some((t) => t.selected)) return;
  const want = remembered() ?? session.subtitles.language;
  const pick = want && tracks.find((t) => t.language === want || t.label === want);
  if (pick) session.setTextTrack(pick.id);
}
session.addEventListener("texttracks", (e) => {
  autoPick(e.detail);
  fillSubtitles();
});
session.addEventListener("subtitles", () => autoPick(session.textTracks));
$("subtitles-default").addEventListener("click", () => {
  const t = session.textTracks.find((x) => x.selected);
  session.setSubtitleLanguage(t ? t.language : "");
});
session.addEventListener("texttrack", fillSubtitles);
subtitles.addEventListener("change", () => {
  const id = subtitles.value === "" ? null : Number(subtitles.value);
  session.setTextTrack(id);
  const t = session.textTracks.find((x) => x.id === id);
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
      fillSubtitles();
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
const player = document.querySelector(".player");
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

// People, with host actions.
session.addEventListener("members", (e) => {
  refreshControls();
  $("members").replaceChildren(...e.detail.map((m) => {
    const li = document.createElement("li");
    li.dataset.member = m.id;
    const who = document.createElement("span");
    who.className = "who";
    who.textContent = m.name + (m.id === session.me ? " (you)" : "");
    if (m.role !== "viewer") {
      const role = Object.assign(document.createElement("span"), { className: "role", textContent: m.role });
      who.append(" ", role);
    }
    const status = document.createElement("span");
    status.className = `badge status-${m.status}`;
    status.textContent = m.status !== "ready" ? m.status : m.drift_ms == null ? "ready" : `${Math.round(m.drift_ms)} ms · ${Math.round(m.rtt_ms ?? 0)} ms rtt`;
    li.append(who, status);
    if (session.role === "host" && m.id !== session.me) {
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
      li.append(actions);
    }
    return li;
  }));
});
// Banned people (a kick is a ban): the host can let them back in.
const showBans = () => {
  const host = session.role === "host";
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

// Chat.
session.addEventListener("chat", (e) => {
  const line = e.detail;
  const li = document.createElement("li");
  const who = Object.assign(document.createElement("b"), { textContent: line.name });
  li.append(who, ` ${line.text}`);
  $("chat-log").append(li);
  while ($("chat-log").children.length > 200) $("chat-log").firstChild.remove();
  $("chat-log").scrollTop = $("chat-log").scrollHeight;
});
$("chat-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const text = $("chat-input").value.trim();
  if (text) session.chat(text);
  $("chat-input").value = "";
});

