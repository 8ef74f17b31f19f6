//! The transmuxer on transport streams made by ffmpeg (`cargo xtask test
//! native` makes them in `target/test-media/ts`), checked box by box and by
//! ffprobe reading the fragmented MP4 back.

use super::*;
use std::path::PathBuf;
use std::process::Command;

fn media(dir: &str) -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/test-media/ts").join(dir);
    assert!(p.join("media.m3u8").exists() || p.join("source.h264").exists(), "{} is missing: `cargo xtask test native` makes it with ffmpeg", p.display());
    p
}

/// The segments of a playlist: (start on its timeline, bytes).
fn segments(dir: &str) -> Vec<(f64, Vec<u8>)> {
    let dir = media(dir);
    let text = std::fs::read_to_string(dir.join("media.m3u8")).unwrap();
    let mut out = Vec::new();
    let (mut at, mut duration) = (0.0, 0.0);
    for line in text.lines() {
        if let Some(d) = line.strip_prefix("#EXTINF:") {
            duration = d.trim_end_matches(',').split(',').next().unwrap().parse().unwrap();
        } else if !line.starts_with('#') && !line.is_empty() {
            out.push((at, std::fs::read(dir.join(line)).unwrap()));
            at += duration;
        }
    }
    out
}

/// Everything the transmuxer says for these segments, fed whole and in order.
fn transmux(t: &mut Transmuxer, segs: &[(f64, Vec<u8>)], discontinuity: bool) -> Vec<TransmuxOutput> {
    let mut out = Vec::new();
    for (i, (start, bytes)) in segs.iter().enumerate() {
        t.handle_segment_start(*start, discontinuity && i == 0);
        t.handle_data(bytes);
        t.handle_segment_end();
        while let Some(o) = t.poll_output() {
            out.push(o);
        }
    }
    out
}

fn inits(out: &[TransmuxOutput]) -> Vec<&Init> {
    out.iter().filter_map(|o| if let TransmuxOutput::Init(i) = o { Some(i) } else { None }).collect()
}
fn medias(out: &[TransmuxOutput]) -> Vec<&Media> {
    out.iter().filter_map(|o| if let TransmuxOutput::Media(m) = o { Some(m) } else { None }).collect()
}
fn warnings(out: &[TransmuxOutput]) -> Vec<&TsWarning> {
    out.iter().filter_map(|o| if let TransmuxOutput::Warning(w) = o { Some(w) } else { None }).collect()
}

/// The boxes at one level: (type, body).
fn boxes(mut data: &[u8]) -> Vec<([u8; 4], &[u8])> {
    let mut out = Vec::new();
    while data.len() >= 8 {
        let size = u32::from_be_bytes(data[..4].try_into().unwrap()) as usize;
        assert!(size >= 8 && size <= data.len(), "box size {size} of {}", data.len());
        out.push((data[4..8].try_into().unwrap(), &data[8..size]));
        data = &data[size..];
    }
    assert!(data.is_empty(), "trailing bytes");
    out
}

fn child<'a>(data: &'a [u8], path: &[&[u8; 4]]) -> Option<&'a [u8]> {
    let (first, rest) = path.split_first()?;
    let body = boxes(data).into_iter().find(|(t, _)| t == *first)?.1;
    if rest.is_empty() {
        Some(body)
    } else {
        child(body, rest)
    }
}

/// Each track continues where it ended in the fragment before.
fn assert_contiguous(media: &[&Media]) {
    for w in media.windows(2) {
        for (a, b, what) in [(w[0].video, w[1].video, "video"), (w[0].audio, w[1].audio, "audio")] {
            if let (Some(a), Some(b)) = (a, b) {
                assert!((b.0 - a.1).abs() < 0.001, "{what} contiguous: ends at {} then starts at {}", a.1, b.0);
            }
        }
    }
}

