//! Drift control: decide between doing nothing, nudging the playback rate
//! and seeking, with hysteresis so corrections never fight the viewer.

use crate::Millis;

#[derive(Clone, Debug)]
pub struct DriftConfig {
    /// Start nudging above this drift (seconds).
    pub nudge_above: f64,
    /// Stop nudging below this drift (seconds).
    pub settle_below: f64,
    /// Seek instead of nudging above this drift (seconds).
    pub seek_above: f64,
    /// Rate change per second of drift.
    pub gain: f64,
    /// Largest rate change while nudging.
    pub max_rate_delta: f64,
    /// Seek this far past the target to absorb the seek's own latency (s).
    pub seek_lead: f64,
    /// No second corrective seek sooner than this after one (ms).
    pub seek_cooldown_ms: Millis,
}

impl Default for DriftConfig {
    fn default() -> Self {
        DriftConfig {
            nudge_above: 0.04,
            settle_below: 0.01,
            seek_above: 1.0,
            gain: 0.5,
            max_rate_delta: 0.08,
            seek_lead: 0.05,
            seek_cooldown_ms: 2_000.0,
        }
    }
}

/// What to do to the element.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Correction {
    /// Play at this rate (the room's rate when in sync).
    Rate(f64),
    /// Jump to this position.
    Seek(f64),
}

#[derive(Clone, Debug)]
pub struct DriftController {
    cfg: DriftConfig,
    nudging: bool,
    last_seek: Option<Millis>,
}

impl DriftController {
    pub fn new(cfg: DriftConfig) -> Self {
        DriftController { cfg, nudging: false, last_seek: None }
    }

    /// `drift` = actual − expected position (seconds); positive means ahead.
    pub fn decide(&mut self, now: Millis, expected: f64, actual: f64, room_rate: f64) -> Correction {
        let drift = actual - expected;
        let cooling = self.last_seek.is_some_and(|t| now - t < self.cfg.seek_cooldown_ms);
        if drift.abs() > self.cfg.seek_above && !cooling {
            self.nudging = false;
            self.last_seek = Some(now);
            return Correction::Seek(expected + self.cfg.seek_lead * room_rate);
        }
        if self.nudging && drift.abs() < self.cfg.settle_below {
            self.nudging = false;
        } else if !self.nudging && drift.abs() > self.cfg.nudge_above {
            self.nudging = true;
        }
        if !self.nudging {
            return Correction::Rate(room_rate);
        }
        let delta = (-drift * self.cfg.gain).clamp(-self.cfg.max_rate_delta, self.cfg.max_rate_delta);
        Correction::Rate(room_rate * (1.0 + delta))
    }

    /// Forget the correction in progress (e.g. after the room seeked).
    pub fn reset(&mut self) {
        self.nudging = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_drift_is_left_alone() {
        let mut d = DriftController::new(DriftConfig::default());
        assert_eq!(d.decide(0.0, 10.0, 10.02, 1.0), Correction::Rate(1.0));
    }

    #[test]
    fn behind_speeds_up_ahead_slows_down_with_hysteresis() {
        let mut d = DriftController::new(DriftConfig::default());
        let Correction::Rate(r) = d.decide(0.0, 10.0, 9.8, 1.0) else { panic!() };
        assert!(r > 1.0 && r <= 1.08, "{r}");
        // Still nudging at 0.03 s (between settle and nudge thresholds).
        let Correction::Rate(r) = d.decide(100.0, 10.0, 9.97, 1.0) else { panic!() };
        assert!(r > 1.0);
        // Settled.
        assert_eq!(d.decide(200.0, 10.0, 9.995, 1.0), Correction::Rate(1.0));
        let Correction::Rate(r) = d.decide(300.0, 10.0, 10.5, 1.0) else { panic!() };
        assert!(r < 1.0 && r >= 0.92, "{r}");
    }

    #[test]
    fn large_drift_seeks_once_then_cools_down() {
        let mut d = DriftController::new(DriftConfig::default());
        assert_eq!(d.decide(0.0, 30.0, 10.0, 1.0), Correction::Seek(30.05));
        // Right after a seek the element may not have caught up yet: no seek storm.
        assert!(matches!(d.decide(500.0, 30.5, 10.0, 1.0), Correction::Rate(_)));
        assert!(matches!(d.decide(2_500.0, 32.5, 10.0, 1.0), Correction::Seek(_)));
    }
}
