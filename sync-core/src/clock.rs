//! NTP-style clock offset estimation between a client and the server.
//!
//! Each probe yields four timestamps: `t0` client send, `t1` server receive,
//! `t2` server send, `t3` client receive. Then
//! `offset = ((t1 - t0) + (t2 - t3)) / 2` (server = client + offset) and
//! `delay = (t3 - t0) - (t2 - t1)`.
//!
//! - The estimate trusts the minimum-delay sample of a sliding window: its
//!   error is at most half its delay.
//! - Outliers (delay far above the window's median) are rejected; a run of
//!   them means the path changed: the window restarts with a new burst.
//! - The local clock's rate skew against the server is fitted over a longer
//!   history of good samples, and every sample's offset is projected to
//!   `now` with it, so a two-hour session stays accurate.

use std::collections::VecDeque;

use crate::Millis;

pub mod sources;

#[derive(Clone, Debug)]
pub struct ClockConfig {
    /// Samples kept for the offset estimate.
    pub window: usize,
    /// Probes sent right after (re)connecting.
    pub burst: usize,
    /// Spacing of the burst probes.
    pub burst_interval_ms: Millis,
    /// Spacing of probe rounds after the burst.
    pub period_ms: Millis,
    /// Spacing of probe rounds until the skew is fitted: the estimate's
    /// error is how close its samples came to each direction's least delay,
    /// so a fresh member probes often at first (measured in Chromium: pages
    /// disagreed by ±2 ms probing every 10 s, ±1 ms every 2 s).
    pub warmup_period_ms: Millis,
    /// Probes per periodic round (spaced like the burst).
    pub round: usize,
    /// A sample whose delay exceeds this × the window's median is an outlier.
    pub outlier_factor: f64,
    /// This many outliers in a row: the path changed, start again.
    pub outliers_to_reset: usize,
    /// Samples kept for the skew fit.
    pub history: usize,
    /// The skew fit needs at least this span of history.
    pub min_skew_span_ms: Millis,
    /// Largest skew believed (parts per million).
    pub max_skew_ppm: f64,
}

