//! MPEG-TS segments to fragmented MP4, sans-IO: what HLS with TS segments
//! needs to play through Media Source Extensions.
//!
//! Feed a segment with [`Transmuxer::handle_segment_start`], any number of
//! [`Transmuxer::handle_data`] and [`Transmuxer::handle_segment_end`], then
//! drain [`Transmuxer::poll_output`]: an init segment whenever the tracks'
//! configuration changes (the first one, a new resolution or codec after a
//! discontinuity), then one media fragment holding every track's samples of
//! the segment, timed events (ID3) and warnings. State carries across
//! segments, so consecutive segments join without gaps.
//!
//! Time: transport streams count in 90 kHz ticks that wrap at 2³³ (about
//! 26.5 hours); every timestamp is unwrapped to the one nearest the last
//! seen. The first segment (and the first after a discontinuity) is placed
//! at the start time its playlist gives it: its earliest presentation time
//! maps there, and its successors keep that mapping (the stream's own
//! clock, not the playlist's rounded durations, decides where they go).
//! Audio frames (AAC from ADTS, MPEG audio) are timed in samples and laid end to end while their
//! timestamps agree within half a frame, so audio never drifts from
//! video by rounding; a gap larger than a frame is kept as a gap.

use std::collections::VecDeque;

use crate::fmp4::{self, Run, Sample, SampleEntry, Track};
use crate::ts::ac3;
use crate::ts::adts;
use crate::ts::cea608::{self, Cea608};
use crate::ts::mpa;
use crate::ts::{h264, h265};
use crate::ts::{DemuxEvent, Demuxer, Pes, StreamType, TsWarning};

#[cfg(test)]
mod tests;

const VIDEO_TRACK: u32 = 1;
const AUDIO_TRACK: u32 = 2;
const CLOCK: i64 = 90_000;
const WRAP: i64 = 1 << 33;
/// A segment whose clock puts it this far (s) from its playlist time is
/// taken as a discontinuity.
const MAX_JUMP_S: f64 = 10.0;
/// CEA-608 byte pairs decoded per segment at most: 2 a frame at 120 fps
/// for 16 s.
const MAX_CAPTION_PAIRS: usize = 4096;

