//! A stream's text track, fetched as it plays: the segments of one text
//! representation (a DASH text AdaptationSet's, an HLS `SUBTITLES`
//! rendition's, or a sidecar file as one segment) around the playhead,
//! decoded to cues on the presentation timeline.
//!
//! Sans-IO: the shell reports the playhead ([`TextFeed::handle_time`]) and
//! fetch results, and drains [`TextFeed::poll_output`]: fetches to start,
//! cues to add, and cue ends to extend (a cue split across segments, as
//! packagers write `wvtt`, becomes one cue again). At most
//! [`IN_FLIGHT`] fetches at a time; a failed segment is not retried (its
//! cues are missing; the next ones still come).

use std::collections::VecDeque;

use super::{mp4, ttml, vtt, Collector, Cue, MAX_CUES};
use crate::mpd::Representation;

/// Fetches at once.
pub const IN_FLIGHT: usize = 2;
/// Fetched ahead of the playhead (s).
pub const AHEAD: f64 = 30.0;
/// And behind it, for a seek back a little (s).
pub const BEHIND: f64 = 5.0;
/// Cues a new one is compared with (for a repeat or a split).
const RECENT: usize = 256;

#[derive(Clone, Debug, PartialEq)]
pub enum FeedOutput {
    /// Fetch `url` (the byte `range`, inclusive, when given); answer with
    /// `handle_data(id, …)` or `handle_failed(id)`.
    Fetch { id: u64, url: String, range: Option<(u64, u64)> },
    /// A new cue, the `index`-th this feed gave.
    Cue { index: usize, cue: Cue },
    /// Cue `index` goes on to `end` (the next segment carried its rest).
    Extend { index: usize, end: f64 },
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Format {
    Vtt,
    Ttml,
    Mp4,
}

#[derive(Clone, Debug, PartialEq)]
enum Init {
    NotNeeded,
    Wanted,
    Fetching(u64),
    Ready(mp4::TextTrack),
    Failed,
}

pub struct TextFeed {
    rep: Representation,
    format: Format,
    init: Init,
    /// Segment numbers asked for (fetching or done).
    asked: Vec<u64>,
    /// Fetches running: (id, segment number).
    running: Vec<(u64, u64)>,
    next_id: u64,
    time: Option<f64>,
    /// Seconds from an HLS `X-TIMESTAMP-MAP`'s MPEG-2 time to the element's
    /// time, once the shell knows it (the stream's first PTS ↔ its start).
    mpegts_origin: Option<f64>,
    cues: Vec<Cue>,
    out: VecDeque<FeedOutput>,
}

impl TextFeed {
    /// A feed of `rep` (a text representation: `text/vtt`, `application/ttml+xml`,
    /// or `application/mp4` with `wvtt` / `stpp`).
    pub fn new(rep: Representation) -> TextFeed {
        let mime = rep.mime_type.to_ascii_lowercase();
        let codecs = rep.codecs.to_ascii_lowercase();
        let format = if mime.contains("mp4") || codecs.starts_with("wvtt") || codecs.starts_with("stpp") {
            Format::Mp4
        } else if mime.contains("ttml") || codecs.starts_with("ttml") {
            Format::Ttml
        } else {
            Format::Vtt
        };
        let init = if format == Format::Mp4 && rep.init_url().is_some() { Init::Wanted } else { Init::NotNeeded };
        TextFeed {
            rep,
            format,
            init,
            asked: Vec::new(),
            running: Vec::new(),
            next_id: 1,
            time: None,
            mpegts_origin: None,
            cues: Vec::new(),
            out: VecDeque::new(),
        }
    }

    /// The element's time now: fetches for the segments around it.
    pub fn handle_time(&mut self, t: f64) {
        self.time = Some(t);
        self.plan();
    }

    /// The MPEG-2 time (s) at the element's time 0, for HLS WebVTT with
    /// `X-TIMESTAMP-MAP` (known once the stream's first segment is in).
    pub fn handle_mpegts_origin(&mut self, seconds: f64) {
        self.mpegts_origin = Some(seconds);
    }

