//! DASH MPD parsing into segment plans (the subset the walking skeleton
//! plays: static MPDs, first period, SegmentTemplate with `$Number$` or
//! `$Time$`, with or without SegmentTimeline, BaseURL chains).
//!
//! The parser streams with quick-xml and never expands a DTD or custom
//! entity; nesting depth and input size are bounded.

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use crate::url::resolve;

/// Largest manifest accepted (bytes).
pub const MAX_MPD_BYTES: usize = 4 * 1024 * 1024;
/// Deepest element nesting accepted.
pub const MAX_DEPTH: usize = 32;
/// Most segments one representation may expand to.
pub const MAX_SEGMENTS: usize = 200_000;

#[derive(Clone, Debug, PartialEq)]
pub enum MpdError {
    TooLarge(usize),
    TooDeep,
    Xml(String),
    NotAnMpd,
    NoPeriod,
    TooManySegments,
    Unsupported(String),
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
            MpdError::Unsupported(what) => write!(f, "unsupported: {what}"),
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
    /// Presentation duration in seconds, if the MPD says.
    pub duration: Option<f64>,
    pub tracks: Vec<Track>,
}

/// One adaptation set.
#[derive(Clone, Debug, PartialEq)]
pub struct Track {
    pub kind: TrackKind,
    pub lang: Option<String>,
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
    pub init_url: Option<String>,
    pub segments: Vec<Segment>,
}

