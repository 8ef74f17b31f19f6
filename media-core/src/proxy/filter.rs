//! Only media leaves the proxy.
//!
//! A proxied response is served from the app's origin (or the media
//! origin): a document a browser would render there (HTML, SVG, XHTML, XML
//! with scripts, JavaScript, PDF) could run script with that origin's
//! rights. So the proxy passes only what a player fetches — media and init
//! segments, whole media files, subtitle files, HLS keys, and manifests
//! (which it rewrites) — decided by the upstream's Content-Type *and* by the
//! first bytes of the body, and labels what it passes with a type no
//! browser renders as a document.

/// What the proxy will serve a response as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Served {
    /// Passed through with this Content-Type (always one a browser never
    /// renders as a document; `application/octet-stream` when in doubt).
    Media(&'static str),
}

/// Why a response is not passed on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NotMedia {
    /// The upstream said it is a document, script or other non-media type.
    ContentType(String),
    /// The body starts like a document (`what` names it).
    Body(&'static str),
}

impl std::fmt::Display for NotMedia {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NotMedia::ContentType(t) => {
                write!(f, "the upstream answered {t:?}, which is not media; the proxy serves only media, subtitles, keys and manifests")
            }
            NotMedia::Body(what) => write!(f, "the upstream body is {what}, not media; the proxy serves only media, subtitles, keys and manifests"),
        }
    }
}

impl std::error::Error for NotMedia {}

/// The Content-Types passed through as they are.
const MEDIA_TYPES: &[&str] = &[
    "application/mp4",
    "application/octet-stream",
    "binary/octet-stream",
    "application/x-mpegurl",
    "application/vnd.apple.mpegurl",
    "application/dash+xml",
    "text/vtt",
    "application/ttml+xml",
    "application/x-subrip",
    "application/x-ass",
    "text/x-ssa",
    "text/plain",
    "application/pkix-cert",
    "application/vnd.ms-sstr+xml",
];

/// The essence of a Content-Type: lowercase, without parameters.
fn essence(content_type: &str) -> String {
    content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase()
}

/// Decide what a non-manifest response may be served as, from its
/// Content-Type and (when the response starts at byte 0) its first bytes.
pub fn check_media(content_type: Option<&str>, head: Option<&[u8]>) -> Result<Served, NotMedia> {
    if let Some(head) = head {
        if let Some(what) = sniff_document(head) {
            return Err(NotMedia::Body(what));
        }
    }
    let Some(ct) = content_type.map(essence).filter(|e| !e.is_empty()) else {
        return Ok(Served::Media("application/octet-stream"));
    };
    if let Some(t) = MEDIA_TYPES.iter().find(|t| **t == ct) {
        return Ok(Served::Media(t));
    }
    if let Some(sub) = ct.strip_prefix("video/").or_else(|| ct.strip_prefix("audio/")) {
        // Keep the media type family, never an unknown subtype's text.
        let known = [
            "mp4",
            "webm",
            "ogg",
            "mpeg",
            "mp2t",
            "aac",
            "mp3",
            "x-matroska",
            "quicktime",
            "flac",
            "wav",
            "x-wav",
            "opus",
            "iso.segment",
            "mpegurl",
            "x-mpegurl",
        ];
        let kind = if ct.starts_with("video/") { "video/mp4" } else { "audio/mp4" };
        return Ok(Served::Media(match known.iter().find(|k| **k == sub) {
            Some(_) if ct == "video/mp2t" => "video/mp2t",
            Some(_) if ct == "video/webm" => "video/webm",
            Some(_) if ct == "audio/webm" => "audio/webm",
            Some(_) if ct == "audio/mpeg" => "audio/mpeg",
            Some(_) if ct == "audio/aac" => "audio/aac",
            _ => kind,
        }));
    }
    Err(NotMedia::ContentType(ct))
}

