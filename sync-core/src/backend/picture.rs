//! Where the picture is, fitted from the frames shown.
//!
//! Each frame comes with its media time and when it is shown
//! (`requestVideoFrameCallback`'s `mediaTime` and `expectedDisplayTime`).
//! One frame carried to now at the rate is off by its display time's
//! jitter: ±12 ms in Firefox (p5–p95, measured by `bench sync`), enough to keep the
//! drift controller's dead band at 8 ms. Between rate changes, seeks and
//! stalls the frames lie on one line of known slope (the rate), so the
//! intercept is the mean of `media − rate·shown` over the last second of
//! frames: the jitter averages out (÷√n), and what is left of it is
//! measured from the residuals and handed to the controller as this
//! reading's error (its dead band follows, see `DriftController::set_read_error`).
//!
//! The line's slope is the rate times the element's own speed: an element
//! that plays slower than its rate asks (Firefox on a loaded machine: 1–2 %
//! slow, measured by `bench sync`) would otherwise read ahead by half the
//! window times its speed error (7.5 ms at 1.5 %), and the drift controller
//! would keep it that far behind. The speed is each full window's own
//! least-squares slope over the rate — display time regressed on media
//! time, which is exact per frame (the other way round, the jitter in the
//! display times would shrink the slope) —, averaged over ~8 s of frames
//! (one window's slope is off by ~0.5 % with Firefox's jitter; the average,
//! of overlapping windows, by about a third of that), bounded to
//! ±[`MAX_SPEED_ERROR`]. It is kept per rate (an engine may play a nudge's
//! rate off by its own amount: Firefox 1.02 → 1.031, measured), for the
//! last few rates played (rates within 0.4 % of each other sharing one: a
//! speed trim moves the base rate a little); a rate not learned reads at
//! speed 1. A new
//! source forgets it.
//!
//! Time is an input (`shown` and `now` in the caller's ms); nothing here
//! reads a clock.

use std::collections::VecDeque;

use crate::Millis;

/// Frames older than this (ms, before the newest) are forgotten.
pub const WINDOW_MS: Millis = 1_000.0;
/// A newest frame older than this (ms) says nothing about now (paused, stalled, hidden).
pub const FRESH_MS: Millis = 150.0;
/// A frame off the line by more than this (s) starts a new line: a seek, a
/// stall, a skipped stretch. Display jitter stays well inside it.
pub const JUMP_S: f64 = 0.05;
/// Fewer frames than this on the line: no error measured yet.
pub const MIN_FRAMES: usize = 4;
/// The error reported is never below this (s): what is left of a display
/// pipeline's constant lag is no better known than this.
pub const ERROR_FLOOR_S: f64 = 0.001;
/// A window spanning at least this (ms) teaches the element's speed.
pub const SPEED_SPAN_MS: Millis = 500.0;
/// How much of each frame's window slope the speed takes (~8 s of frames at 24–30 fps).
const SPEED_GAIN: f64 = 1.0 / 200.0;
/// The speed learned stays within 1 ± this.
pub const MAX_SPEED_ERROR: f64 = 0.05;
/// Speeds are kept for this many rates (the base rate and a few nudges).
const SPEED_RATES: usize = 4;
/// Rates closer than this (a fraction) share a speed: a speed trim that
/// moves the base rate by a few tenths of a percent keeps what was learned.
const SAME_RATE: f64 = 0.004;
/// At most this many frames are kept, whatever their display times say.
const MAX_FRAMES: usize = 120;

#[derive(Clone, Copy, Debug, PartialEq)]
struct Frame {
    shown: Millis,
    media: f64,
}

/// The frames since the last discontinuity, at one rate.
#[derive(Clone, Debug)]
pub struct PictureFit {
    frames: VecDeque<Frame>,
    rate: f64,
    /// (rate, media time played per media time asked for at that rate),
    /// the most recent first.
    speeds: Vec<(f64, f64)>,
}

impl Default for PictureFit {
    fn default() -> Self {
        PictureFit { frames: VecDeque::new(), rate: 1.0, speeds: Vec::new() }
    }
}

/// The fit's reading of the picture now.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PictureReading {
    /// Media time (s) on screen now.
    pub position: f64,
    /// How far it may be off (s): twice the fit's standard error; `None`
    /// with too few frames to tell.
    pub error: Option<f64>,
}

impl PictureFit {
    pub fn new() -> Self {
        PictureFit::default()
    }

    /// A frame was shown at `shown` (ms) with media time `media` (s), the
    /// element playing at `rate`.
    pub fn handle_frame(&mut self, shown: Millis, media: f64, rate: f64) {
        if let Some(last) = self.frames.back().copied() {
            let expected = last.media + (shown - last.shown) / 1000.0 * self.rate * self.speed_at(self.rate);
            let on_line = rate == self.rate && (media - expected).abs() <= JUMP_S;
            if !on_line {
                self.frames.clear();
            }
        }
        self.rate = rate;
        self.frames.push_back(Frame { shown, media });
        while self.frames.len() > MAX_FRAMES || self.frames.front().is_some_and(|f| shown - f.shown > WINDOW_MS) {
            self.frames.pop_front();
        }
        self.learn_speed();
    }

