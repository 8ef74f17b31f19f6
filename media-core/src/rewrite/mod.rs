//! Manifest rewriting for the media proxy: every URL a player would fetch from
//! an HLS playlist or a DASH MPD is pointed at the proxy, and every other byte
//! of the manifest is left exactly as it was.
//!
//! The proxied URL format belongs to the caller: both rewriters hand each
//! reference to a `map` function as a [`UrlRef`] and splice in whatever it
//! returns. [`crate::proxy::sign::Linker`] is the map the worker uses.
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
//!    the upstream BaseURL chain, using the first BaseURL of each level.
//! 2. A reference that is a *plain relative path* (no scheme, no leading `/`,
//!    no `.`/`..` segment, no backslash or whitespace) and sits under a
//!    BaseURL that is itself proxied is **left as written**: the player
//!    resolves it against the proxied BaseURL, which lands below the same
//!    signed prefix. This keeps templates expandable, keeps every BaseURL
//!    alternative (CDN failover, content steering) working, and keeps a
//!    template declared on an AdaptationSet correct for Representations that
//!    declare their own BaseURL.
//! 3. Every other reference (absolute, root-relative, with dot segments, or
//!    with no BaseURL in scope, where the player would resolve it against
//!    the manifest's own proxied URL) is replaced by the proxied absolute
//!    form of its resolved URL. Templates are split so that everything from
//!    the directory holding the first `$` on is appended raw after the signed
//!    prefix ([`RefKind::Template`]), so the player still expands it.
//!
//! Location, PatchLocation and `xlink:href` are resolved against the
//! manifest URL (as shaka-player does) and always made absolute.
//!
//! Known limit, reported as a warning: a reference made absolute on an outer
//! element cannot follow a BaseURL declared further in (one attribute holds
//! one URL), and it uses the first of several BaseURL alternatives.
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

pub mod dash;
pub mod hls;

pub use dash::rewrite_dash;
pub use hls::rewrite_hls;

#[cfg(test)]
mod tests;

/// Largest manifest accepted (bytes).
pub const MAX_MANIFEST_BYTES: usize = 16 * 1024 * 1024;
/// Deepest XML element nesting accepted.
pub const MAX_DEPTH: usize = 64;
/// Longest single http(s) URL reference accepted (bytes, after unescaping).
pub const MAX_URL_BYTES: usize = 64 * 1024;
/// Most warnings kept; later ones are counted in a final summary line.
pub const MAX_WARNINGS: usize = 64;

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
    /// Location, PatchLocation, `xlink:href`. `rest` is empty.
    Url,
    /// A DASH BaseURL: fetched itself (SegmentBase) and used as the base that
    /// relative references are resolved against.
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
/// resolve relative references against it.
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
    pub(crate) fn push(&mut self, w: String) {
        if self.list.contains(&w) {
            return;
        }
        if self.list.len() < MAX_WARNINGS {
            self.list.push(w);
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

/// The scheme of a reference, if it has one (RFC 3986: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":").
pub(crate) fn scheme_of(r: &str) -> Option<&str> {
    let end = r.find([':', '/', '?', '#'])?;
    let scheme = r.get(..end)?;
    if r.as_bytes().get(end) != Some(&b':') {
        return None;
    }
    let mut chars = scheme.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    (first_ok && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))).then_some(scheme)
}

/// Whether `u` is an absolute http or https URL with an authority.
pub fn is_http(u: &str) -> bool {
    match scheme_of(u) {
        Some(s) if s.eq_ignore_ascii_case("http") || s.eq_ignore_ascii_case("https") => u.get(s.len()..).is_some_and(|r| r.starts_with("://")),
        _ => false,
    }
}

/// A dot segment as a browser's URL parser sees it (`.`, `..`, and their `%2e` spellings).
fn is_dot_segment(seg: &str) -> bool {
    let s = seg.to_ascii_lowercase();
    matches!(s.as_str(), "." | ".." | "%2e" | "%2e%2e" | ".%2e" | "%2e.")
}

/// A reference that resolves to "the base's directory + this text" under
/// both RFC 3986 and the WHATWG URL parser, so it may stay relative below a
/// proxied base.
pub(crate) fn is_plain_relative(r: &str) -> bool {
    if scheme_of(r).is_some() || r.starts_with('/') {
        return false;
    }
    if r.chars().any(|c| c.is_ascii_whitespace() || c.is_control() || c == '\\') {
        return false;
    }
    let path = r.split(['?', '#']).next().unwrap_or("");
    !path.split('/').any(is_dot_segment)
}

/// Byte offset where the path of an absolute `scheme://authority...` URL starts.
fn path_start(url: &str) -> Option<usize> {
    let after = url.find("://")? + 3;
    let rest = url.get(after..)?;
    Some(after + rest.find(['/', '?', '#']).unwrap_or(rest.len()))
}

/// Split an absolute http(s) URL into a directory prefix and the rest, for
/// [`RefKind::Base`] and [`RefKind::Template`]. The directory is the one
/// holding `limit` (a byte offset, e.g. the first `$`), or the last one of
/// the path. Returns `None` when `limit` falls inside the authority.
pub(crate) fn split_dir(url: &str, limit: Option<usize>) -> Option<(String, String)> {
    let p = path_start(url)?;
    let path_end = url.get(p..)?.find(['?', '#']).map_or(url.len(), |i| p + i);
    let cut = limit.unwrap_or(path_end).min(path_end);
    if cut < p {
        return None;
    }
    let dir_end = url.get(p..cut)?.rfind('/').map(|i| p + i + 1);
    match dir_end {
        Some(end) => Some((url.get(..end)?.to_string(), url.get(end..)?.to_string())),
        // An empty path: the directory is the root.
        None => Some((format!("{}/", url.get(..p)?), url.get(p..)?.to_string())),
    }
}

/// Build the [`UrlRef`] for an absolute http(s) URL and call the map.
/// Returns `None` when the URL cannot be expressed as a prefix (a template
/// identifier inside the authority).
pub(crate) fn map_url(kind: RefKind, url: &str, map: &mut dyn FnMut(UrlRef<'_>) -> String) -> Result<Option<String>, RewriteError> {
    if url.len() > MAX_URL_BYTES {
        return Err(RewriteError::UrlTooLong(url.len()));
    }
    let out = match kind {
        RefKind::Url => map(UrlRef { kind, prefix: url, rest: "" }),
        RefKind::Base | RefKind::Template => {
            let limit = if kind == RefKind::Template { url.find('$') } else { None };
            let Some((prefix, rest)) = split_dir(url, limit) else {
                return Ok(None);
            };
            map(UrlRef { kind, prefix: &prefix, rest: &rest })
        }
    };
    if out.is_empty() || out.chars().any(|c| c.is_control()) {
        return Err(RewriteError::BadMapOutput(out));
    }
    Ok(Some(out))
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

/// Split `s` into (leading whitespace, core, trailing whitespace).
pub(crate) fn trim_parts(s: &str) -> (&str, &str, &str) {
    let core_start = s.len() - s.trim_start().len();
    let core = s.trim();
    let core_end = core_start + core.len();
    (s.get(..core_start).unwrap_or(""), core, s.get(core_end..).unwrap_or(""))
}