/// What the transmuxer produces.
#[derive(Clone, Debug, PartialEq)]
pub enum TransmuxOutput {
    /// A new init segment: append it before the media that follow.
    Init(Init),
    /// One segment's samples, every track in one `moof` + `mdat`.
    Media(Media),
    /// A CEA-608 caption (CC1, from H.264 SEI) as it was shown.
    Caption(cea608::Cue),
    /// Timed ID3 metadata at a presentation time (seconds).
    Id3 {
        time: f64,
        data: Vec<u8>,
    },
    Warning(TsWarning),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Init {
    pub data: Vec<u8>,
    /// `video/mp4` or `audio/mp4`.
    pub mime: &'static str,
    /// The codecs parameter, e.g. `avc1.64001f,mp4a.40.2`.
    pub codecs: String,
    /// Video size, if there is video.
    pub size: Option<(u32, u32)>,
}

impl Init {
    /// The full MIME type for `MediaSource.addSourceBuffer`.
    pub fn content_type(&self) -> String {
        format!("{}; codecs=\"{}\"", self.mime, self.codecs)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Media {
    pub data: Vec<u8>,
    /// Presentation span of the fragment (seconds), across its tracks.
    pub start: f64,
    pub end: f64,
    /// Each track's own span (seconds): consecutive fragments continue
    /// each track where it ended.
    pub video: Option<(f64, f64)>,
    pub audio: Option<(f64, f64)>,
}

/// A video access unit, length-prefixed NAL units.
struct VideoSample {
    dts: i64,
    pts: i64,
    key: bool,
    data: Vec<u8>,
}

#[derive(Default)]
struct Video {
    pid: u16,
    /// H.264 or H.265.
    hevc: bool,
    /// Parameter sets as last seen (VPS: H.265 only).
    vps: Vec<u8>,
    sps: Vec<u8>,
    pps: Vec<u8>,
    info: Option<VideoInfo>,
    samples: Vec<VideoSample>,
    /// CEA-608 field 1 byte pairs of the segment: (PTS, pair).
    captions: Vec<(i64, [u8; 2])>,
    /// The last frame's duration (ticks): the duration of a segment's last frame.
    last_duration: Option<i64>,
}

/// What the SPS says, for the sample entry and the codecs parameter.
#[derive(Clone, Debug, PartialEq, Eq)]
struct VideoInfo {
    width: u32,
    height: u32,
    codec: String,
    /// H.265's profile and format, for `hvcC`.
    hevc: Option<h265::Sps>,
}

impl Video {
    /// Remember a parameter set; a new SPS is read again.
    fn parameter_set(&mut self, kind: u8, unit: &[u8]) {
        let slot = match kind {
            0 => &mut self.vps,
            1 => &mut self.sps,
            _ => &mut self.pps,
        };
        if slot.as_slice() == unit {
            return;
        }
        *slot = unit.to_vec();
        if kind == 1 {
            self.info = if self.hevc {
                h265::parse_sps(unit).map(|s| VideoInfo { width: s.width, height: s.height, codec: h265::codec_string(&s), hevc: Some(s) })
            } else {
                h264::parse_sps(unit).map(|s| VideoInfo { width: s.width, height: s.height, codec: h264::codec_string(&s), hevc: None })
            };
        }
    }

    /// The sample entry, once the parameter sets are known.
    fn entry(&self) -> Option<SampleEntry> {
        let info = self.info.as_ref()?;
        let (width, height) = (u16::try_from(info.width).ok()?, u16::try_from(info.height).ok()?);
        if self.pps.is_empty() {
            return None;
        }
        Some(match &info.hevc {
            Some(s) => SampleEntry::Hevc { width, height, hvcc: h265::hvcc(s, &[&self.vps], &[&self.sps], &[&self.pps])? },
            None => SampleEntry::Avc { width, height, avcc: h264::avcc(&[&self.sps], &[&self.pps])? },
        })
    }
}

/// An audio stream's configuration, from its frame headers.
#[derive(Clone, Debug, PartialEq, Eq)]
struct AudioConfig {
    /// A frame of silence in this format, where one is known (AAC-LC mono
    /// and stereo): what fills a gap at a splice.
    silence: Option<&'static [u8]>,
    rate: u32,
    /// Samples per frame.
    frame: u32,
    codec: String,
    entry: SampleEntry,
}

impl AudioConfig {
    fn aac(c: adts::AacConfig) -> Self {
        let entry =
            SampleEntry::Mp4a { channels: u16::from(c.channels), sample_rate: c.sample_rate(), object_type: 0x40, config: c.audio_specific_config().to_vec() };
        let silence: Option<&'static [u8]> = match (c.object_type, c.channels) {
            (2, 1) => Some(&[0x00, 0xc8, 0x00, 0x80, 0x23, 0x80]),
            (2, 2) => Some(&[0x21, 0x00, 0x49, 0x90, 0x02, 0x19, 0x00, 0x23, 0x80]),
            _ => None,
        };
        AudioConfig { silence, rate: c.sample_rate(), frame: 1024, codec: c.codec_string(), entry }
    }

    fn mpa(c: mpa::MpaConfig) -> Self {
        let entry = SampleEntry::Mp4a { channels: u16::from(c.channels), sample_rate: c.sample_rate, object_type: c.object_type(), config: Vec::new() };
        AudioConfig { silence: None, rate: c.sample_rate, frame: c.frame_samples(), codec: c.codec_string(), entry }
    }

    /// AC-3 and E-AC-3, passed through.
    fn ac3(c: ac3::Ac3Config) -> Self {
        let (channels, sample_rate) = (u16::from(c.channels), c.sample_rate);
        let codec = c.codec_string().to_string();
        let frame = c.frame_samples;
        let entry = if c.enhanced {
            SampleEntry::Eac3 { channels, sample_rate, dec3: c.specific }
        } else {
            SampleEntry::Ac3 { channels, sample_rate, dac3: c.specific }
        };
        AudioConfig { silence: None, rate: sample_rate, frame, codec, entry }
    }
}

#[derive(Default)]
struct Audio {
    pid: u16,
    kind: Option<StreamType>,
    config: Option<AudioConfig>,
    /// (PTS of the PES the frame came in, samples before it in that PES, the frame).
    frames: Vec<(i64, u32, Vec<u8>)>,
    /// The next frame's time, in samples, if the last one is known.
    next: Option<i64>,
}

/// One NAL unit, 4-byte length first (as `avcC`/`hvcC` declare).
fn push_nal(sample: &mut Vec<u8>, unit: &[u8]) {
    sample.extend_from_slice(&u32::try_from(unit.len()).unwrap_or(0).to_be_bytes());
    sample.extend_from_slice(unit);
}

/// The TS → fMP4 transmuxer (see the module docs).
#[derive(Default)]
pub struct Transmuxer {
    demux: Demuxer,
    video: Option<Video>,
    audio: Option<Audio>,
    id3: Option<u16>,
    /// The last unwrapped timestamp (90 kHz), for unwrapping the next.
    reference: Option<i64>,
    /// Timeline mapping: a stream timestamp `t` presents at `t - base + origin`.
    base: Option<i64>,
    origin: i64,
    /// Decode times are shifted by this so that none is negative.
    dts_shift: i64,
    /// Where the last fragment's audio ended (seconds): a splice fills up to
    /// its new audio with silence from here.
    audio_end: Option<f64>,
    /// Where the segment being fed starts on the playlist's timeline (seconds).
    segment_start: f64,
    /// A keyframe has been seen since the last reset: frames before one are undecodable.
    keyframe_seen: bool,
    tracks: Vec<Track>,
    sequence: u32,
    out: VecDeque<TransmuxOutput>,
    /// Pending ID3 payloads: (unwrapped PTS, data).
    id3_pending: Vec<(i64, Vec<u8>)>,
    warned_unsupported: Vec<StreamType>,
    /// The CC1 caption decoder.
    cc: Cea608,
}

impl Transmuxer {
    pub fn new() -> Self {
        Self::default()
    }

