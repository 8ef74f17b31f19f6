//! DASH MPD rewriting (see the [module docs](super) for the strategy).
//!
//! quick-xml's [`Reader`] tokenises the document and the output is built by
//! copying the raw byte span of every event, splicing new values into URL
//! attributes and URL texts only. quick-xml's `Writer` is deliberately not
//! used: it re-serialises end tags (`</a >` → `</a>`) and DOCTYPEs, and this
//! rewriter promises that every non-URL byte (comments, namespaces, attribute
//! order and quoting, whitespace, unknown elements, the XML declaration)
//! comes out unchanged. The one addition is the BaseURL of an MPD that has
//! none (rule 3 of the module docs).
//!
//! Also accepted: remote elements fetched through `xlink:href` (a `<Period>`
//! root, with a warning), and documents cut short (unclosed elements at the
//! end are reported as a warning: the rewrite of what is there is still right).
//!
//! Per element, the hot path allocates nothing: element names are matched
//! to a small enum, attributes are scanned into a reused buffer, the base a
//! reference resolves against is borrowed from the frame that declared it,
//! and resolved URLs are built in a reused buffer.

use std::borrow::Cow;

use quick_xml::escape::{unescape, EscapeError};
use quick_xml::events::Event;
use quick_xml::Reader;

use super::{
    check_manifest_url, has_empty_path, is_http, is_plain_relative, path_of, scheme_of, split_dir, trim_parts, Mapped, Mapper, RefKind, RewriteError,
    Rewritten, UrlRef, Warnings, MAX_DEPTH, MAX_MANIFEST_BYTES,
};
use crate::url::{resolve, resolve_into};

const XLINK_NS: &str = "http://www.w3.org/1999/xlink";
const RESOLVE_TO_ZERO: &str = "urn:mpeg:dash:resolve-to-zero:2013";

/// Rewrite every URL reference of a DASH MPD through `map`.
/// `manifest_url` is the MPD's absolute upstream URL.
pub fn rewrite_dash(text: &str, manifest_url: &str, map: &mut dyn FnMut(UrlRef<'_>) -> Option<String>) -> Result<Rewritten, RewriteError> {
    if text.len() > MAX_MANIFEST_BYTES {
        return Err(RewriteError::TooLarge(text.len()));
    }
    check_manifest_url(manifest_url)?;
    let mapper = Mapper::new(map, text.len());
    let mut out = String::with_capacity(mapper.capacity(text.len()));
    // quick-xml skips a leading BOM without counting it in its positions, so
    // it is copied here and the parser reads the rest.
    let text = match text.strip_prefix('\u{feff}') {
        Some(rest) => {
            out.push('\u{feff}');
            rest
        }
        None => text,
    };
    let mut rw = Rewriter {
        text,
        manifest_url,
        frames: Vec::new(),
        capture: None,
        seen_root: false,
        root: Root::Absent,
        attrs: Vec::new(),
        sink: Sink { mapper, out, warnings: Warnings::default(), scratch: String::new() },
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
                } else if !matches!(&*r, b"amp" | b"lt" | b"gt" | b"apos" | b"quot") {
                    return Err(RewriteError::UnknownEntity(String::from_utf8_lossy(&r).into_owned()));
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
        rw.sink.out.push_str(text.get(c.content_start..pos).unwrap_or(""));
    }
    rw.sink.out.push_str(text.get(pos..).unwrap_or(""));
    if !rw.frames.is_empty() {
        rw.sink.warn(&format!("document ends inside {} unclosed element(s); rewrote what is there", rw.frames.len()));
    }
    rw.sink.mapper.check(rw.sink.out.len())?;
    Ok(Rewritten { text: rw.sink.out, warnings: rw.sink.warnings.finish() })
}

/// The elements the rewriter tells apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Elem {
    Mpd,
    Period,
    AdaptationSet,
    Representation,
    BaseUrl,
    /// Location or PatchLocation.
    Location,
    SegmentTemplate,
    SegmentUrl,
    /// Initialization, RepresentationIndex or BitstreamSwitching (`sourceURL`).
    SourceUrl,
    ContentSteering,
    Other,
}

