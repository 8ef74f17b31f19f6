//! The client-side session state machine.
//!
//! The player shell feeds it socket events, media element observations and
//! user actions, each with `now` on the client's monotonic clock, and drains
//! [`ClientOutput`]s: messages to send, actions to apply to the element and
//! events for the page. Echo suppression is state based: an element event
//! that agrees with the room's state is ours; one that disagrees is the
//! viewer's and becomes a command.

use std::collections::VecDeque;

use crate::clock::{ClockConfig, ClockSync};
use crate::drift::{Correction, DriftConfig, DriftController};
use crate::protocol::{ClientMsg, Command, ErrorCode, MemberId, MemberInfo, ServerMsg};
use crate::timeline::Playback;
use crate::Millis;

#[derive(Clone, Debug)]
pub struct ClientConfig {
    pub clock: ClockConfig,
    pub drift: DriftConfig,
    /// How often the element is checked against the room.
    pub tick_ms: Millis,
    /// How often a status report goes to the room.
    pub status_ms: Millis,
    /// A user seek closer than this to the room's position is not a command (s).
    pub seek_echo_tolerance: f64,
    /// How long our own command may take to come back before the room's
    /// state is enforced again.
    pub pending_ms: Millis,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            clock: ClockConfig::default(),
            drift: DriftConfig::default(),
            tick_ms: 250.0,
            status_ms: 2_000.0,
            seek_echo_tolerance: 1.0,
            pending_ms: 3_000.0,
        }
    }
}

/// What the shell read off the media element just now.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct MediaObservation {
    pub current_time: f64,
    pub paused: bool,
    pub seeking: bool,
    pub ended: bool,
    /// `readyState < HAVE_FUTURE_DATA` while it should be playing.
    pub buffering: bool,
}

/// An event from the media element.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MediaEvent {
    Play,
    Pause,
    Seeked,
}

/// Something to do to the media element.
#[derive(Clone, Debug, PartialEq)]
pub enum MediaAction {
    Load(String),
    Play,
    Pause,
    Seek(f64),
    SetRate(f64),
}

/// Sync figures for the page.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Stats {
    pub offset_ms: Option<f64>,
    pub offset_error_ms: Option<f64>,
    pub rtt_ms: Option<f64>,
    pub drift_ms: Option<f64>,
    pub rate: f64,
    pub rate_corrections: u64,
    pub seek_corrections: u64,
}

/// Something that happened, for the page.
#[derive(Clone, Debug, PartialEq)]
pub enum ClientEvent {
    Joined { member: MemberId },
    State { playback: Playback, seq: u64 },
    Members(Vec<MemberInfo>),
    Error { code: ErrorCode, message: String },
    Stats(Stats),
}

#[derive(Clone, Debug, PartialEq)]
pub enum ClientOutput {
    Send(ClientMsg),
    Media(MediaAction),
    Event(ClientEvent),
}

struct RoomView {
    seq: u64,
    source: Option<String>,
    playback: Playback,
}

pub struct Client {
    cfg: ClientConfig,
    name: String,
    clock: ClockSync,
    drift: DriftController,
    /// Rough offset from the welcome's server time, until probes answer.
    welcome_offset: Option<Millis>,
    connected: bool,
    member: Option<MemberId>,
    room: Option<RoomView>,
    next_command: u64,
    /// Our latest command in flight and when it was sent.
    pending: Option<(u64, Millis)>,
    next_tick: Option<Millis>,
    next_status: Option<Millis>,
    rate: f64,
    stats: Stats,
    out: VecDeque<ClientOutput>,
}

impl Client {
    pub fn new(cfg: ClientConfig, name: String) -> Self {
        Client {
            clock: ClockSync::new(cfg.clock.clone()),
            drift: DriftController::new(cfg.drift.clone()),
            cfg,
            name,
            welcome_offset: None,
            connected: false,
            member: None,
            room: None,
            next_command: 1,
            pending: None,
            next_tick: None,
            next_status: None,
            rate: 1.0,
            stats: Stats { rate: 1.0, ..Stats::default() },
            out: VecDeque::new(),
        }
    }

    /// The socket opened.
    pub fn handle_connected(&mut self, now: Millis) {
        self.connected = true;
        self.out.push_back(ClientOutput::Send(ClientMsg::Hello { name: self.name.clone() }));
        self.clock.handle_connected(now);
        self.drain_probes(now);
    }

