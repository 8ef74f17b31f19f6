//! The room session: a WebSocket to the room, sync-core's [`Client`] and
//! the player [`Backend`] playing the room's source, glued by event
//! listeners and one timer.
//!
//! All state lives in [`Shared`]; callbacks hold only a `Weak` to it, so
//! dropping the session frees everything (no reference cycles). Outputs are
//! drained while borrowed, events are dispatched to the page after the
//! borrow is released (a page listener may call back into the session).

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use gloo_timers::callback::Timeout;
use sync_core::client::{Client, ClientConfig, ClientEvent, ClientOutput, Identity, MediaAction, MediaEvent};
use sync_core::protocol::{close, Command};
use sync_core::source::{LocalFile, Source};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::{spawn_local, JsFuture};
use web_sys::{CloseEvent, EventTarget, HtmlVideoElement, MessageEvent, WebSocket};

use crate::audio::Audio;
use crate::backend::element::Element;
use crate::backend::vimeo::Vimeo;
use crate::backend::youtube::YouTube;
use crate::backend::{Apis, Backend, BackendEvent, Sink};
use crate::dom::{emit, error_detail, error_name, now_ms, Listener};
use crate::events::Event;
use crate::text::TextTracks;

pub mod api;
mod detail;
mod edge;
pub(crate) mod local;

const RECONNECT_MIN_MS: f64 = 1_000.0;
const RECONNECT_MAX_MS: f64 = 30_000.0;

/// One open WebSocket and its listeners; dropping it closes the socket.
struct Conn {
    ws: WebSocket,
    _listeners: Vec<Listener>,
}

impl Drop for Conn {
    fn drop(&mut self) {
        let _ = self.ws.close();
    }
}

pub struct Shared {
    client: Client,
    conn: Option<Conn>,
    backend: Backend,
    /// The URL the backend was last given (a repeated load does nothing).
    loaded: Option<String>,
    sink: Sink,
    apis: Apis,
    /// Where relative sources resolve (the room's server).
    base: String,
    /// The room's local file, while it plays one.
    local: Option<LocalFile>,
    /// A file this member opened, with its fingerprint: played at once
    /// when the room's source is (or becomes) that file.
    own_file: Option<(web_sys::File, String)>,
    video: HtmlVideoElement,
    events: EventTarget,
    /// The text tracks: the stream's own (the element's loads hand them
    /// over) and this member's files.
    text: Rc<RefCell<TextTracks>>,
    ws_url: String,
    /// The edge time endpoint's socket (none: the room's pings alone).
    edge: Option<edge::EdgeSocket>,
    timer: Option<Timeout>,
    reconnect_timer: Option<Timeout>,
    reconnect_attempt: u32,
    play_in_flight: bool,
    /// Muted by us after autoplay was refused: unmuted on the next gesture.
    auto_muted: bool,
    /// When the engine last unmuted what we muted for autoplay rules, and
    /// we muted it again (a pause right after is the engine's).
    engine_unmuted_at: Option<f64>,
    audio: Option<Audio>,
    left: bool,
    _listeners: Vec<Listener>,
}

pub type Handle = Rc<RefCell<Shared>>;

/// How soon after the engine unmuted what we muted for autoplay rules a
/// pause is taken as the engine's (WebKitGTK's came within 11 ms).
const ENGINE_PAUSE_MS: f64 = 1_000.0;

/// Where a member's resume token is kept across page reloads (per tab).
fn resume_key(ws_url: &str) -> String {
    format!("watch-together:resume:{ws_url}")
}

fn session_storage() -> Option<web_sys::Storage> {
    web_sys::window().and_then(|w| w.session_storage().ok().flatten())
}

/// Where the backends' events go: the session, once it exists.
fn sink(slot: Rc<RefCell<Weak<RefCell<Shared>>>>) -> Sink {
    Rc::new(move |ev| {
        let weak = slot.borrow().clone();
        on_backend(&weak, ev);
    })
}