/// The init and fragments as one file in the temp directory.
fn write_mp4(init: &[u8], fragments: &[&Media], name: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("wt-transmux-{name}-{}.mp4", std::process::id()));
    let mut all = init.to_vec();
    for m in fragments {
        all.extend_from_slice(&m.data);
    }
    std::fs::write(&path, &all).unwrap();
    path
}

/// ffprobe's reading of the fMP4 we made: per stream, (codec, frames read, start time).
fn ffprobe(init: &[u8], fragments: &[&Media], name: &str) -> Vec<(String, u64, f64)> {
    let path = write_mp4(init, fragments, name);
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-count_frames", "-show_entries", "stream=codec_name,nb_read_frames,start_time", "-of", "flat"])
        .arg(&path)
        .output()
        .expect("ffprobe (installed with ffmpeg by cargo xtask)");
    let _ = std::fs::remove_file(&path);
    assert!(out.status.success(), "ffprobe refused our MP4: {}", String::from_utf8_lossy(&out.stderr));
    assert!(out.stderr.is_empty(), "ffprobe complained: {}", String::from_utf8_lossy(&out.stderr));
    // streams.stream.0.codec_name="h264" …
    let text = String::from_utf8(out.stdout).unwrap();
    let field = |i: usize, name: &str| {
        let key = format!("streams.stream.{i}.{name}=");
        text.lines().find_map(|l| l.strip_prefix(&key)).map(|v| v.trim_matches('"').to_string())
    };
    (0..).map_while(|i| Some((field(i, "codec_name")?, field(i, "nb_read_frames")?.parse().ok()?, field(i, "start_time")?.parse().ok()?))).collect()
}

#[test]
fn h264_and_aac_become_one_init_and_a_fragment_per_segment_that_ffprobe_reads_back() {
    let segs = segments("avc-aac");
    let out = transmux(&mut Transmuxer::new(), &segs, false);
    assert_eq!(warnings(&out), Vec::<&TsWarning>::new());
    let inits = inits(&out);
    assert_eq!(inits.len(), 1, "one init: the configuration never changed");
    let init = inits[0];
    assert!(init.codecs.starts_with("avc1.64") && init.codecs.ends_with(",mp4a.40.2"), "{}", init.codecs);
    assert_eq!(init.size, Some((320, 180)));
    assert_eq!(init.content_type(), format!("video/mp4; codecs=\"{}\"", init.codecs));
    let traks: Vec<_> = boxes(child(&init.data, &[b"moov"]).unwrap()).into_iter().filter(|(t, _)| t == b"trak").collect();
    assert_eq!(traks.len(), 2);
    assert!(child(&init.data, &[b"moov", b"trak", b"mdia", b"minf", b"stbl", b"stsd"]).is_some());

    let media = medias(&out);
    assert_eq!(media.len(), segs.len(), "a fragment per segment");
    assert_contiguous(&media);
    let first = media[0];
    assert!(first.start.abs() < 1e-9, "the first segment starts at its playlist time (0): {}", first.start);
    let (v, a) = (first.video.unwrap().0, first.audio.unwrap().0);
    assert!(v.abs() < 1e-9 && (v - a).abs() < 0.5 / 24.0, "video at 0, audio within half a frame of it: video {v}, audio {a}");
    assert!((media.last().unwrap().end - 12.0).abs() < 0.1, "12 s in all: ends at {}", media.last().unwrap().end);

    // ffmpeg reads it back: every frame, at the times we said.
    let streams = ffprobe(&init.data, &media, "avc");
    assert_eq!(streams.len(), 2, "{streams:?}");
    let video = streams.iter().find(|s| s.0 == "h264").expect("an h264 stream");
    let audio = streams.iter().find(|s| s.0 == "aac").expect("an aac stream");
    assert_eq!(video.1, 12 * 24, "every video frame: {video:?}");
    let aac_frames = (12.0 * 48_000.0 / 1024.0_f64).ceil() as u64;
    assert!(audio.1.abs_diff(aac_frames) <= 2, "every audio frame ({aac_frames}): {audio:?}");
    // (ffmpeg reads the negative composition offsets of the first B-frame
    // delay by shifting the video's start by that delay, 2 frames.)
    assert!(video.2 < 2.5 / 24.0 && audio.2.abs() < 0.5 / 24.0, "both start at 0: {streams:?}");
}

