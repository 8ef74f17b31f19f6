//! Drift control: decide between doing nothing, nudging the playback rate
//! and seeking, so that corrections are never noticed and never fight the
//! viewer.
//!
//! - A single reading of the element's position is noisy (Chromium's
//!   `currentTime` jitters by ±4 ms around the true position), so small
//!   drift is judged on the mean of the last few readings taken at the
//!   room's rate; only drift beyond `act_at_once` is acted on at once.
//! - Inside a dead band of a few ms nothing happens.
//! - Changing the rate may not be free: with pitch kept, Chromium's time
//!   stretch loses about 10 ms of media time at every rate change (~22 ms
//!   per nudge, whatever its size or length), so short nudges (≤ 1 s) around
//!   1× resample instead (see `client::MediaAction::SetRate`), which costs nothing
//!   measurable. Whatever a nudge (two changes) costs on this element is
//!   learned from what each nudge actually did and planned for, so a nudge
//!   lands where it aims.
//! - Small drift is nudged away with a proportional rate change (bounded,
//!   0.95–1.05 by default) held for exactly as long as it takes to cancel
//!   the drift, then the rate returns to exactly the room's rate: no
//!   overshoot, no hunting.
//! - Only drift beyond one threshold (default 1 s) is seeked, to a target
//!   ahead by the learned time seeks take to land on this client. Where a
//!   seek of ours really landed is judged on the first reading after it
//!   (exact readers only): the landing time is learned from that outcome,
//!   and a miss beyond 100 ms is seeked once more rather than nudged for
//!   seconds (a late joiner's start from pause, whose playback began late,
//!   was 300–400 ms behind under load and took 6–7 s of 5 % nudging). A
//!   follow-up is never followed up: no chains of seeks.
//! - An element that plays slower or faster than its rate asks (Firefox on
//!   a loaded machine: 0.6–1.7 % slow, measured by `bench sync`) is run at
//!   a trimmed base rate: over windows of ≥ 8 s of playing, the drift's
//!   change minus what the rates set should have gained (and the nudges'
//!   planned cost) is the element's speed error; the trim follows it
//!   (bounded at ±3 %, applied from 0.3 %, media elements only). In the
//!   simulation a 1.5 % slow element learns 1.3 % and the room's p95 goes
//!   from 14.0 to 7.0 ms; exact elements never trim. (An element too slow
//!   for the nudges — 2.5 % — stays beyond the act-at-once bound, which cuts
//!   every window, and is not trimmed: windows read on raw readings and cut
//!   only at jumps trimmed it in the simulation, but in browsers gave
//!   Firefox pages of normal speed −0.4 % trims and twice the drift, so it
//!   was taken back.)
//! - No correction while seeking or buffering; after a seek that did not
//!   help, a cooldown that doubles each time; drift beyond the emergency
//!   threshold (2 s) bypasses the cooldown. A per-client switch turns
//!   correction off.
//! - The backend's [`Capabilities`] shape all of this: where positions are
//!   only reported (embeds), the dead band grows to the read error measured
//!   from the reports' jitter (see `backend::Reports::read_error_ms`) and
//!   one reading alone is acted on only beyond three times the backend's
//!   nominal read error; where rates are stepped, a nudge plays the
//!   nearest listed rate for as long as the drift needs. Whether a rate
//!   really applies is measured: a nudge whose outcome shows less than a
//!   third of what it planned is a strike, and after two in a row the
//!   controller stops nudging and seeks instead (a backend that reports a
//!   rate as set without playing it; judged on reporting backends only).
//!   On a media element a rate change can instead make the position jump:
//!   WebKitGTK with the element routed into WebAudio re-seeks its pipeline
//!   at every rate change, to where audio was handed out, ~1 s ahead of the
//!   picture (measured). A drift that moved ahead by more than
//!   [`RATE_JUMP_S`] within [`RATE_JUMP_MS`] of a rate change (no seek,
//!   pause or stall in between: a ≤ 5 % nudge moves it ≤ 150 ms in that
//!   time) is a strike too; two and the element is corrected by seeks
//!   alone. Ahead only, and past the room's position: an element that
//!   stutters on a starved machine (Firefox beside WebKit on 2 cores:
//!   `currentTime` still for 0.2 s, then catching up, measured by `bench
//!   sync`) falls behind first, may be nudged on that reading, then catches
//!   up to where it was; two such stutters had cost it its rates.

use crate::backend::Capabilities;
use crate::Millis;

/// A speed error is read over windows at least this long (ms).
const TRIM_WINDOW_MS: Millis = 8_000.0;

#[derive(Clone, Debug)]
pub struct DriftConfig {
    /// No correction inside this drift (seconds).
    pub dead_band: f64,
    /// Small drift is judged on the mean of this many readings.
    pub filter: usize,
    /// Drift beyond this is acted on from one reading (seconds).
    pub act_at_once: f64,
    /// Position lost to one nudge (its two rate changes) before any is
    /// measured (ms); then learned from each nudge's outcome.
    pub initial_nudge_cost_ms: Millis,
    /// Rate change per second of drift.
    pub gain: f64,
    /// Smallest and largest rate change while nudging (fractions of the rate).
    pub min_rate_delta: f64,
    pub max_rate_delta: f64,
    /// At 1×, nudges planned to last up to this long resample (pitch moves
    /// with the rate, at no cost to the position); longer ones keep the pitch,
    /// so the sound is never detuned for long (ms).
    pub max_resampled_nudge_ms: Millis,
    /// Seek instead of nudging above this drift (seconds).
    pub seek_threshold: f64,
    /// Without rate control, seek above this drift instead (seconds).
    pub seek_threshold_without_rate: f64,
    /// The same for a media element (its seeks land within a frame or two
    /// of where they aim, once the landing time is learned; an embed's
    /// scatter by hundreds of ms).
    pub element_seek_threshold_without_rate: f64,
    /// Drift that bypasses the cooldown (seconds).
    pub emergency: f64,
    /// Cooldown after a seek, doubled after each seek that did not help.
    pub cooldown_ms: Millis,
    pub max_cooldown_ms: Millis,
    /// First guess of how long a seek takes to land (ms), then learned.
    pub initial_seek_landing_ms: Millis,
    /// Learn the landing time from our seeks (a naive peer does not).
    pub learn_landing: bool,
    /// A seek of ours that lands further off than this (seconds, judged on
    /// the mean of readings after it) is followed by one more seek rather
    /// than a nudge of several seconds: a start from pause whose playback
    /// began late, a landing time not learned yet.
    pub reseek_miss: f64,
    /// Largest speed trim (a fraction of the room's rate): an element that
    /// plays slower or faster than its rate asks (a loaded machine, an audio
    /// clock off the wall clock) is run at a base rate trimmed by what the
    /// drift between nudges shows; 0 turns it off.
    pub max_trim: f64,
    /// A trim smaller than this is not applied (read noise, not a speed error).
    pub min_trim: f64,
}