/// Whether the first bytes look like a document a browser renders (`Some`
/// names it). Media (MP4 boxes, MPEG-TS, WebM, ADTS, MP3, Ogg, FLAC, WAV),
/// WebVTT, SRT, TTML and raw key bytes are not.
pub fn sniff_document(head: &[u8]) -> Option<&'static str> {
    let mut rest = head.strip_prefix(b"\xef\xbb\xbf").unwrap_or(head);
    // UTF-16 BOMs: a document may hide behind them.
    if rest.starts_with(b"\xfe\xff") || rest.starts_with(b"\xff\xfe") {
        return Some("UTF-16 text");
    }
    let start = rest.iter().position(|c| !c.is_ascii_whitespace()).unwrap_or(rest.len());
    rest = rest.get(start..).unwrap_or(&[]);
    let lower: Vec<u8> = rest.iter().take(512).map(u8::to_ascii_lowercase).collect();
    let starts = |p: &[u8]| lower.starts_with(p);
    if starts(b"%pdf") {
        return Some("a PDF document");
    }
    if starts(b"<") {
        // TTML subtitles are XML: `<tt` root, after a prolog.
        if xml_root_is(&lower, b"tt") {
            return if contains(&lower, b"script") || contains(&lower, b"xhtml") { Some("XML with markup") } else { None };
        }
        if contains(&lower, b"<svg") {
            return Some("an SVG document");
        }
        if contains(&lower, b"<html")
            || contains(&lower, b"<!doctype")
            || contains(&lower, b"<script")
            || contains(&lower, b"<head")
            || contains(&lower, b"<body")
        {
            return Some("an HTML document");
        }
        return Some("an XML or HTML document");
    }
    if starts(b"{") || starts(b"[") {
        return Some("JSON");
    }
    None
}

/// Whether the first element of an XML text (lowercased) is `name` (any prefix).
fn xml_root_is(lower: &[u8], name: &[u8]) -> bool {
    let mut rest = lower;
    loop {
        let start = rest.iter().position(|c| !c.is_ascii_whitespace()).unwrap_or(rest.len());
        rest = rest.get(start..).unwrap_or(&[]);
        let close: &[u8] = if rest.starts_with(b"<?") {
            b"?>"
        } else if rest.starts_with(b"<!--") {
            b"-->"
        } else {
            break;
        };
        match find(rest, close) {
            Some(i) => rest = rest.get(i + close.len()..).unwrap_or(&[]),
            None => return false,
        }
    }
    let Some(tag) = rest.strip_prefix(b"<") else { return false };
    let end = tag.iter().position(|&b| matches!(b, b' ' | b'\t' | b'\r' | b'\n' | b'>' | b'/')).unwrap_or(tag.len());
    let qname = tag.get(..end).unwrap_or(&[]);
    qname.rsplit(|&b| b == b':').next() == Some(name)
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    find(hay, needle).is_some()
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Markup a DASH manifest must not carry: a browser that opens the
/// manifest's URL renders it as XML, where elements in the XHTML or SVG
/// namespace (or named `script`) run script.
pub fn manifest_markup(text: &str) -> Option<&'static str> {
    let b = text.as_bytes();
    let lower_has = |needle: &[u8]| b.windows(needle.len()).any(|w| w.eq_ignore_ascii_case(needle));
    if lower_has(b"http://www.w3.org/1999/xhtml") {
        return Some("an element in the XHTML namespace");
    }
    if lower_has(b"http://www.w3.org/2000/svg") {
        return Some("an element in the SVG namespace");
    }
    if lower_has(b"<script") || lower_has(b":script") {
        return Some("a script element");
    }
    if lower_has(b"<?xml-stylesheet") {
        return Some("a stylesheet processing instruction");
    }
    None
}

/// The headers every proxied response carries, errors included: no type
/// sniffing, and a sandbox with no scripts, plugins, forms or subresources
/// should a browser ever render it as a document.
pub const SECURITY_HEADERS: [(&str, &str); 4] = [
    ("x-content-type-options", "nosniff"),
    ("content-security-policy", "sandbox; default-src 'none'"),
    ("content-disposition", "attachment"),
    ("referrer-policy", "no-referrer"),
];
