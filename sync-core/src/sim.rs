//! Deterministic simulation harness: one [`Room`], N [`Client`]s with skewed
//! clocks, a seeded network and simulated media elements, on a virtual clock.
//!
//! Used by the crate's scenario and property tests and by `cargo xtask bench
//! sim` (feature `sim`). Everything is driven by one seed.

use std::collections::VecDeque;

pub use crate::backend::YOUTUBE_RATES;
use crate::backend::{Capabilities, PictureFit, PictureReading, PositionReads, RateControl};
use crate::client::{Client, ClientConfig, ClientEvent, ClientOutput, Identity, MediaAction, MediaEvent, MediaObservation};
use crate::clock::ClockConfig;
use crate::protocol::{Command, MemberId, ServerMsg, SourceInfo};
use crate::room::{ConnId, CreateOptions, Room, RoomConfig, RoomOutput};
use crate::Millis;

pub use crate::rng::Rng;

/// One direction of a peer's network path.
#[derive(Clone, Copy, Debug)]
pub struct Path {
    /// Base one-way latency.
    pub base_ms: Millis,
    /// Jitter scale: extra delay is `jitter × u³` (most packets quick, some late).
    pub jitter_ms: Millis,
    /// Chance that a message hits a burst (queueing) and waits `burst_ms` more.
    pub burst_chance: f64,
    pub burst_ms: Millis,
}

impl Path {
    pub fn symmetric(base_ms: Millis, jitter_ms: Millis) -> Self {
        Path { base_ms, jitter_ms, burst_chance: 0.0, burst_ms: 0.0 }
    }
}

/// A peer's time endpoint at its nearest edge ([`crate::clock::sources`]):
/// a short path, and a clock that may be off the room's.
#[derive(Clone, Copy, Debug)]
pub struct EdgeProfile {
    pub up: Path,
    pub down: Path,
    /// The edge's clock minus the room's.
    pub clock_error_ms: Millis,
    /// Every probe fails (the endpoint is down or blocked).
    pub fails: bool,
}

impl EdgeProfile {
    /// A few ms each way with a little jitter, the clock `clock_error_ms` off.
    pub fn near(clock_error_ms: Millis) -> Self {
        EdgeProfile { up: Path::symmetric(2.0, 3.0), down: Path::symmetric(3.0, 3.0), clock_error_ms, fails: false }
    }
}

/// Which kind of player a peer has.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PlayerModel {
    /// A media element: read exactly, any rate.
    Element,
    /// A media element whose position reading moves only every `step_ms`
    /// of media time (Firefox: 41 ms); the client is `told` so (as the
    /// shell's measurement tells it) or not.
    /// With `picture`, the shell also reads the picture: frames of
    /// [`FRAME_FPS`], each shown at a time off by up to ±17 ms (the jitter
    /// of Firefox's frame display times, measured by `bench sync`), fitted
    /// as the shell fits them ([`PictureFit`]).
    SteppedElement { step_ms: Millis, told: bool, picture: bool },
    /// A media element whose `currentTime` leaps `lead_ms` ahead of what it
    /// shows once it has played half a second since a seek or load, and
    /// keeps that lead while paused (WebKitGTK with the element routed into
    /// WebAudio: ~1030 ms, measured); a seek lands it on its target again,
    /// and a rate change makes the picture jump to `currentTime` (the
    /// pipeline re-seeks to where audio was handed out).
    /// With `picture`, the shell reads the picture as for [`Self::SteppedElement`].
    /// With `keeps_lead`, a seek while playing keeps the lead instead
    /// (`currentTime` reads target + lead at `seeked`, the picture on the
    /// target: some of WebKitGTK's landings, 2026-12-05).
    LeadingElement { lead_ms: Millis, picture: bool, keeps_lead: bool },
    /// An embed in another origin's frame (YouTube-like): its position is
    /// reported every `report_ms`, each report `delay_ms` late (drawn, in
    /// order); rates are rounded toward 1× to [`YOUTUBE_RATES`] when
    /// `stepped`, and not played at all unless `rate_applies`.
    Embed {
        report_ms: Millis,
        delay_ms: (Millis, Millis),
        stepped: bool,
        rate_applies: bool,
        /// The client is told what the backend is (false: a naive peer
        /// reads the last report as if it were the position now).
        estimate: bool,
    },
}

