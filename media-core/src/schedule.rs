//! The segment scheduler: a sans-IO engine that decides what to fetch,
//! append and evict for one presentation on Media Source Extensions.
//!
//! Inputs (`handle_*`) carry `now` (ms): the manifest, ticks with the
//! element's state (current time, paused, buffered ranges per track), fetch
//! results (sizes and timings; bytes only for index data it must parse),
//! append results, seeks. Outputs ([`Output`], drained with
//! [`Engine::poll_output`]) are plain data: fetches (URL + byte range),
//! appends (by fetch id: the payload never leaves the JS side), removals,
//! codec changes, duration, end of stream, gap-jump seeks and events.
//! [`Engine::poll_timeout`] says when to tick next at the latest.
//!
//! Per track (video, audio) the engine keeps a *cursor*: the presentation
//! time up to which media has been requested. It fetches the segment that
//! holds the cursor while the cursor is less than `buffer_goal` ahead of
//! the playhead, one fetch per track at a time, choosing the video quality
//! with [`crate::abr`]. A seek moves the cursor (to the end of the buffered
//! range holding the target, so nothing is fetched twice) and aborts what
//! is in flight. The shell applies appends, removals and codec changes in
//! order, one at a time per SourceBuffer.

use std::collections::VecDeque;

use crate::abr::{Abr, AbrConfig, Choice};
use crate::mpd::{Addressing, Container, Manifest, Representation, Segment, TrackKind};
use crate::sidx::IndexedSegment;

/// A fetch the engine asked for.
pub type FetchId = u64;

#[derive(Clone, Debug, PartialEq)]
pub struct EngineConfig {
    /// Seconds to keep buffered ahead of the playhead.
    pub buffer_goal_s: f64,
    /// Seconds kept behind the playhead; older media is removed.
    pub back_buffer_s: f64,
    /// Attempts per fetch before the track fails.
    pub max_attempts: u32,
    /// First retry delay; doubles per attempt up to `retry_max_ms`.
    pub retry_base_ms: f64,
    pub retry_max_ms: f64,
    /// Gaps up to this long are jumped.
    pub max_gap_s: f64,
    /// Playing with the position stuck this long (and little buffered) is a stall.
    pub stall_ms: f64,
    /// Live: seconds behind the live edge when the MPD does not say.
    pub live_delay_s: Option<f64>,
    pub abr: AbrConfig,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            buffer_goal_s: 30.0,
            back_buffer_s: 30.0,
            max_attempts: 6,
            retry_base_ms: 500.0,
            retry_max_ms: 8_000.0,
            max_gap_s: 0.5,
            stall_ms: 1_000.0,
            live_delay_s: None,
            abr: AbrConfig::default(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    Init,
    Media,
    Index,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Output {
    /// Fetch `url` (with an inclusive byte `range`). `inspect`: hand the
    /// bytes to [`Engine::handle_fetched`] (index data, WebM headers, the
    /// init segments of placed fMP4; of a media segment only the first
    /// [`crate::frag_start::HEAD_BYTES`] are read); otherwise only their
    /// size and timing.
    Fetch {
        id: FetchId,
        track: usize,
        url: String,
        range: Option<(u64, u64)>,
        purpose: Purpose,
        inspect: bool,
    },
    /// Abort fetch `id` and forget its bytes.
    Abort {
        id: FetchId,
    },
    /// Queue: append the bytes of fetch `id` to the track's SourceBuffer,
    /// with `timestamp_offset` and the append window (the period's span:
    /// media past a period's end is cut) set first. `placed`: the segment
    /// goes at `timestamp_offset` whatever its own timestamps say (MSE
    /// "sequence" mode; see [`Representation::placed`]).
    Append {
        track: usize,
        id: FetchId,
        timestamp_offset: f64,
        window: (f64, f64),
        placed: bool,
        /// MPEG-TS (see [`Representation::transmux`]): which segment, so the
        /// shell's transmuxer knows whether it follows the last one.
        ts_segment: Option<TsSegment>,
    },
    /// Queue: remove `[start, end)` from the track's SourceBuffer.
    Remove {
        track: usize,
        start: f64,
        end: f64,
    },
    /// Queue: `SourceBuffer.changeType` (or create the SourceBuffer).
    ChangeType {
        track: usize,
        content_type: String,
    },
    /// Drop the track's queued (not yet started) operations.
    Flush {
        track: usize,
    },
    /// The presentation's duration (`f64::INFINITY` for a live stream).
    SetDuration(f64),
    /// Queue, after everything else: `MediaSource.endOfStream()`.
    EndOfStream,
    /// Move the playhead (gap jump, live start).
    Seek(f64),
    /// Fetch the manifest again (live) and hand it to [`Engine::handle_manifest`].
    RefreshManifest,
    Event(EngineEvent),
}

/// An MPEG-TS segment being appended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TsSegment {
    pub number: u64,
    /// It follows an `EXT-X-DISCONTINUITY`.
    pub discontinuity: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub enum EngineEvent {
    /// The tracks chosen: (kind, content type) per track index.
    Tracks(Vec<(TrackKind, String)>),
    Buffering(bool),
    /// A new video quality is being fetched.
    Quality {
        id: String,
        bandwidth: u64,
        width: Option<u32>,
        height: Option<u32>,
    },
    /// A gap of this length was jumped.
    GapJumped {
        from: f64,
        to: f64,
    },
    /// The element was held at `at` with media there (paused without its
    /// frame, or a seek that did not end), and was seeked there again (the
    /// `n`th time since it last had its frame).
    Reseeked {
        at: f64,
        n: u32,
    },
    /// A fetch failed and will be retried (attempt n) after `delay_ms`.
    Retrying {
        track: usize,
        attempt: u32,
        delay_ms: f64,
    },
    /// Unrecoverable: playback of this track stops.
    Error(EngineError),
}

#[derive(Clone, Debug, PartialEq)]
pub enum EngineError {
    NoPlayableTrack,
    FetchFailed { url: String, status: Option<u16> },
    BadIndex(String),
    AppendFailed { track: usize },
}

impl std::fmt::Display for EngineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EngineError::NoPlayableTrack => write!(f, "no representation this browser can play"),
            EngineError::FetchFailed { url, status: Some(s) } => write!(f, "fetching {url} failed with HTTP {s}"),
            EngineError::FetchFailed { url, status: None } => write!(f, "fetching {url} failed (network)"),
            EngineError::BadIndex(e) => write!(f, "bad segment index: {e}"),
            EngineError::AppendFailed { track } => write!(f, "the browser refused media for track {track}"),
        }
    }
}

