//! The client-side session state machine.
//!
//! The player shell feeds it socket events, media element observations and
//! user actions, each with `now` on the client's monotonic clock, and drains
//! [`ClientOutput`]s: messages to send, actions to apply to the element and
//! events for the page.
//!
//! Echo suppression: the client remembers the pause and seeks it issued;
//! an element event that matches one of them, or that agrees with the
//! room's state, is ours. Any other is the viewer's and becomes a command.
//! A command the viewer may not give is refused by the room, and the
//! element is put back at the room's state.

use std::collections::VecDeque;

use crate::backend::{Capabilities, PositionReads, Reports};
use crate::clock::sources::{Clocks, EdgeState};
use crate::clock::ClockConfig;
use crate::drift::{Decision, DriftConfig, DriftController, DriftInput, PlayerState, SEEKED_OFF_S};
use crate::protocol::{
    BanInfo, ChatLine, ClientMsg, Command, ErrorCode, MemberId, MemberInfo, PermissionMode, QueueItem, Reason, Role, ServerMsg, SourceInfo, SubtitleInfo,
};
use crate::rng::Rng;
use crate::timeline::Playback;
use crate::Millis;
use read_lead::ReadLead;

/// A seek still under way after this long is made again, then after twice
/// as long, and so on (see `check_stuck_seek`).
pub const STUCK_SEEK_MS: Millis = 5_000.0;
/// How many times in a row a stuck seek is made again.
pub const MAX_STUCK_SEEKS: u32 = 3;
/// A `play` event this soon (ms) after a pause of ours, with no play of
/// ours on its way, is the engine's, not the viewer's: see
/// [`Client::handle_media_event`].
pub const ENGINE_PLAY_MS: Millis = 1_000.0;

#[derive(Clone, Debug)]
pub struct ClientConfig {
    pub clock: ClockConfig,
    /// The edge time endpoint's probe schedule, where the shell has one
    /// (`None`: the room's pings alone; see [`crate::clock::sources`]).
    pub edge_clock: Option<ClockConfig>,
    pub drift: DriftConfig,
    /// How often the element is checked against the room, on average. Each
    /// interval is drawn from ±20 % of it: the element's `currentTime` moves
    /// in steps (Chromium: the audio renderer's ~10 ms), and readings at a
    /// fixed period lock onto one phase of the step, a bias of up to ±2 ms
    /// that differs per page (measured); readings at varied phases average it out.
    pub tick_ms: Millis,
    /// Seed of the tick jitter.
    pub seed: u64,
    /// How often a status report goes to the room.
    pub status_ms: Millis,
    /// Buffering must last this long before it is reported.
    pub buffering_report_ms: Millis,
    /// A viewer's seek closer than this to the room's position is ignored (s).
    pub seek_echo_tolerance: f64,
    /// How long our own command may take to come back before the room's
    /// state is enforced again.
    pub pending_ms: Millis,
    /// The element can change its playback rate.
    pub rate_control: bool,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            clock: ClockConfig::default(),
            edge_clock: None,
            drift: DriftConfig::default(),
            tick_ms: 250.0,
            seed: 1,
            status_ms: 2_000.0,
            buffering_report_ms: 500.0,
            seek_echo_tolerance: 1.0,
            pending_ms: 3_000.0,
            rate_control: true,
        }
    }
}

/// Who joins.
#[derive(Clone, Debug, Default)]
pub struct Identity {
    pub name: String,
    pub password: Option<String>,
    pub host_token: Option<String>,
}

/// What the shell read off the media element just now.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct MediaObservation {
    pub current_time: f64,
    pub paused: bool,
    pub seeking: bool,
    pub ended: bool,
    /// Not enough data to play on (`readyState < HAVE_FUTURE_DATA`).
    pub buffering: bool,
    /// Duration, once known.
    pub duration: Option<f64>,
    /// Where the picture is now, where the engine says: the frames of the
    /// last second (`requestVideoFrameCallback`) fitted on a line
    /// ([`crate::backend::PictureFit`]), carried at the element's rate to
    /// the moment of this reading; `None` without a
    /// recent frame (paused, audio only, no such API). Used where
    /// `currentTime` is stepped (see [`PositionReads::Stepped`]).
    pub picture: Option<f64>,
    /// How far `picture` may be off (s), where the shell measured it from
    /// the frames it fitted ([`crate::backend::PictureFit`]); `None`: as far
    /// as one frame's display jitter.
    pub picture_error: Option<f64>,
    /// The element tells the frames it shows (`requestVideoFrameCallback`):
    /// a picture will come, though none may have yet.
    pub shows_frames: bool,
}

impl MediaObservation {
    /// Playing on: not paused, seeking or buffering.
    pub fn moving(&self) -> bool {
        !self.paused && !self.seeking && !self.buffering
    }
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
    /// Set the element's rate. `preserve_pitch` is false for a short drift
    /// nudge while the room plays at 1× (at most ±5 % for at most 1 s):
    /// Chromium's pitch-keeping time stretch loses ~10 ms of media at each
    /// rate change (measured), more than such a nudge corrects; plain
    /// resampling loses none. Longer nudges, and any rate of a room at
    /// another speed, keep the pitch, as a viewer expects at 1.5×.
    SetRate {
        rate: f64,
        preserve_pitch: bool,
    },
}

