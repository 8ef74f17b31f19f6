//! Manifest rewriting for the media proxy: every URL a player would fetch from
//! an HLS playlist or a DASH MPD is pointed at the proxy, and every other byte
//! of the manifest is left exactly as it was.
//!
//! The proxied URL format belongs to the caller: both rewriters hand each
//! reference to a `map` function as a [`UrlRef`] and splice in whatever it
//! returns. [`crate::proxy::sign::Linker`] is the map the worker uses. The
//! map may give no link (`None`): the `Linker` never signs a host root
//! (`https://h/`) as a directory.
//!
//! # Strategy (DASH): proxied bases, relative references kept
//!
//! A DASH player builds most URLs itself: it expands `$Number$`-style
//! templates and resolves them against the BaseURL chain (MPD → Period →
//! AdaptationSet → Representation). A proxy URL that carries one encoded,
//! signed upstream URL cannot survive that: the signature would cover the
//! literal template. So the signature covers a *prefix* (a directory), and
//! the proxy accepts any request below a signed prefix. The rule is:
//!
//! 1. Every reference is resolved (RFC 3986, [`crate::url::resolve`]) against
//!    the upstream BaseURL chain, using the first BaseURL of each level, and
//!    against the manifest URL above the chain.
//! 2. A reference that is a *plain relative path* (no scheme, no leading `/`,
//!    no `.`/`..` segment, no backslash or whitespace) and sits under a
//!    BaseURL that is itself proxied is **left as written**: the player
//!    resolves it against the proxied BaseURL, which lands below the same
//!    signed prefix. This keeps templates expandable, keeps every BaseURL
//!    alternative (CDN failover, content steering) working, and keeps a
//!    template declared on an AdaptationSet correct for Representations that
//!    declare their own BaseURL.
//! 3. An MPD without a BaseURL of its own gets one: when the first plain
//!    relative reference (or BaseURL) that would resolve against the
//!    manifest URL itself is met, a `<BaseURL>` holding the proxied link of
//!    the manifest's directory ([`RefKind::Base`]) is inserted right after
//!    the `<MPD ...>` start tag. Rule 2 then applies everywhere below it: a
//!    relative reference resolves against that directory exactly as it
//!    resolved against the manifest URL upstream (RFC 3986 merges with the
//!    base's directory), and it still follows any BaseURL declared further
//!    in. It also makes the rewrite independent of the URL the player loaded
//!    the manifest from (after a redirect, the manifest URL given here is
//!    the final one). References with an empty path (`""`, `?q`, `#f`)
//!    resolve against the manifest file itself, so they are made absolute
//!    instead. When the manifest's directory is a host root the map gives
//!    it no link, nothing is inserted, and rule 4 applies, with the known
//!    limit below.
//! 4. Every other reference (absolute, root-relative, with dot segments, or
//!    with no proxied BaseURL in scope) is replaced by the proxied absolute
//!    form of its resolved URL. Templates are split so that everything from
//!    the directory holding the first `$` on is appended raw after the signed
//!    prefix ([`RefKind::Template`]), so the player still expands it.
//! 5. A BaseURL the map gives no directory link (one at a host root) is not
//!    proxied as a base: every reference below it is made absolute on its
//!    own (rule 4). If it names a file (its path does not end with `/`),
//!    the player may fetch it itself (SegmentBase, on-demand profile), so it
//!    is linked as that one URL ([`RefKind::Url`]); a directory is left as
//!    written (nothing fetches it).
//!
//! Location, PatchLocation and `xlink:href` are resolved against the
//! manifest URL (as shaka-player does) and always made absolute.
//!
//! Known limits, reported as warnings: a reference made absolute on an outer
//! element cannot follow a BaseURL declared further in (one attribute holds
//! one URL), and it uses the first of several BaseURL alternatives; a
//! reference kept relative on an outer element cannot be fetched through
//! the proxy below a BaseURL that has no directory link (rule 5).
//!
//! # HLS
//!
//! HLS has no base chain: every URI line and `URI="..."` attribute is resolved
//! against the playlist URL and replaced by its proxied absolute form
//! ([`RefKind::Url`]). Lines with `{$var}` references are left alone with a
//! warning: the variable's value is not known here.
//!
//! # Safety
//!
//! Inputs above [`MAX_MANIFEST_BYTES`] are refused before any parsing. DASH is
//! read with quick-xml, which never expands entities; a `<!DOCTYPE` is refused
//! with [`RewriteError::Doctype`] (MPDs never need one, and passing an
//! internal subset on would let the player's XML parser expand it — a
//! billion-laughs document therefore fails at once). Element nesting is
//! bounded by [`MAX_DEPTH`], one URL by [`MAX_URL_BYTES`]. Nothing panics on
//! any input; everything is linear in the input size.
//!
//! No amplification: a rewrite maps at most [`MAX_REFERENCES`] references
//! and writes at most [`MAX_OUTPUT_RATIO`] × the input + [`MAX_OUTPUT_SLACK`]
//! bytes, never more than [`MAX_OUTPUT_BYTES`]; past either bound it stops
//! at once with [`RewriteError::Amplification`] (a playlist of 2-byte lines
//! would otherwise grow ~65-fold, each line a signed link).