#[test]
fn any_chunking_gives_the_same_bytes() {
    let segs = segments("avc-aac");
    let whole = transmux(&mut Transmuxer::new(), &segs[..2], false);
    for chunk in [1, 187, 188, 189, 1000, 65_536] {
        let mut t = Transmuxer::new();
        let mut out = Vec::new();
        for (start, bytes) in &segs[..2] {
            t.handle_segment_start(*start, false);
            for c in bytes.chunks(chunk) {
                t.handle_data(c);
            }
            t.handle_segment_end();
            while let Some(o) = t.poll_output() {
                out.push(o);
            }
        }
        assert!(out == whole, "chunks of {chunk} bytes changed the output");
    }
}

#[test]
fn a_pts_rollover_inside_a_segment_keeps_the_timeline_continuous() {
    let segs = segments("rollover");
    // The wrap really is in there: the second segment's first PTS is near 2^33.
    let out = transmux(&mut Transmuxer::new(), &segs, false);
    assert_eq!(warnings(&out), Vec::<&TsWarning>::new());
    let media = medias(&out);
    assert_eq!(media.len(), segs.len());
    assert_contiguous(&media);
    assert!((media.last().unwrap().end - 8.0).abs() < 0.1, "8 s: {}", media.last().unwrap().end);
    let streams = ffprobe(&inits(&out)[0].data, &media, "rollover");
    let video = streams.iter().find(|s| s.0 == "h264").unwrap();
    assert_eq!(video.1, 8 * 24, "{streams:?}");
}

#[test]
fn a_segment_that_starts_between_keyframes_plays_from_its_first_keyframe() {
    let segs = segments("nonkey");
    // Seek to the second segment (1 s in: the keyframes are every 2 s).
    let mut t = Transmuxer::new();
    let out = transmux(&mut t, &segs[1..3], false);
    let w = warnings(&out);
    assert!(matches!(w.as_slice(), [TsWarning::NoKeyframe { dropped }] if *dropped == 24), "the second's 24 frames before its keyframe dropped: {w:?}");
    let media = medias(&out);
    assert_eq!(media.len(), 1, "the first segment had nothing decodable (no init either); the second has a fragment");
    assert_eq!(inits(&out).len(), 1);
    let (v, a) = (media[0].video.unwrap().0, media[0].audio.unwrap().0);
    assert!((v - a).abs() <= 0.5 / 24.0, "audio starts with the keyframe: video {v}, audio {a}");
    // Its first sample is a keyframe.
    let trun = child(&media[0].data, &[b"moof", b"traf", b"trun"]).unwrap();
    // (version+flags, count, data offset, then duration, size, flags of the first sample)
    let first_flags = u32::from_be_bytes(trun[20..24].try_into().unwrap());
    assert_eq!(first_flags, 0x0200_0000, "starts on a sync sample");
}

#[test]
fn a_discontinuity_to_another_stream_gets_a_new_init_and_its_playlist_time() {
    let main = segments("avc-aac");
    let other = segments("other");
    let mut t = Transmuxer::new();
    let mut out = transmux(&mut t, &main[..2], false);
    let ad_start = 4.0;
    let spliced: Vec<_> = other.iter().map(|(s, b)| (ad_start + s, b.clone())).collect();
    out.extend(transmux(&mut t, &spliced, true));
    let inits = inits(&out);
    assert_eq!(inits.len(), 2, "the ad's resolution needs a new init");
    assert_eq!(inits[1].size, Some((640, 360)));
    let media = medias(&out);
    let first_ad = media[2];
    assert!((first_ad.video.unwrap().0 - ad_start).abs() < 0.001, "placed at its playlist time, not at 1000 s: {:?}", first_ad.video);
    let (main_end, ad_audio) = (media[1].audio.unwrap().1, first_ad.audio.unwrap().0);
    assert!(main_end < ad_start - 0.01 && (ad_audio - main_end).abs() < 1e-3, "silence fills the audio from {main_end} to the ad (audio from {ad_audio})");
    // The filled silence decodes (ffmpeg reads the ad's fragments with its init).
    let streams = ffprobe(&inits[1].data, &media[2..], "splice");
    assert!(streams.iter().any(|s| s.0 == "aac" && s.1 > 200), "{streams:?}");
    assert_contiguous(&media[2..]);
}

