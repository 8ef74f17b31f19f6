//! H.264 in Annex B form (start codes), as transport streams carry it:
//! NAL units, the SPS's size and profile, the `avcC` configuration and the
//! codec string (ISO/IEC 14496-10 §7.3.2.1, 14496-15 §5.3.3).

use super::bits::{rbsp, Bits};

pub const NAL_IDR: u8 = 5;
pub const NAL_SEI: u8 = 6;
pub const NAL_SPS: u8 = 7;
pub const NAL_PPS: u8 = 8;
pub const NAL_AUD: u8 = 9;

/// The NAL units of an Annex B byte stream (start codes `00 00 01` or
/// `00 00 00 01`; trailing zero bytes belong to no unit).
pub fn nal_units(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = data;
    // Skip to just after the first start code.
    match find_start(rest) {
        Some((_, after)) => rest = &rest[after..],
        None => rest = &[],
    }
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let (unit, next) = match find_start(rest) {
            Some((at, after)) => (&rest[..at], &rest[after..]),
            None => (rest, &[][..]),
        };
        rest = next;
        // (Zero bytes before the next start code are trailing_zero_8bits.)
        let end = unit.iter().rposition(|&b| b != 0).map_or(0, |p| p + 1);
        Some(&unit[..end])
    })
    .filter(|u| !u.is_empty())
}

/// The first start code in `data`: (where it begins, where the unit after it begins).
fn find_start(data: &[u8]) -> Option<(usize, usize)> {
    let mut i = 0;
    while i + 2 < data.len() {
        if data[i + 2] > 1 {
            i += 3;
        } else if data[i] == 0 && data[i + 1] == 0 && data[i + 2] == 1 {
            return Some((i, i + 3));
        } else {
            i += 1;
        }
    }
    None
}

pub fn nal_type(unit: &[u8]) -> u8 {
    unit.first().map_or(0, |b| b & 0x1f)
}

/// What the SPS tells the container.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sps {
    pub profile: u8,
    pub compatibility: u8,
    pub level: u8,
    pub width: u32,
    pub height: u32,
}

/// Read an SPS NAL unit (with its header byte).
pub fn parse_sps(unit: &[u8]) -> Option<Sps> {
    let data = rbsp(unit.get(1..)?);
    let mut b = Bits::new(&data);
    let profile = b.bits(8)? as u8;
    let compatibility = b.bits(8)? as u8;
    let level = b.bits(8)? as u8;
    b.ue()?; // seq_parameter_set_id
    let mut chroma = 1;
    if matches!(profile, 100 | 110 | 122 | 244 | 44 | 83 | 86 | 118 | 128 | 138 | 139 | 134 | 135) {
        chroma = b.ue()?;
        if chroma == 3 {
            b.bit()?; // separate_colour_plane_flag
        }
        b.ue()?; // bit_depth_luma_minus8
        b.ue()?; // bit_depth_chroma_minus8
        b.bit()?; // qpprime_y_zero_transform_bypass_flag
        if b.bit()? == 1 {
            for i in 0..if chroma == 3 { 12 } else { 8 } {
                if b.bit()? == 1 {
                    skip_scaling_list(&mut b, if i < 6 { 16 } else { 64 })?;
                }
            }
        }
    }
    b.ue()?; // log2_max_frame_num_minus4
    match b.ue()? {
        0 => {
            b.ue()?; // log2_max_pic_order_cnt_lsb_minus4
        }
        1 => {
            b.bit()?;
            b.se()?;
            b.se()?;
            for _ in 0..b.ue()?.min(255) {
                b.se()?;
            }
        }
        _ => {}
    }
    b.ue()?; // max_num_ref_frames
    b.bit()?; // gaps_in_frame_num_value_allowed_flag
    let width_mbs = b.ue()?.checked_add(1)?;
    let height_units = b.ue()?.checked_add(1)?;
    let frame_mbs_only = b.bit()?;
    if frame_mbs_only == 0 {
        b.bit()?; // mb_adaptive_frame_field_flag
    }
    b.bit()?; // direct_8x8_inference_flag
    let (mut left, mut right, mut top, mut bottom) = (0, 0, 0, 0);
    if b.bit()? == 1 {
        (left, right, top, bottom) = (b.ue()?, b.ue()?, b.ue()?, b.ue()?);
    }
    let (sub_w, sub_h) = match chroma {
        1 => (2, 2),
        2 => (2, 1),
        _ => (1, 1),
    };
    let crop_x = sub_w;
    let crop_y = sub_h * (2 - frame_mbs_only);
    let width = width_mbs.checked_mul(16)?.checked_sub(crop_x * (left.checked_add(right)?))?;
    let height = (2 - frame_mbs_only).checked_mul(height_units)?.checked_mul(16)?.checked_sub(crop_y * (top.checked_add(bottom)?))?;
    Some(Sps { profile, compatibility, level, width, height })
}

fn skip_scaling_list(b: &mut Bits<'_>, size: usize) -> Option<()> {
    let (mut last, mut next) = (8i32, 8i32);
    for _ in 0..size {
        if next != 0 {
            next = (last + b.se()? + 256) % 256;
        }
        last = if next == 0 { last } else { next };
    }
    Some(())
}

/// `avc1.PPCCLL`.
pub fn codec_string(sps: &Sps) -> String {
    format!("avc1.{:02x}{:02x}{:02x}", sps.profile, sps.compatibility, sps.level)
}

/// The `AVCDecoderConfigurationRecord` (the body of `avcC`), 4-byte lengths.
pub fn avcc(sps: &[&[u8]], pps: &[&[u8]]) -> Option<Vec<u8>> {
    let first = sps.first()?;
    let mut out = vec![1, *first.get(1)?, *first.get(2)?, *first.get(3)?, 0xff, 0xe0 | sps.len().min(31) as u8];
    for s in sps.iter().take(31) {
        out.extend_from_slice(&u16::try_from(s.len()).ok()?.to_be_bytes());
        out.extend_from_slice(s);
    }
    out.push(pps.len().min(255) as u8);
    for p in pps.iter().take(255) {
        out.extend_from_slice(&u16::try_from(p.len()).ok()?.to_be_bytes());
        out.extend_from_slice(p);
    }
    Some(out)
}