impl Default for DriftConfig {
    fn default() -> Self {
        DriftConfig {
            dead_band: 0.0025,
            filter: 8,
            act_at_once: 0.02,
            initial_nudge_cost_ms: 0.0,
            gain: 1.0,
            min_rate_delta: 0.02,
            max_rate_delta: 0.05,
            max_resampled_nudge_ms: 1_000.0,
            seek_threshold: 1.0,
            seek_threshold_without_rate: 0.25,
            element_seek_threshold_without_rate: 0.08,
            emergency: 2.0,
            cooldown_ms: 3_000.0,
            max_cooldown_ms: 30_000.0,
            initial_seek_landing_ms: 150.0,
            learn_landing: true,
            reseek_miss: 0.1,
            max_trim: 0.03,
            min_trim: 0.003,
        }
    }
}

/// What the element is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlayerState {
    Playing,
    Paused,
    Seeking,
    Buffering,
}

/// One measurement for the controller.
#[derive(Clone, Copy, Debug)]
pub struct DriftInput {
    /// Where the room says the element should be (seconds).
    pub expected: f64,
    /// Where it is.
    pub actual: f64,
    pub room_rate: f64,
    pub state: PlayerState,
    /// The element can change its playback rate.
    pub rate_control: bool,
}

/// What to do to the element.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Decision {
    Nothing,
    SetRate(f64),
    /// Jump here (already ahead by the learned landing time).
    Seek(f64),
}

#[derive(Clone, Debug)]
pub struct DriftController {
    cfg: DriftConfig,
    enabled: bool,
    /// The rate we last set.
    rate: f64,
    nudge_until: Option<Millis>,
    /// The room's rate the nudge in progress was planned around.
    nudge_room: f64,
    /// Drift readings (s) since the rate last changed.
    readings: Vec<f64>,
    /// A nudge just ended: the next estimate tells what it really did.
    judge_nudge: bool,
    /// Learned position lost to one nudge (s): resampled, pitch kept.
    nudge_cost: [f64; 2],
    /// The current (or last) nudge keeps the pitch.
    keep_pitch: bool,
    seek_landing_ms: Millis,
    /// Our seek in flight.
    seek_in_flight: Option<OurSeek>,
    /// Our seek landed: the next estimate tells where.
    judge_seek: Option<OurSeek>,
    last_seek: Option<Millis>,
    cooldown_ms: Millis,
    cooldown_until: Millis,
    caps: Capabilities,
    /// Measured read error (s), if any.
    read_error: Option<f64>,
    /// Rate changes have been seen to move the position.
    rate_applies: bool,
    /// Nudges in a row that did not do what they planned.
    strikes: u32,
    /// The nudge in progress: (drift when it began, planned change), s.
    planned: Option<(f64, f64)>,
    /// Learned speed error to make up (fraction of the room's rate).
    trim: f64,
    /// Position the rates set since the element last moved otherwise
    /// should have gained on the room (s): Σ (rate − room's rate)·dt.
    commanded: f64,
    /// When `commanded` was last brought up to date (playing).
    last_at: Option<Millis>,
    /// Start of the window the speed error is read over: (time, drift
    /// estimate, `commanded`).
    window: Option<(Millis, f64, f64)>,
    /// The last step's (time, drift), s.
    last_drift: Option<(Millis, f64)>,
    /// The rate was changed on an element: the last step's (time, drift)
    /// before the change, to see whether the change made the position jump.
    rate_changed: Option<(Millis, f64)>,
    /// The side (±1) of the last reading beyond a seek-only element's
    /// seek threshold, waiting for a second one (see [`Self::decide`]).
    over: Option<f64>,
}

/// A drift change (s) that a rate change cannot have made in [`RATE_JUMP_MS`].
pub const RATE_JUMP_S: f64 = 0.3;
/// How long (ms) after a rate change a jump is blamed on it.
pub const RATE_JUMP_MS: Millis = 3_000.0;

/// A `seeked` further than this (s) from the target of our seek in flight
/// did not land where it aimed (see [`DriftController::handle_seeked`]).
pub const SEEKED_OFF_S: f64 = 0.25;

/// How long a seek of ours may take to land before a far-off `seeked` is
/// no longer taken for it (WebKit's land within 0.5 s; 3 s is the longest
/// the landing time is learned to).
const STALE_SEEK_MS: Millis = 5_000.0;

/// A seek the client issued, until its outcome is judged.
#[derive(Clone, Copy, Debug)]
struct OurSeek {
    issued: Millis,
    target: f64,
    /// The landing time it was aimed with (ms).
    aimed_ms: Millis,
    /// Issued on a playing element (not a start from pause, whose landing
    /// includes the start of playback): it teaches the landing time.
    teaches: bool,
    /// It follows up a seek that missed (no third one).
    follow_up: bool,
}

impl DriftController {
    pub fn new(cfg: DriftConfig) -> Self {
        DriftController {
            rate: 1.0,
            nudge_until: None,
            nudge_room: 1.0,
            readings: Vec::new(),
            judge_nudge: false,
            nudge_cost: [cfg.initial_nudge_cost_ms / 1000.0; 2],
            keep_pitch: false,
            seek_landing_ms: cfg.initial_seek_landing_ms,
            seek_in_flight: None,
            judge_seek: None,
            last_seek: None,
            cooldown_ms: cfg.cooldown_ms,
            cooldown_until: f64::NEG_INFINITY,
            enabled: true,
            caps: Capabilities::element(),
            read_error: None,
            rate_applies: true,
            strikes: 0,
            planned: None,
            trim: 0.0,
            commanded: 0.0,
            last_at: None,
            window: None,
            last_drift: None,
            rate_changed: None,
            over: None,
            cfg,
        }
    }

    /// The per-client "don't correct me" switch.
    pub fn set_enabled(&mut self, enabled: bool) {
        self.enabled = enabled;
    }

    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// How long seeks take to land here (learned).
    pub fn seek_landing_ms(&self) -> Millis {
        self.seek_landing_ms
    }

