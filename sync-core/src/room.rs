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
    close, BanInfo, Cause, ChatLine, ClientMsg, Command, ErrorCode, MemberId, MemberInfo, MemberStatus, PermissionMode, QueueItem, Reason, Role, RoomSnapshot,
    ServerMsg, SourceInfo, SubtitleInfo,
};
use crate::secret::{constant_time_eq, draw, sha256_hex, token_from_entropy, token_hash, PasswordHash};
use crate::source::Source;
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
    /// O(n²) traffic), and joins, leaves, status and role changes go out
    /// together in one `members` message every `member_batch_ms`.
    pub live_stats_max_members: usize,
    pub member_batch_ms: Millis,
    /// Token bucket per connection: messages per second and burst.
    pub rate_per_sec: f64,
    pub rate_burst: f64,
    /// Token bucket per address, shared by all its sockets (so more sockets
    /// do not buy more messages): messages per second and burst.
    pub address_rate_per_sec: f64,
    pub address_rate_burst: f64,
    /// Close with 1008 after this many refused messages in a row.
    pub abuse_limit: u32,
    /// The shell's check of an absolute source URL (e.g. the media proxy's
    /// SSRF guard): a source it refuses is refused with its reason, so no
    /// member's browser is sent to a loopback, private or link-local address.
    pub source_guard: Option<SourceGuard>,
    /// A socket must say `hello` this soon or it is closed.
    pub hello_timeout_ms: Millis,
    /// Sockets that have not said `hello` yet: in all, and from one address.
    pub max_pending: usize,
    pub max_pending_per_address: usize,
    /// Members from one address (bots cannot fill the room before people).
    pub max_members_per_address: usize,
    /// Kick bans kept (the oldest goes first).
    pub max_bans: usize,
    /// A member may make the group wait this long per window; a member whose
    /// wait timed out or ran over is not waited for until the window ends.
    pub hold_budget_ms: Millis,
    pub hold_window_ms: Millis,
    /// What a member who cannot control may add to scheduled starts through
    /// its reported RTT (the lead is 2 × RTT) and seek landing time.
    pub viewer_rtt_cap_ms: Millis,
    pub viewer_seek_cap_ms: Millis,
    /// Wrong passwords the room answers per window (from anyone); beyond
    /// that every check is refused until the window ends.
    pub password_failures: usize,
    /// Wrong passwords the room answers per window from one address: one
    /// address cannot spend the room's budget and lock its members out.
    pub password_failures_per_address: usize,
    pub password_window_ms: Millis,
    pub max_password_chars: usize,
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
            max_members: 5000,
            grace_ms: 30_000.0,
            buffer_wait_ms: 10_000.0,
            start_lead_min_ms: 300.0,
            start_lead_max_ms: 2_000.0,
            seek_allowance_ms: 300.0,
            idle_expiry_ms: 24.0 * 3600.0 * 1000.0,
            members_refresh_ms: 2_000.0,
            live_stats_max_members: 50,
            member_batch_ms: 500.0,
            rate_per_sec: 20.0,
            rate_burst: 40.0,
            address_rate_per_sec: 60.0,
            address_rate_burst: 120.0,
            abuse_limit: 40,
            source_guard: None,
            hello_timeout_ms: 10_000.0,
            max_pending: 64,
            max_pending_per_address: 8,
            max_members_per_address: 20,
            max_bans: 500,
            hold_budget_ms: 20_000.0,
            hold_window_ms: 60_000.0,
            viewer_rtt_cap_ms: 250.0,
            viewer_seek_cap_ms: 1_000.0,
            password_failures: 60,
            password_failures_per_address: 5,
            password_window_ms: 60_000.0,
            max_password_chars: 200,
        }
    }
}

/// How a room is created: what the creator asked for, checked by the same
/// rules as the commands that change it later ([`Room::create`]).
#[derive(Clone, Debug, Default)]
pub struct CreateOptions {
    pub name: Option<String>,
    pub source: Option<SourceInfo>,
    pub mode: PermissionMode,
    pub password: Option<String>,
    /// The host token handed to the creator (only its hash is kept).
    pub host_token: Option<String>,
}

/// The body of `POST /api/rooms`: the one type from the request to the
/// room, whose rules ([`Room::create`]) decide what is accepted.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct CreateRequest {
    #[serde(default)]
    pub name: Option<String>,
    /// An http(s) URL or a path on this server; the default source without one.
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub mode: PermissionMode,
}

impl CreateRequest {
    /// The options to create the room with: `default_source` (url, title)
    /// when the request names none; `host_token` for the creator.
    pub fn into_options(self, default_source: (&str, &str), host_token: String) -> CreateOptions {
        let source = match self.source {
            Some(url) => SourceInfo::new(url, self.title),
            None => SourceInfo::new(default_source.0, Some(default_source.1.to_string())),
        };
        CreateOptions { name: self.name, source: Some(source), mode: self.mode, password: self.password, host_token: Some(host_token) }
    }
}

/// Why a room could not be created: which field, and why.
#[derive(Clone, Debug, PartialEq)]
pub struct CreateError {
    pub field: &'static str,
    pub message: String,
}

/// Why a socket was not accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnectRefused {
    /// Too many sockets are waiting to say `hello` (in all or from this address).
    Busy,
}

/// A kick: the member's identity and address may not join again until the
/// host lifts it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Ban {
    pub id: u64,
    pub name: String,
    /// The address key ([`Room::address_key`]); empty if unknown.
    pub addr: String,
    pub resume_hash: String,
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
    /// The key of the address it joined from ([`Room::address_key`]).
    #[serde(default)]
    pub addr: String,
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
    /// In storage's `meta` only: the queue's item ids in order (the items
    /// have keys of their own).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub queue_order: Vec<u64>,
    #[serde(default)]
    pub chat: VecDeque<ChatLine>,
    #[serde(default)]
    pub hold: Option<Hold>,
    #[serde(default)]
    pub empty_since: Option<Millis>,
    /// The `seq` at which the current source was set: a reported duration
    /// counts only for it.
    #[serde(default)]
    pub source_seq: u64,
    #[serde(default)]
    pub bans: Vec<Ban>,
    #[serde(default)]
    pub next_ban: u64,
    /// Salt of the address keys (random per room; addresses are not stored).
    #[serde(default)]
    pub addr_salt: String,
    /// The room's subtitle files (their text is stored by the shell, under
    /// [`subtitle_key`]s), and the delay everyone applies.
    #[serde(default)]
    pub subtitles: Vec<SubtitleInfo>,
    #[serde(default)]
    pub subtitle_delay_ms: f64,
    #[serde(default)]
    pub next_subtitle: u64,
    /// The language a member who has not picked gets (empty: none).
    #[serde(default)]
    pub subtitle_language: String,
}

