//! Text tracks: cues from `media_core::subtitle` shown through the
//! element's own `TextTrack`s and `VTTCue`s (the browser keeps them on the
//! element's clock, in every engine), one track showing at a time. Every
//! change of the showing cues is also a `cue` event, for pages that draw
//! their own (`setTextDisplay(false)` hides the browser's rendering).
//!
//! A browser cannot remove a track from an element once added: a track
//! that is not selected is `disabled`, which costs nothing while playing.

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use gloo_timers::callback::Interval;
use media_core::subtitle::feed::{FeedOutput, TextFeed};
use media_core::subtitle::{self, Align, Cue};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::spawn_local;
use web_sys::{AbortController, AlignSetting, EventTarget, HtmlVideoElement, TextTrack, TextTrackKind, TextTrackMode, VttCue};

use crate::dom::{emit, emit_later, error_detail, Listener};
use crate::engine::fetch::{fetch_range, fetch_text, Scope};
use crate::events::Event;

/// Tracks a page may add (each holds its cues twice: here and in the
/// element): a bound on what a script or a room can make the page hold.
pub const MAX_TRACKS: usize = 16;
/// Text tracks a stream may bring (its languages).
pub const MAX_STREAM_TRACKS: usize = 32;
/// How often a selected stream track looks at the playhead (ms).
const TICK_MS: u32 = 250;

/// Where a stream's own text track comes from.
pub enum StreamText {
    /// A DASH text representation, or any already in the engine's model.
    Feed(Box<TextFeed>),
    /// An HLS `SUBTITLES` rendition: its media playlist, fetched when the
    /// track is first selected.
    HlsPlaylist(String),
}

/// A text track of the stream being loaded.
pub struct StreamTrack {
    pub label: String,
    pub language: String,
    pub source: StreamText,
    /// The load's fetch scope (a proxied source fetches only through the proxy).
    pub scope: Rc<Scope>,
}

/// A stream track's fetching state; dropped (fetches aborted, timer
/// stopped) with its track.
struct Stream {
    playlist: Option<String>,
    feed: Option<TextFeed>,
    scope: Rc<Scope>,
    /// The element's cues, by the feed's cue index.
    shown: Vec<VttCue>,
    fetches: Vec<(u64, AbortController)>,
    timer: Option<Interval>,
}

impl Drop for Stream {
    fn drop(&mut self) {
        for (_, c) in &self.fetches {
            c.abort();
        }
    }
}

struct Track {
    id: u32,
    label: String,
    language: String,
    /// Where the cues came from: `"file"` (added by this viewer) or
    /// `"stream"` (the stream's own, fetched while selected).
    origin: &'static str,
    cues: Vec<Cue>,
    element: TextTrack,
    _cuechange: Listener,
    /// The delay its element cues were made with (s): a track not showing
    /// is brought up to date when it is selected, not on every change.
    applied: f64,
    stream: Option<Stream>,
    /// A room's subtitle file: its id in the room, where to read it, and
    /// whether that was started.
    room: Option<RoomFile>,
}

/// One of the room's subtitle files (`GET /api/rooms/:id/subtitles/:n`
/// with the member's token), read once when first selected. (Only a
/// session makes them: the player alone has no room.)
#[cfg_attr(not(feature = "room"), allow(dead_code))]
pub struct RoomFile {
    pub id: u64,
    pub label: String,
    pub language: String,
    pub url: String,
    pub token: String,
    read: bool,
}

#[cfg(feature = "room")]
impl RoomFile {
    pub fn new(id: u64, label: String, language: String, url: String, token: String) -> RoomFile {
        RoomFile { id, label, language, url, token, read: false }
    }
}

pub struct TextTracks {
    video: HtmlVideoElement,
    events: EventTarget,
    tracks: Vec<Track>,
    selected: Option<u32>,
    /// Seconds added to every cue's times (positive: later).
    delay: f64,
    /// The room's delay, added for the room's files (seconds).
    room_delay: f64,
    /// Whether the browser draws the showing track (else only `cue` events).
    display: bool,
    next_id: u32,
    /// Itself, for the timers and fetches of stream tracks.
    me: Weak<RefCell<TextTracks>>,
    /// The element's own track list's `change` (a pick in the video's
    /// captions menu): followed as a selection.
    _menu: Option<Listener>,
    /// Element tracks of earlier streams, left disabled (an element's
    /// tracks cannot be removed): counted against a bound.
    retired: usize,
}