#[test]
fn audio_only_makes_an_audio_init() {
    let segs = segments("audio");
    let out = transmux(&mut Transmuxer::new(), &segs, false);
    let init = inits(&out)[0];
    assert_eq!(init.mime, "audio/mp4");
    assert_eq!(init.codecs, "mp4a.40.2");
    let media = medias(&out);
    assert_contiguous(&media);
    let streams = ffprobe(&init.data, &media, "audio");
    assert_eq!(streams.len(), 1);
    assert!((streams[0].1 as f64 - 8.0 * 48_000.0 / 1024.0).abs() <= 2.0, "{streams:?}");
}

#[test]
fn lost_and_truncated_packets_are_dropped_with_a_warning_and_the_rest_plays() {
    let segs = segments("avc-aac");
    let mut seg = segs[0].1.clone();
    // Lose ten packets in the middle; cut the segment mid-packet; garbage between.
    let mid = (seg.len() / 188 / 2) * 188;
    seg.drain(mid..mid + 10 * 188);
    seg.splice(mid..mid, [0x47, 1, 2, 3, 4, 5, 6, 7, 8].iter().copied());
    seg.truncate(seg.len() - 100);
    let mut t = Transmuxer::new();
    let out = transmux(&mut t, &[(0.0, seg), segs[1].clone()], false);
    let w = warnings(&out);
    assert!(w.iter().any(|w| matches!(w, TsWarning::ContinuityError { .. })), "{w:?}");
    assert!(w.iter().any(|w| matches!(w, TsWarning::LostSync { .. })), "{w:?}");
    assert_eq!(medias(&out).len(), 2, "both segments still give a fragment");
}

#[test]
fn garbage_never_panics() {
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let segs = segments("avc-aac");
    for round in 0..200 {
        let mut bytes = segs[round % segs.len()].1.clone();
        for _ in 0..(round % 50 + 1) {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let at = (rng as usize) % bytes.len();
            bytes[at] = (rng >> 32) as u8;
        }
        let mut t = Transmuxer::new();
        let _ = transmux(&mut t, &[(0.0, bytes)], false);
    }
}

#[test]
fn an_unannounced_jump_in_the_clock_is_placed_at_the_playlist_time() {
    let main = segments("avc-aac");
    let other = segments("other");
    let mut t = Transmuxer::new();
    let mut out = transmux(&mut t, &main[..2], false);
    // The other stream (its clock at 1000 s) spliced in without a discontinuity tag.
    out.extend(transmux(&mut t, &[(4.0, other[0].1.clone())], false));
    let media = medias(&out);
    assert!((media[2].video.unwrap().0 - 4.0).abs() < 0.001, "{:?}", media[2].video);
    assert!(media[2].audio.is_some(), "its audio kept (not dropped as before the timeline)");
}

#[test]
fn mp3_audio_is_carried_as_mpeg_audio_in_mp4() {
    let segs = segments("mp3");
    let out = transmux(&mut Transmuxer::new(), &segs, false);
    assert_eq!(warnings(&out), Vec::<&TsWarning>::new());
    let init = inits(&out)[0];
    assert!(init.codecs.ends_with(",mp4a.6B"), "{}", init.codecs);
    let media = medias(&out);
    assert_contiguous(&media);
    let streams = ffprobe(&init.data, &media, "mp3");
    let mp3 = streams.iter().find(|s| s.0 == "mp3").expect("an mp3 stream");
    let frames = 8.0 * 48_000.0 / 1152.0;
    assert!((mp3.1 as f64 - frames).abs() <= 3.0, "every MP3 frame (~{frames}): {streams:?}");
}

