//! What a room plays, read from what a user pastes.
//!
//! - [`Source::Media`]: a DASH, HLS or progressive URL (or a path on the
//!   app's origin), played by the media engine, through the media proxy
//!   when it is absolute.
//! - [`Source::YouTube`] and [`Source::Vimeo`]: played by their own embeds
//!   (IFrame API, Player SDK); never proxied. Every link form people paste
//!   is read (`watch?v=`, `youtu.be/`, `/shorts/`, `/embed/`, `/live/`,
//!   `t=`/`start=`; `vimeo.com/<id>[/<hash>]`, `player.vimeo.com/video/<id>?h=`,
//!   `#t=`) and kept in one canonical form, so the same video is the same source.
//! - [`Source::Local`]: a file every member opens from their own disk. The
//!   room keeps only what identifies it ([`LocalFile`]); nothing of the file
//!   leaves a device. Written `local:<fingerprint>?size=…&duration=…&name=…`.
//!
//! The fingerprint is SHA-256 over the size and five 1 MiB windows at fixed
//! offsets ([`fingerprint_windows`]): about 5 MB read whatever the size, so a
//! 4 GB file is checked in a moment, and two copies of one file always agree.

use std::fmt;

use sha2::{Digest, Sha256};

/// How many characters a local file's name keeps.
pub const MAX_LOCAL_NAME_CHARS: usize = 200;
/// Bytes hashed per fingerprint window.
pub const FINGERPRINT_WINDOW: u64 = 1 << 20;
/// Two local copies whose durations differ by less than this are the same
/// video in another version (s).
pub const SAME_DURATION_S: f64 = 0.1;

#[derive(Clone, Debug, PartialEq)]
pub enum Source {
    Media(String),
    YouTube { id: String, start: f64 },
    Vimeo { id: u64, hash: Option<String>, start: f64 },
    Local(LocalFile),
}

/// A local file, as the room knows it.
#[derive(Clone, Debug, PartialEq)]
pub struct LocalFile {
    /// 64 lowercase hex digits (see [`Fingerprint`]).
    pub fingerprint: String,
    pub size: u64,
    /// Seconds.
    pub duration: f64,
    pub name: String,
}

/// Which player plays a source.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceKind {
    Media,
    YouTube,
    Vimeo,
    Local,
}

impl SourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Media => "media",
            SourceKind::YouTube => "youtube",
            SourceKind::Vimeo => "vimeo",
            SourceKind::Local => "local",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SourceError {
    /// A YouTube link without a video id (or with a malformed one).
    YouTubeId,
    /// A Vimeo link without a numeric video id.
    VimeoId,
    /// A `local:` source that is not `local:<64 hex>?size=…&duration=…&name=…`.
    Local(&'static str),
}

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SourceError::YouTubeId => f.write_str("this YouTube link has no video id (11 letters, digits, - or _)"),
            SourceError::VimeoId => f.write_str("this Vimeo link has no video number"),
            SourceError::Local(why) => write!(f, "local file: {why}"),
        }
    }
}

impl Source {
    /// Read what a user pasted. Anything that is not a YouTube, Vimeo or
    /// `local:` link is a media URL, checked by the room's own rules.
    pub fn parse(input: &str) -> Result<Source, SourceError> {
        let input = input.trim();
        if let Some(rest) = input.strip_prefix("local:") {
            return LocalFile::parse(rest).map(Source::Local);
        }
        let Some(link) = Link::split(input) else { return Ok(Source::Media(input.to_string())) };
        match link.site() {
            Some(Site::YouTube) => youtube(&link),
            Some(Site::Vimeo) => vimeo(&link),
            None => Ok(Source::Media(input.to_string())),
        }
    }

    pub fn kind(&self) -> SourceKind {
        match self {
            Source::Media(_) => SourceKind::Media,
            Source::YouTube { .. } => SourceKind::YouTube,
            Source::Vimeo { .. } => SourceKind::Vimeo,
            Source::Local(_) => SourceKind::Local,
        }
    }

    /// Where playback of a newly set source starts (s).
    pub fn start(&self) -> f64 {
        match self {
            Source::YouTube { start, .. } | Source::Vimeo { start, .. } => *start,
            _ => 0.0,
        }
    }

