//! The MSE shell of `media_core::schedule::Engine` (on a ManagedMediaSource
//! where the browser has one, else a MediaSource): it carries the engine's
//! outputs out (fetches with AbortController and Range, one operation at a
//! time per SourceBuffer driven by `updateend`, codec changes, duration,
//! end of stream) and the browser's answers back in. Segment payloads stay
//! JS ArrayBuffers from fetch to `appendBuffer`; only index data (sidx,
//! WebM headers and Cues) is copied into wasm for the engine to read.
//!
//! Ownership: [`Dash`] owns the state; listeners, the tick timer and the
//! fetches' AbortControllers live in it, so dropping it stops everything.
//! Callbacks hold a `Weak` and never keep the borrow across an await.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::{Rc, Weak};

use gloo_timers::callback::Interval;
use js_sys::{ArrayBuffer, Uint8Array};
use media_core::mpd;
use media_core::schedule::{Engine, EngineConfig, EngineEvent, FetchId, Output, Playhead, Purpose, TsSegment};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::spawn_local;
use web_sys::{AbortController, HtmlVideoElement, MediaSource, MediaSourceReadyState, SourceBuffer, SourceBufferAppendMode};

use super::fetch::{fetch_range, fetch_text, Scope};
use super::hls::HlsLive;
use super::ts::TsTrack;

use crate::dom::error_detail;
use crate::dom::{emit, error_name, Listener};
use crate::events::Event;

/// Wall-clock milliseconds (a live MPD's clock is UTC).
fn wall_ms() -> f64 {
    js_sys::Date::now()
}

enum Op {
    Append {
        id: FetchId,
        offset: f64,
        window: (f64, f64),
        placed: bool,
    },
    /// Bytes the engine does not track (a transmuxed init segment).
    AppendBytes(ArrayBuffer),
    Remove {
        start: f64,
        end: f64,
    },
    ChangeType(String),
}

/// A manifest refresh with no answer after this long no longer holds up the next.
const REFRESH_GIVE_UP_MS: f64 = 10_000.0;

/// Per-fetch state: a handful of fetches are in flight at a time, so a Vec
/// (a HashMap costs kilobytes of wasm).
struct ByFetch<T>(Vec<(FetchId, T)>);

impl<T> ByFetch<T> {
    fn insert(&mut self, id: FetchId, v: T) {
        self.remove(&id);
        self.0.push((id, v));
    }
    fn remove(&mut self, id: &FetchId) -> Option<T> {
        let i = self.0.iter().position(|(k, _)| k == id)?;
        Some(self.0.swap_remove(i).1)
    }
    fn get(&self, id: &FetchId) -> Option<&T> {
        self.0.iter().find(|(k, _)| k == id).map(|(_, v)| v)
    }
}

struct Shell {
    engine: Engine,
    /// The MediaSource class in use (see [`mse_class`]).
    class: js_sys::Function,
    /// A live HLS presentation: what a refresh reloads (else the MPD at `url`).
    hls: Option<Rc<HlsLive>>,
    /// The manifest refresh under way (its number and when it started): one
    /// at a time, and one that hangs is given up after [`REFRESH_GIVE_UP_MS`].
    refreshing: Option<(u32, f64)>,
    refreshes: u32,
    video: HtmlVideoElement,
    events: web_sys::EventTarget,
    ms: MediaSource,
    url: String,
    /// What may be fetched: a URL outside it is refused as a failed fetch.
    scope: Rc<Scope>,
    sbs: Vec<SourceBuffer>,
    queues: Vec<VecDeque<Op>>,
    /// The operation each SourceBuffer is running (an append keeps its id
    /// so a QuotaExceededError can retry the same bytes).
    running: Vec<Option<Option<FetchId>>>,
    offsets: Vec<f64>,
    /// Per SourceBuffer: reset its parser (`abort()`) before the next
    /// append, after a flush (a seek's discontinuity). WebKitGTK's audio
    /// SourceBuffer drops every segment earlier than those it already
    /// took unless its parser is reset and the init segment appended again
    /// (measured: `[[6 s], [0 s]]` leaves 5.95–7.96 buffered; with abort and
    /// init between them, 0–1.94 and 5.95–7.96); the engine sends the init
    /// again after every flush.
    reset: Vec<bool>,
    /// Each SourceBuffer's content type, as last set.
    types: Vec<String>,
    /// Per SourceBuffer, the transmuxer of its MPEG-TS segments (see [`super::ts`]).
    ts: Vec<Option<TsTrack>>,
    bytes: ByFetch<ArrayBuffer>,
    fetches: ByFetch<AbortController>,
    eos_pending: bool,
    /// The presentation cannot play here (an MPEG-TS stream whose codecs
    /// this MSE refuses before anything was appended): nothing more is
    /// fetched or appended, and the stream is never ended — ending a
    /// MediaSource that never initialised makes the element raise an error
    /// of its own that would replace the one naming the cause.
    halted: bool,
    duration: Option<f64>,
    /// A start position (live edge, period start) the element cannot take
    /// yet (see [`can_seek`]).
    pending_seek: Option<f64>,
    /// A seek asked of the player (the room's position) held while the
    /// element prerolls (see [`prerolling`]), with when it was asked.
    held_seek: Option<(f64, f64)>,
    /// A seek this shell already told the engine of, whose `seeking` event
    /// is still to come (the engine is not told twice).
    told_seek: Option<f64>,
    metadata: bool,
    /// Page events, dispatched after the borrow ends (a listener may call
    /// back into the player).
    outbox: Vec<(Event, JsValue)>,
    sb_listeners: Vec<Listener>,
    _listeners: Vec<Listener>,
    _tick: Option<Interval>,
}

