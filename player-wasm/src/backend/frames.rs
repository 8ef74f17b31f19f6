//! The picture's clock: the media time of each frame shown and when it was
//! shown (`requestVideoFrameCallback`), so that a position can be read from
//! what is on screen. Where `currentTime` moves in coarse steps (Firefox: 25
//! times a second) a reading is 0–41 ms behind; the frames of the last
//! second, fitted at the element's rate (`sync_core::backend::PictureFit`),
//! are off only by what is left of their display times' jitter, which the
//! fit measures. Where `currentTime` runs ahead of what is shown (WebKitGTK with
//! the element routed into WebAudio: ~1 s after every start) the picture is
//! the only true reading. The core decides when to use it (see
//! `MediaObservation::picture` and the client's `read_lead`), so every
//! element with the API keeps it: one small callback per frame shown.
//!
//! The callback is re-armed from inside itself; dropping the clock cancels
//! the pending one and its listeners. A seek or a new source forgets the
//! frames (it shows what no longer plays). Not in web-sys's stable API,
//! so looked up once through `Reflect` (every engine that has it names it
//! the same).

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use sync_core::backend::{PictureFit, PictureReading};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::HtmlVideoElement;

use crate::dom::{now_ms, Listener};

/// Called with (now, VideoFrameCallbackMetadata) for each frame shown.
type OnFrame = Closure<dyn FnMut(f64, JsValue)>;

struct State {
    video: HtmlVideoElement,
    /// `video.requestVideoFrameCallback`, looked up once.
    request: js_sys::Function,
    /// The frames shown lately (`performance.now()` ms).
    fit: RefCell<PictureFit>,
    handle: Cell<Option<u32>>,
    callback: RefCell<Option<OnFrame>>,
}

impl State {
    fn arm(&self) {
        let Ok(cb) = self.callback.try_borrow() else { return };
        let Some(cb) = cb.as_ref() else { return };
        let handle = self.request.call1(&self.video, cb.as_ref().unchecked_ref()).ok().and_then(|h| h.as_f64());
        self.handle.set(handle.map(|h| h as u32));
    }
}

/// Owns the frame callback: dropped, it is cancelled.
pub struct FrameClock {
    state: Rc<State>,
    _listeners: Vec<Listener>,
}

impl FrameClock {
    /// `None` where the engine has no `requestVideoFrameCallback`.
    pub fn new(video: &HtmlVideoElement) -> Option<FrameClock> {
        let request = method(video, "requestVideoFrameCallback")?;
        let state =
            Rc::new(State { video: video.clone(), request, fit: RefCell::new(PictureFit::new()), handle: Cell::new(None), callback: RefCell::new(None) });
        let weak: Weak<State> = Rc::downgrade(&state);
        let cb = OnFrame::new(move |_now: f64, meta: JsValue| {
            let Some(s) = weak.upgrade() else { return };
            let num = |k: &str| js_sys::Reflect::get(&meta, &JsValue::from_str(k)).ok().and_then(|v| v.as_f64());
            if let (Some(media), Some(shown), Ok(mut fit)) = (num("mediaTime"), num("expectedDisplayTime"), s.fit.try_borrow_mut()) {
                fit.handle_frame(shown, media, s.video.playback_rate());
            }
            s.arm();
        });
        *state.callback.borrow_mut() = Some(cb);
        state.arm();
        let mut listeners = Vec::new();
        for kind in ["seeking", "emptied"] {
            let weak = Rc::downgrade(&state);
            if let Ok(l) = Listener::new(video, kind, move |_| {
                if let Some(s) = weak.upgrade() {
                    if let Ok(mut fit) = s.fit.try_borrow_mut() {
                        if kind == "emptied" {
                            fit.handle_new_source();
                        } else {
                            fit.handle_discontinuity();
                        }
                    }
                }
            }) {
                listeners.push(l);
            }
        }
        Some(FrameClock { state, _listeners: listeners })
    }

    /// Where the picture is now, and how far that may be off, if a frame
    /// of this source and position was shown lately and the element plays.
    pub fn picture(&self) -> Option<PictureReading> {
        let v = &self.state.video;
        if v.paused() || v.seeking() {
            return None;
        }
        self.state.fit.try_borrow().ok()?.poll_reading(now_ms(), v.playback_rate())
    }
}

impl Drop for FrameClock {
    fn drop(&mut self) {
        if let (Some(handle), Some(cancel)) = (self.state.handle.take(), method(&self.state.video, "cancelVideoFrameCallback")) {
            let _ = cancel.call1(&self.state.video, &JsValue::from(handle));
        }
        self.state.callback.borrow_mut().take();
    }
}

fn method(video: &HtmlVideoElement, name: &str) -> Option<js_sys::Function> {
    js_sys::Reflect::get(video, &JsValue::from_str(name)).ok()?.dyn_into::<js_sys::Function>().ok()
}
