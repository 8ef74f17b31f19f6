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
    assert_eq!(m.periods[0].tracks.len(), 2);
    let video = &m.periods[0].tracks[0];
    assert_eq!(video.kind, TrackKind::Video);
    let v = &video.representations[0];
    assert_eq!(v.content_type(), "video/mp4; codecs=\"avc1.64000d\"");
    assert_eq!(v.init_url(), Some("http://127.0.0.1:8787/media/demo/init-stream0.m4s"));
    assert_eq!(v.segments().len(), 15);
    assert_eq!(v.segments()[0].url, "http://127.0.0.1:8787/media/demo/chunk-stream0-00001.m4s");
    assert_eq!(v.segments()[14].url, "http://127.0.0.1:8787/media/demo/chunk-stream0-00015.m4s");
    assert!((v.segments()[14].start - 28.0).abs() < 1e-9);
    let audio = &m.periods[0].tracks[1];
    assert_eq!(audio.kind, TrackKind::Audio);
    assert_eq!(audio.lang.as_deref(), Some("en"));
    // r="-1" repeats to the end of the period: ceil(30 s / 2.005 s) = 15
    assert_eq!(audio.representations[0].segments().len(), 15);
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
    let reps = &m.periods[0].tracks[0].representations;
    assert_eq!(reps[0].init_url(), Some("http://cdn.example/root/v/lo/init.mp4"));
    assert_eq!(
        reps[0].segments().iter().map(|s| s.url.as_str()).collect::<Vec<_>>(),
        ["http://cdn.example/root/v/lo/5.m4s?b=100", "http://cdn.example/root/v/lo/6.m4s?b=100", "http://cdn.example/root/v/lo/7.m4s?b=100",]
    );
    assert!((reps[0].segments()[2].duration - 1.0).abs() < 1e-9, "last segment is cut at the end");
    assert_eq!(reps[1].segments()[0].url, "http://other.example/abs/hi/5.m4s?b=900");
    assert_eq!(reps[1].codecs, "avc1.42c01e", "inherited from the adaptation set");
}

#[test]
fn time_templates_follow_the_timeline() {
    let mpd = r#"<MPD type="static" mediaPresentationDuration="PT6S"><Period><AdaptationSet contentType="audio" mimeType="audio/mp4">
      <SegmentTemplate timescale="1000" media="a_$Time$.mp4" presentationTimeOffset="500"><SegmentTimeline><S t="500" d="2000" r="1"/><S d="2000"/></SegmentTimeline></SegmentTemplate>
      <Representation id="a" bandwidth="1"/></AdaptationSet></Period></MPD>"#;
    let m = parse(mpd, "https://h/m.mpd").unwrap();
    let segs = m.periods[0].tracks[0].representations[0].segments();
    assert_eq!(
        segs.iter().map(|s| (s.url.as_str(), s.start)).collect::<Vec<_>>(),
        [("https://h/a_500.mp4", 0.0), ("https://h/a_2500.mp4", 2.0), ("https://h/a_4500.mp4", 4.0),]
    );
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
    assert!(matches!(parse("<MPD><Period>", "http://h/"), Err(MpdError::Xml(_))), "{:?}", parse("<MPD><Period>", "http://h/"));
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
                for r in m.periods.iter().flat_map(|p| &p.tracks).flat_map(|t| &t.representations) {
                    for s in r.segments() {
                        assert!(s.url.starts_with("http"), "{}: {}", entry.path().display(), s.url);
                    }
                }
            }
            Err(_) => refused += 1,
        }
    }
    assert!(parsed >= 10, "parsed {parsed}, refused {refused}");
}

// ---------------------------------------------------------------------------
// Real-world manifests from the shared corpus, with expected values worked
// out by hand from the XML (the reasoning is in the comments).

const ORIGIN: &str = "https://origin.example/path/manifest.mpd";

