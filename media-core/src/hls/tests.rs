use super::*;

fn media(text: &str, url: &str) -> MediaPlaylist {
    match parse_playlist(text, url) {
        Ok(Playlist::Media(m)) => m,
        other => panic!("expected a media playlist, got {other:?}"),
    }
}

fn master(text: &str, url: &str) -> MasterPlaylist {
    match parse_playlist(text, url) {
        Ok(Playlist::Master(m)) => m,
        other => panic!("expected a master playlist, got {other:?}"),
    }
}

fn malformed(text: &str) -> (usize, String) {
    match parse_playlist(text, "https://example.com/p.m3u8") {
        Err(HlsError::Malformed { line, message }) => (line, message),
        other => panic!("expected Malformed, got {other:?}"),
    }
}

const MASTER: &str = "#EXTM3U
#EXT-X-VERSION:6
#EXT-X-INDEPENDENT-SEGMENTS
# a comment
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aud\",NAME=\"English\",LANGUAGE=\"en\",DEFAULT=YES,AUTOSELECT=YES,CHANNELS=\"2\",URI=\"audio/en.m3u8\"
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aud\",NAME=\"Deutsch, Stereo\",LANGUAGE=\"de\",DEFAULT=NO,AUTOSELECT=YES,CHANNELS=\"2\",URI=\"audio/de.m3u8\"
#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID=\"subs\",NAME=\"English\",LANGUAGE=\"en\",URI=\"/subs/en.m3u8\"
#EXT-X-MEDIA:TYPE=CLOSED-CAPTIONS,GROUP-ID=\"cc\",NAME=\"CC1\",INSTREAM-ID=\"CC1\"
#EXT-X-STREAM-INF:BANDWIDTH=1280000,AVERAGE-BANDWIDTH=1000000,CODECS=\"avc1.4d401f,mp4a.40.2\",RESOLUTION=640x360,FRAME-RATE=25.000,AUDIO=\"aud\",SUBTITLES=\"subs\",VIDEO-RANGE=SDR
video/360.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=2560000,CODECS=\"avc1.4d401f,mp4a.40.2\",RESOLUTION=1280x720,AUDIO=\"aud\"
#X-UNKNOWN-COMMENT
../other/720.m3u8?x=1
#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=86000,URI=\"iframes.m3u8\"
#EXT-X-STREAM-INF:BANDWIDTH=7680000
https://cdn2.example.net/1080.m3u8
";

const VOD: &str = "#EXTM3U
#EXT-X-VERSION:7
#EXT-X-TARGETDURATION:4
#EXT-X-PLAYLIST-TYPE:VOD
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-MAP:URI=\"init.mp4\",BYTERANGE=\"720@0\"
#EXTINF:4.000,
#EXT-X-BYTERANGE:1000@720
main.mp4
#EXTINF:4.0,
#EXT-X-BYTERANGE:2000
main.mp4
#EXT-X-KEY:METHOD=AES-128,URI=\"key.bin\",IV=0x000102030405060708090A0B0C0D0E0F
#EXTINF:3.5,title, with a comma
#EXT-X-BYTERANGE:1500
main.mp4
#EXT-X-DISCONTINUITY
#EXT-X-MAP:URI=\"ad/init.mp4\"
#EXT-X-KEY:METHOD=NONE
#EXT-X-PROGRAM-DATE-TIME:2024-05-01T12:00:00.000Z
#EXTINF:2.5,
ad/seg1.m4s
#EXT-X-ENDLIST
";

#[test]
fn master_with_variants_audio_group_and_subtitles() {
    let m = master(MASTER, "https://cdn.example.com/show/master.m3u8?token=abc");
    assert!(m.independent_segments);
    let uris: Vec<&str> = m.variants.iter().map(|v| v.uri.as_str()).collect();
    assert_eq!(uris, ["https://cdn.example.com/show/video/360.m3u8", "https://cdn.example.com/other/720.m3u8?x=1", "https://cdn2.example.net/1080.m3u8",]);
    assert_eq!(
        m.variants[0],
        Variant {
            uri: uris[0].into(),
            bandwidth: 1_280_000,
            average_bandwidth: Some(1_000_000),
            codecs: Some("avc1.4d401f,mp4a.40.2".into()),
            resolution: Some((640, 360)),
            frame_rate: Some(25.0),
            audio: Some("aud".into()),
            subtitles: Some("subs".into()),
            video_range: Some("SDR".into()),
        }
    );
    assert_eq!(m.variants[1].resolution, Some((1280, 720)));
    assert_eq!((m.variants[1].average_bandwidth, m.variants[1].frame_rate, m.variants[1].subtitles.as_deref()), (None, None, None));
    assert_eq!((m.variants[2].bandwidth, m.variants[2].codecs.as_deref(), m.variants[2].audio.as_deref()), (7_680_000, None, None));

    assert_eq!(m.renditions.len(), 4);
    assert_eq!(
        m.renditions[0],
        Rendition {
            kind: RenditionKind::Audio,
            group_id: "aud".into(),
            name: "English".into(),
            language: Some("en".into()),
            default: true,
            autoselect: true,
            channels: Some("2".into()),
            uri: Some("https://cdn.example.com/show/audio/en.m3u8".into()),
        }
    );
    let de = &m.renditions[1];
    assert_eq!((de.name.as_str(), de.default, de.autoselect), ("Deutsch, Stereo", false, true));
    let subs = &m.renditions[2];
    assert_eq!(subs.kind, RenditionKind::Subtitles);
    assert_eq!(subs.uri.as_deref(), Some("https://cdn.example.com/subs/en.m3u8"));
    assert_eq!((subs.default, subs.autoselect, subs.channels.as_deref()), (false, false, None));
    assert_eq!((m.renditions[3].kind, m.renditions[3].uri.as_deref()), (RenditionKind::ClosedCaptions, None));
}

