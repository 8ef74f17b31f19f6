//! The media engine: DASH through Media Source Extensions, audio and video
//! as two SourceBuffers of one MediaSource on one element (so they cannot
//! drift apart); any other URL is handed to the element as is.
//!
//! DASH and HLS play through [`mse`] (the MSE shell of
//! `media_core::schedule::Engine`); HLS with MPEG-TS segments is
//! transmuxed to fMP4 on the way ([`ts`], `media_core::transmux`). A load is cancelled by bumping the
//! generation; the running presentation is dropped with the player.
//!
//! Every fetch of a load (manifest, playlists, segments, refreshes) and a
//! URL handed to the element first passes the load's [`Scope`]
//! (`media_core::fetch_scope`): a source the room proxies fetches nothing
//! outside the media proxy. A URL outside it is refused, not fetched, and
//! the load's first refusal is an `error` event. (Native HLS, without MSE,
//! fetches the playlist's references itself: only the playlist URL is
//! checked there.)

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use media_core::fetch_scope::{FetchScope, FetchScopeError};
use media_core::hls::{LiveTimes, MediaPlaylist};
use media_core::proxy::detect::{self, Kind};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{spawn_local, JsFuture};
use web_sys::{EventTarget, HtmlVideoElement};

use crate::dom::{describe, emit, error_detail};
use crate::events::Event;
use crate::text::{StreamText, StreamTrack, TextTracks};
use media_core::subtitle::feed::TextFeed;

pub(crate) mod fetch;
mod hls;
mod mse;
mod ts;

use fetch::{fetch_text, finish_response, start_fetch, Scope};
use hls::{bad_playlist, fetch_media, HlsLive};
use mse::Dash;

/// The presentation playing now (DASH), if any.
type Slot = Rc<RefCell<Option<Dash>>>;

/// A seek asked while a presentation's MediaSource opens (after the
/// element's new `src`, before the MSE shell exists): `None` outside that
/// window, `Some(None)` in it, `Some(Some(t))` with a seek to `t`, which
/// the shell takes as held (a seek then is WebKitGTK's "early seek").
pub(crate) type Early = Rc<Cell<Option<Option<f64>>>>;

pub struct Player {
    video: HtmlVideoElement,
    events: EventTarget,
    /// Where the stream's own text tracks go, when the page has text tracks.
    text: Option<Rc<RefCell<TextTracks>>>,
    generation: Rc<Cell<u32>>,
    current: Option<String>,
    dash: Slot,
    early: Early,
    /// How the current load was started (again by [`Player::reload`]).
    started: Option<(Option<Kind>, Result<FetchScope, FetchScopeError>)>,
    /// When the element last failed and was reloaded (see [`Player::reload`]).
    #[cfg(feature = "room")]
    reloads: Vec<f64>,
    /// What relative URLs resolve against: the room's server for a session
    /// (its sources are paths on that server), the page otherwise.
    base: Option<String>,
}

impl Player {
    pub fn new(video: HtmlVideoElement, events: EventTarget) -> Self {
        Player {
            video,
            events,
            text: None,
            generation: Rc::new(Cell::new(0)),
            current: None,
            dash: Rc::new(RefCell::new(None)),
            early: Rc::new(Cell::new(None)),
            started: None,
            #[cfg(feature = "room")]
            reloads: Vec::new(),
            base: None,
        }
    }

    /// The text tracks each load's stream tracks go to.
    pub fn set_text_tracks(&mut self, text: Rc<RefCell<TextTracks>>) {
        self.text = Some(text);
    }

    /// A player whose relative URLs resolve against `base` (e.g. the edge
    /// worker's origin when the page is on another origin).
    #[cfg(feature = "room")]
    pub fn with_base(video: HtmlVideoElement, events: EventTarget, base: String) -> Self {
        let mut p = Player::new(video, events);
        p.base = Some(base);
        p
    }

    /// Video qualities of the DASH presentation (an empty array otherwise).
    pub fn qualities(&self) -> JsValue {
        self.dash.borrow().as_ref().map_or_else(|| js_sys::Array::new().into(), Dash::qualities)
    }

    /// Pin a quality by index, or `None` for automatic.
    pub fn set_quality(&self, index: Option<usize>) {
        if let Some(d) = self.dash.borrow().as_ref() {
            d.set_quality(index);
        }
    }