/// Sync figures for the page.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Stats {
    pub offset_ms: Option<f64>,
    pub offset_error_ms: Option<f64>,
    pub rtt_ms: Option<f64>,
    /// What the edge time endpoint contributes to the offset.
    pub edge_clock: EdgeState,
    /// The edge's clock minus the room's as this member observes them, and
    /// the bound of that observation (ms): where the platform's clocks
    /// disagree, it shows here.
    pub edge_minus_room_ms: Option<f64>,
    pub edge_minus_room_error_ms: Option<f64>,
    /// The edge's most recent round trip.
    pub edge_rtt_ms: Option<f64>,
    pub skew_ppm: f64,
    pub drift_ms: Option<f64>,
    pub rate: f64,
    pub rate_corrections: u64,
    pub seek_corrections: u64,
    pub seek_landing_ms: f64,
    /// Learned position a rate nudge itself costs (ms).
    pub nudge_cost_ms: f64,
    pub correcting: bool,
    /// Rate nudges are in use (false: the backend has no rates, or its
    /// rates were seen not to apply; drift is seeked away instead).
    pub rate_applies: bool,
    /// How far apart `currentTime` readings move while playing (ms), where
    /// they are stepped (Firefox: ~41); `None`: exact.
    pub read_step_ms: Option<f64>,
    /// Readings are replaced by the picture (the fitted frames): where
    /// they are stepped, or where `currentTime` runs ahead of it.
    pub reads_picture: bool,
    /// How far (ms) the element's `currentTime` runs ahead of its picture,
    /// while it is found doing so (WebKitGTK through WebAudio: ~1000).
    pub read_lead_ms: Option<f64>,
    /// The element's learned speed error made up by its base rate (a
    /// fraction of the room's rate: 0.015 runs a 1.5 % slow element at
    /// 1.015× in a room at 1×; 0: none).
    pub speed_trim: f64,
}

/// Something that happened, for the page.
#[derive(Clone, Debug, PartialEq)]
pub enum ClientEvent {
    Joined {
        member: MemberId,
        role: Role,
    },
    /// The room's playback state: `by` the member whose command changed it
    /// (none for the room's own changes and the welcome's snapshot), and
    /// why, when it was not simply a command.
    State {
        playback: Playback,
        seq: u64,
        by: Option<MemberId>,
        reason: Option<Reason>,
    },
    /// The room's source, and the member who set it (none: the queue moved
    /// on, or the welcome's snapshot).
    Source {
        source: SourceInfo,
        by: Option<MemberId>,
    },
    Members(Vec<MemberInfo>),
    Queue(Vec<QueueItem>),
    /// The room's bans (names only); the host may lift one.
    Bans(Vec<BanInfo>),
    /// The room's subtitle files and the delay everyone applies (ms).
    Subtitles {
        subtitles: Vec<SubtitleInfo>,
        delay_ms: f64,
        /// The room's default language (empty: none).
        language: String,
    },
    Settings {
        mode: PermissionMode,
        has_password: bool,
    },
    Chat(ChatLine),
    /// A local action was undone because the room refused it.
    Reverted {
        message: String,
    },
    Error {
        code: ErrorCode,
        message: String,
    },
    Stats(Stats),
}

#[derive(Clone, Debug, PartialEq)]
pub enum ClientOutput {
    Send(ClientMsg),
    /// Ask the edge time endpoint for its time now: answer with
    /// [`Client::handle_edge_reply`] (this `t0`) or [`Client::handle_edge_failed`].
    EdgeProbe {
        t0: Millis,
    },
    Media(MediaAction),
    Event(ClientEvent),
}

struct RoomView {
    seq: u64,
    /// The `seq` at which the source was set (sent with `duration`).
    source_seq: u64,
    source: Option<SourceInfo>,
    playback: Playback,
}

pub struct Client {
    cfg: ClientConfig,
    identity: Identity,
    resume: Option<String>,
    hold: bool,
    clock: Clocks,
    drift: DriftController,
    /// Rough offset from the welcome's server time, until probes answer.
    welcome_offset: Option<Millis>,
    connected: bool,
    member: Option<MemberId>,
    /// Our role as the welcome said it (the member list says it after that).
    welcome_role: Option<Role>,
    /// The room's settings, from the welcome and `settings`.
    mode: PermissionMode,
    has_password: bool,
    /// The member list, kept from the welcome snapshot and the deltas after it.
    members: Vec<MemberInfo>,
    queue: Vec<QueueItem>,
    room: Option<RoomView>,
    next_command: u64,
    /// Our latest playback command in flight and when it was sent.
    pending: Option<(u64, Millis)>,
    /// A pause we issued, not yet seen as an event.
    our_pause_until: Option<Millis>,
    /// When we last paused the element (see [`ENGINE_PLAY_MS`]).
    paused_by_us_at: Option<Millis>,
    /// The paused element was seeked once for a `currentTime` holding its
    /// read lead (see `enforce`); again only after it has played.
    lead_seeked: bool,
    /// A play we issued, not yet seen as an event (the shell may first
    /// await the AudioContext: its play can land after the room paused).
    our_play_until: Option<Millis>,
    /// Local time a scheduled start should begin.
    start_at: Option<Millis>,
    /// Since when the element has been seeking, and how many times we
    /// seeked it again in that stretch (see [`STUCK_SEEK_MS`]).
    seeking_since: Option<Millis>,
    stuck_seeks: u32,
    next_tick: Option<Millis>,
    rng: Rng,
    /// What the element was last told about pitch (it starts keeping it).
    preserve_pitch: bool,
    next_status: Option<Millis>,
    buffering_since: Option<Millis>,
    reported_buffering: bool,
    reported_duration: bool,
    stats: Stats,
    out: VecDeque<ClientOutput>,
    caps: Capabilities,
    /// The position estimate of a backend that reports it.
    reports: Reports,
    /// Whether the element's `currentTime` (exact or stepped) runs ahead of its picture.
    read_lead: ReadLead,
}