#[test]
fn vod_fmp4_with_byte_ranges_discontinuity_and_keys() {
    let m = media(VOD, "https://example.com/vod/index.m3u8");
    assert_eq!((m.target_duration, m.media_sequence, m.discontinuity_sequence), (4.0, 0, 0));
    assert_eq!(m.playlist_type, Some(PlaylistType::Vod));
    assert!(m.endlist && m.independent_segments && !m.is_live() && m.is_fmp4());
    assert_eq!((m.server_control_can_block_reload, m.part_target), (false, None));
    assert_eq!(m.duration(), 14.0);

    let init = InitSection { uri: "https://example.com/vod/init.mp4".into(), byte_range: Some(ByteRange { offset: 0, length: 720 }) };
    let seg = |i: u64, duration: f64, start: f64, offset: u64, length: u64, encrypted: bool| MediaSegment {
        uri: "https://example.com/vod/main.mp4".into(),
        duration,
        start,
        sequence: i,
        byte_range: Some(ByteRange { offset, length }),
        map: Some(init.clone()),
        discontinuity: false,
        encrypted,
        program_date_time: None,
    };
    assert_eq!(m.segments[0], seg(0, 4.0, 0.0, 720, 1000, false));
    assert_eq!(m.segments[1], seg(1, 4.0, 4.0, 1720, 2000, false)); // implicit offset
    assert_eq!(m.segments[2], seg(2, 3.5, 8.0, 3720, 1500, true)); // key applies
    assert_eq!(
        m.segments[3],
        MediaSegment {
            uri: "https://example.com/vod/ad/seg1.m4s".into(),
            duration: 2.5,
            start: 11.5,
            sequence: 3,
            byte_range: None,
            map: Some(InitSection { uri: "https://example.com/vod/ad/init.mp4".into(), byte_range: None }),
            discontinuity: true,
            encrypted: false, // METHOD=NONE
            program_date_time: Some("2024-05-01T12:00:00.000Z".into()),
        }
    );
    assert_eq!(m.segments.len(), 4);
}

#[test]
fn segment_at_maps_times_to_segments() {
    let m = media(VOD, "https://example.com/vod/index.m3u8");
    let at = |t: f64| m.segment_at(t);
    assert_eq!([at(0.0), at(3.999), at(4.0), at(9.0), at(11.5), at(13.9)], [Some(0), Some(0), Some(1), Some(2), Some(3), Some(3)]);
    assert_eq!([at(14.0), at(1e300), at(-0.1), at(f64::NAN), at(f64::INFINITY)], [None; 5]);
    let empty = media("#EXTM3U\n#EXT-X-TARGETDURATION:2\n", "https://a/b.m3u8");
    assert_eq!((empty.segment_at(0.0), empty.duration(), empty.is_fmp4()), (None, 0.0, false));
}

