//! The server-side room state machine.
//!
//! The Durable Object owns one [`Room`]: it hands in socket events with
//! `now` (server milliseconds) and drains [`RoomOutput`]s to send, broadcast
//! and persist. The room never trusts a client's idea of the state: every
//! change is made here, numbered with `seq` and broadcast to all members.

use std::collections::{BTreeMap, VecDeque};

use serde::{Deserialize, Serialize};

use crate::protocol::{
    Cause, ClientMsg, Command, ErrorCode, MemberId, MemberInfo, RoomSnapshot, ServerMsg,
};
use crate::timeline::Playback;
use crate::Millis;

#[derive(Clone, Debug)]
pub struct RoomConfig {
    pub max_name_chars: usize,
    pub max_url_chars: usize,
}

impl Default for RoomConfig {
    fn default() -> Self {
        RoomConfig { max_name_chars: 40, max_url_chars: 2048 }
    }
}

/// What the room keeps in storage.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PersistedRoom {
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub playback: Playback,
    #[serde(default)]
    pub seq: u64,
    #[serde(default)]
    pub next_member: MemberId,
}

/// What a socket carries across hibernation (its attachment).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SocketMember {
    pub id: MemberId,
    /// `None` until the member said hello.
    pub name: Option<String>,
}

/// Work for the shell.
#[derive(Clone, Debug, PartialEq)]
pub enum RoomOutput {
    /// Send to one member.
    Send { to: MemberId, msg: ServerMsg },
    /// Send to every member that said hello.
    Broadcast { msg: ServerMsg },
    /// Write this to storage before anything else is acknowledged.
    Persist(PersistedRoom),
    /// Store this on the member's socket (survives hibernation).
    Attach(SocketMember),
}

#[derive(Clone, Debug)]
struct Member {
    name: Option<String>,
    buffering: bool,
    drift_ms: Option<f64>,
    rtt_ms: Option<f64>,
}

pub struct Room {
    cfg: RoomConfig,
    state: PersistedRoom,
    members: BTreeMap<MemberId, Member>,
    out: VecDeque<RoomOutput>,
}

impl Room {
    /// A room as stored, with the members whose sockets are still open.
    pub fn restore(cfg: RoomConfig, state: PersistedRoom, sockets: impl IntoIterator<Item = SocketMember>) -> Self {
        let mut room = Room { cfg, state, members: BTreeMap::new(), out: VecDeque::new() };
        for s in sockets {
            room.state.next_member = room.state.next_member.max(s.id + 1);
            room.members.insert(s.id, Member { name: s.name, buffering: false, drift_ms: None, rtt_ms: None });
        }
        room
    }

    pub fn state(&self) -> &PersistedRoom {
        &self.state
    }

    /// Members that said hello.
    pub fn member_count(&self) -> usize {
        self.members.values().filter(|m| m.name.is_some()).count()
    }

    /// Set the source (room creation or a host action): playback restarts paused at 0.
    pub fn handle_set_source(&mut self, now: Millis, url: String, cause: Option<Cause>) {
        self.state.source = Some(url.clone());
        self.state.playback = Playback { t_ref: now, ..Playback::default() };
        self.state.seq += 1;
        self.out.push_back(RoomOutput::Persist(self.state.clone()));
        self.out.push_back(RoomOutput::Broadcast {
            msg: ServerMsg::Source { seq: self.state.seq, url, playback: self.state.playback, cause },
        });
    }

    /// A socket was accepted: returns the id of its member.
    pub fn handle_connect(&mut self, _now: Millis) -> MemberId {
        let id = self.state.next_member;
        self.state.next_member += 1;
        self.members.insert(id, Member { name: None, buffering: false, drift_ms: None, rtt_ms: None });
        self.out.push_back(RoomOutput::Persist(self.state.clone()));
        self.out.push_back(RoomOutput::Attach(SocketMember { id, name: None }));
        id
    }

    /// A socket closed or failed.
    pub fn handle_disconnect(&mut self, _now: Millis, member: MemberId) {
        if let Some(m) = self.members.remove(&member) {
            if m.name.is_some() {
                self.broadcast_members();
            }
        }
    }

    /// A text frame from `member`.
    pub fn handle_text(&mut self, now: Millis, member: MemberId, text: &str) {
        if !self.members.contains_key(&member) {
            return;
        }
        match ClientMsg::decode(text) {
            Ok(msg) => self.handle_msg(now, member, msg),
            Err(e) => self.send_error(member, e.code(), e.to_string(), None),
        }
    }

    /// A frame that was refused before decoding (too large, binary, rate limited).
    pub fn handle_refused(&mut self, member: MemberId, code: ErrorCode, message: String) {
        self.send_error(member, code, message, None);
    }

