//! The text parsers on hand-written inputs; files written by ffmpeg and
//! Shaka Packager are read in `tests/media.rs`.

use super::*;

mod media;

fn cue(start: f64, end: f64, text: &str) -> (f64, f64, String) {
    (start, end, text.to_string())
}

fn times_and_text(cues: &[Cue]) -> Vec<(f64, f64, String)> {
    cues.iter().map(|c| (c.start, c.end, c.text.clone())).collect()
}

#[test]
fn webvtt_cues_with_ids_settings_notes_and_markup() {
    let file = vtt::parse(
        "\u{feff}WEBVTT - a title\r\nKind: captions\r\n\r\nSTYLE\r\n::cue { color: red }\r\n\r\nNOTE a comment\r\nover two lines\r\n\r\n\
         intro\r\n00:01.000 --> 00:04.000 line:0 position:20% size:60% align:start\r\n<v Ana>Hello</v> &amp; <i>welcome</i>\r\n\r\n\
         01:00:02.500 --> 01:00:03.000\r\nTwo\r\nlines\r\n",
    )
    .expect("parses");
    assert_eq!(file.timestamp_map, None);
    assert_eq!(times_and_text(&file.cues), vec![cue(1.0, 4.0, "<v Ana>Hello</v> &amp; <i>welcome</i>"), cue(3602.5, 3603.0, "Two\nlines")]);
    assert_eq!(file.cues[0].place, Placement { line: Some(0.0), line_percent: false, position: Some(20.0), size: Some(60.0), align: Some(Align::Start) });
    assert_eq!(file.cues[0].plain(), "Hello & welcome");
    assert_eq!(file.cues[1].place, Placement::default());
}

#[test]
fn webvtt_hls_segment_timestamp_map_and_empty_segment() {
    let file = vtt::parse("WEBVTT\nX-TIMESTAMP-MAP=LOCAL:00:00:00.000,MPEGTS:900000\n\n00:00:10.000 --> 00:00:12.000\nHi\n").expect("parses");
    let map = file.timestamp_map.expect("map");
    assert_eq!(map, vtt::TimestampMap { mpegts: 900_000, local: 0.0 });
    assert_eq!(map.offset(), 10.0);
    // A segment of a silent stretch: a header and nothing else is fine.
    let empty = vtt::parse("WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:181083,LOCAL:00:00:01.000\n").expect("parses");
    assert!(empty.cues.is_empty());
    assert_eq!(empty.timestamp_map.map(|m| m.offset()), Some(181_083.0 / 90_000.0 - 1.0));
}

#[test]
fn webvtt_bare_angle_brackets_and_ampersands_are_escaped() {
    // (As ffmpeg writes them: `café < crème >` and `a & b`.)
    let file = vtt::parse("WEBVTT\n\n00:01.000 --> 00:02.000\na & b &amp; café < crème > <i>x</i> <00:01.500>y &#233; &x\n").expect("parses");
    assert_eq!(file.cues[0].text, "a &amp; b &amp; café &lt; crème > <i>x</i> <00:01.500>y &#233; &amp;x");
    assert_eq!(file.cues[0].plain(), "a & b & café < crème > x y é &x");
}

#[test]
fn webvtt_malformed_blocks_are_skipped_and_counted() {
    let file = vtt::parse("WEBVTT\n\n00:01.000 -> 00:02.000\nbad arrow\n\n00:03.000 --> 00:02.000\nbackwards\n\n00:04.000 --> 00:05.000\nkept\n\nonly an id\n")
        .expect("parses");
    assert_eq!(times_and_text(&file.cues), vec![cue(4.0, 5.0, "kept")]);
    assert_eq!(file.skipped, 3);
    assert_eq!(vtt::parse("WEBVTTX\n\n00:01.000 --> 00:02.000\nx\n"), Err(SubtitleError::BadHeader("no WEBVTT signature on the first line")));
    assert_eq!(parse_file(b"WEBVTT\n\nNOTE nothing else\n", None), Err(SubtitleError::NoCues { skipped: 0 }));
}

#[test]
fn srt_lenient_reading_and_markup() {
    let cues = srt::parse(
        "1\r\n00:00:01,000 --> 00:00:02,500\r\n<i>Hello</i> <font color=\"#ff0000\">there</font>\r\n\r\n\
         2\r\n00:00:03.000 --> 00:00:04.000 X1:10 X2:20\r\n{\\an8}Top & <B>bold</B> a < b\r\n\
         3\r\n00:00:05,000 --> 00:00:06,000\r\n{\\i1}lean{\\i0} 1984\r\n\r\n\r\n4\r\n99:00:00,000 --> 00:00:01,000\r\nbackwards\r\n",
    )
    .expect("parses");
    assert_eq!(
        times_and_text(&cues),
        vec![cue(1.0, 2.5, "<i>Hello</i> there"), cue(3.0, 4.0, "Top &amp; <b>bold</b> a &lt; b"), cue(5.0, 6.0, "<i>lean</i> 1984")]
    );
    assert_eq!(cues[1].place, Placement::numpad(8));
    assert_eq!(cues[1].place.line, Some(0.0));
    assert_eq!(srt::parse("just text\n"), Err(SubtitleError::NoCues { skipped: 0 }));
}