impl Representation {
    /// The MIME type with codecs, as `MediaSource.isTypeSupported` wants it.
    pub fn content_type(&self) -> String {
        if self.codecs.is_empty() {
            self.mime_type.clone()
        } else {
            format!("{}; codecs=\"{}\"", self.mime_type, self.codecs)
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Segment {
    pub url: String,
    /// Presentation start, seconds.
    pub start: f64,
    pub duration: f64,
}

#[derive(Clone, Debug, Default)]
struct Template {
    media: Option<String>,
    initialization: Option<String>,
    start_number: Option<u64>,
    timescale: Option<u64>,
    duration: Option<u64>,
    pto: Option<u64>,
    /// (t, d, r) from SegmentTimeline.
    timeline: Option<Vec<(Option<u64>, u64, i64)>>,
}

impl Template {
    fn inherit(&self, parent: &Template) -> Template {
        Template {
            media: self.media.clone().or_else(|| parent.media.clone()),
            initialization: self.initialization.clone().or_else(|| parent.initialization.clone()),
            start_number: self.start_number.or(parent.start_number),
            timescale: self.timescale.or(parent.timescale),
            duration: self.duration.or(parent.duration),
            pto: self.pto.or(parent.pto),
            timeline: self.timeline.clone().or_else(|| parent.timeline.clone()),
        }
    }
}

#[derive(Clone, Debug, Default)]
struct RepAttrs {
    id: String,
    bandwidth: u64,
    mime_type: Option<String>,
    codecs: Option<String>,
    width: Option<u32>,
    height: Option<u32>,
    base: Option<String>,
    template: Template,
}

#[derive(Clone, Debug, Default)]
struct SetAttrs {
    mime_type: Option<String>,
    content_type: Option<String>,
    codecs: Option<String>,
    lang: Option<String>,
    base: Option<String>,
    template: Template,
    reps: Vec<RepAttrs>,
}

/// Which template is being read: the adaptation set's or the representation's.
#[derive(Clone, Copy, PartialEq)]
enum Level {
    Mpd,
    Period,
    Set,
    Rep,
}

/// Parse `text`, fetched from `url`, into segment plans for its first period.
pub fn parse(text: &str, url: &str) -> Result<Manifest, MpdError> {
    if text.len() > MAX_MPD_BYTES {
        return Err(MpdError::TooLarge(text.len()));
    }
    let mut reader = Reader::from_str(text);
    reader.config_mut().trim_text(true);
    let mut depth = 0usize;
    let mut seen_mpd = false;
    let mut duration = None;
    let mut dynamic = false;
    let mut mpd_base: Option<String> = None;
    let mut period_base: Option<String> = None;
    let mut period_template = Template::default();
    let mut periods = 0usize;
    let mut sets: Vec<SetAttrs> = Vec::new();
    let mut level = Level::Mpd;
    let mut in_base_url = false;
    let mut base_text = String::new();
    let mut in_timeline = false;

    loop {
        let event = reader.read_event().map_err(|e| MpdError::Xml(e.to_string()))?;
        let (start, is_empty) = match &event {
            Event::Start(e) => (Some(e.clone()), false),
            Event::Empty(e) => (Some(e.clone()), true),
            _ => (None, false),
        };
        if let Some(e) = start {
            if !is_empty {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(MpdError::TooDeep);
                }
            }
            let name = e.local_name();
            let name = name.as_ref();
            if !seen_mpd {
                if name != b"MPD" {
                    return Err(MpdError::NotAnMpd);
                }
                seen_mpd = true;
                duration = attr(&e, b"mediaPresentationDuration").and_then(|d| parse_duration(&d));
                dynamic = attr(&e, b"type").as_deref() == Some("dynamic");
                continue;
            }
            if periods > 1 {
                continue; // the skeleton plays the first period
            }
            match name {
                b"Period" => {
                    periods += 1;
                    if periods == 1 && !is_empty {
                        level = Level::Period;
                    }
                }
                b"AdaptationSet" if periods == 1 => {
                    sets.push(SetAttrs {
                        mime_type: attr(&e, b"mimeType"),
                        content_type: attr(&e, b"contentType"),
                        codecs: attr(&e, b"codecs"),
                        lang: attr(&e, b"lang"),
                        ..SetAttrs::default()
                    });
                    if !is_empty {
                        level = Level::Set;
                    }
                }
                b"Representation" if periods == 1 => {
                    if let Some(set) = sets.last_mut() {
                        set.reps.push(RepAttrs {
                            id: attr(&e, b"id").unwrap_or_default(),
                            bandwidth: attr(&e, b"bandwidth").and_then(|b| b.parse().ok()).unwrap_or(0),
                            mime_type: attr(&e, b"mimeType"),
                            codecs: attr(&e, b"codecs"),
                            width: attr(&e, b"width").and_then(|b| b.parse().ok()),
                            height: attr(&e, b"height").and_then(|b| b.parse().ok()),
                            ..RepAttrs::default()
                        });
                        if !is_empty {
                            level = Level::Rep;
                        }
                    }
                }
                b"SegmentTemplate" if periods == 1 => {
                    let t = Template {
                        media: attr(&e, b"media"),
                        initialization: attr(&e, b"initialization"),
                        start_number: attr(&e, b"startNumber").and_then(|v| v.parse().ok()),
                        timescale: attr(&e, b"timescale").and_then(|v| v.parse().ok()),
                        duration: attr(&e, b"duration").and_then(|v| v.parse().ok()),
                        pto: attr(&e, b"presentationTimeOffset").and_then(|v| v.parse().ok()),
                        timeline: None,
                    };
                    *template_at(level, &mut period_template, &mut sets) = t;
                }
                b"SegmentTimeline" if periods == 1 => {
                    template_at(level, &mut period_template, &mut sets).timeline = Some(Vec::new());
                    in_timeline = !is_empty;
                }
                b"S" if in_timeline => {
                    let t = attr(&e, b"t").and_then(|v| v.parse().ok());
                    let d = attr(&e, b"d").and_then(|v| v.parse().ok()).unwrap_or(0);
                    let r = attr(&e, b"r").and_then(|v| v.parse().ok()).unwrap_or(0);
                    if let Some(tl) = template_at(level, &mut period_template, &mut sets).timeline.as_mut() {
                        tl.push((t, d, r));
                    }
                }
                b"SegmentBase" | b"SegmentList" if periods == 1 => {
                    return Err(MpdError::Unsupported(format!("{} addressing (coming with the DASH engine)", String::from_utf8_lossy(name))));
                }
                b"BaseURL" if !is_empty => {
                    in_base_url = true;
                    base_text.clear();
                }
                _ => {}
            }
            continue;
        }
        match event {
            Event::Text(t) if in_base_url => {
                base_text.push_str(&t.decode().map_err(|e| MpdError::Xml(e.to_string()))?);
            }
            Event::GeneralRef(r) if in_base_url => {
                let name = r.decode().map_err(|e| MpdError::Xml(e.to_string()))?;
                base_text.push_str(match name.as_ref() {
                    "amp" => "&",
                    "lt" => "<",
                    "gt" => ">",
                    "quot" => "\"",
                    "apos" => "'",
                    other => return Err(MpdError::Xml(format!("undefined entity &{other};"))),
                });
            }
            Event::End(e) => {
                depth = depth.saturating_sub(1);
                match e.local_name().as_ref() {
                    b"BaseURL" if in_base_url => {
                        in_base_url = false;
                        let b = std::mem::take(&mut base_text).trim().to_string();
                        // The first BaseURL at a level wins (alternates come with failover).
                        match level {
                            Level::Mpd => {
                                mpd_base.get_or_insert(b);
                            }
                            Level::Period if periods == 1 => {
                                period_base.get_or_insert(b);
                            }
                            Level::Set => {
                                if let Some(s) = sets.last_mut() {
                                    s.base.get_or_insert(b);
                                }
                            }
                            Level::Rep => {
                                if let Some(r) = sets.last_mut().and_then(|s| s.reps.last_mut()) {
                                    r.base.get_or_insert(b);
                                }
                            }
                            Level::Period => {}
                        }
                    }
                    b"SegmentTimeline" => in_timeline = false,
                    b"Representation" if level == Level::Rep => level = Level::Set,
                    b"AdaptationSet" if level == Level::Set => level = Level::Period,
                    b"Period" if level == Level::Period => level = Level::Mpd,
                    _ => {}
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !seen_mpd {
        return Err(MpdError::NotAnMpd);
    }
    if dynamic {
        return Err(MpdError::Unsupported("live (dynamic) MPDs (coming with the DASH engine)".into()));
    }
    if periods == 0 {
        return Err(MpdError::NoPeriod);
    }
    let mut base = url.to_string();
    for b in [&mpd_base, &period_base].into_iter().flatten() {
        base = resolve(&base, b);
    }
    let mut tracks = Vec::new();
    for set in sets {
        let set_base = set.base.as_deref().map_or(base.clone(), |b| resolve(&base, b));
        let set_template = set.template.inherit(&period_template);
        let mut reps = Vec::new();
        for r in set.reps {
            let rep_base = r.base.as_deref().map_or(set_base.clone(), |b| resolve(&set_base, b));
            let template = r.template.inherit(&set_template);
            let (init_url, segments) = expand(&template, &r.id, r.bandwidth, &rep_base, duration)?;
            reps.push(Representation {
                id: r.id,
                bandwidth: r.bandwidth,
                mime_type: r.mime_type.or(set.mime_type.clone()).unwrap_or_default(),
                codecs: r.codecs.or(set.codecs.clone()).unwrap_or_default(),
                width: r.width,
                height: r.height,
                init_url,
                segments,
            });
        }
        let mime = reps.first().map(|r| r.mime_type.clone()).or(set.mime_type).unwrap_or_default();
        let kind = match set.content_type.as_deref().unwrap_or_else(|| mime.split('/').next().unwrap_or("")) {
            "video" => TrackKind::Video,
            "audio" => TrackKind::Audio,
            "text" | "application" => TrackKind::Text,
            _ => TrackKind::Other,
        };
        tracks.push(Track { kind, lang: set.lang, representations: reps });
    }
    Ok(Manifest { duration, tracks })
}

fn template_at<'a>(level: Level, period: &'a mut Template, sets: &'a mut [SetAttrs]) -> &'a mut Template {
    match level {
        Level::Rep => match sets.last_mut() {
            Some(s) if !s.reps.is_empty() => {
                let n = s.reps.len() - 1;
                &mut s.reps[n].template
            }
            Some(s) => &mut s.template,
            None => period,
        },
        Level::Set => match sets.last_mut() {
            Some(s) => &mut s.template,
            None => period,
        },
        _ => period,
    }
}

fn attr(e: &BytesStart<'_>, name: &[u8]) -> Option<String> {
    e.attributes().flatten().find(|a| a.key.local_name().as_ref() == name).and_then(|a| a.unescape_value().ok().map(|v| v.into_owned()))
}

/// Expand a SegmentTemplate into an init URL and the segment list.
fn expand(t: &Template, id: &str, bandwidth: u64, base: &str, duration: Option<f64>) -> Result<(Option<String>, Vec<Segment>), MpdError> {
    let timescale = t.timescale.unwrap_or(1).max(1) as f64;
    let start_number = t.start_number.unwrap_or(1);
    let pto = t.pto.unwrap_or(0);
    let init_url = t.initialization.as_deref().map(|i| resolve(base, &fill(i, id, bandwidth, None, None)));
    let Some(media) = t.media.as_deref() else { return Ok((init_url, Vec::new())) };
    let mut segments = Vec::new();
    if let Some(timeline) = &t.timeline {
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
                // r = -1: repeat until the next S@t or the end of the period.
                let end = match timeline.get(i + 1).and_then(|n| n.0) {
                    Some(next) => next,
                    None => pto + (duration.unwrap_or(0.0) * timescale) as u64,
                };
                end.saturating_sub(time).div_ceil(d)
            };
            for _ in 0..repeats {
                if segments.len() >= MAX_SEGMENTS {
                    return Err(MpdError::TooManySegments);
                }
                segments.push(Segment {
                    url: resolve(base, &fill(media, id, bandwidth, Some(number), Some(time))),
                    start: (time.saturating_sub(pto)) as f64 / timescale,
                    duration: d as f64 / timescale,
                });
                time += d;
                number += 1;
            }
        }
    } else if let Some(d) = t.duration.filter(|d| *d > 0) {
        let seg = d as f64 / timescale;
        let total = duration.ok_or_else(|| MpdError::Unsupported("SegmentTemplate@duration without a presentation duration".into()))?;
        let count = (total / seg).ceil() as usize;
        if count > MAX_SEGMENTS {
            return Err(MpdError::TooManySegments);
        }
        for i in 0..count {
            let number = start_number + i as u64;
            let time = pto + i as u64 * d;
            segments.push(Segment {
                url: resolve(base, &fill(media, id, bandwidth, Some(number), Some(time))),
                start: i as f64 * seg,
                duration: seg.min(total - i as f64 * seg),
            });
        }
    }
    Ok((init_url, segments))
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
        .unwrap_or(0);
    format!("{n:0width$}")
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
                total += num.parse::<f64>().ok()? * 86_400.0;
                num.clear();
            }
            'Y' | 'M' | 'W' => return None, // calendar units are ambiguous in a duration
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
        total += num.parse::<f64>().ok()? * unit;
        num.clear();
    }
    num.is_empty().then_some(total)
}

#[cfg(test)]
mod tests;
