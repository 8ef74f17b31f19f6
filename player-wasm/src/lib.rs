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

use wasm_bindgen::prelude::*;
use web_sys::{EventTarget, HtmlVideoElement};

#[cfg(feature = "room")]
mod audio;
#[cfg(feature = "room")]
mod backend;
mod dom;
mod engine;
#[cfg(feature = "room")]
mod session;

#[cfg(feature = "room")]
pub use session::api::{join, Session};

/// The media engine alone, without a room: DASH, HLS (fMP4) and progressive
/// files on one element. Events on [`MediaPlayer::events`]: `qualities`,
/// `quality`, `buffering`, `error`.
#[wasm_bindgen]
pub struct MediaPlayer {
    player: RefCell<engine::Player>,
    events: EventTarget,
}

#[wasm_bindgen]
impl MediaPlayer {
    /// A player for `video`.
    #[wasm_bindgen(constructor)]
    pub fn new(video: HtmlVideoElement) -> Result<MediaPlayer, JsError> {
        let events = EventTarget::new().map_err(|_| JsError::new("EventTarget is not available"))?;
        Ok(MediaPlayer { player: RefCell::new(engine::Player::new(video, events.clone())), events })
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
}

#[wasm_bindgen(typescript_custom_section)]
const TS_MEDIA_PLAYER: &'static str = r#"
export interface MediaSourceOptions {
  url: string;
  /** Skip detection: "dash", "hls" (fMP4) or "progressive". */
  kind?: "dash" | "hls" | "progressive";
}
export interface MediaPlayer {
  /** Play a URL or `{ url, kind? }`. */
  load(source: string | MediaSourceOptions): void;
}
"#;

/// `setQuality`'s argument: an index into `qualities()`, or anything else
/// (`"auto"`) for automatic.
fn quality_index(choice: &JsValue) -> Option<usize> {
    choice.as_f64().filter(|i| *i >= 0.0).map(|i| i as usize)
}