fn on_backend(weak: &Weak<RefCell<Shared>>, ev: BackendEvent) {
    match ev {
        BackendEvent::Media(ev) => with(weak, |s| {
            // Muted by us for autoplay rules, no gesture since (one clears
            // `auto_muted`), and the engine unmuted it a moment ago: a
            // pause now is the engine's, not the viewer's. WebKitGTK
            // paused such an element 4–11 ms after it unmuted it by itself,
            // and read as the viewer's, that pause stopped the whole room
            // (2026-12-05). The next tick plays it again.
            let engine_unmuted = s.engine_unmuted_at.is_some_and(|t| now_ms() - t <= ENGINE_PAUSE_MS);
            if engine_unmuted && s.auto_muted && matches!(ev, MediaEvent::Pause) && matches!(s.backend, Backend::Element(_)) {
                s.client.handle_engine_pause();
                return;
            }
            // A failed element pauses (Chromium: `pause` right after
            // `error`): not the viewer's, and the room plays on while this
            // member's element is loaded again.
            if matches!(ev, MediaEvent::Pause) && matches!(&s.backend, Backend::Element(e) if e.failed()) {
                s.client.handle_engine_pause();
                return;
            }
            let obs = s.backend.observe();
            s.client.handle_media_event(now_ms(), ev, &obs);
        }),
        BackendEvent::Report { position, playing, at } => with(weak, |s| s.client.handle_position_report(at, position, playing)),
        BackendEvent::Capabilities(caps) => with(weak, |s| s.client.handle_backend(caps)),
        BackendEvent::PositionReads(reads) => with(weak, |s| s.client.handle_position_reads(reads)),
        BackendEvent::Error { code, message } => {
            if let Some(events) = weak.upgrade().and_then(|s| s.try_borrow().ok().map(|s| s.events.clone())) {
                emit(&events, Event::Error, &error_detail(code, &message));
            }
        }
        BackendEvent::MediaFailed { message } => {
            let Some(rc) = weak.upgrade() else { return };
            let (recovered, events) = {
                let Ok(mut s) = rc.try_borrow_mut() else { return };
                let recovered = match &mut s.backend {
                    Backend::Element(e) => e.recover(),
                    _ => false,
                };
                (recovered, s.events.clone())
            };
            if recovered {
                web_sys::console::warn_1(&format!("watch-together: the video element failed ({message}); loading the source again").into());
            } else {
                emit(&events, Event::Error, &error_detail("media", &message));
            }
        }
        BackendEvent::NeedsGesture => {
            let Some(rc) = weak.upgrade() else { return };
            let events = {
                let Ok(mut s) = rc.try_borrow_mut() else { return };
                s.auto_muted = true;
                s.events.clone()
            };
            emit(&events, Event::NeedsGesture, &JsValue::NULL);
        }
    }
}

