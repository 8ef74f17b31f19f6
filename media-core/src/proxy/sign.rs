//! Signed proxy URLs.
//!
//! # Format
//!
//! ```text
//! /proxy/<sig>/<expires>/<prefix64>/<rest>[?query]
//! ```
//!
//! - `prefix64`: the upstream *prefix* in base64url without padding (so it
//!   is one path segment that a browser never normalises).
//! - `expires`: Unix seconds, decimal; the URL is valid while
//!   `now_secs <= expires`.
//! - `sig`: base64url (no padding) of
//!   `HMAC-SHA256(secret, "wt-proxy-v1\n" + expires + "\n" + prefix)`.
//! - `rest` (with the query, if any): appended verbatim, undecoded, to the
//!   prefix; the upstream URL is `prefix + rest`.
//!
//! A signature over a whole URL (`rest` empty) authorises that URL only. A
//! signature over a directory prefix (ends with `/`, no `?` or `#`)
//! authorises every URL below it for its lifetime; that is what lets a
//! player expand a DASH `$Number$` template, or resolve a relative reference
//! against a proxied BaseURL, without a new signature per segment (see
//! [`crate::rewrite`]). So a non-empty `rest` is accepted only after such a
//! prefix, and never with a `.` or `..` segment (also percent-encoded or
//! with backslashes) that could climb out of it upstream.

use sha2::{Digest, Sha256};

use crate::rewrite::{RefKind, UrlRef};

/// The path every proxied URL starts with.
pub const PROXY_PATH: &str = "/proxy/";
const CONTEXT: &str = "wt-proxy-v1";
const BLOCK: usize = 64;

/// HMAC-SHA256 (RFC 2104) over [`sha2::Sha256`].
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut k = [0u8; BLOCK];
    if key.len() > BLOCK {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(k.map(|b| b ^ 0x36));
    inner.update(message);
    let inner = inner.finalize();
    let mut outer = Sha256::new();
    outer.update(k.map(|b| b ^ 0x5c));
    outer.update(inner);
    outer.finalize().into()
}

fn mac(secret: &[u8], upstream_prefix: &str, expires: u64) -> [u8; 32] {
    hmac_sha256(secret, format!("{CONTEXT}\n{expires}\n{upstream_prefix}").as_bytes())
}

/// The signature (43 base64url characters) for `upstream_prefix` until `expires`.
pub fn sign(secret: &[u8], upstream_prefix: &str, expires: u64) -> String {
    b64url_encode(&mac(secret, upstream_prefix, expires))
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
    /// Not made with this secret for this prefix and expiry.
    BadSignature,
}

impl std::fmt::Display for SignError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SignError::Missing => write!(f, "missing signature"),
            SignError::Malformed => write!(f, "malformed signature"),
            SignError::Expired { expires, now_secs } => write!(f, "signature expired at {expires} (now {now_secs})"),
            SignError::BadSignature => write!(f, "bad signature"),
        }
    }
}

impl std::error::Error for SignError {}

/// Check `sig` for `upstream_prefix` and `expires`, in constant time; then
/// the expiry (so a forged URL never learns whether it was expired).
pub fn verify(secret: &[u8], upstream_prefix: &str, expires: u64, sig: &str, now_secs: u64) -> Result<(), SignError> {
    if sig.is_empty() {
        return Err(SignError::Missing);
    }
    let given = b64url_decode(sig).ok_or(SignError::Malformed)?;
    if given.len() != 32 {
        return Err(SignError::Malformed);
    }
    let want = mac(secret, upstream_prefix, expires);
    let diff = want.iter().zip(&given).fold(0u8, |acc, (a, b)| acc | (a ^ b));
    if diff != 0 {
        return Err(SignError::BadSignature);
    }
    if now_secs > expires {
        return Err(SignError::Expired { expires, now_secs });
    }
    Ok(())
}

