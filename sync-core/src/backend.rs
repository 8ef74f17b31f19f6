//! The player backend as the sync loop sees it: what it can do
//! ([`Capabilities`]) and, for backends that only report their position
//! from time to time, the estimate of where they are now ([`Reports`]).
//!
//! The media element (MSE or native playback, local files) is read exactly
//! at any moment and takes any rate. An embed (YouTube's IFrame API, Vimeo's
//! Player SDK) runs in another origin's frame: its position reaches the page
//! in messages a few times a second, each some milliseconds late, its seeks
//! land when its network allows, and its rates may come from a list — or be
//! reported as set and not applied. The client and the drift controller take
//! these differences as data; the shells only carry them.

use std::collections::VecDeque;

use crate::Millis;

mod picture;
pub use picture::{PictureFit, PictureReading};

/// YouTube's `getAvailablePlaybackRates()` for most videos.
pub const YOUTUBE_RATES: [f64; 8] = [0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0];

/// How the position is read.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PositionReads {
    /// Read at any moment (the element's `currentTime`).
    Exact,
    /// Read at any moment, but the value moves only once every `step_ms`
    /// of media time (Firefox: 25 times a second, 41 ms steps, at any frame
    /// rate): a reading is where the media was at the last step, 0 to
    /// `step_ms` behind, half of it on average. Measured by [`ReadSteps`].
    Stepped { step_ms: Millis },
    /// Pushed in reports (YouTube's `infoDelivery`, Vimeo's `timeupdate`);
    /// estimated between them by [`Reports`]. `read_error_ms`: how far an
    /// estimate may be off (the dead band below which nothing is corrected).
    Reported { read_error_ms: Millis },
}

/// How the playback rate can be changed.
#[derive(Clone, Debug, PartialEq)]
pub enum RateControl {
    /// Any rate in `[min, max]`.
    Continuous { min: f64, max: f64 },
    /// Only these rates (YouTube's `getAvailablePlaybackRates`).
    Stepped(Vec<f64>),
    /// None at all.
    None,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Capabilities {
    pub position: PositionReads,
    pub rate: RateControl,
}

impl Capabilities {
    /// The media element: exact reads, any rate a browser plays.
    pub fn element() -> Self {
        Capabilities { position: PositionReads::Exact, rate: RateControl::Continuous { min: 0.0625, max: 16.0 } }
    }

    /// An embed reporting its position in messages, with these rates.
    pub fn embed(rate: RateControl) -> Self {
        Capabilities { position: PositionReads::Reported { read_error_ms: 20.0 }, rate }
    }

    /// How far one position reading may be off (s).
    pub fn read_error(&self) -> f64 {
        match self.position {
            PositionReads::Exact => 0.0,
            // The mean of the drift filter's 8 readings, each off by a
            // uniform 0..step: its spread (σ = step/√12/√8 ≈ step/10) twice.
            PositionReads::Stepped { step_ms } => step_ms / 5.0 / 1000.0,
            PositionReads::Reported { read_error_ms } => read_error_ms / 1000.0,
        }
    }

    /// The position comes in late reports (an embed), not from exact reads.
    pub fn reported(&self) -> bool {
        matches!(self.position, PositionReads::Reported { .. })
    }

    pub fn has_rate(&self) -> bool {
        !matches!(self.rate, RateControl::None)
    }

    /// The rate to play at for a nudge of `room_rate` by about `delta`
    /// (a signed fraction): itself where rates are continuous, the nearest
    /// listed rate on that side of the room's where they are stepped
    /// (`None` if there is none), clamped to the range where they are not.
    pub fn nudge_rate(&self, room_rate: f64, delta: f64) -> Option<f64> {
        match &self.rate {
            RateControl::None => None,
            RateControl::Continuous { min, max } => {
                let r = (room_rate * (1.0 + delta)).max(*min).min(*max);
                ((r - room_rate).abs() > 1e-9).then_some(r)
            }
            RateControl::Stepped(rates) => {
                let side = rates.iter().copied().filter(|r| if delta > 0.0 { *r > room_rate + 1e-9 } else { *r < room_rate - 1e-9 });
                if delta > 0.0 {
                    side.min_by(f64::total_cmp)
                } else {
                    side.max_by(f64::total_cmp)
                }
            }
        }
    }
}

/// Where a reporting backend is now, from its last reports.
///
/// A report carries the position at the moment the frame sent it and
/// reaches the page some milliseconds later: extrapolated to now at the
/// rate being played, each report is a lower bound of the true position
/// (late by its own delay). The estimate is the highest of the recent ones:
/// the least delayed report wins, as the quickest probe wins in clock sync.
/// Reports from before a seek, a pause or a rate change are not mixed with
/// later ones.
#[derive(Clone, Debug, Default)]
pub struct Reports {
    /// (arrival time, position) while playing at `rate`.
    recent: VecDeque<(Millis, f64)>,
    /// The estimate carried over a rate change, until a report at the new rate.
    carried: Option<(Millis, f64)>,
    rate: f64,
    playing: bool,
    /// The last report, playing or not.
    last: Option<f64>,
    /// How much later than the best recent bound reports arrive, on
    /// average (ms, smoothed): the jitter of the reports' delays.
    jitter_ms: Option<f64>,
}

/// How many reports the estimate looks back on (about 2 s of YouTube's).
const KEEP: usize = 8;

impl Reports {
    pub fn new() -> Self {
        Reports { rate: 1.0, ..Reports::default() }
    }