impl TextTracks {
    pub fn new(video: HtmlVideoElement, events: EventTarget) -> Rc<RefCell<TextTracks>> {
        let list = video.text_tracks();
        Rc::new_cyclic(|me: &Weak<RefCell<TextTracks>>| {
            let menu = list.and_then(|l| {
                let me = me.clone();
                Listener::new(&l, "change", move |_| follow_menu(&me)).ok()
            });
            RefCell::new(TextTracks {
                video,
                events,
                tracks: Vec::new(),
                selected: None,
                delay: 0.0,
                room_delay: 0.0,
                display: true,
                next_id: 1,
                me: me.clone(),
                retired: 0,
                _menu: menu,
            })
        })
    }

    /// A new track of `cues`, not selected; its id.
    pub fn add(&mut self, label: &str, language: &str, origin: &'static str, cues: Vec<Cue>) -> Result<u32, JsValue> {
        if self.tracks.iter().filter(|t| t.origin == "file").count() >= MAX_TRACKS {
            return Err(JsValue::from_str(&format!("at most {MAX_TRACKS} text tracks")));
        }
        self.push(label, language, origin, cues, None, None)
    }

    /// The stream's own text tracks, in place of the last stream's (the
    /// viewer's own files stay). Which one was selected is kept by language.
    pub fn set_stream_tracks(&mut self, tracks: Vec<StreamTrack>) {
        let language = self.selected.and_then(|id| self.tracks.iter().find(|t| t.id == id && t.stream.is_some())).map(|t| t.language.clone());
        let before = self.tracks.len();
        self.tracks.retain(|t| {
            if t.stream.is_some() {
                retire(&t.element);
            }
            t.stream.is_none()
        });
        self.retired += before - self.tracks.len();
        if self.selected.is_some_and(|id| !self.tracks.iter().any(|t| t.id == id)) {
            self.selected = None;
        }
        let mut reselect = None;
        for st in tracks.into_iter().take(MAX_STREAM_TRACKS) {
            // (Each load adds element tracks that stay: a page that loads
            // streams without end stops getting their text tracks.)
            if self.retired + self.tracks.len() >= 16 * MAX_STREAM_TRACKS {
                emit_later(&self.events, Event::Error, error_detail("subtitles", "too many text tracks on this element: the stream's are not shown"));
                break;
            }
            let (playlist, feed) = match st.source {
                StreamText::Feed(f) => (None, Some(*f)),
                StreamText::HlsPlaylist(url) => (Some(url), None),
            };
            let stream = Stream { playlist, feed, scope: st.scope, shown: Vec::new(), fetches: Vec::new(), timer: None };
            if let Ok(id) = self.push(&st.label, &st.language, "stream", Vec::new(), Some(stream), None) {
                if language.as_deref().is_some_and(|l| l == st.language) && reselect.is_none() {
                    reselect = Some(id);
                }
            }
        }
        if reselect.is_some() {
            let _ = self.select(reselect);
        }
        emit_later(&self.events, Event::TextTracks, self.list());
    }

    fn push(
        &mut self,
        label: &str,
        language: &str,
        origin: &'static str,
        cues: Vec<Cue>,
        stream: Option<Stream>,
        room: Option<RoomFile>,
    ) -> Result<u32, JsValue> {
        let element = self.video.add_text_track_with_label_and_language(TextTrackKind::Subtitles, label, language);
        element.set_mode(TextTrackMode::Disabled);
        let id = self.next_id;
        self.next_id += 1;
        let (events, watched) = (self.events.clone(), element.clone());
        let cuechange = Listener::new(&element, "cuechange", move |_| cue_event(&events, id, &watched))?;
        fill(&element, &cues, self.delay)?;
        let applied = self.delay;
        self.tracks.push(Track {
            id,
            label: label.to_string(),
            language: language.to_string(),
            origin,
            cues,
            element,
            _cuechange: cuechange,
            applied,
            stream,
            room,
        });
        Ok(id)
    }

    /// Show track `id` (or none); the others are disabled.
    pub fn select(&mut self, id: Option<u32>) -> Result<(), JsValue> {
        if let Some(id) = id.filter(|id| !self.tracks.iter().any(|t| t.id == *id)) {
            return Err(JsValue::from_str(&format!("no text track {id}")));
        }
        self.selected = id;
        self.apply_modes();
        // A selected stream track fetches around the playhead; the others rest.
        let me = self.me.clone();
        for t in &mut self.tracks {
            let Some(stream) = &mut t.stream else { continue };
            if Some(t.id) != id {
                stream.timer = None;
            } else if stream.timer.is_none() {
                let (me, track) = (me.clone(), t.id);
                stream.timer = Some(Interval::new(TICK_MS, move || tick(&me, track)));
            }
        }
        if let Some(id) = id {
            let _ = self.refill_track(id);
            self.step(id);
        }
        emit_later(&self.events, Event::TextTrack, self.selected.map_or(JsValue::NULL, |id| JsValue::from_f64(f64::from(id))));
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
        self.refill()
    }