    /// A segment begins. `start`: where the playlist places it (seconds).
    /// `discontinuity`: its timestamps do not follow the last segment's
    /// (`EXT-X-DISCONTINUITY`, or the first segment after a seek into
    /// another discontinuity range).
    pub fn handle_segment_start(&mut self, start: f64, discontinuity: bool) {
        self.segment_start = start;
        if discontinuity {
            self.base = None;
            self.reference = None;
            self.keyframe_seen = false;
            if let Some(a) = &mut self.audio {
                a.next = None;
            }
            if let Some(v) = &mut self.video {
                v.last_duration = None;
            }
            self.cc.handle_reset();
        }
    }

    /// The next segment is not the one after the last (a seek, a quality
    /// switch): what carries over from the last is dropped, the timeline
    /// mapping is kept.
    pub fn handle_seek(&mut self) {
        self.demux = Demuxer::new();
        self.keyframe_seen = false;
        if let Some(a) = &mut self.audio {
            a.next = None;
            a.frames.clear();
        }
        if let Some(v) = &mut self.video {
            v.samples.clear();
            v.captions.clear();
        }
        self.cc.handle_reset();
        self.audio_end = None; // (no splice to fill)
                               // (The PMT is read again from the next segment.)
        self.video = None;
        self.audio = None;
    }

    /// Bytes of the segment, in any chunking.
    pub fn handle_data(&mut self, data: &[u8]) {
        self.demux.handle_data(data);
        self.drain_demux();
    }

    /// The segment is complete: its fragment (and, first, an init segment
    /// if the configuration changed) is ready to poll.
    pub fn handle_segment_end(&mut self) {
        self.demux.flush();
        self.drain_demux();
        self.emit();
    }

    pub fn poll_output(&mut self) -> Option<TransmuxOutput> {
        self.out.pop_front()
    }