impl std::error::Error for EngineError {}

/// The element's state at a tick.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Playhead {
    pub time: f64,
    pub paused: bool,
    /// The element is seeking (not a seek the shell holds back until the
    /// position is seekable: `time` is its target then).
    pub seeking: bool,
    /// The element has the frame at `time` (`readyState` ≥ HAVE_CURRENT_DATA).
    pub ready: bool,
    /// Buffered ranges per track (index as in [`EngineEvent::Tracks`]).
    pub buffered: Vec<Vec<(f64, f64)>>,
    /// The element's height in device pixels (for the ABR size cap).
    pub display_height: Option<u32>,
}

/// Which representation of which period.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct RepRef {
    period: usize,
    set: usize,
    rep: usize,
}

#[derive(Clone, Debug)]
struct InFlight {
    id: FetchId,
    purpose: Purpose,
    rep: RepRef,
    url: String,
    range: Option<(u64, u64)>,
    /// For media: the segment's presentation span and number.
    span: Option<(f64, f64)>,
    number: u64,
    /// Hand the bytes to the engine (kept across retries).
    inspect: bool,
    attempt: u32,
}

impl InFlight {
    /// A first attempt (the id is given when it starts).
    fn new(purpose: Purpose, rep: RepRef, url: String, range: Option<(u64, u64)>, span: Option<(f64, f64)>, inspect: bool) -> InFlight {
        InFlight { id: 0, purpose, rep, url, range, span, number: 0, inspect, attempt: 0 }
    }
}

#[derive(Clone, Debug)]
struct TrackState {
    kind: TrackKind,
    /// Chosen adaptation set per period (None: the period lacks this kind).
    sets: Vec<Option<usize>>,
    /// Presentation time up to which media has been requested.
    cursor: f64,
    /// The representation whose init segment was appended last.
    init_of: Option<RepRef>,
    content_type: Option<String>,
    current: Option<RepRef>,
    inflight: Option<InFlight>,
    /// Retry of a failed fetch, at this time.
    retry_at: Option<(f64, InFlight)>,
    /// Segments read from an index, per (period, set, rep).
    indexes: Vec<(RepRef, Vec<Segment>)>,
    /// WebM headers (from the init segment) for reading Cues.
    webm: Vec<(RepRef, crate::webm::WebmInfo)>,
    /// Alternate base URL in use (failover).
    base: usize,
    /// Where the last back-buffer removal ended (not asked for twice).
    evicted_to: f64,
    ended: bool,
    failed: bool,
    /// Appends handed to the shell and not yet confirmed.
    pending_appends: u32,
    /// Where the last few placed segments go (by fetch), for a retry of
    /// the same bytes after a QuotaExceededError.
    placed_at: Vec<(FetchId, Placement)>,
    /// Placed fMP4: `(track id, timescale)` of the last init segment.
    timescales: Vec<(u32, u32)>,
    /// Placed fMP4: the `timestampOffset` taking the media's own timeline
    /// to the listed one, while it holds (see [`Engine::place`]).
    offset: Option<f64>,
    /// A pinned quality replaces what is buffered ahead: what lies past
    /// the first segment fetched again is removed as that fetch starts
    /// (see [`Engine::set_quality`]).
    replace_ahead: bool,
}

/// Where a placed segment goes: its listed start and number; and the
/// `timestampOffset` its own timestamps need, or None to append it in
/// sequence mode at its start (MPEG-TS, which the shell's transmuxer
/// places, or an fMP4 segment whose start could not be read).
#[derive(Clone, Copy, Debug)]
struct Placement {
    start: f64,
    number: u64,
    offset: Option<f64>,
}

pub struct Engine {
    cfg: EngineConfig,
    manifest: Option<Manifest>,
    /// Per period, set and representation: can the browser play it?
    playable: Vec<Vec<Vec<bool>>>,
    tracks: Vec<TrackState>,
    out: VecDeque<Output>,
    next_id: FetchId,
    abr: Abr,
    playhead: Playhead,
    last_progress: Option<(f64, f64)>,
    buffering: bool,
    end_sent: bool,
    next_refresh: Option<f64>,
    /// Presentation time now (live), from the last tick.
    live_now: Option<f64>,
    quality: Option<String>,
    now: f64,
    /// The live start this engine sought to, until the playhead is on
    /// media or sought elsewhere (see `check_stall`).
    start_gap: Option<f64>,
    /// Seeks again since the element last had its frame (see `check_stall`).
    nudges: u32,
    /// Since when the element has been held with media at the playhead.
    unready_since: Option<f64>,
    /// The last seek this engine asked for (see `check_stall`), until the
    /// element starts it: not a seek of the viewer's.
    own_seek: Option<f64>,
    /// Since when the element has been seeking.
    seeking_since: Option<f64>,
}

/// Seeks again (see `check_stall`) before the engine leaves a held element as it is.
pub const MAX_NUDGES: u32 = 3;
/// Media needed at and after the playhead, in every track, for a held
/// element to be seeked again.
const NUDGE_AHEAD_S: f64 = 0.5;
/// A seek under way this long with media at its target is started again.
const NUDGE_SEEK_MS: f64 = 5_000.0;