#[test]
fn ac3_and_eac3_pass_through_with_their_configuration_boxes() {
    // (codec, codecs suffix, channels: 5.1 made by a pan filter, mono as the source)
    for (name, suffix, channels) in [("ac3", ",ac-3", 6), ("eac3", ",ec-3", 1)] {
        let segs = segments(name);
        let out = transmux(&mut Transmuxer::new(), &segs, false);
        assert_eq!(warnings(&out), Vec::<&TsWarning>::new(), "{name}");
        let init = inits(&out)[0];
        assert!(init.codecs.starts_with("avc1.") && init.codecs.ends_with(suffix), "{name}: {}", init.codecs);
        let media = medias(&out);
        assert_contiguous(&media);
        let streams = ffprobe(&init.data, &media, name);
        let audio = streams.iter().find(|s| s.0 == name).unwrap_or_else(|| panic!("an {name} stream: {streams:?}"));
        let frames = 6.0 * 48_000.0 / 1536.0;
        assert!((audio.1 as f64 - frames).abs() <= 3.0, "every {name} frame (~{frames}): {streams:?}");
        // The channel layout came from the frame header into dac3/dec3.
        assert_eq!(probe_channels(&init.data, &media, name), channels, "{name}");
        let source = Command::new("ffprobe")
            .args(["-v", "error", "-select_streams", "a", "-show_entries", "stream=channels", "-of", "csv=p=0"])
            .arg(self::media(name).join("seg-000.ts"))
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&source.stdout).split(|c: char| !c.is_ascii_digit()).find(|s| !s.is_empty()),
            Some(channels.to_string().as_str()),
            "{name}: the source's own layout"
        );
        // Audio starts with the video: within one frame (32 ms) of the keyframe.
        let (video, audio) = (media[0].video.expect("video"), media[0].audio.expect("audio"));
        assert!((audio.0 - video.0).abs() <= 0.032, "{name} starts at {} s, video at {} s", audio.0, video.0);
    }
}

/// The channels ffprobe reads from our audio sample entry.
fn probe_channels(init: &[u8], fragments: &[&Media], name: &str) -> u64 {
    let path = write_mp4(init, fragments, &format!("ch-{name}"));
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "a", "-show_entries", "stream=channels", "-of", "csv=p=0"])
        .arg(&path)
        .output()
        .expect("ffprobe");
    let _ = std::fs::remove_file(&path);
    let text = String::from_utf8_lossy(&out.stdout);
    text.trim().trim_end_matches(',').parse().unwrap_or_else(|_| panic!("ffprobe channels: {text:?} {}", String::from_utf8_lossy(&out.stderr)))
}

#[test]
fn h265_becomes_hvc1_with_its_parameter_sets_and_codec_string() {
    let segs = segments("hevc");
    let out = transmux(&mut Transmuxer::new(), &segs, false);
    assert_eq!(warnings(&out), Vec::<&TsWarning>::new());
    let init = inits(&out)[0];
    // x265's Main profile: space 0, profile 1, compatibility 0x60000000 reversed = 6, level 60 (2.0).
    assert!(init.codecs.starts_with("hvc1.1.6.L"), "{}", init.codecs);
    assert_eq!(init.size, Some((320, 180)));
    assert!(child(&init.data, &[b"moov", b"trak", b"mdia", b"minf", b"stbl", b"stsd"]).is_some_and(|d| d.windows(4).any(|w| w == b"hvcC")));
    let media = medias(&out);
    assert_contiguous(&media);
    let streams = ffprobe(&init.data, &media, "hevc");
    let video = streams.iter().find(|s| s.0 == "hevc").expect("an hevc stream");
    assert_eq!(video.1, 8 * 24, "every frame decodes: {streams:?}");
}

