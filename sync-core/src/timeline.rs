//! The room's playback state: a position anchored at a server time.

use serde::{Deserialize, Serialize};

use crate::Millis;

/// Playback state of a room.
///
/// `position` (seconds into the media) was true at server time `t_ref`; while
/// `playing`, the position advances at `rate`. `t_ref` changes only when
/// `playing`, `position` or `rate` change, never on unrelated updates.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Playback {
    pub playing: bool,
    pub position: f64,
    pub rate: f64,
    pub t_ref: Millis,
}

impl Default for Playback {
    fn default() -> Self {
        Playback { playing: false, position: 0.0, rate: 1.0, t_ref: 0.0 }
    }
}

impl Playback {
    /// The expected media position (seconds) at server time `server_now`.
    pub fn position_at(&self, server_now: Millis) -> f64 {
        if self.playing {
            let elapsed = (server_now - self.t_ref).max(0.0) / 1000.0;
            self.position + elapsed * self.rate
        } else {
            self.position
        }
    }

    /// Start playing at `position` (or where the timeline is now).
    pub fn play(&mut self, now: Millis, position: Option<f64>) {
        let pos = position.unwrap_or_else(|| self.position_at(now));
        *self = Playback { playing: true, position: sanitize(pos), rate: self.rate, t_ref: now };
    }

    /// Pause at `position` (or where the timeline is now).
    pub fn pause(&mut self, now: Millis, position: Option<f64>) {
        let pos = position.unwrap_or_else(|| self.position_at(now));
        *self = Playback { playing: false, position: sanitize(pos), rate: self.rate, t_ref: now };
    }

    /// Jump to `position`, keeping play/pause.
    pub fn seek(&mut self, now: Millis, position: f64) {
        *self = Playback { playing: self.playing, position: sanitize(position), rate: self.rate, t_ref: now };
    }
}

fn sanitize(pos: f64) -> f64 {
    if pos.is_finite() && pos > 0.0 {
        pos
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paused_timeline_stands_still() {
        let mut p = Playback::default();
        p.pause(1_000.0, Some(12.5));
        assert_eq!(p.position_at(1_000.0), 12.5);
        assert_eq!(p.position_at(61_000.0), 12.5);
    }

    #[test]
    fn playing_timeline_advances_from_its_anchor() {
        let mut p = Playback::default();
        p.play(10_000.0, Some(3.0));
        assert!((p.position_at(12_500.0) - 5.5).abs() < 1e-9);
        // A server time before the anchor never moves the position backwards.
        assert_eq!(p.position_at(9_000.0), 3.0);
    }

    #[test]
    fn pause_without_position_freezes_where_the_timeline_is() {
        let mut p = Playback::default();
        p.play(0.0, Some(0.0));
        p.pause(4_000.0, None);
        assert!(!p.playing);
        assert!((p.position - 4.0).abs() < 1e-9);
        assert_eq!(p.t_ref, 4_000.0);
    }

    #[test]
    fn seek_keeps_playing_and_rejects_nonsense_positions() {
        let mut p = Playback::default();
        p.play(0.0, Some(1.0));
        p.seek(1_000.0, 30.0);
        assert!(p.playing);
        assert_eq!(p.position_at(2_000.0), 31.0);
        p.seek(3_000.0, f64::NAN);
        assert_eq!(p.position, 0.0);
        p.seek(3_000.0, -5.0);
        assert_eq!(p.position, 0.0);
    }
}
