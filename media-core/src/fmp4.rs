//! A fragmented MP4 writer for Media Source Extensions (ISO/IEC 14496-12):
//! an init segment (`ftyp` + `moov` with one `trak` per track and `mvex`)
//! and media fragments (`moof` + `mdat`), nothing else. Hand-written: MSE
//! needs about twenty boxes, each a few lines.

/// A track of the init segment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Track {
    pub id: u32,
    pub timescale: u32,
    pub entry: SampleEntry,
}

/// What the sample description (`stsd`) says of a track.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SampleEntry {
    /// H.264: the `avcC` record.
    Avc {
        width: u16,
        height: u16,
        avcc: Vec<u8>,
    },
    /// H.265: the `hvcC` record.
    Hevc {
        width: u16,
        height: u16,
        hvcc: Vec<u8>,
    },
    /// MPEG-4 audio (`mp4a` + `esds`): AAC with its AudioSpecificConfig
    /// (object type indication 0x40), or MPEG-1/2 audio (0x6b / 0x69, no config).
    Mp4a {
        channels: u16,
        sample_rate: u32,
        object_type: u8,
        config: Vec<u8>,
    },
    /// AC-3 (`ac-3` + `dac3`) and E-AC-3 (`ec-3` + `dec3`).
    Ac3 {
        channels: u16,
        sample_rate: u32,
        dac3: Vec<u8>,
    },
    Eac3 {
        channels: u16,
        sample_rate: u32,
        dec3: Vec<u8>,
    },
}

impl SampleEntry {
    fn is_video(&self) -> bool {
        matches!(self, SampleEntry::Avc { .. } | SampleEntry::Hevc { .. })
    }
}

/// One sample of a fragment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sample {
    pub duration: u32,
    pub size: u32,
    pub keyframe: bool,
    /// Composition offset (PTS − DTS), in the track's timescale.
    pub cts: i32,
}

/// One track's part of a fragment.
#[derive(Clone, Debug, Default)]
pub struct Run {
    pub track: u32,
    /// Decode time of the first sample, in the track's timescale.
    pub base_time: u64,
    pub samples: Vec<Sample>,
    /// The samples' bytes, in order.
    pub data: Vec<u8>,
}

/// Writes a box: its size is patched in once `body` has written its content.
fn boxed(out: &mut Vec<u8>, kind: &[u8; 4], body: impl FnOnce(&mut Vec<u8>)) {
    let at = open(out, kind);
    body(out);
    close(out, at);
}

// (Not inlined: `boxed` is called for every box, and inlining these into
// each call cost ~3 KB of the browser build.)
#[inline(never)]
fn open(out: &mut Vec<u8>, kind: &[u8; 4]) -> usize {
    let at = out.len();
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(kind);
    at
}

#[inline(never)]
fn close(out: &mut [u8], at: usize) {
    let size = u32::try_from(out.len() - at).unwrap_or(u32::MAX);
    if let Some(field) = out.get_mut(at..at + 4) {
        field.copy_from_slice(&size.to_be_bytes());
    }
}

/// A full box: version and flags first.
fn full(out: &mut Vec<u8>, kind: &[u8; 4], version: u8, flags: u32, body: impl FnOnce(&mut Vec<u8>)) {
    boxed(out, kind, |o| {
        o.extend_from_slice(&(u32::from(version) << 24 | (flags & 0x00ff_ffff)).to_be_bytes());
        body(o);
    });
}

fn u16be(o: &mut Vec<u8>, v: u16) {
    o.extend_from_slice(&v.to_be_bytes());
}
fn u32be(o: &mut Vec<u8>, v: u32) {
    o.extend_from_slice(&v.to_be_bytes());
}
fn zeros(o: &mut Vec<u8>, n: usize) {
    o.resize(o.len() + n, 0);
}

const MATRIX: [u32; 9] = [0x0001_0000, 0, 0, 0, 0x0001_0000, 0, 0, 0, 0x4000_0000];

