//! ISO BMFF boxes read off a byte slice: the box walk and big-endian
//! fields the fMP4 readers share (text tracks, fragment start times).
//! Every size is checked against the bytes; a box that does not fit ends
//! the walk; nothing here recurses.

/// A box: its type, where it starts in the buffer walked, its payload.
pub(crate) struct Mp4Box<'a> {
    pub(crate) kind: [u8; 4],
    pub(crate) start: usize,
    pub(crate) body: &'a [u8],
}

/// The boxes of a buffer in order; ends at the first one that does not fit.
pub(crate) struct Boxes<'a> {
    rest: &'a [u8],
    /// Where `rest` starts in the buffer.
    at: usize,
}

pub(crate) fn boxes(buf: &[u8]) -> Boxes<'_> {
    Boxes { rest: buf, at: 0 }
}

impl<'a> Iterator for Boxes<'a> {
    type Item = Mp4Box<'a>;

    fn next(&mut self) -> Option<Mp4Box<'a>> {
        let mut c = Cursor::new(self.rest);
        let size = c.u32()?;
        let kind = c.fourcc()?;
        let size = match size {
            0 => Some(self.rest.len()),
            1 => c.u64().and_then(|s| usize::try_from(s).ok()),
            n => usize::try_from(n).ok(),
        };
        let Some((size, body)) = size.and_then(|size| Some((size, self.rest.get(c.at..size)?))) else {
            self.rest = &[];
            return None;
        };
        let start = self.at;
        self.rest = self.rest.get(size..).unwrap_or(&[]);
        self.at = start.saturating_add(size);
        Some(Mp4Box { kind, start, body })
    }
}

/// The payload of the first `kind` box among `boxes`.
pub(crate) fn child<'a>(buf: &'a [u8], kind: &[u8; 4]) -> Option<&'a [u8]> {
    boxes(buf).find(|b| &b.kind == kind).map(|b| b.body)
}

pub(crate) fn path<'a>(mut buf: &'a [u8], kinds: &[&[u8; 4]]) -> Option<&'a [u8]> {
    for kind in kinds {
        buf = child(buf, kind)?;
    }
    Some(buf)
}

/// Big-endian fields read off a slice, `None` past its end.
#[derive(Clone, Copy)]
pub(crate) struct Cursor<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(b: &'a [u8]) -> Cursor<'a> {
        Cursor { b, at: 0 }
    }

    pub(crate) fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let end = self.at.checked_add(N)?;
        let bytes = self.b.get(self.at..end)?.try_into().ok()?;
        self.at = end;
        Some(bytes)
    }

    pub(crate) fn u32(&mut self) -> Option<u32> {
        self.take().map(u32::from_be_bytes)
    }

    pub(crate) fn u64(&mut self) -> Option<u64> {
        self.take().map(u64::from_be_bytes)
    }

    pub(crate) fn fourcc(&mut self) -> Option<[u8; 4]> {
        self.take()
    }

    pub(crate) fn skip(mut self, n: usize) -> Option<Cursor<'a>> {
        self.at = self.at.checked_add(n).filter(|&e| e <= self.b.len())?;
        Some(self)
    }

    /// A full box header: the version, and the cursor past the flags.
    pub(crate) fn full_box(mut self) -> Option<(u8, Cursor<'a>)> {
        let [version, ..] = self.take::<4>()?;
        Some((version, self))
    }

    pub(crate) fn remaining(&self) -> usize {
        self.b.len().saturating_sub(self.at)
    }
}

/// A `trak`'s `tkhd` track id.
pub(crate) fn track_id(trak: &[u8]) -> Option<u32> {
    child(trak, b"tkhd").and_then(|t| Cursor::new(t).full_box().and_then(|(v, c)| c.skip(if v == 1 { 16 } else { 8 })?.u32()))
}

/// A `trak`'s `mdhd` timescale (ticks a second; may be 0, which callers refuse).
pub(crate) fn timescale(trak: &[u8]) -> Option<u32> {
    path(trak, &[b"mdia", b"mdhd"]).and_then(|m| Cursor::new(m).full_box().and_then(|(v, c)| c.skip(if v == 1 { 16 } else { 8 })?.u32()))
}

/// A `traf`'s `tfdt`: the decode time of its first sample, in its track's timescale.
pub(crate) fn decode_time(traf: &[u8]) -> Option<u64> {
    let (version, mut c) = Cursor::new(child(traf, b"tfdt")?).full_box()?;
    if version == 1 {
        c.u64()
    } else {
        c.u32().map(u64::from)
    }
}

/// The track id a `traf`'s `tfhd` names.
pub(crate) fn traf_track_id(traf: &[u8]) -> Option<u32> {
    child(traf, b"tfhd").and_then(|t| Cursor::new(t).skip(4)?.u32())
}
