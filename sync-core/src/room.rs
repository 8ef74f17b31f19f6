//! The server-side room state machine.
//!
//! The Durable Object owns one [`Room`]: it hands in socket events and
//! timeouts with `now` (server milliseconds) and drains [`RoomOutput`]s to
//! send, broadcast, persist, close sockets and set its alarm (from
//! [`Room::poll_timeout`]). The room never trusts a client's idea of the
//! state: clients send commands; every change is made here, checked against
//! roles and the permission mode, numbered with `seq` and broadcast.
//!
//! Connections and members are different things: a socket is a connection
//! ([`ConnId`]) from the moment it is accepted; it becomes a member with
//! `hello`. A member whose socket drops is `away` for a grace period and
//! gets its identity and role back by presenting its resume token.

use std::collections::{BTreeMap, VecDeque};

use serde::{Deserialize, Serialize};

use crate::protocol::{
    Cause, ChatLine, ClientMsg, Command, ErrorCode, MemberId, MemberInfo, MemberStatus, PermissionMode, QueueItem, Reason, Role, RoomSnapshot, ServerMsg,
    SourceInfo,
};
use crate::secret::{constant_time_eq, token_from_entropy, token_hash, PasswordHash};
use crate::timeline::Playback;
use crate::Millis;

/// A socket, numbered by the room.
pub type ConnId = u64;

#[derive(Clone, Debug)]
pub struct RoomConfig {
    pub max_name_chars: usize,
    pub max_title_chars: usize,
    pub max_url_chars: usize,
    pub max_chat_chars: usize,
    pub chat_history: usize,
    pub max_queue: usize,
    pub max_members: usize,
    /// How long a disconnected member keeps its identity.
    pub grace_ms: Millis,
    /// How long the group waits for a buffering member.
    pub buffer_wait_ms: Millis,
    /// Scheduled starts begin this far ahead: max(2 × highest RTT, min) capped at max.
    pub start_lead_min_ms: Millis,
    pub start_lead_max_ms: Millis,
    /// Least time allowed for seeks to land before a scheduled start after a seek.
    pub seek_allowance_ms: Millis,
    /// An empty room is deleted after this long.
    pub idle_expiry_ms: Millis,
    /// Member list refreshes for drift/RTT changes at most this often.
    pub members_refresh_ms: Millis,
    /// Above this many members, drift/RTT changes are not broadcast (it is
    /// O(n²) traffic); status and role changes always are.
    pub live_stats_max_members: usize,
    /// Token bucket per connection: messages per second and burst.
    pub rate_per_sec: f64,
    pub rate_burst: f64,
    /// Close with 1008 after this many refused messages in a row.
    pub abuse_limit: u32,
    /// The shell's check of an absolute source URL (e.g. the media proxy's
    /// SSRF guard): a source it refuses is refused with its reason, so no
    /// member's browser is sent to a loopback, private or link-local address.
    pub source_guard: Option<SourceGuard>,
}

/// See [`RoomConfig::source_guard`]: `Err` carries the reason.
pub type SourceGuard = fn(&str) -> Result<(), String>;

impl Default for RoomConfig {
    fn default() -> Self {
        RoomConfig {
            max_name_chars: 40,
            max_title_chars: 200,
            max_url_chars: 2048,
            max_chat_chars: 500,
            chat_history: 50,
            max_queue: 100,
            max_members: 1000,
            grace_ms: 30_000.0,
            buffer_wait_ms: 10_000.0,
            start_lead_min_ms: 300.0,
            start_lead_max_ms: 2_000.0,
            seek_allowance_ms: 300.0,
            idle_expiry_ms: 24.0 * 3600.0 * 1000.0,
            members_refresh_ms: 2_000.0,
            live_stats_max_members: 50,
            rate_per_sec: 20.0,
            rate_burst: 40.0,
            abuse_limit: 40,
            source_guard: None,
        }
    }
}

/// How a room is created.
#[derive(Clone, Debug, Default)]
pub struct CreateOptions {
    pub name: Option<String>,
    pub source: Option<SourceInfo>,
    pub mode: PermissionMode,
    /// Password and a random salt for it.
    pub password: Option<(String, [u8; 16])>,
    /// The host token handed to the creator (only its hash is kept).
    pub host_token: Option<String>,
}

/// A member as stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StoredMember {
    pub id: MemberId,
    pub name: String,
    pub role: Role,
    pub joined_at: Millis,
    pub resume_hash: String,
    pub status: MemberStatus,
    /// Set while away: when the identity is given up.
    #[serde(default)]
    pub away_until: Option<Millis>,
    /// false: this member does not make the group wait.
    pub hold: bool,
}

/// The group waiting for buffering members.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Hold {
    pub deadline: Millis,
}