impl PlayerModel {
    /// YouTube's embed as the issue measures it: reports every 250 ms,
    /// 0–100 ms late, stepped rates that apply.
    pub fn youtube() -> Self {
        PlayerModel::Embed { report_ms: 250.0, delay_ms: (0.0, 100.0), stepped: true, rate_applies: true, estimate: true }
    }
}

/// A simulated viewer: clock, network and player.
#[derive(Clone, Copy, Debug)]
pub struct PeerProfile {
    /// Local clock = true time × (1 + skew) + offset.
    pub clock_offset_ms: Millis,
    pub clock_skew_ppm: f64,
    pub up: Path,
    pub down: Path,
    /// Seeks land after a delay drawn from this range.
    pub seek_ms: (Millis, Millis),
    /// Chance per second of playback of a buffering stall, and its length.
    pub stall_chance_per_s: f64,
    pub stall_ms: (Millis, Millis),
    pub player: PlayerModel,
    /// How fast the element plays against the rate it is asked for (1: as
    /// asked; 0.985: a loaded machine's Firefox, measured by `bench sync`).
    pub speed: f64,
    /// An edge time endpoint the client probes besides the room (none: the room's pings alone).
    pub edge: Option<EdgeProfile>,
    /// How long the client's `play()` takes to reach the element (the
    /// shell first awaits its AudioContext's resume); a pause meanwhile
    /// does not cancel it. 0: at once.
    pub play_ms: Millis,
    /// Frames are shown only once the element has played this long since
    /// its load or last seek (ms; 0: from the first): a software-rendered
    /// WebKit page on busy cores, whose `currentTime` leapt before it.
    pub first_frame_ms: Millis,
}

impl PeerProfile {
    /// A random profile: clock hours off, ±100 ppm, asymmetric 20–200 ms
    /// paths with jitter and bursts, seeks landing in 50–400 ms.
    pub fn random(rng: &mut Rng) -> Self {
        let path =
            |rng: &mut Rng| Path { base_ms: rng.range(20.0, 200.0), jitter_ms: rng.range(5.0, 40.0), burst_chance: 0.02, burst_ms: rng.range(50.0, 300.0) };
        let lo = rng.range(50.0, 250.0);
        PeerProfile {
            clock_offset_ms: rng.range(-4.0, 4.0) * 3_600_000.0,
            clock_skew_ppm: rng.range(-100.0, 100.0),
            up: path(rng),
            down: path(rng),
            seek_ms: (lo, lo + rng.range(0.0, 150.0)),
            stall_chance_per_s: 0.0,
            stall_ms: (500.0, 2_000.0),
            player: PlayerModel::Element,
            speed: 1.0,
            edge: None,
            play_ms: 0.0,
            first_frame_ms: 0.0,
        }
    }

    /// Like [`Self::random`] but with the same base latency both ways (so
    /// the clock offset is observable).
    pub fn random_symmetric(rng: &mut Rng) -> Self {
        let mut p = Self::random(rng);
        let base = rng.range(20.0, 200.0);
        let jitter = rng.range(5.0, 40.0);
        p.up = Path { base_ms: base, jitter_ms: jitter, burst_chance: 0.02, burst_ms: rng.range(50.0, 300.0) };
        p.down = p.up;
        p
    }
}

/// The simulated media element.
#[derive(Clone, Debug)]
pub struct Element {
    pub model: PlayerModel,
    /// What the page reads (an embed's last report; the element's own position).
    pub reported: f64,
    pub position: f64,
    pub paused: bool,
    pub rate: f64,
    pub preserve_pitch: bool,
    /// (lands at local time, target)
    pub seeking: Option<(Millis, f64)>,
    pub stalled_until: Option<Millis>,
    pub events: Vec<MediaEvent>,
    pub duration: f64,
    pub ended: bool,
    /// Played (local ms) since the last seek landed or the load.
    pub played_ms: Millis,
    /// The frames shown, as the shell's frame clock fits them.
    pub fit: PictureFit,
    /// The peer's local time at the end of the last step.
    pub local: Millis,
    /// A `play()` on its way to the element (see [`PeerProfile::play_ms`]): lands at this local time.
    pub play_at: Option<Millis>,
}

