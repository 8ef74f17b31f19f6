//! Text tracks: cues from `media_core::subtitle` shown through the
//! element's own `TextTrack`s and `VTTCue`s (the browser keeps them on the
//! element's clock, in every engine), one track showing at a time. Every
//! change of the showing cues is also a `cue` event, for pages that draw
//! their own (`setTextDisplay(false)` hides the browser's rendering).
//!
//! A browser cannot remove a track from an element once added: a track
//! that is not selected is `disabled`, which costs nothing while playing.

use media_core::subtitle::{self, Align, Cue};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{AlignSetting, EventTarget, HtmlVideoElement, TextTrack, TextTrackKind, TextTrackMode, VttCue};

use crate::dom::{emit, Listener};

/// Tracks a page may add (each holds its cues twice: here and in the
/// element): a bound on what a script or a room can make the page hold.
pub const MAX_TRACKS: usize = 16;

struct Track {
    id: u32,
    label: String,
    language: String,
    /// Where the cues came from: `"file"` (added by this viewer).
    origin: &'static str,
    cues: Vec<Cue>,
    element: TextTrack,
    _cuechange: Listener,
}

pub struct TextTracks {
    video: HtmlVideoElement,
    events: EventTarget,
    tracks: Vec<Track>,
    selected: Option<u32>,
    /// Seconds added to every cue's times (positive: later).
    delay: f64,
    /// Whether the browser draws the showing track (else only `cue` events).
    display: bool,
    next_id: u32,
}

impl TextTracks {
    pub fn new(video: HtmlVideoElement, events: EventTarget) -> Self {
        TextTracks { video, events, tracks: Vec::new(), selected: None, delay: 0.0, display: true, next_id: 1 }
    }

    /// A new track of `cues`, not selected; its id.
    pub fn add(&mut self, label: &str, language: &str, origin: &'static str, cues: Vec<Cue>) -> Result<u32, JsValue> {
        if self.tracks.len() >= MAX_TRACKS {
            return Err(JsValue::from_str(&format!("at most {MAX_TRACKS} text tracks")));
        }
        let element = self.video.add_text_track_with_label_and_language(TextTrackKind::Subtitles, label, language);
        element.set_mode(TextTrackMode::Disabled);
        let id = self.next_id;
        self.next_id += 1;
        let (events, watched) = (self.events.clone(), element.clone());
        let cuechange = Listener::new(&element, "cuechange", move |_| cue_event(&events, id, &watched))?;
        fill(&element, &cues, self.delay)?;
        self.tracks.push(Track { id, label: label.to_string(), language: language.to_string(), origin, cues, element, _cuechange: cuechange });
        Ok(id)
    }

    /// Show track `id` (or none); the others are disabled.
    pub fn select(&mut self, id: Option<u32>) -> Result<(), JsValue> {
        if let Some(id) = id.filter(|id| !self.tracks.iter().any(|t| t.id == *id)) {
            return Err(JsValue::from_str(&format!("no text track {id}")));
        }
        self.selected = id;
        self.apply_modes();
        emit(&self.events, "texttrack", &self.selected.map_or(JsValue::NULL, |id| JsValue::from_f64(f64::from(id))));
        Ok(())
    }

    /// Whether the browser draws the showing track.
    pub fn set_display(&mut self, display: bool) {
        self.display = display;
        self.apply_modes();
    }

    fn apply_modes(&self) {
        let on = if self.display { TextTrackMode::Showing } else { TextTrackMode::Hidden };
        for t in &self.tracks {
            t.element.set_mode(if Some(t.id) == self.selected { on } else { TextTrackMode::Disabled });
        }
    }

    /// Every track's cues shifted by `seconds` (the room's delay, or a
    /// viewer's own).
    pub fn set_delay(&mut self, seconds: f64) -> Result<(), JsValue> {
        if !seconds.is_finite() || seconds.abs() > 600.0 {
            return Err(JsValue::from_str("text delay: at most ±600 seconds"));
        }
        self.delay = seconds;
        for t in &self.tracks {
            clear(&t.element)?;
            fill(&t.element, &t.cues, seconds)?;
        }
        Ok(())
    }

    /// `[{id, label, language, origin, cues, selected}]`.
    pub fn list(&self) -> JsValue {
        let out = js_sys::Array::new();
        for t in &self.tracks {
            out.push(&info(t, self.selected == Some(t.id)));
        }
        out.into()
    }

    /// One track's description, as `list` gives it.
    pub fn info(&self, id: u32) -> JsValue {
        self.tracks.iter().find(|t| t.id == id).map_or(JsValue::NULL, |t| info(t, self.selected == Some(t.id)))
    }
}

fn info(t: &Track, selected: bool) -> JsValue {
    let o = js_sys::Object::new();
    let set = |k: &str, v: JsValue| {
        let _ = js_sys::Reflect::set(&o, &k.into(), &v);
    };
    set("id", JsValue::from_f64(f64::from(t.id)));
    set("label", t.label.as_str().into());
    set("language", t.language.as_str().into());
    set("origin", t.origin.into());
    set("cues", JsValue::from_f64(t.cues.len() as f64));
    set("selected", selected.into());
    o.into()
}

