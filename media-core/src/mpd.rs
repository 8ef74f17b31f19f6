//! DASH MPD parsing (ISO/IEC 23009-1) into a model a player schedules from.
//!
//! - Static and dynamic MPDs; every Period (start, duration, timing relative
//!   to the period); AdaptationSets and Representations with the attributes
//!   a player chooses by (mimeType, codecs, bandwidth, width, height,
//!   frameRate, audioSamplingRate, lang, Role), inherited from the set.
//! - BaseURL chains: MPD → Period → AdaptationSet → Representation, each
//!   resolved per RFC 3986 against its parent; several BaseURLs at a level
//!   give alternates for failover (at most [`MAX_BASE_URLS`]).
//! - Addressing ([`Addressing`]): SegmentTemplate with `$Number$`
//!   (startNumber, duration, timescale) or `$Time$`/`$Number$` plus
//!   SegmentTimeline (`t`, `d`, `r` including `r="-1"`), `%0Nd` widths,
//!   `$RepresentationID$`, `$Bandwidth$`, presentationTimeOffset;
//!   SegmentList (SegmentURL media + mediaRange, with or without a
//!   timeline); SegmentBase with indexRange (segments come from the index:
//!   [`crate::sidx`], [`crate::webm`]). Segment information is inherited
//!   attribute by attribute down the levels.
//! - Live: availabilityStartTime, timeShiftBufferDepth, minimumUpdatePeriod,
//!   suggestedPresentationDelay; `$Number$` templates without a timeline
//!   are generated for a time window ([`Representation::segments_between`]).
//!
//! Times in the model are *presentation* seconds: for a dynamic MPD, seconds
//! since availabilityStartTime. A representation's media timestamps map to
//! them by adding [`Representation::timestamp_offset`] (what MSE's
//! `timestampOffset` takes).
//!
//! A Representation whose segments cannot be worked out (an empty
//! SegmentList, a template without media, too many segments…) is dropped,
//! and an AdaptationSet left without one with it; only a Period left with
//! nothing fails the parse, with the first such error.
//!
//! The parser never expands a DTD or a custom entity; nesting depth, input
//! size and the number of segments are bounded.

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use crate::url::resolve;
use decimal::parse_f64;

/// Largest manifest accepted (bytes).
pub const MAX_MPD_BYTES: usize = 16 * 1024 * 1024;
/// Deepest element nesting accepted.
pub const MAX_DEPTH: usize = 32;
/// Most segments one representation may expand to.
pub const MAX_SEGMENTS: usize = 200_000;
/// Most alternate base URLs kept per representation.
pub const MAX_BASE_URLS: usize = 4;

#[derive(Clone, Debug, PartialEq)]
pub enum MpdError {
    TooLarge(usize),
    TooDeep,
    Xml(String),
    NotAnMpd,
    NoPeriod,
    TooManySegments,
    /// A value the player needs is missing or unusable (which, where).
    Invalid(String),
}

impl std::fmt::Display for MpdError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MpdError::TooLarge(n) => write!(f, "manifest too large ({n} bytes, limit {MAX_MPD_BYTES})"),
            MpdError::TooDeep => write!(f, "manifest nested deeper than {MAX_DEPTH} elements"),
            MpdError::Xml(e) => write!(f, "malformed XML: {e}"),
            MpdError::NotAnMpd => write!(f, "the document is not a DASH MPD"),
            MpdError::NoPeriod => write!(f, "the MPD has no Period"),
            MpdError::TooManySegments => write!(f, "a representation expands to more than {MAX_SEGMENTS} segments"),
            MpdError::Invalid(what) => write!(f, "invalid MPD: {what}"),
        }
    }
}

impl std::error::Error for MpdError {}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrackKind {
    Video,
    Audio,
    Text,
    Other,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Manifest {
    /// `type="dynamic"` (live).
    pub dynamic: bool,
    /// mediaPresentationDuration, seconds.
    pub duration: Option<f64>,
    /// availabilityStartTime as Unix milliseconds.
    pub availability_start_ms: Option<f64>,
    pub min_update_period: Option<f64>,
    pub time_shift_buffer_depth: Option<f64>,
    pub suggested_presentation_delay: Option<f64>,
    pub min_buffer_time: Option<f64>,
    /// Location elements (absolute): where to refresh a live MPD from.
    pub locations: Vec<String>,
    pub periods: Vec<Period>,
}

impl Manifest {
    /// The period that holds presentation time `t` (the last one starting at
    /// or before it; the first if `t` is before them all).
    pub fn period_at(&self, t: f64) -> Option<&Period> {
        self.periods.get(self.period_index_at(t))
    }

    /// Index of [`Manifest::period_at`]'s period (0 when there are none).
    pub fn period_index_at(&self, t: f64) -> usize {
        self.periods.iter().rposition(|p| p.start <= t + 1e-6).unwrap_or(0)
    }

