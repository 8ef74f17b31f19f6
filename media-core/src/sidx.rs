//! The ISO-BMFF segment index (`sidx`, ISO/IEC 14496-12 §8.16.3) of on-demand DASH files.
//!
//! A DASH `SegmentBase indexRange="a-b"` points at a `sidx` box. An ISO-BMFF file is a flat
//! sequence of boxes, each `size:u32 type:[u8;4]` (size 1: a `largesize:u64` follows; size 0:
//! the box runs to the end of the data). The `sidx` body is a FullBox:
//!
//! ```text
//! version:u8 flags:u24 reference_ID:u32 timescale:u32
//! earliest_presentation_time, first_offset: u32 each (version 0) or u64 each (version 1)
//! reserved:u16 reference_count:u16
//! reference_count × { reference_type:1 referenced_size:31  subsegment_duration:u32
//!                     starts_with_SAP:1 SAP_type:3 SAP_delta_time:28 }
//! ```
//!
//! Offsets are anchored at the first byte after the `sidx` box: reference 0 starts
//! `first_offset` bytes after it and each next one right after the previous one. Only flat
//! indexes are supported (references to media); a reference to another `sidx` (hierarchical
//! index) is reported as [`IndexError::Unsupported`].
//!
//! Every input is treated as hostile: all reads are bounds-checked, all arithmetic is checked,
//! and nothing is allocated from a count before the data is known to hold it.

use std::fmt;

/// One indexed segment (subsegment) of an on-demand file.
#[derive(Clone, Debug, PartialEq)]
pub struct IndexedSegment {
    /// Absolute byte offset of the segment in the file.
    pub offset: u64,
    /// Its size in bytes (0 in a WebM index means "to the end of the file", see [`crate::webm`]).
    pub size: u64,
    /// Presentation start in seconds (earliest_presentation_time + sum of previous durations,
    /// / timescale). The caller subtracts presentationTimeOffset.
    pub start: f64,
    /// Duration in seconds.
    pub duration: f64,
    /// Start in timescale units, and the timescale (for exact arithmetic by callers).
    pub start_ticks: u64,
    /// Ticks per second of `start_ticks`.
    pub timescale: u32,
}

/// Why an index could not be read.
#[derive(Clone, Debug, PartialEq)]
pub enum IndexError {
    /// The data ends before the structure it announces (fetch more bytes).
    Truncated,
    /// The data was read to the end without finding the index.
    NotFound,
    /// The data contradicts the format.
    Malformed(&'static str),
    /// Valid but not handled here (e.g. a hierarchical `sidx`).
    Unsupported(&'static str),
    /// More than [`MAX_INDEX_ENTRIES`] entries.
    TooMany,
}

impl fmt::Display for IndexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Truncated => f.write_str("segment index truncated"),
            Self::NotFound => f.write_str("segment index not found"),
            Self::Malformed(what) => write!(f, "malformed segment index: {what}"),
            Self::Unsupported(what) => write!(f, "unsupported segment index: {what}"),
            Self::TooMany => write!(f, "segment index has more than {MAX_INDEX_ENTRIES} entries"),
        }
    }
}

impl std::error::Error for IndexError {}

/// The most entries an index may have.
pub const MAX_INDEX_ENTRIES: usize = 100_000;

/// A big-endian reader that never reads out of bounds: a short read is [`IndexError::Truncated`].
struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], IndexError> {
        let end = self.pos.checked_add(n).ok_or(IndexError::Truncated)?;
        let bytes = self.data.get(self.pos..end).ok_or(IndexError::Truncated)?;
        self.pos = end;
        Ok(bytes)
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], IndexError> {
        <[u8; N]>::try_from(self.take(N)?).map_err(|_| IndexError::Truncated)
    }
    fn u8(&mut self) -> Result<u8, IndexError> {
        Ok(self.array::<1>()?[0])
    }
    fn u16(&mut self) -> Result<u16, IndexError> {
        self.array().map(u16::from_be_bytes)
    }
    fn u32(&mut self) -> Result<u32, IndexError> {
        self.array().map(u32::from_be_bytes)
    }
    fn u64(&mut self) -> Result<u64, IndexError> {
        self.array().map(u64::from_be_bytes)
    }
    fn remaining(&self) -> usize {
        self.data.len().saturating_sub(self.pos)
    }
}

