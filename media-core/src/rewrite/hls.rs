//! HLS playlist rewriting, line by line (see the [module docs](super) for
//! the strategy). Line endings (LF, CRLF, lone CR) and every byte outside a
//! URL are copied unchanged.

use super::{
    check_manifest_url, is_http, scheme_of, trim_parts, Mapped, Mapper, RefKind, RewriteError, Rewritten, UrlRef, Warnings, MAX_MANIFEST_BYTES, MAX_REFERENCES,
};
use crate::url::Base;

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
pub fn rewrite_hls(text: &str, manifest_url: &str, map: &mut dyn FnMut(UrlRef<'_>) -> Option<String>) -> Result<Rewritten, RewriteError> {
    if text.len() > MAX_MANIFEST_BYTES {
        return Err(RewriteError::TooLarge(text.len()));
    }
    check_manifest_url(manifest_url)?;
    let (bom, body) = match text.strip_prefix('\u{feff}') {
        Some(rest) => ("\u{feff}", rest),
        None => ("", text),
    };
    if crate::hls::playlist_body(text).is_none() {
        return Err(RewriteError::NotAPlaylist);
    }
    // Counted before any work: a playlist with more reference lines than a
    // rewrite may map is refused at once, not after signing 200 000 of them.
    let references = body.lines().filter(|l| is_reference_line(l.trim())).count();
    if references > MAX_REFERENCES {
        return Err(RewriteError::Amplification { references, output_bytes: 0 });
    }
    let mapper = Mapper::new(map, text.len());
    let mut out = String::with_capacity(mapper.capacity(text.len()));
    out.push_str(bom);
    let mut rw = Rewriter { base: Base::new(manifest_url), mapper, out, warnings: Warnings::default(), scratch: String::new(), attrs: Vec::new() };
    for (n, (line, ending)) in Lines(body).enumerate() {
        rw.line(line, n + 1)?;
        rw.out.push_str(ending);
    }
    rw.mapper.check(rw.out.len())?;
    Ok(Rewritten { text: rw.out, warnings: rw.warnings.finish() })
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
        let b = s.as_bytes();
        let (line, ending, rest) = match b.iter().position(|&c| c == b'\n' || c == b'\r') {
            None => (s, "", ""),
            Some(i) => {
                let len = if b.get(i) == Some(&b'\r') && b.get(i + 1) == Some(&b'\n') { 2 } else { 1 };
                (s.get(..i).unwrap_or(""), s.get(i..i + len).unwrap_or(""), s.get(i + len..).unwrap_or(""))
            }
        };
        self.0 = rest;
        Some((line, ending))
    }
}

struct Rewriter<'t, 'm> {
    /// The playlist URL, split once.
    base: Base<'t>,
    mapper: Mapper<'m>,
    out: String,
    warnings: Warnings,
    /// Reused buffer for resolved URLs.
    scratch: String,
    /// Reused buffer for the attributes of a tag line.
    attrs: Vec<Attr<'t>>,
}

