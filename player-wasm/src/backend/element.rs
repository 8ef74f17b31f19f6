//! The `<video>` element as a backend: the media engine's sources, and a
//! local file each member opens from their own disk (by object URL: the
//! bytes never leave the page).

use std::cell::RefCell;
use std::rc::Rc;

use sync_core::client::{MediaEvent, MediaObservation};
use wasm_bindgen::prelude::*;
use web_sys::{EventTarget, HtmlVideoElement};

use super::frames::FrameClock;
use super::read_step::ReadProbe;
use super::{BackendEvent, Sink};
use crate::dom::{media_error_text, Listener};
use crate::engine::Player;
use crate::text::TextTracks;

pub struct Element {
    video: HtmlVideoElement,
    player: Player,
    /// The object URL of the local file playing, revoked when it goes.
    object_url: Option<String>,
    /// The room plays a local file and this member has not opened theirs yet.
    awaiting_file: bool,
    /// Measures how often `currentTime` moves, at each source's first start.
    read_probe: ReadProbe,
    /// The frames shown, fitted, for a position read from the picture.
    frames: Option<FrameClock>,
    _listeners: Vec<Listener>,
}

impl Element {
    pub fn new(video: &HtmlVideoElement, events: &EventTarget, base: String, sink: Sink, text: &Rc<RefCell<TextTracks>>) -> Result<Element, JsValue> {
        let mut listeners = Vec::new();
        for (kind, ev) in [("play", MediaEvent::Play), ("pause", MediaEvent::Pause), ("seeked", MediaEvent::Seeked)] {
            let sink = sink.clone();
            listeners.push(Listener::new(video, kind, move |_| sink(BackendEvent::Media(ev)))?);
        }
        let read_probe = ReadProbe::default();
        let (probe, v, k) = (read_probe.weak(), video.clone(), sink.clone());
        listeners.push(Listener::new(video, "playing", move |_| probe.start(&v, &k))?);
        let (v, k) = (video.clone(), sink.clone());
        listeners.push(Listener::new(video, "error", move |_| {
            let message = v.error().map(|e| media_error_text(&e)).unwrap_or_default();
            k(BackendEvent::MediaFailed { message });
        })?);
        let mut player = Player::with_base(video.clone(), events.clone(), base);
        player.set_text_tracks(text.clone());
        let frames = FrameClock::new(video);
        Ok(Element { video: video.clone(), player, object_url: None, awaiting_file: false, read_probe, frames, _listeners: listeners })
    }

    pub fn player(&self) -> &Player {
        &self.player
    }

    pub fn video(&self) -> &HtmlVideoElement {
        &self.video
    }

    /// Play a room's media source (see `Player::load_source`).
    pub fn load_source(&mut self, url: &str, play_url: Option<&str>) {
        self.drop_file();
        self.awaiting_file = false;
        self.read_probe.reset();
        self.player.load_source(url, play_url);
    }

    /// The room plays a local file: nothing until this member opens theirs.
    pub fn await_file(&mut self) {
        self.drop_file();
        self.player.stop();
        self.awaiting_file = true;
    }

    pub fn awaiting_file(&self) -> bool {
        self.awaiting_file
    }

    /// Play this member's own copy of the room's local file.
    pub fn open_file(&mut self, file: &web_sys::File) -> Result<(), JsValue> {
        self.drop_file();
        self.player.stop();
        let url = web_sys::Url::create_object_url_with_blob(file)?;
        self.read_probe.reset();
        self.video.set_src(&url);
        self.object_url = Some(url);
        self.awaiting_file = false;
        Ok(())
    }

    /// The element failed: load the room's source again, as the player
    /// allows (see `Player::reload`); `false` where it is left failed (a
    /// local file, a source that never played, too many failures).
    pub fn recover(&mut self) -> bool {
        if self.awaiting_file || self.object_url.is_some() {
            return false;
        }
        self.read_probe.reset();
        self.player.reload()
    }

    fn drop_file(&mut self) {
        if let Some(url) = self.object_url.take() {
            let _ = self.video.remove_attribute("src");
            self.video.load();
            let _ = web_sys::Url::revoke_object_url(&url);
        }
    }

    pub fn observe(&self) -> MediaObservation {
        if self.awaiting_file {
            // Not buffering: a member without the file does not hold the room.
            return MediaObservation { paused: true, ..MediaObservation::default() };
        }
        let v = &self.video;
        let duration = v.duration();
        let current_time = v.current_time();
        let picture = self.frames.as_ref().and_then(FrameClock::picture);
        MediaObservation {
            current_time,
            picture: picture.map(|p| p.position),
            picture_error: picture.and_then(|p| p.error),
            paused: v.paused(),
            seeking: v.seeking(),
            ended: v.ended(),
            buffering: v.ready_state() < 3,
            duration: duration.is_finite().then_some(duration),
            shows_frames: self.frames.is_some(),
        }
    }

    pub fn pause(&self) {
        let _ = self.video.pause();
    }

    /// The element reports a `MediaError`.
    pub fn failed(&self) -> bool {
        self.video.error().is_some()
    }

    pub fn seek(&self, to: f64) {
        // (An element that failed takes no seek: each would end at once,
        // and its `seeked` asked for the next, hundreds a second.)
        if !self.awaiting_file && !self.failed() {
            self.player.seek(to);
        }
    }

    pub fn set_rate(&self, rate: f64, preserve_pitch: bool) {
        // Not in web-sys; every engine has it unprefixed now.
        let key = JsValue::from_str("preservesPitch");
        if js_sys::Reflect::get(&self.video, &key).ok().and_then(|v| v.as_bool()) != Some(preserve_pitch) {
            let _ = js_sys::Reflect::set(&self.video, &key, &preserve_pitch.into());
        }
        self.video.set_playback_rate(rate);
    }

    pub fn unmute(&self) {
        self.video.set_muted(false);
    }

    /// Release the element (the session left).
    pub fn stop(&mut self) {
        let _ = self.video.pause();
        self.drop_file();
        self.player.stop();
    }
}

impl Drop for Element {
    fn drop(&mut self) {
        self.drop_file();
    }
}
