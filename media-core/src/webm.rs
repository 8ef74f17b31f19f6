//! The segment index of on-demand WebM (Matroska) DASH files: the `Cues` element.
//!
//! Matroska is EBML: a tree of elements, each `ID size data`. The ID is a 1–4 byte vint kept
//! with its length marker (the count of leading zero bits of the first byte gives the width:
//! `0x1A45DFA3` is 4 bytes). The size is a 1–8 byte vint with the marker bit removed; all value
//! bits set means "unknown size" (allowed for `Segment` and `Cluster` only, whose end is then
//! found by reading on). Integers are big-endian of 0–8 bytes, floats 4 or 8 bytes.
//!
//! ```text
//! EBML header 1A45DFA3
//! Segment 18538067                 <- CueClusterPosition is relative to its data start
//!   SeekHead, Void, ...
//!   Info 1549A966                  TimecodeScale 2AD7B1 (ns, default 1 ms), Duration 4489 (float)
//!   Tracks, ...                    <- end of the DASH Initialization range
//!   Cues 1C53BB6B                  <- the DASH indexRange (before or after the clusters)
//!     CuePoint BB                  CueTime B3 (TimecodeScale units)
//!       CueTrackPositions B7       CueTrack F7, CueClusterPosition F1
//!   Cluster 1F43B675 ...           <- the segments
//! ```
//!
//! [`parse_webm_init`] reads the Segment's data offset and the Info; [`parse_cues`] turns the
//! Cues into [`IndexedSegment`]s (one per distinct cluster position of the chosen track).
//! Every input is hostile: reads are bounds-checked, arithmetic checked, and walks are flat
//! loops (no recursion on input depth).

use crate::sidx::{IndexError, IndexedSegment, MAX_INDEX_ENTRIES};

/// What a DASH player needs from the WebM initialization bytes.
#[derive(Clone, Debug, PartialEq)]
pub struct WebmInfo {
    /// Absolute byte offset where the Segment element's data starts (CueClusterPosition is
    /// relative to this).
    pub segment_data_offset: u64,
    /// Info/TimecodeScale in ns (default 1_000_000).
    pub timecode_scale_ns: u64,
    /// Info/Duration in seconds (Duration is a float in TimecodeScale units), if present
    /// (a negative or non-finite Duration is treated as absent).
    pub duration: Option<f64>,
}

const EBML: u32 = 0x1A45_DFA3;
const SEGMENT: u32 = 0x1853_8067;
const CLUSTER: u32 = 0x1F43_B675;
const INFO: u32 = 0x1549_A966;
const TIMECODE_SCALE: u32 = 0x2A_D7B1;
const DURATION: u32 = 0x4489;
const CUES: u32 = 0x1C53_BB6B;
const CUE_POINT: u32 = 0xBB;
const CUE_TIME: u32 = 0xB3;
const CUE_TRACK_POSITIONS: u32 = 0xB7;
const CUE_TRACK: u32 = 0xF7;
const CUE_CLUSTER_POSITION: u32 = 0xF1;

/// Reads the element ID at `pos`: (ID with its marker, width).
fn read_id(data: &[u8], pos: usize) -> Result<(u32, usize), IndexError> {
    let first = *data.get(pos).ok_or(IndexError::Truncated)?;
    let width = first.leading_zeros() as usize + 1;
    if width > 4 {
        return Err(IndexError::Malformed("element ID longer than 4 bytes"));
    }
    let bytes = data.get(pos..pos.saturating_add(width)).ok_or(IndexError::Truncated)?;
    Ok((bytes.iter().fold(0, |id, &b| (id << 8) | u32::from(b)), width))
}

/// Reads the element size at `pos`: (size, None if unknown; width).
fn read_size(data: &[u8], pos: usize) -> Result<(Option<u64>, usize), IndexError> {
    let first = *data.get(pos).ok_or(IndexError::Truncated)?;
    if first == 0 {
        return Err(IndexError::Malformed("element size longer than 8 bytes"));
    }
    let width = first.leading_zeros() as usize + 1;
    let bytes = data.get(pos..pos.saturating_add(width)).ok_or(IndexError::Truncated)?;
    let marker_free = u64::from(first) & (0xFFu64 >> width);
    let value = bytes.iter().skip(1).fold(marker_free, |v, &b| (v << 8) | u64::from(b));
    let unknown = (1u64 << (7 * width)) - 1;
    Ok(((value != unknown).then_some(value), width))
}