impl Engine {
    pub fn new(cfg: EngineConfig) -> Engine {
        let abr = Abr::new(cfg.abr.clone());
        Engine {
            cfg,
            manifest: None,
            playable: Vec::new(),
            tracks: Vec::new(),
            out: VecDeque::new(),
            next_id: 1,
            abr,
            playhead: Playhead::default(),
            last_progress: None,
            buffering: false,
            end_sent: false,
            next_refresh: None,
            live_now: None,
            quality: None,
            now: 0.0,
            start_gap: None,
            nudges: 0,
            unready_since: None,
            own_seek: None,
            seeking_since: None,
        }
    }

    pub fn manifest(&self) -> Option<&Manifest> {
        self.manifest.as_ref()
    }

    /// A (new or refreshed) manifest. `supported` answers whether the
    /// browser can play a content type (`MediaSource.isTypeSupported`).
    pub fn handle_manifest(&mut self, now: f64, manifest: Manifest, supported: &dyn Fn(&str) -> bool) {
        self.now = now;
        let first = self.manifest.is_none();
        if manifest.dynamic {
            let period = manifest.min_update_period.unwrap_or(2.0).max(0.5).min(60.0);
            self.next_refresh = Some(now + period * 1000.0);
            self.live_now = manifest.live_now(now);
        } else {
            // Static, or a live stream that has ended (an MPD turned static,
            // EXT-X-ENDLIST): no more refreshes, and now it has a length.
            self.next_refresh = None;
            self.live_now = None;
            if self.manifest.as_ref().is_some_and(|m| m.dynamic) {
                if let Some(end) = manifest.end() {
                    self.out.push_back(Output::SetDuration(end));
                }
            }
        }
        self.playable = manifest
            .periods
            .iter()
            .map(|p| p.tracks.iter().map(|t| t.representations.iter().map(|r| supported(&r.content_type())).collect()).collect())
            .collect();
        if first {
            let mut tracks = Vec::new();
            for kind in [TrackKind::Video, TrackKind::Audio] {
                let sets: Vec<Option<usize>> = manifest.periods.iter().map(|p| pick_set(p, kind, supported)).collect();
                if sets.iter().any(Option::is_some) {
                    tracks.push(TrackState {
                        kind,
                        sets,
                        cursor: 0.0,
                        init_of: None,
                        content_type: None,
                        current: None,
                        inflight: None,
                        retry_at: None,
                        indexes: Vec::new(),
                        webm: Vec::new(),
                        base: 0,
                        evicted_to: f64::NEG_INFINITY,
                        ended: false,
                        failed: false,
                        pending_appends: 0,
                        replace_ahead: false,
                        placed_at: Vec::new(),
                        timescales: Vec::new(),
                        offset: None,
                    });
                }
            }
            if tracks.is_empty() {
                self.out.push_back(Output::Event(EngineEvent::Error(EngineError::NoPlayableTrack)));
            }
            let start = if manifest.dynamic { self.live_start(&manifest, now) } else { manifest.periods.first().map_or(0.0, |p| p.start) };
            for t in &mut tracks {
                t.cursor = start;
            }
            if manifest.dynamic {
                // Unbounded: the element can then be put anywhere in what is buffered.
                self.out.push_back(Output::SetDuration(f64::INFINITY));
            } else if let Some(end) = manifest.end() {
                self.out.push_back(Output::SetDuration(end));
            }
            self.tracks = tracks;
            self.manifest = Some(manifest);
            let types: Vec<(TrackKind, String)> = (0..self.tracks.len()).map(|i| (self.tracks[i].kind, self.first_type(i, supported))).collect();
            // The SourceBuffers are made with these types: a representation
            // with other codecs needs a changeType, the very first one too.
            for (t, (_, ct)) in self.tracks.iter_mut().zip(&types) {
                t.content_type = Some(ct.clone());
            }
            self.out.push_back(Output::Event(EngineEvent::Tracks(types)));
            if let Some(m) = &self.manifest {
                if m.dynamic {
                    self.out.push_back(Output::Seek(start));
                    self.start_gap = Some(start);
                }
            }
        } else {
            // A refresh: keep cursors and state; periods may have been added.
            for t in &mut self.tracks {
                t.sets = manifest.periods.iter().map(|p| pick_set(p, t.kind, supported)).collect();
            }
            self.manifest = Some(manifest);
        }
        self.drive();
    }

    fn first_type(&self, track: usize, supported: &dyn Fn(&str) -> bool) -> String {
        let Some(m) = &self.manifest else { return String::new() };
        let t = &self.tracks[track];
        for (p, set) in t.sets.iter().enumerate() {
            if let Some(s) = set {
                if let Some(r) = m.periods[p].tracks[*s].representations.iter().find(|r| supported(&r.content_type())) {
                    return r.content_type();
                }
            }
        }
        String::new()
    }

    fn live_start(&self, m: &Manifest, now: f64) -> f64 {
        let now_p = m.live_now(now).unwrap_or(0.0);
        let seg = m.periods.last().and_then(|p| p.tracks.first()).and_then(|t| t.representations.first()).map_or(2.0, typical_segment);
        let delay = self.cfg.live_delay_s.or(m.suggested_presentation_delay).unwrap_or(3.0 * seg).max(seg);
        let earliest = m.time_shift_buffer_depth.map_or(f64::NEG_INFINITY, |d| now_p - d);
        (now_p - delay).max(earliest).max(m.periods.first().map_or(0.0, |p| p.start))
    }

    /// The element's state; call on every timer tick and media event.
    pub fn handle_tick(&mut self, now: f64, playhead: Playhead) {
        self.now = now;
        if let Some(m) = &self.manifest {
            self.live_now = m.live_now(now).filter(|_| m.dynamic);
        }
        // Progress and stalls.
        let moved = self.last_progress.is_none_or(|(_, t)| (playhead.time - t).abs() > 0.01);
        if moved || playhead.paused {
            self.last_progress = Some((now, playhead.time));
        }
        self.playhead = playhead;
        self.check_stall(now);
        self.evict();
        self.drive();
    }