pub fn start(
    ws_url: String,
    server: String,
    edge_time: Option<String>,
    identity: Identity,
    video: HtmlVideoElement,
    normalize: bool,
    apis: Apis,
) -> Result<Handle, JsValue> {
    let events = EventTarget::new()?;
    // Media from another origin reaches WebAudio only through CORS (the
    // media proxy answers with it); same-origin media is unaffected.
    video.set_cross_origin(Some("anonymous"));
    let audio = match Audio::new(video.unchecked_ref(), events.clone(), normalize) {
        Ok(a) => Some(a),
        Err(e) => {
            web_sys::console::warn_2(&"watch-together: no WebAudio, playing without normalisation:".into(), &e);
            None
        }
    };
    let seed = (js_sys::Math::random() * 9_007_199_254_740_992.0) as u64;
    let edge_clock = edge_time.is_some().then(sync_core::clock::ClockConfig::edge);
    let mut client = Client::new(ClientConfig { seed, edge_clock, ..ClientConfig::default() }, identity);
    client.set_resume_token(session_storage().and_then(|s| s.get_item(&resume_key(&ws_url)).ok().flatten()));
    let slot = Rc::new(RefCell::new(Weak::new()));
    let sink = sink(slot.clone());
    let text = TextTracks::new(video.clone(), events.clone());
    let element = Element::new(&video, &events, server.clone(), sink.clone(), &text)?;
    let shared = Rc::new(RefCell::new(Shared {
        client,
        conn: None,
        backend: Backend::Element(element),
        loaded: None,
        sink,
        apis,
        base: server,
        local: None,
        own_file: None,
        video: video.clone(),
        events,
        text,
        ws_url,
        edge: edge_time.map(edge::EdgeSocket::new),
        timer: None,
        reconnect_timer: None,
        reconnect_attempt: 0,
        play_in_flight: false,
        auto_muted: false,
        engine_unmuted_at: None,
        audio,
        left: false,
        _listeners: Vec::new(),
    }));
    let weak = Rc::downgrade(&shared);
    *slot.borrow_mut() = weak.clone();
    let mut listeners = Vec::new();
    if let Some(window) = web_sys::window() {
        // A gesture may unmute what autoplay rules made us mute.
        for kind in ["pointerdown", "keydown", "touchend"] {
            let w = weak.clone();
            listeners.push(Listener::new(window.as_ref(), kind, move |_| {
                let Some(rc) = w.upgrade() else { return };
                let Ok(mut s) = rc.try_borrow_mut() else { return };
                if s.auto_muted {
                    s.auto_muted = false;
                    s.backend.unmute();
                    let events = s.events.clone();
                    drop(s);
                    emit(&events, Event::Unmuted, &JsValue::NULL);
                }
            })?);
        }
        // Back online or visible again: reconnect now instead of waiting out the backoff.
        for (target, kind) in [
            (window.clone().unchecked_into::<EventTarget>(), "online"),
            (window.document().map(|d| d.unchecked_into()).unwrap_or_else(|| window.clone().unchecked_into()), "visibilitychange"),
        ] {
            let w = weak.clone();
            listeners.push(Listener::new(&target, kind, move |_| {
                let reconnect = w.upgrade().is_some_and(|s| {
                    let s = s.borrow();
                    s.conn.is_none() && !s.left
                });
                if reconnect {
                    connect(&w);
                }
            })?);
        }
    }
    // What autoplay rules made us mute stays muted until a gesture: WebKitGTK
    // unmuted such an element by itself when it began to play (2026-12-05:
    // no script set `muted`), and an element heard through a still-suspended
    // AudioContext stalls there, so the room corrected it by seek after seek.
    // (A gesture clears `auto_muted` before any unmute it causes: the
    // listeners above run at pointerdown and keydown.)
    let w = weak.clone();
    let v = video.clone();
    let target: &EventTarget = video.as_ref();
    listeners.push(Listener::new(target, "volumechange", move |_| {
        if v.muted() {
            return;
        }
        let Some(rc) = w.upgrade() else { return };
        let Ok(mut s) = rc.try_borrow_mut() else { return };
        if s.auto_muted && !s.left && matches!(s.backend, Backend::Element(_)) {
            s.engine_unmuted_at = Some(now_ms());
            drop(s);
            v.set_muted(true);
        }
    })?);
    shared.borrow_mut()._listeners = listeners;
    connect(&weak);
    Ok(shared)
}

/// Run `f` on the shared state, then drain the client's outputs.
pub fn with(weak: &Weak<RefCell<Shared>>, f: impl FnOnce(&mut Shared)) {
    let Some(rc) = weak.upgrade() else { return };
    {
        let Ok(mut s) = rc.try_borrow_mut() else { return };
        if s.left {
            return;
        }
        f(&mut s);
    }
    pump(weak);
}

