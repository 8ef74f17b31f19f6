//! `cargo xtask bench room`, native half: what one command costs a room of
//! 5,000 members in storage writes and in bytes to each member, before
//! (the whole room written per change, the whole queue sent per queue
//! change — what the room did until now, computed from the same state) and
//! after (parts, deltas). Also the cost of one password check (PBKDF2).
//! Writes the figures as JSON to the path given as the first argument.

use std::collections::BTreeMap;
use std::time::Instant;

use sync_core::protocol::ServerMsg;
use sync_core::room::store::StoreChanges;
use sync_core::room::{CreateOptions, Room, RoomConfig, RoomOutput};
use sync_core::secret::PasswordHash;

const MEMBERS: usize = 5_000;

struct Bench {
    room: Room,
    now: f64,
    storage: BTreeMap<String, usize>,
}

/// Bytes one batch writes: keys and JSON values (what the Durable Object stores).
fn written(c: &StoreChanges) -> usize {
    c.put.iter().map(|(k, p)| k.len() + serde_json::to_string(p).map_or(0, |s| s.len())).sum::<usize>() + c.delete.iter().map(String::len).sum::<usize>()
}

impl Bench {
    /// Drain the outputs: (bytes written, broadcasts).
    fn drain(&mut self) -> (usize, Vec<ServerMsg>) {
        let (mut bytes, mut sent) = (0, Vec::new());
        while let Some(o) = self.room.poll_output() {
            match o {
                RoomOutput::Persist(c) => {
                    bytes += written(&c);
                    for (k, p) in &c.put {
                        self.storage.insert(k.clone(), serde_json::to_string(p).map_or(0, |s| s.len()));
                    }
                    for k in &c.delete {
                        self.storage.remove(k);
                    }
                }
                RoomOutput::Broadcast { msg } => sent.push(msg),
                _ => {}
            }
        }
        (bytes, sent)
    }

    fn text(&mut self, conn: u64, text: &str) -> (usize, Vec<ServerMsg>) {
        self.now += 1_000.0;
        self.room.handle_text(self.now, conn, text);
        self.drain()
    }
}

