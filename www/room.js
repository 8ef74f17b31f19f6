import init, { join } from "/pkg/player_wasm.js";

const $ = (id) => document.getElementById(id);
const video = $("video");
const roomId = location.pathname.split("/").filter(Boolean).pop();
const notice = $("notice");

function show(message, isError = true) {
  notice.textContent = message;
  notice.classList.toggle("error", isError);
  notice.hidden = false;
}

const fmt = (t) => {
  if (!Number.isFinite(t)) return "0:00";
  const s = Math.floor(t);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
};

$("share-link").value = location.href;
$("copy").addEventListener("click", async () => {
  try {
    await navigator.clipboard.writeText(location.href);
    $("copy").textContent = "Copied";
  } catch {
    $("share-link").select();
  }
});

const info = await fetch(`/api/rooms/${roomId}`);
if (info.status === 404) {
  show("This room does not exist (or has expired). Create a new one from the home page.");
  throw new Error("room not found");
}

await init();
const name = localStorage.getItem("wt-name") || `Guest ${Math.floor(Math.random() * 900 + 100)}`;
localStorage.setItem("wt-name", name);
const hostToken = localStorage.getItem(`wt-host:${roomId}`) ?? undefined;
const session = join({ room: roomId, name, hostToken }, video);
window.watchTogether = { session, video, member: null };
session.events.addEventListener("joined", (e) => { window.watchTogether.member = e.detail.member; });

const ev = session.events;
ev.addEventListener("connection", (e) => {
  const { state, retryInMs } = e.detail;
  const el = $("connection");
  el.className = `badge status-${state}`;
  el.textContent = state === "closed" ? `offline — retrying in ${Math.round(retryInMs / 1000)} s` : state;
});
ev.addEventListener("members", (e) => {
  const ul = $("members");
  ul.replaceChildren(...e.detail.map((m) => {
    const li = document.createElement("li");
    const who = document.createElement("span");
    who.textContent = m.name;
    if (m.role !== "viewer") who.textContent += m.role === "host" ? " ★" : " ☆";
    const status = document.createElement("span");
    status.className = "badge";
    status.textContent = m.status !== "ready" ? m.status : m.drift_ms == null ? "ready" : `${Math.round(m.drift_ms)} ms · ${Math.round(m.rtt_ms ?? 0)} ms rtt`;
    li.append(who, status);
    return li;
  }));
});
let audioText = "";
ev.addEventListener("stats", (e) => {
  const s = e.detail;
  const n = (v, unit = " ms") => (v == null ? "–" : `${Math.round(v)}${unit}`);
  $("overlay").textContent =
    `drift ${n(s.driftMs)} · rtt ${n(s.rttMs)} · clock ±${n(s.offsetErrorMs)} · rate ${s.rate.toFixed(3)} · fixes ${s.rateCorrections}r/${s.seekCorrections}s${audioText}`;
});
ev.addEventListener("audio", (e) => {
  const a = e.detail;
  audioText = a.state === "running" ? "" : ` · audio ${a.state} (tap to resume)`;
  $("normalize").checked = a.normalize;
});
$("normalize").addEventListener("change", () => session.setNormalize($("normalize").checked));
ev.addEventListener("unmuted", () => {
  $("unmute").hidden = true;
});
ev.addEventListener("error", (e) => show(e.detail.message));
ev.addEventListener("reverted", (e) => show(`Not allowed: ${e.detail.message}`));
ev.addEventListener("needs-gesture", () => {
  $("unmute").hidden = false;
});
$("unmute").addEventListener("click", () => {
  video.muted = false;
  $("unmute").hidden = true;
});

// Quality: the ladder of the current DASH source, "Auto" by default.
const quality = $("quality");
function fillQualities() {
  const list = session.qualities();
  const labels = list.map((q, i) => [String(i), q.height ? `${q.height}p` : `${Math.round(q.bandwidth / 1000)} kbit/s`]);
  const want = ["auto", ...labels.map(([v]) => v)].join();
  const have = [...quality.options].map((o) => o.value).join();
  if (want !== have) {
    const keep = quality.value;
    quality.replaceChildren(new Option("Auto", "auto"), ...labels.map(([v, l]) => new Option(l, v)));
    quality.value = [...quality.options].some((o) => o.value === keep) ? keep : "auto";
  }
}
ev.addEventListener("qualities", fillQualities);
ev.addEventListener("quality", (e) => {
  fillQualities();
  quality.title = `playing ${e.detail.height ? e.detail.height + "p" : e.detail.id} · ${Math.round(e.detail.bandwidth / 1000)} kbit/s`;
  quality.dataset.playing = e.detail.id;
});
quality.addEventListener("change", () => session.setQuality(quality.value === "auto" ? "auto" : Number(quality.value)));

$("play").addEventListener("click", () => session.play());
$("pause").addEventListener("click", () => session.pause());
$("seek").addEventListener("click", () => session.seek(Number($("seek-to").value) || 0));
video.addEventListener("timeupdate", () => {
  $("time").textContent = `${fmt(video.currentTime)} / ${fmt(video.duration)}`;
});