pub mod dash;
pub mod hls;

pub use dash::rewrite_dash;
pub use hls::rewrite_hls;

#[cfg(test)]
mod tests;

use std::borrow::Cow;

/// Largest manifest accepted (bytes).
pub const MAX_MANIFEST_BYTES: usize = 16 * 1024 * 1024;
/// Deepest XML element nesting accepted.
pub const MAX_DEPTH: usize = 64;
/// Longest single http(s) URL reference accepted (bytes, after unescaping).
pub const MAX_URL_BYTES: usize = 64 * 1024;
/// Most warnings kept; later ones are counted in a final summary line.
pub const MAX_WARNINGS: usize = 64;
/// Most references one rewrite hands to the map (each may cost a signature):
/// over three times a 60 000-segment VOD playlist, and as many as the
/// player's parser takes in one Representation (`mpd::MAX_SEGMENTS`).
pub const MAX_REFERENCES: usize = 200_000;
/// Output bytes allowed per input byte (plus [`MAX_OUTPUT_SLACK`]). With
/// the worker's links (a long origin, a 22-character room), the corpus
/// grows at most 6.5-fold (a 273-byte playlist; 4.2-fold above 2 KB) and a
/// 60 000-segment VOD playlist 5.6-fold; short segment lines below a long
/// tokenised directory could reach ~11-fold.
pub const MAX_OUTPUT_RATIO: usize = 16;
/// Output bytes allowed on top of [`MAX_OUTPUT_RATIO`] × the input, so that
/// small manifests with long links are never refused.
pub const MAX_OUTPUT_SLACK: usize = 1024 * 1024;
/// Largest output ever written, whatever the input: with the 16 MiB input
/// bound, at most 32 MiB of one request's manifest is held at once (the
/// Workers isolate has 128 MB). A 60 000-segment VOD playlist (100 hours of
/// 6 s segments) rewrites to 13.8 MB; about 70 000 segments fit.
pub const MAX_OUTPUT_BYTES: usize = 16 * 1024 * 1024;

/// The result of a rewrite: the new manifest and what looked wrong in it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rewritten {
    pub text: String,
    /// Suspicious-but-survivable findings, one sentence each.
    pub warnings: Vec<String>,
}

/// How a reference is used by a player, which decides how it may be proxied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefKind {
    /// Fetched exactly as written: HLS URIs, SegmentURL, `sourceURL`,
    /// Location, PatchLocation, `xlink:href`, a BaseURL that names a file at
    /// a host root. `rest` is empty.
    Url,
    /// A DASH BaseURL: fetched itself (SegmentBase) and used as the base that
    /// relative references are resolved against; also the BaseURL inserted
    /// for an MPD's own directory.
    Base,
    /// A SegmentTemplate attribute: `rest` holds `$...$` identifiers the
    /// player expands after the URL is written.
    Template,
}