    fn handle_msg(&mut self, now: Millis, member: MemberId, msg: ClientMsg) {
        match msg {
            ClientMsg::Ping { t0 } => {
                // The server clock is read once per event: receive and send times are equal.
                self.out.push_back(RoomOutput::Send { to: member, msg: ServerMsg::Pong { t0, t1: now, t2: now } });
            }
            ClientMsg::Hello { name } => {
                let name = clean_text(&name, self.cfg.max_name_chars);
                let name = if name.is_empty() { format!("Guest {member}") } else { name };
                if let Some(m) = self.members.get_mut(&member) {
                    m.name = Some(name.clone());
                }
                self.out.push_back(RoomOutput::Attach(SocketMember { id: member, name: Some(name) }));
                let room = self.snapshot();
                self.out.push_back(RoomOutput::Send { to: member, msg: ServerMsg::Welcome { member, server_time: now, room } });
                self.broadcast_members();
            }
            ClientMsg::Command { id, command } => {
                if !self.joined(member) {
                    return self.send_error(member, ErrorCode::NotJoined, "say hello first".into(), Some(id));
                }
                self.handle_command(now, member, id, command);
            }
            ClientMsg::Status { buffering, drift_ms, rtt_ms } => {
                if let Some(m) = self.members.get_mut(&member) {
                    m.buffering = buffering;
                    m.drift_ms = drift_ms.filter(|d| d.is_finite());
                    m.rtt_ms = rtt_ms.filter(|d| d.is_finite());
                }
            }
        }
    }

    fn handle_command(&mut self, now: Millis, member: MemberId, id: u64, command: Command) {
        let cause = Some(Cause { member, command_id: id });
        let valid_pos = |p: f64| p.is_finite() && p >= 0.0;
        match command {
            Command::Play { position } | Command::Pause { position } if position.is_some_and(|p| !valid_pos(p)) => {
                self.send_error(member, ErrorCode::BadCommand, "position must be a finite number >= 0".into(), Some(id))
            }
            Command::Seek { position } if !valid_pos(position) => {
                self.send_error(member, ErrorCode::BadCommand, "position must be a finite number >= 0".into(), Some(id))
            }
            Command::Play { position } => {
                self.state.playback.play(now, position);
                self.state_changed(cause);
            }
            Command::Pause { position } => {
                self.state.playback.pause(now, position);
                self.state_changed(cause);
            }
            Command::Seek { position } => {
                self.state.playback.seek(now, position);
                self.state_changed(cause);
            }
            Command::SetSource { url } => {
                let ok = url.len() <= self.cfg.max_url_chars && (url.starts_with("https://") || url.starts_with("http://") || url.starts_with('/'));
                if !ok {
                    return self.send_error(member, ErrorCode::BadCommand, "source must be an http(s) URL or a path".into(), Some(id));
                }
                self.handle_set_source(now, url, cause);
            }
        }
    }

    fn state_changed(&mut self, cause: Option<Cause>) {
        self.state.seq += 1;
        self.out.push_back(RoomOutput::Persist(self.state.clone()));
        self.out.push_back(RoomOutput::Broadcast {
            msg: ServerMsg::State { seq: self.state.seq, playback: self.state.playback, cause },
        });
    }

    fn joined(&self, member: MemberId) -> bool {
        self.members.get(&member).is_some_and(|m| m.name.is_some())
    }

    fn send_error(&mut self, to: MemberId, code: ErrorCode, message: String, command_id: Option<u64>) {
        self.out.push_back(RoomOutput::Send { to, msg: ServerMsg::Error { code, message, command_id } });
    }

    fn member_list(&self) -> Vec<MemberInfo> {
        self.members
            .iter()
            .filter_map(|(id, m)| {
                Some(MemberInfo { id: *id, name: m.name.clone()?, buffering: m.buffering, drift_ms: m.drift_ms, rtt_ms: m.rtt_ms })
            })
            .collect()
    }

    fn broadcast_members(&mut self) {
        let members = self.member_list();
        self.out.push_back(RoomOutput::Broadcast { msg: ServerMsg::Members { members } });
    }