    /// The user (or the sync loop) seeks to `target`.
    pub fn handle_seek(&mut self, now: f64, target: f64) {
        self.now = now;
        if self.start_gap.is_some_and(|s| (s - target).abs() > 1e-3) {
            self.start_gap = None;
        }
        self.playhead.time = target;
        self.last_progress = Some((now, target));
        // (The element starting a seek again of ours keeps the count.)
        if !self.own_seek.take().is_some_and(|s| (s - target).abs() < 1e-3) {
            self.nudges = 0;
            self.unready_since = None;
            self.seeking_since = None;
        }
        self.end_sent = false;
        for i in 0..self.tracks.len() {
            let buffered_end = self.playhead.buffered.get(i).and_then(|r| r.iter().find(|(s, e)| *s <= target + 0.1 && target < *e).map(|(_, e)| *e));
            let t = &mut self.tracks[i];
            t.ended = false;
            t.evicted_to = f64::NEG_INFINITY;
            let keep =
                buffered_end.is_some() && t.inflight.as_ref().is_some_and(|f| f.span.is_some_and(|(s, _)| (s - buffered_end.unwrap_or(0.0)).abs() < 0.05));
            if !keep {
                self.restart_track(i, buffered_end.unwrap_or(target));
            }
        }
        self.drive();
    }

    /// Drop track `i`'s fetch in flight and queued appends; fetch on from `cursor`.
    fn restart_track(&mut self, i: usize, cursor: f64) {
        let t = &mut self.tracks[i];
        if let Some(f) = t.inflight.take() {
            self.out.push_back(Output::Abort { id: f.id });
        }
        self.out.push_back(Output::Flush { track: i });
        // The shell resets the SourceBuffer's parser at a flush; the init
        // segment goes again before the next media segment.
        t.init_of = None;
        t.pending_appends = 0;
        t.retry_at = None;
        t.replace_ahead = false;
        t.cursor = cursor;
    }

    /// A fetch finished: `bytes` long, in `duration_ms`. `data` when the
    /// fetch asked for `inspect`.
    pub fn handle_fetched(&mut self, now: f64, id: FetchId, bytes: u64, duration_ms: f64, data: Option<&[u8]>) {
        self.now = now;
        let Some(i) = self.tracks.iter().position(|t| t.inflight.as_ref().is_some_and(|f| f.id == id)) else { return };
        let Some(f) = self.tracks[i].inflight.take() else { return };
        if f.purpose == Purpose::Media && self.tracks[i].kind == TrackKind::Video {
            self.abr.handle_download(now, bytes, duration_ms);
        }
        match f.purpose {
            Purpose::Index => {
                let parsed = self.read_index(i, f.rep, data.unwrap_or(&[]), f.range.map_or(0, |r| r.0));
                match parsed {
                    Ok(list) => self.tracks[i].indexes.push((f.rep, list)),
                    Err(e) => self.fail(i, EngineError::BadIndex(e)),
                }
            }
            Purpose::Init => {
                if let (Some(d), true) = (data, self.rep(f.rep).is_some_and(Representation::placed_fmp4)) {
                    self.tracks[i].timescales = crate::frag_start::timescales(d);
                }
                if let (Some(d), Some(Container::WebM)) = (data, self.indexed(f.rep).map(|x| x.container)) {
                    match crate::webm::parse_webm_init(d, f.range.map_or(0, |r| r.0)) {
                        Ok(info) => {
                            // (Fetched again after each flush: kept once.)
                            self.tracks[i].webm.retain(|(k, _)| *k != f.rep);
                            self.tracks[i].webm.push((f.rep, info));
                        }
                        Err(e) => self.fail(i, EngineError::BadIndex(e.to_string())),
                    }
                }
                self.tracks[i].init_of = Some(f.rep);
                self.append(i, id, Some(f.rep));
            }
            Purpose::Media => {
                if let Some((start, end)) = f.span {
                    self.tracks[i].cursor = self.tracks[i].cursor.max(end);
                    if let Some(r) = self.rep(f.rep).filter(|r| r.placed) {
                        let media_start = if r.transmux { None } else { data.and_then(|d| crate::frag_start::start(&self.tracks[i].timescales, d)) };
                        let offset = media_start.map(|m| self.place(i, start, m));
                        let at = &mut self.tracks[i].placed_at;
                        if at.len() >= 8 {
                            at.remove(0);
                        }
                        at.push((id, Placement { start, number: f.number, offset }));
                    }
                }
                self.append(i, id, Some(f.rep));
            }
        }
        self.drive();
    }

    /// A fetch failed (`status` for an HTTP error, None for the network).
    pub fn handle_fetch_failed(&mut self, now: f64, id: FetchId, status: Option<u16>) {
        self.now = now;
        let Some(i) = self.tracks.iter().position(|t| t.inflight.as_ref().is_some_and(|f| f.id == id)) else { return };
        let Some(mut f) = self.tracks[i].inflight.take() else { return };
        f.attempt += 1;
        if f.attempt >= self.cfg.max_attempts || matches!(status, Some(s) if s == 404 || s == 410 || s == 403) && f.attempt >= 2 {
            self.fail(i, EngineError::FetchFailed { url: f.url, status });
            return;
        }
        // After the second failure try the next base URL, if there is one.
        if f.attempt >= 2 {
            if let Some(rep) = self.rep(f.rep) {
                let next = (self.tracks[i].base + 1) % rep.base_urls.len().max(1);
                if next != self.tracks[i].base {
                    if let Some(u) = rep.rebase(&f.url, next).or_else(|| rep.rebase(&f.url, 0)) {
                        f.url = u;
                    }
                    self.tracks[i].base = next;
                }
            }
        }
        let delay = (self.cfg.retry_base_ms * 2f64.powi(f.attempt as i32 - 1)).min(self.cfg.retry_max_ms);
        self.out.push_back(Output::Event(EngineEvent::Retrying { track: i, attempt: f.attempt, delay_ms: delay }));
        self.tracks[i].retry_at = Some((now + delay, f));
    }