    /// The one form the room keeps.
    pub fn canonical(&self) -> String {
        let with_start = |mut s: String, sep: &str, start: f64| {
            if start > 0.0 {
                s.push_str(sep);
                decimal::write_u64(&mut s, start as u64);
                s.push('s');
            }
            s
        };
        match self {
            Source::Media(url) => url.clone(),
            Source::YouTube { id, start } => with_start(format!("https://www.youtube.com/watch?v={id}"), "&t=", *start),
            Source::Vimeo { id, hash, start } => {
                let mut s = format!("https://vimeo.com/{id}");
                if let Some(h) = hash {
                    s.push('/');
                    s.push_str(h);
                }
                with_start(s, "#t=", *start)
            }
            Source::Local(f) => f.canonical(),
        }
    }
}

impl LocalFile {
    fn parse(rest: &str) -> Result<LocalFile, SourceError> {
        let (fingerprint, query) = rest.split_once('?').ok_or(SourceError::Local("no size, duration and name"))?;
        if fingerprint.len() != 64 || !fingerprint.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
            return Err(SourceError::Local("the fingerprint is 64 lowercase hex digits"));
        }
        let (mut size, mut duration, mut name) = (None, None, None);
        for pair in query.split('&') {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            match k {
                "size" => size = decimal::parse_u64(v),
                "duration" => duration = decimal::parse_f64(v).filter(|d| d.is_finite() && *d > 0.0 && *d < 1e7),
                "name" => name = percent_decode(v),
                _ => {}
            }
        }
        let size = size.filter(|s| *s > 0).ok_or(SourceError::Local("size is a positive whole number of bytes"))?;
        let duration = duration.ok_or(SourceError::Local("duration is a positive number of seconds"))?;
        let name: String =
            name.ok_or(SourceError::Local("name is missing or not UTF-8"))?.chars().filter(|c| !c.is_control()).take(MAX_LOCAL_NAME_CHARS).collect();
        let name = name.trim().to_string();
        if name.is_empty() {
            return Err(SourceError::Local("name is empty"));
        }
        Ok(LocalFile { fingerprint: fingerprint.to_string(), size, duration: (duration * 1000.0).round() / 1000.0, name })
    }

    pub fn canonical(&self) -> String {
        let mut s = format!("local:{}?size=", self.fingerprint);
        decimal::write_u64(&mut s, self.size);
        s.push_str("&duration=");
        decimal::write_f64(&mut s, self.duration);
        s.push_str("&name=");
        percent_encode(&mut s, &self.name);
        s
    }

    /// How a member's own copy compares with the room's file.
    pub fn compare(&self, fingerprint: &str, duration: Option<f64>) -> LocalMatch {
        if fingerprint == self.fingerprint {
            LocalMatch::Same
        } else if duration.is_some_and(|d| (d - self.duration).abs() < SAME_DURATION_S) {
            LocalMatch::OtherVersion
        } else {
            LocalMatch::Different
        }
    }
}

/// A member's copy against the room's local file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LocalMatch {
    /// The same bytes where it was sampled.
    Same,
    /// Another file of the same length: probably another encode of the same video.
    OtherVersion,
    /// Not the same video.
    Different,
}

impl LocalMatch {
    pub fn as_str(self) -> &'static str {
        match self {
            LocalMatch::Same => "same",
            LocalMatch::OtherVersion => "other-version",
            LocalMatch::Different => "different",
        }
    }
}

/// The byte ranges `[start, end)` a fingerprint hashes, in order: the whole
/// file up to five windows' worth, else five 1 MiB windows at its start,
/// quarters and end.
pub fn fingerprint_windows(size: u64) -> Vec<(u64, u64)> {
    let w = FINGERPRINT_WINDOW;
    if size <= 5 * w {
        return vec![(0, size)];
    }
    [0, size / 4, size / 2, size / 4 * 3, size - w].iter().map(|&at| (at.min(size - w), at.min(size - w) + w)).collect()
}

/// SHA-256 of `"watch-together/fp1"`, the size, and the windows' bytes in order.
pub struct Fingerprint {
    hash: Sha256,
}

impl Fingerprint {
    pub fn new(size: u64) -> Self {
        let mut hash = Sha256::new();
        hash.update(b"watch-together/fp1");
        hash.update(size.to_le_bytes());
        Fingerprint { hash }
    }

