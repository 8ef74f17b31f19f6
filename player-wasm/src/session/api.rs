//! A joined room: `join(options, video)` and the `Session` it returns
//! (built with the `room` feature, on by default; the player-only build
//! leaves it out).

use std::rc::Rc;

use sync_core::protocol::{Command, PermissionMode, Role};
use wasm_bindgen::prelude::*;
use web_sys::{EventTarget, HtmlVideoElement};

use crate::{quality_index, session};

struct JoinOptions {
    /// Origin of the edge worker, e.g. `https://watch.example` (default: this page's origin).
    server: Option<String>,
    room: String,
    name: Option<String>,
    password: Option<String>,
    host_token: Option<String>,
    /// Loudness normalisation through WebAudio (default on).
    normalize: Option<bool>,
    /// The player API scripts (default: YouTube's and Vimeo's own).
    youtube_api: Option<String>,
    vimeo_api: Option<String>,
    /// The edge time endpoint: a URL, or `false` for none (default: the server's `/api/time`).
    edge_time: Option<Option<String>>,
}

impl JoinOptions {
    /// Reads the options object a page passed (see `JoinOptions` in the typings).
    fn read(options: &JsValue) -> Result<Self, JsError> {
        if !options.is_object() {
            return Err(JsError::new("join options: expected an object"));
        }
        let get = |key: &str| js_sys::Reflect::get(options, &JsValue::from_str(key)).ok().filter(|v| !v.is_undefined() && !v.is_null());
        let string = |key: &str| match get(key) {
            None => Ok(None),
            Some(v) => v.as_string().map(Some).ok_or_else(|| JsError::new(&format!("join options: `{key}` must be a string"))),
        };
        let normalize = match get("normalize") {
            None => None,
            Some(v) => Some(v.as_bool().ok_or_else(|| JsError::new("join options: `normalize` must be true or false"))?),
        };
        let edge_time = match get("edgeTime") {
            None => None,
            Some(v) if v.as_bool() == Some(false) => Some(None),
            Some(v) => Some(Some(v.as_string().ok_or_else(|| JsError::new("join options: `edgeTime` must be a URL or false"))?)),
        };
        Ok(JoinOptions {
            edge_time,
            server: string("server")?,
            room: string("room")?.ok_or_else(|| JsError::new("join options: `room` is missing"))?,
            name: string("name")?,
            password: string("password")?,
            host_token: string("hostToken")?,
            normalize,
            youtube_api: string("youtubeApi")?,
            vimeo_api: string("vimeoApi")?,
        })
    }
}

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &'static str = r#"
export interface JoinOptions {
  /** Origin of the edge worker; defaults to the page's origin. */
  server?: string;
  /** Room id from `POST /api/rooms`. */
  room: string;
  /** Display name shown to the other members. */
  name?: string;
  /** The room password, if it has one. */
  password?: string;
  /** The host token returned when the room was created. */
  hostToken?: string;
  /** Loudness normalisation (compressor + make-up gain) through WebAudio; default true. */
  normalize?: boolean;
  /** URL of YouTube's IFrame API script (default https://www.youtube.com/iframe_api). */
  youtubeApi?: string;
  /** URL of Vimeo's Player SDK script (default https://player.vimeo.com/api/player.js). */
  vimeoApi?: string;
  /** The edge time endpoint clock probes also ask over a WebSocket, answered at the viewer's nearest point of presence (default: the server's `/api/time`; an http(s) URL is asked as ws(s)); `false`: the room's own pings only. */
  edgeTime?: string | false;
}
export interface SyncStats {
  offsetMs: number | null;
  offsetErrorMs: number | null;
  rttMs: number | null;
  /** What the edge time endpoint contributes: "off", "waiting", "agrees" (the estimate uses it), "disagrees" (its bounds miss the room's: set aside), "failing". */
  edgeClock: "off" | "waiting" | "agrees" | "disagrees" | "failing";
  /** The edge's clock minus the room's as this viewer observes them (ms), and that observation's bound; null before both have answered. */
  edgeMinusRoomMs: number | null;
  edgeMinusRoomErrorMs: number | null;
  /** The edge's most recent round trip (ms). */
  edgeRttMs: number | null;
  skewPpm: number;
  driftMs: number | null;
  rate: number;
  rateCorrections: number;
  seekCorrections: number;
  seekLandingMs: number;
  /** Media time a rate nudge itself costs on this browser (learned, ms; negative: nudges gain a little more than planned). */
  nudgeCostMs: number;
  correcting: boolean;
  /** Rate nudges in use (false: the player has no rates, or they were seen not to apply; drift is seeked away). */
  rateApplies: boolean;
  /** How far apart the element's position readings move while playing (ms), measured after each start; null: exact (Firefox: ~41). */
  readStepMs: number | null;
  /** Readings are replaced by the picture (the last second of frames from requestVideoFrameCallback, fitted, carried to now): where they are stepped, or where currentTime runs ahead of the picture. */
  readsPicture: boolean;
  /** How far (ms) the element's currentTime runs ahead of its picture, while it is found doing so (WebKitGTK with the element routed into WebAudio: ~1000); null: it agrees. */
  readLeadMs: number | null;
  /** The element's learned speed error, made up by running it that much faster (fraction of the room's rate; 0: none). */
  speedTrim: number;
}
"#;