/// An element header: ID, position of its first data byte, size (None: unknown).
struct Header {
    id: u32,
    data_start: usize,
    size: Option<u64>,
}

fn header(data: &[u8], pos: usize) -> Result<Header, IndexError> {
    let (id, id_width) = read_id(data, pos)?;
    let size_at = pos.saturating_add(id_width);
    let (size, size_width) = read_size(data, size_at)?;
    Ok(Header { id, data_start: size_at.saturating_add(size_width), size })
}

impl Header {
    /// The element's data within `data`: unknown sizes are malformed, overruns truncated.
    fn body<'a>(&self, data: &'a [u8]) -> Result<&'a [u8], IndexError> {
        let size = self.size.ok_or(IndexError::Malformed("unknown size"))?;
        usize::try_from(size)
            .ok()
            .and_then(|size| self.data_start.checked_add(size))
            .and_then(|end| data.get(self.data_start..end))
            .ok_or(IndexError::Truncated)
    }
}

/// The children of a master element's data, as (ID, data); stops after the first error.
struct Children<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for Children<'a> {
    type Item = Result<(u32, &'a [u8]), IndexError>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.data.len() {
            return None;
        }
        let child = header(self.data, self.pos).and_then(|h| Ok((h.id, h.body(self.data)?, h.data_start)));
        match child {
            Ok((id, body, start)) => {
                self.pos = start + body.len();
                Some(Ok((id, body)))
            }
            Err(e) => {
                self.pos = self.data.len();
                Some(Err(e))
            }
        }
    }
}

fn children(data: &[u8]) -> Children<'_> {
    Children { data, pos: 0 }
}

/// An unsigned integer element (0–8 bytes; empty means 0).
fn uint(body: &[u8]) -> Result<u64, IndexError> {
    if body.len() > 8 {
        return Err(IndexError::Malformed("integer longer than 8 bytes"));
    }
    Ok(body.iter().fold(0, |v, &b| (v << 8) | u64::from(b)))
}

/// A float element (0, 4 or 8 bytes).
fn float(body: &[u8]) -> Result<f64, IndexError> {
    if let Ok(b) = <[u8; 8]>::try_from(body) {
        Ok(f64::from_be_bytes(b))
    } else if let Ok(b) = <[u8; 4]>::try_from(body) {
        Ok(f64::from(f32::from_be_bytes(b)))
    } else if body.is_empty() {
        Ok(0.0)
    } else {
        Err(IndexError::Malformed("float size"))
    }
}

/// Walks `data` flat, stepping *into* every Segment and unknown-size Cluster (their children
/// follow their header) and over every other element, until `want` is found. Returns the
/// absolute-in-`data` position of the found element's header, the element, and the data start
/// of the first Segment seen (if any, and if seen before the element).
fn find(data: &[u8], want: u32) -> Result<(usize, Header, Option<usize>), IndexError> {
    let mut pos = 0;
    let mut segment: Option<(usize, Option<u64>)> = None;
    while pos < data.len() {
        let h = header(data, pos)?;
        if h.id == want {
            return Ok((pos, h, segment.map(|s| s.0)));
        }
        match (h.id, h.size) {
            (SEGMENT, size) => {
                segment.get_or_insert((h.data_start, size));
                pos = h.data_start;
            }
            (CLUSTER, None) => pos = h.data_start,
            _ => pos = h.data_start.saturating_add(h.body(data)?.len()),
        }
    }
    // Out of data: truncated if the Segment goes on past it, else the element is not there.
    let segment_goes_on = segment.is_some_and(|(start, size)| {
        size.is_none_or(|size| (start as u64).saturating_add(size) > data.len() as u64)
    });
    Err(if segment_goes_on { IndexError::Truncated } else { IndexError::NotFound })
}

