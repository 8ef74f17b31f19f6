//! YouTube through its IFrame Player API (`YT.Player`), as documented:
//! states -1/0/1/2/3/5, `getCurrentTime` updated by the frame's messages,
//! asynchronous `seekTo`, `setPlaybackRate` rounded to
//! `getAvailablePlaybackRates`, errors 2/5/100/101/150.
//!
//! Each message from the frame is a position report for the core's
//! estimator: timed when it arrives, read once every listener of the page
//! has run (the API's own may run after ours); a seek is ours until
//! the player is back playing or paused near its target; autoplay refused
//! (no PLAYING within 1.5 s of `playVideo`) falls back to muted.

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use gloo_timers::callback::Timeout;
use sync_core::backend::{Capabilities, RateControl, YOUTUBE_RATES};
use sync_core::client::{MediaEvent, MediaObservation};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::spawn_local;
use web_sys::HtmlVideoElement;

use super::{call, get, object, script, BackendEvent, Callbacks, Sink, Stage};
use crate::dom::{now_ms, Listener};

const PLAYING: i32 = 1;
const PAUSED: i32 = 2;
const BUFFERING: i32 = 3;
const ENDED: i32 = 0;
const AUTOPLAY_WAIT_MS: u32 = 1_500;
/// A seek not settled by then is taken as done (the player went on without saying).
const SEEK_GIVE_UP_MS: f64 = 5_000.0;

pub struct YouTube {
    inner: Rc<Inner>,
    _message: Option<Listener>,
    _stage: Stage,
}

struct Inner {
    player: RefCell<Option<JsValue>>,
    state: Cell<i32>,
    /// Our seek in flight: its target, and the time reported when it was issued.
    seek_to: Cell<Option<f64>>,
    seek_from: Cell<f64>,
    /// When it was issued (a seek that never settles is given up).
    seek_since: Cell<Option<f64>>,
    last_time: Cell<f64>,
    rates: RefCell<Vec<f64>>,
    muted_by_us: Cell<bool>,
    /// A play asked for while our seek was landing: given once it has.
    play_wanted: Cell<bool>,
    autoplay_check: RefCell<Option<Timeout>>,
    sink: Sink,
    callbacks: Callbacks,
    /// The read of a message's report, after the API has taken it in.
    pending_read: RefCell<Option<Timeout>>,
    me: RefCell<Weak<Inner>>,
    gone: Cell<bool>,
}

/// What the documented error codes mean, for people.
fn error_text(code: i64) -> (&'static str, &'static str) {
    match code {
        2 => ("embed-bad-id", "YouTube says this video id is not valid"),
        5 => ("embed-failed", "YouTube's player could not play this video (HTML5 player error)"),
        100 => ("embed-removed", "this YouTube video was removed or is private"),
        101 | 150 => ("embed-refused", "the owner of this YouTube video does not allow it to be played on other sites"),
        _ => ("embed-failed", "YouTube's player reported an error"),
    }
}

impl YouTube {
    pub fn new(video: &HtmlVideoElement, id: &str, start: f64, api: &str, sink: Sink) -> Result<YouTube, JsValue> {
        let stage = Stage::new(video)?;
        let doc = web_sys::window().and_then(|w| w.document()).ok_or("no document")?;
        let target = doc.create_element("div")?;
        stage.host.append_child(&target)?;
        let inner = Rc::new(Inner {
            player: RefCell::new(None),
            state: Cell::new(-1),
            seek_to: Cell::new(None),
            seek_from: Cell::new(f64::NAN),
            seek_since: Cell::new(None),
            last_time: Cell::new(start),
            rates: RefCell::new(YOUTUBE_RATES.to_vec()),
            muted_by_us: Cell::new(false),
            play_wanted: Cell::new(false),
            autoplay_check: RefCell::new(None),
            sink,
            callbacks: RefCell::new(Vec::new()),
            pending_read: RefCell::new(None),
            me: RefCell::new(Weak::new()),
            gone: Cell::new(false),
        });
        let weak = Rc::downgrade(&inner);
        *inner.me.borrow_mut() = weak.clone();
        let message = match web_sys::window() {
            Some(w) => {
                let weak = weak.clone();
                Some(Listener::new(w.as_ref(), "message", move |e| {
                    if let (Some(inner), Some(m)) = (weak.upgrade(), e.dyn_ref::<web_sys::MessageEvent>()) {
                        inner.on_message(m);
                    }
                })?)
            }
            None => None,
        };
        let (api, id) = (api.to_string(), id.to_string());
        spawn_local(async move {
            let ctor = match script::constructor(&api, &["YT", "Player"]).await {
                Ok(c) => c,
                Err(e) => {
                    if let Some(inner) = weak.upgrade() {
                        (inner.sink)(BackendEvent::Error { code: "embed-unavailable", message: crate::dom::describe(&e) });
                    }
                    return;
                }
            };
            let Some(inner) = weak.upgrade() else { return };
            if inner.gone.get() {
                return;
            }
            if let Err(e) = inner.create(&weak, &ctor, &target, &id, start) {
                (inner.sink)(BackendEvent::Error { code: "embed-failed", message: crate::dom::describe(&e) });
            }
        });
        Ok(YouTube { inner, _message: message, _stage: stage })
    }

