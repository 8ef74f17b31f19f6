//! Wire protocol: versioned JSON messages between a client and its room.
//!
//! Every message is one JSON object with a protocol version `v` and a `type`.
//! Unknown fields are ignored (so newer peers can add fields); an unknown
//! `type` is a typed error. See `PROTOCOL.md` for an example of each message.

use serde::{Deserialize, Serialize};

use crate::json::{self, FieldError, Fields, ObjWriter, Value};
use crate::timeline::Playback;
use crate::Millis;

/// The protocol version this crate speaks.
pub const VERSION: u64 = 1;

/// A member of a room, numbered by the room.
pub type MemberId = u64;

/// Client → server.
#[derive(Clone, Debug, PartialEq)]
pub enum ClientMsg {
    /// First message on a socket: who I am.
    Hello {
        name: String,
        /// The room password, if the room has one.
        password: Option<String>,
        /// The token from an earlier `welcome`: get the same member back.
        resume: Option<String>,
        /// The host token from room creation: join as host.
        host_token: Option<String>,
    },
    /// Clock probe; `t0` is the client's send time on its own clock.
    Ping { t0: Millis },
    /// A command; `id` is chosen by the client and echoed in the change it
    /// causes (or in the error that refuses it).
    Command { id: u64, command: Command },
    /// How this member is doing.
    Status {
        buffering: bool,
        drift_ms: Option<f64>,
        rtt_ms: Option<f64>,
        /// Duration of the current source, once the element knows it.
        duration: Option<f64>,
        /// false: do not make the group wait while I buffer.
        hold: bool,
        /// How long seeks take to land on this client (learned, ms).
        seek_ms: Option<f64>,
        /// The `seq` of the `source` (or welcome) this report is about: the
        /// room takes `duration` only for the source it is playing now.
        source_seq: Option<u64>,
    },
    /// A chat line.
    Chat { text: String },
    /// I am leaving for good: remove me now (no reconnect grace).
    Leave,
}

/// A member's role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Viewer,
    Controller,
    Host,
}

/// Who may control playback and the queue.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PermissionMode {
    /// Everyone controls.
    #[default]
    Open,
    /// Only the host and controllers.
    Controlled,
}

/// Whether a member of `role` may control playback, the source, the queue
/// and the room's subtitles in a room of `mode` (host-only commands aside).
/// The one rule: the room enforces it, the client shows it.
pub fn can_control(mode: PermissionMode, role: Role) -> bool {
    mode == PermissionMode::Open || role >= Role::Controller
}

/// A member's status.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MemberStatus {
    #[default]
    Ready,
    Buffering,
    /// Disconnected, within the reconnect grace period.
    Away,
}

/// A command.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    Play {
        position: Option<f64>,
    },
    Pause {
        position: Option<f64>,
    },
    Seek {
        position: f64,
    },
    SetRate {
        rate: f64,
    },
    SetSource {
        url: String,
        title: Option<String>,
    },
    QueueAdd {
        url: String,
        title: Option<String>,
    },
    QueueRemove {
        item: u64,
    },
    QueueMove {
        item: u64,
        to: usize,
    },
    QueueNext,
    Kick {
        member: MemberId,
    },
    TransferHost {
        member: MemberId,
    },
    SetRole {
        member: MemberId,
        role: Role,
    },
    /// Remove one of the room's subtitle files.
    RemoveSubtitle {
        id: u64,
    },
    /// Shift the room's subtitles for everyone (ms, positive: later).
    SetSubtitleDelay {
        ms: f64,
    },
    /// The language a member who has not picked gets (BCP 47, or empty: none).
    SetSubtitleLanguage {
        language: String,
    },
    SetMode {
        mode: PermissionMode,
    },
    SetPassword {
        password: Option<String>,
    },
    /// Lift a ban (host only).
    Unban {
        ban: u64,
    },
}

/// Why the playback state changed, when it was not simply a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// A member is buffering: the group waits.
    Buffering,
    /// Everyone is ready again (or the wait timed out): the group resumes.
    Resume,
    /// The item ended and the queue moved on.
    Advance,
    /// The item ended and nothing is queued.
    End,
}

/// Server → client.
#[derive(Clone, Debug, PartialEq)]
pub enum ServerMsg {
    /// Answer to `hello`: your id, role, resume token and the whole room.
    Welcome { member: MemberId, role: Role, resume: String, server_time: Millis, room: Box<RoomSnapshot> },
    /// Answer to `ping`: the server's receive (`t1`) and send (`t2`) times.
    Pong { t0: Millis, t1: Millis, t2: Millis },
    /// The playback state changed.
    State { seq: u64, playback: Playback, cause: Option<Cause>, reason: Option<Reason> },
    /// The source changed (playback restarts paused at 0, or playing when the queue advanced).
    Source { seq: u64, source: SourceInfo, playback: Playback, cause: Option<Cause> },
    /// A member joined or changed (role, status, drift, RTT). The full list
    /// comes with `welcome`; after that only changes, so a join costs O(n).
    Member { member: MemberInfo },
    /// A member left for good (grace over, or kicked).
    MemberLeft { id: MemberId },
    /// In a large room, the member changes of the last half second at once:
    /// members that joined or changed, and members gone for good.
    Members { members: Vec<MemberInfo>, left: Vec<MemberId> },
    /// The whole queue (sent by older rooms; this one sends deltas).
    Queue { items: Vec<QueueItem>, cause: Option<Cause> },
    /// An item was added to the queue at index `at`.
    QueueAdded { item: QueueItem, at: usize, cause: Option<Cause> },
    /// An item left the queue (removed, or it is now playing).
    QueueRemoved { id: u64, cause: Option<Cause> },
    /// An item moved to index `to`.
    QueueMoved { id: u64, to: usize, cause: Option<Cause> },
    /// The room's ban list changed (kick bans; the host can lift a ban).
    Bans { bans: Vec<BanInfo> },
    /// The room's subtitle files or their delay changed.
    Subtitles { subtitles: Vec<SubtitleInfo>, delay_ms: f64, language: String, cause: Option<Cause> },
    /// Room settings changed.
    Settings { mode: PermissionMode, has_password: bool, cause: Option<Cause> },
    /// A chat line.
    Chat { line: ChatLine },
    /// Something this client sent was refused.
    Error { code: ErrorCode, message: String, command_id: Option<u64> },
}

