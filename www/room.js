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

async function enter(password) {
  return join({ room: roomId, video, name: localStorage.getItem("wt-name") || name, password, hostToken });
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
const controls = ["play", "pause", "seek", "scrub", "seek-to", "source-play", "queue-next"];
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
video.addEventListener("timeupdate", () => {
  $("time").textContent = `${fmt(video.currentTime)} / ${fmt(video.duration)}`;
  if (Number.isFinite(video.duration)) $("scrub").max = String(video.duration);
  if (document.activeElement !== $("scrub")) $("scrub").value = String(video.currentTime);
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

// Source box and queue.
$("source-form").addEventListener("submit", (e) => {
  e.preventDefault();
  session.load($("source-url").value.trim());
  $("source-url").value = "";
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