    /// The shell finished an append.
    pub fn handle_appended(&mut self, now: f64, track: usize) {
        self.now = now;
        if let Some(t) = self.tracks.get_mut(track) {
            t.pending_appends = t.pending_appends.saturating_sub(1);
        }
        self.drive();
    }

    /// An append failed. `quota`: QuotaExceededError — evict and retry the
    /// same bytes with a smaller buffer goal.
    pub fn handle_append_failed(&mut self, now: f64, track: usize, id: FetchId, quota: bool) {
        self.now = now;
        if track >= self.tracks.len() {
            return;
        }
        if !quota {
            self.fail(track, EngineError::AppendFailed { track });
            return;
        }
        self.cfg.buffer_goal_s = (self.cfg.buffer_goal_s * 0.7).max(8.0);
        self.cfg.back_buffer_s = (self.cfg.back_buffer_s * 0.5).max(2.0);
        let t = self.playhead.time;
        if t - 1.0 > 0.0 {
            self.out.push_back(Output::Remove { track, start: 0.0, end: t - 1.0 });
        }
        // The same bytes again (the shell still holds them).
        self.tracks[track].pending_appends = self.tracks[track].pending_appends.saturating_sub(1);
        self.append(track, id, self.tracks[track].init_of);
    }

    /// Pin a video quality (index into [`Engine::qualities`]) or return to
    /// auto. A pinned quality shows within a couple of seconds: video is
    /// fetched again from the segment at `playhead + 2 s`, which the
    /// browser lays over what it replaces, and what is buffered past that
    /// segment is removed.
    ///
    /// (Not removed from `playhead + 2 s` itself: a segment's media may
    /// start after its listed start — B-frames: 4.083 s for a segment
    /// listed at 4 s — and a removal inside the segment before it takes
    /// that segment's last frames and the frames decoded after them, a
    /// hole that nothing fills: WebKit was left with [3.875, 4.083).)
    pub fn set_quality(&mut self, index: Option<usize>) {
        self.abr.set_override(index);
        if index.is_none() {
            return;
        }
        let keep_until = self.playhead.time + 2.0;
        for i in 0..self.tracks.len() {
            if self.tracks[i].kind != TrackKind::Video || self.tracks[i].cursor <= keep_until {
                continue;
            }
            self.restart_track(i, keep_until);
            self.tracks[i].replace_ahead = true;
            self.tracks[i].ended = false;
            self.end_sent = false;
        }
        self.drive();
    }

    /// The playable video representations of the period at the playhead, by
    /// rising bandwidth: what [`Engine::set_quality`]'s index points into.
    pub fn qualities(&self) -> Vec<&Representation> {
        let Some(m) = &self.manifest else { return Vec::new() };
        let Some(vi) = self.tracks.iter().position(|t| t.kind == TrackKind::Video) else { return Vec::new() };
        let p = self.period_index(self.playhead.time);
        let Some(set) = self.tracks[vi].sets.get(p).copied().flatten() else { return Vec::new() };
        let reps = &m.periods[p].tracks[set].representations;
        self.ladder(p, set).into_iter().map(|r| &reps[r]).collect()
    }

    /// The playable representations of an adaptation set, by rising bandwidth
    /// (ABR's choices and the quality menu are both this list).
    fn ladder(&self, p: usize, set: usize) -> Vec<usize> {
        let Some(m) = &self.manifest else { return Vec::new() };
        let reps = &m.periods[p].tracks[set].representations;
        let playable = |r: &usize| self.playable.get(p).and_then(|x| x.get(set)).and_then(|x| x.get(*r)).copied().unwrap_or(false);
        let mut sorted: Vec<usize> = (0..reps.len()).filter(playable).collect();
        crate::abr::sort_indices(&mut sorted, |r| reps[r].bandwidth);
        sorted
    }

    pub fn estimate_bps(&self) -> f64 {
        self.abr.estimate_bps()
    }

    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// The latest time (ms) to tick again.
    pub fn poll_timeout(&self) -> Option<f64> {
        let retries = self.tracks.iter().filter_map(|t| t.retry_at.as_ref().map(|(at, _)| *at));
        let refresh = self.next_refresh.into_iter();
        retries.chain(refresh).chain(std::iter::once(self.now + 250.0)).reduce(f64::min)
    }

    // -- internals ----------------------------------------------------------

    fn fail(&mut self, track: usize, e: EngineError) {
        if let Some(t) = self.tracks.get_mut(track) {
            t.failed = true;
            t.inflight = None;
            t.retry_at = None;
        }
        self.out.push_back(Output::Event(EngineEvent::Error(e)));
    }

    fn rep(&self, r: RepRef) -> Option<&Representation> {
        self.manifest.as_ref()?.periods.get(r.period)?.tracks.get(r.set)?.representations.get(r.rep)
    }

    /// The `timestampOffset` for a placed fMP4 segment of track `i`, listed
    /// at `start`, whose media starts at `media` on its own timeline: the
    /// offset in use when it puts the segment within [`PLACE_TOLERANCE`] of
    /// its start (so segments stay as contiguous as the media is, however
    /// the `EXTINF`s round), else another track's (audio and video keep
    /// their relation), else none at all (media on the listed timeline
    /// already: every viewer agrees where a frame is, wherever they started),
    /// else the segment's own: a new timeline (the first segment of a live
    /// window, a discontinuity).
    fn place(&mut self, i: usize, start: f64, media: f64) -> f64 {
        let fits = |o: f64| (media + o - start).abs() <= PLACE_TOLERANCE;
        let own = self.tracks[i].offset.into_iter();
        let others = self.tracks.iter().enumerate().filter(|(k, _)| *k != i).filter_map(|(_, t)| t.offset);
        let o = own.chain(others).chain([0.0]).find(|&o| fits(o)).unwrap_or(start - media);
        self.tracks[i].offset = Some(o);
        o
    }

