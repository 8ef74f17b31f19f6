//! Whether the element's `currentTime` runs ahead of its picture, measured.
//!
//! WebKitGTK, with the element routed into WebAudio (as the loudness
//! normaliser does), reports in `currentTime` how far audio was handed to
//! the AudioContext, not what is shown: ~1 s after every start (from pause,
//! after a seek) it leaps ~1 s ahead of the picture and stays there, while
//! the picture (`requestVideoFrameCallback`'s `mediaTime`) and what is heard
//! stay on time. Measured by `bench sync` and README "Engines". A seek lands
//! `currentTime` on the target again, until the next start.
//!
//! So while playing, each reading of an exact `currentTime` is compared
//! with the picture carried to now. A disagreement of more than
//! [`DISAGREE_S`] (two frames at 24 fps; Chromium's picture is within a
//! frame of `currentTime`) in two readings in a row, or of more than
//! [`LEAP_S`] in one (no jitter does that), makes the picture the reading,
//! and remembers the lead for the moments
//! without a fresh frame (paused: the element holds its lead; a stall).
//! [`AGREE_TICKS`] agreeing readings in a row end it. Stepped readings are
//! compared too: WebKitGTK's through WebAudio also move in ~28 ms steps,
//! while Firefox's, half a step behind the picture, never disagree by this much.

/// A disagreement (s) of `currentTime` with the picture that is not jitter.
pub const DISAGREE_S: f64 = 0.08;
/// A disagreement (s) believed from one reading.
pub const LEAP_S: f64 = 0.3;
/// Agreeing readings in a row after which `currentTime` is trusted again.
pub const AGREE_TICKS: u32 = 8;

#[derive(Clone, Debug, Default)]
pub struct ReadLead {
    /// `currentTime` − picture (s), as last measured while leading.
    lead: f64,
    leading: bool,
    agreeing: u32,
    /// A first disagreement, not yet believed.
    doubt: Option<f64>,
    /// The last `currentTime` read while playing: (when, it, at rate).
    last: Option<(f64, f64, f64)>,
    /// The element has shown a picture to compare with (it has the API).
    pictured: bool,
    /// Fresh pictures confirmed a lead of more than [`LEAP_S`], in
    /// [`LEAP_READINGS`] readings in a row.
    leaps: bool,
    /// Readings in a row so far that did, and the last one's lead (s).
    leap_run: u32,
    run_level: f64,
}

/// Readings in a row that must find `currentTime` more than [`LEAP_S`]
/// ahead of a fresh picture before rates are given up for it: one may be a
/// frame of before a seek (a Firefox page in a mixed room gave up rates on
/// one, 2026-12-05); WebKitGTK's lead lasts as long as it plays.
pub const LEAP_READINGS: u32 = 3;

impl ReadLead {
    pub fn new() -> Self {
        ReadLead::default()
    }

    /// Every reading at `now` (ms) while playing at `rate`: `currentTime`,
    /// and the picture where a fresh frame gives one (see [`Self::handle_reading`]).
    ///
    /// Without a fresh frame, where the element has shown pictures before,
    /// a leap of more than [`LEAP_S`] ahead of where the last reading was
    /// carried to, at the same rate and with nothing of ours between (a
    /// seek, a load, a rate change: see [`Self::handle_discontinuity`]), is
    /// taken as a lead at once (on the lead it had: 0 after a seek): the
    /// start's leap came in a tick without a frame, was read as the
    /// element running 1 s ahead, and the rate change that answered it
    /// made the picture jump there (two WebKit pages, 2026-12-05). A fresh
    /// picture later corrects the level, or, agreeing, ends it.
    pub fn handle_tick(&mut self, now: f64, current_time: f64, rate: f64, picture: Option<f64>) {
        let jump = self.last.filter(|(_, _, r)| (r - rate).abs() < 1e-9).map(|(at, ct, r)| current_time - (ct + (now - at).max(0.0) / 1000.0 * r));
        self.last = Some((now, current_time, rate));
        match picture {
            Some(p) => self.handle_reading(current_time, p),
            None if self.pictured && jump.is_some_and(|j| j > LEAP_S) => {
                let jump = jump.unwrap_or_default();
                self.lead = if self.leading { self.lead + jump } else { jump };
                self.leading = true;
                self.agreeing = 0;
                self.doubt = None;
            }
            None => {}
        }
    }

    /// Not playing (paused, stalled, seeking), or a seek, load or rate
    /// change of ours: the next reading is no leap.
    pub fn handle_discontinuity(&mut self) {
        self.last = None;
        self.leap_run = 0;
    }

    /// Fresh pictures confirmed a lead of more than [`LEAP_S`] (WebKitGTK
    /// through WebAudio): there a rate change makes the picture jump.
    pub fn leaps(&self) -> bool {
        self.leaps
    }