/// A joined room. Events (CustomEvent, data in `detail`) on [`Session::events`]:
/// every [`crate::events::Event`].
#[wasm_bindgen]
pub struct Session {
    shared: session::Handle,
}

/// Join a room and keep `video` in sync with it.
#[wasm_bindgen(skip_typescript)]
pub fn join(options: JsValue, video: HtmlVideoElement) -> Result<Session, JsError> {
    let opts = JoinOptions::read(&options)?;
    if !sync_core::protocol::valid_room_id(&opts.room) {
        return Err(JsError::new("join options: `room` must be a room id"));
    }
    let origin = match opts.server {
        Some(s) => s,
        None => web_sys::window().and_then(|w| w.location().origin().ok()).ok_or_else(|| JsError::new("no server given and no page origin"))?,
    };
    let ws_origin = if let Some(rest) = origin.strip_prefix("https://") {
        format!("wss://{rest}")
    } else if let Some(rest) = origin.strip_prefix("http://") {
        format!("ws://{rest}")
    } else {
        return Err(JsError::new("join options: `server` must be an http(s) origin"));
    };
    let mut url = format!("{}/api/rooms/{}/ws", ws_origin.trim_end_matches('/'), opts.room);
    if let Some(p) = &opts.password {
        url.push_str("?password=");
        url.push_str(&String::from(js_sys::encode_uri_component(p)));
    }
    let identity = sync_core::client::Identity { name: opts.name.unwrap_or_default(), password: opts.password, host_token: opts.host_token };
    let base = format!("{}/", origin.trim_end_matches('/'));
    let edge_time = match opts.edge_time {
        None => Some(format!("{}/api/time", ws_origin.trim_end_matches('/'))),
        Some(None) => None,
        Some(Some(u)) => Some(match u.split_once("://") {
            Some(("https", rest)) => format!("wss://{rest}"),
            Some(("http", rest)) => format!("ws://{rest}"),
            Some(("wss" | "ws", _)) => u,
            _ => return Err(JsError::new("join options: `edgeTime` must be an http(s) or ws(s) URL, or false")),
        }),
    };
    let defaults = crate::backend::Apis::default();
    let apis = crate::backend::Apis { youtube: opts.youtube_api.unwrap_or(defaults.youtube), vimeo: opts.vimeo_api.unwrap_or(defaults.vimeo) };
    let shared = session::start(url, base, edge_time, identity, video, opts.normalize.unwrap_or(true), apis)
        .map_err(|e| JsError::new(&format!("join failed: {}", crate::dom::describe(&e))))?;
    Ok(Session { shared })
}

#[wasm_bindgen(typescript_custom_section)]
const TS_JOIN: &'static str = r#"
/** Join a room and keep `video` in sync with it. */
export function join(options: JoinOptions, video: HTMLVideoElement): Session;
"#;

#[wasm_bindgen]
impl Session {
    /// Where page events are dispatched.
    #[wasm_bindgen(getter)]
    pub fn events(&self) -> EventTarget {
        self.shared.borrow().events()
    }

    /// Ask the room to play (from the current position).
    pub fn play(&self) {
        self.command(Command::Play { position: None });
    }

    /// Ask the room to pause.
    pub fn pause(&self) {
        self.command(Command::Pause { position: None });
    }

    /// Ask the room to jump to `seconds`.
    pub fn seek(&self, seconds: f64) {
        self.command(Command::Seek { position: seconds });
    }

    /// Ask the room to play another source (DASH, HLS or a progressive file).
    pub fn load(&self, url: String, title: Option<String>) {
        self.command(Command::SetSource { url, title });
    }

    /// Add a source to the end of the room's queue.
    #[wasm_bindgen(js_name = queueAdd)]
    pub fn queue_add(&self, url: String, title: Option<String>) {
        self.command(Command::QueueAdd { url, title });
    }

