use super::*;

/// An element: ID bytes (marker kept), size vint (1, 2 or 8 bytes), data.
fn el(id: u32, data: &[u8]) -> Vec<u8> {
    let mut out: Vec<u8> = id.to_be_bytes().into_iter().skip_while(|&b| b == 0).collect();
    let n = data.len() as u64;
    if n < 0x7F {
        out.push(0x80 | n as u8);
    } else if n < 0x3FFF {
        out.extend_from_slice(&(0x4000 | n as u16).to_be_bytes());
    } else {
        out.extend_from_slice(&(0x0100_0000_0000_0000 | n).to_be_bytes());
    }
    out.extend_from_slice(data);
    out
}

/// An element of unknown size (8-byte all-ones size).
fn unknown_size(id: u32, data: &[u8]) -> Vec<u8> {
    let mut out: Vec<u8> = id.to_be_bytes().into_iter().skip_while(|&b| b == 0).collect();
    out.extend_from_slice(&[0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]);
    out.extend_from_slice(data);
    out
}

/// An unsigned integer element in the fewest bytes (at least one).
fn uint_el(id: u32, v: u64) -> Vec<u8> {
    let bytes = v.to_be_bytes();
    let skip = bytes.iter().take(7).take_while(|&&b| b == 0).count();
    el(id, &bytes[skip..])
}

fn info(segment_data_offset: u64, scale: u64, duration: Option<f64>) -> WebmInfo {
    WebmInfo { segment_data_offset, timecode_scale_ns: scale, duration }
}

/// EBML header (4+1+7 = 12 bytes), then an unknown-size Segment (4+8 = 12 bytes: its data
/// starts at 24), a SeekHead, a Void, the Info and Tracks.
fn init_sample(info_children: &[u8]) -> Vec<u8> {
    let ebml = el(EBML, &el(0x4282, b"webm"));
    let seek_head = el(0x114D_9B74, &el(0x4DBB, &el(0x53AB, &INFO.to_be_bytes())));
    let body = [seek_head, el(0xEC, &[0; 20]), el(INFO, info_children), el(0x1654_AE6B, &[0xAE, 0x80])].concat();
    [ebml, unknown_size(SEGMENT, &body)].concat()
}

#[test]
fn vints() {
    assert_eq!(read_id(&[0x1A, 0x45, 0xDF, 0xA3], 0), Ok((EBML, 4)));
    assert_eq!(read_id(&[0xBB], 0), Ok((0xBB, 1)));
    assert_eq!(read_id(&[0x08, 0, 0, 0, 0], 0), Err(IndexError::Malformed("element ID longer than 4 bytes")));
    assert_eq!(read_id(&[0x1A, 0x45], 0), Err(IndexError::Truncated));
    assert_eq!(read_size(&[0x85], 0), Ok((Some(5), 1)));
    assert_eq!(read_size(&[0x40, 0x02], 0), Ok((Some(2), 2)));
    assert_eq!(read_size(&[0x01, 0, 0, 0, 0, 0, 0x01, 0x00], 0), Ok((Some(256), 8)));
    assert_eq!(read_size(&[0xFF], 0), Ok((None, 1)));
    assert_eq!(read_size(&[0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF], 0), Ok((None, 8)));
    assert_eq!(read_size(&[0x00], 0), Err(IndexError::Malformed("element size longer than 8 bytes")));
    assert_eq!(read_size(&[0x20, 0x01], 0), Err(IndexError::Truncated));
}

#[test]
fn init_with_unknown_size_segment_and_8_byte_duration() {
    // Duration 6000.0 ticks of 1 ms = 6 s.
    let data = init_sample(&[uint_el(TIMECODE_SCALE, 1_000_000), el(DURATION, &6000f64.to_be_bytes())].concat());
    assert_eq!(parse_webm_init(&data, 0), Ok(info(24, 1_000_000, Some(6.0))));
    assert_eq!(parse_webm_init(&data, 100), Ok(info(124, 1_000_000, Some(6.0))));
}