    /// Queue the append of fetch `id`, with its representation's timestamp
    /// offset and its period's span as the append window.
    /// A placed segment (see [`Representation::placed`]) goes at its start.
    fn append(&mut self, track: usize, id: FetchId, rep: Option<RepRef>) {
        let r = rep.and_then(|r| self.rep(r));
        let placement = self.tracks[track].placed_at.iter().find(|(k, ..)| *k == id).map(|(_, p)| *p);
        let ts_segment =
            placement.zip(r.filter(|r| r.transmux)).map(|(p, r)| TsSegment { number: p.number, discontinuity: r.discontinuities.contains(&p.number) });
        let (offset, placed) = match placement.filter(|_| r.is_some_and(|r| r.placed)) {
            // Its own timestamps, moved by the offset read off the media.
            Some(Placement { offset: Some(o), .. }) => (o, false),
            Some(Placement { start, .. }) => (start, true),
            None => (r.map_or(0.0, |r| r.timestamp_offset), false),
        };
        let window =
            rep.and_then(|r| self.manifest.as_ref()?.periods.get(r.period)).map_or((0.0, f64::INFINITY), |p| (p.start, p.end().unwrap_or(f64::INFINITY)));
        self.tracks[track].pending_appends += 1;
        self.out.push_back(Output::Append { track, id, timestamp_offset: offset, window, placed, ts_segment });
    }

    fn indexed(&self, r: RepRef) -> Option<&crate::mpd::Indexed> {
        match &self.rep(r)?.addressing {
            Addressing::Indexed(x) => Some(x),
            _ => None,
        }
    }

    fn read_index(&self, track: usize, r: RepRef, data: &[u8], offset: u64) -> Result<Vec<Segment>, String> {
        let Some(x) = self.indexed(r) else { return Err("not an indexed representation".into()) };
        let Some(rep) = self.rep(r) else { return Err("no representation".into()) };
        let entries: Vec<IndexedSegment> = match x.container {
            Container::Mp4 => crate::sidx::parse_sidx(data, offset).map_err(|e| e.to_string())?,
            Container::WebM => {
                let info = self.tracks[track].webm.iter().find(|(k, _)| *k == r).map(|(_, i)| i.clone()).ok_or("WebM Cues before the init segment")?;
                crate::webm::parse_cues(data, offset, &info, None, None).map_err(|e| e.to_string())?
            }
        };
        let url = x.url.clone();
        Ok(entries
            .iter()
            .enumerate()
            .map(|(n, e)| Segment {
                url: url.clone(),
                range: Some((e.offset, if e.size == 0 { u64::MAX } else { e.offset + e.size - 1 })),
                start: e.start + rep.timestamp_offset,
                duration: e.duration,
                number: n as u64 + 1,
            })
            .collect())
    }

    fn period_index(&self, t: f64) -> usize {
        self.manifest.as_ref().map_or(0, |m| m.period_index_at(t))
    }

    fn buffered_ahead(&self, track: usize) -> f64 {
        let t = self.playhead.time;
        self.playhead.buffered.get(track).and_then(|r| r.iter().find(|(s, e)| *s <= t + 0.1 && t < *e).map(|(_, e)| e - t)).unwrap_or(0.0)
    }

    /// Every track has media from `t` (strictly: not a frame later) to `t + ahead`.
    fn on_media(&self, t: f64, ahead: f64) -> bool {
        (0..self.tracks.len()).all(|i| self.playhead.buffered.get(i).is_some_and(|r| r.iter().any(|(s, e)| *s <= t && t + ahead <= *e)))
    }

    /// Where every track has media again after `t`, if that is within a
    /// jumpable gap.
    fn gap_end(&self, t: f64) -> Option<f64> {
        (0..self.tracks.len())
            .filter_map(|i| self.playhead.buffered.get(i).and_then(|r| r.iter().map(|(s, _)| *s).filter(|s| *s > t).reduce(f64::min)))
            .reduce(f64::max)
            .filter(|s| s - t <= self.cfg.max_gap_s)
    }

    fn jump_gap(&mut self, now: f64, to: f64) {
        let to = to + 0.01;
        self.out.push_back(Output::Event(EngineEvent::GapJumped { from: self.playhead.time, to }));
        self.out.push_back(Output::Seek(to));
        self.playhead.time = to;
        self.last_progress = Some((now, to));
    }