    /// Take an item (by its `id`) out of the queue.
    #[wasm_bindgen(js_name = queueRemove)]
    pub fn queue_remove(&self, item: f64) {
        self.command(Command::QueueRemove { item: item as u64 });
    }

    /// Move a queue item to position `to` (0 = next).
    #[wasm_bindgen(js_name = queueMove)]
    pub fn queue_move(&self, item: f64, to: u32) {
        self.command(Command::QueueMove { item: item as u64, to: to as usize });
    }

    /// Skip to the next queue item.
    #[wasm_bindgen(js_name = queueNext)]
    pub fn queue_next(&self) {
        self.command(Command::QueueNext);
    }

    /// Host: remove a member from the room and ban it (identity and address).
    pub fn kick(&self, member: f64) {
        self.command(Command::Kick { member: member as u64 });
    }

    /// Host: lift a ban (an id from the `bans` event).
    pub fn unban(&self, ban: f64) {
        self.command(Command::Unban { ban: ban as u64 });
    }

    /// Host: hand the host role to another member.
    #[wasm_bindgen(js_name = transferHost)]
    pub fn transfer_host(&self, member: f64) {
        self.command(Command::TransferHost { member: member as u64 });
    }

    /// Host: make a member a `"controller"` or a `"viewer"`.
    #[wasm_bindgen(js_name = setRole)]
    pub fn set_role(&self, member: f64, role: &str) -> Result<(), JsError> {
        let role = match role {
            "controller" => Role::Controller,
            "viewer" => Role::Viewer,
            other => return Err(JsError::new(&format!("setRole: unknown role \"{other}\" (\"controller\" or \"viewer\")"))),
        };
        self.command(Command::SetRole { member: member as u64, role });
        Ok(())
    }

    /// Host: `"open"` (everyone controls) or `"controlled"` (host and controllers only).
    #[wasm_bindgen(js_name = setMode)]
    pub fn set_mode(&self, mode: &str) -> Result<(), JsError> {
        let mode = match mode {
            "open" => PermissionMode::Open,
            "controlled" => PermissionMode::Controlled,
            other => return Err(JsError::new(&format!("setMode: unknown mode \"{other}\" (\"open\" or \"controlled\")"))),
        };
        self.command(Command::SetMode { mode });
        Ok(())
    }

    /// Host: set or (with nothing) clear the room's password.
    #[wasm_bindgen(js_name = setPassword)]
    pub fn set_password(&self, password: Option<String>) {
        self.command(Command::SetPassword { password: password.filter(|p| !p.is_empty()) });
    }

    /// Say something in the room's chat.
    pub fn chat(&self, text: String) {
        let weak = Rc::downgrade(&self.shared);
        session::with(&weak, |s| s.chat(text));
    }

    /// The "don't correct me" switch: false leaves this player alone.
    #[wasm_bindgen(js_name = setCorrection)]
    pub fn set_correction(&self, on: bool) {
        let weak = Rc::downgrade(&self.shared);
        session::with(&weak, |s| s.set_correction(on));
    }

    /// Loudness normalisation on or off.
    #[wasm_bindgen(js_name = setNormalize)]
    pub fn set_normalize(&self, on: bool) {
        if let Ok(mut s) = self.shared.try_borrow_mut() {
            s.set_normalize(on);
        }
    }

    /// WebAudio status: `{state, resumeAttempts, normalize, makeupGain}` (null without WebAudio).
    pub fn audio(&self) -> JsValue {
        // (Read from inside a handler of an event the session dispatches while
        // it is borrowed, e.g. `audio` from `setNormalize`: null, not a panic.)
        self.shared.try_borrow().map_or(JsValue::NULL, |s| s.audio())
    }

    /// false: do not make the group wait while this player buffers.
    #[wasm_bindgen(js_name = setHold)]
    pub fn set_hold(&self, on: bool) {
        let weak = Rc::downgrade(&self.shared);
        session::with(&weak, |s| s.set_hold(on));
    }

    /// Change the playback rate for everyone.
    #[wasm_bindgen(js_name = setRate)]
    pub fn set_rate(&self, rate: f64) {
        self.command(Command::SetRate { rate });
    }

    /// Video qualities of the current DASH source, lowest first:
    /// `[{id, bandwidth, width, height}]` (empty for other sources).
    pub fn qualities(&self) -> JsValue {
        match self.shared.try_borrow() {
            Ok(s) => s.player().map_or_else(|| js_sys::Array::new().into(), |p| p.qualities()),
            Err(_) => js_sys::Array::new().into(),
        }
    }