/// Reads the box header at `pos`: its type, the position of its body and the position just past
/// its end. A box that does not fit in `data` is [`IndexError::Truncated`].
fn box_at(data: &[u8], pos: usize) -> Result<([u8; 4], usize, usize), IndexError> {
    let mut c = Cursor { data, pos };
    let size = c.u32()?;
    let typ = c.array::<4>()?;
    let size = match size {
        0 => data.len().saturating_sub(pos) as u64,
        1 => c.u64()?,
        n => u64::from(n),
    };
    let header_len = c.pos.saturating_sub(pos);
    if size < header_len as u64 {
        return Err(IndexError::Malformed("box size smaller than its header"));
    }
    let end = usize::try_from(size).ok().and_then(|size| pos.checked_add(size)).filter(|&end| end <= data.len()).ok_or(IndexError::Truncated)?;
    Ok((typ, c.pos, end))
}

/// Parses the first `sidx` box of `data` into the list of segments it indexes.
///
/// `data` are the bytes fetched from the file starting at absolute offset `data_offset`
/// (usually exactly the indexRange). Top-level boxes before the `sidx` (`styp`, `free`, or a
/// whole file prefix with `ftyp`/`moov`) are skipped; they must lie entirely in `data`, or the
/// result is [`IndexError::Truncated`]. Versions 0 and 1 are supported. A reference_count larger
/// than the box (or the data) can hold is [`IndexError::Truncated`]; a timescale of 0 is
/// malformed; a reference to another `sidx` is `Unsupported("hierarchical sidx")`.
pub fn parse_sidx(data: &[u8], data_offset: u64) -> Result<Vec<IndexedSegment>, IndexError> {
    let mut pos = 0;
    while pos < data.len() {
        let (typ, body, end) = box_at(data, pos)?;
        if &typ == b"sidx" {
            let anchor = data_offset.checked_add(end as u64).ok_or(IndexError::Malformed("offset overflow"))?;
            return parse_sidx_body(data.get(body..end).ok_or(IndexError::Truncated)?, anchor);
        }
        pos = end;
    }
    Err(IndexError::NotFound)
}

/// Parses a `sidx` body (after the box header); `anchor` is the absolute offset just past the box.
fn parse_sidx_body(body: &[u8], anchor: u64) -> Result<Vec<IndexedSegment>, IndexError> {
    let overflow = IndexError::Malformed("offset overflow");
    let mut c = Cursor { data: body, pos: 0 };
    let version = c.u8()?;
    if version > 1 {
        return Err(IndexError::Unsupported("sidx version"));
    }
    c.take(3)?; // flags
    c.u32()?; // reference_ID
    let timescale = c.u32()?;
    if timescale == 0 {
        return Err(IndexError::Malformed("timescale 0"));
    }
    let (earliest, first_offset) = if version == 0 { (u64::from(c.u32()?), u64::from(c.u32()?)) } else { (c.u64()?, c.u64()?) };
    c.u16()?; // reserved
              // A u16: at most 65 535 entries, inside MAX_INDEX_ENTRIES by construction.
    let count = usize::from(c.u16()?);
    if count.saturating_mul(12) > c.remaining() {
        return Err(IndexError::Truncated);
    }
    let mut segments = Vec::with_capacity(count);
    let mut offset = anchor.checked_add(first_offset).ok_or(overflow.clone())?;
    let mut ticks = earliest;
    let scale = f64::from(timescale);
    for _ in 0..count {
        let reference = c.u32()?;
        let duration = c.u32()?;
        c.u32()?; // SAP fields
        if reference >> 31 == 1 {
            return Err(IndexError::Unsupported("hierarchical sidx"));
        }
        let size = u64::from(reference & 0x7FFF_FFFF);
        segments.push(IndexedSegment { offset, size, start: ticks as f64 / scale, duration: f64::from(duration) / scale, start_ticks: ticks, timescale });
        offset = offset.checked_add(size).ok_or(overflow.clone())?;
        ticks = ticks.checked_add(u64::from(duration)).ok_or(overflow.clone())?;
    }
    Ok(segments)
}

#[cfg(test)]
mod tests;