    /// How fast the element plays at `rate` against it, as learned (1: as asked, or not learned).
    pub fn speed_at(&self, rate: f64) -> f64 {
        self.speeds.iter().find(|(r, _)| same_rate(*r, rate)).map_or(1.0, |(_, s)| *s)
    }

    /// The window's least-squares slope, over the rate, into the speed at this rate.
    fn learn_speed(&mut self) {
        let (Some(first), Some(last)) = (self.frames.front(), self.frames.back()) else { return };
        if self.frames.len() < MIN_FRAMES || last.shown - first.shown < SPEED_SPAN_MS || self.rate <= 0.0 {
            return;
        }
        let n = self.frames.len() as f64;
        let (mt, mm) = self.frames.iter().fold((0.0, 0.0), |(t, m), f| (t + f.shown / n, m + f.media / n));
        // Display time (s) on media time: ds/dm = 1 / (rate · speed).
        let (smt, smm) = self.frames.iter().fold((0.0, 0.0), |(xy, xx), f| (xy + (f.media - mm) * (f.shown - mt) / 1000.0, xx + (f.media - mm).powi(2)));
        if smt <= 0.0 || smm <= 0.0 {
            return;
        }
        let window = (smm / smt / self.rate).clamp(1.0 - MAX_SPEED_ERROR, 1.0 + MAX_SPEED_ERROR);
        let rate = self.rate;
        let at = self.speeds.iter().position(|(r, _)| same_rate(*r, rate));
        let (_, mut speed) = at.map_or((rate, 1.0), |i| self.speeds.remove(i));
        speed += SPEED_GAIN * (window - speed);
        self.speeds.insert(0, (rate, speed));
        self.speeds.truncate(SPEED_RATES);
    }

    /// The last frame no longer stands for what plays (a seek).
    pub fn handle_discontinuity(&mut self) {
        self.frames.clear();
    }

    /// A new source: nothing learned of the last one holds.
    pub fn handle_new_source(&mut self) {
        *self = PictureFit::default();
    }

    /// The picture at `now` (ms), the element playing at `rate` since its
    /// last frame; `None` without a fresh frame.
    pub fn poll_reading(&self, now: Millis, rate: f64) -> Option<PictureReading> {
        let last = *self.frames.back()?;
        if !(-FRESH_MS..FRESH_MS).contains(&(now - last.shown)) {
            return None;
        }
        let n = self.frames.len() as f64;
        let slope = self.rate * self.speed_at(self.rate);
        let intercept = |f: &Frame| f.media - f.shown / 1000.0 * slope;
        let c = self.frames.iter().map(intercept).sum::<f64>() / n;
        // The fitted line at the last frame, carried to now at today's rate.
        let position = c + last.shown / 1000.0 * slope + (now - last.shown) / 1000.0 * rate * self.speed_at(rate);
        let error = (self.frames.len() >= MIN_FRAMES).then(|| {
            let var = self.frames.iter().map(|f| (intercept(f) - c).powi(2)).sum::<f64>() / (n - 1.0);
            (2.0 * (var / n).sqrt()).max(ERROR_FLOOR_S)
        });
        Some(PictureReading { position, error })
    }
}