#[test]
fn ass_dialogue_in_format_order_with_styles_and_overrides() {
    let cues = ass::parse(
        "[Script Info]\nScriptType: v4.00+\n\n[V4+ Styles]\nFormat: Name, Fontname, Bold, Italic, Alignment\nStyle: Default,Arial,0,0,2\nStyle: Sign,Arial,-1,0,8\n\n\
         [Events]\nFormat: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\n\
         Dialogue: 0,0:00:01.00,0:00:02.50,Default,Ana,0,0,0,,Hello, {\\i1}world{\\i0}!\\NSecond line\n\
         Comment: 0,0:00:01.00,0:00:02.00,Default,,0,0,0,,not shown\n\
         Dialogue: 0,0:00:03.00,0:00:04.00,Sign,,0,0,0,,{\\pos(10,10)\\c&H00FF00&}Exit\n\
         Dialogue: 0,0:00:05.00,0:00:06.00,Default,,0,0,0,,{\\an7\\b1}A{\\p1}m 0 0 l 100 0{\\p0} <x>\\hB\n\
         Dialogue: 0,bad,0:00:06.00,Default,,0,0,0,,skipped\n",
    )
    .expect("parses");
    assert_eq!(
        times_and_text(&cues),
        vec![cue(1.0, 2.5, "Hello, <i>world</i>!\nSecond line"), cue(3.0, 4.0, "<b>Exit</b>"), cue(5.0, 6.0, "<b>A &lt;x&gt;\u{a0}B</b>")]
    );
    assert_eq!(cues[0].place, Placement::default());
    assert_eq!(cues[1].place, Placement::numpad(8));
    assert_eq!(cues[2].place, Placement::numpad(7));
    assert_eq!(cues[2].place.align, Some(Align::Left));
    // Legacy SSA alignment: 6 = 2 (centre) + 4 (top).
    let ssa = ass::parse("[Script Info]\n[V4 Styles]\nFormat: Name, Alignment\nStyle: Default,6\n[Events]\nFormat: Marked, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\nDialogue: Marked=0,0:00:01.00,0:00:02.00,Default,,0,0,0,,Old\n").expect("parses");
    assert_eq!(ssa[0].place, Placement::numpad(8));
}

#[test]
fn files_are_sniffed_decoded_and_sorted() {
    let srt = "2\n00:00:05,000 --> 00:00:06,000\nlater\n\n1\n00:00:01,000 --> 00:00:02,000\nsooner\n";
    let cues = parse_file(srt.as_bytes(), None).expect("srt");
    assert_eq!(cues.iter().map(Cue::plain).collect::<Vec<_>>(), ["sooner", "later"]);
    // UTF-16 with a byte order mark, as old editors write.
    let mut utf16 = vec![0xff, 0xfe];
    utf16.extend(srt.encode_utf16().flat_map(u16::to_le_bytes));
    assert_eq!(parse_file(&utf16, None).expect("utf-16"), cues);
    assert_eq!(Format::sniff("random", Some("film.en.SRT")), Some(Format::Srt));
    assert_eq!(parse_file(b"hello", Some("x.bin")), Err(SubtitleError::UnknownFormat));
    assert_eq!(parse_file(b"WEBVTT\0\n", None), Err(SubtitleError::NotText));
    assert_eq!(parse_file(&vec![b'a'; MAX_INPUT + 1], None), Err(SubtitleError::TooLarge(MAX_INPUT + 1)));
}

#[test]
fn bounds_hold_on_oversized_input() {
    // A cue of 10 KB of text is cut at MAX_CUE_TEXT on a character boundary,
    // and never in the middle of a tag or reference.
    let long = format!("WEBVTT\n\n00:01.000 --> 00:02.000\n{}<i>x</i>\n", "é&amp;".repeat(2000));
    let cues = vtt::parse(&long).expect("parses").cues;
    assert!(cues[0].text.len() <= MAX_CUE_TEXT);
    assert!(cues[0].text.ends_with("&amp;") || cues[0].text.ends_with('é'), "{:?}", &cues[0].text[cues[0].text.len() - 10..]);
    // More than MAX_CUES cues: the first MAX_CUES kept.
    let mut many = String::from("WEBVTT\n\n");
    for i in 0..MAX_CUES + 10 {
        many.push_str(&format!("{}:00.000 --> {}:00.500\nc\n\n", 10 + i / 60 % 50, 10 + i / 60 % 50));
    }
    assert_eq!(vtt::parse(&many).expect("parses").cues.len(), MAX_CUES);
}

