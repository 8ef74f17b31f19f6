//! The offset from two sources of probes, each a bound with its own path.
//!
//! - The **room**'s pings travel the member's whole path to wherever the
//!   room lives (on Cloudflare: to the point of presence, then the long
//!   haul to the Durable Object). Half of that path's asymmetry is
//!   invisible to any probe: the room's bounds are `[true − least down,
//!   true + least up]`, so a member 20 ms up / 80 ms down from the room
//!   reads its clock 30 ms off, and another the other way round 30 ms off
//!   the other way.
//! - An **edge** time endpoint, answered by the worker at the member's
//!   nearest point of presence (no Durable Object, no state), is a few
//!   milliseconds away: its bounds are as tight as that short path.
//!
//! Both ends read the platform's server clocks, which are assumed to agree
//! (Cloudflare keeps its machines' clocks synchronised; the room's times
//! stay on the room's own clock). A member's estimate is the middle of the
//! intersection of the two sources' bounds, so it follows whichever is
//! tighter; an edge clock off by ε moves that member's estimate by up to
//! ε while its bounds still meet the room's, and once they no longer meet
//! (by more than [`SLACK_MS`]) the edge is set aside for the room's own
//! estimate ([`EdgeState::Disagrees`]). The room's pings never stop: they
//! work everywhere and catch a broken edge. An edge that fails to answer
//! is asked again after a growing pause ([`EdgeState::Failing`]).

use super::{ClockConfig, ClockSync};
use crate::Millis;

/// Bounds that miss each other by less than this still count as meeting:
/// the edge's clock is read to the millisecond.
pub const SLACK_MS: Millis = 1.0;
/// The edge clock's resolution: it answers whole milliseconds, rounded down.
pub const EDGE_TICK_MS: Millis = 1.0;
/// Failed edge probes in a row before the edge is rested.
const FAILURES_TO_REST: u32 = 3;
/// The first rest after failures; each further one doubles, up to [`MAX_REST_MS`].
const FIRST_REST_MS: Millis = 30_000.0;
const MAX_REST_MS: Millis = 600_000.0;

/// What the edge source contributes now.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum EdgeState {
    /// No edge endpoint.
    #[default]
    Off,
    /// Probing, no answer yet (or nothing from the room to check it by).
    Waiting,
    /// Its bounds meet the room's: the estimate uses both.
    Agrees,
    /// Its bounds miss the room's: the room's estimate alone is used.
    Disagrees,
    /// It stopped answering; rested before it is asked again. Earlier
    /// answers still count while they agree.
    Failing,
}

impl EdgeState {
    pub fn as_str(self) -> &'static str {
        match self {
            EdgeState::Off => "off",
            EdgeState::Waiting => "waiting",
            EdgeState::Agrees => "agrees",
            EdgeState::Disagrees => "disagrees",
            EdgeState::Failing => "failing",
        }
    }
}

#[derive(Clone, Debug)]
struct Edge {
    clock: ClockSync,
    failures: u32,
    rests: u32,
    /// Rested after failures: probe again (a new burst) from then on.
    retry_at: Option<Millis>,
    connected: bool,
}

/// The room's and (where there is one) an edge's clock probes.
#[derive(Clone, Debug)]
pub struct Clocks {
    room: ClockSync,
    edge: Option<Edge>,
}

/// The estimate at one moment: server time minus local time, and how far
/// from the truth it can be.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Estimate {
    pub offset: Millis,
    pub error: Millis,
    pub edge: EdgeState,
}

impl Clocks {
    /// `edge`: the edge source's probe schedule, if the shell has an endpoint.
    pub fn new(room: ClockConfig, edge: Option<ClockConfig>) -> Self {
        Clocks {
            room: ClockSync::new(room),
            edge: edge.map(|cfg| Edge { clock: ClockSync::new(cfg), failures: 0, rests: 0, retry_at: None, connected: false }),
        }
    }