fn main() {
    let out = std::env::args().nth(1).unwrap_or_else(|| "target/bench/room-core.json".into());
    let opts =
        CreateOptions { source: Some(sync_core::protocol::SourceInfo::new("https://cdn.example/film.mpd", Some("Film".into()))), ..CreateOptions::default() };
    let room = match Room::create(RoomConfig::default(), 0.0, opts, [7; 32]) {
        Ok(r) => r,
        Err(e) => panic!("{e:?}"),
    };
    let mut b = Bench { room, now: 0.0, storage: BTreeMap::new() };
    b.drain();
    let t = Instant::now();
    let mut conns = Vec::new();
    // One place is left for the join measured at the end.
    for i in 0..MEMBERS - 1 {
        b.now += 1.0;
        let key = b.room.address_key(&format!("10.{}.{}.{}", i >> 16, (i >> 8) & 255, i & 255));
        let c = b.room.handle_connect(b.now, key).expect("accepted");
        b.room.handle_text(b.now, c, &format!(r#"{{"v":1,"type":"hello","name":"Member {i}"}}"#));
        b.drain();
        conns.push(c);
        if b.room.poll_timeout().is_some_and(|d| d <= b.now) {
            b.room.handle_timeout(b.now);
            b.drain();
        }
    }
    let join_ms = t.elapsed().as_secs_f64() * 1000.0;
    let host = conns[0];
    // 99 queued: room for the one `queue_add` measured (the queue holds 100).
    for i in 0..99 {
        b.text(host, &format!(r#"{{"v":1,"type":"command","id":{i},"command":{{"op":"queue_add","url":"https://cdn.example/queue/{i:03}/manifest.mpd","title":"Queued film number {i}"}}}}"#));
    }
    for i in 0..50 {
        b.text(host, &format!(r#"{{"v":1,"type":"chat","text":"a chat line of ordinary length, number {i}"}}"#));
    }
    let whole_room = serde_json::to_string(b.room.state()).map_or(0, |s| s.len());
    let mut rows = Vec::new();
    let cases: [(&str, u64, String); 6] = [
        ("pause", host, r#"{"v":1,"type":"command","id":900,"command":{"op":"pause"}}"#.into()),
        ("play", host, r#"{"v":1,"type":"command","id":901,"command":{"op":"play"}}"#.into()),
        (
            "queue_add",
            host,
            r#"{"v":1,"type":"command","id":902,"command":{"op":"queue_add","url":"https://cdn.example/queue/new/manifest.mpd","title":"One more"}}"#.into(),
        ),
        ("queue_move", host, r#"{"v":1,"type":"command","id":903,"command":{"op":"queue_move","item":50,"to":0}}"#.into()),
        ("chat", conns[7], r#"{"v":1,"type":"chat","text":"hello everyone"}"#.into()),
        ("status: buffering", conns[9], r#"{"v":1,"type":"status","buffering":true,"hold":false}"#.into()),
    ];
    for (name, conn, text) in cases {
        let t = Instant::now();
        let (bytes, sent) = b.text(conn, &text);
        let cpu_us = t.elapsed().as_secs_f64() * 1e6;
        let queue_msg = sent.iter().find(|m| matches!(m, ServerMsg::QueueAdded { .. } | ServerMsg::QueueMoved { .. } | ServerMsg::QueueRemoved { .. }));
        let queue_after = queue_msg.map(|m| m.encode().len());
        let queue_before = queue_msg.map(|_| ServerMsg::Queue { items: b.room.state().queue.clone(), cause: None }.encode().len());
        println!(
            "    {name:<18} storage written: {bytes:>7} B (whole room: {whole_room} B){}  · core {cpu_us:.0} µs",
            match (queue_before, queue_after) {
                (Some(q0), Some(q1)) => format!(" · to each member: {q1} B (whole queue: {q0} B)"),
                _ => String::new(),
            }
        );
        rows.push(format!(
            "    {{ \"command\": \"{name}\", \"storage_bytes_after\": {bytes}, \"storage_bytes_before\": {whole_room}, \"queue_bytes_per_member_after\": {}, \"queue_bytes_per_member_before\": {}, \"core_us\": {cpu_us:.0} }}",
            queue_after.map_or("null".into(), |v| v.to_string()),
            queue_before.map_or("null".into(), |v| v.to_string())
        ));
    }
    // A join in a room of 5,000: its write, and what it sends to everyone.
    b.now += 1_000.0;
    let key = b.room.address_key("192.0.2.1");
    let c = b.room.handle_connect(b.now, key).expect("accepted");
    b.room.handle_text(b.now, c, r#"{"v":1,"type":"hello","name":"Late"}"#);
    let (join_bytes, join_sent) = b.drain();
    println!("    {:<18} storage written: {join_bytes:>7} B (whole room: {whole_room} B) · broadcasts at once: {}", "join", join_sent.len());
    rows.push(format!(
        "    {{ \"command\": \"join\", \"storage_bytes_after\": {join_bytes}, \"storage_bytes_before\": {whole_room}, \"broadcasts_at_once\": {} }}",
        join_sent.len()
    ));
    // A password check.
    let t = Instant::now();
    let h = PasswordHash::new("correct horse battery staple", &[3; 16]);
    let rounds = 5;
    for _ in 0..rounds {
        assert!(h.verify("correct horse battery staple"));
    }
    let check_ms = t.elapsed().as_secs_f64() * 1000.0 / f64::from(rounds + 1);
    println!("    a password check (PBKDF2-HMAC-SHA256, {} rounds): {check_ms:.2} ms native", sync_core::secret::PASSWORD_ROUNDS);
    println!("    {MEMBERS} members joined the core alone in {join_ms:.0} ms; storage holds {} keys", b.storage.len());
    let json = format!(
        "{{\n  \"members\": {MEMBERS},\n  \"queue_items\": 99,\n  \"chat_lines\": 50,\n  \"whole_room_bytes\": {whole_room},\n  \"core_join_all_ms\": {join_ms:.0},\n  \"password_check_ms_native\": {check_ms:.2},\n  \"password_rounds\": {},\n  \"commands\": [\n{}\n  ]\n}}\n",
        sync_core::secret::PASSWORD_ROUNDS,
        rows.join(",\n")
    );
    if let Some(dir) = std::path::Path::new(&out).parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    std::fs::write(&out, json).unwrap_or_else(|e| panic!("{out}: {e}"));
}