impl Client {
    pub fn new(cfg: ClientConfig, identity: Identity) -> Self {
        let seed = cfg.seed;
        Client {
            clock: Clocks::new(cfg.clock.clone(), cfg.edge_clock.clone()),
            drift: DriftController::new(cfg.drift.clone()),
            cfg,
            identity,
            resume: None,
            hold: true,
            welcome_offset: None,
            connected: false,
            member: None,
            welcome_role: None,
            mode: PermissionMode::default(),
            has_password: false,
            members: Vec::new(),
            queue: Vec::new(),
            room: None,
            next_command: 1,
            pending: None,
            our_pause_until: None,
            paused_by_us_at: None,
            lead_seeked: false,
            our_play_until: None,
            start_at: None,
            seeking_since: None,
            stuck_seeks: 0,
            next_tick: None,
            rng: Rng::new(seed),
            preserve_pitch: true,
            next_status: None,
            buffering_since: None,
            reported_buffering: false,
            reported_duration: false,
            stats: Stats { rate: 1.0, rate_applies: true, ..Stats::default() },
            out: VecDeque::new(),
            caps: Capabilities::element(),
            reports: Reports::new(),
            read_lead: ReadLead::new(),
        }
    }

    /// The socket opened.
    pub fn handle_connected(&mut self, now: Millis) {
        self.connected = true;
        self.out.push_back(ClientOutput::Send(ClientMsg::Hello {
            name: self.identity.name.clone(),
            password: self.identity.password.clone(),
            resume: self.resume.clone(),
            host_token: self.identity.host_token.clone(),
        }));
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
        self.reported_buffering = false;
    }

    pub fn member(&self) -> Option<MemberId> {
        self.member
    }

    /// Our role in the room, once joined: as the member list says it (the
    /// host may change it), else as the welcome said it.
    pub fn role(&self) -> Option<Role> {
        let me = self.member?;
        self.members.iter().find(|m| m.id == me).map(|m| m.role).or(self.welcome_role)
    }

    /// Who may control the room (`Open`: everyone), as last heard.
    pub fn mode(&self) -> PermissionMode {
        self.mode
    }

    /// Whether the room has a password, as last heard.
    pub fn has_password(&self) -> bool {
        self.has_password
    }

    /// Whether our commands to play, pause, seek, change the source or the
    /// queue would be taken: the room's own rule ([`crate::protocol::can_control`])
    /// on our role and its mode. False until joined.
    pub fn can_control(&self) -> bool {
        self.role().is_some_and(|role| crate::protocol::can_control(self.mode, role))
    }

    /// The room's members as last heard (the welcome's list and the changes since).
    pub fn members(&self) -> &[MemberInfo] {
        &self.members
    }

    /// The room's queue as last heard.
    pub fn queue(&self) -> &[QueueItem] {
        &self.queue
    }

    /// The token that gets this member back after a reconnect.
    pub fn resume_token(&self) -> Option<&str> {
        self.resume.as_deref()
    }

    /// Use a resume token saved earlier (e.g. across a page reload).
    pub fn set_resume_token(&mut self, token: Option<String>) {
        self.resume = token;
    }

    /// The "don't correct me" switch.
    pub fn set_correction(&mut self, enabled: bool) {
        self.drift.set_enabled(enabled);
        self.stats.correcting = enabled;
    }

    /// false: do not make the group wait while this member buffers.
    pub fn set_hold(&mut self, hold: bool) {
        self.hold = hold;
        self.next_status = self.next_status.map(|_| 0.0);
    }

    /// Another player backend plays the source from now on.
    pub fn handle_backend(&mut self, caps: Capabilities) {
        self.drift.set_capabilities(caps.clone());
        self.caps = caps;
        self.reports = Reports::new();
        self.read_lead = ReadLead::new();
        self.reports.handle_rate(0.0, self.stats.rate);
    }

    /// How the element's position reads, as measured (see
    /// [`crate::backend::ReadSteps`]); ignored for a reporting backend.
    pub fn handle_position_reads(&mut self, reads: PositionReads) {
        if self.caps.reported() || matches!(reads, PositionReads::Reported { .. }) || self.caps.position == reads {
            return;
        }
        self.caps.position = reads;
        self.drift.set_position_reads(reads);
    }

