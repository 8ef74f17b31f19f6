//! Seeded simulations: one [`Room`], several [`Client`]s with skewed clocks,
//! a jittery network and simulated media elements, stepped in 5 ms ticks.

use super::*;
use crate::protocol::ClientMsg;
use crate::room::{PersistedRoom, Room, RoomConfig, RoomOutput};

/// Small deterministic PRNG (xorshift64*), seeded per test.
struct Rng(u64);
impl Rng {
    fn next_f64(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }
    fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.next_f64()
    }
}

/// A media element: position advances at `rate` while playing; seeks take time.
struct Element {
    position: f64,
    paused: bool,
    rate: f64,
    seek_done_at: Option<(f64, f64)>,
    events: Vec<MediaEvent>,
    seeks: u32,
}

impl Element {
    fn new() -> Self {
        Element { position: 0.0, paused: true, rate: 1.0, seek_done_at: None, events: vec![], seeks: 0 }
    }
    fn obs(&self) -> MediaObservation {
        MediaObservation { current_time: self.position, paused: self.paused, seeking: self.seek_done_at.is_some(), ended: false, buffering: false }
    }
    fn apply(&mut self, now: f64, a: &MediaAction) {
        match a {
            MediaAction::Play if self.paused => {
                self.paused = false;
                self.events.push(MediaEvent::Play);
            }
            MediaAction::Pause if !self.paused => {
                self.paused = true;
                self.events.push(MediaEvent::Pause);
            }
            MediaAction::Seek(t) => {
                self.seeks += 1;
                self.seek_done_at = Some((now + 120.0, *t));
            }
            MediaAction::SetRate(r) => self.rate = *r,
            _ => {}
        }
    }
    fn step(&mut self, now: f64, dt_ms: f64) {
        if let Some((at, t)) = self.seek_done_at {
            if now >= at {
                self.position = t;
                self.seek_done_at = None;
                self.events.push(MediaEvent::Seeked);
            }
            return;
        }
        if !self.paused {
            self.position += dt_ms / 1000.0 * self.rate;
        }
    }
}

struct Peer {
    client: Client,
    element: Element,
    /// local clock = true time + skew
    skew: f64,
    /// (arrival true time, text) from the server
    inbox: Vec<(f64, String)>,
    member: Option<MemberId>,
}

struct Sim {
    now: f64,
    rng: Rng,
    room: Room,
    /// (arrival true time, peer index, text) to the server
    to_server: Vec<(f64, usize, String)>,
    peers: Vec<Peer>,
    max_delay: f64,
}

impl Sim {
    fn new(seed: u64, peers: usize, max_delay: f64) -> Self {
        let mut rng = Rng(seed | 1);
        let mut room = Room::restore(RoomConfig::default(), PersistedRoom::default(), []);
        room.handle_set_source(0.0, "/demo.mpd".into(), None);
        while room.poll_output().is_some() {}
        let peers = (0..peers)
            .map(|i| Peer {
                client: Client::new(ClientConfig::default(), format!("p{i}")),
                element: Element::new(),
                skew: rng.range(-50_000.0, 50_000.0),
                inbox: vec![],
                member: None,
            })
            .collect();
        Sim { now: 1_000.0, rng, room, to_server: vec![], peers, max_delay }
    }

    fn connect(&mut self, i: usize) {
        let id = self.room.handle_connect(self.now);
        self.peers[i].member = Some(id);
        let local = self.now + self.peers[i].skew;
        self.peers[i].client.handle_connected(local);
        self.flush();
    }

    /// One-way delay: a 15 ms floor plus jitter skewed towards small values
    /// (most packets are quick, a few are very late), up to `max_delay`.
    fn delay(&mut self) -> f64 {
        let u = self.rng.next_f64();
        15.0 + u * u * u * (self.max_delay - 15.0)
    }

    fn flush(&mut self) {
        while let Some(o) = self.room.poll_output() {
            let targets: Vec<(MemberId, ServerMsg)> = match o {
                RoomOutput::Send { to, msg } => vec![(to, msg)],
                RoomOutput::Broadcast { msg } => self.peers.iter().filter_map(|p| p.member).map(|m| (m, msg.clone())).collect(),
                _ => vec![],
            };
            for (to, msg) in targets {
                let d = self.delay();
                if let Some(p) = self.peers.iter_mut().find(|p| p.member == Some(to)) {
                    p.inbox.push((self.now + d, msg.encode()));
                }
            }
        }
        for i in 0..self.peers.len() {
            let local = self.now + self.peers[i].skew;
            while let Some(o) = self.peers[i].client.poll_output() {
                match o {
                    ClientOutput::Send(m) => {
                        let d = self.delay();
                        self.to_server.push((self.now + d, i, m.encode()));
                    }
                    ClientOutput::Media(a) => self.peers[i].element.apply(local, &a),
                    ClientOutput::Event(_) => {}
                }
            }
        }
    }

