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
//!   takes a variable its master playlist defines ([`parse_listed_playlist`],
//!   [`MasterPlaylist::variables`]): an IMPORT of a name the master did not
//!   define (or in a playlist without a master) is
//!   [`HlsError::UndefinedImport`]. `{$name}` is substituted in URI lines and
//!   quoted attribute values; a reference to an undefined variable is
//!   [`HlsError::Malformed`].
//! - Header: [`playlist_body`] (an optional byte order mark and blank lines
//!   may come before `#EXTM3U`; the proxy's rewriter keeps the same rule).
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

use std::fmt;

use crate::url::resolve;

/// Largest playlist text accepted (bytes).
pub const MAX_PLAYLIST_BYTES: usize = 16 * 1024 * 1024;
/// Most segments one media playlist may hold.
pub const MAX_SEGMENTS: usize = 200_000;

/// Most EXT-X-DEFINE variables a playlist may have.
pub const MAX_VARIABLES: usize = 1_000;
/// Most bytes of strings one parse may produce (after variable substitution
/// and URI resolution); beyond it the parse fails with [`HlsError::TooLarge`].
pub const MAX_EXPANDED_BYTES: usize = 256 * 1024 * 1024;

#[derive(Clone, Debug, PartialEq)]
pub enum HlsError {
    /// The text (or the strings expanded from it) exceeds the limit: the size.
    TooLarge(usize),
    /// No `#EXTM3U` line first (see [`playlist_body`]).
    NotAPlaylist,
    /// `line` is 1-based (lines of the text after a byte order mark).
    Malformed {
        line: usize,
        message: String,
    },
    TooManySegments,
    /// `EXT-X-DEFINE:IMPORT` of a variable the master playlist does not
    /// define (or in a playlist parsed without its master).
    UndefinedImport {
        line: usize,
        name: String,
    },
}

impl fmt::Display for HlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HlsError::TooLarge(n) => write!(f, "playlist too large ({n} bytes)"),
            HlsError::NotAPlaylist => write!(f, "not an HLS playlist (no #EXTM3U header)"),
            HlsError::Malformed { line, message } => write!(f, "playlist line {line}: {message}"),
            HlsError::TooManySegments => write!(f, "more than {MAX_SEGMENTS} segments"),
            HlsError::UndefinedImport { line, name } => write!(f, "playlist line {line}: IMPORT of \"{name}\", which the master playlist does not define"),
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
    /// The variables its `EXT-X-DEFINE` tags define (NAME/VALUE, and
    /// QUERYPARAM found in its URL), in order (a later one of a name wins):
    /// what the playlists it lists may IMPORT.
    pub variables: Vec<(String, String)>,
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
    /// Some segment is under an `EXT-X-KEY` (not playable here: no DRM).
    pub fn is_encrypted(&self) -> bool {
        self.segments.iter().any(|s| s.encrypted)
    }

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

/// The text of a playlist from its `#EXTM3U` line on, or `None` when `text`
/// is not a playlist. Before `#EXTM3U` may come a byte order mark and ASCII
/// whitespace (blank lines); the `#EXTM3U` line holds nothing else but
/// whitespace. The one rule of what is a playlist, for the parser
/// ([`parse_playlist`]) and the proxy's rewriter alike.
pub fn playlist_body(text: &str) -> Option<&str> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let body = text.trim_start_matches(|c: char| c.is_ascii_whitespace());
    let rest = body.strip_prefix("#EXTM3U")?;
    let first_line = rest.split(['\n', '\r']).next().unwrap_or("");
    first_line.trim().is_empty().then_some(body)
}

/// Parse a master or media playlist fetched from `url` (the base of relative
/// URIs). It has no parent, so an `EXT-X-DEFINE:IMPORT` in it is
/// [`HlsError::UndefinedImport`]; a playlist a master lists is parsed by
/// [`parse_listed_playlist`].
pub fn parse_playlist(text: &str, url: &str) -> Result<Playlist, HlsError> {
    parse_with(text, url, &[])
}

/// Parse a playlist that `master` lists (a variant's or a rendition's),
/// fetched from `url`: its `EXT-X-DEFINE:IMPORT`s take the variables the
/// master defines ([`MasterPlaylist::variables`]).
pub fn parse_listed_playlist(text: &str, url: &str, master: &MasterPlaylist) -> Result<Playlist, HlsError> {
    parse_with(text, url, &master.variables)
}