#[test]
fn live_playlist_with_media_sequence() {
    let text = "#EXTM3U
#EXT-X-VERSION:6
#EXT-X-TARGETDURATION:6
#EXT-X-MEDIA-SEQUENCE:1000
#EXT-X-DISCONTINUITY-SEQUENCE:7
#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=3.0
#EXT-X-PART-INF:PART-TARGET=1.002
#EXTINF:6.006,
seg1000.ts?sig=1
#EXTINF:5.994,
seg1001.ts?sig=2
#EXT-X-PART:DURATION=1.0,URI=\"part1002.0.ts\"
#EXTINF:6,
seg1002.ts?sig=3
#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"part1003.0.ts\"
";
    let m = media(text, "http://live.example.com/ch1/index.m3u8");
    assert!(m.is_live() && !m.endlist && !m.is_fmp4());
    assert_eq!((m.media_sequence, m.discontinuity_sequence, m.playlist_type), (1000, 7, None));
    assert_eq!((m.server_control_can_block_reload, m.part_target), (true, Some(1.002)));
    let seqs: Vec<u64> = m.segments.iter().map(|s| s.sequence).collect();
    assert_eq!(seqs, [1000, 1001, 1002]);
    assert_eq!(m.segments[1].start, 6.006);
    assert_eq!(m.segments[2].uri, "http://live.example.com/ch1/seg1002.ts?sig=3");
    assert!((m.duration() - 18.0).abs() < 1e-9);

    // An EVENT playlist is live until ENDLIST; a VOD one never is.
    let event = text.replace("#EXT-X-VERSION:6", "#EXT-X-PLAYLIST-TYPE:EVENT");
    assert!(media(&event, "http://a/b").is_live());
    assert!(!media(&format!("{event}#EXT-X-ENDLIST\n"), "http://a/b").is_live());
    let vod = text.replace("#EXT-X-VERSION:6", "#EXT-X-PLAYLIST-TYPE:VOD");
    assert!(!media(&vod, "http://a/b").is_live());
}

#[test]
fn skip_shifts_sequence_numbers() {
    let text = "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-MEDIA-SEQUENCE:264\n#EXT-X-SKIP:SKIPPED-SEGMENTS=3\n#EXTINF:4,\na.mp4\n";
    assert_eq!(media(text, "https://a/b").segments[0].sequence, 267);
}

#[test]
fn crlf_and_bom_parse_like_lf() {
    let url = "https://example.com/vod/index.m3u8";
    let crlf = VOD.replace('\n', "\r\n");
    assert_eq!(media(&crlf, url), media(VOD, url));
    assert_eq!(media(&format!("\u{feff}{crlf}"), url), media(VOD, url));
    let master_crlf = format!("\u{feff}{}", MASTER.replace('\n', "\r\n"));
    assert_eq!(master(&master_crlf, url), master(MASTER, url));
    // No final newline.
    assert_eq!(media(VOD.trim_end(), url), media(VOD, url));
}

#[test]
fn variables_are_substituted() {
    let text = "#EXTM3U
#EXT-X-DEFINE:NAME=\"host\",VALUE=\"https://cdn.example.com\"
#EXT-X-DEFINE:NAME=\"tok\",VALUE=\"t=42\"
#EXT-X-DEFINE:QUERYPARAM=\"session\"
#EXT-X-DEFINE:QUERYPARAM=\"absent\"
#EXT-X-TARGETDURATION:2
#EXT-X-MAP:URI=\"{$host}/init.mp4?{$tok}\"
#EXTINF:2,
{$host}/seg1.m4s?{$tok}&s={$session}&lit={$}{$bad name}
";
    let m = media(text, "https://origin.example.com/p.m3u8?session=abc&x=1");
    let s = &m.segments[0];
    assert_eq!(s.uri, "https://cdn.example.com/seg1.m4s?t=42&s=abc&lit={$}{$bad name}");
    assert_eq!(s.map.as_ref().map(|i| i.uri.as_str()), Some("https://cdn.example.com/init.mp4?t=42"));
    for undefined in ["{$nope}", "{$absent}"] {
        let bad = text.replace("{$session}", undefined);
        let (line, message) = malformed(&bad);
        assert_eq!(line, 9, "{message}");
        assert!(message.contains("undefined variable"), "{message}");
    }
    let in_attr = text.replace("{$tok}\"", "{$nope}\"");
    assert_eq!(malformed(&in_attr).0, 7);
    assert_eq!(malformed("#EXTM3U\n#EXT-X-DEFINE:NAME=\"a b\",VALUE=\"x\"\n").0, 2);
}