    fn warn(&mut self, w: TsWarning) {
        self.out.push_back(TransmuxOutput::Warning(w));
    }

    fn drain_demux(&mut self) {
        while let Some(e) = self.demux.poll_event() {
            match e {
                DemuxEvent::Streams(streams) => self.handle_streams(&streams),
                DemuxEvent::Pes(pes) => self.handle_pes(pes),
                DemuxEvent::Warning(w) => self.warn(w),
            }
        }
    }

    /// The PMT: the first video and the first audio stream are carried.
    fn handle_streams(&mut self, streams: &[(u16, StreamType)]) {
        let video = streams.iter().find(|s| s.1.is_video());
        // (AAC or MPEG audio first, which every browser plays; else AC-3 or
        // E-AC-3, which the shell offers where MSE says it plays them.)
        let audio = streams.iter().find(|s| matches!(s.1, StreamType::Aac | StreamType::Mpa)).or_else(|| streams.iter().find(|s| s.1.is_audio()));
        if self.video.as_ref().map(|v| v.pid) != video.map(|v| v.0) {
            self.video = video.map(|&(pid, kind)| Video { pid, hevc: kind == StreamType::H265, ..Video::default() });
        }
        if self.audio.as_ref().map(|a| a.pid) != audio.map(|a| a.0) {
            self.audio = audio.map(|&(pid, kind)| Audio { pid, kind: Some(kind), ..Audio::default() });
        }
        self.id3 = streams.iter().find(|s| s.1 == StreamType::Id3).map(|s| s.0);
        for &(_, kind) in streams {
            let carried = kind.is_video() || kind.is_audio() || kind == StreamType::Id3;
            if !carried && !self.warned_unsupported.contains(&kind) {
                self.warned_unsupported.push(kind);
                self.warn(TsWarning::Unsupported(kind));
            }
        }
    }

    /// The nearest unwrapping of a 33-bit timestamp to the last one seen.
    fn unwrap(&mut self, raw: u64) -> i64 {
        let raw = raw as i64 & (WRAP - 1);
        let v = match self.reference {
            Some(r) => raw + (r - raw + WRAP / 2).div_euclid(WRAP) * WRAP,
            None => raw,
        };
        self.reference = Some(v);
        v
    }

    fn handle_pes(&mut self, pes: Pes) {
        let Some(pts) = pes.pts else { return self.warn(TsWarning::BadPes { pid: pes.pid }) };
        let pts = self.unwrap(pts);
        let dts = match pes.dts {
            Some(d) => {
                let d = self.unwrap(d);
                self.reference = Some(pts);
                d
            }
            None => pts,
        };
        if self.video.as_ref().is_some_and(|v| v.pid == pes.pid) {
            self.handle_video(dts, pts, &pes.data, pes.pid);
        } else if self.audio.as_ref().is_some_and(|a| a.pid == pes.pid) {
            self.handle_audio(pts, &pes.data, pes.pid);
        } else if self.id3 == Some(pes.pid) {
            self.id3_pending.push((pts, pes.data));
        }
    }

    /// One PES of H.264: one access unit (as HLS packagers write them).
    fn handle_video(&mut self, dts: i64, pts: i64, data: &[u8], pid: u16) {
        let Some(v) = &mut self.video else { return };
        let mut sample = Vec::with_capacity(data.len() + 16);
        let mut key = false;
        for unit in h264::nal_units(data) {
            // (Parameter sets go to the sample entry, delimiters nowhere.)
            if v.hevc {
                match h265::nal_type(unit) {
                    h265::NAL_VPS => v.parameter_set(0, unit),
                    h265::NAL_SPS => v.parameter_set(1, unit),
                    h265::NAL_PPS => v.parameter_set(2, unit),
                    h265::NAL_AUD => {}
                    t => {
                        key |= h265::is_irap(t);
                        push_nal(&mut sample, unit);
                    }
                }
            } else {
                match h264::nal_type(unit) {
                    h264::NAL_SPS => v.parameter_set(1, unit),
                    h264::NAL_PPS => v.parameter_set(2, unit),
                    h264::NAL_AUD => {}
                    h264::NAL_SEI => {
                        let mut pairs = Vec::new();
                        cea608::field1_pairs(unit, &mut pairs);
                        v.captions.extend(pairs.into_iter().map(|p| (pts, p)));
                        push_nal(&mut sample, unit);
                    }
                    t => {
                        key |= t == h264::NAL_IDR;
                        push_nal(&mut sample, unit);
                    }
                }
            }
        }
        if sample.is_empty() {
            return;
        }
        if v.info.is_none() && !v.sps.is_empty() {
            self.out.push_back(TransmuxOutput::Warning(TsWarning::BadFrame { pid }));
        }
        v.samples.push(VideoSample { dts, pts, key, data: sample });
    }