/// The proxy path (no origin) for upstream `prefix + rest`, signing `prefix`.
pub fn encode_proxy_path(secret: &[u8], prefix: &str, rest: &str, expires: u64) -> String {
    format!("{PROXY_PATH}{}/{expires}/{}/{rest}", sign(secret, prefix, expires), b64url_encode(prefix.as_bytes()))
}

/// The map function for [`crate::rewrite`]: `origin` (e.g.
/// `https://watch.example`) plus the signed proxy path of the reference.
pub fn proxied_url(origin: &str, secret: &[u8], expires: u64, r: UrlRef<'_>) -> String {
    format!("{}{}", origin.trim_end_matches('/'), encode_proxy_path(secret, r.prefix, r.rest, expires))
}

/// Makes the proxy links of one rewrite, signing each upstream directory
/// once. A [`RefKind::Url`] reference is split into its directory (signed)
/// and its last segment plus query (appended), so the thousands of segment
/// lines of a playlist cost one HMAC per directory instead of one each; a
/// reference whose last segment has `%` or `\` (which could decode to a
/// climb out of the directory) keeps a signature of its own.
pub struct Linker<'a> {
    origin: &'a str,
    secret: &'a [u8],
    expires: u64,
    signed: std::collections::HashMap<String, String>,
}

impl<'a> Linker<'a> {
    pub fn new(origin: &'a str, secret: &'a [u8], expires: u64) -> Self {
        Linker { origin: origin.trim_end_matches('/'), secret, expires, signed: std::collections::HashMap::new() }
    }

    /// The map function for [`crate::rewrite`].
    pub fn link(&mut self, r: UrlRef<'_>) -> String {
        let (prefix, rest) = match r.kind {
            RefKind::Url => split_directory(r.prefix).unwrap_or((r.prefix, "")),
            RefKind::Base | RefKind::Template => (r.prefix, r.rest),
        };
        if rest.is_empty() && r.kind == RefKind::Url {
            return format!("{}{}", self.origin, encode_proxy_path(self.secret, prefix, "", self.expires));
        }
        if self.signed.len() > 1024 {
            self.signed.clear();
        }
        let (origin, secret, expires) = (self.origin, self.secret, self.expires);
        let dir = self.signed.entry(prefix.to_string()).or_insert_with(|| format!("{origin}{}", encode_proxy_path(secret, prefix, "", expires)));
        format!("{dir}{rest}")
    }
}

/// `https://h/a/b.m4s?x` → (`https://h/a/`, `b.m4s?x`), when the last
/// segment is safe to append below a signed directory.
fn split_directory(url: &str) -> Option<(&str, &str)> {
    let authority = url.find("://")? + 3;
    let path_end = url.find(['?', '#']).unwrap_or(url.len());
    if url.get(path_end..)?.contains('#') {
        return None;
    }
    let slash = url.get(authority..path_end)?.rfind('/')? + authority;
    let (dir, file) = (url.get(..=slash)?, url.get(slash + 1..)?);
    let last = file.split('?').next().unwrap_or("");
    if last.is_empty() || last == "." || last == ".." || last.contains(['%', '\\']) {
        return None;
    }
    Some((dir, file))
}

/// A decoded (not yet verified) proxy request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProxyRequest {
    pub sig: String,
    pub expires: u64,
    /// The signed upstream prefix.
    pub prefix: String,
    /// Appended to the prefix verbatim (path remainder and query).
    pub rest: String,
}

impl ProxyRequest {
    /// The upstream URL to fetch (check it with [`super::guard::check_upstream`]).
    pub fn upstream(&self) -> String {
        format!("{}{}", self.prefix, self.rest)
    }

    /// Verify the signature and expiry.
    pub fn verify(&self, secret: &[u8], now_secs: u64) -> Result<(), SignError> {
        verify(secret, &self.prefix, self.expires, &self.sig, now_secs)
    }
}