    /// Learned position lost to one nudge (ms).
    pub fn nudge_cost_ms(&self) -> Millis {
        self.nudge_cost[usize::from(self.keep_pitch)] * 1000.0
    }

    /// Whether the element should keep its pitch now: during a nudge as the
    /// nudge was planned, otherwise whenever the room is not at 1×.
    pub fn keeps_pitch(&self, room_rate: f64) -> bool {
        if self.nudge_until.is_some() {
            self.keep_pitch
        } else {
            room_rate != 1.0
        }
    }

    /// A rate change is known to make the element's position jump (its
    /// `currentTime` leads the picture, see the client's `read_lead`):
    /// rates are given up for seeks at once, without waiting for the two
    /// jumps [`Self::judge_rate_jump`] would need.
    pub fn handle_rate_jumps(&mut self) {
        self.rate_applies = false;
    }

    /// The element reset itself (a new source: its rate is back to 1×).
    pub fn handle_element_reset(&mut self) {
        self.nudge_until = None;
        self.seek_in_flight = None; // its seeked will not come
        self.forget();
        self.rate = 1.0;
        self.rate_applies = true;
        self.strikes = 0;
    }

    /// Another backend plays from now on (see [`Capabilities`]).
    pub fn set_capabilities(&mut self, caps: Capabilities) {
        self.caps = caps;
        self.read_error = None;
        self.trim = 0.0;
        self.handle_element_reset();
    }

    /// How the position reads changed (measured on the element): only the
    /// dead band follows; what was learned stays.
    pub fn set_position_reads(&mut self, reads: crate::backend::PositionReads) {
        self.caps.position = reads;
    }

    /// Rate nudges are used: the backend has rates and they were not seen to fail.
    pub fn rate_applies(&self) -> bool {
        self.rate_applies && self.caps.has_rate()
    }

    fn dead_band(&self) -> f64 {
        self.cfg.dead_band.max(self.read_error.unwrap_or_else(|| self.caps.read_error()))
    }

    /// How far readings are off, as measured (a reporting backend's
    /// jitter), in place of the backend's nominal figure (s).
    pub fn set_read_error(&mut self, seconds: Option<f64>) {
        self.read_error = seconds;
    }

    /// Forget readings (and what the last nudge did): the element moved
    /// for another reason.
    fn forget(&mut self) {
        self.readings.clear();
        self.judge_nudge = false;
        self.planned = None;
        self.window = None;
        self.last_drift = None;
        self.rate_changed = None;
        self.over = None;
    }

    /// A nudge ended: back to exactly the room's rate, judge afresh.
    fn end_nudge(&mut self, room_rate: f64) -> Decision {
        self.nudge_until = None;
        self.readings.clear();
        self.judge_nudge = true;
        self.set_rate(self.base(room_rate))
    }

    /// The rate the element should be at.
    pub fn rate(&self) -> f64 {
        self.rate
    }

    /// The learned speed trim applied (fraction of the room's rate; 0: none).
    pub fn trim(&self) -> f64 {
        if self.trim.abs() >= self.cfg.min_trim {
            self.trim
        } else {
            0.0
        }
    }

    /// The element's rate when not nudging: the room's, trimmed by the
    /// element's learned speed error (media elements only: an embed's rates
    /// are its own list, and its position is only reported).
    fn base(&self, room_rate: f64) -> f64 {
        room_rate * (1.0 + self.trim())
    }

    pub fn nudging(&self) -> bool {
        self.nudge_until.is_some()
    }

    /// A seek we did not plan (the room moved, a user seek): forget the
    /// nudge in progress and start the cooldown history afresh.
    pub fn reset(&mut self) {
        self.nudge_until = None;
        self.forget();
        self.cooldown_ms = self.cfg.cooldown_ms;
        self.cooldown_until = f64::NEG_INFINITY;
        self.judge_seek = None;
    }

    /// Tell the controller the client seeks a paused element now (to hold
    /// it at the room's position, or to start it from there), so that it
    /// knows the echo and judges where playback really began.
    pub fn handle_seek_issued(&mut self, now: Millis, target: f64) {
        self.issue(now, target, false, false);
    }

    fn issue(&mut self, now: Millis, target: f64, teaches: bool, follow_up: bool) {
        self.seek_in_flight = Some(OurSeek { issued: now, target, aimed_ms: self.seek_landing_ms, teaches, follow_up });
        self.judge_seek = None;
        self.forget(); // readings from before the seek say nothing of after it
    }

    /// The element finished seeking. Returns true if it was the seek we
    /// issued (its echo), learning how long it took. One that lands far
    /// from our target while ours is in flight is taken as ours too, not
    /// learned from: a WebKit element once read 11 s past the target at its
    /// `seeked`, and reading that as the viewer's seek moved the whole room
    /// there; the client enforces the room's position after it instead
    /// (a viewer's own seek in those few hundred ms is lost, and made again).
    /// One of ours issued more than [`STALE_SEEK_MS`] ago is forgotten: its
    /// seeked never came (cut off by another seek or a load).
    pub fn handle_seeked(&mut self, now: Millis, position: f64) -> bool {
        let Some(seek) = self.seek_in_flight.take() else { return false };
        if (position - seek.target).abs() > SEEKED_OFF_S {
            return now - seek.issued <= STALE_SEEK_MS;
        }
        self.judge_seek = Some(seek);
        if self.cfg.learn_landing && seek.teaches {
            // A first guess; where playback is then found corrects it.
            let took = (now - seek.issued).max(0.0).min(3_000.0);
            self.seek_landing_ms = 0.6 * self.seek_landing_ms + 0.4 * took;
        }
        true
    }

    /// Where the seek of ours in flight aims, if one is.
    pub fn seek_in_flight(&self) -> Option<f64> {
        self.seek_in_flight.map(|s| s.target)
    }

    /// When the nudge in progress must end.
    pub fn poll_timeout(&self) -> Option<Millis> {
        self.nudge_until
    }

    /// Where to seek so that the element is at `expected` when the seek lands.
    pub fn seek_target(&self, expected: f64, room_rate: f64) -> f64 {
        expected + self.seek_landing_ms / 1000.0 * room_rate
    }