    fn check_stall(&mut self, now: f64) {
        let ahead = (0..self.tracks.len()).map(|i| self.buffered_ahead(i)).fold(f64::INFINITY, f64::min);
        let ahead = if ahead.is_finite() { ahead } else { 0.0 };
        let stuck = !self.playhead.paused && self.last_progress.is_some_and(|(at, _)| now - at >= self.cfg.stall_ms);
        // The live start (a segment's listed start) before the first frame
        // (media whose first frame is presented after its first decode
        // time): moved onto it once that segment is in, playing or not —
        // an engine may not start at all from a hole (WebKit did not).
        if self.start_gap.is_some() {
            let t = self.playhead.time;
            // (On media in every track: audio may begin right at `t` and video a frame later.)
            let inside = (0..self.tracks.len()).all(|i| self.playhead.buffered.get(i).is_some_and(|r| r.iter().any(|(s, e)| *s <= t && t < *e)));
            // Every track's media there is in (appended, and buffered after `t`).
            let settled = self.tracks.iter().all(|k| k.pending_appends == 0)
                && (0..self.tracks.len()).all(|i| self.playhead.buffered.get(i).is_some_and(|r| r.iter().any(|(_, e)| *e > t)));
            match self.gap_end(t) {
                _ if inside => self.start_gap = None,
                Some(to) if settled => {
                    self.start_gap = None;
                    self.jump_gap(now, to);
                    return;
                }
                _ => {}
            }
        }
        // Gap jump: nothing buffered here, but media starts a little later.
        if ahead < 0.1 && !self.playhead.paused {
            if let Some(to) = self.gap_end(self.playhead.time) {
                self.jump_gap(now, to);
                return;
            }
        }
        let ended = self.tracks.iter().all(|t| t.ended || t.failed);
        // A paused element held with media at the playhead in every track:
        // without the frame there (WebKitGTK stood paused at HAVE_METADATA
        // at 24.147 s, inside its buffered 24.137–40, so that `autoplay`
        // never started: live HLS on busy cores), or with a seek still
        // under way long after. Seeked again where it stands (the room or
        // the viewer chose that position), at most `MAX_NUDGES` times until
        // the element has its frame. A playing element is not moved: in a
        // room, the sync loop would take a seek of the engine's landing
        // behind the room for the viewer's, and send the room back there.
        if !self.playhead.seeking {
            self.seeking_since = None;
        } else if self.seeking_since.is_none() {
            self.seeking_since = Some(now);
        }
        let seek_stuck = self.seeking_since.is_some_and(|t| now - t >= NUDGE_SEEK_MS);
        let unready = !self.playhead.seeking && !self.playhead.ready;
        let held = self.playhead.paused && (unready || seek_stuck) && !ended && self.on_media(self.playhead.time, NUDGE_AHEAD_S);
        if self.playhead.ready && !self.playhead.seeking {
            self.nudges = 0;
        }
        if !held {
            self.unready_since = None;
        } else if self.unready_since.is_none() {
            self.unready_since = Some(now);
        }
        let waited = seek_stuck || self.unready_since.is_some_and(|t| now - t >= self.cfg.stall_ms);
        if held && waited && self.nudges < MAX_NUDGES {
            self.nudges += 1;
            let at = self.playhead.time;
            self.out.push_back(Output::Event(EngineEvent::Reseeked { at, n: self.nudges }));
            self.out.push_back(Output::Seek(at));
            self.own_seek = Some(at);
            self.last_progress = Some((now, at));
            self.unready_since = Some(now);
            self.seeking_since = None;
            return;
        }
        let buffering = stuck && ahead < 0.5 && !ended;
        if buffering != self.buffering && (buffering || ahead >= 1.0 || !stuck) {
            self.buffering = buffering;
            self.out.push_back(Output::Event(EngineEvent::Buffering(buffering)));
        }
    }

    fn evict(&mut self) {
        let t = self.playhead.time;
        for i in 0..self.tracks.len() {
            let Some(ranges) = self.playhead.buffered.get(i) else { continue };
            let Some(first) = ranges.first() else { continue };
            let limit = t - self.cfg.back_buffer_s;
            // Remove in chunks of at least 10 s, never what plays now, and
            // not again while the last removal may still be running.
            if first.0 < limit - 10.0 && limit >= self.tracks[i].evicted_to + 10.0 {
                self.tracks[i].evicted_to = limit;
                self.out.push_back(Output::Remove { track: i, start: 0.0, end: limit });
            }
        }
    }

    /// Start what can start: retries due, index and init fetches, media.
    fn drive(&mut self) {
        let now = self.now;
        for i in 0..self.tracks.len() {
            if self.tracks[i].failed || self.tracks[i].inflight.is_some() {
                continue;
            }
            if let Some((at, _)) = &self.tracks[i].retry_at {
                if *at > now {
                    continue;
                }
                if let Some((_, f)) = self.tracks[i].retry_at.take() {
                    self.start(i, f);
                }
                continue;
            }
            self.step_track(i);
        }
        // End of stream once every track has requested its last segment and
        // the shell has no append outstanding.
        if !self.end_sent
            && !self.tracks.is_empty()
            && self.manifest.as_ref().is_some_and(|m| !m.dynamic)
            && self.tracks.iter().all(|t| (t.ended || t.failed) && t.inflight.is_none() && t.pending_appends == 0)
        {
            self.end_sent = true;
            self.out.push_back(Output::EndOfStream);
        }
        if let Some(at) = self.next_refresh {
            if at <= now {
                let period = self.manifest.as_ref().and_then(|m| m.min_update_period).unwrap_or(2.0).max(0.5).min(60.0);
                self.next_refresh = Some(now + period * 1000.0);
                self.out.push_back(Output::RefreshManifest);
            }
        }
    }

    fn step_track(&mut self, i: usize) {
        let Some(m) = self.manifest.as_ref() else { return };
        let t = &self.tracks[i];
        let cursor = t.cursor;
        if cursor - self.playhead.time >= self.cfg.buffer_goal_s {
            return;
        }
        let p = m.period_index_at(cursor);
        let period = &m.periods[p];
        if period.end().is_some_and(|e| cursor >= e - 1e-3) {
            if self.leave_period(i, p) {
                self.step_track_in(i, p + 1);
            }
            return;
        }
        self.step_track_in(i, p)
    }

    /// The track is done with period `p`: on to the next period's start
    /// (true), or the presentation ended for it (false).
    fn leave_period(&mut self, i: usize, p: usize) -> bool {
        let Some(m) = self.manifest.as_ref() else { return false };
        match m.periods.get(p + 1) {
            Some(next) => {
                let start = next.start.max(m.periods[p].end().unwrap_or(next.start));
                self.tracks[i].cursor = self.tracks[i].cursor.max(start);
                true
            }
            None => {
                self.tracks[i].ended = true;
                false
            }
        }
    }