/// The init segment for `tracks`.
pub fn init_segment(tracks: &[Track]) -> Vec<u8> {
    let mut o = Vec::with_capacity(1024);
    boxed(&mut o, b"ftyp", |o| {
        o.extend_from_slice(b"isom");
        u32be(o, 0x200);
        o.extend_from_slice(b"isomiso6mp41");
    });
    boxed(&mut o, b"moov", |o| {
        full(o, b"mvhd", 0, 0, |o| {
            zeros(o, 8); // creation, modification
            u32be(o, 1000);
            u32be(o, 0); // duration: unknown (fragments)
            u32be(o, 0x0001_0000); // rate
            u16be(o, 0x0100); // volume
            zeros(o, 10);
            MATRIX.iter().for_each(|m| u32be(o, *m));
            zeros(o, 24);
            u32be(o, tracks.iter().map(|t| t.id).max().unwrap_or(0) + 1);
        });
        for t in tracks {
            trak(o, t);
        }
        boxed(o, b"mvex", |o| {
            for t in tracks {
                full(o, b"trex", 0, 0, |o| {
                    u32be(o, t.id);
                    u32be(o, 1); // sample description index
                    zeros(o, 12); // default duration, size, flags
                });
            }
        });
    });
    o
}

fn trak(o: &mut Vec<u8>, t: &Track) {
    let video = t.entry.is_video();
    let (width, height) = match &t.entry {
        SampleEntry::Avc { width, height, .. } | SampleEntry::Hevc { width, height, .. } => (*width, *height),
        _ => (0, 0),
    };
    boxed(o, b"trak", |o| {
        full(o, b"tkhd", 0, 3, |o| {
            zeros(o, 8);
            u32be(o, t.id);
            zeros(o, 4);
            u32be(o, 0); // duration
            zeros(o, 8);
            zeros(o, 4); // layer, alternate group
            u16be(o, if video { 0 } else { 0x0100 });
            zeros(o, 2);
            MATRIX.iter().for_each(|m| u32be(o, *m));
            u32be(o, u32::from(width) << 16);
            u32be(o, u32::from(height) << 16);
        });
        boxed(o, b"mdia", |o| {
            full(o, b"mdhd", 0, 0, |o| {
                zeros(o, 8);
                u32be(o, t.timescale);
                u32be(o, 0);
                u16be(o, 0x55c4); // "und"
                zeros(o, 2);
            });
            full(o, b"hdlr", 0, 0, |o| {
                zeros(o, 4);
                o.extend_from_slice(if video { b"vide" } else { b"soun" });
                zeros(o, 12);
                o.extend_from_slice(if video { b"VideoHandler\0" } else { b"SoundHandler\0" });
            });
            boxed(o, b"minf", |o| {
                if video {
                    full(o, b"vmhd", 0, 1, |o| zeros(o, 8));
                } else {
                    full(o, b"smhd", 0, 0, |o| zeros(o, 4));
                }
                boxed(o, b"dinf", |o| {
                    full(o, b"dref", 0, 0, |o| {
                        u32be(o, 1);
                        full(o, b"url ", 0, 1, |_| {});
                    })
                });
                boxed(o, b"stbl", |o| {
                    full(o, b"stsd", 0, 0, |o| {
                        u32be(o, 1);
                        sample_entry(o, &t.entry);
                    });
                    full(o, b"stts", 0, 0, |o| u32be(o, 0));
                    full(o, b"stsc", 0, 0, |o| u32be(o, 0));
                    full(o, b"stsz", 0, 0, |o| zeros(o, 8));
                    full(o, b"stco", 0, 0, |o| u32be(o, 0));
                });
            });
        });
    });
}

fn visual(o: &mut Vec<u8>, width: u16, height: u16) {
    zeros(o, 6);
    u16be(o, 1); // data reference index
    zeros(o, 16);
    u16be(o, width);
    u16be(o, height);
    u32be(o, 0x0048_0000);
    u32be(o, 0x0048_0000);
    zeros(o, 4);
    u16be(o, 1); // frame count
    zeros(o, 32); // compressor name
    u16be(o, 0x0018);
    u16be(o, 0xffff);
}

fn audio(o: &mut Vec<u8>, channels: u16, sample_rate: u32) {
    zeros(o, 6);
    u16be(o, 1);
    zeros(o, 8);
    u16be(o, channels);
    u16be(o, 16);
    zeros(o, 4);
    u32be(o, sample_rate.min(0xffff) << 16);
}

