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

/// Content-Types that name a media format: passed through as they are
/// (XML ones as `application/octet-stream`: a browser renders any XML type),
/// once the body is known not to be a document.
const MEDIA_TYPES: &[(&str, &str)] = &[
    ("application/mp4", "application/mp4"),
    ("application/x-mpegurl", "application/vnd.apple.mpegurl"),
    ("application/vnd.apple.mpegurl", "application/vnd.apple.mpegurl"),
    ("text/vtt", "text/vtt"),
    ("application/ttml+xml", "application/octet-stream"),
    ("application/x-subrip", "application/x-subrip"),
    ("application/x-ass", "application/x-ass"),
    ("text/x-ssa", "text/x-ssa"),
];

/// Content-Types that say nothing of the format: the body must show a media
/// signature ([`sniff_media`]) where it can be read from its first byte.
const GENERIC_TYPES: &[(&str, &str)] =
    &[("application/octet-stream", "application/octet-stream"), ("binary/octet-stream", "application/octet-stream"), ("text/plain", "text/plain")];

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
    let ct = content_type.map(essence).unwrap_or_default();
    let generic = GENERIC_TYPES.iter().find(|(t, _)| *t == ct).map(|(_, served)| *served).or(ct.is_empty().then_some("application/octet-stream"));
    if let Some(served) = generic {
        // A generic type from the first byte on: only a known media format.
        return match head {
            Some(h) if !sniff_media(h) => Err(NotMedia::Body("not a media, subtitle or key format the proxy knows")),
            _ => Ok(Served::Media(served)),
        };
    }
    if let Some((_, served)) = MEDIA_TYPES.iter().find(|(t, _)| *t == ct) {
        return Ok(Served::Media(served));
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

/// Whether the first bytes show a media, subtitle or key format the proxy
/// passes under a generic Content-Type: ISO BMFF boxes (MP4, fMP4, CMAF),
/// MPEG-TS, EBML (WebM, Matroska) and a Matroska cluster, ADTS AAC, MP3
/// (frame or ID3), AC-3/E-AC-3, Ogg, FLAC, WAV, MPEG-PS; WebVTT, SubRip,
/// ASS/SSA and TTML text; or a 16-byte body (an HLS AES-128 key).
pub fn sniff_media(head: &[u8]) -> bool {
    const BOXES: &[&[u8; 4]] =
        &[b"ftyp", b"styp", b"moof", b"moov", b"sidx", b"ssix", b"emsg", b"prft", b"mdat", b"free", b"skip", b"uuid", b"pssh", b"wide", b"meta", b"pdin"];
    if head.len() == 16 {
        return true;
    }
    let b = |i: usize| head.get(i).copied().unwrap_or(0);
    if head.get(4..8).is_some_and(|t| BOXES.iter().any(|x| &x[..] == t)) {
        return true;
    }
    let magic: &[&[u8]] = &[b"\x1a\x45\xdf\xa3", b"\x1f\x43\xb6\x75", b"OggS", b"fLaC", b"RIFF", b"ID3", b"\x0b\x77", b"\x00\x00\x01\xba"];
    if magic.iter().any(|m| head.starts_with(m)) {
        return true;
    }
    // MPEG-TS: a sync byte every 188 bytes.
    if b(0) == 0x47 && (head.len() <= 188 || b(188) == 0x47) {
        return true;
    }
    // ADTS and MPEG audio frames: an 11- or 12-bit sync word.
    if b(0) == 0xff && b(1) & 0xe0 == 0xe0 {
        return true;
    }
    let text = head.strip_prefix(b"\xef\xbb\xbf").unwrap_or(head);
    let start = text.iter().position(|c| !c.is_ascii_whitespace()).unwrap_or(text.len());
    let text = text.get(start..).unwrap_or(&[]);
    if text.starts_with(b"WEBVTT") || text.starts_with(b"[Script Info]") {
        return true;
    }
    // SubRip: a cue number, then a timing line.
    let mut lines = text.split(|&c| c == b'\n').map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let number = lines.next().is_some_and(|l| !l.is_empty() && l.iter().all(u8::is_ascii_digit));
    if number && lines.next().is_some_and(|l| l.windows(3).any(|w| w == b"-->")) {
        return true;
    }
    let lower: Vec<u8> = text.iter().take(512).map(u8::to_ascii_lowercase).collect();
    xml_root_is(&lower, b"tt")
}

/// Whether the first element of an XML text (lowercased) is `name` (any prefix).
fn xml_root_is(lower: &[u8], name: &[u8]) -> bool {
    super::detect::root_element(lower) == Some(name)
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
    // Namespace names as the XML parser reads them: character references
    // (`http&#58;//`) decoded, so no spelling hides one.
    let decoded = decode_char_refs(text);
    let d = decoded.as_bytes();
    let decoded_has = |needle: &[u8]| d.windows(needle.len()).any(|w| w.eq_ignore_ascii_case(needle));
    if decoded_has(b"www.w3.org/1999/xhtml") {
        return Some("an element in the XHTML namespace");
    }
    if decoded_has(b"www.w3.org/2000/svg") {
        return Some("an element in the SVG namespace");
    }
    if decoded_has(b"www.w3.org/1999/xsl/transform") {
        return Some("an XSLT element");
    }
    if lower_has(b"<script") || lower_has(b":script") {
        return Some("a script element");
    }
    if lower_has(b"<?xml-stylesheet") {
        return Some("a stylesheet processing instruction");
    }
    None
}

/// `text` with XML character references (`&#58;`, `&#x3A;`) and the five
/// predefined entities decoded; anything else left as it is.
fn decode_char_refs(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.contains('&') {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('&') {
        out.push_str(rest.get(..i).unwrap_or(""));
        let tail = rest.get(i..).unwrap_or("");
        let end = tail.get(..12.min(tail.len())).and_then(|t| t.find(';'));
        let decoded = end.and_then(|e| {
            let name = tail.get(1..e)?;
            let c = match name {
                "lt" => '<',
                "gt" => '>',
                "amp" => '&',
                "apos" => '\'',
                "quot" => '"',
                n => {
                    let n = n.strip_prefix('#')?;
                    let v = match n.strip_prefix(['x', 'X']) {
                        Some(h) => u32::from_str_radix(h, 16).ok()?,
                        None => n.parse().ok()?,
                    };
                    char::from_u32(v)?
                }
            };
            Some((c, e + 1))
        });
        match decoded {
            Some((c, len)) => {
                out.push(c);
                rest = tail.get(len..).unwrap_or("");
            }
            None => {
                out.push('&');
                rest = tail.get(1..).unwrap_or("");
            }
        }
    }
    out.push_str(rest);
    std::borrow::Cow::Owned(out)
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
