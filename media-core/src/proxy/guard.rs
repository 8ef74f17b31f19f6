//! SSRF guard: which upstream URLs the proxy may fetch.
//!
//! Only `http` and `https` URLs with a public-looking host pass. The host is
//! read the way a WHATWG URL parser (and so the worker's `fetch`) reads it:
//! percent-decoded, lowercased, and when it ends in a number parsed as an
//! IPv4 address in any of its spellings (`2130706433`, `0177.0.0.1`,
//! `0x7f.1`, `127.1`); IPv6 literals are parsed in full. Anything that a
//! WHATWG parser would read differently from a naive one is refused instead
//! of guessed: backslashes, whitespace and control characters, non-ASCII
//! hosts (send punycode), a missing `//`, and any userinfo (`user:pass@`).
//!
//! Refused: loopback (unless `allow_loopback`, which permits 127.0.0.0/8,
//! `::1` and the name `localhost` only), private, link-local, CGNAT,
//! multicast, broadcast, unspecified, documentation, benchmarking and
//! reserved ranges, IPv6 ULA / link-local / site-local, IPv4-mapped,
//! -compatible, 6to4 and NAT64 addresses embedding a refused IPv4 address,
//! Teredo, and local-only names (`localhost`, `*.localhost`, `*.local`,
//! `*.internal`, `*.localdomain`, `*.home.arpa`, `*.lan`, single-label names).
//!
//! This is a check of the URL's text. A public name that resolves to a
//! private address (DNS rebinding, `127.0.0.1.nip.io`) cannot be caught
//! without a resolver; the worker's runtime must not reach private networks.

use core::net::{Ipv4Addr, Ipv6Addr};

/// A checked upstream URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Upstream {
    /// Normalised: lowercase scheme and host, canonical IP literal, default
    /// port removed, empty path as `/`, fragment dropped.
    pub url: String,
    pub https: bool,
    pub host: Host,
    /// The effective port (80 or 443 when none is written).
    pub port: u16,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Host {
    Domain(String),
    V4(Ipv4Addr),
    V6(Ipv6Addr),
}

impl std::fmt::Display for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Host::Domain(d) => f.write_str(d),
            Host::V4(a) => write!(f, "{a}"),
            Host::V6(a) => write!(f, "[{a}]"),
        }
    }
}

/// Why an upstream URL is refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GuardError {
    /// Not a URL this guard can read unambiguously.
    Malformed(&'static str),
    /// A scheme other than http or https.
    Scheme(String),
    /// The URL carries userinfo (`user:pass@`).
    Credentials,
    /// The port is not a number from 0 to 65535.
    BadPort,
    /// A host name that only resolves inside a local network.
    LocalName(String),
    /// An IP address in a range the proxy must not reach.
    Forbidden { address: String, range: &'static str },
}

impl std::fmt::Display for GuardError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GuardError::Malformed(why) => write!(f, "malformed URL: {why}"),
            GuardError::Scheme(s) => write!(f, "scheme {s:?} is not http or https"),
            GuardError::Credentials => write!(f, "URLs with credentials are refused"),
            GuardError::BadPort => write!(f, "bad port"),
            GuardError::LocalName(h) => write!(f, "host {h:?} is a local name"),
            GuardError::Forbidden { address, range } => write!(f, "address {address} is in a forbidden range ({range})"),
        }
    }
}

impl std::error::Error for GuardError {}

