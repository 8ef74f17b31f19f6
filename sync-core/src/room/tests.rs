//! Room scenarios, written as scripts against the room machine alone.

use super::*;

/// A room and its outputs, with helpers that read like a script.
struct Script {
    room: Room,
    now: Millis,
    sent: Vec<(ConnId, ServerMsg)>,
    broadcasts: Vec<ServerMsg>,
    closed: Vec<(ConnId, u16)>,
    expired: bool,
    /// Subtitle files whose text the shell was told to delete.
    dropped: Vec<u64>,
    /// What storage holds: every write the room asked for, applied.
    storage: std::collections::BTreeMap<String, store::Part>,
}

impl Script {
    fn new(opts: CreateOptions) -> Self {
        let mut s = Script {
            room: Room::create(RoomConfig::default(), 0.0, opts, [5; 32]).expect("a valid room"),
            now: 0.0,
            sent: vec![],
            broadcasts: vec![],
            closed: vec![],
            expired: false,
            dropped: vec![],
            storage: Default::default(),
        };
        s.drain();
        s
    }

    fn drain(&mut self) {
        while let Some(o) = self.room.poll_output() {
            match o {
                RoomOutput::Send { to, msg } => self.sent.push((to, msg)),
                RoomOutput::Broadcast { msg } => self.broadcasts.push(msg),
                RoomOutput::Close { conn, code, .. } => self.closed.push((conn, code)),
                RoomOutput::Expire => self.expired = true,
                RoomOutput::DropSubtitle { id } => self.dropped.push(id),
                RoomOutput::Persist(changes) => apply(&mut self.storage, *changes),
                RoomOutput::Attach(_) | RoomOutput::Log { .. } => {}
            }
        }
    }

    /// The room as a restart would read it from storage.
    fn persisted(&self) -> PersistedRoom {
        let meta = match self.storage.get(store::META_KEY) {
            Some(store::Part::Meta(m)) => (**m).clone(),
            other => panic!("no meta in storage: {other:?}"),
        };
        // Through JSON, as the Durable Object stores it.
        let meta: PersistedRoom = serde_json::from_str(&serde_json::to_string(&meta).unwrap()).unwrap();
        store::assemble(meta, self.storage.iter().filter(|(k, _)| k.as_str() != store::META_KEY).map(|(_, v)| v.clone()))
    }

    fn at(&mut self, ms: Millis) -> &mut Self {
        self.now = ms;
        if self.room.poll_timeout().is_some_and(|t| t <= ms) {
            self.room.handle_timeout(ms);
        }
        self.drain();
        self
    }

    /// A socket from an address of its own.
    fn connect(&mut self) -> ConnId {
        let n = self.room.state().next_conn;
        self.connect_from(&format!("203.0.113.{}", n % 250))
    }

    fn connect_from(&mut self, addr: &str) -> ConnId {
        let key = self.room.address_key(addr);
        let c = self.room.handle_connect(self.now, key).expect("accepted");
        self.drain();
        c
    }

    /// The `source_seq` a status about the current source carries.
    fn source_seq(&self) -> u64 {
        self.room.state().source_seq
    }

    fn send(&mut self, conn: ConnId, json: &str) {
        self.room.handle_text(self.now, conn, json);
        self.drain();
    }