    /// A backend with [`PositionReads::Reported`] reported its position
    /// (arrived at `now`), and whether it was playing.
    pub fn handle_position_report(&mut self, now: Millis, position: f64, playing: bool) {
        self.reports.handle_report(now, position, playing);
    }

    /// A play the shell was told to make was dropped (the room paused
    /// while it awaited the AudioContext): no play of ours is on its way.
    pub fn handle_play_dropped(&mut self) {
        self.our_play_until = None;
    }

    /// The backend's position now: read, or estimated from its reports.
    pub fn position(&self, now: Millis, obs: &MediaObservation) -> f64 {
        match self.caps.position {
            // Where `currentTime` was found ahead of the picture (WebKitGTK
            // through WebAudio), the picture (see `read_lead`).
            PositionReads::Exact => self.read_lead.position(obs.current_time, obs.picture, obs.moving()),
            // Playing, the picture where there is one: unbiased, its frames'
            // display-time jitter (±12 ms in Firefox, measured by `bench
            // sync`) fitted away to the error the shell measures, which is
            // the dead band (see `enforce`); otherwise a reading,
            // half a step behind on average.
            PositionReads::Stepped { step_ms } if obs.moving() => obs.picture.unwrap_or_else(|| match self.read_lead.lead() {
                Some(lead) => obs.current_time - lead,
                None => obs.current_time + step_ms / 2.0 / 1000.0 * self.drift.rate(),
            }),
            PositionReads::Stepped { .. } => self.read_lead.position(obs.current_time, None, false),
            PositionReads::Reported { .. } => self.reports.estimate(now).unwrap_or(obs.current_time),
        }
    }

    /// The server time at local time `now`, if known.
    pub fn server_now(&self, now: Millis) -> Option<Millis> {
        self.clock.offset_at(now).or(self.welcome_offset).map(|o| now + o)
    }

