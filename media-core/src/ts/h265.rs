//! H.265 in Annex B form: NAL unit types, the SPS's size and profile, the
//! `hvcC` configuration and the codec string (ITU-T H.265 §7.3.2.2,
//! ISO/IEC 14496-15 §8.3.3 and Annex E).

use super::bits::{rbsp, Bits};

pub const NAL_VPS: u8 = 32;
pub const NAL_SPS: u8 = 33;
pub const NAL_PPS: u8 = 34;
pub const NAL_AUD: u8 = 35;

pub fn nal_type(unit: &[u8]) -> u8 {
    unit.first().map_or(0, |b| (b >> 1) & 0x3f)
}

/// BLA, IDR and CRA pictures: decoding can start here.
pub fn is_irap(t: u8) -> bool {
    (16..=21).contains(&t)
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sps {
    pub profile_space: u8,
    pub tier: u8,
    pub profile: u8,
    pub compatibility: u32,
    /// The 48 constraint indicator bits.
    pub constraints: [u8; 6],
    pub level: u8,
    pub chroma_format: u32,
    pub bit_depth_luma: u32,
    pub bit_depth_chroma: u32,
    pub max_sub_layers: u8,
    pub temporal_id_nested: bool,
    pub width: u32,
    pub height: u32,
}

/// Read an SPS NAL unit (with its 2-byte header).
pub fn parse_sps(unit: &[u8]) -> Option<Sps> {
    let data = rbsp(unit.get(2..)?);
    let mut b = Bits::new(&data);
    b.bits(4)?; // sps_video_parameter_set_id
    let sub_layers_minus1 = b.bits(3)? as u8;
    let temporal_id_nested = b.bit()? == 1;
    let profile_space = b.bits(2)? as u8;
    let tier = b.bit()? as u8;
    let profile = b.bits(5)? as u8;
    let compatibility = b.bits(32)?;
    let mut constraints = [0u8; 6];
    for c in &mut constraints {
        *c = b.bits(8)? as u8;
    }
    let level = b.bits(8)? as u8;
    let mut present = [(false, false); 8];
    for p in present.iter_mut().take(usize::from(sub_layers_minus1)) {
        *p = (b.bit()? == 1, b.bit()? == 1);
    }
    if sub_layers_minus1 > 0 {
        for _ in sub_layers_minus1..8 {
            b.bits(2)?;
        }
    }
    for &(profile_present, level_present) in present.iter().take(usize::from(sub_layers_minus1)) {
        if profile_present {
            b.skip(88)?;
        }
        if level_present {
            b.skip(8)?;
        }
    }
    b.ue()?; // sps_seq_parameter_set_id
    let chroma_format = b.ue()?;
    if chroma_format == 3 {
        b.bit()?;
    }
    let width = b.ue()?;
    let height = b.ue()?;
    let (mut width, mut height) = (width, height);
    if b.bit()? == 1 {
        let (sub_w, sub_h) = match chroma_format {
            1 => (2, 2),
            2 => (2, 1),
            _ => (1, 1),
        };
        let (l, r, t, bo) = (b.ue()?, b.ue()?, b.ue()?, b.ue()?);
        width = width.checked_sub(sub_w * l.checked_add(r)?)?;
        height = height.checked_sub(sub_h * t.checked_add(bo)?)?;
    }
    let bit_depth_luma = b.ue()?.checked_add(8)?;
    let bit_depth_chroma = b.ue()?.checked_add(8)?;
    Some(Sps {
        profile_space,
        tier,
        profile,
        compatibility,
        constraints,
        level,
        chroma_format,
        bit_depth_luma,
        bit_depth_chroma,
        max_sub_layers: sub_layers_minus1 + 1,
        temporal_id_nested,
        width,
        height,
    })
}

/// `hvc1.<space><profile>.<compatibility reversed>.<tier><level>[.<constraints>]`.
pub fn codec_string(s: &Sps) -> String {
    let space = ["", "A", "B", "C"][usize::from(s.profile_space & 3)];
    let mut out = format!("hvc1.{space}{}.{:X}.{}{}", s.profile, s.compatibility.reverse_bits(), if s.tier == 1 { "H" } else { "L" }, s.level);
    let last = s.constraints.iter().rposition(|&c| c != 0);
    for c in s.constraints.iter().take(last.map_or(0, |l| l + 1)) {
        out.push_str(&format!(".{c:X}"));
    }
    out
}

/// The `HEVCDecoderConfigurationRecord` (the body of `hvcC`), 4-byte lengths.
pub fn hvcc(s: &Sps, vps: &[&[u8]], sps: &[&[u8]], pps: &[&[u8]]) -> Option<Vec<u8>> {
    let mut o = vec![1, (s.profile_space & 3) << 6 | (s.tier & 1) << 5 | (s.profile & 0x1f)];
    o.extend_from_slice(&s.compatibility.to_be_bytes());
    o.extend_from_slice(&s.constraints);
    o.push(s.level);
    o.extend_from_slice(&[
        0xf0,
        0x00,
        0xfc,
        0xfc | (s.chroma_format & 3) as u8,
        0xf8 | ((s.bit_depth_luma - 8) & 7) as u8,
        0xf8 | ((s.bit_depth_chroma - 8) & 7) as u8,
    ]);
    o.extend_from_slice(&[0, 0]); // average frame rate: unknown
    o.push(((s.max_sub_layers & 7) << 3) | (u8::from(s.temporal_id_nested) << 2) | 3);
    let arrays: Vec<(u8, &[&[u8]])> = [(NAL_VPS, vps), (NAL_SPS, sps), (NAL_PPS, pps)].into_iter().filter(|(_, units)| !units.is_empty()).collect();
    o.push(arrays.len() as u8);
    for (kind, units) in arrays {
        o.push(0x80 | kind);
        o.extend_from_slice(&u16::try_from(units.len()).ok()?.to_be_bytes());
        for u in units {
            o.extend_from_slice(&u16::try_from(u.len()).ok()?.to_be_bytes());
            o.extend_from_slice(u);
        }
    }
    Some(o)
}