    /// Pin a quality by its index in `qualities()`, or pass `"auto"`.
    #[wasm_bindgen(js_name = setQuality)]
    pub fn set_quality(&self, choice: JsValue) {
        if let Ok(s) = self.shared.try_borrow() {
            if let Some(p) = s.player() {
                p.set_quality(quality_index(&choice));
            }
        }
    }

    /// Add a subtitle file to the room, for everyone (the host, or anyone
    /// allowed to control it): a `File`, a `Blob`, or a URL the room
    /// fetches itself; `{label?, language?}`. Resolves to
    /// `{id, label, language, cues}` once the room has it; rejects with the
    /// room's reason (too large, not subtitles, not allowed).
    #[wasm_bindgen(js_name = shareSubtitles)]
    pub fn share_subtitles(&self, file: JsValue, options: JsValue) -> js_sys::Promise {
        let target = self.shared.try_borrow().ok().map(|s| (s.room_api(), s.resume_token()));
        wasm_bindgen_futures::future_to_promise(async move {
            let Some((api, Some(token))) = target else { return Err(JsError::new("shareSubtitles: not joined yet").into()) };
            let get = |k: &str| js_sys::Reflect::get(&options, &k.into()).ok().and_then(|v| v.as_string());
            let mut url = format!("{api}/subtitles?");
            // A URL: the room fetches it (a sidecar that refuses browsers' CORS still comes).
            let from_url = file.as_string();
            if from_url.is_none() && !file.is_instance_of::<web_sys::Blob>() {
                return Err(JsError::new("shareSubtitles: give a File, a Blob or a URL").into());
            }
            let name = file.dyn_ref::<web_sys::File>().map(web_sys::File::name);
            for (k, v) in [("name", name), ("url", from_url.clone()), ("label", get("label")), ("language", get("language"))] {
                if let Some(v) = v {
                    url.push_str(&format!("{k}={}&", String::from(js_sys::encode_uri_component(&v))));
                }
            }
            let init = web_sys::RequestInit::new();
            init.set_method("POST");
            let headers = web_sys::Headers::new()?;
            headers.set("authorization", &format!("Bearer {token}"))?;
            init.set_headers(&headers);
            if from_url.is_none() {
                init.set_body(&file);
            }
            let window = web_sys::window().ok_or("no window")?;
            let resp: web_sys::Response = wasm_bindgen_futures::JsFuture::from(window.fetch_with_str_and_init(&url, &init)).await?.dyn_into()?;
            let body = wasm_bindgen_futures::JsFuture::from(resp.json()?).await.unwrap_or(JsValue::NULL);
            if resp.ok() {
                return Ok(body);
            }
            let message = js_sys::Reflect::get(&body, &"error".into())
                .and_then(|e| js_sys::Reflect::get(&e, &"message".into()))
                .ok()
                .and_then(|m| m.as_string())
                .unwrap_or_else(|| format!("HTTP {}", resp.status()));
            Err(JsError::new(&message).into())
        })
    }

    /// Remove one of the room's subtitle files (an id from the `subtitles` event).
    #[wasm_bindgen(js_name = removeSubtitles)]
    pub fn remove_subtitles(&self, id: f64) {
        self.command(Command::RemoveSubtitle { id: id as u64 });
    }

    /// Shift the room's subtitle files for everyone (ms, positive: later).
    #[wasm_bindgen(js_name = setSubtitleDelay)]
    pub fn set_subtitle_delay(&self, ms: f64) {
        self.command(Command::SetSubtitleDelay { ms });
    }

    /// The room's default subtitle language, for members who have not
    /// picked a track (BCP 47; empty: none).
    #[wasm_bindgen(js_name = setSubtitleLanguage)]
    pub fn set_subtitle_language(&self, language: String) {
        self.command(Command::SetSubtitleLanguage { language });
    }

    /// Add a subtitle file for yourself (WebVTT, SRT, ASS/SSA, TTML; a
    /// `File`, a `Blob` or a URL): shown at once, in this page only.
    #[wasm_bindgen(js_name = addSubtitles)]
    pub fn add_subtitles(&self, source: JsValue, options: JsValue) -> js_sys::Promise {
        match self.text() {
            Ok(text) => crate::text::add_subtitles(text, source, options),
            Err(e) => js_sys::Promise::reject(&e.into()),
        }
    }

