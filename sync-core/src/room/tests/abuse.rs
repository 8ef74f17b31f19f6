//! What strangers and members must not be able to do to a room (issue 20),
//! each as a script: refused, bounded, or fixed.

use super::*;

fn host_only() -> CreateOptions {
    CreateOptions { mode: PermissionMode::Controlled, ..demo() }
}

/// Host Ana and viewer Eve in a host-only room, playing from 0.
fn ana_and_eve() -> (Script, ConnId, ConnId) {
    let mut s = Script::new(host_only());
    let (a, _, _) = s.join("Ana", "");
    let (e, _, _) = s.join("Eve", "");
    s.command(a, 1, r#"{"op":"play","position":0}"#);
    (s, a, e)
}

#[test]
fn a_viewers_duration_cannot_end_the_item_or_skip_the_queue() {
    let (mut s, a, e) = ana_and_eve();
    s.command(a, 2, r#"{"op":"queue_add","url":"https://cdn.example/two.mpd"}"#);
    let seq = s.source_seq();
    s.status(e, &format!(r#""buffering":false,"duration":0.5,"source_seq":{seq}"#));
    assert_eq!(s.room.state().source_duration, None, "a viewer's length is not the item's");
    s.at(60_000.0);
    assert_eq!(s.room.state().source.as_ref().map(|x| x.url.as_str()), Some("/media/demo/manifest.mpd"), "nothing ended");
    assert_eq!(s.room.state().queue.len(), 1, "nothing skipped");
    // The host's report counts.
    s.status(a, &format!(r#""buffering":false,"duration":600,"source_seq":{seq}"#));
    assert_eq!(s.room.state().source_duration, Some(600.0));
}

#[test]
fn a_length_reported_for_the_previous_source_does_not_end_the_new_one() {
    let mut s = Script::new(demo());
    let (a, _, _) = s.join("Ana", "");
    let old = s.source_seq();
    s.command(a, 1, r#"{"op":"set_source","url":"https://cdn.example/long.mpd"}"#);
    assert!(s.source_seq() > old);
    // Ana's status about the old item arrives after the change (the honest race).
    s.status(a, &format!(r#""buffering":false,"duration":3,"source_seq":{old}"#));
    assert_eq!(s.room.state().source_duration, None, "a length for another source is ignored");
    s.status(a, r#""buffering":false,"duration":3"#);
    assert_eq!(s.room.state().source_duration, None, "a length for no source in particular is ignored");
    let seq = s.source_seq();
    s.status(a, &format!(r#""buffering":false,"duration":3600,"source_seq":{seq}"#));
    assert_eq!(s.room.state().source_duration, Some(3600.0));
}

#[test]
fn a_viewer_toggling_buffering_cannot_stall_the_room() {
    let (mut s, _, e) = ana_and_eve();
    // Eve reports buffering, then ready, then buffering again, all the time.
    let mut t = 1_000.0;
    let mut playing_ms = 0.0;
    let mut last = t;
    while t < 45_000.0 {
        s.at(t).status(e, r#""buffering":true"#);
        t += 500.0;
        s.at(t);
        if s.playback().playing && t > s.playback().t_ref {
            playing_ms += t - last;
        }
        last = t;
        t += 1.0;
    }
    let position = s.playback().position_at(45_000.0);
    println!("45 s of a viewer toggling buffering: {position:.1} s of playback (was 3.1 s)");
    assert!(position >= 20.0, "the room played only {position:.1} s in 45 s");
    assert_eq!(s.error_to(e), Some(ErrorCode::HoldLimited), "Eve was told the room no longer waits for her");
    let _ = playing_ms;
}

#[test]
fn a_viewer_cannot_add_seconds_to_every_start() {
    let (mut s, a, e) = ana_and_eve();
    s.status(e, r#""buffering":false,"rtt_ms":60000,"seek_ms":5000"#);
    assert!(s.room.start_lead() <= 500.0, "lead {}", s.room.start_lead());
    assert!(s.room.seek_lead() <= 1_500.0, "seek lead {}", s.room.seek_lead());
    // The host's own slow link still counts.
    s.status(a, r#""buffering":false,"rtt_ms":900"#);
    assert_eq!(s.room.start_lead(), 1_800.0);
}

#[test]
fn a_socket_that_never_says_hello_is_closed() {
    let mut s = Script::new(demo());
    let c = s.connect();
    assert!(s.room.poll_timeout().is_some_and(|t| t <= 10_000.0));
    s.at(9_999.0);
    assert!(!s.closed.iter().any(|(x, _)| *x == c));
    s.at(10_000.0);
    assert!(s.closed.contains(&(c, close::HELLO_TIMEOUT)));
}

#[test]
fn waiting_sockets_are_bounded_in_all_and_per_address() {
    let mut s = Script::new(demo());
    let bot = s.room.address_key("198.51.100.7");
    for _ in 0..8 {
        s.room.handle_connect(0.0, bot.clone()).expect("within the per-address bound");
    }
    assert_eq!(s.room.handle_connect(0.0, bot.clone()), Err(ConnectRefused::Busy));
    for i in 0..56 {
        s.room.handle_connect(0.0, s.room.address_key(&format!("192.0.2.{i}"))).expect("within the room's bound");
    }
    assert_eq!(s.room.handle_connect(0.0, s.room.address_key("192.0.2.200")), Err(ConnectRefused::Busy));
    // They time out, and room is made again.
    s.at(10_000.0);
    assert!(s.room.handle_connect(10_000.0, bot).is_ok());
}

#[test]
fn bots_from_one_address_cannot_fill_the_room() {
    let mut s = Script::new(demo());
    for i in 0..20 {
        let c = s.connect_from("198.51.100.9");
        s.send(c, &format!(r#"{{"v":1,"type":"hello","name":"bot{i}"}}"#));
    }
    let c = s.connect_from("198.51.100.9");
    s.send(c, r#"{"v":1,"type":"hello","name":"bot21"}"#);
    assert_eq!(s.error_to(c), Some(ErrorCode::RoomFull));
    assert!(s.closed.contains(&(c, close::REFUSED)));
    let (_, person, _) = s.join("Person", "");
    assert!(s.role(person).is_some(), "someone from elsewhere still gets in");
}

#[test]
fn a_kick_is_a_ban_by_identity_and_address_until_lifted() {
    let mut s = Script::new(demo());
    let (a, _, _) = s.join("Ana", "");
    let e = s.connect_from("198.51.100.66");
    s.send(e, r#"{"v":1,"type":"hello","name":"Eve"}"#);
    let Some(ServerMsg::Welcome { member: eve, resume, .. }) = s.last_to(e) else { panic!("Eve joined") };
    s.command(a, 1, &format!(r#"{{"op":"kick","member":{eve}}}"#));
    assert!(s.closed.contains(&(e, close::KICKED)));
    let bans = match s.broadcasts.last() {
        Some(ServerMsg::Bans { bans }) => bans.clone(),
        other => panic!("no ban list: {other:?}"),
    };
    assert_eq!(bans.iter().map(|b| b.name.as_str()).collect::<Vec<_>>(), ["Eve"]);
    // Same address, fresh identity: refused at hello.
    let c = s.connect_from("198.51.100.66");
    s.send(c, r#"{"v":1,"type":"hello","name":"Eve again"}"#);
    assert_eq!(s.error_to(c), Some(ErrorCode::Banned));
    assert!(s.closed.contains(&(c, close::REFUSED)));
    // Another address, her old resume token: refused at hello.
    let c = s.connect_from("192.0.2.99");
    s.send(c, &format!(r#"{{"v":1,"type":"hello","name":"Eve2","resume":"{resume}"}}"#));
    assert_eq!(s.error_to(c), Some(ErrorCode::Banned));
    assert!(s.closed.contains(&(c, close::REFUSED)));
    // Only the host lifts it.
    let (v, _, _) = s.join("Vic", "");
    s.command(v, 1, &format!(r#"{{"op":"unban","ban":{}}}"#, bans[0].id));
    assert_eq!(s.error_to(v), Some(ErrorCode::Forbidden));
    s.command(a, 2, &format!(r#"{{"op":"unban","ban":{}}}"#, bans[0].id));
    assert!(s.room.state().bans.is_empty());
    let c = s.connect_from("198.51.100.66");
    s.send(c, r#"{"v":1,"type":"hello","name":"Eve"}"#);
    assert!(matches!(s.last_to(c), Some(ServerMsg::Welcome { .. })), "welcome again after unban");
}

#[test]
fn wrong_passwords_are_bounded_per_address_and_per_room() {
    let mut s = Script::new(CreateOptions { password: Some("7391".into()), ..demo() });
    let guesser = s.room.address_key("198.51.100.1");
    for i in 0..5 {
        assert_eq!(s.room.handle_password_check(s.now, &guesser, Some(&format!("{i:04}"))), Err((ErrorCode::WrongPassword, "wrong password".into())));
    }
    let refused = s.room.handle_password_check(s.now, &guesser, Some("7391"));
    assert!(matches!(refused, Err((ErrorCode::RateLimited, _))), "one address waits out the window: {refused:?}");
    let member = s.room.address_key("192.0.2.10");
    assert_eq!(s.room.handle_password_check(s.now, &member, Some("7391")), Ok(()), "one address cannot lock the members out");
    // Many addresses together spend the room's budget (60 a minute).
    for i in 0..55 {
        let a = s.room.address_key(&format!("203.0.113.{i}"));
        let _ = s.room.handle_password_check(s.now, &a, Some("nope"));
    }
    let refused = s.room.handle_password_check(s.now, &member, Some("7391"));
    assert!(matches!(refused, Err((ErrorCode::RateLimited, _))), "{refused:?}");
    s.at(60_000.0);
    assert_eq!(s.room.handle_password_check(s.now, &guesser, Some("7391")), Ok(()));
}

#[test]
fn passwords_are_stretched_with_a_salt_of_their_own_and_old_hashes_migrate() {
    let s = Script::new(CreateOptions { password: Some("pw".into()), ..demo() });
    let stored = s.room.state().password.clone().expect("a password");
    assert_eq!(stored.rounds, crate::secret::PASSWORD_ROUNDS);
    let other = Script::new(CreateOptions { password: Some("pw".into()), ..demo() });
    assert_eq!(other.room.state().password.as_ref().map(|p| p.salt.len()), Some(32));
    // A room stored with the old salted SHA-256 still opens, and is rehashed.
    let mut state = s.room.state().clone();
    let salt = "00ff";
    state.password = Some(crate::secret::PasswordHash { salt: salt.into(), hash: crate::secret::sha256_hex(format!("{salt}:pw").as_bytes()), rounds: 0 });
    let mut old = Room::restore(RoomConfig::default(), state, [], 0.0, [9; 32], false);
    assert_eq!(old.handle_password_check(0.0, &String::new(), Some("pw")), Ok(()));
    let rehashed = match old.poll_output() {
        Some(RoomOutput::Persist(c)) => c.put.into_iter().find_map(|(_, p)| match p {
            store::Part::Meta(m) => m.password,
            _ => None,
        }),
        other => panic!("no write: {other:?}"),
    };
    assert!(rehashed.is_some_and(|h| h.rounds > 0 && h.salt != salt && h.verify("pw")));
}

#[test]
fn a_room_with_a_password_tells_strangers_only_that() {
    let s = Script::new(CreateOptions {
        name: Some("Secret party".into()),
        password: Some("pw".into()),
        source: Some(SourceInfo::new("https://cdn.example/v.mpd?token=abc", None)),
        ..demo()
    });
    let info = serde_json::to_value(s.room.info()).unwrap();
    assert_eq!(info, serde_json::json!({ "has_password": true }));
    let open = Script::new(demo());
    let info = serde_json::to_value(open.room.info()).unwrap();
    assert_eq!(info["members"], 0);
    assert!(info["source"].is_object());
}

#[test]
fn creation_follows_the_rooms_own_rules() {
    let create = |opts| Room::create(RoomConfig::default(), 0.0, opts, [1; 32]).map(|_| ()).map_err(|e| e.field);
    assert_eq!(create(CreateOptions { name: Some("x".repeat(100_000)), ..demo() }), Err("name"));
    assert_eq!(create(CreateOptions { source: Some(SourceInfo::new("https://a.example/a b\0.mpd", None)), ..demo() }), Err("source"));
    assert_eq!(create(CreateOptions { source: Some(SourceInfo::new("https://a.example/a.mpd", Some("t".repeat(201)))), ..demo() }), Err("source"));
    assert_eq!(create(CreateOptions { password: Some("p".repeat(201)), ..demo() }), Err("password"));
    assert_eq!(create(CreateOptions { name: Some("  Movie night \u{202E} ".into()), ..demo() }), Ok(()));
    // set_password follows the same rule.
    let mut s = Script::new(demo());
    let (a, _, _) = s.join("Ana", "");
    s.command(a, 1, &format!(r#"{{"op":"set_password","password":"{}"}}"#, "p".repeat(201)));
    assert_eq!(s.error_to(a), Some(ErrorCode::BadCommand));
    assert!(!s.room.has_password());
}

#[test]
fn everything_an_input_changes_is_persisted_once_before_anyone_hears_of_it() {
    let mut s = Script::new(demo());
    let (a, _, _) = s.join("Ana", "");
    s.command(a, 1, r#"{"op":"queue_add","url":"https://cdn.example/one.mpd"}"#);
    let seq = s.source_seq();
    s.status(a, &format!(r#""buffering":false,"duration":10,"source_seq":{seq}"#));
    s.command(a, 2, r#"{"op":"play","position":0}"#);
    let end = s.playback().t_ref + 10_000.0;
    // The item ends and the queue advances: a source change and a queue
    // change in one input, which once gave `Persist, Broadcast, Persist, Broadcast`.
    s.room.handle_timeout(end);
    let outputs: Vec<RoomOutput> = std::iter::from_fn(|| s.room.poll_output()).collect();
    let persists: Vec<usize> = outputs.iter().enumerate().filter(|(_, o)| matches!(o, RoomOutput::Persist(_))).map(|(i, _)| i).collect();
    assert_eq!(persists, [0], "one write, first: {outputs:?}");
    let Some(RoomOutput::Persist(changes)) = outputs.first() else { unreachable!() };
    let meta = changes.put.iter().find_map(|(_, p)| match p {
        store::Part::Meta(m) => Some(m),
        _ => None,
    });
    assert_eq!(meta.and_then(|m| m.source.as_ref()).map(|x| x.url.as_str()), Some("https://cdn.example/one.mpd"));
    assert!(meta.is_some_and(|m| m.queue_order.is_empty()), "the write holds every change of the input");
    assert_eq!(changes.delete, ["q:0"], "the item that now plays leaves storage in the same write");
    assert!(outputs.iter().any(|o| matches!(o, RoomOutput::Broadcast { msg: ServerMsg::QueueRemoved { .. } })));
    // A socket connecting writes nothing.
    let key = s.room.address_key("192.0.2.1");
    s.room.handle_connect(end, key).unwrap();
    assert!(!std::iter::from_fn(|| s.room.poll_output()).any(|o| matches!(o, RoomOutput::Persist(_))));
}

#[test]
fn a_socket_that_says_hello_after_a_wake_up_gets_a_real_token() {
    let mut s = Script::new(demo());
    let c = s.connect();
    let stored = s.room.state().clone();
    let mut woken = Room::restore(RoomConfig::default(), stored, [SocketTag { conn: c, member: None, addr: String::new() }], 1_000.0, [4; 32], false);
    woken.handle_text(1_000.0, c, r#"{"v":1,"type":"hello","name":"Late"}"#);
    let resume = std::iter::from_fn(|| woken.poll_output()).find_map(|o| match o {
        RoomOutput::Send { msg: ServerMsg::Welcome { resume, .. }, .. } => Some(resume),
        _ => None,
    });
    let resume = resume.expect("welcomed");
    assert_eq!(resume.len(), 22, "a 128-bit token, not {resume:?}");
    // And a restored socket that stays silent is timed out too.
    let mut woken =
        Room::restore(RoomConfig::default(), s.room.state().clone(), [SocketTag { conn: c, member: None, addr: String::new() }], 1_000.0, [4; 32], false);
    assert_eq!(woken.poll_timeout(), Some(11_000.0));
    woken.handle_timeout(11_000.0);
    assert!(std::iter::from_fn(|| woken.poll_output()).any(|o| matches!(o, RoomOutput::Close { code: close::HELLO_TIMEOUT, .. })));
}

#[test]
fn names_cannot_hide_spoof_or_collide() {
    let mut s = Script::new(demo());
    let (_, ana, _) = s.join("Ana", "");
    let name_of = |s: &Script, id| s.room.state().members.iter().find(|m| m.id == id).map(|m| m.name.clone());
    let (_, twin, _) = s.join("ana", "");
    assert_eq!(name_of(&s, twin).as_deref(), Some("ana (2)"));
    let (_, third, _) = s.join("A\u{200B}na", "");
    assert_eq!(name_of(&s, third).as_deref(), Some("Ana (3)"));
    for bad in ["Eve (host)", "\u{200B}\u{202E}"] {
        let c = s.connect();
        s.send(c, &format!(r#"{{"v":1,"type":"hello","name":"{bad}"}}"#));
        assert_eq!(s.error_to(c), Some(ErrorCode::BadName), "{bad:?}");
    }
    let (_, rtl, _) = s.join("Eve\u{202E}tsoh", "");
    assert_eq!(name_of(&s, rtl).as_deref(), Some("Evetsoh"));
    assert_eq!(name_of(&s, ana).as_deref(), Some("Ana"));
}

#[test]
fn queue_changes_are_deltas_not_the_whole_queue() {
    let mut s = Script::new(demo());
    let (a, _, _) = s.join("Ana", "");
    for i in 0..100 {
        s.at(s.now + 100.0);
        s.command(a, i, &format!(r#"{{"op":"queue_add","url":"https://cdn.example/{i:03}.mpd","title":"Item {i}"}}"#));
    }
    assert_eq!(s.room.state().queue.len(), 100);
    let before = s.broadcasts.len();
    s.command(a, 200, r#"{"op":"queue_move","item":99,"to":0}"#);
    let sent: Vec<String> = s.broadcasts[before..].iter().map(ServerMsg::encode).collect();
    assert_eq!(sent.len(), 1);
    assert!(sent[0].len() < 120, "a move costs {} bytes per member: {}", sent[0].len(), sent[0]);
    assert_eq!(s.room.state().queue.first().map(|q| q.id), Some(99));
}

#[test]
fn a_command_writes_only_what_it_changed() {
    let mut s = Script::new(demo());
    let (a, _, _) = s.join("Ana", "");
    for i in 0..30 {
        s.join(&format!("M{i}"), "");
        s.at(s.now + 200.0);
        s.send(a, &format!(r#"{{"v":1,"type":"chat","text":"line {i}"}}"#));
        s.command(a, 100 + i, &format!(r#"{{"op":"queue_add","url":"https://cdn.example/{i}.mpd"}}"#));
    }
    assert_eq!((s.room.state().queue.len(), s.room.state().chat.len(), s.room.state().members.len()), (30, 30, 31));
    s.at(s.now + 5_000.0);
    s.room.handle_text(s.now, a, r#"{"v":1,"type":"command","id":999,"command":{"op":"pause"}}"#);
    let Some(RoomOutput::Persist(changes)) = s.room.poll_output() else { panic!("a write first") };
    let keys: Vec<&str> = changes.put.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["meta"], "a pause writes the room's meta alone");
    assert!(changes.delete.is_empty());
    apply(&mut s.storage, *changes);
    s.drain();
    // And everything stored, read back, is the room.
    assert!(s.persisted() == *s.room.state(), "storage holds the room");
}

#[test]
fn a_room_stored_whole_is_moved_into_parts() {
    let mut s = Script::new(demo());
    let (a, ana, _) = s.join("Ana", "");
    s.send(a, r#"{"v":1,"type":"chat","text":"hi"}"#);
    let whole = s.room.state().clone();
    let mut woken = Room::restore(RoomConfig::default(), whole.clone(), [SocketTag { conn: a, member: Some(ana), addr: String::new() }], s.now, [6; 32], true);
    let Some(RoomOutput::Persist(changes)) = woken.poll_output() else { panic!("the parts are written at once") };
    assert!(changes.delete.contains(&store::LEGACY_KEY.to_string()));
    let mut storage = Default::default();
    apply(&mut storage, *changes);
    let meta = match storage.get(store::META_KEY) {
        Some(store::Part::Meta(m)) => (**m).clone(),
        _ => panic!("meta"),
    };
    assert_eq!(store::assemble(meta, storage.into_values().filter(|p| !matches!(p, store::Part::Meta(_)))), whole);
}

#[test]
fn in_a_large_room_member_changes_go_out_together() {
    let mut s = Script::new(demo());
    for i in 0..60 {
        s.join(&format!("M{i}"), "");
    }
    s.at(1_000.0);
    let before = s.broadcasts.len();
    let mut joined = Vec::new();
    for i in 0..20 {
        joined.push(s.join(&format!("Late{i}"), "").1);
    }
    let per_join = s.broadcasts[before..].iter().filter(|m| matches!(m, ServerMsg::Member { .. })).count();
    assert_eq!(per_join, 0, "no broadcast per join in a room of 60");
    s.at(1_500.0);
    let batches: Vec<&ServerMsg> = s.broadcasts[before..].iter().filter(|m| matches!(m, ServerMsg::Members { .. })).collect();
    assert_eq!(batches.len(), 1);
    let ServerMsg::Members { members, left } = batches[0] else { unreachable!() };
    assert_eq!(members.iter().map(|m| m.id).collect::<Vec<_>>(), joined);
    assert!(left.is_empty());
}

#[test]
fn a_member_sharing_a_banned_address_still_comes_back() {
    let mut s = Script::new(demo());
    let a = s.connect_from("198.51.100.5");
    s.send(a, r#"{"v":1,"type":"hello","name":"Ana"}"#);
    let Some(ServerMsg::Welcome { resume, .. }) = s.last_to(a) else { panic!("Ana joined") };
    let e = s.connect_from("198.51.100.5");
    s.send(e, r#"{"v":1,"type":"hello","name":"Eve"}"#);
    let Some(ServerMsg::Welcome { member: eve, .. }) = s.last_to(e) else { panic!("Eve joined") };
    s.command(a, 1, &format!(r#"{{"op":"kick","member":{eve}}}"#));
    // Ana's connection drops; she is back from the same (now banned) address.
    s.room.handle_disconnect(s.now, a);
    s.drain();
    let back = s.connect_from("198.51.100.5");
    s.send(back, &format!(r#"{{"v":1,"type":"hello","name":"Ana","resume":"{resume}"}}"#));
    assert!(matches!(s.last_to(back), Some(ServerMsg::Welcome { .. })), "the host on the same network is not locked out");
}

#[test]
fn more_sockets_from_one_address_do_not_buy_more_messages() {
    let mut s = Script::new(demo());
    let socks: Vec<ConnId> = (0..8)
        .map(|i| {
            let c = s.connect_from("198.51.100.8");
            s.send(c, &format!(r#"{{"v":1,"type":"hello","name":"bot{i}"}}"#));
            c
        })
        .collect();
    s.at(10_000.0);
    let before = s.sent.len();
    // Each socket alone is within its own burst (40); together they are not.
    for _ in 0..30 {
        for c in &socks {
            s.send(*c, r#"{"v":1,"type":"ping","t0":1}"#);
        }
    }
    let pongs = s.sent[before..].iter().filter(|(_, m)| matches!(m, ServerMsg::Pong { .. })).count();
    assert!((119..=121).contains(&pongs), "the address's burst passes, no more: {pongs} of 240");
    // Another address is not affected.
    let (o, _, _) = s.join("Other", "");
    s.send(o, r#"{"v":1,"type":"ping","t0":2}"#);
    assert!(matches!(s.last_to(o), Some(ServerMsg::Pong { .. })));
}

#[test]
fn the_creator_with_its_host_token_is_not_locked_out_by_an_address_ban() {
    let mut s = Script::new(CreateOptions { host_token: Some("creator-secret".into()), ..demo() });
    let a = s.connect_from("198.51.100.5");
    s.send(a, r#"{"v":1,"type":"hello","name":"Ana","host_token":"creator-secret"}"#);
    let e = s.connect_from("198.51.100.5");
    s.send(e, r#"{"v":1,"type":"hello","name":"Eve"}"#);
    let Some(ServerMsg::Welcome { member: eve, .. }) = s.last_to(e) else { panic!("Eve joined") };
    s.command(a, 1, &format!(r#"{{"op":"kick","member":{eve}}}"#));
    s.send(a, r#"{"v":1,"type":"leave"}"#);
    // Ana comes back from another device on the same network, with her host token only.
    let back = s.connect_from("198.51.100.5");
    s.send(back, r#"{"v":1,"type":"hello","name":"Ana","host_token":"creator-secret"}"#);
    assert!(matches!(s.last_to(back), Some(ServerMsg::Welcome { role: Role::Host, .. })));
}

#[test]
fn members_whose_sockets_went_while_the_room_slept_are_away_then_gone() {
    let mut s = Script::new(demo());
    let (a, ana, _) = s.join("Ana", "");
    let (_, bob, _) = s.join("Bob", "");
    let stored = s.persisted();
    // Only Ana's socket survived the restart.
    let mut woken = Room::restore(RoomConfig::default(), stored, [SocketTag { conn: a, member: Some(ana), addr: String::new() }], 100.0, [2; 32], false);
    assert!(matches!(woken.poll_output(), Some(RoomOutput::Persist(_))), "the change is written at once, first");
    let away = woken.state().members.iter().find(|m| m.id == bob).map(|m| (m.status, m.away_until));
    assert_eq!(away, Some((MemberStatus::Away, Some(30_100.0))));
    woken.handle_timeout(30_100.0);
    assert!(woken.state().members.iter().all(|m| m.id != bob), "gone after the grace");
}

#[test]
fn identities_from_one_address_taking_turns_cannot_stall_the_room() {
    let mut s = Script::new(host_only());
    let (a, _, _) = s.join("Ana", "");
    let bots: Vec<ConnId> = (0..6)
        .map(|i| {
            let c = s.connect_from("198.51.100.9");
            s.send(c, &format!(r#"{{"v":1,"type":"hello","name":"bot{i}"}}"#));
            c
        })
        .collect();
    s.command(a, 1, r#"{"op":"play","position":0}"#);
    // Each bot in turn buffers for 9 s (under its own 10 s wait and 20 s budget).
    let mut t = 1_000.0;
    for round in 0..6 {
        let bot = bots[round % bots.len()];
        s.at(t).status(bot, r#""buffering":true"#);
        // Time passes in small steps, so each deadline is met when it falls.
        for step in 1..=36 {
            s.at(t + f64::from(step) * 250.0);
        }
        s.status(bot, r#""buffering":false"#);
        t += 10_000.0;
    }
    s.at(t);
    let position = s.playback().position_at(t);
    println!("{:.0} s of six identities from one address taking turns: {position:.1} s of playback", t / 1000.0);
    assert!(position >= 35.0, "the room played only {position:.1} s in {:.0} s", t / 1000.0);
}

#[test]
fn a_password_checked_when_the_socket_was_accepted_is_not_checked_again() {
    let mut s = Script::new(CreateOptions { password: Some("pw".into()), ..demo() });
    let key = s.room.address_key("192.0.2.1");
    assert_eq!(s.room.handle_password_check(s.now, &key, Some("pw")), Ok(()));
    let c = s.room.handle_connect(s.now, key).unwrap();
    s.room.handle_password_checked(c, "pw");
    s.send(c, r#"{"v":1,"type":"hello","name":"Ana","password":"pw"}"#);
    assert!(matches!(s.last_to(c), Some(ServerMsg::Welcome { .. })), "welcomed without a second KDF run");
    // Another password in hello is checked in full, even on a vouched socket.
    let key = s.room.address_key("192.0.2.2");
    let e = s.room.handle_connect(s.now, key).unwrap();
    s.room.handle_password_checked(e, "pw");
    s.send(e, r#"{"v":1,"type":"hello","name":"Eve","password":"guess"}"#);
    assert_eq!(s.error_to(e), Some(ErrorCode::WrongPassword));
    // A socket the shell did not vouch for is checked at hello.
    let d = s.connect();
    s.send(d, r#"{"v":1,"type":"hello","name":"Bo"}"#);
    assert_eq!(s.error_to(d), Some(ErrorCode::WrongPassword));
}
