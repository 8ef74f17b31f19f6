//! The media engine: DASH through Media Source Extensions, audio and video
//! as two SourceBuffers of one MediaSource on one element (so they cannot
//! drift apart); any other URL is handed to the element as is.
//!
//! Which segment to fetch is decided by `media_core::schedule`; this file
//! only carries bytes. A load is cancelled by bumping the generation.

use std::cell::Cell;
use std::rc::Rc;

use js_sys::{ArrayBuffer, Promise};
use media_core::mpd::{self, Representation, TrackKind};
use media_core::proxy::detect::{self, Kind};
use media_core::schedule::{next_segment, Next};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::{spawn_local, JsFuture};
use web_sys::{EventTarget, HtmlVideoElement, MediaSource, MediaSourceReadyState, SourceBuffer};

use crate::dom::{emit, error_name, Listener};

/// Seconds to keep buffered ahead of the playhead.
const BUFFER_GOAL: f64 = 30.0;
const MAX_FETCH_TRIES: u32 = 5;

pub struct Player {
    video: HtmlVideoElement,
    events: EventTarget,
    generation: Rc<Cell<u32>>,
    current: Option<String>,
}

impl Player {
    pub fn new(video: HtmlVideoElement, events: EventTarget) -> Self {
        Player { video, events, generation: Rc::new(Cell::new(0)), current: None }
    }

    /// Load `url` (relative URLs resolve against the page). Loading the
    /// current URL again does nothing.
    pub fn load(&mut self, url: &str) {
        let base = web_sys::window().and_then(|w| w.location().href().ok()).unwrap_or_default();
        let abs = web_sys::Url::new_with_base(url, &base).map(|u| u.href()).unwrap_or_else(|_| url.to_string());
        if self.current.as_deref() == Some(abs.as_str()) {
            return;
        }
        self.current = Some(abs.clone());
        let gen = self.generation.get().wrapping_add(1);
        self.generation.set(gen);
        let path = abs.split(['?', '#']).next().unwrap_or("").to_string();
        let (video, events, generation) = (self.video.clone(), self.events.clone(), self.generation.clone());
        spawn_local(async move {
            if let Err(e) = load_any(video, abs.clone(), &path, generation, gen).await {
                emit(&events, "error", &error_detail("media", &format!("could not play {abs}: {}", describe(&e))));
            }
        });
    }
}

/// File extensions the element plays by itself (progressive download).
const PROGRESSIVE: [&str; 9] = ["mp4", "m4v", "webm", "mov", "mkv", "ogv", "ogg", "mp3", "m4a"];

/// Decide what `url` is, by extension where that is clear; otherwise (a
/// signed proxy URL, an extension-less API) by the response's Content-Type
/// and first bytes, as `media_core::proxy::detect` reads them.
async fn load_any(video: HtmlVideoElement, url: String, path: &str, generation: Rc<Cell<u32>>, gen: u32) -> Result<(), JsValue> {
    let ext = path.rsplit('/').next().and_then(|l| l.rsplit_once('.')).map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
    match detect::by_extension(path) {
        Kind::Dash => return load_dash(video, url, None, generation, gen).await,
        Kind::Hls => return load_hls_native(&video, &url),
        Kind::Other if PROGRESSIVE.contains(&ext.as_str()) => {
            video.set_src(&url);
            return Ok(());
        }
        Kind::Other => {}
    }
    let resp = fetch_response(&url).await?;
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
        Kind::Dash => load_dash(video, url, Some(text), generation, gen).await,
        Kind::Hls => load_hls_native(&video, &url),
        Kind::Other => {
            video.set_src(&url);
            Ok(())
        }
    }
}

/// HLS plays where the browser has it built in (Safari, iOS); the MSE
/// engine for HLS fMP4 is not there yet.
fn load_hls_native(video: &HtmlVideoElement, url: &str) -> Result<(), JsValue> {
    if video.can_play_type("application/vnd.apple.mpegurl").is_empty() {
        return Err(JsValue::from_str("HLS needs native support in this browser (the MSE HLS engine is not built yet)"));
    }
    video.set_src(url);
    Ok(())
}

impl Drop for Player {
    fn drop(&mut self) {
        // Stops every task of the current load at its next step.
        self.generation.set(self.generation.get().wrapping_add(1));
        let _ = self.video.remove_attribute("src");
        self.video.load();
    }
}

pub fn error_detail(code: &str, message: &str) -> JsValue {
    let o = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&o, &"code".into(), &code.into());
    let _ = js_sys::Reflect::set(&o, &"message".into(), &message.into());
    o.into()
}

fn describe(e: &JsValue) -> String {
    if let Some(s) = e.as_string() {
        return s;
    }
    let msg = js_sys::Reflect::get(e, &"message".into()).ok().and_then(|m| m.as_string()).unwrap_or_default();
    format!("{} {}", error_name(e), msg).trim().to_string()
}

async fn fetch_response(url: &str) -> Result<web_sys::Response, JsValue> {
    let window = web_sys::window().ok_or("no window")?;
    let resp: web_sys::Response = JsFuture::from(window.fetch_with_str(url)).await?.dyn_into()?;
    if !resp.ok() {
        return Err(JsValue::from_str(&format!("HTTP {} for {url}", resp.status())));
    }
    Ok(resp)
}

