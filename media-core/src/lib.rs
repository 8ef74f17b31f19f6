//! Sans-IO media logic: no clock, no network, no platform types.
//!
//! - [`url`]: RFC 3986 reference resolution (manifests are full of relative URLs).
//! - [`mpd`]: a DASH MPD parser that turns a manifest into per-track segment plans.
//! - [`hls`]: HLS master and media playlists.
//! - [`sidx`] and [`webm`]: segment indexes of on-demand files (ISO-BMFF `sidx`, WebM Cues).
//! - [`abr`]: which quality to fetch.
//! - [`schedule`]: which segment a track should fetch next.
//! - [`fetch_scope`]: which URLs a player may fetch for a source (the media proxy only, its own server, anywhere).
//! - [`ts`], [`fmp4`] and [`transmux`]: MPEG-TS segments repackaged as fragmented MP4 for MSE.
//! - [`rewrite`] and [`proxy`]: the media proxy's manifest rewriting, signing and guard.

// `f64::clamp` panics with a message that formats floats with `Debug`,
// which links kilobytes of float printing into the browser build: the
// cores write `max().min()` on purpose.
#![allow(clippy::manual_clamp)]

pub mod abr;
pub mod fetch_scope;
pub mod fmp4;
pub mod frag_start;
pub mod hls;
mod mp4box;
pub mod mpd;
pub mod proxy;
pub mod rewrite;
pub mod schedule;
pub mod sidx;
pub mod sort;
pub mod subtitle;
pub mod transmux;
pub mod ts;
pub mod url;
pub mod webm;