/// Subtitle files a room keeps.
pub const MAX_SUBTITLES: usize = 8;
/// The room's subtitle delay, at most this either way (ms).
pub const MAX_SUBTITLE_DELAY_MS: f64 = 600_000.0;

/// The storage keys of subtitle `id`'s WebVTT text: `s:<id>:<n>`, `n` from 0.
pub fn subtitle_key(id: u64, n: usize) -> String {
    format!("s:{id}:{n}")
}

/// Why a member may not add a subtitle file.
#[derive(Clone, Debug, PartialEq)]
pub enum SubtitleRefusal {
    /// No member has this token.
    Unknown,
    /// The member may not control the room.
    Forbidden,
    /// The room has [`MAX_SUBTITLES`] already.
    Full,
}

/// What a socket carries across hibernation (its attachment).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SocketTag {
    pub conn: ConnId,
    #[serde(default)]
    pub member: Option<MemberId>,
    /// The key of the address it came from ([`Room::address_key`]).
    #[serde(default)]
    pub addr: AddressKey,
}

/// An address as the room knows it: a salted hash.
pub type AddressKey = String;

/// Work for the shell.
#[derive(Clone, Debug, PartialEq)]
pub enum RoomOutput {
    /// Send to one connection.
    Send { to: ConnId, msg: ServerMsg },
    /// Send to every connection of a member.
    Broadcast { msg: ServerMsg },
    /// Write this to storage (one batch) before anything that follows is
    /// sent. There is at most one per input, and it comes first: everything
    /// the input changed is stored before anyone hears of it.
    Persist(Box<StoreChanges>),
    /// Store this on the connection's socket (survives hibernation).
    Attach(SocketTag),
    /// Close the connection.
    Close { conn: ConnId, code: u16, reason: String },
    /// The room is empty and expired: delete it.
    Expire,
    /// Subtitle `id` was removed: delete its text ([`subtitle_key`]s).
    DropSubtitle { id: u64 },
    /// A structured log line.
    Log { event: &'static str, member: Option<MemberId>, detail: String },
}

#[derive(Clone, Debug)]
struct Conn {
    member: Option<MemberId>,
    /// Resume token offered to this connection if it joins as a new member.
    fresh_token: String,
    /// The address key it came from.
    addr: AddressKey,
    /// It must say `hello` by then.
    hello_by: Option<Millis>,
    /// SHA-256 of the password checked when it was accepted: a `hello`
    /// with the same password need not run the KDF again.
    password_checked: Option<String>,
    tokens: f64,
    refilled: Millis,
    refused_in_a_row: u32,
}

/// Public facts about a room (for `GET /api/rooms/:id`). A room with a
/// password tells only that it exists and needs one.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RoomInfo {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub members: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<SourceInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub playing: Option<bool>,
    pub has_password: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<PermissionMode>,
}

/// The group-hold budget of one address: its members taking turns cannot
/// hold the room longer than one member could.
#[derive(Clone, Copy, Debug, Default)]
struct AddressHold {
    held_ms: Millis,
    window_start: Millis,
    blocked_until: Option<Millis>,
}

#[derive(Clone, Copy, Debug, Default)]
struct Live {
    drift_ms: Option<f64>,
    rtt_ms: Option<f64>,
    seek_ms: Option<f64>,
    /// Time this member made the group wait in the current window.
    held_ms: Millis,
    window_start: Millis,
    /// Not waited for until then.
    hold_blocked_until: Option<Millis>,
}

pub struct Room {
    cfg: RoomConfig,
    /// Randomness from the shell, drawn from with a counter.
    seed: [u8; 32],
    draws: u64,
    /// Times of recent wrong passwords, and the address each came from.
    password_failures: VecDeque<(Millis, AddressKey)>,
    /// Group-hold time charged per address (all its members together).
    address_holds: BTreeMap<AddressKey, AddressHold>,
    /// Message buckets per address: (tokens, refilled at).
    address_buckets: BTreeMap<AddressKey, (f64, Millis)>,
    /// The state changed since the last `Persist`.
    dirty: bool,
    /// What storage holds.
    store: Store,
    /// Group-hold time accounted up to here.
    holds_counted_at: Millis,
    /// The time of the input being handled.
    now: Millis,
    /// In a large room: members changed and members gone since the last
    /// `members` message, and when it is due.
    batch: std::collections::BTreeSet<MemberId>,
    batch_left: Vec<MemberId>,
    batch_since: Option<Millis>,
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
    fn blank(cfg: RoomConfig, state: PersistedRoom, seed: [u8; 32]) -> Self {
        Room {
            cfg,
            seed,
            draws: 0,
            password_failures: VecDeque::new(),
            address_buckets: BTreeMap::new(),
            address_holds: BTreeMap::new(),
            dirty: false,
            store: Store::default(),
            holds_counted_at: 0.0,
            now: 0.0,
            batch: Default::default(),
            batch_left: Vec::new(),
            batch_since: None,
            state,
            conns: BTreeMap::new(),
            live: BTreeMap::new(),
            members_dirty_at: None,
            dirty_members: Default::default(),
            out: VecDeque::new(),
        }
    }

    /// A new room, checked by the rules its commands follow later: a name
    /// or title over its length, a source the room would refuse or a
    /// password out of bounds is an error, not trimmed or stored. `seed`
    /// is fresh randomness (tokens, salts).
    pub fn create(cfg: RoomConfig, now: Millis, opts: CreateOptions, seed: [u8; 32]) -> Result<Self, CreateError> {
        let err = |field, message: String| CreateError { field, message };
        let name = match opts.name {
            Some(n) => check_title(&cfg, &n).map_err(|m| err("name", m))?,
            None => None,
        };
        let source = match opts.source {
            Some(s) => Some(check_source(&cfg, s.url, s.title).map_err(|(_, m)| err("source", m))?),
            None => None,
        };
        let password = match opts.password.filter(|p| !p.is_empty()) {
            Some(p) => Some(check_password_rule(&cfg, p).map_err(|(_, m)| err("password", m))?),
            None => None,
        };
        let state = PersistedRoom {
            name,
            // A link's own start time (`t=`) is where the room starts.
            playback: Playback {
                t_ref: now,
                position: source.as_ref().and_then(|s| Source::parse(&s.url).ok()).map_or(0.0, |s| s.start()),
                ..Playback::default()
            },
            source,
            seq: 1,
            source_seq: 1,
            mode: opts.mode,
            host_token_hash: opts.host_token.map(|t| token_hash(&t)),
            empty_since: Some(now),
            ..PersistedRoom::default()
        };
        let mut room = Room::blank(cfg, state, seed);
        room.state.addr_salt = crate::secret::token_from_entropy(&room.random16());
        if let Some(p) = password {
            let salt = room.random16();
            room.state.password = Some(PasswordHash::new(&p, &salt));
        }
        room.persist();
        Ok(room)
    }