/// What the room keeps in storage.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PersistedRoom {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub source: Option<SourceInfo>,
    #[serde(default)]
    pub source_duration: Option<f64>,
    #[serde(default)]
    pub playback: Playback,
    #[serde(default)]
    pub seq: u64,
    #[serde(default)]
    pub next_member: MemberId,
    #[serde(default)]
    pub next_conn: ConnId,
    #[serde(default)]
    pub next_item: u64,
    #[serde(default)]
    pub next_chat: u64,
    #[serde(default)]
    pub mode: PermissionMode,
    #[serde(default)]
    pub password: Option<PasswordHash>,
    #[serde(default)]
    pub host_token_hash: Option<String>,
    #[serde(default)]
    pub members: Vec<StoredMember>,
    #[serde(default)]
    pub queue: Vec<QueueItem>,
    #[serde(default)]
    pub chat: VecDeque<ChatLine>,
    #[serde(default)]
    pub hold: Option<Hold>,
    #[serde(default)]
    pub empty_since: Option<Millis>,
}

/// What a socket carries across hibernation (its attachment).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct SocketTag {
    pub conn: ConnId,
    #[serde(default)]
    pub member: Option<MemberId>,
}

/// Work for the shell.
#[derive(Clone, Debug, PartialEq)]
pub enum RoomOutput {
    /// Send to one connection.
    Send { to: ConnId, msg: ServerMsg },
    /// Send to every connection of a member.
    Broadcast { msg: ServerMsg },
    /// Write this to storage before anything that follows is sent.
    Persist(Box<PersistedRoom>),
    /// Store this on the connection's socket (survives hibernation).
    Attach(SocketTag),
    /// Close the connection.
    Close { conn: ConnId, code: u16, reason: String },
    /// The room is empty and expired: delete it.
    Expire,
    /// A structured log line.
    Log { event: &'static str, member: Option<MemberId>, detail: String },
}

#[derive(Clone, Debug)]
struct Conn {
    member: Option<MemberId>,
    /// Resume token offered to this connection if it joins as a new member.
    fresh_token: String,
    tokens: f64,
    refilled: Millis,
    refused_in_a_row: u32,
}

/// Public facts about a room (for `GET /api/rooms/:id`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RoomInfo {
    pub name: Option<String>,
    pub members: usize,
    pub source: Option<SourceInfo>,
    pub playing: bool,
    pub has_password: bool,
    pub mode: PermissionMode,
}

#[derive(Clone, Copy, Debug, Default)]
struct Live {
    drift_ms: Option<f64>,
    rtt_ms: Option<f64>,
    seek_ms: Option<f64>,
}

pub struct Room {
    cfg: RoomConfig,
    state: PersistedRoom,
    conns: BTreeMap<ConnId, Conn>,
    live: BTreeMap<MemberId, Live>,
    members_dirty_at: Option<Millis>,
    /// Members whose drift/RTT changed since the last refresh.
    dirty_members: std::collections::BTreeSet<MemberId>,
    out: VecDeque<RoomOutput>,
}

type CmdResult = Result<(), (ErrorCode, String)>;

fn refuse<T>(code: ErrorCode, msg: impl Into<String>) -> Result<T, (ErrorCode, String)> {
    Err((code, msg.into()))
}

impl Room {
    /// A new room.
    pub fn create(cfg: RoomConfig, now: Millis, opts: CreateOptions) -> Self {
        let name = opts.name.map(|n| clean_text(&n, cfg.max_title_chars)).filter(|n| !n.is_empty());
        let state = PersistedRoom {
            name,
            source: opts.source,
            playback: Playback { t_ref: now, ..Playback::default() },
            seq: 1,
            mode: opts.mode,
            password: opts.password.map(|(p, salt)| PasswordHash::new(&p, &salt)),
            host_token_hash: opts.host_token.map(|t| token_hash(&t)),
            empty_since: Some(now),
            ..PersistedRoom::default()
        };
        let mut room =
            Room { cfg, state, conns: BTreeMap::new(), live: BTreeMap::new(), members_dirty_at: None, dirty_members: Default::default(), out: VecDeque::new() };
        room.persist();
        room
    }

    /// A room as stored, with the sockets that are still open.
    pub fn restore(cfg: RoomConfig, state: PersistedRoom, sockets: impl IntoIterator<Item = SocketTag>) -> Self {
        let mut room =
            Room { cfg, state, conns: BTreeMap::new(), live: BTreeMap::new(), members_dirty_at: None, dirty_members: Default::default(), out: VecDeque::new() };
        for s in sockets {
            room.state.next_conn = room.state.next_conn.max(s.conn + 1);
            let member = s.member.filter(|m| room.state.members.iter().any(|x| x.id == *m));
            room.conns.insert(s.conn, Conn { member, fresh_token: String::new(), tokens: room.cfg.rate_burst, refilled: 0.0, refused_in_a_row: 0 });
        }
        room
    }

    pub fn state(&self) -> &PersistedRoom {
        &self.state
    }

