use super::*;

fn yt(input: &str) -> (String, f64) {
    match Source::parse(input) {
        Ok(Source::YouTube { id, start }) => (id, start),
        other => panic!("{input}: {other:?}"),
    }
}

#[test]
fn every_youtube_link_form_people_paste_is_one_video() {
    for link in [
        "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
        "https://youtube.com/watch?feature=share&v=dQw4w9WgXcQ&list=PL123",
        "youtube.com/watch?v=dQw4w9WgXcQ",
        "https://m.youtube.com/watch?v=dQw4w9WgXcQ",
        "https://music.youtube.com/watch?v=dQw4w9WgXcQ",
        "https://youtu.be/dQw4w9WgXcQ",
        "https://youtu.be/dQw4w9WgXcQ?si=abcdef",
        "https://www.youtube.com/shorts/dQw4w9WgXcQ",
        "https://www.youtube.com/embed/dQw4w9WgXcQ?rel=0",
        "https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ",
        "https://www.youtube.com/live/dQw4w9WgXcQ",
        "  https://WWW.YouTube.com/watch?v=dQw4w9WgXcQ  ",
    ] {
        assert_eq!(yt(link), ("dQw4w9WgXcQ".to_string(), 0.0), "{link}");
    }
}

#[test]
fn youtube_start_times_in_every_notation() {
    assert_eq!(yt("https://youtu.be/dQw4w9WgXcQ?t=90").1, 90.0);
    assert_eq!(yt("https://youtu.be/dQw4w9WgXcQ?t=90s").1, 90.0);
    assert_eq!(yt("https://www.youtube.com/watch?v=dQw4w9WgXcQ&t=1m30s").1, 90.0);
    assert_eq!(yt("https://www.youtube.com/watch?v=dQw4w9WgXcQ&t=1h2m3s").1, 3723.0);
    assert_eq!(yt("https://www.youtube.com/embed/dQw4w9WgXcQ?start=42").1, 42.0);
    assert_eq!(yt("https://www.youtube.com/watch?v=dQw4w9WgXcQ#t=15").1, 15.0);
    assert_eq!(yt("https://www.youtube.com/watch?v=dQw4w9WgXcQ&t=1x").1, 0.0, "an unreadable time starts at 0");
    assert_eq!(yt("https://youtu.be/dQw4w9WgXcQ?t=18446744073709551615h18446744073709551615m").1, 86_400.0, "a huge time is a day, not an overflow");
    let s = Source::parse("https://youtu.be/dQw4w9WgXcQ?t=90").unwrap();
    assert_eq!(s.canonical(), "https://www.youtube.com/watch?v=dQw4w9WgXcQ&t=90s");
    assert_eq!(Source::parse(&s.canonical()).unwrap(), s, "the canonical form reads back the same");
}

#[test]
fn a_youtube_link_without_a_valid_id_is_refused_with_a_reason() {
    for bad in [
        "https://www.youtube.com/",
        "https://www.youtube.com/watch?v=short",
        "https://youtu.be/",
        "https://www.youtube.com/watch?v=dQw4w9WgXc%",
        "https://www.youtube.com/channel/UC123",
    ] {
        assert_eq!(Source::parse(bad), Err(SourceError::YouTubeId), "{bad}");
    }
    assert!(SourceError::YouTubeId.to_string().contains("video id"));
}

#[test]
fn vimeo_links_public_unlisted_and_player() {
    let v = |s: &str| Source::parse(s).unwrap();
    assert_eq!(v("https://vimeo.com/76979871"), Source::Vimeo { id: 76979871, hash: None, start: 0.0 });
    assert_eq!(v("vimeo.com/76979871/abcdef1234"), Source::Vimeo { id: 76979871, hash: Some("abcdef1234".into()), start: 0.0 });
    assert_eq!(v("https://player.vimeo.com/video/76979871?h=ABCDEF1234&badge=0"), Source::Vimeo { id: 76979871, hash: Some("abcdef1234".into()), start: 0.0 });
    assert_eq!(v("https://vimeo.com/channels/staffpicks/76979871"), Source::Vimeo { id: 76979871, hash: None, start: 0.0 });
    assert_eq!(v("https://vimeo.com/76979871#t=1m5s"), Source::Vimeo { id: 76979871, hash: None, start: 65.0 });
    assert_eq!(v("https://vimeo.com/76979871/abcdef1234#t=5s").canonical(), "https://vimeo.com/76979871/abcdef1234#t=5s");
    assert_eq!(Source::parse("https://vimeo.com/about"), Err(SourceError::VimeoId));
}

#[test]
fn anything_else_is_a_media_url_left_to_the_rooms_rules() {
    for url in [
        "https://cdn.example/v/manifest.mpd",
        "/media/demo/manifest.mpd",
        "https://notyoutube.com/watch?v=dQw4w9WgXcQ",
        "https://example.com/youtube.com/watch?v=x",
    ] {
        assert_eq!(Source::parse(url), Ok(Source::Media(url.to_string())), "{url}");
    }
    assert_eq!(Source::parse("https://evil.example@youtube.com/watch?v=dQw4w9WgXcQ").map(|s| s.kind()), Ok(SourceKind::YouTube), "userinfo is not the host");
}

#[test]
fn a_local_file_reads_back_from_its_canonical_form() {
    let f = LocalFile { fingerprint: "ab".repeat(32), size: 4_294_967_296, duration: 5400.125, name: "Our film (2024) – 1080p.mkv".into() };
    let text = f.canonical();
    assert!(text.starts_with("local:abab"), "{text}");
    assert!(!text.contains(' '), "{text}");
    assert_eq!(Source::parse(&text), Ok(Source::Local(f)));
}

