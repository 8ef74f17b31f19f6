//! AAC in ADTS frames (ISO/IEC 13818-7 §6.2, 14496-3 §1.6.2.1 for the
//! AudioSpecificConfig).

pub const SAMPLE_RATES: [u32; 13] = [96_000, 88_200, 64_000, 48_000, 44_100, 32_000, 24_000, 22_050, 16_000, 12_000, 11_025, 8_000, 7_350];

/// The stream's configuration, from a frame header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AacConfig {
    /// Audio object type (2 = AAC-LC).
    pub object_type: u8,
    pub rate_index: u8,
    pub channels: u8,
}

impl AacConfig {
    pub fn sample_rate(&self) -> u32 {
        SAMPLE_RATES[usize::from(self.rate_index)]
    }

    /// The 2-byte AudioSpecificConfig.
    pub fn audio_specific_config(&self) -> [u8; 2] {
        let v = u16::from(self.object_type) << 11 | u16::from(self.rate_index) << 7 | u16::from(self.channels) << 3;
        v.to_be_bytes()
    }

    pub fn codec_string(&self) -> String {
        format!("mp4a.40.{}", self.object_type)
    }
}

/// One ADTS frame: its configuration and raw AAC payload.
#[derive(Clone, Copy, Debug)]
pub struct Frame<'a> {
    pub config: AacConfig,
    pub payload: &'a [u8],
}

/// The frames of a PES payload; stops at the first byte that does not
/// begin a whole frame (returned as the count of bytes left over).
pub fn frames(mut data: &[u8]) -> (Vec<Frame<'_>>, usize) {
    let mut out = Vec::new();
    while let Some((frame, len)) = frame(data) {
        out.push(frame);
        data = &data[len..];
    }
    (out, data.len())
}

fn frame(data: &[u8]) -> Option<(Frame<'_>, usize)> {
    let h = data.get(..7)?;
    if h[0] != 0xff || h[1] & 0xf6 != 0xf0 {
        return None;
    }
    let protection_absent = h[1] & 1 == 1;
    let profile = h[2] >> 6;
    let rate_index = (h[2] >> 2) & 0x0f;
    let channels = (h[2] & 1) << 2 | h[3] >> 6;
    let len = usize::from(h[3] & 3) << 11 | usize::from(h[4]) << 3 | usize::from(h[5] >> 5);
    let header = if protection_absent { 7 } else { 9 };
    if usize::from(rate_index) >= SAMPLE_RATES.len() || len < header || channels == 0 {
        return None;
    }
    let payload = data.get(header..len)?;
    Some((Frame { config: AacConfig { object_type: profile + 1, rate_index, channels }, payload }, len))
}
