//! Which URLs a player may fetch for a source.
//!
//! A room's source plays directly ([`FetchScope::Any`]: an absolute URL and
//! no signed `play_url`, e.g. when the media proxy is not configured), from
//! the app's own server ([`FetchScope::SameOrigin`]: a source that is a path
//! there), or through the media proxy ([`FetchScope::Proxy`]: a `play_url`
//! was given, so every URL fetched must be below `<origin>/proxy/`). A
//! reference the proxy could not rewrite stays as written in a manifest;
//! under a proxy scope the player refuses it instead of fetching it.
//!
//! [`FetchScope::check`] reads a URL the way a browser will (WHATWG URL),
//! and refuses what it cannot read the same way for certain: user info,
//! control characters or whitespace, backslashes before the query, a
//! percent-encoded or non-ASCII host (the browser decodes and maps it), a
//! scheme not followed by exactly `//`. Scheme and host compare without
//! case, a port equal to the scheme's default is no port, and under the
//! proxy a `.`/`..` segment (also as `%2e`) is refused: the browser would
//! resolve it out of `/proxy/`.

use std::fmt;

use crate::proxy::sign::PROXY_PATH;

/// Where a player may fetch from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FetchScope {
    /// Anywhere: the room says the source plays directly.
    Any,
    /// One origin (`scheme://host[:port]`, lower case, no default port).
    SameOrigin { origin: String },
    /// Below `prefix` only: `<origin>/proxy/`.
    Proxy { prefix: String },
}

/// Why a URL was refused. The URL itself is never repeated (a signed or
/// tokenised URL is not for error messages), only its origin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FetchScopeError {
    /// Not an absolute http(s) URL read alike by every parser.
    Unreadable { reason: &'static str },
    /// Another origin than the scope's.
    OtherOrigin { origin: String },
    /// The scope's origin, but not below its media proxy path.
    OutsideProxy { origin: String },
}

impl FetchScopeError {
    /// The refused URL's origin, when it could be read.
    pub fn origin(&self) -> Option<&str> {
        match self {
            FetchScopeError::Unreadable { .. } => None,
            FetchScopeError::OtherOrigin { origin } | FetchScopeError::OutsideProxy { origin } => Some(origin),
        }
    }
}

impl fmt::Display for FetchScopeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FetchScopeError::Unreadable { reason } => write!(f, "refused to fetch a URL that is not a plain absolute http(s) URL ({reason})"),
            FetchScopeError::OtherOrigin { origin } => write!(f, "refused to fetch from {origin}: not this source's own server or media proxy"),
            FetchScopeError::OutsideProxy { origin } => write!(f, "refused to fetch from {origin} outside the media proxy"),
        }
    }
}

impl std::error::Error for FetchScopeError {}

impl FetchScope {
    /// The scope of a room's source. `base` is the app's server (absolute:
    /// what relative URLs resolve against), `url` the source, `play_url`
    /// the signed proxy URL the room gave for it, if any. A `play_url` →
    /// [`FetchScope::Proxy`] (refused when it has no readable origin);
    /// else a `url` on `base`'s origin → [`FetchScope::SameOrigin`]; else
    /// [`FetchScope::Any`].
    pub fn for_source(base: &str, url: &str, play_url: Option<&str>) -> Result<FetchScope, FetchScopeError> {
        if let Some(play) = play_url {
            return FetchScope::proxy(&crate::url::resolve(base, play));
        }
        let own = Parsed::read(base)?.origin;
        if !crate::rewrite::is_http(url) {
            // A path on this server (as the room gave it, before any
            // resolving): only this origin, however a browser reads the path
            // (`/\\host/` is another host to it).
            return Ok(FetchScope::SameOrigin { origin: own });
        }
        match Parsed::read(url) {
            Ok(p) if p.origin == own => Ok(FetchScope::SameOrigin { origin: p.origin }),
            _ => Ok(FetchScope::Any),
        }
    }

    /// Fetch only below the media proxy of `play_url`'s origin.
    pub fn proxy(play_url: &str) -> Result<FetchScope, FetchScopeError> {
        let p = Parsed::read(play_url)?;
        Ok(FetchScope::Proxy { prefix: format!("{}{PROXY_PATH}", p.origin) })
    }

    /// A player without a room: [`FetchScope::Any`], unless `url` (absolute)
    /// is itself a media proxy URL: then only that proxy.
    pub fn for_url(url: &str) -> FetchScope {
        match Parsed::read(url) {
            Ok(p) if p.path.starts_with(PROXY_PATH) && !climbs(p.path) => FetchScope::Proxy { prefix: format!("{}{PROXY_PATH}", p.origin) },
            _ => FetchScope::Any,
        }
    }

