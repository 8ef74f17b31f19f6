//! DASH MPD rewriting (see the [module docs](super) for the strategy).
//!
//! quick-xml's [`Reader`] tokenises the document and the output is built by
//! copying the raw byte span of every event, splicing new values into URL
//! attributes and URL texts only. quick-xml's `Writer` is deliberately not
//! used: it re-serialises end tags (`</a >` → `</a>`) and DOCTYPEs, and this
//! rewriter promises that every non-URL byte (comments, namespaces, attribute
//! order and quoting, whitespace, unknown elements, the XML declaration)
//! comes out unchanged.
//!
//! Also accepted: remote elements fetched through `xlink:href` (a `<Period>`
//! root, with a warning), and documents cut short (unclosed elements at the
//! end are reported as a warning: the rewrite of what is there is still right).

use std::borrow::Cow;

use quick_xml::escape::{unescape, EscapeError};
use quick_xml::events::Event;
use quick_xml::Reader;

use super::{
    check_manifest_url, is_http, is_plain_relative, map_url, scheme_of, trim_parts, RefKind, RewriteError, Rewritten, UrlRef, Warnings, MAX_DEPTH,
    MAX_MANIFEST_BYTES,
};
use crate::url::resolve;

const XLINK_NS: &str = "http://www.w3.org/1999/xlink";
const RESOLVE_TO_ZERO: &str = "urn:mpeg:dash:resolve-to-zero:2013";
/// Elements that may carry BaseURL children (the levels of the chain).
const LEVELS: &[&str] = &["MPD", "Period", "AdaptationSet", "Representation"];

/// Rewrite every URL reference of a DASH MPD through `map`.
/// `manifest_url` is the MPD's absolute upstream URL.
pub fn rewrite_dash(text: &str, manifest_url: &str, map: &mut dyn FnMut(UrlRef<'_>) -> String) -> Result<Rewritten, RewriteError> {
    if text.len() > MAX_MANIFEST_BYTES {
        return Err(RewriteError::TooLarge(text.len()));
    }
    check_manifest_url(manifest_url)?;
    // quick-xml skips a leading BOM without counting it in its positions, so
    // it is copied here and the parser reads the rest.
    let (bom, text) = match text.strip_prefix('\u{feff}') {
        Some(rest) => ("\u{feff}", rest),
        None => ("", text),
    };
    let mut rw = Rewriter {
        text,
        manifest_url,
        map,
        out: String::with_capacity(text.len() + text.len() / 2) + bom,
        frames: Vec::new(),
        capture: None,
        seen_root: false,
        warnings: Warnings::default(),
    };
    let mut reader = Reader::from_str(text);
    let mut pos = 0usize;
    loop {
        let event = reader.read_event().map_err(|e| RewriteError::Xml { offset: reader.error_position(), message: e.to_string() })?;
        let end = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX).min(text.len()).max(pos);
        let span = text.get(pos..end).ok_or_else(|| RewriteError::Xml { offset: pos as u64, message: "event boundary inside a character".into() })?;
        match event {
            Event::Eof => break,
            Event::DocType(_) => return Err(RewriteError::Doctype),
            Event::Start(_) => rw.start(span, end, false)?,
            Event::Empty(_) => rw.start(span, end, true)?,
            Event::End(_) => rw.end(span, pos)?,
            Event::GeneralRef(r) => {
                if r.is_char_ref() {
                    match r.resolve_char_ref() {
                        Ok(Some(_)) => {}
                        _ => return Err(RewriteError::Xml { offset: pos as u64, message: format!("invalid character reference {span}") }),
                    }
                } else {
                    let name = String::from_utf8_lossy(&r).into_owned();
                    if !matches!(name.as_str(), "amp" | "lt" | "gt" | "apos" | "quot") {
                        return Err(RewriteError::UnknownEntity(name));
                    }
                }
                rw.copy(span);
            }
            Event::Comment(_) | Event::CData(_) | Event::PI(_) => {
                if let Some(c) = rw.capture.as_mut() {
                    c.plain = false;
                }
                rw.copy(span);
            }
            Event::Text(_) | Event::Decl(_) => rw.copy(span),
        }
        pos = end;
    }
    if let Some(c) = rw.capture.take() {
        rw.out.push_str(text.get(c.content_start..pos).unwrap_or(""));
    }
    rw.out.push_str(text.get(pos..).unwrap_or(""));
    if !rw.frames.is_empty() {
        rw.warnings.push(format!("document ends inside {} unclosed element(s); rewrote what is there", rw.frames.len()));
    }
    Ok(Rewritten { text: rw.out, warnings: rw.warnings.finish() })
}