impl Default for ClockConfig {
    fn default() -> Self {
        ClockConfig {
            window: 32,
            burst: 8,
            burst_interval_ms: 100.0,
            period_ms: 10_000.0,
            warmup_period_ms: 2_000.0,
            round: 3,
            outlier_factor: 3.0,
            outliers_to_reset: 3,
            history: 96,
            min_skew_span_ms: 60_000.0,
            max_skew_ppm: 1_000.0,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sample {
    pub offset: Millis,
    pub delay: Millis,
    /// Local time the reply arrived.
    pub at: Millis,
}

impl ClockConfig {
    /// An edge time endpoint's schedule ([`sources`]): a short path, cheap
    /// to answer, so probed more often than the room — rounds of two every
    /// 5 s once warm.
    pub fn edge() -> Self {
        ClockConfig { burst: 6, period_ms: 5_000.0, round: 2, ..ClockConfig::default() }
    }
}

/// Clock offset estimator with its own probe schedule.
#[derive(Clone, Debug)]
pub struct ClockSync {
    cfg: ClockConfig,
    samples: VecDeque<Sample>,
    history: VecDeque<Sample>,
    outliers_in_a_row: usize,
    burst_left: usize,
    next_probe: Option<Millis>,
    /// Server ms gained per local ms (0 = same rate).
    skew: f64,
    skew_fitted: bool,
    /// When the first sample arrived (ends the frequent probing at the latest).
    first_sample_at: Option<Millis>,
}

impl ClockSync {
    pub fn new(cfg: ClockConfig) -> Self {
        ClockSync {
            cfg,
            samples: VecDeque::new(),
            history: VecDeque::new(),
            outliers_in_a_row: 0,
            burst_left: 0,
            next_probe: None,
            skew: 0.0,
            skew_fitted: false,
            first_sample_at: None,
        }
    }

    /// A (re)connection: start a burst of probes now. Old samples are kept
    /// (the clocks did not change) but new ones soon win if they are better.
    pub fn handle_connected(&mut self, now: Millis) {
        self.start_burst(now);
    }

    fn start_burst(&mut self, now: Millis) {
        self.burst_left = self.cfg.burst;
        self.next_probe = Some(now);
    }

    /// The connection is gone: no probes until the next one.
    pub fn handle_disconnected(&mut self) {
        self.next_probe = None;
        self.burst_left = 0;
    }

    /// Done probing often: the skew is fitted, or (whatever keeps it from
    /// fitting) twice the fit's span has passed since the first sample.
    fn warm(&self) -> bool {
        self.skew_fitted || self.first_sample_at.zip(self.samples.back()).is_some_and(|(first, last)| last.at - first >= 2.0 * self.cfg.min_skew_span_ms)
    }

    /// A probe is due at `now`: returns the `t0` to send.
    pub fn poll_probe(&mut self, now: Millis) -> Option<Millis> {
        let due = self.next_probe?;
        if now < due {
            return None;
        }
        let gap = if self.burst_left > 1 {
            self.burst_left -= 1;
            self.cfg.burst_interval_ms
        } else {
            self.burst_left = self.cfg.round;
            if self.warm() {
                self.cfg.period_ms
            } else {
                self.cfg.warmup_period_ms
            }
        };
        self.next_probe = Some(now + gap);
        Some(now)
    }

    /// When the next probe is due.
    pub fn poll_timeout(&self) -> Option<Millis> {
        self.next_probe
    }

    /// A reply to the probe sent at `t0`, received at local `t3`.
    /// Returns false if the sample was rejected.
    pub fn handle_pong(&mut self, t0: Millis, t1: Millis, t2: Millis, t3: Millis) -> bool {
        let all_finite = [t0, t1, t2, t3].iter().all(|t| t.is_finite());
        if !all_finite || t3 < t0 || t2 < t1 {
            return false;
        }
        let delay = (t3 - t0) - (t2 - t1);
        if delay < 0.0 {
            return false;
        }
        let offset = ((t1 - t0) + (t2 - t3)) / 2.0;
        let sample = Sample { offset, delay, at: t3 };
        self.first_sample_at.get_or_insert(t3);
        if self.samples.len() >= 3 {
            // The median delay: the window is small, so count instead of sorting.
            let delays = || self.samples.iter().map(|s| s.delay);
            let rank = self.samples.len() / 2;
            let median = delays().find(|&d| delays().filter(|&x| x < d).count() <= rank && delays().filter(|&x| x <= d).count() > rank).unwrap_or(0.0);
            if delay > median * self.cfg.outlier_factor + 1.0 {
                self.outliers_in_a_row += 1;
                if self.outliers_in_a_row >= self.cfg.outliers_to_reset {
                    // The path changed (new route, congestion that stays): take
                    // the slow sample and probe afresh. The old samples stay:
                    // their bounds hold whatever the path does now.
                    self.outliers_in_a_row = 0;
                    self.samples.push_back(sample);
                    while self.samples.len() > self.cfg.window {
                        self.samples.pop_front();
                    }
                    self.start_burst(t3);
                    return true;
                }
                return false;
            }
        }
        self.outliers_in_a_row = 0;
        self.samples.push_back(sample);
        while self.samples.len() > self.cfg.window {
            self.samples.pop_front();
        }
        self.history.push_back(sample);
        while self.history.len() > self.cfg.history {
            self.history.pop_front();
        }
        self.fit_skew();
        true
    }

    /// Weighted least-squares line through the history: offset = a + b·(t − t̄).
    /// A sample's weight falls with its delay above the least seen (its
    /// possible error), so queued or jittered replies barely count.
    fn fit_skew(&mut self) {
        let (Some(first), Some(last)) = (self.history.front(), self.history.back()) else { return };
        if self.history.len() < 6 || last.at - first.at < self.cfg.min_skew_span_ms {
            return;
        }
        let min_delay = self.history.iter().map(|s| s.delay).fold(f64::INFINITY, f64::min);
        let w = |s: &Sample| 1.0 / (1.0 + (s.delay - min_delay)).powi(2);
        let sw: f64 = self.history.iter().map(w).sum();
        let mx = self.history.iter().map(|s| w(s) * s.at).sum::<f64>() / sw;
        let my = self.history.iter().map(|s| w(s) * s.offset).sum::<f64>() / sw;
        let sxx: f64 = self.history.iter().map(|s| w(s) * (s.at - mx).powi(2)).sum();
        let sxy: f64 = self.history.iter().map(|s| w(s) * (s.at - mx) * (s.offset - my)).sum();
        if sxx > 0.0 {
            let max = self.cfg.max_skew_ppm * 1e-6;
            self.skew = (sxy / sxx).max(-max).min(max);
            self.skew_fitted = true;
        }
    }

    /// How fast an old sample loses its worth: the skew not yet explained
    /// (the largest believable before a fit, a residual after).
    fn skew_uncertainty(&self) -> f64 {
        if self.skew_fitted {
            5e-6
        } else {
            100e-6
        }
    }

    /// What the window says of the offset at `now`: every sample bounds it
    /// to `offset ± delay/2` (the reply cannot arrive before it was sent),
    /// projected to `now` with the fitted skew and widened by the skew not
    /// yet explained. The bounds' intersection is far tighter than any one
    /// sample: its low end comes from the reply with the quickest downlink,
    /// its high end from the probe with the quickest uplink, which need not
    /// be the same exchange. `None` without samples.
    pub fn bounds_at(&self, now: Millis) -> Option<(Millis, Millis)> {
        let u = self.skew_uncertainty();
        let (mut lo, mut hi) = (f64::NEG_INFINITY, f64::INFINITY);
        // Newest first: an older sample that contradicts the newer ones (its
        // projection is off by more skew than believed) is left out, so the
        // estimate never jumps to a fallback.
        for s in self.samples.iter().rev() {
            let centre = s.offset + self.skew * (now - s.at);
            let half = s.delay / 2.0 + u * (now - s.at).abs();
            let (l, h) = (lo.max(centre - half), hi.min(centre + half));
            if l <= h {
                (lo, hi) = (l, h);
            }
        }
        (lo.is_finite() && hi.is_finite()).then_some((lo, hi))
    }

    /// Server time minus local time at local time `now`: the middle of the
    /// samples' intersection.
    pub fn offset_at(&self, now: Millis) -> Option<Millis> {
        self.bounds_at(now).map(|(lo, hi)| (lo + hi) / 2.0)
    }

    /// Server time minus local time, as of the newest sample.
    pub fn offset(&self) -> Option<Millis> {
        let now = self.samples.back()?.at;
        self.offset_at(now)
    }

    /// Bound on the error of [`Self::offset_at`] at `now`.
    pub fn error_bound_at(&self, now: Millis) -> Option<Millis> {
        self.bounds_at(now).map(|(lo, hi)| (hi - lo) / 2.0)
    }

    pub fn error_bound(&self) -> Option<Millis> {
        let now = self.samples.back()?.at;
        self.error_bound_at(now)
    }

    /// Most recent round-trip delay.
    pub fn rtt(&self) -> Option<Millis> {
        self.samples.back().map(|s| s.delay)
    }

    /// Fitted skew in parts per million (server faster than local: positive).
    pub fn skew_ppm(&self) -> f64 {
        self.skew * 1e6
    }

    pub fn sample_count(&self) -> usize {
        self.samples.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Probe a server whose clock is `true_offset` ahead, with the given
    /// one-way delays.
    fn probe(clock: &mut ClockSync, now: Millis, true_offset: Millis, up: Millis, down: Millis) -> bool {
        let t1 = now + up + true_offset;
        let t2 = t1 + 0.5;
        let t3 = now + up + 0.5 + down;
        clock.handle_pong(now, t1, t2, t3)
    }

    #[test]
    fn symmetric_paths_give_the_exact_offset() {
        let mut c = ClockSync::new(ClockConfig::default());
        probe(&mut c, 1000.0, 5_000.0, 20.0, 20.0);
        assert_eq!(c.offset(), Some(5_000.0));
        assert_eq!(c.rtt(), Some(40.0));
        assert_eq!(c.error_bound(), Some(20.0));
    }

    #[test]
    fn the_minimum_delay_samples_win_over_congested_ones() {
        let mut c = ClockSync::new(ClockConfig { window: 1, ..ClockConfig::default() });
        probe(&mut c, 0.0, -300.0, 40.0, 10.0); // congested uplink: biased
        probe(&mut c, 200.0, -300.0, 5.0, 5.0); // clean
        probe(&mut c, 400.0, -300.0, 10.0, 40.0); // congested downlink: biased
        let mut c = ClockSync::new(ClockConfig::default());
        for (t, up, down) in [(0.0, 40.0, 10.0), (100.0, 5.0, 5.0), (200.0, 10.0, 40.0), (300.0, 6.0, 6.0), (400.0, 5.5, 5.5), (500.0, 80.0, 20.0)] {
            probe(&mut c, t, -300.0, up, down);
        }
        assert_eq!(c.offset_at(500.0), Some(-300.0));
        assert!(c.error_bound_at(500.0).is_some_and(|e| e < 5.1), "{:?}", c.error_bound_at(500.0));
    }

    #[test]
    fn impossible_samples_are_rejected() {
        let mut c = ClockSync::new(ClockConfig::default());
        assert!(!c.handle_pong(10.0, 0.0, 0.0, 5.0)); // reply before request
        assert!(!c.handle_pong(0.0, 10.0, 5.0, 20.0)); // server sent before it received
        assert!(!c.handle_pong(0.0, f64::NAN, 1.0, 2.0));
        assert!(!c.handle_pong(0.0, 0.0, 100.0, 10.0)); // negative delay
        assert_eq!(c.offset(), None);
    }

    /// The probes sent from `from` to `to`, polled every 50 ms; `answer`:
    /// each gets an immediate 10 ms round trip.
    fn probes(c: &mut ClockSync, from: Millis, to: Millis, answer: bool) -> Vec<Millis> {
        let mut sent = vec![];
        let mut now = from;
        while now < to {
            if let Some(t0) = c.poll_probe(now) {
                if answer {
                    c.handle_pong(t0, t0 + 5.0, t0 + 5.0, t0 + 10.0);
                }
                sent.push(t0);
            }
            now += 50.0;
        }
        sent
    }

    #[test]
    fn a_burst_then_periodic_probes() {
        let cfg = ClockConfig::default();
        let mut c = ClockSync::new(cfg.clone());
        assert_eq!(c.poll_probe(0.0), None, "no probes before connecting");
        c.handle_connected(0.0);
        let sent = probes(&mut c, 0.0, 40_000.0, false);
        assert_eq!(&sent[..8], &[0.0, 100.0, 200.0, 300.0, 400.0, 500.0, 600.0, 700.0]);
        // Rounds of three every 2 s until the skew is fitted …
        assert_eq!(&sent[8..14], &[2_700.0, 2_800.0, 2_900.0, 4_900.0, 5_000.0, 5_100.0]);
        for k in 0..40 {
            let t0 = 40_000.0 + k as f64 * 2_000.0;
            c.handle_pong(t0, t0 + 5.0, t0 + 5.0, t0 + 10.0);
        }
        assert!(c.skew_fitted);
        // … then every 10 s.
        let sent = probes(&mut c, 130_000.0, 170_000.0, false);
        let gaps: Vec<f64> = sent.windows(2).map(|w| w[1] - w[0]).skip(3).collect();
        assert_eq!(&gaps[..6], &[100.0, 100.0, 10_000.0, 100.0, 100.0, 10_000.0], "{sent:?}");
        c.handle_disconnected();
        assert_eq!(c.poll_timeout(), None);
    }

    #[test]
    fn frequent_probing_ends_even_if_the_skew_never_fits() {
        // A history too short to fit: warm-up ends by time (2 × the fit's span).
        let mut c = ClockSync::new(ClockConfig { history: 2, ..ClockConfig::default() });
        c.handle_connected(0.0);
        let sent = probes(&mut c, 0.0, 200_000.0, true);
        assert!(!c.skew_fitted);
        let late: Vec<f64> = sent.iter().copied().filter(|t| *t > 150_000.0).collect();
        assert!(late.len() <= 3 * 6, "every 10 s after two minutes: {late:?}");
        let early = sent.iter().filter(|t| **t < 60_000.0).count();
        assert!(early >= 80, "every 2 s at first: {early}");
    }

    #[test]
    fn outliers_are_rejected_and_a_lasting_change_starts_a_new_burst() {
        let mut c = ClockSync::new(ClockConfig::default());
        for i in 0..5 {
            assert!(probe(&mut c, i as f64 * 100.0, 50.0, 10.0, 10.0));
        }
        assert!(!probe(&mut c, 600.0, 50.0, 300.0, 10.0), "one slow reply is an outlier");
        assert_eq!(c.offset(), Some(50.0));
        assert!(probe(&mut c, 650.0, 50.0, 10.0, 10.0));
        // The route changed for good: three slow replies in a row.
        assert!(!probe(&mut c, 700.0, 50.0, 100.0, 100.0));
        assert!(!probe(&mut c, 800.0, 50.0, 100.0, 100.0));
        assert!(probe(&mut c, 900.0, 50.0, 100.0, 100.0));
        assert_eq!(c.sample_count(), 7, "the slow sample joins the window; the old bounds still hold");
        assert_eq!(c.offset(), Some(50.0), "and the estimate does not jump");
        assert_eq!(c.poll_timeout(), Some(900.0 + 200.5), "and a new burst is due at once");
    }

    #[test]
    fn skew_is_learned_so_long_sessions_stay_accurate() {
        // The server clock runs 100 ppm faster than the local one.
        let mut c = ClockSync::new(ClockConfig::default());
        let skew = 100e-6;
        let mut now = 0.0;
        while now < 600_000.0 {
            let true_offset = 1_000.0 + skew * now;
            probe(&mut c, now, true_offset, 15.0, 15.0);
            now += 15_000.0;
        }
        assert!((c.skew_ppm() - 100.0).abs() < 5.0, "skew {}", c.skew_ppm());
        // Two minutes after the last probe, the estimate has followed the drift.
        let later = now + 120_000.0;
        let truth = 1_000.0 + skew * later;
        let err = (c.offset_at(later).unwrap_or(0.0) - truth).abs();
        assert!(err < 1.0, "error {err} ms");
    }

    #[test]
    fn jittered_paths_are_pinned_by_the_bounds_of_different_exchanges() {
        // Profile A of the sync benchmark: 40 ± 20 ms up, 30 ± 15 ms down.
        // Every client's estimate must land within a few ms of the others'.
        let truth = 7_000.0;
        for seed in 1..=20 {
            let mut rng = crate::sim::Rng::new(seed);
            let mut c = ClockSync::new(ClockConfig::default());
            let mut now = 0.0;
            for _ in 0..20 {
                probe(&mut c, now, truth, rng.range(20.0, 60.0), rng.range(15.0, 45.0));
                now += 500.0;
            }
            let err = c.offset_at(now).unwrap_or(0.0) - truth;
            // The path's fixed asymmetry ((20 − 15) / 2 = 2.5 ms) is the same for
            // everyone; what differs between clients must stay small.
            assert!((err - 2.5).abs() < 3.0, "seed {seed}: error {err} ms");
            assert!(c.error_bound_at(now).is_some_and(|b| b >= err.abs()), "seed {seed}: the truth lies inside the bounds");
        }
    }
}