#[test]
fn init_defaults_4_byte_duration_and_other_scales() {
    // No TimecodeScale: 1 ms. Duration as f32 2500.0 = 2.5 s.
    let data = init_sample(&el(DURATION, &2500f32.to_be_bytes()));
    assert_eq!(parse_webm_init(&data, 0), Ok(info(24, 1_000_000, Some(2.5))));
    // TimecodeScale 100 µs, Duration 30000 ticks = 3 s; no Duration at all.
    let data = init_sample(&[uint_el(TIMECODE_SCALE, 100_000), el(DURATION, &30000f64.to_be_bytes())].concat());
    assert_eq!(parse_webm_init(&data, 0), Ok(info(24, 100_000, Some(3.0))));
    assert_eq!(parse_webm_init(&init_sample(&[]), 0), Ok(info(24, 1_000_000, None)));
    // A known-size Segment after a 5-byte EBML header (4+1 bytes header: data at 10).
    let data = [el(EBML, &[]), el(SEGMENT, &el(INFO, &uint_el(TIMECODE_SCALE, 1000)))].concat();
    assert_eq!(parse_webm_init(&data, 0), Ok(info(10, 1000, None)));
}

#[test]
fn init_errors() {
    assert_eq!(parse_webm_init(&[], 0), Err(IndexError::Truncated));
    assert_eq!(parse_webm_init(&el(0x4286, &[1]), 0), Err(IndexError::Malformed("not an EBML stream")));
    let data = init_sample(&uint_el(TIMECODE_SCALE, 0));
    assert_eq!(parse_webm_init(&data, 0), Err(IndexError::Malformed("TimecodeScale 0")));
    let data = init_sample(&el(DURATION, &[0; 5]));
    assert_eq!(parse_webm_init(&data, 0), Err(IndexError::Malformed("float size")));
    // A complete Segment without Info.
    let data = [el(EBML, &[]), el(SEGMENT, &el(0xEC, &[0; 4]))].concat();
    assert_eq!(parse_webm_init(&data, 0), Err(IndexError::NotFound));
    // Info of unknown size.
    let data = [el(EBML, &[]), el(SEGMENT, &unknown_size(INFO, &[]))].concat();
    assert_eq!(parse_webm_init(&data, 0), Err(IndexError::Malformed("unknown size")));
}

#[test]
fn init_every_truncation_before_the_end_of_info_is_an_error() {
    let data = init_sample(&[uint_el(TIMECODE_SCALE, 1_000_000), el(DURATION, &6000f64.to_be_bytes())].concat());
    let tracks_len = 7; // the Tracks element after Info
    for n in 0..data.len() - tracks_len {
        assert!(parse_webm_init(&data[..n], 0).is_err(), "prefix of {n} bytes parsed");
    }
    for n in data.len() - tracks_len..=data.len() {
        assert_eq!(parse_webm_init(&data[..n], 0), Ok(info(24, 1_000_000, Some(6.0))));
    }
}

/// A CuePoint with one CueTrackPositions per (track, position).
fn cue_point(time: u64, positions: &[(u64, u64)]) -> Vec<u8> {
    let mut body = uint_el(CUE_TIME, time);
    for &(track, position) in positions {
        body.extend(el(CUE_TRACK_POSITIONS, &[uint_el(CUE_TRACK, track), uint_el(CUE_CLUSTER_POSITION, position)].concat()));
    }
    el(CUE_POINT, &body)
}

/// Cues at 0, 2 and 4 s (1 ms ticks); track 1's clusters at 100, 5100, 10100 of the Segment
/// data, track 2 (audio, listed second) at 100, 5000, 10000.
fn cues_sample() -> Vec<u8> {
    let points = [cue_point(0, &[(1, 100), (2, 100)]), cue_point(2000, &[(1, 5100), (2, 5000)]), cue_point(4000, &[(1, 10100), (2, 10000)])];
    el(CUES, &points.concat())
}

fn seg(offset: u64, size: u64, start: f64, duration: f64, start_ticks: u64, timescale: u32) -> IndexedSegment {
    IndexedSegment { offset, size, start, duration, start_ticks, timescale }
}

#[test]
fn cues_after_the_clusters() {
    // Segment data at 48: clusters at 148, 5148, 10148; the Cues at 20000 end the last one,
    // whose duration is the file's 6 s minus its 4 s start.
    let data = cues_sample();
    let expected = vec![seg(148, 5000, 0.0, 2.0, 0, 1000), seg(5148, 5000, 2.0, 2.0, 2000, 1000), seg(10148, 9852, 4.0, 2.0, 4000, 1000)];
    let info = info(48, 1_000_000, Some(6.0));
    assert_eq!(parse_cues(&data, 20000, &info, None, None), Ok(expected.clone()));
    assert_eq!(parse_cues(&data, 20000, &info, Some(1), Some(30000)), Ok(expected));
    // Track 2, and no Duration: the last duration is unknown (0).
    let info = WebmInfo { duration: None, ..info };
    assert_eq!(
        parse_cues(&data, 20000, &info, Some(2), None),
        Ok(vec![seg(148, 4900, 0.0, 2.0, 0, 1000), seg(5048, 5000, 2.0, 2.0, 2000, 1000), seg(10048, 9952, 4.0, 0.0, 4000, 1000),])
    );
    assert_eq!(parse_cues(&data, 20000, &info, Some(3), None), Err(IndexError::NotFound));
}

