//! The room session: a WebSocket to the room, sync-core's [`Client`] and
//! the [`Player`], glued by event listeners and one timer.
//!
//! All state lives in [`Shared`]; callbacks hold only a `Weak` to it, so
//! dropping the session frees everything (no reference cycles). Outputs are
//! drained while borrowed, events are dispatched to the page after the
//! borrow is released (a page listener may call back into the session).

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use gloo_timers::callback::Timeout;
use sync_core::client::{Client, ClientConfig, ClientEvent, ClientOutput, Identity, MediaAction, MediaEvent, MediaObservation};
use sync_core::json::{self, ObjWriter};
use sync_core::protocol::{close, json_array, Command, Wire};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::{spawn_local, JsFuture};
use web_sys::{CloseEvent, EventTarget, HtmlVideoElement, MessageEvent, WebSocket};

use crate::audio::Audio;
use crate::dom::{emit, error_name, media_error_text, now_ms, Listener};
use crate::player::{error_detail, Player};

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
    player: Player,
    video: HtmlVideoElement,
    events: EventTarget,
    ws_url: String,
    timer: Option<Timeout>,
    reconnect_timer: Option<Timeout>,
    reconnect_attempt: u32,
    play_in_flight: bool,
    /// Muted by us after autoplay was refused: unmuted on the next gesture.
    auto_muted: bool,
    audio: Option<Audio>,
    left: bool,
    _listeners: Vec<Listener>,
}

pub type Handle = Rc<RefCell<Shared>>;

/// The `stats` event and `Session.stats()`: see `SyncStats` in the typings.
fn stats_json(s: &sync_core::client::Stats) -> String {
    json::object(|o| {
        o.num_or_null("offsetMs", s.offset_ms).num_or_null("offsetErrorMs", s.offset_error_ms).num_or_null("rttMs", s.rtt_ms).num("skewPpm", s.skew_ppm);
        o.num_or_null("driftMs", s.drift_ms).num("rate", s.rate).uint("rateCorrections", s.rate_corrections).uint("seekCorrections", s.seek_corrections);
        o.num("seekLandingMs", s.seek_landing_ms).num("nudgeCostMs", s.nudge_cost_ms).bool("correcting", s.correcting);
    })
}

/// A JSON text made by the core, as a JS value (`null` if it were not JSON).
fn from_json(text: &str) -> JsValue {
    js_sys::JSON::parse(text).unwrap_or(JsValue::NULL)
}

/// Where a member's resume token is kept across page reloads (per tab).
fn resume_key(ws_url: &str) -> String {
    format!("watch-together:resume:{ws_url}")
}

fn session_storage() -> Option<web_sys::Storage> {
    web_sys::window().and_then(|w| w.session_storage().ok().flatten())
}

fn observe(video: &HtmlVideoElement) -> MediaObservation {
    let duration = video.duration();
    MediaObservation {
        current_time: video.current_time(),
        paused: video.paused(),
        seeking: video.seeking(),
        ended: video.ended(),
        buffering: video.ready_state() < 3,
        duration: duration.is_finite().then_some(duration),
    }
}