    pub fn capabilities(&self) -> Capabilities {
        Capabilities::embed(RateControl::Stepped(self.inner.rates.borrow().clone()))
    }

    pub fn observe(&self) -> MediaObservation {
        let i = &self.inner;
        let Some(p) = i.player.borrow().clone() else {
            // Not ready yet: loading, like an element without data.
            return MediaObservation { paused: true, buffering: true, ..MediaObservation::default() };
        };
        let state = i.state.get();
        let duration = call(&p, "getDuration", &[]).ok().and_then(|d| d.as_f64()).filter(|d| *d > 0.0);
        MediaObservation {
            current_time: call(&p, "getCurrentTime", &[]).ok().and_then(|t| t.as_f64()).unwrap_or(i.last_time.get()),
            paused: !(state == PLAYING || state == BUFFERING),
            seeking: i.seek_to.get().is_some(),
            ended: state == ENDED,
            buffering: state == BUFFERING && i.seek_to.get().is_none(),
            duration,
            picture: None,
            picture_error: None,
            shows_frames: false,
        }
    }

    pub fn play(&self) {
        let i = &self.inner;
        let Some(p) = i.player.borrow().clone() else { return };
        if i.seek_to.get().is_some() {
            // A paused player's seek may settle paused again: play once it has landed.
            i.play_wanted.set(true);
            return;
        }
        i.start_playing(&p);
    }

    pub fn pause(&self) {
        self.inner.play_wanted.set(false);
        if let Some(p) = self.inner.player.borrow().as_ref() {
            let _ = call(p, "pauseVideo", &[]);
        }
    }

    pub fn seek(&self, to: f64) {
        if let Some(p) = self.inner.player.borrow().as_ref() {
            self.inner.seek_to.set(Some(to));
            self.inner.seek_from.set(self.inner.last_time.get());
            self.inner.seek_since.set(Some(now_ms()));
            let _ = call(p, "seekTo", &[to.into(), true.into()]);
        }
    }

    pub fn set_rate(&self, rate: f64) {
        if let Some(p) = self.inner.player.borrow().as_ref() {
            let _ = call(p, "setPlaybackRate", &[rate.into()]);
        }
    }

    pub fn unmute(&self) {
        if self.inner.muted_by_us.replace(false) {
            if let Some(p) = self.inner.player.borrow().as_ref() {
                let _ = call(p, "unMute", &[]);
            }
        }
    }
}

impl Inner {
    /// `playVideo`, and if autoplay is refused (no PLAYING within 1.5 s):
    /// muted, and the page told.
    fn start_playing(&self, p: &JsValue) {
        let _ = call(p, "playVideo", &[]);
        if self.muted_by_us.get() || self.autoplay_check.borrow().is_some() {
            return;
        }
        let weak = self.me.borrow().clone();
        *self.autoplay_check.borrow_mut() = Some(Timeout::new(AUTOPLAY_WAIT_MS, move || {
            let Some(i) = weak.upgrade() else { return };
            i.autoplay_check.borrow_mut().take();
            let Some(p) = i.player.borrow().clone() else { return };
            if !matches!(i.state.get(), PLAYING | BUFFERING) {
                let _ = call(&p, "mute", &[]);
                let _ = call(&p, "playVideo", &[]);
                i.muted_by_us.set(true);
                (i.sink)(BackendEvent::NeedsGesture);
            }
        }));
    }

    fn create(&self, weak: &Weak<Inner>, ctor: &js_sys::Function, target: &web_sys::Element, id: &str, start: f64) -> Result<(), JsValue> {
        let handler = |f: fn(&Inner, JsValue)| {
            let weak = weak.clone();
            Closure::<dyn FnMut(JsValue)>::new(move |e: JsValue| {
                if let Some(inner) = weak.upgrade() {
                    f(&inner, e);
                }
            })
        };
        let on_ready = handler(Inner::on_ready);
        let on_state = handler(Inner::on_state);
        let on_error = handler(Inner::on_error);
        let origin = web_sys::window().and_then(|w| w.location().origin().ok()).unwrap_or_default();
        let vars =
            object(&[("playsinline", 1.into()), ("rel", 0.into()), ("start", (start as u32).into()), ("origin", origin.into()), ("enablejsapi", 1.into())]);
        let events = object(&[("onReady", on_ready.as_ref().clone()), ("onStateChange", on_state.as_ref().clone()), ("onError", on_error.as_ref().clone())]);
        let options = object(&[("videoId", id.into()), ("width", "100%".into()), ("height", "100%".into()), ("playerVars", vars), ("events", events)]);
        self.callbacks.borrow_mut().extend([on_ready, on_state, on_error]);
        js_sys::Reflect::construct(ctor, &[target.into(), options].iter().collect())?;
        Ok(())
    }

