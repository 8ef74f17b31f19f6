//! fMP4 text tracks (ISO/IEC 14496-30): `wvtt` (WebVTT) and `stpp`
//! (TTML) samples, as DASH and CMAF carry them.
//!
//! [`parse_init`] finds the first text track of an initialization segment
//! (`moov/trak`: `tkhd` track id, `mdhd` timescale, the first `stsd` sample
//! entry); [`parse_fragment`] reads the samples of every `moof` + `mdat`
//! pair in a media segment (other top-level boxes — `styp`, `sidx`,
//! `prft`, a whole file's `ftyp` and `moov` — are skipped).
//!
//! Sample data is found as CMAF writers place it: a `trun`'s data offset is
//! counted from the `moof` (`default-base-is-moof`, or no base offset), or
//! from the start of the given bytes when `tfhd` has a base data offset. A
//! sample's time is `tfdt` plus the durations before it plus its
//! composition offset; durations and sizes missing from `trun` come from
//! `tfhd` (not from the init segment's `trex`: a fragment relying on it
//! reads as zero-length samples, which give no cue).
//!
//! `wvtt`: each `vttc` box is a cue (`payl` text, a bare `<` or `&` escaped
//! as in WebVTT files; `sttg` settings); `vtte` (no cue) and `vtta`
//! (comment) give nothing. A cue carried on from the previous sample (same
//! text, settings and `iden`, ending where this sample starts — Shaka
//! Packager splits overlapping cues so) is one cue; across fragments it is
//! not joined (each fragment is read alone).
//! `stpp`: each sample is a TTML document whose times are on the track's
//! timeline already.
//!
//! Every size is checked against the bytes; nothing recurses beyond the
//! fixed box hierarchy; a malformed sample is skipped.

use super::{ttml, vtt, Collector, Cue, SubtitleError, MAX_INPUT};
use crate::mp4box::{boxes, child, decode_time, path, timescale, track_id, traf_track_id, Cursor};

/// The sample entry of a text track.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TextKind {
    /// WebVTT cues in boxes (`vttc`, `vtte`).
    Wvtt,
    /// A TTML document a sample.
    Stpp,
}

/// What the init segment says of its text track.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TextTrack {
    pub kind: TextKind,
    /// Ticks a second (`mdhd`), never 0.
    pub timescale: u32,
    /// The `tkhd` track id the fragments' `tfhd` name.
    pub track_id: u32,
}

/// The first text track (`wvtt` or `stpp` sample entry) of an init segment.
pub fn parse_init(init: &[u8]) -> Result<TextTrack, SubtitleError> {
    let moov = child(init, b"moov").ok_or(SubtitleError::BadBox("no moov box"))?;
    for trak in boxes(moov).filter(|b| &b.kind == b"trak") {
        let entry = path(trak.body, &[b"mdia", b"minf", b"stbl", b"stsd"]).and_then(|stsd| boxes(stsd.get(8..)?).next());
        let kind = match entry.map(|e| e.kind).as_ref() {
            Some(b"wvtt") => TextKind::Wvtt,
            Some(b"stpp") => TextKind::Stpp,
            _ => continue,
        };
        let track_id = track_id(trak.body).ok_or(SubtitleError::BadBox("text track without a tkhd box"))?;
        let timescale = timescale(trak.body).ok_or(SubtitleError::BadBox("text track without an mdhd box"))?;
        if timescale == 0 {
            return Err(SubtitleError::BadBox("text track timescale is 0"));
        }
        return Ok(TextTrack { kind, timescale, track_id });
    }
    Err(SubtitleError::BadBox("no wvtt or stpp sample entry"))
}

