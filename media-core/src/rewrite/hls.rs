//! HLS playlist rewriting, line by line (see the [module docs](super) for
//! the strategy). Line endings (LF, CRLF, lone CR) and every byte outside a
//! URL are copied unchanged.

use super::{check_manifest_url, is_http, map_url, scheme_of, trim_parts, RefKind, RewriteError, Rewritten, UrlRef, Warnings, MAX_MANIFEST_BYTES};
use crate::url::resolve;

/// Tags whose quoted `URI` attribute (or the named one) is a URL the player fetches.
const URI_TAGS: &[(&str, &str)] = &[
    ("EXT-X-MAP", "URI"),
    ("EXT-X-KEY", "URI"),
    ("EXT-X-SESSION-KEY", "URI"),
    ("EXT-X-MEDIA", "URI"),
    ("EXT-X-I-FRAME-STREAM-INF", "URI"),
    ("EXT-X-PART", "URI"),
    ("EXT-X-PRELOAD-HINT", "URI"),
    ("EXT-X-RENDITION-REPORT", "URI"),
    ("EXT-X-SESSION-DATA", "URI"),
    ("EXT-X-DATERANGE", "X-ASSET-URI"),
];

/// URL attributes deliberately left alone, with the reason given in the warning.
const LEFT_ALONE: &[(&str, &str, &str)] = &[
    ("EXT-X-CONTENT-STEERING", "SERVER-URI", "the steering server answers with pathway URLs the proxy does not rewrite"),
    ("EXT-X-DATERANGE", "X-ASSET-LIST", "the asset list is JSON the proxy does not rewrite"),
];

/// Rewrite every URL reference of an HLS playlist (master or media) through
/// `map`. `manifest_url` is the playlist's absolute upstream URL.
pub fn rewrite_hls(text: &str, manifest_url: &str, map: &mut dyn FnMut(UrlRef<'_>) -> String) -> Result<Rewritten, RewriteError> {
    if text.len() > MAX_MANIFEST_BYTES {
        return Err(RewriteError::TooLarge(text.len()));
    }
    check_manifest_url(manifest_url)?;
    let (bom, body) = match text.strip_prefix('\u{feff}') {
        Some(rest) => ("\u{feff}", rest),
        None => ("", text),
    };
    if !body.trim_start().starts_with("#EXTM3U") {
        return Err(RewriteError::NotAPlaylist);
    }
    let mut out = String::with_capacity(text.len() + text.len() / 2) + bom;
    let mut warnings = Warnings::default();
    for (n, (line, ending)) in Lines(body).enumerate() {
        let line_no = n + 1;
        rewrite_line(line, line_no, manifest_url, map, &mut out, &mut warnings)?;
        out.push_str(ending);
    }
    Ok(Rewritten { text: out, warnings: warnings.finish() })
}

/// Lines with their terminator (`\r\n`, `\n`, `\r` or nothing at the end).
struct Lines<'a>(&'a str);

impl<'a> Iterator for Lines<'a> {
    type Item = (&'a str, &'a str);

    fn next(&mut self) -> Option<Self::Item> {
        if self.0.is_empty() {
            return None;
        }
        let s = self.0;
        let (line, ending, rest) = match s.find(['\n', '\r']) {
            None => (s, "", ""),
            Some(i) => {
                let len = if s.get(i..).is_some_and(|t| t.starts_with("\r\n")) { 2 } else { 1 };
                (s.get(..i).unwrap_or(""), s.get(i..i + len).unwrap_or(""), s.get(i + len..).unwrap_or(""))
            }
        };
        self.0 = rest;
        Some((line, ending))
    }
}

