//! AudioContext recovery, sans-IO.
//!
//! A context can be `suspended` (created before a user gesture, or by the
//! browser in a background tab) or `interrupted` (a phone call, Safari). While
//! it is not running, an element routed through it is silent. The machine
//! decides when to call `resume()`: on a state change, when the tab becomes
//! visible, on the next user gesture and before every play; failed attempts
//! back off exponentially (100 ms → 2 s) and stop after
//! [`RecoveryConfig::max_in_row`] in a row until a gesture or visibility
//! brings a fresh chance. Never a loop.

use std::collections::VecDeque;

use crate::Millis;

/// The context's `state`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AudioState {
    Running,
    Suspended,
    Interrupted,
    Closed,
}

impl AudioState {
    /// From the DOM's string (`"running"`, `"suspended"`, `"interrupted"`, `"closed"`).
    pub fn parse(s: &str) -> AudioState {
        match s {
            "running" => AudioState::Running,
            "interrupted" => AudioState::Interrupted,
            "closed" => AudioState::Closed,
            _ => AudioState::Suspended,
        }
    }
}

/// Why the shell is asking.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trigger {
    /// A user gesture (pointerdown, keydown, touchend): resume() can succeed now.
    Gesture,
    /// The tab became visible.
    Visible,
    /// A play() is about to be made.
    BeforePlay,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecoveryOutput {
    /// Call `AudioContext.resume()`, then report with
    /// [`Recovery::handle_resume_result`].
    Resume,
}

#[derive(Clone, Debug)]
pub struct RecoveryConfig {
    pub first_backoff_ms: Millis,
    pub max_backoff_ms: Millis,
    /// Automatic attempts in a row before waiting for a gesture or visibility.
    pub max_in_row: u32,
}

impl Default for RecoveryConfig {
    fn default() -> Self {
        RecoveryConfig { first_backoff_ms: 100.0, max_backoff_ms: 2_000.0, max_in_row: 5 }
    }
}

#[derive(Debug)]
pub struct Recovery {
    cfg: RecoveryConfig,
    state: AudioState,
    in_row: u32,
    in_flight: bool,
    next_at: Option<Millis>,
    attempts: u64,
    out: VecDeque<RecoveryOutput>,
}

impl Recovery {
    pub fn new(cfg: RecoveryConfig, state: AudioState) -> Self {
        let mut r = Recovery { cfg, state, in_row: 0, in_flight: false, next_at: None, attempts: 0, out: VecDeque::new() };
        r.handle_state(0.0, state);
        r
    }

    pub fn state(&self) -> AudioState {
        self.state
    }

    /// resume() calls made so far.
    pub fn attempts(&self) -> u64 {
        self.attempts
    }

    /// The context reported a state (at start and on every `statechange`).
    pub fn handle_state(&mut self, now: Millis, state: AudioState) {
        self.state = state;
        match state {
            AudioState::Running | AudioState::Closed => {
                self.in_row = 0;
                self.next_at = None;
            }
            AudioState::Suspended | AudioState::Interrupted => {
                if !self.in_flight && self.next_at.is_none() {
                    self.attempt(now);
                }
            }
        }
    }

    /// A moment when resume() may succeed: try at once, with a fresh budget.
    pub fn handle_trigger(&mut self, now: Millis, trigger: Trigger) {
        if matches!(self.state, AudioState::Running | AudioState::Closed) {
            return;
        }
        if matches!(trigger, Trigger::Gesture | Trigger::Visible) {
            self.in_row = 0;
        }
        self.next_at = None;
        self.attempt(now);
    }

    /// What came of the last resume(): `running` is the context's state once
    /// it settled (or a deadline passed: a resume() without a gesture may
    /// never settle).
    pub fn handle_resume_result(&mut self, now: Millis, state: AudioState) {
        self.in_flight = false;
        self.state = state;
        if matches!(state, AudioState::Running | AudioState::Closed) {
            self.in_row = 0;
            self.next_at = None;
            return;
        }
        if self.in_row < self.cfg.max_in_row {
            let backoff = (self.cfg.first_backoff_ms * 2f64.powi(self.in_row.saturating_sub(1) as i32)).min(self.cfg.max_backoff_ms);
            self.next_at = Some(now + backoff);
        }
    }

    pub fn handle_timeout(&mut self, now: Millis) {
        if self.next_at.is_some_and(|t| now >= t) {
            self.next_at = None;
            self.attempt(now);
        }
    }

    pub fn poll_output(&mut self) -> Option<RecoveryOutput> {
        self.out.pop_front()
    }

    pub fn poll_timeout(&self) -> Option<Millis> {
        self.next_at
    }

    fn attempt(&mut self, _now: Millis) {
        if self.in_flight || self.in_row >= self.cfg.max_in_row {
            return;
        }
        self.in_flight = true;
        self.in_row += 1;
        self.attempts += 1;
        self.out.push_back(RecoveryOutput::Resume);
    }
}

#[cfg(test)]
mod tests;