    /// Seek to `t`: through the MSE shell while it plays a presentation
    /// (it holds a seek while the element prerolls), else on the element.
    #[cfg(feature = "room")]
    pub fn seek(&self, t: f64) {
        match self.dash.borrow().as_ref() {
            Some(d) => d.seek(t),
            None if self.early.get().is_some() => self.early.set(Some(Some(t))),
            None => self.video.set_current_time(t),
        }
    }

    /// The element failed while a presentation played through MSE: start
    /// its load again (a new MediaSource; the session steers it back to the
    /// room's position). Only a presentation that had loaded its metadata
    /// (one that never did would fail again the same way), and at most
    /// [`RELOADS`] times a minute. Returns whether it reloaded.
    #[cfg(feature = "room")]
    pub fn reload(&mut self) -> bool {
        let now = js_sys::Date::now();
        self.reloads.retain(|t| now - t < 60_000.0);
        let started = self.dash.borrow().as_ref().is_some_and(Dash::had_metadata);
        if !started || self.reloads.len() >= RELOADS {
            return false;
        }
        let (Some(abs), Some((kind, scope))) = (self.current.take(), self.started.take()) else { return false };
        self.reloads.push(now);
        self.start(abs, kind, scope);
        true
    }

    /// Stop playing: every task of the current load ends at its next step,
    /// the MediaSource and its listeners and timers go, the element is emptied.
    pub fn stop(&mut self) {
        self.generation.set(self.generation.get().wrapping_add(1));
        self.current = None;
        self.started = None;
        self.early.set(None);
        if let Some(Ok(mut t)) = self.text.as_ref().map(|t| t.try_borrow_mut()) {
            t.set_stream_tracks(Vec::new());
        }
        self.dash.borrow_mut().take();
        let _ = self.video.remove_attribute("src");
        self.video.load();
    }

    /// Load a room's source: its `play_url` when the room gave one, else
    /// `url` (relative URLs resolve against the base). What it may fetch is
    /// `FetchScope::for_source`'s rule: only the media proxy with a
    /// `play_url`, the base's origin for a source there, anywhere else.
    /// Loading the current URL again does nothing.
    #[cfg(feature = "room")]
    pub fn load_source(&mut self, url: &str, play_url: Option<&str>) {
        let base = self.base();
        // Decided on the source as the room gave it: a path stays on this origin.
        let scope = FetchScope::for_source(&base, url, play_url);
        let url = absolute(url, &base);
        let play_url = play_url.map(|p| absolute(p, &base));
        self.start(play_url.unwrap_or(url), None, scope);
    }

    /// Load `url` as `kind` (skipping detection) or, with `None`, as what
    /// its extension or response says it is. Without a room it may fetch
    /// anywhere, unless `url` is a media proxy URL (then only that proxy).
    pub fn load_as(&mut self, url: &str, kind: Option<Kind>) {
        let abs = absolute(url, &self.base());
        let scope = FetchScope::for_url(&abs);
        self.start(abs, kind, Ok(scope));
    }

    /// What relative URLs resolve against.
    fn base(&self) -> String {
        self.base.clone().or_else(|| web_sys::window().and_then(|w| w.location().href().ok())).unwrap_or_default()
    }

    fn start(&mut self, abs: String, kind: Option<Kind>, scope: Result<FetchScope, FetchScopeError>) {
        if self.current.as_deref() == Some(abs.as_str()) {
            return;
        }
        self.current = Some(abs.clone());
        self.started = Some((kind, scope.clone()));
        self.early.set(None);
        let gen = self.generation.get().wrapping_add(1);
        self.generation.set(gen);
        self.dash.borrow_mut().take();
        if let Some(Ok(mut t)) = self.text.as_ref().map(|t| t.try_borrow_mut()) {
            t.set_stream_tracks(Vec::new());
        }
        let path = abs.split(['?', '#']).next().unwrap_or("").to_string();
        let (video, events, generation, slot, early) =
            (self.video.clone(), self.events.clone(), self.generation.clone(), self.dash.clone(), self.early.clone());
        let text = self.text.clone();
        spawn_local(async move {
            let result = match scope {
                Ok(rule) => {
                    let scope = Rc::new(Scope { rule, events: events.clone(), reported: Cell::new(false) });
                    let load = Load { video, events: events.clone(), generation, gen, slot, early, scope, text };
                    load_any(load, abs.clone(), &path, kind).await
                }
                Err(e) => Err(JsValue::from_str(&e.to_string())),
            };
            if let Err(e) = result {
                emit(&events, Event::Error, &error_detail("media", &format!("could not play {abs}: {}", describe(&e))));
            }
        });
    }
}