/// Which member's command caused a change.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Cause {
    pub member: MemberId,
    pub command_id: u64,
}

/// What is playing.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SourceInfo {
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// What a player should fetch instead of `url`: a signed media-proxy URL
    /// the server adds on the way out for absolute http(s) sources. Never
    /// stored, never taken from clients.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub play_url: Option<String>,
}

impl SourceInfo {
    pub fn new(url: impl Into<String>, title: Option<String>) -> Self {
        SourceInfo { url: url.into(), title, play_url: None }
    }

    /// Which player plays it: only [`SourceKind::Media`] is fetched (through
    /// the media proxy when absolute).
    pub fn kind(&self) -> crate::source::SourceKind {
        crate::source::Source::parse(&self.url).map_or(crate::source::SourceKind::Media, |s| s.kind())
    }

    /// The URL a player loads.
    pub fn playable(&self) -> &str {
        self.play_url.as_deref().unwrap_or(&self.url)
    }
}

impl ServerMsg {
    /// Every source this message carries, to be annotated by the server.
    pub fn sources_mut(&mut self) -> Vec<&mut SourceInfo> {
        match self {
            ServerMsg::Welcome { room, .. } => room.source.iter_mut().collect(),
            ServerMsg::Source { source, .. } => vec![source],
            _ => Vec::new(),
        }
    }
}

/// A queued item.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QueueItem {
    pub id: u64,
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    pub added_by: MemberId,
}

/// A chat line.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChatLine {
    pub id: u64,
    pub member: MemberId,
    pub name: String,
    pub text: String,
    /// Server time.
    pub at: Millis,
}

/// A subtitle file added to the room (its cues are served as WebVTT at
/// `GET /api/rooms/:id/subtitles/:id`, to members).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SubtitleInfo {
    pub id: u64,
    pub label: String,
    /// BCP 47 tag, or empty.
    pub language: String,
    pub cues: u64,
    /// Who added it (the name then).
    pub by: String,
}

/// The whole room as a newcomer sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct RoomSnapshot {
    pub seq: u64,
    pub name: Option<String>,
    pub source: Option<SourceInfo>,
    pub playback: Playback,
    pub members: Vec<MemberInfo>,
    pub queue: Vec<QueueItem>,
    pub chat: Vec<ChatLine>,
    pub mode: PermissionMode,
    pub has_password: bool,
    /// The `seq` at which the current source was set.
    pub source_seq: u64,
    pub bans: Vec<BanInfo>,
    /// The room's subtitle files, and the delay everyone applies to them.
    pub subtitles: Vec<SubtitleInfo>,
    pub subtitle_delay_ms: f64,
    /// The room's default subtitle language (empty: none).
    pub subtitle_language: String,
    /// The group is waiting for buffering members: paused, but it means to
    /// play again (what the `buffering` reason of the state that paused it
    /// said to those who were there). Left out of the wire when false.
    pub waiting: bool,
}

/// A ban as members see it: who, not from where.
#[derive(Clone, Debug, PartialEq)]
pub struct BanInfo {
    pub id: u64,
    pub name: String,
}

/// A member as others see it.
#[derive(Clone, Debug, PartialEq)]
pub struct MemberInfo {
    pub id: MemberId,
    pub name: String,
    pub role: Role,
    pub status: MemberStatus,
    pub drift_ms: Option<f64>,
    pub rtt_ms: Option<f64>,
}

/// Error codes sent in [`ServerMsg::Error`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    BadMessage,
    UnknownType,
    UnsupportedVersion,
    NotJoined,
    AlreadyJoined,
    BadCommand,
    Forbidden,
    NoSuchMember,
    NoSuchItem,
    WrongPassword,
    Kicked,
    TooLarge,
    RateLimited,
    BinaryNotSupported,
    /// This identity or address was removed from the room by its host.
    Banned,
    /// A member made the group wait too long: it no longer waits for it for a while.
    HoldLimited,
    /// A name that is empty once cleaned, or that poses as a role.
    BadName,
    /// The room has as many members (or waiting sockets) as it takes, in all or from one address.
    RoomFull,
}

/// Why a message could not be decoded.
#[derive(Clone, Debug, PartialEq)]
pub enum ProtocolError {
    NotJson(String),
    NotAnObject,
    MissingVersion,
    UnsupportedVersion(String),
    MissingType,
    UnknownType(String),
    BadField(String),
}

impl ProtocolError {
    /// The wire error code for this decoding failure.
    pub fn code(&self) -> ErrorCode {
        match self {
            ProtocolError::UnknownType(_) => ErrorCode::UnknownType,
            ProtocolError::UnsupportedVersion(_) | ProtocolError::MissingVersion => ErrorCode::UnsupportedVersion,
            _ => ErrorCode::BadMessage,
        }
    }
}

impl std::fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProtocolError::NotJson(e) => write!(f, "not JSON: {e}"),
            ProtocolError::NotAnObject => write!(f, "a message must be a JSON object"),
            ProtocolError::MissingVersion => write!(f, "missing protocol version \"v\""),
            ProtocolError::UnsupportedVersion(v) => write!(f, "unsupported protocol version {v} (this server speaks {VERSION})"),
            ProtocolError::MissingType => write!(f, "missing message \"type\""),
            ProtocolError::UnknownType(t) => write!(f, "unknown message type \"{t}\""),
            ProtocolError::BadField(e) => write!(f, "bad field: {e}"),
        }
    }
}