    pub fn info(&self) -> RoomInfo {
        RoomInfo {
            name: self.state.name.clone(),
            members: self.state.members.iter().filter(|m| m.status != MemberStatus::Away).count(),
            source: self.state.source.clone(),
            playing: self.state.playback.playing,
            has_password: self.state.password.is_some(),
            mode: self.state.mode,
        }
    }

    /// Whether `password` opens this room (always true without a password).
    pub fn check_password(&self, password: Option<&str>) -> bool {
        match (&self.state.password, password) {
            (None, _) => true,
            (Some(h), Some(p)) => h.verify(p),
            (Some(_), None) => false,
        }
    }

    pub fn has_password(&self) -> bool {
        self.state.password.is_some()
    }

    /// Members present (not away).
    pub fn member_count(&self) -> usize {
        self.info().members
    }

    /// A socket was accepted. `entropy` makes the resume token it gets if it
    /// joins as a new member.
    pub fn handle_connect(&mut self, now: Millis, entropy: &[u8]) -> ConnId {
        let conn = self.state.next_conn;
        self.state.next_conn += 1;
        self.conns
            .insert(conn, Conn { member: None, fresh_token: token_from_entropy(entropy), tokens: self.cfg.rate_burst, refilled: now, refused_in_a_row: 0 });
        self.persist();
        self.out.push_back(RoomOutput::Attach(SocketTag { conn, member: None }));
        conn
    }

    /// A socket closed or failed.
    pub fn handle_disconnect(&mut self, now: Millis, conn: ConnId) {
        let Some(c) = self.conns.remove(&conn) else { return };
        let Some(member) = c.member else { return };
        if self.conns.values().any(|c| c.member == Some(member)) {
            return; // the member has another socket
        }
        if let Some(m) = self.state.members.iter_mut().find(|m| m.id == member) {
            m.status = MemberStatus::Away;
            m.away_until = Some(now + self.cfg.grace_ms);
        }
        self.log("leave", Some(member), format!("conn {conn}; grace {} ms", self.cfg.grace_ms));
        self.after_status_change(now);
        self.mark_empty(now);
        self.persist();
        self.member_changed(member);
    }

    /// A text frame from a connection.
    pub fn handle_text(&mut self, now: Millis, conn: ConnId, text: &str) {
        if !self.take_token(now, conn) {
            return;
        }
        match ClientMsg::decode(text) {
            Ok(msg) => self.handle_msg(now, conn, msg),
            Err(e) => self.refused(conn, e.code(), e.to_string(), None),
        }
    }

    /// A frame refused before decoding (too large, binary).
    pub fn handle_refused(&mut self, now: Millis, conn: ConnId, code: ErrorCode, message: String) {
        if self.take_token(now, conn) {
            self.refused(conn, code, message, None);
        }
    }

    /// Token bucket; false if the message must be dropped.
    fn take_token(&mut self, now: Millis, conn: ConnId) -> bool {
        let (rate, burst, limit) = (self.cfg.rate_per_sec, self.cfg.rate_burst, self.cfg.abuse_limit);
        let Some(c) = self.conns.get_mut(&conn) else { return false };
        c.tokens = (c.tokens + (now - c.refilled).max(0.0) / 1000.0 * rate).min(burst);
        c.refilled = now;
        if c.tokens >= 1.0 {
            c.tokens -= 1.0;
            return true;
        }
        c.refused_in_a_row += 1;
        let strikes = c.refused_in_a_row;
        let member = c.member;
        if strikes >= limit {
            self.log("abuse", member, format!("conn {conn} closed after {strikes} refused messages"));
            self.out.push_back(RoomOutput::Close { conn, code: 1008, reason: "too many messages".into() });
        } else if strikes == 1 {
            self.log("rate_limited", member, format!("conn {conn}"));
            self.out.push_back(RoomOutput::Send {
                to: conn,
                msg: ServerMsg::Error { code: ErrorCode::RateLimited, message: format!("more than {rate} messages per second"), command_id: None },
            });
        }
        false
    }

    fn refused(&mut self, conn: ConnId, code: ErrorCode, message: String, command_id: Option<u64>) {
        let member = self.conns.get(&conn).and_then(|c| c.member);
        self.log("refused", member, format!("conn {conn}: {code:?}: {message}"));
        self.out.push_back(RoomOutput::Send { to: conn, msg: ServerMsg::Error { code, message, command_id } });
    }