/// Check that `url` may be fetched by the proxy; returns it normalised.
pub fn check_upstream(url: &str, allow_loopback: bool) -> Result<Upstream, GuardError> {
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(GuardError::Malformed("whitespace or control character"));
    }
    if url.contains('\\') {
        return Err(GuardError::Malformed("backslash"));
    }
    let colon = url.find(':').ok_or(GuardError::Malformed("no scheme"))?;
    let scheme = url.get(..colon).unwrap_or("");
    let scheme_ok =
        scheme.chars().next().is_some_and(|c| c.is_ascii_alphabetic()) && scheme.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !scheme_ok {
        return Err(GuardError::Malformed("no scheme"));
    }
    let scheme = scheme.to_ascii_lowercase();
    let https = match scheme.as_str() {
        "http" => false,
        "https" => true,
        _ => return Err(GuardError::Scheme(scheme)),
    };
    let after = url.get(colon + 1..).and_then(|r| r.strip_prefix("//")).ok_or(GuardError::Malformed("no // after the scheme"))?;
    let auth_end = after.find(['/', '?', '#']).unwrap_or(after.len());
    let authority = after.get(..auth_end).unwrap_or("");
    let tail = after.get(auth_end..).unwrap_or("");
    if authority.contains('@') {
        return Err(GuardError::Credentials);
    }
    let (host_text, port_text) = if let Some(r) = authority.strip_prefix('[') {
        let close = r.find(']').ok_or(GuardError::Malformed("unclosed IPv6 literal"))?;
        let after_bracket = r.get(close + 1..).unwrap_or("");
        let port = match after_bracket.strip_prefix(':') {
            Some(p) => p,
            None if after_bracket.is_empty() => "",
            None => return Err(GuardError::Malformed("text after IPv6 literal")),
        };
        (authority.get(..close + 2).unwrap_or(""), port)
    } else {
        match authority.split_once(':') {
            Some((h, p)) => (h, p),
            None => (authority, ""),
        }
    };
    let default_port = if https { 443 } else { 80 };
    let port = if port_text.is_empty() {
        default_port
    } else if port_text.len() <= 5 + 10 && port_text.bytes().all(|b| b.is_ascii_digit()) {
        let n: u64 = port_text.parse().map_err(|_| GuardError::BadPort)?;
        u16::try_from(n).map_err(|_| GuardError::BadPort)?
    } else {
        return Err(GuardError::BadPort);
    };

    let host = parse_host(host_text)?;
    check_host(&host, allow_loopback)?;

    let mut path = tail.split('#').next().unwrap_or("").to_string();
    if !path.starts_with('/') {
        path.insert(0, '/');
    }
    let port_part = if port == default_port { String::new() } else { format!(":{port}") };
    Ok(Upstream { url: format!("{scheme}://{host}{port_part}{path}"), https, host, port })
}

/// Parse a host as the WHATWG URL parser does for special schemes.
pub fn parse_host(text: &str) -> Result<Host, GuardError> {
    if let Some(inner) = text.strip_prefix('[') {
        let inner = inner.strip_suffix(']').ok_or(GuardError::Malformed("unclosed IPv6 literal"))?;
        return parse_ipv6(inner).map(Host::V6).ok_or(GuardError::Malformed("invalid IPv6 address"));
    }
    let decoded = percent_decode(text).ok_or(GuardError::Malformed("bad percent-encoding in host"))?;
    if !decoded.is_ascii() {
        return Err(GuardError::Malformed("non-ASCII host (use punycode)"));
    }
    let host = decoded.to_ascii_lowercase();
    if host.is_empty() {
        return Err(GuardError::LocalName(String::new()));
    }
    if !host.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_')) {
        return Err(GuardError::Malformed("invalid character in host"));
    }
    if ends_in_number(&host) {
        return parse_ipv4(&host).map(Host::V4).ok_or(GuardError::Malformed("invalid IPv4 address"));
    }
    Ok(Host::Domain(host))
}

fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if c == b'%' {
            let h = b.get(i + 1..i + 3)?;
            let v = u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok()?;
            out.push(v);
            i += 3;
        } else {
            out.push(c);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// WHATWG "ends in a number".
fn ends_in_number(host: &str) -> bool {
    let mut parts: Vec<&str> = host.split('.').collect();
    if parts.last() == Some(&"") {
        if parts.len() == 1 {
            return false;
        }
        parts.pop();
    }
    let Some(last) = parts.last() else { return false };
    if !last.is_empty() && last.bytes().all(|b| b.is_ascii_digit()) {
        return true;
    }
    match last.strip_prefix("0x").or_else(|| last.strip_prefix("0X")) {
        Some(hex) => hex.bytes().all(|b| b.is_ascii_hexdigit()),
        None => false,
    }
}

/// One part of a WHATWG IPv4 address: decimal, `0x` hex or `0` octal.
fn ipv4_number(part: &str) -> Option<u64> {
    if part.is_empty() {
        return None;
    }
    let (digits, radix) = if let Some(h) = part.strip_prefix("0x").or_else(|| part.strip_prefix("0X")) {
        (h, 16)
    } else if part.len() > 1 && part.starts_with('0') {
        (part.get(1..)?, 8)
    } else {
        (part, 10)
    };
    if digits.is_empty() {
        return Some(0);
    }
    // Longer than any u32 in any radix, after leading zeros: out of range.
    let significant = digits.trim_start_matches('0');
    if significant.len() > 11 {
        return if digits.chars().all(|c| c.is_digit(radix)) { Some(u64::MAX) } else { None };
    }
    u64::from_str_radix(digits, radix).ok()
}

/// The WHATWG IPv4 parser.
pub fn parse_ipv4(host: &str) -> Option<Ipv4Addr> {
    let mut parts: Vec<&str> = host.split('.').collect();
    if parts.last() == Some(&"") && parts.len() > 1 {
        parts.pop();
    }
    if parts.len() > 4 || parts.is_empty() {
        return None;
    }
    let numbers: Vec<u64> = parts.iter().map(|p| ipv4_number(p)).collect::<Option<_>>()?;
    let (last, init) = numbers.split_last()?;
    if init.iter().any(|&n| n > 255) {
        return None;
    }
    let limit = 1u64 << (8 * (5 - numbers.len()));
    if *last >= limit {
        return None;
    }
    let mut value = *last;
    for (i, &n) in init.iter().enumerate() {
        value += n << (8 * (3 - i));
    }
    u32::try_from(value).ok().map(Ipv4Addr::from)
}

/// The WHATWG IPv6 parser (no zone identifiers).
pub fn parse_ipv6(s: &str) -> Option<Ipv6Addr> {
    let b = s.as_bytes();
    let mut pieces = [0u16; 8];
    let mut piece = 0usize;
    let mut compress: Option<usize> = None;
    let mut i = 0usize;
    if b.first() == Some(&b':') {
        if b.get(1) != Some(&b':') {
            return None;
        }
        i = 2;
        piece = 1;
        compress = Some(1);
    }
    while i < b.len() {
        if piece == 8 {
            return None;
        }
        if b.get(i) == Some(&b':') {
            if compress.is_some() {
                return None;
            }
            i += 1;
            piece += 1;
            compress = Some(piece);
            continue;
        }
        let mut value: u32 = 0;
        let mut length = 0;
        while length < 4 {
            match b.get(i).and_then(|&c| (c as char).to_digit(16)) {
                Some(d) => {
                    value = value * 16 + d;
                    i += 1;
                    length += 1;
                }
                None => break,
            }
        }
        if b.get(i) == Some(&b'.') {
            // An embedded IPv4 address in the last two pieces.
            if length == 0 || piece > 6 {
                return None;
            }
            i -= length;
            let mut seen = 0;
            while i < b.len() {
                let mut v4: Option<u32> = None;
                if seen > 0 {
                    if b.get(i) == Some(&b'.') && seen < 4 {
                        i += 1;
                    } else {
                        return None;
                    }
                }
                if !b.get(i).is_some_and(|c| c.is_ascii_digit()) {
                    return None;
                }
                while let Some(d) = b.get(i).filter(|c| c.is_ascii_digit()) {
                    let d = u32::from(d - b'0');
                    v4 = match v4 {
                        None => Some(d),
                        Some(0) => return None,
                        Some(n) => Some(n * 10 + d),
                    };
                    if v4.is_some_and(|n| n > 255) {
                        return None;
                    }
                    i += 1;
                }
                let slot = pieces.get_mut(piece)?;
                *slot = (u32::from(*slot) * 0x100 + v4.unwrap_or(0)) as u16;
                seen += 1;
                if seen == 2 || seen == 4 {
                    piece += 1;
                }
            }
            if seen != 4 {
                return None;
            }
            break;
        } else if b.get(i) == Some(&b':') {
            i += 1;
            if i >= b.len() {
                return None;
            }
        } else if i < b.len() {
            return None;
        }
        *pieces.get_mut(piece)? = value as u16;
        piece += 1;
    }
    if let Some(c) = compress {
        let mut swaps = piece - c;
        piece = 7;
        while piece != 0 && swaps > 0 {
            pieces.swap(piece, c + swaps - 1);
            piece -= 1;
            swaps -= 1;
        }
    } else if piece != 8 {
        return None;
    }
    Some(Ipv6Addr::from(pieces))
}

fn forbidden(address: String, range: &'static str) -> GuardError {
    GuardError::Forbidden { address, range }
}

const LOCAL_SUFFIXES: &[&str] = &["localhost", "local", "internal", "localdomain", "home.arpa", "lan"];

fn check_host(host: &Host, allow_loopback: bool) -> Result<(), GuardError> {
    match host {
        Host::Domain(name) => {
            let name = name.strip_suffix('.').unwrap_or(name);
            if name.is_empty() || name.split('.').any(str::is_empty) {
                return Err(GuardError::Malformed("empty label in host"));
            }
            if name == "localhost" {
                return if allow_loopback { Ok(()) } else { Err(GuardError::LocalName(name.to_string())) };
            }
            let local_suffix = LOCAL_SUFFIXES.iter().any(|s| name == *s || name.ends_with(&format!(".{s}")));
            if local_suffix || !name.contains('.') {
                return Err(GuardError::LocalName(name.to_string()));
            }
            Ok(())
        }
        Host::V4(a) => match v4_range(*a) {
            Some("loopback") if allow_loopback => Ok(()),
            Some(range) => Err(forbidden(a.to_string(), range)),
            None => Ok(()),
        },
        Host::V6(a) => match v6_range(*a) {
            Some("loopback") if allow_loopback => Ok(()),
            Some(range) => Err(forbidden(format!("[{a}]"), range)),
            None => Ok(()),
        },
    }
}

/// The special-purpose range an IPv4 address is in, if any.
pub fn v4_range(a: Ipv4Addr) -> Option<&'static str> {
    let n = u32::from(a);
    let ranges: &[(u32, u32, &str)] = &[
        (0x0000_0000, 8, "unspecified / this network"),
        (0x0a00_0000, 8, "private"),
        (0x6440_0000, 10, "carrier-grade NAT"),
        (0x7f00_0000, 8, "loopback"),
        (0xa9fe_0000, 16, "link-local"),
        (0xac10_0000, 12, "private"),
        (0xc000_0000, 24, "IETF protocol assignments"),
        (0xc000_0200, 24, "documentation"),
        (0xc058_6300, 24, "6to4 relay anycast"),
        (0xc0a8_0000, 16, "private"),
        (0xc612_0000, 15, "benchmarking"),
        (0xc633_6400, 24, "documentation"),
        (0xcb00_7100, 24, "documentation"),
        (0xe000_0000, 4, "multicast"),
        (0xffff_ffff, 32, "broadcast"),
        (0xf000_0000, 4, "reserved"),
    ];
    ranges.iter().find(|(net, bits, _)| n >> (32 - bits) == net >> (32 - bits)).map(|(_, _, name)| *name)
}