impl std::error::Error for ProtocolError {}

/// Parses `text` and checks its version; `read` builds the message of the
/// given `type` (`None`: a type this side does not know).
fn decode_with<T>(text: &str, read: impl FnOnce(&str, Fields) -> Result<Option<T>, FieldError>) -> Result<T, ProtocolError> {
    let v = json::parse(text).map_err(|e| ProtocolError::NotJson(e.to_string()))?;
    let (f, ty) = header(&v)?;
    match read(ty, f) {
        Ok(Some(m)) => Ok(m),
        Ok(None) => Err(ProtocolError::UnknownType(ty.chars().take(64).collect())),
        Err(e) => Err(ProtocolError::BadField(e.to_string())),
    }
}

fn header(v: &Value) -> Result<(Fields<'_>, &str), ProtocolError> {
    let f = Fields::of(v).ok_or(ProtocolError::NotAnObject)?;
    match f.0.iter().find(|(k, _)| k == "v").map(|(_, v)| v) {
        None => return Err(ProtocolError::MissingVersion),
        Some(Value::Num(n)) if *n == VERSION as f64 => {}
        Some(Value::Num(n)) => {
            let mut s = String::new();
            decimal::write_f64(&mut s, *n);
            return Err(ProtocolError::UnsupportedVersion(s));
        }
        Some(_) => return Err(ProtocolError::UnsupportedVersion("(not a number)".into())),
    }
    match f.get("type") {
        Some(Value::Str(t)) => Ok((f, t.as_str())),
        _ => Err(ProtocolError::MissingType),
    }
}

/// A message with its version and type written first.
fn message(ty: &str, body: impl FnOnce(&mut ObjWriter)) -> String {
    json::object(|o| {
        o.uint("v", VERSION).str("type", ty);
        body(o);
    })
}

/// Plain data carried inside messages: written and read field by field, in
/// the same shape as inside a message (the browser shell hands these to
/// page scripts as they are).
pub trait Wire: Sized {
    fn write(&self, o: &mut ObjWriter);
    fn read(f: Fields) -> Result<Self, FieldError>;
    fn to_json(&self, out: &mut String) {
        json::write_obj(out, |o| self.write(o));
    }
    fn json(&self) -> String {
        json::object(|o| self.write(o))
    }
}

/// `items` as a JSON array of objects.
pub fn json_array<T: Wire>(items: &[T]) -> String {
    let mut out = String::new();
    arr(items)(&mut out);
    out
}

fn obj<T: Wire>(v: &T) -> impl FnOnce(&mut String) + '_ {
    move |out| v.to_json(out)
}

fn arr<T: Wire>(items: &[T]) -> impl FnOnce(&mut String) + '_ {
    move |out| json::write_arr(out, items, |out, item| item.to_json(out))
}

/// `as_str` / `from_name` for an enum sent by its snake_case name.
macro_rules! wire_names {
    ($ty:ident { $($v:ident = $s:literal),* $(,)? }) => {
        impl $ty {
            /// The name on the wire.
            pub fn as_str(self) -> &'static str {
                match self { $($ty::$v => $s),* }
            }
            /// From the name on the wire.
            pub fn from_name(s: &str) -> Option<Self> {
                match s { $($s => Some($ty::$v),)* _ => None }
            }
        }
    };
}

wire_names!(Role { Viewer = "viewer", Controller = "controller", Host = "host" });
wire_names!(PermissionMode { Open = "open", Controlled = "controlled" });
wire_names!(MemberStatus { Ready = "ready", Buffering = "buffering", Away = "away" });
wire_names!(Reason { Buffering = "buffering", Resume = "resume", Advance = "advance", End = "end" });
wire_names!(ErrorCode {
    BadMessage = "bad_message",
    UnknownType = "unknown_type",
    UnsupportedVersion = "unsupported_version",
    NotJoined = "not_joined",
    AlreadyJoined = "already_joined",
    BadCommand = "bad_command",
    Forbidden = "forbidden",
    NoSuchMember = "no_such_member",
    NoSuchItem = "no_such_item",
    WrongPassword = "wrong_password",
    Kicked = "kicked",
    TooLarge = "too_large",
    RateLimited = "rate_limited",
    BinaryNotSupported = "binary_not_supported",
    Banned = "banned",
    HoldLimited = "hold_limited",
    BadName = "bad_name",
    RoomFull = "room_full",
});

impl Wire for Playback {
    fn write(&self, o: &mut ObjWriter) {
        o.bool("playing", self.playing).num("position", self.position).num("rate", self.rate).num("t_ref", self.t_ref);
    }
    fn read(f: Fields) -> Result<Self, FieldError> {
        Ok(Playback { playing: f.bool("playing")?, position: f.num("position")?, rate: f.num("rate")?, t_ref: f.num("t_ref")? })
    }
}

impl Wire for Cause {
    fn write(&self, o: &mut ObjWriter) {
        o.uint("member", self.member).uint("command_id", self.command_id);
    }
    fn read(f: Fields) -> Result<Self, FieldError> {
        Ok(Cause { member: f.uint("member")?, command_id: f.uint("command_id")? })
    }
}

fn opt_cause(o: &mut ObjWriter, cause: &Option<Cause>) {
    if let Some(c) = cause {
        o.with("cause", obj(c));
    }
}

fn read_cause(f: Fields) -> Result<Option<Cause>, FieldError> {
    f.opt_obj("cause")?.map(Cause::read).transpose()
}

impl Wire for SourceInfo {
    fn write(&self, o: &mut ObjWriter) {
        o.str("url", &self.url).opt_str("title", self.title.as_deref()).opt_str("play_url", self.play_url.as_deref());
    }
    fn read(f: Fields) -> Result<Self, FieldError> {
        Ok(SourceInfo { url: f.str("url")?, title: f.opt_str("title")?, play_url: f.opt_str("play_url")? })
    }
}

