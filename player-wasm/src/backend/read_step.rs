//! How often the element's `currentTime` moves, measured: for a second
//! after playback starts, a reading every few ms (a chain of 0 ms
//! timeouts, which browsers clamp to 4 ms), handed to the core's
//! [`ReadSteps`]; then one [`BackendEvent::PositionReads`] and no more
//! timers until the next source. Firefox moves it 25 times a second (41 ms
//! steps), Chromium and WebKit every 4–5 ms: the drift controller is told
//! which, not the user agent. Readings too sparse to tell (a throttled
//! background tab) tell nothing, and the next start measures again.

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use gloo_timers::callback::Timeout;
use sync_core::backend::ReadSteps;
use web_sys::HtmlVideoElement;

use super::{BackendEvent, Sink};
use crate::dom::now_ms;

/// How long one measurement samples (ms).
const SAMPLE_MS: f64 = 1_000.0;

#[derive(Default)]
struct State {
    /// The next reading (dropping it cancels the chain).
    timer: Option<Timeout>,
    steps: ReadSteps,
    until: f64,
    /// Measured for this source.
    done: bool,
}

/// Owns the measurement's timer: dropped, nothing more runs.
#[derive(Default)]
pub struct ReadProbe {
    state: Rc<RefCell<State>>,
}

impl ReadProbe {
    /// Playback (re)started: measure, unless this source was measured or a measurement runs.
    pub fn start(&self, video: &HtmlVideoElement, sink: &Sink) {
        {
            let Ok(mut s) = self.state.try_borrow_mut() else { return };
            if s.done || s.timer.is_some() {
                return;
            }
            s.steps = ReadSteps::new();
            s.until = now_ms() + SAMPLE_MS;
        }
        tick(Rc::downgrade(&self.state), video.clone(), sink.clone());
    }

    /// A new source: measure again at its first start.
    pub fn reset(&self) {
        if let Ok(mut s) = self.state.try_borrow_mut() {
            *s = State::default();
        }
    }

    /// For a listener: a handle that does not keep the probe alive.
    pub fn weak(&self) -> WeakProbe {
        WeakProbe(Rc::downgrade(&self.state))
    }
}

pub struct WeakProbe(Weak<RefCell<State>>);

impl WeakProbe {
    pub fn start(&self, video: &HtmlVideoElement, sink: &Sink) {
        if let Some(state) = self.0.upgrade() {
            ReadProbe { state }.start(video, sink);
        }
    }
}

fn tick(weak: Weak<RefCell<State>>, video: HtmlVideoElement, sink: Sink) {
    let Some(rc) = weak.upgrade() else { return };
    let result = {
        let Ok(mut s) = rc.try_borrow_mut() else { return };
        if !video.paused() && !video.seeking() {
            s.steps.handle_sample(video.current_time());
        }
        if now_ms() < s.until {
            let (w, v, k) = (weak.clone(), video.clone(), sink.clone());
            s.timer = Some(Timeout::new(0, move || tick(w, v, k)));
            None
        } else {
            s.timer = None;
            let result = s.steps.poll_result();
            s.done = result.is_some();
            result
        }
    };
    if let Some(reads) = result {
        sink(BackendEvent::PositionReads(reads));
    }
}