/// Drain outputs: sends and media actions while borrowed, page events after.
fn pump(weak: &Weak<RefCell<Shared>>) {
    let Some(rc) = weak.upgrade() else { return };
    let (events, target, play, events_out) = {
        let Ok(mut s) = rc.try_borrow_mut() else { return };
        let mut events = Vec::new();
        let mut events_out: Vec<(Event, JsValue)> = Vec::new();
        let mut play = false;
        while let Some(out) = s.client.poll_output() {
            match out {
                ClientOutput::Send(msg) => {
                    if let Some(c) = &s.conn {
                        let _ = c.ws.send_with_str(&msg.encode());
                    }
                }
                ClientOutput::EdgeProbe { t0 } => {
                    if !s.edge.as_mut().is_some_and(|e| e.probe(weak, t0)) {
                        s.client.handle_edge_failed(now_ms());
                    }
                }
                ClientOutput::Media(action) => match action {
                    MediaAction::Load(url) => {
                        if let Some(e) = s.load(&url) {
                            events_out.push(e);
                        }
                    }
                    MediaAction::Play => match &s.backend {
                        Backend::Element(e) => play = !e.awaiting_file(),
                        Backend::YouTube(y) => y.play(),
                        Backend::Vimeo(v) => v.play(),
                    },
                    MediaAction::Pause => {
                        play = false;
                        s.backend.pause();
                    }
                    MediaAction::Seek(t) => s.backend.seek(t),
                    MediaAction::SetRate { rate, preserve_pitch } => s.backend.set_rate(rate, preserve_pitch),
                },
                ClientOutput::Event(e) => {
                    if let ClientEvent::Subtitles { subtitles, delay_ms, .. } = &e {
                        s.room_subtitles(subtitles, *delay_ms);
                    }
                    if matches!(e, ClientEvent::Joined { .. }) {
                        if let (Some(store), Some(token)) = (session_storage(), s.client.resume_token()) {
                            let _ = store.set_item(&resume_key(&s.ws_url), token);
                        }
                    }
                    events.push(e)
                }
            }
        }
        if let Some(t) = s.client.poll_timeout() {
            let delay = (t - now_ms()).max(0.0).min(60_000.0) as u32;
            let w = weak.clone();
            s.timer = Some(Timeout::new(delay, move || {
                with(&w, |s| {
                    let obs = s.backend.observe();
                    s.client.handle_timeout(now_ms(), &obs);
                })
            }));
        }
        (events, s.events.clone(), play, events_out)
    };
    if play {
        request_play(weak);
    }
    for e in events {
        dispatch(&target, e);
    }
    for (kind, detail) in events_out {
        emit(&target, kind, &detail);
    }
}

/// A core event to the page, in the JS API's names (see `detail`).
fn dispatch(target: &EventTarget, e: ClientEvent) {
    let (event, detail) = match e {
        ClientEvent::Joined { member, role } => (Event::Joined, detail::joined(member, role)),
        ClientEvent::Source { source, by } => (Event::Source, detail::source(&source, by)),
        ClientEvent::Queue(q) => (Event::Queue, detail::queue(&q)),
        ClientEvent::Bans(b) => (Event::Bans, detail::wire_array(&b)),
        ClientEvent::Subtitles { subtitles, delay_ms, language } => (Event::Subtitles, detail::subtitles(&subtitles, delay_ms, &language)),
        ClientEvent::Settings { mode, has_password } => (Event::Settings, detail::settings(mode, has_password)),
        ClientEvent::Chat(line) => (Event::Chat, detail::wire(&line)),
        ClientEvent::Reverted { message } => (Event::Reverted, error_detail("forbidden", &message)),
        ClientEvent::State { playback, seq, by, reason } => (Event::State, detail::state(&playback, seq, by, reason)),
        ClientEvent::Members(m) => (Event::Members, detail::members(&m)),
        ClientEvent::Error { code, message } => (Event::Error, error_detail(code.as_str(), &message)),
        ClientEvent::Stats(s) => (Event::Stats, detail::stats(&s)),
    };
    emit(target, event, &detail);
}