    /// The local time at server time `t`, if known.
    fn local_at(&self, t: Millis, now: Millis) -> Option<Millis> {
        self.clock.offset_at(now).or(self.welcome_offset).map(|o| t - o)
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
            ServerMsg::Welcome { member, role, resume, server_time, room } => {
                self.member = Some(member);
                self.resume = Some(resume);
                self.welcome_offset = Some(server_time - now);
                let old_source = self.room.as_ref().and_then(|r| r.source.clone());
                if room.source != old_source {
                    if let Some(s) = &room.source {
                        self.load(s.playable().to_string());
                        self.reported_duration = false;
                        self.event(ClientEvent::Source { source: s.clone(), by: None });
                    }
                }
                self.room = Some(RoomView { seq: room.seq, source_seq: room.source_seq, source: room.source, playback: room.playback });
                self.welcome_role = Some(role);
                self.mode = room.mode;
                self.has_password = room.has_password;
                self.event(ClientEvent::Joined { member, role });
                self.members = room.members;
                self.event(ClientEvent::Members(self.members.clone()));
                self.queue = room.queue;
                self.event(ClientEvent::Queue(self.queue.clone()));
                self.event(ClientEvent::Bans(room.bans));
                self.event(ClientEvent::Settings { mode: room.mode, has_password: room.has_password });
                self.event(ClientEvent::Subtitles { subtitles: room.subtitles, delay_ms: room.subtitle_delay_ms, language: room.subtitle_language });
                for line in room.chat {
                    self.event(ClientEvent::Chat(line));
                }
                // A room waiting for a buffering member still means to play:
                // the newcomer hears the wait as those who were there did.
                let reason = room.waiting.then_some(Reason::Buffering);
                self.event(ClientEvent::State { playback: room.playback, seq: room.seq, by: None, reason });
                self.next_tick = Some(now);
                self.next_status = Some(now);
                self.drift.reset();
                self.enforce(now, obs);
            }
            ServerMsg::Pong { t0, t1, t2 } => {
                self.clock.handle_room_pong(t0, t1, t2, now);
            }
            ServerMsg::State { seq, playback, cause, reason } => {
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
                self.event(ClientEvent::State { playback, seq, by: cause.map(|c| c.member), reason });
                self.enforce(now, obs);
            }
            ServerMsg::Source { seq, source, playback, cause } => {
                let Some(room) = self.room.as_mut() else { return };
                if seq <= room.seq {
                    return;
                }
                room.seq = seq;
                room.source_seq = seq;
                room.source = Some(source.clone());
                room.playback = playback;
                if let (Some(c), Some((id, _))) = (cause, self.pending) {
                    if Some(c.member) == self.member && c.command_id >= id {
                        self.pending = None;
                    }
                }
                self.reported_duration = false;
                self.drift.reset();
                self.load(source.playable().to_string());
                let by = cause.map(|c| c.member);
                self.event(ClientEvent::Source { source, by });
                self.event(ClientEvent::State { playback, seq, by, reason: None });
                self.enforce(now, obs);
            }
            ServerMsg::Member { member } => {
                match self.members.iter_mut().find(|m| m.id == member.id) {
                    Some(m) => *m = member,
                    None => self.members.push(member),
                }
                self.event(ClientEvent::Members(self.members.clone()));
            }
            ServerMsg::Members { members, left } => {
                for member in members {
                    match self.members.iter_mut().find(|m| m.id == member.id) {
                        Some(m) => *m = member,
                        None => self.members.push(member),
                    }
                }
                self.members.retain(|m| !left.contains(&m.id));
                self.event(ClientEvent::Members(self.members.clone()));
            }
            ServerMsg::MemberLeft { id } => {
                self.members.retain(|m| m.id != id);
                self.event(ClientEvent::Members(self.members.clone()));
            }
            ServerMsg::Queue { items, .. } => {
                self.queue = items;
                self.event(ClientEvent::Queue(self.queue.clone()));
            }
            ServerMsg::QueueAdded { item, at, .. } => {
                self.queue.retain(|q| q.id != item.id);
                let at = at.min(self.queue.len());
                self.queue.insert(at, item);
                self.event(ClientEvent::Queue(self.queue.clone()));
            }
            ServerMsg::QueueRemoved { id, .. } => {
                self.queue.retain(|q| q.id != id);
                self.event(ClientEvent::Queue(self.queue.clone()));
            }
            ServerMsg::QueueMoved { id, to, .. } => {
                if let Some(i) = self.queue.iter().position(|q| q.id == id) {
                    let item = self.queue.remove(i);
                    let to = to.min(self.queue.len());
                    self.queue.insert(to, item);
                }
                self.event(ClientEvent::Queue(self.queue.clone()));
            }
            ServerMsg::Bans { bans } => self.event(ClientEvent::Bans(bans)),
            ServerMsg::Settings { mode, has_password, .. } => {
                self.mode = mode;
                self.has_password = has_password;
                self.event(ClientEvent::Settings { mode, has_password });
            }
            ServerMsg::Subtitles { subtitles, delay_ms, language, .. } => self.event(ClientEvent::Subtitles { subtitles, delay_ms, language }),
            ServerMsg::Chat { line } => self.event(ClientEvent::Chat(line)),
            ServerMsg::Error { code, message, command_id } => {
                let ours = command_id.is_some() && command_id == self.pending.map(|p| p.0);
                if ours {
                    self.pending = None;
                    // Put the element back where the room is.
                    self.event(ClientEvent::Reverted { message: message.clone() });
                    self.enforce(now, obs);
                }
                self.event(ClientEvent::Error { code, message });
            }
        }
    }

    /// A command from the page (controls, chat box, host tools).
    pub fn handle_user_command(&mut self, now: Millis, command: Command) {
        if !self.connected || self.member.is_none() {
            self.event(ClientEvent::Error { code: ErrorCode::NotJoined, message: "not connected to the room".into() });
            return;
        }
        let id = self.next_command;
        self.next_command += 1;
        if matches!(command, Command::Play { .. } | Command::Pause { .. } | Command::Seek { .. } | Command::SetRate { .. }) {
            self.pending = Some((id, now));
        }
        self.out.push_back(ClientOutput::Send(ClientMsg::Command { id, command }));
    }

    /// The page leaves the room for good: say so (the room removes us at
    /// once instead of keeping our place for the reconnect grace) and forget
    /// the resume token. Only the goodbye is left to send.
    pub fn handle_leave(&mut self, now: Millis) {
        self.out.clear();
        if self.connected && self.member.is_some() {
            self.out.push_back(ClientOutput::Send(ClientMsg::Leave));
        }
        self.resume = None;
        self.handle_disconnected(now);
    }

    /// A chat line from the page.
    pub fn handle_chat(&mut self, text: String) {
        if self.connected {
            self.out.push_back(ClientOutput::Send(ClientMsg::Chat { text }));
        }
    }

    /// An event from the media element.
    pub fn handle_media_event(&mut self, now: Millis, event: MediaEvent, obs: &MediaObservation) {
        let Some(room) = &self.room else { return };
        let Some(server_now) = self.server_now(now) else { return };
        let pb = room.playback;
        let command = match event {
            MediaEvent::Play => {
                // Ours, landing late (the room paused meanwhile): not the
                // viewer's; the next enforcement pauses it again.
                let ours = self.our_play_until.take().is_some_and(|t| now <= t);
                // The engine's, right after a pause of ours: WebKitGTK,
                // paused by us while a seek was under way or about to be,
                // fired `play` 2–104 ms later with no play() called and
                // played on for a moment (in 5 of 84 runs of the sync test
                // on busy cores, 2026-12-06). Read as the viewer's, it started
                // the whole room again. The room's pause is enforced again.
                // (A viewer's own play within that second is lost: pressed
                // again, it counts.)
                let engine = !ours && self.paused_by_us_at.is_some_and(|t| now - t <= ENGINE_PLAY_MS);
                if engine && !pb.playing {
                    self.enforce(now, obs);
                    return;
                }
                (!pb.playing && !ours).then(|| Command::Play { position: Some(self.position(now, obs)) })
            }
            MediaEvent::Pause => {
                // (A play of ours still on its way was aborted by it.)
                self.our_play_until = None;
                let ours = self.our_pause_until.is_some_and(|t| now <= t);
                self.our_pause_until = None;
                let armed = pb.playing && server_now < pb.t_ref;
                (pb.playing && !ours && !armed && !obs.ended).then_some(Command::Pause { position: Some(self.position(now, obs)) })
            }
            MediaEvent::Seeked => {
                // WebKitGTK through WebAudio reads its seek's target at
                // `seeked`, or in some landings the target plus the lead it
                // had (its picture on the target: 2026-12-05). That one
                // keeps its lead, and is judged as landing on the target.
                let led = self.read_lead.lead().filter(|l| *l > read_lead::LEAP_S).filter(|l| {
                    self.drift.seek_in_flight().is_some_and(|t| (obs.current_time - t).abs() > SEEKED_OFF_S && (obs.current_time - l - t).abs() <= SEEKED_OFF_S)
                });
                if led.is_none() {
                    self.read_lead.handle_seeked();
                }
                if self.drift.handle_seeked(now, obs.current_time - led.unwrap_or(0.0)) {
                    self.enforce(now, obs); // our seek landed: act on it at once
                    None
                } else {
                    let expected = pb.position_at(server_now);
                    ((obs.current_time - expected).abs() > self.cfg.seek_echo_tolerance).then_some(Command::Seek { position: obs.current_time })
                }
            }
        };
        if let Some(command) = command {
            self.handle_user_command(now, command);
        }
    }

    /// Timers: call at [`Self::poll_timeout`] with a fresh observation.
    pub fn handle_timeout(&mut self, now: Millis, obs: &MediaObservation) {
        self.drain_probes(now);
        if let Some(pb) = self.room.as_ref().map(|r| r.playback) {
            if let Decision::SetRate(r) = self.drift.handle_timeout(now, pb.rate) {
                self.set_rate(now, r);
            }
        }
        if self.start_at.is_some_and(|t| now >= t) || self.next_tick.is_some_and(|t| now >= t) {
            if self.next_tick.is_some_and(|t| now >= t) {
                self.next_tick = Some(now + self.cfg.tick_ms * self.rng.range(0.8, 1.2));
                self.event(ClientEvent::Stats(self.stats));
            }
            self.enforce(now, obs);
        }
        self.track_buffering(now, obs);
        if self.next_status.is_some_and(|t| now >= t) {
            self.send_status(now, obs);
        }
    }

    fn send_status(&mut self, now: Millis, obs: &MediaObservation) {
        self.next_status = Some(now + self.cfg.status_ms);
        let duration = obs.duration.filter(|d| d.is_finite() && *d > 0.0);
        if duration.is_some() {
            self.reported_duration = true;
        }
        let msg = ClientMsg::Status {
            seek_ms: Some(self.drift.seek_landing_ms().round()),
            buffering: self.reported_buffering,
            drift_ms: self.stats.drift_ms.map(|d| (d * 10.0).round() / 10.0),
            rtt_ms: self.stats.rtt_ms.map(|d| (d * 10.0).round() / 10.0),
            duration,
            hold: self.hold,
            source_seq: self.room.as_ref().map(|r| r.source_seq),
        };
        self.out.push_back(ClientOutput::Send(msg));
    }

    /// Report buffering once it lasted `buffering_report_ms`; report
    /// recovery at once.
    fn track_buffering(&mut self, now: Millis, obs: &MediaObservation) {
        if self.member.is_none() {
            return;
        }
        if obs.seeking {
            return; // readiness is unknown mid-seek: keep what was reported
        }
        let should_play = self.room.as_ref().is_some_and(|r| r.playback.playing);
        let buffering = obs.buffering && (should_play || self.reported_buffering);
        if buffering {
            let since = *self.buffering_since.get_or_insert(now);
            if !self.reported_buffering && now - since >= self.cfg.buffering_report_ms {
                self.reported_buffering = true;
                self.send_status(now, obs);
            }
        } else {
            self.buffering_since = None;
            if self.reported_buffering {
                self.reported_buffering = false;
                self.send_status(now, obs);
            }
        }
        if !self.reported_duration && obs.duration.is_some_and(|d| d.is_finite() && d > 0.0) {
            self.send_status(now, obs);
        }
    }

    fn drain_probes(&mut self, now: Millis) {
        while let Some(t0) = self.clock.poll_room_probe(now) {
            self.out.push_back(ClientOutput::Send(ClientMsg::Ping { t0 }));
        }
        while let Some(t0) = self.clock.poll_edge_probe(now) {
            self.out.push_back(ClientOutput::EdgeProbe { t0 });
        }
    }

    /// The edge time endpoint's answer to the probe sent at `t0`: its
    /// clock when the request arrived (`t1`) and when the answer left (`t2`).
    pub fn handle_edge_reply(&mut self, now: Millis, t0: Millis, t1: Millis, t2: Millis) {
        self.clock.handle_edge_reply(t0, t1, t2, now);
    }

    /// An edge probe got no usable answer (the shell gave up on it).
    pub fn handle_edge_failed(&mut self, now: Millis) {
        self.clock.handle_edge_failed(now);
        self.drain_probes(now);
    }

    /// Bring the element in line with the room.
    fn enforce(&mut self, now: Millis, obs: &MediaObservation) {
        let estimate = self.clock.estimate_at(now);
        self.stats.offset_ms = estimate.map(|e| e.offset).or(self.welcome_offset);
        self.stats.offset_error_ms = estimate.map(|e| e.error);
        self.stats.edge_clock = estimate.map_or(EdgeState::Off, |e| e.edge);
        let edge = self.clock.edge_minus_room_at(now);
        self.stats.edge_minus_room_ms = edge.map(|e| e.0);
        self.stats.edge_minus_room_error_ms = edge.map(|e| e.1);
        self.stats.edge_rtt_ms = self.clock.edge_rtt();
        self.stats.rtt_ms = self.clock.rtt();
        self.stats.skew_ppm = self.clock.skew_ppm();
        self.stats.seek_landing_ms = self.drift.seek_landing_ms();
        self.stats.nudge_cost_ms = self.drift.nudge_cost_ms();
        self.stats.correcting = self.drift.enabled();
        self.stats.rate_applies = self.drift.rate_applies();
        self.stats.read_step_ms = match self.caps.position {
            PositionReads::Stepped { step_ms } => Some(step_ms),
            _ => None,
        };
        if !self.caps.reported() && obs.moving() {
            if obs.shows_frames {
                self.read_lead.handle_shows_frames();
            }
            self.read_lead.handle_tick(now, obs.current_time, self.drift.rate(), obs.picture);
            // `currentTime` a leap ahead of the picture, seen against a
            // fresh frame (WebKitGTK through WebAudio): a rate change there
            // makes the picture jump to it (~1 s, measured 2026-12-05), so
            // the drift is corrected by seeks.
            if self.read_lead.leaps() {
                self.drift.handle_rate_jumps();
            }
        } else {
            self.read_lead.handle_discontinuity();
        }
        self.stats.read_lead_ms = self.read_lead.lead_ms();
        self.stats.reads_picture = (self.stats.read_step_ms.is_some() || self.stats.read_lead_ms.is_some()) && obs.picture.is_some();
        self.stats.speed_trim = self.drift.trim();
        self.start_at = None;
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
            self.check_stuck_seek(now, pb, server_now);
            return;
        }
        self.seeking_since = None;
        self.stuck_seeks = 0;
        let actual = self.position(now, obs);
        match self.caps.position {
            PositionReads::Reported { read_error_ms } => {
                self.drift.set_read_error(self.reports.read_error_ms(read_error_ms).map(|ms| ms / 1000.0));
            }
            // Read from the picture: as far off as the shell's fit of its
            // frames measured (Firefox: ~3 ms where one frame is ±17), else
            // the step's nominal error.
            PositionReads::Stepped { .. } => self.drift.set_read_error(obs.picture.and(obs.picture_error).filter(|_| obs.moving())),
            PositionReads::Exact => {}
        }
        // No nudge while `currentTime` is found a leap ahead of the picture,
        // before fresh frames have confirmed it too (once they have, rates
        // are off: see `read_lead`): in WebKitGTK the nudge, and the return
        // to 1× after it, made the picture jump ~1 s (a page read 0.9 s
        // ahead for a second, 2026-12-05). A nudge already under way runs
        // its course.
        let leap_ahead = self.read_lead.lead().is_some_and(|l| l > read_lead::LEAP_S);
        let rate_control = self.cfg.rate_control && self.caps.has_rate() && !leap_ahead;
        self.stats.drift_ms = Some((actual - expected) * 1000.0);
        if !pb.playing || server_now < pb.t_ref {
            // Paused, or armed for a scheduled start: hold still at the position.
            if !obs.paused {
                self.our_pause_until = Some(now + 1_000.0);
                self.paused_by_us_at = Some(now);
                self.media(MediaAction::Pause);
            }
            // (`currentTime` too: a paused WebKitGTK element may hold the
            // lead it had while playing, ~1 s, or drop it; read less its
            // lead it seemed in place while it said 1 s ahead, 2026-12-06.
            // Seeked, a paused element reads, shows and resumes from one
            // place. Once per pause: some of its seeks land reading the
            // target plus the lead, and are kept as landing on the target.)
            let held_lead = !self.lead_seeked && self.read_lead.lead().is_some() && (obs.current_time - pb.position).abs() > 0.002;
            if (actual - pb.position).abs() > 0.002 || held_lead {
                self.lead_seeked |= held_lead;
                self.seek(now, pb.position);
            }
            if let Decision::SetRate(r) = self.drift.decide(now, DriftInput { expected, actual, room_rate: pb.rate, state: PlayerState::Paused, rate_control })
            {
                self.set_rate(now, r);
            }
            if pb.playing {
                self.start_at = self.local_at(pb.t_ref, now);
            }
            return;
        }
        if obs.ended {
            return;
        }
        self.lead_seeked = false;
        if obs.paused {
            // Start from the right place, then play. A paused element's seek is
            // invisible, so even a small lateness is seeked (ahead by the
            // landing time) rather than nudged away later.
            if (actual - expected).abs() > 0.03 {
                let target = self.drift.seek_target(expected, pb.rate);
                self.seek(now, target);
            }
            self.our_play_until = Some(now + 3_000.0);
            self.media(MediaAction::Play);
            return;
        }
        let state = if obs.buffering { PlayerState::Buffering } else { PlayerState::Playing };
        let input = DriftInput { expected, actual, room_rate: pb.rate, state, rate_control };
        match self.drift.decide(now, input) {
            Decision::Seek(to) => {
                self.stats.seek_corrections += 1;
                self.reports.handle_discontinuity();
                self.media(MediaAction::Seek(to));
                self.set_rate(now, pb.rate);
            }
            Decision::SetRate(r) => {
                if (r - pb.rate).abs() > 1e-12 && (self.stats.rate - pb.rate).abs() < 1e-12 {
                    self.stats.rate_corrections += 1;
                }
                self.set_rate(now, r);
            }
            Decision::Nothing => {}
        }
    }

    /// A seek that never ends (WebKitGTK, in a page whose autoplay was
    /// refused: `seeking` at HAVE_METADATA for 17 s and on, 2026-12-05)
    /// would hold the element where it stands while the room plays on: no
    /// correction is made mid-seek. After [`STUCK_SEEK_MS`] it is seeked
    /// again, to where the room is now, at most [`MAX_STUCK_SEEKS`] times
    /// until a seek ends. The seek is ours: its `seeked` is not the viewer's.
    /// Each retry waits twice as long as the one before (5, 10, 20 s): a
    /// seek slow on a slow network is re-aimed rarely. Elements only: an
    /// embed's player has its own give-up (YouTube's).
    fn check_stuck_seek(&mut self, now: Millis, pb: Playback, server_now: f64) {
        if self.caps.reported() {
            return;
        }
        let since = *self.seeking_since.get_or_insert(now);
        let wait = STUCK_SEEK_MS * f64::from(1u32 << self.stuck_seeks.min(8));
        if now - since < wait || self.stuck_seeks >= MAX_STUCK_SEEKS {
            return;
        }
        self.stuck_seeks += 1;
        let target = if pb.playing && server_now >= pb.t_ref { self.drift.seek_target(pb.position_at(server_now), pb.rate) } else { pb.position };
        self.seek(now, target);
    }

    /// The element paused by itself, not by the viewer (the shell knows:
    /// WebKitGTK pausing an element it unmuted against autoplay rules):
    /// no command, and what we were waiting to see of our own is forgotten.
    pub fn handle_engine_pause(&mut self) {
        self.our_pause_until = None;
        self.our_play_until = None;
    }

    fn seek(&mut self, now: Millis, to: f64) {
        self.seeking_since = Some(now); // (a seek of ours under way is given its full time)
        self.drift.handle_seek_issued(now, to);
        self.reports.handle_discontinuity();
        self.media(MediaAction::Seek(to));
    }

    /// A new source: loading resets the element's rate to 1× (HTML's load
    /// algorithm), so the room's rate is set again from there.
    fn load(&mut self, url: String) {
        self.media(MediaAction::Load(url));
        self.stats.rate = 1.0;
        self.drift.handle_element_reset();
        self.reports = Reports::new();
        self.read_lead = ReadLead::new();
    }

    fn set_rate(&mut self, now: Millis, rate: f64) {
        let room_rate = self.room.as_ref().map_or(1.0, |r| r.playback.rate);
        let preserve_pitch = self.drift.keeps_pitch(room_rate);
        if (rate - self.stats.rate).abs() > 1e-12 || preserve_pitch != self.preserve_pitch {
            self.stats.rate = rate;
            self.preserve_pitch = preserve_pitch;
            self.reports.handle_rate(now, rate);
            self.media(MediaAction::SetRate { rate, preserve_pitch });
        }
    }

    fn media(&mut self, a: MediaAction) {
        if matches!(a, MediaAction::Seek(_) | MediaAction::Load(_) | MediaAction::SetRate { .. }) {
            self.read_lead.handle_discontinuity(); // (the element jumps, or its pace changes, by our hand)
        }
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
        let buffering = self.buffering_since.map(|t| t + self.cfg.buffering_report_ms);
        [self.clock.poll_timeout(), self.next_tick, self.next_status, self.start_at, self.drift.poll_timeout(), buffering]
            .into_iter()
            .flatten()
            .min_by(|a, b| a.total_cmp(b))
    }

    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Server minus local time at local `now`, as estimated.
    pub fn clock_offset_at(&self, now: Millis) -> Option<Millis> {
        self.clock.offset_at(now)
    }

    /// A rate nudge is in progress.
    pub fn nudging(&self) -> bool {
        self.drift.nudging()
    }

    pub fn playback(&self) -> Option<Playback> {
        self.room.as_ref().map(|r| r.playback)
    }

    /// The room's source: what the last [`MediaAction::Load`] loads (its
    /// [`SourceInfo::playable`] URL), so a shell can see whether the room
    /// gave a `play_url` for it.
    pub fn source(&self) -> Option<&SourceInfo> {
        self.room.as_ref().and_then(|r| r.source.as_ref())
    }
}

#[cfg(test)]
mod embed_tests;
mod read_lead;
#[cfg(test)]
mod tests;