fn corpus_text(name: &str) -> String {
    let path = format!("{}/{name}", concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/corpus/dash"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("corpus file {path}: {e}"))
}

fn corpus(name: &str) -> Manifest {
    parse(&corpus_text(name), ORIGIN).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn rep(m: &Manifest, period: usize, track: usize, rep: usize) -> &Representation {
    &m.periods[period].tracks[track].representations[rep]
}

#[track_caller]
fn approx(actual: f64, expected: f64) {
    assert!((actual - expected).abs() < 1e-6, "{actual} != {expected}");
}

#[track_caller]
fn approx_opt(actual: Option<f64>, expected: f64) {
    match actual {
        Some(a) => approx(a, expected),
        None => panic!("None != Some({expected})"),
    }
}

/// One segment: URL, inclusive byte range, start and duration (presentation
/// seconds, to 1e-6) and number.
#[track_caller]
fn seg(s: &Segment, url: &str, range: Option<(u64, u64)>, start: f64, duration: f64, number: u64) {
    assert_eq!(s.url, url);
    assert_eq!(s.range, range, "range of {url}");
    assert!((s.start - start).abs() < 1e-6, "start of {url}: {} != {start}", s.start);
    assert!((s.duration - duration).abs() < 1e-6, "duration of {url}: {} != {duration}", s.duration);
    assert_eq!(s.number, number, "number of {url}");
}

#[track_caller]
fn periods(m: &Manifest, expected: &[(f64, Option<f64>)]) {
    assert_eq!(m.periods.len(), expected.len(), "period count");
    for (p, (start, duration)) in m.periods.iter().zip(expected) {
        approx(p.start, *start);
        match (p.duration, duration) {
            (Some(a), Some(b)) => approx(a, *b),
            (a, b) => assert_eq!(a, *b, "duration of period {:?}", p.id),
        }
    }
}

/// SegmentTemplate + `$Number$` + `@duration`, static (livesim multi-drm).
#[test]
fn corpus_livesim_number_template_with_duration() {
    let m = corpus("dash-mpd__livesim__multi-drm.mpd");
    // No BaseURL anywhere: everything resolves against the manifest URL.
    // The one Period has neither @start nor @duration: start 0, duration =
    // mediaPresentationDuration PT5S.
    assert!(!m.dynamic);
    approx_opt(m.duration, 5.0);
    periods(&m, &[(0.0, Some(5.0))]);
    let r = rep(&m, 0, 0, 0);
    assert_eq!(r.id, "video/avc1");
    assert_eq!(r.base_urls, ["https://origin.example/path/manifest.mpd"]);
    assert_eq!(m.periods[0].tracks[0].kind, TrackKind::Video);
    // initialization="$RepresentationID$/init.mp4", id = "video/avc1".
    assert_eq!(r.init, Some(ByteRef { url: "https://origin.example/path/video/avc1/init.mp4".into(), range: None }));
    // timescale 1000, duration 1920 → 1.92 s; startNumber 1; 5 s / 1.92 s →
    // 3 segments, the last cut to 5 − 3.84 = 1.16 s.
    let s = r.segments();
    assert_eq!(s.len(), 3);
    seg(&s[0], "https://origin.example/path/video/avc1/seg-1.m4s", None, 0.0, 1.92, 1);
    seg(&s[1], "https://origin.example/path/video/avc1/seg-2.m4s", None, 1.92, 1.92, 2);
    seg(&s[2], "https://origin.example/path/video/avc1/seg-3.m4s", None, 3.84, 1.16, 3);
    approx(r.timestamp_offset, 0.0);
}

/// `$Number$` + `$Bandwidth$`, three periods each with its own absolute
/// Period BaseURL (DASH-IF test case 5b-1, Thomson).
#[test]
fn corpus_thomson_bandwidth_template_over_three_periods() {
    let m = corpus("dash-mpd-rs__dash-testcases-5b-1-thomson.mpd");
    // Period durations 90, 60, 98 and no @start: starts 0, 90, 150.
    periods(&m, &[(0.0, Some(90.0)), (90.0, Some(60.0)), (150.0, Some(98.0))]);
    approx_opt(m.end(), 248.0);
    // Period 1: BaseURL http://dash.edgesuite.net/dash264/TestCases/1b/thomson-networks/1/
    // (absolute, replaces the manifest URL); media video_$Number$_$Bandwidth$bps.mp4,
    // duration 2 (timescale 1), startNumber 23821645; v0 bandwidth 4000000.
    let b1 = "http://dash.edgesuite.net/dash264/TestCases/1b/thomson-networks/1/";
    let v0 = rep(&m, 0, 0, 0);
    assert_eq!(v0.base_urls, [b1]);
    assert_eq!(v0.init_url(), Some(format!("{b1}video_4000000bps.mp4").as_str()));
    let s = v0.segments();
    assert_eq!(s.len(), 45, "90 s / 2 s");
    seg(&s[0], &format!("{b1}video_23821645_4000000bps.mp4"), None, 0.0, 2.0, 23821645);
    seg(&s[1], &format!("{b1}video_23821646_4000000bps.mp4"), None, 2.0, 2.0, 23821646);
    seg(&s[44], &format!("{b1}video_23821689_4000000bps.mp4"), None, 88.0, 2.0, 23821689);
    // Period 2: the 2b directory; v3 has bandwidth 500000; startNumber 23601896.
    let b2 = "http://dash.edgesuite.net/dash264/TestCases/2b/thomson-networks/1/";
    let v3 = rep(&m, 1, 0, 3);
    assert_eq!(v3.id, "v3");
    let s = v3.segments();
    assert_eq!(s.len(), 30, "60 s / 2 s");
    seg(&s[0], &format!("{b2}video_23601896_500000bps.mp4"), None, 90.0, 2.0, 23601896);
    seg(&s[1], &format!("{b2}video_23601897_500000bps.mp4"), None, 92.0, 2.0, 23601897);
    // No presentationTimeOffset: media time 0 is the period start.
    approx(v3.timestamp_offset, 90.0);
    let a4 = rep(&m, 1, 1, 0);
    assert_eq!(a4.init_url(), Some(format!("{b2}audio_96000bps_Input_4.mp4").as_str()));
    assert_eq!(a4.segments()[0].url, format!("{b2}audio_23601896_96000bps_Input_4.mp4"));
    assert_eq!(a4.codecs, "mp4a.40.2", "inherited from the AdaptationSet");
    assert_eq!(a4.sample_rate, Some(48000));
    assert_eq!(m.periods[1].tracks[1].roles, ["main"]);
    // Period 3 returns to 1b, startNumber 23821690; 98 s / 2 s = 49.
    let v1 = rep(&m, 2, 0, 1);
    assert_eq!(v1.segments().len(), 49);
    seg(&v1.segments()[0], &format!("{b1}video_23821690_2500000bps.mp4"), None, 150.0, 2.0, 23821690);
    approx(v1.timestamp_offset, 150.0);
}

/// Three BaseURLs at the MPD level (alternates), startNumber 0, a
/// Representation with an absolute BaseURL of its own.
#[test]
fn corpus_go_dash_several_base_urls_at_one_level() {
    let m = corpus("dash-mpd__go-dash-fixtures__live_profile_multi_base_url.mpd");
    // ./, ../a/ and ../b/ against https://origin.example/path/manifest.mpd.
    let bases = ["https://origin.example/path/", "https://origin.example/a/", "https://origin.example/b/"];
    periods(&m, &[(0.0, Some(376.0))]);
    let audio = rep(&m, 0, 0, 0);
    assert_eq!(audio.id, "800");
    assert_eq!(audio.base_urls, bases);
    assert_eq!(m.periods[0].tracks[0].roles, ["main"]);
    assert_eq!(audio.init_url(), Some("https://origin.example/path/800/audio/en/init.mp4"));
    // duration 1968 / timescale 1000 = 1.968 s, startNumber 0;
    // 376 / 1.968 = 191.06 → 192 segments, the last 376 − 191·1.968 = 0.112 s.
    let s = audio.segments();
    assert_eq!(s.len(), 192);
    seg(&s[0], "https://origin.example/path/800/audio/en/seg-0.m4f", None, 0.0, 1.968, 0);
    seg(&s[1], "https://origin.example/path/800/audio/en/seg-1.m4f", None, 1.968, 1.968, 1);
    seg(&s[2], "https://origin.example/path/800/audio/en/seg-2.m4f", None, 3.936, 1.968, 2);
    seg(&s[191], "https://origin.example/path/800/audio/en/seg-191.m4f", None, 375.888, 0.112, 191);
    // Failover: the same path under the second and third base.
    let video = rep(&m, 0, 1, 3);
    assert_eq!(video.id, "1500");
    assert_eq!(video.frame_rate.map(|f| (f * 1000.0).round()), Some(29970.0));
    let first = &video.segments()[0].url;
    assert_eq!(first, "https://origin.example/path/1500/video/1/seg-0.m4f");
    assert_eq!(video.rebase(first, 1).as_deref(), Some("https://origin.example/a/1500/video/1/seg-0.m4f"));
    assert_eq!(video.rebase(first, 2).as_deref(), Some("https://origin.example/b/1500/video/1/seg-0.m4f"));
    assert_eq!(video.rebase(first, 3), None);
    // The subtitle: an absolute BaseURL and no segment information: the whole
    // file is one segment spanning the period.
    let text = &m.periods[0].tracks[2];
    assert_eq!(text.kind, TrackKind::Text);
    assert_eq!(text.label.as_deref(), Some("Subtitle (En)"));
    let sub = &text.representations[0];
    assert_eq!(sub.base_urls[0], "http://example.com/content/sintel/subtitles/subtitles_en.vtt");
    assert_eq!(sub.init, None);
    assert_eq!(sub.segments().len(), 1);
    seg(&sub.segments()[0], "http://example.com/content/sintel/subtitles/subtitles_en.vtt", None, 0.0, 376.0, 1);
}

/// `$Number%06d$` with an AdaptationSet-level relative BaseURL (ISO example G.13-1).
#[test]
fn corpus_g13_zero_padded_number_under_an_adaptation_set_base() {
    let m = corpus("dash-mpd__schema-mpds__example_G13-1.mpd");
    // No @type: static. mediaPresentationDuration PT54M16S = 3256 s.
    assert!(!m.dynamic);
    periods(&m, &[(0.0, Some(3256.0))]);
    // BaseURL avc3-events/ → https://origin.example/path/avc3-events/
    let r = rep(&m, 0, 0, 0);
    assert_eq!(r.base_urls, ["https://origin.example/path/avc3-events/"]);
    assert_eq!(r.init_url(), Some("https://origin.example/path/avc3-events/960x540p50/IS.mp4"));
    // duration 3840/1000 = 3.84 s: 3256 / 3.84 = 847.9 → 848 segments, the last
    // starting at 847·3.84 = 3252.48 and cut to 3.52 s.
    let s = r.segments();
    assert_eq!(s.len(), 848);
    seg(&s[0], "https://origin.example/path/avc3-events/960x540p50/000001.m4s", None, 0.0, 3.84, 1);
    seg(&s[1], "https://origin.example/path/avc3-events/960x540p50/000002.m4s", None, 3.84, 3.84, 2);
    seg(&s[2], "https://origin.example/path/avc3-events/960x540p50/000003.m4s", None, 7.68, 3.84, 3);
    seg(&s[847], "https://origin.example/path/avc3-events/960x540p50/000848.m4s", None, 3252.48, 3.52, 848);
    let low = rep(&m, 0, 0, 1);
    approx_opt(low.frame_rate, 6.25);
    assert_eq!(low.segments()[0].url, "https://origin.example/path/avc3-events/192x108p6_25/000001.m4s");
}

/// SegmentTimeline with `$Number%05d$`, startNumber 3 and a first S@t that
/// is not 0 (shaka 3675 dash_5).
#[test]
fn corpus_shaka_timeline_number_with_start_number_and_offset_t() {
    let m = corpus("shaka__3675__dash_5.mpd");
    periods(&m, &[(0.0, Some(14.0))]);
    let r = rep(&m, 0, 0, 0);
    assert_eq!(r.init_url(), Some("https://origin.example/path/init-stream0.m4s"));
    // S t=61440 d=30720 r=4, timescale 15360: five 2 s segments starting at
    // 61440/15360 = 4 s, numbered from startNumber 3.
    let s = r.segments();
    assert_eq!(s.len(), 5);
    seg(&s[0], "https://origin.example/path/chunk-stream0-00003.m4s", None, 4.0, 2.0, 3);
    seg(&s[1], "https://origin.example/path/chunk-stream0-00004.m4s", None, 6.0, 2.0, 4);
    seg(&s[2], "https://origin.example/path/chunk-stream0-00005.m4s", None, 8.0, 2.0, 5);
    seg(&s[4], "https://origin.example/path/chunk-stream0-00007.m4s", None, 12.0, 2.0, 7);
    approx(r.timestamp_offset, 0.0);
    approx_opt(r.frame_rate, 30.0);
}

/// SegmentTimeline with `$Time$` and an S without @t (shaka dash-aes-128).
#[test]
fn corpus_shaka_time_template_without_initial_t() {
    let m = corpus("shaka__dash-aes-128__dash.mpd");
    periods(&m, &[(0.0, Some(8.0))]);
    let r = rep(&m, 0, 0, 0);
    assert_eq!(r.id, "1_V_video_8");
    assert_eq!(r.init_url(), Some("https://origin.example/path/Fragments(video=i,format=mpd-time-csf)"));
    // S d=20000000 r=4, timescale 10^7, no @t → t starts at 0: 5 × 2 s.
    let s = r.segments();
    assert_eq!(s.len(), 5);
    seg(&s[0], "https://origin.example/path/Fragments(video=0,format=mpd-time-csf)", None, 0.0, 2.0, 1);
    seg(&s[1], "https://origin.example/path/Fragments(video=20000000,format=mpd-time-csf)", None, 2.0, 2.0, 2);
    seg(&s[2], "https://origin.example/path/Fragments(video=40000000,format=mpd-time-csf)", None, 4.0, 2.0, 3);
    assert_eq!(r.content_type(), "video/mp4; codecs=\"avc1.64000D\"");
}

/// Seven periods (SSAI), `$Number%09d$`, absolute MPD and Period BaseURLs, a
/// timeline with explicit @t at every S, and presentationTimeOffsets of 10^12
/// ticks (AWS MediaTailor).
#[test]
fn corpus_aws_mediatailor_multi_period() {
    let m = corpus("dash-mpd-rs__aws.xml");
    periods(
        &m,
        &[
            (0.0, Some(14.976)),
            (14.976, Some(14.976)),
            (29.952, Some(24.024)),
            (53.976, Some(14.976)),
            (68.952, Some(14.976)),
            (83.928, Some(5.205)),
            (89.133, Some(18.818)),
        ],
    );
    // Period 1 has its own absolute BaseURL (the ad); timescale 90000 and
    // startNumber 1 come from the AdaptationSet's SegmentTemplate.
    let ad = "https://12345.mediatailor.us-west-2.amazonaws.com/v1/dashsegment/0d598fad40f42c4644d1c5b7674438772ee23b12/dash-vod-insertion/a5a7cf24-ee56-40e9-a0a2-82b483cf8650/8778696_PT0S/8778696_PT0S_0/";
    let v = rep(&m, 0, 0, 0);
    assert_eq!(v.base_urls, [ad]);
    assert_eq!(v.init_url(), Some(format!("{ad}asset_720_3_1init.mp4").as_str()));
    // S t=0 d=180000 r=6 (7 × 2 s) then S t=1260000 d=87000 (14 s, 0.9667 s).
    let s = v.segments();
    assert_eq!(s.len(), 8);
    seg(&s[0], &format!("{ad}asset_720_3_1_000000001.mp4"), None, 0.0, 2.0, 1);
    seg(&s[1], &format!("{ad}asset_720_3_1_000000002.mp4"), None, 2.0, 2.0, 2);
    seg(&s[7], &format!("{ad}asset_720_3_1_000000008.mp4"), None, 14.0, 87000.0 / 90000.0, 8);
    // Audio, timescale 48000: 4 × 96256, then S t=385024 d=95232.
    let a = rep(&m, 0, 1, 0);
    assert_eq!(a.segments().len(), 8);
    seg(&a.segments()[4], &format!("{ad}asset_audio_96_3_000000005.mp4"), None, 385024.0 / 48000.0, 1.984, 5);
    // Period 3 has no BaseURL: the MPD's (absolute) one applies.
    let origin = "https://10380e91fda5e303.mediapackage.us-west-2.amazonaws.com/out/v1/5f6a2197815e444a967f0c12f8325a11/";
    let v = rep(&m, 2, 0, 0);
    assert_eq!(v.base_urls, [origin]);
    assert_eq!(v.init_url(), Some(format!("{origin}index_video_7_0_init.mp4?m=1566416213").as_str()));
    // timescale 30000, pto = S@t = 1317997547283 → the first segment starts at
    // the period start 29.952; d=180180 → 6.006 s; r=3 → 4 segments.
    let s = v.segments();
    assert_eq!(s.len(), 4);
    seg(&s[0], &format!("{origin}index_video_7_0_8778700.mp4?m=1566416213"), None, 29.952, 6.006, 8778700);
    seg(&s[1], &format!("{origin}index_video_7_0_8778701.mp4?m=1566416213"), None, 35.958, 6.006, 8778701);
    seg(&s[2], &format!("{origin}index_video_7_0_8778702.mp4?m=1566416213"), None, 41.964, 6.006, 8778702);
    // timestamp_offset = 29.952 − 1317997547283/30000 = 29.952 − 43933251.5761.
    approx(v.timestamp_offset, -43933221.6241);
    // Audio: pto 2108796075909 at 48000; S t=pto d=288768 (6.016 s), then
    // t=pto+288768 d=287744, then t=pto+576512 (12.0106667 s in).
    let a = rep(&m, 2, 1, 0);
    assert_eq!(a.segments().len(), 5);
    seg(&a.segments()[0], &format!("{origin}index_audio_5_0_8778700.mp4?m=1566416213"), None, 29.952, 6.016, 8778700);
    seg(&a.segments()[1], &format!("{origin}index_audio_5_0_8778701.mp4?m=1566416213"), None, 35.968, 287744.0 / 48000.0, 8778701);
    seg(&a.segments()[2], &format!("{origin}index_audio_5_0_8778702.mp4?m=1566416213"), None, 29.952 + 576512.0 / 48000.0, 6.016, 8778702);
    approx(a.timestamp_offset, -43933221.6294375);
}

/// Five periods with mid-roll ads: content periods with presentationTimeOffset
/// and absolute media templates, ad periods with a Period BaseURL (Telenet).
#[test]
fn corpus_telenet_mid_rolls_offsets_and_period_bases() {
    let m = corpus("dash-mpd-rs__telenet-mid-ad-rolls.mpd");
    // Durations 14M14.16S, 31.36S, 10M5.48S, 31.36S, 16M48.96S; no @start, so
    // starts are running sums: 0, 854.16, 885.52, 1491, 1522.36.
    periods(&m, &[(0.0, Some(854.16)), (854.16, Some(31.36)), (885.52, Some(605.48)), (1491.0, Some(31.36)), (1522.36, Some(1008.96))]);
    approx_opt(m.end(), 2531.32);
    let cdn = "https://stream3-vod.cdn1.sbs.prd.telenet-ops.be/geo/SSAI/NIVEAU_4_BRUSSEL-ZUID/S4/E8/10152250414286812/20231023T120019065/";
    // Period 1, 720p: absolute media; timescale 25000; S d=48000 (no t → 0),
    // S d=48000 r=442, S d=42000: 1 + 443 + 1 = 445 segments from startNumber 0.
    let v = rep(&m, 0, 0, 0);
    assert_eq!(v.init_url(), Some(format!("{cdn}video/720/init.mp4").as_str()));
    let s = v.segments();
    assert_eq!(s.len(), 445);
    seg(&s[0], &format!("{cdn}video/720/segment_0.m4s"), None, 0.0, 1.92, 0);
    seg(&s[1], &format!("{cdn}video/720/segment_1.m4s"), None, 1.92, 1.92, 1);
    // 444 segments of 1.92 s precede the last: 852.48 + 1.68 = 854.16, the period end.
    seg(&s[444], &format!("{cdn}video/720/segment_444.m4s"), None, 852.48, 1.68, 444);
    // Period 2 (ad): BaseURL https://dai.google.com/segments/redirect/c/ replaces the
    // MPD's; media "$Number$.mp4?orig=…"; S d=479232 r=2 at 48000 → 9.984 s.
    let dai = "https://dai.google.com/segments/redirect/c/";
    let ad = rep(&m, 1, 0, 0);
    assert_eq!(ad.base_urls, [dai]);
    assert_eq!(m.periods[1].tracks[0].kind, TrackKind::Audio);
    assert!(ad.init_url().unwrap().starts_with(&format!("{dai}init.mp4?orig=https%3A%2F%2Fr9---sn-uxaxoxu-cg0r.googlevideo.com%2Fvideoplayback%3F")));
    let s = ad.segments();
    assert_eq!(s.len(), 4);
    let prefix = "?orig=https%3A%2F%2Fr9---sn-uxaxoxu-cg0r.googlevideo.com%2Fvideoplayback%3Fexpire%3D1698499091%26ei%3Dk7g7ZeacO-KJ6dsP3eeP2AM%26ip%3D84.198.121.126%26id%3Dd84b46e56be3f28b%26itag%3D340%26mime%3Daudio%2Fmp4";
    assert!(s[0].url.starts_with(&format!("{dai}1.mp4{prefix}")), "{}", s[0].url);
    assert!(s[0].url.ends_with("Sct8g%3D"), "{}", s[0].url);
    assert!(s[1].url.starts_with(&format!("{dai}2.mp4{prefix}")), "{}", s[1].url);
    approx(s[0].start, 854.16);
    approx(s[0].duration, 9.984);
    assert_eq!(s[0].number, 1);
    approx(s[1].start, 864.144);
    approx(s[3].start, 874.128 + 9.984);
    approx(s[3].duration, 70656.0 / 48000.0);
    approx(ad.timestamp_offset, 854.16);
    // Period 3, 720p: pto 21354000 at 25000 = 854.16 s → timestamp_offset
    // 885.52 − 854.16 = 31.36; S t=21354000 d=6000 (0.24 s), then d=48000 r=314,
    // then d=11000: 1 + 315 + 1 = 317 segments from startNumber 445.
    let v = rep(&m, 2, 0, 0);
    assert_eq!(v.id, "e08900bf-d824-401e-ace1-b8527c2aa5c6");
    approx(v.timestamp_offset, 31.36);
    let s = v.segments();
    assert_eq!(s.len(), 317);
    seg(&s[0], &format!("{cdn}video/720/segment_445.m4s"), None, 885.52, 0.24, 445);
    seg(&s[1], &format!("{cdn}video/720/segment_446.m4s"), None, 885.76, 1.92, 446);
    seg(&s[2], &format!("{cdn}video/720/segment_447.m4s"), None, 887.68, 1.92, 447);
    // Period 3 audio: pto 40998912 at 48000 = 854.144 s → 885.52 − 854.144 = 31.376.
    let a = rep(&m, 2, 1, 0);
    approx(a.timestamp_offset, 31.376);
    seg(&a.segments()[0], &format!("{cdn}audio/segment_445.m4s"), None, 885.52, 0.256, 445);
    seg(&a.segments()[1], &format!("{cdn}audio/segment_446.m4s"), None, 885.776, 1.92, 446);
    // Period 5 audio: pto 70062080/48000 = 1459.626667 → offset 62.733333.
    let a = rep(&m, 4, 1, 0);
    approx(a.timestamp_offset, 1522.36 - 70062080.0 / 48000.0);
    assert_eq!(a.segments().len(), 526);
    seg(&a.segments()[0], &format!("{cdn}audio/segment_762.m4s"), None, 1522.36, 71680.0 / 48000.0, 762);
}

/// SegmentList with SegmentURL@mediaRange and Initialization@range (shaka 6339).
#[test]
fn corpus_shaka_segment_list_with_media_ranges() {
    let m = corpus("shaka__6339__master.mpd");
    periods(&m, &[(0.0, Some(84.0))]);
    let v = rep(&m, 0, 0, 0);
    assert_eq!(v.init, Some(ByteRef { url: "https://origin.example/path/v.mp4".into(), range: Some((36, 745)) }));
    // timescale 1000, duration 9982 → 9.982 s per SegmentURL.
    let s = v.segments();
    assert_eq!(s.len(), 5);
    seg(&s[0], "https://origin.example/path/v.mp4", Some((746, 18481)), 0.0, 9.982, 1);
    seg(&s[1], "https://origin.example/path/v.mp4", Some((18482, 32360)), 9.982, 9.982, 2);
    seg(&s[2], "https://origin.example/path/v.mp4", Some((32361, 46233)), 19.964, 9.982, 3);
    approx_opt(v.frame_rate, 24.0);
    let audio = &m.periods[0].tracks[1];
    assert_eq!(audio.kind, TrackKind::Audio);
    assert_eq!(audio.label.as_deref(), Some("Unknown"));
    let a = &audio.representations[0];
    assert_eq!(a.init, Some(ByteRef { url: "https://origin.example/path/a.mp4".into(), range: Some((36, 663)) }));
    let s = a.segments();
    assert_eq!(s.len(), 12);
    seg(&s[0], "https://origin.example/path/a.mp4", Some((664, 3020)), 0.0, 4.0, 1);
    seg(&s[1], "https://origin.example/path/a.mp4", Some((3021, 5373)), 4.0, 4.0, 2);
    seg(&s[11], "https://origin.example/path/a.mp4", Some((26460, 28799)), 44.0, 4.0, 12);
}

/// SegmentList + SegmentTimeline with absolute SegmentURLs (dash-mpd-rs st-sl).
#[test]
fn corpus_segment_list_with_timeline() {
    let m = corpus("dash-mpd-rs__st-sl.mpd");
    periods(&m, &[(0.0, Some(49.598))]);
    let r = rep(&m, 0, 0, 0);
    assert_eq!(r.bandwidth, 0);
    approx_opt(r.frame_rate, 15.0);
    assert_eq!(r.init, Some(ByteRef { url: "https://foobar.com/init.mp4".into(), range: None }));
    // timescale 1000: S t=0 d=16560, S d=16519, S d=16519.
    let s = r.segments();
    assert_eq!(s.len(), 3);
    seg(&s[0], "https://foobar.com/fie.0.m4v", None, 0.0, 16.56, 1);
    seg(&s[1], "https://foobar.com/fie.1.m4v", None, 16.56, 16.519, 2);
    seg(&s[2], "https://foobar.com/fie.2.m4v", None, 33.079, 16.519, 3);
    approx(r.timestamp_offset, 0.0);
}

/// SegmentList whose Initialization is inherited from the Period level; two
/// periods; duration without timescale (ISO example G.4).
#[test]
fn corpus_g4_segment_list_inherits_period_initialization() {
    let m = corpus("dash-mpd__schema-mpds__example_G4.mpd");
    // Period 1 start PT0S duration PT33M20S (2000 s); period 2 has no @start:
    // 0 + 2000; duration PT20M56S = 1256 s.
    periods(&m, &[(0.0, Some(2000.0)), (2000.0, Some(1256.0))]);
    let base = "http://www.example.com/";
    let c2 = rep(&m, 0, 0, 0);
    assert_eq!(c2.base_urls, [base]);
    assert_eq!(m.periods[0].tracks[0].roles, ["l1 r0"]);
    assert_eq!(c2.init, Some(ByteRef { url: format!("{base}seg-m-init.mp4"), range: None }));
    // duration="10" with the default timescale 1 → 10 s each.
    let s = c2.segments();
    assert_eq!(s.len(), 3);
    seg(&s[0], &format!("{base}seg-m1-C2view-1.mp4"), None, 0.0, 10.0, 1);
    seg(&s[1], &format!("{base}seg-m1-C2view-2.mp4"), None, 10.0, 10.0, 2);
    seg(&s[2], &format!("{base}seg-m1-C2view-3.mp4"), None, 20.0, 10.0, 3);
    let c2 = rep(&m, 1, 0, 0);
    assert_eq!(c2.init_url(), Some("http://www.example.com/seg-m-init-2.mp4"));
    let s = c2.segments();
    assert_eq!(s.len(), 2);
    seg(&s[0], &format!("{base}seg-m1-C2view-201.mp4"), None, 2000.0, 10.0, 1);
    seg(&s[1], &format!("{base}seg-m1-C2view-202.mp4"), None, 2010.0, 10.0, 2);
    approx(c2.timestamp_offset, 2000.0);
}

/// SegmentBase with indexRange: an MP4 and a WebM representation (shaka dash-multi-codec).
#[test]
fn corpus_shaka_segment_base_mp4_and_webm() {
    let m = corpus("shaka__dash-multi-codec__dash.mpd");
    // Period id 0 without @start/@duration: 0 and mediaPresentationDuration 60.
    periods(&m, &[(0.0, Some(60.0))]);
    let v = rep(&m, 0, 0, 0);
    let url = "https://origin.example/path/video_144p_108k_h264.mp4";
    assert_eq!(v.base_urls, [url]);
    assert_eq!(v.init, Some(ByteRef { url: url.into(), range: Some((0, 859)) }));
    assert_eq!(v.addressing, Addressing::Indexed(Indexed { url: url.into(), index_range: (860, 1071), timescale: 12800, pto: 0, container: Container::Mp4 }));
    assert!(v.segments().is_empty());
    assert!(v.segments_between(0.0, 60.0).is_empty());
    let en = &m.periods[0].tracks[1];
    assert_eq!((en.kind, en.lang.as_deref()), (TrackKind::Audio, Some("en")));
    let a = &en.representations[0];
    let url = "https://origin.example/path/audio_en_2c_128k_aac.mp4";
    assert_eq!(a.init, Some(ByteRef { url: url.into(), range: Some((0, 785)) }));
    assert_eq!(a.addressing, Addressing::Indexed(Indexed { url: url.into(), index_range: (786, 1009), timescale: 48000, pto: 0, container: Container::Mp4 }));
    let es = &m.periods[0].tracks[2];
    assert_eq!(es.lang.as_deref(), Some("es"));
    let o = &es.representations[0];
    let url = "https://origin.example/path/audio_es_2c_64k_opus.webm";
    assert_eq!(o.content_type(), "audio/webm; codecs=\"opus\"");
    assert_eq!(o.init, Some(ByteRef { url: url.into(), range: Some((0, 325)) }));
    assert_eq!(o.addressing, Addressing::Indexed(Indexed { url: url.into(), index_range: (326, 584), timescale: 48000, pto: 0, container: Container::WebM }));
}

/// SegmentBase in the go-dash on-demand fixture (default timescale 1) and
/// ISO example G.6 (indexRange without an Initialization element).
#[test]
fn corpus_segment_base_on_demand_profiles() {
    let m = corpus("dash-mpd__go-dash-fixtures__ondemand_profile.mpd");
    periods(&m, &[(0.0, Some(30.0))]);
    let a = rep(&m, 0, 0, 0);
    assert_eq!(a.id, "800k/audio-und");
    let url = "https://origin.example/path/800k/output-audio-und.mp4";
    assert_eq!(a.init, Some(ByteRef { url: url.into(), range: Some((0, 628)) }));
    assert_eq!(a.addressing, Addressing::Indexed(Indexed { url: url.into(), index_range: (629, 756), timescale: 1, pto: 0, container: Container::Mp4 }));
    let v = rep(&m, 0, 1, 1);
    let url = "https://origin.example/path/1200k/output-video-1.mp4";
    assert_eq!(v.addressing, Addressing::Indexed(Indexed { url: url.into(), index_range: (686, 813), timescale: 1, pto: 0, container: Container::Mp4 }));
    assert_eq!(v.init.as_ref().and_then(|i| i.range), Some((0, 685)));
    assert_eq!((v.width, v.height), (Some(960), Some(540)));
    let sub = rep(&m, 0, 2, 0);
    assert_eq!(m.periods[0].tracks[2].kind, TrackKind::Text);
    seg(&sub.segments()[0], "http://example.com/content/sintel/subtitles/subtitles_en.vtt", None, 0.0, 30.0, 1);

    let m = corpus("dash-mpd__schema-mpds__example_G6.mpd");
    // Period@duration PT9M54S = 594 s.
    periods(&m, &[(0.0, Some(594.0))]);
    let v = rep(&m, 0, 0, 0);
    let url = "https://origin.example/path/BBB_720_1M_video_init.mp4";
    assert_eq!(v.init, None, "no Initialization element");
    assert_eq!(v.addressing, Addressing::Indexed(Indexed { url: url.into(), index_range: (885, 4480), timescale: 1, pto: 0, container: Container::Mp4 }));
    let a = rep(&m, 0, 1, 0);
    assert_eq!(
        a.addressing,
        Addressing::Indexed(Indexed {
            url: "https://origin.example/path/BBB_32k_init.mp4".into(),
            index_range: (820, 4487),
            timescale: 1,
            pto: 0,
            container: Container::Mp4
        })
    );
    let trick = rep(&m, 0, 2, 0);
    approx_opt(trick.frame_rate, 1.0);
}

/// BaseURL chain MPD (absolute) → AdaptationSet (relative directory) →
/// Representation (relative file), no segment information (ISO example G.7).
#[test]
fn corpus_g7_base_url_chain_to_whole_files() {
    let m = corpus("dash-mpd__schema-mpds__example_G7.mpd");
    periods(&m, &[(0.0, Some(3256.0))]);
    // http://cdn.example.com/movie23453235/ + audio/en/64.mp4
    let en = rep(&m, 0, 0, 0);
    assert_eq!(en.base_urls, ["http://cdn.example.com/movie23453235/audio/en/64.mp4"]);
    assert_eq!(en.init, None);
    assert_eq!(en.segments().len(), 1);
    seg(&en.segments()[0], "http://cdn.example.com/movie23453235/audio/en/64.mp4", None, 0.0, 3256.0, 1);
    assert_eq!(m.periods[0].tracks[2].kind, TrackKind::Text, "application/ttml+xml");
    assert_eq!(rep(&m, 0, 2, 0).segments()[0].url, "http://cdn.example.com/movie23453235/subtitles/de.xml");
    // + video/ + video512.mp4
    let v = rep(&m, 0, 3, 1);
    assert_eq!(v.base_urls, ["http://cdn.example.com/movie23453235/video/video512.mp4"]);
    assert_eq!(v.segments()[0].url, "http://cdn.example.com/movie23453235/video/video512.mp4");
    assert_eq!(v.codecs, "avc1");
}

/// Three periods, each restarting its timeline at t=0 and number 1 (shaka 7401 dash_2).
#[test]
fn corpus_shaka_three_periods_each_restarting_the_timeline() {
    let m = corpus("shaka__7401__dash_2.mpd");
    periods(&m, &[(0.0, Some(14.0)), (14.0, Some(14.0)), (28.0, Some(14.0))]);
    for (i, start) in [0.0, 14.0, 28.0].into_iter().enumerate() {
        let r = rep(&m, i, 0, 0);
        assert_eq!(r.init_url(), Some("https://origin.example/path/init-stream0.m4s"));
        // S t=0 d=30720 r=6 at 15360: seven 2 s segments from the period start.
        let s = r.segments();
        assert_eq!(s.len(), 7);
        seg(&s[0], "https://origin.example/path/chunk-stream0-00001.m4s", None, start, 2.0, 1);
        seg(&s[1], "https://origin.example/path/chunk-stream0-00002.m4s", None, start + 2.0, 2.0, 2);
        seg(&s[6], "https://origin.example/path/chunk-stream0-00007.m4s", None, start + 12.0, 2.0, 7);
        approx(r.timestamp_offset, start);
    }
    assert_eq!(m.period_at(15.0).and_then(|p| p.id.as_deref()), Some("1"));
    assert_eq!(m.period_at(-1.0).and_then(|p| p.id.as_deref()), Some("0"));
    approx_opt(m.end(), 42.0);
}

/// Two periods without @start, `$Number%04d$` (shaka dash-mpd-alternate).
#[test]
fn corpus_shaka_second_period_starts_after_the_first() {
    let m = corpus("shaka__dash-mpd-alternate__dash.mpd");
    // Period 0 duration 4, period 1 (no @start) starts at 0 + 4, duration 16.
    periods(&m, &[(0.0, Some(4.0)), (4.0, Some(16.0))]);
    // timescale 24, duration 96 → 4 s; media $Number%04d$.m4s.
    let p0 = rep(&m, 0, 0, 0);
    assert_eq!(p0.segments().len(), 1);
    seg(&p0.segments()[0], "https://origin.example/path/0001.m4s", None, 0.0, 4.0, 1);
    let p1 = rep(&m, 1, 0, 0);
    assert_eq!(p1.init_url(), Some("https://origin.example/path/init.mp4"));
    let s = p1.segments();
    assert_eq!(s.len(), 4);
    seg(&s[0], "https://origin.example/path/0001.m4s", None, 4.0, 4.0, 1);
    seg(&s[1], "https://origin.example/path/0002.m4s", None, 8.0, 4.0, 2);
    seg(&s[3], "https://origin.example/path/0004.m4s", None, 16.0, 4.0, 4);
    approx(p1.timestamp_offset, 4.0);
}

/// A timeline starting after 0 with startNumber 2, MPD-level absolute BaseURL
/// (dash.js gap-at-start).
#[test]
fn corpus_dashjs_gap_at_start() {
    let m = corpus("dashjs__gap__video_gap_at_start_timeline.mpd");
    periods(&m, &[(0.0, Some(90.0))]);
    let base = "http://refapp.hbbtv.org/videos/01_llama_drama_1080p_25f75g6sv3/";
    let v = rep(&m, 0, 0, 0);
    assert_eq!(v.init_url(), Some(format!("{base}v1_i.mp4").as_str()));
    // S t=76800 d=76800 r=13 at 12800: 14 × 6 s from 6 s, numbered from 2.
    let s = v.segments();
    assert_eq!(s.len(), 14);
    seg(&s[0], &format!("{base}v1_2.m4s"), None, 6.0, 6.0, 2);
    seg(&s[1], &format!("{base}v1_3.m4s"), None, 12.0, 6.0, 3);
    seg(&s[13], &format!("{base}v1_15.m4s"), None, 84.0, 6.0, 15);
    // Audio at 44100: S t=0 d=263177, S d=264192 r=13, S d=7168 → 16 segments.
    let a = rep(&m, 0, 1, 0);
    let s = a.segments();
    assert_eq!(s.len(), 16);
    seg(&s[0], &format!("{base}a1_1.m4s"), None, 0.0, 5.967732426, 1);
    seg(&s[1], &format!("{base}a1_2.m4s"), None, 5.967732426, 5.990748299, 2);
    seg(&s[2], &format!("{base}a1_3.m4s"), None, 11.958480726, 5.990748299, 3);
    seg(&s[15], &format!("{base}a1_16.m4s"), None, (263177.0 + 14.0 * 264192.0) / 44100.0, 7168.0 / 44100.0, 16);
}

/// A dynamic MPD with `$Number$` templates (no timeline): numbered addressing,
/// generated for a live window (DASH-IF low-latency).
#[test]
fn corpus_dynamic_number_template_live_window() {
    // now = 2023-11-14T22:13:20Z = 1_700_000_000_000 ms.
    let now_ms = 1_700_000_000_000.0;
    let m = parse_at(&corpus_text("dash-mpd-rs__dashif-low-latency.mpd"), ORIGIN, Some(now_ms)).unwrap();
    assert!(m.dynamic);
    // availabilityStartTime 1970-01-01T00:00:00Z = 0 ms; minimumUpdatePeriod PT8S;
    // timeShiftBufferDepth PT1M; minBufferTime PT1S; no suggestedPresentationDelay.
    assert_eq!(m.availability_start_ms, Some(0.0));
    assert_eq!(m.min_update_period, Some(8.0));
    assert_eq!(m.time_shift_buffer_depth, Some(60.0));
    assert_eq!(m.min_buffer_time, Some(1.0));
    assert_eq!(m.suggested_presentation_delay, None);
    assert_eq!(m.duration, None);
    assert_eq!(m.live_now(now_ms), Some(1_700_000_000.0));
    // Period P0 start PT0S, open-ended.
    periods(&m, &[(0.0, None)]);
    let a = rep(&m, 0, 0, 0);
    assert_eq!(a.init_url(), Some("https://origin.example/path/A48/init.mp4"));
    assert_eq!(
        a.addressing,
        Addressing::Numbered(NumberTemplate {
            media: "https://origin.example/path/$RepresentationID$/$Number$.m4s".into(),
            representation_id: "A48".into(),
            bandwidth: 36997,
            start_number: 0,
            timescale: 48000,
            duration: 384000,
            pto: 0,
            period_start: 0.0,
            period_end: None,
        })
    );
    assert!(a.segments().is_empty());
    // 384000/48000 = 8 s segments, number n covers [8n, 8n+8). The window
    // [now − 60, now) = [1699999940, 1700000000): floor(1699999940/8) =
    // 212499992 (starts 1699999936, overlapping) up to 212499999 (starts
    // 1699999992); 212500000 starts at now and is excluded. 8 segments.
    let now = m.live_now(now_ms).unwrap();
    let w = a.segments_between(now - m.time_shift_buffer_depth.unwrap(), now);
    assert_eq!(w.len(), 8);
    seg(&w[0], "https://origin.example/path/A48/212499992.m4s", None, 1_699_999_936.0, 8.0, 212_499_992);
    seg(&w[1], "https://origin.example/path/A48/212499993.m4s", None, 1_699_999_944.0, 8.0, 212_499_993);
    seg(&w[7], "https://origin.example/path/A48/212499999.m4s", None, 1_699_999_992.0, 8.0, 212_499_999);
    // Video: 122880/15360 = 8 s as well, same numbering.
    let v = rep(&m, 0, 1, 0);
    assert_eq!(m.periods[0].tracks[1].kind, TrackKind::Video);
    let w = v.segments_between(now - 10.0, now);
    // [1699999990, 1700000000): numbers 212499998 (…984–…992) and 212499999.
    assert_eq!(
        w.iter().map(|s| (s.url.as_str(), s.number)).collect::<Vec<_>>(),
        [("https://origin.example/path/V300/212499998.m4s", 212_499_998), ("https://origin.example/path/V300/212499999.m4s", 212_499_999),]
    );
    // Before the availability start there is nothing negative: number 0 first.
    let early = v.segments_between(-20.0, 9.0);
    assert_eq!(early.iter().map(|s| s.number).collect::<Vec<_>>(), [0, 1]);
    approx(early[1].start, 8.0);
}

/// A dynamic MPD with a `$Bandwidth$/$Time$` timeline, two absolute MPD
/// BaseURLs and an AdaptationSet-relative one (ISO example G.2).
#[test]
fn corpus_g2_dynamic_time_timeline_with_two_cdns() {
    // now = availabilityStartTime + 30 min.
    let ast = 1_413_566_225_000.0; // 2014-10-17T17:17:05Z
    let m = parse_at(&corpus_text("dash-mpd__schema-mpds__example_G2.mpd"), ORIGIN, Some(ast + 1_800_000.0)).unwrap();
    assert!(m.dynamic);
    assert_eq!(m.availability_start_ms, Some(ast));
    assert_eq!(m.min_update_period, Some(2.0));
    assert_eq!(m.time_shift_buffer_depth, Some(1800.0));
    // The dynamic first period without @start starts at 0; no duration known.
    periods(&m, &[(0.0, None)]);
    // BaseURL video/ under each of the two CDNs.
    let v1 = rep(&m, 0, 0, 1);
    assert_eq!(v1.base_urls, ["http://cdn1.example.com/video/", "http://cdn2.example.com/video/"]);
    assert_eq!(v1.init_url(), Some("http://cdn1.example.com/video/500000/init.mp4v"));
    // S t=0 d=180180 r=432 at 90000: 433 segments of 2.002 s.
    let s = v1.segments();
    assert_eq!(s.len(), 433);
    seg(&s[0], "http://cdn1.example.com/video/500000/0.mp4v", None, 0.0, 2.002, 1);
    seg(&s[1], "http://cdn1.example.com/video/500000/180180.mp4v", None, 2.002, 2.002, 2);
    seg(&s[2], "http://cdn1.example.com/video/500000/360360.mp4v", None, 4.004, 2.002, 3);
    assert_eq!(v1.rebase(&s[1].url, 1).as_deref(), Some("http://cdn2.example.com/video/500000/180180.mp4v"));
    approx_opt(v1.frame_rate, 30000.0 / 1001.0);
    // Audio (fr): no AdaptationSet BaseURL: http://cdn1.example.com/audio/fr/…
    let fr = rep(&m, 0, 2, 0);
    assert_eq!(fr.base_urls, ["http://cdn1.example.com/", "http://cdn2.example.com/"]);
    seg(&fr.segments()[1], "http://cdn1.example.com/audio/fr/96000.mp4a", None, 2.0, 2.0, 2);
    assert_eq!(m.periods[0].tracks[2].lang.as_deref(), Some("fr"));
}

/// A dynamic `$Time$` timeline at wall-clock scale, with `&amp;` in the
/// templates and a relative Period BaseURL (Orange).
#[test]
fn corpus_orange_dynamic_time_timeline_with_entities() {
    let m = parse_at(&corpus_text("dash-mpd-rs__orange.xml"), ORIGIN, Some(1_684_932_520_000.0)).unwrap();
    assert!(m.dynamic);
    assert_eq!(m.availability_start_ms, Some(0.0));
    assert_eq!(m.time_shift_buffer_depth, Some(30.0));
    assert_eq!(m.min_update_period, Some(2.0));
    periods(&m, &[(0.0, None)]);
    let a = rep(&m, 0, 0, 0);
    assert_eq!(a.id, "audio_81330_fra=81200");
    assert_eq!(a.base_urls, ["https://origin.example/path/dash/"]);
    let q = "?horsrb=0&bpk-service=Live&device=pc";
    assert_eq!(a.init_url(), Some(format!("https://origin.example/path/dash/livetv_tfx_ctv-audio_81330_fra=81200.dash{q}").as_str()));
    // timescale 48000: S t=80876759337012 d=92160 r=4, S d=110592, S d=73728,
    // S d=92160 r=7: 15 segments; 80876759337012/48000 = 1684932486.18775.
    let s = a.segments();
    assert_eq!(s.len(), 15);
    let u = |t: u64| format!("https://origin.example/path/dash/livetv_tfx_ctv-audio_81330_fra=81200-{t}.dash{q}");
    seg(&s[0], &u(80876759337012), None, 1_684_932_486.187_75, 1.92, 1);
    seg(&s[1], &u(80876759429172), None, 1_684_932_488.107_75, 1.92, 2);
    seg(&s[2], &u(80876759521332), None, 1_684_932_490.027_75, 1.92, 3);
    seg(&s[5], &u(80876759337012 + 5 * 92160), None, 1_684_932_486.187_75 + 9.6, 2.304, 6);
    assert_eq!(m.periods[0].tracks[0].roles, ["main"]);
}

/// Corpus files the parser refuses, each with the specific error.
#[test]
fn corpus_files_refused_with_specific_errors() {
    let try_parse = |name: &str| parse(&corpus_text(name), ORIGIN);
    // Period 2 is an unresolved xlink (no @start, no @duration), so period 3
    // (no @start) cannot be placed.
    match try_parse("dash-mpd__schema-mpds__example_G11.mpd") {
        Err(MpdError::Invalid(what)) => assert!(what.contains("period 3"), "{what}"),
        other => panic!("{other:?}"),
    }
    // The root element is a Period, not an MPD.
    assert_eq!(try_parse("dash-mpd__schema-mpds__example_G11_remote.period.xml"), Err(MpdError::NotAnMpd));
    // A dynamic MPD with only a Location.
    assert_eq!(try_parse("dash-mpd__go-dash-fixtures__location.mpd"), Err(MpdError::NoPeriod));
    // Truncated after the MPD start tag.
    assert!(matches!(try_parse("dash-mpd-rs__incomplete.mpd"), Err(MpdError::Xml(_))));
}

// ---------------------------------------------------------------------------
// Hand-written manifests.

/// Period 2 has no @start: it starts at period 1's @start + @duration; its
/// duration runs to mediaPresentationDuration; its presentationTimeOffset
/// shifts its media timeline.
#[test]
fn second_period_start_from_the_first_and_its_offset() {
    let mpd = r#"<MPD type="static" mediaPresentationDuration="PT20S">
      <BaseURL>https://cdn.example/show/</BaseURL>
      <Period id="p1" start="PT2S" duration="PT10S">
        <AdaptationSet mimeType="video/mp4" codecs="avc1.4d401f">
          <SegmentTemplate timescale="1000" duration="4000" startNumber="1" media="p1/$RepresentationID$_$Number$.m4s" initialization="p1/$RepresentationID$_init.mp4"/>
          <Representation id="v" bandwidth="1000"/>
        </AdaptationSet>
      </Period>
      <Period id="p2">
        <AdaptationSet mimeType="video/mp4" codecs="avc1.4d401f">
          <SegmentTemplate timescale="90000" presentationTimeOffset="1800000" media="p2/$RepresentationID$_$Time$.m4s" initialization="p2/$RepresentationID$_init.mp4">
            <SegmentTimeline><S t="1800000" d="270000" r="1"/><S d="180000"/></SegmentTimeline>
          </SegmentTemplate>
          <Representation id="v" bandwidth="1000"/>
        </AdaptationSet>
      </Period>
    </MPD>"#;
    let m = parse(mpd, "https://origin.example/x/manifest.mpd").unwrap();
    // p1: [2, 12); p2: starts 2 + 10 = 12, lasts 20 − 12 = 8.
    periods(&m, &[(2.0, Some(10.0)), (12.0, Some(8.0))]);
    approx_opt(m.end(), 20.0);
    assert_eq!(m.period_at(12.5).and_then(|p| p.id.as_deref()), Some("p2"));
    assert_eq!(m.period_at(11.9).and_then(|p| p.id.as_deref()), Some("p1"));
    let r1 = rep(&m, 0, 0, 0);
    // 4 s segments over [2, 12): 2, 6, 10 (the last cut to 2 s).
    let s = r1.segments();
    assert_eq!(s.len(), 3);
    seg(&s[0], "https://cdn.example/show/p1/v_1.m4s", None, 2.0, 4.0, 1);
    seg(&s[1], "https://cdn.example/show/p1/v_2.m4s", None, 6.0, 4.0, 2);
    seg(&s[2], "https://cdn.example/show/p1/v_3.m4s", None, 10.0, 2.0, 3);
    approx(r1.timestamp_offset, 2.0);
    let r2 = rep(&m, 1, 0, 0);
    assert_eq!(r2.init_url(), Some("https://cdn.example/show/p2/v_init.mp4"));
    // pto 1800000/90000 = 20 s of media time is the period start 12:
    // timestamp_offset = 12 − 20 = −8. S t=1800000 d=270000 (3 s) ×2, then 2 s.
    approx(r2.timestamp_offset, -8.0);
    let s = r2.segments();
    assert_eq!(s.len(), 3);
    seg(&s[0], "https://cdn.example/show/p2/v_1800000.m4s", None, 12.0, 3.0, 1);
    seg(&s[1], "https://cdn.example/show/p2/v_2070000.m4s", None, 15.0, 3.0, 2);
    seg(&s[2], "https://cdn.example/show/p2/v_2340000.m4s", None, 18.0, 2.0, 3);
    // A media timestamp of 21 s plays at 21 + (−8) = 13 s.
    approx(21.0 + r2.timestamp_offset, 13.0);
}

/// SegmentList with mediaRange and an Initialization range, inherited
/// attribute by attribute from the AdaptationSet's SegmentList.
#[test]
fn segment_list_media_ranges_and_initialization_range() {
    let mpd = r#"<MPD type="static" mediaPresentationDuration="PT7S"><Period>
      <AdaptationSet mimeType="audio/mp4" codecs="mp4a.40.2" lang="de">
        <SegmentList timescale="48000" duration="96000" startNumber="10">
          <Initialization sourceURL="audio-init.mp4" range="0-699"/>
        </SegmentList>
        <Representation id="a1" bandwidth="128000">
          <BaseURL>media/a1.mp4</BaseURL>
          <SegmentList>
            <SegmentURL mediaRange="700-32767"/>
            <SegmentURL mediaRange="32768-65535"/>
            <SegmentURL media="tail.mp4" mediaRange="0-1023"/>
            <SegmentURL mediaRange="65536-70000"/>
          </SegmentList>
        </Representation>
      </AdaptationSet></Period></MPD>"#;
    let m = parse(mpd, "https://h.example/v/manifest.mpd").unwrap();
    let r = rep(&m, 0, 0, 0);
    // BaseURL media/a1.mp4 → https://h.example/v/media/a1.mp4; sourceURL resolves
    // against it → https://h.example/v/media/audio-init.mp4.
    assert_eq!(r.base_urls, ["https://h.example/v/media/a1.mp4"]);
    assert_eq!(r.init, Some(ByteRef { url: "https://h.example/v/media/audio-init.mp4".into(), range: Some((0, 699)) }));
    // 96000/48000 = 2 s each from startNumber 10; a SegmentURL without @media
    // is a range of the BaseURL; the last is cut at 7 s.
    let s = r.segments();
    assert_eq!(s.len(), 4);
    seg(&s[0], "https://h.example/v/media/a1.mp4", Some((700, 32767)), 0.0, 2.0, 10);
    seg(&s[1], "https://h.example/v/media/a1.mp4", Some((32768, 65535)), 2.0, 2.0, 11);
    seg(&s[2], "https://h.example/v/media/tail.mp4", Some((0, 1023)), 4.0, 2.0, 12);
    seg(&s[3], "https://h.example/v/media/a1.mp4", Some((65536, 70000)), 6.0, 1.0, 13);
    assert_eq!(r.segments_between(3.0, 6.5).iter().map(|s| s.number).collect::<Vec<_>>(), [11, 12, 13]);
    assert_eq!(r.segments_between(2.0, 4.0).iter().map(|s| s.number).collect::<Vec<_>>(), [11], "[from, to) is half-open");
}

/// `r="-1"` repeats up to the next S@t, and the last one to the period end
/// (no corpus file uses r="-1").
#[test]
fn open_ended_repeat_runs_to_the_next_t_then_to_the_period_end() {
    let mpd = r#"<MPD type="static" mediaPresentationDuration="PT31S"><Period><AdaptationSet mimeType="video/mp4">
      <SegmentTemplate timescale="10" media="s_$Time$_$Number$.m4s">
        <SegmentTimeline><S t="0" d="20" r="-1"/><S t="200" d="30" r="-1"/></SegmentTimeline>
      </SegmentTemplate><Representation id="v" bandwidth="1"/></AdaptationSet></Period></MPD>"#;
    let m = parse(mpd, "https://h/m.mpd").unwrap();
    let s = rep(&m, 0, 0, 0).segments();
    // 200/20 = 10 segments of 2 s up to t=200, then ceil((310 − 200)/30) = 4 of 3 s.
    assert_eq!(s.len(), 14);
    seg(&s[0], "https://h/s_0_1.m4s", None, 0.0, 2.0, 1);
    seg(&s[9], "https://h/s_180_10.m4s", None, 18.0, 2.0, 10);
    seg(&s[10], "https://h/s_200_11.m4s", None, 20.0, 3.0, 11);
    seg(&s[13], "https://h/s_290_14.m4s", None, 29.0, 3.0, 14);
}

const LIVE_OPEN_ENDED: &str = r#"<MPD type="dynamic" availabilityStartTime="2024-03-01T12:00:00Z" minimumUpdatePeriod="PT2S" timeShiftBufferDepth="PT1M">
  <Period id="live" start="PT100S"><AdaptationSet mimeType="video/mp4">
    <SegmentTemplate timescale="1000" presentationTimeOffset="5000" media="v_$Number$_$Time$.m4s" startNumber="7">
      <SegmentTimeline><S t="5000" d="2000" r="-1"/></SegmentTimeline>
    </SegmentTemplate>
    <Representation id="v" bandwidth="1"/></AdaptationSet></Period></MPD>"#;

/// 2024-03-01T12:00:00Z.
const LIVE_AST_MS: f64 = 1_709_294_400_000.0;

/// A live `r="-1"` timeline is expanded up to now (when `now` falls on a
/// segment boundary), and needs `now` at all.
#[test]
fn live_open_ended_repeat_expands_to_now() {
    // parse() has no now, and the period has no end.
    assert!(matches!(parse(LIVE_OPEN_ENDED, "https://h/live/m.mpd"), Err(MpdError::Invalid(_))));
    // now = AST + 112 s = 12 s into the period (which starts at 100): media
    // time 5000 + 12000 = 17000: (17000 − 5000)/2000 = 6 complete segments.
    let m = parse_at(LIVE_OPEN_ENDED, "https://h/live/m.mpd", Some(LIVE_AST_MS + 112_000.0)).unwrap();
    assert_eq!(m.availability_start_ms, Some(LIVE_AST_MS));
    assert_eq!(m.time_shift_buffer_depth, Some(60.0));
    periods(&m, &[(100.0, None)]);
    let r = rep(&m, 0, 0, 0);
    approx(r.timestamp_offset, 95.0);
    let s = r.segments();
    assert_eq!(s.len(), 6);
    seg(&s[0], "https://h/live/v_7_5000.m4s", None, 100.0, 2.0, 7);
    seg(&s[1], "https://h/live/v_8_7000.m4s", None, 102.0, 2.0, 8);
    seg(&s[5], "https://h/live/v_12_15000.m4s", None, 110.0, 2.0, 12);
    // With a period duration, the period end bounds it even if now is later.
    let bounded = LIVE_OPEN_ENDED.replace(r#"start="PT100S""#, r#"start="PT100S" duration="PT8S""#);
    let m = parse_at(&bounded, "https://h/live/m.mpd", Some(LIVE_AST_MS + 500_000.0)).unwrap();
    assert_eq!(rep(&m, 0, 0, 0).segments().len(), 4);
}

/// Between segment boundaries the segment still being produced is not yet
/// available (ISO/IEC 23009-1 §5.3.9.5.3 / DASH-IF IOP: a segment is
/// available once its end has passed), so it must not be listed.
#[test]

fn live_open_ended_repeat_stops_at_the_last_complete_segment() {
    // now = AST + 111 s = 11 s into the period: segments [100,102) … [108,110)
    // are complete; [110,112) ends after now.
    let m = parse_at(LIVE_OPEN_ENDED, "https://h/live/m.mpd", Some(LIVE_AST_MS + 111_000.0)).unwrap();
    let s = rep(&m, 0, 0, 0).segments();
    assert_eq!(s.last().map(|s| s.url.as_str()), Some("https://h/live/v_11_13000.m4s"));
    assert_eq!(s.len(), 5);
}

/// A Representation with no segment information and no BaseURL anywhere has
/// no media the player can fetch: the documented `Addressing::None`.
#[test]

fn no_base_url_and_no_segment_information_is_no_addressing() {
    let mpd = r#"<MPD type="static" mediaPresentationDuration="PT10S"><Period>
      <AdaptationSet mimeType="text/vtt" lang="en"><Representation id="t" bandwidth="1"/></AdaptationSet>
    </Period></MPD>"#;
    let m = parse(mpd, "https://h/show/manifest.mpd").unwrap();
    let r = rep(&m, 0, 0, 0);
    assert_eq!(r.addressing, Addressing::None, "segments: {:?}", r.segments());
}

/// An absolute Representation BaseURL under several MPD BaseURLs is one
/// location, not several identical "alternates".
#[test]

fn absolute_base_url_under_alternates_is_not_duplicated() {
    let m = corpus("dash-mpd__go-dash-fixtures__live_profile_multi_base_url.mpd");
    let sub = rep(&m, 0, 2, 0);
    assert_eq!(sub.base_urls, ["http://example.com/content/sintel/subtitles/subtitles_en.vtt"]);
}

/// xs:duration with explicit zero years/months/days is unambiguous.
#[test]

fn durations_with_zero_calendar_units() {
    assert_eq!(parse_duration("P0Y0M0DT0H1M30.5S"), Some(90.5));
    let mpd = r#"<MPD type="static" mediaPresentationDuration="P0Y0M0DT0H0M4S"><Period><AdaptationSet mimeType="video/mp4">
      <SegmentTemplate media="$Number$.m4s" duration="2"/><Representation id="v" bandwidth="1"/></AdaptationSet></Period></MPD>"#;
    assert_eq!(parse(mpd, "https://h/m.mpd").map(|m| m.periods[0].tracks[0].representations[0].segments().len()), Ok(2));
}

// ---------------------------------------------------------------------------
// The whole corpus: one line per file (run with --nocapture to see them).

/// One Representation without segments fails only itself: it is dropped,
/// then its AdaptationSet once empty; a Period left with nothing is the error.
#[test]
fn an_empty_segment_list_drops_only_its_representation() {
    let mpd = r#"<MPD type="static" mediaPresentationDuration="PT4S"><Period>
      <AdaptationSet mimeType="video/mp4" codecs="avc1.42c01e">
        <Representation id="broken" bandwidth="900"><SegmentList/></Representation>
        <Representation id="ok" bandwidth="100">
          <SegmentList duration="2"><SegmentURL media="a.m4s"/><SegmentURL media="b.m4s"/></SegmentList>
        </Representation>
      </AdaptationSet>
      <AdaptationSet mimeType="audio/mp4" codecs="mp4a.40.2">
        <Representation id="mute" bandwidth="64"><SegmentList/></Representation>
      </AdaptationSet>
    </Period></MPD>"#;
    let m = parse(mpd, "https://origin.example/m.mpd").unwrap();
    let tracks = &m.periods[0].tracks;
    assert_eq!(tracks.len(), 1, "the audio set lost its only representation");
    let ids: Vec<&str> = tracks[0].representations.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["ok"]);
    let urls: Vec<&str> = tracks[0].representations[0].segments().iter().map(|s| s.url.as_str()).collect();
    assert_eq!(urls, ["https://origin.example/a.m4s", "https://origin.example/b.m4s"]);
    // Nothing playable left: the first representation's error.
    let nothing = mpd.replace(r#"<SegmentList duration="2"><SegmentURL media="a.m4s"/><SegmentURL media="b.m4s"/></SegmentList>"#, "<SegmentList/>");
    assert_eq!(parse(&nothing, "https://origin.example/m.mpd"), Err(MpdError::Invalid("representation broken: SegmentList without SegmentURL".into())));
}

#[test]
fn corpus_summary_every_file_parses_or_is_refused_cleanly() {
    let dir = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/corpus/dash"));
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("corpus at {}: {e}", dir.display()))
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(names.len() >= 30, "{} files", names.len());
    let (mut ok, mut refused, mut panicked) = (0, Vec::new(), Vec::new());
    for name in &names {
        let text = corpus_text(name);
        let result = std::panic::catch_unwind(|| parse(&text, ORIGIN));
        match result {
            Err(_) => {
                println!("{name}: PANIC");
                panicked.push(name.clone());
            }
            Ok(Err(e)) => {
                println!("{name}: ERR {e:?}");
                refused.push((name.clone(), e));
            }
            Ok(Ok(m)) => {
                ok += 1;
                let reps: Vec<&Representation> = m.periods.iter().flat_map(|p| &p.tracks).flat_map(|t| &t.representations).collect();
                let mut kinds = std::collections::BTreeMap::new();
                for r in &reps {
                    let kind = match &r.addressing {
                        Addressing::Segments(s) if s.len() == 1 && s[0].range.is_none() && r.init.is_none() => "WholeFile",
                        Addressing::Segments(_) => "Segments",
                        Addressing::Numbered(_) => "Numbered",
                        Addressing::Indexed(_) => "Indexed",
                        Addressing::None => "None",
                    };
                    *kinds.entry(kind).or_insert(0) += 1;
                    for s in r.segments() {
                        assert!(s.url.starts_with("http"), "{name}: {}", s.url);
                        assert!(s.duration > 0.0 && s.start.is_finite(), "{name}: {s:?}");
                    }
                    for w in r.segments().windows(2) {
                        assert!(w[1].start > w[0].start, "{name}: segments out of order: {:?} then {:?}", w[0], w[1]);
                    }
                }
                let kinds: Vec<String> = kinds.iter().map(|(k, n)| format!("{k}×{n}")).collect();
                println!("{name}: ok {} periods={} reps={} [{}]", if m.dynamic { "dynamic" } else { "static" }, m.periods.len(), reps.len(), kinds.join(" "));
            }
        }
    }
    println!("corpus: {} files, {ok} ok, {} refused, {} panicked", names.len(), refused.len(), panicked.len());
    assert!(panicked.is_empty(), "panicked: {panicked:?}");
    // Exactly the files that cannot be used are refused, each with its error.
    let refused: Vec<(&str, &str)> = refused
        .iter()
        .map(|(n, e)| {
            let kind = match e {
                MpdError::TooLarge(_) => "TooLarge",
                MpdError::TooDeep => "TooDeep",
                MpdError::Xml(_) => "Xml",
                MpdError::NotAnMpd => "NotAnMpd",
                MpdError::NoPeriod => "NoPeriod",
                MpdError::TooManySegments => "TooManySegments",
                MpdError::Invalid(_) => "Invalid",
            };
            (n.as_str(), kind)
        })
        .collect();
    assert_eq!(
        refused,
        [
            ("dash-mpd-rs__incomplete.mpd", "Xml"),
            ("dash-mpd__go-dash-fixtures__location.mpd", "NoPeriod"),
            ("dash-mpd__schema-mpds__example_G11.mpd", "Invalid"),
            ("dash-mpd__schema-mpds__example_G11_remote.period.xml", "NotAnMpd"),
        ]
    );
}

/// Dynamic `$Time$` timelines with a presentationTimeOffset and a Period far
/// from the availability start; an availabilityStartTime with a `+00:00`
/// zone (dash-mpd-rs patch-location) and one with milliseconds (shaka 3675).
#[test]
fn corpus_dynamic_time_timelines_with_offsets() {
    let m = parse_at(&corpus_text("dash-mpd-rs__patch-location.mpd"), ORIGIN, Some(1_589_348_046_000.0)).unwrap();
    assert!(m.dynamic);
    // 2017-05-01T07:00:00+00:00 = 1493622000 s.
    assert_eq!(m.availability_start_ms, Some(1_493_622_000_000.0));
    assert_eq!(m.min_update_period, Some(3.0));
    assert_eq!(m.time_shift_buffer_depth, None);
    assert!(m.locations.is_empty(), "PatchLocation is not Location");
    periods(&m, &[(95_725_984.571, None)]);
    let v = rep(&m, 0, 0, 0);
    assert_eq!(v.id, "video-3");
    assert_eq!(v.init_url(), Some("https://origin.example/path/live-stream/video-3/init.mp4"));
    // pto 5491773166 at 90000 = 61019.701844 s: offset 95725984.571 − that.
    approx(v.timestamp_offset, 95_664_964.869_155_56);
    // S t=5491776169 (3003 ticks after pto) d=360360 (4.004 s) r=8: 9 segments.
    let s = v.segments();
    assert_eq!(s.len(), 9);
    seg(&s[0], "https://origin.example/path/live-stream/video-3/5491776169.m4s", None, 95_725_984.604_366_66, 4.004, 1);
    seg(&s[1], "https://origin.example/path/live-stream/video-3/5492136529.m4s", None, 95_725_988.608_366_67, 4.004, 2);
    // Audio: S t=5491776448 d=360960 r=1, S d=359040, S d=360960 r=1, S d=359040,
    // S d=360960 r=2: 2+1+2+1+3 = 9; the third starts 725202 ticks after pto.
    let a = rep(&m, 0, 1, 0);
    let s = a.segments();
    assert_eq!(s.len(), 9);
    seg(&s[0], "https://origin.example/path/live-stream/audio-0/5491776448.m4s", None, 95_725_984.607_466_67, 4.010_666_667, 1);
    seg(&s[2], "https://origin.example/path/live-stream/audio-0/5492498368.m4s", None, 95_725_992.628_8, 3.989_333_333, 3);
    assert_eq!(a.sample_rate, Some(48000));

    let m = parse_at(&corpus_text("shaka__3675__dash_0.mpd"), ORIGIN, Some(1_635_406_600_000.0)).unwrap();
    // 2021-10-28T07:36:27.755Z = 1635406587 s + 755 ms.
    assert_eq!(m.availability_start_ms, Some(1_635_406_587_755.0));
    assert_eq!(m.suggested_presentation_delay, Some(2.0));
    assert_eq!(m.time_shift_buffer_depth, Some(10.0));
    assert_eq!(m.min_buffer_time, Some(4.0));
    periods(&m, &[(10.0, None)]);
    let r = rep(&m, 0, 0, 0);
    assert_eq!(r.segments().len(), 1);
    seg(&r.segments()[0], "https://origin.example/path/chunk-stream0-00001.m4s", None, 10.0, 2.0, 1);
    approx(r.timestamp_offset, 10.0);
}

#[test]
fn a_base_url_naming_a_directory_is_no_file_to_play() {
    // The proxy's rewrite gives every MPD a BaseURL for its directory: a
    // Representation with no segment information below it plays nothing,
    // while one whose own BaseURL names a file plays that file.
    let mpd = r#"<MPD type="static" mediaPresentationDuration="PT4S"><BaseURL>https://cdn.example/v/</BaseURL><Period>
      <AdaptationSet mimeType="video/mp4"><Representation id="a" bandwidth="1"/><Representation id="b" bandwidth="2"><BaseURL>b.mp4</BaseURL></Representation></AdaptationSet>
    </Period></MPD>"#;
    let m = parse(mpd, "https://origin.example/m.mpd").unwrap();
    let reps: Vec<_> = m.periods.iter().flat_map(|p| &p.tracks).flat_map(|t| &t.representations).collect();
    let urls: Vec<Vec<&str>> = reps.iter().map(|r| r.segments().iter().map(|s| s.url.as_str()).collect()).collect();
    assert!(urls.iter().all(|u| !u.contains(&"https://cdn.example/v/")), "a directory is never fetched as a file: {urls:?}");
    assert!(urls.iter().any(|u| u == &["https://cdn.example/v/b.mp4"]), "{urls:?}");
}