/// One play() in flight at a time. NotAllowedError (autoplay policy) falls
/// back to muted playback and tells the page it needs a gesture to unmute.
fn request_play(weak: &Weak<RefCell<Shared>>) {
    let Some(rc) = weak.upgrade() else { return };
    let (video, events, audio) = {
        let Ok(mut s) = rc.try_borrow_mut() else { return };
        let Backend::Element(e) = &s.backend else { return };
        if s.play_in_flight || !e.video().paused() {
            return;
        }
        s.play_in_flight = true;
        (s.video.clone(), s.events.clone(), s.audio.clone())
    };
    let w = weak.clone();
    spawn_local(async move {
        // The context first: an element routed into a suspended one is silent.
        let silent = match &audio {
            Some(a) => !a.before_play().await,
            None => false,
        };
        // The room paused meanwhile: this play is void (it would land after
        // the pause and restart the room: seen in WebKit, 2026-12-05).
        let Some(rc) = w.upgrade() else { return };
        let void = rc.try_borrow().is_ok_and(|s| s.left || s.client.playback().is_some_and(|p| !p.playing));
        if void {
            if let Ok(mut s) = rc.try_borrow_mut() {
                s.play_in_flight = false;
                s.client.handle_play_dropped();
            }
            return;
        }
        drop(rc);
        let result = match video.play() {
            Ok(p) => JsFuture::from(p).await.map(|_| ()),
            Err(e) => Err(e),
        };
        if let Err(e) = result {
            match error_name(&e).as_str() {
                "NotAllowedError" => {
                    video.set_muted(true);
                    if let Some(rc) = w.upgrade() {
                        if let Ok(mut s) = rc.try_borrow_mut() {
                            s.auto_muted = true;
                        }
                    }
                    emit(&events, Event::NeedsGesture, &JsValue::NULL);
                    if let Ok(p) = video.play() {
                        let _ = JsFuture::from(p).await;
                    }
                }
                "AbortError" => {} // a pause or a new load interrupted it: expected
                _ => web_sys::console::warn_2(&"watch-together: play() failed".into(), &e),
            }
        } else if silent {
            // Playing, but into a suspended AudioContext: no sound until a gesture.
            emit(&events, Event::NeedsGesture, &JsValue::NULL);
        }
        if let Some(rc) = w.upgrade() {
            if let Ok(mut s) = rc.try_borrow_mut() {
                s.play_in_flight = false;
            }
        }
    });
}

fn connect(weak: &Weak<RefCell<Shared>>) {
    let Some(rc) = weak.upgrade() else { return };
    let url = {
        let Ok(mut s) = rc.try_borrow_mut() else { return };
        s.reconnect_timer = None;
        s.conn = None;
        s.ws_url.clone()
    };
    let ws = match WebSocket::new(&url) {
        Ok(ws) => ws,
        Err(_) => return schedule_reconnect(weak),
    };
    let target: &EventTarget = ws.as_ref();
    let w = weak.clone();
    let on_open = Listener::new(target, "open", move |_| {
        with(&w, |s| {
            s.reconnect_attempt = 0;
            s.client.handle_connected(now_ms());
        });
        emit_connection(&w, "open", None);
    });
    let w = weak.clone();
    let on_message = Listener::new(target, "message", move |e| {
        let Some(text) = e.dyn_ref::<MessageEvent>().and_then(|m| m.data().as_string()) else { return };
        with(&w, |s| {
            let obs = s.backend.observe();
            s.client.handle_server_text(now_ms(), &text, &obs);
        });
    });
    let w = weak.clone();
    let on_close = Listener::new(target, "close", move |e| {
        // The room said no (kicked, wrong password, banned, full, expired): do not retry.
        let refused = e.dyn_ref::<CloseEvent>().map(|c| c.code()).filter(|c| !close::may_reconnect(*c));
        with(&w, |s| {
            s.conn = None;
            s.client.handle_disconnected(now_ms());
            if refused.is_some() {
                s.left = true;
                // (Nothing will answer its callbacks any more.)
                s.edge = None;
            }
        });
        match refused {
            Some(code) => emit_connection(&w, if code == close::KICKED { "kicked" } else { "refused" }, None),
            None => schedule_reconnect(&w),
        }
    });
    let (Ok(a), Ok(b), Ok(c)) = (on_open, on_message, on_close) else {
        let _ = ws.close();
        return schedule_reconnect(weak);
    };
    if let Ok(mut s) = rc.try_borrow_mut() {
        s.conn = Some(Conn { ws, _listeners: vec![a, b, c] });
    }
    emit_connection(weak, "connecting", None);
}

/// Exponential backoff with jitter: 1 s, 2 s, 4 s … capped at 30 s.
fn schedule_reconnect(weak: &Weak<RefCell<Shared>>) {
    let Some(rc) = weak.upgrade() else { return };
    let delay = {
        let Ok(mut s) = rc.try_borrow_mut() else { return };
        if s.left || s.reconnect_timer.is_some() {
            return;
        }
        let base = (RECONNECT_MIN_MS * 2f64.powi(s.reconnect_attempt.min(10) as i32)).min(RECONNECT_MAX_MS);
        let delay = base * (0.5 + 0.5 * js_sys::Math::random());
        s.reconnect_attempt += 1;
        let w = weak.clone();
        s.reconnect_timer = Some(Timeout::new(delay as u32, move || connect(&w)));
        delay
    };
    emit_connection(weak, "closed", Some(delay));
}