impl<'t> Rewriter<'t, '_> {
    fn line(&mut self, line: &'t str, line_no: usize) -> Result<(), RewriteError> {
        let (lead, core, trail) = trim_parts(line);
        if core.is_empty() || (core.starts_with('#') && !core.starts_with("#EXT")) {
            self.out.push_str(line);
            return Ok(());
        }
        if !core.starts_with('#') {
            // A URI line: a segment or a variant playlist.
            match self.reference(core, line_no)? {
                Some(new) => {
                    self.out.push_str(lead);
                    self.out.push_str(&new);
                    self.out.push_str(trail);
                }
                None => self.out.push_str(line),
            }
            return Ok(());
        }
        let tag_end = core.find(':').unwrap_or(core.len());
        let tag = core.get(1..tag_end).unwrap_or("");
        let Some(attr_text) = core.get(tag_end + 1..) else {
            self.out.push_str(line);
            return Ok(());
        };
        // Every attribute looked at below has a name ending with `URI`, or
        // is one of LEFT_ALONE's (#EXTINF and most tags have neither).
        if !contains(attr_text, b"URI") && !LEFT_ALONE.iter().any(|(t, _, _)| *t == tag) {
            self.out.push_str(line);
            return Ok(());
        }
        let mut attrs = std::mem::take(&mut self.attrs);
        attrs.clear();
        parse_attributes(attr_text, &mut attrs);
        let result = self.tag_line(line, line_no, lead.len() + tag_end + 1, tag, &attrs);
        self.attrs = attrs;
        result
    }

    /// A tag line with attributes; `base` is the byte offset of the attribute list inside `line`.
    fn tag_line(&mut self, line: &str, line_no: usize, base: usize, tag: &str, attrs: &[Attr<'_>]) -> Result<(), RewriteError> {
        let wanted = URI_TAGS.iter().find(|(t, _)| *t == tag).map(|(_, a)| *a);
        let mut copied = 0;
        for a in attrs {
            let quoted = a.quoted;
            if Some(a.name) == wanted {
                if !quoted {
                    self.warnings.push(&format!("line {line_no}: unquoted {} attribute of #{tag} left unchanged", a.name));
                    continue;
                }
                let (vs, ve) = (base + a.value.0, base + a.value.1);
                let value = line.get(vs..ve).unwrap_or("");
                let (lead, core, trail) = trim_parts(value);
                if let Some(new) = self.reference(core, line_no)? {
                    if new.contains('"') {
                        return Err(RewriteError::BadMapOutput(new));
                    }
                    self.out.push_str(line.get(copied..vs).unwrap_or(""));
                    self.out.push_str(lead);
                    self.out.push_str(&new);
                    self.out.push_str(trail);
                    copied = ve;
                }
            } else if let Some((_, _, why)) = LEFT_ALONE.iter().find(|(t, n, _)| *t == tag && *n == a.name) {
                self.warnings.push(&format!("line {line_no}: {} of #{tag} left unchanged: {why}", a.name));
            } else if wanted.is_none() && a.name.ends_with("URI") && quoted {
                self.warnings.push(&format!("line {line_no}: {} attribute of unknown tag #{tag} left unchanged", a.name));
            }
        }
        self.out.push_str(line.get(copied..).unwrap_or(""));
        Ok(())
    }

    /// The proxied form of one reference (`core`, trimmed), or `None` to leave it as written.
    fn reference(&mut self, core: &str, line_no: usize) -> Result<Option<String>, RewriteError> {
        if contains(core, b"{$") {
            self.warnings.push(&format!("line {line_no}: URL uses an EXT-X-DEFINE variable and is left unchanged (cannot be resolved safely)"));
            return Ok(None);
        }
        if core.is_empty() {
            return Ok(None);
        }
        if let Some(s) = scheme_of(core) {
            if !s.eq_ignore_ascii_case("http") && !s.eq_ignore_ascii_case("https") {
                return Ok(None); // skd:, data:, urn: ... are not fetched over HTTP
            }
        }
        let mut absolute = std::mem::take(&mut self.scratch);
        absolute.clear();
        self.base.resolve_into(core, &mut absolute);
        let result = if is_http(&absolute) {
            match self.mapper.map(RefKind::Url, &absolute, self.out.len()) {
                Ok(Mapped::Link(new)) => Ok(Some(new)),
                Ok(Mapped::NoPrefix | Mapped::NoLink) => {
                    self.warnings.push(&format!("line {line_no}: reference got no proxy link; left unchanged"));
                    Ok(None)
                }
                Err(e) => Err(e),
            }
        } else {
            self.warnings.push(&format!("line {line_no}: reference does not resolve to an http(s) URL; left unchanged"));
            Ok(None)
        };
        self.scratch = absolute;
        result
    }
}

/// Whether `hay` holds `needle` (a short one; no searcher to set up).
fn contains(hay: &str, needle: &[u8]) -> bool {
    let h = hay.as_bytes();
    let Some((&first, rest)) = needle.split_first() else { return true };
    let mut i = 0;
    while let Some(at) = h.get(i..).and_then(|t| t.iter().position(|&c| c == first)).map(|p| i + p) {
        if h.get(at + 1..).is_some_and(|t| t.starts_with(rest)) {
            return true;
        }
        i = at + 1;
    }
    false
}

/// One `NAME=VALUE` of an attribute list; `value` is a byte range of the
/// value inside the list, without quotes.
struct Attr<'a> {
    name: &'a str,
    value: (usize, usize),
    quoted: bool,
}

/// Parse an HLS attribute list (RFC 8216 §4.2) leniently into `attrs`:
/// quoted strings may hold commas; malformed pieces are skipped.
fn parse_attributes<'a>(s: &'a str, attrs: &mut Vec<Attr<'a>>) {
    let bytes = s.as_bytes();
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
}

/// A line that carries a reference: a URI line, or a tag with a `URI` attribute.
fn is_reference_line(line: &str) -> bool {
    !line.is_empty() && (!line.starts_with('#') || (line.starts_with("#EXT") && line.contains("URI=")))
}