fn sample_entry(o: &mut Vec<u8>, entry: &SampleEntry) {
    match entry {
        SampleEntry::Avc { width, height, avcc } => boxed(o, b"avc1", |o| {
            visual(o, *width, *height);
            boxed(o, b"avcC", |o| o.extend_from_slice(avcc));
        }),
        SampleEntry::Hevc { width, height, hvcc } => boxed(o, b"hvc1", |o| {
            visual(o, *width, *height);
            boxed(o, b"hvcC", |o| o.extend_from_slice(hvcc));
        }),
        SampleEntry::Mp4a { channels, sample_rate, object_type, config } => boxed(o, b"mp4a", |o| {
            audio(o, *channels, *sample_rate);
            full(o, b"esds", 0, 0, |o| esds(o, *object_type, config));
        }),
        SampleEntry::Ac3 { channels, sample_rate, dac3 } => boxed(o, b"ac-3", |o| {
            audio(o, *channels, *sample_rate);
            boxed(o, b"dac3", |o| o.extend_from_slice(dac3));
        }),
        SampleEntry::Eac3 { channels, sample_rate, dec3 } => boxed(o, b"ec-3", |o| {
            audio(o, *channels, *sample_rate);
            boxed(o, b"dec3", |o| o.extend_from_slice(dec3));
        }),
    }
}

/// An ES descriptor (ISO/IEC 14496-1 §7.2.6.5) with its decoder config.
fn esds(o: &mut Vec<u8>, object_type: u8, config: &[u8]) {
    let specific = if config.is_empty() { 0 } else { 2 + config.len() };
    let decoder = 13 + specific;
    let es = 3 + 2 + decoder + 3;
    descriptor(o, 3, es);
    zeros(o, 3); // ES_ID, flags
    descriptor(o, 4, decoder);
    o.push(object_type);
    o.push(0x15); // audio stream, upstream 0, reserved 1
    zeros(o, 11); // buffer size, max and average bitrate
    if !config.is_empty() {
        descriptor(o, 5, config.len());
        o.extend_from_slice(config);
    }
    descriptor(o, 6, 1);
    o.push(2);
}

fn descriptor(o: &mut Vec<u8>, tag: u8, len: usize) {
    o.push(tag);
    o.push(len.min(127) as u8);
}

/// One media fragment: a `moof` with a `traf` per run, then one `mdat`
/// holding the runs' data in the same order.
pub fn fragment(sequence: u32, runs: &[Run]) -> Vec<u8> {
    let data: usize = runs.iter().map(|r| r.data.len()).sum();
    let mut o = Vec::with_capacity(256 + runs.iter().map(|r| r.samples.len() * 16).sum::<usize>() + data);
    let mut offsets = Vec::with_capacity(runs.len());
    boxed(&mut o, b"moof", |o| {
        full(o, b"mfhd", 0, 0, |o| u32be(o, sequence));
        for r in runs {
            boxed(o, b"traf", |o| {
                // default-base-is-moof: data offsets count from the moof's start.
                full(o, b"tfhd", 0, 0x02_0000, |o| u32be(o, r.track));
                full(o, b"tfdt", 1, 0, |o| o.extend_from_slice(&r.base_time.to_be_bytes()));
                // data offset, duration, size, flags, composition offset.
                full(o, b"trun", 1, 0x0f01, |o| {
                    u32be(o, u32::try_from(r.samples.len()).unwrap_or(u32::MAX));
                    offsets.push(o.len());
                    u32be(o, 0); // patched below
                    for s in &r.samples {
                        u32be(o, s.duration);
                        u32be(o, s.size);
                        u32be(o, if s.keyframe { 0x0200_0000 } else { 0x0101_0000 });
                        o.extend_from_slice(&s.cts.to_be_bytes());
                    }
                });
            });
        }
    });
    let moof = o.len();
    let mut at = moof + 8;
    for (r, offset) in runs.iter().zip(offsets) {
        o[offset..offset + 4].copy_from_slice(&u32::try_from(at).unwrap_or(u32::MAX).to_be_bytes());
        at += r.data.len();
    }
    let mdat = u32::try_from(8 + data).unwrap_or(u32::MAX);
    u32be(&mut o, mdat);
    o.extend_from_slice(b"mdat");
    for r in runs {
        o.extend_from_slice(&r.data);
    }
    o
}