#[test]
fn plain_text_of_markup() {
    assert_eq!(plain("<c.yellow>a</c> &lt;b&gt; &unknown; <00:00:01.000>c"), "a <b> &unknown; c");
    assert_eq!(plain("unclosed <i"), "unclosed ");
}

/// Every prefix of every sample input, and every single-byte corruption of
/// a few: no panic, and every cue kept is well formed.
#[test]
fn no_input_panics_and_every_cue_is_well_formed() {
    let samples = [
        "WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:900000,LOCAL:00:00:00.000\n\nid\n00:01.000 --> 00:02.000 line:10% align:end\n<b>é</b> &amp;\n",
        "1\r\n00:00:01,000 --> 00:00:02,000\r\n{\\an8}<i>x</i> <font>é</font>\r\n",
        "[Script Info]\n[V4+ Styles]\nFormat: Name, Italic, Alignment\nStyle: Default,-1,8\n[Events]\nFormat: Start, End, Style, Text\nDialogue: 0:00:01.00,0:00:02.00,Default,{\\b1\\p1}m{\\p0}é\\N{x\n",
    ];
    for s in samples {
        for cut in (0..=s.len()).filter(|&i| s.is_char_boundary(i)) {
            check(&s[..cut]);
        }
        let bytes = s.as_bytes();
        for i in 0..bytes.len() {
            for b in [0u8, b'\n', b'<', b'{', b'\\', b'-', b'>', b':', 0xc3] {
                let mut m = bytes.to_vec();
                m[i] = b;
                if let Ok(text) = decode(&m) {
                    check(&text);
                }
            }
        }
    }
    fn check(text: &str) {
        if let Ok(cues) = parse_file(text.as_bytes(), Some("x.srt")) {
            for c in cues {
                assert!(c.start >= 0.0 && c.end > c.start && c.text.len() <= MAX_CUE_TEXT, "{c:?}");
            }
        }
    }
}

/// A text representation of WebVTT segments of 2 s each.
fn vtt_segments(n: u64) -> crate::mpd::Representation {
    use crate::mpd::{Addressing, Representation, Segment};
    let segments = (0..n).map(|i| Segment { url: format!("s{i}.vtt"), range: None, start: i as f64 * 2.0, duration: 2.0, number: i }).collect();
    Representation {
        id: "t".into(),
        bandwidth: 0,
        mime_type: "text/vtt".into(),
        codecs: String::new(),
        width: None,
        height: None,
        frame_rate: None,
        sample_rate: None,
        base_urls: Vec::new(),
        timestamp_offset: 0.0,
        placed: true,
        transmux: false,
        discontinuities: Vec::new(),
        init: None,
        addressing: Addressing::Segments(segments),
    }
}

#[test]
fn a_feed_joins_cues_split_across_segments_drops_repeats_and_bounds_its_fetches() {
    let mut feed = feed::TextFeed::new(vtt_segments(40));
    feed.handle_time(0.0);
    let fetches: Vec<_> = std::iter::from_fn(|| feed.poll_output()).collect();
    // Two at a time, nearest the playhead first.
    assert_eq!(fetches.len(), feed::IN_FLIGHT);
    let ids: Vec<u64> = fetches
        .iter()
        .map(|f| match f {
            feed::FeedOutput::Fetch { id, url, .. } => {
                assert!(url == "s0.vtt" || url == "s1.vtt", "{url}");
                *id
            }
            other => panic!("{other:?}"),
        })
        .collect();
    // Segment 0 ends a cue at its boundary; segment 1 carries its rest and
    // repeats a cue segment 0 had whole (as packagers do).
    feed.handle_data(ids[0], b"WEBVTT\n\n00:00.500 --> 00:01.000\nwhole\n\n00:01.500 --> 00:02.000\nsplit\n");
    feed.handle_data(ids[1], b"WEBVTT\n\n00:00.500 --> 00:01.000\nwhole\n\n00:02.000 --> 00:03.500\nsplit\n");
    let out: Vec<_> = std::iter::from_fn(|| feed.poll_output()).collect();
    let cues: Vec<_> =
        out.iter().filter_map(|o| if let feed::FeedOutput::Cue { index, cue } = o { Some((*index, cue.plain(), cue.start, cue.end)) } else { None }).collect();
    assert_eq!(cues, [(0, "whole".to_string(), 0.5, 1.0), (1, "split".to_string(), 1.5, 2.0)]);
    assert!(out.contains(&feed::FeedOutput::Extend { index: 1, end: 3.5 }), "{out:?}");
    // The next two segments were asked for as these two came in; a failed
    // one is not asked again, and the feed goes on.
    let next: Vec<u64> = out.iter().filter_map(|o| if let feed::FeedOutput::Fetch { id, .. } = o { Some(*id) } else { None }).collect();
    assert_eq!(next.len(), 2);
    feed.handle_failed(next[0]);
    feed.handle_data(next[1], b"not webvtt");
    let after: Vec<_> = std::iter::from_fn(|| feed.poll_output()).collect();
    assert_eq!(after.len(), 2, "two more fetches: {after:?}");
    // A seek far ahead while two fetches run: nothing more until one ends.
    feed.handle_time(60.0);
    let urls: Vec<String> =
        std::iter::from_fn(|| feed.poll_output()).filter_map(|o| if let feed::FeedOutput::Fetch { url, .. } = o { Some(url) } else { None }).collect();
    assert!(urls.is_empty(), "two still running: {urls:?}");
}

