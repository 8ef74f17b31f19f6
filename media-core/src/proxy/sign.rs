//! Signed proxy URLs.
//!
//! # Format
//!
//! ```text
//! /proxy/<sig>/<room>/<expires>/<scope>/<prefix64>/<rest>[?query]
//! ```
//!
//! - `room`: the id of the room the link was made for (base64url, 1–64
//!   characters). It is signed, so a link is bound to its room: the proxy
//!   charges the room's budget and a link cannot be moved to another room.
//! - `expires`: Unix seconds, decimal; the URL is valid while
//!   `now_secs <= expires`.
//! - `scope`: `f` (the prefix is one whole URL: nothing may follow it),
//!   `d` (the prefix is a directory: a `rest` below it is allowed) or `t` (a
//!   DASH template at a host root: the prefix segment is
//!   `<dir64>.<pattern64>` and the `rest` must be an expansion of the
//!   pattern: `$Number$`, `$Time$`, `$Bandwidth$`, `$SubNumber$` (with any
//!   `%0Nd` format) as digits, `$RepresentationID$` as one path-safe word,
//!   `$$` as `$`).
//! - `prefix64`: the upstream *prefix* in base64url without padding (so it
//!   is one path segment that a browser never normalises).
//! - `sig`: base64url (no padding) of
//!   `HMAC-SHA256(secret, "wt-proxy-v2\n" + room + "\n" + expires + "\n" + scope + "\n" + prefix)`.
//! - `rest` (with the query, if any): appended verbatim, undecoded, to the
//!   prefix; the upstream URL is `prefix + rest`.
//!
//! A directory signature (`d`) is what lets a player expand a DASH
//! `$Number$` template, or resolve a relative reference against a proxied
//! BaseURL or playlist, without a new signature per segment (see
//! [`crate::rewrite`]). It is never given for a host root (`https://h/`: a
//! whole host), and the `rest` below it may hold no `.`/`..` segment (also
//! percent-encoded, double-encoded or with backslashes), no `;` path
//! parameter (`..;` climbs on servlet containers) and no encoded `%`.
//!
//! HMAC-SHA256 is RustCrypto's `hmac` over `sha2`, base64url is `base64ct`
//! (constant time) and the comparison is `subtle`'s.

use base64ct::{Base64UrlUnpadded, Encoding};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::rewrite::{RefKind, UrlRef};

/// The path every proxied URL starts with.
pub const PROXY_PATH: &str = "/proxy/";
const CONTEXT: &[u8] = b"wt-proxy-v2\n";
/// Longest room id a link may carry.
pub const MAX_ROOM_LEN: usize = 64;

type HmacSha256 = Hmac<Sha256>;

/// What a signature covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// One whole URL: nothing may follow the prefix.
    File,
    /// A directory (not a host root): any safe path below it.
    Dir,
    /// A DASH template (at a host root): only its expansions.
    Template,
}

impl Scope {
    fn letter(self) -> &'static str {
        match self {
            Scope::File => "f",
            Scope::Dir => "d",
            Scope::Template => "t",
        }
    }
}

/// HMAC-SHA256 (RFC 2104), RustCrypto's.
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut m = Signer::new(key).mac.clone();
    m.update(message);
    m.finalize().into_bytes().into()
}

/// The keyed HMAC state, made once per secret: each signature then costs
/// the hashing of its own message only.
#[derive(Clone)]
pub struct Signer {
    mac: HmacSha256,
}

impl Signer {
    pub fn new(secret: &[u8]) -> Signer {
        // HMAC takes keys of any length; `new_from_slice` cannot fail for it.
        let mac = match <HmacSha256 as Mac>::new_from_slice(secret) {
            Ok(m) => m,
            Err(_) => <HmacSha256 as hmac::digest::KeyInit>::new(&Default::default()),
        };
        Signer { mac }
    }