/// One rule for the parser and the proxy's rewriter: a byte order mark and
/// blank lines may come before `#EXTM3U`, anything else may not.
#[test]
fn blank_lines_before_the_header_are_a_playlist_for_parser_and_rewriter_alike() {
    use crate::rewrite::rewrite_hls;
    let url = "https://example.com/vod/index.m3u8";
    let lead = "\n\n  #EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\nseg1.m4s\n";
    let mut same = |_: crate::rewrite::UrlRef<'_>| None;
    assert_eq!(playlist_body(lead), Some(&lead[4..]));
    assert_eq!(playlist_body("\u{feff}\r\n\t#EXTM3U \r\nx"), Some("#EXTM3U \r\nx"));
    let m = media(lead, url);
    assert_eq!(m.segments[0].uri, "https://example.com/vod/seg1.m4s");
    // Line numbers count the lines before the header.
    assert_eq!(malformed("\n\n  #EXTM3U\n#EXT-X-TARGETDURATION:x\n"), (4, "bad EXT-X-TARGETDURATION value \"x\"".into()));
    // The rewriter accepts it and copies the bytes before the header unchanged.
    assert_eq!(rewrite_hls(lead, url, &mut same).map(|r| r.text), Ok(lead.to_string()));
    let bom = format!("\u{feff}{lead}");
    assert_eq!(rewrite_hls(&bom, url, &mut same).map(|r| r.text), Ok(bom.clone()));
    assert!(matches!(parse_playlist(&bom, url), Ok(Playlist::Media(_))));

    for not in ["hello\n#EXTM3U\n#EXT-X-TARGETDURATION:2\n", "#EXTM3Ux\n", "\u{a0}#EXTM3U\n", ""] {
        assert_eq!(playlist_body(not), None, "{not:?}");
        assert_eq!(parse_playlist(not, url), Err(HlsError::NotAPlaylist), "{not:?}");
        assert_eq!(rewrite_hls(not, url, &mut same).map(|r| r.text), Err(crate::rewrite::RewriteError::NotAPlaylist), "{not:?}");
    }
}

/// A media playlist IMPORTs what its master defines (RFC 8216bis §4.4.2.3).
#[test]
fn a_media_playlist_imports_the_masters_variables() {
    let master_text = "#EXTM3U
#EXT-X-DEFINE:NAME=\"base\",VALUE=\"https://cdn.example/v/\"
#EXT-X-DEFINE:QUERYPARAM=\"token\"
#EXT-X-STREAM-INF:BANDWIDTH=1000000,CODECS=\"avc1.64001f,mp4a.40.2\"
{$base}720.m3u8
";
    let m = master(master_text, "https://origin.example/master.m3u8?token=t1");
    let defined = |k: &str, v: &str| (k.to_string(), v.to_string());
    assert_eq!(m.variables, [defined("base", "https://cdn.example/v/"), defined("token", "t1")]);
    assert_eq!(m.variants[0].uri, "https://cdn.example/v/720.m3u8");
    let media_text = "#EXTM3U
#EXT-X-DEFINE:IMPORT=\"base\"
#EXT-X-TARGETDURATION:2
#EXT-X-MAP:URI=\"{$base}init.mp4\"
#EXTINF:2,
{$base}seg1.m4s
#EXTINF:2,
{$base}seg2.m4s
#EXT-X-ENDLIST
";
    let uri = &m.variants[0].uri;
    let Ok(Playlist::Media(p)) = parse_listed_playlist(media_text, uri, &m) else { panic!("expected a media playlist") };
    let uris: Vec<&str> = p.segments.iter().map(|s| s.uri.as_str()).collect();
    assert_eq!(uris, ["https://cdn.example/v/seg1.m4s", "https://cdn.example/v/seg2.m4s"]);
    assert_eq!(p.segments[0].map.as_ref().map(|i| i.uri.as_str()), Some("https://cdn.example/v/init.mp4"));
    // A name the master did not define: a typed error naming it, with its line.
    let other = media_text.replace("IMPORT=\"base\"", "IMPORT=\"host\"");
    assert_eq!(parse_listed_playlist(&other, uri, &m), Err(HlsError::UndefinedImport { line: 2, name: "host".into() }));
    // Without a master there is nothing to import (a master cannot import either).
    assert_eq!(parse_playlist(media_text, uri), Err(HlsError::UndefinedImport { line: 2, name: "base".into() }));
    let importing_master = master_text.replace("NAME=\"base\",VALUE=\"https://cdn.example/v/\"", "IMPORT=\"base\"");
    assert_eq!(parse_playlist(&importing_master, uri), Err(HlsError::UndefinedImport { line: 2, name: "base".into() }));
    // A lone media playlist's stand-in master defines nothing.
    assert_eq!(single_variant(uri).variables, []);
}