    /// Connect and say hello; returns (conn, member, resume token).
    fn join(&mut self, name: &str, extra: &str) -> (ConnId, MemberId, String) {
        let c = self.connect();
        self.send(c, &format!(r#"{{"v":1,"type":"hello","name":"{name}"{extra}}}"#));
        match self.last_to(c) {
            Some(ServerMsg::Welcome { member, resume, .. }) => (c, member, resume),
            other => panic!("{name} was not welcomed: {other:?}"),
        }
    }

    fn command(&mut self, conn: ConnId, id: u64, cmd: &str) {
        self.send(conn, &format!(r#"{{"v":1,"type":"command","id":{id},"command":{cmd}}}"#));
    }

    fn status(&mut self, conn: ConnId, fields: &str) {
        self.send(conn, &format!(r#"{{"v":1,"type":"status",{fields}}}"#));
    }

    fn last_to(&self, conn: ConnId) -> Option<ServerMsg> {
        self.sent.iter().rev().find(|(c, _)| *c == conn).map(|(_, m)| m.clone())
    }

    fn error_to(&self, conn: ConnId) -> Option<ErrorCode> {
        match self.last_to(conn) {
            Some(ServerMsg::Error { code, .. }) => Some(code),
            _ => None,
        }
    }

    fn role(&self, member: MemberId) -> Option<Role> {
        self.room.state().members.iter().find(|m| m.id == member).map(|m| m.role)
    }

    fn playback(&self) -> Playback {
        self.room.state().playback
    }

    fn last_reason(&self) -> Option<Reason> {
        self.broadcasts.iter().rev().find_map(|m| match m {
            ServerMsg::State { reason, .. } => Some(*reason),
            _ => None,
        })?
    }
}

/// Apply one batch of writes to a key-value store.
fn apply(storage: &mut std::collections::BTreeMap<String, store::Part>, changes: store::StoreChanges) {
    for (k, v) in changes.put {
        storage.insert(k, v);
    }
    for k in changes.delete {
        storage.remove(&k);
    }
}

fn demo() -> CreateOptions {
    CreateOptions { source: Some(SourceInfo::new("/media/demo/manifest.mpd", Some("Demo".into()))), ..CreateOptions::default() }
}

#[test]
fn the_first_member_hosts_and_later_ones_view() {
    let mut s = Script::new(demo());
    let (_, ana, token) = s.join("Ana", "");
    let (_, bob, _) = s.join("Bob", "");
    assert_eq!(s.role(ana), Some(Role::Host));
    assert_eq!(s.role(bob), Some(Role::Viewer));
    assert_eq!(token.len(), 22, "a 128-bit resume token");
    assert!(!s.room.state().members.iter().any(|m| m.resume_hash.contains(&token)), "only its hash is stored");
}

#[test]
fn play_is_a_scheduled_start_for_everyone() {
    let mut s = Script::new(demo());
    let (a, _, _) = s.join("Ana", "");
    let (b, _, _) = s.join("Bob", "");
    s.status(b, r#""buffering":false,"rtt_ms":400"#);
    s.at(1_000.0).command(a, 1, r#"{"op":"play","position":5}"#);
    let pb = s.playback();
    assert!(pb.playing);
    assert_eq!(pb.t_ref, 1_800.0, "starts at now + 2 × the highest RTT");
    assert_eq!(pb.position_at(1_500.0), 5.0, "nobody moves before the start");
    assert!((pb.position_at(2_800.0) - 6.0).abs() < 1e-9);
    assert!(matches!(s.broadcasts.last(), Some(ServerMsg::State { cause: Some(Cause { command_id: 1, .. }), .. })));
}

#[test]
fn two_users_seeking_at_once_end_with_the_later_seek_everywhere() {
    let mut s = Script::new(demo());
    let (a, _, _) = s.join("Ana", "");
    let (b, _, _) = s.join("Bob", "");
    s.at(100.0).command(a, 1, r#"{"op":"seek","position":30}"#);
    s.command(b, 1, r#"{"op":"seek","position":50}"#);
    let states: Vec<(u64, f64)> = s
        .broadcasts
        .iter()
        .filter_map(|m| match m {
            ServerMsg::State { seq, playback, .. } => Some((*seq, playback.position)),
            _ => None,
        })
        .collect();
    assert_eq!(states.len(), 2);
    assert!(states[0].0 < states[1].0, "each change has a higher seq");
    assert_eq!(s.playback().position, 50.0);
}

#[test]
fn controlled_mode_blocks_viewers_but_not_controllers() {
    let mut s = Script::new(CreateOptions { mode: PermissionMode::Controlled, ..demo() });
    let (a, _, _) = s.join("Ana", "");
    let (b, bob, _) = s.join("Bob", "");
    s.command(b, 1, r#"{"op":"play"}"#);
    assert_eq!(s.error_to(b), Some(ErrorCode::Forbidden));
    assert!(!s.playback().playing);
    s.command(b, 2, r#"{"op":"set_mode","mode":"open"}"#);
    assert_eq!(s.error_to(b), Some(ErrorCode::Forbidden), "only the host changes settings");
    s.command(a, 1, &format!(r#"{{"op":"set_role","member":{bob},"role":"controller"}}"#));
    s.command(b, 3, r#"{"op":"play"}"#);
    assert!(s.playback().playing);
}

#[test]
fn a_buffering_member_makes_the_group_wait_then_resume_together() {
    let mut s = Script::new(demo());
    let (a, _, _) = s.join("Ana", "");
    let (b, _, _) = s.join("Bob", "");
    s.command(a, 1, r#"{"op":"play","position":0}"#);
    s.at(10_300.0).status(b, r#""buffering":true"#);
    assert!(!s.playback().playing, "the group waits");
    assert_eq!(s.last_reason(), Some(Reason::Buffering));
    assert!((s.playback().position - 10.0).abs() < 1e-9, "paused where the timeline was");
    s.at(12_000.0).status(b, r#""buffering":false"#);
    let pb = s.playback();
    assert!(pb.playing && pb.t_ref > 12_000.0, "resumes with a scheduled start");
    assert_eq!(pb.position, 10.0);
    assert_eq!(s.last_reason(), Some(Reason::Resume));
}

#[test]
fn a_newcomer_during_the_wait_is_told_the_group_waits() {
    let mut s = Script::new(demo());
    let (a, _, _) = s.join("Ana", "");
    let (b, _, _) = s.join("Bob", "");
    s.command(a, 1, r#"{"op":"play","position":0}"#);
    let welcome_waits = |s: &Script, c: ConnId| match s.last_to(c) {
        Some(ServerMsg::Welcome { room, .. }) => room.waiting,
        other => panic!("no welcome: {other:?}"),
    };
    let (c, _, _) = s.at(1_000.0).join("Cy", "");
    assert!(!welcome_waits(&s, c), "a playing room does not wait");
    s.at(10_300.0).status(b, r#""buffering":true"#);
    let (d, _, _) = s.at(10_500.0).join("Dee", "");
    assert!(welcome_waits(&s, d), "paused by the wait: the newcomer hears that the room means to play");
    assert!(!s.playback().playing);
    s.at(12_000.0).status(b, r#""buffering":false"#);
    let (e, _, _) = s.at(12_100.0).join("Eve", "");
    assert!(!welcome_waits(&s, e), "the wait is over");
    s.command(a, 2, r#"{"op":"pause"}"#);
    let (f, _, _) = s.at(13_000.0).join("Fay", "");
    assert!(!welcome_waits(&s, f), "a pause by a member is not a wait");
    // During a wait: a seek or a speed change keeps it, a pause or a new source ends it.
    s.command(a, 3, r#"{"op":"play"}"#);
    s.at(14_000.0).status(b, r#""buffering":true"#);
    for (id, at, cmd, waits) in [
        (4, 14_100.0, r#"{"op":"seek","position":30}"#, true),
        (5, 14_200.0, r#"{"op":"set_rate","rate":1.5}"#, true),
        (6, 14_300.0, r#"{"op":"pause"}"#, false),
    ] {
        s.at(at).command(a, id, cmd);
        let (g, _, _) = s.join("Gus", "");
        assert_eq!(welcome_waits(&s, g), waits, "after {cmd}");
    }
    s.command(a, 7, r#"{"op":"play"}"#);
    s.at(14_400.0).status(b, r#""buffering":false"#);
    s.at(15_000.0).status(b, r#""buffering":true"#);
    let (h, _, _) = s.join("Hal", "");
    assert!(welcome_waits(&s, h));
    s.command(a, 8, r#"{"op":"set_source","url":"https://x.example/b.mpd"}"#);
    let (i, _, _) = s.join("Ida", "");
    assert!(!welcome_waits(&s, i), "a new source ends the wait");
}

#[test]
fn a_wait_for_members_gone_while_the_room_slept_ends_when_it_wakes() {
    let mut s = Script::new(demo());
    let (a, ana, _) = s.join("Ana", "");
    let (b, bob, _) = s.join("Bob", "");
    s.command(a, 1, r#"{"op":"play","position":0}"#);
    s.at(5_000.0).status(b, r#""buffering":true"#);
    assert!(s.room.snapshot().waiting);
    // The room sleeps; Bob's socket closes meanwhile; it wakes with Ana's alone.
    let back = s.persisted();
    let mut woken = Room::restore(RoomConfig::default(), back, [SocketTag { conn: a, member: Some(ana), addr: String::new() }], 6_000.0, [6; 32], false);
    assert!(!woken.snapshot().waiting, "no one left to wait for");
    assert!(woken.state().playback.playing, "the group plays on");
    let mut resumed = false;
    while let Some(o) = woken.poll_output() {
        resumed |= matches!(o, RoomOutput::Broadcast { msg: ServerMsg::State { reason: Some(Reason::Resume), .. } });
    }
    assert!(resumed, "and says so");
    // Bob's socket survived the sleep: the wait goes on.
    let mut kept = Room::restore(
        RoomConfig::default(),
        s.persisted(),
        [SocketTag { conn: a, member: Some(ana), addr: String::new() }, SocketTag { conn: b, member: Some(bob), addr: String::new() }],
        6_000.0,
        [6; 32],
        false,
    );
    assert!(kept.snapshot().waiting && !kept.state().playback.playing, "Bob still buffers: the group still waits");
    while let Some(o) = kept.poll_output() {
        assert!(!matches!(o, RoomOutput::Broadcast { msg: ServerMsg::State { .. } }), "no state change: {o:?}");
    }
}

#[test]
fn a_member_that_never_recovers_is_timed_out_and_an_opt_out_never_holds() {
    let mut s = Script::new(demo());
    let (a, _, _) = s.join("Ana", "");
    let (b, bob, _) = s.join("Bob", "");
    let (c, _, _) = s.join("Cy", "");
    s.command(a, 1, r#"{"op":"play","position":0}"#);
    s.at(5_000.0).status(b, r#""buffering":true"#);
    assert!(!s.playback().playing);
    s.at(14_999.0);
    assert!(!s.playback().playing, "still waiting before the deadline");
    s.at(15_000.0);
    assert!(s.playback().playing, "the wait timed out");
    assert_eq!(s.error_to(b), Some(ErrorCode::HoldLimited), "Bob is told the group no longer waits for him");
    s.at(16_000.0).status(b, r#""buffering":false"#);
    s.at(17_000.0).status(b, r#""buffering":true"#);
    assert!(s.playback().playing, "Bob's next buffering does not re-arm the wait");
    let _ = bob;
    // Cy opted out of holding: buffering does not pause anyone.
    s.at(20_000.0).status(c, r#""buffering":true,"hold":false"#);
    assert!(s.playback().playing);
}

#[test]
fn reconnect_with_the_resume_token_gets_identity_and_role_back() {
    let mut s = Script::new(demo());
    let (a, ana, token) = s.join("Ana", "");
    let (_, bob, _) = s.join("Bob", "");
    s.room.handle_disconnect(1_000.0, a);
    s.drain();
    assert_eq!(s.room.state().members.iter().find(|m| m.id == ana).map(|m| m.status), Some(MemberStatus::Away));
    s.at(20_000.0);
    let (_, again, _) = s.join("Ana", &format!(r#","resume":"{token}""#));
    assert_eq!(again, ana);
    assert_eq!(s.role(ana), Some(Role::Host));
    assert_eq!(s.role(bob), Some(Role::Viewer));
    // A wrong token is simply a new member.
    let (_, other, _) = s.join("Eve", r#","resume":"forged-token""#);
    assert!(other != ana && other != bob);
}

#[test]
fn the_host_leaving_hands_host_to_the_longest_present_member() {
    let mut s = Script::new(demo());
    let (a, ana, _) = s.join("Ana", "");
    s.at(10.0);
    let (_, bob, _) = s.join("Bob", "");
    s.at(20.0);
    let (_, cy, _) = s.join("Cy", "");
    s.room.handle_disconnect(100.0, a);
    s.drain();
    assert_eq!(s.role(ana), Some(Role::Host), "still host during the grace period");
    s.at(30_100.0);
    assert_eq!(s.role(ana), None, "gone after the grace period");
    assert_eq!(s.role(bob), Some(Role::Host));
    assert_eq!(s.role(cy), Some(Role::Viewer));
}

#[test]
fn a_member_who_says_goodbye_is_gone_at_once_and_the_host_moves_on() {
    let mut s = Script::new(demo());
    let (a, ana, token) = s.join("Ana", "");
    s.at(10.0);
    let (_, bob, _) = s.join("Bob", "");
    s.send(a, r#"{"v":1,"type":"leave"}"#);
    assert_eq!(s.role(ana), None, "no reconnect grace after a goodbye");
    assert!(s.closed.contains(&(a, 1000)), "its socket is closed normally");
    assert!(s.broadcasts.contains(&ServerMsg::MemberLeft { id: ana }));
    assert_eq!(s.role(bob), Some(Role::Host), "the host role moves on now, not in 30 s");
    // The old resume token no longer brings Ana back: she is someone new.
    let (_, again, _) = s.join("Ana", &format!(r#","resume":"{token}""#));
    assert_ne!(again, ana);
    // A goodbye before hello is refused like anything else.
    let c = s.connect();
    s.send(c, r#"{"v":1,"type":"leave"}"#);
    assert_eq!(s.error_to(c), Some(ErrorCode::NotJoined));
}

#[test]
fn kick_and_host_transfer() {
    let mut s = Script::new(demo());
    let (a, _, _) = s.join("Ana", "");
    let (b, bob, _) = s.join("Bob", "");
    let (c, cy, _) = s.join("Cy", "");
    s.command(b, 1, &format!(r#"{{"op":"kick","member":{cy}}}"#));
    assert_eq!(s.error_to(b), Some(ErrorCode::Forbidden));
    s.command(a, 1, &format!(r#"{{"op":"kick","member":{cy}}}"#));
    assert_eq!(s.error_to(c), Some(ErrorCode::Kicked));
    assert!(s.closed.contains(&(c, 4001)));
    assert_eq!(s.role(cy), None);
    s.command(a, 2, &format!(r#"{{"op":"transfer_host","member":{bob}}}"#));
    assert_eq!(s.role(bob), Some(Role::Host));
    s.command(a, 3, r#"{"op":"set_mode","mode":"controlled"}"#);
    assert_eq!(s.error_to(a), Some(ErrorCode::Forbidden), "the old host is a controller now");
}

#[test]
fn the_host_token_claims_host() {
    let mut s = Script::new(CreateOptions { host_token: Some("creator-secret".into()), ..demo() });
    let (_, first, _) = s.join("Early", "");
    let (_, creator, _) = s.join("Creator", r#","host_token":"creator-secret""#);
    assert_eq!(s.role(creator), Some(Role::Host));
    assert_eq!(s.role(first), Some(Role::Controller));
    let (_, forger, _) = s.join("Forger", r#","host_token":"guess""#);
    assert_eq!(s.role(forger), Some(Role::Viewer));
    assert!(!s.room.state().host_token_hash.as_deref().unwrap_or("").contains("creator"));
}

#[test]
fn the_room_password_is_checked_and_changeable() {
    let mut s = Script::new(CreateOptions { password: Some("open sesame".into()), ..demo() });
    let c = s.connect();
    s.send(c, r#"{"v":1,"type":"hello","name":"X"}"#);
    assert_eq!(s.error_to(c), Some(ErrorCode::WrongPassword));
    assert!(s.closed.contains(&(c, 4003)));
    let c = s.connect();
    s.send(c, r#"{"v":1,"type":"hello","name":"X","password":"nope"}"#);
    assert_eq!(s.error_to(c), Some(ErrorCode::WrongPassword));
    let (a, _, _) = s.join("Ana", r#","password":"open sesame""#);
    s.command(a, 1, r#"{"op":"set_password"}"#);
    assert!(!s.room.has_password());
    s.join("Bob", "");
}

#[test]
fn the_queue_auto_advances_at_the_end_of_an_item() {
    let mut s = Script::new(demo());
    let (a, _, _) = s.join("Ana", "");
    s.command(a, 1, r#"{"op":"queue_add","url":"https://cdn.example/one.mpd","title":"One"}"#);
    s.command(a, 2, r#"{"op":"queue_add","url":"https://cdn.example/two.mpd"}"#);
    s.command(a, 3, r#"{"op":"queue_move","item":1,"to":0}"#);
    assert_eq!(s.room.state().queue.iter().map(|q| q.id).collect::<Vec<_>>(), [1, 0]);
    let seq = s.source_seq();
    s.status(a, &format!(r#""buffering":false,"duration":60,"source_seq":{seq}"#));
    s.command(a, 4, r#"{"op":"play","position":0}"#);
    let end = s.playback().t_ref + 60_000.0;
    s.at(end - 1.0);
    assert_eq!(s.room.state().source.as_ref().map(|x| x.url.as_str()), Some("/media/demo/manifest.mpd"));
    s.at(end);
    assert_eq!(s.room.state().source.as_ref().map(|x| x.url.as_str()), Some("https://cdn.example/two.mpd"));
    assert!(s.playback().playing, "the next item plays on its own");
    assert_eq!(s.room.state().queue.len(), 1);
    // The last item ends with nothing queued: pause at the end.
    s.command(a, 5, r#"{"op":"queue_next"}"#);
    let seq = s.source_seq();
    s.status(a, &format!(r#""buffering":false,"duration":30,"source_seq":{seq}"#));
    let end = s.playback().t_ref + 30_000.0;
    s.at(end);
    assert!(!s.playback().playing);
    assert_eq!(s.last_reason(), Some(Reason::End));
    s.command(a, 6, r#"{"op":"queue_remove","item":99}"#);
    assert_eq!(s.error_to(a), Some(ErrorCode::NoSuchItem));
}

#[test]
fn chat_is_cleaned_bounded_and_kept_in_history() {
    let mut s = Script::new(demo());
    let (a, _, _) = s.join("Ana", "");
    for i in 0..60 {
        s.send(a, &format!(r#"{{"v":1,"type":"chat","text":"line {i}\u0000"}}"#));
        s.at(s.now + 100.0);
    }
    let chat = &s.room.state().chat;
    assert_eq!(chat.len(), 50);
    assert_eq!(chat.back().map(|l| l.text.as_str()), Some("line 59"));
    s.send(a, r#"{"v":1,"type":"chat","text":"   "}"#);
    assert_eq!(s.error_to(a), Some(ErrorCode::BadCommand));
    let (_, _, _) = s.join("Bob", "");
    let welcome = s.sent.iter().rev().find_map(|(_, m)| match m {
        ServerMsg::Welcome { room, .. } => Some(room.chat.len()),
        _ => None,
    });
    assert_eq!(welcome, Some(50), "newcomers get the history");
}

#[test]
fn a_flood_is_rate_limited_then_closed() {
    let mut s = Script::new(demo());
    let (a, _, _) = s.join("Ana", "");
    for _ in 0..100 {
        s.send(a, r#"{"v":1,"type":"ping","t0":1}"#);
    }
    let pongs = s.sent.iter().filter(|(c, m)| *c == a && matches!(m, ServerMsg::Pong { .. })).count();
    assert!((39..=41).contains(&pongs), "the burst passes: {pongs}");
    let limited = s.sent.iter().filter(|(c, m)| *c == a && matches!(m, ServerMsg::Error { code: ErrorCode::RateLimited, .. })).count();
    assert_eq!(limited, 1, "one error, not one per message");
    assert!(s.closed.contains(&(a, 1008)), "sustained abuse closes the socket");
    // After a pause the bucket refills.
    let (b, _, _) = s.join("Bob", "");
    s.at(10_000.0).send(b, r#"{"v":1,"type":"ping","t0":1}"#);
    assert!(matches!(s.last_to(b), Some(ServerMsg::Pong { .. })));
}

#[test]
fn an_empty_room_expires_only_if_still_empty() {
    let mut s = Script::new(demo());
    let day = 24.0 * 3600.0 * 1000.0;
    let (a, _, _) = s.join("Ana", "");
    s.at(day + 1.0);
    assert!(!s.expired, "someone is here");
    s.room.handle_disconnect(day + 2.0, a);
    s.drain();
    s.at(2.0 * day + 1.0);
    assert!(!s.expired);
    s.at(2.0 * day + 3.0);
    assert!(s.expired);
}

#[test]
fn a_restored_room_has_everything() {
    let mut s = Script::new(demo());
    let (a, ana, _) = s.join("Ana", "");
    s.command(a, 1, r#"{"op":"queue_add","url":"https://x.example/a.mpd"}"#);
    s.send(a, r#"{"v":1,"type":"chat","text":"hi"}"#);
    s.command(a, 2, r#"{"op":"seek","position":42}"#);
    let back = s.persisted();
    let woken = Room::restore(RoomConfig::default(), back, [SocketTag { conn: a, member: Some(ana), addr: String::new() }], s.now, [6; 32], false);
    assert_eq!(woken.state(), s.room.state());
    assert_eq!(woken.snapshot(), s.room.snapshot());
}

#[test]
fn bad_commands_change_nothing() {
    let mut s = Script::new(demo());
    let (a, _, _) = s.join("Ana", "");
    let before = s.room.state().clone();
    for (cmd, code) in [
        (r#"{"op":"seek","position":-1}"#, ErrorCode::BadCommand),
        (r#"{"op":"set_rate","rate":0}"#, ErrorCode::BadCommand),
        (r#"{"op":"set_source","url":"javascript:alert(1)"}"#, ErrorCode::BadCommand),
        (r#"{"op":"set_source","url":"//evil.example/x"}"#, ErrorCode::BadCommand),
        // A browser reads `/\host/` as `//host/`: another host, unguarded.
        (r#"{"op":"set_source","url":"/\\10.0.0.1/x.mpd"}"#, ErrorCode::BadCommand),
        (r#"{"op":"kick","member":99}"#, ErrorCode::NoSuchMember),
        (r#"{"op":"set_role","member":0,"role":"host"}"#, ErrorCode::BadCommand),
        (r#"{"op":"queue_next"}"#, ErrorCode::NoSuchItem),
    ] {
        s.command(a, 1, cmd);
        assert_eq!(s.error_to(a), Some(code), "{cmd}");
    }
    assert_eq!(s.room.state(), &before);
}

#[test]
fn a_source_the_shells_guard_refuses_is_refused_with_its_reason() {
    fn no_private(url: &str) -> Result<(), String> {
        if url.contains("192.168.") || url.contains("127.0.0.1") {
            Err("address in a private range".into())
        } else {
            Ok(())
        }
    }
    let mut s = Script::new(demo());
    s.room.cfg.source_guard = Some(no_private);
    let (a, _, _) = s.join("Ana", "");
    let before = s.room.state().clone();
    for cmd in [r#"{"op":"set_source","url":"http://192.168.1.1/admin"}"#, r#"{"op":"queue_add","url":"http://127.0.0.1:8080/x.mpd"}"#] {
        s.command(a, 1, cmd);
        match s.last_to(a) {
            Some(ServerMsg::Error { code: ErrorCode::BadCommand, message, .. }) => assert!(message.contains("private range"), "{message}"),
            other => panic!("{cmd}: {other:?}"),
        }
    }
    assert_eq!(s.room.state(), &before);
    // Paths on this server and public URLs still pass.
    let seen = s.sent.len();
    s.command(a, 2, r#"{"op":"set_source","url":"https://cdn.example/v.mpd"}"#);
    assert!(!s.sent[seen..].iter().any(|(_, m)| matches!(m, ServerMsg::Error { .. })));
    assert_eq!(s.room.state().source.as_ref().map(|x| x.url.as_str()), Some("https://cdn.example/v.mpd"));
}

mod abuse;
mod subtitles;
