//! MPEG-1/2/2.5 audio frames (MP3, MP2; ISO/IEC 11172-3 §2.4.1.3,
//! 13818-3): the header's rate, channels and frame length.

/// The stream's configuration, from a frame header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MpaConfig {
    /// 1 for MPEG-1, 2 for MPEG-2 and 2.5 (the low sampling rates).
    pub version: u8,
    pub layer: u8,
    pub sample_rate: u32,
    pub channels: u8,
}

impl MpaConfig {
    /// Samples per frame.
    pub fn frame_samples(&self) -> u32 {
        match (self.layer, self.version) {
            (1, _) => 384,
            (3, 2) => 576,
            _ => 1152,
        }
    }

    /// The MP4 object type: MPEG-1 audio (0x6b) or MPEG-2 audio (0x69).
    pub fn object_type(&self) -> u8 {
        if self.version == 1 {
            0x6b
        } else {
            0x69
        }
    }

    pub fn codec_string(&self) -> String {
        format!("mp4a.{:02X}", self.object_type())
    }
}

#[derive(Clone, Copy, Debug)]
pub struct Frame<'a> {
    pub config: MpaConfig,
    /// The whole frame, header included (as MP4 stores MPEG audio).
    pub data: &'a [u8],
}

const RATES: [[u32; 3]; 3] = [[44_100, 48_000, 32_000], [22_050, 24_000, 16_000], [11_025, 12_000, 8_000]];
/// kbit/s by [MPEG-1 layer 1, 2, 3, MPEG-2 layer 1, layers 2 and 3][index].
const BITRATES: [[u16; 15]; 5] = [
    [0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448],
    [0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384],
    [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320],
    [0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256],
    [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
];

/// The frames of a PES payload; stops at the first byte that does not begin
/// a whole frame (returned as the count of bytes left over).
pub fn frames(mut data: &[u8]) -> (Vec<Frame<'_>>, usize) {
    let mut out = Vec::new();
    while let Some((frame, len)) = frame(data) {
        out.push(frame);
        data = &data[len..];
    }
    (out, data.len())
}

fn frame(data: &[u8]) -> Option<(Frame<'_>, usize)> {
    let h = data.get(..4)?;
    if h[0] != 0xff || h[1] & 0xe0 != 0xe0 {
        return None;
    }
    let (version, rates) = match (h[1] >> 3) & 3 {
        3 => (1, RATES[0]),
        2 => (2, RATES[1]),
        0 => (2, RATES[2]), // MPEG-2.5
        _ => return None,
    };
    let layer = match (h[1] >> 1) & 3 {
        3 => 1,
        2 => 2,
        1 => 3,
        _ => return None,
    };
    let bitrate_index = usize::from(h[2] >> 4);
    let rate_index = usize::from((h[2] >> 2) & 3);
    if bitrate_index == 0 || bitrate_index == 15 || rate_index == 3 {
        return None; // free format or reserved
    }
    let table = match (version, layer) {
        (1, l) => usize::from(l - 1),
        (_, 1) => 3,
        _ => 4,
    };
    let bitrate = u32::from(BITRATES[table][bitrate_index]) * 1000;
    let sample_rate = rates[rate_index];
    let padding = u32::from((h[2] >> 1) & 1);
    let len = match (layer, version) {
        (1, _) => (12 * bitrate / sample_rate + padding) * 4,
        (3, 2) => 72 * bitrate / sample_rate + padding,
        _ => 144 * bitrate / sample_rate + padding,
    } as usize;
    let channels = if h[3] >> 6 == 3 { 1 } else { 2 };
    let frame = data.get(..len)?;
    Some((Frame { config: MpaConfig { version, layer, sample_rate, channels }, data: frame }, len))
}