/// One reference handed to the caller's map function: the absolute upstream
/// URL is `prefix + rest`.
///
/// For [`RefKind::Url`], `prefix` is the whole URL and `rest` is empty.
/// For [`RefKind::Base`] and [`RefKind::Template`], `prefix` is an absolute
/// http(s) directory URL (ends with `/`, no query, no fragment; for a
/// template, no `$`) and `rest` is the remainder, to be appended *verbatim*. The map must then
/// return a URL of the form `D + rest`, where `D` is a directory URL (ending
/// with `/`) standing for `prefix`, and must accept any request below `D` as
/// the same path below `prefix`: players append expanded templates and
/// resolve relative references against it. It may instead return `None`
/// (no link: the reference is left as written or handled as described in
/// the [module docs](self)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UrlRef<'a> {
    pub kind: RefKind,
    pub prefix: &'a str,
    pub rest: &'a str,
}

impl UrlRef<'_> {
    /// The absolute upstream URL this reference stands for.
    pub fn upstream(&self) -> String {
        format!("{}{}", self.prefix, self.rest)
    }
}

/// Why a manifest could not be rewritten.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RewriteError {
    /// The input is larger than [`MAX_MANIFEST_BYTES`].
    TooLarge(usize),
    /// Elements nest deeper than [`MAX_DEPTH`].
    TooDeep,
    /// The document has a DOCTYPE (DTDs and entity definitions are refused).
    Doctype,
    /// A reference to an entity that is not one of XML's five predefined ones.
    UnknownEntity(String),
    /// Malformed XML, with the byte offset where it was found.
    Xml { offset: u64, message: String },
    /// The text does not start with `#EXTM3U`.
    NotAPlaylist,
    /// The manifest URL is not an absolute http(s) URL.
    BadManifestUrl(String),
    /// A URL reference longer than [`MAX_URL_BYTES`].
    UrlTooLong(usize),
    /// The map function returned something that cannot be written back
    /// (empty, control characters, or a quote inside an HLS attribute).
    BadMapOutput(String),
    /// A URL reference holds a control character (XML and URLs allow none):
    /// refused whatever the map would do with it.
    ControlCharacter,
    /// The rewrite would map more than [`MAX_REFERENCES`] references or
    /// write more than its output bound ([`MAX_OUTPUT_RATIO`] × the input +
    /// [`MAX_OUTPUT_SLACK`], at most [`MAX_OUTPUT_BYTES`]); it stopped there.
    /// `references` were mapped and `output_bytes` written when it stopped.
    Amplification { references: usize, output_bytes: usize },
}

impl std::fmt::Display for RewriteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RewriteError::TooLarge(n) => write!(f, "manifest too large ({n} bytes, limit {MAX_MANIFEST_BYTES})"),
            RewriteError::TooDeep => write!(f, "manifest nested deeper than {MAX_DEPTH} elements"),
            RewriteError::Doctype => write!(f, "manifest has a DOCTYPE; DTDs and entity definitions are refused"),
            RewriteError::UnknownEntity(e) => write!(f, "reference to undefined entity `&{e};`"),
            RewriteError::Xml { offset, message } => write!(f, "malformed XML at byte {offset}: {message}"),
            RewriteError::NotAPlaylist => write!(f, "not an HLS playlist (no #EXTM3U header)"),
            RewriteError::BadManifestUrl(u) => write!(f, "manifest URL is not an absolute http(s) URL: {u:?}"),
            RewriteError::UrlTooLong(n) => write!(f, "URL reference of {n} bytes exceeds the {MAX_URL_BYTES}-byte limit"),
            RewriteError::BadMapOutput(u) => write!(f, "map function returned an unusable URL: {u:?}"),
            RewriteError::ControlCharacter => write!(f, "a URL reference holds a control character"),
            RewriteError::Amplification { references, output_bytes } => write!(
                f,
                "rewrite stopped after {references} references and {output_bytes} output bytes: a rewrite maps at most {MAX_REFERENCES} references and \
                 writes at most {MAX_OUTPUT_RATIO} times the input plus {MAX_OUTPUT_SLACK} bytes, never above {MAX_OUTPUT_BYTES} bytes"
            ),
        }
    }
}