fn rewrite_line(
    line: &str,
    line_no: usize,
    manifest_url: &str,
    map: &mut dyn FnMut(UrlRef<'_>) -> String,
    out: &mut String,
    warnings: &mut Warnings,
) -> Result<(), RewriteError> {
    let (lead, core, trail) = trim_parts(line);
    if core.is_empty() || (core.starts_with('#') && !core.starts_with("#EXT")) {
        out.push_str(line);
        return Ok(());
    }
    if !core.starts_with('#') {
        // A URI line: a segment or a variant playlist.
        out.push_str(lead);
        match rewrite_ref(core, line_no, manifest_url, map, warnings)? {
            Some(new) => out.push_str(&new),
            None => out.push_str(core),
        }
        out.push_str(trail);
        return Ok(());
    }
    let tag_end = core.find(':').unwrap_or(core.len());
    let tag = core.get(1..tag_end).unwrap_or("");
    let Some(attr_text) = core.get(tag_end + 1..) else {
        out.push_str(line);
        return Ok(());
    };
    let attrs = parse_attributes(attr_text);
    let wanted = URI_TAGS.iter().find(|(t, _)| *t == tag).map(|(_, a)| *a);
    // Byte offset of `attr_text` inside `line`.
    let base = lead.len() + tag_end + 1;
    let mut copied = 0;
    for a in &attrs {
        let quoted = a.quoted;
        if Some(a.name) == wanted {
            if !quoted {
                warnings.push(format!("line {line_no}: unquoted {} attribute of #{tag} left unchanged", a.name));
                continue;
            }
            let (vs, ve) = (base + a.value.0, base + a.value.1);
            let value = line.get(vs..ve).unwrap_or("");
            if let Some(new) = rewrite_ref(value, line_no, manifest_url, map, warnings)? {
                if new.contains('"') {
                    return Err(RewriteError::BadMapOutput(new));
                }
                out.push_str(line.get(copied..vs).unwrap_or(""));
                out.push_str(&new);
                copied = ve;
            }
        } else if let Some((_, _, why)) = LEFT_ALONE.iter().find(|(t, n, _)| *t == tag && *n == a.name) {
            warnings.push(format!("line {line_no}: {} of #{tag} left unchanged: {why}", a.name));
        } else if wanted.is_none() && a.name.ends_with("URI") && quoted {
            warnings.push(format!("line {line_no}: {} attribute of unknown tag #{tag} left unchanged", a.name));
        }
    }
    out.push_str(line.get(copied..).unwrap_or(""));
    Ok(())
}

/// One `NAME=VALUE` of an attribute list; `value` is a byte range of the
/// value inside the list, without quotes.
struct Attr<'a> {
    name: &'a str,
    value: (usize, usize),
    quoted: bool,
}

/// Parse an HLS attribute list (RFC 8216 §4.2) leniently: quoted strings may
/// hold commas; malformed pieces are skipped.
fn parse_attributes(s: &str) -> Vec<Attr<'_>> {
    let bytes = s.as_bytes();
    let mut attrs = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let name_start = i;
        while i < bytes.len() && bytes.get(i).is_some_and(|&b| b != b'=' && b != b',') {
            i += 1;
        }
        let name = s.get(name_start..i).unwrap_or("").trim();
        if bytes.get(i) != Some(&b'=') {
            i += 1; // skip the comma (or step past the end)
            continue;
        }
        i += 1;
        if bytes.get(i) == Some(&b'"') {
            let start = i + 1;
            let end = s.get(start..).and_then(|r| r.find('"')).map_or(bytes.len(), |j| start + j);
            attrs.push(Attr { name, value: (start, end), quoted: true });
            i = end + 1;
            while i < bytes.len() && bytes.get(i) != Some(&b',') {
                i += 1;
            }
        } else {
            let start = i;
            while i < bytes.len() && bytes.get(i) != Some(&b',') {
                i += 1;
            }
            attrs.push(Attr { name, value: (start, i), quoted: false });
        }
        i += 1;
    }
    attrs
}

/// The proxied form of one reference, or `None` to leave it as written.
fn rewrite_ref(
    reference: &str,
    line_no: usize,
    manifest_url: &str,
    map: &mut dyn FnMut(UrlRef<'_>) -> String,
    warnings: &mut Warnings,
) -> Result<Option<String>, RewriteError> {
    if reference.contains("{$") {
        warnings.push(format!("line {line_no}: URL uses an EXT-X-DEFINE variable and is left unchanged (cannot be resolved safely)"));
        return Ok(None);
    }
    let (lead, core, trail) = trim_parts(reference);
    if core.is_empty() {
        return Ok(None);
    }
    if let Some(s) = scheme_of(core) {
        if !s.eq_ignore_ascii_case("http") && !s.eq_ignore_ascii_case("https") {
            return Ok(None); // skd:, data:, urn: ... are not fetched over HTTP
        }
    }
    let absolute = resolve(manifest_url, core);
    if !is_http(&absolute) {
        warnings.push(format!("line {line_no}: reference does not resolve to an http(s) URL; left unchanged"));
        return Ok(None);
    }
    Ok(map_url(RefKind::Url, &absolute, map)?.map(|new| format!("{lead}{new}{trail}")))
}