    fn step_track_in(&mut self, i: usize, p: usize) {
        let Some(m) = self.manifest.as_ref() else { return };
        let Some(set) = self.tracks[i].sets.get(p).copied().flatten() else {
            // This period has no such track: skip it.
            self.leave_period(i, p);
            return;
        };
        let reps = &m.periods[p].tracks[set].representations;
        let sorted = self.ladder(p, set);
        if sorted.is_empty() {
            self.fail(i, EngineError::NoPlayableTrack);
            return;
        }
        // Quality: ABR for video; audio takes its best playable.
        let choice = if self.tracks[i].kind == TrackKind::Video {
            let choices: Vec<Choice> =
                sorted.iter().map(|r| Choice { bandwidth: reps[*r].bandwidth, width: reps[*r].width, height: reps[*r].height }).collect();
            let current = self.tracks[i].current.filter(|c| c.period == p && c.set == set).and_then(|c| sorted.iter().position(|r| *r == c.rep));
            let ahead = self.buffered_ahead(i).max(self.tracks[i].cursor - self.playhead.time);
            let k = self.abr.choose(self.now, &choices, current, ahead, self.playhead.display_height);
            sorted.get(k).copied().unwrap_or(sorted[0])
        } else {
            sorted[sorted.len() - 1]
        };
        let rep_ref = RepRef { period: p, set, rep: choice };
        let rep = &reps[choice];
        if self.tracks[i].current != Some(rep_ref) {
            self.tracks[i].current = Some(rep_ref);
            let ct = rep.content_type();
            if self.tracks[i].content_type.as_deref() != Some(ct.as_str()) {
                self.tracks[i].content_type = Some(ct.clone());
                self.out.push_back(Output::ChangeType { track: i, content_type: ct });
            }
            if self.tracks[i].kind == TrackKind::Video {
                let q = rep.id.clone();
                if self.quality.as_ref() != Some(&q) {
                    self.quality = Some(q);
                    self.out.push_back(Output::Event(EngineEvent::Quality {
                        id: rep.id.clone(),
                        bandwidth: rep.bandwidth,
                        width: rep.width,
                        height: rep.height,
                    }));
                }
            }
        }
        // Init segment first (WebM: inspected, its header locates the Cues).
        if self.tracks[i].init_of != Some(rep_ref) {
            if let Some(init) = rep.init.clone() {
                let inspect = matches!(&rep.addressing, Addressing::Indexed(x) if x.container == Container::WebM) || rep.placed_fmp4();
                self.start(i, InFlight::new(Purpose::Init, rep_ref, init.url, init.range, None, inspect));
                return;
            }
            self.tracks[i].init_of = Some(rep_ref);
        }
        let cursor = self.tracks[i].cursor;
        let segment = match &rep.addressing {
            Addressing::Indexed(x) => match self.tracks[i].indexes.iter().find(|(k, _)| *k == rep_ref) {
                Some((_, list)) => find_segment(list, cursor),
                None => {
                    let f = InFlight::new(Purpose::Index, rep_ref, x.url.clone(), Some(x.index_range), None, true);
                    self.start(i, f);
                    return;
                }
            },
            Addressing::Segments(list) => find_segment(list, cursor),
            Addressing::Numbered(tpl) => {
                let seg_s = tpl.seconds();
                let available_until = self.live_now.map_or(f64::INFINITY, |n| n - seg_s);
                tpl.between(cursor, cursor + seg_s).into_iter().find(|s| s.start + s.duration > cursor + 1e-6 && s.start <= available_until)
            }
            Addressing::None => None,
        };
        match segment {
            Some(s) => {
                // Live: a listed segment not yet available waits for a refresh.
                if let Some(now_p) = self.live_now {
                    if s.start + s.duration > now_p {
                        return;
                    }
                }
                // A range ending at u64::MAX runs to the end of the file.
                let span = Some((s.start, s.start + s.duration));
                if std::mem::take(&mut self.tracks[i].replace_ahead) {
                    // (Queued before this segment's append: the shell keeps the order.)
                    self.out.push_back(Output::Remove { track: i, start: s.start + s.duration, end: f64::INFINITY });
                }
                // Placed fMP4: its head tells where its own timeline is.
                let mut f = InFlight::new(Purpose::Media, rep_ref, s.url, s.range, span, rep.placed_fmp4());
                f.number = s.number;
                self.start(i, f);
            }
            // Nothing left in this period (live: nothing yet).
            None if !m.dynamic => {
                self.leave_period(i, p);
            }
            None => {}
        }
    }

    /// Start fetch `f` (a first attempt or a retry) under a new id.
    fn start(&mut self, i: usize, mut f: InFlight) {
        f.id = self.next_id;
        self.next_id += 1;
        self.out.push_back(Output::Fetch { id: f.id, track: i, url: f.url.clone(), range: f.range, purpose: f.purpose, inspect: f.inspect });
        self.tracks[i].inflight = Some(f);
    }
}

/// How far (s) a placed fMP4 segment may land from its listed start and
/// keep the offset in use: more than `EXTINF` rounding usually adds up to,
/// less than a timeline jump at a discontinuity usually is, and half the
/// largest gap jumped (`max_gap_s`), so that where rounding does add up
/// past it, the hole or overlap a new offset leaves is jumped or small.
const PLACE_TOLERANCE: f64 = 0.25;

/// The segment that holds `t` (or the first after it).
fn find_segment(list: &[Segment], t: f64) -> Option<Segment> {
    let i = list.partition_point(|s| s.start + s.duration <= t + 1e-6);
    list.get(i).cloned()
}

/// The adaptation set of `kind` to play in a period: one with a playable
/// representation, preferring Role "main".
fn pick_set(p: &crate::mpd::Period, kind: TrackKind, supported: &dyn Fn(&str) -> bool) -> Option<usize> {
    let playable: Vec<usize> =
        (0..p.tracks.len()).filter(|i| p.tracks[*i].kind == kind && p.tracks[*i].representations.iter().any(|r| supported(&r.content_type()))).collect();
    playable.iter().copied().find(|i| p.tracks[*i].roles.iter().any(|r| r == "main")).or(playable.first().copied())
}

fn typical_segment(r: &Representation) -> f64 {
    match &r.addressing {
        Addressing::Numbered(t) => t.seconds(),
        Addressing::Segments(s) => s.first().map_or(2.0, |s| s.duration),
        _ => 2.0,
    }
}

#[cfg(test)]
mod tests;
