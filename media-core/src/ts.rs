//! MPEG transport stream demuxing (ISO/IEC 13818-1), sans-IO: bytes in
//! any chunking, PES packets of each elementary stream out. With
//! [`crate::fmp4`] it makes the [`crate::transmux`] that turns TS-segment
//! HLS into what Media Source Extensions take.
//!
//! - [`packet`]: one 188-byte packet; [`psi`]: PAT and PMT.
//! - [`cea608`]: CEA-608 captions (CC1) from H.264 SEI, as timed cues.
//! - [`Demuxer`]: packets to PES, continuity checked per PID, resync on
//!   lost sync bytes, a PES cut short dropped with a warning.
//! - [`h264`], [`h265`], [`adts`], [`mpa`], [`ac3`]: the elementary streams' own framing
//!   (Annex B NAL units and parameter sets, ADTS AAC frames, MPEG audio
//!   frames, AC-3 and E-AC-3 sync frames).
//!
//! Hand-written: the parts MSE needs are a few hundred lines, and every
//! byte of them ships in the player. Measured against the crates doing the
//! same work in a wasm32 build (BENCHMARKS.md): `mpeg2ts-reader` costs 3.0 KB
//! gzip more than this demuxer and does not resync after a lost sync byte;
//! `h264-reader` costs 18 KB gzip more than the SPS reader here.

pub mod ac3;
pub mod adts;
pub mod bits;
pub mod cea608;
mod demux;
pub mod h264;
pub mod h265;
pub mod mpa;
pub mod packet;
pub mod psi;
#[cfg(test)]
mod tests;

pub use demux::{DemuxEvent, Demuxer, Pes};

/// An elementary stream's type, from the PMT.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamType {
    H264,
    H265,
    /// AAC in ADTS frames.
    Aac,
    /// MPEG-1/2 audio (MP3, MP2).
    Mpa,
    Ac3,
    Eac3,
    /// Timed ID3 metadata.
    Id3,
    Other(u8),
}

impl StreamType {
    pub fn from_pmt(kind: u8, descriptors: &[u8]) -> Self {
        match kind {
            0x1b => StreamType::H264,
            0x24 => StreamType::H265,
            0x0f => StreamType::Aac,
            0x03 | 0x04 => StreamType::Mpa,
            0x81 => StreamType::Ac3,
            0x87 => StreamType::Eac3,
            0x15 => StreamType::Id3,
            // Private data: DVB's AC-3 / E-AC-3 descriptors name it.
            0x06 => {
                let mut tags = psi::descriptor_tags(descriptors);
                match tags.find(|t| matches!(t, 0x6a | 0x7a)) {
                    Some(0x6a) => StreamType::Ac3,
                    Some(_) => StreamType::Eac3,
                    None => StreamType::Other(kind),
                }
            }
            k => StreamType::Other(k),
        }
    }

    pub fn is_video(self) -> bool {
        matches!(self, StreamType::H264 | StreamType::H265)
    }

    pub fn is_audio(self) -> bool {
        matches!(self, StreamType::Aac | StreamType::Mpa | StreamType::Ac3 | StreamType::Eac3)
    }
}

/// Something in the input that was skipped: the rest plays on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TsWarning {
    /// Bytes without a sync byte every 188: skipped to the next sync.
    LostSync { skipped: usize },
    /// A packet whose header does not hold together.
    BadPacket,
    /// A packet of this PID is missing: the PES it belonged to is dropped.
    ContinuityError { pid: u16 },
    /// A PES whose header does not hold together, or cut short.
    BadPes { pid: u16 },
    /// Video before the first keyframe (it cannot be decoded): dropped.
    NoKeyframe { dropped: usize },
    /// An elementary stream whose frames do not parse (bytes dropped).
    BadFrame { pid: u16 },
    /// A stream this transmuxer does not carry (its type).
    Unsupported(StreamType),
    /// Video without SPS/PPS, audio without a frame header: no init segment yet.
    NoConfig,
    /// More CEA-608 data in one segment than broadcast sends: the rest ignored.
    CaptionsCut { kept: usize },
}

impl std::fmt::Display for TsWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TsWarning::LostSync { skipped } => write!(f, "lost sync: skipped {skipped} bytes"),
            TsWarning::BadPacket => write!(f, "a malformed packet"),
            TsWarning::ContinuityError { pid } => write!(f, "packets missing on PID {pid}"),
            TsWarning::BadPes { pid } => write!(f, "a malformed or truncated PES on PID {pid}"),
            TsWarning::NoKeyframe { dropped } => write!(f, "{dropped} video frames before a keyframe dropped"),
            TsWarning::BadFrame { pid } => write!(f, "unparsable frames on PID {pid}"),
            TsWarning::Unsupported(t) => write!(f, "stream type {t:?} is not carried"),
            TsWarning::NoConfig => write!(f, "no codec configuration yet"),
            TsWarning::CaptionsCut { kept } => write!(f, "more caption data in one segment than broadcast sends: {kept} byte pairs kept"),
        }
    }
}