fn same_rate(a: f64, b: f64) -> bool {
    (a - b).abs() <= SAME_RATE * b.abs()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    const FPS: f64 = 30.0;

    /// Frames at [`FPS`] from media time `from`, shown at `t0` + jitter.
    fn play(fit: &mut PictureFit, rng: &mut Rng, t0: Millis, from: f64, secs: f64, rate: f64, jitter_ms: f64) -> Millis {
        let n = (secs * FPS) as usize;
        let mut t = t0;
        for i in 0..n {
            let media = from + i as f64 / FPS;
            t = t0 + i as f64 / FPS / rate * 1000.0;
            fit.handle_frame(t + (rng.next_f64() - 0.5) * 2.0 * jitter_ms, media, rate);
        }
        t
    }

    #[test]
    fn jittered_frames_read_within_a_few_ms_where_one_frame_is_off_by_the_jitter() {
        let mut rng = Rng::new(7);
        let mut worst_fit: f64 = 0.0;
        let mut worst_last: f64 = 0.0;
        let mut sum_fit = 0.0;
        let mut fit = PictureFit::new();
        for k in 0..200 {
            let t0 = k as f64 * 2_000.0;
            fit.handle_discontinuity();
            let end = play(&mut fit, &mut rng, t0, 10.0, 1.0, 1.0, 17.0);
            let now = end + 20.0;
            let truth = 10.0 + (now - t0) / 1000.0;
            let r = fit.poll_reading(now, 1.0).expect("fresh");
            worst_fit = worst_fit.max((r.position - truth).abs());
            sum_fit += (r.position - truth).abs() / 200.0;
            let last = fit.frames.back().unwrap();
            worst_last = worst_last.max((last.media + (now - last.shown) / 1000.0 - truth).abs());
            let err = r.error.expect("30 frames");
            assert!(err > 0.002 && err < 0.006, "the error the residuals give: {err}");
        }
        assert!(worst_fit < 0.0085 && sum_fit < 0.003, "the fit: worst {worst_fit}, mean {sum_fit}");
        assert!(worst_last > 0.012, "one frame alone: worst {worst_last}");
    }

    #[test]
    fn a_seek_a_stall_or_a_rate_change_starts_a_new_line() {
        let mut rng = Rng::new(1);
        let mut fit = PictureFit::new();
        let end = play(&mut fit, &mut rng, 0.0, 0.0, 1.0, 1.0, 0.0);
        assert_eq!(fit.frames.len(), 30);
        // A seek to 20 s: the old line is gone, and the reading is at 20 s.
        fit.handle_frame(end + 33.0, 20.0, 1.0);
        assert_eq!(fit.frames.len(), 1);
        let r = fit.poll_reading(end + 33.0, 1.0).unwrap();
        assert!((r.position - 20.0).abs() < 1e-9);
        assert_eq!(r.error, None, "one frame: no error measured");
        // A stall: shown half a second later, same media time.
        fit.handle_frame(end + 533.0, 20.033, 1.0);
        assert_eq!(fit.frames.len(), 1);
        // A rate change: a new line at the new slope.
        let end = play(&mut fit, &mut rng, end + 600.0, 20.1, 0.5, 1.05, 0.0);
        assert_eq!(fit.frames.len(), 15);
        let r = fit.poll_reading(end + 100.0, 1.05).unwrap();
        let truth = 20.1 + 14.0 / 30.0 + 0.1 * 1.05;
        assert!((r.position - truth).abs() < 1e-9, "{} vs {truth}", r.position);
        assert_eq!(r.error, Some(ERROR_FLOOR_S), "exact frames: the floor");
    }

    #[test]
    fn a_rate_set_since_the_last_frame_carries_the_fit_at_the_new_rate() {
        let mut rng = Rng::new(2);
        let mut fit = PictureFit::new();
        let end = play(&mut fit, &mut rng, 0.0, 5.0, 1.0, 1.0, 0.0);
        let r = fit.poll_reading(end + 100.0, 0.95).unwrap();
        let truth = 5.0 + 29.0 / 30.0 + 0.1 * 0.95;
        assert!((r.position - truth).abs() < 1e-9);
    }

    #[test]
    fn an_element_playing_slower_than_its_rate_is_read_at_its_own_speed() {
        let mut rng = Rng::new(5);
        let mut fit = PictureFit::new();
        // 1.5 % slow: frames of media 1/30 s apart are shown 1/30/0.985 s apart.
        let (mut t, mut media) = (0.0, 0.0);
        let mut worst_late: f64 = 0.0;
        for i in 0..30 * 30 {
            fit.handle_frame(t + (rng.next_f64() - 0.5) * 24.0, media, 1.0);
            if i >= 30 * 20 {
                let now = t + 10.0;
                let truth = media + 0.010 * 0.985;
                worst_late = worst_late.max((fit.poll_reading(now, 1.0).unwrap().position - truth).abs());
            }
            t += 1000.0 / 30.0 / 0.985;
            media += 1.0 / 30.0;
        }
        assert!((fit.speed_at(1.0) - 0.985).abs() < 0.002, "learned speed {}", fit.speed_at(1.0));
        assert_eq!(fit.speed_at(1.05), 1.0, "not learned at another rate");
        fit.handle_new_source();
        assert_eq!(fit.speed_at(1.0), 1.0, "forgotten with the source");
        assert!(worst_late < 0.006, "read within a few ms once learned (nominal slope: ~7.5 ms ahead): {worst_late}");
    }

    #[test]
    fn jittered_frames_of_an_element_at_speed_learn_no_speed_error() {
        // The jitter is in the display times: regressed the other way round
        // it would read ~0.3 % slow from 1 s windows, more after each reset.
        let mut rng = Rng::new(9);
        let mut fit = PictureFit::new();
        for k in 0..40 {
            // A rate change every 2 s resets the line, as nudges do.
            let rate = if k % 2 == 0 { 1.0 } else { 1.02 };
            play(&mut fit, &mut rng, k as f64 * 2_000.0, k as f64 * 2.0, 2.0 * rate, rate, 17.0);
        }
        let learned = fit.speed_at(1.0);
        assert!((learned - 1.0).abs() < 0.0015, "learned {learned}");
    }

    #[test]
    fn old_and_stale_frames_say_nothing() {
        let mut rng = Rng::new(3);
        let mut fit = PictureFit::new();
        assert_eq!(fit.poll_reading(0.0, 1.0), None);
        let end = play(&mut fit, &mut rng, 0.0, 0.0, 3.0, 1.0, 0.0);
        assert!(fit.frames.len() <= 31, "a second's frames kept: {}", fit.frames.len());
        assert!(fit.poll_reading(end + FRESH_MS - 1.0, 1.0).is_some());
        assert_eq!(fit.poll_reading(end + FRESH_MS + 1.0, 1.0), None, "paused or hidden");
    }
}
