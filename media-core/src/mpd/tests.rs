use super::*;

/// The shape ffmpeg's DASH muxer writes (SegmentTemplate + SegmentTimeline per representation).
const FFMPEG_MPD: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" profiles="urn:mpeg:dash:profile:isoff-live:2011" type="static"
     mediaPresentationDuration="PT30.0S" minBufferTime="PT4.0S">
  <Period id="0" start="PT0.0S">
    <AdaptationSet id="0" contentType="video" startWithSAP="1" segmentAlignment="true" bitstreamSwitching="true">
      <Representation id="0" mimeType="video/mp4" codecs="avc1.64000d" bandwidth="150000" width="320" height="180">
        <SegmentTemplate timescale="12800" initialization="init-stream$RepresentationID$.m4s" media="chunk-stream$RepresentationID$-$Number%05d$.m4s" startNumber="1">
          <SegmentTimeline>
            <S t="0" d="25600" r="13" />
            <S d="25600" />
          </SegmentTimeline>
        </SegmentTemplate>
      </Representation>
    </AdaptationSet>
    <AdaptationSet id="1" contentType="audio" startWithSAP="1" segmentAlignment="true" bitstreamSwitching="true" lang="en">
      <Representation id="1" mimeType="audio/mp4" codecs="mp4a.40.2" bandwidth="64000" audioSamplingRate="48000">
        <SegmentTemplate timescale="48000" initialization="init-stream$RepresentationID$.m4s" media="chunk-stream$RepresentationID$-$Number%05d$.m4s" startNumber="1">
          <SegmentTimeline><S t="0" d="96256" r="-1" /></SegmentTimeline>
        </SegmentTemplate>
      </Representation>
    </AdaptationSet>
  </Period>
</MPD>"#;

#[test]
fn an_ffmpeg_manifest_becomes_two_tracks_with_segment_plans() {
    let m = parse(FFMPEG_MPD, "http://127.0.0.1:8787/media/demo/manifest.mpd").unwrap();
    assert_eq!(m.duration, Some(30.0));
    assert_eq!(m.tracks.len(), 2);
    let video = &m.tracks[0];
    assert_eq!(video.kind, TrackKind::Video);
    let v = &video.representations[0];
    assert_eq!(v.content_type(), "video/mp4; codecs=\"avc1.64000d\"");
    assert_eq!(v.init_url.as_deref(), Some("http://127.0.0.1:8787/media/demo/init-stream0.m4s"));
    assert_eq!(v.segments.len(), 15);
    assert_eq!(v.segments[0].url, "http://127.0.0.1:8787/media/demo/chunk-stream0-00001.m4s");
    assert_eq!(v.segments[14].url, "http://127.0.0.1:8787/media/demo/chunk-stream0-00015.m4s");
    assert!((v.segments[14].start - 28.0).abs() < 1e-9);
    let audio = &m.tracks[1];
    assert_eq!(audio.kind, TrackKind::Audio);
    assert_eq!(audio.lang.as_deref(), Some("en"));
    // r="-1" repeats to the end of the period: ceil(30 s / 2.005 s) = 15
    assert_eq!(audio.representations[0].segments.len(), 15);
}

#[test]
fn number_templates_with_duration_and_base_url_chain() {
    let mpd = r#"<MPD type="static" mediaPresentationDuration="PT9S"><BaseURL>http://cdn.example/root/</BaseURL>
      <Period><BaseURL>p1/</BaseURL>
        <AdaptationSet mimeType="video/mp4" codecs="avc1.42c01e"><BaseURL>../v/</BaseURL>
          <SegmentTemplate media="$RepresentationID$/$Number$.m4s?b=$Bandwidth$" initialization="$RepresentationID$/init.mp4" duration="4" startNumber="5"/>
          <Representation id="lo" bandwidth="100"/>
          <Representation id="hi" bandwidth="900"><BaseURL>http://other.example/abs/</BaseURL></Representation>
        </AdaptationSet>
      </Period></MPD>"#;
    let m = parse(mpd, "http://origin.example/x/manifest.mpd").unwrap();
    let reps = &m.tracks[0].representations;
    assert_eq!(reps[0].init_url.as_deref(), Some("http://cdn.example/root/v/lo/init.mp4"));
    assert_eq!(reps[0].segments.iter().map(|s| s.url.as_str()).collect::<Vec<_>>(), [
        "http://cdn.example/root/v/lo/5.m4s?b=100",
        "http://cdn.example/root/v/lo/6.m4s?b=100",
        "http://cdn.example/root/v/lo/7.m4s?b=100",
    ]);
    assert!((reps[0].segments[2].duration - 1.0).abs() < 1e-9, "last segment is cut at the end");
    assert_eq!(reps[1].segments[0].url, "http://other.example/abs/hi/5.m4s?b=900");
    assert_eq!(reps[1].codecs, "avc1.42c01e", "inherited from the adaptation set");
}

