//! Wire protocol: versioned JSON messages between a client and its room.
//!
//! Every message is one JSON object with a protocol version `v` and a `type`.
//! Unknown fields are ignored (so newer peers can add fields); an unknown
//! `type` is a typed error. See `PROTOCOL.md` for an example of each message.

use serde::{Deserialize, Serialize};

use crate::timeline::Playback;
use crate::Millis;

/// The protocol version this crate speaks.
pub const VERSION: u64 = 1;

/// A member of a room, numbered by the room.
pub type MemberId = u64;

/// Client → server.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMsg {
    /// First message on a socket: who I am.
    Hello {
        name: String,
        /// The room password, if the room has one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        password: Option<String>,
        /// The token from an earlier `welcome`: get the same member back.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        resume: Option<String>,
        /// The host token from room creation: join as host.
        #[serde(default, skip_serializing_if = "Option::is_none")]
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
        #[serde(default, skip_serializing_if = "Option::is_none")]
        drift_ms: Option<f64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        rtt_ms: Option<f64>,
        /// Duration of the current source, once the element knows it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        duration: Option<f64>,
        /// false: do not make the group wait while I buffer.
        #[serde(default = "yes", skip_serializing_if = "is_true")]
        hold: bool,
        /// How long seeks take to land on this client (learned, ms).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seek_ms: Option<f64>,
    },
    /// A chat line.
    Chat { text: String },
    /// I am leaving for good: remove me now (no reconnect grace).
    Leave,
}

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

const CLIENT_TYPES: &[&str] = &["hello", "ping", "command", "status", "chat", "leave"];

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
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Command {
    Play {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        position: Option<f64>,
    },
    Pause {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        position: Option<f64>,
    },
    Seek { position: f64 },
    SetRate { rate: f64 },
    SetSource {
        url: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        title: Option<String>,
    },
    QueueAdd {
        url: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        title: Option<String>,
    },
    QueueRemove { item: u64 },
    QueueMove { item: u64, to: usize },
    QueueNext,
    Kick { member: MemberId },
    TransferHost { member: MemberId },
    SetRole { member: MemberId, role: Role },
    SetMode { mode: PermissionMode },
    SetPassword {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        password: Option<String>,
    },
}

/// Why the playback state changed, when it was not simply a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
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
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMsg {
    /// Answer to `hello`: your id, role, resume token and the whole room.
    Welcome { member: MemberId, role: Role, resume: String, server_time: Millis, room: RoomSnapshot },
    /// Answer to `ping`: the server's receive (`t1`) and send (`t2`) times.
    Pong { t0: Millis, t1: Millis, t2: Millis },
    /// The playback state changed.
    State {
        seq: u64,
        playback: Playback,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cause: Option<Cause>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<Reason>,
    },
    /// The source changed (playback restarts paused at 0, or playing when the queue advanced).
    Source {
        seq: u64,
        source: SourceInfo,
        playback: Playback,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cause: Option<Cause>,
    },
    /// A member joined or changed (role, status, drift, RTT). The full list
    /// comes with `welcome`; after that only changes, so a join costs O(n).
    Member { member: MemberInfo },
    /// A member left for good (grace over, or kicked).
    MemberLeft { id: MemberId },
    /// The queue changed.
    Queue {
        items: Vec<QueueItem>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cause: Option<Cause>,
    },
    /// Room settings changed.
    Settings {
        mode: PermissionMode,
        has_password: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cause: Option<Cause>,
    },
    /// A chat line.
    Chat { line: ChatLine },
    /// Something this client sent was refused.
    Error {
        code: ErrorCode,
        message: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        command_id: Option<u64>,
    },
}

/// Which member's command caused a change.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
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

/// The whole room as a newcomer sees it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RoomSnapshot {
    pub seq: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<SourceInfo>,
    pub playback: Playback,
    pub members: Vec<MemberInfo>,
    pub queue: Vec<QueueItem>,
    pub chat: Vec<ChatLine>,
    pub mode: PermissionMode,
    pub has_password: bool,
}

/// A member as others see it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MemberInfo {
    pub id: MemberId,
    pub name: String,
    pub role: Role,
    pub status: MemberStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtt_ms: Option<f64>,
}

/// Error codes sent in [`ServerMsg::Error`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
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
            ProtocolError::UnknownType(t) => write!(f, "unknown message type {t:?}"),
            ProtocolError::BadField(e) => write!(f, "bad field: {e}"),
        }
    }
}

impl std::error::Error for ProtocolError {}

#[derive(Serialize)]
struct Versioned<'a, T> {
    v: u64,
    #[serde(flatten)]
    msg: &'a T,
}

fn encode<T: Serialize>(msg: &T) -> String {
    // Serializing these plain data types cannot fail (no maps with non-string
    // keys, no failing Serialize impls); fall back to an empty object anyway.
    serde_json::to_string(&Versioned { v: VERSION, msg }).unwrap_or_else(|_| String::from("{}"))
}

fn decode<T: for<'de> Deserialize<'de>>(text: &str, types: &[&str]) -> Result<T, ProtocolError> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| ProtocolError::NotJson(e.to_string()))?;
    let obj = value.as_object().ok_or(ProtocolError::NotAnObject)?;
    match obj.get("v") {
        None => return Err(ProtocolError::MissingVersion),
        Some(v) if v.as_u64() == Some(VERSION) => {}
        Some(v) => return Err(ProtocolError::UnsupportedVersion(v.to_string())),
    }
    let ty = obj.get("type").and_then(|t| t.as_str()).ok_or(ProtocolError::MissingType)?;
    if !types.contains(&ty) {
        return Err(ProtocolError::UnknownType(ty.chars().take(64).collect()));
    }
    serde_json::from_value(value).map_err(|e| ProtocolError::BadField(e.to_string()))
}

impl ClientMsg {
    pub fn encode(&self) -> String {
        encode(self)
    }
    pub fn decode(text: &str) -> Result<Self, ProtocolError> {
        decode(text, CLIENT_TYPES)
    }
}

const SERVER_TYPES: &[&str] = &["welcome", "pong", "state", "source", "member", "member_left", "queue", "settings", "chat", "error"];

impl ServerMsg {
    pub fn encode(&self) -> String {
        encode(self)
    }
    pub fn decode(text: &str) -> Result<Self, ProtocolError> {
        decode(text, SERVER_TYPES)
    }
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
            ClientMsg::Status { buffering: true, drift_ms: Some(3.0), rtt_ms: None, duration: None, hold: false, seek_ms: Some(120.0) },
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
        assert_eq!(m, Ok(ClientMsg::Status { buffering: false, drift_ms: None, rtt_ms: None, duration: None, hold: true, seek_ms: None }));
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