/// The special-purpose range an IPv6 address is in, if any (embedded IPv4
/// addresses are checked, without the loopback exception).
pub fn v6_range(a: Ipv6Addr) -> Option<&'static str> {
    let n = u128::from(a);
    let embedded = |v: u32| v4_range(Ipv4Addr::from(v)).map(|_| "embedded IPv4 address in a forbidden range");
    let low32 = n as u32;
    let in_net = |net: u128, bits: u32| n >> (128 - bits) == net >> (128 - bits);
    if n == 0 {
        return Some("unspecified");
    }
    if n == 1 {
        return Some("loopback");
    }
    if in_net(0xffff_0000_0000, 96) {
        return embedded(low32); // IPv4-mapped ::ffff:a.b.c.d
    }
    if in_net(0, 96) {
        return Some("IPv4-compatible (deprecated)");
    }
    if in_net(0xffff_u128 << 48, 96) {
        return embedded(low32); // IPv4-translated ::ffff:0:a.b.c.d
    }
    if in_net(0x0064_ff9b_u128 << 96, 96) {
        return embedded(low32); // NAT64 well-known prefix
    }
    if in_net(0x0064_ff9b_0001_u128 << 80, 48) {
        return Some("local-use NAT64");
    }
    if in_net(0x2002_u128 << 112, 16) {
        return embedded((n >> 80) as u32); // 6to4
    }
    let ranges: &[(u128, u32, &str)] = &[
        (0x0100_u128 << 112, 64, "discard-only"),
        (0x2001_0000_u128 << 96, 32, "Teredo"),
        (0x2001_0002_0000_u128 << 80, 48, "benchmarking"),
        (0x2001_0010_u128 << 96, 28, "ORCHID"),
        (0x2001_0020_u128 << 96, 28, "ORCHIDv2"),
        (0x2001_0db8_u128 << 96, 32, "documentation"),
        (0x3fff_u128 << 112, 20, "documentation"),
        (0xfc00_u128 << 112, 7, "unique local"),
        (0xfe80_u128 << 112, 10, "link-local"),
        (0xfec0_u128 << 112, 10, "site-local (deprecated)"),
        (0xff00_u128 << 112, 8, "multicast"),
    ];
    ranges.iter().find(|(net, bits, _)| in_net(*net, *bits)).map(|(_, _, name)| *name)
}
