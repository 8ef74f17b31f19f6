use super::*;

/// Drive the machine against a context that refuses to resume until
/// `gesture_at`; returns the times of the resume() calls.
fn run(until: Millis, gesture_at: Option<Millis>) -> (Vec<Millis>, AudioState) {
    let mut r = Recovery::new(RecoveryConfig::default(), AudioState::Suspended);
    let mut calls = Vec::new();
    let mut now = 0.0;
    let mut gestured = false;
    while now <= until {
        if let Some(g) = gesture_at {
            if now >= g && !gestured {
                gestured = true;
                r.handle_trigger(now, Trigger::Gesture);
            }
        }
        r.handle_timeout(now);
        while let Some(RecoveryOutput::Resume) = r.poll_output() {
            calls.push(now);
            // The shell reports after its deadline (the promise may hang).
            let state = if gestured { AudioState::Running } else { AudioState::Suspended };
            r.handle_resume_result(now + 300.0, state);
        }
        now += 10.0;
    }
    (calls, r.state())
}

#[test]
fn a_context_that_never_resumes_is_tried_five_times_with_growing_gaps_then_left_alone() {
    let (calls, state) = run(60_000.0, None);
    assert_eq!(calls.len(), 5, "at most five in a row: {calls:?}");
    let gaps: Vec<Millis> = calls.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(gaps.windows(2).all(|g| g[1] >= g[0]), "backoff grows: {gaps:?}");
    assert!(gaps.iter().all(|g| *g <= 2_300.0 + 10.0), "capped near 2 s (+ the 300 ms deadline): {gaps:?}");
    assert_eq!(state, AudioState::Suspended);
}

#[test]
fn a_gesture_brings_a_fresh_attempt_that_succeeds() {
    let (calls, state) = run(60_000.0, Some(30_000.0));
    assert_eq!(calls.len(), 6, "five automatic, one on the gesture: {calls:?}");
    assert!(calls[5] >= 30_000.0);
    assert_eq!(state, AudioState::Running);
}

#[test]
fn a_running_context_is_left_alone_and_a_later_suspension_is_recovered() {
    let mut r = Recovery::new(RecoveryConfig::default(), AudioState::Running);
    r.handle_trigger(0.0, Trigger::BeforePlay);
    assert_eq!(r.poll_output(), None, "nothing to do while running");
    r.handle_state(1_000.0, AudioState::Interrupted);
    assert_eq!(r.poll_output(), Some(RecoveryOutput::Resume));
    r.handle_resume_result(1_300.0, AudioState::Running);
    assert_eq!(r.poll_timeout(), None);
    assert_eq!(r.attempts(), 1);
}

#[test]
fn one_attempt_at_a_time() {
    let mut r = Recovery::new(RecoveryConfig::default(), AudioState::Suspended);
    assert_eq!(r.poll_output(), Some(RecoveryOutput::Resume));
    for t in [Trigger::BeforePlay, Trigger::Gesture, Trigger::Visible] {
        r.handle_trigger(10.0, t);
    }
    r.handle_state(20.0, AudioState::Suspended);
    assert_eq!(r.poll_output(), None, "the first resume() has not come back yet");
    assert_eq!(r.attempts(), 1);
}

#[test]
fn a_closed_context_is_never_resumed() {
    let mut r = Recovery::new(RecoveryConfig::default(), AudioState::Closed);
    r.handle_trigger(0.0, Trigger::Gesture);
    r.handle_timeout(10_000.0);
    assert_eq!(r.poll_output(), None);
}