    fn handle_msg(&mut self, now: Millis, conn: ConnId, msg: ClientMsg) {
        if let Some(c) = self.conns.get_mut(&conn) {
            c.refused_in_a_row = 0;
        }
        let member = self.conns.get(&conn).and_then(|c| c.member);
        match (msg, member) {
            (ClientMsg::Ping { t0 }, _) => {
                // The server clock is read once per event: receive and send times are equal.
                self.out.push_back(RoomOutput::Send { to: conn, msg: ServerMsg::Pong { t0, t1: now, t2: now } });
            }
            (ClientMsg::Hello { name, password, resume, host_token }, None) => {
                if let Err((code, message)) = self.hello(now, conn, &name, password, resume, host_token) {
                    self.refused(conn, code, message, None);
                    if code == ErrorCode::WrongPassword {
                        self.out.push_back(RoomOutput::Close { conn, code: 4003, reason: "wrong password".into() });
                    }
                }
            }
            (ClientMsg::Hello { .. }, Some(_)) => self.refused(conn, ErrorCode::AlreadyJoined, "already joined".into(), None),
            (_, None) => self.refused(conn, ErrorCode::NotJoined, "say hello first".into(), None),
            (ClientMsg::Command { id, command }, Some(m)) => {
                if let Err((code, message)) = self.command(now, m, id, command) {
                    self.refused(conn, code, message, Some(id));
                }
            }
            (ClientMsg::Status { buffering, drift_ms, rtt_ms, duration, hold, seek_ms }, Some(m)) => {
                if let Some(ms) = seek_ms.filter(|v| v.is_finite() && *v >= 0.0) {
                    self.live.entry(m).or_default().seek_ms = Some(ms.min(5_000.0));
                }
                self.status(now, m, buffering, drift_ms, rtt_ms, duration, hold);
            }
            (ClientMsg::Leave, Some(m)) => self.leave(now, m),
            (ClientMsg::Chat { text }, Some(m)) => {
                let text = clean_text(&text, self.cfg.max_chat_chars);
                if text.is_empty() {
                    return self.refused(conn, ErrorCode::BadCommand, "empty chat line".into(), None);
                }
                let name = self.member(m).map(|x| x.name.clone()).unwrap_or_default();
                let line = ChatLine { id: self.state.next_chat, member: m, name, text, at: now };
                self.state.next_chat += 1;
                self.state.chat.push_back(line.clone());
                while self.state.chat.len() > self.cfg.chat_history {
                    self.state.chat.pop_front();
                }
                self.persist();
                self.out.push_back(RoomOutput::Broadcast { msg: ServerMsg::Chat { line } });
            }
        }
    }

    /// A member said goodbye: it is gone at once (its sockets are closed
    /// with 1000), and the host role moves on if it was the host.
    fn leave(&mut self, now: Millis, member: MemberId) {
        self.log("left", Some(member), "said goodbye".into());
        self.remove_member(now, member, None, (1000, "left"));
    }

    /// Take a member out of the room now: its sockets (if any) get
    /// `farewell` and are closed with `close`, the others hear
    /// `member_left`, and the host role moves on if it was the host.
    fn remove_member(&mut self, now: Millis, member: MemberId, farewell: Option<ServerMsg>, close: (u16, &str)) {
        self.state.members.retain(|m| m.id != member);
        self.live.remove(&member);
        self.dirty_members.remove(&member);
        let conns: Vec<ConnId> = self.conns.iter().filter(|(_, c)| c.member == Some(member)).map(|(id, _)| *id).collect();
        for conn in conns {
            if let Some(msg) = &farewell {
                self.out.push_back(RoomOutput::Send { to: conn, msg: msg.clone() });
            }
            self.out.push_back(RoomOutput::Close { conn, code: close.0, reason: close.1.into() });
            self.conns.remove(&conn);
        }
        self.out.push_back(RoomOutput::Broadcast { msg: ServerMsg::MemberLeft { id: member } });
        if let Some(new_host) = self.ensure_host() {
            self.member_changed(new_host);
        }
        self.after_status_change(now);
        self.mark_empty(now);
        self.persist();
    }

    fn hello(&mut self, now: Millis, conn: ConnId, name: &str, password: Option<String>, resume: Option<String>, host_token: Option<String>) -> CmdResult {
        if !self.check_password(password.as_deref()) {
            return refuse(ErrorCode::WrongPassword, if password.is_some() { "wrong password" } else { "this room needs a password" });
        }
        let fresh = self.conns.get(&conn).map(|c| c.fresh_token.clone()).unwrap_or_default();
        let resumed = resume.as_deref().map(token_hash).and_then(|h| self.state.members.iter().position(|m| constant_time_eq(&m.resume_hash, &h)));
        let claims_host = host_token.as_deref().zip(self.state.host_token_hash.as_deref()).is_some_and(|(t, h)| constant_time_eq(&token_hash(t), h));
        let (id, token) = match resumed {
            Some(i) => {
                let m = &mut self.state.members[i];
                m.status = MemberStatus::Ready;
                m.away_until = None;
                let clean = clean_text(name, self.cfg.max_name_chars);
                if !clean.is_empty() {
                    m.name = clean;
                }
                (m.id, resume.unwrap_or_default())
            }
            None => {
                if self.state.members.len() >= self.cfg.max_members {
                    return refuse(ErrorCode::Forbidden, "the room is full");
                }
                let id = self.state.next_member;
                self.state.next_member += 1;
                let clean = clean_text(name, self.cfg.max_name_chars);
                let name = if clean.is_empty() { format!("Guest {id}") } else { clean };
                let role = if self.state.members.iter().any(|m| m.role == Role::Host) { Role::Viewer } else { Role::Host };
                self.state.members.push(StoredMember {
                    id,
                    name,
                    role,
                    joined_at: now,
                    resume_hash: token_hash(&fresh),
                    status: MemberStatus::Ready,
                    away_until: None,
                    hold: true,
                });
                (id, fresh)
            }
        };
        let mut demoted = Vec::new();
        if claims_host {
            for m in self.state.members.iter_mut() {
                if m.role == Role::Host && m.id != id {
                    m.role = Role::Controller;
                    demoted.push(m.id);
                }
            }
            if let Some(m) = self.state.members.iter_mut().find(|m| m.id == id) {
                m.role = Role::Host;
            }
        }
        if let Some(c) = self.conns.get_mut(&conn) {
            c.member = Some(id);
        }
        self.state.empty_since = None;
        self.log(if resumed.is_some() { "rejoin" } else { "join" }, Some(id), format!("conn {conn}"));
        self.persist();
        self.out.push_back(RoomOutput::Attach(SocketTag { conn, member: Some(id) }));
        let role = self.member(id).map_or(Role::Viewer, |m| m.role);
        let room = self.snapshot();
        self.out.push_back(RoomOutput::Send { to: conn, msg: ServerMsg::Welcome { member: id, role, resume: token, server_time: now, room } });
        self.member_changed(id);
        for d in demoted {
            self.member_changed(d);
        }
        Ok(())
    }