#[test]
fn cues_before_the_clusters() {
    // Cues at 60, before the clusters: the last segment ends at file_size, or is open (0).
    let data = cues_sample();
    let info = info(48, 1_000_000, Some(6.0));
    let last = |got: Result<Vec<IndexedSegment>, IndexError>| got.map(|s| s[2].clone());
    assert_eq!(last(parse_cues(&data, 60, &info, None, Some(25000))), Ok(seg(10148, 14852, 4.0, 2.0, 4000, 1000)));
    assert_eq!(last(parse_cues(&data, 60, &info, None, None)), Ok(seg(10148, 0, 4.0, 2.0, 4000, 1000)));
    assert_eq!(parse_cues(&data, 60, &info, None, Some(9000)), Err(IndexError::Malformed("file_size before the last cluster")));
}

#[test]
fn cues_timescales_and_merged_points() {
    // Two CuePoints in the same cluster (keyframes at 0 and 1 s) merge into one segment.
    // TimecodeScale 100 µs divides 1 s: timescale 10000, ticks are the CueTimes.
    let data = el(CUES, &[cue_point(0, &[(1, 0)]), cue_point(10000, &[(1, 0)]), cue_point(20000, &[(1, 700)])].concat());
    assert_eq!(
        parse_cues(&data, 5000, &info(10, 100_000, Some(3.0)), None, None),
        Ok(vec![seg(10, 700, 0.0, 2.0, 0, 10000), seg(710, 4290, 2.0, 1.0, 20000, 10000)])
    );
    // TimecodeScale 3 ns does not divide 1 s: ticks are whole milliseconds.
    let data = el(CUES, &[cue_point(0, &[(1, 0)]), cue_point(1_000_000_000, &[(1, 700)])].concat());
    let got = parse_cues(&data, 5000, &info(10, 3, None), None, None).expect("parse");
    assert_eq!((got[1].start_ticks, got[1].timescale, got[1].start), (3000, 1000, 3.0));
    assert_eq!(got[0].duration, 3.0);
}

#[test]
fn cues_errors() {
    let info = info(48, 1_000_000, None);
    assert_eq!(parse_cues(&[], 0, &info, None, None), Err(IndexError::NotFound));
    assert_eq!(parse_cues(&el(CUES, &[]), 0, &info, None, None), Err(IndexError::NotFound));
    let backwards = el(CUES, &[cue_point(2000, &[(1, 100)]), cue_point(1000, &[(1, 200)])].concat());
    assert_eq!(parse_cues(&backwards, 0, &info, None, None), Err(IndexError::Malformed("CueTime going backwards")));
    let backwards = el(CUES, &[cue_point(1000, &[(1, 200)]), cue_point(2000, &[(1, 100)])].concat());
    assert_eq!(parse_cues(&backwards, 0, &info, None, None), Err(IndexError::Malformed("CueClusterPosition going backwards")));
    let no_time = el(CUES, &el(CUE_POINT, &el(CUE_TRACK_POSITIONS, &[uint_el(CUE_TRACK, 1), uint_el(CUE_CLUSTER_POSITION, 1)].concat())));
    assert_eq!(parse_cues(&no_time, 0, &info, None, None), Err(IndexError::Malformed("CuePoint without CueTime")));
    let overflow = el(CUES, &cue_point(0, &[(1, u64::MAX)]));
    assert_eq!(parse_cues(&overflow, 0, &info, None, None), Err(IndexError::Malformed("offset overflow")));
    let unknown = unknown_size(CUES, &cue_point(0, &[(1, 0)]));
    assert_eq!(parse_cues(&unknown, 0, &info, None, None), Err(IndexError::Malformed("unknown size")));
    let zero_scale = WebmInfo { timecode_scale_ns: 0, ..info };
    assert_eq!(parse_cues(&cues_sample(), 0, &zero_scale, None, None), Err(IndexError::Malformed("TimecodeScale 0")));
}