#[test]
fn malformed_inputs_give_specific_errors() {
    let url = "https://example.com/p.m3u8";
    assert_eq!(parse_playlist("", url), Err(HlsError::NotAPlaylist));
    assert_eq!(parse_playlist("#EXTINF:1,\na.ts\n", url), Err(HlsError::NotAPlaylist));
    assert_eq!(parse_playlist("<html>#EXTM3U", url), Err(HlsError::NotAPlaylist));
    assert_eq!(parse_playlist("#EXTM3U-ish\n", url), Err(HlsError::NotAPlaylist));
    assert_eq!(
        parse_playlist("#EXTM3U\r#EXT-X-TARGETDURATION:4\r", url),
        Err(HlsError::Malformed { line: 1, message: "lines must end with LF or CRLF".into() })
    );

    let cases: &[(&str, usize, &str)] = &[
        ("#EXTM3U\n#EXT-X-TARGETDURATION:4\nseg.ts\n", 3, "without EXTINF"),
        ("#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:abc,\nseg.ts\n", 3, "bad EXTINF"),
        ("#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:-1,\nseg.ts\n", 3, "bad EXTINF"),
        ("#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:inf,\nseg.ts\n", 3, "bad EXTINF"),
        ("#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:\nseg.ts\n", 3, "bad EXTINF"),
        ("#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:1,\n#EXTINF:1,\nseg.ts\n", 4, "EXTINF before"),
        ("#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:1,\n", 3, "EXTINF without a URI"),
        ("#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:1,\n#EXT-X-BYTERANGE:12@x\nseg.ts\n", 4, "bad EXT-X-BYTERANGE"),
        ("#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:1,\n#EXT-X-BYTERANGE:\nseg.ts\n", 4, "bad EXT-X-BYTERANGE"),
        ("#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:1,\n#EXT-X-BYTERANGE:100\nseg.ts\n", 4, "without offset"),
        ("#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:1,\n#EXT-X-BYTERANGE:10@0\na.ts\n#EXTINF:1,\n#EXT-X-BYTERANGE:10\nb.ts\n", 7, "without offset"),
        ("#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:1,\n#EXT-X-BYTERANGE:1@18446744073709551615\na.ts\n", 4, "overflows"),
        ("#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-MAP:URI=\"i.mp4\",BYTERANGE=\"x@0\"\n", 3, "bad BYTERANGE"),
        ("#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-MAP:BYTERANGE=\"1@0\"\n", 3, "missing URI"),
        ("#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-KEY:URI=\"k\"\n", 3, "without METHOD"),
        ("#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-KEY:METHOD=AES-128,URI=\"k\n", 3, "unterminated"),
        ("#EXTM3U\n#EXT-X-TARGETDURATION:x\n", 2, "bad EXT-X-TARGETDURATION"),
        ("#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-MEDIA-SEQUENCE:-3\n", 3, "bad EXT-X-MEDIA-SEQUENCE"),
        ("#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-PLAYLIST-TYPE:LIVE\n", 3, "PLAYLIST-TYPE"),
        ("#EXTM3U\n#EXTINF:1,\na.ts\n", 3, "missing EXT-X-TARGETDURATION"),
        ("#EXTM3U\n#EXT-X-STREAM-INF:CODECS=\"a\"\nv.m3u8\n", 2, "missing BANDWIDTH"),
        ("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,RESOLUTION=1x\nv.m3u8\n", 2, "bad RESOLUTION"),
        ("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n#EXT-X-STREAM-INF:BANDWIDTH=2\nv.m3u8\n", 3, "before the previous"),
        ("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n", 2, "without a URI"),
        ("#EXTM3U\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",NAME=\"x\"\n", 2, "without EXT-X-STREAM-INF"),
        ("#EXTM3U\n#EXT-X-MEDIA:TYPE=DATA,GROUP-ID=\"a\",NAME=\"x\"\n", 2, "bad EXT-X-MEDIA TYPE"),
        ("#EXTM3U\n#EXT-X-MEDIA:TYPE=AUDIO,NAME=\"x\"\n", 2, "missing GROUP-ID"),
        ("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nv.m3u8\n#EXTINF:1,\na.ts\n", 4, "mixed"),
        ("#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:1,\na.ts\n#EXT-X-STREAM-INF:BANDWIDTH=1\nv.m3u8\n", 5, "mixed"),
    ];
    for &(text, line, fragment) in cases {
        let (l, message) = malformed(text);
        assert!(l == line && message.contains(fragment), "{text:?}: got line {l}: {message}");
    }
}

#[test]
fn size_and_count_limits() {
    let url = "https://example.com/p.m3u8";
    let big = format!("#EXTM3U\n{}", " ".repeat(MAX_PLAYLIST_BYTES));
    assert_eq!(parse_playlist(&big, url), Err(HlsError::TooLarge(MAX_PLAYLIST_BYTES + 8)));

    let mut many = String::from("#EXTM3U\n#EXT-X-TARGETDURATION:1\n");
    for _ in 0..=MAX_SEGMENTS {
        many.push_str("#EXTINF:1,\na\n");
    }
    assert_eq!(parse_playlist(&many, url), Err(HlsError::TooManySegments));

    // A variable expansion bomb stops at MAX_EXPANDED_BYTES.
    let bomb = format!("#EXTM3U\n#EXT-X-DEFINE:NAME=\"v\",VALUE=\"{}\"\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\n{}\n", "x".repeat(1 << 20), "{$v}".repeat(300));
    assert!(matches!(parse_playlist(&bomb, url), Err(HlsError::TooLarge(n)) if n > MAX_EXPANDED_BYTES));
}