impl Drop for Shell {
    fn drop(&mut self) {
        for (_, c) in self.fetches.0.drain(..) {
            c.abort();
        }
    }
}

/// A DASH presentation playing on a video element.
pub struct Dash {
    state: Rc<RefCell<Option<Shell>>>,
}

impl Dash {
    /// Play a presentation already in the engine's model (DASH, or HLS
    /// converted by `media_core::hls::to_manifest`; a live HLS one is
    /// reloaded through `hls`).
    pub async fn start_with(
        video: HtmlVideoElement,
        events: web_sys::EventTarget,
        url: String,
        manifest: mpd::Manifest,
        hls: Option<Rc<HlsLive>>,
        scope: Rc<Scope>,
        early: &super::Early,
    ) -> Result<Dash, JsValue> {
        let (class, managed) = mse_class().ok_or_else(|| JsValue::from_str("this browser has no Media Source Extensions"))?;
        if managed {
            // A ManagedMediaSource opens only when the element cannot hand
            // playback to AirPlay (or names another source for it).
            let _ = js_sys::Reflect::set(&video, &"disableRemotePlayback".into(), &JsValue::TRUE);
        }
        let ms: MediaSource = js_sys::Reflect::construct(&class, &js_sys::Array::new())?.unchecked_into();
        let object_url = web_sys::Url::create_object_url_with_source(&ms)?;
        video.set_src(&object_url);
        early.set(Some(None));
        let opened = crate::dom::once(&ms, "sourceopen").await;
        let held = early.take().flatten().map(|t| (t, wall_ms()));
        opened?;
        let _ = web_sys::Url::revoke_object_url(&object_url);
        let state: Rc<RefCell<Option<Shell>>> = Rc::new(RefCell::new(None));
        let weak = Rc::downgrade(&state);
        let mut listeners = Vec::new();
        for kind in ["seeking", "waiting", "playing", "pause", "timeupdate", "resize", "loadedmetadata"] {
            let w = weak.clone();
            listeners.push(Listener::new(&video, kind, move |_| {
                if kind == "loadedmetadata" {
                    with(&w, |s| s.metadata = true);
                }
                if kind == "seeking" {
                    with(&w, |s| {
                        let t = s.video.current_time();
                        if !s.told_seek.take().is_some_and(|told| (told - t).abs() < 1e-3) {
                            s.engine.handle_seek(wall_ms(), t);
                        }
                    });
                }
                tick(&w);
            })?);
        }
        let w = weak.clone();
        let timer = Interval::new(250, move || tick(&w));
        *state.borrow_mut() = Some(Shell {
            engine: Engine::new(EngineConfig::default()),
            class,
            hls,
            refreshing: None,
            refreshes: 0,
            video,
            events,
            ms,
            url,
            scope,
            sbs: Vec::new(),
            queues: Vec::new(),
            running: Vec::new(),
            offsets: Vec::new(),
            reset: Vec::new(),
            types: Vec::new(),
            ts: Vec::new(),
            bytes: ByFetch(Vec::new()),
            fetches: ByFetch(Vec::new()),
            eos_pending: false,
            halted: false,
            duration: None,
            pending_seek: None,
            held_seek: held,
            told_seek: None,
            metadata: false,
            outbox: Vec::new(),
            sb_listeners: Vec::new(),
            _listeners: listeners,
            _tick: Some(timer),
        });
        with(&weak, |s| s.engine.handle_manifest(wall_ms(), manifest, &|t| type_supported(&s.class, t)));
        Ok(Dash { state })
    }