    fn on_ready(&self, e: JsValue) {
        let p = get(&e, "target");
        let rates: Vec<f64> = call(&p, "getAvailablePlaybackRates", &[])
            .ok()
            .and_then(|r| r.dyn_into::<js_sys::Array>().ok())
            .map(|a| a.iter().filter_map(|v| v.as_f64()).collect())
            .filter(|r: &Vec<f64>| !r.is_empty())
            .unwrap_or_else(|| YOUTUBE_RATES.to_vec());
        *self.rates.borrow_mut() = rates.clone();
        *self.player.borrow_mut() = Some(p);
        (self.sink)(BackendEvent::Capabilities(Capabilities::embed(RateControl::Stepped(rates))));
    }

    fn on_state(&self, e: JsValue) {
        let Some(state) = get(&e, "data").as_f64().map(|s| s as i32) else { return };
        let before = self.state.replace(state);
        if state == PLAYING {
            self.autoplay_check.borrow_mut().take();
        }
        // Where our seek settles (playing or paused, as the player was) is
        // not the viewer's doing: no play or pause event for it.
        let ours = self.seek_to.get().is_some();
        self.check_seek();
        let event = match state {
            _ if ours => None,
            PLAYING if !matches!(before, PLAYING | BUFFERING) => Some(MediaEvent::Play),
            PAUSED | ENDED if before != state => Some(MediaEvent::Pause),
            _ => None,
        };
        self.report();
        if let Some(ev) = event {
            (self.sink)(BackendEvent::Media(ev));
        }
    }

    fn on_error(&self, e: JsValue) {
        let code = get(&e, "data").as_f64().unwrap_or(0.0) as i64;
        let (code, message) = error_text(code);
        (self.sink)(BackendEvent::Error { code, message: message.into() });
    }

    /// A message from our frame: the API has updated what it reports.
    fn on_message(&self, m: &web_sys::MessageEvent) {
        let Some(p) = self.player.borrow().clone() else { return };
        let frame = call(&p, "getIframe", &[]).ok().and_then(|f| f.dyn_into::<web_sys::HtmlIFrameElement>().ok());
        let ours = match (frame.and_then(|f| f.content_window()), m.source()) {
            (Some(w), Some(s)) => js_sys::Object::is(&w, &s),
            _ => false,
        };
        if ours {
            // Timed now; read after every listener of this message has run
            // (a later message replaces an unread one: value and time go together).
            let at = now_ms();
            let weak = self.me.borrow().clone();
            *self.pending_read.borrow_mut() = Some(Timeout::new(0, move || {
                if let Some(i) = weak.upgrade() {
                    i.pending_read.borrow_mut().take();
                    i.check_seek();
                    i.report_at(at);
                }
            }));
        }
    }

    /// Report the position if it moved (the API's value changes only when a
    /// message brought a new one).
    fn report(&self) {
        self.report_at(now_ms());
    }

    fn report_at(&self, at: f64) {
        let Some(p) = self.player.borrow().clone() else { return };
        let Some(t) = call(&p, "getCurrentTime", &[]).ok().and_then(|t| t.as_f64()) else { return };
        let before = self.last_time.replace(t);
        if t != before {
            (self.sink)(BackendEvent::Report { position: t, playing: self.state.get() == PLAYING && self.seek_to.get().is_none(), at });
            // A jump nobody here asked for: the viewer seeked in the embed's own controls.
            if self.seek_to.get().is_none() && (t - before).abs() > 2.0 {
                (self.sink)(BackendEvent::Media(MediaEvent::Seeked));
            }
        }
    }

    /// Our seek landed: playing or paused again, near its target.
    fn check_seek(&self) {
        let Some(target) = self.seek_to.get() else { return };
        let Some(p) = self.player.borrow().clone() else { return };
        let t = call(&p, "getCurrentTime", &[]).ok().and_then(|t| t.as_f64()).unwrap_or(f64::NAN);
        // (A new position since the seek was issued: the frame has taken it.
        // Settled in any state but BUFFERING: a seek from UNSTARTED that
        // tried to play and was refused autoplay settles there.)
        let settled = self.state.get() != BUFFERING && (t - target).abs() < 1.0 && t != self.seek_from.get();
        let stuck = self.seek_since.get().is_some_and(|at| now_ms() - at > SEEK_GIVE_UP_MS);
        if settled || stuck {
            self.seek_to.set(None);
            self.seek_since.set(None);
            if self.play_wanted.take() {
                self.start_playing(&p);
            }
            (self.sink)(BackendEvent::Media(MediaEvent::Seeked));
        }
    }
}

impl Drop for YouTube {
    fn drop(&mut self) {
        self.inner.gone.set(true);
        self.inner.autoplay_check.borrow_mut().take();
        self.inner.pending_read.borrow_mut().take();
        if let Some(p) = self.inner.player.borrow_mut().take() {
            let _ = call(&p, "destroy", &[]);
        }
    }
}