    /// The socket closed.
    pub fn handle_disconnected(&mut self, _now: Millis) {
        self.connected = false;
        self.clock.handle_disconnected();
        self.next_tick = None;
        self.next_status = None;
        self.pending = None;
    }

    /// The server time now, if known.
    pub fn server_now(&self, now: Millis) -> Option<Millis> {
        self.clock.offset().or(self.welcome_offset).map(|o| now + o)
    }

    /// A text frame from the server.
    pub fn handle_server_text(&mut self, now: Millis, text: &str, obs: &MediaObservation) {
        let msg = match ServerMsg::decode(text) {
            Ok(m) => m,
            Err(e) => {
                self.event(ClientEvent::Error { code: ErrorCode::BadMessage, message: format!("bad message from server: {e}") });
                return;
            }
        };
        match msg {
            ServerMsg::Welcome { member, server_time, room } => {
                self.member = Some(member);
                self.welcome_offset = Some(server_time - now);
                let old_source = self.room.as_ref().and_then(|r| r.source.clone());
                if room.source.is_some() && room.source != old_source {
                    if let Some(url) = &room.source {
                        self.media(MediaAction::Load(url.clone()));
                    }
                }
                self.room = Some(RoomView { seq: room.seq, source: room.source, playback: room.playback });
                self.event(ClientEvent::Joined { member });
                self.event(ClientEvent::Members(room.members));
                self.event(ClientEvent::State { playback: room.playback, seq: room.seq });
                self.next_tick = Some(now);
                self.next_status = Some(now + self.cfg.status_ms);
                self.enforce(now, obs);
            }
            ServerMsg::Pong { t0, t1, t2 } => {
                self.clock.handle_pong(t0, t1, t2, now);
            }
            ServerMsg::State { seq, playback, cause } => {
                let Some(room) = self.room.as_mut() else { return };
                if seq <= room.seq {
                    return;
                }
                room.seq = seq;
                room.playback = playback;
                if let (Some(c), Some((id, _))) = (cause, self.pending) {
                    if Some(c.member) == self.member && c.command_id >= id {
                        self.pending = None;
                    }
                }
                self.drift.reset();
                self.event(ClientEvent::State { playback, seq });
                self.enforce(now, obs);
            }
            ServerMsg::Source { seq, url, playback, cause } => {
                let Some(room) = self.room.as_mut() else { return };
                if seq <= room.seq {
                    return;
                }
                room.seq = seq;
                room.source = Some(url.clone());
                room.playback = playback;
                if let (Some(c), Some((id, _))) = (cause, self.pending) {
                    if Some(c.member) == self.member && c.command_id >= id {
                        self.pending = None;
                    }
                }
                self.media(MediaAction::Load(url));
                self.event(ClientEvent::State { playback, seq });
            }
            ServerMsg::Members { members } => self.event(ClientEvent::Members(members)),
            ServerMsg::Error { code, message, command_id } => {
                if command_id.is_some() && command_id == self.pending.map(|p| p.0) {
                    self.pending = None;
                }
                self.event(ClientEvent::Error { code, message });
            }
        }
    }

    /// A command from the page's own controls.
    pub fn handle_user_command(&mut self, now: Millis, command: Command) {
        if !self.connected || self.room.is_none() {
            self.event(ClientEvent::Error { code: ErrorCode::NotJoined, message: "not connected to the room".into() });
            return;
        }
        let id = self.next_command;
        self.next_command += 1;
        self.pending = Some((id, now));
        self.out.push_back(ClientOutput::Send(ClientMsg::Command { id, command }));
    }

    /// An event from the media element. Events that agree with the room are
    /// echoes of our own actions; the others are the viewer's.
    pub fn handle_media_event(&mut self, now: Millis, event: MediaEvent, obs: &MediaObservation) {
        let Some(room) = &self.room else { return };
        let Some(server_now) = self.server_now(now) else { return };
        let pb = room.playback;
        let command = match event {
            MediaEvent::Play if !pb.playing => Some(Command::Play { position: Some(obs.current_time) }),
            MediaEvent::Pause if pb.playing && !obs.ended => Some(Command::Pause { position: Some(obs.current_time) }),
            MediaEvent::Seeked => {
                let expected = pb.position_at(server_now);
                ((obs.current_time - expected).abs() > self.cfg.seek_echo_tolerance)
                    .then_some(Command::Seek { position: obs.current_time })
            }
            _ => None,
        };
        if let Some(command) = command {
            self.handle_user_command(now, command);
        }
    }