#[test]
fn every_prefix_parses_without_panic() {
    let corpus = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/corpus/hls/shaka__hls-sample-aes__index.m3u8")).unwrap_or_default();
    let crlf = VOD.replace('\n', "\r\n");
    for text in [MASTER, VOD, crlf.as_str(), corpus.as_str()] {
        for end in (0..=text.len()).filter(|&i| text.is_char_boundary(i)) {
            let _ = parse_playlist(&text[..end], "https://example.com/a/p.m3u8");
        }
    }
}

#[test]
fn real_world_corpus() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/corpus/hls");
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("hls corpus {dir}: {e}"));
    let mut paths: Vec<_> = entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|x| x == "m3u8")).collect();
    paths.sort();
    assert!(!paths.is_empty());
    let (mut ok, mut err) = (0, 0);
    for path in &paths {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{name}: {e}"));
        let text = String::from_utf8_lossy(&bytes);
        let url = format!("https://media.example.com/corpus/{name}");
        match parse_playlist(&text, &url) {
            Ok(Playlist::Master(m)) => {
                ok += 1;
                println!("{name}: master, {} variants, {} renditions", m.variants.len(), m.renditions.len());
                for v in &m.variants {
                    assert!(v.uri.starts_with("https://") || v.uri.starts_with("http://"), "{name}: {}", v.uri);
                }
            }
            Ok(Playlist::Media(m)) => {
                ok += 1;
                println!(
                    "{name}: media, {} segments, {:.3} s, seq {}, live {}, fmp4 {}, encrypted {}",
                    m.segments.len(),
                    m.duration(),
                    m.media_sequence,
                    m.is_live(),
                    m.is_fmp4(),
                    m.segments.iter().filter(|s| s.encrypted).count()
                );
                // Spot checks of features the corpus manifest lists.
                let s = &m.segments;
                match name.as_str() {
                    "shaka__hls-sample-aes__index.m3u8" => {
                        assert_eq!(s[1].byte_range, Some(ByteRange { offset: 1171 + 136_434, length: 112_920 }));
                        assert_eq!(s[9].map.as_ref().and_then(|m| m.byte_range), Some(ByteRange { offset: 0, length: 1019 }));
                    }
                    "shaka__clear-encrypted-hls__video-swapped.m3u8" => {
                        let flags: Vec<(bool, bool)> = s.iter().map(|s| (s.discontinuity, s.encrypted)).collect();
                        assert_eq!(flags, [(false, false), (false, false), (true, true), (false, true), (false, true)]);
                    }
                    "hls-m3u8__media-playlist-with-skip.m3u8" => assert_eq!(s[0].sequence, 267),
                    _ => {}
                }
                for w in m.segments.windows(2) {
                    assert!(w[1].start > w[0].start || w[0].duration == 0.0, "{name}: starts not increasing");
                    assert_eq!(w[1].sequence, w[0].sequence + 1);
                }
            }
            Err(e) => {
                err += 1;
                println!("{name}: error: {e}");
            }
        }
    }
    println!("hls corpus: {ok} ok, {err} errors");
}

#[test]
fn ffmpeg_generated_vod() {
    use std::process::Command;
    let dir = std::env::temp_dir().join(format!("media-core-hls-test-{}", std::process::id()));
    let out = dir.join("out");
    if std::fs::create_dir_all(&out).is_err() {
        println!("ffmpeg test: cannot create {}, skipped", out.display());
        return;
    }
    let args = "-hide_banner -loglevel error -y -f lavfi -i testsrc2=size=160x90:rate=24:duration=6 -f lavfi -i sine=duration=6 \
        -c:v libx264 -g 48 -c:a aac -f hls -hls_time 2 -hls_playlist_type vod -hls_segment_type fmp4 \
        -master_pl_name master.m3u8 out/media.m3u8";
    let status = Command::new("ffmpeg").args(args.split_whitespace()).current_dir(&dir).status();
    if !matches!(status, Ok(s) if s.success()) {
        println!("ffmpeg test: ffmpeg missing or failed ({status:?}), skipped");
        let _ = std::fs::remove_dir_all(&dir);
        return;
    }
    let read = |n: &str| std::fs::read_to_string(out.join(n)).unwrap_or_else(|e| panic!("{n}: {e}"));
    let (master_text, media_text) = (read("master.m3u8"), read("media.m3u8"));
    let _ = std::fs::remove_dir_all(&dir);

    let m = master(&master_text, "https://example.com/out/master.m3u8");
    assert_eq!(m.variants.len(), 1);
    let v = &m.variants[0];
    assert_eq!((v.uri.as_str(), v.resolution), ("https://example.com/out/media.m3u8", Some((160, 90))));
    assert!(v.bandwidth > 0 && v.codecs.as_deref().is_some_and(|c| c.contains("avc1") && c.contains("mp4a")));

    let p = media(&media_text, &v.uri);
    assert_eq!(p.segments.len(), 3);
    assert!((p.duration() - 6.0).abs() < 0.1, "{}", p.duration());
    assert!(p.endlist && !p.is_live() && p.is_fmp4() && p.playlist_type == Some(PlaylistType::Vod));
    for (i, s) in p.segments.iter().enumerate() {
        assert!(s.map.as_ref().is_some_and(|m| m.uri.ends_with("/init.mp4")));
        assert_eq!(s.uri, format!("https://example.com/out/media{i}.m4s"));
    }
}

