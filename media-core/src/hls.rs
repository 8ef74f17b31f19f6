//! HLS playlists (RFC 8216) parsed into the model the MSE player needs.
//!
//! - Master playlists: variants (`EXT-X-STREAM-INF` + the next URI line) and
//!   renditions (`EXT-X-MEDIA`). `EXT-X-I-FRAME-STREAM-INF` marks a playlist
//!   as master but its streams are not kept (MSE does not play trick modes).
//! - Media playlists: segments with start times, sequence numbers, byte
//!   ranges, init sections (`EXT-X-MAP`), discontinuities, encryption state
//!   (`EXT-X-KEY`), program date times; `EXT-X-SKIP` shifts the sequence
//!   numbers of the segments that follow it. Parts and preload hints of
//!   low-latency HLS are ignored except `PART-TARGET` and `CAN-BLOCK-RELOAD`.
//! - Variables: `EXT-X-DEFINE` with NAME/VALUE, and QUERYPARAM taken raw (not
//!   percent-decoded) from the playlist URL's query when present; IMPORT
//!   defines nothing (there is no parent playlist here). `{$name}` is
//!   substituted in URI lines and quoted attribute values; a reference to an
//!   undefined variable is [`HlsError::Malformed`].
//! - Choices: an `EXT-X-BYTERANGE` without `@offset` must follow a segment
//!   with a byte range of the same resolved URI (RFC 8216 §4.3.2.2), else
//!   Malformed; an `EXT-X-MAP` `BYTERANGE` without offset starts at 0. Empty
//!   items in attribute lists (`A=1,,B=2`) and an `EXTINF` without its comma
//!   are tolerated. A media playlist needs `EXT-X-TARGETDURATION`; a master
//!   playlist needs a variant; an `EXTINF`/`EXT-X-STREAM-INF` left without a
//!   URI line is Malformed. Unknown tags and comments are ignored.
//!
//! Every input is hostile: the text is bounded by [`MAX_PLAYLIST_BYTES`], the
//! segments by [`MAX_SEGMENTS`], and the bytes of strings the parser makes
//! (URI resolution, variable expansion, init sections copied per segment) by
//! [`MAX_EXPANDED_BYTES`]; work is linear in the input plus that output.

use std::collections::HashMap;
use std::fmt;

use crate::url::resolve;

/// Largest playlist text accepted (bytes).
pub const MAX_PLAYLIST_BYTES: usize = 16 * 1024 * 1024;
/// Most segments one media playlist may hold.
pub const MAX_SEGMENTS: usize = 200_000;
/// Most bytes of strings one parse may produce (after variable substitution
/// and URI resolution); beyond it the parse fails with [`HlsError::TooLarge`].
pub const MAX_EXPANDED_BYTES: usize = 256 * 1024 * 1024;

#[derive(Clone, Debug, PartialEq)]
pub enum HlsError {
    /// The text (or the strings expanded from it) exceeds the limit: the size.
    TooLarge(usize),
    /// The first line is not `#EXTM3U`.
    NotAPlaylist,
    /// `line` is 1-based (the `#EXTM3U` line is 1).
    Malformed { line: usize, message: String },
    TooManySegments,
}

impl fmt::Display for HlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HlsError::TooLarge(n) => write!(f, "playlist too large ({n} bytes)"),
            HlsError::NotAPlaylist => write!(f, "not an HLS playlist (no #EXTM3U header)"),
            HlsError::Malformed { line, message } => write!(f, "playlist line {line}: {message}"),
            HlsError::TooManySegments => write!(f, "more than {MAX_SEGMENTS} segments"),
        }
    }
}

impl std::error::Error for HlsError {}

#[derive(Clone, Debug, PartialEq)]
pub enum Playlist {
    Master(MasterPlaylist),
    Media(MediaPlaylist),
}

