//! The room's subtitle files: who may add them, what everyone hears, what
//! storage keeps, and the delay everyone applies.

use super::*;

fn subtitles_heard(s: &Script) -> Option<(Vec<SubtitleInfo>, f64)> {
    s.broadcasts.iter().rev().find_map(|m| match m {
        ServerMsg::Subtitles { subtitles, delay_ms, .. } => Some((subtitles.clone(), *delay_ms)),
        _ => None,
    })
}

#[test]
fn a_controller_adds_subtitles_everyone_hears_and_storage_keeps_them() {
    let mut s = Script::new(demo());
    let (a, ana, ana_token) = s.join("Ana", "");
    let (_, _, bob_token) = s.join("Bob", "");
    s.command(a, 1, r#"{"op":"set_mode","mode":"controlled"}"#);
    // Who may add: a member's token, and control of the room.
    assert_eq!(s.room.subtitle_adder("not a token"), Err(SubtitleRefusal::Unknown));
    assert_eq!(s.room.subtitle_adder(&bob_token), Err(SubtitleRefusal::Forbidden));
    let (member, name) = s.room.subtitle_adder(&ana_token).expect("the host may");
    assert_eq!((member, name.as_str()), (ana, "Ana"));
    // The shell stores the text under the next id, then reports it.
    let next = s.room.next_subtitle_id();
    let id = s.room.handle_subtitle_added(member, "Français\u{202e}", "fr", 11).expect("added");
    s.drain();
    assert_eq!(id, next);
    let heard = subtitles_heard(&s).expect("everyone hears of it");
    assert_eq!(heard.0, vec![SubtitleInfo { id, label: "Français".into(), language: "fr".into(), cues: 11, by: "Ana".into() }]);
    // Members may read it; strangers may not.
    assert!(s.room.is_member_token(&bob_token) && !s.room.is_member_token("x"));
    // A newcomer gets it with the room; a restart keeps it.
    let (c, _, _) = s.join("Cy", "");
    match s.last_to(c) {
        Some(ServerMsg::Welcome { room, .. }) => assert_eq!(room.subtitles.len(), 1),
        other => panic!("{other:?}"),
    }
    assert_eq!(s.persisted().subtitles, s.room.state().subtitles);
    assert_eq!(s.persisted().next_subtitle, id);
}

#[test]
fn removing_a_file_drops_its_text_and_the_delay_is_bounded() {
    let mut s = Script::new(demo());
    let (a, ana, _) = s.join("Ana", "");
    let (b, _, _) = s.join("Bob", "");
    let first = s.room.handle_subtitle_added(ana, "English", "en", 3).expect("added");
    let second = s.room.handle_subtitle_added(ana, "Deutsch", "de", 4).expect("added");
    s.drain();
    s.command(a, 1, &format!(r#"{{"op":"remove_subtitle","id":{first}}}"#));
    assert_eq!(s.dropped, vec![first]);
    assert_eq!(subtitles_heard(&s).expect("heard").0.iter().map(|t| t.id).collect::<Vec<_>>(), vec![second]);
    s.command(a, 2, &format!(r#"{{"op":"remove_subtitle","id":{first}}}"#));
    assert_eq!(s.error_to(a), Some(ErrorCode::NoSuchItem));
    // The delay: everyone hears it; past ±10 minutes is refused.
    s.command(b, 3, r#"{"op":"set_subtitle_delay","ms":-1500.4}"#);
    assert_eq!(subtitles_heard(&s).expect("heard").1, -1500.0);
    s.command(b, 4, r#"{"op":"set_subtitle_delay","ms":600001}"#);
    assert_eq!(s.error_to(b), Some(ErrorCode::BadCommand));
    assert_eq!(s.persisted().subtitle_delay_ms, -1500.0);
    // The room's default language: cleaned, heard, kept.
    s.command(b, 5, r#"{"op":"set_subtitle_language","language":" fr\u202e "}"#);
    assert!(matches!(s.broadcasts.last(), Some(ServerMsg::Subtitles { language, .. }) if language == "fr"));
    assert_eq!(s.persisted().subtitle_language, "fr");
    // In a controlled room a viewer may do neither.
    s.command(a, 6, r#"{"op":"set_mode","mode":"controlled"}"#);
    s.command(b, 6, r#"{"op":"set_subtitle_delay","ms":0}"#);
    assert_eq!(s.error_to(b), Some(ErrorCode::Forbidden));
    s.command(b, 7, &format!(r#"{{"op":"remove_subtitle","id":{second}}}"#));
    assert_eq!(s.error_to(b), Some(ErrorCode::Forbidden));
}

#[test]
fn a_room_keeps_at_most_eight_files() {
    let mut s = Script::new(demo());
    let (_, ana, token) = s.join("Ana", "");
    for i in 0..MAX_SUBTITLES {
        assert!(s.room.subtitle_adder(&token).is_ok(), "file {i}");
        s.room.handle_subtitle_added(ana, "x", "", 1).expect("added");
    }
    assert_eq!(s.room.subtitle_adder(&token), Err(SubtitleRefusal::Full));
    // Uploads checked before their bodies came in are checked again when
    // they are stored: the ninth is refused, as is a member who lost control.
    assert_eq!(s.room.handle_subtitle_added(ana, "late", "", 1), Err(SubtitleRefusal::Full));
    let mut s = Script::new(demo());
    let (a, ana, _) = s.join("Ana", "");
    let (_, bob, _) = s.join("Bob", "");
    s.command(a, 1, r#"{"op":"set_mode","mode":"controlled"}"#);
    assert_eq!(s.room.handle_subtitle_added(bob, "x", "", 1), Err(SubtitleRefusal::Forbidden));
    assert_eq!(s.room.handle_subtitle_added(ana + 100, "x", "", 1), Err(SubtitleRefusal::Unknown));
    assert!(s.room.state().subtitles.is_empty());
}