/// `url` resolved against `base` as the browser does.
fn absolute(url: &str, base: &str) -> String {
    web_sys::Url::new_with_base(url, base).map(|u| u.href()).unwrap_or_else(|_| url.to_string())
}

/// How many times a minute a failed element is reloaded (see [`Player::reload`]).
#[cfg(feature = "room")]
const RELOADS: usize = 3;

/// File extensions the element plays by itself (progressive download).
const PROGRESSIVE: [&str; 9] = ["mp4", "m4v", "webm", "mov", "mkv", "ogv", "ogg", "mp3", "m4a"];

/// What a load needs to finish (and to notice it was superseded).
struct Load {
    video: HtmlVideoElement,
    events: EventTarget,
    generation: Rc<Cell<u32>>,
    gen: u32,
    slot: Slot,
    early: Early,
    scope: Rc<Scope>,
    text: Option<Rc<RefCell<TextTracks>>>,
}

impl Load {
    async fn dash(self, url: String, text: Option<String>) -> Result<(), JsValue> {
        let text = match text {
            Some(t) => t,
            None => fetch_text(&self.scope, &url).await?,
        };
        if self.generation.get() != self.gen {
            return Ok(());
        }
        let manifest = media_core::mpd::parse_at(&text, &url, Some(js_sys::Date::now())).map_err(|e| JsValue::from_str(&e.to_string()))?;
        // The text AdaptationSets of the first period (each language's first representation).
        let texts = manifest.periods.first().map_or_else(Vec::new, |p| {
            let mut n = 0;
            p.tracks
                .iter()
                .filter(|t| t.kind == media_core::mpd::TrackKind::Text)
                .filter_map(|t| {
                    n += 1;
                    let rep = t.representations.first()?.clone();
                    let language = t.lang.clone().unwrap_or_default();
                    let label = t.label.clone().unwrap_or_else(|| if language.is_empty() { format!("Subtitles {n}") } else { language.clone() });
                    Some(StreamTrack { label, language, source: StreamText::Feed(Box::new(TextFeed::new(rep))), scope: self.scope.clone() })
                })
                .collect()
        });
        let dash = Dash::start_with(self.video.clone(), self.events.clone(), url, manifest, None, self.scope.clone(), &self.early).await?;
        self.keep(dash, texts);
        Ok(())
    }

    /// HLS with fMP4 segments through the same engine: the master's
    /// variants (and the default audio rendition) become one presentation;
    /// a live one is reloaded by the MSE shell through [`HlsLive`].
    async fn hls(self, url: String, text: Option<String>) -> Result<(), JsValue> {
        use media_core::hls::{default_audio_uri, parse_playlist, single_variant, to_manifest, Playlist};
        let text = match text {
            Some(t) => t,
            None => fetch_text(&self.scope, &url).await?,
        };
        let (master, audio_uri, mut media, mut audio) = match parse_playlist(&text, &url).map_err(bad_playlist)? {
            Playlist::Media(m) => (single_variant(&url), None, vec![Some(m)], None),
            Playlist::Master(master) => {
                let audio_uri = default_audio_uri(&master);
                let (media, audio) = fetch_media(&self.scope, &master, audio_uri.as_deref()).await?;
                (master, audio_uri, media, audio)
            }
        };
        if media.iter().all(Option::is_none) {
            return Err(JsValue::from_str("no variant playlist could be loaded"));
        }
        if media.iter().flatten().chain(&audio).any(|m| m.is_encrypted()) {
            return Err(JsValue::from_str("encrypted HLS (EXT-X-KEY) is not supported"));
        }
        if self.generation.get() != self.gen {
            return Ok(());
        }
        // The SUBTITLES renditions of the first variant's group.
        let group = master.variants.first().and_then(|v| v.subtitles.clone());
        let texts = master
            .renditions
            .iter()
            .filter(|r| r.kind == media_core::hls::RenditionKind::Subtitles && group.as_ref().is_none_or(|g| *g == r.group_id))
            .filter_map(|r| {
                let url = r.uri.clone()?;
                Some(StreamTrack {
                    label: r.name.clone(),
                    language: r.language.clone().unwrap_or_default(),
                    source: StreamText::HlsPlaylist(url),
                    scope: self.scope.clone(),
                })
            })
            .collect();
        let (manifest, live) = if media.iter().flatten().chain(&audio).any(MediaPlaylist::is_live) {
            let present = media.iter().map(Option::is_some).collect();
            let live = HlsLive { present, master, audio_uri, times: RefCell::new(LiveTimes::default()), scope: self.scope.clone() };
            let manifest = live.manifest(&mut media, audio.as_mut());
            (manifest, Some(Rc::new(live)))
        } else {
            (to_manifest(&master, &media, audio.as_ref(), None), None)
        };
        let dash = Dash::start_with(self.video.clone(), self.events.clone(), url, manifest, live, self.scope.clone(), &self.early).await?;
        self.keep(dash, texts);
        Ok(())
    }