    /// Timers: call at [`Self::poll_timeout`] with a fresh observation.
    pub fn handle_timeout(&mut self, now: Millis, obs: &MediaObservation) {
        self.drain_probes(now);
        if self.next_tick.is_some_and(|t| now >= t) {
            self.next_tick = Some(now + self.cfg.tick_ms);
            self.enforce(now, obs);
            self.event(ClientEvent::Stats(self.stats));
        }
        if self.next_status.is_some_and(|t| now >= t) {
            self.next_status = Some(now + self.cfg.status_ms);
            let msg = ClientMsg::Status { buffering: obs.buffering, drift_ms: self.stats.drift_ms, rtt_ms: self.stats.rtt_ms };
            self.out.push_back(ClientOutput::Send(msg));
        }
    }

    fn drain_probes(&mut self, now: Millis) {
        while let Some(t0) = self.clock.poll_probe(now) {
            self.out.push_back(ClientOutput::Send(ClientMsg::Ping { t0 }));
        }
    }

    /// Bring the element in line with the room.
    fn enforce(&mut self, now: Millis, obs: &MediaObservation) {
        self.stats.offset_ms = self.clock.offset().or(self.welcome_offset);
        self.stats.offset_error_ms = self.clock.error_bound();
        self.stats.rtt_ms = self.clock.rtt();
        if let Some((_, sent)) = self.pending {
            if now - sent < self.cfg.pending_ms {
                return; // our own command is on its way: do not fight the viewer
            }
            self.pending = None;
        }
        let (Some(room), Some(server_now)) = (&self.room, self.server_now(now)) else { return };
        let pb = room.playback;
        let expected = pb.position_at(server_now);
        if obs.seeking {
            return;
        }
        if !pb.playing {
            self.stats.drift_ms = Some((obs.current_time - expected) * 1000.0);
            if !obs.paused {
                self.media(MediaAction::Pause);
            }
            if (obs.current_time - expected).abs() > 0.05 {
                self.media(MediaAction::Seek(expected));
            }
            self.set_rate(pb.rate, false);
            return;
        }
        if obs.ended {
            return;
        }
        self.stats.drift_ms = Some((obs.current_time - expected) * 1000.0);
        if obs.paused {
            // Start from the right place, then play.
            if (obs.current_time - expected).abs() > self.cfg.drift.nudge_above {
                self.media(MediaAction::Seek(expected + self.cfg.drift.seek_lead));
            }
            self.media(MediaAction::Play);
            return;
        }
        if obs.buffering {
            return; // position is frozen while waiting for data; judge it once it moves
        }
        match self.drift.decide(now, expected, obs.current_time, pb.rate) {
            Correction::Seek(to) => {
                self.stats.seek_corrections += 1;
                self.media(MediaAction::Seek(to));
                self.set_rate(pb.rate, false);
            }
            Correction::Rate(r) => self.set_rate(r, (r - pb.rate).abs() > 1e-9),
        }
    }

    fn set_rate(&mut self, rate: f64, correction: bool) {
        if (rate - self.rate).abs() > 1e-6 {
            if correction && (self.rate - 1.0).abs() < 1e-9 {
                self.stats.rate_corrections += 1;
            }
            self.rate = rate;
            self.stats.rate = rate;
            self.media(MediaAction::SetRate(rate));
        }
    }

    fn media(&mut self, a: MediaAction) {
        self.out.push_back(ClientOutput::Media(a));
    }

    fn event(&mut self, e: ClientEvent) {
        self.out.push_back(ClientOutput::Event(e));
    }

    pub fn poll_output(&mut self) -> Option<ClientOutput> {
        self.out.pop_front()
    }

    /// When [`Self::handle_timeout`] should be called next.
    pub fn poll_timeout(&self) -> Option<Millis> {
        [self.clock.poll_timeout(), self.next_tick, self.next_status].into_iter().flatten().min_by(|a, b| a.total_cmp(b))
    }

    pub fn stats(&self) -> Stats {
        self.stats
    }

    pub fn playback(&self) -> Option<Playback> {
        self.room.as_ref().map(|r| r.playback)
    }
}

#[cfg(test)]
mod tests;