    /// A room as stored, with the sockets that are still open (and the
    /// address key each came from). `seed` is fresh randomness: a socket
    /// that says `hello` only after this wake-up still gets a random token.
    /// `legacy`: it was read from the whole-room key (before parts); the
    /// next write stores it in parts.
    pub fn restore(cfg: RoomConfig, state: PersistedRoom, sockets: impl IntoIterator<Item = SocketTag>, now: Millis, seed: [u8; 32], legacy: bool) -> Self {
        let store = if legacy { Store::legacy() } else { Store::holding(&state) };
        let mut room = Room::blank(cfg, state, seed);
        room.store = store;
        room.dirty = legacy;
        room.holds_counted_at = now;
        if room.state.addr_salt.is_empty() {
            room.state.addr_salt = crate::secret::token_from_entropy(&room.random16());
            room.persist();
        }
        let sockets: Vec<SocketTag> = sockets.into_iter().collect();
        // Members whose sockets are gone (closed while the room was not
        // running) are away for the grace, not present forever.
        let grace = room.cfg.grace_ms;
        for m in room.state.members.iter_mut() {
            if m.status != MemberStatus::Away && !sockets.iter().any(|s| s.member == Some(m.id)) {
                m.status = MemberStatus::Away;
                m.away_until = Some(now + grace);
                room.dirty = true;
            }
        }
        if room.state.members.iter().all(|m| m.status == MemberStatus::Away) && room.state.empty_since.is_none() {
            room.state.empty_since = Some(now);
            room.dirty = true;
        }
        for s in sockets {
            room.state.next_conn = room.state.next_conn.max(s.conn + 1);
            let member = s.member.filter(|m| room.state.members.iter().any(|x| x.id == *m));
            let fresh_token = token_from_entropy(&room.random16());
            let hello_by = member.is_none().then_some(now + room.cfg.hello_timeout_ms);
            room.conns.insert(
                s.conn,
                Conn { member, fresh_token, addr: s.addr, hello_by, password_checked: None, tokens: room.cfg.rate_burst, refilled: now, refused_in_a_row: 0 },
            );
        }
        // A wait for members who are away now (their sockets closed while
        // the room slept) waits for no one: the group plays on (the shell
        // carries the outputs out as it wakes the room, before any input).
        if room.state.hold.is_some() {
            room.after_status_change(now);
        }
        room
    }

    fn random16(&mut self) -> [u8; 16] {
        self.draws += 1;
        draw(&self.seed, self.draws)
    }

    /// The key an address is known by in this room: a salted hash (the room
    /// stores no addresses). The shell gives the address as its budgets
    /// count it (an IPv6 address by its /64).
    pub fn address_key(&self, addr: &str) -> AddressKey {
        sha256_hex(format!("{}:{addr}", self.state.addr_salt).as_bytes())[..32].to_string()
    }

    pub fn state(&self) -> &PersistedRoom {
        &self.state
    }

    /// What anyone may learn of the room: everything public, or, for a room
    /// with a password, only that it exists and needs one.
    pub fn info(&self) -> RoomInfo {
        if self.state.password.is_some() {
            return RoomInfo { name: None, members: None, source: None, playing: None, has_password: true, mode: None };
        }
        RoomInfo {
            name: self.state.name.clone(),
            members: Some(self.member_count()),
            source: self.state.source.clone(),
            playing: Some(self.state.playback.playing),
            has_password: false,
            mode: Some(self.state.mode),
        }
    }

    /// Check a password from `addr` (always right without one). Wrong
    /// answers are counted: past `password_failures_per_address` from one
    /// address, or `password_failures` from all, in a window, checks are
    /// refused with `RateLimited` until the window ends (one address cannot
    /// spend the room's budget alone and lock its members out). A right
    /// password checked against an old hash is rehashed.
    pub fn handle_password_check(&mut self, now: Millis, addr: &AddressKey, password: Option<&str>) -> Result<(), (ErrorCode, String)> {
        self.now = now;
        let Some(hash) = &self.state.password else { return Ok(()) };
        let Some(password) = password else { return refuse(ErrorCode::WrongPassword, "this room needs a password") };
        while self.password_failures.front().is_some_and(|(t, _)| now - t >= self.cfg.password_window_ms) {
            self.password_failures.pop_front();
        }
        let from_here: Vec<Millis> = self.password_failures.iter().filter(|(_, a)| a == addr).map(|(t, _)| *t).collect();
        let spent = if from_here.len() >= self.cfg.password_failures_per_address {
            from_here.first().copied()
        } else if self.password_failures.len() >= self.cfg.password_failures {
            self.password_failures.front().map(|(t, _)| *t)
        } else {
            None
        };
        if let Some(first) = spent {
            let wait = first + self.cfg.password_window_ms - now;
            return refuse(ErrorCode::RateLimited, format!("too many wrong passwords for this room; try again in {} s", (wait / 1000.0).ceil()));
        }
        if password.chars().count() > self.cfg.max_password_chars || !hash.verify(password) {
            self.password_failures.push_back((now, addr.clone()));
            self.log("wrong_password", None, format!("{} in the window", self.password_failures.len()));
            return refuse(ErrorCode::WrongPassword, "wrong password");
        }
        if hash.is_outdated() {
            let salt = self.random16();
            self.state.password = Some(PasswordHash::new(password, &salt));
            self.persist();
        }
        Ok(())
    }

    pub fn has_password(&self) -> bool {
        self.state.password.is_some()
    }

    /// Members present (not away).
    pub fn member_count(&self) -> usize {
        self.state.members.iter().filter(|m| m.status != MemberStatus::Away).count()
    }

    /// Forget a connection, and its address's message bucket with its last one.
    fn drop_conn(&mut self, conn: ConnId) -> Option<Conn> {
        let c = self.conns.remove(&conn)?;
        if !self.conns.values().any(|o| o.addr == c.addr) {
            self.address_buckets.remove(&c.addr);
        }
        Some(c)
    }

    /// Whether an address (its key) is banned.
    pub fn is_banned(&self, addr: &AddressKey) -> bool {
        !addr.is_empty() && self.state.bans.iter().any(|b| &b.addr == addr)
    }

