//! Sans-IO media logic: no clock, no network, no platform types.
//!
//! - [`url`]: RFC 3986 reference resolution (manifests are full of relative URLs).
//! - [`mpd`]: a DASH MPD parser that turns a manifest into per-track segment plans.
//! - [`schedule`]: which segment a track should fetch next.

pub mod mpd;
pub mod url;
pub mod schedule;
pub mod rewrite;
pub mod proxy;