    /// End of the presentation, when known.
    pub fn end(&self) -> Option<f64> {
        let last = self.periods.last()?;
        last.duration.map(|d| last.start + d).or(self.duration)
    }

    /// For a live MPD at `now_ms`: the presentation time now.
    pub fn live_now(&self, now_ms: f64) -> Option<f64> {
        self.availability_start_ms.map(|a| (now_ms - a) / 1000.0)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Period {
    pub id: Option<String>,
    /// Presentation start, seconds.
    pub start: f64,
    pub duration: Option<f64>,
    pub tracks: Vec<Track>,
}

impl Period {
    pub fn end(&self) -> Option<f64> {
        self.duration.map(|d| self.start + d)
    }
}

/// One adaptation set.
#[derive(Clone, Debug, PartialEq)]
pub struct Track {
    pub id: Option<String>,
    pub kind: TrackKind,
    pub lang: Option<String>,
    /// Role@value, e.g. `main`, `alternate`, `commentary`.
    pub roles: Vec<String>,
    pub label: Option<String>,
    pub representations: Vec<Representation>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Representation {
    pub id: String,
    pub bandwidth: u64,
    pub mime_type: String,
    pub codecs: String,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub frame_rate: Option<f64>,
    pub sample_rate: Option<u32>,
    /// Resolved base URLs, the first is primary, the others alternates.
    pub base_urls: Vec<String>,
    /// Add to media timestamps to get presentation time (MSE `timestampOffset`).
    pub timestamp_offset: f64,
    /// The media's own timestamps may not be on the presentation timeline
    /// (HLS: a live window, or a recording that does not start at 0): a
    /// segment is placed at its listed start — fMP4 by one
    /// `timestampOffset` per timeline read off its `tfdt` (see the
    /// engine's `place`), MPEG-TS by the transmuxer, and a segment whose
    /// start cannot be read in MSE "sequence" mode at that start.
    pub placed: bool,
    /// MPEG-TS segments (HLS): the shell transmuxes each to fMP4
    /// ([`crate::transmux`]) before appending; there is no init segment to fetch.
    pub transmux: bool,
    /// Numbers of the segments that follow an `EXT-X-DISCONTINUITY` (new
    /// timestamps, maybe new codecs): the transmuxer places them afresh.
    pub discontinuities: Vec<u64>,
    pub init: Option<ByteRef>,
    pub addressing: Addressing,
}

/// A URL and an optional inclusive byte range.
#[derive(Clone, Debug, PartialEq)]
pub struct ByteRef {
    pub url: String,
    pub range: Option<(u64, u64)>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Addressing {
    /// Every segment listed (SegmentList, a timeline, or a static
    /// `$Number$` template expanded over the period).
    Segments(Vec<Segment>),
    /// A `$Number$` template in a live period: segments exist over time.
    Numbered(NumberTemplate),
    /// SegmentBase: fetch `index` and read the segments from it.
    Indexed(Indexed),
    /// No segment information and no BaseURL anywhere: nothing to fetch.
    None,
}

#[derive(Clone, Debug, PartialEq)]
pub struct NumberTemplate {
    /// The media template, resolved against the base, identifiers kept.
    pub media: String,
    pub representation_id: String,
    pub bandwidth: u64,
    pub start_number: u64,
    pub timescale: u64,
    pub duration: u64,
    pub pto: u64,
    /// The period's presentation start and end.
    pub period_start: f64,
    pub period_end: Option<f64>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Indexed {
    pub url: String,
    /// indexRange, inclusive.
    pub index_range: (u64, u64),
    pub timescale: u64,
    pub pto: u64,
    pub container: Container,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Container {
    Mp4,
    WebM,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Segment {
    pub url: String,
    /// Inclusive byte range, when the segment is part of a file.
    pub range: Option<(u64, u64)>,
    /// Presentation start, seconds.
    pub start: f64,
    pub duration: f64,
    /// `$Number$` (or the position in a list, from startNumber).
    pub number: u64,
}

impl Representation {
    /// fMP4 segments placed by their `tfdt` (see `placed`): the engine
    /// reads the init segment's timescales and each segment's start.
    pub fn placed_fmp4(&self) -> bool {
        self.placed && !self.transmux
    }

    /// The MIME type with codecs, as `MediaSource.isTypeSupported` wants it.
    pub fn content_type(&self) -> String {
        if self.codecs.is_empty() {
            self.mime_type.clone()
        } else {
            format!("{}; codecs=\"{}\"", self.mime_type, self.codecs)
        }
    }

    /// The URL of the init segment, if any.
    pub fn init_url(&self) -> Option<&str> {
        self.init.as_ref().map(|i| i.url.as_str())
    }

    /// The listed segments (empty for numbered and indexed addressing).
    pub fn segments(&self) -> &[Segment] {
        match &self.addressing {
            Addressing::Segments(s) => s,
            _ => &[],
        }
    }

    /// Segments overlapping presentation times `[from, to)`, for listed and
    /// numbered addressing (at most [`MAX_SEGMENTS`]). For numbered
    /// addressing this is how a live window is generated.
    pub fn segments_between(&self, from: f64, to: f64) -> Vec<Segment> {
        match &self.addressing {
            Addressing::Segments(s) => s.iter().filter(|s| s.start + s.duration > from && s.start < to).cloned().collect(),
            Addressing::Numbered(t) => t.between(from, to),
            _ => Vec::new(),
        }
    }

    /// Swap the scheme-and-host part of every URL from base `from` to base
    /// `to` (failover to an alternate BaseURL).
    pub fn rebase(&self, url: &str, alternate: usize) -> Option<String> {
        let primary = self.base_urls.first()?;
        let alt = self.base_urls.get(alternate)?;
        url.strip_prefix(primary.as_str()).map(|rest| format!("{alt}{rest}"))
    }
}

impl NumberTemplate {
    /// Length of one segment (s).
    pub fn seconds(&self) -> f64 {
        self.duration as f64 / self.timescale.max(1) as f64
    }

    /// Segments overlapping `[from, to)` within the period.
    pub fn between(&self, from: f64, to: f64) -> Vec<Segment> {
        let d = self.seconds();
        if d <= 0.0 || !from.is_finite() || !to.is_finite() {
            return Vec::new();
        }
        let end = self.period_end.map_or(to, |e| e.min(to));
        let first = ((from - self.period_start) / d).floor().max(0.0) as u64;
        let mut out = Vec::new();
        let mut i = first;
        loop {
            let start = self.period_start + i as f64 * d;
            if start >= end || out.len() >= MAX_SEGMENTS {
                break;
            }
            let number = self.start_number + i;
            let time = self.pto + i * self.duration;
            let dur = self.period_end.map_or(d, |e| d.min(e - start));
            out.push(Segment {
                url: fill(&self.media, &self.representation_id, self.bandwidth, Some(number), Some(time)),
                range: None,
                start,
                duration: dur,
                number,
            });
            i += 1;
        }
        out
    }
}

// ---------------------------------------------------------------------------
// A small element tree: manifests are bounded, and inheritance down four
// levels reads far better over a tree than in a streaming state machine.

#[derive(Debug, Default)]
struct Node {
    name: String,
    attrs: Vec<(String, String)>,
    text: String,
    children: Vec<Node>,
}

impl Node {
    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
    fn children<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Node> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }
    fn child(&self, name: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.name == name)
    }
}

fn local(name: &[u8]) -> String {
    let s = String::from_utf8_lossy(name);
    match s.rfind(':') {
        Some(i) => s[i + 1..].to_string(),
        None => s.into_owned(),
    }
}

fn element(e: &BytesStart<'_>) -> Result<Node, MpdError> {
    let mut attrs = Vec::new();
    for a in e.attributes() {
        // quick-xml's own error texts are left out of the browser build
        // (their Display pulls in Debug formatting); say what and where.
        let a = a.map_err(|_| MpdError::Xml("malformed attribute".into()))?;
        let key = local(a.key.as_ref());
        let value = a.unescape_value().map_err(|_| MpdError::Xml(format!("bad character or entity in attribute {key}")))?.into_owned();
        attrs.push((key, value));
    }
    Ok(Node { name: local(e.name().as_ref()), attrs, ..Node::default() })
}

fn tree(text: &str) -> Result<Node, MpdError> {
    if text.len() > MAX_MPD_BYTES {
        return Err(MpdError::TooLarge(text.len()));
    }
    let mut reader = Reader::from_str(text);
    let mut stack: Vec<Node> = Vec::new();
    loop {
        let at = |r: &Reader<&[u8]>| MpdError::Xml(format!("syntax error at byte {}", r.error_position()));
        match reader.read_event().map_err(|_| at(&reader))? {
            Event::Start(e) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(MpdError::TooDeep);
                }
                stack.push(element(&e)?);
            }
            Event::Empty(e) => {
                let node = element(&e)?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(node),
                    None => return Ok(node),
                }
            }
            Event::End(_) => {
                let Some(node) = stack.pop() else { return Err(MpdError::Xml("unbalanced end tag".into())) };
                match stack.last_mut() {
                    Some(parent) => parent.children.push(node),
                    None => return Ok(node),
                }
            }
            Event::Text(t) => {
                if let Some(n) = stack.last_mut() {
                    n.text.push_str(&t.decode().map_err(|_| at(&reader))?);
                }
            }
            Event::CData(t) => {
                if let Some(n) = stack.last_mut() {
                    n.text.push_str(&String::from_utf8_lossy(&t));
                }
            }
            Event::GeneralRef(r) => {
                let name = r.decode().map_err(|_| at(&reader))?;
                let ch = match name.as_ref() {
                    "amp" => "&".to_string(),
                    "lt" => "<".to_string(),
                    "gt" => ">".to_string(),
                    "quot" => "\"".to_string(),
                    "apos" => "'".to_string(),
                    other => match r.resolve_char_ref() {
                        Ok(Some(c)) => c.to_string(),
                        _ => return Err(MpdError::Xml(format!("undefined entity &{other};"))),
                    },
                };
                if let Some(n) = stack.last_mut() {
                    n.text.push_str(&ch);
                }
            }
            Event::DocType(_) => return Err(MpdError::Xml("DOCTYPE is not allowed in an MPD".into())),
            Event::Eof => return Err(if stack.is_empty() { MpdError::NotAnMpd } else { MpdError::Xml("unexpected end of document".into()) }),
            _ => {}
        }
    }
}

// ---------------------------------------------------------------------------
// Segment information, inherited attribute by attribute.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SegKind {
    Base,
    List,
    Template,
}

#[derive(Clone, Debug, Default)]
struct SegInfo {
    attrs: Vec<(String, String)>,
    /// (t, d, r) from SegmentTimeline.
    timeline: Option<Vec<(Option<u64>, u64, i64)>>,
    /// Initialization (sourceURL, range).
    init: Option<(Option<String>, Option<String>)>,
    /// SegmentURL (media, mediaRange).
    urls: Option<Vec<(Option<String>, Option<String>)>>,
}

impl SegInfo {
    fn from_node(n: &Node) -> SegInfo {
        let timeline = n.child("SegmentTimeline").map(|tl| {
            tl.children("S")
                .map(|s| {
                    (
                        s.attr("t").and_then(|v| v.parse().ok()),
                        s.attr("d").and_then(|v| v.parse().ok()).unwrap_or(0),
                        s.attr("r").and_then(|v| v.parse().ok()).unwrap_or(0),
                    )
                })
                .collect()
        });
        let init = n.child("Initialization").map(|i| (i.attr("sourceURL").map(str::to_string), i.attr("range").map(str::to_string)));
        let urls = (n.name == "SegmentList")
            .then(|| n.children("SegmentURL").map(|u| (u.attr("media").map(str::to_string), u.attr("mediaRange").map(str::to_string))).collect::<Vec<_>>());
        SegInfo { attrs: n.attrs.clone(), timeline, init, urls: urls.filter(|u| !u.is_empty()) }
    }