    /// One control step.
    pub fn decide(&mut self, now: Millis, input: DriftInput) -> Decision {
        let room_rate = input.room_rate;
        self.account(now, room_rate, input.state == PlayerState::Playing);
        if !self.enabled || input.state == PlayerState::Paused {
            self.forget();
            return self.set_rate(room_rate);
        }
        if matches!(input.state, PlayerState::Seeking | PlayerState::Buffering) {
            self.forget();
            return Decision::Nothing; // never fight a seek or a stall
        }
        let drift = input.actual - input.expected;
        self.judge_rate_jump(now, drift);
        let rate_control = input.rate_control && self.rate_applies();
        let dead_band = self.dead_band();
        let without_rate = if self.caps.reported() { self.cfg.seek_threshold_without_rate } else { self.cfg.element_seek_threshold_without_rate };
        let threshold = if rate_control { self.cfg.seek_threshold } else { without_rate.max(4.0 * dead_band) };
        // On a seek-only element drift short of an emergency is seeked on
        // the second reading past the threshold, on the same side: WebKit's
        // picture froze for ~250 ms and caught up (2026-12-05), and a frame
        // shown late reads a few frames off. (An embed's readings are
        // estimates from its reports, smoothed already.)
        let over = drift.abs() > threshold;
        let confirmed = rate_control || self.caps.reported() || drift.abs() > self.cfg.emergency || self.over == Some(drift.signum());
        self.over = over.then_some(drift.signum());
        if over && confirmed {
            let since_last = self.last_seek.map_or(f64::INFINITY, |t| now - t);
            let emergency = drift.abs() > self.cfg.emergency && since_last >= 1_000.0;
            if now >= self.cooldown_until || emergency {
                // A seek soon after the last one means the last one did not help: back off.
                self.cooldown_ms =
                    if since_last < self.cooldown_ms + 2_000.0 { (self.cooldown_ms * 2.0).min(self.cfg.max_cooldown_ms) } else { self.cfg.cooldown_ms };
                self.cooldown_until = now + self.cooldown_ms;
                self.last_seek = Some(now);
                self.nudge_until = None;
                self.forget();
                return self.seek(now, input.expected, room_rate, false);
            }
        }
        if !rate_control {
            // Seeks only: where the last one landed still teaches the
            // landing time, and a miss is seeked once more (from half the
            // threshold: a page left 65 ms off stayed there, WebKit
            // 2026-12-05, its landing time never judged). Judged on the
            // median of the readings, not one, nor their mean: a frozen
            // picture, a stale frame, read far off.
            if self.judge_seek.is_none() {
                return Decision::Nothing;
            }
            if self.filtered(drift).is_none() {
                return Decision::Nothing;
            }
            let mut sorted = std::mem::take(&mut self.readings);
            sorted.sort_by(f64::total_cmp);
            let Some(&median) = sorted.get(sorted.len() / 2) else { return Decision::Nothing };
            return self.judge_landing(now, median, input.expected, room_rate, self.cfg.reseek_miss.min(threshold / 2.0)).unwrap_or(Decision::Nothing);
        }
        match self.nudge_until {
            Some(t) if now >= t => return self.end_nudge(room_rate),
            // (On a reporting backend a nudge always runs its course: it is
            // judged at its end, and readings extrapolated at its rate must
            // not stretch it forever.)
            Some(_) if self.nudging_around(room_rate) && (drift.abs() < self.cfg.act_at_once * 4.0 || self.caps.reported()) => {
                // A nudge is under way: let it finish, unless the reading says
                // it went past its aim (then the clock estimate moved under it).
                let direction = (self.rate - room_rate).signum();
                // (The cost's size: a negative cost must not cut a slowing nudge short.)
                if drift * direction > dead_band + self.nudge_cost[usize::from(self.keep_pitch)].abs() {
                    if self.caps.reported() {
                        // Judged all the same: an estimate that ran past the aim
                        // may be one extrapolated at a rate that never applied.
                        return self.end_nudge(room_rate);
                    }
                    self.nudge_until = None;
                    self.forget();
                    return self.set_rate(self.base(room_rate));
                }
                return Decision::Nothing;
            }
            _ => {}
        }
        if (self.rate - self.base(room_rate)).abs() > 1e-12 && self.nudge_until.is_none() {
            self.forget(); // the room's rate (or the trim) changed under us
            return self.set_rate(self.base(room_rate));
        }
        // Judge small drift on the mean of several readings at the room's rate.
        // Right after a nudge, even a large remainder is read carefully: it
        // is what teaches the nudge's cost.
        // (From the backend's nominal read error: one reading alone is no
        // better than that, however quiet the reports have been.)
        let act_at_once = self.cfg.act_at_once.max(3.0 * dead_band.max(self.caps.read_error()));
        let at_once = if self.judge_nudge { act_at_once * 3.0 } else { act_at_once };
        // After a nudge on a reporting backend, the outcome is read on the
        // mean of fresh readings, whatever its size (the first ones may still
        // be extrapolated at the nudge's rate).
        let large = drift.abs() > at_once && !(self.caps.reported() && self.judge_nudge);
        if large {
            self.window = None; // a jump (a glitch, a stall) is no speed error
        }
        let Some(estimate) = (if large { Some(drift) } else { self.filtered(drift) }) else { return Decision::Nothing };
        if let Some(decision) = self.judge_landing(now, estimate, input.expected, room_rate, self.cfg.reseek_miss) {
            return decision;
        }
        if std::mem::take(&mut self.judge_nudge) {
            let failed = self.judge_applied(estimate, dead_band);
            if !large && !failed {
                // What is left after the last nudge is what its cost was
                // mis-planned by. Signed and learned slowly: each outcome is read
                // with ~1.5 ms of noise, and a cost held at ≥ 0 would turn that
                // noise into a bias (a one-sided dead band) where the true cost is 0.
                // (A large remainder teaches nothing about the cost.)
                let cost = &mut self.nudge_cost[usize::from(self.keep_pitch)];
                *cost = (*cost - 0.3 * estimate).max(-0.01).min(0.05);
            }
            if !self.rate_applies {
                return Decision::Nothing;
            }
        }
        if !large {
            self.read_speed(now, estimate, room_rate);
        }
        if estimate.abs() <= dead_band {
            return Decision::Nothing;
        }
        self.readings.clear();
        // A nudge moves the element by ±delta·hold, minus its cost: plan both.
        let plan = |cost: f64| {
            let change = cost - estimate; // wanted gain of position (s), before the cost
            let delta = (self.cfg.gain * change.abs()).max(self.cfg.min_rate_delta).min(self.cfg.max_rate_delta);
            (change, delta, change.abs() / (delta * room_rate) * 1000.0)
        };
        let mut keep = room_rate != 1.0;
        let (mut change, mut delta, mut lasts_ms) = plan(self.nudge_cost[usize::from(keep)]);
        if !keep && lasts_ms > self.cfg.max_resampled_nudge_ms {
            keep = true;
            (change, delta, lasts_ms) = plan(self.nudge_cost[1]);
        }
        // The backend's own rates: a listed one, held for as long as the change needs at it.
        let base = self.base(room_rate);
        let Some(rate) = self.caps.nudge_rate(base, change.signum() * delta) else { return Decision::Nothing };
        let lasts_ms = lasts_ms * delta / (rate / base - 1.0).abs();
        self.keep_pitch = keep;
        self.planned = Some((estimate, change));
        // What the nudge is expected to lose is planned, not a speed error.
        self.commanded -= self.nudge_cost[usize::from(keep)];
        self.nudge_room = room_rate;
        self.nudge_until = Some(now + lasts_ms);
        self.set_rate(rate)
    }

