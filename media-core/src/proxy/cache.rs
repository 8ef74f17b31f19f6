//! Cache keys and lifetimes for upstream responses.
//!
//! The cache holds upstream bytes, keyed by the normalised upstream URL (see
//! [`super::guard::Upstream::url`]) and the Range header: a byte range of a
//! file is a different response from the whole file. Rewritten manifests
//! carry expiring signatures, so they are rewritten per request, not cached.

use sha2::{Digest, Sha256};

use super::detect::Kind;

/// Lowercase hex SHA-256 (64 characters) of the URL and the Range value.
/// `None` and `Some("")` are different keys; the range is trimmed.
pub fn cache_key(normalised_url: &str, range: Option<&str>) -> String {
    let mut h = Sha256::new();
    h.update(b"wt-cache-v1\n");
    h.update(normalised_url.as_bytes());
    match range {
        Some(r) => {
            h.update(b"\nrange:");
            h.update(r.trim().as_bytes());
        }
        None => h.update(b"\nwhole"),
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// What kind of upstream response is being cached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resource {
    /// A manifest (HLS playlist or MPD); `live` from [`super::detect::is_live`].
    Manifest { live: bool },
    /// Media segments, init segments, keys, subtitles: immutable once published.
    Segment,
}

impl Resource {
    /// Classify a response from its detected kind and (for manifests) text.
    pub fn classify(kind: Kind, text: &str) -> Resource {
        match kind {
            Kind::Other => Resource::Segment,
            k => Resource::Manifest { live: super::detect::is_live(k, text) },
        }
    }
}

/// Cache lifetimes in seconds, from one place.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CachePolicy {
    /// A VOD manifest, or a master playlist.
    pub manifest_secs: u32,
    /// A live manifest: must stay fresher than a segment duration.
    pub live_manifest_secs: u32,
    /// Segments and other media.
    pub segment_secs: u32,
}

impl Default for CachePolicy {
    fn default() -> Self {
        CachePolicy { manifest_secs: 60, live_manifest_secs: 1, segment_secs: 7 * 24 * 3600 }
    }
}

impl CachePolicy {
    pub fn ttl_secs(&self, r: Resource) -> u32 {
        match r {
            Resource::Manifest { live: false } => self.manifest_secs,
            Resource::Manifest { live: true } => self.live_manifest_secs,
            Resource::Segment => self.segment_secs,
        }
    }
}

/// What the upstream allows a shared cache to do with a response, from its
/// `Cache-Control` and `Expires` (with `Date`) headers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Freshness {
    /// `no-store`, `private` or `no-cache`: never stored.
    Uncacheable,
    /// Fresh for at most this many seconds (`s-maxage`, `max-age`, or `Expires − Date`).
    MaxAge(u64),
    /// The upstream says nothing: the proxy's own lifetime applies.
    Unspecified,
}

/// Read the upstream's caching headers (RFC 9111). `Expires` counts only
/// without `max-age`/`s-maxage`, relative to `Date` (or `now_secs`); an
/// `Expires` that does not parse means already expired. What the response's
/// `Age` says it has already spent in caches is taken off.
pub fn freshness(cache_control: Option<&str>, expires: Option<&str>, date: Option<&str>, age: Option<&str>, now_secs: u64) -> Freshness {
    let age = age.and_then(|a| a.trim().parse::<u64>().ok()).unwrap_or(0);
    match lifetime(cache_control, expires, date, now_secs) {
        Freshness::MaxAge(s) => Freshness::MaxAge(s.saturating_sub(age)),
        other => other,
    }
}

fn lifetime(cache_control: Option<&str>, expires: Option<&str>, date: Option<&str>, now_secs: u64) -> Freshness {
    let mut max_age = None;
    let mut s_maxage = None;
    for directive in cache_control.unwrap_or("").split(',') {
        let (name, value) = match directive.split_once('=') {
            Some((n, v)) => (n.trim().to_ascii_lowercase(), Some(v.trim().trim_matches('"'))),
            None => (directive.trim().to_ascii_lowercase(), None),
        };
        match name.as_str() {
            "no-store" | "private" | "no-cache" => return Freshness::Uncacheable,
            "max-age" => max_age = value.and_then(|v| v.parse::<u64>().ok()).or(Some(0)),
            "s-maxage" => s_maxage = value.and_then(|v| v.parse::<u64>().ok()).or(Some(0)),
            _ => {}
        }
    }
    if let Some(age) = s_maxage.or(max_age) {
        return Freshness::MaxAge(age);
    }
    if let Some(e) = expires {
        let base = date.and_then(parse_http_date).unwrap_or(now_secs);
        return Freshness::MaxAge(parse_http_date(e).map_or(0, |t| t.saturating_sub(base)));
    }
    Freshness::Unspecified
}

