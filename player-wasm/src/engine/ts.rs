//! MPEG-TS segments on their way to a SourceBuffer: the shell's side of
//! `media_core::transmux`. One [`TsTrack`] per SourceBuffer keeps the
//! transmuxer's state across segments (a segment that follows the last
//! one continues its audio and video; any other starts afresh).

use js_sys::{ArrayBuffer, Uint8Array};
use media_core::schedule::{FetchId, TsSegment};
use media_core::transmux::{TransmuxOutput, Transmuxer};
use media_core::ts::{StreamType, TsWarning};
use wasm_bindgen::prelude::*;

use crate::dom::error_detail;
use crate::events::Event;

pub(crate) struct TsTrack {
    transmuxer: Transmuxer,
    /// The number of the last segment transmuxed.
    last: Option<u64>,
    /// Fetches already transmuxed (their bytes are fMP4 now: a retried
    /// append must not transmux them again).
    done: Vec<FetchId>,
    /// Something appended so far (else an unsupported stream is an error).
    appended: bool,
    /// The current configuration is one this browser's MSE refuses: its
    /// media go nowhere until a configuration it plays.
    refused: bool,
}

/// What one segment became.
pub(crate) struct TsOut {
    /// The content type the SourceBuffer must have for `init` (codecs as found).
    pub content_type: Option<String>,
    pub init: Option<ArrayBuffer>,
    pub media: Option<ArrayBuffer>,
    /// Page events: timed ID3 metadata, CEA-608 captions, an error for a stream that cannot play.
    pub events: Vec<(Event, JsValue)>,
    /// The stream cannot start here: its first configuration is one this
    /// browser's MSE refuses, or carries no stream the transmuxer knows
    /// (the error is in `events`). The shell stops the presentation.
    pub unplayable: bool,
}

fn buffer(bytes: &[u8]) -> ArrayBuffer {
    Uint8Array::from(bytes).buffer()
}

impl TsTrack {
    pub fn new() -> Self {
        TsTrack { transmuxer: Transmuxer::new(), last: None, done: Vec::new(), appended: false, refused: false }
    }

    /// Transmux segment `seg` (the bytes of fetch `id`), listed at `start`.
    pub fn segment(&mut self, id: FetchId, seg: TsSegment, start: f64, bytes: &ArrayBuffer) -> TsOut {
        let number = seg.number;
        let mut out = TsOut { content_type: None, init: None, media: None, events: Vec::new(), unplayable: false };
        if self.done.contains(&id) {
            out.media = Some(bytes.clone());
            return out;
        }
        let follows = self.last.is_some_and(|l| l.checked_add(1) == Some(number));
        if !follows {
            self.transmuxer.handle_seek();
        }
        self.last = Some(number);
        // Main-thread time per segment (copy in and out included), for the
        // page: the figure that decides whether a Worker is worth it.
        let started = crate::dom::now_ms();
        self.transmuxer.handle_segment_start(start, !follows || seg.discontinuity);
        self.transmuxer.handle_data(&Uint8Array::new(bytes).to_vec());
        self.transmuxer.handle_segment_end();
        let mut id3 = Vec::new();
        let mut unsupported = Vec::new();
        let mut spans = [None, None];
        while let Some(o) = self.transmuxer.poll_output() {
            match o {
                TransmuxOutput::Init(init) => {
                    // AC-3 and E-AC-3 pass through only where MSE plays them
                    // (Safari, Edge on Windows; not Chromium or Firefox).
                    let content_type = init.content_type();
                    if !web_sys::MediaSource::is_type_supported(&content_type) {
                        let detail = format!("this browser cannot play this MPEG-TS stream's codecs through Media Source Extensions: {content_type}");
                        out.events.push((Event::Error, error_detail("media", &detail)));
                        self.refused = true;
                        out.unplayable |= !self.appended;
                        continue;
                    }
                    self.refused = false;
                    out.content_type = Some(content_type);
                    out.init = Some(buffer(&init.data));
                }
                TransmuxOutput::Media(_) if self.refused => {}
                TransmuxOutput::Media(m) => {
                    // Each track's span as appended: how far audio and video
                    // starts stand apart, for the page.
                    spans = [m.video, m.audio];
                    out.media = Some(buffer(&m.data));
                }
                TransmuxOutput::Id3 { time, data } => id3.push((time, data)),
                TransmuxOutput::Caption(cue) => {
                    let o = js_sys::Object::new();
                    let _ = js_sys::Reflect::set(&o, &"track".into(), &"CC1".into());
                    let _ = js_sys::Reflect::set(&o, &"start".into(), &cue.start.into());
                    let _ = js_sys::Reflect::set(&o, &"end".into(), &cue.end.into());
                    let _ = js_sys::Reflect::set(&o, &"text".into(), &cue.text.as_str().into());
                    out.events.push((Event::Caption, o.into()));
                }
                TransmuxOutput::Warning(TsWarning::Unsupported(kind)) => unsupported.push(kind),
                TransmuxOutput::Warning(_) => {}
            }
        }
        let timing = js_sys::Object::new();
        let _ = js_sys::Reflect::set(&timing, &"segment".into(), &(number as f64).into());
        let _ = js_sys::Reflect::set(&timing, &"bytes".into(), &f64::from(bytes.byte_length()).into());
        let _ = js_sys::Reflect::set(&timing, &"ms".into(), &(crate::dom::now_ms() - started).into());
        for (name, span) in ["video", "audio"].into_iter().zip(spans) {
            if let Some((from, to)) = span {
                let _ = js_sys::Reflect::set(&timing, &name.into(), &js_sys::Array::of2(&from.into(), &to.into()));
            }
        }
        out.events.push((Event::Transmux, timing.into()));
        for (time, data) in id3 {
            let o = js_sys::Object::new();
            let _ = js_sys::Reflect::set(&o, &"time".into(), &time.into());
            let _ = js_sys::Reflect::set(&o, &"id3".into(), &Uint8Array::from(data.as_slice()).into());
            out.events.push((Event::Metadata, o.into()));
        }
        if out.media.is_some() {
            self.appended = true;
            if self.done.len() >= 8 {
                self.done.remove(0);
            }
            self.done.push(id);
        } else if !self.appended && unsupported.iter().any(|k| k.is_video() || k.is_audio()) {
            let names: Vec<&str> = unsupported.iter().map(|k| name(*k)).collect();
            out.events.push((Event::Error, error_detail("media", &format!("this MPEG-TS stream's codecs are not supported yet: {}", names.join(", ")))));
            out.unplayable = true;
        }
        out
    }
}

fn name(kind: StreamType) -> &'static str {
    match kind {
        StreamType::H264 => "H.264",
        StreamType::H265 => "H.265",
        StreamType::Aac => "AAC",
        StreamType::Mpa => "MPEG audio (MP3)",
        StreamType::Ac3 => "AC-3",
        StreamType::Eac3 => "E-AC-3",
        StreamType::Id3 => "ID3",
        StreamType::Other(_) => "an unknown stream type",
    }
}
