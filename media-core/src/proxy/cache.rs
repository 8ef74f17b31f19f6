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