    /// The room as a newcomer sees it.
    pub fn snapshot(&self) -> RoomSnapshot {
        RoomSnapshot {
            seq: self.state.seq,
            source: self.state.source.clone(),
            playback: self.state.playback,
            members: self.member_list(),
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
mod tests {
    use super::*;

    fn drain(room: &mut Room) -> Vec<RoomOutput> {
        std::iter::from_fn(|| room.poll_output()).collect()
    }

    fn joined_room() -> (Room, MemberId, MemberId) {
        let mut room = Room::restore(RoomConfig::default(), PersistedRoom::default(), []);
        room.handle_set_source(0.0, "/media/demo/manifest.mpd".into(), None);
        let a = room.handle_connect(1.0);
        let b = room.handle_connect(1.0);
        room.handle_text(2.0, a, r#"{"v":1,"type":"hello","name":"Ana"}"#);
        room.handle_text(2.0, b, r#"{"v":1,"type":"hello","name":"Bo\u0007b"}"#);
        drain(&mut room);
        (room, a, b)
    }

    #[test]
    fn hello_gets_a_welcome_with_the_whole_room() {
        let mut room = Room::restore(RoomConfig::default(), PersistedRoom::default(), []);
        room.handle_set_source(0.0, "/m.mpd".into(), None);
        let a = room.handle_connect(5.0);
        drain(&mut room);
        room.handle_text(10.0, a, r#"{"v":1,"type":"hello","name":"  Ana  "}"#);
        let out = drain(&mut room);
        assert!(out.contains(&RoomOutput::Attach(SocketMember { id: a, name: Some("Ana".into()) })));
        let welcome = out.iter().find_map(|o| match o {
            RoomOutput::Send { to, msg: ServerMsg::Welcome { member, server_time, room } } if *to == a => Some((*member, *server_time, room.clone())),
            _ => None,
        });
        let (member, server_time, snap) = welcome.expect("welcome sent");
        assert_eq!((member, server_time), (a, 10.0));
        assert_eq!(snap.source.as_deref(), Some("/m.mpd"));
        assert_eq!(snap.members.len(), 1);
    }

    #[test]
    fn a_command_changes_state_persists_and_reaches_everyone() {
        let (mut room, a, _b) = joined_room();
        room.handle_text(1_000.0, a, r#"{"v":1,"type":"command","id":1,"command":{"op":"play","position":3}}"#);
        let out = drain(&mut room);
        let persisted = out.iter().position(|o| matches!(o, RoomOutput::Persist(p) if p.playback.playing));
        let broadcast = out.iter().position(|o| matches!(o, RoomOutput::Broadcast { msg: ServerMsg::State { cause: Some(Cause { member, command_id: 1 }), .. } } if *member == a));
        assert!(persisted.is_some() && broadcast.is_some());
        assert!(persisted < broadcast, "persist before telling anyone");
        assert!((room.state().playback.position_at(3_000.0) - 5.0).abs() < 1e-9);
    }

    #[test]
    fn names_are_cleaned_and_bounded() {
        let (room, _, b) = joined_room();
        let snap = room.snapshot();
        assert_eq!(snap.members.iter().find(|m| m.id == b).map(|m| m.name.as_str()), Some("Bob"));
        assert_eq!(clean_text(&"x".repeat(100), 40).len(), 40);
    }

    #[test]
    fn bad_input_is_answered_to_its_sender_only_and_changes_nothing() {
        let (mut room, a, _) = joined_room();
        let before = room.state().clone();
        for bad in [
            "{",
            r#"{"v":1,"type":"nuke"}"#,
            r#"{"v":1,"type":"command","id":2,"command":{"op":"seek","position":-1}}"#,
            r#"{"v":1,"type":"command","id":3,"command":{"op":"set_source","url":"javascript:alert(1)"}}"#,
        ] {
            room.handle_text(50.0, a, bad);
            let out = drain(&mut room);
            assert_eq!(out.len(), 1, "{bad}: {out:?}");
            assert!(matches!(&out[0], RoomOutput::Send { to, msg: ServerMsg::Error { .. } } if *to == a), "{bad}");
        }
        assert_eq!(room.state(), &before);
    }

    #[test]
    fn commands_before_hello_are_refused() {
        let mut room = Room::restore(RoomConfig::default(), PersistedRoom::default(), []);
        let a = room.handle_connect(0.0);
        drain(&mut room);
        room.handle_text(1.0, a, r#"{"v":1,"type":"command","id":1,"command":{"op":"play"}}"#);
        let out = drain(&mut room);
        assert!(matches!(&out[..], [RoomOutput::Send { msg: ServerMsg::Error { code: ErrorCode::NotJoined, command_id: Some(1), .. }, .. }]));
        assert!(!room.state().playback.playing);
    }

    #[test]
    fn pings_are_answered_with_server_time() {
        let (mut room, a, _) = joined_room();
        room.handle_text(777.0, a, r#"{"v":1,"type":"ping","t0":5}"#);
        assert_eq!(drain(&mut room), vec![RoomOutput::Send { to: a, msg: ServerMsg::Pong { t0: 5.0, t1: 777.0, t2: 777.0 } }]);
    }

    #[test]
    fn a_room_restored_after_hibernation_keeps_state_members_and_ids() {
        let (mut room, a, b) = joined_room();
        room.handle_text(100.0, a, r#"{"v":1,"type":"command","id":1,"command":{"op":"seek","position":42}}"#);
        drain(&mut room);
        let stored = room.state().clone();
        let sockets = vec![SocketMember { id: a, name: Some("Ana".into()) }, SocketMember { id: b, name: Some("Bob".into()) }];
        let mut woken = Room::restore(RoomConfig::default(), stored.clone(), sockets);
        assert_eq!(woken.state(), &stored);
        assert_eq!(woken.member_count(), 2);
        let c = woken.handle_connect(200.0);
        assert!(c > b, "ids are never reused");
        woken.handle_disconnect(300.0, a);
        assert_eq!(woken.member_count(), 1);
    }
}