    fn mac(&self, room: &str, expires: u64, scope: Scope, prefix: &str) -> [u8; 32] {
        let mut m = self.mac.clone();
        m.update(CONTEXT);
        m.update(room.as_bytes());
        m.update(b"\n");
        m.update(expires.to_string().as_bytes());
        m.update(b"\n");
        m.update(scope.letter().as_bytes());
        m.update(b"\n");
        m.update(prefix.as_bytes());
        m.finalize().into_bytes().into()
    }

    /// The signature (43 base64url characters).
    pub fn sign(&self, room: &str, expires: u64, scope: Scope, prefix: &str) -> String {
        b64url_encode(&self.mac(room, expires, scope, prefix))
    }

    /// The proxy path (no origin) for upstream `prefix + rest` (for
    /// [`Scope::Template`], `rest` is the pattern).
    pub fn path(&self, room: &str, expires: u64, scope: Scope, prefix: &str, rest: &str) -> String {
        if scope == Scope::Template {
            let signed = template_signed(prefix, rest);
            let sig = self.sign(room, expires, scope, &signed);
            return format!("{PROXY_PATH}{sig}/{room}/{expires}/t/{}.{}/{rest}", b64url_encode(prefix.as_bytes()), b64url_encode(rest.as_bytes()));
        }
        format!("{PROXY_PATH}{}/{room}/{expires}/{}/{}/{rest}", self.sign(room, expires, scope, prefix), scope.letter(), b64url_encode(prefix.as_bytes()))
    }
}

/// Why a signature was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SignError {
    /// No signature given.
    Missing,
    /// Not 43 base64url characters.
    Malformed,
    /// Valid, but `now_secs` is past `expires`.
    Expired { expires: u64, now_secs: u64 },
    /// Not made with this secret for this room, scope, prefix and expiry.
    BadSignature,
    /// Signed, but the path is not an expansion of the signed template.
    NotTemplateExpansion,
}

impl std::fmt::Display for SignError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SignError::Missing => write!(f, "missing signature"),
            SignError::Malformed => write!(f, "malformed signature"),
            SignError::Expired { expires, now_secs } => write!(f, "signature expired at {expires} (now {now_secs})"),
            SignError::BadSignature => write!(f, "bad signature"),
            SignError::NotTemplateExpansion => write!(f, "the path is not an expansion of the signed template"),
        }
    }
}

impl std::error::Error for SignError {}

/// The link for a room's source (or queue entry) `url`: a manifest
/// (`.m3u8`, `.mpd`) is linked through its directory, so the relative
/// references its rewrite leaves as written resolve below it; anything
/// else, and anything at a host root, is linked as that one URL.
pub fn source_path(secret: &[u8], room: &str, url: &str, expires: u64) -> String {
    let signer = Signer::new(secret);
    let manifest = crate::proxy::detect::by_extension(url) != crate::proxy::detect::Kind::Other;
    match split_directory(url).filter(|_| manifest) {
        Some((dir, file)) => signer.path(room, expires, Scope::Dir, dir, file),
        None => signer.path(room, expires, Scope::File, url, ""),
    }
}

/// What a template link signs: its directory and its pattern.
fn template_signed(dir: &str, pattern: &str) -> String {
    format!("{dir}\n{pattern}")
}

/// Makes the proxy links of one rewrite, signing each upstream directory
/// once. A [`RefKind::Url`] reference is split into its directory (signed)
/// and its last segment plus query (appended), so the thousands of segment
/// lines of a playlist cost one HMAC per directory instead of one each; a
/// reference at a host root, or whose last segment could decode to a climb
/// out of its directory, is signed as one whole URL. A template at a host
/// root is signed with its pattern ([`Scope::Template`]); a base at a host
/// root gets no link (`None`): a whole host is never signed.
pub struct Linker<'a> {
    origin: &'a str,
    room: &'a str,
    signer: Signer,
    expires: u64,
    signed: std::collections::HashMap<String, String>,
    /// The directory linked last and its link: consecutive references
    /// mostly share one, and this skips hashing it again.
    last: Option<(String, String)>,
}