impl Wire for QueueItem {
    fn write(&self, o: &mut ObjWriter) {
        o.uint("id", self.id).str("url", &self.url).opt_str("title", self.title.as_deref()).uint("added_by", self.added_by);
    }
    fn read(f: Fields) -> Result<Self, FieldError> {
        Ok(QueueItem { id: f.uint("id")?, url: f.str("url")?, title: f.opt_str("title")?, added_by: f.uint("added_by")? })
    }
}

impl Wire for ChatLine {
    fn write(&self, o: &mut ObjWriter) {
        o.uint("id", self.id).uint("member", self.member).str("name", &self.name).str("text", &self.text).num("at", self.at);
    }
    fn read(f: Fields) -> Result<Self, FieldError> {
        Ok(ChatLine { id: f.uint("id")?, member: f.uint("member")?, name: f.str("name")?, text: f.str("text")?, at: f.num("at")? })
    }
}

impl Wire for MemberInfo {
    fn write(&self, o: &mut ObjWriter) {
        o.uint("id", self.id).str("name", &self.name).str("role", self.role.as_str()).str("status", self.status.as_str());
        o.opt_num("drift_ms", self.drift_ms).opt_num("rtt_ms", self.rtt_ms);
    }
    fn read(f: Fields) -> Result<Self, FieldError> {
        Ok(MemberInfo {
            id: f.uint("id")?,
            name: f.str("name")?,
            role: f.name("role", Role::from_name)?,
            status: f.name("status", MemberStatus::from_name)?,
            drift_ms: f.opt_num("drift_ms")?,
            rtt_ms: f.opt_num("rtt_ms")?,
        })
    }
}

impl Wire for BanInfo {
    fn write(&self, o: &mut ObjWriter) {
        o.uint("id", self.id).str("name", &self.name);
    }
    fn read(f: Fields) -> Result<Self, FieldError> {
        Ok(BanInfo { id: f.uint("id")?, name: f.str("name")? })
    }
}

impl Wire for SubtitleInfo {
    fn write(&self, o: &mut ObjWriter) {
        o.uint("id", self.id).str("label", &self.label).str("language", &self.language).uint("cues", self.cues).str("by", &self.by);
    }
    fn read(f: Fields) -> Result<Self, FieldError> {
        Ok(SubtitleInfo { id: f.uint("id")?, label: f.str("label")?, language: f.str("language")?, cues: f.uint("cues")?, by: f.str("by")? })
    }
}

impl Wire for RoomSnapshot {
    fn write(&self, o: &mut ObjWriter) {
        o.uint("seq", self.seq).opt_str("name", self.name.as_deref());
        if let Some(s) = &self.source {
            o.with("source", obj(s));
        }
        o.with("playback", obj(&self.playback)).with("members", arr(&self.members)).with("queue", arr(&self.queue)).with("chat", arr(&self.chat));
        o.str("mode", self.mode.as_str()).bool("has_password", self.has_password).uint("source_seq", self.source_seq);
        if !self.bans.is_empty() {
            o.with("bans", arr(&self.bans));
        }
        if !self.subtitles.is_empty() || self.subtitle_delay_ms != 0.0 || !self.subtitle_language.is_empty() {
            o.with("subtitles", arr(&self.subtitles)).num("subtitle_delay_ms", self.subtitle_delay_ms).str("subtitle_language", &self.subtitle_language);
        }
        if self.waiting {
            o.bool("waiting", true);
        }
    }
    fn read(f: Fields) -> Result<Self, FieldError> {
        Ok(RoomSnapshot {
            seq: f.uint("seq")?,
            name: f.opt_str("name")?,
            source: f.opt_obj("source")?.map(SourceInfo::read).transpose()?,
            playback: Playback::read(f.obj("playback")?)?,
            members: f.arr("members", MemberInfo::read)?,
            queue: f.arr("queue", QueueItem::read)?,
            chat: f.arr("chat", ChatLine::read)?,
            mode: f.name("mode", PermissionMode::from_name)?,
            has_password: f.bool("has_password")?,
            source_seq: f.opt_uint("source_seq")?.unwrap_or(0),
            bans: if f.get("bans").is_some() { f.arr("bans", BanInfo::read)? } else { Vec::new() },
            subtitles: if f.get("subtitles").is_some() { f.arr("subtitles", SubtitleInfo::read)? } else { Vec::new() },
            subtitle_delay_ms: f.opt_num("subtitle_delay_ms")?.unwrap_or(0.0),
            subtitle_language: f.opt_str("subtitle_language")?.unwrap_or_default(),
            waiting: f.opt_bool("waiting")?.unwrap_or(false),
        })
    }
}