pub fn start(ws_url: String, server: String, identity: Identity, video: HtmlVideoElement, normalize: bool) -> Result<Handle, JsValue> {
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
    let mut client = Client::new(ClientConfig { seed, ..ClientConfig::default() }, identity);
    client.set_resume_token(session_storage().and_then(|s| s.get_item(&resume_key(&ws_url)).ok().flatten()));
    let shared = Rc::new(RefCell::new(Shared {
        client,
        conn: None,
        player: Player::with_base(video.clone(), events.clone(), server),
        video: video.clone(),
        events,
        ws_url,
        timer: None,
        reconnect_timer: None,
        reconnect_attempt: 0,
        play_in_flight: false,
        auto_muted: false,
        audio,
        left: false,
        _listeners: Vec::new(),
    }));
    let weak = Rc::downgrade(&shared);
    let mut listeners = Vec::new();
    for (kind, ev) in [("play", MediaEvent::Play), ("pause", MediaEvent::Pause), ("seeked", MediaEvent::Seeked)] {
        let w = weak.clone();
        listeners.push(Listener::new(&video, kind, move |_| {
            with(&w, |s| {
                let obs = observe(&s.video);
                s.client.handle_media_event(now_ms(), ev, &obs);
            })
        })?);
    }
    let w = weak.clone();
    listeners.push(Listener::new(&video, "error", move |_| {
        if let Some(s) = w.upgrade() {
            let (events, text) = {
                let s = s.borrow();
                (s.events.clone(), s.video.error().map(|e| media_error_text(&e)).unwrap_or_default())
            };
            emit(&events, "error", &error_detail("media", &text));
        }
    })?);
    if let Some(window) = web_sys::window() {
        // A gesture may unmute what autoplay rules made us mute.
        for kind in ["pointerdown", "keydown", "touchend"] {
            let w = weak.clone();
            listeners.push(Listener::new(window.as_ref(), kind, move |_| {
                let Some(rc) = w.upgrade() else { return };
                let Ok(mut s) = rc.try_borrow_mut() else { return };
                if s.auto_muted {
                    s.auto_muted = false;
                    s.video.set_muted(false);
                    let events = s.events.clone();
                    drop(s);
                    emit(&events, "unmuted", &JsValue::NULL);
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
    let (events, target, play) = {
        let Ok(mut s) = rc.try_borrow_mut() else { return };
        let mut events = Vec::new();
        let mut play = false;
        while let Some(out) = s.client.poll_output() {
            match out {
                ClientOutput::Send(msg) => {
                    if let Some(c) = &s.conn {
                        let _ = c.ws.send_with_str(&msg.encode());
                    }
                }
                ClientOutput::Media(action) => match action {
                    MediaAction::Load(url) => {
                        // The room's source, to tell a proxied one (only the
                        // media proxy may be fetched) from one played directly.
                        match s.client.source().filter(|src| src.playable() == url).cloned() {
                            Some(src) => s.player.load_source(&src.url, src.play_url.as_deref()),
                            None => s.player.load_source(&url, None),
                        }
                    }
                    MediaAction::Play => play = true,
                    MediaAction::Pause => {
                        play = false;
                        let _ = s.video.pause();
                    }
                    MediaAction::Seek(t) => s.video.set_current_time(t),
                    MediaAction::SetRate { rate, preserve_pitch } => {
                        // Not in web-sys; every engine has it unprefixed now.
                        let key = wasm_bindgen::JsValue::from_str("preservesPitch");
                        if js_sys::Reflect::get(&s.video, &key).ok().and_then(|v| v.as_bool()) != Some(preserve_pitch) {
                            let _ = js_sys::Reflect::set(&s.video, &key, &preserve_pitch.into());
                        }
                        s.video.set_playback_rate(rate);
                    }
                },
                ClientOutput::Event(e) => {
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
                    let obs = observe(&s.video);
                    s.client.handle_timeout(now_ms(), &obs);
                })
            }));
        }
        (events, s.events.clone(), play)
    };
    if play {
        request_play(weak);
    }
    for e in events {
        dispatch(&target, e);
    }
}

fn dispatch(target: &EventTarget, e: ClientEvent) {
    let object = |f: &dyn Fn(&mut ObjWriter)| from_json(&json::object(f));
    let (kind, detail) = match e {
        ClientEvent::Joined { member, role } => (
            "joined",
            object(&|o| {
                o.uint("member", member).str("role", role.as_str());
            }),
        ),
        ClientEvent::Source(s) => ("source", from_json(&s.json())),
        ClientEvent::Queue(q) => ("queue", from_json(&json_array(&q))),
        ClientEvent::Bans(b) => ("bans", from_json(&json_array(&b))),
        ClientEvent::Settings { mode, has_password } => (
            "settings",
            object(&|o| {
                o.str("mode", mode.as_str()).bool("hasPassword", has_password);
            }),
        ),
        ClientEvent::Chat(line) => ("chat", from_json(&line.json())),
        ClientEvent::Reverted { message } => ("reverted", error_detail("forbidden", &message)),
        ClientEvent::State { playback, seq } => (
            "state",
            object(&|o| {
                o.bool("playing", playback.playing).num("position", playback.position).num("rate", playback.rate).uint("seq", seq);
            }),
        ),
        ClientEvent::Members(m) => ("members", from_json(&json_array(&m))),
        ClientEvent::Error { code, message } => ("error", error_detail(code.as_str(), &message)),
        ClientEvent::Stats(s) => ("stats", from_json(&stats_json(&s))),
    };
    emit(target, kind, &detail);
}

/// One play() in flight at a time. NotAllowedError (autoplay policy) falls
/// back to muted playback and tells the page it needs a gesture to unmute.
fn request_play(weak: &Weak<RefCell<Shared>>) {
    let Some(rc) = weak.upgrade() else { return };
    let (video, events, audio) = {
        let Ok(mut s) = rc.try_borrow_mut() else { return };
        if s.play_in_flight || !s.video.paused() {
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
                    emit(&events, "needs-gesture", &JsValue::NULL);
                    if let Ok(p) = video.play() {
                        let _ = JsFuture::from(p).await;
                    }
                }
                "AbortError" => {} // a pause or a new load interrupted it: expected
                _ => web_sys::console::warn_2(&"watch-together: play() failed".into(), &e),
            }
        } else if silent {
            // Playing, but into a suspended AudioContext: no sound until a gesture.
            emit(&events, "needs-gesture", &JsValue::NULL);
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
            let obs = observe(&s.video);
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
    emit(&events, "connection", &o);
}

impl Shared {
    pub fn command(&mut self, c: Command) {
        self.client.handle_user_command(now_ms(), c);
    }

    pub fn events(&self) -> EventTarget {
        self.events.clone()
    }

    pub fn stats(&self) -> JsValue {
        from_json(&stats_json(&self.client.stats()))
    }

    pub fn player(&self) -> &Player {
        &self.player
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
        self._listeners.clear();
        self.audio = None;
        let _ = self.video.pause();
        self.player.stop();
    }
}