    fn handle_audio(&mut self, pts: i64, data: &[u8], pid: u16) {
        let Some(a) = &mut self.audio else { return };
        let mut offset = 0;
        let mut take = |a: &mut Audio, config: AudioConfig, frame: &[u8]| {
            a.frames.push((pts, offset, frame.to_vec()));
            offset += config.frame;
            if a.config.as_ref() != Some(&config) {
                a.config = Some(config);
            }
        };
        let left = match a.kind {
            Some(StreamType::Mpa) => {
                let (frames, left) = mpa::frames(data);
                for f in frames {
                    take(a, AudioConfig::mpa(f.config), f.data);
                }
                left
            }
            Some(StreamType::Ac3 | StreamType::Eac3) => {
                let (frames, left) = ac3::frames(data);
                for f in frames {
                    let data = f.data;
                    take(a, AudioConfig::ac3(f.config), data);
                }
                left
            }
            _ => {
                let (frames, left) = adts::frames(data);
                for f in frames {
                    take(a, AudioConfig::aac(f.config), f.payload);
                }
                left
            }
        };
        if left > 0 {
            self.out.push_back(TransmuxOutput::Warning(TsWarning::BadFrame { pid }));
        }
    }

    /// The tracks as they are configured now.
    fn current_tracks(&self) -> Vec<Track> {
        let mut tracks = Vec::new();
        if let Some(entry) = self.video.as_ref().and_then(Video::entry) {
            tracks.push(Track { id: VIDEO_TRACK, timescale: CLOCK as u32, entry });
        }
        if let Some(c) = self.audio.as_ref().and_then(|a| a.config.as_ref()) {
            tracks.push(Track { id: AUDIO_TRACK, timescale: c.rate, entry: c.entry.clone() });
        }
        tracks
    }

    fn codecs(&self) -> String {
        let video = self.video.as_ref().and_then(|v| v.info.as_ref()).map(|i| i.codec.clone());
        let audio = self.audio.as_ref().and_then(|a| a.config.as_ref()).map(|c| c.codec.clone());
        video.into_iter().chain(audio).collect::<Vec<_>>().join(",")
    }

    /// A segment's CEA-608 pairs (PTS, pair) through the CC1 decoder; its
    /// finished cues out.
    fn handle_captions(&mut self, mut captions: Vec<(i64, [u8; 2])>, to_seconds: impl Fn(i64) -> f64) {
        // (Broadcast sends at most 2 pairs a frame on field 1; a stream
        // stuffed with SEI is cut here, before the sort, so a segment cannot
        // flood the page with caption events.)
        if captions.len() > MAX_CAPTION_PAIRS {
            captions.truncate(MAX_CAPTION_PAIRS);
            self.warn(TsWarning::CaptionsCut { kept: MAX_CAPTION_PAIRS });
        }
        crate::sort::sort_by_key(&mut captions, |c| c.0);
        for (pts, pair) in captions {
            self.cc.handle_pair(to_seconds(pts), pair);
        }
        while let Some(cue) = self.cc.poll_cue() {
            self.out.push_back(TransmuxOutput::Caption(cue));
        }
    }