/// Frames per second of the simulated picture (the bench's asset: 24).
pub const FRAME_FPS: f64 = 24.0;

impl Element {
    fn new(model: PlayerModel, duration: f64) -> Self {
        Element {
            model,
            reported: 0.0,
            position: 0.0,
            paused: true,
            rate: 1.0,
            preserve_pitch: true,
            seeking: None,
            stalled_until: None,
            events: vec![],
            duration,
            ended: false,
            played_ms: 0.0,
            fit: PictureFit::new(),
            local: 0.0,
            play_at: None,
        }
    }

    /// What the element's `currentTime` reads now (as the shell would).
    pub fn current_time(&self) -> f64 {
        self.obs().current_time
    }

    /// How far `currentTime` reads ahead of the position (s).
    fn lead(&self) -> f64 {
        match self.model {
            PlayerModel::LeadingElement { lead_ms, .. } if self.played_ms >= 500.0 => lead_ms / 1000.0,
            _ => 0.0,
        }
    }

    fn is_embed(&self) -> bool {
        matches!(self.model, PlayerModel::Embed { .. })
    }

    /// Playing, as a report says it.
    fn playing(&self) -> bool {
        !self.paused && self.seeking.is_none() && self.stalled_until.is_none()
    }
    /// The element as seen `elapsed_local` ms after the last step.
    fn obs_after(&self, elapsed_local: Millis) -> MediaObservation {
        let mut o = self.obs();
        if !self.is_embed() && self.playing() {
            o.current_time = (self.position + elapsed_local / 1000.0 * self.rate).min(self.duration);
            let read = self.picture_at(self.local + elapsed_local);
            if let PlayerModel::SteppedElement { step_ms, .. } = self.model {
                (o.picture, o.picture_error) = (read.map(|r| r.position), read.and_then(|r| r.error));
                o.current_time = (o.current_time * 1000.0 / step_ms).floor() * step_ms / 1000.0;
            }
            if let PlayerModel::LeadingElement { .. } = self.model {
                (o.picture, o.picture_error) = (read.map(|r| r.position), read.and_then(|r| r.error));
                o.current_time += self.lead();
            }
        }
        o
    }

    fn obs(&self) -> MediaObservation {
        let current_time = match self.model {
            _ if self.is_embed() => self.reported,
            PlayerModel::SteppedElement { step_ms, .. } if self.playing() => (self.position * 1000.0 / step_ms).floor() * step_ms / 1000.0,
            PlayerModel::LeadingElement { .. } if self.seeking.is_none() => self.position + self.lead(),
            _ => self.position,
        };
        let picture = self.picture_at(self.local);
        MediaObservation {
            current_time,
            paused: self.paused,
            seeking: self.seeking.is_some(),
            ended: self.ended,
            buffering: self.stalled_until.is_some(),
            duration: Some(self.duration),
            picture: picture.map(|r| r.position),
            picture_error: picture.and_then(|r| r.error),
            shows_frames: self.reads_picture(),
        }
    }

    fn reads_picture(&self) -> bool {
        matches!(self.model, PlayerModel::SteppedElement { picture: true, .. } | PlayerModel::LeadingElement { picture: true, .. })
    }

    /// The shell's picture reading at local time `at`.
    fn picture_at(&self, at: Millis) -> Option<PictureReading> {
        (self.reads_picture() && self.playing()).then(|| self.fit.poll_reading(at, self.rate)).flatten()
    }

    /// Played from `from` to `self.position` over the local ms `(t0, t1]`:
    /// the frames in between are shown, each at a jittered time.
    fn show_frames(&mut self, from: f64, t0: Millis, t1: Millis) {
        if !self.reads_picture() || self.position <= from {
            return;
        }
        let mut k = (from * FRAME_FPS).floor() + 1.0;
        while k / FRAME_FPS <= self.position {
            let media = k / FRAME_FPS;
            let shown = t0 + (media - from) / (self.position - from) * (t1 - t0);
            self.fit.handle_frame(shown + (vsync(media) - media) * 1000.0, media, self.rate);
            k += 1.0;
        }
    }
}