    /// The room's socket opened: both sources probe.
    pub fn handle_connected(&mut self, now: Millis) {
        self.room.handle_connected(now);
        if let Some(e) = &mut self.edge {
            e.connected = true;
            if e.retry_at.is_none() {
                e.clock.handle_connected(now);
            }
        }
    }

    /// The room's socket closed: no probes until it opens again.
    pub fn handle_disconnected(&mut self) {
        self.room.handle_disconnected();
        if let Some(e) = &mut self.edge {
            e.connected = false;
            e.clock.handle_disconnected();
        }
    }

    /// A room ping is due: its `t0`.
    pub fn poll_room_probe(&mut self, now: Millis) -> Option<Millis> {
        self.room.poll_probe(now)
    }

    /// An edge probe is due: its `t0`.
    pub fn poll_edge_probe(&mut self, now: Millis) -> Option<Millis> {
        let e = self.edge.as_mut()?;
        if !e.connected {
            // (A late answer's outliers may have started a burst: not now.)
            return None;
        }
        if e.retry_at.is_some_and(|at| now >= at) {
            e.retry_at = None;
            e.failures = 0;
            e.clock.handle_connected(now);
        }
        if e.retry_at.is_some() {
            return None;
        }
        e.clock.poll_probe(now)
    }

    pub fn poll_timeout(&self) -> Option<Millis> {
        let edge = self.edge.as_ref().and_then(|e| if e.connected { e.retry_at.or(e.clock.poll_timeout()) } else { None });
        [self.room.poll_timeout(), edge].into_iter().flatten().min_by(f64::total_cmp)
    }

    /// The room's pong to the ping sent at `t0`, received at local `t3`.
    pub fn handle_room_pong(&mut self, t0: Millis, t1: Millis, t2: Millis, t3: Millis) -> bool {
        self.room.handle_pong(t0, t1, t2, t3)
    }

    /// The edge's answer to the probe sent at `t0`, received at local `t3`.
    /// The edge reads its clock in whole milliseconds, rounded down (a
    /// worker's `Date.now()`): its receive time may be up to
    /// [`EDGE_TICK_MS`] later than it says, so the probe's upper bound
    /// widens by that much (as if sent that much earlier).
    pub fn handle_edge_reply(&mut self, t0: Millis, t1: Millis, t2: Millis, t3: Millis) -> bool {
        let Some(e) = &mut self.edge else { return false };
        e.failures = 0;
        e.rests = 0;
        e.clock.handle_pong(t0 - EDGE_TICK_MS, t1, t2, t3)
    }

    /// An edge probe got no usable answer (network error, timeout, an
    /// error status, a body that is not a time). A few in a row rest the
    /// edge for a while, longer each time.
    pub fn handle_edge_failed(&mut self, now: Millis) {
        let Some(e) = &mut self.edge else { return };
        e.failures += 1;
        if e.failures >= FAILURES_TO_REST && e.retry_at.is_none() {
            e.clock.handle_disconnected();
            let rest = (FIRST_REST_MS * f64::from(1u32 << e.rests.min(10))).min(MAX_REST_MS);
            e.rests += 1;
            e.retry_at = Some(now + rest);
        }
    }

    /// The estimate at local `now`: the room's bounds, narrowed by the
    /// edge's where they meet. `None` until the room has answered (the
    /// edge alone is never trusted: nothing would check it).
    pub fn estimate_at(&self, now: Millis) -> Option<Estimate> {
        let (rlo, rhi) = self.room.bounds_at(now)?;
        let room = Estimate { offset: (rlo + rhi) / 2.0, error: (rhi - rlo) / 2.0, edge: EdgeState::Off };
        let Some(e) = &self.edge else { return Some(room) };
        let resting = e.retry_at.is_some();
        let Some((elo, ehi)) = e.clock.bounds_at(now) else {
            return Some(Estimate { edge: if resting { EdgeState::Failing } else { EdgeState::Waiting }, ..room });
        };
        let (lo, hi) = (rlo.max(elo), rhi.min(ehi));
        if lo > hi + SLACK_MS {
            return Some(Estimate { edge: EdgeState::Disagrees, ..room });
        }
        let edge = if resting { EdgeState::Failing } else { EdgeState::Agrees };
        Some(Estimate { offset: (lo + hi) / 2.0, error: ((hi - lo) / 2.0).max(0.0), edge })
    }