    fn step(&mut self, dt: f64) {
        self.now += dt;
        let now = self.now;
        // deliver to the server
        let (due, rest): (Vec<_>, Vec<_>) = self.to_server.drain(..).partition(|m| m.0 <= now);
        self.to_server = rest;
        for (_, i, text) in due {
            if let Some(m) = self.peers[i].member {
                self.room.handle_text(now, m, &text);
            }
        }
        self.flush();
        for i in 0..self.peers.len() {
            let local = now + self.peers[i].skew;
            let p = &mut self.peers[i];
            p.element.step(local, dt);
            let (due, rest): (Vec<_>, Vec<_>) = p.inbox.drain(..).partition(|m| m.0 <= now);
            p.inbox = rest;
            for (_, text) in due {
                let obs = p.element.obs();
                p.client.handle_server_text(local, &text, &obs);
            }
            for e in std::mem::take(&mut p.element.events) {
                let obs = p.element.obs();
                p.client.handle_media_event(local, e, &obs);
            }
            if p.client.poll_timeout().is_some_and(|t| local >= t) {
                let obs = p.element.obs();
                p.client.handle_timeout(local, &obs);
            }
        }
        self.flush();
    }

    fn run(&mut self, ms: f64) {
        let end = self.now + ms;
        while self.now < end {
            self.step(5.0);
        }
    }

    /// A viewer uses the page's own controls on peer i.
    fn command(&mut self, i: usize, c: Command) {
        let local = self.now + self.peers[i].skew;
        self.peers[i].client.handle_user_command(local, c);
        self.flush();
    }

    /// A viewer acts on peer i's element directly (native controls).
    fn user(&mut self, i: usize, f: impl FnOnce(&mut Element, f64)) {
        let local = self.now + self.peers[i].skew;
        f(&mut self.peers[i].element, local);
    }

    fn expected(&self) -> f64 {
        self.room.state().playback.position_at(self.now)
    }

    fn max_drift(&self) -> f64 {
        let e = self.expected();
        self.peers.iter().map(|p| (p.element.position - e).abs()).fold(0.0, f64::max)
    }
}

#[test]
fn two_clients_follow_play_seek_and_pause_for_many_seeds() {
    for seed in 1..=20u64 {
        let mut sim = Sim::new(seed, 2, 60.0);
        sim.connect(0);
        sim.connect(1);
        sim.run(2_000.0);
        assert!(sim.peers.iter().all(|p| p.client.stats().offset_error_ms.is_some()), "seed {seed}: clocks synced");

        // A presses play with the page's controls.
        sim.command(0, Command::Play { position: None });
        sim.run(1_000.0);
        assert!(sim.room.state().playback.playing, "seed {seed}");
        assert!(sim.peers.iter().all(|p| !p.element.paused), "seed {seed}: both playing within 1 s");
        sim.run(4_000.0);
        assert!(sim.max_drift() < 0.04, "seed {seed}: drift {:.3}", sim.max_drift());

        // B seeks with the element's native controls.
        sim.user(1, |e, now| e.apply(now, &MediaAction::Seek(10.0)));
        sim.run(1_500.0);
        assert!((sim.expected() - 11.4).abs() < 0.2, "seed {seed}: room took B's seek ({:.2})", sim.expected());
        assert!((sim.peers[0].element.position - sim.peers[1].element.position).abs() < 0.1, "seed {seed}");
        sim.run(3_000.0);
        assert!(sim.max_drift() < 0.04, "seed {seed}: drift after seek {:.3}", sim.max_drift());

        // A pauses with native controls.
        sim.user(0, |e, now| e.apply(now, &MediaAction::Pause));
        sim.run(1_000.0);
        assert!(!sim.room.state().playback.playing, "seed {seed}");
        assert!(sim.peers.iter().all(|p| p.element.paused), "seed {seed}: both paused");
        assert!(sim.max_drift() < 0.1, "seed {seed}");
    }
}

#[test]
fn our_own_corrections_are_never_sent_back_as_commands() {
    let mut sim = Sim::new(7, 3, 80.0);
    for i in 0..3 {
        sim.connect(i);
    }
    sim.run(1_000.0);
    sim.command(2, Command::Play { position: Some(5.0) });
    let seq_after_play = {
        sim.run(1_000.0);
        sim.room.state().seq
    };
    // Knock peer 0 far off (as a stalled decoder would) and let it recover.
    sim.peers[0].element.position += 3.0;
    sim.run(10_000.0);
    assert_eq!(sim.room.state().seq, seq_after_play, "corrective seeks and plays must not become room commands");
    assert!(sim.max_drift() < 0.04, "drift {:.3}", sim.max_drift());
    assert!(sim.peers[0].element.seeks >= 1);
}

#[test]
fn small_drift_is_corrected_by_rate_without_seeking() {
    let mut sim = Sim::new(3, 2, 30.0);
    sim.connect(0);
    sim.connect(1);
    sim.run(1_000.0);
    sim.command(0, Command::Play { position: Some(0.0) });
    sim.run(3_000.0);
    let seeks_before = sim.peers[1].element.seeks;
    sim.peers[1].element.position -= 0.3;
    sim.run(8_000.0);
    assert_eq!(sim.peers[1].element.seeks, seeks_before, "a 300 ms drift is nudged, not seeked");
    assert!(sim.peers[1].client.stats().rate_corrections >= 1);
    assert!(sim.max_drift() < 0.04, "drift {:.3}", sim.max_drift());
}

#[test]
fn a_late_joiner_starts_at_the_rooms_position() {
    let mut sim = Sim::new(11, 2, 40.0);
    sim.connect(0);
    sim.run(500.0);
    sim.command(0, Command::Play { position: Some(20.0) });
    sim.run(5_000.0);
    sim.connect(1);
    sim.run(1_500.0);
    assert!(!sim.peers[1].element.paused);
    assert!(sim.max_drift() < 0.1, "drift {:.3}", sim.max_drift());
    let _ = ClientMsg::Ping { t0: 0.0 };
}
