use super::*;

/// A box: 32-bit size, type, payload.
fn bx(typ: &[u8; 4], payload: &[u8]) -> Vec<u8> {
    let mut out = ((payload.len() + 8) as u32).to_be_bytes().to_vec();
    out.extend_from_slice(typ);
    out.extend_from_slice(payload);
    out
}

/// A box with the 64-bit `largesize` header (size field 1).
fn large_bx(typ: &[u8; 4], payload: &[u8]) -> Vec<u8> {
    let mut out = 1u32.to_be_bytes().to_vec();
    out.extend_from_slice(typ);
    out.extend_from_slice(&((payload.len() + 16) as u64).to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// A sidx body. `refs` are (reference_type, referenced_size, subsegment_duration).
fn sidx_body(version: u8, timescale: u32, ept: u64, first: u64, count: u16, refs: &[(u32, u32, u32)]) -> Vec<u8> {
    let mut b = vec![version, 0, 0, 0];
    b.extend_from_slice(&1u32.to_be_bytes()); // reference_ID
    b.extend_from_slice(&timescale.to_be_bytes());
    if version == 0 {
        b.extend_from_slice(&(ept as u32).to_be_bytes());
        b.extend_from_slice(&(first as u32).to_be_bytes());
    } else {
        b.extend_from_slice(&ept.to_be_bytes());
        b.extend_from_slice(&first.to_be_bytes());
    }
    b.extend_from_slice(&0u16.to_be_bytes());
    b.extend_from_slice(&count.to_be_bytes());
    for &(typ, size, duration) in refs {
        b.extend_from_slice(&((typ << 31) | size).to_be_bytes());
        b.extend_from_slice(&duration.to_be_bytes());
        b.extend_from_slice(&0x9000_0000u32.to_be_bytes()); // starts_with_SAP, SAP type 1
    }
    b
}

fn seg(offset: u64, size: u64, start: f64, duration: f64, start_ticks: u64, timescale: u32) -> IndexedSegment {
    IndexedSegment { offset, size, start, duration, start_ticks, timescale }
}

/// `free` (12 bytes) then a v0 sidx (8 + 60 = 68 bytes): the sidx ends at 80.
fn v0_sample() -> Vec<u8> {
    let refs = [(0, 100, 2000), (0, 200, 2000), (0, 300, 1500)];
    let mut data = bx(b"free", b"abcd");
    data.extend(bx(b"sidx", &sidx_body(0, 1000, 500, 10, 3, &refs)));
    data
}

#[test]
fn v0_three_references_after_a_free_box() {
    // Fetched from absolute offset 1000: the sidx ends at 1000 + 80, reference 0 starts
    // first_offset = 10 bytes later, at 1090; the others follow: 1190, 1390.
    let data = v0_sample();
    assert_eq!(data.len(), 80);
    let expected = vec![seg(1090, 100, 0.5, 2.0, 500, 1000), seg(1190, 200, 2.5, 2.0, 2500, 1000), seg(1390, 300, 4.5, 1.5, 4500, 1000)];
    assert_eq!(parse_sidx(&data, 1000), Ok(expected.clone()));
    // Bytes after the sidx (the first moof) change nothing.
    let mut longer = data.clone();
    longer.extend(bx(b"moof", &[0; 16]));
    assert_eq!(parse_sidx(&longer, 1000), Ok(expected));
}

#[test]
fn v1_with_64_bit_fields_after_a_styp_box() {
    // ept 9e9 ticks at 90 kHz = 100000 s; first_offset 5e9 (both above 2^32).
    // styp is 16 bytes, the v1 sidx 8 + 68 = 76: the anchor is 92.
    let refs = [(0, 1000, 180_000), (0, 2000, 180_000), (0, 3000, 180_000)];
    let mut data = bx(b"styp", b"msdhmsdh");
    data.extend(bx(b"sidx", &sidx_body(1, 90_000, 9_000_000_000, 5_000_000_000, 3, &refs)));
    assert_eq!(data.len(), 92);
    let got = parse_sidx(&data, 0);
    assert_eq!(
        got,
        Ok(vec![
            seg(5_000_000_092, 1000, 100_000.0, 2.0, 9_000_000_000, 90_000),
            seg(5_000_001_092, 2000, 100_002.0, 2.0, 9_000_180_000, 90_000),
            seg(5_000_003_092, 3000, 100_004.0, 2.0, 9_000_360_000, 90_000),
        ])
    );
}

#[test]
fn largesize_and_size_zero_headers() {
    // A largesize `free` of 16 + 4 bytes, then the sidx: it ends at 20 + 68 = 88.
    let refs = [(0, 100, 2000)];
    let mut data = large_bx(b"free", b"abcd");
    data.extend(large_bx(b"sidx", &sidx_body(0, 1000, 0, 0, 1, &refs)));
    assert_eq!(data.len(), 20 + 16 + 36);
    assert_eq!(parse_sidx(&data, 0), Ok(vec![seg(72, 100, 0.0, 2.0, 0, 1000)]));
    // size 0: the box runs to the end of the data.
    let mut data = bx(b"sidx", &sidx_body(0, 1000, 0, 0, 1, &refs));
    data[..4].copy_from_slice(&0u32.to_be_bytes());
    assert_eq!(parse_sidx(&data, 0), Ok(vec![seg(44, 100, 0.0, 2.0, 0, 1000)]));
}

#[test]
fn hierarchical_version_and_timescale_errors() {
    let refs = [(0, 100, 2000), (1, 50, 2000)];
    let data = bx(b"sidx", &sidx_body(0, 1000, 0, 0, 2, &refs));
    assert_eq!(parse_sidx(&data, 0), Err(IndexError::Unsupported("hierarchical sidx")));
    let data = bx(b"sidx", &sidx_body(2, 1000, 0, 0, 0, &[]));
    assert_eq!(parse_sidx(&data, 0), Err(IndexError::Unsupported("sidx version")));
    let data = bx(b"sidx", &sidx_body(0, 0, 0, 0, 0, &[]));
    assert_eq!(parse_sidx(&data, 0), Err(IndexError::Malformed("timescale 0")));
}

#[test]
fn box_walk_errors() {
    assert_eq!(parse_sidx(&[], 0), Err(IndexError::NotFound));
    assert_eq!(parse_sidx(&bx(b"free", b""), 0), Err(IndexError::NotFound));
    let mut tiny = bx(b"free", b"");
    tiny[3] = 4; // size 4 < 8-byte header
    assert_eq!(parse_sidx(&tiny, 0), Err(IndexError::Malformed("box size smaller than its header")));
    // A box announcing more than the data holds.
    let mut long = bx(b"moov", b"");
    long[..4].copy_from_slice(&1000u32.to_be_bytes());
    assert_eq!(parse_sidx(&long, 0), Err(IndexError::Truncated));
    // Offsets that overflow u64.
    let data = bx(b"sidx", &sidx_body(1, 1, 0, u64::MAX, 1, &[(0, 1, 1)]));
    assert_eq!(parse_sidx(&data, 0), Err(IndexError::Malformed("offset overflow")));
}

#[test]
fn every_truncation_is_an_error() {
    let data = v0_sample();
    for n in 0..data.len() {
        assert!(parse_sidx(&data[..n], 1000).is_err(), "prefix of {n} bytes parsed");
    }
    assert!(parse_sidx(&data, 1000).is_ok());
}

#[test]
fn huge_reference_count_with_little_data_is_truncated() {
    // The header claims 65535 references (and a box size to match); 3 are present.
    let refs = [(0, 100, 2000); 3];
    let mut data = bx(b"sidx", &sidx_body(0, 1000, 0, 0, u16::MAX, &refs));
    let claimed = 8 + 24 + 12 * u32::from(u16::MAX);
    data[..4].copy_from_slice(&claimed.to_be_bytes());
    assert_eq!(parse_sidx(&data, 0), Err(IndexError::Truncated));
    // A complete box whose count exceeds its own body.
    let data = bx(b"sidx", &sidx_body(0, 1000, 0, 0, u16::MAX, &refs));
    assert_eq!(parse_sidx(&data, 0), Err(IndexError::Truncated));
}

#[test]
fn mutated_inputs_never_panic() {
    let sample = v0_sample();
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    for _ in 0..20_000 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let mut data = sample.clone();
        for k in 0..(state % 4 + 1) {
            let i = (state >> (8 + 16 * k)) as usize % data.len();
            data[i] = (state >> (3 * k)) as u8;
        }
        let _ = parse_sidx(&data, state);
    }
}

/// The top-level boxes of a file: (offset, size, type).
fn top_boxes(file: &[u8]) -> Vec<(usize, usize, [u8; 4])> {
    let mut out = Vec::new();
    let mut pos = 0;
    while let Ok((typ, _, end)) = box_at(file, pos) {
        out.push((pos, end - pos, typ));
        pos = end;
    }
    assert_eq!(pos, file.len(), "file is not a sequence of boxes");
    out
}

#[test]
fn real_fragmented_mp4_from_ffmpeg() {
    let dir = std::env::temp_dir().join(format!("media-core-sidx-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("out.mp4");
    // 6 s at 24 fps with a keyframe every 48 frames: one fragment (moof+mdat) every 2 s,
    // indexed by one global sidx placed before the first moof.
    let status = std::process::Command::new("ffmpeg")
        .args(["-y", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=160x90:rate=24:duration=6"])
        .args(["-c:v", "libx264", "-g", "48", "-f", "mp4"])
        .args(["-movflags", "+empty_moov+frag_keyframe+default_base_moof+global_sidx"])
        .arg(&path)
        .status();
    if !matches!(status, Ok(s) if s.success()) {
        let _ = std::fs::remove_dir_all(&dir);
        eprintln!("note: ffmpeg (with libx264) unavailable, real-file sidx test skipped");
        return;
    }
    let file = std::fs::read(&path).expect("read mp4");
    let _ = std::fs::remove_dir_all(&dir);

    let boxes = top_boxes(&file);
    let &(sidx_at, sidx_len, _) = boxes.iter().find(|b| &b.2 == b"sidx").expect("no sidx");
    // As a player would: only the indexRange bytes, at their absolute offset.
    let segments = parse_sidx(&file[sidx_at..sidx_at + sidx_len], sidx_at as u64).expect("parse");
    // The whole file from offset 0 gives the same (ftyp and moov are skipped).
    assert_eq!(parse_sidx(&file, 0).as_ref(), Ok(&segments));

    assert!(segments.len() >= 2, "{segments:?}");
    assert_eq!(segments[0].start_ticks, 0);
    for pair in segments.windows(2) {
        assert_eq!(pair[0].offset + pair[0].size, pair[1].offset, "segments not contiguous");
    }
    for s in &segments {
        assert!(boxes.iter().any(|b| b.0 as u64 == s.offset && &b.2 == b"moof"), "{s:?} not on a moof");
    }
    // The last segment ends at the first box after the media (mfra) or at the end of the file.
    let last = &segments[segments.len() - 1];
    let end = last.offset + last.size;
    let media_end = boxes.iter().find(|b| b.0 as u64 >= last.offset && &b.2 != b"moof" && &b.2 != b"mdat").map_or(file.len(), |b| b.0);
    assert_eq!(end, media_end as u64);
    let total: f64 = segments.iter().map(|s| s.duration).sum();
    assert!((total - 6.0).abs() < 0.1, "total duration {total}");
}