    fn keep(&self, dash: Dash, texts: Vec<StreamTrack>) {
        if self.generation.get() == self.gen {
            if let Some(Ok(mut t)) = self.text.as_ref().map(|t| t.try_borrow_mut()) {
                t.set_stream_tracks(texts);
            }
            let list = dash.qualities();
            *self.slot.borrow_mut() = Some(dash);
            emit(&self.events, Event::Qualities, &list);
        }
    }
}

/// Decide what `url` is, by extension where that is clear; otherwise (a
/// signed proxy URL, an extension-less API) by the response's Content-Type
/// and first bytes, as `media_core::proxy::detect` reads them.
async fn load_any(load: Load, url: String, path: &str, kind: Option<Kind>) -> Result<(), JsValue> {
    load.scope.check(&url)?;
    let video = load.video.clone();
    let ext = path.rsplit('/').next().and_then(|l| l.rsplit_once('.')).map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
    let progressive = kind == Some(Kind::Other) || (kind.is_none() && PROGRESSIVE.contains(&ext.as_str()));
    match kind.unwrap_or_else(|| detect::by_extension(path)) {
        Kind::Dash => return load.dash(url, None).await,
        Kind::Hls if has_mse() => return load.hls(url, None).await,
        Kind::Hls => return load_hls_native(&video, &url),
        Kind::Other if progressive => {
            video.set_src(&url);
            return Ok(());
        }
        Kind::Other => {}
    }
    let resp = finish_response(start_fetch(&load.scope, &url), &url).await?;
    let content_type = resp.headers().get("content-type").ok().flatten();
    if content_type.as_deref().is_some_and(|c| c.starts_with("video/") || c.starts_with("audio/")) {
        if let Some(body) = resp.body() {
            let _ = body.cancel();
        }
        video.set_src(&url);
        return Ok(());
    }
    let text = JsFuture::from(resp.text()?).await?.as_string().unwrap_or_default();
    match detect::detect(&url, content_type.as_deref(), text.as_bytes().get(..1024).unwrap_or(text.as_bytes())) {
        Kind::Dash => load.dash(url, Some(text)).await,
        Kind::Hls if has_mse() => load.hls(url, Some(text)).await,
        Kind::Hls => load_hls_native(&video, &url),
        Kind::Other => {
            video.set_src(&url);
            Ok(())
        }
    }
}

fn has_mse() -> bool {
    mse::mse_class().is_some()
}

/// Without Media Source Extensions (old iOS), HLS plays where the browser
/// has it built in.
fn load_hls_native(video: &HtmlVideoElement, url: &str) -> Result<(), JsValue> {
    if video.can_play_type("application/vnd.apple.mpegurl").is_empty() {
        return Err(JsValue::from_str("this browser has neither Media Source Extensions nor native HLS"));
    }
    video.set_src(url);
    Ok(())
}

impl Drop for Player {
    fn drop(&mut self) {
        self.stop();
    }
}
