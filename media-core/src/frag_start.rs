//! Where an fMP4 media segment starts on its own timeline: the earliest
//! `tfdt` (decode time of a track's first sample) of its first `moof`, in
//! seconds by the init segment's timescales.
//!
//! HLS lists a segment's place (the sum of the `EXTINF`s before it), not
//! its timestamps; the engine reads one segment's start to learn how far
//! the media's timeline is from the listed one, and appends with that one
//! offset while it holds (see `schedule`), so consecutive segments stay
//! exactly as contiguous as the media is (MSE "sequence" mode, placing each
//! segment at its listed start, leaves a hole at every boundary where the
//! tracks do not end together: measured in all three engines).
//!
//! Only the head of a segment is needed: [`HEAD_BYTES`] holds the boxes
//! before `mdat` of any segment a packager writes.

use crate::mp4box::{boxes, child, decode_time, timescale, track_id, traf_track_id};

/// How much of a media segment's start [`start`] reads.
pub const HEAD_BYTES: usize = 64 * 1024;

/// The `(track id, timescale)` of each track of an init segment (`moov/trak`).
pub fn timescales(init: &[u8]) -> Vec<(u32, u32)> {
    let Some(moov) = child(init, b"moov") else { return Vec::new() };
    boxes(moov).filter(|b| &b.kind == b"trak").filter_map(|t| Some((track_id(t.body)?, timescale(t.body).filter(|&s| s > 0)?))).collect()
}

/// The earliest decode time, in seconds, of the tracks in the first `moof`
/// of `segment` (other boxes before it — `styp`, `sidx`, `prft`, `emsg` —
/// are skipped); None without a `moof`, or without a `traf` whose track
/// has a timescale and a `tfdt`.
pub fn start(timescales: &[(u32, u32)], segment: &[u8]) -> Option<f64> {
    let moof = boxes(segment).find(|b| &b.kind == b"moof")?;
    boxes(moof.body)
        .filter(|b| &b.kind == b"traf")
        .filter_map(|traf| {
            let id = traf_track_id(traf.body)?;
            let &(_, scale) = timescales.iter().find(|(t, _)| *t == id)?;
            Some(decode_time(traf.body)? as f64 / f64::from(scale))
        })
        .reduce(f64::min)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fmp4::{fragment, init_segment, Run, Sample, SampleEntry, Track};

    fn tracks() -> Vec<Track> {
        vec![
            Track { id: 1, timescale: 90_000, entry: SampleEntry::Avc { avcc: vec![1, 0x64, 0, 0x1e, 0xff, 0xe0, 0x01, 0x00], width: 320, height: 180 } },
            Track { id: 2, timescale: 48_000, entry: SampleEntry::Mp4a { object_type: 0x40, config: vec![0x11, 0x90], channels: 2, sample_rate: 48_000 } },
        ]
    }

    fn run(track: u32, base_time: u64) -> Run {
        Run { track, base_time, samples: vec![Sample { duration: 1024, size: 4, keyframe: true, cts: 0 }], data: vec![0; 4] }
    }

    #[test]
    fn the_earliest_track_of_the_first_moof_in_seconds() {
        let ts = timescales(&init_segment(&tracks()));
        assert_eq!(ts, vec![(1, 90_000), (2, 48_000)]);
        // Video at 20.5 s, audio at 20.48 s: the audio starts the segment.
        let mut seg = b"\0\0\0\x10stypmsdh\0\0\0\0".to_vec();
        seg.extend(fragment(7, &[run(1, 20 * 90_000 + 45_000), run(2, 20 * 48_000 + 23_040)]));
        // A second moof later in the same bytes does not count.
        seg.extend(fragment(8, &[run(2, 0)]));
        assert_eq!(start(&ts, &seg), Some(20.48));
    }

    #[test]
    fn unknown_tracks_truncation_and_garbage_give_none() {
        let ts = timescales(&init_segment(&tracks()));
        let seg = fragment(1, &[run(3, 1000)]);
        assert_eq!(start(&ts, &seg), None, "a track the init segment lacks");
        let seg = fragment(1, &[run(1, 90_000)]);
        for n in 0..seg.len() {
            let _ = start(&ts, &seg[..n]);
        }
        assert_eq!(start(&ts, &seg[..seg.len() - 4]), Some(1.0), "the head is enough (mdat cut)");
        assert_eq!(start(&[], &seg), None);
        assert_eq!(timescales(b"not an mp4 at all"), Vec::new());
        assert_eq!(start(&ts, &[0xff; 64]), None);
    }
}