/// Why a path is not a usable proxy path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProxyPathError {
    /// Does not start with `/proxy/` or lacks a segment.
    NotProxyPath,
    /// `expires` is not a decimal number.
    BadExpiry,
    /// The prefix segment is not base64url of an http(s) URL.
    BadPrefix,
    /// A rest after a prefix that is not a directory (`/`-terminated, no query).
    RestNotAllowed,
    /// A `.`/`..` segment in the rest.
    Traversal,
}

impl std::fmt::Display for ProxyPathError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProxyPathError::NotProxyPath => write!(f, "not a /proxy/<sig>/<expires>/<prefix>/<rest> path"),
            ProxyPathError::BadExpiry => write!(f, "expiry is not a decimal number"),
            ProxyPathError::BadPrefix => write!(f, "prefix is not base64url of an http(s) URL"),
            ProxyPathError::RestNotAllowed => write!(f, "the signed URL is not a directory prefix; nothing may follow it"),
            ProxyPathError::Traversal => write!(f, "dot segment in the path after the prefix"),
        }
    }
}

impl std::error::Error for ProxyPathError {}

/// Decode `path` (with its query, as the request has it) into its parts.
pub fn decode_proxy_path(path: &str) -> Result<ProxyRequest, ProxyPathError> {
    let tail = path.strip_prefix(PROXY_PATH).ok_or(ProxyPathError::NotProxyPath)?;
    let mut parts = tail.splitn(4, '/');
    let (Some(sig), Some(expires), Some(prefix64)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(ProxyPathError::NotProxyPath);
    };
    let rest = parts.next().unwrap_or("");
    // `/proxy/sig/exp/prefix?q` (no slash before the query) is not produced by
    // `encode_proxy_path`; refuse rather than guess.
    if prefix64.contains(['?', '#']) || sig.contains(['?', '#']) || expires.contains(['?', '#']) {
        return Err(ProxyPathError::NotProxyPath);
    }
    if expires.is_empty() || expires.len() > 20 || !expires.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ProxyPathError::BadExpiry);
    }
    let expires: u64 = expires.parse().map_err(|_| ProxyPathError::BadExpiry)?;
    let prefix = b64url_decode(prefix64).and_then(|b| String::from_utf8(b).ok()).ok_or(ProxyPathError::BadPrefix)?;
    if !crate::rewrite::is_http(&prefix) {
        return Err(ProxyPathError::BadPrefix);
    }
    if !rest.is_empty() {
        let authority_end = prefix.find("://").map_or(0, |i| i + 3);
        let directory = prefix.ends_with('/')
            && !prefix.contains(['?', '#'])
            && prefix.len() > authority_end + 1
            && prefix.get(authority_end..).is_some_and(|a| a.contains('/'));
        if !directory {
            return Err(ProxyPathError::RestNotAllowed);
        }
        let rest_path = rest.split(['?', '#']).next().unwrap_or("");
        let decoded = percent_decode(rest_path).replace('\\', "/");
        if decoded.split('/').any(|s| s == "." || s == "..") {
            return Err(ProxyPathError::Traversal);
        }
    }
    Ok(ProxyRequest { sig: sig.to_string(), expires, prefix, rest: rest.to_string() })
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

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// base64url without padding (RFC 4648 §5).
pub fn b64url_encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |acc, (i, &b)| acc | (u32::from(b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            let idx = (n >> (18 - 6 * i)) & 63;
            out.push(char::from(B64.get(idx as usize).copied().unwrap_or(b'A')));
        }
    }
    out
}

/// Decode base64url without padding; `None` on any other character, a
/// dangling character, or non-zero trailing bits (one encoding per value).
pub fn b64url_decode(s: &str) -> Option<Vec<u8>> {
    if s.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    for chunk in s.as_bytes().chunks(4) {
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            let v = B64.iter().position(|&x| x == c)? as u32;
            n |= v << (18 - 6 * i);
        }
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        let keep = chunk.len() - 1;
        let unused = n & (0x00ff_ffff >> (8 * keep));
        if unused != 0 {
            return None;
        }
        out.extend_from_slice(bytes.get(..keep)?);
    }
    Some(out)
}