impl std::error::Error for RewriteError {}

/// Collects warnings, bounded and without repeats.
#[derive(Default)]
pub(crate) struct Warnings {
    list: Vec<String>,
    dropped: usize,
}

impl Warnings {
    /// Keep `w` unless it was already kept (allocates only for a new one).
    pub(crate) fn push(&mut self, w: &str) {
        if self.list.iter().any(|k| k == w) {
            return;
        }
        if self.list.len() < MAX_WARNINGS {
            self.list.push(w.to_string());
        } else {
            self.dropped += 1;
        }
    }

    pub(crate) fn finish(mut self) -> Vec<String> {
        if self.dropped > 0 {
            self.list.push(format!("{} more warnings not shown", self.dropped));
        }
        self.list
    }
}

/// The output bound of one rewrite ([`MAX_REFERENCES`], [`MAX_OUTPUT_RATIO`],
/// [`MAX_OUTPUT_SLACK`], [`MAX_OUTPUT_BYTES`]).
pub(crate) struct Budget {
    references: usize,
    max_output: usize,
}

impl Budget {
    pub(crate) fn new(input_bytes: usize) -> Budget {
        let max_output = input_bytes.saturating_mul(MAX_OUTPUT_RATIO).saturating_add(MAX_OUTPUT_SLACK).min(MAX_OUTPUT_BYTES);
        Budget { references: 0, max_output }
    }

    /// A first allocation for the output: the input and half again, within the bound.
    pub(crate) fn capacity(&self, input_bytes: usize) -> usize {
        input_bytes.saturating_add(input_bytes / 2).min(self.max_output)
    }

    /// Refuse once either bound is crossed; `written` is the output so far.
    pub(crate) fn check(&self, written: usize) -> Result<(), RewriteError> {
        if self.references > MAX_REFERENCES || written > self.max_output {
            return Err(RewriteError::Amplification { references: self.references, output_bytes: written });
        }
        Ok(())
    }
}

/// What the map made of one reference.
pub(crate) enum Mapped {
    /// The new URL to write.
    Link(String),
    /// A template whose first `$` is inside the authority: no prefix to sign.
    NoPrefix,
    /// The map gave no link (a base or template at a host root).
    NoLink,
}

/// The caller's map, counted against the rewrite's [`Budget`].
pub(crate) struct Mapper<'m> {
    map: &'m mut dyn FnMut(UrlRef<'_>) -> Option<String>,
    budget: Budget,
}

impl<'m> Mapper<'m> {
    pub(crate) fn new(map: &'m mut dyn FnMut(UrlRef<'_>) -> Option<String>, input_bytes: usize) -> Self {
        Mapper { map, budget: Budget::new(input_bytes) }
    }

    pub(crate) fn capacity(&self, input_bytes: usize) -> usize {
        self.budget.capacity(input_bytes)
    }

    /// Refuse once the output so far (`written` bytes) is past the bound.
    pub(crate) fn check(&self, written: usize) -> Result<(), RewriteError> {
        self.budget.check(written)
    }

    /// Build the [`UrlRef`] for an absolute http(s) URL and call the map,
    /// after counting the reference and checking the `written` output against
    /// the budget.
    pub(crate) fn map(&mut self, kind: RefKind, url: &str, written: usize) -> Result<Mapped, RewriteError> {
        if url.len() > MAX_URL_BYTES {
            return Err(RewriteError::UrlTooLong(url.len()));
        }
        if url.bytes().any(|b| b.is_ascii_control()) {
            return Err(RewriteError::ControlCharacter);
        }
        let out = match kind {
            RefKind::Url => {
                self.budget.references += 1;
                self.budget.check(written)?;
                (self.map)(UrlRef { kind, prefix: url, rest: "" })
            }
            RefKind::Base | RefKind::Template => {
                let limit = if kind == RefKind::Template { url.find('$') } else { None };
                let Some((prefix, rest)) = split_dir(url, limit) else {
                    return Ok(Mapped::NoPrefix);
                };
                self.budget.references += 1;
                self.budget.check(written)?;
                (self.map)(UrlRef { kind, prefix: &prefix, rest })
            }
        };
        let Some(out) = out else {
            return Ok(Mapped::NoLink);
        };
        if out.is_empty() || has_control(&out) {
            return Err(RewriteError::BadMapOutput(out));
        }
        Ok(Mapped::Link(out))
    }
}