    /// The windows' bytes, in order, in chunks of any size.
    pub fn update(&mut self, bytes: &[u8]) {
        self.hash.update(bytes);
    }

    pub fn finish(self) -> String {
        self.hash.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }
}

enum Site {
    YouTube,
    Vimeo,
}

/// A link split into its parts (scheme optional: people paste `youtu.be/…`).
struct Link<'a> {
    host: String,
    path: &'a str,
    query: &'a str,
    fragment: &'a str,
}

impl<'a> Link<'a> {
    fn split(input: &'a str) -> Option<Link<'a>> {
        let rest = input.strip_prefix("https://").or_else(|| input.strip_prefix("http://")).unwrap_or(input);
        if rest.starts_with('/') {
            return None;
        }
        let (rest, fragment) = rest.split_once('#').unwrap_or((rest, ""));
        let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (host, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
        let host = host.split_once(':').map_or(host, |(h, _)| h);
        Some(Link { host: host.to_ascii_lowercase(), path, query, fragment })
    }

    fn site(&self) -> Option<Site> {
        let h = self.host.strip_prefix("www.").unwrap_or(&self.host);
        match h {
            "youtube.com" | "m.youtube.com" | "music.youtube.com" | "youtube-nocookie.com" | "youtu.be" => Some(Site::YouTube),
            "vimeo.com" | "player.vimeo.com" => Some(Site::Vimeo),
            _ => None,
        }
    }

    fn param(&self, name: &str) -> Option<&'a str> {
        self.query.split('&').chain(self.fragment.split('&')).find_map(|p| p.strip_prefix(name).and_then(|v| v.strip_prefix('=')))
    }

    fn segments(&self) -> impl Iterator<Item = &'a str> {
        self.path.split('/').filter(|s| !s.is_empty())
    }
}

fn youtube(link: &Link) -> Result<Source, SourceError> {
    let mut segs = link.segments();
    let id = if link.host.ends_with("youtu.be") {
        segs.next()
    } else {
        match segs.next() {
            Some("watch") => link.param("v"),
            Some("shorts" | "embed" | "live" | "v" | "e") => segs.next(),
            _ => None,
        }
    };
    let id = id.filter(|id| id.len() == 11 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')).ok_or(SourceError::YouTubeId)?;
    let start = link.param("t").or_else(|| link.param("start")).and_then(time_param).unwrap_or(0.0);
    Ok(Source::YouTube { id: id.to_string(), start })
}

fn vimeo(link: &Link) -> Result<Source, SourceError> {
    let segs: Vec<&str> = link.segments().collect();
    // The first all-digit segment is the video; a hex segment right after it is an unlisted video's hash.
    let at = segs.iter().position(|s| !s.is_empty() && s.len() <= 12 && s.bytes().all(|b| b.is_ascii_digit())).ok_or(SourceError::VimeoId)?;
    let id = decimal::parse_u64(segs[at]).filter(|id| *id > 0).ok_or(SourceError::VimeoId)?;
    let is_hash = |h: &&str| (6..=20).contains(&h.len()) && h.bytes().all(|b| b.is_ascii_hexdigit());
    let hash = segs.get(at + 1).copied().filter(is_hash).or_else(|| link.param("h").filter(is_hash)).map(|h| h.to_ascii_lowercase());
    let start = link.param("t").and_then(time_param).unwrap_or(0.0);
    Ok(Source::Vimeo { id, hash, start })
}

/// `90`, `90s`, `1m30s`, `1h2m3s` → seconds (whole, up to a day).
fn time_param(v: &str) -> Option<f64> {
    if let Some(s) = decimal::parse_u64(v) {
        return Some(s.min(86_400) as f64);
    }
    let mut total = 0u64;
    let mut digits = String::new();
    for c in v.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let n = decimal::parse_u64(&digits)?;
        digits.clear();
        let unit = match c {
            'h' => 3600,
            'm' => 60,
            's' => 1,
            _ => return None,
        };
        // (Saturating: a member may send any number of digits.)
        total = total.saturating_add(n.saturating_mul(unit));
    }
    if !digits.is_empty() {
        return None;
    }
    Some(total.min(86_400) as f64)
}

fn percent_encode(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX[usize::from(b >> 4)] as char);
            out.push(HEX[usize::from(b & 15)] as char);
        }
    }
}

fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = s.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests;