#[test]
fn the_default_audio_is_one_rendition_for_fetching_and_labelling() {
    // Two audio groups; the variants use "aac". The DEFAULT=YES of another
    // group must not lend its name and language to the one that plays.
    let m = master(
        "#EXTM3U\n\
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"ac3\",NAME=\"Surround\",LANGUAGE=\"de\",DEFAULT=YES,URI=\"ac3/de.m3u8\"\n\
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aac\",NAME=\"English\",LANGUAGE=\"en\",DEFAULT=NO,URI=\"aac/en.m3u8\"\n\
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aac\",NAME=\"Francais\",LANGUAGE=\"fr\",DEFAULT=YES,URI=\"aac/fr.m3u8\"\n\
#EXT-X-STREAM-INF:BANDWIDTH=800000,CODECS=\"avc1.4d401e,mp4a.40.2\",AUDIO=\"aac\"\n\
v/low.m3u8\n",
        "https://cdn.example/hls/master.m3u8",
    );
    assert_eq!(default_audio_uri(&m).as_deref(), Some("https://cdn.example/hls/aac/fr.m3u8"));
    let seg =
        media("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MAP:URI=\"init.mp4\"\n#EXTINF:2,\ns1.m4s\n#EXT-X-ENDLIST\n", "https://cdn.example/hls/aac/fr.m3u8");
    let video =
        media("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MAP:URI=\"init.mp4\"\n#EXTINF:2,\ns1.m4s\n#EXT-X-ENDLIST\n", "https://cdn.example/hls/v/low.m3u8");
    let manifest = to_manifest(&m, &[Some(video)], Some(&seg), None);
    let audio = &manifest.periods[0].tracks[1];
    assert_eq!((audio.label.as_deref(), audio.lang.as_deref()), (Some("Francais"), Some("fr")));
    assert_eq!(manifest.periods[0].tracks[0].representations[0].codecs, "avc1.4d401e", "the separate audio's codec leaves the video's");
}

#[test]
fn keys_mark_a_playlist_encrypted() {
    let clear = media("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\na.m4s\n#EXT-X-ENDLIST\n", "https://x.example/p.m3u8");
    let locked =
        media("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-KEY:METHOD=AES-128,URI=\"k\"\n#EXTINF:2,\na.m4s\n#EXT-X-ENDLIST\n", "https://x.example/p.m3u8");
    assert!(!clear.is_encrypted());
    assert!(locked.is_encrypted());
}

/// A live window: segments `first..first + n` of 2 s (`EXTINF` 2.0).
fn window(first: u64, n: u64, url: &str) -> MediaPlaylist {
    let mut text = format!("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:{first}\n#EXT-X-MAP:URI=\"init.mp4\"\n");
    for i in first..first + n {
        text.push_str(&format!("#EXTINF:2.0,\nseg-{i}.m4s\n"));
    }
    media(&text, url)
}

fn starts(m: &MediaPlaylist) -> Vec<(u64, f64)> {
    m.segments.iter().map(|s| (s.sequence, s.start)).collect()
}