/// Whether `s` holds a control character (C0, DEL or C1).
fn has_control(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    // `CONTROL_LEAD` has 256 entries: indexing it with a byte cannot fail.
    while let Some(at) = b.get(i..).and_then(|t| t.iter().position(|&c| CONTROL_LEAD[usize::from(c)])).map(|p| i + p) {
        // C1 controls (U+0080..U+009F) are 0xC2 0x80..=0x9F in UTF-8.
        if b.get(at) != Some(&0xc2) || b.get(at + 1).is_some_and(|n| (0x80..=0x9f).contains(n)) {
            return true;
        }
        i = at + 1;
    }
    false
}

/// C0 controls, DEL, and 0xC2 (the lead byte of the C1 controls).
static CONTROL_LEAD: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 0x20 {
        t[c] = true;
        c += 1;
    }
    t[0x7f] = true;
    t[0xc2] = true;
    t
};

/// The scheme of a reference, if it has one (RFC 3986: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":").
pub(crate) fn scheme_of(r: &str) -> Option<&str> {
    let b = r.as_bytes();
    let end = b.iter().position(|&c| matches!(c, b':' | b'/' | b'?' | b'#'))?;
    if b.get(end) != Some(&b':') {
        return None;
    }
    let scheme = b.get(..end)?;
    let first_ok = scheme.first().is_some_and(|c| c.is_ascii_alphabetic());
    (first_ok && scheme.iter().all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'))).then(|| r.get(..end)).flatten()
}

/// Whether `u` is an absolute http or https URL with an authority.
pub fn is_http(u: &str) -> bool {
    match scheme_of(u) {
        Some(s) if s.eq_ignore_ascii_case("http") || s.eq_ignore_ascii_case("https") => u.get(s.len()..).is_some_and(|r| r.starts_with("://")),
        _ => false,
    }
}

/// A dot segment as a browser's URL parser sees it (`.`, `..`, and their `%2e` spellings).
fn is_dot_segment(seg: &[u8]) -> bool {
    match seg {
        [b'.'] | [b'.', b'.'] => true,
        [b'.' | b'%', ..] if matches!(seg.len(), 3 | 4 | 6) => [&b"%2e"[..], b"%2e%2e", b".%2e", b"%2e."].iter().any(|d| seg.eq_ignore_ascii_case(d)),
        _ => false,
    }
}

/// Bytes that end a run of ordinary bytes in [`is_plain_relative`]:
/// controls, space, DEL, `\\`, the path delimiters `/`, `?`, `#`, and 0xC2
/// (the lead byte of the C1 controls).
static PLAIN_STOP: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0;
    while c <= b' ' {
        t[c as usize] = true;
        c += 1;
    }
    t[0x7f] = true;
    t[b'\\' as usize] = true;
    t[b'/' as usize] = true;
    t[b'?' as usize] = true;
    t[b'#' as usize] = true;
    t[0xc2] = true;
    t
};

/// A reference that resolves to "the base's directory + this text" under
/// both RFC 3986 and the WHATWG URL parser, so it may stay relative below a
/// proxied base: no scheme, no leading `/`, no control character, space or
/// backslash, and no dot segment in its path.
pub(crate) fn is_plain_relative(r: &str) -> bool {
    let b = r.as_bytes();
    if b.first() == Some(&b'/') || scheme_of(r).is_some() {
        return false;
    }
    let mut segment_start = 0;
    let mut in_path = true;
    let mut i = 0;
    // `PLAIN_STOP` has 256 entries: indexing it with a byte cannot fail.
    while let Some(at) = b.get(i..).and_then(|rest| rest.iter().position(|&c| PLAIN_STOP[usize::from(c)])).map(|p| i + p) {
        let c = b.get(at).copied().unwrap_or(0);
        match c {
            b'/' | b'?' | b'#' => {
                if in_path {
                    if is_dot_segment(b.get(segment_start..at).unwrap_or_default()) {
                        return false;
                    }
                    segment_start = at + 1;
                    in_path = c == b'/';
                }
            }
            // C1 controls (U+0080..U+009F) are 0xC2 0x80..=0x9F in UTF-8.
            0xc2 if !b.get(at + 1).is_some_and(|n| (0x80..=0x9f).contains(n)) => {}
            _ => return false,
        }
        i = at + 1;
    }
    !(in_path && is_dot_segment(b.get(segment_start..).unwrap_or_default()))
}