/// A real segment whose PMT gains a timed-ID3 stream (type 0x15, PID
/// 0x1ff), and one ID3 PES on it 1 s after the segment's first video frame.
#[test]
fn timed_id3_comes_out_at_its_presentation_time() {
    let seg = segments("avc-aac")[0].1.clone();
    let pid = |p: &[u8]| u16::from(p[1] & 0x1f) << 8 | u16::from(p[2]);
    let pmt_pid = {
        let pat = seg.chunks(188).find(|p| pid(p) == 0).unwrap();
        u16::from(pat[15] & 0x1f) << 8 | u16::from(pat[16])
    };
    let mut packets: Vec<Vec<u8>> = seg.chunks(188).map(<[u8]>::to_vec).collect();
    // The PMT: its section gets one more elementary stream entry.
    let pmt = packets.iter_mut().find(|p| pid(p) == pmt_pid).unwrap();
    let len = usize::from(u16::from(pmt[6] & 0x0f) << 8 | u16::from(pmt[7]));
    let end = 5 + 3 + len - 4; // where the CRC starts
    pmt.splice(end..end, [0x15, 0xe1, 0xff, 0xf0, 0x00]);
    pmt.truncate(188);
    let len = len + 5;
    pmt[6] = (pmt[6] & 0xf0) | (len >> 8) as u8;
    pmt[7] = len as u8;
    // The ID3 PES: "ID3" tag bytes, PTS = 1.4 s (ffmpeg's start) + 1 s.
    let pts: u64 = 90_000 * 24 / 10;
    let id3 = b"ID3\x04\x00\x00\x00\x00\x00\x0aTXXX\x00\x00\x00\x00\x00\x00";
    let mut pes = vec![0, 0, 1, 0xbd, 0, (8 + id3.len()) as u8, 0x84, 0x80, 5];
    pes.extend_from_slice(&[
        0x21 | ((pts >> 29) & 0x0e) as u8,
        (pts >> 22) as u8,
        0x01 | ((pts >> 14) & 0xfe) as u8,
        (pts >> 7) as u8,
        0x01 | ((pts << 1) & 0xfe) as u8,
    ]);
    pes.extend_from_slice(id3);
    let mut packet = vec![0x47, 0x41, 0xff, 0x30, (183 - pes.len()) as u8, 0];
    packet.resize(188 - pes.len(), 0xff);
    packet.extend_from_slice(&pes);
    packets.insert(10, packet);
    let out = transmux(&mut Transmuxer::new(), &[(0.0, packets.concat())], false);
    let events: Vec<_> = out.iter().filter_map(|o| if let TransmuxOutput::Id3 { time, data } = o { Some((*time, data.clone())) } else { None }).collect();
    assert_eq!(events.len(), 1, "{out:?}");
    // The presentation starts at the first video frame, as ffprobe reads it.
    let probe = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v", "-show_entries", "stream=start_time", "-of", "csv=p=0"])
        .arg(media("avc-aac").join("seg-000.ts"))
        .output()
        .unwrap();
    let first: f64 = String::from_utf8(probe.stdout).unwrap().split_whitespace().next().unwrap().parse().unwrap();
    let want = 2.4 - first;
    assert!((events[0].0 - want).abs() < 0.001, "{want} s into the presentation: {}", events[0].0);
    assert_eq!(events[0].1, id3.to_vec());
}

use crate::ts::cea608::odd;

/// An H.264 SEI NAL carrying one field-1 pair (and field-2 padding), ATSC A/53 style.
fn cc_sei(pair: [u8; 2]) -> Vec<u8> {
    let payload = [0xb5, 0x00, 0x31, b'G', b'A', b'9', b'4', 0x03, 0x40 | 2, 0xff, 0xfc, pair[0], pair[1], 0xf9, 0x80, 0x80, 0xff];
    let mut nal = vec![0, 0, 0, 1, 0x06, 0x04, payload.len() as u8];
    nal.extend_from_slice(&payload);
    nal.push(0x80);
    nal
}