/// The cues of a media segment's samples (maybe none); `BadBox` only when
/// the bytes hold no `moof` box at all, `TooLarge` over [`MAX_INPUT`].
pub fn parse_fragment(track: &TextTrack, fragment: &[u8]) -> Result<Vec<Cue>, SubtitleError> {
    if track.timescale == 0 {
        return Err(SubtitleError::BadBox("text track timescale is 0"));
    }
    if fragment.len() > MAX_INPUT {
        return Err(SubtitleError::TooLarge(fragment.len()));
    }
    let mut reader = Samples { track, fragment, out: Collector::default(), carried: Vec::new(), read: 0 };
    let mut moofs = 0;
    for b in boxes(fragment) {
        if &b.kind == b"moof" {
            moofs += 1;
            reader.moof(b.start, b.body);
        }
    }
    if moofs == 0 {
        return Err(SubtitleError::BadBox("no moof box"));
    }
    Ok(reader.out.cues)
}

/// A `wvtt` cue pushed from this fragment that a later sample may carry on.
struct Carried {
    index: usize,
    end: i128,
    iden: Vec<u8>,
}

struct Samples<'a> {
    track: &'a TextTrack,
    fragment: &'a [u8],
    out: Collector,
    carried: Vec<Carried>,
    /// Sample bytes read so far: at most the fragment's size in all, so
    /// runs pointing at the same bytes again and again cannot make a small
    /// fragment cost more than its own length.
    read: usize,
}

/// `tfhd` defaults.
#[derive(Default)]
struct Defaults {
    duration: u32,
    size: u32,
}