    /// The text tracks: the stream's own and your files,
    /// `[{id, label, language, origin, loaded, cues, selected}]`.
    #[wasm_bindgen(js_name = textTracks)]
    pub fn text_tracks(&self) -> Result<JsValue, JsError> {
        Ok(self.text()?.try_borrow().map_err(|_| JsError::new("textTracks: player busy"))?.list())
    }

    /// Show a text track by id, or none with `null` (for you only).
    #[wasm_bindgen(js_name = setTextTrack)]
    pub fn set_text_track(&self, id: JsValue) -> Result<(), JsError> {
        crate::text::set_track(&*self.text()?, &id)
    }

    /// Shift every cue by `seconds` (positive: later), at most ±600.
    #[wasm_bindgen(js_name = setTextDelay)]
    pub fn set_text_delay(&self, seconds: f64) -> Result<(), JsError> {
        crate::text::set_delay(&*self.text()?, seconds)
    }

    /// Make a file on this device the room's source (the host, or anyone
    /// allowed to control): only its name, size, duration and fingerprint
    /// go to the room. Resolves once it was sent.
    #[wasm_bindgen(js_name = shareLocalFile)]
    pub fn share_local_file(&self, file: web_sys::File) -> js_sys::Promise {
        let weak = Rc::downgrade(&self.shared);
        wasm_bindgen_futures::future_to_promise(async move { session::local::share(weak, file).await.map(|_| JsValue::UNDEFINED) })
    }

    /// Open this member's own copy of the room's local file. Resolves with
    /// `{match, name, roomName}` (`match`: "same", "other-version" or
    /// "different"; it plays in every case), also sent as `local-file`.
    #[wasm_bindgen(js_name = openLocalFile)]
    pub fn open_local_file(&self, file: web_sys::File) -> js_sys::Promise {
        let weak = Rc::downgrade(&self.shared);
        wasm_bindgen_futures::future_to_promise(session::local::open(weak, file))
    }

    /// What plays now, whatever the player: `{position, duration, paused}`
    /// (seconds; `duration` null until known).
    pub fn playhead(&self) -> JsValue {
        self.shared.try_borrow().map_or(JsValue::NULL, |s| s.playhead())
    }

    /// Current sync figures (see `SyncStats`).
    pub fn stats(&self) -> JsValue {
        self.shared.try_borrow().map_or(JsValue::NULL, |s| s.stats())
    }

    /// The room's members as last heard: `[{id, name, role, status, driftMs?, rttMs?}]`.
    #[wasm_bindgen(getter)]
    pub fn members(&self) -> JsValue {
        self.shared.try_borrow().map_or_else(|_| js_sys::Array::new().into(), |s| s.members())
    }

    /// Your member id once joined, else null.
    #[wasm_bindgen(getter)]
    pub fn me(&self) -> Option<f64> {
        self.shared.try_borrow().ok().and_then(|s| s.me()).map(|id| id as f64)
    }

    /// Your role once joined (`"host"`, `"controller"`, `"viewer"`), else null.
    #[wasm_bindgen(getter)]
    pub fn role(&self) -> Option<String> {
        self.shared.try_borrow().ok().and_then(|s| s.role()).map(str::to_string)
    }

    /// Whether the room takes your play, pause, seek, source and queue
    /// commands now: the room's own rule on your role and its mode (false
    /// until joined).
    #[wasm_bindgen(getter, js_name = canControl)]
    pub fn can_control(&self) -> bool {
        self.shared.try_borrow().is_ok_and(|s| s.can_control())
    }

    /// The room's queue as last heard: `[{id, url, title?, addedBy}]`.
    #[wasm_bindgen(getter)]
    pub fn queue(&self) -> JsValue {
        self.shared.try_borrow().map_or_else(|_| js_sys::Array::new().into(), |s| s.queue())
    }

    /// The room's settings as last heard: `{mode, hasPassword}`.
    #[wasm_bindgen(getter)]
    pub fn settings(&self) -> JsValue {
        self.shared.try_borrow().map_or(JsValue::NULL, |s| s.settings())
    }

    /// Leave the room: closes the socket, stops timers and listeners.
    pub fn leave(&self) {
        if let Ok(mut s) = self.shared.try_borrow_mut() {
            s.leave();
        }
    }
}

impl Session {
    fn text(&self) -> Result<Rc<std::cell::RefCell<crate::text::TextTracks>>, JsError> {
        Ok(self.shared.try_borrow().map_err(|_| JsError::new("session busy"))?.text())
    }

    fn command(&self, c: Command) {
        let weak = Rc::downgrade(&self.shared);
        session::with(&weak, |s| s.command(c));
    }
}