    /// A socket is being accepted from `addr` (its [`Room::address_key`]).
    /// Refused when too many sockets are waiting to say `hello` (in all or
    /// from this address); otherwise it must say `hello` within
    /// `hello_timeout_ms`. (A banned address is refused at `hello`, where a
    /// member who shares it — the host on the same network — can still
    /// come back with its resume token.)
    pub fn handle_connect(&mut self, now: Millis, addr: AddressKey) -> Result<ConnId, ConnectRefused> {
        self.now = now;
        let pending = self.conns.values().filter(|c| c.member.is_none());
        let (all, same) = pending.fold((0, 0), |(a, s), c| (a + 1, s + usize::from(c.addr == addr)));
        if all >= self.cfg.max_pending || same >= self.cfg.max_pending_per_address {
            self.log("refused_connect", None, format!("{all} sockets waiting to say hello, {same} from this address"));
            return Err(ConnectRefused::Busy);
        }
        let conn = self.state.next_conn;
        self.state.next_conn += 1;
        let fresh_token = token_from_entropy(&self.random16());
        let hello_by = Some(now + self.cfg.hello_timeout_ms);
        self.conns.insert(
            conn,
            Conn {
                member: None,
                fresh_token,
                addr: addr.clone(),
                hello_by,
                password_checked: None,
                tokens: self.cfg.rate_burst,
                refilled: now,
                refused_in_a_row: 0,
            },
        );
        self.out.push_back(RoomOutput::Attach(SocketTag { conn, member: None, addr }));
        Ok(conn)
    }

    /// The shell checked `password` for this connection (with
    /// [`Room::handle_password_check`]) before accepting it: a `hello` with
    /// the same password is not run through the KDF again (one PBKDF2 run
    /// per join, not two); any other password is checked in full.
    pub fn handle_password_checked(&mut self, conn: ConnId, password: &str) {
        if let Some(c) = self.conns.get_mut(&conn) {
            c.password_checked = Some(sha256_hex(password.as_bytes()));
        }
    }

    /// A socket closed or failed.
    pub fn handle_disconnect(&mut self, now: Millis, conn: ConnId) {
        self.now = now;
        let Some(c) = self.drop_conn(conn) else { return };
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
        self.now = now;
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
        self.now = now;
        if self.take_token(now, conn) {
            self.refused(conn, code, message, None);
        }
    }