fn emit_connection(weak: &Weak<RefCell<Shared>>, state: &str, retry_in_ms: Option<f64>) {
    let Some(rc) = weak.upgrade() else { return };
    let Ok(events) = rc.try_borrow().map(|s| s.events.clone()) else { return };
    let o = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&o, &"state".into(), &state.into());
    if let Some(ms) = retry_in_ms {
        let _ = js_sys::Reflect::set(&o, &"retryInMs".into(), &ms.into());
    }
    emit(&events, Event::Connection, &o);
}

impl Shared {
    pub fn command(&mut self, c: Command) {
        self.client.handle_user_command(now_ms(), c);
    }

    pub fn events(&self) -> EventTarget {
        self.events.clone()
    }

    pub fn text(&self) -> Rc<RefCell<TextTracks>> {
        self.text.clone()
    }

    /// The HTTP URL of the room's API, `…/api/rooms/<id>`.
    pub fn room_api(&self) -> String {
        let path = self.ws_url.split("/api/rooms/").nth(1).unwrap_or("").split(['/', '?']).next().unwrap_or("");
        format!("{}api/rooms/{path}", self.base)
    }

    pub fn resume_token(&self) -> Option<String> {
        self.client.resume_token().map(str::to_string)
    }

    /// The room's subtitle files and delay to the text tracks.
    fn room_subtitles(&self, files: &[sync_core::protocol::SubtitleInfo], delay_ms: f64) {
        let (api, token) = (self.room_api(), self.resume_token().unwrap_or_default());
        let Ok(mut text) = self.text.try_borrow_mut() else { return };
        let files = files
            .iter()
            .map(|f| crate::text::RoomFile::new(f.id, f.label.clone(), f.language.clone(), format!("{api}/subtitles/{}", f.id), token.clone()))
            .collect();
        text.set_room_files(files);
        let _ = text.set_room_delay(delay_ms / 1000.0);
    }

    pub fn stats(&self) -> JsValue {
        detail::stats(&self.client.stats())
    }

    /// The members as last heard, as the `members` event gives them.
    pub fn members(&self) -> JsValue {
        detail::members(self.client.members())
    }

    /// Our member id, once joined.
    pub fn me(&self) -> Option<u64> {
        self.client.member()
    }

