//! Watch Together player for the browser.
//!
//! ```js
//! import init, { join } from "@watch-together/player";
//! await init();
//! const session = join({ server: location.origin, room: "ROOM_ID", name: "Ana" }, videoElement);
//! session.events.addEventListener("state", (e) => console.log(e.detail));
//! session.play();
//! ```
//!
//! The sync logic is `sync_core::client::Client`; this crate only carries
//! its inputs and outputs to the WebSocket, the element and the page.
//!
//! With the default `room` feature the build also has `join` and `Session`
//! (the room sync loop and WebAudio); without it, only `MediaPlayer`.

// `f64::clamp` would link float formatting (its panic message): `max().min()`.
#![allow(clippy::manual_clamp)]

// The allocator: talc instead of std's dlmalloc, 7 KB smaller in the wasm
// (2.9 KB gzip, measured on the player alone) and at least as fast
// (BENCHMARKS.md, transmux throughput).
#[cfg(all(not(target_feature = "atomics"), target_family = "wasm"))]
#[global_allocator]
static TALC: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

use std::cell::RefCell;
use std::rc::Rc;

use wasm_bindgen::prelude::*;
use web_sys::{EventTarget, HtmlVideoElement};

#[cfg(feature = "room")]
mod audio;
#[cfg(feature = "room")]
mod backend;
mod dom;
mod engine;
pub mod events;
#[cfg(feature = "room")]
mod qr;
#[cfg(feature = "room")]
mod session;
mod text;

#[cfg(feature = "room")]
pub use qr::qr_svg;
#[cfg(feature = "room")]
pub use session::api::{join, Session};

/// The names of every event the player dispatches ([`events::Event::ALL`]),
/// for a page or a test to check its own list against.
#[wasm_bindgen(unchecked_return_type = "string[]")]
pub fn events() -> js_sys::Array {
    events::Event::ALL.iter().map(|e| JsValue::from_str(e.name())).collect()
}

/// The media engine alone, without a room: DASH, HLS (fMP4) and progressive
/// files on one element. Events on [`MediaPlayer::events`]: those of
/// [`events::Event`] that fire on both targets.
#[wasm_bindgen]
pub struct MediaPlayer {
    player: RefCell<engine::Player>,
    text: Rc<RefCell<text::TextTracks>>,
    events: EventTarget,
}

#[wasm_bindgen]
impl MediaPlayer {
    /// A player for `video`.
    #[wasm_bindgen(constructor)]
    pub fn new(video: HtmlVideoElement) -> Result<MediaPlayer, JsError> {
        let events = EventTarget::new().map_err(|_| JsError::new("EventTarget is not available"))?;
        let text = text::TextTracks::new(video.clone(), events.clone());
        let mut player = engine::Player::new(video, events.clone());
        player.set_text_tracks(text.clone());
        Ok(MediaPlayer { player: RefCell::new(player), text, events })
    }

    /// Where the player's events are dispatched.
    #[wasm_bindgen(getter)]
    pub fn events(&self) -> EventTarget {
        self.events.clone()
    }

    /// Play `source`: a URL, or `{ url, kind? }` with `kind` one of
    /// `"dash"`, `"hls"`, `"progressive"` (detected when left out).
    #[wasm_bindgen(skip_typescript)]
    pub fn load(&self, source: JsValue) -> Result<(), JsError> {
        let (url, kind) = match source.as_string() {
            Some(url) => (url, None),
            None => {
                let get = |k: &str| js_sys::Reflect::get(&source, &k.into()).ok().and_then(|v| v.as_string());
                let url = get("url").ok_or_else(|| JsError::new("load: give a URL or { url, kind? }"))?;
                let kind = match get("kind").as_deref() {
                    None => None,
                    Some("dash") => Some(media_core::proxy::detect::Kind::Dash),
                    Some("hls") => Some(media_core::proxy::detect::Kind::Hls),
                    Some("progressive") => Some(media_core::proxy::detect::Kind::Other),
                    Some(other) => return Err(JsError::new(&format!("load: unknown kind \"{other}\" (dash, hls or progressive)"))),
                };
                (url, kind)
            }
        };
        self.player.try_borrow_mut().map_err(|_| JsError::new("load: player busy"))?.load_as(&url, kind);
        Ok(())
    }

    /// Video qualities, lowest first: `[{id, bandwidth, width, height}]`.
    pub fn qualities(&self) -> JsValue {
        self.player.borrow().qualities()
    }

    /// Pin a quality by its index in `qualities()`, or pass `"auto"`.
    #[wasm_bindgen(js_name = setQuality)]
    pub fn set_quality(&self, choice: JsValue) {
        self.player.borrow().set_quality(quality_index(&choice));
    }

    /// Add a subtitle file (WebVTT, SRT, ASS/SSA, TTML): a `File`, a `Blob`
    /// or a URL, with `{label?, language?}`. Resolves to the new track
    /// (shown at once); rejects with what is wrong with the file.
    #[wasm_bindgen(js_name = addSubtitles, skip_typescript)]
    pub fn add_subtitles(&self, source: JsValue, options: JsValue) -> js_sys::Promise {
        text::add_subtitles(self.text.clone(), source, options)
    }

    /// The text tracks: `[{id, label, language, origin, cues, selected}]`.
    #[wasm_bindgen(getter, js_name = textTracks, skip_typescript)]
    pub fn text_tracks(&self) -> Result<JsValue, JsError> {
        Ok(self.text.try_borrow().map_err(|_| JsError::new("textTracks: player busy"))?.list())
    }

    /// Show the text track `id`, or none with `null`.
    #[wasm_bindgen(js_name = setTextTrack, skip_typescript)]
    pub fn set_text_track(&self, id: JsValue) -> Result<(), JsError> {
        text::set_track(&self.text, &id)
    }

    /// Shift every cue by `seconds` (positive: later), at most ±600.
    #[wasm_bindgen(js_name = setTextDelay)]
    pub fn set_text_delay(&self, seconds: f64) -> Result<(), JsError> {
        text::set_delay(&self.text, seconds)
    }

    /// Whether the browser draws the showing track (`false`: only `cue`
    /// events, for a page that renders its own).
    #[wasm_bindgen(js_name = setTextDisplay)]
    pub fn set_text_display(&self, display: bool) {
        text::set_display(&self.text, display);
    }
}

#[wasm_bindgen(typescript_custom_section)]
const TS_MEDIA_PLAYER: &'static str = r#"
export interface MediaSourceOptions {
  url: string;
  /** Skip detection: "dash", "hls" (fMP4) or "progressive". */
  kind?: "dash" | "hls" | "progressive";
}
export interface TextTrackInfo {
  id: number;
  label: string;
  language: string;
  /** "file": added by this viewer; "stream": the stream's own. */
  origin: "file" | "stream";
  loaded: boolean;
  /** How many cues. */
  cues: number;
  selected: boolean;
}
export interface MediaPlayer {
  /** Play a URL or `{ url, kind? }`. */
  load(source: string | MediaSourceOptions): void;
  /** Add a subtitle file (WebVTT, SRT, ASS/SSA, TTML), shown at once. */
  addSubtitles(source: File | Blob | string, options?: { label?: string; language?: string }): Promise<TextTrackInfo>;
  readonly textTracks: TextTrackInfo[];
  /** Show a text track by id, or none. */
  setTextTrack(id: number | null): void;
}
"#;

/// `setQuality`'s argument: an index into `qualities()`, or anything else
/// (`"auto"`) for automatic.
fn quality_index(choice: &JsValue) -> Option<usize> {
    choice.as_f64().filter(|i| *i >= 0.0).map(|i| i as usize)
}