    fn member(&self, id: MemberId) -> Option<&StoredMember> {
        self.state.members.iter().find(|m| m.id == id)
    }

    fn member_mut(&mut self, id: MemberId) -> Option<&mut StoredMember> {
        self.state.members.iter_mut().find(|m| m.id == id)
    }

    fn can_control(&self, id: MemberId) -> bool {
        self.state.mode == PermissionMode::Open || self.member(id).is_some_and(|m| m.role >= Role::Controller)
    }

    fn is_host(&self, id: MemberId) -> bool {
        self.member(id).is_some_and(|m| m.role == Role::Host)
    }

    /// How far ahead a scheduled start begins: max(2 × highest RTT, min), capped.
    pub fn start_lead(&self) -> Millis {
        let rtt = self.live.values().filter_map(|l| l.rtt_ms).fold(0.0, f64::max);
        (2.0 * rtt).max(self.cfg.start_lead_min_ms).min(self.cfg.start_lead_max_ms)
    }

    /// A start that needs everyone to seek first also waits for the slowest
    /// member's seeks to land (as they report it).
    pub fn seek_lead(&self) -> Millis {
        let seek = self.live.values().filter_map(|l| l.seek_ms).fold(self.cfg.seek_allowance_ms, f64::max).min(2_000.0);
        (self.start_lead() + seek).min(self.cfg.start_lead_max_ms + 2_000.0)
    }