fn parse_with(text: &str, url: &str, imports: &[(String, String)]) -> Result<Playlist, HlsError> {
    if text.len() > MAX_PLAYLIST_BYTES {
        return Err(HlsError::TooLarge(text.len()));
    }
    let body = playlist_body(text).ok_or(HlsError::NotAPlaylist)?;
    // Line numbers count the blank lines before `#EXTM3U` too.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let skipped = text.get(..text.len().saturating_sub(body.len())).map_or(0, |pre| pre.matches('\n').count());
    let mut lines = body.split('\n');
    if lines.next().map(str::trim) != Some("#EXTM3U") {
        // `#EXTM3U` then a lone CR: lines end with LF or CRLF here.
        return Err(HlsError::Malformed { line: skipped + 1, message: "lines must end with LF or CRLF".into() });
    }
    let mut p = Parser::new(url, imports);
    for (i, line) in lines.enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        p.line = skipped + i + 2;
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
    decimal::parse_u64(s.trim())
}

/// decimal-floating-point: digits with at most one '.', finite.
fn dec_f64(s: &str) -> Option<f64> {
    let s = s.trim();
    let ok = s.bytes().any(|b| b.is_ascii_digit()) && s.bytes().all(|b| b.is_ascii_digit() || b == b'.') && s.bytes().filter(|&b| b == b'.').count() <= 1;
    decimal::parse_f64(s).filter(|_| ok)
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
    /// EXT-X-DEFINE variables (at most [`MAX_VARIABLES`]; a later define wins).
    vars: Vec<(String, String)>,
    /// What IMPORT may take: the master playlist's variables.
    imports: &'u [(String, String)],
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
    fn new(base: &'u str, imports: &'u [(String, String)]) -> Self {
        Parser {
            base,
            line: 1,
            budget: MAX_EXPANDED_BYTES,
            vars: Vec::new(),
            imports,
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
                let Some(value) = self.vars.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v) else {
                    return Err(self.err(format!("undefined variable \"{name}\"")));
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
        f(v).ok_or_else(|| self.err(format!("bad {} value \"{}\"", name.trim_start_matches('#'), v.trim())))
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
                    v => return Err(self.err(format!("bad EXT-X-PLAYLIST-TYPE \"{v}\""))),
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
            let Some(v) = self.imports.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.as_str()) else {
                return Err(HlsError::UndefinedImport { line: self.line, name: name.to_string() });
            };
            (name, Some(v))
        } else {
            return Err(self.err("EXT-X-DEFINE without NAME, QUERYPARAM or IMPORT"));
        };
        if name.is_empty() || !name.chars().all(is_var_name) {
            return Err(self.err(format!("bad variable name \"{name}\"")));
        }
        if let Some(v) = value {
            if self.vars.len() >= MAX_VARIABLES {
                return Err(self.err("too many EXT-X-DEFINE variables"));
            }
            self.vars.push((name.to_string(), v.to_string()));
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
            t => return Err(self.err(format!("bad EXT-X-MEDIA TYPE \"{}\"", t.unwrap_or_default()))),
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
            let (variants, renditions, independent_segments, variables) = (self.variants, self.renditions, self.independent, self.vars);
            return Ok(Playlist::Master(MasterPlaylist { variants, renditions, independent_segments, variables }));
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

/// Codecs of a CODECS attribute that are audio (the rest is video).
fn is_audio_codec(c: &str) -> bool {
    let c = c.trim().to_ascii_lowercase();
    ["mp4a", "opus", "ac-3", "ec-3", "flac", "alac", "fLaC"].iter().any(|p| c.starts_with(&p.to_ascii_lowercase()))
}

fn representation(
    id: String,
    bandwidth: u64,
    mime: &str,
    codecs: String,
    resolution: Option<(u32, u32)>,
    frame_rate: Option<f64>,
    media: &MediaPlaylist,
) -> crate::mpd::Representation {
    use crate::mpd::{Addressing, ByteRef, Representation, Segment};
    let init = media
        .segments
        .iter()
        .find_map(|s| s.map.as_ref())
        .map(|m| ByteRef { url: m.uri.clone(), range: m.byte_range.as_ref().map(|r| (r.offset, r.offset + r.length.saturating_sub(1))) });
    let segments = media
        .segments
        .iter()
        .map(|s| Segment {
            url: s.uri.clone(),
            range: s.byte_range.as_ref().map(|r| (r.offset, r.offset + r.length.saturating_sub(1))),
            start: s.start,
            duration: s.duration,
            number: s.sequence,
        })
        .collect();
    Representation {
        id,
        bandwidth,
        mime_type: mime.to_string(),
        codecs,
        width: resolution.map(|r| r.0),
        height: resolution.map(|r| r.1),
        frame_rate,
        sample_rate: None,
        base_urls: Vec::new(),
        timestamp_offset: 0.0,
        placed: true,
        transmux: !media.is_fmp4(),
        discontinuities: media.segments.iter().filter(|s| s.discontinuity).map(|s| s.sequence).collect(),
        init,
        addressing: Addressing::Segments(segments),
    }
}

/// A `SUBTITLES` rendition's media playlist as a text representation for
/// [`crate::subtitle::feed::TextFeed`]: WebVTT segments, or fMP4 `wvtt`
/// ones when the playlist has an `EXT-X-MAP`.
pub fn text_representation(media: &MediaPlaylist) -> crate::mpd::Representation {
    let fmp4 = media.segments.iter().any(|s| s.map.is_some());
    let (mime, codecs) = if fmp4 { ("application/mp4", "wvtt") } else { ("text/vtt", "") };
    let mut rep = representation("text".to_string(), 0, mime, codecs.to_string(), None, None, media);
    rep.transmux = false;
    rep
}

/// The same presentation as a DASH model, so one engine plays both: one
/// period; a video track with a representation per variant (their media
/// playlists in `media`, same order as `master.variants`; a missing one
/// drops its variant) and, when the variants name an audio group, an audio
/// track from that group's default rendition (`audio`). fMP4 only. Each
/// segment is placed at its listed start ([`Representation::placed`]): a
/// playlist says where segments go, not the media's own timestamps.
///
/// Live (no `EXT-X-ENDLIST`): `live` has re-timed the playlists (see
/// [`LiveTimes`]) and gives the clock; the model is dynamic, refreshed
/// every target duration, started three target durations from the end.
///
/// [`Representation::placed`]: crate::mpd::Representation::placed
pub fn to_manifest(master: &MasterPlaylist, media: &[Option<MediaPlaylist>], audio: Option<&MediaPlaylist>, live: Option<&LiveTimes>) -> crate::mpd::Manifest {
    use crate::mpd::{Manifest, Period, Track, TrackKind};
    let separate_audio = audio.is_some();
    let mut reps = Vec::new();
    for (i, (v, m)) in master.variants.iter().zip(media).enumerate() {
        let Some(m) = m else { continue };
        let codecs: Vec<&str> = v.codecs.as_deref().unwrap_or("avc1.42e01e,mp4a.40.2").split(',').map(str::trim).collect();
        let kept: Vec<&str> = codecs.iter().copied().filter(|c| !(separate_audio && is_audio_codec(c))).collect();
        reps.push(representation(format!("{i}"), v.bandwidth, "video/mp4", kept.join(","), v.resolution, v.frame_rate, m));
    }
    let playlists = || media.iter().flatten().chain(audio);
    let dynamic = live.is_some() && playlists().any(MediaPlaylist::is_live);
    let duration = if dynamic { None } else { playlists().map(MediaPlaylist::duration).reduce(f64::max) };
    let mut tracks = vec![Track { id: None, kind: TrackKind::Video, lang: None, roles: Vec::new(), label: None, representations: reps }];
    if let Some(a) = audio {
        let codec = master
            .variants
            .iter()
            .filter_map(|v| v.codecs.as_deref())
            .flat_map(|c| c.split(','))
            .map(str::trim)
            .find(|c| is_audio_codec(c))
            .unwrap_or("mp4a.40.2");
        let rendition = default_audio(master);
        tracks.push(Track {
            id: None,
            kind: TrackKind::Audio,
            lang: rendition.and_then(|r| r.language.clone()),
            roles: Vec::new(),
            label: rendition.map(|r| r.name.clone()),
            representations: vec![representation("audio".into(), 128_000, "audio/mp4", codec.to_string(), None, None, a)],
        });
    }
    let target = playlists().map(|m| m.target_duration).reduce(f64::min).unwrap_or(2.0).max(0.5);
    // The window: what every playlist still lists.
    let window = playlists().filter_map(|m| Some(m.duration() - m.segments.first()?.start)).reduce(f64::min);
    Manifest {
        dynamic,
        duration,
        availability_start_ms: live.filter(|_| dynamic).and_then(|l| l.origin_ms),
        min_update_period: dynamic.then_some(target),
        time_shift_buffer_depth: window.filter(|_| dynamic),
        suggested_presentation_delay: dynamic.then_some(3.0 * target),
        min_buffer_time: None,
        locations: Vec::new(),
        periods: vec![Period { id: None, start: 0.0, duration, tracks }],
    }
}

/// The timeline of a live HLS presentation across playlist reloads.
///
/// A media playlist lists a sliding window of segments numbered by media
/// sequence; its times start at 0 on every reload. Here a segment keeps the
/// start it was first given, found again by its sequence number (in its own
/// playlist's last list, else in another playlist's: variants share their
/// numbering); a playlist with no number in common with anything placed
/// ends where the last placed one did (each playlist's last segment is the
/// live edge when it was fetched: approximate, for an audio rendition
/// numbered on its own). A reload older than one already seen (a lagging
/// CDN edge) is placed but changes nothing. The clock is the earliest
/// estimate of when presentation time 0 was live, so every listed segment
/// counts as available.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LiveTimes {
    /// Per playlist (the variants in master order, then the audio
    /// rendition): the newest list's (sequence, start, end) per segment.
    lists: Vec<Vec<(u64, f64, f64)>>,
    /// Where the last placed playlist ended.
    edge: Option<f64>,
    /// Unix ms at which presentation time 0 was live.
    pub origin_ms: Option<f64>,
}

impl LiveTimes {
    /// Re-time `playlist`, the `k`th, fetched at `now_ms` (Unix ms).
    pub fn place(&mut self, k: usize, playlist: &mut MediaPlaylist, now_ms: f64) {
        let (Some(first), Some(last)) = (playlist.segments.first(), playlist.segments.last()) else { return };
        let (first_seq, first_start, last_seq, end) = (first.sequence, first.start, last.sequence, last.start + last.duration);
        if self.lists.len() <= k {
            self.lists.resize(k + 1, Vec::new());
        }
        let common = |list: &[(u64, f64, f64)]| {
            playlist.segments.iter().find_map(|s| list.iter().find(|(q, _, _)| *q == s.sequence).map(|(_, start, _)| start - s.start))
        };
        let own = &self.lists[k];
        let stale = own.last().is_some_and(|(seq, _, _)| *seq > last_seq) && common(own).is_some();
        let shift = match (common(own), own.last()) {
            (Some(shift), _) => shift,
            // The window moved past everything seen before: continue from
            // there, a target duration per missed segment.
            (None, Some(&(seq, _, prev_end))) if first_seq > seq => prev_end + (first_seq - seq - 1) as f64 * playlist.target_duration - first_start,
            // Numbering went back (a restarted stream): carry on after it.
            (None, Some(&(_, _, prev_end))) => prev_end - first_start,
            (None, None) => match self.lists.iter().find_map(|l| common(l)) {
                Some(shift) => shift,
                None => self.edge.map_or(0.0, |edge| edge - end),
            },
        };
        for s in &mut playlist.segments {
            s.start += shift;
        }
        if stale {
            return;
        }
        let placed_end = end + shift;
        self.lists[k] = playlist.segments.iter().map(|s| (s.sequence, s.start, s.start + s.duration)).collect();
        self.edge = Some(placed_end);
        let origin = now_ms - placed_end * 1000.0;
        self.origin_ms = Some(self.origin_ms.map_or(origin, |o| o.min(origin)));
    }
}

/// A lone media playlist as a one-variant master (codecs unknown: H.264 + AAC assumed).
pub fn single_variant(url: &str) -> MasterPlaylist {
    MasterPlaylist {
        variants: vec![Variant {
            uri: url.to_string(),
            bandwidth: 0,
            average_bandwidth: None,
            codecs: None,
            resolution: None,
            frame_rate: None,
            audio: None,
            subtitles: None,
            video_range: None,
        }],
        renditions: Vec::new(),
        independent_segments: false,
        variables: Vec::new(),
    }
}

/// The audio rendition a variant set plays by default: the default (else
/// first) rendition of the first variant's audio group.
pub fn default_audio(master: &MasterPlaylist) -> Option<&Rendition> {
    let group = master.variants.iter().find_map(|v| v.audio.as_deref())?;
    let mut in_group = master.renditions.iter().filter(|r| r.kind == RenditionKind::Audio && r.group_id == group);
    let first = in_group.clone().next();
    in_group.find(|r| r.default).or(first)
}

/// The URI of [`default_audio`]'s rendition (none: the audio is in the variants).
pub fn default_audio_uri(master: &MasterPlaylist) -> Option<String> {
    default_audio(master).and_then(|r| r.uri.clone())
}

#[cfg(test)]
mod tests;
