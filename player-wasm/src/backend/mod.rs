//! Player backends: what plays the room's source. The session talks to one
//! [`Backend`] whatever it is: it reads an observation, applies the core's
//! media actions, and hears the backend's events through one [`Sink`].
//!
//! - [`element::Element`]: the `<video>` element, playing through the media
//!   engine (DASH/HLS over MSE, progressive files, native HLS) or a local
//!   file by object URL. Read exactly, any rate.
//! - [`youtube::YouTube`]: YouTube's IFrame Player API.
//! - [`vimeo::Vimeo`]: Vimeo's Player SDK.
//!
//! The embeds report their position in messages; what they can do is the
//! [`Capabilities`] the core's drift controller adapts to. The API scripts'
//! URLs are options (the tests serve stand-ins), the real ones by default.

use std::rc::Rc;

use sync_core::backend::Capabilities;
use sync_core::client::{MediaEvent, MediaObservation};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

pub mod element;
mod frames;
pub mod local;
mod read_step;
mod script;
pub mod vimeo;
pub mod youtube;

pub const YOUTUBE_API: &str = "https://www.youtube.com/iframe_api";
pub const VIMEO_API: &str = "https://player.vimeo.com/api/player.js";

/// Something a backend tells the session.
pub enum BackendEvent {
    /// The player played, paused or finished a seek (by us or the viewer).
    Media(MediaEvent),
    /// A reporting backend's position, arrived at `at` (`now_ms()`).
    Report { position: f64, playing: bool, at: f64 },
    /// Its capabilities are known (an embed learns its rates when ready).
    Capabilities(Capabilities),
    /// How the element's position reads, measured (see `read_step`).
    PositionReads(sync_core::backend::PositionReads),
    /// It cannot play this source: `code` for the page, `message` for people.
    Error { code: &'static str, message: String },
    /// The element failed (a `MediaError`, `message` for people): the
    /// session reloads the source where it can (see `Element::recover`).
    MediaFailed { message: String },
    /// Playing muted: autoplay rules want a gesture for sound.
    NeedsGesture,
}

/// Where a backend's events go (the session, through a weak reference).
pub type Sink = Rc<dyn Fn(BackendEvent)>;

/// The JS callbacks an embed hands its API, kept as long as the embed.
pub(crate) type Callbacks = std::cell::RefCell<Vec<Closure<dyn FnMut(JsValue)>>>;

/// The API scripts to load (configurable for tests and self-hosting).
#[derive(Clone, Debug)]
pub struct Apis {
    pub youtube: String,
    pub vimeo: String,
}

impl Default for Apis {
    fn default() -> Self {
        Apis { youtube: YOUTUBE_API.into(), vimeo: VIMEO_API.into() }
    }
}

pub enum Backend {
    Element(element::Element),
    YouTube(youtube::YouTube),
    Vimeo(vimeo::Vimeo),
}

impl Backend {
    pub fn capabilities(&self) -> Capabilities {
        match self {
            Backend::Element(_) => Capabilities::element(),
            Backend::YouTube(y) => y.capabilities(),
            Backend::Vimeo(v) => v.capabilities(),
        }
    }

    pub fn observe(&self) -> MediaObservation {
        match self {
            Backend::Element(e) => e.observe(),
            Backend::YouTube(y) => y.observe(),
            Backend::Vimeo(v) => v.observe(),
        }
    }

    pub fn pause(&self) {
        match self {
            Backend::Element(e) => e.pause(),
            Backend::YouTube(y) => y.pause(),
            Backend::Vimeo(v) => v.pause(),
        }
    }

    pub fn seek(&self, to: f64) {
        match self {
            Backend::Element(e) => e.seek(to),
            Backend::YouTube(y) => y.seek(to),
            Backend::Vimeo(v) => v.seek(to),
        }
    }

    pub fn set_rate(&self, rate: f64, preserve_pitch: bool) {
        match self {
            Backend::Element(e) => e.set_rate(rate, preserve_pitch),
            Backend::YouTube(y) => y.set_rate(rate),
            Backend::Vimeo(v) => v.set_rate(rate),
        }
    }

    /// A gesture happened: sound may be turned back on.
    pub fn unmute(&self) {
        match self {
            Backend::Element(e) => e.unmute(),
            Backend::YouTube(y) => y.unmute(),
            Backend::Vimeo(v) => v.unmute(),
        }
    }
}

/// `obj[name](...args)`, its result.
pub(crate) fn call(obj: &JsValue, name: &str, args: &[JsValue]) -> Result<JsValue, JsValue> {
    let f: js_sys::Function = js_sys::Reflect::get(obj, &name.into())?.dyn_into()?;
    let list: js_sys::Array = args.iter().collect();
    f.apply(obj, &list)
}

/// `obj[name]`.
pub(crate) fn get(obj: &JsValue, name: &str) -> JsValue {
    js_sys::Reflect::get(obj, &name.into()).unwrap_or(JsValue::UNDEFINED)
}

/// A plain object from pairs.
pub(crate) fn object(pairs: &[(&str, JsValue)]) -> JsValue {
    let o = js_sys::Object::new();
    for (k, v) in pairs {
        let _ = js_sys::Reflect::set(&o, &(*k).into(), v);
    }
    o.into()
}

/// The place an embed takes: a `div` put before the video element, which is
/// hidden while the embed plays and shown again when it goes.
pub(crate) struct Stage {
    pub host: web_sys::HtmlElement,
    video: web_sys::HtmlVideoElement,
}

impl Stage {
    pub fn new(video: &web_sys::HtmlVideoElement) -> Result<Stage, JsValue> {
        let doc = web_sys::window().and_then(|w| w.document()).ok_or("no document")?;
        let host: web_sys::HtmlElement = doc.create_element("div")?.dyn_into()?;
        host.set_class_name("wt-embed");
        let _ = host.style().set_property("width", "100%");
        let _ = host.style().set_property("aspect-ratio", "16 / 9");
        let parent = video.parent_node().ok_or("the video element is not in a document")?;
        parent.insert_before(&host, Some(video))?;
        let _ = video.style().set_property("display", "none");
        Ok(Stage { host, video: video.clone() })
    }
}

impl Drop for Stage {
    fn drop(&mut self) {
        self.host.remove();
        let _ = self.video.style().remove_property("display");
    }
}