    /// Video qualities as `{id, bandwidth, width, height}`, lowest first.
    pub fn qualities(&self) -> JsValue {
        let list = js_sys::Array::new();
        if let Some(s) = self.state.try_borrow().ok().as_ref().and_then(|g| g.as_ref()) {
            for r in s.engine.qualities() {
                list.push(&quality(&r.id, r.bandwidth, r.width, r.height));
            }
        }
        list.into()
    }

    /// Seek the element to `t`, or hold the seek while it prerolls (see
    /// [`prerolling`]). Meanwhile the engine goes on at the element's
    /// position: told of the target, it would flush or evict what the
    /// element prerolls on. (Page events wait for the next tick: the
    /// caller, the session, is borrowed.)
    #[cfg(feature = "room")]
    pub fn seek(&self, t: f64) {
        with_events(&Rc::downgrade(&self.state), false, |s| {
            s.pending_seek = None;
            if s.metadata && !prerolling(s) {
                s.held_seek = None;
                seek_now(s, t);
            } else {
                let since = s.held_seek.map_or_else(wall_ms, |(_, since)| since);
                s.held_seek = Some((t, since));
            }
        });
    }

    /// Whether the element had this presentation's metadata (it could play it).
    #[cfg(feature = "room")]
    pub fn had_metadata(&self) -> bool {
        self.state.try_borrow().ok().as_ref().and_then(|g| g.as_ref()).is_some_and(|s| s.metadata)
    }

    /// Pin a quality (index into [`Dash::qualities`]) or `None` for auto.
    pub fn set_quality(&self, index: Option<usize>) {
        with(&Rc::downgrade(&self.state), |s| s.engine.set_quality(index));
    }
}

type Weakly = Weak<RefCell<Option<Shell>>>;

/// The MediaSource class this browser has, and whether it is the managed
/// one: `ManagedMediaSource` where it exists (Safari 17+, the only one on
/// iPhone), else `MediaSource`; `None` without Media Source Extensions.
pub(crate) fn mse_class() -> Option<(js_sys::Function, bool)> {
    let global = js_sys::global();
    ["ManagedMediaSource", "MediaSource"].into_iter().find_map(|name| {
        js_sys::Reflect::get(&global, &name.into()).ok().and_then(|c| c.dyn_into::<js_sys::Function>().ok()).map(|c| (c, name == "ManagedMediaSource"))
    })
}

/// `class.isTypeSupported(content_type)`.
fn type_supported(class: &js_sys::Function, content_type: &str) -> bool {
    js_sys::Reflect::get(class, &"isTypeSupported".into())
        .ok()
        .and_then(|f| f.dyn_into::<js_sys::Function>().ok())
        .and_then(|f| f.call1(class, &content_type.into()).ok())
        .is_some_and(|v| v.is_truthy())
}

/// `{id, bandwidth, width, height}` as the page sees a quality.
fn quality(id: &str, bandwidth: u64, width: Option<u32>, height: Option<u32>) -> JsValue {
    let o = js_sys::Object::new();
    let dim = |v: Option<u32>| v.map_or(JsValue::NULL, |v| f64::from(v).into());
    let _ = js_sys::Reflect::set(&o, &"id".into(), &id.into());
    let _ = js_sys::Reflect::set(&o, &"bandwidth".into(), &(bandwidth as f64).into());
    let _ = js_sys::Reflect::set(&o, &"width".into(), &dim(width));
    let _ = js_sys::Reflect::set(&o, &"height".into(), &dim(height));
    o.into()
}

/// Run `f` on the shell, then carry out every output the engine produced.
/// The borrow ends before anything async starts.
fn with(weak: &Weakly, f: impl FnOnce(&mut Shell)) {
    with_events(weak, true, f);
}