impl Elem {
    fn of(local: &str) -> Elem {
        match local.as_bytes() {
            b"MPD" => Elem::Mpd,
            b"Period" => Elem::Period,
            b"AdaptationSet" => Elem::AdaptationSet,
            b"Representation" => Elem::Representation,
            b"BaseURL" => Elem::BaseUrl,
            b"Location" | b"PatchLocation" => Elem::Location,
            b"SegmentTemplate" => Elem::SegmentTemplate,
            b"SegmentURL" => Elem::SegmentUrl,
            b"Initialization" | b"RepresentationIndex" | b"BitstreamSwitching" => Elem::SourceUrl,
            b"ContentSteering" => Elem::ContentSteering,
            _ => Elem::Other,
        }
    }

    /// A level of the BaseURL chain.
    fn is_level(self) -> bool {
        matches!(self, Elem::Mpd | Elem::Period | Elem::AdaptationSet | Elem::Representation)
    }
}

/// How the player sees a level's base.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Proxied {
    /// As upstream (not proxied): references below it are made absolute.
    No,
    /// As a proxied link standing for exactly `upstream`.
    Exact,
    /// As a proxied link standing for the *directory* of `upstream` (the
    /// BaseURL inserted for the manifest's own directory): only references
    /// with a non-empty path resolve alike against both.
    Dir,
}

#[derive(Clone, Debug)]
struct Base {
    /// The absolute upstream URL this level's references resolve against.
    upstream: String,
    proxied: Proxied,
}

impl Base {
    /// Whether a reference may stay as written below this base.
    fn keeps(&self, core: &str) -> bool {
        match self.proxied {
            Proxied::No => false,
            Proxied::Exact => is_plain_relative(core),
            Proxied::Dir => is_plain_relative(core) && !has_empty_path(core),
        }
    }
}

struct Frame {
    elem: Elem,
    /// Namespace prefixes declared on this element.
    ns: Vec<(String, String)>,
    base: Option<Base>,
    base_count: usize,
    /// A URL reference below this element was already handled.
    saw_ref: bool,
    /// A segment reference on this level was made absolute.
    absolutized_ref: bool,
    /// A segment reference on this level was kept relative.
    kept_ref: bool,
}

/// The text content of a BaseURL / Location / PatchLocation being collected.
struct Capture {
    elem: Elem,
    content_start: usize,
    /// Number of frames when the element was opened (its own frame included).
    depth: usize,
    /// Only text and entity references inside.
    plain: bool,
}

/// Whether the MPD may still get a BaseURL for the manifest's directory.
#[derive(Clone, Copy)]
enum Root<'t> {
    /// No `<MPD>` root (yet, or a remote element).
    Absent,
    /// `<MPD>` is open and has no BaseURL: one would go at output byte `at`,
    /// with the root's namespace prefix (`""` or `"p:"`).
    Open { at: usize, prefix: &'t str },
    /// Inserted, not needed, or impossible (the MPD has its own BaseURL).
    Settled,
}

/// Where the output goes: the map, the text, the warnings.
struct Sink<'m> {
    mapper: Mapper<'m>,
    out: String,
    warnings: Warnings,
    /// Reused buffer for resolved URLs.
    scratch: String,
}

struct Rewriter<'t, 'm> {
    text: &'t str,
    manifest_url: &'t str,
    frames: Vec<Frame>,
    capture: Option<Capture>,
    seen_root: bool,
    root: Root<'t>,
    /// Reused buffer for the attributes of the current tag.
    attrs: Vec<RawAttr<'t>>,
    sink: Sink<'m>,
}

/// An attribute of a raw start tag, as byte offsets into the tag.
#[derive(Clone, Copy)]
struct RawAttr<'a> {
    name: &'a str,
    value: (usize, usize),
    quote: char,
}

/// The first index at or after `from` whose byte satisfies `stop` (`b.len()` if none).
#[inline]
fn find(b: &[u8], from: usize, stop: impl Fn(u8) -> bool) -> usize {
    b.get(from..).and_then(|r| r.iter().position(|&c| stop(c))).map_or(b.len(), |p| from + p)
}