#[test]
fn any_format_round_trips_through_webvtt() {
    let srt = "1\n00:00:01,000 --> 00:00:02,500\n{\\an8}<i>Top</i> & more\n\n2\n01:02:03,004 --> 01:02:04,000\nTwo\n\nlines\n";
    let cues = parse_file(srt.as_bytes(), None).expect("srt");
    let text = to_webvtt(&cues);
    assert!(text.starts_with("WEBVTT\n\n00:00:01.000 --> 00:00:02.500 line:0%\n<i>Top</i> &amp; more\n"), "{text}");
    let again = vtt::parse(&text).expect("vtt");
    assert_eq!(again.cues, cues);
    assert_eq!(again.skipped, 0);
    let odd = [Cue {
        start: 0.0,
        end: 1.5,
        text: "a\n\nb".into(),
        place: Placement { line: Some(-2.0), position: Some(12.5), size: Some(33.333), ..Placement::default() },
    }];
    let back = vtt::parse(&to_webvtt(&odd)).expect("vtt").cues;
    assert_eq!(back[0].text, "a\nb");
    assert_eq!(back[0].place, odd[0].place);
}

#[test]
fn a_feed_places_hls_webvtt_by_its_timestamp_map_once_the_streams_origin_is_known() {
    // An MPEG-TS stream whose first PTS is 10 s (900000 ticks) plays from
    // element time 0; its WebVTT says LOCAL 0 is MPEGTS 900000 + 2 s.
    let mut feed = feed::TextFeed::new(vtt_segments(2));
    feed.handle_mpegts_origin(10.0);
    feed.handle_time(0.0);
    let ids: Vec<u64> =
        std::iter::from_fn(|| feed.poll_output()).filter_map(|o| if let feed::FeedOutput::Fetch { id, .. } = o { Some(id) } else { None }).collect();
    feed.handle_data(ids[0], b"WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:1080000,LOCAL:00:00:00.000\n\n00:00:01.000 --> 00:00:02.000\nmapped\n");
    // A segment without a map is on the element's timeline as written.
    feed.handle_data(ids[1], b"WEBVTT\n\n00:00:03.000 --> 00:00:04.000\nas written\n");
    let cues: Vec<(String, f64, f64)> = std::iter::from_fn(|| feed.poll_output())
        .filter_map(|o| if let feed::FeedOutput::Cue { cue, .. } = o { Some((cue.plain(), cue.start, cue.end)) } else { None })
        .collect();
    assert_eq!(cues, [("mapped".to_string(), 3.0, 4.0), ("as written".to_string(), 3.0, 4.0)]);
}

/// Inputs built to make a parser scan again and again: each is read in one
/// pass. (Quadratic, a 2 MiB line of `{\` took hours: the test finishing
/// is the check.)
#[test]
fn hostile_lines_are_read_in_linear_time() {
    for body in ["{\\".repeat(1 << 20), "<a".repeat(1 << 20), "&a".repeat(1 << 20), "{".repeat(1 << 21)] {
        let srt = format!("1\n00:00:01,000 --> 00:00:02,000\n{body}\n");
        let _ = srt::parse(&srt);
        let _ = vtt::parse(&format!("WEBVTT\n\n00:01.000 --> 00:02.000\n{body}\n"));
        let _ = ass::parse(&format!("[Events]\nFormat: Start, End, Text\nDialogue: 0:00:01.00,0:00:02.00,{body}\n"));
    }
}