    pub fn handle_data(&mut self, id: u64, bytes: &[u8]) {
        if self.init == Init::Fetching(id) {
            self.init = mp4::parse_init(bytes).map_or(Init::Failed, Init::Ready);
            return self.plan();
        }
        let Some(at) = self.running.iter().position(|r| r.0 == id) else { return };
        self.running.swap_remove(at);
        let offset = self.rep.timestamp_offset;
        let mut cues = match self.format {
            Format::Mp4 => match &self.init {
                Init::Ready(track) => mp4::parse_fragment(track, bytes).unwrap_or_default(),
                _ => Vec::new(),
            },
            Format::Ttml => {
                let mut c = Collector::default();
                let _ = super::decode(bytes).map(|text| ttml::read(&text, &mut c));
                c.cues
            }
            Format::Vtt => match super::decode(bytes).ok().and_then(|text| vtt::parse(&text).ok()) {
                Some(file) => {
                    let shift = match (file.timestamp_map, self.mpegts_origin) {
                        (Some(map), Some(origin)) => map.offset() - origin,
                        _ => 0.0,
                    };
                    file.cues.into_iter().map(|c| Cue { start: c.start + shift, end: c.end + shift, ..c }).collect()
                }
                None => Vec::new(),
            },
        };
        for c in &mut cues {
            c.start += offset;
            c.end += offset;
        }
        for cue in cues {
            self.take(cue);
        }
        self.plan();
    }

    /// A fetch failed: its segment gives no cues (an init: none at all).
    pub fn handle_failed(&mut self, id: u64) {
        if self.init == Init::Fetching(id) {
            self.init = Init::Failed;
        }
        self.running.retain(|r| r.0 != id);
        self.plan();
    }

    pub fn poll_output(&mut self) -> Option<FeedOutput> {
        self.out.pop_front()
    }

    /// A decoded cue: dropped when it repeats one already given, joined to
    /// one that ends where it starts with the same text and place.
    fn take(&mut self, cue: Cue) {
        // (Repeats and splits come from neighbouring segments: only the
        // last cues are looked at, times before text, so a stream of 20,000
        // near-identical cues costs no more than a plain one.)
        let same = |a: &Cue| a.text == cue.text && a.place == cue.place;
        let from = self.cues.len().saturating_sub(RECENT);
        let recent = &self.cues[from..];
        if recent.iter().any(|c| (c.start - cue.start).abs() < 0.001 && (c.end - cue.end).abs() < 0.001 && same(c)) {
            return;
        }
        if let Some(at) = recent.iter().rposition(|c| (c.end - cue.start).abs() < 0.001 && same(c)) {
            let index = from + at;
            self.cues[index].end = cue.end;
            self.out.push_back(FeedOutput::Extend { index, end: cue.end });
            return;
        }
        if self.cues.len() >= MAX_CUES {
            return;
        }
        self.out.push_back(FeedOutput::Cue { index: self.cues.len(), cue: cue.clone() });
        self.cues.push(cue);
    }

    fn plan(&mut self) {
        if self.init == Init::Wanted {
            if let Some(url) = self.rep.init.clone() {
                let id = self.id();
                self.init = Init::Fetching(id);
                self.out.push_back(FeedOutput::Fetch { id, url: url.url, range: url.range });
            }
            return;
        }
        if matches!(self.init, Init::Fetching(_) | Init::Failed) {
            return;
        }
        let Some(t) = self.time else { return };
        let mut segments = self.rep.segments_between((t - BEHIND).max(0.0), t + AHEAD);
        if segments.is_empty() && self.asked.is_empty() && self.rep.segments().is_empty() {
            // A sidecar file with no segment information: the whole file.
            if let Some(url) = self.rep.base_urls.first() {
                segments.push(crate::mpd::Segment { url: url.clone(), range: None, start: 0.0, duration: f64::INFINITY, number: 0 });
            }
        }
        // Nearest the playhead first.
        crate::sort::sort_by_key(&mut segments, |s| ((s.start - t).abs() * 1000.0).min(1e15) as i64);
        for s in segments {
            if self.running.len() >= IN_FLIGHT {
                break;
            }
            if self.asked.contains(&s.number) {
                continue;
            }
            self.asked.push(s.number);
            let id = self.id();
            self.running.push((id, s.number));
            self.out.push_back(FeedOutput::Fetch { id, url: s.url, range: s.range });
        }
    }

    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }
}