/// [`with`], dispatching the page events now or (`emit_now` false) leaving
/// them for the next call that does.
fn with_events(weak: &Weakly, emit_now: bool, f: impl FnOnce(&mut Shell)) {
    let Some(rc) = weak.upgrade() else { return };
    let (target, events) = {
        let Ok(mut guard) = rc.try_borrow_mut() else { return };
        let Some(shell) = guard.as_mut() else { return };
        f(shell);
        while let Some(out) = shell.engine.poll_output() {
            if !shell.halted {
                apply(shell, weak, out);
            }
        }
        if !shell.halted {
            pump_all(shell, weak);
        }
        (shell.events.clone(), if emit_now { std::mem::take(&mut shell.outbox) } else { Vec::new() })
    };
    for (kind, detail) in events {
        emit(&target, kind, &detail);
    }
}

/// Whether the element takes `currentTime = t` now: after `loadedmetadata`
/// and once `seekable` reaches `t` (with an unbounded duration that is what
/// is buffered); earlier, Chromium drops or clamps the seek.
fn can_seek(s: &Shell, t: f64) -> bool {
    let seekable = s.video.seekable();
    let n = seekable.length();
    s.metadata && n > 0 && seekable.end(n - 1).is_ok_and(|end| end >= t)
}

/// How long a seek is held for an element that does not finish
/// prerolling: then it is made all the same.
const PREROLL_HOLD_MS: f64 = 2_000.0;

/// Whether the element is prerolling: it has no frame yet (below
/// HAVE_CURRENT_DATA) while media at its position is buffered or being
/// appended. A seek then makes WebKitGTK's pipeline fail ("Failed to push
/// buffer", MEDIA_ERR_SRC_NOT_SUPPORTED) or deadlock: measured 2026-12-06
/// with two busy cores, a seek right after the first segment's append
/// failed in 6 of 12 runs; before any media append, after
/// HAVE_CURRENT_DATA, or with media buffered only elsewhere, 12 of 12
/// played. It is the room's first seek at every load.
fn prerolling(s: &Shell) -> bool {
    let v = &s.video;
    if v.ready_state() >= web_sys::HtmlMediaElement::HAVE_CURRENT_DATA {
        return false;
    }
    let t = v.current_time();
    let buffered = v.buffered();
    let at = (0..buffered.length()).any(|i| buffered.start(i).is_ok_and(|a| a <= t + 0.1) && buffered.end(i).is_ok_and(|b| t < b));
    at || s.sbs.iter().any(SourceBuffer::updating)
}

/// Seek the element now, telling the engine first: fetches and appends
/// for the old position stop before the `seeking` event comes.
fn seek_now(s: &mut Shell, t: f64) {
    s.told_seek = Some(t);
    s.engine.handle_seek(wall_ms(), t);
    s.video.set_current_time(t);
}

fn tick(weak: &Weakly) {
    with(weak, |s| {
        if let Some(t) = s.pending_seek {
            if can_seek(s, t) {
                s.pending_seek = None;
                s.video.set_current_time(t);
            }
        }
        if let Some((t, since)) = s.held_seek {
            if !s.metadata {
                s.held_seek = Some((t, wall_ms())); // (held from the metadata on)
            } else if !prerolling(s) || wall_ms() - since > PREROLL_HOLD_MS {
                s.held_seek = None;
                seek_now(s, t);
            }
        }
        if !s.video.seeking() {
            s.told_seek = None; // (its `seeking` came, or never will)
        }
        let buffered = s.sbs.iter().map(ranges).collect();
        let dpr = web_sys::window().map_or(1.0, |w| w.device_pixel_ratio());
        let height = s.video.client_height();
        let ph = Playhead {
            time: s.pending_seek.unwrap_or_else(|| s.video.current_time()),
            paused: s.video.paused(),
            seeking: s.video.seeking(),
            ready: s.video.ready_state() >= web_sys::HtmlMediaElement::HAVE_CURRENT_DATA,
            buffered,
            display_height: (height > 0).then(|| (f64::from(height) * dpr) as u32),
        };
        s.engine.handle_tick(wall_ms(), ph);
    });
}

fn ranges(sb: &SourceBuffer) -> Vec<(f64, f64)> {
    let Ok(r) = sb.buffered() else { return Vec::new() };
    (0..r.length()).filter_map(|i| Some((r.start(i).ok()?, r.end(i).ok()?))).collect()
}