#[test]
fn cues_every_truncation_is_an_error() {
    let data = cues_sample();
    let info = info(48, 1_000_000, Some(6.0));
    for n in 0..data.len() {
        assert!(parse_cues(&data[..n], 20000, &info, None, None).is_err(), "prefix of {n} bytes parsed");
    }
}

#[test]
fn too_many_cue_points() {
    let points: Vec<u8> = (0..=MAX_INDEX_ENTRIES as u64).flat_map(|i| cue_point(i, &[(1, i)])).collect();
    let info = info(0, 1_000_000, None);
    assert_eq!(parse_cues(&el(CUES, &points), 0, &info, None, None), Err(IndexError::TooMany));
}

#[test]
fn mutated_inputs_never_panic() {
    let samples = [init_sample(&uint_el(TIMECODE_SCALE, 1_000_000)), cues_sample()];
    let info = info(48, 1_000_000, Some(6.0));
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    for round in 0..20_000 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let mut data = samples[round % 2].clone();
        for k in 0..(state % 4 + 1) {
            let i = (state >> (8 + 16 * k)) as usize % data.len();
            data[i] = (state >> (3 * k)) as u8;
        }
        let _ = parse_webm_init(&data, state);
        let _ = parse_cues(&data, state, &info, None, Some(state >> 1));
    }
}

/// Runs ffmpeg to make a 6 s VP9 WebM with Cues; None (and a note) if it cannot.
fn ffmpeg_webm(name: &str, extra: &[&str]) -> Option<Vec<u8>> {
    let dir = std::env::temp_dir().join(format!("media-core-webm-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).ok()?;
    let path = dir.join("out.webm");
    let status = std::process::Command::new("ffmpeg")
        .args(["-y", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=160x90:rate=24:duration=6"])
        .args(["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-g", "48"])
        .args(["-f", "webm", "-dash", "1"])
        .args(extra)
        .arg(&path)
        .status();
    let file = matches!(status, Ok(s) if s.success()).then(|| std::fs::read(&path).ok()).flatten();
    let _ = std::fs::remove_dir_all(&dir);
    if file.is_none() {
        eprintln!("note: ffmpeg (with libvpx-vp9) unavailable, real-file WebM test skipped");
    }
    file
}

/// Checks the index of a real file against the file; `cues_first`: Cues before the clusters.
fn check_real_file(file: &[u8], cues_first: bool) {
    let info = parse_webm_init(file, 0).expect("init");
    assert_eq!(info.timecode_scale_ns, 1_000_000);
    let duration = info.duration.expect("duration");
    assert!((duration - 6.0).abs() < 0.1, "duration {duration}");
    // As a player would: only the Cues bytes (found here by walking the file), at their offset.
    let (at, cues, _) = find(file, CUES).expect("no Cues");
    let end = cues.data_start + cues.body(file).expect("Cues").len();
    let file_size = Some(file.len() as u64);
    let segments = parse_cues(&file[at..end], at as u64, &info, None, file_size).expect("parse");
    // The whole file from offset 0 gives the same (everything before the Cues is skipped).
    assert_eq!(parse_cues(file, 0, &info, None, file_size).as_ref(), Ok(&segments));

    assert!(segments.len() >= 2, "{segments:?}");
    assert_eq!((segments[0].start, segments[0].start_ticks, segments[0].timescale), (0.0, 0, 1000));
    for pair in segments.windows(2) {
        assert!(pair[1].start > pair[0].start, "starts not increasing");
        assert_eq!(pair[0].offset + pair[0].size, pair[1].offset, "segments not contiguous");
    }
    for s in &segments {
        let at = s.offset as usize;
        assert_eq!(file.get(at..at + 4), Some(&CLUSTER.to_be_bytes()[..]), "{s:?} not on a Cluster");
    }
    let last = &segments[segments.len() - 1];
    let expected_end = if cues_first { file.len() } else { at };
    assert_eq!(last.offset + last.size, expected_end as u64);
    let total: f64 = segments.iter().map(|s| s.duration).sum();
    assert!((total - duration).abs() < 1e-9, "total duration {total}");
}

#[test]
fn real_webm_from_ffmpeg_cues_at_the_end() {
    if let Some(file) = ffmpeg_webm("end", &[]) {
        check_real_file(&file, false);
    }
}

#[test]
fn real_webm_from_ffmpeg_cues_at_the_front() {
    if let Some(file) = ffmpeg_webm("front", &["-cues_to_front", "1"]) {
        check_real_file(&file, true);
    }
}