#[test]
fn a_live_window_keeps_each_segment_where_it_was_first_placed() {
    let url = "https://live.example/v.m3u8";
    let mut times = LiveTimes::default();
    // First load at t = 100 s (Unix ms 100_000): segments 10..15 at 0..12 s.
    let mut a = window(10, 6, url);
    times.place(0, &mut a, 100_000.0);
    assert_eq!(starts(&a)[0], (10, 0.0));
    assert_eq!(times.origin_ms, Some(100_000.0 - 12_000.0), "the end of the list was live when it was fetched");
    // 4 s later the window slid by two: 12..17 keep their times.
    let mut b = window(12, 6, url);
    times.place(0, &mut b, 104_000.0);
    assert_eq!(starts(&b), vec![(12, 4.0), (13, 6.0), (14, 8.0), (15, 10.0), (16, 12.0), (17, 14.0)]);
    assert_eq!(times.origin_ms, Some(88_000.0), "on time: the clock stays");
    // Fetched late (the server was slow to list 18): the clock keeps the
    // earliest estimate, so every listed segment counts as available.
    let mut c = window(13, 6, url);
    times.place(0, &mut c, 107_500.0);
    assert_eq!(starts(&c).last(), Some(&(18, 16.0)));
    assert_eq!(times.origin_ms, Some(88_000.0));
    // A reload after a long pause: nothing in common, 3 segments missed.
    let mut d = window(22, 6, url);
    times.place(0, &mut d, 130_000.0);
    assert_eq!(starts(&d)[0], (22, 18.0 + 3.0 * 2.0), "continues a target duration per missed segment");
}

#[test]
fn playlists_seen_later_end_where_the_first_one_did() {
    let mut times = LiveTimes::default();
    let mut video = window(10, 6, "https://live.example/v.m3u8");
    times.place(0, &mut video, 100_000.0);
    // The audio rendition lists a longer window under other numbers.
    let mut audio = window(500, 9, "https://live.example/a.m3u8");
    times.place(1, &mut audio, 100_050.0);
    assert_eq!(audio.segments.last().map(|s| s.start + s.duration), Some(12.0));
    assert_eq!(audio.segments[0].start, -6.0, "older audio sits before 0, where nothing plays");
    // Its next reload is placed by its own numbers.
    let mut audio2 = window(501, 9, "https://live.example/a.m3u8");
    times.place(1, &mut audio2, 102_000.0);
    assert_eq!(audio2.segments.last().map(|s| s.start), Some(12.0));
}

#[test]
fn a_live_playlist_becomes_a_dynamic_presentation_and_a_finished_one_static() {
    let url = "https://live.example/v.m3u8";
    let master = single_variant(url);
    let mut times = LiveTimes::default();
    let mut live = window(10, 6, url);
    times.place(0, &mut live, 100_000.0);
    let m = to_manifest(&master, &[Some(live.clone())], None, Some(&times));
    assert!(m.dynamic);
    assert_eq!((m.duration, m.availability_start_ms), (None, Some(88_000.0)));
    assert_eq!((m.min_update_period, m.suggested_presentation_delay, m.time_shift_buffer_depth), (Some(2.0), Some(6.0), Some(12.0)));
    let rep = &m.periods[0].tracks[0].representations[0];
    assert!(rep.placed, "HLS segments go where the playlist says");
    let crate::mpd::Addressing::Segments(list) = &rep.addressing else { panic!("a segment list") };
    assert_eq!((list[0].start, list[0].url.as_str(), list[0].number), (0.0, "https://live.example/seg-10.m4s", 10));
    // Without the live clock (or once EXT-X-ENDLIST appears) it is VOD.
    assert!(!to_manifest(&master, &[Some(live)], None, None).dynamic);
    let mut ended = window(10, 6, url);
    ended.endlist = true;
    let vod = to_manifest(&master, &[Some(ended)], None, Some(&times));
    assert_eq!((vod.dynamic, vod.duration, vod.availability_start_ms), (false, Some(12.0), None));
}

#[test]
fn a_variant_seen_later_takes_its_times_from_the_shared_numbering_and_a_stale_reload_changes_nothing() {
    let mut times = LiveTimes::default();
    let mut low = window(10, 6, "https://live.example/low.m3u8");
    times.place(0, &mut low, 100_000.0);
    // The other variant was fetched a moment later and already lists 16.
    let mut high = window(11, 6, "https://live.example/high.m3u8");
    times.place(1, &mut high, 100_020.0);
    assert_eq!(starts(&high)[0], (11, 2.0), "same number, same time (not aligned by its end)");
    // A lagging CDN edge answers with an older list: placed right, and
    // the next reload still continues from the newest.
    let clock = times.origin_ms;
    assert_eq!(clock, Some(100_020.0 - 14_000.0), "the earliest estimate: the list that ran furthest ahead");
    let mut old = window(9, 6, "https://live.example/low.m3u8");
    times.place(0, &mut old, 104_000.0);
    assert_eq!(starts(&old)[1], (10, 0.0));
    assert_eq!(times.origin_ms, clock, "an old list says nothing about the clock");
    let mut next = window(12, 6, "https://live.example/low.m3u8");
    times.place(0, &mut next, 104_100.0);
    assert_eq!(starts(&next)[0], (12, 4.0));
}