fn apply(s: &mut Shell, weak: &Weakly, out: Output) {
    match out {
        Output::Fetch { id, track: _, url, range, purpose, inspect } => {
            // (Of a media segment the engine reads only the head.)
            let head = if purpose == Purpose::Media { media_core::frag_start::HEAD_BYTES as u32 } else { u32::MAX };
            if !s.scope.allows(&url, Some(&mut s.outbox)) {
                s.engine.handle_fetch_failed(wall_ms(), id, None);
                return;
            }
            let Ok(controller) = AbortController::new() else { return };
            let signal = controller.signal();
            s.fetches.insert(id, controller);
            let w = weak.clone();
            spawn_local(async move {
                let started = crate::dom::now_ms();
                let result = fetch_range(&url, range, &signal).await;
                let took = crate::dom::now_ms() - started;
                with(&w, |s| {
                    if s.fetches.remove(&id).is_none() {
                        return; // aborted meanwhile
                    }
                    match result {
                        Ok(buf) => {
                            let len = buf.byte_length() as u64;
                            let data = inspect.then(|| Uint8Array::new_with_byte_offset_and_length(&buf, 0, buf.byte_length().min(head)).to_vec());
                            s.bytes.insert(id, buf);
                            s.engine.handle_fetched(wall_ms(), id, len, took, data.as_deref());
                        }
                        Err(status) => s.engine.handle_fetch_failed(wall_ms(), id, status),
                    }
                });
            });
        }
        Output::Abort { id } => {
            if let Some(c) = s.fetches.remove(&id) {
                c.abort();
            }
            s.bytes.remove(&id);
        }
        Output::Event(EngineEvent::Tracks(types)) => {
            for (i, (_, ct)) in types.iter().enumerate() {
                match s.ms.add_source_buffer(ct) {
                    Ok(sb) => {
                        let w = weak.clone();
                        if let Ok(l) = Listener::new(&sb, "updateend", move |_| updateend(&w, i)) {
                            s.sb_listeners.push(l);
                        }
                        let w = weak.clone();
                        if let Ok(l) = Listener::new(&sb, "error", move |_| {
                            with(&w, |s| {
                                let id = s.running.get_mut(i).and_then(|r| r.take()).flatten();
                                s.engine.handle_append_failed(wall_ms(), i, id.unwrap_or(0), false);
                            })
                        }) {
                            s.sb_listeners.push(l);
                        }
                        s.sbs.push(sb);
                        s.queues.push(VecDeque::new());
                        s.running.push(None);
                        s.offsets.push(0.0);
                        s.reset.push(false);
                        s.types.push(ct.clone());
                        s.ts.push(None);
                    }
                    Err(e) => s.outbox.push((Event::Error, error_detail("media", &format!("cannot play {ct}: {}", error_name(&e))))),
                }
            }
        }
        Output::Append { track, id, timestamp_offset, window, placed: _, ts_segment: Some(seg) } => transmux(s, track, id, seg, timestamp_offset, window),
        Output::Append { track, id, timestamp_offset, window, placed, ts_segment: None } => {
            push(s, track, Op::Append { id, offset: timestamp_offset, window, placed })
        }
        Output::Remove { track, start, end } => push(s, track, Op::Remove { start, end }),
        Output::ChangeType { track, content_type } => {
            if let Some(t) = s.types.get_mut(track) {
                t.clone_from(&content_type);
            }
            push(s, track, Op::ChangeType(content_type))
        }
        Output::Flush { track } => {
            if let Some(r) = s.reset.get_mut(track) {
                *r = true;
            }
            // (A queued init segment may go with them: the next segment brings one again.)
            if let Some(ts) = s.ts.get_mut(track) {
                *ts = None;
            }
            if let Some(q) = s.queues.get_mut(track) {
                for op in q.drain(..) {
                    if let Op::Append { id, .. } = op {
                        s.bytes.remove(&id);
                    }
                }
            }
        }
        Output::SetDuration(d) => s.duration = Some(d),
        Output::EndOfStream => s.eos_pending = true,
        Output::Seek(t) if can_seek(s, t) => s.video.set_current_time(t),
        Output::Seek(t) => s.pending_seek = Some(t),
        Output::RefreshManifest if s.refreshing.is_some_and(|(_, at)| wall_ms() - at < REFRESH_GIVE_UP_MS) => {}
        Output::RefreshManifest => {
            s.refreshes = s.refreshes.wrapping_add(1);
            let n = s.refreshes;
            s.refreshing = Some((n, wall_ms()));
            let (w, url, hls, scope) = (weak.clone(), s.url.clone(), s.hls.clone(), s.scope.clone());
            spawn_local(async move {
                // A failed refresh keeps the manifest; the next one retries.
                let m = match hls {
                    Some(h) => h.reload().await.ok(),
                    None => match fetch_text(&scope, &url).await {
                        Ok(text) => mpd::parse_at(&text, &url, Some(wall_ms())).ok(),
                        Err(_) => None,
                    },
                };
                with(&w, |s| {
                    // A refresh given up on answers late: a newer one counts.
                    if s.refreshing.is_none_or(|(k, _)| k != n) {
                        return;
                    }
                    s.refreshing = None;
                    if let Some(m) = m {
                        s.engine.handle_manifest(wall_ms(), m, &|t| type_supported(&s.class, t));
                    }
                });
            });
        }
        Output::Event(EngineEvent::Quality { id, bandwidth, width, height }) => s.outbox.push((Event::Quality, quality(&id, bandwidth, width, height))),
        Output::Event(EngineEvent::Buffering(b)) => s.outbox.push((Event::Buffering, JsValue::from_bool(b))),
        Output::Event(EngineEvent::Error(e)) => s.outbox.push((Event::Error, error_detail("media", &e.to_string()))),
        Output::Event(EngineEvent::Reseeked { at, n }) => {
            let max = media_core::schedule::MAX_NUDGES;
            web_sys::console::warn_1(
                &format!("watch-together: held at {at:.3} s with media there (paused without its frame, or seeking): seeked there again ({n} of {max})").into(),
            );
        }
        Output::Event(_) => {}
    }
}