    /// The room's delay (seconds) for the room's files, as the room says.
    #[cfg(feature = "room")]
    pub fn set_room_delay(&mut self, seconds: f64) -> Result<(), JsValue> {
        if seconds == self.room_delay || !seconds.is_finite() {
            return Ok(());
        }
        self.room_delay = seconds.clamp(-600.0, 600.0);
        self.refill()
    }

    /// The selected track's cues made again with the delays now (the
    /// others when they are selected: a delay change costs one track).
    fn refill(&mut self) -> Result<(), JsValue> {
        match self.selected {
            Some(id) => self.refill_track(id),
            None => Ok(()),
        }
    }

    fn refill_track(&mut self, id: u32) -> Result<(), JsValue> {
        let (delay, room_delay) = (self.delay, self.room_delay);
        let Some(t) = self.tracks.iter_mut().find(|t| t.id == id) else { return Ok(()) };
        let want = delay + if t.room.is_some() { room_delay } else { 0.0 };
        if t.applied == want {
            return Ok(());
        }
        clear(&t.element)?;
        let shown = fill(&t.element, &t.cues, want)?;
        t.applied = want;
        if let Some(stream) = &mut t.stream {
            stream.shown = shown;
        }
        Ok(())
    }

    /// The room's subtitle files, in place of the last list: a file still
    /// listed keeps its track (and its cues); a removed one goes.
    #[cfg(feature = "room")]
    pub fn set_room_files(&mut self, files: Vec<RoomFile>) {
        let keep: Vec<u64> = files.iter().map(|f| f.id).collect();
        let before = self.tracks.len();
        self.tracks.retain(|t| {
            let gone = t.room.as_ref().is_some_and(|r| !keep.contains(&r.id));
            if gone {
                retire(&t.element);
            }
            !gone
        });
        self.retired += before - self.tracks.len();
        if self.selected.is_some_and(|id| !self.tracks.iter().any(|t| t.id == id)) {
            self.selected = None;
        }
        for f in files {
            if self.tracks.iter().any(|t| t.room.as_ref().is_some_and(|r| r.id == f.id)) {
                continue;
            }
            if self.retired + self.tracks.len() >= 16 * MAX_STREAM_TRACKS {
                break;
            }
            let (label, language) = (f.label.clone(), f.language.clone());
            let _ = self.push(&label, &language, "room", Vec::new(), None, Some(f));
        }
        emit_later(&self.events, Event::TextTracks, self.list());
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
    set("loaded", JsValue::from_bool(t.stream.as_ref().is_none_or(|s| s.feed.is_some())));
    set("cues", JsValue::from_f64(t.cues.len() as f64));
    set("selected", selected.into());
    o.into()
}

/// The element's cues for `cues`, `delay` seconds later (one for each:
/// a cue the delay moves before 0 is empty at 0).
fn fill(element: &TextTrack, cues: &[Cue], delay: f64) -> Result<Vec<VttCue>, JsValue> {
    cues.iter().map(|c| show(element, c, delay)).collect()
}

fn show(element: &TextTrack, c: &Cue, delay: f64) -> Result<VttCue, JsValue> {
    {
        let start = (c.start + delay).max(0.0);
        let end = (c.end + delay).max(start);
        let cue = VttCue::new(start, end, &c.text)?;
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
        Ok(cue)
    }
}

/// A track that leaves the list: an element's tracks cannot be removed,
/// so it is disabled and emptied (its cues no longer held).
fn retire(element: &TextTrack) {
    element.set_mode(TextTrackMode::Disabled);
    let _ = clear(element);
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
    emit(events, Event::Cue, &detail);
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

/// The timer of a selected stream track.
fn tick(me: &Weak<RefCell<TextTracks>>, track: u32) {
    let Some(rc) = me.upgrade() else { return };
    let Ok(mut tracks) = rc.try_borrow_mut() else { return };
    tracks.step(track);
}

impl TextTracks {
    /// A selected stream track's step: the playhead to its feed, the
    /// feed's outputs carried out. An HLS rendition first fetches its playlist.
    fn step(&mut self, track: u32) {
        if let Some(file) = self.tracks.iter_mut().find(|t| t.id == track).and_then(|t| t.room.as_mut()).filter(|r| !r.read) {
            file.read = true;
            let (url, token, me) = (file.url.clone(), file.token.clone(), self.me.clone());
            spawn_local(async move {
                let result = read_room_file(&url, &token).await;
                let Some(rc) = me.upgrade() else { return };
                let Ok(mut tracks) = rc.try_borrow_mut() else { return };
                match result {
                    Ok(cues) => tracks.fill_room_file(track, cues),
                    Err(e) => {
                        // (Read again the next time it is selected.)
                        if let Some(file) = tracks.tracks.iter_mut().find(|t| t.id == track).and_then(|t| t.room.as_mut()) {
                            file.read = false;
                        }
                        emit_later(&tracks.events, Event::Error, error_detail("subtitles", &format!("the room's subtitles: {}", crate::dom::describe(&e))))
                    }
                }
            });
            return;
        }
        let now = self.video.current_time();
        let me = self.me.clone();
        let Some(stream) = self.stream_mut(track) else { return };
        if let Some(url) = stream.playlist.take() {
            let scope = stream.scope.clone();
            spawn_local(async move {
                let feed = match fetch_text(&scope, &url)
                    .await
                    .and_then(|text| media_core::hls::parse_playlist(&text, &url).map_err(|e| JsValue::from_str(&e.to_string())))
                {
                    Ok(media_core::hls::Playlist::Media(m)) => Ok(TextFeed::new(media_core::hls::text_representation(&m))),
                    Ok(media_core::hls::Playlist::Master(_)) => Err("a master playlist where a subtitle rendition was expected".to_string()),
                    Err(e) => Err(crate::dom::describe(&e)),
                };
                let Some(rc) = me.upgrade() else { return };
                let Ok(mut tracks) = rc.try_borrow_mut() else { return };
                match feed {
                    Ok(feed) => {
                        if let Some(stream) = tracks.stream_mut(track) {
                            stream.feed = Some(feed);
                        }
                        tracks.step(track);
                    }
                    Err(e) => emit_later(&tracks.events, Event::Error, error_detail("subtitles", &format!("subtitles {url}: {e}"))),
                }
            });
            return;
        }
        if let Some(feed) = &mut stream.feed {
            feed.handle_time(now);
        }
        self.drain(track);
    }

    fn stream_mut(&mut self, track: u32) -> Option<&mut Stream> {
        self.tracks.iter_mut().find(|t| t.id == track)?.stream.as_mut()
    }

    /// A stream track's feed outputs: fetches started, cues shown.
    fn drain(&mut self, track: u32) {
        let me = self.me.clone();
        let Some(t) = self.tracks.iter_mut().find(|t| t.id == track) else { return };
        let delay = t.applied;
        let Some(stream) = &mut t.stream else { return };
        let Some(feed) = &mut stream.feed else { return };
        while let Some(out) = feed.poll_output() {
            match out {
                FeedOutput::Fetch { id, url, range } => {
                    if !stream.scope.allows(&url, None) {
                        feed.handle_failed(id);
                        continue;
                    }
                    let Ok(controller) = AbortController::new() else {
                        feed.handle_failed(id);
                        continue;
                    };
                    let signal = controller.signal();
                    stream.fetches.push((id, controller));
                    let me = me.clone();
                    spawn_local(async move {
                        let result = fetch_range(&url, range, &signal).await;
                        let Some(rc) = me.upgrade() else { return };
                        let Ok(mut tracks) = rc.try_borrow_mut() else { return };
                        tracks.fetched(track, id, result.ok().map(|b| js_sys::Uint8Array::new(&b).to_vec()));
                    });
                }
                FeedOutput::Cue { index, cue } => {
                    if let Ok(shown) = show(&t.element, &cue, delay) {
                        if index == stream.shown.len() {
                            stream.shown.push(shown);
                            t.cues.push(cue);
                        }
                    }
                }
                FeedOutput::Extend { index, end } => {
                    if let (Some(shown), Some(cue)) = (stream.shown.get(index), t.cues.get_mut(index)) {
                        cue.end = end;
                        shown.set_end_time((end + delay).max(shown.start_time()));
                    }
                }
            }
        }
    }

    fn fill_room_file(&mut self, track: u32, cues: Vec<Cue>) {
        let delay = self.delay + self.room_delay;
        let Some(t) = self.tracks.iter_mut().find(|t| t.id == track) else { return };
        if fill(&t.element, &cues, delay).is_ok() {
            t.cues = cues;
            t.applied = delay;
        }
        emit_later(&self.events, Event::TextTracks, self.list());
    }

    fn fetched(&mut self, track: u32, id: u64, bytes: Option<Vec<u8>>) {
        let Some(stream) = self.stream_mut(track) else { return };
        let Some(at) = stream.fetches.iter().position(|f| f.0 == id) else { return };
        stream.fetches.swap_remove(at);
        let Some(feed) = &mut stream.feed else { return };
        match bytes {
            Some(b) => feed.handle_data(id, &b),
            None => feed.handle_failed(id),
        }
        self.drain(track);
    }
}

/// `addSubtitles(source, {label?, language?})` of `MediaPlayer` and
/// `Session`: the file read and parsed, a track added and shown; the
/// promise resolves to the track, or rejects with what is wrong.
pub fn add_subtitles(tracks: Rc<RefCell<TextTracks>>, source: JsValue, options: JsValue) -> js_sys::Promise {
    wasm_bindgen_futures::future_to_promise(async move {
        let (bytes, name) = read_source(&source).await?;
        let cues = subtitle::parse_file(&bytes, name.as_deref()).map_err(|e| JsValue::from(JsError::new(&e.to_string())))?;
        let get = |k: &str| js_sys::Reflect::get(&options, &k.into()).ok().and_then(|v| v.as_string());
        let (file_label, file_language) = name_parts(name.as_deref().unwrap_or("Subtitles"));
        let label = get("label").unwrap_or(file_label);
        let language = get("language").unwrap_or(file_language);
        let mut t = tracks.try_borrow_mut().map_err(|_| JsError::new("addSubtitles: player busy"))?;
        let id = t.add(&label, &language, "file", cues)?;
        t.select(Some(id))?;
        Ok(t.info(id))
    })
}

/// `setTextTrack(id | null)`.
pub fn set_track(tracks: &RefCell<TextTracks>, id: &JsValue) -> Result<(), JsError> {
    let id = id.as_f64().map(|n| n as u32);
    tracks.try_borrow_mut().map_err(|_| JsError::new("setTextTrack: player busy"))?.select(id).map_err(|e| JsError::new(&crate::dom::describe(&e)))
}

/// `setTextDelay(seconds)`.
pub fn set_delay(tracks: &RefCell<TextTracks>, seconds: f64) -> Result<(), JsError> {
    tracks.try_borrow_mut().map_err(|_| JsError::new("setTextDelay: player busy"))?.set_delay(seconds).map_err(|e| JsError::new(&crate::dom::describe(&e)))
}

/// `setTextDisplay(on)`.
pub fn set_display(tracks: &RefCell<TextTracks>, display: bool) {
    if let Ok(mut t) = tracks.try_borrow_mut() {
        t.set_display(display);
    }
}

/// A room's subtitle file: the member's token as `Authorization`, the
/// WebVTT the room serves, parsed.
async fn read_room_file(url: &str, token: &str) -> Result<Vec<Cue>, JsValue> {
    let init = web_sys::RequestInit::new();
    let headers = web_sys::Headers::new()?;
    headers.set("authorization", &format!("Bearer {token}"))?;
    init.set_headers(&headers);
    let window = web_sys::window().ok_or("no window")?;
    let resp: web_sys::Response = wasm_bindgen_futures::JsFuture::from(window.fetch_with_str_and_init(url, &init)).await?.dyn_into()?;
    if !resp.ok() {
        return Err(JsValue::from_str(&format!("HTTP {}", resp.status())));
    }
    let text = wasm_bindgen_futures::JsFuture::from(resp.text()?).await?.as_string().unwrap_or_default();
    subtitle::vtt::parse(&text).map(|f| f.cues).map_err(|e| JsValue::from_str(&e.to_string()))
}

/// A track shown (or all hidden) from the element's own captions menu:
/// the same as `setTextTrack`, so a stream track starts fetching. Our own
/// mode changes land here too, and change nothing.
fn follow_menu(me: &Weak<RefCell<TextTracks>>) {
    let Some(rc) = me.upgrade() else { return };
    let Ok(mut tracks) = rc.try_borrow_mut() else { return };
    if !tracks.display {
        // (We hide the selected track ourselves: nothing shows by design.)
        return;
    }
    let showing = tracks.tracks.iter().find(|t| t.element.mode() == TextTrackMode::Showing).map(|t| t.id);
    if showing != tracks.selected {
        let _ = tracks.select(showing);
    }
}