/// Parses the WebM initialization bytes, fetched from absolute offset `data_offset` (usually 0):
/// the EBML header, then the Segment header (unknown size allowed) and, inside it, the Info
/// element (TimecodeScale, Duration). Elements before Info (SeekHead, Void, ...) are skipped and
/// reading stops once Info is read. Data ending before Info is [`IndexError::Truncated`].
pub fn parse_webm_init(data: &[u8], data_offset: u64) -> Result<WebmInfo, IndexError> {
    let first = header(data, 0)?;
    if first.id != EBML {
        return Err(IndexError::Malformed("not an EBML stream"));
    }
    first.body(data)?;
    let (_, info, segment_start) = find(data, INFO)?;
    let segment_start = segment_start.ok_or(IndexError::Malformed("Info outside a Segment"))?;
    let mut scale = 1_000_000;
    let mut duration = None;
    for child in children(info.body(data)?) {
        match child? {
            (TIMECODE_SCALE, body) => scale = uint(body)?,
            (DURATION, body) => duration = Some(float(body)?),
            _ => {}
        }
    }
    if scale == 0 {
        return Err(IndexError::Malformed("TimecodeScale 0"));
    }
    Ok(WebmInfo {
        segment_data_offset: data_offset
            .checked_add(segment_start as u64)
            .ok_or(IndexError::Malformed("offset overflow"))?,
        timecode_scale_ns: scale,
        duration: duration.map(|d| d * scale as f64 / 1e9).filter(|d| d.is_finite() && *d >= 0.0),
    })
}

/// The (CueTrack, CueClusterPosition) of a CueTrackPositions element.
fn track_position(body: &[u8]) -> Result<(u64, u64), IndexError> {
    let (mut track, mut position) = (None, None);
    for child in children(body) {
        match child? {
            (CUE_TRACK, b) => track = Some(uint(b)?),
            (CUE_CLUSTER_POSITION, b) => position = Some(uint(b)?),
            _ => {}
        }
    }
    match (track, position) {
        (Some(t), Some(p)) => Ok((t, p)),
        _ => Err(IndexError::Malformed("CueTrackPositions without CueTrack or CueClusterPosition")),
    }
}

