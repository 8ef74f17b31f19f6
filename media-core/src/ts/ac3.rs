//! AC-3 and E-AC-3 sync frames (ATSC A/52 §5.4 and Annex E), passed
//! through to MP4 as they are: each frame's size and timing from its
//! header, and the `dac3` / `dec3` configuration (ETSI TS 102 366 Annex F).
//!
//! An E-AC-3 frame of fewer than six blocks is one sample of its own
//! duration; dependent substreams (7.1) are not carried (their frames are
//! skipped, the independent stream plays as 5.1).

use super::bits::Bits;

const SYNC: [u8; 2] = [0x0b, 0x77];
/// Nominal bit rates (kbit/s) by `frmsizecod / 2`.
const BIT_RATES: [u32; 19] = [32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384, 448, 512, 576, 640];
/// Full-bandwidth channels by `acmod`.
const CHANNELS: [u8; 8] = [2, 1, 2, 3, 3, 4, 4, 5];

/// The stream's configuration, from a frame header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ac3Config {
    /// E-AC-3 (`ec-3`) rather than AC-3 (`ac-3`).
    pub enhanced: bool,
    pub sample_rate: u32,
    /// Samples per frame: 1536 for AC-3, 256 × blocks for E-AC-3.
    pub frame_samples: u32,
    /// Channels, the LFE included.
    pub channels: u8,
    /// `dac3` or `dec3` box payload.
    pub specific: Vec<u8>,
}

impl Ac3Config {
    pub fn codec_string(&self) -> &'static str {
        if self.enhanced {
            "ec-3"
        } else {
            "ac-3"
        }
    }
}

#[derive(Clone, Debug)]
pub struct Frame<'a> {
    pub config: Ac3Config,
    pub data: &'a [u8],
}

/// The independent frames of a PES payload; stops at the first byte that
/// does not begin a whole frame (returned as the count of bytes left over).
pub fn frames(mut data: &[u8]) -> (Vec<Frame<'_>>, usize) {
    let mut out = Vec::new();
    while let Some((frame, len)) = frame(data) {
        if let Some(f) = frame {
            out.push(f);
        }
        data = &data[len..];
    }
    (out, data.len())
}

/// One sync frame and its length; `None` inside for a dependent substream.
fn frame(data: &[u8]) -> Option<(Option<Frame<'_>>, usize)> {
    if data.get(..2)? != SYNC {
        return None;
    }
    let bsid = *data.get(5)? >> 3;
    if bsid <= 10 {
        ac3(data)
    } else if (11..=16).contains(&bsid) {
        eac3(data)
    } else {
        None
    }
}

fn ac3(data: &[u8]) -> Option<(Option<Frame<'_>>, usize)> {
    let mut b = Bits::new(data.get(4..8)?);
    let fscod = b.bits(2)?;
    let frmsizecod = b.bits(6)?;
    let bsid = b.bits(5)?;
    let bsmod = b.bits(3)?;
    let acmod = b.bits(3)?;
    if fscod == 3 || frmsizecod >= 38 {
        return None;
    }
    if acmod & 1 == 1 && acmod != 1 {
        b.bits(2)?; // cmixlev
    }
    if acmod & 4 != 0 {
        b.bits(2)?; // surmixlev
    }
    if acmod == 2 {
        b.bits(2)?; // dsurmod
    }
    let lfeon = b.bits(1)?;
    let rate = BIT_RATES[(frmsizecod >> 1) as usize];
    let words = match fscod {
        0 => rate * 2,
        1 => rate * 320 / 147 + (frmsizecod & 1),
        _ => rate * 3,
    };
    let len = words as usize * 2;
    let frame = data.get(..len)?;
    // dac3: fscod 2, bsid 5, bsmod 3, acmod 3, lfeon 1, bit_rate_code 5, reserved 5.
    let v = fscod << 22 | bsid << 17 | bsmod << 14 | acmod << 11 | lfeon << 10 | (frmsizecod >> 1) << 5;
    let specific = v.to_be_bytes()[1..].to_vec();
    let config = Ac3Config {
        enhanced: false,
        sample_rate: [48_000, 44_100, 32_000][fscod as usize],
        frame_samples: 1536,
        channels: CHANNELS[acmod as usize] + lfeon as u8,
        specific,
    };
    Some((Some(Frame { config, data: frame }), len))
}

fn eac3(data: &[u8]) -> Option<(Option<Frame<'_>>, usize)> {
    let mut b = Bits::new(data.get(2..6)?);
    let strmtyp = b.bits(2)?;
    let _substreamid = b.bits(3)?;
    let frmsiz = b.bits(11)?;
    let fscod = b.bits(2)?;
    let (sample_rate, blocks) = if fscod == 3 {
        let fscod2 = b.bits(2)?;
        ([24_000, 22_050, 16_000].get(fscod2 as usize).copied()?, 6)
    } else {
        ([48_000, 44_100, 32_000][fscod as usize], [1, 2, 3, 6][b.bits(2)? as usize])
    };
    let acmod = b.bits(3)?;
    let lfeon = b.bits(1)?;
    let bsid = b.bits(5)?;
    let len = (frmsiz as usize + 1) * 2;
    let frame = data.get(..len)?;
    if strmtyp == 1 {
        return Some((None, len)); // a dependent substream: not carried
    }
    let frame_samples = 256 * blocks;
    let data_rate = (len as u64 * 8 * u64::from(sample_rate) / u64::from(frame_samples) / 1000) as u32;
    // dec3: data_rate 13, num_ind_sub 3 (0: one); then fscod 2, bsid 5,
    // reserved 1, asvc 1, bsmod 3, acmod 3, lfeon 1, reserved 3,
    // num_dep_sub 4, reserved 1.
    let head = (data_rate.min(0x1fff) << 3) as u16;
    let sub = fscod << 22 | bsid << 17 | acmod << 9 | lfeon << 8;
    let mut specific = head.to_be_bytes().to_vec();
    specific.extend_from_slice(&sub.to_be_bytes()[1..]);
    let config = Ac3Config { enhanced: true, sample_rate, frame_samples, channels: CHANNELS[acmod as usize] + lfeon as u8, specific };
    Some((Some(Frame { config, data: frame }), len))
}
