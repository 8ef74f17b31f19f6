//! Program-specific information: the PAT names the PMT's PID, the PMT
//! names each elementary stream's PID and type (ISO/IEC 13818-1 §2.4.4).
//! Only sections that fit in one packet are read (PAT and PMT of HLS
//! streams always do).

use super::StreamType;

/// The section a PSI packet's payload carries (after the pointer field),
/// cut to its `section_length`: (table_id, the bytes after the 8-byte
/// header up to the CRC).
fn section(payload: &[u8]) -> Option<(u8, &[u8])> {
    let pointer = usize::from(*payload.first()?);
    let s = payload.get(1 + pointer..)?;
    let table = *s.first()?;
    let len = usize::from(u16::from(*s.get(1)? & 0x0f) << 8 | u16::from(*s.get(2)?));
    // 5 more header bytes after the length, and a 4-byte CRC at the end.
    let body = s.get(8..3 + len.checked_sub(4)?)?;
    Some((table, body))
}

/// The PMT's PID from a PAT: the first program's (HLS carries one).
pub fn pat(payload: &[u8]) -> Option<u16> {
    let (table, body) = section(payload)?;
    if table != 0 {
        return None;
    }
    body.chunks_exact(4).find(|e| u16::from_be_bytes([e[0], e[1]]) != 0).map(|e| u16::from(e[2] & 0x1f) << 8 | u16::from(e[3]))
}

/// Elementary streams from a PMT: (PID, type).
pub fn pmt(payload: &[u8]) -> Option<Vec<(u16, StreamType)>> {
    let (table, body) = section(payload)?;
    if table != 2 {
        return None;
    }
    let info_len = usize::from(u16::from(*body.get(2)? & 0x0f) << 8 | u16::from(*body.get(3)?));
    let mut rest = body.get(4 + info_len..)?;
    let mut streams = Vec::new();
    while rest.len() >= 5 {
        let kind = rest[0];
        let pid = u16::from(rest[1] & 0x1f) << 8 | u16::from(rest[2]);
        let es_len = usize::from(u16::from(rest[3] & 0x0f) << 8 | u16::from(rest[4]));
        let descriptors = rest.get(5..5 + es_len)?;
        streams.push((pid, StreamType::from_pmt(kind, descriptors)));
        rest = &rest[5 + es_len..];
    }
    Some(streams)
}

/// The tags of a descriptor loop.
pub fn descriptor_tags(mut d: &[u8]) -> impl Iterator<Item = u8> + '_ {
    std::iter::from_fn(move || {
        let (&tag, rest) = d.split_first()?;
        let (&len, rest) = rest.split_first()?;
        d = rest.get(usize::from(len)..).unwrap_or(&[]);
        Some(tag)
    })
}