impl<'a> Linker<'a> {
    pub fn new(origin: &'a str, secret: &[u8], room: &'a str, expires: u64) -> Self {
        Linker { origin: origin.trim_end_matches('/'), room, signer: Signer::new(secret), expires, signed: std::collections::HashMap::new(), last: None }
    }

    /// The map function for [`crate::rewrite`].
    pub fn link(&mut self, r: UrlRef<'_>) -> Option<String> {
        let (prefix, rest) = match r.kind {
            RefKind::Url => match split_last(r.prefix) {
                // The directory linked last was checked when it was linked.
                Some(split) if self.last.as_ref().is_some_and(|(p, _)| p == split.0) || is_directory(split.0) => split,
                _ => return Some(format!("{}{}", self.origin, self.signer.path(self.room, self.expires, Scope::File, r.prefix, ""))),
            },
            RefKind::Template if !is_directory(r.prefix) => {
                return Some(format!("{}{}", self.origin, self.signer.path(self.room, self.expires, Scope::Template, r.prefix, r.rest)));
            }
            RefKind::Base | RefKind::Template => {
                if !is_directory(r.prefix) {
                    return None;
                }
                (r.prefix, r.rest)
            }
        };
        let join = |dir: &str| {
            let mut out = String::with_capacity(dir.len() + rest.len());
            out.push_str(dir);
            out.push_str(rest);
            out
        };
        if let Some((p, dir)) = &self.last {
            if p == prefix {
                return Some(join(dir));
            }
        }
        let dir = match self.signed.get(prefix) {
            Some(dir) => dir.clone(),
            None => {
                if self.signed.len() > 1024 {
                    self.signed.clear();
                }
                let dir = format!("{}{}", self.origin, self.signer.path(self.room, self.expires, Scope::Dir, prefix, ""));
                self.signed.insert(prefix.to_string(), dir.clone());
                dir
            }
        };
        let out = join(&dir);
        self.last = Some((prefix.to_string(), dir));
        Some(out)
    }
}

/// Whether `prefix` may be signed as a directory: an absolute URL ending
/// with `/`, no query or fragment, and at least one path segment (never a
/// host root).
pub fn is_directory(prefix: &str) -> bool {
    let Some(authority) = prefix.find("://").map(|i| i + 3) else { return false };
    let Some(path) = prefix.get(authority..).and_then(|a| a.find('/').and_then(|i| a.get(i..))) else { return false };
    prefix.ends_with('/') && !prefix.contains(['?', '#']) && path.len() > 1 && !path.starts_with("//") && check_rest_path(path).is_ok()
}

/// `https://h/a/b.m4s?x` → (`https://h/a/`, `b.m4s?x`), when the directory
/// may be signed and the last segment is safe to append below it.
fn split_directory(url: &str) -> Option<(&str, &str)> {
    let (dir, file) = split_last(url)?;
    is_directory(dir).then_some((dir, file))
}

/// `https://h/a/b.m4s?x` → (`https://h/a/`, `b.m4s?x`) when the last segment
/// is safe to append below its directory (the directory is not checked).
/// Byte scans: this runs for every segment line of a playlist.
fn split_last(url: &str) -> Option<(&str, &str)> {
    let b = url.as_bytes();
    let authority = url.find("://")? + 3;
    let path_end = b.iter().position(|&c| c == b'?' || c == b'#').unwrap_or(b.len());
    if b.get(path_end..)?.contains(&b'#') {
        return None;
    }
    let slash = authority + b.get(authority..path_end)?.iter().rposition(|&c| c == b'/')?;
    let (dir, file) = (url.get(..=slash)?, url.get(slash + 1..)?);
    let last = url.get(slash + 1..path_end)?;
    if last.is_empty() || check_rest_path(last).is_err() {
        return None;
    }
    Some((dir, file))
}