/// Transmux MPEG-TS segment `n` (fetch `id`, listed at `offset`) and queue
/// what it became: a new init segment where the configuration changed
/// (after a `changeType` where the codecs did), then its fragment. The
/// transmuxer puts a segment that does not follow the last one at its
/// listed start and lets the stream's clock place those that follow (so
/// audio and video keep their own relation across segment boundaries, which
/// MSE's sequence mode would not); the fragment is appended as it is.
fn transmux(s: &mut Shell, track: usize, id: FetchId, seg: TsSegment, offset: f64, window: (f64, f64)) {
    let Some(slot) = s.ts.get_mut(track) else { return };
    let ts = slot.get_or_insert_with(TsTrack::new);
    let Some(buf) = s.bytes.get(&id) else { return };
    let out = ts.segment(id, seg, offset, buf);
    if out.unplayable {
        halt(s);
        s.outbox.extend(out.events);
        return;
    }
    if let Some(ct) = out.content_type.filter(|ct| s.types.get(track) != Some(ct)) {
        if let Some(t) = s.types.get_mut(track) {
            t.clone_from(&ct);
        }
        push(s, track, Op::ChangeType(ct));
    }
    if let Some(init) = out.init {
        push(s, track, Op::AppendBytes(init));
    }
    match out.media {
        Some(media) => {
            s.bytes.insert(id, media);
            // (Its timestamps are on the presentation timeline already.)
            push(s, track, Op::Append { id, offset: 0.0, window, placed: false });
        }
        None => {
            // Nothing to append (no keyframe yet, or nothing it can carry).
            s.bytes.remove(&id);
            s.engine.handle_appended(wall_ms(), track);
        }
    }
    s.outbox.extend(out.events);
}

/// Stop the presentation for good: abort what is being fetched, drop what
/// waits to be appended, and carry out nothing the engine asks from now on.
fn halt(s: &mut Shell) {
    s.halted = true;
    s.eos_pending = false;
    s.pending_seek = None;
    for (_, c) in s.fetches.0.drain(..) {
        c.abort();
    }
    for q in &mut s.queues {
        q.clear();
    }
    s.bytes.0.clear();
}

fn push(s: &mut Shell, track: usize, op: Op) {
    if let Some(q) = s.queues.get_mut(track) {
        q.push_back(op);
    }
}