    fn command(&mut self, now: Millis, member: MemberId, id: u64, command: Command) -> CmdResult {
        let cause = Some(Cause { member, command_id: id });
        let valid_pos = |p: f64| p.is_finite() && p >= 0.0;
        let host_only = matches!(
            command,
            Command::Kick { .. } | Command::TransferHost { .. } | Command::SetRole { .. } | Command::SetMode { .. } | Command::SetPassword { .. }
        );
        if host_only && !self.is_host(member) {
            return refuse(ErrorCode::Forbidden, "only the host can do that");
        }
        if !host_only && !self.can_control(member) {
            return refuse(ErrorCode::Forbidden, "only the host and controllers can control this room");
        }
        match command {
            Command::Play { position } | Command::Pause { position } if position.is_some_and(|p| !valid_pos(p)) => {
                refuse(ErrorCode::BadCommand, "position must be a finite number >= 0")
            }
            Command::Seek { position } if !valid_pos(position) => refuse(ErrorCode::BadCommand, "position must be a finite number >= 0"),
            Command::Play { position: None } if self.state.playback.playing => {
                // Already playing: acknowledge without touching the timeline.
                self.state_changed(cause, None);
                Ok(())
            }
            Command::Play { position } => {
                let pos = position.unwrap_or_else(|| self.state.playback.position_at(now));
                let lead = self.start_lead();
                self.state.playback.play(now + lead, Some(pos));
                self.state.hold = None;
                self.state_changed(cause, None);
                Ok(())
            }
            Command::Pause { position } => {
                self.state.playback.pause(now, position);
                self.state.hold = None;
                self.state_changed(cause, None);
                Ok(())
            }
            Command::Seek { position } => {
                if self.state.playback.playing {
                    let lead = self.seek_lead();
                    self.state.playback.play(now + lead, Some(position));
                } else {
                    self.state.playback.seek(now, position);
                }
                self.state_changed(cause, None);
                Ok(())
            }
            Command::SetRate { rate } => {
                if !(rate.is_finite() && (0.25..=4.0).contains(&rate)) {
                    return refuse(ErrorCode::BadCommand, "rate must be between 0.25 and 4");
                }
                let pos = self.state.playback.position_at(now);
                let playing = self.state.playback.playing;
                self.state.playback = Playback { playing, position: pos, rate, t_ref: now.max(self.state.playback.t_ref) };
                self.state_changed(cause, None);
                Ok(())
            }
            Command::SetSource { url, title } => {
                let source = self.check_source(url, title)?;
                self.set_source(now, source, cause, false);
                Ok(())
            }
            Command::QueueAdd { url, title } => {
                if self.state.queue.len() >= self.cfg.max_queue {
                    return refuse(ErrorCode::BadCommand, format!("the queue holds at most {} items", self.cfg.max_queue));
                }
                let source = self.check_source(url, title)?;
                let item = QueueItem { id: self.state.next_item, url: source.url, title: source.title, added_by: member };
                self.state.next_item += 1;
                self.state.queue.push(item);
                self.queue_changed(cause);
                Ok(())
            }
            Command::QueueRemove { item } => {
                let i = self.queue_index(item)?;
                self.state.queue.remove(i);
                self.queue_changed(cause);
                Ok(())
            }
            Command::QueueMove { item, to } => {
                let i = self.queue_index(item)?;
                let it = self.state.queue.remove(i);
                let to = to.min(self.state.queue.len());
                self.state.queue.insert(to, it);
                self.queue_changed(cause);
                Ok(())
            }
            Command::QueueNext => {
                if self.state.queue.is_empty() {
                    return refuse(ErrorCode::NoSuchItem, "the queue is empty");
                }
                self.advance(now, cause);
                Ok(())
            }
            Command::Kick { member: target } => {
                if target == member {
                    return refuse(ErrorCode::BadCommand, "you cannot kick yourself");
                }
                let Some(name) = self.member(target).map(|m| m.name.clone()) else {
                    return refuse(ErrorCode::NoSuchMember, "no such member");
                };
                self.log("kick", Some(target), format!("by {member} ({name})"));
                let farewell = ServerMsg::Error { code: ErrorCode::Kicked, message: "you were removed from the room".into(), command_id: None };
                self.remove_member(now, target, Some(farewell), (4001, "kicked"));
                Ok(())
            }
            Command::TransferHost { member: target } => {
                if self.member(target).is_none_or(|m| m.status == MemberStatus::Away) {
                    return refuse(ErrorCode::NoSuchMember, "no such member here");
                }
                if let Some(m) = self.member_mut(member) {
                    m.role = Role::Controller;
                }
                if let Some(m) = self.member_mut(target) {
                    m.role = Role::Host;
                }
                self.persist();
                self.member_changed(member);
                self.member_changed(target);
                Ok(())
            }
            Command::SetRole { member: target, role } => {
                if role == Role::Host {
                    return refuse(ErrorCode::BadCommand, "use transfer_host to hand over the host role");
                }
                if target == member {
                    return refuse(ErrorCode::BadCommand, "the host cannot change its own role; transfer host instead");
                }
                let Some(m) = self.member_mut(target) else { return refuse(ErrorCode::NoSuchMember, "no such member") };
                m.role = role;
                self.persist();
                self.member_changed(target);
                Ok(())
            }
            Command::SetMode { mode } => {
                self.state.mode = mode;
                self.settings_changed(cause);
                Ok(())
            }
            Command::SetPassword { password } => {
                // The salt must be random; the connection's fresh token entropy is.
                let salt =
                    self.conns.values().find(|c| c.member == Some(member)).map(|c| crate::secret::sha256_hex(c.fresh_token.as_bytes())).unwrap_or_default();
                self.state.password = password.filter(|p| !p.is_empty()).map(|p| PasswordHash::new(&p, salt.as_bytes()));
                self.settings_changed(cause);
                Ok(())
            }
        }
    }

    fn check_source(&self, url: String, title: Option<String>) -> Result<SourceInfo, (ErrorCode, String)> {
        let url = url.trim().to_string();
        let ok = url.len() <= self.cfg.max_url_chars
            && (url.starts_with("https://") || url.starts_with("http://") || (url.starts_with('/') && !url.starts_with("//")))
            && !url.chars().any(|c| c.is_control() || c.is_whitespace() || c == '\\');
        if !ok {
            return refuse(ErrorCode::BadCommand, "source must be an http(s) URL or a path on this server");
        }
        if let (Some(guard), false) = (self.cfg.source_guard, url.starts_with('/')) {
            if let Err(why) = guard(&url) {
                return Err((ErrorCode::BadCommand, format!("this source is not allowed: {why}")));
            }
        }
        let title = title.map(|t| clean_text(&t, self.cfg.max_title_chars)).filter(|t| !t.is_empty());
        Ok(SourceInfo::new(url, title))
    }

    fn queue_index(&self, item: u64) -> Result<usize, (ErrorCode, String)> {
        self.state.queue.iter().position(|q| q.id == item).ok_or((ErrorCode::NoSuchItem, "no such queue item".to_string()))
    }