    /// The mean of the last [`DriftConfig::filter`] readings, this one
    /// added (`None` until there are that many).
    fn filtered(&mut self, drift: f64) -> Option<f64> {
        let n = self.cfg.filter.max(1);
        if self.readings.len() >= n {
            self.readings.remove(0); // a sliding window of the last n
        }
        self.readings.push(drift);
        (self.readings.len() >= n).then(|| self.readings.iter().sum::<f64>() / n as f64)
    }

    /// The first estimate after a seek of ours landed: where a seek on a
    /// playing element really lands is what aiming needs; a miss beyond
    /// `miss` (s) is seeked once more rather than nudged for seconds.
    /// (Exact readings only: a reporting backend's landing times scatter,
    /// and its readings are late.)
    fn judge_landing(&mut self, now: Millis, estimate: f64, expected: f64, room_rate: f64, miss: f64) -> Option<Decision> {
        let seek = self.judge_seek.take().filter(|_| !self.caps.reported())?;
        if seek.teaches && self.cfg.learn_landing {
            self.seek_landing_ms = (seek.aimed_ms - estimate * 1000.0 / room_rate).max(0.0).min(3_000.0);
        }
        if seek.follow_up || estimate.abs() <= miss {
            return None;
        }
        self.last_seek = Some(now);
        self.cooldown_until = now + self.cooldown_ms;
        self.nudge_until = None;
        Some(self.seek(now, expected, room_rate, true))
    }

    /// Bring `commanded` up to `now`: what the rate set since the last
    /// step should have gained on the room (at every step and every rate
    /// change, so each stretch counts at the rate it had).
    fn account(&mut self, now: Millis, room_rate: f64, playing: bool) {
        if let Some(at) = self.last_at.filter(|_| playing) {
            self.commanded += (self.rate - room_rate) * (now - at).max(0.0) / 1000.0;
        }
        self.last_at = playing.then_some(now);
    }

    /// A filtered drift estimate: over a window of [`TRIM_WINDOW_MS`] of
    /// playing without a seek or stall, the drift moved by what the rates
    /// set made it gain (`commanded`) plus the element's own speed error;
    /// the trim follows that error (half of each window's reading), bounded.
    /// Media elements only.
    fn read_speed(&mut self, now: Millis, estimate: f64, room_rate: f64) {
        if self.cfg.max_trim <= 0.0 || self.caps.reported() || !matches!(self.caps.rate, crate::backend::RateControl::Continuous { .. }) {
            return;
        }
        match self.window {
            Some((t0, e0, c0)) if now - t0 >= TRIM_WINDOW_MS => {
                let error = ((estimate - e0) - (self.commanded - c0)) / ((now - t0) / 1000.0) / room_rate;
                self.trim = (0.5 * self.trim - 0.5 * error).clamp(-self.cfg.max_trim, self.cfg.max_trim);
                self.window = Some((now, estimate, self.commanded));
            }
            Some(_) => {}
            None => self.window = Some((now, estimate, self.commanded)),
        }
    }

    /// Seek so as to land at `expected` (at the room's rate from there).
    fn seek(&mut self, now: Millis, expected: f64, room_rate: f64, follow_up: bool) -> Decision {
        let target = self.seek_target(expected, room_rate);
        self.issue(now, target, true, follow_up);
        if (self.rate - room_rate).abs() > 1e-12 {
            self.rate = room_rate;
        }
        Decision::Seek(target)
    }

    /// Did the last nudge's rate apply at all? Judged where that is in doubt
    /// (a backend that only reports its position: an embed may take a rate
    /// and not play it), on nudges above the read noise: one that achieved
    /// less than a third of its plan is a strike; two in a row and rates
    /// are given up for seeks.
    fn judge_applied(&mut self, estimate: f64, dead_band: f64) -> bool {
        let judged = self.caps.reported();
        let Some((before, change)) = self.planned.take().filter(|(_, change)| judged && change.abs() >= 1.5 * dead_band) else { return false };
        let achieved = (estimate - before) * change.signum();
        if achieved < change.abs() / 3.0 {
            self.strikes += 1;
            if self.strikes >= 2 {
                self.rate_applies = false;
            }
            true
        } else {
            self.strikes = 0;
            false
        }
    }

    /// Did the last rate change make a media element's position jump
    /// (see [`RATE_JUMP_S`])? Two such and rates are given up for seeks.
    fn judge_rate_jump(&mut self, now: Millis, drift: f64) {
        self.last_drift = Some((now, drift));
        let Some((at, before)) = self.rate_changed else { return };
        if now - at > RATE_JUMP_MS {
            self.rate_changed = None;
            self.strikes = 0; // it applied smoothly
        } else if drift - before.max(0.0) > RATE_JUMP_S {
            // (From a reading behind, at most back to the room: a stutter's
            // catch-up after a nudge decided on it is no jump ahead.)
            self.rate_changed = None;
            self.strikes += 1;
            if self.strikes >= 2 {
                self.rate_applies = false;
            }
        }
    }

    /// The rate set is a nudge of the room's current rate (not of a rate
    /// the room has since left).
    fn nudging_around(&self, room_rate: f64) -> bool {
        (self.nudge_room - room_rate).abs() < 1e-12
    }