    /// A reading while playing: `current_time` and the picture now (s).
    pub fn handle_reading(&mut self, current_time: f64, picture: f64) {
        self.pictured = true;
        let d = current_time - picture;
        // (At one level: a stale frame, then another, are no lead.)
        let same = self.leap_run == 0 || (d - self.run_level).abs() < DISAGREE_S;
        self.leap_run = if d > LEAP_S {
            if same {
                self.leap_run + 1
            } else {
                1
            }
        } else {
            0
        };
        self.run_level = d;
        self.leaps |= self.leap_run >= LEAP_READINGS;
        let doubt = self.doubt.take();
        if d.abs() > DISAGREE_S && !self.leading && d.abs() <= LEAP_S && !doubt.is_some_and(|x| (d - x).abs() < DISAGREE_S) {
            self.doubt = Some(d); // one reading off by a few frames may be a late frame
        } else if d.abs() > DISAGREE_S {
            // A new level (a start's leap) is taken at once; the same level is smoothed.
            self.lead = if self.leading && (d - self.lead).abs() < DISAGREE_S { self.lead + 0.25 * (d - self.lead) } else { d };
            self.leading = true;
            self.agreeing = 0;
        } else if self.leading {
            self.agreeing += 1;
            if self.agreeing >= AGREE_TICKS {
                *self = ReadLead { pictured: true, last: self.last, leaps: self.leaps, ..ReadLead::default() };
            } else {
                self.lead = d;
            }
        }
    }

    /// The element tells the frames it shows: a leap without a fresh frame
    /// is a lead even before its first frame (see [`Self::handle_tick`]).
    /// WebKitGTK's `currentTime` leapt 1.04 s within 50 ms of a page's
    /// first start, before any frame, on busy cores (2026-12-06): read as
    /// 1.1 s of drift, it set off a seek that left the page ~1 s off for
    /// the 3 s of the seek's cool-down.
    pub fn handle_shows_frames(&mut self) {
        self.pictured = true;
    }

    /// A seek landed: `currentTime` is the target again.
    pub fn handle_seeked(&mut self) {
        self.lead = 0.0;
        self.doubt = None;
        self.last = None;
        self.leap_run = 0;
    }

    /// The position (s) from a reading: the picture where `currentTime` is
    /// found leading and there is one, else `currentTime` less its lead.
    pub fn position(&self, current_time: f64, picture: Option<f64>, playing: bool) -> f64 {
        match (self.leading, picture) {
            (false, _) => current_time,
            (true, Some(p)) if playing => p,
            (true, _) => current_time - self.lead,
        }
    }

    /// How far (ms) `currentTime` is ahead of the picture, while it is found so.
    pub fn lead_ms(&self) -> Option<f64> {
        self.lead().map(|s| s * 1000.0)
    }