async fn fetch_text(url: &str) -> Result<String, JsValue> {
    let resp = fetch_response(url).await?;
    JsFuture::from(resp.text()?).await?.as_string().ok_or_else(|| JsValue::from_str("body is not text"))
}

/// Fetch bytes, retrying with exponential backoff (250 ms, 500 ms, …).
async fn fetch_bytes(url: &str) -> Result<ArrayBuffer, JsValue> {
    let mut tries = 0;
    loop {
        let attempt = async {
            let resp = fetch_response(url).await?;
            JsFuture::from(resp.array_buffer()?).await?.dyn_into::<ArrayBuffer>()
        };
        match attempt.await {
            Ok(buf) => return Ok(buf),
            Err(e) if tries + 1 >= MAX_FETCH_TRIES => return Err(e),
            Err(_) => {
                gloo_timers::future::TimeoutFuture::new(250 << tries).await;
                tries += 1;
            }
        }
    }
}

/// Resolve when `target` fires `kind`, reject on `error`; both listeners
/// are removed when this returns.
async fn once(target: &EventTarget, kind: &'static str) -> Result<(), JsValue> {
    let mut fns = None;
    let promise = Promise::new(&mut |resolve, reject| fns = Some((resolve, reject)));
    let (resolve, reject) = fns.ok_or_else(|| JsValue::from_str("Promise executor did not run"))?;
    let _ok = Listener::new(target, kind, move |_| {
        let _ = resolve.call0(&JsValue::NULL);
    })?;
    let _err = Listener::new(target, "error", move |e| {
        let _ = reject.call1(&JsValue::NULL, &e);
    })?;
    JsFuture::from(promise).await.map(|_| ())
}

async fn append(sb: &SourceBuffer, buf: &ArrayBuffer) -> Result<(), JsValue> {
    sb.append_buffer_with_array_buffer(buf)?;
    once(sb, "updateend").await
}

async fn load_dash(video: HtmlVideoElement, url: String, text: Option<String>, generation: Rc<Cell<u32>>, gen: u32) -> Result<(), JsValue> {
    let text = match text {
        Some(t) => t,
        None => fetch_text(&url).await?,
    };
    let manifest = mpd::parse(&text, &url).map_err(|e| JsValue::from_str(&e.to_string()))?;
    if generation.get() != gen {
        return Ok(());
    }
    let media_source = MediaSource::new()?;
    let object_url = web_sys::Url::create_object_url_with_source(&media_source)?;
    video.set_src(&object_url);
    once(&media_source, "sourceopen").await?;
    let _ = web_sys::Url::revoke_object_url(&object_url);
    if generation.get() != gen {
        return Ok(());
    }
    if let Some(d) = manifest.duration {
        media_source.set_duration(d);
    }
    let mut chosen: Vec<Representation> = Vec::new();
    for kind in [TrackKind::Video, TrackKind::Audio] {
        let best = manifest
            .tracks
            .iter()
            .filter(|t| t.kind == kind)
            .flat_map(|t| &t.representations)
            .filter(|r| MediaSource::is_type_supported(&r.content_type()))
            .max_by_key(|r| r.bandwidth);
        if let Some(r) = best {
            chosen.push(r.clone());
        }
    }
    if chosen.is_empty() {
        return Err(JsValue::from_str("no playable audio or video track in the manifest"));
    }
    let remaining = Rc::new(Cell::new(chosen.len()));
    for rep in chosen {
        let sb = media_source.add_source_buffer(&rep.content_type())?;
        let (video, generation, remaining, media_source) = (video.clone(), generation.clone(), remaining.clone(), media_source.clone());
        spawn_local(async move {
            let done = track_loop(&video, &sb, &rep, &generation, gen).await;
            if generation.get() != gen {
                return;
            }
            match done {
                Ok(()) => {
                    remaining.set(remaining.get().saturating_sub(1));
                    if remaining.get() == 0 && media_source.ready_state() == MediaSourceReadyState::Open {
                        let _ = media_source.end_of_stream();
                    }
                }
                Err(e) => web_sys::console::error_2(&"watch-together: track failed".into(), &e),
            }
        });
    }
    Ok(())
}

async fn track_loop(video: &HtmlVideoElement, sb: &SourceBuffer, rep: &Representation, generation: &Rc<Cell<u32>>, gen: u32) -> Result<(), JsValue> {
    if let Some(init) = &rep.init_url {
        let bytes = fetch_bytes(init).await?;
        if generation.get() != gen {
            return Ok(());
        }
        append(sb, &bytes).await?;
    }
    let mut appended = vec![false; rep.segments.len()];
    loop {
        if generation.get() != gen {
            return Ok(());
        }
        match next_segment(&rep.segments, &appended, video.current_time(), BUFFER_GOAL) {
            Next::Fetch(i) => {
                let bytes = fetch_bytes(&rep.segments[i].url).await?;
                if generation.get() != gen {
                    return Ok(());
                }
                append(sb, &bytes).await?;
                appended[i] = true;
            }
            Next::Wait => gloo_timers::future::TimeoutFuture::new(250).await,
            Next::Done => return Ok(()),
        }
    }
}