fn is_ws(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

/// Read a raw `<name ...>` or `<name .../>` tag: its qualified name, and its
/// attributes into `attrs`.
fn scan_tag<'a>(tag: &'a str, attrs: &mut Vec<RawAttr<'a>>) -> Result<&'a str, &'static str> {
    let b = tag.as_bytes();
    let mut i = find(b, 1, |c| is_ws(c) || c == b'/' || c == b'>');
    let qname = tag.get(1..i).unwrap_or("");
    loop {
        i = find(b, i, |c| !is_ws(c));
        if matches!(b.get(i), None | Some(b'>' | b'/')) {
            return Ok(qname);
        }
        let name_start = i;
        i = find(b, i, |c| is_ws(c) || matches!(c, b'=' | b'>' | b'/'));
        let name = tag.get(name_start..i).ok_or("attribute name")?;
        i = find(b, i, |c| !is_ws(c));
        if b.get(i) != Some(&b'=') {
            return Err("attribute without a value");
        }
        i = find(b, i + 1, |c| !is_ws(c));
        let quote = match b.get(i) {
            Some(&q @ (b'"' | b'\'')) => q,
            _ => return Err("unquoted attribute value"),
        };
        let start = i + 1;
        let end = find(b, start, |c| c == quote);
        if end >= b.len() {
            return Err("unterminated attribute value");
        }
        attrs.push(RawAttr { name, value: (start, end), quote: quote as char });
        i = end + 1;
    }
}

fn local(qname: &str) -> &str {
    qname.bytes().rposition(|c| c == b':').and_then(|i| qname.get(i + 1..)).unwrap_or(qname)
}

fn unescape_value(raw: &str, offset: usize) -> Result<Cow<'_, str>, RewriteError> {
    if !raw.bytes().any(|c| c == b'&') {
        return Ok(Cow::Borrowed(raw));
    }
    unescape(raw).map_err(|e| match e {
        EscapeError::UnrecognizedEntity(_, name) => RewriteError::UnknownEntity(name),
        other => RewriteError::Xml { offset: offset as u64, message: other.to_string() },
    })
}

/// Append `s` to `out` as the content of an attribute quoted with `quote`.
fn push_attr(out: &mut String, s: &str, quote: char) {
    if !s.bytes().any(|b| matches!(b, b'&' | b'<' | b'"' | b'\'')) {
        out.push_str(s);
        return;
    }
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '"' if quote == '"' => out.push_str("&quot;"),
            '\'' if quote == '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
}

/// Append `s` to `out` as element text.
fn push_text(out: &mut String, s: &str) {
    if !s.bytes().any(|b| matches!(b, b'&' | b'<' | b'>')) {
        out.push_str(s);
        return;
    }
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
}

/// Which URL attribute this is (all are resolved against the BaseURL chain).
fn url_attribute(elem: Elem, attr: &str) -> Option<RefKind> {
    match (elem, attr.as_bytes()) {
        (Elem::SegmentTemplate, b"media" | b"initialization" | b"index" | b"bitstreamSwitching") => Some(RefKind::Template),
        (Elem::SegmentUrl, b"media" | b"index") => Some(RefKind::Url),
        (Elem::SourceUrl, b"sourceURL") => Some(RefKind::Url),
        _ => None,
    }
}

/// The base that references inside `frames[..upto]` resolve against (`None`:
/// the manifest URL, not proxied), and whether BaseURL alternatives are in scope.
fn scope(frames: &[Frame], upto: usize) -> (Option<&Base>, bool) {
    let frames = frames.get(..upto).unwrap_or(frames);
    let alternatives = frames.iter().any(|f| f.base_count > 1);
    (frames.iter().rev().find_map(|f| f.base.as_ref()), alternatives)
}

/// A reference that depends on the base (no scheme, no authority of its own).
fn base_relative(core: &str) -> bool {
    scheme_of(core).is_none() && !core.starts_with("//")
}

const ALTERNATIVES: &str = "several BaseURL alternatives are in scope; references made absolute use the first";