/// A position off by a uniform ±17 ms (a frame's display-time jitter), drawn
/// from the position itself (a frame has no random source of its own).
fn vsync(position: f64) -> f64 {
    let h = ((position * 1e5) as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 11;
    let u = h as f64 / (1u64 << 53) as f64; // 0..1
    position + (u - 0.5) * 0.034
}

/// Counters per peer.
#[derive(Clone, Debug, Default)]
pub struct PeerCounters {
    /// Seeks issued by the sync loop (not by the user).
    pub seeks: u64,
    /// Simulated ms spent at a rate other than the room's while playing.
    pub off_rate_ms: f64,
    /// Simulated ms spent playing.
    pub playing_ms: f64,
    /// Drift samples (ms), while sampling is on.
    pub drift_ms: Vec<f64>,
}

pub struct Peer {
    pub profile: PeerProfile,
    pub client: Client,
    pub element: Element,
    pub conn: Option<ConnId>,
    /// (arrival true time, text) from the server
    inbox: VecDeque<(Millis, String)>,
    last_down_arrival: Millis,
    last_up_arrival: Millis,
    pub counters: PeerCounters,
    pub connected: bool,
    /// An embed's reports on their way: (local arrival, position, playing).
    reports: VecDeque<(Millis, f64, bool)>,
    next_report: Millis,
    /// The events the client gave its page, `stats` left out.
    pub events: Vec<ClientEvent>,
    /// Edge probes on their way: (true arrival time of the answer, t0, the
    /// edge's time, none if the probe fails).
    edge_replies: Vec<(Millis, Millis, Option<Millis>)>,
}

pub struct Sim {
    pub now: Millis,
    pub rng: Rng,
    pub room: Room,
    to_server: VecDeque<(Millis, usize, ConnId, String)>,
    pub peers: Vec<Peer>,
    pub step_ms: Millis,
    sampling: bool,
    entropy_counter: u64,
}

/// Demo item duration in the simulation.
pub const ITEM_SECONDS: f64 = 3_600.0;

impl Sim {
    pub fn new(seed: u64, profiles: Vec<PeerProfile>) -> Self {
        Self::with_config(seed, profiles, ClientConfig::default(), RoomConfig::default())
    }

    pub fn with_config(seed: u64, profiles: Vec<PeerProfile>, client: ClientConfig, room: RoomConfig) -> Self {
        let rng = Rng::new(seed);
        let now = 1_000_000.0;
        let mut room_seed = [0u8; 32];
        room_seed[..8].copy_from_slice(&seed.to_le_bytes());
        let room = match Room::create(room, now, CreateOptions { source: Some(SourceInfo::new("/demo.mpd", None)), ..CreateOptions::default() }, room_seed) {
            Ok(room) => room,
            Err(e) => panic!("the simulated room was refused: {e:?}"),
        };
        let mut peers = profiles
            .into_iter()
            .enumerate()
            .map(|(i, profile)| Peer {
                profile,
                client: Client::new(
                    ClientConfig {
                        seed: seed ^ (i as u64 + 1),
                        edge_clock: profile.edge.map(|_| client.edge_clock.clone().unwrap_or_else(ClockConfig::edge)),
                        ..client.clone()
                    },
                    Identity { name: format!("p{i}"), ..Identity::default() },
                ),
                element: Element::new(profile.player, ITEM_SECONDS),
                conn: None,
                inbox: VecDeque::new(),
                last_down_arrival: 0.0,
                last_up_arrival: 0.0,
                counters: PeerCounters::default(),
                connected: false,
                reports: VecDeque::new(),
                next_report: f64::NEG_INFINITY,
                events: Vec::new(),
                edge_replies: Vec::new(),
            })
            .collect::<Vec<Peer>>();
        for p in &mut peers {
            if let PlayerModel::SteppedElement { step_ms, told: true, .. } = p.profile.player {
                p.client.handle_position_reads(PositionReads::Stepped { step_ms });
            }
            if let PlayerModel::Embed { stepped, estimate: true, .. } = p.profile.player {
                let rates = if stepped { RateControl::Stepped(YOUTUBE_RATES.to_vec()) } else { RateControl::Continuous { min: 0.5, max: 2.0 } };
                p.client.handle_backend(Capabilities::embed(rates));
            }
        }
        let mut sim = Sim { now, rng, room, to_server: VecDeque::new(), peers, step_ms: 5.0, sampling: false, entropy_counter: 0 };
        sim.flush();
        sim
    }

    /// Local clock of peer `i` at the current true time.
    pub fn local(&self, i: usize) -> Millis {
        let p = &self.peers[i].profile;
        self.now * (1.0 + p.clock_skew_ppm * 1e-6) + p.clock_offset_ms
    }

    pub fn connect(&mut self, i: usize) {
        self.entropy_counter += 1;
        // The draw that once made the socket's entropy keeps every seeded
        // run's network the same.
        let _ = self.rng.next_f64();
        // Each peer from an address of its own.
        let addr = self.room.address_key(&format!("198.51.100.{}", i % 250));
        let conn = match self.room.handle_connect(self.now, addr) {
            Ok(conn) => conn,
            Err(e) => panic!("peer {i} was refused: {e:?}"),
        };
        self.peers[i].conn = Some(conn);
        self.peers[i].connected = true;
        let local = self.local(i);
        self.peers[i].client.handle_connected(local);
        self.flush();
    }

    /// The network drops peer `i`'s connection.
    pub fn disconnect(&mut self, i: usize) {
        if let Some(conn) = self.peers[i].conn.take() {
            self.room.handle_disconnect(self.now, conn);
        }
        self.peers[i].connected = false;
        self.peers[i].inbox.clear();
        self.to_server.retain(|m| m.1 != i);
        let local = self.local(i);
        self.peers[i].client.handle_disconnected(local);
        self.flush();
    }

    /// Peer `i`'s page leaves the room for good (its goodbye still travels
    /// the network; the room then closes the socket).
    pub fn leave(&mut self, i: usize) {
        let local = self.local(i);
        self.peers[i].client.handle_leave(local);
        self.flush();
    }

    pub fn member(&self, i: usize) -> Option<MemberId> {
        self.peers[i].client.member()
    }

    fn delay(rng: &mut Rng, path: &Path) -> Millis {
        let u = rng.next_f64();
        let burst = if rng.chance(path.burst_chance) { path.burst_ms } else { 0.0 };
        path.base_ms + u * u * u * path.jitter_ms + burst
    }

    /// Deliver outputs of the room and the clients.
    pub fn flush(&mut self) {
        while let Some(o) = self.room.poll_output() {
            let targets: Vec<(ConnId, ServerMsg)> = match o {
                RoomOutput::Send { to, msg } => vec![(to, msg)],
                RoomOutput::Broadcast { msg } => {
                    self.peers.iter().filter(|p| p.client.member().is_some()).filter_map(|p| p.conn).map(|c| (c, msg.clone())).collect()
                }
                RoomOutput::Close { conn, .. } => {
                    if let Some(i) = self.peers.iter().position(|p| p.conn == Some(conn)) {
                        self.peers[i].conn = None;
                        self.peers[i].connected = false;
                        let local = self.local(i);
                        self.peers[i].client.handle_disconnected(local);
                    }
                    vec![]
                }
                _ => vec![],
            };
            for (conn, msg) in targets {
                if let Some(i) = self.peers.iter().position(|p| p.conn == Some(conn)) {
                    let d = Self::delay(&mut self.rng, &self.peers[i].profile.down);
                    // A WebSocket delivers in order.
                    let at = (self.now + d).max(self.peers[i].last_down_arrival);
                    self.peers[i].last_down_arrival = at;
                    self.peers[i].inbox.push_back((at, msg.encode()));
                }
            }
        }
        for i in 0..self.peers.len() {
            let local = self.local(i);
            while let Some(o) = self.peers[i].client.poll_output() {
                match o {
                    ClientOutput::Send(m) => {
                        if let Some(conn) = self.peers[i].conn {
                            let d = Self::delay(&mut self.rng, &self.peers[i].profile.up);
                            let at = (self.now + d).max(self.peers[i].last_up_arrival);
                            self.peers[i].last_up_arrival = at;
                            self.to_server.push_back((at, i, conn, m.encode()));
                        }
                    }
                    ClientOutput::EdgeProbe { t0 } => {
                        let Some(edge) = self.peers[i].profile.edge else { continue };
                        if edge.fails {
                            // (No draws: the network stays what it is without an edge.)
                            self.peers[i].edge_replies.push((self.now + 50.0, t0, None));
                            continue;
                        }
                        let up = Self::delay(&mut self.rng, &edge.up);
                        let down = Self::delay(&mut self.rng, &edge.down);
                        // Answered on arrival: the edge's clock is the true time, off by
                        // its error, read in whole ms rounded down (a worker's `Date.now()`).
                        let answer = Some((self.now + up + edge.clock_error_ms).floor());
                        self.peers[i].edge_replies.push((self.now + up + down, t0, answer));
                    }
                    ClientOutput::Media(a) => self.apply(i, local, &a, false),
                    ClientOutput::Event(ClientEvent::Stats(_)) => {}
                    ClientOutput::Event(e) => self.peers[i].events.push(e),
                }
            }
        }
    }

    fn apply(&mut self, i: usize, local: Millis, a: &MediaAction, by_user: bool) {
        let (lo, hi) = self.peers[i].profile.seek_ms;
        let landing = self.rng.range(lo, hi);
        let p = &mut self.peers[i];
        let e = &mut p.element;
        match a {
            MediaAction::Play if e.paused && !by_user && p.profile.play_ms > 0.0 => {
                e.play_at.get_or_insert(local + p.profile.play_ms);
            }
            MediaAction::Play if e.paused => {
                e.paused = false;
                e.ended = false;
                e.events.push(MediaEvent::Play);
            }
            MediaAction::Pause if !e.paused => {
                e.paused = true;
                e.events.push(MediaEvent::Pause);
            }
            MediaAction::Seek(t) => {
                if !by_user && !e.paused {
                    p.counters.seeks += 1;
                }
                e.seeking = Some((local + landing, t.clamp(0.0, e.duration)));
            }
            MediaAction::SetRate { rate, preserve_pitch } => {
                e.preserve_pitch = *preserve_pitch;
                if (e.rate - *rate).abs() > 1e-12 && e.seeking.is_none() {
                    // WebKitGTK through WebAudio re-seeks its pipeline to where audio was handed out.
                    e.position += e.lead();
                }
                e.rate = match e.model {
                    PlayerModel::Element | PlayerModel::SteppedElement { .. } | PlayerModel::LeadingElement { .. } => *rate,
                    PlayerModel::Embed { rate_applies: false, .. } => e.rate,
                    // Rounded toward 1× to a listed rate, as YouTube's setPlaybackRate does.
                    PlayerModel::Embed { stepped: true, .. } => {
                        let toward_one = YOUTUBE_RATES.iter().copied().filter(|r| if *rate >= 1.0 { *r <= *rate + 1e-9 } else { *r >= *rate - 1e-9 });
                        if *rate >= 1.0 { toward_one.max_by(f64::total_cmp) } else { toward_one.min_by(f64::total_cmp) }.unwrap_or(1.0)
                    }
                    PlayerModel::Embed { .. } => *rate,
                };
            }
            MediaAction::Load(_) => {
                // HTML's load algorithm: playbackRate back to 1× (preservesPitch stays).
                *e = Element { preserve_pitch: e.preserve_pitch, ..Element::new(e.model, ITEM_SECONDS) };
            }
            _ => {}
        }
    }

    /// Local clock of peer `i` at true time `t`.
    fn local_at(&self, i: usize, t: Millis) -> Millis {
        let p = &self.peers[i].profile;
        t * (1.0 + p.clock_skew_ppm * 1e-6) + p.clock_offset_ms
    }

    /// Messages due within this step, delivered at their exact arrival times.
    fn deliver_until(&mut self, end: Millis, step_start: Millis) {
        loop {
            let server_next = self.to_server.front().map(|m| m.0).filter(|t| *t <= end);
            let peer_next = self
                .peers
                .iter()
                .enumerate()
                .filter_map(|(i, p)| p.inbox.front().map(|m| (m.0, i)))
                .filter(|(t, _)| *t <= end)
                .min_by(|a, b| a.0.total_cmp(&b.0));
            let edge_next = self
                .peers
                .iter()
                .enumerate()
                .flat_map(|(i, p)| p.edge_replies.iter().enumerate().map(move |(k, r)| (r.0, i, k)))
                .filter(|(t, ..)| *t <= end)
                .min_by(|a, b| a.0.total_cmp(&b.0));
            if let Some((te, i, k)) = edge_next {
                if server_next.is_none_or(|ts| te < ts) && peer_next.is_none_or(|(tp, _)| te < tp) {
                    self.now = te;
                    let local = self.local_at(i, te);
                    let (_, t0, answer) = self.peers[i].edge_replies.swap_remove(k);
                    match answer {
                        Some(t) => self.peers[i].client.handle_edge_reply(local, t0, t, t),
                        None => self.peers[i].client.handle_edge_failed(local),
                    }
                    self.flush();
                    continue;
                }
            }
            match (server_next, peer_next) {
                (Some(ts), Some((tp, _))) if ts <= tp => self.deliver_to_server(ts),
                (Some(ts), None) => self.deliver_to_server(ts),
                (_, Some((tp, i))) => {
                    self.now = tp;
                    let local = self.local_at(i, tp);
                    let elapsed_local = (tp - step_start) * (1.0 + self.peers[i].profile.clock_skew_ppm * 1e-6);
                    let p = &mut self.peers[i];
                    let Some((_, text)) = p.inbox.pop_front() else { break };
                    let obs = p.element.obs_after(elapsed_local);
                    p.client.handle_server_text(local, &text, &obs);
                    self.flush();
                }
                (None, None) => break,
            }
        }
    }

    fn deliver_to_server(&mut self, at: Millis) {
        self.now = at;
        if let Some((_, _, conn, text)) = self.to_server.pop_front() {
            if self.room.poll_timeout().is_some_and(|t| at >= t) {
                self.room.handle_timeout(at);
            }
            self.room.handle_text(at, conn, &text);
        }
        self.flush();
    }

    /// One step of `step_ms` of true time.
    pub fn step(&mut self) {
        let dt = self.step_ms;
        let start = self.now;
        let end = start + dt;
        self.deliver_until(end, start);
        self.now = end;
        let now = end;
        if self.room.poll_timeout().is_some_and(|t| now >= t) {
            self.room.handle_timeout(now);
        }
        self.flush();
        let expected = self.room.state().playback.position_at(now);
        let room_playing = self.room.state().playback.playing && now >= self.room.state().playback.t_ref;
        let room_rate = self.room.state().playback.rate;
        for i in 0..self.peers.len() {
            let local = self.local(i);
            let dt_local = dt * (1.0 + self.peers[i].profile.clock_skew_ppm * 1e-6);
            let stall_chance = self.peers[i].profile.stall_chance_per_s * dt / 1000.0;
            let (slo, shi) = self.peers[i].profile.stall_ms;
            let stall_for = self.rng.range(slo, shi);
            let stall_roll = self.rng.chance(stall_chance);
            let p = &mut self.peers[i];
            // The element.
            let e = &mut p.element;
            e.local = local;
            if e.play_at.is_some_and(|at| local >= at) {
                e.play_at = None;
                if e.paused {
                    e.paused = false;
                    e.ended = false;
                    e.events.push(MediaEvent::Play);
                }
            }
            if let Some((at, t)) = e.seeking {
                if local >= at {
                    e.position = t;
                    if !matches!(e.model, PlayerModel::LeadingElement { keeps_lead: true, .. }) || e.paused {
                        e.played_ms = 0.0;
                    }
                    e.fit.handle_discontinuity();
                    e.seeking = None;
                    e.events.push(MediaEvent::Seeked);
                    if e.is_embed() {
                        // An embed's backend tells a landed seek by a report at its target.
                        e.reported = t;
                        p.reports.clear();
                        p.client.handle_position_report(local, t, false);
                    }
                }
            } else if e.stalled_until.is_some_and(|t| local >= t) {
                e.stalled_until = None;
            } else if !e.paused && e.stalled_until.is_none() {
                if stall_roll {
                    e.stalled_until = Some(local + stall_for);
                } else {
                    let from = e.position;
                    e.position += dt_local / 1000.0 * e.rate * p.profile.speed;
                    e.played_ms += dt_local;
                    if e.played_ms >= p.profile.first_frame_ms {
                        e.show_frames(from, local - dt_local, local);
                    }
                    if e.position >= e.duration {
                        e.position = e.duration;
                        e.paused = true;
                        e.ended = true;
                        e.events.push(MediaEvent::Pause);
                    }
                }
            }
            // Counters.
            if !e.paused && e.seeking.is_none() && e.stalled_until.is_none() && room_playing {
                p.counters.playing_ms += dt;
                if (e.rate - room_rate).abs() > 1e-9 {
                    p.counters.off_rate_ms += dt;
                }
                if self.sampling {
                    p.counters.drift_ms.push((e.position - expected) * 1000.0);
                }
            }
            // An embed reports its position; the report arrives a little later.
            if let PlayerModel::Embed { report_ms, delay_ms: (lo, hi), .. } = p.element.model {
                if local >= p.next_report {
                    p.next_report = local + report_ms;
                    let arrival = (local + self.rng.range(lo, hi)).max(p.reports.back().map_or(f64::NEG_INFINITY, |r| r.0));
                    p.reports.push_back((arrival, p.element.position, p.element.playing()));
                }
                while p.reports.front().is_some_and(|r| r.0 <= local) {
                    let Some((_, position, playing)) = p.reports.pop_front() else { break };
                    p.element.reported = position;
                    p.client.handle_position_report(local, position, playing);
                }
            }
            for ev in std::mem::take(&mut p.element.events) {
                let obs = p.element.obs();
                p.client.handle_media_event(local, ev, &obs);
            }
            if p.client.poll_timeout().is_some_and(|t| local >= t) {
                let obs = p.element.obs();
                p.client.handle_timeout(local, &obs);
            }
        }
        self.flush();
    }

    pub fn run(&mut self, ms: Millis) {
        let end = self.now + ms;
        while self.now < end {
            self.step();
        }
    }

    /// Run until `pred` holds (checked every step) or `limit_ms` passes;
    /// returns the time it took, if it held.
    pub fn run_until(&mut self, limit_ms: Millis, mut pred: impl FnMut(&Sim) -> bool) -> Option<Millis> {
        let start = self.now;
        while self.now - start < limit_ms {
            if pred(self) {
                return Some(self.now - start);
            }
            self.step();
        }
        None
    }

    /// Record drift samples from now on.
    pub fn sample(&mut self, on: bool) {
        self.sampling = on;
    }

    /// The page's own controls on peer `i`.
    pub fn command(&mut self, i: usize, c: Command) {
        let local = self.local(i);
        self.peers[i].client.handle_user_command(local, c);
        self.flush();
    }

    /// A viewer acts on peer `i`'s element directly (native controls).
    pub fn user(&mut self, i: usize, a: MediaAction) {
        let local = self.local(i);
        self.apply(i, local, &a, true);
    }

    /// Make peer `i` stall now for `ms`.
    pub fn stall(&mut self, i: usize, ms: Millis) {
        let local = self.local(i);
        self.peers[i].element.stalled_until = Some(local + ms);
    }

    /// The room's expected position now.
    pub fn expected(&self) -> f64 {
        self.room.state().playback.position_at(self.now)
    }

    /// Largest |position − expected| over connected, playing peers (seconds).
    pub fn max_drift(&self) -> f64 {
        let e = self.expected();
        self.peers.iter().filter(|p| p.connected).map(|p| (p.element.position - e).abs()).fold(0.0, f64::max)
    }

    /// All connected peers within `tol` seconds of the room and at the room's rate.
    pub fn converged(&self, tol: f64) -> bool {
        let rate = self.room.state().playback.rate;
        self.peers.iter().filter(|p| p.connected).all(|p| p.element.seeking.is_none() && (p.element.rate - rate).abs() < 1e-9) && self.max_drift() <= tol
    }
}

/// Percentile of absolute values (0..=100).
pub fn percentile_abs(samples: &[f64], pct: f64) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    let mut v: Vec<f64> = samples.iter().map(|x| x.abs()).collect();
    v.sort_by(f64::total_cmp);
    let idx = ((pct / 100.0) * (v.len() - 1) as f64).round() as usize;
    v[idx.min(v.len() - 1)]
}