/// The element's cues for `cues`, `delay` seconds later.
fn fill(element: &TextTrack, cues: &[Cue], delay: f64) -> Result<(), JsValue> {
    for c in cues {
        let (start, end) = (c.start + delay, c.end + delay);
        if end <= 0.0 {
            continue;
        }
        let cue = VttCue::new(start.max(0.0), end, &c.text)?;
        let p = c.place;
        if let Some(line) = p.line {
            cue.set_snap_to_lines(!p.line_percent);
            cue.set_line_f64(line);
        }
        if let Some(position) = p.position {
            cue.set_position_f64(position);
        }
        if let Some(size) = p.size {
            cue.set_size(size);
        }
        if let Some(align) = p.align {
            cue.set_align(match align {
                Align::Start => AlignSetting::Start,
                Align::Center => AlignSetting::Center,
                Align::End => AlignSetting::End,
                Align::Left => AlignSetting::Left,
                Align::Right => AlignSetting::Right,
            });
        }
        element.add_cue(&cue);
    }
    Ok(())
}

fn clear(element: &TextTrack) -> Result<(), JsValue> {
    let Some(list) = element.cues() else { return Ok(()) };
    for i in (0..list.length()).rev() {
        if let Some(cue) = list.get(i).and_then(|c| c.dyn_into::<VttCue>().ok()) {
            element.remove_cue(&cue)?;
        }
    }
    Ok(())
}

/// `cue` event: the track's showing cues now, `[{start, end, text, plain}]`
/// (times on the element's clock, `text` WebVTT markup, `plain` without).
fn cue_event(events: &EventTarget, id: u32, element: &TextTrack) {
    let cues = js_sys::Array::new();
    if let Some(active) = element.active_cues() {
        for i in 0..active.length() {
            let Some(cue) = active.get(i).and_then(|c| c.dyn_into::<VttCue>().ok()) else { continue };
            let o = js_sys::Object::new();
            let text = cue.text();
            for (k, v) in [
                ("start", JsValue::from_f64(cue.start_time())),
                ("end", JsValue::from_f64(cue.end_time())),
                ("plain", subtitle::plain(&text).into()),
                ("text", text.into()),
            ] {
                let _ = js_sys::Reflect::set(&o, &k.into(), &v);
            }
            cues.push(&o);
        }
    }
    let detail = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&detail, &"track".into(), &JsValue::from_f64(f64::from(id)));
    let _ = js_sys::Reflect::set(&detail, &"cues".into(), &cues);
    emit(events, "cue", &detail);
}

/// A label and a language for a file: `film.fr.srt` → ("film", "fr").
pub fn name_parts(name: &str) -> (String, String) {
    let stem = name.rsplit_once('.').map_or(name, |(s, _)| s);
    match stem.rsplit_once('.') {
        Some((label, lang)) if (2..=3).contains(&lang.len()) && lang.bytes().all(|b| b.is_ascii_alphabetic()) => (label.to_string(), lang.to_ascii_lowercase()),
        _ => (stem.to_string(), String::new()),
    }
}

/// A subtitle file's bytes and name: a `File`/`Blob` read, or a URL fetched.
/// Over `subtitle::MAX_INPUT` is refused before its bytes are copied.
pub async fn read_source(source: &JsValue) -> Result<(Vec<u8>, Option<String>), JsValue> {
    let too_large = |n: f64| JsValue::from_str(&subtitle::SubtitleError::TooLarge(n as usize).to_string());
    let (buffer, name) = if let Some(blob) = source.dyn_ref::<web_sys::Blob>() {
        if blob.size() > subtitle::MAX_INPUT as f64 {
            return Err(too_large(blob.size()));
        }
        let name = source.dyn_ref::<web_sys::File>().map(web_sys::File::name);
        (wasm_bindgen_futures::JsFuture::from(blob.array_buffer()).await?, name)
    } else if let Some(url) = source.as_string() {
        let window = web_sys::window().ok_or("no window")?;
        let resp: web_sys::Response = wasm_bindgen_futures::JsFuture::from(window.fetch_with_str(&url)).await?.dyn_into()?;
        if !resp.ok() {
            return Err(JsValue::from_str(&format!("HTTP {} for {url}", resp.status())));
        }
        // (An integer parse: `f64`'s would link std's float tables, 10 KB.)
        let declared = resp.headers().get("content-length").ok().flatten().and_then(|l| l.trim().parse::<u64>().ok());
        if let Some(n) = declared.filter(|n| *n > subtitle::MAX_INPUT as u64) {
            return Err(too_large(n as f64));
        }
        let name = url.split(['?', '#']).next().and_then(|p| p.rsplit('/').next()).map(str::to_string);
        (wasm_bindgen_futures::JsFuture::from(resp.array_buffer()?).await?, name)
    } else {
        return Err(JsValue::from_str("addSubtitles: give a File, a Blob or a URL"));
    };
    let bytes = js_sys::Uint8Array::new(&buffer);
    if f64::from(bytes.length()) > subtitle::MAX_INPUT as f64 {
        return Err(too_large(f64::from(bytes.length())));
    }
    Ok((bytes.to_vec(), name))
}
