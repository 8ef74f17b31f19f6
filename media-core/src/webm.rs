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
    let segment_goes_on = segment.is_some_and(|(start, size)| size.is_none_or(|size| (start as u64).saturating_add(size) > data.len() as u64));
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
        segment_data_offset: data_offset.checked_add(segment_start as u64).ok_or(IndexError::Malformed("offset overflow"))?,
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
pub fn parse_cues(data: &[u8], data_offset: u64, info: &WebmInfo, track: Option<u64>, file_size: Option<u64>) -> Result<Vec<IndexedSegment>, IndexError> {
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
            Some(&(next_time, next_position)) => (base.checked_add(next_position).ok_or(overflow.clone())?, seconds(next_time.saturating_sub(time))),
            None => (end, info.duration.map_or(0.0, |d| (d - seconds(last_time)).max(0.0))),
        };
        let start_ticks = if exact { time } else { u64::try_from(u128::from(time) * u128::from(scale) / 1_000_000).unwrap_or(u64::MAX) };
        segments.push(IndexedSegment { offset, size: next_offset.saturating_sub(offset), start: seconds(time), duration, start_ticks, timescale });
    }
    Ok(segments)
}

#[cfg(test)]
mod tests;