#[derive(Clone, Debug, PartialEq)]
pub struct MasterPlaylist {
    pub variants: Vec<Variant>,
    pub renditions: Vec<Rendition>,
    pub independent_segments: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Variant {
    /// Absolute (resolved against the playlist URL).
    pub uri: String,
    pub bandwidth: u64,
    pub average_bandwidth: Option<u64>,
    pub codecs: Option<String>,
    pub resolution: Option<(u32, u32)>,
    pub frame_rate: Option<f64>,
    /// GROUP-ID of the audio renditions.
    pub audio: Option<String>,
    pub subtitles: Option<String>,
    pub video_range: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RenditionKind {
    Audio,
    Video,
    Subtitles,
    ClosedCaptions,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Rendition {
    pub kind: RenditionKind,
    pub group_id: String,
    pub name: String,
    pub language: Option<String>,
    pub default: bool,
    pub autoselect: bool,
    pub channels: Option<String>,
    /// Absolute; `None` = muxed into the variant (always `None` for closed captions).
    pub uri: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlaylistType {
    Vod,
    Event,
}

#[derive(Clone, Debug, PartialEq)]
pub struct MediaPlaylist {
    pub target_duration: f64,
    pub media_sequence: u64,
    pub discontinuity_sequence: u64,
    pub endlist: bool,
    pub playlist_type: Option<PlaylistType>,
    pub segments: Vec<MediaSegment>,
    pub independent_segments: bool,
    pub server_control_can_block_reload: bool,
    pub part_target: Option<f64>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct MediaSegment {
    /// Absolute.
    pub uri: String,
    pub duration: f64,
    /// Sum of the durations of the previous segments of this playlist.
    pub start: f64,
    pub sequence: u64,
    pub byte_range: Option<ByteRange>,
    pub map: Option<InitSection>,
    pub discontinuity: bool,
    /// An `EXT-X-KEY` with a METHOD other than NONE applies.
    pub encrypted: bool,
    /// The `EXT-X-PROGRAM-DATE-TIME` just before this segment, verbatim.
    pub program_date_time: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ByteRange {
    pub offset: u64,
    pub length: u64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct InitSection {
    /// Absolute.
    pub uri: String,
    pub byte_range: Option<ByteRange>,
}

impl MediaPlaylist {
    /// More segments may come: no `EXT-X-ENDLIST` and not a VOD playlist.
    pub fn is_live(&self) -> bool {
        !self.endlist && self.playlist_type != Some(PlaylistType::Vod)
    }

    /// Sum of the segment durations (seconds).
    pub fn duration(&self) -> f64 {
        self.segments.last().map_or(0.0, |s| s.start + s.duration)
    }

    /// Fragmented MP4: some segment has an init section or a `.m4s`/`.mp4` path.
    pub fn is_fmp4(&self) -> bool {
        self.segments.iter().any(|s| {
            let path = s.uri.split(['?', '#']).next().unwrap_or("").as_bytes();
            let ext = &path[path.len().saturating_sub(4)..];
            s.map.is_some() || ext.eq_ignore_ascii_case(b".m4s") || ext.eq_ignore_ascii_case(b".mp4")
        })
    }

    /// Index of the segment covering `t` seconds (playlist time, `[0, duration)`).
    pub fn segment_at(&self, t: f64) -> Option<usize> {
        if t.is_nan() || t < 0.0 {
            return None;
        }
        let i = self.segments.partition_point(|s| s.start <= t).checked_sub(1)?;
        let s = self.segments.get(i)?;
        (t < s.start + s.duration).then_some(i)
    }
}

/// Parse a master or media playlist fetched from `url` (the base of relative URIs).
pub fn parse_playlist(text: &str, url: &str) -> Result<Playlist, HlsError> {
    if text.len() > MAX_PLAYLIST_BYTES {
        return Err(HlsError::TooLarge(text.len()));
    }
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text.split('\n');
    if lines.next().map(|l| l.trim_end()) != Some("#EXTM3U") {
        return Err(HlsError::NotAPlaylist);
    }
    let mut p = Parser::new(url);
    for (i, line) in lines.enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        p.line = i + 2;
        if line.starts_with("#EXT") {
            let (name, value) = line.split_once(':').unwrap_or((line, ""));
            p.tag(name, value)?;
        } else if !line.starts_with('#') {
            p.uri_line(line)?;
        }
    }
    p.finish()
}

/// An attribute list (RFC 8216 §4.2): (name, value without quotes, quoted).
struct Attrs<'a>(Vec<(&'a str, &'a str, bool)>);

impl<'a> Attrs<'a> {
    fn parse(mut rest: &'a str) -> Result<Self, &'static str> {
        let mut list = Vec::new();
        loop {
            rest = rest.trim_start();
            if rest.is_empty() {
                return Ok(Attrs(list));
            }
            if let Some(r) = rest.strip_prefix(',') {
                rest = r;
                continue;
            }
            let (name, r) = rest.split_once('=').ok_or("attribute without '='")?;
            let name = name.trim();
            if name.is_empty() || name.contains(',') {
                return Err("bad attribute name");
            }
            let r = r.trim_start();
            if let Some(q) = r.strip_prefix('"') {
                let (value, r) = q.split_once('"').ok_or("unterminated quoted string")?;
                list.push((name, value, true));
                rest = r.trim_start();
                if !rest.is_empty() && !rest.starts_with(',') {
                    return Err("expected ',' after a quoted string");
                }
            } else {
                let end = r.find(',').unwrap_or(r.len());
                list.push((name, r[..end].trim(), false));
                rest = &r[end..];
            }
        }
    }

    fn raw(&self, name: &str) -> Option<&'a str> {
        self.0.iter().find(|a| a.0 == name).map(|a| a.1)
    }

    fn yes(&self, name: &str) -> bool {
        self.raw(name) == Some("YES")
    }
}

fn dec_u64(s: &str) -> Option<u64> {
    let s = s.trim();
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// decimal-floating-point: digits with at most one '.', finite.
fn dec_f64(s: &str) -> Option<f64> {
    let s = s.trim();
    let ok = s.bytes().any(|b| b.is_ascii_digit())
        && s.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && s.bytes().filter(|&b| b == b'.').count() <= 1;
    s.parse::<f64>().ok().filter(|v| ok && v.is_finite())
}

/// `n[@o]`.
fn byte_range(s: &str) -> Option<(u64, Option<u64>)> {
    match s.split_once('@') {
        Some((n, o)) => Some((dec_u64(n)?, Some(dec_u64(o)?))),
        None => Some((dec_u64(s)?, None)),
    }
}

fn resolution(s: &str) -> Option<(u32, u32)> {
    let (w, h) = s.split_once(['x', 'X'])?;
    let num = |v: &str| dec_u64(v).and_then(|v| u32::try_from(v).ok());
    Some((num(w)?, num(h)?))
}

fn is_var_name(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

fn spend(budget: &mut usize, n: usize) -> Result<(), HlsError> {
    if n > *budget {
        return Err(HlsError::TooLarge((MAX_EXPANDED_BYTES - *budget).saturating_add(n)));
    }
    *budget -= n;
    Ok(())
}

struct Parser<'u> {
    base: &'u str,
    line: usize,
    budget: usize,
    vars: HashMap<String, String>,
    independent: bool,
    // Master.
    master_line: Option<usize>,
    variants: Vec<Variant>,
    renditions: Vec<Rendition>,
    pending_variant: Option<(Variant, usize)>,
    // Media.
    media_line: Option<usize>,
    target_duration: Option<f64>,
    media_sequence: u64,
    discontinuity_sequence: u64,
    skipped: u64,
    endlist: bool,
    playlist_type: Option<PlaylistType>,
    can_block_reload: bool,
    part_target: Option<f64>,
    segments: Vec<MediaSegment>,
    next_start: f64,
    // State for the next segment.
    extinf: Option<(f64, usize)>,
    range: Option<(u64, Option<u64>, usize)>,
    discontinuity: bool,
    program_date_time: Option<String>,
    map: Option<InitSection>,
    encrypted: bool,
}

impl<'u> Parser<'u> {
    fn new(base: &'u str) -> Self {
        Parser {
            base,
            line: 1,
            budget: MAX_EXPANDED_BYTES,
            vars: HashMap::new(),
            independent: false,
            master_line: None,
            variants: Vec::new(),
            renditions: Vec::new(),
            pending_variant: None,
            media_line: None,
            target_duration: None,
            media_sequence: 0,
            discontinuity_sequence: 0,
            skipped: 0,
            endlist: false,
            playlist_type: None,
            can_block_reload: false,
            part_target: None,
            segments: Vec::new(),
            next_start: 0.0,
            extinf: None,
            range: None,
            discontinuity: false,
            program_date_time: None,
            map: None,
            encrypted: false,
        }
    }

    fn err(&self, message: impl Into<String>) -> HlsError {
        HlsError::Malformed { line: self.line, message: message.into() }
    }

    fn attrs<'a>(&self, value: &'a str) -> Result<Attrs<'a>, HlsError> {
        Attrs::parse(value).map_err(|m| self.err(m))
    }

    /// Substitute `{$name}` references (and count the bytes made).
    fn subst(&mut self, s: &str) -> Result<String, HlsError> {
        let mut out = String::new();
        let mut rest = s;
        while let Some(i) = rest.find("{$") {
            let after = &rest[i + 2..];
            let len = after.find(|c| !is_var_name(c)).unwrap_or(after.len());
            if len > 0 && after[len..].starts_with('}') {
                let name = &after[..len];
                let Some(value) = self.vars.get(name) else {
                    return Err(self.err(format!("undefined variable {name:?}")));
                };
                spend(&mut self.budget, i + value.len())?;
                out.push_str(&rest[..i]);
                out.push_str(value);
                rest = &after[len + 1..];
            } else {
                spend(&mut self.budget, i + 2)?;
                out.push_str(&rest[..i + 2]);
                rest = after;
            }
        }
        spend(&mut self.budget, rest.len())?;
        out.push_str(rest);
        Ok(out)
    }

    /// An absolute URI from a (substituted) reference.
    fn uri(&mut self, reference: &str) -> Result<String, HlsError> {
        let reference = self.subst(reference)?;
        spend(&mut self.budget, self.base.len().saturating_add(reference.len()))?;
        Ok(resolve(self.base, &reference))
    }

    /// A string attribute: substituted if quoted, verbatim otherwise.
    fn text(&mut self, a: &Attrs, name: &str) -> Result<Option<String>, HlsError> {
        match a.0.iter().find(|x| x.0 == name) {
            Some(&(_, v, true)) => self.subst(v).map(Some),
            Some(&(_, v, false)) => Ok(Some(v.to_string())),
            None => Ok(None),
        }
    }

    fn required(&mut self, a: &Attrs, name: &str) -> Result<String, HlsError> {
        self.text(a, name)?.ok_or_else(|| self.err(format!("missing {name}")))
    }

    /// An optional attribute that must parse when present.
    fn num<T>(&self, a: &Attrs, name: &str, f: impl Fn(&str) -> Option<T>) -> Result<Option<T>, HlsError> {
        a.raw(name).map(|v| f(v).ok_or_else(|| self.err(format!("bad {name}")))).transpose()
    }

    fn value<T>(&self, v: &str, name: &str, f: impl Fn(&str) -> Option<T>) -> Result<T, HlsError> {
        f(v).ok_or_else(|| self.err(format!("bad {} value {:?}", name.trim_start_matches('#'), v.trim())))
    }

    fn kind(&mut self, master: bool) -> Result<(), HlsError> {
        let (line, other) = (self.line, if master { self.media_line } else { self.master_line });
        if let Some(l) = other {
            return Err(self.err(format!("master and media tags mixed (see line {l})")));
        }
        if master { &mut self.master_line } else { &mut self.media_line }.get_or_insert(line);
        Ok(())
    }

    fn tag(&mut self, name: &str, value: &str) -> Result<(), HlsError> {
        match name {
            "#EXT-X-DEFINE" => self.define(value)?,
            "#EXT-X-INDEPENDENT-SEGMENTS" => self.independent = true,
            "#EXT-X-STREAM-INF" => {
                self.kind(true)?;
                if self.pending_variant.is_some() {
                    return Err(self.err("EXT-X-STREAM-INF before the previous one's URI"));
                }
                let v = self.variant(value)?;
                self.pending_variant = Some((v, self.line));
            }
            "#EXT-X-MEDIA" => {
                self.kind(true)?;
                let r = self.rendition(value)?;
                self.renditions.push(r);
            }
            "#EXT-X-I-FRAME-STREAM-INF" => self.kind(true)?,
            "#EXTINF" => {
                self.kind(false)?;
                if self.extinf.is_some() {
                    return Err(self.err("EXTINF before the previous one's URI"));
                }
                let d = value.split_once(',').map_or(value, |(d, _)| d);
                self.extinf = Some((self.value(d, "EXTINF", dec_f64)?, self.line));
            }
            "#EXT-X-TARGETDURATION" => self.target_duration = Some(self.value(value, name, dec_f64)?),
            "#EXT-X-MEDIA-SEQUENCE" => self.media_sequence = self.value(value, name, dec_u64)?,
            "#EXT-X-DISCONTINUITY-SEQUENCE" => self.discontinuity_sequence = self.value(value, name, dec_u64)?,
            "#EXT-X-ENDLIST" => self.endlist = true,
            "#EXT-X-PLAYLIST-TYPE" => {
                self.playlist_type = Some(match value.trim() {
                    "VOD" => PlaylistType::Vod,
                    "EVENT" => PlaylistType::Event,
                    v => return Err(self.err(format!("bad EXT-X-PLAYLIST-TYPE {v:?}"))),
                })
            }
            "#EXT-X-BYTERANGE" => {
                let (length, offset) = self.value(value, name, byte_range)?;
                self.range = Some((length, offset, self.line));
            }
            "#EXT-X-DISCONTINUITY" => self.discontinuity = true,
            "#EXT-X-PROGRAM-DATE-TIME" => self.program_date_time = Some(value.trim().to_string()),
            "#EXT-X-KEY" => {
                let a = self.attrs(value)?;
                let method = a.raw("METHOD").ok_or_else(|| self.err("EXT-X-KEY without METHOD"))?;
                self.encrypted = method != "NONE";
            }
            "#EXT-X-MAP" => {
                let a = self.attrs(value)?;
                let uri = self.required(&a, "URI")?;
                let uri = self.uri(&uri)?;
                let byte_range = match self.text(&a, "BYTERANGE")? {
                    Some(r) => {
                        let (length, offset) = self.value(&r, "BYTERANGE", byte_range)?;
                        Some(ByteRange { offset: offset.unwrap_or(0), length })
                    }
                    None => None,
                };
                self.map = Some(InitSection { uri, byte_range });
            }
            "#EXT-X-SERVER-CONTROL" => self.can_block_reload = self.attrs(value)?.yes("CAN-BLOCK-RELOAD"),
            "#EXT-X-PART-INF" => {
                let a = self.attrs(value)?;
                let t = self.num(&a, "PART-TARGET", dec_f64)?;
                self.part_target = Some(t.ok_or_else(|| self.err("missing PART-TARGET"))?);
            }
            "#EXT-X-SKIP" => {
                let a = self.attrs(value)?;
                let n = self.num(&a, "SKIPPED-SEGMENTS", dec_u64)?.ok_or_else(|| self.err("missing SKIPPED-SEGMENTS"))?;
                self.skipped = self.skipped.checked_add(n).ok_or_else(|| self.err("SKIPPED-SEGMENTS overflow"))?;
            }
            _ => {}
        }
        Ok(())
    }

    fn define(&mut self, value: &str) -> Result<(), HlsError> {
        let a = self.attrs(value)?;
        let (name, value) = if let Some(name) = a.raw("NAME") {
            let v = a.raw("VALUE").ok_or_else(|| self.err("EXT-X-DEFINE without VALUE"))?;
            (name, Some(v))
        } else if let Some(name) = a.raw("QUERYPARAM") {
            let query = self.base.split('#').next().unwrap_or("").split_once('?').map_or("", |q| q.1);
            (name, query.split('&').find_map(|kv| kv.split_once('=').filter(|kv| kv.0 == name).map(|kv| kv.1)))
        } else if let Some(name) = a.raw("IMPORT") {
            (name, None)
        } else {
            return Err(self.err("EXT-X-DEFINE without NAME, QUERYPARAM or IMPORT"));
        };
        if name.is_empty() || !name.chars().all(is_var_name) {
            return Err(self.err(format!("bad variable name {name:?}")));
        }
        if let Some(v) = value {
            self.vars.insert(name.to_string(), v.to_string());
        }
        Ok(())
    }

    fn variant(&mut self, value: &str) -> Result<Variant, HlsError> {
        let a = self.attrs(value)?;
        let bandwidth = self.num(&a, "BANDWIDTH", dec_u64)?.ok_or_else(|| self.err("missing BANDWIDTH"))?;
        Ok(Variant {
            uri: String::new(),
            bandwidth,
            average_bandwidth: self.num(&a, "AVERAGE-BANDWIDTH", dec_u64)?,
            codecs: self.text(&a, "CODECS")?,
            resolution: self.num(&a, "RESOLUTION", resolution)?,
            frame_rate: self.num(&a, "FRAME-RATE", dec_f64)?,
            audio: self.text(&a, "AUDIO")?,
            subtitles: self.text(&a, "SUBTITLES")?,
            video_range: self.text(&a, "VIDEO-RANGE")?,
        })
    }

    fn rendition(&mut self, value: &str) -> Result<Rendition, HlsError> {
        let a = self.attrs(value)?;
        let kind = match a.raw("TYPE") {
            Some("AUDIO") => RenditionKind::Audio,
            Some("VIDEO") => RenditionKind::Video,
            Some("SUBTITLES") => RenditionKind::Subtitles,
            Some("CLOSED-CAPTIONS") => RenditionKind::ClosedCaptions,
            t => return Err(self.err(format!("bad EXT-X-MEDIA TYPE {t:?}"))),
        };
        let uri = match self.text(&a, "URI")? {
            Some(u) if kind != RenditionKind::ClosedCaptions => Some(self.uri(&u)?),
            _ => None,
        };
        Ok(Rendition {
            kind,
            group_id: self.required(&a, "GROUP-ID")?,
            name: self.required(&a, "NAME")?,
            language: self.text(&a, "LANGUAGE")?,
            default: a.yes("DEFAULT"),
            autoselect: a.yes("AUTOSELECT"),
            channels: self.text(&a, "CHANNELS")?,
            uri,
        })
    }

    fn uri_line(&mut self, line: &str) -> Result<(), HlsError> {
        if let Some((mut v, _)) = self.pending_variant.take() {
            v.uri = self.uri(line)?;
            self.variants.push(v);
            return Ok(());
        }
        let Some((duration, _)) = self.extinf.take() else {
            return Err(self.err("URI line without EXTINF or EXT-X-STREAM-INF"));
        };
        if self.segments.len() >= MAX_SEGMENTS {
            return Err(HlsError::TooManySegments);
        }
        let uri = self.uri(line)?;
        let byte_range = match self.range.take() {
            None => None,
            Some((length, offset, line)) => {
                let offset = match offset {
                    Some(o) => o,
                    None => match self.segments.last() {
                        Some(MediaSegment { uri: u, byte_range: Some(r), .. }) if *u == uri => r.offset + r.length,
                        _ => {
                            let message = "EXT-X-BYTERANGE without offset after no sub-range of the same resource";
                            return Err(HlsError::Malformed { line, message: message.into() });
                        }
                    },
                };
                if offset.checked_add(length).is_none() {
                    return Err(HlsError::Malformed { line, message: "EXT-X-BYTERANGE overflows".into() });
                }
                Some(ByteRange { offset, length })
            }
        };
        let start = self.next_start;
        self.next_start += duration;
        if !self.next_start.is_finite() {
            return Err(self.err("total duration overflows"));
        }
        spend(&mut self.budget, self.map.as_ref().map_or(0, |m| m.uri.len()))?;
        self.segments.push(MediaSegment {
            uri,
            duration,
            start,
            sequence: 0, // set in finish, once EXT-X-MEDIA-SEQUENCE is known
            byte_range,
            map: self.map.clone(),
            discontinuity: std::mem::take(&mut self.discontinuity),
            encrypted: self.encrypted,
            program_date_time: self.program_date_time.take(),
        });
        Ok(())
    }

    fn finish(mut self) -> Result<Playlist, HlsError> {
        let dangling = self.pending_variant.as_ref().map(|v| (v.1, "EXT-X-STREAM-INF"));
        if let Some((line, tag)) = dangling.or(self.extinf.map(|e| (e.1, "EXTINF"))) {
            return Err(HlsError::Malformed { line, message: format!("{tag} without a URI line") });
        }
        if let Some(line) = self.master_line {
            if self.variants.is_empty() {
                return Err(HlsError::Malformed { line, message: "master playlist without EXT-X-STREAM-INF".into() });
            }
            return Ok(Playlist::Master(MasterPlaylist {
                variants: self.variants,
                renditions: self.renditions,
                independent_segments: self.independent,
            }));
        }
        let target_duration = self.target_duration.ok_or_else(|| self.err("missing EXT-X-TARGETDURATION"))?;
        let first = self.media_sequence.checked_add(self.skipped);
        let last = first.and_then(|f| f.checked_add(self.segments.len() as u64));
        let Some(first) = first.filter(|_| last.is_some()) else {
            return Err(self.err("media sequence overflows"));
        };
        for (s, seq) in self.segments.iter_mut().zip(first..) {
            s.sequence = seq;
        }
        Ok(Playlist::Media(MediaPlaylist {
            target_duration,
            media_sequence: self.media_sequence,
            discontinuity_sequence: self.discontinuity_sequence,
            endlist: self.endlist,
            playlist_type: self.playlist_type,
            segments: self.segments,
            independent_segments: self.independent,
            server_control_can_block_reload: self.can_block_reload,
            part_target: self.part_target,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn media(text: &str, url: &str) -> MediaPlaylist {
        match parse_playlist(text, url) {
            Ok(Playlist::Media(m)) => m,
            other => panic!("expected a media playlist, got {other:?}"),
        }
    }

    fn master(text: &str, url: &str) -> MasterPlaylist {
        match parse_playlist(text, url) {
            Ok(Playlist::Master(m)) => m,
            other => panic!("expected a master playlist, got {other:?}"),
        }
    }

    fn malformed(text: &str) -> (usize, String) {
        match parse_playlist(text, "https://example.com/p.m3u8") {
            Err(HlsError::Malformed { line, message }) => (line, message),
            other => panic!("expected Malformed, got {other:?}"),
        }
    }

    const MASTER: &str = "#EXTM3U
#EXT-X-VERSION:6
#EXT-X-INDEPENDENT-SEGMENTS
# a comment
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aud\",NAME=\"English\",LANGUAGE=\"en\",DEFAULT=YES,AUTOSELECT=YES,CHANNELS=\"2\",URI=\"audio/en.m3u8\"
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aud\",NAME=\"Deutsch, Stereo\",LANGUAGE=\"de\",DEFAULT=NO,AUTOSELECT=YES,CHANNELS=\"2\",URI=\"audio/de.m3u8\"
#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID=\"subs\",NAME=\"English\",LANGUAGE=\"en\",URI=\"/subs/en.m3u8\"
#EXT-X-MEDIA:TYPE=CLOSED-CAPTIONS,GROUP-ID=\"cc\",NAME=\"CC1\",INSTREAM-ID=\"CC1\"
#EXT-X-STREAM-INF:BANDWIDTH=1280000,AVERAGE-BANDWIDTH=1000000,CODECS=\"avc1.4d401f,mp4a.40.2\",RESOLUTION=640x360,FRAME-RATE=25.000,AUDIO=\"aud\",SUBTITLES=\"subs\",VIDEO-RANGE=SDR
video/360.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=2560000,CODECS=\"avc1.4d401f,mp4a.40.2\",RESOLUTION=1280x720,AUDIO=\"aud\"
#X-UNKNOWN-COMMENT
../other/720.m3u8?x=1
#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=86000,URI=\"iframes.m3u8\"
#EXT-X-STREAM-INF:BANDWIDTH=7680000
https://cdn2.example.net/1080.m3u8
";

    const VOD: &str = "#EXTM3U
#EXT-X-VERSION:7
#EXT-X-TARGETDURATION:4
#EXT-X-PLAYLIST-TYPE:VOD
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-MAP:URI=\"init.mp4\",BYTERANGE=\"720@0\"
#EXTINF:4.000,
#EXT-X-BYTERANGE:1000@720
main.mp4
#EXTINF:4.0,
#EXT-X-BYTERANGE:2000
main.mp4
#EXT-X-KEY:METHOD=AES-128,URI=\"key.bin\",IV=0x000102030405060708090A0B0C0D0E0F
#EXTINF:3.5,title, with a comma
#EXT-X-BYTERANGE:1500
main.mp4
#EXT-X-DISCONTINUITY
#EXT-X-MAP:URI=\"ad/init.mp4\"
#EXT-X-KEY:METHOD=NONE
#EXT-X-PROGRAM-DATE-TIME:2024-05-01T12:00:00.000Z
#EXTINF:2.5,
ad/seg1.m4s
#EXT-X-ENDLIST
";

    #[test]
    fn master_with_variants_audio_group_and_subtitles() {
        let m = master(MASTER, "https://cdn.example.com/show/master.m3u8?token=abc");
        assert!(m.independent_segments);
        let uris: Vec<&str> = m.variants.iter().map(|v| v.uri.as_str()).collect();
        assert_eq!(
            uris,
            [
                "https://cdn.example.com/show/video/360.m3u8",
                "https://cdn.example.com/other/720.m3u8?x=1",
                "https://cdn2.example.net/1080.m3u8",
            ]
        );
        assert_eq!(
            m.variants[0],
            Variant {
                uri: uris[0].into(),
                bandwidth: 1_280_000,
                average_bandwidth: Some(1_000_000),
                codecs: Some("avc1.4d401f,mp4a.40.2".into()),
                resolution: Some((640, 360)),
                frame_rate: Some(25.0),
                audio: Some("aud".into()),
                subtitles: Some("subs".into()),
                video_range: Some("SDR".into()),
            }
        );
        assert_eq!(m.variants[1].resolution, Some((1280, 720)));
        assert_eq!((m.variants[1].average_bandwidth, m.variants[1].frame_rate, m.variants[1].subtitles.as_deref()), (None, None, None));
        assert_eq!((m.variants[2].bandwidth, m.variants[2].codecs.as_deref(), m.variants[2].audio.as_deref()), (7_680_000, None, None));

        assert_eq!(m.renditions.len(), 4);
        assert_eq!(
            m.renditions[0],
            Rendition {
                kind: RenditionKind::Audio,
                group_id: "aud".into(),
                name: "English".into(),
                language: Some("en".into()),
                default: true,
                autoselect: true,
                channels: Some("2".into()),
                uri: Some("https://cdn.example.com/show/audio/en.m3u8".into()),
            }
        );
        let de = &m.renditions[1];
        assert_eq!((de.name.as_str(), de.default, de.autoselect), ("Deutsch, Stereo", false, true));
        let subs = &m.renditions[2];
        assert_eq!(subs.kind, RenditionKind::Subtitles);
        assert_eq!(subs.uri.as_deref(), Some("https://cdn.example.com/subs/en.m3u8"));
        assert_eq!((subs.default, subs.autoselect, subs.channels.as_deref()), (false, false, None));
        assert_eq!((m.renditions[3].kind, m.renditions[3].uri.as_deref()), (RenditionKind::ClosedCaptions, None));
    }

    #[test]
    fn vod_fmp4_with_byte_ranges_discontinuity_and_keys() {
        let m = media(VOD, "https://example.com/vod/index.m3u8");
        assert_eq!((m.target_duration, m.media_sequence, m.discontinuity_sequence), (4.0, 0, 0));
        assert_eq!(m.playlist_type, Some(PlaylistType::Vod));
        assert!(m.endlist && m.independent_segments && !m.is_live() && m.is_fmp4());
        assert_eq!((m.server_control_can_block_reload, m.part_target), (false, None));
        assert_eq!(m.duration(), 14.0);

        let init = InitSection {
            uri: "https://example.com/vod/init.mp4".into(),
            byte_range: Some(ByteRange { offset: 0, length: 720 }),
        };
        let seg = |i: u64, duration: f64, start: f64, offset: u64, length: u64, encrypted: bool| MediaSegment {
            uri: "https://example.com/vod/main.mp4".into(),
            duration,
            start,
            sequence: i,
            byte_range: Some(ByteRange { offset, length }),
            map: Some(init.clone()),
            discontinuity: false,
            encrypted,
            program_date_time: None,
        };
        assert_eq!(m.segments[0], seg(0, 4.0, 0.0, 720, 1000, false));
        assert_eq!(m.segments[1], seg(1, 4.0, 4.0, 1720, 2000, false)); // implicit offset
        assert_eq!(m.segments[2], seg(2, 3.5, 8.0, 3720, 1500, true)); // key applies
        assert_eq!(
            m.segments[3],
            MediaSegment {
                uri: "https://example.com/vod/ad/seg1.m4s".into(),
                duration: 2.5,
                start: 11.5,
                sequence: 3,
                byte_range: None,
                map: Some(InitSection { uri: "https://example.com/vod/ad/init.mp4".into(), byte_range: None }),
                discontinuity: true,
                encrypted: false, // METHOD=NONE
                program_date_time: Some("2024-05-01T12:00:00.000Z".into()),
            }
        );
        assert_eq!(m.segments.len(), 4);
    }

    #[test]
    fn segment_at_maps_times_to_segments() {
        let m = media(VOD, "https://example.com/vod/index.m3u8");
        let at = |t: f64| m.segment_at(t);
        assert_eq!([at(0.0), at(3.999), at(4.0), at(9.0), at(11.5), at(13.9)], [Some(0), Some(0), Some(1), Some(2), Some(3), Some(3)]);
        assert_eq!([at(14.0), at(1e300), at(-0.1), at(f64::NAN), at(f64::INFINITY)], [None; 5]);
        let empty = media("#EXTM3U\n#EXT-X-TARGETDURATION:2\n", "https://a/b.m3u8");
        assert_eq!((empty.segment_at(0.0), empty.duration(), empty.is_fmp4()), (None, 0.0, false));
    }

    #[test]
    fn live_playlist_with_media_sequence() {
        let text = "#EXTM3U
#EXT-X-VERSION:6
#EXT-X-TARGETDURATION:6
#EXT-X-MEDIA-SEQUENCE:1000
#EXT-X-DISCONTINUITY-SEQUENCE:7
#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=3.0
#EXT-X-PART-INF:PART-TARGET=1.002
#EXTINF:6.006,
seg1000.ts?sig=1
#EXTINF:5.994,
seg1001.ts?sig=2
#EXT-X-PART:DURATION=1.0,URI=\"part1002.0.ts\"
#EXTINF:6,
seg1002.ts?sig=3
#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"part1003.0.ts\"
";
        let m = media(text, "http://live.example.com/ch1/index.m3u8");
        assert!(m.is_live() && !m.endlist && !m.is_fmp4());
        assert_eq!((m.media_sequence, m.discontinuity_sequence, m.playlist_type), (1000, 7, None));
        assert_eq!((m.server_control_can_block_reload, m.part_target), (true, Some(1.002)));
        let seqs: Vec<u64> = m.segments.iter().map(|s| s.sequence).collect();
        assert_eq!(seqs, [1000, 1001, 1002]);
        assert_eq!(m.segments[1].start, 6.006);
        assert_eq!(m.segments[2].uri, "http://live.example.com/ch1/seg1002.ts?sig=3");
        assert!((m.duration() - 18.0).abs() < 1e-9);

        // An EVENT playlist is live until ENDLIST; a VOD one never is.
        let event = text.replace("#EXT-X-VERSION:6", "#EXT-X-PLAYLIST-TYPE:EVENT");
        assert!(media(&event, "http://a/b").is_live());
        assert!(!media(&format!("{event}#EXT-X-ENDLIST\n"), "http://a/b").is_live());
        let vod = text.replace("#EXT-X-VERSION:6", "#EXT-X-PLAYLIST-TYPE:VOD");
        assert!(!media(&vod, "http://a/b").is_live());
    }

    #[test]
    fn skip_shifts_sequence_numbers() {
        let text = "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-MEDIA-SEQUENCE:264\n#EXT-X-SKIP:SKIPPED-SEGMENTS=3\n#EXTINF:4,\na.mp4\n";
        assert_eq!(media(text, "https://a/b").segments[0].sequence, 267);
    }

    #[test]
    fn crlf_and_bom_parse_like_lf() {
        let url = "https://example.com/vod/index.m3u8";
        let crlf = VOD.replace('\n', "\r\n");
        assert_eq!(media(&crlf, url), media(VOD, url));
        assert_eq!(media(&format!("\u{feff}{crlf}"), url), media(VOD, url));
        let master_crlf = format!("\u{feff}{}", MASTER.replace('\n', "\r\n"));
        assert_eq!(master(&master_crlf, url), master(MASTER, url));
        // No final newline.
        assert_eq!(media(VOD.trim_end(), url), media(VOD, url));
    }

    #[test]
    fn variables_are_substituted() {
        let text = "#EXTM3U
#EXT-X-DEFINE:NAME=\"host\",VALUE=\"https://cdn.example.com\"
#EXT-X-DEFINE:NAME=\"tok\",VALUE=\"t=42\"
#EXT-X-DEFINE:QUERYPARAM=\"session\"
#EXT-X-DEFINE:QUERYPARAM=\"absent\"
#EXT-X-DEFINE:IMPORT=\"imported\"
#EXT-X-TARGETDURATION:2
#EXT-X-MAP:URI=\"{$host}/init.mp4?{$tok}\"
#EXTINF:2,
{$host}/seg1.m4s?{$tok}&s={$session}&lit={$}{$bad name}
";
        let m = media(text, "https://origin.example.com/p.m3u8?session=abc&x=1");
        let s = &m.segments[0];
        assert_eq!(s.uri, "https://cdn.example.com/seg1.m4s?t=42&s=abc&lit={$}{$bad name}");
        assert_eq!(s.map.as_ref().map(|i| i.uri.as_str()), Some("https://cdn.example.com/init.mp4?t=42"));
        for undefined in ["{$nope}", "{$absent}", "{$imported}"] {
            let bad = text.replace("{$session}", undefined);
            let (line, message) = malformed(&bad);
            assert_eq!(line, 10, "{message}");
            assert!(message.contains("undefined variable"), "{message}");
        }
        let in_attr = text.replace("{$tok}\"", "{$nope}\"");
        assert_eq!(malformed(&in_attr).0, 8);
        assert_eq!(malformed("#EXTM3U\n#EXT-X-DEFINE:NAME=\"a b\",VALUE=\"x\"\n").0, 2);
    }

    #[test]
    fn malformed_inputs_give_specific_errors() {
        let url = "https://example.com/p.m3u8";
        assert_eq!(parse_playlist("", url), Err(HlsError::NotAPlaylist));
        assert_eq!(parse_playlist("#EXTINF:1,\na.ts\n", url), Err(HlsError::NotAPlaylist));
        assert_eq!(parse_playlist("\n#EXTM3U\n", url), Err(HlsError::NotAPlaylist));
        assert_eq!(parse_playlist("<html>#EXTM3U", url), Err(HlsError::NotAPlaylist));

        let cases: &[(&str, usize, &str)] = &[
            ("#EXTM3U\n#EXT-X-TARGETDURATION:4\nseg.ts\n", 3, "without EXTINF"),
            ("#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:abc,\nseg.ts\n", 3, "bad EXTINF"),
            ("#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:-1,\nseg.ts\n", 3, "bad EXTINF"),
            ("#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:inf,\nseg.ts\n", 3, "bad EXTINF"),
            ("#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:\nseg.ts\n", 3, "bad EXTINF"),
            ("#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:1,\n#EXTINF:1,\nseg.ts\n", 4, "EXTINF before"),
            ("#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:1,\n", 3, "EXTINF without a URI"),
            ("#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:1,\n#EXT-X-BYTERANGE:12@x\nseg.ts\n", 4, "bad EXT-X-BYTERANGE"),
            ("#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:1,\n#EXT-X-BYTERANGE:\nseg.ts\n", 4, "bad EXT-X-BYTERANGE"),
            ("#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:1,\n#EXT-X-BYTERANGE:100\nseg.ts\n", 4, "without offset"),
            ("#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:1,\n#EXT-X-BYTERANGE:10@0\na.ts\n#EXTINF:1,\n#EXT-X-BYTERANGE:10\nb.ts\n", 7, "without offset"),
            ("#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:1,\n#EXT-X-BYTERANGE:1@18446744073709551615\na.ts\n", 4, "overflows"),
            ("#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-MAP:URI=\"i.mp4\",BYTERANGE=\"x@0\"\n", 3, "bad BYTERANGE"),
            ("#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-MAP:BYTERANGE=\"1@0\"\n", 3, "missing URI"),
            ("#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-KEY:URI=\"k\"\n", 3, "without METHOD"),
            ("#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-KEY:METHOD=AES-128,URI=\"k\n", 3, "unterminated"),
            ("#EXTM3U\n#EXT-X-TARGETDURATION:x\n", 2, "bad EXT-X-TARGETDURATION"),
            ("#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-MEDIA-SEQUENCE:-3\n", 3, "bad EXT-X-MEDIA-SEQUENCE"),
            ("#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-PLAYLIST-TYPE:LIVE\n", 3, "PLAYLIST-TYPE"),
            ("#EXTM3U\n#EXTINF:1,\na.ts\n", 3, "missing EXT-X-TARGETDURATION"),
            ("#EXTM3U\n#EXT-X-STREAM-INF:CODECS=\"a\"\nv.m3u8\n", 2, "missing BANDWIDTH"),
            ("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,RESOLUTION=1x\nv.m3u8\n", 2, "bad RESOLUTION"),
            ("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n#EXT-X-STREAM-INF:BANDWIDTH=2\nv.m3u8\n", 3, "before the previous"),
            ("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n", 2, "without a URI"),
            ("#EXTM3U\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",NAME=\"x\"\n", 2, "without EXT-X-STREAM-INF"),
            ("#EXTM3U\n#EXT-X-MEDIA:TYPE=DATA,GROUP-ID=\"a\",NAME=\"x\"\n", 2, "bad EXT-X-MEDIA TYPE"),
            ("#EXTM3U\n#EXT-X-MEDIA:TYPE=AUDIO,NAME=\"x\"\n", 2, "missing GROUP-ID"),
            ("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nv.m3u8\n#EXTINF:1,\na.ts\n", 4, "mixed"),
            ("#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:1,\na.ts\n#EXT-X-STREAM-INF:BANDWIDTH=1\nv.m3u8\n", 5, "mixed"),
        ];
        for &(text, line, fragment) in cases {
            let (l, message) = malformed(text);
            assert!(l == line && message.contains(fragment), "{text:?}: got line {l}: {message}");
        }
    }

    #[test]
    fn size_and_count_limits() {
        let url = "https://example.com/p.m3u8";
        let big = format!("#EXTM3U\n{}", " ".repeat(MAX_PLAYLIST_BYTES));
        assert_eq!(parse_playlist(&big, url), Err(HlsError::TooLarge(MAX_PLAYLIST_BYTES + 8)));

        let mut many = String::from("#EXTM3U\n#EXT-X-TARGETDURATION:1\n");
        for _ in 0..=MAX_SEGMENTS {
            many.push_str("#EXTINF:1,\na\n");
        }
        assert_eq!(parse_playlist(&many, url), Err(HlsError::TooManySegments));

        // A variable expansion bomb stops at MAX_EXPANDED_BYTES.
        let bomb = format!(
            "#EXTM3U\n#EXT-X-DEFINE:NAME=\"v\",VALUE=\"{}\"\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\n{}\n",
            "x".repeat(1 << 20),
            "{$v}".repeat(300)
        );
        assert!(matches!(parse_playlist(&bomb, url), Err(HlsError::TooLarge(n)) if n > MAX_EXPANDED_BYTES));
    }

    #[test]
    fn every_prefix_parses_without_panic() {
        let corpus = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../shared/corpus/hls/shaka__hls-sample-aes__index.m3u8"
        ))
        .unwrap_or_default();
        let crlf = VOD.replace('\n', "\r\n");
        for text in [MASTER, VOD, crlf.as_str(), corpus.as_str()] {
            for end in (0..=text.len()).filter(|&i| text.is_char_boundary(i)) {
                let _ = parse_playlist(&text[..end], "https://example.com/a/p.m3u8");
            }
        }
    }

    #[test]
    fn real_world_corpus() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/corpus/hls");
        let Ok(entries) = std::fs::read_dir(dir) else {
            println!("hls corpus: {dir} not found, skipped");
            return;
        };
        let mut paths: Vec<_> = entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|x| x == "m3u8")).collect();
        paths.sort();
        assert!(!paths.is_empty());
        let (mut ok, mut err) = (0, 0);
        for path in &paths {
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{name}: {e}"));
            let text = String::from_utf8_lossy(&bytes);
            let url = format!("https://media.example.com/corpus/{name}");
            match parse_playlist(&text, &url) {
                Ok(Playlist::Master(m)) => {
                    ok += 1;
                    println!("{name}: master, {} variants, {} renditions", m.variants.len(), m.renditions.len());
                    for v in &m.variants {
                        assert!(v.uri.starts_with("https://") || v.uri.starts_with("http://"), "{name}: {}", v.uri);
                    }
                }
                Ok(Playlist::Media(m)) => {
                    ok += 1;
                    println!(
                        "{name}: media, {} segments, {:.3} s, seq {}, live {}, fmp4 {}, encrypted {}",
                        m.segments.len(),
                        m.duration(),
                        m.media_sequence,
                        m.is_live(),
                        m.is_fmp4(),
                        m.segments.iter().filter(|s| s.encrypted).count()
                    );
                    // Spot checks of features the corpus manifest lists.
                    let s = &m.segments;
                    match name.as_str() {
                        "shaka__hls-sample-aes__index.m3u8" => {
                            assert_eq!(s[1].byte_range, Some(ByteRange { offset: 1171 + 136_434, length: 112_920 }));
                            assert_eq!(s[9].map.as_ref().and_then(|m| m.byte_range), Some(ByteRange { offset: 0, length: 1019 }));
                        }
                        "shaka__clear-encrypted-hls__video-swapped.m3u8" => {
                            let flags: Vec<(bool, bool)> = s.iter().map(|s| (s.discontinuity, s.encrypted)).collect();
                            assert_eq!(flags, [(false, false), (false, false), (true, true), (false, true), (false, true)]);
                        }
                        "hls-m3u8__media-playlist-with-skip.m3u8" => assert_eq!(s[0].sequence, 267),
                        _ => {}
                    }
                    for w in m.segments.windows(2) {
                        assert!(w[1].start > w[0].start || w[0].duration == 0.0, "{name}: starts not increasing");
                        assert_eq!(w[1].sequence, w[0].sequence + 1);
                    }
                }
                Err(e) => {
                    err += 1;
                    println!("{name}: error: {e}");
                }
            }
        }
        println!("hls corpus: {ok} ok, {err} errors");
    }

    #[test]
    fn ffmpeg_generated_vod() {
        use std::process::Command;
        let dir = std::env::temp_dir().join(format!("media-core-hls-test-{}", std::process::id()));
        let out = dir.join("out");
        if std::fs::create_dir_all(&out).is_err() {
            println!("ffmpeg test: cannot create {}, skipped", out.display());
            return;
        }
        let args = "-hide_banner -loglevel error -y -f lavfi -i testsrc2=size=160x90:rate=24:duration=6 -f lavfi -i sine=duration=6 \
            -c:v libx264 -g 48 -c:a aac -f hls -hls_time 2 -hls_playlist_type vod -hls_segment_type fmp4 \
            -master_pl_name master.m3u8 out/media.m3u8";
        let status = Command::new("ffmpeg").args(args.split_whitespace()).current_dir(&dir).status();
        if !matches!(status, Ok(s) if s.success()) {
            println!("ffmpeg test: ffmpeg missing or failed ({status:?}), skipped");
            let _ = std::fs::remove_dir_all(&dir);
            return;
        }
        let read = |n: &str| std::fs::read_to_string(out.join(n)).unwrap_or_else(|e| panic!("{n}: {e}"));
        let (master_text, media_text) = (read("master.m3u8"), read("media.m3u8"));
        let _ = std::fs::remove_dir_all(&dir);

        let m = master(&master_text, "https://example.com/out/master.m3u8");
        assert_eq!(m.variants.len(), 1);
        let v = &m.variants[0];
        assert_eq!((v.uri.as_str(), v.resolution), ("https://example.com/out/media.m3u8", Some((160, 90))));
        assert!(v.bandwidth > 0 && v.codecs.as_deref().is_some_and(|c| c.contains("avc1") && c.contains("mp4a")));

        let p = media(&media_text, &v.uri);
        assert_eq!(p.segments.len(), 3);
        assert!((p.duration() - 6.0).abs() < 0.1, "{}", p.duration());
        assert!(p.endlist && !p.is_live() && p.is_fmp4() && p.playlist_type == Some(PlaylistType::Vod));
        for (i, s) in p.segments.iter().enumerate() {
            assert!(s.map.as_ref().is_some_and(|m| m.uri.ends_with("/init.mp4")));
            assert_eq!(s.uri, format!("https://example.com/out/media{i}.m4s"));
        }
    }
}
