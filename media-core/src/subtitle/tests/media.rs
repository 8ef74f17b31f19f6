//! The parsers on files made by other tools from one hand-checked source
//! (`cargo xtask test native` makes them in `target/test-media/subs`): the
//! SubRip written by xtask, ffmpeg's WebVTT, ASS and TTML of it, and Shaka
//! Packager's HLS WebVTT segments and DASH fMP4 `wvtt` fragments. Every
//! one must read to the same cues.

use super::super::*;
use std::path::PathBuf;

fn subs(file: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/test-media/subs").join(file);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e} (`cargo xtask test native` makes it with ffmpeg and Shaka Packager)", p.display()))
}

/// The source, checked by hand against `xtask::subtitle_source`: (start,
/// end, text without markup).
fn expected(tag: &str) -> Vec<(f64, f64, String)> {
    let text = |i: u32| match i {
        2 => format!("{tag} 2: hello & welcome"),
        5 => format!("{tag} 5: café < crème >\nsecond line"),
        i => format!("{tag} {i}"),
    };
    (1..=11).map(|i| (f64::from(i), f64::from(i) + 0.8, text(i))).collect()
}

fn read(cues: &[Cue]) -> Vec<(f64, f64, String)> {
    // (Times to the millisecond: TTML and ASS write other precisions.)
    let ms = |t: f64| (t * 1000.0).round() / 1000.0;
    cues.iter().map(|c| (ms(c.start), ms(c.end), c.plain())).collect()
}

#[test]
fn every_format_written_from_one_source_reads_to_its_cues() {
    for file in ["en.srt", "en.vtt", "en.ass", "en.ttml"] {
        let cues = parse_file(&subs(file), Some(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(read(&cues), expected("EN"), "{file}");
        // Italics survive where the format has them (ffmpeg's TTML drops them).
        if file != "en.ttml" {
            assert!(cues[1].text.contains("<i>hello</i>"), "{file}: {:?}", cues[1].text);
        }
        // `<` and `&` are escaped in the cue text whatever the writer did.
        assert!(cues[4].text.contains("café &lt; crème"), "{file}: {:?}", cues[4].text);
    }
    assert_eq!(read(&parse_file(&subs("fr.srt"), None).expect("fr")), expected("FR"));
}

#[test]
fn shaka_hls_webvtt_segments_read_to_the_source_cues() {
    for (lang, tag) in [("en", "EN"), ("fr", "FR")] {
        let playlist = String::from_utf8(subs(&format!("{lang}.m3u8"))).expect("utf-8");
        let mut cues = Vec::new();
        for uri in playlist.lines().filter(|l| l.ends_with(".vtt")) {
            let file = vtt::parse(&String::from_utf8_lossy(&subs(uri))).unwrap_or_else(|e| panic!("{uri}: {e}"));
            assert_eq!(file.skipped, 0, "{uri}");
            cues.extend(file.cues);
        }
        assert_eq!(read(&cues), expected(tag), "{lang}");
        assert_eq!(cues[0].place.align, Some(Align::Center));
    }
}

#[test]
fn shaka_dash_wvtt_fragments_read_to_the_source_cues() {
    for (lang, tag) in [("en", "EN"), ("fr", "FR")] {
        let track = mp4::parse_init(&subs(&format!("text-{lang}/init.mp4"))).expect("init");
        assert_eq!(track.kind, mp4::TextKind::Wvtt);
        let mut cues = Vec::new();
        for n in 1..=6 {
            cues.extend(mp4::parse_fragment(&track, &subs(&format!("text-{lang}/{n}.m4s"))).unwrap_or_else(|e| panic!("{lang} {n}: {e}")));
        }
        assert_eq!(read(&cues), expected(tag), "{lang}");
        assert!(cues[1].text.contains("<i>hello</i>"), "{:?}", cues[1].text);
    }
}

/// A feed on the stream's own text track, as the player drives it: the
/// playhead moving in 1 s steps, every fetch answered from the files (two
/// at most at a time), cues out as the playhead reaches their segments.
fn feed_to_the_end(mut feed: feed::TextFeed, base: &str) -> (Vec<Cue>, usize) {
    let mut cues: Vec<Cue> = Vec::new();
    let mut fetches = 0;
    for second in 0..=13 {
        feed.handle_time(f64::from(second));
        while let Some(o) = feed.poll_output() {
            match o {
                feed::FeedOutput::Fetch { id, url, range } => {
                    assert_eq!(range, None);
                    fetches += 1;
                    let path = url.strip_prefix(base).unwrap_or_else(|| panic!("{url} is not under {base}"));
                    feed.handle_data(id, &subs(path));
                }
                feed::FeedOutput::Cue { index, cue } => {
                    assert_eq!(index, cues.len());
                    // (Fetched ahead: a cue comes before the playhead reaches it.)
                    assert!(cue.start >= f64::from(second) - feed::BEHIND, "{cue:?} at {second} s");
                    cues.push(cue);
                }
                feed::FeedOutput::Extend { index, end } => cues[index].end = end,
            }
        }
    }
    (cues, fetches)
}

#[test]
fn text_feeds_of_the_dash_and_hls_streams_give_each_language_its_cues() {
    let base = "https://origin.test/subs/";
    let mpd = crate::mpd::parse(&String::from_utf8(subs("dash.mpd")).expect("utf-8"), &format!("{base}dash.mpd")).expect("mpd");
    let texts: Vec<_> = mpd.periods[0].tracks.iter().filter(|t| t.kind == crate::mpd::TrackKind::Text).collect();
    assert_eq!(texts.iter().map(|t| t.lang.as_deref()).collect::<Vec<_>>(), [Some("en"), Some("fr")]);
    for (track, tag) in texts.iter().zip(["EN", "FR"]) {
        let (cues, fetches) = feed_to_the_end(feed::TextFeed::new(track.representations[0].clone()), base);
        assert_eq!(read(&cues), expected(tag), "DASH {tag}");
        assert_eq!(fetches, 7, "an init and six segments, each once");
    }
    for (lang, tag) in [("en", "EN"), ("fr", "FR")] {
        let url = format!("{base}{lang}.m3u8");
        let crate::hls::Playlist::Media(media) =
            crate::hls::parse_playlist(&String::from_utf8(subs(&format!("{lang}.m3u8"))).expect("utf-8"), &url).expect("playlist")
        else {
            panic!("a media playlist")
        };
        let (cues, fetches) = feed_to_the_end(feed::TextFeed::new(crate::hls::text_representation(&media)), base);
        assert_eq!(read(&cues), expected(tag), "HLS {tag}");
        assert_eq!(fetches, 6);
    }
}