/// Start the next operation on every idle SourceBuffer; then duration and
/// end of stream once all of them are idle.
fn pump_all(s: &mut Shell, weak: &Weakly) {
    for i in 0..s.sbs.len() {
        pump(s, weak, i);
    }
    let idle = s.sbs.iter().all(|sb| !sb.updating()) && s.queues.iter().all(VecDeque::is_empty) && s.running.iter().all(Option::is_none);
    if idle && s.ms.ready_state() == MediaSourceReadyState::Open {
        if let Some(d) = s.duration.take() {
            if (s.ms.duration() - d).abs() > 1e-3 || s.ms.duration().is_nan() {
                s.ms.set_duration(d);
            }
        }
        if s.eos_pending {
            s.eos_pending = false;
            let _ = s.ms.end_of_stream();
        }
    }
}

fn pump(s: &mut Shell, weak: &Weakly, i: usize) {
    let Some(sb) = s.sbs.get(i).cloned() else { return };
    if sb.updating() || s.running.get(i).is_some_and(Option::is_some) {
        return;
    }
    while let Some(op) = s.queues.get_mut(i).and_then(VecDeque::pop_front) {
        if matches!(op, Op::Append { .. } | Op::AppendBytes(_)) && s.reset.get(i).copied().unwrap_or(false) {
            // abort() throws while the MediaSource is ended (after
            // endOfStream): a remove past the end reopens it first, and the
            // abort comes before this append at the next pump.
            let end = s.ms.duration();
            if s.ms.ready_state() == MediaSourceReadyState::Ended && end.is_finite() && sb.remove(end, f64::INFINITY).is_ok() {
                if let Some(q) = s.queues.get_mut(i) {
                    q.push_front(op);
                }
                s.running[i] = Some(None);
                return;
            }
            s.reset[i] = false;
            // (Not updating here: resets the parser and the append window, which the append sets again.)
            let _ = sb.abort();
        }
        let started = match op {
            Op::Append { id, offset, window, placed } => {
                let Some(buf) = s.bytes.get(&id).cloned() else { continue };
                if placed {
                    // Sequence mode: the append starts at timestampOffset,
                    // which the browser then moves on by itself.
                    if sb.mode() != SourceBufferAppendMode::Sequence {
                        sb.set_mode(SourceBufferAppendMode::Sequence);
                    }
                    sb.set_timestamp_offset(offset);
                    s.offsets[i] = f64::NAN;
                } else if sb.mode() == SourceBufferAppendMode::Sequence {
                    sb.set_mode(SourceBufferAppendMode::Segments);
                    sb.set_timestamp_offset(offset);
                    s.offsets[i] = offset;
                } else if (s.offsets[i] - offset).abs() > 1e-9 || s.offsets[i].is_nan() {
                    sb.set_timestamp_offset(offset);
                    s.offsets[i] = offset;
                }
                if (sb.append_window_start() - window.0).abs() > 1e-9 || sb.append_window_end() != window.1 {
                    // Keep start < end at every step.
                    sb.set_append_window_end(f64::INFINITY);
                    sb.set_append_window_start(window.0);
                    sb.set_append_window_end(window.1);
                }
                match sb.append_buffer_with_array_buffer(&buf) {
                    Ok(()) => {
                        s.running[i] = Some(Some(id));
                        true
                    }
                    Err(e) => {
                        let quota = error_name(&e) == "QuotaExceededError";
                        if !quota {
                            s.bytes.remove(&id);
                        }
                        s.engine.handle_append_failed(wall_ms(), i, id, quota);
                        while let Some(out) = s.engine.poll_output() {
                            apply(s, weak, out);
                        }
                        false
                    }
                }
            }
            Op::Remove { start, end } => {
                let ok = end > start && sb.remove(start, end).is_ok();
                if ok {
                    s.running[i] = Some(None);
                }
                ok
            }
            Op::ChangeType(ct) => {
                let _ = sb.change_type(&ct);
                false
            }
            Op::AppendBytes(buf) => match sb.append_buffer_with_array_buffer(&buf) {
                Ok(()) => {
                    s.running[i] = Some(None);
                    true
                }
                Err(e) => {
                    s.outbox.push((Event::Error, error_detail("media", &format!("an init segment was refused: {}", error_name(&e)))));
                    false
                }
            },
        };
        if started {
            return;
        }
    }
}

fn updateend(weak: &Weakly, track: usize) {
    with(weak, |s| {
        if let Some(Some(Some(id))) = s.running.get_mut(track).map(Option::take) {
            s.bytes.remove(&id);
            s.engine.handle_appended(wall_ms(), track);
        }
    });
}