impl Wire for Command {
    fn write(&self, o: &mut ObjWriter) {
        use Command::*;
        let op = match self {
            Play { .. } => "play",
            Pause { .. } => "pause",
            Seek { .. } => "seek",
            SetRate { .. } => "set_rate",
            SetSource { .. } => "set_source",
            QueueAdd { .. } => "queue_add",
            QueueRemove { .. } => "queue_remove",
            QueueMove { .. } => "queue_move",
            QueueNext => "queue_next",
            Kick { .. } => "kick",
            TransferHost { .. } => "transfer_host",
            SetRole { .. } => "set_role",
            RemoveSubtitle { .. } => "remove_subtitle",
            SetSubtitleDelay { .. } => "set_subtitle_delay",
            SetSubtitleLanguage { .. } => "set_subtitle_language",
            SetMode { .. } => "set_mode",
            SetPassword { .. } => "set_password",
            Unban { .. } => "unban",
        };
        o.str("op", op);
        match self {
            Play { position } | Pause { position } => {
                o.opt_num("position", *position);
            }
            Seek { position } => {
                o.num("position", *position);
            }
            SetRate { rate } => {
                o.num("rate", *rate);
            }
            SetSource { url, title } | QueueAdd { url, title } => {
                o.str("url", url).opt_str("title", title.as_deref());
            }
            QueueRemove { item } => {
                o.uint("item", *item);
            }
            QueueMove { item, to } => {
                o.uint("item", *item).uint("to", *to as u64);
            }
            QueueNext => {}
            RemoveSubtitle { id } => {
                o.uint("id", *id);
            }
            SetSubtitleDelay { ms } => {
                o.num("ms", *ms);
            }
            SetSubtitleLanguage { language } => {
                o.str("language", language);
            }
            Kick { member } | TransferHost { member } => {
                o.uint("member", *member);
            }
            SetRole { member, role } => {
                o.uint("member", *member).str("role", role.as_str());
            }
            SetMode { mode } => {
                o.str("mode", mode.as_str());
            }
            SetPassword { password } => {
                o.opt_str("password", password.as_deref());
            }
            Unban { ban } => {
                o.uint("ban", *ban);
            }
        }
    }
    fn read(f: Fields) -> Result<Self, FieldError> {
        use Command::*;
        let op = f.str("op")?;
        Ok(match op.as_str() {
            "play" => Play { position: f.opt_num("position")? },
            "pause" => Pause { position: f.opt_num("position")? },
            "seek" => Seek { position: f.num("position")? },
            "set_rate" => SetRate { rate: f.num("rate")? },
            "set_source" => SetSource { url: f.str("url")?, title: f.opt_str("title")? },
            "queue_add" => QueueAdd { url: f.str("url")?, title: f.opt_str("title")? },
            "queue_remove" => QueueRemove { item: f.uint("item")? },
            "queue_move" => QueueMove { item: f.uint("item")?, to: usize::try_from(f.uint("to")?).unwrap_or(usize::MAX) },
            "queue_next" => QueueNext,
            "kick" => Kick { member: f.uint("member")? },
            "transfer_host" => TransferHost { member: f.uint("member")? },
            "set_role" => SetRole { member: f.uint("member")?, role: f.name("role", Role::from_name)? },
            "remove_subtitle" => RemoveSubtitle { id: f.uint("id")? },
            "set_subtitle_delay" => SetSubtitleDelay { ms: f.num("ms")? },
            "set_subtitle_language" => SetSubtitleLanguage { language: f.str("language")? },
            "set_mode" => SetMode { mode: f.name("mode", PermissionMode::from_name)? },
            "set_password" => SetPassword { password: f.opt_str("password")? },
            "unban" => Unban { ban: f.uint("ban")? },
            _ => return Err(FieldError { field: "op".into(), expected: "a known command" }),
        })
    }
}

impl ClientMsg {
    /// The `type` on the wire.
    pub fn type_name(&self) -> &'static str {
        match self {
            ClientMsg::Hello { .. } => "hello",
            ClientMsg::Ping { .. } => "ping",
            ClientMsg::Command { .. } => "command",
            ClientMsg::Status { .. } => "status",
            ClientMsg::Chat { .. } => "chat",
            ClientMsg::Leave => "leave",
        }
    }

    pub fn encode(&self) -> String {
        message(self.type_name(), |o| match self {
            ClientMsg::Hello { name, password, resume, host_token } => {
                o.str("name", name).opt_str("password", password.as_deref()).opt_str("resume", resume.as_deref()).opt_str("host_token", host_token.as_deref());
            }
            ClientMsg::Ping { t0 } => {
                o.num("t0", *t0);
            }
            ClientMsg::Command { id, command } => {
                o.uint("id", *id).with("command", obj(command));
            }
            ClientMsg::Status { buffering, drift_ms, rtt_ms, duration, hold, seek_ms, source_seq } => {
                o.bool("buffering", *buffering).opt_num("drift_ms", *drift_ms).opt_num("rtt_ms", *rtt_ms).opt_num("duration", *duration);
                if !hold {
                    o.bool("hold", false);
                }
                o.opt_num("seek_ms", *seek_ms).opt_uint("source_seq", *source_seq);
            }
            ClientMsg::Chat { text } => {
                o.str("text", text);
            }
            ClientMsg::Leave => {}
        })
    }

    pub fn decode(text: &str) -> Result<Self, ProtocolError> {
        decode_with(text, |ty, f| {
            Ok(Some(match ty {
                "hello" => ClientMsg::Hello {
                    name: f.str("name")?,
                    password: f.opt_str("password")?,
                    resume: f.opt_str("resume")?,
                    host_token: f.opt_str("host_token")?,
                },
                "ping" => ClientMsg::Ping { t0: f.num("t0")? },
                "command" => ClientMsg::Command { id: f.uint("id")?, command: Command::read(f.obj("command")?)? },
                "status" => ClientMsg::Status {
                    buffering: f.bool("buffering")?,
                    drift_ms: f.opt_num("drift_ms")?,
                    rtt_ms: f.opt_num("rtt_ms")?,
                    duration: f.opt_num("duration")?,
                    hold: f.opt_bool("hold")?.unwrap_or(true),
                    seek_ms: f.opt_num("seek_ms")?,
                    source_seq: f.opt_uint("source_seq")?,
                },
                "chat" => ClientMsg::Chat { text: f.str("text")? },
                "leave" => ClientMsg::Leave,
                _ => return Ok(None),
            }))
        })
    }
}