/// A decoded (not yet verified) proxy request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProxyRequest {
    pub sig: String,
    /// The room the link was made for.
    pub room: String,
    pub expires: u64,
    pub scope: Scope,
    /// The signed upstream prefix.
    pub prefix: String,
    /// Appended to the prefix verbatim (path remainder and query).
    pub rest: String,
    /// For [`Scope::Template`]: the pattern `rest` expands.
    pub pattern: Option<String>,
}

impl ProxyRequest {
    /// The upstream URL to fetch (check it with [`super::guard::check_upstream`]).
    pub fn upstream(&self) -> String {
        format!("{}{}", self.prefix, self.rest)
    }

    /// Verify the signature (in constant time), then the expiry (so a forged
    /// URL never learns whether it was expired).
    pub fn verify(&self, secret: &[u8], now_secs: u64) -> Result<(), SignError> {
        if self.sig.is_empty() {
            return Err(SignError::Missing);
        }
        let given = b64url_decode(&self.sig).ok_or(SignError::Malformed)?;
        if given.len() != 32 {
            return Err(SignError::Malformed);
        }
        let signer = Signer::new(secret);
        let want = match &self.pattern {
            Some(p) => signer.mac(&self.room, self.expires, self.scope, &template_signed(&self.prefix, p)),
            None => signer.mac(&self.room, self.expires, self.scope, &self.prefix),
        };
        if !bool::from(want.ct_eq(&given[..])) {
            return Err(SignError::BadSignature);
        }
        if now_secs > self.expires {
            return Err(SignError::Expired { expires: self.expires, now_secs });
        }
        if let Some(pattern) = &self.pattern {
            if !expands(pattern, &self.rest) {
                return Err(SignError::NotTemplateExpansion);
            }
        }
        Ok(())
    }
}

/// Why a path is not a usable proxy path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProxyPathError {
    /// Does not start with `/proxy/` or lacks a segment.
    NotProxyPath,
    /// The room segment is not 1–64 base64url characters.
    BadRoom,
    /// `expires` is not a decimal number.
    BadExpiry,
    /// The scope is neither `f` nor `d`.
    BadScope,
    /// The prefix segment is not base64url of an http(s) URL.
    BadPrefix,
    /// A directory scope over something that is not a directory (or is a host root).
    NotADirectory,
    /// A rest after a whole-URL (`f`) signature.
    RestNotAllowed,
    /// A `.`/`..` segment (plain, encoded or double-encoded) in the rest.
    Traversal,
    /// A `;` path parameter in the rest.
    PathParameter,
    /// The rest is not an expansion of the signed template.
    NotTemplateExpansion,
}

impl std::fmt::Display for ProxyPathError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProxyPathError::NotProxyPath => write!(f, "not a /proxy/<sig>/<room>/<expires>/<scope>/<prefix>/<rest> path"),
            ProxyPathError::BadRoom => write!(f, "room is not 1 to {MAX_ROOM_LEN} base64url characters"),
            ProxyPathError::BadExpiry => write!(f, "expiry is not a decimal number"),
            ProxyPathError::BadScope => write!(f, "scope is neither f nor d"),
            ProxyPathError::BadPrefix => write!(f, "prefix is not base64url of an http(s) URL"),
            ProxyPathError::NotADirectory => write!(f, "a directory scope needs a directory below a host root"),
            ProxyPathError::RestNotAllowed => write!(f, "the signed URL is not a directory prefix; nothing may follow it"),
            ProxyPathError::Traversal => write!(f, "dot segment or encoded escape in the path after the prefix"),
            ProxyPathError::PathParameter => write!(f, "`;` path parameter in the path after the prefix"),
            ProxyPathError::NotTemplateExpansion => write!(f, "the path is not an expansion of the signed template"),
        }
    }
}

impl std::error::Error for ProxyPathError {}