    /// May `absolute_url` be fetched?
    pub fn check(&self, absolute_url: &str) -> Result<(), FetchScopeError> {
        let (own, proxy) = match self {
            FetchScope::Any => return Ok(()),
            FetchScope::SameOrigin { origin } => (origin.as_str(), false),
            FetchScope::Proxy { prefix } => (prefix.strip_suffix(PROXY_PATH).unwrap_or(prefix), true),
        };
        let p = Parsed::read(absolute_url)?;
        if p.origin != own {
            return Err(FetchScopeError::OtherOrigin { origin: p.origin });
        }
        if proxy && (!p.path.starts_with(PROXY_PATH) || climbs(p.path)) {
            return Err(FetchScopeError::OutsideProxy { origin: p.origin });
        }
        Ok(())
    }
}

/// An absolute http(s) URL as a browser reads it: its origin and its path.
struct Parsed<'a> {
    origin: String,
    /// Up to the query or fragment (empty when the URL has no path).
    path: &'a str,
}

impl<'a> Parsed<'a> {
    fn read(url: &'a str) -> Result<Parsed<'a>, FetchScopeError> {
        let bad = |reason| Err(FetchScopeError::Unreadable { reason });
        // The browser trims C0 controls and spaces at the ends and drops
        // tabs and newlines anywhere: refuse them all.
        if url.bytes().any(|b| b < 0x20 || b == 0x7f) || url.starts_with(' ') || url.ends_with(' ') {
            return bad("control characters or whitespace");
        }
        let Some((scheme, rest)) = url.split_once(':') else { return bad("no scheme") };
        let scheme = scheme.to_ascii_lowercase();
        let default_port = match scheme.as_str() {
            "http" => 80,
            "https" => 443,
            _ => return bad("not http(s)"),
        };
        let Some(rest) = rest.strip_prefix("//").filter(|r| !r.starts_with(['/', '\\'])) else { return bad("no authority after the scheme") };
        let end = rest.find(['/', '?', '#', '\\']).unwrap_or(rest.len());
        let (authority, after) = rest.split_at(end);
        let path = after.get(..after.find(['?', '#']).unwrap_or(after.len())).unwrap_or("");
        if path.contains('\\') {
            return bad("a backslash before the query");
        }
        if authority.contains('@') {
            return bad("user info");
        }
        let (host, port) = if authority.starts_with('[') {
            let Some(close) = authority.find(']') else { return bad("an unclosed IPv6 address") };
            let (h, p) = authority.split_at(close + 1);
            if !h.bytes().skip(1).take(h.len().saturating_sub(2)).all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.') {
                return bad("a malformed IPv6 address");
            }
            (h, p)
        } else {
            authority.split_at(authority.find(':').unwrap_or(authority.len()))
        };
        if host.is_empty() || (!host.starts_with('[') && !host.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_')) {
            return bad("an encoded, non-ASCII or empty host");
        }
        let port = match port.strip_prefix(':') {
            None if port.is_empty() => None,
            None => return bad("a malformed host"),
            Some("") => None,
            Some(digits) => {
                let digits = digits.trim_start_matches('0');
                if !digits.bytes().all(|b| b.is_ascii_digit()) || digits.len() > 5 {
                    return bad("a malformed port");
                }
                match digits.parse::<u32>().unwrap_or(0) {
                    n if n > 65_535 => return bad("a malformed port"),
                    n if n == default_port => None,
                    n => Some(n),
                }
            }
        };
        let host = host.to_ascii_lowercase();
        let origin = match port {
            Some(n) => format!("{scheme}://{host}:{n}"),
            None => format!("{scheme}://{host}"),
        };
        Ok(Parsed { origin, path })
    }
}

/// A `.` or `..` segment (also percent-encoded): the browser removes them,
/// climbing out of the directory the path starts with.
fn climbs(path: &str) -> bool {
    path.split('/').any(|seg| {
        let (mut rest, mut dots) = (seg, 0);
        while !rest.is_empty() && dots < 3 {
            rest = match rest.strip_prefix('.') {
                Some(r) => r,
                None if rest.get(..3).is_some_and(|p| p.eq_ignore_ascii_case("%2e")) => rest.get(3..).unwrap_or(""),
                None => return false,
            };
            dots += 1;
        }
        rest.is_empty() && (1..=2).contains(&dots)
    })
}

#[cfg(test)]
mod tests;