    fn over(&self, parent: &SegInfo) -> SegInfo {
        let mut attrs = parent.attrs.clone();
        for (k, v) in &self.attrs {
            match attrs.iter_mut().find(|(pk, _)| pk == k) {
                Some(slot) => slot.1 = v.clone(),
                None => attrs.push((k.clone(), v.clone())),
            }
        }
        SegInfo {
            attrs,
            timeline: self.timeline.clone().or_else(|| parent.timeline.clone()),
            init: self.init.clone().or_else(|| parent.init.clone()),
            urls: self.urls.clone().or_else(|| parent.urls.clone()),
        }
    }

    fn get(&self, k: &str) -> Option<&str> {
        self.attrs.iter().find(|(a, _)| a == k).map(|(_, v)| v.as_str())
    }

    fn num(&self, k: &str) -> Option<u64> {
        self.get(k).and_then(|v| v.trim().parse().ok())
    }
}

/// The segment information visible at one level.
#[derive(Clone, Debug, Default)]
struct SegLevels {
    base: Option<SegInfo>,
    list: Option<SegInfo>,
    template: Option<SegInfo>,
    /// The kind declared at the deepest level so far.
    deepest: Option<SegKind>,
}

impl SegLevels {
    fn descend(&self, n: &Node) -> SegLevels {
        let mut out = self.clone();
        for (name, kind) in [("SegmentBase", SegKind::Base), ("SegmentList", SegKind::List), ("SegmentTemplate", SegKind::Template)] {
            if let Some(child) = n.child(name) {
                let info = SegInfo::from_node(child);
                let slot = match kind {
                    SegKind::Base => &mut out.base,
                    SegKind::List => &mut out.list,
                    SegKind::Template => &mut out.template,
                };
                *slot = Some(match slot.as_ref() {
                    Some(parent) => info.over(parent),
                    None => info,
                });
                out.deepest = Some(kind);
            }
        }
        out
    }
}

fn bases(parents: &[String], n: &Node) -> Vec<String> {
    let own: Vec<&str> = n.children("BaseURL").map(|b| b.text.trim()).filter(|t| !t.is_empty()).collect();
    if own.is_empty() {
        return parents.to_vec();
    }
    let mut out = Vec::new();
    for p in parents {
        for b in &own {
            let u = resolve(p, b);
            if out.len() < MAX_BASE_URLS && !out.contains(&u) {
                out.push(u);
            }
        }
    }
    out
}

fn range(s: &str) -> Option<(u64, u64)> {
    let (a, b) = s.trim().split_once('-')?;
    let (a, b) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
    (a <= b).then_some((a, b))
}

/// Parse `text`, fetched from `url`. `now_ms` (Unix ms) is needed only to
/// expand an open-ended live timeline (`r="-1"` in the last `S`).
pub fn parse_at(text: &str, url: &str, now_ms: Option<f64>) -> Result<Manifest, MpdError> {
    let root = tree(text)?;
    if root.name != "MPD" {
        return Err(MpdError::NotAnMpd);
    }
    let dynamic = root.attr("type") == Some("dynamic");
    let dur = |n: &Node, a: &str| n.attr(a).and_then(parse_duration);
    let mut m = Manifest {
        dynamic,
        duration: dur(&root, "mediaPresentationDuration"),
        availability_start_ms: root.attr("availabilityStartTime").and_then(parse_datetime_ms),
        min_update_period: dur(&root, "minimumUpdatePeriod"),
        time_shift_buffer_depth: dur(&root, "timeShiftBufferDepth"),
        suggested_presentation_delay: dur(&root, "suggestedPresentationDelay"),
        min_buffer_time: dur(&root, "minBufferTime"),
        locations: root.children("Location").map(|l| resolve(url, l.text.trim())).collect(),
        periods: Vec::new(),
    };
    if dynamic && m.availability_start_ms.is_none() {
        return Err(MpdError::Invalid("a dynamic MPD needs availabilityStartTime".into()));
    }
    let mpd_bases = bases(&[url.to_string()], &root);
    let period_nodes: Vec<&Node> = root.children("Period").collect();
    if period_nodes.is_empty() {
        return Err(MpdError::NoPeriod);
    }
    // Period starts: @start, else the previous period's end, else 0 (static).
    let mut starts: Vec<Option<f64>> = Vec::new();
    for (i, p) in period_nodes.iter().enumerate() {
        let start = dur(p, "start").or_else(|| match i {
            0 => Some(0.0),
            _ => starts[i - 1].and_then(|s| dur(period_nodes[i - 1], "duration").map(|d| s + d)),
        });
        starts.push(start);
    }
    let root_levels = SegLevels::default().descend(&root);
    for (i, p) in period_nodes.iter().enumerate() {
        let Some(start) = starts[i] else {
            return Err(MpdError::Invalid(format!("period {} has no start", i + 1)));
        };
        let next_start = starts.get(i + 1).copied().flatten();
        let duration = dur(p, "duration")
            .or_else(|| next_start.map(|n| n - start))
            .or_else(|| (i + 1 == period_nodes.len()).then(|| m.duration.map(|d| d - start)).flatten());
        let end = duration.map(|d| start + d);
        let period_bases = bases(&mpd_bases, p);
        let period_levels = root_levels.descend(p);
        let mut tracks = Vec::new();
        // A representation that cannot be addressed is dropped (its set too,
        // once empty); the first such error is the period's when nothing is left.
        let mut dropped: Option<MpdError> = None;
        for set in p.children("AdaptationSet") {
            let set_bases = bases(&period_bases, set);
            let set_levels = period_levels.descend(set);
            let mut reps = Vec::new();
            for r in set.children("Representation") {
                let get = |a: &str| r.attr(a).or_else(|| set.attr(a));
                let id = r.attr("id").unwrap_or_default().to_string();
                let bandwidth = r.attr("bandwidth").and_then(|b| b.parse().ok()).unwrap_or(0);
                let mime_type = get("mimeType").unwrap_or_default().to_string();
                let rep_bases = bases(&set_bases, r);
                let levels = set_levels.descend(r);
                let base = rep_bases.first().cloned().unwrap_or_else(|| url.to_string());
                let has_base = [&root, *p, set, r].iter().any(|n| n.child("BaseURL").is_some());
                let ctx = Ctx {
                    id: &id,
                    bandwidth,
                    base: &base,
                    period_start: start,
                    period_end: end,
                    dynamic,
                    now: now_ms.and_then(|n| m.live_now(n)),
                    mime: &mime_type,
                    has_base,
                };
                let (init, addressing, offset) = match address(&levels, &ctx) {
                    Ok(a) => a,
                    Err(e) => {
                        dropped.get_or_insert(e);
                        continue;
                    }
                };
                reps.push(Representation {
                    codecs: get("codecs").unwrap_or_default().to_string(),
                    width: get("width").and_then(|v| v.parse().ok()),
                    height: get("height").and_then(|v| v.parse().ok()),
                    frame_rate: get("frameRate").and_then(parse_frame_rate),
                    sample_rate: get("audioSamplingRate").and_then(|v| v.split_whitespace().next().and_then(|v| v.parse().ok())),
                    base_urls: rep_bases,
                    timestamp_offset: offset,
                    placed: false,
                    transmux: false,
                    discontinuities: Vec::new(),
                    init,
                    addressing,
                    id,
                    bandwidth,
                    mime_type,
                });
            }
            if reps.is_empty() && set.children("Representation").next().is_some() {
                continue;
            }
            let mime = reps.first().map(|r| r.mime_type.clone()).or(set.attr("mimeType").map(str::to_string)).unwrap_or_default();
            let content_type = set.attr("contentType").map(str::to_string).unwrap_or_else(|| mime.split('/').next().unwrap_or("").to_string());
            let kind = match content_type.as_str() {
                "video" => TrackKind::Video,
                "audio" => TrackKind::Audio,
                "text" | "application" => TrackKind::Text,
                _ => TrackKind::Other,
            };
            tracks.push(Track {
                id: set.attr("id").map(str::to_string),
                kind,
                lang: set.attr("lang").map(str::to_string),
                roles: set.children("Role").filter_map(|r| r.attr("value").map(str::to_string)).collect(),
                label: set.child("Label").map(|l| l.text.trim().to_string()).or(set.attr("label").map(str::to_string)),
                representations: reps,
            });
        }
        if let (true, Some(e)) = (tracks.iter().all(|t| t.representations.is_empty()), dropped) {
            return Err(e);
        }
        m.periods.push(Period { id: p.attr("id").map(str::to_string), start, duration, tracks });
    }
    Ok(m)
}

/// Parse a manifest (static, or live without open-ended timelines).
pub fn parse(text: &str, url: &str) -> Result<Manifest, MpdError> {
    parse_at(text, url, None)
}

struct Ctx<'a> {
    id: &'a str,
    bandwidth: u64,
    base: &'a str,
    period_start: f64,
    period_end: Option<f64>,
    dynamic: bool,
    /// Presentation time now (live).
    now: Option<f64>,
    mime: &'a str,
    /// Some level gave a BaseURL (else the base is the manifest's own URL).
    has_base: bool,
}

type Addressed = (Option<ByteRef>, Addressing, f64);

fn address(levels: &SegLevels, ctx: &Ctx<'_>) -> Result<Addressed, MpdError> {
    let kind = levels.deepest;
    let info = match kind {
        Some(SegKind::Template) => levels.template.clone(),
        Some(SegKind::List) => levels.list.clone(),
        Some(SegKind::Base) => levels.base.clone(),
        None => None,
    };
    let Some(info) = info else {
        // No BaseURL, or one naming a directory (as the proxy's rewrite
        // gives every MPD): no file to play.
        if !ctx.has_base || ctx.base.split(['?', '#']).next().unwrap_or("").ends_with('/') {
            return Ok((None, Addressing::None, ctx.period_start));
        }
        // A bare BaseURL: one segment, the whole file.
        let seg = Segment {
            url: ctx.base.to_string(),
            range: None,
            start: ctx.period_start,
            duration: ctx.period_end.map_or(f64::INFINITY, |e| e - ctx.period_start),
            number: 1,
        };
        return Ok((None, Addressing::Segments(vec![seg]), ctx.period_start));
    };
    let timescale = info.num("timescale").unwrap_or(1).max(1);
    let pto = info.num("presentationTimeOffset").unwrap_or(0);
    let offset = ctx.period_start - pto as f64 / timescale as f64;
    let init_from_element = info.init.as_ref().map(|(src, r)| ByteRef {
        url: src.as_deref().map_or(ctx.base.to_string(), |s| resolve(ctx.base, &fill(s, ctx.id, ctx.bandwidth, None, None))),
        range: r.as_deref().and_then(range),
    });
    match kind {
        Some(SegKind::Template) => {
            let init = info
                .get("initialization")
                .map(|i| ByteRef { url: resolve(ctx.base, &fill(i, ctx.id, ctx.bandwidth, None, None)), range: None })
                .or(init_from_element);
            let Some(media) = info.get("media") else {
                return Err(MpdError::Invalid(format!("representation {}: SegmentTemplate without media", ctx.id)));
            };
            let start_number = info.num("startNumber").unwrap_or(1);
            if let Some(timeline) = &info.timeline {
                // Resolved once, filled per segment (as the $Number$ template below).
                let media = resolve(ctx.base, media);
                let list = timeline_segments(
                    timeline,
                    timescale,
                    pto,
                    start_number,
                    ctx,
                    |number, time| fill(&media, ctx.id, ctx.bandwidth, Some(number), Some(time)),
                    |_| None,
                )?;
                return Ok((init, Addressing::Segments(list), offset));
            }
            let d = info
                .num("duration")
                .filter(|d| *d > 0)
                .ok_or_else(|| MpdError::Invalid(format!("representation {}: SegmentTemplate without duration or timeline", ctx.id)))?;
            let template = NumberTemplate {
                // Resolution leaves the `$…$` identifiers as they are.
                media: resolve(ctx.base, media),
                representation_id: ctx.id.to_string(),
                bandwidth: ctx.bandwidth,
                start_number,
                timescale,
                duration: d,
                pto,
                period_start: ctx.period_start,
                period_end: ctx.period_end,
            };
            if ctx.dynamic {
                return Ok((init, Addressing::Numbered(template), offset));
            }
            let Some(end) = ctx.period_end else {
                return Err(MpdError::Invalid(format!("representation {}: a $Number$ template needs the period's duration", ctx.id)));
            };
            if (end - ctx.period_start) / (d as f64 / timescale as f64) > MAX_SEGMENTS as f64 {
                return Err(MpdError::TooManySegments);
            }
            Ok((init, Addressing::Segments(template.between(ctx.period_start, end)), offset))
        }
        Some(SegKind::List) => {
            let urls = info.urls.clone().unwrap_or_default();
            if urls.is_empty() {
                return Err(MpdError::Invalid(format!("representation {}: SegmentList without SegmentURL", ctx.id)));
            }
            if urls.len() > MAX_SEGMENTS {
                return Err(MpdError::TooManySegments);
            }
            let start_number = info.num("startNumber").unwrap_or(1);
            let url_of = |i: usize| -> ByteRef {
                let (media, r) = urls.get(i).cloned().unwrap_or((None, None));
                ByteRef { url: media.map_or(ctx.base.to_string(), |m| resolve(ctx.base, &m)), range: r.as_deref().and_then(range) }
            };
            let list = if let Some(timeline) = &info.timeline {
                let mut l = timeline_segments(timeline, timescale, pto, start_number, ctx, |_, _| String::new(), |i| Some(url_of(i)))?;
                l.truncate(urls.len());
                l
            } else {
                let d = info.num("duration").filter(|d| *d > 0);
                let seconds = match d {
                    Some(d) => d as f64 / timescale as f64,
                    None if urls.len() == 1 => ctx.period_end.map_or(f64::INFINITY, |e| e - ctx.period_start),
                    None => return Err(MpdError::Invalid(format!("representation {}: SegmentList without duration or timeline", ctx.id))),
                };
                (0..urls.len())
                    .map(|i| {
                        let r = url_of(i);
                        let start = ctx.period_start + i as f64 * seconds;
                        let duration = ctx.period_end.map_or(seconds, |e| seconds.min(e - start));
                        Segment { url: r.url, range: r.range, start, duration, number: start_number + i as u64 }
                    })
                    .collect()
            };
            Ok((init_from_element, Addressing::Segments(list), offset))
        }
        Some(SegKind::Base) => {
            let Some(index_range) = info.get("indexRange").and_then(range) else {
                // SegmentBase without an index: the whole file is one segment.
                let seg = Segment {
                    url: ctx.base.to_string(),
                    range: None,
                    start: ctx.period_start,
                    duration: ctx.period_end.map_or(f64::INFINITY, |e| e - ctx.period_start),
                    number: 1,
                };
                return Ok((init_from_element, Addressing::Segments(vec![seg]), offset));
            };
            let container = if ctx.mime.contains("webm") { Container::WebM } else { Container::Mp4 };
            Ok((init_from_element, Addressing::Indexed(Indexed { url: ctx.base.to_string(), index_range, timescale, pto, container }), offset))
        }
        None => Ok((None, Addressing::None, offset)),
    }
}

/// Expand a SegmentTimeline.
fn timeline_segments(
    timeline: &[(Option<u64>, u64, i64)],
    timescale: u64,
    pto: u64,
    start_number: u64,
    ctx: &Ctx<'_>,
    url: impl Fn(u64, u64) -> String,
    listed: impl Fn(usize) -> Option<ByteRef>,
) -> Result<Vec<Segment>, MpdError> {
    let ts = timescale as f64;
    // Where an open-ended `r="-1"` stops: the next S@t, the period end, or (live) now.
    let period_end_ticks = ctx.period_end.map(|e| pto as f64 + (e - ctx.period_start) * ts);
    let live_end_ticks = ctx.now.map(|now| pto as f64 + (now - ctx.period_start) * ts);
    let mut out = Vec::new();
    let mut time: u64 = 0;
    let mut number = start_number;
    for (i, &(t0, d, r)) in timeline.iter().enumerate() {
        if let Some(t0) = t0 {
            time = t0;
        }
        if d == 0 {
            continue;
        }
        let repeats = if r >= 0 {
            r as u64 + 1
        } else {
            // To the next S@t or the period end: every segment that starts
            // before it. To "now" (live): only segments already complete.
            let (end, complete_only) = match timeline.get(i + 1).and_then(|n| n.0) {
                Some(next) => (next as f64, false),
                None => match (period_end_ticks, live_end_ticks) {
                    (Some(p), Some(l)) if l < p => (l, true),
                    (Some(p), _) => (p, false),
                    (None, Some(l)) => (l, true),
                    (None, None) => return Err(MpdError::Invalid("an open-ended S@r=-1 needs the period's end".into())),
                },
            };
            let span = (end - time as f64) / d as f64;
            let n = if complete_only { span.floor() } else { span.ceil() };
            if n > MAX_SEGMENTS as f64 {
                return Err(MpdError::TooManySegments);
            }
            n.max(0.0) as u64
        };
        if repeats as usize > MAX_SEGMENTS || out.len() + repeats as usize > MAX_SEGMENTS {
            return Err(MpdError::TooManySegments);
        }
        for _ in 0..repeats {
            let (u, range) = match listed(out.len()) {
                Some(b) => (b.url, b.range),
                None => (url(number, time), None),
            };
            out.push(Segment { url: u, range, start: ctx.period_start + (time as f64 - pto as f64) / ts, duration: d as f64 / ts, number });
            time = time.saturating_add(d);
            number += 1;
        }
    }
    Ok(out)
}

/// Fill the `$…$` identifiers of a template (ISO/IEC 23009-1 §5.3.9.4.4).
pub fn fill(template: &str, id: &str, bandwidth: u64, number: Option<u64>, time: Option<u64>) -> String {
    let mut out = String::with_capacity(template.len() + 16);
    let mut rest = template;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let Some(j) = after.find('$') else {
            out.push_str(&rest[i..]);
            return out;
        };
        let ident = &after[..j];
        let (name, fmt) = match ident.find('%') {
            Some(k) => (&ident[..k], Some(&ident[k..])),
            None => (ident, None),
        };
        let value = match name {
            "" => Some("$".to_string()),
            "RepresentationID" => Some(id.to_string()),
            "Number" => number.map(|n| format_width(n, fmt)),
            "Time" => time.map(|n| format_width(n, fmt)),
            "Bandwidth" => Some(format_width(bandwidth, fmt)),
            _ => None,
        };
        match value {
            Some(v) => out.push_str(&v),
            None => {
                out.push('$');
                out.push_str(ident);
                out.push('$');
            }
        }
        rest = &after[j + 1..];
    }
    out.push_str(rest);
    out
}