#[derive(Clone, Debug)]
struct Base {
    /// The absolute upstream URL of this level's first BaseURL.
    upstream: String,
    /// Whether the player sees a proxied URL for it.
    proxied: bool,
}

struct Frame {
    name: String,
    /// Namespace prefixes declared on this element.
    ns: Vec<(String, String)>,
    base: Option<Base>,
    base_count: usize,
    /// A URL reference below this element was already handled.
    saw_ref: bool,
    /// A segment reference on this level was made absolute.
    absolutized_ref: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum TextElem {
    BaseUrl,
    Location,
}

/// The text content of a BaseURL / Location / PatchLocation being collected.
struct Capture {
    elem: TextElem,
    content_start: usize,
    /// Number of frames when the element was opened (its own frame included).
    depth: usize,
    /// Only text and entity references inside.
    plain: bool,
}

/// The base a reference resolves against.
struct Scope {
    upstream: String,
    proxied: bool,
    alternatives: bool,
}

struct Rewriter<'t, 'm> {
    text: &'t str,
    manifest_url: &'t str,
    map: &'m mut dyn FnMut(UrlRef<'_>) -> String,
    out: String,
    frames: Vec<Frame>,
    capture: Option<Capture>,
    seen_root: bool,
    warnings: Warnings,
}

/// An attribute of a raw start tag, as byte offsets into the tag.
struct RawAttr<'a> {
    name: &'a str,
    value: (usize, usize),
    quote: char,
}

/// Find the attributes of a raw `<name ...>` or `<name .../>` tag.
fn scan_attributes(tag: &str) -> Result<Vec<RawAttr<'_>>, &'static str> {
    let b = tag.as_bytes();
    let at = |i: usize| b.get(i).copied().unwrap_or(b'>');
    let is_ws = |c: u8| matches!(c, b' ' | b'\t' | b'\r' | b'\n');
    let mut i = 1;
    while !is_ws(at(i)) && at(i) != b'/' && at(i) != b'>' {
        i += 1;
    }
    let mut attrs = Vec::new();
    loop {
        while is_ws(at(i)) {
            i += 1;
        }
        if matches!(at(i), b'>' | b'/') || i >= b.len() {
            return Ok(attrs);
        }
        let name_start = i;
        while !is_ws(at(i)) && !matches!(at(i), b'=' | b'>' | b'/') {
            i += 1;
        }
        let name = tag.get(name_start..i).ok_or("attribute name")?;
        while is_ws(at(i)) {
            i += 1;
        }
        if at(i) != b'=' {
            return Err("attribute without a value");
        }
        i += 1;
        while is_ws(at(i)) {
            i += 1;
        }
        let quote = at(i);
        if quote != b'"' && quote != b'\'' {
            return Err("unquoted attribute value");
        }
        let start = i + 1;
        let len = b.get(start..).and_then(|r| r.iter().position(|&c| c == quote)).ok_or("unterminated attribute value")?;
        attrs.push(RawAttr { name, value: (start, start + len), quote: quote as char });
        i = start + len + 1;
    }
}

fn local(qname: &str) -> &str {
    qname.rsplit(':').next().unwrap_or(qname)
}