    /// The nudge's time is up (call at [`Self::poll_timeout`]).
    pub fn handle_timeout(&mut self, now: Millis, room_rate: f64) -> Decision {
        self.account(now, room_rate, self.last_at.is_some());
        if self.nudge_until.is_some_and(|t| now >= t) {
            return self.end_nudge(room_rate);
        }
        Decision::Nothing
    }

    fn set_rate(&mut self, rate: f64) -> Decision {
        if (self.rate - rate).abs() < 1e-12 {
            return Decision::Nothing;
        }
        if !self.caps.reported() {
            self.rate_changed = self.last_drift;
        }
        self.rate = rate;
        Decision::SetRate(rate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn playing(expected: f64, actual: f64) -> DriftInput {
        DriftInput { expected, actual, room_rate: 1.0, state: PlayerState::Playing, rate_control: true }
    }

    #[test]
    fn short_nudges_at_1x_resample_long_ones_and_other_room_rates_keep_the_pitch() {
        let mut d = DriftController::new(DriftConfig::default());
        assert!(matches!(d.decide(0.0, playing(10.0, 9.97)), Decision::SetRate(_)), "30 ms behind: nudged at once");
        assert!(!d.keeps_pitch(1.0), "a {} ms nudge resamples", d.poll_timeout().unwrap_or(0.0));
        d.handle_timeout(10_000.0, 1.0);
        assert!(!d.keeps_pitch(1.0), "back at the room's 1×: nothing to keep");
        let mut d = DriftController::new(DriftConfig::default());
        assert!(matches!(d.decide(0.0, playing(10.0, 9.5)), Decision::SetRate(_)), "500 ms behind: nudged");
        assert!(d.poll_timeout().unwrap_or(0.0) > 1_000.0);
        assert!(d.keeps_pitch(1.0), "a nudge of several seconds keeps the pitch");
        let mut d = DriftController::new(DriftConfig::default());
        let at_1_5 = DriftInput { room_rate: 1.5, ..playing(10.0, 9.97) };
        assert!(matches!(d.decide(0.0, at_1_5), Decision::SetRate(_)));
        assert!(d.keeps_pitch(1.5), "a room at 1.5× keeps the pitch, nudging or not");
    }

    /// A learned negative cost (nudges gain a little more than planned) must
    /// not cut a slowing nudge short before it has done anything.
    #[test]
    fn a_negative_cost_does_not_end_a_slowing_nudge_at_once() {
        let mut d = DriftController::new(DriftConfig { initial_nudge_cost_ms: -5.0, ..DriftConfig::default() });
        let mut first = None;
        for i in 0..8 {
            if let Decision::SetRate(r) = d.decide(i as f64 * 250.0, playing(10.0, 10.004)) {
                first = Some(r);
            }
        }
        assert!(first.is_some_and(|r| r < 1.0), "4 ms ahead: slowed down ({first:?})");
        let end = d.poll_timeout().unwrap_or(0.0);
        // The next reading still shows the element ahead (the nudge has barely begun).
        assert_eq!(d.decide(2_000.0, playing(10.0, 10.002)), Decision::Nothing, "the nudge runs on");
        assert_eq!(d.poll_timeout(), Some(end));
    }

    #[test]
    fn a_jump_ahead_after_rate_changes_gives_rates_up_but_a_stutter_behind_does_not() {
        // Twice: back at the room (by a seek not modelled here), a nudge
        // decided on `nudged_on`, then a reading at `then`; rates kept?
        let after_nudges = |nudged_on: f64, then: f64| {
            let mut d = DriftController::new(DriftConfig::default());
            for round in 0..2 {
                let t = round as f64 * 20_000.0;
                d.reset();
                d.decide(t, playing(10.0, 10.0));
                assert!(matches!(d.decide(t + 100.0, playing(10.0, nudged_on)), Decision::SetRate(r) if r > 1.0), "nudged");
                d.decide(t + 200.0, playing(10.0, then));
            }
            d.rate_applies()
        };
        assert!(!after_nudges(9.97, 9.97 + 1.03), "two jumps ~1 s ahead (WebKitGTK's re-seek): rates given up");
        assert!(after_nudges(9.97, 9.97 - 0.4), "two stutters behind: rates kept");
        assert!(after_nudges(9.6, 10.0), "a stutter, a nudge decided on its reading, then the catch-up: no jump ahead");
    }

    #[test]
    fn drift_inside_the_dead_band_is_left_alone() {
        let mut d = DriftController::new(DriftConfig::default());
        assert_eq!(d.decide(0.0, playing(10.0, 10.0025)), Decision::Nothing);
        assert_eq!(d.decide(0.0, playing(10.0, 9.9975)), Decision::Nothing);
    }

    #[test]
    fn a_nudge_lasts_exactly_as_long_as_the_drift_needs_then_returns_to_one() {
        let mut d = DriftController::new(DriftConfig::default());
        // 30 ms behind: speed up by 3 % for 1 s.
        let Decision::SetRate(r) = d.decide(0.0, playing(10.0, 9.97)) else { panic!("no nudge") };
        assert!((r - 1.03).abs() < 1e-9, "{r}");
        let end = d.poll_timeout().unwrap_or(0.0);
        assert!((end - 1_000.0).abs() < 1e-6, "{end}");
        assert_eq!(d.handle_timeout(end, 1.0), Decision::SetRate(1.0));
        assert_eq!(d.rate(), 1.0, "exactly the room's rate");
        // 500 ms ahead: slow down, bounded at 5 %.
        assert_eq!(d.decide(2_000.0, playing(10.0, 10.5)), Decision::SetRate(0.95));
    }

    #[test]
    fn no_correction_while_seeking_buffering_or_switched_off() {
        let mut d = DriftController::new(DriftConfig::default());
        for state in [PlayerState::Seeking, PlayerState::Buffering] {
            assert_eq!(d.decide(0.0, DriftInput { state, ..playing(30.0, 10.0) }), Decision::Nothing);
        }
        d.set_enabled(false);
        assert_eq!(d.decide(0.0, playing(30.0, 10.0)), Decision::Nothing);
    }

    #[test]
    fn large_drift_seeks_ahead_by_the_learned_landing_time() {
        let mut d = DriftController::new(DriftConfig::default());
        assert_eq!(d.decide(0.0, playing(30.0, 10.0)), Decision::Seek(30.15));
        // That seek took 400 ms to land: the next ones aim further ahead.
        assert!(d.handle_seeked(400.0, 30.15));
        assert!((d.seek_landing_ms() - 250.0).abs() < 1e-9);
        assert!(!d.handle_seeked(500.0, 12.0), "a seek we did not issue is not ours");
    }

    #[test]
    fn a_seek_of_ours_landing_far_off_is_ours_and_teaches_nothing() {
        let mut d = DriftController::new(DriftConfig::default());
        assert_eq!(d.decide(0.0, playing(30.0, 10.0)), Decision::Seek(30.15));
        let learned = d.seek_landing_ms();
        assert!(d.handle_seeked(400.0, 41.3), "ours, read 11 s off (WebKit once did)");
        assert_eq!(d.seek_landing_ms(), learned, "nothing learned from it");
        assert!(!d.handle_seeked(500.0, 41.3), "the next seeked is not ours any more");
        // One whose seeked never came is forgotten after a while.
        assert_eq!(d.decide(1_000.0, playing(60.0, 10.0)), Decision::Seek(60.15));
        assert!(!d.handle_seeked(7_000.0, 12.0), "a viewer's seek long after ours is theirs");
        // And at a new element (a load), at once.
        assert_eq!(d.decide(8_000.0, playing(90.0, 10.0)), Decision::Seek(90.15));
        d.handle_element_reset();
        assert!(!d.handle_seeked(8_100.0, 12.0));
    }

    /// A late joiner's start: the element was seeked ahead by the landing
    /// time while paused, but began playing late, 300 ms behind. One more
    /// seek at once, not a 6 s nudge; it teaches where playing seeks land;
    /// if it misses too, a nudge takes over (never a chain of seeks).
    #[test]
    fn a_seek_that_missed_is_followed_by_one_more_then_nudges() {
        let mut d = DriftController::new(DriftConfig::default());
        d.handle_seek_issued(0.0, 10.15);
        assert!(d.handle_seeked(200.0, 10.15));
        assert!((d.seek_landing_ms() - 150.0).abs() < 1e-9, "a start from pause teaches nothing of playing seeks");
        let Decision::Seek(to) = d.decide(1_000.0, playing(11.0, 10.7)) else { panic!("a 300 ms miss is seeked again") };
        assert!((to - 11.15).abs() < 1e-9, "aimed at the room's position ahead by the landing time: {to}");
        assert!(d.handle_seeked(1_100.0, to));
        // It landed 50 ms behind: playing seeks here take 200 ms, not 150.
        let again = d.decide(1_500.0, playing(11.5, 11.45));
        assert!((d.seek_landing_ms() - 200.0).abs() < 1e-9, "learned from where it landed: {}", d.seek_landing_ms());
        assert!(matches!(again, Decision::SetRate(r) if r > 1.0), "the follow-up's miss is nudged, not seeked a third time ({again:?})");
    }

    #[test]
    fn seeks_that_do_not_help_back_off_but_emergencies_bypass() {
        let mut d = DriftController::new(DriftConfig::default());
        assert!(matches!(d.decide(0.0, playing(30.0, 28.5)), Decision::Seek(_)));
        // Still 1.5 s off right after: cooling down, nudge instead.
        assert!(matches!(d.decide(500.0, playing(30.5, 29.0)), Decision::SetRate(_)));
        assert!(matches!(d.decide(3_000.0, playing(33.0, 31.5)), Decision::Seek(_)));
        // It did not help: the cooldown doubled to 6 s.
        assert!(matches!(d.decide(6_000.0, playing(36.0, 34.5)), Decision::SetRate(_)));
        // But 5 s off is an emergency.
        assert!(matches!(d.decide(6_500.0, playing(36.5, 31.5)), Decision::Seek(_)));
    }

    #[test]
    fn without_rate_control_smaller_drift_is_seeked() {
        let mut d = DriftController::new(DriftConfig::default());
        let input = DriftInput { rate_control: false, ..playing(10.0, 9.6) };
        assert_eq!(d.decide(0.0, input), Decision::Nothing, "400 ms in one reading: maybe a frozen picture");
        let input = DriftInput { rate_control: false, ..playing(10.25, 9.85) };
        assert!(matches!(d.decide(250.0, input), Decision::Seek(_)), "in two: seeked");
        let input = DriftInput { rate_control: false, ..playing(12.0, 9.5) };
        assert!(matches!(d.decide(5_000.0, input), Decision::Seek(_)), "an emergency (2.5 s) from one reading");
        let input = DriftInput { rate_control: false, ..playing(10.0, 9.95) };
        assert_eq!(d.decide(10_000.0, input), Decision::Nothing, "50 ms: left alone");
        let input = DriftInput { rate_control: false, ..playing(10.0, 9.9) };
        assert_eq!(d.decide(20_000.0, input), Decision::Nothing, "100 ms in one reading: maybe a frame shown late");
        let ahead = DriftInput { rate_control: false, ..playing(10.25, 10.35) };
        assert_eq!(d.decide(20_250.0, ahead), Decision::Nothing, "then 100 ms the other way: still no seek");
        let input = DriftInput { rate_control: false, ..playing(10.5, 10.4) };
        assert_eq!(d.decide(20_500.0, input), Decision::Nothing);
        let input = DriftInput { rate_control: false, ..playing(10.75, 10.65) };
        assert!(matches!(d.decide(20_750.0, input), Decision::Seek(_)), "twice in a row 100 ms on an element: seeked (its seeks land within a frame or two)");
        // An embed's seeks scatter: there only 250 ms is seeked.
        let mut d = DriftController::new(DriftConfig::default());
        d.set_capabilities(Capabilities::embed(crate::backend::RateControl::None));
        let input = DriftInput { rate_control: false, ..playing(10.0, 9.85) };
        assert_eq!(d.decide(0.0, input), Decision::Nothing);
    }

    /// WebKitGTK through WebAudio: seeks only, from 80 ms. Its seeks land
    /// within ~40 ms, not the first guess of 150: a page aimed that far
    /// ahead stayed 65 ms ahead for good (2026-12-05), its landing never
    /// judged on the seek-only path. Now the median of the readings after
    /// the seek teaches the landing time (a frozen picture's reading far off
    /// does not move it), and a miss beyond half the threshold is seeked
    /// once more, aimed better; not a third time.
    #[test]
    fn a_seek_only_element_learns_where_its_seeks_land_and_follows_a_miss_up_once() {
        let at = |expected: f64, actual: f64| DriftInput { rate_control: false, ..playing(expected, actual) };
        // Readings every 250 ms from `t0` of an element `off` s from the room; the last decision.
        let readings = |d: &mut DriftController, t0: f64, off: f64| {
            (0..8).map(|k| t0 + 250.0 * k as f64).map(|t| d.decide(t, at(10.0 + t / 1000.0, 10.0 + t / 1000.0 + off))).collect::<Vec<_>>()
        };
        let mut d = DriftController::new(DriftConfig::default());
        assert_eq!(d.decide(-250.0, at(9.75, 9.25)), Decision::Nothing);
        assert_eq!(d.decide(0.0, at(10.0, 9.5)), Decision::Seek(10.15));
        assert!(d.handle_seeked(40.0, 10.15));
        // It plays from 10.15 as soon as it lands: 110 ms ahead of the room,
        // judged once eight readings say so (one may be a frozen picture).
        let after = readings(&mut d, 250.0, 0.11);
        assert!(after[..7].iter().all(|x| *x == Decision::Nothing), "{after:?}");
        let Decision::Seek(to) = after[7] else { panic!("a 110 ms miss is seeked again: {after:?}") };
        let landing = d.seek_landing_ms();
        assert!((landing - 40.0).abs() < 1e-6, "learned from where it landed: {landing}");
        assert!((to - (12.0 + landing / 1000.0)).abs() < 1e-9, "aimed by what was learned: {to}");
        assert!(d.handle_seeked(2_050.0, to));
        // The follow-up lands 45 ms ahead: learned from, but not seeked a third time.
        let after = readings(&mut d, 2_250.0, 0.045);
        assert!(after.iter().all(|x| *x == Decision::Nothing), "{after:?}");
        assert!(d.seek_landing_ms() < landing, "{}", d.seek_landing_ms());
        // A miss under half the threshold is learned from, not seeked again.
        let mut d = DriftController::new(DriftConfig::default());
        assert_eq!(d.decide(-250.0, at(9.75, 9.25)), Decision::Nothing);
        assert_eq!(d.decide(0.0, at(10.0, 9.5)), Decision::Seek(10.15));
        assert!(d.handle_seeked(40.0, 10.15));
        let after = readings(&mut d, 250.0, 0.03);
        assert!(after.iter().all(|x| *x == Decision::Nothing), "{after:?}");
        assert!((d.seek_landing_ms() - 120.0).abs() < 1e-6, "{}", d.seek_landing_ms());
        // One frozen-picture reading (268 ms behind) among the eight moves nothing.
        let mut d = DriftController::new(DriftConfig::default());
        assert_eq!(d.decide(-250.0, at(9.75, 9.25)), Decision::Nothing);
        assert_eq!(d.decide(0.0, at(10.0, 9.5)), Decision::Seek(10.15));
        assert!(d.handle_seeked(40.0, 10.15));
        let offs = [0.03, 0.03, -0.268, 0.03, 0.031, 0.029, 0.03, 0.03];
        let after: Vec<Decision> =
            (1..=8).map(|k| 250.0 * k as f64).zip(offs).map(|(t, off)| d.decide(t, at(10.0 + t / 1000.0, 10.0 + t / 1000.0 + off))).collect();
        assert!(after.iter().all(|x| *x == Decision::Nothing), "no follow-up: {after:?}");
        assert!((d.seek_landing_ms() - 120.0).abs() < 1.5, "learned from the median: {}", d.seek_landing_ms());
    }

    /// Readings of a perfectly synced element, with the ±4.5 ms jitter of
    /// Chromium's currentTime, then of one 6 ms behind.
    #[test]
    fn read_jitter_is_not_chased_but_a_small_real_drift_is_removed() {
        let mut rng = crate::sim::Rng::new(3);
        let mut d = DriftController::new(DriftConfig::default());
        let mut decisions = 0;
        for i in 0..400 {
            let noise = rng.range(-0.0045, 0.0045);
            if d.decide(i as f64 * 250.0, playing(10.0, 10.0 + noise)) != Decision::Nothing {
                decisions += 1;
            }
        }
        assert!(decisions <= 4, "{decisions} rate changes for pure read jitter in 100 s");
        let mut d = DriftController::new(DriftConfig::default());
        let mut first = None;
        for i in 0..8 {
            let noise = rng.range(-0.0045, 0.0045);
            if let Decision::SetRate(r) = d.decide(i as f64 * 250.0, playing(10.0, 9.994 + noise)) {
                first = Some((i, r));
                break;
            }
        }
        let Some((at, rate)) = first else { panic!("6 ms behind was never corrected") };
        assert_eq!(at, 7, "decided on the eighth reading");
        assert!((rate - 1.02).abs() < 1e-9, "the smallest speed-up: {rate}");
        let end = d.poll_timeout().unwrap_or(0.0) - at as f64 * 250.0;
        assert!((end - 300.0).abs() < 120.0, "held for as long as ~6 ms needs at 2 %: {end} ms");
    }

    /// An element like headless Chromium's: every rate change loses 11 ms
    /// of media time, and each reading of its position jitters by ±4.5 ms.
    #[test]
    fn the_cost_of_a_rate_change_is_learned_and_planned_for() {
        let mut rng = crate::sim::Rng::new(11);
        let mut d = DriftController::new(DriftConfig::default());
        let mut drift = -0.040; // starts 40 ms behind
        let (mut now, mut rate, mut changes_late) = (0.0, 1.0, 0);
        let (mut late, mut off_late) = (0, 0);
        while now < 60_000.0 {
            let next = (now + 250.0_f64).min(d.poll_timeout().filter(|t| *t > now).unwrap_or(f64::INFINITY));
            drift += (rate - 1.0) * (next - now) / 1000.0;
            now = next;
            let decision = if d.poll_timeout().is_some_and(|t| now >= t) {
                d.handle_timeout(now, 1.0)
            } else {
                d.decide(now, playing(10.0, 10.0 + drift + rng.range(-0.0045, 0.0045)))
            };
            if let Decision::SetRate(r) = decision {
                rate = r;
                drift -= 0.011;
                if now > 20_000.0 {
                    changes_late += 1;
                }
            }
            if now > 20_000.0 {
                late += 1;
                if drift.abs() > 0.006 {
                    off_late += 1;
                }
            }
        }
        assert!((d.nudge_cost_ms() - 22.0).abs() < 6.0, "learned cost {} ms", d.nudge_cost_ms());
        assert!(off_late * 20 <= late, "more than 6 ms off {off_late} of {late} steps after 20 s");
        assert!(changes_late <= 4, "{changes_late} rate changes in the last 40 s");
    }
}