/// Decode `path` (with its query, as the request has it) into its parts.
pub fn decode_proxy_path(path: &str) -> Result<ProxyRequest, ProxyPathError> {
    let tail = path.strip_prefix(PROXY_PATH).ok_or(ProxyPathError::NotProxyPath)?;
    let mut parts = tail.splitn(6, '/');
    let (Some(sig), Some(room), Some(expires), Some(scope), Some(prefix64)) = (parts.next(), parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(ProxyPathError::NotProxyPath);
    };
    let rest = parts.next().unwrap_or("");
    // `/proxy/sig/room/exp/s/prefix?q` (no slash before the query) is not
    // produced by the signer; refuse rather than guess.
    if [sig, room, expires, scope, prefix64].iter().any(|p| p.contains(['?', '#'])) {
        return Err(ProxyPathError::NotProxyPath);
    }
    if room.is_empty() || room.len() > MAX_ROOM_LEN || !room.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        return Err(ProxyPathError::BadRoom);
    }
    if expires.is_empty() || expires.len() > 20 || !expires.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ProxyPathError::BadExpiry);
    }
    let expires: u64 = expires.parse().map_err(|_| ProxyPathError::BadExpiry)?;
    let scope = match scope {
        "f" => Scope::File,
        "d" => Scope::Dir,
        "t" => Scope::Template,
        _ => return Err(ProxyPathError::BadScope),
    };
    let text = |b64: &str| b64url_decode(b64).and_then(|b| String::from_utf8(b).ok()).ok_or(ProxyPathError::BadPrefix);
    let (prefix, pattern) = match (scope, prefix64.split_once('.')) {
        (Scope::Template, Some((dir, pattern))) => (text(dir)?, Some(text(pattern)?)),
        (Scope::Template, None) => return Err(ProxyPathError::BadPrefix),
        _ => (text(prefix64)?, None),
    };
    if !crate::rewrite::is_http(&prefix) {
        return Err(ProxyPathError::BadPrefix);
    }
    match scope {
        Scope::File if !rest.is_empty() => return Err(ProxyPathError::RestNotAllowed),
        Scope::File => {}
        Scope::Dir => {
            if !is_directory(&prefix) {
                return Err(ProxyPathError::NotADirectory);
            }
            check_rest_path(rest.split(['?', '#']).next().unwrap_or(""))?;
        }
        Scope::Template => {
            // Whether `rest` expands the pattern is checked by `verify`,
            // after the signature: the pattern is the request's until then.
            if !prefix.ends_with('/') || prefix.contains(['?', '#']) || rest.len() > MAX_TEMPLATE_REST {
                return Err(ProxyPathError::NotTemplateExpansion);
            }
            check_rest_path(rest.split(['?', '#']).next().unwrap_or(""))?;
        }
    }
    Ok(ProxyRequest { sig: sig.to_string(), room: room.to_string(), expires, scope, prefix, rest: rest.to_string(), pattern })
}

/// One piece of a DASH template pattern.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Piece<'a> {
    Literal(&'a str),
    /// `$Number$`, `$Time$`, `$Bandwidth$`, `$SubNumber$` (any format).
    Digits,
    /// `$RepresentationID$`: one path-safe word.
    Word,
}

/// Most pieces (literals and identifiers) in a template pattern.
const MAX_PIECES: usize = 12;
/// Longest path (and query) below a template link: with [`MAX_PIECES`], the
/// memoised match takes at most 12 × 512² steps.
pub const MAX_TEMPLATE_REST: usize = 512;