/// Parses the Cues element found in `data` (the indexRange bytes, fetched from absolute offset
/// `data_offset`; leading elements are skipped, and a whole file from offset 0 works too) into
/// one segment per distinct cluster position.
///
/// - Positions are those of `track`, or of the first track seen if `None`; CuePoints without
///   that track are skipped, and consecutive CuePoints pointing at the same cluster (several
///   keyframes in one cluster) are merged, keeping the first time.
/// - Segment i spans from cluster position i to cluster position i+1. The last one ends at the
///   Cues element when the Cues follow it (the usual layout: this is exact even if `file_size`
///   is given, as the Cues and anything after them are not media); when the Cues come before
///   the clusters it ends at `file_size` if given, else its size is 0, meaning "to the end".
/// - Durations come from consecutive CueTimes; the last one is `info.duration` minus its start
///   when known, else 0.
/// - Timing: if `1e9 / timecode_scale_ns` is a whole number, `timescale` is that and
///   `start_ticks` is the CueTime itself (exact; 1000 for the usual 1 ms scale); otherwise
///   `timescale` is 1000 and `start_ticks` is the start in whole milliseconds (rounded down).
///   `start` and `duration` (seconds) are always computed from the CueTimes directly.
pub fn parse_cues(
    data: &[u8],
    data_offset: u64,
    info: &WebmInfo,
    track: Option<u64>,
    file_size: Option<u64>,
) -> Result<Vec<IndexedSegment>, IndexError> {
    let overflow = IndexError::Malformed("offset overflow");
    let scale = info.timecode_scale_ns;
    if scale == 0 {
        return Err(IndexError::Malformed("TimecodeScale 0"));
    }
    let (cues_at, cues, _) = find(data, CUES)?;
    let cues_offset = data_offset.checked_add(cues_at as u64).ok_or(overflow.clone())?;

    // (CueTime, CueClusterPosition) of the chosen track, in order.
    let mut points: Vec<(u64, u64)> = Vec::new();
    let mut chosen = track;
    for point in children(cues.body(data)?) {
        let (CUE_POINT, body) = point? else { continue };
        let (mut time, mut position) = (None, None);
        for child in children(body) {
            match child? {
                (CUE_TIME, b) => time = Some(uint(b)?),
                (CUE_TRACK_POSITIONS, b) if position.is_none() => {
                    let (t, p) = track_position(b)?;
                    if *chosen.get_or_insert(t) == t {
                        position = Some(p);
                    }
                }
                _ => {}
            }
        }
        let Some(position) = position else { continue };
        let time = time.ok_or(IndexError::Malformed("CuePoint without CueTime"))?;
        if let Some(&(last_time, last_position)) = points.last() {
            if time < last_time {
                return Err(IndexError::Malformed("CueTime going backwards"));
            }
            if position < last_position {
                return Err(IndexError::Malformed("CueClusterPosition going backwards"));
            }
            if position == last_position {
                continue;
            }
        }
        if points.len() == MAX_INDEX_ENTRIES {
            return Err(IndexError::TooMany);
        }
        points.push((time, position));
    }
    let Some(&(last_time, last_position)) = points.last() else {
        return Err(IndexError::NotFound);
    };

    let base = info.segment_data_offset;
    let last_offset = base.checked_add(last_position).ok_or(overflow.clone())?;
    let end = if cues_offset > last_offset {
        cues_offset
    } else if let Some(size) = file_size {
        if size < last_offset {
            return Err(IndexError::Malformed("file_size before the last cluster"));
        }
        size
    } else {
        last_offset
    };
    let exact = 1_000_000_000 % scale == 0;
    let timescale = if exact { (1_000_000_000 / scale) as u32 } else { 1000 };
    let seconds = |t: u64| t as f64 * scale as f64 / 1e9;
    let mut segments = Vec::with_capacity(points.len());
    for (i, &(time, position)) in points.iter().enumerate() {
        let offset = base.checked_add(position).ok_or(overflow.clone())?;
        let (next_offset, duration) = match points.get(i + 1) {
            Some(&(next_time, next_position)) => (
                base.checked_add(next_position).ok_or(overflow.clone())?,
                seconds(next_time.saturating_sub(time)),
            ),
            None => (end, info.duration.map_or(0.0, |d| (d - seconds(last_time)).max(0.0))),
        };
        let start_ticks = if exact {
            time
        } else {
            u64::try_from(u128::from(time) * u128::from(scale) / 1_000_000).unwrap_or(u64::MAX)
        };
        segments.push(IndexedSegment {
            offset,
            size: next_offset.saturating_sub(offset),
            start: seconds(time),
            duration,
            start_ticks,
            timescale,
        });
    }
    Ok(segments)
}

#[cfg(test)]
mod tests {
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
        let points = [
            cue_point(0, &[(1, 100), (2, 100)]),
            cue_point(2000, &[(1, 5100), (2, 5000)]),
            cue_point(4000, &[(1, 10100), (2, 10000)]),
        ];
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
        let expected = vec![
            seg(148, 5000, 0.0, 2.0, 0, 1000),
            seg(5148, 5000, 2.0, 2.0, 2000, 1000),
            seg(10148, 9852, 4.0, 2.0, 4000, 1000),
        ];
        let info = info(48, 1_000_000, Some(6.0));
        assert_eq!(parse_cues(&data, 20000, &info, None, None), Ok(expected.clone()));
        assert_eq!(parse_cues(&data, 20000, &info, Some(1), Some(30000)), Ok(expected));
        // Track 2, and no Duration: the last duration is unknown (0).
        let info = WebmInfo { duration: None, ..info };
        assert_eq!(
            parse_cues(&data, 20000, &info, Some(2), None),
            Ok(vec![
                seg(148, 4900, 0.0, 2.0, 0, 1000),
                seg(5048, 5000, 2.0, 2.0, 2000, 1000),
                seg(10048, 9952, 4.0, 0.0, 4000, 1000),
            ])
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
        assert_eq!(
            parse_cues(&data, 60, &info, None, Some(9000)),
            Err(IndexError::Malformed("file_size before the last cluster"))
        );
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
        assert_eq!(
            parse_cues(&backwards, 0, &info, None, None),
            Err(IndexError::Malformed("CueClusterPosition going backwards"))
        );
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
}