impl Sink<'_> {
    fn warn(&mut self, w: &str) {
        self.warnings.push(w);
    }

    /// The proxied URL of one reference (`core`, trimmed) resolved against
    /// `upstream`, or `None` to keep it as written.
    fn reference(&mut self, kind: RefKind, core: &str, upstream: &str) -> Result<Option<String>, RewriteError> {
        if let Some(s) = scheme_of(core) {
            if !s.eq_ignore_ascii_case("http") && !s.eq_ignore_ascii_case("https") {
                return Ok(None); // data:, urn: ... are not fetched over HTTP
            }
        }
        let mut absolute = std::mem::take(&mut self.scratch);
        absolute.clear();
        resolve_into(upstream, core, &mut absolute);
        let result = if !is_http(&absolute) {
            self.warn(&format!("reference {core:?} does not resolve to an http(s) URL; left unchanged"));
            Ok(None)
        } else {
            match self.mapper.map(kind, &absolute, self.out.len()) {
                Ok(Mapped::Link(new)) => Ok(Some(new)),
                Ok(Mapped::NoPrefix) => {
                    self.warn(&format!("template {core:?} has an identifier before its path; left unchanged"));
                    Ok(None)
                }
                Ok(Mapped::NoLink) => {
                    self.warn(&format!("reference {core:?} got no proxy link (the proxy signs no directory at a host root); left unchanged"));
                    Ok(None)
                }
                Err(e) => Err(e),
            }
        };
        self.scratch = absolute;
        result
    }
}