    fn set_source(&mut self, now: Millis, source: SourceInfo, cause: Option<Cause>, autoplay: bool) {
        self.state.source = Some(source.clone());
        self.state.source_duration = None;
        self.state.hold = None;
        self.state.playback = if autoplay {
            Playback { playing: true, position: 0.0, rate: self.state.playback.rate, t_ref: now + self.start_lead() }
        } else {
            Playback { playing: false, position: 0.0, rate: self.state.playback.rate, t_ref: now }
        };
        self.state.seq += 1;
        self.persist();
        self.out.push_back(RoomOutput::Broadcast { msg: ServerMsg::Source { seq: self.state.seq, source, playback: self.state.playback, cause } });
    }

    /// Play the next queued item.
    fn advance(&mut self, now: Millis, cause: Option<Cause>) {
        if self.state.queue.is_empty() {
            return;
        }
        let item = self.state.queue.remove(0);
        self.set_source(now, SourceInfo::new(item.url, item.title), cause, true);
        self.queue_changed(cause);
    }

    #[allow(clippy::too_many_arguments)]
    fn status(&mut self, now: Millis, member: MemberId, buffering: bool, drift_ms: Option<f64>, rtt_ms: Option<f64>, duration: Option<f64>, hold: bool) {
        let live = self.live.entry(member).or_default();
        let finite = |v: Option<f64>| v.filter(|d| d.is_finite());
        if finite(drift_ms) != live.drift_ms || finite(rtt_ms) != live.rtt_ms {
            live.drift_ms = finite(drift_ms);
            live.rtt_ms = finite(rtt_ms).map(|r| r.max(0.0).min(60_000.0));
            if self.state.members.len() <= self.cfg.live_stats_max_members {
                self.dirty_members.insert(member);
                self.members_dirty_at.get_or_insert(now);
            }
        }
        if self.state.source_duration.is_none() {
            if let Some(d) = duration.filter(|d| d.is_finite() && *d > 0.0 && *d < 1.0e7) {
                self.state.source_duration = Some(d);
                self.persist();
            }
        }
        let new_status = if buffering { MemberStatus::Buffering } else { MemberStatus::Ready };
        let Some(m) = self.member_mut(member) else { return };
        let changed = m.status != new_status || m.hold != hold;
        m.status = new_status;
        m.hold = hold;
        if changed {
            self.after_status_change(now);
            self.persist();
            self.member_changed(member);
        }
    }

    /// Apply the buffering policy after a member's status changed.
    fn after_status_change(&mut self, now: Millis) {
        let waiting = self.state.members.iter().any(|m| m.hold && m.status == MemberStatus::Buffering);
        let pb = self.state.playback;
        if waiting && pb.playing && now >= pb.t_ref && self.state.hold.is_none() {
            self.state.playback.pause(now, None);
            self.state.hold = Some(Hold { deadline: now + self.cfg.buffer_wait_ms });
            self.log("hold", None, format!("group waits for buffering members at {:.3} s", self.state.playback.position));
            self.state_changed(None, Some(Reason::Buffering));
        } else if !waiting && self.state.hold.is_some() {
            self.resume(now);
        }
    }

    fn resume(&mut self, now: Millis) {
        self.state.hold = None;
        let lead = self.start_lead();
        let pos = self.state.playback.position;
        self.state.playback.play(now + lead, Some(pos));
        self.state_changed(None, Some(Reason::Resume));
    }

    fn state_changed(&mut self, cause: Option<Cause>, reason: Option<Reason>) {
        self.state.seq += 1;
        self.persist();
        self.out.push_back(RoomOutput::Broadcast { msg: ServerMsg::State { seq: self.state.seq, playback: self.state.playback, cause, reason } });
    }

    fn queue_changed(&mut self, cause: Option<Cause>) {
        self.persist();
        self.out.push_back(RoomOutput::Broadcast { msg: ServerMsg::Queue { items: self.state.queue.clone(), cause } });
    }

    fn settings_changed(&mut self, cause: Option<Cause>) {
        self.persist();
        self.out.push_back(RoomOutput::Broadcast { msg: ServerMsg::Settings { mode: self.state.mode, has_password: self.state.password.is_some(), cause } });
    }

    fn mark_empty(&mut self, now: Millis) {
        if !self.conns.values().any(|c| c.member.is_some()) && self.state.empty_since.is_none() {
            self.state.empty_since = Some(now);
        }
    }

    fn persist(&mut self) {
        self.out.push_back(RoomOutput::Persist(Box::new(self.state.clone())));
    }

    fn log(&mut self, event: &'static str, member: Option<MemberId>, detail: String) {
        self.out.push_back(RoomOutput::Log { event, member, detail });
    }

    fn member_list(&self) -> Vec<MemberInfo> {
        self.state
            .members
            .iter()
            .map(|m| {
                let live = self.live.get(&m.id).copied().unwrap_or_default();
                MemberInfo { id: m.id, name: m.name.clone(), role: m.role, status: m.status, drift_ms: live.drift_ms, rtt_ms: live.rtt_ms }
            })
            .collect()
    }