fn format_width(n: u64, fmt: Option<&str>) -> String {
    let width = fmt
        .and_then(|f| f.strip_prefix('%'))
        .and_then(|f| f.strip_suffix('d'))
        .and_then(|w| w.trim_start_matches('0').parse::<usize>().ok().or(Some(0)))
        .unwrap_or(0)
        .min(32);
    format!("{n:0width$}")
}

fn parse_frame_rate(s: &str) -> Option<f64> {
    match s.split_once('/') {
        Some((a, b)) => {
            let (a, b) = (parse_f64(a.trim())?, parse_f64(b.trim())?);
            (b > 0.0).then_some(a / b)
        }
        None => parse_f64(s.trim()),
    }
}

/// `PT1H2M3.5S` → seconds.
pub fn parse_duration(s: &str) -> Option<f64> {
    let s = s.trim();
    let rest = s.strip_prefix('P')?;
    let (date, time) = match rest.find('T') {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, ""),
    };
    let mut total = 0.0;
    let mut num = String::new();
    for c in date.chars() {
        match c {
            'D' => {
                total += parse_f64(&num)? * 86_400.0;
                num.clear();
            }
            // Calendar units are ambiguous in a duration; zero of them is not.
            'Y' | 'M' | 'W' if parse_f64(&num)? == 0.0 => num.clear(),
            'Y' | 'M' | 'W' => return None,
            c => num.push(c),
        }
    }
    for c in time.chars() {
        let unit = match c {
            'H' => 3600.0,
            'M' => 60.0,
            'S' => 1.0,
            c => {
                num.push(c);
                continue;
            }
        };
        total += parse_f64(&num)? * unit;
        num.clear();
    }
    (num.is_empty() && total.is_finite()).then_some(total)
}