impl<'t> Rewriter<'t, '_> {
    fn copy(&mut self, span: &str) {
        if self.capture.is_none() {
            self.sink.out.push_str(span);
        }
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

    /// Before `core` is resolved against `frames[..upto]`: when that would
    /// be against the manifest URL itself and `core` could stay relative
    /// below a base, give the MPD a BaseURL for the manifest's directory.
    fn settle_root(&mut self, upto: usize, core: &str) -> Result<(), RewriteError> {
        let Root::Open { at, prefix } = self.root else {
            return Ok(());
        };
        if upto == 0 || scope(&self.frames, upto).0.is_some() || !is_plain_relative(core) || has_empty_path(core) {
            return Ok(());
        }
        self.root = Root::Settled;
        let Some((dir, _)) = split_dir(self.manifest_url, None) else {
            return Ok(());
        };
        let link = match self.sink.mapper.map(RefKind::Base, &dir, self.sink.out.len())? {
            Mapped::Link(link) => link,
            // A host root: references are made absolute against the manifest URL.
            Mapped::NoPrefix | Mapped::NoLink => return Ok(()),
        };
        let mut element = format!("<{prefix}BaseURL>");
        push_text(&mut element, &link);
        element.push_str("</");
        element.push_str(prefix);
        element.push_str("BaseURL>");
        if !self.sink.out.is_char_boundary(at) {
            return Ok(());
        }
        self.sink.out.insert_str(at, &element);
        if let Some(root) = self.frames.first_mut() {
            root.base = Some(Base { upstream: self.manifest_url.to_string(), proxied: Proxied::Dir });
            root.base_count = 1;
        }
        Ok(())
    }

    fn start(&mut self, span: &'t str, end: usize, empty: bool) -> Result<(), RewriteError> {
        if self.frames.len() >= MAX_DEPTH {
            return Err(RewriteError::TooDeep);
        }
        let tag_offset = end - span.len();
        let mut attrs = std::mem::take(&mut self.attrs);
        attrs.clear();
        let qname = scan_tag(span, &mut attrs).map_err(|m| RewriteError::Xml { offset: tag_offset as u64, message: m.to_string() })?;
        let name = local(qname);
        let elem = Elem::of(name);
        let capturing = self.capture.is_some();
        let mut new_root = false;
        if let Some(c) = self.capture.as_mut() {
            c.plain = false;
        } else {
            if self.frames.is_empty() && !self.seen_root {
                self.seen_root = true;
                if elem == Elem::Mpd {
                    new_root = !empty;
                } else {
                    self.sink.warn(&format!("root element is <{name}>, not <MPD>: rewritten as a remote element"));
                }
            }
            if elem == Elem::ContentSteering {
                self.sink.warn("ContentSteering server URL left unchanged: its answers carry pathway URLs the proxy does not rewrite");
            }
        }
        let ns: Vec<(String, String)> = if attrs.iter().any(|a| a.name.as_bytes().first() == Some(&b'x') && a.name.as_bytes().starts_with(b"xmlns:")) {
            attrs
                .iter()
                .filter_map(|a| {
                    let prefix = a.name.strip_prefix("xmlns:")?;
                    let raw = span.get(a.value.0..a.value.1)?;
                    Some((prefix.to_string(), unescape(raw).map(Cow::into_owned).unwrap_or_default()))
                })
                .collect()
        } else {
            Vec::new()
        };

        // Splice new values into the tag (not inside a captured text element:
        // that content is copied as is).
        let mut copied = 0;
        if !capturing {
            for a in &attrs {
                let (kind, chained) = if let Some(k) = url_attribute(elem, a.name) {
                    (k, true)
                } else if let Some(colon) = a.name.bytes().position(|c| c == b':') {
                    let (prefix, local) = (a.name.get(..colon).unwrap_or(""), a.name.get(colon + 1..).unwrap_or(""));
                    if local == "href" && self.is_xlink_prefix(prefix, &ns) {
                        (RefKind::Url, false)
                    } else {
                        if a.name == "xml:base" {
                            self.sink.warn("xml:base is ignored: references resolve against the BaseURL chain only");
                        }
                        continue;
                    }
                } else {
                    continue;
                };
                let raw = span.get(a.value.0..a.value.1).unwrap_or("");
                let value = unescape_value(raw, tag_offset + a.value.0)?;
                let (lead, core, trail) = trim_parts(&value);
                let new = if chained {
                    for f in &mut self.frames {
                        f.saw_ref = true;
                    }
                    self.settle_root(self.frames.len(), core)?;
                    let (base, alternatives) = scope(&self.frames, self.frames.len());
                    if base.is_some_and(|b| b.keeps(core)) {
                        if let Some(level) = self.frames.iter_mut().rev().find(|f| f.elem.is_level()) {
                            level.kept_ref = true;
                        }
                        continue;
                    }
                    let upstream = base.map_or(self.manifest_url, |b| b.upstream.as_str());
                    let new = self.sink.reference(kind, core, upstream)?;
                    // Only a reference without its own scheme and host depends on the base.
                    if new.is_some() && base_relative(core) {
                        if let Some(level) = self.frames.iter_mut().rev().find(|f| f.elem.is_level()) {
                            level.absolutized_ref = true;
                        }
                        if alternatives {
                            self.sink.warn(ALTERNATIVES);
                        }
                    }
                    new
                } else {
                    if value.trim() == RESOLVE_TO_ZERO {
                        continue;
                    }
                    self.sink.reference(kind, core, self.manifest_url)?
                };
                if let Some(new) = new {
                    let out = &mut self.sink.out;
                    out.push_str(span.get(copied..a.value.0).unwrap_or(""));
                    out.push_str(lead);
                    push_attr(out, &new, a.quote);
                    out.push_str(trail);
                    copied = a.value.1;
                }
            }
        }
        self.attrs = attrs;
        if copied == 0 {
            self.copy(span);
        } else {
            self.sink.out.push_str(span.get(copied..).unwrap_or(""));
        }
        if new_root {
            let prefix = qname.get(..qname.len() - name.len()).unwrap_or("");
            self.root = Root::Open { at: self.sink.out.len(), prefix };
        }

        match elem {
            Elem::BaseUrl | Elem::Location if !capturing => {
                if empty {
                    if elem == Elem::BaseUrl && !self.frames.is_empty() {
                        // `<BaseURL/>` adds nothing to the chain: the level keeps
                        // its parent's base, proxied or not.
                        let level = self.frames.len() - 1;
                        let inherited = scope(&self.frames, level).0.cloned();
                        self.record_base(level, inherited);
                    }
                } else {
                    self.frames.push(Frame { elem, ns, base: None, base_count: 0, saw_ref: false, absolutized_ref: false, kept_ref: false });
                    self.capture = Some(Capture { elem, content_start: end, depth: self.frames.len(), plain: true });
                }
            }
            _ => {
                if !empty {
                    self.frames.push(Frame { elem, ns, base: None, base_count: 0, saw_ref: false, absolutized_ref: false, kept_ref: false });
                }
            }
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
                    self.sink.out.push_str(raw);
                    self.sink.warn("URL element with markup inside left unchanged");
                    if c.elem == Elem::BaseUrl && self.frames.len() >= 2 {
                        let level = self.frames.len() - 2;
                        self.record_base(level, None);
                    }
                }
            } else {
                self.capture = Some(c);
            }
        }
        self.frames.pop();
        if self.frames.is_empty() {
            // The root is closed: nothing more goes into it.
            self.root = Root::Settled;
        }
        self.copy(span);
        Ok(())
    }

    /// Rewrite the raw content of a BaseURL / Location / PatchLocation whose
    /// frame is on top of the stack, and write it out.
    fn finish_text(&mut self, elem: Elem, raw: &str, offset: usize) -> Result<(), RewriteError> {
        let value = unescape_value(raw, offset)?;
        let (lead, core, trail) = trim_parts(&value);
        if elem != Elem::BaseUrl {
            match self.sink.reference(RefKind::Url, core, self.manifest_url)? {
                Some(new) => {
                    self.sink.out.push_str(lead);
                    push_text(&mut self.sink.out, &new);
                    self.sink.out.push_str(trail);
                }
                None => self.sink.out.push_str(raw),
            }
            return Ok(());
        }
        // The BaseURL's own frame is on top; its level is just below (a
        // BaseURL as the root element has no level to apply to).
        let has_level = self.frames.len() >= 2;
        let level = self.frames.len().saturating_sub(2);
        if has_level && level == 0 {
            // The MPD's own BaseURL: nothing to insert.
            if let Root::Open { .. } = self.root {
                self.root = Root::Settled;
            }
        }
        self.settle_root(level, core)?;
        let (base, alternatives) = scope(&self.frames, level);
        if has_level && self.frames.get(level).is_some_and(|f| f.saw_ref) {
            self.sink.warn("a BaseURL follows references of the same element; they were resolved without it");
        }
        if self.frames.get(..level).is_some_and(|fs| fs.iter().any(|f| f.absolutized_ref)) {
            self.sink.warn("a reference on an enclosing element was made absolute, so it does not follow a BaseURL declared further in");
        }
        let keeps = base.is_some_and(|b| b.keeps(core));
        let absolute = resolve(base.map_or(self.manifest_url, |b| b.upstream.as_str()), core);
        let out = &mut self.sink;
        let base = if scheme_of(core).is_some() && !is_http(core) || !is_http(&absolute) {
            out.warn(&format!("BaseURL {core:?} is not an http(s) URL; left unchanged"));
            out.out.push_str(raw);
            Base { upstream: absolute, proxied: Proxied::No }
        } else if keeps {
            out.out.push_str(raw);
            Base { upstream: absolute, proxied: Proxied::Exact }
        } else {
            if alternatives && base_relative(core) {
                out.warn(ALTERNATIVES);
            }
            match out.mapper.map(RefKind::Base, &absolute, out.out.len())? {
                Mapped::Link(new) => {
                    out.out.push_str(lead);
                    push_text(&mut out.out, &new);
                    out.out.push_str(trail);
                    Base { upstream: absolute, proxied: Proxied::Exact }
                }
                Mapped::NoPrefix | Mapped::NoLink => {
                    // No directory link (a host root): every reference below is
                    // made absolute. A file may be fetched itself (SegmentBase):
                    // it gets its own exact link; a directory stays as written.
                    let link = if path_of(&absolute).ends_with('/') || path_of(&absolute).is_empty() {
                        None
                    } else {
                        match out.mapper.map(RefKind::Url, &absolute, out.out.len())? {
                            Mapped::Link(new) => Some(new),
                            Mapped::NoPrefix | Mapped::NoLink => None,
                        }
                    };
                    match link {
                        Some(new) => {
                            out.out.push_str(lead);
                            push_text(&mut out.out, &new);
                            out.out.push_str(trail);
                        }
                        None => out.out.push_str(raw),
                    }
                    if self.frames.get(..level).is_some_and(|fs| fs.iter().any(|f| f.kept_ref)) {
                        out.warn("a reference kept relative on an enclosing element resolves against a BaseURL the proxy cannot sign as a directory (a host root), so it cannot be fetched through the proxy");
                    }
                    Base { upstream: absolute, proxied: Proxied::No }
                }
            }
        };
        if has_level {
            self.record_base(level, Some(base));
        }
        Ok(())
    }

    /// Note a BaseURL of the level `frames[level]` (`None`: unusable).
    fn record_base(&mut self, level: usize, base: Option<Base>) {
        let base = base.unwrap_or_else(|| {
            let upstream = scope(&self.frames, level).0.map_or(self.manifest_url, |b| b.upstream.as_str());
            Base { upstream: upstream.to_string(), proxied: Proxied::No }
        });
        if let Some(f) = self.frames.get_mut(level) {
            f.base_count += 1;
            if f.base.is_none() {
                f.base = Some(base);
            }
        }
    }
}