/// Captions a broadcaster would send, one pair a frame at 24 fps: two
/// pop-on captions, then roll-up. Each control code twice.
fn caption_script() -> Vec<[u8; 2]> {
    let mut frames = vec![[0x80, 0x80]; 8 * 24];
    let mut at = |frame: usize, pairs: &[[u8; 2]]| {
        for (i, p) in pairs.iter().enumerate() {
            frames[frame + i] = [odd(p[0]), odd(p[1])];
        }
    };
    let text = |s: &str| s.as_bytes().chunks(2).map(|c| [c[0], *c.get(1).unwrap_or(&0)]).collect::<Vec<_>>();
    let pop = |row_pac: [u8; 2], words: &str| [&[[0x14, 0x20], [0x14, 0x20], row_pac, row_pac][..], &text(words)].concat();
    // Loaded from frame 4, shown at frame 24 (1 s), erased at frame 72 (3 s).
    at(4, &pop([0x14, 0x70], "HELLO FROM TS"));
    at(24, &[[0x14, 0x2f], [0x14, 0x2f]]);
    at(72, &[[0x14, 0x2c], [0x14, 0x2c]]);
    // The second, on two rows, shown at 4 s until the roll-up starts.
    at(76, &[&pop([0x13, 0x70], "SECOND LINE ONE")[..], &[[0x14, 0x70], [0x14, 0x70]], &text("AND TWO")].concat());
    at(96, &[[0x14, 0x2f], [0x14, 0x2f]]);
    // Roll-up, two rows, from 5 s: a row finished at 6 s, another at 7 s.
    at(120, &[&[[0x14, 0x2c], [0x14, 0x2c], [0x14, 0x25], [0x14, 0x25], [0x14, 0x70], [0x14, 0x70]][..], &text("ROLLING")].concat());
    at(144, &[[0x14, 0x2d], [0x14, 0x2d]]);
    at(150, &text("ALONG"));
    at(168, &[[0x14, 0x2d], [0x14, 0x2d]]);
    at(186, &[[0x14, 0x2c], [0x14, 0x2c]]);
    frames
}

/// The cues of an SRT file: (start, end, text).
fn srt(text: &str) -> Vec<(f64, f64, String)> {
    let time = |t: &str| {
        let (hms, ms) = t.trim().split_once(',').unwrap();
        let p: Vec<f64> = hms.split(':').map(|x| x.parse().unwrap()).collect();
        p[0] * 3600.0 + p[1] * 60.0 + p[2] + ms.parse::<f64>().unwrap() / 1000.0
    };
    text.replace('\r', "")
        .split("\n\n")
        .filter_map(|block| {
            let mut lines = block.lines().skip_while(|l| l.trim().is_empty());
            lines.next()?;
            let (a, b) = lines.next()?.split_once("-->")?;
            Some((time(a), time(b), lines.collect::<Vec<_>>().join("\n")))
        })
        .collect()
}

