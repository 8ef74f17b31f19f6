//! Is an upstream response a manifest to rewrite?
//!
//! The body decides first (servers often send playlists as
//! `application/octet-stream` or `text/plain`): `#EXTM3U`, or `<MPD` after
//! an optional BOM, XML declaration, comments and processing instructions.
//! Then the Content-Type, then the URL path's extension.
//!
//! A `<Period>` root also counts as DASH: it is the remote element an
//! `xlink:href` points to, and its segment URLs need rewriting too.

/// What an upstream response is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Hls,
    Dash,
    Other,
}

/// Detect from the upstream URL, the Content-Type header and the first bytes.
pub fn detect(url: &str, content_type: Option<&str>, head: &[u8]) -> Kind {
    match sniff(head) {
        Kind::Other => {}
        k => return k,
    }
    match content_type.map(by_content_type) {
        Some(Kind::Other) | None => {}
        Some(k) => return k,
    }
    by_extension(url)
}

/// By Content-Type (parameters and case ignored).
pub fn by_content_type(content_type: &str) -> Kind {
    let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    match essence.as_str() {
        "application/vnd.apple.mpegurl" | "application/x-mpegurl" | "audio/mpegurl" | "audio/x-mpegurl" | "application/mpegurl" => Kind::Hls,
        "application/dash+xml" | "video/vnd.mpeg.dash.mpd" => Kind::Dash,
        _ => Kind::Other,
    }
}

/// By the extension of the URL's path (query and fragment ignored).
pub fn by_extension(url: &str) -> Kind {
    let path = url.split(['?', '#']).next().unwrap_or("");
    let last = path.rsplit('/').next().unwrap_or("");
    let ext = last.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
    match ext.as_str() {
        "m3u8" => Kind::Hls,
        "mpd" => Kind::Dash,
        _ => Kind::Other,
    }
}

/// By the first bytes of the body.
pub fn sniff(head: &[u8]) -> Kind {
    let mut rest = head.strip_prefix(b"\xef\xbb\xbf").unwrap_or(head);
    rest = trim_ws(rest);
    if rest.starts_with(b"#EXTM3U") {
        return Kind::Hls;
    }
    let Some(local) = root_element(rest) else { return Kind::Other };
    match local {
        b"MPD" | b"Period" => Kind::Dash,
        _ => Kind::Other,
    }
}

/// The local name of an XML text's first element, after its prolog
/// (declaration, processing instructions, comments); `None` when there is
/// none or it may go on past the bytes given.
pub(crate) fn root_element(text: &[u8]) -> Option<&[u8]> {
    let mut rest = text;
    loop {
        rest = trim_ws(rest);
        let close: &[u8] = if rest.starts_with(b"<?") {
            b"?>"
        } else if rest.starts_with(b"<!--") {
            b"-->"
        } else {
            break;
        };
        rest = rest.get(find(rest, close)? + close.len()..).unwrap_or(&[]);
    }
    let tag = rest.strip_prefix(b"<")?;
    let name_len = tag.iter().position(|&b| matches!(b, b' ' | b'\t' | b'\r' | b'\n' | b'>' | b'/'))?;
    let name = tag.get(..name_len)?;
    name.rsplit(|&b| b == b':').next()
}

fn trim_ws(b: &[u8]) -> &[u8] {
    let start = b.iter().position(|c| !c.is_ascii_whitespace()).unwrap_or(b.len());
    b.get(start..).unwrap_or(&[])
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Whether a manifest describes a live stream (shorter cache lifetime):
/// an HLS media playlist without `#EXT-X-ENDLIST` and not of type VOD, or an
/// MPD with `type="dynamic"`. An HLS master playlist is not live.
pub fn is_live(kind: Kind, text: &str) -> bool {
    match kind {
        Kind::Hls => {
            let mut media = false;
            for line in text.lines() {
                let line = line.trim();
                if line.starts_with("#EXT-X-ENDLIST") || line.starts_with("#EXT-X-PLAYLIST-TYPE:VOD") {
                    return false;
                }
                if line.starts_with("#EXTINF") || line.starts_with("#EXT-X-TARGETDURATION") {
                    media = true;
                }
            }
            media
        }
        Kind::Dash => {
            // The type attribute of the MPD element (the first tag named MPD).
            let Some(start) = text.find("<MPD").or_else(|| text.find(":MPD")) else { return false };
            let tag = text.get(start..).and_then(|t| t.find('>').and_then(|e| t.get(..e))).unwrap_or("");
            tag.split_whitespace().any(|a| a == "type=\"dynamic\"" || a == "type='dynamic'")
        }
        Kind::Other => false,
    }
}