impl ServerMsg {
    /// The `type` on the wire.
    pub fn type_name(&self) -> &'static str {
        match self {
            ServerMsg::Welcome { .. } => "welcome",
            ServerMsg::Pong { .. } => "pong",
            ServerMsg::State { .. } => "state",
            ServerMsg::Source { .. } => "source",
            ServerMsg::Member { .. } => "member",
            ServerMsg::MemberLeft { .. } => "member_left",
            ServerMsg::Members { .. } => "members",
            ServerMsg::Queue { .. } => "queue",
            ServerMsg::QueueAdded { .. } => "queue_added",
            ServerMsg::QueueRemoved { .. } => "queue_removed",
            ServerMsg::QueueMoved { .. } => "queue_moved",
            ServerMsg::Bans { .. } => "bans",
            ServerMsg::Subtitles { .. } => "subtitles",
            ServerMsg::Settings { .. } => "settings",
            ServerMsg::Chat { .. } => "chat",
            ServerMsg::Error { .. } => "error",
        }
    }

    pub fn encode(&self) -> String {
        message(self.type_name(), |o| match self {
            ServerMsg::Welcome { member, role, resume, server_time, room } => {
                o.uint("member", *member).str("role", role.as_str()).str("resume", resume).num("server_time", *server_time).with("room", obj(&**room));
            }
            ServerMsg::Pong { t0, t1, t2 } => {
                o.num("t0", *t0).num("t1", *t1).num("t2", *t2);
            }
            ServerMsg::State { seq, playback, cause, reason } => {
                o.uint("seq", *seq).with("playback", obj(playback));
                opt_cause(o, cause);
                o.opt_str("reason", reason.map(Reason::as_str));
            }
            ServerMsg::Source { seq, source, playback, cause } => {
                o.uint("seq", *seq).with("source", obj(source)).with("playback", obj(playback));
                opt_cause(o, cause);
            }
            ServerMsg::Member { member } => {
                o.with("member", obj(member));
            }
            ServerMsg::MemberLeft { id } => {
                o.uint("id", *id);
            }
            ServerMsg::Members { members, left } => {
                o.with("members", arr(members)).with("left", |out| json::write_arr(out, left, |o, id| decimal::write_u64(o, *id)));
            }
            ServerMsg::Queue { items, cause } => {
                o.with("items", arr(items));
                opt_cause(o, cause);
            }
            ServerMsg::QueueAdded { item, at, cause } => {
                o.with("item", obj(item)).uint("at", *at as u64);
                opt_cause(o, cause);
            }
            ServerMsg::QueueRemoved { id, cause } => {
                o.uint("id", *id);
                opt_cause(o, cause);
            }
            ServerMsg::QueueMoved { id, to, cause } => {
                o.uint("id", *id).uint("to", *to as u64);
                opt_cause(o, cause);
            }
            ServerMsg::Bans { bans } => {
                o.with("bans", arr(bans));
            }
            ServerMsg::Subtitles { subtitles, delay_ms, language, cause } => {
                o.with("subtitles", arr(subtitles)).num("delay_ms", *delay_ms).str("language", language);
                opt_cause(o, cause);
            }
            ServerMsg::Settings { mode, has_password, cause } => {
                o.str("mode", mode.as_str()).bool("has_password", *has_password);
                opt_cause(o, cause);
            }
            ServerMsg::Chat { line } => {
                o.with("line", obj(line));
            }
            ServerMsg::Error { code, message, command_id } => {
                o.str("code", code.as_str()).str("message", message).opt_uint("command_id", *command_id);
            }
        })
    }

    pub fn decode(text: &str) -> Result<Self, ProtocolError> {
        decode_with(text, |ty, f| {
            Ok(Some(match ty {
                "welcome" => ServerMsg::Welcome {
                    member: f.uint("member")?,
                    role: f.name("role", Role::from_name)?,
                    resume: f.str("resume")?,
                    server_time: f.num("server_time")?,
                    room: Box::new(RoomSnapshot::read(f.obj("room")?)?),
                },
                "pong" => ServerMsg::Pong { t0: f.num("t0")?, t1: f.num("t1")?, t2: f.num("t2")? },
                "state" => ServerMsg::State {
                    seq: f.uint("seq")?,
                    playback: Playback::read(f.obj("playback")?)?,
                    cause: read_cause(f)?,
                    reason: f.opt_name("reason", Reason::from_name)?,
                },
                "source" => ServerMsg::Source {
                    seq: f.uint("seq")?,
                    source: SourceInfo::read(f.obj("source")?)?,
                    playback: Playback::read(f.obj("playback")?)?,
                    cause: read_cause(f)?,
                },
                "member" => ServerMsg::Member { member: MemberInfo::read(f.obj("member")?)? },
                "member_left" => ServerMsg::MemberLeft { id: f.uint("id")? },
                "members" => ServerMsg::Members { members: f.arr("members", MemberInfo::read)?, left: f.uint_arr("left")? },
                "queue" => ServerMsg::Queue { items: f.arr("items", QueueItem::read)?, cause: read_cause(f)? },
                "queue_added" => ServerMsg::QueueAdded {
                    item: QueueItem::read(f.obj("item")?)?,
                    at: usize::try_from(f.uint("at")?).unwrap_or(usize::MAX),
                    cause: read_cause(f)?,
                },
                "queue_removed" => ServerMsg::QueueRemoved { id: f.uint("id")?, cause: read_cause(f)? },
                "queue_moved" => ServerMsg::QueueMoved { id: f.uint("id")?, to: usize::try_from(f.uint("to")?).unwrap_or(usize::MAX), cause: read_cause(f)? },
                "bans" => ServerMsg::Bans { bans: f.arr("bans", BanInfo::read)? },
                "subtitles" => ServerMsg::Subtitles {
                    subtitles: f.arr("subtitles", SubtitleInfo::read)?,
                    delay_ms: f.num("delay_ms")?,
                    language: f.opt_str("language")?.unwrap_or_default(),
                    cause: read_cause(f)?,
                },
                "settings" => {
                    ServerMsg::Settings { mode: f.name("mode", PermissionMode::from_name)?, has_password: f.bool("has_password")?, cause: read_cause(f)? }
                }
                "chat" => ServerMsg::Chat { line: ChatLine::read(f.obj("line")?)? },
                "error" => ServerMsg::Error { code: f.name("code", ErrorCode::from_name)?, message: f.str("message")?, command_id: f.opt_uint("command_id")? },
                _ => return Ok(None),
            }))
        })
    }
}

