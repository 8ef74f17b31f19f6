//! One 188-byte transport stream packet (ISO/IEC 13818-1 §2.4.3).

use super::TsWarning;

pub const PACKET_LEN: usize = 188;
pub const SYNC: u8 = 0x47;

/// A packet's header and payload, borrowed from the input.
#[derive(Clone, Copy, Debug)]
pub struct Packet<'a> {
    pub pid: u16,
    /// `payload_unit_start_indicator`: a PES or a section starts here.
    pub unit_start: bool,
    pub continuity: u8,
    /// The adaptation field's `discontinuity_indicator`.
    pub discontinuity: bool,
    pub payload: &'a [u8],
    pub has_payload: bool,
    pub transport_error: bool,
}

/// Read one packet (`bytes` is exactly [`PACKET_LEN`] long and starts with [`SYNC`]).
pub fn parse(bytes: &[u8]) -> Result<Packet<'_>, TsWarning> {
    let &[sync, b1, b2, b3, ..] = bytes else { return Err(TsWarning::BadPacket) };
    if sync != SYNC || bytes.len() != PACKET_LEN {
        return Err(TsWarning::BadPacket);
    }
    let pid = u16::from(b1 & 0x1f) << 8 | u16::from(b2);
    let control = (b3 >> 4) & 3;
    let has_adaptation = control & 2 != 0;
    let has_payload = control & 1 != 0;
    let mut start = 4;
    let mut discontinuity = false;
    if has_adaptation {
        let len = usize::from(bytes[4]);
        if len > PACKET_LEN - 5 {
            return Err(TsWarning::BadPacket);
        }
        if len > 0 {
            discontinuity = bytes[5] & 0x80 != 0;
        }
        start = 5 + len;
    }
    Ok(Packet {
        pid,
        unit_start: b1 & 0x40 != 0,
        continuity: b3 & 0x0f,
        discontinuity,
        payload: if has_payload { &bytes[start..] } else { &[] },
        has_payload,
        transport_error: b1 & 0x80 != 0,
    })
}