    /// A report arrived at `now`: `position`, and whether it was playing.
    pub fn handle_report(&mut self, now: Millis, position: f64, playing: bool) {
        if playing != self.playing {
            self.recent.clear();
            self.carried = None;
            self.playing = playing;
        }
        self.last = Some(position);
        if playing {
            if let Some(bound) = self.estimate(now).filter(|_| self.recent.len() >= 2) {
                let late = ((bound - position) * 1000.0).max(0.0).min(500.0);
                self.jitter_ms = Some(self.jitter_ms.map_or(late, |j| 0.95 * j + 0.05 * late));
            }
            self.carried = None;
            if self.recent.len() == KEEP {
                self.recent.pop_front();
            }
            self.recent.push_back((now, position));
        }
    }

    /// The rate was set at `now`: extrapolate at it from here.
    pub fn handle_rate(&mut self, now: Millis, rate: f64) {
        if (rate - self.rate).abs() < 1e-12 {
            return;
        }
        self.carried = self.estimate(now).filter(|_| self.playing).map(|p| (now, p));
        self.recent.clear();
        self.rate = rate;
    }

    /// The position jumped (a seek) or the source changed: forget.
    pub fn handle_discontinuity(&mut self) {
        self.recent.clear();
        self.carried = None;
        self.last = None;
    }

    /// How far an estimate may be off, from the reports' own jitter (half
    /// their mean lateness against the best recent bound), between 8 ms and
    /// the backend's nominal figure; `None` before there is a measure.
    pub fn read_error_ms(&self, nominal_ms: f64) -> Option<f64> {
        self.jitter_ms.map(|j| (j / 2.0).max(8.0).min(nominal_ms))
    }

    /// The position now, if any report came since the last discontinuity.
    pub fn estimate(&self, now: Millis) -> Option<f64> {
        if !self.playing {
            return self.last;
        }
        let at = |(a, p): &(Millis, f64)| p + (now - a).max(0.0) / 1000.0 * self.rate;
        self.recent.iter().map(at).max_by(f64::total_cmp).or_else(|| self.carried.as_ref().map(at))
    }
}

/// How often an element's position reading moves, learned from readings
/// taken much more often than that (a shell samples `currentTime` every
/// few ms for a second after playback starts). Below `EXACT_BELOW_MS` a
/// reading is as good as exact (Chromium and WebKit move every 4–5 ms).
#[derive(Clone, Debug, Default)]
pub struct ReadSteps {
    last: Option<f64>,
    samples: usize,
    steps: Vec<f64>,
}

/// Steps shorter than this (ms) are read as exact.
pub const EXACT_BELOW_MS: Millis = 12.0;

impl ReadSteps {
    pub fn new() -> Self {
        ReadSteps::default()
    }

    /// A reading of the position while playing.
    pub fn handle_sample(&mut self, position: f64) {
        self.samples += 1;
        if let Some(last) = self.last {
            let step = (position - last) * 1000.0;
            // Forward and small: a step of the reading (not a seek or a loop).
            if step > 0.0 && step < 250.0 {
                self.steps.push(step);
            }
        }
        self.last = Some(position);
    }

