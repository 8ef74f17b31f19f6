//! Sans-IO core of Watch Together.
//!
//! Nothing in this crate reads a clock, touches the network or knows about a
//! platform: every input carries `now` (milliseconds, on the caller's clock),
//! every output is plain data drained with a `poll_*` method. The edge worker
//! and the browser player are thin shells that carry these values to and from
//! real I/O.
//!
//! - [`protocol`]: the versioned JSON wire messages.
//! - [`backend`]: what a player backend can do (position reads, rates) and the position estimate of one that only reports it.
//! - [`timeline`]: the room's playback state and where it is at any time.
//! - [`clock`]: the NTP-style offset estimator between a client and the server.
//! - [`drift`]: the decision to nudge the rate or seek.
//! - [`room`]: the server-side room state machine.
//! - [`client`]: the client-side session state machine.
//! - [`audio`]: when to resume a suspended AudioContext (bounded, backed off).
//! - [`secret`]: hashes of tokens and passwords.
//! - [`source`]: what a room plays (media URL, YouTube, Vimeo, local file), read from pasted links.
//! - `sim` (tests, feature `sim`): the deterministic simulation harness.

// `f64::clamp` panics with a message that formats floats with `Debug`,
// which links kilobytes of float printing into the browser build: the
// cores write `max().min()` on purpose.
#![allow(clippy::manual_clamp)]

pub mod audio;
pub mod backend;
pub mod client;
pub mod clock;
pub mod drift;
pub mod json;
pub mod protocol;
pub mod rng;
pub mod room;
pub mod secret;
#[cfg(any(test, feature = "sim"))]
pub mod sim;
pub mod source;
pub mod timeline;

/// Milliseconds on some clock (the server's or a client's, as documented at each use).
pub type Millis = f64;