#[test]
fn cea608_captions_in_h264_sei_become_the_cues_ffmpeg_reads_from_the_same_stream() {
    let source = std::fs::read(media("cc").join("source.h264")).unwrap();
    // Split at access unit delimiters; after each AUD, the frame's caption SEI.
    let starts: Vec<usize> = (0..source.len().saturating_sub(4))
        .filter(|&i| source[i..i + 4] == [0, 0, 1, 0x09] && (i == 0 || source[i - 1] == 0))
        .map(|i| i.saturating_sub(1))
        .collect();
    let script = caption_script();
    assert!(starts.len() >= script.len(), "{} access units", starts.len());
    let mut stream = Vec::new();
    for (k, &s) in starts.iter().enumerate() {
        let end = starts.get(k + 1).copied().unwrap_or(source.len());
        let au = &source[s..end];
        let aud_end = 4 + 2; // 00 00 00 01 09 xx
        stream.extend_from_slice(&au[..aud_end]);
        stream.extend_from_slice(&cc_sei(*script.get(k).unwrap_or(&[0x80, 0x80])));
        stream.extend_from_slice(&au[aud_end..]);
    }
    let dir = std::env::temp_dir().join(format!("wt-cc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("cc.h264"), &stream).unwrap();
    let ok = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y", "-r", "24", "-i", "cc.h264", "-c:v", "copy", "-f", "mpegts", "cc.ts"])
        .current_dir(&dir)
        .status()
        .unwrap();
    assert!(ok.success(), "ffmpeg muxed our captioned H.264 to TS");
    // ffmpeg's own CEA-608 decoder (ccaption) on the same TS, as SRT.
    let reference = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "movie=cc.ts[out0+subcc]", "-map", "0:s", "-f", "srt", "-"])
        .current_dir(&dir)
        .output()
        .unwrap();
    let ts = std::fs::read(dir.join("cc.ts")).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(reference.status.success(), "ffmpeg's decoder: {}", String::from_utf8_lossy(&reference.stderr));
    let theirs = srt(&String::from_utf8_lossy(&reference.stdout));

    let out = transmux(&mut Transmuxer::new(), &[(0.0, ts)], false);
    let ours: Vec<&cea608::Cue> = out.iter().filter_map(|o| if let TransmuxOutput::Caption(c) = o { Some(c) } else { None }).collect();
    println!("ours: {ours:?}\nffmpeg: {theirs:?}");
    // Ours, as scripted (the first frame presents at 0).
    let texts: Vec<&str> = ours.iter().map(|c| c.text.as_str()).collect();
    assert_eq!(texts, ["HELLO FROM TS", "SECOND LINE ONE\nAND TWO", "ROLLING", "ROLLING\nALONG", "ALONG"]);
    let frame = 1.0 / 24.0;
    for (cue, (start, end)) in ours.iter().zip([(1.0, 3.0), (4.0, 5.0), (5.0, 6.0), (6.0, 7.0), (7.0, 7.75)]) {
        assert!((cue.start - start).abs() < frame && (cue.end - end).abs() < frame, "{cue:?}: {start}–{end} s");
    }
    // ffmpeg's decoder (ccaption) reads the same cues from the same TS: the
    // same text and times (its clock starts where the TS does: compared by offset).
    let plain = |t: &str| {
        let t = t.replace("\\N", "\n").replace("{\\an7}", "");
        t.strip_prefix("<font face=\"Monospace\">").and_then(|t| t.strip_suffix("</font>")).map(str::to_string).unwrap_or(t)
    };
    assert_eq!(theirs.iter().map(|c| plain(&c.2)).collect::<Vec<_>>(), texts, "{theirs:?}");
    let shift = theirs[0].0 - ours[0].start;
    for (o, t) in ours.iter().zip(&theirs) {
        assert!((t.0 - shift - o.start).abs() < frame * 1.5 && (t.1 - shift - o.end).abs() < frame * 1.5, "ours {o:?} vs ffmpeg {t:?} (shifted {shift})");
    }
}

#[test]
fn a_segment_stuffed_with_caption_data_is_cut_with_a_warning() {
    // Paint-on, then ten thousand character pairs at one time: past the
    // bound the rest is ignored and said so, not turned into events.
    let mut pairs = vec![(0, [odd(0x14), odd(0x29)]), (0, [odd(0x14), odd(0x70)])];
    pairs.extend((0..10_000).map(|i| (i, [odd(b'A'), odd(b'B')])));
    let mut t = Transmuxer::new();
    t.handle_captions(pairs, |pts| pts as f64 / 90_000.0);
    let out: Vec<TransmuxOutput> = std::iter::from_fn(|| t.poll_output()).collect();
    assert!(out.iter().any(|o| matches!(o, TransmuxOutput::Warning(TsWarning::CaptionsCut { kept: 4096 }))), "{} outputs", out.len());
    let cues = out.iter().filter(|o| matches!(o, TransmuxOutput::Caption(_))).count();
    assert!(cues < 4096, "{cues} caption events");
}