    /// How far (s) `currentTime` is ahead of the picture, while it is found so.
    pub fn lead(&self) -> Option<f64> {
        self.leading.then_some(self.lead)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reading_within_jitter_of_the_picture_is_trusted() {
        let mut r = ReadLead::new();
        for i in 0..20 {
            let t = i as f64 * 0.25;
            r.handle_reading(t, t - 0.03 + (i % 3) as f64 * 0.02);
        }
        assert_eq!(r.lead_ms(), None);
        assert_eq!(r.position(5.0, Some(4.97), true), 5.0);
    }

    #[test]
    fn one_late_frame_is_not_believed_two_readings_are() {
        let mut r = ReadLead::new();
        r.handle_reading(5.0, 4.88);
        assert_eq!(r.lead_ms(), None, "one reading 120 ms off: a late frame");
        r.handle_reading(5.25, 5.25);
        r.handle_reading(5.5, 5.38);
        assert_eq!(r.lead_ms(), None);
        r.handle_reading(5.75, 5.63);
        assert!(r.lead_ms().is_some_and(|l| (l - 120.0).abs() < 1.0), "two in a row: {:?}", r.lead_ms());
    }

    #[test]
    fn a_leap_ahead_of_the_picture_is_read_from_the_picture_at_once() {
        let mut r = ReadLead::new();
        r.handle_reading(1.0, 0.99);
        r.handle_reading(2.28, 1.25); // the start's leap
        assert!((r.lead_ms().unwrap_or(0.0) - 1030.0).abs() < 1.0, "{:?}", r.lead_ms());
        assert_eq!(r.position(2.5, Some(1.47), true), 1.47);
        // No fresh frame: currentTime less its lead.
        assert!((r.position(2.5, None, true) - 1.47).abs() < 1e-9);
        // Paused, it holds its lead (measured: 3.029 read, 2.042 shown).
        assert!((r.position(3.072, Some(2.0), false) - 2.042).abs() < 1e-9);
    }

    #[test]
    fn a_leap_in_a_tick_without_a_frame_is_a_lead_where_frames_were_seen() {
        // No pictures ever (no requestVideoFrameCallback): a jump is the element's own.
        let mut bare = ReadLead::new();
        bare.handle_tick(0.0, 1.0, 1.0, None);
        bare.handle_tick(250.0, 2.25, 1.0, None);
        assert_eq!(bare.lead_ms(), None);
        // Frames seen; then, 250 ms on, currentTime is 1 s further than it
        // should be and no fresh frame: the start's leap.
        let mut r = ReadLead::new();
        r.handle_tick(0.0, 1.0, 1.0, Some(0.995));
        assert_eq!(r.lead_ms(), None);
        r.handle_tick(250.0, 2.26, 1.0, None);
        assert!(r.lead_ms().is_some_and(|l| (l - 1010.0).abs() < 1.0), "{:?}", r.lead_ms());
        assert!((r.position(2.26, None, true) - 1.25).abs() < 1e-9, "read less its lead");
        // The next fresh frame says the same level (smoothed towards 1020 ms).
        r.handle_tick(500.0, 2.51, 1.0, Some(1.49));
        assert!(r.lead_ms().is_some_and(|l| l > 1011.0 && l < 1020.0), "{:?}", r.lead_ms());
        assert!(!r.leaps(), "one frame is no proof");
        r.handle_tick(750.0, 2.76, 1.0, Some(1.74));
        r.handle_tick(1_000.0, 3.01, 1.0, Some(1.99));
        assert!(r.leaps(), "three in a row are");
        // Steady progress is no leap; after a pause neither is the first reading.
        let mut s = ReadLead::new();
        s.handle_tick(0.0, 1.0, 1.0, Some(1.0));
        s.handle_tick(250.0, 1.25, 1.0, None);
        s.handle_tick(500.0, 1.52, 1.05, None);
        s.handle_discontinuity();
        s.handle_tick(9_000.0, 5.0, 1.0, None);
        assert_eq!(s.lead_ms(), None);
        // A rate changed between two readings: not judged.
        s.handle_tick(9_250.0, 5.25, 1.0, None);
        s.handle_tick(10_250.0, 7.25, 2.0, None);
        assert_eq!(s.lead_ms(), None);
        assert!(!s.leaps() && r.leaps(), "only a picture confirms a leap");
    }

    #[test]
    fn stale_frames_at_different_levels_or_across_a_seek_are_no_leap() {
        // Three readings far off, each at its own level.
        let mut r = ReadLead::new();
        r.handle_tick(0.0, 10.0, 1.0, Some(9.5));
        r.handle_tick(250.0, 10.25, 1.0, Some(8.0));
        r.handle_tick(500.0, 10.5, 1.0, Some(9.5));
        assert!(!r.leaps(), "no three in a row at one level");
        // Two at one level, a seek, one more at that level.
        let mut s = ReadLead::new();
        s.handle_tick(0.0, 10.0, 1.0, Some(9.0));
        s.handle_tick(250.0, 10.25, 1.0, Some(9.25));
        s.handle_seeked();
        s.handle_tick(500.0, 30.0, 1.0, Some(29.0));
        assert!(!s.leaps(), "a seek starts the count again");
        s.handle_tick(750.0, 30.25, 1.0, Some(29.25));
        s.handle_tick(1_000.0, 30.5, 1.0, Some(29.5));
        assert!(s.leaps(), "three after it do");
    }

    #[test]
    fn after_a_seek_the_next_leap_is_caught_without_a_frame_too() {
        let mut r = ReadLead::new();
        r.handle_tick(0.0, 1.0, 1.0, Some(0.99));
        r.handle_tick(250.0, 2.28, 1.0, Some(1.24)); // the start's leap, seen
        r.handle_seeked();
        r.handle_discontinuity();
        r.handle_tick(1_000.0, 20.0, 1.0, Some(20.0));
        assert_eq!(r.position(20.0, None, true), 20.0, "after the seek, on its target");
        r.handle_tick(1_250.0, 21.27, 1.0, None); // the next start's leap, no frame
        assert!((r.position(21.27, None, true) - 20.25).abs() < 0.01, "read less its new lead: {:?}", r.lead_ms());
    }

    #[test]
    fn a_seek_lands_currenttime_on_its_target_until_the_next_leap() {
        let mut r = ReadLead::new();
        r.handle_reading(2.28, 1.25);
        r.handle_seeked();
        assert_eq!(r.position(20.0, None, false), 20.0, "paused after a seek: the target");
        r.handle_reading(20.05, 20.04);
        assert_eq!(r.position(20.1, Some(20.09), true), 20.09, "still read from the picture");
        r.handle_reading(21.27, 20.25);
        assert!((r.position(21.5, None, false) - 20.48).abs() < 0.01);
    }

    #[test]
    fn agreeing_for_long_enough_trusts_currenttime_again() {
        let mut r = ReadLead::new();
        r.handle_reading(2.28, 1.25);
        for i in 0..AGREE_TICKS {
            assert!(r.lead_ms().is_some());
            let t = 3.0 + i as f64 * 0.25;
            r.handle_reading(t, t);
        }
        assert_eq!(r.lead_ms(), None);
        assert_eq!(r.position(9.0, Some(8.0), true), 9.0);
    }
}