/// `2024-03-01T12:00:00.5Z` (xs:dateTime; no zone means UTC) → Unix ms.
pub fn parse_datetime_ms(s: &str) -> Option<f64> {
    let s = s.trim();
    let (date, time) = s.split_once('T')?;
    let mut d = date.splitn(3, '-');
    let (y, mo, da): (i64, i64, i64) = (d.next()?.parse().ok()?, d.next()?.parse().ok()?, d.next()?.parse().ok()?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&da) {
        return None;
    }
    let (clock, zone_ms) = if let Some(c) = time.strip_suffix('Z') {
        (c, 0.0)
    } else if let Some(i) = time.rfind(['+', '-']).filter(|i| *i >= 8) {
        let (c, z) = time.split_at(i);
        let sign = if z.starts_with('-') { -1.0 } else { 1.0 };
        let (h, m) = z.get(1..)?.split_once(':')?;
        (c, sign * (parse_f64(h)? * 3_600_000.0 + parse_f64(m)? * 60_000.0))
    } else {
        (time, 0.0)
    };
    let mut c = clock.splitn(3, ':');
    let (h, mi, sec) = (parse_f64(c.next()?)?, parse_f64(c.next()?)?, parse_f64(c.next()?)?);
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + da - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let ms = days as f64 * 86_400_000.0 + h * 3_600_000.0 + mi * 60_000.0 + sec * 1000.0 - zone_ms;
    ms.is_finite().then_some(ms)
}

#[cfg(test)]
mod tests;