fn unescape_value(raw: &str, offset: usize) -> Result<Cow<'_, str>, RewriteError> {
    unescape(raw).map_err(|e| match e {
        EscapeError::UnrecognizedEntity(_, name) => RewriteError::UnknownEntity(name),
        other => RewriteError::Xml { offset: offset as u64, message: other.to_string() },
    })
}

fn escape_attr(s: &str, quote: char) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '"' if quote == '"' => out.push_str("&quot;"),
            '\'' if quote == '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

fn escape_text(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// Which URL attribute this is: (kind, resolved against the BaseURL chain?).
fn url_attribute(elem: &str, attr: &str) -> Option<RefKind> {
    match (elem, attr) {
        ("SegmentTemplate", "media" | "initialization" | "index" | "bitstreamSwitching") => Some(RefKind::Template),
        ("SegmentURL", "media" | "index") => Some(RefKind::Url),
        ("Initialization" | "RepresentationIndex" | "BitstreamSwitching", "sourceURL") => Some(RefKind::Url),
        _ => None,
    }
}

impl Rewriter<'_, '_> {
    fn copy(&mut self, span: &str) {
        if self.capture.is_none() {
            self.out.push_str(span);
        }
    }

    fn warn(&mut self, w: String) {
        self.warnings.push(w);
    }

    /// The base that references inside `frames[..upto]` resolve against.
    fn scope(&self, upto: usize) -> Scope {
        let frames = self.frames.get(..upto).unwrap_or(&self.frames);
        let alternatives = frames.iter().any(|f| f.base_count > 1);
        match frames.iter().rev().find_map(|f| f.base.as_ref()) {
            Some(b) => Scope { upstream: b.upstream.clone(), proxied: b.proxied, alternatives },
            None => Scope { upstream: self.manifest_url.to_string(), proxied: false, alternatives },
        }
    }

    fn document_scope(&self) -> Scope {
        Scope { upstream: self.manifest_url.to_string(), proxied: false, alternatives: false }
    }

    /// Whether the namespace prefix is bound to XLink here (`extra` holds the
    /// current element's own declarations). An unbound `xlink` prefix counts.
    fn is_xlink_prefix(&self, prefix: &str, extra: &[(String, String)]) -> bool {
        let bound = extra.iter().rev().chain(self.frames.iter().rev().flat_map(|f| f.ns.iter().rev())).find(|(p, _)| p == prefix).map(|(_, uri)| uri.as_str());
        match bound {
            Some(uri) => uri == XLINK_NS,
            None => prefix == "xlink",
        }
    }

    fn start(&mut self, span: &str, end: usize, empty: bool) -> Result<(), RewriteError> {
        if self.frames.len() >= MAX_DEPTH {
            return Err(RewriteError::TooDeep);
        }
        let tag_offset = end - span.len();
        let attrs = scan_attributes(span).map_err(|m| RewriteError::Xml { offset: tag_offset as u64, message: m.to_string() })?;
        let qname_end = span.find(|c: char| c.is_ascii_whitespace() || c == '/' || c == '>').unwrap_or(span.len());
        let name = local(span.get(1..qname_end).unwrap_or("")).to_string();
        if self.capture.is_some() {
            if let Some(c) = self.capture.as_mut() {
                c.plain = false;
            }
        } else {
            if self.frames.is_empty() && !self.seen_root {
                self.seen_root = true;
                if name != "MPD" {
                    self.warn(format!("root element is <{name}>, not <MPD>: rewritten as a remote element"));
                }
            }
            if name == "ContentSteering" {
                self.warn("ContentSteering server URL left unchanged: its answers carry pathway URLs the proxy does not rewrite".into());
            }
        }
        let ns: Vec<(String, String)> = attrs
            .iter()
            .filter_map(|a| {
                let prefix = a.name.strip_prefix("xmlns:")?;
                let raw = span.get(a.value.0..a.value.1)?;
                Some((prefix.to_string(), unescape(raw).map(Cow::into_owned).unwrap_or_default()))
            })
            .collect();

        // Splice new values into the tag (not inside a captured text element:
        // that content is copied as is).
        let mut tag = String::new();
        let mut copied = 0;
        if self.capture.is_none() {
            for a in &attrs {
                let (kind, chained) = if let Some(k) = url_attribute(&name, a.name) {
                    (k, true)
                } else if let Some((prefix, "href")) = a.name.split_once(':') {
                    if !self.is_xlink_prefix(prefix, &ns) {
                        continue;
                    }
                    (RefKind::Url, false)
                } else {
                    if a.name == "xml:base" {
                        self.warn("xml:base is ignored: references resolve against the BaseURL chain only".into());
                    }
                    continue;
                };
                let raw = span.get(a.value.0..a.value.1).unwrap_or("");
                let value = unescape_value(raw, tag_offset + a.value.0)?;
                if !chained && value.trim() == RESOLVE_TO_ZERO {
                    continue;
                }
                let scope = if chained { self.scope(self.frames.len()) } else { self.document_scope() };
                if let Some(new) = self.reference(kind, &value, &scope, chained)? {
                    tag.push_str(span.get(copied..a.value.0).unwrap_or(""));
                    tag.push_str(&escape_attr(&new, a.quote));
                    copied = a.value.1;
                }
            }
        }
        if copied == 0 {
            self.copy(span);
        } else {
            tag.push_str(span.get(copied..).unwrap_or(""));
            self.out.push_str(&tag);
        }

        self.frames.push(Frame { name, ns, base: None, base_count: 0, saw_ref: false, absolutized_ref: false });
        let elem = match self.frames.last().map(|f| f.name.as_str()) {
            Some("BaseURL") => Some(TextElem::BaseUrl),
            Some("Location" | "PatchLocation") => Some(TextElem::Location),
            _ => None,
        };
        if let (Some(elem), None) = (elem, self.capture.as_ref()) {
            if empty {
                if elem == TextElem::BaseUrl {
                    // `<BaseURL/>` adds nothing to the chain: the level keeps
                    // its parent's base, proxied or not.
                    let inherited = self.scope(self.frames.len().saturating_sub(2));
                    self.record_base(Some(Base { upstream: inherited.upstream, proxied: inherited.proxied }));
                }
            } else {
                self.capture = Some(Capture { elem, content_start: end, depth: self.frames.len(), plain: true });
            }
        }
        if empty {
            self.frames.pop();
        }
        Ok(())
    }

    fn end(&mut self, span: &str, start: usize) -> Result<(), RewriteError> {
        if let Some(c) = self.capture.take() {
            if c.depth == self.frames.len() {
                let raw = self.text.get(c.content_start..start).unwrap_or("");
                if c.plain {
                    self.finish_text(c.elem, raw, c.content_start)?;
                } else {
                    self.out.push_str(raw);
                    self.warn("URL element with markup inside left unchanged".into());
                    if c.elem == TextElem::BaseUrl {
                        self.record_base(None);
                    }
                }
            } else {
                self.capture = Some(c);
            }
        }
        self.frames.pop();
        self.copy(span);
        Ok(())
    }

    /// Rewrite the raw content of a BaseURL / Location / PatchLocation whose
    /// frame is on top of the stack, and write it out.
    fn finish_text(&mut self, elem: TextElem, raw: &str, offset: usize) -> Result<(), RewriteError> {
        let value = unescape_value(raw, offset)?;
        match elem {
            TextElem::Location => {
                let scope = self.document_scope();
                match self.reference(RefKind::Url, &value, &scope, false)? {
                    Some(new) => self.out.push_str(&escape_text(&new)),
                    None => self.out.push_str(raw),
                }
            }
            TextElem::BaseUrl => {
                // The BaseURL's own frame is on top; its level is just below.
                let level = self.frames.len().saturating_sub(2);
                let scope = self.scope(level);
                if self.frames.get(level).is_some_and(|f| f.saw_ref) && self.frames.len() >= 2 {
                    self.warn("a BaseURL follows references of the same element; they were resolved without it".into());
                }
                if self.frames.get(..level).is_some_and(|fs| fs.iter().any(|f| f.absolutized_ref)) {
                    self.warn("a reference on an enclosing element was made absolute, so it does not follow a BaseURL declared further in".into());
                }
                let (lead, core, trail) = trim_parts(&value);
                let absolute = resolve(&scope.upstream, core);
                let base = if scheme_of(core).is_some() && !is_http(core) || !is_http(&absolute) {
                    self.warn(format!("BaseURL {core:?} is not an http(s) URL; left unchanged"));
                    self.out.push_str(raw);
                    Base { upstream: absolute, proxied: false }
                } else if is_plain_relative(core) && scope.proxied {
                    self.out.push_str(raw);
                    Base { upstream: absolute, proxied: true }
                } else {
                    if scope.alternatives && scheme_of(core).is_none() && !core.starts_with("//") {
                        self.warn("several BaseURL alternatives are in scope; references made absolute use the first".into());
                    }
                    match map_url(RefKind::Base, &absolute, self.map)? {
                        Some(new) => {
                            self.out.push_str(lead);
                            self.out.push_str(&escape_text(&new));
                            self.out.push_str(trail);
                            Base { upstream: absolute, proxied: true }
                        }
                        None => {
                            self.out.push_str(raw);
                            Base { upstream: absolute, proxied: false }
                        }
                    }
                };
                self.record_base(Some(base));
            }
        }
        Ok(())
    }

    /// Note a BaseURL on the level below the top frame (`None`: unusable).
    fn record_base(&mut self, base: Option<Base>) {
        let level = self.frames.len().saturating_sub(2);
        if self.frames.len() < 2 {
            return; // a BaseURL as the root element has no level to apply to
        }
        let inherited = self.scope(level);
        if let Some(f) = self.frames.get_mut(level) {
            f.base_count += 1;
            if f.base.is_none() {
                f.base = Some(base.unwrap_or(Base { upstream: inherited.upstream, proxied: false }));
            }
        }
    }

    /// The new text of one reference, or `None` to keep it as written.
    /// `chained`: resolved against the BaseURL chain (a segment reference).
    fn reference(&mut self, kind: RefKind, value: &str, scope: &Scope, chained: bool) -> Result<Option<String>, RewriteError> {
        let (lead, core, trail) = trim_parts(value);
        if chained {
            for f in &mut self.frames {
                f.saw_ref = true;
            }
        }
        if let Some(s) = scheme_of(core) {
            if !s.eq_ignore_ascii_case("http") && !s.eq_ignore_ascii_case("https") {
                return Ok(None); // data:, urn: ... are not fetched over HTTP
            }
        }
        if chained && scope.proxied && is_plain_relative(core) {
            return Ok(None);
        }
        let absolute = resolve(&scope.upstream, core);
        if !is_http(&absolute) {
            self.warn(format!("reference {core:?} does not resolve to an http(s) URL; left unchanged"));
            return Ok(None);
        }
        let Some(new) = map_url(kind, &absolute, self.map)? else {
            self.warn(format!("template {core:?} has an identifier before its path; left unchanged"));
            return Ok(None);
        };
        // Only a reference without its own scheme and host depends on the base.
        if chained && scheme_of(core).is_none() && !core.starts_with("//") {
            if let Some(level) = self.frames.iter_mut().rev().find(|f| LEVELS.contains(&f.name.as_str())) {
                level.absolutized_ref = true;
            }
            if scope.alternatives {
                self.warn("several BaseURL alternatives are in scope; references made absolute use the first".into());
            }
        }
        Ok(Some(format!("{lead}{new}{trail}")))
    }
}