impl Samples<'_> {
    fn moof(&mut self, moof_start: usize, moof: &[u8]) {
        let trafs = || boxes(moof).filter(|b| &b.kind == b"traf");
        let traf = trafs().find(|t| traf_track_id(t.body) == Some(self.track.track_id));
        let traf = traf.or_else(|| if trafs().count() == 1 { trafs().next() } else { None });
        if let Some(traf) = traf {
            self.traf(moof_start, traf.body);
        }
    }

    fn traf(&mut self, moof_start: usize, traf: &[u8]) {
        let Some(tfhd) = child(traf, b"tfhd") else { return self.out.skip() };
        let mut c = Cursor::new(tfhd);
        let header = (|| {
            let flags = c.u32()? & 0xff_ffff;
            c.u32()?;
            let mut base = moof_start;
            if flags & 0x1 != 0 {
                base = usize::try_from(c.u64()?).ok()?;
            }
            if flags & 0x2 != 0 {
                c.u32()?;
            }
            let mut d = Defaults::default();
            if flags & 0x8 != 0 {
                d.duration = c.u32()?;
            }
            if flags & 0x10 != 0 {
                d.size = c.u32()?;
            }
            Some((base, d))
        })();
        let Some((base, defaults)) = header else { return self.out.skip() };
        let mut time: u64 = decode_time(traf).unwrap_or(0);
        let mut data_at = base;
        for trun in boxes(traf).filter(|b| &b.kind == b"trun") {
            if !self.out.open() {
                return;
            }
            self.trun(trun.body, base, &mut data_at, &mut time, &defaults);
        }
    }

    /// One run of samples: `data_at` is where its data starts when it has no
    /// data offset, and is left after its last sample.
    fn trun(&mut self, trun: &[u8], base: usize, data_at: &mut usize, time: &mut u64, defaults: &Defaults) {
        let mut c = Cursor::new(trun);
        let Some((version, flags, count)) = (|| {
            let head = c.u32()?;
            Some(((head >> 24) as u8, head & 0xff_ffff, c.u32()?))
        })() else {
            return self.out.skip();
        };
        if flags & 0x1 != 0 {
            let Some(offset) = c.u32() else { return self.out.skip() };
            // (A signed offset from the base.)
            let offset = i64::from(offset as i32);
            let Some(at) = i64::try_from(base).ok().and_then(|b| b.checked_add(offset)).and_then(|a| usize::try_from(a).ok()) else {
                return self.out.skip();
            };
            *data_at = at;
        }
        if flags & 0x4 != 0 && c.u32().is_none() {
            return self.out.skip();
        }
        let per_sample = [0x100, 0x200, 0x400, 0x800].iter().filter(|&&f| flags & f != 0).count() * 4;
        let count = usize::try_from(count).unwrap_or(usize::MAX);
        let count = match per_sample {
            0 if defaults.size == 0 => {
                // Empty samples: only the time moves on.
                *time = time.saturating_add(u64::from(defaults.duration).saturating_mul(count as u64));
                return;
            }
            0 => count.min(self.fragment.len() / defaults.size as usize + 1),
            n => count.min(c.remaining() / n),
        };
        for _ in 0..count {
            let mut field = |flag: u32, default: u32| if flags & flag != 0 { c.u32() } else { Some(default) };
            let (Some(duration), Some(size), Some(_), Some(cto)) =
                (field(0x100, defaults.duration), field(0x200, defaults.size), field(0x400, 0), field(0x800, 0))
            else {
                return;
            };
            let cto = if version == 0 { i128::from(cto) } else { i128::from(cto as i32) };
            let start = i128::from(*time) + cto;
            let end = start + i128::from(duration);
            *time = time.saturating_add(u64::from(duration));
            let data_end = data_at.checked_add(size as usize);
            let data = data_end.and_then(|e| self.fragment.get(*data_at..e));
            *data_at = data_end.unwrap_or(usize::MAX);
            match data {
                Some(data) if size > 0 => {
                    self.read = self.read.saturating_add(data.len());
                    if self.read > self.fragment.len() {
                        return self.out.skip();
                    }
                    self.sample(data, start, end)
                }
                Some(_) => {}
                // (A sample past the data ends the run: the rest are too.)
                None => return self.out.skip(),
            }
            if !self.out.open() {
                return;
            }
        }
    }

    fn seconds(&self, ticks: i128) -> f64 {
        ticks as f64 / f64::from(self.track.timescale)
    }

    fn sample(&mut self, data: &[u8], start: i128, end: i128) {
        match self.track.kind {
            TextKind::Stpp => {
                let text = String::from_utf8_lossy(data);
                if ttml::read(&text, &mut self.out).is_err() {
                    self.out.skip();
                }
            }
            TextKind::Wvtt => {
                for b in boxes(data) {
                    if &b.kind == b"vttc" {
                        self.vttc(b.body, start, end);
                    }
                }
            }
        }
    }

    fn vttc(&mut self, vttc: &[u8], start: i128, end: i128) {
        let (mut text, mut settings, mut iden) = (None, None, &[][..]);
        for b in boxes(vttc) {
            match &b.kind {
                b"payl" => text = Some(vtt::cue_text(&String::from_utf8_lossy(b.body))),
                b"sttg" => settings = Some(vtt::settings(&String::from_utf8_lossy(b.body))),
                b"iden" => iden = b.body,
                _ => {}
            }
        }
        let Some(text) = text else { return self.out.skip() };
        let place = settings.unwrap_or_default();
        let cues = &mut self.out.cues;
        // Only cues of the last few samples can end where this one starts.
        let from = self.carried.len().saturating_sub(64);
        let same = self.carried[from..]
            .iter_mut()
            .find(|c| c.end == start && c.iden == iden && cues.get(c.index).is_some_and(|cue| cue.text == text && cue.place == place));
        if let Some(carried) = same {
            let end_s = end as f64 / f64::from(self.track.timescale);
            if let Some(cue) = cues.get_mut(carried.index) {
                cue.end = end_s;
                carried.end = end;
            }
            return;
        }
        let before = self.out.cues.len();
        self.out.push(self.seconds(start), self.seconds(end), text, place);
        if self.out.cues.len() > before {
            self.carried.push(Carried { index: before, end, iden: iden.to_vec() });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::subtitle::{Align, Placement};

    /// A box of `kind` around `body`.
    fn bx(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut v = ((body.len() + 8) as u32).to_be_bytes().to_vec();
        v.extend_from_slice(kind);
        v.extend_from_slice(body);
        v
    }

    /// A full box: version, flags, fields.
    fn full(kind: &[u8; 4], version: u8, flags: u32, body: &[u8]) -> Vec<u8> {
        let mut v = vec![version];
        v.extend_from_slice(&flags.to_be_bytes()[1..]);
        v.extend_from_slice(body);
        bx(kind, &v)
    }

    fn cat(parts: &[&[u8]]) -> Vec<u8> {
        parts.concat()
    }

    fn be(values: &[u32]) -> Vec<u8> {
        values.iter().flat_map(|v| v.to_be_bytes()).collect()
    }

    fn init(entry: &[u8; 4], timescale: u32, track_id: u32, version: u8) -> Vec<u8> {
        let wide = |v: u32| if version == 1 { be(&[0, 0, 0, 0, v]) } else { be(&[0, 0, v]) };
        let tkhd = full(b"tkhd", version, 3, &wide(track_id));
        let mdhd = full(b"mdhd", version, 0, &cat(&[&wide(timescale), &be(&[0])]));
        let stsd = full(b"stsd", 0, 0, &cat(&[&be(&[1]), &bx(entry, &[0, 0, 0, 0, 0, 0, 0, 1])]));
        let stbl = bx(b"stbl", &stsd);
        let minf = bx(b"minf", &stbl);
        let mdia = bx(b"mdia", &cat(&[&mdhd, &bx(b"hdlr", &[0; 24]), &minf]));
        let video = bx(
            b"trak",
            &cat(&[
                &full(b"tkhd", 0, 3, &be(&[0, 0, 1])),
                &bx(b"mdia", &bx(b"minf", &bx(b"stbl", &full(b"stsd", 0, 0, &cat(&[&be(&[1]), &bx(b"avc1", &[0; 8])]))))),
            ]),
        );
        let trak = bx(b"trak", &cat(&[&tkhd, &mdia]));
        cat(&[&bx(b"ftyp", b"iso6\0\0\0\0"), &bx(b"moov", &cat(&[&full(b"mvhd", 0, 0, &[0; 96]), &video, &trak]))])
    }

    fn vttc(text: &str, settings: Option<&str>, iden: Option<&str>) -> Vec<u8> {
        let mut body = Vec::new();
        if let Some(id) = iden {
            body.extend(bx(b"iden", id.as_bytes()));
        }
        if let Some(s) = settings {
            body.extend(bx(b"sttg", s.as_bytes()));
        }
        body.extend(bx(b"payl", text.as_bytes()));
        bx(b"vttc", &body)
    }

    fn vtte() -> Vec<u8> {
        bx(b"vtte", &[])
    }

    /// moof + mdat: samples of (duration, data) from `decode_time`; the
    /// durations in `tfhd` when all are `default_duration`.
    fn segment(track_id: u32, decode_time: u64, samples: &[(u32, Vec<u8>)], default_duration: Option<u32>) -> Vec<u8> {
        let tfhd = match default_duration {
            Some(d) => full(b"tfhd", 0, 0x20000 | 0x8, &be(&[track_id, d])),
            None => full(b"tfhd", 0, 0x20000, &be(&[track_id])),
        };
        let tfdt = full(b"tfdt", 1, 0, &decode_time.to_be_bytes());
        let trun_len = |data_offset: u32| {
            let mut fields = be(&[samples.len() as u32, data_offset]);
            for (d, data) in samples {
                if default_duration.is_none() {
                    fields.extend(be(&[*d]));
                }
                fields.extend(be(&[data.len() as u32]));
            }
            full(b"trun", 0, 0x1 | 0x200 | if default_duration.is_none() { 0x100 } else { 0 }, &fields)
        };
        let mfhd = full(b"mfhd", 0, 0, &be(&[1]));
        let moof_len = |trun: &[u8]| bx(b"moof", &cat(&[&mfhd, &bx(b"traf", &cat(&[&tfhd, &tfdt, trun]))])).len();
        let offset = moof_len(&trun_len(0)) + 8;
        let moof = bx(b"moof", &cat(&[&mfhd, &bx(b"traf", &cat(&[&tfhd, &tfdt, &trun_len(offset as u32)]))]));
        let data: Vec<u8> = samples.iter().flat_map(|(_, d)| d.clone()).collect();
        cat(&[&moof, &bx(b"mdat", &data)])
    }

    const WVTT: TextTrack = TextTrack { kind: TextKind::Wvtt, timescale: 1000, track_id: 2 };

    #[test]
    fn mp4_init_with_wvtt_and_stpp() {
        assert_eq!(parse_init(&init(b"wvtt", 1000, 2, 0)), Ok(WVTT));
        assert_eq!(parse_init(&init(b"stpp", 90_000, 7, 1)), Ok(TextTrack { kind: TextKind::Stpp, timescale: 90_000, track_id: 7 }));
        assert_eq!(parse_init(&init(b"mp4a", 1000, 2, 0)), Err(SubtitleError::BadBox("no wvtt or stpp sample entry")));
        assert_eq!(parse_init(&init(b"wvtt", 0, 2, 0)), Err(SubtitleError::BadBox("text track timescale is 0")));
        assert_eq!(parse_init(b"junk"), Err(SubtitleError::BadBox("no moov box")));
    }

    #[test]
    fn mp4_wvtt_fragment_with_settings_and_empty_sample() {
        let first = cat(&[&vttc("Hello <i>there</i>", Some("line:0 align:start"), Some("1")), &bx(b"vtta", b"a comment")]);
        let frag = cat(&[&bx(b"styp", b"msdh\0\0\0\0"), &segment(2, 5000, &[(1500, first), (500, vtte())], None)]);
        let cues = parse_fragment(&WVTT, &frag).unwrap();
        assert_eq!(cues.len(), 1);
        assert_eq!((cues[0].start, cues[0].end, cues[0].text.as_str()), (5.0, 6.5, "Hello <i>there</i>"));
        let place = Placement { line: Some(0.0), align: Some(Align::Start), ..Placement::default() };
        assert_eq!(cues[0].place, place);
        // Silence is no error.
        assert_eq!(parse_fragment(&WVTT, &segment(2, 0, &[(2000, vtte())], None)), Ok(vec![]));
        assert_eq!(parse_fragment(&WVTT, b""), Err(SubtitleError::BadBox("no moof box")));
    }

    #[test]
    fn mp4_default_duration_and_two_moofs_in_one_buffer() {
        let a = segment(2, 0, &[(0, vttc("one", None, None)), (0, vttc("two", None, None))], Some(2000));
        let b = segment(2, 4000, &[(0, cat(&[&vttc("three", None, None), &vttc("four", None, None)]))], Some(1000));
        let cues = parse_fragment(&WVTT, &cat(&[&a, &b])).unwrap();
        let got: Vec<_> = cues.iter().map(|c| (c.start, c.end, c.text.as_str())).collect();
        assert_eq!(got, [(0.0, 2.0, "one"), (2.0, 4.0, "two"), (4.0, 5.0, "three"), (4.0, 5.0, "four")]);
        // Another track's traf alone is still read (the only one).
        assert_eq!(parse_fragment(&TextTrack { track_id: 9, ..WVTT }, &a).map(|c| c.len()), Ok(2));
    }

    #[test]
    fn mp4_cue_split_across_samples_is_merged() {
        // Shaka Packager: cue A 0–3 s, cue B 1–2 s → samples 0–1 [A], 1–2 [A, B], 2–3 [A].
        let a = || vttc("A", Some("align:left"), Some("a"));
        let b = vttc("B", None, Some("b"));
        let frag = segment(2, 0, &[(1000, a()), (1000, cat(&[&a(), &b])), (1000, a()), (1000, vttc("A", None, Some("a")))], None);
        let cues = parse_fragment(&WVTT, &frag).unwrap();
        let got: Vec<_> = cues.iter().map(|c| (c.start, c.end, c.text.as_str())).collect();
        assert_eq!(got, [(0.0, 3.0, "A"), (1.0, 2.0, "B"), (3.0, 4.0, "A")], "other settings are another cue");
    }

    #[test]
    fn mp4_stpp_init_and_sample() {
        let track = parse_init(&init(b"stpp", 1000, 1, 0)).unwrap();
        let doc = br#"<?xml version="1.0" encoding="UTF-8"?><tt xmlns="http://www.w3.org/ns/ttml"><body><div>
            <p begin="00:00:10.000" end="00:00:12.000">absolute</p></div></body></tt>"#;
        let frag = segment(1, 10_000, &[(2000, doc.to_vec()), (2000, b"not xml".to_vec())], None);
        let cues = parse_fragment(&track, &frag).unwrap();
        assert_eq!(cues.len(), 1);
        assert_eq!((cues[0].start, cues[0].end, cues[0].text.as_str()), (10.0, 12.0, "absolute"));
    }

    #[test]
    fn mp4_truncation_and_bad_sizes_never_panic() {
        let frag = cat(&[
            &segment(2, 0, &[(1500, vttc("x", Some("line:10%"), Some("1"))), (500, vtte())], None),
            &segment(2, 2000, &[(0, vttc("y", None, None))], Some(100)),
        ]);
        for end in 0..=frag.len() {
            let _ = parse_fragment(&WVTT, &frag[..end]);
            let _ = parse_init(&frag[..end]);
        }
        let stpp = TextTrack { kind: TextKind::Stpp, ..WVTT };
        let init = init(b"wvtt", 1000, 2, 1);
        for end in 0..=init.len() {
            let _ = parse_init(&init[..end]);
            let _ = parse_fragment(&stpp, &init[..end]);
        }
        // Byte flips in sizes and counts.
        for at in 0..frag.len() {
            let mut bad = frag.clone();
            bad[at] ^= 0xff;
            let _ = parse_fragment(&WVTT, &bad);
            let _ = parse_fragment(&stpp, &bad);
        }
        // Size 0 (to the end) and 1 (64-bit size) boxes.
        let mut large = 1u32.to_be_bytes().to_vec();
        large.extend_from_slice(b"moof");
        large.extend_from_slice(&16u64.to_be_bytes());
        assert_eq!(parse_fragment(&WVTT, &large), Ok(vec![]));
        assert_eq!(parse_fragment(&WVTT, &[0, 0, 0, 0, b'm', b'o', b'o', b'f', 1, 2, 3]), Ok(vec![]));
        // A huge sample count with no per-sample fields is bounded.
        let tfhd = full(b"tfhd", 0, 0x20000 | 0x8 | 0x10, &be(&[2, 1, 1]));
        let trun = full(b"trun", 0, 0, &be(&[u32::MAX]));
        let moof = bx(b"moof", &bx(b"traf", &cat(&[&tfhd, &trun])));
        assert_eq!(parse_fragment(&WVTT, &moof), Ok(vec![]));
    }

    /// A hostile fragment: 60,000 runs of 4 million one-byte samples each,
    /// and runs that all point at the same bytes. Either would be ~10^11
    /// steps; each sample past the data ends its run and all runs together
    /// read at most the fragment's own bytes.
    #[test]
    fn mp4_runs_cost_at_most_the_fragments_own_bytes() {
        let tfhd = full(b"tfhd", 0, 0x20000 | 0x8 | 0x10, &be(&[2, 1, 1]));
        let trun = full(b"trun", 0, 0, &be(&[4_000_000]));
        let runs: Vec<u8> = std::iter::repeat_n(trun.as_slice(), 60_000).flatten().copied().collect();
        let moof = bx(b"moof", &bx(b"traf", &cat(&[&tfhd, &runs])));
        assert_eq!(parse_fragment(&WVTT, &moof), Ok(vec![]));
        // Runs with a data offset, all at the start of the same large sample.
        let sample = vttc(&"x".repeat(900), None, None);
        let tfhd = full(b"tfhd", 0, 0x20000 | 0x8, &be(&[2, 1]));
        let trun = full(b"trun", 0, 0x1 | 0x200, &be(&[1, 0, sample.len() as u32]));
        let runs: Vec<u8> = std::iter::repeat_n(trun.as_slice(), 5_000).flatten().copied().collect();
        let moof = bx(b"moof", &bx(b"traf", &cat(&[&tfhd, &runs])));
        let frag = cat(&[&moof, &bx(b"mdat", &sample)]);
        let cues = parse_fragment(&WVTT, &frag).unwrap_or_default();
        assert!(cues.len() <= frag.len() / sample.len() + 1, "{} cues", cues.len());
    }
}
