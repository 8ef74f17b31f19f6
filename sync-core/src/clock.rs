//! NTP-style clock offset estimation between a client and the server.
//!
//! Each probe yields four timestamps: `t0` client send, `t1` server receive,
//! `t2` server send, `t3` client receive. Then
//! `offset = ((t1 - t0) + (t2 - t3)) / 2` (server = client + offset) and
//! `delay = (t3 - t0) - (t2 - t1)`. The estimate trusts the minimum-delay
//! sample of a sliding window: its error is at most half its delay.

use std::collections::VecDeque;

use crate::Millis;

#[derive(Clone, Debug)]
pub struct ClockConfig {
    /// Samples kept.
    pub window: usize,
    /// Probes sent right after (re)connecting.
    pub burst: usize,
    /// Spacing of the burst probes.
    pub burst_interval_ms: Millis,
    /// Spacing of probes after the burst.
    pub period_ms: Millis,
}

impl Default for ClockConfig {
    fn default() -> Self {
        ClockConfig { window: 8, burst: 5, burst_interval_ms: 150.0, period_ms: 15_000.0 }
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sample {
    pub offset: Millis,
    pub delay: Millis,
    /// Local time the reply arrived.
    pub at: Millis,
}

/// Clock offset estimator with its own probe schedule.
#[derive(Clone, Debug)]
pub struct ClockSync {
    cfg: ClockConfig,
    samples: VecDeque<Sample>,
    burst_left: usize,
    next_probe: Option<Millis>,
}

impl ClockSync {
    pub fn new(cfg: ClockConfig) -> Self {
        ClockSync { cfg, samples: VecDeque::new(), burst_left: 0, next_probe: None }
    }

    /// A (re)connection: start a burst of probes now. Old samples are kept
    /// (the clocks did not change) but new ones soon win if they are better.
    pub fn handle_connected(&mut self, now: Millis) {
        self.burst_left = self.cfg.burst;
        self.next_probe = Some(now);
    }

    /// The connection is gone: no probes until the next one.
    pub fn handle_disconnected(&mut self) {
        self.next_probe = None;
        self.burst_left = 0;
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
            self.burst_left = 0;
            self.cfg.period_ms
        };
        self.next_probe = Some(now + gap);
        Some(now)
    }

    /// When the next probe is due.
    pub fn poll_timeout(&self) -> Option<Millis> {
        self.next_probe
    }

    /// A reply to the probe sent at `t0`, received at local `t3`.
    /// Returns false if the sample was rejected as impossible.
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
        self.samples.push_back(Sample { offset, delay, at: t3 });
        while self.samples.len() > self.cfg.window {
            self.samples.pop_front();
        }
        true
    }

    fn best(&self) -> Option<&Sample> {
        self.samples.iter().min_by(|a, b| a.delay.total_cmp(&b.delay))
    }

    /// Server time minus local time, from the best sample.
    pub fn offset(&self) -> Option<Millis> {
        self.best().map(|s| s.offset)
    }

    /// Bound on the error of [`Self::offset`].
    pub fn error_bound(&self) -> Option<Millis> {
        self.best().map(|s| s.delay / 2.0)
    }

    /// Most recent round-trip delay.
    pub fn rtt(&self) -> Option<Millis> {
        self.samples.back().map(|s| s.delay)
    }

    pub fn sample_count(&self) -> usize {
        self.samples.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Probe a server whose clock is `true_offset` ahead, with the given
    /// one-way delays, and return the estimate.
    fn probe(clock: &mut ClockSync, now: Millis, true_offset: Millis, up: Millis, down: Millis) {
        let t1 = now + up + true_offset;
        let t2 = t1 + 0.5;
        let t3 = now + up + 0.5 + down;
        assert!(clock.handle_pong(now, t1, t2, t3));
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
    fn the_minimum_delay_sample_wins_over_congested_ones() {
        let mut c = ClockSync::new(ClockConfig::default());
        probe(&mut c, 0.0, -300.0, 200.0, 10.0); // congested uplink: biased
        probe(&mut c, 200.0, -300.0, 5.0, 5.0); // clean
        probe(&mut c, 400.0, -300.0, 10.0, 400.0); // congested downlink: biased
        assert_eq!(c.offset(), Some(-300.0));
        assert_eq!(c.error_bound(), Some(5.0));
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

    #[test]
    fn a_burst_then_periodic_probes() {
        let cfg = ClockConfig::default();
        let mut c = ClockSync::new(cfg.clone());
        assert_eq!(c.poll_probe(0.0), None, "no probes before connecting");
        c.handle_connected(0.0);
        let mut sent = vec![];
        let mut now = 0.0;
        while now < 40_000.0 {
            if let Some(t0) = c.poll_probe(now) {
                sent.push(t0);
            }
            now += 50.0;
        }
        assert_eq!(&sent[..5], &[0.0, 150.0, 300.0, 450.0, 600.0]);
        assert_eq!(&sent[5..], &[15_600.0, 30_600.0]);
        c.handle_disconnected();
        assert_eq!(c.poll_timeout(), None);
    }

    #[test]
    fn the_window_forgets_old_samples() {
        let mut c = ClockSync::new(ClockConfig { window: 2, ..ClockConfig::default() });
        probe(&mut c, 0.0, 100.0, 1.0, 1.0);
        probe(&mut c, 10.0, 200.0, 30.0, 30.0);
        probe(&mut c, 20.0, 200.0, 30.0, 30.0);
        assert_eq!(c.sample_count(), 2);
        assert_eq!(c.offset(), Some(200.0));
    }
}