#[test]
fn time_templates_follow_the_timeline() {
    let mpd = r#"<MPD type="static" mediaPresentationDuration="PT6S"><Period><AdaptationSet contentType="audio" mimeType="audio/mp4">
      <SegmentTemplate timescale="1000" media="a_$Time$.mp4" presentationTimeOffset="500"><SegmentTimeline><S t="500" d="2000" r="1"/><S d="2000"/></SegmentTimeline></SegmentTemplate>
      <Representation id="a" bandwidth="1"/></AdaptationSet></Period></MPD>"#;
    let m = parse(mpd, "https://h/m.mpd").unwrap();
    let segs = &m.tracks[0].representations[0].segments;
    assert_eq!(segs.iter().map(|s| (s.url.as_str(), s.start)).collect::<Vec<_>>(), [
        ("https://h/a_500.mp4", 0.0),
        ("https://h/a_2500.mp4", 2.0),
        ("https://h/a_4500.mp4", 4.0),
    ]);
}

#[test]
fn template_identifiers() {
    assert_eq!(fill("$RepresentationID$-$Number%05d$-$Time$-$$-$Bandwidth%3d$", "v1", 7, Some(42), Some(9)), "v1-00042-9-$-007");
    assert_eq!(fill("a$Unknown$b$", "x", 0, None, None), "a$Unknown$b$");
}

#[test]
fn durations() {
    assert_eq!(parse_duration("PT30.0S"), Some(30.0));
    assert_eq!(parse_duration("PT1H2M3.5S"), Some(3723.5));
    assert_eq!(parse_duration("P1DT1S"), Some(86_401.0));
    assert_eq!(parse_duration("30"), None);
    assert_eq!(parse_duration("PT5X"), None);
}

#[test]
fn hostile_documents_fail_cleanly() {
    let laughs = r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
        <MPD type="static" mediaPresentationDuration="PT1S"><BaseURL>&lol2;</BaseURL><Period/></MPD>"#;
    assert!(matches!(parse(laughs, "http://h/"), Err(MpdError::Xml(_))));
    let deep = format!("<MPD>{}{}</MPD>", "<a>".repeat(100), "</a>".repeat(100));
    assert_eq!(parse(&deep, "http://h/"), Err(MpdError::TooDeep));
    assert_eq!(parse("<html/>", "http://h/"), Err(MpdError::NotAnMpd));
    assert_eq!(parse("", "http://h/"), Err(MpdError::NotAnMpd));
    assert!(matches!(parse("<MPD><Period>", "http://h/"), Err(_) | Ok(_)));
    let huge = format!("<MPD>{}</MPD>", " ".repeat(MAX_MPD_BYTES));
    assert!(matches!(parse(&huge, "http://h/"), Err(MpdError::TooLarge(_))));
    let many = r#"<MPD type="static" mediaPresentationDuration="PT1S"><Period><AdaptationSet><SegmentTemplate media="$Number$"><SegmentTimeline><S d="1" r="999999999"/></SegmentTimeline></SegmentTemplate><Representation id="a"/></AdaptationSet></Period></MPD>"#;
    assert_eq!(parse(many, "http://h/"), Err(MpdError::TooManySegments));
}

/// Every real-world manifest in the shared corpus either parses or is
/// refused with a typed error; none panics.
#[test]
fn the_shared_corpus_never_panics() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus/dash");
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("corpus at {}: {e}", dir.display()));
    let (mut parsed, mut refused) = (0, 0);
    for entry in entries.flatten() {
        let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
        match parse(&text, "https://origin.example/path/manifest.mpd") {
            Ok(m) => {
                parsed += 1;
                for r in m.tracks.iter().flat_map(|t| &t.representations) {
                    for s in &r.segments {
                        assert!(s.url.starts_with("http"), "{}: {}", entry.path().display(), s.url);
                    }
                }
            }
            Err(_) => refused += 1,
        }
    }
    assert!(parsed >= 10, "parsed {parsed}, refused {refused}");
}
