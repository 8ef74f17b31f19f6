//! Vimeo through its Player SDK (`Vimeo.Player`), as documented: every
//! method returns a Promise, the position arrives in `timeupdate` events
//! (about four a second), rates between 0.5 and 2 (`setPlaybackRate`
//! rejects others), `play()` rejects with `NotAllowedError` when autoplay
//! is refused (then muted, and the page told), errors as `error` events.

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use sync_core::backend::{Capabilities, RateControl};
use sync_core::client::{MediaEvent, MediaObservation};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::{spawn_local, JsFuture};
use web_sys::HtmlVideoElement;

use super::{call, get, object, script, BackendEvent, Callbacks, Sink, Stage};
use crate::dom::{describe, error_name};

pub struct Vimeo {
    inner: Rc<Inner>,
    _stage: Stage,
}

struct Inner {
    player: RefCell<Option<JsValue>>,
    ready: Cell<bool>,
    paused: Cell<bool>,
    ended: Cell<bool>,
    buffering: Cell<bool>,
    time: Cell<f64>,
    duration: Cell<Option<f64>>,
    seek_to: Cell<Option<f64>>,
    play_in_flight: Cell<bool>,
    muted_by_us: Cell<bool>,
    sink: Sink,
    callbacks: Callbacks,
    gone: Cell<bool>,
}

/// Vimeo's documented playback rate range.
const RATES: RateControl = RateControl::Continuous { min: 0.5, max: 2.0 };

impl Vimeo {
    pub fn new(video: &HtmlVideoElement, id: u64, hash: Option<&str>, start: f64, api: &str, sink: Sink) -> Result<Vimeo, JsValue> {
        let stage = Stage::new(video)?;
        let inner = Rc::new(Inner {
            player: RefCell::new(None),
            ready: Cell::new(false),
            paused: Cell::new(true),
            ended: Cell::new(false),
            buffering: Cell::new(false),
            time: Cell::new(start),
            duration: Cell::new(None),
            seek_to: Cell::new(None),
            play_in_flight: Cell::new(false),
            muted_by_us: Cell::new(false),
            sink,
            callbacks: RefCell::new(Vec::new()),
            gone: Cell::new(false),
        });
        let weak = Rc::downgrade(&inner);
        let (api, host, hash) = (api.to_string(), stage.host.clone(), hash.map(str::to_string));
        spawn_local(async move {
            let ctor = match script::constructor(&api, &["Vimeo", "Player"]).await {
                Ok(c) => c,
                Err(e) => return fail(&weak, "embed-unavailable", describe(&e)),
            };
            let Some(inner) = weak.upgrade().filter(|i| !i.gone.get()) else { return };
            let mut options = vec![("id", JsValue::from_f64(id as f64)), ("width", 640.into()), ("playsinline", true.into()), ("autoplay", false.into())];
            if let Some(h) = &hash {
                options.push(("url", format!("https://vimeo.com/{id}/{h}").into()));
            }
            let player = match js_sys::Reflect::construct(&ctor, &[host.into(), object(&options)].iter().collect()) {
                Ok(p) => p,
                Err(e) => return fail(&weak, "embed-failed", describe(&e)),
            };
            inner.listen(&weak, &player);
            *inner.player.borrow_mut() = Some(player.clone());
            drop(inner);
            let ready = call(&player, "ready", &[]).and_then(|p| p.dyn_into::<js_sys::Promise>());
            let result = match ready {
                Ok(p) => JsFuture::from(p).await,
                Err(e) => Err(e),
            };
            let Some(inner) = weak.upgrade() else { return };
            match result {
                Ok(_) => {
                    inner.ready.set(true);
                    if start > 0.0 {
                        let _ = call(&player, "setCurrentTime", &[start.into()]);
                    }
                    (inner.sink)(BackendEvent::Capabilities(Capabilities::embed(RATES)));
                }
                Err(e) => inner.on_error(e),
            }
        });
        Ok(Vimeo { inner, _stage: stage })
    }

    pub fn capabilities(&self) -> Capabilities {
        Capabilities::embed(RATES)
    }

    pub fn observe(&self) -> MediaObservation {
        let i = &self.inner;
        if !i.ready.get() {
            return MediaObservation { paused: true, buffering: true, ..MediaObservation::default() };
        }
        MediaObservation {
            current_time: i.time.get(),
            paused: i.paused.get(),
            seeking: i.seek_to.get().is_some(),
            ended: i.ended.get(),
            buffering: i.buffering.get() && i.seek_to.get().is_none(),
            duration: i.duration.get(),
            picture: None,
            picture_error: None,
            shows_frames: false,
        }
    }

    pub fn play(&self) {
        let i = &self.inner;
        let Some(p) = i.player.borrow().clone().filter(|_| i.ready.get()) else { return };
        if i.play_in_flight.replace(true) {
            return;
        }
        let weak = Rc::downgrade(&self.inner);
        spawn_local(async move {
            let result = promise(&p, "play", &[]).await;
            let Some(i) = weak.upgrade() else { return };
            if let Err(e) = result {
                if error_name(&e) == "NotAllowedError" {
                    let _ = promise(&p, "setMuted", &[true.into()]).await;
                    i.muted_by_us.set(true);
                    (i.sink)(BackendEvent::NeedsGesture);
                    let _ = promise(&p, "play", &[]).await;
                }
            }
            i.play_in_flight.set(false);
        });
    }