    pub fn offset_at(&self, now: Millis) -> Option<Millis> {
        self.estimate_at(now).map(|e| e.offset)
    }

    /// The edge's clock minus the room's, as this member observes them:
    /// the difference of the two sources' estimates and its bound (the sum
    /// of their errors). What an operator looks at to see whether the
    /// platform's clocks agree.
    pub fn edge_minus_room_at(&self, now: Millis) -> Option<(Millis, Millis)> {
        let (rlo, rhi) = self.room.bounds_at(now)?;
        let (elo, ehi) = self.edge.as_ref()?.clock.bounds_at(now)?;
        Some(((elo + ehi) / 2.0 - (rlo + rhi) / 2.0, (ehi - elo) / 2.0 + (rhi - rlo) / 2.0))
    }

    /// The room's most recent round trip.
    pub fn rtt(&self) -> Option<Millis> {
        self.room.rtt()
    }

    /// The edge's most recent round trip.
    pub fn edge_rtt(&self) -> Option<Millis> {
        self.edge.as_ref()?.clock.rtt()
    }

    pub fn skew_ppm(&self) -> f64 {
        self.room.skew_ppm()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One exchange with a server whose clock is `offset` ahead, over
    /// `up`/`down` ms, sent at local `now`.
    fn exchange(now: Millis, offset: Millis, up: Millis, down: Millis) -> (Millis, Millis, Millis, Millis) {
        let t1 = now + up + offset;
        (now, t1, t1, now + up + down)
    }

    /// A member 20 ms up / 80 ms down from the room and 2 ms / 3 ms from
    /// its edge, whose clock is `edge_error` off the room's.
    fn member(edge_error: Millis) -> Clocks {
        let mut c = Clocks::new(ClockConfig::default(), Some(ClockConfig::default()));
        c.handle_connected(0.0);
        for k in 0..10 {
            let now = k as f64 * 200.0;
            let (t0, t1, t2, t3) = exchange(now, 5_000.0, 20.0, 80.0);
            c.handle_room_pong(t0, t1, t2, t3);
            let (t0, t1, t2, t3) = exchange(now + 50.0, 5_000.0 + edge_error, 2.0, 3.0);
            c.handle_edge_reply(t0, t1, t2, t3);
        }
        c
    }

    #[test]
    fn the_room_alone_is_off_by_half_its_paths_asymmetry() {
        let mut c = Clocks::new(ClockConfig::default(), None);
        c.handle_connected(0.0);
        let (t0, t1, t2, t3) = exchange(0.0, 5_000.0, 20.0, 80.0);
        c.handle_room_pong(t0, t1, t2, t3);
        let e = c.estimate_at(100.0).expect("an estimate");
        assert!((e.offset - (5_000.0 - 30.0)).abs() < 0.1, "{e:?}");
        assert_eq!(e.edge, EdgeState::Off);
    }

    #[test]
    fn an_agreeing_edge_narrows_the_estimate_to_its_short_path() {
        let c = member(0.0);
        let e = c.estimate_at(2_000.0).expect("an estimate");
        assert_eq!(e.edge, EdgeState::Agrees);
        assert!((e.offset - 5_000.0).abs() < 1.0, "{e:?}");
        // Half the 5 ms round trip, and half the edge clock's 1 ms tick.
        assert!(e.error < 3.5, "{e:?}");
        let (diff, bound) = c.edge_minus_room_at(2_000.0).expect("both sources");
        assert!((diff - 30.0).abs() < 1.0 && bound > 49.0, "as observed, the edge sits 30 ms from the room's biased estimate: {diff} ± {bound}");
    }

    #[test]
    fn an_edge_clock_slightly_off_moves_the_estimate_by_its_error_and_no_more() {
        for error in [1.0, 5.0, 15.0] {
            let e = member(error).estimate_at(2_000.0).expect("an estimate");
            assert_eq!(e.edge, EdgeState::Agrees, "{error}");
            assert!((e.offset - 5_000.0 - error).abs() < 1.0, "{error}: {e:?}");
        }
    }

    #[test]
    fn an_edge_whose_bounds_miss_the_rooms_is_set_aside() {
        // The room's bounds are [−80, +20] around the truth: an edge 40 ms fast misses them.
        let e = member(40.0).estimate_at(2_000.0).expect("an estimate");
        assert_eq!(e.edge, EdgeState::Disagrees);
        assert!((e.offset - (5_000.0 - 30.0)).abs() < 0.5, "the room's own estimate: {e:?}");
        let e = member(-200.0).estimate_at(2_000.0).expect("an estimate");
        assert_eq!(e.edge, EdgeState::Disagrees);
    }

    #[test]
    fn no_edge_probe_while_the_room_is_disconnected() {
        let mut c = Clocks::new(ClockConfig::default(), Some(ClockConfig::default()));
        c.handle_connected(0.0);
        for k in 0..5 {
            let (t0, t1, t2, t3) = exchange(k as f64 * 100.0, 5_000.0, 2.0, 3.0);
            c.handle_edge_reply(t0, t1, t2, t3);
        }
        c.handle_disconnected();
        // Late, slow answers (outliers: three in a row start a new burst in the estimator).
        for k in 0..3 {
            let (t0, t1, t2, t3) = exchange(600.0 + k as f64 * 100.0, 5_000.0, 200.0, 200.0);
            c.handle_edge_reply(t0, t1, t2, t3);
        }
        assert_eq!(c.poll_edge_probe(2_000.0), None);
        assert_eq!(c.poll_timeout(), None);
        c.handle_connected(3_000.0);
        assert_eq!(c.poll_edge_probe(3_000.0), Some(3_000.0), "probing again once connected");
    }

    #[test]
    fn the_edge_alone_is_not_trusted() {
        let mut c = Clocks::new(ClockConfig::default(), Some(ClockConfig::default()));
        c.handle_connected(0.0);
        let (t0, t1, t2, t3) = exchange(0.0, 5_000.0, 2.0, 3.0);
        c.handle_edge_reply(t0, t1, t2, t3);
        assert_eq!(c.estimate_at(10.0), None);
    }

    #[test]
    fn a_failing_edge_is_rested_longer_each_time_and_the_room_carries_on() {
        let mut c = Clocks::new(ClockConfig::default(), Some(ClockConfig::default()));
        c.handle_connected(0.0);
        let mut asked = vec![];
        let mut now = 0.0;
        while now < 200_000.0 {
            if let Some(t0) = c.poll_room_probe(now) {
                let (t0, t1, t2, t3) = exchange(t0, 5_000.0, 10.0, 10.0);
                c.handle_room_pong(t0, t1, t2, t3);
            }
            while c.poll_edge_probe(now).is_some() {
                asked.push(now);
                c.handle_edge_failed(now);
            }
            now += 50.0;
        }
        // A burst's first three fail, then rests of 30 s and 60 s (and the next 120 s).
        let starts: Vec<Millis> = asked.iter().copied().filter(|t| asked.iter().all(|u| u >= t || t - u > 1_000.0)).collect();
        assert_eq!(starts, vec![0.0, 30_200.0, 90_400.0], "{asked:?}");
        assert!(asked.len() <= 9, "three probes per try: {asked:?}");
        let e = c.estimate_at(now).expect("the room's estimate");
        assert_eq!(e.edge, EdgeState::Failing);
        assert!((e.offset - 5_000.0).abs() < 0.5);
    }
}