/// Length of a room id: 16 random bytes, base64url without padding.
pub const ROOM_ID_LEN: usize = 22;

/// The one room-id rule (worker routes, the wasm `join`, the JS API):
/// exactly [`ROOM_ID_LEN`] characters of the base64url alphabet.
pub fn valid_room_id(id: &str) -> bool {
    id.len() == ROOM_ID_LEN && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// WebSocket close codes the room uses, and what a client does after each.
pub mod close {
    /// Left for good (`leave`, or the reconnect grace is over).
    pub const GONE: u16 = 1000;
    /// The room was deleted (expired): do not reconnect.
    pub const EXPIRED: u16 = 1001;
    /// Too many refused messages in a row: reconnect after a back-off.
    pub const ABUSE: u16 = 1008;
    /// The room failed: reconnect after a back-off.
    pub const ERROR: u16 = 1011;
    /// Removed and banned by the host: do not reconnect.
    pub const KICKED: u16 = 4001;
    /// Wrong or missing password: do not reconnect without a new one.
    pub const WRONG_PASSWORD: u16 = 4003;
    /// No `hello` within the deadline: reconnect after a back-off.
    pub const HELLO_TIMEOUT: u16 = 4008;
    /// Banned identity or address, or the room is full: do not reconnect.
    pub const REFUSED: u16 = 4009;

    /// Whether a client may reconnect (with back-off) after this close code.
    pub fn may_reconnect(code: u16) -> bool {
        !matches!(code, EXPIRED | KICKED | WRONG_PASSWORD | REFUSED)
    }

    /// Every code with its wire name, for the JS API and the docs.
    pub const ALL: [(u16, &str); 8] = [
        (GONE, "gone"),
        (EXPIRED, "expired"),
        (ABUSE, "abuse"),
        (ERROR, "error"),
        (KICKED, "kicked"),
        (WRONG_PASSWORD, "wrong_password"),
        (HELLO_TIMEOUT, "hello_timeout"),
        (REFUSED, "refused"),
    ];
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_messages_round_trip_with_a_version() {
        let msgs = [
            ClientMsg::Hello { name: "ana".into(), password: Some("pw".into()), resume: None, host_token: None },
            ClientMsg::Chat { text: "hi".into() },
            ClientMsg::Command { id: 9, command: Command::SetRole { member: 2, role: Role::Controller } },
            ClientMsg::Command { id: 10, command: Command::QueueMove { item: 4, to: 0 } },
            ClientMsg::Ping { t0: 12.5 },
            ClientMsg::Command { id: 7, command: Command::Seek { position: 10.0 } },
            ClientMsg::Command { id: 8, command: Command::Play { position: None } },
            ClientMsg::Status { buffering: true, drift_ms: Some(3.0), rtt_ms: None, duration: None, hold: false, seek_ms: Some(120.0), source_seq: Some(4) },
        ];
        for m in msgs {
            let text = m.encode();
            assert!(text.starts_with("{\"v\":1,"), "{text}");
            assert_eq!(ClientMsg::decode(&text), Ok(m));
        }
    }

    #[test]
    fn the_wire_format_is_the_documented_one() {
        let m = ClientMsg::decode(r#"{"v":1,"type":"command","id":3,"command":{"op":"pause","position":4.5}}"#);
        assert_eq!(m, Ok(ClientMsg::Command { id: 3, command: Command::Pause { position: Some(4.5) } }));
    }

    #[test]
    fn optional_fields_default() {
        let m = ClientMsg::decode(r#"{"v":1,"type":"status","buffering":false}"#);
        assert_eq!(m, Ok(ClientMsg::Status { buffering: false, drift_ms: None, rtt_ms: None, duration: None, hold: true, seek_ms: None, source_seq: None }));
        let m = ClientMsg::decode(r#"{"v":1,"type":"hello","name":"x"}"#);
        assert_eq!(m, Ok(ClientMsg::Hello { name: "x".into(), password: None, resume: None, host_token: None }));
    }

    #[test]
    fn unknown_fields_are_ignored() {
        let m = ClientMsg::decode(r#"{"v":1,"type":"ping","t0":1,"future":"field"}"#);
        assert_eq!(m, Ok(ClientMsg::Ping { t0: 1.0 }));
    }

    #[test]
    fn bad_input_gives_typed_errors() {
        assert!(matches!(ClientMsg::decode("nope"), Err(ProtocolError::NotJson(_))));
        assert_eq!(ClientMsg::decode("[1]"), Err(ProtocolError::NotAnObject));
        assert_eq!(ClientMsg::decode(r#"{"type":"ping","t0":1}"#), Err(ProtocolError::MissingVersion));
        assert!(matches!(ClientMsg::decode(r#"{"v":2,"type":"ping","t0":1}"#), Err(ProtocolError::UnsupportedVersion(_))));
        assert_eq!(ClientMsg::decode(r#"{"v":1,"t0":1}"#), Err(ProtocolError::MissingType));
        let e = ClientMsg::decode(r#"{"v":1,"type":"launch_rockets"}"#).unwrap_err();
        assert_eq!(e, ProtocolError::UnknownType("launch_rockets".into()));
        assert_eq!(e.code(), ErrorCode::UnknownType);
        assert!(matches!(ClientMsg::decode(r#"{"v":1,"type":"ping","t0":"soon"}"#), Err(ProtocolError::BadField(_))));
        // A server-only type is unknown to the server.
        assert!(matches!(ClientMsg::decode(r#"{"v":1,"type":"welcome"}"#), Err(ProtocolError::UnknownType(_))));
    }

    /// Every example in PROTOCOL.md decodes, and encoding it again gives the
    /// same JSON (numbers compared as numbers: `38.0` is written `38`).
    #[test]
    fn every_documented_example_decodes_and_encodes_back_to_itself() {
        fn norm(v: serde_json::Value) -> serde_json::Value {
            use serde_json::Value as J;
            match v {
                J::Number(n) => J::from(n.as_f64().unwrap_or(f64::NAN)),
                J::Array(a) => J::Array(a.into_iter().map(norm).collect()),
                J::Object(o) => J::Object(o.into_iter().map(|(k, v)| (k, norm(v))).collect()),
                v => v,
            }
        }
        let doc = include_str!("../../PROTOCOL.md");
        let lines: Vec<&str> =
            doc.split("```json").skip(1).flat_map(|block| block.split("```").next().unwrap_or("").lines()).filter(|l| l.starts_with('{')).collect();
        let (mut client, mut server, mut commands) = (0, 0, 0);
        for line in lines {
            let (encoded, text) = if line.starts_with("{\"op\"") {
                let wrapped = format!(r#"{{"v":1,"type":"command","id":1,"command":{line}}}"#);
                let Ok(ClientMsg::Command { command, .. }) = ClientMsg::decode(&wrapped) else { panic!("{line}") };
                commands += 1;
                let mut out = String::new();
                command.to_json(&mut out);
                (out, line.to_string())
            } else if let Ok(m) = ClientMsg::decode(line) {
                client += 1;
                (m.encode(), line.to_string())
            } else {
                let m = ServerMsg::decode(line).unwrap_or_else(|e| panic!("{line}: {e}"));
                assert_eq!(ServerMsg::decode(&m.encode()).as_ref(), Ok(&m));
                server += 1;
                (m.encode(), line.to_string())
            };
            let (ours, doc): (serde_json::Value, serde_json::Value) = (serde_json::from_str(&encoded).unwrap(), serde_json::from_str(&text).unwrap());
            assert_eq!(norm(ours), norm(doc), "{text}");
        }
        assert_eq!((client, commands, server), (7, 18, 16), "every example was checked");
    }

    /// Seeded mutations of real messages (byte flips, cuts, splices): the
    /// decoders answer every one with a message or a typed error, never a
    /// panic, and whatever decodes encodes to something that decodes again.
    #[test]
    fn mangled_messages_never_panic() {
        let doc = include_str!("../../PROTOCOL.md");
        let seeds: Vec<&[u8]> = doc.lines().filter(|l| l.starts_with("{\"v\"")).map(str::as_bytes).collect();
        let mut rng = crate::rng::Rng::new(7);
        let mut pick = |n: usize| (rng.next_f64() * n as f64) as usize % n.max(1);
        let alphabet = b"{}[]\",:\\-+.eE0123456789tfnul u\xc3\xa9";
        let (mut ok, mut refused) = (0, 0);
        for _ in 0..20_000 {
            let mut m = seeds[pick(seeds.len())].to_vec();
            for _ in 0..1 + pick(4) {
                let at = pick(m.len() + 1);
                match pick(4) {
                    0 if at < m.len() => m[at] = alphabet[pick(alphabet.len())],
                    1 => m.truncate(at),
                    2 => m.insert(at.min(m.len()), alphabet[pick(alphabet.len())]),
                    _ => {
                        let other = seeds[pick(seeds.len())];
                        let from = pick(other.len());
                        m.splice(at.min(m.len())..at.min(m.len()), other[from..].iter().copied().take(pick(20)));
                    }
                }
            }
            let Ok(text) = std::str::from_utf8(&m) else { continue };
            match (ClientMsg::decode(text), ServerMsg::decode(text)) {
                (Ok(c), _) => {
                    assert_eq!(ClientMsg::decode(&c.encode()).map(|d| d.encode()), Ok(c.encode()));
                    ok += 1;
                }
                (_, Ok(s)) => {
                    assert_eq!(ServerMsg::decode(&s.encode()).map(|d| d.encode()), Ok(s.encode()));
                    ok += 1;
                }
                _ => refused += 1,
            }
        }
        assert!(ok > 300 && refused > 1_000, "both outcomes exercised: {ok} decoded, {refused} refused");
    }

    #[test]
    fn field_errors_name_the_field() {
        let e = ClientMsg::decode(r#"{"v":1,"type":"command","id":1,"command":{"op":"set_role","member":2,"role":"admin"}}"#).unwrap_err();
        assert_eq!(e, ProtocolError::BadField("field `role`: expected a known name".into()));
        let e = ClientMsg::decode(r#"{"v":1,"type":"command","id":1,"command":{"op":"self_destruct"}}"#).unwrap_err();
        assert_eq!(e, ProtocolError::BadField("field `op`: expected a known command".into()));
        let e = ClientMsg::decode(r#"{"v":1,"type":"command","id":-1,"command":{"op":"queue_next"}}"#).unwrap_err();
        assert_eq!(e, ProtocolError::BadField("field `id`: expected a whole number ≥ 0".into()));
        assert_eq!(ClientMsg::decode(r#"{"v":"1","type":"leave"}"#), Err(ProtocolError::UnsupportedVersion("(not a number)".into())));
        assert_eq!(ClientMsg::decode(r#"{"v":1,"type":"leave","extra":[1,{"deep":null}]}"#), Ok(ClientMsg::Leave));
    }

    #[test]
    fn server_messages_round_trip() {
        let m = ServerMsg::State {
            seq: 4,
            playback: Playback { playing: true, position: 1.0, rate: 1.0, t_ref: 99.0 },
            cause: Some(Cause { member: 2, command_id: 9 }),
            reason: None,
        };
        assert_eq!(ServerMsg::decode(&m.encode()), Ok(m));
        let e = ServerMsg::Error { code: ErrorCode::RateLimited, message: "slow down".into(), command_id: None };
        assert!(e.encode().contains("\"code\":\"rate_limited\""));
    }
}