    pub fn pause(&self) {
        if let Some(p) = self.inner.player.borrow().as_ref() {
            let _ = call(p, "pause", &[]);
        }
    }

    pub fn seek(&self, to: f64) {
        let Some(p) = self.inner.player.borrow().clone() else { return };
        self.inner.seek_to.set(Some(to));
        let weak = Rc::downgrade(&self.inner);
        spawn_local(async move {
            let landed = promise(&p, "setCurrentTime", &[to.into()]).await;
            if let (Some(i), Ok(at)) = (weak.upgrade(), landed) {
                i.landed(at.as_f64().unwrap_or(to));
            }
        });
    }

    pub fn set_rate(&self, rate: f64) {
        if let Some(p) = self.inner.player.borrow().as_ref() {
            // Out of range is refused by the SDK (a rejected promise): the caps keep us inside.
            if let Ok(pr) = call(p, "setPlaybackRate", &[rate.into()]).and_then(|p| p.dyn_into::<js_sys::Promise>()) {
                spawn_local(async move {
                    let _ = JsFuture::from(pr).await;
                });
            }
        }
    }

    pub fn unmute(&self) {
        if self.inner.muted_by_us.replace(false) {
            if let Some(p) = self.inner.player.borrow().as_ref() {
                let _ = call(p, "setMuted", &[false.into()]);
            }
        }
    }
}

/// `obj[name](...args)`, awaited.
async fn promise(obj: &JsValue, name: &str, args: &[JsValue]) -> Result<JsValue, JsValue> {
    let p: js_sys::Promise = call(obj, name, args)?.dyn_into()?;
    JsFuture::from(p).await
}

fn fail(weak: &Weak<Inner>, code: &'static str, message: String) {
    if let Some(i) = weak.upgrade() {
        (i.sink)(BackendEvent::Error { code, message });
    }
}

impl Inner {
    fn listen(&self, weak: &Weak<Inner>, player: &JsValue) {
        let on = |name: &str, f: fn(&Inner, JsValue)| {
            let weak = weak.clone();
            let cb = Closure::<dyn FnMut(JsValue)>::new(move |data: JsValue| {
                if let Some(i) = weak.upgrade() {
                    f(&i, data);
                }
            });
            let _ = call(player, "on", &[name.into(), cb.as_ref().clone()]);
            self.callbacks.borrow_mut().push(cb);
        };
        on("play", |i, _| {
            i.ended.set(false);
            if i.paused.replace(false) {
                (i.sink)(BackendEvent::Media(MediaEvent::Play));
            }
        });
        on("pause", |i, _| {
            if !i.paused.replace(true) {
                (i.sink)(BackendEvent::Media(MediaEvent::Pause));
            }
        });
        on("ended", |i, _| {
            i.ended.set(true);
            if !i.paused.replace(true) {
                (i.sink)(BackendEvent::Media(MediaEvent::Pause));
            }
        });
        on("timeupdate", |i, d| {
            i.take_times(&d);
            let playing = !i.paused.get() && !i.buffering.get() && i.seek_to.get().is_none();
            (i.sink)(BackendEvent::Report { position: i.time.get(), playing, at: crate::dom::now_ms() });
        });
        on("seeked", |i, d| {
            i.take_times(&d);
            match i.seek_to.get() {
                Some(_) => i.landed(i.time.get()),
                // The viewer seeked in the embed's own controls.
                None => (i.sink)(BackendEvent::Media(MediaEvent::Seeked)),
            }
        });
        on("bufferstart", |i, _| i.buffering.set(true));
        on("bufferend", |i, _| i.buffering.set(false));
        on("error", Inner::on_error);
    }

    fn take_times(&self, d: &JsValue) {
        if let Some(t) = get(d, "seconds").as_f64() {
            self.time.set(t);
        }
        if let Some(t) = get(d, "duration").as_f64().filter(|t| *t > 0.0) {
            self.duration.set(Some(t));
        }
    }

    fn landed(&self, at: f64) {
        if self.seek_to.take().is_some() {
            self.time.set(at);
            (self.sink)(BackendEvent::Media(MediaEvent::Seeked));
        }
    }

    fn on_error(&self, e: JsValue) {
        let name = get(&e, "name").as_string().unwrap_or_default();
        let (code, message) = match name.as_str() {
            "PrivacyError" => ("embed-refused", "the owner of this Vimeo video does not allow it to be played here".to_string()),
            "NotFoundError" => ("embed-removed", "this Vimeo video does not exist or was removed".to_string()),
            "PasswordError" => ("embed-refused", "this Vimeo video is password-protected".to_string()),
            _ => ("embed-failed", format!("Vimeo's player reported an error: {}", describe(&e))),
        };
        (self.sink)(BackendEvent::Error { code, message });
    }
}

impl Drop for Vimeo {
    fn drop(&mut self) {
        self.inner.gone.set(true);
        if let Some(p) = self.inner.player.borrow_mut().take() {
            let _ = call(&p, "destroy", &[]);
        }
    }
}