    fn member_info(&self, id: MemberId) -> Option<MemberInfo> {
        let m = self.member(id)?;
        let live = self.live.get(&id).copied().unwrap_or_default();
        Some(MemberInfo { id, name: m.name.clone(), role: m.role, status: m.status, drift_ms: live.drift_ms, rtt_ms: live.rtt_ms })
    }

    /// Tell everyone about one member's new state.
    fn member_changed(&mut self, id: MemberId) {
        self.dirty_members.remove(&id);
        if let Some(member) = self.member_info(id) {
            self.out.push_back(RoomOutput::Broadcast { msg: ServerMsg::Member { member } });
        }
    }

    /// Deadlines: reconnect grace, buffering wait, end of the item, member
    /// list refresh, empty-room expiry. The shell sets its alarm to this.
    pub fn poll_timeout(&self) -> Option<Millis> {
        let grace = self.state.members.iter().filter_map(|m| m.away_until);
        let hold = self.state.hold.as_ref().map(|h| h.deadline);
        let end = self.item_end();
        let refresh = self.members_dirty_at.map(|t| t + self.cfg.members_refresh_ms);
        let expiry = self.state.empty_since.map(|t| t + self.cfg.idle_expiry_ms);
        grace.chain(hold).chain(end).chain(refresh).chain(expiry).min_by(|a, b| a.total_cmp(b))
    }

    /// Server time at which the current item ends, if playing with a known duration.
    fn item_end(&self) -> Option<Millis> {
        let pb = self.state.playback;
        let d = self.state.source_duration?;
        pb.playing.then(|| pb.t_ref + ((d - pb.position).max(0.0) / pb.rate) * 1000.0)
    }

    /// Timers are due.
    pub fn handle_timeout(&mut self, now: Millis) {
        // Reconnect grace over: the member is gone.
        let expired: Vec<MemberId> = self.state.members.iter().filter(|m| m.away_until.is_some_and(|t| now >= t)).map(|m| m.id).collect();
        for id in expired {
            self.log("gone", Some(id), "reconnect grace over".into());
            self.remove_member(now, id, None, (1000, "gone"));
        }
        // A member that never recovers does not hold the group forever.
        if self.state.hold.as_ref().is_some_and(|h| now >= h.deadline) {
            for m in self.state.members.iter_mut().filter(|m| m.status == MemberStatus::Buffering) {
                m.hold = false;
            }
            self.log("hold_timeout", None, "resuming without the members still buffering".into());
            self.resume(now);
        }
        if self.item_end().is_some_and(|t| now >= t) {
            if self.state.queue.is_empty() {
                let d = self.state.source_duration.unwrap_or(0.0);
                self.state.playback.pause(now, Some(d));
                self.state_changed(None, Some(Reason::End));
            } else {
                self.advance(now, None);
            }
        }
        if self.members_dirty_at.is_some_and(|t| now >= t + self.cfg.members_refresh_ms) {
            self.members_dirty_at = None;
            for id in std::mem::take(&mut self.dirty_members) {
                self.member_changed(id);
            }
        }
        if self.state.empty_since.is_some_and(|t| now >= t + self.cfg.idle_expiry_ms) && !self.conns.values().any(|c| c.member.is_some()) {
            self.log("expire", None, "empty room expired".into());
            self.out.push_back(RoomOutput::Expire);
        }
    }

    /// If nobody is host, the longest-present member becomes host.
    fn ensure_host(&mut self) -> Option<MemberId> {
        if self.state.members.iter().any(|m| m.role == Role::Host) {
            return None;
        }
        let next =
            self.state.members.iter_mut().filter(|m| m.status != MemberStatus::Away).min_by(|a, b| a.joined_at.total_cmp(&b.joined_at).then(a.id.cmp(&b.id)));
        let m = next?;
        m.role = Role::Host;
        let id = m.id;
        self.log("host", Some(id), "host handed to the longest-present member".into());
        Some(id)
    }

    /// The room as a newcomer sees it.
    pub fn snapshot(&self) -> RoomSnapshot {
        RoomSnapshot {
            seq: self.state.seq,
            name: self.state.name.clone(),
            source: self.state.source.clone(),
            playback: self.state.playback,
            members: self.member_list(),
            queue: self.state.queue.clone(),
            chat: self.state.chat.iter().cloned().collect(),
            mode: self.state.mode,
            has_password: self.state.password.is_some(),
        }
    }

    /// Next piece of work for the shell.
    pub fn poll_output(&mut self) -> Option<RoomOutput> {
        self.out.pop_front()
    }
}

/// Trim, drop control characters and bound the length (in characters).
pub fn clean_text(s: &str, max_chars: usize) -> String {
    s.chars().filter(|c| !c.is_control()).take(max_chars).collect::<String>().trim().to_string()
}

#[cfg(test)]
mod tests;