/// Whether `rest` is an expansion of the DASH template `pattern`
/// (ISO/IEC 23009-1 §5.3.9.4.4). Matched by memoised search: at most
/// pieces × length² steps, on URLs of a few hundred bytes.
fn expands(pattern: &str, rest: &str) -> bool {
    let mut pieces = Vec::new();
    let mut tail = pattern;
    while let Some(start) = tail.find('$') {
        if start > 0 {
            pieces.push(Piece::Literal(tail.get(..start).unwrap_or("")));
        }
        let after = tail.get(start + 1..).unwrap_or("");
        let Some(end) = after.find('$') else { return false };
        let ident = after.get(..end).unwrap_or("");
        let name = ident.split('%').next().unwrap_or("");
        pieces.push(match name {
            "" => Piece::Literal("$"),
            "Number" | "Time" | "Bandwidth" | "SubNumber" => Piece::Digits,
            "RepresentationID" if name == ident => Piece::Word,
            _ => return false,
        });
        tail = after.get(end + 1..).unwrap_or("");
    }
    if !tail.is_empty() {
        pieces.push(Piece::Literal(tail));
    }
    if pieces.len() > MAX_PIECES || rest.len() > MAX_TEMPLATE_REST {
        return false;
    }
    let mut seen = std::collections::HashSet::new();
    matches_from(&pieces, rest.as_bytes(), 0, 0, &mut seen)
}

fn matches_from(pieces: &[Piece<'_>], rest: &[u8], piece: usize, at: usize, seen: &mut std::collections::HashSet<(usize, usize)>) -> bool {
    let Some(p) = pieces.get(piece) else { return at == rest.len() };
    if !seen.insert((piece, at)) {
        return false;
    }
    let left = rest.get(at..).unwrap_or(&[]);
    match *p {
        Piece::Literal(l) => left.starts_with(l.as_bytes()) && matches_from(pieces, rest, piece + 1, at + l.len(), seen),
        Piece::Digits | Piece::Word => {
            let ok = |c: &u8| if *p == Piece::Digits { c.is_ascii_digit() } else { c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.' | b'~') };
            let run = left.iter().take_while(|c| ok(c)).count();
            (1..=run).any(|n| matches_from(pieces, rest, piece + 1, at + n, seen))
        }
    }
}

/// The path part of a rest below a signed directory must stay below it on
/// any upstream: no `;` (raw or encoded), no escape that decodes to another
/// escape (`%252e`), and no `.`/`..` segment once decoded (`\` read as `/`).
fn check_rest_path(rest_path: &str) -> Result<(), ProxyPathError> {
    let b = rest_path.as_bytes();
    if b.contains(&b';') {
        return Err(ProxyPathError::PathParameter);
    }
    // Nothing to decode: only plain dot segments can climb.
    if !b.iter().any(|&c| c == b'%' || c == b'\\') {
        return match b.split(|&c| c == b'/').any(|s| s == b"." || s == b"..") {
            true => Err(ProxyPathError::Traversal),
            false => Ok(()),
        };
    }
    let decoded = percent_decode(rest_path);
    if decoded.contains(';') {
        return Err(ProxyPathError::PathParameter);
    }
    if has_escape(&decoded) || decoded.contains('\0') {
        return Err(ProxyPathError::Traversal);
    }
    if decoded.split(['/', '\\']).any(|s| s == "." || s == "..") {
        return Err(ProxyPathError::Traversal);
    }
    Ok(())
}

/// Whether `s` holds a `%XX` escape.
fn has_escape(s: &str) -> bool {
    s.as_bytes().windows(3).any(|w| matches!(w, [b'%', a, b] if a.is_ascii_hexdigit() && b.is_ascii_hexdigit()))
}

/// Percent-decode (lossy UTF-8); malformed escapes stay as they are.
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if c == b'%' {
            let hex = b.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok()).and_then(|h| u8::from_str_radix(h, 16).ok());
            if let Some(v) = hex {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(c);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// base64url without padding (RFC 4648 §5).
pub fn b64url_encode(data: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(data)
}

/// Decode base64url without padding; `None` on any other character, a
/// dangling character, or non-zero trailing bits (one encoding per value).
pub fn b64url_decode(s: &str) -> Option<Vec<u8>> {
    Base64UrlUnpadded::decode_vec(s).ok()
}