/// Whether a reference has an empty path (`""`, `?q`, `#f`): it resolves to
/// the base document itself, not to something in its directory.
pub(crate) fn has_empty_path(r: &str) -> bool {
    matches!(r.as_bytes().first(), None | Some(b'?' | b'#'))
}

/// Byte offset where the path of an absolute `scheme://authority...` URL starts.
fn path_start(url: &str) -> Option<usize> {
    let after = url.find("://")? + 3;
    let rest = url.get(after..)?;
    Some(after + rest.find(['/', '?', '#']).unwrap_or(rest.len()))
}

/// The path of an absolute `scheme://authority...` URL (empty for `https://h?q`).
pub(crate) fn path_of(url: &str) -> &str {
    let Some(p) = path_start(url) else { return "" };
    let rest = url.get(p..).unwrap_or("");
    rest.get(..rest.find(['?', '#']).unwrap_or(rest.len())).unwrap_or("")
}

/// Split an absolute http(s) URL into a directory prefix and the rest, for
/// [`RefKind::Base`] and [`RefKind::Template`]. The directory is the one
/// holding `limit` (a byte offset, e.g. the first `$`), or the last one of
/// the path. Returns `None` when `limit` falls inside the authority.
pub(crate) fn split_dir(url: &str, limit: Option<usize>) -> Option<(Cow<'_, str>, &str)> {
    let p = path_start(url)?;
    let path_end = url.get(p..)?.find(['?', '#']).map_or(url.len(), |i| p + i);
    let cut = limit.unwrap_or(path_end).min(path_end);
    if cut < p {
        return None;
    }
    let dir_end = url.get(p..cut)?.rfind('/').map(|i| p + i + 1);
    match dir_end {
        Some(end) => Some((Cow::Borrowed(url.get(..end)?), url.get(end..)?)),
        // An empty path: the directory is the root.
        None => Some((Cow::Owned(format!("{}/", url.get(..p)?)), url.get(p..)?)),
    }
}

/// Check the manifest URL every reference is resolved against.
pub(crate) fn check_manifest_url(manifest_url: &str) -> Result<(), RewriteError> {
    let has_host = manifest_url.find("://").and_then(|i| manifest_url.get(i + 3..)).is_some_and(|r| !r.is_empty() && !r.starts_with(['/', '?', '#']));
    if is_http(manifest_url) && has_host {
        Ok(())
    } else {
        Err(RewriteError::BadManifestUrl(manifest_url.to_string()))
    }
}

/// Whitespace as `str::trim` sees it, for an ASCII byte.
fn is_ascii_space(b: u8) -> bool {
    matches!(b, b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | b' ')
}

/// Split `s` into (leading whitespace, core, trailing whitespace).
pub(crate) fn trim_parts(s: &str) -> (&str, &str, &str) {
    // Most values have nothing to trim: an ASCII non-space at both ends.
    if let (Some(&f), Some(&l)) = (s.as_bytes().first(), s.as_bytes().last()) {
        if f < 0x80 && l < 0x80 && !is_ascii_space(f) && !is_ascii_space(l) {
            return ("", s, "");
        }
    }
    let core_start = s.len() - s.trim_start().len();
    let core = s.trim();
    let core_end = core_start + core.len();
    (s.get(..core_start).unwrap_or(""), core, s.get(core_end..).unwrap_or(""))
}