    /// Token bucket; false if the message must be dropped.
    fn take_token(&mut self, now: Millis, conn: ConnId) -> bool {
        let (rate, burst, limit) = (self.cfg.rate_per_sec, self.cfg.rate_burst, self.cfg.abuse_limit);
        let (addr_rate, addr_burst) = (self.cfg.address_rate_per_sec, self.cfg.address_rate_burst);
        let Some(c) = self.conns.get_mut(&conn) else { return false };
        c.tokens = (c.tokens + (now - c.refilled).max(0.0) / 1000.0 * rate).min(burst);
        c.refilled = now;
        let address = (!c.addr.is_empty()).then(|| {
            let (tokens, refilled) = self.address_buckets.entry(c.addr.clone()).or_insert((addr_burst, now));
            *tokens = (*tokens + (now - *refilled).max(0.0) / 1000.0 * addr_rate).min(addr_burst);
            *refilled = now;
            tokens
        });
        if c.tokens >= 1.0 && address.as_ref().is_none_or(|t| **t >= 1.0) {
            c.tokens -= 1.0;
            if let Some(t) = address {
                *t -= 1.0;
            }
            return true;
        }
        c.refused_in_a_row += 1;
        let strikes = c.refused_in_a_row;
        let member = c.member;
        if strikes >= limit {
            self.log("abuse", member, format!("conn {conn} closed after {strikes} refused messages"));
            self.out.push_back(RoomOutput::Close { conn, code: close::ABUSE, reason: "too many messages".into() });
        } else if strikes == 1 {
            self.log("rate_limited", member, format!("conn {conn}"));
            self.out.push_back(RoomOutput::Send {
                to: conn,
                msg: ServerMsg::Error {
                    code: ErrorCode::RateLimited,
                    message: format!("more than {rate} messages per second (or {addr_rate} from one address)"),
                    command_id: None,
                },
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
                    let close = match code {
                        ErrorCode::WrongPassword => Some((close::WRONG_PASSWORD, "wrong password")),
                        ErrorCode::Banned => Some((close::REFUSED, "banned")),
                        ErrorCode::RoomFull => Some((close::REFUSED, "room full")),
                        ErrorCode::RateLimited => Some((close::ABUSE, "too many wrong passwords")),
                        _ => None,
                    };
                    if let Some((code, reason)) = close {
                        self.drop_conn(conn);
                        self.out.push_back(RoomOutput::Close { conn, code, reason: reason.into() });
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
            (ClientMsg::Status { buffering, drift_ms, rtt_ms, duration, hold, seek_ms, source_seq }, Some(m)) => {
                if let Some(ms) = seek_ms.filter(|v| v.is_finite() && *v >= 0.0) {
                    self.live.entry(m).or_default().seek_ms = Some(ms.min(5_000.0));
                }
                // The item's length: only from a member who may control the
                // room, and only for the source it is playing now.
                let duration = duration.filter(|_| self.can_control(m) && source_seq == Some(self.state.source_seq));
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
            self.drop_conn(conn);
        }
        if self.large() {
            self.batch.remove(&member);
            self.batch_left.push(member);
            self.batch_since.get_or_insert(self.now);
        } else {
            self.out.push_back(RoomOutput::Broadcast { msg: ServerMsg::MemberLeft { id: member } });
        }
        if let Some(new_host) = self.ensure_host() {
            self.member_changed(new_host);
        }
        self.after_status_change(now);
        self.mark_empty(now);
        self.persist();
    }

    fn hello(&mut self, now: Millis, conn: ConnId, name: &str, password: Option<String>, resume: Option<String>, host_token: Option<String>) -> CmdResult {
        let (fresh, addr) = self.conns.get(&conn).map(|c| (c.fresh_token.clone(), c.addr.clone())).unwrap_or_default();
        let resume_hash = resume.as_deref().map(token_hash);
        if resume_hash.as_ref().is_some_and(|h| self.state.bans.iter().any(|b| constant_time_eq(&b.resume_hash, h))) {
            return refuse(ErrorCode::Banned, "you were removed from this room by its host");
        }
        // The cheap checks before the password's (a PBKDF2 run).
        let clean = clean_name(name, self.cfg.max_name_chars);
        if clean.is_empty() && !name.trim().is_empty() {
            return refuse(ErrorCode::BadName, "that name shows as nothing: use letters, digits or symbols");
        }
        if poses_as_role(&clean) {
            return refuse(ErrorCode::BadName, "a name may not pose as a role, e.g. \"(host)\"");
        }
        let checked = self.conns.get(&conn).and_then(|c| c.password_checked.as_deref());
        let same = checked.zip(password.as_deref()).is_some_and(|(h, p)| constant_time_eq(h, &sha256_hex(p.as_bytes())));
        if !same {
            self.handle_password_check(now, &addr, password.as_deref())?;
        }
        let resumed = resume_hash.and_then(|h| self.state.members.iter().position(|m| constant_time_eq(&m.resume_hash, &h)));
        let claims_host = host_token.as_deref().zip(self.state.host_token_hash.as_deref()).is_some_and(|(t, h)| constant_time_eq(&token_hash(t), h));
        // An address ban keeps out new identities, not a member coming back
        // nor the room's creator with its host token (who may share it).
        if resumed.is_none() && !claims_host && self.is_banned(&addr) {
            return refuse(ErrorCode::Banned, "this address was removed from this room by its host");
        }
        let (id, token) = match resumed {
            Some(i) => {
                let id = self.state.members[i].id;
                if !clean.is_empty() {
                    let name = self.distinct_name(&clean, Some(id));
                    self.state.members[i].name = name;
                }
                let m = &mut self.state.members[i];
                m.status = MemberStatus::Ready;
                m.away_until = None;
                m.addr = addr;
                (id, resume.unwrap_or_default())
            }
            None => {
                if self.state.members.len() >= self.cfg.max_members {
                    return refuse(ErrorCode::RoomFull, "the room is full");
                }
                if !addr.is_empty() && self.state.members.iter().filter(|m| m.addr == addr).count() >= self.cfg.max_members_per_address {
                    return refuse(ErrorCode::RoomFull, format!("the room takes at most {} members from one address", self.cfg.max_members_per_address));
                }
                let id = self.state.next_member;
                self.state.next_member += 1;
                let name = if clean.is_empty() { format!("Guest {id}") } else { clean };
                let name = self.distinct_name(&name, None);
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
                    addr,
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
            c.hello_by = None;
        }
        self.state.empty_since = None;
        self.log(if resumed.is_some() { "rejoin" } else { "join" }, Some(id), format!("conn {conn}"));
        self.persist();
        let addr = self.conns.get(&conn).map(|c| c.addr.clone()).unwrap_or_default();
        self.out.push_back(RoomOutput::Attach(SocketTag { conn, member: Some(id), addr }));
        let role = self.member(id).map_or(Role::Viewer, |m| m.role);
        let room = self.snapshot();
        self.out.push_back(RoomOutput::Send { to: conn, msg: ServerMsg::Welcome { member: id, role, resume: token, server_time: now, room: Box::new(room) } });
        self.member_changed(id);
        for d in demoted {
            self.member_changed(d);
        }
        Ok(())
    }

    /// `name`, numbered if another member (not `me`) already shows it.
    fn distinct_name(&self, name: &str, me: Option<MemberId>) -> String {
        let others: Vec<String> = self.state.members.iter().filter(|m| Some(m.id) != me).map(|m| m.name.to_lowercase()).collect();
        distinct(name, self.cfg.max_name_chars, |candidate| {
            let c = candidate.to_lowercase();
            others.contains(&c)
        })
    }

    fn member(&self, id: MemberId) -> Option<&StoredMember> {
        self.state.members.iter().find(|m| m.id == id)
    }

    fn member_mut(&mut self, id: MemberId) -> Option<&mut StoredMember> {
        self.state.members.iter_mut().find(|m| m.id == id)
    }

    fn can_control(&self, id: MemberId) -> bool {
        crate::protocol::can_control(self.state.mode, self.member(id).map_or(Role::Viewer, |m| m.role))
    }

    fn is_host(&self, id: MemberId) -> bool {
        self.member(id).is_some_and(|m| m.role == Role::Host)
    }

    /// A member's reported figure as far as it may delay the room: members
    /// who cannot control the room are capped (they could otherwise add
    /// seconds to every start by reporting a huge RTT or seek time).
    fn bounded(&self, id: MemberId, value: Option<f64>, viewer_cap: Millis) -> Option<f64> {
        value.map(|v| if self.can_control(id) { v } else { v.min(viewer_cap) })
    }

    /// How far ahead a scheduled start begins: max(2 × highest RTT, min), capped.
    pub fn start_lead(&self) -> Millis {
        let rtt = self.live.iter().filter_map(|(id, l)| self.bounded(*id, l.rtt_ms, self.cfg.viewer_rtt_cap_ms)).fold(0.0, f64::max);
        (2.0 * rtt).max(self.cfg.start_lead_min_ms).min(self.cfg.start_lead_max_ms)
    }

    /// A start that needs everyone to seek first also waits for the slowest
    /// member's seeks to land (as they report it).
    pub fn seek_lead(&self) -> Millis {
        let seek = self
            .live
            .iter()
            .filter_map(|(id, l)| self.bounded(*id, l.seek_ms, self.cfg.viewer_seek_cap_ms))
            .fold(self.cfg.seek_allowance_ms, f64::max)
            .min(2_000.0);
        (self.start_lead() + seek).min(self.cfg.start_lead_max_ms + 2_000.0)
    }

    fn command(&mut self, now: Millis, member: MemberId, id: u64, command: Command) -> CmdResult {
        let cause = Some(Cause { member, command_id: id });
        let valid_pos = |p: f64| p.is_finite() && p >= 0.0;
        let host_only = matches!(
            command,
            Command::Kick { .. }
                | Command::TransferHost { .. }
                | Command::SetRole { .. }
                | Command::SetMode { .. }
                | Command::SetPassword { .. }
                | Command::Unban { .. }
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
                let source = check_source(&self.cfg, url, title)?;
                self.set_source(now, source, cause, false);
                Ok(())
            }
            Command::QueueAdd { url, title } => {
                if self.state.queue.len() >= self.cfg.max_queue {
                    return refuse(ErrorCode::BadCommand, format!("the queue holds at most {} items", self.cfg.max_queue));
                }
                let source = check_source(&self.cfg, url, title)?;
                let item = QueueItem { id: self.state.next_item, url: source.url, title: source.title, added_by: member };
                self.state.next_item += 1;
                self.state.queue.push(item.clone());
                let at = self.state.queue.len() - 1;
                self.persist();
                self.out.push_back(RoomOutput::Broadcast { msg: ServerMsg::QueueAdded { item, at, cause } });
                Ok(())
            }
            Command::QueueRemove { item } => {
                let i = self.queue_index(item)?;
                self.state.queue.remove(i);
                self.persist();
                self.out.push_back(RoomOutput::Broadcast { msg: ServerMsg::QueueRemoved { id: item, cause } });
                Ok(())
            }
            Command::QueueMove { item, to } => {
                let i = self.queue_index(item)?;
                let it = self.state.queue.remove(i);
                let to = to.min(self.state.queue.len());
                self.state.queue.insert(to, it);
                self.persist();
                self.out.push_back(RoomOutput::Broadcast { msg: ServerMsg::QueueMoved { id: item, to, cause } });
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
                let Some((name, addr, resume_hash)) = self.member(target).map(|m| (m.name.clone(), m.addr.clone(), m.resume_hash.clone())) else {
                    return refuse(ErrorCode::NoSuchMember, "no such member");
                };
                self.log("kick", Some(target), format!("by {member} ({name}); banned"));
                // A kick is a ban: that identity and that address may not join
                // again until the host lifts it.
                let id = self.state.next_ban;
                self.state.next_ban += 1;
                self.state.bans.push(Ban { id, name, addr, resume_hash });
                if self.state.bans.len() > self.cfg.max_bans {
                    self.state.bans.remove(0);
                }
                let farewell = ServerMsg::Error { code: ErrorCode::Kicked, message: "you were removed from the room".into(), command_id: None };
                self.remove_member(now, target, Some(farewell), (close::KICKED, "kicked"));
                self.bans_changed();
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
            Command::RemoveSubtitle { id } => {
                let Some(i) = self.state.subtitles.iter().position(|t| t.id == id) else {
                    return refuse(ErrorCode::NoSuchItem, "no such subtitle file");
                };
                self.state.subtitles.remove(i);
                self.subtitles_changed(cause);
                self.out.push_back(RoomOutput::DropSubtitle { id });
                Ok(())
            }
            Command::SetSubtitleLanguage { language } => {
                self.state.subtitle_language = names::clean_name(&language, 35);
                self.subtitles_changed(cause);
                Ok(())
            }
            Command::SetSubtitleDelay { ms } => {
                if !ms.is_finite() || ms.abs() > MAX_SUBTITLE_DELAY_MS {
                    return refuse(ErrorCode::BadCommand, "subtitle delay: at most ±600000 ms");
                }
                self.state.subtitle_delay_ms = ms.round();
                self.subtitles_changed(cause);
                Ok(())
            }
            Command::SetMode { mode } => {
                self.state.mode = mode;
                self.settings_changed(cause);
                Ok(())
            }
            Command::SetPassword { password } => {
                let password = match password.filter(|p| !p.is_empty()) {
                    Some(p) => Some(check_password_rule(&self.cfg, p)?),
                    None => None,
                };
                self.state.password = match password {
                    Some(p) => {
                        let salt = self.random16();
                        Some(PasswordHash::new(&p, &salt))
                    }
                    None => None,
                };
                self.password_failures.clear();
                // Sockets checked against the old password are checked anew.
                for c in self.conns.values_mut() {
                    c.password_checked = None;
                }
                self.settings_changed(cause);
                Ok(())
            }
            Command::Unban { ban } => {
                let Some(i) = self.state.bans.iter().position(|b| b.id == ban) else {
                    return refuse(ErrorCode::NoSuchItem, "no such ban");
                };
                let lifted = self.state.bans.remove(i);
                self.log("unban", None, format!("by {member} ({})", lifted.name));
                self.bans_changed();
                Ok(())
            }
        }
    }

    fn queue_index(&self, item: u64) -> Result<usize, (ErrorCode, String)> {
        self.state.queue.iter().position(|q| q.id == item).ok_or((ErrorCode::NoSuchItem, "no such queue item".to_string()))
    }

    fn set_source(&mut self, now: Millis, source: SourceInfo, cause: Option<Cause>, autoplay: bool) {
        self.state.source = Some(source.clone());
        self.state.source_duration = None;
        self.state.hold = None;
        // A link's own start time (`t=`) is where everyone starts.
        let position = Source::parse(&source.url).map_or(0.0, |s| s.start());
        self.state.playback = if autoplay {
            Playback { playing: true, position, rate: self.state.playback.rate, t_ref: now + self.start_lead() }
        } else {
            Playback { playing: false, position, rate: self.state.playback.rate, t_ref: now }
        };
        self.state.seq += 1;
        self.state.source_seq = self.state.seq;
        self.persist();
        self.out.push_back(RoomOutput::Broadcast { msg: ServerMsg::Source { seq: self.state.seq, source, playback: self.state.playback, cause } });
    }

    /// Play the next queued item.
    fn advance(&mut self, now: Millis, cause: Option<Cause>) {
        if self.state.queue.is_empty() {
            return;
        }
        let item = self.state.queue.remove(0);
        let id = item.id;
        self.set_source(now, SourceInfo::new(item.url, item.title), cause, true);
        self.out.push_back(RoomOutput::Broadcast { msg: ServerMsg::QueueRemoved { id, cause } });
    }

    #[allow(clippy::too_many_arguments)]
    fn status(&mut self, now: Millis, member: MemberId, buffering: bool, drift_ms: Option<f64>, rtt_ms: Option<f64>, duration: Option<f64>, hold: bool) {
        self.count_holds(now);
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

    /// Whether the group waits for this member now: it is buffering, asks
    /// to be waited for, and has not spent its hold budget.
    fn holds(&self, m: &StoredMember, now: Millis) -> bool {
        let blocked = |until: Option<Millis>| until.is_some_and(|t| now < t);
        m.hold
            && m.status == MemberStatus::Buffering
            && !blocked(self.live.get(&m.id).and_then(|l| l.hold_blocked_until))
            && !blocked(self.address_holds.get(&m.addr).and_then(|h| h.blocked_until))
    }

    /// What is left of a hold budget charged `held` since `window_start`.
    fn hold_left(&self, held: Millis, window_start: Millis, now: Millis) -> Millis {
        if now - window_start >= self.cfg.hold_window_ms {
            self.cfg.hold_budget_ms
        } else {
            self.cfg.hold_budget_ms - held
        }
    }

    /// Charge the time the group has waited since the last count to the
    /// members it waited for; one that ran over its budget is not waited
    /// for again until its window ends, and is told so.
    fn count_holds(&mut self, now: Millis) {
        let since = std::mem::replace(&mut self.holds_counted_at, now);
        // Budgets of addresses whose window is over and who are not blocked
        // are spent on nothing: forget them (a reconnect does not reset one
        // that is still running).
        let window = self.cfg.hold_window_ms;
        self.address_holds.retain(|_, h| now - h.window_start < window || h.blocked_until.is_some_and(|t| now < t));
        if self.state.hold.is_none() {
            return;
        }
        let holders: Vec<(MemberId, AddressKey)> = self.state.members.iter().filter(|m| self.holds(m, now)).map(|m| (m.id, m.addr.clone())).collect();
        let budget = self.cfg.hold_budget_ms;
        for (id, _) in &holders {
            let live = self.live.entry(*id).or_default();
            if now - live.window_start >= window {
                live.window_start = since.max(now - window);
                live.held_ms = 0.0;
            }
            live.held_ms += (now - since).max(0.0);
            if live.held_ms >= budget {
                self.block_hold(now, *id);
            }
        }
        // The same time charged once to each address the group waited for.
        let mut addresses: Vec<&AddressKey> = holders.iter().map(|(_, a)| a).filter(|a| !a.is_empty()).collect();
        addresses.sort();
        addresses.dedup();
        for addr in addresses {
            let h = self.address_holds.entry(addr.clone()).or_default();
            if now - h.window_start >= window {
                h.window_start = since.max(now - window);
                h.held_ms = 0.0;
            }
            h.held_ms += (now - since).max(0.0);
            if h.held_ms >= budget {
                h.blocked_until = Some((h.window_start + window).max(now + 1.0));
                let members: Vec<MemberId> = holders.iter().filter(|(_, a)| a == addr).map(|(id, _)| *id).collect();
                for id in members {
                    self.block_hold(now, id);
                }
            }
        }
    }

    /// Stop waiting for `id` until its hold window ends (at least a window
    /// from now when its wait timed out), and tell it.
    fn block_hold(&mut self, now: Millis, id: MemberId) {
        let window = self.cfg.hold_window_ms;
        let live = self.live.entry(id).or_default();
        let until = (live.window_start + window).max(now + 1.0);
        if live.hold_blocked_until.is_some_and(|t| t >= until) {
            return;
        }
        live.hold_blocked_until = Some(until);
        self.log("hold_limited", Some(id), format!("not waited for until {until}"));
        let message = format!("the room no longer waits for you while you buffer, for {} s", ((until - now) / 1000.0).ceil());
        let conns: Vec<ConnId> = self.conns.iter().filter(|(_, c)| c.member == Some(id)).map(|(c, _)| *c).collect();
        for to in conns {
            self.out.push_back(RoomOutput::Send { to, msg: ServerMsg::Error { code: ErrorCode::HoldLimited, message: message.clone(), command_id: None } });
        }
    }

    /// Apply the buffering policy after a member's status changed.
    fn after_status_change(&mut self, now: Millis) {
        self.count_holds(now);
        let waiting = self.state.members.iter().any(|m| self.holds(m, now));
        let pb = self.state.playback;
        if waiting && pb.playing && now >= pb.t_ref && self.state.hold.is_none() {
            // Wait no longer than the least budget any waited-for member has left.
            let left = self
                .state
                .members
                .iter()
                .filter(|m| self.holds(m, now))
                .map(|m| {
                    let l = self.live.get(&m.id).copied().unwrap_or_default();
                    let a = self.address_holds.get(&m.addr).copied().unwrap_or_default();
                    let by_address = if m.addr.is_empty() { self.cfg.hold_budget_ms } else { self.hold_left(a.held_ms, a.window_start, now) };
                    self.hold_left(l.held_ms, l.window_start, now).min(by_address)
                })
                .fold(self.cfg.buffer_wait_ms, f64::min)
                .max(1.0);
            self.state.playback.pause(now, None);
            self.state.hold = Some(Hold { deadline: now + left });
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

    fn bans_changed(&mut self) {
        self.persist();
        self.out.push_back(RoomOutput::Broadcast { msg: ServerMsg::Bans { bans: self.ban_list() } });
    }

    fn ban_list(&self) -> Vec<BanInfo> {
        self.state.bans.iter().map(|b| BanInfo { id: b.id, name: b.name.clone() }).collect()
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

    /// The state changed: it is written (once) before this input's messages.
    fn persist(&mut self) {
        self.dirty = true;
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
        if self.large() {
            self.batch.insert(id);
            self.batch_since.get_or_insert(self.now);
        } else if let Some(member) = self.member_info(id) {
            self.out.push_back(RoomOutput::Broadcast { msg: ServerMsg::Member { member } });
        }
    }

    /// A room where member changes go out in batches.
    fn large(&self) -> bool {
        self.state.members.len() > self.cfg.live_stats_max_members
    }

    /// The batched member changes, in one message.
    fn flush_members(&mut self) {
        self.batch_since = None;
        let ids = std::mem::take(&mut self.batch);
        let members: Vec<MemberInfo> = ids.into_iter().filter_map(|id| self.member_info(id)).collect();
        let left = std::mem::take(&mut self.batch_left);
        if !members.is_empty() || !left.is_empty() {
            self.out.push_back(RoomOutput::Broadcast { msg: ServerMsg::Members { members, left } });
        }
    }

    /// Deadlines: reconnect grace, buffering wait, end of the item, member
    /// list refresh, empty-room expiry. The shell sets its alarm to this.
    pub fn poll_timeout(&self) -> Option<Millis> {
        let grace = self.state.members.iter().filter_map(|m| m.away_until);
        let hello = self.conns.values().filter_map(|c| c.hello_by);
        let hold = self.state.hold.as_ref().map(|h| h.deadline);
        let end = self.item_end();
        let refresh = self.members_dirty_at.map(|t| t + self.cfg.members_refresh_ms);
        let batch = self.batch_since.map(|t| t + self.cfg.member_batch_ms);
        let expiry = self.state.empty_since.map(|t| t + self.cfg.idle_expiry_ms);
        grace.chain(hello).chain(hold).chain(end).chain(refresh).chain(batch).chain(expiry).min_by(|a, b| a.total_cmp(b))
    }

    /// Server time at which the current item ends, if playing with a known duration.
    fn item_end(&self) -> Option<Millis> {
        let pb = self.state.playback;
        let d = self.state.source_duration?;
        pb.playing.then(|| pb.t_ref + ((d - pb.position).max(0.0) / pb.rate) * 1000.0)
    }

    /// Timers are due.
    pub fn handle_timeout(&mut self, now: Millis) {
        self.now = now;
        // Sockets that never said hello are closed.
        let silent: Vec<ConnId> = self.conns.iter().filter(|(_, c)| c.hello_by.is_some_and(|t| now >= t)).map(|(id, _)| *id).collect();
        for conn in silent {
            self.drop_conn(conn);
            self.log("hello_timeout", None, format!("conn {conn}"));
            self.out.push_back(RoomOutput::Close { conn, code: close::HELLO_TIMEOUT, reason: "no hello".into() });
        }
        self.count_holds(now);
        // Reconnect grace over: the member is gone.
        let expired: Vec<MemberId> = self.state.members.iter().filter(|m| m.away_until.is_some_and(|t| now >= t)).map(|m| m.id).collect();
        for id in expired {
            self.log("gone", Some(id), "reconnect grace over".into());
            self.remove_member(now, id, None, (close::GONE, "gone"));
        }
        // A member that never recovers does not hold the group forever.
        if self.state.hold.as_ref().is_some_and(|h| now >= h.deadline) {
            // Whoever the group still waits for is not waited for again for a
            // whole window (its next `status` cannot re-arm the wait).
            let late: Vec<MemberId> = self.state.members.iter().filter(|m| self.holds(m, now)).map(|m| m.id).collect();
            for id in late {
                let live = self.live.entry(id).or_default();
                live.window_start = now;
                self.block_hold(now, id);
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
        if self.batch_since.is_some_and(|t| now >= t + self.cfg.member_batch_ms) {
            self.flush_members();
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
            source_seq: self.state.source_seq,
            bans: self.ban_list(),
            subtitles: self.state.subtitles.clone(),
            subtitle_delay_ms: self.state.subtitle_delay_ms,
            subtitle_language: self.state.subtitle_language.clone(),
            waiting: self.state.hold.is_some(),
        }
    }

    /// Who may add a subtitle file with this resume token (from an HTTP
    /// request; the socket's member is not needed), and its name.
    pub fn subtitle_adder(&self, resume_token: &str) -> Result<(MemberId, String), SubtitleRefusal> {
        let hash = token_hash(resume_token);
        let m = self.state.members.iter().find(|m| constant_time_eq(&m.resume_hash, &hash)).ok_or(SubtitleRefusal::Unknown)?;
        if !self.can_control(m.id) {
            return Err(SubtitleRefusal::Forbidden);
        }
        if self.state.subtitles.len() >= MAX_SUBTITLES {
            return Err(SubtitleRefusal::Full);
        }
        Ok((m.id, m.name.clone()))
    }

    /// Whether this resume token is a member's (may read the subtitles).
    pub fn is_member_token(&self, resume_token: &str) -> bool {
        let hash = token_hash(resume_token);
        self.state.members.iter().any(|m| constant_time_eq(&m.resume_hash, &hash))
    }

    /// The id the next subtitle file gets: the shell stores its text under
    /// it, then reports it with [`Room::handle_subtitle_added`].
    pub fn next_subtitle_id(&self) -> u64 {
        self.state.next_subtitle + 1
    }

    /// A subtitle file was stored under [`Room::next_subtitle_id`] by
    /// `member`: everyone is told. Checked again here, as the shell awaited
    /// the upload meanwhile (other uploads may have filled the room, the
    /// member may have lost control or left): a refusal means the shell
    /// deletes what it stored.
    pub fn handle_subtitle_added(&mut self, member: MemberId, label: &str, language: &str, cues: u64) -> Result<u64, SubtitleRefusal> {
        let Some(by) = self.member(member).map(|m| m.name.clone()) else { return Err(SubtitleRefusal::Unknown) };
        if !self.can_control(member) {
            return Err(SubtitleRefusal::Forbidden);
        }
        if self.state.subtitles.len() >= MAX_SUBTITLES {
            return Err(SubtitleRefusal::Full);
        }
        self.state.next_subtitle += 1;
        let id = self.state.next_subtitle;
        let (label, language) = (names::clean_name(label, 80), names::clean_name(language, 35));
        self.state.subtitles.push(SubtitleInfo { id, label, language, cues, by });
        self.log("subtitle_added", Some(member), format!("{id}: {cues} cues"));
        self.subtitles_changed(None);
        Ok(id)
    }

    fn subtitles_changed(&mut self, cause: Option<Cause>) {
        self.persist();
        self.out.push_back(RoomOutput::Broadcast {
            msg: ServerMsg::Subtitles {
                subtitles: self.state.subtitles.clone(),
                delay_ms: self.state.subtitle_delay_ms,
                language: self.state.subtitle_language.clone(),
                cause,
            },
        });
    }

    /// Next piece of work for the shell. When the last input changed the
    /// state, the first output is the one `Persist` of all its changes.
    pub fn poll_output(&mut self) -> Option<RoomOutput> {
        if std::mem::take(&mut self.dirty) {
            let changes = self.store.changes(&self.state);
            if !changes.is_empty() {
                return Some(RoomOutput::Persist(Box::new(changes)));
            }
        }
        self.out.pop_front()
    }
}

/// A name or title as the room keeps it: cleaned, `None` when empty, an
/// error when longer than allowed (never cut silently).
pub fn check_title(cfg: &RoomConfig, title: &str) -> Result<Option<String>, String> {
    let clean = clean_text(title, usize::MAX);
    if clean.chars().count() > cfg.max_title_chars {
        return Err(format!("at most {} characters", cfg.max_title_chars));
    }
    Ok(Some(clean).filter(|t| !t.is_empty()))
}

/// A source as the room plays it: an http(s) URL the shell's guard allows,
/// or a path on this server; no spaces, control characters or backslashes.
pub fn check_source(cfg: &RoomConfig, url: String, title: Option<String>) -> Result<SourceInfo, (ErrorCode, String)> {
    let title = match title {
        Some(t) => check_title(cfg, &t).map_err(|m| (ErrorCode::BadCommand, format!("title: {m}")))?,
        None => None,
    };
    if url.len() > cfg.max_url_chars {
        return refuse(ErrorCode::BadCommand, format!("a source is at most {} bytes", cfg.max_url_chars));
    }
    match crate::source::Source::parse(&url) {
        Err(e) => return refuse(ErrorCode::BadCommand, e.to_string()),
        // Played by its own embed or from each member's disk: nothing is fetched through the room.
        Ok(s @ (Source::YouTube { .. } | Source::Vimeo { .. } | Source::Local(_))) => return Ok(SourceInfo::new(s.canonical(), title)),
        Ok(Source::Media(_)) => {}
    }
    let url = url.trim().to_string();
    let ok = url.len() <= cfg.max_url_chars
        && (url.starts_with("https://") || url.starts_with("http://") || (url.starts_with('/') && !url.starts_with("//")))
        && !url.chars().any(|c| c.is_control() || c.is_whitespace() || c == '\\');
    if !ok {
        return refuse(
            ErrorCode::BadCommand,
            format!(
                "source must be an http(s) URL or a path on this server, at most {} bytes, without spaces, control characters or backslashes",
                cfg.max_url_chars
            ),
        );
    }
    if let (Some(guard), false) = (cfg.source_guard, url.starts_with('/')) {
        if let Err(why) = guard(&url) {
            return Err((ErrorCode::BadCommand, format!("this source is not allowed: {why}")));
        }
    }
    Ok(SourceInfo::new(url, title))
}

/// The password rule, at creation and for `set_password` alike.
pub fn check_password_rule(cfg: &RoomConfig, password: String) -> Result<String, (ErrorCode, String)> {
    let n = password.chars().count();
    if n == 0 || n > cfg.max_password_chars || password.chars().any(char::is_control) {
        return refuse(ErrorCode::BadCommand, format!("a password has 1 to {} characters, none of them control characters", cfg.max_password_chars));
    }
    Ok(password)
}

mod names;
pub mod store;
pub use names::{clean_name, clean_text, distinct, poses_as_role};
use store::{Store, StoreChanges};

#[cfg(test)]
mod tests;