#[test]
fn malformed_local_sources_are_refused_with_a_reason() {
    let fp = "0".repeat(64);
    for (bad, why) in [
        ("local:abc?size=1&duration=1&name=a".to_string(), "fingerprint"),
        (format!("local:{}?size=1&duration=1&name=a", "A".repeat(64)), "fingerprint"),
        (format!("local:{fp}"), "no size"),
        (format!("local:{fp}?size=0&duration=1&name=a"), "size"),
        (format!("local:{fp}?size=1&duration=-1&name=a"), "duration"),
        (format!("local:{fp}?size=1&duration=NaN&name=a"), "duration"),
        (format!("local:{fp}?size=1&duration=1&name=%FF"), "name"),
        (format!("local:{fp}?size=1&duration=1&name=%0A%0D"), "empty"),
        (format!("local:{fp}?size=1&duration=1"), "name"),
    ] {
        match Source::parse(&bad) {
            Err(e @ SourceError::Local(_)) => assert!(e.to_string().contains(why), "{bad}: {e}"),
            other => panic!("{bad}: {other:?}"),
        }
    }
    let long = format!("local:{fp}?size=1&duration=1&name={}", "x".repeat(5000));
    let Ok(Source::Local(f)) = Source::parse(&long) else { panic!("a long name is cut, not refused") };
    assert_eq!(f.name.chars().count(), MAX_LOCAL_NAME_CHARS);
}

#[test]
fn fingerprint_windows_cover_small_files_whole_and_big_ones_in_five_mib() {
    assert_eq!(fingerprint_windows(1000), vec![(0, 1000)]);
    let big = 4 * 1024 * 1024 * 1024;
    let w = fingerprint_windows(big);
    assert_eq!(w.len(), 5);
    assert_eq!(w.iter().map(|(a, b)| b - a).sum::<u64>(), 5 * FINGERPRINT_WINDOW);
    assert_eq!(w[0].0, 0);
    assert_eq!(w[4].1, big);
    assert!(w.windows(2).all(|p| p[0].1 <= p[1].0), "in order, not overlapping: {w:?}");
}

#[test]
fn a_fingerprint_tells_a_changed_byte_in_a_window_and_a_different_size() {
    let file: Vec<u8> = (0..12_000_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
    let fp = |bytes: &[u8]| {
        let mut f = Fingerprint::new(bytes.len() as u64);
        for (a, b) in fingerprint_windows(bytes.len() as u64) {
            for chunk in bytes[a as usize..b as usize].chunks(65_536) {
                f.update(chunk);
            }
        }
        f.finish()
    };
    let base = fp(&file);
    assert_eq!(base.len(), 64);
    assert_eq!(fp(&file), base, "deterministic");
    let mut changed = file.clone();
    changed[file.len() / 2 + 10] ^= 1;
    assert_ne!(fp(&changed), base, "a byte inside the middle window");
    assert_ne!(fp(&file[..file.len() - 1]), base, "one byte shorter");
    let room = LocalFile { fingerprint: base.clone(), size: file.len() as u64, duration: 60.0, name: "a.mp4".into() };
    assert_eq!(room.compare(&base, Some(12.0)), LocalMatch::Same);
    assert_eq!(room.compare(&fp(&changed), Some(60.05)), LocalMatch::OtherVersion);
    assert_eq!(room.compare(&fp(&changed), Some(61.0)), LocalMatch::Different);
    assert_eq!(room.compare(&fp(&changed), None), LocalMatch::Different);
}

/// Whatever a member sends as a source: no panic, and what is accepted
/// reads back to itself from its canonical form.
#[test]
fn any_input_parses_or_is_refused_without_panic_and_canonical_forms_are_stable() {
    let mut rng = crate::rng::Rng::new(21);
    let seeds = [
        "https://www.youtube.com/watch?v=dQw4w9WgXcQ&t=1h2m3s",
        "https://youtu.be/dQw4w9WgXcQ?t=90",
        "https://player.vimeo.com/video/76979871?h=abcdef1234#t=5s",
        "local:0000000000000000000000000000000000000000000000000000000000000000?size=10&duration=1.5&name=a%20b",
        "https://cdn.example/a.mpd",
    ];
    let alphabet: Vec<char> = "abcdefghijklmnopqrstuvwxyz0123456789%&?=#/:.-_@ hms\u{0}\u{7f}é😀".chars().collect();
    for i in 0..50_000 {
        let mut s: Vec<char> = seeds[i % seeds.len()].chars().collect();
        for _ in 0..(1 + (rng.next_f64() * 4.0) as usize) {
            let at = (rng.next_f64() * (s.len() + 1) as f64) as usize;
            let c = alphabet[(rng.next_f64() * alphabet.len() as f64) as usize % alphabet.len()];
            match (rng.next_f64() * 3.0) as u32 {
                0 if at < s.len() => s[at] = c,
                1 if at < s.len() => {
                    s.remove(at);
                }
                _ => s.insert(at.min(s.len()), c),
            }
        }
        let text: String = s.into_iter().collect();
        if let Ok(parsed) = Source::parse(&text) {
            if !matches!(parsed, Source::Media(_)) {
                assert_eq!(Source::parse(&parsed.canonical()), Ok(parsed.clone()), "{text:?}");
            }
        }
    }
}