    /// What the readings show, once there are enough of them: `None` while
    /// too few moved, or when samples were too sparse to see single steps
    /// (fewer than two per move: a throttled page); else the position reads.
    pub fn poll_result(&self) -> Option<PositionReads> {
        if self.steps.len() < 10 {
            return None;
        }
        let mut steps = self.steps.clone();
        steps.sort_by(f64::total_cmp);
        let median = steps[steps.len() / 2];
        if median < EXACT_BELOW_MS {
            return Some(PositionReads::Exact);
        }
        // Nearly every sample saw a move: the samples were no denser than the steps.
        if self.samples < 2 * self.steps.len() {
            return None;
        }
        Some(PositionReads::Stepped { step_ms: median })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    /// Readings every 2–6 ms of a position that moves in 40.8 ms steps
    /// (Firefox) read as stepped by about that much; one that moves with
    /// every reading (Chromium) reads as exact; readings as sparse as the
    /// moves tell nothing.
    #[test]
    fn read_steps_are_measured_from_dense_samples() {
        let mut rng = Rng::new(3);
        let run = |step_ms: f64, every: (f64, f64), rng: &mut Rng| {
            let mut r = ReadSteps::new();
            let mut t = 0.0;
            while t < 5_000.0 {
                let shown = if step_ms > 0.0 { (t / step_ms).floor() * step_ms } else { t };
                r.handle_sample(10.0 + shown / 1000.0);
                t += rng.range(every.0, every.1);
            }
            r.poll_result()
        };
        match run(40.8, (2.0, 6.0), &mut rng) {
            Some(PositionReads::Stepped { step_ms }) => assert!((step_ms - 40.8).abs() < 0.5, "{step_ms}"),
            other => panic!("firefox-like: {other:?}"),
        }
        assert_eq!(run(0.0, (3.0, 5.0), &mut rng), Some(PositionReads::Exact), "chromium-like");
        assert_eq!(run(40.8, (100.0, 120.0), &mut rng), None, "samples sparser than the steps");
    }

    #[test]
    fn stepped_rates_nudge_with_the_nearest_listed_rate_on_each_side() {
        let yt = Capabilities::embed(RateControl::Stepped(vec![0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0]));
        assert_eq!(yt.nudge_rate(1.0, 0.03), Some(1.25));
        assert_eq!(yt.nudge_rate(1.0, -0.03), Some(0.75));
        assert_eq!(yt.nudge_rate(2.0, 0.03), None, "nothing faster than 2×");
        assert_eq!(Capabilities::element().nudge_rate(1.0, 0.03), Some(1.03));
        assert_eq!(Capabilities::embed(RateControl::None).nudge_rate(1.0, 0.03), None);
    }

    /// Reports every 250 ms, each 0–100 ms late: the estimate is within
    /// 50 ms of the truth (the quickest of 8 reports), while the last report alone is up to 350 ms behind.
    #[test]
    fn the_least_delayed_report_bounds_the_estimate() {
        let mut rng = Rng::new(7);
        let mut r = Reports::new();
        let (mut worst_estimate, mut worst_raw) = (0.0f64, 0.0f64);
        let mut pending: VecDeque<(Millis, f64)> = VecDeque::new();
        let mut last_arrival = 0.0f64;
        let mut raw = 0.0;
        for ms in 0..20_000 {
            let t = ms as f64;
            if ms % 250 == 0 {
                let arrival = (t + rng.range(0.0, 100.0)).max(last_arrival);
                last_arrival = arrival;
                pending.push_back((arrival, t / 1000.0));
            }
            while pending.front().is_some_and(|(a, _)| *a <= t) {
                let (_, p) = pending.pop_front().unwrap_or_default();
                r.handle_report(t, p, true);
                raw = p;
            }
            if ms > 2_000 {
                let e = r.estimate(t).unwrap_or(0.0);
                worst_estimate = worst_estimate.max((e - t / 1000.0).abs());
                worst_raw = worst_raw.max((raw - t / 1000.0).abs());
            }
        }
        assert!(worst_estimate < 0.05, "estimate off by up to {worst_estimate}");
        assert!(worst_raw > 0.25, "the raw reading lags by up to {worst_raw}");
    }

    #[test]
    fn a_rate_change_carries_the_estimate_until_a_report_at_the_new_rate() {
        let mut r = Reports::new();
        r.handle_report(0.0, 10.0, true);
        r.handle_rate(1_000.0, 1.25);
        assert!((r.estimate(1_000.0).unwrap_or(0.0) - 11.0).abs() < 1e-9);
        assert!((r.estimate(2_000.0).unwrap_or(0.0) - 12.25).abs() < 1e-9, "extrapolated at 1.25");
        // The frame says it is only at 12.0: the rate did not apply. The report wins.
        r.handle_report(2_000.0, 12.0, true);
        assert!((r.estimate(2_000.0).unwrap_or(0.0) - 12.0).abs() < 1e-9);
        // Paused: the last report, not extrapolated.
        r.handle_report(3_000.0, 12.5, false);
        assert_eq!(r.estimate(9_000.0), Some(12.5));
        r.handle_discontinuity();
        assert_eq!(r.estimate(9_000.0), None);
    }
}