    /// The segment's samples, as one fragment.
    fn emit(&mut self) {
        let mut video = self.video.as_mut().map(|v| std::mem::take(&mut v.samples)).unwrap_or_default();
        let mut audio = self.audio.as_mut().map(|a| std::mem::take(&mut a.frames)).unwrap_or_default();
        // (Taken here, so a segment that emits nothing drops its captions
        // instead of keeping them for the next.)
        let captions = self.video.as_mut().map(|v| std::mem::take(&mut v.captions)).unwrap_or_default();
        // A jump in the stream's clock that the playlist did not announce
        // (a splice without EXT-X-DISCONTINUITY): placed afresh.
        let first = video.iter().map(|s| s.pts).min().or(audio.first().map(|f| f.0));
        if let (Some(base), Some(first)) = (self.base, first) {
            let at = (first - base + self.origin) as f64 / CLOCK as f64;
            if (at - self.segment_start).abs() > MAX_JUMP_S {
                self.base = None;
                self.keyframe_seen = false;
                if let Some(a) = &mut self.audio {
                    a.next = None;
                }
            }
        }
        // Undecodable frames before the first keyframe, and the audio
        // before it (video and audio start together).
        if !self.keyframe_seen && self.video.is_some() {
            let first_key = video.iter().position(|s| s.key);
            let dropped = first_key.unwrap_or(video.len());
            if dropped > 0 {
                video.drain(..dropped);
                self.warn(TsWarning::NoKeyframe { dropped });
            }
            let Some(key) = video.first().map(|s| s.pts) else {
                return; // (nothing decodable yet: no init either)
            };
            if let Some(c) = self.audio.as_ref().and_then(|a| a.config.as_ref()) {
                let (rate, half_frame) = (i64::from(c.rate), i64::from(c.frame) * CLOCK / 2 / i64::from(c.rate));
                audio.retain(|f| f.0 + i64::from(f.1) * CLOCK / rate >= key - half_frame);
            }
            self.keyframe_seen = true;
        }
        let tracks = self.current_tracks();
        if tracks.is_empty() {
            if !video.is_empty() || !audio.is_empty() {
                self.warn(TsWarning::NoConfig);
            }
            return;
        }
        if tracks != self.tracks {
            let size = self.video.as_ref().and_then(|v| v.info.as_ref()).map(|i| (i.width, i.height));
            let mime = if size.is_some() { "video/mp4" } else { "audio/mp4" };
            let init = Init { data: fmp4::init_segment(&tracks), mime, codecs: self.codecs(), size };
            self.out.push_back(TransmuxOutput::Init(init));
            self.tracks = tracks;
        }
        let has_video = self.tracks.iter().any(|t| t.id == VIDEO_TRACK);
        let has_audio = self.tracks.iter().any(|t| t.id == AUDIO_TRACK);
        if !has_video {
            video.clear();
        }
        if !has_audio {
            audio.clear();
        }
        if video.is_empty() && audio.is_empty() {
            return;
        }
        // The timeline mapping, set by the first segment after a (re)start:
        // the first video frame (or audio, if there is no video) presents
        // at the segment's playlist time.
        if self.base.is_none() {
            let first = video.iter().map(|s| s.pts).min().or(audio.first().map(|f| f.0)).unwrap_or(0);
            let first_dts = video.iter().map(|s| s.dts).min().unwrap_or(first);
            self.base = Some(first);
            self.origin = (self.segment_start * CLOCK as f64).round() as i64;
            self.dts_shift = (first - first_dts).max(0);
        }
        let (base, origin) = (self.base.unwrap_or(0), self.origin);
        let to_seconds = |t: i64| (t - base + origin) as f64 / CLOCK as f64;

        let mut runs = Vec::new();
        let (mut start, mut end) = (f64::INFINITY, f64::NEG_INFINITY);
        let mut video_span = None;
        if !video.is_empty() {
            crate::sort::sort_by_key(&mut video, |s| s.dts);
            let mut run = Run { track: VIDEO_TRACK, ..Run::default() };
            let decode = |s: &VideoSample| s.dts - base + origin + self.dts_shift;
            let first_decode = decode(&video[0]).max(0);
            run.base_time = first_decode as u64;
            let fallback = self.video.as_ref().and_then(|v| v.last_duration).unwrap_or(CLOCK / 25);
            let mut last_duration = fallback;
            for (i, s) in video.iter().enumerate() {
                let duration = match video.get(i + 1) {
                    Some(n) => n.dts - s.dts,
                    None => last_duration,
                }
                .max(1);
                last_duration = duration;
                let presented = s.pts - base + origin;
                let cts = presented - decode(s).max(0);
                start = start.min(to_seconds(s.pts));
                end = end.max(to_seconds(s.pts + duration));
                run.samples.push(Sample {
                    duration: duration as u32,
                    size: s.data.len() as u32,
                    keyframe: s.key,
                    cts: cts.max(i64::from(i32::MIN)).min(i64::from(i32::MAX)) as i32,
                });
                run.data.extend_from_slice(&s.data);
            }
            video_span = Some((start, end));
            if let Some(v) = &mut self.video {
                v.last_duration = Some(last_duration);
            }
            runs.push(run);
        }
        let mut audio_span = None;
        if let (false, Some(config)) = (audio.is_empty(), self.audio.as_ref().and_then(|a| a.config.clone())) {
            let rate = i64::from(config.rate);
            let frame = i64::from(config.frame);
            let mut run = Run { track: AUDIO_TRACK, ..Run::default() };
            let mut next = self.audio.as_ref().and_then(|a| a.next);
            for (pts, index, data) in &audio {
                // Where the stream puts this frame, in samples.
                let at = ((pts - base + origin) * rate + CLOCK / 2).div_euclid(CLOCK) + i64::from(*index);
                let time = match next {
                    Some(n) if (at - n).abs() < frame / 2 => n,
                    Some(n) if at < n => continue, // overlaps the last frame: dropped
                    _ => at,
                };
                if time < 0 {
                    continue; // before the timeline's start
                }
                if run.samples.is_empty() {
                    run.base_time = time as u64;
                    // After a splice, the audio before it ended a little early:
                    // silence up to here, so the buffered audio has no hole.
                    let prev = self.audio_end.take().map(|t| (t * rate as f64).round() as i64);
                    if let (None, Some(prev), Some(silence)) = (next, prev, config.silence) {
                        let mut t = prev;
                        while t < time && time - prev <= rate / 2 {
                            let d = (time - t).min(frame);
                            run.samples.push(Sample { duration: d as u32, size: silence.len() as u32, keyframe: true, cts: 0 });
                            run.data.extend_from_slice(silence);
                            t += d;
                        }
                        if !run.samples.is_empty() {
                            run.base_time = prev as u64;
                        }
                    }
                } else if next.is_some_and(|n| time > n) {
                    // A gap in the audio: the last frame's duration spans it,
                    // so this one decodes at its own time.
                    if let Some(last) = run.samples.last_mut() {
                        last.duration += (time - next.unwrap_or(time)) as u32;
                    }
                }
                run.samples.push(Sample { duration: frame as u32, size: data.len() as u32, keyframe: true, cts: 0 });
                run.data.extend_from_slice(data);
                next = Some(time + frame);
            }
            if let Some(a) = &mut self.audio {
                a.next = next;
            }
            if !run.samples.is_empty() {
                let first = run.base_time as f64 / rate as f64;
                let last = next.unwrap_or(0) as f64 / rate as f64;
                self.audio_end = Some(last);
                audio_span = Some((first, last));
                start = start.min(first);
                end = end.max(last);
                runs.push(run);
            }
        }
        // Captions, in presentation order (SEI comes in decode order).
        self.handle_captions(captions, to_seconds);
        // Timed metadata, at presentation times.
        for (pts, data) in std::mem::take(&mut self.id3_pending) {
            self.out.push_back(TransmuxOutput::Id3 { time: to_seconds(pts), data });
        }
        if runs.is_empty() {
            return;
        }
        self.sequence += 1;
        let data = fmp4::fragment(self.sequence, &runs);
        self.out.push_back(TransmuxOutput::Media(Media { data, start, end, video: video_span, audio: audio_span }));
    }
}