impl CachePolicy {
    /// The lifetime to store a response for: the proxy's own for its kind,
    /// capped (never extended) by what the upstream allows. 0: do not store.
    pub fn ttl_for(&self, r: Resource, upstream: Freshness) -> u32 {
        let own = self.ttl_secs(r);
        match upstream {
            Freshness::Uncacheable => 0,
            Freshness::MaxAge(s) => own.min(u32::try_from(s).unwrap_or(u32::MAX)),
            Freshness::Unspecified => own,
        }
    }
}

/// An IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`, RFC 9110 §5.6.7) as
/// Unix seconds. The obsolete formats are read as expired (`None`), as RFC
/// 9111 allows. Hand-written: 30 lines, where a date crate would bring a
/// clock and time zones the proxy does not need.
pub fn parse_http_date(s: &str) -> Option<u64> {
    let mut parts = s.split_ascii_whitespace();
    let (_day, d, mon, y, hms, zone) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if zone != "GMT" || parts.next().is_some() || d.len() != 2 || y.len() != 4 {
        return None;
    }
    let day: u64 = d.parse().ok()?;
    let year: u64 = y.parse().ok()?;
    let month = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"].iter().position(|m| *m == mon)? as u64 + 1;
    let mut t = hms.split(':').map(|p| if p.len() == 2 { p.parse::<u64>().ok() } else { None });
    let (h, m, sec) = (t.next()??, t.next()??, t.next()??);
    if t.next().is_some() || !(1..=31).contains(&day) || year < 1970 || h > 23 || m > 59 || sec > 60 {
        return None;
    }
    // Days from the civil date (Howard Hinnant's algorithm).
    let (y, mo) = if month <= 2 { (year - 1, month + 9) } else { (year, month - 3) };
    let era = y / 400;
    let yoe = y - era * 400;
    let doy = (153 * mo + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = (era * 146_097 + doe).checked_sub(719_468)?;
    Some(days * 86_400 + h * 3600 + m * 60 + sec)
}

/// The most bytes one proxied response carries. A client's Range is
/// narrowed to this; a whole body above it must be asked for by Range.
pub const MAX_RESPONSE_BYTES: u64 = 16 * 1024 * 1024;

/// A client's `Range` header as the proxy forwards it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RangeRequest {
    /// No Range: the whole body (refused later if above the bound).
    Whole,
    /// One byte range, narrowed to at most [`MAX_RESPONSE_BYTES`]: the value to send upstream.
    Bounded(String),
    /// Several ranges, a malformed header or another unit.
    Unsupported,
}

/// Narrow `bytes=a-b`, `bytes=a-` and `bytes=-n` to at most [`MAX_RESPONSE_BYTES`].
pub fn bound_range(range: Option<&str>) -> RangeRequest {
    let Some(r) = range.map(str::trim).filter(|r| !r.is_empty()) else { return RangeRequest::Whole };
    let Some(spec) = r.strip_prefix("bytes=").map(str::trim) else { return RangeRequest::Unsupported };
    if spec.contains(',') {
        return RangeRequest::Unsupported;
    }
    let Some((a, b)) = spec.split_once('-') else { return RangeRequest::Unsupported };
    let num = |s: &str| if !s.is_empty() && s.len() <= 19 && s.bytes().all(|c| c.is_ascii_digit()) { s.parse::<u64>().ok() } else { None };
    match (a.trim(), b.trim()) {
        ("", n) => match num(n) {
            Some(n) if n > 0 => RangeRequest::Bounded(format!("bytes=-{}", n.min(MAX_RESPONSE_BYTES))),
            _ => RangeRequest::Unsupported,
        },
        (a, "") => match num(a) {
            Some(a) => RangeRequest::Bounded(format!("bytes={a}-{}", a.saturating_add(MAX_RESPONSE_BYTES - 1))),
            None => RangeRequest::Unsupported,
        },
        (a, b) => match (num(a), num(b)) {
            (Some(a), Some(b)) if a <= b => RangeRequest::Bounded(format!("bytes={a}-{}", b.min(a.saturating_add(MAX_RESPONSE_BYTES - 1)))),
            _ => RangeRequest::Unsupported,
        },
    }
}