    /// Our role, once joined (`"host"`, `"controller"` or `"viewer"`).
    pub fn role(&self) -> Option<&'static str> {
        self.client.role().map(|r| r.as_str())
    }

    /// Whether the room takes our playback, source and queue commands:
    /// the room's own rule, on our role and its mode.
    pub fn can_control(&self) -> bool {
        self.client.can_control()
    }

    /// The queue as last heard, as the `queue` event gives it.
    pub fn queue(&self) -> JsValue {
        detail::queue(self.client.queue())
    }

    /// The room's settings as last heard, as the `settings` event gives them.
    pub fn settings(&self) -> JsValue {
        detail::settings(self.client.mode(), self.client.has_password())
    }

    /// The media engine, while the element plays the source.
    pub fn player(&self) -> Option<&crate::engine::Player> {
        match &self.backend {
            Backend::Element(e) => Some(e.player()),
            _ => None,
        }
    }

    /// Give the backend the room's source (`url`: what the core loads, its
    /// `playable()`): the media engine for media URLs, an embed for YouTube
    /// and Vimeo, the element awaiting this member's own copy for a local
    /// file. A page event to dispatch after the borrow, if any.
    fn load(&mut self, url: &str) -> Option<(Event, JsValue)> {
        if self.loaded.as_deref() == Some(url) {
            return None;
        }
        self.loaded = Some(url.to_string());
        let src = self.client.source().filter(|src| src.playable() == url).cloned();
        let room_url = src.as_ref().map_or(url, |s| s.url.as_str()).to_string();
        self.local = None;
        let mut event = None;
        let caps_before = self.backend.capabilities();
        let made = match Source::parse(&room_url) {
            Ok(Source::YouTube { id, start }) => {
                YouTube::new(&self.video, &id, start, &self.apis.youtube, self.sink.clone()).map(|y| self.backend = Backend::YouTube(y))
            }
            Ok(Source::Vimeo { id, hash, start }) => {
                Vimeo::new(&self.video, id, hash.as_deref(), start, &self.apis.vimeo, self.sink.clone()).map(|v| self.backend = Backend::Vimeo(v))
            }
            Ok(Source::Local(file)) => {
                // This member's copy, if they opened it before: played at once.
                let own = self.own_file.take();
                let result = self.element().map(|e| {
                    e.await_file();
                    if let Some((f, _)) = own.as_ref().filter(|(_, fp)| *fp == file.fingerprint) {
                        let _ = e.open_file(f);
                    }
                });
                if let Some((f, fp)) = own {
                    if fp == file.fingerprint {
                        event = Some((Event::LocalFile, local::verdict(&file, &f, sync_core::source::LocalMatch::Same)));
                    }
                    self.own_file = Some((f, fp));
                }
                self.local = Some(file);
                result
            }
            _ => {
                let play_url = src.as_ref().and_then(|s| s.play_url.clone());
                self.element().map(|e| e.load_source(&room_url, play_url.as_deref()))
            }
        };
        if let Err(e) = made {
            event = Some((Event::Error, error_detail("media", &crate::dom::describe(&e))));
        }
        // Another kind of player: the sync loop starts afresh with what it offers.
        let caps = self.backend.capabilities();
        if caps != caps_before {
            self.client.handle_backend(caps);
        }
        event
    }

    /// The element backend: the current one, or a new one in place of an embed.
    fn element(&mut self) -> Result<&mut Element, JsValue> {
        if !matches!(self.backend, Backend::Element(_)) {
            self.backend = Backend::Element(Element::new(&self.video, &self.events, self.base.clone(), self.sink.clone(), &self.text)?);
        }
        match &mut self.backend {
            Backend::Element(e) => Ok(e),
            _ => Err(JsValue::from_str("no element backend")),
        }
    }

    /// `{position, duration, paused}` of what plays, whatever the backend
    /// (an embed's position as estimated from its reports).
    pub fn playhead(&self) -> JsValue {
        let obs = self.backend.observe();
        let position = self.client.position(now_ms(), &obs);
        detail::playhead(position, obs.duration, obs.paused)
    }

    pub fn chat(&mut self, text: String) {
        self.client.handle_chat(text);
    }

    pub fn set_correction(&mut self, on: bool) {
        self.client.set_correction(on);
    }

    pub fn set_normalize(&mut self, on: bool) {
        if let Some(a) = &self.audio {
            a.set_normalize(on);
        }
    }

    /// `{state, resumeAttempts, normalize, makeupGain}`, or null without WebAudio.
    pub fn audio(&self) -> JsValue {
        self.audio.as_ref().map_or(JsValue::NULL, Audio::status)
    }

    pub fn set_hold(&mut self, on: bool) {
        self.client.set_hold(on);
    }

    /// Say goodbye (the room removes us at once), close the socket, stop
    /// timers and listeners, release the element.
    pub fn leave(&mut self) {
        self.left = true;
        self.client.handle_leave(now_ms());
        while let Some(out) = self.client.poll_output() {
            if let (ClientOutput::Send(msg), Some(c)) = (out, &self.conn) {
                let _ = c.ws.send_with_str(&msg.encode());
            }
        }
        if let Some(store) = session_storage() {
            let _ = store.remove_item(&resume_key(&self.ws_url));
        }
        if let Some(c) = self.conn.take() {
            let _ = c.ws.close_with_code_and_reason(close::GONE, "left");
        }
        self.timer = None;
        self.reconnect_timer = None;
        self.edge = None;
        self._listeners.clear();
        self.audio = None;
        if let Backend::Element(e) = &mut self.backend {
            e.stop();
        }
        self.local = None;
        self.own_file = None;
        // An embed goes with its frame; the element stays, emptied.
        if !matches!(self.backend, Backend::Element(_)) {
            if let Ok(e) = Element::new(&self.video, &self.events, self.base.clone(), self.sink.clone(), &self.text) {
                self.backend = Backend::Element(e);
            }
        }
    }
}
